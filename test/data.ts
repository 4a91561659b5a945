// Where the real public data lives (../shared/data by default, WIRING_DATA to override).
// Tests that need it use `describeData('sub/folder', ...)`: it skips with a clear message when absent.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED_DATA = process.env.WIRING_DATA ?? path.resolve(REPO_ROOT, '../shared/data');
export const SHARED_REFS = process.env.WIRING_REFS ?? path.resolve(REPO_ROOT, '../shared/refs');

export function dataPath(...parts: string[]): string {
  return path.join(SHARED_DATA, ...parts);
}

export function hasData(...parts: string[]): boolean {
  return existsSync(dataPath(...parts));
}

/** A describe block that runs only when `sub` exists under the shared data folder. */
export function describeData(sub: string, name: string, fn: () => void): void {
  if (!hasData(sub)) {
    console.warn(`[skip] ${name}: real data ${dataPath(sub)} not found (set WIRING_DATA to the shared data folder)`);
    describe.skip(`${name} (needs ${sub})`, fn);
    return;
  }
  describe(name, fn);
}

/** A fresh temporary folder for one test's output, under the OS temp dir. */
export async function tempDir(prefix = 'wiring-test-'): Promise<string> {
  const { mkdtemp } = await import('node:fs/promises');
  const os = await import('node:os');
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Every file under `dir` (recursive, sorted by relative path) -> its bytes as base64: compare two outputs byte for byte. */
export async function fileListing(dir: string): Promise<Map<string, string>> {
  const { readdir, readFile, stat } = await import('node:fs/promises');
  const out = new Map<string, string>();
  for (const f of (await readdir(dir, { recursive: true })).sort()) {
    const p = path.join(dir, f);
    if ((await stat(p)).isFile()) out.set(f, (await readFile(p)).toString('base64'));
  }
  return out;
}
