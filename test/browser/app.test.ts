/**
 * End-to-end: the built app in real (Debian) chromium against `buildServer` on a synthetic
 * dataset. Neuroglancer's rendering is checked on screenshots (pixels), not only the DOM.
 * Screenshots go to test-output/browser/. Chromium missing = failure (CI installs it).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server/app.js';
import { generatePhantom } from '../../src/stages/phantom/generate.js';
import { tempDir } from '../data.js';
import { APP_DIR, CHROMIUM, ensureAppBuilt, launchChromium, pixelStats, saveShot, type PixelStats } from './browser.js';
import { buildDemoDataset, type DemoDataset } from './dataset.js';

let ds: DemoDataset;
let app: FastifyInstance;
let url: string;
let browser: BrowserContext | undefined;
let workDir: string;
let page: Page;
const pageErrors: string[] = [];
/** Paths the browser asked the server for (Neuroglancer fetches from web workers, which the page's request events may miss). */
const served: string[] = [];
/** The legacy-mesh requests for one segment (its manifest `mesh/<id>:0` and fragments). */
const MESH = '/data/neurons/mesh/';
const meshRequests = (id?: string) => served.filter((u) => u.startsWith(MESH) && !u.endsWith('/info') && (id === undefined || u.startsWith(`${MESH}${id}:`)));

/** The Neuroglancer panels in reading order (4panel layout: xy, xz / 3-D, yz). */
async function panels(p: Page = page): Promise<Array<{ x: number; y: number; width: number; height: number }>> {
  const boxes = await p.locator('.neuroglancer-rendered-data-panel').evaluateAll((els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    }),
  );
  return boxes.filter((b) => b.width > 50).sort((a, b) => a.y - b.y || a.x - b.x);
}

/** Screenshot a panel until `ok` holds (Neuroglancer draws progressively) or time runs out. */
async function shootUntil(index: number, name: string, ok: (s: PixelStats) => boolean, ms = 30_000, p: Page = page): Promise<PixelStats> {
  const end = Date.now() + ms;
  let stats: PixelStats;
  let png: Buffer;
  for (;;) {
    const clip = (await panels(p))[index];
    png = await p.screenshot({ clip });
    stats = await pixelStats(png);
    if (ok(stats) || Date.now() > end) break;
    await p.waitForTimeout(500);
  }
  await saveShot(name, png);
  return stats;
}

function expectedPartners(id: bigint) {
  const inputs = new Map<string, number>();
  const outputs = new Map<string, number>();
  for (const s of ds.synapses) {
    if (s.post_pt_root_id === id) inputs.set(s.pre_pt_root_id.toString(), (inputs.get(s.pre_pt_root_id.toString()) ?? 0) + 1);
    if (s.pre_pt_root_id === id) outputs.set(s.post_pt_root_id.toString(), (outputs.get(s.post_pt_root_id.toString()) ?? 0) + 1);
  }
  return { inputs, outputs };
}

async function tableCounts(table: string): Promise<Map<string, number>> {
  const rows = await page.locator(`#${table} tbody tr[data-id]`).evaluateAll((trs) =>
    trs.map((tr) => [(tr as HTMLElement).dataset.id!, Number(tr.children[2].textContent)] as [string, number]),
  );
  return new Map(rows);
}

