import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { parseId } from '../../core/ids.js';
import { Proofread } from '../../stages/proofread/io.js';
import { emit } from '../output.js';

export function register(program: Command): Command {
  return program
    .command('lineage')
    .description('the history of a root id: its latest roots, past ids, the operations that touched it, created/retired times and the lineage graph around it')
    .argument('<dataset>', 'dataset folder (with proofread/)')
    .argument('<id>', 'root id')
    .option('--steps <n>', 'lineage graph: operations to follow each way', '3')
    .option('--json', 'machine-readable output')
    .action(async (dataset: string, idText: string, opts) => {
      const steps = Number(opts.steps);
      if (!Number.isInteger(steps) || steps < 0) throw new UsageError(`--steps ${opts.steps}: expected a whole number`);
      const id = parseId(idText, '<id>');
      const p = await Proofread.open(dataset);
      try {
        const lin = p.lineage();
        const out = { ...lin.info(id), latest: lin.latest(id), past: lin.past(id), operations: lin.operations(id), graph: lin.graph(id, steps) };
        emit(opts, out, () =>
          [
            `root ${out.id}: created by ${out.created_by ? `op ${out.created_by}` : 'the starting state'}${out.created_at ? ` at ${out.created_at}` : ''}${out.retired_by ? `, retired by op ${out.retired_by} at ${out.retired_at}` : ', current'}`,
            `latest: ${out.latest.join(' ')}`,
            `past: ${out.past.join(' ') || '-'}`,
            `operations: ${out.operations.join(' ') || '-'}`,
          ].join('\n'),
        );
      } finally {
        await p.close();
      }
    });
}
