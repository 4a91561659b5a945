// Experiment (not a benchmark): why a match across a blank section fails, in numbers. For the
// unwarped stack's section pairs (2,3) and (3,4) (adjacent, what the unblanked stack matches) and
// (2,4), (1,4), (2,5) (what the stack with a blank section 3 must match: distance 2 and 3), at each
// scale and patch size: the patch grid (stride = patch / 2) matched by the aligner's phase
// correlation (its defaults: low-pass 1 px, whitening 0.1, 3 rounds), the fraction of patches whose
// peak ratio passes 1.8 (and the retry's 1.2), the median peak ratio, and the spread of the passing
// patches' displacements (median absolute deviation about their median, full-resolution px): the
// sections are aligned (the phantom exactly), so a true match agrees with its neighbours. Usage:
// [PAIRS='[[2,3],[2,4]]'] [PATCHES=32,64] [WHITEN=0.1] [LOWPASS=1] npx tsx bench/align-exp-gap.ts phantom:11|phantom:13|isbi|vnc [nz 8] [size 512]
import { halve, type Image2D } from '../src/stages/align/image.js';
import { matchPatches, patchCentres } from '../src/stages/align/match.js';
import { quantile } from '../src/stages/align/synthetic.js';
import { experimentStack } from './align-data.js';

const ds = process.argv[2] ?? 'phantom:11';
const nz = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 512);
const { orig, vox } = await experimentStack(ds, nz, size);
const pairs: Array<[number, number]> = JSON.parse(process.env.PAIRS ?? '[[2,3],[3,4],[2,4],[1,4],[2,5]]');
const patches = (process.env.PATCHES ?? '32,64,128').split(',').map(Number);
/** Phase-correlation variants: whitening floor (large = plain cross-correlation) and low-pass sigma, px at the level. */
const whiten = Number(process.env.WHITEN ?? 0.1);
const lowpass = Number(process.env.LOWPASS ?? 1);
const levels: Image2D[][] = [orig];
while (levels.length < 4 && levels[levels.length - 1][0].w >= 128) levels.push(levels[levels.length - 1].map(halve));
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');
console.log(`${ds}: ${orig[0].w}x${orig[0].h}x${orig.length}, ${vox[0]} nm pixels, whiten ${whiten}, low-pass ${lowpass}`);
console.log('pair  nm  patch  n  pass1.8  pass1.2  ratio_med  d_med_px  mad_px');
for (const [j, z] of pairs) {
  for (let l = 0; l < levels.length; l++) {
    const im = levels[l];
    const s = 2 ** l;
    for (const n of patches) {
      if (n > Math.min(im[0].w, im[0].h)) continue;
      const cs = patchCentres(im[0].w, im[0].h, n, n / 2);
      const ms = matchPatches(im[j], im[z], cs, { patch: n, stride: n / 2, maxShift: n / 4, minRatio: 1.2, minStd: 3, rounds: 3, lowpass, whiten });
      const ok = ms.filter((m) => m.reason === undefined);
      const strong = ms.filter((m) => m.reason === undefined && m.ratio >= 1.8);
      const use = strong.length >= 3 ? strong : ok;
      const dx = quantile(use.map((m) => m.dx), 0.5);
      const dy = quantile(use.map((m) => m.dy), 0.5);
      const dev = use.map((m) => Math.hypot(m.dx - dx, m.dy - dy) * s);
      const ratios = ms.filter((m) => m.ratio > 0).map((m) => m.ratio);
      console.log(`${j},${z}  ${vox[0] * s}  ${n}  ${cs.length}  ${(strong.length / cs.length).toFixed(2)}  ${(ok.length / cs.length).toFixed(2)}  ${f2(quantile(ratios, 0.5))}  ${f2(Math.hypot(dx, dy) * s)}  ${f2(quantile(dev, 0.5))}`);
    }
  }
}
