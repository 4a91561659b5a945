import { type Box, type Vec3, boxShape } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import type { Volume } from '../../core/volume.js';
import { type CompactLabels, type ComponentRuns, type Connectivity, compactLabels, connectedComponents, thresholdRuns } from '../../kernels/components.js';
import { edt } from '../../kernels/edt.js';
import { splitObjects } from '../../kernels/split-objects.js';
import { SPLIT_MIN_SEED } from './objects.js';
import { objectVoxels } from './cleft-features.js';
import { type CleftFilter, cleftScores } from './cleft-filter.js';
import { contactObjects } from './contact-candidates.js';
import { siteObjects } from './contact-sites.js';
import { smallestEigenvector } from './eigen3.js';

/**
 * Synapse and organelle detection on one block (pure: volumes in, rows out).
 *
 * Clefts: voxels whose cleft probability is >= threshold form objects (connected components);
 * a label map (uint32/uint64, e.g. ground-truth clefts) gives one object per label. Objects
 * smaller than minSize voxels are dropped. Partners: one segment on each side of the cleft's
 * plane (centroid + least-spread axis of its voxels), the pair with the most contact with the
 * cleft (voxels within `partnerRadius` nm, each weighted 1 - d / (radius + voxel) and by how much
 * it lies across the cleft rather than beside it: min(1, |offset along the normal| / d), so the
 * segments on either face of the cleft win over ones that only reach its rim, and two fragments
 * of one over-split cell on the same side are never paired; see choosePartners).
 * The presynaptic partner is the one of the two holding more vesicle-cloud voxels (vesicle
 * probability >= vesicleThreshold) within `vesicleRadius` nm of the cleft, counting only the
 * clouds (connected components) that come within `partnerRadius` of the cleft; the postsynaptic
 * partner is the other, across the cleft. Without a vesicle map the direction is unknown: the
 * two partners, smaller id first.
 *
 * Blocks: every object is found on the block grown by a margin and kept by exactly one block,
 * the one holding its anchor (its first voxel in memory order, x fastest). The anchor also
 * gives the object's id (1 + its linear index in the dataset bounds), so results do not depend
 * on the block size as long as the margin holds each object plus the search radii; an object
 * that touches the margin's outer face is counted in `truncated`.
 *
 * Positions are voxel centres in nm: (p + 0.5) * voxelSize, [x, y, z].
 */

export interface SynapseParams {
  /** Cleft probability threshold in [0, 1] (uint8 maps are divided by 255, uint16 by 65535). */
  threshold: number;
  /**
   * Hysteresis: objects are components of p >= lowThreshold that hold a voxel >= threshold
   * (default = threshold: a plain threshold). objects.ts chooses both on training data.
   */
  lowThreshold?: number;
  /** Smallest cleft object kept, voxels. */
  minSize: number;
  /** Vesicle probability threshold in [0, 1]. */
  vesicleThreshold?: number;
  /** Candidate partners lie within this distance of the cleft, nm. */
  partnerRadius: number;
  /** Vesicle voxels count for a segment within this distance of the cleft, nm. */
  vesicleRadius?: number;
  /** nm per voxel [x, y, z]. */
  voxelSize: Vec3;
  /** The whole dataset's voxel bounds (ids and truncation are relative to these). */
  bounds: Box;
  /** 6 (default) or 26. */
  connectivity?: Connectivity;
  /**
   * The cleft object filter (cleft-filter.ts): candidates (the objects of the rule above, size
   * filter first) whose filter score is below its cut are dropped. Its features read the vesicle
   * map (`filterVesicles`, else `vesicles`).
   */
  cleftFilter?: CleftFilter;
  /**
   * When one segment holds the most contact on both faces of a cleft (a predicted segmentation
   * that merged the two partners), still report the synapse: pre and post are that segment, their
   * points one partner radius beyond the cleft on either face (pre = the face with more vesicle-cloud
   * voxels), so the points, and the supervoxels under them, tell the partners apart once the merge
   * is split. Off: such a cleft is paired with the next segment, or dropped (noPartners).
   */
  mergedPartners?: boolean;
}

export interface OrganelleParams {
  threshold: number;
  /** Hysteresis low threshold (see SynapseParams.lowThreshold). */
  lowThreshold?: number;
  minSize: number;
  /** Split touching objects at seeds of p >= split (the carried object rule's split; objects.ts). */
  split?: number;
  /** Smallest split seed, voxels (default SPLIT_MIN_SEED). */
  splitMinSeed?: number;
  voxelSize: Vec3;
  bounds: Box;
  connectivity?: Connectivity;
  kind: 'mitochondrion' | 'vesicle_cloud';
}

/** One synapse in CAVE columns (ids bigint, positions nm). */
export interface DetectedSynapse {
  id: bigint;
  pre_pt_root_id: bigint;
  post_pt_root_id: bigint;
  pre_pt_supervoxel_id?: bigint;
  post_pt_supervoxel_id?: bigint;
  pre_pt_position: Vec3;
  post_pt_position: Vec3;
  ctr_pt_position: Vec3;
  size: number;
}

