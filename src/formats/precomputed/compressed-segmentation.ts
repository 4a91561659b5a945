// Neuroglancer compressed_segmentation codec (uint32 and uint64, multi-channel, any block size),
// written from the format description in google/neuroglancer
// src/sliceview/compressed_segmentation/README.md:
//   - multi-channel header: one uint32 word per channel = start of that channel's data (words);
//   - per channel: gx*gy*gz 64-bit block headers (x fastest), each
//       word0 = lookupTableOffset (24 bits) | encodedBits << 24, word1 = encodedValuesOffset,
//     offsets in 32-bit words from the start of the channel's data;
//   - encoded values: `encodedBits` per voxel, packed LSB-first into little-endian uint32 words,
//     voxel (x, y, z) of a block at bit encodedBits * (x + bx * (y + by * z));
//   - lookup table: the block's distinct values (uint32, or uint64 as lo/hi words).
// Blocks at the upper edge are padded; padding voxels encode table entry 0.
// The encoder sorts each table ascending and reuses identical tables within a channel (like
// Neuroglancer's encoder). Loops run over Uint32 words (uint64 = lo/hi pair): no BigInt and no
// Map per voxel; one small open-addressing hash table per block finds the distinct values.
// Assumes a little-endian host (every platform Node runs on in practice).
import type { Vec3 } from '../../core/box.js';
import { FormatError, WiringError } from '../../core/errors.js';

export type LabelArray = Uint32Array | BigUint64Array;

const VALID_BITS = new Uint8Array(33);
for (const b of [0, 1, 2, 4, 8, 16, 32]) VALID_BITS[b] = 1;

function bitsFor(n: number): number {
  if (n <= 1) return 0;
  let b = 1;
  while (1 << b < n && b < 32) b *= 2;
  return b >= 32 || 2 ** b < n ? 32 : b;
}

/** `buf` with room for `extra` more words after `pos` (doubling; new words are zero). */
function grow(buf: Uint32Array<ArrayBuffer>, pos: number, extra: number): Uint32Array<ArrayBuffer> {
  if (pos + extra <= buf.length) return buf;
  let n = buf.length * 2;
  while (n < pos + extra) n *= 2;
  const nb = new Uint32Array(n);
  nb.set(buf.subarray(0, pos));
  return nb;
}

function words32(a: LabelArray): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.byteLength >>> 2);
}

function checkGeometry(shape: Vec3, channels: number, blockSize: Vec3, where: string): void {
  for (let d = 0; d < 3; d++) {
    if (!Number.isInteger(shape[d]) || shape[d] < 0) throw new WiringError(`shape [${shape}] must be non-negative integers`, where);
    if (!Number.isInteger(blockSize[d]) || blockSize[d] < 1) throw new WiringError(`block size [${blockSize}] must be positive integers`, where);
  }
  if (!Number.isInteger(channels) || channels < 1) throw new WiringError(`channels ${channels} must be a positive integer`, where);
}

/**
 * Encode a [x, y, z] (x fastest, channels slowest) uint32/uint64 array of `shape` x `channels`
 * with the given compression block size. Returns the multi-channel encoding (channel header +
 * per-channel data), which is what a precomputed `compressed_segmentation` chunk file holds.
 */
