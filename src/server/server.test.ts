import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { ConnectomeStore } from '../connectome/store.js';
import { buildServer, partnerIndexReady, registeredRoutes } from './app.js';
import { API_PAGE, fastifyPath } from './schema.js';
import { parseRange } from './static.js';

const BIG = 864691135639556411n;
let dir: string;
let app: FastifyInstance;

beforeAll(async () => {
  dir = await tempDir('wiring-server-');
  await fs.mkdir(path.join(dir, 'raw', '8_8_8'), { recursive: true });
  await fs.writeFile(path.join(dir, 'raw', 'info'), JSON.stringify({ type: 'image' }));
  await fs.writeFile(path.join(dir, 'raw', '8_8_8', '0-4_0-4_0-4'), Buffer.from(Array.from({ length: 64 }, (_, i) => i)));
  await fs.writeFile(path.join(dir, 'raw', '8_8_8', 'gz'), gzipSync(Buffer.from('hello')));
  await fs.writeFile(path.join(path.dirname(dir), 'secret.txt'), 'outside');
  const store = await ConnectomeStore.open(path.join(dir, 'connectome.duckdb'));
  await store.insertCells([
    { id: BIG, pt_position: [100, 100, 100], cell_type: 'L23' },
    { id: BIG + 1n, pt_position: [200, 100, 100], cell_type: 'BC' },
    { id: 7n, pt_position: [300, 100, 100], cell_type: 'L23' },
  ]);
  const syn = (id: bigint, pre: bigint, post: bigint, x: number, size: number) => ({
    id, pre_pt_root_id: pre, post_pt_root_id: post, pre_pt_position: [x, 0, 0] as const, post_pt_position: [x + 10, 0, 0] as const, ctr_pt_position: [x + 5, 0, 0] as const, size,
  });
  await store.insertSynapses([syn(1n, BIG, BIG + 1n, 0, 10), syn(2n, BIG, BIG + 1n, 100, 20), syn(3n, BIG + 1n, 7n, 200, 30), syn(4n, 7n, BIG, 300, 40)]);
  await store.close();
  app = await buildServer({ dataset: dir });
});
afterAll(async () => {
  await app?.close();
});

