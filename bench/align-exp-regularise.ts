// Experiment (not a benchmark): align real crops (ISBI 2012, vnc-sstem stack2) or the phantom with several
// parameter sets, affine only; WARP=1 scores abs error against known rigid warps, else how far each
// section of the unwarped stack is moved. Usage: [WARP=1] [CFGS='[{...}]'] npx tsx bench/align-exp-regularise.ts isbi|vnc|phantom NZ SIZE
// (docs/ALIGNMENT.md: regularised affine, matching scale).
import type { Image2D } from '../src/stages/align/image.js';
import { alignStack, memorySource } from '../src/stages/align/solve.js';
import { pullback } from '../src/stages/align/transform.js';
import { makeSynthetic, mapBack } from '../src/stages/align/synthetic.js';
import { phantomStack, realStack, sectionFiles } from './align-data.js';
const ds = process.argv[2] ?? 'isbi';
const nz = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 512);
const vox: [number, number, number] = ds === 'isbi' ? [4, 4, 50] : ds === 'phantom' ? [8, 8, 30] : [4.6, 4.6, 50];
async function load(): Promise<Image2D[]> {
  if (ds === 'phantom') return phantomStack({ seed: 11, size: [size, size, nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 } as any).sections;
  return realStack(sectionFiles(ds === 'isbi' ? 'isbi' : 'vnc', nz), size);
}
const orig = await load();
const warp = process.env.WARP === '1';
const syn = makeSynthetic(orig, { shift: 10, rotation: 2, scale: 0.02, elastic: 0, missing: -1, foldSection: -1, fold: 0, seed: 5 });
const input = warp ? syn.sections : orig;
for (const cfg of JSON.parse(process.env.CFGS ?? '[{"model":"affine"},{"model":"affine","regularise":0.1},{"model":"affine","regularise":1},{"model":"rigid"}]')) {
  const r = await alignStack(memorySource(input, vox), { elastic: false, ...cfg });
  const moves: number[] = [];
  r.transforms.sections.forEach((t, z) => { if (z === 0) return; for (let y = 32; y < size - 32; y += 16) for (let x = 32; x < size - 32; x += 16) { const [qx, qy] = pullback(t, x, y); const [px, py] = warp ? mapBack(syn.warps[z], qx, qy) : [qx, qy]; moves.push(Math.hypot(px - x, py - y)); } });
  moves.sort((a, b) => a - b);
  const last = r.sections[r.sections.length - 1];
  console.log(JSON.stringify(cfg), `${warp ? 'abs error' : 'moves unwarped'} median ${moves[moves.length >> 1].toFixed(2)} p95 ${moves[Math.floor(0.95 * moves.length)].toFixed(2)} | last rot ${last.rotation_deg.toFixed(2)} deg scale ${last.scale.toFixed(4)} | rot ${r.sections.map((s) => s.rotation_deg.toFixed(2)).join(',')} | scale ${r.sections.map((s) => s.scale.toFixed(3)).join(',')} | ${r.sections.map((s) => s.flags.join('+')).join(' ')}`);
}
