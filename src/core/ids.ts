import { WiringError } from './errors.js';

/**
 * Segment, cell, supervoxel and synapse ids are unsigned 64-bit. At every boundary (files,
 * JSON, SQL, URLs) an id is a bigint or a decimal string, never a JS number: real ids exceed
 * 2^53 (MICrONS root ids look like 864691135639556411). Kernels use compact Uint32 labels
 * inside a block and map them to global ids with a `LabelMap`.
 */
export type Id = bigint;

export const MAX_ID = (1n << 64n) - 1n;

/** Parse an id from a decimal string, bigint or a *safe* integer number; anything else is an error. */
export function parseId(value: unknown, where?: string): Id {
  if (typeof value === 'bigint') {
    if (value < 0n || value > MAX_ID) throw new WiringError(`id ${value} is outside 0..2^64-1`, where);
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new WiringError(`id ${value} is not an exact unsigned integer (pass ids above 2^53 as strings)`, where);
    }
    return BigInt(value);
  }
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) {
    const id = BigInt(value.trim());
    if (id > MAX_ID) throw new WiringError(`id ${value} is larger than 2^64-1`, where);
    return id;
  }
  throw new WiringError(`expected an unsigned 64-bit id (decimal string), got ${JSON.stringify(String(value))}`, where);
}

export function formatId(id: Id): string {
  return id.toString(10);
}

/** JSON.stringify that writes bigints as decimal strings (ids travel as strings). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString(10) : v), indent);
}

/**
 * Compact relabelling of a block: global 64-bit ids <-> dense Uint32 labels 1..n (0 stays 0).
 * Built once per block (one Map per block, not per voxel).
 */
export class LabelMap {
  private readonly toLocal = new Map<bigint, number>();
  readonly globals: bigint[] = [0n];

  local(id: bigint): number {
    if (id === 0n) return 0;
    let l = this.toLocal.get(id);
    if (l === undefined) {
      l = this.globals.length;
      this.globals.push(id);
      this.toLocal.set(id, l);
    }
    return l;
  }

  global(label: number): bigint {
    const g = this.globals[label];
    if (g === undefined) throw new WiringError(`label ${label} has no global id`);
    return g;
  }

  get size(): number {
    return this.globals.length - 1;
  }

  /** Relabel a uint64 array into compact uint32 labels. */
  static compact(ids: BigUint64Array): { labels: Uint32Array; map: LabelMap } {
    const map = new LabelMap();
    const labels = new Uint32Array(ids.length);
    let lastId = 0n;
    let lastLabel = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id !== lastId) {
        lastId = id;
        lastLabel = map.local(id);
      }
      labels[i] = lastLabel;
    }
    return { labels, map };
  }

  /** Map compact labels back to global uint64 ids. */
  expand(labels: Uint32Array, out = new BigUint64Array(labels.length)): BigUint64Array {
    const g = this.globals;
    for (let i = 0; i < labels.length; i++) out[i] = g[labels[i]];
    return out;
  }
}
