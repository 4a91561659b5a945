/**
 * The segmentation a user's chain makes of a training region: `wiring segment` with its defaults
 * (whole-volume path: distance-seeded watershed supervoxels, mean agglomeration at the default cut)
 * on a boundary probability map. `wiring train-pixels --predicted-segmentation` runs it on the
 * boundary channel of its own out-of-fold (cross-fitted) maps, so the cleft filter's segment
 * features are learnt on the kind of segmentation `wiring synapses` later reads on a new volume
 * (merges and splits included), not on true cells. This joins the predict and segment stages, so it
 * lives in the CLI layer (as segment-calibration.ts does).
 */
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import { relabel } from '../stages/segment/agglomerate.js';
import { computeAgglomeration, computeSupervoxels } from '../stages/segment/pipeline.js';
import { agglomerationParams, supervoxelParams } from './segment-options.js';

/** Segment ids (uint32, 1..n; 0 none) of `wiring segment`'s defaults on `boundary` (probabilities in [0, 1] over `shape`, x fastest). */
export async function defaultSegmentation(boundary: Float32Array, shape: Vec3, voxelSize: Vec3): Promise<{ labels: Uint32Array; segments: number; supervoxels: number }> {
  if (boundary.length !== shape[0] * shape[1] * shape[2]) throw new UsageError(`boundary map holds ${boundary.length} voxels, not the ${shape.join('x')} of its region`);
  const maps = { boundary, shape };
  const sparams = supervoxelParams({}, voxelSize);
  const aparams = await agglomerationParams({});
  aparams.anisotropic = !!sparams.twoD;
  const sv = computeSupervoxels(maps, sparams);
  const res = computeAgglomeration(sv.labels, maps, aparams);
  return { labels: relabel(sv.labels, res.map, new Uint32Array(sv.labels.length)), segments: res.count, supervoxels: sv.count };
}
