// Experiment (not a benchmark): feature matches between neighbouring warped sections (gap 1 and 2),
// similarity by RANSAC, error against the known warps, and the translation alone for comparison.
// Usage: [R=12 (guide radius)] [FO='{...}' (FeatureOptions)] npx tsx bench/align-exp-features.ts isbi|vnc|phantom LEVEL (docs/ALIGNMENT.md).
import { halve, type Image2D } from '../src/stages/align/image.js';
import { makeSynthetic, mapBack } from '../src/stages/align/synthetic.js';
import { detectFeatures, matchFeatures, FEATURE_DEFAULTS } from '../src/stages/align/features.js';
import { ransacAffine } from '../src/stages/align/ransac.js';
import { apply, invert } from '../src/stages/align/affine.js';
import { phantomStack, realStack, sectionFiles } from './align-data.js';
const ds = process.argv[2] ?? 'isbi';
const level = Number(process.argv[3] ?? 2);
const size = 512;
async function load(): Promise<Image2D[]> {
  if (ds === 'phantom') return phantomStack({ seed: 11, size: [384, 384, 8], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 } as any).sections;
  return realStack(sectionFiles(ds === 'isbi' ? 'isbi' : 'vnc', 8), size);
}
const orig = await load();
const syn = makeSynthetic(orig, { shift: 10, rotation: 2, scale: 0.02, elastic: 0, missing: -1, foldSection: -1, fold: 0, seed: 5 });
const sc = 2 ** level;
const opts = { ...FEATURE_DEFAULTS, ...(process.env.FO ? JSON.parse(process.env.FO) : {}) };
const t0 = Date.now();
const feats = syn.sections.map((s) => { let c = s; for (let i = 0; i < level; i++) c = halve(c); return detectFeatures(c, opts); });
console.log('detect ms/section', (Date.now() - t0) / 8, 'kp', feats.map((f) => f.keypoints.length).join(','));
for (const gap of [1, 2]) {
  for (let z = gap; z < 8; z++) {
    const j = z - gap;
    const Gj0 = invert(syn.warps[j].affine);
    const [cxp, cyp] = mapBack(syn.warps[z], size / 2, size / 2); const [gx, gy] = apply(Gj0, cxp, cyp);
    const guide = { dx: (gx - size / 2) / sc, dy: (gy - size / 2) / sc, radius: Number(process.env.R ?? 12) };
    const m = matchFeatures(feats[z], feats[j], opts.ratio, process.env.R ? guide : undefined);
    // pairs: section z kp -> section j kp, full-res coords
    const P = { x: [] as number[], y: [] as number[], u: [] as number[], v: [] as number[] };
    for (const { i, j: jj } of m) {
      const a = feats[z].keypoints[i], b = feats[j].keypoints[jj];
      P.x.push(sc * a.x + (sc - 1) / 2); P.y.push(sc * a.y + (sc - 1) / 2); P.u.push(sc * b.x + (sc - 1) / 2); P.v.push(sc * b.y + (sc - 1) / 2);
    }
    const fit = ransacAffine(P, { model: 'similarity', threshold: 2 * sc, iterations: 1000, seed: 1 });
    // truth: q_z -> orig p = G_z(q_z) -> q_j = G_j^-1(p)
    let err = NaN;
    { const Gj = invert(syn.warps[j].affine); const e: number[] = [];
      for (let y = 64; y < size - 64; y += 64) for (let x = 64; x < size - 64; x += 64) {
        const [px, py] = mapBack(syn.warps[z], x, y); const [tx, ty] = apply(Gj, px, py);
        e.push(Math.hypot(tx - (x + guide.dx * sc), ty - (y + guide.dy * sc))); }
      e.sort((a, b) => a - b); (globalThis as any).terr = e[e.length >> 1]; }
    if (fit) {
      const Gj = invert(syn.warps[j].affine);
      const e: number[] = [];
      for (let y = 64; y < size - 64; y += 64) for (let x = 64; x < size - 64; x += 64) {
        const [px, py] = mapBack(syn.warps[z], x, y);
        const [tx, ty] = apply(Gj, px, py);
        const [fx, fy] = apply(fit.affine, x, y);
        e.push(Math.hypot(tx - fx, ty - fy));
      }
      e.sort((a, b) => a - b); err = e[e.length >> 1];
    }
    console.log(`gap ${gap} z ${z}->${j}: matches ${m.length} inliers ${fit?.count ?? 0} median err ${err.toFixed(2)} px (translation only ${(globalThis as any).terr.toFixed(2)})`);
  }
}
