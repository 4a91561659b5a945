/**
 * Object rules carried by a pixel model: `wiring train-pixels` chooses, for every class of a
 * densely labelled model, the hysteresis rule (high, low, min size) with the best pooled object F1
 * on the out-of-fold maps of its training region (the synapses stage's
 * `chooseObjectParams`, each half predicted by a forest trained on the other); `wiring predict`
 * writes the rules into the map's info (`"wiring": {"object_rules": {"<channel>": {...}}}`) and
 * `wiring synapses` uses the rule of the channel it reads when no threshold is given.
 * This joins the predict and synapses stages, so it lives in the CLI layer.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Box, type Vec3, boxShape } from '../core/box.js';
import { FormatError, UsageError } from '../core/errors.js';
import { localPath, splitChannel } from '../formats/open.js';
import { connectedComponents } from '../kernels/components.js';
import { type Calibration, calibrate } from '../stages/predict/calibration.js';
import type { CrossFitResult } from '../stages/predict/training.js';
import { CLASS_NAMES } from '../stages/classes/classes.js';
import { CLEFT_FILTER_DEFAULTS, type CleftFilter, type FilterVolume, checkCleftFilter, trainCleftFilter } from '../stages/synapses/cleft-filter.js';
import { type ObjectFilter, type ObjectFilterVolume, OBJECT_FILTER_DEFAULTS, checkObjectFilter, trainObjectFilter } from '../stages/synapses/object-filter.js';
import { DEFAULT_OBJECT_GRID, type ObjectParams, SPLIT_MIN_SEED, chooseObjectParams } from '../stages/synapses/objects.js';

/** The grid searched (wider than the default: a forest's probabilities of a rare class can sit low on unseen voxels). */
export const OBJECT_RULE_GRID = { ...DEFAULT_OBJECT_GRID, high: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] };
/**
 * `train-pixels --split-objects`: the grid with splits of touching objects (seed levels, seed
 * sizes in voxels) added; they are searched on the plain rule chosen first (chooseObjectRules).
 * Chosen on vnc-sstem sections 0-5 out of fold (docs/ACCURACY.md "Mitochondria: touching objects").
 */
export const SPLIT_RULE_GRID = { ...OBJECT_RULE_GRID, split: [0.8, 0.9, 0.95], splitMinSeed: [20, 80] };
/**
 * A split is kept only when it raises the pooled out-of-fold F1 of the plain rule by this much
 * (about one object in 25: less is within the noise of a few dozen training objects).
 */
export const SPLIT_MIN_GAIN = 0.04;
/**
 * A class whose training region holds fewer true objects than this, and whose chosen rule scores
 * under RULE_WARN_F1 out of fold, gets its rule with a warning (ObjectRule.warning, printed by
 * train-pixels): its choice rests on a handful of matches (the pipeline bench's 192x192x48 training
 * phantom: 14 clefts, 1-4 matched at every grid point). A class of one or a few large objects found
 * well (e.g. ISBI's membrane and interior) gets none.
 */
export const RULE_MIN_TRUE_OBJECTS = 30;
export const RULE_WARN_F1 = 0.5;

/**
 * The minimum sizes of `sizes` a rule may use on `volumes`: those no larger than the largest true
 * object (26-connected, as the rules are scored), else the smallest size. A larger minimum drops
 * every object as large as the largest true one, so it can win out of fold only through the greedy
 * any-overlap matching of a few merged low-threshold blobs that touch true objects: so on the
 * pipeline bench's training phantom (seed 101, clefts of at most 180 voxels) the cleft rule kept
 * only components of 1,600 voxels and more and found no synapse on the test phantoms (docs/ACCURACY.md
 * "The cleft rule of a small training volume").
 */
export function boundedMinSizes(sizes: number[], volumes: { truth: Uint8Array; shape: Vec3 }[]): { sizes: number[]; largestTrue: number } {
  let largestTrue = 0;
  for (const v of volumes) {
    const { labels, count } = connectedComponents(v.truth, v.shape, { connectivity: 26 });
    const n = new Float64Array(count + 1);
    for (let i = 0; i < labels.length; i++) if (labels[i]) n[labels[i]]++;
    for (let l = 1; l <= count; l++) if (n[l] > largestTrue) largestTrue = n[l];
  }
  const kept = sizes.filter((m) => m <= largestTrue);
  return { sizes: kept.length ? kept : [Math.min(...sizes)], largestTrue };
}

