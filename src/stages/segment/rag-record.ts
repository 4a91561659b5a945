/**
 * A block's region graph as it travels in the rag task's resume record (blockwise.ts), and back.
 *
 * Version 2 (written since 2026-12-07): typed columns as base64 of their little-endian bytes inside
 * the JSON record, so the run's thread reads a block with one JSON.parse of a few long strings and
 * a base64 decode per column, instead of parsing a number per statistic (twice: ids, then edges):
 *
 * | field | content |
 * |---|---|
 * | `format`, `version` | `"wiring-rag-block"`, `2` |
 * | `bins`, `nodes`, `edges`, `hist_entries` | histogram bins; counts of the columns below |
 * | `ids` | uint64 x nodes: the original supervoxel id of block-local node 1..nodes |
 * | `nodeSize`, `nodeSum` | float64 x nodes |
 * | `u`, `v` | uint32 x edges: block-local nodes (1-based), u < v |
 * | `area`, `sum`, `sumSq` | float64 x edges |
 * | `min`, `max` | float32 x edges |
 * | `histStart` | uint32 x (edges + 1): edge e's non-empty bins are entries histStart[e]..histStart[e+1]-1 |
 * | `histBin`, `histCount` | uint16 / float32 x hist_entries: bin and count of each entry |
 *
 * Version 1 (records written before): the same statistics as JSON arrays (`ids` decimal strings,
 * `hist` per edge `[bin, count, ...]`), still read, so a run resumed across the change keeps its
 * finished blocks.
 */
import { FormatError, UsageError } from '../../core/errors.js';
import type { EdgeColumns, Rag } from './rag.js';

/** A block's graph, typed (either record version). */
export interface BlockRag extends EdgeColumns {
  bins: number;
  ids: BigUint64Array;
  nodeSize: Float64Array;
  nodeSum: Float64Array;
  /** sparse histograms: entries histStart[e]..histStart[e+1]-1 (empty when read without them) */
  histStart: Uint32Array;
  histBin: Uint16Array;
  histCount: Float32Array;
}

const FORMAT = 'wiring-rag-block';

type Typed = BigUint64Array | Float64Array | Float32Array | Uint32Array | Uint16Array;

const b64 = (a: Typed): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/** The version-2 record of a block's graph; `ids[l]` = original id of local node l (index 0 unused). */
export function encodeRagRecord(rag: Rag, ids: BigUint64Array): Record<string, unknown> {
  if (rag.bins > 65536) throw new UsageError(`region graph records hold at most 65536 histogram bins, got ${rag.bins}`);
  const bins = rag.bins;
  const histStart = new Uint32Array(rag.nEdges + 1);
  let n = 0;
  for (let i = 0; i < rag.hist.length; i++) if (rag.hist[i] !== 0) n++;
  const histBin = new Uint16Array(n);
  const histCount = new Float32Array(n);
  let k = 0;
  for (let e = 0; e < rag.nEdges; e++) {
    histStart[e] = k;
    for (let b = 0; b < bins; b++) {
      const c = rag.hist[e * bins + b];
      if (c !== 0) {
        histBin[k] = b;
        histCount[k++] = c;
      }
    }
  }
  histStart[rag.nEdges] = k;
  return {
    format: FORMAT,
    version: 2,
    bins,
    nodes: rag.nNodes,
    edges: rag.nEdges,
    hist_entries: n,
    ids: b64(ids.subarray(1, rag.nNodes + 1)),
    nodeSize: b64(rag.nodeSize.subarray(1)),
    nodeSum: b64(rag.nodeSum.subarray(1)),
    u: b64(rag.u),
    v: b64(rag.v),
    area: b64(rag.area),
    sum: b64(rag.sum),
    sumSq: b64(rag.sumSq),
    min: b64(rag.min),
    max: b64(rag.max),
    histStart: b64(histStart),
    histBin: b64(histBin),
    histCount: b64(histCount),
  };
}

