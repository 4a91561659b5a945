import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import {
  connectionHistogram,
  connectionProbabilityByDistance,
  distanceTable,
  histogramTable,
  motifTable,
  motifs,
  sizeTable,
  synapseSizes,
} from '../../connectome/analyses.js';
import { parseFormat, renderTable } from '../../connectome/format.js';
import { TRIAD_NAMES } from '../../connectome/graph.js';
import { barChart, heatmap, lineChart, stack, writePlot } from '../../connectome/plots.js';
import { type Table, type MatrixMeasure, matrixTable, typeMatrixByCompartment } from '../../connectome/query.js';
import type { ConnectomeStore } from '../../connectome/store.js';
import { withStore } from '../store.js';
import { addFilterOptions, filterFrom } from '../synapse-filters.js';
import { annotateAnalysis } from '../analyse-annotate.js';

const ANALYSES = ['histogram', 'motifs', 'distance', 'compartment-matrix', 'sizes', 'targeting', 'spine-size'] as const;

function num(v: unknown, what: string, opts: { integer?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min)) {
    throw new UsageError(`${what} ${JSON.stringify(v)}: expected a ${opts.integer ? 'whole ' : ''}number${opts.min !== undefined ? ` >= ${opts.min}` : ''}`);
  }
  return n;
}

export async function runAnalysis(store: ConnectomeStore, analysis: string, opts: Record<string, string | boolean | undefined>): Promise<{ json: unknown; table: Table; svg: string }> {
  const f = filterFrom(opts);
  switch (analysis) {
    case 'histogram': {
      const h = await connectionHistogram(store, f);
      const svg = barChart({
        title: `Synapses per connection (${h.pairs} connected pairs, mean ${h.mean.toFixed(2)})`,
        xLabel: 'synapses per connection',
        yLabel: 'connected pairs',
        bars: h.bins.map((b) => ({ label: String(b.synapses), value: b.pairs })),
        logY: !!opts.logY,
      });
      return { json: h, table: histogramTable(h), svg };
    }
    case 'motifs': {
      const m = await motifs(store, {
        ...f,
        minSynapses: num(opts.minSynapses, '--min-synapses', { integer: true, min: 1 }),
        samples: num(opts.samples, '--samples', { integer: true, min: 1 }),
        swapFactor: num(opts.swapFactor, '--swap-factor', { min: 0 }),
        seed: num(opts.seed, '--seed', { integer: true }),
      });
      const names = ['reciprocal', ...TRIAD_NAMES.filter((t) => t !== '003')];
      const comps = [m.reciprocal_pairs, ...TRIAD_NAMES.filter((t) => t !== '003').map((t) => m.triads[t])];
      const svg = stack([
        barChart({
          title: `Motif z-scores vs degree-preserving null (${m.nodes} cells, ${m.edges} edges, ${m.null_samples} nulls)`,
          xLabel: 'motif',
          yLabel: 'z = (observed - null mean) / null sd',
          bars: names.map((n, i) => ({ label: n, value: comps[i].z ?? 0 })),
          color: '#d0504a',
        }),
        barChart({
          title: 'Observed / null mean',
          xLabel: 'motif',
          yLabel: 'ratio',
          bars: names.map((n, i) => ({ label: n, value: comps[i].null_mean > 0 ? comps[i].observed / comps[i].null_mean : 0 })),
          logY: true,
        }),
      ]);
      return { json: m, table: motifTable(m), svg };
    }
    case 'distance': {
      const d = await connectionProbabilityByDistance(store, {
        ...f,
        binWidth: num(opts.binWidth, '--bin-width', { min: 0 }),
        maxDistance: num(opts.maxDistance, '--max-distance', { min: 0 }),
        axes: opts.axes as string | undefined,
        minSynapses: num(opts.minSynapses, '--min-synapses', { integer: true, min: 1 }),
        preType: opts.preType as string | undefined,
        postType: opts.postType as string | undefined,
      });
      const svg = lineChart({
        title: `Connection probability vs soma distance (${d.axes}; ${d.cells_pre} x ${d.cells_post} cells)`,
        xLabel: 'soma distance (µm)',
        yLabel: 'P(connected)',
        series: [{ name: 'p', x: d.bins.map((b) => (b.from + b.to) / 2000), y: d.bins.map((b) => b.p), err: d.bins.map((b) => b.se) }],
      });
      return { json: d, table: distanceTable(d), svg };
    }
    case 'compartment-matrix': {
      const measure = ((opts.measure as string) ?? 'count') as MatrixMeasure;
      if (!['count', 'binary', 'size'].includes(measure)) throw new UsageError(`--measure ${measure}: expected count, binary or size`);
      const m = await typeMatrixByCompartment(store, { ...f, measure, untyped: opts.untyped as string | undefined });
      const rows: unknown[][] = [];
      let columns = ['compartment'];
      for (const [c, mm] of Object.entries(m)) {
        const t = matrixTable(mm);
        columns = ['compartment', ...t.columns];
        for (const r of t.rows) rows.push([c, ...r]);
      }
      const svg = stack(
        Object.entries(m).map(([c, mm]) =>
          heatmap({ title: `${measure} onto ${c}`, rows: mm.preTypes, cols: mm.postTypes, values: mm.values, rowLabel: 'presynaptic type', colLabel: 'postsynaptic type' }),
        ),
      );
      return { json: m, table: { columns, rows }, svg: Object.keys(m).length ? svg : barChart({ title: 'no typed synapses', xLabel: '', yLabel: '', bars: [] }) };
    }
    case 'sizes': {
      const by = opts.by as string | undefined;
      if (by !== undefined && !['pre_type', 'post_type', 'compartment'].includes(by)) throw new UsageError(`--by ${by}: expected pre_type, post_type or compartment`);
      const s = await synapseSizes(store, { ...f, bins: num(opts.bins, '--bins', { integer: true, min: 1 }), log: !!opts.log, by: by as 'pre_type' | undefined });
      const svg = lineChart({
        title: `Synapse size distribution${opts.log ? ' (log10 bins)' : ''}`,
        xLabel: opts.log ? 'log10 size (voxels)' : 'size (voxels)',
        yLabel: 'synapses',
        series: s.map((g) => ({
          name: g.group,
          x: g.bins.map((b) => (opts.log ? (Math.log10(b.from) + Math.log10(b.to)) / 2 : (b.from + b.to) / 2)),
          y: g.bins.map((b) => b.count),
        })),
      });
      return { json: s, table: sizeTable(s), svg };
    }
    case 'targeting':
    case 'spine-size':
      return annotateAnalysis(store, analysis, opts);
    default:
      throw new UsageError(`analysis ${JSON.stringify(analysis)}: expected one of ${ANALYSES.join(', ')}`);
  }
}

