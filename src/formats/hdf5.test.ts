import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../test/data.js';
import { box } from '../core/box.js';
import { FormatError, UsageError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { createHdf5Writer, openHdf5 } from './hdf5.js';

async function writeH5(file: string, name: string, vol: Volume, slab = 2): Promise<void> {
  const w = await createHdf5Writer(file, name, { dtype: vol.dtype, shape: vol.shape, channels: vol.channels, voxelSize: vol.voxelSize, chunks: [3, 2, 2] });
  for (let z = 0; z < vol.shape[2]; z += slab) {
    w.write(vol.crop(box([0, 0, z], [vol.shape[0], vol.shape[1], Math.min(vol.shape[2], z + slab)])));
  }
  await w.commit();
}

describe('hdf5', () => {
  it('writes chunked gzip slabs and reads sub-boxes back, with resolution', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'v.h5');
    const v = Volume.from('uint16', [5, 4, 3], new Uint16Array(60).map((_, i) => i * 3 + 1), { voxelSize: [4, 5, 40] });
    await writeH5(f, 'grp/raw', v);
    const s = await openHdf5(`${f}#grp/raw`);
    expect([s.shape, s.dtype, s.voxelSize, s.chunkShape]).toEqual([[5, 4, 3], 'uint16', [4, 5, 40], [3, 2, 2]]);
    const b = box([1, 1, 1], [4, 3, 3]);
    expect([...(await s.read(b)).data]).toEqual(Array.from(v.crop(b).data));
    expect((await s.read(box([1, 1, 1], [1, 3, 3]))).data.length).toBe(0);
    await expect(s.read(box([0, 0, 0], [6, 4, 3]))).rejects.toThrow(UsageError);
    await s.close();
    // second dataset in the same file keeps the first; bare file name is then ambiguous
    await writeH5(f, 'one', Volume.from('uint8', [1, 1, 1], new Uint8Array([9])));
    const one = await openHdf5(`${f}#one`);
    expect([...(await one.read(box([0, 0, 0], [1, 1, 1]))).data]).toEqual([9]);
    await one.close();
    await expect(openHdf5(f)).rejects.toThrow(/grp\/raw, one/);
    await expect(openHdf5(`${f}#nope`)).rejects.toThrow(/no dataset 'nope'.*datasets: grp\/raw, one/);
    await expect(writeH5(f, 'one', Volume.from('uint8', [1, 1, 1], new Uint8Array([9])))).rejects.toThrow(/already exists/);
    expect((await fs.readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('round-trips uint64 ids above 2^53 and multi-channel volumes', async () => {
    const dir = await tempDir();
    const ids = new BigUint64Array([2n ** 53n + 1n, 2n ** 64n - 1n, 0n, 12345678901234567890n, 7n, 2n ** 63n]);
    await writeH5(path.join(dir, 'ids.h5'), 'seg', Volume.from('uint64', [1, 2, 3], ids), 1);
    const s = await openHdf5(path.join(dir, 'ids.h5#seg'));
    expect(s.dtype).toBe('uint64');
    expect([...(await s.read(box([0, 0, 0], [1, 2, 3]))).data]).toEqual(Array.from(ids));
    await s.close();
    const mc = Volume.from('float32', [2, 2, 2], new Float32Array(16).map((_, i) => i / 4), { channels: 2 });
    await writeH5(path.join(dir, 'mc.h5'), 'p', mc, 1);
    const m = await openHdf5(path.join(dir, 'mc.h5#p'));
    expect(m.channels).toBe(2);
    const b = box([1, 0, 1], [2, 2, 2]);
    expect([...(await m.read(b)).data]).toEqual(Array.from(mc.crop(b).data));
    await m.close();
  });

  it('a damaged gzip chunk is a FormatError, not zeros', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'c.h5');
    const v = Volume.from('uint8', [16, 16, 4], new Uint8Array(1024).map((_, i) => (i * 7) % 251));
    await writeH5(f, 'd', v, 4);
    const bytes = new Uint8Array(await fs.readFile(f));
    // zlib streams start with 0x78; damage the deflate data right after every such header
    let hits = 0;
    for (let i = 0; i + 40 < bytes.length; i++) {
      if (bytes[i] === 0x78 && (bytes[i] * 256 + bytes[i + 1]) % 31 === 0) {
        for (let k = 2; k < 40; k++) bytes[i + k] ^= 0x5a;
        hits++;
        i += 40;
      }
    }
    expect(hits).toBeGreaterThan(0);
    await fs.writeFile(f, bytes);
    // the direct chunk reader (hdf5-chunks.ts) names the chunk; h5wasm's path names the box
    const s = await openHdf5(`${f}#d`);
    expect(s.chunkReads).toBe('direct');
    await expect(s.read(box([0, 0, 0], [16, 16, 4]))).rejects.toThrow(/c\.h5: chunk at \(0, 0, 0\) .*: (deflate stream cannot be inflated|chunk decodes to)/);
    await s.close();
    const w = await openHdf5(`${f}#d`, { direct: false });
    await expect(w.read(box([0, 0, 0], [16, 16, 4]))).rejects.toThrow(/c\.h5#d: reading .* failed inside the HDF5 library/);
    await w.close();
  });

  it('rejects a missing or non-HDF5 file clearly', async () => {
    const dir = await tempDir();
    await expect(openHdf5(path.join(dir, 'no.h5#x'))).rejects.toThrow(/no\.h5: HDF5 file not found/);
    await fs.writeFile(path.join(dir, 'junk.h5'), 'not hdf5 at all');
    await expect(openHdf5(path.join(dir, 'junk.h5#x'))).rejects.toThrow(FormatError);
    await expect(createHdf5Writer(path.join(dir, 'junk.h5'), 'x', { dtype: 'uint8', shape: [2, 2, 2], channels: 1, voxelSize: [1, 1, 1] })).rejects.toThrow(/junk\.h5: cannot open for writing/);
    expect(await fs.readdir(dir)).toEqual(['junk.h5']);
  });
});

describeData('gala-medulla', 'hdf5: gala-medulla files', () => {
  it('reads the raw, gt (int32) and probability (float32) volumes', async () => {
    const raw = await openHdf5(dataPath('gala-medulla/train-image.h5#stack'));
    expect([raw.shape, raw.dtype, raw.chunkShape]).toEqual([[200, 100, 50], 'uint8', [50, 25, 13]]);
    const gt = await openHdf5(dataPath('gala-medulla/train-gt.h5') + '#/stack');
    expect(gt.dtype).toBe('int32');
    const p = await openHdf5(dataPath('gala-medulla/train-p1.h5#stack'));
    expect(p.dtype).toBe('float32');
    const v = await raw.read(box([0, 0, 0], [3, 2, 1]));
    expect([...v.data]).toEqual([177, 182, 110, 192, 190, 128]);
    const sub = await gt.read(box([10, 20, 5], [60, 70, 30]));
    const whole = await gt.read(box([0, 0, 0], [200, 100, 50]));
    expect([...sub.data]).toEqual([...whole.crop(sub.box).data]);
    for (const s of [raw, gt, p]) await s.close();
  });
  it('names file, dataset and filter for the LZF file', async () => {
    const f = dataPath('gala-medulla/train-gt.lzf.h5');
    await expect(openHdf5(`${f}#stack`)).rejects.toThrow(FormatError);
    await expect(openHdf5(`${f}#stack`)).rejects.toThrow(/train-gt\.lzf\.h5#stack: .*filter 32000 'lzf'/);
  });
});
