// The train-in-the-browser loop over HTTP: strokes saved with who/when, training in the
// background, the prediction and uncertainty layers served as precomputed chunks, the merge tree
// re-cut at any threshold, and writes refused without the token.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxFromShape } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { interactiveOptions } from '../src/cli/interactive.js';
import { openSource } from '../src/formats/open.js';
import { PrecomputedLayer, makeInfo } from '../src/formats/precomputed/index.js';
import { buildServer } from '../src/server/app.js';
import { classLabels } from '../src/stages/classes/classes.js';
import { generatePhantom } from '../src/stages/phantom/generate.js';
import { InteractiveService } from '../src/stages/predict/interactive-service.js';
import { scriptedStrokes } from '../src/stages/predict/interactive-testing.js';
import { rocAuc } from '../src/stages/predict/metrics.js';
import { tempDir } from './data.js';

const TOKEN = 'secret-token';
let app: FastifyInstance;
let close: () => Promise<void>;
let dir: string;
const auth = { authorization: `Bearer ${TOKEN}`, 'x-wiring-user': 'anna' };

beforeAll(async () => {
  dir = path.join(await tempDir('wiring-interactive-http-'), 'ds');
  await generatePhantom(dir, { seed: 21, size: [128, 128, 8], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0, maxShift: 8, noise: 30 }, { chunkSize: [64, 64, 8], run: { workers: 1 } });
  // a segmentation with a merge tree: four supervoxels (quadrants of one section), merges at 0.2, 0.5, 0.9
  const sv = await PrecomputedLayer.create(path.join(dir, 'supervoxels'), makeInfo({ type: 'segmentation', dtype: 'uint64', shape: [128, 128, 8], voxelSize: [8, 8, 30], chunkSize: [64, 64, 8], encoding: 'raw' }));
  const v = Volume.zeros('uint64', boxFromShape([128, 128, 8]));
  const d = v.data as BigUint64Array;
  for (let z = 0; z < 8; z++) for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) d[x + 128 * (y + 128 * z)] = 10n + BigInt((x >= 64 ? 1 : 0) + (y >= 64 ? 2 : 0));
  await sv.writeBox(v);
  await fs.mkdir(path.join(dir, 'segmentation'), { recursive: true });
  await PrecomputedLayer.create(path.join(dir, 'segmentation'), makeInfo({ type: 'segmentation', dtype: 'uint64', shape: [128, 128, 8], voxelSize: [8, 8, 30], chunkSize: [64, 64, 8] }));
  await fs.writeFile(
    path.join(dir, 'segmentation', 'merge_tree.json'),
    JSON.stringify({ format: 'wiring-merge-tree', version: 1, threshold: 0.5, supervoxels: 4, supervoxels_layer: path.join(dir, 'supervoxels'), merges: [['10', '11', 0.2], ['12', '13', 0.5], ['10', '12', 0.9]] }),
  );
  const io = await interactiveOptions(dir, { token: TOKEN, runArgs: ['--workers', '1'] });
  expect(io).toBeDefined();
  close = io!.close;
  app = await buildServer({ dataset: dir, interactive: io!.options });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await close?.();
});

