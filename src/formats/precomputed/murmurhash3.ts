// MurmurHash3_x86_128 (Austin Appleby's public-domain algorithm), as used by Neuroglancer's
// sharded format: hash of the little-endian uint64 (chunk id >> preshift_bits) with seed 0; the
// low 8 bytes of the 16-byte digest, read as little-endian uint64, are the hashed chunk id.

import { fmix32 } from '../../core/hash.js';

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

const fmix = fmix32;

const C1 = 0x239b961b, C2 = 0xab0e9789, C3 = 0x38b34ae5, C4 = 0xa1e38b93;

/** The 16-byte digest as four uint32 words h1..h4 (digest bytes = h1..h4, each little-endian). */
export function murmurhash3_x86_128(key: Uint8Array, seed = 0): [number, number, number, number] {
  const len = key.length;
  const nblocks = len >>> 4;
  let h1 = seed >>> 0, h2 = seed >>> 0, h3 = seed >>> 0, h4 = seed >>> 0;
  const word = (i: number): number => key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24);
  for (let b = 0; b < nblocks; b++) {
    const i = b * 16;
    let k1 = word(i), k2 = word(i + 4), k3 = word(i + 8), k4 = word(i + 12);
    k1 = Math.imul(k1, C1); k1 = rotl(k1, 15); k1 = Math.imul(k1, C2); h1 ^= k1;
    h1 = rotl(h1, 19); h1 = (h1 + h2) | 0; h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(k2, C2); k2 = rotl(k2, 16); k2 = Math.imul(k2, C3); h2 ^= k2;
    h2 = rotl(h2, 17); h2 = (h2 + h3) | 0; h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(k3, C3); k3 = rotl(k3, 17); k3 = Math.imul(k3, C4); h3 ^= k3;
    h3 = rotl(h3, 15); h3 = (h3 + h4) | 0; h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(k4, C4); k4 = rotl(k4, 18); k4 = Math.imul(k4, C1); h4 ^= k4;
    h4 = rotl(h4, 13); h4 = (h4 + h1) | 0; h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }
  const t = nblocks * 16;
  let k1 = 0, k2 = 0, k3 = 0, k4 = 0;
  const rem = len & 15;
  // Tail bytes (the reference's fall-through switch, written as range checks).
  if (rem >= 15) k4 ^= key[t + 14] << 16;
  if (rem >= 14) k4 ^= key[t + 13] << 8;
  if (rem >= 13) {
    k4 ^= key[t + 12];
    k4 = Math.imul(k4, C4); k4 = rotl(k4, 18); k4 = Math.imul(k4, C1); h4 ^= k4;
  }
  if (rem >= 12) k3 ^= key[t + 11] << 24;
  if (rem >= 11) k3 ^= key[t + 10] << 16;
  if (rem >= 10) k3 ^= key[t + 9] << 8;
  if (rem >= 9) {
    k3 ^= key[t + 8];
    k3 = Math.imul(k3, C3); k3 = rotl(k3, 17); k3 = Math.imul(k3, C4); h3 ^= k3;
  }
  if (rem >= 8) k2 ^= key[t + 7] << 24;
  if (rem >= 7) k2 ^= key[t + 6] << 16;
  if (rem >= 6) k2 ^= key[t + 5] << 8;
  if (rem >= 5) {
    k2 ^= key[t + 4];
    k2 = Math.imul(k2, C2); k2 = rotl(k2, 16); k2 = Math.imul(k2, C3); h2 ^= k2;
  }
  if (rem >= 4) k1 ^= key[t + 3] << 24;
  if (rem >= 3) k1 ^= key[t + 2] << 16;
  if (rem >= 2) k1 ^= key[t + 1] << 8;
  if (rem >= 1) {
    k1 ^= key[t];
    k1 = Math.imul(k1, C1); k1 = rotl(k1, 15); k1 = Math.imul(k1, C2); h1 ^= k1;
  }
  h1 ^= len; h2 ^= len; h3 ^= len; h4 ^= len;
  h1 = (h1 + h2) | 0; h1 = (h1 + h3) | 0; h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
  h1 = fmix(h1); h2 = fmix(h2); h3 = fmix(h3); h4 = fmix(h4);
  h1 = (h1 + h2) | 0; h1 = (h1 + h3) | 0; h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** The 16 digest bytes (h1..h4, each little-endian), as in the reference implementation's output. */
export function murmurhash3_x86_128_bytes(key: Uint8Array, seed = 0): Uint8Array {
  const h = murmurhash3_x86_128(key, seed);
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) dv.setUint32(i * 4, h[i], true);
  return out;
}

const keyBuf = new Uint8Array(8);
const keyView = new DataView(keyBuf.buffer);

/** Neuroglancer's sharding hash of a uint64: low 64 bits of MurmurHash3_x86_128(le64(x), seed 0). */
export function murmurhash3_x86_128_uint64(x: bigint): bigint {
  keyView.setBigUint64(0, BigInt.asUintN(64, x), true);
  const h = murmurhash3_x86_128(keyBuf, 0);
  return BigInt(h[0]) | (BigInt(h[1]) << 32n);
}
