// Experiment (not a benchmark): the bench's cases (rigid and elastic warps, blank section 3) for a
// list of parameter sets, ours only, median px: abs (vs the original frame), rel (vs the same
// parameters on the unwarped stack), step (adjacent sections' relative placement vs unwarped),
// and how far the unwarped run moves sections. Usage:
// CONFIGS='[{}, {"stiffness": 4}]' [MODES=rigid,elastic] npx tsx bench/align-exp-sweep.ts phantom:11|phantom:13|isbi|vnc [nz 8] [size 512]
import { alignStack, memorySource } from '../src/stages/align/solve.js';
import { inFold, makeSynthetic, mapBack, quantile } from '../src/stages/align/synthetic.js';
import { pullback } from '../src/stages/align/transform.js';
import { BENCH_WARPS, experimentStack } from './align-data.js';

const ds = process.argv[2] ?? 'phantom:11';
const nz = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 512);
const { orig, vox } = await experimentStack(ds, nz, size);
const w = orig[0].w;
const configs = JSON.parse(process.env.CONFIGS ?? '[{}]') as Array<Record<string, unknown>>;
const modes = (process.env.MODES ?? 'rigid,elastic').split(',');
const cases = BENCH_WARPS;
const f = (v: number[]) => (v.length ? quantile(v, 0.5).toFixed(3) : '-');
for (const cfg of configs) {
  const out: string[] = [];
  for (const mode of modes as Array<'rigid' | 'elastic'>) {
    const spec = cases[mode];
    const params = { elastic: mode === 'elastic', ...cfg };
    const base = await alignStack(memorySource(orig, vox), params);
    const syn = makeSynthetic(orig, spec);
    const r = await alignStack(memorySource(syn.sections, vox), params);
    const t = r.transforms.sections;
    const tb = base.transforms.sections;
    const abs: number[] = [];
    const rel: number[] = [];
    const step: number[] = [];
    const moves: number[] = [];
    for (let z = 1; z < nz; z++) {
      for (let y = 32; y < w - 32; y += 16) for (let x = 32; x < w - 32; x += 16) {
        const [mx, my] = pullback(tb[z], x, y);
        moves.push(Math.hypot(mx - x, my - y));
        if (z === spec.missing || inFold(syn.warps[z], [x, y], 4 + 2 * spec.fold)) continue;
        const [px, py] = mapBack(syn.warps[z], ...pullback(t[z], x, y));
        abs.push(Math.hypot(px - x, py - y));
        rel.push(Math.hypot(px - mx, py - my));
        if (z - 1 > 0 && z - 1 !== spec.missing) {
          const [px1, py1] = mapBack(syn.warps[z - 1], ...pullback(t[z - 1], x, y));
          const [bx1, by1] = pullback(tb[z - 1], x, y);
          step.push(Math.hypot(px - px1 - (mx - bx1), py - py1 - (my - by1)));
        }
      }
    }
    out.push(`${mode} abs ${f(abs)} rel ${f(rel)} step ${f(step)} moves ${f(moves)} [${r.sections.map((s) => s.flags.filter((x) => x !== 'high-residual').join('+') || '.').join(' ')}]`);
  }
  console.log(`${ds} ${JSON.stringify(cfg)}: ${out.join(' | ')}`);
}
