/**
 * Scheduler tasks for meshes and skeletons of a segmentation layer, and the merge steps that
 * turn per-block files into Neuroglancer meshes / skeletons in the layer's `mesh` and `skeletons`
 * folders (and set those keys in the layer's info).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Box, Vec3 } from '../../core/box.js';
import { WiringError } from '../../core/errors.js';
import { type Progress, silentProgress } from '../../core/progress.js';
import { replaceDirAtomic, writeFileAtomic } from '../../core/atomic.js';
import { encodeObj, encodePly } from '../../formats/mesh/plyobj.js';
import { writeLegacyInfo, writeLegacyMesh, writeMultiresInfo, writeMultiresMesh } from '../../formats/mesh/precomputed.js';
import { writeSkeleton, writeSkeletonInfo } from '../../formats/mesh/skeleton.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { writeSwc } from '../../formats/swc.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import {
  decodeMeshBlock,
  decodeSkeletonBlock,
  encodeMeshBlock,
  encodeSkeletonBlock,
  listBlockFiles,
  mergeSkeletons,
  meshBlock,
  skeletonBlock,
  skeletonSampleStep,
  writeBlockFile,
} from './blocks.js';
import { type Mesh, holeEdgesIndexed, mergeMeshes, meshVolume, openEdges } from './mesh.js';
import { buildMeshOctree, lodIndices } from './octree.js';
import { type Skeleton, TEASAR_DEFAULTS } from './skeleton.js';
import { skeletonStats } from './stats.js';

export interface MeshTaskParams {
  workDir: string;
  voxelSize: Vec3;
  bounds: Box;
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
  const items = meshBlock(vol, ctx.box, { voxelSize: ctx.params.voxelSize, bounds: ctx.params.bounds });
  await writeBlockFile(ctx.params.workDir, ctx.blockIndex, encodeMeshBlock(items));
  return { data: { segments: items.length } };
}

/** Block function: skeletons of every segment of the block, to a block file. */
export async function skeletonTaskBlock(ctx: BlockContext<SkeletonTaskParams>): Promise<BlockResult> {
  const vol = ctx.inputs.seg;
  if (!vol) throw new WiringError('skeleton block: no input "seg"');
  const p = ctx.params;
  const items = skeletonBlock(vol, ctx.box, { voxelSize: p.voxelSize, bounds: p.bounds, scale: p.scale, const: p.const, minVoxels: p.minVoxels, sampleStep: p.sampleStep });
  await writeBlockFile(p.workDir, ctx.blockIndex, encodeSkeletonBlock(items));
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
  return {
    name: 'mesh',
    module: import.meta.url,
    fn: 'meshTaskBlock',
    params: { workDir, voxelSize, bounds },
    inputs: { seg: layerDir },
    bounds,
    blockShape,
    margin: [1, 1, 1],
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
  const params: SkeletonTaskParams = { workDir, voxelSize, bounds };
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
async function currentBlockFiles(task: BlockTask<MeshTaskParams>): Promise<string[]> {
  const grid = [0, 1, 2].map((i) => Math.ceil((task.bounds.max[i] - task.bounds.min[i]) / task.blockShape[i]));
  return (await listBlockFiles(task.params.workDir)).filter((f) => {
    const ijk = path.basename(f, '.bin').split('_').map(Number);
    return ijk.every((v, i) => v < grid[i]);
  });
}

/** Defaults of the mesh output (the CLI help reads them). */
export const MESH_DEFAULTS = {
  /** Levels of detail of the multi-resolution format. */
  lods: 3,
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
   * Multires fragments store positions in 10 bits (Draco encodes them ~3.5x faster than 16 bits
   * and ~35 % smaller; phantom seed 7) while one quantization step of a lod-0 cell (cell / 1023)
   * is at most this many voxels of the finest axis, else 16 bits.
   */
  maxQuantizationStepVoxels: 0.125,
} as const;

/** Position bits of multires fragments for lod-0 cells of `chunkShape` nm (see MESH_DEFAULTS). */
export function multiresQuantizationBits(chunkShape: Vec3, finestVoxel: number): 10 | 16 {
  return chunkShape.every((c) => c / 1023 <= MESH_DEFAULTS.maxQuantizationStepVoxels * finestVoxel) ? 10 : 16;
}

export interface MeshOutputOptions {
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
  /** Also write <id>.ply / <id>.obj into these folders. */
  plyDir?: string;
  objDir?: string;
  progress?: Progress;
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
  segments_list: Array<{ id: bigint; triangles: number; volume_nm3: number; closed: boolean; lods: number; fragments: number }>;
}

/** Merge the block files of a finished mesh task and write the layer's `mesh` folder. */
export async function finishMeshes(layerDir: string, task: BlockTask<MeshTaskParams>, opts: MeshOutputOptions = {}): Promise<MeshSummary> {
  const format = opts.format ?? 'multires';
  const byId = new Map<bigint, Mesh[]>();
  for (const f of await currentBlockFiles(task)) {
    for (const it of decodeMeshBlock(new Uint8Array(await fs.readFile(f)), f)) {
      let a = byId.get(it.id);
      if (!a) byId.set(it.id, (a = []));
      a.push(it.mesh);
    }
  }
  const finalMeshDir = path.join(layerDir, 'mesh');
  // Built in a private staging folder and swapped in by rename: two runs finishing at once never
  // delete each other's files (they used to: ENOENT on a rename).
  const summary = await replaceDirAtomic(finalMeshDir, async (meshDir) => {
  if (format === 'legacy') await writeLegacyInfo(meshDir);
  const progress = opts.progress ?? silentProgress;
  progress.start(byId.size, 'writing meshes');
  const summary: MeshSummary = { layer: layerDir, mesh_dir: finalMeshDir, format, segments: 0, triangles: 0, bytes: 0, closed: 0, open: 0, segments_list: [] };
  const ids = [...byId.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const res = task.params.voxelSize;
  const lodScale0 = Math.min(...res);
  // Octree cells of whole voxels whose faces lie on voxel-centre planes (where marching-cubes
  // cubes meet), so no lod-0 triangle crosses a cell face. The lowest possible vertex is the
  // centre of the (virtual) background voxel before bounds.min, where the lattice starts.
  const fv = opts.fragmentVoxels ?? MESH_DEFAULTS.fragmentVoxels;
  if (!(Number.isInteger(fv) && fv >= 1)) throw new WiringError(`fragment size ${fv}: expected a whole number of voxels >= 1`);
  const e0 = opts.lod0ErrorVoxels ?? MESH_DEFAULTS.lod0ErrorVoxels;
  if (!(e0 >= 0 && e0 <= 4)) throw new WiringError(`lod-0 simplification error ${e0}: expected 0..4 voxels`);
  const cellVox = res.map((r) => Math.max(1, Math.round((fv * lodScale0) / r)));
  const chunkShape = cellVox.map((c, k) => c * res[k]) as unknown as Vec3;
  const lattice = task.params.bounds.min.map((m, k) => (m - 0.5) * res[k]);
  const bits = multiresQuantizationBits(chunkShape, lodScale0);
  if (format === 'multires') {
    summary.vertex_quantization_bits = bits;
    summary.fragment_shape_nm = chunkShape;
    await writeMultiresInfo(meshDir, bits);
  }
  for (const id of ids) {
    // one block's marching-cubes mesh is welded already (one vertex per crossed voxel edge)
    const parts = byId.get(id)!;
    const mesh = parts.length === 1 ? parts[0] : mergeMeshes(parts);
    byId.delete(id);
    let closed = false;
    let triangles = mesh.indices.length / 3;
    let lods = 1;
    let fragments = 1;
    if (format === 'legacy') {
      closed = openEdges(mesh) === 0;
      await writeLegacyMesh(meshDir, id, mesh);
      summary.bytes += 4 + mesh.vertices.byteLength + mesh.indices.byteLength;
    } else {
      // grid origin: the lattice cell at or below the mesh's lower corner
      const lo = [Infinity, Infinity, Infinity];
      for (let i = 0; i < mesh.vertices.length; i += 3) for (let k = 0; k < 3; k++) if (mesh.vertices[i + k] < lo[k]) lo[k] = mesh.vertices[i + k];
      const gridOrigin = [0, 1, 2].map((k) => lattice[k] + Math.max(0, Math.floor((lo[k] - lattice[k]) / chunkShape[k] + 1e-9)) * chunkShape[k]) as unknown as Vec3;
      const tree = await buildMeshOctree(mesh, { chunkShape, gridOrigin, lods: opts.lods ?? MESH_DEFAULTS.lods, lodScale0, lod0Error: e0 * lodScale0 });
      closed = holeEdgesIndexed(lodIndices(tree, 0), tree.vertices.length / 3) === 0;
      lods = tree.lods.length;
      triangles = tree.lods[0].reduce((n, f) => n + f.indices.length / 3, 0);
      const w = await writeMultiresMesh(meshDir, id, tree, { bits });
      summary.bytes += w.bytes;
      fragments = w.fragments;
    }
    if (opts.plyDir) await writeFileAtomic(path.join(opts.plyDir, `${id}.ply`), encodePly(mesh, `segment ${id}, nm`));
    if (opts.objDir) await writeFileAtomic(path.join(opts.objDir, `${id}.obj`), encodeObj(mesh, `segment ${id}, nm`));
    summary.segments++;
    summary.triangles += triangles;
    if (closed) summary.closed++;
    else summary.open++;
    summary.segments_list.push({ id, triangles, volume_nm3: meshVolume(mesh), closed, lods, fragments });
    progress.increment();
  }
  progress.stop();
  return summary;
  });
  const layer = await PrecomputedLayer.open(layerDir);
  await layer.updateInfo({ mesh: 'mesh' });
  return summary;
}

export interface SkeletonOutputOptions {
  swcDir?: string;
  progress?: Progress;
}

export interface SkeletonSummary {
  layer: string;
  skeleton_dir: string;
  segments: number;
  vertices: number;
  cable_length_nm: number;
}

/** Merge the block files of a finished skeleton task and write the layer's `skeletons` folder. */
export async function finishSkeletons(layerDir: string, task: BlockTask<SkeletonTaskParams>, opts: SkeletonOutputOptions = {}): Promise<SkeletonSummary> {
  const byId = new Map<bigint, Skeleton[]>();
  for (const f of await currentBlockFiles(task)) {
    for (const it of decodeSkeletonBlock(new Uint8Array(await fs.readFile(f)), f)) {
      let a = byId.get(it.id);
      if (!a) byId.set(it.id, (a = []));
      a.push(it.skel);
    }
  }
  const finalDir = path.join(layerDir, 'skeletons');
  // staged and swapped in by rename, as for meshes
  const summary = await replaceDirAtomic(finalDir, async (dir) => {
  await writeSkeletonInfo(dir);
  const progress = opts.progress ?? silentProgress;
  progress.start(byId.size, 'writing skeletons');
  const summary: SkeletonSummary = { layer: layerDir, skeleton_dir: finalDir, segments: 0, vertices: 0, cable_length_nm: 0 };
  const ids = [...byId.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const id of ids) {
    const parts = byId.get(id)!;
    const s = parts.length === 1 ? parts[0] : mergeSkeletons(parts);
    byId.delete(id);
    await writeSkeleton(dir, id, s);
    if (opts.swcDir) await writeSwc(path.join(opts.swcDir, `${id}.swc`), s, { comment: `segment ${id}; nm` });
    summary.segments++;
    summary.vertices += s.radius.length;
    summary.cable_length_nm += skeletonStats(s).cable_length_nm;
    progress.increment();
  }
  progress.stop();
  return summary;
  });
  const layer = await PrecomputedLayer.open(layerDir);
  await layer.updateInfo({ skeletons: 'skeletons' });
  return summary;
}
