import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { cells, connections } from '../connectome/query.js';
import { ConnectomeStore } from '../connectome/store.js';
import { PartnerIndex } from './partners.js';

let store: ConnectomeStore;
const ids: bigint[] = [];

beforeAll(async () => {
  store = await ConnectomeStore.open(path.join(await tempDir('wiring-partners-'), 'c.duckdb'));
  let a = 99;
  const rand = () => ((a = (a * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 60; i++) ids.push((1n << 63n) + BigInt(i * 977));
  // some cells typed, some not; partners and cells outside the cells table
  await store.insertCells(ids.slice(0, 50).map((id, i) => ({ id, pt_position: [i, 0, 0], cell_type: i % 3 ? `T${i % 4}` : undefined })));
  const rows = [];
  for (let i = 0; i < 3000; i++) {
    const pre = ids[Math.floor(rand() ** 2 * ids.length)];
    const post = ids[Math.floor(rand() * ids.length)];
    rows.push({ id: BigInt(i + 1), pre_pt_root_id: pre, post_pt_root_id: post, pre_pt_position: [0, 0, 0] as const, post_pt_position: [0, 0, 0] as const, ctr_pt_position: [0, 0, 0] as const, size: i % 7 === 0 ? 0 : 1 + (i % 13) });
  }
  await store.insertSynapses(rows);
});
afterAll(async () => {
  await store?.close();
});

describe('PartnerIndex', () => {
  it('gives the same partners, counts, sizes, types and order as the SQL queries', async () => {
    const ix = await PartnerIndex.build(store);
    expect(ix).not.toBeNull();
    const types = new Map((await cells(store)).map((c) => [c.pt_root_id, c.cell_type]));
    for (const id of [...ids, 5n]) {
      const got = ix!.partners(id);
      const inputs = (await connections(store, { post_ids: [id] })).map((c) => ({ id: c.pre_pt_root_id, cell_type: types.get(c.pre_pt_root_id) ?? null, count: c.count, size_sum: c.size_sum }));
      const outputs = (await connections(store, { pre_ids: [id] })).map((c) => ({ id: c.post_pt_root_id, cell_type: types.get(c.post_pt_root_id) ?? null, count: c.count, size_sum: c.size_sum }));
      expect(got.inputs, `inputs of ${id}`).toEqual(inputs);
      expect(got.outputs, `outputs of ${id}`).toEqual(outputs);
    }
  });
  it('declines datasets with more pairs than the limit', async () => {
    expect(await PartnerIndex.build(store, 10)).toBeNull();
  });
  it('works on an empty connectome', async () => {
    const empty = await ConnectomeStore.open(path.join(await tempDir('wiring-partners-empty-'), 'e.duckdb'));
    try {
      const ix = await PartnerIndex.build(empty);
      expect(ix!.connections).toBe(0);
      expect(ix!.partners(1n)).toEqual({ inputs: [], outputs: [] });
    } finally {
      await empty.close();
    }
  });
});
