/**
 * Proofreading routes (HTTP only; the work is the proofread stage's ProofreadService, handed in
 * by the CLI, since the server imports no stage):
 *   GET  /api/proofread/versions/:at/segmentation/info          precomputed info (at = latest | op id)
 *   GET  /api/proofread/versions/:at/segmentation/:key/:chunk   raw uint64 chunk, supervoxels mapped to roots
 *   GET  /api/proofread/lineage/:id?steps=3                     latest, past, operations, graph
 *   GET  /api/proofread/edits?cell=&user=&since=&until=         the log
 *   GET  /api/proofread/versions/:at/segmentation/mesh/:name    legacy mesh source: info, <root>:0, fragments
 *   GET  /api/proofread/versions/:at/segmentation/skeletons/:name  skeleton source: info, <root>
 *   GET  /api/proofread/point?nm=x,y,z                          supervoxel and root at a point
 *   POST /api/proofread/preview/split                           the minimum cut, not applied (open: changes nothing)
 *   GET  /api/proofread/previews/:id/segmentation/...           the preview's sides as labels 1, 2 (precomputed)
 *   GET  /api/proofread/status?root=&at=                        cells' proofreading status (axon, dendrite)
 *   POST /api/proofread/status       {root, status_axon?, status_dendrite?}; needs the token (also written into the store's proofreading table with statusesToStore)
 *   POST /api/proofread/edit/:kind   (merge | split | undo | redo) JSON body; needs the token
 * Neuroglancer shows version N at precomputed://<server>/api/proofread/versions/N/segmentation.
 * Edits need `Authorization: Bearer <token>` (wiring serve --token, or WIRING_EDIT_TOKEN); without
 * a configured token the server is read-only and edits are refused (403).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { toJson } from '../core/ids.js';
import { mergeLiveProofreading } from '../connectome/proofread-versions.js';
import type { ConnectomeStore } from '../connectome/store.js';

/** The proofread stage's service, as the server sees it. */
export interface ProofreadBackend {
  info(at: string): Promise<Record<string, unknown>>;
  chunk(at: string, key: string, name: string): Promise<Uint8Array>;
  edit(kind: string, body: unknown, user: string): Promise<unknown>;
  lineage(id: string, steps?: number): Promise<Record<string, unknown>>;
  edits(filter: { cell?: string; user?: string; since?: string; until?: string }): Promise<unknown[]>;
  /** a mesh file of version `at` (info, `<root>:0`, fragment); undefined = not there (404) */
  mesh(at: string, name: string): Promise<Uint8Array | Record<string, unknown> | undefined>;
  /** a skeleton file of version `at` (info, `<root>`); undefined = not there (404) */
  skeleton(at: string, name: string): Promise<Uint8Array | Record<string, unknown> | undefined>;
  point(nm: unknown): Promise<Record<string, unknown>>;
  previewSplit(body: unknown): Promise<object>;
  previewInfo(id: string): Promise<Record<string, unknown>>;
  previewChunk(id: string, key: string, name: string): Promise<Uint8Array>;
  statuses(at?: string, root?: string): Promise<Record<string, unknown>>;
  setStatus(body: unknown, user: string): Promise<unknown>;
}

export interface ProofreadRouteOptions {
  backend: ProofreadBackend;
  /** edit token; undefined = read-only */
  token?: string;
  /**
   * Also write each status set through POST /api/proofread/status into the connectome store's live
   * `proofreading` table (as `wiring edit status --to-store`), when the dataset has a store and a
   * token is given: the server then holds the store read-write (DuckDB: one writing process).
   */
  statusesToStore?: boolean;
  /** the server's store, read-write (set by buildServer when statusesToStore applies) */
  store?: ConnectomeStore;
}

const str = (name: string, where: 'path' | 'query', description?: string) => ({ name, in: where, ...(where === 'path' ? { required: true } : {}), schema: { type: 'string' }, ...(description ? { description } : {}) });
const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
const error = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };

