import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { type Vec3, boxFromShape } from '../../core/box.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import {
  type PrecomputedInfo,
  PrecomputedLayer,
  type ShardingSpec,
  ShardReader,
  compressedMortonCode,
  decodeCompressedSegmentation,
  encodeCompressedSegmentation,
  encodeShard,
  locateChunk,
  makeInfo,
  murmurhash3_x86_128,
  murmurhash3_x86_128_bytes,
  murmurhash3_x86_128_uint64,
  parseInfo,
  shardFileName,
  shardShape,
  suggestSharding,
} from './index.js';
import { labels64, sameBytes } from './testing.js';

function expectSameBytes(a: ArrayBufferView, b: ArrayBufferView): void {
  expect(a.byteLength).toBe(b.byteLength);
  expect(sameBytes(a, b)).toBe(true);
}

const words = (u8: Uint8Array) => new Uint32Array(u8.buffer, u8.byteOffset, u8.byteLength / 4);

describe('murmurhash3_x86_128', () => {
  it('passes the SMHasher verification value 0xB3ECE62A', () => {
    // SMHasher's VerificationTest: hash keys {0}, {0,1}, ..., {0..254} with seed 256-i, hash
    // the concatenated 16-byte digests with seed 0; the first 4 bytes (LE) are the check value.
    const hashes = new Uint8Array(256 * 16);
    const key = new Uint8Array(256);
    for (let i = 0; i < 256; i++) {
      key[i] = i;
      hashes.set(murmurhash3_x86_128_bytes(key.subarray(0, i), 256 - i), i * 16);
    }
    const final = murmurhash3_x86_128(hashes, 0);
    expect(final[0]).toBe(0xb3ece62a);
  });
  it("matches Neuroglancer's sharding hash on uint64 chunk ids (values from its util/hash.js)", () => {
    // murmurHash3_x86_128Hash64Bits_Bigint(0, id) from npm neuroglancer@2.41.2.
    const ref: Array<[bigint, bigint]> = [
      [0n, 5148371408780832321n],
      [1n, 16770674756601302682n],
      [2n ** 53n + 1n, 16131450183714694040n],
      [864691135639556411n, 14460551745409796128n],
      [2n ** 64n - 1n, 6291360166951214362n],
    ];
    for (const [id, h] of ref) expect(murmurhash3_x86_128_uint64(id)).toBe(h);
  });
  it('hashes the empty key with seed 0 to zero', () => {
    expect(murmurhash3_x86_128(new Uint8Array(0), 0)).toEqual([0, 0, 0, 0]);
  });
});

