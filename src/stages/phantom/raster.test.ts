import { describe, expect, it } from 'vitest';
import type { Box, Vec3 } from '../../core/box.js';
import { cleftCheck } from '../../../test/phantom-cleft-check.js';
import { CLASS } from '../classes/classes.js';
import { buildModel } from './model.js';
import { LOOK, NoiseTable, PointTable, rasterize, rasterizeLabelsReference, valueNoise } from './raster/index.js';

const LAYERS = ['cell', 'comp', 'mito', 'cloud', 'cleft'] as const;
const b = (min: Vec3, max: Vec3): Box => ({ min, max });

describe('phantom rasteriser', () => {
  it('tiled labels equal the plain per-voxel scan, whatever the box', () => {
    const cases: Array<[Vec3, Vec3, Box]> = [
      [[64, 56, 12], [8, 8, 30], b([0, 0, 0], [64, 56, 12])],
      [[64, 56, 12], [8, 8, 30], b([-5, -3, -2], [69, 61, 14])], // sticks out of the volume
      [[64, 56, 12], [8, 8, 30], b([17, 33, 5], [18, 34, 6])], // one voxel
      [[128, 128, 4], [4, 4, 50], b([3, 7, 1], [110, 101, 2])],
      [[24, 24, 24], [10, 10, 10], b([0, 0, 0], [24, 24, 24])],
    ];
    for (const [size, voxelSize, box] of cases) {
      const m = buildModel({ seed: 5, size, voxelSize });
      const ref = rasterizeLabelsReference(m, box);
      const fast = rasterize(m, box, false);
      const withRaw = rasterize(m, box, true);
      for (const k of LAYERS) {
        expect(Buffer.from(fast[k].buffer).equals(Buffer.from(ref[k].buffer)), `${k} ${JSON.stringify(box)}`).toBe(true);
        expect(Buffer.from(withRaw[k].buffer).equals(Buffer.from(ref[k].buffer)), `${k} with raw`).toBe(true);
      }
      expect(ref.cell.some((c) => c >= 0) || box.max[0] - box.min[0] === 1).toBe(true);
    }
  });

  it('gives the same sharp image in a block as in a bigger block around it', () => {
    const m = buildModel({ seed: 9, size: [80, 72, 16], voxelSize: [8, 8, 30] });
    const big = rasterize(m, b([0, 0, 0], [80, 72, 16]), true);
    const sub = b([13, 29, 3], [58, 61, 11]);
    const small = rasterize(m, sub, true);
    let o = 0;
    let bad = 0;
    for (let z = sub.min[2]; z < sub.max[2]; z++)
      for (let y = sub.min[1]; y < sub.max[1]; y++)
        for (let x = sub.min[0]; x < sub.max[0]; x++, o++) if (small.raw![o] !== big.raw![x + 80 * (y + 72 * z)]) bad++;
    expect(bad).toBe(0);
  });

  it('tabulated noise equals the hashed value noise bit for bit', () => {
    const xs = Float64Array.from({ length: 23 }, (_, i) => (i + 0.5) * 7 - 40);
    const ys = Float64Array.from({ length: 5 }, (_, i) => (i + 0.5) * 13);
    const zs = Float64Array.from({ length: 3 }, (_, i) => (i + 7.5) * 30);
    const t = new NoiseTable(xs, ys, zs, 14, 321);
    for (let z = 0; z < 3; z++) for (let y = 0; y < 5; y++) for (let x = 0; x < 23; x++) expect(t.at(x, y, z)).toBe(valueNoise(xs[x], ys[y], zs[z], 14, 321));
    // a box too big to tabulate hashes per sample: the same values
    const wide = Float64Array.from({ length: 3 }, (_, i) => i * 40000 + 3.5);
    const big = new NoiseTable(wide, wide, wide, 14, 321);
    for (let k = 0; k < 3; k++) expect(big.at(k, 2 - k, 1)).toBe(valueNoise(wide[k], wide[2 - k], wide[1], 14, 321));
    // points: the same distances from two tables over different ranges
    const p1 = new PointTable(xs, ys, zs, [46, 46, 46], 77, 1, 15);
    const p2 = new PointTable(xs.subarray(5), ys.subarray(2), zs, [46, 46, 46], 77, 1, 15);
    for (let x = 5; x < 23; x++) expect(p2.dist(x - 5, 1, 2, xs[x], ys[3], zs[2])).toBe(p1.dist(x, 3, 2, xs[x], ys[3], zs[2]));
  });

  it('draws membranes, a dark postsynaptic density, a grey cleft and vesicles', () => {
    const size: Vec3 = [192, 192, 32];
    const m = buildModel({ seed: 1, size, voxelSize: [8, 8, 30] });
    const box = b([0, 0, 0], size);
    const f = rasterize(m, box, true);
    const raw = f.raw!;
    const [sx, sy] = size;
    let mem = 0;
    let nMem = 0;
    let cyt = 0;
    let nCyt = 0;
    let cleft = 0;
    let nCleft = 0;
    let psd = 0;
    let nPsd = 0;
    const ves: number[] = [];
    const post = new Int32Array(m.synapses.map((s) => s.post));
    for (let z = 0; z < size[2]; z++)
      for (let y = 1; y < sy - 1; y++)
        for (let x = 1; x < sx - 1; x++) {
          const i = x + sx * (y + sy * z);
          const c = f.cell[i];
          const nb = [i - 1, i + 1, i - sx, i + sx];
          if (f.cleft[i] >= 0) {
            cleft += raw[i];
            nCleft++;
            continue;
          }
          // next to a cleft, in the post cell: the postsynaptic density
          const s = nb.map((j) => f.cleft[j]).find((v) => v >= 0);
          if (s !== undefined && c === post[s]) {
            psd += raw[i];
            nPsd++;
            continue;
          }
          if (c < 0 || f.mito[i] >= 0) continue;
          if (f.cloud[i] >= 0) ves.push(raw[i]);
          else if (nb.some((j) => f.cell[j] !== c)) {
            mem += raw[i];
            nMem++;
          } else if (nb.every((j) => f.cell[j] === c) && f.comp[i] !== 1) {
            cyt += raw[i];
            nCyt++;
          }
        }
    expect(nCleft).toBeGreaterThan(50);
    expect(nPsd).toBeGreaterThan(50);
    mem /= nMem;
    cyt /= nCyt;
    cleft /= nCleft;
    psd /= nPsd;
    expect(cyt - mem).toBeGreaterThan(60);
    expect(mem - psd).toBeGreaterThan(15); // PSD darker than plain membrane
    expect(cleft - psd).toBeGreaterThan(60); // the cleft a grey band beside it
    expect(cleft).toBeLessThan(cyt);
    // vesicle clouds: light lumens and dark rims
    ves.sort((a, c) => a - c);
    expect(ves.length).toBeGreaterThan(500);
    expect(ves[Math.floor(0.9 * ves.length)] - ves[Math.floor(0.1 * ves.length)]).toBeGreaterThan(80);
    expect(LOOK.cleftHalf).toBe(10);
  });

  it('a small random forest finds the clefts in the blurred, noisy image', () => {
    // patches around synapse contacts (train: seed 2, test: seed 1), the predict stage's features;
    // every k-th voxel of each class
    const r = cleftCheck({
      size: [192, 192, 48], voxelSize: [8, 8, 30], half: 24, maxPatches: 8, trainSeed: 2, testSeed: 1,
      step: (c) => (c === CLASS.cleft ? 1 : c === CLASS.cytoplasm ? 12 : 3),
      forest: { nTrees: 8, seed: 1, minSamplesLeaf: 2 },
    });
    expect(r.trainPatches).toBeGreaterThan(2);
    expect(r.testPatches).toBeGreaterThan(2);
    const { sum, count: cnt } = r;
    const atCleft = sum[CLASS.cleft] / cnt[CLASS.cleft];
    const atBoundary = sum[CLASS.boundary] / cnt[CLASS.boundary];
    const elsewhere = (sum[1] + sum[2] + sum[4] + sum[5]) / (cnt[1] + cnt[2] + cnt[4] + cnt[5]);
    expect(atCleft).toBeGreaterThan(0.12);
    expect(atCleft).toBeGreaterThan(4 * atBoundary);
    expect(atCleft).toBeGreaterThan(5 * elsewhere);
  }, 60_000);
});
