/**
 * Rotation and scale search of a whole section at the coarse scale, for sections placed by hand
 * (rotated 5-20°, compressed 3-8 %) where the translation-only phase correlation and the patch
 * grid both fail: the candidate is warped by the start affine composed with a rotation/scaling
 * about the section centre, phase-correlated with the neighbour, and the (rotation, scale) whose
 * correlation peak is highest wins: rotations on a grid at scale 1, then scales at the best
 * rotation, then rotations again on a finer grid at the best scale. The translation comes with it,
 * searched over most of the section's side (the images are zero-padded to twice their size), so
 * sections placed tens to hundreds of px away are found too.
 */
import { type Affine, compose, similarityAbout, translation } from './affine.js';
import { type Image2D, halve } from './image.js';
import { phaseCorrelate } from './phase-correlation.js';
import { scaleTransform } from './transform.js';
import { warpImage } from './warp.js';

export interface SearchOptions {
  /** Largest rotation searched, degrees, and the first grid's step. */
  maxRotation: number;
  rotationStep: number;
  /** Largest relative scale change searched (0.1 = 10 %) and its step. */
  maxScale: number;
  scaleStep: number;
  lowpass: number;
  whiten: number;
}

export interface SearchResult {
  /** Full-resolution affine: start o rotation/scale about the centre o translation. */
  affine: Affine;
  rotationDeg: number;
  scale: number;
  /** Correlation peak of the best candidate, and of the start (rotation 0, scale 1). */
  peak: number;
  peak0: number;
  ratio: number;
}

/** The map p -> centre + s R(theta) (p - centre), full resolution. */
export function rotationScaleAbout(deg: number, s: number, cx: number, cy: number): Affine {
  return similarityAbout((deg * Math.PI) / 180, s, cx, cy);
}

/**
 * The image, minus its mean and tapered by a Hann window over its own extent (NaN = 0), in the
 * centre of an n x n frame of zeros: correlated with another such frame, shifts up to about half
 * the frame do not wrap around (n at least twice the image), so sections placed far apart are found.
 */
export function padded(im: Image2D, n: number): Float32Array {
  const out = new Float32Array(n * n);
  let s = 0;
  let c = 0;
  for (let i = 0; i < im.data.length; i++) {
    const v = im.data[i];
    if (v === v) {
      s += v;
      c++;
    }
  }
  const mean = c ? s / c : 0;
  const ox = (n - im.w) >> 1;
  const oy = (n - im.h) >> 1;
  for (let y = 0; y < im.h; y++) {
    const wy = 0.5 - 0.5 * Math.cos((2 * Math.PI * (y + 0.5)) / im.h);
    for (let x = 0; x < im.w; x++) {
      const v = im.data[x + im.w * y];
      const wx = 0.5 - 0.5 * Math.cos((2 * Math.PI * (x + 0.5)) / im.w);
      out[ox + x + n * (oy + y)] = v === v ? (v - mean) * wx * wy : 0;
    }
  }
  return out;
}

/** Frame side for `padded`: the power of two at least twice the image's longer side. */
export function frameFor(w: number, h: number): number {
  let n = 16;
  while (n < 2 * Math.max(w, h)) n *= 2;
  return n;
}

/**
 * Search rotation and scale of `rawCoarse` (a raw section at the coarse level, pixels `sc` times
 * the full resolution of a w x h section) against `fixedCoarse` (the neighbour, aligned, same
 * level), starting from the full-resolution affine `a0`. The grids run on the coarse section
 * halved to at most 64 px (a 2° step moves its edge by about 1 px), the refinement on it halved to
 * at most 128 px; the patch rounds refine further. Null when the section is too small.
 */
export function searchRotationScale(rawCoarse: Image2D, fixedCoarse: Image2D, a0: Affine, sc: number, w: number, h: number, o: SearchOptions): SearchResult | null {
  if (Math.min(rawCoarse.w, rawCoarse.h) < 16) return null;
  const [cx, cy] = [(w - 1) / 2, (h - 1) / 2];
  // the grids on the coarse section halved to <= 64 px, the refinement on it halved to <= 128 px
  const down = (side: number) => {
    let raw = rawCoarse;
    let fixed = fixedCoarse;
    let s = sc;
    while (Math.max(raw.w, raw.h) > side && Math.min(raw.w, raw.h) >= 32) {
      raw = halve(raw);
      fixed = halve(fixed);
      s *= 2;
    }
    return { raw, fixed, s };
  };
  const levels = [down(64), down(128)].map((l) => {
    const n = frameFor(l.raw.w, l.raw.h);
    return { ...l, n, fixedCrop: padded(l.fixed, n), cache: new Map<string, { peak: number; ratio: number; a: Affine }>() };
  });
  const score = (lv: number, deg: number, s: number, upsample = 1) => {
    const l = levels[lv];
    const key = `${deg.toFixed(4)}:${s.toFixed(5)}:${upsample}`;
    const hit = l.cache.get(key);
    if (hit) return hit;
    const a = compose(a0, rotationScaleAbout(deg, s, cx, cy));
    const cand = warpImage(l.raw, scaleTransform({ z: 0, status: 'ok', affine: a }, l.s), 0, 0, l.raw.w, l.raw.h);
    // shifts up to 3/8 of the frame: the section may sit most of its side away from its neighbour
    const pc = phaseCorrelate(l.fixedCrop, padded(cand, l.n), l.n, { maxShift: (3 * l.n) / 8, lowpass: o.lowpass, whiten: o.whiten, upsample });
    const r = { peak: pc.peak, ratio: pc.ratio, a: compose(a, translation(pc.dx * l.s, pc.dy * l.s)) };
    l.cache.set(key, r);
    return r;
  };
  const grid = (lo: number, hi: number, step: number) => {
    const k = Math.max(0, Math.round((hi - lo) / step));
    return Array.from({ length: k + 1 }, (_, i) => lo + i * step);
  };
  const rotations = grid(-o.maxRotation, o.maxRotation, o.rotationStep);
  const scales = grid(1 - o.maxScale, 1 + o.maxScale, o.scaleStep);
  let deg = 0;
  let s = 1;
  let best = -Infinity;
  const consider = (lv: number, d: number, sv: number) => {
    const r = score(lv, d, sv);
    if (r.peak > best) {
      best = r.peak;
      deg = d;
      s = sv;
    }
  };
  // rotations at scale 1; scales at that rotation and at none (a large scale change hides the rotation's peak); rotations again at the best scale
  for (const d of rotations) consider(0, d, 1);
  const d1 = deg;
  for (const sv of scales) {
    consider(0, d1, sv);
    consider(0, 0, sv);
  }
  if (s !== 1) {
    const s1 = s;
    for (const d of rotations) consider(0, d, s1);
  }
  // refinement at the coarse level
  best = -Infinity;
  const [d0, s0] = [deg, s];
  for (const d of grid(d0 - o.rotationStep, d0 + o.rotationStep, o.rotationStep / 4)) consider(1, d, s0);
  const d2 = deg;
  for (const sv of grid(s0 - o.scaleStep, s0 + o.scaleStep, o.scaleStep / 4)) consider(1, d2, sv);
  const fin = score(1, deg, s, 20);
  return { affine: fin.a, rotationDeg: deg, scale: s, peak: best, peak0: score(1, 0, 1).peak, ratio: fin.ratio };
}