export interface DetectedOrganelle {
  id: bigint;
  kind: 'mitochondrion' | 'vesicle_cloud';
  pt_position: Vec3;
  size: number;
  host_root_id: bigint;
}

/**
 * Default partner search radius, nm: 3 voxels along x, and at least one section plus one pixel so
 * that a cleft lying in a section (anisotropic voxels) reaches the partners above and below it.
 * Chosen on phantom seed 4 (docs/ACCURACY.md "Synapses on the phantom").
 */
export function defaultPartnerRadius(vs: Vec3): number {
  return Math.max(3 * vs[0], vs[2] + vs[0]);
}

/** Probability scale of a map's dtype: values are divided by this to land in [0, 1]. */
export function probabilityScale(v: Volume): number {
  switch (v.dtype) {
    case 'uint8':
      return 255;
    case 'uint16':
      return 65535;
    case 'float32':
      return 1;
    default:
      throw new UsageError(`a probability map must be uint8, uint16 or float32 (or a uint32/uint64 label map), got ${v.dtype}`);
  }
}

/**
 * Mask of voxels with probability >= threshold. A label map (uint32 / uint64: objects such as
 * ground-truth clefts or vesicle clouds) gives its non-zero voxels, whatever the threshold.
 */
export function thresholdMap(v: Volume, threshold: number): Uint8Array {
  if (!(threshold >= 0 && threshold <= 1)) throw new UsageError(`threshold ${threshold} must lie in [0, 1]`);
  if (v.dtype === 'uint32' || v.dtype === 'uint64') {
    const out = new Uint8Array(v.voxels);
    if (v.data instanceof BigUint64Array) {
      const d = v.data;
      for (let i = 0; i < out.length; i++) out[i] = d[i] !== 0n ? 1 : 0;
    } else {
      const d = v.data as Uint32Array;
      for (let i = 0; i < out.length; i++) out[i] = d[i] !== 0 ? 1 : 0;
    }
    return out;
  }
  const scale = probabilityScale(v);
  const data = v.data as Uint8Array | Uint16Array | Float32Array;
  const n = v.voxels;
  const t = threshold * scale;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = data[i] >= t ? 1 : 0;
  return out;
}

interface Objects {
  shape: Vec3;
  count: number;
  /** Contact-site candidates: each object's site features (contact-sites.ts). */
  siteFeatures?: Float32Array;
  labels: Uint32Array;
  /** CSR: voxels of object l are idx[start[l] .. start[l+1]) (l = 1..count), in memory order. */
  start: Int32Array;
  idx: Int32Array;
}

/**
 * Objects (CSR voxel lists in memory order, and the label volume on first use) from components
 * given as runs, keeping the components l with keep[l] (all when absent) renumbered 1..n in order:
 * what csrObjects(connected components, with the dropped ones zeroed and the rest renumbered)
 * gives, with work per run and per foreground voxel instead of passes over the whole block.
 */
function runObjects(c: ComponentRuns, shape: Vec3, keep?: Uint8Array): Objects {
  const { rs, re, final, runs } = c;
  const remap = new Uint32Array(c.count + 1);
  let n = 0;
  for (let l = 1; l <= c.count; l++) if (!keep || keep[l]) remap[l] = ++n;
  const start = new Int32Array(n + 2);
  for (let r = 0; r < runs; r++) {
    const m = remap[final[r]];
    if (m) start[m + 1] += re[r] - rs[r];
  }
  for (let l = 1; l <= n + 1; l++) start[l] += start[l - 1];
  const fill = start.slice();
  const idx = new Int32Array(start[n + 1]);
  for (let r = 0; r < runs; r++) {
    const m = remap[final[r]];
    if (!m) continue;
    let k = fill[m];
    for (let i = rs[r]; i < re[r]; i++) idx[k++] = i;
    fill[m] = k;
  }
  // the label volume only when asked for (the cleft filter's features): most blocks never need it
  let labels: Uint32Array | undefined;
  return {
    shape,
    count: n,
    start,
    idx,
    get labels(): Uint32Array {
      if (!labels) {
        labels = new Uint32Array(shape[0] * shape[1] * shape[2]);
        for (let l = 1; l <= n; l++) for (let k = start[l]; k < start[l + 1]; k++) labels[idx[k]] = l;
      }
      return labels;
    },
  };
}

/** The components of p >= threshold as runs (thresholdMap's comparison, without the mask). */
function probabilityRuns(v: Volume, threshold: number, conn: Connectivity): ComponentRuns {
  if (!(threshold >= 0 && threshold <= 1)) throw new UsageError(`threshold ${threshold} must lie in [0, 1]`);
  return thresholdRuns(v.data as Uint8Array | Uint16Array | Float32Array, threshold * probabilityScale(v), v.shape, { connectivity: conn });
}

/**
 * The objects of a map: a label map (uint32/uint64, e.g. ground-truth clefts or organelles)
 * gives one object per label, connected or not; a probability map gives the connected
 * components of its thresholded mask.
 */