export interface ObjectRule extends ObjectParams {
  /** pooled out-of-fold object F1, found and true objects at the chosen rule */
  f1: number;
  found: number;
  truth: number;
  /**
   * The cleft class (`wiring classes` class "cleft", with a "vesicle" class beside it): the object
   * filter trained on the out-of-fold maps (stages/synapses/cleft-filter.ts); `wiring synapses`
   * applies it to the candidates of its own rule instead of this rule.
   */
  filter?: CleftFilter;
  /** Why the cleft class got no filter (too few true clefts in the training region). */
  filterSkipped?: string;
  /**
   * The object filter of a class without the cleft filter (stages/synapses/object-filter.ts: the
   * other class maps around each candidate), trained on the out-of-fold maps when asked for
   * (`train-pixels --object-filter`) and kept only when it beats this rule out of fold.
   */
  objectFilter?: ObjectFilter;
  /** Why the class got no object filter (too few true objects, or it did not beat the rule out of fold). */
  objectFilterSkipped?: string;
  /** The largest true object of the scored region (voxels): the minimum sizes searched were bounded by it (boundedMinSizes). */
  largestTrue?: number;
  /** Why the rule is weakly supported (fewer than RULE_MIN_TRUE_OBJECTS true objects and out-of-fold F1 under RULE_WARN_F1); train-pixels prints it as a warning. */
  warning?: string;
}

/** Crop channel-free data over `region` to `b`. */
function cropTo<T extends Float32Array | Int16Array | Uint32Array>(d: T, region: Box, b: Box, make: (n: number) => T): T {
  const rs = boxShape(region), bs = boxShape(b);
  const out = make(bs[0] * bs[1] * bs[2]);
  for (let z = 0, o = 0; z < bs[2]; z++) {
    for (let y = 0; y < bs[1]; y++, o += bs[0]) {
      const s = b.min[0] - region.min[0] + rs[0] * (b.min[1] - region.min[1] + y + rs[1] * (b.min[2] - region.min[2] + z));
      out.set(d.subarray(s, s + bs[0]), o);
    }
  }
  return out;
}

/** Output names of the cleft and vesicle classes of `wiring classes` labels. */
export const CLEFT_OUTPUT = `class_${CLASS_NAMES.indexOf('cleft')}`;
export const VESICLE_OUTPUT = `class_${CLASS_NAMES.indexOf('vesicle')}`;
/** Output name of the boundary class of `wiring classes` labels (`train-pixels --predicted-segmentation` segments it). */
export const BOUNDARY_OUTPUT = `class_${CLASS_NAMES.indexOf('boundary')}`;

/** `b` cut in two along its longest axis. */
function halve(b: Box): [Box, Box] {
  const s = boxShape(b);
  const a = s[0] >= s[1] && s[0] >= s[2] ? 0 : s[1] >= s[2] ? 1 : 2;
  const mid = b.min[a] + Math.floor(s[a] / 2);
  const loMax = [...b.max], hiMin = [...b.min];
  loMax[a] = mid;
  hiMin[a] = mid;
  return [{ min: b.min, max: loMax as unknown as Vec3 }, { min: hiMin as unknown as Vec3, max: b.max }];
}

/**
 * The cleft object filter trained on the cross-fitted maps (each half of the training region cut in
 * two again: four folds, so each fold's filter learns from three quarters), or undefined when the
 * outputs have no cleft and vesicle class or the folds hold too few true clefts (`skipped` says so).
 * With `segmentation` (segment labels over `cf.region`, e.g. compactLabels of the training region's
 * neurons) the filter also reads the segments across each candidate (contact-features.ts), and
 * `wiring synapses` then reads its --segmentation for them.
 */
