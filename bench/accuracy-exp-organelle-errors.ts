// Experiment (not a benchmark): where the held-out organelle objects of vnc-sstem go wrong. Reads
// the maps written by `bench/accuracy-exp-organelles.ts train` (OUT), chooses each class's object
// rule on the cross-fitted maps (as `train-pixels` does), applies it to the held-out sections 6-11
// and sorts every found object and every true object by kind:
//  - found: matched (one to one, any overlap, src/metrics/objects.ts's rule); a fragment of a true
//    object already matched by another found object (split); else by the label under most of its
//    voxels (membrane 0-128, glia/extracellular 159, mitochondrion 191, cleft 223, cytoplasm 255);
//  - true: found; taken by a found object matched to another true object (merged); never reaches the
//    rule's low (peak p < low); reaches low but not high; reaches high but the component is too small.
// Usage: TAG=ac2 npx tsx bench/accuracy-exp-organelle-errors.ts [RULE='{"high":..,"low":..,"minSize":..}']
import { readFileSync } from 'node:fs';
import type { Vec3 } from '../src/core/box.js';
import { OBJECT_RULE_GRID, chooseObjectRules } from '../src/cli/object-rules.js';
import { connectedComponents } from '../src/kernels/components.js';
import { edt } from '../src/kernels/edt.js';
import type { CrossFitResult } from '../src/stages/predict/training.js';
import { type ObjectParams, hysteresisObjects } from '../src/stages/synapses/objects.js';

