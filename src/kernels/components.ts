/**
 * Connected components on [x, y, z] volumes (x fastest: index = x + sx*(y + sy*z)).
 *
 * Run-based two-pass labelling with union-find over typed arrays: pass 1 cuts each x row into runs
 * and joins every run to the overlapping runs of the already-visited neighbour rows; pass 2 resolves
 * each run to its root and numbers components 1..n in the order of their first voxel in memory order,
 * which is the raster order of a numpy (z, y, x) array, so binary results equal scipy.ndimage.label
 * exactly.
 *
 * Connectivity: 6 / 18 / 26 in 3-D (faces / +edges / +corners), or 4 / 8 for 2-D labelling of every z
 * section on its own (components never cross sections).
 *
 * Also here: `compactLabels`, a hash-based relabelling of any label array (uint64 included) to dense
 * uint32 labels 1..n (0 stays 0), with no Map or bigint per voxel.
 */
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import { type LabelArray, foregroundMask } from './edt.js';

export type { LabelArray } from './edt.js';
export type Connectivity = 4 | 8 | 6 | 18 | 26;

export interface ComponentsOptions {
  /** 6 (default), 18, 26 in 3-D; 4 or 8 per z section. */
  connectivity?: Connectivity;
  /** Output array (length = voxel count); allocated otherwise. */
  out?: Uint32Array;
}

export interface Components {
  /** Component labels 1..count, 0 on background. */
  labels: Uint32Array;
  count: number;
}

function check(what: string, length: number, shape: Vec3, conn: number): void {
  for (let i = 0; i < 3; i++) {
    if (!Number.isInteger(shape[i]) || shape[i] < 0) throw new UsageError(`${what}: shape [${shape}] must be non-negative integers`);
  }
  const n = shape[0] * shape[1] * shape[2];
  if (length !== n) throw new UsageError(`${what}: array has ${length} elements, expected ${n} for shape [${shape}]`);
  if (![4, 8, 6, 18, 26].includes(conn)) throw new UsageError(`${what}: connectivity must be 4, 8, 6, 18 or 26, got ${conn}`);
}

/** Binary components: voxels with value != 0 are foreground. */
export function connectedComponents(mask: LabelArray, shape: Vec3, opts: ComponentsOptions = {}): Components {
  const conn = opts.connectivity ?? 6;
  check('connectedComponents', mask.length, shape, conn);
  if (mask instanceof BigUint64Array) return label(foregroundMask(mask), shape, conn, true, opts.out);
  return label(mask, shape, conn, true, opts.out);
}

/**
 * Multi-label components: two neighbouring voxels are connected when they carry the same non-zero
 * label (skimage.measure.label(vol, background=0) semantics). uint64 ids are compacted first.
 */
export function labelComponents(labels: LabelArray, shape: Vec3, opts: ComponentsOptions = {}): Components {
  const conn = opts.connectivity ?? 6;
  check('labelComponents', labels.length, shape, conn);
  let lab: Exclude<LabelArray, BigUint64Array>;
  if (labels instanceof BigUint64Array) lab = compactLabels(labels).labels;
  else if (labels instanceof Float32Array || labels instanceof Float64Array) {
    throw new UsageError('labelComponents: labels must be an integer array, not float');
  } else lab = labels;
  return label(lab, shape, conn, false, opts.out);
}

/** Neighbour rows [dy, dz] already visited in raster order, and whether a run there may touch diagonally (dx = +-1). */
function neighbourRows(conn: Connectivity): Array<[number, number, number]> {
  switch (conn) {
    case 4: return [[-1, 0, 0]];
    case 8: return [[-1, 0, 1]];
    case 6: return [[-1, 0, 0], [0, -1, 0]];
    case 18: return [[-1, 0, 1], [-1, -1, 0], [0, -1, 1], [1, -1, 0]];
    default: return [[-1, 0, 1], [-1, -1, 1], [0, -1, 1], [1, -1, 1]];
  }
}

/** Root of run a in the union-find forest (path halving); roots are the smallest run of their set. */
function find(parent: Int32Array, a: number): number {
  while (parent[a] !== a) {
    const g = parent[parent[a]];
    parent[a] = g;
    a = g;
  }
  return a;
}

