import { UsageError } from '../core/errors.js';
import type { At } from '../stages/proofread/io.js';

/** `--at` as an operation id (whole number) or an ISO-8601 time. */
export function parseAt(text: string | undefined): At {
  if (text === undefined) return {};
  if (/^\d+$/.test(text)) return { op: Number(text) };
  if (Number.isNaN(Date.parse(text))) throw new UsageError(`--at ${JSON.stringify(text)}: expected an operation id or an ISO-8601 time`);
  return { time: text };
}
