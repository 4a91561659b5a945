/**
 * A scripted proofreader that sees ground truth, to measure what edits are worth: each step it
 * either merges the two largest roots overlapping one true cell (each mostly that cell), or
 * splits the worst merge (the root with the most voxels of a second true cell) with sources and
 * sinks from the supervoxels of the two cells, whichever fixes more voxels. A merge inside
 * supervoxels (no supervoxel of the root is mostly the second cell) cannot be split: it is
 * counted as unfixable and skipped. `refused` counts edits the state refused. Pure: it edits a
 * GraphState in memory; VOI is scored on the version after each edit.
 */
import { evaluateSegmentation } from '../../metrics/segmentation.js';
import type { EditRequest, GraphState } from './state.js';

export const ORACLE_DEFAULTS = {
  /** source/sink supervoxels per side of a split (the largest of each true cell in the root) */
  pointsPerSide: 3,
} as const;

export interface OracleStep {
  edits: number;
  voi_split: number;
  voi_merge: number;
  voi: number;
  roots: number;
}

type GtArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | BigUint64Array;

/**
 * Overlap of every supervoxel with the true cells: `svGt[l]` = Map(gt label -> voxels), from
 * dense supervoxel labels (state.index order: `denseToState[l]` = the state's dense index).
 */
function overlaps(labels: Uint32Array, denseToState: Int32Array, gt: GtArray, n: number): Array<Map<number, number>> {
  const out = Array.from({ length: n + 1 }, () => new Map<number, number>());
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    const g = Number(gt[i]);
    if (l === 0 || g === 0) continue;
    const s = denseToState[l];
    if (s < 0) continue;
    const m = out[s];
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return out;
}

/** Root labels per voxel as dense uint32 (for scoring). */
export function rootVolume(state: GraphState, labels: Uint32Array, denseToState: Int32Array): Uint32Array {
  const num = new Map<bigint, number>();
  const per = new Uint32Array(denseToState.length);
  for (let l = 1; l < denseToState.length; l++) {
    const s = denseToState[l];
    if (s < 0) continue;
    const r = state.root[s];
    let k = num.get(r);
    if (k === undefined) num.set(r, (k = num.size + 1));
    per[l] = k;
  }
  const out = new Uint32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = per[labels[i]];
  return out;
}

/**
 * Run `maxEdits` oracle edits on `state` (changed in place, as a user would, with user "oracle"),
 * scoring VOI at each count in `at`. `labels`/`ids` are the dense supervoxels of the volume
 * (compactLabels of the supervoxel layer), `gt` the true cells on the same grid.
 */
