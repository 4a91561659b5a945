import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { flushFileSystem, writeFileAtomic, writeJsonAtomic } from './atomic.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('atomic writes', () => {
  it('replace a file in one step and leave no temporary files', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'sub', 'a.json');
    await writeJsonAtomic(file, { id: 864691135639556411n });
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual({ id: '864691135639556411' });
    await writeFileAtomic(file, 'new');
    expect(await fs.readFile(file, 'utf8')).toBe('new');
    expect(await fs.readdir(path.dirname(file))).toEqual(['a.json']);
  });

  it('without the per-file fsync still replaces whole files (a batch is flushed once after)', async () => {
    const dir = await tempDir();
    const files = Array.from({ length: 20 }, (_, i) => path.join(dir, 'batch', `f${i}`));
    await Promise.all(files.map((f, i) => writeFileAtomic(f, `v${i}`, { fsync: false })));
    await flushFileSystem(dir);
    expect((await fs.readdir(path.join(dir, 'batch'))).sort()).toEqual(files.map((f) => path.basename(f)).sort());
    expect(await Promise.all(files.map((f) => fs.readFile(f, 'utf8')))).toEqual(files.map((_, i) => `v${i}`));
  });
  it('keeps the old file when the write to it fails midway, and leaves no temporary file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'a.bin');
    await writeFileAtomic(file, 'old');
    // A real failure in the middle of the write: a child process whose file size limit
    // (RLIMIT_FSIZE, `ulimit -f 256` = 256 KiB; works as root too) rewrites the same file with
    // 4 MiB. The data write fails with EFBIG after 256 KiB (SIGXFSZ is caught so the write
    // returns the error instead of killing the process).
    const atomic = new URL('./atomic.ts', import.meta.url).href;
    const code = [
      "process.on('SIGXFSZ', () => {});",
      `const { writeFileAtomic } = await import(${JSON.stringify(atomic)});`,
      `try { await writeFileAtomic(${JSON.stringify(file)}, new Uint8Array(4 << 20).fill(7)); console.log('written'); }`,
      "catch (e) { console.log('failed ' + e.code); }",
    ].join('\n');
    const out = execFileSync('bash', ['-c', 'ulimit -f 256 && exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, code], { cwd: ROOT, encoding: 'utf8' });
    expect(out.trim()).toBe('failed EFBIG');
    expect(await fs.readFile(file, 'utf8')).toBe('old');
    expect(await fs.readdir(dir)).toEqual(['a.bin']);
    // The same write without the limit succeeds (the limit, not the data, made it fail).
    await writeFileAtomic(file, new Uint8Array(4 << 20).fill(7));
    expect((await fs.stat(file)).size).toBe(4 << 20);
  });

  it('leaves the target and no temporary file when the final rename fails', async () => {
    const dir = await tempDir();
    const target = path.join(dir, 'blocker');
    await fs.mkdir(target);
    // Renaming onto a non-empty directory fails: what was at that path must survive untouched.
    await fs.writeFile(path.join(target, 'x'), 'kept');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow(/ENOTEMPTY|EISDIR|EEXIST/);
    expect(await fs.readFile(path.join(target, 'x'), 'utf8')).toBe('kept');
    expect(await fs.readdir(dir)).toEqual(['blocker']);
  });
});
