import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { runInProcess } from '../../../test/cli-in-process.js';
import { boxFromShape } from '../../core/box.js';
import { PrecomputedLayer, shardShape } from '../../formats/precomputed/index.js';
import { SHARDED_ABOVE_CHUNKS, shardingFor } from '../sharding-options.js';
import { register as importCmd } from './import.js';

/** A uint16 .npy of shape [x, y, z] (C order z, y, x) with a seeded ramp. */
async function npy(file: string, [X, Y, Z]: [number, number, number]): Promise<Uint16Array> {
  const data = Uint16Array.from({ length: X * Y * Z }, (_, i) => (i * 2654435761) % 65521);
  let header = `{'descr': '<u2', 'fortran_order': False, 'shape': (${Z}, ${Y}, ${X}), }`;
  header = header.padEnd(128 - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  await writeFile(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer)]));
  return data;
}

describe('import --sharded', () => {
  it('writes Neuroglancer sharded precomputed (shard files, no chunk files) that reads back identically to an unsharded import', async () => {
    const dir = await tempDir('wiring-sharded-');
    const shape: [number, number, number] = [40, 30, 20];
    const data = await npy(path.join(dir, 'v.npy'), shape);
    const common = ['--voxel-size', '4,4,40', '--chunk-size', '8,8,8', '--workers', '1', '--json'];
    await runInProcess([importCmd], ['import', path.join(dir, 'v.npy'), path.join(dir, 'sharded'), '--sharded', ...common]);
    await runInProcess([importCmd], ['import', path.join(dir, 'v.npy'), path.join(dir, 'plain'), ...common]);
    const s = await PrecomputedLayer.open(path.join(dir, 'sharded'));
    const p = await PrecomputedLayer.open(path.join(dir, 'plain'));
    expect(s.info.scales[0].sharding?.['@type']).toBe('neuroglancer_uint64_sharded_v1');
    expect(p.info.scales[0].sharding).toBeUndefined();
    const files = readdirSync(path.join(dir, 'sharded', s.info.scales[0].key));
    expect(files.length).toBeGreaterThan(0);
    expect(files.every((f) => /^[0-9a-f]+\.shard$/.test(f)), files.join(' ')).toBe(true);
    const a = await s.readBox(boxFromShape(shape));
    const b = await p.readBox(boxFromShape(shape));
    expect(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(data.buffer))).toBe(true);
    expect(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).equals(Buffer.from(data.buffer))).toBe(true);
  });

  it('is the default above SHARDED_ABOVE_CHUNKS chunks, and --no-sharded turns it off', () => {
    const big: [number, number, number] = [64 * 100, 64 * 100, 64 * 11]; // 110,000 chunks of 64^3
    expect(100 * 100 * 11).toBeGreaterThan(SHARDED_ABOVE_CHUNKS);
    expect(shardingFor({}, big, [64, 64, 64], 'image')?.data_encoding).toBe('gzip');
    expect(shardingFor({ sharded: false }, big, [64, 64, 64], 'image')).toBeUndefined();
    expect(shardingFor({}, [640, 640, 640], [64, 64, 64], 'segmentation')).toBeUndefined();
    expect(shardingFor({ sharded: true }, [640, 640, 640], [64, 64, 64], 'segmentation')?.data_encoding).toBe('raw');
  });

  it('shards fit the writer\'s block (each block writes its own shards once) and a memory cap', () => {
    const shape: [number, number, number] = [4096, 4096, 1024];
    const grid: [number, number, number] = [64, 64, 16];
    const shapeOf = (s: ReturnType<typeof shardingFor>) => shardShape(s!, grid, [64, 64, 64]);
    expect(shapeOf(shardingFor({ sharded: true }, shape, [64, 64, 64], 'segmentation'))).toEqual([512, 512, 512]); // 2^9 chunks
    expect(shapeOf(shardingFor({ sharded: true }, shape, [64, 64, 64], 'segmentation', [256, 256, 256]))).toEqual([256, 256, 256]);
    expect(shapeOf(shardingFor({ sharded: true }, shape, [64, 64, 64], 'segmentation', [128, 128, 64]))).toEqual([128, 128, 64]);
    // a block of 4x4x1 chunks: the Morton order takes a z bit third, so the largest box dividing it is 2x2x1
    expect(shapeOf(shardingFor({ sharded: true }, shape, [64, 64, 64], 'image', [256, 256, 64]))).toEqual([128, 128, 64]);
    // at most 128 chunks (uint64 64^3 chunks under 256 MiB): 2^7
    expect(shapeOf(shardingFor({ sharded: true }, shape, [64, 64, 64], 'segmentation', undefined, 128))).toEqual([512, 256, 256]);
  });
});