export function runOracle(
  state: GraphState,
  labels: Uint32Array,
  ids: BigUint64Array,
  gt: GtArray,
  at: number[],
  opts: { time?: () => string; pointsPerSide?: number } = {},
): { steps: OracleStep[]; kinds: Record<string, number>; refused: number; unfixable: number } {
  const denseToState = new Int32Array(ids.length).fill(-1);
  for (let l = 1; l < ids.length; l++) denseToState[l] = state.index.get(ids[l]) ?? -1;
  const sv = overlaps(labels, denseToState, gt, state.n);
  const maxEdits = Math.max(0, ...at);
  const per = opts.pointsPerSide ?? ORACLE_DEFAULTS.pointsPerSide;
  const time = opts.time ?? (() => new Date().toISOString());
  const steps: OracleStep[] = [];
  const kinds: Record<string, number> = { merge: 0, split: 0 };
  let refused = 0;
  let unfixable = 0;
  const done = new Set<string>();
  const unfixableRoots = new Set<bigint>();
  const score = (edits: number): void => {
    const seg = rootVolume(state, labels, denseToState);
    const s = evaluateSegmentation(seg, gt);
    steps.push({ edits, voi_split: s.voi_split, voi_merge: s.voi_merge, voi: s.voi_split + s.voi_merge, roots: state.rep.size });
  };
  let edits = 0;
  if (at.includes(0)) score(0);
  while (edits < maxEdits) {
    // root x gt overlaps, and each root's supervoxels
    const rootGt = new Map<bigint, Map<number, number>>();
    const rootSv = new Map<bigint, number[]>();
    for (let s = 1; s <= state.n; s++) {
      if (sv[s].size === 0) continue;
      const r = state.root[s];
      let m = rootGt.get(r);
      if (!m) { rootGt.set(r, (m = new Map())); rootSv.set(r, []); }
      rootSv.get(r)!.push(s);
      for (const [g, c] of sv[s]) m.set(g, (m.get(g) ?? 0) + c);
    }
    const major = (m: Map<number, number>): [number, number, number, number] => {
      let g1 = 0, c1 = 0, g2 = 0, c2 = 0;
      for (const [g, c] of m) {
        if (c > c1 || (c === c1 && g < g1)) { g2 = g1; c2 = c1; g1 = g; c1 = c; }
        else if (c > c2 || (c === c2 && g < g2)) { g2 = g; c2 = c; }
      }
      return [g1, c1, g2, c2];
    };
    // candidates: merges (per true cell, the two largest roots whose majority it is) and splits
    // (roots holding voxels of a second cell), best gain first
    type Cand = { gain: number; kind: 'merge'; a: bigint; b: bigint; g: number } | { gain: number; kind: 'split'; root: bigint; g1: number; g2: number };
    const cands: Cand[] = [];
    const byCell = new Map<number, Array<[bigint, number]>>();
    for (const [r, m] of rootGt) {
      const [g1, c1, g2, c2] = major(m);
      const list = byCell.get(g1);
      if (list) list.push([r, c1]);
      else byCell.set(g1, [[r, c1]]);
      if (c2 > 0) cands.push({ gain: c2, kind: 'split', root: r, g1, g2 });
    }
    for (const [g, list] of byCell) {
      if (list.length < 2) continue;
      list.sort((p, q) => q[1] - p[1] || (p[0] < q[0] ? -1 : 1));
      cands.push({ gain: list[1][1], kind: 'merge', a: list[0][0], b: list[1][0], g });
    }
    cands.sort((p, q) => q.gain - p.gain || (p.kind === q.kind ? 0 : p.kind === 'merge' ? -1 : 1));
    // the supervoxels of a root that are mostly cell g (largest first)
    const pick = (r: bigint, g: number, k: number): bigint[] =>
      rootSv.get(r)!
        .filter((s) => major(sv[s])[0] === g)
        .sort((p, q) => (sv[q].get(g) ?? 0) - (sv[p].get(g) ?? 0) || p - q)
        .slice(0, k)
        .map((s) => state.base.ids[s]);
    // an edit identical to one already made (same supervoxels) would only cycle: take the next candidate
    let made = false;
    for (const c of cands) {
      let req: EditRequest;
      if (c.kind === 'merge') {
        req = { kind: 'merge', a: pick(c.a, c.g, 1)[0], b: pick(c.b, c.g, 1)[0] };
      } else {
        const sources = pick(c.root, c.g1, per), sinks = pick(c.root, c.g2, per);
        if (sources.length === 0 || sinks.length === 0) {
          if (!unfixableRoots.has(c.root)) { unfixableRoots.add(c.root); unfixable++; }
          continue;
        }
        req = { kind: 'split', sources, sinks };
      }
      const key = JSON.stringify(req, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
      if (done.has(key)) continue;
      done.add(key);
      try {
        state.edit(req, { user: 'oracle', time: time() });
      } catch (err) {
        if (process.env.WIRING_ORACLE_DEBUG) console.error((err as Error).message);
        refused++;
        continue;
      }
      kinds[req.kind]++;
      made = true;
      break;
    }
    if (!made) break;
    edits++;
    if (at.includes(edits)) score(edits);
  }
  // stopped early (no error left that an edit can fix): the final state
  if (edits < maxEdits && !at.includes(edits)) score(edits);
  return { steps, kinds, refused, unfixable };
}
