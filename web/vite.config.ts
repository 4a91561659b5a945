// Vite build of the browser app (web/ -> dist/web): Neuroglancer + the connectome explorer.
// Two fixes for bundling the npm `neuroglancer` package outside its own webpack build:
// - ikonate 1.1.1 (the version that installs, see package.json overrides) lacks two icons
//   Neuroglancer imports: alias them to similar icons that exist.
// - Vite bundles `new Worker(new URL('x.js', import.meta.url))` only when nothing sits between
//   `new Worker(` and `new URL(`: strip Neuroglancer's `/* webpackChunkName */` comments.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

// Applied to the page and to the worker builds (the chunk worker itself starts the
// async_computation worker, so workers need it too).
const stripWebpackChunkNames = () => ({
  name: 'strip-webpack-chunk-names',
  enforce: 'pre' as const,
  transform(code: string, id: string) {
    if (id.includes('neuroglancer') && code.includes('webpackChunkName')) {
      return { code: code.replace(/\/\*\s*webpackChunkName:[^*]*\*\/\s*/g, ''), map: null };
    }
    return undefined;
  },
});
const icons = path.resolve(here, '../node_modules/ikonate/icons');

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: path.resolve(here, '../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 8000,
    sourcemap: false,
  },
  worker: { format: 'es', plugins: () => [stripWebpackChunkNames()] },
  resolve: {
    alias: [
      { find: /^ikonate\/icons\/controls-alt\.svg(\?raw)?$/, replacement: path.join(icons, 'settings.svg') + '?raw' },
      { find: /^ikonate\/icons\/layers\.svg(\?raw)?$/, replacement: path.join(icons, 'list.svg') + '?raw' },
    ],
  },
  plugins: [stripWebpackChunkNames()],
});
