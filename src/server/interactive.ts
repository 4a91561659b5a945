/**
 * Train-in-the-browser routes (HTTP only; the work is the stages' services, handed in by the CLI):
 *   GET  /api/interactive/labels                                   strokes, labelled voxels per class, class names
 *   POST /api/interactive/labels          {cls, points, radius?, plane?}   save a stroke (token); its id
 *   DELETE /api/interactive/labels/:id                             delete a stroke, who and when kept (token)
 *   POST /api/interactive/train           {trees?, view?}          queue training on the strokes (token);
 *                                                                  view {min, max} (voxels): features computed meanwhile
 *   GET  /api/interactive/train/:job                               the job: queued/running/done/failed, model, report
 *   GET  /api/interactive/models                                   trained model ids
 *   GET  /api/interactive/:kind/:model/info                        precomputed info (kind probabilities|uncertainty, model latest|n)
 *   GET  /api/interactive/:kind/:model/:key/:chunk                 raw uint8 chunk, predicted when first asked
 *   GET  /api/recut/segments?threshold=T                           segments at a cut of the merge tree
 *   GET  /api/recut/range                                          the merge tree's score range, its own cut, the chosen cut
 *   GET  /api/recut/:threshold/info, /api/recut/:threshold/:key/:chunk   the re-cut segmentation (uint64)
 *   POST /api/recut/choose                {threshold}              write the chosen cut with the layer (token)
 *   POST /api/runs                        {}                       queue the whole-volume pipeline with the latest model (token)
 *   GET  /api/runs/:id                                             stages with their state, notification when done
 * Writes need `Authorization: Bearer <token>` (the server's --token); reads stay open.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { toJson } from '../core/ids.js';
import { checkToken, requestUser } from './proofread.js';

export interface InteractiveBackend {
  strokes(): unknown;
  addStroke(body: unknown, user: string): Promise<unknown>;
  deleteStroke(id: number, user: string): Promise<unknown>;
  train(user: string, o: { trees?: number; view?: unknown }): unknown;
  job(id: number): unknown;
  modelIds(): Promise<number[]>;
  info(kind: 'probabilities' | 'uncertainty', model: string): Promise<Record<string, unknown>>;
  chunk(kind: 'probabilities' | 'uncertainty', model: string, name: string): Promise<Uint8Array>;
}

export interface RecutBackend {
  segments(threshold: number): number | undefined;
  range(): Promise<unknown>;
  info(): Record<string, unknown>;
  chunk(threshold: number, name: string): Promise<Uint8Array>;
  choose(threshold: number, user: string): Promise<void>;
}

export interface RunsBackend {
  start(user: string): Promise<unknown>;
  get(id: number): unknown;
}

export interface InteractiveRouteOptions {
  backend: InteractiveBackend;
  recut?: RecutBackend;
  runs?: RunsBackend;
  token?: string;
}

class BadRequest extends Error {
  readonly statusCode = 400;
}

function send(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.header('Content-Type', 'application/json; charset=utf-8').send(toJson(value));
}

function bytes(reply: FastifyReply, b: Uint8Array): FastifyReply {
  return reply.header('Content-Type', 'application/octet-stream').send(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const kindOf = (k: string): 'probabilities' | 'uncertainty' => {
  if (k !== 'probabilities' && k !== 'uncertainty') throw new BadRequest(`layer ${JSON.stringify(k)}: expected probabilities or uncertainty`);
  return k;
};

const thresholdOf = (t: unknown): number => {
  const v = Number(t);
  if (t === undefined || t === '' || !Number.isFinite(v)) throw new BadRequest(`threshold ${JSON.stringify(t)}: expected a number`);
  return v;
};

/** OpenAPI path items of these routes (added to /openapi.json when they are registered). */
export const INTERACTIVE_OPENAPI_PATHS: Record<string, unknown> = {
  '/api/interactive/labels': {
    get: { summary: 'the saved strokes, labelled voxels per class and the class names', parameters: [] },
    post: { summary: 'save a stroke {cls (1..255), points [[x, y, z] voxels], radius?, plane? (xy|xz|yz)}; needs Authorization: Bearer <token>', security: [{ bearer: [] }], parameters: [] },
  },
  '/api/interactive/labels/{id}': { delete: { summary: 'delete a stroke by id (a deletion record with who and when is kept in the log); needs the token', security: [{ bearer: [] }], parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }] } },
  '/api/interactive/train': { post: { summary: 'queue training of a pixel forest on the strokes {trees?, view? {min, max} voxels: the box in view, whose features are computed while the forest trains}; returns the job; needs the token', security: [{ bearer: [] }], parameters: [] } },
  '/api/interactive/train/{job}': { get: { summary: 'a training job: state, model id, report', parameters: [{ name: 'job', in: 'path', required: true, schema: { type: 'integer' } }] } },
  '/api/interactive/models': { get: { summary: 'ids of the trained models', parameters: [] } },
  '/api/interactive/{kind}/{model}/info': { get: { summary: 'precomputed info of the prediction (probabilities) or uncertainty layer of a model (latest or its id)', parameters: ['kind', 'model'].map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })) } },
  '/api/interactive/{kind}/{model}/{key}/{chunk}': { get: { summary: 'one raw uint8 chunk, predicted when first asked', parameters: ['kind', 'model', 'key', 'chunk'].map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })) } },
  '/api/recut/range': { get: { summary: 'the merge tree\'s score range (min: no merge applies below it; max: every merge applies), merges, supervoxels, the cut the layer was made at and the chosen cut', parameters: [] } },
  '/api/recut/segments': { get: { summary: 'segments at a cut of the merge tree', parameters: [{ name: 'threshold', in: 'query', schema: { type: 'number' } }] } },
  '/api/recut/choose': { post: { summary: 'write the chosen cut {threshold} into the segmentation layer info (wiring.cut); needs the token', security: [{ bearer: [] }], parameters: [] } },
  '/api/recut/{threshold}/info': { get: { summary: 'precomputed info of the segmentation re-cut at threshold', parameters: [{ name: 'threshold', in: 'path', required: true, schema: { type: 'number' } }] } },
  '/api/recut/{threshold}/{key}/{chunk}': { get: { summary: 'one raw uint64 chunk: supervoxels mapped through the cut', parameters: ['threshold', 'key', 'chunk'].map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })) } },
  '/api/runs': { post: { summary: 'queue the whole-volume pipeline (predict with the latest model, segment, cells, meshes, skeletons) through the scheduler; needs the token', security: [{ bearer: [] }], parameters: [] } },
  '/api/runs/{id}': { get: { summary: 'a run: its stages with their state and progress, done or failed', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }] } },
};

