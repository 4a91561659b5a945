import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import type { Volume } from '../core/volume.js';
import { edt } from '../kernels/edt.js';

/**
 * Synapse evaluation in the manner of the CREMI challenge.
 *
 * Synaptic partners: predicted and ground-truth synapses are (pre id, post id, pre point,
 * post point). A prediction may match a ground-truth synapse when both ids agree and both the
 * pre and the post points lie within `maxDistance` nm of the ground truth's; the matching is
 * one-to-one, with the most matches and then the least summed distance (Hungarian algorithm).
 * F-score = 2 TP / (2 TP + FP + FN).
 *
 * Clefts: ADGT = mean distance (nm) from each ground-truth cleft voxel to the nearest predicted
 * cleft voxel, ADF = mean distance from each predicted cleft voxel to the nearest ground-truth
 * cleft voxel, CREMI score = (ADGT + ADF) / 2; plus the voxels farther than a tolerance.
 */

export interface PartnerSynapse {
  pre_id: bigint;
  post_id: bigint;
  /** nm, [x, y, z] */
  pre: Vec3;
  post: Vec3;
}

export interface PartnerScore {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  fscore: number;
  /** Matched (prediction index, ground-truth index) pairs. */
  matches: [number, number][];
  /** Mean over matches of (pre distance + post distance) / 2, nm (0 without matches). */
  meanDistance: number;
}

function dist(a: Vec3, b: Vec3): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/**
 * Minimum-cost assignment of rows to columns (rows <= cols) for a dense cost matrix
 * (row-major, rows x cols): the O(rows^2 cols) shortest augmenting path Hungarian method.
 * Returns col index per row.
 */