export function chooseCleftFilter(cf: CrossFitResult, outputs: string[], voxelSize: Vec3, segmentation?: Uint32Array, options: Partial<typeof CLEFT_FILTER_DEFAULTS> = {}): { filter?: CleftFilter; skipped?: string } {
  const kc = outputs.indexOf(CLEFT_OUTPUT), kv = outputs.indexOf(VESICLE_OUTPUT);
  if (kc < 0 || kv < 0) return {};
  const folds = cf.halves.flatMap((h) => halve(h));
  const vols: FilterVolume[] = folds.map((b) => ({
    cleft: cropTo(cf.maps[kc], cf.region, b, (n) => new Float32Array(n)),
    vesicle: cropTo(cf.maps[kv], cf.region, b, (n) => new Float32Array(n)),
    truth: Uint8Array.from(cropTo(cf.classes, cf.region, b, (n) => new Int16Array(n)), (c) => (c === kc ? 1 : 0)),
    shape: boxShape(b) as Vec3,
    ...(segmentation ? { segmentation: cropTo(segmentation, cf.region, b, (n) => new Uint32Array(n)) } : {}),
  }));
  const { filter, skipped } = trainCleftFilter(vols, voxelSize, options);
  return { filter, skipped };
}

/**
 * A class is scored on the whole cross-fitted region when at least this fraction of its true objects
 * cross the halves' cut (else per half). Set between the two cases measured: vnc-sstem's halves of 3
 * sections, where most objects cross, and the phantom's of 40, where few do (docs/ACCURACY.md).
 */
export const WHOLE_REGION_CROSSING = 0.25;

/** The fraction of the true objects (26-components of `truth` over the region) with voxels in both halves. */
function crossingFraction(truth: Uint8Array, shape: Vec3, cf: CrossFitResult): number {
  const { labels, count } = connectedComponents(truth, shape, { connectivity: 26 });
  if (count === 0) return 0;
  const side = new Uint8Array(count + 1);
  const h1 = cf.halves[1];
  const [sx, sy] = shape;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!l) continue;
    const x = cf.region.min[0] + (i % sx), y = cf.region.min[1] + (Math.floor(i / sx) % sy), z = cf.region.min[2] + Math.floor(i / (sx * sy));
    const inSecond = x >= h1.min[0] && y >= h1.min[1] && z >= h1.min[2] && x < h1.max[0] && y < h1.max[1] && z < h1.max[2];
    side[l] |= inSecond ? 2 : 1;
  }
  let crossing = 0;
  for (let l = 1; l <= count; l++) if (side[l] === 3) crossing++;
  return crossing / count;
}

/**
 * The object filter's folds: the region cut in four along its longest axis (twice halved), so that
 * (on a stack of sections) each fold keeps every section and the objects whole in z.
 */
export function filterFolds(region: Box): Box[] {
  const [a, b] = halve(region);
  const s = boxShape(region);
  const axis = s[0] >= s[1] && s[0] >= s[2] ? 0 : s[1] >= s[2] ? 1 : 2;
  const cut = (h: Box): [Box, Box] => {
    const mid = h.min[axis] + Math.floor((h.max[axis] - h.min[axis]) / 2);
    const loMax = [...h.max], hiMin = [...h.min];
    loMax[axis] = mid;
    hiMin[axis] = mid;
    return [{ min: h.min, max: loMax as unknown as Vec3 }, { min: hiMin as unknown as Vec3, max: h.max }];
  };
  return [...cut(a), ...cut(b)];
}

/**
 * The object filter of output `name` trained on the cross-fitted maps (four folds, filterFolds), its context the other outputs' maps; `rule` is the class's plain rule (the baseline the
 * filter must beat out of fold, and one of its candidate rules). `extra`: more context maps over
 * the cross-fit region (e.g. raw-intensity maps), named.
 */