export function encodeCompressedSegmentation(data: LabelArray, shape: Vec3, channels: number, blockSize: Vec3): Uint8Array {
  checkGeometry(shape, channels, blockSize, 'compressed_segmentation encode');
  const wpv = data instanceof BigUint64Array ? 2 : 1;
  const [sx, sy, sz] = shape;
  const nvox = sx * sy * sz;
  if (data.length !== nvox * channels) {
    throw new WiringError(`compressed_segmentation encode: ${data.length} values, expected ${nvox * channels} for [${shape}] x ${channels}`);
  }
  const src = words32(data);
  const [bx, by, bz] = blockSize;
  const gx = Math.ceil(sx / bx), gy = Math.ceil(sy / by), gz = Math.ceil(sz / bz);
  const nblocks = gx * gy * gz;
  const bv = bx * by * bz;

  let buf = new Uint32Array(Math.max(64, channels + nblocks * 2 * channels + (nvox * channels * wpv) / 8));
  let pos = channels;

  // Per-block scratch (reused): voxel -> distinct index, distinct values, hash table.
  const idx = new Uint32Array(bv);
  const uniq = new Uint32Array(bv * wpv);
  const rank = new Uint32Array(bv);
  const ord = new Uint32Array(bv);
  const sortedVals = new Uint32Array(bv * wpv);
  let hsize = 16;
  while (hsize < bv * 2) hsize *= 2;
  const hmask = hsize - 1;
  const hstamp = new Int32Array(hsize);
  const hslot = new Uint32Array(hsize);
  let stamp = 0;
  const order: number[] = [];

  for (let c = 0; c < channels; c++) {
    const cb = pos;
    buf[c] = cb;
    buf = grow(buf, pos, nblocks * 2);
    const hdr = pos;
    pos += nblocks * 2;
    const tables = new Map<number, number[]>();
    const chanBase = c * nvox;
    for (let bzI = 0; bzI < gz; bzI++) {
      const z0 = bzI * bz, uz = Math.min(bz, sz - z0);
      for (let byI = 0; byI < gy; byI++) {
        const y0 = byI * by, uy = Math.min(by, sy - y0);
        for (let bxI = 0; bxI < gx; bxI++) {
          const x0 = bxI * bx, ux = Math.min(bx, sx - x0);
          // 1. distinct values of the block
          stamp++;
          let n = 0;
          let lastLo = 0, lastHi = 0, lastK = -1;
          for (let z = 0; z < uz; z++) {
            for (let y = 0; y < uy; y++) {
              let si = (chanBase + x0 + sx * (y0 + y + sy * (z0 + z))) * wpv;
              let p = bx * (y + by * z);
              for (let x = 0; x < ux; x++, p++, si += wpv) {
                const lo = src[si];
                const hi = wpv === 2 ? src[si + 1] : 0;
                if (lastK >= 0 && lo === lastLo && hi === lastHi) {
                  idx[p] = lastK;
                  continue;
                }
                let h = (Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi + 0x7f4a7c15, 0x85ebca77)) >>> 0;
                h = (h ^ (h >>> 15)) & hmask;
                let k = -1;
                while (hstamp[h] === stamp) {
                  const u = hslot[h];
                  if (uniq[u * wpv] === lo && (wpv === 1 || uniq[u * 2 + 1] === hi)) {
                    k = u;
                    break;
                  }
                  h = (h + 1) & hmask;
                }
                if (k < 0) {
                  k = n++;
                  hstamp[h] = stamp;
                  hslot[h] = k;
                  uniq[k * wpv] = lo;
                  if (wpv === 2) uniq[k * 2 + 1] = hi;
                }
                idx[p] = k;
                lastLo = lo;
                lastHi = hi;
                lastK = k;
              }
            }
          }
          // 2. sort the table ascending: insertion sort of the distinct indices (n is small in
          //    real segmentations; a large n falls back to the built-in sort).
          if (n <= 64) {
            for (let i = 0; i < n; i++) {
              const lo = uniq[i * wpv];
              const hi = wpv === 2 ? uniq[i * 2 + 1] : 0;
              let j = i - 1;
              while (j >= 0) {
                const o = ord[j];
                const ohi = wpv === 2 ? uniq[o * 2 + 1] : 0;
                if (ohi < hi || (ohi === hi && uniq[o * wpv] <= lo)) break;
                ord[j + 1] = o;
                j--;
              }
              ord[j + 1] = i;
            }
          } else {
            order.length = 0;
            for (let i = 0; i < n; i++) order.push(i);
            if (wpv === 1) order.sort((a, b) => uniq[a] - uniq[b]);
            else order.sort((a, b) => uniq[a * 2 + 1] - uniq[b * 2 + 1] || uniq[a * 2] - uniq[b * 2]);
            for (let i = 0; i < n; i++) ord[i] = order[i];
          }
          for (let i = 0; i < n; i++) {
            const u = ord[i];
            rank[u] = i;
            sortedVals[i * wpv] = uniq[u * wpv];
            if (wpv === 2) sortedVals[i * 2 + 1] = uniq[u * 2 + 1];
          }
          const bits = bitsFor(n);
          // 3. encoded values
          const nwords = Math.ceil((bits * bv) / 32);
          buf = grow(buf, pos, nwords + n * wpv);
          const valuesOffset = pos - cb;
          if (bits > 0) {
            for (let z = 0; z < uz; z++) {
              for (let y = 0; y < uy; y++) {
                let p = bx * (y + by * z);
                for (let x = 0; x < ux; x++, p++) {
                  const bp = p * bits;
                  buf[pos + (bp >>> 5)] |= rank[idx[p]] << (bp & 31);
                }
              }
            }
          }
          pos += nwords;
          // 4. lookup table, shared with an identical earlier table of this channel (found by a
          //    hash of its words, then compared word by word)
          const tw = n * wpv;
          let th = Math.imul(tw, 0x9e3779b1);
          for (let i = 0; i < tw; i++) th = Math.imul(th ^ sortedVals[i], 0x85ebca77) + 0x7f4a7c15;
          th = (th ^ (th >>> 13)) | 0;
          let tableOffset = -1;
          const cands = tables.get(th);
          if (cands !== undefined) {
            for (const off of cands) {
              let same = true;
              for (let i = 0; i < tw; i++) {
                if (buf[cb + off + i] !== sortedVals[i]) {
                  same = false;
                  break;
                }
              }
              if (same) {
                tableOffset = off;
                break;
              }
            }
          }
          if (tableOffset < 0) {
            tableOffset = pos - cb;
            buf.set(sortedVals.subarray(0, tw), pos);
            pos += tw;
            if (cands !== undefined) cands.push(tableOffset);
            else tables.set(th, [tableOffset]);
          }
          if (tableOffset >= 1 << 24) {
            throw new WiringError(
              `compressed_segmentation: chunk [${shape}] with block [${blockSize}] needs lookup-table offsets beyond 2^24 words; use smaller chunks`,
            );
          }
          const b = bxI + gx * (byI + gy * bzI);
          buf[hdr + 2 * b] = (tableOffset | (bits << 24)) >>> 0;
          buf[hdr + 2 * b + 1] = valuesOffset;
        }
      }
    }
  }
  return new Uint8Array(buf.buffer, 0, pos * 4);
}

