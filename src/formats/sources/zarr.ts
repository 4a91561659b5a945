import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { SourceFormat } from './types.js';

const ZARR_MARKERS = ['.zarray', '.zgroup', '.zattrs', 'zarr.json', 'attributes.json'];

/** The store root of `x.zarr#sub/path` (as zarr.ts splitZarrSpec, without loading zarrita). */
function rootOf(spec: string): string {
  const i = spec.indexOf('#');
  return i < 0 ? spec : spec.slice(0, i);
}

export const zarr: SourceFormat = {
  name: 'zarr',
  form: 'x.zarr (Zarr v2/v3 array, or OME-Zarr group -> scale 0 or --scale), x.zarr#sub/path; also N5 folders',
  kind: 'folder',
  acceptsHash: true,
  hasScales: true,
  detect: ({ spec }) => {
    const root = rootOf(spec);
    return /\.(zarr|zr3?|n5|ome\.zarr)\/?$/i.test(root) || ZARR_MARKERS.some((f) => existsSync(path.join(root, f)));
  },
  open: async (p, opts) => (await import('../zarr.js')).openZarr(p.spec, opts),
};
