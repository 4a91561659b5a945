// What a feature setting of the 5-class phantom forest costs at predict: the pixel feature stack's CPU
// seconds (process CPU, one thread, so comparable under load) on a slab of a phantom's raw, for the
// defaults and each setting given.
//   node --import tsx bench/phantom-synapses-features.ts <raw source> [z sections, default 16] [setting...]
// A setting is "features/sigmas", e.g. G,GGM,LoG,DoG,STE,HoGE,LINE/0.7,1.6,3.5,5,10 (either part empty: the default).
// Prints JSON: per setting its channels, CPU seconds, Mvox per CPU second and the ratio to the defaults.
import { openSource } from '../src/formats/open.js';
import { type FeatureName, DEFAULT_FEATURES, DEFAULT_SIGMAS, computeFeatures, featureConfig, featureCount } from '../src/stages/predict/features.js';
import { toFloat32 } from '../src/stages/predict/training.js';
import type { Vec3 } from '../src/core/box.js';

const [spec, zArg, ...settings] = process.argv.slice(2);
if (!spec) throw new Error('usage: phantom-synapses-features.ts <raw source> [z sections] [features/sigmas ...]');
const zs = Number(zArg ?? 16);
if (!Number.isInteger(zs) || zs < 1) throw new Error(`z sections: expected a whole number >= 1, got ${zArg}`);
const src = await openSource(spec);
const shape: Vec3 = [src.shape[0], src.shape[1], Math.min(zs, src.shape[2])];
const raw = toFloat32(await src.read({ min: [0, 0, 0], max: shape })).slice();
const nvox = shape[0] * shape[1] * shape[2];
const parse = (s: string): { features: FeatureName[]; sigmas: number[] } => {
  const [f, g] = s.split('/');
  return { features: f ? (f.split(',') as FeatureName[]) : DEFAULT_FEATURES, sigmas: g ? g.split(',').map(Number) : DEFAULT_SIGMAS };
};
const rows: Record<string, unknown>[] = [];
let base = 0;
computeFeatures(raw.subarray(0, shape[0] * shape[1]), [shape[0], shape[1], 1], featureConfig(src.voxelSize)); // warm up the JIT
for (const s of ['', ...settings]) {
  const cfg = featureConfig(src.voxelSize, parse(s));
  const c = process.cpuUsage();
  computeFeatures(raw, shape, cfg);
  const u = process.cpuUsage(c);
  const cpu = (u.user + u.system) / 1e6;
  if (s === '') base = cpu;
  rows.push({ setting: s || 'defaults', features: cfg.features.join(','), sigmas: cfg.sigmas.join(','), dims: cfg.dims, channels: featureCount(cfg), cpu_seconds: +cpu.toFixed(2), mvox_per_cpu_s: +(nvox / 1e6 / cpu).toFixed(3), vs_defaults: +(cpu / base).toFixed(2) });
}
console.log(JSON.stringify({ input: spec, shape, voxel_size: src.voxelSize, rows }, null, 1));
