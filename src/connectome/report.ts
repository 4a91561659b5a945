import { UsageError } from '../core/errors.js';
import { connectionHistogram, connectionProbabilityByDistance, distanceTable, histogramTable, synapseSizes, sizeTable } from './analyses.js';
import { likeToLike, targetFunction } from './function/structure-function.js';
import { listAnnotationTables } from './function/tables.js';
import { barChart, heatmap, lineChart } from './plots.js';
import { type SynapseFilter, type Table, matrixTable, typeMatrix } from './query.js';
import type { ConnectomeStore } from './store.js';

/**
 * A report: a named set of analyses run on one database, written as one self-contained HTML
 * page (tables as HTML, figures as inline SVG). Sets:
 *
 *   course    synapses per connection; connection probability vs lateral (xz) and depth (y)
 *             distance with Wilson intervals; type matrices (count, per presynaptic cell,
 *             output and input fractions); synapse sizes
 *   function  like-to-like (orientation, and signal correlation when a correlations table is
 *             there) against the distance-matched null; tuning of each presynaptic type's
 *             targets — needs a coregistration and a tuning table (found by kind)
 *
 * A section that cannot run (e.g. no typed cells) says why instead of failing the report.
 */

export const REPORT_SETS = ['course', 'function'] as const;
export type ReportSet = (typeof REPORT_SETS)[number];

export interface ReportSection {
  title: string;
  note?: string;
  table?: Table;
  svg?: string;
  error?: string;
}

