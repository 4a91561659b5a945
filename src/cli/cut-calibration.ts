/**
 * The mean-agglomeration cut for a boundary model, chosen on its own training volume by
 * cross-fitting: the training region is cut in two halves along its longest axis; a forest
 * trained (with the same options) on one half predicts the other, `wiring segment`'s defaults
 * turn that prediction into one merge tree, and every cut of the grid is scored (VOI split +
 * merge) against the half's ground truth. The cut with the lowest mean over both folds is the
 * model's `segmentThreshold`; `wiring predict` writes it into the boundary layer's info and
 * `wiring segment` uses it when no `--threshold` is given.
 *
 * Why on held-out halves: a forest's prediction of its own training voxels is sharper than of new
 * data, and the best cut of the mean agglomeration moves with that calibration (0.5-0.9 on the maps
 * in docs/SEGMENTATION.md). This wires the predict and segment stages together, so it lives in the
 * CLI layer (stages never import each other).
 */
import { type Box, type Vec3, box, boxGrow, boxIntersect, boxShape, boxToString, boxVoxels } from '../core/box.js';
import { type Progress, silentProgress } from '../core/progress.js';
import { Volume, copyBox } from '../core/volume.js';
import type { VolumeSource } from '../formats/source.js';
import type { LabelArray } from '../kernels/components.js';
import { evaluateSegmentation } from '../metrics/segmentation.js';
import type { PixelModel } from '../stages/predict/model.js';
import { modelMargin, predictVolume } from '../stages/predict/predict.js';
import { type TrainOptions, trainPixelClassifier } from '../stages/predict/training.js';
import { cutTree, relabel } from '../stages/segment/agglomerate.js';
import { DEFAULT_THRESHOLD, DEFAULT_THRESHOLD_ANISOTROPIC, boundaryMaps, computeAgglomeration, computeSupervoxels } from '../stages/segment/pipeline.js';
import { supervoxelParams } from './segment-options.js';

/** Cuts scored: 0.30, 0.35, ..., 0.90 (the range where the best cut lay on every map measured). */
export const CUT_GRID: readonly number[] = Array.from({ length: 13 }, (_, i) => +(0.3 + 0.05 * i).toFixed(2));

/** Held-out voxels scored per fold at most (a central crop of the half): bounds time and memory. */
export const CALIBRATION_MAX_VOXELS = 1 << 23;

export interface CutFold {
  train: string;
  test: string;
  supervoxels: number;
  /** VOI (split + merge) at each cut of CUT_GRID. */
  voi: number[];
}

export interface CutCalibration {
  threshold: number;
  /** What `wiring segment` would use without it (0.7, or 0.55 for per-section supervoxels). */
  default: number;
  grid: number[];
  /** Mean VOI over the folds at each cut. */
  meanVoi: number[];
  folds: CutFold[];
}

/**
 * Cross-fit the cut (see the module comment). Returns `{ skipped }` when the training region is
 * too small to halve (fewer than 16 voxels along its longest axis) or a half has too little
 * ground truth to train on.
 */
