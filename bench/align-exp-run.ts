// Experiment (not a benchmark): a run of missing sections (stress.ts's 'missing-run' case: a small
// jitter on every section, sections RUN blank in a row from FIRST), ours only: per section abs
// |G(T(p)) - p|, rel (vs the same parameters on the unwarped stack) and step (median px), flags of
// the warped | unwarped run, and the global affine's pair sets across the gap. Usage:
// [RUN=3] [FIRST=3] [CONFIGS='[{}]'] [PAIRS=1] [ALIGN_DEBUG=1] npx tsx bench/align-exp-run.ts phantom:13|isbi|vnc [nz 8] [size 512]
import { makeStress } from '../src/stages/align/stress.js';
import { alignAndScore, experimentStack, printPairSets, printSections } from './align-data.js';

const ds = process.argv[2] ?? 'isbi';
const run = Number(process.env.RUN ?? 3);
const first = Number(process.env.FIRST ?? 3);
const nz = Number(process.argv[3] ?? first + run + 2);
const size = Number(process.argv[4] ?? 512);
const { orig, vox } = await experimentStack(ds, nz, size);
const w = orig[0].w;
const configs = JSON.parse(process.env.CONFIGS ?? '[{}]') as Array<Record<string, unknown>>;
const missing = Array.from({ length: run }, (_, k) => first + k);
const n3 = (v: number | null) => (v !== null && Number.isFinite(v) ? v.toFixed(2) : '-');
const syn = makeStress(orig, 'missing-run', { missing });
for (const cfg of configs) {
  const { base, r, e, cpu: sec } = await alignAndScore(orig, syn, vox, cfg, 0);
  console.log(`${ds} ${w}x${w}x${nz}, missing ${missing.join(',')} ${JSON.stringify(cfg)} (${sec.toFixed(1)} s CPU)`);
  printSections(e, syn, r, base, w, 2);
  console.log(`  all abs ${n3(e.abs_median_px)} rel ${n3(e.rel_median_px)} step ${n3(e.step_median_px)}`);
  if (process.env.PAIRS) printPairSets(r, base);
}
