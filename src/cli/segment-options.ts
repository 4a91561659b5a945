/**
 * The options of the segment-stage commands (`supervoxels`, `agglomerate`, `segment`,
 * `train-agglomeration`, and the cut calibration of `train-pixels`): declared once here and parsed
 * into the stage's typed parameters, so no command file imports another.
 */
import { promises as fs } from 'node:fs';
import { parseXyz } from './xyz.js';
import * as path from 'node:path';
import type { Command } from 'commander';
import { type Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import type { SeedMethod } from '../kernels/watershed/index.js';
import { Forest } from '../ml/forest.js';
import { type CarriedSeedOptions, carriedSeeds, carriedThreshold } from '../stages/segment/io.js';
import { type AgglomerationMethod, type AgglomerationParams, DEFAULT_MODEL_METHOD, DEFAULT_SUPERVOXELS, DEFAULT_THRESHOLD, DEFAULT_THRESHOLD_ANISOTROPIC, type SupervoxelParams } from '../stages/segment/pipeline.js';
import { anisotropic, type BlockwiseSupervoxelsOptions, type MapReading, SEGMENT_DEFAULTS } from '../stages/segment/run.js';
import { schedulerOptions } from './scheduler-options.js';
import { shardingChoice } from './sharding-options.js';

function num(v: unknown, what: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    const range = [opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`${what}: expected ${opts.integer ? 'a whole number' : 'a number'}${range ? ' ' + range : ''}, got ${JSON.stringify(String(v))}`);
  }
  return n;
}
export { num as parseNumberOption };

/** The default supervoxel tile as the help text shows it. */
export const DEFAULT_TILE_TEXT = SEGMENT_DEFAULTS.tile.join(',');
/** The default tile margin as the help text shows it. */
export const DEFAULT_MARGIN_TEXT = `${SEGMENT_DEFAULTS.margin.join(',')}; ${SEGMENT_DEFAULTS.margin[0]},${SEGMENT_DEFAULTS.margin[1]},0 for per-section supervoxels`;

/** Options shared by `supervoxels` and `segment`. */
export function addSupervoxelOptions(cmd: Command): Command {
  return cmd
    .option('--seeds <method>', 'seeds: distance (maxima of the distance transform of boundary < threshold), minima, threshold (default: the boundary layer\'s info "wiring": {"segment_seeds"} if any, chosen by train-pixels --gt with its cut, unless a seed option is given; else distance)', DEFAULT_SUPERVOXELS.seeds)
    .option('--seed-threshold <t>', `interior = boundary < t (distance seeds default ${DEFAULT_SUPERVOXELS.threshold}, threshold seeds 0.1)`)
    .option('--min-seed-size <n>', 'threshold seeds: drop seed components smaller than n voxels')
    .option('--seed-sigma <s>', 'Gaussian smoothing (voxels) of the distance map (distance seeds, default 2) or of the boundary map (minima seeds, default 0)')
    .option('--seed-connectivity <c>', 'minima seeds: face (6-, per section 4-connected minima; default) or full (26-, per section 8-connected: scikit-image local_minima\'s default)')
    .option('--flood <m>', 'minima seeds: flood the map as given (map, default) or the --seed-sigma smoothed map (smoothed). scikit-image\'s chain = --seeds minima --seed-sigma 1 --seed-connectivity full --flood smoothed (docs/ACCURACY.md)')
    .option('--min-size <n>', 'merge supervoxels smaller than n voxels into their neighbours', String(DEFAULT_SUPERVOXELS.minSize))
    .option('--2d', 'per z section (default when z is more than twice as coarse as x/y, e.g. ssTEM)')
    .option('--3d', 'in 3-D even on an anisotropic stack')
    .option('--invert', 'the map is high inside cells (e.g. a membrane-free probability): use 1 - value')
    .option('--affinity-order <o>', '3-channel input: channel order xyz or zyx (waterz/numpy files)', 'xyz')
    .option('--channel <c>', 'use channel c of a multi-channel map as the boundary probability (e.g. a pixel classifier\'s boundary class)')
    .option('--high <a>', 'affinity watershed: affinity joining voxels into seeds (default 0.9)')
    .option('--low <a>', 'affinity watershed: edges below this are never crossed (default 0.0001)');
}