/** Cut voxels base..end-1 of one x row into runs of non-zero voxels; returns the new run count. */
function cutBinary(lab: ArrayLike<number>, base: number, end: number, rs: Int32Array, re: Int32Array, parent: Int32Array, runs: number): number {
  let i = base;
  while (i < end) {
    if (lab[i] === 0) {
      i++;
      continue;
    }
    const s = i;
    i++;
    while (i < end && lab[i] !== 0) i++;
    rs[runs] = s;
    re[runs] = i;
    parent[runs] = runs;
    runs++;
  }
  return runs;
}

/** Cut voxels base..end-1 of one x row into runs of voxels with value >= t (NaN never is); returns the new run count. */
function cutAtLeast(data: ArrayLike<number>, t: number, base: number, end: number, rs: Int32Array, re: Int32Array, parent: Int32Array, runs: number): number {
  let i = base;
  while (i < end) {
    if (!(data[i] >= t)) {
      i++;
      continue;
    }
    const s = i;
    i++;
    while (i < end && data[i] >= t) i++;
    rs[runs] = s;
    re[runs] = i;
    parent[runs] = runs;
    runs++;
  }
  return runs;
}

/** Cut one x row into runs of equal non-zero labels; returns the new run count. */
function cutLabels(lab: ArrayLike<number>, base: number, end: number, rs: Int32Array, re: Int32Array, parent: Int32Array, runs: number): number {
  let i = base;
  while (i < end) {
    const v = lab[i];
    if (v === 0) {
      i++;
      continue;
    }
    const s = i;
    i++;
    while (i < end && lab[i] === v) i++;
    rs[runs] = s;
    re[runs] = i;
    parent[runs] = runs;
    runs++;
  }
  return runs;
}

/**
 * Join runs first..last-1 of a row to the overlapping runs j..jEnd-1 of a neighbour row (a neighbour
 * voxel's index = ours + shift; runs d = 1 voxel apart touch diagonally). With `lab`, only runs of
 * the same label join.
 */
function join(lab: ArrayLike<number> | null, parent: Int32Array, rs: Int32Array, re: Int32Array, first: number, last: number, j: number, jEnd: number, shift: number, d: number): void {
  for (let r = first; r < last && j < jEnd; r++) {
    const s = rs[r] + shift;
    const e = re[r] + shift + d;
    while (j < jEnd && re[j] + d <= s) j++;
    if (j === jEnd || rs[j] >= e) continue;
    let ra = find(parent, r);
    const v = lab === null ? 0 : lab[rs[r]];
    for (let m = j; m < jEnd && rs[m] < e; m++) {
      if (lab !== null && lab[rs[m]] !== v) continue;
      let rb = parent[m];
      if (rb === ra) continue;
      rb = find(parent, rb);
      if (rb === ra) continue;
      // the smaller root wins
      if (rb < ra) {
        parent[ra] = rb;
        ra = rb;
      } else parent[rb] = ra;
    }
  }
}

