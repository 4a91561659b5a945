/**
 * Global spring mesh (as SOFIMA relaxes its meshes against several sections): every section z
 * carries a displacement field u_z on one node grid (output frame, after the global affine).
 * A patch match between sections j and z at node n says u_z(n) - u_j(n) = d (the content of z
 * sits d further than that of j); springs inside each section resist differences between
 * neighbouring nodes (a linearised mesh: the affine part is already removed); a tiny pull to zero
 * fixes the displacement common to all sections. The energy
 *   sum w (u_z(n) - u_j(n) - d)^2 + k sum_springs (u_z(n) - u_z(m))^2 + eps sum u^2
 * is minimised for the whole stack at once by preconditioned conjugate gradients (u and v are
 * independent systems with the same matrix). Matches the relaxed meshes cannot follow (residual
 * > maxResidual, and the worst half first) are dropped and the meshes relaxed again: folds,
 * cracks and wrong matches pull only until they are recognised.
 */
import type { MeshGrid } from './mesh.js';

/** u_z(node) - u_j(node) = (u, v), weight w. j may equal -1: an absolute target for u_z(node). */
export interface LinkTarget {
  z: number;
  j: number;
  node: number;
  u: number;
  v: number;
  w: number;
}

export interface GlobalMeshOptions {
  stiffness: number;
  maxResidual: number;
  rounds: number;
}

export interface GlobalMeshResult {
  /** Per section: node displacements (row-major, x fastest). */
  u: Float64Array[];
  v: Float64Array[];
  kept: boolean[];
  residuals: Float64Array;
}

const EPS = 1e-6;

function operator(g: MeshGrid, nz: number, k: number, links: LinkTarget[], kept: boolean[], x: Float64Array, out: Float64Array): void {
  const { nx, ny } = g;
  const N = nx * ny;
  for (let z = 0; z < nz; z++) {
    const o = z * N;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const n = o + i + nx * j;
        const xn = x[n];
        let s = EPS * xn;
        if (i > 0) s += k * (xn - x[n - 1]);
        if (i < nx - 1) s += k * (xn - x[n + 1]);
        if (j > 0) s += k * (xn - x[n - nx]);
        if (j < ny - 1) s += k * (xn - x[n + nx]);
        out[n] = s;
      }
    }
  }
  links.forEach((t, l) => {
    if (!kept[l]) return;
    const a = t.z * N + t.node;
    if (t.j < 0) {
      out[a] += t.w * x[a];
      return;
    }
    const b = t.j * N + t.node;
    const d = t.w * (x[a] - x[b]);
    out[a] += d;
    out[b] -= d;
  });
}

function pcg(apply: (x: Float64Array, out: Float64Array) => void, diag: Float64Array, b: Float64Array, x: Float64Array, maxIter: number): void {
  const n = x.length;
  const r = new Float64Array(n);
  const zv = new Float64Array(n);
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  apply(x, q);
  let bb = 0;
  for (let i = 0; i < n; i++) {
    r[i] = b[i] - q[i];
    zv[i] = r[i] / diag[i];
    p[i] = zv[i];
    bb += b[i] * b[i];
  }
  let rz = 0;
  for (let i = 0; i < n; i++) rz += r[i] * zv[i];
  const tol = 1e-14 * Math.max(bb, 1e-12);
  for (let it = 0; it < maxIter; it++) {
    let rr = 0;
    for (let i = 0; i < n; i++) rr += r[i] * r[i];
    if (rr <= tol) break;
    apply(p, q);
    let pq = 0;
    for (let i = 0; i < n; i++) pq += p[i] * q[i];
    if (!(pq > 0)) break;
    const alpha = rz / pq;
    for (let i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * q[i];
      zv[i] = r[i] / diag[i];
    }
    let rz2 = 0;
    for (let i = 0; i < n; i++) rz2 += r[i] * zv[i];
    const beta = rz2 / rz;
    rz = rz2;
    for (let i = 0; i < n; i++) p[i] = zv[i] + beta * p[i];
  }
}

export function relaxGlobalMesh(g: MeshGrid, nz: number, links: LinkTarget[], o: GlobalMeshOptions): GlobalMeshResult {
  const N = g.nx * g.ny;
  const M = N * nz;
  const kept = links.map((t) => t.w > 0 && Number.isFinite(t.u) && Number.isFinite(t.v));
  const u = new Float64Array(M);
  const v = new Float64Array(M);
  const residuals = new Float64Array(links.length);
  const k = o.stiffness;
  for (let round = 0; round <= Math.max(0, o.rounds); round++) {
    const diag = new Float64Array(M);
    for (let z = 0; z < nz; z++) {
      for (let j = 0; j < g.ny; j++) {
        for (let i = 0; i < g.nx; i++) {
          const deg = (i > 0 ? 1 : 0) + (i < g.nx - 1 ? 1 : 0) + (j > 0 ? 1 : 0) + (j < g.ny - 1 ? 1 : 0);
          diag[z * N + i + g.nx * j] = EPS + k * deg;
        }
      }
    }
    const bu = new Float64Array(M);
    const bv = new Float64Array(M);
    links.forEach((t, l) => {
      if (!kept[l]) return;
      const a = t.z * N + t.node;
      diag[a] += t.w;
      bu[a] += t.w * t.u;
      bv[a] += t.w * t.v;
      if (t.j >= 0) {
        const b = t.j * N + t.node;
        diag[b] += t.w;
        bu[b] -= t.w * t.u;
        bv[b] -= t.w * t.v;
      }
    });
    const A = (x: Float64Array, out: Float64Array) => operator(g, nz, k, links, kept, x, out);
    const iters = 4 * (g.nx + g.ny) * Math.max(1, Math.ceil(Math.sqrt(nz))) + 200;
    pcg(A, diag, bu, u, iters);
    pcg(A, diag, bv, v, iters);
    let worst = 0;
    links.forEach((t, l) => {
      const a = t.z * N + t.node;
      const du = u[a] - (t.j >= 0 ? u[t.j * N + t.node] : 0);
      const dv = v[a] - (t.j >= 0 ? v[t.j * N + t.node] : 0);
      residuals[l] = Math.hypot(du - t.u, dv - t.v);
      if (kept[l]) worst = Math.max(worst, residuals[l]);
    });
    const cut = Math.max(o.maxResidual, 0.5 * worst);
    let changed = false;
    links.forEach((_t, l) => {
      if (kept[l] && residuals[l] > cut) {
        kept[l] = false;
        changed = true;
      }
    });
    if (!changed) break;
  }
  return {
    u: Array.from({ length: nz }, (_, z) => u.slice(z * N, (z + 1) * N)),
    v: Array.from({ length: nz }, (_, z) => v.slice(z * N, (z + 1) * N)),
    kept,
    residuals,
  };
}
