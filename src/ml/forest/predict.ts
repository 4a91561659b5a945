/**
 * Prediction: a forest's two prediction layouts (the compact 32-bit node words, and the packed
 * [feature, child] fallback when a forest does not fit them), and the walks over them: samples are
 * ranked once against each feature's thresholds, then every tree is walked 8 lanes in lockstep in
 * WebAssembly (wasm.ts), or in JS (`walkTree`, the fallback and the tests' reference).
 */
import type { WasmWalker } from './wasm.js';
import { binOf } from './binning.js';
import { type CompleteLayout, completeLayout, walkComplete } from './complete.js';
import type { TreeArrays } from './params.js';

/** Samples per prediction tile (ranked once, then walked by every tree). */
export const TILE = 32768;
let useJsWalk = false;
/** Tests: walk the trees in JS (walkTree) instead of WebAssembly; both give the same bits. */
export function _useJsWalk(on: boolean): void {
  useJsWalk = on;
}

let usePacked = false;
/** Benches and tests: predict over the packed layout even when the compact one fits (the walk such forests took before; same bits). */
export function _usePackedWalk(on: boolean): void {
  usePacked = on;
}
/** Whether _usePackedWalk is on. */
export function packedWalkForced(): boolean {
  return usePacked;
}

let useLockstep = false;
/** Benches and tests: walk every tree the compact lockstep way, also the shallow trees of the complete layout (same bits). */
export function _useLockstepWalk(on: boolean): void {
  useLockstep = on;
}

/** The compact prediction layout of a forest (see compactLayout). */
export interface Compact {
  words: Int32Array;
  edges: Float32Array[];
  /** edges padded to 255 entries with +Inf (for the fixed-step lower bound) */
  padded: Float32Array[];
  /** words of each tree (views into `words`) */
  tw: Int32Array[];
  /** the shallow trees again as complete trees (complete.ts), walked without leaf tests; null when no tree is shallow enough */
  complete: CompleteLayout | null;
}

/**
 * One 32-bit word per node when every tree has < 65536 nodes, F < 255 and every feature uses
 * <= 255 distinct thresholds (training's 256 bins give at most 255): feature | bin << 8 |
 * (child - tree root) << 16, where bin (0..254) is the threshold's rank among that feature's
 * thresholds (x <= threshold <=> rank(x) <= bin; ranks run 0..255). Leaves: feature 255 (reads any
 * byte; every rank is <= bin 255, so the step stays put), bin 255, child = itself; all-ones low
 * bytes let lockstep walks test 'all at leaves' with one AND. Samples are ranked once.
 */
export function compactLayout(trees: TreeArrays, F: number): Compact | null {
  const { roots, feature, threshold, child } = trees;
  const N = feature.length;
  if (F >= 255) return null;
  const ends = Array.from(roots.slice(1)).concat([N]);
  for (let t = 0; t < roots.length; t++) if (ends[t] - roots[t] >= 65536 || ends[t] < roots[t]) return null;
  const lists: number[][] = Array.from({ length: F }, () => []);
  for (let i = 0; i < N; i++) if (feature[i] >= 0) lists[feature[i]].push(threshold[i]);
  const edges: Float32Array[] = [];
  for (const l of lists) {
    const sorted = Float32Array.from(l).sort();
    const u: number[] = [];
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) u.push(sorted[i]);
    if (u.length > 255) return null;
    edges.push(Float32Array.from(u));
  }
  const words = new Int32Array(N);
  for (let t = 0; t < roots.length; t++) {
    const r = roots[t];
    for (let i = r; i < ends[t]; i++) {
      const f = feature[i];
      if (f < 0) words[i] = 255 | (255 << 8) | ((i - r) << 16);
      else {
        const bin = binOf(edges[f], threshold[i]);
        words[i] = f | (bin << 8) | ((child[i] - r) << 16);
      }
    }
  }
  const padded = edges.map((e) => {
    const p = new Float32Array(255).fill(Infinity);
    p.set(e);
    return p;
  });
  const tw = Array.from(roots, (r, t) => words.subarray(r, ends[t]));
  return { words, edges, padded, tw, complete: completeLayout(trees, words) };
}

