import type { SourceFormat } from './types.js';

export const tiff: SourceFormat = {
  name: 'tiff',
  form: 'x.tif / x.tiff (multi-page TIFF, one z per page)',
  kind: 'file',
  acceptsHash: false,
  hasScales: false,
  detect: ({ magic: m, base }) => (m[0] === 0x49 && m[1] === 0x49 && m[2] === 42) || (m[0] === 0x4d && m[1] === 0x4d && m[3] === 42) || /\.tiff?$/i.test(base),
  open: async (p, opts) => (await import('../imagestack.js')).openTiffStack(p.base, opts),
};
