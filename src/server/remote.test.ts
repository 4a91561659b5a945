import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../test/data.js';
import { type Box, boxFromShape } from '../core/box.js';
import { openSource } from '../formats/open.js';
import { PrecomputedLayer, makeInfo } from '../formats/precomputed/index.js';
import { RemoteMirror } from '../formats/remote/mirror.js';
import { openRemotePrecomputed } from '../formats/remote/precomputed.js';
import { type TestServer, serveFolder } from '../formats/remote/testing.js';
import { buildServer } from './app.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

describeData('gala-medulla', 'serve --remote: a remote layer proxied through the mirror (real FIB-SEM)', () => {
  it('lists the remote layer, serves its files and shard ranges, and reads back identical voxels through the proxy', async () => {
    const root = await tempDir('wiring-remote-src-');
    const src = await openSource(`${dataPath('gala-medulla', 'train-image.h5')}#stack`);
    const vol = await src.read(boxFromShape(src.shape));
    await src.close();
    const sharding = { '@type': 'neuroglancer_uint64_sharded_v1', preshift_bits: 2, hash: 'murmurhash3_x86_128', minishard_bits: 2, shard_bits: 2, minishard_index_encoding: 'gzip', data_encoding: 'gzip' } as const;
    const layer = await PrecomputedLayer.create(path.join(root, 'em'), makeInfo({ type: 'image', dtype: 'uint8', shape: src.shape, voxelSize: [10, 10, 10], chunkSize: [32, 32, 16], sharding }));
    await layer.writeBox(vol);
    const upstream: TestServer = await serveFolder(root, { latencyMs: 2, fail500: 1 });
    closers.push(() => upstream.close());
    const dataset = await tempDir('wiring-remote-ds-');
    const mirror = await RemoteMirror.open(`precomputed://${upstream.url}/em`, { cacheDir: await tempDir('wiring-cache-'), backoffMs: 2 });
    const app = await buildServer({ dataset, remote: { em: mirror }, partnerIndexMaxPairs: 0 });
    closers.push(() => app.close());
    const url = await app.listen({ port: 0, host: '127.0.0.1' });

    const layers = (await (await fetch(`${url}/api/layers`)).json()) as { layers: Array<Record<string, unknown>> };
    expect(layers.layers).toEqual([expect.objectContaining({ name: 'em', type: 'image', data_type: 'uint8', size: src.shape, remote: `${upstream.url}/em` })]);
    // a shard index by range, never the whole shard from upstream
    const shard = (await readdir(path.join(root, 'em', layer.info.scales[0].key))).find((f) => f.endsWith('.shard'))!;
    const res = await fetch(`${url}/data/em/${layer.info.scales[0].key}/${shard}`, { headers: { Range: 'bytes=0-15' } });
    expect(res.status).toBe(206);
    const want = readFileSync(path.join(root, 'em', layer.info.scales[0].key, shard)).subarray(0, 16);
    expect(Buffer.from(await res.arrayBuffer()).equals(want)).toBe(true);
    expect(upstream.log.filter((l) => l.path.endsWith('.shard') && l.status === 200)).toEqual([]);
    // the wiring server is itself a precomputed endpoint: read a box through it
    const box: Box = { min: [10, 20, 5], max: [120, 100, 40] };
    const through = await openRemotePrecomputed(`precomputed://${url}/data/em`, { cacheDir: await tempDir('wiring-cache-') });
    const got = await through.source().read(box);
    expect(Buffer.from(got.data.buffer).equals(Buffer.from((await layer.readBox(box)).data.buffer))).toBe(true);
    // absent files and paths outside the layer
    expect((await fetch(`${url}/data/em/nothing/here`)).status).toBe(404);
    expect((await fetch(`${url}/data/em/a/..%2F..%2Fsecret`)).status).toBeGreaterThanOrEqual(400);
  });
});