const TAG = process.env.TAG ?? 'ac2';
const OUT = process.env.OUT ?? `/tmp/wiring-organelles-${TAG}`;
const f32 = (name: string): Float32Array => { const b = readFileSync(`${OUT}/${name}`); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
const TARGETS = [{ name: 'synapses', value: 223, cls: 4 }, { name: 'mitochondria', value: 191, cls: 3 }];
const KIND: Record<number, string> = { 0: 'membrane', 32: 'membrane', 64: 'membrane', 96: 'membrane', 128: 'membrane', 159: 'glia/extracellular', 191: 'mitochondrion', 223: 'cleft', 255: 'cytoplasm' };

const meta = JSON.parse(readFileSync(`${OUT}/meta.json`, 'utf8'));
const b = readFileSync(`${OUT}/cfcls.i16`);
const cf: CrossFitResult = { region: meta.region, halves: meta.halves, classes: new Int16Array(b.buffer, b.byteOffset, b.length / 2), maps: meta.outputs.map((_: string, k: number) => f32(`cf${k}.f32`)) };
const lab = new Uint8Array(readFileSync(`${OUT}/test-labels.bin`));
const shape = meta.shape as Vec3;
const [X, Y] = shape;
const given = process.argv[2] ? (JSON.parse(process.argv[2]) as ObjectParams) : undefined;

for (const t of TARGETS) {
  const k = t.cls - 1;
  const one: CrossFitResult = { ...cf, maps: [cf.maps[k]], classes: Int16Array.from(cf.classes, (c) => (c < 0 ? -1 : c === k ? 0 : 1)) };
  const rule = given ?? chooseObjectRules(one, ['x'], OBJECT_RULE_GRID).x;
  const prob = f32(`test-${t.name}.f32`);
  const found = hysteresisObjects(prob, shape, rule);
  const truth = connectedComponents(Uint8Array.from(lab, (v) => (v === t.value ? 1 : 0)), shape, { connectivity: 26 });
  const nF = found.count, nT = truth.count;
  // nm from the nearest true object voxel and from the nearest membrane voxel (9.2 x 9.2 x 45 nm, binned)
  const vs: Vec3 = [9.2, 9.2, 45];
  const dTrue = edt(Uint8Array.from(lab, (v) => (v === t.value ? 0 : 1)), shape, { sampling: vs });
  const dMem = edt(Uint8Array.from(lab, (v) => (v <= 128 ? 0 : 1)), shape, { sampling: vs });
  const nearTrue = new Float64Array(nF + 1).fill(Infinity), nearMem = new Float64Array(nF + 1), pF = new Float64Array(nF + 1);
  const sizeF = new Float64Array(nF + 1), sizeT = new Float64Array(nT + 1), peakT = new Float32Array(nT + 1), meanT = new Float64Array(nT + 1);
  const zlo = new Int32Array(nT + 1).fill(1e9), zhi = new Int32Array(nT + 1).fill(-1);
  const under = Array.from({ length: nF + 1 }, () => new Map<number, number>());
  const pairs = new Map<number, number>();
  for (let i = 0; i < prob.length; i++) {
    const p = found.labels[i], q = truth.labels[i];
    if (p) {
      sizeF[p]++;
      pF[p] += prob[i];
      if (dTrue[i] < nearTrue[p]) nearTrue[p] = dTrue[i];
      if (dMem[i] <= 20) nearMem[p]++;
      under[p].set(lab[i], (under[p].get(lab[i]) ?? 0) + 1);
    }
    if (q) {
      sizeT[q]++;
      meanT[q] += prob[i];
      if (prob[i] > peakT[q]) peakT[q] = prob[i];
      const z = Math.floor(i / (X * Y));
      if (z < zlo[q]) zlo[q] = z;
      if (z > zhi[q]) zhi[q] = z;
    }
    if (p && q) pairs.set(p * (nT + 1) + q, (pairs.get(p * (nT + 1) + q) ?? 0) + 1);
  }
  const cand = [...pairs].map(([key, n]) => ({ p: Math.floor(key / (nT + 1)), t: key % (nT + 1), n })).sort((a, c) => c.n - a.n || a.p - c.p || a.t - c.t);
  const mF = new Int32Array(nF + 1), mT = new Int32Array(nT + 1);
  for (const c of cand) if (!mF[c.p] && !mT[c.t]) { mF[c.p] = c.t; mT[c.t] = c.p; }
  // found objects by kind
  const fk: Record<string, number> = {};
  const fdetail: string[] = [];
  for (let p = 1; p <= nF; p++) {
    let kind: string;
    if (mF[p]) kind = 'matched';
    else if (cand.some((c) => c.p === p)) kind = 'fragment of a matched true object (split)';
    else {
      let best = -1, bn = -1;
      for (const [v, n] of under[p]) if (n > bn) { bn = n; best = v; }
      kind = `false, mostly on ${KIND[best] ?? best}`;
    }
    fk[kind] = (fk[kind] ?? 0) + 1;
    if (kind !== 'matched') fdetail.push(`${kind}: ${sizeF[p]} vox, mean p ${(pF[p] / sizeF[p]).toFixed(2)}, ${Math.round(nearTrue[p])} nm from a true one, ${Math.round((100 * nearMem[p]) / sizeF[p])} % within 20 nm of a membrane`);
  }
  // misses by kind
  const mk: Record<string, number> = {};
  const mdetail: string[] = [];
  for (let q = 1; q <= nT; q++) {
    if (mT[q]) continue;
    let kind: string;
    if (cand.some((c) => c.t === q)) kind = 'merged into a found object matched to another';
    else if (peakT[q] < rule.low) kind = 'peak p below low';
    else if (peakT[q] < rule.high) kind = 'peak p below high';
    else kind = 'too small after the rule (or split off)';
    mk[kind] = (mk[kind] ?? 0) + 1;
    mdetail.push(`${kind}: ${sizeT[q]} vox, sections ${zhi[q] - zlo[q] + 1}, peak ${peakT[q].toFixed(2)}, mean ${(meanT[q] / sizeT[q]).toFixed(2)}`);
  }
  const sizesT = [...sizeT.slice(1)].sort((a, c) => a - c);
  console.log(JSON.stringify({ target: t.name, rule, found: nF, truth: nT, matched: mF.filter((x) => x > 0).length, found_by_kind: fk, misses_by_kind: mk, true_sizes: sizesT, false_found: fdetail, misses: mdetail }, null, 1));
}
