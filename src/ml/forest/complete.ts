/**
 * The complete-tree layout of shallow trees: a tree of depth D <= COMPLETE_MAX_DEPTH is stored as a
 * complete binary tree of 2^D - 1 inner words and 2^D leaves (a leaf above level D is padded by
 * nodes that always go left), so every sample walks exactly D branch-free steps (1-based heap index:
 * node = 2 * node + (bin < rank)) with no test for 'at a leaf'. Same leaves as the compact walk, so
 * the same bits. Deeper trees keep the compact lockstep walk (predict.ts); a forest may mix both.
 */
import type { TreeArrays } from './params.js';

/**
 * Trees of at most this depth take the complete layout (2^D * 4 bytes per tree: 16 KiB at depth 12).
 * Chosen on ISBI (bench/forest-predict.bench.ts, BENCH_PARTS=walk; docs/THROUGHPUT.md): against the
 * lockstep walk 1.00x at depth 8, 1.11x at 10, 1.03x at 12, 0.87x at 14 (the layout outgrows the cache).
 */
export const COMPLETE_MAX_DEPTH = 12;

/** Complete-tree words and leaves of the trees that fit (depth[t] = 0: tree t walks the compact way). */
export interface CompleteLayout {
  /** per tree: its depth D (>= 1) in the complete layout, or 0 when it is deeper than the limit (or a lone leaf) */
  depth: Int32Array;
  /** per tree: offset of its 2^D - 1 inner words in `words` (heap order: node h at words[off + h - 1]) */
  wordOff: Int32Array;
  /** per tree: offset of its 2^D leaves in `leaves` */
  leafOff: Int32Array;
  /** inner nodes: feature | bin << 8 (padding: feature 0, bin 255, which every rank satisfies: go left) */
  words: Uint16Array;
  /** per tree: the smallest leaf index (child[leaf]) of its leaves */
  leafBase: Int32Array;
  /** leaves: child[leaf] - leafBase[t] (the leaf's class distribution is leafProb[child[leaf] * K ..+ K]); a tree whose leaf indices span 65536 or more stays compact */
  leaves: Uint16Array;
}

/** Depth of every tree (a lone leaf: 0). */
export function treeDepths(trees: TreeArrays): Int32Array {
  const { roots, feature, child } = trees;
  const out = new Int32Array(roots.length);
  const stack: number[] = [];
  for (let t = 0; t < roots.length; t++) {
    let d = 0;
    stack.push(roots[t], 0);
    while (stack.length) {
      const depth = stack.pop()!;
      const i = stack.pop()!;
      if (feature[i] < 0) d = Math.max(d, depth);
      else stack.push(child[i], depth + 1, child[i] + 1, depth + 1);
    }
    out[t] = d;
  }
  return out;
}

/** The complete layout of the trees of depth 1..maxDepth, from the compact layout's words (their features and bins); null when no tree fits. */
export function completeLayout(trees: TreeArrays, words: Int32Array, maxDepth = COMPLETE_MAX_DEPTH): CompleteLayout | null {
  const { roots, feature, child } = trees;
  const T = roots.length;
  const all = treeDepths(trees);
  const leafBase = new Int32Array(T);
  const leafTop = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    const end = t + 1 < T ? roots[t + 1] : feature.length;
    let lo = Infinity, hi = -Infinity;
    for (let i = roots[t]; i < end; i++) if (feature[i] < 0) { lo = Math.min(lo, child[i]); hi = Math.max(hi, child[i]); }
    leafBase[t] = lo;
    leafTop[t] = hi;
  }
  const depth = new Int32Array(T);
  const wordOff = new Int32Array(T);
  const leafOff = new Int32Array(T);
  let nw = 0, nl = 0;
  for (let t = 0; t < T; t++) {
    if (all[t] < 1 || all[t] > maxDepth || leafTop[t] - leafBase[t] >= 65536) continue;
    depth[t] = all[t];
    wordOff[t] = nw;
    leafOff[t] = nl;
    nw += 2 ** all[t] - 1;
    nl += 2 ** all[t];
  }
  if (nl === 0) return null;
  const cw = new Uint16Array(nw).fill(255 << 8);
  const leaves = new Uint16Array(nl);
  for (let t = 0; t < T; t++) {
    const D = depth[t];
    if (!D) continue;
    const r = roots[t], wo = wordOff[t], lo = leafOff[t], first = 2 ** D;
    // (original node, heap index): an inner node copies its feature and bin; a leaf above level D
    // keeps going left (the padding words) down to level D, where it lands in the leaf table
    const stack: number[] = [r, 1];
    while (stack.length) {
      let h = stack.pop()!;
      const i = stack.pop()!;
      if (feature[i] >= 0) {
        cw[wo + h - 1] = words[i] & 0xffff;
        stack.push(child[i], 2 * h, child[i] + 1, 2 * h + 1);
      } else {
        while (h < first) h *= 2;
        leaves[lo + h - first] = child[i] - leafBase[t];
      }
    }
  }
  return { depth, wordOff, leafOff, words: cw, leafBase, leaves };
}

/** JS walk of tree t in the complete layout over a tile's ranked samples (rows of F1 bytes); adds its leaves to acc. */
export function walkComplete(cl: CompleteLayout, t: number, leafProb: Float32Array, xb: Uint8Array, acc: Float32Array, m: number, F1: number, K: number): void {
  const D = cl.depth[t];
  const w = cl.words.subarray(cl.wordOff[t]); // heap node h at w[h - 1]
  const lv = cl.leaves.subarray(cl.leafOff[t]);
  const first = 2 ** D;
  for (let i = 0; i < m; i++) {
    const xa = i * F1;
    let h = 1;
    for (let s = 0; s < D; s++) {
      const ww = w[h - 1];
      h = 2 * h + (((ww >>> 8) - xb[xa + (ww & 255)]) >>> 31);
    }
    const lb = (cl.leafBase[t] + lv[h - first]) * K;
    const ab = i * K;
    for (let k = 0; k < K; k++) acc[ab + k] += leafProb[lb + k];
  }
}
