import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { boxFromShape, boxGrow, boxIntersect } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { buildOnnxModel } from './onnx-build.js';
import { onnxPredictBlock, onnxPredictTask, onnxPredictVolume, tileStarts } from './onnx.js';

const dir = await tempDir('wiring-onnx-');

async function save(name: string, bytes: Uint8Array): Promise<string> {
  const f = path.join(dir, name);
  await fs.writeFile(f, bytes);
  return f;
}

// weights of a fixed 3x3x3 conv with 2 output channels: w[o][dz][dy][dx]
const W = new Float32Array(2 * 27);
for (let i = 0; i < 27; i++) {
  W[i] = ((i * 7) % 11) / 11 - 0.4;
  W[27 + i] = i === 13 ? 1 : 0.01 * (i - 13);
}
const B = Float32Array.of(0.1, -0.2);

/** Direct zero-padded 3x3x3 convolution (ONNX Conv = cross-correlation) of a [x,y,z] volume. */
function conv3(v: Float32Array, [sx, sy, sz]: [number, number, number], scale: number, mirror = false): Float32Array {
  const m = (i: number, n: number): number => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  const n = sx * sy * sz;
  const out = new Float32Array(2 * n);
  for (let o = 0; o < 2; o++)
    for (let z = 0; z < sz; z++)
      for (let y = 0; y < sy; y++)
        for (let x = 0; x < sx; x++) {
          let s = B[o];
          for (let dz = -1; dz <= 1; dz++)
            for (let dy = -1; dy <= 1; dy++)
              for (let dx = -1; dx <= 1; dx++) {
                let X = x + dx, Y = y + dy, Z = z + dz;
                if (mirror) [X, Y, Z] = [m(X, sx), m(Y, sy), m(Z, sz)];
                if (X < 0 || Y < 0 || Z < 0 || X >= sx || Y >= sy || Z >= sz) continue;
                s += W[o * 27 + (dz + 1) * 9 + (dy + 1) * 3 + (dx + 1)] * v[X + sx * (Y + sy * Z)] * scale;
              }
          out[o * n + x + sx * (y + sy * z)] = s;
        }
  return out;
}

function randomVolume(shape: [number, number, number], seed: number): Volume<'uint8'> {
  const v = Volume.zeros('uint8', shape);
  let s = seed;
  for (let i = 0; i < v.data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v.data[i] = s >>> 24;
  }
  return v;
}

const identity = await save('identity.onnx', buildOnnxModel({
  nodes: [{ op: 'Identity', inputs: ['in'], outputs: ['out'] }],
  inputs: [{ name: 'in', shape: [1, 1, 'z', 'y', 'x'] }],
  outputs: [{ name: 'out', shape: [1, 1, 'z', 'y', 'x'] }],
}));
const conv = await save('conv.onnx', buildOnnxModel({
  nodes: [{ op: 'Conv', inputs: ['in', 'W', 'B'], outputs: ['out'], attrs: { kernel_shape: [3, 3, 3], pads: [1, 1, 1, 1, 1, 1] } }],
  inputs: [{ name: 'in', shape: [1, 1, 'z', 'y', 'x'] }],
  outputs: [{ name: 'out', shape: [1, 2, 'z', 'y', 'x'] }],
  initializers: [{ name: 'W', dims: [2, 1, 3, 3, 3], data: W }, { name: 'B', dims: [2], data: B }],
}));

// the same conv without padding: "valid" convolution, output 2 voxels smaller per axis
const validConv = await save('valid.onnx', buildOnnxModel({
  nodes: [{ op: 'Conv', inputs: ['in', 'W', 'B'], outputs: ['out'], attrs: { kernel_shape: [3, 3, 3] } }],
  inputs: [{ name: 'in', shape: [1, 1, 'z', 'y', 'x'] }],
  outputs: [{ name: 'out', shape: [1, 2, 'oz', 'oy', 'ox'] }],
  initializers: [{ name: 'W', dims: [2, 1, 3, 3, 3], data: W }, { name: 'B', dims: [2], data: B }],
}));

