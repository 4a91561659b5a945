import type { Vec3 } from '../../core/box.js';
import { LevelBits, quantiser } from './levels.js';

/**
 * Priority flood in scikit-image's order (`ties: 'fifo'`): seeds queued in raster order with their
 * own value, lowest first, first queued first taken; each unlabelled neighbour takes the label of the
 * voxel that reached it. Bucket queue over `levels` quantised values (FIFO chains through one
 * Int32Array). Only labelled voxels with an unlabelled neighbour are queued (the others change nothing).
 */
export function floodFifo(values: Float32Array, shape: Vec3, labels: Uint32Array, levels: number, useZ: boolean, mask?: Uint8Array): void {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  const sxy = sx * sy;
  const { lo, scale } = quantiser(values, levels);
  const top = levels - 1;
  const q = levels <= 65536 ? new Uint16Array(n) : new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const f = Math.floor((values[i] - lo) * scale);
    q[i] = f >= 0 ? (f < top ? f : top) : f < 0 ? 0 : top; // NaN -> top
  }
  const open = (j: number): boolean => labels[j] === 0 && (!mask || mask[j] !== 0);
  const Q = new BucketQueue(levels, n);
  for (let z = 0, i = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++, i++) {
        if (labels[i] === 0) continue;
        if (
          (x > 0 && open(i - 1)) || (x + 1 < sx && open(i + 1)) ||
          (y > 0 && open(i - sx)) || (y + 1 < sy && open(i + sx)) ||
          (useZ && z > 0 && open(i - sxy)) || (useZ && z + 1 < sz && open(i + sxy))
        ) Q.push(i, q[i]);
      }
  for (;;) {
    const i = Q.pop();
    if (i < 0) break;
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
      if (!open(j)) continue;
      labels[j] = L;
      Q.push(j, q[j]);
    }
  }
}

/** FIFO bucket queue of voxel indices (each voxel queued at most once), linked through `next`. */
export class BucketQueue {
  readonly head: Int32Array;
  readonly tail: Int32Array;
  readonly next: Int32Array;
  readonly bits: LevelBits;
  cur: number;
  constructor(readonly levels: number, n: number) {
    this.head = new Int32Array(levels).fill(-1);
    this.tail = new Int32Array(levels).fill(-1);
    this.next = new Int32Array(n);
    this.bits = new LevelBits(levels);
    this.cur = levels;
  }
  push(i: number, lv: number): void {
    this.next[i] = -1;
    if (this.head[lv] < 0) {
      this.head[lv] = i;
      this.bits.set(lv);
    } else this.next[this.tail[lv]] = i;
    this.tail[lv] = i;
    if (lv < this.cur) this.cur = lv;
  }
  /** The first voxel of the lowest non-empty bucket, or -1. */
  pop(): number {
    let cur = this.cur;
    if (cur >= this.levels || this.head[cur] < 0) {
      cur = this.bits.next(cur);
      if (cur < 0) return -1;
      this.cur = cur;
    }
    const i = this.head[cur];
    const nx = this.next[i];
    this.head[cur] = nx;
    if (nx < 0) this.bits.clear(cur);
    return i;
  }
}
