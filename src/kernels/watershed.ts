/** The watershed kernels live in ./watershed/ (one file per flood engine, seeds, size filters); this path re-exports their public API. */
export * from './watershed/index.js';
