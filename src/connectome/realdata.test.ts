// The real files we have, imported and counted exactly against an independent count by pandas
// (Debian /usr/bin/python3): C. elegans edge lists (Cook 2019, White 1986) and the hemibrain DA1
// skeletons with their per-neuron synapse CSVs.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../test/data.js';
import { importEdges, importSwc } from './import.js';
import { connectionColumns } from './query.js';
import { ConnectomeStore } from './store.js';

const opened: ConnectomeStore[] = [];
async function fresh(): Promise<ConnectomeStore> {
  const store = await ConnectomeStore.open(path.join(await tempDir('wiring-real-'), 'ds.duckdb'));
  opened.push(store);
  return store;
}
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

/** Run a pandas script; undefined (with a warning) when the reference Python is not there. */
function pandas(script: string, ...args: string[]): Record<string, number> | undefined {
  const py = spawnSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (py.status !== 0) {
    console.warn(`[skip] pandas reference count: ${(py.stderr || String(py.error)).slice(0, 200)}`);
    return undefined;
  }
  return JSON.parse(py.stdout) as Record<string, number>;
}

/** Per-pair synapse counts from the store, keyed "pre|post" by cell name. */
async function namedPairs(store: ConnectomeStore): Promise<Record<string, number>> {
  const c = await connectionColumns(store);
  const out: Record<string, number> = {};
  for (let i = 0; i < c.length; i++) out[`${c.pre_name![i]}|${c.post_name![i]}`] = c.count[i];
  return out;
}

const EDGES = String.raw`
import sys, json, pandas as pd
f, sep, a, b, w = sys.argv[1:6]
df = pd.read_csv(f, sep='\t' if sep == 'tab' else ',', dtype=str, keep_default_na=False)
df.columns = [c.strip() for c in df.columns]
df[a] = df[a].str.strip(); df[b] = df[b].str.strip(); df[w] = df[w].astype('int64')
g = df.groupby([a, b])[w].sum()
print(json.dumps({f'{k[0]}|{k[1]}': int(v) for k, v in g.items()}))
`;

describeData('celegans', 'C. elegans edge lists: per-pair counts = pandas', () => {
  it.each([
    ['herm_full_edgelist.csv', 'comma', 'Source', 'Target', 'Weight'],
    ['aconnectome_white_1986_whole.csv', 'tab', 'pre', 'post', 'synapses'],
    ['aconnectome_white_1986_L4.csv', 'tab', 'pre', 'post', 'synapses'],
  ])('%s', async (file, sep, a, b, w) => {
    const f = dataPath('celegans', file);
    const ref = pandas(EDGES, f, sep, a, b, w);
    const store = await fresh();
    await importEdges(store, [f]);
    const got = await namedPairs(store);
    if (!ref) return;
    expect(Object.keys(ref).length).toBeGreaterThan(1000);
    expect(got).toEqual(ref);
  });
});

const HEMI = String.raw`
import sys, os, json, csv
d = sys.argv[1]; out = {}
for f in sorted(os.listdir(d)):
    body = f[:-4]
    with open(os.path.join(d, f), newline='') as fh:
        for r in csv.DictReader(fh):
            k = body + '|' + r['type']
            out[k] = out.get(k, 0) + 1
            out[k + '|x8'] = out.get(k + '|x8', 0) + int(r['x']) * 8
print(json.dumps(out))
`;

describeData('hemibrain-da1', 'hemibrain DA1: synapse rows per neuron and side = an independent csv count', () => {
  it('imports every synapse row of every neuron', async () => {
    const ref = pandas(HEMI, dataPath('hemibrain-da1', 'synapses'));
    const store = await fresh();
    const swc = readdirSync(dataPath('hemibrain-da1', 'swc')).map((f) => dataPath('hemibrain-da1', 'swc', f));
    await importSwc(store, swc, { resolution: [8, 8, 8] });
    const got: Record<string, number> = {};
    for (const r of await store.all(
      `SELECT CASE WHEN pre_pt_root_id <> 0 THEN pre_pt_root_id ELSE post_pt_root_id END::VARCHAR AS body, CASE WHEN pre_pt_root_id <> 0 THEN 'pre' ELSE 'post' END AS side,
         count(*) AS n, sum(ctr_pt_position_x) AS x FROM synapses GROUP BY 1, 2`,
    )) {
      got[`${r.body}|${r.side}`] = Number(r.n);
      got[`${r.body}|${r.side}|x8`] = Number(r.x);
    }
    // per pair (cell -> unknown partner 0, unknown -> cell) the pair table says the same
    const c = await connectionColumns(store);
    let total = 0;
    for (let i = 0; i < c.length; i++) {
      const body = c.pre[i] !== 0n ? c.pre[i] : c.post[i];
      expect(c.count[i]).toBe(got[`${body}|${c.pre[i] !== 0n ? 'pre' : 'post'}`]);
      total += c.count[i];
    }
    expect(total).toBe(14836);
    if (!ref) return;
    expect(got).toEqual(ref);
  });
});
