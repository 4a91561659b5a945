// `npm run bench phantom-raster`: the phantom rasteriser (src/stages/phantom/raster.ts).
//  1. Speed: the tiled rasteriser (labels only, and labels + sharp image) against the plain
//     per-voxel scan it replaced (`rasterizeLabelsReference`, the reference) on the same blocks of
//     the same model; labels must be identical. CPU microseconds per voxel (process.cpuUsage).
//  2. Look: image statistics of a phantom section at the ISBI 2012 voxel size (4x4x50 nm) beside
//     the ISBI 2012 training sections (grey histogram, local contrast, band-pass energies, membrane
//     vs cytoplasm contrast).
//  3. Clefts: a small random forest (the predict stage's features and forest) trained on patches
//     around synapses of one phantom and applied to another; mean cleft probability at true cleft
//     voxels against boundary and other voxels.
// Env: PHANTOM_RASTER_SIZE (default 512,512,64 at 8x8x30 nm), PHANTOM_RASTER_PATCHES (default 40).
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Box, Vec3 } from '../src/core/box.js';
import { gaussianFilter } from '../src/kernels/filters.js';
import { CLASS, classLabels } from '../src/stages/classes/classes.js';
import { buildModel } from '../src/stages/phantom/model.js';
import { rasterize, rasterizeLabelsReference } from '../src/stages/phantom/raster/index.js';
import { phantomBlock } from '../src/stages/phantom/tasks.js';
import { cleftCheck } from '../test/phantom-cleft-check.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const isbiDir = path.join(here, '../../shared/data/isbi2012/train');
const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
const LAYERS = ['cell', 'comp', 'mito', 'cloud', 'cleft'] as const;

function speed() {
  const size = (process.env.PHANTOM_RASTER_SIZE ?? '512,512,64').split(',').map(Number) as unknown as Vec3;
  const m = buildModel({ seed: 1, size, voxelSize: [8, 8, 30] });
  const boxes: Box[] = [];
  for (let z = 0; z + 32 <= size[2]; z += 32) for (let y = 0; y + 128 <= size[1]; y += 192) for (let x = 0; x + 128 <= size[0]; x += 192) boxes.push({ min: [x, y, z], max: [x + 128, y + 128, z + 32] });
  // warm-up (JIT) on a small box
  const warm: Box = { min: [0, 0, 0], max: [48, 48, 8] };
  for (let k = 0; k < 3; k++) {
    rasterizeLabelsReference(m, warm);
    rasterize(m, warm, false);
    rasterize(m, warm, true);
  }
  let voxels = 0;
  const t = { reference: 0, labels: 0, labelsAndImage: 0 };
  for (const box of boxes) {
    let c = cpu();
    const ref = rasterizeLabelsReference(m, box);
    t.reference += cpu() - c;
    c = cpu();
    const lab = rasterize(m, box, false);
    t.labels += cpu() - c;
    c = cpu();
    const img = rasterize(m, box, true);
    t.labelsAndImage += cpu() - c;
    for (const k of LAYERS) {
      if (!Buffer.from(ref[k].buffer).equals(Buffer.from(lab[k].buffer)) || !Buffer.from(ref[k].buffer).equals(Buffer.from(img[k].buffer))) {
        throw new Error(`phantom-raster: ${k} differs from the reference in box ${JSON.stringify(box)}`);
      }
    }
    voxels += ref.cell.length;
  }
  const us = (s: number) => +((s * 1e6) / voxels).toFixed(3);
  const row = {
    size,
    blocks: boxes.length,
    voxels,
    reference_us_per_voxel: us(t.reference),
    tiled_labels_us_per_voxel: us(t.labels),
    tiled_labels_and_image_us_per_voxel: us(t.labelsAndImage),
    labels_speedup: +(t.reference / t.labels).toFixed(2),
    labels_identical: true,
  };
  console.log(JSON.stringify(row));
  return row;
}

