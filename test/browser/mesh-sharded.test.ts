/**
 * End-to-end: stock Neuroglancer (the built app in chromium, served by `buildServer`) reads a
 * sharded multi-resolution mesh layer as `wiring mesh --sharded` writes it (and the sharded
 * skeletons of `wiring skeletonize --sharded`: the segment's skeleton shard read by ranges). Asserted on page state
 * and on the requests: the segment's shard file is fetched by byte ranges (shard index, minishard
 * index, manifest, fragment data before the manifest), each answered 206, no unsharded file is
 * asked for, no page error and no chunk error on the console (the Draco decoder's WebAssembly is
 * served as application/wasm, which it needs); pixels only for "something renders" in the 3-D view.
 */
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server/app.js';
import { runTasks } from '../../src/scheduler/index.js';
import { type MeshSummary, finishMeshes, finishSkeletons, planMesh, planSkeletons } from '../../src/stages/morphology/tasks.js';
import { tempDir } from '../data.js';
import { APP_DIR, ensureAppBuilt, launchChromium, pixelStats, saveShot } from './browser.js';
import { buildDemoDataset, type DemoDataset } from './dataset.js';

let ds: DemoDataset;
let app: FastifyInstance;
let url: string;
let browser: BrowserContext | undefined;
let page: Page;
let summary: MeshSummary;
const pageErrors: string[] = [];
const chunkErrors: string[] = [];
/** Mesh-folder requests: path, Range header, status. */
const meshRequests: Array<{ path: string; range?: string; status: number }> = [];
const skeletonRequests: Array<{ path: string; range?: string; status: number }> = [];
const MESH = '/data/neurons/mesh/';
const SKELETONS = '/data/neurons/skeletons/';