describe('compressed_segmentation', () => {
  const cases: Array<{ shape: Vec3; block: Vec3; channels: number; distinct: number }> = [
    { shape: [1, 1, 1], block: [8, 8, 8], channels: 1, distinct: 1 },
    { shape: [64, 64, 64], block: [8, 8, 8], channels: 1, distinct: 1 },
    { shape: [13, 7, 5], block: [4, 3, 2], channels: 2, distinct: 5 },
    { shape: [20, 20, 1], block: [8, 8, 1], channels: 1, distinct: 3 },
    { shape: [9, 9, 9], block: [8, 8, 8], channels: 3, distinct: 300 },
    { shape: [16, 16, 16], block: [16, 16, 16], channels: 1, distinct: 70000 },
    { shape: [0, 4, 4], block: [8, 8, 8], channels: 1, distinct: 1 },
  ];
  for (const { shape, block, channels, distinct } of cases) {
    it(`round-trips uint64 and uint32 [${shape}] block [${block}] x${channels}, ${distinct} ids`, () => {
      const n = shape[0] * shape[1] * shape[2] * channels;
      const v64 = labels64(n, 7, distinct);
      v64[0] = 864691135639556411n;
      if (n > 1) v64[n - 1] = (1n << 64n) - 1n;
      const enc64 = encodeCompressedSegmentation(v64, shape, channels, block);
      expectSameBytes(decodeCompressedSegmentation(enc64, 'uint64', shape, channels, block), v64);
      const v32 = Uint32Array.from(v64, (x) => Number(x & 0xffffffffn));
      const enc32 = encodeCompressedSegmentation(v32, shape, channels, block);
      expectSameBytes(decodeCompressedSegmentation(enc32, 'uint32', shape, channels, block), v32);
    });
  }
  it('encodes a solid chunk as headers + one shared one-entry table, and 0 bits', () => {
    const v = new Uint32Array(16 * 16 * 16).fill(42);
    const enc = words(encodeCompressedSegmentation(v, [16, 16, 16], 1, [8, 8, 8]));
    // 1 channel word + 8 headers x 2 words + one table entry shared by all blocks
    // (offsets count from the start of the channel's data, word 1).
    expect(enc.length).toBe(1 + 16 + 1);
    expect(enc[0]).toBe(1);
    for (let b = 0; b < 8; b++) {
      expect(enc[1 + 2 * b] >>> 24).toBe(0);
      expect(enc[1 + 2 * b] & 0xffffff).toBe(16);
    }
    expect(enc[17]).toBe(42);
  });
  it('follows the spec bit layout (hand-checked 2x1x1 block, 2 values)', () => {
    const v = Uint32Array.from([9, 5]);
    const enc = words(encodeCompressedSegmentation(v, [2, 1, 1], 1, [2, 1, 1]));
    // [channel offset 1][header: table@3 | 1 bit, values@2][values: voxel0 -> 1 (9), voxel1 -> 0 (5)][table: 5, 9]
    // (offsets in words from the start of the channel's data at word 1)
    expect(Array.from(enc)).toEqual([1, 3 | (1 << 24), 2, 0b01, 5, 9]);
    expect([...decodeCompressedSegmentation(new Uint8Array(enc.buffer), 'uint32', [2, 1, 1], 1, [2, 1, 1])]).toEqual([9, 5]);
  });
  it('rejects corrupt data with FormatError', () => {
    const v = Uint32Array.from([9, 5]);
    const enc = words(encodeCompressedSegmentation(v, [2, 1, 1], 1, [2, 1, 1]));
    const bad = (mut: (w: Uint32Array) => Uint32Array) => () => {
      const m = mut(enc.slice());
      return decodeCompressedSegmentation(new Uint8Array(m.buffer, m.byteOffset, m.byteLength), 'uint32', [2, 1, 1], 1, [2, 1, 1], 'chunk X');
    };
    expect(bad((w) => ((w[1] = 3 | (3 << 24)), w))).toThrow(/encoded bits 3/);
    expect(bad((w) => ((w[1] = 99 | (1 << 24)), w))).toThrow(/lookup table offset/);
    expect(bad((w) => ((w[2] = 1000), w))).toThrow(/run past/);
    expect(bad((w) => w.subarray(0, 5))).toThrow(/value index 1/);
    expect(bad((w) => ((w[0] = 7), w))).toThrow(/chunk X: channel 0 starts/);
    expect(() => decodeCompressedSegmentation(new Uint8Array(3), 'uint32', [2, 1, 1], 1, [2, 1, 1])).toThrow(FormatError);
  });
});

async function imageLayer(dir: string, opts: { gzip?: boolean; shape?: Vec3; chunk?: Vec3 } = {}) {
  const shape = opts.shape ?? [20, 17, 9];
  const info = makeInfo({ type: 'image', dtype: 'uint16', channels: 2, shape, voxelSize: [4, 4, 40], offset: [3, -2, 100], chunkSize: opts.chunk ?? [8, 8, 4] });
  const layer = await PrecomputedLayer.create(dir, info, { gzip: opts.gzip });
  const vol = Volume.zeros('uint16', boxFromShape(shape, [3, -2, 100]), { channels: 2 });
  for (let i = 0; i < vol.data.length; i++) vol.data[i] = (i * 7919) & 0xffff;
  return { layer, vol };
}

