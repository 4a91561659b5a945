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
import { type Box, type Vec3, box, boxIntersect, boxIsEmpty, boxShape, boxToString, boxVoxels } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import { silentProgress } from '../../core/progress.js';
import { Volume } from '../../core/volume.js';
import type { VolumeSource } from '../../formats/source.js';
import { type Forest, type ForestParams, makeRng } from '../../ml/forest.js';
import { type CrossFitInput, outOfFoldMap, trainContextRounds } from './auto-context.js';
import { MAX_OUTPUT_SIGMA, chooseOutputSigma, smoothOutputs } from './output-smoothing.js';
import { MAX_CONTEXT_ROUNDS } from './context.js';
import { type EdgeBand, checkEdgeBand, edgeBandHalo, edgeBandIds } from './edge-band.js';
import { type Calibration, fitIsotonic } from './calibration.js';
import { trainForest } from '../../ml/forest-parallel.js';
import { type FeatureConfig, type FeatureName, type SteOuter, computeFeatures, featureConfig, featureCount, featureMargin, featureNames } from './features.js';
import { PixelModel, type PixelModelMeta, type RawStats } from './model.js';
import { quantilesOf, sampleIntensities } from './normalize.js';

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
  /**
   * The forest's size (PIXEL_FOREST_SIZES; 'auto': by the model's kind, boundaryModel), under what
   * `forest` sets. Default: none (`forest` alone, the forest library's defaults for the rest).
   */
  forestSize?: 'auto' | PixelForestSize;
  threads?: number;
  /** Train only inside this box (global voxels), e.g. the training slices. */
  bounds?: Box;
  /** labels: exactly these label values are classes, in this order (others unlabelled), e.g. ['0', '255']. */
  classes?: string[];
  /** Voxels per label block read while scanning the labels (default 2^23; bounds memory). */
  labelBlockVoxels?: number;
  seed?: number;
  progress?: Progress;
  /**
   * Auto-context (context.ts, auto-context.ts): also train a second forest on the pixel features
   * plus the context of the first forest's out-of-fold map; the model predicts with both.
   */
  autoContext?: boolean;
  /** Auto-context rounds (default 1): round r's forest learns from the out-of-fold map of round r-1's. */
  contextRounds?: number;
  /**
   * Output smoothing (output-smoothing.ts; meta.outputSigma): predict smooths the class
   * probabilities at this scale in voxels (default 0: none); the cross-fitted maps that calibration
   * and object rules are fitted on are smoothed the same way. 'auto': chosen among
   * OUTPUT_SIGMA_CANDIDATES on an out-of-fold map of the training region (chooseOutputSigma; the
   * map of the cross-fitting when there is one, else one computed for it: two half-region forests
   * more, and K x region float32 of memory), 0 where no scale helps there. 'boundary': 'auto' for
   * boundary models (--gt, or two classes), 0 for models of more classes (`train-pixels`' default:
   * docs/ACCURACY.md "Output smoothing chosen out of fold" says why).
   */
  outputSigma?: number | 'auto' | 'boundary';
  /**
   * labels models: fit a calibration of the outputs on out-of-fold maps of the training region
   * (meta.calibration; applied by predict on request) and return those maps (to choose object rules on). 'auto' (default): when at least
   * CROSS_FIT_MIN_LABELLED of the region is labelled (object scores need dense labels).
   */
  crossFit?: boolean | 'auto';
  /**
   * Edge-band sampling (edge-band.ts): labelled voxels within `width` voxels of another class are
   * sampled at `keep` times the rate of the rest of their class (0: left out), or the rest at `outside`. Default: none.
   */
  edgeBand?: EdgeBand;
  /**
   * With `edgeBand` and auto-context: false draws the context forests' samples without the band (the
   * band weights the first forest only; its out-of-fold map is still the band-weighted forest's).
   * Default true: every forest learns from the same band-weighted samples.
   */
  contextEdgeBand?: boolean;
  /** Auto-context: the features of the first forest's map the context forests see (default CONTEXT_FEATURES, context.ts; e.g. with 'LINE' for oriented context). */
  contextFeatures?: FeatureName[];
}

/** Bootstrap schemes of `train-pixels --bootstrap` (PIXEL_TRAINING_DEFAULTS.bootstrap). */
export const PIXEL_BOOTSTRAPS = ['balanced', 'plain'] as const;
export type PixelBootstrap = (typeof PIXEL_BOOTSTRAPS)[number];

/** The forest's `balanced` flag of a bootstrap scheme; a UsageError naming the schemes for any other. */
export function bootstrapBalanced(scheme: string): boolean {
  if (!(PIXEL_BOOTSTRAPS as readonly string[]).includes(scheme)) throw new UsageError(`--bootstrap: expected ${PIXEL_BOOTSTRAPS.join(' or ')}, got ${JSON.stringify(scheme)}`);
  return scheme === 'balanced';
}

/** Fraction of the training region that must be labelled for the automatic cross-fitting. */
export const CROSS_FIT_MIN_LABELLED = 0.9;

/**
 * Forest sizes of `wiring train-pixels --forest` (PIXEL_TRAINING_DEFAULTS.forest chooses among them by
 * the model's kind; --trees / --max-depth override either number). 'full': 100 trees of unlimited depth
 * (maxDepth 0), the default of --labels models (organelles, clefts, membranes): depth-limited trees gave
 * the demo's rare classes lower probabilities than its cleft rules expect (partner F1 0.600 -> 0.286 at
 * depth 12, docs/THROUGHPUT.md "Predict, fourth pass"), and the ISBI membrane pair's VOI rose 0.07.
 * 'boundary': 64 trees of depth 12, the default of --gt models, chosen on ISBI 2012 slices 0-9 -> 10-14
 * (the cheapest size with no AUC loss there) and measured on gala-medulla (x and z halves: AUC and
 * segmentation VOI), vnc-sstem -> ISBI and the phantom (docs/THROUGHPUT.md "A smaller forest for
 * boundary models").
 */
