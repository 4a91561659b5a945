import type { Vec3 } from '../../core/box.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { type Connectivity, connectedComponents } from '../../kernels/components.js';
import { Forest } from '../../ml/forest/index.js';
import { CANDIDATE_RULES, type CandidateSet, candidateScores, matchCandidates, objectF1, outOfFoldCuts, trainCandidateForest } from './candidate-match.js';
import { CLEFT_FEATURE_NAMES, type CleftFeatureMaps, type ObjectVoxels, cleftFeatures, objectVoxels } from './cleft-features.js';
import { contactObjects } from './contact-candidates.js';
import { CONTACT_FEATURE_NAMES, contactFeatures } from './contact-features.js';
import { SITE_FEATURE_NAMES, siteObjects } from './contact-sites.js';
import { type ObjectParams, hysteresisObjects } from './objects.js';

/**
 * The feature sets a filter may carry: the maps' features alone, with the segmentation's
 * (contact-features.ts), or those and the contact site's (contact-sites.ts) for candidates that are
 * contact sites.
 */
export const FILTER_FEATURE_SETS = {
  maps: [...CLEFT_FEATURE_NAMES] as string[],
  segmentation: [...CLEFT_FEATURE_NAMES, ...CONTACT_FEATURE_NAMES] as string[],
  sites: [...CLEFT_FEATURE_NAMES, ...CONTACT_FEATURE_NAMES, ...SITE_FEATURE_NAMES] as string[],
};

/** The maps (and, for a filter trained with segmentation features, the segment labels) a filter's features read. */
export interface FilterMaps extends CleftFeatureMaps {
  /** Segment labels (any uint32 labels, 0 = none) over the same voxels. */
  segmentation?: Uint32Array;
}

/** Does this filter read the segmentation? */
export function filterNeedsSegmentation(f: CleftFilter): boolean {
  return f.features.length >= FILTER_FEATURE_SETS.segmentation.length;
}

/** Features of objects 1..count (sample-major) for a feature set: the maps' features, then the segmentation's when it is read. */
export function filterFeatures(labels: Uint32Array, obj: ObjectVoxels, maps: FilterMaps, shape: Vec3, vs: Vec3, withSegmentation: boolean, siteFeatures?: Float32Array): Float32Array {
  const a = cleftFeatures(labels, obj, maps, shape, vs);
  if (!withSegmentation) return a;
  if (!maps.segmentation) throw new UsageError('this cleft filter was trained with segmentation features: it needs the segmentation');
  const b = contactFeatures(obj, maps, maps.segmentation, shape, vs);
  const Fa = CLEFT_FEATURE_NAMES.length, Fb = CONTACT_FEATURE_NAMES.length, Fc = siteFeatures ? SITE_FEATURE_NAMES.length : 0;
  const F = Fa + Fb + Fc;
  const out = new Float32Array(obj.count * F);
  for (let l = 0; l < obj.count; l++) {
    out.set(a.subarray(l * Fa, (l + 1) * Fa), l * F);
    out.set(b.subarray(l * Fb, (l + 1) * Fb), l * F + Fa);
    if (siteFeatures) out.set(siteFeatures.subarray(l * Fc, (l + 1) * Fc), l * F + Fa + Fb);
  }
  return out;
}

/**
 * The cleft object filter: a random forest on object-level features (cleft-features.ts) of
 * candidate cleft objects, trained on a training volume's candidates labelled by matching them one to
 * one to its true clefts, with the candidate rule and the score cut chosen by pooled object F1 on
 * cross-fitted (out-of-fold) scores. A pixel model carries it (`wiring train-pixels` trains it on its
 * own out-of-fold maps, `wiring predict` writes it into the cleft channel's info) and `wiring
 * synapses` applies it to every candidate cleft by default (detect.ts).
 */
export interface CleftFilter {
  version: 1;
  /** Feature names, in the forest's order: one of FILTER_FEATURE_SETS (with the segmentation's when trained on volumes with a segmentation). */
  features: string[];
  /** Candidates: hysteresis objects of the cleft map under this rule (cut along the segmentation's contacts when `bySegmentPair`: contact-candidates.ts). */
  candidates: CandidateRule;
  /** A candidate is kept when the forest's probability of "true cleft" is >= cut. */
  cut: number;
  /** The forest, WRF1 bytes in base64. */
  forest: string;
  /** Pooled out-of-fold object scores at the chosen candidates and cut (on the training volumes; a match needs IoU >= minIou). */
  oof: { f1: number; found: number; matched: number; truth: number; candidates: number; minIou: number };
}

