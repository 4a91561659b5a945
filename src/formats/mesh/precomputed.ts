/**
 * Neuroglancer precomputed meshes (spec: neuroglancer src/datasource/precomputed/meshes.md).
 *
 * - Legacy single-resolution: `info` {"@type": "neuroglancer_legacy_mesh"}, per segment a JSON
 *   manifest `<id>:0` = {"fragments": [...]} and fragment files: uint32le vertex count, float32le
 *   x,y,z (nm), uint32le triangle index triples.
 * - Multi-resolution (`neuroglancer_multilod_draco`): per segment a binary manifest `<id>.index`
 *   and a fragment data file `<id>` = Draco meshes concatenated in manifest order. Positions are
 *   integers in [0, 2^bits) relative to the fragment's octree node.
 *
 * - Sharded multi-resolution: the info's `sharding` (neuroglancer_uint64_sharded_v1) says which
 *   shard file `<shard>.shard` holds a segment id; the id's chunk in the shard is its manifest,
 *   and its fragment data lie immediately before the manifest in the same file (not part of the
 *   chunk: the minishard index points past them). `MultiresMeshReader` reads either layout.
 *
 * Our multi-resolution writer takes an octree (stages/morphology/octree.ts): lod 0 = the full mesh
 * cut into grid cells of chunk_shape, one fragment per cell; lod k+1 = one fragment per 2x2x2
 * group of lod-k cells (simplified, border locked), fragments of each lod in Z-curve order.
 */
import { promises as fs, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../../core/box.js';
import { writeFileAtomic, writeJsonAtomic } from '../../core/atomic.js';
import { FormatError, WiringError } from '../../core/errors.js';
import { remapTriangles, uniqueTriples } from '../../core/hash.js';
import { checkSharding, type ShardingSpec } from '../precomputed/info.js';
import { MinishardCache, ShardReader, encodeShard, locateChunk, shardFileName, shardedFolderIds } from '../precomputed/sharding.js';
import { decodeDracoIntMesh, encodeDracoIntMesh } from './draco.js';
import type { TriMesh } from './plyobj.js';

// ---------------------------------------------------------------- legacy single resolution

export function encodeLegacyFragment(mesh: TriMesh): Uint8Array {
  const nv = mesh.vertices.length / 3;
  const out = new Uint8Array(4 + nv * 12 + mesh.indices.length * 4);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, nv, true);
  let o = 4;
  for (let i = 0; i < mesh.vertices.length; i++, o += 4) dv.setFloat32(o, mesh.vertices[i], true);
  for (let i = 0; i < mesh.indices.length; i++, o += 4) dv.setUint32(o, mesh.indices[i], true);
  return out;
}

export function decodeLegacyFragment(bytes: Uint8Array, where = 'mesh fragment'): TriMesh {
  if (bytes.length < 4) throw new FormatError(`${bytes.length} bytes: too short for a vertex count`, where);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nv = dv.getUint32(0, true);
  const rest = bytes.length - 4 - nv * 12;
  if (rest < 0 || rest % 12 !== 0) {
    throw new FormatError(`${nv} vertices need ${4 + nv * 12} bytes + a multiple of 12 for triangles; file has ${bytes.length}`, where);
  }
  const vertices = new Float32Array(nv * 3);
  for (let i = 0; i < nv * 3; i++) vertices[i] = dv.getFloat32(4 + 4 * i, true);
  const indices = new Uint32Array(rest / 4);
  for (let i = 0; i < indices.length; i++) {
    indices[i] = dv.getUint32(4 + nv * 12 + 4 * i, true);
    if (indices[i] >= nv) throw new FormatError(`triangle index ${indices[i]} >= vertex count ${nv}`, where);
  }
  return { vertices, indices };
}

export async function writeLegacyInfo(dir: string): Promise<void> {
  await writeJsonAtomic(path.join(dir, 'info'), { '@type': 'neuroglancer_legacy_mesh' });
}

