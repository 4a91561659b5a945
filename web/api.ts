// Typed client for the Wiring server's API. The shapes come from the server's one description of
// it (src/server/schema.ts), so the app, the server and /openapi.json cannot drift apart.
// Ids are decimal strings.
import { API_PAGE, routes, type components, type Response, type Wire } from '../src/server/schema.js';

export type Vec3 = [number, number, number];

export type LayerInfo = Wire<typeof components.Layer>;
export type Cell = Wire<typeof components.Cell>;
export type Partner = Wire<typeof components.Partner>;
export type Synapse = Wire<typeof components.Synapse>;
export type Partners = Response<'partners'>;
export type TypeMatrix = Response<'connectivity'>;
export type SizeHistogram = Response<'sizes'>;

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function get<T>(url: string, signal?: AbortSignal): Promise<T> {
  const r = await fetch(url, { signal });
  const text = await r.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(r.status, `${url}: expected JSON, got ${text.slice(0, 80)}`);
  }
  if (!r.ok) throw new ApiError(r.status, body?.error ?? `${url}: HTTP ${r.status}`);
  return body as T;
}

/** A route's URL with its path parameters filled in. */
function url(path: string, params: Record<string, string> = {}, query: Record<string, string | number | undefined> = {}): string {
  const p = path.replace(/\{(\w+)\}/g, (_m, k: string) => encodeURIComponent(params[k]));
  const q = Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
  return q.length ? `${p}?${q.join('&')}` : p;
}

/** Up to `max` rows of a list route, page by page (pages are capped at API_PAGE.max rows). */
async function pages<K extends string, R extends { next: string | null } & Record<K, unknown[]>>(
  path: string, key: K, max: number, cursor: 'after' | 'offset',
): Promise<R[K]> {
  const out: unknown[] = [];
  let next: string | undefined;
  do {
    const r = await get<R>(url(path, {}, { limit: Math.min(API_PAGE.max, max - out.length), [cursor]: next }));
    out.push(...r[key]);
    next = r.next ?? undefined;
  } while (next !== undefined && out.length < max);
  return out as R[K];
}

export const api = {
  layers: () => get<Response<'layers'>>(routes.layers.path).then((r) => r.layers),
  cells: async (max = 100000) => {
    const first = await get<Response<'cells'>>(url(routes.cells.path, {}, { limit: 0 }));
    return { total: first.total, cells: await pages<'cells', Response<'cells'>>(routes.cells.path, 'cells', max, 'offset') };
  },
  cell: (id: string) => get<Cell>(url(routes.cell.path, { id })),
  partners: (id: string, signal?: AbortSignal) => get<Partners>(url(routes.partners.path, { id }), signal),
  connectivity: (measure: string) => get<TypeMatrix>(url(routes.connectivity.path, {}, { measure })),
  sizes: (bins = 30) => get<SizeHistogram>(url(routes.sizes.path, {}, { bins })),
  /** The cell's row of the annotate stage's cell_annotations table (404 when not annotated). */
  organelles: (id: string, signal?: AbortSignal) => get<Record<string, unknown>>(url(routes.cellOrganelles.path, { id }), signal),
  synapses: (max: number) => pages<'synapses', Response<'synapses'>>(routes.synapses.path, 'synapses', max, 'after'),
};
