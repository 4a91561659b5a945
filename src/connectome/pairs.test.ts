// The pair table (`connections`): kept by every synapse write path, copied with each version,
// and answering connectionColumns / typeMatrix exactly as an aggregate of the synapses would.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { importCave, importEdges } from './import.js';
import { connectionColumns, inPairOrder, typeMatrix, type ConnectionColumns, type SynapseQuery } from './query.js';
import { ConnectomeStore, PAIR_TABLE } from './store.js';

const BASE = 864691135000000000n;
const U64_MAX = (1n << 64n) - 1n;

/** Per pair "pre|post" -> [count, size sum], counted in JS from the synapse rows. */
async function direct(store: ConnectomeStore, version?: number): Promise<Map<string, [number, number]>> {
  const t = await store.tableRef('synapses', version);
  const m = new Map<string, [number, number]>();
  for (const r of await store.all(`SELECT pre_pt_root_id AS a, post_pt_root_id AS b, size AS s FROM ${t}`)) {
    const k = `${r.a}|${r.b}`;
    const e = m.get(k) ?? [0, 0];
    e[0] += 1;
    e[1] += (r.s as number | null) ?? 0;
    m.set(k, e);
  }
  return m;
}

function asMap(c: ConnectionColumns): Map<string, [number, number]> {
  const m = new Map<string, [number, number]>();
  for (let i = 0; i < c.length; i++) m.set(`${c.pre[i]}|${c.post[i]}`, [c.count[i], c.size_sum[i]]);
  return m;
}

function expectPairOrder(c: ConnectionColumns): void {
  for (let i = 1; i < c.length; i++) {
    const ok = c.count[i - 1] !== c.count[i] ? c.count[i - 1] > c.count[i] : c.pre[i - 1] !== c.pre[i] ? c.pre[i - 1] < c.pre[i] : c.post[i - 1] < c.post[i];
    expect(ok).toBe(true);
  }
}

async function pairRows(store: ConnectomeStore, ref: string): Promise<number> {
  return Number((await store.all(`SELECT count(*) AS n FROM ${ref}`))[0].n);
}

function synth(n: number, seed: number, idBase: bigint): { id: BigUint64Array; pre: BigUint64Array; post: BigUint64Array; size: Float64Array; x: Float64Array } {
  let s = seed;
  const r = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const id = new BigUint64Array(n);
  const pre = new BigUint64Array(n);
  const post = new BigUint64Array(n);
  const size = new Float64Array(n);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    id[i] = idBase + BigInt(i);
    const a = Math.floor(r() * 60);
    pre[i] = a === 0 ? U64_MAX : BASE + BigInt(a);
    post[i] = BASE + BigInt(Math.floor(r() ** 2 * 60));
    size[i] = i % 7 === 0 ? NaN : 1 + Math.floor(r() * 50); // NaN = NULL size
    x[i] = i;
  }
  return { id, pre, post, size, x };
}

