import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { addBlockOption, blockOption } from '../xyz.js';
import { createProgress } from '../../core/progress.js';
import { UsageError } from '../../core/errors.js';
import { runTasks } from '../../scheduler/index.js';
import { isDownsampleFactor } from '../../stages/morphology/coarse-mesh.js';
import { MESH_DEFAULTS, finishMeshes, planMesh } from '../../stages/morphology/tasks.js';
import { emit } from '../output.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';

export function register(program: Command): Command {
  const cmd = program
    .command('mesh')
    .description("marching-cubes meshes of every segment of a segmentation layer, blockwise, into the layer's mesh folder (Neuroglancer multi-resolution Draco, or legacy)")
    .argument('<segmentation-layer>', 'precomputed segmentation layer folder')
    .option('--format <f>', 'multires (Draco, levels of detail) or legacy (single resolution)', 'multires')
    .option('--lods <n>', 'levels of detail for multires (each ~1/4 of the triangles of the previous)', String(MESH_DEFAULTS.lods))
    .option('--fragment-size <voxels>', 'multires: lod-0 fragment (octree cell) size in voxels of the finest axis', String(MESH_DEFAULTS.fragmentVoxels))
    .option('--min-lod-triangles <n>', 'multires: build a coarser level of detail only while the previous one holds at least this many triangles (smaller segments keep fewer levels; 0: every segment gets --lods levels as far as the octree allows)', String(MESH_DEFAULTS.minCoarseLodTriangles))
    .option('--lod0-error <voxels>', 'multires: simplify lod 0 moving the surface by at most this many voxels of the finest axis (0: exact marching cubes)', String(MESH_DEFAULTS.lod0ErrorVoxels))
    .option('--merge-flat', `merge flat marching-cubes quads between sections into larger triangles before simplifying (the same surface, ~10 % fewer triangles on 8x8x30 nm; ${MESH_DEFAULTS.mergeFlat ? 'on' : 'off'} by default: measured no faster, docs/THROUGHPUT.md)`, MESH_DEFAULTS.mergeFlat)
    .option('--downsample <n>', 'mesh the labels mode-downsampled by up to n per axis (a power of two; only axes at most half as long as the longest, e.g. 8x8x30 nm -> 16x16x30 with 2; thin parts it loses and cavities it fills are meshed at full resolution, vertices placed at the full-resolution boundary; isotropic volumes are never downsampled; 1 = full resolution, the exact marching-cubes path)', String(MESH_DEFAULTS.maxDownsample))
    .option('--full-res-below <voxels>', 'with --downsample: segments with fewer voxels than this in total are meshed at full resolution (0: every segment coarse)', String(MESH_DEFAULTS.smallSegmentVoxels))
    .option('--no-partial-volume', `with --downsample: keep the coarse vertices on the coarse voxel faces instead of moving them to each segment's full-resolution boundary along their edge (${MESH_DEFAULTS.partialVolume ? 'moved' : 'kept'} by default)`)
    .option('--ply <dir>', 'also write <id>.ply (binary, nm) into this folder')
    .option('--obj <dir>', 'also write <id>.obj (nm) into this folder')
    .option('--sharded', `multires: write the mesh folder sharded (neuroglancer_uint64_sharded_v1: one <shard>.shard file per shard of the ids, a segment's manifest and fragment data in it, instead of two files per segment); the default above ${MESH_DEFAULTS.shardedAboveSegments.toLocaleString('en')} segments (counted once per block they touch)`)
    .option('--no-sharded', 'multires: two files per segment (<id>.index and <id>), however many segments')
    .option('--json', 'machine-readable output');
  addBlockOption(cmd, 'block shape in voxels (default: whole volume, at most 256 per axis)');
  addSchedulerOptions(cmd);
  return cmd.action(async (layerDir: string, opts) => {
    const format = String(opts.format);
    if (format !== 'multires' && format !== 'legacy') throw new UsageError(`--format ${format}: expected multires or legacy`);
    const lods = Number(opts.lods);
    if (!Number.isInteger(lods) || lods < 1 || lods > 8) throw new UsageError(`--lods ${opts.lods}: expected a whole number 1..8`);
    const fragmentVoxels = Number(opts.fragmentSize);
    if (!Number.isInteger(fragmentVoxels) || fragmentVoxels < 1) throw new UsageError(`--fragment-size ${opts.fragmentSize}: expected a whole number of voxels >= 1`);
    const lod0ErrorVoxels = Number(opts.lod0Error);
    if (!(Number.isFinite(lod0ErrorVoxels) && lod0ErrorVoxels >= 0 && lod0ErrorVoxels <= 4)) throw new UsageError(`--lod0-error ${opts.lod0Error}: expected a number of voxels 0..4`);
    const minCoarseLodTriangles = Number(opts.minLodTriangles);
    if (!Number.isInteger(minCoarseLodTriangles) || minCoarseLodTriangles < 0) throw new UsageError(`--min-lod-triangles ${opts.minLodTriangles}: expected a whole number of triangles >= 0`);
    const maxDownsample = Number(opts.downsample);
    if (!isDownsampleFactor(maxDownsample)) {
      throw new UsageError(`--downsample ${opts.downsample}: expected a power of two 1..16`);
    }
    const smallSegmentVoxels = Number(opts.fullResBelow);
    if (!(Number.isFinite(smallSegmentVoxels) && smallSegmentVoxels >= 0)) throw new UsageError(`--full-res-below ${opts.fullResBelow}: expected a number of voxels >= 0`);
    const blockShape = blockOption(opts);
    const task = await planMesh(layerDir, { blockShape, fragmentVoxels, mergeFlat: Boolean(opts.mergeFlat), maxDownsample, smallSegmentVoxels, partialVolume: opts.partialVolume !== false });
    const { stateDir, ...run } = schedulerOptions(opts, path.join(layerDir, '.wiring-run'));
    await runTasks([task], { ...run, stateDir });
    for (const d of [opts.ply, opts.obj]) if (d) await fs.mkdir(d, { recursive: true });
    const summary = await finishMeshes(layerDir, task, {
      format,
      lods,
      fragmentVoxels,
      lod0ErrorVoxels,
      minCoarseLodTriangles,
      plyDir: opts.ply,
      objDir: opts.obj,
      sharded: opts.sharded as boolean | undefined,
      progress: createProgress({ json: opts.json }),
      run,
    });
    emit(opts, summary, () => `${summary.segments} meshes (${summary.triangles} triangles, ${summary.closed} closed, ${summary.open} not closed; surfaces are capped at the volume border) -> ${summary.mesh_dir} [${summary.format}${summary.sharding ? ', sharded' : ''}, ${summary.files} files]`);
  });
}