/**
 * Decode a multi-channel compressed_segmentation buffer of `shape` x `channels` into a new
 * (or the given) uint32/uint64 array, x fastest, channels slowest. Every offset, bit width and
 * table index is checked: corrupt input is a FormatError naming `where`, never an
 * out-of-bounds access.
 */
export function decodeCompressedSegmentation(
  bytes: Uint8Array,
  dtype: 'uint32' | 'uint64',
  shape: Vec3,
  channels: number,
  blockSize: Vec3,
  where = 'compressed_segmentation data',
  out?: LabelArray,
): LabelArray {
  checkGeometry(shape, channels, blockSize, where);
  const nvox = shape[0] * shape[1] * shape[2];
  const result: LabelArray = out ?? (dtype === 'uint64' ? new BigUint64Array(nvox * channels) : new Uint32Array(nvox * channels));
  if (result.length !== nvox * channels || (result instanceof BigUint64Array) !== (dtype === 'uint64')) {
    throw new WiringError(`${where}: output array does not match [${shape}] x ${channels} ${dtype}`);
  }
  decodeCompressedSegmentationInto(bytes, dtype, shape, channels, blockSize, result, shape, [0, 0, 0], where);
  return result;
}

/**
 * Decode a compressed_segmentation chunk of `shape` x `channels` straight into a larger (or
 * smaller) array `dst` of `dstShape` x `channels` (x fastest, channels slowest), the chunk's
 * voxel (0,0,0) landing at `offset` of `dst` (which may be negative or run past `dst`: only the
 * voxels inside `dst` are decoded, so a block reading a neighbour chunk for its margin decodes
 * just the margin, with no chunk-sized buffer and no copy). Every block header of the chunk is
 * checked (bits, table and value offsets), and every decoded table index: corrupt input is a
 * FormatError naming `where`. The voxels written are exactly those `decodeCompressedSegmentation`
 * of the whole chunk would give there.
 */
