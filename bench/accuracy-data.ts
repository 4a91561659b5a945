// Shared helpers of the accuracy benchmarks (bench/accuracy*.bench.ts): load the real volumes,
// train/predict Wiring's pixel forest section by section, run the scikit-learn reference
// (bench/refs/ref_pixel_forest.py) on the same split, score probability maps.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Vec3, box } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { openSource } from '../src/formats/open.js';
import { writeNpy } from '../src/formats/npy.js';
import { type FeatureName, featureConfig } from '../src/stages/predict/features.js';
import type { EdgeBand } from '../src/stages/predict/edge-band.js';
import { PixelModel } from '../src/stages/predict/model.js';
import { type IntensityMap, matchQuantiles, quantileShift, quantilesOf, sampleIntensities } from '../src/stages/predict/normalize.js';
import { predictVolume } from '../src/stages/predict/predict.js';
import { type CrossFitResult, memorySource, trainPixelClassifier } from '../src/stages/predict/training.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DATA = process.env.WIRING_DATA ?? path.resolve(here, '../../shared/data');

export function hasData(sub: string): boolean {
  return existsSync(path.join(DATA, sub));
}

/** Read a whole source into memory. */
export async function readAll(spec: string, voxelSize: Vec3): Promise<Volume> {
  const s = await openSource(spec, { voxelSize });
  const v = await s.read(box(s.offset, [s.offset[0] + s.shape[0], s.offset[1] + s.shape[1], s.offset[2] + s.shape[2]]));
  await s.close();
  return v;
}

/** Sections z0..z1-1 of a volume as a new volume starting at z 0. */
export function sections(v: Volume, z0: number, z1: number): Volume {
  const [sx, sy] = v.shape;
  const c = v.crop(box([0, 0, z0], [sx, sy, z1]));
  return new Volume(c.dtype, box([0, 0, 0], [sx, sy, z1 - z0]), c.data, c.channels, v.voxelSize);
}

/**
 * Bin x and y by `f` (z kept): images by the mean (rounded), labels by the value of the block's
 * first voxel that has `prefer` (e.g. a rare class), else its first voxel. f = 1 returns v.
 */
export function binXY(v: Volume, f: number, o: { labels?: boolean; prefer?: number[] } = {}): Volume {
  if (f === 1) return v;
  const [sx, sy, sz] = v.shape;
  const nx = Math.floor(sx / f), ny = Math.floor(sy / f);
  const out = Volume.zeros(v.dtype, box([0, 0, 0], [nx, ny, sz]), { voxelSize: [v.voxelSize[0] * f, v.voxelSize[1] * f, v.voxelSize[2]] });
  const d = v.data as ArrayLike<number>;
  const od = out.data as unknown as number[];
  const pref = new Set(o.prefer ?? []);
  for (let z = 0; z < sz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        let s = 0, first = -1;
        for (let dy = 0; dy < f; dy++) {
          for (let dx = 0; dx < f; dx++) {
            const val = d[x * f + dx + sx * (y * f + dy + sy * z)];
            s += val;
            if (first < 0 && pref.has(val)) first = val;
          }
        }
        od[x + nx * (y + ny * z)] = o.labels ? (first >= 0 ? first : d[x * f + sx * (y * f + sy * z)]) : Math.round(s / (f * f));
      }
    }
  }
  return out;
}

/** Map label values through `table` (value -> class id, 0 = unlabelled) into a uint8 volume. */
export function mapLabels(v: Volume, table: Record<number, number>): Volume<'uint8'> {
  const out = Volume.zeros('uint8', v.box, { voxelSize: v.voxelSize });
  const d = v.data as ArrayLike<number>;
  for (let i = 0; i < out.data.length; i++) out.data[i] = table[d[i]] ?? 0;
  return out;
}

export interface OurForest {
  model: PixelModel;
  trainSeconds: number;
  /** calibrated out-of-fold maps of the training region (dense labels), to choose object rules on */
  crossFit?: CrossFitResult;
}

