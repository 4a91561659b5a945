/**
 * Whole-dataset generation: layers, the block task through the scheduler, then the tables
 * (DuckDB + Parquet) from the blocks' data. Used by `wiring phantom` and the tests.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../../core/box.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { UsageError } from '../../core/errors.js';
import { toJson } from '../../core/ids.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { PrecomputedLayer, type ShardingSpec, makeInfo, shardShape } from '../../formats/precomputed/index.js';
import { type BlockTask, type RunOptions, type RunReport, readBlockData, runTasks } from '../../scheduler/index.js';
import { COMPARTMENT } from './model.js';
import { PHANTOM_LAYERS, type PhantomParams, type PhantomTables, buildTables, phantomTask, sectionArtefacts } from './tasks.js';

/** Create the layer, or keep an existing one with the same geometry (a rerun resumes into it). */
async function ensureLayer(dir: string, info: ReturnType<typeof makeInfo>, overwrite: boolean): Promise<void> {
  let old: PrecomputedLayer | undefined;
  try {
    old = await PrecomputedLayer.open(dir);
  } catch {
    old = undefined;
  }
  if (old) {
    const a = old.info.scales[0];
    const b = info.scales[0];
    const same =
      old.info.type === info.type &&
      old.info.data_type === info.data_type &&
      JSON.stringify([a.size, a.voxel_offset, a.resolution, a.chunk_sizes, a.encoding, a.sharding ?? null]) === JSON.stringify([b.size, b.voxel_offset, b.resolution, b.chunk_sizes, b.encoding, b.sharding ?? null]);
    if (same) return;
    if (!overwrite) throw new UsageError(`${dir} holds a different layer; pass --overwrite to replace it`);
  }
  await PrecomputedLayer.create(dir, info, { overwrite: true, writing: 'phantom' });
}

export interface GenerateOptions {
  chunkSize?: Vec3;
  /** Scheduler block (multiple of the chunk size; default 2x2x1 chunks). */
  blockShape?: Vec3;
  overwrite?: boolean;
  /** The sharding of each layer (by type), or undefined for one file per chunk (the CLI's --sharded). */
  sharding?: (kind: 'image' | 'segmentation', shape: Vec3, chunk: Vec3) => ShardingSpec | undefined;
  /**
   * Plans the downsampling tasks of one layer folder, to add pyramid scales to every layer. The CLI
   * passes the downsample stage's `planPyramid` (a stage never imports another stage).
   */
  pyramid?: (layerDir: string) => Promise<BlockTask[]>;
  /** Scheduler options apart from stateDir (which is dataset/.wiring-run). */
  run?: Omit<RunOptions, 'stateDir'>;
}

export interface GenerateResult {
  tables: PhantomTables;
  report: RunReport;
  pyramidTasks: number;
}

export async function generatePhantom(dir: string, params: PhantomParams, opts: GenerateOptions = {}): Promise<GenerateResult> {
  const size = params.size;
  const chunk = opts.chunkSize ?? [64, 64, 32];
  const chunkClipped: Vec3 = [Math.min(chunk[0], size[0]), Math.min(chunk[1], size[1]), Math.min(chunk[2], size[2])];
  const shardingOf = (kind: 'image' | 'segmentation') => opts.sharding?.(kind, size, chunkClipped);
  // sharded layers are written a shard per block (the shards of every layer share one grid of chunks)
  const shardSpec = shardingOf('segmentation') ?? shardingOf('image');
  const shardBlock = shardSpec ? shardShape(shardSpec, [0, 1, 2].map((a) => Math.ceil(size[a] / chunkClipped[a])) as unknown as Vec3, chunkClipped) : undefined;
  const blockShape: Vec3 = opts.blockShape ?? shardBlock ?? [chunkClipped[0] * 2, chunkClipped[1] * 2, chunkClipped[2]];
  if (blockShape.some((b, i) => b % chunkClipped[i] !== 0)) throw new UsageError(`block size [${blockShape}] must be a multiple of the chunk size [${chunkClipped}]`);
  await fs.mkdir(dir, { recursive: true });
  for (const name of PHANTOM_LAYERS) {
    const small = name === 'raw' || name === 'compartments';
    const info = makeInfo({
      type: name === 'raw' ? 'image' : 'segmentation',
      dtype: small ? 'uint8' : 'uint64',
      shape: size,
      voxelSize: params.voxelSize,
      chunkSize: chunkClipped,
      encoding: small ? 'raw' : 'compressed_segmentation',
      sharding: shardingOf(name === 'raw' ? 'image' : 'segmentation'),
    });
    await ensureLayer(path.join(dir, name), info, !!opts.overwrite);
  }
  const stateDir = path.join(dir, '.wiring-run');
  const task = phantomTask(dir, params, blockShape, path.join);
  const report = await runTasks([task], { ...opts.run, stateDir });
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

  let pyramidTasks = 0;
  if (opts.pyramid) {
    const tasks = [];
    for (const name of PHANTOM_LAYERS) {
      for (const t of await opts.pyramid(path.join(dir, name))) tasks.push({ ...t, name: `${name}:${t.name}`, dependsOn: t.dependsOn?.map((d) => `${name}:${d}`) });
    }
    pyramidTasks = tasks.length;
    if (tasks.length) await runTasks(tasks, { ...opts.run, stateDir });
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
  return { tables, report, pyramidTasks };
}
