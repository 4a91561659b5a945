import { describe, expect, it } from 'vitest';
import { calibrate, calibrateInPlace, checkCalibration, fitIsotonic } from './calibration.js';

describe('isotonic calibration', () => {
  it('pools adjacent violators: the fitted frequencies are non-decreasing and match the data', () => {
    // p = 0.1: 1 of 4 positive; p = 0.5: 3 of 4; p = 0.6: 1 of 4 (a violation, pooled with 0.5); p = 0.9: 4 of 4
    const p = Float32Array.from([0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6, 0.9, 0.9, 0.9, 0.9, 0.3]);
    const t = [1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, -1];
    const c = fitIsotonic(p, (i) => t[i]);
    expect(c.y).toEqual([0.25, 0.5, 1]);
    expect(c.x.map((v) => +v.toFixed(3))).toEqual([0.1, 0.55, 0.9]);
    expect(calibrate(c, 0)).toBe(0.25);
    expect(calibrate(c, 1)).toBe(1);
    expect(calibrate(c, 0.55)).toBeCloseTo(0.5, 5);
    expect(calibrate(c, 0.325)).toBeCloseTo(0.375, 4); // halfway between the first two knots
    const q = Float32Array.from([0.05, 0.7, 0.95]);
    calibrateInPlace(c, q);
    expect(Array.from(q).every((v, i, a) => i === 0 || v >= a[i - 1])).toBe(true);
  });

  it('refuses malformed knots with a message naming the field', () => {
    expect(() => checkCalibration({ x: [0.1, 0.5], y: [0.5, 0.2] }, 'meta.calibration.channels[1]')).toThrow(/meta.calibration.channels\[1\] knot 1 .* is not increasing/);
    expect(() => checkCalibration({ x: [0.1], y: [] }, 'c')).toThrow(/c must hold knots/);
    expect(() => fitIsotonic(Float32Array.of(0.2), () => -1)).toThrow(/no labelled voxels/);
  });
});
