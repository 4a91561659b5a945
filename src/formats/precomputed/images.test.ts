import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { boxFromShape } from '../../core/box.js';
import { FormatError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, decodeChunk, makeInfo } from './index.js';
import { sameBytes } from './testing.js';

function smooth(channels: number): Volume<'uint8'> {
  const v = Volume.zeros('uint8', boxFromShape([24, 16, 6]), { channels });
  for (let c = 0; c < channels; c++)
    for (let z = 0; z < 6; z++) for (let y = 0; y < 16; y++) for (let x = 0; x < 24; x++) v.data[v.index(x, y, z, c)] = 20 + 4 * x + 3 * y + 2 * z + 20 * c;
  return v;
}

describe('jpeg chunks', () => {
  for (const channels of [1, 3]) {
    it(`decode ${channels}-channel jpeg chunks written as one image of x by y*z pixels`, async () => {
      const dir = await tempDir();
      const layer = await PrecomputedLayer.create(dir, makeInfo({ type: 'image', dtype: 'uint8', channels, shape: [24, 16, 6], voxelSize: [4, 4, 40], chunkSize: [16, 16, 4], encoding: 'jpeg' }));
      const vol = smooth(channels);
      await layer.writeBox(vol);
      const file = path.join(dir, '4_4_40', '16-24_0-16_4-6');
      const meta = await sharp(await fs.readFile(file)).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['jpeg', 8, 32, channels]);
      const back = await layer.readBox(vol.box);
      let maxErr = 0;
      for (let i = 0; i < vol.data.length; i++) maxErr = Math.max(maxErr, Math.abs(Number(back.data[i]) - Number(vol.data[i])));
      expect(maxErr).toBeLessThanOrEqual(4);
    });
  }
  it('decodes a jpeg made directly by an image library (grey, 16x(16*2) pixels) in the spec layout', async () => {
    const px = new Uint8Array(16 * 32);
    for (let i = 0; i < px.length; i++) px[i] = i % 16 < 8 ? 50 : 200;
    const jpg = await sharp(Buffer.from(px), { raw: { width: 16, height: 32, channels: 1 } }).jpeg({ quality: 100 }).toBuffer();
    const out = (await decodeChunk(jpg, { dtype: 'uint8', channels: 1, encoding: 'jpeg' }, [16, 16, 2], 'c')) as Uint8Array;
    expect(Math.abs(out[0] - 50)).toBeLessThan(4);
    expect(Math.abs(out[15] - 200)).toBeLessThan(4);
    expect(Math.abs(out[16 * 16 + 9] - 200)).toBeLessThan(4);
  });
  it('rejects a jpeg of the wrong pixel count or corrupt bytes with FormatError naming the chunk', async () => {
    const jpg = await sharp(Buffer.alloc(64), { raw: { width: 8, height: 8, channels: 1 } }).jpeg().toBuffer();
    await expect(decodeChunk(jpg, { dtype: 'uint8', channels: 1, encoding: 'jpeg' }, [8, 8, 2], 'chunk/a')).rejects.toThrow(/chunk\/a: .*64 pixels, expected 128/);
    await expect(decodeChunk(jpg.subarray(0, 30), { dtype: 'uint8', channels: 1, encoding: 'jpeg' }, [8, 8, 1], 'chunk/b')).rejects.toThrow(FormatError);
  });
});

describe('png chunks', () => {
  it('round-trip uint8 with 1, 3 and 4 channels exactly', async () => {
    for (const channels of [1, 3, 4]) {
      const dir = await tempDir();
      const layer = await PrecomputedLayer.create(dir, makeInfo({ type: 'image', dtype: 'uint8', channels, shape: [10, 9, 5], voxelSize: [1, 1, 1], chunkSize: [4, 4, 4], encoding: 'png' }));
      const vol = Volume.zeros('uint8', boxFromShape([10, 9, 5]), { channels });
      for (let i = 0; i < vol.data.length; i++) vol.data[i] = (i * 2654435761) % 256;
      await layer.writeBox(vol);
      expect(sameBytes((await layer.readBox(vol.box)).data, vol.data)).toBe(true);
    }
  });
  it('decode 16-bit grey png as uint16', async () => {
    const px = new Uint8Array(4 * 6);
    for (let i = 0; i < px.length; i++) px[i] = i * 10;
    const png16 = await sharp(Buffer.from(px), { raw: { width: 4, height: 6, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const out = (await decodeChunk(png16, { dtype: 'uint16', channels: 1, encoding: 'png' }, [4, 3, 2], 'c')) as Uint16Array;
    expect(Array.from(out)).toEqual(Array.from(px, (v) => v * 257));
  });
});
