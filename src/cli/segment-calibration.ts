/**
 * The segmentation settings a boundary (`--gt`) model carries, chosen on its own training volume by
 * cross-fitting: the training region is cut in two halves along its longest axis; a forest trained
 * (with the same options, no output smoothing) on one half predicts the other once, and every
 * combination of output smoothing (OUTPUT_SIGMA_CANDIDATES, applied to that one prediction: no
 * retraining), supervoxel seeds (src/stages/segment/choice.ts SEED_CANDIDATES) and mean-agglomeration
 * cut (CUT_GRID) is scored by VOI (split + merge) against the half's ground truth. The combination
 * with the lowest mean over both folds is carried: the smoothing as the model's `outputSigma`
 * (predict applies it), the seeds as `segmentSeeds` and the cut as `segmentThreshold` (`wiring
 * predict` writes both into the boundary layer's info; `wiring segment` uses them unless its own
 * seed options or --threshold are given).
 *
 * Membrane-label (`--labels`) models, with `train-pixels --segment-choice` given (opt-in): the halves
 * are along z (sections), the boundary map is the membrane class's channel (`boundaryClass`), the
 * ground truth the 4-connected components of the other (interior) classes per section
 * (interiorComponents), and each section is segmented on its own (choice.ts scoreCutsPerSection), as
 * the seg-chain bench segments and scores ISBI 2012; the output smoothing stays the one the training
 * chose (its calibration and object rules are fitted on maps smoothed so). The carried cut is an
 * absolute map value: measured across volumes it helps ISBI -> vnc-sstem and leaks vnc-sstem -> ISBI
 * (docs/ACCURACY.md "The cut of --labels boundary models"), hence opt-in.
 *
 * Why on held-out halves: a forest's prediction of its own training voxels is sharper than of new
 * data, and the best cut, seeds and smoothing move with that calibration (docs/ACCURACY.md "The whole
 * chain against a scikit-learn reference"). Why here: it composes the predict stage (fold forests,
 * prediction, output smoothing) and the segment stage (supervoxels, agglomeration, scoring), and
 * stages never import each other, so this one module lives in the CLI layer; the scoring and the
 * choice themselves are the segment stage's (choice.ts).
 */
import { type Box, type Vec3, box, boxGrow, boxIntersect, boxShape, boxToString, boxVoxels } from '../core/box.js';
import { type Progress, silentProgress } from '../core/progress.js';
import { Volume, copyBox } from '../core/volume.js';
import type { VolumeSource } from '../formats/source.js';
import { type LabelArray, connectedComponents } from '../kernels/components.js';
import type { PixelModel } from '../stages/predict/model.js';
import { OUTPUT_SIGMA_CANDIDATES, outputMargin, smoothOutputs } from '../stages/predict/output-smoothing.js';
import { modelMargin, predictVolume } from '../stages/predict/predict.js';
import { type TrainOptions, trainPixelClassifier } from '../stages/predict/training.js';
import { CUT_GRID, type CarriedSeeds, SEED_CANDIDATES, type SegmentChoice, chooseSegmentation } from '../stages/segment/choice.js';
import { anisotropic } from '../stages/segment/run.js';

export { CUT_GRID };

/** Held-out voxels scored per fold at most (a central crop of the half): bounds time and memory. */
export const CALIBRATION_MAX_VOXELS = 1 << 23;

/**
 * What `train-pixels --gt` chooses by cross-fitting (`--segment-choice`): `all` = output smoothing,
 * seeds and cut together; `cut` = the cut only, for the default seeds and the smoothing chosen
 * on out-of-fold AUC (the behaviour before the joint choice).
 */
export type SegmentChoiceMode = 'all' | 'cut';
export const SEGMENT_CHOICE_MODES: readonly SegmentChoiceMode[] = ['all', 'cut'];
/**
 * The default of `--segment-choice`: `cut`. `all` gained VOI on gala-x (0.558 -> 0.350) and the
 * phantom 1 -> 2 and 3 -> 4 (1.634 -> 1.452, 1.494 -> 1.350), tied on gala-z and lost on the phantom
 * 5 -> 6 (1.065 -> 1.128): not a win on every held-out pair, so opt-in (docs/ACCURACY.md "Seeds,
 * smoothing and cut chosen together").
 */
export const DEFAULT_SEGMENT_CHOICE: SegmentChoiceMode = 'cut';