/** Class probabilities over the compact layout (walker: the WebAssembly walk, built on first use; null = walk in JS). */
export function predictCompact(trees: TreeArrays, F: number, K: number, c: Compact, walker: () => WasmWalker | null, x: Float32Array, n: number, layout: 'feature-major' | 'sample-major', out: Float32Array): Float32Array {
  const { roots, leafProb, child } = trees;
  const { padded, tw } = c;
  const cl = useLockstep ? null : c.complete;
  const F1 = F + 1;
  const T = roots.length;
  const CH = Math.max(1, Math.min(TILE, n)); // small calls (one edge at a time) allocate little; 32768 beat 8192 by ~7-20% CPU in A/B (4096: 1.2x slower)
  const wasm = useJsWalk ? null : walker();
  const xb = wasm ? wasm.xb : new Uint8Array(CH * F1 + 256); // + 256: a leaf reads 'feature 255' (any byte; its bin 255 >= every rank)
  const acc = wasm ? wasm.acc.subarray(0, CH * K) : new Float32Array(CH * K);
  const inv = 1 / T;
  const fm = layout === 'feature-major';
  // The work is in small functions called per tile (and per tree): each is optimised on its own with
  // complete type feedback after a few calls, instead of one long function that a fresh thread runs
  // through several on-stack-replacement compilations and deoptimisations on its first call.
  for (let c0 = 0; c0 < n; c0 += CH) {
    const m = Math.min(CH, n - c0);
    // rank every feature value among that feature's thresholds (once per sample, for all trees)
    // feature-major values of a feature are contiguous: copy them next to the WebAssembly ranking
    if (wasm && fm) {
      for (let f = 0; f < F; f++) {
        wasm.vals.set(x.subarray(f * n + c0, f * n + c0 + m));
        wasm.rank(f, m);
      }
    } else for (let f = 0; f < F; f++) rankFeature(padded[f], x, fm ? f * n + c0 : c0 * F + f, fm ? 1 : F, m, xb, f, F1);
    acc.fill(0);
    // tree by tree in tree order (the sums' order, hence the bits, do not depend on the walk)
    for (let t = 0; t < T; t++) {
      const complete = cl !== null && cl.depth[t] > 0;
      if (wasm) {
        if (complete) wasm.walkComplete(t, m);
        else wasm.walk(t, m);
      } else if (complete) walkComplete(cl, t, leafProb, xb, acc, m, F1, K);
      else walkTree(tw[t], roots[t], child, leafProb, xb, acc, m, F1, K);
    }
    writeOut(acc, out, n, c0, m, K, inv);
  }
  return out;
}

/** Prediction layout: nodes [feature, child] (leaves [F, self]) and thresholds (leaves +Inf). */
export function packedLayout(trees: TreeArrays, F: number): { nodes: Int32Array; thr: Float32Array } {
  const { feature, threshold, child } = trees;
  const N = feature.length;
  const nodes = new Int32Array(N * 2);
  const thr = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const leaf = feature[i] < 0;
    nodes[2 * i] = leaf ? F : feature[i];
    nodes[2 * i + 1] = leaf ? i : child[i];
    thr[i] = leaf ? Infinity : threshold[i];
  }
  return { nodes, thr };
}

