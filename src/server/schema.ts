/**
 * The one description of the server's HTTP API. The server registers its routes from `routes`
 * (src/server/app.ts), the OpenAPI document is generated from it (src/server/openapi.ts), and the
 * browser app's types are derived from it (web/api.ts, via `Wire<...>`). No Node imports here:
 * the browser bundle reads this file too.
 *
 * Conventions: every property of a response object is always present (nullable ones are null);
 * ids are unsigned 64-bit decimal strings; positions are nm [x, y, z].
 */

/** List endpoints: rows per page by default and at most (a larger `limit` is clamped to `max`). */
export const API_PAGE = { default: 1000, max: 10000 } as const;

const id = { type: 'string', pattern: '^[0-9]+$', description: 'unsigned 64-bit id as a decimal string' } as const;
const vec = { type: ['array', 'null'], items: { type: 'number' }, minItems: 3, maxItems: 3, description: '[x, y, z] in nm' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;

export const components = {
  Error: { type: 'object', properties: { error: { type: 'string' } } },
  Layer: {
    type: 'object',
    properties: {
      name: { type: 'string' },
      type: { type: 'string' },
      data_type: { type: 'string' },
      voxel_size: { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 },
      size: { type: 'array', items: { type: 'integer' }, minItems: 3, maxItems: 3 },
      voxel_offset: { type: 'array', items: { type: 'integer' }, minItems: 3, maxItems: 3 },
      mesh: { type: 'boolean' },
      skeletons: { type: 'boolean' },
      remote: { type: 'string', description: 'the URL of a remote layer served through the mirror (serve --remote)' },
    },
  },
  Cell: { type: 'object', properties: { pt_root_id: id, pt_position: vec, cell_type: nullableString, classification_system: nullableString, volume: nullableNumber, name: nullableString } },
  Partner: { type: 'object', properties: { id, cell_type: nullableString, count: { type: 'integer' }, size_sum: { type: 'number' } } },
  Synapse: {
    type: 'object',
    properties: { id, pre_pt_root_id: id, post_pt_root_id: id, pre_pt_position: vec, post_pt_position: vec, ctr_pt_position: vec, size: nullableNumber, synapse_type: nullableString },
  },
} as const;

const ref = <N extends keyof typeof components>(name: N) => ({ $ref: `#/components/schemas/${name}` }) as { readonly $ref: `#/components/schemas/${N}` };
const arrayOf = <const T>(items: T) => ({ type: 'array', items }) as const;

/** Paging fields of every list response. */
const page = {
  total: { type: 'integer', description: 'rows matching the query (all pages)' },
  next: { type: ['string', 'null'], description: 'cursor for the next page (pass as `after`), null on the last page' },
} as const;

export interface ParamSpec {
  name: string;
  in: 'path' | 'query';
  schema: object;
  description?: string;
}

export interface RouteSpec {
  /** OpenAPI path: `{name}` for a path parameter; `{path}` as the last part matches the rest. */
  path: string;
  summary: string;
  params: readonly ParamSpec[];
  /** The 200 body: a JSON schema, or 'binary' (application/octet-stream) / 'file' (any type). */
  response: object | 'binary' | 'file';
  /** Error statuses the route answers with (body: Error). */
  errors: readonly number[];
}

const cellId: ParamSpec = { name: 'id', in: 'path', schema: id };
const limit: ParamSpec = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0, maximum: API_PAGE.max, default: API_PAGE.default }, description: `rows per page (at most ${API_PAGE.max}; larger values are clamped)` };
const after: ParamSpec = { name: 'after', in: 'query', schema: id, description: 'cursor: only rows with a larger synapse id (the `next` of the previous page)' };
const offset: ParamSpec = { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0 } };

const synapsePage = { type: 'object', properties: { ...page, synapses: arrayOf(ref('Synapse')) } } as const;
const cellSynapsePage = { type: 'object', properties: { id, ...page, synapses: arrayOf(ref('Synapse')) } } as const;

