/**
 * Sharded block files: a mesh or skeleton block writes its per-segment results as one file whose
 * sections are shards of the segment ids (shard = id mod count), so the finishing step can run
 * as one scheduler block per shard, each reading only its own section of every block file.
 *
 * File: "WSHD" (4 bytes), u32 shard count, then per shard u64 offset and u64 length of its
 * section (little-endian), then the sections (each an encodeMeshBlock/encodeSkeletonBlock of the
 * shard's items, in the block's id order; empty shards have length 0).
 */
import { promises as fs } from 'node:fs';
import { FormatError } from '../../core/errors.js';

const MAGIC = 0x44485357; // "WSHD" little-endian

/** Shard of a segment id among `count` shards. */
export function shardOf(id: bigint, count: number): number {
  return Number(id % BigInt(count));
}

/** Group items by shard (order within a shard kept) and encode each non-empty group. */
export function encodeSharded<T extends { id: bigint }>(items: T[], count: number, encode: (items: T[]) => Uint8Array): Uint8Array {
  const groups: T[][] = Array.from({ length: count }, () => []);
  for (const it of items) groups[shardOf(it.id, count)].push(it);
  const sections = groups.map((g) => (g.length ? encode(g) : new Uint8Array(0)));
  const head = 8 + 16 * count;
  const out = new Uint8Array(head + sections.reduce((n, s) => n + s.length, 0));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, count, true);
  let o = head;
  sections.forEach((s, k) => {
    dv.setBigUint64(8 + 16 * k, BigInt(o), true);
    dv.setBigUint64(16 + 16 * k, BigInt(s.length), true);
    out.set(s, o);
    o += s.length;
  });
  return out;
}

/** Offset and byte length of each shard's section of the sharded block file open as `fh` (its header only). */
async function readTable(fh: fs.FileHandle, file: string): Promise<{ offsets: number[]; lengths: number[] }> {
  const pre = Buffer.alloc(8);
  if ((await fh.read(pre, 0, 8, 0)).bytesRead < 8 || pre.readUInt32LE(0) !== MAGIC) {
    throw new FormatError('not a sharded block file (expected "WSHD"; rerun the stage to rewrite its block files)', file);
  }
  const count = pre.readUInt32LE(4);
  const table = Buffer.alloc(16 * count);
  if ((await fh.read(table, 0, table.length, 8)).bytesRead < table.length) throw new FormatError('truncated shard table', file);
  return {
    offsets: Array.from({ length: count }, (_, k) => Number(table.readBigUInt64LE(16 * k))),
    lengths: Array.from({ length: count }, (_, k) => Number(table.readBigUInt64LE(16 * k + 8))),
  };
}

/** Byte length of each shard's section of a sharded block file (reads the header only). */
export async function shardLengths(file: string): Promise<number[]> {
  const fh = await fs.open(file, 'r');
  try {
    return (await readTable(fh, file)).lengths;
  } finally {
    await fh.close();
  }
}

/** The section of shard `k` of a sharded block file (empty when the block has no id of that shard). */
export async function readShard(file: string, k: number, count: number): Promise<Uint8Array> {
  const fh = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(8 + 16 * count);
    const got = (await fh.read(head, 0, head.length, 0)).bytesRead;
    if (got < 8 || head.readUInt32LE(0) !== MAGIC) {
      throw new FormatError('not a sharded block file (expected "WSHD"; rerun the stage to rewrite its block files)', file);
    }
    if (head.readUInt32LE(4) !== count) throw new FormatError(`block file has ${head.readUInt32LE(4)} shards, expected ${count}`, file);
    if (got < head.length) throw new FormatError('truncated shard table', file);
    const offset = Number(head.readBigUInt64LE(8 + 16 * k));
    const length = Number(head.readBigUInt64LE(16 + 16 * k));
    const out = new Uint8Array(length);
    if (length && (await fh.read(out, 0, length, offset)).bytesRead < length) throw new FormatError(`truncated section of shard ${k}`, file);
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * Items in each shard's section of a sharded block file (0 for an empty section): `count` reads
 * an item count from the first 8 bytes of a section (fewer when the section is shorter).
 */
export async function shardItemCounts(file: string, count: (head: Buffer) => number): Promise<number[]> {
  const fh = await fs.open(file, 'r');
  try {
    const { offsets, lengths } = await readTable(fh, file);
    const out: number[] = [];
    for (let k = 0; k < lengths.length; k++) {
      if (!lengths[k]) {
        out.push(0);
        continue;
      }
      const head = Buffer.alloc(Math.min(8, lengths[k]));
      await fh.read(head, 0, head.length, offsets[k]);
      out.push(count(head));
    }
    return out;
  } finally {
    await fh.close();
  }
}
