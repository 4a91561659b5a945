import type { Vec3 } from '../../core/box.js';
import { giveQueue, growPool, takeQueue } from './fifo-flood-packed.js';

/**
 * floodFifoPacked for a map that is mostly labelled already (the re-flood of dropped small
 * segments: a few percent of the voxels are 0), with the same queue and order, touching only the
 * unlabelled voxels and their labelled neighbours. `holes` lists the unlabelled voxels in raster
 * order. The initial queue is the labelled neighbours of the holes, each once, in raster order (as
 * the dense flood's raster scan queues them); a voxel's level is quantised when it is queued (the
 * dense flood's formula) and "done" is `labels[j] !== 0` (a voxel is labelled exactly when it is
 * queued). Same labels as floodFifoPacked (watershed.test.ts).
 */
export function floodFifoSparse(values: Float32Array, lo: number, scale: number, levels: number, shape: Vec3, labels: Uint32Array, useZ: boolean, holes: Int32Array): void {
  const [sx, sy, sz] = shape;
  const sxy = sx * sy;
  const n = sxy * sz;
  const top = levels - 1;
  const nh = holes.length;
  if (nh === 0 || nh === n) return;
  const init = sparseStart(labels, shape, useZ, holes);
  const ni = init.length;
  // the block queue of floodFifoPacked
  const BS = 32;
  // floodFifoPacked's queue buffers (empty between floods; qc is not used here)
  const Q = takeQueue(levels, 0);
  let nBlocks = Q.nBlocks;
  let data = Q.data;
  let blkNext = Q.blkNext;
  let freeTop = 0;
  let freeList = -1;
  const lvs = Q.lvs;
  const words = Q.words;
  const summary = Q.summary;
  const nWords = words.length;
  const nSummary = summary.length;
  let cur = levels;
  for (let m = 0; m < ni; m++) {
    const j = init[m];
  {
        const f = Math.floor((values[j] - lo) * scale);
        const lv = f >= 0 ? (f < top ? f : top) : f < 0 ? 0 : top; // NaN -> top
        const st = lv << 2;
        let tb = lvs[st + 2];
        let tp = lvs[st + 3];
        if (lvs[st] < 0) {
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
    // its unlabelled neighbours take its label and are queued
    const L = labels[i];
    const x = i % sx;
    const t = (i - x) / sx;
    const y = t % sy;
    const z = (t - y) / sy;
    for (let k = 0; k < 6; k++) {
      let j: number;
      if (k === 0) { if (x === 0) continue; j = i - 1; }
      else if (k === 1) { if (x + 1 >= sx) continue; j = i + 1; }
      else if (k === 2) { if (y === 0) continue; j = i - sx; }
      else if (k === 3) { if (y + 1 >= sy) continue; j = i + sx; }
      else if (k === 4) { if (!useZ || z === 0) continue; j = i - sxy; }
      else { if (!useZ || z + 1 >= sz) continue; j = i + sxy; }
      if (labels[j] !== 0) continue;
      labels[j] = L;
    {
          const f = Math.floor((values[j] - lo) * scale);
          const lv = f >= 0 ? (f < top ? f : top) : f < 0 ? 0 : top; // NaN -> top
          const st = lv << 2;
          let tb = lvs[st + 2];
          let tp = lvs[st + 3];
          if (lvs[st] < 0) {
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
  giveQueue(Q);
}

/** The labelled neighbours of the holes, each once, in raster order (sorted, then duplicates dropped). */
function sparseStart(labels: Uint32Array, shape: Vec3, useZ: boolean, holes: Int32Array): Int32Array {
  const [sx, sy, sz] = shape;
  const sxy = sx * sy;
  const out = new Int32Array((useZ ? 6 : 4) * holes.length);
  let no = 0;
  for (let h = 0; h < holes.length; h++) {
    const p = holes[h];
    const x = p % sx;
    const t = (p - x) / sx;
    const y = t % sy;
    const z = (t - y) / sy;
    if (x > 0 && labels[p - 1] !== 0) out[no++] = p - 1;
    if (x + 1 < sx && labels[p + 1] !== 0) out[no++] = p + 1;
    if (y > 0 && labels[p - sx] !== 0) out[no++] = p - sx;
    if (y + 1 < sy && labels[p + sx] !== 0) out[no++] = p + sx;
    if (useZ && z > 0 && labels[p - sxy] !== 0) out[no++] = p - sxy;
    if (useZ && z + 1 < sz && labels[p + sxy] !== 0) out[no++] = p + sxy;
  }
  const sorted = out.subarray(0, no).sort();
  let k = 0;
  for (let i = 0; i < no; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[k++] = sorted[i];
  return sorted.subarray(0, k);
}