export function decodeCompressedSegmentationInto(
  bytes: Uint8Array,
  dtype: 'uint32' | 'uint64',
  shape: Vec3,
  channels: number,
  blockSize: Vec3,
  dst: LabelArray,
  dstShape: Vec3,
  offset: Vec3,
  where = 'compressed_segmentation data',
): void {
  checkGeometry(shape, channels, blockSize, where);
  const wpv = dtype === 'uint64' ? 2 : 1;
  const [sx, sy, sz] = shape;
  const nvox = sx * sy * sz;
  const [dsx, dsy, dsz] = dstShape;
  const dvox = dsx * dsy * dsz;
  if (dst.length !== dvox * channels || (dst instanceof BigUint64Array) !== (wpv === 2)) {
    throw new WiringError(`${where}: output array does not match [${dstShape}] x ${channels} ${dtype}`);
  }
  if (bytes.byteLength % 4 !== 0) {
    throw new FormatError(`compressed_segmentation data of ${bytes.byteLength} bytes is not a whole number of 32-bit words`, where);
  }
  let words: Uint32Array;
  if (bytes.byteOffset % 4 === 0) words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  else words = new Uint32Array(bytes.slice().buffer);
  const len = words.length;
  if (len < channels) throw new FormatError(`compressed_segmentation data has ${len} words, expected at least the ${channels}-word channel header`, where);
  const out = words32(dst);
  const [bx, by, bz] = blockSize;
  const gx = Math.ceil(sx / bx), gy = Math.ceil(sy / by), gz = Math.ceil(sz / bz);
  const nblocks = gx * gy * gz;
  const bv = bx * by * bz;
  const [ox, oy, oz] = offset;
  // the part of the chunk inside dst, in chunk coordinates
  const cx0 = Math.max(0, -ox), cx1 = Math.min(sx, dsx - ox);
  const cy0 = Math.max(0, -oy), cy1 = Math.min(sy, dsy - oy);
  const cz0 = Math.max(0, -oz), cz1 = Math.min(sz, dsz - oz);
  const any = cx0 < cx1 && cy0 < cy1 && cz0 < cz1;
  for (let c = 0; c < channels; c++) {
    const cb = words[c];
    if (nvox === 0) continue;
    if (cb < channels || cb + 2 * nblocks > len) {
      throw new FormatError(
        `channel ${c} starts at word ${cb}; expected ${channels}..${len - 2 * nblocks} (${nblocks} block headers in ${len} words)`,
        where,
      );
    }
    for (let b = 0; b < nblocks; b++) {
      const h0 = words[cb + 2 * b];
      const tOff = cb + (h0 & 0xffffff);
      const bits = h0 >>> 24;
      const vOff = cb + words[cb + 2 * b + 1];
      const bxI = b % gx, byI = Math.floor(b / gx) % gy, bzI = Math.floor(b / (gx * gy));
      if (bits > 32 || !VALID_BITS[bits]) {
        throw new FormatError(`channel ${c} block [${bxI},${byI},${bzI}]: encoded bits ${bits}, expected 0, 1, 2, 4, 8, 16 or 32`, where);
      }
      if (tOff >= len || Math.floor((len - tOff) / wpv) < 1) {
        throw new FormatError(`channel ${c} block [${bxI},${byI},${bzI}]: lookup table offset ${tOff - cb} is outside the ${len}-word data`, where);
      }
      if (bits > 0 && vOff + Math.ceil((bits * bv) / 32) > len) {
        throw new FormatError(
          `channel ${c} block [${bxI},${byI},${bzI}]: encoded values at word ${vOff - cb} (${bits} bits x ${bv} voxels) run past the ${len}-word data`,
          where,
        );
      }
    }
    if (!any) continue;
    const dBase = c * dvox;
    for (let bzI = Math.floor(cz0 / bz); bzI * bz < cz1; bzI++) {
      const z0 = bzI * bz;
      const lz0 = Math.max(0, cz0 - z0), lz1 = Math.min(bz, cz1 - z0);
      for (let byI = Math.floor(cy0 / by); byI * by < cy1; byI++) {
        const y0 = byI * by;
        const ly0 = Math.max(0, cy0 - y0), ly1 = Math.min(by, cy1 - y0);
        for (let bxI = Math.floor(cx0 / bx); bxI * bx < cx1; bxI++) {
          const x0 = bxI * bx;
          const lx0 = Math.max(0, cx0 - x0), lx1 = Math.min(bx, cx1 - x0);
          const b = bxI + gx * (byI + gy * bzI);
          const h0 = words[cb + 2 * b];
          const tOff = cb + (h0 & 0xffffff);
          const bits = h0 >>> 24;
          const vOff = cb + words[cb + 2 * b + 1];
          const nTable = Math.floor((len - tOff) / wpv);
          // dst word index of block voxel (lx0, y, z): rows step by dsx, sections by dsx * dsy
          const row0 = dBase + ox + x0 + lx0 + dsx * (oy + y0 + dsy * (oz + z0));
          const ok =
            bits === 0
              ? fillBlock(words, out, tOff, wpv, row0, lx1 - lx0, ly0, ly1, lz0, lz1, dsx, dsy)
              : unpackBlock(words, out, tOff, vOff, bits, nTable, wpv, row0, lx0, lx1, ly0, ly1, lz0, lz1, bx, by, dsx, dsy);
          if (ok >= 0) {
            throw new FormatError(
              `channel ${c} block [${bxI},${byI},${bzI}]: value index ${ok} is past the end of its lookup table (${nTable} entries fit)`,
              where,
            );
          }
        }
      }
    }
  }
}

