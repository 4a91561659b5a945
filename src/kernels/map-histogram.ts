/**
 * Histograms of probability maps (values in [0, 1]) and the rules that carry a cut chosen on one map
 * (the out-of-fold maps of a training volume) to another map (a new volume's prediction) relative to
 * a statistic of each map's histogram (issue #17, docs/ACCURACY.md "A cut that follows the map").
 *
 * A histogram is `bins` equal bins over [0, 1] (values outside are clamped into the end bins); its
 * mass is taken as spread evenly within each bin, so quantiles and CDFs interpolate linearly.
 * Histograms are plain number arrays of counts or fractions (only the shape matters: every function
 * normalises).
 */

/** Bins of the histograms the segment calibration records (0.005 wide). */
export const MAP_HISTOGRAM_BINS = 200;

/** Counts of `values` in `bins` equal bins over [0, 1] (NaN skipped), added to `into` if given. */
export function mapHistogram(values: ArrayLike<number>, bins = MAP_HISTOGRAM_BINS, into?: Float64Array): Float64Array {
  const h = into ?? new Float64Array(bins);
  if (h.length !== bins) throw new Error(`internal: histogram of ${h.length} bins, expected ${bins}`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    const k = v <= 0 ? 0 : v >= 1 ? bins - 1 : Math.min(bins - 1, Math.floor(v * bins));
    h[k]++;
  }
  return h;
}

function total(h: ArrayLike<number>, from = 0, to = h.length): number {
  let s = 0;
  for (let k = from; k < to; k++) s += h[k];
  return s;
}

/**
 * The Otsu split of a histogram: the bin edge (a value in [0, 1]) that maximises the between-class
 * variance of the values below and above it (bin centres as the values). Across empty bins (a
 * plateau of equal splits): the plateau's middle.
 */
export function histogramOtsu(h: ArrayLike<number>): number {
  const b = h.length;
  const n = total(h);
  if (!(n > 0)) throw new Error('internal: Otsu of an empty histogram');
  let sumAll = 0;
  for (let k = 0; k < b; k++) sumAll += h[k] * ((k + 0.5) / b);
  let w0 = 0, s0 = 0, best = -1, first = 0.5, last = 0.5;
  for (let k = 0; k < b - 1; k++) {
    w0 += h[k];
    s0 += h[k] * ((k + 0.5) / b);
    const w1 = n - w0;
    if (w0 <= 0 || w1 <= 0) continue;
    const d = s0 / w0 - (sumAll - s0) / w1;
    const between = w0 * w1 * d * d;
    if (between > best * (1 + 1e-12)) {
      best = between;
      first = last = (k + 1) / b;
    } else if (between >= best * (1 - 1e-12) && last === k / b) {
      last = (k + 1) / b; // the same split across empty bins: its plateau's middle
    }
  }
  return (first + last) / 2;
}

/** The fraction of the histogram's mass within [lo, hi] that lies at or below `v` (linear within bins). */
export function histogramCdf(h: ArrayLike<number>, v: number, lo = 0, hi = 1): number {
  const mass = (a: number, c: number): number => {
    // mass in [a, c]
    const b = h.length;
    let s = 0;
    for (let k = Math.max(0, Math.floor(a * b)); k < Math.min(b, Math.ceil(c * b)); k++) {
      const l = k / b, r = (k + 1) / b;
      const ov = Math.min(r, c) - Math.max(l, a);
      if (ov > 0) s += h[k] * ov * b;
    }
    return s;
  };
  const all = mass(lo, hi);
  if (!(all > 0)) return 0.5;
  return Math.min(1, Math.max(0, mass(lo, Math.min(hi, Math.max(lo, v))) / all));
}

