/**
 * Interactive pixel classification (ilastik's loop, on a server): brush strokes tagged with a
 * class become sparse labels; a forest trains on them; the view is predicted on demand, with an
 * uncertainty map that says where to label next.
 *
 *   stroke:      points (voxels, [x, y, z]) joined by segments, painted with a disc of `radius`
 *                voxels in the stroke's plane (xy, xz or yz), class = a label value 1..255
 *   labels:      the voxels of every stroke, later strokes painting over earlier ones
 *                (sparse: a map voxel -> class; only labelled voxels exist)
 *   training:    up to maxSamples labelled voxels (balanced over classes, seeded); their features
 *                from a FeatureCache (feature-cache.ts: small tiles around them, not the strokes'
 *                bounding box), shared with prediction
 *   prediction:  probabilities of a box (features from the cache), one uint8 channel per class,
 *                and uncertainty = 255 * (1 - (p_first - p_second)) per voxel
 */
import { type Box, type Vec3, box, boxIntersect, boxIsEmpty, boxShape, boxVoxels } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import type { VolumeSource } from '../../formats/source.js';
import { makeRng } from '../../ml/forest.js';
import { trainForest } from '../../ml/forest-parallel.js';
import { FeatureCache } from './feature-cache.js';
import { type FeatureConfig, featureConfig, featureNames } from './features.js';
import { PixelModel, type PixelModelMeta } from './model.js';
import { modelMargin, predictVolume } from './predict.js';
import { defaultDims, rawStats, shufflePrefix } from './training.js';

export type StrokePlane = 'xy' | 'xz' | 'yz';

export interface Stroke {
  /** Sequence number of the stroke in its dataset's log (1, 2, ...; never reused). */
  id: number;
  /** Label value of the class (1..255). */
  cls: number;
  /** Voxel coordinates [x, y, z] along the stroke (at least one). */
  points: Vec3[];
  /** Brush radius in voxels (0 = one voxel wide). */
  radius: number;
  plane: StrokePlane;
  user: string;
  /** ISO UTC time the stroke was saved. */
  time: string;
}

/** Defaults of the interactive loop; the server and CLI read them. */
export const INTERACTIVE_DEFAULTS = {
  radius: 1,
  maxRadius: 25,
  maxPoints: 10_000,
  /**
   * Trees of the interactive forest: 16, chosen on the phantom (bench/interactive.bench.ts: held-out
   * AUC within 0.007 of 32 trees at 10, 50 and 200 strokes, for half the forest's time); reported
   * on vnc-sstem in docs/TRAINING-USEFULNESS.md.
   */
  trees: 16,
  /** Prediction chunks: [chunk, chunk, 1] for the xy view, [chunk, 1, chunkZ] and [1, chunk, chunkZ] across sections. */
  chunk: 128,
  chunkZ: 16,
  /** Tree depth limit of the interactive forest (the root is depth 0). */
  maxDepth: 1000,
  maxSamples: 60_000,
  /** Class names shown by the app, by label value (the values `wiring classes` writes). */
  classNames: { 1: 'boundary', 2: 'cytoplasm', 3: 'cleft', 4: 'vesicle', 5: 'mitochondrion' } as Record<number, string>,
};

