/**
 * The segment stage's blockwise runs (global solves live in their stage; the CLI only parses and
 * calls): supervoxels on the tile grid, the region graph + agglomeration + relabelling, and both in
 * a row. Each run records what made its layer in `info.wiring.<step>` and resumes or refuses
 * through `ensureLayer` (src/scheduler/provenance.ts).
 */
import * as path from 'node:path';
import { type Box, boxEquals, boxFromShape, type Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { openSource } from '../../formats/open.js';
import { makeInfo, type ShardingChoice } from '../../formats/precomputed/index.js';
import { absoluteSpec, iterateBlockData, readBlockData, type RunOptions, runTasks } from '../../scheduler/index.js';
import { ensureLayer, normaliseRecord, readProvenance } from '../../scheduler/provenance.js';
import { mergeBlockRagStream, ragTask, relabelTask, writeSegmentMap } from './blockwise.js';
import { writeJsonAtomic } from './io.js';
import { type AgglomerationMethod, type AgglomerationParams, agglomerateRag, contactOf, mergeTreeJson, type SupervoxelParams } from './pipeline.js';
import { blockForTiles, checkTile, chunkForBlock, countSupervoxels, DEFAULT_TILE_MARGIN, supervoxelTask } from './tasks.js';

/** The segment stage's defaults that the CLI help reads. */
export const SEGMENT_DEFAULTS = {
  /** Supervoxel tile of blockwise runs (the result depends on the tile, not on the block). */
  tile: [128, 128, 128] as Vec3,
  /** Context read around each tile, per side (z is 0 for per-section supervoxels). */
  margin: DEFAULT_TILE_MARGIN,
  /** The block `segment` falls back to when a volume does not fit in memory (whole default tiles). */
  autoBlock: [256, 256, 256] as Vec3,
} as const;

/** z more than twice as coarse as x and y. */
export function anisotropic(voxelSize: readonly [number, number, number]): boolean {
  return voxelSize[2] > 2 * Math.max(voxelSize[0], voxelSize[1]);
}

/** How a boundary/affinity map is read: channel order of affinities, inversion, one channel of many. */
export interface MapReading {
  affinityOrder: 'xyz' | 'zyx';
  invert: boolean;
  channel?: number;
}

/** Scheduler options of a blockwise run (the run puts its resume records in the layer). */
export type BlockwiseRunOptions = Omit<RunOptions, 'stateDir'>;

export interface BlockwiseSupervoxelsOptions {
  /** Boundary or affinity map (source spec). */
  boundaries: string;
  out: string;
  /** Requested block (rounded up to whole tiles). */
  block: Vec3;
  /** Default SEGMENT_DEFAULTS.tile (clipped to the volume). */
  tile?: Vec3;
  /** Default SEGMENT_DEFAULTS.margin, 0 in z for per-section supervoxels. */
  margin?: Vec3;
  /** The supervoxel parameters for the map's voxel size (read from the source). */
  params: (voxelSize: Vec3) => SupervoxelParams;
  reading: MapReading;
  overwrite: boolean;
  run: BlockwiseRunOptions;
  /** The sharding of the layer (shards fit the block); default one file per chunk. */
  sharding?: ShardingChoice;
  /** Told about the block rounding before the run starts. */
  onNote?: (note: string) => void;
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
 * The supervoxel task through the scheduler. The supervoxels are defined on the tile grid
 * (recorded with the margin and parameters in the layer's info under `wiring.supervoxels`); the
 * block is rounded up to whole tiles. An existing layer with the same record resumes (the
 * scheduler skips finished blocks); a different one needs `overwrite`.
 */
export async function blockwiseSupervoxels(o: BlockwiseSupervoxelsOptions): Promise<BlockwiseSupervoxelsResult> {
  const src = await openSource(o.boundaries);
  const like = { shape: src.shape, offset: src.offset, voxelSize: src.voxelSize, channels: src.channels };
  await src.close();
  const params = o.params(like.voxelSize);
  const margin = o.margin ?? ([SEGMENT_DEFAULTS.margin[0], SEGMENT_DEFAULTS.margin[1], params.twoD ? 0 : SEGMENT_DEFAULTS.margin[2]] as Vec3);
  // a tile larger than the volume is the volume (same result)
  const tile = checkTile((o.tile ?? SEGMENT_DEFAULTS.tile).map((t, i) => Math.min(t, like.shape[i])));
  const { block, changed } = blockForTiles(o.block, tile, like.shape);
  const note = changed ? `--block ${o.block.join(',')} rounded up to ${block.join(',')} (whole supervoxel tiles of ${tile.join(',')}; the supervoxels depend on --tile, not on --block)` : undefined;
  if (note) o.onNote?.(note);
  const blockParams = { supervoxels: params, affinityOrder: o.reading.affinityOrder, invert: o.reading.invert, channel: o.reading.channel };
  // what defines the result (not the block shape or the workers): recorded in the layer's info
  const record = normaliseRecord({ tile, margin, ...blockParams, boundaries: o.boundaries });
  const chunk = chunkForBlock(tile);
  const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape: like.shape, voxelSize: like.voxelSize, offset: like.offset, chunkSize: chunk, sharding: o.sharding?.('segmentation', like.shape, chunk, block) });
  const { stateDir } = await ensureLayer(o.out, info, 'supervoxels', record, { overwrite: o.overwrite, where: o.out, what: 'with other supervoxel settings or grid' });
  const task = supervoxelTask({ boundaries: o.boundaries, out: o.out, bounds: boxFromShape(like.shape, like.offset), blockShape: block, tile, margin, params: blockParams, channels: like.channels });
  // runTasks rejects when a block fails for good (SchedulerError naming the blocks)
  const report = await runTasks([task], { ...o.run, stateDir });
  const data = await readBlockData(stateDir, task.name);
  const supervoxels = countSupervoxels(data.map((d) => d.data));
  return { layer: o.out, supervoxels, blocks: report.blocks, computed: report.computed, resumed: report.resumed, block, tile, margin, ...(note ? { note } : {}) };
}

export interface BlockwiseAgglomerationOptions {
  supervoxels: string;
  boundaries: string;
  out: string;
  block: Vec3;
  params: AgglomerationParams;
  reading: MapReading;
  /** The learned model's file (recorded in the provenance), if any. */
  model?: string;
  overwrite: boolean;
  run: BlockwiseRunOptions;
  /** Chunk size of the output (default: from the block). */
  chunk?: Vec3;
  /** The sharding of the layer (shards fit the block); default one file per chunk. */
  sharding?: ShardingChoice;
}

export interface BlockwiseAgglomerationResult {
  layer: string;
  method: AgglomerationMethod;
  threshold: number;
  supervoxels: number;
  edges: number;
  merges: number;
  segments: number;
  blocks: number;
  resumed: number;
  merge_tree: string;
}

/**
 * The region graph is accumulated block by block (each block reads its supervoxels and boundaries
 * grown by one voxel), merged in memory (graph only), agglomerated, and the segmentation is written
 * block by block from a supervoxel -> segment table. Memory: one block's voxels per worker plus the
 * graph. Same partition as the whole-volume path (blockwise.test.ts).
 */
export async function blockwiseAgglomeration(o: BlockwiseAgglomerationOptions): Promise<BlockwiseAgglomerationResult> {
  const [sv, b] = [await openSource(o.supervoxels), await openSource(o.boundaries)];
  await Promise.all([sv.close(), b.close()]);
  const svBox: Box = boxFromShape(sv.shape, sv.offset);
  if (!boxEquals(svBox, boxFromShape(b.shape, b.offset))) {
    throw new UsageError(`--supervoxels ${o.supervoxels} covers [${svBox.min}]..[${svBox.max}] but --boundaries ${o.boundaries} covers [${b.offset}]..[${b.offset.map((v, i) => v + b.shape[i])}]; they must share one grid`);
  }
  if (sv.channels !== 1 || sv.dtype === 'float32') throw new UsageError(`--supervoxels ${o.supervoxels}: expected a 1-channel integer label volume, got ${sv.channels} x ${sv.dtype}`);
  // A block reaching past the volume is clamped to it: to the volume's size, or, when the chunks are
  // given, to whole chunks covering it (the scheduler wants blocks made of whole chunks).
  const roundUp = (v: number, c: number) => Math.ceil(v / c) * c;
  const block = o.block.map((v, i) => (o.chunk ? Math.min(roundUp(v, o.chunk[i]), roundUp(sv.shape[i], o.chunk[i])) : Math.min(v, sv.shape[i]))) as unknown as Vec3;
  o.params.anisotropic ??= anisotropic(sv.voxelSize);
  const ragParams = { affinityOrder: o.reading.affinityOrder, channel: o.reading.channel, invert: o.reading.invert, contact: contactOf(o.params), twoD: o.params.twoD };
  const chunk = (o.chunk ?? chunkForBlock(block)).map((c, a) => Math.min(c, sv.shape[a])) as unknown as Vec3;
  const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape: sv.shape, voxelSize: sv.voxelSize, offset: sv.offset, chunkSize: chunk, sharding: o.sharding?.('segmentation', sv.shape, chunk, block) });
  // What made this layer: a rerun with the same record resumes (finished region-graph and
  // relabelling blocks are skipped), another one needs overwrite. The supervoxel layer's own record
  // is part of it, so re-made supervoxels never meet old graph blocks. The block shape is not (the
  // result does not depend on it; the scheduler drops the records of another block shape by
  // itself), but it sets the chunks unless the caller gives them.
  const record = normaliseRecord({
    supervoxels: absoluteSpec(o.supervoxels),
    supervoxels_record: readProvenance(o.supervoxels, 'supervoxels'),
    boundaries: absoluteSpec(o.boundaries),
    ...ragParams,
    method: o.params.method ?? null,
    threshold: o.params.threshold ?? null,
    quantile: o.params.quantile ?? null,
    model: o.model ? path.resolve(o.model) : null,
    anisotropic: o.params.anisotropic,
  });
  const dir = path.resolve(o.out);
  const { stateDir } = await ensureLayer(dir, info, 'agglomeration', record, {
    overwrite: o.overwrite,
    where: o.out,
    what: 'from other inputs or settings',
    chunkMismatch: (had, want) => `a layer exists here with chunks ${JSON.stringify(had)}; --block ${block.join(',')} writes chunks ${JSON.stringify(want)}: rerun with the old --block to resume, or pass --overwrite`,
  });
  const run: RunOptions = { ...o.run, stateDir };
  // runTasks rejects when a block fails for good (SchedulerError naming the blocks)
  const rep = await runTasks([ragTask({ supervoxels: o.supervoxels, boundaries: o.boundaries, bounds: svBox, blockShape: block, params: { ...ragParams, supervoxelsRecord: record.supervoxels_record } })], run);
  // the mean agglomeration (and mutex/multicut on mean scores) reads areas and sums only: no histograms
  const histograms = !!o.params.forest || o.params.method === 'quantile' || o.params.method === 'learned';
  const { rag, ids } = await mergeBlockRagStream(() => blockDataOf(stateDir, 'rag'), { histograms });
  // the merge works in the graph's own columns (no copy of the edge statistics): the graph is not needed afterwards
  const res = agglomerateRag(rag, o.params, { inPlace: true });
  const mapFile = path.join(stateDir, 'segment-map.bin');
  const mapHash = await writeSegmentMap(mapFile, ids, res.map);
  const rep2 = await runTasks([relabelTask({ supervoxels: o.supervoxels, out: dir, mapFile, mapHash, bounds: svBox, blockShape: block })], run);
  const mergeTree = path.join(dir, 'merge_tree.json');
  await writeJsonAtomic(mergeTree, mergeTreeJson(res.tree, ids, { method: res.method, threshold: res.threshold, supervoxels_source: o.supervoxels }));
  return { layer: o.out, method: res.method, threshold: res.threshold, supervoxels: rag.nNodes, edges: rag.nEdges, merges: res.tree.count, segments: res.count, blocks: rep2.blocks, resumed: rep.resumed + rep2.resumed, merge_tree: mergeTree };
}

