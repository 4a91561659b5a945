import * as path from 'node:path';
import type { Command } from 'commander';
import { type Vec3, boxFromShape } from '../../core/box.js';
import { openSource } from '../../formats/open.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { runTasks } from '../../scheduler/index.js';
import { CLASS_NAMES } from '../../stages/classes/classes.js';
import { classesTask } from '../../stages/classes/tasks.js';
import { emit } from '../output.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';
import { addShardingOption, shardingFor } from '../sharding-options.js';

export function register(program: Command): Command {
  const cmd = program
    .command('classes')
    .description(`semantic training labels from instance ground truth (uint8: ${CLASS_NAMES.map((n, i) => `${i} ${n}`).join(', ')}), for wiring train-pixels --labels`)
    .argument('<out-layer>', 'output precomputed layer folder')
    .requiredOption('--neurons <source>', 'cell ids (0 = extracellular)')
    .option('--clefts <source>', 'synaptic cleft ids')
    .option('--vesicles <source>', 'vesicle-cloud ids')
    .option('--mitochondria <source>', 'mitochondrion ids')
    .option('--overwrite', 'replace an existing layer')
    .option('--json', 'machine-readable output');
  addShardingOption(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (out: string, opts) => {
    const neurons = await openSource(opts.neurons);
    await neurons.close();
    const chunk: Vec3 = [64, 64, 64].map((c, i) => Math.min(c, neurons.shape[i])) as unknown as Vec3;
    // a sharded layer is written in larger blocks (4x4x2 chunks) whose shards each block writes once
    const shardedBlock: Vec3 = [chunk[0] * 4, chunk[1] * 4, chunk[2] * 2];
    const sharding = shardingFor(opts, neurons.shape, chunk, 'image', shardedBlock);
    const block: Vec3 = sharding ? shardedBlock : [chunk[0] * 2, chunk[1] * 2, chunk[2]];
    await PrecomputedLayer.create(
      out,
      makeInfo({ type: 'segmentation', dtype: 'uint8', shape: neurons.shape, voxelSize: neurons.voxelSize, offset: neurons.offset, chunkSize: chunk, encoding: 'raw', sharding }),
      // raw uint8 chunks: gzipped as files, or inside the shards
      { overwrite: !!opts.overwrite, gzip: !sharding, writing: 'classes' },
    );
    const bounds = boxFromShape(neurons.shape, neurons.offset);
    const task = classesTask(
      { neurons: opts.neurons, clefts: opts.clefts, vesicles: opts.vesicles, mitochondria: opts.mitochondria },
      out,
      bounds,
      block,
    );
    await runTasks([task], schedulerOptions(opts, path.join(out, '.wiring-run')));
    emit(opts, { layer: out, classes: CLASS_NAMES, size: neurons.shape }, () => `class labels -> ${out} (${CLASS_NAMES.slice(1).join(', ')})`);
  });
}
