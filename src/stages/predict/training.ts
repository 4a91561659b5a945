/**
 * Training a pixel classifier from a raw source and
 *  - target 'labels': a label volume; by default sparse (0 = unlabelled, each other value a class,
 *    e.g. scribbles), or `dense` (every value including 0 is a class);
 *  - target 'gt': a dense neuron segmentation; voxels at an interface between two different ids
 *    (6-neighbourhood in 3-D, 4-neighbourhood within the section in 2-D, `boundaryWidth` voxels
 *    on each side) and voxels with id 0 (unless zeroIs 'unlabelled') become class 1 (boundary),
 *    the rest class 0 (interior).
 * Samples: up to maxSamples, the same number from every class where available, drawn with a seeded
 * RNG; features are computed blockwise (with the exact context margin and the raw volume's own
 * borders), so a training voxel sees exactly the features prediction computes for it.
 */
import { type Box, type Vec3, box, boxIntersect, boxIsEmpty, boxShape, boxToString } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import { silentProgress } from '../../core/progress.js';
import { Volume } from '../../core/volume.js';
import type { VolumeSource } from '../../formats/source.js';
import { type ForestParams, makeRng } from '../../ml/forest.js';
import { trainForest } from '../../ml/forest-parallel.js';
import { type FeatureConfig, computeFeatures, featureConfig, featureCount, featureMargin, featureNames } from './features.js';
import { PixelModel, type PixelModelMeta } from './model.js';

export interface TrainOptions {
  target: 'labels' | 'gt';
  /** labels: every value (0 included) is a class. */
  dense?: boolean;
  /** gt: what id 0 means (default 'boundary'). */
  zeroIs?: 'boundary' | 'unlabelled';
  /** gt: boundary half-width in voxels (default 1: both voxels of an interface). */
  boundaryWidth?: number;
  featureConfig?: FeatureConfig;
  /** Total training samples (default 200000), split equally between classes. */
  maxSamples?: number;
  forest?: Partial<ForestParams>;
  threads?: number;
  /** Train only inside this box (global voxels), e.g. the training slices. */
  bounds?: Box;
  seed?: number;
  progress?: Progress;
}

export interface TrainReport {
  region: Box;
  classes: string[];
  labelledVoxels: number[];
  samplesPerClass: number[];
  features: number;
  trees: number;
  nodes: number;
  seconds: { features: number; training: number };
  importances: Array<{ feature: string; importance: number }>;
}

/** Copy any numeric volume to float32. */
export function toFloat32(v: Volume): Float32Array {
  if (v.dtype === 'uint64') throw new UsageError(`raw intensities are uint64; expected an image type (uint8, uint16, float32...)`);
  if (v.dtype === 'float32') return v.data as Float32Array;
  return Float32Array.from(v.data as ArrayLike<number>);
}

function labelValue(v: Volume, i: number): bigint {
  const x = v.data[i];
  return typeof x === 'bigint' ? x : BigInt(x);
}

/**
 * Per-voxel class (Int16, -1 = unlabelled) of a label volume and the label value of each class.
 */
export function classesFromLabels(labels: Volume, dense: boolean, where: string): { cls: Int16Array; values: string[] } {
  if (labels.dtype === 'float32') throw new UsageError('labels are float32; expected an integer label volume (uint8, uint16, uint32, uint64)', where);
  if (labels.channels !== 1) throw new UsageError(`labels have ${labels.channels} channels; expected one`, where);
  const n = labels.voxels;
  // distinct values, found with a last-value cache and a small sorted list (<= 255 classes)
  const values: bigint[] = [];
  const isBig = labels.dtype === 'uint64';
  const data = labels.data as ArrayLike<number | bigint>;
  let last: number | bigint | undefined;
  for (let i = 0; i < n; i++) {
    const x = data[i];
    if (x === last) continue;
    last = x;
    if (!dense && (isBig ? x === 0n : x === 0)) continue;
    const b = typeof x === 'bigint' ? x : BigInt(x);
    if (!values.includes(b)) {
      values.push(b);
      if (values.length > 255) {
        throw new UsageError(`more than 255 distinct label values: this looks like a segmentation, not class labels (use --gt for a neuron segmentation)`, where);
      }
    }
  }
  values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const cls = new Int16Array(n);
  last = undefined;
  let lastC = -1;
  for (let i = 0; i < n; i++) {
    const x = data[i];
    if (x !== last) {
      last = x;
      lastC = !dense && (isBig ? x === 0n : x === 0) ? -1 : values.indexOf(labelValue(labels, i));
    }
    cls[i] = lastC;
  }
  return { cls, values: values.map(String) };
}

