/**
 * The synapses as a Neuroglancer precomputed annotation source (`neuroglancer_annotations_v1`,
 * spec: neuroglancer src/datasource/precomputed/annotations.md), generated in memory from the
 * connectome when the server starts: POINT annotations at the synapse centres (nm), property
 * `size`, relationships `pre_segment` and `post_segment` (so Neuroglancer can show only the
 * synapses of the selected cells), an unsharded `by_id` index and one spatial level whose grid
 * keeps about `perChunk` synapses per chunk. Encodings (little endian):
 * - a list of annotations (spatial chunk, relationship entry): uint64 count, then per annotation
 *   float32 x,y,z and float32 size, then the uint64 ids;
 * - one annotation (by_id): float32 x,y,z, float32 size, then per relationship uint32 count and
 *   that many uint64 segment ids.
 */
import type { ConnectomeStore } from '../connectome/store.js';

const BYTES = 16; // 3 x float32 position + float32 size

export class SynapseAnnotations {
  private constructor(
    private readonly ids: BigUint64Array,
    private readonly pre: BigUint64Array,
    private readonly post: BigUint64Array,
    private readonly pos: Float32Array,
    private readonly size: Float32Array,
    private readonly lower: number[],
    private readonly upper: number[],
    private readonly grid: number[],
    /** chunk key "i_j_k" -> synapse indices */
    private readonly chunks: Map<string, Uint32Array>,
    private readonly byId: Map<bigint, number>,
    private readonly byPre: Map<bigint, number[]>,
    private readonly byPost: Map<bigint, number[]>,
    private readonly limit: number,
  ) {}

  get count(): number {
    return this.ids.length;
  }

  /** Null when there are more than `maxSynapses` synapses with a centre. */
  static async build(store: ConnectomeStore, o: { maxSynapses?: number; perChunk?: number } = {}): Promise<SynapseAnnotations | null> {
    const syn = await store.tableRef('synapses');
    const where = 'WHERE ctr_pt_position_x IS NOT NULL AND ctr_pt_position_y IS NOT NULL AND ctr_pt_position_z IS NOT NULL';
    const [{ n }] = await store.all(`SELECT count(*) AS n FROM ${syn} ${where}`);
    if (Number(n) > (o.maxSynapses ?? 2_000_000)) return null;
    const rows = await store.all(
      `SELECT id, pre_pt_root_id AS pre, post_pt_root_id AS post, ctr_pt_position_x AS x, ctr_pt_position_y AS y, ctr_pt_position_z AS z, coalesce(size, 0)::DOUBLE AS s FROM ${syn} ${where} ORDER BY id`,
    );
    const m = rows.length;
    const ids = new BigUint64Array(m);
    const pre = new BigUint64Array(m);
    const post = new BigUint64Array(m);
    const pos = new Float32Array(3 * m);
    const size = new Float32Array(m);
    const lower = [Infinity, Infinity, Infinity];
    const upper = [-Infinity, -Infinity, -Infinity];
    const byId = new Map<bigint, number>();
    const byPre = new Map<bigint, number[]>();
    const byPost = new Map<bigint, number[]>();
    for (let i = 0; i < m; i++) {
      const r = rows[i];
      ids[i] = BigInt(r.id as bigint);
      pre[i] = BigInt(r.pre as bigint);
      post[i] = BigInt(r.post as bigint);
      const p = [Number(r.x), Number(r.y), Number(r.z)];
      for (let a = 0; a < 3; a++) {
        pos[3 * i + a] = p[a];
        lower[a] = Math.min(lower[a], Math.floor(p[a]));
        upper[a] = Math.max(upper[a], Math.floor(p[a]) + 1);
      }
      size[i] = Number(r.s);
      byId.set(ids[i], i);
      (byPre.get(pre[i]) ?? byPre.set(pre[i], []).get(pre[i])!).push(i);
      (byPost.get(post[i]) ?? byPost.set(post[i], []).get(post[i])!).push(i);
    }
    if (m === 0) {
      lower.fill(0);
      upper.fill(1);
    }
    // grid: cubes-ish chunks holding about perChunk synapses on average
    const perChunk = o.perChunk ?? 5000;
    const extent = [0, 1, 2].map((a) => upper[a] - lower[a]);
    const chunksWanted = Math.max(1, Math.ceil(m / perChunk));
    const side = Math.cbrt((extent[0] * extent[1] * extent[2]) / chunksWanted);
    const grid = extent.map((e) => Math.max(1, Math.min(64, Math.round(e / side))));
    const chunkSize = [0, 1, 2].map((a) => extent[a] / grid[a]);
    const lists = new Map<string, number[]>();
    for (let i = 0; i < m; i++) {
      const c = [0, 1, 2].map((a) => Math.min(grid[a] - 1, Math.max(0, Math.floor((pos[3 * i + a] - lower[a]) / chunkSize[a]))));
      const key = c.join('_');
      (lists.get(key) ?? lists.set(key, []).get(key)!).push(i);
    }
    const chunks = new Map<string, Uint32Array>();
    let limit = 1;
    for (const [k, v] of lists) {
      chunks.set(k, Uint32Array.from(v));
      limit = Math.max(limit, v.length);
    }
    return new SynapseAnnotations(ids, pre, post, pos, size, lower, upper, grid, chunks, byId, byPre, byPost, limit);
  }