export async function calibrateCut(
  raw: VolumeSource,
  gt: VolumeSource,
  train: TrainOptions,
  opts: { maxVoxels?: number; progress?: Progress } = {},
): Promise<CutCalibration | { skipped: string }> {
  const region = trainingRegion(raw, gt, train.bounds);
  const shape = boxShape(region);
  const axis = shape.indexOf(Math.max(...shape));
  if (shape[axis] < 16) return { skipped: `training region ${boxToString(region)} is too small to halve for the cut calibration` };
  const mid = region.min[axis] + Math.floor(shape[axis] / 2);
  const lowMax = [...region.max];
  lowMax[axis] = mid;
  const highMin = [...region.min];
  highMin[axis] = mid;
  const halves = [box(region.min, lowMax as unknown as Vec3), box(highMin as unknown as Vec3, region.max)];
  const progress = opts.progress ?? silentProgress;
  const folds: CutFold[] = [];
  let twoD = false;
  for (let f = 0; f < 2; f++) {
    const [fit, test] = [halves[f], halves[1 - f]];
    progress.start(1, `cut calibration: fold ${f + 1} of 2`);
    let model: PixelModel;
    try {
      ({ model } = await trainPixelClassifier(raw, gt, { ...train, bounds: fit, progress: silentProgress }));
    } catch (err) {
      progress.stop();
      return { skipped: `cannot train on half ${boxToString(fit)} for the cut calibration: ${(err as Error).message}` };
    }
    const scored = centralCrop(test, opts.maxVoxels ?? CALIBRATION_MAX_VOXELS);
    const prob = await predictBox(model, raw, scored);
    const maps = boundaryMaps(prob);
    const sparams = supervoxelParams({}, raw.voxelSize);
    twoD = !!sparams.twoD;
    const sv = computeSupervoxels(maps, sparams);
    const { tree } = computeAgglomeration(sv.labels, maps, { method: 'mean', anisotropic: twoD });
    const truth = (await gt.read(scored)).data as LabelArray;
    const seg = new Uint32Array(sv.labels.length);
    const voi = CUT_GRID.map((t) => {
      relabel(sv.labels, cutTree(tree, t).map, seg);
      const s = evaluateSegmentation(seg, truth);
      return s.voi_split + s.voi_merge;
    });
    folds.push({ train: boxToString(fit), test: boxToString(scored), supervoxels: sv.count, voi });
    progress.increment();
    progress.stop();
  }
  const def = (twoD ? DEFAULT_THRESHOLD_ANISOTROPIC : DEFAULT_THRESHOLD).mean;
  const meanVoi = CUT_GRID.map((_, i) => (folds[0].voi[i] + folds[1].voi[i]) / 2);
  // lowest mean VOI; among equal ones the cut nearest the default
  let best = 0;
  for (let i = 1; i < CUT_GRID.length; i++) {
    const d = meanVoi[i] - meanVoi[best];
    if (d < -1e-12 || (Math.abs(d) <= 1e-12 && Math.abs(CUT_GRID[i] - def) < Math.abs(CUT_GRID[best] - def))) best = i;
  }
  return { threshold: CUT_GRID[best], default: def, grid: [...CUT_GRID], meanVoi, folds };
}

/** The region trainPixelClassifier trains on: raw ∩ labels ∩ bounds. */
function trainingRegion(raw: VolumeSource, gt: VolumeSource, bounds?: Box): Box {
  const r = boxIntersect(box(raw.offset, add(raw.offset, raw.shape)), box(gt.offset, add(gt.offset, gt.shape)));
  return bounds ? boxIntersect(r, bounds) : r;
}

function add(a: Vec3, b: Vec3): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

/** The centre of `b`, shrunk (largest side first) to at most `maxVoxels`. */
export function centralCrop(b: Box, maxVoxels: number): Box {
  const s = [...boxShape(b)];
  while (s[0] * s[1] * s[2] > maxVoxels) {
    const a = s.indexOf(Math.max(...s));
    s[a] = Math.max(1, Math.floor(s[a] * 0.9));
  }
  const min = b.min.map((m, a) => m + Math.floor((b.max[a] - m - s[a]) / 2)) as unknown as Vec3;
  return box(min, add(min, s as unknown as Vec3));
}

/** Boundary probability over `target`, predicted block by block as `wiring predict` does (each block read with the feature margin, clipped at the volume). */
async function predictBox(model: PixelModel, raw: VolumeSource, target: Box): Promise<Volume<'float32'>> {
  const out = Volume.zeros('float32', target, { voxelSize: raw.voxelSize });
  const volume = box(raw.offset, add(raw.offset, raw.shape));
  const margin = modelMargin(model);
  const step: Vec3 = model.meta.featureConfig.dims === 2 ? [256, 256, 4] : [96, 96, 96];
  for (let z = target.min[2]; z < target.max[2]; z += step[2]) {
    for (let y = target.min[1]; y < target.max[1]; y += step[1]) {
      for (let x = target.min[0]; x < target.max[0]; x += step[0]) {
        const b = boxIntersect(box([x, y, z], [x + step[0], y + step[1], z + step[2]]), target);
        if (boxVoxels(b) === 0) continue;
        const rawBlock = await raw.read(boxIntersect(boxGrow(b, margin), volume));
        copyBox(predictVolume(model, rawBlock, { box: b }) as Volume<'float32'>, out, b);
      }
    }
  }
  return out;
}
