/**
 * Eigenvalues of the symmetric 2x2 and 3x3 tensors of the feature stack (structure tensor, Hessian),
 * per voxel, descending. eig3 runs in WebAssembly SIMD (two voxels per f64x2 vector, chunks of CHUNK
 * voxels copied through a small module-level memory) with exactly the float64 operations of the
 * JavaScript loop eig3Js, in the same order, so the same bits (features.test.ts); eig3Js runs where
 * WebAssembly SIMD is unavailable. eig2 stays JavaScript (memory-bound: SIMD gained nothing).
 */
import { assembleModule, webAssembly as WA } from '../../ml/wat.js';

/** Eigenvalues (descending) of symmetric 2x2 [[a, b], [b, c]] per voxel (memory-bound: the WebAssembly SIMD form was no faster, 4.6-7.6 vs 3.7 ns/voxel). */
export function eig2(a: Float32Array, b: Float32Array, c: Float32Array, e0: Float32Array, e1: Float32Array): void {
  for (let i = 0; i < a.length; i++) {
    const m = 0.5 * (a[i] + c[i]);
    const d = 0.5 * (a[i] - c[i]);
    const r = Math.sqrt(d * d + b[i] * b[i]);
    e0[i] = m + r;
    e1[i] = m - r;
  }
}

/**
 * cos(acos(r) / 3) and sin(acos(r) / 3) for r in [-1, 1] without trigonometry. With theta = acos(r) / 2,
 * u = cos(theta) = sqrt((1 + r) / 2) and sin(theta) = sqrt((1 - r) / 2): cos(2 theta / 3) and
 * sin(2 theta / 3) / sin(theta) are even analytic functions of theta, so analytic in u on [0, 1]
 * (theta^2 = acos(u)^2 is analytic at u = 1), and degree-12 polynomials in t = 2u - 1 (Chebyshev fits
 * converted to powers) are within 1.7e-12 and 8.4e-11 of them. The sine keeps its factor sin(theta), so
 * it stays exact where it vanishes (two equal eigenvalues), where sqrt(1 - cos^2) would not.
 */
const COS_THIRD = [
  0.7660444431187741, 0.247409066305622, -0.015509188416683856, 0.0024663532933107807, -0.0005041250049510104,
  0.00011642167395759464, -2.8918078117473936e-05, 7.553799542506574e-06, -2.041075816838265e-06,
  5.435845347756732e-07, -1.5215010051626945e-07, 6.134163833577428e-08, -1.839289068346516e-08,
];
const SIN_THIRD = [
  0.742227198966514, -0.0930551304372224, 0.02219717545324505, -0.006049501556703133, 0.001746381118376894,
  -0.000520515652115775, 0.00015836015095871473, -4.901129807845955e-05, 1.5256100962739987e-05,
  -4.535792983788313e-06, 1.4564928803049439e-06, -6.73774792893143e-07, 2.0690650490355836e-07,
];
const [C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12] = COS_THIRD;
const [S0, S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, S11, S12] = SIN_THIRD;
const SQRT3 = Math.sqrt(3);

/** cos(acos(r) / 3), r in [-1, 1] (see COS_THIRD). */
export function cosThirdAcos(r: number): number {
  const t = 2 * Math.sqrt(0.5 + 0.5 * r) - 1;
  // Estrin's scheme: short dependency chains, so consecutive voxels overlap in the pipeline
  const t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
  return C0 + t * C1 + t2 * (C2 + t * C3) + t4 * (C4 + t * C5 + t2 * (C6 + t * C7)) + t8 * (C8 + t * C9 + t2 * (C10 + t * C11) + t4 * C12);
}

/** sin(acos(r) / 3), r in [-1, 1] (see COS_THIRD). */
export function sinThirdAcos(r: number): number {
  const t = 2 * Math.sqrt(0.5 + 0.5 * r) - 1;
  const t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
  return Math.sqrt(0.5 - 0.5 * r) * (S0 + t * S1 + t2 * (S2 + t * S3) + t4 * (S4 + t * S5 + t2 * (S6 + t * S7)) + t8 * (S8 + t * S9 + t2 * (S10 + t * S11) + t4 * S12));
}

/**
 * Eigenvalues (descending) of symmetric 3x3 [[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]] per voxel,
 * closed form (trigonometric solution of the characteristic cubic), float64 internally, with
 * cos(phi) = cosThirdAcos(r) and cos(phi + 2 pi / 3) = -cos(phi) / 2 - sqrt(3) sinThirdAcos(r) / 2
 * instead of acos and two cos: about 2x faster (docs/THROUGHPUT.md), the same float32 value as the
 * trigonometric form for most voxels and within 2e-7 of the eigenvalues' scale (features.test.ts).
 */
