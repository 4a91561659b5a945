// Diagnostic (not a bench): where the cleft objects of a predicted map go wrong on a phantom.
// `node --import tsx bench/phantom-synapses-errors.ts <phantom dir> <cleft map spec> <vesicle map spec> [high low minSize]`
// Counts found objects by kind (matched, split fragment of a matched cleft, merged over >= 2 clefts,
// false positive on a membrane between cells beside a true vesicle cloud / without one, inside a
// vesicle cloud or mitochondrion, elsewhere) and misses by kind (no voxel of the map reaches the rule,
// reached but the component is too small or fails the high threshold, taken by a merged object).
import * as path from 'node:path';
import type { Vec3 } from '../src/core/box.js';
import { compactLabels, connectedComponents, type LabelArray } from '../src/kernels/components.js';
import { asProbability, readVolume, ruleOf } from './phantom-synapses-data.js';

const [dir, cleftSpec, vesSpec, ...ruleArgs] = process.argv.slice(2);
const rule = ruleArgs.length === 3 ? { high: +ruleArgs[0], low: +ruleArgs[1], minSize: +ruleArgs[2] } : ruleOf(cleftSpec, { high: 0.5, low: 0.5, minSize: 10 });
const cm = await readVolume(cleftSpec);
const shape = cm.shape as Vec3;
const p = asProbability(cm);
const vp = asProbability(await readVolume(vesSpec));
const truth = compactLabels((await readVolume(path.join(dir, 'clefts'))).data as LabelArray);
const neurons = (await readVolume(path.join(dir, 'neurons'))).data as LabelArray;
const ves = (await readVolume(path.join(dir, 'vesicles'))).data as LabelArray;
const mito = (await readVolume(path.join(dir, 'mitochondria'))).data as LabelArray;
const [X, Y, Z] = shape;
const mask = new Uint8Array(p.length);
for (let i = 0; i < p.length; i++) mask[i] = p[i] >= rule.low ? 1 : 0;
const comp = connectedComponents(mask, shape, { connectivity: 6 });
const n = comp.count;
const size = new Float64Array(n + 1), peak = new Float32Array(n + 1);
for (let i = 0; i < p.length; i++) { const l = comp.labels[i]; if (l) { size[l]++; if (p[i] > peak[l]) peak[l] = p[i]; } }
const kept = (l: number): boolean => peak[l] >= rule.high && size[l] >= rule.minSize;
// overlaps
const ov = new Map<number, Map<number, number>>();
for (let i = 0; i < p.length; i++) {
  const l = comp.labels[i], t = truth.labels[i];
  if (l && t && kept(l)) { let m = ov.get(l); if (!m) ov.set(l, (m = new Map())); m.set(t, (m.get(t) ?? 0) + 1); }
}
const cand = [...ov].flatMap(([l, m]) => [...m].map(([t, c]) => ({ l, t, c }))).sort((a, b) => b.c - a.c);
const usedL = new Set<number>(), usedT = new Set<number>();
for (const c of cand) if (!usedL.has(c.l) && !usedT.has(c.t)) { usedL.add(c.l); usedT.add(c.t); }
// per kept object: on a membrane (a voxel within 1 of another neuron id or of 0), true vesicle cloud within ~200 nm, organelle
const onMembrane = (i: number): boolean => {
  const x = i % X, y = Math.floor(i / X) % Y, z = Math.floor(i / (X * Y));
  const a = neurons[i];
  if (!a) return true;
  for (const [dx, dy, dz] of [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) {
    const u = x + dx, v = y + dy, w = z + dz;
    if (u < 0 || v < 0 || w < 0 || u >= X || v >= Y || w >= Z) continue;
    if (neurons[u + X * (v + Y * w)] !== a) return true;
  }
  return false;
};
const near = (i: number, arr: LabelArray, rxy: number, rz: number): boolean => {
  const x = i % X, y = Math.floor(i / X) % Y, z = Math.floor(i / (X * Y));
  for (let w = Math.max(0, z - rz); w <= Math.min(Z - 1, z + rz); w++)
    for (let v = Math.max(0, y - rxy); v <= Math.min(Y - 1, y + rxy); v += 2)
      for (let u = Math.max(0, x - rxy); u <= Math.min(X - 1, x + rxy); u += 2) if (arr[u + X * (v + Y * w)]) return true;
  return false;
};
const voxelsOf = new Map<number, number[]>();
for (let i = 0; i < p.length; i++) { const l = comp.labels[i]; if (l && kept(l)) { let a = voxelsOf.get(l); if (!a) voxelsOf.set(l, (a = [])); a.push(i); } }
const kinds: Record<string, number> = {};
const add = (k: string): void => { kinds[k] = (kinds[k] ?? 0) + 1; };
const fpSizes: number[] = [], tpSizes: number[] = [];
for (const [l, vox] of voxelsOf) {
  const m = ov.get(l);
  if (usedL.has(l)) { add(m && m.size > 1 ? 'matched (also overlaps another cleft: merged)' : 'matched'); tpSizes.push(size[l]); continue; }
  if (m) { add(m.size > 1 ? 'unmatched, overlaps >= 2 clefts' : 'split fragment of a matched cleft'); continue; }
  fpSizes.push(size[l]);
  let mem = 0, inV = 0, inM = 0, meanV = 0;
  for (const i of vox) { if (onMembrane(i)) mem++; if (ves[i]) inV++; if (mito[i]) inM++; meanV += vp[i]; }
  const c = vox[Math.floor(vox.length / 2)];
  const nearCleft = near(c, truth.labels, 12, 2);
  const nearVes = near(c, ves, 25, 3);
  const where = inM > vox.length / 2 ? 'inside a mitochondrion' : inV > vox.length / 2 ? 'inside a vesicle cloud' : mem > vox.length / 2 ? (nearVes ? 'on a membrane, true vesicle cloud within 200 nm' : 'on a membrane, no vesicle cloud within 200 nm') : nearVes ? 'in a cell, vesicle cloud within 200 nm' : 'in a cell, no vesicle cloud near';
  add(`FP ${where}${nearCleft ? ' (within 100 nm of a true cleft)' : ''}`);
}
// misses
const tSize = new Float64Array(truth.count + 1), tPeak = new Float32Array(truth.count + 1), tComp = new Map<number, Set<number>>();
for (let i = 0; i < p.length; i++) { const t = truth.labels[i]; if (!t) continue; tSize[t]++; if (p[i] > tPeak[t]) tPeak[t] = p[i]; const l = comp.labels[i]; if (l) { let s = tComp.get(t); if (!s) tComp.set(t, (s = new Set())); s.add(l); } }
const miss: Record<string, number> = {};
const addm = (k: string): void => { miss[k] = (miss[k] ?? 0) + 1; };
for (let t = 1; t <= truth.count; t++) {
  if (usedT.has(t)) continue;
  const ls = [...(tComp.get(t) ?? [])];
  if (tPeak[t] < rule.low) addm(`no voxel >= low (peak < ${rule.low})${tSize[t] < 10 ? ', cleft < 10 voxels' : ''}`);
  else if (ls.some((l) => kept(l))) addm('taken by an object matched to another cleft (merge)');
  else if (ls.every((l) => peak[l] < rule.high)) addm('component never reaches high');
  else addm('component too small');
}
console.log(JSON.stringify({ rule, true_clefts: truth.count, found: voxelsOf.size, matched: usedL.size, found_by_kind: kinds, misses_by_kind: miss, median_size_tp: tpSizes.sort((a, b) => a - b)[tpSizes.length >> 1], median_size_fp: fpSizes.sort((a, b) => a - b)[fpSizes.length >> 1] }, null, 1));
