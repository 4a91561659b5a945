/**
 * Random-forest classifiers for node compartments and cell types: input checks with clear
 * errors, grouped k-fold cross-validation (accuracy, balanced accuracy, confusion matrix) kept in
 * the model file, and prediction. Model file: the forest's WRF1 bytes (src/ml/forest.ts) with
 * meta {kind, classes, features, cv, classification_system, params}.
 */
import { UsageError } from '../../core/errors.js';
import { Forest } from '../../ml/forest.js';

export type ModelKind = 'compartments' | 'cell-types';

export const CLASSIFIER_DEFAULTS = { nTrees: 100, folds: 5, seed: 1, minSamplesLeaf: 2 };

export interface CvReport {
  folds: number;
  accuracy: number;
  balanced_accuracy: number;
  classes: string[];
  /** confusion[true][predicted], counts */
  confusion: number[][];
  per_class_recall: Record<string, number>;
}

export interface TrainedModel {
  forest: Forest;
  kind: ModelKind;
  classes: string[];
  features: string[];
  cv: CvReport | null;
  classification_system?: string;
}

export interface LabelledSamples {
  /** sample-major n x F */
  x: Float32Array;
  features: string[];
  labels: string[];
  /** samples of one group (cell) stay in one fold */
  groups: ArrayLike<number>;
  /** what a sample is, for errors ("cell 123", "node 4 of cell 123") */
  name: (i: number) => string;
  where: string;
}

export function checkSamples(s: LabelledSamples): string[] {
  const n = s.labels.length;
  const F = s.features.length;
  if (n === 0) throw new UsageError('no labelled samples: none of the labels matched a cell or node of the data', s.where);
  if (s.x.length !== n * F) throw new UsageError(`${s.x.length} feature values for ${n} samples x ${F} features`, s.where);
  for (let i = 0; i < n; i++)
    for (let f = 0; f < F; f++) {
      const v = s.x[i * F + f];
      if (!Number.isFinite(v)) throw new UsageError(`${s.name(i)}: feature ${s.features[f]} is ${v}; features must be finite numbers`, s.where);
    }
  const classes = [...new Set(s.labels)].sort();
  if (classes.length < 2) throw new UsageError(`only one class (${JSON.stringify(classes[0])}) among ${n} labelled samples; a classifier needs at least two`, s.where);
  return classes;
}

function scores(truth: number[], pred: number[], K: number): { acc: number; bacc: number; confusion: number[][]; recall: number[] } {
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let ok = 0;
  for (let i = 0; i < truth.length; i++) {
    confusion[truth[i]][pred[i]]++;
    if (truth[i] === pred[i]) ok++;
  }
  const recall = confusion.map((row, k) => {
    const t = row.reduce((a, b) => a + b, 0);
    return t > 0 ? row[k] / t : NaN;
  });
  const present = recall.filter((r) => !Number.isNaN(r));
  return { acc: truth.length ? ok / truth.length : 0, bacc: present.length ? present.reduce((a, b) => a + b, 0) / present.length : 0, confusion, recall };
}

/** Accuracy, balanced accuracy (mean recall over the classes present) and confusion matrix. */
export function classificationScores(truth: string[], pred: string[], classes: string[]): Omit<CvReport, 'folds'> {
  const idx = new Map(classes.map((c, i) => [c, i]));
  const t = truth.map((c) => idx.get(c) ?? -1);
  const p = pred.map((c) => idx.get(c) ?? -1);
  const keep = t.map((v, i) => v >= 0 && p[i] >= 0);
  const s = scores(t.filter((_, i) => keep[i]), p.filter((_, i) => keep[i]), classes.length);
  return {
    accuracy: s.acc,
    balanced_accuracy: s.bacc,
    classes,
    confusion: s.confusion,
    per_class_recall: Object.fromEntries(classes.map((c, k) => [c, s.recall[k]]).filter(([, r]) => !Number.isNaN(r as number))),
  };
}

function fit(x: Float32Array, y: Uint8Array, F: number, K: number, seed: number, nTrees: number, meta: Record<string, unknown> = {}): Forest {
  return Forest.train({ x, nSamples: y.length, nFeatures: F, layout: 'sample-major', y, nClasses: K }, { nTrees, seed, balanced: true, minSamplesLeaf: CLASSIFIER_DEFAULTS.minSamplesLeaf }, meta);
}

