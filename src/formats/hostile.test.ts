// Hostile inputs: decompression bombs in every chunked format, headers that declare petavoxels,
// invalid chunk metadata, deeply nested JSON, scale keys that leave the layer folder. Each must be
// a FormatError/UsageError naming the file (and field), with memory bounded by the chunks read.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { box } from '../core/box.js';
import { FormatError, UsageError, WiringError } from '../core/errors.js';
import { openSource } from './open.js';
import { PrecomputedLayer, makeInfo } from './precomputed/index.js';

const MB = 1024 * 1024;

/** Run `f` and return the error it throws (fails the test when it does not throw). */
async function errorOf(f: () => Promise<unknown>): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, got none');
}

/** Open `spec` and read box [0,0,0]-[n,n,n]; returns the error. */
async function readError(spec: string, n = 8): Promise<Error> {
  return errorOf(async () => {
    const s = await openSource(spec);
    await s.read(box([0, 0, 0], [n, n, n]));
  });
}

async function writeV2(dir: string, meta: Record<string, unknown>, chunks: Record<string, Uint8Array> = {}): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, '.zarray'), JSON.stringify({ zarr_format: 2, shape: [8, 8, 8], chunks: [8, 8, 8], dtype: '|u1', compressor: null, fill_value: 0, filters: null, order: 'C', ...meta }));
  for (const [k, v] of Object.entries(chunks)) await fs.writeFile(path.join(dir, k), v);
}

async function writeV3(dir: string, meta: Record<string, unknown>, files: Record<string, Uint8Array> = {}): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    path.join(dir, 'zarr.json'),
    JSON.stringify({
      zarr_format: 3, node_type: 'array', shape: [8, 8, 8], data_type: 'uint8', fill_value: 0,
      chunk_grid: { name: 'regular', configuration: { chunk_shape: [8, 8, 8] } },
      chunk_key_encoding: { name: 'default', configuration: { separator: '/' } },
      codecs: [{ name: 'bytes', configuration: { endian: 'little' } }],
      ...meta,
    }),
  );
  for (const [k, v] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, k)), { recursive: true });
    await fs.writeFile(path.join(dir, k), v);
  }
}

/** A chunk of 512 voxels that decompresses to 16 MB. */
const bombBytes = () => new Uint8Array(16 * MB);