export function registerInteractiveRoutes(app: FastifyInstance, o: InteractiveRouteOptions): void {
  const { backend } = o;
  app.get('/api/interactive/labels', async (_req, reply) => send(reply, backend.strokes()));
  app.post('/api/interactive/labels', async (req, reply) => {
    checkToken(req, o.token);
    return send(reply, await backend.addStroke(req.body, requestUser(req)));
  });
  app.delete('/api/interactive/labels/:id', async (req, reply) => {
    checkToken(req, o.token);
    const id = (req.params as { id: string }).id;
    if (!/^[0-9]+$/.test(id)) throw new BadRequest(`stroke id ${JSON.stringify(id)}: expected a whole number`);
    return send(reply, await backend.deleteStroke(Number(id), requestUser(req)));
  });
  app.post('/api/interactive/train', async (req, reply) => {
    checkToken(req, o.token);
    const body = (req.body ?? {}) as { trees?: unknown; view?: unknown };
    const trees = body.trees === undefined ? undefined : Number(body.trees);
    if (trees !== undefined && !(Number.isInteger(trees) && trees >= 1 && trees <= 500)) throw new BadRequest(`trees ${JSON.stringify(body.trees)}: expected 1..500`);
    return send(reply, backend.train(requestUser(req), { trees, view: body.view }));
  });
  app.get('/api/interactive/train/:job', async (req, reply) => send(reply, backend.job(Number((req.params as { job: string }).job))));
  app.get('/api/interactive/models', async (_req, reply) => send(reply, { models: await backend.modelIds() }));
  app.get('/api/interactive/:kind/:model/info', async (req, reply) => {
    const p = req.params as { kind: string; model: string };
    return send(reply, await backend.info(kindOf(p.kind), p.model));
  });
  app.get('/api/interactive/:kind/:model/:key/:chunk', async (req, reply) => {
    const p = req.params as { kind: string; model: string; chunk: string };
    return bytes(reply, await backend.chunk(kindOf(p.kind), p.model, p.chunk));
  });
  const { recut } = o;
  if (recut) {
    app.get('/api/recut/segments', async (req, reply) => {
      const t = thresholdOf((req.query as { threshold?: string }).threshold);
      return send(reply, { threshold: t, segments: recut.segments(t) ?? null });
    });
    app.get('/api/recut/range', async (_req, reply) => send(reply, await recut.range()));
    app.post('/api/recut/choose', async (req, reply) => {
      checkToken(req, o.token);
      const t = thresholdOf((req.body as { threshold?: unknown } | undefined)?.threshold);
      await recut.choose(t, requestUser(req));
      return send(reply, { threshold: t, segments: recut.segments(t) ?? null });
    });
    app.get('/api/recut/:threshold/info', async (req, reply) => {
      thresholdOf((req.params as { threshold: string }).threshold);
      return send(reply, recut.info());
    });
    app.get('/api/recut/:threshold/:key/:chunk', async (req, reply) => {
      const p = req.params as { threshold: string; chunk: string };
      return bytes(reply, await recut.chunk(thresholdOf(p.threshold), p.chunk));
    });
  }
  const { runs } = o;
  if (runs) {
    app.post('/api/runs', async (req, reply) => {
      checkToken(req, o.token);
      return send(reply, await runs.start(requestUser(req)));
    });
    app.get('/api/runs/:id', async (req, reply) => send(reply, runs.get(Number((req.params as { id: string }).id))));
  }
}
