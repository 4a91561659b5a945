/** Worker-thread training and prediction live in ./forest/parallel.ts; this path re-exports them. */
export * from './forest/parallel.js';
