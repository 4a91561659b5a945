import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../test/data.js';
import { box } from '../core/box.js';
import { FormatError, UsageError } from '../core/errors.js';
import { openZarr } from './zarr.js';

const NG = 'neuroglancer-testdata/datasource/zarr';

/** Write a tiny zarr v2 array by hand (raw chunks), for edge cases and corruption tests. */
async function writeV2(dir: string, shape: number[], chunks: number[], dtype: string, chunkBytes: Record<string, Uint8Array>, attrs?: unknown): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, '.zarray'), JSON.stringify({ zarr_format: 2, shape, chunks, dtype, compressor: null, fill_value: 0, filters: null, order: 'C' }));
  if (attrs) await fs.writeFile(path.join(dir, '.zattrs'), JSON.stringify(attrs));
  for (const [k, v] of Object.entries(chunkBytes)) await fs.writeFile(path.join(dir, k), v);
}

describe('zarr (hand-made v2 arrays)', () => {
  it('reads sub-boxes across chunks; missing chunks read as the fill value; 1 voxel; empty; outside', async () => {
    const dir = path.join(await tempDir(), 'a.zarr');
    // (z, y, x) = (2, 3, 4), chunks (1, 2, 3)
    const full = new Uint16Array(24).map((_, i) => i + 1);
    const chunks: Record<string, Uint8Array> = {};
    for (let cz = 0; cz < 2; cz++)
      for (let cy = 0; cy < 2; cy++)
        for (let cx = 0; cx < 2; cx++) {
          if (cz === 1 && cy === 1 && cx === 1) continue; // missing chunk
          const c = new Uint16Array(1 * 2 * 3);
          for (let y = 0; y < 2; y++)
            for (let x = 0; x < 3; x++) {
              const gy = cy * 2 + y;
              const gx = cx * 3 + x;
              if (gy < 3 && gx < 4) c[y * 3 + x] = full[cz * 12 + gy * 4 + gx];
            }
          chunks[`${cz}.${cy}.${cx}`] = new Uint8Array(c.buffer);
        }
    await writeV2(dir, [2, 3, 4], [1, 2, 3], '<u2', chunks, { _ARRAY_DIMENSIONS: ['z', 'y', 'x'] });
    const s = await openZarr(dir);
    expect([s.shape, s.dtype, s.chunkShape, s.axes]).toEqual([[4, 3, 2], 'uint16', [3, 2, 1], ['z', 'y', 'x']]);
    const v = await s.read(box([0, 0, 0], [4, 3, 2]));
    const want = Array.from(full);
    want[1 * 12 + 2 * 4 + 3] = 0; // voxel (3, 2, 1) lies in the missing chunk
    expect([...v.data]).toEqual(want);
    expect([...(await s.read(box([2, 1, 1], [4, 3, 2]))).data]).toEqual([19, 20, 23, 0]);
    expect([...(await s.read(box([1, 1, 0], [2, 2, 1]))).data]).toEqual([6]);
    expect((await s.read(box([1, 1, 0], [1, 2, 1]))).data.length).toBe(0);
    await expect(s.read(box([0, 0, 0], [5, 3, 2]))).rejects.toThrow(UsageError);
  });

  it('maps named axes in any order (x, y, z, c) and a length-1 time axis', async () => {
    const dir = path.join(await tempDir(), 'b.zarr');
    // dims (x=2, c=2, y=3, t=1) C-order; value = 100*c + 10*y + x
    const data = new Uint8Array(12);
    for (let x = 0; x < 2; x++) for (let c = 0; c < 2; c++) for (let y = 0; y < 3; y++) data[((x * 2 + c) * 3 + y) * 1] = 100 * c + 10 * y + x;
    await writeV2(dir, [2, 2, 3, 1], [2, 2, 3, 1], '|u1', { '0.0.0.0': data }, { _ARRAY_DIMENSIONS: ['x', 'c', 'y', 't'] });
    const s = await openZarr(dir);
    expect([s.shape, s.channels]).toEqual([[2, 3, 1], 2]);
    const v = await s.read(box([0, 0, 0], [2, 3, 1]));
    for (let c = 0; c < 2; c++) for (let y = 0; y < 3; y++) for (let x = 0; x < 2; x++) expect(v.get(x, y, 0, c)).toBe(100 * c + 10 * y + x);
  });

  it('reports truncated chunks and bad metadata with the file/chunk', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'c.zarr');
    await writeV2(dir, [4], [4], '<u4', { '0': new Uint8Array(10) });
    const s = await openZarr(dir);
    await expect(s.read(box([0, 0, 0], [4, 1, 1]))).rejects.toThrow(FormatError);
    await expect(s.read(box([0, 0, 0], [4, 1, 1]))).rejects.toThrow(/c\.zarr.*chunk \[0\]/);
    await fs.writeFile(path.join(dir, '.zarray'), '{"zarr_format": 2, "shape": [4], ');
    await expect(openZarr(dir)).rejects.toThrow(/c\.zarr/);
    await expect(openZarr(path.join(root, 'nothing.zarr'))).rejects.toThrow(UsageError);
  });
});