/**
 * A candidate rule: hysteresis + size, optionally cut along the contacts of segment pairs
 * (`bySegmentPair`: contact-candidates.ts), or the segmentation's contact sites cut in patches of
 * `patchNm` (contact-sites.ts: a site's voxels of p >= low, kept when one reaches high); both need
 * the segmentation.
 */
export type CandidateRule = ObjectParams & { bySegmentPair?: boolean; patchNm?: number };

/**
 * Candidate objects of a cleft map under a rule (6- or 26-connected). Contact-site rules need the
 * voxel size and the block's first voxel in the dataset (`origin`: their patch grid is the
 * dataset's) and give each object's site features.
 */
export function candidateObjects(cleft: Float32Array, shape: Vec3, rule: CandidateRule, conn: Connectivity, segmentation?: Uint32Array, vs?: Vec3, origin?: Vec3): { labels: Uint32Array; count: number; siteFeatures?: Float32Array } {
  if (!rule.bySegmentPair && rule.patchNm === undefined) return hysteresisObjects(cleft, shape, rule, conn);
  if (!segmentation) throw new UsageError('this cleft filter takes its candidates from the segmentation\'s contacts: it needs the segmentation');
  if (rule.patchNm !== undefined) {
    if (!vs) throw new UsageError('contact-site candidates need the voxel size');
    return siteObjects(cleft, segmentation, shape, vs, { ...rule, patchNm: rule.patchNm }, origin);
  }
  return contactObjects(cleft, segmentation, shape, rule, conn);
}

/**
 * Contact-site candidate rules (contact-sites.ts), tried when the training volumes have a
 * segmentation: the sites' bands where p >= low, in patches of 500 nm (about two clefts' width on
 * the phantom; docs/ACCURACY.md "Contact sites as candidates").
 */
export const SITE_RULES: CandidateRule[] = [
  { high: 0.5, low: 0.25, minSize: 10, patchNm: 500 },
  { high: 0.5, low: 0.4, minSize: 10, patchNm: 500 },
  { high: 0.3, low: 0.15, minSize: 10, patchNm: 500 },
];

/** Candidate rules cut along the contacts of segment pairs, as measured (docs/ACCURACY.md); pass as `pairRules` to try them. */
export const PAIR_RULES: CandidateRule[] = [
  { high: 0.5, low: 0.25, minSize: 10, bySegmentPair: true },
  { high: 0.4, low: 0.2, minSize: 10, bySegmentPair: true },
  { high: 0.5, low: 0.35, minSize: 10, bySegmentPair: true },
];

/** Every default of the filter's training in one place (the CLI help reads it). */
export const CLEFT_FILTER_DEFAULTS = {
  /** Candidate rules tried (the one with the best out-of-fold F1 after filtering is kept). */
  candidateRules: [...CANDIDATE_RULES] as CandidateRule[],
  /**
   * Tried besides when the training volumes have a segmentation: rules whose components are cut
   * along the contacts of segment pairs (contact-candidates.ts), e.g. `PAIR_RULES`. None by default:
   * on the phantom they raise the candidates' recall at IoU >= 0.1 (91 -> 100 of 144 true clefts on
   * seed 2's out-of-fold maps) and the filter's out-of-fold F1 (0.359 -> 0.384), but the chosen
   * filter scored worse on the other seed (cleft object F1 0.513 -> 0.311; docs/ACCURACY.md).
   */
  pairRules: [] as CandidateRule[],
  /**
   * Tried besides when the training volumes have a segmentation: candidates = contact sites
   * (contact-sites.ts), e.g. `SITE_RULES` (`train-pixels --contact-sites`). None by default: on the
   * phantom, trained with the true neurons, they were chosen out of fold and lifted cleft object F1
   * a little held out (0.513 -> 0.518, 0.518 -> 0.582), but on a predicted segmentation the filter
   * dropped nearly every site (partner F1 0.365 -> 0.053; docs/ACCURACY.md "Contact sites as candidates").
   */
  siteRules: [] as CandidateRule[],
  /**
   * A candidate matches a true cleft (greedy one to one by overlap) when their IoU is at least this:
   * a membrane-long component that merely touches a cleft is not a cleft object (its plane, and so
   * its partners, are the membrane's). Training labels and the choice of rule and cut use it.
   */
  minIou: 0.1,
  /** Score cuts tried. */
  cuts: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95],
  trees: 96,
  maxDepth: 20,
  minSamplesLeaf: 4,
  /**
   * Fewer true clefts (pooled over the folds) than this train no filter: a forest on 18 features
   * learnt from a few dozen clefts dropped every cleft of the demo's test phantom (25 true clefts in
   * its training phantom, out-of-fold F1 0.2); the bench's training phantoms hold 150-180.
   */
  minTrueClefts: 50,
  /** Candidates are 6-connected components, as `wiring synapses` finds clefts by default. */
  connectivity: 6 as Connectivity,
  seed: 17,
  /** Use the segmentation features (contact-features.ts) when every training volume has its segmentation. */
  segmentation: true,
};

