#!/usr/bin/env node
// Entry point of the `wiring` command: runs the compiled CLI (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('wiring: the CLI is not built yet (dist/cli/main.js missing). Run `npm install` or `npm run build`.');
  process.exit(1);
}
const { run } = await import(pathToFileURL(main).href);
await run(process.argv);
