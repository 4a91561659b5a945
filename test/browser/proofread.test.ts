/**
 * End-to-end proofreading in Debian chromium: the app's Proofread panel against `buildServer`
 * with the proofreading routes (and the CLI's recompute) on the synthetic demo dataset, whose
 * cells are cut into 16^3-voxel supervoxels. Points are picked with the panel's gesture
 * (ctrl+shift+click in the xy view); the test checks the server's log and versions first and
 * pixels only for "something renders". Screenshots go to test-output/browser/.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxFromShape } from '../../src/core/box.js';
import { Volume } from '../../src/core/volume.js';
import { derivingBackend } from '../../src/cli/proofread-derive.js';
import { openSource } from '../../src/formats/open.js';
import { PrecomputedLayer, makeInfo } from '../../src/formats/precomputed/index.js';
import { buildServer } from '../../src/server/app.js';
import { initProofread } from '../../src/stages/proofread/io.js';
import { ProofreadService } from '../../src/stages/proofread/service.js';
import { tempDir } from '../data.js';
import { APP_DIR, ensureAppBuilt, launchChromium, watchPageErrors, pixelStats, saveShot } from './browser.js';
import { buildDemoDataset, type DemoCell, type DemoDataset } from './dataset.js';

const TOKEN = 'proofread-secret';
const BLOCK = 16;
let ds: DemoDataset;
let app: FastifyInstance;
let svc: ProofreadService;
let url: string;
let browser: BrowserContext | undefined;
let page: Page;
/** voxels of each cell (by id) */
const voxels = new Map<bigint, number>();
let pageErrors: string[] = [];
let reportRaces = () => {};
const served: string[] = [];

beforeAll(async () => {
  const [work, profile] = await Promise.all([tempDir('wiring-proofread-e2e-'), tempDir('wiring-chromium-')]);
  [ds] = await Promise.all([buildDemoDataset(path.join(work, 'ds')), ensureAppBuilt()]);
  // supervoxels: each cell cut into 16^3 blocks (outside the dataset folder, so not a served layer)
  const neurons = await openSource(path.join(ds.dir, 'neurons'));
  const labels = (await neurons.read(boxFromShape(ds.shape))).data as BigUint64Array;
  await neurons.close();
  const index = new Map(ds.cells.map((c, k) => [c.id, k + 1]));
  const [sx, sy, sz] = ds.shape;
  const sv = new BigUint64Array(labels.length);
  const nb = [sx / BLOCK, sy / BLOCK, sz / BLOCK];
  for (let z = 0, i = 0; z < sz; z++) for (let y = 0; y < sy; y++) for (let x = 0; x < sx; x++, i++) {
    const id = labels[i];
    if (id === 0n) continue;
    voxels.set(id, (voxels.get(id) ?? 0) + 1);
    const b = Math.floor(x / BLOCK) + nb[0] * (Math.floor(y / BLOCK) + nb[1] * Math.floor(z / BLOCK));
    sv[i] = BigInt(index.get(id)!) * 1000n + BigInt(b + 1);
  }
  const svDir = path.join(work, 'supervoxels');
  const layer = await PrecomputedLayer.create(svDir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape: ds.shape, voxelSize: ds.voxelSize, chunkSize: [64, 64, 64] }));
  await layer.writeBox(Volume.from('uint64', ds.shape, sv, { voxelSize: ds.voxelSize }));
  await initProofread(ds.dir, { supervoxels: svDir, segmentation: path.join(ds.dir, 'neurons'), boundaries: path.join(ds.dir, 'raw'), invert: true });
  svc = await ProofreadService.open(ds.dir);
  app = await buildServer({ dataset: ds.dir, appDir: APP_DIR, proofread: { backend: derivingBackend(svc), token: TOKEN } });
  app.addHook('onRequest', async (req) => {
    served.push(decodeURIComponent(req.url.split('?')[0]));
  });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium(profile);
  page = browser.pages()[0] ?? (await browser.newPage());
  ({ errors: pageErrors, report: reportRaces } = watchPageErrors(page));
}, 180_000);

afterAll(async () => {
  reportRaces();
  await browser?.close();
  await app?.close();
  await svc?.close();
});

