// Experiment (issue #17, docs/ACCURACY.md "The whole chain against a scikit-learn reference"): the mean cut
// of `wiring segment` on a one-section map (each ISBI slice segmented on its own). Such a map gets the
// anisotropic default (0.55), which was chosen for 2-D supervoxels joined across sections; a lone
// section has no between-section contacts. For each pair the cut is chosen on its training stack only
// (a forest trained with `wiring train-pixels --labels` defaults on the first half of its sections
// predicts the second half: ISBI 0-4 -> 5-9, vnc-sstem stack1 crop 0-5 -> 6-11; every section is
// segmented on its own as `wiring segment` does it, every cut of the grid scored against the
// interior components) and measured on the map the seg-chain bench predicted for ISBI 10-19 with
// the model trained on the whole training stack, per section, with the same functions.
// Run after `SEGCHAIN_DIR=<dir> SEGCHAIN_PAIRS=isbi,vnc-isbi npm run bench seg-chain` (it reads that
// folder's inputs and maps): SEGCHAIN_DIR=<dir> node --import tsx bench/seg-chain-exp-section-cut.ts
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Vec3 } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { evaluateSegmentation } from '../src/metrics/segmentation.js';
import { supervoxelParams } from '../src/cli/segment-options.js';
import { cutTree, relabel } from '../src/stages/segment/agglomerate.js';
import { boundaryMaps, computeAgglomeration, computeSupervoxels } from '../src/stages/segment/pipeline.js';
import { readAll, sections } from './accuracy-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIR = process.env.SEGCHAIN_DIR;
if (!DIR) throw new Error('SEGCHAIN_DIR: the folder of a seg-chain bench run (isbi and vnc-isbi pairs)');
const TREES = Number(process.env.SEGCHAIN_TREES ?? 50);
const SAMPLES = Number(process.env.SEGCHAIN_SAMPLES ?? 100_000);
const GRID = Array.from({ length: 9 }, (_, i) => +(0.45 + 0.05 * i).toFixed(2));
const VS: Vec3 = [4, 4, 50];
const f = (n: string): string => path.join(DIR, n);
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

/** VOI (split, merge) at every cut of GRID, each section segmented on its own as `wiring segment` does for a one-section map. */
function perSectionVoi(map: Volume, gt: Volume): Array<{ cut: number; voi: number; split: number; merge: number }> {
  const [sx, sy, sz] = map.shape;
  const n = sx * sy;
  const segs = GRID.map(() => new Uint32Array(n * sz));
  const base = GRID.map(() => 0);
  for (let z = 0; z < sz; z++) {
    const one = sections(map, z, z + 1);
    const maps = boundaryMaps(one, { channel: 0 });
    const sv = computeSupervoxels(maps, supervoxelParams({}, VS));
    const { tree } = computeAgglomeration(sv.labels, maps, { method: 'mean', anisotropic: true });
    GRID.forEach((t, k) => {
      const c = cutTree(tree, t);
      const s = relabel(sv.labels, c.map, new Uint32Array(n));
      for (let i = 0; i < n; i++) segs[k][z * n + i] = s[i] + base[k];
      base[k] += c.count + 1;
    });
  }
  return GRID.map((cut, k) => {
    const e = evaluateSegmentation(segs[k], gt.data as Uint32Array);
    return { cut, voi: +(e.voi_split + e.voi_merge).toFixed(4), split: +e.voi_split.toFixed(4), merge: +e.voi_merge.toFixed(4) };
  });
}

function wiring(...args: string[]): void {
  execFileSync(process.execPath, [path.resolve(here, '../bin/wiring.js'), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Choose the cut on a training stack: a forest on its first half of sections predicts the second half. */
async function chooseCut(pair: string, vs: Vec3, nz: number): Promise<number> {
  const h = Math.floor(nz / 2);
  log(`${pair}: choosing: train-pixels --labels on sections 0-${h - 1}, predict ${h}-${nz - 1}`);
  wiring('train-pixels', '--raw', `${f(`${pair}-tr.h5`)}#stack`, '--labels', `${f(`${pair}-tl.h5`)}#stack`, '--bounds', `0:512,0:512,0:${h}`, '-o', f(`sc-${pair}.rf`), '--trees', String(TREES), '--samples', String(SAMPLES));
  wiring('predict', '--raw', `${f(`${pair}-tr.h5`)}#stack`, '--model', f(`sc-${pair}.rf`), '--bounds', `0:512,0:512,${h}:${nz}`, f(`sc-${pair}-map`), '--overwrite');
  const gt = await readAll(f(`${pair}-tg.npy`), vs);
  const map = await readAll(f(`sc-${pair}-map`), vs);
  const grid = perSectionVoi(sections(map, h, nz), sections(gt, h, nz));
  console.log(JSON.stringify({ pair, chosen_on: `training sections 0-${h - 1} -> ${h}-${nz - 1}`, grid }));
  const best = grid.reduce((a, b) => (b.voi < a.voi ? b : a));
  log(`${pair}: chosen cut ${best.cut} (VOI ${best.voi}; 0.55 gives ${grid.find((r) => r.cut === 0.55)?.voi})`);
  return best.cut;
}

const PAIRS: Array<[string, Vec3, number]> = [['isbi', [4, 4, 50], 10], ['vnc-isbi', [4.6, 4.6, 45], 12]];
for (const [pair, vs, nz] of PAIRS) {
  const cut = await chooseCut(pair, vs, nz);
  const map = await readAll(f(`${pair}-ours-map`), VS);
  const gt = await readAll(f(`${pair}-eg.npy`), VS);
  const rows = perSectionVoi(map, gt);
  console.log(JSON.stringify({ pair, measured_on: 'ISBI 10-19', grid: rows }));
  const at = (t: number) => rows.find((r) => r.cut === t)!;
  log(`${pair}: measured on ISBI 10-19: cut 0.55 VOI ${at(0.55).voi} (${at(0.55).split} / ${at(0.55).merge}); its own chosen cut ${cut}: ${at(cut).voi} (${at(cut).split} / ${at(cut).merge})`);
}
