// `wiring predict --model a --model b ... out-a out-b ...`: several models in one pass, each
// output the same bytes as the model's own run; models with one feature configuration share it.
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured } from '../../../test/cli-in-process.js';
import { box, boxFromShape, boxGrow, boxIntersect } from '../../core/box.js';
import { writeNpy } from '../../formats/npy.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { PixelModel } from '../../stages/predict/model.js';
import { modelMargin, predictVolume } from '../../stages/predict/predict.js';
import { predictVolumes, sharedFeatures } from '../../stages/predict/predict-many.js';
import { syntheticEm } from '../../stages/predict/synthetic.js';

const wiring = wiringCaptured;

describe('wiring predict with several models', () => {
  it('one pass writes each model\'s layer byte for byte as its own run; equal feature configurations share one stack', async () => {
    const dir = await tempDir();
    const shape: [number, number, number] = [40, 32, 12];
    const { raw, seg } = syntheticEm(shape, { cells: 8, seed: 9, noise: 50 });
    const rawFile = path.join(dir, 'raw.npy');
    await writeNpy(rawFile, raw);
    await writeNpy(path.join(dir, 'seg.npy'), seg);
    // a and b: the same features (recursive filters from 1.5: blockwise bits depend on the read
    // box), other seeds and trees; c: a larger sigma, so a larger margin than a and b
    const train = async (name: string, extra: string[]) => {
      const file = path.join(dir, `${name}.forest`);
      const t = await wiring(['train-pixels', '--raw', rawFile, '--gt', path.join(dir, 'seg.npy'), '-o', file, '--voxel-size', '8,8,8',
        '--trees', '4', '--samples', '2000', '--threads', '1', '--no-calibrate-cut', ...extra, '--json']);
      expect(t.code, t.out).toBeUndefined();
      return file;
    };
    const a = await train('a', ['--sigmas', '0.7,1.6', '--seed', '1']);
    const b = await train('b', ['--sigmas', '0.7,1.6', '--seed', '2', '--trees', '3']);
    const c = await train('c', ['--sigmas', '0.7,2.5', '--seed', '3']);
    const opts = ['--voxel-size', '8,8,8', '--chunk', '16,16,4', '--block', '16,16,4', '--dtype', 'uint8', '--workers', '1'];
    const outs = ['pa', 'pb', 'pc'].map((o) => path.join(dir, o));
    const many = await wiring(['predict', '--raw', rawFile, '--model', a, '--model', b, '--model', c, ...outs, ...opts, '--json']);
    expect(many.code, many.out).toBeUndefined();
    const res = JSON.parse(many.stdout);
    expect(res.layers.map((l: { layer: string }) => l.layer)).toEqual(outs);
    expect(res.computed).toBe(res.blocks);
    const whole = boxFromShape(shape);
    for (const [i, m] of [a, b, c].entries()) {
      const own = path.join(dir, `own-${i}`);
      const r = await wiring(['predict', '--raw', rawFile, '--model', m, own, ...opts, '--json']);
      expect(r.code, r.out).toBeUndefined();
      const got = await (await PrecomputedLayer.open(outs[i])).readBox(whole);
      const want = await (await PrecomputedLayer.open(own)).readBox(whole);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer)), `model ${i}`).toBe(true);
      expect(await fs.readFile(path.join(outs[i], 'info'), 'utf8')).toBe(await fs.readFile(path.join(own, 'info'), 'utf8'));
    }
    // in one block: a and b share their stack, c computes its own; each as predictVolume on the
    // raw its own block would read (the target grown by its margin)
    const models = await Promise.all([a, b, c].map((f) => PixelModel.load(f)));
    const target = box([8, 8, 4], [24, 24, 8]);
    const shared = sharedFeatures();
    const got = predictVolumes(models.map((model) => ({ model })), raw, { box: target, shared });
    expect([shared.computed, shared.reused]).toEqual([2, 1]);
    for (const [i, model] of models.entries()) {
      const want = predictVolume(model, raw.crop(boxIntersect(boxGrow(target, modelMargin(model)), raw.box)), { box: target });
      expect(Array.from(got[i].data as Float32Array), `model ${i}`).toEqual(Array.from(want.data as Float32Array));
    }
    // one output layer per model
    const bad = await wiring(['predict', '--raw', rawFile, '--model', a, '--model', b, path.join(dir, 'x'), ...opts]);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/one output layer per --model.*2 model\(s\).*1 output layer/);
  }, 60000);
});
