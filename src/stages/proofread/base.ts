/**
 * The immutable half of a proofread segmentation: the supervoxels, their contact graph (the
 * region adjacency graph: which supervoxels touch, over how many voxel faces, with what boundary
 * values) and the starting state (which contact edges the agglomeration joined). Pure functions
 * on typed arrays; io.ts reads and writes them.
 */
import { UsageError } from '../../core/errors.js';
import type { Vec3 } from '../../core/box.js';

/** Defaults of the proofread stage (the CLI help reads them). */
export const PROOFREAD_DEFAULTS = {
  /** capacity of a contact face = 1 - mean boundary probability of its two voxels, plus this */
  faceFloor: 0.01,
  /** capacity of a link edge a merge adds between supervoxels that do not touch (one face of affinity 1) */
  linkCapacity: 1,
  /** user name recorded when none is given */
  user: 'unknown',
} as const;

export interface Base {
  /** supervoxel ids by dense index 1..n (index 0 unused, id 0) */
  ids: BigUint64Array;
  /** voxels per supervoxel (dense index) */
  sizes: Float64Array;
  /** one voxel inside each supervoxel (its first in raster order), volume-linear index */
  anchors: Float64Array;
  /** bounding box of each supervoxel in volume voxels (x0,y0,z0,x1,y1,z1 half-open, 6 per dense index) */
  bbox: Int32Array;
  /** starting root id of each supervoxel (dense index) */
  startRoots: BigUint64Array;
  /** edges: dense supervoxel indices a < b, faces in contact, capacity for the minimum cut */
  edgeA: Uint32Array;
  edgeB: Uint32Array;
  area: Float64Array;
  capacity: Float64Array;
  /** 1 = joined in the starting state */
  startActive: Uint8Array;
  /** the first new root id an edit may use (larger than every start root and supervoxel id) */
  rootIdBase: bigint;
  shape: Vec3;
  offset: Vec3;
  voxelSize: Vec3;
}

export interface ContactGraph {
  edgeA: Uint32Array;
  edgeB: Uint32Array;
  area: Float64Array;
  capacity: Float64Array;
}

/**
 * Face contacts between dense supervoxel labels (0 = none, never in contact): one edge per
 * touching pair, area = shared voxel faces, capacity = sum over faces of (1 - mean boundary) +
 * faceFloor. Edges sorted by (a, b).
 */
export function contactGraph(labels: Uint32Array, shape: Vec3, boundary: Float32Array | null, faceFloor: number = PROOFREAD_DEFAULTS.faceFloor): ContactGraph {
  const [sx, sy, sz] = shape;
  if (labels.length !== sx * sy * sz) throw new UsageError(`contactGraph: ${labels.length} labels for shape ${shape.join(',')}`);
  if (boundary && boundary.length !== labels.length) throw new UsageError(`contactGraph: boundary map has ${boundary.length} voxels, the supervoxels ${labels.length}`);
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > n) n = labels[i];
  const index = new Map<number, number>();
  let a: number[] = [], b: number[] = [], area: number[] = [], cap: number[] = [];
  const add = (i: number, j: number): void => {
    const l = labels[i], m = labels[j];
    if (l === m || l === 0 || m === 0) return;
    const lo = l < m ? l : m, hi = l < m ? m : l;
    const key = lo * (n + 1) + hi;
    let e = index.get(key);
    if (e === undefined) {
      e = a.length;
      index.set(key, e);
      a.push(lo); b.push(hi); area.push(0); cap.push(0);
    }
    area[e]++;
    const bv = boundary ? (boundary[i] + boundary[j]) / 2 : 0;
    cap[e] += Math.max(0, 1 - bv) + faceFloor;
  };
  const sxy = sx * sy;
  for (let z = 0; z < sz; z++) for (let y = 0; y < sy; y++) {
    const row = z * sxy + y * sx;
    for (let x = 0; x < sx; x++) {
      const i = row + x;
      if (x + 1 < sx) add(i, i + 1);
      if (y + 1 < sy) add(i, i + sx);
      if (z + 1 < sz) add(i, i + sxy);
    }
  }
  const order = a.map((_, k) => k).sort((p, q) => a[p] - a[q] || b[p] - b[q]);
  const g: ContactGraph = { edgeA: new Uint32Array(order.length), edgeB: new Uint32Array(order.length), area: new Float64Array(order.length), capacity: new Float64Array(order.length) };
  order.forEach((k, o) => { g.edgeA[o] = a[k]; g.edgeB[o] = b[k]; g.area[o] = area[k]; g.capacity[o] = cap[k]; });
  a = b = area = cap = [];
  return g;
}

