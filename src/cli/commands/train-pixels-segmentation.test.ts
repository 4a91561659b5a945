// wiring train-pixels --segmentation: the option's checks (a --labels model, an integer segmentation covering the training region) and that a valid one is read.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured } from '../../../test/cli-in-process.js';
import { Volume } from '../../core/volume.js';
import { writeNpy } from '../../formats/npy.js';

const wiring = wiringCaptured;

describe('wiring train-pixels --segmentation', () => {
  it('needs a --labels model and an integer segmentation covering the training region', async () => {
    const dir = await tempDir();
    const shape: [number, number, number] = [32, 32, 4];
    const vs = { voxelSize: [4, 4, 40] as [number, number, number] };
    const raw = Volume.zeros('uint8', shape, vs), lab = Volume.zeros('uint8', shape, vs), seg = Volume.zeros('uint32', shape, vs);
    for (let z = 0, i = 0; z < 4; z++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++, i++) {
      const left = x < 16;
      lab.data[i] = left ? 1 : 2;
      raw.data[i] = (left ? 100 : 160) + ((x * 7 + y * 13 + z * 5) % 30);
      seg.data[i] = left ? 5 : 9;
    }
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    await writeNpy(path.join(dir, 'lab.npy'), lab);
    await writeNpy(path.join(dir, 'seg.npy'), seg);
    await writeNpy(path.join(dir, 'small.npy'), Volume.zeros('uint32', [16, 32, 4], vs));
    const args = ['train-pixels', '--raw', path.join(dir, 'raw.npy'), '--labels', path.join(dir, 'lab.npy'), '-o', path.join(dir, 'm.forest'), '--voxel-size', '4,4,40', '--sigmas', '0.7', '--trees', '2', '--samples', '1000', '--threads', '1', '--json'];
    const gt = await wiring(['train-pixels', '--raw', path.join(dir, 'raw.npy'), '--gt', path.join(dir, 'seg.npy'), '-o', path.join(dir, 'g.forest'), '--segmentation', path.join(dir, 'seg.npy'), '--json']);
    expect(gt.code).toBe(2);
    expect(gt.out).toMatch(/--segmentation applies to --labels models/);
    const float = await wiring([...args, '--segmentation', path.join(dir, 'raw.npy')]);
    expect(float.code).toBe(2);
    expect(float.out).toMatch(/--segmentation .*raw\.npy: expected a uint32\/uint64 segmentation, got uint8/);
    const small = await wiring([...args, '--segmentation', path.join(dir, 'small.npy')]);
    expect(small.code).toBe(2);
    expect(small.out).toMatch(/small\.npy covers \[0,0,0\]\.\.\[16,32,4\], not the training region \[0,0,0\]\.\.\[32,32,4\]/);
    const sites = await wiring([...args, '--contact-sites']);
    expect(sites.code).toBe(2);
    expect(sites.out).toMatch(/--contact-sites needs --segmentation/);
    const ok = await wiring([...args, '--segmentation', path.join(dir, 'seg.npy')]);
    expect(ok.code, ok.out).toBeUndefined();
  });

  it('--predicted-segmentation: exclusive with --segmentation, needs the boundary output, segments the out-of-fold boundary map', async () => {
    const dir = await tempDir();
    const shape: [number, number, number] = [32, 32, 4];
    const vs = { voxelSize: [8, 8, 30] as [number, number, number] };
    const raw = Volume.zeros('uint8', shape, vs), lab = Volume.zeros('uint8', shape, vs), other = Volume.zeros('uint8', shape, vs);
    for (let z = 0, i = 0; z < 4; z++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++, i++) {
      const wall = x === 15 || x === 16;
      lab.data[i] = wall ? 1 : 2; // boundary (class_1) between two cells (cytoplasm)
      other.data[i] = wall ? 3 : 2;
      raw.data[i] = (wall ? 40 : 170) + ((x * 7 + y * 13 + z * 5) % 30);
    }
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    await writeNpy(path.join(dir, 'lab.npy'), lab);
    await writeNpy(path.join(dir, 'other.npy'), other);
    await writeNpy(path.join(dir, 'seg.npy'), Volume.zeros('uint32', shape, vs));
    const args = (labels: string): string[] => ['train-pixels', '--raw', path.join(dir, 'raw.npy'), '--labels', path.join(dir, labels), '-o', path.join(dir, 'm.forest'), '--voxel-size', '8,8,30', '--sigmas', '0.7', '--trees', '2', '--samples', '1000', '--threads', '1', '--predicted-segmentation', '--json'];
    const both = await wiring([...args('lab.npy'), '--segmentation', path.join(dir, 'seg.npy')]);
    expect(both.code).toBe(2);
    expect(both.out).toMatch(/at most one of --segmentation <ids> and --predicted-segmentation/);
    const off = await wiring([...args('lab.npy'), '--cross-fit', 'off']);
    expect(off.code).toBe(2);
    expect(off.out).toMatch(/--predicted-segmentation segments the cross-fitted boundary map/);
    const noBoundary = await wiring(args('other.npy'));
    expect(noBoundary.code).toBe(2);
    expect(noBoundary.out).toMatch(/no boundary output class_1 \(outputs class_2, class_3\)/);
    const ok = await wiring(args('lab.npy'));
    expect(ok.code, ok.out).toBeUndefined();
    // the out-of-fold boundary map's segmentation: the wall splits the region (at least two segments)
    expect(JSON.parse(ok.out.slice(ok.out.indexOf('{'))).predicted_segmentation.segments).toBeGreaterThanOrEqual(2);
  });
});
