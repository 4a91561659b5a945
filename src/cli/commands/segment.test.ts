// The segment commands end to end, in process: supervoxels, agglomerate, segment, train-agglomeration, evaluate.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../../test/data.js';
import { wiringJsonInProcess } from '../../../test/cli-in-process.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { Volume } from '../../core/volume.js';
import type { Vec3 } from '../../core/box.js';
import { voronoiBoundaryMap } from '../../stages/segment/testing.js';

/** Voronoi cells with noisy membranes (0.6-0.95) and interiors (0-0.3); x fastest. */
function cellMap(shape: Vec3, n: number, seed: number): Float32Array {
  return voronoiBoundaryMap(shape, n, seed, (r) => 0.6 + 0.35 * r());
}

/** A float32 boundary layer at `dir` holding `map` (a cellMap) with this voxel and chunk size; returns `dir`. */
async function cellMapLayer(dir: string, shape: Vec3, voxelSize: Vec3, chunkSize: Vec3, map: Float32Array): Promise<string> {
  const l = await PrecomputedLayer.create(dir, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize, chunkSize }));
  await l.writeBox(Volume.from('float32', shape, map, { voxelSize }));
  return dir;
}

const wiring = wiringJsonInProcess;

describe('segment commands: usage errors', () => {
  it('rejects bad options with a UsageError naming the option', async () => {
    const dir = await tempDir();
    const p1 = dataPath('gala-medulla', 'train-p1.h5');
    if (!existsSync(p1)) return;
    await expect(wiring('supervoxels', '--boundaries', `${p1}#stack`, '--seeds', 'bogus', path.join(dir, 'x'))).rejects.toThrow(/--seeds/);
    await expect(wiring('agglomerate', '--supervoxels', `${p1}#stack`, '--boundaries', `${p1}#stack`, '--method', 'learned', path.join(dir, 'y'))).rejects.toThrow(/--model/);
    await expect(wiring('segment', '--boundaries', `${p1}#stack`, '--channel', '2', path.join(dir, 'z'))).rejects.toThrow(/channel 2/);
  });
});

describe('agglomerate --block', () => {
  it('gives the same segmentation as the whole-volume agglomeration; segment --block runs end to end', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [40, 32, 12];
    const bLayer = await cellMapLayer(path.join(dir, 'b'), shape, [8, 8, 8], [16, 16, 12], cellMap(shape, 10, 2));
    const sv = path.join(dir, 'sv');
    const s = await wiring('supervoxels', '--boundaries', bLayer, '--seeds', 'minima', '--seed-sigma', '1', '--min-size', '4', sv);
    expect(s.supervoxels).toBeGreaterThan(20);
    const whole = await wiring('agglomerate', '--supervoxels', sv, '--boundaries', bLayer, path.join(dir, 'whole'));
    const blocks = await wiring('agglomerate', '--supervoxels', sv, '--boundaries', bLayer, '--block', '16,16,6', '--workers', '1', path.join(dir, 'blocks'));
    expect(blocks.blocks).toBe(3 * 2 * 2);
    expect(blocks.segments).toBe(whole.segments);
    expect(blocks.merges).toBe(whole.merges);
    const e = await wiring('evaluate', path.join(dir, 'blocks'), path.join(dir, 'whole'));
    expect(e.voi_split).toBeLessThan(1e-12);
    expect(e.voi_merge).toBeLessThan(1e-12);
    // a rerun resumes (region graph and relabelling); another --block writes other chunks: refused
    const again = await wiring('agglomerate', '--supervoxels', sv, '--boundaries', bLayer, '--block', '16,16,6', '--workers', '1', path.join(dir, 'blocks'));
    expect(again.resumed).toBe(2 * again.blocks);
    expect(again.segments).toBe(whole.segments);
    await expect(wiring('agglomerate', '--supervoxels', sv, '--boundaries', bLayer, '--block', '8,8,6', '--workers', '1', path.join(dir, 'blocks'))).rejects.toThrow(/chunks \[16,16,6\]; --block 8,8,6 writes chunks \[8,8,6\].*--overwrite/);
    const seg = await wiring('segment', '--boundaries', bLayer, '--block', '32,32,12', '--workers', '1', path.join(dir, 'seg'));
    expect(seg.segments).toBeGreaterThan(3);
    expect(existsSync(path.join(dir, 'seg-supervoxels', 'info'))).toBe(true);
    const e2 = await wiring('evaluate', path.join(dir, 'seg'), path.join(dir, 'whole'));
    expect(e2.voi_split + e2.voi_merge).toBeLessThan(0.5);
    // a box larger than --max-voxels is scored in z slabs of whole sections: the same scores
    const e3 = await wiring('evaluate', path.join(dir, 'seg'), path.join(dir, 'whole'), '--max-voxels', '3000');
    expect(e3.slabs).toBe(6); // 2 sections of 40x32 per slab
    for (const k of ['voi_split', 'voi_merge', 'arand', 'arand_skimage']) expect(e3[k], k).toBeCloseTo(e2[k], 13);
    for (const k of ['seg_segments', 'gt_segments', 'seg_segments_in_gt', 'voxels_evaluated']) expect(e3[k], k).toBe(e2[k]);
  }, 60_000);
});