function grown(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

/** Number roots 1..count in increasing run order (= order of first voxel); final[r] = label of run r. */
function resolve(parent: Int32Array, runs: number): { final: Uint32Array; count: number } {
  const final = new Uint32Array(runs);
  let count = 0;
  for (let r = 0; r < runs; r++) {
    const p = parent[r];
    if (p === r) final[r] = ++count;
    else final[r] = final[find(parent, p)];
  }
  return { final, count };
}

function fillRuns(out: Uint32Array, final: Uint32Array, rs: Int32Array, re: Int32Array, runs: number): void {
  for (let r = 0; r < runs; r++) {
    const f = final[r];
    const st = rs[r];
    const e = re[r];
    if (e - st > 24) out.fill(f, st, e);
    else for (let i = st; i < e; i++) out[i] = f;
  }
}

/** Run-based two-pass labelling: labelRuns (pass 1), then fillRuns writes each run's component label. */
function label(lab: ArrayLike<number>, shape: Vec3, conn: Connectivity, binary: boolean, outArr?: Uint32Array): Components {
  const n = shape[0] * shape[1] * shape[2];
  if (outArr && outArr.length !== n) throw new UsageError(`connected components: output has ${outArr.length} elements, expected ${n}`);
  const out = outArr ?? new Uint32Array(n);
  if (n === 0) return { labels: out, count: 0 };
  if (outArr) out.fill(0);
  const r = labelRuns(lab, shape, conn, binary);
  fillRuns(out, r.final, r.rs, r.re, r.runs);
  return { labels: out, count: r.count };
}

/**
 * Components as runs, without a label volume: run r (0 <= r < runs) covers voxels rs[r] .. re[r]-1
 * of one x row and belongs to component final[r] (1..count, numbered by first voxel exactly as
 * connectedComponents numbers them). Runs are in raster order, so walking them visits every
 * component's voxels in memory order. For callers that need only the foreground voxels: their work
 * is then per run and per foreground voxel, not per voxel of the volume.
 */
export interface ComponentRuns {
  count: number;
  runs: number;
  rs: Int32Array;
  re: Int32Array;
  final: Uint32Array;
}

/**
 * Components of the voxels with data >= t as runs: componentRuns of that mask (the mask
 * `Uint8Array.from(data, (v) => (v >= t ? 1 : 0))`) without making it.
 */
export function thresholdRuns(data: Uint8Array | Uint16Array | Float32Array, t: number, shape: Vec3, opts: { connectivity?: Connectivity } = {}): ComponentRuns {
  const conn = opts.connectivity ?? 6;
  check('thresholdRuns', data.length, shape, conn);
  if (data.length === 0) return { count: 0, runs: 0, rs: new Int32Array(0), re: new Int32Array(0), final: new Uint32Array(0) };
  return labelRuns(data, shape, conn, true, t);
}

/** Binary components as runs (ComponentRuns): the runs behind connectedComponents(mask, shape, opts). */
export function componentRuns(mask: Uint8Array, shape: Vec3, opts: { connectivity?: Connectivity } = {}): ComponentRuns {
  const conn = opts.connectivity ?? 6;
  check('componentRuns', mask.length, shape, conn);
  if (mask.length === 0) return { count: 0, runs: 0, rs: new Int32Array(0), re: new Int32Array(0), final: new Uint32Array(0) };
  return labelRuns(mask, shape, conn, true);
}

/**
 * Pass 1 of the run-based labelling: cuts every x row into runs of equal non-zero value (binary:
 * of non-zero voxels) and joins each run to the overlapping runs of the same value in the already
 * visited neighbour rows (a two-pointer walk per row; with diagonal connectivity runs one voxel
 * apart touch), then numbers the roots. Runs are numbered in raster order and every union keeps
 * the smaller run as root, so numbering the roots in increasing order numbers components by their
 * first voxel (= scipy). Work is per voxel only in the run scan (and in the caller's fill); each
 * phase is its own small function so that V8 optimises it with complete type feedback on first
 * use. The run arrays start at a sixteenth of the voxel count and double when a row might not
 * fit. `shape` holds at least one voxel. With `atLeast` (binary), the foreground is lab >= atLeast.
 */
function labelRuns(lab: ArrayLike<number>, shape: Vec3, conn: Connectivity, binary: boolean, atLeast?: number): ComponentRuns {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  const rows = sy * sz;
  const rowRun = new Int32Array(rows + 1); // runs of row r: rowRun[r] .. rowRun[r+1]-1
  const perRow = binary ? (sx + 1) >>> 1 : sx; // most runs in one row
  let cap = Math.max(perRow, 1024, n >>> 4);
  let rs = new Int32Array(cap); // run start (absolute index)
  let re = new Int32Array(cap); // run end (exclusive)
  let parent = new Int32Array(cap);
  const nb = neighbourRows(conn);
  const k = nb.length;
  const same = binary ? null : lab;
  let runs = 0;
  for (let z = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      const row = y + sy * z;
      const first = runs;
      rowRun[row] = first;
      if (cap - runs < perRow) {
        cap = Math.max(cap * 2, runs + perRow);
        rs = grown(rs, cap);
        re = grown(re, cap);
        parent = grown(parent, cap);
      }
      if (atLeast !== undefined) runs = cutAtLeast(lab, atLeast, row * sx, row * sx + sx, rs, re, parent, runs);
      else runs = binary ? cutBinary(lab, row * sx, row * sx + sx, rs, re, parent, runs) : cutLabels(lab, row * sx, row * sx + sx, rs, re, parent, runs);
      if (first === runs) continue;
      for (let t = 0; t < k; t++) {
        const yy = y + nb[t][0];
        const zz = z + nb[t][1];
        if (yy < 0 || yy >= sy || zz < 0) continue;
        const nrow = yy + sy * zz;
        const j = rowRun[nrow];
        const jEnd = rowRun[nrow + 1];
        if (j !== jEnd) join(same, parent, rs, re, first, runs, j, jEnd, (nrow - row) * sx, nb[t][2]);
      }
    }
  }
  rowRun[rows] = runs;
  const { final, count } = resolve(parent, runs);
  return { count, runs, rs, re, final };
}

