/**
 * Blockwise agglomeration through the scheduler, for volumes larger than memory.
 *
 * 1. `ragTask`: every block reads the supervoxels and the boundary map over the block grown by one
 *    voxel and accumulates the region adjacency graph of its own voxels (node sizes and sums) and
 *    of the faces from its voxels towards +x, +y, +z (the neighbour may lie in the next block), so
 *    every face of the volume is counted by exactly one block. The block's graph, named by the
 *    original (uint64) supervoxel ids, goes into its resume record.
 * 2. `mergeBlockRags`: the records are summed into one graph (statistics add: area, sums, min/max,
 *    histograms), the same graph `buildRag` computes over the whole volume. Only the graph is held
 *    in memory (nodes and edges), never a volume.
 * 3. The caller agglomerates the graph and cuts the merge tree (pipeline.ts), then `relabelTask`
 *    writes the segmentation block by block from a supervoxel id -> segment table in a file
 *    (`writeSegmentMap`).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Box, type Vec3, boxShape } from '../../core/box.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { type LabelArray, compactLabels } from '../../kernels/components.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import { boundaryMaps } from './pipeline.js';
import { type Rag, buildRag } from './rag.js';
import { hashPair } from '../../core/hash.js';

export interface RagBlockParams {
  affinityOrder?: 'xyz' | 'zyx';
  invert?: boolean;
  channel?: number;
  contact?: 'max' | 'mean';
  twoD?: boolean;
  bins?: number;
  /**
   * The supervoxel layer's own record (`wiring.supervoxels` in its info), not read by the block:
   * being in the task's parameters, a re-made supervoxel layer invalidates the resume records.
   */
  supervoxelsRecord?: unknown;
}

/** A block's graph as stored in its resume record (ids as decimal strings, sparse histograms). */
export interface RagRecord {
  ids: string[];
  nodeSize: number[];
  nodeSum: number[];
  u: number[];
  v: number[];
  area: number[];
  sum: number[];
  sumSq: number[];
  min: number[];
  max: number[];
  /** per edge: [bin, count, bin, count, ...] of its non-empty bins */
  hist: number[][];
  bins: number;
}

/** Block function: the RAG of ctx.box's voxels and of their +x/+y/+z faces. */
export function ragBlock(ctx: BlockContext<RagBlockParams>): BlockResult {
  const p = ctx.params;
  const svVol = ctx.inputs.supervoxels;
  const bVol = ctx.inputs.boundaries;
  if (svVol.channels !== 1 || svVol.dtype === 'float32') throw new UsageError(`supervoxels must be a 1-channel integer label volume, got ${svVol.channels} x ${svVol.dtype}`);
  const sv = compactLabels(svVol.data as LabelArray);
  const maps = boundaryMaps(bVol, { affinityOrder: p.affinityOrder, invert: p.invert, channel: p.channel });
  const rb = ctx.readBox.min;
  const region = {
    min: [ctx.box.min[0] - rb[0], ctx.box.min[1] - rb[1], ctx.box.min[2] - rb[2]] as const,
    max: [ctx.box.max[0] - rb[0], ctx.box.max[1] - rb[1], ctx.box.max[2] - rb[2]] as const,
  };
  const rag = buildRag(sv.labels, maps.boundary, maps.shape, { contact: p.contact ?? 'max', twoD: p.twoD, affinities: maps.affinities, region, bins: p.bins });
  const hist: number[][] = [];
  for (let e = 0; e < rag.nEdges; e++) {
    const h: number[] = [];
    for (let k = 0; k < rag.bins; k++) {
      const c = rag.hist[e * rag.bins + k];
      if (c) h.push(k, c);
    }
    hist.push(h);
  }
  const ids: string[] = [];
  for (let l = 1; l <= rag.nNodes; l++) ids.push(sv.ids[l].toString());
  const rec: RagRecord = {
    ids,
    nodeSize: Array.from(rag.nodeSize.subarray(1)),
    nodeSum: Array.from(rag.nodeSum.subarray(1)),
    u: Array.from(rag.u),
    v: Array.from(rag.v),
    area: Array.from(rag.area),
    sum: Array.from(rag.sum),
    sumSq: Array.from(rag.sumSq),
    min: Array.from(rag.min),
    max: Array.from(rag.max),
    hist,
    bins: rag.bins,
  };
  return { data: rec };
}

