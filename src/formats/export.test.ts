import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { type Box, type Vec3, boxFromShape } from '../core/box.js';
import { FormatError, UsageError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { exportKind, exportVolume } from './export.js';
import { openSource } from './open.js';
import type { VolumeSource } from './source.js';

/** A VolumeSource over an in-memory volume; counts reads; can fail on the n-th read. */
function memSource(vol: Volume, failAt = -1): VolumeSource & { reads: Box[] } {
  const reads: Box[] = [];
  return {
    url: 'memory', format: 'memory', dtype: vol.dtype, shape: vol.shape, channels: vol.channels, voxelSize: vol.voxelSize,
    offset: vol.box.min, chunkShape: vol.shape, reads,
    async read(b: Box) {
      reads.push(b);
      if (reads.length === failAt) throw new FormatError('simulated read failure', 'memory');
      return vol.crop(b);
    },
    async close() {},
  };
}

function ramp(dtype: 'uint8' | 'uint16' | 'uint64' | 'float32' | 'int32', shape: Vec3, opts: { channels?: number; offset?: Vec3; voxelSize?: Vec3 } = {}): Volume {
  const v = Volume.zeros(dtype, boxFromShape(shape, opts.offset ?? [0, 0, 0]), { channels: opts.channels, voxelSize: opts.voxelSize ?? [4, 5, 40] });
  for (let i = 0; i < v.data.length; i++) {
    if (dtype === 'uint64') (v.data as BigUint64Array)[i] = 2n ** 53n + 1n + BigInt(i) * 1000003n + (i % 3 === 0 ? 2n ** 63n : 0n);
    else if (dtype === 'float32') (v.data as Float32Array)[i] = i / 7 - 3;
    else (v.data as Uint8Array)[i] = (i * 37 + 11) % (dtype === 'uint8' ? 256 : dtype === 'uint16' ? 65536 : 100000);
  }
  return v;
}

let hasPy = false;
try {
  execFileSync('/usr/bin/python3', ['-c', 'import numpy, h5py'], { stdio: 'ignore' });
  hasPy = true;
} catch {
  hasPy = false;
}

describe('exportKind', () => {
  it('chooses by extension', () => {
    expect(['a.npy', 'f.h5#x', 'f.hdf5#g/x', 'a.zarr', 'a.zarr/', 'slices', 'out/png'].map(exportKind)).toEqual(['npy', 'hdf5', 'hdf5', 'zarr', 'zarr', 'png', 'png']);
    expect(() => exportKind('a.xyz')).toThrow(UsageError);
    expect(() => exportKind('a.npy#x')).toThrow(UsageError);
  });
});

describe('exportVolume round trips (blockwise, through openSource)', () => {
  const cases: Array<[string, Volume]> = [
    ['uint8', ramp('uint8', [13, 11, 7])],
    ['uint16 with offset', ramp('uint16', [9, 10, 5], { offset: [3, 4, 5] })],
    ['uint64 ids above 2^53', ramp('uint64', [6, 5, 4])],
    ['float32 2 channels', ramp('float32', [5, 4, 3], { channels: 2 })],
    ['1 voxel', ramp('uint16', [1, 1, 1])],
    ['2-D', ramp('uint8', [17, 3, 1])],
  ];
  for (const dest of ['v.npy', 'v.h5#grp/data', 'v.zarr', 'v2.zarr']) {
    for (const [name, vol] of cases) {
      it(`${dest}: ${name}`, async () => {
        const dir = await tempDir();
        const out = path.join(dir, dest);
        const src = memSource(vol);
        const res = await exportVolume(src, out, { memory: 300, chunkSize: [4, 3, 2], zarrFormat: dest === 'v2.zarr' ? 2 : 3 });
        expect(res.blocks).toBeGreaterThan(vol.shape[2] > 2 ? 1 : 0);
        for (const r of src.reads) expect(r.max[2] - r.min[2]).toBeLessThanOrEqual(Math.max(2, 1));
        const back = await openSource(out);
        expect([back.shape, back.dtype, back.channels]).toEqual([vol.shape, vol.dtype, vol.channels]);
        if (!dest.endsWith('.npy')) expect(back.voxelSize).toEqual(vol.voxelSize);
        if (dest.endsWith('.zarr')) expect(back.offset).toEqual(vol.box.min);
        const all = await back.read(boxFromShape(vol.shape, back.offset));
        expect(Array.from(all.data as ArrayLike<unknown>)).toEqual(Array.from(vol.data as ArrayLike<unknown>));
        await back.close();
        expect((await fs.readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
      });
    }
  }

  it('zarr metadata is what Neuroglancer parses: OME version, axes, positive scales, centre translation, explicit fill_value', async () => {
    const dir = await tempDir();
    const vol = ramp('uint16', [6, 5, 4], { offset: [10, 20, 30], voxelSize: [4, 5, 40] });
    await exportVolume(memSource(vol), path.join(dir, 'a.zarr'));
    const g3 = JSON.parse(await fs.readFile(path.join(dir, 'a.zarr', 'zarr.json'), 'utf8'));
    const a3 = JSON.parse(await fs.readFile(path.join(dir, 'a.zarr', '0', 'zarr.json'), 'utf8'));
    expect(g3.attributes.ome.version).toBe('0.5');
    const ms = g3.attributes.ome.multiscales[0];
    expect(ms.axes).toEqual([{ name: 'z', type: 'space', unit: 'nanometer' }, { name: 'y', type: 'space', unit: 'nanometer' }, { name: 'x', type: 'space', unit: 'nanometer' }]);
    expect(ms.datasets[0].coordinateTransformations).toEqual([{ type: 'scale', scale: [40, 5, 4] }, { type: 'translation', translation: [30.5 * 40, 20.5 * 5, 10.5 * 4] }]);
    expect([a3.fill_value, a3.data_type, a3.shape, a3.node_type]).toEqual([0, 'uint16', [4, 5, 6], 'array']);
    await exportVolume(memSource(vol), path.join(dir, 'b.zarr'), { zarrFormat: 2 });
    const z2 = JSON.parse(await fs.readFile(path.join(dir, 'b.zarr', '.zattrs'), 'utf8'));
    const a2 = JSON.parse(await fs.readFile(path.join(dir, 'b.zarr', '0', '.zarray'), 'utf8'));
    expect(z2.multiscales[0].version).toBe('0.4');
    expect([a2.fill_value, a2.dtype, a2.compressor.id, a2.dimension_separator]).toEqual([0, '<u2', 'gzip', '/']);
  });

  it('zarr with extra scales writes an OME-Zarr pyramid that opens at every scale', async () => {
    const dir = await tempDir();
    const s0 = ramp('uint64', [8, 6, 4], { voxelSize: [4, 4, 40] });
    const s1 = ramp('uint64', [4, 3, 4], { voxelSize: [8, 8, 40], offset: [1, 0, 0] });
    const s2 = ramp('uint64', [2, 2, 2], { voxelSize: [16, 16, 80] });
    for (const zarrFormat of [3, 2] as const) {
      const out = path.join(dir, `p${zarrFormat}.zarr`);
      await exportVolume(memSource(s0), out, { extraScales: [memSource(s1), memSource(s2)], zarrFormat, chunkSize: [3, 3, 3], memory: 200 });
      for (const [k, vol] of [s0, s1, s2].entries()) {
        const back = await openSource(out, { scale: k });
        expect([back.shape, back.voxelSize, back.offset]).toEqual([vol.shape, vol.voxelSize, vol.box.min]);
        expect(Array.from((await back.read(vol.box)).data as BigUint64Array)).toEqual(Array.from(vol.data as BigUint64Array));
      }
    }
    await expect(exportVolume(memSource(s0), path.join(dir, 'x.npy'), { extraScales: [memSource(s1)] })).rejects.toThrow(/only be written to a \.zarr/);
    await expect(exportVolume(memSource(s0), path.join(dir, 'y.zarr'), { extraScales: [memSource(ramp('uint8', [2, 2, 2]))] })).rejects.toThrow(/all scales must be uint64/);
  });

  it('PNG slices: uint8/uint16 round trip; other types refused', async () => {
    const dir = await tempDir();
    for (const vol of [ramp('uint8', [13, 11, 12]), ramp('uint16', [5, 4, 3])]) {
      const out = path.join(dir, `png-${vol.dtype}`);
      await exportVolume(memSource(vol), out, { memory: 200, chunkSize: [64, 64, 5] });
      const names = await fs.readdir(out);
      expect(names.length).toBe(vol.shape[2]);
      const back = await openSource(out);
      expect(back.format).toBe('image-stack');
      expect([...(await back.read(vol.box)).data]).toEqual([...vol.data]);
    }
    await expect(exportVolume(memSource(ramp('uint64', [2, 2, 2])), path.join(dir, 'p64'))).rejects.toThrow(/uint8 or uint16.*uint64/);
  });

  it('is atomic: a failing source leaves no output and no temp files; existing dest is refused', async () => {
    const dir = await tempDir();
    const vol = ramp('uint8', [8, 8, 8]);
    for (const dest of ['f.npy', 'f.h5#d', 'f.zarr', 'fpng']) {
      await expect(exportVolume(memSource(vol, 2), path.join(dir, dest), { memory: 64, chunkSize: [4, 4, 2] })).rejects.toThrow(/simulated/);
    }
    expect(await fs.readdir(dir)).toEqual([]);
    await exportVolume(memSource(vol), path.join(dir, 'g.npy'));
    await expect(exportVolume(memSource(vol), path.join(dir, 'g.npy'))).rejects.toThrow(/exists/);
    await exportVolume(memSource(ramp('uint8', [2, 2, 2])), path.join(dir, 'g.npy'), { overwrite: true });
    expect((await openSource(path.join(dir, 'g.npy'))).shape).toEqual([2, 2, 2]);
  });

  it.skipIf(!hasPy)('numpy and h5py read our .npy and .h5 exactly (uint64 above 2^53)', async () => {
    const dir = await tempDir();
    const vol = ramp('uint64', [5, 4, 3]);
    await exportVolume(memSource(vol), path.join(dir, 'ids.npy'), { memory: 100 });
    await exportVolume(memSource(vol), path.join(dir, 'ids.h5#seg'), { memory: 100 });
    const py = `
import numpy as np, h5py, sys
a = np.load(sys.argv[1]); b = h5py.File(sys.argv[2])['seg'][:]
assert a.dtype == np.uint64 and b.dtype == np.uint64 and a.shape == (3, 4, 5) == b.shape
print(' '.join(str(int(v)) for v in a.ravel())); print(' '.join(str(int(v)) for v in b.ravel()))
print(list(h5py.File(sys.argv[2])['seg'].attrs['resolution']), h5py.File(sys.argv[2])['seg'].compression)`;
    const out = execFileSync('/usr/bin/python3', ['-c', py, path.join(dir, 'ids.npy'), path.join(dir, 'ids.h5')], { encoding: 'utf8' }).trim().split('\n');
    const want = Array.from(vol.data as BigUint64Array, String).join(' ');
    expect(out[0]).toBe(want);
    expect(out[1]).toBe(want);
    expect(out[2]).toBe('[40.0, 5.0, 4.0] gzip');
  });
});

describe('openSource', () => {
  it('opens a precomputed layer folder and exports it to every format (uint64 ids above 2^53)', async () => {
    const { PrecomputedLayer, makeInfo } = await import('./precomputed/index.js');
    const dir = await tempDir();
    const vol = ramp('uint64', [10, 9, 7]);
    const layerDir = path.join(dir, 'seg');
    const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape: vol.shape, voxelSize: [4, 5, 40], chunkSize: [4, 4, 4] }));
    const aligned = Volume.zeros('uint64', boxFromShape([10, 9, 7]));
    aligned.data.set(vol.data as BigUint64Array);
    await layer.writeBox(aligned);
    const src = await openSource(layerDir);
    expect([src.format, src.shape, src.dtype, src.voxelSize]).toEqual(['precomputed', [10, 9, 7], 'uint64', [4, 5, 40]]);
    for (const dest of ['g.npy', 'g.h5#seg', 'g.zarr']) {
      await exportVolume(src, path.join(dir, dest), { memory: 1000 });
      const back = await openSource(path.join(dir, dest));
      expect(Array.from((await back.read(boxFromShape([10, 9, 7]))).data as BigUint64Array), dest).toEqual(Array.from(vol.data as BigUint64Array));
      await back.close();
    }
  });

  it('explains the accepted forms for a missing path, a remote URL and an unknown file', async () => {
    const dir = await tempDir();
    await expect(openSource(path.join(dir, 'nope.h5#x'))).rejects.toThrow(UsageError);
    await expect(openSource(path.join(dir, 'nope'))).rejects.toThrow(/path does not exist\. Accepted sources:[\s\S]*file\.h5#/);
    await expect(openSource('gs://bucket/x')).rejects.toThrow(/remote/);
    await expect(openSource('')).rejects.toThrow(UsageError);
    await fs.writeFile(path.join(dir, 'x.bin'), 'hello world');
    await expect(openSource(path.join(dir, 'x.bin'))).rejects.toThrow(/cannot tell the format/);
    await fs.mkdir(path.join(dir, 'empty'));
    await expect(openSource(path.join(dir, 'empty'))).rejects.toThrow(/holds no \.png/);
    expect(existsSync(dir)).toBe(true);
    // multi-page TIFF by extension or by magic bytes
    const { encodeTiffStack } = await import('./imagestack.js');
    const t = ramp('uint16', [3, 2, 4]);
    await fs.writeFile(path.join(dir, 'stack.tif'), encodeTiffStack(t));
    await fs.writeFile(path.join(dir, 'stack-noext'), encodeTiffStack(t));
    for (const f of ['stack.tif', 'stack-noext']) {
      const s = await openSource(path.join(dir, f));
      expect([s.format, [...(await s.read(t.box)).data]]).toEqual(['tiff', [...t.data]]);
    }
    await exportVolume(memSource(ramp('uint8', [2, 2, 2])), path.join(dir, 'v.npy'));
    await expect(openSource(path.join(dir, 'v.npy'), { scale: 1 })).rejects.toThrow(/only scale 0/);
    // Neuroglancer-style local URLs
    expect((await openSource(`file://${path.join(dir, 'v.npy')}`)).shape).toEqual([2, 2, 2]);
    expect((await openSource(`zarr://file://${path.join(dir, 'v.npy')}`)).format).toBe('npy');
  });
});