export async function trainOurs(raw: Volume, labels: Volume, classes: string[], o: { trees: number; samples: number; seed?: number; autoContext?: boolean; contextRounds?: number; outputSigma?: number | 'auto'; sigmas?: number[]; features?: FeatureName[]; crossFit?: boolean; minLeaf?: number; edgeBand?: EdgeBand; contextEdgeBand?: boolean; contextFeatures?: FeatureName[] }): Promise<OurForest> {
  const t0 = performance.now();
  const { model, crossFit } = await trainPixelClassifier(memorySource(raw, 'raw'), memorySource(labels, 'labels'), {
    target: 'labels',
    classes,
    maxSamples: o.samples,
    forest: { nTrees: o.trees, seed: o.seed ?? 0, ...(o.minLeaf ? { minSamplesLeaf: o.minLeaf } : {}) },
    seed: o.seed ?? 0,
    threads: 2,
    autoContext: o.autoContext,
    contextRounds: o.contextRounds,
    outputSigma: o.outputSigma,
    crossFit: o.crossFit ?? 'auto',
    ...(o.edgeBand ? { edgeBand: o.edgeBand } : {}),
    ...(o.contextEdgeBand === false ? { contextEdgeBand: false } : {}),
    ...(o.contextFeatures ? { contextFeatures: o.contextFeatures } : {}),
    ...(o.sigmas || o.features ? { featureConfig: featureConfig(raw.voxelSize, { sigmas: o.sigmas, features: o.features }) } : {}),
  });
  return { model, crossFit, trainSeconds: (performance.now() - t0) / 1000 };
}

/** Predict section by section (2-D features need no other section); returns channel-major float32 maps. */
export function predictSections(model: PixelModel, raw: Volume, channels: number[], normalize?: IntensityMap): Float32Array[] {
  const [sx, sy, sz] = raw.shape;
  const n = sx * sy;
  const out = channels.map(() => new Float32Array(n * sz));
  for (let z = 0; z < sz; z++) {
    const p = predictVolume(model, sections(raw, z, z + 1), { normalize });
    const d = p.data as Float32Array;
    channels.forEach((c, k) => out[k].set(d.subarray(c * n, (c + 1) * n), z * n));
  }
  return out;
}

/** scikit-learn reference on the same split: channel-major float32 maps of `outputs`. */
export async function referenceForest(
  trainRaw: Volume,
  trainLabels: Volume,
  testRaw: Volume,
  o: { classes: number[]; outputs: number[]; trees: number; samples: number; seed?: number; sigmas?: number[] },
): Promise<{ maps: Float32Array[]; info: Record<string, unknown> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wiring-acc-'));
  try {
    const f = (n: string): string => path.join(dir, n);
    await writeNpy(f('tr.npy'), trainRaw);
    await writeNpy(f('tl.npy'), trainLabels);
    await writeNpy(f('te.npy'), testRaw);
    const stdout = execFileSync('/usr/bin/python3', [
      path.join(here, 'refs', 'ref_pixel_forest.py'),
      '--train-raw', f('tr.npy'), '--train-labels', f('tl.npy'), '--test-raw', f('te.npy'), '--out', f('p.npy'),
      '--classes', o.classes.join(','), '--outputs', o.outputs.join(','),
      '--n-train', String(o.samples), '--trees', String(o.trees), '--seed', String(o.seed ?? 0),
      ...(o.sigmas ? ['--sigmas', o.sigmas.join(',')] : []),
    ], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const bytes = readFileSync(f('p.npy'));
    const headLen = bytes.readUInt16LE(8) + 10;
    const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset + headLen, bytes.byteOffset + bytes.length));
    const n = testRaw.shape[0] * testRaw.shape[1] * testRaw.shape[2];
    if (all.length !== n * o.outputs.length) throw new Error(`reference wrote ${all.length} values, expected ${n * o.outputs.length}`);
    return { maps: o.outputs.map((_, k) => all.slice(k * n, (k + 1) * n)), info: JSON.parse(stdout.trim().split('\n').pop()!) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 1 where v == value, else 0. */
export function maskOf(v: Volume, values: number[]): Uint8Array {
  const d = v.data as ArrayLike<number>;
  const out = new Uint8Array(d.length);
  const set = new Set(values);
  for (let i = 0; i < d.length; i++) out[i] = set.has(d[i]) ? 1 : 0;
  return out;
}

export function round(x: number, d = 4): number {
  return Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x;
}

/** The quantile-matching map of `raw` to the model's training quantiles (always, whatever the shift) and the shift. */
export async function matchTo(model: PixelModel, raw: Volume): Promise<{ map: IntensityMap; shift: number }> {
  const train = model.meta.rawStats!.quantiles!;
  const now = quantilesOf(await sampleIntensities(memorySource(raw)));
  return { map: matchQuantiles(now, train), shift: quantileShift(now, train) };
}

/** A contrast/gamma change: 255 * (a + b (v/255)^g), rounded to uint8. */
export function recontrast(v: Volume, a: number, b: number, g: number): Volume {
  const out = Volume.zeros('uint8', v.box, { voxelSize: v.voxelSize });
  const d = v.data as ArrayLike<number>;
  for (let i = 0; i < out.data.length; i++) out.data[i] = Math.max(0, Math.min(255, Math.round(255 * (a + b * (d[i] / 255) ** g))));
  return out;
}
