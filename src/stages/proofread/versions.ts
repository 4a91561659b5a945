/**
 * Versions that never expire: the segmentation, cells and synapse rows as of a log prefix are a
 * pure function of (base, records[0..N)). `mapLabels` maps supervoxel ids to root ids (the
 * server does it per chunk on the fly); `cellRows` and `synapseRows` are the tables.
 */
import type { Vec3 } from '../../core/box.js';
import type { GraphState } from './state.js';

export type LabelArray = Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Int32Array | Int16Array | Int8Array | Float64Array;

/** supervoxel id -> root id of a version (0 -> 0; an id not in the base -> 0). */
export function rootLookup(state: GraphState): (sv: bigint) => bigint {
  const cache = new Map<bigint, bigint>();
  return (sv: bigint): bigint => {
    if (sv === 0n) return 0n;
    let r = cache.get(sv);
    if (r === undefined) {
      const l = state.index.get(sv);
      r = l === undefined ? 0n : state.root[l];
      cache.set(sv, r);
    }
    return r;
  };
}

/** A supervoxel block mapped to roots (uint64 out); runs of one id cost one lookup. */
export function mapLabels(data: LabelArray, lookup: (sv: bigint) => bigint): BigUint64Array {
  const out = new BigUint64Array(data.length);
  let last: number | bigint | undefined;
  let lastRoot = 0n;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== last) {
      last = v;
      lastRoot = lookup(BigInt(v));
    }
    out[i] = lastRoot;
  }
  return out;
}

export interface VersionCell {
  pt_root_id: bigint;
  /** nm: the first voxel of the root's largest supervoxel */
  pt_position: Vec3;
  /** nm^3 */
  volume: number;
  voxels: number;
  supervoxels: number;
}

/** One row per root of the version, ascending by id (only roots listed in `only`, when given). */
export function cellRows(state: GraphState, only?: Set<bigint>): VersionCell[] {
  const b = state.base;
  const [sx, sy] = b.shape;
  const vv = b.voxelSize[0] * b.voxelSize[1] * b.voxelSize[2];
  const acc = new Map<bigint, { voxels: number; n: number; big: number }>();
  // a few current roots: their members (ascending, as the scan below visits them), not every supervoxel
  const few = only && only.size <= 16 && [...only].every((r) => state.isCurrent(r));
  const visit = few ? (only!.size === 1 ? state.members([...only!][0]) : [...only!].flatMap((r) => state.members(r)).sort((p, q) => p - q)) : undefined;
  const count = visit ? visit.length : state.n;
  for (let k = 0; k < count; k++) {
    const l = visit ? visit[k] : k + 1;
    if (b.anchors[l] < 0) continue;
    const r = state.root[l];
    if (only && !only.has(r)) continue;
    const a = acc.get(r);
    if (!a) acc.set(r, { voxels: b.sizes[l], n: 1, big: l });
    else {
      a.voxels += b.sizes[l];
      a.n++;
      if (b.sizes[l] > b.sizes[a.big]) a.big = l;
    }
  }
  const rows: VersionCell[] = [];
  for (const [r, a] of acc) {
    const i = b.anchors[a.big];
    const v = [i % sx, Math.floor(i / sx) % sy, Math.floor(i / (sx * sy))];
    rows.push({ pt_root_id: r, pt_position: [(v[0] + b.offset[0]) * b.voxelSize[0], (v[1] + b.offset[1]) * b.voxelSize[1], (v[2] + b.offset[2]) * b.voxelSize[2]], volume: a.voxels * vv, voxels: a.voxels, supervoxels: a.n });
  }
  return rows.sort((p, q) => (p.pt_root_id < q.pt_root_id ? -1 : p.pt_root_id > q.pt_root_id ? 1 : 0));
}

export interface SynapseIn {
  id: bigint;
  pre_pt_supervoxel_id: bigint;
  post_pt_supervoxel_id: bigint;
}

/** The synapses' root ids through the version, from their supervoxel ids (as CAVE does). */
export function synapseRoots<T extends SynapseIn>(rows: T[], state: GraphState): Array<T & { pre_pt_root_id: bigint; post_pt_root_id: bigint }> {
  const look = rootLookup(state);
  return rows.map((r) => ({ ...r, pre_pt_root_id: look(r.pre_pt_supervoxel_id), post_pt_root_id: look(r.post_pt_supervoxel_id) }));
}