describe('PrecomputedLayer (unsharded)', () => {
  it('writes and reads raw chunks, names files by clipped chunk boxes', async () => {
    const dir = await tempDir();
    const { layer, vol } = await imageLayer(dir);
    await layer.writeBox(vol);
    const files = (await fs.readdir(path.join(dir, '4_4_40'))).sort();
    expect(files).toContain('3-11_-2-6_100-104');
    expect(files).toContain('19-23_14-15_108-109'); // edge chunk clipped at the bounds
    expect(files.length).toBe(3 * 3 * 3);
    const back = await (await PrecomputedLayer.open(dir)).readBox(vol.box);
    expectSameBytes(back.data, vol.data);
    expect(back.voxelSize).toEqual([4, 4, 40]);
    expect((await PrecomputedLayer.open(`precomputed://file://${dir}`)).dir).toBe(dir);
    // Raw chunk = little-endian [x, y, z, c] Fortran order: its first value is voxel (3,-2,100) channel 0.
    const raw = await fs.readFile(path.join(dir, '4_4_40', '3-11_-2-6_100-104'));
    expect(raw.byteLength).toBe(8 * 8 * 4 * 2 * 2);
    expect(raw.readUInt16LE(0)).toBe(vol.get(3, -2, 100));
    expect(raw.readUInt16LE(2 * 8 * 8 * 4)).toBe(vol.get(3, -2, 100, 1));
  });
  it('gzips chunks when asked, remembers it, and reads gzip transparently', async () => {
    const dir = await tempDir();
    const { layer, vol } = await imageLayer(dir, { gzip: true });
    await layer.writeBox(vol);
    const reopened = await PrecomputedLayer.open(dir);
    const raw = await fs.readFile(path.join(dir, '4_4_40', '3-11_-2-6_100-104'));
    expect([raw[0], raw[1]]).toEqual([0x1f, 0x8b]);
    expect((await reopened.readBox(vol.box)).data).toEqual(vol.data);
  });
  it('reads only the chunks a sub-box needs; missing chunks read as zeros', async () => {
    const dir = await tempDir();
    const { layer, vol } = await imageLayer(dir);
    await layer.writeBox(vol);
    const l2 = await PrecomputedLayer.open(dir);
    const sub = boxFromShape([2, 2, 2], [12, 7, 104]); // inside chunk x 11-19, y 6-14, z 104-108
    const got = await l2.readBox(sub);
    expect(l2.stats.chunkFilesRead).toBe(1);
    expect(got.data).toEqual(vol.crop(sub).data);
    await fs.rm(path.join(dir, '4_4_40', '11-19_6-14_104-108'));
    const l3 = await PrecomputedLayer.open(dir);
    const z = await l3.readBox(sub);
    expect([...z.data].every((x) => x === 0)).toBe(true);
    expect(l3.stats.chunkFilesMissing).toBe(1);
    // Outside the bounds reads zeros too.
    const out = await l3.readBox(boxFromShape([2, 2, 2], [-10, -10, 0]));
    expect(out.data.length).toBe(16);
  });
  it('names the chunk and the expected byte count when a chunk has the wrong length', async () => {
    const dir = await tempDir();
    const { layer, vol } = await imageLayer(dir);
    await layer.writeBox(vol);
    const file = path.join(dir, '4_4_40', '3-11_-2-6_100-104');
    await fs.writeFile(file, (await fs.readFile(file)).subarray(0, 100));
    const err = await layer.readBox(vol.box).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/expected 1024 bytes .* got 100/);
    await fs.writeFile(file, gzipSync(Buffer.alloc(3)));
    await expect(layer.readBox(vol.box)).rejects.toThrow(/got 3/);
  });
  it('reads a raw chunk that happens to start with the gzip magic, and CloudVolume-style <chunk>.gz files', async () => {
    const dir = await tempDir();
    const layer = await PrecomputedLayer.create(dir, makeInfo({ type: 'image', dtype: 'uint8', shape: [4, 2, 1], voxelSize: [1, 1, 1] }));
    const vol = Volume.from('uint8', [4, 2, 1], Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4]));
    await layer.writeBox(vol);
    expectSameBytes((await layer.readBox(vol.box)).data, vol.data);
    const file = path.join(dir, '1_1_1', '0-4_0-2_0-1');
    await fs.rename(file, file + '.gz');
    await fs.writeFile(file + '.gz', gzipSync(Uint8Array.from([9, 9, 9, 9, 9, 9, 9, 9])));
    expect([...(await layer.readBox(vol.box)).data]).toEqual([9, 9, 9, 9, 9, 9, 9, 9]);
  });
  it('merges a partial-chunk write with what is stored', async () => {
    const dir = await tempDir();
    const { layer, vol } = await imageLayer(dir);
    await layer.writeBox(vol);
    const patch = Volume.zeros('uint16', boxFromShape([2, 2, 2], [5, 0, 101]), { channels: 2 });
    patch.data.fill(7);
    await layer.writeBox(patch);
    const back = await layer.readBox(vol.box);
    expect(back.get(5, 0, 101, 1)).toBe(7);
    expect(back.get(4, 0, 101)).toBe(vol.get(4, 0, 101));
    await expect(layer.writeBox(Volume.zeros('uint16', boxFromShape([1, 1, 1]), { channels: 2 }))).rejects.toThrow(UsageError);
    await expect(layer.writeBox(Volume.zeros('uint8', vol.box, { channels: 2 }))).rejects.toThrow(/uint8/);
  });
  it('stores segmentation ids above 2^53 exactly through compressed_segmentation', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [33, 20, 10];
    const layer = await PrecomputedLayer.create(dir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: [8, 8, 8], chunkSize: [16, 16, 16] }));
    expect(layer.info.scales[0].encoding).toBe('compressed_segmentation');
    expect(layer.info.scales[0].compressed_segmentation_block_size).toEqual([8, 8, 8]);
    const vol = Volume.from('uint64', shape, labels64(shape[0] * shape[1] * shape[2], 3, 40));
    vol.data[5] = 2n ** 53n + 1n;
    vol.data[6] = 864691135639556411n;
    await layer.writeBox(vol);
    const back = await layer.source().read(vol.box);
    expectSameBytes(back.data, vol.data);
  });
  it('refuses to replace a layer without overwrite; addScale/updateInfo keep unknown keys', async () => {
    const dir = await tempDir();
    const info = makeInfo({ type: 'image', dtype: 'uint8', shape: [10, 10, 10], voxelSize: [1, 1, 1] }) as PrecomputedInfo;
    (info as Record<string, unknown>).custom = { keep: 1 };
    (info.scales[0] as Record<string, unknown>).extra = 'x';
    const layer = await PrecomputedLayer.create(dir, info);
    await expect(PrecomputedLayer.create(dir, info)).rejects.toThrow(/overwrite/);
    await layer.addScale({ ...info.scales[0], key: '2_2_2', size: [5, 5, 5], resolution: [2, 2, 2], chunk_sizes: [[5, 5, 5]] });
    await layer.updateInfo({ mesh: 'mesh' });
    const text = JSON.parse(await fs.readFile(path.join(dir, 'info'), 'utf8'));
    expect(text.custom).toEqual({ keep: 1 });
    expect(text.scales[0].extra).toBe('x');
    expect(text.scales.length).toBe(2);
    expect(text.mesh).toBe('mesh');
    expect(layer.info.scales[1].key).toBe('2_2_2');
    await layer.writeBox(Volume.zeros('uint8', boxFromShape([10, 10, 10])));
    await fs.mkdir(path.join(dir, '.wiring-run'));
    await PrecomputedLayer.create(dir, info, { overwrite: true });
    expect((await PrecomputedLayer.open(dir)).info.scales.length).toBe(1);
    expect(await fs.readdir(dir)).toEqual(['info']);
  });
});

