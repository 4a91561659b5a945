import { readFile } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RemoteMirror } from '../formats/remote/mirror.js';
import { parseRange, sendFile } from './static.js';

/**
 * Remote layers served as if they were the dataset's own (`wiring serve --remote name=URL`):
 * /data/<name>/<path> is fetched from the remote layer into its on-disk mirror (once) and sent
 * from there, so Neuroglancer shows a public EM volume beside the local segmentation through one
 * origin, and a view seen once is seen again offline. Byte-range requests (shard indexes and
 * chunks of sharded layers) are fetched as ranges, never as whole shards.
 */

/** The remote layers' entries for /api/layers: a precomputed layer's `info`, as a local layer's. */
export async function remoteLayerInfos(remote: Record<string, RemoteMirror>): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (const [name, m] of Object.entries(remote)) {
    const file = await m.file('info', 16 << 20).catch(() => undefined);
    if (!file) continue; // a Zarr / N5 store: proxied, but not listed (it has no precomputed info)
    let info: Record<string, any>;
    try {
      info = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    const s0 = Array.isArray(info.scales) ? info.scales[0] : undefined;
    if (!s0) continue;
    out.push({
      name,
      type: String(info.type),
      data_type: String(info.data_type),
      voxel_size: s0.resolution,
      size: s0.size,
      voxel_offset: Array.isArray(s0.voxel_offset) ? s0.voxel_offset : [0, 0, 0],
      mesh: typeof info.mesh === 'string',
      skeletons: typeof info.skeletons === 'string',
      remote: m.base,
    });
  }
  return out;
}

/** Answer a GET of `rel` inside remote layer `m` (404 when the server has no such file). */
export async function sendRemote(req: FastifyRequest, reply: FastifyReply, m: RemoteMirror, rel: string): Promise<FastifyReply | undefined> {
  if (req.headers.range) {
    const f = await m.ranged(rel);
    if (!f) return undefined;
    const range = parseRange(req.headers.range, f.size);
    if (range === 'unsatisfiable') return reply.code(416).header('Content-Range', `bytes */${f.size}`).send();
    if (range) {
      const bytes = await f.read(range.start, range.end - range.start + 1);
      return reply
        .code(206)
        .header('Content-Type', 'application/octet-stream')
        .header('Accept-Ranges', 'bytes')
        .header('Content-Range', `bytes ${range.start}-${range.end}/${f.size}`)
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
  }
  const file = await m.file(rel);
  if (!file) return undefined;
  return sendFile(req, reply, file);
}
