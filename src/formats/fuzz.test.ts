// Seeded fuzzing of every reader: mutated headers/metadata, truncated or corrupted chunks and
// slices. Each case must either read or fail with a FormatError/UsageError naming the file -
// never another error type, never a hang (each case is raced against a 20 s timer; a normal case takes milliseconds).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { type Box, boxFromShape } from '../core/box.js';
import { WiringError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { exportVolume } from './export.js';
import { openHdf5 } from './hdf5.js';
import { encodeTiffStack } from './imagestack.js';
import { writeNpy } from './npy.js';
import { readSwc } from './swc.js';
import { openSource } from './open.js';
import { mulberry32 as rng } from '../core/random.js';
import { makeInfo } from './precomputed/index.js';

function mutate(bytes: Uint8Array, r: () => number, region = bytes.length): Uint8Array {
  const out = bytes.slice();
  const op = Math.floor(r() * 4);
  if (op === 0) return out.subarray(0, Math.floor(r() * out.length)); // truncate
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * Math.min(region, out.length));
    if (op === 1) out[at] ^= 1 << Math.floor(r() * 8); // bit flip
    else if (op === 2) out[at] = Math.floor(r() * 256); // random byte
    else out[at] = '0123456789(),: \'"{}[]<>|uifbcTrueFalse'.charCodeAt(Math.floor(r() * 38)); // plausible header chars
  }
  return out;
}

type Outcome = 'ok' | 'error';