function mapObjects(v: Volume, threshold: number, conn: Connectivity, low = threshold, split?: { level: number; minSeed: number }): Objects {
  if (v.dtype === 'uint32' || v.dtype === 'uint64') {
    const c = compactLabels(v.data as Uint32Array | BigUint64Array);
    return csrObjects(c.labels, c.count, v.shape);
  }
  if (!(low <= threshold)) throw new UsageError(`low threshold ${low} must not exceed the threshold ${threshold}`);
  if (low === threshold && !split) return runObjects(probabilityRuns(v, threshold, conn), v.shape);
  // hysteresis: components of the low mask (split at seeds of p >= split.level: the object rule's
  // split, src/stages/synapses/objects.ts) that reach the high threshold somewhere
  if (split) {
    let { labels, count } = connectedComponents(thresholdMap(v, low), v.shape, { connectivity: conn });
    if (!(split.level >= low && split.level <= 1)) throw new UsageError(`object split level ${split.level} must lie in [low ${low}, 1]`);
    const scale = probabilityScale(v);
    const d = v.data as Uint8Array | Uint16Array | Float32Array;
    const inv = new Float32Array(v.voxels);
    for (let i = 0; i < inv.length; i++) inv[i] = 1 - d[i] / scale;
    ({ labels, count } = splitObjects(labels, inv, thresholdMap(v, split.level), v.shape, { minSeed: split.minSeed, connectivity: conn }));
    const high = thresholdMap(v, threshold);
    const keep = new Uint8Array(count + 1);
    for (let i = 0; i < labels.length; i++) if (high[i]) keep[labels[i]] = 1;
    const remap = new Uint32Array(count + 1);
    let n = 0;
    for (let l = 1; l <= count; l++) if (keep[l]) remap[l] = ++n;
    for (let i = 0; i < labels.length; i++) labels[i] = remap[labels[i]];
    return csrObjects(labels, n, v.shape);
  }
  if (!(threshold >= 0 && threshold <= 1)) throw new UsageError(`threshold ${threshold} must lie in [0, 1]`);
  // without a split the components stay runs: a component is kept when one of its voxels reaches
  // the high threshold (the comparison thresholdMap makes), found by scanning its runs' voxels only
  const c = probabilityRuns(v, low, conn);
  const t = threshold * probabilityScale(v);
  const d = v.data as Uint8Array | Uint16Array | Float32Array;
  const keep = new Uint8Array(c.count + 1);
  for (let r = 0; r < c.runs; r++) {
    const l = c.final[r];
    if (keep[l]) continue;
    for (let i = c.rs[r], e = c.re[r]; i < e; i++) {
      if (d[i] >= t) {
        keep[l] = 1;
        break;
      }
    }
  }
  return runObjects(c, v.shape, keep);
}

/** Hysteresis objects of a cleft probability map cut along the contacts of the segments (no size filter: the caller's). */
function pairObjects(v: Volume, seg: Uint32Array, threshold: number, low: number, conn: Connectivity): Objects {
  if (v.dtype === 'uint32' || v.dtype === 'uint64') throw new UsageError('the cleft filter applies to a cleft probability map, not to a label map');
  const c = contactObjects(asProbability(v), seg, v.shape, { high: threshold, low, minSize: 1 }, conn);
  return csrObjects(c.labels, c.count, v.shape);
}

/** Contact-site candidates (contact-sites.ts; patch grid in dataset coordinates from the read box's corner; no size filter: the caller's). */
function siteCandidates(v: Volume, seg: Uint32Array, threshold: number, low: number, patchNm: number, vs: Vec3): Objects {
  if (v.dtype === 'uint32' || v.dtype === 'uint64') throw new UsageError('the cleft filter applies to a cleft probability map, not to a label map');
  const c = siteObjects(asProbability(v), seg, v.shape, vs, { high: threshold, low, minSize: 1, patchNm }, v.box.min);
  return { ...csrObjects(c.labels, c.count, v.shape), siteFeatures: c.siteFeatures };
}

function csrObjects(labels: Uint32Array, count: number, shape: Vec3): Objects {
  return { shape, labels, ...objectVoxels(labels, count) };
}

/** Global voxel coordinate of linear index i of a block at `min` with `shape`. */
function coord(i: number, shape: Vec3, min: Vec3): [number, number, number] {
  const x = i % shape[0];
  const y = Math.floor(i / shape[0]) % shape[1];
  const z = Math.floor(i / (shape[0] * shape[1]));
  return [x + min[0], y + min[1], z + min[2]];
}

function nm(p: readonly number[], vs: Vec3): Vec3 {
  return [(p[0] + 0.5) * vs[0], (p[1] + 0.5) * vs[1], (p[2] + 0.5) * vs[2]];
}

function inBox(p: readonly number[], b: Box): boolean {
  return p[0] >= b.min[0] && p[0] < b.max[0] && p[1] >= b.min[1] && p[1] < b.max[1] && p[2] >= b.min[2] && p[2] < b.max[2];
}