export const PIXEL_FOREST_SIZES = {
  full: { trees: 100, maxDepth: 0 },
  boundary: { trees: 64, maxDepth: 12 },
} as const;
export type PixelForestSize = keyof typeof PIXEL_FOREST_SIZES;
/** `--forest` values: a size, or 'auto' (by the model's kind: boundaryModel). */
export const PIXEL_FOREST_CHOICES = ['auto', ...Object.keys(PIXEL_FOREST_SIZES)] as Array<'auto' | PixelForestSize>;

/** `--forest <v>` checked: a size or 'auto'; a UsageError naming them for anything else. */
export function pixelForestChoice(v: string): 'auto' | PixelForestSize {
  if (!(PIXEL_FOREST_CHOICES as string[]).includes(v)) throw new UsageError(`--forest: expected ${PIXEL_FOREST_CHOICES.join(', ')}, got ${JSON.stringify(v)}`);
  return v as 'auto' | PixelForestSize;
}

/**
 * A model that gets the boundary forest under --forest auto: a --gt model (boundary / interior of a
 * neuron segmentation). Two-class --labels models (membrane / interior, or one organelle against the
 * rest) keep the full forest: on the seg-chain bench's ISBI pair the boundary forest raised VOI by
 * 0.07 (docs/THROUGHPUT.md "A smaller forest for boundary models").
 */
export function boundaryModel(target: TrainOptions['target']): boolean {
  return target === 'gt';
}

/**
 * The forest parameters a model trains with: `forest` (what the caller set, undefined entries aside; it
 * wins) over the size `size` names ('auto': 'boundary' for a --gt model, else 'full'); maxDepth 0
 * means unlimited. No size: `forest` alone, as given.
 */
export function forestParamsOf(size: 'auto' | PixelForestSize | undefined, target: TrainOptions['target'], forest: Partial<ForestParams> = {}): { params: Partial<ForestParams>; size?: PixelForestSize } {
  if (size === undefined) return { params: forest };
  const choice = pixelForestChoice(size);
  const chosen: PixelForestSize = choice === 'auto' ? (boundaryModel(target) ? 'boundary' : 'full') : choice;
  const { trees, maxDepth } = PIXEL_FOREST_SIZES[chosen];
  const params: Partial<ForestParams> = { nTrees: trees, maxDepth };
  for (const [k, v] of Object.entries(forest)) if (v !== undefined) (params as Record<string, unknown>)[k] = v;
  if (params.maxDepth === 0) delete params.maxDepth; // 0: unlimited (the forest's default)
  return { params, size: chosen };
}

/**
 * `wiring train-pixels` defaults (its --help reads them). The forest's size by the model's kind
 * (`forest`, PIXEL_FOREST_SIZES): --gt models 64 trees of depth 12, --labels models 100 trees of
 * unlimited depth. `npm run bench forest-curve` found 32 trees of depth 12 within 0.002 AUC of the best,
 * chosen on ISBI 2012 and measured on gala-medulla; against 100 unlimited trees on the held-out splits
 * (`npm run bench forest-defaults`, docs/THROUGHPUT.md "Predict, fourth pass") 32 / 12 falls 0.0013 AUC
 * on gala and 64 / 12 stays within 0.001 everywhere at 2.9x less predict CPU; for every kind of model
 * it lowered the demo's partner F1 (its cleft forest), hence the --gt models only.
 */
export const PIXEL_TRAINING_DEFAULTS = {
  /** forest size (--forest): 'auto' = PIXEL_FOREST_SIZES.boundary for --gt models (boundaryModel), .full for --labels models */
  forest: 'auto' as 'auto' | PixelForestSize,
  minLeaf: 1,
  /**
   * How each tree draws its bootstrap from the (class-balanced) training samples (--bootstrap): 'balanced'
   * round(n / K) samples of every class with replacement (a class short of its share of the samples,
   * e.g. the clefts, is repeated to fill it); 'plain' n samples from all of them, as scikit-learn does.
   * docs/ACCURACY.md "The cleft AUC gap": where it was chosen and measured.
   */
  bootstrap: 'balanced' as PixelBootstrap,
  /** the structure tensor's outer scale (--ste-outer; features.ts `steOuter`): half (0.5 s, gradients at s) or sigma (s, gradients at 0.5 s) */
  steOuter: 'half' as SteOuter,
  samples: 200_000,
  sigmas: '0.7,1.6,3.5,5',
  seed: 0,
  /** auto-context (--auto-context / --no-auto-context); docs/ACCURACY.md "Auto-context as the default" */
  autoContext: false as boolean,
  /** auto-context rounds (--context-rounds) */
  contextRounds: 1,
  /** label-edge voxels' sampling weight (--edge-weight; edge-band.ts: 1 = as the rest) and the band's half-width (--edge-width, voxels) */
  edgeWeight: 1,
  edgeWidth: 1,
  /** output smoothing scale, voxels; 'auto': chosen out of fold; 'boundary': auto for --gt and two-class models, 0 for more classes (--smooth-output; docs/ACCURACY.md "Output smoothing chosen out of fold") */
  outputSigma: 'boundary' as number | 'auto' | 'boundary',
};

/**
 * Named settings for one kind of data (`train-pixels --preset <name>`): each sets some of the options
 * above and `--features`; a flag given on the command line wins over the preset. Every preset says
 * where it was chosen and where it was measured (docs/ACCURACY.md).
 */
