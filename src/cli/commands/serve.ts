import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { emit } from '../output.js';
import { builtAppDir, serveUntilStopped, startServer } from '../serving.js';

export { builtAppDir, serveUntilStopped, startServer }; // their old home: other commands import them from ../serving.js

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
    .option('--remote <name=url>', 'also serve a remote layer (precomputed, Zarr, N5 over https://, gs://, s3://) as /data/<name>, fetched once into the on-disk cache ($WIRING_CACHE); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'machine-readable output')
    .action(async (dataset: string, opts) => {
      const remote: Record<string, string> = {};
      for (const r of opts.remote as string[]) {
        const eq = r.indexOf('=');
        if (eq <= 0) throw new UsageError(`--remote ${r}: expected name=URL`);
        remote[r.slice(0, eq)] = r.slice(eq + 1);
      }
      const token: string | undefined = opts.token ?? (process.env.WIRING_EDIT_TOKEN || undefined);
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${opts.port}: expected 0..65535`);
      const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map((x) => x.trim()).filter(Boolean));
      const hosts = list(opts.allowedHosts);
      const { app, url: address } = await startServer(dataset, { port, host: opts.host, db: opts.db, token, allowedHosts: hosts?.includes('all') ? 'all' : hosts, cors: list(opts.cors), remote });
      emit(opts, { url: address, dataset, api: `${address}/openapi.json`, data: `${address}/data/` }, () =>
        `serving ${dataset} at ${address}  (API: ${address}/openapi.json, layers: ${address}/data/<layer>)\npress Ctrl-C to stop`,
      );
      await serveUntilStopped(app);
    });
}
