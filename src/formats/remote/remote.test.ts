import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dataPath, describeData, hasData, tempDir } from '../../../test/data.js';
import { runInProcess } from '../../../test/cli-in-process.js';
import { register as registerImport } from '../../cli/commands/import.js';
import { boxFromShape, type Box } from '../../core/box.js';
import { openSource } from '../open.js';
import { PrecomputedLayer, makeInfo } from '../precomputed/index.js';
import type { ShardingSpec } from '../precomputed/info.js';
import { HttpClient } from './http.js';
import { openRemotePrecomputed } from './precomputed.js';
import { mergeRanges } from './sparse.js';
import { serverPool } from './testing.js';
import { bucketToHttps, isRemote, parseRemoteUrl } from './url.js';

const pool = serverPool();
afterEach(() => pool.closeAll());
const serve = pool.serve;

/** gala-medulla's raw (real FIB-SEM) as a precomputed layer, sharded or not, under `root/name`. */
async function galaLayer(root: string, name: string, sharding?: ShardingSpec): Promise<Box> {
  const src = await openSource(`${dataPath('gala-medulla', 'train-image.h5')}#stack`);
  const vol = await src.read(boxFromShape(src.shape));
  await src.close();
  const layer = await PrecomputedLayer.create(path.join(root, name), makeInfo({ type: 'image', dtype: 'uint8', shape: src.shape, voxelSize: [10, 10, 10], chunkSize: [32, 32, 16], sharding }));
  await layer.writeBox(vol);
  return vol.box;
}

describe('remote URLs', () => {
  it('maps public buckets to their HTTPS endpoints and reads Neuroglancer prefixes', () => {
    expect(bucketToHttps('gs://neuroglancer-public-data/flyem_fib-25/image')).toBe('https://storage.googleapis.com/neuroglancer-public-data/flyem_fib-25/image');
    expect(bucketToHttps('s3://bossdb-open-data/iarpa_microns/minnie')).toBe('https://bossdb-open-data.s3.amazonaws.com/iarpa_microns/minnie');
    expect(parseRemoteUrl('precomputed://gs://b/p/em/')).toMatchObject({ format: 'precomputed', base: 'https://storage.googleapis.com/b/p/em' });
    expect(parseRemoteUrl('zarr://https://h/x.zarr').format).toBe('zarr');
    expect(isRemote('precomputed://https://h/x')).toBe(true);
    expect(isRemote('/data/x')).toBe(false);
    expect(() => parseRemoteUrl('https://user:pw@h/x')).toThrow(/credentials/);
    expect(mergeRanges([[10, 20], [0, 5], [5, 8], [19, 30]])).toEqual([[0, 8], [10, 30]]);
  });
});

