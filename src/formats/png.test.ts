import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData } from '../../test/data.js';
import { FormatError } from '../core/errors.js';
import { mulberry32 } from '../core/random.js';
import { decodePng, parsePngHeader, pngFastPath } from './png.js';

/** One PNG chunk: length, type, body, CRC. */
function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc32(out.subarray(8, 8 + body.length), crc32(out.subarray(4, 8))));
  return out;
}

function ihdr(w: number, h: number, depth: number, colour: number, interlace = 0): Uint8Array {
  const b = new Uint8Array(13);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  b.set([depth, colour, 0, 0, interlace], 8);
  return chunk('IHDR', b);
}

const SIG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Encode raw big-endian sample bytes (rows of w*bpp) by hand, filter type `filter(y)` per row,
 * IDAT split in `parts` chunks, `extra` chunks before the first IDAT.
 */
function encodePng(
  w: number, h: number, depth: number, colour: number, px: Uint8Array,
  o: { filter?: (y: number) => number; parts?: number; extra?: Uint8Array[] } = {},
): Uint8Array {
  const samples = { 0: 1, 2: 3, 4: 2, 6: 4 }[colour as 0 | 2 | 4 | 6];
  const bpp = (samples * depth) / 8;
  const rb = w * bpp;
  const raw = new Uint8Array(h * (rb + 1));
  for (let y = 0; y < h; y++) {
    const f = o.filter ? o.filter(y) : y % 5;
    raw[y * (rb + 1)] = f;
    for (let i = 0; i < rb; i++) {
      const x = px[y * rb + i];
      const a = i >= bpp ? px[y * rb + i - bpp] : 0;
      const b = y > 0 ? px[(y - 1) * rb + i] : 0;
      const c = y > 0 && i >= bpp ? px[(y - 1) * rb + i - bpp] : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = b;
      else if (f === 3) pred = (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      raw[y * (rb + 1) + 1 + i] = (x - pred) & 255;
    }
  }
  const z = deflateSync(raw);
  const parts = o.parts ?? 1;
  const idats: Uint8Array[] = [];
  const step = Math.ceil(z.length / parts);
  for (let i = 0; i < z.length; i += step) idats.push(chunk('IDAT', z.subarray(i, i + step)));
  const all = [SIG, ihdr(w, h, depth, colour), ...(o.extra ?? []), ...idats, chunk('IEND', new Uint8Array(0))];
  return Buffer.concat(all);
}

/** What imagestack.ts asks sharp for: grey (b-w / grey16) or RGB without alpha. */
async function viaSharp(png: Uint8Array, channels: 1 | 3, depth: 8 | 16): Promise<Uint8Array | Uint16Array> {
  let img = sharp(png);
  if (channels === 1) img = img.toColourspace(depth === 16 ? 'grey16' : 'b-w');
  else img = img.removeAlpha().toColourspace(depth === 16 ? 'rgb16' : 'srgb');
  const { data } = await img.raw({ depth: depth === 16 ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  return depth === 8 ? new Uint8Array(data) : new Uint16Array(new Uint8Array(data).buffer);
}

function randomPixels(n: number, seed: number, smooth: boolean): Uint8Array {
  const r = mulberry32(seed);
  const px = new Uint8Array(n);
  for (let i = 0; i < n; i++) px[i] = smooth ? (i * 3 + Math.floor(r() * 8)) & 255 : Math.floor(r() * 256);
  return px;
}

describe('PNG decoder (fast path) matches sharp byte for byte', () => {
  // grey, RGB, RGBA at 8 and 16 bits; every filter type (rows cycle 0..4, and each type alone); odd sizes.
  for (const colour of [0, 2, 6] as const) {
    for (const depth of [8, 16] as const) {
      it(`colour type ${colour}, ${depth}-bit, filters 0-4`, async () => {
        const samples = { 0: 1, 2: 3, 6: 4 }[colour];
        for (const [w, h] of [[1, 1], [7, 5], [33, 17]]) {
          const px = randomPixels(w * h * samples * (depth / 8), w * 100 + colour * 10 + depth, w > 7);
          for (const filter of [undefined, () => 0, () => 1, () => 2, () => 3, () => 4]) {
            const png = encodePng(w, h, depth, colour, px, { filter, parts: w > 7 ? 3 : 1 });
            const ours = await decodePng(png, 'x.png');
            expect(ours).not.toBeNull();
            const want = await viaSharp(png, colour === 0 ? 1 : 3, depth);
            expect(ours!.data.constructor).toBe(want.constructor);
            expect(Buffer.from(ours!.data.buffer, ours!.data.byteOffset, ours!.data.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(true);
          }
        }
      });
    }
  }

  it('grey+alpha (colour type 4) drops the alpha', async () => {
    const px = new Uint8Array(6 * 4 * 2).map((_, i) => (i % 2 ? 200 : i * 5));
    const d = await decodePng(encodePng(6, 4, 8, 4, px), 'la.png');
    expect([...d!.data]).toEqual([...px].filter((_, i) => i % 2 === 0));
    expect(d!.channels).toBe(1);
  });

  it('PNGs written by sharp (its own filter choice)', async () => {
    const r = mulberry32(5);
    const g = new Uint8Array(64 * 40).map((_, i) => (i % 64) * 3 + Math.floor(r() * 20));
    for (const [data, ch, depth] of [
      [g, 1, 8], [new Uint16Array(64 * 40).map((_, i) => i * 37), 1, 16], [new Uint8Array(64 * 40 * 3).map((_, i) => i * 7), 3, 8],
    ] as Array<[Uint8Array | Uint16Array, 1 | 3, 8 | 16]>) {
      let img = sharp(data, { raw: { width: 64, height: 40, channels: ch } });
      img = img.toColourspace(ch === 1 ? (depth === 16 ? 'grey16' : 'b-w') : depth === 16 ? 'rgb16' : 'srgb');
      const png = await img.png({ compressionLevel: 6 }).toBuffer();
      const ours = await decodePng(png, 's.png');
      expect(ours).not.toBeNull();
      expect([...ours!.data]).toEqual([...(await viaSharp(png, ch, depth))]);
      expect([...ours!.data]).toEqual([...data]);
    }
  });

  it('falls back (null) for interlaced, palette, 1/2/4-bit and pixel-changing chunks', async () => {
    const px = new Uint8Array(5 * 3).fill(7);
    expect(await decodePng(encodePng(5, 3, 8, 0, px, { extra: [chunk('gAMA', new Uint8Array([0, 0, 177, 143]))] }), 'g.png')).toBeNull();
    expect(await decodePng(encodePng(5, 3, 8, 0, px, { extra: [chunk('tRNS', new Uint8Array([0, 7]))] }), 't.png')).toBeNull();
    expect(await decodePng(encodePng(5, 3, 8, 0, px, { extra: [chunk('abCd', new Uint8Array(3))] }), 'u.png')).toBeNull();
    // harmless text chunk: decoded here
    expect(await decodePng(encodePng(5, 3, 8, 0, px, { extra: [chunk('tEXt', new TextEncoder().encode('a\0b'))] }), 'x.png')).not.toBeNull();
    const interlaced = Buffer.concat([SIG, ihdr(5, 3, 8, 0, 1), chunk('IDAT', deflateSync(new Uint8Array(30))), chunk('IEND', new Uint8Array(0))]);
    expect(pngFastPath(parsePngHeader(interlaced, 'i.png'))).toBe(false);
    expect(await decodePng(interlaced, 'i.png')).toBeNull();
    for (const [depth, colour] of [[1, 0], [2, 0], [4, 0], [8, 3], [16, 4 - 4]]) {
      expect(pngFastPath({ width: 1, height: 1, bitDepth: depth, colourType: colour, interlace: 0 })).toBe(depth === 16 && colour === 0);
    }
    const palette = await sharp(new Uint8Array(16 * 8 * 3).map((_, i) => (i % 3) * 80), { raw: { width: 16, height: 8, channels: 3 } }).png({ palette: true }).toBuffer();
    expect(parsePngHeader(palette, 'p.png').colourType).toBe(3);
    expect(await decodePng(palette, 'p.png')).toBeNull();
  });
});

describe('PNG decoder: damaged and hostile input', () => {
  const good = encodePng(33, 17, 8, 0, randomPixels(33 * 17, 1, true), { parts: 2 });

  async function fails(bytes: Uint8Array, pattern: RegExp): Promise<void> {
    const e = await decodePng(bytes, 'bad.png').then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as Error).message).toMatch(/^bad\.png: /);
    expect((e as Error).message).toMatch(pattern);
  }

  it('names truncation, CRC, filter byte, short and long streams', async () => {
    await fails(good.subarray(0, 20), /too short/);
    await fails(good.subarray(0, good.length - 20), /truncated/);
    await fails(good.subarray(0, good.length - 12), /no IEND/);
    const flipped = good.slice();
    flipped[60] ^= 4; // inside the first IDAT
    await fails(flipped, /CRC mismatch/);
    const notPng = good.slice();
    notPng[1] = 0;
    await fails(notPng, /signature/);
    // a filter byte of 9 (CRC recomputed, so only the filter is wrong)
    const raw = new Uint8Array(3 * 2 + 2);
    raw[0] = 9;
    await fails(Buffer.concat([SIG, ihdr(3, 2, 8, 0), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]), /row 0 has filter type 9/);
    await fails(Buffer.concat([SIG, ihdr(3, 2, 8, 0), chunk('IDAT', deflateSync(new Uint8Array(5))), chunk('IEND', new Uint8Array(0))]), /inflates to 5 bytes.*needs 8/);
    await fails(Buffer.concat([SIG, ihdr(3, 2, 8, 0), chunk('IDAT', deflateSync(new Uint8Array(50))), chunk('IEND', new Uint8Array(0))]), /more than the 8 bytes/);
    await fails(Buffer.concat([SIG, ihdr(3, 2, 8, 0), chunk('IDAT', new Uint8Array([1, 2, 3, 4])), chunk('IEND', new Uint8Array(0))]), /cannot be inflated/);
    await fails(Buffer.concat([SIG, ihdr(3, 2, 8, 0), chunk('IEND', new Uint8Array(0))]), /no IDAT/);
  });

  it('a huge declared size with a small stream allocates only what inflates', async () => {
    // 2^30 x 2^30 declared, 1 KB of zeros: refused from the inflated size, nothing of 2^60 allocated
    const huge = Buffer.concat([SIG, ihdr(1 << 30, 1 << 30, 8, 0), chunk('IDAT', deflateSync(new Uint8Array(1000))), chunk('IEND', new Uint8Array(0))]);
    await fails(huge, /inflates to 1000 bytes/);
    const wide = Buffer.concat([SIG, ihdr(100_000, 50_000, 16, 6), chunk('IDAT', deflateSync(new Uint8Array(1 << 20))), chunk('IEND', new Uint8Array(0))]);
    await fails(wide, /inflates to 1048576 bytes/);
  });
});

describeData('isbi2012/train/image', 'PNG decoder on real slices', () => {
  it('ISBI 2012, gala-medulla and vnc-sstem label slices decode exactly as sharp decodes them', async () => {
    const dirs = ['isbi2012/train/image', 'isbi2012/train/label', 'gala-medulla/train-image-png', 'vnc-sstem/stack1/labels'];
    let fast = 0;
    for (const d of dirs) {
      const names = (await fs.readdir(dataPath(d))).filter((n) => n.endsWith('.png')).sort().slice(0, 3);
      for (const n of names) {
        const bytes = await fs.readFile(path.join(dataPath(d), n));
        const ours = await decodePng(bytes, n);
        if (!ours) continue;
        fast++;
        const want = await viaSharp(bytes, ours.channels, ours.data instanceof Uint16Array ? 16 : 8);
        expect(Buffer.from(ours.data.buffer, ours.data.byteOffset, ours.data.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(true);
      }
    }
    expect(fast).toBeGreaterThanOrEqual(9);
  });
});