/** 1 + linear index of global voxel p in the dataset bounds. */
export function anchorId(p: readonly number[], bounds: Box): bigint {
  const s = boxShape(bounds);
  return 1n + BigInt(p[0] - bounds.min[0]) + BigInt(s[0]) * (BigInt(p[1] - bounds.min[1]) + BigInt(s[1]) * BigInt(p[2] - bounds.min[2]));
}

/** Does object l touch a face of the read box that is not a face of the dataset? */
function truncated(o: Objects, l: number, readBox: Box, bounds: Box): boolean {
  const s = o.shape;
  for (let k = o.start[l]; k < o.start[l + 1]; k++) {
    const i = o.idx[k];
    const x = i % s[0];
    const y = Math.floor(i / s[0]) % s[1];
    const z = Math.floor(i / (s[0] * s[1]));
    if ((x === 0 && readBox.min[0] > bounds.min[0]) || (x === s[0] - 1 && readBox.max[0] < bounds.max[0])) return true;
    if ((y === 0 && readBox.min[1] > bounds.min[1]) || (y === s[1] - 1 && readBox.max[1] < bounds.max[1])) return true;
    if ((z === 0 && readBox.min[2] > bounds.min[2]) || (z === s[2] - 1 && readBox.max[2] < bounds.max[2])) return true;
  }
  return false;
}

/** Bounding box (local voxel coords, half-open) of object l grown by r voxels, clipped to the block. */
function grownBox(o: Objects, l: number, r: Vec3): { lo: number[]; hi: number[] } {
  const s = o.shape;
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let k = o.start[l]; k < o.start[l + 1]; k++) {
    const i = o.idx[k];
    const c = [i % s[0], Math.floor(i / s[0]) % s[1], Math.floor(i / (s[0] * s[1]))];
    for (let a = 0; a < 3; a++) {
      if (c[a] < lo[a]) lo[a] = c[a];
      if (c[a] + 1 > hi[a]) hi[a] = c[a] + 1;
    }
  }
  for (let a = 0; a < 3; a++) {
    lo[a] = Math.max(0, lo[a] - r[a]);
    hi[a] = Math.min(s[a], hi[a] + r[a]);
  }
  return { lo, hi };
}

/** The object voxel nearest (in nm) to the object's centroid: a position that lies on the object. */
function centralVoxel(o: Objects, l: number, vs: Vec3): number {
  const s = o.shape;
  let cx = 0;
  let cy = 0;
  let cz = 0;
  const n = o.start[l + 1] - o.start[l];
  for (let k = o.start[l]; k < o.start[l + 1]; k++) {
    const i = o.idx[k];
    cx += i % s[0];
    cy += Math.floor(i / s[0]) % s[1];
    cz += Math.floor(i / (s[0] * s[1]));
  }
  cx /= n;
  cy /= n;
  cz /= n;
  let best = o.idx[o.start[l]];
  let bd = Infinity;
  for (let k = o.start[l]; k < o.start[l + 1]; k++) {
    const i = o.idx[k];
    const d = ((i % s[0]) - cx) ** 2 * vs[0] ** 2 + ((Math.floor(i / s[0]) % s[1]) - cy) ** 2 * vs[1] ** 2 + (Math.floor(i / (s[0] * s[1])) - cz) ** 2 * vs[2] ** 2;
    if (d < bd) {
      bd = d;
      best = i;
    }
  }
  return best;
}

/**
 * Plane of cleft object l: centroid and unit normal (nm), the normal being the axis of least
 * spread of its voxels (smallest eigenvector of their covariance, Jacobi rotations). A cleft is a
 * sheet between two cells, so its partners lie on either side of this plane.
 */
export function cleftPlane(o: { shape: Vec3; start: Int32Array; idx: Int32Array }, l: number, vs: Vec3): { c: Vec3; n: Vec3 } {
  const s = o.shape;
  const n = o.start[l + 1] - o.start[l];
  let mx = 0;
  let my = 0;
  let mz = 0;
  for (let k = o.start[l]; k < o.start[l + 1]; k++) {
    const i = o.idx[k];
    mx += (i % s[0]) + 0.5;
    my += (Math.floor(i / s[0]) % s[1]) + 0.5;
    mz += Math.floor(i / (s[0] * s[1])) + 0.5;
  }
  mx = (mx / n) * vs[0];
  my = (my / n) * vs[1];
  mz = (mz / n) * vs[2];
  const m = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (let k = o.start[l]; k < o.start[l + 1]; k++) {
    const i = o.idx[k];
    const d = [((i % s[0]) + 0.5) * vs[0] - mx, ((Math.floor(i / s[0]) % s[1]) + 0.5) * vs[1] - my, (Math.floor(i / (s[0] * s[1])) + 0.5) * vs[2] - mz];
    for (let r = 0; r < 3; r++) for (let q = 0; q < 3; q++) m[3 * r + q] += d[r] * d[q];
  }
  return { c: [mx, my, mz], n: smallestEigenvector(m) };
}

export { smallestEigenvector };

/**
 * The two partner segments of a cleft: one on each side of its plane, the pair with the most
 * (distance-weighted) contact — the best segment on one side with the best *other* segment on the
 * other side. So two fragments of one over-split cell on the same side are never paired. When one
 * side touches no segment (a cleft at the volume's edge, or too small to have a plane), the two
 * segments with the most contact overall. Ties go to the smaller id.
 */