export const PIXEL_TRAINING_PRESETS = {
  /**
   * Membrane (boundary) maps of serial-section TEM, 2-D features per section: auto-context, the
   * default sigmas plus 10, the oriented line filters (LINE). Chosen on ISBI 2012 slices 0-4 -> 5-9;
   * held out on ISBI 10-14 (same stack) at the default forest size: pixel AUC 0.9618 (the defaults
   * 0.9467, a scikit-learn forest on the same sigmas 0.9537); from vnc-sstem to ISBI 10-14 (another
   * volume): 0.9365, 0.9503 with --normalize auto (the defaults 0.9334). About 7x the defaults' training time and 10-15x
   * their feature time at predict (docs/ACCURACY.md "The ssTEM membrane preset").
   */
  'sstem-membranes': {
    autoContext: true,
    sigmas: '0.7,1.6,3.5,5,10',
    features: 'G,GGM,LoG,DoG,STE,HoGE,LINE',
  },
  /**
   * Synapse classes (cleft, vesicle cloud, ...) of a `--labels` model on anisotropic EM, 2-D features per
   * section: the default sigmas and features plus the oriented line filters (LINE), one forest. Chosen on the
   * phantom (trained on seed 2, measured on seed 4: partner F1 0.500 -> 0.529 with LINE, sigma 10 lost);
   * measured on seed 4 -> 2: cleft AUC 0.975 -> 0.979, cleft object F1 0.518 -> 0.576, partner F1 0.487 -> 0.527
   * (true segmentation). Opt-in: one held-out direction, the demo not measured with it. About 10x the defaults'
   * feature CPU at predict, 6.3x `wiring predict`'s CPU (docs/ACCURACY.md "LINE and sigma 10 on the cleft class").
   */
  'sstem-synapses': {
    features: 'G,GGM,LoG,DoG,STE,HoGE,LINE',
  },
} as const satisfies Record<string, { autoContext?: boolean; sigmas?: string; features?: string }>;

export type PixelTrainingPreset = keyof typeof PIXEL_TRAINING_PRESETS;

/** The preset called `name`, or a UsageError naming the presets there are. */
export function pixelTrainingPreset(name: string): (typeof PIXEL_TRAINING_PRESETS)[PixelTrainingPreset] {
  if (!Object.hasOwn(PIXEL_TRAINING_PRESETS, name)) {
    throw new UsageError(`--preset: unknown preset ${JSON.stringify(name)}; the presets are ${Object.keys(PIXEL_TRAINING_PRESETS).join(', ')}`);
  }
  return PIXEL_TRAINING_PRESETS[name as PixelTrainingPreset];
}

/** Out-of-fold maps of the training region (per class) and its classes. */
export interface CrossFitResult {
  region: Box;
  /** per class: out-of-fold forest probability over the region (not calibrated: rules chosen on it apply to `wiring predict`'s default maps) */
  maps: Float32Array[];
  /** class of every voxel of the region, -1 = unlabelled */
  classes: Int16Array;
  /** the two halves each map half was predicted from the other */
  halves: [Box, Box];
}

export interface TrainReport {
  region: Box;
  classes: string[];
  labelledVoxels: number[];
  samplesPerClass: number[];
  features: number;
  trees: number;
  /** the size the forest was trained at (TrainOptions.forestSize resolved) and its depth limit (0: none); absent without forestSize */
  forestSize?: PixelForestSize;
  maxDepth?: number;
  nodes: number;
  seconds: { features: number; training: number };
  importances: Array<{ feature: string; importance: number }>;
  /** Things the user should know (labels that look dense with 0 unlabelled, ...). */
  warnings: string[];
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
  const strides = [1, sx, sx * sy];
  const sizes = [sx, sy, sz];
  const nAxes = dims === 3 ? 3 : 2;
  for (let z = 0, i = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      for (let x = 0; x < sx; x++, i++) {
        const v = d[i];
        if (v === zero) {
          cls[i] = zeroBoundary ? 1 : -1;
          continue;
        }
        let b = 0;
        for (let a = 0; a < nAxes && !b; a++) {
          const p = a === 0 ? x : a === 1 ? y : z;
          const st = strides[a], size = sizes[a];
          for (let k = 1; k <= width && !b; k++) {
            if (p - k >= 0) {
              const u = d[i - k * st];
              if (u !== v && (u !== zero || zeroBoundary)) b = 1;
            }
            if (p + k < size) {
              const u = d[i + k * st];
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
/**
 * Move a uniform random choice of min(m, length) items of `l` to its front (a partial
 * Fisher-Yates shuffle, drawing from `rng`); returns how many.
 */
export function shufflePrefix<T>(l: { length: number; [i: number]: T }, m: number, rng: () => number): number {
  const n = Math.min(m, l.length);
  for (let j = 0; j < n; j++) {
    const r = j + (rng() % (l.length - j));
    const t = l[r];
    l[r] = l[j];
    l[j] = t;
  }
  return n;
}

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
    const m = shufflePrefix(l, perClass, rng);
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
  index: Int32Array | Float64Array,
  cfg: FeatureConfig,
  opts: { blockShape?: Vec3; progress?: Progress; rawOut?: Float32Array } = {},
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
    assertFinite(rv, raw.url);
    const shape = rv.shape;
    const rf = toFloat32(rv);
    const feats = computeFeatures(rf, shape, cfg);
    const nv = shape[0] * shape[1] * shape[2];
    for (let r = p; r < q; r++) {
      const j = order[r];
      const i = index[j];
      const gx_ = region.min[0] + (i % rs[0]) - rb.min[0];
      const gy_ = region.min[1] + (Math.floor(i / rs[0]) % rs[1]) - rb.min[1];
      const gz_ = region.min[2] + Math.floor(i / (rs[0] * rs[1])) - rb.min[2];
      const v = gx_ + shape[0] * (gy_ + shape[1] * gz_);
      for (let f = 0; f < F; f++) x[f * n + j] = feats[f * nv + v];
      if (opts.rawOut) opts.rawOut[j] = rf[v];
    }
    progress.increment();
    p = q;
  }
  progress.stop();
  return x;
}

/** Throw a UsageError naming the first non-finite voxel of a float volume (global [x, y, z]). */
export function assertFinite(v: Volume, where?: string): void {
  if (v.dtype !== 'float32') return;
  const d = v.data as Float32Array;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      const n = v.voxels;
      const j = i % n;
      const [sx, sy] = v.shape;
      const p = [v.box.min[0] + (j % sx), v.box.min[1] + (Math.floor(j / sx) % sy), v.box.min[2] + Math.floor(j / (sx * sy))];
      throw new UsageError(`raw voxel [${p.join(',')}] is ${d[i]}; the pixel classifier needs finite intensities (replace NaN/Inf, e.g. by 0, before training or prediction)`, where);
    }
  }
}

export function rawStats(values: ArrayLike<number>): RawStats | undefined {
  if (values.length === 0) return undefined;
  const s = Float64Array.from(values).sort();
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p1: at(0.01), p50: at(0.5), p99: at(0.99) };
}

/**
 * Does raw with intensities `now` look like the training raw (`train`)? Returns a warning text when
 * the median moved by more than the training 1-99 percentile span, or the span changed by more than 3x.
 */
export function intensityMismatch(train: RawStats, now: RawStats): string | undefined {
  const span = Math.max(train.p99 - train.p1, 1e-12);
  const nspan = Math.max(now.p99 - now.p1, 1e-12);
  const ratio = nspan / span;
  if (Math.abs(now.p50 - train.p50) <= span && ratio <= 3 && ratio >= 1 / 3) return undefined;
  const f = (v: number): string => (Math.abs(v) >= 100 || v === Math.round(v) ? v.toFixed(0) : v.toPrecision(3));
  return `raw intensities (1-99 percentiles ${f(now.p1)}..${f(now.p99)}, median ${f(now.p50)}) differ from the training raw's (${f(train.p1)}..${f(train.p99)}, median ${f(train.p50)}); the forest compares intensities directly, so rescale the data like the training data or retrain on it`;
}

/** 2 (per section) or 3-D features for raw of this voxel size whose training region has `zExtent` sections. */
export function defaultDims(voxelSize: Vec3, zExtent: number): 2 | 3 {
  if (zExtent <= 1) return 2;
  return featureConfig(voxelSize).dims;
}

/** Maps label values to class ids block by block: first-seen order, or the order of an explicit list. */
class LabelMapper {
  readonly values: bigint[] = [];
  readonly explicit: boolean;
  /** Voxels with value 0 left unlabelled (sparse mode). */
  zeros = 0;
  constructor(
    readonly dense: boolean,
    classes: string[] | undefined,
    readonly where: string,
  ) {
    this.explicit = !!classes;
    for (const c of classes ?? []) {
      let b: bigint;
      try {
        b = BigInt(c.trim());
      } catch {
        throw new UsageError(`--classes: ${JSON.stringify(c)} is not a whole-number label value`);
      }
      if (b < 0n) throw new UsageError(`--classes: label values are >= 0, got ${c}`);
      if (this.values.includes(b)) throw new UsageError(`--classes: value ${c} is listed twice`);
      this.values.push(b);
    }
    if (this.explicit && (this.values.length < 2 || this.values.length > 255)) {
      throw new UsageError(`--classes: list 2..255 label values, got ${this.values.length}`);
    }
  }