/** Interior (0) / boundary (1) classes from a dense segmentation; -1 = unlabelled. */
export function classesFromSegmentation(
  seg: Volume,
  dims: 2 | 3,
  opts: { zeroIs?: 'boundary' | 'unlabelled'; width?: number } = {},
): Int16Array {
  const [sx, sy, sz] = seg.shape;
  const n = seg.voxels;
  const zeroBoundary = (opts.zeroIs ?? 'boundary') === 'boundary';
  const width = opts.width ?? 1;
  const d = seg.data as ArrayLike<number | bigint>;
  const zero = seg.dtype === 'uint64' ? 0n : 0;
  const cls = new Int16Array(n);
  const strides = dims === 3 ? [1, sx, sx * sy] : [1, sx];
  const sizes = [sx, sy, sz];
  for (let z = 0, i = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      for (let x = 0; x < sx; x++, i++) {
        const v = d[i];
        if (v === zero) {
          cls[i] = zeroBoundary ? 1 : -1;
          continue;
        }
        const pos = [x, y, z];
        let b = 0;
        for (let a = 0; a < strides.length && !b; a++) {
          for (let k = 1; k <= width && !b; k++) {
            if (pos[a] - k >= 0) {
              const u = d[i - k * strides[a]];
              if (u !== v && (u !== zero || zeroBoundary)) b = 1;
            }
            if (pos[a] + k < sizes[a]) {
              const u = d[i + k * strides[a]];
              if (u !== v && (u !== zero || zeroBoundary)) b = 1;
            }
          }
        }
        cls[i] = b;
      }
    }
  }
  return cls;
}

/** Choose up to `perClass` voxels of every class (seeded); returns sorted voxel indices and their classes. */
export function sampleVoxels(cls: Int16Array, nClasses: number, perClass: number, seed: number): { index: Int32Array; cls: Uint8Array; counts: number[]; labelled: number[] } {
  const labelled = new Array<number>(nClasses).fill(0);
  for (let i = 0; i < cls.length; i++) if (cls[i] >= 0) labelled[cls[i]]++;
  const lists = labelled.map((c) => new Int32Array(c));
  const fill = new Array<number>(nClasses).fill(0);
  for (let i = 0; i < cls.length; i++) if (cls[i] >= 0) lists[cls[i]][fill[cls[i]]++] = i;
  const rng = makeRng(seed, 0x5a3);
  const chosen: Int32Array[] = [];
  const counts: number[] = [];
  for (let k = 0; k < nClasses; k++) {
    const l = lists[k];
    const m = Math.min(perClass, l.length);
    for (let j = 0; j < m; j++) {
      const r = j + (rng() % (l.length - j));
      const t = l[r];
      l[r] = l[j];
      l[j] = t;
    }
    chosen.push(l.subarray(0, m));
    counts.push(m);
  }
  const total = counts.reduce((a, b) => a + b, 0);
  const index = new Int32Array(total);
  let o = 0;
  for (const c of chosen) {
    index.set(c, o);
    o += c.length;
  }
  index.sort();
  const out = new Uint8Array(total);
  for (let j = 0; j < total; j++) out[j] = cls[index[j]];
  return { index, cls: out, counts, labelled };
}

/**
 * Features (feature-major, x[f * n + j]) of the voxels `index` (linear in `region`), computed blockwise
 * with context from `raw` (clipped to the raw volume's bounds, as blockwise prediction does).
 */
export async function featuresAt(
  raw: VolumeSource,
  region: Box,
  index: Int32Array,
  cfg: FeatureConfig,
  opts: { blockShape?: Vec3; progress?: Progress } = {},
): Promise<Float32Array> {
  const n = index.length;
  const F = featureCount(cfg);
  const x = new Float32Array(n * F);
  if (n === 0) return x;
  const rs = boxShape(region);
  const bs = opts.blockShape ?? (cfg.dims === 2 ? [512, 512, 8] : [128, 128, 64]);
  const gx = Math.ceil(rs[0] / bs[0]), gy = Math.ceil(rs[1] / bs[1]);
  // block id of each sample, then process blocks in order
  const blockOf = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const i = index[j];
    const px = i % rs[0], py = Math.floor(i / rs[0]) % rs[1], pz = Math.floor(i / (rs[0] * rs[1]));
    blockOf[j] = Math.floor(px / bs[0]) + gx * (Math.floor(py / bs[1]) + gy * Math.floor(pz / bs[2]));
  }
  const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => blockOf[a] - blockOf[b] || a - b);
  const margin = featureMargin(cfg);
  const rawBox = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const blocks = new Set(blockOf).size;
  const progress = opts.progress ?? silentProgress;
  progress.start(blocks, 'training features');
  let p = 0;
  while (p < n) {
    const b = blockOf[order[p]];
    let q = p;
    while (q < n && blockOf[order[q]] === b) q++;
    const bx = b % gx, by = Math.floor(b / gx) % gy, bz = Math.floor(b / (gx * gy));
    const bmin: Vec3 = [region.min[0] + bx * bs[0], region.min[1] + by * bs[1], region.min[2] + bz * bs[2]];
    const blk = boxIntersect(box(bmin, [bmin[0] + bs[0], bmin[1] + bs[1], bmin[2] + bs[2]]), region);
    const rb = boxIntersect(box(
      [blk.min[0] - margin[0], blk.min[1] - margin[1], blk.min[2] - margin[2]],
      [blk.max[0] + margin[0], blk.max[1] + margin[1], blk.max[2] + margin[2]],
    ), rawBox);
    const rv = await raw.read(rb);
    if (rv.channels !== 1) throw new UsageError(`raw has ${rv.channels} channels; the pixel classifier needs one`, raw.url);
    const shape = rv.shape;
    const feats = computeFeatures(toFloat32(rv), shape, cfg);
    const nv = shape[0] * shape[1] * shape[2];
    for (let r = p; r < q; r++) {
      const j = order[r];
      const i = index[j];
      const gx_ = region.min[0] + (i % rs[0]) - rb.min[0];
      const gy_ = region.min[1] + (Math.floor(i / rs[0]) % rs[1]) - rb.min[1];
      const gz_ = region.min[2] + Math.floor(i / (rs[0] * rs[1])) - rb.min[2];
      const v = gx_ + shape[0] * (gy_ + shape[1] * gz_);
      for (let f = 0; f < F; f++) x[f * n + j] = feats[f * nv + v];
    }
    progress.increment();
    p = q;
  }
  progress.stop();
  return x;
}