export function eig3Js(
  xx: Float32Array, xy: Float32Array, xz: Float32Array, yy: Float32Array, yz: Float32Array, zz: Float32Array,
  e0: Float32Array, e1: Float32Array, e2: Float32Array,
): void {
  for (let i = 0; i < xx.length; i++) {
    const a00 = xx[i], a01 = xy[i], a02 = xz[i], a11 = yy[i], a12 = yz[i], a22 = zz[i];
    const p1 = a01 * a01 + a02 * a02 + a12 * a12;
    const q = (a00 + a11 + a22) / 3;
    const b00 = a00 - q, b11 = a11 - q, b22 = a22 - q;
    const p2 = b00 * b00 + b11 * b11 + b22 * b22 + 2 * p1;
    if (p2 <= 1e-30 * (q * q + 1e-30)) {
      e0[i] = q;
      e1[i] = q;
      e2[i] = q;
      continue;
    }
    const p = Math.sqrt(p2 / 6);
    const ip = 1 / p;
    const c00 = b00 * ip, c11 = b11 * ip, c22 = b22 * ip, c01 = a01 * ip, c02 = a02 * ip, c12 = a12 * ip;
    const det = c00 * (c11 * c22 - c12 * c12) - c01 * (c01 * c22 - c12 * c02) + c02 * (c01 * c12 - c11 * c02);
    let r = det / 2;
    if (r < -1) r = -1;
    else if (r > 1) r = 1;
    // c = cosThirdAcos(r), s = sinThirdAcos(r), sharing t
    const t = 2 * Math.sqrt(0.5 + 0.5 * r) - 1;
    const t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
    const c = C0 + t * C1 + t2 * (C2 + t * C3) + t4 * (C4 + t * C5 + t2 * (C6 + t * C7)) + t8 * (C8 + t * C9 + t2 * (C10 + t * C11) + t4 * C12);
    const s = Math.sqrt(0.5 - 0.5 * r) * (S0 + t * S1 + t2 * (S2 + t * S3) + t4 * (S4 + t * S5 + t2 * (S6 + t * S7)) + t8 * (S8 + t * S9 + t2 * (S10 + t * S11) + t4 * S12));
    const l0 = q + 2 * p * c;
    const l2 = q - p * (c + SQRT3 * s);
    e0[i] = l0;
    e1[i] = 3 * q - l0 - l2;
    e2[i] = l2;
  }
}

/** eig3 with acos and two cos (the form before cosThirdAcos), the tests' and benches' reference. */
export function eig3Trig(
  xx: Float32Array, xy: Float32Array, xz: Float32Array, yy: Float32Array, yz: Float32Array, zz: Float32Array,
  e0: Float32Array, e1: Float32Array, e2: Float32Array,
): void {
  const TWO_PI_3 = (2 * Math.PI) / 3;
  for (let i = 0; i < xx.length; i++) {
    const a00 = xx[i], a01 = xy[i], a02 = xz[i], a11 = yy[i], a12 = yz[i], a22 = zz[i];
    const p1 = a01 * a01 + a02 * a02 + a12 * a12;
    const q = (a00 + a11 + a22) / 3;
    const b00 = a00 - q, b11 = a11 - q, b22 = a22 - q;
    const p2 = b00 * b00 + b11 * b11 + b22 * b22 + 2 * p1;
    if (p2 <= 1e-30 * (q * q + 1e-30)) {
      e0[i] = q;
      e1[i] = q;
      e2[i] = q;
      continue;
    }
    const p = Math.sqrt(p2 / 6);
    const ip = 1 / p;
    const c00 = b00 * ip, c11 = b11 * ip, c22 = b22 * ip, c01 = a01 * ip, c02 = a02 * ip, c12 = a12 * ip;
    const det = c00 * (c11 * c22 - c12 * c12) - c01 * (c01 * c22 - c12 * c02) + c02 * (c01 * c12 - c11 * c02);
    let r = det / 2;
    if (r < -1) r = -1;
    else if (r > 1) r = 1;
    const phi = Math.acos(r) / 3;
    const l0 = q + 2 * p * Math.cos(phi);
    const l2 = q + 2 * p * Math.cos(phi + TWO_PI_3);
    e0[i] = l0;
    e1[i] = 3 * q - l0 - l2;
    e2[i] = l2;
  }
}

// ---- WebAssembly SIMD -------------------------------------------------------------------------

