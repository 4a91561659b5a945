// Reading chunks straight into a block: compressed_segmentation decoded in place
// (decodeCompressedSegmentationInto, decodeChunkInto), chunks placed one channel or all (placeChunk,
// readBox(b, scale, channel), `?channel=N`): the same voxels as decoding the whole chunk and
// copying, wherever the chunk and the block overlap, and nothing written outside the overlap.
import { promises as fs } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { type Box, type Vec3, boxFromShape, boxShape } from '../../core/box.js';
import { FormatError } from '../../core/errors.js';
import { Volume, copyBox } from '../../core/volume.js';
import {
  PrecomputedLayer,
  type ShardingSpec,
  decodeChunkInto,
  decodeCompressedSegmentation,
  decodeCompressedSegmentationInto,
  encodeCompressedSegmentation,
  makeInfo,
} from './index.js';
import { openSource } from '../open.js';
import { placeChunk } from './place.js';
import { labels64, rng, sameBytes } from './testing.js';

const v3 = (f: (d: number) => number): Vec3 => [f(0), f(1), f(2)];

/** Labels in runs (as a segmentation has) so blocks get 0, 1, 2, 4 ... bits. */
function runs64(n: number, seed: number, distinct: number): BigUint64Array {
  const ids = labels64(distinct, seed, distinct);
  const r = rng(seed + 1);
  const out = new BigUint64Array(n);
  let v = ids[0];
  for (let i = 0; i < n; i++) {
    if (r() < 0.05) v = ids[Math.floor(r() * distinct)];
    out[i] = v;
  }
  return out;
}

describe('decodeCompressedSegmentationInto', () => {
  it('writes exactly the overlap, as whole-chunk decode + copyBox does (uint64/uint32, channels, odd shapes, 200 random placements)', () => {
    const r = rng(11);
    for (let trial = 0; trial < 200; trial++) {
      const shape: Vec3 = [1 + Math.floor(r() * 19), 1 + Math.floor(r() * 13), 1 + Math.floor(r() * 9)];
      const block: Vec3 = [1 + Math.floor(r() * 8), 1 + Math.floor(r() * 8), 1 + Math.floor(r() * 4)];
      const channels = r() < 0.2 ? 2 : 1;
      const n = shape[0] * shape[1] * shape[2] * channels;
      const u64 = r() < 0.6;
      const distinct = [1, 2, 3, 5, 17, 300][Math.floor(r() * 6)];
      const d64 = runs64(n, trial, distinct);
      const data = u64 ? d64 : new Uint32Array(Array.from(d64, (x) => Number(x & 0xffffffffn)));
      const enc = encodeCompressedSegmentation(data, shape, channels, block);
      const whole = decodeCompressedSegmentation(enc, u64 ? 'uint64' : 'uint32', shape, channels, block);
      const dtype = u64 ? 'uint64' : 'uint32';
      const chunkBox: Box = boxFromShape(shape, [10, 20, 30]);
      // a destination box anywhere around the chunk (inside, overlapping a side, containing it, apart)
      const dmin: Vec3 = v3((d) => chunkBox.min[d] - 4 + Math.floor(r() * (shape[d] + 6)));
      const dshape: Vec3 = v3(() => 1 + Math.floor(r() * 24));
      const dstBox = boxFromShape(dshape, dmin);
      const expected = Volume.zeros(dtype, dstBox, { channels });
      const got = Volume.zeros(dtype, dstBox, { channels });
      // a sentinel outside the overlap must survive
      (expected.data as Uint32Array | BigUint64Array).fill(u64 ? (7n as never) : (7 as never));
      (got.data as Uint32Array | BigUint64Array).fill(u64 ? (7n as never) : (7 as never));
      copyBox(new Volume(dtype, chunkBox, whole, channels), expected);
      const offset: Vec3 = v3((d) => chunkBox.min[d] - dstBox.min[d]);
      decodeCompressedSegmentationInto(enc, dtype, shape, channels, block, got.data as Uint32Array | BigUint64Array, boxShape(dstBox), offset);
      expect(sameBytes(got.data, expected.data), `trial ${trial}: chunk [${shape}] block [${block}] dst ${JSON.stringify(dstBox)}`).toBe(true);
    }
  });

  it('still checks every block header when only part of the chunk is decoded', () => {
    const shape: Vec3 = [16, 8, 8];
    const enc = encodeCompressedSegmentation(runs64(16 * 8 * 8, 3, 40), shape, 1, [8, 8, 8]);
    const w = new Uint32Array(enc.buffer.slice(enc.byteOffset, enc.byteOffset + enc.byteLength));
    w[1 + 2 * 1] = (w[1 + 2 * 1] & 0xffffff) | (3 << 24); // second block: 3 bits, invalid
    const dst = new BigUint64Array(4 * 8 * 8);
    // the destination overlaps only the first block
    expect(() => decodeCompressedSegmentationInto(new Uint8Array(w.buffer), 'uint64', shape, 1, [8, 8, 8], dst, [4, 8, 8], [0, 0, 0], 'chunk Q')).toThrow(
      /chunk Q: .*block \[1,0,0\]: encoded bits 3/,
    );
    expect(() => decodeCompressedSegmentationInto(enc, 'uint64', shape, 1, [8, 8, 8], new BigUint64Array(5), [4, 8, 8], [0, 0, 0], 'chunk Q')).toThrow(/does not match/);
  });
});

