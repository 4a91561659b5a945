// The forest's tree walks as WebAssembly kernels: the same 8-lane lockstep walk over compact node words
// as walkTree in predict.ts, and the complete-tree walk of shallow trees (complete.ts), without the bounds checks of typed-array access (about 1.9x faster walks
// on the bench's forest, bit-identical output). Ranking and output stay in JS (predict.ts).
import { assembleModule, webAssembly as WA } from '../wat.js';
import type { CompleteLayout } from './complete.js';

const LANES = 8;
const STEPS = 3; // steps between 'all lanes at a leaf' tests (A/B: 3 beat 1 and 2, same as 4)

function walkBody(): string {
  const lanes = [...Array(LANES).keys()];
  // one step: w = words[(w >>> 16) + (bin(w) < rank(x, feature(w)))]
  const step = (k: number): string =>
    `(local.set $w${k} (i32.load (i32.add (local.get $w) (i32.shl (i32.add (i32.shr_u (local.get $w${k}) (i32.const 16))
       (i32.shr_u (i32.sub (i32.and (i32.shr_u (local.get $w${k}) (i32.const 8)) (i32.const 255))
                           (i32.load8_u (i32.add (local.get $x${k}) (i32.and (local.get $w${k}) (i32.const 255))))) (i32.const 31))) (i32.const 2)))))`;
  const allLeaves = lanes.slice(1).reduce((a, k) => `(i32.and ${a} (local.get $w${k}))`, '(local.get $w0)');
  // acc[(i + k) * K + c] += leafProb[child[r + leaf] * K + c]
  const accumulate = (k: number): string =>
    accumulateLeaf(k, `(i32.load (i32.add (local.get $child)
       (i32.shl (i32.add (local.get $r) (i32.shr_u (local.get $w${k}) (i32.const 16))) (i32.const 2))))`);
  return `
  (local.set $root (i32.load (local.get $w)))
  (block $groupsDone
   (loop $groups
    (br_if $groupsDone (i32.gt_s (i32.add (local.get $i) (i32.const ${LANES})) (local.get $m)))
    (local.set $x0 (i32.add (local.get $xb) (i32.mul (local.get $i) (local.get $F1))))
    ${lanes.slice(1).map((k) => `(local.set $x${k} (i32.add (local.get $x${k - 1}) (local.get $F1)))`).join('\n    ')}
    ${lanes.map((k) => `(local.set $w${k} (local.get $root))`).join(' ')}
    (block $atLeaves
     (loop $walk
      (br_if $atLeaves (i32.eq (i32.and ${allLeaves} (i32.const 255)) (i32.const 255)))
      ${Array.from({ length: STEPS }, () => lanes.map(step).join('\n      ')).join('\n      ')}
      (br $walk)))
    ${lanes.map(accumulate).join('\n')}
    (local.set $i (i32.add (local.get $i) (i32.const ${LANES})))
    (br $groups)))
  (block $tailDone
   (loop $tail
    (br_if $tailDone (i32.ge_s (local.get $i) (local.get $m)))
    (local.set $x0 (i32.add (local.get $xb) (i32.mul (local.get $i) (local.get $F1))))
    (local.set $w0 (local.get $root))
    (block $leaf (loop $one
      (br_if $leaf (i32.eq (i32.and (local.get $w0) (i32.const 255)) (i32.const 255)))
      ${step(0)}
      (br $one)))
    ${accumulate(0)}
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $tail)))`;
}

/**
 * acc[(i + k) * K + c] += leafProb[leaf * K + c] for every class c < $K, from $lp (the tree's leaf
 * distributions); `leaf` is a wat expression of lane k's leaf index. Both walks end a lane with it.
 */
function accumulateLeaf(k: number, leaf: string): string {
  return `
    (local.set $p (i32.add (local.get $lp) (i32.shl (i32.mul ${leaf} (local.get $K)) (i32.const 2))))
    (local.set $q (i32.add (local.get $acc) (i32.shl (i32.mul (i32.add (local.get $i) (i32.const ${k})) (local.get $K)) (i32.const 2))))
    (local.set $c (i32.const 0))
    (loop $classes${k}
      (f32.store (local.get $q) (f32.add (f32.load (local.get $q)) (f32.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $q (i32.add (local.get $q) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $classes${k} (i32.lt_u (local.get $c) (local.get $K))))`;
}

const CLANES = 8; // samples walked together in the complete layout

/**
 * The complete-tree walk (complete.ts): CLANES samples take exactly $D steps each, heap index
 * n = 2n + (bin < rank) from n = 1, the words (feature | bin << 8, u16) of heap node n at $cw + 2n and
 * the leaf index (child[leaf] - the tree's first leaf, u16) of heap node n (level $D) at $cl + 2n ($lp: the tree's
 * first leaf's distribution); no leaf tests, no branches
 * but the step count. Then acc[(i + k) * K + c] += leafProb[leaf + c], tree by tree as the other walks.
 */
