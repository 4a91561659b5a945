import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../test/data.js';
import { connectionHistogram, connectionProbabilityByDistance, loadGraph, motifs, motifsOfGraph, synapseSizes } from './analyses.js';
import { TRIAD_NAMES, type TriadName, edgeSwapNull, makeDigraph, reciprocalPairs, seededRandom, triadCensus } from './graph.js';
import { importEdges } from './import.js';
import { barChart, heatmap, lineChart, svgToPng } from './plots.js';
import { ConnectomeStore, type SynapseRow } from './store.js';

const opened: ConnectomeStore[] = [];
async function fresh(): Promise<{ store: ConnectomeStore; dir: string }> {
  const dir = await tempDir('wiring-analyses-');
  const store = await ConnectomeStore.open(path.join(dir, 'a.duckdb'));
  opened.push(store);
  return { store, dir };
}
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

/** O(n^3) triad classification by brute force, independent of the fast algorithm's bookkeeping. */
function bruteCensus(n: number, edges: [number, number][]): Record<string, number> {
  const e = new Set(edges.map(([a, b]) => `${a},${b}`));
  const has = (a: number, b: number) => e.has(`${a},${b}`);
  const out: Record<string, number> = Object.fromEntries(TRIAD_NAMES.map((t) => [t, 0]));
  for (let a = 0; a < n; a++)
    for (let b = a + 1; b < n; b++)
      for (let c = b + 1; c < n; c++) {
        const nodes = [a, b, c];
        let M = 0;
        let A = 0;
        const outd = [0, 0, 0];
        const ind = [0, 0, 0];
        let mutual: number[] = [];
        for (const [i, j] of [[0, 1], [0, 2], [1, 2]]) {
          const f = has(nodes[i], nodes[j]);
          const r = has(nodes[j], nodes[i]);
          if (f && r) {
            M++;
            mutual = [i, j];
          } else if (f || r) {
            A++;
            const [s, t] = f ? [i, j] : [j, i];
            outd[s]++;
            ind[t]++;
          }
        }
        let name = `${M}${A}${3 - M - A}`;
        if (name === '021') name += outd.includes(2) ? 'D' : ind.includes(2) ? 'U' : 'C';
        if (name === '030') name += outd.includes(2) ? 'T' : 'C';
        if (name === '111') {
          const third = [0, 1, 2].find((x) => !mutual.includes(x))!;
          name += outd[third] === 1 ? 'D' : 'U';
        }
        if (name === '120') {
          const third = [0, 1, 2].find((x) => !mutual.includes(x))!;
          name += outd[third] === 2 ? 'D' : ind[third] === 2 ? 'U' : 'C';
        }
        out[name]++;
      }
  return out;
}

function randomGraph(n: number, m: number, seed: number): [number, number][] {
  const r = seededRandom(seed);
  const out: [number, number][] = [];
  for (let i = 0; i < m; i++) out.push([Math.floor(r() * n), Math.floor(r() * n)]);
  return out;
}