/** Every route of the server, by name. */
export const routes = {
  openapi: { path: '/openapi.json', summary: 'This API as an OpenAPI 3.1 document', params: [], response: { type: 'object' }, errors: [] },
  layers: { path: '/api/layers', summary: "The dataset's precomputed layers (for the viewer)", params: [], response: { type: 'object', properties: { layers: arrayOf(ref('Layer')) } }, errors: [] },
  cells: {
    path: '/api/cells',
    summary: 'List cells (paged by offset)',
    params: [{ name: 'cell_type', in: 'query', schema: { type: 'string' } }, { name: 'search', in: 'query', schema: { type: 'string' }, description: 'substring of id, type or name' }, limit, offset],
    response: { type: 'object', properties: { total: page.total, next: { type: ['string', 'null'], description: 'offset of the next page, null on the last page' }, cells: arrayOf(ref('Cell')) } },
    errors: [400, 404],
  },
  segmentProperties: { path: '/api/segment_properties/info', summary: 'The cells as a Neuroglancer segment property map (label = name and type, description = type and soma); use as precomputed://<server>/api/segment_properties', params: [], response: { type: 'object' }, errors: [] },
  annotationsInfo: {
    path: '/api/annotations/synapses/info',
    summary: 'The synapses as a Neuroglancer precomputed annotation source (POINT at the centre, nm; property size; relationships pre_segment/post_segment; by_id; one spatial level): use as precomputed://<server>/api/annotations/synapses',
    params: [],
    response: { type: 'object' },
    errors: [404],
  },
  annotationsSpatial: { path: '/api/annotations/synapses/spatial0/{key}', summary: 'Annotations of one spatial chunk i_j_k (binary, 404 = none)', params: [{ name: 'key', in: 'path', schema: { type: 'string', pattern: '^\\d+_\\d+_\\d+$' } }], response: 'binary', errors: [400, 404] },
  annotationsPre: { path: '/api/annotations/synapses/pre/{id}', summary: 'Annotations whose pre_segment is id (binary, 404 = none)', params: [cellId], response: 'binary', errors: [400, 404] },
  annotationsPost: { path: '/api/annotations/synapses/post/{id}', summary: 'Annotations whose post_segment is id (binary, 404 = none)', params: [cellId], response: 'binary', errors: [400, 404] },
  annotationsById: { path: '/api/annotations/synapses/by_id/{id}', summary: 'One annotation by synapse id (binary, 404 = none)', params: [{ name: 'id', in: 'path', schema: id }], response: 'binary', errors: [400, 404] },
  cell: { path: '/api/cells/{id}', summary: 'One cell', params: [cellId], response: ref('Cell'), errors: [400, 404] },
  cellOrganelles: { path: '/api/cells/{id}/organelles', summary: "A cell's row of the annotate stage's cell_annotations table (cable length, organelle and synapse counts and densities, predicted type; docs/ANNOTATION.md); 404 when the cell was not annotated", params: [cellId], response: { type: 'object', additionalProperties: { type: ['number', 'string', 'null'] } }, errors: [400, 404] },
  partners: {
    path: '/api/cells/{id}/partners',
    summary: "A cell's input and output partners with synapse counts and summed sizes",
    params: [cellId],
    response: { type: 'object', properties: { id, inputs: arrayOf(ref('Partner')), outputs: arrayOf(ref('Partner')) } },
    errors: [400, 404],
  },
  inputs: { path: '/api/cells/{id}/inputs', summary: 'Synapses onto a cell, by id, paged', params: [cellId, limit, after], response: cellSynapsePage, errors: [400, 404] },
  outputs: { path: '/api/cells/{id}/outputs', summary: 'Synapses made by a cell, by id, paged', params: [cellId, limit, after], response: cellSynapsePage, errors: [400, 404] },
  connectivity: {
    path: '/api/connectivity',
    summary: 'Connectivity matrix by cell type',
    params: [{ name: 'measure', in: 'query', schema: { enum: ['count', 'binary', 'size'] } }],
    response: { type: 'object', properties: { measure: { type: 'string' }, preTypes: arrayOf({ type: 'string' }), postTypes: arrayOf({ type: 'string' }), values: arrayOf(arrayOf({ type: 'number' })) } },
    errors: [400, 404],
  },
  synapses: {
    path: '/api/synapses',
    summary: 'Synapses (whose centre lies in a box), by id, paged',
    params: [{ name: 'box', in: 'query', schema: { type: 'string' }, description: 'x0,y0,z0,x1,y1,z1 in nm (half-open)' }, limit, after],
    response: synapsePage,
    errors: [400, 404],
  },
  sizes: {
    path: '/api/sizes',
    summary: 'Histogram of synapse sizes (voxels)',
    params: [{ name: 'bins', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } }],
    response: { type: 'object', properties: { bins: { type: 'integer' }, min: { type: 'number' }, max: { type: 'number' }, counts: arrayOf({ type: 'integer' }) } },
    errors: [400, 404],
  },
  data: {
    path: '/data/{path}',
    summary: "The dataset's files (precomputed layers, tables) with byte ranges and gzip encoding",
    params: [{ name: 'path', in: 'path', schema: { type: 'string' }, description: 'file path under the dataset, percent-encoded once' }],
    response: 'file',
    errors: [403, 404, 416],
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof routes;

/** A route's path in Fastify syntax: `{name}` -> `:name`, a trailing `{path}` -> `*`. */
export function fastifyPath(p: string): string {
  return p.replace(/\{path\}$/, '*').replace(/\{(\w+)\}/g, ':$1');
}

// ---- Types of the JSON on the wire, derived from the schemas above (for web/api.ts). ----

type Components = typeof components;
type Elem<S> = S extends { items: infer I } ? Wire<I> : unknown;
type Base<S, T> = T extends 'string' ? string
  : T extends 'number' | 'integer' ? number
    : T extends 'boolean' ? boolean
      : T extends 'null' ? null
        : T extends 'array' ? (S extends { minItems: 3; maxItems: 3 } ? [Elem<S>, Elem<S>, Elem<S>] : Elem<S>[])
          : T extends 'object' ? (S extends { properties: infer P } ? { -readonly [K in keyof P]: Wire<P[K]> } : Record<string, unknown>)
            : unknown;

/** The value a JSON schema of this module describes. */
export type Wire<S> = S extends { $ref: `#/components/schemas/${infer N}` } ? (N extends keyof Components ? Wire<Components[N]> : unknown)
  : S extends { enum: readonly (infer E)[] } ? E
    : S extends { type: readonly (infer T)[] } ? Base<S, T>
      : S extends { type: infer T } ? Base<S, T>
        : unknown;

/** The JSON body a route answers with. */
export type Response<R extends RouteName> = Wire<(typeof routes)[R]['response']>;