export function chooseObjectFilter(
  cf: CrossFitResult,
  outputs: string[],
  name: string,
  voxelSize: Vec3,
  rule: ObjectParams,
  options: Partial<typeof OBJECT_FILTER_DEFAULTS> = {},
  extra: { names: string[]; maps: Float32Array[] } = { names: [], maps: [] },
): ReturnType<typeof trainObjectFilter> {
  const k = outputs.indexOf(name);
  if (k < 0) throw new UsageError(`object filter: no output "${name}" among ${outputs.join(', ')}`);
  const ctx = outputs.map((_, j) => j).filter((j) => j !== k);
  const folds = filterFolds(cf.region);
  const vols: ObjectFilterVolume[] = folds.map((b) => ({
    map: cropTo(cf.maps[k], cf.region, b, (n) => new Float32Array(n)),
    context: [...ctx.map((j) => cf.maps[j]), ...extra.maps].map((m) => cropTo(m, cf.region, b, (n) => new Float32Array(n))),
    truth: Uint8Array.from(cropTo(cf.classes, cf.region, b, (n) => new Int16Array(n)), (c) => (c === k ? 1 : 0)),
    shape: boxShape(b) as Vec3,
  }));
  return trainObjectFilter(vols, [...ctx.map((j) => outputs[j]), ...extra.names], voxelSize, rule, options);
}

/**
 * The rule of every output (by name) chosen on the cross-fitted maps; classes without a true object
 * get none (`grid`: the rules searched). With the voxel size, the cleft class also gets its object
 * filter (chooseCleftFilter; with segmentation features when `segmentation`, segment labels over
 * `cf.region`, is given), and each class named in `objectFilters` (that has no cleft filter) its
 * object filter (chooseObjectFilter).
 */
export function chooseObjectRules(cf: CrossFitResult, outputs: string[], grid: Parameters<typeof chooseObjectParams>[1] = OBJECT_RULE_GRID, voxelSize?: Vec3, objectFilters: string[] = [], segmentation?: Uint32Array, cleftFilterOptions: Partial<typeof CLEFT_FILTER_DEFAULTS> = {}): Record<string, ObjectRule> {
  const rules: Record<string, ObjectRule> = {};
  // a class whose true objects the halves' cut truncates (WHOLE_REGION_CROSSING of them or more cross
  // it) is scored on the whole region: every voxel of the cross-fitted map is out of fold, and on
  // vnc-sstem (halves of 3 sections) the truncated objects made the rules choose minimum sizes too
  // small for whole objects. Other classes are scored per half as before: on the phantom (halves of
  // 40 sections) the whole region chose a vesicle-cloud size that did worse held out (docs/ACCURACY.md).
  const shape = boxShape(cf.region) as Vec3;
  const halfClasses = cf.halves.map((h) => cropTo(cf.classes, cf.region, h, (n) => new Int16Array(n)));
  outputs.forEach((name, k) => {
    // unlabelled voxels are scored as "not this class" (the labels are dense, >= 90 %)
    const truth = Uint8Array.from(cf.classes, (c) => (c === k ? 1 : 0));
    const whole = crossingFraction(truth, shape, cf) >= WHOLE_REGION_CROSSING;
    const vols = whole
      ? [{ prob: cf.maps[k], truth, shape }]
      : cf.halves.map((h, j) => ({ prob: cropTo(cf.maps[k], cf.region, h, (n) => new Float32Array(n)), truth: Uint8Array.from(halfClasses[j], (c) => (c === k ? 1 : 0)), shape: boxShape(h) as Vec3 }));
    if (!vols.some((v) => v.truth.some((t) => t === 1))) return;
    const { split: levels, splitMinSeed: seeds, ...unbounded } = grid;
    const { sizes, largestTrue } = boundedMinSizes(unbounded.minSize, vols);
    const plainGrid = { ...unbounded, minSize: sizes };
    const { best: plain } = chooseObjectParams(vols, plainGrid);
    if (plain.truth === 0) return;
    let best = plain;
    if (levels?.length) {
      // the split is searched on the plain rule already chosen (its high and low fixed; the minimum
      // size searched again, the parts being smaller) and kept only when it beats it out of fold by
      // SPLIT_MIN_GAIN: searched with the rest of the rule, it once chose a hysteresis low enough
      // (0.1) to join most of a section into one object that the held-out map split badly (docs/ACCURACY.md)
      const fixed = { high: [plain.high], lowRatio: [plain.low / plain.high], minSize: plainGrid.minSize, split: levels.filter((l) => l >= plain.low), splitMinSeed: seeds };
      const splitRows = chooseObjectParams(vols, fixed).rows.filter((r) => r.split !== undefined && Math.abs(r.low - plain.low) < 1e-9);
      for (const r of splitRows) if (r.f1 >= plain.f1 + SPLIT_MIN_GAIN && r.f1 > best.f1 + 1e-12) best = r;
    }
    const split = best.split === undefined ? {} : { split: best.split, splitMinSeed: best.splitMinSeed };
    const warning = best.truth < RULE_MIN_TRUE_OBJECTS && best.f1 < RULE_WARN_F1 ? `${name}: object rule chosen on ${best.truth} true objects in the training region (fewer than ${RULE_MIN_TRUE_OBJECTS}; out-of-fold F1 ${best.f1.toFixed(3)}, ${best.matched} matched): a larger training volume gives a better-supported rule` : undefined;
    rules[name] = { high: best.high, low: best.low, minSize: best.minSize, ...split, f1: +best.f1.toFixed(4), found: best.found, truth: best.truth, largestTrue, ...(warning ? { warning } : {}) };
  });
  // a class named for the generic object filter gets that one, not the cleft filter (the names are
  // `wiring classes`' convention: class_3 of other labels, e.g. vnc-sstem's mitochondria, is no cleft)
  if (voxelSize && rules[CLEFT_OUTPUT] && !objectFilters.includes(CLEFT_OUTPUT)) {
    const { filter, skipped } = chooseCleftFilter(cf, outputs, voxelSize, segmentation, cleftFilterOptions);
    if (filter) rules[CLEFT_OUTPUT].filter = filter;
    if (skipped) rules[CLEFT_OUTPUT].filterSkipped = skipped;
  }
  if (voxelSize) {
    for (const name of objectFilters) {
      const r = rules[name];
      if (!r || r.filter) continue;
      const { filter, skipped } = chooseObjectFilter(cf, outputs, name, voxelSize, r);
      if (filter) r.objectFilter = filter;
      if (skipped) r.objectFilterSkipped = skipped;
    }
  }
  return rules;
}

