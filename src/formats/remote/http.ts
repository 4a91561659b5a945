import { FormatError } from '../../core/errors.js';

/**
 * Read-only HTTP(S) access to one remote dataset: whole objects and byte ranges, with
 *
 *  - a bounded pool: at most `concurrency` requests in flight (others wait their turn);
 *  - retries with exponential backoff (+ jitter) on network errors, timeouts, 429 and 5xx;
 *  - a size cap on every response (a body larger than the caller's bound is an error, read no
 *    further), so a hostile or broken server cannot fill memory;
 *  - clear errors: 404 is "absent" (undefined: a missing chunk reads as zeros, as Neuroglancer
 *    does), 401/403 say access was refused, other statuses and timeouts name the URL.
 */

export interface HttpOptions {
  concurrency?: number;
  retries?: number;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
  /** First backoff, ms (doubles each retry). */
  backoffMs?: number;
}

export const HTTP_DEFAULTS: Required<HttpOptions> = { concurrency: 8, retries: 4, timeoutMs: 30_000, backoffMs: 200 };

export class HttpError extends FormatError {}

export interface HttpStats {
  requests: number;
  retries: number;
  bytes: number;
}

export class HttpClient {
  readonly opts: Required<HttpOptions>;
  readonly stats: HttpStats = { requests: 0, retries: 0, bytes: 0 };
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(opts: HttpOptions = {}) {
    this.opts = { ...HTTP_DEFAULTS, ...opts };
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.opts.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** The whole object (undefined on 404). `maxBytes` bounds the body. */
  get(url: string, maxBytes: number): Promise<Uint8Array | undefined> {
    return this.request(url, undefined, maxBytes);
  }

  /** Bytes [start, start + length) of an object (undefined on 404). */
  getRange(url: string, start: number, length: number): Promise<Uint8Array | undefined> {
    if (length === 0) return Promise.resolve(new Uint8Array(0));
    return this.request(url, [start, length], length);
  }

  /** The size of an object in bytes (undefined on 404), from a one-byte range request. */
  async size(url: string): Promise<number | undefined> {
    return this.slot(() =>
      this.withRetries(url, async (signal) => {
        const res = await fetch(url, { headers: { Range: 'bytes=0-0', 'Accept-Encoding': 'identity' }, signal });
        this.stats.requests++;
        if (res.status === 404) {
          await res.body?.cancel();
          return undefined;
        }
        this.checkStatus(res, url);
        const cr = res.headers.get('content-range');
        await res.body?.cancel();
        const m = cr ? /\/(\d+)\s*$/.exec(cr) : null;
        if (m) return Number(m[1]);
        const len = res.headers.get('content-length');
        if (res.status === 200 && len !== null) return Number(len);
        throw new HttpError(`cannot tell the object's size (no Content-Range / Content-Length)`, url);
      }),
    );
  }

  private checkStatus(res: Response, url: string): void {
    if (res.status === 401 || res.status === 403) throw new HttpError(`access refused (HTTP ${res.status}); only public data can be read: is the URL right?`, url);
    if (res.status === 429 || res.status >= 500) throw new Retryable(`HTTP ${res.status}`);
    if (res.status !== 200 && res.status !== 206) throw new HttpError(`HTTP ${res.status} ${res.statusText}`, url);
  }

  private request(url: string, range: [number, number] | undefined, maxBytes: number): Promise<Uint8Array | undefined> {
    return this.slot(() =>
      this.withRetries(url, async (signal) => {
        const headers: Record<string, string> = {};
        if (range) {
          headers.Range = `bytes=${range[0]}-${range[0] + range[1] - 1}`;
          headers['Accept-Encoding'] = 'identity';
        }
        const res = await fetch(url, { headers, signal });
        this.stats.requests++;
        if (res.status === 404) {
          await res.body?.cancel();
          return undefined;
        }
        this.checkStatus(res, url);
        // a server that ignores Range sends the whole object: take the range from it (bounded)
        const whole = range !== undefined && res.status === 200;
        const cap = whole ? range[0] + range[1] : maxBytes;
        const len = res.headers.get('content-length');
        if (len !== null && !whole && Number(len) > cap && !res.headers.get('content-encoding')) {
          await res.body?.cancel();
          throw new HttpError(`response of ${len} bytes is larger than the ${cap} expected`, url);
        }
        const body = await readCapped(res, cap, url, whole);
        this.stats.bytes += body.byteLength;
        if (range && whole) return body.subarray(range[0], range[0] + range[1]);
        if (range && body.byteLength !== range[1]) throw new Retryable(`range response has ${body.byteLength} bytes, expected ${range[1]}`);
        return body;
      }),
    );
  }

  private async withRetries<T>(url: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        const wait = this.opts.backoffMs * 2 ** (attempt - 1) * (0.75 + 0.5 * Math.random());
        await new Promise((r) => setTimeout(r, wait));
      }
      try {
        return await fn(AbortSignal.timeout(this.opts.timeoutMs));
      } catch (err) {
        if (err instanceof HttpError) throw err;
        lastError = err;
        // a host name that does not resolve will not resolve on a retry either
        if ((err as { cause?: { code?: string } })?.cause?.code === 'ENOTFOUND') break;
      }
    }
    const e = lastError as Error & { cause?: { code?: string } };
    const why =
      e?.name === 'TimeoutError' || e?.name === 'AbortError'
        ? `timed out after ${this.opts.timeoutMs} ms`
        : e instanceof Retryable
          ? e.message
          : `${e?.message ?? e}${e?.cause?.code ? ` (${e.cause.code})` : ''}`;
    throw new HttpError(e?.cause?.code === 'ENOTFOUND' ? `${why}: no such host (is this machine online?)` : `${why}, still failing after ${this.opts.retries} retries`, url, { cause: lastError });
  }
}

/** A failure worth another try (5xx, 429, a short body). */
class Retryable extends Error {}

async function readCapped(res: Response, cap: number, url: string, truncate: boolean): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    parts.push(value);
    if (total > cap) {
      await reader.cancel();
      if (truncate) break;
      throw new HttpError(`response is larger than the ${cap} bytes expected`, url);
    }
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
