import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { SourceFormat } from './types.js';

export const precomputed: SourceFormat = {
  name: 'precomputed',
  form: 'a Neuroglancer precomputed layer folder (holds an `info` file)',
  kind: 'folder',
  acceptsHash: false,
  hasScales: true,
  detect: ({ base }) => existsSync(path.join(base, 'info')),
  async open(p, opts) {
    const { PrecomputedLayer } = await import('../precomputed/index.js');
    const layer = await PrecomputedLayer.open(p.base);
    return layer.source(opts.scale ?? 0, { allowIncomplete: opts.allowIncomplete });
  },
};
