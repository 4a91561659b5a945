// The forest's tree walks as WebAssembly kernels: the same 8-lane lockstep walk over compact node words
// as walkTree in predict.ts, and the complete-tree walk of shallow trees (complete.ts), without the bounds checks of typed-array access (about 1.9x faster walks
// on the bench's forest, bit-identical output), and the ranking of feature values. Each forest gets a
// module specialised to its row length and class count (constant lane offsets, class sums in SIMD);
// the output stays in JS (predict.ts).
import { assembleModule, webAssembly as WA } from '../wat.js';
import type { CompleteLayout } from './complete.js';

const LANES = 8; // (6, 10 and 12 lanes with the copied rows and the carry step: no faster, A/B of the sixth pass)
const STEPS = 3; // steps between 'all lanes at a leaf' tests (A/B: 3 beat 1 and 2, same as 4)

/**
 * A walk specialised to one forest's row length F1 and class count K (`spec`): lane k's rank row is
 * the memarg offset k * F1 from lane 0's (one live address instead of eight) and the K class sums are
 * unrolled with constant offsets; without `spec`, the generic form (addresses per lane, a class loop).
 */
interface Spec {
  F1: number;
  K: number;
}

/** Lane k's rank of feature `feat` (a wat expression): the byte at x_k + feat. */
function rankOf(k: number, feat: string, spec?: Spec): string {
  return spec ? `(i32.load8_u offset=${k * spec.F1} (i32.add (local.get $x0) ${feat}))` : `(i32.load8_u (i32.add (local.get $x${k}) ${feat}))`;
}

/**
 * Bytes at the start of every walker memory (address 0) that the lockstep walk copies a group's
 * rank rows to (8 rows of F1 bytes; a leaf reads 'feature 255' past the last row), so a lane's rank
 * is the byte at the constant k * F1 + feature: one add fewer per lane-step.
 */
export function rowScratchBytes(F1: number): number {
  return (LANES * F1 + 256 + 63) & ~63;
}

let carryStep = true;
/**
 * Benches and tests: the lockstep walk's step as before the sixth pass (child + ((bin - rank) >>> 31),
 * the bins in memory as compactLayout writes them) rather than the carry of 255 - bin + rank (same bits).
 */
export function _useSubtractStep(on: boolean): void {
  carryStep = !on;
}

/** A compact word with its bin (bits 8..15) replaced by 255 - bin, as the carry step reads it (a leaf's 255 becomes 0). */
export function flipBin(word: number): number {
  return word ^ 0xff00;
}

let rowCopy = true;
/** Benches and tests: the lockstep walk reads ranks in place (x0 + k * F1 + feature, before the sixth pass) rather than from the rows copied to address 0 (same bits). */
export function _useRanksInPlace(on: boolean): void {
  rowCopy = !on;
}

/** Copy `bytes` bytes from $x0 to address 0, 16 at a time (the last vector may copy up to 15 bytes more: both regions have room). */
function copyRows(bytes: number): string {
  const out: string[] = [];
  for (let o = 0; o < bytes; o += 16) out.push(`(v128.store offset=${o} (i32.const 0) (v128.load offset=${o} (local.get $x0)))`);
  return out.join(' ');
}

/** Set lane addresses x_1.. from x_0 (generic form only). */
function laneAddresses(ks: number[], spec?: Spec): string {
  return spec ? '' : ks.slice(1).map((k) => `(local.set $x${k} (i32.add (local.get $x${k - 1}) (local.get $F1)))`).join(' ');
}

