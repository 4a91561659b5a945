/**
 * Segmentation metrics against a ground truth: variation of information (split/merge, bits) and
 * adapted Rand error in two conventions, from one sparse contingency table.
 *
 * Notation: n_ij = voxels with gt label i and seg label j over the evaluated voxels (gt != 0),
 * N = sum n_ij, a_i = sum_j n_ij (gt sizes), b_j = sum_i n_ij (seg sizes). Seg label 0 is an ordinary
 * label for VOI and `arand_skimage`.
 *
 *  voi_split = H(seg | gt) = H(gt, seg) - H(gt);  voi_merge = H(gt | seg) = H(gt, seg) - H(seg)  (log2)
 *    (= skimage.metrics.variation_of_information(gt, seg, ignore_labels=[0]) and CREMI's voi)
 *  arand (CREMI / SNEMI3D convention, cremi_python evaluation/rand.py = the SNEMI3D MATLAB script):
 *    seg 0 voxels inside gt count as singletons through the C/n term, with C = #(gt != 0, seg == 0)
 *    and n = ALL voxels (gt 0 included):
 *    sumA = sum_i a_i^2, sumB = sum_{j>0} b_j^2 + C/n, sumAB = sum_{i, j>0} n_ij^2 + C/n,
 *    P = sumAB / sumB, R = sumAB / sumA, arand = 1 - 2PR / (P + R)
 *  arand_skimage (skimage.metrics.adapted_rand_error(gt, seg, ignore_labels=(0,))): true pair counts,
 *    sumAB = sum n_ij^2 - N, sumA = sum a_i^2 - N, sumB = sum b_j^2 - N, same formula.
 *
 * Labels may be any integer typed array, uint64 (BigUint64Array) included. The table is built with
 * open-addressing hashes over typed arrays (dense relabelling of both volumes, then a hash of the
 * (gt, seg) pair) — no Map and no bigint per voxel.
 */
import { UsageError } from '../core/errors.js';
import { type LabelArray, compactLabels } from '../kernels/components.js';
import { hashPair } from '../core/hash.js';

export interface Contingency {
  /** Dense gt label (1..nGt) of each table entry. */
  gt: Uint32Array;
  /** Dense seg label (0..nSeg, 0 = seg label 0) of each table entry. */
  seg: Uint32Array;
  /** Voxel count of each entry (n_ij > 0). */
  count: Float64Array;
  /** a_i: evaluated voxels per dense gt label (index 0 unused). */
  gtSizes: Float64Array;
  /** b_j: evaluated voxels per dense seg label (index 0 = seg label 0). */
  segSizes: Float64Array;
  /** Original ids of dense labels. */
  gtIds: BigUint64Array;
  segIds: BigUint64Array;
  /** Evaluated voxels (gt != 0) and all voxels. */
  evaluated: number;
  total: number;
}

export interface SegmentationScores {
  voi_split: number;
  voi_merge: number;
  /** CREMI / SNEMI3D adapted Rand error. */
  arand: number;
  arand_precision: number;
  arand_recall: number;
  /** scikit-image adapted Rand error. */
  arand_skimage: number;
  /** distinct non-zero gt labels */
  gt_segments: number;
  /** distinct non-zero seg labels in the whole volume */
  seg_segments: number;
  /** distinct non-zero seg labels on voxels where gt != 0 */
  seg_segments_in_gt: number;
  voxels_evaluated: number;
  voxels_total: number;
}

