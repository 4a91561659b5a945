/**
 * The recursive Gaussian's passes (recursive.ts) in WebAssembly SIMD, two float64 lanes per vector:
 * the y and z passes run across neighbouring x columns (whole rows per step, as recurseRows does), the
 * x pass across 8 lines at once (4 vectors in lockstep, each line's samples gathered into its lane).
 * Every lane performs exactly the float64 operations of the JavaScript recursion in the same order,
 * and float32 results are rounded from float64 the same way, so the outputs are the same bits
 * (recursive.test.ts compares both on every axis, border mode and order).
 *
 * Memory: each call copies its input in and its outputs out of a WebAssembly memory holding them and
 * one pass's scratch; a module-level one is kept for calls up to RECURSIVE_KEEP_BYTES (grown to the
 * largest of them), larger calls get a memory of their own, dropped when they return.
 */
import type { Vec3 } from '../core/box.js';
import { assembleModule, webAssembly as WA, type WasmApi } from '../ml/wat.js';

type Mem = InstanceType<WasmApi['Memory']>;

/** Lines per x-pass group (4 vectors of 2 lanes). */
const GROUP = 8;

// coefficient block at address 0: B, b1, b2, b3, then the difference constants 8, 12, 16, 30 (float64)
const COEF = 0;
const COEF_BYTES = 64;

const load = (addr: string): string => `(v128.load ${addr})`;
const mul = (a: string, b: string): string => `(f64x2.mul ${a} ${b})`;
const add = (a: string, b: string): string => `(f64x2.add ${a} ${b})`;
const sub = (a: string, b: string): string => `(f64x2.sub ${a} ${b})`;
const at = (base: string, off: string): string => `(i32.add (local.get ${base}) ${off})`;

/** w = B x + b1 w1 + b2 w2 + b3 w3, as ((B x + b1 w1) + b2 w2) + b3 w3 like the JavaScript. */
const step = (x: string, w1: string, w2: string, w3: string): string =>
  add(add(add(mul('(local.get $B)', x), mul('(local.get $b1)', w1)), mul('(local.get $b2)', w2)), mul('(local.get $b3)', w3));

const COEF_LOCALS = ['$B:v128', '$b1:v128', '$b2:v128', '$b3:v128', '$k8:v128', '$k12:v128', '$k16:v128', '$k30:v128'];
const loadCoefs = ['$B', '$b1', '$b2', '$b3', '$k8', '$k12', '$k16', '$k30']
  .map((n, i) => `(local.set ${n} (v128.load64_splat (i32.const ${COEF + 8 * i})))`).join('\n');

/**
 * The five-point difference of `order` from the samples at c (centre), c - d, c + d, c - 2d, c + 2d
 * (addresses of float64 pairs), as float64 pairs:
 *   order 1: (8 (f[+1] - f[-1]) - (f[+2] - f[-2])) / 12
 *   order 2: (16 (f[+1] + f[-1]) - (f[+2] + f[-2]) - 30 f[0]) / 12
 */
function diff(order: number, c: string, d: string): string {
  const p1 = load(`(i32.add ${c} ${d})`);
  const m1 = load(`(i32.sub ${c} ${d})`);
  const p2 = load(`(i32.add ${c} (i32.shl ${d} (i32.const 1)))`);
  const m2 = load(`(i32.sub ${c} (i32.shl ${d} (i32.const 1)))`);
  if (order === 0) return load(c);
  if (order === 1) return `(f64x2.div ${sub(mul('(local.get $k8)', sub(p1, m1)), sub(p2, m2))} (local.get $k12))`;
  return `(f64x2.div ${sub(sub(mul('(local.get $k16)', add(p1, m1)), add(p2, m2)), mul('(local.get $k30)', load(c)))} (local.get $k12))`;
}

