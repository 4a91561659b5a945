/**
 * End-to-end train-in-the-browser loop in Debian chromium: the app's Train panel against
 * `buildServer` with the interactive routes on a phantom. Line annotations of two classes are
 * added to the "strokes" layer's annotation source (what Neuroglancer's line tool does when a
 * line is finished), so they go through the app's own annotation-to-stroke path; then Train,
 * the prediction layer, its AUC against the phantom's truth (by HTTP), and the merge-tree slider.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxFromShape } from '../../src/core/box.js';
import { Volume } from '../../src/core/volume.js';
import { interactiveOptions } from '../../src/cli/interactive.js';
import { openSource } from '../../src/formats/open.js';
import { PrecomputedLayer, makeInfo } from '../../src/formats/precomputed/index.js';
import { buildServer } from '../../src/server/app.js';
import { classLabels } from '../../src/stages/classes/classes.js';
import { generatePhantom } from '../../src/stages/phantom/generate.js';
import { scriptedStrokes } from '../../src/stages/predict/interactive-testing.js';
import { rocAuc } from '../../src/stages/predict/metrics.js';
import { tempDir } from '../data.js';
import { APP_DIR, ensureAppBuilt, launchChromium, watchPageErrors, saveShot } from './browser.js';

const TOKEN = 'browser-secret';
const SHAPE = [128, 128, 8] as const;
let app: FastifyInstance;
let close: () => Promise<void>;
let dir: string;
let url: string;
let browser: BrowserContext | undefined;
let page: Page;
let truth: Volume;
let pageErrors: string[] = [];
let reportRaces = () => {};
const served: string[] = [];
/** When each prediction chunk of model 1 was sent (ms since epoch), by path. */
const predictedAt = new Map<string, number>();

beforeAll(async () => {
  const [work, profile] = await Promise.all([tempDir('wiring-train-e2e-'), tempDir('wiring-chromium-')]);
  dir = path.join(work, 'ds');
  await Promise.all([
    generatePhantom(dir, { seed: 21, size: [...SHAPE], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0, maxShift: 8, noise: 30 }, { chunkSize: [64, 64, 8], run: { workers: 1 } }),
    ensureAppBuilt(),
  ]);
  // a segmentation with a merge tree: four supervoxels (quadrants), merges at 0.2, 0.5, 0.9
  const sv = await PrecomputedLayer.create(path.join(dir, 'supervoxels'), makeInfo({ type: 'segmentation', dtype: 'uint64', shape: [...SHAPE], voxelSize: [8, 8, 30], chunkSize: [64, 64, 8], encoding: 'raw' }));
  const v = Volume.zeros('uint64', boxFromShape([...SHAPE]));
  const d = v.data as BigUint64Array;
  for (let z = 0; z < 8; z++) for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) d[x + 128 * (y + 128 * z)] = 10n + BigInt((x >= 64 ? 1 : 0) + (y >= 64 ? 2 : 0));
  await sv.writeBox(v);
  await PrecomputedLayer.create(path.join(dir, 'segmentation'), makeInfo({ type: 'segmentation', dtype: 'uint64', shape: [...SHAPE], voxelSize: [8, 8, 30], chunkSize: [64, 64, 8] }));
  await fs.writeFile(
    path.join(dir, 'segmentation', 'merge_tree.json'),
    JSON.stringify({ format: 'wiring-merge-tree', version: 1, threshold: 0.5, supervoxels: 4, supervoxels_layer: path.join(dir, 'supervoxels'), merges: [['10', '11', 0.2], ['12', '13', 0.5], ['10', '12', 0.9]] }),
  );
  const raw = await openSource(path.join(dir, 'raw'));
  const neurons = await openSource(path.join(dir, 'neurons'));
  const all = boxFromShape(raw.shape);
  truth = classLabels({ neurons: await neurons.read(all) }, all);
  await raw.close();
  await neurons.close();
  const io = await interactiveOptions(dir, { token: TOKEN, runArgs: ['--workers', '1'] });
  close = io!.close;
  app = await buildServer({ dataset: dir, appDir: APP_DIR, interactive: io!.options });
  app.addHook('onRequest', async (req) => {
    served.push(decodeURIComponent(req.url.split('?')[0]));
  });
  app.addHook('onResponse', async (req, reply) => {
    const u = decodeURIComponent(req.url.split('?')[0]);
    if (u.startsWith('/api/interactive/probabilities/1/p/') && reply.statusCode === 200 && !predictedAt.has(u)) predictedAt.set(u, Date.now());
  });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium(profile);
  page = browser.pages()[0] ?? (await browser.newPage());
  ({ errors: pageErrors, report: reportRaces } = watchPageErrors(page));
}, 120_000);