export function supervoxelParams(opts: Record<string, string | boolean | undefined>, voxelSize: readonly [number, number, number]): SupervoxelParams {
  const seeds = String(opts.seeds ?? DEFAULT_SUPERVOXELS.seeds) as SeedMethod;
  if (!['distance', 'minima', 'threshold'].includes(seeds)) throw new UsageError(`--seeds: expected distance, minima or threshold, got ${JSON.stringify(seeds)}`);
  const t = num(opts.seedThreshold, '--seed-threshold', { min: 0 });
  const sigma = num(opts.seedSigma, '--seed-sigma', { min: 0 });
  const conn = opts.seedConnectivity;
  if (conn !== undefined && conn !== 'face' && conn !== 'full') throw new UsageError(`--seed-connectivity: expected face or full, got ${JSON.stringify(conn)}`);
  const fl = opts.flood;
  if (fl !== undefined && fl !== 'map' && fl !== 'smoothed') throw new UsageError(`--flood: expected map or smoothed, got ${JSON.stringify(fl)}`);
  if (seeds !== 'minima' && (conn !== undefined || fl !== undefined)) throw new UsageError(`--seed-connectivity and --flood are for --seeds minima, not ${seeds}`);
  if (fl === 'smoothed' && !(sigma !== undefined && sigma > 0)) throw new UsageError('--flood smoothed needs --seed-sigma > 0 (the smoothing of the flooded map)');
  return {
    seeds,
    threshold: t ?? (seeds === 'threshold' ? 0.1 : DEFAULT_SUPERVOXELS.threshold),
    minSeedSize: num(opts.minSeedSize, '--min-seed-size', { min: 0, integer: true }),
    seedSigma: seeds === 'minima' ? sigma : undefined,
    seedConnectivity: conn as 'face' | 'full' | undefined,
    flood: fl as 'map' | 'smoothed' | undefined,
    distanceSigma: seeds === 'distance' ? (sigma ?? DEFAULT_SUPERVOXELS.distanceSigma) : undefined,
    minSize: num(opts.minSize, '--min-size', { min: 0, integer: true }) ?? DEFAULT_SUPERVOXELS.minSize,
    twoD: supervoxelsIn2d(opts, voxelSize),
    sampling: voxelSize,
    high: num(opts.high, '--high', { min: 0, max: 1 }),
    low: num(opts.low, '--low', { min: 0, max: 1 }),
  };
}

/** The seed options (`addSupervoxelOptions`) a carried choice stands for; any of them on the command line wins over it. */
const SEED_OPTIONS = ['seeds', 'seedThreshold', 'minSeedSize', 'seedSigma', 'seedConnectivity', 'flood'] as const;

/**
 * Seeds carried by the boundary layer (info `wiring.segment_seeds`, written by `wiring predict` from a
 * `train-pixels --gt` model's cross-fitted choice) into `opts`, unless a seed option was given on the
 * command line (then that wins and nothing is carried). Returns what was carried.
 */
export function applyCarriedSeeds(opts: Record<string, unknown>, cmd: Command): CarriedSeedOptions | undefined {
  if (typeof opts.boundaries !== 'string') return undefined;
  if (SEED_OPTIONS.some((k) => cmd.getOptionValueSource(k) === 'cli')) return undefined;
  const c = carriedSeeds(opts.boundaries);
  if (!c) return undefined;
  opts.seeds = c.seeds;
  if (c.seedSigma !== undefined) opts.seedSigma = String(c.seedSigma);
  if (c.seedConnectivity !== undefined) opts.seedConnectivity = c.seedConnectivity;
  if (c.flood !== undefined) opts.flood = c.flood;
  return c;
}

/**
 * Supervoxels per z section? `--2d` / `--3d` decide; by default yes when the sections are more than
 * twice as thick as the in-plane voxels (the rule `wiring train-pixels` uses for 2-D features).
 */
export function supervoxelsIn2d(opts: Record<string, unknown>, voxelSize: readonly [number, number, number]): boolean {
  if (opts['2d'] && opts['3d']) throw new UsageError('give at most one of --2d and --3d');
  if (opts['2d']) return true;
  if (opts['3d']) return false;
  return anisotropic(voxelSize);
}

export function boundaryChannel(v: unknown): number | undefined {
  return num(v, '--channel', { min: 0, integer: true });
}

export function affinityOrder(v: unknown): 'xyz' | 'zyx' {
  if (v === undefined || v === 'xyz' || v === 'zyx') return (v ?? 'xyz') as 'xyz' | 'zyx';
  throw new UsageError(`--affinity-order: expected xyz or zyx, got ${JSON.stringify(v)}`);
}

/** --affinity-order, --invert, --channel. */
export function mapReading(opts: Record<string, unknown>): MapReading {
  return { affinityOrder: affinityOrder(opts.affinityOrder), invert: !!opts.invert, channel: boundaryChannel(opts.channel) };
}

/** --tile (undefined: the stage's default). */
export function parseTile(v: unknown): Vec3 | undefined {
  return v !== undefined ? parseXyz(String(v), '--tile', 'size') : undefined;
}

