/**
 * Blockwise agglomeration through the scheduler, for volumes larger than memory.
 *
 * 1. `ragTask`: every block reads the supervoxels and the boundary map over the block grown by one
 *    voxel and accumulates the region adjacency graph of its own voxels (node sizes and sums) and
 *    of the faces from its voxels towards +x, +y, +z (the neighbour may lie in the next block), so
 *    every face of the volume is counted by exactly one block. The block's graph, named by the
 *    original (uint64) supervoxel ids, goes into its resume record.
 * 2. `mergeBlockRags` / `mergeBlockRagStream`: the records are summed into one graph (statistics add:
 *    area, sums, min/max, histograms), the same graph `buildRag` computes over the whole volume. Only
 *    the graph is held in memory (nodes and edges), never a volume; the stream reads the records
 *    one at a time (twice: ids, then edges), never all of them at once.
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
import { encodeRagRecord, ragRecordColumns, ragRecordIds } from './rag-record.js';
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
  return { data: encodeRagRecord(rag, sv.ids) };
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

/** What the merge keeps of the blocks' statistics. */
export interface RagMergeOptions {
  /**
   * Sum the contact histograms (default true). Without them the graph has `bins` 0 and no `hist`:
   * enough for the mean agglomeration (area and sum) at a quarter of the memory per edge (the 32-bin
   * histogram is 128 of an edge's 168 bytes); quantile scores and edge features refuse such a graph.
   */
  histograms?: boolean;
}

/**
 * Sum the blocks' graphs into one RAG over global dense labels 1..n; `ids[l]` is the original
 * supervoxel id of label l. Labels are numbered in increasing id order and edges in increasing
 * (u, v) order, so the result does not depend on the order of the records.
 */
export function mergeBlockRags(records: unknown[], opts: RagMergeOptions = {}): { rag: Rag; ids: BigUint64Array } {
  const m = new RagMerger(opts.histograms ?? true);
  for (const r of records) m.addIds(r);
  m.startEdges();
  for (const r of records) m.addEdges(r);
  return m.finish();
}

/**
 * `mergeBlockRags` over records read as they are needed: `records()` is called twice (ids, then
 * edges) and each pass reads one record at a time (scheduler `iterateBlockData`), so the merge
 * holds the merged graph and one block's record, never all the records at once.
 */
export async function mergeBlockRagStream(records: () => AsyncIterable<unknown>, opts: RagMergeOptions = {}): Promise<{ rag: Rag; ids: BigUint64Array }> {
  const m = new RagMerger(opts.histograms ?? true);
  for await (const r of records()) m.addIds(r);
  m.startEdges();
  let k = 0;
  for await (const r of records()) {
    if (k++ >= m.records) throw new FormatError(`the block records changed between the two passes of the graph merge (more than ${m.records})`);
    m.addEdges(r);
  }
  if (k !== m.records) throw new FormatError(`the block records changed between the two passes of the graph merge (${k} vs ${m.records})`);
  return m.finish();
}

/**
 * The merge in two passes over the records: `addIds` every record (ids, edge counts, checks),
 * `startEdges`, `addEdges` every record again in the same order, `finish`. Memory: the edge columns
 * sized for the records' edges in all (an edge met in several blocks counted once per block), a
 * hash of 4-byte edge numbers over them (keys read from the columns), the sorted ids; `finish`
 * reorders one column at a time, dropping each old column as its new one is made.
 */
class RagMerger {
  records = 0;
  private bins = 0;
  private idParts: BigUint64Array[] = [];
  private total = 0;
  private nIn = 0;
  private nNodes = 0;
  private ids = new BigUint64Array(1);
  /** the sorted ids' 32-bit halves, for the binary search without bigints */
  private idHi = new Uint32Array(1);
  private idLo = new Uint32Array(1);
  private nodeSize = new Float64Array(1);
  private nodeSum = new Float64Array(1);
  private cap = 0;
  /** edge number + 1 (0 = empty), keyed by (eu, ev) */
  private he = new Int32Array(0);
  private eu = new Uint32Array(0);
  private ev = new Uint32Array(0);
  private area = new Float64Array(0);
  private sum = new Float64Array(0);
  private sumSq = new Float64Array(0);
  private emin = new Float32Array(0);
  private emax = new Float32Array(0);
  private hist = new Float32Array(0);
  private ne = 0;

  constructor(private readonly histograms: boolean) {}

  /** Pass 1: a record's ids and its edge count. */
  addIds(r: unknown): void {
    const { ids, bins, edges } = ragRecordIds(r);
    if (this.records === 0) this.bins = bins;
    if (bins !== this.bins) throw new FormatError(`block records disagree on the histogram bins (${this.bins} vs ${bins})`);
    this.idParts.push(ids);
    this.total += ids.length;
    this.nIn += edges;
    this.records++;
  }

  /** All ids -> sorted unique global labels 1..n; the edge tables sized for every record's edges. */
  startEdges(): void {
    if (this.records === 0) this.bins = 32;
    const all = new BigUint64Array(this.total);
    let k = 0;
    for (const part of this.idParts) {
      all.set(part, k);
      k += part.length;
    }
    this.idParts = [];
    all.sort();
    let nNodes = 0;
    for (let i = 0; i < this.total; i++) if (i === 0 || all[i] !== all[i - 1]) all[nNodes++] = all[i];
    this.nNodes = nNodes;
    this.ids = new BigUint64Array(nNodes + 1);
    this.ids.set(all.subarray(0, nNodes), 1);
    const words = new Uint32Array(this.ids.buffer);
    this.idLo = new Uint32Array(nNodes + 1);
    this.idHi = new Uint32Array(nNodes + 1);
    for (let l = 0; l <= nNodes; l++) {
      this.idLo[l] = words[2 * l];
      this.idHi[l] = words[2 * l + 1];
    }
    this.nodeSize = new Float64Array(nNodes + 1);
    this.nodeSum = new Float64Array(nNodes + 1);
    const nIn = this.nIn;
    let cap = 1024;
    while (cap < 2 * nIn + 2) cap *= 2;
    this.cap = cap;
    this.he = new Int32Array(cap);
    this.eu = new Uint32Array(nIn);
    this.ev = new Uint32Array(nIn);
    this.area = new Float64Array(nIn);
    this.sum = new Float64Array(nIn);
    this.sumSq = new Float64Array(nIn);
    this.emin = new Float32Array(nIn).fill(Infinity);
    this.emax = new Float32Array(nIn).fill(-Infinity);
    this.hist = new Float32Array(this.histograms ? nIn * this.bins : 0);
  }