/** Class probabilities over the packed layout (forests that do not fit the compact one). */
export function predictPacked(trees: TreeArrays, F: number, K: number, packed: { nodes: Int32Array; thr: Float32Array }, x: Float32Array, n: number, layout: 'feature-major' | 'sample-major', out: Float32Array): Float32Array {
  const { roots, leafProb, child } = trees;
  const { nodes, thr } = packed;
  const F1 = F + 1;
  const T = roots.length;
  const CH = Math.max(1, Math.min(2048, n));
  const xs = new Float32Array(CH * F1);
  const acc = new Float32Array(CH * K);
  const inv = 1 / T;
  for (let c0 = 0; c0 < n; c0 += CH) {
    const m = Math.min(CH, n - c0);
    // gather the chunk sample-major so one sample's features are close together
    if (layout === 'feature-major') {
      for (let f = 0; f < F; f++) {
        const src = f * n + c0;
        for (let i = 0; i < m; i++) xs[i * F1 + f] = x[src + i];
      }
    } else for (let i = 0; i < m; i++) xs.set(x.subarray((c0 + i) * F, (c0 + i + 1) * F), i * F1);
    acc.fill(0);
    for (let t = 0; t < T; t++) {
      const root = roots[t];
      // Four walks in lockstep hide memory latency; the step is branch-free (child + (x > thr)).
      // nodes = [feature, child] per node; leaves are [F, self] with thr +Inf (xs rows carry a dummy
      // feature F = 0), so finished walks stay put until all four are done.
      let i = 0;
      for (; i + 3 < m; i += 4) {
        let a = root, b = root, c = root, d = root;
        const xa = i * F1, xb = xa + F1, xc = xb + F1, xd = xc + F1;
        let fa = nodes[2 * a], fb = fa, fc = fa, fd = fa;
        while (fa !== F || fb !== F || fc !== F || fd !== F) {
          a = nodes[2 * a + 1] + ((xs[xa + fa] > thr[a]) as unknown as number);
          b = nodes[2 * b + 1] + ((xs[xb + fb] > thr[b]) as unknown as number);
          c = nodes[2 * c + 1] + ((xs[xc + fc] > thr[c]) as unknown as number);
          d = nodes[2 * d + 1] + ((xs[xd + fd] > thr[d]) as unknown as number);
          fa = nodes[2 * a]; fb = nodes[2 * b]; fc = nodes[2 * c]; fd = nodes[2 * d];
        }
        const la = child[a] * K, lb = child[b] * K, lc = child[c] * K, ld = child[d] * K;
        const ab = i * K;
        for (let k = 0; k < K; k++) {
          acc[ab + k] += leafProb[la + k];
          acc[ab + K + k] += leafProb[lb + k];
          acc[ab + 2 * K + k] += leafProb[lc + k];
          acc[ab + 3 * K + k] += leafProb[ld + k];
        }
      }
      for (; i < m; i++) {
        let node = root;
        let f = nodes[2 * node];
        const xb = i * F1;
        while (f !== F) {
          node = nodes[2 * node + 1] + ((xs[xb + f] > thr[node]) as unknown as number);
          f = nodes[2 * node];
        }
        const lb = child[node] * K;
        const ab = i * K;
        for (let k = 0; k < K; k++) acc[ab + k] += leafProb[lb + k];
      }
    }
    for (let k = 0; k < K; k++) {
      const ob = k * n + c0;
      for (let i = 0; i < m; i++) out[ob + i] = acc[i * K + k] * inv;
    }
  }
  return out;
}

/**
 * Rank m values of one feature (x[xo + i * xs]) among its thresholds: branch-free lower bound over the
 * 255-entry padded edge table e (8 fixed steps); xb[i * F1 + f] = rank.
 */