export interface FilterVolume extends FilterMaps {
  /** 1 = a true cleft voxel. */
  truth: Uint8Array;
  shape: Vec3;
}

function candidatesOf(v: FilterVolume, vs: Vec3, rule: CandidateRule, conn: Connectivity, minIou: number, withSegmentation: boolean): CandidateSet {
  const { labels, count, siteFeatures } = candidateObjects(v.cleft, v.shape, rule, conn, v.segmentation, vs);
  const x = filterFeatures(labels, objectVoxels(labels, count), v, v.shape, vs, withSegmentation, siteFeatures);
  return { count, x, ...matchCandidates(labels, count, v.truth, v.shape, 26, minIou) };
}

export interface FilterChoiceRow {
  candidates: CandidateRule;
  cut: number;
  found: number;
  matched: number;
  truth: number;
  f1: number;
}

/**
 * Train the filter on volumes with true clefts (each a fold: every volume's candidates are scored by
 * a forest trained on the other volumes', so at least two volumes are needed; pass out-of-fold maps).
 * No filter (and `skipped` says why) when the volumes hold fewer than `minTrueClefts` true clefts;
 * none either when no candidate rule finds a true cleft in two volumes.
 */
export function trainCleftFilter(vols: FilterVolume[], vs: Vec3, options: Partial<typeof CLEFT_FILTER_DEFAULTS> = {}): { filter?: CleftFilter; rows: FilterChoiceRow[]; skipped?: string } {
  const opts = { ...CLEFT_FILTER_DEFAULTS, ...options };
  if (vols.length < 2) throw new UsageError('the cleft filter is cross-fitted: it needs at least two volumes (folds)');
  const nTrue = vols.reduce((a, v) => a + connectedComponents(v.truth, v.shape, { connectivity: 26 }).count, 0);
  if (nTrue < opts.minTrueClefts) return { rows: [], skipped: `${nTrue} true clefts in the training volumes, fewer than the ${opts.minTrueClefts} the cleft filter needs` };
  // segmentation features when every volume has its segmentation
  const withSeg = opts.segmentation && vols.every((v) => v.segmentation !== undefined);
  const namesOf = (rule: CandidateRule): string[] => (rule.patchNm !== undefined ? FILTER_FEATURE_SETS.sites : withSeg ? FILTER_FEATURE_SETS.segmentation : FILTER_FEATURE_SETS.maps);
  const rows: FilterChoiceRow[] = [];
  let best: { row: FilterChoiceRow; sets: CandidateSet[] } | undefined;
  for (const rule of withSeg ? [...opts.candidateRules, ...opts.pairRules, ...opts.siteRules] : opts.candidateRules) {
    const sets = vols.map((v) => candidatesOf(v, vs, rule, opts.connectivity, opts.minIou, withSeg));
    if (sets.filter((s) => s.y.some((v) => v === 1)).length < 2) continue;
    const truth = sets.reduce((a, s) => a + s.nTrue, 0);
    for (const { cut, found, matched } of outOfFoldCuts(sets, namesOf(rule).length, opts, opts.cuts, opts.minIou)) {
      const row = { candidates: rule, cut, found, matched, truth, f1: objectF1(found, matched, truth) };
      rows.push(row);
      if (!best || row.f1 > best.row.f1 + 1e-12) best = { row, sets };
    }
  }
  if (!best || best.row.matched === 0) return { rows };
  const names = namesOf(best.row.candidates);
  const forest = trainCandidateForest(best.sets, names.length, opts)!;
  const candidates = best.sets.reduce((a, s) => a + s.count, 0);
  const r = best.row;
  return {
    rows,
    filter: {
      version: 1,
      features: [...names],
      candidates: r.candidates,
      cut: r.cut,
      forest: Buffer.from(forest.toBytes()).toString('base64'),
      oof: { f1: +r.f1.toFixed(4), found: r.found, matched: r.matched, truth: r.truth, candidates, minIou: opts.minIou },
    },
  };
}