function walkBody(spec?: Spec): string {
  const copied = spec !== undefined && rowCopy;
  const lanes = [...Array(LANES).keys()];
  const L = LANES;
  // lane k's rank of feature f: from the rows copied to address 0 (the byte at k * F1 + f), or in place
  const rank = (k: number, f: string): string => (copied ? `(i32.load8_u offset=${k * spec.F1} ${f})` : rankOf(k, f, spec));
  // one step: w = words[(w >>> 16) + (bin(w) < rank(x, feature(w)))]; with the bins flipped in memory
  // (bits 8..15 hold 255 - bin, `flipBins`), that is words[(w + (rank << 8)) >>> 16]: 255 - bin + rank
  // carries into the child field exactly when rank > bin (a leaf's 0 + rank never carries)
  const step = (k: number): string => {
    const r = rank(k, `(i32.and (local.get $w${k}) (i32.const 255))`);
    const next = carryStep
      ? `(i32.shr_u (i32.add (local.get $w${k}) (i32.shl ${r} (i32.const 8))) (i32.const 16))`
      : `(i32.add (i32.shr_u (local.get $w${k}) (i32.const 16))
       (i32.shr_u (i32.sub (i32.and (i32.shr_u (local.get $w${k}) (i32.const 8)) (i32.const 255)) ${r}) (i32.const 31)))`;
    return `(local.set $w${k} (i32.load (i32.add (local.get $w) (i32.shl ${next} (i32.const 2)))))`;
  };
  const allLeaves = lanes.slice(1).reduce((a, k) => `(i32.and ${a} (local.get $w${k}))`, '(local.get $w0)');
  // acc[(i + k) * K + c] += leafProb[child[r + leaf] * K + c]
  const accumulate = (k: number): string =>
    accumulateLeaf(k, `(i32.load (i32.add (local.get $child)
       (i32.shl (i32.add (local.get $r) (i32.shr_u (local.get $w${k}) (i32.const 16))) (i32.const 2))))`, spec);
  return `
  (local.set $root (i32.load (local.get $w)))
  (block $groupsDone
   (loop $groups
    (br_if $groupsDone (i32.gt_s (i32.add (local.get $i) (i32.const ${L})) (local.get $m)))
    (local.set $x0 (i32.add (local.get $xb) (i32.mul (local.get $i) (local.get $F1))))
    ${laneAddresses(lanes, spec)}
    ${copied ? copyRows(L * spec.F1) : ''}
    ${lanes.map((k) => `(local.set $w${k} (local.get $root))`).join(' ')}
    (block $atLeaves
     (loop $walk
      (br_if $atLeaves (i32.eq (i32.and ${allLeaves} (i32.const 255)) (i32.const 255)))
      ${Array.from({ length: STEPS }, () => lanes.map(step).join('\n      ')).join('\n      ')}
      (br $walk)))
    ${lanes.map(accumulate).join('\n')}
    (local.set $i (i32.add (local.get $i) (i32.const ${L})))
    (br $groups)))
  (block $tailDone
   (loop $tail
    (br_if $tailDone (i32.ge_s (local.get $i) (local.get $m)))
    (local.set $x0 (i32.add (local.get $xb) (i32.mul (local.get $i) (local.get $F1))))
    ${copied ? copyRows(spec.F1) : ''}
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
 * Specialised: the K adds unrolled, addressed by constant offsets from $lp + leaf * K and acc + i * K.
 */
function accumulateLeaf(k: number, leaf: string, spec?: Spec): string {
  if (spec) {
    const { K } = spec;
    // four classes per f32x4 add, then two per 64-bit lane pair, then one (each class's own f32 add: the same bits)
    const adds: string[] = [];
    let c = 0;
    for (; c + 4 <= K; c += 4) adds.push(`(v128.store offset=${4 * (k * K + c)} (local.get $q) (f32x4.add (v128.load offset=${4 * (k * K + c)} (local.get $q)) (v128.load offset=${4 * c} (local.get $p))))`);
    for (; c + 2 <= K; c += 2) adds.push(`(v128.store64_lane 0 offset=${4 * (k * K + c)} (local.get $q) (f32x4.add (v128.load64_zero offset=${4 * (k * K + c)} (local.get $q)) (v128.load64_zero offset=${4 * c} (local.get $p))))`);
    for (; c < K; c++) adds.push(`(f32.store offset=${4 * (k * K + c)} (local.get $q) (f32.add (f32.load offset=${4 * (k * K + c)} (local.get $q)) (f32.load offset=${4 * c} (local.get $p))))`);
    return `
    (local.set $p (i32.add (local.get $lp) (i32.mul ${leaf} (i32.const ${4 * K}))))
    (local.set $q (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const ${4 * K}))))
    ${adds.join('\n    ')}`;
  }
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
function walkCompleteBody(spec?: Spec): string {
  const lanes = [...Array(CLANES).keys()];
  const step = (k: number): string => `
      (local.set $w (i32.load16_u (i32.add (local.get $cw) (i32.shl (local.get $n${k}) (i32.const 1)))))
      (local.set $n${k} (i32.or (i32.shl (local.get $n${k}) (i32.const 1))
         (i32.shr_u (i32.sub (i32.shr_u (local.get $w) (i32.const 8))
                             ${rankOf(k, '(i32.and (local.get $w) (i32.const 255))', spec)}) (i32.const 31))))`;
  const accumulate = (k: number): string => accumulateLeaf(k, `(i32.load16_u (i32.add (local.get $cl) (i32.shl (local.get $n${k}) (i32.const 1))))`, spec);
  const group = (ks: number[]): string => `
    (local.set $x0 (i32.add (local.get $xb) (i32.mul (local.get $i) (local.get $F1))))
    ${laneAddresses(ks, spec)}
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
 * The ranking loop around one search: groups of RANK_LANES samples interleaved, then the tail one
 * at a time; `search(ks)` emits the ranking of the samples $i + k for k in ks.
 */