/** --margin (undefined: the stage's default). */
export function parseMargin(v: unknown): Vec3 | undefined {
  if (v === undefined) return undefined;
  const m = parseXyz(String(v), '--margin', 'margin');
  if (m.some((x) => x < 0)) throw new UsageError(`--margin: expected three whole numbers >= 0, got ${JSON.stringify(String(v))}`);
  return m;
}

/** "mean 0.7, quantile 0.8, learned 0.5, mutex bias 0.8" from a table of default cuts. */
function thresholdText(d: Readonly<Record<AgglomerationMethod, number>>): string {
  return `mean ${d.mean}, quantile ${d.quantile}, learned ${d.learned}, mutex bias ${d.mutex}, multicut bias ${d.multicut}`;
}

export function addAgglomerationOptions(cmd: Command): Command {
  return cmd
    .option('--threshold <t>', `merge while the score is <= t (default: the boundary layer's info "wiring": {"segment_threshold"} if any, else ${thresholdText(DEFAULT_THRESHOLD)}; on anisotropic stacks, z > 2 x/y: ${thresholdText(DEFAULT_THRESHOLD_ANISOTROPIC)}); "auto" (mean): calibrated from the contact scores`)
    .option('--model <file>', `a model from \`wiring train-agglomeration\`: its edge probabilities for the ${DEFAULT_MODEL_METHOD} method (default with a model; docs/ACCURACY.md), multicut or learned (greedy), each at the cut carried in the model (chosen by cross-fitting) unless --threshold is given`)
    .option('--method <m>', `mean (default without --model), quantile, mutex, multicut (greedy additive edge contraction) or learned (needs --model; with --model the default is ${DEFAULT_MODEL_METHOD})`)
    .option('--quantile <q>', 'quantile method: which quantile of the contact boundary values (default 0.5)');
}

export async function agglomerationParams(opts: Record<string, string | boolean | undefined>): Promise<AgglomerationParams> {
  const method = (opts.method ?? (opts.model ? DEFAULT_MODEL_METHOD : 'mean')) as AgglomerationMethod;
  if (!['mean', 'quantile', 'mutex', 'multicut', 'learned'].includes(method)) throw new UsageError(`--method: expected mean, quantile, mutex, multicut or learned, got ${JSON.stringify(method)}`);
  let forest: Forest | undefined;
  if (method === 'learned' && !opts.model) throw new UsageError('--method learned needs --model <file> (from wiring train-agglomeration)');
  if (opts.model && (method === 'mean' || method === 'quantile')) throw new UsageError(`--model is for the learned, mutex and multicut methods, not ${method}`);
  if (opts.model) {
    const bytes = await fs.readFile(String(opts.model)).catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`--model ${opts.model}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    });
    forest = Forest.fromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), String(opts.model));
    if (forest.meta.kind !== 'wiring-agglomeration') throw new UsageError(`--model ${opts.model}: not an agglomeration model (made by wiring train-agglomeration)`);
  }
  let threshold: number | 'auto' | undefined = opts.threshold === 'auto' ? 'auto' as const : num(opts.threshold, '--threshold');
  // no --threshold: a cut carried by the boundary layer (info "wiring": {"segment_threshold"}) wins over the defaults
  if (threshold === undefined && method === 'mean' && typeof opts.boundaries === 'string') threshold = carriedThreshold(opts.boundaries);
  if (threshold === 'auto' && method !== 'mean') throw new UsageError(`--threshold auto is for the mean method, not ${method}`);
  const quantile = num(opts.quantile, '--quantile', { min: 0, max: 1 });
  if ((method === 'mutex' || method === 'multicut') && typeof threshold === 'number' && !(threshold > 0 && threshold < 1)) throw new UsageError(`--threshold: the ${method} bias must be between 0 and 1`);
  return { method, threshold, quantile, forest, bias: (method === 'mutex' || method === 'multicut') && typeof threshold === 'number' ? threshold : undefined };
}

/** `--block` and the options of a blockwise supervoxel run (also `segment --block`'s first step). */
export function blockwiseSupervoxelOptions(out: string, opts: Record<string, any>): BlockwiseSupervoxelsOptions {
  return {
    boundaries: opts.boundaries,
    out,
    block: parseXyz(String(opts.block), '--block', 'size'),
    tile: parseTile(opts.tile),
    margin: parseMargin(opts.margin),
    params: (voxelSize) => supervoxelParams(opts, voxelSize),
    reading: mapReading(opts),
    overwrite: !!opts.overwrite,
    sharding: shardingChoice(opts),
    run: schedulerOptions(opts, path.join(out, '.wiring-run')), // the stage keeps its resume records in the layer's .wiring-run
    onNote: (note) => {
      if (!opts.json) process.stderr.write(`note: ${note}\n`);
    },
  };
}