describe('segment on a volume larger than the memory budget', () => {
  it('goes blockwise by itself, with a note, and gives the same segmentation as --block', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [40, 32, 12];
    const bLayer = await cellMapLayer(path.join(dir, 'b'), shape, [8, 8, 8], [16, 16, 12], cellMap(shape, 10, 2));
    // 15,360 voxels need ~0.7 MB in memory: over a 512K budget
    const auto = await wiring('segment', '--boundaries', bLayer, '--memory', '512K', '--workers', '1', path.join(dir, 'auto'));
    expect(auto.auto_block).toMatch(/15360 voxels.*more than the budget.*--block 256,256,256/);
    expect(existsSync(path.join(dir, 'auto-supervoxels', 'info'))).toBe(true);
    const explicit = await wiring('segment', '--boundaries', bLayer, '--block', '256,256,256', '--workers', '1', path.join(dir, 'explicit'));
    expect(auto.segments).toBe(explicit.segments);
    const e = await wiring('evaluate', path.join(dir, 'auto'), path.join(dir, 'explicit'));
    expect(e.voi_split + e.voi_merge).toBe(0);
    // within the budget it stays in memory
    const whole = await wiring('segment', '--boundaries', bLayer, '--memory', '1G', path.join(dir, 'whole'));
    expect(whole.auto_block).toBeUndefined();
    expect(whole.block).toBeUndefined();
  }, 60_000);
});

