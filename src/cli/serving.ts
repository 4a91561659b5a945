/** Starting and stopping the dataset server (used by `serve` and the demo). */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { AccessOptions } from '../server/http.js';
import { UsageError } from '../core/errors.js';
import { isSafeKey } from '../core/safe-path.js';
import { RemoteMirror } from '../formats/remote/mirror.js';
import { buildServer } from '../server/app.js';
import { PROOFREAD_DIR } from '../stages/proofread/io.js';
import { ProofreadService } from '../stages/proofread/service.js';
import { interactiveOptions } from './interactive.js';
import { derivingBackend } from './proofread-derive.js';

/** Where the built browser app lives (dist/web, built on install), if it was built. */
export function builtAppDir(): string | undefined {
  const dir = fileURLToPath(new URL('../../dist/web', import.meta.url));
  return existsSync(dir) ? dir : undefined;
}

/** Start serving a dataset; returns the server and its URL. */
export async function startServer(
  dataset: string,
  opts: { port: number; host?: string; db?: string; token?: string; remote?: Record<string, string> } & AccessOptions,
): Promise<{ app: FastifyInstance; url: string }> {
  // A host name given to listen on is a name the server is reached by.
  const named = opts.host && !isIP(opts.host) && opts.host !== 'localhost' ? [opts.host] : [];
  const allowedHosts = opts.allowedHosts === 'all' ? 'all' : [...(opts.allowedHosts ?? []), ...named];
  // a dataset with proofread/ serves its versions; edits only with a token
  const proofread = existsSync(path.join(dataset, PROOFREAD_DIR, 'base.json')) ? await ProofreadService.open(dataset) : undefined;
  // a dataset with a raw layer gets the train-in-the-browser routes (writes only with the token)
  const interactive = await interactiveOptions(dataset, { token: opts.token });
  const remote = await openRemoteLayers(dataset, opts.remote ?? {});
  const app = await buildServer({ dataset, database: opts.db, appDir: builtAppDir(), allowedHosts, cors: opts.cors, proofread: proofread && { backend: derivingBackend(proofread), token: opts.token, statusesToStore: true }, interactive: interactive?.options, remote });
  if (proofread) app.addHook('onClose', async () => proofread.close());
  if (interactive) app.addHook('onClose', async () => interactive.close());
  const url = await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  return { app, url };
}

/** Open the mirrors of `serve --remote name=URL` layers, checking each URL holds a layer or store. */
async function openRemoteLayers(dataset: string, given: Record<string, string>): Promise<Record<string, RemoteMirror>> {
  const out: Record<string, RemoteMirror> = {};
  for (const [name, url] of Object.entries(given)) {
    if (!isSafeKey(name) || name.includes('/')) throw new UsageError(`--remote ${name}=...: a layer name is one folder name ([A-Za-z0-9._+@=,-])`);
    if (existsSync(path.join(dataset, name))) throw new UsageError(`--remote ${name}=...: the dataset already has a layer '${name}'`, dataset);
    const m = await RemoteMirror.open(url);
    let found: string | undefined;
    for (const f of ['info', '.zarray', 'zarr.json', '.zattrs', 'attributes.json']) {
      if (await m.file(f, 16 << 20, true)) {
        found = f;
        break;
      }
    }
    if (!found) throw new UsageError(`--remote ${name}=${url}: no precomputed info, Zarr or N5 metadata at this URL`);
    out[name] = m;
  }
  return out;
}

/** Keep serving until Ctrl-C / SIGTERM, then close the server. */
export function serveUntilStopped(app: FastifyInstance): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => void app.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
