// Direct chunk reads of HDF5 datasets, beside h5wasm: the file's own structures are walked just far
// enough to find a dataset's chunk index, and the chunks a box touches are read with node:fs,
// inflated by node:zlib on the libuv thread pool (several at once) and un-shuffled in JS.
// h5wasm (hdf5.ts) still opens the file, checks it and reads everything this module does not take.
//
// Taken (anything else makes `openDirectChunks` return null and hdf5.ts keeps its h5wasm path):
// - superblock v0-v3 with 8-byte offsets and lengths, the dataset reached through groups that are
//   symbol tables (v1 B-tree + local heap) or compact link messages (no fractal-heap dense links);
//   object headers v1 and v2 with continuation blocks;
// - a chunked layout message v3 (v1 B-tree chunk index: what h5py writes by default and what
//   libver <= 1.8 writers such as h5wasm write), little-endian integer or float elements;
// - filter pipelines of deflate (1) and shuffle (2) only, with the per-chunk filter masks.
// A read that meets a chunk that was never written (the fill value) returns null: hdf5.ts reads
// that box through h5wasm, which knows the fill value.
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import { inflate } from 'node:zlib';
import { FormatError } from '../core/errors.js';

const inflateAsync = promisify(inflate) as (buf: Uint8Array, opts: { maxOutputLength: number; chunkSize: number }) => Promise<Buffer>;

/** Decoded chunks kept per open dataset (bytes); WIRING_H5_CHUNK_CACHE_MB overrides the 64 MiB default. */
const CHUNK_CACHE_BYTES = (Number(process.env.WIRING_H5_CHUNK_CACHE_MB) || 64) * 1024 * 1024;

/** A structure this module does not take: the caller falls back to h5wasm. */
class Unsupported extends Error {}

const UNDEF = -1;
const PREFIX_BYTES = 64 * 1024;

interface Message {
  type: number;
  /** Message flags; bit 1 (2) = shared (the body is a reference we do not follow). */
  flags: number;
  body: Uint8Array;
}

class Reader {
  /** The file's first bytes, read once: most metadata lies there (one read instead of dozens). */
  private prefix: Uint8Array | undefined;
  constructor(
    readonly fh: fs.FileHandle,
    readonly size: number,
    readonly base: number,
  ) {}
  async at(addr: number, n: number): Promise<{ b: Uint8Array; dv: DataView }> {
    const abs = this.base + addr;
    if (addr < 0 || abs + n > this.size) throw new Unsupported(`structure at ${addr} (+${n}) lies outside the file`);
    if (n <= 4096) {
      if (!this.prefix) {
        const p = new Uint8Array(Math.min(this.size, PREFIX_BYTES));
        const { bytesRead } = await this.fh.read(p, 0, p.length, 0);
        this.prefix = p.subarray(0, bytesRead);
      }
      if (abs + n <= this.prefix.length) {
        const b = this.prefix.slice(abs, abs + n);
        return { b, dv: new DataView(b.buffer) };
      }
    }
    const b = new Uint8Array(n);
    const { bytesRead } = await this.fh.read(b, 0, n, abs);
    if (bytesRead !== n) throw new Unsupported('short read');
    return { b, dv: new DataView(b.buffer) };
  }
}

/** An 8-byte little-endian address or length; all ones is UNDEF. */
function u64(dv: DataView, at: number): number {
  const lo = dv.getUint32(at, true);
  const hi = dv.getUint32(at + 4, true);
  if (lo === 0xffffffff && hi === 0xffffffff) return UNDEF;
  if (hi >= 0x200000) throw new Unsupported('address past 2^53');
  return hi * 0x100000000 + lo;
}

