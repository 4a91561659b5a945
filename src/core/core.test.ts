import { describe, expect, it } from 'vitest';
import { boxFromShape, boxGrow, boxIntersect, boxIsEmpty, boxShape, boxVoxels, parseVec3 } from './box.js';
import { ChunkGrid } from './chunks.js';
import { allocate, asBytes, viewBytes } from './dtype.js';
import { FormatError, UsageError, WiringError } from './errors.js';
import { remapTriangles, uniqueTriples } from './hash.js';
import { LabelMap, parseId, toJson } from './ids.js';
import { Volume, copyBox } from './volume.js';

describe('boxes', () => {
  it('are half-open and intersect', () => {
    const a = boxFromShape([10, 10, 10]);
    const b = boxFromShape([10, 10, 10], [5, 5, 5]);
    expect(boxShape(boxIntersect(a, b))).toEqual([5, 5, 5]);
    expect(boxIsEmpty(boxIntersect(a, boxFromShape([1, 1, 1], [10, 0, 0])))).toBe(true);
    expect(boxVoxels(boxGrow(boxFromShape([1, 1, 1]), [1, 1, 0]))).toBe(9);
  });
  it('parses X,Y,Z and rejects malformed vectors', () => {
    expect(parseVec3('4,4,40', 'voxel size', { positive: true })).toEqual([4, 4, 40]);
    expect(() => parseVec3('4,4', 'voxel size')).toThrow(UsageError);
    expect(() => parseVec3('4,x,4', 'size')).toThrow(/not a number/);
    expect(() => parseVec3('1.5,2,3', 'size', { integer: true })).toThrow(/whole/);
    expect(() => parseVec3('0,2,3', 'size', { positive: true })).toThrow(/positive/);
  });
});

describe('Volume', () => {
  it('stores x fastest and channels slowest', () => {
    const v = Volume.zeros('uint16', [3, 2, 2], { channels: 2 });
    expect(v.index(1, 0, 0)).toBe(1);
    expect(v.index(0, 1, 0)).toBe(3);
    expect(v.index(0, 0, 1)).toBe(6);
    expect(v.index(0, 0, 0, 1)).toBe(12);
    v.data[v.index(2, 1, 1, 1)] = 7;
    expect(v.channel(1).get(2, 1, 1)).toBe(7);
  });
  it('crops and copies sub-boxes in global coordinates', () => {
    const src = Volume.zeros('uint8', boxFromShape([4, 4, 4], [10, 20, 30]));
    for (let i = 0; i < src.data.length; i++) src.data[i] = i;
    const c = src.crop(boxFromShape([2, 2, 2], [11, 21, 31]));
    expect(c.get(11, 21, 31)).toBe(src.get(11, 21, 31));
    expect(c.get(12, 22, 32)).toBe(src.get(12, 22, 32));
    const dst = Volume.zeros('uint8', boxFromShape([4, 4, 4], [12, 20, 30]));
    copyBox(src, dst);
    expect(dst.get(13, 23, 33)).toBe(src.get(13, 23, 33));
    expect(dst.get(15, 23, 33)).toBe(0);
    expect(() => src.crop(boxFromShape([5, 1, 1], [10, 20, 30]))).toThrow(WiringError);
  });
  it('rejects data of the wrong length or type', () => {
    expect(() => Volume.from('uint8', [2, 2, 2], new Uint8Array(7))).toThrow(/expected 8/);
    expect(() => Volume.from('uint32', [1, 1, 1], new Uint8Array(1) as never)).toThrow(/declared uint32/);
  });
  it('handles an empty volume', () => {
    const v = Volume.zeros('float32', [0, 5, 5]);
    expect(v.voxels).toBe(0);
  });
});