/** Check a stroke from outside (HTTP body); the message names the field. */
export function checkStroke(s: unknown, bounds: Box): Omit<Stroke, 'id' | 'user' | 'time'> {
  const o = s as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw new UsageError('stroke: expected an object {cls, points, radius?, plane?}');
  const cls = o.cls;
  if (!Number.isInteger(cls) || (cls as number) < 1 || (cls as number) > 255) throw new UsageError(`stroke.cls ${JSON.stringify(cls)}: expected a class label value 1..255`);
  const radius = o.radius === undefined ? INTERACTIVE_DEFAULTS.radius : o.radius;
  if (typeof radius !== 'number' || !(radius >= 0 && radius <= INTERACTIVE_DEFAULTS.maxRadius)) throw new UsageError(`stroke.radius ${JSON.stringify(radius)}: expected 0..${INTERACTIVE_DEFAULTS.maxRadius} voxels`);
  const plane = o.plane === undefined ? 'xy' : o.plane;
  if (plane !== 'xy' && plane !== 'xz' && plane !== 'yz') throw new UsageError(`stroke.plane ${JSON.stringify(plane)}: expected xy, xz or yz`);
  const pts = o.points;
  if (!Array.isArray(pts) || pts.length === 0 || pts.length > INTERACTIVE_DEFAULTS.maxPoints) throw new UsageError(`stroke.points: expected 1..${INTERACTIVE_DEFAULTS.maxPoints} points [x, y, z]`);
  const points = pts.map((p, i) => {
    if (!Array.isArray(p) || p.length !== 3 || !p.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new UsageError(`stroke.points[${i}]: expected [x, y, z] voxel coordinates`);
    for (let a = 0; a < 3; a++) if (p[a] < bounds.min[a] || p[a] >= bounds.max[a]) throw new UsageError(`stroke.points[${i}] [${p}] is outside the volume [${bounds.min}]..[${bounds.max}]`);
    return [p[0], p[1], p[2]] as Vec3;
  });
  return { cls: cls as number, points, radius, plane };
}

/** The voxels a stroke paints (inside `bounds`), as [x, y, z] integer triples (repeats possible). */
export function strokeVoxels(s: Pick<Stroke, 'points' | 'radius' | 'plane'>, bounds: Box): Vec3[] {
  const [u, v] = s.plane === 'xy' ? [0, 1] : s.plane === 'xz' ? [0, 2] : [1, 2];
  const r = Math.max(0, s.radius);
  const ri = Math.ceil(r);
  const disc: Array<[number, number]> = [];
  for (let a = -ri; a <= ri; a++) for (let b = -ri; b <= ri; b++) if (a * a + b * b <= r * r + 1e-9) disc.push([a, b]);
  const out: Vec3[] = [];
  const seen = new Set<string>();
  const stamp = (p: Vec3) => {
    const c = p.map((x) => Math.round(x));
    for (const [a, b] of disc) {
      const q = [c[0], c[1], c[2]];
      q[u] += a;
      q[v] += b;
      if (q.some((x, k) => x < bounds.min[k] || x >= bounds.max[k])) continue;
      const key = q.join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push([q[0], q[1], q[2]]);
    }
  };
  const pts = s.points;
  stamp(pts[0]);
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1], b = pts[i];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2]);
    const steps = Math.max(1, Math.ceil(len * 2));
    for (let k = 1; k <= steps; k++) stamp([a[0] + ((b[0] - a[0]) * k) / steps, a[1] + ((b[1] - a[1]) * k) / steps, a[2] + ((b[2] - a[2]) * k) / steps]);
  }
  return out;
}

export interface SparseLabels {
  /** voxel key (x,y,z as a string) -> class label value */
  voxels: Map<string, number>;
  /** bounding box of the labelled voxels (empty when none) */
  box: Box;
  /** labelled voxels per class value */
  counts: Record<number, number>;
}

/** All strokes painted in order (later strokes over earlier ones). */
export function sparseLabels(strokes: Stroke[], bounds: Box): SparseLabels {
  const voxels = new Map<string, number>();
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (const s of strokes) {
    for (const p of strokeVoxels(s, bounds)) {
      voxels.set(p.join(','), s.cls);
      for (let a = 0; a < 3; a++) {
        lo[a] = Math.min(lo[a], p[a]);
        hi[a] = Math.max(hi[a], p[a] + 1);
      }
    }
  }
  const counts: Record<number, number> = {};
  for (const c of voxels.values()) counts[c] = (counts[c] ?? 0) + 1;
  return { voxels, box: voxels.size ? box([lo[0], lo[1], lo[2]], [hi[0], hi[1], hi[2]]) : box([0, 0, 0], [0, 0, 0]), counts };
}