describe('dataset files', () => {
  it('serves files with CORS and byte ranges', async () => {
    const whole = await app.inject({ url: '/data/raw/8_8_8/0-4_0-4_0-4' });
    expect(whole.statusCode).toBe(200);
    expect(whole.rawPayload.length).toBe(64);
    expect(whole.headers['access-control-allow-origin']).toBeUndefined(); // no CORS unless configured
    const part = await app.inject({ url: '/data/raw/8_8_8/0-4_0-4_0-4', headers: { range: 'bytes=10-13' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 10-13/64');
    expect(Array.from(part.rawPayload)).toEqual([10, 11, 12, 13]);
    const bad = await app.inject({ url: '/data/raw/8_8_8/0-4_0-4_0-4', headers: { range: 'bytes=100-' } });
    expect(bad.statusCode).toBe(416);
    const info = await app.inject({ url: '/data/raw/info' });
    expect(info.headers['content-type']).toMatch(/json/);
  });
  it('labels gzipped chunks with Content-Encoding for clients that accept gzip', async () => {
    const r = await app.inject({ url: '/data/raw/8_8_8/gz', headers: { 'accept-encoding': 'gzip' } });
    expect(r.headers['content-encoding']).toBe('gzip');
  });
  it('lists the layers', async () => {
    await fs.writeFile(path.join(dir, 'raw', 'info'), JSON.stringify({ type: 'image', data_type: 'uint8', scales: [{ resolution: [8, 8, 8], size: [4, 4, 4] }] }));
    const r = JSON.parse((await app.inject({ url: '/api/layers' })).body);
    expect(r.layers).toEqual([{ name: 'raw', type: 'image', data_type: 'uint8', voxel_size: [8, 8, 8], size: [4, 4, 4], voxel_offset: [0, 0, 0], mesh: false, skeletons: false }]);
  });
  it('refuses paths outside the dataset', async () => {
    for (const url of ['/data/../secret.txt', '/data/%2e%2e/secret.txt', '/data/raw/..%2f..%2fsecret.txt', '/data/%00']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(404);
      expect(r.body).not.toContain('outside');
    }
  });
  it('allows cross-origin reads only to the configured origins (preflight too)', async () => {
    const ng = 'https://neuroglancer-demo.appspot.com';
    const withCors = await buildServer({ dataset: dir, cors: [ng], partnerIndexMaxPairs: 0 });
    try {
      const r = await withCors.inject({ method: 'OPTIONS', url: '/data/raw/info', headers: { origin: ng } });
      expect(r.statusCode).toBe(204);
      expect(r.headers['access-control-allow-origin']).toBe(ng);
      expect(r.headers['access-control-allow-headers']).toMatch(/Range/);
      const evil = await withCors.inject({ url: '/api/cells', headers: { origin: 'https://evil.example' } });
      expect(evil.headers['access-control-allow-origin']).toBeUndefined();
      const api = await withCors.inject({ url: '/api/cells', headers: { origin: ng } });
      expect(api.headers['access-control-allow-origin']).toBe(ng);
    } finally {
      await withCors.close();
    }
    const none = await app.inject({ method: 'OPTIONS', url: '/api/cells', headers: { origin: 'https://evil.example' } });
    expect(none.headers['access-control-allow-origin']).toBeUndefined();
  });
  it('refuses Host names other than loopback, IP addresses and allowed hosts (DNS rebinding)', async () => {
    for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'app.localhost', '192.168.1.20']) {
      expect((await app.inject({ url: '/api/layers', headers: { host } })).statusCode, host).toBe(200);
    }
    const r = await app.inject({ url: '/api/cells', headers: { host: 'rebind.attacker.example:8080' } });
    expect(r.statusCode).toBe(403);
    expect(JSON.parse(r.body).error).toMatch(/--allowed-hosts rebind\.attacker\.example/);
    expect((await app.inject({ url: '/data/raw/info', headers: { host: 'rebind.attacker.example' } })).statusCode).toBe(403);
    const named = await buildServer({ dataset: dir, allowedHosts: ['.lab.example'], partnerIndexMaxPairs: 0 });
    try {
      expect((await named.inject({ url: '/api/layers', headers: { host: 'em.lab.example:8080' } })).statusCode).toBe(200);
      expect((await named.inject({ url: '/api/layers', headers: { host: 'lab.example.evil' } })).statusCode).toBe(403);
    } finally {
      await named.close();
    }
  });
  it('serves files with % in their names (decoded once)', async () => {
    await fs.writeFile(path.join(dir, 'raw', 'a%20b'), 'percent');
    await fs.writeFile(path.join(dir, 'raw', '100%'), 'hundred');
    await fs.writeFile(path.join(dir, 'raw', 'a b'), 'space');
    expect((await app.inject({ url: '/data/raw/a%2520b' })).body).toBe('percent');
    expect((await app.inject({ url: '/data/raw/100%25' })).body).toBe('hundred');
    expect((await app.inject({ url: '/data/raw/a%20b' })).body).toBe('space');
  });
  it('parses ranges like HTTP does', () => {
    expect(parseRange('bytes=-4', 10)).toEqual({ start: 6, end: 9 });
    expect(parseRange('bytes=8-20', 10)).toEqual({ start: 8, end: 9 });
    expect(parseRange('bytes=0-1,4-5', 10)).toBeNull();
    expect(parseRange('bytes=-0', 10)).toBe('unsatisfiable');
  });
});

describe('connectome API', () => {
  it('lists cells with ids as strings', async () => {
    const r = await app.inject({ url: '/api/cells' });
    const body = JSON.parse(r.body);
    expect(body.total).toBe(3);
    expect(body.cells.map((c: { pt_root_id: string }) => c.pt_root_id)).toContain(BIG.toString());
    const l23 = JSON.parse((await app.inject({ url: '/api/cells?cell_type=L23' })).body);
    expect(l23.total).toBe(2);
  });
  it("gives a cell's partners with counts", async () => {
    await partnerIndexReady(app);
    const r = JSON.parse((await app.inject({ url: `/api/cells/${BIG}/partners` })).body);
    expect(r.outputs).toEqual([{ id: (BIG + 1n).toString(), cell_type: 'BC', count: 2, size_sum: 30 }]);
    expect(r.inputs).toEqual([{ id: '7', cell_type: 'L23', count: 1, size_sum: 40 }]);
    const inputs = JSON.parse((await app.inject({ url: `/api/cells/${BIG + 1n}/inputs` })).body);
    expect(inputs.synapses.map((s: { id: string }) => s.id)).toEqual(['1', '2']);
  });
  it('answers partners from the in-memory index exactly as from SQL', async () => {
    await partnerIndexReady(app);
    const dir2 = await tempDir('wiring-server-sql-');
    await fs.copyFile(path.join(dir, 'connectome.duckdb'), path.join(dir2, 'connectome.duckdb'));
    const sql = await buildServer({ dataset: dir2, partnerIndexMaxPairs: 0 });
    try {
      for (const id of [BIG, BIG + 1n, 7n, 12345n]) {
        const a = JSON.parse((await app.inject({ url: `/api/cells/${id}/partners` })).body);
        const b = JSON.parse((await sql.inject({ url: `/api/cells/${id}/partners` })).body);
        expect(a, String(id)).toEqual(b);
      }
    } finally {
      await sql.close();
    }
  });
  it('builds the type matrix and the size histogram', async () => {
    const m = JSON.parse((await app.inject({ url: '/api/connectivity?measure=count' })).body);
    expect(m.preTypes).toEqual(['BC', 'L23']);
    expect(m.values).toEqual([[0, 1], [2, 1]]);
    const h = JSON.parse((await app.inject({ url: '/api/sizes?bins=3' })).body);
    expect(h.counts).toEqual([1, 1, 2]);
  });
  it('finds synapses in a box (nm)', async () => {
    const r = JSON.parse((await app.inject({ url: '/api/synapses?box=0,-1,-1,150,1,1' })).body);
    expect(r.synapses.map((s: { id: string }) => s.id)).toEqual(['1', '2']);
  });
  it('rejects bad ids and boxes clearly', async () => {
    const r = await app.inject({ url: '/api/cells/12.5/partners' });
    expect(r.statusCode).toBe(400);
    expect(JSON.parse(r.body).error).toMatch(/id/);
    expect((await app.inject({ url: '/api/synapses?box=1,2,3' })).statusCode).toBe(400);
    const huge = await app.inject({ url: '/api/synapses?box=0,0,0,1e19,1,1' });
    expect(huge.statusCode).toBe(400);
    expect(JSON.parse(huge.body).error).toMatch(/^box: value 1e19 \(x1\) is out of range/);
    expect((await app.inject({ url: '/api/synapses?box=0,0,0,,1,1' })).statusCode).toBe(400);
    expect(JSON.parse((await app.inject({ url: '/api/synapses?after=x' })).body).error).toMatch(/after/);
    expect((await app.inject({ url: '/api/cells/99' })).statusCode).toBe(404);
  });
  it('gives the cells as a Neuroglancer segment property map', async () => {
    const r = JSON.parse((await app.inject({ url: '/api/segment_properties/info' })).body);
    expect(r['@type']).toBe('neuroglancer_segment_properties');
    expect(r.inline.ids).toEqual(['7', BIG.toString(), (BIG + 1n).toString()]);
    expect(r.inline.properties[0]).toEqual({ id: 'label', type: 'label', values: ['L23', 'L23', 'BC'] });
    expect(r.inline.properties[1].values[0]).toBe('type L23, soma [300, 100, 100] nm');
  });
  it('serves the synapses as a precomputed annotation source', async () => {
    await partnerIndexReady(app);
    const info = JSON.parse((await app.inject({ url: '/api/annotations/synapses/info' })).body);
    expect(info['@type']).toBe('neuroglancer_annotations_v1');
    expect(info.annotation_type).toBe('POINT');
    expect(info.lower_bound).toEqual([5, 0, 0]);
    expect(info.upper_bound).toEqual([306, 1, 1]);
    const list = (buf: Buffer) => {
      const n = Number(buf.readBigUInt64LE(0));
      expect(buf.length).toBe(8 + n * 24);
      return Array.from({ length: n }, (_, k) => ({ x: buf.readFloatLE(8 + 16 * k), size: buf.readFloatLE(20 + 16 * k), id: buf.readBigUInt64LE(8 + 16 * n + 8 * k) }));
    };
    const [gx, gy, gz] = info.spatial[0].grid_shape;
    const all = [];
    for (let i = 0; i < gx; i++) for (let j = 0; j < gy; j++) for (let k = 0; k < gz; k++) {
      const r = await app.inject({ url: `/api/annotations/synapses/spatial0/${i}_${j}_${k}` });
      if (r.statusCode === 404) continue;
      all.push(...list(r.rawPayload));
    }
    expect(all.sort((a, b) => Number(a.id - b.id))).toEqual([{ x: 5, size: 10, id: 1n }, { x: 105, size: 20, id: 2n }, { x: 205, size: 30, id: 3n }, { x: 305, size: 40, id: 4n }]);
    expect(list((await app.inject({ url: `/api/annotations/synapses/pre/${BIG}` })).rawPayload).map((a) => a.id)).toEqual([1n, 2n]);
    expect(list((await app.inject({ url: `/api/annotations/synapses/post/${BIG}` })).rawPayload).map((a) => a.id)).toEqual([4n]);
    expect((await app.inject({ url: '/api/annotations/synapses/pre/99' })).statusCode).toBe(404);
    const one = (await app.inject({ url: '/api/annotations/synapses/by_id/3' })).rawPayload;
    expect(one.length).toBe(16 + 24);
    expect([one.readFloatLE(0), one.readFloatLE(12), one.readUInt32LE(16), one.readBigUInt64LE(20), one.readUInt32LE(28), one.readBigUInt64LE(32)]).toEqual([205, 30, 1, BIG + 1n, 1, 7n]);
  });
  it('serves the built app at / with a page fallback, but never for unknown API paths', async () => {
    const appDir = await tempDir('wiring-app-');
    await fs.writeFile(path.join(appDir, 'index.html'), '<!doctype html><title>Wiring</title>');
    await fs.writeFile(path.join(appDir, 'draco.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    const withApp = await buildServer({ dataset: dir, appDir, partnerIndexMaxPairs: 0 });
    try {
      expect((await withApp.inject({ url: '/' })).body).toContain('<title>Wiring</title>');
      // Neuroglancer's Draco decoder (multi-resolution meshes) compiles only from application/wasm
      expect((await withApp.inject({ url: '/draco.wasm' })).headers['content-type']).toBe('application/wasm');
      expect((await withApp.inject({ url: '/some/page' })).body).toContain('<title>Wiring</title>');
      const r = await withApp.inject({ url: '/api/nope' });
      expect(r.statusCode).toBe(404);
      expect(JSON.parse(r.body).error).toMatch(/api\/nope/);
    } finally {
      await withApp.close();
    }
  });
  it('pages synapses by cursor with a total, and clamps the limit', async () => {
    const first = JSON.parse((await app.inject({ url: '/api/synapses?limit=3' })).body);
    expect(first.total).toBe(4);
    expect(first.synapses.map((s: { id: string }) => s.id)).toEqual(['1', '2', '3']);
    expect(first.next).toBe('3');
    const last = JSON.parse((await app.inject({ url: `/api/synapses?limit=3&after=${first.next}` })).body);
    expect(last.synapses.map((s: { id: string }) => s.id)).toEqual(['4']);
    expect(last.next).toBeNull();
    const outs = JSON.parse((await app.inject({ url: `/api/cells/${BIG}/outputs?limit=1` })).body);
    expect([outs.total, outs.synapses.length, outs.next]).toEqual([2, 1, '1']);
    const cellsPage = JSON.parse((await app.inject({ url: '/api/cells?limit=2&offset=2' })).body);
    expect([cellsPage.total, cellsPage.cells.length, cellsPage.next]).toEqual([3, 1, null]);
    expect(JSON.parse((await app.inject({ url: '/api/cells?limit=2' })).body).next).toBe('2');
    // a limit above the maximum is clamped to it, never unbounded
    expect(JSON.parse((await app.inject({ url: `/api/synapses?limit=${10 * API_PAGE.max}` })).body).synapses).toHaveLength(4);
  });
  it('documents every route it serves and serves every documented path', async () => {
    const doc = JSON.parse((await app.inject({ url: '/openapi.json' })).body);
    expect(doc.openapi).toMatch(/^3\./);
    const served = registeredRoutes(app).filter((r) => r.method === 'GET').map((r) => r.url).sort();
    const documented = Object.keys(doc.paths).map(fastifyPath).sort();
    expect(documented).toEqual(served);
    for (const [p, item] of Object.entries(doc.paths) as Array<[string, { get: { parameters: Array<{ name: string; in: string }> } }]>) {
      const inPath = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(item.get.parameters.filter((x) => x.in === 'path').map((x) => x.name), p).toEqual(inPath);
    }
    // and the JSON the server sends has exactly the documented properties
    const cellSchema = doc.components.schemas.Cell;
    const cell = JSON.parse((await app.inject({ url: `/api/cells/${BIG}` })).body);
    expect(Object.keys(cell).sort()).toEqual([...cellSchema.required].sort());
    const syn = JSON.parse((await app.inject({ url: '/api/synapses?limit=1' })).body);
    expect(Object.keys(syn).sort()).toEqual([...doc.paths['/api/synapses'].get.responses[200].content['application/json'].schema.required].sort());
    expect(Object.keys(syn.synapses[0]).sort()).toEqual([...doc.components.schemas.Synapse.required].sort());
  });
});
