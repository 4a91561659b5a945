/**
 * An independent reader of one chunk of a Neuroglancer precomputed layer, written from the
 * format's specification (neuroglancer src/datasource/precomputed/volume.md and sharded.md) and
 * sharing no code with src/formats/precomputed: tests read Wiring's output through it, as a
 * stock reader would. Identity hash only (what Wiring writes); returns the chunk's stored bytes
 * after the shard's data_encoding (still in the scale's chunk encoding), or undefined when absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';

type Xyz = [number, number, number];

export function specChunkBytes(layerDir: string, scale: number, g: Xyz): Uint8Array | undefined {
  const info = JSON.parse(readFileSync(path.join(layerDir, 'info'), 'utf8'));
  const s = info.scales[scale];
  const chunk: Xyz = s.chunk_sizes[0];
  const grid = [0, 1, 2].map((a) => Math.ceil(s.size[a] / chunk[a]));
  const dir = path.join(layerDir, s.key);
  if (!s.sharding) {
    // <x0>-<x1>_<y0>-<y1>_<z0>-<z1>, in voxels from voxel_offset, clipped at the volume's end
    const name = [0, 1, 2].map((a) => {
      const lo = s.voxel_offset[a] + g[a] * chunk[a];
      return `${lo}-${Math.min(lo + chunk[a], s.voxel_offset[a] + s.size[a])}`;
    }).join('_');
    const file = path.join(dir, name);
    if (!existsSync(file)) return undefined;
    const b = readFileSync(file);
    return b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b;
  }
  const sh = s.sharding;
  if (sh['@type'] !== 'neuroglancer_uint64_sharded_v1' || sh.hash !== 'identity') throw new Error(`spec reader: unsupported sharding ${JSON.stringify(sh)}`);
  // compressed Morton code: bit i of each axis (while the axis has bits left) in x, y, z order
  const bits = grid.map((n) => Math.ceil(Math.log2(n)));
  let id = 0n;
  let j = 0n;
  for (let i = 0; i < Math.max(...bits); i++) {
    for (let a = 0; a < 3; a++) {
      if (i >= bits[a]) continue;
      if ((g[a] >> i) & 1) id |= 1n << j;
      j++;
    }
  }
  const hash = id >> BigInt(sh.preshift_bits);
  const minishard = Number(hash & ((1n << BigInt(sh.minishard_bits)) - 1n));
  const shard = (hash >> BigInt(sh.minishard_bits)) & ((1n << BigInt(sh.shard_bits)) - 1n);
  const file = path.join(dir, shard.toString(16).padStart(Math.ceil(sh.shard_bits / 4), '0') + '.shard');
  if (!existsSync(file)) return undefined;
  const buf = readFileSync(file);
  const indexEnd = 16 * 2 ** sh.minishard_bits;
  const start = Number(buf.readBigUInt64LE(16 * minishard));
  const end = Number(buf.readBigUInt64LE(16 * minishard + 8));
  if (start === end) return undefined;
  let mi = buf.subarray(indexEnd + start, indexEnd + end);
  if (sh.minishard_index_encoding === 'gzip') mi = gunzipSync(mi);
  const n = mi.length / 24;
  let cid = 0n;
  let pos = 0n;
  for (let k = 0; k < n; k++) {
    cid += mi.readBigUInt64LE(8 * k);
    const offset = pos + mi.readBigUInt64LE(8 * (n + k));
    const size = mi.readBigUInt64LE(8 * (2 * n + k));
    pos = offset + size;
    if (cid !== id) continue;
    const data = buf.subarray(indexEnd + Number(offset), indexEnd + Number(offset + size));
    return sh.data_encoding === 'gzip' ? gunzipSync(data) : new Uint8Array(data);
  }
  return undefined;
}
