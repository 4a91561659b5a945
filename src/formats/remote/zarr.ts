import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../../core/box.js';
import { FormatError } from '../../core/errors.js';
import { parseJsonText } from '../../core/json.js';
import { isSafeKey } from '../../core/safe-path.js';
import { type ZarrSource, openZarr } from '../zarr.js';
import type { MirrorFetch } from '../zarr-guard.js';
import type { HttpClient } from './http.js';
import { RemoteMirror } from './mirror.js';
import type { RemoteOptions } from './precomputed.js';

/**
 * A remote Zarr v2 / v3 (sharded too) / OME-Zarr / N5 store, read through an on-disk mirror
 * that the local Zarr reader (../zarr.ts) reads:
 *
 *   <cache>/remote/<hash of the URL>/
 *     source.json                 the URL
 *     .zarray .zattrs .zgroup     metadata of the node at the URL (and of the OME-Zarr
 *     zarr.json attributes.json   datasets / N5 scale levels it names), fetched on open
 *     <name>.absent               a file the server does not have (404): fetched no more
 *     <chunk key>                 a chunk file, fetched when a read needs it
 *     <shard key> + .ranges       a v3 shard: a sparse file holding only the ranges read
 *                                 (the shard index, the inner chunks), as for precomputed
 *
 * HTTP has no listing, so the URL must name an array, an OME-Zarr multiscale group or an N5
 * dataset / multiscale group (as Neuroglancer's zarr:// and n5:// URLs do). Every body is
 * bounded (metadata 16 MiB, a chunk twice its decoded size), and memory follows the box read.
 */

const META_FILES = ['.zarray', '.zattrs', '.zgroup', 'zarr.json', 'attributes.json'];
const MAX_META = 16 << 20;
/** N5 multiscale levels probed (s0, s1, ...) when the group does not list its scales. */
const MAX_N5_LEVELS = 24;

export interface RemoteZarr {
  base: string;
  mirror: string;
  client: HttpClient;
  source: ZarrSource;
}

export async function openRemoteZarr(spec: string, opts: RemoteOptions & { voxelSize?: Vec3 } = {}): Promise<RemoteZarr> {
  const m = await RemoteMirror.open(spec, opts);
  const mirror = m.dir;
  const rel = (file: string) => path.relative(mirror, file).split(path.sep).join('/');
  const fetch: MirrorFetch = {
    file: async (file, maxBytes) => void (await m.file(rel(file), META_FILES.includes(path.basename(file)) ? MAX_META : maxBytes)),
    async range(file, range) {
      const shard = await m.ranged(rel(file));
      if (!shard) return undefined;
      if ('suffixLength' in range) {
        if (!(range.suffixLength <= shard.size)) throw new FormatError(`shard of ${shard.size} bytes is shorter than its ${range.suffixLength}-byte shard index`, m.urlOf(rel(file)));
        return shard.read(shard.size - range.suffixLength, range.suffixLength);
      }
      return shard.read(range.offset, range.length);
    },
  };

  /** Metadata of the node at `dir` (fetched again: a remote store may have changed since the last open). */
  const fetchMeta = async (dir: string): Promise<Record<string, Record<string, unknown>>> => {
    const out: Record<string, Record<string, unknown>> = {};
    await Promise.all(
      META_FILES.map(async (name) => {
        const r = dir ? `${dir}/${name}` : name;
        const file = await m.file(r, MAX_META, true);
        if (!file) return;
        const v = parseJsonText(await fs.readFile(file, 'utf8'), m.urlOf(r));
        if (v && typeof v === 'object' && !Array.isArray(v)) out[name] = v as Record<string, unknown>;
      }),
    );
    return out;
  };

  const root = await fetchMeta('');
  if (Object.keys(root).length === 0) {
    throw new FormatError(`no Zarr or N5 metadata at this URL (${META_FILES.join(', ')}: all HTTP 404); give the URL of an array, an OME-Zarr group or an N5 dataset`, m.base);
  }
  // OME-Zarr: the datasets the multiscale names
  const attrs = (root['.zattrs'] ?? (root['zarr.json']?.attributes as Record<string, unknown> | undefined) ?? {}) as Record<string, unknown>;
  const ome = (attrs.ome as { multiscales?: unknown } | undefined)?.multiscales ?? attrs.multiscales;
  if (Array.isArray(ome) && ome.length > 0) {
    const datasets = (ome[0] as { datasets?: Array<{ path?: unknown }> }).datasets ?? [];
    const paths = datasets.map((d) => d?.path).filter((p): p is string => typeof p === 'string' && isSafeKey(p));
    await Promise.all(paths.map((p) => fetchMeta(p)));
  }
  // N5 multiscale group: s0, s1, ... (the count from `scales` when the group lists them)
  const n5 = root['attributes.json'];
  if (n5 && !('dimensions' in n5)) {
    const listed = Array.isArray(n5.scales) ? Math.min(n5.scales.length, MAX_N5_LEVELS) : undefined;
    for (let i = 0; i < (listed ?? MAX_N5_LEVELS); i++) {
      const meta = await fetchMeta(`s${i}`);
      if (!meta['attributes.json'] && listed === undefined) break;
    }
  }
  const local = await openZarr(mirror, { scale: opts.scale, voxelSize: opts.voxelSize, fetch, url: spec });
  const source: ZarrSource = {
    ...local,
    read: (b) => local.read(b),
    async close() {
      await local.close();
      await m.close();
    },
  };
  return { base: m.base, mirror, client: m.client, source };
}