const decoded = new WeakMap<CleftFilter, Forest>();

/** Check a filter read from a file (FormatError naming `where` and the field). */
export function checkCleftFilter(f: unknown, where: string): CleftFilter {
  const c = f as Partial<CleftFilter> | undefined;
  const bad = (field: string, why: string): never => {
    throw new FormatError(`cleft_filter.${field}: ${why}`, where);
  };
  if (!c || typeof c !== 'object') return bad('', 'expected an object');
  if (c.version !== 1) bad('version', `expected 1, got ${JSON.stringify(c.version)}`);
  const sets = Object.values(FILTER_FEATURE_SETS);
  if (!Array.isArray(c.features) || !sets.some((n) => n.join() === c.features!.join())) bad('features', `expected [${FILTER_FEATURE_SETS.maps.join(', ')}], optionally followed by [${CONTACT_FEATURE_NAMES.join(', ')}] and then [${SITE_FEATURE_NAMES.join(', ')}] (this build's cleft features)`);
  const r = c.candidates;
  if (!r || !(r.low >= 0 && r.low <= r.high && r.high <= 1 && r.minSize >= 0)) bad('candidates', `expected 0 <= low <= high <= 1 and minSize >= 0, got ${JSON.stringify(r)}`);
  if (r!.bySegmentPair !== undefined && typeof r!.bySegmentPair !== 'boolean') bad('candidates.bySegmentPair', `expected true or false, got ${JSON.stringify(r!.bySegmentPair)}`);
  if (r!.bySegmentPair && c.features!.length !== FILTER_FEATURE_SETS.segmentation.length) bad('candidates.bySegmentPair', 'candidates cut by segment pair need a filter trained with the segmentation features');
  if (r!.patchNm !== undefined && !(typeof r!.patchNm === 'number' && r!.patchNm > 0)) bad('candidates.patchNm', `expected a positive number (nm), got ${JSON.stringify(r!.patchNm)}`);
  if ((r!.patchNm !== undefined) !== (c.features!.length === FILTER_FEATURE_SETS.sites.length)) bad('candidates.patchNm', 'contact-site candidates (patchNm) go with the site feature set, and only they');
  if (typeof c.cut !== 'number' || !(c.cut >= 0 && c.cut <= 1)) bad('cut', `expected a number in [0, 1], got ${JSON.stringify(c.cut)}`);
  if (typeof c.forest !== 'string' || c.forest.length === 0) bad('forest', 'expected the forest in base64');
  const forest = Forest.fromBytes(Buffer.from(c.forest!, 'base64'), `${where} (cleft_filter.forest)`);
  if (forest.nFeatures !== c.features!.length || forest.nClasses !== 2) bad('forest', `expected ${c.features!.length} features and 2 classes, got ${forest.nFeatures} and ${forest.nClasses}`);
  decoded.set(c as CleftFilter, forest);
  return c as CleftFilter;
}

/**
 * Scores ("true cleft" probability) of objects 1..count of `labels` (row l - 1 = object l; their
 * voxels `objects`, from objectVoxels) under the filter. Maps are probabilities in [0, 1] over `shape`.
 */
export function cleftScores(filter: CleftFilter, labels: Uint32Array, objects: ObjectVoxels, maps: FilterMaps, shape: Vec3, vs: Vec3, siteFeatures?: Float32Array): Float32Array {
  let f = decoded.get(filter);
  if (!f) {
    f = Forest.fromBytes(Buffer.from(filter.forest, 'base64'), 'cleft_filter.forest');
    decoded.set(filter, f);
  }
  if (filter.candidates.patchNm !== undefined && !siteFeatures) throw new UsageError('this cleft filter scores contact sites: it needs their site features (candidateObjects)');
  const x = filterFeatures(labels, objects, maps, shape, vs, filterNeedsSegmentation(filter), filter.candidates.patchNm !== undefined ? siteFeatures : undefined);
  return candidateScores(f, x, objects.count);
}