function walkCompleteBody(): string {
  const lanes = [...Array(CLANES).keys()];
  const step = (k: number): string => `
      (local.set $w (i32.load16_u (i32.add (local.get $cw) (i32.shl (local.get $n${k}) (i32.const 1)))))
      (local.set $n${k} (i32.or (i32.shl (local.get $n${k}) (i32.const 1))
         (i32.shr_u (i32.sub (i32.shr_u (local.get $w) (i32.const 8))
                             (i32.load8_u (i32.add (local.get $x${k}) (i32.and (local.get $w) (i32.const 255))))) (i32.const 31))))`;
  const accumulate = (k: number): string => accumulateLeaf(k, `(i32.load16_u (i32.add (local.get $cl) (i32.shl (local.get $n${k}) (i32.const 1))))`);
  const group = (ks: number[]): string => `
    (local.set $x0 (i32.add (local.get $xb) (i32.mul (local.get $i) (local.get $F1))))
    ${ks.slice(1).map((k) => `(local.set $x${k} (i32.add (local.get $x${k - 1}) (local.get $F1)))`).join(' ')}
    ${ks.map((k) => `(local.set $n${k} (i32.const 1))`).join(' ')}
    (local.set $s (local.get $D))
    (loop $steps${ks.length}
      ${ks.map(step).join('')}
      (br_if $steps${ks.length} (local.tee $s (i32.sub (local.get $s) (i32.const 1)))))
    ${ks.map(accumulate).join('\n')}
    (local.set $i (i32.add (local.get $i) (i32.const ${ks.length})))`;
  return `
  (block $groupsDone
   (loop $groups
    (br_if $groupsDone (i32.gt_s (i32.add (local.get $i) (i32.const ${CLANES})) (local.get $m)))
    ${group(lanes)}
    (br $groups)))
  (block $tailDone
   (loop $tail
    (br_if $tailDone (i32.ge_s (local.get $i) (local.get $m)))
    ${group([0])}
    (br $tail)))`;
}

const RANK_LANES = 8; // samples ranked in one interleaved search (A/B under load, same bits: 8 beat 4 by 1-6% of the forest, 16 lost)

/**
 * Rank m values of one feature (floats at $x) among its 255 padded thresholds (floats at $e): the same
 * branch-free 8-step lower bound as rankFeature in predict.ts (j += (e[j + h] < v) << k), four
 * samples interleaved; rank i goes to the byte at $xb + i * $F1.
 */
function rankBody(): string {
  const lanes = [...Array(RANK_LANES).keys()];
  const v = (k: number): string => `(f32.load (i32.add (local.get $x) (i32.shl (i32.add (local.get $i) (i32.const ${k})) (i32.const 2))))`;
  const step = (k: number, h: number, sh: number): string =>
    `(local.set $j${k} (i32.add (local.get $j${k}) (i32.shl (f32.lt (f32.load (i32.add (local.get $e) (i32.shl (i32.add (local.get $j${k}) (i32.const ${h})) (i32.const 2)))) ${v(k)}) (i32.const ${sh}))))`;
  const search = (ks: number[]): string => {
    const out: string[] = [];
    for (const k of ks) out.push(`(local.set $j${k} (i32.shl (f32.lt (f32.load (i32.add (local.get $e) (i32.const ${127 * 4}))) ${v(k)}) (i32.const 7)))`);
    for (const [h, sh] of [[63, 6], [31, 5], [15, 4], [7, 3], [3, 2], [1, 1], [0, 0]]) for (const k of ks) out.push(step(k, h, sh));
    for (const k of ks) out.push(`(i32.store8 (i32.add (local.get $xb) (i32.mul (i32.add (local.get $i) (i32.const ${k})) (local.get $F1))) (local.get $j${k}))`);
    return out.join('\n    ');
  };
  return `
  (block $groupsDone
   (loop $groups
    (br_if $groupsDone (i32.gt_s (i32.add (local.get $i) (i32.const ${RANK_LANES})) (local.get $m)))
    ${search(lanes)}
    (local.set $i (i32.add (local.get $i) (i32.const ${RANK_LANES})))
    (br $groups)))
  (block $tailDone
   (loop $tail
    (br_if $tailDone (i32.ge_s (local.get $i) (local.get $m)))
    ${search([0])}
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $tail)))`;
}

let compiled: object | null | undefined;
function walkModule(): object | null {
  if (compiled === undefined) {
    compiled = null; // no WebAssembly here: predict.ts walks in JS
    if (WA) try {
      const lanes = [...Array(LANES).keys()];
      compiled = new WA.Module(
        assembleModule([
          {
            name: 'walk',
            params: ['$w', '$r', '$child', '$lp', '$xb', '$acc', '$m', '$F1', '$K'],
            locals: ['$i', '$root', '$p', '$q', '$c', ...lanes.flatMap((k) => [`$w${k}`, `$x${k}`])],
            body: walkBody(),
          },
          {
            name: 'walkComplete',
            params: ['$cw', '$cl', '$D', '$lp', '$xb', '$acc', '$m', '$F1', '$K'],
            locals: ['$i', '$s', '$w', '$p', '$q', '$c', ...[...Array(CLANES).keys()].flatMap((k) => [`$n${k}`, `$x${k}`])],
            body: walkCompleteBody(),
          },
          {
            name: 'rank',
            params: ['$e', '$x', '$m', '$xb', '$F1'],
            locals: ['$i', ...[...Array(RANK_LANES).keys()].map((k) => `$j${k}`)],
            body: rankBody(),
          },
        ]),
      );
    } catch (e) {
      // an assembler bug must not pass unnoticed, but must not stop predictions either
      process.emitWarning(`forest: WebAssembly walk unavailable, walking in JS (${(e as Error).message})`);
    }
  }
  return compiled ?? null;
}