/** Write one segment's mesh as a single fragment `<id>:0:1` with manifest `<id>:0`. */
export async function writeLegacyMesh(dir: string, id: bigint, mesh: TriMesh): Promise<void> {
  const frag = `${id}:0:1`;
  await writeFileAtomic(path.join(dir, frag), encodeLegacyFragment(mesh));
  await writeJsonAtomic(path.join(dir, `${id}:0`), { fragments: [frag] });
}

/** Read a segment's legacy mesh (all fragments concatenated). */
export async function readLegacyMesh(dir: string, id: bigint): Promise<TriMesh> {
  const mf = path.join(dir, `${id}:0`);
  let manifest: { fragments?: unknown };
  try {
    manifest = JSON.parse(await fs.readFile(mf, 'utf8')) as { fragments?: unknown };
  } catch (err) {
    throw new FormatError(`cannot read manifest: ${(err as Error).message}`, mf);
  }
  if (!Array.isArray(manifest.fragments)) throw new FormatError('expected {"fragments": [names]}', mf);
  const parts: TriMesh[] = [];
  for (const f of manifest.fragments) {
    const file = path.join(dir, String(f));
    parts.push(decodeLegacyFragment(new Uint8Array(await fs.readFile(file)), file));
  }
  return concat(parts);
}

function concat(parts: TriMesh[]): TriMesh {
  const nv = parts.reduce((s, p) => s + p.vertices.length, 0);
  const ni = parts.reduce((s, p) => s + p.indices.length, 0);
  const vertices = new Float32Array(nv);
  const indices = new Uint32Array(ni);
  let vo = 0;
  let io = 0;
  for (const p of parts) {
    vertices.set(p.vertices, vo);
    for (let i = 0; i < p.indices.length; i++) indices[io + i] = p.indices[i] + vo / 3;
    vo += p.vertices.length;
    io += p.indices.length;
  }
  return { vertices, indices };
}

// ---------------------------------------------------------------- multi-resolution (Draco)

export interface MultiresInfo {
  '@type': 'neuroglancer_multilod_draco';
  vertex_quantization_bits: 10 | 16;
  transform: number[];
  lod_scale_multiplier: number;
  /** present: the meshes are sharded (see the file header) */
  sharding?: ShardingSpec;
}

export function multiresInfo(bits: 10 | 16 = 16, sharding?: ShardingSpec): MultiresInfo {
  return {
    '@type': 'neuroglancer_multilod_draco',
    vertex_quantization_bits: bits,
    transform: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
    lod_scale_multiplier: 1,
    ...(sharding ? { sharding } : {}),
  };
}

/**
 * The sharding of a mesh or skeleton folder written by workers that each hold the ids of one
 * residue mod `shards` (a power of two): identity hash, no preshift, no minishards, so a segment's
 * shard is its id mod `shards` and each worker writes whole shard files of its own. One minishard
 * per shard: its index lists the shard's ids (24 bytes each before gzip), which Neuroglancer
 * fetches once per shard. Raw data: Draco fragments and manifests gain nothing from gzip, and
 * Neuroglancer reads the fragment data before a manifest by byte range, uncompressed.
 */
export function idModSharding(shards: number): ShardingSpec {
  const bits = Math.log2(shards);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new WiringError(`${shards} shards: expected a power of two up to 2^32`);
  return {
    '@type': 'neuroglancer_uint64_sharded_v1',
    preshift_bits: 0,
    hash: 'identity',
    minishard_bits: 0,
    shard_bits: bits,
    minishard_index_encoding: 'gzip',
    data_encoding: 'raw',
  };
}

/** One segment's multi-resolution mesh as encodeMultiresOctree returns it. */
export interface EncodedMultires {
  id: bigint;
  manifest: Uint8Array;
  data: Uint8Array;
}

/**
 * One shard file of a sharded multi-resolution mesh folder: per segment its manifest as the chunk,
 * its fragment data immediately before it. Every id must belong to this shard; `spec.data_encoding`
 * must be raw (the fragment data are read by byte range).
 */
export function encodeMeshShard(segments: EncodedMultires[], spec: ShardingSpec): Uint8Array {
  if (spec.data_encoding === 'gzip') throw new WiringError('sharded meshes: data_encoding must be "raw" (Neuroglancer reads fragment data by byte range)');
  return encodeShard(segments.map((m) => ({ id: m.id, data: m.manifest, prefix: m.data })), spec);
}

