// `npm run bench [name...]`: runs every bench/<name>.bench.ts (or the named ones) in sequence.
// Each benchmark runs ours and the reference on the same input in one run, checks the outputs
// agree, prints the ratio, and returns a JSON-able record saved to bench/out/<name>.json (none when it returns undefined).
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace('.bench.ts', '')))
  .sort();
mkdirSync(path.join(here, 'out'), { recursive: true });
for (const file of files) {
  const name = file.replace('.bench.ts', '');
  console.log(`\n=== ${name} ===`);
  const mod = (await import(pathToFileURL(path.join(here, file)).href)) as { default: () => Promise<unknown> };
  const result = await mod.default();
  // a bench that returns nothing wrote its own record or had none to write (e.g. a doc regenerated from one)
  if (result === undefined) continue;
  writeFileSync(
    path.join(here, 'out', `${name}.json`),
    JSON.stringify({ name, date: new Date().toISOString(), result }, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 2),
  );
}