describe('dtypes', () => {
  it('views little-endian bytes, copying when misaligned', () => {
    const a = allocate('uint64', 2);
    a[0] = 864691135639556411n;
    a[1] = (1n << 64n) - 1n;
    const bytes = new Uint8Array(17);
    bytes.set(asBytes(a), 1);
    const v = viewBytes('uint64', bytes.subarray(1));
    expect(Array.from(v)).toEqual([864691135639556411n, (1n << 64n) - 1n]);
    expect(() => viewBytes('uint32', new Uint8Array(5), 'chunk c')).toThrow(FormatError);
  });
  it('allocates shared buffers for workers', () => {
    expect(allocate('float32', 4, true).buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});

describe('ids', () => {
  it('are exact above 2^53 and never accepted as unsafe numbers', () => {
    expect(parseId('864691135639556411')).toBe(864691135639556411n);
    expect(parseId(12)).toBe(12n);
    expect(() => parseId(2 ** 60)).toThrow(/strings/);
    expect(() => parseId('-1')).toThrow();
    expect(() => parseId('18446744073709551616')).toThrow(/2\^64/);
    expect(toJson({ id: 864691135639556411n })).toBe('{"id":"864691135639556411"}');
  });
  it('compacts uint64 blocks to uint32 labels and back', () => {
    const ids = BigUint64Array.from([0n, 864691135639556411n, 864691135639556411n, 5n, 0n, 5n]);
    const { labels, map } = LabelMap.compact(ids);
    expect(Array.from(labels)).toEqual([0, 1, 1, 2, 0, 2]);
    expect(map.size).toBe(2);
    expect(Array.from(map.expand(labels))).toEqual(Array.from(ids));
  });
});

describe('ChunkGrid', () => {
  it('clips edge chunks and lists chunks in a box', () => {
    const g = ChunkGrid.of([100, 64, 10], [64, 64, 64], [5, 0, 0]);
    expect(g.gridShape).toEqual([2, 1, 1]);
    expect(g.chunkBox([1, 0, 0])).toEqual({ min: [69, 0, 0], max: [105, 64, 10] });
    expect([...g.chunksIn(boxFromShape([2, 2, 2], [68, 0, 0]))]).toEqual([[0, 0, 0], [1, 0, 0]]);
    expect([...g.chunksIn(boxFromShape([2, 2, 2], [200, 0, 0]))]).toEqual([]);
    expect(g.fromLinear(g.linear([1, 0, 0]))).toEqual([1, 0, 0]);
    expect(() => ChunkGrid.of([1, 1, 1], [0, 1, 1])).toThrow(/positive/);
  });
});

describe('uniqueTriples / remapTriangles', () => {
  it('numbers equal triples once in order of first occurrence and drops triangles that collapse', () => {
    const w = Int32Array.from([5, 6, 7, 1, 2, 3, 5, 6, 7, -1, 0, 2 ** 31 - 1, 1, 2, 3]);
    const { remap, unique, count } = uniqueTriples(w);
    expect(count).toBe(3);
    expect([...remap]).toEqual([0, 1, 0, 2, 1]);
    expect(unique).toBeInstanceOf(Int32Array);
    expect([...unique.slice(0, 9)]).toEqual([5, 6, 7, 1, 2, 3, -1, 0, 2 ** 31 - 1]);
    // triangle (0,2,1) keeps its corners; (0,1,4) collapses (1 and 4 are one vertex)
    expect([...remapTriangles([0, 3, 1, 0, 1, 4], remap)]).toEqual([0, 2, 1]);
    // many random triples against a Map of their strings
    const r = Uint32Array.from({ length: 3 * 5000 }, (_, i) => (i * 2654435761) % 97);
    const seen = new Map<string, number>();
    const u = uniqueTriples(r);
    for (let v = 0; v < 5000; v++) {
      const k = `${r[3 * v]},${r[3 * v + 1]},${r[3 * v + 2]}`;
      if (!seen.has(k)) seen.set(k, seen.size);
      expect(u.remap[v]).toBe(seen.get(k));
    }
    expect(u.count).toBe(seen.size);
  });
});
