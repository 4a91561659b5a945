// Experiment (not a benchmark): the bench's cases (rigid and elastic warps, blank section 3), ours
// only, the error per section: abs |G_z(T_z(p)) - p|, rel |G_z(T_z(p)) - T0_z(p)| (T0: the same
// parameters on the unwarped stack), step (against section z-1, vs unwarped), median px, and each
// run's rotation per section (warped run composed with the known warp, and the unwarped run), so
// that one sees which sections carry the stack's median. Usage:
// CONFIGS='[{}, {"pairWeight": "quality"}]' [MODES=rigid,elastic] npx tsx bench/align-exp-sections.ts phantom:11|phantom:13|isbi|vnc [nz 8] [size 512]
import { experimentStack, printSections, runExperimentCase } from './align-data.js';

const ds = process.argv[2] ?? 'phantom:11';
const nz = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 512);
const { orig, vox } = await experimentStack(ds, nz, size);
const w = orig[0].w;
const configs = JSON.parse(process.env.CONFIGS ?? '[{}]') as Array<Record<string, unknown>>;
const modes = (process.env.MODES ?? 'rigid,elastic').split(',');
const n3 = (v: number | null) => (v !== null && Number.isFinite(v) ? v.toFixed(3) : '-');
for (const cfg of configs) {
  for (const mode of modes as Array<'rigid' | 'elastic'>) {
    const { base, syn, r, e } = await runExperimentCase(orig, vox, mode, cfg);
    console.log(`${ds} ${mode} ${JSON.stringify(cfg)}`);
    printSections(e, syn, r, base, w, 3);
    console.log(`  all ${n3(e.abs_median_px)} ${n3(e.rel_median_px)} ${n3(e.step_median_px)}`);
    if (process.env.PAIRS) {
      for (const [name, res] of [['warped', r], ['unwarped', base]] as const) {
        console.log(`  pair sets (${name}): ` + res.pairs.map((s) => `${s.j}-${s.z} ${s.source === 'patches' ? '' : s.source}${s.kept}/${s.pairs} w${s.weight_sum} r${s.ratio_median ?? '-'} res${s.residual_median_px}`).join(', '));
      }
    }
  }
}