export function hungarian(cost: Float64Array, rows: number, cols: number): Int32Array {
  if (rows > cols) throw new UsageError(`hungarian: ${rows} rows > ${cols} columns (transpose first)`);
  const INF = Infinity;
  const u = new Float64Array(rows + 1);
  const v = new Float64Array(cols + 1);
  const p = new Int32Array(cols + 1); // p[j] = row (1-based) assigned to column j
  const way = new Int32Array(cols + 1);
  const minv = new Float64Array(cols + 1);
  const used = new Uint8Array(cols + 1);
  for (let i = 1; i <= rows; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(INF);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = INF;
      let j1 = 0;
      for (let j = 1; j <= cols; j++) {
        if (used[j]) continue;
        const cur = cost[(i0 - 1) * cols + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= cols; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const out = new Int32Array(rows).fill(-1);
  for (let j = 1; j <= cols; j++) if (p[j] > 0) out[p[j] - 1] = j - 1;
  return out;
}

/** CREMI-like synaptic partner F-score (see the module comment). */
export function synapticPartnerScore(pred: PartnerSynapse[], gt: PartnerSynapse[], opts: { maxDistance?: number } = {}): PartnerScore {
  const maxD = opts.maxDistance ?? 400;
  if (!(maxD >= 0)) throw new UsageError(`maxDistance ${maxD} must be >= 0`);
  // candidate edges (ids agree, both points close), grouped by id pair
  const byPair = new Map<string, number[]>();
  gt.forEach((g, j) => {
    const k = `${g.pre_id}|${g.post_id}`;
    let a = byPair.get(k);
    if (!a) byPair.set(k, (a = []));
    a.push(j);
  });
  const edges: { i: number; j: number; c: number }[] = [];
  pred.forEach((p, i) => {
    for (const j of byPair.get(`${p.pre_id}|${p.post_id}`) ?? []) {
      const dp = dist(p.pre, gt[j].pre);
      const dq = dist(p.post, gt[j].post);
      if (dp <= maxD && dq <= maxD) edges.push({ i, j, c: (dp + dq) / 2 });
    }
  });
  // connected components of the candidate graph, each solved on its own
  const parent = new Int32Array(pred.length + gt.length).map((_, k) => k);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (const e of edges) parent[find(e.i)] = find(pred.length + e.j);
  const groups = new Map<number, { i: number; j: number; c: number }[]>();
  for (const e of edges) {
    const r = find(e.i);
    let g = groups.get(r);
    if (!g) groups.set(r, (g = []));
    g.push(e);
  }
  const matches: [number, number][] = [];
  let sumD = 0;
  for (const es of groups.values()) {
    const rowsI = [...new Set(es.map((e) => e.i))];
    const colsJ = [...new Set(es.map((e) => e.j))];
    const transpose = rowsI.length > colsJ.length;
    const R = transpose ? colsJ : rowsI;
    const C = transpose ? rowsI : colsJ;
    const ri = new Map(R.map((x, k) => [x, k]));
    const ci = new Map(C.map((x, k) => [x, k]));
    // forbidden pairs cost more than every allowed pair together: most matches first, then least distance
    const BIG = (es.reduce((a, e) => a + e.c, 0) + 1) * (R.length + 1);
    const cost = new Float64Array(R.length * C.length).fill(BIG);
    for (const e of es) {
      const r = ri.get(transpose ? e.j : e.i)!;
      const c = ci.get(transpose ? e.i : e.j)!;
      cost[r * C.length + c] = e.c;
    }
    const asg = hungarian(cost, R.length, C.length);
    asg.forEach((c, r) => {
      if (c < 0 || cost[r * C.length + c] >= BIG) return;
      const [i, j] = transpose ? [C[c], R[r]] : [R[r], C[c]];
      matches.push([i, j]);
      sumD += cost[r * C.length + c];
    });
  }
  matches.sort((a, b) => a[0] - b[0]);
  const tp = matches.length;
  const fp = pred.length - tp;
  const fn = gt.length - tp;
  const precision = pred.length ? tp / pred.length : 1;
  const recall = gt.length ? tp / gt.length : 1;
  const fscore = tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn);
  return { tp, fp, fn, precision, recall, fscore, matches, meanDistance: tp ? sumD / tp : 0 };
}

/**
 * Replace predicted partner ids by the ground-truth segment ids found at the predicted pre and
 * post points (nm -> voxel of `gtSegmentation`), as CREMI does, so a prediction made on another
 * segmentation can be scored. Points outside the volume get id 0.
 */
export function relabelPartners(pred: PartnerSynapse[], gtSegmentation: Volume): PartnerSynapse[] {
  const vs = gtSegmentation.voxelSize;
  const b = gtSegmentation.box;
  const at = (p: Vec3): bigint => {
    const v = [0, 1, 2].map((a) => Math.floor(p[a] / vs[a]));
    for (let a = 0; a < 3; a++) if (v[a] < b.min[a] || v[a] >= b.max[a]) return 0n;
    return BigInt(gtSegmentation.get(v[0], v[1], v[2]) as number | bigint);
  };
  return pred.map((p) => ({ ...p, pre_id: at(p.pre), post_id: at(p.post) }));
}

export interface CleftScore {
  /** Mean distance (nm) of ground-truth cleft voxels to the nearest predicted cleft voxel. */
  adgt: number;
  /** Mean distance (nm) of predicted cleft voxels to the nearest ground-truth cleft voxel. */
  adf: number;
  /** (adgt + adf) / 2 */
  cremiScore: number;
  /** Predicted voxels farther than the tolerance from any ground-truth cleft (false positives). */
  fpVoxels: number;
  /** Ground-truth voxels farther than the tolerance from any predicted cleft (false negatives). */
  fnVoxels: number;
  predVoxels: number;
  gtVoxels: number;
}

/**
 * Cleft distance scores of two masks (non-zero = cleft) of the same shape [x, y, z] at
 * `voxelSize` nm. With an empty side the distances are Infinity (both empty: 0).
 */
export function cleftDistanceScore(
  pred: ArrayLike<number>,
  gt: ArrayLike<number>,
  shape: Vec3,
  voxelSize: Vec3,
  opts: { tolerance?: number } = {},
): CleftScore {
  const n = shape[0] * shape[1] * shape[2];
  if (pred.length !== n || gt.length !== n) throw new UsageError(`cleft masks have ${pred.length} and ${gt.length} voxels, expected ${n} for shape [${shape}]`);
  const tol = opts.tolerance ?? 200;
  const notPred = new Uint8Array(n);
  const notGt = new Uint8Array(n);
  let np = 0;
  let ng = 0;
  for (let i = 0; i < n; i++) {
    if (pred[i]) np++;
    else notPred[i] = 1;
    if (gt[i]) ng++;
    else notGt[i] = 1;
  }
  if (np === 0 && ng === 0) return { adgt: 0, adf: 0, cremiScore: 0, fpVoxels: 0, fnVoxels: 0, predVoxels: 0, gtVoxels: 0 };
  if (np === 0 || ng === 0) {
    return { adgt: ng ? Infinity : 0, adf: np ? Infinity : 0, cremiScore: Infinity, fpVoxels: np, fnVoxels: ng, predVoxels: np, gtVoxels: ng };
  }
  const toPred = edt(notPred, shape, { sampling: voxelSize });
  const toGt = edt(notGt, shape, { sampling: voxelSize });
  let sgt = 0;
  let sf = 0;
  let fpV = 0;
  let fnV = 0;
  for (let i = 0; i < n; i++) {
    if (gt[i]) {
      sgt += toPred[i];
      if (toPred[i] > tol) fnV++;
    }
    if (pred[i]) {
      sf += toGt[i];
      if (toGt[i] > tol) fpV++;
    }
  }
  const adgt = sgt / ng;
  const adf = sf / np;
  return { adgt, adf, cremiScore: (adgt + adf) / 2, fpVoxels: fpV, fnVoxels: fnV, predVoxels: np, gtVoxels: ng };
}