/**
 * rows(tab, L, buf, np): the forward and backward recursions over L rows whose float32 samples start
 * at the addresses tab[0..L) (an i32 table), np pairs of samples per row, into the float64 rows of buf
 * (16 np bytes apart). Row 0 is copied (the steady state of the first row); row j >= 1 uses rows
 * j-1, max(j-2, 0), max(j-3, 0); backwards, row L-1 stays and row j uses j+1, min(j+2, L-1), min(j+3, L-1).
 */
const rowsFn = {
  name: 'rows',
  params: ['$tab', '$L', '$buf', '$np'],
  locals: ['$rs', '$j', '$p', '$p1', '$p2', '$p3', '$s', '$e', ...COEF_LOCALS],
  body: `
    ${loadCoefs}
    (local.set $rs (i32.shl (local.get $np) (i32.const 4)))
    (local.set $s (i32.load (local.get $tab)))
    (local.set $p (local.get $buf))
    (local.set $e (i32.add (local.get $buf) (local.get $rs)))
    (block $c0 (loop $l0
      (br_if $c0 (i32.ge_u (local.get $p) (local.get $e)))
      (v128.store (local.get $p) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $s))))
      (local.set $s (i32.add (local.get $s) (i32.const 8)))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $l0)))
    (local.set $j (i32.const 1))
    (block $fd (loop $fl
      (br_if $fd (i32.ge_s (local.get $j) (local.get $L)))
      (local.set $p (i32.add (local.get $buf) (i32.mul (local.get $j) (local.get $rs))))
      (local.set $p1 (i32.sub (local.get $p) (local.get $rs)))
      (local.set $p2 (i32.add (local.get $buf) (i32.mul (local.get $rs)
        (select (i32.sub (local.get $j) (i32.const 2)) (i32.const 0) (i32.ge_s (local.get $j) (i32.const 2))))))
      (local.set $p3 (i32.add (local.get $buf) (i32.mul (local.get $rs)
        (select (i32.sub (local.get $j) (i32.const 3)) (i32.const 0) (i32.ge_s (local.get $j) (i32.const 3))))))
      (local.set $s (i32.load (i32.add (local.get $tab) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $e (i32.add (local.get $p) (local.get $rs)))
      (block $fxd (loop $fx
        (br_if $fxd (i32.ge_u (local.get $p) (local.get $e)))
        (v128.store (local.get $p) ${step('(f64x2.promote_low_f32x4 (v128.load64_zero (local.get $s)))', load('(local.get $p1)'), load('(local.get $p2)'), load('(local.get $p3)'))})
        (local.set $s (i32.add (local.get $s) (i32.const 8)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
        (local.set $p2 (i32.add (local.get $p2) (i32.const 16)))
        (local.set $p3 (i32.add (local.get $p3) (i32.const 16)))
        (br $fx)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $fl)))
    (local.set $j (i32.sub (local.get $L) (i32.const 2)))
    (block $bd (loop $bl
      (br_if $bd (i32.lt_s (local.get $j) (i32.const 0)))
      (local.set $p (i32.add (local.get $buf) (i32.mul (local.get $j) (local.get $rs))))
      (local.set $p1 (i32.add (local.get $p) (local.get $rs)))
      (local.set $p2 (i32.add (local.get $buf) (i32.mul (local.get $rs)
        (select (i32.add (local.get $j) (i32.const 2)) (i32.sub (local.get $L) (i32.const 1)) (i32.lt_s (i32.add (local.get $j) (i32.const 2)) (local.get $L))))))
      (local.set $p3 (i32.add (local.get $buf) (i32.mul (local.get $rs)
        (select (i32.add (local.get $j) (i32.const 3)) (i32.sub (local.get $L) (i32.const 1)) (i32.lt_s (i32.add (local.get $j) (i32.const 3)) (local.get $L))))))
      (local.set $e (i32.add (local.get $p) (local.get $rs)))
      (block $bxd (loop $bx
        (br_if $bxd (i32.ge_u (local.get $p) (local.get $e)))
        (v128.store (local.get $p) ${step(load('(local.get $p)'), load('(local.get $p1)'), load('(local.get $p2)'), load('(local.get $p3)'))})
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
        (local.set $p2 (i32.add (local.get $p2) (i32.const 16)))
        (local.set $p3 (i32.add (local.get $p3) (i32.const 16)))
        (br $bx)))
      (local.set $j (i32.sub (local.get $j) (i32.const 1)))
      (br $bl)))`,
};

