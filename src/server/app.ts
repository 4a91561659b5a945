import { existsSync } from 'node:fs';
import * as path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { WiringError } from '../core/errors.js';
import { cells, connections, synapseSource, typeMatrix, type MatrixMeasure, type SynapseQuery } from '../connectome/query.js';
import { organelleRows } from '../connectome/annotate-tables.js';
import { ConnectomeStore } from '../connectome/store.js';
import { openapiDocument } from './openapi.js';
import { PartnerIndex } from './partners.js';
import { SynapseAnnotations } from './annotations.js';
import { HttpError, corsOrigin, hostAllowed, hostName, idParam, jsonListStream, sendJson, type AccessOptions } from './http.js';
import { API_PAGE, fastifyPath, routes, type components, type RouteName, type Wire } from './schema.js';
import { INTERACTIVE_OPENAPI_PATHS, registerInteractiveRoutes, type InteractiveRouteOptions } from './interactive.js';
import { PROOFREAD_OPENAPI_PATHS, registerProofreadRoutes, type ProofreadRouteOptions } from './proofread.js';
import type { RemoteMirror } from '../formats/remote/mirror.js';
import { registerAppRoute, registerFileRoutes } from './routes-files.js';
import { registerSynapseAnnotationRoutes } from './routes-annotations.js';

export interface ServerOptions extends AccessOptions {
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
  /** Train-in-the-browser routes (/api/interactive, /api/recut, /api/runs): the stages' services and the token. */
  interactive?: InteractiveRouteOptions;
  /** Remote layers served under /data/<name>/ through their on-disk mirrors (./remote.ts). */
  remote?: Record<string, RemoteMirror>;
}

function intParam(value: unknown, what: string, dflt: number, max: number): number {
  if (value === undefined || value === '') return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new HttpError(400, `${what}: expected a whole number >= 0, got ${JSON.stringify(value)}`);
  return Math.min(n, max);
}

/** Largest |coordinate| a box may have (nm): 10^15 nm = 1000 km, beyond any volume. */
export const BOX_MAX_NM = 1e15;

export function boxParam(value: unknown): { min: [number, number, number]; max: [number, number, number] } {
  const text = String(value ?? '');
  const parts = text.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
  if (parts.length !== 6 || parts.some((p) => !Number.isFinite(p))) {
    throw new HttpError(400, `box: expected x0,y0,z0,x1,y1,z1 in nm, got ${JSON.stringify(value)}`);
  }
  const bad = parts.findIndex((p) => Math.abs(p) > BOX_MAX_NM);
  if (bad >= 0) throw new HttpError(400, `box: value ${text.split(',')[bad]} (${'x0 y0 z0 x1 y1 z1'.split(' ')[bad]}) is out of range: |value| <= ${BOX_MAX_NM} nm`);
  return { min: [parts[0], parts[1], parts[2]], max: [parts[3], parts[4], parts[5]] };
}

function vecOf(r: Record<string, unknown>, p: string): [number, number, number] | null {
  const x = r[`${p}_x`];
  if (x === null || x === undefined) return null;
  return [Number(x), Number(r[`${p}_y`]), Number(r[`${p}_z`])];
}

/** A synapse row as the API's Synapse (src/server/schema.ts). */
function synapseOut(r: Record<string, unknown>): Wire<(typeof components)['Synapse']> {
  return {
    id: String(r.id),
    pre_pt_root_id: String(r.pre_pt_root_id),
    post_pt_root_id: String(r.post_pt_root_id),
    pre_pt_position: vecOf(r, 'pre_pt_position'),
    post_pt_position: vecOf(r, 'post_pt_position'),
    ctr_pt_position: vecOf(r, 'ctr_pt_position'),
    size: r.size === null || r.size === undefined ? null : Number(r.size),
    synapse_type: (r.synapse_type as string | null | undefined) ?? null,
  };
}

/**
 * One page of synapses under a filter, ordered by id: `limit` rows with id > `after`, the total
 * matching the filter, and the cursor of the next page.
 */