describeData('gala-medulla', 'remote precomputed over HTTP (real FIB-SEM, a local server with faults)', () => {
  it('reads an unsharded layer through latency, 500s and dropped connections, identical to the local read; a second read uses the cache', async () => {
    const root = await tempDir('wiring-remote-');
    const whole = await galaLayer(root, 'em');
    const server = await serve(root, { latencyMs: 5, fail500: 1, drop: 1 });
    const cache = await tempDir('wiring-cache-');
    const r = await openRemotePrecomputed(`precomputed://${server.url}/em`, { cacheDir: cache, backoffMs: 5 });
    const box: Box = { min: [20, 30, 5], max: [150, 90, 40] };
    const got = await r.source().read(box);
    const want = await (await PrecomputedLayer.open(path.join(root, 'em'))).readBox(box);
    expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
    expect(r.client.stats.retries).toBeGreaterThan(0);
    // only the chunks the box needs were fetched (plus info)
    const chunkGets = server.log.filter((l) => l.status === 200 && l.path !== 'em/info').length;
    expect(chunkGets).toBe([...r.layer.chunkGrid().chunksIn(box)].length);
    const before = server.log.length;
    const again = await r.source().read(box);
    expect(Buffer.from(again.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
    expect(server.log.length).toBe(before);
    // openSource takes the URL too (as every command does)
    process.env.WIRING_CACHE = cache;
    try {
      const s = await openSource(`precomputed://${server.url}/em`);
      expect(s.shape).toEqual([whole.max[0], whole.max[1], whole.max[2]]);
    } finally {
      delete process.env.WIRING_CACHE;
    }
  });

  it('reads a sharded layer with byte-range requests only, keeping the fetched ranges in a sparse mirror', async () => {
    const root = await tempDir('wiring-remote-');
    const spec: ShardingSpec = { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 2, hash: 'murmurhash3_x86_128', minishard_bits: 2, shard_bits: 2, minishard_index_encoding: 'gzip', data_encoding: 'gzip' };
    await galaLayer(root, 'em', spec);
    const server = await serve(root, { fail500: 1 });
    const r = await openRemotePrecomputed(`precomputed://${server.url}/em`, { cacheDir: await tempDir('wiring-cache-'), backoffMs: 5 });
    const box: Box = { min: [0, 0, 0], max: [64, 64, 32] };
    const got = await r.source().read(box);
    const want = await (await PrecomputedLayer.open(path.join(root, 'em'))).readBox(box);
    expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
    const shardGets = server.log.filter((l) => l.path.endsWith('.shard') && l.status !== 500);
    expect(shardGets.length).toBeGreaterThan(0);
    expect(shardGets.every((l) => l.range !== undefined && l.status === 206)).toBe(true);
    const ranges = (await fs.readdir(path.join(r.mirror, r.layer.info.scales[0].key))).filter((f) => f.endsWith('.ranges'));
    expect(ranges.length).toBeGreaterThan(0);
    // a second object opened on the same cache reads without the network
    const n = server.log.length;
    const r2 = await openRemotePrecomputed(`precomputed://${server.url}/em`, { cacheDir: path.dirname(path.dirname(r.mirror)) });
    const again = await r2.source().read(box);
    expect(Buffer.from(again.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
    expect(server.log.length - n).toBe(1); // the info only
  });

  it('imports a cutout of a remote layer with --bounds (the layer keeps the source coordinates)', async () => {
    const root = await tempDir('wiring-remote-');
    await galaLayer(root, 'em');
    const server = await serve(root);
    const out = path.join(await tempDir('wiring-cut-'), 'cut');
    process.env.WIRING_CACHE = await tempDir('wiring-cache-');
    try {
      const res = JSON.parse(await runInProcess([registerImport], ['import', `precomputed://${server.url}/em`, out, '--bounds', '10:110,20:60,4:20', '--chunk-size', '32,32,16', '--workers', '1', '--json']));
      expect(res.layer).toBe(out);
    } finally {
      delete process.env.WIRING_CACHE;
    }
    const cut = await PrecomputedLayer.open(out);
    expect(cut.info.scales[0].size).toEqual([100, 40, 16]);
    expect(cut.info.scales[0].voxel_offset).toEqual([10, 20, 4]);
    const box: Box = { min: [10, 20, 4], max: [110, 60, 20] };
    const want = await (await PrecomputedLayer.open(path.join(root, 'em'))).readBox(box);
    expect(Buffer.from((await cut.readBox(box)).data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
    // only chunks inside the cutout were fetched
    const fetched = server.log.filter((l) => l.path.startsWith('em/') && l.path !== 'em/info' && l.status === 200).length;
    expect(fetched).toBeLessThan(20);
  });
});

describe('remote errors', () => {
  it('says 403, 404 (no info), timeouts and oversized bodies clearly; a missing chunk reads as zeros', async () => {
    const root = await tempDir('wiring-remote-');
    if (hasData('neuroglancer-testdata')) {
      await fs.cp(dataPath('neuroglancer-testdata', 'datasource', 'precomputed', 'one_channel'), path.join(root, 'one'), { recursive: true });
    } else {
      await fs.mkdir(path.join(root, 'one'), { recursive: true });
      await fs.writeFile(path.join(root, 'one', 'info'), JSON.stringify(makeInfo({ type: 'image', dtype: 'uint16', shape: [10, 20, 30], voxelSize: [3, 4, 5], chunkSize: [10, 20, 30] })));
    }
    await fs.writeFile(path.join(root, 'big'), Buffer.alloc(5000));
    const server = await serve(root, { forbidden: ['private/'], hang: ['slow/'] });
    const cacheDir = await tempDir('wiring-cache-');
    // chunks absent on the server (404): zeros, remembered
    const r = await openRemotePrecomputed(`precomputed://${server.url}/one`, { cacheDir });
    const v = await r.source().read({ min: [0, 0, 0], max: [10, 20, 30] });
    expect(v.data.every((x) => x === 0)).toBe(true);
    expect(existsSync(path.join(r.mirror, r.layer.info.scales[0].key, '0-10_0-20_0-30.absent'))).toBe(true);
    await expect(openRemotePrecomputed(`precomputed://${server.url}/private/em`, { cacheDir })).rejects.toThrow(/private\/em\/info: access refused \(HTTP 403\)/);
    await expect(openRemotePrecomputed(`precomputed://${server.url}/nothing`, { cacheDir })).rejects.toThrow(/nothing\/info: no info file at this URL/);
    await expect(openRemotePrecomputed(`precomputed://${server.url}/slow/em`, { cacheDir, timeoutMs: 100, retries: 1, backoffMs: 1 })).rejects.toThrow(/slow\/em\/info: timed out after 100 ms, still failing after 1 retries/);
    await expect(new HttpClient().get(`${server.url}/big`, 1000)).rejects.toThrow(/big: response of 5000 bytes is larger than the 1000 expected/);
  });

  it('gives up on a server that keeps failing, naming the URL and the status', async () => {
    const root = await tempDir('wiring-remote-');
    await fs.writeFile(path.join(root, 'x'), 'hello');
    const server = await serve(root, { fail500: 100 });
    await expect(new HttpClient({ retries: 2, backoffMs: 1 }).get(`${server.url}/x`, 100)).rejects.toThrow(/\/x: HTTP 500, still failing after 2 retries/);
    expect(server.log.length).toBe(3);
  });
});
