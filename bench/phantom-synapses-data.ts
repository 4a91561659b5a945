// Scoring a phantom's synapses and organelles as `wiring synapses` found them: object F1 of cleft,
// mitochondria and vesicle-cloud objects against the phantom's label layers, and synapse partner F1
// against its synapse table. Used by bench/phantom-synapses.bench.ts and to diagnose the demo.
import * as path from 'node:path';
import type { Vec3 } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { carriedCleftFilter, carriedObjectRule } from '../src/cli/object-rules.js';
import { partnersOf } from '../src/cli/synapse-scoring.js';
import { compactLabels, type LabelArray } from '../src/kernels/components.js';
import { labelObjectScores, type ObjectScores } from '../src/metrics/objects.js';
import { rocAuc } from '../src/stages/predict/metrics.js';
import { relabelPartners, synapticPartnerScore, type PartnerSynapse } from '../src/metrics/synapses.js';
import { readWhole } from '../src/stages/segment/io.js';
import { type ObjectParams, hysteresisObjects } from '../src/stages/synapses/objects.js';
import { probabilityScale } from '../src/stages/synapses/detect.js';
import { candidateObjects, cleftScores } from '../src/stages/synapses/cleft-filter.js';
import { matchCandidates } from '../src/stages/synapses/candidate-match.js';
import { objectVoxels } from '../src/stages/synapses/cleft-features.js';

export async function readVolume(spec: string): Promise<Volume> {
  return (await readWhole(spec)).vol;
}

/** A map as probabilities in [0, 1]. */
export function asProbability(v: Volume): Float32Array {
  const s = probabilityScale(v);
  const d = v.data as Uint8Array | Uint16Array | Float32Array;
  return Float32Array.from(d, (x) => x / s);
}

export interface ObjectRow {
  rule: ObjectParams;
  true_objects: number;
  found_objects: number;
  matched: number;
  precision: number;
  recall: number;
  f1: number;
  dice: number;
}

const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;

function row(rule: ObjectParams, s: ObjectScores): ObjectRow {
  return { rule, true_objects: s.trueObjects, found_objects: s.foundObjects, matched: s.matched, precision: r4(s.precision), recall: r4(s.recall), f1: r4(s.f1), dice: r4(s.dice) };
}

/** Objects of a map under a rule (6-connected, as `wiring synapses` finds them) scored against a truth label layer. */
export function scoreObjects(map: Volume, truth: Volume, rule: ObjectParams, conn: 6 | 26 = 6): ObjectRow {
  const o = hysteresisObjects(asProbability(map), map.shape as Vec3, rule, conn);
  return row(rule, labelObjectScores(o.labels, truth.data as LabelArray));
}

/**
 * Cleft objects as `wiring synapses` keeps them under the cleft filter the map carries (candidates of
 * its rule, 6-connected, scored and cut; a filter with segmentation features reads `segmentation`),
 * against a truth label layer; undefined when it carries none.
 */
export async function scoreFilteredClefts(spec: string, truth: Volume, segmentation?: Volume): Promise<(ObjectRow & { candidates: number; cut: number; candidate_recall: number }) | undefined> {
  const carried = carriedCleftFilter(spec);
  if (!carried) return undefined;
  const { filter, vesicles } = carried;
  const map = await readVolume(spec);
  const shape = map.shape as Vec3;
  const cleft = asProbability(map);
  const seg = segmentation ? compactLabels(segmentation.data as LabelArray).labels : undefined;
  const o = candidateObjects(cleft, shape, filter.candidates, 6, seg, map.voxelSize as Vec3, map.box.min as Vec3);
  const sc = cleftScores(filter, o.labels, objectVoxels(o.labels, o.count), { cleft, vesicle: asProbability(await readVolume(vesicles)), segmentation: seg }, shape, map.voxelSize as Vec3, o.siteFeatures);
  const remap = new Uint32Array(o.count + 1);
  let n = 0;
  for (let l = 1; l <= o.count; l++) if (sc[l - 1] >= filter.cut) remap[l] = ++n;
  const labels = o.labels.map((l) => remap[l]);
  return { ...row(filter.candidates, labelObjectScores(labels, truth.data as LabelArray)), candidates: o.count, cut: filter.cut, candidate_recall: candidateRecall(o.labels, o.count, truth, shape) };
}

/** The fraction of the true clefts (26-components of any nonzero label) overlapped by some candidate with IoU >= minIou: the filter's ceiling. */
export function candidateRecall(labels: Uint32Array, count: number, truth: Volume, shape: Vec3, minIou = 0.1): number {
  const t = truth.data as LabelArray;
  const m = matchCandidates(labels, count, Uint8Array.from(t as ArrayLike<number | bigint>, (v) => (v ? 1 : 0)), shape, 26, minIou);
  const hit = new Set<number>();
  for (const p of m.pairs) if (p.iou >= minIou) hit.add(p.t);
  return r4(m.nTrue ? hit.size / m.nTrue : 0);
}

/** A class map's pixel scores against a truth label layer (any nonzero label = the class): ROC AUC and mean p at its voxels. */
export function pixelScores(map: Volume, truth: Volume): { auc: number; mean_p_true: number; true_voxels: number } {
  const p = asProbability(map);
  const t = truth.data as LabelArray;
  const is = new Uint8Array(p.length);
  let n = 0, sum = 0;
  for (let i = 0; i < p.length; i++) if (t[i]) { is[i] = 1; n++; sum += p[i]; }
  return { auc: r4(rocAuc(p, is)), mean_p_true: r4(sum / n), true_voxels: n };
}

/** The rule carried by a predicted channel (its info's object_rules), else the given fallback. */
export function ruleOf(spec: string, fallback: ObjectParams): ObjectParams {
  return carriedObjectRule(spec) ?? fallback;
}

/** Detected synapses of a connectome database as partners. */
export async function detectedPartners(db: string): Promise<PartnerSynapse[]> {
  return partnersOf(db);
}

export interface PartnerRow {
  true_synapses: number;
  found_synapses: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  f1: number;
  /** Found synapses whose (post, pre) is a true pair (the direction decided wrongly). */
  reversed: number;
}

/** Partner F1 of detections against the truth (relabelled to the truth's segmentation at their points). */
export function scorePartners(found: PartnerSynapse[], truth: PartnerSynapse[], gtSeg: Volume, maxDistance = 400): PartnerRow {
  const pred = relabelPartners(found, gtSeg);
  const s = synapticPartnerScore(pred, truth, { maxDistance });
  const flipped = synapticPartnerScore(pred.map((p) => ({ ...p, pre_id: p.post_id, post_id: p.pre_id, pre: p.post, post: p.pre })), truth, { maxDistance });
  return { true_synapses: truth.length, found_synapses: found.length, tp: s.tp, fp: s.fp, fn: s.fn, precision: r4(s.precision), recall: r4(s.recall), f1: r4(s.fscore), reversed: flipped.tp };
}

export const phantomLayer = (dir: string, name: string): string => path.join(dir, name);