describe('decompression bombs are errors naming the chunk file, never GBs of memory', () => {
  it('Zarr v2: gzip, zlib, blosc, zstd', async () => {
    const root = await tempDir();
    const cases: Array<[string, Record<string, unknown>, Uint8Array]> = [
      ['gzip', { id: 'gzip', level: 1 }, gzipSync(bombBytes())],
      ['zlib', { id: 'zlib', level: 1 }, deflateSync(bombBytes())],
    ];
    for (const id of ['blosc', 'zstd']) {
      const { default: C } = (await import(`numcodecs/${id}`)) as { default: { fromConfig(c: unknown): { encode(b: Uint8Array): Promise<Uint8Array> } } };
      const cfg = id === 'blosc' ? { id, cname: 'lz4', clevel: 5, shuffle: 1, blocksize: 0 } : { id, level: 1 };
      cases.push([id, cfg, await C.fromConfig(cfg).encode(bombBytes())]);
    }
    for (const [id, compressor, chunk] of cases) {
      const dir = path.join(root, `${id}.zarr`);
      await writeV2(dir, { compressor }, { '0.0.0': chunk });
      const rss0 = process.memoryUsage().arrayBuffers;
      const e = await readError(dir);
      expect(e, id).toBeInstanceOf(FormatError);
      expect(e.message, id).toContain(path.join(dir, '0.0.0'));
      expect(e.message, id).toMatch(/decompresses to|more than/);
      // the 16 MB output was never made (the cap is the chunk's 512 bytes + 64 KiB)
      expect(process.memoryUsage().arrayBuffers - rss0, id).toBeLessThan(8 * MB);
    }
    // the same chunks, with the right decoded size, read correctly
    const ok = path.join(root, 'ok.zarr');
    await writeV2(ok, { compressor: { id: 'gzip', level: 1 } }, { '0.0.0': gzipSync(new Uint8Array(512).fill(7)) });
    const v = await (await openSource(ok)).read(box([0, 0, 0], [8, 8, 8]));
    expect(v.data.every((x) => x === 7)).toBe(true);
  });

  it('Zarr v3 sharded: a bomb inner chunk and a shard index pointing past the file', async () => {
    const root = await tempDir();
    const shardCodec = {
      name: 'sharding_indexed',
      configuration: {
        chunk_shape: [8, 8, 8],
        codecs: [{ name: 'bytes', configuration: { endian: 'little' } }, { name: 'gzip', configuration: { level: 1 } }],
        index_codecs: [{ name: 'bytes', configuration: { endian: 'little' } }],
        index_location: 'end',
      },
    };
    const shard = (inner: Uint8Array, offset: bigint, length: bigint) => {
      const out = new Uint8Array(inner.length + 16);
      out.set(inner);
      const dv = new DataView(out.buffer);
      dv.setBigUint64(inner.length, offset, true);
      dv.setBigUint64(inner.length + 8, length, true);
      return out;
    };
    const bomb = gzipSync(bombBytes());
    const a = path.join(root, 'bomb.zarr');
    await writeV3(a, { codecs: [shardCodec] }, { 'c/0/0/0': shard(bomb, 0n, BigInt(bomb.length)) });
    let e = await readError(a);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(path.join(a, 'c', '0', '0', '0'));
    expect(e.message).toMatch(/more than/);
    const b = path.join(root, 'range.zarr');
    await writeV3(b, { codecs: [shardCodec] }, { 'c/0/0/0': shard(new Uint8Array(10), 0n, 2n ** 40n) });
    e = await readError(b);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(path.join(b, 'c', '0', '0', '0'));
    expect(e.message).toMatch(/outside the \d+-byte shard file/);
    const good = gzipSync(new Uint8Array(512).fill(3));
    const c = path.join(root, 'good.zarr');
    await writeV3(c, { codecs: [shardCodec] }, { 'c/0/0/0': shard(good, 0n, BigInt(good.length)) });
    expect((await (await openSource(c)).read(box([0, 0, 0], [8, 8, 8]))).data.every((x) => x === 3)).toBe(true);
  });

  it('N5 gzip block and precomputed gzip chunk', async () => {
    const root = await tempDir();
    const n5 = path.join(root, 'a.n5');
    await fs.mkdir(path.join(n5, '0', '0'), { recursive: true });
    await fs.writeFile(path.join(n5, 'attributes.json'), JSON.stringify({ dimensions: [8, 8, 8], blockSize: [8, 8, 8], dataType: 'uint8', compression: { type: 'gzip' } }));
    const head = new Uint8Array(16);
    const dv = new DataView(head.buffer);
    dv.setUint16(0, 0);
    dv.setUint16(2, 3);
    for (let i = 0; i < 3; i++) dv.setUint32(4 + 4 * i, 8);
    const block = path.join(n5, '0', '0', '0');
    await fs.writeFile(block, Buffer.concat([head, gzipSync(bombBytes())]));
    let e = await readError(n5);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(block);

    const layerDir = path.join(root, 'layer');
    const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'image', dtype: 'uint8', shape: [8, 8, 8], voxelSize: [1, 1, 1], chunkSize: [8, 8, 8] }));
    const chunk = layer.chunkPath(box([0, 0, 0], [8, 8, 8]));
    await fs.mkdir(path.dirname(chunk), { recursive: true });
    await fs.writeFile(chunk, gzipSync(bombBytes()));
    e = await readError(layerDir);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(chunk);
    expect(e.message).toMatch(/gzip chunk decompresses to more than the 513 bytes/);
  });

  it('PNG slices: an IDAT bomb and a header declaring 2^30 x 2^30 pixels (the direct decoder, png.ts)', async () => {
    const root = await tempDir();
    const chunk = (type: string, body: Uint8Array): Buffer => {
      const head = Buffer.alloc(8);
      head.writeUInt32BE(body.length, 0);
      head.write(type, 4, 'latin1');
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body, crc32(head.subarray(4))), 0);
      return Buffer.concat([head, body, crc]);
    };
    const png = (w: number, h: number, idat: Uint8Array): Buffer => {
      const ih = Buffer.alloc(13);
      ih.writeUInt32BE(w, 0);
      ih.writeUInt32BE(h, 4);
      ih[8] = 8; // 8-bit greyscale
      return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ih), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
    };
    const bomb = path.join(root, 'bomb');
    await fs.mkdir(bomb);
    await fs.writeFile(path.join(bomb, 's0.png'), png(8, 8, deflateSync(new Uint8Array(72))));
    await fs.writeFile(path.join(bomb, 's1.png'), png(8, 8, deflateSync(bombBytes())));
    let e = await errorOf(async () => (await openSource(bomb)).read(box([0, 0, 0], [8, 8, 2])));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(path.join(bomb, 's1.png'));
    expect(e.message).toMatch(/IDAT inflates to more than the 72 bytes/);
    const huge = path.join(root, 'huge');
    await fs.mkdir(huge);
    await fs.writeFile(path.join(huge, 's0.png'), png(2 ** 30, 2 ** 30, deflateSync(new Uint8Array(4096))));
    const s = await openSource(huge);
    expect(s.shape).toEqual([2 ** 30, 2 ** 30, 1]);
    e = await errorOf(() => s.read(box([0, 0, 0], [8, 8, 1])));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(path.join(huge, 's0.png'));
    expect(e.message).toMatch(/IDAT inflates to 4096 bytes/);
  });
});