  map(lab: Volume, out: Int16Array): void {
    if (lab.dtype === 'float32') {
      throw new UsageError(`labels are ${lab.dtype}; expected an integer label volume (uint8, uint16, uint32, uint64)`, this.where);
    }
    if (lab.channels !== 1) throw new UsageError(`labels have ${lab.channels} channels; expected one`, this.where);
    const data = lab.data as ArrayLike<number | bigint>;
    const n = lab.voxels;
    let last: number | bigint | undefined;
    let id = -1;
    let zero = false;
    for (let i = 0; i < n; i++) {
      const x = data[i];
      if (x !== last) {
        last = x;
        const b = typeof x === 'bigint' ? x : BigInt(x);
        zero = b === 0n;
        if (this.explicit) id = this.values.indexOf(b);
        else if (!this.dense && zero) id = -1;
        else {
          id = this.values.indexOf(b);
          if (id < 0) {
            if (this.values.length >= 255) {
              throw new UsageError('more than 255 distinct label values: this looks like a segmentation, not class labels (use --gt for a neuron segmentation)', this.where);
            }
            id = this.values.push(b) - 1;
          }
        }
      }
      out[i] = id;
      if (zero && id < 0) this.zeros++;
    }
  }

  /** Class index of each id (sorted by value unless explicit) and the class values. */
  order(): { perm: Int16Array; values: string[] } {
    const ids = this.values.map((_, i) => i);
    if (!this.explicit) ids.sort((a, b) => (this.values[a] < this.values[b] ? -1 : this.values[a] > this.values[b] ? 1 : 0));
    const perm = new Int16Array(Math.max(1, this.values.length));
    ids.forEach((id, k) => (perm[id] = k));
    return { perm, values: ids.map((id) => String(this.values[id])) };
  }
}

/** Label blocks tiling `region` (bounded memory: about 8M voxels each). */
function labelBlocks(region: Box, budget: number): Box[] {
  const rs = boxShape(region);
  const side = Math.max(1, Math.min(1024, Math.floor(Math.sqrt(budget))));
  const bx = Math.min(rs[0], side), by = Math.min(rs[1], side);
  const bz = Math.max(1, Math.min(rs[2], Math.floor(budget / (bx * by))));
  const out: Box[] = [];
  for (let z = region.min[2]; z < region.max[2]; z += bz) {
    for (let y = region.min[1]; y < region.max[1]; y += by) {
      for (let x = region.min[0]; x < region.max[0]; x += bx) {
        out.push(boxIntersect(box([x, y, z], [x + bx, y + by, z + bz]), region));
      }
    }
  }
  return out;
}

/** Uniform double in [0, 1) with 53 random bits. */
function uniform(rng: () => number): number {
  return (rng() + (rng() >>> 11) / 2097152) / 4294967296;
}

/** m distinct ranks out of [0, count), sorted (Floyd's algorithm; O(m)). */
function chooseRanks(rng: () => number, count: number, m: number): Float64Array {
  const chosen = new Set<number>();
  for (let j = count - m; j < count; j++) {
    const t = Math.floor(uniform(rng) * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return Float64Array.from(chosen).sort();
}

/**
 * The region to train on (raw and labels overlap, within opts.bounds), after the checks on the
 * inputs (channels, dtypes, option combinations, voxel grids); a warning when the extents differ.
 */
function trainingRegion(raw: VolumeSource, labels: VolumeSource, opts: TrainOptions): { region: Box; rawBox: Box; labBox: Box; warnings: string[] } {
  if (raw.channels !== 1) throw new UsageError(`raw has ${raw.channels} channels; the pixel classifier needs one (pick one with ?channel=N)`, raw.url);
  if (raw.dtype === 'uint64') throw new UsageError('raw is uint64; expected an image (uint8, uint16, float32...)', raw.url);
  if (opts.classes && opts.target !== 'labels') throw new UsageError('--classes applies to --labels, not --gt');
  if (opts.classes && opts.dense) throw new UsageError('give --dense or --classes, not both (--classes lists the label values that are classes)');
  const rawBox = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const labBox = box(labels.offset, [labels.offset[0] + labels.shape[0], labels.offset[1] + labels.shape[1], labels.offset[2] + labels.shape[2]]);
  let region = boxIntersect(rawBox, labBox);
  if (opts.bounds) region = boxIntersect(region, opts.bounds);
  if (boxIsEmpty(region)) {
    throw new UsageError(`labels (${boxToString(labBox)}) do not overlap the raw volume (${boxToString(rawBox)})${opts.bounds ? ` within ${boxToString(opts.bounds)}` : ''}`, labels.url);
  }
  const warnings: string[] = [];
  const lv = labels.voxelSize, rv = raw.voxelSize;
  if (!lv.every((v) => v === 1) && lv.some((v, a) => Math.abs(v - rv[a]) > 0.01 * rv[a])) {
    throw new UsageError(`labels have voxels of [${lv}] nm but the raw has [${rv}] nm: labels must be on the raw's voxel grid (same resolution; offsets may differ)`, labels.url);
  }
  if (labels.shape.some((v, a) => v !== raw.shape[a]) || labels.offset.some((v, a) => v !== raw.offset[a])) {
    warnings.push(`labels (${boxToString(labBox)}) and raw (${boxToString(rawBox)}) differ in extent: training on their overlap ${boxToString(region)}`);
  }
  if (labels.channels !== 1) throw new UsageError(`labels have ${labels.channels} channels; expected one (pick one with ?channel=N)`, labels.url);
  return { region, rawBox, labBox, warnings };
}

/** The label counts of pass 1 checked: labelled voxels of at least two classes, every listed class present; a warning for dense-looking labels read as sparse. */
function checkLabelCounts(url: string, region: Box, opts: TrainOptions, values: string[], labelled: number[], zeros: number, warnings: string[]): void {
  const K = values.length;
  const total = boxVoxels(region);
  const nLabelled = labelled.reduce((a, b) => a + b, 0);
  const hint0 = 'if 0 is a class (ISBI 2012 labels: 0 = membrane, 255 = interior) pass --dense or --classes 0,255';
  if (K === 0 || nLabelled === 0) {
    throw new UsageError(
      opts.target === 'gt'
        ? `no labelled voxels in ${boxToString(region)}: the segmentation is all 0 and --zero-is unlabelled`
        : `no labelled voxels in ${boxToString(region)} (0 means unlabelled${zeros > 0 ? `; ${hint0}` : '; pass --dense if 0 is a class'})`,
      url,
    );
  }
  if (opts.target === 'labels' && opts.classes) {
    const missing = values.filter((_, k) => labelled[k] === 0);
    if (missing.length) throw new UsageError(`--classes ${values.join(',')}: value(s) ${missing.join(',')} do not occur in ${boxToString(region)}`, url);
  }
  if (opts.target === 'labels' && !opts.dense && !opts.classes && zeros >= 0.01 * total && nLabelled >= 0.5 * total) {
    warnings.push(`labels look dense (${((100 * nLabelled) / total).toFixed(1)}% labelled) but value 0 (${((100 * zeros) / total).toFixed(1)}% of voxels) is read as "unlabelled" and not learned; ${hint0}`);
  }
  const present = labelled.filter((c) => c > 0).length;
  if (present < 2) {
    const which = values.map((v, k) => `${v}: ${labelled[k]} voxels`).join(', ');
    let hint = '';
    if (opts.target === 'labels' && !opts.dense && zeros > 0) hint = `; value 0 (${zeros} voxels) is unlabelled: ${hint0}`;
    else if (opts.target === 'labels' && opts.dense) hint = '; a dense label image needs at least two different values';
    else if (opts.target === 'gt') hint = '; the segmentation has no interfaces between ids here (one id only?)';
    throw new UsageError(`need labelled voxels of at least two classes to train, found ${which}${hint}`, url);
  }
}

/** The class of every voxel of the region (-1 unlabelled), read block by block: what the out-of-fold maps are calibrated and their object rules chosen on. */
async function regionClasses(region: Box, blocks: Box[], blockIds: (b: Box) => Promise<Int16Array>, perm: Int16Array): Promise<Int16Array> {
  const rsz = boxShape(region);
  const cls = new Int16Array(boxVoxels(region));
  for (const b of blocks) {
    const ids = await blockIds(b);
    const bs = boxShape(b);
    for (let z = 0, i = 0; z < bs[2]; z++) {
      for (let yy = 0; yy < bs[1]; yy++) {
        const d = b.min[0] - region.min[0] + rsz[0] * (b.min[1] - region.min[1] + yy + rsz[1] * (b.min[2] - region.min[2] + z));
        for (let xx = 0; xx < bs[0]; xx++, i++) cls[d + xx] = ids[i] < 0 ? -1 : perm[ids[i]];
      }
    }
  }
  return cls;
}

/** Per class, its channel of a class-major out-of-fold map and the isotonic calibration of "is this class" fitted on it. */
function calibrateClasses(map: Float32Array, cls: Int16Array, K: number): { maps: Float32Array[]; calibration: Calibration[] } {
  const total = cls.length;
  const maps: Float32Array[] = [];
  const calibration: Calibration[] = [];
  for (let k = 0; k < K; k++) {
    const m = map.subarray(k * total, (k + 1) * total);
    calibration.push(fitIsotonic(m, (i) => (cls[i] < 0 ? -1 : cls[i] === k ? 1 : 0)));
    maps.push(m);
  }
  return { maps, calibration };
}

interface SampleInput {
  region: Box;
  blocks: Box[];
  /** per block, MAXK counts of each class id */
  blockCounts: Float64Array;
  MAXK: number;
  /** voxels of each class id (length K) */
  labelledById: number[];
  /** class id -> class index */
  perm: Int16Array;
  blockIds: (b: Box) => Promise<Int16Array>;
  progress: Progress;
  seed: number;
  maxSamples: number;
}

/**
 * The same number of samples of every class (maxSamples / K, or all its voxels), uniformly among
 * its voxels with a seeded choice of ranks, read block by block (blocks holding no chosen voxel are
 * skipped): region-linear voxel indices and their class indices.
 */
async function sampleLabelled(inp: SampleInput): Promise<{ index: Float64Array; y: Uint8Array; nSamples: number; samplesPerClass: number[] }> {
  const { region, blocks, blockCounts, MAXK, labelledById, perm, blockIds, progress, seed, maxSamples } = inp;
  const K = labelledById.length;
  const rs = boxShape(region);
  const perClass = Math.max(1, Math.floor(maxSamples / K));
  const rng = makeRng(seed, 0x5a3);
  const wanted: (Float64Array | null)[] = [];
  const perId = new Int32Array(K);
  for (let id = 0; id < K; id++) {
    const c = labelledById[id];
    const m = Math.min(perClass, c);
    perId[id] = m;
    wanted.push(m === c ? null : chooseRanks(rng, c, m));
  }
  const nSamples = perId.reduce((a, b) => a + b, 0);
  const index = new Float64Array(nSamples);
  const y = new Uint8Array(nSamples);
  const seen = new Float64Array(K);
  const ptr = new Int32Array(K);
  let ns = 0;
  progress.start(blocks.length, 'sampling labels');
  for (let bi = 0; bi < blocks.length; bi++) {
    const base = bi * MAXK;
    // skip blocks that hold no chosen voxel
    let any = false;
    for (let id = 0; id < K && !any; id++) {
      const c = blockCounts[base + id];
      if (c === 0 || ptr[id] >= perId[id]) continue;
      const w = wanted[id];
      any = !w || w[ptr[id]] < seen[id] + c;
    }
    if (!any) {
      for (let id = 0; id < K; id++) seen[id] += blockCounts[base + id];
      progress.increment();
      continue;
    }
    const b = blocks[bi];
    const ids = await blockIds(b);
    const bs = boxShape(b);
    const ox = b.min[0] - region.min[0], oy = b.min[1] - region.min[1], oz = b.min[2] - region.min[2];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < 0) continue;
      const w = wanted[id];
      if (ptr[id] < perId[id] && (!w || w[ptr[id]] === seen[id])) {
        const x = i % bs[0], yy = Math.floor(i / bs[0]) % bs[1], z = Math.floor(i / (bs[0] * bs[1]));
        index[ns] = ox + x + rs[0] * (oy + yy + rs[1] * (oz + z));
        y[ns++] = perm[id];
        ptr[id]++;
      }
      seen[id]++;
    }
    progress.increment();
  }
  progress.stop();
  if (ns !== nSamples) throw new Error(`internal: sampled ${ns} of ${nSamples} voxels (labels changed while reading?)`);
  const samplesPerClass = new Array<number>(K).fill(0);
  for (let id = 0; id < K; id++) samplesPerClass[perm[id]] = perId[id];
  return { index, y, nSamples, samplesPerClass };

}

/** Train a pixel classifier from sources. Labels are read blockwise (memory bounded by the block size and the sample count). */
export async function trainPixelClassifier(
  raw: VolumeSource,
  labels: VolumeSource,
  opts: TrainOptions,
): Promise<{ model: PixelModel; report: TrainReport; crossFit?: CrossFitResult }> {
  const { region, rawBox, labBox, warnings } = trainingRegion(raw, labels, opts);
  const rs = boxShape(region);
  const cfg = opts.featureConfig ?? featureConfig(raw.voxelSize, { dims: defaultDims(raw.voxelSize, rs[2]) });
  if (cfg.dims === 3 && rs[2] < 2 * featureMargin(cfg)[2] + 1 && rawBox.max[2] - rawBox.min[2] < 2 * featureMargin(cfg)[2] + 1) {
    warnings.push(`3-D features on a volume of only ${raw.shape[2]} sections: most of the z context is mirrored; pass --dims 2 (or the real --voxel-size) if the sections are thicker than the pixels`);
  }
  const mapper = new LabelMapper(!!opts.dense, opts.classes, labels.url);
  const blocks = labelBlocks(region, opts.labelBlockVoxels ?? 1 << 23);
  const halo = opts.target === 'gt' ? (opts.boundaryWidth ?? 1) : 0;
  // per-block class ids (gt: 0 interior, 1 boundary; labels: mapper ids)
  const blockIds = async (b: Box): Promise<Int16Array> => {
    const shape = boxShape(b);
    const ids = new Int16Array(shape[0] * shape[1] * shape[2]);
    if (opts.target === 'labels') {
      mapper.map(await labels.read(b), ids);
      return ids;
    }
    // gt: read with a halo so interfaces on block faces are seen
    const g = boxIntersect(box(
      [b.min[0] - halo, b.min[1] - halo, b.min[2] - (cfg.dims === 3 ? halo : 0)],
      [b.max[0] + halo, b.max[1] + halo, b.max[2] + (cfg.dims === 3 ? halo : 0)],
    ), labBox);
    const seg = await labels.read(g);
    if (seg.channels !== 1) throw new UsageError(`labels have ${seg.channels} channels; expected one`, labels.url);
    const all = classesFromSegmentation(seg, cfg.dims, { zeroIs: opts.zeroIs, width: opts.boundaryWidth });
    const gs = boxShape(g);
    const ox = b.min[0] - g.min[0], oy = b.min[1] - g.min[1], oz = b.min[2] - g.min[2];
    for (let z = 0, o = 0; z < shape[2]; z++) {
      for (let y = 0; y < shape[1]; y++, o += shape[0]) {
        const s = ox + gs[0] * (oy + y + gs[1] * (oz + z));
        ids.set(all.subarray(s, s + shape[0]), o);
      }
    }
    return ids;
  };
  // pass 1: count every class id per block
  const progress = opts.progress ?? silentProgress;
  const MAXK = 256;
  const blockCounts = new Float64Array(blocks.length * MAXK);
  const counts = new Float64Array(MAXK);
  // the ids samples are drawn from: with an edge band, the band voxels not kept are -1 there
  const seed = opts.seed ?? opts.forest?.seed ?? 0;
  if (opts.edgeBand) checkEdgeBand(opts.edgeBand);
  const band = opts.edgeBand && (opts.edgeBand.keep < 1 || (opts.edgeBand.outside ?? 1) < 1) ? opts.edgeBand : undefined;
  const sampleIds = !band ? blockIds : async (b: Box): Promise<Int16Array> => {
    const h = edgeBandHalo(band, cfg.dims);
    const g = boxIntersect(box([b.min[0] - h[0], b.min[1] - h[1], b.min[2] - h[2]], [b.max[0] + h[0], b.max[1] + h[1], b.max[2] + h[2]]), region);
    const lo: Vec3 = [b.min[0] - g.min[0], b.min[1] - g.min[1], b.min[2] - g.min[2]];
    return edgeBandIds(await blockIds(g), boxShape(g), lo, boxShape(b), g.min, band, cfg.dims, seed);
  };
  const sampleCounts = band ? new Float64Array(blocks.length * MAXK) : blockCounts;
  progress.start(blocks.length, 'scanning labels');
  for (let bi = 0; bi < blocks.length; bi++) {
    const ids = await blockIds(blocks[bi]);
    const base = bi * MAXK;
    for (let i = 0; i < ids.length; i++) if (ids[i] >= 0) blockCounts[base + ids[i]]++;
    if (band) {
      const sids = await sampleIds(blocks[bi]);
      for (let i = 0; i < sids.length; i++) if (sids[i] >= 0) sampleCounts[base + sids[i]]++;
    }
    progress.increment();
  }
  progress.stop();
  for (let bi = 0; bi < blocks.length; bi++) for (let k = 0; k < MAXK; k++) counts[k] += blockCounts[bi * MAXK + k];
  let values: string[];
  let perm: Int16Array;
  if (opts.target === 'gt') {
    values = ['interior', 'boundary'];
    perm = Int16Array.of(0, 1);
  } else ({ perm, values } = mapper.order());
  const K = values.length;
  const { params: forestParams, size: forestSize } = forestParamsOf(opts.forestSize, opts.target, opts.forest);
  const labelledById = Array.from(counts.subarray(0, Math.max(K, 1)));
  const labelled = new Array<number>(K).fill(0);
  for (let id = 0; id < K; id++) labelled[perm[id]] = labelledById[id];
  checkLabelCounts(labels.url, region, opts, values, labelled, mapper.zeros, warnings);
  // pass 2: the same number of samples of every class, uniformly among its voxels (seeded; with an
  // edge band, among the voxels outside the band and the band's kept voxels)
  const sampledById = new Array<number>(labelledById.length).fill(0);
  for (let bi = 0; bi < blocks.length; bi++) for (let k = 0; k < labelledById.length; k++) sampledById[k] += sampleCounts[bi * MAXK + k];
  if (band && sampledById.filter((c) => c > 0).length < 2) throw new UsageError(`edge band of ${band.width} voxels (keep ${band.keep}) leaves fewer than two classes to sample: labels too thin for it`, labels.url);
  const { index, y, nSamples, samplesPerClass } = await sampleLabelled({
    region, blocks, blockCounts: sampleCounts, MAXK, labelledById: sampledById, perm, blockIds: sampleIds, progress, seed, maxSamples: opts.maxSamples ?? 200_000,
  });

  const t0 = performance.now();
  const rawAt = new Float32Array(nSamples);
  const x = await featuresAt(raw, region, index, cfg, { progress: opts.progress, rawOut: rawAt });
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
    rawStats: rawStats(rawAt),
  };
  if (forestSize) meta.training = { ...(meta.training ?? {}), forest: { size: forestSize, trees: forestParams.nTrees, maxDepth: forestParams.maxDepth ?? 0 } };
  if (band) meta.training = { ...(meta.training ?? {}), edgeBand: { ...band, samplesPerClass } };
  if (meta.rawStats) meta.rawStats.quantiles = quantilesOf(await sampleIntensities(raw, region));
  const forest = await trainForest(
    { x, nSamples, nFeatures: featureCount(cfg), layout: 'feature-major', y, nClasses: K },
    { seed, ...forestParams },
    meta as unknown as Record<string, unknown>,
    { threads: opts.threads },
  );
  const askedAuto = opts.outputSigma === 'auto' || (opts.outputSigma === 'boundary' && (opts.target === 'gt' || K === 2));
  const so = opts.outputSigma ?? 0;
  if (typeof so === 'string' && so !== 'auto' && so !== 'boundary') throw new UsageError(`output smoothing: expected a scale in voxels, auto or boundary, got ${JSON.stringify(so)}`);
  let outputSigma = typeof so === 'number' ? so : 0;
  if (!(outputSigma >= 0 && outputSigma <= MAX_OUTPUT_SIGMA)) throw new UsageError(`output smoothing: expected a scale in voxels in 0..${MAX_OUTPUT_SIGMA} or auto, got ${opts.outputSigma}`);
  let contextForest: Forest | undefined;
  let laterRounds: Forest[] = [];
  const rounds = opts.contextRounds ?? 1;
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= MAX_CONTEXT_ROUNDS)) throw new UsageError(`auto-context rounds: expected an integer 1..${MAX_CONTEXT_ROUNDS}, got ${rounds}`);
  let crossFit: CrossFitResult | undefined;
  const total = boxVoxels(region);
  const labelledFraction = labelled.reduce((a, b) => a + b, 0) / total;
  const wantCrossFit = opts.target === 'labels' && (opts.crossFit === true || ((opts.crossFit ?? 'auto') === 'auto' && labelledFraction >= CROSS_FIT_MIN_LABELLED));
  if (opts.crossFit === true && opts.target !== 'labels') throw new UsageError('cross-fitting (calibration and object rules) applies to --labels models; --gt models choose their cut with --calibrate-cut');
  // 'auto' smoothing is chosen on dense labels (cross-fitted) and on --gt models; sparse labels
  // (scribbles) have too few labelled voxels to score a map on, and get none
  const autoSigma = askedAuto && (wantCrossFit || opts.target === 'gt');
  if (askedAuto && !autoSigma) meta.training = { ...(meta.training ?? {}), outputSigma: { sigma: 0, skipped: 'sparse labels: no out-of-fold map to choose on' } };
  if (opts.autoContext || wantCrossFit || autoSigma) {
    const input: CrossFitInput = { raw, region, index, x, y, nClasses: K, featureConfig: cfg, meta, forest: { seed, ...forestParams }, threads: opts.threads, progress: opts.progress, ...(opts.contextFeatures ? { contextFeatures: opts.contextFeatures } : {}) };
    // for the smoothing choice alone (a --gt model without auto-context), a region that cannot be
    // cross-fitted (too small to halve, one class in a half) leaves the smoothing off with a warning
    const onlyForSigma = autoSigma && !opts.autoContext && !wantCrossFit;
    let first: Awaited<ReturnType<typeof outOfFoldMap>> | undefined;
    try {
      first = await outOfFoldMap(input);
    } catch (err) {
      if (!(onlyForSigma && err instanceof UsageError)) throw err;
      warnings.push(`output smoothing not chosen (none): ${err.message}`);
      meta.training = { ...(meta.training ?? {}), outputSigma: { sigma: 0, skipped: err.message } };
    }
    if (first) {
      // the out-of-fold map of the model that ships (the last round's with auto-context)
      let out = first;
      const needFinal = wantCrossFit || autoSigma;
      if (opts.autoContext) {
        // the context forests' samples: the first forest's, or (band for the first forest only) drawn again without the band
        let ctxInput = input;
        if (band && opts.contextEdgeBand === false) {
          const u = await sampleLabelled({
            region, blocks, blockCounts, MAXK, labelledById, perm, blockIds, progress, seed, maxSamples: opts.maxSamples ?? 200_000,
          });
          const xu = await featuresAt(raw, region, u.index, cfg, { progress: opts.progress });
          ctxInput = { ...input, index: u.index, x: xu, y: u.y };
          meta.training = { ...(meta.training ?? {}), edgeBand: { ...band, samplesPerClass, contextSamplesPerClass: u.samplesPerClass, contextForests: 'without the band' } };
        }
        const { forests, last: c, prev } = await trainContextRounds(ctxInput, first, rounds);
        contextForest = forests[0];
        laterRounds = forests.slice(1);
        meta.context = rounds > 1 ? { ...c.config, rounds } : c.config;
        meta.training = { ...(meta.training ?? {}), autoContext: { folds: c.folds, rounds } };
        if (needFinal) out = await outOfFoldMap(ctxInput, { x2: c.x2, first: prev.map, config: c.config });
      }
      const cls = needFinal ? await regionClasses(region, blocks, blockIds, perm) : undefined;
      if (autoSigma && cls) {
        const choice = chooseOutputSigma(out.map, rs, K, cls, cfg);
        outputSigma = choice.sigma;
        meta.training = { ...(meta.training ?? {}), outputSigma: { chosenOn: 'out-of-fold map of the training region', folds: out.folds, ...choice } };
      }
      if (wantCrossFit && cls) {
        if (outputSigma > 0) smoothOutputs(out.map, rs, K, cfg, outputSigma);
        const { maps, calibration } = calibrateClasses(out.map, cls, K);
        meta.calibration = { method: 'isotonic, out-of-fold', channels: calibration };
        meta.training = { ...(meta.training ?? {}), crossFit: { folds: out.folds, labelledFraction: +labelledFraction.toFixed(4) } };
        crossFit = { region, maps, classes: cls, halves: out.halves };
      } else if (opts.target === 'labels') {
        warnings.push(`no calibration or object rules: only ${(100 * labelledFraction).toFixed(1)}% of the training region is labelled (cross-fitting needs dense labels, >= ${100 * CROSS_FIT_MIN_LABELLED}%)`);
      }
    }
  }
  // set after the cross-fitting: its fold forests predict (and auto-context reads) unsmoothed maps
  if (outputSigma > 0) meta.outputSigma = outputSigma;
  const t2 = performance.now();
  const names = featureNames(cfg);
  const imp = forest.importances();
  const importances = names.map((feature, i) => ({ feature, importance: imp[i] })).sort((a, b) => b.importance - a.importance);
  return {
    model: new PixelModel(forest, meta, contextForest, laterRounds),
    crossFit,
    report: {
      region,
      classes: values,
      labelledVoxels: labelled,
      samplesPerClass,
      features: names.length,
      trees: forest.nTrees,
      ...(forestSize ? { forestSize, maxDepth: forestParams.maxDepth ?? 0 } : {}),
      nodes: forest.nNodes,
      seconds: { features: (t1 - t0) / 1000, training: (t2 - t1) / 1000 },
      importances,
      warnings,
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
