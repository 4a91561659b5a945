// Experiment (not a benchmark): the phantom's exact frame, split into what the content itself moves
// and what our estimation adds. The phantom's neurites run obliquely, so a cross-section sits at a
// slightly different place in the next section. The true "content flow" between neighbouring
// sections is measured from the generator's label sections: 2-D connected pieces of each neuron,
// paired between z-1 and z by their overlap, and the shift of their centroids (pieces of similar
// area only). Per section step: the mean flow (what a translation-only method must follow), the
// affine fitted to the flow (its rotation), and the flow's spread. Then our alignment of the
// unwarped stack (rigid and elastic) is compared with the accumulated flow, and the warped run
// with the unwarped run (rel) and with the exact frame (abs).
// Usage: [CFG='{...}'] npx tsx bench/align-exp-frame.ts [seed 11] [nz 8] [size 384]
import { boxFromShape } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { type Affine, IDENTITY, apply, compose, fitAffine } from '../src/stages/align/affine.js';
import { type Image2D, image } from '../src/stages/align/image.js';
import { alignStack, memorySource } from '../src/stages/align/solve.js';
import { makeSynthetic, mapBack, quantile } from '../src/stages/align/synthetic.js';
import { pullback, type SectionTransform } from '../src/stages/align/transform.js';
import { type PhantomParams, phantomBlock } from '../src/stages/phantom/tasks.js';

