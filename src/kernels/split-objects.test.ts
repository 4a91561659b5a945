import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/box.js';
import { connectedComponents } from './components.js';
import { splitObjects } from './split-objects.js';

const shape: Vec3 = [30, 12, 2];
const idx = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);

/** Two 9x9 squares joined by a 3-voxel neck (x 9..11) in both sections, values low in the middle of each square and high at the neck. */
function dumbbell(): { mask: Uint8Array; values: Float32Array } {
  const n = shape[0] * shape[1] * shape[2];
  const mask = new Uint8Array(n), values = new Float32Array(n).fill(1);
  for (let z = 0; z < 2; z++) {
    for (let y = 1; y < 10; y++) {
      for (let x = 0; x < 21; x++) {
        const neck = x >= 9 && x < 12;
        if (neck && (y < 4 || y > 6)) continue;
        mask[idx(x, y, z)] = 1;
        const cx = x < 10.5 ? 4 : 16;
        values[idx(x, y, z)] = neck ? 0.8 : Math.max(Math.abs(x - cx), Math.abs(y - 5)) / 10;
      }
    }
  }
  return { mask, values };
}

describe('splitObjects', () => {
  it('cuts two touching objects at the ridge between their seeds', () => {
    const { mask, values } = dumbbell();
    const labels = connectedComponents(mask, shape, { connectivity: 26 }).labels;
    const seeds = Uint8Array.from(values, (v, i) => (mask[i] && v < 0.25 ? 1 : 0));
    const s = splitObjects(labels, values, seeds, shape, { minSeed: 5 });
    expect(s.count).toBe(2);
    // every object voxel is in a part, the two squares' centres in different parts, each square whole
    for (let i = 0; i < mask.length; i++) expect(s.labels[i] > 0).toBe(mask[i] === 1);
    expect(s.labels[idx(4, 5, 0)]).not.toBe(s.labels[idx(16, 5, 1)]);
    for (let y = 1; y < 10; y++) for (let x = 0; x < 9; x++) expect(s.labels[idx(x, y, 1)]).toBe(s.labels[idx(4, 5, 0)]);
    for (let y = 1; y < 10; y++) for (let x = 12; x < 21; x++) expect(s.labels[idx(x, y, 0)]).toBe(s.labels[idx(16, 5, 1)]);
  });

  it('leaves an object with one seed, or seeds below the size floor, whole', () => {
    const { mask, values } = dumbbell();
    const labels = connectedComponents(mask, shape, { connectivity: 26 }).labels;
    const left = Uint8Array.from(values, (v, i) => (mask[i] && v < 0.25 && i % shape[0] < 9 ? 1 : 0));
    expect(splitObjects(labels, values, left, shape, { minSeed: 5 }).count).toBe(1);
    // a 1-voxel seed in the right square does not count at minSeed 5, it does at 1
    const tiny = left.slice();
    tiny[idx(16, 5, 0)] = 1;
    expect(splitObjects(labels, values, tiny, shape, { minSeed: 5 }).count).toBe(1);
    expect(splitObjects(labels, values, tiny, shape, { minSeed: 1 }).count).toBe(2);
    expect(splitObjects(labels, values, new Uint8Array(mask.length), shape).count).toBe(1);
  });

  it('keeps voxels joined only diagonally and never joins two objects', () => {
    const n = shape[0] * shape[1] * shape[2];
    const labels = new Uint32Array(n), values = new Float32Array(n);
    // object 1: a diagonal chain of voxels (26-connected, not 6-connected); object 2 elsewhere, touching nothing
    for (let k = 0; k < 5; k++) labels[idx(k, k, 0)] = 1;
    labels[idx(20, 5, 1)] = 2;
    labels[idx(21, 5, 1)] = 2;
    const seeds = new Uint8Array(n);
    seeds[idx(0, 0, 0)] = 1;
    seeds[idx(4, 4, 0)] = 1;
    seeds[idx(20, 5, 1)] = 1;
    const s = splitObjects(labels, values, seeds, shape, { minSeed: 1 });
    expect(s.count).toBe(3);
    for (let k = 0; k < 5; k++) expect(s.labels[idx(k, k, 0)]).toBeGreaterThan(0);
    expect(s.labels[idx(20, 5, 1)]).toBe(s.labels[idx(21, 5, 1)]);
    expect(s.labels[idx(0, 0, 0)]).not.toBe(s.labels[idx(4, 4, 0)]);
  });

  it('names the mismatched array', () => {
    expect(() => splitObjects(new Uint32Array(3), new Float32Array(3), new Uint8Array(2), [3, 1, 1])).toThrow(/seed mask \(2\)/);
  });
});
