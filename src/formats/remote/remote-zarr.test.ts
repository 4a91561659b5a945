import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../../test/data.js';
import { type Box, boxFromShape } from '../../core/box.js';
import { openSource } from '../open.js';
import { openZarr } from '../zarr.js';
import { serverPool } from './testing.js';
import { openRemoteZarr } from './zarr.js';

const pool = serverPool();
afterEach(() => pool.closeAll());
const serve = pool.serve;

/** Remote and local reads of one store agree: metadata and voxels. */
async function expectSame(remoteSpec: string, localSpec: string, cacheDir: string, scale?: number, box?: Box): Promise<void> {
  const r = (await openRemoteZarr(remoteSpec, { cacheDir, backoffMs: 2, scale })).source;
  const l = await openZarr(localSpec, { scale });
  for (const k of ['dtype', 'shape', 'channels', 'voxelSize', 'offset', 'chunkShape', 'scales', 'axes'] as const) expect(r[k], `${remoteSpec} ${k}`).toEqual(l[k]);
  const b = box ?? { min: l.offset, max: [0, 1, 2].map((i) => l.offset[i] + l.shape[i]) as unknown as Box['max'] };
  const [rv, lv] = [await r.read(b), await l.read(b)];
  expect(Buffer.from(rv.data.buffer, rv.data.byteOffset, rv.data.byteLength).equals(Buffer.from(lv.data.buffer, lv.data.byteOffset, lv.data.byteLength)), remoteSpec).toBe(true);
  await r.close();
}

const NG = 'neuroglancer-testdata/datasource';

describeData(NG, 'remote Zarr / OME-Zarr / N5 over HTTP (Neuroglancer test data, a local server with faults)', () => {
  it('reads v2, v3 (sharded, compressed, F order), OME-Zarr 0.4/0.5 scales and N5 multiscale groups as the local reader does', async () => {
    const server = await serve(dataPath(NG), { latencyMs: 2, fail500: 1, drop: 1 });
    const cacheDir = await tempDir('wiring-cache-');
    const v2 = 'zarr/zarr_v2/from_zarr-python/data.zarr';
    for (const n of ['3d.chunked.i2', '3d.chunked.mixed.i2.F', '3d.contiguous.i2']) await expectSame(`zarr://${server.url}/${v2}/${n}`, dataPath(NG, `${v2}#${n}`), cacheDir);
    const v3 = 'zarr/zarr_v3/from_zarrita/data.zarr';
    for (const n of ['3d.chunked.i2', '3d.contiguous.compressed.sharded.i2', '3d.chunked.compressed.sharded.i2', '3d.chunked.mixed.compressed.sharded.i2', '2d.chunked.compressed.sharded.filled.i2']) {
      await expectSame(`zarr3://${server.url}/${v3}/${n}`, dataPath(NG, `${v3}#${n}`), cacheDir);
    }
    for (const v of ['0.4', '0.5']) for (const scale of [0, 2]) await expectSame(`zarr://${server.url}/zarr/ome_zarr/simple_${v}`, dataPath(NG, `zarr/ome_zarr/simple_${v}`), cacheDir, scale);
    for (const v of ['modern', 'deprecated']) for (const scale of [0, 1]) await expectSame(`n5://${server.url}/n5/n5_viewer_multiscale_${v}`, dataPath(NG, `n5/n5_viewer_multiscale_${v}`), cacheDir, scale);
    // shards were read by ranges, never whole
    const shardGets = server.log.filter((l) => l.path.includes('sharded') && /\/c\//.test(l.path) && l.status === 200);
    expect(shardGets, 'whole-shard downloads').toEqual([]);
    expect(server.log.some((l) => l.path.includes('sharded') && l.status === 206)).toBe(true);
  });

  it('fetches only the chunks a box needs, keeps them, and a second read touches no chunk on the network', async () => {
    const server = await serve(dataPath(NG));
    const cacheDir = await tempDir('wiring-cache-');
    const spec = `zarr://${server.url}/zarr/zarr_v2/from_zarr-python/data.zarr/3d.chunked.i2`;
    const a = await openRemoteZarr(spec, { cacheDir });
    const full = boxFromShape(a.source.shape);
    const corner: Box = { min: full.min, max: [1, 1, 1] };
    await a.source.read(corner);
    const chunkReqs = () => server.log.filter((l) => !/(\.zarray|\.zattrs|\.zgroup|zarr\.json|attributes\.json)$/.test(l.path)).length;
    const afterCorner = chunkReqs();
    expect(afterCorner).toBe(1);
    await a.source.read(full);
    const afterFull = chunkReqs();
    expect(afterFull).toBeGreaterThan(afterCorner);
    const b = await openRemoteZarr(spec, { cacheDir });
    await b.source.read(full);
    expect(chunkReqs()).toBe(afterFull);
    expect(existsSync(path.join(b.mirror, 'source.json'))).toBe(true);
  });
});

describeData('zarr-fixtures', 'remote Zarr: the zarr_implementations image over HTTP', () => {
  it('decodes blosc/gzip/zlib/raw v2 and N5 arrays to what the local reader gives, through openSource URLs', async () => {
    const server = await serve(dataPath('zarr-fixtures/examples'), { latencyMs: 1 });
    const cacheDir = await tempDir('wiring-cache-');
    process.env.WIRING_CACHE = cacheDir;
    try {
      for (const [remote, local] of [['zarr.zr/blosc', 'zarr.zr#blosc'], ['zarr.zr/raw', 'zarr.zr#raw'], ['z5py.n5/gzip', 'z5py.n5#gzip']]) {
        const prefix = remote.includes('n5') ? 'n5' : 'zarr';
        const r = await openSource(`${prefix}://${server.url}/${remote}`);
        await expect(r.read({ min: [0, 0, 0], max: [1, 1, 9999] })).rejects.toThrow(new RegExp(`${remote}: read box .* is outside`));
        const l = await openZarr(dataPath('zarr-fixtures/examples', local));
        expect(r.shape).toEqual(l.shape);
        const box: Box = { min: [0, 100, 200], max: [r.shape[0], 300, 260] };
        expect(Buffer.from((await r.read(box)).data.buffer).equals(Buffer.from((await l.read(box)).data.buffer))).toBe(true);
      }
    } finally {
      delete process.env.WIRING_CACHE;
    }
  });
});

describe('remote Zarr errors', () => {
  it('names the URL when there is no Zarr/N5 metadata, and refuses 403', async () => {
    const root = await tempDir('wiring-remote-');
    const server = await serve(root, { forbidden: ['private/'] });
    const cacheDir = await tempDir('wiring-cache-');
    await expect(openRemoteZarr(`zarr://${server.url}/nothing.zarr`, { cacheDir })).rejects.toThrow(/nothing\.zarr: no Zarr or N5 metadata at this URL/);
    await expect(openRemoteZarr(`zarr://${server.url}/private/x.zarr`, { cacheDir })).rejects.toThrow(/access refused \(HTTP 403\)/);
  });
});