/**
 * rowsOut<k>(buf, rs, len, sx, out, step): rows 0..len-1 of buf (float64 rows rs bytes apart; buf
 * points at the first output row, with two rows of context on each side) as derivative order k to
 * float32 rows of sx samples at out + j * step (bytes). Pairs of samples, the last one alone when sx
 * is odd (so no sample of a neighbouring row is touched).
 */
function rowsOutFn(order: number): { name: string; params: string[]; locals: string[]; body: string } {
  const val = diff(order, '(local.get $q)', '(local.get $rs)');
  return {
    name: `rowsOut${order}`,
    params: ['$buf', '$rs', '$len', '$sx', '$out', '$step'],
    locals: ['$j', '$q', '$o', '$e', ...COEF_LOCALS],
    body: `
      ${loadCoefs}
      (local.set $j (i32.const 0))
      (block $d (loop $l
        (br_if $d (i32.ge_s (local.get $j) (local.get $len)))
        (local.set $q (i32.add (local.get $buf) (i32.mul (local.get $j) (local.get $rs))))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $j) (local.get $step))))
        (local.set $e (i32.add (local.get $o) (i32.shl (i32.shr_u (local.get $sx) (i32.const 1)) (i32.const 3))))
        (block $xd (loop $x
          (br_if $xd (i32.ge_u (local.get $o) (local.get $e)))
          (v128.store64_lane 0 (local.get $o) (f32x4.demote_f64x2_zero ${val}))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (local.set $o (i32.add (local.get $o) (i32.const 8)))
          (br $x)))
        (block $od
          (br_if $od (i32.eqz (i32.and (local.get $sx) (i32.const 1))))
          (v128.store32_lane 0 (local.get $o) (f32x4.demote_f64x2_zero ${val})))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $l)))`,
  };
}

/**
 * lines(tab, L, src, stride, buf, pad, len, o0, o1, o2): the recursions along 8 lines at once (line k
 * starts at src + k * stride, bytes; stride 0 repeats one line), extended by the byte offsets of tab
 * (negative: a zero sample), into buf (L rows of 8 float64: line k in lane k % 2 of vector k / 2),
 * forward from the steady state of the first extended sample and backward from the last, then samples
 * pad..pad+len-1 as orders 0, 1, 2 to the float32 lines at o0, o1, o2 (+ k * stride; 0: not wanted).
 */