function rankFeature(e: Float32Array, x: Float32Array, xo: number, xs: number, m: number, xb: Uint8Array, f: number, F1: number): void {
  let i = 0;
  // four samples at a time: four independent searches overlap in the pipeline
  for (; i + 3 < m; i += 4) {
    const q = xo + i * xs;
    const v0 = x[q], v1 = x[q + xs], v2 = x[q + 2 * xs], v3 = x[q + 3 * xs];
    let j0 = ((e[127] < v0) as unknown as number) << 7, j1 = ((e[127] < v1) as unknown as number) << 7;
    let j2 = ((e[127] < v2) as unknown as number) << 7, j3 = ((e[127] < v3) as unknown as number) << 7;
    j0 += ((e[j0 + 63] < v0) as unknown as number) << 6; j1 += ((e[j1 + 63] < v1) as unknown as number) << 6;
    j2 += ((e[j2 + 63] < v2) as unknown as number) << 6; j3 += ((e[j3 + 63] < v3) as unknown as number) << 6;
    j0 += ((e[j0 + 31] < v0) as unknown as number) << 5; j1 += ((e[j1 + 31] < v1) as unknown as number) << 5;
    j2 += ((e[j2 + 31] < v2) as unknown as number) << 5; j3 += ((e[j3 + 31] < v3) as unknown as number) << 5;
    j0 += ((e[j0 + 15] < v0) as unknown as number) << 4; j1 += ((e[j1 + 15] < v1) as unknown as number) << 4;
    j2 += ((e[j2 + 15] < v2) as unknown as number) << 4; j3 += ((e[j3 + 15] < v3) as unknown as number) << 4;
    j0 += ((e[j0 + 7] < v0) as unknown as number) << 3; j1 += ((e[j1 + 7] < v1) as unknown as number) << 3;
    j2 += ((e[j2 + 7] < v2) as unknown as number) << 3; j3 += ((e[j3 + 7] < v3) as unknown as number) << 3;
    j0 += ((e[j0 + 3] < v0) as unknown as number) << 2; j1 += ((e[j1 + 3] < v1) as unknown as number) << 2;
    j2 += ((e[j2 + 3] < v2) as unknown as number) << 2; j3 += ((e[j3 + 3] < v3) as unknown as number) << 2;
    j0 += ((e[j0 + 1] < v0) as unknown as number) << 1; j1 += ((e[j1 + 1] < v1) as unknown as number) << 1;
    j2 += ((e[j2 + 1] < v2) as unknown as number) << 1; j3 += ((e[j3 + 1] < v3) as unknown as number) << 1;
    j0 += (e[j0] < v0) as unknown as number; j1 += (e[j1] < v1) as unknown as number;
    j2 += (e[j2] < v2) as unknown as number; j3 += (e[j3] < v3) as unknown as number;
    const o = i * F1 + f;
    xb[o] = j0; xb[o + F1] = j1; xb[o + 2 * F1] = j2; xb[o + 3 * F1] = j3;
  }
  for (; i < m; i++) {
    const v = x[xo + i * xs];
    let j = ((e[127] < v) as unknown as number) << 7;
    j += ((e[j + 63] < v) as unknown as number) << 6;
    j += ((e[j + 31] < v) as unknown as number) << 5;
    j += ((e[j + 15] < v) as unknown as number) << 4;
    j += ((e[j + 7] < v) as unknown as number) << 3;
    j += ((e[j + 3] < v) as unknown as number) << 2;
    j += ((e[j + 1] < v) as unknown as number) << 1;
    j += (e[j] < v) as unknown as number;
    xb[i * F1 + f] = j;
  }
}

/**
 * Add one tree's leaf distributions for m ranked samples (xb rows of F1 bytes) to acc[i * K + k].
 * w: the tree's words (node indices relative to its root r); child/leafProb: the forest's arrays.
 */
