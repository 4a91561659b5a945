/**
 * Rasterising the phantom model over a box of voxels: labels (cell, compartment, mitochondrion,
 * vesicle cloud, cleft) and the sharp EM-like intensity, each voxel a pure function of its global
 * position, the model and the seed (never of the block), so blocks agree wherever they overlap.
 *
 * Speed: the box is cut into small tiles inside one grid cell each; per tile, a primitive whose
 * surface distance is provably larger than the second-nearest cell's everywhere in the tile (a
 * Lipschitz bound from the tile centre) is dropped before the per-voxel loop, which then sees only
 * a few primitives. The per-voxel result is exactly that of the plain loop over the grid cell's
 * list (`rasterizeLabelsReference`): same nearest and second-nearest primitive, same ties. Textures
 * read hashed lattice values tabulated once per box (the same values every block computes).
 */
import { type Box, boxShape } from '../../core/box.js';
import { type PhantomModel, hash4 } from './model.js';

/** Appearance constants (nm, grey levels of the sharp image before blur and noise). Documented in docs/PHANTOM.md. */
export const LOOK = {
  /** Voxels where the two nearest cells' surfaces tie within 2*ecsHalf nm are extracellular space. */
  ecsHalf: 0.6,
  /** Membrane darkness exp(-(h/membraneSigma)^2), h = half the gap between the two nearest surfaces. */
  membraneSigma: 11,
  membraneGrey: 14,
  /** Cleft: h below this within the contact disc (nm): labelled and drawn as a grey band. */
  cleftHalf: 10,
  cleftGrey: 128,
  /** Presynaptic membrane beyond the cleft (nm thick) and its grey. */
  preMembrane: 8,
  preGrey: 36,
  /** Postsynaptic density: up to this thick (nm) beyond the cleft on the post side, thinner towards the disc rim. */
  psdDepth: 45,
  psdGrey: 6,
  cytoplasm: 166,
  /** Amplitudes of the cytoplasm's value noise at 110 nm and 14 nm, and of the per-voxel stain grain at 4 nm pixels (grey levels). */
  coarseTexture: 30,
  fineTexture: 110,
  grain: 90,
  vesicleLattice: 46,
  vesicleRadius: 19,
  /** Mitochondria: the outer membrane and this far (nm) outside it are drawn. */
  mitoReach: 3,
  mitoMatrix: 112,
  cristaGrey: 52,
  /** Crista spacing along the mitochondrion's axis (nm). */
  cristaPeriod: 36,
};

export interface RasterFields {
  box: Box;
  /** Cell index, -1 for extracellular space. */
  cell: Int32Array;
  comp: Uint8Array;
  /** Organelle indices (-1 none). */
  mito: Int32Array;
  cloud: Int32Array;
  /** Synapse index (-1 none). */
  cleft: Int32Array;
  /** Sharp intensity (before blur and noise), only when asked. */
  raw?: Float32Array;
}

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

/**
 * Primitive fields interleaved (a, b - a, 1/|b-a|^2, ra, rb - ra, Lipschitz factor), so one
 * primitive is one or two cache lines. The Lipschitz factor 1 + |rb - ra| / |b - a| bounds how
 * fast the surface distance (distance to the axis minus the interpolated radius) changes with
 * the position.
 */
const PK = 10;
const packCache = new WeakMap<PhantomModel, Float64Array>();
export function packed(m: PhantomModel): Float64Array {
  let pk = packCache.get(m);
  if (!pk) {
    pk = new Float64Array(PK * m.nPrims);
    for (let i = 0; i < m.nPrims; i++) {
      for (let a = 0; a < 3; a++) {
        pk[PK * i + a] = m.pa[3 * i + a];
        pk[PK * i + 3 + a] = m.pu[3 * i + a];
      }
      pk[PK * i + 6] = m.pinv[i];
      pk[PK * i + 7] = m.pra[i];
      pk[PK * i + 8] = m.pdr[i];
      pk[PK * i + 9] = 1 + (m.pinv[i] > 0 ? Math.abs(m.pdr[i]) * Math.sqrt(m.pinv[i]) : 0) + 1e-9;
    }
    packCache.set(m, pk);
  }
  return pk;
}

