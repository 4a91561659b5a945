import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { cellInputs, cellOutputs, connectionColumns, connections, resolveCells, synapseQuery, typeMatrix, typeMatrixByCompartment } from './query.js';
import { ConnectomeStore, type SynapseRow } from './store.js';

const BASE = 864691135000000000n; // root ids above 2^53
let store: ConnectomeStore;
const types = ['23P', '4P', 'BC', 'MC'];
const compartments = ['soma', 'spine', 'shaft'];
const cells = Array.from({ length: 12 }, (_, i) => ({ id: BASE + BigInt(i * 7), type: i < 11 ? types[i % 4] : undefined }));
const syns: SynapseRow[] = [];
const tag = new Map<bigint, string>();
const proof = new Map<bigint, { axon: string; dend: string }>();

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

beforeAll(async () => {
  const dir = await tempDir('wiring-query-');
  store = await ConnectomeStore.open(path.join(dir, 'q.duckdb'));
  const r = rng(7);
  for (let i = 0; i < 400; i++) {
    const a = cells[Math.floor(r() * cells.length)].id;
    const b = cells[Math.floor(r() * cells.length)].id;
    const id = BASE * 2n + BigInt(i);
    syns.push({ id, pre_pt_root_id: a, post_pt_root_id: b, pre_pt_position: [i, 0, 0], post_pt_position: [i, 1, 0], ctr_pt_position: [i, 0.5, 0], size: 1 + Math.floor(r() * 100) });
    if (r() < 0.8) tag.set(id, compartments[Math.floor(r() * 3)]);
  }
  await store.insertCells(cells.map((c, i) => ({ id: c.id, pt_position: [i * 1000, 0, 0], cell_type: c.type, name: `cell${i}` })));
  await store.insertSynapses(syns);
  await store.insertCompartmentTags([...tag].map(([synapse_id, compartment]) => ({ synapse_id, compartment })));
  cells.forEach((c, i) => proof.set(c.id, { axon: ['non', 'clean', 'extended'][i % 3], dend: i % 2 ? 'clean' : 'non' }));
  await store.insertProofreading([...proof].map(([pt_root_id, p]) => ({ pt_root_id, status_axon: p.axon, status_dendrite: p.dend })));
});
afterAll(async () => store?.close());