describe('graph kernels', () => {
  it('triad census equals brute force on random digraphs (incl. empty and tiny)', () => {
    for (const [n, m, seed] of [[0, 0, 1], [1, 0, 1], [3, 0, 1], [3, 6, 2], [12, 40, 3], [25, 120, 4], [30, 400, 5]]) {
      const edges = randomGraph(n, m, seed).filter(([a, b]) => a !== b);
      const g = makeDigraph(n, edges.map((e) => e[0]), edges.map((e) => e[1]));
      const uniq = [...new Set(edges.map(([a, b]) => `${a},${b}`))].map((s) => s.split(',').map(Number) as [number, number]);
      const want = bruteCensus(n, uniq);
      const got = triadCensus(g);
      expect(got).toEqual(want);
      expect(Object.values(got).reduce((a, b) => a + b, 0)).toBe(n < 3 ? 0 : (n * (n - 1) * (n - 2)) / 6);
    }
  });

  it('each 3-node motif is named as networkx names it', () => {
    const cases: [TriadName, [number, number][]][] = [
      ['012', [[0, 1]]], ['102', [[0, 1], [1, 0]]], ['021D', [[0, 1], [0, 2]]], ['021U', [[1, 0], [2, 0]]], ['021C', [[0, 1], [1, 2]]],
      ['111D', [[0, 1], [1, 0], [2, 0]]], ['111U', [[0, 1], [1, 0], [0, 2]]], ['030T', [[0, 1], [1, 2], [0, 2]]], ['030C', [[0, 1], [1, 2], [2, 0]]],
      ['201', [[0, 1], [1, 0], [0, 2], [2, 0]]], ['120D', [[0, 1], [1, 0], [2, 0], [2, 1]]], ['120U', [[0, 1], [1, 0], [0, 2], [1, 2]]],
      ['120C', [[0, 1], [1, 0], [0, 2], [2, 1]]], ['210', [[0, 1], [1, 0], [0, 2], [2, 0], [1, 2]]], ['300', [[0, 1], [1, 0], [0, 2], [2, 0], [1, 2], [2, 1]]],
    ];
    for (const [name, e] of cases) {
      const c = triadCensus(makeDigraph(3, e.map((x) => x[0]), e.map((x) => x[1])));
      expect(c[name]).toBe(1);
    }
  });

  it('edge swaps keep every in- and out-degree, make no loops or duplicates, and are seeded', () => {
    const e = randomGraph(40, 300, 9);
    const g = makeDigraph(40, e.map((x) => x[0]), e.map((x) => x[1]));
    const h = edgeSwapNull(g, 3000, seededRandom(3));
    const deg = (s: Int32Array) => {
      const d = new Array(40).fill(0);
      for (const v of s) d[v]++;
      return d;
    };
    expect(deg(h.src)).toEqual(deg(g.src));
    expect(deg(h.dst)).toEqual(deg(g.dst));
    const keys = new Set<string>();
    for (let i = 0; i < h.src.length; i++) {
      expect(h.src[i]).not.toBe(h.dst[i]);
      keys.add(`${h.src[i]},${h.dst[i]}`);
    }
    expect(keys.size).toBe(h.src.length);
    let changed = 0;
    for (let i = 0; i < h.src.length; i++) if (h.dst[i] !== g.dst[i]) changed++;
    expect(changed).toBeGreaterThan(100);
    expect(edgeSwapNull(g, 3000, seededRandom(3)).dst).toEqual(h.dst);
  });

  it('a graph rich in reciprocal pairs scores above its degree-preserving null', () => {
    const e: [number, number][] = [];
    const r = seededRandom(11);
    for (let i = 0; i < 60; i++) {
      const a = Math.floor(r() * 50);
      const b = Math.floor(r() * 50);
      if (a === b) continue;
      e.push([a, b], [b, a]);
    }
    const g = makeDigraph(50, e.map((x) => x[0]), e.map((x) => x[1]));
    const m = motifsOfGraph(g, { samples: 30, seed: 5 });
    expect(m.reciprocal_pairs.observed).toBe(reciprocalPairs(g));
    expect(m.reciprocal_pairs.z!).toBeGreaterThan(3);
    expect(m.reciprocal_pairs.p_greater).toBeLessThan(0.05);
    expect(motifsOfGraph(g, { samples: 30, seed: 5 })).toEqual(m);
  });
});

async function small(store: ConnectomeStore): Promise<SynapseRow[]> {
  const rows: SynapseRow[] = [];
  const r = seededRandom(2);
  const ids = Array.from({ length: 10 }, (_, i) => (1n << 60n) + BigInt(i));
  await store.insertCells(ids.map((id, i) => ({ id, pt_position: [i * 10_000, (i % 3) * 5_000, 0], cell_type: i % 2 ? 'E' : 'I' })));
  for (let i = 0; i < 150; i++) {
    const a = ids[Math.floor(r() * 10)];
    const b = ids[Math.floor(r() * 10)];
    rows.push({ id: BigInt(i + 1), pre_pt_root_id: a, post_pt_root_id: b, pre_pt_position: [0, 0, 0], post_pt_position: [0, 0, 0], ctr_pt_position: [0, 0, 0], size: 1 + Math.floor(r() * 500) });
  }
  await store.insertSynapses(rows);
  return rows;
}

