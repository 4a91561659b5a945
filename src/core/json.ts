// JSON read from files we do not control: parsed, then checked for nesting depth before any
// recursive code (JSON.stringify, structuredClone, validators) can overflow the stack on it.
import { FormatError } from './errors.js';

/** Deepest nesting of arrays/objects accepted in a metadata file (real ones are < 10 deep). */
export const MAX_JSON_DEPTH = 64;

/** Nesting depth of a parsed JSON value, computed without recursion (stops past `limit`). */
export function jsonDepth(value: unknown, limit = Infinity): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const depth = d + 1;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (typeof x === 'object' && x !== null) stack.push([x, depth]);
  }
  return deepest;
}

/**
 * Parse the text of a metadata file. Bad JSON and nesting deeper than MAX_JSON_DEPTH are a
 * FormatError naming `file` (instead of "Maximum call stack size exceeded" later on).
 */
export function parseJsonText(text: string, file: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`not valid JSON (${(err as Error).message})`, file);
  }
  if (jsonDepth(v, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new FormatError(`JSON nested more than ${MAX_JSON_DEPTH} levels deep; not a metadata file`, file);
  }
  return v;
}