export function choosePartners(contact: Map<number, { w: number; wPos: number }>, idOf: (lab: number) => bigint): [number, number] {
  let bestScore = -Infinity;
  let pair: [number, number] = [0, 0];
  const labs = [...contact.keys()].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  for (const a of labs) {
    const pa = contact.get(a)!.wPos;
    if (!(pa > 0)) continue;
    for (const b of labs) {
      if (b === a) continue;
      const nb = contact.get(b)!.w - contact.get(b)!.wPos;
      if (!(nb > 0)) continue;
      const sc = pa + nb;
      if (sc > bestScore) {
        bestScore = sc;
        pair = [a, b];
      }
    }
  }
  if (bestScore > -Infinity) {
    // the side with more contact first (as the overall ranking would put it)
    return contact.get(pair[0])!.w >= contact.get(pair[1])!.w ? pair : [pair[1], pair[0]];
  }
  const byContact = (a: number, b: number) => contact.get(b)!.w - contact.get(a)!.w || (idOf(a) < idOf(b) ? -1 : 1);
  const [a, b] = labs.sort(byContact);
  return [a, b];
}

/**
 * The segment holding the most contact on both faces of a cleft (wPos on the + face, w - wPos on
 * the - face), when one does: a segmentation that merged the partners; 0 otherwise.
 */
export function mergedSegment(contact: Map<number, { w: number; wPos: number }>): number {
  let pos = 0, wp = 0, neg = 0, wn = 0;
  for (const [lab, c] of contact) {
    if (c.wPos > wp) {
      wp = c.wPos;
      pos = lab;
    }
    if (c.w - c.wPos > wn) {
      wn = c.w - c.wPos;
      neg = lab;
    }
  }
  return pos !== 0 && pos === neg ? pos : 0;
}

export interface SynapseBlockInputs {
  clefts: Volume;
  segmentation: Volume;
  vesicles?: Volume;
  supervoxels?: Volume;
  /** The vesicle map the cleft filter's features read when `vesicles` is not given. */
  filterVesicles?: Volume;
}

export interface SynapseBlockResult {
  synapses: DetectedSynapse[];
  /** Cleft objects (kept by this block) dropped for size, by the cleft filter (when one is given), or with fewer than two partner segments. */
  dropped: { small: number; noPartners: number; filtered?: number };
  /** Kept objects that touch the read box's outer face: enlarge the margin. */
  truncated: number;
}

function checkSameBox(a: Volume, b: Volume, what: string): void {
  for (let i = 0; i < 3; i++) {
    if (a.box.min[i] !== b.box.min[i] || a.box.max[i] !== b.box.max[i]) throw new UsageError(`${what} covers a different box than the cleft map`);
  }
}

/**
 * Detect synapses in `box` from inputs covering `readBox` (box + margin). Pure function.
 * The dense segment labels (compactLabels of the segmentation), the vesicle mask and its clouds
 * are made on first use: a block whose candidates all fall to the size filter (or outside the
 * block) never needs them.
 */