/** CSV of cell rows (decimal ids), deterministic bytes. */
export function cellsCsv(rows: VersionCell[]): string {
  const lines = ['pt_root_id,pt_position_x,pt_position_y,pt_position_z,volume,voxels,supervoxels'];
  for (const r of rows) lines.push(`${r.pt_root_id},${r.pt_position[0]},${r.pt_position[1]},${r.pt_position[2]},${r.volume},${r.voxels},${r.supervoxels}`);
  return lines.join('\n') + '\n';
}

/** The synapses by supervoxel (proofread/synapses.bin): CAVE's pre/post_pt_supervoxel_id. */
export interface SynapseSupervoxels {
  ids: BigUint64Array;
  pre: BigUint64Array;
  post: BigUint64Array;
  /** supervoxel id -> synapse indices with it as pre or post */
  bySv: Map<bigint, number[]>;
}

export function indexSynapses(ids: BigUint64Array, pre: BigUint64Array, post: BigUint64Array): SynapseSupervoxels {
  const bySv = new Map<bigint, number[]>();
  const put = (sv: bigint, i: number) => {
    if (sv === 0n) return;
    const l = bySv.get(sv);
    if (l) { if (l[l.length - 1] !== i) l.push(i); } else bySv.set(sv, [i]);
  };
  for (let i = 0; i < ids.length; i++) { put(pre[i], i); put(post[i], i); }
  return { ids, pre, post, bySv };
}

/** Synapses by dense supervoxel (CSR over the base's dense indices), built once per synapse table. */
const denseSynapses = new WeakMap<SynapseSupervoxels, { pre: Int32Array; post: Int32Array; start: Int32Array; list: Int32Array }>();

function synapsesByDense(state: GraphState, syn: SynapseSupervoxels): { pre: Int32Array; post: Int32Array; start: Int32Array; list: Int32Array } {
  let d = denseSynapses.get(syn);
  if (d) return d;
  // the typed id index: no bigint hashing per synapse
  const pre = state.idIndex.all(syn.pre), post = state.idIndex.all(syn.post);
  const start = new Int32Array(state.n + 2);
  for (let i = 0; i < pre.length; i++) {
    if (pre[i] >= 0) start[pre[i] + 1]++;
    if (post[i] >= 0 && post[i] !== pre[i]) start[post[i] + 1]++;
  }
  for (let l = 0; l <= state.n; l++) start[l + 1] += start[l];
  const list = new Int32Array(start[state.n + 1]);
  const fill = start.slice(0, state.n + 1);
  for (let i = 0; i < pre.length; i++) {
    if (pre[i] >= 0) list[fill[pre[i]]++] = i;
    if (post[i] >= 0 && post[i] !== pre[i]) list[fill[post[i]]++] = i;
  }
  denseSynapses.set(syn, (d = { pre, post, start, list }));
  return d;
}

/** A root's synapse partners in a version: counts per partner root, inputs and outputs, ascending. */
export function synapsePartners(state: GraphState, syn: SynapseSupervoxels, root: bigint): { pt_root_id: bigint; inputs: Array<{ partner: bigint; synapses: number }>; outputs: Array<{ partner: bigint; synapses: number }> } {
  const { pre, post, start, list } = synapsesByDense(state, syn);
  const rootOf = (l: number): bigint => (l < 0 ? 0n : state.root[l]);
  const ins = new Map<bigint, number>(), outs = new Map<bigint, number>();
  for (const l of state.members(root)) {
    for (let k = start[l]; k < start[l + 1]; k++) {
      const i = list[k];
      // each synapse once: from its pre side when the pre supervoxel is the root's, else from its post side
      if (l !== pre[i] && rootOf(pre[i]) === root) continue;
      const a = rootOf(pre[i]), b = rootOf(post[i]);
      if (a === root) outs.set(b, (outs.get(b) ?? 0) + 1);
      if (b === root) ins.set(a, (ins.get(a) ?? 0) + 1);
    }
  }
  const listOf = (m: Map<bigint, number>) => [...m].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([partner, synapses]) => ({ partner, synapses }));
  return { pt_root_id: root, inputs: listOf(ins), outputs: listOf(outs) };
}
