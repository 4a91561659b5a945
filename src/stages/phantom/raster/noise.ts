// Hashed lattice noise and its tables: value noise, smeared Gaussians, point lattices (vesicles).
import { hash4 } from '../model.js';

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

/** Value noise in [0, 1) on a lattice of `cell` nm (trilinear, smoothstep), keyed by `key`. */
export function valueNoise(px: number, py: number, pz: number, cell: number, key: number): number {
  const fx = px / cell;
  const fy = py / cell;
  const fz = pz / cell;
  const ix = Math.floor(fx);
  const iy = Math.floor(fy);
  const iz = Math.floor(fz);
  const tx = smooth(fx - ix);
  const ty = smooth(fy - iy);
  const tz = smooth(fz - iz);
  const c000 = hash4(ix, iy, iz, key);
  const c100 = hash4(ix + 1, iy, iz, key);
  const c010 = hash4(ix, iy + 1, iz, key);
  const c110 = hash4(ix + 1, iy + 1, iz, key);
  const c001 = hash4(ix, iy, iz + 1, key);
  const c101 = hash4(ix + 1, iy, iz + 1, key);
  const c011 = hash4(ix, iy + 1, iz + 1, key);
  const c111 = hash4(ix + 1, iy + 1, iz + 1, key);
  const a = c000 + (c100 - c000) * tx;
  const b = c010 + (c110 - c010) * tx;
  const c = c001 + (c101 - c001) * tx;
  const d = c011 + (c111 - c011) * tx;
  const e = a + (b - a) * ty;
  const f = c + (d - c) * ty;
  return e + (f - e) * tz;
}

/** erf, Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

/** exp(-(x/sigma)^2) averaged over a window of width w centred on x (w = 0: the Gaussian itself). */
export function smearedGaussian(x: number, sigma: number, w: number): number {
  if (w < 0.5) return Math.exp(-((x / sigma) ** 2));
  return ((sigma * Math.sqrt(Math.PI)) / (2 * w)) * (erf((x + w / 2) / sigma) - erf((x - w / 2) / sigma));
}

// ------------------------------------------------------------------ lattice tables over a box

/** Largest lattice table (values) a box tabulates: 4M doubles = 32 MB; bigger boxes hash per sample. */
const MAX_TABLE = 1 << 22;

/**
 * Value noise (as `valueNoise`, bit for bit) tabulated over the voxel centres of a box: the
 * lattice values are hashed once per box, and each axis keeps per-voxel lattice offsets and
 * smoothstep weights, so a sample is 8 loads and 7 lerps.
 */
export class NoiseTable {
  /** Lattice values; null when the box would need more than MAX_TABLE of them (then hashed per sample). */
  private readonly v: Float64Array | null;
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private readonly zs: Float64Array;
  private readonly cell: number;
  private readonly key: number;
  private readonly ix: Int32Array;
  private readonly iy: Int32Array;
  private readonly iz: Int32Array;
  private readonly tx: Float64Array;
  private readonly ty: Float64Array;
  private readonly tz: Float64Array;
  private readonly sy: number;
  private readonly sz: number;

  /** `xs`, `ys`, `zs`: the voxel centres (nm) along each axis. */
  constructor(xs: Float64Array, ys: Float64Array, zs: Float64Array, cell: number, key: number) {
    const axis = (ps: Float64Array): [Int32Array, Float64Array, number, number] => {
      const idx = new Int32Array(ps.length);
      const t = new Float64Array(ps.length);
      let lo = 0;
      let hi = 0;
      for (let k = 0; k < ps.length; k++) {
        const f = ps[k] / cell;
        const i = Math.floor(f);
        t[k] = smooth(f - i);
        idx[k] = i;
        if (k === 0 || i < lo) lo = i;
        if (k === 0 || i > hi) hi = i;
      }
      for (let k = 0; k < ps.length; k++) idx[k] -= lo;
      return [idx, t, lo, hi - lo + 2];
    };
    const [ix, tx, x0, nx] = axis(xs);
    const [iy, ty, y0, ny] = axis(ys);
    const [iz, tz, z0, nz] = axis(zs);
    this.ix = ix;
    this.iy = iy;
    this.iz = iz;
    this.tx = tx;
    this.ty = ty;
    this.tz = tz;
    this.sy = nx;
    this.sz = nx * ny;
    this.xs = xs;
    this.ys = ys;
    this.zs = zs;
    this.cell = cell;
    this.key = key;
    if (nx * ny * nz > MAX_TABLE) {
      this.v = null;
      return;
    }
    const v = new Float64Array(nx * ny * nz);
    let o = 0;
    for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) v[o++] = hash4(x0 + x, y0 + y, z0 + z, key);
    this.v = v;
  }

  /** The noise at voxel (xi, yi, zi) of the box (indices from the box's corner). */
  at(xi: number, yi: number, zi: number): number {
    const v = this.v;
    if (v === null) return valueNoise(this.xs[xi], this.ys[yi], this.zs[zi], this.cell, this.key);
    const sy = this.sy;
    const sz = this.sz;
    const i = this.ix[xi] + sy * this.iy[yi] + sz * this.iz[zi];
    const tx = this.tx[xi];
    const ty = this.ty[yi];
    const tz = this.tz[zi];
    const c000 = v[i];
    const c100 = v[i + 1];
    const c010 = v[i + sy];
    const c110 = v[i + sy + 1];
    const c001 = v[i + sz];
    const c101 = v[i + sz + 1];
    const c011 = v[i + sz + sy];
    const c111 = v[i + sz + sy + 1];
    const a = c000 + (c100 - c000) * tx;
    const b = c010 + (c110 - c010) * tx;
    const c = c001 + (c101 - c001) * tx;
    const d = c011 + (c111 - c011) * tx;
    const e = a + (b - a) * ty;
    const f = c + (d - c) * ty;
    return e + (f - e) * tz;
  }
}