afterAll(async () => {
  reportRaces();
  await browser?.close();
  await app?.close();
  await close?.();
});

/** Add line annotations to the strokes layer's source, as Neuroglancer's line tool commits them. */
async function drawLines(lines: Array<[readonly number[], readonly number[]]>): Promise<void> {
  await page.evaluate((ls) => {
    const source = (window as any).wiring.viewer.layerManager.getLayerByName('strokes').layer.localAnnotations;
    for (const [a, b] of ls) {
      // LINE = 1; points at voxel centres in the layer's (voxel) coordinates
      source.add({ type: 1, id: '', description: '', pointA: Float32Array.from(a, (x: number) => x + 0.5), pointB: Float32Array.from(b, (x: number) => x + 0.5), properties: [] });
    }
  }, lines);
}

describe('train in the browser (chromium)', () => {
  it('labels strokes of two classes, trains, shows the prediction, and it separates membrane from cytoplasm', async () => {
    await page.goto(url + '/');
    await page.waitForFunction(() => (window as any).wiring !== undefined, undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => (window as any).wiring.trainReady)).toBe(true);
    expect(await page.locator('#train-section').isVisible()).toBe(true);
    const classes = await page.locator('#train-class option').allTextContents();
    expect(classes).toEqual(['1 boundary', '2 cytoplasm', '3 cleft', '4 vesicle', '5 mitochondrion']);
    // the strokes layer is there, waiting for its local annotation source
    await page.waitForFunction(() => (window as any).wiring.viewer.layerManager.getLayerByName('strokes')?.layer?.localAnnotations !== undefined, undefined, { timeout: 10_000 });
    await page.waitForFunction(() => (window as any).wiring.viewer.layerManager.managedLayers.every((l: any) => l.isReady()), undefined, { timeout: 10_000 });
    // without the token a stroke is refused, said so, and tagged "not saved"
    await page.selectOption('#train-class', '1');
    await drawLines([[[5, 5, 1], [6, 5, 1]]]);
    await page.waitForFunction(() => (document.getElementById('train-status')!.textContent ?? '').includes('not saved'));
    expect(await page.locator('#train-status').textContent()).toMatch(/Bearer/);
    await page.fill('#train-token', TOKEN);
    await page.fill('#train-user', 'anna');
    // scripted labeller on the left half: each stroke's segments become line annotations
    const strokes = scriptedStrokes(truth.crop({ min: [0, 0, 0], max: [64, 128, 8] }), [1, 2], 24, 5, 1);
    let lines = 0;
    for (const cls of [1, 2]) {
      await page.selectOption('#train-class', String(cls));
      const ls: Array<[readonly number[], readonly number[]]> = [];
      for (const s of strokes.filter((t) => t.cls === cls)) for (let i = 1; i < s.points.length; i++) ls.push([s.points[i - 1], s.points[i]]);
      // one line in an xz cross-section (same y), on the first stroke's start voxel
      if (cls === 2) {
        const p = strokes.find((t) => t.cls === 2)!.points[0];
        ls.push([p, [p[0], p[1], p[2] === 7 ? 6 : p[2] + 1]]);
      }
      await drawLines(ls);
      lines += ls.length;
      await page.waitForFunction((n) => [...(window as any).wiring.train.posted.values()].filter((i: number) => i >= 0).length === n, lines, { timeout: 20_000 });
    }
    const labels = await (await fetch(`${url}/api/interactive/labels`)).json();
    expect(labels.strokes).toHaveLength(lines);
    expect(new Set(labels.strokes.map((s: any) => s.cls))).toEqual(new Set([1, 2]));
    expect(labels.strokes[0].user).toBe('anna');
    expect(labels.strokes.every((s: any) => s.radius === 1 && s.points.length === 2)).toBe(true);
    expect(labels.strokes.filter((s: any) => s.plane === 'xz')).toHaveLength(1);
    // the annotations are tagged with their class names; the counts shown are the server's
    const descriptions = await page.evaluate(() => [...(window as any).wiring.viewer.layerManager.getLayerByName('strokes').layer.localAnnotations].map((a: any) => a.description));
    expect(descriptions.filter((d: string) => d === 'boundary').length + descriptions.filter((d: string) => d === 'cytoplasm').length).toBe(lines);
    const want = `${labels.voxels[1]},${labels.voxels[2]},0`;
    await page.waitForFunction((w) => [1, 2, 3].map((c) => document.querySelector(`#train-counts tr[data-cls="${c}"] td.num`)?.textContent).join() === w, want);
    expect(await page.locator('#train-stroke-count').textContent()).toBe(`(${lines} strokes)`);
    // Train: the job is followed until the prediction and uncertainty layers are in the viewer
    const t0 = Date.now();
    await page.click('#train-button');
    await page.waitForFunction(() => (window as any).wiring.viewer.layerManager.getLayerByName('prediction') !== undefined, undefined, { timeout: 40_000 });
    const model = await page.evaluate(() => (window as any).wiring.train.model as number);
    expect(model).toBe(1);
    const state = await page.evaluate(() => (window as any).wiring.viewer.state.toJSON());
    const byName = new Map(state.layers.map((l: any) => [l.name, l]));
    expect((byName.get('prediction') as any).source).toBe(`precomputed://${url}/api/interactive/probabilities/1`);
    expect((byName.get('uncertainty') as any).source).toBe(`precomputed://${url}/api/interactive/uncertainty/1`);
    expect(await page.locator('#train-status').textContent()).toContain('model 1 trained');
    // Neuroglancer asks for the prediction chunks of the view
    const chunkReq = () => served.filter((u) => u.startsWith('/api/interactive/probabilities/1/p/'));
    for (const end = Date.now() + 30_000; chunkReq().length === 0 && Date.now() < end; ) await page.waitForTimeout(100);
    expect(chunkReq().length, 'prediction chunks requested by the viewer').toBeGreaterThan(0);
    // the xy view's section (128 x 128) is one chunk: time until it is served
    const z = await page.evaluate(() => Math.floor((window as any).wiring.viewer.navigationState.position.value[2]));
    const xyChunk = `/api/interactive/probabilities/1/p/0-128_0-128_${z}-${z + 1}`;
    for (const end = Date.now() + 30_000; !predictedAt.has(xyChunk) && Date.now() < end; ) await page.waitForTimeout(50);
    expect([...predictedAt.keys()]).toContain(xyChunk);
    const trained = await page.locator('#train-status').textContent();
    console.log(`browser: ${lines} line strokes, Train click -> the view's prediction served: ${((predictedAt.get(xyChunk)! - t0) / 1000).toFixed(1)} s (${trained}; measured under load)`);
    // the prediction of the unlabelled right half separates membrane from cytoplasm
    const scores: number[] = [], isBoundary: number[] = [];
    for (let zz = 0; zz < SHAPE[2]; zz++) {
      const b = new Uint8Array(await (await fetch(`${url}/api/interactive/probabilities/1/p/0-128_0-128_${zz}-${zz + 1}`)).arrayBuffer());
      expect(b.length).toBe(128 * 128 * 2);
      const t = truth.crop({ min: [0, 0, zz], max: [128, 128, zz + 1] }).data as Uint8Array;
      for (let i = 0; i < t.length; i++) if (i % 128 >= 64 && (t[i] === 1 || t[i] === 2)) (scores.push(b[i]), isBoundary.push(t[i] === 1 ? 1 : 0));
    }
    const auc = rocAuc(Float32Array.from(scores), Uint8Array.from(isBoundary));
    console.log(`browser: ${lines} line strokes -> boundary AUC ${auc.toFixed(3)} on the unlabelled half`);
    expect(auc).toBeGreaterThan(0.75);
    await saveShot('train-prediction.png', await page.screenshot());
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('paints freehand brush strokes in the xy and xz cross-sections, and deletes strokes from the app (who and when kept)', async () => {
    const before = (await (await fetch(`${url}/api/interactive/labels`)).json()).strokes.length;
    await page.check('#train-brush');
    await page.selectOption('#train-class', '2');
    // the slice panels and the planes they show
    const panels: Array<{ plane: string | null; x: number; y: number; w: number; h: number }> = await page.evaluate(() => {
      const w = (window as any).wiring;
      return [...w.viewer.display.panels].filter((p: any) => p.sliceView).map((p: any) => {
        const r = p.element.getBoundingClientRect();
        return { plane: w.train.panelPlane(p), x: r.left, y: r.top, w: r.width, h: r.height };
      });
    });
    expect(panels.map((p) => p.plane).sort()).toEqual(['xy', 'xz', 'yz']);
    const drag = async (plane: string) => {
      const p = panels.find((q) => q.plane === plane)!;
      const cx = p.x + p.w / 2, cy = p.y + p.h / 2;
      await page.mouse.move(cx - 30, cy - 10);
      await page.mouse.down();
      for (let k = 1; k <= 12; k++) await page.mouse.move(cx - 30 + 5 * k, cy - 10 + 2 * k);
      await page.mouse.up();
    };
    await drag('xy');
    await page.waitForFunction(() => (window as any).wiring.train.brushed.length === 1);
    // a user class, added from the app and selected for the next stroke
    await page.fill('#train-new-class', 'glia');
    await page.click('#train-add-class');
    await page.waitForFunction(() => (document.getElementById('train-class') as HTMLSelectElement).value === '6');
    expect(await page.locator('#train-class option[value="6"]').textContent()).toBe('6 glia');
    await drag('xz');
    await page.waitForFunction(() => (window as any).wiring.train.brushed.length === 2);
    const labels = await (await fetch(`${url}/api/interactive/labels`)).json();
    expect(labels.strokes).toHaveLength(before + 2);
    const [xy, xz] = labels.strokes.slice(-2);
    const z = await page.evaluate(() => Math.floor((window as any).wiring.viewer.navigationState.position.value[2]));
    expect(xy).toMatchObject({ cls: 2, plane: 'xy', user: 'anna' });
    expect(xy.points.length).toBeGreaterThan(5);
    expect(xy.points.every((q: number[]) => q[2] === z)).toBe(true);
    expect(xz).toMatchObject({ cls: 6, plane: 'xz' });
    expect(new Set(xz.points.map((q: number[]) => q[1])).size).toBe(1);
    expect(new Set(xz.points.map((q: number[]) => q[2])).size).toBeGreaterThan(1);
    // each brush stroke is shown as its polyline in the strokes layer
    const shown = await page.evaluate((id) => [...(window as any).wiring.viewer.layerManager.getLayerByName('strokes').layer.localAnnotations].filter((a: any) => a.id.startsWith(`s${id}.`)).length, xy.id);
    expect(shown).toBe(xy.points.length - 1);
    // the segments shown while drawing are gone once the stroke is saved
    const drawing = await page.evaluate(() => [...(window as any).wiring.viewer.layerManager.getLayerByName('strokes').layer.localAnnotations].filter((a: any) => a.id.startsWith('drawing.')).length);
    expect(drawing).toBe(0);
    // deleting one of its annotations deletes the stroke (and its other annotations)
    await page.evaluate((id) => {
      const src = (window as any).wiring.viewer.layerManager.getLayerByName('strokes').layer.localAnnotations;
      const ref = src.getReference(`s${id}.0`);
      src.delete(ref);
      ref.dispose();
    }, xy.id);
    await page.waitForFunction((id) => (document.getElementById('train-status')!.textContent ?? '') === `stroke ${id} deleted`, xy.id);
    // "delete last stroke" deletes the xz one
    await page.click('#train-undo');
    await page.waitForFunction((id) => (document.getElementById('train-status')!.textContent ?? '') === `stroke ${id} deleted`, xz.id);
    const after = await (await fetch(`${url}/api/interactive/labels`)).json();
    expect(after.strokes).toHaveLength(before);
    expect(after.deleted.map((d: any) => [d.delete, d.user])).toEqual([[xy.id, 'anna'], [xz.id, 'anna']]);
    const left = await page.evaluate(() => [...(window as any).wiring.viewer.layerManager.getLayerByName('strokes').layer.localAnnotations].filter((a: any) => /^s\d+\./.test(a.id)).length);
    expect(left).toBe(0);
    await page.uncheck('#train-brush');
    expect(pageErrors).toEqual([]);
  });

  it('the merge-tree slider re-cuts the segmentation: its range is the tree\'s, the layer follows and the count is the merge tree\'s', async () => {
    await page.waitForFunction(() => !(document.getElementById('recut-box') as HTMLElement).hidden);
    // the slider spans the tree's scores (0.2 .. 0.9), from just below the first merge
    const min = Number(await page.locator('#recut-threshold').getAttribute('min'));
    expect(min).toBeLessThan(0.2);
    expect(min).toBeGreaterThan(0.18);
    expect(await page.locator('#recut-threshold').getAttribute('max')).toBe('0.9');
    const want: Record<string, number> = { [String(min)]: 4, '0.3': 3, '0.6': 2, '0.9': 1 };
    for (const [t, n] of Object.entries(want)) {
      await page.locator('#recut-threshold').fill(t);
      await page.waitForFunction((tt) => document.getElementById('recut-count')!.dataset.threshold === tt, t);
      const api = await (await fetch(`${url}/api/recut/segments?threshold=${t}`)).json();
      expect(api.segments).toBe(n);
      expect(await page.locator('#recut-count').textContent()).toBe(`${n} segments`);
      const src = await page.evaluate(() => (window as any).wiring.viewer.state.toJSON().layers.find((l: any) => l.name === 'recut').source);
      expect(src).toBe(`precomputed://${url}/api/recut/${t}`);
    }
    // the viewer asks for chunks of the cut shown
    const recutChunks = () => served.filter((u) => u.startsWith('/api/recut/0.9/') && !u.endsWith('/info'));
    for (const end = Date.now() + 20_000; recutChunks().length === 0 && Date.now() < end; ) await page.waitForTimeout(100);
    expect(recutChunks().length, `chunks of the cut at 0.9 asked (asked: ${served.filter((u) => u.startsWith('/api/recut')).slice(0, 8).join(' ')})`).toBeGreaterThan(0);
    await page.locator('#recut-threshold').fill('0.6');
    await page.waitForFunction(() => document.getElementById('recut-count')!.dataset.threshold === '0.6');
    await page.click('#recut-choose');
    await page.waitForFunction(() => (document.getElementById('recut-status')!.textContent ?? '').includes('kept'));
    const info = JSON.parse(await fs.readFile(path.join(dir, 'segmentation', 'info'), 'utf8'));
    expect(info.wiring.cut).toMatchObject({ threshold: 0.6, segments: 2, user: 'anna' });
    expect(pageErrors).toEqual([]);
  });

  it('runs the whole volume from the app: each stage\'s state, then a notification', async () => {
    // the stages are `wiring` commands (bin/wiring.js -> dist/cli: `npm test` builds it first)
    await page.click('#run-button');
    await page.waitForFunction(() => document.querySelectorAll('#run-stages li').length === 5);
    expect(await page.locator('#run-stages li').evaluateAll((ls) => ls.map((l) => (l as HTMLElement).dataset.stage))).toEqual(['predict', 'segment', 'cells', 'meshes', 'skeletons']);
    await page.waitForFunction(() => /run 1 (done|failed)/.test(document.getElementById('run-status')!.textContent ?? ''), undefined, { timeout: 150_000 });
    const run = await (await fetch(`${url}/api/runs/1`)).json();
    const shown = await page.locator('#run-stages li').evaluateAll((ls) => ls.map((l) => (l as HTMLElement).dataset.state));
    expect(shown).toEqual(run.stages.map((s: any) => s.state));
    expect(await page.locator('#run-status').textContent()).toBe(run.notification);
    expect(run.state, run.notification).toBe('done');
    expect(shown).toEqual(['done', 'done', 'done', 'done', 'done']);
    console.log(`browser: whole-volume run ${run.stages.map((s: any) => `${s.name} ${s.seconds?.toFixed(1)} s`).join(', ')} (measured under load)`);
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
