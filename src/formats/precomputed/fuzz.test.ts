// Seeded fuzzing of every precomputed reader path: mutated info JSON, chunk files (raw, gzip,
// compressed_segmentation, jpeg), compressed_segmentation headers/offsets and shard indexes.
// Every read must either return a volume of the requested box/channels or throw FormatError:
// never another exception type, never a hang, never an out-of-bounds typed-array write.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { type Box, type Vec3, boxEquals, boxFromShape } from '../../core/box.js';
import type { DataType } from '../../core/dtype.js';
import { FormatError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { type ChunkEncoding, PrecomputedLayer, type ShardingSpec, decodeCompressedSegmentation, encodeCompressedSegmentation, makeInfo } from './index.js';
import { labels64, rng } from './testing.js';

type Rand = () => number;
/** Change the seeds with WIRING_FUZZ_SEED=n to explore further (the default run is fixed). */
const SEED = Number(process.env.WIRING_FUZZ_SEED ?? 0);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

const SPECIAL32 = [0, 1, 2, 3, 7, 8, 0xff, 0xffff, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];

/** A mutated copy of `bytes`: bit flips, random/special words, truncation, extension, splices. */
function mutateBytes(r: Rand, bytes: Uint8Array, focus?: number): Uint8Array {
  let out = Uint8Array.from(bytes);
  const n = 1 + Math.floor(r() * 4);
  const region = focus && r() < 0.7 ? Math.min(focus, out.length) : out.length;
  for (let k = 0; k < n; k++) {
    const op = Math.floor(r() * 7);
    if (out.length === 0) {
      out = Uint8Array.from([Math.floor(r() * 256)]);
      continue;
    }
    const at = Math.floor(r() * Math.max(1, region));
    if (op === 0) out[at] ^= 1 << Math.floor(r() * 8);
    else if (op === 1) out[at] = Math.floor(r() * 256);
    else if (op === 2 && at + 4 <= out.length) new DataView(out.buffer).setUint32(at - (at % 4), pick(r, SPECIAL32), true);
    else if (op === 3) out = out.slice(0, Math.floor(r() * out.length));
    else if (op === 4) {
      const ext = new Uint8Array(out.length + 1 + Math.floor(r() * 64));
      ext.set(out);
      for (let i = out.length; i < ext.length; i++) ext[i] = Math.floor(r() * 256);
      out = ext;
    } else if (op === 5 && at + 8 <= out.length) new DataView(out.buffer).setBigUint64(at - (at % 8), BigInt(Math.floor(r() * 2 ** 40)), true);
    else out[at] = 0;
  }
  return out;
}

const VALUES: unknown[] = [-1, 0, 1, 3, 64, 2 ** 31, 2 ** 53, 1e308, 0.5, 'x', '', 'uint8', 'raw', 'jpeg', 'compressed_segmentation', 'gzip', null, true, [], {}, [1, 2], [0, 0, 0], [1, 1, 1], [1e9, 1e9, 1e9], [-5, 0, 2], [[8, 8, 8]], [[1, 1, 1]]];

/** Mutate one random place of a JSON value: replace, delete, or recurse. */
function mutateJson(r: Rand, v: unknown, depth = 0): unknown {
  if (Array.isArray(v) && v.length > 0 && r() < 0.75) {
    const i = Math.floor(r() * v.length);
    const c = [...v];
    if (r() < 0.1) c.splice(i, 1);
    else c[i] = mutateJson(r, c[i], depth + 1);
    return c;
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && r() < 0.8) {
    const keys = Object.keys(v);
    const o = { ...(v as Record<string, unknown>) };
    if (keys.length === 0 || r() < 0.05) {
      o[pick(r, ['sharding', 'compressed_segmentation_block_size', 'encoding', 'zz'])] = pick(r, VALUES);
      return o;
    }
    const k = pick(r, keys);
    if (r() < 0.1) delete o[k];
    else o[k] = mutateJson(r, o[k], depth + 1);
    return o;
  }
  if (typeof v === 'number' && r() < 0.5) return pick(r, [v + 1, v - 1, v * 2, 0, -v, v / 3]);
  return pick(r, VALUES);
}

interface Fixture {
  name: string;
  dir: string;
  box: Box;
  files: string[];
}

async function makeFixture(name: string, o: { dtype: DataType; channels: number; encoding: ChunkEncoding; gzip?: boolean; sharding?: ShardingSpec }): Promise<Fixture> {
  const dir = path.join(await tempDir('wiring-fuzz-'), name);
  const shape: Vec3 = [18, 12, 7];
  const type = o.dtype === 'uint64' || o.encoding === 'compressed_segmentation' ? 'segmentation' : 'image';
  const layer = await PrecomputedLayer.create(
    dir,
    makeInfo({ type, dtype: o.dtype, channels: o.channels, shape, voxelSize: [4, 4, 40], offset: [5, 0, -3], chunkSize: [8, 8, 4], encoding: o.encoding, blockSize: [4, 4, 2], sharding: o.sharding }),
    { gzip: o.gzip },
  );
  const vol = Volume.zeros(o.dtype, boxFromShape(shape, [5, 0, -3]), { channels: o.channels });
  if (o.dtype === 'uint64') (vol.data as BigUint64Array).set(labels64(vol.data.length, 5, 9));
  else for (let i = 0; i < vol.data.length; i++) (vol.data as Uint8Array)[i] = (i * 37 + (i >> 5)) % 200;
  await layer.writeBox(vol);
  const key = layer.info.scales[0].key;
  const files = (await fs.readdir(path.join(dir, key))).map((f) => path.join(dir, key, f));
  return { name, dir, box: vol.box, files };
}

async function expectShapeOrFormatError(dir: string, box: Box, what: string): Promise<'ok' | 'error'> {
  try {
    const layer = await PrecomputedLayer.open(dir);
    const v = await layer.readBox(box);
    if (!boxEquals(v.box, box) || v.channels !== layer.info.num_channels || v.data.length !== v.voxels * v.channels) {
      throw new Error(`${what}: wrong shape`);
    }
    return 'ok';
  } catch (err) {
    if (err instanceof FormatError) return 'error';
    throw new Error(`${what}: threw ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
  }
}

const FIXTURES = [
  { name: 'raw-u16-2ch', dtype: 'uint16', channels: 2, encoding: 'raw' },
  { name: 'raw-gzip-f32', dtype: 'float32', channels: 1, encoding: 'raw', gzip: true },
  { name: 'cseg-u64', dtype: 'uint64', channels: 1, encoding: 'compressed_segmentation' },
  { name: 'cseg-u32-2ch-gzip', dtype: 'uint32', channels: 2, encoding: 'compressed_segmentation', gzip: true },
  { name: 'jpeg-u8', dtype: 'uint8', channels: 1, encoding: 'jpeg' },
  {
    name: 'sharded-murmur-gzip',
    dtype: 'uint64',
    channels: 1,
    encoding: 'compressed_segmentation',
    sharding: { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 1, hash: 'murmurhash3_x86_128', minishard_bits: 2, shard_bits: 1, minishard_index_encoding: 'gzip', data_encoding: 'gzip' },
  },
  {
    name: 'sharded-identity-raw',
    dtype: 'uint8',
    channels: 1,
    encoding: 'raw',
    sharding: { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 0, hash: 'identity', minishard_bits: 2, shard_bits: 2 },
  },
] as const;

describe('fuzzing the precomputed readers (seeded, bounded)', () => {
  for (const spec of FIXTURES) {
    it(`${spec.name}: mutated chunk/shard files give the right shape or FormatError`, async () => {
      const fx = await makeFixture(spec.name, spec as never);
      const r = rng(1234 + spec.name.length + SEED * 7919);
      const counts = { ok: 0, error: 0 };
      for (let iter = 0; iter < 60; iter++) {
        const file = pick(r, fx.files);
        const orig = await fs.readFile(file);
        // Focus some mutations on headers: cseg channel/block headers, shard index.
        const focus = spec.name.startsWith('sharded') ? 64 : spec.encoding === 'compressed_segmentation' ? 80 : undefined;
        await fs.writeFile(file, mutateBytes(r, orig, focus));
        counts[await expectShapeOrFormatError(fx.dir, fx.box, `${spec.name} iteration ${iter} (${path.basename(file)})`)]++;
        await fs.writeFile(file, orig);
      }
      if (process.env.WIRING_FUZZ_SEED) console.log(spec.name, counts);
      expect(counts.ok + counts.error).toBe(60);
      expect(counts.error).toBeGreaterThan(0);
    });
  }

  it('mutated info JSON gives the right shape or FormatError (opening and reading)', async () => {
    const fxs = await Promise.all([FIXTURES[0], FIXTURES[2], FIXTURES[5]].map((s) => makeFixture(`info-${s.name}`, s as never)));
    const r = rng(99 + SEED);
    const counts = { ok: 0, error: 0 };
    for (let iter = 0; iter < 150; iter++) {
      const fx = fxs[iter % fxs.length];
      const infoFile = path.join(fx.dir, 'info');
      const orig = await fs.readFile(infoFile, 'utf8');
      const mutated = r() < 0.15 ? new TextDecoder().decode(mutateBytes(r, Buffer.from(orig))) : JSON.stringify(mutateJson(r, JSON.parse(orig)));
      await fs.writeFile(infoFile, mutated);
      counts[await expectShapeOrFormatError(fx.dir, fx.box, `info iteration ${iter}: ${mutated.slice(0, 300)}`)]++;
      await fs.writeFile(infoFile, orig);
    }
    expect(counts.error).toBeGreaterThan(20);
    expect(counts.ok).toBeGreaterThan(0);
  });

  it('compressed_segmentation decoder: mutated headers and offsets never escape FormatError', () => {
    const r = rng(7 + SEED);
    const shape: Vec3 = [9, 7, 5];
    const data = labels64(9 * 7 * 5 * 2, 3, 12);
    const enc = encodeCompressedSegmentation(data, shape, 2, [4, 4, 2]);
    const headerBytes = 4 * (2 + 2 * 3 * 2 * 3);
    let errors = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const m = mutateBytes(r, enc, headerBytes);
      try {
        const out = decodeCompressedSegmentation(m, 'uint64', shape, 2, [4, 4, 2], 'fuzz');
        expect(out.length).toBe(data.length);
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(100);
  });
});
