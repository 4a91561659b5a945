// Experiment (issue #17, docs/ACCURACY.md "Where the ~0.1 VOI goes: the segmentation steps swapped one at
// a time"): on one fixed boundary map, the reference chain's segmentation steps (bench/refs/ref_seg_chain.py:
// skimage supervoxels of the Gaussian(1)-smoothed map + greedy mean-boundary agglomeration, face = mean of its
// two voxels) against `wiring segment`'s (src/stages/segment), swapped one at a time:
//  - supervoxel sets: ours (defaults: distance seeds; S = minima, sigma 1, full, flood smoothed, min-size 20;
//    S with min-size 0) and the reference's (bench/refs/ref_seg_swap.py sv); their counts, VOI between each and
//    the reference's, and the oracle VOI of each (every supervoxel given its majority ground-truth id: the best
//    any agglomeration of it can do);
//  - every agglomeration on every supervoxel set: ours (computeAgglomeration, mean method, contact max or
//    mean) and the reference's (ref_seg_swap.py agglo, face mean or max); VOI at every cut of CUTS.
// Maps (SEGCHAIN_DIR of a seg-chain bench run with SEGCHAIN_KEEP / SEGCHAIN_DIR): SWAP_MAPS, comma-separated
// name=spec pairs (default for SWAP_PAIR gala-x: ours=<dir>/gala-x-ours-variant-map, ref=<dir>/gala-x-ref-map.npy);
// ground truth <dir>/<pair>-eg.npy. Writes <dir>/swap-<pair>.json and prints a table.
//   SEGCHAIN_DIR=<dir> node --import tsx bench/seg-chain-exp-swap.ts
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Vec3, box } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { writeNpy } from '../src/formats/npy.js';
import { compactLabels } from '../src/kernels/components.js';
import { evaluateSegmentation } from '../src/metrics/segmentation.js';
import { cutTree, relabel } from '../src/stages/segment/agglomerate.js';
import { type SupervoxelParams, DEFAULT_SUPERVOXELS, boundaryMaps, computeAgglomeration, computeSupervoxels } from '../src/stages/segment/pipeline.js';
import { readAll } from './accuracy-data.js';
import { PY } from './seg-chain-ref.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIR = process.env.SEGCHAIN_DIR;
if (!DIR) throw new Error('SEGCHAIN_DIR: the folder of a seg-chain bench run');
const PAIR = process.env.SWAP_PAIR ?? 'gala-x';
const VS = (process.env.SWAP_VOXEL ?? '10,10,10').split(',').map(Number) as unknown as Vec3;
const MODE = process.env.SWAP_MODE ?? '3d';
const CUTS = Array.from({ length: 13 }, (_, i) => +(0.3 + 0.05 * i).toFixed(2));
const f = (n: string): string => path.join(DIR, n);
const SWAP = path.join(here, 'refs', 'ref_seg_swap.py');
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;
const MAPS = (process.env.SWAP_MAPS ?? `ours=${f(`${PAIR}-ours-variant-map`)},ref=${f(`${PAIR}-ref-map.npy`)}`).split(',').map((kv) => kv.split('=') as [string, string]);
const S: SupervoxelParams = { seeds: 'minima', seedSigma: 1, seedConnectivity: 'full', flood: 'smoothed', minSize: 20 };
const SV_VARIANTS: Record<string, SupervoxelParams> = {
  'wiring-default': { ...DEFAULT_SUPERVOXELS, sampling: VS },
  'wiring-S': S,
  'wiring-S-min0': { ...S, minSize: 0 },
  // one piece of S at a time: the unsmoothed map flooded, 6-connected minima, no smoothing at all
  'wiring-S-flood-map': { ...S, flood: 'map' },
  'wiring-S-face': { ...S, seedConnectivity: 'face' },
  'wiring-minima-sigma0': { seeds: 'minima', minSize: 20 },
  // distance seeds with min-size 0
  'wiring-default-min0': { ...DEFAULT_SUPERVOXELS, sampling: VS, minSize: 0 },
};
// SWAP_SV: which of SV_VARIANTS to run (comma-separated; default all); the reference's supervoxels always
const SV_PICK = process.env.SWAP_SV?.split(',');
if (SV_PICK) for (const k of Object.keys(SV_VARIANTS)) if (!SV_PICK.includes(k)) delete SV_VARIANTS[k];