  /** The `info` of the annotation source. */
  info(): Record<string, unknown> {
    return {
      '@type': 'neuroglancer_annotations_v1',
      dimensions: { x: [1e-9, 'm'], y: [1e-9, 'm'], z: [1e-9, 'm'] },
      lower_bound: this.lower,
      upper_bound: this.upper,
      annotation_type: 'POINT',
      properties: [{ id: 'size', type: 'float32', description: 'synapse size (voxels)' }],
      relationships: [
        { id: 'pre_segment', key: 'pre' },
        { id: 'post_segment', key: 'post' },
      ],
      by_id: { key: 'by_id' },
      spatial: [{ key: 'spatial0', grid_shape: this.grid, chunk_size: [0, 1, 2].map((a) => (this.upper[a] - this.lower[a]) / this.grid[a]), limit: this.limit }],
    };
  }

  private encodeList(idx: ArrayLike<number>): Buffer {
    const n = idx.length;
    const out = Buffer.alloc(8 + n * (BYTES + 8));
    out.writeBigUInt64LE(BigInt(n), 0);
    for (let k = 0; k < n; k++) {
      const i = idx[k];
      const o = 8 + k * BYTES;
      out.writeFloatLE(this.pos[3 * i], o);
      out.writeFloatLE(this.pos[3 * i + 1], o + 4);
      out.writeFloatLE(this.pos[3 * i + 2], o + 8);
      out.writeFloatLE(this.size[i], o + 12);
      out.writeBigUInt64LE(this.ids[i], 8 + n * BYTES + 8 * k);
    }
    return out;
  }

  /** A spatial chunk "i_j_k" (null = no synapses there: answer 404). */
  spatialChunk(key: string): Buffer | null {
    const idx = this.chunks.get(key);
    return idx ? this.encodeList(idx) : null;
  }

  /** The synapses of a segment as pre- or postsynaptic partner. */
  related(rel: 'pre' | 'post', segment: bigint): Buffer | null {
    const idx = (rel === 'pre' ? this.byPre : this.byPost).get(segment);
    return idx ? this.encodeList(idx) : null;
  }

  /** One synapse with its relationships. */
  byIdEntry(id: bigint): Buffer | null {
    const i = this.byId.get(id);
    if (i === undefined) return null;
    const out = Buffer.alloc(BYTES + 2 * (4 + 8));
    out.writeFloatLE(this.pos[3 * i], 0);
    out.writeFloatLE(this.pos[3 * i + 1], 4);
    out.writeFloatLE(this.pos[3 * i + 2], 8);
    out.writeFloatLE(this.size[i], 12);
    out.writeUInt32LE(1, 16);
    out.writeBigUInt64LE(this.pre[i], 20);
    out.writeUInt32LE(1, 28);
    out.writeBigUInt64LE(this.post[i], 32);
    return out;
  }
}
