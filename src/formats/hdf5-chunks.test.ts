// Direct chunk reads (hdf5-chunks.ts) must give exactly what h5wasm's hyperslabs give.
// testdata/hdf5/*.h5 are written by h5py (testdata/hdf5/make.py): shuffle + gzip, several chunk
// shapes with edge chunks, unwritten chunks (fill value 7), 4-D, nested groups, a big-endian and a
// contiguous dataset (h5wasm path), the same datasets with libver='latest' (layout v4: h5wasm path).
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, dataPath, describeData } from '../../test/data.js';
import { type Box, box, boxFromShape } from '../core/box.js';
import { FormatError } from '../core/errors.js';
import { mulberry32 } from '../core/random.js';
import type { Volume } from '../core/volume.js';
import { unshuffle } from './hdf5-chunks.js';
import { openHdf5 } from './hdf5.js';

const H5 = path.join(REPO_ROOT, 'testdata', 'hdf5');

function bytesOf(v: Volume): Buffer {
  return Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength);
}

/** Whole box, every single chunk-straddling box from a seeded generator, and one voxel. */
function boxes(shape: readonly [number, number, number], n: number, seed: number): Box[] {
  const r = mulberry32(seed);
  const out: Box[] = [boxFromShape(shape), box([shape[0] - 1, shape[1] - 1, shape[2] - 1], shape)];
  for (let i = 0; i < n; i++) {
    const lo = shape.map((s) => Math.floor(r() * s)) as [number, number, number];
    const hi = lo.map((l, d) => l + 1 + Math.floor(r() * (shape[d] - l))) as [number, number, number];
    out.push(box(lo, hi));
  }
  return out;
}

async function sameAsH5wasm(spec: string, expectDirect: boolean, n = 12): Promise<void> {
  const a = await openHdf5(spec);
  const b = await openHdf5(spec, { direct: false });
  try {
    expect(a.chunkReads).toBe(expectDirect ? 'direct' : 'h5wasm');
    expect(b.chunkReads).toBe('h5wasm');
    for (const bx of boxes(a.shape, n, spec.length)) {
      const [va, vb] = [await a.read(bx), await b.read(bx)];
      expect(va.dtype).toBe(vb.dtype);
      expect(va.channels).toBe(vb.channels);
      expect(bytesOf(va).equals(bytesOf(vb))).toBe(true);
    }
  } finally {
    await a.close();
    await b.close();
  }
}

describe('HDF5 direct chunk reads equal h5wasm', () => {
  const f = path.join(H5, 'chunks.h5');
  it('gzip + shuffle int16 in a nested group (chunks 4x5x6 over 11x13x17: edge chunks)', () => sameAsH5wasm(`${f}#a/b/int16`, true));
  it('gzip level 9 + shuffle float32', () => sameAsH5wasm(`${f}#f32`, true));
  it('gzip uint64 (no shuffle)', () => sameAsH5wasm(`${f}#u64`, true));
  it('chunked without filters', () => sameAsH5wasm(`${f}#plain`, true));
  it('4-D (c, z, y, x), gzip + shuffle', () => sameAsH5wasm(`${f}#c4`, true));
  it('unwritten chunks read the fill value (those boxes go through h5wasm)', async () => {
    await sameAsH5wasm(`${f}#sparse`, true, 20);
    const s = await openHdf5(`${f}#sparse`);
    const v = await s.read(boxFromShape([8, 8, 8]));
    expect(v.data[7 + 8 * (7 + 8 * 7)]).toBe(7); // never written
    expect(v.data[0 + 8 * (4 + 8 * 4)]).toBe(9); // written (x 0:4, y 4:8, z 4:8)
    // a box inside the written chunks only is read directly
    const w = await s.read(box([0, 0, 0], [4, 4, 4]));
    expect(w.data.length).toBe(64);
    await s.close();
  });
  it('contiguous and big-endian datasets keep the h5wasm path', async () => {
    await sameAsH5wasm(`${f}#contig`, false, 4);
    await sameAsH5wasm(`${f}#big_endian`, false, 4);
  });
  it("libver='latest' files (superblock v3, layout v4 chunk indexes) keep the h5wasm path", async () => {
    const g = path.join(H5, 'chunks-latest.h5');
    for (const ds of ['a/b/int16', 'f32', 'sparse', 'c4']) await sameAsH5wasm(`${g}#${ds}`, false, 4);
  });
  it('a damaged chunk is a FormatError naming the file and the chunk', async () => {
    const s = await openHdf5(`${path.join(H5, 'damaged.h5')}#f32`);
    expect(s.chunkReads).toBe('direct');
    const e = await s.read(boxFromShape(s.shape)).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as Error).message).toContain('damaged.h5');
    expect((e as Error).message).toMatch(/chunk at \(0, 0, 4\)/);
    await s.close();
  });
  it('unshuffle inverts the shuffle filter, leftover bytes kept', () => {
    const el = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
    // 3 elements of 4 bytes shuffled (byte 0 of each, then byte 1, ...), one leftover byte
    const shuffled = [1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12, 13];
    expect([...unshuffle(new Uint8Array(shuffled), 4)]).toEqual(el);
  });
});

describeData('gala-medulla/train-image.h5', 'HDF5 direct chunk reads on gala-medulla', () => {
  it('every gala-medulla .h5 (h5py, superblock v0, chunks 13x25x50 / 7x25x50) reads as h5wasm reads it', async () => {
    for (const name of ['train-image.h5', 'train-gt.h5', 'train-p1.h5']) await sameAsH5wasm(`${dataPath('gala-medulla', name)}#stack`, true, 6);
    const s = await openHdf5(`${dataPath('gala-medulla', 'train-image.h5')}#stack`);
    const v = await s.read(boxFromShape(s.shape));
    // the checksum the import bench records for this volume (PIL and h5py agree on it)
    expect(createHash('sha256').update(bytesOf(v)).digest('hex')).toBe('ec9c2b745765f010ac057066d158e55962772c3e4829f1124cc71ab2b1f16c65');
    await s.close();
  });
});
