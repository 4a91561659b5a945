/**
 * The edit log on disk: `edits.jsonl`, one operation per line, appended only. An append is one
 * write(2) of a whole line with O_APPEND, then fsync; a crash can leave at most a torn last line
 * (no newline, or not JSON), which readers ignore and the next writer cuts off before it
 * appends. One writer at a time: `edits.lock` (O_EXCL, holds the writer's pid; a lock whose
 * process is gone is broken).
 */
import { promises as fs } from 'node:fs';
import { checkRecord, type EditRecord } from './record.js';
import { WiringError } from '../../core/errors.js';

export interface LogRead {
  records: EditRecord[];
  /** bytes of complete lines */
  bytes: number;
  /** bytes after them (a torn line left by a crash), 0 normally */
  torn: number;
}

/** Read the log (missing file = empty); complete lines from `fromByte` on, numbered from `firstOp`. */
export async function readLog(file: string, fromByte = 0, firstOp = 1): Promise<LogRead> {
  let buf: Buffer;
  try {
    const h = await fs.open(file, 'r');
    try {
      const size = (await h.stat()).size;
      buf = Buffer.alloc(Math.max(0, size - fromByte));
      if (buf.length) await h.read(buf, 0, buf.length, fromByte);
    } finally {
      await h.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], bytes: 0, torn: 0 };
    throw err;
  }
  const records: EditRecord[] = [];
  let pos = 0;
  let line = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0) break;
    line++;
    const text = buf.subarray(pos, nl).toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // only the last line may be torn; a bad line in the middle is corruption
      if (buf.indexOf(10, nl + 1) >= 0) throw new WiringError(`line ${records.length + firstOp}: not JSON (the log is corrupt)`, file);
      break;
    }
    records.push(checkRecord(parsed, `${file}: line ${records.length + firstOp}`, records.length + firstOp));
    pos = nl + 1;
  }
  return { records, bytes: fromByte + pos, torn: buf.length - pos };
}

/** Append one record as a line (the caller holds the lock and has cut any torn tail). */
export async function appendRecord(file: string, r: EditRecord, crash?: (point: string) => void): Promise<void> {
  const line = Buffer.from(JSON.stringify(r) + '\n', 'utf8');
  const h = await fs.open(file, 'a');
  try {
    if (crash) {
      // a seeded crash point for tests: half a line written, then the process dies
      await h.write(line.subarray(0, line.length >> 1));
      crash('mid-append');
    }
    await h.write(crash ? line.subarray(line.length >> 1) : line);
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Cut a torn tail (after a crash) so the next append starts a line. */
export async function cutTorn(file: string, bytes: number): Promise<void> {
  await fs.truncate(file, bytes);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Run `fn` holding `<log>.lock` (across processes); a lock of a dead process is broken. */
export async function withLogLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const lock = `${file.replace(/\.jsonl$/, '')}.lock`;
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const h = await fs.open(lock, 'wx');
      await h.writeFile(`${process.pid}\n`);
      await h.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(await fs.readFile(lock, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      await fs.rm(lock, { force: true });
      continue;
    }
    if (Date.now() - started > timeoutMs) throw new WiringError(`timed out after ${timeoutMs / 1000} s waiting for the edit lock (held by process ${pid})`, lock);
    await sleep(Math.min(100, 2 ** Math.min(attempt, 6)));
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}
