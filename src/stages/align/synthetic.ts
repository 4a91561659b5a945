/**
 * Ground truth for alignment: real (aligned) sections warped by known per-section maps, plus a
 * missing section and a fold. Each section z gets G_z, the map from its warped pixel q back to
 * the original pixel p = G_z(q): an affine (shift, rotation and scale about the centre) plus a
 * smooth elastic field (Gaussian bumps) plus, for the fold section, a step of `fold` px across
 * a line (the strip under the fold is hidden, a dark band drawn where it folds). Section 0 is
 * left as it is (the reference frame). A recovered pull-back T_z is then scored by
 * |G_z(T_z(p)) - p| at points p of the original frame.
 */
import { mulberry32 } from '../../core/random.js';
import { type Affine, apply, similarityAbout } from './affine.js';
import { type Image2D, bilinear, image, stats } from './image.js';

export interface WarpSpec {
  /** Largest shift, px. */
  shift: number;
  /** Largest rotation, degrees. */
  rotation: number;
  /** Largest relative scale change (0.02 = 2%). */
  scale: number;
  /** Largest elastic displacement, px (0: rigid/affine only). */
  elastic: number;
  /** Index of the section drawn blank (-1: none). */
  missing: number;
  /** Index of the section with a fold (-1: none) and its step, px. */
  foldSection: number;
  fold: number;
  seed: number;
}

export interface SectionWarp {
  affine: Affine;
  bumps: Array<{ cx: number; cy: number; s: number; ax: number; ay: number }>;
  /** Fold line y (warped frame) and step, or null. */
  fold: { y: number; step: number } | null;
}

export interface Synthetic {
  sections: Image2D[];
  warps: SectionWarp[];
  spec: WarpSpec;
  /** Every section drawn blank, when there are several (stress.ts); else spec.missing alone. */
  missingSections?: number[];
}

/** Is section z drawn blank? */
export function isMissing(syn: Synthetic, z: number): boolean {
  return z === syn.spec.missing || (syn.missingSections?.includes(z) ?? false);
}

/** p = G(q): warped pixel -> original pixel. */
export function mapBack(g: SectionWarp, qx: number, qy: number): [number, number] {
  let [x, y] = apply(g.affine, qx, qy);
  for (const b of g.bumps) {
    const e = Math.exp(-((qx - b.cx) ** 2 + (qy - b.cy) ** 2) / (2 * b.s * b.s));
    x += b.ax * e;
    y += b.ay * e;
  }
  if (g.fold && qy >= g.fold.y) y += g.fold.step;
  return [x, y];
}

/** Is original point p hidden by the fold (or within `margin` px of its band)? */
export function inFold(g: SectionWarp, p: [number, number], margin: number): boolean {
  if (!g.fold) return false;
  // The fold line in the original frame lies near G(q) at q.y = fold.y; the hidden strip is [y, y + step).
  const [, y0] = mapBack({ ...g, fold: null }, p[0], g.fold.y);
  return p[1] >= y0 - margin && p[1] < y0 + g.fold.step + margin;
}

export function makeSynthetic(orig: Image2D[], spec: WarpSpec): Synthetic {
  const r = mulberry32(spec.seed);
  const u = () => 2 * r() - 1;
  const warps: SectionWarp[] = [];
  const sections: Image2D[] = [];
  orig.forEach((im, z) => {
    const { w, h } = im;
    const cx = (w - 1) / 2;
    const cy = (h - 1) / 2;
    let g: SectionWarp = { affine: [1, 0, 0, 0, 1, 0], bumps: [], fold: null };
    if (z > 0) {
      const th = (u() * spec.rotation * Math.PI) / 180;
      const s = 1 + u() * spec.scale;
      const tx = u() * spec.shift;
      const ty = u() * spec.shift;
      const affine = similarityAbout(th, s, cx, cy, tx, ty);
      const bumps = spec.elastic > 0
        ? Array.from({ length: 4 }, () => ({ cx: r() * w, cy: r() * h, s: (0.15 + 0.15 * r()) * Math.min(w, h), ax: u() * spec.elastic, ay: u() * spec.elastic }))
        : [];
      const fold = z === spec.foldSection ? { y: Math.round(h * (0.35 + 0.3 * r())), step: spec.fold } : null;
      g = { affine, bumps, fold };
    }
    warps.push(g);
    const mean = stats(im.data).mean;
    const out = image(w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v: number;
        if (z === spec.missing) v = 0;
        else if (g.fold && y >= g.fold.y - Math.ceil(g.fold.step / 4) && y < g.fold.y) v = 0.3 * mean; // dark fold band
        else {
          const [px, py] = mapBack(g, x, y);
          v = bilinear(im, px, py);
          if (v !== v) v = mean;
        }
        out.data[x + w * y] = v;
      }
    }
    sections.push(out);
  });
  return { sections, warps, spec };
}

/**
 * Residuals |G_z(T_z(p)) - p| px over a grid of original points (step px, `border` px from the
 * edges), for every section except 0 and the missing one, points hidden by a fold excluded.
 */
export function residuals(syn: Synthetic, pull: (z: number, x: number, y: number) => [number, number], step = 16, border = 32): { perSection: number[][]; all: number[] } {
  const perSection: number[][] = [];
  const all: number[] = [];
  syn.sections.forEach((im, z) => {
    const out: number[] = [];
    if (z > 0 && !isMissing(syn, z)) {
      const g = syn.warps[z];
      for (let y = border; y < im.h - border; y += step) {
        for (let x = border; x < im.w - border; x += step) {
          if (inFold(g, [x, y], 4 + 2 * syn.spec.elastic)) continue;
          const [qx, qy] = pull(z, x, y);
          const [px, py] = mapBack(g, qx, qy);
          out.push(Math.hypot(px - x, py - y));
        }
      }
    }
    perSection.push(out);
    all.push(...out);
  });
  return { perSection, all };
}

export function quantile(values: number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return NaN;
  const pos = q * (v.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(v.length - 1, lo + 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}