export function detectSynapses(inp: SynapseBlockInputs, box: Box, p: SynapseParams): SynapseBlockResult {
  const { clefts, segmentation: seg } = inp;
  checkSameBox(clefts, seg, 'segmentation');
  if (inp.vesicles) checkSameBox(clefts, inp.vesicles, 'vesicle map');
  if (inp.supervoxels) checkSameBox(clefts, inp.supervoxels, 'supervoxels');
  if (!(p.partnerRadius > 0)) throw new UsageError(`partner radius ${p.partnerRadius} nm must be positive`);
  const readBox = clefts.box;
  const shape = clefts.shape;
  const vs = p.voxelSize;
  let segC: CompactLabels | undefined;
  const dense = (): CompactLabels => (segC ??= compactLabels(seg.data as Uint32Array | BigUint64Array));
  // a filter whose candidates are cut along the segmentation's contacts (contact-candidates.ts) gets them so
  // and one whose candidates are the segmentation's contact sites (contact-sites.ts) gets those
  const fc = p.cleftFilter?.candidates;
  const o = fc?.patchNm !== undefined
    ? siteCandidates(clefts, dense().labels, p.threshold, p.lowThreshold ?? p.threshold, fc.patchNm, vs)
    : fc?.bySegmentPair ? pairObjects(clefts, dense().labels, p.threshold, p.lowThreshold ?? p.threshold, p.connectivity ?? 6) : mapObjects(clefts, p.threshold, p.connectivity ?? 6, p.lowThreshold);
  const filterScores = p.cleftFilter ? scoreCandidates(p.cleftFilter, o, clefts, inp.filterVesicles ?? inp.vesicles, dense().labels, vs) : undefined;
  let filtered = 0;
  // made when the first candidate passes the size filter and the cleft filter
  let segIds: BigUint64Array | undefined;
  let segL: Uint32Array = new Uint32Array(0);
  let ves: Uint8Array | undefined;
  let vesComp: Uint32Array | undefined;
  const svData = inp.supervoxels?.data as Uint32Array | BigUint64Array | undefined;
  const vesR = p.vesicleRadius ?? p.partnerRadius * 4;
  const R = Math.max(p.partnerRadius, inp.vesicles ? vesR : 0);
  const rVox: Vec3 = [Math.ceil(R / vs[0]), Math.ceil(R / vs[1]), Math.ceil(R / vs[2])];
  const out: DetectedSynapse[] = [];
  let small = 0;
  let noPartners = 0;
  let trunc = 0;
  for (let l = 1; l <= o.count; l++) {
    const anchor = coord(o.idx[o.start[l]], shape, readBox.min);
    if (!inBox(anchor, box)) continue;
    const size = o.start[l + 1] - o.start[l];
    if (size < p.minSize) {
      small++;
      continue;
    }
    if (filterScores && filterScores[l - 1] < p.cleftFilter!.cut) {
      filtered++;
      continue;
    }
    if (!segIds) {
      ({ ids: segIds, labels: segL } = dense());
      ves = inp.vesicles ? thresholdMap(inp.vesicles, p.vesicleThreshold ?? 0.5) : undefined;
      vesComp = ves ? connectedComponents(ves, shape, { connectivity: 26 }).labels : undefined;
    }
    if (truncated(o, l, readBox, p.bounds)) trunc++;
    // distance (nm) of every voxel of the grown bounding box to this cleft object
    const { lo, hi } = grownBox(o, l, rVox);
    const cs: Vec3 = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    const notCleft = new Uint8Array(cs[0] * cs[1] * cs[2]).fill(1);
    for (let k = o.start[l]; k < o.start[l + 1]; k++) {
      const i = o.idx[k];
      const x = (i % shape[0]) - lo[0];
      const y = (Math.floor(i / shape[0]) % shape[1]) - lo[1];
      const z = Math.floor(i / (shape[0] * shape[1])) - lo[2];
      notCleft[x + cs[0] * (y + cs[1] * z)] = 0;
    }
    const dist = edt(notCleft, cs, { sampling: vs });
    // the cleft's plane: centroid and normal (least-variance axis, nm); the partners lie on either side
    const { c: cen, n: nrm } = cleftPlane(o, l, vs);
    // contact (voxels within partnerRadius) and vesicle evidence per segment label
    // contact weight: voxels of a segment within partnerRadius, nearer ones weighing more
    const vMin = Math.min(vs[0], vs[1], vs[2]);
    const wScale = 1 / (p.partnerRadius + vMin);
    const contact = new Map<number, { n: number; w: number; wPos: number; best: number; bestD: number }>();
    const vesicle = new Map<number, number>();
    const touching = new Set<number>();
    for (let z = 0; z < cs[2]; z++)
      for (let y = 0; y < cs[1]; y++)
        for (let x = 0; x < cs[0]; x++) {
          const j = x + cs[0] * (y + cs[1] * z);
          const d = dist[j];
          if (d > R) continue;
          const i = x + lo[0] + shape[0] * (y + lo[1] + shape[1] * (z + lo[2]));
          const lab = segL[i];
          if (lab === 0) continue;
          if (d <= p.partnerRadius) {
            let c = contact.get(lab);
            if (!c) contact.set(lab, (c = { n: 0, w: 0, wPos: 0, best: i, bestD: Infinity }));
            c.n++;
            const side = ((x + lo[0] + 0.5) * vs[0] - cen[0]) * nrm[0] + ((y + lo[1] + 0.5) * vs[1] - cen[1]) * nrm[1] + ((z + lo[2] + 0.5) * vs[2] - cen[2]) * nrm[2];
            // across the cleft (offset along the normal at least the distance to the cleft) weighs
            // fully; beside its rim, in its plane, next to nothing: partners face each other across it
            const across = Math.min(1, (Math.abs(side) + vMin / 2) / (d + vMin / 2));
            const wv = (1 - d * wScale) * across;
            c.w += wv;
            if (side > 0) c.wPos += wv;
            else if (side === 0) c.wPos += wv / 2;
            if (d < c.bestD) {
              c.bestD = d;
              c.best = i;
            }
          }
          if (ves && ves[i] && d <= p.partnerRadius) touching.add(vesComp![i]);
        }
    // vesicle evidence: voxels (within vesicleRadius) of the vesicle clouds that come within
    // partnerRadius of the cleft, per segment; a cloud of another synapse nearby does not count
    if (ves && touching.size) {
      for (let z = 0; z < cs[2]; z++)
        for (let y = 0; y < cs[1]; y++)
          for (let x = 0; x < cs[0]; x++) {
            const d = dist[x + cs[0] * (y + cs[1] * z)];
            if (d > vesR) continue;
            const i = x + lo[0] + shape[0] * (y + lo[1] + shape[1] * (z + lo[2]));
            const lab = segL[i];
            if (lab === 0 || !ves[i] || !touching.has(vesComp![i])) continue;
            vesicle.set(lab, (vesicle.get(lab) ?? 0) + 1);
          }
    }
    const faceVesicles = (lab: number): [number, number] => {
      const f: [number, number] = [0, 0];
      for (let z = 0; z < cs[2]; z++)
        for (let y = 0; y < cs[1]; y++)
          for (let x = 0; x < cs[0]; x++) {
            if (dist[x + cs[0] * (y + cs[1] * z)] > vesR) continue;
            const i = x + lo[0] + shape[0] * (y + lo[1] + shape[1] * (z + lo[2]));
            if (segL[i] !== lab || !ves![i] || !touching.has(vesComp![i])) continue;
            const side = ((x + lo[0] + 0.5) * vs[0] - cen[0]) * nrm[0] + ((y + lo[1] + 0.5) * vs[1] - cen[1]) * nrm[1] + ((z + lo[2] + 0.5) * vs[2] - cen[2]) * nrm[2];
            if (side > 0) f[0]++;
            else if (side < 0) f[1]++;
          }
      return f;
    };
    const cands = [...contact.keys()];
    const merged = p.mergedPartners ? mergedSegment(contact) : 0;
    if (cands.length < 2 && !merged) {
      noPartners++;
      continue;
    }
    const ids = segIds;
    const idOf = (lab: number) => ids[lab];
    const [a, b] = merged ? [merged, merged] : choosePartners(contact, idOf);
    const normalPoint = (lab: number, face?: 1 | -1): number => {
      const c = contact.get(lab)!;
      const sign = face ?? (c.wPos >= c.w - c.wPos ? 1 : -1);
      const t = [cen[0] + sign * nrm[0] * p.partnerRadius, cen[1] + sign * nrm[1] * p.partnerRadius, cen[2] + sign * nrm[2] * p.partnerRadius];
      let best = c.best;
      let bd = Infinity;
      for (let z = 0; z < cs[2]; z++)
        for (let y = 0; y < cs[1]; y++)
          for (let x = 0; x < cs[0]; x++) {
            if (dist[x + cs[0] * (y + cs[1] * z)] > p.partnerRadius) continue;
            const i = x + lo[0] + shape[0] * (y + lo[1] + shape[1] * (z + lo[2]));
            if (segL[i] !== lab) continue;
            const d = ((x + lo[0] + 0.5) * vs[0] - t[0]) ** 2 + ((y + lo[1] + 0.5) * vs[1] - t[1]) ** 2 + ((z + lo[2] + 0.5) * vs[2] - t[2]) ** 2;
            if (d < bd) {
              bd = d;
              best = i;
            }
          }
      return best;
    };
    let pre: number;
    let post: number;
    // a merged pair: the faces of the one segment are the partners (pre = the face with more vesicle voxels)
    let faces: [1 | -1, 1 | -1] | undefined;
    if (merged) {
      const [vPos, vNeg] = ves ? faceVesicles(merged) : [0, 0];
      if (ves && vPos === 0 && vNeg === 0) {
        noPartners++;
        continue;
      }
      faces = vNeg > vPos ? [-1, 1] : [1, -1];
      pre = post = merged;
    } else if (ves) {
      // pre: the partner with more vesicle voxels near the cleft (ties: more contact)
      const va = vesicle.get(a) ?? 0;
      const vb = vesicle.get(b) ?? 0;
      if (va === 0 && vb === 0) {
        noPartners++;
        continue;
      }
      [pre, post] = vb > va ? [b, a] : [a, b];
    } else {
      [pre, post] = idOf(a) < idOf(b) ? [a, b] : [b, a];
    }
    // partner points: along the cleft's normal, the partner's voxel (within partnerRadius of the
    // cleft) nearest to the point partnerRadius beyond the cleft's centre on the partner's side, so
    // the point lies inside the partner across the cleft rather than on the membrane at the rim
    const point = (lab: number, face?: 1 | -1) => coord(normalPoint(lab, face), shape, readBox.min);
    const prePt = point(pre!, faces?.[0]);
    const postPt = point(post!, faces?.[1]);
    const ctr = coord(centralVoxel(o, l, vs), shape, readBox.min);
    const row: DetectedSynapse = {
      id: anchorId(anchor, p.bounds),
      pre_pt_root_id: idOf(pre),
      post_pt_root_id: idOf(post),
      pre_pt_position: nm(prePt, vs),
      post_pt_position: nm(postPt, vs),
      ctr_pt_position: nm(ctr, vs),
      size,
    };
    if (svData) {
      row.pre_pt_supervoxel_id = BigInt(svData[contact.get(pre)!.best]);
      row.post_pt_supervoxel_id = BigInt(svData[contact.get(post)!.best]);
    }
    out.push(row);
  }
  return { synapses: out, dropped: { small, noPartners, ...(filterScores ? { filtered } : {}) }, truncated: trunc };
}