  /** Global label of an original id (its 32-bit halves), by binary search. */
  private globalOf(hi: number, lo: number): number {
    const H = this.idHi;
    const L = this.idLo;
    let a = 1;
    let b = this.nNodes;
    while (a <= b) {
      const mid = (a + b) >> 1;
      const h = H[mid];
      const l = L[mid];
      if (h === hi && l === lo) return mid;
      if (h < hi || (h === hi && l < lo)) a = mid + 1;
      else b = mid - 1;
    }
    throw new FormatError(`supervoxel id ${(BigInt(hi) << 32n) | BigInt(lo)} missing from the merged graph`);
  }

  /** Pass 2: a record's node statistics and edges, summed into the global tables (hash over (u, v)). */
  addEdges(rec: unknown): void {
    const r = ragRecordColumns(rec, this.histograms);
    const { he, eu, ev, area, sum, sumSq, emin, emax, hist, bins, cap } = this;
    const n = r.ids.length;
    const words = new Uint32Array(r.ids.buffer, r.ids.byteOffset, 2 * n);
    const g = new Uint32Array(n + 1);
    for (let l = 0; l < n; l++) {
      const gl = this.globalOf(words[2 * l + 1], words[2 * l]);
      g[l + 1] = gl;
      this.nodeSize[gl] += r.nodeSize[l];
      this.nodeSum[gl] += r.nodeSum[l];
    }
    const hs = r.histStart;
    const hb = r.histBin;
    const hc = r.histCount;
    const withHist = this.histograms;
    let ne = this.ne;
    for (let e = 0; e < r.u.length; e++) {
      let a = r.u[e] <= n ? g[r.u[e]] : 0;
      let b = r.v[e] <= n ? g[r.v[e]] : 0;
      if (!a || !b) throw new FormatError(`block record edge ${e} names a node outside its ${n} ids`);
      if (a > b) {
        const t = a;
        a = b;
        b = t;
      }
      let h = hashPair(a, b) & (cap - 1);
      let x: number;
      for (;;) {
        const s = he[h];
        if (s === 0) {
          if (ne >= eu.length) throw new FormatError('the block records changed between the two passes of the graph merge (more edges)');
          x = ne++;
          he[h] = x + 1;
          eu[x] = a;
          ev[x] = b;
          break;
        }
        if (eu[s - 1] === a && ev[s - 1] === b) {
          x = s - 1;
          break;
        }
        h = (h + 1) & (cap - 1);
      }
      area[x] += r.area[e];
      sum[x] += r.sum[e];
      sumSq[x] += r.sumSq[e];
      if (r.min[e] < emin[x]) emin[x] = r.min[e];
      if (r.max[e] > emax[x]) emax[x] = r.max[e];
      if (withHist) for (let k = hs[e]; k < hs[e + 1]; k++) hist[x * bins + hb[k]] += hc[k];
    }
    this.ne = ne;
  }

  /** The merged graph in canonical edge order (u, v): two stable counting sorts, by v then by u (linear; the pairs are unique, so this is the order a comparison sort gives). */
  finish(): { rag: Rag; ids: BigUint64Array } {
    const { ne, nNodes } = this;
    const bins = this.histograms ? this.bins : 0;
    this.he = new Int32Array(0);
    this.idHi = this.idLo = new Uint32Array(0);
    const first = new Uint32Array(ne);
    for (let e = 0; e < ne; e++) first[e] = e;
    const order = countingOrder(countingOrder(first, this.ev, nNodes), this.eu, nNodes);
    const pick = <T extends Float64Array | Float32Array | Uint32Array>(src: T): T => {
      const out = new (src.constructor as new (n: number) => T)(ne);
      for (let e = 0; e < ne; e++) out[e] = src[order[e]];
      return out;
    };
    // one column at a time, each old column dropped once reordered (the peak is one column over the graph)
    const hist = new Float32Array(ne * bins);
    for (let e = 0; e < ne; e++) hist.set(this.hist.subarray(order[e] * bins, order[e] * bins + bins), e * bins);
    this.hist = new Float32Array(0);
    const u = pick(this.eu);
    this.eu = new Uint32Array(0);
    const v = pick(this.ev);
    this.ev = new Uint32Array(0);
    const area = pick(this.area);
    this.area = new Float64Array(0);
    const sum = pick(this.sum);
    this.sum = new Float64Array(0);
    const sumSq = pick(this.sumSq);
    this.sumSq = new Float64Array(0);
    const min = pick(this.emin);
    this.emin = new Float32Array(0);
    const max = pick(this.emax);
    this.emax = new Float32Array(0);
    const rag: Rag = { nNodes, nodeSize: this.nodeSize, nodeSum: this.nodeSum, nEdges: ne, u, v, area, sum, sumSq, min, max, bins, hist };
    return { rag, ids: this.ids };
  }
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
