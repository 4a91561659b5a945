/**
 * The base built slab by slab (z slabs in order), so `wiring edit init` holds one slab of the
 * supervoxels, segmentation and boundary map at a time instead of the whole volume. Supervoxels
 * get dense indices in order of first appearance in raster order (as compactLabels numbers them),
 * so the result equals a whole-volume build byte for byte (tested).
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { PROOFREAD_DEFAULTS } from './defaults.js';

/** Dense supervoxel indices are packed two to a float64 key: at most 2^26 supervoxels. */
export const MAX_SUPERVOXELS = 2 ** 26;
const KEY = 2 ** 27;
/** a face's affinity in units of 2^-20 (sums of up to 2^33 faces stay exact) */
const FIXED = 2 ** 20;

class Grow {
  f = new Float64Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.f.length) { const g = new Float64Array(this.f.length * 2); g.set(this.f); this.f = g; }
    this.f[this.n++] = v;
  }
}

export class BaseBuilder {
  private index = new Map<bigint, number>();
  readonly ids: bigint[] = [0n];
  readonly sizes = new Grow();
  readonly anchors = new Grow();
  readonly starts: bigint[] = [0n];
  private bbox = new Grow();
  private edgeOf = new Map<number, number>();
  readonly edgeA = new Grow();
  readonly edgeB = new Grow();
  readonly area = new Grow();
  readonly cap = new Grow();
  private z = 0;
  /** (supervoxel, mesh cell) pairs as l * nCells + cell */
  private cellPairs = new Set<number>();
  private readonly F: number;
  private readonly nc: Vec3;
  private prevLabels: Uint32Array | null = null;
  private prevBoundary: Float32Array | null = null;

  constructor(readonly grid: { shape: Vec3; offset: Vec3; voxelSize: Vec3 }, readonly faceFloor: number = PROOFREAD_DEFAULTS.faceFloor) {
    this.F = PROOFREAD_DEFAULTS.meshCell;
    this.nc = [0, 1, 2].map((a) => Math.ceil(grid.shape[a] / this.F)) as unknown as Vec3;
    this.sizes.push(0); this.anchors.push(-1);
    for (let k = 0; k < 6; k++) this.bbox.push(0);
  }

  /** Add the next `nz` sections (z from the last slab's end): supervoxel ids, segment ids, boundary (0-1) or null. */
  addSlab(sv: ArrayLike<number | bigint>, seg: ArrayLike<number | bigint>, boundary: Float32Array | null, nz: number): void {
    const [sx, sy, sz] = this.grid.shape;
    const plane = sx * sy;
    const N = plane * nz;
    if (sv.length !== N || seg.length !== N || (boundary && boundary.length !== N)) throw new UsageError(`slab at z ${this.z}: expected ${N} voxels (${sx}x${sy}x${nz}) in the supervoxels, segmentation and boundary map`);
    if (this.z + nz > sz) throw new UsageError(`slab at z ${this.z} of ${nz} sections runs past the volume's ${sz}`);
    const labels = new Uint32Array(N);
    let last: number | bigint | undefined, lastL = 0;
    const base = this.z * plane;
    for (let i = 0, x = 0, y = 0, z = this.z; i < N; i++) {
      const v = sv[i];
      if (v !== last) {
        last = v;
        const id = BigInt(v);
        if (id === 0n) lastL = 0;
        else {
          let l = this.index.get(id);
          if (l === undefined) {
            l = this.ids.length;
            if (l >= MAX_SUPERVOXELS) throw new UsageError(`more than ${MAX_SUPERVOXELS} supervoxels: proofreading supports up to 2^26`);
            this.index.set(id, l);
            this.ids.push(id);
            this.sizes.push(0);
            this.anchors.push(base + i);
            this.starts.push(BigInt(seg[i]));
            this.bbox.push(x); this.bbox.push(y); this.bbox.push(z); this.bbox.push(x + 1); this.bbox.push(y + 1); this.bbox.push(z + 1);
          }
          lastL = l;
        }
      }
      const l = lastL;
      labels[i] = l;
      if (l !== 0) {
        this.sizes.f[l]++;
        const b = 6 * l, B = this.bbox.f;
        if (x < B[b]) B[b] = x;
        if (y < B[b + 1]) B[b + 1] = y;
        if (x >= B[b + 3]) B[b + 3] = x + 1;
        if (y >= B[b + 4]) B[b + 4] = y + 1;
        B[b + 5] = z + 1;
      }
      if (++x === sx) { x = 0; if (++y === sy) { y = 0; z++; } }
    }
    // mesh cells: cell c covers [cF, (c+1)F + 1), so a voxel on a multiple of F is also in the cell before
    const F = this.F, [ncx, ncy] = this.nc, NC = ncx * ncy * this.nc[2];
    let lastKey = -1;
    for (let i = 0, x = 0, y = 0, z = this.z; i < N; i++) {
      const l = labels[i];
      if (l !== 0) {
        const cx = Math.floor(x / F), cy = Math.floor(y / F), cz = Math.floor(z / F);
        const ex = x > 0 && x % F === 0, ey = y > 0 && y % F === 0, ez = z > 0 && z % F === 0;
        if (!ex && !ey && !ez) {
          const key = l * NC + cx + ncx * (cy + ncy * cz);
          if (key !== lastKey) { this.cellPairs.add(key); lastKey = key; }
        } else {
          for (let dz = 0; dz <= (ez ? 1 : 0); dz++) for (let dy = 0; dy <= (ey ? 1 : 0); dy++) for (let dx = 0; dx <= (ex ? 1 : 0); dx++) {
            this.cellPairs.add(l * NC + (cx - dx) + ncx * ((cy - dy) + ncy * (cz - dz)));
          }
          lastKey = -1;
        }
      }
      if (++x === sx) { x = 0; lastKey = -1; if (++y === sy) { y = 0; z++; } }
    }
    // contacts: inside the slab, and between the previous slab's last section and this one's first
    const bv = (arr: Float32Array | null, i: number) => (arr ? arr[i] : 0);
    if (this.prevLabels) {
      const pl = this.prevLabels, pb = this.prevBoundary;
      for (let i = 0; i < plane; i++) this.contact(pl[i], labels[i], bv(pb, i), bv(boundary, i));
    }
    for (let z = 0; z < nz; z++) for (let y = 0; y < sy; y++) {
      const row = z * plane + y * sx;
      for (let x = 0; x < sx; x++) {
        const i = row + x;
        const l = labels[i], b0 = bv(boundary, i);
        if (x + 1 < sx) this.contact(l, labels[i + 1], b0, bv(boundary, i + 1));
        if (y + 1 < sy) this.contact(l, labels[i + sx], b0, bv(boundary, i + sx));
        if (z + 1 < nz) this.contact(l, labels[i + plane], b0, bv(boundary, i + plane));
      }
    }
    this.prevLabels = labels.slice(N - plane);
    this.prevBoundary = boundary ? boundary.slice(N - plane) : null;
    this.z += nz;
  }

