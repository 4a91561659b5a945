/**
 * Scheduler tasks for meshes and skeletons of a segmentation layer, and the merge steps that
 * turn per-block files into Neuroglancer meshes / skeletons in the layer's `mesh` and `skeletons`
 * folders (and set those keys in the layer's info).
 */
import { promises as fs, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Box, type Vec3, boxShape } from '../../core/box.js';
import { WiringError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import { flushFileSystem, replaceDirAtomic, writeFileAtomic } from '../../core/atomic.js';
import { encodeObj, encodePly } from '../../formats/mesh/plyobj.js';
import { type EncodedMultires, encodeMeshShard, encodeMultiresOctree, idModSharding, writeLegacyInfo, writeLegacyMesh, writeMultiresInfo, writeMultiresMesh } from '../../formats/mesh/precomputed.js';
import { encodeSkeleton, writeSkeletonInfo } from '../../formats/mesh/skeleton.js';
import { encodeShard } from '../../formats/precomputed/sharding.js';
import { PrecomputedLayer, SHARDING_DEFAULTS, type ShardingSpec, locateChunk, shardFileName } from '../../formats/precomputed/index.js';
import { writeSwc } from '../../formats/swc.js';
import { type BlockContext, type BlockResult, type BlockTask, type RunOptions, readBlockData, runTasks } from '../../scheduler/index.js';
import {
  decodeMeshBlock,
  decodeSkeletonBlock,
  encodeMeshBlock,
  encodeSkeletonBlock,
  listBlockFiles,
  lod0CellVoxels,
  mergeSkeletons,
  meshBlock,
  meshBlockItemCount,
  skeletonBlock,
  skeletonBlockItemCount,
  skeletonSampleStep,
  writeBlockFile,
} from './blocks.js';
import { coarseMeshMargin, isDownsampleFactor, meshDownsampleFactor } from './coarse-mesh.js';
import { type Mesh, holeEdgesIndexed, meshVolume, openEdges } from './mesh.js';
import { chooseSegmentMesh } from './small-full-res.js';
import { buildMeshOctree, lodIndices } from './octree.js';
import { type Skeleton, TEASAR_DEFAULTS } from './skeleton.js';
import { encodeSharded, readShard, shardItemCounts, shardLengths } from './shards.js';
import { skeletonStats } from './stats.js';

export interface MeshTaskParams {
  workDir: string;
  /** Shards of the ids in the block files (finishShards of the bounds). */
  shards: number;
  voxelSize: Vec3;
  bounds: Box;
  /** Meshes: merge flat z-quads within lod-0 octree cells of this many voxels (lod0CellVoxels); absent: plain marching cubes. */
  mergeFlatCell?: Vec3;
  /** Meshes: meshBlock's `downsample` (mesh the mode-downsampled labels; planMesh: meshDownsampleFactor); absent: full resolution. */
  downsample?: Vec3;
  /** Meshes with `downsample`: meshBlock's `smallVoxels` (segments with fewer voxels in total at full resolution); absent: coarse only. */
  smallVoxels?: number;
  /** Meshes with `downsample`: meshBlock's `partialVolume` (partial-volume vertex placement). */
  partialVolume?: boolean;
}

export interface SkeletonTaskParams extends MeshTaskParams {
  scale?: number;
  const?: number;
  minVoxels?: number;
  /** skeletonBlock's sampleStep (planSkeletons: skeletonSampleStep of the voxel size and block shape) */
  sampleStep?: Vec3;
}

/** Block function: meshes of every segment of the block, to a block file. */
export async function meshTaskBlock(ctx: BlockContext<MeshTaskParams>): Promise<BlockResult> {
  const vol = ctx.inputs.seg;
  if (!vol) throw new WiringError('mesh block: no input "seg"');
  const p = ctx.params;
  const items = meshBlock(vol, ctx.box, { voxelSize: p.voxelSize, bounds: p.bounds, mergeFlatCell: p.mergeFlatCell, downsample: p.downsample, smallVoxels: p.smallVoxels, partialVolume: p.partialVolume });
  await writeBlockFile(ctx.params.workDir, ctx.blockIndex, encodeSharded(items, ctx.params.shards, encodeMeshBlock));
  return { data: { segments: items.length } };
}

/** Block function: skeletons of every segment of the block, to a block file. */
export async function skeletonTaskBlock(ctx: BlockContext<SkeletonTaskParams>): Promise<BlockResult> {
  const vol = ctx.inputs.seg;
  if (!vol) throw new WiringError('skeleton block: no input "seg"');
  const p = ctx.params;
  const items = skeletonBlock(vol, ctx.box, { voxelSize: p.voxelSize, bounds: p.bounds, scale: p.scale, const: p.const, minVoxels: p.minVoxels, sampleStep: p.sampleStep });
  await writeBlockFile(p.workDir, ctx.blockIndex, encodeSharded(items, p.shards, encodeSkeletonBlock));
  return { data: { segments: items.length } };
}

export interface PlanOptions {
  /** Block shape [x,y,z] (default: the whole volume up to 256 per axis for meshes, 128 for skeletons). */
  blockShape?: Vec3;
  scale?: number;
  const?: number;
  minVoxels?: number;
  /** Largest skeleton sample step (default TEASAR_DEFAULTS.maxSampleStep; 1 = the full grid). */
  maxSampleStep?: number;
  /**
   * Meshes: merge flat z-quads in marching cubes (marchingCubesLabels' `mergeFlat`) within the
   * lod-0 cells of `fragmentVoxels` (default MESH_DEFAULTS.fragmentVoxels; another size at
   * finishing still works: the octree cuts merged triangles at its cell faces). Default
   * MESH_DEFAULTS.mergeFlat (off: measured no faster, docs/THROUGHPUT.md).
   */
  fragmentVoxels?: number;
  mergeFlat?: boolean;
  /**
   * Meshes: largest downsampling factor per axis before marching cubes (meshDownsampleFactor of
   * the voxel size and block shape; default MESH_DEFAULTS.maxDownsample; 1 = full resolution).
   */
  maxDownsample?: number;
  /**
   * Meshes at a coarser scale: segments with fewer voxels than this in total are meshed at full
   * resolution (default MESH_DEFAULTS.smallSegmentVoxels; 0 = every segment coarse).
   */
  smallSegmentVoxels?: number;
  /** Meshes at a coarser scale: partial-volume vertex placement (default MESH_DEFAULTS.partialVolume). */
  partialVolume?: boolean;
}

async function layerGeometry(layerDir: string): Promise<{ layer: PrecomputedLayer; bounds: Box; voxelSize: Vec3 }> {
  const layer = await PrecomputedLayer.open(layerDir);
  if (layer.info.type !== 'segmentation') {
    throw new WiringError(`layer type is ${JSON.stringify(layer.info.type)}, expected "segmentation"`, layer.infoFile);
  }
  const s = layer.scale(0);
  return { layer, bounds: layer.bounds(0), voxelSize: s.resolution };
}

function defaultBlock(bounds: Box, max: number): Vec3 {
  return [0, 1, 2].map((i) => Math.max(1, Math.min(max, bounds.max[i] - bounds.min[i]))) as unknown as Vec3;
}

/** Bytes a block needs: the uint64 input over the block + overlap plus per-voxel scratch. */
function blockBytes(blockShape: Vec3, scratchPerVoxel: number): number {
  return (blockShape[0] + 3) * (blockShape[1] + 3) * (blockShape[2] + 3) * (8 + scratchPerVoxel);
}

export function workDirFor(layerDir: string, kind: 'mesh' | 'skeletons', blockShape: Vec3): string {
  return path.join(layerDir, '.wiring-morphology', `${kind}-${blockShape.join('x')}`);
}

/** The mesh task of a segmentation layer (scale 0). */
export async function planMesh(layerDir: string, opts: PlanOptions = {}): Promise<BlockTask<MeshTaskParams>> {
  const { bounds, voxelSize } = await layerGeometry(layerDir);
  const blockShape = opts.blockShape ?? defaultBlock(bounds, 256);
  const workDir = workDirFor(layerDir, 'mesh', blockShape);
  await fs.mkdir(workDir, { recursive: true });
  const maxDown = opts.maxDownsample ?? MESH_DEFAULTS.maxDownsample;
  if (!isDownsampleFactor(maxDown)) {
    throw new WiringError(`mesh downsampling ${maxDown}: expected a power of two 1..16`);
  }
  const mergeFlat = opts.mergeFlat ?? MESH_DEFAULTS.mergeFlat;
  // flat-quad merging works on the full-resolution grid only: it turns the downsampling off
  const downsample = mergeFlat ? ([1, 1, 1] as Vec3) : meshDownsampleFactor(voxelSize, blockShape, maxDown);
  const coarse = downsample.some((f) => f > 1);
  const small = opts.smallSegmentVoxels ?? MESH_DEFAULTS.smallSegmentVoxels;
  if (!(Number.isFinite(small) && small >= 0)) throw new WiringError(`small-segment threshold ${small}: expected a number of voxels >= 0`);
  return {
    name: 'mesh',
    module: import.meta.url,
    fn: 'meshTaskBlock',
    params: {
      workDir, shards: finishShards(bounds), voxelSize, bounds,
      ...(!mergeFlat ? {} : { mergeFlatCell: lod0CellVoxels(voxelSize, opts.fragmentVoxels ?? MESH_DEFAULTS.fragmentVoxels) }),
      ...(coarse ? { downsample } : {}),
      ...(coarse && small > 0 ? { smallVoxels: small } : {}),
      ...(coarse && (opts.partialVolume ?? MESH_DEFAULTS.partialVolume) ? { partialVolume: true } : {}),
    },
    inputs: { seg: layerDir },
    bounds,
    blockShape,
    // one (coarse) voxel past the block: the overlap neighbouring blocks share
    margin: coarse ? coarseMeshMargin(downsample) : [1, 1, 1],
    // compact labels + padded copy (8) + vertex caches/triangles (~16, surface-dependent)
    memoryPerBlock: blockBytes(blockShape, 24),
  };
}

/** The skeleton task of a segmentation layer (scale 0). */
export async function planSkeletons(layerDir: string, opts: PlanOptions = {}): Promise<BlockTask<SkeletonTaskParams>> {
  const { bounds, voxelSize } = await layerGeometry(layerDir);
  const blockShape = opts.blockShape ?? defaultBlock(bounds, 128);
  const workDir = workDirFor(layerDir, 'skeletons', blockShape);
  await fs.mkdir(workDir, { recursive: true });
  const params: SkeletonTaskParams = { workDir, shards: finishShards(bounds), voxelSize, bounds };
  if (opts.scale !== undefined) params.scale = opts.scale;
  if (opts.const !== undefined) params.const = opts.const;
  if (opts.minVoxels !== undefined) params.minVoxels = opts.minVoxels;
  const step = skeletonSampleStep(voxelSize, blockShape, opts.maxSampleStep ?? TEASAR_DEFAULTS.maxSampleStep);
  if (step.some((s) => s > 1)) params.sampleStep = step;
  return {
    name: 'skeletons',
    module: import.meta.url,
    fn: 'skeletonTaskBlock',
    params,
    inputs: { seg: layerDir },
    bounds,
    blockShape,
    margin: [1, 1, 1],
    // compact labels (4) + EDT (4) + the skeleton workspace (~33 bytes per padded voxel)
    memoryPerBlock: blockBytes(blockShape, 41),
  };
}

/** Block files of the current grid only (a stale file from another grid would double count). */
async function currentBlockFiles(workDir: string, bounds: Box, blockShape: Vec3): Promise<string[]> {
  const grid = [0, 1, 2].map((i) => Math.ceil((bounds.max[i] - bounds.min[i]) / blockShape[i]));
  return (await listBlockFiles(workDir)).filter((f) => {
    const ijk = path.basename(f, '.bin').split('_').map(Number);
    return ijk.every((v, i) => v < grid[i]);
  });
}

/**
 * Shards of the segment ids in mesh and skeleton block files: the finishing step runs one
 * scheduler block per non-empty shard, so workers share it (64: at 2 workers the last shard to
 * finish is a small part of the whole; segments are spread by id mod the shard count), and a
 * finishing block holds its own shard's items only. 64 up to FINISH_SHARD_VOXELS voxels, then
 * doubled with every doubling of the volume (finishShards), so that a shard's share of the volume,
 * and with it the memory of a finishing block, stays bounded as the volume grows.
 */
export const FINISH_SHARDS = 64;
/** The volume (voxels: 512x512x128) up to which FINISH_SHARDS shards are used. */
export const FINISH_SHARD_VOXELS = 2 ** 25;

/** Shards of a mesh or skeleton task over `bounds`: FINISH_SHARDS, doubled while a shard would cover more than FINISH_SHARD_VOXELS / FINISH_SHARDS voxels. */
export function finishShards(bounds: Box): number {
  const voxels = boxShape(bounds).reduce((a, b) => a * b, 1);
  let shards = FINISH_SHARDS;
  while (voxels * FINISH_SHARDS > shards * FINISH_SHARD_VOXELS) shards *= 2;
  return shards;
}

/**
 * Segment pieces in the current block files: each segment counted once per block it touches (the
 * block files' section heads; `count` reads a section's item count), an upper bound of the segments.
 */
async function segmentPieces(task: BlockTask<MeshTaskParams>, count: (head: Uint8Array) => number): Promise<number> {
  let n = 0;
  for (const f of await currentBlockFiles(task.params.workDir, task.params.bounds, task.blockShape)) {
    for (const c of await shardItemCounts(f, count)) n += c;
  }
  return n;
}

/** What every finishing block gets: where the block files are, its shard, and the output folder. */
interface FinishParams {
  workDir: string;
  bounds: Box;
  blockShape: Vec3;
  shards: number;
  /** Shard of each finishing block (block index x). */
  list: number[];
  /** The staging output folder. */
  outDir: string;
}

/** Items of one shard of every block file, grouped by id in block-file order. */
async function readShardItems<I extends { id: bigint }, T>(
  p: FinishParams,
  blockIndex: Vec3,
  decode: (bytes: Uint8Array, where: string) => I[],
  value: (it: I) => T,
): Promise<Map<bigint, T[]>> {
  const shard = p.list[blockIndex[0]];
  const byId = new Map<bigint, T[]>();
  for (const f of await currentBlockFiles(p.workDir, p.bounds, p.blockShape)) {
    const bytes = await readShard(f, shard, p.shards);
    if (!bytes.length) continue;
    for (const it of decode(bytes, f)) {
      let a = byId.get(it.id);
      if (!a) byId.set(it.id, (a = []));
      a.push(value(it));
    }
  }
  return byId;
}

function sortedIds(byId: Map<bigint, unknown>): bigint[] {
  return [...byId.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** How the finishing blocks run: the scheduler's options (default: in this thread). */
export interface FinishRunOptions {
  run?: Omit<RunOptions, 'stateDir' | 'progress'>;
  progress?: Progress;
}

/**
 * Run the finishing task of a finished mesh/skeleton task: one block per non-empty shard of the
 * ids, writing into `outDir` (the staging folder, whose resume records live in it and are removed
 * before it is swapped in). Returns each block's data in shard order.
 */
async function runFinish<D>(
  task: BlockTask<MeshTaskParams>,
  fn: string,
  extra: object,
  outDir: string,
  bytesFactor: number,
  opts: FinishRunOptions,
): Promise<D[]> {
  const { workDir, bounds } = task.params;
  const shards = task.params.shards;
  const perShard = new Array<number>(shards).fill(0);
  for (const f of await currentBlockFiles(workDir, bounds, task.blockShape)) {
    (await shardLengths(f)).forEach((n, k) => (perShard[k] += n));
  }
  const list = perShard.flatMap((n, k) => (n > 0 ? [k] : []));
  if (!list.length) return [];
  const params: FinishParams = { ...extra, workDir, bounds, blockShape: task.blockShape, shards, list, outDir };
  const finish: BlockTask<FinishParams> = {
    name: `${task.name}-finish`,
    module: import.meta.url,
    fn,
    params,
    bounds: { min: [0, 0, 0], max: [list.length, 1, 1] },
    blockShape: [1, 1, 1],
    memoryPerBlock: bytesFactor * Math.max(...perShard),
  };
  const stateDir = path.join(outDir, '.wiring-finish');
  const run: RunOptions = { workers: 1, ...opts.run, stateDir };
  if (opts.progress) run.progress = opts.progress;
  await runTasks([finish], run);
  const data = (await readBlockData(stateDir, finish.name)).sort((a, b) => a.blockIndex[0] - b.blockIndex[0]).map((d) => d.data as D);
  await fs.rm(stateDir, { recursive: true, force: true });
  return data;
}

/** Defaults of the mesh output (the CLI help reads them). */
export const MESH_DEFAULTS = {
  /** Levels of detail of the multi-resolution format. */
  lods: 3,
  /**
   * Multires: a coarser level of detail is built only while the previous level holds at least this
   * many triangles (buildMeshOctree's minLodTriangles). A segment smaller than that keeps lod 0
   * alone (unchanged), which Neuroglancer draws at every distance. Chosen on the pipeline's predicted
   * segmentation of phantom seed 7 at 512x512x128 (23,376 segments, 20,730 of them under 256
   * marching-cubes triangles): 256 against 0 cut the octree + encoding CPU by 18-32 % (one process, under load), 20 % fewer fragments, 13 % fewer
   * bytes, 18 % more triangles at each segment's coarsest level (a zoomed-out view); measured on
   * seeds 17, 19 and gala-medulla (docs/THROUGHPUT.md, Meshes: seventh pass).
   */
  minCoarseLodTriangles: 256,
  /** Lod-0 fragment (octree cell) size in voxels of the finest axis. */
  fragmentVoxels: 64,
  /**
   * Lod 0 is simplified (meshoptimizer, cell faces locked) moving the surface by at most this
   * many voxels of the finest axis: half a voxel, as igneous does. Chosen on the phantom (seed 7,
   * 192x192x48 at 8x8x30 nm: 5.1x fewer lod-0 triangles), measured on gala-medulla; see
   * docs/THROUGHPUT.md (Meshes). 0 keeps the marching-cubes surface exactly.
   */
  lod0ErrorVoxels: 0.5,
  /**
   * Merge flat z-quads as marching cubes emits them (same surface, 10 % fewer triangles on the
   * phantom, 4 % on gala-medulla): off, the extra marching-cubes time outweighed what the
   * simplifier saved (docs/THROUGHPUT.md, Meshes).
   */
  mergeFlat: false,
  /**
   * Mesh the labels mode-downsampled by up to this factor per axis (powers of two, only along axes
   * at most half as long as the longest: 8x8x30 nm -> 16x16x30, isotropic volumes unchanged;
   * meshDownsampleFactor); thin parts the downsampling loses are meshed at full resolution
   * (coarse-mesh.ts thinPatches), coarse vertices placed at the full-resolution boundary
   * (partialVolume, each move limited so no boundary it stands for ends farther than from the
   * coarse face; cavities the mode vote fills meshed at full resolution, cavityVoxels). 1 = full
   * resolution, the exact marching-cubes path (`wiring mesh --downsample 1`). 2 since the largest
   * marching-cubes surface distance to the full-resolution mesh stays within one voxel diagonal on
   * every volume measured: phantom seeds 7 and 13 (chosen on: 30.53 nm of 32.06), held out seeds 17,
   * 19, 23 (30.29, 30.53, 30.53 nm) and gala-medulla at 10x10x30 nm (every third section: 30.46 of
   * 33.17 nm), no segment lost, every lod 0 closed; the lod-0 volume error p95 <= 2 % holds on seeds
   * 7, 13, 19, 23 (1.29-1.56 % with partial-volume.ts PV_OFF_PLANE, sixth pass; 1.39-1.75 % before)
   * but not on seed 17 (2.17 %, 18 scored segments) or gala at 10x10x30 (2.53 %), where the
   * full-resolution lod 0 is farther still (6.87 %, 3.27 %). See docs/THROUGHPUT.md (Meshes:
   * cavities the mode vote fills, held-out seeds; sixth pass).
   */
  maxDownsample: 2,
  /**
   * Meshing at a coarser scale: segments with fewer voxels than this in total are meshed at full
   * resolution (small-full-res.ts; the coarse grid's chamfered corners cost a small segment a
   * larger share of its volume). See docs/THROUGHPUT.md (Meshes: small segments at full resolution).
   */
  smallSegmentVoxels: 0,
  /**
   * Meshing at a coarser scale: each coarse vertex moves along its edge to the segment's
   * full-resolution boundary (partial-volume.ts): phantom seed 7 (chosen on) lod-0 volume error p95
   * 2.17 -> 1.42 %, with which no small-segment threshold is needed (smallSegmentVoxels 0). See
   * docs/THROUGHPUT.md (Meshes: partial-volume vertices).
   */
  partialVolume: true,
  /**
   * Multires fragments store positions in 10 bits (Draco encodes them ~3.5x faster than 16 bits
   * and ~35 % smaller; phantom seed 7) while one quantization step of a lod-0 cell (cell / 1023)
   * is at most this many voxels of the finest axis, else 16 bits.
   */
  maxQuantizationStepVoxels: 0.125,
  /**
   * Multires meshes are written sharded (one `<shard>.shard` file per finishing block instead of
   * two files per segment; `wiring mesh --sharded` / `--no-sharded` decide otherwise) when the
   * block files hold more segment pieces than this (a segment counts once per block it touches):
   * 100,000 files unsharded, the rule of the volume layers (SHARDING_DEFAULTS.aboveChunks / 2).
   * The count is the file-count rule, not a measured optimum. Sharded cost less CPU on the volumes
   * measured (one worker, under load, A B A B): the pipeline chain's predicted segmentation of
   * phantom seed 7 (21,676 segments; chosen on: -10 %) and its 66,822 supervoxels (-18 %), and
   * tied within the spread on phantom seed 7 neurons and gala-medulla's watershed (held out;
   * docs/THROUGHPUT.md, "Meshes: sharded output"). Skeletons (`wiring skeletonize`) use the same count.
   */
  shardedAboveSegments: SHARDING_DEFAULTS.aboveChunks / 2,
} as const;

/** Position bits of multires fragments for lod-0 cells of `chunkShape` nm (see MESH_DEFAULTS). */
export function multiresQuantizationBits(chunkShape: Vec3, finestVoxel: number): 10 | 16 {
  return chunkShape.every((c) => c / 1023 <= MESH_DEFAULTS.maxQuantizationStepVoxels * finestVoxel) ? 10 : 16;
}

export interface MeshOutputOptions extends FinishRunOptions {
  format?: 'multires' | 'legacy';
  /** Levels of detail for the multi-resolution format (default MESH_DEFAULTS.lods). */
  lods?: number;
  /**
   * Multi-resolution lod-0 fragment size in voxels along the axis of the smallest voxel size
   * (other axes: the same length in nm, rounded to whole voxels). Default MESH_DEFAULTS.fragmentVoxels.
   */
  fragmentVoxels?: number;
  /** Multi-resolution lod-0 simplification bound in voxels of the finest axis (default MESH_DEFAULTS.lod0ErrorVoxels). */
  lod0ErrorVoxels?: number;
  /** Multi-resolution: build a coarser level only while the previous one has at least this many triangles (default MESH_DEFAULTS.minCoarseLodTriangles; 0: the octree's own rule alone). */
  minCoarseLodTriangles?: number;
  /** Also write <id>.ply / <id>.obj into these folders. */
  plyDir?: string;
  objDir?: string;
  /**
   * Multires: write the mesh folder sharded (true), one manifest and one data file per segment
   * (false), or sharded above MESH_DEFAULTS.shardedAboveSegments segment pieces (undefined).
   */
  sharded?: boolean;
}

export interface MeshSummary {
  layer: string;
  mesh_dir: string;
  format: 'multires' | 'legacy';
  segments: number;
  /** triangles as written: lod 0 for multires (simplified by default), the marching-cubes mesh for legacy */
  triangles: number;
  bytes: number;
  /**
   * Meshes without a hole as written: legacy, the marching-cubes mesh is closed and manifold
   * (`openEdges`); multires, lod 0 as written has no hole (`holeEdges`: simplification may
   * pinch two folds along an edge, as lods 1-2 may).
   */
  closed: number;
  open: number;
  /** multires: bits per quantized position (the mesh info's vertex_quantization_bits) */
  vertex_quantization_bits?: 10 | 16;
  /** multires: lod-0 fragment (octree cell) size in nm */
  fragment_shape_nm?: Vec3;
  /** meshing at a coarser scale: segments meshed at full resolution because they have fewer voxels than the threshold */
  small_full_resolution?: number;
  /** files in the mesh folder: the info, then two per segment, or one per non-empty shard */
  files: number;
  /** multires sharded: the info's sharding (shard = id mod 2^shard_bits) */
  sharding?: ShardingSpec;
  segments_list: Array<{ id: bigint; triangles: number; volume_nm3: number; closed: boolean; lods: number; fragments: number }>;
}

/** Settings of one mesh finishing block (a shard of the segment ids). */
interface MeshFinishParams extends FinishParams {
  format: 'multires' | 'legacy';
  voxelSize: Vec3;
  lods: number;
  fragmentVoxels: number;
  lod0ErrorVoxels: number;
  minCoarseLodTriangles: number;
  /** the mesh task's downsampling factor (the octree lattice follows the coarse cubes) */
  downsample?: Vec3;
  /** the mesh task's small-segment threshold (chooseSegmentMesh) */
  smallVoxels?: number;
  plyDir?: string;
  objDir?: string;
  /** multires sharded: this finishing block writes the shard file of its ids (idModSharding of the task's shards) */
  sharding?: ShardingSpec;
}

/**
 * Lod-0 octree cell in nm: `fragmentVoxels` of the finest axis (lod0CellVoxels), rounded up per axis
 * to a whole number of coarse voxels when meshing downsampled (so cell faces lie between coarse cubes).
 */
export function meshChunkShape(res: Vec3, fragmentVoxels: number, downsample: Vec3): Vec3 {
  const cell = lod0CellVoxels(res, fragmentVoxels);
  return cell.map((c, k) => Math.ceil(c / downsample[k]) * downsample[k] * res[k]) as unknown as Vec3;
}

/**
 * Where the lod-0 octree lattice starts (nm): at the centre of the (virtual) voxel before
 * bounds.min at the meshing scale (`downsample`; [1,1,1] for a segment meshed at full resolution),
 * where marching-cubes cubes meet, so no lod-0 triangle crosses a cell face.
 */
export function meshLattice(boundsMin: Vec3, res: Vec3, downsample: Vec3): Vec3 {
  return boundsMin.map((m, k) => (m - 0.5 * downsample[k]) * res[k]) as unknown as Vec3;
}

type MeshEntry = MeshSummary['segments_list'][number];

/** Block function of the mesh finishing task: merge, octree, encode and write the meshes of one shard of the ids. */
export async function meshFinishBlock(ctx: BlockContext<MeshFinishParams>): Promise<BlockResult> {
  const p = ctx.params;
  const byId = await readShardItems(p, ctx.blockIndex, decodeMeshBlock, (it) => it);
  const res = p.voxelSize;
  const lodScale0 = Math.min(...res);
  // Octree cells of whole voxels whose faces lie on voxel-centre planes (where marching-cubes
  // cubes meet), so no lod-0 triangle crosses a cell face. The lowest possible vertex is the
  // centre of the (virtual) background voxel before bounds.min, where the lattice starts.
  const down = p.downsample ?? [1, 1, 1];
  const chunkShape = meshChunkShape(res, p.fragmentVoxels, down);
  // downsampled meshes: cube corners are centres of coarse voxels, from the virtual one before bounds.min
  const coarseLattice = meshLattice(p.bounds.min, res, down);
  const fineLattice = meshLattice(p.bounds.min, res, [1, 1, 1]);
  const bits = multiresQuantizationBits(chunkShape, lodScale0);
  const entries: MeshEntry[] = [];
  let bytes = 0;
  let smallFine = 0;
  const shard = p.list[ctx.blockIndex[0]];
  const sharded: EncodedMultires[] = [];
  for (const id of sortedIds(byId)) {
    if (p.sharding && locateChunk(id, p.sharding).shard !== BigInt(shard)) {
      throw new WiringError(`segment ${id} is in finishing block ${shard} but in shard ${locateChunk(id, p.sharding).shard} of the mesh sharding (stale block files? rerun the mesh task)`, p.workDir);
    }
    // one block's marching-cubes mesh is welded already (one vertex per crossed voxel edge); a
    // segment below the small-segment threshold takes its full-resolution pieces
    const { mesh, fine } = chooseSegmentMesh(byId.get(id)!, p.smallVoxels ?? 0);
    byId.delete(id);
    if (fine) smallFine++;
    const lattice = fine ? fineLattice : coarseLattice;
    let closed = false;
    let triangles = mesh.indices.length / 3;
    let lods = 1;
    let fragments = 1;
    if (p.format === 'legacy') {
      closed = openEdges(mesh) === 0;
      await writeLegacyMesh(p.outDir, id, mesh);
      bytes += 4 + mesh.vertices.byteLength + mesh.indices.byteLength;
    } else {
      // grid origin: the lattice cell at or below the mesh's lower corner
      const lo = [Infinity, Infinity, Infinity];
      for (let i = 0; i < mesh.vertices.length; i += 3) for (let k = 0; k < 3; k++) if (mesh.vertices[i + k] < lo[k]) lo[k] = mesh.vertices[i + k];
      const gridOrigin = [0, 1, 2].map((k) => lattice[k] + Math.max(0, Math.floor((lo[k] - lattice[k]) / chunkShape[k] + 1e-9)) * chunkShape[k]) as unknown as Vec3;
      const tree = await buildMeshOctree(mesh, { chunkShape, gridOrigin, lods: p.lods, lodScale0, lod0Error: p.lod0ErrorVoxels * lodScale0, minLodTriangles: p.minCoarseLodTriangles ?? 0 });
      closed = holeEdgesIndexed(lodIndices(tree, 0), tree.vertices.length / 3) === 0;
      lods = tree.lods.length;
      triangles = tree.lods[0].reduce((n, f) => n + f.indices.length / 3, 0);
      // one synchronous write per file, no temporary name or fsync: the folder is a private staging
      // copy, flushed once before it is swapped in (a retried finishing block rewrites its files whole)
      if (p.sharding) {
        // kept until the shard is whole: one file per finishing block
        const { manifest, data } = await encodeMultiresOctree(tree, { bits });
        sharded.push({ id, manifest, data });
        bytes += manifest.length + data.length;
        fragments = tree.lods.reduce((a, l) => a + l.length, 0);
      } else {
        const w = await writeMultiresMesh(p.outDir, id, tree, { bits, staging: true });
        bytes += w.bytes;
        fragments = w.fragments;
      }
    }
    if (p.plyDir) await writeFileAtomic(path.join(p.plyDir, `${id}.ply`), encodePly(mesh, `segment ${id}, nm`));
    if (p.objDir) await writeFileAtomic(path.join(p.objDir, `${id}.obj`), encodeObj(mesh, `segment ${id}, nm`));
    entries.push({ id, triangles, volume_nm3: meshVolume(mesh), closed, lods, fragments });
  }
  // one synchronous write into the private staging folder, as for the unsharded files
  if (p.sharding && sharded.length) writeFileSync(path.join(p.outDir, shardFileName(BigInt(shard), p.sharding)), encodeMeshShard(sharded, p.sharding));
  return { data: { entries, bytes, smallFine } };
}

/** Merge the block files of a finished mesh task and write the layer's `mesh` folder (one scheduler block per shard of the ids, on `opts.run`'s workers). */
export async function finishMeshes(layerDir: string, task: BlockTask<MeshTaskParams>, opts: MeshOutputOptions = {}): Promise<MeshSummary> {
  const format = opts.format ?? 'multires';
  const fv = opts.fragmentVoxels ?? MESH_DEFAULTS.fragmentVoxels;
  if (!(Number.isInteger(fv) && fv >= 1)) throw new WiringError(`fragment size ${fv}: expected a whole number of voxels >= 1`);
  const e0 = opts.lod0ErrorVoxels ?? MESH_DEFAULTS.lod0ErrorVoxels;
  if (!(e0 >= 0 && e0 <= 4)) throw new WiringError(`lod-0 simplification error ${e0}: expected 0..4 voxels`);
  const res = task.params.voxelSize;
  const lodScale0 = Math.min(...res);
  const chunkShape = meshChunkShape(res, fv, task.params.downsample ?? [1, 1, 1]);
  const bits = multiresQuantizationBits(chunkShape, lodScale0);
  const finalMeshDir = path.join(layerDir, 'mesh');
  if (opts.sharded && format === 'legacy') throw new WiringError('sharded meshes: only the multires format (neuroglancer_multilod_draco) has a sharded form');
  const sharding = format === 'multires' && (opts.sharded ?? (await segmentPieces(task, meshBlockItemCount)) > MESH_DEFAULTS.shardedAboveSegments)
    ? idModSharding(task.params.shards)
    : undefined;
  // Built in a private staging folder and swapped in by rename: two runs finishing at once never
  // delete each other's files (they used to: ENOENT on a rename).
  const summary = await replaceDirAtomic(finalMeshDir, async (meshDir) => {
    const summary: MeshSummary = { layer: layerDir, mesh_dir: finalMeshDir, format, segments: 0, triangles: 0, bytes: 0, closed: 0, open: 0, files: 0, segments_list: [] };
    if (format === 'legacy') await writeLegacyInfo(meshDir);
    else {
      summary.vertex_quantization_bits = bits;
      summary.fragment_shape_nm = chunkShape;
      if (sharding) summary.sharding = sharding;
      await writeMultiresInfo(meshDir, bits, sharding);
    }
    const params: Omit<MeshFinishParams, keyof FinishParams> = {
      format, voxelSize: res, lods: opts.lods ?? MESH_DEFAULTS.lods, fragmentVoxels: fv, lod0ErrorVoxels: e0,
      minCoarseLodTriangles: opts.minCoarseLodTriangles ?? MESH_DEFAULTS.minCoarseLodTriangles,
    };
    if (task.params.downsample) params.downsample = task.params.downsample;
    if (sharding) params.sharding = sharding;
    if (task.params.smallVoxels) {
      params.smallVoxels = task.params.smallVoxels;
      summary.small_full_resolution = 0;
    }
    if (opts.plyDir) params.plyDir = path.resolve(opts.plyDir);
    if (opts.objDir) params.objDir = path.resolve(opts.objDir);
    // merged meshes, octree and Draco take a few times the block-file bytes
    const results = await runFinish<{ entries: MeshEntry[]; bytes: number; smallFine: number }>(task, 'meshFinishBlock', params, meshDir, 6, opts);
    for (const r of results) {
      summary.bytes += r.bytes;
      if (summary.small_full_resolution !== undefined) summary.small_full_resolution += r.smallFine;
      for (const e of r.entries) {
        summary.segments++;
        summary.triangles += e.triangles;
        if (e.closed) summary.closed++;
        else summary.open++;
        summary.segments_list.push(e);
      }
    }
    summary.segments_list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    // the info, then one shard file per finishing block with segments, or a manifest and a data file per segment
    summary.files = 1 + (sharding ? results.filter((r) => r.entries.length > 0).length : 2 * summary.segments);
    // the fragment files were written without fsync: one flush of the file system before the swap
    await flushFileSystem(meshDir);
    return summary;
  });
  const layer = await PrecomputedLayer.open(layerDir);
  await layer.updateInfo({ mesh: 'mesh' });
  return summary;
}

export interface SkeletonOutputOptions extends FinishRunOptions {
  swcDir?: string;
  /** sharded (true), one file per segment (false), or sharded above MESH_DEFAULTS.shardedAboveSegments segment pieces (undefined) */
  sharded?: boolean;
}

export interface SkeletonSummary {
  layer: string;
  skeleton_dir: string;
  segments: number;
  vertices: number;
  cable_length_nm: number;
  /** files in the skeleton folder: the info, then one per segment, or one per non-empty shard */
  files: number;
  /** sharded: the info's sharding (shard = id mod 2^shard_bits) */
  sharding?: ShardingSpec;
}

type SkeletonEntry = { id: bigint; vertices: number; cable_length_nm: number };

/** Settings of one skeleton finishing block. */
interface SkeletonFinishParams extends FinishParams {
  swcDir?: string;
  /** sharded: this finishing block writes the shard file of its ids */
  sharding?: ShardingSpec;
}

/** Block function of the skeleton finishing task: merge and write the skeletons of one shard of the ids. */
export async function skeletonFinishBlock(ctx: BlockContext<SkeletonFinishParams>): Promise<BlockResult> {
  const p = ctx.params;
  const byId = await readShardItems(p, ctx.blockIndex, decodeSkeletonBlock, (it) => it.skel);
  const entries: SkeletonEntry[] = [];
  const shard = p.list[ctx.blockIndex[0]];
  const chunks: Array<{ id: bigint; data: Uint8Array }> = [];
  for (const id of sortedIds(byId)) {
    if (p.sharding && locateChunk(id, p.sharding).shard !== BigInt(shard)) {
      throw new WiringError(`segment ${id} is in finishing block ${shard} but in shard ${locateChunk(id, p.sharding).shard} of the skeleton sharding (stale block files? rerun the skeleton task)`, p.workDir);
    }
    const parts = byId.get(id)!;
    const s = parts.length === 1 ? parts[0] : mergeSkeletons(parts);
    byId.delete(id);
    // One synchronous write per file: outDir is the private staging folder (swapped in whole by
    // replaceDirAtomic, flushed once before), so a file needs no temporary name and rename of its
    // own, and a retried block rewrites its files whole. Async writes cost each small file a
    // round trip through libuv's threads (futex and epoll wake-ups: most of the stage's CPU
    // outside the blocks; docs/THROUGHPUT.md, "Skeletons, synapses, cells: third pass").
    if (p.sharding) chunks.push({ id, data: encodeSkeleton(s) });
    else writeFileSync(path.join(p.outDir, `${id}`), encodeSkeleton(s));
    if (p.swcDir) await writeSwc(path.join(p.swcDir, `${id}.swc`), s, { comment: `segment ${id}; nm` });
    entries.push({ id, vertices: s.radius.length, cable_length_nm: skeletonStats(s).cable_length_nm });
  }
  if (p.sharding && chunks.length) writeFileSync(path.join(p.outDir, shardFileName(BigInt(shard), p.sharding)), encodeShard(chunks, p.sharding));
  return { data: { entries } };
}

/** Merge the block files of a finished skeleton task and write the layer's `skeletons` folder (one scheduler block per shard of the ids). */
export async function finishSkeletons(layerDir: string, task: BlockTask<SkeletonTaskParams>, opts: SkeletonOutputOptions = {}): Promise<SkeletonSummary> {
  const finalDir = path.join(layerDir, 'skeletons');
  const sharding = opts.sharded ?? (await segmentPieces(task, skeletonBlockItemCount)) > MESH_DEFAULTS.shardedAboveSegments
    ? idModSharding(task.params.shards)
    : undefined;
  // staged and swapped in by rename, as for meshes
  const summary = await replaceDirAtomic(finalDir, async (dir) => {
    await writeSkeletonInfo(dir, sharding);
    const summary: SkeletonSummary = { layer: layerDir, skeleton_dir: finalDir, segments: 0, vertices: 0, cable_length_nm: 0, files: 0 };
    if (sharding) summary.sharding = sharding;
    const params: Omit<SkeletonFinishParams, keyof FinishParams> = {};
    if (sharding) params.sharding = sharding;
    if (opts.swcDir) params.swcDir = path.resolve(opts.swcDir);
    const results = await runFinish<{ entries: SkeletonEntry[] }>(task, 'skeletonFinishBlock', params, dir, 4, opts);
    // summed in the order of the ids, as one loop over them would (the float sum is order-dependent)
    const entries = results.flatMap((r) => r.entries).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const e of entries) {
      summary.segments++;
      summary.vertices += e.vertices;
      summary.cable_length_nm += e.cable_length_nm;
    }
    summary.files = 1 + (sharding ? results.filter((r) => r.entries.length > 0).length : summary.segments);
    await flushFileSystem(dir); // the skeleton files were written without fsync
    return summary;
  });
  const layer = await PrecomputedLayer.open(layerDir);
  await layer.updateInfo({ skeletons: 'skeletons' });
  return summary;
}
