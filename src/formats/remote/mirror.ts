import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../../core/atomic.js';
import { UsageError } from '../../core/errors.js';
import { isSafeKey } from '../../core/safe-path.js';
import { HttpClient, type HttpOptions } from './http.js';
import { SparseRemoteFile } from './sparse.js';
import { parseRemoteUrl } from './url.js';

/**
 * The on-disk mirror of one remote dataset (a precomputed layer, a Zarr/N5 store): files are kept
 * under the same relative paths as on the server, so the local readers, and `wiring serve` as a
 * proxy, read them as local files.
 *
 *   <cache>/remote/<sha256(URL)[:20]>/
 *     source.json        {"url": ...}
 *     <path>             a file fetched whole
 *     <path>.absent      a file the server does not have (404)
 *     <path> + .ranges   a file read by byte ranges (a shard): sparse, only the ranges listed hold data
 *
 * One folder per URL whichever format reads it (remote/precomputed.ts, remote/zarr.ts, the proxy),
 * so what one fetched the others find.
 */

export function defaultCacheDir(): string {
  return process.env.WIRING_CACHE ?? path.join(os.homedir(), '.cache', 'wiring');
}

/** The mirror folder of `base` (an HTTPS URL without trailing slash). */
export function mirrorDir(base: string, cacheDir = defaultCacheDir()): string {
  return path.join(cacheDir, 'remote', createHash('sha256').update(base).digest('hex').slice(0, 20));
}

/** Largest file the proxy fetches whole (a shard is read by ranges instead). */
export const PROXY_MAX_FILE_BYTES = 256 << 20;

export class RemoteMirror {
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly sparse = new Map<string, Promise<SparseRemoteFile | undefined>>();

  private constructor(
    readonly spec: string,
    readonly base: string,
    readonly dir: string,
    readonly client: HttpClient,
  ) {}

  static async open(spec: string, opts: HttpOptions & { cacheDir?: string } = {}): Promise<RemoteMirror> {
    const { base } = parseRemoteUrl(spec);
    const dir = mirrorDir(base, opts.cacheDir);
    await fs.mkdir(dir, { recursive: true });
    await writeFileAtomic(path.join(dir, 'source.json'), JSON.stringify({ url: base }) + '\n');
    return new RemoteMirror(spec, base, dir, new HttpClient(opts));
  }

  private local(rel: string): string {
    if (!isSafeKey(rel)) throw new UsageError(`'${rel}' is not a path inside the remote dataset`, this.base);
    return path.join(this.dir, ...rel.split('/'));
  }

  urlOf(rel: string): string {
    return `${this.base}/${rel.split('/').map(encodeURIComponent).join('/')}`;
  }

  /**
   * The local path of file `rel`, fetched whole once (`refresh`: fetched again, e.g. metadata
   * that may change); undefined when the server does not have it.
   */
  async file(rel: string, maxBytes = PROXY_MAX_FILE_BYTES, refresh = false): Promise<string | undefined> {
    const file = this.local(rel);
    if (!refresh && existsSync(file) && !existsSync(`${file}.ranges`)) return file;
    if (!refresh && existsSync(`${file}.absent`)) return undefined;
    let p = this.inflight.get(file);
    if (!p) {
      p = (async () => {
        const bytes = await this.client.get(this.urlOf(rel), maxBytes);
        await fs.mkdir(path.dirname(file), { recursive: true });
        if (bytes) {
          await fs.rm(`${file}.absent`, { force: true });
          await fs.rm(`${file}.ranges`, { force: true });
          await writeFileAtomic(file, bytes);
        } else {
          await fs.rm(file, { force: true });
          await writeFileAtomic(`${file}.absent`, '');
        }
      })().finally(() => this.inflight.delete(file));
      this.inflight.set(file, p);
    }
    await p;
    return existsSync(file) ? file : undefined;
  }

  /** File `rel` read by byte ranges into a sparse mirror file (a shard); undefined when absent. */
  async ranged(rel: string): Promise<SparseRemoteFile | undefined> {
    const file = this.local(rel);
    let p = this.sparse.get(file);
    if (!p) {
      p = SparseRemoteFile.open(this.client, this.urlOf(rel), file);
      this.sparse.set(file, p);
    }
    return p;
  }

  async close(): Promise<void> {
    for (const p of this.sparse.values()) await (await p.catch(() => undefined))?.close();
    this.sparse.clear();
  }
}
