import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { parseId } from '../../core/ids.js';
import { Proofread } from '../../stages/proofread/io.js';
import { emit } from '../output.js';

export function register(program: Command): Command {
  return program
    .command('edits')
    .description('the edit log of a proofread dataset, filtered by cell (a root id and its lineage), user and time')
    .argument('<dataset>', 'dataset folder (with proofread/)')
    .option('--cell <id>', 'operations on this cell: that touched this root id, its past ids or the roots made from it')
    .option('--user <name>', 'operations by this user')
    .option('--since <time>', 'operations at or after this ISO-8601 time')
    .option('--until <time>', 'operations at or before this ISO-8601 time')
    .option('--json', 'machine-readable output')
    .action(async (dataset: string, opts) => {
      const time = (t: string | undefined, what: string): number | undefined => {
        if (t === undefined) return undefined;
        const v = Date.parse(t);
        if (Number.isNaN(v)) throw new UsageError(`${what} ${JSON.stringify(t)}: expected an ISO-8601 time`);
        return v;
      };
      const since = time(opts.since, '--since'), until = time(opts.until, '--until');
      const p = await Proofread.open(dataset);
      try {
        let recs = p.state.records;
        if (opts.cell !== undefined) {
          const lin = p.lineage();
          const id = parseId(opts.cell, '--cell');
          const ops = new Set(lin.cellOperations(id));
          recs = recs.filter((r) => ops.has(r.op));
        }
        if (opts.user !== undefined) recs = recs.filter((r) => r.user === opts.user);
        if (since !== undefined) recs = recs.filter((r) => Date.parse(r.time) >= since);
        if (until !== undefined) recs = recs.filter((r) => Date.parse(r.time) <= until);
        emit(opts, { operations: recs }, () => recs.map((r) => `${r.op}\t${r.time}\t${r.user}\t${r.kind}${r.target ? ` ${r.target}` : ''}\t${r.retired.join(',')} -> ${r.created.map((c) => c.id).join(',')}`).join('\n') || '(no operations)');
      } finally {
        await p.close();
      }
    });
}