/** Open `spec` and read a small box; only WiringErrors naming `name` are allowed. */
async function probe(spec: string, name: string, timeoutMs = 20_000, read?: () => Promise<unknown>): Promise<Outcome> {
  const work = (async (): Promise<Outcome> => {
    try {
      if (read) {
        await read();
        return 'ok';
      }
      const s = await openSource(spec);
      const b: Box = boxFromShape([Math.min(s.shape[0], 16), Math.min(s.shape[1], 16), Math.min(s.shape[2], 4)], s.offset);
      await s.read(b);
      await s.close();
      return 'ok';
    } catch (e) {
      if (!(e instanceof WiringError)) throw new Error(`${spec}: non-Wiring error ${(e as Error)?.name}: ${(e as Error)?.message}`);
      if (!e.message.includes(name)) throw new Error(`${spec}: error does not name ${name}: ${e.message}`);
      return 'error';
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${spec}: hang (no answer within ${timeoutMs / 1000} s)`)), timeoutMs);
  });
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

const ramp = (n: number) => new Uint16Array(n).map((_, i) => (i * 131) % 65536);

describe('fuzz (seeded)', () => {
  it('NPY: mutated headers and truncated data', async () => {
    const dir = await tempDir();
    const good = path.join(dir, 'good.npy');
    await writeNpy(good, Volume.from('uint16', [8, 6, 4], ramp(192)));
    const bytes = new Uint8Array(await fs.readFile(good));
    const r = rng(1);
    const counts = { ok: 0, error: 0 };
    for (let i = 0; i < 150; i++) {
      const f = path.join(dir, `m${i}.npy`);
      await fs.writeFile(f, mutate(bytes, r, 128));
      counts[await probe(f, `m${i}.npy`)]++;
    }
    expect(counts.error).toBeGreaterThan(30);
  });

  it('Zarr: mutated .zarray / zarr.json metadata and truncated or corrupted chunks', async () => {
    const dir = await tempDir();
    const vol = Volume.from('uint16', [8, 6, 4], ramp(192));
    const src = await openSource(await (async () => {
      const f = path.join(dir, 'v.npy');
      await writeNpy(f, vol);
      return f;
    })());
    const r = rng(2);
    const counts = { ok: 0, error: 0 };
    for (const fmt of [2, 3] as const) {
      const base = path.join(dir, `base${fmt}.zarr`);
      await exportVolume(src, base, { zarrFormat: fmt, chunkSize: [4, 3, 2] });
      const metaRel = fmt === 2 ? path.join('0', '.zarray') : path.join('0', 'zarr.json');
      const meta = new Uint8Array(await fs.readFile(path.join(base, metaRel)));
      const chunkRel = fmt === 2 ? path.join('0', '0', '0', '0') : path.join('0', 'c', '0', '0', '0');
      const chunk = new Uint8Array(await fs.readFile(path.join(base, chunkRel)));
      for (let i = 0; i < 40; i++) {
        const name = `z${fmt}-${i}.zarr`;
        const d = path.join(dir, name);
        await fs.cp(base, d, { recursive: true });
        if (i % 2 === 0) await fs.writeFile(path.join(d, metaRel), mutate(meta, r));
        else await fs.writeFile(path.join(d, chunkRel), mutate(chunk, r));
        counts[await probe(d, name)]++;
      }
      // a chunk that is valid gzip but the wrong size
      const d = path.join(dir, `short${fmt}.zarr`);
      await fs.cp(base, d, { recursive: true });
      await fs.writeFile(path.join(d, chunkRel), gzipSync(new Uint8Array(10)));
      expect(await probe(d, `short${fmt}.zarr`)).toBe('error');
    }
    expect(counts.error).toBeGreaterThan(20);
  });

  it('PNG stack: a corrupted or truncated slice is named', async () => {
    const dir = await tempDir();
    const r = rng(3);
    const img = await sharp(new Uint8Array(64 * 48).map((_, i) => i % 251), { raw: { width: 64, height: 48, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    let errors = 0;
    for (let i = 0; i < 25; i++) {
      const d = path.join(dir, `stack${i}`);
      await fs.mkdir(d);
      for (let z = 0; z < 3; z++) await fs.writeFile(path.join(d, `s${z}.png`), z === 1 ? mutate(new Uint8Array(img), r) : img);
      const out = await probe(d, 's1.png').catch((e) => {
        throw e;
      });
      if (out === 'error') errors++;
    }
    expect(errors).toBeGreaterThan(5);
  });

  it('PNG stack: mutated chunk bodies with their CRCs recomputed reach the decoder (png.ts)', async () => {
    const dir = await tempDir();
    const r = rng(31);
    const px = new Uint8Array(40 * 24 * 3).map((_, i) => (i * 7) % 256);
    const img = new Uint8Array(await sharp(px, { raw: { width: 40, height: 24, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer());
    /** Recompute every chunk's CRC so only the mutated bytes themselves are wrong. */
    const fixCrcs = (b: Uint8Array): Uint8Array => {
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let p = 8; p + 12 <= b.length; ) {
        const len = dv.getUint32(p);
        if (p + 12 + len > b.length) break;
        dv.setUint32(p + 8 + len, crc32(b.subarray(p + 8, p + 8 + len), crc32(b.subarray(p + 4, p + 8))));
        p += 12 + len;
      }
      return b;
    };
    const counts = { ok: 0, error: 0 };
    for (let i = 0; i < 40; i++) {
      const d = path.join(dir, `crc${i}`);
      await fs.mkdir(d);
      const bad = mutate(img, r);
      for (let z = 0; z < 2; z++) await fs.writeFile(path.join(d, `s${z}.png`), z === 1 ? fixCrcs(bad.slice()) : img);
      counts[await probe(d, 's1.png')]++;
    }
    expect(counts.error).toBeGreaterThan(10);
  });

  it('multi-page TIFF: mutated IFDs (including loops) and truncation', async () => {
    const dir = await tempDir();
    const tif = encodeTiffStack(Volume.from('uint16', [8, 6, 4], ramp(192)));
    const r = rng(4);
    let errors = 0;
    for (let i = 0; i < 80; i++) {
      const f = path.join(dir, `t${i}.tif`);
      await fs.writeFile(f, mutate(tif, r));
      if ((await probe(f, `t${i}.tif`)) === 'error') errors++;
    }
    // an IFD chain that points back to itself
    const loop = tif.slice();
    const dv = new DataView(loop.buffer);
    const first = dv.getUint32(4, true);
    const n = dv.getUint16(first, true);
    dv.setUint32(first + 2 + n * 12, first, true);
    await fs.writeFile(path.join(dir, 'loop.tif'), loop);
    expect(await probe(path.join(dir, 'loop.tif'), 'loop.tif')).toBe('error');
    expect(errors).toBeGreaterThan(10);
  });

  it('HDF5: truncated and mutated files', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'g.h5');
    const src = await openSource(await (async () => {
      const n = path.join(dir, 'v.npy');
      await writeNpy(n, Volume.from('uint16', [8, 6, 4], ramp(192)));
      return n;
    })());
    await exportVolume(src, `${f}#d`, { chunkSize: [4, 3, 2] });
    const bytes = new Uint8Array(await fs.readFile(f));
    const r = rng(5);
    for (let i = 0; i < 12; i++) {
      const name = `h${i}.h5`;
      await fs.writeFile(path.join(dir, name), bytes.subarray(0, Math.floor(r() * bytes.length)));
      expect(await probe(`${path.join(dir, name)}#d`, name)).toBe('error');
    }
    // random byte mutations anywhere (metadata or gzip chunks): a WiringError or a read, never another error
    let errors = 0;
    for (let i = 0; i < 60; i++) {
      const name = `hm${i}.h5`;
      await fs.writeFile(path.join(dir, name), mutate(bytes, r));
      if ((await probe(`${path.join(dir, name)}#d`, name)) === 'error') errors++;
    }
    expect(errors).toBeGreaterThan(5);
    void openHdf5;
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile headers and chunks: every chunked reader (Zarr v2, Zarr v3 sharded, N5, precomputed,
// NPY) fed mutated metadata (huge, zero, negative, fractional, wrong-arity sizes; odd separators,
// dtypes and compressors; keys that leave the folder; deep nesting) and mutated chunks (gzip,
// zlib, blosc and zstd bombs; truncation; random bytes; folders). Each input is bounded in time
// (10 s) and memory (heap + array buffers may grow by at most 256 MiB while it is read); a clean
// WiringError naming the input or a read of the requested box passes, anything else fails.
// WIRING_FUZZ_SEED=n explores other inputs; the seed is printed.

const HOSTILE_SEED = Number(process.env.WIRING_FUZZ_SEED || 20261206); // unset or empty: the default
const MEMORY_BOUND = 256 * 1024 * 1024;
const totals = { inputs: 0, errors: 0, reads: 0 };
const perReader: Record<string, { inputs: number; errors: number; reads: number }> = {};

/** Open, read a small box (memory- and time-bounded); count the outcome under `reader`. */
async function hostileProbe(reader: string, spec: string, name: string, read?: () => Promise<unknown>): Promise<void> {
  const mem = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const before = mem();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, mem())), 5);
  try {
    const outcome = await probe(spec, name, 10_000, read);
    peak = Math.max(peak, mem());
    if (peak - before > MEMORY_BOUND) throw new Error(`${spec}: memory grew by ${((peak - before) / 2 ** 20).toFixed(0)} MiB reading a 16x16x4 box`);
    const r = (perReader[reader] ??= { inputs: 0, errors: 0, reads: 0 });
    r.inputs++;
    totals.inputs++;
    if (outcome === 'ok') {
      r.reads++;
      totals.reads++;
    } else {
      r.errors++;
      totals.errors++;
    }
  } finally {
    clearInterval(sampler);
  }
}

const HUGE_SHAPES = [[2 ** 12, 2 ** 14, 2 ** 14], [2 ** 40, 1, 1], [2 ** 53, 2, 2], [0, 0, 0], [-1, 6, 8], [4, 6], [4, 6, 8, 1, 1, 1], [1.5, 6, 8], 'x', null, []];
const BAD_CHUNKS = [[0, 3, 4], [-2, 3, 4], [1.5, 3, 4], [2, 3], [2 ** 31, 2 ** 31, 2 ** 31], [], [1, 1, 1], null, '2,3,4'];
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** 4 MiB of zeros, compressed: bombs for a 2x3x4 uint16 chunk (48 bytes; the cap is 48 bytes + 64 KiB). */
let bombCache: Promise<Record<string, Uint8Array>> | undefined;
function bombs(): Promise<Record<string, Uint8Array>> {
  return (bombCache ??= makeBombs());
}
async function makeBombs(): Promise<Record<string, Uint8Array>> {
  const big = new Uint8Array(4 * 1024 * 1024);
  const out: Record<string, Uint8Array> = { gzip: gzipSync(big), zlib: deflateSync(big) };
  for (const id of ['blosc', 'zstd']) {
    const { default: C } = (await import(`numcodecs/${id}`)) as { default: { fromConfig(c: unknown): { encode(b: Uint8Array): Promise<Uint8Array> } } };
    out[id] = await C.fromConfig(id === 'blosc' ? { id, cname: 'lz4', clevel: 5, shuffle: 1 } : { id, level: 1 }).encode(big);
  }
  return out;
}

describe(`fuzz: hostile headers and chunks (seed ${HOSTILE_SEED})`, () => {
  afterAll(() => {
    // the totals docs/ROBUSTNESS.md reports
    console.log(`hostile fuzz seed ${HOSTILE_SEED}: ${JSON.stringify(totals)} ${JSON.stringify(perReader)}`);
  });

  it('Zarr v2: mutated .zarray fields and bomb / broken chunks', async () => {
    console.log(`hostile fuzz seed ${HOSTILE_SEED}`);
    const r = rng(HOSTILE_SEED);
    const dir = await tempDir();
    const b = await bombs();
    const chunk = new Uint8Array(new Uint16Array(24).map((_, i) => i).buffer);
    const good = { zarr_format: 2, shape: [4, 6, 8], chunks: [2, 3, 4], dtype: '<u2', compressor: { id: 'gzip', level: 1 }, fill_value: 0, filters: null, order: 'C' };
    const fields: Record<string, unknown[]> = {
      shape: HUGE_SHAPES,
      chunks: BAD_CHUNKS,
      dimension_separator: ['|', '/', '', null, 7],
      dtype: ['<u8', '>u2', '|b1', '<f8', 'x', '<U4', '|O', null],
      compressor: [{ id: 'gzip' }, { id: 'zlib' }, { id: 'blosc' }, { id: 'zstd' }, { id: 'nope' }, null, 'gzip'],
      fill_value: ['NaN', null, 'x', 1e300],
      order: ['F', 'x'],
      filters: [[{ id: 'delta', dtype: '<u2' }], [{ id: 'nope' }], 'x'],
    };
    for (let i = 0; i < 90; i++) {
      const name = `h2-${i}.zarr`;
      const d = path.join(dir, name);
      await fs.mkdir(d);
      const meta: Record<string, unknown> = { ...good };
      const nmut = 1 + Math.floor(r() * 2);
      for (let k = 0; k < nmut; k++) {
        const f = pick(r, Object.keys(fields));
        meta[f] = pick(r, fields[f]);
      }
      if (i % 3 === 2) delete meta[pick(r, Object.keys(good))];
      await fs.writeFile(path.join(d, '.zarray'), JSON.stringify(meta));
      const sep = meta.dimension_separator === '/' ? '/' : '.';
      const key = ['0', '0', '0'].join(sep);
      await fs.mkdir(path.dirname(path.join(d, key)), { recursive: true });
      const kind = pick(r, ['good', 'gzip', 'zlib', 'blosc', 'zstd', 'truncated', 'random', 'folder', 'empty']);
      const c = meta.compressor as { id?: string } | null;
      const encode = (bytes: Uint8Array) => (c?.id === 'zlib' ? deflateSync(bytes) : c?.id === 'gzip' ? gzipSync(bytes) : bytes);
      if (kind === 'good') await fs.writeFile(path.join(d, key), encode(chunk));
      else if (kind === 'truncated') await fs.writeFile(path.join(d, key), encode(chunk).subarray(0, 7));
      else if (kind === 'random') await fs.writeFile(path.join(d, key), Uint8Array.from({ length: 40 }, () => Math.floor(r() * 256)));
      else if (kind === 'folder') await fs.mkdir(path.join(d, key));
      else if (kind === 'empty') await fs.writeFile(path.join(d, key), new Uint8Array(0));
      else await fs.writeFile(path.join(d, key), b[kind]);
      if (i % 10 === 9) await fs.writeFile(path.join(d, '.zattrs'), '{"a":' + '['.repeat(5000) + ']'.repeat(5000) + '}');
      await hostileProbe('zarr-v2', d, name);
    }
    expect(perReader['zarr-v2'].errors).toBeGreaterThan(30);
    expect(perReader['zarr-v2'].reads).toBeGreaterThan(0);
  });

  it('Zarr v3 (sharded and not): mutated zarr.json and bomb / out-of-range shards', async () => {
    const r = rng(HOSTILE_SEED + 1);
    const dir = await tempDir();
    const b = await bombs();
    const inner = new Uint8Array(new Uint16Array(24).map((_, i) => i).buffer);
    for (let i = 0; i < 60; i++) {
      const name = `h3-${i}.zarr`;
      const d = path.join(dir, name);
      await fs.mkdir(d);
      const sharded = r() < 0.6;
      const meta: Record<string, unknown> = {
        zarr_format: 3, node_type: 'array', shape: [4, 6, 8], data_type: 'uint16', fill_value: 0,
        chunk_grid: { name: 'regular', configuration: { chunk_shape: [2, 3, 4] } },
        chunk_key_encoding: { name: 'default', configuration: { separator: '/' } },
        codecs: sharded
          ? [{ name: 'sharding_indexed', configuration: { chunk_shape: [2, 3, 4], codecs: [{ name: 'bytes', configuration: { endian: 'little' } }, { name: 'gzip', configuration: { level: 1 } }], index_codecs: [{ name: 'bytes', configuration: { endian: 'little' } }], index_location: 'end' } }]
          : [{ name: 'bytes', configuration: { endian: 'little' } }, { name: 'gzip', configuration: { level: 1 } }],
      };
      const m = pick(r, ['shape', 'chunk', 'sep', 'inner', 'codec', 'none', 'none']);
      if (m === 'shape') meta.shape = pick(r, HUGE_SHAPES);
      if (m === 'chunk') meta.chunk_grid = { name: 'regular', configuration: { chunk_shape: pick(r, BAD_CHUNKS) } };
      if (m === 'sep') meta.chunk_key_encoding = { name: pick(r, ['default', 'v2', 'x']), configuration: { separator: pick(r, ['.', '/', ':', '']) } };
      if (m === 'inner' && sharded) (meta.codecs as Array<{ configuration: Record<string, unknown> }>)[0].configuration.chunk_shape = pick(r, BAD_CHUNKS);
      if (m === 'codec') (meta.codecs as unknown[]).push({ name: pick(r, ['zstd', 'blosc', 'nope', 'crc32c']) });
      await fs.writeFile(path.join(d, 'zarr.json'), JSON.stringify(meta));
      const body = pick(r, ['good', 'gzip', 'random', 'range', 'short']);
      const payload = body === 'gzip' ? b.gzip : body === 'random' ? Uint8Array.from({ length: 30 }, () => Math.floor(r() * 256)) : gzipSync(inner);
      let file: Uint8Array = payload;
      if (sharded) {
        file = new Uint8Array(payload.length + 16);
        file.set(payload);
        const dv = new DataView(file.buffer);
        dv.setBigUint64(payload.length, body === 'range' ? BigInt(Math.floor(r() * 2 ** 40)) : 0n, true);
        dv.setBigUint64(payload.length + 8, body === 'range' ? 2n ** BigInt(20 + Math.floor(r() * 40)) : BigInt(payload.length), true);
      }
      if (body === 'short') file = file.subarray(0, 5);
      await fs.mkdir(path.join(d, 'c', '0', '0'), { recursive: true });
      await fs.writeFile(path.join(d, 'c', '0', '0', '0'), file);
      await hostileProbe('zarr-v3', d, name);
    }
    expect(perReader['zarr-v3'].errors).toBeGreaterThan(15);
    expect(perReader['zarr-v3'].reads).toBeGreaterThan(0);
  });

  it('N5: mutated attributes.json and bomb / inconsistent blocks', async () => {
    const r = rng(HOSTILE_SEED + 2);
    const dir = await tempDir();
    const b = await bombs();
    const raw = new Uint8Array(48);
    for (let i = 0; i < 50; i++) {
      const name = `n${i}.n5`;
      const d = path.join(dir, name);
      await fs.mkdir(path.join(d, '0', '0'), { recursive: true });
      const comp = pick(r, ['raw', 'gzip', 'zlib', 'blosc', 'zstd', 'xz']);
      const attrs: Record<string, unknown> = { dimensions: [8, 6, 4], blockSize: [4, 3, 2], dataType: 'uint16', compression: { type: comp } };
      const m = pick(r, ['dimensions', 'blockSize', 'dataType', 'none', 'none']);
      if (m === 'dimensions') attrs.dimensions = pick(r, HUGE_SHAPES);
      if (m === 'blockSize') attrs.blockSize = pick(r, BAD_CHUNKS);
      if (m === 'dataType') attrs.dataType = pick(r, ['uint128', 'object', null, 'float64']);
      await fs.writeFile(path.join(d, 'attributes.json'), JSON.stringify(attrs));
      const head = new Uint8Array(16);
      const dv = new DataView(head.buffer);
      dv.setUint16(0, r() < 0.9 ? 0 : 1);
      dv.setUint16(2, r() < 0.9 ? 3 : 2);
      const dims = r() < 0.8 ? [4, 3, 2] : [pick(r, [0, 5, 2 ** 20]), 3, 2];
      dims.forEach((v, k) => dv.setUint32(4 + 4 * k, v));
      const enc = comp === 'gzip' ? gzipSync(raw) : comp === 'zlib' ? deflateSync(raw) : raw;
      const body = r() < 0.5 && b[comp] ? b[comp] : r() < 0.2 ? enc.subarray(0, 3) : enc;
      await fs.writeFile(path.join(d, '0', '0', '0'), Buffer.concat([head, body]));
      await hostileProbe('n5', d, name);
    }
    expect(perReader.n5.errors).toBeGreaterThan(15);
  });

  it('precomputed: mutated info (sizes, chunk sizes, keys) and bomb / broken chunks', async () => {
    const r = rng(HOSTILE_SEED + 3);
    const dir = await tempDir();
    const b = await bombs();
    const info = makeInfo({ type: 'image', dtype: 'uint16', shape: [8, 6, 4], voxelSize: [4, 4, 40], chunkSize: [8, 6, 4] });
    for (let i = 0; i < 60; i++) {
      const name = `p${i}`;
      const d = path.join(dir, name);
      const chunkFile = path.join(d, info.scales[0].key, '0-8_0-6_0-4');
      await fs.mkdir(path.dirname(chunkFile), { recursive: true });
      const body = pick(r, ['good', 'bomb', 'truncated', 'random', 'folder']);
      const good = new Uint8Array(8 * 6 * 4 * 2);
      if (body === 'good') await fs.writeFile(chunkFile, r() < 0.5 ? gzipSync(good) : good);
      else if (body === 'bomb') await fs.writeFile(chunkFile, b.gzip);
      else if (body === 'truncated') await fs.writeFile(chunkFile, gzipSync(good).subarray(0, 10));
      else if (body === 'random') await fs.writeFile(chunkFile, Uint8Array.from({ length: 50 }, () => Math.floor(r() * 256)));
      else await fs.mkdir(chunkFile);
      const scale: Record<string, unknown> = { ...info.scales[0] };
      const m = pick(r, ['size', 'chunk', 'key', 'encoding', 'offset', 'none', 'none']);
      if (m === 'size') scale.size = pick(r, [[2 ** 14, 2 ** 14, 2 ** 12], [2 ** 40, 1, 1], [0, 6, 4], [-8, 6, 4], [8, 6], 'x']);
      if (m === 'chunk') scale.chunk_sizes = pick(r, [[[0, 6, 4]], [[2 ** 20, 2 ** 20, 2 ** 20]], [], [[8, 6]], [[1.5, 6, 4]]]);
      if (m === 'key') scale.key = pick(r, ['../../escaped', '/etc', '..', 'a\\..\\b', '%2e%2e', '', 7]);
      if (m === 'encoding') scale.encoding = pick(r, ['jpeg', 'png', 'compressed_segmentation', 'nope']);
      if (m === 'offset') scale.voxel_offset = pick(r, [[2 ** 60, 0, 0], [-5, 0, 0], [0.5, 0, 0]]);
      await fs.writeFile(path.join(d, 'info'), JSON.stringify({ ...info, scales: [scale] }));
      await hostileProbe('precomputed', d, name);
    }
    await expect(fs.access(path.join(dir, '..', 'escaped'))).rejects.toThrow();
    expect(perReader.precomputed.errors).toBeGreaterThan(15);
  });

  it('NPY: headers that declare huge or invalid shapes', async () => {
    const r = rng(HOSTILE_SEED + 4);
    const dir = await tempDir();
    for (let i = 0; i < 40; i++) {
      const name = `big${i}.npy`;
      const shape = pick(r, ['(1099511627776,)', '(4096, 16384, 16384)', '(9007199254740993, 2, 2)', '(-1, 6, 8)', '(4, 6, 8)', '()', '(0, 0, 0)', '(4, 6, 8, 2, 2)']);
      const dtype = pick(r, ['<u2', '|u1', '<f8', '>u8', '<c8', '|O']);
      let header = `{'descr': '${dtype}', 'fortran_order': ${r() < 0.8 ? 'False' : 'True'}, 'shape': ${shape}, }`;
      header = header.padEnd(118, ' ') + '\n';
      const bytes = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0, header.length & 0xff, header.length >> 8]), Buffer.from(header, 'latin1'), Buffer.alloc(Math.floor(r() * 400))]);
      await fs.writeFile(path.join(dir, name), bytes);
      await hostileProbe('npy', path.join(dir, name), name);
    }
    expect(perReader.npy.errors).toBeGreaterThan(15);
  });

  it('SWC: mutated node lines (ids past 2^64, fields, parents), long lines, gzip bombs and truncated gzip, streamed', async () => {
    const r = rng(HOSTILE_SEED + 5);
    const dir = await tempDir();
    const b = await bombs();
    const good = ['# fuzz', '1 1 0 0 0 2 -1', '18446744073709551615 3 1 0 0 1 1', '9007199254740993 3 2 0 0 1 18446744073709551615', '9007199254740992 3 3 0 0 1 9007199254740993'];
    const mutate: Array<(lines: string[]) => string[] | Buffer> = [
      (l) => l,
      (l) => [...l, '18446744073709551616 3 0 0 0 1 1'],
      (l) => [...l, '-3 3 0 0 0 1 1'],
      (l) => [...l, '5 3 x 0 0 1 1'],
      (l) => [...l, '5 3 0 0 0 1'],
      (l) => [...l, '5 3 0 0 0 1 77'],
      (l) => [...l, '9007199254740993 3 0 0 0 1 1'],
      (l) => [...l, '5 3 1e400 0 0 1 1'],
      (l) => [...l, `${'9'.repeat(2_000_000)} 3 0 0 0 1 1`],
      (l) => ['\uFEFF' + l[0], ...l.slice(1)].map((x) => x + '\r'),
      (l) => l.map((x) => x.replace(/ /g, ',')),
      () => Buffer.from(b.gzip),
      (l) => gzipSync(l.join('\n')).subarray(0, 20),
      (l) => gzipSync(l.join('\n')),
      () => Buffer.from([0x1f, 0x8b, 1, 2, 3]),
      () => [],
    ];
    for (let i = 0; i < 50; i++) {
      const name = `s${i}.swc`;
      const f = path.join(dir, name);
      const m = pick(r, mutate);
      const lines = [...good].sort(() => r() - 0.5);
      const out = m(lines);
      if (r() < 0.04) await fs.mkdir(f);
      else await fs.writeFile(f, Buffer.isBuffer(out) ? out : out.join('\n') + '\n');
      await hostileProbe('swc', f, name, () => readSwc(f));
    }
    expect(perReader.swc.errors).toBeGreaterThan(10);
    expect(perReader.swc.reads).toBeGreaterThan(5);
  });
});