describe('sharded multires meshes in stock Neuroglancer (chromium)', () => {
  beforeAll(async () => {
    const [dir, profile] = await Promise.all([tempDir('wiring-e2e-mesh-'), tempDir('wiring-chromium-')]);
    [ds] = await Promise.all([buildDemoDataset(path.join(dir, 'ds')), ensureAppBuilt()]);
    // the demo's legacy meshes replaced by `wiring mesh --sharded`'s output
    const layerDir = path.join(ds.dir, 'neurons');
    const task = await planMesh(layerDir);
    await runTasks([task], { stateDir: path.join(dir, 'state'), workers: 1, json: true });
    summary = await finishMeshes(layerDir, task, { sharded: true });
    // and its skeletons sharded the same way
    const skel = await planSkeletons(layerDir);
    await runTasks([skel], { stateDir: path.join(dir, 'state-skel'), workers: 1, json: true });
    expect((await finishSkeletons(layerDir, skel, { sharded: true })).sharding).toBeDefined();
    app = await buildServer({ dataset: ds.dir, appDir: APP_DIR });
    app.addHook('onResponse', async (req, reply) => {
      const p = decodeURIComponent(req.url.split('?')[0]);
      if (p.startsWith(MESH)) meshRequests.push({ path: p, range: req.headers.range, status: reply.statusCode });
      if (p.startsWith(SKELETONS)) skeletonRequests.push({ path: p, range: req.headers.range, status: reply.statusCode });
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium(profile);
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Neuroglancer's chunk failures (a manifest or fragment it cannot fetch or decode) go to the console only
    page.on('console', (m) => {
      if (/Error retrieving chunk/.test(m.text())) chunkErrors.push(m.text());
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('loads a segment\'s mesh (and skeleton) from its shard files by byte ranges, and it renders', async () => {
    expect(summary.sharding).toBeDefined();
    expect(summary.segments).toBeGreaterThan(3);
    await page.goto(url + '/');
    await page.waitForFunction(() => (window as any).wiring !== undefined, undefined, { timeout: 30_000 });
    await page.waitForFunction((n) => document.querySelectorAll('#cell-table tbody tr[data-id]').length === n, ds.cells.length, { timeout: 30_000 });
    await page.evaluate(() => ((window as any).wiring.viewer.showPerspectiveSliceViews.value = false));
    const panel3d = async () => {
      const boxes = await page.locator('.neuroglancer-rendered-data-panel').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON()));
      return boxes.filter((b) => b.width > 50).sort((a, b) => a.y - b.y || a.x - b.x)[2];
    };
    const before = await pixelStats(await page.screenshot({ clip: await panel3d() }));
    // the meshed cell with the most triangles
    const meshed = new Set(summary.segments_list.map((e) => e.id));
    const cell = ds.cells.filter((c) => meshed.has(c.id)).sort((a, b) => summary.segments_list.find((e) => e.id === b.id)!.triangles - summary.segments_list.find((e) => e.id === a.id)!.triangles)[0];
    const id = cell.id.toString();
    const shardFile = `${MESH}${(cell.id % 64n).toString(16).padStart(2, '0')}.shard`;
    expect(meshRequests.filter((r) => r.path !== `${MESH}info`), 'no mesh requested before a segment is shown').toEqual([]);
    await page.evaluate(([i, p]) => (window as any).wiring.bridge.showCell(i, p), [id, cell.point.map((v, a) => (v + 0.5) * ds.voxelSize[a])] as const);
    expect(await page.evaluate(() => (window as any).wiring.bridge.visibleSegments())).toEqual([id]);
    // shard index entry, minishard index, manifest, then fragment data: at least four ranged reads
    for (const end = Date.now() + 30_000; meshRequests.filter((r) => r.path === shardFile).length < 4 && Date.now() < end; ) await page.waitForTimeout(100);
    const shardReads = meshRequests.filter((r) => r.path === shardFile);
    expect(shardReads.length, `ranged reads of ${shardFile}`).toBeGreaterThanOrEqual(4);
    for (const r of shardReads) {
      expect(r.range, 'a byte range').toMatch(/^bytes=\d+-\d+$/);
      expect(r.status).toBe(206);
    }
    // Neuroglancer read the info's sharding: nothing of the unsharded layout was asked for
    expect(meshRequests.filter((r) => r.path !== `${MESH}info` && !r.path.endsWith('.shard'))).toEqual([]);
    expect(meshRequests.every((r) => r.status === 200 || r.status === 206)).toBe(true);
    // fragment data lie immediately before the manifest: a later read ends where an earlier one (the manifest) starts
    const ranges = shardReads.map((r) => r.range!.slice(6).split('-').map(Number));
    expect(ranges.some(([, e], j) => ranges.slice(0, j).some(([s]) => s === e + 1)), `fragment data read just before the manifest: ${JSON.stringify(ranges)}`).toBe(true);
    // and something renders: the 3-D view gains coloured mesh pixels
    let after = before;
    for (const end = Date.now() + 30_000; after.coloured < before.coloured + 2000 && Date.now() < end; ) {
      await page.waitForTimeout(300);
      after = await pixelStats(await page.screenshot({ clip: await panel3d() }));
    }
    await saveShot('3d-sharded-mesh.png', await page.screenshot({ clip: await panel3d() }));
    expect(after.coloured, 'mesh pixels').toBeGreaterThan(before.coloured + 2000);
    // the segment's skeleton from its shard file too (shard index, minishard index, the skeleton), each 206
    const skeletonShard = `${SKELETONS}${(cell.id % 64n).toString(16).padStart(2, '0')}.shard`;
    for (const end = Date.now() + 30_000; skeletonRequests.filter((r) => r.path === skeletonShard).length < 3 && Date.now() < end; ) await page.waitForTimeout(100);
    const skelReads = skeletonRequests.filter((r) => r.path === skeletonShard);
    expect(skelReads.length, `ranged reads of ${skeletonShard}`).toBeGreaterThanOrEqual(3);
    for (const r of skelReads) expect([r.range, r.status]).toEqual([expect.stringMatching(/^bytes=\d+-\d+$/), 206]);
    expect(skeletonRequests.filter((r) => r.path !== `${SKELETONS}info` && !r.path.endsWith('.shard'))).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(chunkErrors, 'Neuroglancer decoded the manifest and the Draco fragments').toEqual([]);
  }, 120_000);
});
