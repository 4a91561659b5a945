/**
 * Patch matching between a fixed and a moving section: a grid of square patches, each located in
 * the moving image by phase correlation, re-cut at the found position and measured again
 * (so the window's pull towards zero shift vanishes at convergence). Patches with too little
 * contrast (blank tissue, outside the section), a low peak ratio or a jump beyond the search
 * range are marked invalid rather than dropped, so callers see where matching failed.
 */
import { type Image2D, bilinear, stats } from './image.js';
import { phaseCorrelate } from './phase-correlation.js';

export interface PatchMatch {
  /** Patch centre in the fixed image, px. */
  x: number;
  y: number;
  /** fixed(x, y) ~ moving(x + dx, y + dy). */
  dx: number;
  dy: number;
  ratio: number;
  valid: boolean;
  /** Why a patch is invalid: 'outside', 'blank', 'ratio', 'range'. */
  reason?: string;
}

export interface MatchOptions {
  /** Patch side, px (power of two). */
  patch: number;
  /** Distance between patch centres, px. */
  stride: number;
  /** Largest displacement searched, px (<= patch/4). */
  maxShift: number;
  /** Peak ratio below which a match is an outlier. */
  minRatio: number;
  /** Standard deviation below which a patch is blank, grey levels. */
  minStd: number;
  /** Phase-correlation rounds per patch (re-cut at the estimate each round). */
  rounds: number;
  /** Gaussian low-pass of the correlation, sigma px (see phaseCorrelate). */
  lowpass?: number;
  /** Whitening floor (see phaseCorrelate). */
  whiten?: number;
  /** Fraction of a patch outside the section (NaN) above which it is not matched ('outside'; 0.25 when absent). */
  maxOutside?: number;
}

/** Cut an n x n patch centred at (cx, cy) displaced by (dx, dy), bilinear; NaN outside. */
export function cutPatch(im: Image2D, cx: number, cy: number, n: number, out = new Float32Array(n * n), dx = 0, dy = 0): Float32Array {
  const x0 = cx - n / 2 + dx;
  const y0 = cy - n / 2 + dy;
  const integral = Number.isInteger(x0) && Number.isInteger(y0);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const xx = x0 + x;
      const yy = y0 + y;
      if (integral) out[x + n * y] = xx >= 0 && yy >= 0 && xx < im.w && yy < im.h ? im.data[xx + im.w * yy] : NaN;
      else out[x + n * y] = bilinear(im, xx, yy);
    }
  }
  return out;
}

function nanFraction(p: Float32Array): number {
  let k = 0;
  for (let i = 0; i < p.length; i++) if (p[i] !== p[i]) k++;
  return k / p.length;
}

/** Match one patch centred at (cx, cy) starting from the guess (gx, gy). */
export function matchPatch(fixed: Image2D, moving: Image2D, cx: number, cy: number, o: MatchOptions, gx = 0, gy = 0): PatchMatch {
  const n = o.patch;
  const a = cutPatch(fixed, cx, cy, n);
  const out: PatchMatch = { x: cx, y: cy, dx: gx, dy: gy, ratio: 0, valid: false };
  const maxOutside = o.maxOutside ?? 0.25;
  if (nanFraction(a) > maxOutside) return { ...out, reason: 'outside' };
  if (stats(a).std < o.minStd) return { ...out, reason: 'blank' };
  const b = new Float32Array(n * n);
  let dx = gx;
  let dy = gy;
  let ratio = 0;
  for (let r = 0; r < o.rounds; r++) {
    cutPatch(moving, cx, cy, n, b, dx, dy);
    if (nanFraction(b) > maxOutside) return { ...out, dx, dy, reason: 'outside' };
    if (stats(b).std < o.minStd) return { ...out, dx, dy, reason: 'blank' };
    const pc = phaseCorrelate(a, b, n, { maxShift: r === 0 ? o.maxShift : Math.min(o.maxShift, 4), lowpass: o.lowpass, whiten: o.whiten });
    if (r === 0) ratio = pc.ratio;
    dx += pc.dx;
    dy += pc.dy;
    if (Math.abs(pc.dx) < 0.02 && Math.abs(pc.dy) < 0.02) break;
  }
  const valid = ratio >= o.minRatio;
  const inRange = Math.abs(dx - gx) <= o.maxShift && Math.abs(dy - gy) <= o.maxShift;
  return { x: cx, y: cy, dx, dy, ratio, valid: valid && inRange, reason: !valid ? 'ratio' : !inRange ? 'range' : undefined };
}

/** Centres of a grid of patches of side n and spacing stride covering a w x h image (row-major, x fastest; equally spaced, so they are the nodes of a mesh). */
export function patchCentres(w: number, h: number, n: number, stride: number): Array<[number, number]> {
  const along = (len: number) => {
    if (len <= n) return [len / 2];
    const k = Math.max(1, Math.floor((len - n) / stride) + 1);
    const first = Math.round((len - n - (k - 1) * stride) / 2 + n / 2);
    return Array.from({ length: k }, (_, i) => first + i * stride);
  };
  const out: Array<[number, number]> = [];
  for (const y of along(h)) for (const x of along(w)) out.push([x, y]);
  return out;
}

/** Match a list of patch centres (guess per centre optional). */
export function matchPatches(fixed: Image2D, moving: Image2D, centres: Array<[number, number]>, o: MatchOptions, guess?: (x: number, y: number) => [number, number]): PatchMatch[] {
  return centres.map(([x, y]) => {
    const g = guess ? guess(x, y) : [0, 0];
    return matchPatch(fixed, moving, x, y, o, g[0], g[1]);
  });
}
