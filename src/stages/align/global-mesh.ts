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

/**
 * Links stored column-wise in typed arrays (24 bytes a link instead of a ~100-byte object): the
 * elastic pass keeps every section's links until the global relaxation, so this is what its
 * memory grows by per section.
 */
export class Links {
  length = 0;
  z = new Int32Array(256);
  j = new Int32Array(256);
  node = new Int32Array(256);
  u = new Float32Array(256);
  v = new Float32Array(256);
  w = new Float32Array(256);

  static from(links: ArrayLike<LinkTarget>): Links {
    const l = new Links();
    for (let i = 0; i < links.length; i++) l.push(links[i]);
    return l;
  }

  push(t: LinkTarget): void {
    if (this.length === this.z.length) {
      const grow = <T extends Int32Array | Float32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(2 * a.length);
        b.set(a);
        return b;
      };
      this.z = grow(this.z);
      this.j = grow(this.j);
      this.node = grow(this.node);
      this.u = grow(this.u);
      this.v = grow(this.v);
      this.w = grow(this.w);
    }
    const i = this.length++;
    this.z[i] = t.z;
    this.j[i] = t.j;
    this.node[i] = t.node;
    this.u[i] = t.u;
    this.v[i] = t.v;
    this.w[i] = t.w;
  }

  /** Bytes held (capacity). */
  get bytes(): number {
    return this.z.length * 24;
  }
}

export interface GlobalMeshOptions {
  stiffness: number;
  maxResidual: number;
  rounds: number;
  /**
   * A prior on the shape of each listed section's mesh: weight x sum_n (u(n) - mean u)^2, a pull
   * toward a uniform displacement (the affine plus a translation) that leaves the translation free.
   */
  shapePrior?: { weight: number; sections: Uint8Array };
}

export interface GlobalMeshResult {
  /** Per section: node displacements (row-major, x fastest). */
  u: Float64Array[];
  v: Float64Array[];
  /** 1 where the link was kept. */
  kept: Uint8Array;
  residuals: Float64Array;
}

const EPS = 1e-6;

function operator(g: MeshGrid, nz: number, k: number, L: Links, kept: Uint8Array, x: Float64Array, out: Float64Array, shape?: GlobalMeshOptions['shapePrior']): void {
  const { nx, ny } = g;
  const N = nx * ny;
  for (let z = 0; z < nz; z++) {
    const o = z * N;
    const lam = shape && shape.sections[z] ? shape.weight : 0;
    let mean = 0;
    if (lam > 0) {
      for (let n = 0; n < N; n++) mean += x[o + n];
      mean /= N;
    }
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const n = o + i + nx * j;
        const xn = x[n];
        let s = EPS * xn;
        if (i > 0) s += k * (xn - x[n - 1]);
        if (i < nx - 1) s += k * (xn - x[n + 1]);
        if (j > 0) s += k * (xn - x[n - nx]);
        if (j < ny - 1) s += k * (xn - x[n + nx]);
        out[n] = s + lam * (xn - mean);
      }
    }
  }
  for (let l = 0; l < L.length; l++) {
    if (!kept[l]) continue;
    const a = L.z[l] * N + L.node[l];
    const w = L.w[l];
    if (L.j[l] < 0) {
      out[a] += w * x[a];
      continue;
    }
    const b = L.j[l] * N + L.node[l];
    const d = w * (x[a] - x[b]);
    out[a] += d;
    out[b] -= d;
  }
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

export function relaxGlobalMesh(g: MeshGrid, nz: number, links: LinkTarget[] | Links, o: GlobalMeshOptions): GlobalMeshResult {
  const N = g.nx * g.ny;
  const M = N * nz;
  const L = links instanceof Links ? links : Links.from(links);
  const n = L.length;
  const kept = new Uint8Array(n);
  for (let l = 0; l < n; l++) kept[l] = L.w[l] > 0 && Number.isFinite(L.u[l]) && Number.isFinite(L.v[l]) ? 1 : 0;
  const u = new Float64Array(M);
  const v = new Float64Array(M);
  const residuals = new Float64Array(n);
  const k = o.stiffness;
  for (let round = 0; round <= Math.max(0, o.rounds); round++) {
    const diag = new Float64Array(M);
    for (let z = 0; z < nz; z++) {
      for (let j = 0; j < g.ny; j++) {
        for (let i = 0; i < g.nx; i++) {
          const deg = (i > 0 ? 1 : 0) + (i < g.nx - 1 ? 1 : 0) + (j > 0 ? 1 : 0) + (j < g.ny - 1 ? 1 : 0);
          diag[z * N + i + g.nx * j] = EPS + k * deg + (o.shapePrior && o.shapePrior.sections[z] ? o.shapePrior.weight * (1 - 1 / N) : 0);
        }
      }
    }
    const bu = new Float64Array(M);
    const bv = new Float64Array(M);
    for (let l = 0; l < n; l++) {
      if (!kept[l]) continue;
      const a = L.z[l] * N + L.node[l];
      const w = L.w[l];
      diag[a] += w;
      bu[a] += w * L.u[l];
      bv[a] += w * L.v[l];
      if (L.j[l] >= 0) {
        const b = L.j[l] * N + L.node[l];
        diag[b] += w;
        bu[b] -= w * L.u[l];
        bv[b] -= w * L.v[l];
      }
    }
    const A = (x: Float64Array, out: Float64Array) => operator(g, nz, k, L, kept, x, out, o.shapePrior);
    const iters = 4 * (g.nx + g.ny) * Math.max(1, Math.ceil(Math.sqrt(nz))) + 200;
    pcg(A, diag, bu, u, iters);
    pcg(A, diag, bv, v, iters);
    let worst = 0;
    for (let l = 0; l < n; l++) {
      const a = L.z[l] * N + L.node[l];
      const j = L.j[l];
      const du = u[a] - (j >= 0 ? u[j * N + L.node[l]] : 0);
      const dv = v[a] - (j >= 0 ? v[j * N + L.node[l]] : 0);
      residuals[l] = Math.hypot(du - L.u[l], dv - L.v[l]);
      if (kept[l]) worst = Math.max(worst, residuals[l]);
    }
    const cut = Math.max(o.maxResidual, 0.5 * worst);
    let changed = false;
    for (let l = 0; l < n; l++) {
      if (kept[l] && residuals[l] > cut) {
        kept[l] = 0;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return {
    u: Array.from({ length: nz }, (_, z) => u.slice(z * N, (z + 1) * N)),
    v: Array.from({ length: nz }, (_, z) => v.slice(z * N, (z + 1) * N)),
    kept,
    residuals,
  };
}
