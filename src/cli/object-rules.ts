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
import { FormatError } from '../core/errors.js';
import { localPath, splitChannel } from '../formats/open.js';
import { type Calibration, calibrate } from '../stages/predict/calibration.js';
import type { CrossFitResult } from '../stages/predict/training.js';
import { DEFAULT_OBJECT_GRID, type ObjectParams, SPLIT_MIN_SEED, chooseObjectParams } from '../stages/synapses/objects.js';

/** The grid searched (wider than the default: a forest's probabilities of a rare class can sit low on unseen voxels). */
export const OBJECT_RULE_GRID = { ...DEFAULT_OBJECT_GRID, high: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] };
/**
 * `train-pixels --split-objects`: the grid with splits of touching objects (seed levels, seed
 * sizes in voxels) added; each split option costs about one more pass over the plain grid.
 * Chosen on vnc-sstem sections 0-5 out of fold (docs/ACCURACY.md "Mitochondria: touching objects").
 */
export const SPLIT_RULE_GRID = { ...OBJECT_RULE_GRID, split: [0.8, 0.9, 0.95], splitMinSeed: [20, 80] };

export interface ObjectRule extends ObjectParams {
  /** pooled out-of-fold object F1, found and true objects at the chosen rule */
  f1: number;
  found: number;
  truth: number;
}

/** Crop channel-free data over `region` to `b`. */
function cropTo<T extends Float32Array | Int16Array>(d: T, region: Box, b: Box, make: (n: number) => T): T {
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

/** The rule of every output (by name) chosen on the cross-fitted maps; classes without a true object get none. */
export function chooseObjectRules(cf: CrossFitResult, outputs: string[], grid: Parameters<typeof chooseObjectParams>[1] = OBJECT_RULE_GRID): Record<string, ObjectRule> {
  const rules: Record<string, ObjectRule> = {};
  const classes = cf.halves.map((h) => cropTo(cf.classes, cf.region, h, (n) => new Int16Array(n)));
  outputs.forEach((name, k) => {
    const vols = cf.halves.map((h, j) => {
      const cls = classes[j];
      // unlabelled voxels are scored as "not this class" (the labels are dense, >= 90 %)
      return { prob: cropTo(cf.maps[k], cf.region, h, (n) => new Float32Array(n)), truth: Uint8Array.from(cls, (c) => (c === k ? 1 : 0)), shape: boxShape(h) as Vec3 };
    });
    if (!vols.some((v) => v.truth.some((t) => t === 1))) return;
    const { best } = chooseObjectParams(vols, grid);
    if (best.truth === 0) return;
    const split = best.split === undefined ? {} : { split: best.split, splitMinSeed: best.splitMinSeed };
    rules[name] = { high: best.high, low: best.low, minSize: best.minSize, ...split, f1: +best.f1.toFixed(4), found: best.found, truth: best.truth };
  });
  return rules;
}

/**
 * info "wiring" field of a predicted map: the rule of each output channel (by channel index). The
 * rules are chosen on the forest's own probabilities; for a calibrated map (`calibration`, one per
 * output channel) the thresholds are mapped through the same monotone calibration.
 */
export function objectRulesInfo(outputs: string[], rules: Record<string, ObjectParams>, calibration?: Calibration[]): Record<string, { output: string; high: number; low: number; min_size: number; split?: number; split_min_seed?: number }> {
  const out: Record<string, { output: string; high: number; low: number; min_size: number; split?: number; split_min_seed?: number }> = {};
  outputs.forEach((name, c) => {
    const r = rules[name];
    const f = (t: number): number => (calibration ? +calibrate(calibration[c], t).toFixed(6) : t);
    if (r) out[String(c)] = { output: name, high: f(r.high), low: f(r.low), min_size: r.minSize, ...(r.split !== undefined ? { split: f(r.split), split_min_seed: r.splitMinSeed ?? SPLIT_MIN_SEED } : {}) };
  });
  return out;
}

/**
 * The rule carried by a map source (`layer` or `layer?channel=N`): its precomputed info's
 * `wiring.object_rules` entry for that channel (channel 0 of a one-channel layer). Undefined when
 * the source is not a local precomputed layer or carries no rule; a malformed rule is a FormatError.
 */
export function carriedObjectRule(spec: string): ObjectParams | undefined {
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
  const r = rules[String(c)] as { high?: unknown; low?: unknown; min_size?: unknown; split?: unknown; split_min_seed?: unknown } | undefined;
  if (r === undefined) return undefined;
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
