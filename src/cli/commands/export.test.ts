import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { runInProcess } from '../../../test/cli-in-process.js';
import { box } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { openTiffStack } from '../../formats/imagestack.js';
import { makeInfo } from '../../formats/precomputed/info.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { register as exportCmd } from './export.js';

const cli = (args: string[]) => runInProcess([exportCmd], args);

async function layer(dir: string): Promise<{ dir: string; data: Uint16Array }> {
  const shape: [number, number, number] = [7, 5, 3];
  const data = Uint16Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 97) % 65536);
  const out = path.join(dir, 'img');
  const l = await PrecomputedLayer.create(out, makeInfo({ type: 'image', dtype: 'uint16', shape, voxelSize: [4, 4, 40], chunkSize: [4, 4, 2] }));
  await l.writeBox(Volume.from('uint16', shape, data, { voxelSize: [4, 4, 40] }));
  return { dir: out, data };
}

describe('wiring export', () => {
  it('refuses an existing destination unless --overwrite is given, then replaces it', async () => {
    const dir = await tempDir('wiring-export-');
    const { dir: l } = await layer(dir);
    const dest = path.join(dir, 'x.npy');
    await writeFile(dest, 'old');
    await expect(cli(['export', l, dest])).rejects.toThrow(/exists; pass --overwrite/);
    expect(await readFile(dest, 'utf8')).toBe('old');
    await cli(['export', l, dest, '--overwrite']);
    expect((await readFile(dest)).subarray(1, 6).toString()).toBe('NUMPY');
  });

  it('writes Zarr v2 with --zarr-format 2 (zarr-python 2 layout: .zarray, .zgroup)', async () => {
    const dir = await tempDir('wiring-export-');
    const { dir: l } = await layer(dir);
    const dest = path.join(dir, 'x.zarr');
    await cli(['export', l, dest, '--zarr-format', '2']);
    expect(existsSync(path.join(dest, '.zgroup'))).toBe(true);
    const zarray = JSON.parse(await readFile(path.join(dest, '0', '.zarray'), 'utf8'));
    expect([zarray.zarr_format, zarray.shape]).toEqual([2, [3, 5, 7]]);
    await expect(cli(['export', l, path.join(dir, 'y.zarr'), '--zarr-format', '4'])).rejects.toThrow(/--zarr-format 4: expected 2 or 3/);
  });

  it('writes a multi-page TIFF that reads back identically; refuses label layers with a hint', async () => {
    const dir = await tempDir('wiring-export-');
    const { dir: l, data } = await layer(dir);
    const dest = path.join(dir, 'x.tif');
    await cli(['export', l, dest]);
    const back = await openTiffStack(dest);
    expect(back.shape).toEqual([7, 5, 3]);
    expect([...(await back.read(box([0, 0, 0], [7, 5, 3]))).data]).toEqual(Array.from(data));
    const seg = path.join(dir, 'seg');
    await PrecomputedLayer.create(seg, makeInfo({ type: 'segmentation', dtype: 'uint64', shape: [2, 2, 2], voxelSize: [1, 1, 1] }));
    await expect(cli(['export', seg, path.join(dir, 's.tif')])).rejects.toThrow(/one-channel uint8 or uint16 layer; this one is 1 x uint64/);
  });
});