export interface CompactLabels {
  /** Dense labels 1..count in order of first appearance; 0 stays 0. */
  labels: Uint32Array;
  count: number;
  /** ids[l] = original id of dense label l (ids[0] = 0). */
  ids: BigUint64Array;
}

/**
 * Relabel any integer label array (uint64 included) to dense uint32 labels 1..n in order of first
 * appearance, 0 staying 0. Open-addressing hash table over the two 32-bit words of each id; no bigint
 * or Map per voxel.
 */
export function compactLabels(input: LabelArray, out?: Uint32Array): CompactLabels {
  const n = input.length;
  const labels = out ?? new Uint32Array(n);
  if (labels.length !== n) throw new UsageError(`compactLabels: output has ${labels.length} elements, expected ${n}`);
  if (input instanceof BigUint64Array) {
    // little-endian: word 2i = low, 2i+1 = high
    return compact64(new Uint32Array(input.buffer, input.byteOffset, n * 2), n, labels);
  }
  if (input instanceof Uint32Array || input instanceof Uint16Array || input instanceof Uint8Array) {
    const c = compactSmall(input, labels);
    if (c) return c;
  }
  const lo = input;
  let cap = 1024;
  let keys = new Float64Array(cap); // stored key + 1 (0 = empty); ids here fit 2^53 exactly
  let vals = new Uint32Array(cap);
  let count = 0;
  let idsF: number[] = [0];
  let lastKey = NaN;
  let lastVal = 0;
  for (let i = 0; i < n; i++) {
    const v = lo[i];
    if (v === 0) {
      labels[i] = 0;
      continue;
    }
    if (v === lastKey) {
      labels[i] = lastVal;
      continue;
    }
    let h = hash32(v >>> 0, Math.floor(v / 4294967296) >>> 0) & (cap - 1);
    for (;;) {
      const k = keys[h];
      if (k === 0) {
        if (!(v > 0) || !Number.isInteger(v)) throw new UsageError(`compactLabels: label ${v} is not a non-negative integer`);
        keys[h] = v + 1;
        vals[h] = ++count;
        idsF.push(v);
        lastVal = count;
        break;
      }
      if (k === v + 1) {
        lastVal = vals[h];
        break;
      }
      h = (h + 1) & (cap - 1);
    }
    lastKey = v;
    labels[i] = lastVal;
    if (count * 2 > cap) {
      // grow
      const ok = keys;
      const ov = vals;
      cap *= 2;
      keys = new Float64Array(cap);
      vals = new Uint32Array(cap);
      for (let s = 0; s < ok.length; s++) {
        if (ok[s] === 0) continue;
        const kv = ok[s] - 1;
        let hh = hash32(kv >>> 0, Math.floor(kv / 4294967296) >>> 0) & (cap - 1);
        while (keys[hh] !== 0) hh = (hh + 1) & (cap - 1);
        keys[hh] = ok[s];
        vals[hh] = ov[s];
      }
    }
  }
  const ids = new BigUint64Array(count + 1);
  for (let l = 1; l <= count; l++) ids[l] = BigInt(idsF[l]);
  idsF = [];
  return { labels, count, ids };
}

/**
 * compactLabels of unsigned labels whose largest value is at most 4n + 65536: a lookup table
 * indexed by the label instead of the hash table (same numbering: order of first appearance).
 * Undefined when the labels are too sparse for a table.
 */
function compactSmall(input: Uint32Array | Uint16Array | Uint8Array, labels: Uint32Array): CompactLabels | undefined {
  const n = input.length;
  let max0 = 0;
  let max1 = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const a = input[i];
    const b = input[i + 1];
    max0 = a > max0 ? a : max0;
    max1 = b > max1 ? b : max1;
  }
  if (i < n && input[i] > max0) max0 = input[i];
  const max = max0 > max1 ? max0 : max1;
  return max > 4 * n + 65536 ? undefined : compactByTable(input, 1, n, max, labels);
}

