import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../test/data.js';
import { box } from '../core/box.js';
import { FormatError, UsageError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { openHdf5 } from './hdf5.js';
import { encodeTiffStack, naturalCompare, openImageStack, openTiffStack } from './imagestack.js';

async function writePng(file: string, w: number, h: number, data: Uint8Array | Uint16Array): Promise<void> {
  const img = sharp(data, { raw: { width: w, height: h, channels: 1 } }).toColourspace(data instanceof Uint16Array ? 'grey16' : 'b-w');
  await img.png().toFile(file);
}

describe('natural sort', () => {
  it('orders digit runs by value', () => {
    expect(['s10.png', 's2.png', 's1.png', 's010.png', 'a.png'].sort(naturalCompare)).toEqual(['a.png', 's1.png', 's2.png', 's10.png', 's010.png']);
  });
});

describe('PNG/TIFF slice folder', () => {
  it('reads uint8 and uint16 slices in natural order, sub-boxes, 1-voxel, empty, outside', async () => {
    const dir = await tempDir();
    const [W, H, D] = [7, 5, 12];
    const vol = Volume.from('uint16', [W, H, D], new Uint16Array(W * H * D).map((_, i) => (i * 977) % 65536));
    for (let z = 0; z < D; z++) await writePng(path.join(dir, `slice_${z}.png`), W, H, vol.data.subarray(z * W * H, (z + 1) * W * H));
    const s = await openImageStack(dir);
    expect([s.shape, s.dtype, s.channels]).toEqual([[W, H, D], 'uint16', 1]);
    for (const b of [box([0, 0, 0], [W, H, D]), box([2, 1, 9], [6, 4, 12]), box([6, 4, 11], [7, 5, 12])]) {
      expect([...(await s.read(b)).data]).toEqual(Array.from(vol.crop(b).data));
    }
    expect((await s.read(box([2, 1, 3], [6, 1, 5]))).data.length).toBe(0);
    // without the decoded-slice cache (crop in libvips) the same sub-boxes come back
    const nc = await openImageStack(dir, { cacheBytes: 0 });
    for (const b of [box([2, 1, 9], [6, 4, 12]), box([0, 2, 0], [7, 3, 12])]) {
      expect([...(await nc.read(b)).data]).toEqual(Array.from(vol.crop(b).data));
      expect([...(await s.read(b)).data]).toEqual(Array.from(vol.crop(b).data));
    }
    await expect(s.read(box([0, 0, 0], [W, H, D + 1]))).rejects.toThrow(UsageError);

    const d8 = await tempDir();
    const v8 = Volume.from('uint8', [3, 2, 2], new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    await writePng(path.join(d8, 'b.png'), 3, 2, v8.data.subarray(6));
    await writePng(path.join(d8, 'a.png'), 3, 2, v8.data.subarray(0, 6));
    const s8 = await openImageStack(d8);
    expect(s8.dtype).toBe('uint8');
    expect([...(await s8.read(box([0, 0, 0], [3, 2, 2]))).data]).toEqual(Array.from(v8.data));
  });

  it('names the odd slice (size, depth) and a corrupt slice', async () => {
    const dir = await tempDir();
    await writePng(path.join(dir, '0.png'), 4, 4, new Uint8Array(16));
    await writePng(path.join(dir, '1.png'), 4, 4, new Uint8Array(16));
    await writePng(path.join(dir, '2.png'), 4, 3, new Uint8Array(12));
    await expect(openImageStack(dir)).rejects.toThrow(/2\.png: slice is 4x3 uint8 grayscale but 0\.png is 4x4/);
    await fs.rm(path.join(dir, '2.png'));
    await writePng(path.join(dir, '2.png'), 4, 4, new Uint16Array(16));
    await expect(openImageStack(dir)).rejects.toThrow(/2\.png: slice is 4x4 uint16/);
    await fs.rm(path.join(dir, '2.png'));
    const good = await fs.readFile(path.join(dir, '1.png'));
    await fs.writeFile(path.join(dir, '1.png'), good.subarray(0, good.length - 30));
    const s = await openImageStack(dir, { checkAll: false });
    await expect(s.read(box([0, 0, 1], [4, 4, 2]))).rejects.toThrow(FormatError);
    await expect(s.read(box([0, 0, 1], [4, 4, 2]))).rejects.toThrow(/1\.png/);
    // only the slices in the box's z range are decoded: slice 0 still reads
    expect((await s.read(box([0, 0, 0], [4, 4, 1]))).data.length).toBe(16);
    await expect(openImageStack(await tempDir())).rejects.toThrow(/no \.png/);
  });

  it('reads RGB slices as 3 channels', async () => {
    const dir = await tempDir();
    const rgb = new Uint8Array([10, 20, 30, 40, 50, 60]);
    await sharp(rgb, { raw: { width: 2, height: 1, channels: 3 } }).png().toFile(path.join(dir, 'c.png'));
    const s = await openImageStack(dir);
    expect(s.channels).toBe(3);
    expect([...(await s.read(box([0, 0, 0], [2, 1, 1]))).data]).toEqual([10, 40, 20, 50, 30, 60]);
  });
});

describe('multi-page TIFF', () => {
  it('reads pages as z for uint8 and uint16, and rejects a truncated file', async () => {
    const dir = await tempDir();
    for (const dtype of ['uint8', 'uint16'] as const) {
      const v = Volume.zeros(dtype, [5, 4, 6]);
      for (let i = 0; i < v.data.length; i++) v.data[i] = (i * 37) % (dtype === 'uint8' ? 256 : 65536);
      const f = path.join(dir, `${dtype}.tif`);
      await fs.writeFile(f, encodeTiffStack(v));
      const s = await openTiffStack(f);
      expect([s.shape, s.dtype]).toEqual([[5, 4, 6], dtype]);
      const b = box([1, 2, 3], [4, 4, 6]);
      expect([...(await s.read(b)).data]).toEqual(Array.from(v.crop(b).data));
      // sharp (libtiff) agrees on page 4
      const { data } = await sharp(f, { page: 4 }).toColourspace(dtype === 'uint8' ? 'b-w' : 'grey16').raw({ depth: dtype === 'uint8' ? 'uchar' : 'ushort' }).toBuffer({ resolveWithObject: true });
      const page4 = dtype === 'uint8' ? Array.from(data) : Array.from(new Uint16Array(data.buffer, data.byteOffset, data.length / 2));
      expect(page4).toEqual([...(await s.read(box([0, 0, 4], [5, 4, 5]))).data]);
    }
    const bytes = await fs.readFile(path.join(dir, 'uint8.tif'));
    await fs.writeFile(path.join(dir, 'cut.tif'), bytes.subarray(0, bytes.length - 40));
    await expect(openTiffStack(path.join(dir, 'cut.tif'))).rejects.toThrow(/cut\.tif: (truncated: page 5|IFD .* past the end)/);
  });
});

describeData('gala-medulla', 'image stack: gala-medulla PNG slices equal the HDF5 raw', () => {
  it('all 50 slices equal train-image.h5#stack', async () => {
    const png = await openImageStack(dataPath('gala-medulla/train-image-png'));
    const h5 = await openHdf5(dataPath('gala-medulla/train-image.h5#stack'));
    expect(png.shape).toEqual(h5.shape);
    const b = box([0, 0, 0], png.shape);
    const a = await png.read(b);
    const c = await h5.read(b);
    expect(Buffer.compare(Buffer.from(a.data.buffer), Buffer.from(c.data.buffer))).toBe(0);
    const sub = box([17, 33, 20], [150, 90, 31]);
    expect([...(await png.read(sub)).data]).toEqual([...(await h5.read(sub)).data]);
    await h5.close();
  });
});

describeData('isbi2012', 'image stack: ISBI 2012 slices 0..19.png in natural order', () => {
  it('z = k holds k.png (not the lexicographic 10.png after 1.png)', async () => {
    const s = await openImageStack(dataPath('isbi2012/train/image'));
    expect(s.shape).toEqual([512, 512, 20]);
    expect(s.files.map((f) => path.basename(f))).toEqual(Array.from({ length: 20 }, (_, i) => `${i}.png`));
    for (const z of [2, 10, 19]) {
      const { data } = await sharp(dataPath('isbi2012/train/image', `${z}.png`)).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
      const v = await s.read(box([0, 0, z], [512, 512, z + 1]));
      expect(Buffer.compare(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength), data)).toBe(0);
    }
  });
});