/**
 * Jittered points on a lattice of cells [lx, ly, lz] nm (a fraction `keep` of the cells holds one),
 * tabulated over a box; `dist` gives the distance (nm) from a voxel centre to the nearest point
 * among the 8 cells around it. One hash per lattice cell.
 */
export class PointTable {
  private readonly p: Float64Array;
  private readonly ix: Int32Array;
  private readonly iy: Int32Array;
  private readonly iz: Int32Array;
  private readonly sy: number;
  private readonly sz: number;
  private readonly slab: number;

  /**
   * `slab`: half the section thickness (nm): a point whose z lies within it of the voxel centre
   * counts at its in-plane distance, so an object inside the section shows its whole outline, as
   * in a projection image of a thick section.
   */
  constructor(xs: Float64Array, ys: Float64Array, zs: Float64Array, l: readonly [number, number, number], key: number, keep: number, slab = 0) {
    this.slab = slab;
    const los: number[] = [];
    const ns: number[] = [];
    const idxs: Int32Array[] = [];
    [xs, ys, zs].forEach((ps, a) => {
      const idx = new Int32Array(ps.length);
      let lo = 0;
      let hi = 0;
      for (let k = 0; k < ps.length; k++) {
        const i = Math.floor(ps[k] / l[a] - 0.5);
        idx[k] = i;
        if (k === 0 || i < lo) lo = i;
        if (k === 0 || i > hi) hi = i;
      }
      for (let k = 0; k < ps.length; k++) idx[k] -= lo;
      los.push(lo);
      ns.push(hi - lo + 2);
      idxs.push(idx);
    });
    [this.ix, this.iy, this.iz] = idxs;
    this.sy = ns[0];
    this.sz = ns[0] * ns[1];
    const n = ns[0] * ns[1] * ns[2];
    const p = new Float64Array(3 * n);
    // dense lattices jitter within the middle of the cell, sparse ones over most of it
    const spread = keep >= 1 ? 0.6 : 0.8;
    const base = keep >= 1 ? 0.2 : 0.1;
    const cut = Math.floor(keep * 1024);
    let o = 0;
    for (let z = 0; z < ns[2]; z++) {
      for (let y = 0; y < ns[1]; y++) {
        for (let x = 0; x < ns[0]; x++, o++) {
          const cx = los[0] + x;
          const cy = los[1] + y;
          const cz = los[2] + z;
          const h = (hash4(cx, cy, cz, key) * 4294967296) >>> 0;
          if (keep < 1 && h >>> 22 >= cut) {
            p[3 * o] = p[3 * o + 1] = p[3 * o + 2] = 1e12; // no point in this cell
            continue;
          }
          p[3 * o] = (cx + base + spread * ((h & 1023) / 1023)) * l[0];
          p[3 * o + 1] = (cy + base + spread * (((h >>> 10) & 1023) / 1023)) * l[1];
          p[3 * o + 2] = (cz + base + spread * (((h >>> 20) & 1023) / 1023)) * l[2];
        }
      }
    }
    this.p = p;
  }

  dist(xi: number, yi: number, zi: number, px: number, py: number, pz: number): number {
    const p = this.p;
    const i0 = this.ix[xi] + this.sy * this.iy[yi] + this.sz * this.iz[zi];
    let best = Infinity;
    for (let dz = 0; dz < 2; dz++) {
      for (let dy = 0; dy < 2; dy++) {
        const row = 3 * (i0 + this.sy * dy + this.sz * dz);
        for (let k = row; k < row + 6; k += 3) {
          let dz = pz > p[k + 2] ? pz - p[k + 2] : p[k + 2] - pz;
          dz = dz > this.slab ? dz - this.slab : 0;
          const d = (px - p[k]) ** 2 + (py - p[k + 1]) ** 2 + dz * dz;
          if (d < best) best = d;
        }
      }
    }
    return Math.sqrt(best);
  }
}

// ------------------------------------------------------------------ model-derived arrays
