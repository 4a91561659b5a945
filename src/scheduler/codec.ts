import { createHash } from 'node:crypto';

/**
 * JSON with exact bigints: a bigint is written as {"$bigint": "<decimal>"} and read back as a
 * bigint. Used for resume records, fingerprints and BullMQ job payloads/results.
 */
export function encodeJson(value: unknown, indent?: number): string {
  // Fast path: without a bigint, the replacer (called for every value, every array element
  // included) changes nothing; JSON.stringify throws a TypeError on the first bigint instead.
  try {
    return JSON.stringify(value, undefined, indent);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? { $bigint: v.toString(10) } : v), indent);
}

const BIGINT_TEXT = /^-?\d+$/;

/** A parsed value with every {"$bigint": "<decimal>"} object replaced by its bigint (in place). */
function reviveBigints(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') {
        const r = reviveBigints(x);
        if (r !== x) v[i] = r;
      }
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0] === '$bigint' && typeof o.$bigint === 'string' && BIGINT_TEXT.test(o.$bigint)) return BigInt(o.$bigint);
  for (const k of keys) {
    const x = o[k];
    if (x !== null && typeof x === 'object') {
      const r = reviveBigints(x);
      // a data property, as JSON.parse makes it (a key "__proto__" must not reach the setter)
      if (r !== x) Object.defineProperty(o, k, { value: r, writable: true, enumerable: true, configurable: true });
    }
  }
  return o;
}

/**
 * Inverse of encodeJson. Parsed without a reviver (a reviver is a call per value, array elements
 * included: 5.9 of the agglomeration's 14 main-thread CPU s on its region-graph records), then
 * walked once for the tagged bigints.
 */
export function decodeJson(text: string): unknown {
  return reviveBigints(JSON.parse(text));
}

/**
 * A block's data already encoded (encodeJson) where it was computed: worker threads and `wiring
 * worker` processes encode their blocks' data in parallel, and the run writes the text into the
 * resume record as it is, instead of decoding and encoding it again on its own thread.
 * `text` undefined stands for undefined data.
 */
export class EncodedJson {
  constructor(readonly text: string | undefined) {}
}

/** Canonical JSON (object keys sorted, bigints tagged) for fingerprints. */
export function canonicalJson(value: unknown): string {
  const norm = (v: unknown): unknown => {
    if (typeof v === 'bigint') return { $bigint: v.toString(10) };
    if (Array.isArray(v)) return v.map(norm);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = norm(x);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(norm(value));
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