/** One forest's arrays in a WebAssembly memory, with a tile's ranked samples and sums. */
export interface WasmWalker {
  /** ranked samples, rows of F1 bytes (+256 so a leaf may read 'feature 255') */
  xb: Uint8Array;
  /** per-sample class sums, acc[i * K + k] */
  acc: Float32Array;
  /** add tree t's leaf distributions for the first m samples of the tile to acc */
  walk(t: number, m: number): void;
  /** the same for a tree of the complete layout (its depth in `complete.depth[t]` > 0) */
  walkComplete(t: number, m: number): void;
  /** values of one feature for up to a tile of samples, to be ranked by rank() */
  vals: Float32Array;
  /** rank the first m values of `vals` among feature f's thresholds into xb's column f */
  rank(f: number, m: number): void;
}

/**
 * Copy a forest's compact words, leaf indices and leaf distributions into a fresh memory with room for
 * a tile of `tile` samples. Null when WebAssembly is unavailable or the forest exceeds 2 GiB.
 */
export function wasmWalker(words: Int32Array, roots: Int32Array, child: Int32Array, leafProb: Float32Array, F1: number, K: number, tile: number, padded: Float32Array[] = [], complete: CompleteLayout | null = null): WasmWalker | null {
  const mod = walkModule();
  if (!mod || !WA) return null;
  const align = (v: number): number => (v + 63) & ~63;
  const oW = 0, oC = align(oW + words.byteLength), oL = align(oC + child.byteLength), oX = align(oL + leafProb.byteLength);
  const oA = align(oX + tile * F1 + 256);
  const oE = align(oA + tile * K * 4); // the padded threshold tables, 255 floats per feature
  const oV = align(oE + padded.length * 255 * 4); // one feature's values for a tile
  const oCW = align(oV + tile * 4); // the complete layout's words (u16) and leaves (i32)
  const oCL = align(oCW + (complete ? complete.words.byteLength : 0));
  const bytes = oCL + (complete ? complete.leaves.byteLength : 0);
  if (bytes > 2 ** 31) return null;
  const mem = new WA.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
  const u8 = new Uint8Array(mem.buffer);
  u8.set(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), oW);
  u8.set(new Uint8Array(child.buffer, child.byteOffset, child.byteLength), oC);
  u8.set(new Uint8Array(leafProb.buffer, leafProb.byteOffset, leafProb.byteLength), oL);
  const edges = new Float32Array(mem.buffer, oE, padded.length * 255);
  padded.forEach((e, f) => edges.set(e.subarray(0, 255), f * 255));
  if (complete) {
    u8.set(new Uint8Array(complete.words.buffer, complete.words.byteOffset, complete.words.byteLength), oCW);
    u8.set(new Uint8Array(complete.leaves.buffer, complete.leaves.byteOffset, complete.leaves.byteLength), oCL);
  }
  const ex = new WA.Instance(mod, { env: { mem } }).exports;
  const walkC = ex.walkComplete as (...a: number[]) => void;
  const walk = ex.walk as (...a: number[]) => void;
  const rank = ex.rank as (...a: number[]) => void;
  return {
    xb: new Uint8Array(mem.buffer, oX, tile * F1 + 256),
    acc: new Float32Array(mem.buffer, oA, tile * K),
    walk: (t, m) => walk(oW + roots[t] * 4, roots[t], oC, oL, oX, oA, m, F1, K),
    walkComplete: (t, m) => {
      if (!complete || complete.depth[t] < 1) throw new Error(`forest: tree ${t} is not in the complete layout`);
      const D = complete.depth[t];
      // heap node n's word at oCW + 2 * (wordOff + n - 1); level-D node n's leaf at oCL + 2 * (leafOff + n - 2^D)
      walkC(oCW + 2 * (complete.wordOff[t] - 1), oCL + 2 * (complete.leafOff[t] - 2 ** D), D, oL + complete.leafBase[t] * K * 4, oX, oA, m, F1, K);
    },
    vals: new Float32Array(mem.buffer, oV, tile),
    rank: (f, m) => rank(oE + f * 255 * 4, oV, m, oX + f, F1),
  };
}

/** Whether the WebAssembly walk is in use (false: predict.ts walks in JS). */
export function wasmWalkAvailable(): boolean {
  return walkModule() !== null;
}