describe('ONNX inference', () => {
  it('valid-convolution models (output smaller than input): every voxel predicted, borders mirrored, tiles equal the whole', async () => {
    const shape: [number, number, number] = [26, 21, 14];
    const raw = randomVolume(shape, 5);
    const expected = conv3(Float32Array.from(raw.data), shape, 1 / 255, true);
    const plain = conv3(Float32Array.from(raw.data), shape, 1 / 255);
    for (const tile of [shape, [10, 9, 6], [7, 7, 7]] as [number, number, number][]) {
      const out = await onnxPredictVolume(validConv, raw, { tile });
      expect(out.channels).toBe(2);
      let e = 0;
      for (let i = 0; i < expected.length; i++) e = Math.max(e, Math.abs((out.data[i] as number) - expected[i]));
      expect(e).toBeLessThan(1e-5);
    }
    // inside the volume the valid model is the padded model (which sees the same voxels)
    const inner = 1 + shape[0] * (1 + shape[1] * 1);
    expect(expected[inner]).toBeCloseTo(plain[inner], 6);
    // a tile the model shrinks to nothing is refused clearly
    await expect(onnxPredictVolume(validConv, raw, { tile: [4, 4, 4], halo: [3, 3, 3] })).rejects.toThrow(/drops 1 voxels per side/);
  });

  it('places tiles to cover the axis', () => {
    expect(tileStarts(10, 20, 4)).toEqual([0]);
    expect(tileStarts(20, 8, 4)).toEqual([0, 4, 8, 12]);
    expect(tileStarts(21, 8, 4)).toEqual([0, 4, 8, 12, 13]);
  });

  it('identity model: tiled output equals the normalised input exactly', async () => {
    const raw = randomVolume([30, 25, 12], 1);
    const out = await onnxPredictVolume(identity, raw, { tile: [8, 8, 5] });
    expect(out.channels).toBe(1);
    for (let i = 0; i < raw.data.length; i++) expect(out.data[i]).toBeCloseTo(raw.data[i] / 255, 6);
  });

  it('fixed 3x3x3 conv: whole-volume and tiled inference equal the direct convolution', async () => {
    const shape: [number, number, number] = [26, 21, 14];
    const raw = randomVolume(shape, 2);
    const expected = conv3(Float32Array.from(raw.data), shape, 1 / 255);
    const whole = await onnxPredictVolume(conv, raw, { tile: shape });
    const tiled = await onnxPredictVolume(conv, raw, { tile: [10, 9, 6], halo: [1, 1, 1] });
    expect(whole.channels).toBe(2);
    let e1 = 0, e2 = 0;
    for (let i = 0; i < expected.length; i++) {
      e1 = Math.max(e1, Math.abs((whole.data[i] as number) - expected[i]));
      e2 = Math.max(e2, Math.abs((tiled.data[i] as number) - (whole.data[i] as number)));
    }
    expect(e1).toBeLessThan(1e-5);
    expect(e2).toBeLessThan(1e-5);
    // without the halo, tile edges show (zero padding inside the volume)
    const seams = await onnxPredictVolume(conv, raw, { tile: [10, 9, 6], overlap: [0, 0, 0] });
    let e3 = 0;
    for (let i = 0; i < expected.length; i++) e3 = Math.max(e3, Math.abs((seams.data[i] as number) - expected[i]));
    expect(e3).toBeGreaterThan(1e-3);
  });

  it('blocks with the halo as margin equal whole-volume inference; uint8 output; normalisation', async () => {
    const shape: [number, number, number] = [24, 20, 10];
    const raw = randomVolume(shape, 3);
    const whole = await onnxPredictVolume(conv, raw, { tile: shape, scale: 0.5, offset: -3 });
    const task = onnxPredictTask({ onnx: conv, raw: 'r', out: 'o', bounds: raw.box, blockShape: [12, 10, 5], dtype: 'float32', options: { halo: [1, 1, 1], tile: [8, 8, 8], scale: 0.5, offset: -3 }, outChannels: 2, inChannels: 1 });
    expect(task.margin).toEqual([1, 1, 1]);
    for (const [x0, y0, z0] of [[0, 0, 0], [12, 10, 5], [12, 0, 5]]) {
      const b = boxFromShape([12, 10, 5], [x0, y0, z0]);
      const rb = boxIntersect(boxGrow(b, [1, 1, 1]), raw.box);
      const r = await onnxPredictBlock({ box: b, readBox: rb, inputs: { raw: raw.crop(rb) }, params: task.params, blockIndex: [0, 0, 0] });
      const part = r.volumes!.out;
      for (let c = 0; c < 2; c++)
        for (let z = b.min[2]; z < b.max[2]; z++)
          for (let y = b.min[1]; y < b.max[1]; y++)
            for (let x = b.min[0]; x < b.max[0]; x++) expect(part.get(x, y, z, c)).toBeCloseTo(whole.get(x, y, z, c) as number, 4);
    }
    const sig = await save('sig.onnx', buildOnnxModel({
      nodes: [{ op: 'Sigmoid', inputs: ['in'], outputs: ['out'] }],
      inputs: [{ name: 'in', shape: [1, 1, 'z', 'y', 'x'] }],
      outputs: [{ name: 'out', shape: [1, 1, 'z', 'y', 'x'] }],
    }));
    const u8 = await onnxPredictVolume(sig, raw, { dtype: 'uint8', scale: 1, offset: -128 });
    for (let i = 0; i < raw.data.length; i += 37) expect(u8.data[i]).toBe(Math.round(255 / (1 + Math.exp(-(raw.data[i] - 128)))));
  });

  it('2-D models run per section; fixed-size models; N input channels', async () => {
    const conv2 = await save('conv2.onnx', buildOnnxModel({
      nodes: [{ op: 'Conv', inputs: ['in', 'W'], outputs: ['out'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }],
      inputs: [{ name: 'in', shape: [1, 2, 16, 16] }],
      outputs: [{ name: 'out', shape: [1, 1, 16, 16] }],
      initializers: [{ name: 'W', dims: [1, 2, 3, 3], data: Float32Array.from({ length: 18 }, (_, i) => (i === 4 ? 1 : i === 13 ? -1 : 0)) }],
    }));
    // centre tap: channel0 - channel1
    const raw = Volume.zeros('float32', [40, 30, 3], { channels: 2 });
    for (let i = 0; i < raw.data.length; i++) raw.data[i] = (i * 13) % 17;
    const out = await onnxPredictVolume(conv2, raw, { halo: [1, 1, 0] });
    const n = raw.voxels;
    for (let i = 0; i < n; i++) expect(out.data[i]).toBeCloseTo((raw.data[i] as number) - (raw.data[n + i] as number), 4);
    await expect(onnxPredictVolume(conv2, Volume.zeros('float32', [20, 20, 1]))).rejects.toThrow(/expects 2 input channel/);
  });

  it('rejects bad models and inputs clearly', async () => {
    const junk = await save('junk.onnx', new TextEncoder().encode('not a model'));
    await expect(onnxPredictVolume(junk, Volume.zeros('uint8', [4, 4, 4]))).rejects.toThrow(/junk.onnx: onnxruntime cannot load/);
    await expect(onnxPredictVolume(path.join(dir, 'missing.onnx'), Volume.zeros('uint8', [4, 4, 4]))).rejects.toThrow(/not found/);
    const nan = Volume.zeros('float32', [4, 4, 4]);
    nan.data[9] = NaN;
    await expect(onnxPredictVolume(identity, nan)).rejects.toThrow(/NaN/);
    await expect(onnxPredictVolume(conv, Volume.zeros('uint8', [30, 30, 30]), { tile: [8, 8, 8], halo: [2, 2, 2], overlap: [2, 2, 2] })).rejects.toThrow(/twice the halo/);
  });
});
