// Conformance on Neuroglancer's own test files (../shared/data/neuroglancer-testdata).
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../../test/data.js';
import { type Vec3, boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import {
  PrecomputedLayer,
  type ShardingSpec,
  decodeCompressedSegmentation,
  encodeCompressedSegmentation,
  makeInfo,
  maybeGunzip,
} from './index.js';
import { sameBytes } from './testing.js';

function expectSameBytes(a: ArrayBufferView, b: ArrayBufferView): void {
  expect(a.byteLength).toBe(b.byteLength);
  expect(sameBytes(a, b)).toBe(true);
}

const FIB = 'neuroglancer-testdata/codec/compressed_segmentation/64x64x64-raw-uint64-segmentation.dat';

async function fib25(): Promise<BigUint64Array> {
  const buf = await fs.readFile(dataPath(FIB));
  return new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describeData('neuroglancer-testdata/codec/compressed_segmentation', 'FIB-25 64^3 uint64 block (compressed_segmentation)', () => {
  // SHA-256 of the encodings produced by Neuroglancer's own encoder (npm neuroglancer@2.41.2,
  // lib/sliceview/compressed_segmentation/encode_uint64.js / encode_uint32.js, encodeChannels) on this
  // block; see bench/compressed-segmentation.bench.ts, which recomputes them when that package is present.
  const NEUROGLANCER_SHA256: Record<string, { u64: string; u32: string }> = {
    '8,8,8': {
      u64: '00df40db7bba56bd060eb75c60d9e61bd4cf12c29bb73289d539af95b83320f6',
      u32: '416a4704e1e59ec2e65341d4ab53b6e768b011346f269ba828b4e9868f398238',
    },
    '7,5,3': {
      u64: '90e97920bdf12df1cbc6f7b6a9dac8c63cbc0f037cb1bf89cf70c469c9a43358',
      u32: '1f3577195aa6a726cd22dc8369dcaf15d34e685b982698f7e528f602b0b5ed7f',
    },
  };
  for (const [bs, want] of Object.entries(NEUROGLANCER_SHA256)) {
    it(`encodes byte-identically to Neuroglancer's encoder and decodes bit-exactly (block ${bs})`, async () => {
      const data = await fib25();
      const block = bs.split(',').map(Number) as unknown as Vec3;
      const enc = encodeCompressedSegmentation(data, [64, 64, 64], 1, block);
      expect(sha256(enc)).toBe(want.u64);
      expectSameBytes(decodeCompressedSegmentation(enc, 'uint64', [64, 64, 64], 1, block), data);
      const d32 = Uint32Array.from(data, (x) => Number(x & 0xffffffffn));
      const e32 = encodeCompressedSegmentation(d32, [64, 64, 64], 1, block);
      expect(sha256(e32)).toBe(want.u32);
      expectSameBytes(decodeCompressedSegmentation(e32, 'uint32', [64, 64, 64], 1, block), d32);
    });
  }
  it("encodes 3 channels of a 40x50x30 crop (ids, ids + 2^60, ids >> 3) byte-identically to Neuroglancer's encodeChannels", async () => {
    const data = await fib25();
    const [sx, sy, sz] = [40, 50, 30];
    const n = sx * sy * sz;
    const mc = new BigUint64Array(n * 3);
    for (let z = 0; z < sz; z++)
      for (let y = 0; y < sy; y++)
        for (let x = 0; x < sx; x++) {
          const v = data[x + 5 + 64 * (y + 6 + 64 * (z + 7))];
          const i = x + sx * (y + sy * z);
          mc[i] = v;
          mc[n + i] = v + (1n << 60n);
          mc[2 * n + i] = v >> 3n;
        }
    const enc = encodeCompressedSegmentation(mc, [sx, sy, sz], 3, [8, 8, 8]);
    expect(sha256(enc)).toBe('765e982f1cc75a30180fc29179a3e9e62276cf63cde4347b1473cdc36b1c8d70');
    expectSameBytes(decodeCompressedSegmentation(enc, 'uint64', [sx, sy, sz], 3, [8, 8, 8]), mc);
  });
  it('compresses the block to a few percent of raw uint64 with 8^3 blocks', async () => {
    const data = await fib25();
    const ratio = encodeCompressedSegmentation(data, [64, 64, 64], 1, [8, 8, 8]).byteLength / data.byteLength;
    // Neuroglancer's README reports 0.0179 averaged over FIB-25 chunks; this chunk gives 0.034.
    expect(ratio).toBeGreaterThan(0.005);
    expect(ratio).toBeLessThan(0.05);
  });
  it('round-trips bit-exactly through a compressed_segmentation layer, an unsharded gzip layer and sharded layers, with ids above 2^53', async () => {
    const data = await fib25();
    // Lift the ids above 2^53 (keeping the partition) so exactness of 64-bit ids is proven too.
    const lifted = data.map((x) => (x === 0n ? 0n : x | (1n << 60n)));
    for (const [name, src] of [['fib25', data], ['fib25-lifted', lifted]] as const) {
      const shardings: Array<ShardingSpec | undefined> = [
        undefined,
        { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 2, hash: 'murmurhash3_x86_128', minishard_bits: 2, shard_bits: 1, minishard_index_encoding: 'gzip', data_encoding: 'gzip' },
        { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 0, hash: 'identity', minishard_bits: 3, shard_bits: 0 },
      ];
      for (const sharding of shardings) {
        const dir = path.join(await tempDir(), name);
        const layer = await PrecomputedLayer.create(
          dir,
          makeInfo({ type: 'segmentation', dtype: 'uint64', shape: [64, 64, 64], voxelSize: [8, 8, 8], offset: [3000, 3000, 3000], chunkSize: [32, 32, 32], sharding }),
          { gzip: !sharding },
        );
        const vol = Volume.from('uint64', [64, 64, 64], src, { offset: [3000, 3000, 3000] });
        await layer.writeBox(vol);
        const back = await (await PrecomputedLayer.open(dir)).readBox(vol.box);
        expectSameBytes(back.data, src);
        const sub = boxFromShape([10, 20, 30], [3030, 3001, 3017]);
        expectSameBytes((await layer.readBox(sub)).data, vol.crop(sub).data);
      }
    }
  });
});

describeData('neuroglancer-testdata/datasource/precomputed', 'Neuroglancer precomputed test layers (tensorstore-written info)', () => {
  for (const [name, channels] of [['one_channel', 1], ['two_channels', 2]] as const) {
    it(`opens ${name}: 3 scales, uint16, ${channels} channel(s), unwritten chunks read as zeros`, async () => {
      const layer = await PrecomputedLayer.open(dataPath('neuroglancer-testdata/datasource/precomputed', name));
      expect(layer.info.data_type).toBe('uint16');
      expect(layer.info.num_channels).toBe(channels);
      expect(layer.info.scales.map((s) => s.size)).toEqual([[10, 20, 30], [5, 10, 15], [3, 5, 8]]);
      expect(layer.info.scales.map((s) => s.resolution)).toEqual([[3, 4, 5], [6, 8, 10], [12, 16, 20]]);
      expect(layer.chunkGrid(1).gridShape).toEqual([1, 1, 1]);
      const src = layer.source(2);
      expect(src.shape).toEqual([3, 5, 8]);
      expect(src.chunkShape).toEqual([3, 5, 8]);
      const v = await src.read(boxFromShape([3, 5, 8]));
      expect(v.channels).toBe(channels);
      expect(v.data.length).toBe(3 * 5 * 8 * channels);
      expect(v.data.every((x) => x === 0)).toBe(true);
      expect(layer.stats.chunkFilesMissing).toBe(1);
    });
  }
  it('reads the same bytes back after our writer fills one of them (raw, 2 channels, clipped edge chunks)', async () => {
    const dir = await tempDir();
    const src = dataPath('neuroglancer-testdata/datasource/precomputed/two_channels/info');
    await fs.writeFile(path.join(dir, 'info'), await fs.readFile(src));
    const layer = await PrecomputedLayer.open(dir);
    const vol = Volume.zeros('uint16', boxFromShape([5, 10, 15]), { channels: 2 });
    for (let i = 0; i < vol.data.length; i++) vol.data[i] = i;
    await layer.writeBox(vol, 1);
    expect(await fs.readdir(path.join(dir, '6_8_10'))).toEqual(['0-5_0-10_0-15']);
    expectSameBytes((await layer.readBox(vol.box, 1)).data, vol.data);
    // The info we did not change is byte-identical (we never rewrote it).
    expect(await fs.readFile(path.join(dir, 'info'), 'utf8')).toBe(await fs.readFile(src, 'utf8'));
  });
});

describeData('neuroglancer-testdata/kvstore/gzip', 'gzip kvstore test file', () => {
  it('decodes simple.txt.gz to simple.txt', async () => {
    const gz = await fs.readFile(dataPath('neuroglancer-testdata/kvstore/gzip/simple.txt.gz'));
    const plain = await fs.readFile(dataPath('neuroglancer-testdata/kvstore/gzip/simple.txt'));
    expect(Buffer.from(await maybeGunzip(gz, 'simple.txt.gz', 1000)).equals(plain)).toBe(true);
  });
});
