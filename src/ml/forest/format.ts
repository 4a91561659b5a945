/**
 * The forest file (WRF1; spec in README.md beside this file): `encodeForest` writes a forest's
 * parts, `decodeForest` reads and validates them (FormatError naming the file and field).
 */
import { FormatError } from '../../core/errors.js';
import { type ForestParams, resolveParams, type TreeArrays } from './params.js';

/** What a forest file holds. */
export interface ForestParts {
  nFeatures: number;
  nClasses: number;
  trees: TreeArrays;
  params: ForestParams;
  meta: Record<string, unknown>;
}

export function encodeForest(f: ForestParts): Uint8Array {
  const t = f.trees;
  const header = {
    format: 'wiring-random-forest',
    version: 1,
    nFeatures: f.nFeatures,
    nClasses: f.nClasses,
    nTrees: t.roots.length,
    nNodes: t.feature.length,
    nLeaves: t.leafProb.length / f.nClasses,
    params: f.params,
    importances: Array.from(t.importance), // per tree: [t * nFeatures + f]
    meta: f.meta,
  };
  const hb = new TextEncoder().encode(JSON.stringify(header));
  const hpad = (4 - ((8 + hb.length) % 4)) % 4;
  const arrays = [t.roots, t.feature, t.threshold, t.child, t.leafProb];
  const size = 8 + hb.length + hpad + arrays.reduce((s, a) => s + a.byteLength, 0);
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode('WRF1'), 0);
  new DataView(out.buffer).setUint32(4, hb.length, true);
  out.set(hb, 8);
  let o = 8 + hb.length + hpad;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
    o += a.byteLength;
  }
  return out;
}

export function decodeForest(bytes: Uint8Array, where = 'random forest model'): ForestParts {
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== 'WRF1') {
    throw new FormatError('not a Wiring random forest model (expected the magic bytes "WRF1")', where);
  }
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + hl > bytes.length) throw new FormatError(`header length ${hl} runs past the end of the file (${bytes.length} bytes)`, where);
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hl))) as Record<string, unknown>;
  } catch (e) {
    throw new FormatError(`header is not valid JSON (${(e as Error).message})`, where);
  }
  if (h.format !== 'wiring-random-forest') throw new FormatError(`header field "format" is ${JSON.stringify(h.format)}, expected "wiring-random-forest"`, where);
  if (h.version !== 1) throw new FormatError(`header field "version" is ${JSON.stringify(h.version)}; this build reads version 1`, where);
  const int = (k: string, min: number): number => {
    const v = h[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new FormatError(`header field "${k}" is ${JSON.stringify(v)}, expected an integer >= ${min}`, where);
    return v;
  };
  const F = int('nFeatures', 1), K = int('nClasses', 2), T = int('nTrees', 1), N = int('nNodes', 1), L = int('nLeaves', 1);
  const hpad = (4 - ((8 + hl) % 4)) % 4;
  const need = 8 + hl + hpad + 4 * (T + 3 * N + L * K);
  if (bytes.length !== need) throw new FormatError(`file has ${bytes.length} bytes, the header describes ${need}`, where);
  // copy into a fresh, aligned buffer (a Node Buffer's slice() is a view into a shared pool)
  const copy = new Uint8Array(bytes.length - (8 + hl + hpad));
  copy.set(bytes.subarray(8 + hl + hpad));
  let o = 0;
  const take = <A extends Int32Array | Float32Array>(C: new (b: ArrayBuffer, o: number, n: number) => A, len: number): A => {
    const a = new C(copy.buffer, o, len);
    o += len * 4;
    return a;
  };
  const roots = take(Int32Array, T);
  const feature = take(Int32Array, N);
  const threshold = take(Float32Array, N);
  const child = take(Int32Array, N);
  const leafProb = take(Float32Array, L * K);
  for (let i = 0; i < N; i++) {
    const f = feature[i];
    if (f >= F || f < -1) throw new FormatError(`node ${i} uses feature ${f}, the model has ${F}`, where);
    if (f >= 0 ? child[i] <= i || child[i] + 1 >= N : child[i] < 0 || child[i] >= L) {
      throw new FormatError(`node ${i} has an invalid child/leaf index ${child[i]}`, where);
    }
  }
  for (const r of roots) if (r < 0 || r >= N) throw new FormatError(`tree root ${r} outside 0..${N - 1}`, where);
  const imp = Array.isArray(h.importances) && h.importances.length === F * T ? Float64Array.from(h.importances as number[]) : new Float64Array(F * T);
  const params = resolveParams((h.params ?? {}) as Partial<ForestParams>);
  return { nFeatures: F, nClasses: K, trees: { roots, feature, threshold, child, leafProb, importance: imp }, params, meta: (h.meta ?? {}) as Record<string, unknown> };
}
