import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { WiringError } from '../core/errors.js';
import { parseId, toJson } from '../core/ids.js';
import { cells, connections, synapseQuery, typeMatrix, type MatrixMeasure } from '../connectome/query.js';
import { ConnectomeStore } from '../connectome/store.js';
import { openapiDocument } from './openapi.js';
import { PartnerIndex } from './partners.js';
import { SynapseAnnotations } from './annotations.js';
import { resolveUnder, sendFile } from './static.js';
import { registerProofreadRoutes, type ProofreadRouteOptions } from './proofread.js';

export interface ServerOptions {
  /** The dataset folder: precomputed layers, connectome.duckdb, tables. */
  dataset: string;
  /** The connectome database (default <dataset>/connectome.duckdb, when present). */
  database?: string;
  /** Folder of the built browser app served at / (optional). */
  appDir?: string;
  logger?: boolean;
  /** Index (pre, post) connections in memory for /api/cells/:id/partners up to this many pairs (default 5e6; 0 = always SQL). */
  partnerIndexMaxPairs?: number;
  /** Proofreading routes (/api/proofread/...): the proofread stage's service and the edit token. */
  proofread?: ProofreadRouteOptions;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function idParam(value: unknown, what: string): bigint {
  try {
    return parseId(String(value ?? ''), what);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

function intParam(value: unknown, what: string, dflt: number, max: number): number {
  if (value === undefined || value === '') return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new HttpError(400, `${what}: expected a whole number >= 0, got ${JSON.stringify(value)}`);
  return Math.min(n, max);
}

function boxParam(value: unknown): { min: [number, number, number]; max: [number, number, number] } {
  const parts = String(value ?? '').split(',').map(Number);
  if (parts.length !== 6 || parts.some((p) => !Number.isFinite(p))) {
    throw new HttpError(400, `box: expected x0,y0,z0,x1,y1,z1 in nm, got ${JSON.stringify(value)}`);
  }
  return { min: [parts[0], parts[1], parts[2]], max: [parts[3], parts[4], parts[5]] };
}

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

const indexReady = new WeakMap<FastifyInstance, Promise<void>>();

/** Resolves once the server's in-memory partner index is built (or was skipped / failed). */
export function partnerIndexReady(app: FastifyInstance): Promise<void> {
  return indexReady.get(app) ?? Promise.resolve();
}

/** JSON with 64-bit ids as decimal strings. */
function sendJson(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.header('Content-Type', 'application/json; charset=utf-8').send(toJson(value));
}

/**
 * The Wiring HTTP server: the dataset's files (precomputed layers with ranges, CORS and gzip
 * encoding) under /data/, a JSON API over the connectome under /api/, its OpenAPI document at
 * /openapi.json, and the browser app at / when built.
 */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const dataset = path.resolve(opts.dataset);
  if (!existsSync(dataset)) throw new WiringError('dataset folder not found', dataset);
  const dbFile = opts.database ?? path.join(dataset, 'connectome.duckdb');
  // Read-only: DuckDB allows one writing process per file, and the server never writes.
  const store = existsSync(dbFile) ? await ConnectomeStore.open(dbFile, { readOnly: true }) : undefined;
  const app = Fastify({ logger: opts.logger ?? false });
  const maxPairs = opts.partnerIndexMaxPairs ?? 5_000_000;
  // Built in the background from start-up; requests before it is ready (or if it fails) use SQL.
  let partnerIndex: PartnerIndex | null = null;
  const partnerIndexReady = store && maxPairs > 0
    ? PartnerIndex.build(store, maxPairs).then((ix) => void (partnerIndex = ix), (err) => app.log.warn(`partner index not built: ${(err as Error).message}`))
    : Promise.resolve();
  let synapseAnnotations: SynapseAnnotations | null = null;
  const annotationsReady = store
    ? SynapseAnnotations.build(store).then((a) => void (synapseAnnotations = a), (err) => app.log.warn(`synapse annotations not built: ${(err as Error).message}`))
    : Promise.resolve();
  indexReady.set(app, Promise.all([partnerIndexReady, annotationsReady]).then(() => undefined));

  app.addHook('onRequest', async (req, reply) => {
    reply.header('Access-Control-Allow-Origin', '*');
    reply.header('Access-Control-Allow-Headers', 'Range, Content-Type');
    reply.header('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Content-Encoding, Accept-Ranges');
    if (req.method === 'OPTIONS') {
      reply.header('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
      return reply.code(204).send();
    }
  });
  app.addHook('onClose', async () => {
    await partnerIndexReady;
    await annotationsReady;
    await store?.close();
  });
  app.setErrorHandler((error, _req, reply) => {
    const err = error instanceof Error ? error : new Error(String(error));
    const status = err instanceof HttpError ? err.status : err instanceof WiringError ? 400 : (err as { statusCode?: number }).statusCode ?? 500;
    return sendJson(reply.code(status), { error: err.message });
  });

  const needStore = (): ConnectomeStore => {
    if (!store) throw new HttpError(404, `this dataset has no connectome database (${path.basename(dbFile)})`);
    return store;
  };

  app.get('/api/layers', async (_req, reply) => sendJson(reply, { layers: await listLayers(dataset) }));

  app.get('/openapi.json', async (_req, reply) => sendJson(reply, openapiDocument()));

  app.get('/api/cells', async (req, reply) => {
    const q = req.query as Record<string, string>;
    const limit = intParam(q.limit, 'limit', 10000, 100000);
    const offset = intParam(q.offset, 'offset', 0, Number.MAX_SAFE_INTEGER);
    let rows = await cells(needStore(), { cellType: q.cell_type || undefined });
    if (q.search) {
      const s = q.search.toLowerCase();
      rows = rows.filter((c) => c.pt_root_id.toString().includes(s) || (c.cell_type ?? '').toLowerCase().includes(s) || (c.name ?? '').toLowerCase().includes(s));
    }
    return sendJson(reply, { total: rows.length, cells: rows.slice(offset, offset + limit) });
  });

  // The cells as a Neuroglancer segment property map (precomputed `neuroglancer_segment_properties`),
  // used by the viewer as a second source of the cell segmentation layer: labels and search by type.
  app.get('/api/segment_properties/info', async (_req, reply) => {
    const rows = store ? await cells(store) : [];
    return sendJson(reply, {
      '@type': 'neuroglancer_segment_properties',
      inline: {
        ids: rows.map((c) => c.pt_root_id.toString()),
        properties: [
          { id: 'label', type: 'label', values: rows.map((c) => [c.name, c.cell_type].filter(Boolean).join(' ') ) },
          { id: 'description', type: 'description', values: rows.map((c) => [c.cell_type ? `type ${c.cell_type}` : '', c.pt_position ? `soma [${c.pt_position.map((v) => Math.round(v)).join(', ')}] nm` : ''].filter(Boolean).join(', ')) },
        ],
      },
    });
  });

  // The synapses as a precomputed annotation source: precomputed://<server>/api/annotations/synapses
  const annotations = async (): Promise<SynapseAnnotations> => {
    await annotationsReady;
    if (!synapseAnnotations) throw new HttpError(404, store ? 'too many synapses for the in-memory annotation index' : `this dataset has no connectome database (${path.basename(dbFile)})`);
    return synapseAnnotations;
  };
  const sendBinary = (reply: FastifyReply, b: Buffer | null, what: string) => {
    if (!b) throw new HttpError(404, `no annotations: ${what}`);
    return reply.header('Content-Type', 'application/octet-stream').send(b);
  };
  app.get('/api/annotations/synapses/info', async (_req, reply) => sendJson(reply, (await annotations()).info()));
  app.get('/api/annotations/synapses/spatial0/:key', async (req, reply) => {
    const key = (req.params as { key: string }).key;
    if (!/^\d+_\d+_\d+$/.test(key)) throw new HttpError(400, `chunk key: expected i_j_k, got ${JSON.stringify(key)}`);
    return sendBinary(reply, (await annotations()).spatialChunk(key), key);
  });
  for (const rel of ['pre', 'post'] as const) {
    app.get(`/api/annotations/synapses/${rel}/:id`, async (req, reply) => {
      const id = idParam((req.params as { id: string }).id, 'segment id');
      return sendBinary(reply, (await annotations()).related(rel, id), `${rel} ${id}`);
    });
  }
  app.get('/api/annotations/synapses/by_id/:id', async (req, reply) => {
    const id = idParam((req.params as { id: string }).id, 'synapse id');
    return sendBinary(reply, (await annotations()).byIdEntry(id), `synapse ${id}`);
  });

  app.get('/api/cells/:id', async (req, reply) => {
    const id = idParam((req.params as { id: string }).id, 'cell id');
    const [cell] = await cells(needStore(), { ids: [id] });
    if (!cell) throw new HttpError(404, `no cell ${id}`);
    return sendJson(reply, cell);
  });

  app.get('/api/cells/:id/partners', async (req, reply) => {
    const id = idParam((req.params as { id: string }).id, 'cell id');
    const s = needStore();
    if (partnerIndex) return sendJson(reply, { id, ...partnerIndex.partners(id) });
    const [inputs, outputs] = [await connections(s, { post_ids: [id] }), await connections(s, { pre_ids: [id] })];
    const ids = [...new Set([...inputs.map((c) => c.pre_pt_root_id), ...outputs.map((c) => c.post_pt_root_id)])];
    const types = new Map((await cells(s, { ids })).map((c) => [c.pt_root_id, c.cell_type]));
    return sendJson(reply, {
      id,
      inputs: inputs.map((c) => ({ id: c.pre_pt_root_id, cell_type: types.get(c.pre_pt_root_id) ?? null, count: c.count, size_sum: c.size_sum })),
      outputs: outputs.map((c) => ({ id: c.post_pt_root_id, cell_type: types.get(c.post_pt_root_id) ?? null, count: c.count, size_sum: c.size_sum })),
    });
  });

  for (const dir of ['inputs', 'outputs'] as const) {
    app.get(`/api/cells/:id/${dir}`, async (req, reply) => {
      const id = idParam((req.params as { id: string }).id, 'cell id');
      const q = req.query as Record<string, string>;
      const limit = intParam(q.limit, 'limit', 100000, 1000000);
      const rows = await synapseQuery(needStore(), dir === 'inputs' ? { post_ids: [id], limit } : { pre_ids: [id], limit });
      return sendJson(reply, { id, synapses: rows });
    });
  }

  app.get('/api/connectivity', async (req, reply) => {
    const q = req.query as Record<string, string>;
    const measure = (q.measure ?? 'count') as MatrixMeasure;
    if (!['count', 'binary', 'size'].includes(measure)) throw new HttpError(400, `measure: expected count, binary or size, got ${JSON.stringify(q.measure)}`);
    return sendJson(reply, await typeMatrix(needStore(), { measure }));
  });

  app.get('/api/synapses', async (req, reply) => {
    const q = req.query as Record<string, string>;
    const limit = intParam(q.limit, 'limit', 10000, 1000000);
    const box = q.box === undefined ? undefined : boxParam(q.box);
    return sendJson(reply, { synapses: await synapseQuery(needStore(), { box, limit }) });
  });

  app.get('/api/sizes', async (req, reply) => {
    const q = req.query as Record<string, string>;
    const bins = intParam(q.bins, 'bins', 30, 1000) || 30;
    const rows = await needStore().all(
      `WITH s AS (SELECT size FROM synapses WHERE size IS NOT NULL), r AS (SELECT min(size) lo, max(size) hi, count(*) n FROM s)
       SELECT lo, hi, n, least(${bins - 1}, CAST(floor((size - lo) / greatest(hi - lo, 1e-12) * ${bins}) AS INTEGER)) AS b, count(*) AS c
       FROM s, r GROUP BY ALL ORDER BY b`,
    );
    const counts = new Array(bins).fill(0);
    for (const r of rows) counts[Number(r.b)] += Number(r.c);
    const lo = rows.length ? Number(rows[0].lo) : 0;
    const hi = rows.length ? Number(rows[0].hi) : 0;
    return sendJson(reply, { bins, min: lo, max: hi, counts });
  });

  app.get('/data/*', async (req, reply) => {
    const rel = (req.params as { '*': string })['*'];
    const file = await resolveUnder(dataset, rel);
    if (!file) throw new HttpError(404, `not found: ${rel}`);
    return sendFile(req, reply, file);
  });

  if (opts.proofread) registerProofreadRoutes(app, opts.proofread);

  if (opts.appDir && existsSync(opts.appDir)) {
    const appDir = path.resolve(opts.appDir);
    app.get('/*', async (req, reply) => {
      const rel = (req.params as { '*': string })['*'] || 'index.html';
      // unknown API paths are errors, not the app's page
      if (rel === 'api' || rel.startsWith('api/')) throw new HttpError(404, `no such API path: /${rel}`);
      const file = (await resolveUnder(appDir, rel)) ?? (await resolveUnder(appDir, 'index.html'));
      if (!file) throw new HttpError(404, `not found: ${rel}`);
      return sendFile(req, reply, file);
    });
  }
  return app;
}
