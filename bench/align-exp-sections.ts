// Experiment (not a benchmark): the bench's cases (rigid and elastic warps, blank section 3), ours
// only, the error per section: abs |G_z(T_z(p)) - p|, rel |G_z(T_z(p)) - T0_z(p)| (T0: the same
// parameters on the unwarped stack), step (against section z-1, vs unwarped), median px, and each
// run's rotation per section (warped run composed with the known warp, and the unwarped run), so
// that one sees which sections carry the stack's median. Usage:
// CONFIGS='[{}, {"pairWeight": "quality"}]' [MODES=rigid,elastic] npx tsx bench/align-exp-sections.ts phantom:11|phantom:13|isbi|vnc [nz 8] [size 512]
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
const med = (v: number[]) => (v.length ? quantile(v, 0.5).toFixed(2) : '-');
/** Rotation (deg) of the map p -> f(p) from two points about the centre. */
const rot = (f: (x: number, y: number) => [number, number]) => {
  const c = w / 2;
  const [ax, ay] = f(c - 64, c);
  const [bx, by] = f(c + 64, c);
  return (Math.atan2(by - ay, bx - ax) * 180) / Math.PI;
};
for (const cfg of configs) {
  for (const mode of modes as Array<'rigid' | 'elastic'>) {
    const spec = cases[mode];
    const params = { elastic: mode === 'elastic', ...cfg };
    const base = await alignStack(memorySource(orig, vox), params);
    const syn = makeSynthetic(orig, spec);
    const r = await alignStack(memorySource(syn.sections, vox), params);
    const t = r.transforms.sections;
    const tb = base.transforms.sections;
    const all = { abs: [] as number[], rel: [] as number[], step: [] as number[] };
    console.log(`${ds} ${mode} ${JSON.stringify(cfg)}`);
    console.log('  z   abs   rel  step  rot(warped) rot(unwarped)  flags warped | unwarped');
    for (let z = 1; z < nz; z++) {
      if (z === spec.missing) continue;
      const abs: number[] = [];
      const rel: number[] = [];
      const step: number[] = [];
      for (let y = 32; y < w - 32; y += 16) for (let x = 32; x < w - 32; x += 16) {
        if (inFold(syn.warps[z], [x, y], 4 + 2 * spec.fold)) continue;
        const [mx, my] = pullback(tb[z], x, y);
        const [px, py] = mapBack(syn.warps[z], ...pullback(t[z], x, y));
        abs.push(Math.hypot(px - x, py - y));
        rel.push(Math.hypot(px - mx, py - my));
        if (z - 1 > 0 && z - 1 !== spec.missing) {
          const [px1, py1] = mapBack(syn.warps[z - 1], ...pullback(t[z - 1], x, y));
          const [bx1, by1] = pullback(tb[z - 1], x, y);
          step.push(Math.hypot(px - px1 - (mx - bx1), py - py1 - (my - by1)));
        }
      }
      all.abs.push(...abs);
      all.rel.push(...rel);
      all.step.push(...step);
      const rw = rot((x, y) => mapBack(syn.warps[z], ...pullback(t[z], x, y)));
      const ru = rot((x, y) => pullback(tb[z], x, y));
      const fl = (s: { flags: string[] }) => s.flags.filter((x) => x !== 'high-residual').join('+') || '.';
      console.log(`  ${z} ${med(abs).padStart(5)} ${med(rel).padStart(5)} ${med(step).padStart(5)} ${rw.toFixed(2).padStart(8)} ${ru.toFixed(2).padStart(8)}   ${fl(r.sections[z])} | ${fl(base.sections[z])}`);
    }
    console.log(`  all ${med(all.abs)} ${med(all.rel)} ${med(all.step)}`);
    if (process.env.PAIRS) {
      for (const [name, res] of [['warped', r], ['unwarped', base]] as const) {
        console.log(`  pair sets (${name}): ` + res.pairs.map((s) => `${s.j}-${s.z} ${s.source === 'chain' ? 'chain' : ''}${s.kept}/${s.pairs} w${s.weight_sum} r${s.ratio_median ?? '-'} res${s.residual_median_px}`).join(', '));
      }
    }
  }
}