/** Train a pixel classifier from sources. */
export async function trainPixelClassifier(
  raw: VolumeSource,
  labels: VolumeSource,
  opts: TrainOptions,
): Promise<{ model: PixelModel; report: TrainReport }> {
  if (raw.channels !== 1) throw new UsageError(`raw has ${raw.channels} channels; the pixel classifier needs one`, raw.url);
  if (raw.dtype === 'uint64') throw new UsageError('raw is uint64; expected an image (uint8, uint16, float32...)', raw.url);
  const rawBox = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const labBox = box(labels.offset, [labels.offset[0] + labels.shape[0], labels.offset[1] + labels.shape[1], labels.offset[2] + labels.shape[2]]);
  let region = boxIntersect(rawBox, labBox);
  if (opts.bounds) region = boxIntersect(region, opts.bounds);
  if (boxIsEmpty(region)) {
    throw new UsageError(`labels (${boxToString(labBox)}) do not overlap the raw volume (${boxToString(rawBox)})${opts.bounds ? ` within ${boxToString(opts.bounds)}` : ''}`, labels.url);
  }
  const cfg = opts.featureConfig ?? featureConfig(raw.voxelSize);
  const lab = await labels.read(region);
  let cls: Int16Array;
  let values: string[];
  if (opts.target === 'gt') {
    cls = classesFromSegmentation(lab, cfg.dims, { zeroIs: opts.zeroIs, width: opts.boundaryWidth });
    values = ['interior', 'boundary'];
  } else {
    ({ cls, values } = classesFromLabels(lab, !!opts.dense, labels.url));
  }
  const K = values.length;
  if (K === 0) throw new UsageError(`no labelled voxels in ${boxToString(region)} (0 means unlabelled; pass --dense if 0 is a class)`, labels.url);
  const maxSamples = opts.maxSamples ?? 200_000;
  const seed = opts.seed ?? opts.forest?.seed ?? 0;
  const s = sampleVoxels(cls, K, Math.max(1, Math.floor(maxSamples / K)), seed);
  const present = s.counts.filter((c) => c > 0).length;
  if (present < 2) {
    const which = s.counts.map((c, k) => `${values[k]}: ${c}`).join(', ');
    throw new UsageError(`need labelled voxels of at least two classes to train, found ${which}`, labels.url);
  }
  const t0 = performance.now();
  const x = await featuresAt(raw, region, s.index, cfg, { progress: opts.progress });
  const t1 = performance.now();
  const outputs = opts.target === 'gt' ? ['boundary'] : values.map((v) => `class_${v}`);
  const meta: PixelModelMeta = {
    kind: 'wiring-pixel-classifier',
    version: 1,
    featureConfig: cfg,
    featureNames: featureNames(cfg),
    target: opts.target,
    labelValues: values,
    outputs,
    rawDtype: raw.dtype,
    voxelSize: raw.voxelSize,
  };
  const forest = await trainForest(
    { x, nSamples: s.index.length, nFeatures: featureCount(cfg), layout: 'feature-major', y: s.cls, nClasses: K },
    { seed, ...opts.forest },
    meta as unknown as Record<string, unknown>,
    { threads: opts.threads },
  );
  const t2 = performance.now();
  const names = featureNames(cfg);
  const imp = forest.importances();
  const importances = names.map((feature, i) => ({ feature, importance: imp[i] })).sort((a, b) => b.importance - a.importance);
  return {
    model: new PixelModel(forest, meta),
    report: {
      region,
      classes: values,
      labelledVoxels: s.labelled,
      samplesPerClass: s.counts,
      features: names.length,
      trees: forest.nTrees,
      nodes: forest.nNodes,
      seconds: { features: (t1 - t0) / 1000, training: (t2 - t1) / 1000 },
      importances,
    },
  };
}

/** A VolumeSource over a Volume in memory (tests, whole-volume paths). */
export function memorySource(v: Volume, url = 'memory'): VolumeSource {
  return {
    url,
    format: 'memory',
    dtype: v.dtype,
    shape: v.shape,
    channels: v.channels,
    voxelSize: v.voxelSize,
    offset: v.box.min,
    chunkShape: v.shape,
    async read(b: Box): Promise<Volume> {
      return v.crop(b);
    },
    async close(): Promise<void> {},
  };
}
