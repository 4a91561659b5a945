// Alignment benchmark: real sections (ISBI 2012, vnc-sstem stack2) and the phantom, warped by
// known per-section maps (shift, rotation, scale; for the elastic case also smooth elastic warps
// and a fold), one section blanked; aligned by ours and by scikit-image on the same input in the
// same run (bench/refs/ref_align.py: phase_cross_correlation for rigid, + optical_flow_tvl1 for
// elastic). Residual = |G_z(T_z(p)) - p| at grid points of the original frame (synthetic.ts).
// "abs" is against the original frame; on real stacks that frame is itself only as aligned as its
// authors made it and neighbouring sections differ genuinely, so "rel" also compares each method
// with its own result on the unwarped stack: the error the applied warp adds. On the phantom the
// original frame is exact. Parameters were chosen on ISBI (the elastic prior on the phantom seed 11);
// the others are reported.
// Rates from process CPU seconds, single thread on both sides (machine shared and loaded).
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Vec3 } from '../src/core/box.js';
import type { Image2D } from '../src/stages/align/image.js';
import { alignStack, memorySource } from '../src/stages/align/solve.js';
import { makeSynthetic } from '../src/stages/align/synthetic.js';
import { type SectionTransform, pullback } from '../src/stages/align/transform.js';
import { warpImage } from '../src/stages/align/warp.js';
import { BENCH_WARPS, BORDER, type Pull, STEP, phantomStack, realStack, refPull, runRef, scoreAlignment as score, sectionFiles } from './align-data.js';
import { cpuAsync } from './cpu.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function cpu<T>(f: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const [value, seconds] = await cpuAsync(f);
  return { value, seconds };
}



