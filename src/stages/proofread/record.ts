/**
 * One operation of the edit log (edits.jsonl, one JSON object per line): what was asked (inputs)
 * and what it did (supervoxel edges added/removed, root ids retired and made). Ids are decimal
 * strings; `created[i].supervoxel` is one supervoxel of the new root, so a replay names every
 * component exactly as the edit did.
 */
import { FormatError } from '../../core/errors.js';

export type EditKind = 'merge' | 'split' | 'undo' | 'redo';

export interface EditRecord {
  op: number;
  time: string;
  user: string;
  kind: EditKind;
  inputs: Record<string, unknown>;
  /** undo/redo: the operation undone or redone */
  target?: number;
  added: Array<[string, string]>;
  removed: Array<[string, string]>;
  retired: string[];
  created: Array<{ id: string; supervoxel: string }>;
}

const KINDS = new Set(['merge', 'split', 'undo', 'redo']);
const isIdPair = (p: unknown): boolean => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'string' && /^\d+$/.test(x));

/** Check one parsed log line; errors name the file and line. */
export function checkRecord(r: any, where: string, expectedOp: number): EditRecord {
  const bad = (m: string): never => { throw new FormatError(m, where); };
  if (typeof r !== 'object' || r === null) bad('expected a JSON object');
  if (r.op !== expectedOp) bad(`expected op ${expectedOp}, got ${JSON.stringify(r.op)} (the log must number operations 1, 2, 3, ...)`);
  if (typeof r.time !== 'string' || Number.isNaN(Date.parse(r.time))) bad('field "time": expected an ISO-8601 UTC timestamp');
  if (typeof r.user !== 'string') bad('field "user": expected a string');
  if (!KINDS.has(r.kind)) bad(`field "kind": expected merge, split, undo or redo, got ${JSON.stringify(r.kind)}`);
  if (!Array.isArray(r.added) || !r.added.every(isIdPair)) bad('field "added": expected [[supervoxel id, supervoxel id], ...]');
  if (!Array.isArray(r.removed) || !r.removed.every(isIdPair)) bad('field "removed": expected [[supervoxel id, supervoxel id], ...]');
  if (!Array.isArray(r.retired) || !r.retired.every((x: unknown) => typeof x === 'string' && /^\d+$/.test(x))) bad('field "retired": expected [root id, ...]');
  if (!Array.isArray(r.created) || !r.created.every((c: any) => c && /^\d+$/.test(c.id) && /^\d+$/.test(c.supervoxel))) bad('field "created": expected [{"id", "supervoxel"}, ...]');
  if ((r.kind === 'undo' || r.kind === 'redo') && !(Number.isInteger(r.target) && r.target >= 1 && r.target < r.op)) bad('field "target": expected an earlier op id');
  return r as EditRecord;
}
