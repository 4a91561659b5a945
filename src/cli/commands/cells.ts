import * as path from 'node:path';
import type { Command } from 'commander';
import { parseXyz } from '../xyz.js';
import { type Vec3, boxFromShape } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { openSource } from '../../formats/open.js';
import { readBlockData, runTasks } from '../../scheduler/index.js';
import { type CellStats, mergeCellStats } from '../../stages/cells/cells.js';
import { CELLS_BLOCK, cellsTask } from '../../stages/cells/tasks.js';
import { emit } from '../output.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';

export function register(program: Command): Command {
  const cmd = program
    .command('cells')
    .description('the cells table of a segmentation: one row per segment with its volume (nm^3) and an anchor point deep inside it (pt_position, nm)')
    .argument('<segmentation>', 'segmentation (any readable label volume)')
    .argument('<db>', 'connectome database (created if missing)')
    .option('--depth <nm>', 'anchors are compared by their distance to the surface up to this depth (also the block margin)', '400')
    .option('--block <x,y,z>', 'block shape in voxels', CELLS_BLOCK.join(','))
    .option('--min-voxels <n>', 'leave out segments smaller than this', '1')
    .option('--replace', 'replace the cells table if it has rows')
    .option('--json', 'machine-readable output');
  addSchedulerOptions(cmd);
  return cmd.action(async (segmentation: string, db: string, opts) => {
    const clipNm = Number(opts.depth);
    if (!(clipNm > 0)) throw new UsageError(`--depth ${opts.depth}: expected a positive number of nm`);
    const minVoxels = Number(opts.minVoxels);
    const src = await openSource(segmentation);
    await src.close();
    const bounds = boxFromShape(src.shape, src.offset);
    const block = parseXyz(opts.block, '--block', 'size');
    const stateDir = path.join(path.dirname(path.resolve(db)), `.${path.basename(db)}.cells-state`);
    await runTasks([cellsTask(path.resolve(segmentation), bounds, src.voxelSize, clipNm, block)], schedulerOptions(opts, stateDir));
    const records = await readBlockData(stateDir, 'cells');
    const cells = mergeCellStats(
      records.map((r) =>
        (r.data as Array<[bigint, number, number, number]>).map(([id, voxels, depth, order]) => ({ id, voxels, depth, order, anchor: [0, 0, 0] as Vec3 })),
      ),
    ).filter((c) => c.voxels >= minVoxels);
    const [X, Y] = src.shape;
    const vs = src.voxelSize;
    const anchorNm = (c: CellStats): Vec3 => {
      const x = src.offset[0] + (c.order % X);
      const y = src.offset[1] + (Math.floor(c.order / X) % Y);
      const z = src.offset[2] + Math.floor(c.order / (X * Y));
      return [(x + 0.5) * vs[0], (y + 0.5) * vs[1], (z + 0.5) * vs[2]];
    };
    const store = await ConnectomeStore.open(db);
    try {
      if ((await store.count('cells')) > 0) {
        if (!opts.replace) throw new UsageError(`${db} already has a cells table; pass --replace to rebuild it`);
        await store.run('DELETE FROM cells');
      }
      await store.insertCells(cells.map((c) => ({ id: c.id, pt_position: anchorNm(c), volume: c.voxels * vs[0] * vs[1] * vs[2] })));
    } finally {
      await store.close();
    }
    emit(opts, { db, segmentation, cells: cells.length }, () => `${cells.length} cells from ${segmentation} -> ${db}`);
  });
}
