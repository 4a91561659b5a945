/**
 * Proofreading status per cell (CAVE's proofreading_status table: status_axon, status_dendrite),
 * set by proofreaders as they finish a cell: `status.jsonl` beside the edit log, one record per
 * change, appended only (one write of a whole line + fsync under `status.lock`, like edits.jsonl;
 * a torn last line is ignored). A record is about one root id and carries the edit log's op at
 * which it was set, so the statuses of version N are the latest records with op <= N for roots
 * of that version (an edit that retires a root leaves its status with the old version: the new
 * root starts unproofread).
 */
import { promises as fs } from 'node:fs';
import { FormatError } from '../../core/errors.js';
import { PROOFREAD_DEFAULTS } from './defaults.js';
import { withLogLock } from './log.js';
import { EditError } from './state.js';

export type StatusValue = (typeof PROOFREAD_DEFAULTS.statuses)[number];

export interface StatusRecord {
  /** edit log op (version) when it was set */
  op: number;
  time: string;
  user: string;
  root: string;
  status_axon?: StatusValue;
  status_dendrite?: StatusValue;
}

/** One cell's current status (the fields merged over its records: a record may set one side only). */
export interface CellStatus {
  root: string;
  status_axon: StatusValue | null;
  status_dendrite: StatusValue | null;
  /** the latest record's time, user and op */
  time: string;
  user: string;
  op: number;
}

const VALUES = new Set<string>(PROOFREAD_DEFAULTS.statuses);

/** A status value from a request (undefined when absent); anything else is refused by name. */
export function statusValue(v: unknown, what: string): StatusValue | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !VALUES.has(v)) throw new EditError(`${what}: expected one of ${PROOFREAD_DEFAULTS.statuses.join(', ')}, got ${JSON.stringify(v)}`);
  return v as StatusValue;
}

function check(r: any, where: string): StatusRecord {
  const bad = (m: string): never => { throw new FormatError(m, where); };
  if (!r || typeof r !== 'object') bad('expected an object');
  if (!Number.isInteger(r.op) || r.op < 0) bad('"op": expected a whole number');
  if (typeof r.time !== 'string' || Number.isNaN(Date.parse(r.time))) bad('"time": expected an ISO-8601 time');
  if (typeof r.user !== 'string') bad('"user": expected a string');
  if (typeof r.root !== 'string' || !/^\d+$/.test(r.root)) bad('"root": expected a decimal id string');
  for (const k of ['status_axon', 'status_dendrite']) if (r[k] !== undefined && !VALUES.has(r[k])) bad(`"${k}": expected one of ${PROOFREAD_DEFAULTS.statuses.join(', ')}`);
  return r as StatusRecord;
}

/** All records of the status log (missing file = none; a torn last line is ignored). */
export async function readStatus(file: string): Promise<StatusRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const lines = text.split('\n');
  const out: StatusRecord[] = [];
  // the part after the last newline is a torn line (or empty)
  for (let i = 0; i < lines.length - 1; i++) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(lines[i]);
    } catch {
      throw new FormatError(`line ${i + 1}: not JSON (the status log is corrupt)`, file);
    }
    out.push(check(parsed, `${file}: line ${i + 1}`));
  }
  return out;
}

/** Append one record under the status log's lock (cutting a torn tail first). */
export async function appendStatus(file: string, r: StatusRecord): Promise<void> {
  check(r, file);
  await withLogLock(file, async () => {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    const end = text.lastIndexOf('\n') + 1;
    if (end < Buffer.byteLength(text)) await fs.truncate(file, Buffer.byteLength(text.slice(0, end)));
    const h = await fs.open(file, 'a');
    try {
      await h.write(JSON.stringify(r) + '\n');
      await h.sync();
    } finally {
      await h.close();
    }
  });
}

/**
 * The statuses as of op `op`: for every root in `isRoot` (the roots of that version), its fields
 * merged over its records with op <= `op`, in log order. Sorted by root id.
 */
export function statusAt(records: StatusRecord[], op: number, isRoot: (root: bigint) => boolean): CellStatus[] {
  const by = new Map<string, CellStatus>();
  for (const r of records) {
    if (r.op > op) continue;
    const c = by.get(r.root) ?? { root: r.root, status_axon: null, status_dendrite: null, time: r.time, user: r.user, op: r.op };
    if (r.status_axon !== undefined) c.status_axon = r.status_axon;
    if (r.status_dendrite !== undefined) c.status_dendrite = r.status_dendrite;
    c.time = r.time;
    c.user = r.user;
    c.op = r.op;
    by.set(r.root, c);
  }
  return [...by.values()].filter((c) => isRoot(BigInt(c.root))).sort((a, b) => (BigInt(a.root) < BigInt(b.root) ? -1 : 1));
}
