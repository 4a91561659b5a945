import * as path from 'node:path';
import { addBlockOption, blockOption } from '../xyz.js';
import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { createProgress } from '../../core/progress.js';
import { runTasks } from '../../scheduler/index.js';
import { TEASAR_DEFAULTS } from '../../stages/morphology/skeleton.js';
import { MESH_DEFAULTS, finishSkeletons, planSkeletons } from '../../stages/morphology/tasks.js';
import { emit } from '../output.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';

function num(v: unknown, what: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`${what} ${v}: expected a number >= ${min}`);
  return n;
}

export function register(program: Command): Command {
  const cmd = program
    .command('skeletonize')
    .description("TEASAR skeletons (with radius) of every segment of a segmentation layer, blockwise, into the layer's skeletons folder (Neuroglancer precomputed)")
    .argument('<segmentation-layer>', 'precomputed segmentation layer folder')
    .option('--scale <s>', `invalidation radius = scale * distance-to-boundary + const (default ${TEASAR_DEFAULTS.scale})`)
    .option('--const <nm>', `invalidation radius constant in nm (default ${TEASAR_DEFAULTS.constVoxels} x the largest voxel size)`)
    .option('--min-voxels <n>', `skip connected pieces smaller than this (default ${TEASAR_DEFAULTS.minVoxels})`)
    .option('--sample-step <n>', `largest sample step: anisotropic volumes are skeletonized on every 2nd, 4th, ... voxel (at most every n-th) of each axis while the step stays within the longest voxel side (default ${TEASAR_DEFAULTS.maxSampleStep}; 1 = the full grid)`)
    .option('--swc <dir>', 'also write <id>.swc (nm) into this folder')
    .option('--sharded', `write the skeleton folder sharded (neuroglancer_uint64_sharded_v1: one <shard>.shard file per shard of the ids instead of one file per segment); the default above ${MESH_DEFAULTS.shardedAboveSegments.toLocaleString('en')} segments (counted once per block they touch)`)
    .option('--no-sharded', 'one file per segment, however many segments')
    .option('--json', 'machine-readable output');
  addBlockOption(cmd, 'block shape in voxels (default: whole volume, at most 128 per axis)');
  addSchedulerOptions(cmd);
  return cmd.action(async (layerDir: string, opts) => {
    const blockShape = blockOption(opts);
    const task = await planSkeletons(layerDir, {
      blockShape,
      scale: num(opts.scale, '--scale'),
      const: num(opts.const, '--const'),
      minVoxels: num(opts.minVoxels, '--min-voxels', 1),
      maxSampleStep: num(opts.sampleStep, '--sample-step', 1),
    });
    const { stateDir, ...run } = schedulerOptions(opts, path.join(layerDir, '.wiring-run'));
    await runTasks([task], { ...run, stateDir });
    if (opts.swc) await fs.mkdir(opts.swc, { recursive: true });
    const summary = await finishSkeletons(layerDir, task, { swcDir: opts.swc, sharded: opts.sharded as boolean | undefined, progress: createProgress({ json: opts.json }), run });
    emit(opts, summary, () => `${summary.segments} skeletons (${summary.vertices} vertices, ${(summary.cable_length_nm / 1000).toFixed(1)} um of cable) -> ${summary.skeleton_dir} [${summary.sharding ? 'sharded, ' : ''}${summary.files} files]`);
  });
}
