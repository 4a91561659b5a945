import { UsageError } from '../../core/errors.js';

/**
 * Landmark coregistration between two 3-D spaces (e.g. EM in nm and a 2-photon stack in µm):
 * an affine fit by least squares, optionally followed by a 3-D thin-plate spline on its
 * residuals (kernel φ(r) = r, the biharmonic kernel in 3-D, with a smoothing term λ).
 *
 *   target ≈ A · source + t                      (affine, 12 parameters, ≥ 4 landmarks)
 *   target ≈ A · source + t + Σ_i w_i φ(|source - s_i|)   (thin-plate spline)
 *
 * The spline is fitted to what the affine leaves, so with λ large it tends to the affine.
 * Leave-one-out residuals (fit without landmark i, map landmark i) say how well the
 * transform predicts a point it was not fitted on; they are the number to report.
 */

export type Point3 = [number, number, number];

export interface Landmark {
  source: Point3;
  target: Point3;
  name?: string;
}

export interface AffineTransform {
  kind: 'affine';
  /** Row-major 3x4 [A | t]: target = A·source + t. */
  matrix: number[][];
}

export interface SplineTransform {
  kind: 'tps';
  affine: AffineTransform;
  /** Control points (source space) and their weights (one 3-vector each). */
  centers: Point3[];
  weights: Point3[];
  /** Smoothing used in the fit. */
  lambda: number;
}

export type Transform = AffineTransform | SplineTransform;

/** Defaults of a fit; the CLI help reads them. */
export const COREGISTER_DEFAULTS = {
  kind: 'tps' as 'affine' | 'tps',
  /** Smoothing of the spline, in target units squared per unit of kernel (0 = interpolate exactly). */
  lambda: 0,
};

/** Solve the dense square system M x = b in place (Gaussian elimination, partial pivoting); b has k right-hand sides. */
export function solve(M: Float64Array, n: number, b: Float64Array, k: number): Float64Array {
  const a = Float64Array.from(M);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    let best = Math.abs(a[c * n + c]);
    for (let r = c + 1; r < n; r++) {
      const v = Math.abs(a[r * n + c]);
      if (v > best) {
        best = v;
        p = r;
      }
    }
    if (!(best > 1e-12)) throw new UsageError('the landmarks do not determine the transform (degenerate: too few, or all on one plane or line)');
    if (p !== c) {
      for (let j = 0; j < n; j++) [a[c * n + j], a[p * n + j]] = [a[p * n + j], a[c * n + j]];
      for (let j = 0; j < k; j++) [x[c * k + j], x[p * k + j]] = [x[p * k + j], x[c * k + j]];
    }
    const d = a[c * n + c];
    for (let r = c + 1; r < n; r++) {
      const f = a[r * n + c] / d;
      if (f === 0) continue;
      for (let j = c; j < n; j++) a[r * n + j] -= f * a[c * n + j];
      for (let j = 0; j < k; j++) x[r * k + j] -= f * x[c * k + j];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    for (let j = 0; j < k; j++) {
      let s = x[c * k + j];
      for (let q = c + 1; q < n; q++) s -= a[c * n + q] * x[q * k + j];
      x[c * k + j] = s / a[c * n + c];
    }
  }
  return x;
}

function checkLandmarks(lms: Landmark[], min: number, what: string): void {
  if (lms.length < min) throw new UsageError(`${what} needs at least ${min} landmark pairs, got ${lms.length}`);
  lms.forEach((l, i) => {
    for (const v of [...l.source, ...l.target]) if (!Number.isFinite(v)) throw new UsageError(`landmark ${l.name ?? i + 1}: coordinates must be finite numbers`);
  });
}

/**
 * Least-squares affine fit. Coordinates are centred and scaled first so that nm and µm
 * inputs condition the normal equations alike.
 */