function rankLoops(search: (ks: number[]) => string): string {
  return `
  (block $groupsDone
   (loop $groups
    (br_if $groupsDone (i32.gt_s (i32.add (local.get $i) (i32.const ${RANK_LANES})) (local.get $m)))
    ${search([...Array(RANK_LANES).keys()])}
    (local.set $i (i32.add (local.get $i) (i32.const ${RANK_LANES})))
    (br $groups)))
  (block $tailDone
   (loop $tail
    (br_if $tailDone (i32.ge_s (local.get $i) (local.get $m)))
    ${search([0])}
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $tail)))`;
}

/**
 * Rank m values of one feature (floats at $x) among its 255 padded thresholds (floats at $e): the same
 * branch-free 8-step lower bound as rankFeature in predict.ts (j += (e[j + h] < v) << k), four
 * samples interleaved; rank i goes to the byte at $xb + i * $F1.
 */
function rankBody(spec?: Spec): string {
  if (spec) return rankBodySpec(spec);
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
  return rankLoops(search);
}

/**
 * rankBody specialised to rows of F1 bytes: each lane's value loaded once into an f32 local, its
 * position j kept in bytes (4 * rank) so a step is one load at the constant offset 4h from $e + j,
 * a compare, a shift and an add; rank i stored at the offset k * F1 from the group's first row.
 * The same comparisons in the same order as rankBody, so the same ranks.
 */
function rankBodySpec(spec: Spec): string {
  const search = (ks: number[]): string => {
    const out: string[] = [];
    for (const k of ks) out.push(`(local.set $v${k} (f32.load offset=${4 * k} (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))`);
    for (const k of ks) out.push(`(local.set $j${k} (i32.shl (f32.lt (f32.load offset=${127 * 4} (local.get $e)) (local.get $v${k})) (i32.const 9)))`);
    for (const [h, sh] of [[63, 6], [31, 5], [15, 4], [7, 3], [3, 2], [1, 1], [0, 0]]) {
      for (const k of ks) out.push(`(local.set $j${k} (i32.add (local.get $j${k}) (i32.shl (f32.lt (f32.load offset=${4 * h} (i32.add (local.get $e) (local.get $j${k}))) (local.get $v${k})) (i32.const ${sh + 2}))))`);
    }
    out.push(`(local.set $o (i32.add (local.get $xb) (i32.mul (local.get $i) (i32.const ${spec.F1}))))`);
    for (const k of ks) out.push(`(i32.store8 offset=${k * spec.F1} (local.get $o) (i32.shr_u (local.get $j${k}) (i32.const 2)))`);
    return out.join('\n    ');
  };
  return rankLoops(search);
}

