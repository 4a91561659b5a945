/**
 * Exact radius and nearest-point queries over 3-D points on a uniform grid, typed arrays only.
 *
 *        lo                                   hi   (bounding box of the indexed points)
 *        +------+------+------+------+------+
 *        |      |  .   |      |      |  .   |     cells of side h, points kept cell by
 *        +------+------+------+------+------+     cell (CSR: cellStart / order), each
 *        |  .   |      |  q*  |      |      |     cell's points in ascending index
 *        +------+------+------+------+------+
 *                 ring 1 around q's cell: visited after ring 0, and so on
 *
 * A query outside the box is clamped into it (the clamp is a projection onto a convex box, so
 * every point is at least as near the clamped query), and the ring search stops as soon as no
 * point in a later ring can be nearer: every point r+1 rings away is at least r*h from the
 * clamped query. Ties go to the lowest index. The grid is dense over the box; h grows until it
 * has at most about two cells per point, so memory follows the points, never the box.
 */

export interface PointGridOptions {
  /** cell side (same unit as the points); default: about one point per cell over the box */
  cell?: number;
  /** index only these points (their indices into `points`); default all */
  subset?: ArrayLike<number>;
}

export class PointGrid {
  /** points indexed */
  readonly n: number;
  /** cell side */
  readonly h: number;
  private readonly lo = [0, 0, 0];
  private readonly hi = [0, 0, 0];
  private readonly dims = [1, 1, 1];
  private readonly cellStart: Uint32Array;
  private readonly order: Uint32Array;
  /** squared distance of the last `nearest` answer (Infinity when none) */
  lastDistance2 = Infinity;

