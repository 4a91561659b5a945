// Experiment (not a benchmark): live memory after gc at every section of every pass for stacks of
// several depths (the align-memory bench's generator). Usage: node --expose-gc --import tsx
// bench/align-exp-memory.ts SIZE 8,64,128 (docs/ALIGNMENT.md, Memory).
import { Volume } from '../src/core/volume.js';
import type { VolumeSource } from '../src/formats/source.js';
import { bilinear, image } from '../src/stages/align/image.js';
import { alignStack } from '../src/stages/align/solve.js';
import { readSlice } from '../src/stages/align/testing.js';
const s = await readSlice(new URL('../../shared/data/vnc-sstem/stack2/raw/00.tif', import.meta.url).pathname);
const base = image(s.w, s.h, s.data);
const w = Number(process.argv[2] ?? 384), h = w;
const shift = (z: number): [number, number] => [((z * 37) % 13) - 6 + 0.25 * (z % 3), ((z * 53) % 11) - 5];
const lazy = (nz: number): VolumeSource => ({
  url: `lazy-${nz}`, format: 'memory', dtype: 'float32', shape: [w, h, nz], channels: 1, voxelSize: [4.6, 4.6, 50], offset: [0, 0, 0], chunkShape: [w, h, 1],
  async read(b) { const v = Volume.zeros('float32', b); let o = 0;
    for (let z = b.min[2]; z < b.max[2]; z++) { const [dx, dy] = shift(z); for (let y = b.min[1]; y < b.max[1]; y++) for (let x = b.min[0]; x < b.max[0]; x++) v.data[o++] = bilinear(base, 128 + x + dx, 128 + y + dy) || 0; }
    return v; },
  async close() {},
});
for (const nz of (process.argv[3] ?? '8,32,64').split(',').map(Number)) {
  globalThis.gc!(); const m0 = process.memoryUsage();
  const live: number[] = [];
  const per: Record<string, number> = {};
  const res = await alignStack(lazy(nz), { elastic: true }, undefined, (pass) => { globalThis.gc!(); const g = process.memoryUsage(); const v = (g.heapUsed + g.arrayBuffers - m0.heapUsed - m0.arrayBuffers) / 2 ** 20; live.push(v); per[pass] = Math.max(per[pass] ?? 0, v); });
  console.log(nz, JSON.stringify(Object.fromEntries(Object.entries(per).map(([k, v]) => [k, +v.toFixed(2)]))));
  globalThis.gc!(); const g = process.memoryUsage();
  const json = JSON.stringify(res).length / 2 ** 20;
  console.log(nz, 'live during pass 3 MB: first', live[0].toFixed(2), 'last', live.at(-1)!.toFixed(2), 'max', Math.max(...live).toFixed(2), '| retained result', ((g.heapUsed + g.arrayBuffers - m0.heapUsed - m0.arrayBuffers) / 2 ** 20).toFixed(2), 'json MB', json.toFixed(2));
}