/**
 * The base of a proofread segmentation from dense supervoxel labels (`ids[l]` = original id) and
 * the agglomerated segmentation (the cut of the merge tree) on the same grid: each supervoxel
 * starts in the segment of its first voxel; a contact edge is joined when both ends start in the
 * same segment. A segment whose supervoxels are not all connected through joined contacts gets
 * link edges between its pieces (a root names one connected component).
 */
export function buildBase(
  labels: Uint32Array,
  ids: BigUint64Array,
  segmentation: ArrayLike<number | bigint>,
  boundary: Float32Array | null,
  grid: { shape: Vec3; offset: Vec3; voxelSize: Vec3 },
): Base {
  const n = ids.length - 1;
  const sizes = new Float64Array(n + 1);
  const anchors = new Float64Array(n + 1).fill(-1);
  const bbox = new Int32Array(6 * (n + 1));
  const [sx, sy] = grid.shape;
  for (let i = 0, x = 0, y = 0, z = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l !== 0) {
      const b = 6 * l;
      if (sizes[l] === 0) {
        anchors[l] = i;
        bbox[b] = x; bbox[b + 1] = y; bbox[b + 2] = z; bbox[b + 3] = x + 1; bbox[b + 4] = y + 1; bbox[b + 5] = z + 1;
      } else {
        if (x < bbox[b]) bbox[b] = x;
        if (y < bbox[b + 1]) bbox[b + 1] = y;
        if (x >= bbox[b + 3]) bbox[b + 3] = x + 1;
        if (y >= bbox[b + 4]) bbox[b + 4] = y + 1;
        bbox[b + 5] = z + 1;
      }
      sizes[l]++;
    }
    if (++x === sx) { x = 0; if (++y === sy) { y = 0; z++; } }
  }
  const startRoots = new BigUint64Array(n + 1);
  let maxId = 0n;
  for (let l = 1; l <= n; l++) {
    if (ids[l] > maxId) maxId = ids[l];
    if (anchors[l] < 0) continue;
    const s = BigInt(segmentation[anchors[l]]);
    startRoots[l] = s;
    if (s > maxId) maxId = s;
  }
  // supervoxels outside every segment (segment 0) start as roots of their own, with fresh ids
  let next = maxId + 1n;
  for (let l = 1; l <= n; l++) if (anchors[l] >= 0 && startRoots[l] === 0n) startRoots[l] = next++;
  const g = contactGraph(labels, grid.shape, boundary);
  const startActive = new Uint8Array(g.edgeA.length);
  for (let e = 0; e < g.edgeA.length; e++) startActive[e] = startRoots[g.edgeA[e]] === startRoots[g.edgeB[e]] ? 1 : 0;
  const base: Base = { ids, sizes, anchors, bbox, startRoots, ...g, startActive, rootIdBase: next, ...grid };
  return linkStartPieces(base);
}

/**
 * Every start segment must be one connected component of joined edges: the pieces of a segment
 * whose supervoxels do not touch are joined by link edges (area 0, capacity linkCapacity), so
 * version 0 names exactly the segments of the given segmentation.
 */
function linkStartPieces(base: Base): Base {
  const n = base.ids.length - 1;
  const parent = new Uint32Array(n + 1).map((_, i) => i);
  const find = (x: number): number => { while (parent[x] !== x) { parent[x] = parent[parent[x]]; x = parent[x]; } return x; };
  for (let e = 0; e < base.edgeA.length; e++) if (base.startActive[e]) {
    const ra = find(base.edgeA[e]), rb = find(base.edgeB[e]);
    if (ra !== rb) parent[ra < rb ? rb : ra] = ra < rb ? ra : rb;
  }
  const first = new Map<bigint, number>();
  const links: Array<[number, number]> = [];
  for (let l = 1; l <= n; l++) {
    if (base.anchors[l] < 0) continue;
    const s = base.startRoots[l];
    const f = first.get(s);
    if (f === undefined) { first.set(s, l); continue; }
    const ra = find(f), rb = find(l);
    if (ra !== rb) { links.push([f, l]); parent[ra < rb ? rb : ra] = ra < rb ? ra : rb; }
  }
  if (links.length === 0) return base;
  const m = base.edgeA.length, k = links.length;
  const grow = <T extends Uint32Array | Float64Array | Uint8Array>(a: T, extra: number[]): T => { const o = new (a.constructor as any)(m + k) as T; o.set(a); o.set(extra, m); return o; };
  return {
    ...base,
    edgeA: grow(base.edgeA, links.map((p) => p[0])),
    edgeB: grow(base.edgeB, links.map((p) => p[1])),
    area: grow(base.area, links.map(() => 0)),
    capacity: grow(base.capacity, links.map(() => PROOFREAD_DEFAULTS.linkCapacity)),
    startActive: grow(base.startActive, links.map(() => 1)),
  };
}