describe('chromium', () => {
  it(`is installed at ${CHROMIUM} (CI installs Debian's chromium; the browser tests fail without it)`, () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} missing`).toBe(true);
  });
});

describe('browser app (chromium)', () => {
  beforeAll(async () => {
    const [dir, profile] = await Promise.all([tempDir('wiring-e2e-'), tempDir('wiring-chromium-')]);
    workDir = dir;
    [ds] = await Promise.all([buildDemoDataset(path.join(dir, 'ds')), ensureAppBuilt()]);
    app = await buildServer({ dataset: ds.dir, appDir: APP_DIR });
    app.addHook('onRequest', async (req) => {
      served.push(decodeURIComponent(req.url.split('?')[0]));
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium(profile);
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('loads the page, the layers and the cell table', async () => {
    await page.goto(url + '/');
    expect(await page.title()).toBe('Wiring');
    await page.waitForFunction(() => (window as any).wiring !== undefined, undefined, { timeout: 30_000 });
    await page.waitForFunction((n) => document.querySelectorAll('#cell-table tbody tr[data-id]').length === n, ds.cells.length, { timeout: 30_000 });
    const layers = await page.locator('.neuroglancer-layer-item-label').allTextContents();
    expect(layers).toEqual(expect.arrayContaining(['raw', 'neurons', 'synapses']));
    // ids stay exact 64-bit strings
    const ids = await page.locator('#cell-table tbody tr[data-id]').evaluateAll((trs) => trs.map((t) => (t as HTMLElement).dataset.id));
    expect(ids.sort()).toEqual(ds.cells.map((c) => c.id.toString()).sort());
    expect(pageErrors).toEqual([]);
  });

  it('Neuroglancer renders the EM and the segmentation (pixels)', async () => {
    const xy = await shootUntil(0, 'xy-em-segmentation.png', (s) => s.greyStd > 12 && s.greyLevels > 40 && s.coloured > 300 && s.hues >= 3);
    expect(xy.grey, 'EM pixels').toBeGreaterThan(5000);
    expect(xy.greyStd, 'EM is not a uniform grey').toBeGreaterThan(12);
    expect(xy.greyLevels).toBeGreaterThan(40);
    expect(xy.coloured, 'segment colours').toBeGreaterThan(300);
    expect(xy.hues, 'several segments in several colours').toBeGreaterThanOrEqual(3);
    await saveShot('page-loaded.png', await page.screenshot());
  });

  it('selecting a cell in the explorer lists its partners and shows it in Neuroglancer', async () => {
    // the cell with the most partners
    const best = [...ds.cells].sort((a, b) => {
      const pa = expectedPartners(a.id), pb = expectedPartners(b.id);
      return pb.inputs.size + pb.outputs.size - (pa.inputs.size + pa.outputs.size);
    })[0];
    const want = expectedPartners(best.id);
    expect(want.inputs.size + want.outputs.size).toBeGreaterThan(0);
    const id = best.id.toString();
    // 3-D view without the cross-section planes: only meshes (and yellow synapse markers) are coloured
    await page.evaluate(() => ((window as any).wiring.viewer.showPerspectiveSliceViews.value = false));
    // Page state, not pixels: nothing is selected yet, so Neuroglancer has asked for no mesh.
    expect(await page.evaluate(() => (window as any).wiring.bridge.visibleSegments())).toEqual([]);
    expect(meshRequests(), 'mesh requests before any selection').toEqual([]);
    const before3d = await shootUntil(2, '3d-before-selection.png', () => true);
    // the synapse markers (yellow points from the server's precomputed annotation source)
    expect(await page.locator('#status').textContent()).toContain('synapses from the server');
    const setSynapsesVisible = (v: boolean) => page.evaluate((vis) => (window as any).wiring.viewer.layerManager.getLayerByName('synapses').setVisible(vis), v);
    await setSynapsesVisible(false);
    const noMarkers = await shootUntil(2, '3d-without-synapses.png', () => true);
    await setSynapsesVisible(true);
    const markers = await shootUntil(2, '3d-with-synapses.png', (s) => s.coloured - s.colouredNotYellow > noMarkers.coloured - noMarkers.colouredNotYellow + 200);
    expect(markers.coloured - markers.colouredNotYellow, 'yellow synapse marker pixels').toBeGreaterThan(noMarkers.coloured - noMarkers.colouredNotYellow + 200);
    await page.fill('#cell-search', id.slice(-6));
    await page.waitForFunction(() => document.querySelectorAll('#cell-table tbody tr[data-id]').length === 1);
    await page.click(`#cell-table tbody tr[data-id="${id}"]`);
    await page.waitForFunction(() => !(document.getElementById('partners') as HTMLElement).hidden && document.querySelector('#inputs-table tbody tr') !== null);
    await page.evaluate(() => (window as any).wiring.explorer.partnersShown);
    expect(await tableCounts('inputs-table')).toEqual(want.inputs);
    expect(await tableCounts('outputs-table')).toEqual(want.outputs);
    expect(await page.locator('#selected-cell').textContent()).toContain(id);
    // Neuroglancer shows that segment only, and moved to its soma
    expect(await page.evaluate(() => (window as any).wiring.bridge.visibleSegments())).toEqual([id]);
    const pos = await page.evaluate(() => Array.from((window as any).wiring.viewer.position.value as Float32Array));
    best.point.forEach((v, a) => expect(pos[a]).toBeCloseTo(v + 0.5, 3));
    // Neuroglancer asks the server for that segment's mesh (manifest and fragments), and only that one
    for (const end = Date.now() + 30_000; meshRequests(id).length < 2 && Date.now() < end; ) await page.waitForTimeout(100);
    expect(meshRequests(id).some((u) => u === `${MESH}${id}:0`), `manifest of ${id} requested`).toBe(true);
    expect(meshRequests(id).length, 'a fragment of the selected mesh requested').toBeGreaterThanOrEqual(2);
    expect(meshRequests().filter((u) => !u.startsWith(`${MESH}${id}:`)), 'no other segment\'s mesh').toEqual([]);
    // and something renders: the 3-D view gains coloured (mesh) pixels
    const after3d = await shootUntil(2, '3d-selected-mesh.png', (s) => s.colouredNotYellow > before3d.colouredNotYellow + 2000);
    expect(after3d.colouredNotYellow, 'mesh pixels').toBeGreaterThan(before3d.colouredNotYellow + 2000);
    await saveShot('cell-selected.png', await page.screenshot());
    // only this cell's synapses: fewer yellow markers in the 3-D view
    const yellow = (s: PixelStats) => s.coloured - s.colouredNotYellow;
    await page.check('#synapse-filter');
    const filtered = await shootUntil(2, '3d-selected-synapses-only.png', (s) => yellow(s) < yellow(after3d) - 100);
    expect(yellow(filtered), 'markers of the selected cell only').toBeLessThan(yellow(after3d) - 100);
    await page.uncheck('#synapse-filter');
    // picking a partner row selects that partner
    const partner = [...want.outputs.keys(), ...want.inputs.keys()][0];
    await page.click(`#partners tr[data-id="${partner}"]`);
    await page.waitForFunction((p) => (window as any).wiring.bridge.visibleSegments().join() === p, partner);
    await page.fill('#cell-search', '');
  });

  it('double-clicking a segment in Neuroglancer selects that cell in the explorer', async () => {
    const current = await page.evaluate(() => (window as any).wiring.explorer.selectedId as string);
    const target = ds.cells.find((c) => c.id.toString() !== current)!;
    const id = target.id.toString();
    // centre the xy view on the target's soma, then double-click the panel centre
    await page.evaluate((p) => {
      const v = (window as any).wiring.viewer;
      void v.position.value;
      v.position.value = Float32Array.from(p);
    }, target.point.map((v) => v + 0.5));
    const xy = (await panels())[0];
    const cx = xy.x + xy.width / 2, cy = xy.y + xy.height / 2;
    await page.waitForTimeout(500);
    await page.mouse.move(cx - 3, cy - 3);
    await page.mouse.move(cx, cy);
    await page.waitForTimeout(800);
    // the hovered segment is labelled with its cell type (segment properties from /api/segment_properties)
    await page.waitForFunction((t) => [...document.querySelectorAll('.neuroglancer-layer-item-value')].some((e) => e.textContent!.includes(t)), `${id} ${target.type}`, { timeout: 10_000 });
    await page.mouse.dblclick(cx, cy);
    await page.waitForFunction((want) => (window as any).wiring.explorer.selectedId === want, id, { timeout: 10_000 });
    expect(await page.locator('#selected-cell').textContent()).toContain(id);
    await page.evaluate(() => (window as any).wiring.explorer.partnersShown);
    const want = expectedPartners(target.id);
    expect(await tableCounts('outputs-table')).toEqual(want.outputs);
    expect(await page.locator(`#cell-table tr.selected`).getAttribute('data-id')).toBe(id);
    await saveShot('picked-in-neuroglancer.png', await page.screenshot());
  });

  it('draws the connectivity matrix and the size histogram', async () => {
    const m = await (await fetch(`${url}/api/connectivity?measure=count`)).json();
    const cells = page.locator('#matrix svg rect.cell');
    expect(await cells.count()).toBe(m.preTypes.length * m.postTypes.length);
    const values = await cells.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-value'))));
    expect(values).toEqual(m.values.flat());
    const png = await page.locator('#matrix svg').screenshot();
    await saveShot('matrix.png', png);
    const stats = await pixelStats(png);
    expect(stats.coloured).toBeGreaterThan(500);
    expect(stats.hues).toBeGreaterThanOrEqual(2);
    await page.selectOption('#matrix-measure', 'binary');
    const binary = await (await fetch(`${url}/api/connectivity?measure=binary`)).json();
    await page.waitForFunction((want) => [...document.querySelectorAll('#matrix svg rect.cell')].map((r) => r.getAttribute('data-value')).join() === want, binary.values.flat().join());
    await page.evaluate(() => ((window as any).wiring.viewer.showPerspectiveSliceViews.value = true));
    const bars = await page.locator('#sizes svg rect').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-count'))));
    expect(bars.reduce((a, b) => a + b, 0)).toBe(ds.synapses.length);
    await saveShot('sizes.png', await page.locator('#sizes svg').screenshot());
  });

  it('keeps the viewer state out of the URL, in localStorage across reloads', async () => {
    const selected = await page.evaluate(() => (window as any).wiring.bridge.visibleSegments());
    expect(selected.length).toBeGreaterThan(0);
    expect(new URL(page.url()).hash).toBe('');
    await page.waitForTimeout(800); // the state is saved 0.5 s after the last change
    const saved = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('wiring.viewer:')));
    expect(saved.length).toBe(1);
    await page.reload();
    await page.waitForFunction(() => (window as any).wiring !== undefined, undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => (window as any).wiring.bridge.visibleSegments())).toEqual(selected);
    expect(new URL(page.url()).hash).toBe('');
    expect(pageErrors).toEqual([]);
  });

  it('shows a `wiring phantom` dataset (raw, neurons and the other phantom layers)', async () => {
    const dir = path.join(workDir, 'phantom');
    const { tables } = await generatePhantom(dir, { seed: 3, size: [96, 96, 16], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0, maxShift: 8, noise: 30 }, { chunkSize: [32, 32, 16], run: { workers: 1 } });
    const server = await buildServer({ dataset: dir, appDir: APP_DIR });
    const p = await browser!.newPage();
    try {
      const phantomUrl = await server.listen({ port: 0, host: '127.0.0.1' });
      await p.goto(phantomUrl + '/');
      await p.waitForFunction((n) => document.querySelectorAll('#cell-table tbody tr[data-id]').length === n, tables.cells.length, { timeout: 30_000 });
      // The status line is set after the layers load, which can finish after the cell table fills.
      await p.waitForFunction(() => (document.querySelector('#status')?.textContent ?? '').includes("segments of 'neurons'"), undefined, { timeout: 30_000 });
      expect(await p.locator('#status').textContent()).toContain("segments of 'neurons'");
      const xy = await shootUntil(0, 'phantom-xy.png', (s) => s.greyStd > 8 && s.coloured > 2000 && s.hues >= 3, 30_000, p);
      expect(xy.greyStd, 'phantom EM').toBeGreaterThan(8);
      expect(xy.coloured, 'phantom neurons').toBeGreaterThan(2000);
      expect(xy.hues).toBeGreaterThanOrEqual(3);
      const first = String(tables.cells[0].id);
      await p.click(`#cell-table tbody tr[data-id="${first}"]`);
      await p.waitForFunction(() => !(document.getElementById('partners') as HTMLElement).hidden);
      expect(await p.evaluate(() => (window as any).wiring.bridge.visibleSegments())).toEqual([first]);
      // somata may lie outside the volume: the view stays inside the data
      const pos = await p.evaluate(() => Array.from((window as any).wiring.viewer.position.value as Float32Array));
      pos.forEach((v, a) => {
        expect(v, `axis ${a}`).toBeGreaterThanOrEqual(0);
        expect(v, `axis ${a}`).toBeLessThanOrEqual([96, 96, 16][a]);
      });
      await saveShot('phantom-page.png', await p.screenshot());
    } finally {
      await p.close();
      await server.close();
    }
  });
});
