// `wiring predict --onnx` with a valid-convolution model (output smaller than input), blockwise.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured } from '../../../test/cli-in-process.js';
import { boxFromShape } from '../../core/box.js';
import { writeNpy } from '../../formats/npy.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { buildOnnxModel } from '../../stages/predict/onnx-build.js';
import { onnxPredictVolume } from '../../stages/predict/onnx.js';
import { syntheticEm } from '../../stages/predict/synthetic.js';

const wiring = wiringCaptured;

describe('wiring predict --onnx, valid convolutions', () => {
  it('an unpadded 5x5x5 mean filter predicts every voxel; blocks with --halo >= the shrink equal the whole volume', async () => {
    const dir = await tempDir('wiring-onnx-valid-');
    const { raw } = syntheticEm([30, 26, 14], { cells: 5, seed: 4 });
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    const onnx = path.join(dir, 'valid.onnx');
    await fs.writeFile(onnx, buildOnnxModel({
      nodes: [{ op: 'Conv', inputs: ['in', 'W'], outputs: ['out'], attrs: { kernel_shape: [5, 5, 5] } }],
      inputs: [{ name: 'in', shape: [1, 1, 'z', 'y', 'x'] }],
      outputs: [{ name: 'out', shape: [1, 1, 'oz', 'oy', 'ox'] }],
      initializers: [{ name: 'W', dims: [1, 1, 5, 5, 5], data: new Float32Array(125).fill(1 / 125) }],
    }));
    const out = path.join(dir, 'cnn');
    const r = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--onnx', onnx, out, '--chunk', '8,8,4', '--block', '16,16,8', '--tile', '12,12,8', '--halo', '2,2,2', '--workers', '1', '--json']);
    expect(r.code, r.out).toBeUndefined();
    const got = await (await PrecomputedLayer.open(out)).readBox(boxFromShape([30, 26, 14]));
    const whole = await onnxPredictVolume(onnx, raw, { tile: [30, 26, 14] });
    let e = 0;
    for (let i = 0; i < whole.data.length; i++) e = Math.max(e, Math.abs((got.data[i] as number) - (whole.data[i] as number)));
    expect(e).toBeLessThan(1e-5);
    // a mean filter of values in [0, 1] stays in [0, 1] everywhere, borders included (mirrored, not zero-padded)
    let lo = Infinity;
    for (const v of got.data as Float32Array) lo = Math.min(lo, v);
    expect(lo).toBeGreaterThan(0);
  }, 60000);
});
