import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { contactObjects, contactPairs } from './contact-candidates.js';

describe('contactObjects', () => {
  // three cells side by side along x: 1 (x < 10), 2 (10 <= x < 20), 3 (x >= 20); a bright membrane
  // band runs along y at x 9..10 (the 1|2 contact) and turns along x at y 15..16 over x 9..24, so
  // it reaches the 2|3 contact (x 19..20) too: one component of the map
  const shape: Vec3 = [30, 30, 3];
  const n = shape[0] * shape[1] * shape[2];
  const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
  const seg = new Uint32Array(n), prob = new Float32Array(n);
  for (let z = 0; z < 3; z++)
    for (let y = 0; y < 30; y++)
      for (let x = 0; x < 30; x++) {
        seg[at(x, y, z)] = x < 10 ? 1 : x < 20 ? 2 : 3;
        if ((x >= 9 && x <= 10 && y <= 16) || (y >= 15 && y <= 16 && x >= 9 && x <= 24)) prob[at(x, y, z)] = y < 8 ? 0.9 : 0.4;
      }

  it('cuts a component that runs over several contacts into one piece per pair of segments', () => {
    const plain = contactObjects(prob, new Uint32Array(n).fill(7), shape, { high: 0.3, low: 0.3, minSize: 1 });
    expect(plain.count).toBe(1);
    const cut = contactObjects(prob, seg, shape, { high: 0.3, low: 0.3, minSize: 1 });
    expect(cut.count).toBeGreaterThan(1);
    // the 1|2 band's voxels share a label, apart from the ones of the 2|3 contact
    expect(cut.labels[at(9, 3, 1)]).toBe(cut.labels[at(10, 3, 1)]);
    expect(cut.labels[at(9, 3, 1)]).not.toBe(cut.labels[at(20, 15, 1)]);
  });

  it('keeps only the pieces that reach high and hold minSize voxels', () => {
    // only the 1|2 band's start (y < 8) reaches 0.9: its piece (the whole 1|2 band) is the one kept
    const cut = contactObjects(prob, seg, shape, { high: 0.8, low: 0.3, minSize: 1 });
    expect(cut.count).toBe(1);
    expect(cut.labels[at(9, 12, 1)]).toBe(1);
    expect(cut.labels[at(20, 15, 1)]).toBe(0);
    expect(contactObjects(prob, seg, shape, { high: 0.8, low: 0.3, minSize: 10_000 }).count).toBe(0);
    expect(() => contactObjects(prob, seg, shape, { high: 0.2, low: 0.3, minSize: 1 })).toThrow(/low <= high/);
  });

  it('names a pair by its own segment and the most frequent other one', () => {
    const mask = new Uint8Array(n);
    mask[at(9, 3, 1)] = 1;
    mask[at(10, 3, 1)] = 1;
    mask[at(4, 3, 1)] = 1; // inside cell 1, no other cell within 2 pixels
    const p = contactPairs(mask, seg, shape);
    expect(p[at(9, 3, 1)]).toBe(p[at(10, 3, 1)]);
    expect(p[at(4, 3, 1)]).not.toBe(p[at(9, 3, 1)]);
    expect(p[at(0, 0, 0)]).toBe(0);
  });
});