const seed = Number(process.argv[2] ?? 11);
const nz = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 384);
const cfg = JSON.parse(process.env.CFG ?? '{}') as Record<string, unknown>;
const p: PhantomParams = { seed, size: [size, size, nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 };
const box = boxFromShape(p.size);
const res = phantomBlock({ box, readBox: box, inputs: {}, params: p, blockIndex: [0, 0, 0] });
const raw = res.volumes!.raw as Volume<'uint8'>;
const neurons = res.volumes!.neurons as Volume<'uint64'>;
const mito = res.volumes!.mitochondria as Volume<'uint64'>;
const N = size * size;
// pieces of neurons and of mitochondria (a mitochondrion is its own piece inside its cell)
const labelData = new BigUint64Array(neurons.data.length);
for (let i = 0; i < labelData.length; i++) {
  const m = BigInt(mito.data[i]);
  labelData[i] = m !== 0n ? m | (1n << 63n) : BigInt(neurons.data[i]);
}
const sections: Image2D[] = Array.from({ length: nz }, (_, z) => image(size, size, Float32Array.from(raw.data.subarray(z * N, (z + 1) * N))));

interface Piece { id: bigint; area: number; cx: number; cy: number; pixels: Int32Array }
/** 4-connected pieces of each label in section z (label 0 = extracellular, skipped). */
function pieces(z: number): { list: Piece[]; of: Int32Array } {
  const lab = labelData.subarray(z * N, (z + 1) * N);
  const of = new Int32Array(N).fill(-1);
  const list: Piece[] = [];
  const stack: number[] = [];
  for (let s = 0; s < N; s++) {
    if (of[s] >= 0 || lab[s] === 0n) continue;
    const k = list.length;
    const px: number[] = [];
    of[s] = k;
    stack.push(s);
    while (stack.length) {
      const i = stack.pop()!;
      px.push(i);
      const x = i % size;
      const y = (i - x) / size;
      for (const [nx, ny] of [[x - 1, y], [x + 1, y], [x, y - 1], [x, y + 1]]) {
        if (nx < 0 || ny < 0 || nx >= size || ny >= size) continue;
        const j = nx + size * ny;
        if (of[j] < 0 && lab[j] === lab[s]) {
          of[j] = k;
          stack.push(j);
        }
      }
    }
    let sx = 0;
    let sy = 0;
    for (const i of px) {
      sx += i % size;
      sy += Math.floor(i / size);
    }
    list.push({ id: lab[s], area: px.length, cx: sx / px.length, cy: sy / px.length, pixels: Int32Array.from(px) });
  }
  return { list, of };
}

const med = (v: number[]) => (v.length ? quantile(v, 0.5) : NaN);
const f2 = (x: number) => x.toFixed(2);
const rotDeg = (a: Affine) => (Math.atan2(a[3], a[0]) * 180) / Math.PI;

// ---- content flow between neighbouring sections
const secs = Array.from({ length: nz }, (_, z) => pieces(z));
const flows: Array<{ x: number[]; y: number[]; u: number[]; v: number[]; a: number[] }> = [{ x: [], y: [], u: [], v: [], a: [] }];
console.log(`phantom seed ${seed} ${size}x${size}x${nz} (8 nm pixels, 30 nm sections): content flow z-1 -> z from label pieces (neurons and mitochondria) (area >= 40 px, area ratio 0.6-1.6, centroids >= 24 px from the edge)`);
console.log('z | pieces | mean flow x, y px (standard error) | |mean| | median |flow| | affine fit: rotation deg, scale');
for (let z = 1; z < nz; z++) {
  const A = secs[z - 1];
  const B = secs[z];
  const fl = { x: [] as number[], y: [] as number[], u: [] as number[], v: [] as number[], a: [] as number[] };
  for (const pa of A.list) {
    if (pa.area < 40) continue;
    const counts = new Map<number, number>();
    for (const i of pa.pixels) {
      const k = B.of[i];
      if (k >= 0 && B.list[k].id === pa.id) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    let best = -1;
    let bc = 0;
    for (const [k, c] of counts) if (c > bc) { bc = c; best = k; }
    if (best < 0) continue;
    const pb = B.list[best];
    const ratio = pb.area / pa.area;
    if (ratio < 0.6 || ratio > 1.6) continue;
    if (Math.min(pa.cx, pa.cy, size - 1 - pa.cx, size - 1 - pa.cy) < 24) continue;
    fl.x.push(pa.cx);
    fl.y.push(pa.cy);
    fl.u.push(pb.cx);
    fl.v.push(pb.cy);
    fl.a.push(pa.area);
  }
  flows.push(fl);
  const du = fl.u.map((u, i) => u - fl.x[i]);
  const dv = fl.v.map((v, i) => v - fl.y[i]);
  const n = du.length;
  const mu = du.reduce((s, x) => s + x, 0) / n;
  const mv = dv.reduce((s, x) => s + x, 0) / n;
  const sdu = Math.sqrt(du.reduce((s, x) => s + (x - mu) ** 2, 0) / (n - 1) / n);
  const sdv = Math.sqrt(dv.reduce((s, x) => s + (x - mv) ** 2, 0) / (n - 1) / n);
  const aff = fitAffine({ x: fl.x, y: fl.y, u: fl.u, v: fl.v }, 'similarity')!;
  console.log(`${z} | ${n} | ${f2(mu)}, ${f2(mv)} (±${f2(sdu)}, ±${f2(sdv)}) | ${f2(Math.hypot(mu, mv))} | ${f2(med(du.map((x, i) => Math.hypot(x, dv[i]))))} | ${rotDeg(aff).toFixed(3)}, ${Math.hypot(aff[0], aff[3]).toFixed(4)}`);
}

// accumulated content flow: the similarity of each step, composed (z-1 content at p sits at S(p) in z)
const steps: Affine[] = [IDENTITY];
for (let z = 1; z < nz; z++) steps.push(fitAffine({ x: flows[z].x, y: flows[z].y, u: flows[z].u, v: flows[z].v }, 'similarity')!);
const acc: Affine[] = [IDENTITY];
for (let z = 1; z < nz; z++) acc.push(compose(steps[z], acc[z - 1]));

function grid(f: (x: number, y: number) => number): number[] {
  const out: number[] = [];
  for (let y = 32; y < size - 32; y += 16) for (let x = 32; x < size - 32; x += 16) out.push(f(x, y));
  return out;
}

for (const elastic of [false, true]) {
  const base = await alignStack(memorySource(sections, [8, 8, 30]), { elastic, ...cfg });
  const tb = base.transforms.sections;
  console.log(`\nours on the unwarped stack, elastic=${elastic} ${JSON.stringify(cfg)}`);
  console.log('z | moves |T0(p)-p| median | accumulated content similarity moves |C(p)-p| | |T0(p) - C(p)| (beyond the content) | rotation ours / content deg | step ours |(T0_z - T0_{z-1})(p)| | step content | step beyond content');
  for (let z = 1; z < nz; z++) {
    const t = tb[z];
    const t1 = tb[z - 1];
    const moves = grid((x, y) => { const [qx, qy] = pullback(t, x, y); return Math.hypot(qx - x, qy - y); });
    const cont = grid((x, y) => { const [cx, cy] = apply(acc[z], x, y); return Math.hypot(cx - x, cy - y); });
    const beyond = grid((x, y) => { const [qx, qy] = pullback(t, x, y); const [cx, cy] = apply(acc[z], x, y); return Math.hypot(qx - cx, qy - cy); });
    const stepOurs = grid((x, y) => { const [a, b] = pullback(t, x, y); const [c, d] = pullback(t1, x, y); return Math.hypot(a - c, b - d); });
    const stepCont = grid((x, y) => { const [a, b] = apply(steps[z], x, y); return Math.hypot(a - x, b - y); });
    // ours' step mapped through the content step: (T0_z - S_z T0_{z-1})(p)
    const stepBeyond = grid((x, y) => { const [a, b] = pullback(t, x, y); const [c, d] = apply(steps[z], ...pullback(t1, x, y)); return Math.hypot(a - c, b - d); });
    console.log(`${z} | ${f2(med(moves))} | ${f2(med(cont))} | ${f2(med(beyond))} | ${f2(rotDeg(t.affine))} / ${f2(rotDeg(acc[z]))} | ${f2(med(stepOurs))} | ${f2(med(stepCont))} | ${f2(med(stepBeyond))} ${base.sections[z].flags.join('+')}`);
  }
  // the warped runs: rel (vs T0) and abs (vs the exact frame), per section
  for (const [mode, spec] of [
    ['rigid', { shift: 10, rotation: 2, scale: 0.02, elastic: 0, missing: 3, foldSection: -1, fold: 0, seed: 5 }],
    ['rigid, no blank', { shift: 10, rotation: 2, scale: 0.02, elastic: 0, missing: -1, foldSection: -1, fold: 0, seed: 5 }],
    ['elastic', { shift: 6, rotation: 1, scale: 0.01, elastic: 4, missing: 3, foldSection: 5, fold: 6, seed: 7 }],
  ] as const) {
    if ((mode === 'elastic') !== elastic) continue;
    const syn = makeSynthetic(sections, spec);
    const r = await alignStack(memorySource(syn.sections, [8, 8, 30]), { elastic, ...cfg });
    const t = r.transforms.sections as SectionTransform[];
    const rel: string[] = [];
    const abs: string[] = [];
    const all = { rel: [] as number[], abs: [] as number[] };
    for (let z = 1; z < nz; z++) {
      if (z === spec.missing) { rel.push('-'); abs.push('-'); continue; }
      const rz = grid((x, y) => { const [px, py] = mapBack(syn.warps[z], ...pullback(t[z], x, y)); const [bx, by] = pullback(tb[z], x, y); return Math.hypot(px - bx, py - by); });
      const az = grid((x, y) => { const [px, py] = mapBack(syn.warps[z], ...pullback(t[z], x, y)); return Math.hypot(px - x, py - y); });
      all.rel.push(...rz);
      all.abs.push(...az);
      rel.push(f2(med(rz)));
      abs.push(f2(med(az)));
    }
    console.log(`warped (${mode}): rel median ${f2(med(all.rel))} per section ${rel.join(' ')} | abs median ${f2(med(all.abs))} per section ${abs.join(' ')} | ${r.sections.map((s) => s.flags.filter((x) => x !== 'high-residual').join('+') || '.').join(' ')}`);
  }
}
