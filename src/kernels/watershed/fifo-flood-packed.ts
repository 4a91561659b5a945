import type { Vec3 } from '../../core/box.js';
import { LevelBits } from './levels.js';

/** Doubles the block pool of floodFifoPacked's queue (rare: not per voxel). */
export function growPool(data: Int32Array, blkNext: Int32Array, nBlocks: number, BS: number): { data: Int32Array; blkNext: Int32Array; nBlocks: number } {
  const d = new Int32Array(nBlocks * 2 * BS);
  d.set(data);
  const bn = new Int32Array(nBlocks * 2);
  bn.set(blkNext);
  return { data: d, blkNext: bn, nBlocks: nBlocks * 2 };
}

/**
 * The flood without a mask (levels <= 65536), all in one function with no calls or closures in the
 * inner loop. The flood is memory-bound (voxels are visited in value order, scattered over the
 * volume), so the per-voxel state is packed into one Uint32Array `qc`: bits 0-15 the quantised value,
 * 16-21 the border code (bit k: neighbour k of [-x, +x, -y, +y, -z, +z] exists), bit 31 "labelled";
 * neighbours are visited through a precomputed offset table. The FIFO bucket queue is inlined: each level is a chain of
 * fixed-size blocks of voxel indices from a recycled pool (read back contiguously), the per-level
 * state (head block, head position, tail block, tail position) is interleaved in one Int32Array so a
 * push touches one cache line, and a two-level bitmap finds the next non-empty level. The order is
 * exactly that of the linked-list BucketQueue: lowest level first, FIFO within a level.
 *
 * Per-section floods (`useZ` false, several z sections) run one section after another: no front
 * crosses a section, and a queue ordered by (level, insertion) restricted to one section's voxels
 * pops them in the order that section alone would, so the labels are the same as one flood over
 * the whole stack, while a section's state stays in the cache (the whole-stack flood jumps between
 * sections at every level). The queue's buffers are allocated once per call and reused (a level
 * is empty again when its section is done); a section without both labelled and unlabelled voxels
 * is skipped (its flood would change nothing).
 */
export function floodFifoPacked(values: Float32Array, lo: number, scale: number, levels: number, shape: Vec3, labels: Uint32Array, useZ: boolean): void {
  const [sx, sy, sz] = shape;
  const sxy = sx * sy;
  const q = takeQueue(levels, useZ || sz <= 1 ? sxy * sz : sxy);
  if (useZ || sz <= 1) {
    floodPackedRange(values, lo, scale, levels, shape, labels, useZ, q);
  } else {
    const one: Vec3 = [sx, sy, 1];
    for (let z = 0; z < sz; z++) {
      const lab = labels.subarray(z * sxy, (z + 1) * sxy);
      if (!hasWork(lab)) continue;
      floodPackedRange(values.subarray(z * sxy, (z + 1) * sxy), lo, scale, levels, one, lab, false, q);
    }
  }
  giveQueue(q);
}

/** Whether a section has a labelled and an unlabelled voxel (else its flood changes nothing). */
function hasWork(lab: Uint32Array): boolean {
  let some = 0;
  let none = 0;
  for (let i = 0; i < lab.length; i++) {
    if (lab[i] === 0) none = 1;
    else some = 1;
    if ((some & none) !== 0) return true;
  }
  return false;
}

/** The bucket queue's buffers, reused by the sections of one call (all levels empty between sections) and by later calls (takeQueue). */
export interface FifoQueue {
  qc: Uint32Array;
  data: Int32Array;
  blkNext: Int32Array;
  nBlocks: number;
  lvs: Int32Array;
  words: Uint32Array;
  summary: Uint32Array;
}

/**
 * The last queue a flood gave back, kept for the next flood of the same number of levels: a
 * queue is empty when a flood returns (every level's head -1, the bitmaps 0; the block pool and
 * `qc` are rewritten before they are read), and the floods of a blockwise run, tile after tile,
 * then skip allocating and faulting in ~1.6 MB each (the 65536 levels' table and the block pool).
 */
let spare: FifoQueue | undefined;

/** An empty queue for `levels` levels with `qc` of at least `voxels` entries: the spare one if it fits, else a new one. */
export function takeQueue(levels: number, voxels: number): FifoQueue {
  const q = spare;
  spare = undefined;
  if (q && q.lvs.length === levels * 4 && q.qc.length >= voxels) return q;
  return fifoQueue(levels, voxels);
}

