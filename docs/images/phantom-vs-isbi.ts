// Makes docs/images/phantom-vs-isbi.png: a phantom slice beside a real serial-section TEM slice
// (ISBI 2012, Drosophila VNC, 4x4x50 nm), raw on top, ground truth overlaid below, and a row of
// phantom synapses (raw, and clefts overlaid) at the same scale.
// Run: npx tsx docs/images/phantom-vs-isbi.ts [seed]
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { buildModel } from '../../src/stages/phantom/model.js';
import { phantomBlock } from '../../src/stages/phantom/tasks.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const isbi = path.join(here, '../../../shared/data/isbi2012/train');
const seed = Number(process.argv[2] ?? 5);
const W = 512;
// The phantom at the ISBI voxel size, so both panels have the same scale.
const params = { seed, size: [W, W, 5] as [number, number, number], voxelSize: [4, 4, 50] as [number, number, number] };
const out = phantomBlock({ box: { min: [0, 0, 2], max: [W, W, 3] }, readBox: { min: [0, 0, 2], max: [W, W, 3] }, inputs: {}, params, blockIndex: [0, 0, 0] });
const v = out.volumes!;
const raw = v.raw.data as Uint8Array;
const neurons = v.neurons.data as BigUint64Array;
const mito = v.mitochondria.data as BigUint64Array;
const ves = v.vesicles.data as BigUint64Array;
const cleft = v.clefts.data as BigUint64Array;

function colour(id: bigint): [number, number, number] {
  let h = Number(id % 1000003n) * 2654435761;
  h = (h ^ (h >>> 13)) >>> 0;
  return [64 + (h & 127), 64 + ((h >> 8) & 127), 64 + ((h >> 16) & 127)];
}
const rgb = (grey: Uint8Array) => {
  const o = Buffer.alloc(W * W * 3);
  for (let i = 0; i < W * W; i++) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = grey[i];
  return o;
};
const blend = (o: Buffer, i: number, c: readonly number[], a: number) => {
  for (let k = 0; k < 3; k++) o[3 * i + k] = Math.round(o[3 * i + k] * (1 - a) + c[k] * a);
};
const phantomOverlay = rgb(raw);
for (let i = 0; i < W * W; i++) {
  const x = i % W;
  const y = (i / W) | 0;
  const id = neurons[i];
  const edge = id === 0n || (x + 1 < W && neurons[i + 1] !== id) || (y + 1 < W && neurons[i + W] !== id);
  if (edge) blend(phantomOverlay, i, [255, 40, 40], 0.8);
  else blend(phantomOverlay, i, colour(id), 0.3);
  if (mito[i]) blend(phantomOverlay, i, [0, 220, 255], 0.45);
  if (ves[i]) blend(phantomOverlay, i, [255, 0, 255], 0.45);
  if (cleft[i]) blend(phantomOverlay, i, [255, 255, 0], 0.9);
}
const realRaw = await sharp(path.join(isbi, 'image/0.png')).greyscale().raw().toBuffer();
const realLabel = await sharp(path.join(isbi, 'label/0.png')).greyscale().raw().toBuffer();
const realOverlay = rgb(new Uint8Array(realRaw));
for (let i = 0; i < W * W; i++) if (realLabel[i] < 128) blend(realOverlay, i, [255, 40, 40], 0.8);

