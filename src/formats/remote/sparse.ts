import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../core/atomic.js';
import { FormatError } from '../../core/errors.js';
import type { ByteSource } from '../precomputed/sharding.js';
import type { HttpClient } from './http.js';

/**
 * One remote file read by byte ranges (a precomputed or Zarr v3 shard) that keeps what it
 * fetches: bytes are written at their own offsets of a sparse local file of the remote size,
 * and the fetched ranges are listed beside it:
 *
 *   <file>           sparse, the remote file's size; only fetched ranges hold data
 *   <file>.ranges    {"size": n, "ranges": [[start, end], ...]}   (merged, sorted)
 *   <file>.absent    the server has no such file (404)
 *
 * A local reader of <file> then finds exactly the bytes it needs, and a range is never fetched
 * twice. Concurrent reads of one instance are safe (positional writes); the ranges file is
 * rewritten atomically after each fetch, one write at a time.
 */
export class SparseRemoteFile implements ByteSource {
  private ranges: Array<[number, number]>;
  private saving: Promise<void> = Promise.resolve();

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

  /** Open (or start) the mirror of `url` at `file`; undefined when the server has no such file. */
  static async open(client: HttpClient, url: string, file: string): Promise<SparseRemoteFile | undefined> {
    if (existsSync(`${file}.absent`)) return undefined;
    const rangesFile = `${file}.ranges`;
    let size: number | undefined;
    let ranges: Array<[number, number]> = [];
    if (existsSync(rangesFile) && existsSync(file)) {
      try {
        const j = JSON.parse(await fs.readFile(rangesFile, 'utf8')) as { size: number; ranges: Array<[number, number]> };
        if (Number.isSafeInteger(j.size) && Array.isArray(j.ranges)) {
          size = j.size;
          ranges = j.ranges;
        }
      } catch {
        ranges = [];
      }
    }
    await fs.mkdir(path.dirname(file), { recursive: true });
    if (size === undefined) {
      size = await client.size(url);
      if (size === undefined) {
        await writeFileAtomic(`${file}.absent`, '');
        return undefined;
      }
    }
    // create without truncating what another opener may already have written
    await fs.writeFile(file, new Uint8Array(0), { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const handle = await fs.open(file, 'r+');
    const st = await handle.stat();
    if (st.size !== size) await handle.truncate(size);
    return new SparseRemoteFile(client, url, file, handle, size, ranges);
  }

  private covered(start: number, end: number): boolean {
    return this.ranges.some(([a, b]) => a <= start && end <= b);
  }

  async read(start: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > this.size) {
      throw new FormatError(`byte range [${start}, ${start + length}) is outside the ${this.size}-byte shard`, this.url);
    }
    const buf = new Uint8Array(length);
    if (this.covered(start, start + length)) {
      await this.handle.read(buf, 0, length, start);
      return buf;
    }
    const got = await this.client.getRange(this.url, start, length);
    if (!got) throw new FormatError('the shard disappeared while it was read (HTTP 404)', this.url);
    await this.handle.write(got, 0, got.byteLength, start);
    this.ranges = mergeRanges([...this.ranges, [start, start + length]]);
    const ranges = this.ranges;
    this.saving = this.saving.then(() => writeFileAtomic(`${this.file}.ranges`, JSON.stringify({ size: this.size, ranges }) + '\n'));
    await this.saving;
    return got;
  }

  async close(): Promise<void> {
    await this.saving;
    await this.handle.close();
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