/**
 * Reads the multi-resolution meshes of a mesh folder (its `info`, then per segment the manifest and
 * fragment data), unsharded (`<id>.index`, `<id>`) or sharded (`sharding` in the info). Errors name
 * the file. `close()` releases the shard files it opened.
 */
export class MultiresMeshReader {
  private readonly shards = new Map<string, Promise<ShardReader | undefined>>();
  private readonly cache = new MinishardCache();
  private constructor(readonly dir: string, readonly info: MultiresInfo) {}

  static async open(dir: string): Promise<MultiresMeshReader> {
    const file = path.join(dir, 'info');
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new FormatError(`cannot read the mesh info: ${(err as Error).message}`, file);
    }
    if (json['@type'] !== 'neuroglancer_multilod_draco') throw new FormatError(`"@type" is ${JSON.stringify(json['@type'])}, expected "neuroglancer_multilod_draco"`, file);
    const bits = json.vertex_quantization_bits;
    if (bits !== 10 && bits !== 16) throw new FormatError(`vertex_quantization_bits is ${JSON.stringify(bits)}, expected 10 or 16`, file);
    if (json.sharding !== undefined) checkSharding(json.sharding, 'sharding', file);
    return new MultiresMeshReader(dir, json as unknown as MultiresInfo);
  }

  get sharded(): boolean {
    return this.info.sharding !== undefined;
  }

  /** The manifest and fragment data of segment `id`, or undefined when the folder has no mesh for it. */
  async read(id: bigint): Promise<{ manifest: Uint8Array; data: Uint8Array } | undefined> {
    const spec = this.info.sharding;
    if (!spec) {
      const mf = path.join(this.dir, `${id}.index`);
      const manifest = await readIfExists(mf);
      if (!manifest) return undefined;
      const df = path.join(this.dir, `${id}`);
      const data = await readIfExists(df);
      if (!data) throw new FormatError(`manifest ${id}.index exists but its fragment data file does not`, df);
      checkSizes(decodeManifest(manifest, mf), data.length, df);
      return { manifest, data };
    }
    const name = shardFileName(locateChunk(id, spec).shard, spec);
    let opening = this.shards.get(name);
    if (!opening) this.shards.set(name, (opening = ShardReader.open(path.join(this.dir, name), spec, this.cache)));
    const shard = await opening;
    if (!shard) return undefined;
    const at = await shard.locate(id);
    if (!at) return undefined;
    const where = `${shard.where} (segment ${id})`;
    const manifest = (await shard.read(id))!;
    const total = totalSize(decodeManifest(manifest, `${where} manifest`));
    const indexEnd = 2 ** spec.minishard_bits * 16;
    if (at.start - total < indexEnd) {
      throw new FormatError(`the manifest at byte ${at.start} lists ${total} bytes of fragments, which would start before the shard's data (byte ${indexEnd})`, where);
    }
    return { manifest, data: await shard.readRange(at.start - total, total) };
  }

  /** Every segment id with a mesh in the folder, ascending. */
  async ids(): Promise<bigint[]> {
    const spec = this.info.sharding;
    if (spec) return shardedFolderIds(this.dir, spec, this.cache);
    const out: bigint[] = [];
    for (const f of await fs.readdir(this.dir)) if (/^\d+\.index$/.test(f)) out.push(BigInt(f.slice(0, -6)));
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async close(): Promise<void> {
    for (const p of this.shards.values()) await (await p.catch(() => undefined))?.close();
    this.shards.clear();
  }
}

function totalSize(m: Manifest): number {
  return m.fragments.reduce((a, f) => a + f.sizes.reduce((x, y) => x + y, 0), 0);
}

function checkSizes(m: Manifest, dataBytes: number, where: string): void {
  const total = totalSize(m);
  if (total !== dataBytes) throw new FormatError(`the manifest's fragment sizes add up to ${total} bytes, the data has ${dataBytes}`, where);
}

async function readIfExists(file: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FormatError(`cannot read: ${(err as Error).message}`, file);
  }
}

