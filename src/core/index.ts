export * from './errors.js';
export * from './dtype.js';
export * from './box.js';
export * from './volume.js';
export * from './ids.js';
export * from './chunks.js';
export * from './atomic.js';
export * from './progress.js';