function sig(b: Uint8Array, at: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

async function findSuperblock(fh: fs.FileHandle, size: number): Promise<{ root: number; base: number; rootSymtab?: { btree: number; heap: number } }> {
  for (let off = 0; off + 48 <= size; off = off === 0 ? 512 : off * 2) {
    const b = new Uint8Array(128);
    const { bytesRead } = await fh.read(b, 0, 128, off);
    if (!sig(b, 0, '\x89HDF\r\n\x1a\n')) continue;
    const dv = new DataView(b.buffer, 0, bytesRead);
    const version = b[8];
    if (version === 0 || version === 1) {
      if (b[13] !== 8 || b[14] !== 8) throw new Unsupported('offsets/lengths not 8 bytes');
      const p = version === 0 ? 24 : 28;
      const base = u64(dv, p);
      // root group symbol table entry at p + 32: name offset, object header, cache type, reserved, scratch
      const e = p + 32;
      const root = u64(dv, e + 8);
      const cache = dv.getUint32(e + 16, true);
      return { root, base: base === UNDEF ? off : base, rootSymtab: cache === 1 ? { btree: u64(dv, e + 24), heap: u64(dv, e + 32) } : undefined };
    }
    if (version === 2 || version === 3) {
      if (b[9] !== 8 || b[10] !== 8) throw new Unsupported('offsets/lengths not 8 bytes');
      const base = u64(dv, 12);
      return { root: u64(dv, 36), base: base === UNDEF ? off : base };
    }
    throw new Unsupported(`superblock version ${version}`);
  }
  throw new Unsupported('no superblock');
}

/** All messages of the object header at `addr` (v1 or v2), continuation blocks followed. */
async function objectHeader(r: Reader, addr: number): Promise<Message[]> {
  const out: Message[] = [];
  const head = await r.at(addr, 16);
  const blocks: Array<[number, number]> = [];
  let v2 = false;
  let creationOrder = false;
  if (sig(head.b, 0, 'OHDR')) {
    v2 = true;
    if (head.b[4] !== 2) throw new Unsupported('object header version');
    const flags = head.b[5];
    creationOrder = (flags & 0x04) !== 0;
    let p = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
    const w = 1 << (flags & 3);
    const hb = await r.at(addr, p + w);
    let size = 0;
    for (let i = w - 1; i >= 0; i--) size = size * 256 + hb.b[p + i];
    p += w;
    blocks.push([addr + p, size]);
  } else {
    if (head.b[0] !== 1) throw new Unsupported('object header version');
    blocks.push([addr + 16, head.dv.getUint32(8, true)]);
  }
  const seen = new Set<number>();
  let total = 0;
  for (let k = 0; k < blocks.length; k++) {
    const [start, len] = blocks[k];
    if (seen.has(start) || k > 4096) throw new Unsupported('object header continuation loop');
    seen.add(start);
    total += len;
    if (len > 1 << 24 || total > 1 << 26) throw new Unsupported('object header too large');
    const { b, dv } = await r.at(start, len);
    const hdr = v2 ? 4 + (creationOrder ? 2 : 0) : 8;
    let p = v2 && k > 0 ? 4 : 0; // OCHK signature
    const end = v2 ? len - (k > 0 ? 4 : 0) : len; // v2 continuation blocks end in a checksum (block 0's follows its size)
    if (v2 && k > 0 && !sig(b, 0, 'OCHK')) throw new Unsupported('continuation block signature');
    while (p + hdr <= end) {
      const type = v2 ? b[p] : dv.getUint16(p, true);
      const size = v2 ? dv.getUint16(p + 1, true) : dv.getUint16(p + 2, true);
      const flags = v2 ? b[p + 3] : b[p + 4];
      const body = b.subarray(p + hdr, p + hdr + size);
      if (p + hdr + size > end) throw new Unsupported('message past its block');
      if (type === 0x10) {
        const bd = new DataView(body.buffer, body.byteOffset, body.byteLength);
        blocks.push([u64(bd, 0), u64(bd, 8)]);
      } else {
        out.push({ type, flags, body });
      }
      p += hdr + (v2 ? size : (size + 7) & ~7);
    }
  }
  return out;
}

function view(m: Message): DataView {
  return new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
}

async function cString(r: Reader, addr: number, max = 4096): Promise<string> {
  const { b } = await r.at(addr, Math.max(1, Math.min(max, r.size - r.base - addr)));
  const z = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, z < 0 ? b.length : z));
}