/** The sparse labels as a uint8 label source on the raw's grid (0 = unlabelled). */
export function labelSource(labels: SparseLabels, like: VolumeSource): VolumeSource {
  return {
    url: 'strokes',
    format: 'strokes',
    dtype: 'uint8',
    shape: like.shape,
    channels: 1,
    voxelSize: like.voxelSize,
    offset: like.offset,
    chunkShape: like.chunkShape,
    async read(b: Box): Promise<Volume> {
      const v = Volume.zeros('uint8', b, { voxelSize: like.voxelSize });
      const s = boxShape(b);
      for (const [key, c] of labels.voxels) {
        const [x, y, z] = key.split(',').map(Number);
        if (x < b.min[0] || y < b.min[1] || z < b.min[2] || x >= b.max[0] || y >= b.max[1] || z >= b.max[2]) continue;
        (v.data as Uint8Array)[x - b.min[0] + s[0] * (y - b.min[1] + s[1] * (z - b.min[2]))] = c;
      }
      return v;
    },
    async close(): Promise<void> {},
  };
}

export interface InteractiveTrainReport {
  classes: string[];
  labelledVoxels: number[];
  samplesPerClass: number[];
  trees: number;
  nodes: number;
  /** the labelled voxels' bounding box */
  region: Box;
  warnings: string[];
  seconds: { features: number; training: number };
}

/** The feature configuration of the interactive loop for a raw volume (2-D per section on anisotropic stacks). */
export function interactiveFeatureConfig(raw: VolumeSource): FeatureConfig {
  // exact filters: the feature cache computes tiles in varying groups and needs every group to give
  // the whole-volume values bit for bit, which recursive filters do not (feature-cache.ts)
  return featureConfig(raw.voxelSize, { dims: defaultDims(raw.voxelSize, raw.shape[2]), recursiveFrom: null });
}

/**
 * Train a forest on the strokes. Up to maxSamples labelled voxels, the same number of every class
 * (seeded); their features come from `cache` (tiles around the labelled voxels only, shared with
 * prediction), or from a cache made for this call.
 */
export async function trainFromStrokes(
  raw: VolumeSource,
  strokes: Stroke[],
  o: { trees?: number; maxDepth?: number; maxSamples?: number; seed?: number; cache?: FeatureCache; threads?: number } = {},
): Promise<{ model: PixelModel; report: InteractiveTrainReport; labels: SparseLabels }> {
  const bounds = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const labels = sparseLabels(strokes, bounds);
  const values = Object.keys(labels.counts).map(Number).sort((a, b) => a - b);
  if (values.length < 2) throw new UsageError(`strokes of at least two classes are needed to train (have ${values.length ? `only class ${values[0]}` : 'none'})`);
  const cfg = interactiveFeatureConfig(raw);
  const cache = o.cache && o.cache.matches(cfg) && o.cache.raw === raw ? o.cache : new FeatureCache(raw, cfg);
  // the voxels of every class (in stroke order), then the same number from each, seeded
  const K = values.length;
  const byClass: Vec3[][] = values.map(() => []);
  const classIndex = new Map(values.map((v, k) => [v, k]));
  for (const [key, c] of labels.voxels) {
    const [x, y, z] = key.split(',').map(Number);
    byClass[classIndex.get(c)!].push([x, y, z]);
  }
  const perClass = Math.max(1, Math.floor((o.maxSamples ?? INTERACTIVE_DEFAULTS.maxSamples) / K));
  const seed = o.seed ?? 1;
  const rng = makeRng(seed, 0x5a3);
  const points: Vec3[] = [];
  const yl: number[] = [];
  const samplesPerClass: number[] = [];
  byClass.forEach((l, k) => {
    const m = shufflePrefix(l, perClass, rng);
    for (let j = 0; j < m; j++) {
      points.push(l[j]);
      yl.push(k);
    }
    samplesPerClass.push(m);
  });
  const t0 = performance.now();
  const { x, raw: rawAt } = await cache.at(points);
  const t1 = performance.now();
  const meta: PixelModelMeta = {
    kind: 'wiring-pixel-classifier',
    version: 1,
    featureConfig: cfg,
    featureNames: featureNames(cfg),
    target: 'labels',
    labelValues: values.map(String),
    outputs: values.map((v) => `class_${v}`),
    rawDtype: raw.dtype,
    voxelSize: raw.voxelSize,
    rawStats: rawStats(rawAt),
  };
  const forest = await trainForest(
    { x, nSamples: points.length, nFeatures: cache.F, layout: 'feature-major', y: Uint8Array.from(yl), nClasses: K },
    { seed, nTrees: o.trees ?? INTERACTIVE_DEFAULTS.trees, maxDepth: o.maxDepth ?? INTERACTIVE_DEFAULTS.maxDepth },
    meta as unknown as Record<string, unknown>,
    { threads: o.threads },
  );
  const t2 = performance.now();
  const warnings = values.filter((_, k) => samplesPerClass[k] < 20).map((v) => `class ${v} has only ${labels.counts[v]} labelled voxels: draw more of it`);
  return {
    model: new PixelModel(forest, meta),
    labels,
    report: {
      classes: values.map(String),
      labelledVoxels: values.map((v) => labels.counts[v]),
      samplesPerClass,
      trees: forest.nTrees,
      nodes: forest.nNodes,
      region: labels.box,
      warnings,
      seconds: { features: (t1 - t0) / 1000, training: (t2 - t1) / 1000 },
    },
  };
}