/** A block with one value (0 bits): its rows of `nx` voxels in dst are filled with table entry 0. Returns -1. */
function fillBlock(
  words: Uint32Array, out: Uint32Array, tOff: number, wpv: number, row0: number, nx: number,
  ly0: number, ly1: number, lz0: number, lz1: number, dsx: number, dsy: number,
): number {
  const lo = words[tOff];
  const hi = wpv === 2 ? words[tOff + 1] : 0;
  for (let z = lz0; z < lz1; z++) {
    for (let y = ly0; y < ly1; y++) {
      let di = (row0 + dsx * (y + dsy * z)) * wpv;
      if (wpv === 1) out.fill(lo, di, di + nx);
      else for (let x = 0; x < nx; x++, di += 2) {
        out[di] = lo;
        out[di + 1] = hi;
      }
    }
  }
  return -1;
}

/** Unpack the table indices of a block's rows into dst; returns -1, or the first index past the table. */
function unpackBlock(
  words: Uint32Array, out: Uint32Array, tOff: number, vOff: number, bits: number, nTable: number, wpv: number,
  row0: number, lx0: number, lx1: number, ly0: number, ly1: number, lz0: number, lz1: number,
  bx: number, by: number, dsx: number, dsy: number,
): number {
  const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
  for (let z = lz0; z < lz1; z++) {
    for (let y = ly0; y < ly1; y++) {
      let di = (row0 + dsx * (y + dsy * z)) * wpv;
      let bp = (lx0 + bx * (y + by * z)) * bits;
      for (let x = lx0; x < lx1; x++, bp += bits) {
        const k = ((words[vOff + (bp >>> 5)] >>> (bp & 31)) & mask) >>> 0;
        if (k >= nTable) return k;
        if (wpv === 2) {
          const t = tOff + 2 * k;
          out[di] = words[t];
          out[di + 1] = words[t + 1];
          di += 2;
        } else {
          out[di++] = words[tOff + k];
        }
      }
    }
  }
  return -1;
}