  constructor(readonly points: ArrayLike<number> /* x,y,z per point */, opts: PointGridOptions = {}) {
    const all = Math.floor(points.length / 3);
    const idx = opts.subset ? Uint32Array.from(opts.subset) : Uint32Array.from({ length: all }, (_, i) => i);
    idx.sort();
    this.n = idx.length;
    if (opts.cell !== undefined && !(opts.cell > 0)) throw new RangeError(`PointGrid: cell size must be > 0, got ${opts.cell}`);
    const { lo, hi } = this;
    if (this.n > 0) {
      lo.fill(Infinity);
      hi.fill(-Infinity);
      for (const i of idx)
        for (let a = 0; a < 3; a++) {
          const v = points[3 * i + a];
          if (!Number.isFinite(v)) throw new RangeError(`PointGrid: point ${i} has a non-finite coordinate`);
          if (v < lo[a]) lo[a] = v;
          if (v > hi[a]) hi[a] = v;
        }
    }
    const ext = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], 1e-9);
    let h = opts.cell ?? Math.max(ext / Math.max(1, Math.cbrt(this.n)), 1e-9);
    const maxCells = 2 * this.n + 64;
    const count = (s: number) => [0, 1, 2].map((a) => Math.floor((hi[a] - lo[a]) / s) + 1);
    while (count(h).reduce((p, c) => p * c, 1) > maxCells) h *= 1.25;
    this.h = h;
    const d = count(h);
    this.dims[0] = d[0]; this.dims[1] = d[1]; this.dims[2] = d[2];
    const nc = d[0] * d[1] * d[2];
    const cellOfPoint = new Uint32Array(this.n);
    this.cellStart = new Uint32Array(nc + 1);
    for (let k = 0; k < this.n; k++) {
      const i = idx[k];
      const c = this.cellIndex(points[3 * i], points[3 * i + 1], points[3 * i + 2]);
      cellOfPoint[k] = c;
      this.cellStart[c + 1]++;
    }
    for (let c = 0; c < nc; c++) this.cellStart[c + 1] += this.cellStart[c];
    const fill = this.cellStart.slice(0, nc);
    this.order = new Uint32Array(this.n);
    for (let k = 0; k < this.n; k++) this.order[fill[cellOfPoint[k]]++] = idx[k];
  }

  private axisCell(v: number, a: number): number {
    const c = Math.floor((v - this.lo[a]) / this.h);
    return c < 0 ? 0 : c >= this.dims[a] ? this.dims[a] - 1 : c;
  }

  private cellIndex(x: number, y: number, z: number): number {
    return this.axisCell(x, 0) + this.dims[0] * (this.axisCell(y, 1) + this.dims[1] * this.axisCell(z, 2));
  }

  /** Indices of the points within `r` of (x, y, z), inclusive, in ascending order, into `out`. */
  within(x: number, y: number, z: number, r: number, out: number[] = []): number[] {
    out.length = 0;
    if (this.n === 0 || !(r >= 0)) return out;
    const { lo, hi, dims, points: p, order, cellStart } = this;
    const q = [x, y, z];
    for (let a = 0; a < 3; a++) if (q[a] + r < lo[a] || q[a] - r > hi[a]) return out;
    const r2 = r * r;
    const x0 = this.axisCell(x - r, 0), x1 = this.axisCell(x + r, 0);
    const y0 = this.axisCell(y - r, 1), y1 = this.axisCell(y + r, 1);
    const z0 = this.axisCell(z - r, 2), z1 = this.axisCell(z + r, 2);
    for (let cz = z0; cz <= z1; cz++)
      for (let cy = y0; cy <= y1; cy++) {
        const row = dims[0] * (cy + dims[1] * cz);
        for (let k = cellStart[row + x0]; k < cellStart[row + x1 + 1]; k++) {
          const i = order[k];
          const d = (p[3 * i] - x) ** 2 + (p[3 * i + 1] - y) ** 2 + (p[3 * i + 2] - z) ** 2;
          if (d <= r2) out.push(i);
        }
      }
    return out.sort((a, b) => a - b);
  }

  /**
   * Index of the nearest point to (x, y, z) (lowest index on ties), -1 when the grid is empty;
   * its squared distance is left in `lastDistance2`. With `stopBelow` >= 0 the search may stop
   * early once no point nearer than squared distance `stopBelow` can remain: the answer is then
   * the nearest only if it is nearer than that.
   */
  nearest(x: number, y: number, z: number, stopBelow = -1): number {
    this.lastDistance2 = Infinity;
    if (this.n === 0) return -1;
    const { lo, hi, h, dims, points: p, order, cellStart } = this;
    const qx = Math.min(hi[0], Math.max(lo[0], x)), qy = Math.min(hi[1], Math.max(lo[1], y)), qz = Math.min(hi[2], Math.max(lo[2], z));
    const off = (qx - x) ** 2 + (qy - y) ** 2 + (qz - z) ** 2;
    const cx = this.axisCell(qx, 0), cy = this.axisCell(qy, 1), cz = this.axisCell(qz, 2);
    const maxR = Math.max(dims[0], dims[1], dims[2]);
    let best = Infinity, bi = -1;
    for (let r = 0; r <= maxR; r++) {
      const za = Math.max(0, cz - r), zb = Math.min(dims[2] - 1, cz + r);
      const ya = Math.max(0, cy - r), yb = Math.min(dims[1] - 1, cy + r);
      for (let gz = za; gz <= zb; gz++)
        for (let gy = ya; gy <= yb; gy++) {
          const face = Math.abs(gz - cz) === r || Math.abs(gy - cy) === r;
          const row = dims[0] * (gy + dims[1] * gz);
          // on a face of the ring every x; inside it only the two x ends
          for (let gx = cx - r; gx <= cx + r; gx += face || r === 0 ? 1 : 2 * r) {
            if (gx < 0 || gx >= dims[0]) continue;
            for (let k = cellStart[row + gx]; k < cellStart[row + gx + 1]; k++) {
              const i = order[k];
              const d = (p[3 * i] - x) ** 2 + (p[3 * i + 1] - y) ** 2 + (p[3 * i + 2] - z) ** 2;
              if (d < best || (d === best && i < bi)) { best = d; bi = i; }
            }
          }
        }
      const bound = off + (r * h) ** 2;
      if (best < bound || (stopBelow >= 0 && bound >= stopBelow)) break;
    }
    this.lastDistance2 = best;
    return bi;
  }
}