// Synapse close-ups: 4 contacts of a bigger phantom at the same voxel size, 128 x 128 px (512 nm)
// each, raw above and clefts (yellow) overlaid below, enlarged 2x.
const P = 128;
const synParams = { seed, size: [1024, 1024, 12] as [number, number, number], voxelSize: [4, 4, 50] as [number, number, number] };
const synModel = buildModel(synParams);
const synTiles: Buffer[] = [];
for (const s of synModel.synapses) {
  const c = s.contact.map((v, a) => Math.floor(v / synParams.voxelSize[a]));
  if (c[0] < P / 2 || c[1] < P / 2 || c[0] >= 1024 - P / 2 || c[1] >= 1024 - P / 2 || c[2] < 0 || c[2] >= 12) continue;
  const box = { min: [c[0] - P / 2, c[1] - P / 2, c[2]] as [number, number, number], max: [c[0] + P / 2, c[1] + P / 2, c[2] + 1] as [number, number, number] };
  const r = phantomBlock({ box, readBox: box, inputs: {}, params: synParams, blockIndex: [0, 0, 0] }).volumes!;
  const g = r.raw.data as Uint8Array;
  const cl = r.clefts.data as BigUint64Array;
  let n = 0;
  for (const v of cl) if (v) n++;
  if (n < 150) continue; // a contact cut across, not grazed
  const t = Buffer.alloc(P * 2 * P * 3);
  for (let i = 0; i < P * P; i++) {
    for (let k = 0; k < 3; k++) t[3 * i + k] = t[3 * (i + P * P) + k] = g[i];
    if (cl[i]) blend(t, i + P * P, [255, 230, 0], 0.55);
  }
  synTiles.push(await sharp(t, { raw: { width: P, height: 2 * P, channels: 3 } }).resize(2 * P, 4 * P, { kernel: 'nearest' }).png().toBuffer());
  if (synTiles.length === 4) break;
}

const pad = 28;
const synTop = 2 * W + 3 * pad + 8;
const H = synTop + 4 * P + 4;
const tile = (buf: Buffer, channels: 1 | 3) => sharp(buf, { raw: { width: W, height: W, channels } }).png().toBuffer();
const label = (text: string, x: number, y: number) =>
  `<text x="${x}" y="${y}" font-family="sans-serif" font-size="16" fill="white">${text}</text>`;
const svg = Buffer.from(
  `<svg width="${2 * W + 8}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
    label(`phantom (wiring phantom, seed ${seed}, 4x4x50 nm)`, 4, 20) +
    label('real: ISBI 2012 ssTEM, 4x4x50 nm (train/image/0.png)', W + 12, 20) +
    label('phantom + ground truth (cells, membranes, mito, vesicles, clefts)', 4, W + pad + 22) +
    label('real + ground-truth membranes', W + 12, W + pad + 22) +
    label('phantom synapses at 4x4x50 nm, 2x enlarged (512 nm across): PSD, grey cleft, vesicles; below: cleft labels', 4, synTop - 8) +
    '</svg>',
);
await sharp({ create: { width: 2 * W + 8, height: H, channels: 3, background: { r: 24, g: 24, b: 24 } } })
  .composite([
    { input: await tile(Buffer.from(raw), 1), left: 0, top: pad },
    { input: await tile(Buffer.from(realRaw), 1), left: W + 8, top: pad },
    { input: await tile(phantomOverlay, 3), left: 0, top: W + 2 * pad + 4 },
    { input: await tile(realOverlay, 3), left: W + 8, top: W + 2 * pad + 4 },
    ...synTiles.map((input, k) => ({ input, left: k * (2 * P + 2), top: synTop })),
    { input: svg, left: 0, top: 0 },
  ])
  .png()
  .toFile(path.join(here, 'phantom-vs-isbi.png'));
console.log('wrote', path.join(here, 'phantom-vs-isbi.png'));

// Also a section of the default demo volume (8x8x30 nm, 256x256x64, seed 1, z = 32), 2x enlarged.
const demo = { seed: 1, size: [256, 256, 64] as [number, number, number], voxelSize: [8, 8, 30] as [number, number, number] };
const z = 32;
const d = phantomBlock({ box: { min: [0, 0, z], max: [256, 256, z + 1] }, readBox: { min: [0, 0, z], max: [256, 256, z + 1] }, inputs: {}, params: demo, blockIndex: [0, 0, 0] });
await sharp(Buffer.from(d.volumes!.raw.data as Uint8Array), { raw: { width: 256, height: 256, channels: 1 } })
  .resize(512, 512, { kernel: 'nearest' })
  .png()
  .toFile(path.join(here, 'phantom-default-8nm.png'));
console.log('wrote', path.join(here, 'phantom-default-8nm.png'));
