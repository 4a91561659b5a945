/**
 * End-to-end: the annotate stage's columns in the app (web/annotations.ts), in real chromium
 * against `buildServer` on the synthetic dataset after `annotateDataset` ran on it (rule
 * compartments, skeletons with a `compartment` vertex attribute, cell_annotations rows).
 * Page state is asserted (table rows, the cell layer's segment colours, the skeleton shader,
 * the organelle table); pixels only for "the compartment-coloured skeleton renders".
 */
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAnnotateRows } from '../../src/connectome/annotate-tables.js';
import { ConnectomeStore } from '../../src/connectome/store.js';
import { buildServer } from '../../src/server/app.js';
import { annotateDataset, skeletonSource } from '../../src/stages/annotate/run.js';
import { COMPARTMENT_COLOURS, TYPE_PALETTE, compartmentShader } from '../../web/annotations.js';
import { tempDir } from '../data.js';
import { APP_DIR, ensureAppBuilt, launchChromium, saveShot } from './browser.js';
import { buildDemoDataset, type DemoDataset } from './dataset.js';

let ds: DemoDataset;
let app: FastifyInstance;
let url: string;
let browser: BrowserContext | undefined;
let page: Page;
const pageErrors: string[] = [];
const served: string[] = [];
/** cell_annotations rows by id, as annotate wrote them */
let annotated: Map<string, Record<string, unknown>>;
/** the compartments of each cell's skeleton nodes */
const nodeCompartments = new Map<string, string[]>();

/** Pixels of exactly a colour (within `tol` per channel) in a PNG: the shader emits the compartment colours unshaded. */
async function colourPixels(png: Buffer, hex: string, tol = 4): Promise<number> {
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < info.width * info.height; i++) {
    if (Math.abs(data[3 * i] - want[0]) <= tol && Math.abs(data[3 * i + 1] - want[1]) <= tol && Math.abs(data[3 * i + 2] - want[2]) <= tol) n++;
  }
  return n;
}

const rowIds = () => page.locator('#cell-table tbody tr[data-id]').evaluateAll((trs) => trs.map((t) => (t as HTMLElement).dataset.id!).sort());
const viewState = () => page.evaluate(() => (window as any).wiring.annotations.state());