/** Sparse contingency table of seg vs gt over voxels where gt != 0. */
export function contingency(seg: LabelArray, gt: LabelArray): Contingency {
  if (seg.length !== gt.length) {
    throw new UsageError(`segmentation has ${seg.length} voxels but ground truth has ${gt.length}; they must cover the same box`);
  }
  const n = gt.length;
  const fused = contingencyByValue(seg, gt);
  if (fused) return fused;
  const g = compactLabels(gt);
  const s = compactLabels(seg);
  const gl = g.labels;
  const sl = s.labels;
  const gtSizes = new Float64Array(g.count + 1);
  const segSizes = new Float64Array(s.count + 1);
  let cap = 1024;
  while (cap < 2 * (g.count + s.count)) cap *= 2;
  let kg = new Uint32Array(cap); // dense gt label (never 0 for a used slot)
  let ks = new Uint32Array(cap);
  let kc = new Float64Array(cap);
  let used = 0;
  let lastG = 0;
  let lastS = 0;
  let lastSlot = -1;
  let evaluated = 0;
  for (let i = 0; i < n; i++) {
    const a = gl[i];
    if (a === 0) continue;
    const b = sl[i];
    evaluated++;
    gtSizes[a]++;
    segSizes[b]++;
    if (a === lastG && b === lastS && lastSlot >= 0) {
      kc[lastSlot]++;
      continue;
    }
    let h = hashPair(a, b) & (cap - 1);
    for (;;) {
      const k = kg[h];
      if (k === 0) {
        kg[h] = a;
        ks[h] = b;
        kc[h] = 1;
        used++;
        break;
      }
      if (k === a && ks[h] === b) {
        kc[h]++;
        break;
      }
      h = (h + 1) & (cap - 1);
    }
    lastG = a;
    lastS = b;
    lastSlot = h;
    if (used * 2 > cap) {
      const og = kg;
      const os = ks;
      const oc = kc;
      cap *= 2;
      kg = new Uint32Array(cap);
      ks = new Uint32Array(cap);
      kc = new Float64Array(cap);
      for (let t = 0; t < og.length; t++) {
        if (og[t] === 0) continue;
        let hh = hashPair(og[t], os[t]) & (cap - 1);
        while (kg[hh] !== 0) hh = (hh + 1) & (cap - 1);
        kg[hh] = og[t];
        ks[hh] = os[t];
        kc[hh] = oc[t];
      }
      lastSlot = -1;
    }
  }
  const outG = new Uint32Array(used);
  const outS = new Uint32Array(used);
  const outC = new Float64Array(used);
  let e = 0;
  for (let t = 0; t < cap; t++) {
    if (kg[t] === 0) continue;
    outG[e] = kg[t];
    outS[e] = ks[t];
    outC[e] = kc[t];
    e++;
  }
  return { gt: outG, seg: outS, count: outC, gtSizes, segSizes, gtIds: g.ids, segIds: s.ids, evaluated, total: n };
}

/** Count tables up to this many cells (16 MB) are direct arrays instead of a hash. */
const DIRECT_CELLS = 1 << 22;

type NumberLabels = Exclude<LabelArray, BigUint64Array>;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Labels as numbers with a stride: number arrays as they are (stride 1); a uint64 array whose ids
 * all fit 32 bits (as a segmentation layer's often do) as its low words (stride 2, no bigint per
 * voxel). Null for floats, negative labels or ids of 2^32 and more.
 */
function numberLabels(v: LabelArray): { x: NumberLabels; stride: number } | null {
  if (v instanceof Float32Array || v instanceof Float64Array) return null;
  if (v instanceof BigUint64Array) {
    if (!LITTLE_ENDIAN) return null;
    const w = new Uint32Array(v.buffer, v.byteOffset, 2 * v.length);
    let high = 0;
    for (let i = 1; i < w.length; i += 2) high |= w[i];
    return high === 0 ? { x: w, stride: 2 } : null;
  }
  if (v instanceof Int8Array || v instanceof Int16Array || v instanceof Int32Array) {
    let min = 0;
    for (let i = 0; i < v.length; i++) min = v[i] < min ? v[i] : min;
    if (min < 0) return null;
  }
  return { x: v, stride: 1 };
}

/** Largest labels of both, in one pass (these passes are bound by memory, so both arrays are read together). */
function maxLabels(a: NumberLabels, sa: number, b: NumberLabels, sb: number, n: number): [number, number] {
  let maxA = 0, maxB = 0;
  if (sa === 1 && sb === 1) {
    for (let i = 0; i < n; i++) {
      // selects, not branches
      const p = a[i];
      const q = b[i];
      maxA = p > maxA ? p : maxA;
      maxB = q > maxB ? q : maxB;
    }
    return [maxA, maxB];
  }
  for (let i = 0; i < n; i++) {
    const p = a[i * sa];
    const q = b[i * sb];
    maxA = p > maxA ? p : maxA;
    maxB = q > maxB ? q : maxB;
  }
  return [maxA, maxB];
}

