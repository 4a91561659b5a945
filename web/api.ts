// Typed client for the Wiring server's JSON API (src/server/app.ts). Ids are decimal strings.

export type Vec3 = [number, number, number];

export interface LayerInfo { name: string; type: string; data_type: string; voxel_size: Vec3; size: Vec3; voxel_offset?: Vec3; mesh: boolean; skeletons: boolean }
export interface Cell { pt_root_id: string; pt_position: Vec3 | null; cell_type: string | null; classification_system: string | null; volume: number | null; name: string | null }
export interface Partner { id: string; cell_type: string | null; count: number; size_sum: number }
export interface Partners { id: string; inputs: Partner[]; outputs: Partner[] }
export interface TypeMatrix { measure: string; preTypes: string[]; postTypes: string[]; values: number[][] }
export interface SizeHistogram { bins: number; min: number; max: number; counts: number[] }
export interface Synapse { id: string; pre_pt_root_id: string; post_pt_root_id: string; ctr_pt_position: Vec3 | null; pre_pt_position: Vec3 | null; post_pt_position: Vec3 | null; size: number | null }

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

export const api = {
  layers: () => get<{ layers: LayerInfo[] }>('/api/layers').then((r) => r.layers),
  cells: (limit = 100000) => get<{ total: number; cells: Cell[] }>(`/api/cells?limit=${limit}`),
  cell: (id: string) => get<Cell>(`/api/cells/${encodeURIComponent(id)}`),
  partners: (id: string, signal?: AbortSignal) => get<Partners>(`/api/cells/${encodeURIComponent(id)}/partners`, signal),
  connectivity: (measure: string) => get<TypeMatrix>(`/api/connectivity?measure=${encodeURIComponent(measure)}`),
  sizes: (bins = 30) => get<SizeHistogram>(`/api/sizes?bins=${bins}`),
  synapses: (limit: number) => get<{ synapses: Synapse[] }>(`/api/synapses?limit=${limit}`).then((r) => r.synapses),
};