export interface Report {
  title: string;
  database: string;
  created: string;
  sections: ReportSection[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v === null || v === undefined ? '' : String(v));

async function section(title: string, fn: () => Promise<Omit<ReportSection, 'title'>>): Promise<ReportSection> {
  try {
    return { title, ...(await fn()) };
  } catch (err) {
    if (err instanceof UsageError) return { title, error: err.message };
    throw err;
  }
}

async function courseSections(store: ConnectomeStore, f: SynapseFilter): Promise<ReportSection[]> {
  const out: ReportSection[] = [];
  out.push(
    await section('Synapses per connection', async () => {
      const h = await connectionHistogram(store, f);
      return {
        note: `${h.pairs} connected pairs, ${h.synapses} synapses, mean ${h.mean.toFixed(2)} per connection`,
        table: histogramTable(h),
        svg: barChart({ title: 'Synapses per connection', xLabel: 'synapses', yLabel: 'pairs', bars: h.bins.map((b) => ({ label: String(b.synapses), value: b.pairs })), logY: true }),
      };
    }),
  );
  for (const [axes, what] of [
    ['xz', 'lateral (x, z)'],
    ['y', 'depth (y)'],
  ] as const) {
    out.push(
      await section(`Connection probability vs ${what} distance`, async () => {
        const d = await connectionProbabilityByDistance(store, { ...f, axes });
        return {
          note: `${d.cells_pre} x ${d.cells_post} cells; 95 % Wilson intervals`,
          table: distanceTable(d),
          svg: lineChart({
            title: `P(connected) vs ${what} soma distance`,
            xLabel: 'distance (µm)',
            yLabel: 'P(connected)',
            series: [{ name: 'p', x: d.bins.map((b) => (b.from + b.to) / 2000), y: d.bins.map((b) => b.p), err: d.bins.map((b) => (b.ci_high - b.ci_low) / 2) }],
          }),
        };
      }),
    );
  }
  for (const [measure, what] of [
    ['count', 'synapses'],
    ['per_pre_cell', 'synapses per presynaptic cell'],
    ['output_fraction', 'fraction of each type’s outputs'],
    ['input_fraction', 'fraction of each type’s inputs'],
  ] as const) {
    out.push(
      await section(`Cell-type connectivity: ${what}`, async () => {
        const m = await typeMatrix(store, { ...f, measure });
        if (m.preTypes.length === 0) throw new UsageError('no synapses between typed cells (import a cell type table)');
        return { table: matrixTable(m), svg: heatmap({ title: what, rows: m.preTypes, cols: m.postTypes, values: m.values, rowLabel: 'presynaptic type', colLabel: 'postsynaptic type' }) };
      }),
    );
  }
  out.push(
    await section('Synapse sizes', async () => {
      const s = await synapseSizes(store, { ...f, log: true });
      return {
        table: sizeTable(s),
        svg: lineChart({ title: 'Synapse size distribution (log10 bins)', xLabel: 'log10 size', yLabel: 'synapses', series: s.map((g) => ({ name: g.group, x: g.bins.map((b) => (Math.log10(b.from) + Math.log10(b.to)) / 2), y: g.bins.map((b) => b.count) })) }),
      };
    }),
  );
  return out;
}

async function functionSections(store: ConnectomeStore, f: SynapseFilter, o: ReportOptions): Promise<ReportSection[]> {
  const tables = await listAnnotationTables(store);
  const pick = (kind: string, given?: string) => given ?? tables.find((t) => t.kind === kind)?.name;
  const coregistration = pick('coregistration', o.coregistration);
  const tuning = pick('tuning', o.tuning);
  const correlations = pick('correlations', o.correlations);
  if (!coregistration || !tuning) return [{ title: 'Structure–function', error: `needs a coregistration and a tuning table (have: ${tables.map((t) => `${t.name} (${t.kind})`).join(', ') || 'none'}; import them with wiring function import)` }];
  const out: ReportSection[] = [];
  const l2l = async (feature: string) => {
    const r = await likeToLike(store, { ...f, coregistration, tuning, correlations, feature, bootstrap: o.bootstrap });
    const x = r.bins.map((b) => (b.from + b.to) / 2);
    return {
      note: `${r.cells} cells, ${r.pairs} ordered pairs, ${r.connected} connected; excess like-to-like over the distance-matched null ${r.excess.toFixed(5)} (95 % bootstrap ${r.excess_ci[0].toFixed(5)} .. ${r.excess_ci[1].toFixed(5)})`,
      table: {
        columns: ['from', 'to', 'pairs', 'connected', 'p', 'boot_low', 'boot_high', 'null_p', 'ratio', 'syn_per_pair'],
        rows: r.bins.map((b) => [b.from, b.to, b.pairs, b.connected, b.p, b.bootstrap[0], b.bootstrap[1], b.null_p, b.ratio, b.synapses_per_pair]),
      },
      svg: lineChart({
        title: `P(connected) vs ${feature} (${r.unit})`,
        xLabel: `${feature} (${r.unit})`,
        yLabel: 'P(connected)',
        series: [
          { name: 'observed', x, y: r.bins.map((b) => b.p), err: r.bins.map((b) => (b.bootstrap[1] - b.bootstrap[0]) / 2) },
          { name: 'distance-matched null', x, y: r.bins.map((b) => b.null_p), color: '#888888' },
        ],
      }),
    };
  };
  out.push(await section('Like-to-like: orientation preference', () => l2l('orientation')));
  if (correlations) out.push(await section('Like-to-like: signal correlation', () => l2l('signal_correlation')));
  out.push(
    await section('Tuning of each presynaptic type’s targets (OSI)', async () => {
      const t = await targetFunction(store, { ...f, coregistration, tuning, property: o.property ?? 'osi', bootstrap: o.bootstrap });
      if (t.length === 0) throw new UsageError('no typed presynaptic cells with coregistered targets');
      return {
        table: { columns: ['pre_type', 'synapses', 'targets', 'mean', 'ci_low', 'ci_high', 'baseline'], rows: t.map((x) => [x.pre_type, x.synapses, x.targets, x.mean, x.ci[0], x.ci[1], x.baseline]) },
        svg: barChart({ title: `Targets' ${o.property ?? 'osi'} by presynaptic type (baseline ${t[0].baseline.toFixed(3)})`, xLabel: 'presynaptic type', yLabel: o.property ?? 'osi', bars: t.map((x) => ({ label: x.pre_type, value: x.mean })) }),
      };
    }),
  );
  return out;
}

export interface ReportOptions extends SynapseFilter {
  coregistration?: string;
  tuning?: string;
  correlations?: string;
  property?: string;
  bootstrap?: number;
}

export async function buildReport(store: ConnectomeStore, sets: string[], o: ReportOptions = {}): Promise<Report> {
  for (const s of sets) if (!(REPORT_SETS as readonly string[]).includes(s)) throw new UsageError(`analysis set ${JSON.stringify(s)}: expected ${REPORT_SETS.join(', ')}`);
  const sections: ReportSection[] = [];
  if (sets.includes('course')) sections.push(...(await courseSections(store, o)));
  if (sets.includes('function')) sections.push(...(await functionSections(store, o, o)));
  return { title: `Wiring report: ${sets.join(' + ')}`, database: store.file, created: new Date().toISOString(), sections };
}

export function reportHtml(r: Report): string {
  const body = r.sections
    .map((s) => {
      const parts = [`<section><h2>${esc(s.title)}</h2>`];
      if (s.error) parts.push(`<p class="skipped">Not run: ${esc(s.error)}</p>`);
      if (s.note) parts.push(`<p>${esc(s.note)}</p>`);
      if (s.svg) parts.push(`<figure>${s.svg}</figure>`);
      if (s.table)
        parts.push(
          `<table><thead><tr>${s.table.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${s.table.rows.map((row) => `<tr>${row.map((v) => `<td>${esc(cell(v))}</td>`).join('')}</tr>`).join('')}</tbody></table>`,
        );
      parts.push('</section>');
      return parts.join('\n');
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f3f3f3}.skipped{color:#a33}figure{margin:.5em 0}</style>
</head><body><h1>${esc(r.title)}</h1><p>database ${esc(r.database)}; made ${esc(r.created)}</p>
${body}
</body></html>
`;
}