export interface RagTaskOptions {
  supervoxels: string;
  boundaries: string;
  bounds: Box;
  blockShape: Vec3;
  params: RagBlockParams;
  name?: string;
}

/** The scheduler task accumulating the RAG blockwise (no output layer; the graph is in the records). */
export function ragTask(o: RagTaskOptions): BlockTask<RagBlockParams> {
  return {
    name: o.name ?? 'rag',
    module: import.meta.url,
    fn: 'ragBlock',
    params: o.params,
    inputs: { supervoxels: o.supervoxels, boundaries: o.boundaries },
    bounds: o.bounds,
    blockShape: o.blockShape,
    margin: [1, 1, 1],
  };
}

function isRecord(r: unknown): r is RagRecord {
  const x = r as RagRecord;
  return !!x && Array.isArray(x.ids) && Array.isArray(x.u) && Array.isArray(x.v) && Array.isArray(x.hist) && typeof x.bins === 'number' &&
    x.nodeSize?.length === x.ids.length && x.nodeSum?.length === x.ids.length &&
    [x.v, x.area, x.sum, x.sumSq, x.min, x.max, x.hist].every((a) => Array.isArray(a) && a.length === x.u.length);
}

/**
 * Sum the blocks' graphs into one RAG over global dense labels 1..n; `ids[l]` is the original
 * supervoxel id of label l. Labels are numbered in increasing id order and edges in increasing
 * (u, v) order, so the result does not depend on the order of the records.
 */