/** Most thresholds of one feature in one bucket of the rank tables for which `rankTable` is used (more: the search). */
export const RANK_TABLE_MAX_RUN = 4;
/** Rank tables are built when the forest has at most this many features (each takes 64 KiB per thread). */
export const RANK_TABLE_MAX_FEATURES = 64;
/** Floats per feature in the rank tables' edge copies: 255 thresholds and room for the run's last reads past them. */
const TABLE_EDGES = 256 + RANK_TABLE_MAX_RUN;

/**
 * Ranking through a table (the search's ranks, bit for bit): a value's float bits, mapped to an
 * unsigned key in float order (key = bits ^ (sign ? 0xffffffff : 0x80000000)), pick one of 65536
 * buckets by their top 16 bits; $t holds, per bucket, the number of thresholds below the bucket's
 * smallest value (lo), and at most $C (the feature's longest run of thresholds inside one bucket,
 * <= RANK_TABLE_MAX_RUN) compares against e[lo..] finish the count #{e < v}. A NaN ranks 0, as in the
 * search (every compare false). `C` is unrolled: one kernel per run length.
 */
function rankTableBody(C: number, F1: number): string {
  const search = (ks: number[]): string => {
    const out: string[] = [];
    for (const k of ks) {
      out.push(`(local.set $v${k} (f32.load offset=${4 * k} (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))`);
      out.push(`(local.set $j${k} (i32.reinterpret_f32 (local.get $v${k})))`);
      out.push(`(local.set $j${k} (i32.load8_u (i32.add (local.get $t) (i32.shr_u (i32.xor (local.get $j${k}) (i32.or (i32.shr_s (local.get $j${k}) (i32.const 31)) (i32.const ${0x80000000 | 0}))) (i32.const 16)))))`);
    }
    for (const k of ks) {
      out.push(`(local.set $p (i32.add (local.get $e) (i32.shl (local.get $j${k}) (i32.const 2))))`);
      for (let c = 0; c < C; c++) out.push(`(local.set $j${k} (i32.add (local.get $j${k}) (f32.lt (f32.load offset=${4 * c} (local.get $p)) (local.get $v${k}))))`);
    }
    out.push(`(local.set $o (i32.add (local.get $xb) (i32.mul (local.get $i) (i32.const ${F1}))))`);
    for (const k of ks) out.push(`(i32.store8 offset=${k * F1} (local.get $o) (select (local.get $j${k}) (i32.const 0) (f32.eq (local.get $v${k}) (local.get $v${k}))))`);
    return out.join('\n    ');
  };
  return rankLoops(search);
}

/** The float's unsigned key in float order (see rankTableBody). */
function floatKey(bits: number): number {
  return (bits ^ ((bits >> 31) | 0x80000000)) >>> 0;
}

/**
 * The rank table of one feature's sorted thresholds `e` (the first `len` of a padded table): per
 * bucket b, the number of thresholds below its smallest value; and the longest run of thresholds
 * between one bucket's smallest and largest value (float compares, so -0 and +0 are one value), or
 * Infinity when a threshold is NaN (the search then ranks).
 */
export function rankTable(e: Float32Array, len: number, lo: Uint8Array): number {
  const u = new Uint32Array(2);
  const fl = new Float32Array(u.buffer);
  for (let i = 0; i < len; i++) if (Number.isNaN(e[i])) return Infinity;
  let a = 0; // thresholds < the bucket's smallest value
  let run = 0;
  for (let b = 0; b < 65536; b++) {
    // the bucket's smallest and largest float (keys b << 16 and b << 16 | 0xffff, mapped back to bits)
    const k0 = (b << 16) >>> 0, k1 = (k0 | 0xffff) >>> 0;
    u[0] = k0 & 0x80000000 ? k0 ^ 0x80000000 : ~k0;
    u[1] = k1 & 0x80000000 ? k1 ^ 0x80000000 : ~k1;
    const min = fl[0], max = fl[1];
    if (Number.isNaN(min) || Number.isNaN(max)) {
      // buckets of NaN bit patterns (and +Inf's, which shares one with NaNs): below +Inf's bucket, no
      // threshold is below a NaN; in it, +Inf itself ranks among every finite threshold
      lo[b] = min === Infinity ? count(e, len, Infinity) : 0;
      continue;
    }
    while (a < len && e[a] < min) a++;
    lo[b] = a;
    let c = a;
    while (c < len && e[c] <= max) c++;
    run = Math.max(run, c - a);
  }
  return run;
}

