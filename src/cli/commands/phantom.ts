import type { Command } from 'commander';
import { addShardingOption, shardingFor } from '../sharding-options.js';
import { SHARD_BLOCK_BYTES } from '../../formats/precomputed/index.js';

import { addBlockOption, blockOption, parseXyz } from '../xyz.js';
import { type Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { planPyramid } from '../../stages/downsample/tasks.js';
import { generatePhantom } from '../../stages/phantom/generate.js';
import { MAX_SYNAPSE_DENSITY, MIN_SYNAPSE_DENSITY } from '../../stages/phantom/model.js';
import type { PhantomParams } from '../../stages/phantom/tasks.js';
import { emit } from '../output.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';

/** Bytes a phantom block holds per voxel over its layers (raw and compartments uint8, four uint64 label layers). */
const PHANTOM_BYTES_PER_VOXEL = 34;

function count(text: unknown, what: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(String(text)) || !Number.isSafeInteger(n)) throw new UsageError(`${what}: expected a whole number >= 0, got ${JSON.stringify(String(text))}`);
  return n;
}

export function register(program: Command): Command {
  const cmd = program
    .command('phantom')
    .description('generate a synthetic EM neuropil dataset with full ground truth (layers + connectome tables), blockwise')
    .argument('<dataset-dir>', 'the dataset folder to write (layers raw/, neurons/, compartments/, mitochondria/, vesicles/, clefts/ and tables)')
    .option('--size <X,Y,Z>', 'volume size in voxels', '256,256,64')
    .option('--voxel-size <X,Y,Z>', 'voxel size in nm (serial-section TEM-like: 8 nm in-plane, 30 nm sections)', '8,8,30')
    .option('--seed <n>', 'random seed (same seed, same bytes)', '1')
    .option('--chunk-size <X,Y,Z>', 'chunk size of the layers, voxels', '64,64,32')
    .option('--shifted-sections <n>', 'number of sections whose image is displaced (alignment tests)', '0')
    .option('--missing-sections <n>', 'number of blank sections', '0')
    .option('--max-shift <n>', 'largest displacement of a shifted section, voxels', '8')
    .option('--synapse-density <factor>', 'dendrite length per µm^3 (and so spines, synapses, boutons, vesicle clouds) as a multiple of the default; e.g. 4 for a volume holding 100+ synapses (docs/PHANTOM.md)', '1')
    .option('--noise <n>', 'noise amplitude, grey levels (triangular; std ~ 0.41 x amplitude)', '30')
    .option('--pyramid', 'also add downsampled scales to every layer')
    .option('--overwrite', 'replace existing layers of a different geometry')
    .option('--json', 'machine-readable output');
  addShardingOption(cmd);
  addBlockOption(cmd, 'scheduler block, a multiple of the chunk size (default: 2x2x1 chunks)');
  addSchedulerOptions(cmd);
  return cmd.action(async (dir: string, opts) => {
    const started = Date.now();
    const size = parseXyz(opts.size, '--size', 'size');
    const voxelSize = parseXyz(opts.voxelSize, '--voxel-size', 'nm');
    const chunkSize = parseXyz(opts.chunkSize, '--chunk-size', 'size');
    const blockShape: Vec3 | undefined = blockOption(opts);
    const seed = count(opts.seed, '--seed');
    if (seed > 0xffffffff) throw new UsageError(`--seed ${seed}: expected at most 4294967295`);
    const params: PhantomParams = {
      seed,
      size,
      voxelSize,
      shiftedSections: count(opts.shiftedSections, '--shifted-sections'),
      missingSections: count(opts.missingSections, '--missing-sections'),
      maxShift: count(opts.maxShift, '--max-shift'),
      noise: count(opts.noise, '--noise'),
    };
    const density = Number(opts.synapseDensity);
    if (!(density >= MIN_SYNAPSE_DENSITY && density <= MAX_SYNAPSE_DENSITY)) throw new UsageError(`--synapse-density ${opts.synapseDensity}: expected a factor in [${MIN_SYNAPSE_DENSITY}, ${MAX_SYNAPSE_DENSITY}]`);
    // the default is left out of the parameters (and phantom.json), so existing outputs stay byte-identical
    if (density !== 1) params.synapseDensity = density;
    const { stateDir: _s, ...run } = schedulerOptions(opts, '');
    const { tables, report, pyramidTasks } = await generatePhantom(dir, params, { chunkSize, blockShape, overwrite: !!opts.overwrite, sharding: (kind, shape, chunk) => shardingFor(opts, shape, chunk, kind, undefined, Math.floor(SHARD_BLOCK_BYTES / (chunk[0] * chunk[1] * chunk[2] * PHANTOM_BYTES_PER_VOXEL))), pyramid: opts.pyramid ? (layerDir) => planPyramid(layerDir) : undefined, run });
    const seconds = (Date.now() - started) / 1000;
    const voxels = size[0] * size[1] * size[2];
    const result = {
      dataset: dir,
      size,
      voxel_size: voxelSize,
      seed,
      cells: tables.cells.length,
      synapses: tables.synapses.length,
      organelles: tables.organelles.length,
      extracellular_fraction: tables.ecsVoxels / Math.max(1, tables.voxels),
      pyramid_tasks: pyramidTasks,
      seconds,
      megavoxels_per_s: voxels / 1e6 / Math.max(seconds, 1e-6),
      blocks: report,
    };
    emit(opts, result, () =>
      `phantom ${dir}: [${size}] at ${voxelSize} nm, seed ${seed}: ${result.cells} cells, ${result.synapses} synapses, ${result.organelles} organelles, ` +
      `${(100 * result.extracellular_fraction).toFixed(1)}% extracellular, ${seconds.toFixed(1)} s`);
  });
}