/** OpenAPI path items of these routes, added to the server's document when proofreading is on. */
export const PROOFREAD_OPENAPI_PATHS: Record<string, unknown> = {
  '/api/proofread/versions/{at}/segmentation/info': { get: { summary: 'Precomputed info of the proofread segmentation as of operation {at} (or latest): use as precomputed://<server>/api/proofread/versions/{at}/segmentation', parameters: [str('at', 'path', 'latest or an operation id')], responses: { 200: json('OK'), 400: error } } },
  '/api/proofread/versions/{at}/segmentation/{key}/{chunk}': { get: { summary: 'One raw uint64 chunk x0-x1_y0-y1_z0-z1: the supervoxels mapped to the roots of that version', parameters: [str('at', 'path'), str('key', 'path'), str('chunk', 'path')], responses: { 200: { description: 'OK', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, 400: error } } },
  '/api/proofread/lineage/{id}': { get: { summary: 'Latest roots, past ids, operations, creation/retirement and the lineage graph of a root id', parameters: [str('id', 'path'), { name: 'steps', in: 'query', schema: { type: 'integer', minimum: 0 } }], responses: { 200: json('OK'), 400: error } } },
  '/api/proofread/edits': { get: { summary: 'The edit log, filtered by cell (root id and its lineage), user, since, until', parameters: [str('cell', 'query'), str('user', 'query'), str('since', 'query'), str('until', 'query')], responses: { 200: json('OK'), 400: error } } },
  '/api/proofread/versions/{at}/segmentation/mesh/{name}': { get: { summary: 'Legacy Neuroglancer mesh source of version {at}: info, the manifest <root>:0 of a root of that version (derived on first request), fragments', parameters: [str('at', 'path'), str('name', 'path')], responses: { 200: json('OK'), 400: error, 404: error } } },
  '/api/proofread/versions/{at}/segmentation/skeletons/{name}': { get: { summary: 'Precomputed skeleton source of version {at} (radius per vertex): info, the skeleton of a root of that version (derived on first request when no edit or precompute made it)', parameters: [str('at', 'path'), str('name', 'path')], responses: { 200: json('OK'), 400: error, 404: error } } },
  '/api/proofread/point': { get: { summary: 'The supervoxel and its latest root at a point', parameters: [str('nm', 'query', 'x,y,z in nm')], responses: { 200: json('{supervoxel, root, op}'), 400: error } } },
  '/api/proofread/preview/split': { post: { summary: 'The minimum cut a split {sources, sinks, root?} would make, not applied: its sides (label 1 = the sources\' side), kept for the preview layer', requestBody: { content: { 'application/json': { schema: { type: 'object' } } } }, responses: { 200: json('the preview'), 400: error } } },
  '/api/proofread/previews/{id}/segmentation/info': { get: { summary: 'Precomputed info of a split preview: use as precomputed://<server>/api/proofread/previews/{id}/segmentation', parameters: [str('id', 'path')], responses: { 200: json('OK'), 400: error } } },
  '/api/proofread/previews/{id}/segmentation/{key}/{chunk}': { get: { summary: 'One raw uint64 chunk of a split preview: 1, 2, ... on the sides\' supervoxels, 0 elsewhere', parameters: [str('id', 'path'), str('key', 'path'), str('chunk', 'path')], responses: { 200: { description: 'OK', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, 400: error } } },
  '/api/proofread/status': {
    get: { summary: 'Proofreading status (status_axon, status_dendrite: non | clean | extended) of the roots of version {at} (default latest), or of one root', parameters: [str('root', 'query'), str('at', 'query')], responses: { 200: json('{op, statuses}'), 400: error } },
    post: { summary: 'Set a current root\'s status {root, status_axon?, status_dendrite?}; needs Authorization: Bearer <token>', requestBody: { content: { 'application/json': { schema: { type: 'object' } } } }, responses: { 200: json('the record appended to proofread/status.jsonl'), 400: error, 401: error, 403: error } },
  },
  '/api/proofread/edit/{kind}': { post: { summary: 'merge {a, b, roots?} | split {sources, sinks, root?} | undo {op} | redo {op}; a supervoxel is an id string or [x, y, z] nm; needs Authorization: Bearer <token>', parameters: [{ name: 'kind', in: 'path', required: true, schema: { type: 'string', enum: ['merge', 'split', 'undo', 'redo'] } }], requestBody: { content: { 'application/json': { schema: { type: 'object' } } } }, responses: { 200: json('the operation appended'), 400: error, 401: error, 403: error } } },
};

export class AuthError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

function send(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.header('Content-Type', 'application/json; charset=utf-8').send(toJson(value));
}

function sendBytes(reply: FastifyReply, bytes: Uint8Array): FastifyReply {
  return reply.header('Content-Type', 'application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** A version's mesh or skeleton file: bytes, or JSON (info, manifests); 404 when the version has none of that name. */
function sendFile(reply: FastifyReply, body: unknown, missing: string): FastifyReply {
  if (body === undefined) throw new AuthError(404, missing);
  return body instanceof Uint8Array ? sendBytes(reply, body) : send(reply, body);
}

/** Refuse a write without the server's token (403 read-only server, 401 wrong or missing token). */
export function checkToken(req: FastifyRequest, token: string | undefined): void {
  if (!token) throw new AuthError(403, 'this server is read-only: start it with wiring serve --token <t> (or WIRING_EDIT_TOKEN) to accept edits');
  const h = String(req.headers.authorization ?? '');
  const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
  const want = Buffer.from(token);
  if (given.length !== want.length || !timingSafeEqual(given, want)) throw new AuthError(401, 'edits need the header Authorization: Bearer <token>');
}

/** Who asks (the X-Wiring-User header or a body's user field), for the logs of edits and strokes. */
export function requestUser(req: FastifyRequest): string {
  return String((req.headers['x-wiring-user'] as string | undefined) ?? (req.body as { user?: string } | undefined)?.user ?? 'unknown');
}

export function registerProofreadRoutes(app: FastifyInstance, o: ProofreadRouteOptions): void {
  const { backend } = o;
  app.get('/api/proofread/versions/:at/segmentation/info', async (req, reply) => send(reply, await backend.info((req.params as { at: string }).at)));
  app.get('/api/proofread/versions/:at/segmentation/:key/:chunk', async (req, reply) => {
    const p = req.params as { at: string; key: string; chunk: string };
    const bytes = await backend.chunk(p.at, p.key, p.chunk);
    return sendBytes(reply, bytes);
  });
  app.get('/api/proofread/versions/:at/segmentation/mesh/:name', async (req, reply) => {
    const p = req.params as { at: string; name: string };
    return sendFile(reply, await backend.mesh(p.at, p.name), `no mesh file ${p.name} in version ${p.at}`);
  });
  app.get('/api/proofread/versions/:at/segmentation/skeletons/:name', async (req, reply) => {
    const p = req.params as { at: string; name: string };
    return sendFile(reply, await backend.skeleton(p.at, p.name), `no skeleton file ${p.name} in version ${p.at}`);
  });
  app.get('/api/proofread/point', async (req, reply) => {
    const nm = String((req.query as { nm?: string }).nm ?? '').split(',').map((v) => (v.trim() === '' ? NaN : Number(v)));
    if (nm.length !== 3 || nm.some((v) => !Number.isFinite(v))) throw new AuthError(400, 'nm: expected x,y,z in nm');
    return send(reply, await backend.point(nm));
  });
  app.post('/api/proofread/preview/split', async (req, reply) => send(reply, await backend.previewSplit(req.body)));
  app.get('/api/proofread/previews/:id/segmentation/info', async (req, reply) => send(reply, await backend.previewInfo((req.params as { id: string }).id)));
  app.get('/api/proofread/previews/:id/segmentation/:key/:chunk', async (req, reply) => {
    const p = req.params as { id: string; key: string; chunk: string };
    const bytes = await backend.previewChunk(p.id, p.key, p.chunk);
    return sendBytes(reply, bytes);
  });
  app.get('/api/proofread/status', async (req, reply) => {
    const q = req.query as { at?: string; root?: string };
    return send(reply, await backend.statuses(q.at ?? 'latest', q.root));
  });
  // store writes one at a time (one DuckDB connection: a transaction each)
  let storeChain: Promise<unknown> = Promise.resolve();
  app.post('/api/proofread/status', async (req, reply) => {
    checkToken(req, o.token);
    const rec = (await backend.setStatus(req.body, requestUser(req))) as { root: string };
    const store = o.store;
    if (!store) return send(reply, rec);
    // the root's merged status (axon and dendrite, every record of it) replaces its row of the live table
    const write = async () => {
      const cur = (await backend.statuses('latest', rec.root)) as { statuses: Array<{ root: string; status_axon?: string; status_dendrite?: string }> };
      const rows = cur.statuses.filter((c) => c.root === rec.root).map((c) => ({ pt_root_id: BigInt(c.root), status_axon: c.status_axon ?? null, status_dendrite: c.status_dendrite ?? null }));
      return mergeLiveProofreading(store, rows);
    };
    const done = storeChain.then(write, write);
    storeChain = done.catch(() => undefined);
    return send(reply, { ...rec, store: await done });
  });
  app.get('/api/proofread/lineage/:id', async (req, reply) => {
    const q = req.query as { steps?: string };
    const steps = q.steps === undefined ? 3 : Number(q.steps);
    if (!Number.isInteger(steps) || steps < 0) throw new AuthError(400, `steps: expected a whole number, got ${JSON.stringify(q.steps)}`);
    return send(reply, await backend.lineage((req.params as { id: string }).id, steps));
  });
  app.get('/api/proofread/edits', async (req, reply) => send(reply, { operations: await backend.edits(req.query as Record<string, string>) }));
  app.post('/api/proofread/edit/:kind', async (req, reply) => {
    checkToken(req, o.token);
    return send(reply, await backend.edit((req.params as { kind: string }).kind, req.body, requestUser(req)));
  });
}
