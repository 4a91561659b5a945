import { existsSync, promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { parseXyz } from '../xyz.js';
import { UsageError } from '../../core/errors.js';
import { exportAll, importCave, importEdges, importSwc, importTables, parseColumnMap, type ImportReport } from '../../connectome/import.js';
import { ConnectomeStore, TABLE_NAMES, parseTableName } from '../../connectome/store.js';
import { emit } from '../output.js';
import { withStore } from '../store.js';

export { withStore }; // its old home: other commands import it from ../store.js

/** Open a store for an import: a database created here is removed again if the import fails. */
async function withNewOrExisting<T>(db: string, fn: (s: ConnectomeStore) => Promise<T>): Promise<T> {
  const existed = existsSync(db);
  const store = await ConnectomeStore.open(db);
  try {
    return await fn(store);
  } catch (err) {
    await store.close();
    if (!existed) {
      await fs.rm(db, { force: true });
      await fs.rm(`${db}.wal`, { force: true });
    }
    throw err;
  } finally {
    await store.close().catch(() => {});
  }
}

function parseIntOpt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${what}: ${JSON.stringify(v)} must be a whole number`);
  return Number(v);
}

function reportText(reports: ImportReport[]): string {
  return reports
    .map((r) => {
      const extra: string[] = [];
      if (r.updated) extra.push(`${r.updated} merged`);
      if (r.cells) extra.push(`${r.cells} new cells`);
      for (const [k, v] of Object.entries(r.skipped ?? {})) extra.push(`${v} skipped (${k})`);
      if (r.ignoredColumns?.length) extra.push(`ignored columns: ${r.ignoredColumns.join(', ')}`);
      if (r.extraColumns?.length) extra.push(`extra columns kept in ${r.table}_extra: ${r.extraColumns.join(', ')}`);
      return `${r.file}: ${r.inserted} rows -> ${r.table}${extra.length ? ` (${extra.join('; ')})` : ''}`;
    })
    .join('\n');
}

export function register(program: Command): Command {
  const cmd = program.command('connectome').description('the connectome database (DuckDB, one file per dataset): import, export, versions');

  cmd
    .command('import')
    .description(
      'import tables into a database (created if missing): cave dumps, edge lists, swc skeletons + synapse CSVs, or parquet/csv files written by export. ' +
        'cave: <table>_merged.csv.gz (its _merged_header.csv is found beside it; listing it too is fine), header-row CSV (gzip, BOM, CRLF, quotes) or Parquet; ' +
        'rows with valid=f are skipped, synapses with root id 0 (unassigned partner) and self-synapses are kept (queries drop them with --exclude-unassigned / --exclude-self), ' +
        'cell and proofreading rows with pt_root_id 0 are skipped; every skip is reported. A bad row is an error naming file, line and column, and nothing is imported.',
    )
    .argument('<kind>', 'cave | edges | swc | tables')
    .argument('<paths...>', 'input files, then the database file')
    .option('--resolution <x,y,z>', 'nm per voxel/unit of input positions (CAVE MICrONS: 4,4,40; hemibrain SWC: 8,8,8)', '1,1,1')
    .option('--table <name>', `target table for cave (${TABLE_NAMES.join(', ')}); default from the columns`)
    .option('--map <target=source,...>', 'cave: column mapping for tables published with other names (source*factor sets a unit factor, e.g. ctr_pt_position_x=ctr_pt_x_nm*1); saved in the database')
    .option('--volume-scale <k>', 'multiply a cell table volume column by k (um^3 -> nm^3: 1e9)')
    .option('--weight <meaning>', 'edges: weight is a synapse count (count) or a size (size)', 'count')
    .option('--meta <file>', 'swc: JSON of body id -> {type, instance, status}')
    .option('--json', 'machine-readable output')
    .action(async (kind: string, paths: string[], opts) => {
      if (paths.length < 2) throw new UsageError('expected one or more input files followed by the database file');
      const db = paths[paths.length - 1];
      const files = paths.slice(0, -1);
      for (const f of files) if (!existsSync(f)) throw new UsageError('input file not found', f);
      const resolution = parseXyz(opts.resolution, '--resolution', 'nm');
      const reports = await withNewOrExisting(db, async (store) => {
        switch (kind) {
          case 'cave': {
            const vs = opts.volumeScale !== undefined ? Number(opts.volumeScale) : undefined;
            if (vs !== undefined && !(vs > 0)) throw new UsageError(`--volume-scale ${opts.volumeScale} must be a positive number`);
            return importCave(store, files, { resolution, table: opts.table ? parseTableName(opts.table) : undefined, volumeScale: vs, map: opts.map ? parseColumnMap(opts.map) : undefined });
          }
          case 'edges':
            if (opts.weight !== 'count' && opts.weight !== 'size') throw new UsageError(`--weight ${opts.weight}: expected count or size`);
            return importEdges(store, files, { weight: opts.weight });
          case 'swc':
            return importSwc(store, files, { resolution, meta: opts.meta });
          case 'tables':
          case 'parquet':
          case 'csv':
            return importTables(store, files);
          default:
            throw new UsageError(`import kind ${JSON.stringify(kind)}: expected cave, edges, swc or tables`);
        }
      });
      emit(opts, { database: db, imports: reports }, () => reportText(reports));
    });

  cmd
    .command('export')
    .description('write every table (live, or a materialized --version) as <dir>/<table>.parquet or .csv')
    .argument('<db>', 'database file')
    .argument('<dir>', 'output folder')
    .option('--format <f>', 'parquet | csv', 'parquet')
    .option('--version <n>', 'a materialized version')
    .option('--json', 'machine-readable output')
    .action(async (db: string, dir: string, opts) => {
      if (opts.format !== 'parquet' && opts.format !== 'csv') throw new UsageError(`--format ${opts.format}: expected parquet or csv`);
      const files = await withStore(db, (s) => exportAll(s, dir, opts.format, parseIntOpt(opts.version, '--version')));
      emit(opts, { database: db, files }, () => files.join('\n'));
    });

  cmd
    .command('materialize')
    .description('snapshot the live tables as an immutable version')
    .argument('<db>', 'database file')
    .option('--version <n>', 'version number (default: next); an existing number is an error')
    .option('--description <text>', 'what this version is', '')
    .option('--at <op|time>', 'instead: the cells, synapses and proofreading statuses as of a proofreading operation id or time, as tables cells_op<N>, synapses_op<N> and proofreading_op<N>')
    .option('--proofread <dataset>', 'with --at: the dataset holding proofread/ (default the database\'s folder)')
    .option('--json', 'machine-readable output')
    .action(async (db: string, opts) => {
      if (opts.at !== undefined) {
        const { materializeAt } = await import('../proofread-materialize.js');
        const r = await withStore(db, (s) => materializeAt(s, db, String(opts.at), opts.proofread), true);
        emit(opts, r, () => [`as of op ${r.op}: ${r.tables.cells} (${r.cells} rows), ${r.tables.synapses} (${r.synapses} rows), ${r.tables.proofreading} (${r.statuses} statuses)`, ...r.annotations.map((a) => `  ${a.table}: ${a.rows} rows, ${a.changed} with a new root id`)].join('\n'));
        return;
      }
      const v = await withStore(db, (s) => s.materialize(parseIntOpt(opts.version, '--version'), opts.description), true);
      emit(opts, v, () => `version ${v.version}: ${Object.entries(v.counts).map(([k, n]) => `${n} ${k}`).join(', ')}`);
    });

  cmd
    .command('info')
    .description('row counts of every table, and the materialized versions')
    .argument('<db>', 'database file')
    .option('--json', 'machine-readable output')
    .action(async (db: string, opts) => {
      const out = await withStore(db, async (s) => {
        const counts: Record<string, number> = {};
        for (const t of TABLE_NAMES) counts[t] = await s.count(t);
        return { database: db, counts, versions: await s.versions() };
      });
      emit(opts, out, () =>
        [
          ...Object.entries(out.counts).map(([k, n]) => `${k.padEnd(17)} ${n}`),
          ...out.versions.map((v) => `version ${v.version} (${v.created_at}) ${v.description}: ${Object.entries(v.counts).map(([k, n]) => `${n} ${k}`).join(', ')}`),
        ].join('\n'),
      );
    });

  return cmd;
}