export function fitAffine(lms: Landmark[]): AffineTransform {
  checkLandmarks(lms, 4, 'an affine fit');
  const n = lms.length;
  const mean = [0, 1, 2].map((a) => lms.reduce((s, l) => s + l.source[a], 0) / n);
  let scale = 0;
  for (const l of lms) for (let a = 0; a < 3; a++) scale += (l.source[a] - mean[a]) ** 2;
  scale = Math.sqrt(scale / n) || 1;
  const N = new Float64Array(16);
  const B = new Float64Array(12);
  for (const l of lms) {
    const h = [(l.source[0] - mean[0]) / scale, (l.source[1] - mean[1]) / scale, (l.source[2] - mean[2]) / scale, 1];
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) N[r * 4 + c] += h[r] * h[c];
      for (let a = 0; a < 3; a++) B[r * 3 + a] += h[r] * l.target[a];
    }
  }
  const X = solve(N, 4, B, 3); // rows: coefficient of x', y', z', 1; columns: target axis
  const matrix = [0, 1, 2].map((a) => {
    const A = [X[0 * 3 + a] / scale, X[1 * 3 + a] / scale, X[2 * 3 + a] / scale];
    const t = X[3 * 3 + a] - A[0] * mean[0] - A[1] * mean[1] - A[2] * mean[2];
    return [A[0], A[1], A[2], t];
  });
  return { kind: 'affine', matrix };
}

export function applyAffine(t: AffineTransform, p: Point3): Point3 {
  const m = t.matrix;
  return [0, 1, 2].map((a) => m[a][0] * p[0] + m[a][1] * p[1] + m[a][2] * p[2] + m[a][3]) as Point3;
}

const dist = (a: Point3, b: Point3) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/**
 * Thin-plate spline on the affine's residuals: solves [K + λI, P; Pᵀ, 0][w; c] = [r; 0]
 * with K_ij = |s_i - s_j| and P_i = [1, s_i] (the affine part c absorbs any affine left).
 */
export function fitSpline(lms: Landmark[], lambda = COREGISTER_DEFAULTS.lambda): SplineTransform {
  checkLandmarks(lms, 5, 'a thin-plate spline');
  if (!(lambda >= 0)) throw new UsageError(`lambda ${lambda} must be >= 0`);
  const affine = fitAffine(lms);
  const n = lms.length;
  const m = n + 4;
  // centre/scale the source for the polynomial block (the kernel is translation-invariant)
  const mean = [0, 1, 2].map((a) => lms.reduce((s, l) => s + l.source[a], 0) / n);
  let scale = 0;
  for (const l of lms) for (let a = 0; a < 3; a++) scale += (l.source[a] - mean[a]) ** 2;
  scale = Math.sqrt(scale / n) || 1;
  const M = new Float64Array(m * m);
  const R = new Float64Array(m * 3);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) M[i * m + j] = dist(lms[i].source, lms[j].source) / scale;
    M[i * m + i] += lambda;
    const h = [1, ...[0, 1, 2].map((a) => (lms[i].source[a] - mean[a]) / scale)];
    for (let q = 0; q < 4; q++) {
      M[i * m + n + q] = h[q];
      M[(n + q) * m + i] = h[q];
    }
    const pa = applyAffine(affine, lms[i].source);
    for (let a = 0; a < 3; a++) R[i * 3 + a] = lms[i].target[a] - pa[a];
  }
  const X = solve(M, m, R, 3);
  const weights: Point3[] = [];
  for (let i = 0; i < n; i++) weights.push([X[i * 3] / scale, X[i * 3 + 1] / scale, X[i * 3 + 2] / scale]);
  // fold the spline's polynomial part into the affine
  const c = [0, 1, 2, 3].map((q) => [X[(n + q) * 3], X[(n + q) * 3 + 1], X[(n + q) * 3 + 2]]);
  const matrix = affine.matrix.map((row, a) => {
    const A = [row[0] + c[1][a] / scale, row[1] + c[2][a] / scale, row[2] + c[3][a] / scale];
    const t = row[3] + c[0][a] - (c[1][a] * mean[0] + c[2][a] * mean[1] + c[3][a] * mean[2]) / scale;
    return [A[0], A[1], A[2], t];
  });
  return { kind: 'tps', affine: { kind: 'affine', matrix }, centers: lms.map((l) => [...l.source] as Point3), weights, lambda };
}