/** Presynaptic cell per synapse (from the model's synapse list). */
const preCache = new WeakMap<PhantomModel, Int32Array>();
function synPre(m: PhantomModel): Int32Array {
  let a = preCache.get(m);
  if (!a) {
    a = Int32Array.from(m.synapses.map((s) => s.pre));
    preCache.set(m, a);
  }
  return a;
}

/** Voxel centres (nm) along one axis, and runs of voxels in one grid cell of at most `tile` voxels. */
function axisPlan(lo: number, hi: number, v: number, origin: number, G: number, dims: number, tile: number) {
  const n = hi - lo;
  const pos = new Float64Array(n);
  const runs: number[] = []; // start, end, grid index (-1 outside)
  let start = 0;
  let cur = 0;
  for (let k = 0; k < n; k++) {
    const p = (lo + k + 0.5) * v;
    pos[k] = p;
    let g = Math.floor((p - origin) / G);
    if (g < 0 || g >= dims) g = -1;
    if (k === 0) cur = g;
    else if (g !== cur || k - start >= tile) {
      runs.push(start, k, cur);
      start = k;
      cur = g;
    }
  }
  if (n > 0) runs.push(start, n, cur);
  return { pos, runs };
}

/** Tile edge (voxels) along an axis of voxel size v: about 64 nm, at least one voxel. */
const tileOf = (v: number) => Math.max(1, Math.round(64 / v));

/** Slack (nm) on the pruning bounds: far above float rounding, far below any geometric scale. */
const EPS = 1e-3;

/**
 * Rasterise `box` (voxels). Voxel p samples nm (p + 0.5) * voxelSize. With `raw`, also the sharp
 * intensity (grey levels as float).
 */