export interface Manifest {
  chunkShape: Vec3;
  gridOrigin: Vec3;
  lodScales: number[];
  vertexOffsets: Vec3[];
  /** per lod: fragment positions [x,y,z] and byte sizes */
  fragments: Array<{ positions: Vec3[]; sizes: number[] }>;
}

export function encodeManifest(m: Manifest): Uint8Array {
  const nl = m.lodScales.length;
  let n = 4 * (3 + 3 + 1 + nl + 3 * nl + nl);
  for (const f of m.fragments) n += 4 * (4 * f.positions.length);
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  let o = 0;
  const f32 = (v: number) => { dv.setFloat32(o, v, true); o += 4; };
  const u32 = (v: number) => { dv.setUint32(o, v, true); o += 4; };
  m.chunkShape.forEach(f32);
  m.gridOrigin.forEach(f32);
  u32(nl);
  m.lodScales.forEach(f32);
  for (const v of m.vertexOffsets) v.forEach(f32);
  for (const f of m.fragments) u32(f.positions.length);
  for (const f of m.fragments) {
    for (let axis = 0; axis < 3; axis++) for (const p of f.positions) u32(p[axis]);
    f.sizes.forEach(u32);
  }
  return out;
}

export function decodeManifest(bytes: Uint8Array, where = 'mesh manifest'): Manifest {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const need = (k: number) => {
    if (o + 4 * k > bytes.length) throw new FormatError(`truncated at byte ${o} (${bytes.length} bytes)`, where);
  };
  const f32 = () => { need(1); const v = dv.getFloat32(o, true); o += 4; return v; };
  const u32 = () => { need(1); const v = dv.getUint32(o, true); o += 4; return v; };
  const chunkShape: Vec3 = [f32(), f32(), f32()];
  const gridOrigin: Vec3 = [f32(), f32(), f32()];
  const nl = u32();
  if (nl > 64) throw new FormatError(`num_lods ${nl} is implausible`, where);
  const lodScales = Array.from({ length: nl }, f32);
  const vertexOffsets: Vec3[] = Array.from({ length: nl }, () => [f32(), f32(), f32()] as Vec3);
  const counts = Array.from({ length: nl }, u32);
  const fragments = counts.map((c) => {
    need(4 * c);
    const axes = [0, 1, 2].map(() => Array.from({ length: c }, u32));
    const positions = axes[0].map((_, i) => [axes[0][i], axes[1][i], axes[2][i]] as Vec3);
    return { positions, sizes: Array.from({ length: c }, u32) };
  });
  if (o !== bytes.length) throw new FormatError(`${bytes.length - o} unexpected trailing bytes`, where);
  return { chunkShape, gridOrigin, lodScales, vertexOffsets, fragments };
}

/** One octree node: its grid position at its level and its triangles (indices into the shared vertices). */
export interface OctreeNode {
  position: Vec3;
  indices: Uint32Array;
}

/**
 * A mesh as an octree of levels of detail: lods[k] are the nodes of level k, each a cell of size
 * chunkShape * 2^k at gridOrigin + position * chunkShape * 2^k; every vertex a node uses lies in
 * its (closed) cell. Built by stages/morphology/octree.ts.
 */
export interface MeshOctree {
  chunkShape: Vec3;
  gridOrigin: Vec3;
  /** shared vertex positions [x,y,z] in nm */
  vertices: Float64Array;
  lodScales: number[];
  lods: OctreeNode[][];
}

function lessMsb(a: number, b: number): boolean {
  return a < b && a < (a ^ b);
}

/** Neuroglancer's Z-curve order of grid positions (x the lowest bit of each triple). */
export function zorderLess(p: Vec3, q: Vec3): boolean {
  let a = p[2], b = q[2];
  if (lessMsb(a ^ b, p[1] ^ q[1])) {
    a = p[1];
    b = q[1];
  }
  if (lessMsb(a ^ b, p[0] ^ q[0])) {
    a = p[0];
    b = q[0];
  }
  return a < b;
}

