// The node options of a chain's `wiring` steps (stepNodeArgs): they make the step's own isolate
// compile in-thread (traced with --trace-opt in a child process), WIRING_CONCURRENT_COMPILE=1 drops
// them, and runWiring starts a real step with them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { runWiring, stepNodeArgs } from './pipeline.js';

const HOT = `function stepHotSum(a, k) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * k; return s; }
const a = new Float64Array(1000).fill(1); let t = 0;
for (let k = 0; k < 20000; k++) t += stepHotSum(a, k & 7);
console.log(t);`;

/** The concurrency modes V8 compiled stepHotSum with, in a node started with `args`. */
function compileModes(args: string[]): string[] {
  const r = spawnSync(process.execPath, [...args, '--trace-opt', '-e', HOT], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return [...r.stdout.matchAll(/compiling method \S+ <JSFunction stepHotSum[^\n]*ConcurrencyMode::(\w+)/g)].map((m) => m[1]);
}

describe('chain steps', () => {
  it('start node so that the step compiles in-thread; WIRING_CONCURRENT_COMPILE=1 keeps V8\'s background compiler', () => {
    const modes = compileModes(stepNodeArgs({}));
    expect(modes.length).toBeGreaterThan(0);
    expect(new Set(modes)).toEqual(new Set(['kSynchronous']));
    expect(stepNodeArgs({ WIRING_CONCURRENT_COMPILE: '1' })).toEqual([]);
    expect(compileModes(stepNodeArgs({ WIRING_CONCURRENT_COMPILE: '1' }))).toContain('kConcurrent');
  });

  it('runWiring runs a step with them', async () => {
    const bin = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'dist', 'cli', 'main.js');
    if (!existsSync(bin)) throw new Error(`${bin} missing: build first (npx tsc -p tsconfig.json)`);
    const dir = await tempDir('pipeline-step');
    const r = await runWiring(['phantom', path.join(dir, 'p'), '--size', '32,32,8', '--seed', '3'], { env: { ...process.env, WIRING_CONCURRENT_COMPILE: '' } });
    expect(r).toBeTypeOf('object');
    expect(existsSync(path.join(dir, 'p', 'raw', 'info'))).toBe(true);
  }, 60000);
});
