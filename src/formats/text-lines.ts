/**
 * Text tables read line by line (SWC, edge lists): the file is streamed (gunzipped on the fly
 * when it starts with the gzip magic), never held whole, so memory follows the line being parsed
 * plus what the caller keeps. Hostile input stays bounded: a line longer than
 * TEXT_LINE_LIMITS.maxLineBytes, or gzip data inflating more than TEXT_LINE_LIMITS.gzipRatio times
 * once past TEXT_LINE_LIMITS.gzipFloor bytes (a gzip bomb), is a FormatError naming the file.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { FormatError, UsageError } from '../core/errors.js';

export const TEXT_LINE_LIMITS = {
  /** Longest line (bytes); a file without line breaks is refused here instead of held whole. */
  maxLineBytes: 1024 * 1024,
  /** Largest inflation of gzip data accepted past `gzipFloor` (real text tables: < 20). */
  gzipRatio: 200,
  /** Inflated bytes always accepted, whatever the ratio. */
  gzipFloor: 64 * 1024 * 1024,
} as const;

/** A path given as an input file must be a readable file (not a folder): UsageError naming it. */
export async function checkInputFile(file: string): Promise<number> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (err) {
    throw new UsageError((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read: ${(err as Error).message}`, file);
  }
  if (st.isDirectory()) throw new UsageError('is a folder; expected a file', file);
  return st.size;
}

/** Whether a file starts with the gzip magic bytes. */
export async function startsWithGzipMagic(file: string): Promise<boolean> {
  const h = await fs.open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await h.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await h.close();
  }
}

/** The lines of a text file (1-based numbers; `\r\n` or `\n`; a UTF-8 BOM dropped), streamed. */
export async function* readLines(file: string): AsyncGenerator<{ n: number; text: string }> {
  const size = await checkInputFile(file);
  const gz = await startsWithGzipMagic(file);
  const raw = createReadStream(file);
  const stream = gz ? raw.pipe(createGunzip()) : raw;
  if (gz) raw.on('error', (err) => stream.destroy(err));
  const inflateLimit = Math.max(TEXT_LINE_LIMITS.gzipFloor, size * TEXT_LINE_LIMITS.gzipRatio);
  let inflated = 0;
  let n = 0;
  let parts: Buffer[] = [];
  let partBytes = 0;
  const line = (buf: Buffer): { n: number; text: string } => {
    let text = buf.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (++n === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { n, text };
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (gz) {
        inflated += chunk.length;
        if (inflated > inflateLimit) {
          throw new FormatError(`gzip data inflates more than ${TEXT_LINE_LIMITS.gzipRatio} times its ${size} bytes past ${TEXT_LINE_LIMITS.gzipFloor} bytes (a gzip bomb)`, file);
        }
      }
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl < 0) break;
        const piece = chunk.subarray(start, nl);
        const whole = partBytes ? Buffer.concat([...parts, piece]) : piece;
        parts = [];
        partBytes = 0;
        if (whole.length > TEXT_LINE_LIMITS.maxLineBytes) throw new FormatError(`line ${n + 1} is longer than ${TEXT_LINE_LIMITS.maxLineBytes} bytes`, file);
        yield line(whole);
        start = nl + 1;
      }
      if (start < chunk.length) {
        parts.push(chunk.subarray(start));
        partBytes += chunk.length - start;
        if (partBytes > TEXT_LINE_LIMITS.maxLineBytes) throw new FormatError(`line ${n + 1} is longer than ${TEXT_LINE_LIMITS.maxLineBytes} bytes`, file);
      }
    }
  } catch (err) {
    if (err instanceof FormatError) throw err;
    if (gz && (err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new FormatError(`gzip data does not decompress (${(err as Error).message})`, file);
    throw new UsageError(`cannot read: ${(err as Error).message}`, file);
  } finally {
    stream.destroy();
    raw.destroy();
  }
  if (partBytes) yield line(Buffer.concat(parts));
}
