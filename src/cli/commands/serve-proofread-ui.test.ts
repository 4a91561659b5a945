// What the app's proofreading panel uses over HTTP: the point lookup, the split preview (the min
// cut, not applied, as a layer), per-cell status (token-protected, by version) and the mesh
// source of a served version (derived on first request for a starting root).
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { dataPath, describeData, tempDir } from '../../../test/data.js';
import { buildServer } from '../../server/app.js';
import { decodeLegacyFragment } from '../../formats/mesh/precomputed.js';
import { decodeSkeleton } from '../../formats/mesh/skeleton.js';
import { derivingBackend } from '../proofread-derive.js';
import { initProofread } from '../../stages/proofread/io.js';
import { ProofreadService } from '../../stages/proofread/service.js';
import { blockSv, writeBlocksDataset } from '../../stages/proofread/testing.js';

let dir: string;
let app: FastifyInstance;
let svc: ProofreadService;
const auth = { authorization: 'Bearer tok', 'x-wiring-user': 'ana' };
const logLines = async () => (await fs.readFile(path.join(dir, 'proofread', 'edits.jsonl'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
/** nm of the centre of block (bx, by, bz) of 4^3 voxels of 8 x 8 x 30 nm */
const nm = (bx: number, by: number, bz: number) => [(4 * bx + 1.5) * 8, (4 * by + 1.5) * 8, (4 * bz + 1.5) * 30];

beforeAll(async () => {
  dir = await tempDir('proofread-ui-');
  const inp = await writeBlocksDataset(dir);
  await initProofread(dir, { supervoxels: inp.sv, segmentation: inp.seg, boundaries: inp.boundary });
  svc = await ProofreadService.open(dir);
  app = await buildServer({ dataset: dir, proofread: { backend: derivingBackend(svc), token: 'tok' } });
});
afterAll(async () => {
  await app.close();
  await svc.close();
  await fs.rm(dir, { recursive: true, force: true });
});

async function voxelOf(at: string, url: string, x: number, y: number, z: number): Promise<bigint> {
  const info = (await app.inject({ url: `${url}/info` })).json();
  const key = info.scales[0].key;
  const r = await app.inject({ url: `${url}/${key}/0-16_0-16_0-8` });
  expect(r.statusCode, at).toBe(200);
  const b = r.rawPayload;
  return new BigUint64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))[x + 16 * (y + 16 * z)];
}

describe('proofreading panel routes', () => {
  let merged = '';
  it('looks up the supervoxel and root under a point', async () => {
    const r = (await app.inject({ url: `/api/proofread/point?nm=${nm(2, 1, 0).join(',')}` })).json();
    expect(r).toEqual({ supervoxel: blockSv(2, 1, 0).toString(), root: '103', op: 0 });
    expect((await app.inject({ url: '/api/proofread/point?nm=1e6,0,0' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/proofread/point?nm=1,2' })).statusCode).toBe(400);
  });

  it('previews a split (its min cut as a two-label layer) without touching the log, then applies the same cut', async () => {
    const m = await app.inject({ method: 'POST', url: '/api/proofread/edit/merge', payload: { a: nm(0, 0, 0), b: nm(2, 0, 0), roots: ['100', '101'] }, headers: auth });
    expect(m.statusCode).toBe(200);
    merged = m.json().created[0].id;
    const before = await logLines();
    const body = { sources: [blockSv(0, 0, 0).toString()], sinks: [nm(3, 0, 0)], root: merged };
    const pr = await app.inject({ method: 'POST', url: '/api/proofread/preview/split', payload: body });
    expect(pr.statusCode).toBe(200);
    const p = pr.json();
    expect(await logLines()).toBe(before);
    expect(p.root).toBe(merged);
    // the weak faces are the 0.9 boundary between bx 1 and 2: blocks 0-1 against 2-3
    expect(p.sides).toEqual([
      { label: 1, supervoxels: 2, voxels: 128, contains: 'sources' },
      { label: 2, supervoxels: 2, voxels: 128, contains: 'sinks' },
    ]);
    const url = `/api/proofread/previews/${p.id}/segmentation`;
    expect(await voxelOf('preview', url, 5, 1, 1)).toBe(1n); // block (1,0,0)
    expect(await voxelOf('preview', url, 9, 1, 1)).toBe(2n); // block (2,0,0)
    expect(await voxelOf('preview', url, 1, 5, 1)).toBe(0n); // another root
    expect((await app.inject({ url: '/api/proofread/previews/999/segmentation/info' })).statusCode).toBe(400);
    // a preview that cannot be made says why (sources and sinks in one supervoxel)
    const bad = await app.inject({ method: 'POST', url: '/api/proofread/preview/split', payload: { sources: [blockSv(0, 0, 0).toString()], sinks: [blockSv(0, 0, 0).toString()] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/both a source and a sink/);
    const s = await app.inject({ method: 'POST', url: '/api/proofread/edit/split', payload: body, headers: auth });
    expect(s.statusCode).toBe(200);
    const latest = '/api/proofread/versions/latest/segmentation';
    const side1 = await voxelOf('latest', latest, 5, 1, 1), side2 = await voxelOf('latest', latest, 9, 1, 1);
    expect(side1).not.toBe(side2);
    expect(await voxelOf('latest', latest, 1, 1, 1)).toBe(side1);
    expect(await voxelOf('latest', latest, 13, 1, 1)).toBe(side2);
    expect(s.json().created.map((c: { id: string }) => c.id).sort()).toEqual([side1.toString(), side2.toString()].sort());
  });

  it('sets a cell\'s status with the token only, by version, refusing stale roots and unknown values', async () => {
    const root = (await app.inject({ url: `/api/proofread/point?nm=${nm(0, 0, 0).join(',')}` })).json().root;
    const body = { root, status_axon: 'extended', status_dendrite: 'clean' };
    expect((await app.inject({ method: 'POST', url: '/api/proofread/status', payload: body })).statusCode).toBe(401);
    const bad = await app.inject({ method: 'POST', url: '/api/proofread/status', payload: { root, status_axon: 'done' }, headers: auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/status_axon: expected one of non, clean, extended/);
    const stale = await app.inject({ method: 'POST', url: '/api/proofread/status', payload: { root: merged, status_axon: 'clean' }, headers: auth });
    expect(stale.statusCode).toBe(400);
    expect(stale.json().error).toMatch(/stale/);
    const ok = await app.inject({ method: 'POST', url: '/api/proofread/status', payload: body, headers: auth });
    expect(ok.statusCode).toBe(200);
    const op = ok.json().op;
    expect((await app.inject({ url: `/api/proofread/status?root=${root}` })).json().statuses).toEqual([{ root, status_axon: 'extended', status_dendrite: 'clean', user: 'ana', time: ok.json().time, op }]);
    // one side later: the other field stays
    await app.inject({ method: 'POST', url: '/api/proofread/status', payload: { root, status_dendrite: 'extended' }, headers: auth });
    expect((await app.inject({ url: `/api/proofread/status?root=${root}` })).json().statuses[0]).toMatchObject({ status_axon: 'extended', status_dendrite: 'extended' });
    // an edit retires the root: the latest version has no status for it, the old one keeps it
    const m = await app.inject({ method: 'POST', url: '/api/proofread/edit/merge', payload: { a: nm(0, 0, 0), b: nm(0, 1, 0) }, headers: auth });
    expect(m.statusCode).toBe(200);
    expect((await app.inject({ url: `/api/proofread/status?root=${root}` })).json().statuses).toEqual([]);
    expect((await app.inject({ url: `/api/proofread/status?root=${root}&at=${op}` })).json().statuses[0]).toMatchObject({ root, status_dendrite: 'extended' });
  });

  it('serves meshes of a version\'s roots: derived on first request for a starting root, from the head for edited ones', async () => {
    const base = '/api/proofread/versions/latest/segmentation';
    expect((await app.inject({ url: `${base}/info` })).json().mesh).toBe('mesh');
    expect((await app.inject({ url: `${base}/mesh/info` })).json()).toEqual({ '@type': 'neuroglancer_legacy_mesh' });
    // a starting root never edited (blocks 2-3 of row 3, z 1)
    const start = (await app.inject({ url: `/api/proofread/point?nm=${nm(2, 3, 1).join(',')}` })).json().root;
    expect(start).toBe(String(100 + 2 * 3 + 1 + 8));
    const man = await app.inject({ url: `${base}/mesh/${start}:0` });
    expect(man.statusCode).toBe(200);
    const frags: string[] = man.json().fragments;
    expect(frags.length).toBeGreaterThan(0);
    let triangles = 0;
    for (const f of frags) {
      const r = await app.inject({ url: `${base}/mesh/${f}` });
      expect(r.statusCode).toBe(200);
      triangles += decodeLegacyFragment(new Uint8Array(r.rawPayload)).indices.length / 3;
    }
    expect(triangles).toBeGreaterThan(0);
    // the latest root made by an edit: its manifest was derived by the edit
    const edited = (await app.inject({ url: `/api/proofread/point?nm=${nm(0, 0, 0).join(',')}` })).json().root;
    expect((await app.inject({ url: `${base}/mesh/${edited}:0` })).json().fragments.length).toBeGreaterThan(0);
    // a root of an older version only, asked of the latest: refused; of its version: served
    expect((await app.inject({ url: `${base}/mesh/${merged}:0` })).statusCode).toBe(400);
    expect((await app.inject({ url: `/api/proofread/versions/1/segmentation/mesh/${merged}:0` })).statusCode).toBe(200);
    expect((await app.inject({ url: `${base}/mesh/f0_0_0_0123456789abcdef` })).statusCode).toBe(404);
  });
});

describe('skeleton source of a served version', () => {
  it('serves skeletons of a version\'s roots: derived on first request for a starting root, from the head for edited ones', async () => {
    const base = '/api/proofread/versions/latest/segmentation';
    expect((await app.inject({ url: `${base}/info` })).json().skeletons).toBe('skeletons');
    const info = (await app.inject({ url: `${base}/skeletons/info` })).json();
    expect(info['@type']).toBe('neuroglancer_skeletons');
    expect(info.vertex_attributes).toEqual([{ id: 'radius', data_type: 'float32', num_components: 1 }]);
    const decode = (b: Buffer) => decodeSkeleton(new Uint8Array(b), 'served', info.vertex_attributes);
    // a starting root never edited (blocks 0-1 of row 2, z 1): no skeleton on disk until asked
    const start = (await app.inject({ url: `/api/proofread/point?nm=${nm(0, 2, 1).join(',')}` })).json().root;
    expect(start).toBe(String(100 + 2 * 2 + 8));
    const file = path.join(dir, 'proofread', 'head', 'skeletons', start);
    expect(existsSync(file)).toBe(false);
    const r = await app.inject({ url: `${base}/skeletons/${start}` });
    expect(r.statusCode).toBe(200);
    const s = decode(r.rawPayload);
    expect(s.vertices.length).toBeGreaterThan(0);
    // its vertices lie in the root's two blocks (x 0-63 nm, y 64-95 nm, z 120-239 nm)
    for (let i = 0; i < s.vertices.length / 3; i++) {
      expect(s.vertices[3 * i]).toBeLessThan(64);
      expect(s.vertices[3 * i + 1]).toBeGreaterThanOrEqual(64);
      expect(s.vertices[3 * i + 1]).toBeLessThan(96);
      expect(s.vertices[3 * i + 2]).toBeGreaterThanOrEqual(120);
    }
    expect(existsSync(file)).toBe(true);
    // the latest root made by an edit: its skeleton was derived by the edit, served as written
    const edited = (await app.inject({ url: `/api/proofread/point?nm=${nm(0, 0, 0).join(',')}` })).json().root;
    const e = await app.inject({ url: `${base}/skeletons/${edited}` });
    expect(e.statusCode).toBe(200);
    expect(Buffer.compare(e.rawPayload, await fs.readFile(path.join(dir, 'proofread', 'head', 'skeletons', edited)))).toBe(0);
    // a root of an older version only, asked of the latest: refused; of its version: served
    const first = (await app.inject({ url: '/api/proofread/edits' })).json().operations.find((o: { op: number }) => o.op === 1).created[0].id;
    expect((await app.inject({ url: `${base}/skeletons/${first}` })).statusCode).toBe(400);
    expect((await app.inject({ url: `/api/proofread/versions/1/segmentation/skeletons/${first}` })).statusCode).toBe(200);
    expect((await app.inject({ url: `${base}/skeletons/abc` })).statusCode).toBe(400);
    // the preview layer has none
    expect((await app.inject({ url: '/api/proofread/previews/1/segmentation/info' })).json().skeletons).toBeUndefined();
  });
});

describeData('gala-medulla', 'split preview on gala-medulla (watershed supervoxels, each its own root)', () => {
  it('the applied split is exactly the previewed one, voxel for voxel', async () => {
    const gdir = await tempDir('proofread-ui-gala-');
    const sv = dataPath('gala-medulla', 'train-ws.h5#stack');
    await initProofread(gdir, { supervoxels: sv, segmentation: sv, boundaries: dataPath('gala-medulla', 'train-p1.h5#stack') });
    const gsvc = await ProofreadService.open(gdir);
    // the stage's service alone (no recompute of meshes and skeletons: the preview is about the graph)
    const gapp = await buildServer({ dataset: gdir, proofread: { backend: gsvc, token: 'tok' } });
    try {
      // a chain of five touching supervoxels (contact edges of the base, largest contacts first), merged into one root
      const b = gsvc.p.base;
      const order = [...b.area.keys()].sort((x, y) => b.area[y] - b.area[x]);
      const chain: number[] = [b.edgeA[order[0]], b.edgeB[order[0]]];
      while (chain.length < 5) {
        const e = order.find((k) => chain.includes(b.edgeA[k]) !== chain.includes(b.edgeB[k]))!;
        chain.push(chain.includes(b.edgeA[e]) ? b.edgeB[e] : b.edgeA[e]);
      }
      const ids = chain.map((l) => b.ids[l].toString());
      for (let i = 1; i < ids.length; i++) {
        const r = await gapp.inject({ method: 'POST', url: '/api/proofread/edit/merge', payload: { a: ids[0], b: ids[i] }, headers: auth });
        expect(r.statusCode, r.body).toBe(200);
      }
      const body = { sources: [ids[0]], sinks: [ids[4]] };
      const p = (await gapp.inject({ method: 'POST', url: '/api/proofread/preview/split', payload: body })).json();
      expect(p.sides.map((x: { contains: string }) => x.contains)).toEqual(['sources', 'sinks']);
      const total = chain.reduce((t, l) => t + b.sizes[l], 0);
      expect(p.sides[0].voxels + p.sides[1].voxels).toBe(total);
      const s = await gapp.inject({ method: 'POST', url: '/api/proofread/edit/split', payload: body, headers: auth });
      expect(s.statusCode, s.body).toBe(200);
      // every chunk: label 1 of the preview is one new root, label 2 the other, 0 neither
      const info = (await gapp.inject({ url: '/api/proofread/versions/latest/segmentation/info' })).json();
      const [sx, sy, sz] = info.scales[0].size, cs = info.scales[0].chunk_sizes[0], key = info.scales[0].key;
      const sideRoot = new Map<bigint, Set<bigint>>([[1n, new Set()], [2n, new Set()]]);
      const created = new Set<bigint>(s.json().created.map((c: { id: string }) => BigInt(c.id)));
      let labelled = 0, outside = 0;
      const u64 = (buf: Buffer) => new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      for (let z = 0; z < sz; z += cs[2]) for (let y = 0; y < sy; y += cs[1]) for (let x = 0; x < sx; x += cs[0]) {
        const name = `${x}-${Math.min(x + cs[0], sx)}_${y}-${Math.min(y + cs[1], sy)}_${z}-${Math.min(z + cs[2], sz)}`;
        const pv = u64((await gapp.inject({ url: `/api/proofread/previews/${p.id}/segmentation/${key}/${name}` })).rawPayload);
        const lv = u64((await gapp.inject({ url: `/api/proofread/versions/latest/segmentation/${key}/${name}` })).rawPayload);
        for (let i = 0; i < pv.length; i++) {
          if (pv[i] === 0n) { if (created.has(lv[i])) outside++; } else { sideRoot.get(pv[i])!.add(lv[i]); labelled++; }
        }
      }
      expect(labelled).toBe(total);
      expect(outside, 'voxels of a new root outside the preview').toBe(0);
      expect([...sideRoot.values()].map((x) => x.size)).toEqual([1, 1]);
      expect(new Set([...sideRoot.get(1n)!, ...sideRoot.get(2n)!])).toEqual(created);
    } finally {
      await gapp.close();
      await gsvc.close();
      await fs.rm(gdir, { recursive: true, force: true });
    }
  }, 60_000);
});
