// Helpers shared by this folder's tests and benchmark (no test-framework imports).

import { mulberry32 as rng } from '../../core/random.js';

export { rng };

/** Byte-exact equality of two typed arrays (fast, unlike a deep equal over 10^5 bigints). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** `n` uint64 labels drawn from `distinct` random 64-bit ids. */
export function labels64(n: number, seed: number, distinct: number): BigUint64Array {
  const r = rng(seed);
  const ids = Array.from({ length: distinct }, () => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
  const out = new BigUint64Array(n);
  for (let i = 0; i < n; i++) out[i] = ids[Math.floor(r() * distinct)];
  return out;
}