describe('memory follows the chunks read, never the declared size', () => {
  it('a Zarr/N5/precomputed size of 2^40 voxels: opening and a small box work, a full read is a clear error', async () => {
    const root = await tempDir();
    const huge = [2 ** 12, 2 ** 14, 2 ** 14]; // z, y, x: 2^40 voxels
    const z = path.join(root, 'huge.zarr');
    await writeV2(z, { shape: huge, chunks: [64, 64, 64], compressor: { id: 'gzip', level: 1 } }, { '0.0.0': gzipSync(new Uint8Array(64 ** 3).fill(9)) });
    const n5 = path.join(root, 'huge.n5');
    await fs.mkdir(n5, { recursive: true });
    await fs.writeFile(path.join(n5, 'attributes.json'), JSON.stringify({ dimensions: huge.slice().reverse(), blockSize: [64, 64, 64], dataType: 'uint8', compression: { type: 'raw' } }));
    const pc = path.join(root, 'huge-layer');
    await PrecomputedLayer.create(pc, makeInfo({ type: 'image', dtype: 'uint8', shape: [2 ** 14, 2 ** 14, 2 ** 12], voxelSize: [4, 4, 40], chunkSize: [64, 64, 64] }));
    for (const spec of [z, n5, pc]) {
      const before = process.memoryUsage().arrayBuffers;
      const s = await openSource(spec);
      expect(s.shape).toEqual([2 ** 14, 2 ** 14, 2 ** 12]);
      const v = await s.read(box([60, 60, 60], [70, 70, 70]));
      expect(v.data.length).toBe(1000);
      if (spec === z) expect(v.get(63, 63, 63)).toBe(9);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * MB);
      const e = await errorOf(() => s.read(box([0, 0, 0], [2 ** 14, 2 ** 14, 2 ** 12])));
      expect(e, spec).toBeInstanceOf(UsageError);
      expect(e.message).toContain(spec);
      expect(e.message).toMatch(/read box .* needs \d+ bytes.*read it in blocks/);
    }
  });
});