/** Look `name` up in a symbol-table group (v1 B-tree of SNOD nodes + local heap). */
async function symtabLookup(r: Reader, btree: number, heap: number, name: string): Promise<number | undefined> {
  const h = await r.at(heap, 32);
  if (!sig(h.b, 0, 'HEAP')) throw new Unsupported('local heap signature');
  const data = u64(h.dv, 24);
  const seen = new Set<number>();
  const visit = async (node: number, depth: number): Promise<number | undefined> => {
    if (depth > 64 || seen.has(node) || seen.size > 100_000) throw new Unsupported('group B-tree too deep or cyclic');
    seen.add(node);
    const { level, used } = await btreeNode(r, node, 0);
    const body = await r.at(node + 24, (used + 1) * 8 + used * 8);
    for (let i = 0; i < used; i++) {
      const child = u64(body.dv, 8 + i * 16);
      if (level > 0) {
        const got = await visit(child, depth + 1);
        if (got !== undefined) return got;
        continue;
      }
      const s = await r.at(child, 8);
      if (!sig(s.b, 0, 'SNOD')) throw new Unsupported('symbol node signature');
      const count = s.dv.getUint16(6, true);
      const ents = await r.at(child + 8, count * 40);
      for (let e = 0; e < count; e++) {
        const nameOff = u64(ents.dv, e * 40);
        if ((await cString(r, data + nameOff)) === name) return u64(ents.dv, e * 40 + 8);
      }
    }
    return undefined;
  };
  return visit(btree, 0);
}

/** The object header address of `name` in the group whose header messages are `msgs`. */
async function groupLookup(r: Reader, msgs: Message[], name: string, rootSymtab?: { btree: number; heap: number }): Promise<number | undefined> {
  const st = msgs.find((m) => m.type === 0x11);
  if (st) return symtabLookup(r, u64(view(st), 0), u64(view(st), 8), name);
  if (rootSymtab) return symtabLookup(r, rootSymtab.btree, rootSymtab.heap, name);
  const info = msgs.find((m) => m.type === 0x02);
  if (info) {
    const dv = view(info);
    const p = 2 + (info.body[1] & 1 ? 8 : 0);
    if (u64(dv, p) !== UNDEF) throw new Unsupported('dense link storage (fractal heap)');
  }
  for (const m of msgs) {
    if (m.type !== 0x06) continue;
    const b = m.body;
    const dv = view(m);
    if (b[0] !== 1) throw new Unsupported('link message version');
    const flags = b[1];
    let p = 2;
    let linkType = 0;
    if (flags & 0x08) linkType = b[p++];
    if (flags & 0x04) p += 8;
    if (flags & 0x10) p++;
    const w = 1 << (flags & 3);
    let len = 0;
    for (let i = w - 1; i >= 0; i--) len = len * 256 + b[p + i];
    p += w;
    const linkName = new TextDecoder().decode(b.subarray(p, p + len));
    p += len;
    if (linkName !== name) continue;
    if (linkType !== 0) throw new Unsupported('soft or external link');
    return u64(dv, p);
  }
  return undefined;
}

export interface ChunkEntry {
  address: number;
  size: number;
  filterMask: number;
}