describe('supervoxels --block on a tile grid', () => {
  it('same layers and segmentation for two block shapes; resumes; records the tile; rejects a bad tile', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [40, 32, 12];
    const bLayer = await cellMapLayer(path.join(dir, 'b'), shape, [8, 8, 8], [16, 16, 12], cellMap(shape, 10, 2));
    const a = await wiring('segment', '--boundaries', bLayer, '--tile', '16,16,12', '--block', '16,16,12', '--workers', '1', path.join(dir, 'a'));
    const b = await wiring('segment', '--boundaries', bLayer, '--tile', '16,16,12', '--block', '20,40,5', '--workers', '1', path.join(dir, 'b2'));
    expect(b.block).toEqual([32, 32, 12]);
    expect(b.note).toMatch(/rounded up to 32,32,12/);
    expect(b.supervoxels).toBe(a.supervoxels);
    expect(b.segments).toBe(a.segments);
    for (const f of ['info', '8_8_8/0-16_0-16_0-12', '8_8_8/32-40_16-32_0-12']) {
      expect(readFileSync(path.join(dir, 'b2-supervoxels', f)).equals(readFileSync(path.join(dir, 'a-supervoxels', f)))).toBe(true);
    }
    // the segmentations are the same chunk files too (chunks follow the tile, not the block); the
    // infos differ only in the supervoxel layer each was made from
    for (const f of ['8_8_8/0-16_0-16_0-12', '8_8_8/32-40_16-32_0-12']) {
      expect(readFileSync(path.join(dir, 'b2', f)).equals(readFileSync(path.join(dir, 'a', f))), f).toBe(true);
    }
    const segInfo = (d: string) => JSON.parse(readFileSync(path.join(dir, d, 'info'), 'utf8'));
    expect(segInfo('b2').scales).toEqual(segInfo('a').scales);
    expect(segInfo('b2').wiring.agglomeration.supervoxels).toBe(path.join(dir, 'b2-supervoxels'));
    const read = async (d: string) => (await (await PrecomputedLayer.open(path.join(dir, d))).readBox({ min: [0, 0, 0], max: shape })).data;
    expect(await read('b2')).toEqual(await read('a'));
    // a rerun of the whole segment resumes both steps; other settings need --overwrite
    const again = await wiring('segment', '--boundaries', bLayer, '--tile', '16,16,12', '--block', '20,40,5', '--workers', '1', path.join(dir, 'b2'));
    expect(again.resumed).toEqual({ supervoxels: again.blocks, segmentation: 2 * again.blocks });
    expect(again.segments).toBe(b.segments);
    expect(await read('b2')).toEqual(await read('a'));
    await expect(wiring('segment', '--boundaries', bLayer, '--tile', '16,16,12', '--block', '20,40,5', '--threshold', '0.3', '--workers', '1', path.join(dir, 'b2'))).rejects.toThrow(/other inputs or settings.*--overwrite/);
    const cut = await wiring('segment', '--boundaries', bLayer, '--tile', '16,16,12', '--block', '20,40,5', '--threshold', '0.3', '--overwrite', '--workers', '1', path.join(dir, 'b2'));
    expect(cut.threshold).toBe(0.3);
    const info = JSON.parse(readFileSync(path.join(dir, 'a-supervoxels', 'info'), 'utf8'));
    expect(info.wiring.supervoxels.tile).toEqual([16, 16, 12]);
    expect(info.wiring.supervoxels.margin).toEqual([16, 16, 16]);
    // a rerun resumes into the same layer; another tile needs --overwrite
    const r = await wiring('supervoxels', '--boundaries', bLayer, '--tile', '16,16,12', '--block', '16,16,12', '--workers', '1', path.join(dir, 'a-supervoxels'));
    expect(r.resumed).toBe(r.blocks);
    expect(r.supervoxels).toBe(a.supervoxels);
    await expect(wiring('supervoxels', '--boundaries', bLayer, '--tile', '8,8,12', '--block', '16,16,12', path.join(dir, 'a-supervoxels'))).rejects.toThrow(/other supervoxel settings.*--overwrite/);
    for (const bad of ['0,16,12', '16,16', '1.5,16,12', 'a,b,c']) {
      await expect(wiring('supervoxels', '--boundaries', bLayer, '--tile', bad, '--block', '16,16,12', path.join(dir, 'bad'))).rejects.toThrow(/--tile/);
    }
    await expect(wiring('supervoxels', '--boundaries', bLayer, '--margin', '-1,0,0', '--block', '16,16,12', path.join(dir, 'bad'))).rejects.toThrow(/--margin/);
  }, 60_000);
});

