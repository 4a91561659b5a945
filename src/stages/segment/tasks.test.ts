import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Box, boxFromShape, type Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { evaluateSegmentation } from '../../metrics/segmentation.js';
import { readBlockData, runTasks } from '../../scheduler/index.js';
import { tempDir } from '../../../test/data.js';
import { relabel } from './agglomerate.js';
import { DEFAULT_SUPERVOXELS, type SupervoxelParams, boundaryMaps, computeAgglomeration, computeSupervoxels } from './pipeline.js';
import { blockForTiles, checkTile, chunkForBlock, countSupervoxels, seededSupervoxels, supervoxelBlock, supervoxelTask } from './tasks.js';
import { voronoiBoundaryMap } from './testing.js';

/** Voronoi cells with 1-voxel membranes (0.95) and noisy interiors. */
function cellMap(shape: Vec3, n: number, seed: number): Float32Array {
  return voronoiBoundaryMap(shape, n, seed, () => 0.95);
}

/** Every file of a layer except the run state, name -> bytes. */
function layerFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      if (e === '.wiring-run') continue;
      const p = path.join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(path.relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

async function writeMap(dir: string, shape: Vec3, data: Float32Array, vs: Vec3): Promise<string> {
  const bLayer = path.join(dir, 'boundaries');
  const bl = await PrecomputedLayer.create(bLayer, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize: vs, chunkSize: [16, 16, 8] }));
  await bl.writeBox(Volume.from('float32', shape, data, { voxelSize: vs }));
  return bLayer;
}

/** Run the supervoxel task with `block` (whole tiles) and return the layer's files and the supervoxel count. */
async function runBlocks(dir: string, name: string, bLayer: string, shape: Vec3, o: { tile: Vec3; margin: Vec3; block: Vec3; params: SupervoxelParams; workers?: number; vs: Vec3 }): Promise<{ files: Map<string, Buffer>; count: number; out: string; state: string }> {
  const out = path.join(dir, name);
  await PrecomputedLayer.create(out, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: o.vs, chunkSize: chunkForBlock(o.tile) }));
  const task = supervoxelTask({ boundaries: bLayer, out, bounds: boxFromShape(shape), blockShape: o.block, tile: o.tile, margin: o.margin, params: { supervoxels: o.params } });
  const state = path.join(out, '.wiring-run');
  await runTasks([task], { stateDir: state, workers: o.workers ?? 1, json: true });
  const count = countSupervoxels((await readBlockData(state, 'supervoxels')).map((d) => d.data));
  return { files: layerFiles(out), count, out, state };
}

function expectSameFiles(a: Map<string, Buffer>, b: Map<string, Buffer>): void {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [k, v] of a) expect(b.get(k)!.equals(v), k).toBe(true);
}

async function readIds(out: string, shape: Vec3): Promise<BigUint64Array> {
  return (await (await PrecomputedLayer.open(out)).readBox(boxFromShape(shape))).data as BigUint64Array;
}

describe('seededSupervoxels', () => {
  it('is the kernel watershed (same labels) for every seed method, 3-D and per section', () => {
    const shape: Vec3 = [32, 28, 10];
    const b = cellMap(shape, 10, 7);
    const cases: SupervoxelParams[] = [
      { ...DEFAULT_SUPERVOXELS, sampling: [8, 8, 8] },
      { ...DEFAULT_SUPERVOXELS, sampling: [8, 8, 30], twoD: true },
      { seeds: 'minima', seedSigma: 1, minSize: 4 },
      { seeds: 'minima', seedSigma: 1, seedConnectivity: 'full', flood: 'smoothed', minSize: 4 },
      { seeds: 'minima', seedSigma: 1, seedConnectivity: 'full', flood: 'smoothed', minSize: 4, twoD: true },
      { seeds: 'threshold', threshold: 0.1, minSeedSize: 2, minSize: 0 },
    ];
    for (const p of cases) {
      const whole = computeSupervoxels(boundaryMaps(Volume.from('float32', shape, b)), p);
      const s = seededSupervoxels(b, shape, p);
      expect(s.count).toBe(whole.count);
      expect(s.labels).toEqual(whole.labels);
      for (let l = 1; l <= s.count; l++) expect(s.labels[s.seedVoxel[l]]).toBe(l);
    }
  });
  it('computed in a given label array (dirty, reused by calls of other shapes) gives the same labels and seeds', () => {
    const shapes: Vec3[] = [[32, 28, 10], [20, 18, 6], [32, 28, 10]];
    const work = new Uint32Array(32 * 28 * 10).fill(0xdeadbeef);
    for (const p of [{ ...DEFAULT_SUPERVOXELS, sampling: [8, 8, 30] as Vec3, twoD: true }, { ...DEFAULT_SUPERVOXELS, sampling: [8, 8, 8] as Vec3 }, { seeds: 'minima' as const, seedSigma: 1, minSize: 4 }]) {
      for (const [k, shape] of shapes.entries()) {
        const b = cellMap(shape, 10, 7 + k);
        const n = shape[0] * shape[1] * shape[2];
        const fresh = seededSupervoxels(b, shape, p);
        const into = seededSupervoxels(b, shape, p, work.subarray(0, n));
        expect(into.count).toBe(fresh.count);
        expect(Array.from(into.labels)).toEqual(Array.from(fresh.labels));
        expect(Array.from(into.seedVoxel)).toEqual(Array.from(fresh.seedVoxel));
      }
    }
  });
});