describe('edge cases', () => {
  it('one voxel, a 2-D (z = 1) slab, a solid volume, and an empty read box', async () => {
    for (const [shape, encoding] of [[[1, 1, 1], 'raw'], [[1, 1, 1], 'compressed_segmentation'], [[37, 23, 1], 'compressed_segmentation'], [[37, 23, 1], 'raw']] as const) {
      const dir = await tempDir();
      const layer = await PrecomputedLayer.create(dir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape: shape as Vec3, voxelSize: [4, 4, 40], encoding }));
      expect(layer.info.scales[0].chunk_sizes[0]).toEqual(shape.map((n) => Math.min(64, n)));
      const vol = Volume.from('uint64', shape as Vec3, labels64(shape[0] * shape[1] * shape[2], 2, 4));
      await layer.writeBox(vol);
      expectSameBytes((await layer.readBox(vol.box)).data, vol.data);
    }
    const dir = await tempDir();
    const layer = await PrecomputedLayer.create(dir, makeInfo({ type: 'segmentation', dtype: 'uint32', shape: [100, 70, 9], voxelSize: [1, 1, 1] }));
    const solid = Volume.zeros('uint32', boxFromShape([100, 70, 9]));
    solid.data.fill(4000000000);
    await layer.writeBox(solid);
    const stored = await fs.readFile(path.join(dir, '1_1_1', '0-64_0-64_0-9'));
    expect(stored.byteLength).toBeLessThan(2000); // headers + one shared table entry
    expect((await layer.readBox(solid.box)).data.every((x) => x === 4000000000)).toBe(true);
    const empty = await layer.readBox(boxFromShape([0, 5, 5], [3, 3, 3]));
    expect(empty.data.length).toBe(0);
    expect(layer.stats.chunkFilesRead).toBe(4);
  });
});

