import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';
import { parseId, toJson } from '../core/ids.js';

/**
 * Who may talk to a local server. A server on a loopback port is reachable by every web page the
 * user opens: by a cross-origin fetch (blocked unless CORS allows it) and by DNS rebinding (a name
 * the attacker controls re-pointed at 127.0.0.1, which makes the request same-origin; only the Host
 * header gives it away). As Vite and Jupyter do, requests whose Host is not a loopback name, an IP
 * address or an allowed host are refused, and no origin is allowed by CORS unless configured.
 */
export interface AccessOptions {
  /** Extra Host names served (exact, or '.example.org' for the domain and its subdomains); 'all' turns the check off. */
  allowedHosts?: string[] | 'all';
  /** Origins allowed to read the API and the files cross-origin ('*' = any). Default: none (same origin only). */
  cors?: string[];
}

/** The host name of a Host header (no port, no IPv6 brackets, lower case). */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** Whether a request with this Host header is served. IP addresses cannot be rebound, names can. */
export function hostAllowed(header: string | undefined, allowed: AccessOptions['allowedHosts'] = []): boolean {
  if (allowed === 'all') return true;
  if (!header) return false;
  const name = hostName(header).replace(/\.$/, '');
  if (isIP(name)) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowed.some((a) => {
    const x = a.toLowerCase();
    return x.startsWith('.') ? name === x.slice(1) || name.endsWith(x) : name === x;
  });
}

/** The Access-Control-Allow-Origin value for a request's Origin, or undefined (no CORS). */
export function corsOrigin(origin: string | undefined, cors: string[] = []): string | undefined {
  if (cors.includes('*')) return '*';
  if (!origin) return undefined;
  return cors.some((c) => c.replace(/\/$/, '') === origin) ? origin : undefined;
}

/** Rows serialized per turn of the event loop when streaming a JSON list. */
export const STREAM_BATCH_ROWS = 256;

/**
 * `{...head, [key]: rows}` as JSON, produced lazily in batches with a turn of the event loop
 * between them, so a large answer neither blocks other requests nor holds its whole text in memory
 * (the stream follows the client's pace by backpressure).
 */
export function jsonListStream(head: Record<string, unknown>, key: string, rows: readonly unknown[]): Readable {
  async function* gen(): AsyncGenerator<string> {
    const fields = Object.entries(head).map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`);
    yield `{${[...fields, `${JSON.stringify(key)}:[`].join(',')}`;
    for (let i = 0; i < rows.length; i += STREAM_BATCH_ROWS) {
      if (i > 0) await nextTurn();
      yield (i > 0 ? ',' : '') + rows.slice(i, i + STREAM_BATCH_ROWS).map((r) => toJson(r)).join(',');
    }
    yield ']}';
  }
  return Readable.from(gen(), { objectMode: false });
}

/** An error answered with its HTTP status (the server's error handler). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A 64-bit id from a route parameter; 400 when it is not one. */
export function idParam(value: unknown, what: string): bigint {
  try {
    return parseId(String(value ?? ''), what);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

/** JSON with 64-bit ids as decimal strings. */
export function sendJson(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.header('Content-Type', 'application/json; charset=utf-8').send(toJson(value));
}
