import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { renderTable, parseFormat } from '../../connectome/format.js';
import {
  MATRIX_MEASURES,
  type SynapseQuery,
  cells,
  connections,
  connectionsTable,
  matrixTable,
  resolveCells,
  synapseQuery,
  synapsesTable,
  type Table,
  typeMatrix,
  typeMatrixByCompartment,
  type MatrixMeasure,
} from '../../connectome/query.js';
import type { ConnectomeStore } from '../../connectome/store.js';
import { organelleRows } from '../../connectome/annotate-tables.js';
import { withStore } from '../store.js';
import { addFilterOptions, filterFrom, list } from '../synapse-filters.js';

export { addFilterOptions, filterFrom }; // their old home: other commands import them from ../synapse-filters.js

const WHAT = ['synapses', 'inputs', 'outputs', 'connections', 'matrix', 'cells', 'organelles'] as const;

export async function runQuery(store: ConnectomeStore, what: string, args: string[], opts: Record<string, string | boolean | undefined>): Promise<{ table: Table; json: unknown }> {
  const f = filterFrom(opts);
  const limit = opts.limit !== undefined ? Number(opts.limit) : undefined;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) throw new UsageError(`--limit ${opts.limit} must be a whole number`);
  const ids = async (v: string | undefined) => (v === undefined ? undefined : resolveCells(store, list(v)!, f.version));
  switch (what) {
    case 'synapses': {
      const rows = await synapseQuery(store, { ...f, pre_ids: await ids(opts.pre as string), post_ids: await ids(opts.post as string), limit, extra: !!opts.extra });
      return { table: synapsesTable(rows), json: rows };
    }
    case 'inputs':
    case 'outputs': {
      if (args.length !== 1) throw new UsageError(`query ${what} takes one cell (id or name)`);
      const [id] = await resolveCells(store, args, f.version);
      const rows = await synapseQuery(store, what === 'inputs' ? { ...f, post_ids: [id], limit } : { ...f, pre_ids: [id], limit });
      return { table: synapsesTable(rows), json: rows };
    }
    case 'connections': {
      const rows = await connections(store, { ...f, pre_ids: await ids(opts.pre as string), post_ids: await ids(opts.post as string), limit });
      return { table: connectionsTable(rows), json: rows };
    }
    case 'matrix': {
      const measure = (opts.measure as string) ?? 'count';
      if (!(MATRIX_MEASURES as readonly string[]).includes(measure)) throw new UsageError(`--measure ${measure}: expected one of ${MATRIX_MEASURES.join(', ')}`);
      const o = { ...f, measure: measure as MatrixMeasure, untyped: opts.untyped as string | undefined, classificationSystem: opts.classificationSystem as string | undefined };
      if (opts.splitBy === 'compartment') {
        const m = await typeMatrixByCompartment(store, o);
        const rows: unknown[][] = [];
        let columns: string[] = ['compartment'];
        for (const [c, mm] of Object.entries(m)) {
          const t = matrixTable(mm);
          columns = ['compartment', ...t.columns];
          for (const r of t.rows) rows.push([c, ...r]);
        }
        return { table: { columns, rows }, json: m };
      }
      if (opts.splitBy !== undefined) throw new UsageError(`--split-by ${opts.splitBy}: expected compartment`);
      const m = await typeMatrix(store, o);
      return { table: matrixTable(m), json: m };
    }
    case 'cells': {
      const rows = await cells(store, { version: f.version, ids: args.length ? await resolveCells(store, args, f.version) : undefined, cellType: opts.cellType as string | undefined });
      const sliced = limit !== undefined ? rows.slice(0, limit) : rows;
      return {
        table: {
          columns: ['pt_root_id', 'name', 'cell_type', 'classification_system', 'pt_position', 'volume'],
          rows: sliced.map((c) => [c.pt_root_id, c.name, c.cell_type, c.classification_system, c.pt_position ? `[${c.pt_position.join(' ')}]` : null, c.volume]),
        },
        json: sliced,
      };
    }
    case 'organelles': {
      // per-cell organelle and synapse densities written by `wiring annotate`
      const rows = await organelleRows(store, args.length ? await resolveCells(store, args, f.version) : []);
      const sliced = limit !== undefined ? rows.slice(0, limit) : rows;
      return { table: { columns: sliced.length ? Object.keys(sliced[0]) : ['pt_root_id'], rows: sliced.map((r) => Object.values(r)) }, json: sliced };
    }
    default:
      throw new UsageError(`query ${JSON.stringify(what)}: expected one of ${WHAT.join(', ')}`);
  }
}

export function register(program: Command): Command {
  const cmd = program
    .command('query')
    .description('query a connectome database: synapses (synapse_query), inputs/outputs of a cell, connections, type matrices, cells')
    .argument('<db>', 'database file')
    .argument('<what>', WHAT.join(' | '))
    .argument('[args...]', 'inputs/outputs: a cell id or name; cells, organelles: ids or names')
    .option('--pre <ids>', 'presynaptic cells (ids or names, comma-separated)')
    .option('--post <ids>', 'postsynaptic cells (with --pre: both must hold)')
    .option('--measure <m>', 'matrix: count | binary | size | probability (connected pairs / cell pairs) | per_pre_cell (synapses per presynaptic cell) | output_fraction (rows sum to 1) | input_fraction (columns sum to 1)', 'count')
    .option('--split-by <what>', 'matrix: compartment (one matrix per target compartment)')
    .option('--untyped <label>', 'matrix: group cells without a type under this label (default: leave them out)')
    .option('--classification-system <s>', 'matrix: only cell types of this classification system')
    .option('--cell-type <t>', 'cells: only this type')
    .option('--extra', 'synapses: add the columns an import kept beside the table (e.g. spine_vol_um3)')
    .option('--limit <n>', 'at most n rows')
    .option('--format <f>', 'table | csv | json', 'table')
    .option('--json', 'same as --format json');
  addFilterOptions(cmd);
  cmd.action(async (db: string, what: string, args: string[], opts) => {
    const format = opts.json ? 'json' : parseFormat(opts.format);
    const out = await withStore(db, (s) => runQuery(s, what, args, opts));
    if (format === 'json') process.stdout.write(JSON.stringify(out.json, (_k, v) => (typeof v === 'bigint' ? v.toString(10) : v), 2) + '\n');
    else process.stdout.write(renderTable(out.table, format) + '\n');
  });
  return cmd;
}