describe('analyses on a small synthetic connectome', () => {
  it('connection histogram, distance dependence and size distribution match direct computation', async () => {
    const { store } = await fresh();
    const rows = await small(store);
    const per = new Map<string, number>();
    for (const s of rows) per.set(`${s.pre_pt_root_id}|${s.post_pt_root_id}`, (per.get(`${s.pre_pt_root_id}|${s.post_pt_root_id}`) ?? 0) + 1);
    const h = await connectionHistogram(store);
    const want = new Map<number, number>();
    for (const n of per.values()) want.set(n, (want.get(n) ?? 0) + 1);
    expect(h.bins).toEqual([...want].sort((a, b) => a[0] - b[0]).map(([synapses, pairs]) => ({ synapses, pairs })));
    expect(h.synapses).toBe(150);

    const d = await connectionProbabilityByDistance(store, { binWidth: 20_000, axes: 'xy' });
    const cells = await store.all('SELECT pt_root_id AS id, pt_position_x AS x, pt_position_y AS y FROM cells');
    const bins = new Map<number, { pairs: number; conn: number }>();
    for (const a of cells)
      for (const b of cells) {
        if (a.id === b.id) continue;
        const k = Math.floor(Math.hypot((a.x as number) - (b.x as number), (a.y as number) - (b.y as number)) / 20_000);
        const e = bins.get(k) ?? { pairs: 0, conn: 0 };
        e.pairs++;
        if (per.has(`${a.id}|${b.id}`)) e.conn++;
        bins.set(k, e);
      }
    for (const b of d.bins) {
      const e = bins.get(b.from / 20_000) ?? { pairs: 0, conn: 0 };
      expect([b.pairs, b.connected]).toEqual([e.pairs, e.conn]);
    }
    expect(d.bins.reduce((a, b) => a + b.pairs, 0)).toBe(90);

    const sz = await synapseSizes(store, { bins: 10 });
    const sizes = rows.map((r) => r.size).sort((a, b) => a - b);
    expect(sz[0].count).toBe(150);
    expect(sz[0].mean).toBeCloseTo(sizes.reduce((a, b) => a + b, 0) / 150, 9);
    expect(sz[0].bins.reduce((a, b) => a + b.count, 0)).toBe(150);
    expect(sz[0].quantiles[2].value).toBeCloseTo((sizes[74] + sizes[75]) / 2, 9);
    const byType = await synapseSizes(store, { by: 'post_type' });
    expect(byType.map((g) => g.group)).toEqual(['E', 'I']);
    expect(byType[0].count + byType[1].count).toBe(150);
    const logged = await synapseSizes(store, { log: true, bins: 5 });
    expect(logged[0].bins[0].from).toBeCloseTo(sizes[0], 6);
  });

  it('empty store: analyses return empty results, not errors', async () => {
    const { store } = await fresh();
    expect((await connectionHistogram(store)).bins).toEqual([]);
    expect((await loadGraph(store)).n).toBe(0);
    expect((await motifs(store, { samples: 2 })).triads['003'].observed).toBe(0);
    expect(await synapseSizes(store)).toEqual([]);
  });

  it('SVG plots are valid (sharp renders them to PNG)', async () => {
    const svgs = [
      barChart({ title: 'h <test>', xLabel: 'x', yLabel: 'y', bars: [{ label: '1', value: 10 }, { label: '2', value: 3, err: 1 }], logY: true }),
      lineChart({ title: 'p', xLabel: 'd', yLabel: 'p', series: [{ name: 'a', x: [0, 1, 2], y: [0.1, 0.05, 0.01], err: [0.01, 0.01, 0.005] }] }),
      heatmap({ title: 'm', rows: ['A', 'B'], cols: ['A', 'B'], values: [[1, 2], [3, 4]] }),
      barChart({ title: 'empty', xLabel: 'x', yLabel: 'y', bars: [] }),
    ];
    for (const s of svgs) {
      expect(s.startsWith('<svg')).toBe(true);
      const png = await svgToPng(s);
      const meta = await sharp(png).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBeGreaterThan(100);
      const st = await sharp(png).stats();
      expect(st.channels[0].min).toBeLessThan(100); // something dark was drawn
    }
  });
});

describeData('celegans', 'C. elegans analyses vs independent computation', () => {
  it('connection histogram from the raw Cook 2019 file; motifs and reciprocity vs networkx', async () => {
    const { store, dir } = await fresh();
    const file = dataPath('celegans', 'herm_full_edgelist.csv');
    await importEdges(store, [file]);
    // independent: parse the file by hand, chemical + electrical, self-loops dropped
    const lines = readFileSync(file, 'utf8').split('\n').slice(1).filter((l) => l.trim());
    const w = new Map<string, number>();
    for (const l of lines) {
      const f = l.split(',');
      const a = f[0].trim();
      const b = f[1].trim();
      if (a === b) continue;
      w.set(`${a}|${b}`, (w.get(`${a}|${b}`) ?? 0) + Number(f[2]));
    }
    const hist = new Map<number, number>();
    for (const n of w.values()) hist.set(n, (hist.get(n) ?? 0) + 1);
    const h = await connectionHistogram(store, { excludeSelf: true });
    expect(h.pairs).toBe(w.size);
    expect(h.bins).toEqual([...hist].sort((a, b) => a[0] - b[0]).map(([synapses, pairs]) => ({ synapses, pairs })));

    const g = await loadGraph(store);
    expect(g.src.length).toBe(w.size);
    const census = triadCensus(g);
    const edgeFile = path.join(dir, 'edges.txt');
    await writeFile(edgeFile, [...w.keys()].map((k) => k.replace('|', '\t')).join('\n') + '\n');
    const py = spawnSync(
      '/usr/bin/python3',
      ['-c', `import networkx as nx, json, sys
g = nx.DiGraph()
for l in open(sys.argv[1]):
    a, b = l.rstrip('\\n').split('\\t'); g.add_edge(a, b)
r = sum(1 for a, b in g.edges() if g.has_edge(b, a)) // 2
print(json.dumps({"census": nx.triadic_census(g), "reciprocal": r, "n": g.number_of_nodes()}))`, edgeFile],
      { encoding: 'utf8' },
    );
    if (py.status !== 0) {
      console.warn(`[skip] networkx comparison: ${py.stderr.slice(0, 200)}`);
      return;
    }
    const ref = JSON.parse(py.stdout) as { census: Record<string, number>; reciprocal: number; n: number };
    expect(g.n).toBe(ref.n);
    expect(census).toEqual(ref.census);
    expect(reciprocalPairs(g)).toBe(ref.reciprocal);
    const m = await motifs(store, { synapseType: 'chemical', samples: 5, seed: 3 });
    expect(m.triads['003'].observed + m.triads['012'].observed).toBeGreaterThan(0);
  });
});
