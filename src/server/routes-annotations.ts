import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SynapseAnnotations } from './annotations.js';
import { HttpError, idParam, sendJson } from './http.js';
import type { RouteName } from './schema.js';

type Get = (name: RouteName, handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) => unknown;

/**
 * The synapses as a Neuroglancer precomputed annotation source
 * (precomputed://<server>/api/annotations/synapses): info, spatial chunks, by pre/post segment, by id.
 * `annotations` resolves to the in-memory index once it is built (or throws a 404 HttpError).
 */
export function registerSynapseAnnotationRoutes(get: Get, annotations: () => Promise<SynapseAnnotations>): void {
  const sendBinary = (reply: FastifyReply, b: Buffer | null, what: string) => {
    if (!b) throw new HttpError(404, `no annotations: ${what}`);
    return reply.header('Content-Type', 'application/octet-stream').send(b);
  };
  get('annotationsInfo', async (_req, reply) => sendJson(reply, (await annotations()).info()));
  get('annotationsSpatial', async (req, reply) => {
    const key = (req.params as { key: string }).key;
    if (!/^\d+_\d+_\d+$/.test(key)) throw new HttpError(400, `chunk key: expected i_j_k, got ${JSON.stringify(key)}`);
    return sendBinary(reply, (await annotations()).spatialChunk(key), key);
  });
  for (const [rel, name] of [['pre', 'annotationsPre'], ['post', 'annotationsPost']] as const) {
    get(name, async (req, reply) => {
      const id = idParam((req.params as { id: string }).id, 'segment id');
      return sendBinary(reply, (await annotations()).related(rel, id), `${rel} ${id}`);
    });
  }
  get('annotationsById', async (req, reply) => {
    const id = idParam((req.params as { id: string }).id, 'synapse id');
    return sendBinary(reply, (await annotations()).byIdEntry(id), `synapse ${id}`);
  });
}
