/**
 * The immutable half of a proofread segmentation: the supervoxels, their contact graph (the
 * region adjacency graph: which supervoxels touch, over how many voxel faces, with what boundary
 * values) and the starting state (which contact edges the agglomeration joined). Pure functions
 * on typed arrays; io.ts reads and writes them.
 */
import { BaseBuilder } from './builder.js';
import type { Vec3 } from '../../core/box.js';

export { PROOFREAD_DEFAULTS } from './defaults.js';
import { PROOFREAD_DEFAULTS } from './defaults.js';

export interface Base {
  /** supervoxel ids by dense index 1..n (index 0 unused, id 0) */
  ids: BigUint64Array;
  /** voxels per supervoxel (dense index) */
  sizes: Float64Array;
  /** one voxel inside each supervoxel (its first in raster order), volume-linear index */
  anchors: Float64Array;
  /** bounding box of each supervoxel in volume voxels (x0,y0,z0,x1,y1,z1 half-open, 6 per dense index) */
  bbox: Int32Array;
  /** mesh cells (PROOFREAD_DEFAULTS.meshCell grid) each supervoxel has voxels in: supervoxel l's
   * cell indices (x + nx*(y + ny*z)) are cells[cellStart[l] .. cellStart[l+1]) */
  cellStart: Uint32Array;
  cells: Uint32Array;
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
  const b = new BaseBuilder(grid);
  const sv = new BigUint64Array(labels.length);
  for (let i = 0; i < labels.length; i++) sv[i] = ids[labels[i]];
  b.addSlab(sv, segmentation, boundary, grid.shape[2]);
  return finishBase(b);
}

/** The base from a builder that has seen every slab: start roots, the root id base, link edges. */
export function finishBase(builder: BaseBuilder): Base {
  const f = builder.finish();
  const n = f.ids.length - 1;
  const startRoots = new BigUint64Array(n + 1);
  let maxId = 0n;
  for (let l = 1; l <= n; l++) {
    if (f.ids[l] > maxId) maxId = f.ids[l];
    startRoots[l] = f.starts[l];
    if (f.starts[l] > maxId) maxId = f.starts[l];
  }
  // supervoxels outside every segment (segment 0) start as roots of their own, with fresh ids
  let next = maxId + 1n;
  for (let l = 1; l <= n; l++) if (startRoots[l] === 0n) startRoots[l] = next++;
  const startActive = new Uint8Array(f.edgeA.length);
  for (let e = 0; e < f.edgeA.length; e++) startActive[e] = startRoots[f.edgeA[e]] === startRoots[f.edgeB[e]] ? 1 : 0;
  const base: Base = { ids: f.ids, sizes: f.sizes, anchors: f.anchors, bbox: f.bbox, cellStart: f.cellStart, cells: f.cells, startRoots, edgeA: f.edgeA, edgeB: f.edgeB, area: f.area, capacity: f.capacity, startActive, rootIdBase: next, ...builder.grid };
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
