// Diagnostic (not a bench): what the partner step loses on a predicted segmentation, by kind.
// `node --import tsx bench/phantom-synapses-partner-errors.ts <phantom dir> <detected db> <predicted segmentation>`
// (the bench's `detected-s*-s*-*.duckdb-predseg` and `test-s*/segmentation-from-*`). Each true synapse
// of the phantom is matched or missed; a miss is counted by its first kind among: the predicted
// segmentation merged its two partners (the same id at both true partner points), a partner point lies
// on predicted id 0, a detection lies within 400 nm but with the wrong pair (reversed, or another
// pair), none within 400 nm (no cleft kept there). Each unmatched detection, relabelled to the true
// neurons at its points as the scorer does, is counted by kind: both points in one true cell (the
// predicted segmentation split that cell there, or the plane is wrong), a point on true id 0, the
// reverse of a true pair, a true pair found twice, another pair near a true synapse, far from any.
import * as path from 'node:path';
import type { Vec3 } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { partnersOf } from '../src/cli/synapse-scoring.js';
import { relabelPartners, synapticPartnerScore, type PartnerSynapse } from '../src/metrics/synapses.js';
import { readVolume } from './phantom-synapses-data.js';

const MAX_D = 400;
const [dir, db, predSeg] = process.argv.slice(2);
if (!dir || !db || !predSeg) throw new Error('usage: phantom-synapses-partner-errors.ts <phantom dir> <detected db> <predicted segmentation>');
const truth = await partnersOf(path.join(dir, 'connectome.duckdb'));
const found = await partnersOf(db);
const gtSeg = await readVolume(path.join(dir, 'neurons'));
const pred = await readVolume(predSeg);
const idAt = (v: Volume, p: Vec3): bigint => {
  const x = [0, 1, 2].map((a) => Math.floor(p[a] / v.voxelSize[a]));
  for (let a = 0; a < 3; a++) if (x[a] < v.box.min[a] || x[a] >= v.box.max[a]) return 0n;
  return BigInt(v.get(x[0], x[1], x[2]) as number | bigint);
};
const mid = (s: PartnerSynapse): Vec3 => [(s.pre[0] + s.post[0]) / 2, (s.pre[1] + s.post[1]) / 2, (s.pre[2] + s.post[2]) / 2];
const dist = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
const relabelled = relabelPartners(found, gtSeg);
const score = synapticPartnerScore(relabelled, truth, { maxDistance: MAX_D });
const matchedT = new Set(score.matches.map(([, j]) => j)), matchedF = new Set(score.matches.map(([i]) => i));
const count = (m: Record<string, number>, k: string): void => { m[k] = (m[k] ?? 0) + 1; };
const misses: Record<string, number> = {};
truth.forEach((t, j) => {
  if (matchedT.has(j)) return;
  const a = idAt(pred, t.pre), b = idAt(pred, t.post);
  const near = relabelled.filter((f) => dist(mid(f), mid(t)) <= MAX_D);
  if (a !== 0n && a === b) count(misses, 'partners merged in the predicted segmentation');
  else if (a === 0n || b === 0n) count(misses, 'a partner point on predicted id 0');
  else if (near.some((f) => f.pre_id === t.post_id && f.post_id === t.pre_id)) count(misses, 'detected near, pair reversed');
  else if (near.length) count(misses, 'detected near, another pair');
  else count(misses, 'no detection within 400 nm');
});
const truePairs = new Set(truth.map((t) => `${t.pre_id}|${t.post_id}`));
const fps: Record<string, number> = {};
relabelled.forEach((f, i) => {
  if (matchedF.has(i)) return;
  const nearTrue = truth.some((t) => dist(mid(t), mid(f)) <= MAX_D);
  if (f.pre_id === 0n || f.post_id === 0n) count(fps, 'a point on true id 0');
  else if (f.pre_id === f.post_id) count(fps, 'both points in one true cell');
  else if (truePairs.has(`${f.post_id}|${f.pre_id}`)) count(fps, 'reverse of a true pair');
  else if (truePairs.has(`${f.pre_id}|${f.post_id}`)) count(fps, 'a true pair, not matched (twice, or points > 400 nm)');
  else count(fps, nearTrue ? 'another pair, near a true synapse' : 'another pair, far from true synapses');
});
// how the predicted segmentation treats the true synapses' partners at all (whether found or not)
const merged = truth.filter((t) => { const a = idAt(pred, t.pre); return a !== 0n && a === idAt(pred, t.post); }).length;
console.log(JSON.stringify({ true_synapses: truth.length, found: found.length, tp: score.tp, f1: +score.fscore.toFixed(4), true_pairs_merged_in_prediction: merged, misses, false_positives: fps }, null, 1));