async function synapsePage(store: ConnectomeStore, q: SynapseQuery, limit: number, after: bigint | undefined) {
  const b = await synapseSource(store, q);
  const where = [...b.where];
  const params = [...b.params];
  const total = Number((await store.all(`SELECT count(*) AS n FROM ${b.from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, params))[0].n);
  if (after !== undefined) {
    params.push(after.toString());
    where.push(`s.id > $${params.length}::UBIGINT`);
  }
  const rows = limit === 0 ? [] : await store.all(`SELECT s.* FROM ${b.from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.id LIMIT ${limit + 1}`, params);
  const more = rows.length > limit;
  const page = rows.slice(0, limit).map(synapseOut);
  return { total, next: more && page.length ? page[page.length - 1].id : null, synapses: page };
}

const registered = new WeakMap<FastifyInstance, Array<{ method: string; url: string }>>();

/** The routes a server registered (method and Fastify path), for checking them against the schema. */
export function registeredRoutes(app: FastifyInstance): Array<{ method: string; url: string }> {
  return registered.get(app) ?? [];
}

const indexReady = new WeakMap<FastifyInstance, Promise<void>>();

/** Resolves once the server's in-memory partner index is built (or was skipped / failed). */
export function partnerIndexReady(app: FastifyInstance): Promise<void> {
  return indexReady.get(app) ?? Promise.resolve();
}


/**
 * The Wiring HTTP server: the dataset's files (precomputed layers with ranges and gzip encoding)
 * under /data/, a JSON API over the connectome under /api/, its OpenAPI document at /openapi.json,
 * and the browser app at / when built. Every route is described in src/server/schema.ts.
 * Requests are refused (403) unless their Host is a loopback name, an IP address or an allowed
 * host (DNS rebinding); cross-origin reads are allowed only to the origins in `cors`.
 */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const dataset = path.resolve(opts.dataset);
  if (!existsSync(dataset)) throw new WiringError('dataset folder not found', dataset);
  const dbFile = opts.database ?? path.join(dataset, 'connectome.duckdb');
  // Read-only: DuckDB allows one writing process per file, and the server never writes, except an
  // edit server asked to write the cells' proofreading statuses into the store (statusesToStore).
  const writeStatuses = !!(opts.proofread?.token && opts.proofread.statusesToStore);
  const store = existsSync(dbFile) ? await ConnectomeStore.open(dbFile, { readOnly: !writeStatuses }) : undefined;
  const app = Fastify({ logger: opts.logger ?? false });
  const routeList: Array<{ method: string; url: string }> = [];
  registered.set(app, routeList);
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) routeList.push({ method: String(m), url: r.url });
  });
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
    if (!hostAllowed(req.headers.host, opts.allowedHosts)) {
      const name = req.headers.host ? hostName(req.headers.host) : '';
      return sendJson(reply.code(403), { error: `Host ${JSON.stringify(req.headers.host ?? '')} is not allowed (DNS rebinding protection); serve it with --allowed-hosts ${name || '<name>'}` });
    }
    const allow = corsOrigin(req.headers.origin, opts.cors);
    if (allow) {
      reply.header('Access-Control-Allow-Origin', allow);
      if (allow !== '*') reply.header('Vary', 'Origin');
      reply.header('Access-Control-Allow-Headers', 'Range, Content-Type');
      reply.header('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Content-Encoding, Accept-Ranges');
    }
    if (req.method === 'OPTIONS') {
      if (allow) reply.header('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
      return reply.code(204).send();
    }
  });
  app.addHook('onClose', async () => {
    for (const m of Object.values(opts.remote ?? {})) await m.close();
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
  const get = (name: RouteName, handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) => app.get(fastifyPath(routes[name].path), handler);
  const pageLimit = (q: Record<string, string>) => intParam(q.limit, 'limit', API_PAGE.default, API_PAGE.max);
  const afterParam = (q: Record<string, string>) => (q.after === undefined || q.after === '' ? undefined : idParam(q.after, 'after'));

  registerFileRoutes(get, dataset, opts.remote ?? {});

  // the optional route sets are documented when they are served
  const extraPaths = { ...(opts.proofread ? PROOFREAD_OPENAPI_PATHS : {}), ...(opts.interactive ? INTERACTIVE_OPENAPI_PATHS : {}) };
  get('openapi', async (_req, reply) => sendJson(reply, openapiDocument(extraPaths)));

  get('cells', async (req, reply) => {
    const q = req.query as Record<string, string>;
    const limit = pageLimit(q);
    const offset = intParam(q.offset, 'offset', 0, Number.MAX_SAFE_INTEGER);
    let rows = await cells(needStore(), { cellType: q.cell_type || undefined });
    if (q.search) {
      const s = q.search.toLowerCase();
      rows = rows.filter((c) => c.pt_root_id.toString().includes(s) || (c.cell_type ?? '').toLowerCase().includes(s) || (c.name ?? '').toLowerCase().includes(s));
    }
    const next = offset + limit < rows.length ? String(offset + limit) : null;
    return reply.header('Content-Type', 'application/json; charset=utf-8').send(jsonListStream({ total: rows.length, next }, 'cells', rows.slice(offset, offset + limit)));
  });

  // The cells as a Neuroglancer segment property map (precomputed `neuroglancer_segment_properties`),
  // used by the viewer as a second source of the cell segmentation layer: labels and search by type.
  get('segmentProperties', async (_req, reply) => {
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
  registerSynapseAnnotationRoutes(get, async () => {
    await annotationsReady;
    if (!synapseAnnotations) throw new HttpError(404, store ? 'too many synapses for the in-memory annotation index' : `this dataset has no connectome database (${path.basename(dbFile)})`);
    return synapseAnnotations;
  });

  get('cell', async (req, reply) => {
    const id = idParam((req.params as { id: string }).id, 'cell id');
    const [cell] = await cells(needStore(), { ids: [id] });
    if (!cell) throw new HttpError(404, `no cell ${id}`);
    return sendJson(reply, cell);
  });

  get('cellOrganelles', async (req, reply) => {
    const id = idParam((req.params as { id: string }).id, 'cell id');
    const [row] = await organelleRows(needStore(), [id]);
    if (!row) throw new HttpError(404, `cell ${id} has no annotations (run \`wiring annotate\`)`);
    return sendJson(reply, row);
  });

  get('partners', async (req, reply) => {
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
    get(dir, async (req, reply) => {
      const id = idParam((req.params as { id: string }).id, 'cell id');
      const q = req.query as Record<string, string>;
      const { total, next, synapses } = await synapsePage(needStore(), dir === 'inputs' ? { post_ids: [id] } : { pre_ids: [id] }, pageLimit(q), afterParam(q));
      return reply.header('Content-Type', 'application/json; charset=utf-8').send(jsonListStream({ id: id.toString(), total, next }, 'synapses', synapses));
    });
  }

  get('connectivity', async (req, reply) => {
    const q = req.query as Record<string, string>;
    const measure = (q.measure ?? 'count') as MatrixMeasure;
    if (!['count', 'binary', 'size'].includes(measure)) throw new HttpError(400, `measure: expected count, binary or size, got ${JSON.stringify(q.measure)}`);
    return sendJson(reply, await typeMatrix(needStore(), { measure }));
  });

  get('synapses', async (req, reply) => {
    const q = req.query as Record<string, string>;
    const box = q.box === undefined ? undefined : boxParam(q.box);
    const { total, next, synapses } = await synapsePage(needStore(), { box }, pageLimit(q), afterParam(q));
    return reply.header('Content-Type', 'application/json; charset=utf-8').send(jsonListStream({ total, next }, 'synapses', synapses));
  });

  get('sizes', async (req, reply) => {
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

  if (opts.proofread) registerProofreadRoutes(app, { ...opts.proofread, store: writeStatuses ? store : undefined });
  if (opts.interactive) registerInteractiveRoutes(app, opts.interactive);

  // the browser app last: its wildcard route answers what no other route does
  if (opts.appDir) registerAppRoute(app, opts.appDir);
  return app;
}
