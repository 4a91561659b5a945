import type { Command } from 'commander';
import { parseXyz } from '../xyz.js';
import { UsageError } from '../../core/errors.js';
import type { SeedMethod } from '../../kernels/watershed/index.js';
import { readWhole, writeSegmentation } from '../../stages/segment/io.js';
import { DEFAULT_SUPERVOXELS, type SupervoxelParams, boundaryMaps, computeSupervoxels } from '../../stages/segment/pipeline.js';
import { createProgress } from '../../core/progress.js';
import { emit } from '../output.js';
import * as path from 'node:path';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { openSource } from '../../formats/open.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { readBlockData, runTasks } from '../../scheduler/index.js';
import { blockForTiles, checkTile, chunkForBlock, countSupervoxels, supervoxelTask } from '../../stages/segment/tasks.js';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
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
    .option('--block <x,y,z>', 'blockwise through the scheduler with blocks of this shape (rounded up to whole tiles; the result does not depend on it)')
    .option('--tile <x,y,z>', `with --block: the supervoxels are computed per tile of this shape, each from the map over the tile grown by --margin (default ${DEFAULT_TILE.join(',')})`)
    .option('--margin <x,y,z>', 'with --block: context read around each tile (default 16,16,16; 16,16,0 for per-section supervoxels)')
    .option('--json', 'machine-readable output');
  addSupervoxelOptions(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (out: string, opts) => {
    const t0 = performance.now();
    if (opts.block) {
      const result = await blockwiseSupervoxels(out, opts);
      emit(opts, { ...result, seconds: +((performance.now() - t0) / 1000).toFixed(3) }, () => `${out}: ${result.supervoxels} supervoxels on tiles of ${result.tile.join(',')} (margin ${result.margin.join(',')}) in ${result.blocks} blocks (${result.computed} computed, ${result.resumed} resumed)`);
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

/** Default supervoxel tile of `--block` runs (the result depends on the tile, not on the block). */
export const DEFAULT_TILE: Vec3 = [128, 128, 128];

/** The tile context: --margin, default 16 per side (0 in z for per-section supervoxels, which read no other section). */
export function tileMargin(opts: Record<string, any>, twoD: boolean): Vec3 {
  if (opts.margin === undefined) return [16, 16, twoD ? 0 : 16];
  const m = parseXyz(String(opts.margin), '--margin', 'margin');
  if (m.some((v) => v < 0)) throw new UsageError(`--margin: expected three whole numbers >= 0, got ${JSON.stringify(String(opts.margin))}`);
  return m;
}

export interface BlockwiseSupervoxelsResult {
  layer: string;
  supervoxels: number;
  blocks: number;
  computed: number;
  resumed: number;
  block: Vec3;
  tile: Vec3;
  margin: Vec3;
  note?: string;
}

/**
 * `--block`: the supervoxel task through the scheduler. The supervoxels are defined on the tile
 * grid (`--tile`, recorded with the margin and parameters in the layer's info under
 * `wiring.supervoxels`); the block is rounded up to whole tiles. An existing layer with the same
 * record resumes (the scheduler skips finished blocks); a different one needs --overwrite.
 */
export async function blockwiseSupervoxels(out: string, opts: Record<string, any>): Promise<BlockwiseSupervoxelsResult> {
  const blockArg = parseXyz(String(opts.block), '--block', 'size');
  const tileArg = opts.tile !== undefined ? parseXyz(String(opts.tile), '--tile', 'size') : DEFAULT_TILE;
  const src = await openSource(opts.boundaries);
  const like = { shape: src.shape, offset: src.offset, voxelSize: src.voxelSize, channels: src.channels };
  await src.close();
  const params = supervoxelParams(opts, like.voxelSize);
  const margin = tileMargin(opts, !!params.twoD);
  // a tile larger than the volume is the volume (same result)
  const tile = checkTile(tileArg.map((t, i) => Math.min(t, like.shape[i])));
  const { block, changed } = blockForTiles(blockArg, tile, like.shape);
  const note = changed ? `--block ${blockArg.join(',')} rounded up to ${block.join(',')} (whole supervoxel tiles of ${tile.join(',')}; the supervoxels depend on --tile, not on --block)` : undefined;
  if (note && !opts.json) process.stderr.write(`note: ${note}\n`);
  const blockParams = { supervoxels: params, affinityOrder: affinityOrder(opts.affinityOrder), invert: !!opts.invert, channel: boundaryChannel(opts.channel) };
  // what defines the result (not the block shape or the workers): recorded in the layer's info
  const record = { tile, margin, ...blockParams, boundaries: opts.boundaries };
  const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape: like.shape, voxelSize: like.voxelSize, offset: like.offset, chunkSize: chunkForBlock(tile) });
  (info as unknown as Record<string, unknown>).wiring = { supervoxels: JSON.parse(JSON.stringify(record)) };
  const stateDir = path.join(out, '.wiring-run');
  if (existsSync(path.join(out, 'info')) && !opts.overwrite) {
    // an earlier (interrupted) run: resume into it if it made the same supervoxels on the same grid
    const old = await PrecomputedLayer.open(out);
    const was = JSON.stringify((old.info as unknown as { wiring?: { supervoxels?: unknown } }).wiring?.supervoxels ?? null);
    const now = JSON.stringify((info as unknown as { wiring: { supervoxels: unknown } }).wiring.supervoxels);
    const s0 = old.info.scales[0];
    const n0 = info.scales[0];
    if (was !== now || old.info.data_type !== 'uint64' || JSON.stringify([s0.size, s0.voxel_offset, s0.resolution, s0.chunk_sizes]) !== JSON.stringify([n0.size, n0.voxel_offset, n0.resolution, n0.chunk_sizes])) {
      throw new UsageError(`a layer exists here made with other supervoxel settings or grid (wiring.supervoxels in its info: ${was}; this run: ${now}); pass --overwrite to replace it`, out);
    }
  } else {
    await rm(stateDir, { recursive: true, force: true });
    await PrecomputedLayer.create(out, info, { overwrite: !!opts.overwrite });
  }
  const task = supervoxelTask({ boundaries: opts.boundaries, out, bounds: boxFromShape(like.shape, like.offset), blockShape: block, tile, margin, params: blockParams, channels: like.channels });
  const report = await runTasks([task], schedulerOptions(opts, stateDir));
  if (report.failed.length) throw new UsageError(`${report.failed.length} block(s) of the supervoxels failed; first: ${report.failed[0].error}`, out);
  const data = await readBlockData(stateDir, task.name);
  const supervoxels = countSupervoxels(data.map((d) => d.data));
  return { layer: out, supervoxels, blocks: report.blocks, computed: report.computed, resumed: report.resumed, block, tile, margin, ...(note ? { note } : {}) };
}