/** `train-pixels --labels --segment-choice`: the membrane class's label value unless --boundary-class ( \`wiring classes\`' boundary = 1). */
export const DEFAULT_BOUNDARY_CLASS = '1';

export interface SegmentCalibration extends SegmentChoice {
  /** the output smoothing chosen (= variant) */
  outputSigma: number;
  folds: Array<{ train: string; test: string }>;
}

/**
 * Cross-fit the segmentation settings (see the module comment). `sigmas`: the output smoothings to
 * try (default OUTPUT_SIGMA_CANDIDATES; one value = fixed); `seeds`: the seed candidates (default
 * all of SEED_CANDIDATES; ['distance'] = the default seeds only). Returns `{ skipped }` when the
 * training region is too small to halve (fewer than 16 voxels along its longest axis) or a half
 * has too little ground truth to train on.
 */
export async function calibrateSegmentation(
  raw: VolumeSource,
  gt: VolumeSource,
  train: TrainOptions,
  opts: { sigmas?: readonly number[]; seeds?: readonly string[]; maxVoxels?: number; progress?: Progress; boundaryClass?: string } = {},
): Promise<SegmentCalibration | { skipped: string }> {
  const region = trainingRegion(raw, gt, train.bounds);
  const shape = boxShape(region);
  // membrane labels (train.target 'labels'): folds along z, each section segmented on its own and
  // scored against its interior components; instance ground truth (--gt): the longest axis, in 3-D
  const labels = train.target === 'labels';
  if (labels && opts.boundaryClass === undefined) throw new Error('internal: a labels calibration needs the boundary class');
  const axis = labels ? 2 : shape.indexOf(Math.max(...shape));
  if (labels ? shape[2] < 2 : shape[axis] < 16) return { skipped: `training region ${boxToString(region)} is too small to halve${labels ? ' along z (sections)' : ''} for the segment calibration` };
  const mid = region.min[axis] + Math.floor(shape[axis] / 2);
  const lowMax = [...region.max];
  lowMax[axis] = mid;
  const highMin = [...region.min];
  highMin[axis] = mid;
  const halves = [box(region.min, lowMax as unknown as Vec3), box(highMin as unknown as Vec3, region.max)];
  const progress = opts.progress ?? silentProgress;
  const sigmas = [...(opts.sigmas ?? OUTPUT_SIGMA_CANDIDATES)];
  const twoD = labels || anisotropic(raw.voxelSize);
  const folds: Parameters<typeof chooseSegmentation>[0] = [];
  const where: SegmentCalibration['folds'] = [];
  for (let f = 0; f < 2; f++) {
    const [fit, test] = [halves[f], halves[1 - f]];
    progress.start(1, `segment calibration: fold ${f + 1} of 2`);
    let model: PixelModel;
    try {
      // unsmoothed: every smoothing candidate is applied to this one prediction
      ({ model } = await trainPixelClassifier(raw, gt, { ...train, outputSigma: 0, bounds: fit, progress: silentProgress, ...(labels ? { crossFit: false } : {}) }));
    } catch (err) {
      progress.stop();
      return { skipped: `cannot train on half ${boxToString(fit)} for the segment calibration: ${(err as Error).message}` };
    }
    const channel = labels ? model.meta.labelValues.indexOf(opts.boundaryClass!) : 0;
    if (channel < 0) {
      progress.stop();
      return { skipped: `the forest trained on half ${boxToString(fit)} has no class ${opts.boundaryClass} (classes ${model.meta.labelValues.join(', ')})` };
    }
    const scored = labels ? centralCropXY(test, opts.maxVoxels ?? CALIBRATION_MAX_VOXELS) : centralCrop(test, opts.maxVoxels ?? CALIBRATION_MAX_VOXELS);
    // predicted around the scored box within the held-out half, so the smoothing sees real neighbours
    const cfg = model.meta.featureConfig;
    const grown = boxIntersect(boxGrow(scored, outputMargin(cfg, Math.max(...sigmas))), test);
    const prob = await predictBox(model, raw, grown, channel);
    const gs = boxShape(grown);
    const truth = labels
      ? interiorComponents((await gt.read(scored)).data as LabelArray, boxShape(scored), model.meta.labelValues.filter((v) => v !== opts.boundaryClass).map(Number))
      : (await gt.read(scored)).data as LabelArray;
    folds.push({
      shape: boxShape(scored),
      truth,
      map: (v) => {
        const p = Float32Array.from(prob);
        if (sigmas[v] > 0) smoothOutputs(p, gs, 1, cfg, sigmas[v]);
        return cropOf(p, grown, scored);
      },
    });
    where.push({ train: boxToString(fit), test: boxToString(scored) });
    progress.increment();
    progress.stop();
  }
  progress.start(1, 'segment calibration: seeds, smoothing and cut');
  const choice = chooseSegmentation(folds, sigmas, { sampling: raw.voxelSize, twoD, seeds: opts.seeds, perSection: labels });
  progress.increment();
  progress.stop();
  return { ...choice, outputSigma: choice.variant, folds: where };
}