export interface DirectChunks {
  readonly file: string;
  /** Chunk shape in dataset axis order (as h5py's `chunks`). */
  readonly chunkDims: number[];
  readonly elementSize: number;
  readonly chunkCount: number;
  /**
   * Read the C-order bytes of `ranges` (one [lo, hi) per dataset axis) into `out` (their exact
   * size); false when a chunk of the box was never written (the caller reads it another way).
   */
  read(ranges: Array<[number, number]>, out: Uint8Array): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Find dataset `dsPath` of `file` and its chunk index; null when the dataset is not a case this
 * module takes (see the header). `dims` and `elementSize` are h5wasm's, checked against the file.
 */
export async function openDirectChunks(file: string, dsPath: string, dims: number[], elementSize: number, chunks: number[] | null): Promise<DirectChunks | null> {
  if (!chunks || chunks.length !== dims.length) return null;
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(file, 'r');
    const size = (await fh.stat()).size;
    const sb = await findSuperblock(fh, size);
    const r = new Reader(fh, size, sb.base);
    let addr = sb.root;
    let first = true;
    for (const part of dsPath.split('/').filter(Boolean)) {
      const msgs = await objectHeader(r, addr);
      const next = await groupLookup(r, msgs, part, first ? sb.rootSymtab : undefined);
      first = false;
      if (next === undefined || next === UNDEF) return await closeNull(fh);
      addr = next;
    }
    const msgs = await objectHeader(r, addr);
    if (msgs.some((m) => (m.type === 0x03 || m.type === 0x08 || m.type === 0x0b) && m.flags & 2)) return await closeNull(fh); // shared
    // element type: little-endian fixed-point or float of h5wasm's size
    const dt = msgs.find((m) => m.type === 0x03);
    if (!dt) return await closeNull(fh);
    const cls = dt.body[0] & 0x0f;
    if ((cls !== 0 && cls !== 1) || dt.body[1] & 1 || view(dt).getUint32(4, true) !== elementSize) return await closeNull(fh);
    // layout: v3, chunked
    const lay = msgs.find((m) => m.type === 0x08);
    if (!lay || lay.body[0] !== 3 || lay.body[1] !== 2) return await closeNull(fh);
    const ld = view(lay);
    const nd = lay.body[2];
    if (nd !== dims.length + 1) return await closeNull(fh);
    const btree = u64(ld, 3);
    const cdims = Array.from({ length: nd }, (_, i) => ld.getUint32(11 + 4 * i, true));
    if (cdims[nd - 1] !== elementSize || cdims.slice(0, -1).some((c, i) => c !== chunks[i])) return await closeNull(fh);
    if (msgs.some((m) => m.type === 0x07)) return await closeNull(fh); // external storage
    // filters: deflate and shuffle only
    const filters: number[] = [];
    const pl = msgs.find((m) => m.type === 0x0b);
    if (pl) {
      const b = pl.body;
      const dv = view(pl);
      const v = b[0];
      const n = b[1];
      let p = v === 1 ? 8 : 2;
      if (v !== 1 && v !== 2) return await closeNull(fh);
      for (let i = 0; i < n; i++) {
        const id = dv.getUint16(p, true);
        let nameLen = 0;
        p += 2;
        if (v === 1 || id >= 256) {
          nameLen = dv.getUint16(p, true);
          p += 2;
        }
        p += 2; // flags
        const nvals = dv.getUint16(p, true);
        p += 2;
        p += v === 1 ? (nameLen + 7) & ~7 : nameLen;
        p += nvals * 4 + (v === 1 && nvals % 2 ? 4 : 0);
        if (id !== 1 && id !== 2) return await closeNull(fh);
        filters.push(id);
      }
    }
    const index = new Map<string, ChunkEntry>();
    if (btree !== UNDEF) await chunkTree(r, btree, nd, index, 0);
    return makeDirect(file, fh, r, cdims.slice(0, -1), elementSize, filters, index, dims);
  } catch (e) {
    if (fh) await fh.close().catch(() => {});
    if (e instanceof Unsupported || e instanceof RangeError) return null;
    throw e;
  }
}

async function closeNull(fh: fs.FileHandle): Promise<null> {
  await fh.close();
  return null;
}

/** The header of a version-1 B-tree node at `node` of `type` (0: group, 1: chunk): its level and the entries it uses. */
async function btreeNode(r: Reader, node: number, type: 0 | 1): Promise<{ level: number; used: number }> {
  const n = await r.at(node, 24);
  if (!sig(n.b, 0, 'TREE') || n.b[4] !== type) throw new Unsupported(`${type ? 'chunk' : 'group'} B-tree node`);
  return { level: n.b[5], used: n.dv.getUint16(6, true) };
}

async function chunkTree(r: Reader, node: number, nd: number, index: Map<string, ChunkEntry>, depth: number, seen = new Set<number>()): Promise<void> {
  if (depth > 64 || seen.has(node) || seen.size > 1_000_000) throw new Unsupported('chunk B-tree too deep or cyclic');
  seen.add(node);
  const { level, used } = await btreeNode(r, node, 1);
  const keySize = 8 + 8 * nd;
  const body = await r.at(node + 24, (used + 1) * keySize + used * 8);
  for (let i = 0; i < used; i++) {
    const k = i * (keySize + 8);
    const child = u64(body.dv, k + keySize);
    if (level > 0) {
      await chunkTree(r, child, nd, index, depth + 1, seen);
      continue;
    }
    const offs: number[] = [];
    for (let d = 0; d < nd - 1; d++) offs.push(u64(body.dv, k + 8 + 8 * d));
    index.set(offs.join(','), { size: body.dv.getUint32(k, true), filterMask: body.dv.getUint32(k + 4, true), address: child });
  }
}

