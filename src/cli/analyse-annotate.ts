/** `wiring analyse targeting | spine-size`: the analyses on annotate's columns (src/connectome/annotate-analyses.ts). */
import { TARGET_GROUPS, spineSizeVsHead, targeting } from '../connectome/annotate-analyses.js';
import { barChart, heatmap } from '../connectome/plots.js';
import type { Table } from '../connectome/query.js';
import type { ConnectomeStore } from '../connectome/store.js';

export async function annotateAnalysis(store: ConnectomeStore, analysis: 'targeting' | 'spine-size', opts: Record<string, string | boolean | undefined>): Promise<{ json: unknown; table: Table; svg: string }> {
  if (analysis === 'targeting') {
    const pre = typeof opts.preTypes === 'string' ? opts.preTypes.split(',').map((t) => t.trim()).filter((t) => t) : undefined;
    const rows = await targeting(store, { preTypes: pre });
    const table: Table = {
      columns: ['pre_type', 'post_type', 'synapses', ...TARGET_GROUPS.map((g) => `on_${g}`)],
      rows: rows.map((r) => [r.pre_type, r.post_type, r.synapses, ...TARGET_GROUPS.map((g) => +r.fractions[g].toFixed(4))]),
    };
    const all = rows.filter((r) => r.post_type === '*');
    const svg = heatmap({ title: 'fraction of outputs per target compartment', rows: all.map((r) => r.pre_type), cols: [...TARGET_GROUPS], values: all.map((r) => TARGET_GROUPS.map((g) => r.fractions[g])), rowLabel: 'presynaptic type', colLabel: 'target' });
    return { json: rows, table, svg };
  }
  const r = await spineSizeVsHead(store);
  const table: Table = { columns: ['synapse_id', 'size', 'head_volume_nm3'], rows: r.pairs.map((p) => [p.synapse_id, p.size, Math.round(p.head_volume_nm3)]) };
  const svg = barChart({ title: `spine synapses: n ${r.n}, Pearson ${r.pearson.toFixed(3)}, Spearman ${r.spearman.toFixed(3)}`, xLabel: 'synapse', yLabel: 'size', bars: r.pairs.slice(0, 50).map((p) => ({ label: String(p.synapse_id), value: p.size })) });
  return { json: { n: r.n, pearson: r.pearson, spearman: r.spearman, pairs: r.pairs }, table, svg };
}