/** A map's values as probabilities in [0, 1]. */
function asProbability(v: Volume): Float32Array {
  const s = probabilityScale(v);
  const d = v.data as Uint8Array | Uint16Array | Float32Array;
  return s === 1 && d instanceof Float32Array ? d : Float32Array.from(d, (x) => x / s);
}

/**
 * Cleft filter scores of every object (row l - 1 = object l); the filter needs a probability map of
 * clefts and of vesicles, and a filter trained with segmentation features reads the segment labels.
 */
function scoreCandidates(f: CleftFilter, o: Objects, clefts: Volume, vesicles: Volume | undefined, segmentation: Uint32Array, vs: Vec3): Float32Array {
  if (clefts.dtype === 'uint32' || clefts.dtype === 'uint64') throw new UsageError('the cleft filter applies to a cleft probability map, not to a label map');
  if (!vesicles) throw new UsageError('the cleft filter needs a vesicle probability map (its features read the vesicle clouds beside each cleft)');
  checkSameBox(clefts, vesicles, 'vesicle map');
  return cleftScores(f, o.labels, o, { cleft: asProbability(clefts), vesicle: asProbability(vesicles), segmentation }, clefts.shape, vs, o.siteFeatures);
}

/**
 * Organelles (mitochondria or vesicle clouds) as objects: threshold, connected components,
 * size filter; host = the segment under most of the object's voxels (0 if none). Ids are
 * 2 * (anchor index) + (0 mitochondrion | 1 vesicle cloud) + 1, unique across both kinds.
 */
