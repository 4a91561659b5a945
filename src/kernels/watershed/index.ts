/**
 * Seeded watershed (priority flood) on [x, y, z] volumes (x fastest: index = x + sx*(y + sy*z)).
 *
 * The flood gives scikit-image's `watershed(image, markers, connectivity=1)` basins: seed voxels
 * enter at their own value, the water rises, and each voxel takes the label of the neighbour that
 * reaches it first (the one of lowest water level, i.e. minimax path cost from the seeds). It is
 * computed by raster scans, not a priority queue (see scan-flood-keys.ts): about 2x faster, and the labels
 * differ from skimage's only where two fronts reach a voxel at the same level (tie-breaking; 99.99 %
 * of voxels equal on the benchmark volume). `ties: 'fifo'` runs a bucket-queue flood in skimage's
 * exact order instead (quantised to `levels` steps, default 65536); the default 'auto' does so for
 * quantised maps, where ties are everywhere and their order matters.
 *
 * `twoD: true` floods every z section on its own (4-neighbourhood) — the 2-D-per-section mode for
 * anisotropic stacks; labels stay unique over the volume.
 *
 * Seeds: `regionalMinima` (plateaus strictly lower than all their neighbours, = skimage
 * local_minima + scipy label), `thresholdSeeds` (components of value < t with a size filter),
 * `distanceSeeds` (maxima of the smoothed anisotropic distance transform of value < t).
 * `affinityWatershed` is the Zlateski & Seung (2015) style watershed on a 3-channel affinity graph.
 *
 * Files: flood.ts (dispatcher, `seededWatershed`), scan-flood-keys.ts (the scan flood in use, int32
 * keys), scan-flood-float.ts (the same on float compares, for maps with negative values),
 * scan-flood-reference.ts (the first scan flood, kept as the tests' reference), scan-plateaus.ts,
 * fifo-flood-packed.ts (skimage's order, no mask), fifo-flood-sparse.ts (the same, few unlabelled voxels), fifo-flood.ts (skimage's order, masks and > 65536
 * levels), levels.ts, seeds.ts, size-filter.ts, supervoxels.ts (`watershed`), affinity.ts. README.md.
 */
export { affinityWatershed, type AffinityWatershedOptions } from './affinity.js';
export { _useReferenceScanFlood, flood, type FloodOptions, seededWatershed } from './flood.js';
export { distanceSeeds, type DistanceSeedOptions, regionalMinima, regionalMinimaFull, type SeedMethod, thresholdSeeds, type WatershedOptions, watershedSeeds, watershedSeedsAndMap } from './seeds.js';
export { mergeSmallSegments, sizeFilter } from './size-filter.js';
export { watershed } from './supervoxels.js';