describe('invalid metadata is refused, not read as zeros', () => {
  it('Zarr v2 chunks 0 / negative / fractional / wrong arity; no shape; odd separator; .zarray a folder', async () => {
    const root = await tempDir();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ chunks: [0, 8, 8] }, /'chunks'.*positive integers/],
      [{ chunks: [-1, 8, 8] }, /'chunks'/],
      [{ chunks: [1.5, 8, 8] }, /'chunks'/],
      [{ chunks: [8, 8] }, /'chunks': 2 values for a 3-dimensional 'shape'/],
      [{ shape: undefined }, /'shape'/],
      [{ shape: [8, -8, 8] }, /'shape'/],
      [{ dimension_separator: '|' }, /'dimension_separator'/],
      [{ shape: [2 ** 14, 2 ** 14, 2 ** 12], chunks: [2 ** 14, 2 ** 14, 2 ** 12] }, /'chunks': a chunk of .* more than 2147483647/],
      [{ compressor: 'gzip' }, /'compressor\[0\]': codec .* is not supported/],
      [{ filters: [{ id: 'nope' }, { id: 'nope2' }] }, /'filters\[0\]'/],
    ];
    for (const [i, [meta, want]] of cases.entries()) {
      const dir = path.join(root, `m${i}.zarr`);
      await writeV2(dir, meta, { '0.0.0': new Uint8Array(512) });
      const e = await readError(dir);
      expect(e, JSON.stringify(meta)).toBeInstanceOf(FormatError);
      expect(e.message).toContain(path.join(dir, '.zarray'));
      expect(e.message).toMatch(want);
    }
    const dir = path.join(root, 'folder.zarr');
    await fs.mkdir(path.join(dir, '.zarray'), { recursive: true });
    const e = await readError(dir);
    expect(e).toBeInstanceOf(WiringError);
    expect(e.message).toContain('.zarray');
  });

  it('header values are checked before anything (makeInfo, the scheduler) uses them', async () => {
    const root = await tempDir();
    const z = path.join(root, 'empty.zarr');
    await writeV2(z, { shape: [0, 8, 8] });
    const n5 = path.join(root, 'empty.n5');
    await fs.mkdir(n5);
    await fs.writeFile(path.join(n5, 'attributes.json'), JSON.stringify({ dimensions: [8, 0, 8], blockSize: [8, 8, 8], dataType: 'uint8' }));
    for (const spec of [z, n5]) {
      const e = await errorOf(() => openSource(spec));
      expect(e, spec).toBeInstanceOf(FormatError);
      expect(e.message).toContain(spec);
      expect(e.message).toMatch(/shape: expected three positive integers/);
    }
  });

  it('Zarr v3 chunk_shape 0, wrong arity, unknown separator, sharding chunk shape that does not divide', async () => {
    const root = await tempDir();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ chunk_grid: { name: 'regular', configuration: { chunk_shape: [0, 8, 8] } } }, /chunk_shape/],
      [{ chunk_grid: { name: 'regular', configuration: { chunk_shape: [8, 8] } } }, /chunk_shape': 2 values/],
      [{ chunk_key_encoding: { name: 'default', configuration: { separator: ':' } } }, /separator/],
      [{ codecs: [{ name: 'sharding_indexed', configuration: { chunk_shape: [3, 8, 8], codecs: [], index_codecs: [] } }] }, /sharding_indexed/],
    ];
    for (const [i, [meta, want]] of cases.entries()) {
      const dir = path.join(root, `v${i}.zarr`);
      await writeV3(dir, meta);
      const e = await readError(dir);
      expect(e, JSON.stringify(meta)).toBeInstanceOf(FormatError);
      expect(e.message).toContain(path.join(dir, 'zarr.json'));
      expect(e.message).toMatch(want);
    }
  });

  it('deeply nested JSON in info, .zattrs, zarr.json, attributes.json: FormatError naming the file', async () => {
    const root = await tempDir();
    const deep = '{"a":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}';
    const files: Array<[string, string]> = [];
    const layer = path.join(root, 'layer');
    await fs.mkdir(layer);
    await fs.writeFile(path.join(layer, 'info'), deep);
    files.push([layer, path.join(layer, 'info')]);
    const z2 = path.join(root, 'a.zarr');
    await writeV2(z2, {});
    await fs.writeFile(path.join(z2, '.zattrs'), deep);
    files.push([z2, path.join(z2, '.zattrs')]);
    const z3 = path.join(root, 'b.zarr');
    await fs.mkdir(z3);
    await fs.writeFile(path.join(z3, 'zarr.json'), deep);
    files.push([z3, path.join(z3, 'zarr.json')]);
    const n5 = path.join(root, 'c.n5');
    await fs.mkdir(n5);
    await fs.writeFile(path.join(n5, 'attributes.json'), deep);
    files.push([n5, path.join(n5, 'attributes.json')]);
    for (const [spec, file] of files) {
      const e = await readError(spec);
      expect(e, spec).toBeInstanceOf(FormatError);
      expect(e.message).toContain(file);
      expect(e.message).toMatch(/nested more than 64 levels/);
    }
  });
});

describe('a scale key is a path inside the layer folder', () => {
  it('refuses keys that leave the folder, for reads and for writes', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'ds', 'layer');
    const info = makeInfo({ type: 'image', dtype: 'uint8', shape: [8, 8, 8], voxelSize: [1, 1, 1] });
    await PrecomputedLayer.create(dir, info);
    for (const key of ['../../escaped', '/etc', '..', 'a/../../b', 'C:\\x', 'a\\..\\..\\b', '%2e%2e', '%2e%2e/%2e%2e/x', './x']) {
      const bad = { ...info, scales: [{ ...info.scales[0], key }] };
      await fs.writeFile(path.join(dir, 'info'), JSON.stringify(bad));
      const e = await errorOf(() => PrecomputedLayer.open(dir));
      expect(e, key).toBeInstanceOf(FormatError);
      expect(e.message).toContain(path.join(dir, 'info'));
      expect(e.message).toContain('scales[0].key');
      // writing a layer with such a key is refused before anything is written
      const w = await errorOf(() => PrecomputedLayer.create(path.join(root, 'w'), bad as never, { overwrite: true }));
      expect(w, key).toBeInstanceOf(UsageError);
      expect(w.message).toContain('scales[0].key');
    }
    await expect(fs.access(path.join(root, 'escaped'))).rejects.toThrow();
    // ordinary keys still work, including nested ones
    for (const key of ['8_8_40', 's0', 'scales/0', '4.5_4.5_40']) {
      await fs.writeFile(path.join(dir, 'info'), JSON.stringify({ ...info, scales: [{ ...info.scales[0], key }] }));
      expect((await PrecomputedLayer.open(dir)).scaleDir(0)).toBe(path.join(dir, key));
    }
    // a key changed in memory after opening is caught before any file is touched
    const layer = await PrecomputedLayer.open(dir);
    layer.info.scales[0].key = '../../escaped';
    expect(() => layer.chunkPath(box([0, 0, 0], [8, 8, 8]))).toThrow(FormatError);
  });
});
