// End to end: wiring train-pixels and wiring predict (forest and ONNX) through the scheduler.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { boxFromShape } from '../../core/box.js';
import { writeNpy } from '../../formats/npy.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { PixelModel } from '../../stages/predict/model.js';
import { buildOnnxModel } from '../../stages/predict/onnx-build.js';
import { predictVolume } from '../../stages/predict/predict.js';
import { syntheticEm } from '../../stages/predict/synthetic.js';
import { run } from '../main.js';

async function wiring(args: string[]): Promise<{ out: string; code: number | undefined }> {
  const chunks: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string) => (chunks.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => (chunks.push(String(c)), true)) as typeof process.stderr.write;
  process.exitCode = undefined;
  try {
    await run(['node', 'wiring', ...args]);
  } finally {
    process.stdout.write = orig;
    process.stderr.write = origErr;
  }
  const code = process.exitCode as number | undefined;
  process.exitCode = undefined;
  return { out: chunks.join(''), code };
}

describe('wiring train-pixels / predict', () => {
  it('trains with --gt and predicts blockwise, equal to whole-volume prediction', async () => {
    const dir = await tempDir();
    const { raw, seg } = syntheticEm([40, 32, 20], { cells: 8, seed: 4 });
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    await writeNpy(path.join(dir, 'seg.npy'), seg);
    const model = path.join(dir, 'm.rf');
    const t = await wiring(['train-pixels', '--raw', path.join(dir, 'raw.npy'), '--gt', path.join(dir, 'seg.npy'), '-o', model,
      '--sigmas', '0.7,1.6', '--trees', '8', '--samples', '4000', '--threads', '1', '--json']);
    expect(t.code, t.out).toBeUndefined();
    expect(JSON.parse(t.out).classes).toEqual(['interior', 'boundary']);
    const out = path.join(dir, 'pred');
    const p = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--model', model, out, '--chunk', '16,16,8', '--block', '16,16,8', '--workers', '1', '--json']);
    expect(p.code, p.out).toBeUndefined();
    expect(JSON.parse(p.out).channels).toBe(1);
    const layer = await PrecomputedLayer.open(out);
    const got = await layer.readBox(boxFromShape([40, 32, 20]));
    const want = predictVolume(await PixelModel.load(model), raw);
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
    // an existing output with another geometry is refused; bad flags are usage errors
    const again = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--model', model, out, '--dtype', 'uint8', '--workers', '1']);
    expect(again.code).toBe(2);
    expect(again.out).toMatch(/--overwrite/);
    const both = await wiring(['train-pixels', '--raw', path.join(dir, 'raw.npy'), '-o', model]);
    expect(both.code).toBe(2);
    expect(both.out).toMatch(/exactly one of --labels/);
  }, 60000);

  it('runs an ONNX model blockwise', async () => {
    const dir = await tempDir();
    const { raw } = syntheticEm([24, 20, 12], { cells: 5, seed: 9 });
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    const onnx = path.join(dir, 'two.onnx');
    // two outputs: x and 1 - x
    await fs.writeFile(onnx, buildOnnxModel({
      nodes: [
        { op: 'Neg', inputs: ['in'], outputs: ['neg'] },
        { op: 'Add', inputs: ['neg', 'one'], outputs: ['inv'] },
        { op: 'Concat', inputs: ['in', 'inv'], outputs: ['out'], attrs: { axis: 1 } },
      ],
      inputs: [{ name: 'in', shape: [1, 1, 'z', 'y', 'x'] }],
      outputs: [{ name: 'out', shape: [1, 2, 'z', 'y', 'x'] }],
      initializers: [{ name: 'one', dims: [1], data: Float32Array.of(1) }],
    }));
    const out = path.join(dir, 'cnn');
    const r = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--onnx', onnx, out, '--chunk', '8,8,4', '--block', '16,16,4', '--tile', '8,8,4', '--workers', '1', '--dtype', 'uint8', '--json']);
    expect(r.code, r.out).toBeUndefined();
    const got = await (await PrecomputedLayer.open(out)).readBox(boxFromShape([24, 20, 12]));
    expect(got.channels).toBe(2);
    const n = raw.voxels;
    for (let i = 0; i < n; i += 7) {
      expect(got.data[i]).toBe(raw.data[i]);
      expect(got.data[n + i]).toBe(255 - (raw.data[i] as number));
    }
  }, 60000);
});
