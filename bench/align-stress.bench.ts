// Alignment stress benchmark (`npm run bench align-stress`): the failures a user meets first on a
// real misaligned stack, one at a time (src/stages/align/stress.ts): sections placed 20-100 px
// off, rotated 5-20°, scaled 3-8 %, contrast/brightness steps, partial sections (the rest exactly
// zero), dark dirt blobs, three missing sections in a row. Real sections (ISBI 2012 512 px, where
// thresholds are chosen; vnc-sstem stack2 at its full 1024 px; the phantom seed 13) with known
// maps; ours with defaults vs scikit-image's phase correlation (bench/refs/ref_align.py, rigid)
// on the same input in one run. Per case: step residual (each adjacent pair's relative placement
// against the same method on the unwarped stack, px), abs, rel, per-section step, statuses/flags,
// CPU seconds. A section is "lost" when its step median is above LOST_PX (or, after a missing
// section, where there is no step, its rel median is above LOST_PX); a case is recovered when no
// section is lost.
// ALIGN_STRESS_ONLY=isbi,vnc,phantom (substrings), ALIGN_STRESS_CASES=shift,rotation,
// ALIGN_STRESS_Z (8), ALIGN_STRESS_PARAMS='{"elastic":false}', ALIGN_STRESS_REF=0: experiments.
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Vec3 } from '../src/core/box.js';
import type { Image2D } from '../src/stages/align/image.js';
import { alignStack, memorySource } from '../src/stages/align/solve.js';
import { STRESS_CASES, type StressCase, makeStress } from '../src/stages/align/stress.js';
import { pullback } from '../src/stages/align/transform.js';
import { type Pull, phantomStack, realStack, refPull, runRef, scoreAlignment, sectionFiles } from './align-data.js';
import { cpuAsync } from './cpu.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** A section is lost when its step (or, after a gap, rel) median is above this, px. */
export const LOST_PX = 5;

type Score = ReturnType<typeof scoreAlignment>;

function lost(e: Score): number[] {
  return e.per_section.filter((s) => (s.step_median_px ?? s.rel_median_px) > LOST_PX).map((s) => s.z);
}

/** Flags that do not warn of a placement (the quality report's `flagged` list leaves out skipped-neighbour; high-residual is relative to the stack). */
const NOT_WARNINGS = new Set(['skipped-neighbour', 'high-residual']);

function summary(e: Score, flags?: string[][]) {
  const l = lost(e);
  return {
    step_median_px: e.step_median_px, step_p95_px: e.step_p95_px, abs_median_px: e.abs_median_px, abs_p95_px: e.abs_p95_px, rel_median_px: e.rel_median_px, rel_p95_px: e.rel_p95_px,
    lost_sections: l, recovered: l.length === 0,
    // lost sections the quality report does not warn of (no flag but skipped-neighbour/high-residual): the dangerous ones
    lost_unflagged: flags ? l.filter((z) => !flags[z].some((f) => !NOT_WARNINGS.has(f))) : null,
    per_section: e.per_section,
  };
}

