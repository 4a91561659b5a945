/**
 * Neuroglancer precomputed skeletons (spec: neuroglancer src/datasource/precomputed/skeletons.md),
 * unsharded: `info` {"@type": "neuroglancer_skeletons", vertex_attributes: [radius float32]} and
 * one file per segment: uint32le num_vertices, uint32le num_edges, float32le positions [n,3],
 * uint32le edges [m,2], then each vertex attribute (radius float32le [n]). Positions are nm
 * (identity transform).
 * Sharded (`sharding` in the info, neuroglancer_uint64_sharded_v1): the same bytes per segment are
 * the id's chunk in its shard file `<shard>.shard`; readSkeleton and listSkeletons read either layout.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../core/atomic.js';
import { FormatError } from '../../core/errors.js';
import { checkSharding, type ShardingSpec } from '../precomputed/info.js';
import { MinishardCache, ShardReader, locateChunk, shardFileName, shardedFolderIds } from '../precomputed/sharding.js';

export interface PrecomputedSkeleton {
  vertices: Float32Array;
  edges: Uint32Array;
  radius: Float32Array;
}

export function skeletonInfo(sharding?: ShardingSpec): Record<string, unknown> {
  return {
    '@type': 'neuroglancer_skeletons',
    transform: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
    vertex_attributes: [{ id: 'radius', data_type: 'float32', num_components: 1 }],
    ...(sharding ? { sharding } : {}),
  };
}

export function encodeSkeleton(s: PrecomputedSkeleton): Uint8Array {
  const nv = s.vertices.length / 3;
  const ne = s.edges.length / 2;
  const out = new Uint8Array(8 + nv * 12 + ne * 8 + nv * 4);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, nv, true);
  dv.setUint32(4, ne, true);
  let o = 8;
  for (let i = 0; i < nv * 3; i++, o += 4) dv.setFloat32(o, s.vertices[i], true);
  for (let i = 0; i < ne * 2; i++, o += 4) dv.setUint32(o, s.edges[i], true);
  for (let i = 0; i < nv; i++, o += 4) dv.setFloat32(o, s.radius[i] ?? 0, true);
  return out;
}

/** Decode a skeleton file; `attributes` lists the info's vertex attributes (radius read if present). */
export function decodeSkeleton(
  bytes: Uint8Array,
  where = 'skeleton',
  attributes: Array<{ id: string; data_type: string; num_components: number }> = [{ id: 'radius', data_type: 'float32', num_components: 1 }],
): PrecomputedSkeleton {
  if (bytes.length < 8) throw new FormatError(`${bytes.length} bytes: too short for the vertex and edge counts`, where);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nv = dv.getUint32(0, true);
  const ne = dv.getUint32(4, true);
  const size: Record<string, number> = { float32: 4, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4 };
  let need = 8 + nv * 12 + ne * 8;
  for (const a of attributes) {
    if (!(a.data_type in size)) throw new FormatError(`vertex attribute ${a.id}: unknown data_type ${a.data_type}`, where);
    need += nv * a.num_components * size[a.data_type];
  }
  if (bytes.length !== need) throw new FormatError(`${nv} vertices and ${ne} edges need ${need} bytes, file has ${bytes.length}`, where);
  const vertices = new Float32Array(nv * 3);
  let o = 8;
  for (let i = 0; i < nv * 3; i++, o += 4) vertices[i] = dv.getFloat32(o, true);
  const edges = new Uint32Array(ne * 2);
  for (let i = 0; i < ne * 2; i++, o += 4) {
    edges[i] = dv.getUint32(o, true);
    if (edges[i] >= nv) throw new FormatError(`edge endpoint ${edges[i]} >= vertex count ${nv}`, where);
  }
  let radius = new Float32Array(nv);
  for (const a of attributes) {
    const bytesA = nv * a.num_components * size[a.data_type];
    if (a.id === 'radius' && a.data_type === 'float32' && a.num_components === 1) {
      radius = new Float32Array(nv);
      for (let i = 0; i < nv; i++) radius[i] = dv.getFloat32(o + 4 * i, true);
    }
    o += bytesA;
  }
  return { vertices, edges, radius };
}

export async function writeSkeletonInfo(dir: string, sharding?: ShardingSpec): Promise<void> {
  await writeJsonAtomic(path.join(dir, 'info'), skeletonInfo(sharding));
}

/** Write `<id>` atomically; `fsync: false` leaves the flush to the caller (writeFileAtomic). */
export async function writeSkeleton(dir: string, id: bigint, s: PrecomputedSkeleton, opts: { fsync?: boolean } = {}): Promise<void> {
  await writeFileAtomic(path.join(dir, `${id}`), encodeSkeleton(s), opts);
}

type Attributes = Array<{ id: string; data_type: string; num_components: number }>;

async function readSkeletonInfo(dir: string): Promise<{ attrs: Attributes; sharding?: ShardingSpec }> {
  const infoFile = path.join(dir, 'info');
  try {
    const info = JSON.parse(await fs.readFile(infoFile, 'utf8')) as { '@type'?: string; vertex_attributes?: Attributes; sharding?: unknown };
    if (info['@type'] !== 'neuroglancer_skeletons') throw new FormatError(`@type is ${JSON.stringify(info['@type'])}, expected "neuroglancer_skeletons"`, infoFile);
    return { attrs: info.vertex_attributes ?? [], ...(info.sharding === undefined ? {} : { sharding: checkSharding(info.sharding, 'sharding', infoFile) }) };
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError(`cannot read skeleton info: ${(err as Error).message}`, infoFile);
  }
}

/** Decoded minishard indexes of sharded skeleton folders, shared across readSkeleton calls (keyed by file version). */
const minishards = new MinishardCache();

/** Read one segment's skeleton (either layout), using the folder's info for the attribute layout. */
export async function readSkeleton(dir: string, id: bigint): Promise<PrecomputedSkeleton> {
  const { attrs, sharding } = await readSkeletonInfo(dir);
  if (!sharding) {
    const file = path.join(dir, `${id}`);
    return decodeSkeleton(new Uint8Array(await fs.readFile(file)), file, attrs);
  }
  const file = path.join(dir, shardFileName(locateChunk(id, sharding).shard, sharding));
  const r = await ShardReader.open(file, sharding, minishards);
  if (!r) throw new FormatError(`no shard file for segment ${id}`, file);
  try {
    const bytes = await r.read(id);
    if (!bytes) throw new FormatError(`no skeleton for segment ${id} in the shard`, file);
    return decodeSkeleton(bytes, `${file} (segment ${id})`, attrs);
  } finally {
    await r.close();
  }
}

/** Segment ids that have a skeleton in `dir` (either layout), ascending. */
export async function listSkeletons(dir: string): Promise<bigint[]> {
  const names = await fs.readdir(dir);
  const { sharding } = names.includes('info') ? await readSkeletonInfo(dir) : { sharding: undefined };
  if (sharding) return shardedFolderIds(dir, sharding, minishards);
  return names.filter((n) => /^\d+$/.test(n)).map((n) => BigInt(n)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
