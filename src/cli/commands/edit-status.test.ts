// `wiring edit status`: set a cell's proofreading status, list the statuses of a version.
import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../../../test/cli-in-process.js';
import { tempDir } from '../../../test/data.js';
import { initProofread } from '../../stages/proofread/io.js';
import { blockSv, writeBlocksDataset } from '../../stages/proofread/testing.js';
import { register as registerEdit } from './edit.js';
import { register as registerConnectome } from './connectome.js';
import { register as registerQuery } from './query.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { blockSeg } from '../../stages/proofread/testing.js';
import { ProofreadService } from '../../stages/proofread/service.js';
import { buildServer } from '../../server/app.js';

let dir: string;
const cli = async (args: string[]): Promise<any> => JSON.parse(await runInProcess([registerEdit, registerConnectome, registerQuery], [...args, '--json']));

beforeAll(async () => {
  dir = await tempDir('proofread-status-');
  const inp = await writeBlocksDataset(dir);
  await initProofread(dir, { supervoxels: inp.sv, segmentation: inp.seg, boundaries: inp.boundary });
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('wiring edit status', () => {
  it('sets and lists statuses by version; bad values and stale roots are refused by name', async () => {
    const set = await cli(['edit', 'status', dir, '100', '--axon', 'clean', '--user', 'bo']);
    expect(set).toMatchObject({ op: 0, root: '100', status_axon: 'clean', user: 'bo' });
    await cli(['edit', 'status', dir, '100', '--dendrite', 'extended']);
    expect((await cli(['edit', 'status', dir])).statuses).toEqual([expect.objectContaining({ root: '100', status_axon: 'clean', status_dendrite: 'extended' })]);
    await expect(cli(['edit', 'status', dir, '100', '--axon', 'finished'])).rejects.toThrow(/status_axon: expected one of non, clean, extended, got "finished"/);
    await expect(cli(['edit', 'status', dir, '--axon', 'clean'])).rejects.toThrow(/give the root id/);
    await expect(cli(['edit', 'status', dir, '999', '--axon', 'clean'])).rejects.toThrow(/not a root id/);
    // a merge retires root 100: the latest has no status for it, version 0 keeps it, a new status on 100 is stale
    const m = await cli(['edit', 'merge', dir, blockSv(0, 0, 0).toString(), blockSv(0, 1, 0).toString(), '--no-derive']);
    expect(m.retired).toContain('100');
    expect((await cli(['edit', 'status', dir])).statuses).toEqual([]);
    expect((await cli(['edit', 'status', dir, '100', '--at', '0'])).statuses).toHaveLength(1);
    await expect(cli(['edit', 'status', dir, '100', '--axon', 'non'])).rejects.toThrow(/stale: operation 1 retired it/);
    const lines = (await fs.readFile(`${dir}/proofread/status.jsonl`, 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
  });
});

describe('statuses reach the connectome store', () => {
  it('the live proofreading table (query --pre-proofread sees them) and proofreading_op<N> as of a version', async () => {
    const d = await tempDir('proofread-status-store-');
    try {
      const inp = await writeBlocksDataset(d);
      // synapses between the blocks' start segments, with the supervoxels under their points
      const db = `${d}/connectome.duckdb`;
      const store = await ConnectomeStore.open(db);
      const pt = (bx: number, by: number, bz: number): [number, number, number] => [(4 * bx + 1.5) * 8, (4 * by + 1.5) * 8, (4 * bz + 1.5) * 30];
      const pairs: Array<[[number, number, number], [number, number, number]]> = [[[0, 0, 0], [2, 0, 0]], [[0, 1, 0], [2, 1, 0]], [[2, 2, 0], [0, 2, 0]], [[0, 0, 1], [0, 1, 1]]];
      await store.insertSynapses(pairs.map(([a, b], i) => ({ id: BigInt(i + 1), pre_pt_root_id: blockSeg(...a), post_pt_root_id: blockSeg(...b), pre_pt_position: pt(...a), post_pt_position: pt(...b), ctr_pt_position: pt(...a), size: 10, pre_pt_supervoxel_id: blockSv(...a), post_pt_supervoxel_id: blockSv(...b) })));
      // a row imported from elsewhere (CAVE) for a cell proofreading does not touch: kept
      await store.insertProofreading([{ pt_root_id: 999n, status_axon: 'clean' }, { pt_root_id: 100n, status_axon: 'non' }]);
      await store.close();
      await cli(['edit', 'init', d, '--supervoxels', inp.sv, '--segmentation', inp.seg, '--db', db]);
      await cli(['edit', 'status', d, '100', '--axon', 'clean']);
      await cli(['edit', 'status', d, '103', '--dendrite', 'extended']);
      // before: the live table says 100's axon is 'non'
      expect((await cli(['query', db, 'synapses', '--pre-proofread', 'clean'])).map((r: any) => r.id)).toEqual([]);
      const w = await cli(['edit', 'status', d, '--to-store', db]);
      expect(w).toMatchObject({ op: 0, rows: 2, replaced: 1 });
      expect((await cli(['query', db, 'synapses', '--pre-proofread', 'clean'])).map((r: any) => r.id)).toEqual(['1']);
      expect((await cli(['query', db, 'synapses', '--post-proofread', 'extended'])).map((r: any) => r.id)).toEqual(['2']);
      // writing again replaces, never duplicates
      expect(await cli(['edit', 'status', d, '--to-store', db])).toMatchObject({ rows: 2, replaced: 2 });
      // a merge retires 100 (100 + 102): version 1 has no status for the new root; version 0 keeps 100's
      await cli(['edit', 'merge', d, blockSv(0, 0, 0).toString(), blockSv(0, 1, 0).toString(), '--no-derive']);
      const v1 = await cli(['connectome', 'materialize', db, '--at', '1', '--proofread', d]);
      expect(v1).toMatchObject({ op: 1, statuses: 1 });
      expect(v1.tables.proofreading).toBe('proofreading_op1');
      const v0 = await cli(['connectome', 'materialize', db, '--at', '0', '--proofread', d]);
      expect(v0.statuses).toBe(2);
      const s2 = await ConnectomeStore.open(db, { readOnly: true });
      try {
        const rows = async (t: string) => (await s2.all(`SELECT pt_root_id::VARCHAR AS r, status_axon AS a, status_dendrite AS d FROM ${t} ORDER BY pt_root_id`)).map((r) => `${r.r}:${r.a}:${r.d}`);
        expect(await rows('proofreading_op0')).toEqual(['100:clean:null', '103:null:extended']);
        expect(await rows('proofreading_op1')).toEqual(['103:null:extended']);
        expect(await rows('proofreading')).toEqual(['100:clean:null', '103:null:extended', '999:clean:null']);
        // the version's synapses filtered on its proofread cells, as wiring query filters the live ones
        const pre = async (op: number) => (await s2.all(`SELECT id::VARCHAR AS id FROM synapses_op${op} WHERE pre_pt_root_id IN (SELECT pt_root_id FROM proofreading_op${op} WHERE status_axon = 'clean') ORDER BY id`)).map((r) => r.id);
        expect(await pre(0)).toEqual(['1']);
        expect(await pre(1)).toEqual([]);
      } finally {
        await s2.close();
      }
      await expect(cli(['edit', 'status', d, '--to-store', `${d}/missing.duckdb`])).rejects.toThrow(/database file not found/);
    } finally {
      await fs.rm(d, { recursive: true, force: true });
    }
  });

  it('a status set from the app (the server\'s status route) reaches the live proofreading table, with the root\'s merged values', async () => {
    const d = await tempDir('proofread-status-route-');
    try {
      const inp = await writeBlocksDataset(d);
      const db = `${d}/connectome.duckdb`;
      const store = await ConnectomeStore.open(db);
      const pt = (bx: number, by: number, bz: number): [number, number, number] => [(4 * bx + 1.5) * 8, (4 * by + 1.5) * 8, (4 * bz + 1.5) * 30];
      const pairs: Array<[[number, number, number], [number, number, number]]> = [[[0, 0, 0], [2, 0, 0]], [[0, 1, 0], [2, 1, 0]]];
      await store.insertSynapses(pairs.map(([a, b], i) => ({ id: BigInt(i + 1), pre_pt_root_id: blockSeg(...a), post_pt_root_id: blockSeg(...b), pre_pt_position: pt(...a), post_pt_position: pt(...b), ctr_pt_position: pt(...a), size: 10, pre_pt_supervoxel_id: blockSv(...a), post_pt_supervoxel_id: blockSv(...b) })));
      await store.insertProofreading([{ pt_root_id: 999n, status_axon: 'clean' }, { pt_root_id: 100n, status_axon: 'non' }]);
      await store.close();
      await cli(['edit', 'init', d, '--supervoxels', inp.sv, '--segmentation', inp.seg, '--db', db]);
      const svc = await ProofreadService.open(d);
      // an edit server that writes statuses into its store (wiring serve with a token does)
      const app = await buildServer({ dataset: d, proofread: { backend: svc, token: 't', statusesToStore: true } });
      try {
        const post = (body: unknown, headers: Record<string, string> = { authorization: 'Bearer t' }) => app.inject({ method: 'POST', url: '/api/proofread/status', payload: body as Record<string, unknown>, headers });
        expect((await post({ root: '100', status_axon: 'clean' }, {})).statusCode).toBe(401);
        const r1 = await post({ root: '100', status_axon: 'clean' });
        expect(r1.statusCode).toBe(200);
        expect(r1.json()).toMatchObject({ root: '100', status_axon: 'clean', store: { rows: 1, replaced: 1 } });
        // a second value of the same root: its row holds both (the merged status), still one row
        expect((await post({ root: '100', status_dendrite: 'extended' })).json()).toMatchObject({ store: { rows: 1, replaced: 1 } });
        expect((await post({ root: '999', status_axon: 'clean' })).statusCode).toBe(400); // not a root of this segmentation: refused, table unchanged
      } finally {
        await app.close();
        await svc.close();
      }
      // a query filtering on proofread cells sees it, no materialize, no --to-store
      expect((await cli(['query', db, 'synapses', '--pre-proofread', 'clean'])).map((r: any) => r.id)).toEqual(['1']);
      const s2 = await ConnectomeStore.open(db, { readOnly: true });
      try {
        const rows = (await s2.all(`SELECT pt_root_id::VARCHAR AS r, status_axon AS a, status_dendrite AS d FROM proofreading ORDER BY pt_root_id`)).map((r) => `${r.r}:${r.a}:${r.d}`);
        expect(rows).toEqual(['100:clean:extended', '999:clean:null']);
      } finally {
        await s2.close();
      }
      // without statusesToStore (a server built by hand, read-only store) the route writes status.jsonl only
      const svc2 = await ProofreadService.open(d);
      const app2 = await buildServer({ dataset: d, proofread: { backend: svc2, token: 't' } });
      try {
        const r = await app2.inject({ method: 'POST', url: '/api/proofread/status', payload: { root: '101', status_axon: 'clean' }, headers: { authorization: 'Bearer t' } });
        expect(r.statusCode).toBe(200);
        expect(r.json().store).toBeUndefined();
      } finally {
        await app2.close();
        await svc2.close();
      }
    } finally {
      await fs.rm(d, { recursive: true, force: true });
    }
  });
});
