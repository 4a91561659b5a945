// Experiment (not a benchmark): the bench's cases (rigid and elastic warps, blank section 3) for a
// list of parameter sets, ours only, median px: abs (vs the original frame), rel (vs the same
// parameters on the unwarped stack), step (adjacent sections' relative placement vs unwarped),
// and how far the unwarped run moves sections. Usage:
// CONFIGS='[{}, {"stiffness": 4}]' [MODES=rigid,elastic] npx tsx bench/align-exp-sweep.ts phantom:11|phantom:13|isbi|vnc [nz 8] [size 512]
import { quantile } from '../src/stages/align/synthetic.js';
import { pullback } from '../src/stages/align/transform.js';
import { BORDER, STEP, experimentStack, runExperimentCase } from './align-data.js';

const ds = process.argv[2] ?? 'phantom:11';
const nz = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 512);
const { orig, vox } = await experimentStack(ds, nz, size);
const w = orig[0].w;
const configs = JSON.parse(process.env.CONFIGS ?? '[{}]') as Array<Record<string, unknown>>;
const modes = (process.env.MODES ?? 'rigid,elastic').split(',');
const f = (v: number[]) => (v.length ? quantile(v, 0.5).toFixed(3) : '-');
const n3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '-');
for (const cfg of configs) {
  const out: string[] = [];
  for (const mode of modes as Array<'rigid' | 'elastic'>) {
    const { base, r, e } = await runExperimentCase(orig, vox, mode, cfg);
    const tb = base.transforms.sections;
    // how far the unwarped run moves each point (every section after the first, blank one included)
    const moves: number[] = [];
    for (let z = 1; z < nz; z++) {
      for (let y = BORDER; y < w - BORDER; y += STEP) for (let x = BORDER; x < w - BORDER; x += STEP) {
        const [mx, my] = pullback(tb[z], x, y);
        moves.push(Math.hypot(mx - x, my - y));
      }
    }
    out.push(`${mode} abs ${n3(e.abs_median_px)} rel ${n3(e.rel_median_px)} step ${n3(e.step_median_px)} moves ${f(moves)} [${r.sections.map((s) => s.flags.filter((x) => x !== 'high-residual').join('+') || '.').join(' ')}]`);
  }
  console.log(`${ds} ${JSON.stringify(cfg)}: ${out.join(' | ')}`);
}