export function mergeBlockRags(records: unknown[]): { rag: Rag; ids: BigUint64Array } {
  let bins = 0;
  // 1. all ids -> sorted unique
  let total = 0;
  for (const r of records) {
    if (!isRecord(r)) throw new FormatError('a block record of the rag task is malformed (expected ids, node and edge arrays of matching lengths)');
    if (bins === 0) bins = r.bins;
    if (r.bins !== bins) throw new FormatError(`block records disagree on the histogram bins (${bins} vs ${r.bins})`);
    total += r.ids.length;
  }
  if (bins === 0) bins = 32;
  const all = new BigUint64Array(total);
  let k = 0;
  for (const r of records) for (const s of (r as RagRecord).ids) all[k++] = BigInt(s);
  all.sort();
  let nNodes = 0;
  for (let i = 0; i < total; i++) if (i === 0 || all[i] !== all[i - 1]) all[nNodes++] = all[i];
  const ids = new BigUint64Array(nNodes + 1);
  ids.set(all.subarray(0, nNodes), 1);
  // id -> global label by binary search
  const globalOf = (id: bigint): number => {
    let lo = 1;
    let hi = nNodes;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = ids[mid];
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    throw new FormatError(`supervoxel id ${id} missing from the merged graph`);
  };
  const nodeSize = new Float64Array(nNodes + 1);
  const nodeSum = new Float64Array(nNodes + 1);
  // 2. edges: hash over (gu, gv)
  let nIn = 0;
  for (const r of records) nIn += (r as RagRecord).u.length;
  let cap = 1024;
  while (cap < 2 * nIn + 2) cap *= 2;
  const hu = new Uint32Array(cap);
  const hv = new Uint32Array(cap);
  const he = new Int32Array(cap);
  const eu = new Uint32Array(nIn);
  const ev = new Uint32Array(nIn);
  const area = new Float64Array(nIn);
  const sum = new Float64Array(nIn);
  const sumSq = new Float64Array(nIn);
  const emin = new Float32Array(nIn).fill(Infinity);
  const emax = new Float32Array(nIn).fill(-Infinity);
  const hist = new Float32Array(nIn * bins);
  let ne = 0;
  for (const r0 of records) {
    const r = r0 as RagRecord;
    const g = new Uint32Array(r.ids.length + 1);
    for (let l = 0; l < r.ids.length; l++) {
      const gl = globalOf(BigInt(r.ids[l]));
      g[l + 1] = gl;
      nodeSize[gl] += r.nodeSize[l];
      nodeSum[gl] += r.nodeSum[l];
    }
    for (let e = 0; e < r.u.length; e++) {
      let a = g[r.u[e]];
      let b = g[r.v[e]];
      if (!a || !b) throw new FormatError(`block record edge ${e} names a node outside its ${r.ids.length} ids`);
      if (a > b) {
        const t = a;
        a = b;
        b = t;
      }
      let h = hashPair(a, b) & (cap - 1);
      let x: number;
      for (;;) {
        if (hu[h] === 0) {
          x = ne++;
          hu[h] = a;
          hv[h] = b;
          he[h] = x;
          eu[x] = a;
          ev[x] = b;
          break;
        }
        if (hu[h] === a && hv[h] === b) {
          x = he[h];
          break;
        }
        h = (h + 1) & (cap - 1);
      }
      area[x] += r.area[e];
      sum[x] += r.sum[e];
      sumSq[x] += r.sumSq[e];
      if (r.min[e] < emin[x]) emin[x] = r.min[e];
      if (r.max[e] > emax[x]) emax[x] = r.max[e];
      const hh = r.hist[e];
      for (let j = 0; j + 1 < hh.length; j += 2) hist[x * bins + hh[j]] += hh[j + 1];
    }
  }
  // 3. canonical edge order (u, v): two stable counting sorts, by v then by u (linear; the pairs
  // are unique, so this is the order a comparison sort gives)
  const first = new Uint32Array(ne);
  for (let e = 0; e < ne; e++) first[e] = e;
  const order = countingOrder(countingOrder(first, ev, nNodes), eu, nNodes);
  const pick = <T extends Float64Array | Float32Array | Uint32Array>(src: T): T => {
    const out = new (src.constructor as new (n: number) => T)(ne);
    for (let e = 0; e < ne; e++) out[e] = src[order[e]];
    return out;
  };
  const histOut = new Float32Array(ne * bins);
  for (let e = 0; e < ne; e++) histOut.set(hist.subarray(order[e] * bins, order[e] * bins + bins), e * bins);
  const rag: Rag = {
    nNodes,
    nodeSize,
    nodeSum,
    nEdges: ne,
    u: pick(eu),
    v: pick(ev),
    area: pick(area),
    sum: pick(sum),
    sumSq: pick(sumSq),
    min: pick(emin),
    max: pick(emax),
    bins,
    hist: histOut,
  };
  return { rag, ids };
}

const MAGIC = 'WSEGMAP1';

/**
 * Write the supervoxel id -> segment table for `relabelTask`: ids[1..n] (sorted increasing, as
 * `mergeBlockRags` returns them) and map[1..n] (segment of each). Binary, little-endian:
 * "WSEGMAP1", n (uint64), n ids (uint64), n segments (uint64).
 */
export async function writeSegmentMap(file: string, ids: BigUint64Array, map: Uint32Array): Promise<string> {
  const n = ids.length - 1;
  const buf = new BigUint64Array(2 + 2 * n);
  new Uint8Array(buf.buffer, 0, 8).set(new TextEncoder().encode(MAGIC));
  buf[1] = BigInt(n);
  buf.set(ids.subarray(1), 2);
  const w = new Uint32Array(buf.buffer);
  for (let l = 1; l <= n; l++) w[2 * (2 + n + l - 1)] = map[l];
  const bytes = new Uint8Array(buf.buffer);
  await writeFileAtomic(file, bytes);
  return createHash('sha256').update(bytes).digest('hex');
}

let cachedMap: { file: string; hash: string; ids: BigUint64Array; segs: BigUint64Array } | null = null;