  private contact(l: number, m: number, bl: number, bm: number): void {
    if (l === m || l === 0 || m === 0) return;
    const lo = l < m ? l : m, hi = l < m ? m : l;
    const key = lo * KEY + hi;
    let e = this.edgeOf.get(key);
    if (e === undefined) {
      e = this.edgeA.n;
      this.edgeOf.set(key, e);
      this.edgeA.push(lo); this.edgeB.push(hi); this.area.push(0); this.cap.push(0);
    }
    this.area.f[e]++;
    // fixed point, so the sum is exact whatever the order of faces (slab shape does not matter)
    this.cap.f[e] += Math.round(Math.min(1, Math.max(0, 1 - (bl + bm) / 2)) * FIXED);
  }

  /** The arrays of the base (edges sorted by (a, b)); the start roots and links are added by base.ts. */
  finish(): { ids: BigUint64Array; sizes: Float64Array; anchors: Float64Array; bbox: Int32Array; cellStart: Uint32Array; cells: Uint32Array; starts: bigint[]; edgeA: Uint32Array; edgeB: Uint32Array; area: Float64Array; capacity: Float64Array } {
    if (this.z !== this.grid.shape[2]) throw new UsageError(`the slabs cover ${this.z} of ${this.grid.shape[2]} sections`);
    const m = this.edgeA.n;
    const order = Array.from({ length: m }, (_, k) => k).sort((p, q) => this.edgeA.f[p] - this.edgeA.f[q] || this.edgeB.f[p] - this.edgeB.f[q]);
    const edgeA = new Uint32Array(m), edgeB = new Uint32Array(m), area = new Float64Array(m), capacity = new Float64Array(m);
    order.forEach((k, o) => { edgeA[o] = this.edgeA.f[k]; edgeB[o] = this.edgeB.f[k]; area[o] = this.area.f[k]; capacity[o] = this.cap.f[k] / FIXED + this.faceFloor * this.area.f[k]; });
    const NC = this.nc[0] * this.nc[1] * this.nc[2];
    const pairs = Float64Array.from(this.cellPairs).sort();
    const n1 = this.ids.length;
    const cellStart = new Uint32Array(n1 + 1);
    const cells = new Uint32Array(pairs.length);
    for (let k = 0; k < pairs.length; k++) {
      const l = Math.floor(pairs[k] / NC);
      cells[k] = pairs[k] - l * NC;
      cellStart[l + 1]++;
    }
    for (let l = 0; l < n1; l++) cellStart[l + 1] += cellStart[l];
    return {
      cellStart, cells,
      ids: BigUint64Array.from(this.ids), sizes: this.sizes.f.slice(0, this.sizes.n), anchors: this.anchors.f.slice(0, this.anchors.n),
      bbox: Int32Array.from(this.bbox.f.subarray(0, this.bbox.n)), starts: this.starts, edgeA, edgeB, area, capacity,
    };
  }
}