export function applyTransform(t: Transform, p: Point3): Point3 {
  if (t.kind === 'affine') return applyAffine(t, p);
  const out = applyAffine(t.affine, p);
  for (let i = 0; i < t.centers.length; i++) {
    const r = dist(p, t.centers[i]);
    for (let a = 0; a < 3; a++) out[a] += t.weights[i][a] * r;
  }
  return out;
}

export function fitTransform(lms: Landmark[], kind: 'affine' | 'tps' = COREGISTER_DEFAULTS.kind, lambda = COREGISTER_DEFAULTS.lambda): Transform {
  return kind === 'affine' ? fitAffine(lms) : fitSpline(lms, lambda);
}

export interface Residual {
  name: string;
  /** Distance (target units) between the mapped source and the target, fitted on all landmarks. */
  fit: number;
  /** The same, fitted without this landmark (leave-one-out). */
  loo: number;
}

export interface CoregistrationReport {
  kind: 'affine' | 'tps';
  landmarks: number;
  transform: Transform;
  residuals: Residual[];
  fit_rms: number;
  loo_median: number;
  loo_p95: number;
  loo_max: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Fit on all landmarks and report fit and leave-one-out residuals per landmark. */
export function coregister(lms: Landmark[], kind: 'affine' | 'tps' = COREGISTER_DEFAULTS.kind, lambda = COREGISTER_DEFAULTS.lambda): CoregistrationReport {
  const transform = fitTransform(lms, kind, lambda);
  const residuals: Residual[] = lms.map((l, i) => {
    const rest = lms.filter((_, j) => j !== i);
    const t = fitTransform(rest, kind, lambda);
    return { name: l.name ?? String(i + 1), fit: dist(applyTransform(transform, l.source), l.target), loo: dist(applyTransform(t, l.source), l.target) };
  });
  const loo = residuals.map((r) => r.loo).sort((a, b) => a - b);
  return {
    kind,
    landmarks: lms.length,
    transform,
    residuals,
    fit_rms: Math.sqrt(residuals.reduce((s, r) => s + r.fit * r.fit, 0) / residuals.length),
    loo_median: quantile(loo, 0.5),
    loo_p95: quantile(loo, 0.95),
    loo_max: loo[loo.length - 1],
  };
}

/** Check that a parsed JSON value is a transform written by this module. */
export function parseTransform(v: unknown, file: string): Transform {
  const bad = (why: string) => new UsageError(`${file}: not a coregistration transform (${why})`);
  const isMatrix = (m: unknown) => Array.isArray(m) && m.length === 3 && m.every((r) => Array.isArray(r) && r.length === 4 && r.every((x) => Number.isFinite(x)));
  const o = v as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw bad('expected an object');
  if (o.kind === 'affine') {
    if (!isMatrix(o.matrix)) throw bad('matrix must be 3 rows of 4 numbers');
    return o as unknown as AffineTransform;
  }
  if (o.kind === 'tps') {
    const a = o.affine as Record<string, unknown>;
    if (!a || !isMatrix(a.matrix)) throw bad('affine.matrix must be 3 rows of 4 numbers');
    const pts = (p: unknown) => Array.isArray(p) && p.every((q) => Array.isArray(q) && q.length === 3 && q.every((x) => Number.isFinite(x)));
    if (!pts(o.centers) || !pts(o.weights) || (o.centers as unknown[]).length !== (o.weights as unknown[]).length) throw bad('centers and weights must be equal-length lists of 3 numbers');
    return o as unknown as SplineTransform;
  }
  throw bad(`kind ${JSON.stringify(o.kind)}; expected "affine" or "tps"`);
}
