/**
 * 2-D affine maps [a, b, c, d, e, f]: x' = a x + b y + c, y' = d x + e y + f. Compose, invert,
 * apply, and least-squares fits of a full affine, a similarity (rotation + uniform scale +
 * translation) or a rigid map (rotation + translation, Procrustes/Kabsch) to point pairs.
 */
import { WiringError } from '../../core/errors.js';

export type Affine = [number, number, number, number, number, number];
/** The models a fit can use, fewest degrees of freedom first. */
export const AFFINE_MODELS = ['translation', 'rigid', 'similarity', 'affine'] as const;
export type AffineModel = (typeof AFFINE_MODELS)[number];

export const IDENTITY: Affine = [1, 0, 0, 0, 1, 0];

export function translation(tx: number, ty: number): Affine {
  return [1, 0, tx, 0, 1, ty];
}

/**
 * The map p -> centre + s R(th) (p - centre) + t (th in radians): a rotation and uniform scaling
 * about (cx, cy), then the shift (tx, ty).
 */
export function similarityAbout(th: number, s: number, cx: number, cy: number, tx = 0, ty = 0): Affine {
  const a = s * Math.cos(th);
  const b = -s * Math.sin(th);
  const c = s * Math.sin(th);
  const d = s * Math.cos(th);
  return [a, b, cx + tx - a * cx - b * cy, c, d, cy + ty - c * cx - d * cy];
}

export function apply(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/** (p o q)(x) = p(q(x)). */
export function compose(p: Affine, q: Affine): Affine {
  return [
    p[0] * q[0] + p[1] * q[3],
    p[0] * q[1] + p[1] * q[4],
    p[0] * q[2] + p[1] * q[5] + p[2],
    p[3] * q[0] + p[4] * q[3],
    p[3] * q[1] + p[4] * q[4],
    p[3] * q[2] + p[4] * q[5] + p[5],
  ];
}

export function invert(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  if (!(Math.abs(det) > 1e-12)) throw new WiringError(`affine [${m}] is singular`);
  const a = m[4] / det;
  const b = -m[1] / det;
  const d = -m[3] / det;
  const e = m[0] / det;
  return [a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])];
}

/** Point pairs: source (x, y) maps to target (u, v). */
export interface Pairs {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  u: ArrayLike<number>;
  v: ArrayLike<number>;
}

/** Minimum number of pairs each model needs. */
export function minPairs(model: AffineModel): number {
  return model === 'translation' ? 1 : model === 'affine' ? 3 : 2;
}

/** Least-squares fit of `model` to the pairs listed in idx (all when omitted); null when degenerate. */
export function fitAffine(p: Pairs, model: AffineModel, idx?: ArrayLike<number>): Affine | null {
  const ids = idx ?? Array.from({ length: p.x.length }, (_, i) => i);
  const n = ids.length;
  if (n < minPairs(model)) return null;
  let mx = 0;
  let my = 0;
  let mu = 0;
  let mv = 0;
  for (let k = 0; k < n; k++) {
    const i = ids[k];
    mx += p.x[i];
    my += p.y[i];
    mu += p.u[i];
    mv += p.v[i];
  }
  mx /= n;
  my /= n;
  mu /= n;
  mv /= n;
  if (model === 'translation') return translation(mu - mx, mv - my);
  // centred second moments
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  let sux = 0;
  let suy = 0;
  let svx = 0;
  let svy = 0;
  for (let k = 0; k < n; k++) {
    const i = ids[k];
    const x = p.x[i] - mx;
    const y = p.y[i] - my;
    const u = p.u[i] - mu;
    const v = p.v[i] - mv;
    sxx += x * x;
    sxy += x * y;
    syy += y * y;
    sux += u * x;
    suy += u * y;
    svx += v * x;
    svy += v * y;
  }
  let a: number;
  let b: number;
  let d: number;
  let e: number;
  if (model === 'affine') {
    const det = sxx * syy - sxy * sxy;
    if (!(Math.abs(det) > 1e-9 * Math.max(1, sxx * syy))) return null;
    a = (sux * syy - suy * sxy) / det;
    b = (suy * sxx - sux * sxy) / det;
    d = (svx * syy - svy * sxy) / det;
    e = (svy * sxx - svx * sxy) / det;
  } else {
    // rotation angle maximising sum target . R source
    const cosTerm = sux + svy;
    const sinTerm = svx - suy;
    const norm = Math.hypot(cosTerm, sinTerm);
    if (!(norm > 1e-12) || !(sxx + syy > 1e-12)) return null;
    const c = cosTerm / norm;
    const s = sinTerm / norm;
    const scale = model === 'similarity' ? norm / (sxx + syy) : 1;
    a = scale * c;
    b = -scale * s;
    d = scale * s;
    e = scale * c;
  }
  return [a, b, mu - a * mx - b * my, d, e, mv - d * mx - e * my];
}

/** Distance between m(x_i, y_i) and (u_i, v_i). */
export function residual(m: Affine, p: Pairs, i: number): number {
  const [u, v] = apply(m, p.x[i], p.y[i]);
  return Math.hypot(u - p.u[i], v - p.v[i]);
}
