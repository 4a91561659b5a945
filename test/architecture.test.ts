// The layer rule of docs/ARCHITECTURE.md, enforced: every import of every src/**/*.ts module
// (tests excepted) points down the layer order written there, a stage never imports another
// stage, and nothing but the CLI imports the CLI. Imports are read with TypeScript's own
// pre-processor (static, type-only, re-exports and dynamic import()), not a regex.
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './data.js';

/**
 * What each layer may import (docs/ARCHITECTURE.md, "Layers"), by top folder under src/:
 *  - core imports nothing of ours;
 *  - kernels, ml, metrics import only core and each other;
 *  - formats imports core; scheduler imports formats and core;
 *  - a stage imports scheduler, formats, core and the shared algorithms (kernels, ml, metrics),
 *    never another stage; a stage that writes tables uses the connectome store API (store.ts only);
 *  - connectome sits above the stages and imports no stage (they meet through the store API);
 *  - server imports anything below it; cli may import anything; nothing else imports cli.
 */
export const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  kernels: ['core', 'ml', 'metrics'],
  ml: ['core', 'kernels', 'metrics'],
  metrics: ['core', 'kernels', 'ml'],
  formats: ['core'],
  scheduler: ['core', 'formats'],
  stages: ['core', 'kernels', 'ml', 'metrics', 'formats', 'scheduler', 'connectome/store'],
  connectome: ['core', 'kernels', 'ml', 'metrics', 'formats', 'scheduler'],
  server: ['core', 'kernels', 'ml', 'metrics', 'formats', 'scheduler', 'stages', 'connectome'],
  cli: ['core', 'kernels', 'ml', 'metrics', 'formats', 'scheduler', 'stages', 'connectome', 'server'],
};

export interface ImportEdge {
  /** Repository-relative path of the importing module, e.g. src/stages/segment/tasks.ts. */
  from: string;
  /** Repository-relative path the import resolves to (with .ts for .js specifiers). */
  to: string;
}

/** The top folder under src/ ('stages' for any stage), and the stage name for stages. */
function layerOf(file: string): { layer: string; stage?: string; rest: string } | undefined {
  const parts = file.split('/');
  if (parts[0] !== 'src' || parts.length < 3) return undefined;
  return { layer: parts[1], stage: parts[1] === 'stages' ? parts[2] : undefined, rest: parts.slice(2).join('/') };
}

/** Every violation of the layer rule among `edges`, one message each (empty when all is well). */
export function layerViolations(edges: ImportEdge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = layerOf(from);
    if (!a) continue;
    const b = layerOf(to);
    if (!b) {
      out.push(`${from} imports ${to}, outside src/ (a source module imports only src/ and packages)`);
      continue;
    }
    if (!(a.layer in ALLOWED)) {
      out.push(`${from}: src/${a.layer} is not a layer of docs/ARCHITECTURE.md (add it there and to ALLOWED)`);
      continue;
    }
    if (!(b.layer in ALLOWED)) {
      out.push(`${from} imports ${to}: src/${b.layer} is not a layer of docs/ARCHITECTURE.md`);
      continue;
    }
    if (a.layer === b.layer) {
      if (a.layer === 'stages' && a.stage !== b.stage) out.push(`${from} imports ${to}: a stage never imports another stage (${a.stage} -> ${b.stage}); stages meet through layers on disk`);
      continue;
    }
    if (b.layer === 'cli') {
      out.push(`${from} imports ${to}: nothing but the CLI imports the CLI`);
      continue;
    }
    const allowed = ALLOWED[a.layer];
    const target = `${b.layer}/${b.rest.replace(/\.ts$/, '')}`;
    if (!allowed.includes(b.layer) && !allowed.includes(target)) {
      out.push(`${from} imports ${to}: ${a.layer} may import only ${allowed.length ? allowed.join(', ') : 'nothing of ours'} (imports point down)`);
    }
  }
  return out;
}