describe('interactive training over HTTP', () => {
  it('refuses writes without the token, saves strokes with who and when, trains, and serves a prediction that separates membrane from cytoplasm', async () => {
    const stroke = { cls: 1, points: [[10, 10, 2], [14, 10, 2]] };
    expect((await app.inject({ method: 'POST', url: '/api/interactive/labels', payload: stroke })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/interactive/labels', payload: { ...stroke, cls: 0 }, headers: auth })).json().error).toMatch(/stroke.cls 0/);
    const raw = await openSource(path.join(dir, 'raw'));
    const neurons = await openSource(path.join(dir, 'neurons'));
    const all = boxFromShape(raw.shape);
    const truth = classLabels({ neurons: await neurons.read(all) }, all);
    const strokes = scriptedStrokes(truth.crop({ min: [0, 0, 0], max: [64, 128, 8] }), [1, 2], 30, 5, 1);
    for (const s of strokes) {
      const r = await app.inject({ method: 'POST', url: '/api/interactive/labels', payload: { cls: s.cls, points: s.points, radius: s.radius }, headers: auth });
      expect(r.statusCode, r.body).toBe(200);
    }
    // a freehand stroke (many points) of the wrong class, deleted by id: who and when are kept
    const wrong = (await app.inject({ method: 'POST', url: '/api/interactive/labels', payload: { cls: 1, points: [[80, 80, 4], [81, 81, 4], [83, 81, 4], [85, 84, 4], [86, 88, 4]], radius: 2 }, headers: auth })).json();
    expect(wrong.id).toBe(31);
    expect((await app.inject({ method: 'DELETE', url: `/api/interactive/labels/${wrong.id}` })).statusCode).toBe(401);
    const del = await app.inject({ method: 'DELETE', url: `/api/interactive/labels/${wrong.id}`, headers: { ...auth, 'x-wiring-user': 'ben' } });
    expect(del.json()).toMatchObject({ delete: 31, user: 'ben' });
    expect((await app.inject({ method: 'DELETE', url: `/api/interactive/labels/${wrong.id}`, headers: auth })).json().error).toMatch(/already deleted/);
    expect((await app.inject({ method: 'DELETE', url: '/api/interactive/labels/999', headers: auth })).json().error).toMatch(/no stroke 999/);
    const labels = (await app.inject({ url: '/api/interactive/labels' })).json();
    expect(labels.strokes).toHaveLength(30);
    expect(labels.strokes.map((s: { id: number }) => s.id)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(labels.deleted).toEqual([expect.objectContaining({ delete: 31, user: 'ben' })]);
    expect(labels.strokes[0].user).toBe('anna');
    expect(Object.keys(labels.voxels).sort()).toEqual(['1', '2']);
    // the log on disk: one JSON line per stroke and per deletion; read again, it gives the same strokes
    expect((await fs.readFile(path.join(dir, 'interactive', 'strokes.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(32);
    const again = await InteractiveService.open(dir);
    expect(again.strokes().strokes).toEqual(labels.strokes);
    await again.close();
    // a view hint: its features are computed while the forest trains
    const job = (await app.inject({ method: 'POST', url: '/api/interactive/train', payload: { trees: 12, view: { min: [0, 0, 3], max: [128, 128, 4] } }, headers: auth })).json();
    let state = job;
    for (let i = 0; i < 600 && (state.state === 'queued' || state.state === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await app.inject({ url: `/api/interactive/train/${job.id}` })).json();
    }
    expect(state.state, state.error).toBe('done');
    expect(state.model).toBe(1);
    const info = (await app.inject({ url: '/api/interactive/probabilities/latest/info' })).json();
    expect(info.num_channels).toBe(2);
    expect((await app.inject({ url: '/api/interactive/uncertainty/1/info' })).json().num_channels).toBe(1);
    // the chunks are sections for the xy view and rows across sections for xz and yz
    expect(info.scales[0].chunk_sizes).toEqual([[128, 128, 1], [128, 1, 8], [1, 128, 8]]);
    // the unlabelled right half, section by section as Neuroglancer asks for the xy view
    const scores: number[] = [], isBoundary: number[] = [];
    for (let z = 0; z < 8; z++) {
      const r = await app.inject({ url: `/api/interactive/probabilities/latest/p/0-128_0-128_${z}-${z + 1}` });
      expect(r.statusCode, r.body).toBe(200);
      const b = r.rawPayload;
      expect(b.length).toBe(128 * 128 * 2);
      const t = truth.crop({ min: [0, 0, z], max: [128, 128, z + 1] }).data as Uint8Array;
      for (let i = 0; i < t.length; i++) if (i % 128 >= 64 && (t[i] === 1 || t[i] === 2)) (scores.push(b[i]), isBoundary.push(t[i] === 1 ? 1 : 0));
    }
    // an xz row across the sections is the same prediction as the sections' rows
    const row = (await app.inject({ url: '/api/interactive/probabilities/latest/p/0-128_40-41_0-8' })).rawPayload;
    const sec3 = (await app.inject({ url: '/api/interactive/probabilities/latest/p/0-128_0-128_3-4' })).rawPayload;
    expect(Buffer.compare(row.subarray(128 * 3, 128 * 4), sec3.subarray(128 * 40, 128 * 41))).toBe(0);
    expect((await app.inject({ url: '/api/interactive/probabilities/latest/p/0-64_0-64_0-8' })).json().error).toMatch(/not a chunk of this layer/);
    const auc = rocAuc(Float32Array.from(scores), Uint8Array.from(isBoundary));
    console.log(`interactive over HTTP: 30 strokes -> boundary AUC ${auc.toFixed(3)} on the unlabelled half`);
    expect(auc).toBeGreaterThan(0.75);
    expect((await app.inject({ url: '/api/interactive/probabilities/7/info' })).json().error).toMatch(/no model 7/);
    expect((await app.inject({ url: '/api/interactive/probabilities/latest/p/1-2_3' })).statusCode).toBe(400);
    await raw.close();
    await neurons.close();
  });

  it('re-cuts the merge tree at any threshold: segment counts and chunks follow the tree; the chosen cut is written with the layer', async () => {
    // the slider's range is the tree's: no merge below 0.2, all three at 0.9
    expect((await app.inject({ url: '/api/recut/range' })).json()).toEqual({ min: 0.2, max: 0.9, merges: 3, supervoxels: 4, threshold: 0.5, chosen: null });
    const count = async (t: number) => (await app.inject({ url: `/api/recut/segments?threshold=${t}` })).json().segments;
    expect([await count(0.1), await count(0.3), await count(0.6), await count(1)]).toEqual([4, 3, 2, 1]);
    const chunk = async (t: number) => new BigUint64Array(new Uint8Array((await app.inject({ url: `/api/recut/${t}/p/0-64_64-128_0-8` })).rawPayload).buffer);
    // the quadrant x<64, y>=64 is supervoxel 12: itself below 0.5, merged into 12 (12 < 13) at 0.5, into 10 at 0.9
    expect(new Set(await chunk(0.3))).toEqual(new Set([12n]));
    expect(new Set(await chunk(0.95))).toEqual(new Set([10n]));
    expect((await app.inject({ url: '/api/recut/0.5/info' })).json().data_type).toBe('uint64');
    expect((await app.inject({ method: 'POST', url: '/api/recut/choose', payload: { threshold: 0.6 } })).statusCode).toBe(401);
    const r = await app.inject({ method: 'POST', url: '/api/recut/choose', payload: { threshold: 0.6 }, headers: auth });
    expect(r.json()).toEqual({ threshold: 0.6, segments: 2 });
    const info = JSON.parse(await fs.readFile(path.join(dir, 'segmentation', 'info'), 'utf8'));
    expect(info.wiring.cut).toMatchObject({ threshold: 0.6, merges: 2, segments: 2, merge_tree_threshold: 0.5, user: 'anna' });
    expect((await app.inject({ url: '/api/recut/range' })).json().chosen).toBe(0.6);
  });

  it('documents the interactive routes in /openapi.json', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    for (const p of ['/api/interactive/labels', '/api/interactive/train/{job}', '/api/recut/{threshold}/{key}/{chunk}', '/api/runs/{id}']) expect(Object.keys(doc.paths)).toContain(p);
  });
});
