// A lock file next to a file that several writers may read-modify-write (a shard, or a chunk
// written partially): `<file>.lock`, created with O_EXCL. Works across threads and processes on
// one file system. The holder refreshes the lock's mtime; a lock not refreshed for STALE_MS
// (its writer crashed) is broken by the next writer, and at once when it names a process of this
// host that no longer exists (a run killed with SIGKILL mid-write resumes without waiting).
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { WiringError } from '../../core/errors.js';

const STALE_MS = 60_000;
const HEARTBEAT_MS = 10_000;
const TIMEOUT_MS = 30 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  await fs.mkdir(path.dirname(lock), { recursive: true });
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const h = await fs.open(lock, 'wx');
      await h.writeFile(`${process.pid}:${threadId}:${os.hostname()}\n`);
      await h.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    try {
      const st = await fs.stat(lock);
      const dead = await deadHolder(lock);
      if (dead !== undefined) {
        // re-read just before removing: a lock taken meanwhile by a live writer is left alone
        if ((await fs.readFile(lock, 'utf8').catch(() => '')) === dead) await fs.rm(lock, { force: true });
        continue;
      }
      if (Date.now() - st.mtimeMs > STALE_MS) {
        await fs.rm(lock, { force: true });
        continue;
      }
    } catch {
      continue; // released between our open and stat
    }
    if (Date.now() - started > TIMEOUT_MS) throw new WiringError(`timed out after ${TIMEOUT_MS / 1000} s waiting for the lock`, lock);
    await sleep(Math.min(200, 2 * 2 ** Math.min(attempt, 7)) + Math.random() * 5);
  }
  const beat = setInterval(() => {
    const now = new Date();
    fs.utimes(lock, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  beat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(beat);
    await fs.rm(lock, { force: true });
  }
}

/** The lock's text when it names a process of this host that has ended (a lock of another host, or unreadable, is not judged). */
async function deadHolder(lock: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.readFile(lock, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(\d+):\d+:(.*)\n$/.exec(text);
  if (!m || m[2] !== os.hostname()) return undefined;
  const pid = Number(m[1]);
  if (pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH' ? text : undefined;
  }
}