/** The value at level `q` (0..1) of the histogram's mass within [lo, hi] (linear within bins). */
export function histogramQuantile(h: ArrayLike<number>, q: number, lo = 0, hi = 1): number {
  const b = h.length;
  const parts: Array<[number, number, number]> = []; // [left, right, mass]
  for (let k = Math.max(0, Math.floor(lo * b)); k < Math.min(b, Math.ceil(hi * b)); k++) {
    const l = Math.max(lo, k / b), r = Math.min(hi, (k + 1) / b);
    if (r > l) parts.push([l, r, h[k] * (r - l) * b]);
  }
  const all = parts.reduce((a, p) => a + p[2], 0);
  if (!(all > 0)) return (lo + hi) / 2;
  let target = Math.min(1, Math.max(0, q)) * all;
  for (const [l, r, m] of parts) {
    if (m > 0 && target <= m) return l + (r - l) * (target / m);
    target -= m;
  }
  return parts[parts.length - 1][1];
}

/** The two modes of a map's histogram: its Otsu split and, below / above it, the median and the peak (centre of the fullest bin after a [1 2 1] smoothing). */
export interface HistogramModes {
  otsu: number;
  lowMedian: number;
  highMedian: number;
  lowPeak: number;
  highPeak: number;
}

export function histogramModes(h: ArrayLike<number>): HistogramModes {
  const b = h.length;
  const otsu = histogramOtsu(h);
  const split = Math.round(otsu * b);
  const sm = Array.from({ length: b }, (_, k) => (h[Math.max(0, k - 1)] + 2 * h[k] + h[Math.min(b - 1, k + 1)]) / 4);
  const peak = (from: number, to: number): number => {
    let best = from;
    for (let k = from; k < to; k++) if (sm[k] > sm[best]) best = k;
    return (best + 0.5) / b;
  };
  return {
    otsu,
    lowMedian: histogramQuantile(h, 0.5, 0, otsu),
    highMedian: histogramQuantile(h, 0.5, otsu, 1),
    lowPeak: peak(0, split),
    highPeak: peak(split, b),
  };
}

/**
 * How a cut chosen on one map is carried to another:
 * - `absolute`: the same value;
 * - `otsu-offset`: the new map's Otsu split plus the cut's offset from the training map's;
 * - `mode-position`: the cut's position between the medians of the map below and above its Otsu split, kept;
 * - `peak-position`: the same between the two modes' peaks;
 * - `side-quantile`: the cut's level among the training map's values on its side of the Otsu split (the
 *   boundary mode above it, the interior mode below) -> the value at that level on the same side of the new map's split;
 * - `map-quantile`: the cut's level in the whole map -> the value at that level of the new map.
 */
export const CUT_FOLLOW_RULES = ['absolute', 'otsu-offset', 'mode-position', 'peak-position', 'side-quantile', 'map-quantile'] as const;
export type CutFollowRule = (typeof CUT_FOLLOW_RULES)[number];

/** The cut `rule` carries from a map with histogram `from` (where `cut` was chosen) to a map with histogram `to`; clamped to [0.01, 0.99]. */
export function followCut(rule: CutFollowRule, cut: number, from: ArrayLike<number>, to: ArrayLike<number>): number {
  const clamp = (x: number): number => Math.min(0.99, Math.max(0.01, x));
  if (rule === 'absolute') return cut;
  if (rule === 'map-quantile') return clamp(histogramQuantile(to, histogramCdf(from, cut)));
  const a = histogramModes(from), b = histogramModes(to);
  if (rule === 'otsu-offset') return clamp(b.otsu + (cut - a.otsu));
  if (rule === 'mode-position' || rule === 'peak-position') {
    const [al, ah, bl, bh] = rule === 'mode-position' ? [a.lowMedian, a.highMedian, b.lowMedian, b.highMedian] : [a.lowPeak, a.highPeak, b.lowPeak, b.highPeak];
    if (!(ah > al)) return cut;
    return clamp(bl + ((cut - al) / (ah - al)) * (bh - bl));
  }
  if (rule === 'side-quantile') {
    return cut >= a.otsu
      ? clamp(histogramQuantile(to, histogramCdf(from, cut, a.otsu, 1), b.otsu, 1))
      : clamp(histogramQuantile(to, histogramCdf(from, cut, 0, a.otsu), 0, b.otsu));
  }
  throw new Error(`internal: unknown cut rule ${String(rule)}`);
}
