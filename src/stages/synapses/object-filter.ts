import type { Vec3 } from '../../core/box.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { type Connectivity, connectedComponents } from '../../kernels/components.js';
import { Forest } from '../../ml/forest/index.js';
import { CANDIDATE_RULES, type CandidateSet, candidateScores, greedyMatch, matchCandidates, objectF1, outOfFoldCuts, trainCandidateForest } from './candidate-match.js';
import { objectVoxels } from './cleft-features.js';
import { objectFeatureNames, objectFeatures } from './object-features.js';
import { type ObjectParams, hysteresisObjects } from './objects.js';

/**
 * The object filter of any class (the cleft filter's method, cleft-filter.ts, without its vesicle
 * class): a random forest on object-level features (object-features.ts: the class map's objects and
 * the other class maps around them) of candidate objects, trained on out-of-fold maps, candidates
 * labelled by one-to-one matching to the true objects (IoU >= minIou); candidate rule and score cut
 * chosen by pooled out-of-fold object F1, exactly as the cleft filter. It is kept only when that
 * F1 beats the class's plain object rule (`baseline`, scored on the same folds the same way) by
 * `minGain`: a filter that does not help out of fold is not carried.
 */
export interface ObjectFilter {
  version: 1;
  /** The context maps the features read, by the model's output names, in order. */
  context: string[];
  /** Feature names, in the forest's order (objectFeatureNames(context)). */
  features: string[];
  /** Candidates: hysteresis objects of the class map under this rule, `connectivity`-connected. */
  candidates: ObjectParams;
  connectivity: Connectivity;
  /** A candidate is kept when the forest's probability of "true object" is >= cut. */
  cut: number;
  /** The forest, WRF1 bytes in base64. */
  forest: string;
  /** Pooled out-of-fold object scores (match: IoU >= minIou) at the chosen candidates and cut, and of the plain rule. */
  oof: { f1: number; found: number; matched: number; truth: number; candidates: number; minIou: number; baselineF1: number };
}

/** Every default of the object filter's training (the CLI help reads it). */
export const OBJECT_FILTER_DEFAULTS = {
  /** Candidate rules tried besides the class's own plain rule (the best out-of-fold F1 after filtering is kept). */
  candidateRules: [...CANDIDATE_RULES] as ObjectParams[],
  minIou: 0.1,
  cuts: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95],
  trees: 96,
  maxDepth: 20,
  minSamplesLeaf: 4,
  /** Fewer true objects (pooled over the folds) than this train no filter (the cleft filter's minimum). */
  minTrueObjects: 50,
  /** The filter must beat the plain rule's pooled out-of-fold F1 by this much to be kept. */
  minGain: 0.02,
  /** Candidates and true objects are 26-connected, as the object rules are chosen. */
  connectivity: 26 as Connectivity,
  seed: 17,
};

export interface ObjectFilterVolume {
  /** The class map (probabilities in [0, 1]). */
  map: Float32Array;
  /** The context maps, in the filter's context order. */
  context: Float32Array[];
  /** 1 = a true object voxel. */
  truth: Uint8Array;
  shape: Vec3;
}

function candidatesOf(v: ObjectFilterVolume, vs: Vec3, rule: ObjectParams, conn: Connectivity, minIou: number, features: boolean): CandidateSet {
  const { labels, count } = hysteresisObjects(v.map, v.shape, rule, conn);
  const x = features ? objectFeatures(labels, objectVoxels(labels, count), v.map, v.context, v.shape, vs) : new Float32Array(0);
  return { count, x, ...matchCandidates(labels, count, v.truth, v.shape, conn, minIou) };
}

export interface ObjectFilterChoice {
  filter?: ObjectFilter;
  /** Why no filter: too few true objects, no candidate rule found true objects in two folds, or it did not beat the plain rule out of fold. */
  skipped?: string;
  /** The plain rule's pooled out-of-fold F1 on the folds (IoU >= minIou), and the best filtered one. */
  baselineF1?: number;
  bestF1?: number;
}

/**
 * Train the filter of one class on volumes (folds; pass out-of-fold maps, at least two) with their
 * context maps named `context`; `baseline` is the class's plain object rule, also a candidate rule.
 */