interface RuleInfo {
  output: string;
  high: number;
  low: number;
  min_size: number;
  split?: number;
  split_min_seed?: number;
  /** The cleft object filter, with the channel of the same map its vesicle features read. */
  cleft_filter?: CleftFilter & { vesicle_channel: number };
  /** The object filter, with the channels of the same map its context features read (in its context order). */
  object_filter?: ObjectFilter & { context_channels: number[] };
}

/**
 * info "wiring" field of a predicted map: the rule of each output channel (by channel index). The
 * rules are chosen on the forest's own probabilities; for a calibrated map (`calibration`, one per
 * output channel) the thresholds are mapped through the same monotone calibration.
 */
export function objectRulesInfo(outputs: string[], rules: Record<string, ObjectParams & { filter?: unknown; objectFilter?: ObjectFilter }>, calibration?: Calibration[]): Record<string, RuleInfo> {
  const out: Record<string, RuleInfo> = {};
  const kv = outputs.indexOf(VESICLE_OUTPUT);
  outputs.forEach((name, c) => {
    const r = rules[name];
    const f = (t: number): number => (calibration ? +calibrate(calibration[c], t).toFixed(6) : t);
    if (!r) return;
    out[String(c)] = { output: name, high: f(r.high), low: f(r.low), min_size: r.minSize, ...(r.split !== undefined ? { split: f(r.split), split_min_seed: r.splitMinSeed ?? SPLIT_MIN_SEED } : {}) };
    // the filter's features are the forest's own probabilities: a calibrated map does not carry it
    if (r.filter && !calibration && kv >= 0) out[String(c)].cleft_filter = { ...(r.filter as CleftFilter), vesicle_channel: kv };
    const of = r.objectFilter;
    if (of && !calibration && of.context.every((x) => outputs.includes(x))) out[String(c)].object_filter = { ...of, context_channels: of.context.map((x) => outputs.indexOf(x)) };
  });
  return out;
}