describe('--seed-connectivity and --flood (scikit-image\'s supervoxels)', () => {
  it('are parsed into the supervoxel parameters (no more supervoxels than face-connected minima); bad values and combinations are usage errors', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [32, 32, 12];
    const bLayer = await cellMapLayer(path.join(dir, 'b'), shape, [8, 8, 8], [32, 32, 12], cellMap(shape, 8, 9));
    const face = await wiring('supervoxels', '--boundaries', bLayer, '--seeds', 'minima', '--seed-sigma', '1', '--min-size', '0', path.join(dir, 'face'));
    const full = await wiring('supervoxels', '--boundaries', bLayer, '--seeds', 'minima', '--seed-sigma', '1', '--min-size', '0', '--seed-connectivity', 'full', '--flood', 'smoothed', path.join(dir, 'full'));
    expect(full.params.seedConnectivity).toBe('full');
    expect(full.params.flood).toBe('smoothed');
    expect(face.params.seedConnectivity).toBeUndefined();
    // full-connectivity minima of the same smoothed map: no more seeds than face-connected ones
    expect(full.supervoxels).toBeLessThanOrEqual(face.supervoxels);
    await expect(wiring('supervoxels', '--boundaries', bLayer, '--seeds', 'minima', '--seed-connectivity', 'corner', path.join(dir, 'x'))).rejects.toThrow(/--seed-connectivity/);
    await expect(wiring('supervoxels', '--boundaries', bLayer, '--seeds', 'minima', '--seed-sigma', '1', '--flood', 'blur', path.join(dir, 'x'))).rejects.toThrow(/--flood/);
    await expect(wiring('segment', '--boundaries', bLayer, '--flood', 'smoothed', '--seed-sigma', '1', path.join(dir, 'x'))).rejects.toThrow(/for --seeds minima, not distance/);
    await expect(wiring('segment', '--boundaries', bLayer, '--seeds', 'minima', '--flood', 'smoothed', path.join(dir, 'x'))).rejects.toThrow(/--seed-sigma > 0/);
  });
});

describe('seeds carried by the boundary layer (info wiring.segment_seeds, from train-pixels --gt)', () => {
  it('segment and supervoxels use them when no seed option is given; any seed option wins; a malformed field names the file', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [32, 32, 12];
    const bLayer = await cellMapLayer(path.join(dir, 'b'), shape, [8, 8, 8], [32, 32, 12], cellMap(shape, 8, 9));
    const S = ['--seeds', 'minima', '--seed-sigma', '1', '--seed-connectivity', 'full', '--flood', 'smoothed'];
    const explicit = await wiring('segment', '--boundaries', bLayer, ...S, path.join(dir, 'explicit'));
    const plain = await wiring('segment', '--boundaries', bLayer, path.join(dir, 'plain'));
    expect(explicit.supervoxels).not.toBe(plain.supervoxels); // the test can tell the two seed settings apart
    expect(plain.carried_seeds).toBeUndefined();
    const infoFile = path.join(bLayer, 'info');
    const info = JSON.parse(readFileSync(infoFile, 'utf8'));
    writeFileSync(infoFile, JSON.stringify({ ...info, wiring: { segment_threshold: 0.6, segment_seeds: { seeds: 'minima', seed_sigma: 1, seed_connectivity: 'full', flood: 'smoothed' } } }));
    const carried = await wiring('segment', '--boundaries', bLayer, path.join(dir, 'carried'));
    expect(carried.carried_seeds).toEqual({ seeds: 'minima', seedSigma: 1, seedConnectivity: 'full', flood: 'smoothed' });
    expect(carried.supervoxels).toBe(explicit.supervoxels);
    expect(carried.threshold).toBe(0.6);
    const svc = await wiring('supervoxels', '--boundaries', bLayer, path.join(dir, 'svc'));
    expect(svc.supervoxels).toBe(explicit.supervoxels);
    expect(svc.params.flood).toBe('smoothed');
    // blockwise: the same carried settings
    const blk = await wiring('segment', '--boundaries', bLayer, '--block', '32,32,12', '--tile', '32,32,12', '--workers', '1', path.join(dir, 'blk'));
    expect(blk.carried_seeds).toEqual(carried.carried_seeds);
    expect(blk.supervoxels).toBe(explicit.supervoxels);
    // an explicit seed option wins over the carried ones (and the cut still comes from the info)
    const over = await wiring('segment', '--boundaries', bLayer, '--seeds', 'distance', path.join(dir, 'over'));
    expect(over.carried_seeds).toBeUndefined();
    expect(over.supervoxels).toBe(plain.supervoxels);
    expect(over.threshold).toBe(0.6);
    const sig = await wiring('segment', '--boundaries', bLayer, '--seed-sigma', '3', path.join(dir, 'sig'));
    expect(sig.carried_seeds).toBeUndefined();
    for (const bad of [{ seeds: 'maxima' }, { seeds: 'minima', flood: 'smoothed' }, { seeds: 'minima', seed_connectivity: 'corner' }, 'minima']) {
      writeFileSync(infoFile, JSON.stringify({ ...info, wiring: { segment_seeds: bad } }));
      await expect(wiring('segment', '--boundaries', bLayer, path.join(dir, 'bad'))).rejects.toThrow(/info.*wiring\.segment_seeds|wiring\.segment_seeds.*info/);
    }
  }, 60_000);
});

