import type { SourceFormat } from './types.js';

const H5_EXT = /\.(h5|hdf5|hdf|he5|n5h5)$/i;

export const hdf5: SourceFormat = {
  name: 'hdf5',
  form: 'file.h5#path/to/dataset (HDF5; `#dataset` may be left out when the file has one dataset)',
  kind: 'file',
  acceptsHash: true,
  hasScales: false,
  detect: ({ magic: m, base }) => (m[0] === 0x89 && m[1] === 0x48 && m[2] === 0x44 && m[3] === 0x46) || H5_EXT.test(base),
  // h5wasm takes seconds to load: only on first use
  open: async (p, opts) => (await import('../hdf5.js')).openHdf5(p.spec, opts),
};
