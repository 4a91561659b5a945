import type { Vec3 } from '../../core/box.js';
import { compactLabels } from '../components.js';
import { checkVolume } from './check.js';
import { flood } from './flood.js';
import { type WatershedOptions, watershedSeedsAndMap } from './seeds.js';
import { mergeSmallSegments } from './size-filter.js';

/** Supervoxels: seeds + seeded watershed + size filter, labels 1..count in raster order. */
export function watershed(values: Float32Array, shape: Vec3, opts: WatershedOptions = {}): { labels: Uint32Array; count: number; seeds: number } {
  const n = checkVolume('watershed', values.length, shape);
  // the flooded map: values, or the smoothed one (minima seeds, flood 'smoothed')
  const seeds = watershedSeedsAndMap(values, shape, opts);
  const map = seeds.map;
  const labels = seeds.labels;
  if (opts.mask) for (let i = 0; i < n; i++) if (opts.mask[i] === 0) labels[i] = 0;
  flood(map, shape, labels, opts);
  const count = (opts.minSize ?? 0) > 1 ? mergeSmallSegments(map, shape, labels, opts.minSize!, opts) : compactLabels(labels, labels).count;
  return { labels, count, seeds: seeds.count };
}