function walkTree(w: Int32Array, r: number, child: Int32Array, leafProb: Float32Array, xb: Uint8Array, acc: Float32Array, m: number, F1: number, K: number): void {
  const w0 = w[0];
  let i = 0;
  // 8 walks in lockstep, two steps per loop test (finished walks stay on their leaf)
  for (; i + 7 < m; i += 8) {
    const x0 = i * F1;
    let wa = w0, wb = w0, wc = w0, wd = w0, we = w0, wg = w0, wh = w0, wq = w0;
    while (((wa & wb & wc & wd & we & wg & wh & wq) & 255) !== 255) {
      wa = w[(wa >>> 16) + ((((wa >>> 8) & 255) - xb[x0 + (wa & 255)]) >>> 31)];
      wb = w[(wb >>> 16) + ((((wb >>> 8) & 255) - xb[x0 + F1 + (wb & 255)]) >>> 31)];
      wc = w[(wc >>> 16) + ((((wc >>> 8) & 255) - xb[x0 + 2 * F1 + (wc & 255)]) >>> 31)];
      wd = w[(wd >>> 16) + ((((wd >>> 8) & 255) - xb[x0 + 3 * F1 + (wd & 255)]) >>> 31)];
      we = w[(we >>> 16) + ((((we >>> 8) & 255) - xb[x0 + 4 * F1 + (we & 255)]) >>> 31)];
      wg = w[(wg >>> 16) + ((((wg >>> 8) & 255) - xb[x0 + 5 * F1 + (wg & 255)]) >>> 31)];
      wh = w[(wh >>> 16) + ((((wh >>> 8) & 255) - xb[x0 + 6 * F1 + (wh & 255)]) >>> 31)];
      wq = w[(wq >>> 16) + ((((wq >>> 8) & 255) - xb[x0 + 7 * F1 + (wq & 255)]) >>> 31)];
      wa = w[(wa >>> 16) + ((((wa >>> 8) & 255) - xb[x0 + (wa & 255)]) >>> 31)];
      wb = w[(wb >>> 16) + ((((wb >>> 8) & 255) - xb[x0 + F1 + (wb & 255)]) >>> 31)];
      wc = w[(wc >>> 16) + ((((wc >>> 8) & 255) - xb[x0 + 2 * F1 + (wc & 255)]) >>> 31)];
      wd = w[(wd >>> 16) + ((((wd >>> 8) & 255) - xb[x0 + 3 * F1 + (wd & 255)]) >>> 31)];
      we = w[(we >>> 16) + ((((we >>> 8) & 255) - xb[x0 + 4 * F1 + (we & 255)]) >>> 31)];
      wg = w[(wg >>> 16) + ((((wg >>> 8) & 255) - xb[x0 + 5 * F1 + (wg & 255)]) >>> 31)];
      wh = w[(wh >>> 16) + ((((wh >>> 8) & 255) - xb[x0 + 6 * F1 + (wh & 255)]) >>> 31)];
      wq = w[(wq >>> 16) + ((((wq >>> 8) & 255) - xb[x0 + 7 * F1 + (wq & 255)]) >>> 31)];
    }
    const ab = i * K;
    // a leaf's word holds its own node index (relative to the root) in the child field
    const la = child[r + (wa >>> 16)] * K, lb = child[r + (wb >>> 16)] * K, lc = child[r + (wc >>> 16)] * K, ld = child[r + (wd >>> 16)] * K;
    const le = child[r + (we >>> 16)] * K, lg = child[r + (wg >>> 16)] * K, lh = child[r + (wh >>> 16)] * K, lq = child[r + (wq >>> 16)] * K;
    for (let k = 0; k < K; k++) {
      acc[ab + k] += leafProb[la + k];
      acc[ab + K + k] += leafProb[lb + k];
      acc[ab + 2 * K + k] += leafProb[lc + k];
      acc[ab + 3 * K + k] += leafProb[ld + k];
      acc[ab + 4 * K + k] += leafProb[le + k];
      acc[ab + 5 * K + k] += leafProb[lg + k];
      acc[ab + 6 * K + k] += leafProb[lh + k];
      acc[ab + 7 * K + k] += leafProb[lq + k];
    }
  }
  for (; i < m; i++) {
    const xa = i * F1;
    let a = 0;
    let ww = w0;
    while ((ww & 255) !== 255) {
      a = (ww >>> 16) + ((((ww >>> 8) & 255) - xb[xa + (ww & 255)]) >>> 31);
      ww = w[a];
    }
    const la = child[r + a] * K;
    const ab = i * K;
    for (let k = 0; k < K; k++) acc[ab + k] += leafProb[la + k];
  }
}

function writeOut(acc: Float32Array, out: Float32Array, n: number, c0: number, m: number, K: number, inv: number): void {
  for (let k = 0; k < K; k++) {
    const ob = k * n + c0;
    for (let i = 0; i < m; i++) out[ob + i] = acc[i * K + k] * inv;
  }
}