describe('info validation', () => {
  const good = () => ({
    '@type': 'neuroglancer_multiscale_volume',
    type: 'segmentation',
    data_type: 'uint64',
    num_channels: 1,
    scales: [
      { key: 'a', size: [10, 10, 10], resolution: [4, 4, 40], voxel_offset: [0, 0, 0], chunk_sizes: [[8, 8, 8]], encoding: 'raw' },
      { key: 'b', size: [5, 5, 10], resolution: [8, 8, 40], chunk_sizes: [[8, 8, 8]], encoding: 'compressed_segmentation', compressed_segmentation_block_size: [8, 8, 8] },
    ],
  });
  const check = (mut: (j: any) => void, re: RegExp) => {
    const j = good();
    mut(j);
    expect(() => parseInfo(JSON.stringify(j), '/ds/seg/info')).toThrow(FormatError);
    expect(() => parseInfo(JSON.stringify(j), '/ds/seg/info')).toThrow(re);
  };
  it('accepts a valid info and fills voxel_offset', () => {
    expect(parseInfo(JSON.stringify(good()), 'info').scales[1].voxel_offset).toEqual([0, 0, 0]);
  });
  it('names the file and the field and what was expected', () => {
    check((j) => (j.scales[1].chunk_sizes = [[8, 0, 8]]), /^\/ds\/seg\/info: field scales\[1\]\.chunk_sizes\[0\]: expected three positive integers/);
    check((j) => (j.scales[1].chunk_sizes = []), /scales\[1\]\.chunk_sizes: expected a non-empty array/);
    check((j) => (j.data_type = 'uint128'), /field data_type: expected one of/);
    check((j) => delete j.type, /field type: expected "image" or "segmentation", got nothing/);
    check((j) => (j.scales = []), /field scales/);
    check((j) => (j.scales[0].size = [10, 10]), /scales\[0\]\.size/);
    check((j) => (j.scales[0].resolution = [4, -4, 40]), /scales\[0\]\.resolution: expected three positive numbers/);
    check((j) => (j.scales[0].voxel_offset = [0.5, 0, 0]), /scales\[0\]\.voxel_offset/);
    check((j) => delete j.scales[1].compressed_segmentation_block_size, /scales\[1\]\.compressed_segmentation_block_size/);
    check((j) => (j.scales[0].encoding = 'zstd'), /scales\[0\]\.encoding/);
    check((j) => (j.scales[0].encoding = 'jpeg'), /data_type: expected uint8 for jpeg/);
    check((j) => (j.scales[1].key = 'a'), /scales\[1\]\.key: expected a key not used/);
    check((j) => (j.num_channels = 0), /num_channels/);
    check((j) => (j.scales[0].sharding = { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 0, hash: 'md5', minishard_bits: 0, shard_bits: 0 }), /scales\[0\]\.sharding\.hash/);
    expect(() => parseInfo('{"type": ', 'x/info')).toThrow(/x\/info: not valid JSON/);
  });
  it('opening a folder without info names the info file', async () => {
    const dir = await tempDir();
    await expect(PrecomputedLayer.open(dir)).rejects.toThrow(new RegExp(`${path.join(dir, 'info')}: no info file`));
  });
});

