import type { SourceFormat } from './types.js';

export const imageStack: SourceFormat = {
  name: 'image-stack',
  form: 'a folder of PNG/TIFF slices (one z per file, natural sort)',
  kind: 'folder',
  acceptsHash: false,
  hasScales: false,
  detect: async ({ base }) => (await (await import('../imagestack.js')).listSlices(base)).length > 0,
  open: async (p, opts) => (await import('../imagestack.js')).openImageStack(p.base, opts),
};
