import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Box, Vec3 } from '../core/box.js';
import { writeFileAtomic } from '../core/atomic.js';
import { FormatError } from '../core/errors.js';
import { blockFileName } from './blocks.js';
import { EncodedJson, decodeJson, encodeJson } from './codec.js';

/**
 * Resume records. Layout under stateDir:
 *   <encodeURIComponent(task name)>/task.json          {name, fingerprint, nonce, definition}
 *   <encodeURIComponent(task name)>/blocks/I_J_K.json  {blockIndex, box, data}  (one per finished block)
 * Each file is written atomically, a block's record only after its outputs were written, so a
 * crash at any moment leaves a set of records that all name finished blocks.
 */
export function taskDir(stateDir: string, taskName: string): string {
  return path.join(stateDir, encodeURIComponent(taskName));
}

export interface BlockRecord {
  blockIndex: Vec3;
  box: Box;
  data: unknown;
}

/**
 * Open the records of a task: when the stored fingerprint differs from `fingerprint` (the task
 * definition changed: params, bounds, block shape, margin, inputs, outputs, module, or a
 * dependency's definition), the old block records are deleted and the task starts afresh.
 * Returns the finished block file names and whether a restart happened.
 */
export async function openTaskState(
  stateDir: string,
  taskName: string,
  fingerprint: string,
  definition: unknown,
): Promise<{ done: Set<string>; restarted: boolean; nonce: string }> {
  const dir = taskDir(stateDir, taskName);
  const meta = path.join(dir, 'task.json');
  let stored: string | undefined;
  let nonce: string | undefined;
  try {
    const m = decodeJson(await fs.readFile(meta, 'utf8')) as { fingerprint?: unknown; nonce?: unknown };
    stored = typeof m.fingerprint === 'string' ? m.fingerprint : undefined;
    nonce = typeof m.nonce === 'string' && /^[0-9a-f]{12}$/.test(m.nonce) ? m.nonce : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') stored = undefined; // unreadable: start afresh
  }
  let restarted = false;
  if (stored !== fingerprint || !nonce) {
    const hadBlocks = await fs
      .readdir(path.join(dir, 'blocks'))
      .then((l) => l.length > 0)
      .catch(() => false);
    restarted = (stored !== undefined && stored !== fingerprint) || hadBlocks;
    // Delete the stale records first, then write the new fingerprint: a crash in between
    // leaves the old fingerprint and no records, which restarts again.
    // The nonce names this task's BullMQ jobs: a rerun of the same records reattaches to jobs a
    // killed run left in Redis instead of queueing the blocks twice.
    await fs.rm(path.join(dir, 'blocks'), { recursive: true, force: true });
    nonce = randomBytes(6).toString('hex');
    await writeFileAtomic(meta, encodeJson({ name: taskName, fingerprint, nonce, definition }, 2) + '\n');
  }
  await fs.mkdir(path.join(dir, 'blocks'), { recursive: true });
  const done = new Set<string>();
  for (const f of await fs.readdir(path.join(dir, 'blocks'))) {
    if (/^\d+_\d+_\d+\.json$/.test(f)) done.add(f);
    // A temporary file left by a run killed mid-write: its block was never recorded.
    else if (/\.json\.tmp-/.test(f)) await fs.rm(path.join(dir, 'blocks', f), { force: true });
  }
  return { done, restarted, nonce: nonce! };
}

export async function writeBlockRecord(stateDir: string, taskName: string, rec: BlockRecord): Promise<void> {
  const file = path.join(taskDir(stateDir, taskName), 'blocks', blockFileName(rec.blockIndex));
  await writeFileAtomic(file, recordText(rec) + '\n');
}

/** encodeJson(rec), with data that a worker encoded already (EncodedJson) put in as it is. */
export function recordText(rec: BlockRecord): string {
  if (!(rec.data instanceof EncodedJson)) return encodeJson(rec);
  const head = { blockIndex: rec.blockIndex, box: rec.box };
  const text = rec.data.text;
  // what JSON.stringify writes: an undefined value leaves its key out
  return text === undefined ? encodeJson(head) : `${encodeJson(head).slice(0, -1)},"data":${text}}`;
}

/** The `data` each finished block of a task returned, in block order (z, then y, then x). */
export async function readBlockData(stateDir: string, taskName: string): Promise<Array<{ blockIndex: Vec3; box: Box; data: unknown }>> {
  const out: BlockRecord[] = [];
  for await (const rec of iterateBlockData(stateDir, taskName)) out.push(rec);
  return out;
}

/**
 * The same records as `readBlockData`, in the same order, read one at a time as the caller asks
 * for them: memory for one record, not for all (a global step over many blocks, such as the merge
 * of the blocks' region graphs, passes over them without holding them).
 */
export async function* iterateBlockData(stateDir: string, taskName: string): AsyncGenerator<BlockRecord> {
  const dir = path.join(taskDir(stateDir, taskName), 'blocks');
  let files: string[];
  try {
    files = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FormatError(`no resume records for task ${JSON.stringify(taskName)}`, dir);
    }
    throw err;
  }
  // block order from the file names (I_J_K.json), checked against each record's own blockIndex
  const named = files
    .map((f) => ({ f, m: /^(\d+)_(\d+)_(\d+)\.json$/.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .map(({ f, m }) => ({ f, index: [Number(m[1]), Number(m[2]), Number(m[3])] as Vec3 }))
    .sort((a, b) => a.index[2] - b.index[2] || a.index[1] - b.index[1] || a.index[0] - b.index[0]);
  for (const { f, index } of named) {
    const file = path.join(dir, f);
    let rec: BlockRecord;
    try {
      rec = decodeJson(await fs.readFile(file, 'utf8')) as BlockRecord;
    } catch (err) {
      throw new FormatError(`unreadable block record: ${(err as Error).message}`, file);
    }
    if (!Array.isArray(rec.blockIndex) || rec.blockIndex.length !== 3 || !rec.box) {
      throw new FormatError('block record lacks blockIndex [x,y,z] or box', file);
    }
    if (rec.blockIndex.some((v, a) => v !== index[a])) throw new FormatError(`block record names block [${rec.blockIndex}] but its file name says [${index}]`, file);
    yield { blockIndex: rec.blockIndex, box: rec.box, data: rec.data };
  }
}