describe('pair table', () => {
  it('follows every insert, matches a direct count, keeps pair order, and is copied with versions', async () => {
    const dir = await tempDir('wiring-pairs-');
    const store = await ConnectomeStore.open(path.join(dir, 'p.duckdb'));
    try {
      expect(await store.pairTableRef()).toBe(PAIR_TABLE);
      const a = synth(3000, 1, 1n);
      await store.insertColumns('synapses', { id: a.id, pre_pt_root_id: a.pre, post_pt_root_id: a.post, size: a.size, ctr_pt_position_x: a.x, ctr_pt_position_y: a.x, ctr_pt_position_z: a.x }, a.id.length);
      const b = synth(2500, 2, 100000n); // overlapping pairs: merged with the first batch
      await store.insertColumns('synapses', { id: b.id, pre_pt_root_id: b.pre, post_pt_root_id: b.post, size: b.size, ctr_pt_position_x: b.x, ctr_pt_position_y: b.x, ctr_pt_position_z: b.x }, b.id.length);
      // no size column at all
      await store.insertColumns('synapses', { id: new BigUint64Array([5_000_000n, 5_000_001n]), pre_pt_root_id: new BigUint64Array([BASE + 1n, 0n]), post_pt_root_id: new BigUint64Array([BASE + 2n, 0n]) }, 2);
      // CAVE import and edge list go through the same table
      const csv = path.join(dir, 'syn.csv');
      writeFileSync(csv, `id,pre_pt_root_id,post_pt_root_id,size\n500000,${BASE + 1n},${BASE + 2n},4\n500001,${BASE + 1n},${BASE + 1n},5\n`);
      await importCave(store, [csv]);
      const edges = path.join(dir, 'e.csv');
      writeFileSync(edges, 'Source,Target,Weight\nAVAL,AVAR,3\nAVAR,AVAL,1\n');
      await importEdges(store, [edges]);

      const want = await direct(store);
      expect(await store.pairTableRef()).toBe(PAIR_TABLE);
      expect(await pairRows(store, PAIR_TABLE)).toBe(want.size);
      await store.run('SET threads = 2');
      const c = await connectionColumns(store);
      expect(asMap(c)).toEqual(want);
      // the scan runs on one thread; the instance's setting is restored
      expect(Number((await store.all("SELECT current_setting('threads') AS t"))[0].t)).toBe(2);
      expectPairOrder(c);

      // pair-level filters on the pair table agree with the aggregate of the synapses (a box
      // around every synapse forces the aggregate path; edge-list rows have no position)
      const everywhere = { min: [-1, -1, -1] as [number, number, number], max: [1e9, 1e9, 1e9] as [number, number, number] };
      const positioned = (await store.all('SELECT count(*) AS n FROM synapses WHERE ctr_pt_position_x IS NULL'))[0].n;
      expect(Number(positioned)).toBeGreaterThan(0);
      await store.run('CREATE TEMP TABLE hide AS SELECT id FROM synapses WHERE ctr_pt_position_x IS NULL');
      const filters: SynapseQuery[] = [
        { excludeSelf: true },
        { excludeUnassigned: true },
        { pre_ids: [BASE + 1n, U64_MAX] },
        { pre_ids: [BASE + 1n], post_ids: [BASE + 2n, BASE + 3n] },
        { limit: 5 },
      ];
      for (const f of filters) {
        const fast = await connectionColumns(store, { ...f, box: undefined });
        const slow = await connectionColumns(store, { ...f, box: everywhere });
        // the slow path saw only positioned synapses: compare on those pairs
        const fm = asMap(fast);
        const sm = asMap(slow);
        expectPairOrder(fast);
        if (f.limit === undefined) {
          for (const [k, v] of sm) expect(fm.get(k)![0]).toBeGreaterThanOrEqual(v[0]);
          const wantF = [...want].filter(([k]) => {
            const [p, q] = k.split('|').map(BigInt);
            if (f.excludeSelf && p === q) return false;
            if (f.excludeUnassigned && (p === 0n || q === 0n)) return false;
            if (f.pre_ids && !f.pre_ids.includes(p)) return false;
            if (f.post_ids && !f.post_ids.includes(q)) return false;
            return true;
          });
          expect(fm).toEqual(new Map(wantF));
        } else {
          expect(fast.length).toBe(5);
          expect(Array.from(fast.count)).toEqual(Array.from(c.count.subarray(0, 5)));
        }
      }

      // type matrices from the pair table = from the synapses
      await store.insertColumns('cells', { pt_root_id: Array.from({ length: 60 }, (_, i) => BASE + BigInt(i)), cell_type: Array.from({ length: 60 }, (_, i) => `T${i % 3}`) }, 60);
      const typeOf = (id: bigint): string | undefined => (id >= BASE && id < BASE + 60n ? `T${Number(id - BASE) % 3}` : undefined);
      for (const measure of ['count', 'binary', 'size'] as const) {
        const m = await typeMatrix(store, { measure });
        const expected = new Map<string, number>();
        for (const [k, [n, sz]] of want) {
          const [p, q] = k.split('|').map(BigInt);
          const tp = typeOf(p);
          const tq = typeOf(q);
          if (!tp || !tq) continue;
          expected.set(`${tp}>${tq}`, (expected.get(`${tp}>${tq}`) ?? 0) + (measure === 'count' ? n : measure === 'binary' ? 1 : sz));
        }
        const got = new Map<string, number>();
        m.preTypes.forEach((a, i) => m.postTypes.forEach((b, j) => m.values[i][j] && got.set(`${a}>${b}`, m.values[i][j])));
        expect(got).toEqual(expected);
        // a per-synapse filter takes the aggregate path: every synapse has a synapse_type or not, so
        // the two halves add up to the whole
        const t = await typeMatrix(store, { measure, untyped: '?' });
        let total = 0;
        for (const row of t.values) for (const v of row) total += v;
        const w = [...want.values()];
        expect(total).toBe(measure === 'count' ? w.reduce((s, e) => s + e[0], 0) : measure === 'binary' ? w.length : w.reduce((s, e) => s + e[1], 0));
      }
      const chem = await typeMatrix(store, { measure: 'count', untyped: '?', synapseType: 'chemical' });
      expect(chem.values.flat().reduce((x, y) => x + y, 0)).toBe(0); // the edge list had no type column

      // exported and re-imported as a table file: the other store's pair table follows
      const pq = path.join(dir, 'synapses.parquet');
      await store.exportParquet('synapses', pq);
      const other = await ConnectomeStore.open(path.join(dir, 'other.duckdb'));
      try {
        await other.importTable('synapses', pq);
        expect(await other.pairTableRef()).toBe(PAIR_TABLE);
        expect(asMap(await connectionColumns(other))).toEqual(want);
      } finally {
        await other.close();
      }

      // a version keeps its pair table; later inserts change only the live one
      const v = await store.materialize();
      expect(await store.pairTableRef(v.version)).toBe(`${PAIR_TABLE}_v${v.version}`);
      const more = synth(100, 3, 900000n);
      await store.insertColumns('synapses', { id: more.id, pre_pt_root_id: more.pre, post_pt_root_id: more.post, size: more.size }, 100);
      expect(asMap(await connectionColumns(store, { version: v.version }))).toEqual(want);
      expect(asMap(await connectionColumns(store))).toEqual(await direct(store));

      // a failed insert leaves the pair table as it was
      const before = asMap(await connectionColumns(store));
      await expect(store.insertColumns('synapses', { id: new BigUint64Array([5_000_000n]), pre_pt_root_id: new BigUint64Array([1n]), post_pt_root_id: new BigUint64Array([2n]) }, 1)).rejects.toThrow(/already in table synapses/);
      expect(asMap(await connectionColumns(store))).toEqual(before);

      // rows written by raw SQL: the pair table no longer accounts for them, so queries aggregate
      await store.run(`INSERT INTO synapses (id, pre_pt_root_id, post_pt_root_id, size) VALUES (77777777, ${BASE + 1n}, ${BASE + 2n}, 1)`);
      expect(await store.pairTableRef()).toBeUndefined();
      expect(asMap(await connectionColumns(store))).toEqual(await direct(store));
      await store.refreshConnections();
      expect(await store.pairTableRef()).toBe(PAIR_TABLE);
      expect(asMap(await connectionColumns(store))).toEqual(await direct(store));
    } finally {
      await store.close();
    }
  });

  it('a database written before the pair table existed gets it (live and versions) when opened for writing', async () => {
    const dir = await tempDir('wiring-pairs-old-');
    const file = path.join(dir, 'old.duckdb');
    let store = await ConnectomeStore.open(file);
    const a = synth(500, 4, 1n);
    await store.insertColumns('synapses', { id: a.id, pre_pt_root_id: a.pre, post_pt_root_id: a.post, size: a.size }, 500);
    await store.materialize(3);
    await store.run(`DROP TABLE ${PAIR_TABLE}; DROP TABLE ${PAIR_TABLE}_v3`);
    expect(await store.pairTableRef(3)).toBeUndefined();
    const want = asMap(await connectionColumns(store, { version: 3 })); // aggregate path
    expect(asMap(await connectionColumns(store))).toEqual(want);
    await store.close();
    // read-only: no pair table, queries still answer by aggregating
    store = await ConnectomeStore.open(file, { readOnly: true });
    expect(await store.pairTableRef()).toBeUndefined();
    expect(asMap(await connectionColumns(store))).toEqual(want);
    await store.close();
    store = await ConnectomeStore.open(file);
    try {
      expect(await store.pairTableRef()).toBe(PAIR_TABLE);
      expect(await store.pairTableRef(3)).toBe(`${PAIR_TABLE}_v3`);
      expect(asMap(await connectionColumns(store, { version: 3 }))).toEqual(want);
      expectPairOrder(await connectionColumns(store, { version: 3 }));
    } finally {
      await store.close();
    }
  });

  it('inPairOrder: count desc, then pre, then post, on full 64-bit ids (high and low words)', () => {
    const H = 1n << 32n;
    const mk = (rows: [number, bigint, bigint][]) => ({
      length: rows.length,
      count: Float64Array.from(rows.map((r) => r[0])),
      pre: BigUint64Array.from(rows.map((r) => r[1])),
      post: BigUint64Array.from(rows.map((r) => r[2])),
    });
    expect(inPairOrder(mk([]))).toBe(true);
    expect(inPairOrder(mk([[3, 5n, 5n], [2, 1n, 1n], [2, 1n, 2n], [2, H, 0n], [2, H + 1n, 0n], [2, U64_MAX, H - 1n], [2, U64_MAX, H], [1, 0n, 0n]]))).toBe(true);
    expect(inPairOrder(mk([[2, 1n, 1n], [3, 0n, 0n]]))).toBe(false); // count rises
    expect(inPairOrder(mk([[2, H, 0n], [2, H - 1n, 0n]]))).toBe(false); // pre falls in the high word
    expect(inPairOrder(mk([[2, H + 2n, 0n], [2, H + 1n, 5n]]))).toBe(false); // pre falls in the low word
    expect(inPairOrder(mk([[2, 7n, 2n * H], [2, 7n, H]]))).toBe(false); // post falls in the high word
    expect(inPairOrder(mk([[2, 7n, 3n], [2, 7n, 3n]]))).toBe(false); // a repeated pair
    expect(inPairOrder(mk([[2, U64_MAX, U64_MAX - 1n], [2, U64_MAX, U64_MAX]]))).toBe(true);
  });
});