function count(e: Float32Array, len: number, v: number): number {
  let c = 0;
  while (c < len && e[c] < v) c++;
  return c;
}

let useSearch = false;
/** Benches and tests: rank every feature by the binary search, not the rank tables (same ranks). */
export function _useRankSearch(on: boolean): void {
  useSearch = on;
}

/** Classes up to which the walks are specialised (unrolled sums); more take the generic form. */
const SPEC_MAX_K = 16;
let generic = false;
/** Benches and tests: the generic walks (lane addresses, a class loop) instead of the ones specialised to the forest's F1 and K (same bits). */
export function _useGenericWalk(on: boolean): void {
  generic = on;
}

/** The three kernels (walk, walkComplete, rank) as one module, generic or specialised; throws on failure. */
function compileWalks(spec?: Spec): object {
  const lanes = [...Array(LANES).keys()];
  return new WA!.Module(
    assembleModule([
      {
        name: 'walk',
        params: ['$w', '$r', '$child', '$lp', '$xb', '$acc', '$m', '$F1', '$K'],
        locals: ['$i', '$root', '$p', '$q', '$c', ...lanes.flatMap((k) => [`$w${k}`, `$x${k}`])],
        body: walkBody(spec),
      },
      {
        name: 'walkComplete',
        params: ['$cw', '$cl', '$D', '$lp', '$xb', '$acc', '$m', '$F1', '$K'],
        locals: ['$i', '$s', '$w', '$p', '$q', '$c', ...[...Array(CLANES).keys()].flatMap((k) => [`$n${k}`, `$x${k}`])],
        body: walkCompleteBody(spec),
      },
      {
        name: 'rank',
        params: ['$e', '$x', '$m', '$xb', '$F1'],
        locals: ['$i', '$o', ...[...Array(RANK_LANES).keys()].map((k) => `$j${k}`), ...[...Array(RANK_LANES).keys()].map((k) => `$v${k}:f32`)],
        body: rankBody(spec),
      },
      // rankTable1..N: ranking through the bucket tables, one kernel per run length (specialised modules only)
      ...(spec ? Array.from({ length: RANK_TABLE_MAX_RUN + 1 }, (_, C) => ({
        name: `rankTable${C}`,
        params: ['$e', '$t', '$x', '$m', '$xb'],
        locals: ['$i', '$o', '$p', ...[...Array(RANK_LANES).keys()].map((k) => `$j${k}`), ...[...Array(RANK_LANES).keys()].map((k) => `$v${k}:f32`)],
        body: rankTableBody(C, spec.F1),
      })) : []),
    ]),
  );
}

const modules = new Map<string, object | null>();
/**
 * The walk module for rows of F1 bytes and K classes, compiled once per thread and shape: specialised
 * when K <= SPEC_MAX_K (its class sums use WebAssembly SIMD; where that fails to compile, the generic
 * module, with a warning), else generic; null without WebAssembly (predict.ts walks in JS).
 */
function walkModule(F1?: number, K?: number): object | null {
  const spec = F1 !== undefined && K !== undefined && K <= SPEC_MAX_K && !generic ? { F1, K } : undefined;
  const key = `${spec ? `${spec.F1},${spec.K}${rowCopy ? '' : ',in-place'}` : 'generic'}${carryStep ? '' : ',subtract'}`;
  if (!modules.has(key)) {
    let compiled: object | null = null;
    if (WA) {
      try {
        compiled = compileWalks(spec);
      } catch (e) {
        // an assembler bug must not pass unnoticed, but must not stop predictions either
        process.emitWarning(`forest: ${spec ? 'specialised WebAssembly walk unavailable, using the generic one' : 'WebAssembly walk unavailable, walking in JS'} (${(e as Error).message})`);
        compiled = spec ? walkModule() : null;
      }
    }
    modules.set(key, compiled);
  }
  return modules.get(key) ?? null;
}