describe('sharded format', () => {
  it('computes compressed Morton codes per the spec', () => {
    // grid [4, 2, 8]: bits x2 y1 z3 -> order x0 y0 z0 x1 z1 z2
    expect(compressedMortonCode([1, 0, 0], [4, 2, 8])).toBe(1n);
    expect(compressedMortonCode([0, 1, 0], [4, 2, 8])).toBe(2n);
    expect(compressedMortonCode([0, 0, 1], [4, 2, 8])).toBe(4n);
    expect(compressedMortonCode([2, 0, 0], [4, 2, 8])).toBe(8n);
    expect(compressedMortonCode([0, 0, 2], [4, 2, 8])).toBe(16n);
    expect(compressedMortonCode([0, 0, 4], [4, 2, 8])).toBe(32n);
    expect(compressedMortonCode([3, 1, 7], [4, 2, 8])).toBe(63n);
    // The worked example in DocSavage's VNC shard worksheet: grid cell (335, 438, 1024) -> 0x434522d9
    // for a grid of 42943/64, 56068/64, 82276/64 chunks.
    expect(compressedMortonCode([335, 438, 1024], [Math.ceil(42943 / 64), Math.ceil(56068 / 64), Math.ceil(82276 / 64)]).toString(16)).toBe('434522d9');
  });
  it('maps chunk ids to shard files like the VNC example (identity, preshift 9, minishard 6, shard 16)', () => {
    const spec: ShardingSpec = { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 9, hash: 'identity', minishard_bits: 6, shard_bits: 16 };
    const { shard, minishard } = locateChunk(0x434522d9n, spec);
    expect(shardFileName(shard, spec)).toBe('868a.shard');
    expect(minishard).toBe(0x11);
  });
  it('writes shards that the reader reads back, for every hash and encoding', async () => {
    for (const hash of ['identity', 'murmurhash3_x86_128'] as const) {
      for (const enc of ['raw', 'gzip'] as const) {
        const spec: ShardingSpec = { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 1, hash, minishard_bits: 2, shard_bits: 2, minishard_index_encoding: enc, data_encoding: enc };
        const entries = Array.from({ length: 40 }, (_, i) => ({ id: BigInt(i * 3), data: Uint8Array.from([i, i + 1, i + 2]) }));
        const byShard = new Map<bigint, typeof entries>();
        for (const e of entries) {
          const s = locateChunk(e.id, spec).shard;
          byShard.set(s, [...(byShard.get(s) ?? []), e]);
        }
        for (const [, list] of byShard) {
          const reader = ShardReader.fromBytes(encodeShard(list, spec), spec, 'mem');
          for (const e of list) expect(Array.from((await reader.read(e.id))!)).toEqual(Array.from(e.data));
          expect(await reader.read(1n)).toBeUndefined();
        }
      }
    }
  });
  it('lays out a shard exactly as the spec says (hand-built bytes)', async () => {
    const spec: ShardingSpec = { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 0, hash: 'identity', minishard_bits: 1, shard_bits: 0 };
    // ids 2 and 4 -> minishard 0; id 3 -> minishard 1.
    const bytes = encodeShard([{ id: 4n, data: Uint8Array.of(44, 44) }, { id: 2n, data: Uint8Array.of(22) }, { id: 3n, data: Uint8Array.of(33, 33, 33) }], spec);
    const u = (o: number) => Number(new DataView(bytes.buffer).getBigUint64(o, true));
    // shard index: minishard 0 index at [3, 51) (after data 22, 44 44); minishard 1 data at 51, index [54, 78)
    expect([u(0), u(8), u(16), u(24)]).toEqual([3, 51, 54, 78]);
    expect(Array.from(bytes.subarray(32, 35))).toEqual([22, 44, 44]);
    // minishard 0 index: ids delta [2, 2], offsets delta [0, 0], sizes [1, 2]
    expect([u(35), u(43), u(51), u(59), u(67), u(75)]).toEqual([2, 2, 0, 0, 1, 2]);
    expect(bytes.byteLength).toBe(32 + 78);
  });
  it('suggests identity sharding whose shards are boxes of chunks', () => {
    // grid [10, 7, 3] -> Morton bits 4 + 3 + 2 = 9; 2^6 chunks per shard -> 3 shard bits.
    const spec = suggestSharding([10, 7, 3], { log2ChunksPerShard: 6 });
    expect([spec.preshift_bits, spec.minishard_bits, spec.shard_bits, spec.hash]).toEqual([3, 3, 3, 'identity']);
    // The low 6 Morton bits are x0 y0 z0 x1 y1 z1: shards of 4x4x4 chunks.
    expect(shardShape(spec, [10, 7, 3], [64, 64, 64])).toEqual([256, 256, 256]);
    // Every chunk of one 4x4x4 box lands in one shard, and different boxes in different shards.
    const shardOf = (g: Vec3) => locateChunk(compressedMortonCode(g, [10, 7, 3]), spec).shard;
    expect(shardOf([0, 0, 0])).toBe(shardOf([3, 3, 2]));
    expect(shardOf([4, 0, 0])).not.toBe(shardOf([3, 0, 0]));
    expect(shardOf([0, 4, 0])).not.toBe(shardOf([0, 3, 0]));
    // Small volumes get one shard.
    expect(suggestSharding([2, 2, 1]).shard_bits).toBe(0);
  });
  it('concurrent writers of different blocks into one murmurhash-sharded layer lose nothing (shard lock)', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [32, 32, 16];
    const spec: ShardingSpec = { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 0, hash: 'murmurhash3_x86_128', minishard_bits: 1, shard_bits: 1 };
    await PrecomputedLayer.create(dir, makeInfo({ type: 'segmentation', dtype: 'uint32', shape, voxelSize: [1, 1, 1], chunkSize: [8, 8, 8], sharding: spec }));
    const vol = Volume.from('uint32', shape, Uint32Array.from(labels64(32 * 32 * 16, 4, 50), (x) => Number(x & 0xffffffffn)));
    const blocks = [...(await PrecomputedLayer.open(dir)).chunkGrid().chunksIn()];
    // 32 chunk-sized blocks, each written by its own layer instance, all at once, into 2 shards.
    await Promise.all(
      blocks.map(async (g) => {
        const layer = await PrecomputedLayer.open(dir);
        await layer.writeBox(vol.crop(layer.chunkGrid().chunkBox(g)));
      }),
    );
    expectSameBytes((await (await PrecomputedLayer.open(dir)).readBox(vol.box)).data, vol.data);
    expect((await fs.readdir(path.join(dir, '1_1_1'))).sort()).toEqual(['0.shard', '1.shard']);
  });
  it('reads and writes a sharded layer; shard shape lets writers work on whole shards', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [40, 40, 20];
    const spec: ShardingSpec = { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 3, hash: 'identity', minishard_bits: 1, shard_bits: 4, minishard_index_encoding: 'gzip', data_encoding: 'gzip' };
    const layer = await PrecomputedLayer.create(dir, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: [8, 8, 8], chunkSize: [8, 8, 8], sharding: spec }));
    // grid [5,5,3] -> bits 3,3,2 = 8 <= 3+1+4: shards are boxes of 2^4 chunks: x4 (2 bits), y2, z2
    expect(layer.writeUnit()).toEqual([32, 16, 16]);
    expect(shardShape({ ...spec, hash: 'murmurhash3_x86_128' }, [5, 5, 3], [8, 8, 8])).toBeUndefined();
    const vol = Volume.from('uint64', shape, labels64(shape[0] * shape[1] * shape[2], 11, 20));
    vol.data[0] = 2n ** 63n + 12345n;
    await layer.writeBox(vol);
    const files = (await fs.readdir(path.join(dir, '8_8_8'))).sort();
    expect(files.every((f) => /^[0-9a-f]\.shard$/.test(f))).toBe(true);
    expectSameBytes((await layer.readBox(vol.box)).data, vol.data);
    // Rewriting part of a shard keeps its other chunks.
    const part = Volume.zeros('uint64', boxFromShape([8, 8, 8], [8, 8, 8]));
    part.data.fill(5n);
    await layer.writeBox(part);
    const back = await layer.readBox(vol.box);
    expect(back.get(9, 9, 9)).toBe(5n);
    expect(back.get(0, 0, 0)).toBe(vol.get(0, 0, 0));
    expect(back.get(39, 39, 19)).toBe(vol.get(39, 39, 19));
    const l2 = await PrecomputedLayer.open(dir);
    await l2.readBox(boxFromShape([2, 2, 2], [1, 1, 1]));
    expect(l2.stats.shardFilesOpened).toBe(1);
    expect(l2.stats.chunkFilesRead).toBe(1);
    // The obsolete `<shard>.index` + `<shard>.data` form of the same shards reads the same.
    const legacy = path.join(await tempDir(), 'legacy');
    await fs.cp(dir, legacy, { recursive: true });
    const indexEnd = 2 * 16;
    for (const f of await fs.readdir(path.join(legacy, '8_8_8'))) {
      const p = path.join(legacy, '8_8_8', f);
      const bytes = await fs.readFile(p);
      await fs.writeFile(p.replace(/\.shard$/, '.index'), bytes.subarray(0, indexEnd));
      await fs.writeFile(p.replace(/\.shard$/, '.data'), bytes.subarray(indexEnd));
      await fs.rm(p);
    }
    expectSameBytes((await (await PrecomputedLayer.open(legacy)).readBox(vol.box)).data, (await layer.readBox(vol.box)).data);
    // A cached minishard index is not reused after the shard is rewritten (by another writer).
    const before = await l2.readBox(boxFromShape([8, 8, 8]));
    const other = await PrecomputedLayer.open(dir);
    const p2 = Volume.zeros('uint64', boxFromShape([8, 8, 8]));
    p2.data.fill(77n);
    await other.writeBox(p2);
    const after = await l2.readBox(boxFromShape([8, 8, 8]));
    expect(before.get(0, 0, 0)).toBe(vol.get(0, 0, 0));
    expect(after.get(0, 0, 0)).toBe(77n);
  });
});
