/**
 * The seeded flood: `seededWatershed` and the dispatcher `flood` that picks the engine (the scan
 * flood on int32 keys by default, the FIFO floods for `ties: 'fifo'`).
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { checkVolume } from './check.js';
import { floodFifo } from './fifo-flood.js';
import { floodFifoPacked } from './fifo-flood-packed.js';
import { floodFifoSparse } from './fifo-flood-sparse.js';
import { fewDistinctValues, quantiser } from './levels.js';
import { floodScanKeys } from './scan-flood-keys.js';
import { floodScanReference } from './scan-flood-reference.js';
import { MAXF } from './scan-plateaus.js';

export interface FloodOptions {
  /** Flood each z section separately (4-neighbourhood). Default false (3-D, 6-neighbourhood). */
  twoD?: boolean;
  /**
   * Quantise the values to this many steps between their min and max before flooding (default: the
   * float values as they are; with ties 'fifo', 65536 steps).
   */
  levels?: number;
  /**
   * Tie-breaking between fronts that reach a voxel at the same water level: 'any' (the scan flood:
   * dips go to the first front entering them, other ties to the first neighbour in
   * [-x, +x, -y, +y, -z, +z] order), 'fifo' (bucket queue in scikit-image's exact order, ~2x
   * slower), or 'auto' (default): 'fifo' when `levels` is given or the values look quantised (few
   * distinct values in a sample), else 'any'.
   */
  ties?: 'auto' | 'any' | 'fifo';
  /** Voxels where mask is 0 are never flooded (stay 0). */
  mask?: Uint8Array;
}

/**
 * Priority flood from the labelled voxels of `labels` (modified in place): every unlabelled voxel
 * that a seed reaches (through voxels with mask != 0) gets a label. Default (`ties: 'any'`): the
 * scan flood (floodScanKeys); `ties: 'fifo'`: the bucket-queue flood in scikit-image's exact order.
 */
export function flood(values: Float32Array, shape: Vec3, labels: Uint32Array, opts: FloodOptions): void {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  if (n === 0) return;
  const levels = opts.levels;
  if (levels !== undefined && (!Number.isInteger(levels) || levels < 2 || levels > 1 << 24)) throw new UsageError(`watershed: levels must be an integer in 2..2^24, got ${levels}`);
  let ties = opts.ties ?? 'auto';
  if (ties !== 'auto' && ties !== 'any' && ties !== 'fifo') throw new UsageError(`watershed: ties must be 'auto', 'any' or 'fifo', got ${String(ties)}`);
  if (ties === 'auto') ties = levels !== undefined || fewDistinctValues(values) ? 'fifo' : 'any';
  const mask = opts.mask;
  if (mask && mask.length !== n) throw new UsageError(`watershed: mask has ${mask.length} elements, expected ${n}`);
  const useZ = !opts.twoD && sz > 1;
  if (ties === 'fifo') {
    const lv = levels ?? 65536;
    if (!mask && lv <= 65536) {
      const { lo, scale } = quantiser(values, lv);
      const holes = fewHoles(labels);
      if (holes) floodFifoSparse(values, lo, scale, lv, shape, labels, useZ, holes);
      else floodFifoPacked(values, lo, scale, lv, shape, labels, useZ);
    } else floodFifo(values, shape, labels, lv, useZ, mask);
    return;
  }
  if (levels === undefined && !mask) {
    scanEngine(values, shape, labels, useZ, false);
    return;
  }
  // quantised values (level numbers) and/or +Infinity (never reached) under the mask
  const f = new Float32Array(n);
  const { lo, scale } = levels !== undefined ? quantiser(values, levels) : { lo: 0, scale: 0 };
  const top = (levels ?? 2) - 1;
  for (let i = 0; i < n; i++) {
    let v = values[i];
    if (levels !== undefined) {
      const t = Math.floor((v - lo) * scale);
      v = t >= 0 ? (t < top ? t : top) : t < 0 ? 0 : top; // NaN -> top
    } else if (!(v < MAXF)) v = MAXF; // NaN, +Infinity
    f[i] = mask && mask[i] === 0 ? Infinity : v;
  }
  scanEngine(f, shape, labels, useZ, true);
}

/**
 * The unlabelled voxels in raster order when they are at most a quarter of the volume (the re-flood
 * of small segments), else undefined. Which FIFO flood runs changes the time, not the labels.
 */
function fewHoles(labels: Uint32Array): Int32Array | undefined {
  const n = labels.length;
  let zeros = 0;
  for (let i = 0; i < n; i++) zeros += labels[i] === 0 ? 1 : 0;
  if (zeros * 4 > n) return undefined;
  const holes = new Int32Array(zeros);
  for (let i = 0, k = 0; k < zeros; i++) if (labels[i] === 0) holes[k++] = i;
  return holes;
}

/**
 * The scan flood in use: floodScanKeys (int32 keys; floodScanFloat for maps with negative values);
 * floodScanReference (the first version, same labels) is kept as the reference for the tests.
 */
let scanEngine = floodScanKeys;
/** Tests only: run the reference scan flood (floodScanReference) instead of the fast one, to compare their labels. */
export function _useReferenceScanFlood(on: boolean): void {
  scanEngine = on ? floodScanReference : floodScanKeys;
}

/**
 * Seeded watershed of `values` (low = interior, high = boundary) from `seeds` (0 = unseeded).
 * Returns a new label array; `seeds` is not modified. Labels are the seed labels.
 */
export function seededWatershed(values: Float32Array, shape: Vec3, seeds: Uint32Array, opts: FloodOptions = {}): Uint32Array {
  const n = checkVolume('seededWatershed', values.length, shape);
  if (seeds.length !== n) throw new UsageError(`seededWatershed: seeds have ${seeds.length} elements, expected ${n}`);
  const labels = seeds.slice();
  if (opts.mask) for (let i = 0; i < n; i++) if (opts.mask[i] === 0) labels[i] = 0;
  flood(values, shape, labels, opts);
  return labels;
}