/** Whether the walk for rows of F1 bytes and K classes is the specialised module (tests). */
export function specialisedWalk(F1: number, K: number): boolean {
  const m = walkModule(F1, K);
  return m !== null && m !== walkModule();
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
  const mod = walkModule(F1, K);
  if (!mod || !WA) return null;
  const align = (v: number): number => (v + 63) & ~63;
  const oW = align(rowScratchBytes(F1)), oC = align(oW + words.byteLength), oL = align(oC + child.byteLength), oX = align(oL + leafProb.byteLength);
  const oA = align(oX + tile * F1 + 256);
  const oE = align(oA + tile * K * 4); // the padded threshold tables, 255 floats per feature
  const oV = align(oE + padded.length * 255 * 4); // one feature's values for a tile
  const oCW = align(oV + tile * 4); // the complete layout's words (u16) and leaves (i32)
  const oCL = align(oCW + (complete ? complete.words.byteLength : 0));
  // rank tables (rankTableBody): per feature 65536 bucket bytes and its thresholds again (stride TABLE_EDGES)
  const tables = padded.length > 0 && padded.length <= RANK_TABLE_MAX_FEATURES && !useSearch && K <= SPEC_MAX_K && !generic;
  const oT = align(oCL + (complete ? complete.leaves.byteLength : 0));
  const oTE = oT + (tables ? padded.length * 65536 : 0);
  const bytes = oTE + (tables ? padded.length * TABLE_EDGES * 4 : 0);
  if (bytes > 2 ** 31) return null;
  const mem = new WA.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
  const u8 = new Uint8Array(mem.buffer);
  if (carryStep) {
    // the lockstep walk's carry step reads each word's bin as 255 - bin
    const w = new Int32Array(mem.buffer, oW, words.length);
    for (let i = 0; i < words.length; i++) w[i] = flipBin(words[i]);
  } else u8.set(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), oW);
  u8.set(new Uint8Array(child.buffer, child.byteOffset, child.byteLength), oC);
  u8.set(new Uint8Array(leafProb.buffer, leafProb.byteOffset, leafProb.byteLength), oL);
  const edges = new Float32Array(mem.buffer, oE, padded.length * 255);
  padded.forEach((e, f) => edges.set(e.subarray(0, 255), f * 255));
  if (complete) {
    u8.set(new Uint8Array(complete.words.buffer, complete.words.byteOffset, complete.words.byteLength), oCW);
    u8.set(new Uint8Array(complete.leaves.buffer, complete.leaves.byteOffset, complete.leaves.byteLength), oCL);
  }
  // per feature: the rank-table kernel of its run length, or undefined (the search)
  const runs: Array<number | undefined> = padded.map(() => undefined);
  if (tables) {
    const te = new Float32Array(mem.buffer, oTE, padded.length * TABLE_EDGES).fill(Infinity);
    padded.forEach((e, f) => {
      let len = 0;
      while (len < 255 && e[len] !== Infinity) len++;
      const run = rankTable(e, len, new Uint8Array(mem.buffer, oT + f * 65536, 65536));
      if (run <= RANK_TABLE_MAX_RUN) runs[f] = run;
      te.set(e.subarray(0, 255), f * TABLE_EDGES);
    });
  }
  const ex = new WA.Instance(mod, { env: { mem } }).exports;
  const rankT = tables ? Array.from({ length: RANK_TABLE_MAX_RUN + 1 }, (_, C) => ex[`rankTable${C}`] as ((...a: number[]) => void) | undefined) : [];
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
    rank: (f, m) => {
      const C = runs[f];
      const k = C === undefined ? undefined : rankT[C];
      if (k) k(oTE + f * TABLE_EDGES * 4, oT + f * 65536, oV, m, oX + f);
      else rank(oE + f * 255 * 4, oV, m, oX + f, F1);
    },
  };
}

/** Whether the WebAssembly walk is in use (false: predict.ts walks in JS). */
export function wasmWalkAvailable(): boolean {
  return walkModule() !== null;
}