describeData('zarr-fixtures', 'zarr: zarr_implementations fixtures decode to the reference image', () => {
  const specs = ['zarr.zr#blosc', 'zarr.zr#gzip', 'zarr.zr#raw', 'zarr.zr#zlib', 'z5py.n5#gzip', 'z5py.n5#raw', 'zarrita.zr3#blosc/lz4', 'zarrita.zr3#gzip', 'zarrita.zr3#raw', 'zarrita.zr3#zlib'];
  for (const spec of specs) {
    it(spec, async () => {
      const { data } = await sharp(dataPath('zarr-fixtures/reference_image.png')).raw().toBuffer({ resolveWithObject: true });
      const s = await openZarr(dataPath('zarr-fixtures/examples', spec));
      expect([s.shape, s.dtype]).toEqual([[3, 512, 512], 'uint8']);
      const v = await s.read(box([0, 0, 0], s.shape));
      expect(Buffer.compare(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength), data)).toBe(0);
      // a sub-box crossing chunk borders equals the same crop of the reference (y, x, rgb)
      const sub = await s.read(box([0, 95, 190], [3, 205, 230]));
      for (let z = 190; z < 230; z += 13) for (let y = 95; y < 205; y += 7) for (let c = 0; c < 3; c++) expect(sub.get(c, y, z)).toBe(data[(z * 512 + y) * 3 + c]);
    });
  }
  it('groups list their arrays', async () => {
    await expect(openZarr(dataPath('zarr-fixtures/examples/zarr.zr'))).rejects.toThrow(/arrays: blosc, gzip, raw, zlib/);
    await expect(openZarr(dataPath('zarr-fixtures/examples/z5py.n5'))).rejects.toThrow(/datasets: gzip, raw/);
  });
});