export function rasterize(m: PhantomModel, box: Box, withRaw: boolean): RasterFields {
  const [sx, sy, sz] = boxShape(box);
  const n = sx * sy * sz;
  const cellOut = new Int32Array(n);
  const compOut = new Uint8Array(n);
  const mitoOut = new Int32Array(n).fill(-1);
  const cloudOut = new Int32Array(n).fill(-1);
  const cleftOut = new Int32Array(n).fill(-1);
  const raw = withRaw ? new Float32Array(n) : undefined;
  if (n === 0) return { box, cell: cellOut, comp: compOut, mito: mitoOut, cloud: cloudOut, cleft: cleftOut, raw };
  const [vx, vy, vz] = m.options.voxelSize;
  const seed = m.options.seed | 0;
  const { pcell, pcomp, psyn, primStart, primItems, orgStart, orgItems } = m;
  const pk = packed(m);
  const pre = synPre(m);
  const { oa, ou, oinv, or, ohost, okind, synContact, synDisc, synPost } = m;
  const G = m.gridCell;
  const [ox, oy, oz] = m.gridOrigin;
  const [gdx, gdy, gdz] = m.gridDims;
  const R = m.influence;
  const { ecsHalf, cleftHalf, mitoReach } = LOOK;

  const ax = axisPlan(box.min[0], box.max[0], vx, ox, G, gdx, tileOf(vx));
  const ay = axisPlan(box.min[1], box.max[1], vy, oy, G, gdy, tileOf(vy));
  const az = axisPlan(box.min[2], box.max[2], vz, oz, G, gdz, tileOf(vz));
  const xs = ax.pos;
  const ys = ay.pos;
  const zs = az.pos;

  // textures (hashed lattices tabulated over this box)
  let tex: Textures | undefined;
  if (raw) tex = new Textures(xs, ys, zs, seed, vz, box.min[0], box.min[1], box.min[2], Math.sqrt(vx * vy));

  // per-tile survivors
  let surv = new Int32Array(64);
  let orgs = new Int32Array(16);

  for (let rz = 0; rz < az.runs.length; rz += 3) {
    const z0 = az.runs[rz];
    const z1 = az.runs[rz + 1];
    const gz = az.runs[rz + 2];
    for (let ry = 0; ry < ay.runs.length; ry += 3) {
      const y0 = ay.runs[ry];
      const y1 = ay.runs[ry + 1];
      const gy = ay.runs[ry + 2];
      for (let rx = 0; rx < ax.runs.length; rx += 3) {
        const x0 = ax.runs[rx];
        const x1 = ax.runs[rx + 1];
        const gx = ax.runs[rx + 2];
        if (gx < 0 || gy < 0 || gz < 0) {
          for (let z = z0; z < z1; z++)
            for (let y = y0; y < y1; y++)
              for (let x = x0; x < x1; x++) {
                const o = x + sx * (y + sy * z);
                cellOut[o] = -1;
                if (raw) raw[o] = 120;
              }
          continue;
        }
        const g = gx + gdx * (gy + gdy * gz);
        // ---- prune this grid cell's primitives for the tile
        const cx = 0.5 * (xs[x0] + xs[x1 - 1]);
        const cy = 0.5 * (ys[y0] + ys[y1 - 1]);
        const cz = 0.5 * (zs[z0] + zs[z1 - 1]);
        const ex = 0.5 * (xs[x1 - 1] - xs[x0]);
        const ey = 0.5 * (ys[y1 - 1] - ys[y0]);
        const ez = 0.5 * (zs[z1 - 1] - zs[z0]);
        const rad = Math.sqrt(ex * ex + ey * ey + ez * ez);
        const k0 = primStart[g];
        const k1 = primStart[g + 1];
        if (surv.length < k1 - k0) surv = new Int32Array(2 * (k1 - k0));
        let u1 = Infinity;
        let u2 = Infinity;
        let cu = -1;
        if (scratchLb.length < k1 - k0) scratchLb = new Float64Array(2 * (k1 - k0));
        // first pass: each primitive's lower bound over the tile, and an upper bound on the
        // second-nearest cell's distance anywhere in the tile (min over cells of their best upper
        // bound, the second of the two best distinct cells)
        for (let k = k0; k < k1; k++) {
          const i = primItems[k];
          const q = PK * i;
          const wx = cx - pk[q];
          const wy = cy - pk[q + 1];
          const wz = cz - pk[q + 2];
          const ux = pk[q + 3];
          const uy = pk[q + 4];
          const uz = pk[q + 5];
          let t = (wx * ux + wy * uy + wz * uz) * pk[q + 6];
          if (t < 0) t = 0;
          else if (t > 1) t = 1;
          const dx = wx - t * ux;
          const dy = wy - t * uy;
          const dz = wz - t * uz;
          const d = Math.sqrt(dx * dx + dy * dy + dz * dz) - (pk[q + 7] + t * pk[q + 8]);
          const lip = pk[q + 9] * rad;
          const ub = d + lip + EPS;
          scratchLb[k - k0] = d - lip - EPS;
          const c = pcell[i];
          if (ub < u1) {
            if (c !== cu) u2 = u1;
            u1 = ub;
            cu = c;
          } else if (ub < u2 && c !== cu) u2 = ub;
        }
        let ns = 0;
        for (let k = k0; k < k1; k++) if (scratchLb[k - k0] <= u2) surv[ns++] = primItems[k];
        // organelles: the ones whose surface can come within reach of the tile
        const j0 = orgStart[g];
        const j1 = orgStart[g + 1];
        if (orgs.length < j1 - j0) orgs = new Int32Array(2 * (j1 - j0));
        let no = 0;
        for (let k = j0; k < j1; k++) {
          const i = orgItems[k];
          const i3 = 3 * i;
          const wx = cx - oa[i3];
          const wy = cy - oa[i3 + 1];
          const wz = cz - oa[i3 + 2];
          const ux = ou[i3];
          const uy = ou[i3 + 1];
          const uz = ou[i3 + 2];
          let t = (wx * ux + wy * uy + wz * uz) * oinv[i];
          if (t < 0) t = 0;
          else if (t > 1) t = 1;
          const dx = wx - t * ux;
          const dy = wy - t * uy;
          const dz = wz - t * uz;
          const d = Math.sqrt(dx * dx + dy * dy + dz * dz) - or[i];
          if (d - rad - EPS <= (okind[i] === 0 ? mitoReach : 0)) orgs[no++] = i;
        }

        // ---- voxels of the tile
        for (let z = z0; z < z1; z++) {
          const pz = zs[z];
          for (let y = y0; y < y1; y++) {
            const py = ys[y];
            let o = x0 + sx * (y + sy * z);
            for (let x = x0; x < x1; x++, o++) {
              const px = xs[x];
              let b1 = Infinity;
              let b2 = Infinity;
              let c1 = -1;
              let p1 = -1;
              let p2 = -1;
              let n1x = 0;
              let n1y = 0;
              let n1z = 0;
              let n2x = 0;
              let n2y = 0;
              let n2z = 0;
              for (let k = 0; k < ns; k++) {
                const i = surv[k];
                const q = PK * i;
                const wx = px - pk[q];
                const wy = py - pk[q + 1];
                const wz = pz - pk[q + 2];
                const ux = pk[q + 3];
                const uy = pk[q + 4];
                const uz = pk[q + 5];
                let t = (wx * ux + wy * uy + wz * uz) * pk[q + 6];
                if (t < 0) t = 0;
                else if (t > 1) t = 1;
                const dx = wx - t * ux;
                const dy = wy - t * uy;
                const dz = wz - t * uz;
                const dl = Math.sqrt(dx * dx + dy * dy + dz * dz);
                const d = dl - (pk[q + 7] + t * pk[q + 8]);
                const c = pcell[i];
                if (d < b1) {
                  if (c !== c1) {
                    b2 = b1;
                    p2 = p1;
                    n2x = n1x;
                    n2y = n1y;
                    n2z = n1z;
                  }
                  b1 = d;
                  c1 = c;
                  p1 = i;
                  const inv = dl > 0 ? 1 / dl : 0;
                  n1x = dx * inv;
                  n1y = dy * inv;
                  n1z = dz * inv;
                } else if (d < b2 && c !== c1) {
                  b2 = d;
                  p2 = i;
                  const inv = dl > 0 ? 1 / dl : 0;
                  n2x = dx * inv;
                  n2y = dy * inv;
                  n2z = dz * inv;
                }
              }
              if (p1 < 0 || b1 > R) {
                cellOut[o] = -1;
                if (raw) raw[o] = 120;
                continue;
              }
              const h = p2 < 0 ? 1e9 : (b2 - b1) * 0.5;
              const label = h < ecsHalf ? -1 : c1;
              cellOut[o] = label;
              compOut[o] = label >= 0 ? pcomp[p1] : 0;
              // organelles of the owning cell
              let mitoD = Infinity;
              let mito = -1;
              let cloud = -1;
              let mitoT = 0;
              for (let k = 0; k < no; k++) {
                const i = orgs[k];
                if (ohost[i] !== c1) continue;
                const i3 = 3 * i;
                const wx = px - oa[i3];
                const wy = py - oa[i3 + 1];
                const wz = pz - oa[i3 + 2];
                const ux = ou[i3];
                const uy = ou[i3 + 1];
                const uz = ou[i3 + 2];
                let t = (wx * ux + wy * uy + wz * uz) * oinv[i];
                if (t < 0) t = 0;
                else if (t > 1) t = 1;
                const dx = wx - t * ux;
                const dy = wy - t * uy;
                const dz = wz - t * uz;
                const d = Math.sqrt(dx * dx + dy * dy + dz * dz) - or[i];
                if (okind[i] === 0) {
                  if (d < mitoD) {
                    mitoD = d;
                    mito = i;
                    mitoT = (wx * ux + wy * uy + wz * uz) * Math.sqrt(oinv[i]);
                  }
                } else if (d < 0 && cloud < 0) cloud = i;
              }
              const inMito = label >= 0 && mitoD < 0;
              if (inMito) mitoOut[o] = mito;
              else if (label >= 0 && cloud >= 0) cloudOut[o] = cloud;
              // synaptic contact between the two nearest cells
              let syn = -1;
              if (p2 >= 0) {
                // a bouton and (any part of) its target cell are the two nearest cells
                const s1 = psyn[p1];
                if (s1 >= 0 && pcell[p2] === synPost[s1]) syn = s1;
                else {
                  const s2 = psyn[p2];
                  if (s2 >= 0 && c1 === synPost[s2]) syn = s2;
                }
              }
              // radial position in the contact disc: 0 centre, 1 rim (>= 1 outside)
              let rho = 2;
              if (syn >= 0) {
                const s3 = 3 * syn;
                const disc = synDisc[syn];
                rho = ((px - synContact[s3]) ** 2 + (py - synContact[s3 + 1]) ** 2 + (pz - synContact[s3 + 2]) ** 2) / (disc * disc);
                if (rho < 1 && h < cleftHalf) cleftOut[o] = syn;
              }
              if (!raw) continue;
              raw[o] = tex!.shade(
                x,
                y,
                z,
                px,
                py,
                pz,
                pcomp[p1],
                mito >= 0 && mitoD < mitoReach ? mitoD : Infinity,
                mitoT,
                cloud >= 0,
                rho < 1 ? (c1 === synPost[syn] ? 1 : c1 === pre[syn] ? 2 : 3) : 0,
                rho,
                h,
                n1x - n2x,
                n1y - n2y,
                n1z - n2z,
                vz,
              );
            }
          }
        }
      }
    }
  }
  return { box, cell: cellOut, comp: compOut, mito: mitoOut, cloud: cloudOut, cleft: cleftOut, raw };
}

