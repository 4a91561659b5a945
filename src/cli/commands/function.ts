import type { Command } from 'commander';
import { parseXyz } from '../xyz.js';
import { UsageError } from '../../core/errors.js';
import { renderTable } from '../../connectome/format.js';
import { FUNCTION_DEFAULTS, featureVsFunction, likeToLike, targetFunction } from '../../connectome/function/structure-function.js';
import { SYNTH_DEFAULTS, synthesizeFunctionalTables } from '../../connectome/function/synthetic.js';
import { ANNOTATION_KINDS, type AnnotationImportReport, type AnnotationKind, importAnnotationTable, listAnnotationTables } from '../../connectome/function/tables.js';
import { barChart, lineChart, stack, writePlot } from '../../connectome/plots.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { emit } from '../output.js';
import { withStore } from '../store.js';

function num(v: string | undefined, what: string, min = -Infinity, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new UsageError(`${what} ${JSON.stringify(v)}: expected a ${integer ? 'whole ' : ''}number${min > -Infinity ? ` >= ${min}` : ''}`);
  return n;
}

function parseRename(v: string | undefined): Record<string, string> | undefined {
  if (!v) return undefined;
  const out: Record<string, string> = {};
  for (const part of v.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*([^=\s]+)\s*$/.exec(part);
    if (!m) throw new UsageError(`--rename ${JSON.stringify(part)}: expected file_column=stored_column`);
    out[m[1]] = m[2];
  }
  return out;
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : 'nan');