/** Train on all samples; cross-validate first over `folds` folds of groups (skipped with < 2 groups). */
export function trainClassifier(kind: ModelKind, s: LabelledSamples, opts: { nTrees?: number; folds?: number; seed?: number; classification_system?: string } = {}): TrainedModel {
  const classes = checkSamples(s);
  const K = classes.length;
  if (K > 255) throw new UsageError(`${K} classes; at most 255`, s.where);
  const F = s.features.length;
  const n = s.labels.length;
  const nTrees = opts.nTrees ?? CLASSIFIER_DEFAULTS.nTrees;
  const seed = opts.seed ?? CLASSIFIER_DEFAULTS.seed;
  const idx = new Map(classes.map((c, i) => [c, i]));
  const y = Uint8Array.from(s.labels, (c) => idx.get(c)!);
  // folds by group, groups shuffled by a seeded hash
  const groups = [...new Set(Array.from(s.groups))].sort((a, b) => a - b);
  const folds = Math.min(opts.folds ?? CLASSIFIER_DEFAULTS.folds, groups.length);
  let cv: CvReport | null = null;
  if (folds >= 2) {
    const h = (g: number) => Math.imul(g ^ (seed * 0x9e3779b1), 0x85ebca6b) >>> 0;
    const order = [...groups].sort((a, b) => h(a) - h(b) || a - b);
    const foldOf = new Map(order.map((g, i) => [g, i % folds]));
    const pred = new Array<number>(n).fill(-1);
    for (let k = 0; k < folds; k++) {
      const tr: number[] = [], te: number[] = [];
      for (let i = 0; i < n; i++) (foldOf.get(s.groups[i]) === k ? te : tr).push(i);
      if (te.length === 0 || tr.length === 0) continue;
      const present = new Set(tr.map((i) => y[i]));
      if (present.size < 2) continue;
      const xt = new Float32Array(tr.length * F);
      tr.forEach((i, j) => xt.set(s.x.subarray(i * F, (i + 1) * F), j * F));
      const f = fit(xt, Uint8Array.from(tr, (i) => y[i]), F, K, seed + k + 1, nTrees);
      const xe = new Float32Array(te.length * F);
      te.forEach((i, j) => xe.set(s.x.subarray(i * F, (i + 1) * F), j * F));
      const p = f.predictProba(xe, te.length, 'sample-major');
      te.forEach((i, j) => {
        let best = 0;
        for (let c = 1; c < K; c++) if (p[c * te.length + j] > p[best * te.length + j]) best = c;
        pred[i] = best;
      });
    }
    const done = pred.map((p, i) => (p >= 0 ? i : -1)).filter((i) => i >= 0);
    const sc = classificationScores(done.map((i) => classes[y[i]]), done.map((i) => classes[pred[i]]), classes);
    cv = { folds, ...sc };
  }
  const forest = fit(s.x, y, F, K, seed, nTrees, { kind, classes, features: s.features, cv, classification_system: opts.classification_system });
  return { forest, kind, classes, features: s.features, cv, classification_system: opts.classification_system };
}

export function modelBytes(m: TrainedModel): Uint8Array {
  return m.forest.toBytes();
}

export function modelFromBytes(bytes: Uint8Array, where: string, kind: ModelKind): TrainedModel {
  const forest = Forest.fromBytes(bytes, where);
  const meta = forest.meta as { kind?: string; classes?: string[]; features?: string[]; cv?: CvReport | null; classification_system?: string };
  if (meta.kind !== kind) throw new UsageError(`a ${meta.kind ?? 'non-annotate'} model, expected a ${kind} model (wiring train-${kind})`, where);
  if (!Array.isArray(meta.classes) || meta.classes.length !== forest.nClasses) throw new UsageError('model meta has no class list matching the forest', where);
  if (!Array.isArray(meta.features) || meta.features.length !== forest.nFeatures) throw new UsageError('model meta has no feature list matching the forest', where);
  return { forest, kind, classes: meta.classes, features: meta.features, cv: meta.cv ?? null, classification_system: meta.classification_system };
}

/** Predicted class and its probability for each sample (sample-major x with the model's features). */
export function predict(m: TrainedModel, x: Float32Array, features: string[], name: (i: number) => string = (i) => `sample ${i}`): { label: string[]; probability: Float32Array } {
  if (features.join(',') !== m.features.join(',')) throw new UsageError(`model features differ from this build's: model [${m.features.join(', ')}], computed [${features.join(', ')}]`);
  const F = features.length;
  const n = x.length / F;
  // a forest sends NaN down an arbitrary branch: refuse it (e.g. a skeleton with NaN radii)
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) throw new UsageError(`${name(Math.floor(i / F))}: feature ${features[i % F]} is ${x[i]}; features must be finite numbers`);
  const K = m.classes.length;
  const label: string[] = [];
  const probability = new Float32Array(n);
  if (n === 0) return { label, probability };
  const p = m.forest.predictProba(x, n, 'sample-major');
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < K; c++) if (p[c * n + i] > p[best * n + i]) best = c;
    label.push(m.classes[best]);
    probability[i] = p[best * n + i];
  }
  return { label, probability };
}