function column<T extends Typed>(r: Record<string, unknown>, field: string, make: new (n: number) => T, count: number): T {
  const s = r[field];
  if (typeof s !== 'string') throw new FormatError(`a block record of the rag task lacks its ${field} column`);
  const bytes = Buffer.from(s, 'base64');
  const out = new make(count);
  if (bytes.byteLength !== out.byteLength) throw new FormatError(`a block record of the rag task has ${bytes.byteLength} bytes in ${field}, expected ${out.byteLength} (${count} values)`);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function isV2(r: unknown): r is Record<string, unknown> & { bins: number; nodes: number; edges: number; hist_entries: number } {
  const x = r as Record<string, unknown>;
  return !!x && x.format === FORMAT;
}

function checkV2(r: Record<string, unknown>): void {
  if (r.version !== 2) throw new FormatError(`a block record of the rag task has version ${String(r.version)}; this build reads versions 1 and 2`);
  for (const k of ['bins', 'nodes', 'edges', 'hist_entries']) {
    const n = r[k];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new FormatError(`a block record of the rag task has ${k} = ${JSON.stringify(n)}; expected a count`);
  }
}

interface RecordV1 {
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
  hist: number[][];
  bins: number;
}

function isV1(r: unknown): r is RecordV1 {
  const x = r as RecordV1;
  return !!x && Array.isArray(x.ids) && Array.isArray(x.u) && Array.isArray(x.v) && Array.isArray(x.hist) && typeof x.bins === 'number' &&
    x.nodeSize?.length === x.ids.length && x.nodeSum?.length === x.ids.length &&
    [x.v, x.area, x.sum, x.sumSq, x.min, x.max, x.hist].every((a) => Array.isArray(a) && a.length === x.u.length);
}

const MALFORMED = 'a block record of the rag task is malformed (expected a wiring-rag-block record, or ids, node and edge arrays of matching lengths)';

/** Pass 1 of the merge: a record's ids, bins and edge count. */
export function ragRecordIds(r: unknown): { ids: BigUint64Array; bins: number; edges: number } {
  if (isV2(r)) {
    checkV2(r);
    return { ids: column(r, 'ids', BigUint64Array, r.nodes), bins: r.bins, edges: r.edges };
  }
  if (!isV1(r)) throw new FormatError(MALFORMED);
  const ids = new BigUint64Array(r.ids.length);
  for (let l = 0; l < ids.length; l++) ids[l] = BigInt(r.ids[l]);
  return { ids, bins: r.bins, edges: r.u.length };
}

/** Pass 2: the whole graph of a record; without `histograms` its sparse histogram columns stay empty. */
export function ragRecordColumns(r: unknown, histograms = true): BlockRag {
  if (isV2(r)) {
    checkV2(r);
    const { nodes, edges } = r;
    const h = histograms ? r.hist_entries : 0;
    const g: BlockRag = {
      bins: r.bins,
      ids: column(r, 'ids', BigUint64Array, nodes),
      nodeSize: column(r, 'nodeSize', Float64Array, nodes),
      nodeSum: column(r, 'nodeSum', Float64Array, nodes),
      u: column(r, 'u', Uint32Array, edges),
      v: column(r, 'v', Uint32Array, edges),
      area: column(r, 'area', Float64Array, edges),
      sum: column(r, 'sum', Float64Array, edges),
      sumSq: column(r, 'sumSq', Float64Array, edges),
      min: column(r, 'min', Float32Array, edges),
      max: column(r, 'max', Float32Array, edges),
      histStart: histograms ? column(r, 'histStart', Uint32Array, edges + 1) : new Uint32Array(0),
      histBin: histograms ? column(r, 'histBin', Uint16Array, h) : new Uint16Array(0),
      histCount: histograms ? column(r, 'histCount', Float32Array, h) : new Float32Array(0),
    };
    if (histograms) {
      const s = g.histStart;
      for (let e = 0; e < edges; e++) if (s[e] > s[e + 1]) throw new FormatError('a block record of the rag task has a decreasing histStart');
      if (s[0] !== 0 || s[edges] !== h) throw new FormatError(`a block record of the rag task has histStart ending at ${s[edges]}, expected ${h} entries`);
      for (let k = 0; k < h; k++) if (g.histBin[k] >= r.bins) throw new FormatError(`a block record of the rag task names histogram bin ${g.histBin[k]} of ${r.bins}`);
    }
    return g;
  }
  if (!isV1(r)) throw new FormatError(MALFORMED);
  const m = r.u.length;
  let h = 0;
  if (histograms) for (const x of r.hist) h += x.length >> 1;
  const histStart = new Uint32Array(histograms ? m + 1 : 0);
  const histBin = new Uint16Array(h);
  const histCount = new Float32Array(h);
  if (histograms) {
    let k = 0;
    for (let e = 0; e < m; e++) {
      histStart[e] = k;
      const x = r.hist[e];
      for (let j = 0; j + 1 < x.length; j += 2) {
        if (!(x[j] >= 0 && x[j] < r.bins)) throw new FormatError(`a block record of the rag task names histogram bin ${x[j]} of ${r.bins}`);
        histBin[k] = x[j];
        histCount[k++] = x[j + 1];
      }
    }
    histStart[m] = k;
  }
  return {
    bins: r.bins,
    ids: ragRecordIds(r).ids,
    nodeSize: Float64Array.from(r.nodeSize),
    nodeSum: Float64Array.from(r.nodeSum),
    u: Uint32Array.from(r.u),
    v: Uint32Array.from(r.v),
    area: Float64Array.from(r.area),
    sum: Float64Array.from(r.sum),
    sumSq: Float64Array.from(r.sumSq),
    min: Float32Array.from(r.min),
    max: Float32Array.from(r.max),
    histStart,
    histBin,
    histCount,
  };
}