describe('queries', () => {
  it('synapse_query: AND of pre and post lists, self-synapses excluded by choice', async () => {
    const pre = [cells[0].id, cells[3].id];
    const post = [cells[3].id, cells[5].id, cells[0].id];
    const want = syns.filter((s) => pre.includes(s.pre_pt_root_id) && post.includes(s.post_pt_root_id));
    const got = await synapseQuery(store, { pre_ids: pre, post_ids: post });
    expect(got.map((s) => s.id)).toEqual(want.map((s) => s.id));
    expect(want.some((s) => s.pre_pt_root_id === s.post_pt_root_id)).toBe(true);
    const noSelf = await synapseQuery(store, { pre_ids: pre, post_ids: post, excludeSelf: true });
    expect(noSelf.map((s) => s.id)).toEqual(want.filter((s) => s.pre_pt_root_id !== s.post_pt_root_id).map((s) => s.id));
    expect(got[0].ctr_pt_position).toEqual(want[0].ctr_pt_position);
    expect(await synapseQuery(store, { pre_ids: [] })).toEqual([]);
    expect((await synapseQuery(store, {})).length).toBe(400);
  });

  it('synapses in a box (nm, half-open, on ctr_pt_position)', async () => {
    const got = await synapseQuery(store, { box: { min: [10, 0, -1], max: [20, 1, 1] } });
    expect(got.map((s) => s.id)).toEqual(syns.filter((s) => s.ctr_pt_position[0] >= 10 && s.ctr_pt_position[0] < 20).map((s) => s.id));
    expect(got.length).toBe(10);
    expect((await synapseQuery(store, { box: { min: [10, 0.6, -1], max: [20, 1, 1] } })).length).toBe(0);
  });

  it('inputs and outputs of a cell', async () => {
    const c = cells[4].id;
    expect((await cellInputs(store, c)).map((s) => s.id)).toEqual(syns.filter((s) => s.post_pt_root_id === c).map((s) => s.id));
    expect((await cellOutputs(store, c)).map((s) => s.id)).toEqual(syns.filter((s) => s.pre_pt_root_id === c).map((s) => s.id));
  });

  it('connections: count and summed size per pair', async () => {
    const m = new Map<string, { n: number; s: number }>();
    for (const s of syns) {
      const k = `${s.pre_pt_root_id}|${s.post_pt_root_id}`;
      const e = m.get(k) ?? { n: 0, s: 0 };
      e.n++;
      e.s += s.size;
      m.set(k, e);
    }
    const got = await connections(store);
    expect(got.length).toBe(m.size);
    for (const g of got) expect({ n: g.count, s: g.size_sum }).toEqual(m.get(`${g.pre_pt_root_id}|${g.post_pt_root_id}`));
    for (let i = 1; i < got.length; i++) expect(got[i - 1].count).toBeGreaterThanOrEqual(got[i].count);
  });

  it('connectionColumns: the same pairs as connections, as typed arrays, sorted by count desc then ids', async () => {
    for (const q of [{}, { pre_ids: [cells[0].id, cells[3].id] }, { excludeSelf: true, limit: 5 }]) {
      const objs = await connections(store, q);
      const c = await connectionColumns(store, q);
      expect(c.pre).toBeInstanceOf(BigUint64Array);
      expect(c.count).toBeInstanceOf(Float64Array);
      expect(c.length).toBe(objs.length);
      const asObjs = Array.from({ length: c.length }, (_, i) => ({
        pre_pt_root_id: c.pre[i], post_pt_root_id: c.post[i], count: c.count[i], size_sum: c.size_sum[i], pre_name: c.pre_name![i], post_name: c.post_name![i],
      }));
      expect(asObjs).toEqual(objs);
      for (let i = 1; i < c.length; i++) {
        const order = c.count[i - 1] !== c.count[i] ? c.count[i - 1] > c.count[i] : c.pre[i - 1] !== c.pre[i] ? c.pre[i - 1] < c.pre[i] : c.post[i - 1] < c.post[i];
        expect(order).toBe(true);
      }
    }
  });

  it('connectionColumns: results over several DuckDB chunks (> 2048 pairs) keep every pair and exact ids', async () => {
    const dir = await tempDir('wiring-query-cols-');
    const s2 = await ConnectomeStore.open(path.join(dir, 'c.duckdb'));
    try {
      const n = 5000;
      const pre = new BigUint64Array(n);
      const post = new BigUint64Array(n);
      const id = new BigUint64Array(n);
      const size = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        id[i] = BASE + BigInt(i);
        pre[i] = BASE + BigInt(i % 3001) * 3n + 1n; // 3001 pairs, some with 2 synapses
        post[i] = BASE + BigInt(i % 3001);
        size[i] = i;
      }
      await s2.insertColumns('synapses', { id, pre_pt_root_id: pre, post_pt_root_id: post, size }, n);
      const c = await connectionColumns(s2);
      expect(c.length).toBe(3001);
      let total = 0;
      for (let i = 0; i < c.length; i++) {
        total += c.count[i];
        const k = Number(c.post[i] - BASE);
        expect(c.pre[i]).toBe(BASE + BigInt(k) * 3n + 1n);
        expect(c.size_sum[i]).toBe(k + 3001 < n ? k + (k + 3001) : k);
      }
      expect(total).toBe(n);
      expect(await connections(s2)).toEqual(Array.from({ length: c.length }, (_, i) => ({
        pre_pt_root_id: c.pre[i], post_pt_root_id: c.post[i], count: c.count[i], size_sum: c.size_sum[i], pre_name: null, post_name: null,
      })));
      // with cell names (edge-list cells): the names are joined
      const named = new BigUint64Array([post[0], pre[1]]);
      await s2.insertColumns('cells', { pt_root_id: named, name: ['AVAL', 'RIH'] }, 2);
      const cn = await connectionColumns(s2);
      expect(cn.length).toBe(3001);
      for (let i = 0; i < cn.length; i++) {
        const nameOf = (x: bigint): string | null => (x === post[0] ? 'AVAL' : x === pre[1] ? 'RIH' : null);
        expect(cn.post_name![i]).toBe(nameOf(cn.post[i]));
        expect(cn.pre_name![i]).toBe(nameOf(cn.pre[i]));
      }
      expect(Array.from(cn.pre)).toEqual(Array.from(c.pre));
    } finally {
      await s2.close();
    }
  });

  it('type matrices: count, binary, size; untyped cells left out or grouped', async () => {
    const typeOf = new Map(cells.map((c) => [c.id, c.type]));
    const T = [...types].sort();
    const expectM = (measure: string, filter: (s: SynapseRow) => boolean = () => true) => {
      const v = T.map(() => T.map(() => 0));
      const pairs = new Set<string>();
      for (const s of syns) {
        const a = typeOf.get(s.pre_pt_root_id);
        const b = typeOf.get(s.post_pt_root_id);
        if (!a || !b || !filter(s)) continue;
        const i = T.indexOf(a);
        const j = T.indexOf(b);
        if (measure === 'count') v[i][j]++;
        else if (measure === 'size') v[i][j] += s.size;
        else if (!pairs.has(`${s.pre_pt_root_id}|${s.post_pt_root_id}`)) {
          pairs.add(`${s.pre_pt_root_id}|${s.post_pt_root_id}`);
          v[i][j]++;
        }
      }
      return v;
    };
    for (const measure of ['count', 'binary', 'size'] as const) {
      const m = await typeMatrix(store, { measure });
      expect(m.preTypes).toEqual(T);
      expect(m.postTypes).toEqual(T);
      expect(m.values).toEqual(expectM(measure));
    }
    const prob = await typeMatrix(store, { measure: 'probability' });
    const bin = expectM('binary', (s) => s.pre_pt_root_id !== s.post_pt_root_id);
    const nOf = (t: string) => cells.filter((c) => c.type === t).length;
    T.forEach((a, i) => T.forEach((b, j) => expect(prob.values[i][j]).toBeCloseTo(bin[i][j] / (nOf(a) * nOf(b) - (a === b ? nOf(a) : 0)), 12)));
    const withU = await typeMatrix(store, { untyped: '?' });
    const total = withU.values.flat().reduce((a, b) => a + b, 0);
    expect(total).toBe(400);
    expect(withU.preTypes).toContain('?');
    const split = await typeMatrixByCompartment(store, { measure: 'count' });
    expect(Object.keys(split).sort()).toEqual(['shaft', 'soma', 'spine', 'untagged']);
    for (const c of compartments) expect(split[c].values).toEqual(expectM('count', (s) => tag.get(s.id) === c));
    expect(split.untagged.values).toEqual(expectM('count', (s) => !tag.has(s.id)));
  });

  it('filters by proofreading status and compartment tag', async () => {
    const got = await synapseQuery(store, { preProofread: ['clean', 'extended'], postProofread: ['clean'], compartments: ['spine', 'soma'] });
    const want = syns.filter(
      (s) => ['clean', 'extended'].includes(proof.get(s.pre_pt_root_id)!.axon) && proof.get(s.post_pt_root_id)!.dend === 'clean' && ['spine', 'soma'].includes(tag.get(s.id) ?? ''),
    );
    expect(want.length).toBeGreaterThan(0);
    expect(got.map((s) => s.id)).toEqual(want.map((s) => s.id));
  });

  it('resolves cells by name or id; unknown names are an error', async () => {
    expect(await resolveCells(store, ['cell3', String(BASE)])).toEqual([cells[3].id, BASE]);
    await expect(resolveCells(store, ['nope'])).rejects.toThrow(/no cell named "nope"/);
  });

  it('queries a materialized version', async () => {
    const v = await store.materialize();
    await store.insertSynapses([{ ...syns[0], id: 1n }]);
    expect((await synapseQuery(store, { version: v.version })).length).toBe(400);
    expect((await synapseQuery(store, {})).length).toBe(401);
  });
});