/**
 * The contingency table in one pass over the raw labels, when both are small non-negative integers
 * (uint64 too, when every id fits 32 bits)
 * ((max gt + 1) * (max seg + 1) <= DIRECT_CELLS, as for watershed and agglomeration output against
 * most ground truth): every voxel increments its (gt, seg) cell, row gt = 0 included (it tells
 * which seg labels occur at all), with no relabelling pass and no hashing. Dense labels are
 * numbered in label order and entries come in (gt, seg) order. Null when the labels do not fit.
 */
function contingencyByValue(seg: LabelArray, gt: LabelArray): Contingency | null {
  const gv = numberLabels(gt);
  const sv = gv && numberLabels(seg);
  if (!gv || !sv) return null;
  const n = gt.length;
  const [maxG, maxS] = maxLabels(gv.x, gv.stride, sv.x, sv.stride, n);
  if ((maxG + 1) * (maxS + 1) > DIRECT_CELLS) return null;
  const S = maxS + 1;
  const cells = new Uint32Array((maxG + 1) * S);
  const g = gv.x, sg = gv.stride;
  const s = sv.x, ss = sv.stride;
  if (sg === 1 && ss === 1) for (let i = 0; i < n; i++) cells[g[i] * S + s[i]]++;
  else for (let i = 0; i < n; i++) cells[g[i * sg] * S + s[i * ss]]++;
  // dense numbering: gt labels with voxels; seg labels with voxels anywhere (also where gt = 0)
  const segDense = new Int32Array(S).fill(-1);
  segDense[0] = 0;
  for (let a = 0, c = 0; a <= maxG; a++) for (let b = 0; b < S; b++, c++) if (cells[c] !== 0 && segDense[b] < 0) segDense[b] = 1;
  const segIdList: number[] = [0];
  for (let b = 1; b < S; b++) if (segDense[b] > 0) segDense[b] = segIdList.push(b) - 1;
  const gtIdList: number[] = [0];
  let used = 0;
  for (let a = 1; a <= maxG; a++) {
    let any = false;
    for (let b = 0, c = a * S; b < S; b++, c++) {
      if (cells[c] === 0) continue;
      any = true;
      used++;
    }
    if (any) gtIdList.push(a);
  }
  const gtSizes = new Float64Array(gtIdList.length);
  const segSizes = new Float64Array(segIdList.length);
  const outG = new Uint32Array(used);
  const outS = new Uint32Array(used);
  const outC = new Float64Array(used);
  let e = 0;
  let evaluated = 0;
  for (let l = 1; l < gtIdList.length; l++) {
    const row = gtIdList[l] * S;
    for (let b = 0; b < S; b++) {
      const c = cells[row + b];
      if (c === 0) continue;
      const sb = segDense[b];
      outG[e] = l;
      outS[e] = sb;
      outC[e] = c;
      e++;
      gtSizes[l] += c;
      segSizes[sb] += c;
      evaluated += c;
    }
  }
  return {
    gt: outG, seg: outS, count: outC, gtSizes, segSizes,
    gtIds: BigUint64Array.from(gtIdList, (v) => BigInt(v)), segIds: BigUint64Array.from(segIdList, (v) => BigInt(v)),
    evaluated, total: n,
  };
}

function entropy(counts: Float64Array, N: number): number {
  let h = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c > 0) {
      const p = c / N;
      h -= p * Math.log(p);
    }
  }
  return h;
}

function fscore(P: number, R: number): number {
  return P + R > 0 ? 1 - (2 * P * R) / (P + R) : 1;
}