async function readSegmentMap(file: string, hash: string): Promise<{ ids: BigUint64Array; segs: BigUint64Array }> {
  if (cachedMap?.file === file && cachedMap.hash === hash) return cachedMap;
  const bytes = await readFile(file);
  if (bytes.byteLength < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new FormatError(`not a segment map (expected the ${MAGIC} header)`, file);
  const all = new BigUint64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const n = Number(all[1]);
  if (all.length !== 2 + 2 * n) throw new FormatError(`segment map declares ${n} entries but holds ${(all.length - 2) / 2}`, file);
  if (createHash('sha256').update(bytes).digest('hex') !== hash) throw new FormatError('segment map changed since the task was defined (checksum differs)', file);
  cachedMap = { file, hash, ids: all.subarray(2, 2 + n), segs: all.subarray(2 + n) };
  return cachedMap;
}

export interface RelabelBlockParams {
  mapFile: string;
  /** sha256 of the map file (what writeSegmentMap returns): part of the task's fingerprint, so a new map never resumes old blocks */
  mapHash: string;
}

/** Block function: the segmentation of ctx.box = segment of each voxel's supervoxel (0 stays 0). */
export async function relabelBlock(ctx: BlockContext<RelabelBlockParams>): Promise<BlockResult> {
  const { ids, segs } = await readSegmentMap(ctx.params.mapFile, ctx.params.mapHash);
  const sv = ctx.inputs.supervoxels;
  if (sv.channels !== 1 || sv.dtype === 'float32') throw new UsageError(`supervoxels must be a 1-channel integer label volume, got ${sv.channels} x ${sv.dtype}`);
  // dense labels of the block, then one lookup per distinct id
  const c = compactLabels(sv.data as LabelArray);
  const lut = new BigUint64Array(c.count + 1);
  for (let l = 1; l <= c.count; l++) {
    const id = c.ids[l];
    let lo = 0;
    let hi = ids.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid] === id) {
        found = mid;
        break;
      }
      if (ids[mid] < id) lo = mid + 1;
      else hi = mid - 1;
    }
    if (found < 0) throw new FormatError(`supervoxel ${id} of block [${ctx.box.min}]..[${ctx.box.max}] is not in the segment map`, ctx.params.mapFile);
    lut[l] = segs[found];
  }
  const n = c.labels.length;
  const out = new BigUint64Array(n);
  const ow = new Uint32Array(out.buffer);
  const lw = new Uint32Array(lut.buffer);
  for (let i = 0; i < n; i++) {
    const l = c.labels[i];
    ow[2 * i] = lw[2 * l];
    ow[2 * i + 1] = lw[2 * l + 1];
  }
  return { volumes: { segmentation: new Volume('uint64', ctx.box, out, 1, sv.voxelSize) } };
}

/** The scheduler task writing the segmentation layer `out` (must exist, uint64 segmentation). */
export function relabelTask(o: { supervoxels: string; out: string; mapFile: string; mapHash: string; bounds: Box; blockShape: Vec3; dependsOn?: string[] }): BlockTask<RelabelBlockParams> {
  return {
    name: 'relabel',
    module: import.meta.url,
    fn: 'relabelBlock',
    params: { mapFile: o.mapFile, mapHash: o.mapHash },
    inputs: { supervoxels: o.supervoxels },
    outputs: { segmentation: { layer: o.out } },
    bounds: o.bounds,
    blockShape: o.blockShape,
    margin: [0, 0, 0],
    dependsOn: o.dependsOn,
  };
}

/** Number of blocks of `blockShape` over `bounds`. */
export function blockCount(bounds: Box, blockShape: Vec3): number {
  const s = boxShape(bounds);
  return Math.ceil(s[0] / blockShape[0]) * Math.ceil(s[1] / blockShape[1]) * Math.ceil(s[2] / blockShape[2]);
}

/** `input` (edge numbers) stably reordered by key[edge] in 0..maxKey. */
function countingOrder(input: Uint32Array, key: Uint32Array, maxKey: number): Uint32Array {
  const start = new Uint32Array(maxKey + 2);
  for (let i = 0; i < input.length; i++) start[key[input[i]] + 1]++;
  for (let k = 1; k < start.length; k++) start[k] += start[k - 1];
  const out = new Uint32Array(input.length);
  for (let i = 0; i < input.length; i++) out[start[key[input[i]]]++] = input[i];
  return out;
}