describe('anisotropic stacks', () => {
  it('supervoxels per section and the lower cut by default; --3d and --threshold override', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [32, 32, 6];
    const bLayer = await cellMapLayer(path.join(dir, 'b'), shape, [4, 4, 40], [32, 32, 6], cellMap(shape, 6, 4));
    const s2 = await wiring('supervoxels', '--boundaries', bLayer, path.join(dir, 'sv2'));
    expect(s2.params.twoD).toBe(true);
    const s3 = await wiring('supervoxels', '--boundaries', bLayer, '--3d', path.join(dir, 'sv3'));
    expect(s3.params.twoD).toBe(false);
    await expect(wiring('supervoxels', '--boundaries', bLayer, '--2d', '--3d', path.join(dir, 'x'))).rejects.toThrow(/--2d and --3d/);
    const seg = await wiring('segment', '--boundaries', bLayer, path.join(dir, 'seg'));
    expect(seg.threshold).toBe(0.55);
    expect(seg.supervoxels).toBe(s2.supervoxels);
    expect((await wiring('segment', '--boundaries', bLayer, '--3d', path.join(dir, 'seg3'))).threshold).toBe(0.7);
    const a = await wiring('segment', '--boundaries', bLayer, '--threshold', 'auto', path.join(dir, 'sega'));
    expect(a.threshold).toBeGreaterThanOrEqual(0.3);
    expect(a.threshold).toBeLessThanOrEqual(0.9);
    await expect(wiring('segment', '--boundaries', bLayer, '--method', 'quantile', '--threshold', 'auto', path.join(dir, 'y'))).rejects.toThrow(/auto/);
    // a cut carried by the boundary layer's info wins over the default, --threshold over both
    const infoFile = path.join(bLayer, 'info');
    const info = JSON.parse(readFileSync(infoFile, 'utf8'));
    writeFileSync(infoFile, JSON.stringify({ ...info, wiring: { segment_threshold: 0.42 } }));
    expect((await wiring('segment', '--boundaries', bLayer, path.join(dir, 'c1'))).threshold).toBe(0.42);
    expect((await wiring('agglomerate', '--supervoxels', path.join(dir, 'sv2'), '--boundaries', bLayer, path.join(dir, 'c2'))).threshold).toBe(0.42);
    expect((await wiring('segment', '--boundaries', bLayer, '--threshold', '0.6', path.join(dir, 'c3'))).threshold).toBe(0.6);
    writeFileSync(infoFile, JSON.stringify({ ...info, wiring: { segment_threshold: 'high' } }));
    await expect(wiring('segment', '--boundaries', bLayer, path.join(dir, 'c4'))).rejects.toThrow(/segment_threshold/);
  }, 60_000);
});

