import { components, routes, type RouteSpec } from './schema.js';

/** Make every listed property required (the API always sends every property; nullable ones are null). */
function withRequired(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(withRequired);
  if (!s || typeof s !== 'object') return s;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) out[k] = withRequired(v);
  if (out.properties && typeof out.properties === 'object' && out.type === 'object') out.required = Object.keys(out.properties);
  return out;
}

function operation(r: RouteSpec) {
  const error = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const ok = r.response === 'binary'
    ? { description: 'OK', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }
    : r.response === 'file'
      ? { description: 'OK (206 for a byte range)', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } }
      : { description: 'OK', content: { 'application/json': { schema: withRequired(r.response) } } };
  return {
    summary: r.summary,
    parameters: r.params.map((p) => ({ ...p, ...(p.in === 'path' ? { required: true } : {}) })),
    responses: { 200: ok, ...Object.fromEntries(r.errors.map((s) => [s, error])) },
  };
}

/** The OpenAPI 3.1 description of the server's HTTP API (served at /openapi.json), from src/server/schema.ts. */
export function openapiDocument(extraPaths: Record<string, unknown> = {}) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Wiring connectome API',
      version: '0.1.0',
      description: 'Cells, synapses and connectivity of one dataset. All ids are decimal strings; positions are nm [x, y, z]. List endpoints are paged (limit, after/offset, total, next). Dataset files (Neuroglancer precomputed layers, tables) are under /data/.',
    },
    paths: { ...Object.fromEntries(Object.values(routes).map((r) => [r.path, { get: operation(r) }])), ...extraPaths },
    components: { schemas: withRequired(components) },
  };
}
