import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Serving a dataset's files the way cloud buckets do, so stock Neuroglancer, cloud-volume and
 * tensorstore read them unchanged: byte ranges (sharded layers read shard indexes by range),
 * `Content-Encoding: gzip` for chunk files stored gzipped, and nothing outside the dataset.
 */

const GZIP_MAGIC = [0x1f, 0x8b];

/** Resolve a URL path under `root`; null when it escapes the root (.., symlinks out) or is not a file. */
export async function resolveUnder(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const candidate = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  const realRoot = await fs.realpath(root);
  let real: string;
  try {
    real = await fs.realpath(candidate);
  } catch {
    return null;
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return null;
  // Resume records and temporary files are not part of the published dataset.
  const rel = path.relative(realRoot, real);
  if (rel.split(path.sep).some((p) => p.startsWith('.wiring-run')) || /\.tmp-/.test(rel)) return null;
  const st = await fs.stat(real);
  return st.isFile() ? real : null;
}

const TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.parquet': 'application/vnd.apache.parquet',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  // Neuroglancer compiles its Draco decoder (multi-resolution meshes) with compileStreaming, which needs this type
  '.wasm': 'application/wasm',
};

function contentType(file: string): string {
  const base = path.basename(file);
  if (base === 'info' || base === 'provenance') return 'application/json';
  return TYPES[path.extname(file)] ?? 'application/octet-stream';
}

/** Parse one `bytes=` range against a file size; 'unsatisfiable' or null (no/ignored range). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // multi-range or malformed: serve the whole file
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export async function sendFile(req: FastifyRequest, reply: FastifyReply, file: string): Promise<FastifyReply> {
  const st = await fs.stat(file);
  reply.header('Content-Type', contentType(file));
  reply.header('Accept-Ranges', 'bytes');
  reply.header('Cache-Control', 'no-cache');
  const range = parseRange(req.headers.range, st.size);
  if (range === 'unsatisfiable') {
    return reply.code(416).header('Content-Range', `bytes */${st.size}`).send();
  }
  if (range) {
    reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${st.size}`);
    reply.header('Content-Length', range.end - range.start + 1);
    return reply.send(createReadStream(file, { start: range.start, end: range.end }));
  }
  // A whole gzipped chunk goes out as stored, labelled so clients decompress it transparently.
  if (st.size >= 2) {
    const fh = await fs.open(file, 'r');
    const head = Buffer.alloc(2);
    await fh.read(head, 0, 2, 0);
    await fh.close();
    if (head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1] && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      reply.header('Content-Encoding', 'gzip');
    }
  }
  reply.header('Content-Length', st.size);
  return reply.send(createReadStream(file));
}
