/** The random forest lives in ./forest/ (training, prediction, file format); this path re-exports its public API. */
export * from './forest/index.js';