export default async function bench(): Promise<Record<string, unknown>> {
  const dir = path.join(here, 'out', 'align');
  mkdirSync(dir, { recursive: true });
  const nz = Number(process.env.ALIGN_BENCH_Z ?? 8);
  const size = Number(process.env.ALIGN_BENCH_SIZE ?? 512);
  // ALIGN_BENCH_ONLY=isbi2012,phantom (substrings of dataset names), ALIGN_BENCH_MODES=rigid,
  // ALIGN_BENCH_PARAMS='{"features":true}' (extra alignStack parameters), ALIGN_BENCH_REF=0 (no scikit-image): experiments
  const only = process.env.ALIGN_BENCH_ONLY?.split(',');
  const modes = process.env.ALIGN_BENCH_MODES?.split(',');
  const extra = process.env.ALIGN_BENCH_PARAMS ? (JSON.parse(process.env.ALIGN_BENCH_PARAMS) as Record<string, unknown>) : {};
  const withRef = process.env.ALIGN_BENCH_REF !== '0';
  const all: Array<{ name: string; role: string; voxel: Vec3; load: () => Promise<Image2D[]> }> = [
    { name: 'isbi2012', role: 'parameters chosen here', voxel: [4, 4, 50], load: () => realStack(sectionFiles('isbi', nz), Math.min(size, 512)) },
    { name: 'vnc-sstem stack2', role: 'reported', voxel: [4.6, 4.6, 50], load: () => realStack(sectionFiles('vnc', nz), size) },
    // seed 11's 384 px crop is the inside of one soma (cytoplasm and 5-8 mitochondria, docs/ALIGNMENT.md); seed 13's is neuropil
    { name: 'phantom seed 11', role: 'reported (exact frame)', voxel: [8, 8, 30], load: async () => phantomStack({ seed: 11, size: [Math.min(size, 384), Math.min(size, 384), nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 }).sections },
    { name: 'phantom seed 13', role: 'reported (exact frame, neuropil)', voxel: [8, 8, 30], load: async () => phantomStack({ seed: 13, size: [Math.min(size, 384), Math.min(size, 384), nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 }).sections },
  ];
  const datasets = all.filter((d) => !only || only.some((o) => d.name.includes(o)));
  const cases = BENCH_WARPS;

  const results: Record<string, unknown>[] = [];
  for (const ds of datasets) {
    const orig = await ds.load();
    const { w, h } = orig[0];
    const px = w * h * orig.length;
    for (const [mode, spec] of Object.entries(cases) as Array<['rigid' | 'elastic', typeof cases.rigid]>) {
      if (modes && !modes.includes(mode)) continue;
      const syn = makeSynthetic(orig, spec);
      const params = { elastic: mode === 'elastic', ...extra };
      const ours = await cpu(() => alignStack(memorySource(syn.sections, ds.voxel), params));
      const oursBase = await alignStack(memorySource(orig, ds.voxel), params);
      const t = ours.value.transforms.sections;
      const tb = oursBase.transforms.sections;
      const render = await cpu(async () => syn.sections.map((s, z) => warpImage(s, t[z] as SectionTransform, 0, 0, w, h)));
      const level = ours.value.transforms.params.match_levels as number;
      const identity = { sections: orig.map(() => []), cpu_seconds: { match: NaN, render: NaN } };
      const ref = withRef ? runRef(dir, `${ds.name.replace(/\W+/g, '_')}-${mode}`, syn.sections, mode, level) : identity;
      const refBase = withRef ? runRef(dir, `${ds.name.replace(/\W+/g, '_')}-${mode}-base`, orig, mode, level) : identity;
      const o = score(syn, (z, x, y) => pullback(t[z], x, y), (z, x, y) => pullback(tb[z], x, y), spec.elastic);
      const idPull: Pull = (_z, x, y) => [x, y];
      const r = withRef ? score(syn, refPull(ref.sections, w), refPull(refBase.sections, w), spec.elastic) : score(syn, idPull, idPull, spec.elastic);
      // the unwarped stack's own alignment: how far ours moves sections that were aligned to begin with
      const baseMoves = score({ ...syn, warps: syn.warps.map(() => ({ affine: [1, 0, 0, 0, 1, 0], bumps: [], fold: null })) }, (z, x, y) => pullback(tb[z], x, y), idPull, 0);
      const nm = ds.voxel[0];
      const row = {
        dataset: ds.name, role: ds.role, mode, size: [w, h, orig.length], voxel_nm: nm, params: { elastic_prior: ours.value.transforms.params.elasticPrior, patch: ours.value.transforms.params.patch, neighbours: ours.value.transforms.params.neighbours, ...extra },
        ours: { ...o, abs_median_nm: +(o.abs_median_px * nm).toFixed(1), abs_p95_nm: +(o.abs_p95_px * nm).toFixed(1), rel_median_nm: +(o.rel_median_px * nm).toFixed(1), rel_p95_nm: +(o.rel_p95_px * nm).toFixed(1) },
        skimage: { ...r, abs_median_nm: +(r.abs_median_px * nm).toFixed(1), abs_p95_nm: +(r.abs_p95_px * nm).toFixed(1), rel_median_nm: +(r.rel_median_px * nm).toFixed(1), rel_p95_nm: +(r.rel_p95_px * nm).toFixed(1) },
        ours_on_unwarped_moves_px: { median: baseMoves.abs_median_px, p95: baseMoves.abs_p95_px },
        // the rotation drift of that run: the last section's rotation and the largest, degrees
        ours_on_unwarped_rotation_deg: { last: oursBase.sections[oursBase.sections.length - 1].rotation_deg, max_abs: Math.max(...oursBase.sections.map((s) => Math.abs(s.rotation_deg))) },
        statuses: ours.value.sections.map((s) => s.status + (s.flags.length ? `(${s.flags.join('+')})` : '')),
        match_mpx_s: { ours: +(px / 1e6 / ours.seconds).toFixed(3), skimage: +(px / 1e6 / ref.cpu_seconds.match).toFixed(3) },
        render_mpx_s: { ours: +(px / 1e6 / render.seconds).toFixed(2), skimage: +(px / 1e6 / ref.cpu_seconds.render).toFixed(2) },
      };
      results.push(row);
      console.log(
        `${ds.name} ${mode} [${w}x${h}x${orig.length}]: ours abs median ${o.abs_median_px} px (p95 ${o.abs_p95_px}) rel ${o.rel_median_px} (p95 ${o.rel_p95_px}) | ` +
          `skimage abs ${r.abs_median_px} (p95 ${r.abs_p95_px}) rel ${r.rel_median_px} (p95 ${r.rel_p95_px}) | match Mpx/s ours ${row.match_mpx_s.ours} skimage ${row.match_mpx_s.skimage} | render ${row.render_mpx_s.ours} vs ${row.render_mpx_s.skimage}`,
      );
      console.log(`  step (adjacent pairs' relative placement vs the unwarped run): ours ${o.step_median_px} (p95 ${o.step_p95_px}) skimage ${r.step_median_px} (p95 ${r.step_p95_px}); ours on the unwarped stack moves sections by ${baseMoves.abs_median_px} px median (p95 ${baseMoves.abs_p95_px}), rotates the last by ${row.ours_on_unwarped_rotation_deg.last} deg (largest ${row.ours_on_unwarped_rotation_deg.max_abs})`);
      console.log(`  adjacent sections only: ours abs ${o.adjacent.abs_median_px} (p95 ${o.adjacent.abs_p95_px}) rel ${o.adjacent.rel_median_px} (p95 ${o.adjacent.rel_p95_px}) | skimage abs ${r.adjacent.abs_median_px} (p95 ${r.adjacent.abs_p95_px}) rel ${r.adjacent.rel_median_px} (p95 ${r.adjacent.rel_p95_px})`);
      console.log('  sections:', row.statuses.join(' '));
      console.log('  ours per section (z abs/rel/step median px):', o.per_section.map((s) => `${s.z} ${s.abs_median_px}/${s.rel_median_px}/${s.step_median_px ?? '-'}`).join(', '));
    }
  }
  return { step_px: STEP, border_px: BORDER, results };
}
