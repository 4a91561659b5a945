/** Size filters: drop small labels (`sizeFilter`), or re-flood them from their neighbours (`mergeSmallSegments`). */
import type { Vec3 } from '../../core/box.js';
import { compactLabels } from '../components.js';
import { checkVolume } from './check.js';
import { type FloodOptions, flood } from './flood.js';

/** Drop labels with fewer than `minSize` voxels and renumber 1..n in raster order of first voxel. */
export function sizeFilter(labels: Uint32Array, minSize: number): { labels: Uint32Array; count: number } {
  if (minSize <= 1) {
    const c = compactLabels(labels, labels);
    return { labels, count: c.count };
  }
  let max = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  const sizes = new Float64Array(max + 1);
  for (let i = 0; i < labels.length; i++) sizes[labels[i]]++;
  for (let i = 0; i < labels.length; i++) if (sizes[labels[i]] < minSize) labels[i] = 0;
  const c = compactLabels(labels, labels);
  return { labels, count: c.count };
}

/**
 * Remove segments smaller than `minSize` voxels and re-flood their voxels from the neighbouring
 * segments (priority flood on `values`). Labels are renumbered 1..n by first voxel. In place.
 * `known`: the voxel count of every label 0..max (sizes[l]), when the caller has counted them
 * already (max: the largest label present or larger); the same result as counting here.
 */
export function mergeSmallSegments(values: Float32Array, shape: Vec3, labels: Uint32Array, minSize: number, opts: FloodOptions = {}, known?: Float64Array): number {
  const n = checkVolume('mergeSmallSegments', values.length, shape);
  let sizes: Float64Array;
  let max: number;
  if (known) {
    sizes = known;
    max = known.length - 1;
  } else {
    max = 0;
    for (let i = 0; i < n; i++) if (labels[i] > max) max = labels[i];
    sizes = new Float64Array(max + 1);
    for (let i = 0; i < n; i++) sizes[labels[i]]++;
  }
  let kept = 0;
  for (let l = 1; l <= max; l++) if (sizes[l] >= minSize) kept++;
  if (kept > 0 && minSize > 1) {
    for (let i = 0; i < n; i++) if (sizes[labels[i]] < minSize) labels[i] = 0;
    flood(values, shape, labels, opts);
  }
  return compactLabels(labels, labels).count;
}
