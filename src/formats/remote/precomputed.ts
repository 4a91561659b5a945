import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../core/atomic.js';
import type { Box } from '../../core/box.js';
import { bytesPerElement } from '../../core/dtype.js';
import { FormatError } from '../../core/errors.js';
import { PrecomputedLayer } from '../precomputed/index.js';
import { ShardReader, compressedMortonCode } from '../precomputed/sharding.js';
import type { VolumeSource } from '../source.js';
import { HttpClient, type HttpOptions } from './http.js';
import { mirrorDir } from './mirror.js';
import { SparseRemoteFile } from './sparse.js';
import { parseRemoteUrl } from './url.js';

/**
 * A remote Neuroglancer precomputed layer (raw, jpeg, png, compressed_segmentation; unsharded
 * or sharded) read through an on-disk cache that mirrors the layer:
 *
 *   <cache>/remote/<hash of the URL>/
 *     source.json                   the URL
 *     info                          fetched on open
 *     <scale key>/<chunk name>      unsharded chunks, fetched when a read needs them
 *     <scale key>/<chunk>.absent    a chunk the server does not have (404: reads as zeros)
 *     <scale key>/<shard>.shard     a sparse file of the remote shard's size holding only the
 *                                   byte ranges fetched (shard index entries, minishard indexes,
 *                                   chunk data) ...
 *     <scale key>/<shard>.ranges    ... listed here ([start, end) pairs, JSON)
 *
 * A read first fetches what the box needs into the mirror (a bounded pool of requests, retries
 * with backoff), then reads the mirror with the local precomputed reader; so a second read of
 * the same box touches no network, and nothing is ever fetched twice. Memory follows the box
 * read, not the layer's declared size.
 */

export interface RemoteOptions extends HttpOptions {
  /** Cache root (default $WIRING_CACHE or ~/.cache/wiring). */
  cacheDir?: string;
  scale?: number;
}


const MAX_INFO = 16 << 20;

export interface RemotePrecomputed {
  layer: PrecomputedLayer;
  client: HttpClient;
  base: string;
  mirror: string;
  source(scale?: number): VolumeSource;
  /** Fetch what reading `box` of `scale` needs into the mirror. */
  ensure(box: Box, scale?: number): Promise<void>;
}

export async function openRemotePrecomputed(spec: string, opts: RemoteOptions = {}): Promise<RemotePrecomputed> {
  const { base } = parseRemoteUrl(spec);
  const client = new HttpClient(opts);
  const mirror = mirrorDir(base, opts.cacheDir);
  await fs.mkdir(mirror, { recursive: true });
  let info: Uint8Array | undefined;
  try {
    info = await client.get(`${base}/info`, MAX_INFO);
  } catch (err) {
    throw new FormatError(`cannot read the remote layer: ${(err as Error).message}`, spec, { cause: err });
  }
  if (!info) throw new FormatError('no info file at this URL: not a Neuroglancer precomputed layer (HTTP 404)', `${base}/info`);
  await writeFileAtomic(path.join(mirror, 'source.json'), JSON.stringify({ url: base }) + '\n');
  await writeFileAtomic(path.join(mirror, 'info'), info);
  let layer: PrecomputedLayer;
  try {
    layer = await PrecomputedLayer.open(mirror);
  } catch (err) {
    throw new FormatError(`${(err as Error).message.replace(path.join(mirror, 'info'), 'info')}`, `${base}/info`, { cause: err });
  }
  // (the info's validation already confines every scale key to the layer folder: core/safe-path.ts)
  const inflight = new Map<string, Promise<void>>();
  const once = (key: string, fn: () => Promise<void>): Promise<void> => {
    let p = inflight.get(key);
    if (!p) {
      p = fn().finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p;
  };
  const urlOf = (file: string) => `${base}/${path.relative(mirror, file).split(path.sep).map(encodeURIComponent).join('/')}`;

  async function ensure(box: Box, scale = opts.scale ?? 0): Promise<void> {
    const s = layer.scale(scale);
    const grid = layer.chunkGrid(scale);
    const chunkBytes = s.chunk_sizes[0].reduce((a, b) => a * b, 1) * bytesPerElement(layer.info.data_type) * layer.info.num_channels;
    const cap = 2 * chunkBytes + (1 << 16);
    const jobs: Promise<void>[] = [];
    if (!s.sharding) {
      for (const g of grid.chunksIn(box)) {
        const file = layer.chunkPath(grid.chunkBox(g), scale);
        if (existsSync(file) || existsSync(`${file}.absent`)) continue;
        jobs.push(
          once(file, async () => {
            const bytes = await client.get(urlOf(file), cap);
            await fs.mkdir(path.dirname(file), { recursive: true });
            if (bytes) await writeFileAtomic(file, bytes);
            else await writeFileAtomic(`${file}.absent`, '');
          }),
        );
      }
      await Promise.all(jobs);
      return;
    }
    const spec = s.sharding;
    const byShard = new Map<string, bigint[]>();
    for (const g of grid.chunksIn(box)) {
      const id = compressedMortonCode(g, grid.gridShape);
      const file = layer.shardPath(id, scale);
      (byShard.get(file) ?? byShard.set(file, []).get(file)!).push(id);
    }
    for (const [file, ids] of byShard) {
      jobs.push(
        once(`${file}#${ids.join(',')}`, async () => {
          const shard = await SparseRemoteFile.open(client, urlOf(file), file);
          if (!shard) return;
          try {
            const reader = ShardReader.fromSource(shard, spec, urlOf(file));
            for (const id of ids) await reader.read(id, cap);
          } finally {
            await shard.close();
          }
        }),
      );
    }
    await Promise.all(jobs);
  }

  return {
    layer,
    client,
    base,
    mirror,
    ensure,
    source(scale = opts.scale ?? 0): VolumeSource {
      const local = layer.source(scale);
      return {
        ...local,
        url: spec,
        format: 'precomputed',
        read: async (b: Box) => {
          await ensure(b, scale);
          return local.read(b);
        },
        readChannel: async (b: Box, c: number) => {
          await ensure(b, scale);
          return layer.readBox(b, scale, c);
        },
      };
    },
  };
}