export function register(program: Command): Command {
  const cmd = program
    .command('analyse')
    .description('analyses of a connectome database, as tables/JSON and SVG/PNG plots')
    .argument('<db>', 'database file')
    .argument('<analysis>', ANALYSES.join(' | '))
    .option('--plot <file>', 'also write the plot (.svg or .png)')
    .option('--format <f>', 'table | csv | json', 'table')
    .option('--json', 'same as --format json')
    .option('--samples <n>', 'motifs: null samples', '100')
    .option('--swap-factor <k>', 'motifs: attempted edge swaps per sample = k x connections', '10')
    .option('--seed <n>', 'motifs: random seed', '1')
    .option('--min-synapses <n>', 'motifs/distance: a connection needs at least n synapses', '1')
    .option('--bin-width <nm>', 'distance: bin width in nm', '25000')
    .option('--max-distance <nm>', 'distance: largest distance')
    .option('--axes <xyz>', 'distance: axes that count (xz = lateral in MICrONS)', 'xyz')
    .option('--pre-type <t>', 'distance: presynaptic cell type')
    .option('--post-type <t>', 'distance: postsynaptic cell type')
    .option('--measure <m>', 'compartment-matrix: count | binary | size', 'count')
    .option('--untyped <label>', 'compartment-matrix: label for cells without a type')
    .option('--bins <n>', 'sizes: histogram bins', '30')
    .option('--log', 'sizes: log10 bins')
    .option('--by <what>', 'sizes: pre_type | post_type | compartment')
    .option('--log-y', 'histogram: log y axis')
    .option('--pre-types <types>', 'targeting: presynaptic types (e.g. the inhibitory ones), comma-separated');
  addFilterOptions(cmd);
  cmd.action(async (db: string, analysis: string, opts) => {
    const format = opts.json ? 'json' : parseFormat(opts.format);
    const out = await withStore(db, (s) => runAnalysis(s, analysis, opts));
    if (opts.plot) await writePlot(opts.plot, out.svg);
    if (format === 'json') process.stdout.write(JSON.stringify(out.json, (_k, v) => (typeof v === 'bigint' ? v.toString(10) : v), 2) + '\n');
    else process.stdout.write(renderTable(out.table, format) + (opts.plot ? `\nplot: ${opts.plot}` : '') + '\n');
  });
  return cmd;
}
