import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The CLI only parses and calls: a command file imports stages, formats, the scheduler and the
// shared CLI modules in src/cli/, never another command file (shared options and helpers live in
// src/cli/*.ts). Test files may load several commands.
const here = path.dirname(fileURLToPath(import.meta.url));

/** The relative specifiers (static imports, re-exports and dynamic imports) of a module's source that name a sibling file. */
export function siblingImports(source: string): string[] {
  const specs = [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs.filter((s) => !s.slice(2).includes('/'));
}

describe('command files', () => {
  it('finds sibling imports in every form (the check can fail)', () => {
    expect(siblingImports("import { a } from './other.js';\nexport { b } from \"./third.js\";\nconst m = await import('./lazy.js');\nimport './side.js';")).toEqual(['./other.js', './third.js', './lazy.js', './side.js']);
    expect(siblingImports("import { a } from '../segment-options.js';\nimport { b } from './sub/dir.js';")).toEqual([]);
  });

  it('import no other command file', () => {
    const offenders: string[] = [];
    for (const f of readdirSync(here)) {
      if (!f.endsWith('.ts') || f.endsWith('.test.ts') || f === 'index.ts') continue;
      for (const s of siblingImports(readFileSync(path.join(here, f), 'utf8'))) offenders.push(`${f} imports ${s}`);
    }
    expect(offenders).toEqual([]);
  });

  it('are imported by no shared CLI module (src/cli/*.ts but main.ts, which loads the index)', () => {
    const cli = path.dirname(here);
    const offenders: string[] = [];
    for (const f of readdirSync(cli)) {
      if (!f.endsWith('.ts') || f.endsWith('.test.ts') || f === 'main.ts') continue;
      const src = readFileSync(path.join(cli, f), 'utf8');
      for (const m of src.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.\/commands\/[^'"]+)['"]/g)) offenders.push(`${f} imports ${m[1]}`);
    }
    expect(offenders).toEqual([]);
  });
});
