// The proofreading routes end to end: the stage's service behind fastify, as `wiring serve` wires them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { tempDir } from '../../../test/data.js';
import { buildServer, registeredRoutes } from '../../server/app.js';
import { fastifyPath } from '../../server/schema.js';
import { derivingBackend } from '../proofread-derive.js';
import { existsSync } from 'node:fs';
import { initProofread } from '../../stages/proofread/io.js';
import { ProofreadService } from '../../stages/proofread/service.js';
import { blockSvIn, writeBlocksDataset } from '../../stages/proofread/testing.js';
import type { Vec3 } from '../../core/box.js';

const BLOCKS: Vec3 = [8, 4, 4];
let dir: string;
const servers: FastifyInstance[] = [];
const services: ProofreadService[] = [];

beforeAll(async () => {
  dir = await tempDir('proofread-serve-');
  const inp = await writeBlocksDataset(dir, { blocks: BLOCKS, seg: (bx, by, bz) => blockSvIn(BLOCKS, bx, by, bz) });
  await initProofread(dir, { supervoxels: inp.sv, segmentation: inp.seg, boundaries: inp.boundary });
  for (const token of ['secret', 'secret', undefined]) {
    const svc = await ProofreadService.open(dir);
    services.push(svc);
    servers.push(await buildServer({ dataset: dir, proofread: { backend: svc, token } }));
  }
});
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const s of services) await s.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Blocks in snake order: consecutive ones touch. */
function snake(): bigint[] {
  const out: bigint[] = [];
  for (let z = 0; z < BLOCKS[2]; z++) for (let yy = 0; yy < BLOCKS[1]; yy++) {
    const y = z % 2 ? BLOCKS[1] - 1 - yy : yy;
    for (let xx = 0; xx < BLOCKS[0]; xx++) out.push(blockSvIn(BLOCKS, (yy + z) % 2 ? BLOCKS[0] - 1 - xx : xx, y, z));
  }
  return out;
}