/** Scratch lower bounds of one tile's candidate primitives (grown on demand). */
let scratchLb = new Float64Array(4096);

/**
 * The sharp image: cytoplasm texture, organelles, synapse and membranes, from lattice tables over
 * one box. Every value depends only on the global position (the tables hold the same hashes in
 * every block).
 */
class Textures {
  private readonly coarse: NoiseTable;
  private readonly fine: NoiseTable;
  private readonly mito: NoiseTable;
  private readonly granules: PointTable;
  private readonly rings: PointTable;
  private readonly vesicles: PointTable;

  private readonly x0: number;
  private readonly y0: number;
  private readonly z0: number;
  private readonly key: number;
  private readonly grainAmp: number;

  /**
   * x0, y0, z0: the box's first voxel (global voxel coordinates); vxy: the in-plane pixel area's
   * side (nm). The grain is a pixel's average of nm-scale stain grain, so its amplitude falls
   * with the pixel's side (LOOK.grain at 4 nm).
   */
  constructor(xs: Float64Array, ys: Float64Array, zs: Float64Array, seed: number, vz: number, x0: number, y0: number, z0: number, vxy: number) {
    const slab = vz / 2;
    this.grainAmp = LOOK.grain * Math.min(1.5, 4 / vxy);
    this.x0 = x0;
    this.y0 = y0;
    this.z0 = z0;
    this.key = seed ^ 0x6a11;
    this.coarse = new NoiseTable(xs, ys, zs, 110, seed ^ 0x1a2b3c);
    this.fine = new NoiseTable(xs, ys, zs, 14, seed ^ 0x4d5e6f);
    this.mito = new NoiseTable(xs, ys, zs, 45, seed ^ 0x777);
    // ribosome-like dark granules (~20 nm), and small membrane-bounded profiles (ER, microtubules
    // and stray vesicles in cross-section: dark rim, light lumen, ~30 nm)
    this.granules = new PointTable(xs, ys, zs, [32, 32, 64], seed ^ 0x3e3e, 0.35, slab);
    this.rings = new PointTable(xs, ys, zs, [80, 80, 80], seed ^ 0x2b2b, 0.5, slab);
    this.vesicles = new PointTable(xs, ys, zs, [LOOK.vesicleLattice, LOOK.vesicleLattice, LOOK.vesicleLattice], seed ^ 0x5151, 1, slab);
  }