const logOps = async () => {
  const text = await fs.readFile(path.join(ds.dir, 'proofread', 'edits.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
};
const nmOf = (c: DemoCell) => c.point.map((v, a) => (v + 0.5) * ds.voxelSize[a]);
const rootAt = async (c: DemoCell): Promise<string> => (await (await fetch(`${url}/api/proofread/point?nm=${nmOf(c).join(',')}`)).json()).root;
const panelState = () => page.evaluate(() => {
  const p = (window as any).wiring.proofread.panel;
  return { op: p.op, picks: p.picks.map((x: any) => [x.role, x.root]), selected: p.selected, visible: p.visibleSegments(), source: p.layerSource(), preview: p.preview };
});

async function xyPanel(): Promise<{ x: number; y: number; width: number; height: number }> {
  const boxes = await page.locator('.neuroglancer-rendered-data-panel').evaluateAll((els) => els.map((e) => {
    const r = e.getBoundingClientRect();
    return { x: r.x, y: r.y, width: r.width, height: r.height };
  }));
  return boxes.filter((b) => b.width > 50).sort((a, b) => a.y - b.y || a.x - b.x)[0];
}

/** Centre the views on a cell's deepest voxel and ctrl+shift+click it in the xy view (the panel's pick gesture). */
async function pickCell(c: DemoCell, role: 'merge' | 'source' | 'sink'): Promise<void> {
  const before = (await panelState()).picks.length;
  await page.check(`#proofread-section input[name=proofread-mode][value=${role}]`);
  await page.evaluate((p) => {
    const v = (window as any).wiring.viewer;
    void v.position.value;
    v.position.value = Float32Array.from(p);
  }, c.point.map((v) => v + 0.5));
  const xy = await xyPanel();
  const cx = xy.x + xy.width / 2, cy = xy.y + xy.height / 2;
  const merges = role === 'merge' ? Math.min(2, (await panelState()).picks.filter((x: string[]) => x[0] === 'merge').length + 1) : 0;
  const picked = () => page.evaluate(([n, r, m]) => {
    const picks = (window as any).wiring.proofread.panel.picks;
    return r === 'merge' ? picks.filter((x: any) => x.role === 'merge').length === m && picks[picks.length - 1].role === 'merge' : picks.length === n;
  }, [before + 1, role, merges] as const);
  // under load Neuroglancer may not have taken the mouse position in yet: the gesture is repeated (a pick is idempotent here)
  for (let attempt = 0; attempt < 3 && !(await picked()); attempt++) {
    await page.waitForTimeout(300);
    await page.mouse.move(cx - 3, cy - 3);
    await page.mouse.move(cx, cy);
    await page.waitForTimeout(300);
    await page.keyboard.down('Control');
    await page.keyboard.down('Shift');
    await page.mouse.down();
    await page.mouse.up();
    await page.keyboard.up('Shift');
    await page.keyboard.up('Control');
    for (const end = Date.now() + 5000; !(await picked()) && Date.now() < end; ) await page.waitForTimeout(100);
  }
  expect(await picked(), `picked ${role} on ${c.id}`).toBe(true);
}

/** Red-dominated pixels of the xy view (the sources' side of a split preview is red). */
async function redPixels(name: string): Promise<number> {
  const png = await page.screenshot({ clip: await xyPanel() });
  await saveShot(name, png);
  const sharp = (await import('sharp')).default;
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < info.width * info.height; i++) if (data[3 * i] > data[3 * i + 1] + 70 && data[3 * i] > data[3 * i + 2] + 70) n++;
  return n;
}

describe('proofreading in the browser (chromium)', () => {
  // two cells that do not touch (a membrane of background between every pair): the merge is a link edge
  let a: DemoCell, b: DemoCell;
  let merged = '';

  it('shows the Proofread panel and the served version 0 as the cell layer', async () => {
    [a, b] = [...ds.cells].sort((x, y) => voxels.get(y.id)! - voxels.get(x.id)!);
    await page.goto(url + '/');
    await page.waitForFunction(() => (window as any).wiring !== undefined, undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => (window as any).wiring.proofread.ready)).toBe(true);
    expect(await page.locator('#proofread-section').isVisible()).toBe(true);
    const s = await panelState();
    expect(s.op).toBe(0);
    expect(s.source).toBe(`precomputed://${url}/api/proofread/versions/0/segmentation`);
    await page.waitForFunction(() => (window as any).wiring.viewer.layerManager.managedLayers.every((l: any) => l.isReady()), undefined, { timeout: 15_000 });
  });

  it('merges two picked segments (refused without the token, then made with it)', async () => {
    await pickCell(a, 'merge');
    await pickCell(b, 'merge');
    expect((await panelState()).picks).toEqual([['merge', a.id.toString()], ['merge', b.id.toString()]]);
    await page.fill('#proofread-section [data-pr=token]', '');
    await page.click('#proofread-section [data-pr=merge]');
    await page.waitForFunction(() => /merge refused/.test(document.querySelector('#proofread-section [data-pr=message]')!.textContent ?? ''));
    expect(await page.locator('#proofread-section [data-pr=message]').textContent()).toMatch(/Bearer/);
    expect(await logOps()).toEqual([]);
    await page.fill('#proofread-section [data-pr=token]', TOKEN);
    await page.fill('#proofread-section [data-pr=user]', 'ana');
    await page.click('#proofread-section [data-pr=merge]');
    await page.waitForFunction(() => (window as any).wiring.proofread.panel.op === 1, undefined, { timeout: 30_000 });
    const log = await logOps();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ op: 1, kind: 'merge', user: 'ana' });
    expect([...log[0].retired].sort()).toEqual([a.id.toString(), b.id.toString()].sort());
    merged = log[0].created[0].id;
    expect(await rootAt(a)).toBe(merged);
    expect(await rootAt(b)).toBe(merged);
    const s = await panelState();
    expect(s.source).toBe(`precomputed://${url}/api/proofread/versions/1/segmentation`);
    expect(s.visible).toEqual([merged]);
    expect(s.selected).toBe(merged);
    // Neuroglancer asks the served version for the merged cell's mesh (derived by the edit)
    const manifest = `/api/proofread/versions/1/segmentation/mesh/${merged}:0`;
    const fragment = (u: string) => /\/api\/proofread\/versions\/1\/segmentation\/mesh\/f\d+_\d+_\d+_[0-9a-f]{16}$/.test(u);
    for (const end = Date.now() + 30_000; !(served.includes(manifest) && served.some(fragment)) && Date.now() < end; ) await page.waitForTimeout(200);
    expect(served).toContain(manifest);
    expect(served.some(fragment), 'a fragment requested').toBe(true);
  });

  it('previews a split (two sides in two colours, log unchanged), then applies it', async () => {
    await page.evaluate((p) => {
      const v = (window as any).wiring.viewer;
      v.position.value = Float32Array.from(p);
    }, a.point.map((v) => v + 0.5));
    await page.waitForTimeout(1500);
    const noPreview = await redPixels('proofread-before-preview.png');
    await pickCell(a, 'source');
    await pickCell(b, 'sink');
    // the picked points are marked in the viewer: one red (source) near a's voxel, one blue (sink) near b's
    const points = await page.evaluate(() => ['source', 'sink'].map((r) => (window as any).wiring.proofread.panel.splitPoints(r)));
    expect(points.map((x: number[][]) => x.length)).toEqual([1, 1]);
    [a, b].forEach((c, i) => nmOf(c).forEach((v, k) => expect(Math.abs(points[i][0][k] - v)).toBeLessThan(2 * ds.voxelSize[k])));
    await page.click('#proofread-section [data-pr=preview]');
    await page.waitForFunction(() => (window as any).wiring.proofread.panel.preview !== null, undefined, { timeout: 30_000 });
    const s = await panelState();
    // the min cut separates the two cells exactly (their only connection is the merge's link edge)
    expect(s.preview.root).toBe(merged);
    expect(s.preview.cut_edges).toBe(1);
    expect(s.preview.sides.map((x: any) => [x.contains, x.voxels])).toEqual([['sources', voxels.get(a.id)], ['sinks', voxels.get(b.id)]]);
    expect(await logOps()).toHaveLength(1);
    const previewSource = await page.evaluate(() => (window as any).wiring.proofread.panel.layerSource('split preview'));
    expect(previewSource).toBe(`precomputed://${url}/api/proofread/previews/${s.preview.id}/segmentation`);
    expect(await page.locator('#proofread-section [data-pr=preview-info] [data-side]').count()).toBe(2);
    // something renders: the sources' side in red at the source point
    await page.evaluate((p) => {
      const v = (window as any).wiring.viewer;
      v.position.value = Float32Array.from(p);
    }, a.point.map((v) => v + 0.5));
    let red = 0;
    for (const end = Date.now() + 30_000; red <= noPreview + 300 && Date.now() < end; ) {
      red = await redPixels('proofread-split-preview.png');
      if (red <= noPreview + 300) await page.waitForTimeout(500);
    }
    expect(served.some((u) => u.startsWith(`/api/proofread/previews/${s.preview.id}/segmentation/`) && !u.endsWith('/info')), 'preview chunks requested').toBe(true);
    expect(red, 'red preview pixels').toBeGreaterThan(noPreview + 300);
    await page.click('#proofread-section [data-pr=split]');
    await page.waitForFunction(() => (window as any).wiring.proofread.panel.op === 2, undefined, { timeout: 30_000 });
    const log = await logOps();
    expect(log[1]).toMatchObject({ op: 2, kind: 'split', retired: [merged] });
    expect(log[1].created).toHaveLength(2);
    const [ra, rb] = [await rootAt(a), await rootAt(b)];
    expect(ra).not.toBe(rb);
    expect(log[1].created.map((c: any) => c.id).sort()).toEqual([ra, rb].sort());
    const after = await panelState();
    expect(after.preview).toBeNull();
    expect(await page.evaluate(() => ['source', 'sink'].map((r) => (window as any).wiring.proofread.panel.splitPoints(r).length))).toEqual([0, 0]);
    expect(after.source).toBe(`precomputed://${url}/api/proofread/versions/2/segmentation`);
    expect(await page.evaluate(() => (window as any).wiring.viewer.layerManager.getLayerByName('split preview'))).toBeFalsy();
  });

  it('undoes the split, lists the cell\'s history and sets its status', async () => {
    expect(await page.locator('#proofread-section [data-pr=undo]').textContent()).toBe('undo op 2');
    await page.click('#proofread-section [data-pr=undo]');
    await page.waitForFunction(() => (window as any).wiring.proofread.panel.op === 3, undefined, { timeout: 30_000 });
    const log = await logOps();
    expect(log[2]).toMatchObject({ op: 3, kind: 'undo', target: 2 });
    const joined = await rootAt(a);
    expect(await rootAt(b)).toBe(joined);
    expect(log[2].created.map((c: any) => c.id)).toEqual([joined]);
    await page.waitForFunction(() => document.querySelector('#proofread-section [data-pr=redo]')!.textContent === 'redo op 2', undefined, { timeout: 10_000 });
    expect(await page.locator('#proofread-section [data-pr=undo]').textContent()).toBe('undo op 1');
    // the selected cell is the undo's root: its history is every operation of its lineage
    // page state first: the panel selected the undo's root (its history request is then the latest)
    await page.waitForFunction((j) => (window as any).wiring.proofread.panel.selected === j, joined, { timeout: 10_000 });
    await page.evaluate(() => (window as any).wiring.proofread.panel.cellShown);
    expect((await panelState()).selected).toBe(joined);
    const ops = await page.locator('#proofread-section [data-pr=history] li[data-op]').evaluateAll((lis) => lis.map((l) => [(l as HTMLElement).dataset.op, (l as HTMLElement).dataset.kind]));
    expect(ops).toEqual([['1', 'merge'], ['2', 'split'], ['3', 'undo']]);
    expect(await page.locator('#proofread-section [data-pr=history]').textContent()).toContain('by ana');
    // status: axon extended, dendrite clean
    await page.selectOption('#proofread-section [data-pr=axon]', 'extended');
    await page.selectOption('#proofread-section [data-pr=dendrite]', 'clean');
    await page.click('#proofread-section [data-pr=status]');
    await page.waitForFunction(() => /axon extended, dendrite clean/.test(document.querySelector('#proofread-section [data-pr=status-info]')!.textContent ?? ''), undefined, { timeout: 10_000 });
    const st = await (await fetch(`${url}/api/proofread/status?root=${joined}`)).json();
    expect(st.statuses).toEqual([expect.objectContaining({ root: joined, status_axon: 'extended', status_dendrite: 'clean', user: 'ana', op: 3 })]);
    // the explorer shows the selected root too
    expect(await page.evaluate(() => (window as any).wiring.explorer.selectedId)).toBe(joined);
    const shot = await page.screenshot();
    await saveShot('proofread-page.png', shot);
    expect((await pixelStats(shot)).coloured, 'the page renders').toBeGreaterThan(1000);
    expect(pageErrors).toEqual([]);
  });
});
