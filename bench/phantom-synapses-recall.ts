// Diagnostic (not a bench): where the true clefts without a candidate go (the cleft filter's ceiling).
// `node --import tsx bench/phantom-synapses-recall.ts <phantom dir> <cleft map spec> [high low minSize]`
// (default: the candidate rule of the filter the map carries). True clefts = 26-components of the
// phantom's clefts layer; candidates = 6-components of the map under the rule (size filter applied).
// Also per synapse (label id): recalled when one of its components is.
// A true cleft is recalled when some candidate has IoU >= 0.1 with it. A miss is counted by its first
// kind: its peak p < high (too faint: no seed), it reaches high only in components < minSize (cut by the
// size rule), its best-overlapping candidate is >= 4x its size (merged into a larger object: IoU too
// low), it touches the volume's faces (a cut cleft), else its candidates overlap it too little (offset blob).
import * as path from 'node:path';
import type { Vec3 } from '../src/core/box.js';
import { carriedCleftFilter } from '../src/cli/object-rules.js';
import { connectedComponents, type LabelArray } from '../src/kernels/components.js';
import { hysteresisObjects } from '../src/stages/synapses/objects.js';
import { asProbability, readVolume } from './phantom-synapses-data.js';

const MIN_IOU = 0.1;
const [dir, spec, ...ruleArgs] = process.argv.slice(2);
const rule = ruleArgs.length === 3 ? { high: +ruleArgs[0], low: +ruleArgs[1], minSize: +ruleArgs[2] } : carriedCleftFilter(spec)?.filter.candidates;
if (!rule) throw new Error(`${spec} carries no cleft filter: give high low minSize`);
const map = await readVolume(spec);
const shape = map.shape as Vec3;
const [X, Y, Z] = shape;
const p = asProbability(map);
const truthL = (await readVolume(path.join(dir, 'clefts'))).data as LabelArray;
const truth = connectedComponents(Uint8Array.from(truthL as ArrayLike<number | bigint>, (v) => (v ? 1 : 0)), shape, { connectivity: 26 });
const cand = hysteresisObjects(p, shape, rule, 6);
// raw components without the size rule (to tell "cut by size" from "too faint")
const raw = hysteresisObjects(p, shape, { ...rule, minSize: 1 }, 6);
const T = truth.count;
const tSize = new Float64Array(T + 1), tPeak = new Float32Array(T + 1), tFace = new Uint8Array(T + 1);
const cSize = new Float64Array(cand.count + 1), rSize = new Float64Array(raw.count + 1);
const ov = new Map<number, number>(), rawOf = new Map<number, Set<number>>();
for (let i = 0; i < p.length; i++) {
  const t = truth.labels[i], c = cand.labels[i], r = raw.labels[i];
  if (c) cSize[c]++;
  if (r) rSize[r]++;
  if (!t) continue;
  tSize[t]++;
  if (p[i] > tPeak[t]) tPeak[t] = p[i];
  const x = i % X, y = Math.floor(i / X) % Y, z = Math.floor(i / (X * Y));
  if (x === 0 || y === 0 || z === 0 || x === X - 1 || y === Y - 1 || z === Z - 1) tFace[t] = 1;
  if (c) ov.set(c * (T + 1) + t, (ov.get(c * (T + 1) + t) ?? 0) + 1);
  if (r) { let s = rawOf.get(t); if (!s) rawOf.set(t, (s = new Set())); s.add(r); }
}
const best = new Float64Array(T + 1), bestC = new Int32Array(T + 1);
for (const [k, n] of ov) {
  const c = Math.floor(k / (T + 1)), t = k % (T + 1);
  const iou = n / (cSize[c] + tSize[t] - n);
  if (iou > best[t]) { best[t] = iou; bestC[t] = c; }
}
const misses: Record<string, number> = {};
let recalled = 0;
const add = (m: Record<string, number>, k: string): void => { m[k] = (m[k] ?? 0) + 1; };
const kindOf = (t: number): string => {
  const small = tSize[t] < 10 ? ' (cleft < 10 voxels)' : '';
  if (tPeak[t] < rule.high) return `too faint: peak p < ${rule.high}${small}`;
  if (!best[t] && [...(rawOf.get(t) ?? [])].every((r) => rSize[r] < rule.minSize)) return `cut by the size rule (< ${rule.minSize} voxels)${small}`;
  if (best[t] && cSize[bestC[t]] >= 4 * tSize[t]) return 'merged into a larger candidate (>= 4x the cleft)';
  if (tFace[t]) return 'touches the volume\'s faces';
  return 'overlapped too little (offset candidate)';
};
for (let t = 1; t <= T; t++) {
  if (best[t] >= MIN_IOU) recalled++;
  else add(misses, kindOf(t));
}
// per synapse (label id of the clefts layer: a synapse's cleft may fall into several components)
const labelRecalled = new Map<string, boolean>(), largest = new Map<string, number>();
for (let i = 0; i < p.length; i++) {
  const t = truth.labels[i];
  if (!t) continue;
  const id = String(truthL[i]);
  labelRecalled.set(id, (labelRecalled.get(id) ?? false) || best[t] >= MIN_IOU);
  const l = largest.get(id);
  if (l === undefined || tSize[t] > tSize[l]) largest.set(id, t);
}
const synapses = labelRecalled.size, synRecalled = [...labelRecalled.values()].filter((v) => v).length;
// a synapse without a candidate: the kind of its largest component's miss
const synapseMisses: Record<string, number> = {};
for (const [id, ok] of labelRecalled) if (!ok) add(synapseMisses, kindOf(largest.get(id)!));
console.log(JSON.stringify({ rule, true_clefts: T, candidates: cand.count, recalled, recall: +(recalled / T).toFixed(4), misses, synapses, synapses_recalled: synRecalled, synapse_recall: +(synRecalled / synapses).toFixed(4), synapse_misses: synapseMisses }, null, 1));