describe('annotations in the browser app (chromium)', () => {
  beforeAll(async () => {
    const [dir, profile] = await Promise.all([tempDir('wiring-e2e-annot-'), tempDir('wiring-chromium-')]);
    [ds] = await Promise.all([buildDemoDataset(path.join(dir, 'ds')), ensureAppBuilt()]);
    const store = await ConnectomeStore.open(path.join(ds.dir, 'connectome.duckdb'));
    try {
      await annotateDataset(await skeletonSource(path.join(ds.dir, 'neurons')), store, { writeTables: (t, rows) => writeAnnotateRows(store, t, rows) });
      annotated = new Map((await store.all('SELECT * FROM cell_annotations')).map((r) => [String(r.pt_root_id), r]));
      for (const r of await store.all('SELECT DISTINCT pt_root_id, compartment FROM skeleton_nodes')) {
        const k = String(r.pt_root_id);
        nodeCompartments.set(k, [...(nodeCompartments.get(k) ?? []), String(r.compartment)]);
      }
    } finally {
      await store.close();
    }
    app = await buildServer({ dataset: ds.dir, appDir: APP_DIR });
    app.addHook('onRequest', async (req) => {
      served.push(decodeURIComponent(req.url.split('?')[0]));
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium(profile);
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(url + '/');
    await page.waitForFunction(() => (window as any).wiring !== undefined, undefined, { timeout: 30_000 });
    await page.evaluate(() => (window as any).wiring.annotationsReady);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('the type filter narrows the cell table to the cells of that type', async () => {
    expect(annotated.size).toBe(ds.cells.length);
    const types = [...new Set(ds.cells.map((c) => c.type))].sort();
    const options = await page.locator('#cell-type-filter option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options).toEqual(['', ...types]);
    for (const t of types) {
      await page.selectOption('#cell-type-filter', t);
      const want = ds.cells.filter((c) => c.type === t).map((c) => c.id.toString()).sort();
      expect(await rowIds(), `cells of type ${t}`).toEqual(want);
      expect(await page.locator('#cell-count').textContent()).toBe(`(${want.length} of ${ds.cells.length})`);
    }
    // combined with the search box: type and search both apply
    const bc = ds.cells.find((c) => c.type === 'BC')!;
    await page.selectOption('#cell-type-filter', 'BC');
    await page.fill('#cell-search', bc.id.toString().slice(-6));
    await page.waitForFunction(() => document.querySelectorAll('#cell-table tbody tr[data-id]').length === 1);
    await page.selectOption('#cell-type-filter', 'L23');
    await page.waitForFunction(() => document.querySelectorAll('#cell-table tbody tr[data-id]').length === 0);
    await page.fill('#cell-search', '');
    // a legend swatch sets the filter
    await page.click('#type-legend .swatch[data-type="MC"]');
    expect(await rowIds()).toEqual(ds.cells.filter((c) => c.type === 'MC').map((c) => c.id.toString()).sort());
    await page.selectOption('#cell-type-filter', '');
    expect((await rowIds()).length).toBe(ds.cells.length);
    expect(pageErrors).toEqual([]);
  });

  it("colours the cell layer's segments by cell type", async () => {
    const s = await viewState();
    const types = [...new Set(ds.cells.map((c) => c.type))].sort();
    expect(s.typeColours).toEqual(Object.fromEntries(types.map((t, i) => [t, TYPE_PALETTE[i]])));
    // every cell has its type's colour in the viewer state (segmentColors of the neurons layer)
    const want = Object.fromEntries(ds.cells.map((c) => [c.id.toString(), s.typeColours[c.type]]));
    expect(s.colours).toEqual(want);
    const layerJson = await page.evaluate(() => (window as any).wiring.viewer.state.toJSON().layers.find((l: any) => l.name === 'neurons'));
    expect(layerJson.segmentColors).toEqual(want);
    // unticking the box gives the segments their own colours back
    await page.uncheck('#colour-by-type');
    expect((await viewState()).colours).toEqual({});
    await page.check('#colour-by-type');
    expect((await viewState()).colours).toEqual(want);
    // a reset view rebuilds the layer: the colours come back
    await page.click('#reset-view');
    await page.waitForFunction((n) => Object.keys((window as any).wiring.annotations.state().colours).length === n, ds.cells.length, { timeout: 10_000 });
  });

  it('colours skeletons by the compartment vertex attribute and shows the organelle table', async () => {
    const s = await viewState();
    expect(s.compartments).toBe(true);
    expect(s.shader).toBe(compartmentShader());
    expect(s.shader).toMatch(/int\(compartment \+ 0\.5\)/);
    const legend = await page.locator('#compartment-legend .swatch').allTextContents();
    expect(legend).toEqual(COMPARTMENT_COLOURS.map((c) => c.name));
    // select the longest cell (most skeleton pixels): Neuroglancer reads its annotated skeleton
    const cell = [...ds.cells].sort((a, b) => Number(annotated.get(b.id.toString())!.cable_length_um) - Number(annotated.get(a.id.toString())!.cable_length_um))[0];
    const id = cell.id.toString();
    await page.fill('#cell-search', id.slice(-6));
    // the search applied (debounced): every row shown matches it in id, type or name
    await page.waitForFunction((q) => [...document.querySelectorAll('#cell-table tbody tr[data-id]')].every((tr) => tr.textContent!.toLowerCase().includes(q)), id.slice(-6));
    await page.click(`#cell-table tbody tr[data-id="${id}"]`);
    // page state: the organelle box names the cell it shows once its row (or an error) is in
    await page.waitForFunction((want) => document.getElementById('cell-organelles')?.dataset.cell === want, id, { timeout: 30_000 });
    const rows = await page.locator('#cell-organelles tr[data-field]').evaluateAll((trs) => Object.fromEntries(trs.map((t) => [(t as HTMLElement).dataset.field!, t.children[1].textContent])));
    const a = annotated.get(id)!;
    expect(rows.syn_in, `organelle box: ${await page.locator('#cell-organelles').textContent()}`).toBe(String(a.syn_in));
    expect(rows.syn_out).toBe(String(a.syn_out));
    expect(Number(rows.cable_length_um)).toBeCloseTo(Number(a.cable_length_um), 1);
    for (let end = Date.now() + 30_000; !served.includes(`/data/neurons/skeletons_annotated/${id}`) && Date.now() < end; ) await page.waitForTimeout(100);
    expect(served, 'the annotated skeleton is fetched').toContain(`/data/neurons/skeletons_annotated/${id}`);
    // something renders: 3-D view without slices and meshes, the skeleton in compartment colours
    await page.evaluate(() => {
      const v = (window as any).wiring.viewer;
      v.showPerspectiveSliceViews.value = false;
      // the mesh subsource off (as in the layer's Source tab): only the skeleton is drawn
      for (const src of v.layerManager.getLayerByName('neurons').layer.dataSources) {
        const loaded = src.loadState;
        if (!loaded?.subsources) continue;
        for (const sub of loaded.subsources) if (sub.subsourceEntry.id === 'mesh') sub.enabled = false;
        loaded.enabledSubsourcesChanged.dispatch();
      }
      v.layerManager.getLayerByName('synapses').setVisible(false);
    });
    const compartmentsOf = nodeCompartments.get(id) ?? [];
    const colours = COMPARTMENT_COLOURS.filter((c) => compartmentsOf.includes(c.name)).map((c) => c.colour);
    expect(colours.length, `compartments of ${id}: ${compartmentsOf}`).toBeGreaterThan(0);
    const panel = await page.locator('.neuroglancer-rendered-data-panel').evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x, y: r.y, width: r.width, height: r.height })).filter((b) => b.width > 50).sort((p, q) => p.y - q.y || p.x - q.x)[2]);
    let hits = 0;
    let png: Buffer = Buffer.alloc(0);
    for (const end = Date.now() + 30_000; Date.now() < end; await page.waitForTimeout(500)) {
      png = await page.screenshot({ clip: panel });
      hits = 0;
      for (const c of colours) hits += await colourPixels(png, c);
      if (hits > 20) break;
    }
    await saveShot('3d-skeleton-compartments.png', png);
    expect(hits, 'skeleton pixels in compartment colours').toBeGreaterThan(20);
    expect(pageErrors).toEqual([]);
  });
});
