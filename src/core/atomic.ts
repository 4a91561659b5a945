import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

export interface AtomicWriteOptions {
  /**
   * fsync the file before the rename (default true). A writer of many files may pass false and
   * call `flushFileSystem` once after the batch, before it records the batch as done: a crash
   * then leaves each file whole or absent (the rename), and the batch's record only after all
   * its files are on disk.
   */
  fsync?: boolean;
}

/**
 * Write a file atomically: write to a temporary name in the same folder, flush, rename.
 * A crash leaves either the old file or the new one, never half of one.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string, opts: AtomicWriteOptions = {}): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    if (opts.fsync !== false) await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

const run = promisify(execFile);

/** Flush the file system holding `dir` to disk (one syncfs through `sync -f`, else a global `sync`). */
export async function flushFileSystem(dir: string): Promise<void> {
  try {
    await run('sync', ['-f', dir]);
  } catch {
    await run('sync', []);
  }
}

/** Write a JSON document atomically (2-space indent, trailing newline). Bigints become strings. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString(10) : v), 2) + '\n';
  await writeFileAtomic(file, text);
}

/**
 * Replace a whole folder atomically: `build` writes the new content into a private staging folder
 * (`<dir>.tmp-<pid>-<random>`, unique per process and call), which then takes the place of `dir`
 * by rename. Concurrent replacers of one folder never touch each other's files: each builds its own
 * copy and the last rename wins (writers of the same content are idempotent). Readers see the old
 * folder or the new one, never a half-written one (for an instant, none).
 */
export async function replaceDirAtomic<T>(dir: string, build: (staging: string) => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(dir), { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = `${dir}.tmp-${tag}`;
  await fs.mkdir(staging);
  let result: T;
  try {
    result = await build(staging);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
  for (let attempt = 0; ; attempt++) {
    const old = `${dir}.old-${tag}-${attempt}`;
    try {
      await fs.rename(dir, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        await fs.rm(staging, { recursive: true, force: true });
        throw err;
      }
    }
    try {
      await fs.rename(staging, dir);
      await fs.rm(old, { recursive: true, force: true });
      return result;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      await fs.rm(old, { recursive: true, force: true });
      // another replacer put its folder in place between our two renames: move it aside too
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && attempt < 100) continue;
      await fs.rm(staging, { recursive: true, force: true });
      throw err;
    }
  }
}