function linesFn(): { name: string; params: string[]; locals: string[]; body: string } {
  const V = GROUP / 2;
  const vs = [...Array(V).keys()];
  const lanes = [...Array(GROUP).keys()];
  const rowBytes = GROUP * 8;
  // the 8 samples at byte offset $tc of every line, masked by $m (zero where the table says so)
  const gather = (v: number): string =>
    `(f64x2.promote_low_f32x4 (v128.and (local.get $m)
      (v128.load32_lane 1 (i32.add (local.get $a${2 * v + 1}) (local.get $tc))
        (v128.load32_lane 0 (i32.add (local.get $a${2 * v}) (local.get $tc)) (local.get $z)))))`;
  const fetch = (tabAddr: string): string => `
      (local.set $t (i32.load ${tabAddr}))
      (local.set $mi (i32.xor (i32.shr_s (local.get $t) (i32.const 31)) (i32.const -1)))
      (local.set $tc (i32.and (local.get $t) (local.get $mi)))
      (local.set $m (i32x4.splat (local.get $mi)))`;
  const shift = (v: number, w: string): string =>
    `(local.set $w3_${v} (local.get $w2_${v})) (local.set $w2_${v} (local.get $w1_${v})) (local.set $w1_${v} ${w})`;
  const out = (k: number): string => `
      (block $od${k}
        (br_if $od${k} (i32.eqz (local.get $o${k})))
        (local.set $c (i32.const 0))
        (local.set $q (i32.add (local.get $buf) (i32.mul (local.get $pad) (i32.const ${rowBytes}))))
        (block $cd${k} (loop $cl${k}
          (br_if $cd${k} (i32.ge_s (local.get $c) (local.get $len)))
          (local.set $ob (i32.add (local.get $o${k}) (i32.shl (local.get $c) (i32.const 2))))
          ${vs.map((v) => `
          (local.set $r (f32x4.demote_f64x2_zero ${diff(k, `(i32.add (local.get $q) (i32.const ${16 * v}))`, `(i32.const ${rowBytes})`)}))
          (v128.store32_lane 0 (i32.add (local.get $ob) (local.get $a${2 * v})) (local.get $r))
          (v128.store32_lane 1 (i32.add (local.get $ob) (local.get $a${2 * v + 1})) (local.get $r))`).join('')}
          (local.set $q (i32.add (local.get $q) (i32.const ${rowBytes})))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $cl${k})))
        ;; lane offsets were relative to src: outputs use the same offsets from o${k}
      )`;
  return {
    name: 'lines',
    params: ['$tab', '$L', '$src', '$stride', '$buf', '$pad', '$len', '$o0', '$o1', '$o2'],
    locals: [
      '$j', '$t', '$mi', '$tc', '$p', '$c', '$q', '$ob', ...lanes.map((k) => `$a${k}`),
      '$m:v128', '$z:v128', '$r:v128', '$w:v128',
      ...vs.flatMap((v) => [`$w1_${v}:v128`, `$w2_${v}:v128`, `$w3_${v}:v128`]),
      ...COEF_LOCALS,
    ],
    body: `
      ${loadCoefs}
      (local.set $z (i32x4.splat (i32.const 0)))
      ${lanes.map((k) => `(local.set $a${k} (i32.add (local.get $src) (i32.mul (local.get $stride) (i32.const ${k}))))`).join('\n')}
      ${fetch('(local.get $tab)')}
      ${vs.map((v) => `(local.set $w1_${v} ${gather(v)}) (local.set $w2_${v} (local.get $w1_${v})) (local.set $w3_${v} (local.get $w1_${v}))`).join('\n')}
      (local.set $j (i32.const 0))
      (local.set $p (local.get $buf))
      (block $fd (loop $fl
        (br_if $fd (i32.ge_s (local.get $j) (local.get $L)))
        ${fetch('(i32.add (local.get $tab) (i32.shl (local.get $j) (i32.const 2)))')}
        ${vs.map((v) => `
        (local.set $w ${step(gather(v), `(local.get $w1_${v})`, `(local.get $w2_${v})`, `(local.get $w3_${v})`)})
        (v128.store (i32.add (local.get $p) (i32.const ${16 * v})) (local.get $w))
        ${shift(v, '(local.get $w)')}`).join('')}
        (local.set $p (i32.add (local.get $p) (i32.const ${rowBytes})))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $fl)))
      (local.set $p (i32.sub (local.get $p) (i32.const ${rowBytes})))
      ${vs.map((v) => `(local.set $w1_${v} ${load(`(i32.add (local.get $p) (i32.const ${16 * v}))`)}) (local.set $w2_${v} (local.get $w1_${v})) (local.set $w3_${v} (local.get $w1_${v}))`).join('\n')}
      (block $bd (loop $bl
        (br_if $bd (i32.lt_u (local.get $p) (local.get $buf)))
        ${vs.map((v) => `
        (local.set $w ${step(load(`(i32.add (local.get $p) (i32.const ${16 * v}))`), `(local.get $w1_${v})`, `(local.get $w2_${v})`, `(local.get $w3_${v})`)})
        (v128.store (i32.add (local.get $p) (i32.const ${16 * v})) (local.get $w))
        ${shift(v, '(local.get $w)')}`).join('')}
        (local.set $p (i32.sub (local.get $p) (i32.const ${rowBytes})))
        (br $bl)))
      ;; output lane offsets: k * stride from each output's start
      ${lanes.map((k) => `(local.set $a${k} (i32.mul (local.get $stride) (i32.const ${k})))`).join('\n')}
      ${[0, 1, 2].map(out).join('\n')}`,
  };
}