/**
 * Encode an octree as Neuroglancer's multi-resolution manifest and fragment data: per level the
 * nodes in Z-curve order, each a Draco mesh whose positions are quantized to [0, 2^bits - 1]
 * across the node's cell (a vertex on a cell face gets the same value in both neighbours).
 */
export async function encodeMultiresOctree(tree: MeshOctree, opts: { bits?: 10 | 16 } = {}): Promise<{ manifest: Uint8Array; data: Uint8Array }> {
  const bits = opts.bits ?? 16;
  const qmax = 2 ** bits - 1;
  const { chunkShape: chunk, gridOrigin: origin, vertices } = tree;
  const frags: Uint8Array[] = [];
  const fragments: Manifest['fragments'] = [];
  const slot = new Int32Array(vertices.length / 3).fill(-1);
  for (let lod = 0; lod < tree.lods.length; lod++) {
    const s = 2 ** lod;
    const nodes = [...tree.lods[lod]].sort((n, m) => (zorderLess(n.position, m.position) ? -1 : zorderLess(m.position, n.position) ? 1 : 0));
    const level: Manifest['fragments'][number] = { positions: [], sizes: [] };
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      if (i > 0 && !zorderLess(nodes[i - 1].position, n.position)) {
        throw new WiringError(`octree lod ${lod}: two nodes at position [${n.position}]`);
      }
      // each vertex of the node quantized once, in first-use order (slot[v] = its local index
      // during this node; reset below)
      const idx = new Uint32Array(n.indices.length);
      const back: number[] = [];
      for (let j = 0; j < n.indices.length; j++) {
        const v = n.indices[j];
        let l = slot[v];
        if (l < 0) {
          l = back.length;
          slot[v] = l;
          back.push(v);
        }
        idx[j] = l;
      }
      const q = new Int32Array(back.length * 3);
      for (let l = 0; l < back.length; l++) {
        const v = back[l];
        slot[v] = -1;
        for (let k = 0; k < 3; k++) {
          const u = (vertices[3 * v + k] - origin[k]) / (chunk[k] * s) - n.position[k];
          if (u < -1e-6 || u > 1 + 1e-6) {
            throw new WiringError(`octree lod ${lod} node [${n.position}]: vertex ${v} lies outside its cell (axis ${k}, ${u.toFixed(6)} cells)`);
          }
          q[3 * l + k] = Math.max(0, Math.min(qmax, Math.round(u * qmax)));
        }
      }
      // Vertices that quantize to the same position are merged (and triangles that collapse are
      // dropped): Neuroglancer's decoder needs one position value per Draco point.
      const w = weldQuantized(q, idx);
      const bytes = await encodeDracoIntMesh(w.positions, w.indices);
      frags.push(bytes);
      level.positions.push([n.position[0], n.position[1], n.position[2]]);
      level.sizes.push(bytes.length);
    }
    fragments.push(level);
  }
  const manifest = encodeManifest({
    chunkShape: chunk,
    gridOrigin: origin,
    lodScales: tree.lodScales,
    vertexOffsets: tree.lods.map(() => [0, 0, 0] as Vec3),
    fragments,
  });
  const total = frags.reduce((a, b) => a + b.length, 0);
  const data = new Uint8Array(total);
  let o = 0;
  for (const f of frags) {
    data.set(f, o);
    o += f.length;
  }
  return { manifest, data };
}

function weldQuantized(q: Int32Array, indices: Uint32Array): { positions: Int32Array; indices: Uint32Array } {
  const { remap, unique: pos, count: m } = uniqueTriples(q);
  const idx = remapTriangles(indices, remap);
  const seen = new Uint8Array(m);
  for (let i = 0; i < idx.length; i++) seen[idx[i]] = 1;
  // drop positions no triangle uses (Draco would drop them too)
  const keep = new Int32Array(m).fill(-1);
  let f = 0;
  for (let v = 0; v < m; v++) {
    if (!seen[v]) continue;
    keep[v] = f;
    pos.copyWithin(3 * f, 3 * v, 3 * v + 3);
    f++;
  }
  for (let i = 0; i < idx.length; i++) idx[i] = keep[idx[i]];
  return { positions: pos.slice(0, 3 * f), indices: idx };
}

