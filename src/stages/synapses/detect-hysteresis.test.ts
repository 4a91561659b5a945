import { describe, expect, it } from 'vitest';
import { boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { connectedComponents } from '../../kernels/components.js';
import { detectOrganelles } from './detect.js';

describe('hysteresis thresholds (lowThreshold)', () => {
  it('keeps a faint rim around a bright core, drops faint specks without a core', () => {
    const shape: [number, number, number] = [30, 20, 4];
    const map = Volume.zeros('float32', shape);
    const seg = Volume.zeros('uint32', shape).data.fill(1);
    const segV = new Volume('uint32', map.box, seg);
    const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
    // blob 5x5x2 at (2..6, 2..6, 1..2): core 3x3 at 0.9, rim 0.4
    for (let z = 1; z < 3; z++) for (let y = 2; y < 7; y++) for (let x = 2; x < 7; x++) map.data[at(x, y, z)] = x > 2 && x < 6 && y > 2 && y < 6 ? 0.9 : 0.4;
    // speck 2x2x1 at 0.45 far away
    for (const [x, y] of [[20, 10], [21, 10], [20, 11], [21, 11]]) map.data[at(x, y, 2)] = 0.45;
    const b = boxFromShape(shape);
    const base = { minSize: 1, voxelSize: [4, 4, 40] as [number, number, number], bounds: b, kind: 'mitochondrion' as const };
    const hyst = detectOrganelles(map, segV, b, { ...base, threshold: 0.8, lowThreshold: 0.3 });
    expect(hyst.organelles.length).toBe(1);
    expect(hyst.organelles[0].size).toBe(5 * 5 * 2);
    const low = detectOrganelles(map, segV, b, { ...base, threshold: 0.3 });
    expect(low.organelles.length).toBe(2);
    const high = detectOrganelles(map, segV, b, { ...base, threshold: 0.8 });
    expect(high.organelles.length).toBe(1);
    expect(high.organelles[0].size).toBe(3 * 3 * 2);
    expect(() => detectOrganelles(map, segV, b, { ...base, threshold: 0.3, lowThreshold: 0.5 })).toThrow(/must not exceed/);
  });
});

describe('hysteresis objects on runs', () => {
  it('detectOrganelles keeps exactly the components of p >= low that reach p >= high (ids, sizes, small count), uint8 and float32 maps, 6 and 26', () => {
    const shape: [number, number, number] = [40, 33, 9];
    const n = shape[0] * shape[1] * shape[2];
    let s = 11;
    const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    // smooth-ish blobs: random values averaged along x so that runs are longer than one voxel
    const raw = new Float32Array(n);
    for (let i = 0; i < n; i++) raw[i] = rnd();
    const p8 = new Uint8Array(n);
    for (let i = 0; i < n; i++) p8[i] = Math.round(255 * (raw[i] + raw[Math.max(0, i - 1)] + raw[Math.min(n - 1, i + 1)]) / 3);
    const seg = new Uint32Array(n);
    for (let i = 0; i < n; i++) seg[i] = 1 + (i % shape[0] < 20 ? 0 : 1);
    const bounds = boxFromShape(shape);
    const box = { min: [3, 2, 1] as [number, number, number], max: [35, 30, 8] as [number, number, number] };
    const segV = Volume.from('uint32', shape, seg);
    for (const map of [Volume.from('uint8', shape, p8), Volume.from('float32', shape, Float32Array.from(p8, (v) => v / 255))]) {
      const scale = map.dtype === 'uint8' ? 255 : 1;
      for (const [high, low, conn] of [[0.75, 0.62, 6], [0.8, 0.72, 26], [0.68, 0.68, 6]] as const) {
        const got = detectOrganelles(map, segV, box, { threshold: high, lowThreshold: low, minSize: 3, voxelSize: [4, 4, 40], bounds, connectivity: conn, kind: 'mitochondrion' });
        // reference: the whole-volume label map, then keep / size / anchor by brute force
        const d = map.data as Uint8Array | Float32Array;
        const lowMask = Uint8Array.from(d, (v) => (v >= low * scale ? 1 : 0));
        const { labels, count } = connectedComponents(lowMask, shape, { connectivity: conn });
        const size = new Int32Array(count + 1);
        const first = new Int32Array(count + 1).fill(-1);
        const reach = new Uint8Array(count + 1);
        for (let i = 0; i < n; i++) {
          const l = labels[i];
          if (!l) continue;
          size[l]++;
          if (first[l] < 0) first[l] = i;
          if (d[i] >= high * scale) reach[l] = 1;
        }
        const want: { id: bigint; size: number }[] = [];
        let small = 0;
        for (let l = 1; l <= count; l++) {
          const i = first[l];
          const p = [i % shape[0], Math.floor(i / shape[0]) % shape[1], Math.floor(i / (shape[0] * shape[1]))];
          if (!reach[l] || p.some((v, a) => v < box.min[a] || v >= box.max[a])) continue;
          if (size[l] < 3) small++;
          else want.push({ id: 2n * BigInt(i) + 1n, size: size[l] });
        }
        expect(want.length).toBeGreaterThan(3);
        expect(small).toBeGreaterThan(0);
        expect(got.small).toBe(small);
        expect(got.organelles.map((o) => ({ id: o.id, size: o.size }))).toEqual(want);
      }
    }
  });
});

describe('organelle hosts', () => {
  it('the segment under most of the object (ties: the smaller id; 0 when none), uint64 ids that differ only in the high word, uint32 and uint16 ids', () => {
    const shape: [number, number, number] = [12, 8, 3];
    const n = shape[0] * shape[1] * shape[2];
    const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
    const map = Volume.zeros('float32', shape);
    // four bars along x (rows y = 0, 2, 4, 6, z = 1), 12 voxels each
    for (let y = 0; y < 8; y += 2) for (let x = 0; x < 12; x++) map.data[at(x, y, 1)] = 0.9;
    const H = 1n << 40n;
    const big = [H + 5n, 2n * H + 5n, 5n, 3n * H];
    // row 0: 5 of big[1], 4 of big[0], 3 empty -> big[1]; row 1: 6 and 6 of big[0] and big[1] -> the smaller, big[0];
    // row 2: 6 of 5n and 6 of big[3] -> 5n; row 3: all 0 -> host 0
    const rows: Array<Array<[number, number]>> = [[[1, 5], [0, 4], [-1, 3]], [[1, 6], [0, 6]], [[3, 6], [2, 6]], [[-1, 12]]];
    const pick = new Int32Array(n).fill(-1);
    rows.forEach((parts, y) => {
      let x = 0;
      for (const [which, len] of parts) for (let k = 0; k < len; k++) pick[at(x++, 2 * y, 1)] = which;
    });
    const b = boxFromShape(shape);
    const base = { threshold: 0.5, minSize: 1, voxelSize: [4, 4, 40] as [number, number, number], bounds: b, kind: 'mitochondrion' as const, connectivity: 4 as const };
    const seg64 = BigUint64Array.from(pick, (w) => (w < 0 ? 0n : big[w]));
    const hosts = (seg: Volume) => detectOrganelles(map, seg, b, base).organelles.map((o) => o.host_root_id);
    expect(hosts(Volume.from('uint64', shape, seg64))).toEqual([big[1], big[0], 5n, 0n]);
    const small = [7, 9, 3, 8];
    expect(hosts(Volume.from('uint32', shape, Uint32Array.from(pick, (w) => (w < 0 ? 0 : small[w]))))).toEqual([9n, 7n, 3n, 0n]);
    expect(hosts(Volume.from('uint16', shape, Uint16Array.from(pick, (w) => (w < 0 ? 0 : small[w]))))).toEqual([9n, 7n, 3n, 0n]);
  });
});
