import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { type Affine, apply, compose } from './affine.js';
import { detrendRotation, localSlopes, rotationAbout, rotationOf } from './detrend.js';

const deg = Math.PI / 180;

describe('rotation detrend', () => {
  it('rotationAbout keeps its centre and rotationOf reads the angle back', () => {
    const r = rotationAbout(0.3, 10, 20);
    const [x, y] = apply(r, 10, 20);
    expect(x).toBeCloseTo(10, 12);
    expect(y).toBeCloseTo(20, 12);
    expect(rotationOf(r)).toBeCloseTo(0.3, 12);
    // a scaled and sheared map: the angle of its closest similarity
    expect(rotationOf(compose([1.02, 0.01, 0, 0, 0.99, 0], r))).toBeCloseTo(0.3, 1);
  });

  it('local slopes of a line are its slope; unused indices do not count', () => {
    const theta = Array.from({ length: 12 }, (_, z) => 0.5 - 0.02 * z);
    const use = theta.map((_v, z) => z !== 4);
    theta[4] = 99; // a section that is not measured
    const s = localSlopes(theta, use, 3);
    for (const v of s) expect(v).toBeCloseTo(-0.02, 10);
    const few = theta.map((_v, z) => z < 2);
    expect([...localSlopes(theta, few, 3)]).toEqual(new Array(12).fill(0));
  });

  it('removes a steady drift and keeps per-section jitter about it', () => {
    const rand = mulberry32(3);
    const n = 10;
    const jitter = Array.from({ length: n }, (_, z) => (z === 0 ? 0 : (2 * rand() - 1) * deg));
    // forward maps rotated about the centre by a drift of -0.8 deg a section plus jitter, and shifted
    const F: Affine[] = jitter.map((j, z) => compose([1, 0, 3 * z, 0, 1, -z], rotationAbout(-0.8 * deg * z + j, 63.5, 63.5)));
    const use = new Array<boolean>(n).fill(true);
    const { F: G, correction } = detrendRotation(F, use, 0, 100, 128, 128);
    expect(correction[0]).toBe(0);
    // a window much wider than the stack is one straight line through all sections: what is left
    // is the jitter minus its own least-squares slope (from the reference on)
    const zm = (n - 1) / 2;
    const jm = jitter.reduce((a, b) => a + b, 0) / n;
    const js = jitter.reduce((a, j, z) => a + (z - zm) * (j - jm), 0) / jitter.reduce((a, _j, z) => a + (z - zm) ** 2, 0);
    G.forEach((g, z) => expect(rotationOf(g)).toBeCloseTo(jitter[z] - js * z, 5));
    // the correction is a rotation about the centre applied after the map
    G.forEach((g, z) => {
      const [a, b] = apply(g, 10, 100);
      const [c, d] = apply(F[z], 10, 100);
      const [e, f] = apply(rotationAbout(-correction[z], 63.5, 63.5), c, d);
      expect(a).toBeCloseTo(e, 9);
      expect(b).toBeCloseTo(f, 9);
    });
    // sigma 0: unchanged
    expect(detrendRotation(F, use, 0, 0, 128, 128).F).toEqual(F);
  });
});
