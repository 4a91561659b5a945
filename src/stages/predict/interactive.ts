/**
 * Interactive pixel classification (ilastik's loop, on a server): brush strokes tagged with a
 * class become sparse labels; a forest trains on them; the view is predicted on demand, with an
 * uncertainty map that says where to label next.
 *
 *   stroke:      points (voxels, [x, y, z]) joined by segments, painted with a disc of `radius`
 *                voxels in the stroke's plane (xy, xz or yz), class = a label value 1..255
 *   labels:      the voxels of every stroke, later strokes painting over earlier ones
 *                (sparse: a map voxel -> class; only labelled voxels exist)
 *   training:    trainPixelClassifier on the labels' bounding box (the raw read there only)
 *   prediction:  probabilities of a box (read with the feature margin), one uint8 channel per
 *                class, and uncertainty = 255 * (1 - (p_first - p_second)) per voxel
 */
import { type Box, type Vec3, box, boxIntersect, boxIsEmpty, boxShape } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import type { VolumeSource } from '../../formats/source.js';
import { featureConfig } from './features.js';
import type { PixelModel } from './model.js';
import { modelMargin, predictVolume } from './predict.js';
import { defaultDims, trainPixelClassifier, type TrainReport } from './training.js';

export type StrokePlane = 'xy' | 'xz' | 'yz';

export interface Stroke {
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
  trees: 32,
  maxSamples: 60_000,
  /** Class names shown by the app, by label value (the values `wiring classes` writes). */
  classNames: { 1: 'boundary', 2: 'cytoplasm', 3: 'cleft', 4: 'vesicle', 5: 'mitochondrion' } as Record<number, string>,
};

/** Check a stroke from outside (HTTP body); the message names the field. */
export function checkStroke(s: unknown, bounds: Box): Omit<Stroke, 'user' | 'time'> {
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

/** Train a forest on the strokes (raw read over the strokes' bounding box only). */
export async function trainFromStrokes(raw: VolumeSource, strokes: Stroke[], o: { trees?: number; maxSamples?: number; seed?: number } = {}): Promise<{ model: PixelModel; report: TrainReport; labels: SparseLabels }> {
  const bounds = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const labels = sparseLabels(strokes, bounds);
  const classes = Object.keys(labels.counts);
  if (classes.length < 2) throw new UsageError(`strokes of at least two classes are needed to train (have ${classes.length ? `only class ${classes[0]}` : 'none'})`);
  const dims = defaultDims(raw.voxelSize, raw.shape[2]);
  const { model, report } = await trainPixelClassifier(raw, labelSource(labels, raw), {
    target: 'labels',
    bounds: labels.box,
    featureConfig: featureConfig(raw.voxelSize, { dims }),
    maxSamples: o.maxSamples ?? INTERACTIVE_DEFAULTS.maxSamples,
    forest: { nTrees: o.trees ?? INTERACTIVE_DEFAULTS.trees },
    seed: o.seed ?? 1,
  });
  return { model, report, labels };
}

/** Predict a box: probabilities (uint8, one channel per class) and uncertainty (uint8, one channel). */
export async function predictBox(model: PixelModel, raw: VolumeSource, target: Box): Promise<{ probabilities: Volume; uncertainty: Volume }> {
  const bounds = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const t = boxIntersect(target, bounds);
  if (boxIsEmpty(t)) throw new UsageError(`box [${target.min}]..[${target.max}] is outside the volume`);
  const m = modelMargin(model);
  const readBox = boxIntersect(box([t.min[0] - m[0], t.min[1] - m[1], t.min[2] - m[2]], [t.max[0] + m[0], t.max[1] + m[1], t.max[2] + m[2]]), bounds);
  const rawVol = await raw.read(readBox);
  const p = predictVolume(model, rawVol, { box: t, dtype: 'float32' });
  const C = p.channels;
  const n = p.data.length / C;
  const probabilities = Volume.zeros('uint8', t, { channels: C, voxelSize: raw.voxelSize });
  const uncertainty = Volume.zeros('uint8', t, { voxelSize: raw.voxelSize });
  const pd = p.data as Float32Array, qd = probabilities.data as Uint8Array, ud = uncertainty.data as Uint8Array;
  for (let i = 0; i < n; i++) {
    let a = 0, b = 0;
    for (let c = 0; c < C; c++) {
      const v = pd[c * n + i];
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