export function detectOrganelles(map: Volume, segmentation: Volume, box: Box, p: OrganelleParams): { organelles: DetectedOrganelle[]; small: number; truncated: number } {
  checkSameBox(map, segmentation, 'segmentation');
  const readBox = map.box;
  const shape = map.shape;
  const o = mapObjects(map, p.threshold, p.connectivity ?? 6, p.lowThreshold ?? p.threshold, p.split === undefined ? undefined : { level: p.split, minSeed: p.splitMinSeed ?? SPLIT_MIN_SEED });
  const out: DetectedOrganelle[] = [];
  let small = 0;
  let trunc = 0;
  const host = new HostCounter(segmentation);
  for (let l = 1; l <= o.count; l++) {
    const anchor = coord(o.idx[o.start[l]], shape, readBox.min);
    if (!inBox(anchor, box)) continue;
    const size = o.start[l + 1] - o.start[l];
    if (size < p.minSize) {
      small++;
      continue;
    }
    if (truncated(o, l, readBox, p.bounds)) trunc++;
    const a = anchorId(anchor, p.bounds);
    out.push({
      id: 2n * (a - 1n) + (p.kind === 'vesicle_cloud' ? 1n : 0n) + 1n,
      kind: p.kind,
      pt_position: nm(coord(centralVoxel(o, l, p.voxelSize), shape, readBox.min), p.voxelSize),
      size,
      host_root_id: host.majority(o.idx, o.start[l], o.start[l + 1]),
    });
  }
  return { organelles: out, small, truncated: trunc };
}

/**
 * The host of an object: the segment id under most of its voxels (ties: the smaller id; 0 when
 * none), counted on the segmentation's own ids (uint64 as two 32-bit words, no bigint per voxel),
 * so organelles need no dense relabelling of the block. An object lies in a few segments, so the
 * counts are a short list.
 */
class HostCounter {
  /** uint64 ids as little-endian 32-bit words (low at 2i, high at 2i + 1), or the ids as numbers. */
  private readonly words?: Uint32Array;
  private readonly plain?: ArrayLike<number>;
  private readonly hiList: number[] = [];
  private readonly loList: number[] = [];
  private readonly nList: number[] = [];

  constructor(seg: Volume) {
    const d = seg.data;
    if (d instanceof BigUint64Array) this.words = new Uint32Array(d.buffer, d.byteOffset, d.length * 2);
    else this.plain = d as ArrayLike<number>;
  }

  /** Majority id under voxels idx[s0..s1). */
  majority(idx: Int32Array, s0: number, s1: number): bigint {
    const { hiList, loList, nList, words, plain } = this;
    hiList.length = loList.length = nList.length = 0;
    let last = -1;
    for (let k = s0; k < s1; k++) {
      const i = idx[k];
      const a = words ? words[2 * i] : plain![i];
      const b = words ? words[2 * i + 1] : 0;
      if (a === 0 && b === 0) continue;
      if (last >= 0 && loList[last] === a && hiList[last] === b) {
        nList[last]++;
        continue;
      }
      let j = 0;
      while (j < loList.length && (loList[j] !== a || hiList[j] !== b)) j++;
      if (j === loList.length) {
        if (!words && !(a > 0 && Number.isInteger(a))) throw new UsageError(`segment id ${a} is not a non-negative integer`);
        loList.push(a);
        hiList.push(b);
        nList.push(0);
      }
      nList[j]++;
      last = j;
    }
    let best = -1;
    for (let j = 0; j < nList.length; j++) {
      if (best < 0 || nList[j] > nList[best] || (nList[j] === nList[best] && (hiList[j] < hiList[best] || (hiList[j] === hiList[best] && loList[j] < loList[best])))) best = j;
    }
    if (best < 0) return 0n;
    return words ? (BigInt(hiList[best]) << 32n) | BigInt(loList[best]) : BigInt(loList[best]);
  }
}
