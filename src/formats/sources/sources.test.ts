import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { exportVolume } from '../export.js';
import { encodeTiffStack } from '../imagestack.js';
import { writeNpy } from '../npy.js';
import { SOURCE_FORMS, openSource } from '../open.js';
import { PrecomputedLayer, makeInfo } from '../precomputed/index.js';
import { SOURCE_FORMATS, sourceFormat } from './index.js';

describe('the table of source formats', () => {
  it('opens one volume of every listed format through openSource, each detected by its own entry', async () => {
    const dir = await tempDir();
    const vol = Volume.from('uint8', [4, 3, 2], new Uint8Array(24).map((_, i) => i));
    const npy = path.join(dir, 'v.npy');
    await writeNpy(npy, vol);
    const src = await openSource(npy);
    const h5 = path.join(dir, 'v.h5');
    await exportVolume(src, `${h5}#d`, {});
    const zarr = path.join(dir, 'v.zarr');
    await exportVolume(src, zarr, {});
    const tif = path.join(dir, 'v.tif');
    await fs.writeFile(tif, encodeTiffStack(vol));
    const stack = path.join(dir, 'stack');
    await fs.mkdir(stack);
    for (let z = 0; z < 2; z++) {
      await fs.writeFile(path.join(stack, `s${z}.png`), await sharp(vol.data.subarray(z * 12, z * 12 + 12), { raw: { width: 4, height: 3, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    }
    const layer = path.join(dir, 'layer');
    await (await PrecomputedLayer.create(layer, makeInfo({ type: 'image', dtype: 'uint8', shape: [4, 3, 2], voxelSize: [1, 1, 1] }))).writeBox(vol);
    const cases: Record<string, string> = { hdf5: `${h5}#d`, npy, tiff: tif, precomputed: layer, zarr, 'image-stack': stack };
    expect(SOURCE_FORMATS.map((f) => f.name).sort()).toEqual(Object.keys(cases).sort());
    for (const [name, spec] of Object.entries(cases)) {
      const s = await openSource(spec);
      expect(s.format, spec).toBe(name);
      expect([...(await s.read(s.offset ? { min: s.offset, max: [s.offset[0] + 4, s.offset[1] + 3, s.offset[2] + 2] } : { min: [0, 0, 0], max: [4, 3, 2] })).data], name).toEqual(Array.from(vol.data));
      await s.close();
      // formats without scales refuse a scale other than 0 (from the table's hasScales)
      if (!sourceFormat(name)!.hasScales) await expect(openSource(spec, { scale: 1 })).rejects.toThrow(UsageError);
      expect(SOURCE_FORMS).toContain(sourceFormat(name)!.form);
    }
  });
});
