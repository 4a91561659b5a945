/**
 * Ground truth for the failures a user meets first on a real misaligned stack (the stress
 * bench, bench/align-stress.bench.ts, and stress.test.ts): real aligned sections given, one
 * hard case at a time, known per-section maps much larger than synthetic.ts's (sections placed
 * tens of px off, rotated 5-20°, scaled 3-8 %) or image defects on top of a small jitter
 * (contrast/brightness steps, uneven illumination within a section, partial sections whose unimaged part is exactly zero, dark dirt
 * blobs, several missing sections in a row). Section 0 is left as it is (the frame). The result
 * is a `Synthetic` (scored like synthetic.ts's: |G_z(T_z(p)) - p|), with every missing section
 * listed in `missingSections`.
 */
import { mulberry32 } from '../../core/random.js';
import { similarityAbout } from './affine.js';
import { type Image2D, bilinear, image, stats } from './image.js';
import { type SectionWarp, type Synthetic, type WarpSpec, mapBack } from './synthetic.js';

export const STRESS_CASES = ['shift', 'rotation', 'scale', 'contrast', 'illumination', 'partial', 'debris', 'missing-run'] as const;
export type StressCase = (typeof STRESS_CASES)[number];

export interface StressSpec {
  /** Shift length range, px (random direction). */
  shift: [number, number];
  /** Rotation magnitude range, degrees (random sign). */
  rotation: [number, number];
  /** Relative scale change magnitude range (random sign). */
  scale: [number, number];
  /** Contrast: gain range (log-uniform) and largest brightness offset, grey levels (clipped to 0-255). */
  gain?: [number, number];
  offset?: number;
  /**
   * Uneven illumination within a section (each section z > 0 its own field): the grey value v becomes
   * g(x, y) v + o(x, y), clipped to 0-255, with g = (1 + gain p(x, y)) (1 - vignette r^2) and o = offset q(x, y);
   * p, q are random quadratic polynomials in the field's normalised coordinates scaled to span [-1, 1]
   * over the field (so g spans 1 - gain .. 1 + gain before the vignette), r the distance from a random
   * centre within the middle third, 1 at the farthest corner; vignette drawn from its range.
   */
  illumination?: { gain: number; vignette: [number, number]; offset: number };
  /** Partial sections: every other section (odd z) keeps only this fraction range of its field (a half-plane), the rest exactly zero. */
  coverage?: [number, number];
  /** Dirt: this many dark blobs per section (z > 0), radius range px. */
  debris?: { count: number; radius: [number, number] };
  /** Sections drawn blank. */
  missing: number[];
  seed: number;
}

/** The small misalignment every defect case carries (so there is something to recover), px and degrees. */
const JITTER = { shift: [2, 6] as [number, number], rotation: [0.2, 1] as [number, number], scale: [0.002, 0.01] as [number, number] };

/** Each case's spec (magnitudes from real ssTEM stacks: docs/ALIGNMENT.md, Large misalignments). */
export const STRESS_SPECS: Record<StressCase, StressSpec> = {
  shift: { shift: [20, 100], rotation: [0, 0], scale: [0, 0], missing: [], seed: 21 },
  rotation: { shift: [0, 0], rotation: [5, 20], scale: [0, 0], missing: [], seed: 22 },
  scale: { shift: [0, 0], rotation: [0, 0], scale: [0.03, 0.08], missing: [], seed: 23 },
  contrast: { ...JITTER, gain: [0.5, 1.6], offset: 40, missing: [], seed: 24 },
  // gain 0.5-1.5 across the field, times a vignette of up to 30 % at the farthest corner, plus an offset of up to +-30 grey levels
  illumination: { ...JITTER, illumination: { gain: 0.5, vignette: [0.1, 0.3], offset: 30 }, missing: [], seed: 28 },
  partial: { ...JITTER, coverage: [0.35, 0.7], missing: [], seed: 25 },
  debris: { ...JITTER, debris: { count: 3, radius: [10, 40] }, missing: [], seed: 26 },
  'missing-run': { ...JITTER, missing: [3, 4, 5], seed: 27 },
};