/** All scores from a contingency table. */
export function scoresFromContingency(t: Contingency): SegmentationScores {
  const N = t.evaluated;
  let segSegmentsInGt = 0;
  for (let j = 1; j < t.segSizes.length; j++) if (t.segSizes[j] > 0) segSegmentsInGt++;
  const base = {
    gt_segments: t.gtIds.length - 1,
    seg_segments: t.segIds.length - 1,
    seg_segments_in_gt: segSegmentsInGt,
    voxels_evaluated: N,
    voxels_total: t.total,
  };
  if (N === 0) {
    return { voi_split: 0, voi_merge: 0, arand: 0, arand_precision: 1, arand_recall: 1, arand_skimage: 0, ...base };
  }
  const Hgs = entropy(t.count, N);
  const Hg = entropy(t.gtSizes, N);
  const Hs = entropy(t.segSizes, N);
  const LN2 = Math.log(2);
  const voi_split = Math.max(0, (Hgs - Hg) / LN2);
  const voi_merge = Math.max(0, (Hgs - Hs) / LN2);

  let sumA = 0;
  for (let i = 1; i < t.gtSizes.length; i++) sumA += t.gtSizes[i] * t.gtSizes[i];
  let sumB0 = 0; // over j > 0
  for (let j = 1; j < t.segSizes.length; j++) sumB0 += t.segSizes[j] * t.segSizes[j];
  let sumAB0 = 0; // over j > 0
  let sumABall = 0;
  let C = 0;
  for (let e = 0; e < t.count.length; e++) {
    const c = t.count[e];
    sumABall += c * c;
    if (t.seg[e] === 0) C += c;
    else sumAB0 += c * c;
  }
  const ntot = t.total;
  const sumB = sumB0 + C / ntot;
  const sumAB = sumAB0 + C / ntot;
  const P = sumAB / sumB;
  const R = sumAB / sumA;
  const arand = fscore(P, R);
  const b0 = t.segSizes[0];
  const sAB = sumABall - N;
  const sA = sumA - N;
  const sB = sumB0 + b0 * b0 - N;
  const P2 = sB > 0 ? sAB / sB : 1;
  const R2 = sA > 0 ? sAB / sA : 1;
  const arand_skimage = fscore(P2, R2);
  return { voi_split, voi_merge, arand, arand_precision: P, arand_recall: R, arand_skimage, ...base };
}

/** VOI split/merge (bits), adapted Rand errors and segment counts of `seg` against `gt` (gt 0 ignored). */
export function evaluateSegmentation(seg: LabelArray, gt: LabelArray): SegmentationScores {
  return scoresFromContingency(contingency(seg, gt));
}

/**
 * The contingency table of a volume read block by block (the table is a sum over voxels): `add`
 * each block's seg and gt labels, then `table()` merges the blocks' tables by original ids, so
 * memory is one block plus the table. Same scores as one `contingency` of the whole volume.
 */
export class ContingencyAccumulator {
  /** "gtId segId" -> voxels; one entry per pair, merged per block (never per voxel). */
  private readonly pairs = new Map<string, number>();
  private readonly segSeen = new Set<bigint>();
  private evaluated = 0;
  private total = 0;

  add(seg: LabelArray, gt: LabelArray): void {
    const t = contingency(seg, gt);
    for (let e = 0; e < t.count.length; e++) {
      const key = `${t.gtIds[t.gt[e]]} ${t.segIds[t.seg[e]]}`;
      this.pairs.set(key, (this.pairs.get(key) ?? 0) + t.count[e]);
    }
    // seg labels count as segments wherever they occur, also where gt = 0
    for (let l = 1; l < t.segIds.length; l++) this.segSeen.add(t.segIds[l]);
    this.evaluated += t.evaluated;
    this.total += t.total;
  }

  table(): Contingency {
    const entries = [...this.pairs].map(([key, count]) => {
      const sp = key.indexOf(' ');
      return { g: BigInt(key.slice(0, sp)), s: BigInt(key.slice(sp + 1)), count };
    });
    const gtIds = BigUint64Array.from(new Set([0n, ...entries.map((e) => e.g)])).sort();
    const segIds = BigUint64Array.from(new Set([0n, ...this.segSeen])).sort();
    const gIndex = new Map(Array.from(gtIds, (id, i) => [id, i] as const));
    const sIndex = new Map(Array.from(segIds, (id, i) => [id, i] as const));
    const n = entries.length;
    const out: Contingency = {
      gt: new Uint32Array(n), seg: new Uint32Array(n), count: new Float64Array(n),
      gtSizes: new Float64Array(gtIds.length), segSizes: new Float64Array(segIds.length),
      gtIds, segIds, evaluated: this.evaluated, total: this.total,
    };
    entries.forEach((e, k) => {
      const a = gIndex.get(e.g)!;
      const b = sIndex.get(e.s)!;
      out.gt[k] = a;
      out.seg[k] = b;
      out.count[k] = e.count;
      out.gtSizes[a] += e.count;
      out.segSizes[b] += e.count;
    });
    return out;
  }
}