function py(args: string[]): Record<string, unknown> {
  const out = execFileSync(PY, [SWAP, ...args, '--mode', MODE], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
}

function voi(seg: Uint32Array, gt: Uint32Array): [number, number] {
  const e = evaluateSegmentation(seg, gt);
  return [r4(e.voi_split), r4(e.voi_merge)];
}

/** Every supervoxel given its majority ground-truth id (gt 0 ignored; none: its own new id): the best agglomeration of the set. */
function oracle(sv: Uint32Array, gt: Uint32Array): Uint32Array {
  const best = new Map<number, Map<number, number>>();
  for (let i = 0; i < sv.length; i++) {
    if (gt[i] === 0) continue;
    let m = best.get(sv[i]);
    if (!m) best.set(sv[i], (m = new Map()));
    m.set(gt[i], (m.get(gt[i]) ?? 0) + 1);
  }
  let maxGt = 0;
  for (let i = 0; i < gt.length; i++) if (gt[i] > maxGt) maxGt = gt[i];
  const label = new Map<number, number>();
  let extra = maxGt;
  for (const [s, m] of best) {
    let bg = 0, bc = -1;
    for (const [g, c] of m) if (c > bc) { bc = c; bg = g; }
    label.set(s, bg);
  }
  const out = new Uint32Array(sv.length);
  for (let i = 0; i < sv.length; i++) {
    let l = label.get(sv[i]);
    if (l === undefined) label.set(sv[i], (l = ++extra));
    out[i] = l;
  }
  return out;
}

function best(curve: Record<string, [number, number]>): { cut: number; voi: number; split: number; merge: number } {
  let b = { cut: NaN, voi: Infinity, split: NaN, merge: NaN };
  for (const [c, [s, m]] of Object.entries(curve)) if (s + m < b.voi) b = { cut: Number(c), voi: r4(s + m), split: s, merge: m };
  return b;
}

async function main(): Promise<void> {
  const gtVol = await readAll(f(`${PAIR}-eg.npy`), VS);
  const gt = compactLabels(gtVol.data as Uint32Array).labels;
  const shape = gtVol.shape;
  const results: Record<string, unknown>[] = [];
  for (const [mapName, spec] of MAPS) {
    const vol = await readAll(spec, VS);
    const maps = boundaryMaps(vol, { channel: 0 });
    const mapNpy = f(`swap-${PAIR}-${mapName}-map.npy`);
    if (!existsSync(mapNpy)) await writeNpy(mapNpy, new Volume('float32', box([0, 0, 0], shape), maps.boundary, 1, VS));
    const svs: Record<string, Uint32Array> = {};
    for (const [name, p] of Object.entries(SV_VARIANTS)) svs[name] = computeSupervoxels(maps, { ...p, twoD: MODE === 'sv2d' }).labels;
    const refSvNpy = f(`swap-${PAIR}-${mapName}-ref-sv.npy`);
    py(['sv', '--map', mapNpy, '--out', refSvNpy]);
    svs.reference = compactLabels((await readAll(refSvNpy, VS)).data as Uint32Array).labels;
    for (const [svName, sv] of Object.entries(svs)) {
      const svNpy = f(`swap-${PAIR}-${mapName}-${svName}-sv.npy`);
      if (svName !== 'reference') await writeNpy(svNpy, new Volume('uint32', box([0, 0, 0], shape), sv, 1, VS));
      const count = compactLabels(sv).count;
      const vsRef = evaluateSegmentation(sv, svs.reference);
      const row: Record<string, unknown> = {
        map: mapName, supervoxels: svName, count,
        vs_reference_sv: { split: r4(vsRef.voi_split), merge: r4(vsRef.voi_merge) },
        oracle: voi(oracle(sv, gt), gt), none: voi(sv, gt),
      };
      const aggl: Record<string, { cut: number; voi: number; split: number; merge: number }> = {};
      const curves: Record<string, Record<string, [number, number]>> = {};
      for (const contact of ['max', 'mean'] as const) {
        const { tree } = computeAgglomeration(sv, maps, { method: 'mean', contact });
        const curve: Record<string, [number, number]> = {};
        for (const t of CUTS) curve[String(t)] = voi(relabel(sv, cutTree(tree, t).map, new Uint32Array(sv.length)), gt);
        curves[`wiring-${contact}`] = curve;
      }
      for (const face of ['mean', 'max'] as const) {
        const r = py(['agglo', '--map', mapNpy, '--sv', svName === 'reference' ? refSvNpy : svNpy, '--gt', f(`${PAIR}-eg.npy`), '--face', face, '--cuts', CUTS.join(',')]);
        curves[`reference-${face}`] = r.voi as Record<string, [number, number]>;
      }
      for (const [k, c] of Object.entries(curves)) aggl[k] = best(c);
      row.best = aggl;
      row.curves = curves;
      results.push(row);
      log(`${mapName} map, ${svName} sv (${count}): oracle ${JSON.stringify(row.oracle)}, vs ref sv ${JSON.stringify(row.vs_reference_sv)}; best ${Object.entries(aggl).map(([k, b]) => `${k} ${b.voi} (${b.split}/${b.merge}) @${b.cut}`).join(', ')}`);
    }
  }
  writeFileSync(f(`swap-${PAIR}.json`), JSON.stringify(results, null, 1));
}

await main();