/** Probabilities (class-major float32, out[c * n + i]) as uint8 channels, and uncertainty = 255 * (1 - (p_first - p_second)). */
export function encodePrediction(p: Float32Array, C: number, t: Box, voxelSize: Vec3): { probabilities: Volume; uncertainty: Volume } {
  const n = p.length / C;
  const probabilities = Volume.zeros('uint8', t, { channels: C, voxelSize });
  const uncertainty = Volume.zeros('uint8', t, { voxelSize });
  const qd = probabilities.data as Uint8Array, ud = uncertainty.data as Uint8Array;
  for (let i = 0; i < n; i++) {
    let a = 0, b = 0;
    for (let c = 0; c < C; c++) {
      const v = p[c * n + i];
      qd[c * n + i] = Math.round(v * 255);
      if (v > a) {
        b = a;
        a = v;
      } else if (v > b) b = v;
    }
    ud[i] = Math.round(255 * (1 - (C > 1 ? a - b : Math.abs(2 * a - 1))));
  }
  return { probabilities, uncertainty };
}

export interface PredictTimes {
  features: number;
  predict: number;
  encode: number;
}

/**
 * Predict a box: probabilities (uint8, one channel per class) and uncertainty (uint8, one channel).
 * Features from `cache` when it computes the model's features, else from the raw read with the margin.
 */
export async function predictBox(model: PixelModel, raw: VolumeSource, target: Box, o: { cache?: FeatureCache; times?: PredictTimes } = {}): Promise<{ probabilities: Volume; uncertainty: Volume }> {
  const bounds = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const t = boxIntersect(target, bounds);
  if (boxIsEmpty(t)) throw new UsageError(`box [${target.min}]..[${target.max}] is outside the volume`);
  const t0 = performance.now();
  let probs: Float32Array;
  let t1: number;
  // the cache holds pixel features only: an auto-context model (a second forest on the first one's map) reads raw
  if (o.cache && o.cache.raw === raw && o.cache.matches(model.meta.featureConfig) && model.meta.target === 'labels' && !model.contextForest) {
    const { x } = await o.cache.box(t);
    t1 = performance.now();
    const n = boxVoxels(t);
    probs = model.forest.predictProba(x, n, 'feature-major').subarray(0, model.outputChannels * n);
  } else {
    const m = modelMargin(model);
    const readBox = boxIntersect(box([t.min[0] - m[0], t.min[1] - m[1], t.min[2] - m[2]], [t.max[0] + m[0], t.max[1] + m[1], t.max[2] + m[2]]), bounds);
    const rawVol = await raw.read(readBox);
    t1 = performance.now();
    probs = predictVolume(model, rawVol, { box: t, dtype: 'float32' }).data as Float32Array;
  }
  const t2 = performance.now();
  const r = encodePrediction(probs, model.outputChannels, t, raw.voxelSize);
  if (o.times) {
    o.times.features += (t1 - t0) / 1000;
    o.times.predict += (t2 - t1) / 1000;
    o.times.encode += (performance.now() - t2) / 1000;
  }
  return r;
}
