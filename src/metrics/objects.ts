/**
 * Object-level scores of a detected binary mask (or labelled objects) against a true mask: the
 * score of a synapse cleft or mitochondrion detector, where a table row is an object, not a voxel.
 *
 * Objects are 3-D components (26-connectivity by default; `connectivity` 4/8 labels per section).
 * Matching rule (`matchObjects`): every (found, true) pair that overlaps is a candidate with its
 * overlap voxel count and IoU; candidates are taken greedily by decreasing overlap, each object used
 * at most once (one-to-one), and a pair counts as a match when its IoU >= `minIou` (default 0: any
 * overlap, the rule of ../shared/refs/ref_organelles.py). precision = matches / found objects,
 * recall = matches / true objects. Dice is over voxels of the two masks.
 */
import type { Vec3 } from '../core/box.js';
import { type Connectivity, type LabelArray, compactLabels, connectedComponents } from '../kernels/components.js';

export interface ObjectScores {
  trueObjects: number;
  foundObjects: number;
  matched: number;
  precision: number;
  recall: number;
  f1: number;
  /** 2 |A and B| / (|A| + |B|) over voxels. */
  dice: number;
  /** Mean IoU of the matched pairs (NaN when none). */
  meanIou: number;
}

export interface ObjectMatchOptions {
  connectivity?: Connectivity;
  /** A greedy one-to-one pair counts when its IoU is at least this (default 0 = any overlap). */
  minIou?: number;
}

/** Score labelled objects (1..nPred, 0 = background) against labelled true objects (1..nTrue). */
export function matchObjects(pred: Uint32Array, nPred: number, truth: Uint32Array, nTrue: number, minIou = 0): ObjectScores {
  if (pred.length !== truth.length) throw new RangeError(`matchObjects: ${pred.length} predicted voxels but ${truth.length} true voxels`);
  const sp = new Float64Array(nPred + 1), st = new Float64Array(nTrue + 1);
  const pairs = new Map<number, number>();
  let both = 0, np = 0, nt = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i], t = truth[i];
    if (p) { sp[p]++; np++; }
    if (t) { st[t]++; nt++; }
    if (p && t) {
      both++;
      const k = p * (nTrue + 1) + t;
      pairs.set(k, (pairs.get(k) ?? 0) + 1);
    }
  }
  const cand = [...pairs].map(([k, n]) => ({ p: Math.floor(k / (nTrue + 1)), t: k % (nTrue + 1), n }));
  cand.sort((a, b) => b.n - a.n || a.p - b.p || a.t - b.t);
  const usedP = new Uint8Array(nPred + 1), usedT = new Uint8Array(nTrue + 1);
  let matched = 0, iouSum = 0;
  for (const c of cand) {
    if (usedP[c.p] || usedT[c.t]) continue;
    const iou = c.n / (sp[c.p] + st[c.t] - c.n);
    usedP[c.p] = 1;
    usedT[c.t] = 1;
    if (iou >= minIou) {
      matched++;
      iouSum += iou;
    }
  }
  const precision = nPred ? matched / nPred : 0;
  const recall = nTrue ? matched / nTrue : 0;
  return {
    trueObjects: nTrue,
    foundObjects: nPred,
    matched,
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    dice: np + nt > 0 ? (2 * both) / (np + nt) : 1,
    meanIou: matched ? iouSum / matched : NaN,
  };
}

/** Components of both masks (non-zero = foreground), then `matchObjects`. */
export function objectScores(pred: ArrayLike<number> & { length: number }, truth: ArrayLike<number> & { length: number }, shape: Vec3, opts: ObjectMatchOptions = {}): ObjectScores {
  const conn = opts.connectivity ?? 26;
  const a = connectedComponents(pred as Uint8Array, shape, { connectivity: conn });
  const b = connectedComponents(truth as Uint8Array, shape, { connectivity: conn });
  return matchObjects(a.labels, a.count, b.labels, b.count, opts.minIou ?? 0);
}

/**
 * Score two label maps object by object: every non-zero id is one object (connected or not, as a
 * table row is), ids compacted, then `matchObjects`. For objects that carry ids already: ground-truth
 * clefts, mitochondria and vesicle clouds of the phantom, or detections written as labels.
 */
export function labelObjectScores(pred: LabelArray, truth: LabelArray, minIou = 0): ObjectScores {
  const a = compactLabels(pred);
  const b = compactLabels(truth);
  return matchObjects(a.labels, a.count, b.labels, b.count, minIou);
}