/** One decoded fragment: its grid position, its quantized positions and the mesh in nm. */
export interface DecodedFragment {
  position: Vec3;
  quantized: Int32Array;
  mesh: TriMesh;
}

/** Decode every fragment of one lod (tests, inspection). Empty fragments (size 0) decode empty. */
export async function decodeMultiresFragments(manifestBytes: Uint8Array, data: Uint8Array, lod: number, bits: 10 | 16 = 16): Promise<DecodedFragment[]> {
  const m = decodeManifest(manifestBytes);
  if (lod >= m.lodScales.length) throw new FormatError(`lod ${lod} not in manifest (${m.lodScales.length} lods)`);
  const total = m.fragments.reduce((a, f) => a + f.sizes.reduce((x, y) => x + y, 0), 0);
  if (total !== data.length) throw new FormatError(`manifest fragment sizes add up to ${total} bytes, the data has ${data.length}`);
  let off = 0;
  for (let l = 0; l < lod; l++) off += m.fragments[l].sizes.reduce((a, b) => a + b, 0);
  const qmax = 2 ** bits - 1;
  const out: DecodedFragment[] = [];
  const f = m.fragments[lod];
  const s = 2 ** lod;
  for (let i = 0; i < f.sizes.length; i++) {
    const d = await decodeDracoIntMesh(data.subarray(off, off + f.sizes[i]), `lod ${lod} fragment ${i}`);
    if (d.attributeSize !== d.positions.length / 3) {
      throw new FormatError(`${d.positions.length / 3} Draco points but ${d.attributeSize} position values (Neuroglancer rejects this)`, `lod ${lod} fragment ${i}`);
    }
    off += f.sizes[i];
    const vertices = new Float32Array(d.positions.length);
    for (let j = 0; j < d.positions.length; j += 3) {
      for (let k = 0; k < 3; k++) {
        vertices[j + k] = m.gridOrigin[k] + m.vertexOffsets[lod][k] + m.chunkShape[k] * s * (f.positions[i][k] + d.positions[j + k] / qmax);
      }
    }
    out.push({ position: f.positions[i], quantized: d.positions, mesh: { vertices, indices: d.indices } });
  }
  return out;
}

/** Decode every fragment of one lod back to nm positions, concatenated (not welded). */
export async function decodeMultiresLod(manifestBytes: Uint8Array, data: Uint8Array, lod: number, bits: 10 | 16 = 16): Promise<TriMesh> {
  return concat((await decodeMultiresFragments(manifestBytes, data, lod, bits)).map((f) => f.mesh));
}

export async function writeMultiresInfo(dir: string, bits: 10 | 16 = 16, sharding?: ShardingSpec): Promise<void> {
  await writeJsonAtomic(path.join(dir, 'info'), multiresInfo(bits, sharding));
}

/**
 * Write `<id>` (fragment data) then `<id>.index` (manifest), each atomically; `fsync: false`
 * leaves the flush to the caller (writeFileAtomic). `staging: true`: `dir` is a private staging
 * folder (swapped in whole, flushed once by the caller), so each file is one synchronous write
 * without a temporary name, rename or fsync (an async write per small file costs a round trip
 * through libuv's thread pool for each of mkdir, open, write, close and rename).
 */
export async function writeMultiresMesh(dir: string, id: bigint, tree: MeshOctree, opts: { bits?: 10 | 16; fsync?: boolean; staging?: boolean } = {}): Promise<{ bytes: number; fragments: number }> {
  const { manifest, data } = await encodeMultiresOctree(tree, opts);
  if (opts.staging) {
    writeFileSync(path.join(dir, `${id}`), data);
    writeFileSync(path.join(dir, `${id}.index`), manifest);
  } else {
    const w = { fsync: opts.fsync };
    await writeFileAtomic(path.join(dir, `${id}`), data, w);
    await writeFileAtomic(path.join(dir, `${id}.index`), manifest, w);
  }
  return { bytes: data.length + manifest.length, fragments: tree.lods.reduce((a, l) => a + l.length, 0) };
}
