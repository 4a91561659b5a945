// Experiment (not a benchmark): the bench's cases (rigid and elastic warps, blank section 3) for a
// list of parameter sets, ours only, median px: abs (vs the original frame), rel (vs the same
// parameters on the unwarped stack), step (adjacent sections' relative placement vs unwarped),
// and how far the unwarped run moves sections. Usage:
// CONFIGS='[{}, {"stiffness": 4}]' [MODES=rigid,elastic] npx tsx bench/align-exp-sweep.ts phantom:11|phantom:13|isbi|vnc [nz 8] [size 512]
import type { Image2D } from '../src/stages/align/image.js';
import { alignStack, memorySource } from '../src/stages/align/solve.js';
import { inFold, makeSynthetic, mapBack, quantile } from '../src/stages/align/synthetic.js';
import { pullback } from '../src/stages/align/transform.js';
import { phantomStack, realStack, sectionFiles } from './align-data.js';

const ds = process.argv[2] ?? 'phantom:11';
const nz = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 512);
const isPh = ds.startsWith('phantom');
const vox: [number, number, number] = ds === 'isbi' ? [4, 4, 50] : isPh ? [8, 8, 30] : [4.6, 4.6, 50];
const orig: Image2D[] = isPh
  ? phantomStack({ seed: Number(ds.split(':')[1] ?? 11), size: [Math.min(size, 384), Math.min(size, 384), nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 }).sections
  : await realStack(sectionFiles(ds === 'isbi' ? 'isbi' : 'vnc', nz), size);
const w = orig[0].w;
const configs = JSON.parse(process.env.CONFIGS ?? '[{}]') as Array<Record<string, unknown>>;
const modes = (process.env.MODES ?? 'rigid,elastic').split(',');
const cases = {
  rigid: { shift: 10, rotation: 2, scale: 0.02, elastic: 0, missing: 3, foldSection: -1, fold: 0, seed: 5 },
  elastic: { shift: 6, rotation: 1, scale: 0.01, elastic: 4, missing: 3, foldSection: 5, fold: 6, seed: 7 },
};
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