export function register(program: Command): Command {
  const cmd = program
    .command('function')
    .description('functional tables (coregistration, tuning, correlations, any CAVE annotation table) and structure–function analyses');

  cmd
    .command('import <db> <files...>')
    .description(`import annotation tables kept whole (every column; kinds: ${ANNOTATION_KINDS.join(', ')}; detected from the columns)`)
    .option('--kind <kind>', 'table kind (default: detected)')
    .option('--name <name>', 'table name (default: the file name); stored as annotation_<name>')
    .option('--resolution <x,y,z>', 'nm per voxel of position columns (default 1,1,1: already nm)')
    .option('--rename <a=b,...>', 'rename file columns on the way in (e.g. root=pt_root_id,scan=scan_idx)')
    .option('--replace', 'replace a table of the same name')
    .option('--json', 'machine-readable output on stdout')
    .action(async (db: string, files: string[], o) => {
      if (o.kind && !ANNOTATION_KINDS.includes(o.kind)) throw new UsageError(`--kind ${o.kind}: expected one of ${ANNOTATION_KINDS.join(', ')}`);
      if (o.name && files.length > 1) throw new UsageError('--name names one table: give one file');
      const store = await ConnectomeStore.open(db);
      try {
        const reports: AnnotationImportReport[] = [];
        for (const f of files)
          reports.push(
            await importAnnotationTable(store, f, {
              kind: o.kind as AnnotationKind | undefined,
              name: o.name,
              resolution: o.resolution ? parseXyz(o.resolution, '--resolution', 'nm') : undefined,
              rename: parseRename(o.rename),
              replace: !!o.replace,
            }),
          );
        emit(o, reports, () =>
          reports
            .map((r) => {
              const notes = [`${r.rows} rows`, `kind ${r.kind}`];
              for (const [k, v] of Object.entries(r.skipped)) notes.push(`${v} skipped (${k})`);
              if (r.extra.length) notes.push(`extra columns kept: ${r.extra.join(', ')}`);
              if (r.duplicate_keys) notes.push(`${r.duplicate_keys} repeated keys`);
              if (r.cells_with_several_units) notes.push(`${r.cells_with_several_units} cells matched to several units`);
              if (r.unknown_cells) notes.push(`${r.unknown_cells} rows whose pt_root_id is not a cell of the store`);
              return `${r.file} -> ${r.table}: ${notes.join('; ')}`;
            })
            .join('\n'),
        );
      } finally {
        await store.close();
      }
    });

  cmd
    .command('tables <db>')
    .description('list the annotation tables with their kind, rows and columns')
    .option('--json', 'machine-readable output on stdout')
    .action(async (db: string, o) => {
      const tables = await withStore(db, (s) => listAnnotationTables(s));
      emit(o, tables, () => (tables.length ? tables.map((t) => `${t.name} (${t.kind}, ${t.rows} rows): ${Object.entries(t.columns).map(([c, ty]) => `${c} ${ty}`).join(', ')}`).join('\n') : 'no annotation tables'));
    });

  cmd
    .command('like-to-like <db>')
    .description('connection probability and synapses per pair versus functional similarity, with bootstrap intervals and a distance-matched null')
    .requiredOption('--coregistration <name>', 'coregistration table')
    .option('--tuning <name>', 'tuning table (for orientation, direction or a tuning column)')
    .option('--correlations <name>', 'pairwise correlations table (for signal_correlation / noise_correlation)')
    .option('--feature <f>', 'orientation | direction | signal_correlation | noise_correlation | a tuning column', 'orientation')
    .option('--column <c>', 'tuning column of the preference (default pref_ori / pref_dir)')
    .option('--angle-unit <u>', 'deg | rad | auto', 'auto')
    .option('--bins <n>', `similarity bins (default ${FUNCTION_DEFAULTS.bins})`)
    .option('--distance-bins <n>', `distance bins of the null (default ${FUNCTION_DEFAULTS.distanceBins})`)
    .option('--axes <axes>', `soma distance axes for the null (default ${FUNCTION_DEFAULTS.axes})`)
    .option('--min-synapses <n>', `synapses for a pair to count as connected (default ${FUNCTION_DEFAULTS.minSynapses})`)
    .option('--bootstrap <n>', `bootstrap resamples over presynaptic cells (default ${FUNCTION_DEFAULTS.bootstrap})`)
    .option('--seed <n>', `seed (default ${FUNCTION_DEFAULTS.seed})`)
    .option('--pre-type <t>', 'presynaptic cells of this type only')
    .option('--post-type <t>', 'postsynaptic cells of this type only')
    .option('--plot <file>', 'write the curve (SVG, or PNG by extension)')
    .option('--json', 'machine-readable output on stdout')
    .action(async (db: string, o) => {
      if (!['deg', 'rad', 'auto'].includes(o.angleUnit)) throw new UsageError(`--angle-unit ${o.angleUnit}: expected deg, rad or auto`);
      const r = await withStore(db, (s) =>
        likeToLike(s, {
          coregistration: o.coregistration,
          tuning: o.tuning,
          correlations: o.correlations,
          feature: o.feature,
          column: o.column,
          angleUnit: o.angleUnit,
          bins: num(o.bins, '--bins', 2, true),
          distanceBins: num(o.distanceBins, '--distance-bins', 1, true),
          axes: o.axes,
          minSynapses: num(o.minSynapses, '--min-synapses', 1, true),
          bootstrap: num(o.bootstrap, '--bootstrap', 0, true),
          seed: num(o.seed, '--seed', undefined, true),
          preType: o.preType,
          postType: o.postType,
        }),
      );
      if (o.plot) {
        const label = (b: (typeof r.bins)[number]) => `${b.from.toFixed(r.unit === 'deg' ? 0 : 2)}-${b.to.toFixed(r.unit === 'deg' ? 0 : 2)}`;
        await writePlot(
          o.plot,
          stack([
            lineChart({
              title: `Connection probability vs ${r.feature} (${r.cells} cells, ${r.pairs} pairs; excess ${f3(r.excess)} [${f3(r.excess_ci[0])}, ${f3(r.excess_ci[1])}])`,
              xLabel: `${r.feature} (${r.unit}), bin centre`,
              yLabel: 'P(connected)',
              series: [
                { name: 'observed (95% bootstrap)', x: r.bins.map((b) => (b.from + b.to) / 2), y: r.bins.map((b) => b.p), err: r.bins.map((b) => (b.bootstrap[1] - b.bootstrap[0]) / 2) },
                { name: 'distance-matched null', x: r.bins.map((b) => (b.from + b.to) / 2), y: r.bins.map((b) => b.null_p), color: '#888888' },
              ],
            }),
            barChart({ title: 'Synapses per pair', xLabel: `${r.feature} (${r.unit})`, yLabel: 'synapses / pair', bars: r.bins.map((b) => ({ label: label(b), value: b.synapses_per_pair })) }),
          ]),
        );
      }
      emit(o, r, () => {
        const t = {
          columns: ['from', 'to', 'pairs', 'connected', 'p', 'wilson_low', 'wilson_high', 'boot_low', 'boot_high', 'null_p', 'ratio', 'syn_per_pair'],
          rows: r.bins.map((b) => [b.from, b.to, b.pairs, b.connected, b.p, b.wilson[0], b.wilson[1], b.bootstrap[0], b.bootstrap[1], b.null_p, b.ratio, b.synapses_per_pair].map((v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(5)) : v))),
        };
        const rep = r.report;
        return [
          `${r.feature} (${r.unit}): ${r.cells} cells, ${r.pairs} ordered pairs, ${r.connected} connected; similar pairs in the ${r.similar_first ? 'first' : 'last'} bin`,
          renderTable(t, 'table'),
          `excess like-to-like over the distance-matched null: ${f3(r.excess)} (95% bootstrap interval ${f3(r.excess_ci[0])} .. ${f3(r.excess_ci[1])})`,
          `join: ${rep.coregistration_rows} coregistration rows; ${rep.cells_not_in_store} cells not in the store; ${rep.ambiguous_units} ambiguous units left out; ${rep.cells_with_several_units} cells with several units (best kept)${rep.tuning_without_cell !== undefined ? `; ${rep.tuning_without_cell} tuning rows without a cell` : ''}`,
        ].join('\n');
      });
    });

  cmd
    .command('vs-morphology <db>')
    .description('a cell column (volume) against a tuning value over coregistered cells: Spearman rank correlation with a bootstrap interval')
    .requiredOption('--coregistration <name>', 'coregistration table')
    .requiredOption('--tuning <name>', 'tuning table')
    .requiredOption('--property <column>', 'tuning column, e.g. osi')
    .option('--feature <column>', 'cells column', 'volume')
    .option('--bootstrap <n>', `resamples (default ${FUNCTION_DEFAULTS.bootstrap})`)
    .option('--json', 'machine-readable output on stdout')
    .action(async (db: string, o) => {
      const r = await withStore(db, (s) => featureVsFunction(s, { coregistration: o.coregistration, tuning: o.tuning, property: o.property, feature: o.feature, bootstrap: num(o.bootstrap, '--bootstrap', 0, true) }));
      emit(o, r, () => `${r.feature} vs ${r.property} over ${r.cells} cells: Spearman ${f3(r.spearman)} (95% ${f3(r.ci[0])} .. ${f3(r.ci[1])})`);
    });

  cmd
    .command('targets <db>')
    .description("per presynaptic cell type, the synapse-weighted mean tuning value of its coregistered targets (e.g. inhibitory types' targets)")
    .requiredOption('--coregistration <name>', 'coregistration table')
    .requiredOption('--tuning <name>', 'tuning table')
    .requiredOption('--property <column>', 'tuning column, e.g. osi')
    .option('--bootstrap <n>', `resamples over presynaptic cells (default ${FUNCTION_DEFAULTS.bootstrap})`)
    .option('--json', 'machine-readable output on stdout')
    .action(async (db: string, o) => {
      const r = await withStore(db, (s) => targetFunction(s, { coregistration: o.coregistration, tuning: o.tuning, property: o.property, bootstrap: num(o.bootstrap, '--bootstrap', 0, true) }));
      emit(o, r, () =>
        renderTable({ columns: ['pre_type', 'synapses', 'targets', 'mean', 'ci_low', 'ci_high', 'baseline'], rows: r.map((x) => [x.pre_type, x.synapses, x.targets, f3(x.mean), f3(x.ci[0]), f3(x.ci[1]), f3(x.baseline)]) }, 'table'),
      );
    });

  cmd
    .command('synthesize <db> <out-dir>')
    .description('functional tables for a connectome without them (the phantom), with a known like-to-like strength and landmarks of a known warp')
    .requiredOption('--strength <beta>', 'like-to-like coupling (0 = none)')
    .option('--seed <n>', `seed (default ${SYNTH_DEFAULTS.seed})`)
    .option('--fraction <f>', `fraction of cells coregistered (default ${SYNTH_DEFAULTS.fraction})`)
    .option('--json', 'machine-readable output on stdout')
    .action(async (db: string, out: string, o) => {
      const r = await withStore(db, (s) => synthesizeFunctionalTables(s, out, { strength: num(o.strength, '--strength', 0)!, seed: num(o.seed, '--seed', undefined, true), fraction: num(o.fraction, '--fraction', 0) }));
      emit(o, r, () => `${r.cells} cells (${r.coregistered} coregistered, ${r.connected_pairs} connected pairs) -> ${r.files.join(', ')}`);
    });

  return cmd;
}
