import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../../core/atomic.js';
import type { Box } from '../../core/box.js';
import { bytesPerElement } from '../../core/dtype.js';
import { FormatError } from '../../core/errors.js';
import { PrecomputedLayer } from '../precomputed/index.js';
import { type ByteSource, ShardReader, compressedMortonCode } from '../precomputed/sharding.js';
import type { VolumeSource } from '../source.js';
import { HttpClient, type HttpOptions } from './http.js';
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

export function defaultCacheDir(): string {
  return process.env.WIRING_CACHE ?? path.join(os.homedir(), '.cache', 'wiring');
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
  const mirror = path.join(opts.cacheDir ?? defaultCacheDir(), 'remote', createHash('sha256').update(base).digest('hex').slice(0, 20));
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
          const shard = await RemoteShard.open(client, urlOf(file), file);
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
      };
    },
  };
}

/**
 * One remote shard file as a ByteSource that keeps what it fetches: bytes are written at the
 * same offsets of a sparse local file of the remote size, and the fetched ranges are recorded
 * beside it, so the local precomputed reader finds exactly the bytes it needs.
 */
class RemoteShard implements ByteSource {
  private ranges: Array<[number, number]>;
  private dirty = false;
  private constructor(
    private readonly client: HttpClient,
    private readonly url: string,
    private readonly file: string,
    private readonly handle: fs.FileHandle,
    readonly size: number,
    ranges: Array<[number, number]>,
  ) {
    this.ranges = ranges;
  }

  static async open(client: HttpClient, url: string, file: string): Promise<RemoteShard | undefined> {
    if (existsSync(`${file}.absent`)) return undefined;
    const rangesFile = `${file}.ranges`;
    let size: number | undefined;
    let ranges: Array<[number, number]> = [];
    if (existsSync(rangesFile) && existsSync(file)) {
      try {
        const j = JSON.parse(await fs.readFile(rangesFile, 'utf8')) as { size: number; ranges: Array<[number, number]> };
        size = j.size;
        ranges = j.ranges;
      } catch {
        ranges = [];
      }
    }
    if (size === undefined) {
      size = await client.size(url);
      await fs.mkdir(path.dirname(file), { recursive: true });
      if (size === undefined) {
        await writeFileAtomic(`${file}.absent`, '');
        return undefined;
      }
    }
    const handle = await fs.open(file, existsSync(file) ? 'r+' : 'w+');
    const st = await handle.stat();
    if (st.size !== size) await handle.truncate(size);
    return new RemoteShard(client, url, file, handle, size, ranges);
  }

  private covered(start: number, end: number): boolean {
    return this.ranges.some(([a, b]) => a <= start && end <= b);
  }

  async read(start: number, length: number): Promise<Uint8Array> {
    if (start < 0 || start + length > this.size) throw new FormatError(`byte range [${start}, ${start + length}) is outside the ${this.size}-byte shard`, this.url);
    const buf = new Uint8Array(length);
    if (this.covered(start, start + length)) {
      await this.handle.read(buf, 0, length, start);
      return buf;
    }
    const got = await this.client.getRange(this.url, start, length);
    if (!got) throw new FormatError('the shard disappeared while it was read (HTTP 404)', this.url);
    await this.handle.write(got, 0, got.byteLength, start);
    this.ranges.push([start, start + length]);
    this.dirty = true;
    return got;
  }

  async close(): Promise<void> {
    await this.handle.close();
    if (this.dirty) {
      const merged = mergeRanges(this.ranges);
      await writeFileAtomic(`${this.file}.ranges`, JSON.stringify({ size: this.size, ranges: merged }) + '\n');
    }
  }
}

export function mergeRanges(r: Array<[number, number]>): Array<[number, number]> {
  const s = [...r].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