export interface BlockwiseSegmentOptions extends Omit<BlockwiseSupervoxelsOptions, 'out'> {
  out: string;
  /** The supervoxel layer (written first). */
  supervoxelsOut: string;
  agglomeration: AgglomerationParams;
  model?: string;
}

/**
 * Supervoxels, region graph and relabelling all blockwise. The segmentation's chunks follow the
 * supervoxel tile (as the supervoxel layer's do), so every block shape writes the same files.
 */
export async function blockwiseSegment(o: BlockwiseSegmentOptions): Promise<{ supervoxels: BlockwiseSupervoxelsResult; segmentation: BlockwiseAgglomerationResult }> {
  const s = await blockwiseSupervoxels({ ...o, out: o.supervoxelsOut });
  const r = await blockwiseAgglomeration({
    out: o.out, supervoxels: o.supervoxelsOut, boundaries: o.boundaries, block: s.block, params: o.agglomeration, reading: o.reading,
    model: o.model, overwrite: o.overwrite, run: o.run, chunk: chunkForBlock(s.tile), sharding: o.sharding,
  });
  return { supervoxels: s, segmentation: r };
}

/** The `data` of each of a task's block records, read one at a time (iterateBlockData). */
async function* blockDataOf(stateDir: string, task: string): AsyncGenerator<unknown> {
  for await (const rec of iterateBlockData(stateDir, task)) yield rec.data;
}
