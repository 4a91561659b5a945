import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { connectionProbabilityByDistance } from './analyses.js';
import { typeMatrix } from './query.js';
import { buildReport, reportHtml } from './report.js';
import { ConnectomeStore, type SynapseRow } from './store.js';

const open: ConnectomeStore[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

/** 3 excitatory cells, 1 inhibitory, 1 glia (no synapses): counts checked by hand. */
async function small() {
  const dir = await tempDir('wiring-course-');
  const store = await ConnectomeStore.open(path.join(dir, 'c.duckdb'));
  open.push(store);
  await store.insertCells([
    { id: 1n, pt_position: [0, 0, 0], cell_type: 'exc' },
    { id: 2n, pt_position: [10_000, 0, 0], cell_type: 'exc' },
    { id: 3n, pt_position: [0, 30_000, 0], cell_type: 'exc' },
    { id: 4n, pt_position: [0, 0, 10_000], cell_type: 'inh' },
    { id: 5n, pt_position: [50_000, 0, 0], cell_type: 'glia' },
  ]);
  const edges: [bigint, bigint, number][] = [[1n, 2n, 3], [2n, 1n, 1], [1n, 4n, 2], [4n, 1n, 4], [4n, 3n, 2]];
  const rows: SynapseRow[] = [];
  let id = 1n;
  for (const [a, b, k] of edges) for (let i = 0; i < k; i++) rows.push({ id: id++, pre_pt_root_id: a, post_pt_root_id: b, pre_pt_position: [0, 0, 0], post_pt_position: [0, 0, 0], ctr_pt_position: [0, 0, 0], size: 1 });
  await store.insertSynapses(rows);
  return store;
}

describe('course analyses on a small connectome', () => {
  it('normalizes type matrices per presynaptic cell and as input/output fractions', async () => {
    const store = await small();
    const count = await typeMatrix(store, { measure: 'count' });
    expect(count).toMatchObject({ preTypes: ['exc', 'inh'], postTypes: ['exc', 'inh'], values: [[4, 2], [6, 0]] });
    expect((await typeMatrix(store, { measure: 'per_pre_cell' })).values).toEqual([[4 / 3, 2 / 3], [6, 0]]);
    expect((await typeMatrix(store, { measure: 'output_fraction' })).values).toEqual([[4 / 6, 2 / 6], [1, 0]]);
    expect((await typeMatrix(store, { measure: 'input_fraction' })).values).toEqual([[0.4, 1], [0.6, 0]]);
  });

  it('gives Wilson intervals for connection probability by lateral distance', async () => {
    const store = await small();
    const d = await connectionProbabilityByDistance(store, { binWidth: 20_000, axes: 'xz' });
    for (const b of d.bins) {
      expect(b.ci_low).toBeLessThanOrEqual(b.p);
      expect(b.ci_high).toBeGreaterThanOrEqual(b.p);
      if (b.pairs > 0) expect(b.ci_high - b.ci_low).toBeGreaterThan(0);
    }
    // the glia counts in the pairs (non-neuronal cells are cells of the table)
    expect(d.bins.reduce((a, b) => a + b.pairs, 0)).toBe(5 * 4);
  });

  it('writes a report page with every course section, and says why the function set cannot run', async () => {
    const store = await small();
    const r = await buildReport(store, ['course', 'function'], { bootstrap: 10 });
    const titles = r.sections.map((s) => s.title);
    expect(titles).toContain('Cell-type connectivity: synapses per presynaptic cell');
    expect(r.sections.filter((s) => s.error).map((s) => s.title)).toEqual(['Structure–function']);
    expect(r.sections.find((s) => s.error)!.error).toMatch(/needs a coregistration and a tuning table/);
    const html = reportHtml(r);
    expect(html.match(/<svg/g)!.length).toBe(r.sections.filter((s) => s.svg).length);
    expect(html).toContain('<td>1.333</td>'); // exc -> exc per presynaptic cell: 4 / 3
    await expect(buildReport(store, ['nope'])).rejects.toThrow(/analysis set "nope"/);
  });
});
