// Experiment (not a benchmark): one stress case (stress.ts) on one volume, ours only, per section:
// abs / rel / step median px, the rotation each run leaves, flags (printSections), and the global
// affine's pair sets (PAIRS=1), for each configuration. The stress bench's lost sections, one at a
// time. Usage:
// [CONFIGS='[{}, {"fallbackPatch": 32}]'] [PAIRS=1] [ALIGN_DEBUG=1] npx tsx bench/align-exp-stress.ts isbi|vnc|phantom:13 shift|rotation|scale|contrast|partial|debris|missing-run [nz 8] [size 512]
import { type StressCase, makeStress } from '../src/stages/align/stress.js';
import { alignAndScore, experimentStack, printPairSets, printSections } from './align-data.js';

const ds = process.argv[2] ?? 'isbi';
const c = (process.argv[3] ?? 'partial') as StressCase;
const nz = Number(process.argv[4] ?? 8);
const size = Number(process.argv[5] ?? 512);
const { orig, vox } = await experimentStack(ds, nz, size);
const w = orig[0].w;
const configs = JSON.parse(process.env.CONFIGS ?? '[{}]') as Array<Record<string, unknown>>;
const n3 = (v: number | null) => (v !== null && Number.isFinite(v) ? v.toFixed(3) : '-');
const syn = makeStress(orig, c);
for (const cfg of configs) {
  const { base, r, e, cpu: sec } = await alignAndScore(orig, syn, vox, cfg, 0);
  const lost = e.per_section.filter((s) => (s.step_median_px ?? s.rel_median_px) > 5).map((s) => s.z);
  console.log(`${ds} ${c} ${w}x${w}x${nz} ${JSON.stringify(cfg)} (${sec.toFixed(1)} s CPU)`);
  printSections(e, syn, r, base, w, 3);
  console.log(`  all abs ${n3(e.abs_median_px)} rel ${n3(e.rel_median_px)} step ${n3(e.step_median_px)} / p95 ${n3(e.step_p95_px)}; lost ${lost.join(',') || '-'}`);
  if (process.env.PAIRS) printPairSets(r, base);
}
