import * as path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { runTasks } from '../../scheduler/index.js';
import { planPyramid } from '../../stages/downsample/tasks.js';
import { emit } from '../output.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';
import { describeLayer } from '../layer-info.js';
import { addShardingOption, shardingChoice } from '../sharding-options.js';

export function register(program: Command): Command {
  const cmd = program
    .command('downsample')
    .description('add a multiscale pyramid to a layer (mean for images, mode for segmentations), blockwise; new scales are sharded as scale 0 is unless --sharded / --no-sharded says otherwise')
    .argument('<layer-dir>', 'the precomputed layer folder')
    .option('--levels <n>', 'number of scales above scale 0 (default: until the volume fits in one chunk)')
    .option('--json', 'machine-readable output');
  addShardingOption(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (layerDir: string, opts) => {
    const levels = opts.levels === undefined ? undefined : Number(opts.levels);
    if (levels !== undefined && !(Number.isInteger(levels) && levels >= 1)) {
      throw new UsageError(`--levels ${opts.levels}: expected a whole number >= 1`);
    }
    // new scales are sharded as asked, else when scale 0 is, else above the size rule's chunk count
    const scale0Sharded = !!(await PrecomputedLayer.open(layerDir)).info.scales[0].sharding;
    const tasks = await planPyramid(layerDir, { levels, sharding: shardingChoice({ sharded: opts.sharded ?? (scale0Sharded ? true : undefined) }) });
    if (tasks.length) await runTasks(tasks, schedulerOptions(opts, path.join(layerDir, '.wiring-run')));
    const result = { layer: layerDir, ...describeLayer(await PrecomputedLayer.open(layerDir)) };
    emit(opts, result, () => `${layerDir}: ${result.scales.length} scales (${result.scales.map((s) => s.key).join(', ')})`);
  });
}