describe('PrecomputedLayer.readBox through decodeChunkInto', () => {
  it('reads any box (margins across chunk borders, past the bounds) as whole chunks decoded and cropped; gzip chunks too', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [40, 36, 20];
    const vol = Volume.from('uint64', shape, runs64(shape[0] * shape[1] * shape[2], 5, 60));
    for (const gzip of [false, true]) {
      const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: [8, 8, 30], chunkSize: [16, 16, 8] });
      const layer = await PrecomputedLayer.create(`${dir}/seg${gzip}`, info, { gzip });
      await layer.writeBox(vol);
      const r = rng(9);
      for (let t = 0; t < 30; t++) {
        const min: Vec3 = v3((d) => Math.floor(r() * shape[d]) - 3);
        const b = boxFromShape(v3(() => 1 + Math.floor(r() * 25)), min);
        const got = await layer.readBox(b);
        const expected = Volume.zeros('uint64', b);
        copyBox(vol, expected);
        expect(sameBytes(got.data, expected.data), `box ${JSON.stringify(b)}`).toBe(true);
      }
    }
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a corrupt chunk is a FormatError naming the chunk file', async () => {
    const f = { dtype: 'uint64' as const, channels: 1, encoding: 'compressed_segmentation' as const, blockSize: [8, 8, 8] as Vec3 };
    const out = Volume.zeros('uint64', boxFromShape([8, 8, 8]));
    await expect(decodeChunkInto(new Uint8Array(6), f, boxFromShape([8, 8, 8]), out, '/x/0-8_0-8_0-8')).rejects.toThrow(FormatError);
    await expect(decodeChunkInto(new Uint8Array(6), f, boxFromShape([8, 8, 8]), out, '/x/0-8_0-8_0-8')).rejects.toThrow(/\/x\/0-8_0-8_0-8/);
  });
});