describeData(NG, 'zarr: neuroglancer test data (v2, v3, OME-Zarr 0.4/0.5/0.6)', () => {
  const arange27 = Array.from({ length: 27 }, (_, i) => i);
  it('zarr v2 from zarr-python: C/F order, ragged chunks, codecs, endianness', async () => {
    const base = dataPath(NG, 'zarr_v2/from_zarr-python/data.zarr');
    for (const n of ['3d.contiguous.i2', '3d.chunked.i2', '3d.chunked.mixed.i2.C', '3d.chunked.mixed.i2.F']) {
      const s = await openZarr(`${base}#${n}`);
      expect([...(await s.read(box([0, 0, 0], [3, 3, 3]))).data], n).toEqual(arange27);
    }
    const r = await openZarr(`${base}#2d.chunked.ragged.i2`);
    expect([...(await r.read(box([0, 0, 0], [3, 3, 1]))).data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const n of ['1d.contiguous.zlib.i2', '1d.contiguous.blosc.i2', '1d.contiguous.lz4.i2', '1d.contiguous.zstd.i2', '1d.contiguous.raw.i2', '1d.chunked.i2']) {
      const s = await openZarr(`${base}#${n}`);
      expect([...(await s.read(box([0, 0, 0], [4, 1, 1]))).data], n).toEqual([1, 2, 3, 4]);
    }
    for (const n of ['1d.contiguous.f4.le', '1d.contiguous.f4.be']) {
      expect([...(await (await openZarr(`${base}#${n}`)).read(box([0, 0, 0], [4, 1, 1]))).data]).toEqual([-1000.5, 0, 1000.5, 0]);
    }
    const f8 = await openZarr(`${base}#1d.contiguous.f8`);
    expect([f8.dtype, [...(await f8.read(box([0, 0, 0], [4, 1, 1]))).data]]).toEqual(['float32', [1.5, 2.5, 3.5, 4.5]]);
    await expect(openZarr(`${base}#1d.contiguous.U7`)).rejects.toThrow(FormatError);
    await expect(openZarr(`${base}#nope`)).rejects.toThrow(/arrays in the store: .*3d\.chunked\.i2/);
  });
  it('zarr v3 from zarrita (sharded, compressed, F order) and tensorstore', async () => {
    const base = dataPath(NG, 'zarr_v3/from_zarrita/data.zarr');
    for (const n of ['3d.contiguous.i2', '3d.chunked.i2', '3d.chunked.mixed.i2.C', '3d.chunked.mixed.i2.F', '3d.contiguous.compressed.sharded.i2', '3d.chunked.mixed.compressed.sharded.i2']) {
      const s = await openZarr(`${base}#${n}`);
      expect([...(await s.read(box([0, 0, 0], [3, 3, 3]))).data], n).toEqual(arange27);
    }
    const sh = await openZarr(`${base}#3d.chunked.compressed.sharded.i2`);
    expect([...(await sh.read(box([0, 0, 0], [4, 4, 4]))).data]).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect([...(await sh.read(box([1, 2, 3], [3, 3, 4]))).data]).toEqual([48 + 8 + 1, 48 + 8 + 2]);
    const f2 = await openZarr(`${base}#2d.chunked.compressed.sharded.filled.i2`);
    expect([...(await f2.read(box([0, 0, 0], [4, 4, 1]))).data]).toEqual(Array.from({ length: 16 }, (_, i) => i));
    const ts = await openZarr(dataPath(NG, 'zarr_v3/examples/single_res'));
    expect(ts.shape).toEqual([7, 6, 1]);
    expect([...(await ts.read(box([0, 0, 0], [7, 6, 1]))).data]).toEqual(Array.from({ length: 42 }, (_, i) => i));
    expect([...(await ts.read(box([4, 3, 0], [6, 5, 1]))).data]).toEqual([25, 26, 32, 33]);
  });
  for (const v of ['0.4', '0.5']) {
    it(`OME-Zarr ${v}: scales, voxel size in nm, axes`, async () => {
      const spec = dataPath(NG, `ome_zarr/simple_${v}`);
      const s0 = await openZarr(spec);
      expect([s0.shape, s0.voxelSize, s0.scales, s0.axes, s0.dtype]).toEqual([[10, 10, 1], [30, 4, 1], 3, ['y', 'x'], 'uint16']);
      expect([...(await s0.read(box([0, 0, 0], [10, 10, 1]))).data]).toEqual(Array.from({ length: 100 }, (_, i) => i));
      const s1 = await openZarr(spec, { scale: 1 });
      expect([s1.shape, s1.voxelSize]).toEqual([[5, 5, 1], [60, 8, 1]]);
      const s2 = await openZarr(spec, { scale: 2 });
      expect([s2.shape, s2.voxelSize]).toEqual([[2, 2, 1], [120, 16, 1]]);
      await expect(openZarr(spec, { scale: 3 })).rejects.toThrow(/scales 0\.\.2/);
    });
  }
  it('N5 viewer multiscale groups (modern per-scale factors, deprecated group scales)', async () => {
    for (const v of ['modern', 'deprecated']) {
      const spec = dataPath('neuroglancer-testdata/datasource/n5', `n5_viewer_multiscale_${v}`);
      const s0 = await openZarr(spec);
      expect([s0.shape, s0.voxelSize, s0.scales, s0.dtype], v).toEqual([[10, 20, 1], [10, 20, 1], 3, 'uint16']);
      const s1 = await openZarr(spec, { scale: 1 });
      expect([s1.shape, s1.voxelSize], v).toEqual([[5, 10, 1], [20, 40, 1]]);
      // no blocks were written: everything reads as 0
      expect([...(await s1.read(box([0, 0, 0], [5, 10, 1]))).data].every((x) => x === 0)).toBe(true);
      await expect(openZarr(spec, { scale: 5 })).rejects.toThrow(/s0, s1, s2/);
    }
  });
  it('OME-Zarr 0.6 (coordinateSystems) micrometer scale -> nm', async () => {
    const s = await openZarr(dataPath(NG, 'ome_zarr/all_0.6/basic/scale.zarr'));
    expect(s.voxelSize).toEqual([2000, 3000, 4000]);
  });
});