/** The seeds of a choice as the model carries them (undefined: the default seeds, nothing to carry). */
export function seedsToCarry(c: SegmentCalibration): CarriedSeeds | undefined {
  return c.seeds === Object.keys(SEED_CANDIDATES)[0] ? undefined : c.carriedSeeds;
}

/** The region trainPixelClassifier trains on: raw ∩ labels ∩ bounds. */
function trainingRegion(raw: VolumeSource, gt: VolumeSource, bounds?: Box): Box {
  const r = boxIntersect(box(raw.offset, add(raw.offset, raw.shape)), box(gt.offset, add(gt.offset, gt.shape)));
  return bounds ? boxIntersect(r, bounds) : r;
}

function add(a: Vec3, b: Vec3): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

/** The values of `inner` out of `a` over `outer` (x fastest). */
function cropOf(a: Float32Array, outer: Box, inner: Box): Float32Array {
  const os = boxShape(outer);
  const is = boxShape(inner);
  const out = new Float32Array(is[0] * is[1] * is[2]);
  for (let z = 0, o = 0; z < is[2]; z++) {
    for (let y = 0; y < is[1]; y++, o += is[0]) {
      const s = inner.min[0] - outer.min[0] + os[0] * (inner.min[1] - outer.min[1] + y + os[1] * (inner.min[2] - outer.min[2] + z));
      out.set(a.subarray(s, s + is[0]), o);
    }
  }
  return out;
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

/**
 * Instance ground truth of membrane labels: the 4-connected components, per z section, of the voxels
 * labelled with one of `interior` (ids distinct per section; 0 = membrane or unlabelled, ignored by
 * the scores), as the seg-chain bench scores ISBI 2012 and vnc-sstem.
 */
export function interiorComponents(labels: LabelArray, shape: Vec3, interior: readonly number[]): Uint32Array {
  const [sx, sy, sz] = shape;
  const n = sx * sy;
  const keep = new Set(interior);
  const mask = new Uint8Array(n);
  const out = new Uint32Array(n * sz);
  let base = 0;
  for (let z = 0; z < sz; z++) {
    for (let i = 0; i < n; i++) mask[i] = keep.has(Number(labels[z * n + i])) ? 1 : 0;
    const c = connectedComponents(mask, [sx, sy, 1], { connectivity: 6 });
    for (let i = 0; i < n; i++) out[z * n + i] = c.labels[i] ? c.labels[i] + base : 0;
    base += c.count;
  }
  return out;
}

/** As centralCrop, shrinking x and y only (whole sections along z, for per-section folds). */
export function centralCropXY(b: Box, maxVoxels: number): Box {
  const s = [...boxShape(b)];
  while (s[0] * s[1] * s[2] > maxVoxels && Math.max(s[0], s[1]) > 1) {
    const a = s[0] >= s[1] ? 0 : 1;
    s[a] = Math.max(1, Math.floor(s[a] * 0.9));
  }
  const min = b.min.map((m, a) => m + Math.floor((b.max[a] - m - s[a]) / 2)) as unknown as Vec3;
  return box(min, add(min, s as unknown as Vec3));
}

/** Channel `channel` of the class probabilities over `target`, predicted block by block as `wiring predict` does (each block read with the feature margin, clipped at the volume). */
async function predictBox(model: PixelModel, raw: VolumeSource, target: Box, channel = 0): Promise<Float32Array> {
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
        const p = predictVolume(model, rawBlock, { box: b }) as Volume<'float32'>;
        const nv = boxVoxels(p.box);
        copyBox(p.channels === 1 ? p : new Volume('float32', p.box, p.data.subarray(channel * nv, (channel + 1) * nv), 1, p.voxelSize), out, b);
      }
    }
  }
  return out.data;
}
