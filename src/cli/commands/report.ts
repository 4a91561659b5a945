import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../core/atomic.js';
import { UsageError } from '../../core/errors.js';
import { REPORT_SETS, buildReport, reportHtml } from '../../connectome/report.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { emit } from '../output.js';

export function register(program: Command): Command {
  return program
    .command('report')
    .description(`run a named set of analyses on a database and write one HTML page with its tables and figures (sets: ${REPORT_SETS.join(', ')})`)
    .argument('<db>', 'database file')
    .argument('<out.html>', 'the page to write')
    .option('--set <names>', `comma-separated analysis sets (${REPORT_SETS.join(', ')})`, 'course')
    .option('--coregistration <name>', 'function: coregistration table (default: the one of that kind)')
    .option('--tuning <name>', 'function: tuning table (default: the one of that kind)')
    .option('--correlations <name>', 'function: correlations table (default: the one of that kind)')
    .option('--bootstrap <n>', 'bootstrap resamples', '500')
    .option('--exclude-self', 'leave out self-synapses')
    .option('--exclude-unassigned', 'leave out synapses with an unknown partner')
    .option('--json', 'machine-readable output on stdout')
    .action(async (db: string, out: string, o) => {
      if (!existsSync(db)) throw new UsageError('database file not found', db);
      const b = Number(o.bootstrap);
      if (!(Number.isInteger(b) && b >= 0)) throw new UsageError(`--bootstrap ${o.bootstrap}: expected a whole number >= 0`);
      const store = await ConnectomeStore.open(db, { readOnly: true });
      try {
        const r = await buildReport(store, String(o.set).split(',').map((s) => s.trim()), {
          coregistration: o.coregistration,
          tuning: o.tuning,
          correlations: o.correlations,
          bootstrap: b,
          excludeSelf: !!o.excludeSelf,
          excludeUnassigned: !!o.excludeUnassigned,
        });
        await writeFileAtomic(out, reportHtml(r));
        const summary = { out, sections: r.sections.map((s) => ({ title: s.title, ok: !s.error, error: s.error })) };
        emit(o, summary, () => [`${out}: ${r.sections.length} sections`, ...r.sections.filter((s) => s.error).map((s) => `  not run: ${s.title}: ${s.error}`)].join('\n'));
      } finally {
        await store.close();
      }
    });
}
