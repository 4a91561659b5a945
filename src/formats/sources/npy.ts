import type { SourceFormat } from './types.js';

export const npy: SourceFormat = {
  name: 'npy',
  form: 'x.npy',
  kind: 'file',
  acceptsHash: false,
  hasScales: false,
  detect: ({ magic: m, base }) => (m[0] === 0x93 && m[1] === 0x4e && m[2] === 0x55) || /\.npy$/i.test(base),
  open: async (p, opts) => (await import('../npy.js')).openNpy(p.base, opts),
};