const logLines = async () => (await fs.readFile(path.join(dir, 'proofread', 'edits.jsonl'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

describe('proofreading over HTTP', () => {
  it('refuses edits without the token (and on a read-only server), log unchanged', async () => {
    const body = { a: blockSvIn(BLOCKS, 0, 0, 0).toString(), b: blockSvIn(BLOCKS, 1, 0, 0).toString() };
    const none = await servers[0].inject({ method: 'POST', url: '/api/proofread/edit/merge', payload: body });
    expect(none.statusCode).toBe(401);
    const wrong = await servers[0].inject({ method: 'POST', url: '/api/proofread/edit/merge', payload: body, headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    const ro = await servers[2].inject({ method: 'POST', url: '/api/proofread/edit/merge', payload: body, headers: { authorization: 'Bearer secret' } });
    expect(ro.statusCode).toBe(403);
    expect(ro.json().error).toMatch(/read-only/);
    const outside = await servers[0].inject({ method: 'POST', url: '/api/proofread/edit/merge', payload: { a: [1e6, 0, 0], b: body.b }, headers: { authorization: 'Bearer secret' } });
    expect(outside.statusCode).toBe(400);
    expect(outside.json().error).toMatch(/outside the volume/);
    expect(await logLines()).toBe(0);
  });

  it('100 concurrent merges from several clients on two servers all land; lineage consistent; versions served', async () => {
    const path_ = snake().slice(0, 101);
    const reqs = path_.slice(1).map((b, i) =>
      servers[i % 2].inject({ method: 'POST', url: '/api/proofread/edit/merge', payload: { a: path_[i].toString(), b: b.toString() }, headers: { authorization: 'Bearer secret', 'x-wiring-user': `client${i % 5}` } }),
    );
    const res = await Promise.all(reqs);
    expect(res.map((r) => r.statusCode)).toEqual(res.map(() => 200));
    expect(await logLines()).toBe(100);
    const edits = (await servers[2].inject({ url: '/api/proofread/edits' })).json().operations;
    expect(edits.map((r: { op: number }) => r.op)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(new Set(edits.map((r: { user: string }) => r.user)).size).toBe(5);
    const final = edits[99].created[0].id as string;
    for (const sv of [path_[0], path_[57], path_[100]]) {
      const lin = (await servers[2].inject({ url: `/api/proofread/lineage/${sv}` })).json();
      expect(lin.latest).toEqual([final]);
    }
    const past = (await servers[1].inject({ url: `/api/proofread/lineage/${final}?steps=1` })).json();
    // the 101 starting roots (here the supervoxel ids) and the 99 intermediate roots
    expect(past.past.filter((id: string) => path_.includes(BigInt(id))).length).toBe(101);
    expect(past.past.length).toBe(200);
    expect(past.created_by).toBe(100);
    // version 0 maps supervoxels to themselves; the latest maps the path to the final root
    const info = (await servers[2].inject({ url: '/api/proofread/versions/latest/segmentation/info' })).json();
    expect(info.wiring.proofread.op).toBe(100);
    const key = info.scales[0].key;
    const name = `0-32_0-16_0-16`;
    const v0 = await servers[2].inject({ url: `/api/proofread/versions/0/segmentation/${key}/${name}` });
    const vl = await servers[2].inject({ url: `/api/proofread/versions/latest/segmentation/${key}/${name}` });
    const a0 = new BigUint64Array(new Uint8Array(v0.rawPayload).buffer);
    const al = new BigUint64Array(new Uint8Array(vl.rawPayload).buffer);
    expect(a0.length).toBe(32 * 16 * 16);
    expect(a0[0]).toBe(blockSvIn(BLOCKS, 0, 0, 0));
    expect(al[0]).toBe(BigInt(final));
    const onPath = new Set(path_.map(String));
    for (let i = 0; i < a0.length; i += 97) expect(al[i] === BigInt(final)).toBe(onPath.has(a0[i].toString()));
    const bad = await servers[2].inject({ url: `/api/proofread/versions/latest/segmentation/${key}/0-64_0-16_0-16` });
    expect(bad.statusCode).toBe(400);
  });

  it('wiring serve recomputes the touched cells after an HTTP edit', async () => {
    const svc = await ProofreadService.open(dir);
    const app = await buildServer({ dataset: dir, proofread: { backend: derivingBackend(svc), token: 't' } });
    try {
      const a = blockSvIn(BLOCKS, 0, 3, 3), b = blockSvIn(BLOCKS, 1, 3, 3);
      const r = await app.inject({ method: 'POST', url: '/api/proofread/edit/merge', payload: { a: a.toString(), b: b.toString() }, headers: { authorization: 'Bearer t' } });
      expect(r.statusCode).toBe(200);
      const root = r.json().created[0].id;
      expect(r.json().derived).toContain(root); // and the roots the earlier (non-recomputing) servers made
      const head = path.join(dir, 'proofread', 'head');
      expect(existsSync(path.join(head, 'meshes', `${root}:0`))).toBe(true);
      expect(existsSync(path.join(head, 'skeletons', root))).toBe(true);
      expect(JSON.parse(await fs.readFile(path.join(head, 'derived.json'), 'utf8')).op).toBe(r.json().op);
    } finally {
      await app.close();
      await svc.close();
    }
  });

  it('documents its routes in the server\'s OpenAPI document', async () => {
    const doc = (await servers[2].inject({ url: '/openapi.json' })).json();
    const documented = new Set(Object.keys(doc.paths).map(fastifyPath));
    for (const r of registeredRoutes(servers[2]).filter((x) => x.url.startsWith('/api/proofread') && x.method !== 'HEAD')) expect(documented.has(r.url), r.url).toBe(true);
    expect(doc.paths['/api/proofread/edit/{kind}'].post.responses[401]).toBeDefined();
  });
});
