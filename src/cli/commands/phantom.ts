import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { type Vec3, parseVec3 } from '../../core/box.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { UsageError } from '../../core/errors.js';
import { toJson } from '../../core/ids.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { readBlockData, runTasks } from '../../scheduler/index.js';
import { planPyramid } from '../../stages/downsample/tasks.js';
import { COMPARTMENT } from '../../stages/phantom/model.js';
import { PHANTOM_LAYERS, type PhantomParams, buildTables, phantomTask, sectionArtefacts } from '../../stages/phantom/tasks.js';
import { emit } from '../output.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';

function count(text: unknown, what: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(String(text)) || !Number.isSafeInteger(n)) throw new UsageError(`${what}: expected a whole number >= 0, got ${JSON.stringify(String(text))}`);
  return n;
}

/** Create the layer, or keep an existing one with the same geometry (a rerun resumes into it). */
async function ensureLayer(dir: string, info: ReturnType<typeof makeInfo>, overwrite: boolean): Promise<void> {
  try {
    const old = await PrecomputedLayer.open(dir);
    const a = old.info.scales[0];
    const b = info.scales[0];
    const same =
      old.info.type === info.type &&
      old.info.data_type === info.data_type &&
      JSON.stringify([a.size, a.voxel_offset, a.resolution, a.chunk_sizes, a.encoding]) === JSON.stringify([b.size, b.voxel_offset, b.resolution, b.chunk_sizes, b.encoding]);
    if (same) return;
    if (!overwrite) throw new UsageError(`${dir} holds a different layer; pass --overwrite to replace it`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
  await PrecomputedLayer.create(dir, info, { overwrite: true });
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
    .option('--block-size <X,Y,Z>', 'scheduler block, a multiple of the chunk size (default: 2x2x1 chunks)')
    .option('--shifted-sections <n>', 'number of sections whose image is displaced (alignment tests)', '0')
    .option('--missing-sections <n>', 'number of blank sections', '0')
    .option('--max-shift <n>', 'largest displacement of a shifted section, voxels', '8')
    .option('--noise <n>', 'noise amplitude, grey levels (triangular; std ~ 0.41 x amplitude)', '36')
    .option('--pyramid', 'also add downsampled scales to every layer')
    .option('--overwrite', 'replace existing layers of a different geometry')
    .option('--json', 'machine-readable output');
  addSchedulerOptions(cmd);
  return cmd.action(async (dir: string, opts) => {
    const started = Date.now();
    const size = parseVec3(opts.size, '--size', { integer: true, positive: true });
    const voxelSize = parseVec3(opts.voxelSize, '--voxel-size', { positive: true });
    const chunk = parseVec3(opts.chunkSize, '--chunk-size', { integer: true, positive: true });
    const chunkClipped: Vec3 = [Math.min(chunk[0], size[0]), Math.min(chunk[1], size[1]), Math.min(chunk[2], size[2])];
    const blockShape: Vec3 = opts.blockSize
      ? parseVec3(opts.blockSize, '--block-size', { integer: true, positive: true })
      : [chunkClipped[0] * 2, chunkClipped[1] * 2, chunkClipped[2]];
    if (blockShape.some((b, i) => b % chunkClipped[i] !== 0)) throw new UsageError(`--block-size [${blockShape}] must be a multiple of the chunk size [${chunkClipped}]`);
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
    await fs.mkdir(dir, { recursive: true });
    for (const name of PHANTOM_LAYERS) {
      const image = name === 'raw' || name === 'compartments';
      const info = makeInfo({
        type: name === 'raw' ? 'image' : 'segmentation',
        dtype: image ? 'uint8' : 'uint64',
        shape: size,
        voxelSize,
        chunkSize: chunkClipped,
        encoding: image ? 'raw' : 'compressed_segmentation',
      });
      await ensureLayer(path.join(dir, name), info, !!opts.overwrite);
    }
    const stateDir = path.join(dir, '.wiring-run');
    const task = phantomTask(dir, params, blockShape, path.join);
    const report = await runTasks([task], schedulerOptions(opts, stateDir));
    const blocks = await readBlockData(stateDir, task.name);
    const tables = buildTables(params, blocks);

    // Tables: a fresh DuckDB file written beside the final one, then renamed over it.
    const dbFile = path.join(dir, 'connectome.duckdb');
    const tmp = `${dbFile}.tmp-${process.pid}`;
    await fs.rm(tmp, { force: true });
    await fs.rm(`${tmp}.wal`, { force: true });
    const store = await ConnectomeStore.open(tmp);
    try {
      await store.insertCells(tables.cells);
      await store.insertSynapses(tables.synapses);
      await store.insertOrganelles(tables.organelles);
      for (const t of ['synapses', 'cells', 'organelles'] as const) {
        const file = path.join(dir, `${t}.parquet`);
        const part = `${file}.tmp-${process.pid}.parquet`;
        await store.exportParquet(t, part);
        await fs.rename(part, file);
      }
    } finally {
      await store.close();
    }
    await fs.rm(`${dbFile}.wal`, { force: true });
    await fs.rename(tmp, dbFile);

    let pyramid = 0;
    if (opts.pyramid) {
      const tasks = [];
      for (const name of PHANTOM_LAYERS) {
        for (const t of await planPyramid(path.join(dir, name))) tasks.push({ ...t, name: `${name}:${t.name}`, dependsOn: t.dependsOn?.map((d) => `${name}:${d}`) });
      }
      pyramid = tasks.length;
      if (tasks.length) await runTasks(tasks, schedulerOptions(opts, stateDir));
    }

    const art = sectionArtefacts(params);
    const meta = {
      generator: 'wiring phantom',
      params,
      compartments: COMPARTMENT,
      shifted_sections: art.shift.flatMap(([dx, dy], z) => (dx || dy ? [{ z, dx, dy }] : [])),
      missing_sections: art.missing.flatMap((m, z) => (m ? [z] : [])),
    };
    await writeFileAtomic(path.join(dir, 'phantom.json'), toJson(meta, 2) + '\n');
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
      pyramid_tasks: pyramid,
      seconds,
      megavoxels_per_s: voxels / 1e6 / Math.max(seconds, 1e-6),
      blocks: report,
    };
    emit(opts, result, () =>
      `phantom ${dir}: [${size}] at ${voxelSize} nm, seed ${seed}: ${result.cells} cells, ${result.synapses} synapses, ${result.organelles} organelles, ` +
      `${(100 * result.extracellular_fraction).toFixed(1)}% extracellular, ${seconds.toFixed(1)} s`);
  });
}