function makeDirect(
  file: string, fh: fs.FileHandle, r: Reader, cdims: number[], es: number, filters: number[], index: Map<string, ChunkEntry>, dims: number[],
): DirectChunks {
  const nd = cdims.length;
  const chunkBytes = cdims.reduce((a, c) => a * c, es);
  // Decoded chunks kept for the next read (blocks that do not line up with chunks share them),
  // bounded in bytes; concurrent requests for one chunk share one decode.
  const cache = new Map<ChunkEntry, Promise<Uint8Array>>();
  let cached = 0;
  const budget = CHUNK_CACHE_BYTES;
  const cachedLoad = (entry: ChunkEntry, origin: number[]): Promise<Uint8Array> => {
    const hit = cache.get(entry);
    if (hit) {
      cache.delete(entry);
      cache.set(entry, hit);
      return hit;
    }
    const p = loadChunk(entry, origin);
    if (chunkBytes > budget) return p;
    cache.set(entry, p);
    cached += chunkBytes;
    p.catch(() => {
      if (cache.get(entry) === p) {
        cache.delete(entry);
        cached -= chunkBytes;
      }
    });
    for (const key of cache.keys()) {
      if (cached <= budget) break;
      cache.delete(key);
      cached -= chunkBytes;
    }
    return p;
  };
  return {
    file,
    chunkDims: cdims,
    elementSize: es,
    chunkCount: index.size,
    async read(ranges, out) {
      // the chunks the box touches, in C order
      const lo = ranges.map(([a], d) => Math.floor(a / cdims[d]));
      const hi = ranges.map(([, b], d) => Math.ceil(b / cdims[d]));
      const todo: Array<{ origin: number[]; entry: ChunkEntry }> = [];
      const idx = lo.slice();
      for (;;) {
        const origin = idx.map((c, d) => c * cdims[d]);
        const entry = index.get(origin.join(','));
        if (!entry) return false; // never written: the fill value, read through h5wasm
        todo.push({ origin, entry });
        let d = nd - 1;
        for (; d >= 0; d--) {
          if (++idx[d] < hi[d]) break;
          idx[d] = lo[d];
        }
        if (d < 0) break;
      }
      const boxDims = ranges.map(([a, b]) => b - a);
      // Chunks are taken in C order by up to 8 loads at once. After a failure no new chunk is taken,
      // but every chunk before it was taken and finishes, so the error thrown is the first damaged
      // chunk in C order, whichever load fails first (the same message on every run).
      let next = 0;
      const failures: Array<{ k: number; err: unknown }> = [];
      const worker = async () => {
        while (next < todo.length && failures.length === 0) {
          const k = next++;
          const { origin, entry } = todo[k];
          // a chunk wholly inside the box is not kept: a blockwise reader will not ask for it again
          const inside = origin.every((o, d) => o >= ranges[d][0] && Math.min(o + cdims[d], dims[d]) <= ranges[d][1]);
          try {
            const data = inside && !cache.has(entry) ? await loadChunk(entry, origin) : await cachedLoad(entry, origin);
            copyChunk(data, origin, cdims, ranges, boxDims, out, es);
          } catch (err) {
            failures.push({ k, err });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, todo.length) }, worker));
      if (failures.length > 0) throw failures.reduce((a, b) => (b.k < a.k ? b : a)).err;
      return true;
    },
    async close() {
      await fh.close();
    },
  };

  async function loadChunk(entry: ChunkEntry, origin: number[]): Promise<Uint8Array> {
    const where = `${file}: chunk at (${origin.join(', ')}) (file offset ${entry.address})`;
    if (origin.some((o, d) => o >= dims[d] + cdims[d])) throw new FormatError('chunk lies outside the dataset', where);
    if (entry.size > chunkBytes * 2 + (1 << 20)) throw new FormatError(`stored size ${entry.size} is implausible for a ${chunkBytes}-byte chunk`, where);
    let { b } = await r.at(entry.address, entry.size).catch(() => {
      throw new FormatError(`${entry.size} bytes at ${entry.address} lie past the end of the file`, where);
    });
    for (let i = filters.length - 1; i >= 0; i--) {
      if (entry.filterMask & (1 << i)) continue;
      if (filters[i] === 1) {
        try {
          b = await inflateAsync(b, { maxOutputLength: chunkBytes + 1, chunkSize: Math.max(64, chunkBytes + 1) });
        } catch (e) {
          throw new FormatError(`deflate stream cannot be inflated (${(e as Error).message})`, where);
        }
      } else b = unshuffle(b, es);
    }
    if (b.length !== chunkBytes) throw new FormatError(`chunk decodes to ${b.length} bytes; expected ${chunkBytes}`, where);
    return b;
  }
}

