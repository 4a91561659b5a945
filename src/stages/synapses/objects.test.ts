import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { mulberry32 } from '../../core/random.js';
import { chooseObjectParams, hysteresisObjects } from './objects.js';

const shape: Vec3 = [40, 40, 3];
const idx = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);

/** Probability map: `n` true blobs (bright core 0.9, faint rim 0.4) and faint noise specks (0.45) that are not objects. */
function scene(seed: number): { prob: Float32Array; truth: Uint8Array } {
  const rnd = mulberry32(seed);
  const prob = new Float32Array(shape[0] * shape[1] * shape[2]);
  const truth = new Uint8Array(prob.length);
  for (let b = 0; b < 6; b++) {
    const cx = 4 + (b % 3) * 12 + Math.floor(rnd() * 3), cy = 6 + Math.floor(b / 3) * 18;
    for (let z = 0; z < 3; z++) {
      for (let y = cy - 3; y <= cy + 3; y++) {
        for (let x = cx - 3; x <= cx + 3; x++) {
          const r = Math.max(Math.abs(x - cx), Math.abs(y - cy));
          truth[idx(x, y, z)] = 1;
          prob[idx(x, y, z)] = r <= 1 ? 0.9 : 0.4;
        }
      }
    }
  }
  // specks: 2x2x1 at 0.45, away from the blobs
  for (let s = 0; s < 10; s++) {
    const x = Math.floor(rnd() * 36) + 2, y = 15 + Math.floor(rnd() * 3), z = Math.floor(rnd() * 3);
    for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) prob[idx(x + dx, y + dy, z)] = 0.45;
  }
  return { prob, truth };
}

describe('hysteresisObjects', () => {
  it('keeps faint rims attached to a bright core, drops faint specks and small objects', () => {
    const { prob } = scene(1);
    const h = hysteresisObjects(prob, shape, { high: 0.8, low: 0.3, minSize: 20 });
    expect(h.count).toBe(6);
    // a whole blob (7x7x3 voxels) is kept, rim included
    let n1 = 0;
    for (const l of h.labels) if (l === 1) n1++;
    expect(n1).toBe(7 * 7 * 3);
    // a plain threshold at 0.3 also finds the specks; at 0.8 only the cores
    expect(hysteresisObjects(prob, shape, { high: 0.3, low: 0.3, minSize: 1 }).count).toBeGreaterThan(6);
    expect(hysteresisObjects(prob, shape, { high: 0.8, low: 0.8, minSize: 1000 }).count).toBe(0);
    expect(() => hysteresisObjects(prob, shape, { high: 0.3, low: 0.5, minSize: 1 })).toThrow(/low <= high/);
  });
});

describe('chooseObjectParams', () => {
  it('chooses on some volumes a rule that holds on another volume', () => {
    const train = [scene(2), scene(3)].map((s) => ({ ...s, shape }));
    const { best, rows } = chooseObjectParams(train, { high: [0.4, 0.8], lowRatio: [0.5, 1], minSize: [1, 20] });
    expect(rows.length).toBe(2 * 2 * 2);
    expect(best.f1).toBe(1);
    expect(best.high).toBe(0.8);
    const test = scene(4);
    const h = hysteresisObjects(test.prob, shape, best);
    expect(h.count).toBe(6);
    // a naive 0.4 threshold counts the specks as objects
    const naive = rows.find((r) => r.high === 0.4 && r.low === 0.4 && r.minSize === 1)!;
    expect(naive.precision).toBeLessThan(1);
  });
});

describe('object split', () => {
  /** Two bright blobs (0.95) touching along a fainter seam (0.6) in 3 sections: one component at low 0.5. */
  function touching(): { prob: Float32Array; truth: Uint8Array } {
    const prob = new Float32Array(shape[0] * shape[1] * shape[2]);
    const truth = new Uint8Array(prob.length);
    for (let z = 0; z < 3; z++) {
      for (let y = 10; y < 20; y++) {
        for (let x = 5; x < 25; x++) {
          prob[idx(x, y, z)] = x === 15 ? 0.6 : 0.95;
          if (x !== 15) truth[idx(x, y, z)] = 1;
        }
      }
    }
    return { prob, truth };
  }
  it('splits touching objects at seeds above the split level; high and minSize apply to the parts', () => {
    const { prob } = touching();
    expect(hysteresisObjects(prob, shape, { high: 0.9, low: 0.5, minSize: 10 }).count).toBe(1);
    const s = hysteresisObjects(prob, shape, { high: 0.9, low: 0.5, minSize: 10, split: 0.9, splitMinSeed: 20 });
    expect(s.count).toBe(2);
    expect(s.labels[idx(6, 12, 0)]).not.toBe(s.labels[idx(24, 12, 2)]);
    // seeds below the seed size floor: no split
    expect(hysteresisObjects(prob, shape, { high: 0.9, low: 0.5, minSize: 10, split: 0.9, splitMinSeed: 1000 }).count).toBe(1);
    expect(() => hysteresisObjects(prob, shape, { high: 0.9, low: 0.5, minSize: 10, split: 0.4 })).toThrow(/split level/);
  });
  it('is chosen out of fold only where it raises object F1', () => {
    const vols = [touching(), touching()].map((v) => ({ ...v, shape }));
    const { best } = chooseObjectParams(vols, { high: [0.9], lowRatio: [0.5], minSize: [10], split: [0.9], splitMinSeed: [20] });
    expect(best.split).toBe(0.9);
    expect(best.f1).toBe(1);
    // separate blobs: splitting gains nothing, the rule keeps no split (ties prefer the plain rule)
    const apart = [scene(5), scene(6)].map((v) => ({ ...v, shape }));
    const r = chooseObjectParams(apart, { high: [0.8], lowRatio: [0.5], minSize: [20], split: [0.85], splitMinSeed: [1] });
    expect(r.best.split).toBeUndefined();
  });
});