/** Statistics of a 2-D grey image (w x h) with optional membrane / cytoplasm masks. */
function imageStats(img: Float32Array, w: number, h: number, nm: number, membrane?: Uint8Array, cytoplasm?: Uint8Array) {
  const n = w * h;
  const sorted = Float32Array.from(img).sort();
  const pct = (p: number) => sorted[Math.min(n - 1, Math.floor(p * n))];
  let mean = 0;
  for (let i = 0; i < n; i++) mean += img[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (img[i] - mean) ** 2;
  // local contrast: std in 5x5 windows (every 5th pixel), averaged
  let local = 0;
  let nl = 0;
  for (let y = 2; y < h - 2; y += 5)
    for (let x = 2; x < w - 2; x += 5) {
      let s = 0;
      let s2 = 0;
      for (let dy = -2; dy <= 2; dy++)
        for (let dx = -2; dx <= 2; dx++) {
          const g = img[x + dx + w * (y + dy)];
          s += g;
          s2 += g * g;
        }
      local += Math.sqrt(Math.max(0, s2 / 25 - (s / 25) ** 2));
      nl++;
    }
  // band-pass energies: std of the difference of Gaussians (sigmas in nm) as a fraction of the total std
  const blur = (s: number) => gaussianFilter(img, [w, h, 1], [s / nm, s / nm, 0], 0, { mode: 'reflect' });
  const sig = [0, 4, 8, 16, 32, 64];
  const blurred = sig.map((s) => (s === 0 ? img : blur(s)));
  const bands: Record<string, number> = {};
  for (let k = 0; k + 1 < sig.length; k++) {
    let e = 0;
    for (let i = 0; i < n; i++) e += (blurred[k][i] - blurred[k + 1][i]) ** 2;
    bands[`${sig[k]}-${sig[k + 1]}nm`] = +Math.sqrt(e / n).toFixed(1);
  }
  const maskMean = (mask?: Uint8Array) => {
    if (!mask) return undefined;
    let s = 0;
    let c = 0;
    for (let i = 0; i < n; i++)
      if (mask[i]) {
        s += img[i];
        c++;
      }
    return c ? +(s / c).toFixed(1) : undefined;
  };
  return {
    mean: +mean.toFixed(1),
    std: +Math.sqrt(v / n).toFixed(1),
    p5_p50_p95: [pct(0.05), pct(0.5), pct(0.95)],
    local_std_5px: +(local / nl).toFixed(1),
    band_std: bands,
    membrane_mean: maskMean(membrane),
    cytoplasm_mean: maskMean(cytoplasm),
  };
}

async function look() {
  const W = 512;
  const rows: Record<string, unknown>[] = [];
  for (const i of [0, 1, 2]) {
    const img = Float32Array.from(await sharp(path.join(isbiDir, `image/${i}.png`)).greyscale().raw().toBuffer());
    const lab = await sharp(path.join(isbiDir, `label/${i}.png`)).greyscale().raw().toBuffer();
    const mem = Uint8Array.from(lab, (v) => (v < 128 ? 1 : 0));
    const cyt = Uint8Array.from(lab, (v) => (v >= 128 ? 1 : 0));
    const row = { image: `ISBI 2012 train ${i}`, ...imageStats(img, W, W, 4, mem, cyt) };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  for (const seed of [3, 4, 5]) {
    const params = { seed, size: [W, W, 5] as Vec3, voxelSize: [4, 4, 50] as Vec3 };
    const box: Box = { min: [0, 0, 2], max: [W, W, 3] };
    const v = phantomBlock({ box, readBox: box, inputs: {}, params, blockIndex: [0, 0, 0] } as never).volumes!;
    const cls = classLabels({ neurons: v.neurons }, box).data as Uint8Array;
    // ISBI's membrane labels are ~3-5 px wide: widen the phantom's 1-2 px interfaces to match
    const mem = new Uint8Array(W * W);
    for (let y = 0; y < W; y++)
      for (let x = 0; x < W; x++)
        if (cls[x + W * y] === CLASS.boundary) for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (x + dx >= 0 && x + dx < W && y + dy >= 0 && y + dy < W) mem[x + dx + W * (y + dy)] = 1;
    const cyt = Uint8Array.from(mem, (m) => 1 - m);
    const row = { image: `phantom seed ${seed} (4x4x50 nm)`, ...imageStats(Float32Array.from(v.raw.data as Uint8Array), W, W, 4, mem, cyt) };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  return rows;
}

function clefts() {
  // up to 3000 training samples per class, every k-th voxel
  const r = cleftCheck({
    size: [256, 256, 64], voxelSize: [8, 8, 30], half: 32, maxPatches: Number(process.env.PHANTOM_RASTER_PATCHES ?? 40), trainSeed: 2, testSeed: 1,
    step: (c, counts) => Math.max(1, Math.floor(counts[c] / 3000)),
    forest: { nTrees: 16, seed: 1 },
  });
  const g = (k: number) => +((255 * r.sum[k]) / Math.max(1, r.count[k])).toFixed(1);
  const row = {
    train_patches: r.trainPatches,
    test_patches: r.testPatches,
    samples: r.samples,
    cleft_prob_x255_at: { cleft: g(CLASS.cleft), boundary: g(CLASS.boundary), cytoplasm: g(CLASS.cytoplasm), vesicle: g(CLASS.vesicle), mitochondrion: g(CLASS.mitochondrion) },
  };
  console.log(JSON.stringify(row));
  return row;
}

export default async function run() {
  const load = os.loadavg()[0];
  console.log(`load average ${load.toFixed(1)} on ${os.cpus().length} cores`);
  const s = speed();
  console.log(`tiled labels ${s.labels_speedup}x fewer CPU us per voxel than the plain scan (identical labels)`);
  const l = await look();
  const c = clefts();
  return { load_average_before: +load.toFixed(1), speed: s, look: l, clefts: c };
}