describeData('gala-medulla', 'segment commands on gala-medulla', () => {
  const d = (f: string) => `${dataPath('gala-medulla', f)}#stack`;
  it('segment, evaluate, train-agglomeration and agglomerate --model', async () => {
    const dir = await tempDir();
    const seg = path.join(dir, 'seg');
    const sv = path.join(dir, 'sv');
    const r = await wiring('segment', '--boundaries', d('train-p1.h5'), '--supervoxels-out', sv, seg);
    expect(r.segments).toBeGreaterThan(20);
    expect(r.supervoxels).toBeGreaterThan(r.segments);
    const layer = await PrecomputedLayer.open(seg);
    expect(layer.info.type).toBe('segmentation');
    expect(layer.info.data_type).toBe('uint64');
    expect(existsSync(path.join(seg, 'merge_tree.json'))).toBe(true);
    const e = await wiring('evaluate', seg, d('train-gt.h5'));
    expect(Object.keys(e)).toEqual(expect.arrayContaining(['voi_split', 'voi_merge', 'arand', 'arand_skimage']));
    expect(e.voi_split + e.voi_merge).toBeLessThan(0.63);
    // learned agglomeration from gala's own supervoxels
    const model = path.join(dir, 'agg.model');
    const t = await wiring('train-agglomeration', '--supervoxels', d('train-ws.h5'), '--boundaries', d('train-p1.h5'), '--gt', d('train-gt.h5'), '-o', model, '--trees', '30');
    expect(t.samples).toBeGreaterThan(50);
    // two active-learning rounds after round 0, cuts chosen by cross-fitting and carried in the model
    expect(t.rounds).toHaveLength(3);
    expect(t.cuts.learned.threshold).toBeGreaterThan(0);
    expect(t.cuts.learned.threshold).toBeLessThan(1);
    const out = path.join(dir, 'learned');
    const a = await wiring('agglomerate', '--supervoxels', d('train-ws.h5'), '--boundaries', d('train-p1.h5'), '--model', model, '--method', 'learned', out);
    expect(a.method).toBe('learned');
    expect(a.threshold).toBe(t.cuts.learned.threshold);
    // the default with a model: mutex watershed on its probabilities at its carried bias
    const dm = await wiring('agglomerate', '--supervoxels', d('train-ws.h5'), '--boundaries', d('train-p1.h5'), '--model', model, path.join(dir, 'dm'));
    expect(dm.method).toBe('mutex');
    expect(dm.threshold).toBe(t.cuts.mutex.threshold);
    const e4 = await wiring('evaluate', path.join(dir, 'dm'), d('train-gt.h5'));
    expect(e4.voi_split + e4.voi_merge).toBeLessThan(0.63);
    const e2 = await wiring('evaluate', out, d('train-gt.h5'));
    expect(e2.voi_split + e2.voi_merge).toBeLessThan(0.63);
    // multicut on the model's edge probabilities, at its carried bias
    const mc = await wiring('agglomerate', '--supervoxels', d('train-ws.h5'), '--boundaries', d('train-p1.h5'), '--model', model, '--method', 'multicut', path.join(dir, 'mc'));
    expect(mc.method).toBe('multicut');
    expect(mc.threshold).toBe(t.cuts.multicut.threshold);
    const e3 = await wiring('evaluate', path.join(dir, 'mc'), d('train-gt.h5'));
    expect(e3.voi_split + e3.voi_merge).toBeLessThan(0.63);
    await expect(wiring('agglomerate', '--supervoxels', d('train-ws.h5'), '--boundaries', d('train-p1.h5'), '--model', model, '--method', 'mean', path.join(dir, 'bad'))).rejects.toThrow(/--model/);
    // the supervoxel layer reads back and agglomerates with the mean method
    const m = await wiring('agglomerate', '--supervoxels', sv, '--boundaries', d('train-p1.h5'), path.join(dir, 'mean'));
    expect(m.segments).toBe(r.segments);
  }, 120_000);
});