/**
 * The rule carried by a map source (`layer` or `layer?channel=N`): its precomputed info's
 * `wiring.object_rules` entry for that channel (channel 0 of a one-channel layer). Undefined when
 * the source is not a local precomputed layer or carries no rule; a malformed rule is a FormatError.
 */
export function carriedObjectRule(spec: string): ObjectParams | undefined {
  const carried = carriedRuleEntry(spec);
  if (!carried) return undefined;
  const { r, c, file } = carried;
  const { high, low, min_size: minSize, split, split_min_seed: splitMinSeed } = r;
  if (typeof high !== 'number' || typeof low !== 'number' || typeof minSize !== 'number' || !(low >= 0 && low <= high && high <= 1) || !(minSize >= 0)) {
    throw new FormatError(`wiring.object_rules["${c}"] must hold 0 <= low <= high <= 1 and min_size >= 0, got ${JSON.stringify(r)}`, file);
  }
  if (split === undefined) return { high, low, minSize };
  if (typeof split !== 'number' || !(split >= low && split <= 1) || !(typeof splitMinSeed === 'number' && splitMinSeed >= 1)) {
    throw new FormatError(`wiring.object_rules["${c}"]: split must lie in [low, 1] with split_min_seed >= 1, got ${JSON.stringify(r)}`, file);
  }
  return { high, low, minSize, split, splitMinSeed };
}

/** The info file, channel and raw object_rules entry of a map source's channel (see carriedObjectRule). */
function carriedRuleEntry(spec: string): { r: Record<string, unknown>; c: number; file: string; base: string } | undefined {
  const { spec: base, channel } = splitChannel(spec);
  const local = localPath(base);
  if (local === undefined || local.includes('#')) return undefined;
  const file = path.join(local, 'info');
  if (!existsSync(file)) return undefined;
  let info: { num_channels?: number; wiring?: { object_rules?: Record<string, unknown> } };
  try {
    info = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const rules = info?.wiring?.object_rules;
  if (!rules) return undefined;
  const c = channel ?? (info.num_channels === 1 ? 0 : undefined);
  if (c === undefined) return undefined;
  const r = rules[String(c)] as Record<string, unknown> | undefined;
  if (r === undefined || r === null || typeof r !== 'object') return undefined;
  return { r, c, file, base };
}

/**
 * The cleft object filter carried by a cleft map source's channel (info `wiring.object_rules[c].cleft_filter`)
 * and the source of the vesicle channel of the same map its features read; undefined when it carries none.
 * A malformed filter is a FormatError naming the info file.
 */
export function carriedCleftFilter(spec: string): { filter: CleftFilter; vesicles: string } | undefined {
  const carried = carriedRuleEntry(spec);
  if (!carried || carried.r.cleft_filter === undefined) return undefined;
  const { vesicle_channel: vc, ...rest } = carried.r.cleft_filter as Record<string, unknown>;
  if (typeof vc !== 'number' || !Number.isInteger(vc) || vc < 0) throw new FormatError(`wiring.object_rules["${carried.c}"].cleft_filter.vesicle_channel must be a channel index, got ${JSON.stringify(vc)}`, carried.file);
  return { filter: checkCleftFilter(rest, carried.file), vesicles: `${carried.base}?channel=${vc}` };
}

/**
 * The object filter carried by a class map source's channel (info `wiring.object_rules[c].object_filter`)
 * and the sources of the context channels of the same map its features read; undefined when it
 * carries none. A malformed filter is a FormatError naming the info file.
 */
export function carriedObjectFilter(spec: string): { filter: ObjectFilter; context: string[] } | undefined {
  const carried = carriedRuleEntry(spec);
  if (!carried || carried.r.object_filter === undefined) return undefined;
  const { context_channels: cc, ...rest } = carried.r.object_filter as Record<string, unknown>;
  const filter = checkObjectFilter(rest, carried.file);
  if (!Array.isArray(cc) || cc.length !== filter.context.length || !cc.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new FormatError(`wiring.object_rules["${carried.c}"].object_filter.context_channels must hold one channel index per context map (${filter.context.length}), got ${JSON.stringify(cc)}`, carried.file);
  }
  return { filter, context: (cc as number[]).map((c) => `${carried.base}?channel=${c}`) };
}
