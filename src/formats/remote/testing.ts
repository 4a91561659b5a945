import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

/**
 * A static HTTP server over a folder for the remote-source tests, with the faults of real
 * object stores: latency, 500s and dropped connections for the first requests of a path,
 * refused (403) paths, and byte-range requests (206 + Content-Range). Every request is logged.
 */
export interface Faults {
  latencyMs?: number;
  /** Answer the first N requests of each path with HTTP 500. */
  fail500?: number;
  /** Drop the connection (no response) on the first N requests of each path, after the 500s. */
  drop?: number;
  /** Paths (prefixes, after the leading /) answered with 403. */
  forbidden?: string[];
  /** Paths that never answer (for timeouts). */
  hang?: string[];
  /** Ignore Range headers (send the whole object with 200). */
  noRanges?: boolean;
}

export interface TestServer {
  url: string;
  log: Array<{ path: string; range?: string; status: number }>;
  faults: Faults;
  close(): Promise<void>;
}

export async function serveFolder(root: string, faults: Faults = {}): Promise<TestServer> {
  const seen = new Map<string, number>();
  const log: TestServer['log'] = [];
  const hung: http.ServerResponse[] = [];
  const server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\/+/, '');
    const range = req.headers.range;
    const n = (seen.get(rel) ?? 0) + 1;
    seen.set(rel, n);
    const f = server_faults;
    if (f.latencyMs) await new Promise((r) => setTimeout(r, f.latencyMs));
    const done = (status: number) => log.push({ path: rel, range, status });
    if (f.hang?.some((p) => rel.startsWith(p))) {
      hung.push(res);
      done(0);
      return;
    }
    if (f.forbidden?.some((p) => rel.startsWith(p))) {
      done(403);
      res.writeHead(403).end('forbidden');
      return;
    }
    if (n <= (f.fail500 ?? 0)) {
      done(500);
      res.writeHead(500).end('try again');
      return;
    }
    if (n <= (f.fail500 ?? 0) + (f.drop ?? 0)) {
      done(-1);
      req.socket.destroy();
      return;
    }
    const file = path.join(root, rel);
    if (!path.resolve(file).startsWith(path.resolve(root))) {
      done(404);
      res.writeHead(404).end();
      return;
    }
    let body: Buffer;
    try {
      body = await fs.readFile(file);
    } catch {
      done(404);
      res.writeHead(404).end();
      return;
    }
    const m = range && !f.noRanges ? /^bytes=(\d+)-(\d+)$/.exec(range) : null;
    if (m) {
      const a = Number(m[1]);
      const b = Math.min(Number(m[2]), body.length - 1);
      if (a >= body.length) {
        done(416);
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      done(206);
      res.writeHead(206, { 'Content-Range': `bytes ${a}-${b}/${body.length}`, 'Content-Length': b - a + 1 }).end(body.subarray(a, b + 1));
      return;
    }
    done(200);
    res.writeHead(200, { 'Content-Length': body.length }).end(body);
  });
  const server_faults = faults;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    faults,
    close: () =>
      new Promise<void>((r) => {
        for (const h of hung) h.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Test servers closed together (in afterEach): `serve` starts one and remembers it. */
export function serverPool(): { serve(root: string, faults?: Faults): Promise<TestServer>; closeAll(): Promise<void> } {
  const open: TestServer[] = [];
  return {
    async serve(root, faults = {}) {
      const s = await serveFolder(root, faults);
      open.push(s);
      return s;
    },
    async closeAll() {
      while (open.length) await open.pop()!.close();
    },
  };
}
