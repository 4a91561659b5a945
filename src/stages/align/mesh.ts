/**
 * Spring mesh: a regular grid of nodes carrying a displacement (u, v) each. Neighbouring nodes
 * (4-neighbourhood) are joined by springs of stiffness `k` that resist any difference of their
 * displacements (a linearised spring mesh: the affine part is removed before, so rest lengths
 * are the grid spacing and rotations are small); each node is pulled towards the displacements
 * measured there against several neighbouring sections by springs of weight w. The relaxed
 * state minimises k sum |u_i - u_j|^2 + sum w |u_i - t|^2, solved by conjugate gradients.
 * Matches the relaxed mesh cannot follow (residual > maxResidual) are dropped and the mesh
 * relaxed again, so cracks and folds pull on it only until they are recognised as outliers.
 */
import { WiringError } from '../../core/errors.js';

export interface MeshGrid {
  /** Position of node (0, 0), px. */
  ox: number;
  oy: number;
  stride: number;
  nx: number;
  ny: number;
}

/** A target displacement for one node with its weight. */
export interface NodeTarget {
  node: number;
  u: number;
  v: number;
  w: number;
}

export interface RelaxOptions {
  /** Spring stiffness between neighbouring nodes relative to a match weight of 1. */
  stiffness: number;
  /** Drop targets farther than this from the relaxed mesh, px (Infinity: keep all). */
  maxResidual: number;
  /** Rounds of drop-and-relax after the first relaxation. */
  rounds: number;
}

export interface RelaxResult {
  u: Float64Array;
  v: Float64Array;
  /** Which targets were kept. */
  kept: boolean[];
  /** |mesh - target| of each target after the last relaxation, px. */
  residuals: Float64Array;
}

/** (k L + W) x with L the grid Laplacian (4-neighbourhood). */
function multiply(g: MeshGrid, k: number, diagW: Float64Array, x: Float64Array, out: Float64Array): void {
  const { nx, ny } = g;
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const n = i + nx * j;
      let s = diagW[n] * x[n];
      const xn = x[n];
      if (i > 0) s += k * (xn - x[n - 1]);
      if (i < nx - 1) s += k * (xn - x[n + 1]);
      if (j > 0) s += k * (xn - x[n - nx]);
      if (j < ny - 1) s += k * (xn - x[n + nx]);
      out[n] = s;
    }
  }
}

function conjugateGradient(g: MeshGrid, k: number, diagW: Float64Array, b: Float64Array, x: Float64Array): void {
  const N = x.length;
  const r = new Float64Array(N);
  const p = new Float64Array(N);
  const q = new Float64Array(N);
  multiply(g, k, diagW, x, q);
  let rr = 0;
  let bb = 0;
  for (let i = 0; i < N; i++) {
    r[i] = b[i] - q[i];
    p[i] = r[i];
    rr += r[i] * r[i];
    bb += b[i] * b[i];
  }
  const tol = 1e-12 * Math.max(bb, 1e-12);
  for (let it = 0; it < 4 * N + 50 && rr > tol; it++) {
    multiply(g, k, diagW, p, q);
    let pq = 0;
    for (let i = 0; i < N; i++) pq += p[i] * q[i];
    if (!(pq > 0)) break;
    const alpha = rr / pq;
    let rr2 = 0;
    for (let i = 0; i < N; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * q[i];
      rr2 += r[i] * r[i];
    }
    const beta = rr2 / rr;
    rr = rr2;
    for (let i = 0; i < N; i++) p[i] = r[i] + beta * p[i];
  }
}

/** Relax the mesh against the targets. Nodes without targets follow their neighbours. */
export function relaxMesh(g: MeshGrid, targets: NodeTarget[], o: RelaxOptions): RelaxResult {
  const N = g.nx * g.ny;
  if (!(N >= 1)) throw new WiringError(`spring mesh of ${g.nx}x${g.ny} nodes`);
  const kept = targets.map((t) => t.w > 0 && Number.isFinite(t.u) && Number.isFinite(t.v));
  const u = new Float64Array(N);
  const v = new Float64Array(N);
  const residuals = new Float64Array(targets.length);
  for (let round = 0; round <= Math.max(0, o.rounds); round++) {
    // A tiny pull to zero keeps nodes in regions with no targets at all well defined.
    const diagW = new Float64Array(N).fill(1e-6);
    const bu = new Float64Array(N);
    const bv = new Float64Array(N);
    targets.forEach((t, i) => {
      if (!kept[i]) return;
      diagW[t.node] += t.w;
      bu[t.node] += t.w * t.u;
      bv[t.node] += t.w * t.v;
    });
    conjugateGradient(g, o.stiffness, diagW, bu, u);
    conjugateGradient(g, o.stiffness, diagW, bv, v);
    let changed = false;
    let worst = 0;
    targets.forEach((t, i) => {
      residuals[i] = Math.hypot(u[t.node] - t.u, v[t.node] - t.v);
      if (kept[i]) worst = Math.max(worst, residuals[i]);
    });
    // Drop only the clearly worst at a time: an outlier also drags its neighbours' residuals up.
    const cut = Math.max(o.maxResidual, 0.5 * worst);
    targets.forEach((_t, i) => {
      if (kept[i] && residuals[i] > cut) {
        kept[i] = false;
        changed = true;
      }
    });
    if (!changed) break;
  }
  return { u, v, kept, residuals };
}

/** Bilinear interpolation of a node field at (x, y), clamped to the grid's extent. */
export function sampleField(g: MeshGrid, f: ArrayLike<number>, x: number, y: number): number {
  let fx = (x - g.ox) / g.stride;
  let fy = (y - g.oy) / g.stride;
  fx = Math.min(Math.max(fx, 0), g.nx - 1);
  fy = Math.min(Math.max(fy, 0), g.ny - 1);
  const i0 = Math.min(Math.floor(fx), Math.max(0, g.nx - 2));
  const j0 = Math.min(Math.floor(fy), Math.max(0, g.ny - 2));
  const tx = fx - i0;
  const ty = fy - j0;
  const i1 = Math.min(i0 + 1, g.nx - 1);
  const j1 = Math.min(j0 + 1, g.ny - 1);
  const a = f[i0 + g.nx * j0] + tx * (f[i1 + g.nx * j0] - f[i0 + g.nx * j0]);
  const b = f[i0 + g.nx * j1] + tx * (f[i1 + g.nx * j1] - f[i0 + g.nx * j1]);
  return a + ty * (b - a);
}
