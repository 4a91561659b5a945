import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { isIP } from 'node:net';
import { UsageError } from '../../core/errors.js';
import type { AccessOptions } from '../../server/http.js';
import { buildServer } from '../../server/app.js';
import { interactiveOptions } from '../interactive.js';
import { emit } from '../output.js';
import * as path from 'node:path';
import { PROOFREAD_DIR } from '../../stages/proofread/io.js';
import { ProofreadService } from '../../stages/proofread/service.js';

/** Where the built browser app lives (dist/web, built on install), if it was built. */
export function builtAppDir(): string | undefined {
  const dir = fileURLToPath(new URL('../../../dist/web', import.meta.url));
  return existsSync(dir) ? dir : undefined;
}

/** Start serving a dataset; returns the server and its URL. */
export async function startServer(dataset: string, opts: { port: number; host?: string; db?: string; token?: string } & AccessOptions): Promise<{ app: FastifyInstance; url: string }> {
  // A host name given to listen on is a name the server is reached by.
  const named = opts.host && !isIP(opts.host) && opts.host !== 'localhost' ? [opts.host] : [];
  const allowedHosts = opts.allowedHosts === 'all' ? 'all' : [...(opts.allowedHosts ?? []), ...named];
  // a dataset with proofread/ serves its versions; edits only with a token
  const proofread = existsSync(path.join(dataset, PROOFREAD_DIR, 'base.json')) ? await ProofreadService.open(dataset) : undefined;
  // a dataset with a raw layer gets the train-in-the-browser routes (writes only with the token)
  const interactive = await interactiveOptions(dataset, { token: opts.token });
  const app = await buildServer({ dataset, database: opts.db, appDir: builtAppDir(), allowedHosts, cors: opts.cors, proofread: proofread && { backend: proofread, token: opts.token }, interactive: interactive?.options });
  if (proofread) app.addHook('onClose', async () => proofread.close());
  if (interactive) app.addHook('onClose', async () => interactive.close());
  const url = await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  return { app, url };
}

/** Keep serving until Ctrl-C / SIGTERM, then close the server. */
export function serveUntilStopped(app: FastifyInstance): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => void app.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export function register(program: Command): Command {
  return program
    .command('serve')
    .description('serve a dataset: its precomputed layers (ranges, CORS, gzip), a JSON API over its connectome (/openapi.json), and the browser app')
    .argument('<dataset-dir>', 'the dataset folder (layers + connectome.duckdb)')
    .option('--port <p>', 'TCP port (0 = any free port)', '8080')
    .option('--host <h>', 'interface to listen on', '127.0.0.1')
    .option('--db <file>', 'connectome database (default <dataset-dir>/connectome.duckdb)')
    .option('--token <t>', 'accept proofreading edits (POST /api/proofread/edit/...) with Authorization: Bearer <t> (default $WIRING_EDIT_TOKEN; none = read-only)')
    .option('--allowed-hosts <names>', 'comma-separated Host names served besides loopback names and IP addresses (".example.org" = domain and subdomains; "all" = no check). Other Host headers get 403 (DNS rebinding)')
    .option('--cors <origins>', 'comma-separated origins allowed to read the API and files cross-origin, e.g. https://neuroglancer-demo.appspot.com ("*" = any page); default none')
    .option('--json', 'machine-readable output')
    .action(async (dataset: string, opts) => {
      const token: string | undefined = opts.token ?? (process.env.WIRING_EDIT_TOKEN || undefined);
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${opts.port}: expected 0..65535`);
      const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map((x) => x.trim()).filter(Boolean));
      const hosts = list(opts.allowedHosts);
      const { app, url: address } = await startServer(dataset, { port, host: opts.host, db: opts.db, token, allowedHosts: hosts?.includes('all') ? 'all' : hosts, cors: list(opts.cors) });
      emit(opts, { url: address, dataset, api: `${address}/openapi.json`, data: `${address}/data/` }, () =>
        `serving ${dataset} at ${address}  (API: ${address}/openapi.json, layers: ${address}/data/<layer>)\npress Ctrl-C to stop`,
      );
      await serveUntilStopped(app);
    });
}