/**
 * Number the ids input[k * stride] (k < n, all <= max) in order of first appearance through a table
 * of max + 1 entries: compactSmall's and compactSmall64's shared step (stride 2: the low words of
 * uint64 ids).
 */
function compactByTable(input: Uint32Array | Uint16Array | Uint8Array, stride: 1 | 2, n: number, max: number, labels: Uint32Array): CompactLabels {
  const table = new Uint32Array(max + 1);
  let count = 0;
  for (let k = 0; k < n; k++) {
    const v = input[k * stride];
    let l = table[v];
    if (l === 0 && v !== 0) l = table[v] = ++count;
    labels[k] = l;
  }
  const ids = new BigUint64Array(count + 1);
  const idw = new Uint32Array(ids.buffer);
  for (let v = 1; v <= max; v++) if (table[v] !== 0) idw[2 * table[v]] = v;
  return { labels, count, ids };
}

/** compactSmall for uint64 ids (two words each) whose high words are all 0 and low words small; undefined otherwise. */
function compactSmall64(w: Uint32Array, n: number, labels: Uint32Array): CompactLabels | undefined {
  let max = 0;
  for (let i = 0; i < n; i++) {
    if (w[2 * i + 1] !== 0) return undefined;
    const a = w[2 * i];
    max = a > max ? a : max;
  }
  return max > 4 * n + 65536 ? undefined : compactByTable(w, 2, n, max, labels);
}

function hash32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function compact64(w: Uint32Array, n: number, labels: Uint32Array): CompactLabels {
  const small = compactSmall64(w, n, labels);
  if (small) return small;
  let cap = 1024;
  let klo = new Uint32Array(cap);
  let khi = new Uint32Array(cap);
  let vals = new Uint32Array(cap); // 0 = empty slot
  let count = 0;
  let idLo = new Uint32Array(1024);
  let idHi = new Uint32Array(1024);
  let lastLo = 0;
  let lastHi = 0;
  let lastVal = 0;
  for (let i = 0; i < n; i++) {
    const a = w[2 * i];
    const b = w[2 * i + 1];
    if (a === 0 && b === 0) {
      labels[i] = 0;
      continue;
    }
    if (lastVal !== 0 && a === lastLo && b === lastHi) {
      labels[i] = lastVal;
      continue;
    }
    let h = hash32(a, b) & (cap - 1);
    for (;;) {
      const v = vals[h];
      if (v === 0) {
        klo[h] = a;
        khi[h] = b;
        vals[h] = ++count;
        if (count >= idLo.length) {
          const nl = new Uint32Array(idLo.length * 2);
          nl.set(idLo);
          idLo = nl;
          const nh = new Uint32Array(idHi.length * 2);
          nh.set(idHi);
          idHi = nh;
        }
        idLo[count] = a;
        idHi[count] = b;
        lastVal = count;
        break;
      }
      if (klo[h] === a && khi[h] === b) {
        lastVal = v;
        break;
      }
      h = (h + 1) & (cap - 1);
    }
    lastLo = a;
    lastHi = b;
    labels[i] = lastVal;
    if (count * 2 > cap) {
      const ol = klo;
      const oh = khi;
      const ov = vals;
      cap *= 2;
      klo = new Uint32Array(cap);
      khi = new Uint32Array(cap);
      vals = new Uint32Array(cap);
      for (let s = 0; s < ov.length; s++) {
        if (ov[s] === 0) continue;
        let hh = hash32(ol[s], oh[s]) & (cap - 1);
        while (vals[hh] !== 0) hh = (hh + 1) & (cap - 1);
        klo[hh] = ol[s];
        khi[hh] = oh[s];
        vals[hh] = ov[s];
      }
    }
  }
  const ids = new BigUint64Array(count + 1);
  const iw = new Uint32Array(ids.buffer);
  for (let l = 1; l <= count; l++) {
    iw[2 * l] = idLo[l];
    iw[2 * l + 1] = idHi[l];
  }
  return { labels, count, ids };
}