/** Give an emptied queue back for the next flood (only a flood that returned normally: a throw leaves its levels unspecified). */
export function giveQueue(q: FifoQueue): void {
  spare = q;
}

function fifoQueue(levels: number, voxels: number): FifoQueue {
  const nBlocks = Math.max(64, Math.min(levels, 4096));
  const words = new Uint32Array((levels + 31) >>> 5);
  return {
    qc: new Uint32Array(voxels),
    data: new Int32Array(nBlocks * 32),
    blkNext: new Int32Array(nBlocks),
    nBlocks,
    lvs: new Int32Array(levels * 4).fill(-1), // per level: head block (-1 = empty), head pos, tail block, tail pos
    words,
    summary: new Uint32Array((words.length + 31) >>> 5),
  };
}

/** The flood over one range of voxels (the whole volume, or one z section) with the queue `Q`, empty on entry and on return. */
function floodPackedRange(values: Float32Array, lo: number, scale: number, levels: number, shape: Vec3, labels: Uint32Array, useZ: boolean, Q: FifoQueue): void {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  const sxy = sx * sy;
  const top = levels - 1;
  const DONE = 0x80000000;
  const qc = Q.qc;
  {
    const zlo = useZ ? 16 << 16 : 0;
    const zhi = useZ ? 32 << 16 : 0;
    for (let z = 0, i = 0; z < sz; z++) {
      const cz = (z > 0 ? zlo : 0) | (z + 1 < sz ? zhi : 0);
      for (let y = 0; y < sy; y++) {
        const cy = cz | (y > 0 ? 4 << 16 : 0) | (y + 1 < sy ? 8 << 16 : 0);
        for (let x = 0; x < sx; x++, i++) {
          const f = Math.floor((values[i] - lo) * scale);
          let qv = f < top ? f : top; // NaN -> top
          qv = qv > 0 ? qv : 0; // (-0 -> 0)
          qc[i] = (qv | cy | (x > 0 ? 1 << 16 : 0) | (x + 1 < sx ? 2 << 16 : 0) | (labels[i] !== 0 ? DONE : 0)) >>> 0;
        }
      }
    }
  }
  const nk = useZ ? 6 : 4;
  const offs = new Int32Array([-1, 1, -sx, sx, -sxy, sxy]);
  // block queue (all blocks free on entry)
  const BS = 32;
  let nBlocks = Q.nBlocks;
  let data = Q.data;
  let blkNext = Q.blkNext;
  let freeTop = 0; // blocks [freeTop, nBlocks) never used yet; freed blocks go on freeList
  let freeList = -1;
  const lvs = Q.lvs;
  const words = Q.words;
  const summary = Q.summary;
  const nWords = words.length;
  const nSummary = summary.length;
  let cur = levels;
  let j = 0;
  let v = 0;
  // initial queue: the labelled voxels with an unlabelled neighbour in raster order (the others change nothing)
  for (let k = 0; k < n; k++) {
    j = k;
    if (labels[j] === 0) continue;
    const c = (qc[j] >>> 16) & 63;
    if (!(
      ((c & 1) !== 0 && labels[j - 1] === 0) || ((c & 2) !== 0 && labels[j + 1] === 0) ||
      ((c & 4) !== 0 && labels[j - sx] === 0) || ((c & 8) !== 0 && labels[j + sx] === 0) ||
      ((c & 16) !== 0 && labels[j - sxy] === 0) || ((c & 32) !== 0 && labels[j + sxy] === 0)
    )) continue;
    v = qc[j];
    {
      const lv = v & 0xffff;
      const st = lv << 2;
      let tb = lvs[st + 2];
      let tp = lvs[st + 3];
      if (lvs[st] < 0) {
        // level was empty: new block, mark the level non-empty
        if (freeList >= 0) {
          tb = freeList;
          freeList = blkNext[tb];
        } else {
          if (freeTop === nBlocks) ({ data, blkNext, nBlocks } = growPool(data, blkNext, nBlocks, BS));
          tb = freeTop++;
        }
        lvs[st] = tb;
        lvs[st + 1] = 0;
        lvs[st + 2] = tb;
        tp = 0;
        const w = lv >>> 5;
        if (words[w] === 0) summary[w >>> 5] |= 1 << (w & 31);
        words[w] |= 1 << (lv & 31);
        if (lv < cur) cur = lv;
      } else if (tp === BS) {
        let nb: number;
        if (freeList >= 0) {
          nb = freeList;
          freeList = blkNext[nb];
        } else {
          if (freeTop === nBlocks) ({ data, blkNext, nBlocks } = growPool(data, blkNext, nBlocks, BS));
          nb = freeTop++;
        }
        blkNext[tb] = nb;
        lvs[st + 2] = nb;
        tb = nb;
        tp = 0;
      }
      data[tb * BS + tp] = j;
      lvs[st + 3] = tp + 1;
    }
  }
  for (;;) {
    // pop the first voxel of the lowest non-empty level
    if (cur >= levels || lvs[cur << 2] < 0) {
      let w = cur >>> 5;
      let found = -1;
      if (w < nWords) {
        const bits = words[w] & (-1 << (cur & 31));
        if (bits !== 0) found = (w << 5) + (31 - Math.clz32(bits & -bits));
        else if (++w < nWords) {
          let s = w >>> 5;
          let sb = summary[s] & (-1 << (w & 31));
          for (;;) {
            if (sb !== 0) {
              const ww = (s << 5) + (31 - Math.clz32(sb & -sb));
              const wb = words[ww];
              found = (ww << 5) + (31 - Math.clz32(wb & -wb));
              break;
            }
            if (++s >= nSummary) break;
            sb = summary[s];
          }
        }
      }
      if (found < 0) break;
      cur = found;
    }
    const cs = cur << 2;
    const hb = lvs[cs];
    const hp = lvs[cs + 1] + 1;
    const i = data[hb * BS + hp - 1];
    if (hb === lvs[cs + 2] && hp === lvs[cs + 3]) {
      // level now empty
      blkNext[hb] = freeList;
      freeList = hb;
      lvs[cs] = -1;
      const w = cur >>> 5;
      words[w] &= ~(1 << (cur & 31));
      if (words[w] === 0) summary[w >>> 5] &= ~(1 << (w & 31));
    } else if (hp === BS) {
      lvs[cs] = blkNext[hb];
      lvs[cs + 1] = 0;
      blkNext[hb] = freeList;
      freeList = hb;
    } else lvs[cs + 1] = hp;
    // give every unlabelled neighbour the label of i and queue it (one push site: small code, quick to optimise)
    const L = labels[i];
    const c = (qc[i] >>> 16) & 63;
    for (let k = 0; k < nk; k++) {
      if ((c & (1 << k)) === 0) continue;
      j = i + offs[k];
      v = qc[j];
      if ((v & DONE) !== 0) continue;
      qc[j] = v | DONE;
      labels[j] = L;
        {
          const lv = v & 0xffff;
          const st = lv << 2;
          let tb = lvs[st + 2];
          let tp = lvs[st + 3];
          if (lvs[st] < 0) {
            // level was empty: new block, mark the level non-empty
            if (freeList >= 0) {
              tb = freeList;
              freeList = blkNext[tb];
            } else {
              if (freeTop === nBlocks) ({ data, blkNext, nBlocks } = growPool(data, blkNext, nBlocks, BS));
              tb = freeTop++;
            }
            lvs[st] = tb;
            lvs[st + 1] = 0;
            lvs[st + 2] = tb;
            tp = 0;
            const w = lv >>> 5;
            if (words[w] === 0) summary[w >>> 5] |= 1 << (w & 31);
            words[w] |= 1 << (lv & 31);
            if (lv < cur) cur = lv;
          } else if (tp === BS) {
            let nb: number;
            if (freeList >= 0) {
              nb = freeList;
              freeList = blkNext[nb];
            } else {
              if (freeTop === nBlocks) ({ data, blkNext, nBlocks } = growPool(data, blkNext, nBlocks, BS));
              nb = freeTop++;
            }
            blkNext[tb] = nb;
            lvs[st + 2] = nb;
            tb = nb;
            tp = 0;
          }
          data[tb * BS + tp] = j;
          lvs[st + 3] = tp + 1;
        }
    }
  }
  Q.data = data;
  Q.blkNext = blkNext;
  Q.nBlocks = nBlocks;
}