export default async function bench(): Promise<Record<string, unknown>> {
  const dir = path.join(here, 'out', 'align-stress');
  mkdirSync(dir, { recursive: true });
  const nz = Number(process.env.ALIGN_STRESS_Z ?? 8);
  const only = process.env.ALIGN_STRESS_ONLY?.split(',');
  const cases = (process.env.ALIGN_STRESS_CASES?.split(',') ?? [...STRESS_CASES]) as StressCase[];
  const extra = process.env.ALIGN_STRESS_PARAMS ? (JSON.parse(process.env.ALIGN_STRESS_PARAMS) as Record<string, unknown>) : {};
  const withRef = process.env.ALIGN_STRESS_REF !== '0';
  const all: Array<{ name: string; role: string; voxel: Vec3; load: () => Promise<Image2D[]> }> = [
    { name: 'isbi2012', role: 'thresholds chosen here', voxel: [4, 4, 50], load: () => realStack(sectionFiles('isbi', nz), 512) },
    { name: 'vnc-sstem stack2 full', role: 'reported', voxel: [4.6, 4.6, 50], load: () => realStack(sectionFiles('vnc', nz), 1024) },
    { name: 'phantom seed 13', role: 'reported (exact frame)', voxel: [8, 8, 30], load: async () => phantomStack({ seed: 13, size: [384, 384, nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 }).sections },
  ];
  const results: Record<string, unknown>[] = [];
  for (const ds of all.filter((d) => !only || only.some((o) => d.name.includes(o)))) {
    const orig = await ds.load();
    const { w, h } = orig[0];
    const tag = ds.name.replace(/\W+/g, '_');
    const base = await alignStack(memorySource(orig, ds.voxel), extra);
    const tb = base.transforms.sections;
    const level = base.transforms.params.match_levels as number;
    const refBase = withRef ? runRef(dir, `${tag}-base`, orig, 'rigid', level) : null;
    for (const c of cases) {
      const syn = makeStress(orig, c);
      const [r, seconds] = await cpuAsync(() => alignStack(memorySource(syn.sections, ds.voxel), extra));
      const t = r.transforms.sections;
      const o = scoreAlignment(syn, (z, x, y) => pullback(t[z], x, y), (z, x, y) => pullback(tb[z], x, y), 0);
      const ref = withRef ? runRef(dir, `${tag}-${c}`, syn.sections, 'rigid', level) : null;
      const idPull: Pull = (_z, x, y) => [x, y];
      const s = ref && refBase ? scoreAlignment(syn, refPull(ref.sections, w), refPull(refBase.sections, w), 0) : scoreAlignment(syn, idPull, idPull, 0);
      const row = {
        dataset: ds.name, role: ds.role, case: c, size: [w, h, orig.length], voxel_nm: ds.voxel[0], params: extra,
        ours: summary(o, r.sections.map((x) => x.flags)), skimage: withRef ? summary(s) : null, unaligned: withRef ? null : summary(s),
        statuses: r.sections.map((x) => x.status + (x.flags.length ? `(${x.flags.join('+')})` : '') + (x.unsure_px !== null ? `~${x.unsure_px.toFixed(1)}px` : '')),
        cpu_seconds: { ours: +seconds.toFixed(2), skimage: ref ? +ref.cpu_seconds.match.toFixed(2) : null },
      };
      results.push(row);
      const so = row.ours;
      const sk = summary(s);
      console.log(
        `${ds.name} ${c} [${w}x${h}x${orig.length}]: ours step ${so.step_median_px} / p95 ${so.step_p95_px} abs ${so.abs_median_px} rel ${so.rel_median_px} ` +
          `${so.recovered ? 'recovered' : `LOST z ${so.lost_sections.join(',')} (unflagged: ${so.lost_unflagged!.join(',') || '-'})`} (${row.cpu_seconds.ours} s CPU) | ${withRef ? 'skimage' : 'unaligned'} step ${sk.step_median_px} / p95 ${sk.step_p95_px} abs ${sk.abs_median_px} ` +
          `${sk.recovered ? 'recovered' : `lost z ${sk.lost_sections.join(',')}`}${ref ? ` (${row.cpu_seconds.skimage} s CPU)` : ''}`,
      );
      console.log('  sections:', row.statuses.join(' '));
      console.log('  ours per section (z step/rel median px):', o.per_section.map((x) => `${x.z} ${x.step_median_px ?? '-'}/${x.rel_median_px}`).join(', '));
      console.log('  ours per section (z adjacent placement vs the original frame, warped/unwarped run, median px):', o.per_section.map((x) => `${x.z} ${x.abs_step_median_px ?? '-'}/${x.base_step_median_px ?? '-'}`).join(', '));
    }
  }
  return { lost_px: LOST_PX, results };
}
