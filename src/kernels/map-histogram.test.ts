import { describe, expect, it } from 'vitest';
import { CUT_FOLLOW_RULES, MAP_HISTOGRAM_BINS, followCut, histogramCdf, histogramModes, histogramOtsu, histogramQuantile, mapHistogram } from './map-histogram.js';

/** A two-mode map: `nLow` values spread evenly over [lo0, lo1] and `nHigh` over [hi0, hi1], plus `shift`. */
function twoModes(nLow: number, lo: [number, number], nHigh: number, hi: [number, number], shift = 0): Float32Array {
  const out = new Float32Array(nLow + nHigh);
  for (let i = 0; i < nLow; i++) out[i] = lo[0] + ((lo[1] - lo[0]) * (i + 0.5)) / nLow + shift;
  for (let i = 0; i < nHigh; i++) out[nLow + i] = hi[0] + ((hi[1] - hi[0]) * (i + 0.5)) / nHigh + shift;
  return out;
}

describe('map histograms', () => {
  it('counts values into equal bins over [0, 1], clamping the ends and skipping NaN', () => {
    const h = mapHistogram([0, 0.004, 0.005, 0.5, 1, 1.5, -1, Number.NaN]);
    expect(h).toHaveLength(MAP_HISTOGRAM_BINS);
    expect(h[0]).toBe(3); // 0, 0.004, -1
    expect(h[1]).toBe(1);
    expect(h[100]).toBe(1);
    expect(h[199]).toBe(2);
    expect(h.reduce((a, b) => a + b, 0)).toBe(7);
  });

  it('quantile and CDF interpolate within bins and invert each other', () => {
    const h = mapHistogram(twoModes(10000, [0, 1], 0, [0, 0]));
    expect(histogramQuantile(h, 0.25)).toBeCloseTo(0.25, 3);
    expect(histogramCdf(h, 0.6)).toBeCloseTo(0.6, 3);
    // restricted to [0.5, 1]: the lower quarter of that part ends at 0.625
    expect(histogramQuantile(h, 0.25, 0.5, 1)).toBeCloseTo(0.625, 3);
    expect(histogramCdf(h, 0.625, 0.5, 1)).toBeCloseTo(0.25, 3);
  });

  it('finds the Otsu split between two modes and their medians and peaks', () => {
    // interior mode 0.05-0.25 (median 0.15), boundary mode 0.7-0.9 (median 0.8), 3:1
    const h = mapHistogram(twoModes(30000, [0.05, 0.25], 10000, [0.7, 0.9]));
    const m = histogramModes(h);
    expect(m.otsu).toBeGreaterThan(0.25);
    expect(m.otsu).toBeLessThan(0.7);
    expect(m.lowMedian).toBeCloseTo(0.15, 2);
    expect(m.highMedian).toBeCloseTo(0.8, 2);
    expect(m.lowPeak).toBeGreaterThan(0.05);
    expect(m.lowPeak).toBeLessThan(0.25);
    expect(m.highPeak).toBeGreaterThan(0.7);
    expect(m.highPeak).toBeLessThan(0.9);
    expect(histogramOtsu(h)).toBe(m.otsu);
    // the empty gap 0.25-0.7 is one plateau of equal splits: its middle
    expect(m.otsu).toBeCloseTo(0.475, 3);
  });
});

describe('followCut', () => {
  const train = mapHistogram(twoModes(30000, [0.05, 0.25], 10000, [0.6, 0.9]));

  it('absolute keeps the cut; every rule gives the same cut back on the same map', () => {
    expect(followCut('absolute', 0.72, train, mapHistogram(twoModes(100, [0.4, 0.5], 100, [0.9, 0.95])))).toBe(0.72);
    for (const r of CUT_FOLLOW_RULES) expect(followCut(r, 0.75, train, train)).toBeCloseTo(0.75, 2);
  });

  it('a map shifted by a constant gives the cut shifted by it (relative rules)', () => {
    const shifted = mapHistogram(twoModes(30000, [0.05, 0.25], 10000, [0.6, 0.9], 0.06));
    for (const r of ['otsu-offset', 'mode-position', 'peak-position', 'side-quantile', 'map-quantile'] as const) {
      expect(followCut(r, 0.75, train, shifted), r).toBeCloseTo(0.81, 2);
    }
  });

  it('a boundary mode stretched away from the interior moves the mode-relative cut with it', () => {
    // boundary mode 0.6-0.9 -> 0.7-0.98 (median 0.75 -> 0.84), interior unchanged: the cut at the boundary
    // median follows it; otsu-offset moves by the split's move only
    const stretched = mapHistogram(twoModes(30000, [0.05, 0.25], 10000, [0.7, 0.98]));
    expect(followCut('side-quantile', 0.75, train, stretched)).toBeCloseTo(0.84, 2);
    const mp = followCut('mode-position', 0.75, train, stretched);
    expect(mp).toBeGreaterThan(0.8);
    expect(mp).toBeLessThan(0.86);
  });

  it('a different membrane fraction leaves the mode-relative cuts in place but moves the map quantile', () => {
    // same two modes, boundary mass 1/4 -> 1/2
    const more = mapHistogram(twoModes(20000, [0.05, 0.25], 20000, [0.6, 0.9]));
    expect(followCut('side-quantile', 0.75, train, more)).toBeCloseTo(0.75, 2);
    expect(followCut('mode-position', 0.75, train, more)).toBeCloseTo(0.75, 2);
    expect(followCut('map-quantile', 0.75, train, more)).toBeGreaterThan(0.8);
  });
});