describe('blockwise supervoxels on a tile grid', () => {
  const shape: Vec3 = [48, 40, 20];
  const vs: Vec3 = [8, 8, 8];
  const params: SupervoxelParams = { ...DEFAULT_SUPERVOXELS, sampling: vs };
  const tile: Vec3 = [16, 16, 8];
  const margin: Vec3 = [8, 8, 8];

  it('gives the same bytes for every block shape (dividing the volume or not) and 1 or 2 workers; close to the whole volume', async () => {
    const dir = await tempDir();
    const b = cellMap(shape, 14, 3);
    const bLayer = await writeMap(dir, shape, b, vs);
    const blocks: Vec3[] = [tile, blockForTiles([20, 40, 9], tile, shape).block, blockForTiles([100, 100, 100], tile, shape).block];
    expect(blocks[1]).toEqual([32, 48, 16]);
    expect(blocks[2]).toEqual([48, 48, 24]);
    const ref = await runBlocks(dir, 'ref', bLayer, shape, { tile, margin, block: blocks[0], params, vs });
    for (const [k, block] of blocks.slice(1).entries()) {
      const r = await runBlocks(dir, `b${k}`, bLayer, shape, { tile, margin, block, params, vs });
      expectSameFiles(ref.files, r.files);
      expect(r.count).toBe(ref.count);
    }
    const two = await runBlocks(dir, 'two', bLayer, shape, { tile, margin, block: [32, 16, 8], params, vs, workers: 2 });
    expectSameFiles(ref.files, two.files);
    // resume after an interruption: drop two blocks' records and voxels, rerun the same task
    const task = supervoxelTask({ boundaries: bLayer, out: two.out, bounds: boxFromShape(shape), blockShape: [32, 16, 8], tile, margin, params: { supervoxels: params } });
    const recs = path.join(two.state, 'supervoxels', 'blocks');
    const names = readdirSync(recs).filter((f) => f.endsWith('.json')).slice(0, 2);
    for (const f of names) rmSync(path.join(recs, f));
    const layer = await PrecomputedLayer.open(two.out);
    await layer.writeBox(new Volume('uint64', boxFromShape([48, 40, 20]), new BigUint64Array(48 * 40 * 20), 1, vs));
    const again = await runTasks([task], { stateDir: two.state, workers: 1, json: true });
    expect(again.computed).toBe(2);
    expect(again.resumed).toBe(again.blocks - 2);
    // the two recomputed blocks hold the reference's voxels
    const refIds = await readIds(ref.out, shape);
    const now = await readIds(two.out, shape);
    for (const f of names) {
      const [i, j, k] = f.replace('.json', '').split('_').map(Number);
      for (let z = k * 8; z < Math.min(shape[2], k * 8 + 8); z++)
        for (let y = j * 16; y < Math.min(shape[1], j * 16 + 16); y++)
          for (let x = i * 32; x < Math.min(shape[0], i * 32 + 32); x++) {
            const v = x + shape[0] * (y + shape[1] * z);
            if (now[v] !== refIds[v]) throw new Error(`resumed block ${f}: voxel ${x},${y},${z} differs`);
          }
    }
    // ids are unique (seed-anchored), every voxel labelled, and close to the whole-volume supervoxels
    const ids = await readIds(ref.out, shape);
    expect(ids.every((v) => v > 0n)).toBe(true);
    const whole = computeSupervoxels(boundaryMaps(Volume.from('float32', shape, b)), params);
    const { compactLabels } = await import('../../kernels/components.js');
    const dense = compactLabels(ids);
    expect(dense.count).toBe(ref.count);
    // tiles this small (16x16x8 for cells ~20 voxels wide) cut many supervoxels; the agglomeration stitches them
    const maps = boundaryMaps(Volume.from('float32', shape, b));
    const seg = relabel(dense.labels, computeAgglomeration(dense.labels, maps).map, new Uint32Array(dense.labels.length));
    const wholeSeg = relabel(whole.labels, computeAgglomeration(whole.labels, maps).map, new Uint32Array(whole.labels.length));
    const s = evaluateSegmentation(seg, wholeSeg);
    expect(s.voi_split + s.voi_merge).toBeLessThan(0.3);
    // one tile covering the volume = the whole-volume supervoxels exactly
    const one = await runBlocks(dir, 'one', bLayer, shape, { tile: shape, margin, block: shape, params, vs });
    const s1 = evaluateSegmentation(compactLabels(await readIds(one.out, shape)).labels, whole.labels);
    expect(s1.voi_split + s1.voi_merge).toBeLessThan(1e-9);
    expect(one.count).toBe(whole.count);
  }, 60_000);

  it('anisotropic per-section supervoxels: same bytes for two block shapes, equal to the whole volume with no z context', async () => {
    const dir = await tempDir();
    const sh: Vec3 = [40, 40, 6];
    const avs: Vec3 = [4, 4, 40];
    const b = voronoiBoundaryMap(sh, 8, 11, () => 0.95);
    const bLayer = await writeMap(dir, sh, b, avs);
    const p: SupervoxelParams = { ...DEFAULT_SUPERVOXELS, sampling: avs, twoD: true };
    const t: Vec3 = [40, 40, 2];
    const a = await runBlocks(dir, 'a', bLayer, sh, { tile: t, margin: [16, 16, 0], block: t, params: p, vs: avs });
    const c = await runBlocks(dir, 'c', bLayer, sh, { tile: t, margin: [16, 16, 0], block: [40, 40, 4], params: p, vs: avs });
    expectSameFiles(a.files, c.files);
    const whole = computeSupervoxels(boundaryMaps(Volume.from('float32', sh, b)), p);
    const { compactLabels } = await import('../../kernels/components.js');
    const s = evaluateSegmentation(compactLabels(await readIds(a.out, sh)).labels, whole.labels);
    expect(s.voi_split + s.voi_merge).toBeLessThan(1e-9);
  }, 30_000);

  it('full-connectivity minima flooding the smoothed map: same bytes for block shapes and 2 workers, the whole volume with one tile', async () => {
    const dir = await tempDir();
    const b = cellMap(shape, 14, 5);
    const bLayer = await writeMap(dir, shape, b, vs);
    const p: SupervoxelParams = { seeds: 'minima', seedSigma: 1, seedConnectivity: 'full', flood: 'smoothed', minSize: 4 };
    const a = await runBlocks(dir, 'a', bLayer, shape, { tile, margin, block: tile, params: p, vs });
    const c = await runBlocks(dir, 'c', bLayer, shape, { tile, margin, block: [32, 48, 16], params: p, vs, workers: 2 });
    expectSameFiles(a.files, c.files);
    expect(c.count).toBe(a.count);
    // one tile = the kernel's supervoxels of the whole volume (and not those of flooding the unsmoothed map)
    const one = await runBlocks(dir, 'one', bLayer, shape, { tile: shape, margin, block: shape, params: p, vs });
    const { compactLabels } = await import('../../kernels/components.js');
    const oneIds = compactLabels(await readIds(one.out, shape)).labels;
    const whole = computeSupervoxels(boundaryMaps(Volume.from('float32', shape, b)), p);
    expect(evaluateSegmentation(oneIds, whole.labels).voi_split + evaluateSegmentation(oneIds, whole.labels).voi_merge).toBeLessThan(1e-9);
    const unsmoothed = computeSupervoxels(boundaryMaps(Volume.from('float32', shape, b)), { ...p, flood: 'map' });
    const d = evaluateSegmentation(oneIds, unsmoothed.labels);
    expect(d.voi_split + d.voi_merge).toBeGreaterThan(1e-3);
  }, 60_000);

  it('edge cases: volume smaller than a tile, an offset volume, one voxel, a solid boundary map, one section', () => {
    const run = (sh: Vec3, data: Float32Array, t: Vec3, p: SupervoxelParams = params): BigUint64Array => {
      const bounds: Box = boxFromShape(sh);
      const input = Volume.from('float32', sh, data);
      const r = supervoxelBlock({ box: bounds, readBox: bounds, inputs: { boundaries: input }, params: { supervoxels: p, bounds, tile: t, margin }, blockIndex: [0, 0, 0] });
      return r.volumes!.supervoxels.data as BigUint64Array;
    };
    // smaller than a tile: one tile = the volume
    const small = run([10, 8, 4], cellMap([10, 8, 4], 3, 1), [64, 64, 64]);
    expect(small.every((v) => v > 0n)).toBe(true);
    // a volume with an offset: the tile grid and the ids are relative to its origin
    const m = cellMap([24, 16, 8], 4, 9);
    const at = (offset: Vec3): BigUint64Array => {
      const bounds: Box = boxFromShape([24, 16, 8], offset);
      const input = Volume.from('float32', [24, 16, 8], m, { offset });
      return supervoxelBlock({ box: bounds, readBox: bounds, inputs: { boundaries: input }, params: { supervoxels: params, bounds, tile: [8, 8, 8], margin }, blockIndex: [0, 0, 0] }).volumes!.supervoxels.data as BigUint64Array;
    };
    expect(at([5, 7, 3])).toEqual(at([0, 0, 0]));
    // one voxel
    expect(Array.from(run([1, 1, 1], new Float32Array([0.2]), [1, 1, 1]))).toEqual([1n]);
    // solid boundary map: no interior, minima fallback (one flat minimum per tile context, named by
    // its first voxel): every voxel labelled; here every context is the whole volume, so one id
    const solid = run([16, 16, 8], new Float32Array(16 * 16 * 8).fill(1), [8, 8, 8]);
    expect(solid.every((v) => v > 0n)).toBe(true);
    expect(new Set(solid).size).toBe(1);
    // one section, in 2-D and 3-D
    const sec = cellMap([24, 24, 1], 5, 2);
    expect(run([24, 24, 1], sec, [8, 8, 1], { ...params, twoD: true }).every((v) => v > 0n)).toBe(true);
    expect(run([24, 24, 1], sec, [8, 8, 1]).every((v) => v > 0n)).toBe(true);
  });

  it('bad input: tiles and blocks that are not whole positive numbers of tiles', () => {
    expect(() => checkTile([0, 4, 4])).toThrow(/--tile: expected three positive whole numbers/);
    expect(() => checkTile([1.5, 4, 4])).toThrow(/--tile/);
    expect(() => checkTile([4, 4])).toThrow(/--tile/);
    const o = { boundaries: 'x', out: 'y', bounds: boxFromShape(shape), params: { supervoxels: params } };
    expect(() => supervoxelTask({ ...o, blockShape: [20, 16, 8], tile, margin })).toThrow(/not a whole number of supervoxel tiles/);
    expect(() => supervoxelTask({ ...o, blockShape: [16, 16, 8], tile, margin: [-1, 0, 0] })).toThrow(/margin/);
    const bounds = boxFromShape([16, 16, 8]);
    const input = Volume.from('float32', [16, 16, 8], new Float32Array(16 * 16 * 8));
    const box: Box = { min: [0, 0, 0], max: [12, 16, 8] };
    expect(() => supervoxelBlock({ box, readBox: box, inputs: { boundaries: input.crop(box) }, params: { supervoxels: params, bounds, tile: [8, 8, 8], margin: [0, 0, 0] }, blockIndex: [0, 0, 0] })).toThrow(/whole number of supervoxel tiles/);
  });
});
