import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RemoteMirror } from '../formats/remote/mirror.js';
import { HttpError, sendJson } from './http.js';
import { remoteLayerInfos, sendRemote } from './remote.js';
import type { RouteName } from './schema.js';
import { resolveUnder, sendFile } from './static.js';

type Get = (name: RouteName, handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) => unknown;

/**
 * The dataset's files: /api/layers (its precomputed layers and the remote ones), /data/<path>
 * (files with ranges and gzip; a remote layer's through its mirror), and the browser app at /.
 */

/** The precomputed layers of a dataset (sub-folders with an `info`), for the viewer to load. */
export async function listLayers(dataset: string): Promise<Array<{ name: string; type: string; data_type: string; voxel_size: number[]; size: number[]; voxel_offset: number[]; mesh: boolean; skeletons: boolean }>> {
  const out = [];
  for (const entry of (await readdir(dataset, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    let info: Record<string, any>;
    try {
      info = JSON.parse(await readFile(path.join(dataset, entry.name, 'info'), 'utf8'));
    } catch {
      continue;
    }
    if (!Array.isArray(info.scales) || !info.scales[0]) continue;
    out.push({
      name: entry.name,
      type: String(info.type),
      data_type: String(info.data_type),
      voxel_size: info.scales[0].resolution,
      size: info.scales[0].size,
      voxel_offset: Array.isArray(info.scales[0].voxel_offset) ? info.scales[0].voxel_offset : [0, 0, 0],
      mesh: typeof info.mesh === 'string',
      skeletons: typeof info.skeletons === 'string',
    });
  }
  return out;
}

/** The path of a wildcard route as sent (percent-encoded), without the query: decoded once, by resolveUnder. */
function rawRest(url: string, prefix: string): string {
  const p = url.split('?')[0].split('#')[0];
  return p.startsWith(prefix) ? p.slice(prefix.length) : p;
}

/** /api/layers and /data/<path>. */
export function registerFileRoutes(get: Get, dataset: string, remote: Record<string, RemoteMirror>): void {
  get('layers', async (_req, reply) => sendJson(reply, { layers: [...(await listLayers(dataset)), ...(await remoteLayerInfos(remote))] }));

  get('data', async (req, reply) => {
    // The raw path, decoded once here (a file named `a%20b` is asked for as /data/a%2520b).
    const rel = rawRest(req.raw.url ?? '', '/data/');
    const slash = rel.indexOf('/');
    const name = slash > 0 ? rel.slice(0, slash) : '';
    const proxied = Object.hasOwn(remote, name) ? remote[name] : undefined;
    if (proxied) {
      let inner: string;
      try {
        inner = decodeURIComponent(rel.slice(slash + 1));
      } catch {
        throw new HttpError(404, `not found: ${rel}`);
      }
      const sent = await sendRemote(req, reply, proxied, inner);
      if (!sent) throw new HttpError(404, `not found on the remote layer: ${rel}`);
      return sent;
    }
    const file = await resolveUnder(dataset, rel);
    if (!file) throw new HttpError(404, `not found: ${rel}`);
    return sendFile(req, reply, file);
  });
}

/** The built browser app at / (registered last: its wildcard answers what no other route does). */
export function registerAppRoute(app: FastifyInstance, appDirIn: string): void {
  if (!existsSync(appDirIn)) return;
  const appDir = path.resolve(appDirIn);
  app.get('/*', async (req, reply) => {
    const rel = rawRest(req.raw.url ?? '', '/') || 'index.html';
    // unknown API paths are errors, not the app's page
    if (rel === 'api' || rel.startsWith('api/')) throw new HttpError(404, `no such API path: /${rel}`);
    const file = (await resolveUnder(appDir, rel)) ?? (await resolveUnder(appDir, 'index.html'));
    if (!file) throw new HttpError(404, `not found: ${rel}`);
    return sendFile(req, reply, file);
  });
}