export function trainObjectFilter(vols: ObjectFilterVolume[], context: string[], vs: Vec3, baseline: ObjectParams, options: Partial<typeof OBJECT_FILTER_DEFAULTS> = {}): ObjectFilterChoice {
  const o = { ...OBJECT_FILTER_DEFAULTS, ...options };
  if (vols.length < 2) throw new UsageError('the object filter is cross-fitted: it needs at least two volumes (folds)');
  if (vols.some((v) => v.context.length !== context.length)) throw new UsageError(`object filter: every fold needs the ${context.length} context maps (${context.join(', ')})`);
  const nTrue = vols.reduce((a, v) => a + connectedComponents(v.truth, v.shape, { connectivity: o.connectivity }).count, 0);
  if (nTrue < o.minTrueObjects) return { skipped: `${nTrue} true objects in the training folds, fewer than the ${o.minTrueObjects} the object filter needs` };
  const plain = { high: baseline.high, low: baseline.low, minSize: baseline.minSize, ...(baseline.split !== undefined ? { split: baseline.split, splitMinSeed: baseline.splitMinSeed } : {}) };
  const base = vols.map((v) => candidatesOf(v, vs, plain, o.connectivity, o.minIou, false));
  const baselineF1 = objectF1(base.reduce((a, s) => a + s.count, 0), base.reduce((a, s) => a + greedyMatch(s.pairs, s.count, s.nTrue, () => true, o.minIou), 0), nTrue);
  const nF = objectFeatureNames(context).length;
  let best: { rule: ObjectParams; cut: number; f1: number; found: number; matched: number; sets: CandidateSet[] } | undefined;
  for (const rule of [plain, ...o.candidateRules]) {
    const sets = vols.map((v) => candidatesOf(v, vs, rule, o.connectivity, o.minIou, true));
    if (sets.filter((s) => s.y.some((v) => v === 1)).length < 2) continue;
    for (const { cut, found, matched } of outOfFoldCuts(sets, nF, o, o.cuts, o.minIou)) {
      const f1 = objectF1(found, matched, nTrue);
      if (!best || f1 > best.f1 + 1e-12) best = { rule, cut, f1, found, matched, sets };
    }
  }
  if (!best || best.matched === 0) return { skipped: 'no candidate rule found true objects in two folds', baselineF1 };
  if (best.f1 < baselineF1 + o.minGain) return { skipped: `the filter's out-of-fold F1 ${best.f1.toFixed(3)} does not beat the plain rule's ${baselineF1.toFixed(3)} by ${o.minGain}`, baselineF1, bestF1: best.f1 };
  const forest = trainCandidateForest(best.sets, nF, o)!;
  return {
    baselineF1,
    bestF1: best.f1,
    filter: {
      version: 1,
      context: [...context],
      features: objectFeatureNames(context),
      candidates: best.rule,
      connectivity: o.connectivity,
      cut: best.cut,
      forest: Buffer.from(forest.toBytes()).toString('base64'),
      oof: { f1: +best.f1.toFixed(4), found: best.found, matched: best.matched, truth: nTrue, candidates: best.sets.reduce((a, s) => a + s.count, 0), minIou: o.minIou, baselineF1: +baselineF1.toFixed(4) },
    },
  };
}

const decoded = new WeakMap<ObjectFilter, Forest>();

function forestOf(f: ObjectFilter, where: string): Forest {
  let forest = decoded.get(f);
  if (!forest) {
    forest = Forest.fromBytes(Buffer.from(f.forest, 'base64'), `${where} (object_filter.forest)`);
    decoded.set(f, forest);
  }
  return forest;
}

/** Check a filter read from a file (FormatError naming `where` and the field). */
export function checkObjectFilter(f: unknown, where: string): ObjectFilter {
  const c = f as Partial<ObjectFilter> | undefined;
  const bad = (field: string, why: string): never => {
    throw new FormatError(`object_filter.${field}: ${why}`, where);
  };
  if (!c || typeof c !== 'object') return bad('', 'expected an object');
  if (c.version !== 1) bad('version', `expected 1, got ${JSON.stringify(c.version)}`);
  if (!Array.isArray(c.context) || !c.context.every((x) => typeof x === 'string')) bad('context', 'expected the context maps\' output names');
  if (!Array.isArray(c.features) || c.features.join() !== objectFeatureNames(c.context!).join()) bad('features', `expected [${objectFeatureNames(c.context!).join(', ')}] (this build's object features)`);
  const r = c.candidates;
  if (!r || !(r.low >= 0 && r.low <= r.high && r.high <= 1 && r.minSize >= 0)) bad('candidates', `expected 0 <= low <= high <= 1 and minSize >= 0, got ${JSON.stringify(r)}`);
  if (![6, 18, 26].includes(c.connectivity as number)) bad('connectivity', `expected 6, 18 or 26, got ${JSON.stringify(c.connectivity)}`);
  if (typeof c.cut !== 'number' || !(c.cut >= 0 && c.cut <= 1)) bad('cut', `expected a number in [0, 1], got ${JSON.stringify(c.cut)}`);
  if (typeof c.forest !== 'string' || c.forest.length === 0) bad('forest', 'expected the forest in base64');
  const forest = forestOf(c as ObjectFilter, where);
  if (forest.nFeatures !== c.features!.length || forest.nClasses !== 2) bad('forest', `expected ${c.features!.length} features and 2 classes, got ${forest.nFeatures} and ${forest.nClasses}`);
  return c as ObjectFilter;
}

/**
 * The filter applied to a class map: its candidate objects, each scored, those >= cut kept.
 * Returns the kept objects' labels (1..count) and the number of candidates dropped.
 */
export function applyObjectFilter(f: ObjectFilter, map: Float32Array, context: Float32Array[], shape: Vec3, vs: Vec3): { labels: Uint32Array; count: number; dropped: number } {
  if (context.length !== f.context.length) throw new UsageError(`the object filter reads ${f.context.length} context maps (${f.context.join(', ')}), got ${context.length}`);
  const { labels, count } = hysteresisObjects(map, shape, f.candidates, f.connectivity);
  const x = objectFeatures(labels, objectVoxels(labels, count), map, context, shape, vs);
  const s = candidateScores(forestOf(f, 'object_filter'), x, count);
  const remap = new Uint32Array(count + 1);
  let n = 0;
  for (let l = 1; l <= count; l++) if (s[l - 1] >= f.cut) remap[l] = ++n;
  for (let i = 0; i < labels.length; i++) labels[i] = remap[labels[i]];
  return { labels, count: n, dropped: count - n };
}