/** Stress case `c` applied to `orig` (outside the warped original: its mean, as synthetic.ts). */
export function makeStress(orig: Image2D[], c: StressCase, specOverride: Partial<StressSpec> = {}): Synthetic {
  const spec: StressSpec = { ...STRESS_SPECS[c], ...specOverride };
  const r = mulberry32(spec.seed);
  const sign = () => (r() < 0.5 ? -1 : 1);
  const within = ([lo, hi]: [number, number]) => lo + (hi - lo) * r();
  const warps: SectionWarp[] = [];
  const sections: Image2D[] = [];
  const missing = new Set(spec.missing);
  orig.forEach((im, z) => {
    const { w, h } = im;
    const cx = (w - 1) / 2;
    const cy = (h - 1) / 2;
    let g: SectionWarp = { affine: [1, 0, 0, 0, 1, 0], bumps: [], fold: null };
    if (z > 0) {
      const th = (sign() * within(spec.rotation) * Math.PI) / 180;
      const s = 1 + sign() * within(spec.scale);
      const len = within(spec.shift);
      const dir = 2 * Math.PI * r();
      const tx = len * Math.cos(dir);
      const ty = len * Math.sin(dir);
      g = { affine: similarityAbout(th, s, cx, cy, tx, ty), bumps: [], fold: null };
    }
    warps.push(g);
    const mean = stats(im.data).mean;
    const out = image(w, h);
    if (!missing.has(z)) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const [px, py] = mapBack(g, x, y);
          const v = bilinear(im, px, py);
          out.data[x + w * y] = v === v ? v : mean;
        }
      }
    }
    if (z > 0 && !missing.has(z)) defects(out, z, spec, r, mean);
    sections.push(out);
  });
  // synthetic.ts's spec: its single `missing` is the first of ours (scoring reads missingSections)
  const ws: WarpSpec = { shift: spec.shift[1], rotation: spec.rotation[1], scale: spec.scale[1], elastic: 0, missing: spec.missing[0] ?? -1, foldSection: -1, fold: 0, seed: spec.seed };
  return { sections, warps, spec: ws, missingSections: [...spec.missing] };
}

/** The image defects of a case on one warped section, in place. */
function defects(out: Image2D, z: number, spec: StressSpec, r: () => number, mean: number): void {
  const { w, h, data } = out;
  const within = ([lo, hi]: [number, number]) => lo + (hi - lo) * r();
  if (spec.gain) {
    const gain = Math.exp(within([Math.log(spec.gain[0]), Math.log(spec.gain[1])]));
    const off = (2 * r() - 1) * (spec.offset ?? 0);
    for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.max(0, mean + gain * (data[i] - mean) + off));
  }
  if (spec.illumination) {
    const { gain, vignette, offset } = spec.illumination;
    const p = smoothField(w, h, r);
    const q = smoothField(w, h, r);
    const vig = within(vignette);
    const cx = (w - 1) * (1 / 3 + r() / 3);
    const cy = (h - 1) * (1 / 3 + r() / 3);
    const r2max = Math.max(cx, w - 1 - cx) ** 2 + Math.max(cy, h - 1 - cy) ** 2;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = x + w * y;
        const g = (1 + gain * p[i]) * (1 - (vig * ((x - cx) ** 2 + (y - cy) ** 2)) / r2max);
        data[i] = Math.min(255, Math.max(0, g * data[i] + offset * q[i]));
      }
    }
  }
  if (spec.debris) {
    for (let k = 0; k < spec.debris.count; k++) {
      const bx = r() * w;
      const by = r() * h;
      const rad = within(spec.debris.radius);
      const dark = 0.1 * mean;
      for (let y = Math.max(0, Math.floor(by - 2 * rad)); y < Math.min(h, by + 2 * rad); y++) {
        for (let x = Math.max(0, Math.floor(bx - 2 * rad)); x < Math.min(w, bx + 2 * rad); x++) {
          // a dark disc with a soft rim
          const t = Math.min(1, Math.max(0, (Math.hypot(x - bx, y - by) - rad) / (0.3 * rad)));
          const i = x + w * y;
          data[i] = dark + t * (data[i] - dark);
        }
      }
    }
  }
  if (spec.coverage && z % 2 === 1) {
    // keep the side of a random line through the field where the kept fraction is `coverage`
    const cov = within(spec.coverage);
    const th = 2 * Math.PI * r();
    const [nx, ny] = [Math.cos(th), Math.sin(th)];
    const proj = new Float64Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) proj[x + w * y] = nx * x + ny * y;
    const cut = [...proj].sort((a, b) => a - b)[Math.floor((1 - cov) * (w * h - 1))];
    for (let i = 0; i < data.length; i++) if (proj[i] < cut) data[i] = 0;
  }
}

/** A random quadratic polynomial over the field (normalised coordinates in [-1, 1]), scaled to span exactly [-1, 1]. */
export function smoothField(w: number, h: number, r: () => number): Float64Array {
  const c = Array.from({ length: 5 }, () => 2 * r() - 1);
  const f = new Float64Array(w * h);
  let lo = Infinity;
  let hi = -Infinity;
  for (let y = 0; y < h; y++) {
    const v = (2 * y) / Math.max(1, h - 1) - 1;
    for (let x = 0; x < w; x++) {
      const u = (2 * x) / Math.max(1, w - 1) - 1;
      const val = c[0] * u + c[1] * v + c[2] * u * v + c[3] * u * u + c[4] * v * v;
      f[x + w * y] = val;
      if (val < lo) lo = val;
      if (val > hi) hi = val;
    }
  }
  const span = hi - lo || 1;
  for (let i = 0; i < f.length; i++) f[i] = (2 * (f[i] - lo)) / span - 1;
  return f;
}