  /**
   * Grey value of voxel (x, y, z) of the box at (px, py, pz) nm. comp: compartment of the nearest
   * primitive; mitoD: signed distance to the owning cell's nearest mitochondrion (Infinity: none
   * within reach), mitoT: position along its axis; side: 0 outside a contact disc, 1 post, 2 pre;
   * rho: squared radial position in the disc (0 centre, 1 rim); h: half the gap between the two
   * nearest surfaces; (gx, gy, gz): difference of their normals; vz: section thickness.
   */
  shade(
    x: number,
    y: number,
    z: number,
    px: number,
    py: number,
    pz: number,
    comp: number,
    mitoD: number,
    mitoT: number,
    inCloud: boolean,
    side: number,
    rho: number,
    h: number,
    gx: number,
    gy: number,
    gz: number,
    vz: number,
  ): number {
    const L = LOOK;
    const fine = this.fine.at(x, y, z);
    // stain grain: white noise per voxel (from its global position), softened by the imaging blur
    const grain = hash4(x + this.x0, y + this.y0, z + this.z0, this.key) - 0.5;
    let v = L.cytoplasm + L.coarseTexture * (this.coarse.at(x, y, z) - 0.5) + L.fineTexture * (fine - 0.5) + this.grainAmp * grain;
    if (comp === 1) v -= 12;
    else if (comp === 2) v += 4;
    else if (comp === 4) v -= 5;
    if (mitoD < L.mitoReach) {
      const m = this.mito.at(x, y, z);
      let inner = L.mitoMatrix + 40 * (fine - 0.5) + 20 * (m - 0.5);
      if (mitoD < -5) {
        // cristae: wavy lamellae across the long axis
        const ph = (mitoT + 44 * (m - 0.5)) / L.cristaPeriod;
        const e = Math.abs(ph - Math.floor(ph) - 0.5) * L.cristaPeriod; // nm to the crista's centre
        const w = 2 + 7 * fine; // crista half-thickness varies, some fade out
        if (e < w && mitoD < -9) inner += (L.cristaGrey - inner) * (1 - e / w);
        v = inner;
      }
      // double outer membrane
      const a = Math.exp(-(((mitoD + 1.5) / 2.6) ** 2));
      const b = Math.exp(-(((mitoD + 7) / 2.6) ** 2));
      const dark = a > b ? a : b;
      v += (38 - v) * dark * 0.9;
      return this.membrane(v, h, gx, gy, gz, vz);
    }
    if (inCloud) {
      const dv = this.vesicles.dist(x, y, z, px, py, pz);
      const r = L.vesicleRadius;
      if (dv < r - 6) v = 172 + 16 * (fine - 0.5);
      else if (dv < r + 1) v = 66 + 20 * (fine - 0.5);
    } else {
      const gd = this.granules.dist(x, y, z, px, py, pz);
      if (gd < 10) v -= 80 * (1 - gd / 10);
      const rd = this.rings.dist(x, y, z, px, py, pz);
      const e = rd > 21 ? rd - 21 : 21 - rd;
      const k = comp === 2 ? 1 : 0.7; // axons hold more of them
      if (e < 6) v -= 110 * k * (1 - e / 6);
      else if (rd < 21) v += 14 * k;
    }
    if (side > 0) {
      // synapse: a grey cleft (the labelled band), a thin dark presynaptic membrane, and a thick
      // postsynaptic density thinning towards the rim of the contact disc
      if (h < L.cleftHalf) return L.cleftGrey + 24 * (fine - 0.5);
      const g = h - L.cleftHalf;
      if (side === 1) {
        const t = L.psdDepth * (0.5 + 0.5 * Math.sqrt(1 - rho)) * (0.8 + 0.4 * fine);
        if (g < t) return L.psdGrey + 30 * (fine - 0.5);
        if (g < t + 6) return v + (L.psdGrey - v) * (1 - (g - t) / 6);
      } else if (g < L.preMembrane) return L.preGrey + 20 * (fine - 0.5);
      return v;
    }
    return this.membrane(v, h, gx, gy, gz, vz);
  }