interface Kernel {
  rows(tab: number, L: number, buf: number, np: number): void;
  rowsOut: Array<(buf: number, rs: number, len: number, sx: number, out: number, step: number) => void>;
  lines(tab: number, L: number, src: number, stride: number, buf: number, pad: number, len: number, o0: number, o1: number, o2: number): void;
  mem: Mem;
  /** views of mem.buffer (renewed after each grow) */
  f32: Float32Array;
  f64: Float64Array;
  i32: Int32Array;
}

let module: object | null | undefined;
let kernel: Kernel | null | undefined;

/** An instance of the (once assembled) module on a fresh memory of at least `bytes`, or null without WebAssembly SIMD. */
function instantiate(bytes: number): Kernel | null {
  if (!WA) return null;
  try {
    module ??= new WA.Module(assembleModule([rowsFn, rowsOutFn(0), rowsOutFn(1), rowsOutFn(2), linesFn()]));
  } catch {
    module = null; // no WebAssembly SIMD here: recursive.ts runs its JavaScript recursion
  }
  if (!module) return null;
  const mem = new WA.Memory({ initial: Math.max(16, Math.ceil(bytes / 65536)) });
  const ex = new WA.Instance(module, { env: { mem } }).exports as Record<string, (...a: number[]) => void>;
  return {
    rows: ex.rows,
    rowsOut: [ex.rowsOut0, ex.rowsOut1, ex.rowsOut2],
    lines: ex.lines,
    mem,
    f32: new Float32Array(mem.buffer),
    f64: new Float64Array(mem.buffer),
    i32: new Int32Array(mem.buffer),
  };
}

/**
 * Bytes of kernel memory kept from one call for the next (a WebAssembly memory never shrinks): calls
 * needing more run on a memory of their own, dropped when they return.
 */
export const RECURSIVE_KEEP_BYTES = 64 * 2 ** 20;
let keepBytes = RECURSIVE_KEEP_BYTES;
/** Tests: keep kernel memory up to this many bytes instead of RECURSIVE_KEEP_BYTES. */
export function _recursiveKeepBytes(bytes: number = RECURSIVE_KEEP_BYTES): void {
  keepBytes = bytes;
}
/** Bytes of the kept kernel memory (0 before the first call). */
export function _keptRecursiveBytes(): number {
  return kernel ? kernel.mem.buffer.byteLength : 0;
}

/** The kernel for a call needing `bytes` (the kept one, grown up to RECURSIVE_KEEP_BYTES, or one for this call), or null without WebAssembly SIMD. */
function getKernel(bytes = 0): Kernel | null {
  if (bytes > keepBytes) return module === null ? null : instantiate(bytes);
  if (kernel === undefined) kernel = instantiate(0);
  if (kernel) ensure(kernel, bytes);
  return kernel;
}

let disabled = false;
/** Tests: run the JavaScript recursion instead (true) or the WebAssembly one (false). */
export function _useJsRecursion(js: boolean): void {
  disabled = js;
}

/** Whether recursiveDerivatives1d runs in WebAssembly SIMD. */
export function wasmRecursionAvailable(): boolean {
  return !disabled && getKernel() !== null;
}

