import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { ConnectomeStore, type SynapseRow } from './store.js';

const BIG = (1n << 63n) + 12345n; // > 2^53: would be corrupted by a JS number
const open: ConnectomeStore[] = [];
async function fresh(): Promise<{ store: ConnectomeStore; dir: string }> {
  const dir = await tempDir('wiring-store-');
  const store = await ConnectomeStore.open(path.join(dir, 'ds.duckdb'));
  open.push(store);
  return { store, dir };
}
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

function syn(id: bigint, pre: bigint, post: bigint, size = 10): SynapseRow {
  return {
    id,
    pre_pt_root_id: pre,
    post_pt_root_id: post,
    pre_pt_position: [1, 2, 3],
    post_pt_position: [4, 5, 6],
    ctr_pt_position: [2.5, 3.5, 4.5],
    size,
    pre_pt_supervoxel_id: pre + 1n,
  };
}

describe('ConnectomeStore', () => {
  it('creates the file and schema; an empty store has empty tables', async () => {
    const { store, dir } = await fresh();
    expect(existsSync(path.join(dir, 'ds.duckdb'))).toBe(true);
    expect(await store.count('synapses')).toBe(0);
    expect(await store.count('cells')).toBe(0);
    await store.insertSynapses([]); // empty insert is a no-op
    expect(await store.count('synapses')).toBe(0);
  });

  it('keeps ids above 2^53 exact (UBIGINT <-> bigint) and positions in nm', async () => {
    const { store } = await fresh();
    await store.insertSynapses([syn(BIG, BIG + 1n, (1n << 64n) - 1n), syn(1n, 2n, 3n)]);
    const rows = await store.all('SELECT * FROM synapses ORDER BY id');
    expect(rows[1].id).toBe(BIG);
    expect(rows[1].pre_pt_root_id).toBe(BIG + 1n);
    expect(rows[1].post_pt_root_id).toBe((1n << 64n) - 1n);
    expect(rows[1].pre_pt_supervoxel_id).toBe(BIG + 2n);
    expect(rows[0].post_pt_supervoxel_id).toBeNull();
    expect([rows[0].ctr_pt_position_x, rows[0].ctr_pt_position_y, rows[0].ctr_pt_position_z]).toEqual([2.5, 3.5, 4.5]);
    const types = await store.all(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'synapses'`);
    expect(types.find((t) => t.column_name === 'id')!.data_type).toBe('UBIGINT');
  });

  it('rejects JS numbers as ids, wrong arity and duplicates, leaving the table unchanged', async () => {
    const { store } = await fresh();
    await store.insertSynapses([syn(1n, 2n, 3n)]);
    const bad = syn(5n, 2n, 3n) as unknown as Record<string, unknown>;
    bad.pre_pt_root_id = 7;
    await expect(store.insertSynapses([syn(4n, 2n, 3n), bad as unknown as SynapseRow])).rejects.toThrow(/row 2, column pre_pt_root_id: expected a bigint/);
    const arity = { ...syn(6n, 2n, 3n), ctr_pt_position: [1, 2] as unknown as [number, number, number] };
    await expect(store.insertSynapses([arity])).rejects.toThrow(/row 1: ctr_pt_position must be \[x, y, z\]/);
    await expect(store.insertSynapses([syn(7n, 1n, 1n), syn(8n, 1n, 1n), syn(7n, 1n, 1n)], { where: 'f.csv', rowLabel: 'line', rowNumbers: [2, 3, 4] })).rejects.toThrow(
      /f\.csv: line 4: duplicate id 7 \(already at line 2\)/,
    );
    await expect(store.insertSynapses([syn(9n, 1n, 1n), syn(1n, 1n, 1n)])).rejects.toThrow(/row 2: id 1 is already in table synapses/);
    expect(await store.count('synapses')).toBe(1);
    expect((await store.all('SELECT id FROM synapses'))[0].id).toBe(1n);
  });

  it('stores cells, organelles, compartment tags and proofreading', async () => {
    const { store } = await fresh();
    await store.insertCells([{ id: BIG, pt_position: [10, 20, 30], cell_type: '23P', classification_system: 'aibs', volume: 1e9 }]);
    expect(await store.organelleCounts()).toEqual({});
    await store.insertOrganelles([{ id: 1n, kind: 'mitochondrion', pt_position: [1, 1, 1], size: 50, host_root_id: BIG }]);
    await expect(store.insertOrganelles([{ id: 2n, kind: 'golgi' as 'mitochondrion', pt_position: [1, 1, 1], size: 5, host_root_id: 1n }])).rejects.toThrow(/kind "golgi"/);
    await store.insertCompartmentTags([{ synapse_id: 1n, compartment: 'soma' }]);
    await store.insertProofreading([{ pt_root_id: BIG, status_axon: 'extended', status_dendrite: 'clean' }]);
    const c = await store.all('SELECT * FROM cells');
    expect(c[0]).toMatchObject({ pt_root_id: BIG, pt_position_x: 10, cell_type: '23P', volume: 1e9 });
    expect(await store.count('organelles')).toBe(1);
    expect(await store.organelleCounts()).toEqual({ mitochondrion: 1 });
    await store.insertOrganelles([
      { id: 3n, kind: 'vesicle_cloud', pt_position: [2, 2, 2], size: 20, host_root_id: BIG },
      { id: 4n, kind: 'mitochondrion', pt_position: [3, 3, 3], size: 40, host_root_id: BIG },
    ]);
    expect(await store.organelleCounts()).toEqual({ mitochondrion: 2, vesicle_cloud: 1 });
    expect(await store.count('compartment_tags')).toBe(1);
    expect((await store.all('SELECT status_axon FROM proofreading'))[0].status_axon).toBe('extended');
  });

  it('columnar insert of typed arrays', async () => {
    const { store } = await fresh();
    const n = 5000;
    const id = new BigUint64Array(n);
    const pre = new BigUint64Array(n);
    const post = new BigUint64Array(n);
    const size = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      id[i] = BIG + BigInt(i);
      pre[i] = BigInt(i % 7);
      post[i] = BigInt(i % 11);
      size[i] = i;
    }
    size[3] = NaN; // NaN in a float column is NULL
    await store.insertColumns('synapses', { id, pre_pt_root_id: pre, post_pt_root_id: post, size }, n);
    const r = await store.all('SELECT count(*) AS n, count(size) AS ns, sum(size) AS s, max(id) AS m FROM synapses');
    expect(Number(r[0].n)).toBe(n);
    expect(Number(r[0].ns)).toBe(n - 1);
    expect(r[0].s).toBe((n * (n - 1)) / 2 - 3);
    const rows = await store.all('SELECT id, pre_pt_root_id, post_pt_root_id FROM synapses ORDER BY id LIMIT 3000');
    rows.forEach((row, i) => expect([row.id, row.pre_pt_root_id, row.post_pt_root_id]).toEqual([id[i], pre[i], post[i]]));
    expect(r[0].m).toBe(BIG + BigInt(n - 1));
  });

  it('materialized versions are snapshots and cannot be rewritten', async () => {
    const { store } = await fresh();
    await store.insertSynapses([syn(1n, 2n, 3n)]);
    const v1 = await store.materialize(undefined, 'first');
    expect(v1.version).toBe(1);
    expect(v1.counts.synapses).toBe(1);
    await store.insertSynapses([syn(2n, 2n, 3n)]);
    await expect(store.materialize(1)).rejects.toThrow(/version 1 already exists/);
    const v2 = await store.materialize();
    expect(v2.version).toBe(2);
    expect(await store.count('synapses', 1)).toBe(1);
    expect(await store.count('synapses', 2)).toBe(2);
    expect(await store.count('synapses')).toBe(2);
    await expect(store.count('synapses', 7)).rejects.toThrow(/version 7 does not exist/);
    expect((await store.versions()).map((v) => v.version)).toEqual([1, 2]);
  });

  it('exports and re-imports Parquet and CSV exactly; bad CSV names line and column', async () => {
    const { store, dir } = await fresh();
    await store.insertSynapses([syn(BIG, BIG, 3n, 7), syn(2n, 3n, BIG, 9)]);
    await store.insertCells([{ id: BIG, pt_position: [1, 2, 3], cell_type: 'a, "quoted"' }]);
    const pq = path.join(dir, 'syn.parquet');
    const csv = path.join(dir, 'syn.csv');
    const cellsCsv = path.join(dir, 'cells.csv');
    await store.exportParquet('synapses', pq);
    await store.exportCsv('synapses', csv);
    await store.exportCsv('cells', cellsCsv);
    // CAVE's `valid` column, true on every exported synapse
    const { readFile } = await import('node:fs/promises');
    const [header, ...lines] = (await readFile(csv, 'utf8')).trim().split('\n');
    expect(header.split(',').at(-1)).toBe('valid');
    expect(lines.map((l) => l.split(',').at(-1))).toEqual(['true', 'true']);
    expect((await store.all(`SELECT DISTINCT valid FROM read_parquet('${pq}')`)).map((r) => r.valid)).toEqual([true]);
    for (const f of [pq, csv]) {
      const other = await ConnectomeStore.open(path.join(dir, `re-${path.basename(f)}.duckdb`));
      open.push(other);
      expect(await other.importTable('synapses', f)).toBe(2);
      const a = await store.all('SELECT * FROM synapses ORDER BY id');
      const b = await other.all('SELECT * FROM synapses ORDER BY id');
      expect(b).toEqual(a);
      await expect(other.importTable('synapses', f)).rejects.toThrow(/is already in table synapses/);
      expect(await other.count('synapses')).toBe(2);
    }
    const other = await ConnectomeStore.open(path.join(dir, 'cells.duckdb'));
    open.push(other);
    await other.importTable('cells', cellsCsv);
    expect((await other.all('SELECT cell_type, pt_root_id FROM cells'))[0]).toEqual({ cell_type: 'a, "quoted"', pt_root_id: BIG });
    const { writeFile } = await import('node:fs/promises');
    const badCsv = path.join(dir, 'bad.csv');
    await writeFile(badCsv, 'id,pre_pt_root_id,post_pt_root_id\n1,2,3\n2,99999999999999999999,3\n');
    await expect(other.importTable('synapses', badCsv)).rejects.toThrow(/bad\.csv: line 3, column pre_pt_root_id: "99999999999999999999" is not a valid UBIGINT/);
    expect(await other.count('synapses')).toBe(0);
  });

  it('opens read-only: reads work, writes fail, a missing file is an error', async () => {
    const { store, dir } = await fresh();
    await store.insertSynapses([syn(1n, 2n, 3n)]);
    await store.close();
    open.pop();
    const ro = await ConnectomeStore.open(path.join(dir, 'ds.duckdb'), { readOnly: true });
    open.push(ro);
    expect(await ro.count('synapses')).toBe(1);
    await expect(ro.insertSynapses([syn(2n, 2n, 3n)])).rejects.toThrow();
    await expect(ConnectomeStore.open(path.join(dir, 'none.duckdb'), { readOnly: true })).rejects.toThrow(/database file not found/);
  });

  it('streams a whole result while other queries run on the store (a shared-connection stream would end early)', async () => {
    const { store } = await fresh();
    const threads = (await store.all("SELECT current_setting('threads') AS t"))[0].t;
    let done = false;
    const streamed = Promise.all([
      store.streamChunks('SELECT range AS x FROM range(300000)', [], { singleThread: true }),
      store.streamChunks('SELECT range AS x FROM range(1000)', [], { singleThread: true }),
    ]).finally(() => (done = true));
    let others = 0;
    while (!done) {
      expect((await store.all('SELECT 41 + 1 AS v'))[0].v).toBe(42);
      others++;
    }
    const rows = (await streamed).map((chunks) => chunks.reduce((n, c) => n + c.rowCount, 0));
    expect(rows).toEqual([300000, 1000]);
    expect(others).toBeGreaterThan(0);
    // the thread setting is back once the last single-thread stream ended
    expect((await store.all("SELECT current_setting('threads') AS t"))[0].t).toBe(threads);
    // inside a transaction the stream sees the transaction's own writes
    await store.transaction(async () => {
      await store.run('CREATE TABLE t_stream AS SELECT range AS x FROM range(5)');
      const chunks = await store.streamChunks('SELECT x FROM t_stream');
      expect(chunks.reduce((n, c) => n + c.rowCount, 0)).toBe(5);
    });
  });

  it('reopens an existing file with its data', async () => {
    const { store, dir } = await fresh();
    await store.insertSynapses([syn(1n, 2n, 3n)]);
    await store.close();
    open.pop();
    const again = await ConnectomeStore.open(path.join(dir, 'ds.duckdb'));
    open.push(again);
    expect(await again.count('synapses')).toBe(1);
  });
});
