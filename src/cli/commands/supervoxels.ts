import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { SeedMethod } from '../../kernels/watershed.js';
import { readWhole, writeSegmentation } from '../../stages/segment/io.js';
import { DEFAULT_SUPERVOXELS, type SupervoxelParams, boundaryMaps, computeSupervoxels } from '../../stages/segment/pipeline.js';
import { createProgress } from '../../core/progress.js';
import { emit } from '../output.js';
import * as path from 'node:path';
import { boxFromShape, parseVec3, type Vec3 } from '../../core/box.js';
import { openSource } from '../../formats/open.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { readBlockData, runTasks } from '../../scheduler/index.js';
import { chunkForBlock, supervoxelTask } from '../../stages/segment/tasks.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';

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

/** Options shared by `supervoxels` and `segment`. */
export function addSupervoxelOptions(cmd: Command): Command {
  return cmd
    .option('--seeds <method>', 'seeds: distance (maxima of the distance transform of boundary < threshold), minima, threshold', DEFAULT_SUPERVOXELS.seeds)
    .option('--seed-threshold <t>', 'interior = boundary < t (distance seeds default 0.5, threshold seeds 0.1)')
    .option('--min-seed-size <n>', 'threshold seeds: drop seed components smaller than n voxels')
    .option('--seed-sigma <s>', 'Gaussian smoothing (voxels) of the distance map (distance seeds, default 2) or of the boundary map (minima seeds, default 0)')
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
  return {
    seeds,
    threshold: t ?? (seeds === 'threshold' ? 0.1 : DEFAULT_SUPERVOXELS.threshold),
    minSeedSize: num(opts.minSeedSize, '--min-seed-size', { min: 0, integer: true }),
    seedSigma: seeds === 'minima' ? sigma : undefined,
    distanceSigma: seeds === 'distance' ? (sigma ?? DEFAULT_SUPERVOXELS.distanceSigma) : undefined,
    minSize: num(opts.minSize, '--min-size', { min: 0, integer: true }) ?? DEFAULT_SUPERVOXELS.minSize,
    twoD: supervoxelsIn2d(opts, voxelSize),
    sampling: voxelSize,
    high: num(opts.high, '--high', { min: 0, max: 1 }),
    low: num(opts.low, '--low', { min: 0, max: 1 }),
  };
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

/** z more than twice as coarse as x and y. */
export function anisotropic(voxelSize: readonly [number, number, number]): boolean {
  return voxelSize[2] > 2 * Math.max(voxelSize[0], voxelSize[1]);
}

export function boundaryChannel(v: unknown): number | undefined {
  return num(v, '--channel', { min: 0, integer: true });
}

export function affinityOrder(v: unknown): 'xyz' | 'zyx' {
  if (v === undefined || v === 'xyz' || v === 'zyx') return (v ?? 'xyz') as 'xyz' | 'zyx';
  throw new UsageError(`--affinity-order: expected xyz or zyx, got ${JSON.stringify(v)}`);
}

export function register(program: Command): Command {
  const cmd = program
    .command('supervoxels')
    .description('watershed supervoxels of a boundary (1 channel) or affinity (3 channels) map, written as a uint64 segmentation layer')
    .requiredOption('--boundaries <source>', 'boundary probability map or affinities (any readable volume, e.g. file.h5#stack)')
    .argument('<out-layer>', 'output precomputed segmentation layer folder')
    .option('--overwrite', 'replace an existing layer')
    .option('--block <x,y,z>', 'blockwise through the scheduler with blocks of this shape (ids unique per block; block faces are stitched by `wiring agglomerate`)')
    .option('--margin <x,y,z>', 'with --block: context read around each block (default 16,16,16)')
    .option('--json', 'machine-readable output');
  addSupervoxelOptions(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (out: string, opts) => {
    const t0 = performance.now();
    if (opts.block) {
      const result = await blockwiseSupervoxels(out, opts);
      emit(opts, { ...result, seconds: +((performance.now() - t0) / 1000).toFixed(3) }, () => `${out}: ${result.supervoxels} supervoxels in ${result.blocks} blocks`);
      return;
    }
    const progress = createProgress({ json: opts.json, label: 'supervoxels' });
    progress.start(3);
    const { vol } = await readWhole(opts.boundaries);
    progress.increment();
    const maps = boundaryMaps(vol, { affinityOrder: affinityOrder(opts.affinityOrder), invert: !!opts.invert, channel: boundaryChannel(opts.channel) });
    const params = supervoxelParams(opts, vol.voxelSize);
    const sv = computeSupervoxels(maps, params);
    progress.increment();
    await writeSegmentation(out, sv.labels, { shape: vol.shape, offset: vol.box.min, voxelSize: vol.voxelSize }, { overwrite: !!opts.overwrite });
    progress.increment();
    progress.stop();
    const result = { layer: out, supervoxels: sv.count, shape: vol.shape, input: maps.affinities ? 'affinities' : 'boundaries', params, seconds: +((performance.now() - t0) / 1000).toFixed(3) };
    emit(opts, result, () => `${out}: ${sv.count} supervoxels over ${vol.shape.join('x')} voxels (${result.seconds} s)`);
  });
}

/** `--block`: the supervoxel task through the scheduler. */
export async function blockwiseSupervoxels(out: string, opts: Record<string, any>): Promise<{ layer: string; supervoxels: number; blocks: number; block: Vec3; margin: Vec3 }> {
  const blockArg = parseVec3(String(opts.block), '--block', { integer: true, positive: true });
  const margin = opts.margin ? parseVec3(String(opts.margin), '--margin', { integer: true }) : ([16, 16, 16] as Vec3);
  if (margin.some((m) => m < 0)) throw new UsageError(`--margin: must be >= 0, got ${opts.margin}`);
  const src = await openSource(opts.boundaries);
  const like = { shape: src.shape, offset: src.offset, voxelSize: src.voxelSize, channels: src.channels };
  await src.close();
  // a block larger than the volume is the volume (chunks are clipped to the volume too)
  const block = blockArg.map((b, i) => Math.min(b, like.shape[i])) as unknown as Vec3;
  const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape: like.shape, voxelSize: like.voxelSize, offset: like.offset, chunkSize: chunkForBlock(block) });
  await PrecomputedLayer.create(out, info, { overwrite: !!opts.overwrite });
  const params = supervoxelParams(opts, like.voxelSize);
  const task = supervoxelTask({
    boundaries: opts.boundaries,
    out,
    bounds: boxFromShape(like.shape, like.offset),
    blockShape: block,
    margin,
    params: { supervoxels: params, affinityOrder: affinityOrder(opts.affinityOrder), invert: !!opts.invert, channel: boundaryChannel(opts.channel) },
  });
  const stateDir = path.join(out, '.wiring-run');
  const report = await runTasks([task], schedulerOptions(opts, stateDir));
  const data = await readBlockData(stateDir, task.name);
  const supervoxels = data.reduce((a, d) => a + ((d.data as { supervoxels: number }).supervoxels ?? 0), 0);
  void report;
  return { layer: out, supervoxels, blocks: data.length, block, margin };
}
