import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { writeJsonAtomic } from '../../core/atomic.js';
import { boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { runTasks } from '../../scheduler/index.js';
import { fillPlan, renderTask } from './tasks.js';
import { TRANSFORMS_FORMAT, type TransformsFile } from './transform.js';

function tf(statuses: string[], shifts: Array<[number, number]>, size: [number, number]): TransformsFile {
  return {
    format: TRANSFORMS_FORMAT, version: 1, params: {},
    source: { url: 'x', size: [size[0], size[1], statuses.length], voxel_offset: [0, 0, 0], voxel_size: [4, 4, 40] },
    sections: statuses.map((s, z) => ({ z, status: s as 'ok', affine: [1, 0, shifts[z][0], 0, 1, shifts[z][1]] })),
  };
}

describe('fillPlan', () => {
  const t = tf(['reference', 'ok', 'missing', 'missing', 'ok', 'missing'], Array(6).fill([0, 0]), [8, 8]);
  it('keeps, copies the nearest good section, or blends the good sections around', () => {
    expect(fillPlan(t, 2, 'none', false)).toEqual([[2, 1]]);
    expect(fillPlan(t, 2, 'copy', false)).toEqual([[1, 1]]);
    expect(fillPlan(t, 3, 'copy', false)).toEqual([[4, 1]]);
    const blend = fillPlan(t, 2, 'interpolate', false);
    expect(blend.map((b) => b[0])).toEqual([1, 4]);
    expect(blend[0][1]).toBeCloseTo(2 / 3, 12);
    expect(blend[1][1]).toBeCloseTo(1 / 3, 12);
    expect(fillPlan(t, 2, 'interpolate', true)).toEqual([[1, 1]]); // labels are never blended
    expect(fillPlan(t, 5, 'interpolate', false)).toEqual([[4, 1]]); // nothing after: copy
    expect(fillPlan(t, 1, 'interpolate', false)).toEqual([[1, 1]]);
  });
});

describe('alignRenderBlock through the scheduler', () => {
  it('renders integer shifts exactly for images and uint64 labels, in blocks, and fills a missing section', async () => {
    const dir = await tempDir('align-render');
    const size: [number, number, number] = [96, 80, 4];
    const img = Volume.zeros('uint8', boxFromShape(size));
    const lab = Volume.zeros('uint64', boxFromShape(size));
    for (let z = 0; z < 4; z++) for (let y = 0; y < 80; y++) for (let x = 0; x < 96; x++) {
      // section z shows the pattern moved by (z, 2z): raw_z(q) = f(q - (z, 2z))
      const X = x - z;
      const Y = y - 2 * z;
      const i = x + 96 * (y + 80 * z);
      img.data[i] = z === 2 ? 0 : (X * 3 + Y * 5) & 255;
      lab.data[i] = z === 2 ? 0n : (1n << 60n) + BigInt(Math.floor(X / 8) + 100 * Math.floor(Y / 8) + 10000);
    }
    for (const [name, vol, type] of [['raw', img, 'image'], ['labels', lab, 'segmentation']] as const) {
      const layer = await PrecomputedLayer.create(path.join(dir, name), makeInfo({ type, dtype: vol.dtype, shape: size, voxelSize: [4, 4, 40], chunkSize: [32, 32, 1] }));
      await layer.writeBox(vol);
    }
    const file = path.join(dir, 'transforms.json');
    // T_z(p) = p + (z, 2z) pulls f back into the frame of section 0
    await writeJsonAtomic(file, tf(['reference', 'ok', 'missing', 'ok'], [[0, 0], [1, 2], [1, 2], [3, 6]], [96, 80]));
    for (const [name, sampling, fill] of [['raw', 'linear', 'interpolate'], ['labels', 'nearest', 'copy']] as const) {
      const out = path.join(dir, `${name}-aligned`);
      await PrecomputedLayer.create(out, makeInfo({ type: name === 'raw' ? 'image' : 'segmentation', dtype: name === 'raw' ? 'uint8' : 'uint64', shape: size, voxelSize: [4, 4, 40], chunkSize: [32, 32, 1] }));
      const task = await renderTask({ source: path.join(dir, name), transforms: file, out, sampling, fill, chunk: [32, 32, 1] });
      await runTasks([{ ...task, blockShape: [32, 32, 1] }], { stateDir: path.join(dir, `.state-${name}`), workers: 1 });
      const got = await (await PrecomputedLayer.open(out)).readBox(boxFromShape(size));
      for (const z of [0, 1, 2, 3]) {
        for (let y = 0; y < 70; y++) for (let x = 0; x < 90; x++) {
          const i = x + 96 * (y + 80 * z);
          // the missing section 2 is filled from sections 1 and 3 (both aligned), so it shows f too
          const want = name === 'raw' ? (x * 3 + y * 5) & 255 : (1n << 60n) + BigInt(Math.floor(x / 8) + 100 * Math.floor(y / 8) + 10000);
          if (got.data[i] !== want) throw new Error(`${name} z ${z} (${x},${y}): ${got.data[i]} != ${want}`);
        }
      }
    }
  });
});
