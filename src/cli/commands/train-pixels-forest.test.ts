// wiring train-pixels --forest: the forest's size by the model's kind (--gt models: PIXEL_FOREST_SIZES.boundary,
// --labels models: .full), --trees / --max-depth over either, and the size reaching the trained forest.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured as wiring } from '../../../test/cli-in-process.js';
import { writeDiskLabels } from '../../../test/pixel-fixtures.js';
import { Volume } from '../../core/volume.js';
import { writeNpy } from '../../formats/npy.js';
import { DEFAULT_FOREST_PARAMS } from '../../ml/forest/params.js';
import { PixelModel } from '../../stages/predict/model.js';
import { PIXEL_FOREST_SIZES, PIXEL_TRAINING_DEFAULTS, forestParamsOf } from '../../stages/predict/training.js';

describe('forestParamsOf', () => {
  it('auto: the boundary size for --gt models, the full size for --labels models of any class count; given values win', () => {
    const b = PIXEL_FOREST_SIZES.boundary, f = PIXEL_FOREST_SIZES.full;
    expect(PIXEL_TRAINING_DEFAULTS.forest).toBe('auto');
    expect(b.maxDepth).toBeGreaterThan(0);
    expect(f.maxDepth).toBe(0);
    expect(forestParamsOf('auto', 'gt')).toEqual({ params: { nTrees: b.trees, maxDepth: b.maxDepth }, size: 'boundary' });
    // full: unlimited depth = no maxDepth (the forest's default)
    expect(forestParamsOf('auto', 'labels')).toEqual({ params: { nTrees: f.trees }, size: 'full' });
    expect(forestParamsOf('full', 'gt')).toEqual({ params: { nTrees: f.trees }, size: 'full' });
    expect(forestParamsOf('boundary', 'labels')).toEqual({ params: { nTrees: b.trees, maxDepth: b.maxDepth }, size: 'boundary' });
    // the caller's values win; undefined ones do not; maxDepth 0 = unlimited
    expect(forestParamsOf('auto', 'gt', { nTrees: 7, maxDepth: undefined, balanced: false })).toEqual({ params: { nTrees: 7, maxDepth: b.maxDepth, balanced: false }, size: 'boundary' });
    expect(forestParamsOf('auto', 'gt', { maxDepth: 0 })).toEqual({ params: { nTrees: b.trees }, size: 'boundary' });
    expect(forestParamsOf('full', 'labels', { maxDepth: 9 })).toEqual({ params: { nTrees: f.trees, maxDepth: 9 }, size: 'full' });
    // no size: the caller's parameters as given (library callers)
    expect(forestParamsOf(undefined, 'gt', { nTrees: 3 })).toEqual({ params: { nTrees: 3 } });
    expect(() => forestParamsOf('small' as 'full', 'gt')).toThrow(/--forest: expected auto, full, boundary, got "small"/);
  });
});

describe('wiring train-pixels --forest', () => {
  it('--gt models train at the boundary depth by default, --labels models (two classes or more) unlimited; --forest and --max-depth override; bad sizes exit 2', async () => {
    const dir = await tempDir();
    const { lab, shape } = await writeDiskLabels(dir);
    // a third class: the background's right half
    const lab3 = Volume.from('uint8', shape, Uint8Array.from(lab.data, (v, i) => (v === 1 && i % shape[0] >= shape[0] / 2 ? 3 : v)), { voxelSize: [4, 4, 40] });
    await writeNpy(path.join(dir, 'lab3.npy'), lab3);
    const model = path.join(dir, 'm.forest');
    const common = ['--raw', path.join(dir, 'raw.npy'), '-o', model, '--voxel-size', '4,4,40', '--trees', '3', '--samples', '2000', '--threads', '1', '--json'];
    const args = (labels: string, ...more: string[]): string[] => ['train-pixels', ...common, '--labels', path.join(dir, labels), '--cross-fit', 'off', ...more];
    // the three-class labels as a neuron segmentation (ids 1-3): a --gt model of their boundaries
    const gt = (...more: string[]): string[] => ['train-pixels', ...common, '--gt', path.join(dir, 'lab3.npy'), '--no-calibrate-cut', '--smooth-output', '0', ...more];
    const depthLimit = (m: PixelModel): number => m.forest.params.maxDepth;
    const unlimited = DEFAULT_FOREST_PARAMS.maxDepth;

    const g = await wiring(gt());
    expect(g.code, g.out).toBeUndefined();
    const rg = JSON.parse(g.stdout);
    expect([rg.forestSize, rg.maxDepth, rg.trees]).toEqual(['boundary', PIXEL_FOREST_SIZES.boundary.maxDepth, 3]);
    const mg = await PixelModel.load(model);
    expect(mg.forest.nTrees).toBe(3); // --trees over the size's trees, its depth kept
    expect(depthLimit(mg)).toBe(PIXEL_FOREST_SIZES.boundary.maxDepth);
    expect(mg.meta.training?.forest).toEqual({ size: 'boundary', trees: 3, maxDepth: PIXEL_FOREST_SIZES.boundary.maxDepth });

    const gFull = await wiring(gt('--forest', 'full'));
    expect(gFull.code, gFull.out).toBeUndefined();
    expect(JSON.parse(gFull.stdout).forestSize).toBe('full');
    expect(depthLimit(await PixelModel.load(model))).toBe(unlimited);

    const gNoLimit = await wiring(gt('--max-depth', '0'));
    expect(gNoLimit.code, gNoLimit.out).toBeUndefined();
    expect(depthLimit(await PixelModel.load(model))).toBe(unlimited);

    for (const labels of ['lab.npy', 'lab3.npy']) {
      const l = await wiring(args(labels));
      expect(l.code, l.out).toBeUndefined();
      expect(JSON.parse(l.stdout).forestSize).toBe('full');
      expect(depthLimit(await PixelModel.load(model))).toBe(unlimited);
    }

    const forced = await wiring(args('lab3.npy', '--forest', 'boundary', '--max-depth', '5'));
    expect(forced.code, forced.out).toBeUndefined();
    expect(JSON.parse(forced.stdout).maxDepth).toBe(5);
    expect(depthLimit(await PixelModel.load(model))).toBe(5);

    const bad = await wiring(args('lab.npy', '--forest', 'small'));
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--forest: expected auto, full, boundary, got "small"/);
  });
});