describe('placeChunk and one-channel reads', () => {
  it('places all channels or one, as copyBox (+ channel crop) does, for every dtype width', () => {
    const r = rng(21);
    for (let trial = 0; trial < 120; trial++) {
      const dtype = (['uint8', 'uint16', 'float32', 'uint64', 'int16'] as const)[trial % 5];
      const channels = 1 + Math.floor(r() * 4);
      const cshape: Vec3 = [1 + Math.floor(r() * 9), 1 + Math.floor(r() * 7), 1 + Math.floor(r() * 5)];
      const chunk = Volume.zeros(dtype, boxFromShape(cshape, [3, -2, 5]), { channels });
      const bytes = new Uint8Array(chunk.data.buffer);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
      const dbox = boxFromShape([1 + Math.floor(r() * 14), 1 + Math.floor(r() * 10), 1 + Math.floor(r() * 8)], [Math.floor(r() * 12), -5 + Math.floor(r() * 6), 2 + Math.floor(r() * 8)]);
      const all = Volume.zeros(dtype, dbox, { channels });
      const allRef = Volume.zeros(dtype, dbox, { channels });
      placeChunk(chunk.data, chunk.box, channels, all);
      copyBox(chunk, allRef);
      expect(sameBytes(all.data, allRef.data), `trial ${trial}`).toBe(true);
      const c = Math.floor(r() * channels);
      const one = Volume.zeros(dtype, dbox);
      placeChunk(chunk.data, chunk.box, channels, one, c);
      expect(sameBytes(one.data, allRef.channel(c).crop(dbox).data), `trial ${trial} channel ${c}`).toBe(true);
    }
    const chunk = Volume.zeros('uint8', boxFromShape([2, 2, 2]), { channels: 3 });
    expect(() => placeChunk(chunk.data, chunk.box, 3, Volume.zeros('uint8', boxFromShape([2, 2, 2])), 3)).toThrow(/channel 3 out of range/);
    expect(() => placeChunk(chunk.data, chunk.box, 3, Volume.zeros('uint8', boxFromShape([2, 2, 2]), { channels: 2 }))).toThrow(/3 channel/);
  });

  it('readBox(b, 0, c) and openSource("layer?channel=c") read one channel of raw (gzip) and compressed_segmentation layers', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [30, 20, 12];
    const n = shape[0] * shape[1] * shape[2];
    const r = rng(4);
    const img = Volume.from('uint8', shape, Uint8Array.from({ length: n * 5 }, () => Math.floor(r() * 256)), { channels: 5 });
    const seg = Volume.from('uint64', shape, runs64(n * 2, 8, 30), { channels: 2 });
    for (const [name, vol, gzip] of [['img', img, true], ['seg', seg, false]] as const) {
      const info = makeInfo({ type: name === 'img' ? 'image' : 'segmentation', dtype: vol.dtype, shape, voxelSize: [8, 8, 30], chunkSize: [16, 8, 8], channels: vol.channels });
      const layer = await PrecomputedLayer.create(`${dir}/${name}`, info, { gzip });
      await layer.writeBox(vol);
      for (const b of [boxFromShape(shape), boxFromShape([11, 9, 7], [7, 3, 2]), boxFromShape([40, 4, 4], [-5, 18, 10])]) {
        const whole = await layer.readBox(b);
        for (let c = 0; c < vol.channels; c++) {
          const want = whole.channel(c).crop(b).data;
          expect(sameBytes((await layer.readBox(b, 0, c)).data, want), `${name} channel ${c} box ${JSON.stringify(b)}`).toBe(true);
          const src = await openSource(`${dir}/${name}?channel=${c}`);
          expect(src.channels).toBe(1);
          expect(sameBytes((await src.read(b)).data, want)).toBe(true);
          await src.close();
        }
      }
      await expect(layer.readBox(boxFromShape(shape), 0, vol.channels)).rejects.toThrow(/channel .* requested/);
    }
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('readChannels(b, [c...]) gives readBox(b, 0, c) for each c, reading every chunk file once (raw gzip, compressed_segmentation, sharded)', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [30, 20, 12];
    const n = shape[0] * shape[1] * shape[2];
    const r = rng(6);
    const img = Volume.from('uint8', shape, Uint8Array.from({ length: n * 5 }, () => Math.floor(r() * 256)), { channels: 5 });
    const seg = Volume.from('uint64', shape, runs64(n * 3, 9, 30), { channels: 3 });
    const sharding: ShardingSpec = { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 0, hash: 'identity', minishard_bits: 1, shard_bits: 1 };
    for (const [name, vol, gzip] of [['img', img, true], ['seg', seg, false], ['shard', img, false]] as const) {
      const info = makeInfo({ type: name === 'seg' ? 'segmentation' : 'image', dtype: vol.dtype, shape, voxelSize: [8, 8, 30], chunkSize: [16, 8, 8], channels: vol.channels, ...(name === 'shard' ? { sharding } : {}) });
      const layer = await PrecomputedLayer.create(`${dir}/${name}`, info, { gzip });
      await layer.writeBox(vol);
      for (const b of [boxFromShape(shape), boxFromShape([11, 9, 7], [7, 3, 2]), boxFromShape([40, 4, 4], [-5, 18, 10])]) {
        const chans = name === 'seg' ? [2, 0] : [3, 1, 4];
        const before = layer.stats.chunkFilesRead;
        const got = await layer.readChannels(b, chans);
        const reads = layer.stats.chunkFilesRead - before;
        expect(got.length).toBe(chans.length);
        for (const [k, c] of chans.entries()) {
          const want = await layer.readBox(b, 0, c);
          expect(got[k].channels).toBe(1);
          expect(got[k].box).toEqual(want.box);
          expect(sameBytes(got[k].data, want.data), `${name} channel ${c} box ${JSON.stringify(b)}`).toBe(true);
        }
        // one channel alone reads the same chunks: together they cost one channel's reads
        const one = layer.stats.chunkFilesRead;
        await layer.readBox(b, 0, chans[0]);
        expect(reads).toBe(layer.stats.chunkFilesRead - one);
      }
      await expect(layer.readChannels(boxFromShape(shape), [0, vol.channels])).rejects.toThrow(/channel .* requested/);
    }
    await fs.rm(dir, { recursive: true, force: true });
  });
});