/** Relative imports of one module's source text, resolved to repository-relative paths. */
export function importsOf(file: string, text: string): ImportEdge[] {
  const info = ts.preProcessFile(text, true, true);
  const specs = [...info.importedFiles, ...info.referencedFiles].map((f) => f.fileName).filter((s) => s.startsWith('.'));
  return specs.map((s) => ({ from: file, to: path.posix.normalize(path.posix.join(path.posix.dirname(file), s)).replace(/\.js$/, '.ts') }));
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

describe('the layer rule of docs/ARCHITECTURE.md', () => {
  it('holds for every import of every source module', () => {
    const files = sourceFiles('src');
    expect(files.length).toBeGreaterThan(100);
    const edges = files.flatMap((f) => importsOf(f, readFileSync(path.join(REPO_ROOT, f), 'utf8')));
    // The parser sees the imports that are there (a sample of known edges of each kind).
    const has = (from: string, to: string) => edges.some((e) => e.from === from && e.to === to);
    expect(has('src/scheduler/run.ts', 'src/core/box.ts')).toBe(true);
    expect(has('src/scheduler/run.ts', 'src/scheduler/redis.ts'), 'dynamic import()').toBe(true);
    expect(has('src/stages/synapses/tasks.ts', 'src/connectome/store.ts'), 'import type').toBe(true);
    expect(edges.length).toBeGreaterThan(500);
    expect(layerViolations(edges)).toEqual([]);
  });

  it('the checker catches each kind of bad import (synthetic modules)', () => {
    const bad = (from: string, text: string) => layerViolations(importsOf(from, text));
    expect(bad('src/stages/segment/x.ts', "import { detect } from '../synapses/detect.js';")).toEqual([
      expect.stringMatching(/a stage never imports another stage \(segment -> synapses\)/),
    ]);
    expect(bad('src/core/x.ts', "import type { Volume } from '../formats/source.js';")[0]).toMatch(/core may import only nothing of ours/);
    expect(bad('src/kernels/x.ts', "export { openSource } from '../formats/open.js';")[0]).toMatch(/kernels may import only core, ml, metrics/);
    expect(bad('src/formats/x.ts', "const m = await import('../scheduler/run.js');")[0]).toMatch(/formats may import only core/);
    expect(bad('src/scheduler/x.ts', "import { segment } from '../stages/segment/pipeline.js';")[0]).toMatch(/scheduler may import only core, formats/);
    expect(bad('src/server/x.ts', "import { emit } from '../cli/output.js';")[0]).toMatch(/nothing but the CLI imports the CLI/);
    expect(bad('src/stages/cells/x.ts', "import { query } from '../../connectome/query.js';")[0]).toMatch(/stages may import only .*connectome\/store/);
    expect(bad('src/connectome/x.ts', "import { rasterize } from '../stages/phantom/raster.js';")[0]).toMatch(/connectome may import only/);
    expect(bad('src/metrics/x.ts', "import '../../web/api.js';")[0]).toMatch(/outside src\//);
    expect(bad('src/widgets/x.ts', "import '../core/box.js';")[0]).toMatch(/not a layer/);
    // Allowed: down the order, within a layer, within one stage, the store API, packages, comments.
    expect(bad('src/stages/segment/x.ts', [
      "import { a } from './tasks.js';",
      "import { b } from '../../scheduler/index.js';",
      "import type { c } from '../../connectome/store.js';",
      "import { d } from '../../kernels/edt.js';",
      "import { Command } from 'commander';",
      "// import { e } from '../synapses/detect.js';",
      "const s = \"import x from '../synapses/detect.js'\";",
    ].join('\n'))).toEqual([]);
    expect(bad('src/cli/commands/x.ts', "import { f } from '../../server/app.js';\nimport { g } from '../output.js';")).toEqual([]);
    expect(bad('src/metrics/x.ts', "import { h } from '../kernels/components.js';")).toEqual([]);
  });
});
