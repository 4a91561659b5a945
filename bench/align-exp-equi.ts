// Experiment (not a benchmark): where does "rel" (non-equivariance) come from? One warp component
// at a time (shift, rotation, scale; all), with and without the blank section, affine only or with
// the elastic mesh; per section: rel = |G_z(T_z(p)) - T0_z(p)| median px (T0: the same method on the
// unwarped stack) and how far the unwarped run moves the section. Usage:
// [CFG='{...}'] [PARTS=shift,rotation,scale,all] [MISSING=3,-1] [ELASTIC=0,1] npx tsx bench/align-exp-equi.ts isbi|vnc|phantom NZ SIZE
import type { Image2D } from '../src/stages/align/image.js';
import { alignStack, memorySource } from '../src/stages/align/solve.js';
import { pullback } from '../src/stages/align/transform.js';
import { makeSynthetic, mapBack, quantile } from '../src/stages/align/synthetic.js';
import { phantomStack, realStack, sectionFiles } from './align-data.js';

const ds = process.argv[2] ?? 'isbi';
const nz = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 512);
const vox: [number, number, number] = ds === 'isbi' ? [4, 4, 50] : ds === 'phantom' ? [8, 8, 30] : [4.6, 4.6, 50];
const orig: Image2D[] = ds === 'phantom'
  ? phantomStack({ seed: 11, size: [Math.min(size, 384), Math.min(size, 384), nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 }).sections
  : await realStack(sectionFiles(ds === 'isbi' ? 'isbi' : 'vnc', nz), size);
const w = orig[0].w;
const cfg = JSON.parse(process.env.CFG ?? '{}') as Record<string, unknown>;
const parts = (process.env.PARTS ?? 'shift,rotation,scale,all').split(',');
const missings = (process.env.MISSING ?? '3,-1').split(',').map(Number);
const elastics = (process.env.ELASTIC ?? '0').split(',').map((s) => s === '1');
const f = (v: number[]) => (v.length ? quantile(v, 0.5).toFixed(2) : '-');
const full = { shift: 10, rotation: 2, scale: 0.02 };
for (const elastic of elastics) {
  const base = await alignStack(memorySource(orig, vox), { elastic, ...cfg });
  const tb = base.transforms.sections;
  const moves = tb.map((t, z) => {
    const m: number[] = [];
    for (let y = 32; y < w - 32; y += 16) for (let x = 32; x < w - 32; x += 16) { const [qx, qy] = pullback(t, x, y); m.push(Math.hypot(qx - x, qy - y)); }
    return f(m);
  });
  console.log(`${ds} elastic=${elastic} ${JSON.stringify(cfg)} unwarped moves per section: ${moves.join(' ')} | rot ${base.sections.map((s) => s.rotation_deg.toFixed(2)).join(',')} | scale ${base.sections.map((s) => s.scale.toFixed(3)).join(',')} | ${base.sections.map((s) => s.flags.join('+') || '.').join(' ')}`);
  for (const missing of missings) {
    for (const part of parts) {
      const spec = {
        shift: part === 'shift' || part === 'all' ? full.shift : 0,
        rotation: part === 'rotation' || part === 'all' ? full.rotation : 0,
        scale: part === 'scale' || part === 'all' ? full.scale : 0,
        elastic: 0, missing, foldSection: -1, fold: 0, seed: 5,
      };
      const syn = makeSynthetic(orig, spec);
      const r = await alignStack(memorySource(syn.sections, vox), { elastic, ...cfg });
      const t = r.transforms.sections;
      const rel: string[] = [];
      const abs: string[] = [];
      const allRel: number[] = [];
      syn.sections.forEach((_im, z) => {
        const a: number[] = [];
        const b: number[] = [];
        if (z > 0 && z !== missing) {
          for (let y = 32; y < w - 32; y += 16) for (let x = 32; x < w - 32; x += 16) {
            const [px, py] = mapBack(syn.warps[z], ...pullback(t[z], x, y));
            const [bx, by] = pullback(tb[z], x, y);
            b.push(Math.hypot(px - bx, py - by));
            a.push(Math.hypot(px - x, py - y));
          }
        }
        allRel.push(...b);
        rel.push(f(b));
        abs.push(f(a));
      });
      console.log(`  missing=${missing} ${part.padEnd(8)} rel median ${f(allRel)} | per section rel ${rel.join(' ')} | abs ${abs.join(' ')} | ${r.sections.map((s) => s.flags.filter((x) => x !== 'high-residual').join('+') || '.').join(' ')}`);
    }
  }
}