/** Undo HDF5's shuffle filter (byte k of every element stored together). */
export function unshuffle(b: Uint8Array, es: number): Uint8Array {
  if (es <= 1) return b;
  const n = Math.floor(b.length / es);
  const out = new Uint8Array(b.length);
  for (let k = 0; k < es; k++) {
    const src = k * n;
    for (let i = 0; i < n; i++) out[i * es + k] = b[src + i];
  }
  out.set(b.subarray(n * es), n * es); // leftover bytes are stored as they are
  return out;
}

/** Copy the part of a chunk (C order, dims `cdims`, at `origin`) inside `ranges` into `out`. */
function copyChunk(chunk: Uint8Array, origin: number[], cdims: number[], ranges: Array<[number, number]>, boxDims: number[], out: Uint8Array, es: number): void {
  const nd = cdims.length;
  const a = ranges.map(([lo], d) => Math.max(lo, origin[d]));
  const b = ranges.map(([, hi], d) => Math.min(hi, origin[d] + cdims[d]));
  if (a.some((x, d) => x >= b[d])) return;
  const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength); // one element kind for the loops below
  // strides in bytes
  const cs = new Array<number>(nd).fill(0);
  const os = new Array<number>(nd).fill(0);
  cs[nd - 1] = es;
  os[nd - 1] = es;
  for (let d = nd - 2; d >= 0; d--) {
    cs[d] = cs[d + 1] * cdims[d + 1];
    os[d] = os[d + 1] * boxDims[d + 1];
  }
  const rowLen = (b[nd - 1] - a[nd - 1]) * es;
  const w32 = rowLen % 4 === 0 && data.byteOffset % 4 === 0 && out.byteOffset % 4 === 0 && data.byteLength % 4 === 0 && out.byteLength % 4 === 0;
  const in32 = w32 ? new Uint32Array(data.buffer, data.byteOffset, data.byteLength >> 2) : new Uint32Array(0);
  const out32 = w32 ? new Uint32Array(out.buffer, out.byteOffset, out.byteLength >> 2) : new Uint32Array(0);
  const rows = nd >= 2 ? b[nd - 2] - a[nd - 2] : 1;
  const cRow = nd >= 2 ? cs[nd - 2] : 0;
  const oRow = nd >= 2 ? os[nd - 2] : 0;
  // the outer axes (all but the last two) walked as an odometer
  const outer = Math.max(0, nd - 2);
  const idx = a.slice(0, outer);
  for (;;) {
    let src = (a[nd - 1] - origin[nd - 1]) * es + (nd >= 2 ? (a[nd - 2] - origin[nd - 2]) * cRow : 0);
    let dst = (a[nd - 1] - ranges[nd - 1][0]) * es + (nd >= 2 ? (a[nd - 2] - ranges[nd - 2][0]) * oRow : 0);
    for (let d = 0; d < outer; d++) {
      src += (idx[d] - origin[d]) * cs[d];
      dst += (idx[d] - ranges[d][0]) * os[d];
    }
    if (rowLen > 256) {
      for (let y = 0; y < rows; y++, src += cRow, dst += oRow) out.set(data.subarray(src, src + rowLen), dst);
    } else if (w32 && ((src | dst | cRow | oRow) & 3) === 0) {
      // short rows as 32-bit words (a view per row costs more than the bytes; words are 4x fewer)
      const n = rowLen >> 2;
      for (let y = 0; y < rows; y++, src += cRow, dst += oRow) {
        const s4 = src >> 2;
        const d4 = dst >> 2;
        for (let i = 0; i < n; i++) out32[d4 + i] = in32[s4 + i];
      }
    } else {
      for (let y = 0; y < rows; y++, src += cRow, dst += oRow) for (let i = 0; i < rowLen; i++) out[dst + i] = data[src + i];
    }
    let d = outer - 1;
    while (d >= 0 && ++idx[d] === b[d]) {
      idx[d] = a[d];
      d--;
    }
    if (d < 0) break;
  }
}