/** Voxels per chunk copied through the kernel's memory (9 planes of 16 KiB: stays in L2). */
const CHUNK = 4096;
const PLANE = CHUNK * 4;
// constants (float64) at address 0, each loaded into a v128 local as both lanes
const K_NAMES = ['half', 'one', 'mone', 'two', 'three', 'six', 'tiny', 'sqrt3', ...COS_THIRD.map((_, i) => `C${i}`), ...SIN_THIRD.map((_, i) => `S${i}`)];
const K_VALUES = [0.5, 1, -1, 2, 3, 6, 1e-30, SQRT3, ...COS_THIRD, ...SIN_THIRD];
const K_BYTES = (K_VALUES.length * 8 + 63) & ~63;

const v = (name: string): string => `(local.get $${name})`;
const op = (o: string, ...a: string[]): string => `(f64x2.${o} ${a.join(' ')})`;
const [mul, add, sub, div] = [
  (a: string, b: string) => op('mul', a, b), (a: string, b: string) => op('add', a, b),
  (a: string, b: string) => op('sub', a, b), (a: string, b: string) => op('div', a, b),
];
const set = (name: string, e: string): string => `(local.set $${name} ${e})\n`;
const inPlane = (k: number): string => `(f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $i) (i32.const ${k * PLANE}))))`;
const outPlane = (k: number, e: string): string => `(v128.store64_lane 0 (i32.add (local.get $i) (i32.const ${(6 + k) * PLANE})) (f32x4.demote_f64x2_zero ${e}))\n`;
const loadK = K_NAMES.map((n, i) => set(n, `(v128.load64_splat (i32.const ${8 * i}))`)).join('');

/** Estrin's polynomial of eig3Js in t, t2, t4, t8 with coefficients P0..P12, in its order of operations. */
const poly = (P: string): string => {
  const c = (i: number): string => v(`${P}${i}`);
  const tc = (i: number): string => mul(v('t'), c(i));
  const a = add(add(c(0), tc(1)), mul(v('t2'), add(c(2), tc(3))));
  const b = mul(v('t4'), add(add(c(4), tc(5)), mul(v('t2'), add(c(6), tc(7)))));
  const d = mul(v('t8'), add(add(add(c(8), tc(9)), mul(v('t2'), add(c(10), tc(11)))), mul(v('t4'), c(12))));
  return add(add(a, b), d);
};

const eig3Body = `${loadK}
  (local.set $i (i32.const ${K_BYTES}))
  (local.set $e (i32.add (local.get $i) (i32.shl (local.get $m) (i32.const 2))))
  (block $d (loop $l
    (br_if $d (i32.ge_u (local.get $i) (local.get $e)))
    ${set('a00', inPlane(0))}${set('a01', inPlane(1))}${set('a02', inPlane(2))}${set('a11', inPlane(3))}${set('a12', inPlane(4))}${set('a22', inPlane(5))}
    ${set('p1', add(add(mul(v('a01'), v('a01')), mul(v('a02'), v('a02'))), mul(v('a12'), v('a12'))))}
    ${set('q', div(add(add(v('a00'), v('a11')), v('a22')), v('three')))}
    ${set('b00', sub(v('a00'), v('q')))}${set('b11', sub(v('a11'), v('q')))}${set('b22', sub(v('a22'), v('q')))}
    ${set('p2', add(add(add(mul(v('b00'), v('b00')), mul(v('b11'), v('b11'))), mul(v('b22'), v('b22'))), mul(v('two'), v('p1'))))}
    ;; lanes of a multiple of the identity (eig3Js's early exit) take q
    ${set('deg', op('le', v('p2'), mul(v('tiny'), add(mul(v('q'), v('q')), v('tiny')))))}
    ${set('p', op('sqrt', div(v('p2'), v('six'))))}
    ${set('ip', div(v('one'), v('p')))}
    ${set('c00', mul(v('b00'), v('ip')))}${set('c11', mul(v('b11'), v('ip')))}${set('c22', mul(v('b22'), v('ip')))}
    ${set('c01', mul(v('a01'), v('ip')))}${set('c02', mul(v('a02'), v('ip')))}${set('c12', mul(v('a12'), v('ip')))}
    ${set('r', div(add(sub(mul(v('c00'), sub(mul(v('c11'), v('c22')), mul(v('c12'), v('c12')))),
      mul(v('c01'), sub(mul(v('c01'), v('c22')), mul(v('c12'), v('c02'))))),
      mul(v('c02'), sub(mul(v('c01'), v('c12')), mul(v('c11'), v('c02'))))), v('two')))}
    ;; clamp to [-1, 1] by selection (r < -1: -1; r > 1: 1), as eig3Js does
    ${set('r', `(v128.bitselect ${v('mone')} ${v('r')} ${op('lt', v('r'), v('mone'))})`)}
    ${set('r', `(v128.bitselect ${v('one')} ${v('r')} ${op('gt', v('r'), v('one'))})`)}
    ${set('t', sub(mul(v('two'), op('sqrt', add(v('half'), mul(v('half'), v('r'))))), v('one')))}
    ${set('t2', mul(v('t'), v('t')))}${set('t4', mul(v('t2'), v('t2')))}${set('t8', mul(v('t4'), v('t4')))}
    ${set('c', poly('C'))}
    ${set('s', mul(op('sqrt', sub(v('half'), mul(v('half'), v('r')))), poly('S')))}
    ${set('l0', add(v('q'), mul(mul(v('two'), v('p')), v('c'))))}
    ${set('l2', sub(v('q'), mul(v('p'), add(v('c'), mul(v('sqrt3'), v('s'))))))}
    ${outPlane(0, `(v128.bitselect ${v('q')} ${v('l0')} ${v('deg')})`)}
    ${outPlane(1, `(v128.bitselect ${v('q')} ${sub(sub(mul(v('three'), v('q')), v('l0')), v('l2'))} ${v('deg')})`)}
    ${outPlane(2, `(v128.bitselect ${v('q')} ${v('l2')} ${v('deg')})`)}
    (local.set $i (i32.add (local.get $i) (i32.const 8)))
    (br $l)))`;

