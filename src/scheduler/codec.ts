import { createHash } from 'node:crypto';

/**
 * JSON with exact bigints: a bigint is written as {"$bigint": "<decimal>"} and read back as a
 * bigint. Used for resume records, fingerprints and BullMQ job payloads/results.
 */
export function encodeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? { $bigint: v.toString(10) } : v), indent);
}

export function decodeJson(text: string): unknown {
  return JSON.parse(text, (_k, v) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$bigint' && typeof v.$bigint === 'string' && /^-?\d+$/.test(v.$bigint)) {
        return BigInt(v.$bigint);
      }
    }
    return v;
  });
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
