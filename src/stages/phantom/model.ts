/** The phantom model lives in ./model/ (random numbers, geometry, tile generation, cache, assembly); this path re-exports its API. */
export * from './model/index.js';