function ensure(k: Kernel, bytes: number): void {
  const have = k.mem.buffer.byteLength;
  if (bytes > have) {
    k.mem.grow(Math.ceil((bytes - have) / 65536));
    k.f32 = new Float32Array(k.mem.buffer);
    k.f64 = new Float64Array(k.mem.buffer);
    k.i32 = new Int32Array(k.mem.buffer);
  }
}

const align = (v: number): number => (v + 63) & ~63;

type Outs = [Float32Array | undefined, Float32Array | undefined, Float32Array | undefined];

/**
 * recursiveDerivatives1d's work in WebAssembly: `table` is the extended line (borderIndex per
 * extended position, -1 zero), pad its extension on each side. Returns false (nothing written) when
 * the kernel is unavailable or the volume does not fit a 2 GiB memory; the caller then runs the
 * JavaScript recursion.
 */
export function recursiveDerivativesWasm(
  src: Float32Array, shape: Vec3, axis: 0 | 1 | 2, table: Int32Array, pad: number,
  coeffs: { B: number; b1: number; b2: number; b3: number }, outs: Outs,
): boolean {
  if (disabled) return false;
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  const len = shape[axis];
  const L = table.length;
  const sxp = sx + (sx & 1);
  const oTab = COEF_BYTES;
  const oZero = align(oTab + 4 * L);
  const oBuf = align(oZero + 4 * sxp + 16);
  const bufBytes = axis === 0 ? L * GROUP * 8 : L * sxp * 8;
  const oSrc = align(oBuf + bufBytes);
  const vol = align(4 * n + 16);
  const oOut = [0, 1, 2].map((o) => oSrc + vol * (1 + o));
  if (oSrc + 4 * vol > 2 ** 31) return false;
  const k = getKernel(oSrc + 4 * vol);
  if (!k) return false;
  const { f32, f64, i32 } = k;
  f64.set([coeffs.B, coeffs.b1, coeffs.b2, coeffs.b3, 8, 12, 16, 30], COEF / 8);
  f32.fill(0, oZero / 4, (oZero + 4 * sxp + 16) / 4);
  f32.set(src.subarray(0, n), oSrc / 4);
  f32.fill(0, oSrc / 4 + n, (oSrc + vol) / 4);
  if (axis === 0) {
    for (let i = 0; i < L; i++) i32[oTab / 4 + i] = table[i] < 0 ? -1 : 4 * table[i];
    const rows = sy * sz;
    const stride = 4 * sx;
    const o = (q: number, base: number): number => (outs[q] ? oOut[q] + base : 0);
    let row = 0;
    for (; row + GROUP <= rows; row += GROUP) {
      const base = 4 * row * sx;
      k.lines(oTab, L, oSrc + base, stride, oBuf, pad, len, o(0, base), o(1, base), o(2, base));
    }
    // the last rows % 8 lines one by one (stride 0: the line in every lane, each storing the same values)
    for (; row < rows; row++) {
      const base = 4 * row * sx;
      k.lines(oTab, L, oSrc + base, 0, oBuf, pad, len, o(0, base), o(1, base), o(2, base));
    }
  } else {
    const outer = axis === 1 ? sz : sy;
    const stepEl = axis === 1 ? sx : sx * sy;
    const rs = 8 * sxp;
    for (let p = 0; p < outer; p++) {
      const first = axis === 1 ? sx * sy * p : sx * p;
      for (let i = 0; i < L; i++) i32[oTab / 4 + i] = table[i] < 0 ? oZero : oSrc + 4 * (first + table[i] * stepEl);
      k.rows(oTab, L, oBuf, sxp / 2);
      for (let q = 0; q < 3; q++) {
        if (outs[q]) k.rowsOut[q](oBuf + pad * rs, rs, len, sx, oOut[q] + 4 * first, 4 * stepEl);
      }
    }
  }
  for (let q = 0; q < 3; q++) {
    const o = outs[q];
    if (o) o.set(k.f32.subarray(oOut[q] / 4, oOut[q] / 4 + n));
  }
  return true;
}
