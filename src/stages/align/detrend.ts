/**
 * The slow rotation drift of a stack, removed. Pairwise matching of real 50 nm sections reads a
 * steady rotation from their content (ISBI 2012 at 16 nm: -0.3 to -0.8 deg per section, the same
 * from either side of a pair, so not the estimator's asymmetry; docs/ALIGNMENT.md), and a global
 * solve accumulates it. This is a prior on that z-trend, as long-stack aligners smooth their
 * transforms in z: the rotation of each section's forward map is read, its local slope along z
 * estimated by a Gaussian-weighted linear fit over the good sections (`sigma` sections; a window
 * wider than the stack is one straight line), and the accumulated slope from the reference on is
 * taken out by a rotation about the image centre. Per-section departures from the trend (what
 * the stage or a section's own warp adds) are kept; only the slope is removed.
 */
import { type Affine, compose } from './affine.js';

/** Rotation of an affine's linear part (its closest similarity), radians. */
export function rotationOf(a: Affine): number {
  return Math.atan2(a[3] - a[1], a[0] + a[4]);
}

/** Rotation by `phi` about (cx, cy). */
export function rotationAbout(phi: number, cx: number, cy: number): Affine {
  const c = Math.cos(phi);
  const s = Math.sin(phi);
  return [c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy];
}

/**
 * Local slope of theta over z at every index (Gaussian-weighted least-squares line through the
 * `use`d indices within 3 sigma), 0 where fewer than 3 used indices are in reach.
 */
export function localSlopes(theta: ArrayLike<number>, use: ArrayLike<boolean>, sigma: number): Float64Array {
  const n = theta.length;
  const out = new Float64Array(n);
  const reach = Math.ceil(3 * sigma);
  for (let z = 0; z < n; z++) {
    let sw = 0;
    let sx = 0;
    let sy = 0;
    let k = 0;
    for (let j = Math.max(0, z - reach); j <= Math.min(n - 1, z + reach); j++) {
      if (!use[j]) continue;
      const w = Math.exp(-((j - z) ** 2) / (2 * sigma * sigma));
      sw += w;
      sx += w * j;
      sy += w * theta[j];
      k++;
    }
    if (k < 3) continue;
    const mx = sx / sw;
    const my = sy / sw;
    let sxx = 0;
    let sxy = 0;
    for (let j = Math.max(0, z - reach); j <= Math.min(n - 1, z + reach); j++) {
      if (!use[j]) continue;
      const w = Math.exp(-((j - z) ** 2) / (2 * sigma * sigma));
      sxx += w * (j - mx) ** 2;
      sxy += w * (j - mx) * (theta[j] - my);
    }
    out[z] = sxx > 0 ? sxy / sxx : 0;
  }
  return out;
}

/**
 * Forward maps (raw -> output) with the rotation trend removed: each section z is rotated about
 * the centre by minus the slope accumulated from the reference to z (the mean of the local slopes
 * at consecutive indices, summed). `use`: the sections whose rotation is measured (good sections
 * with pairs); the others are corrected as their index says. sigma <= 0: unchanged.
 */
export function detrendRotation(F: Affine[], use: ArrayLike<boolean>, reference: number, sigma: number, w: number, h: number): { F: Affine[]; correction: Float64Array } {
  const n = F.length;
  const correction = new Float64Array(n);
  if (!(sigma > 0)) return { F: F.map((f) => [...f] as Affine), correction };
  const theta = Float64Array.from(F, rotationOf);
  // unwrap (angles near +-pi)
  for (let z = 1; z < n; z++) {
    while (theta[z] - theta[z - 1] > Math.PI) theta[z] -= 2 * Math.PI;
    while (theta[z] - theta[z - 1] < -Math.PI) theta[z] += 2 * Math.PI;
  }
  const slope = localSlopes(theta, use, sigma);
  for (let z = reference + 1; z < n; z++) correction[z] = correction[z - 1] + (slope[z - 1] + slope[z]) / 2;
  for (let z = reference - 1; z >= 0; z--) correction[z] = correction[z + 1] - (slope[z + 1] + slope[z]) / 2;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  return { F: F.map((f, z) => compose(rotationAbout(-correction[z], cx, cy), f)), correction };
}