const V_LOCALS = [...K_NAMES, 'a00', 'a01', 'a02', 'a11', 'a12', 'a22', 'p1', 'q', 'b00', 'b11', 'b22', 'p2', 'deg', 'p', 'ip',
  'c00', 'c11', 'c22', 'c01', 'c02', 'c12', 'r', 't', 't2', 't4', 't8', 'c', 's', 'l0', 'l2'].map((n) => `$${n}:v128`);

interface EigenKernel {
  eig3(m: number): void;
  f32: Float32Array;
}
let kernel: EigenKernel | null | undefined;
let disabled = false;

/** Tests: the JavaScript loop (true) or the WebAssembly kernel (false). */
export function _useJsEigen(js: boolean): void {
  disabled = js;
}

/** Whether eig3 runs in WebAssembly SIMD. */
export function wasmEigenAvailable(): boolean {
  return !disabled && getKernel() !== null;
}

function getKernel(): EigenKernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  if (!WA) return kernel;
  try {
    const fns = [
      { name: 'eig3', params: ['$m'], locals: ['$i', '$e', ...V_LOCALS], body: eig3Body },
    ];
    const mem = new WA.Memory({ initial: Math.ceil((K_BYTES + 9 * PLANE + 64) / 65536) });
    const ex = new WA.Instance(new WA.Module(assembleModule(fns)), { env: { mem } }).exports as Record<string, (m: number) => void>;
    new Float64Array(mem.buffer, 0, K_VALUES.length).set(K_VALUES);
    kernel = { eig3: ex.eig3, f32: new Float32Array(mem.buffer) };
  } catch {
    kernel = null; // no WebAssembly SIMD: the JavaScript loops
  }
  return kernel;
}

/** Run `run` over chunks: copy the inputs' chunk to planes 0.., call the kernel on an even count, copy planes 6.. out. */
function chunked(k: EigenKernel, ins: Float32Array[], outs: Float32Array[], run: (m: number) => void): void {
  const n = ins[0].length;
  const base = K_BYTES / 4;
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const m = Math.min(CHUNK, n - i0);
    ins.forEach((a, q) => k.f32.set(a.subarray(i0, i0 + m), base + q * CHUNK));
    if (m & 1) for (let q = 0; q < ins.length; q++) k.f32[base + q * CHUNK + m] = 0;
    run(m + (m & 1));
    outs.forEach((o, q) => o.set(k.f32.subarray(base + (6 + q) * CHUNK, base + (6 + q) * CHUNK + m), i0));
  }
}

/** Eigenvalues (descending) of symmetric 3x3 tensors per voxel: eig3Js's bits (see there), in WebAssembly SIMD where available. */
export function eig3(
  xx: Float32Array, xy: Float32Array, xz: Float32Array, yy: Float32Array, yz: Float32Array, zz: Float32Array,
  e0: Float32Array, e1: Float32Array, e2: Float32Array,
): void {
  const k = disabled ? null : getKernel();
  if (!k) return eig3Js(xx, xy, xz, yy, yz, zz, e0, e1, e2);
  chunked(k, [xx, xy, xz, yy, yz, zz], [e0, e1, e2], k.eig3);
}