  /**
   * The membrane between the two nearest cells as seen through a section of thickness vz: the
   * boundary normal (from the two nearest surfaces) gives its in-plane distance and how far it
   * smears across the section.
   */
  private membrane(v: number, h: number, gx: number, gy: number, gz: number, vz: number): number {
    if (h >= 200) return v;
    const gl = Math.sqrt(gx * gx + gy * gy + gz * gz);
    let nxy = gl > 0 ? Math.sqrt(gx * gx + gy * gy) / gl : 1;
    if (nxy < 0.15) nxy = 0.15;
    const nz = gl > 0 ? Math.abs(gz) / gl : 0;
    const hp = h / nxy;
    const w = Math.min((vz * nz) / nxy, 3 * vz);
    const mm = smearedGaussian(hp, LOOK.membraneSigma, w);
    return v * (1 - mm) + LOOK.membraneGrey * mm;
  }
}

/**
 * The labels by the plain algorithm (the rasteriser before tiling): every voxel scans its whole
 * grid cell's primitive and organelle lists. The specification `rasterize` must match voxel for
 * voxel, and the baseline of the speed benchmark (bench/phantom-raster.bench.ts).
 */
export function rasterizeLabelsReference(m: PhantomModel, box: Box): RasterFields {
  const [sx, sy, sz] = boxShape(box);
  const n = sx * sy * sz;
  const cellOut = new Int32Array(n);
  const compOut = new Uint8Array(n);
  const mitoOut = new Int32Array(n).fill(-1);
  const cloudOut = new Int32Array(n).fill(-1);
  const cleftOut = new Int32Array(n).fill(-1);
  const [vx, vy, vz] = m.options.voxelSize;
  const { pa, pu, pinv, pra, pdr, pcell, pcomp, psyn, primStart, primItems, orgStart, orgItems } = m;
  const { oa, ou, oinv, or, ohost, okind, synContact, synDisc, synPost } = m;
  const G = m.gridCell;
  const [ox, oy, oz] = m.gridOrigin;
  const [gdx, gdy, gdz] = m.gridDims;
  let o = 0;
  for (let z = box.min[2]; z < box.max[2]; z++) {
    const pz = (z + 0.5) * vz;
    const gz = Math.floor((pz - oz) / G);
    for (let y = box.min[1]; y < box.max[1]; y++) {
      const py = (y + 0.5) * vy;
      const gy = Math.floor((py - oy) / G);
      for (let x = box.min[0]; x < box.max[0]; x++, o++) {
        const px = (x + 0.5) * vx;
        const gx = Math.floor((px - ox) / G);
        cellOut[o] = -1;
        if (gx < 0 || gy < 0 || gz < 0 || gx >= gdx || gy >= gdy || gz >= gdz) continue;
        const g = gx + gdx * (gy + gdy * gz);
        // nearest primitive, and the nearest primitive of another cell than the nearest's
        let b1 = Infinity;
        let b2 = Infinity;
        let c1 = -1;
        let p1 = -1;
        let p2 = -1;
        for (let k = primStart[g]; k < primStart[g + 1]; k++) {
          const i = primItems[k];
          const i3 = 3 * i;
          const wx = px - pa[i3];
          const wy = py - pa[i3 + 1];
          const wz = pz - pa[i3 + 2];
          let t = (wx * pu[i3] + wy * pu[i3 + 1] + wz * pu[i3 + 2]) * pinv[i];
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const d = Math.sqrt((wx - t * pu[i3]) ** 2 + (wy - t * pu[i3 + 1]) ** 2 + (wz - t * pu[i3 + 2]) ** 2) - (pra[i] + t * pdr[i]);
          const c = pcell[i];
          if (d < b1) {
            if (c !== c1) {
              b2 = b1;
              p2 = p1;
            }
            b1 = d;
            c1 = c;
            p1 = i;
          } else if (d < b2 && c !== c1) {
            b2 = d;
            p2 = i;
          }
        }
        if (p1 < 0 || b1 > m.influence) continue;
        const h = p2 < 0 ? 1e9 : (b2 - b1) * 0.5;
        const label = h < LOOK.ecsHalf ? -1 : c1;
        cellOut[o] = label;
        compOut[o] = label >= 0 ? pcomp[p1] : 0;
        let mitoD = Infinity;
        let mito = -1;
        let cloud = -1;
        for (let k = orgStart[g]; k < orgStart[g + 1]; k++) {
          const i = orgItems[k];
          if (ohost[i] !== c1) continue;
          const i3 = 3 * i;
          const wx = px - oa[i3];
          const wy = py - oa[i3 + 1];
          const wz = pz - oa[i3 + 2];
          let t = (wx * ou[i3] + wy * ou[i3 + 1] + wz * ou[i3 + 2]) * oinv[i];
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const d = Math.sqrt((wx - t * ou[i3]) ** 2 + (wy - t * ou[i3 + 1]) ** 2 + (wz - t * ou[i3 + 2]) ** 2) - or[i];
          if (okind[i] === 0) {
            if (d < mitoD) {
              mitoD = d;
              mito = i;
            }
          } else if (d < 0 && cloud < 0) cloud = i;
        }
        if (label >= 0 && mitoD < 0) mitoOut[o] = mito;
        else if (label >= 0 && cloud >= 0) cloudOut[o] = cloud;
        if (p2 >= 0) {
          let syn = -1;
          const s1 = psyn[p1];
          if (s1 >= 0 && pcell[p2] === synPost[s1]) syn = s1;
          else if (psyn[p2] >= 0 && c1 === synPost[psyn[p2]]) syn = psyn[p2];
          if (syn >= 0) {
            const s3 = 3 * syn;
            const dc = (px - synContact[s3]) ** 2 + (py - synContact[s3 + 1]) ** 2 + (pz - synContact[s3 + 2]) ** 2;
            if (dc < synDisc[syn] ** 2 && h < LOOK.cleftHalf) cleftOut[o] = syn;
          }
        }
      }
    }
  }
  return { box, cell: cellOut, comp: compOut, mito: mitoOut, cloud: cloudOut, cleft: cleftOut };
}
