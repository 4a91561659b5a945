// Block functions used by the scheduler's tests and benchmark (loaded by worker threads through
// `import(task.module)`, so they live in their own module).
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Vec3, boxShape } from '../core/box.js';
import { Volume } from '../core/volume.js';
import type { BlockContext, BlockResult } from './types.js';

/** Trivial block: returns a little data (with a bigint above 2^53). */
export function trivial(ctx: BlockContext<{ salt?: number }>): BlockResult {
  const [i, j, k] = ctx.blockIndex;
  return { data: { sum: i + j + k + (ctx.params.salt ?? 0), id: 864691135639556411n + BigInt(i) } };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Records its execution interval (monotonic ns, shared by all threads of a process) in
 * params.log, one JSON line per block, after holding the block for params.ms.
 */
export async function interval(ctx: BlockContext<{ log: string; ms: number }>): Promise<BlockResult> {
  const start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, ctx.params.ms));
  const end = process.hrtime.bigint();
  appendFileSync(ctx.params.log, JSON.stringify({ index: ctx.blockIndex, start: String(start), end: String(end) }) + '\n');
  return { data: null };
}

/**
 * Barriers for race-free tests. A test states the moment it needs (two blocks running at once,
 * a run held before it can finish) with marker files instead of sleeps that must overlap:
 * block functions announce themselves with files and wait for files the test (or other blocks)
 * create. The waits poll the file system (threads and processes share it); their deadline only
 * turns a broken scheduler into a clear error instead of a hang, it never decides a pass.
 */
const BARRIER_DEADLINE_MS = 300_000;

/** A test gate: blocks whose linear index (x fastest over `grid`) is >= `from` wait for `file`. */
export interface Gate {
  file: string;
  from: number;
  grid: Vec3;
}

function gated(gate: Gate | undefined, index: Vec3): boolean {
  if (!gate) return false;
  const [nx, ny] = gate.grid;
  return index[0] + nx * (index[1] + ny * index[2]) >= gate.from;
}

/** `${gate.file}.waiting.<i_j_k>`: written by a gated block when it starts waiting. */
export function gateWaitingMarkers(gate: Gate): string[] {
  const dir = path.dirname(gate.file);
  const prefix = `${path.basename(gate.file)}.waiting.`;
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix)) : [];
}

async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  const until = Date.now() + BARRIER_DEADLINE_MS;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`test barrier: ${what} did not happen within ${BARRIER_DEADLINE_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function waitUntilSync(cond: () => boolean, what: string): void {
  const until = Date.now() + BARRIER_DEADLINE_MS;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`test barrier: ${what} did not happen within ${BARRIER_DEADLINE_MS / 1000} s`);
    sleepSync(5);
  }
}

function holdAtGate(gate: Gate | undefined, index: Vec3, sync: true): void;
function holdAtGate(gate: Gate | undefined, index: Vec3, sync: false): Promise<void>;
function holdAtGate(gate: Gate | undefined, index: Vec3, sync: boolean): void | Promise<void> {
  if (!gate || !gated(gate, index) || existsSync(gate.file)) return sync ? undefined : Promise.resolve();
  writeFileSync(`${gate.file}.waiting.${index.join('_')}`, String(process.pid));
  const what = `gate ${gate.file} opening (block ${index})`;
  return sync ? waitUntilSync(() => existsSync(gate.file), what) : waitUntil(() => existsSync(gate.file), what);
}

/**
 * Like `interval`, with a barrier instead of a sleep that must overlap: announces itself in
 * params.dir/started/<i_j_k>; a block listed in params.meet (every block when absent) then holds
 * until at least params.atLeast of those blocks have started, so those blocks provably ran at
 * the same time. Then holds params.ms more and logs its interval to params.log.
 */
export async function rendezvous(ctx: BlockContext<{ log: string; dir: string; meet?: Vec3[]; atLeast: number; ms?: number }>): Promise<BlockResult> {
  const start = process.hrtime.bigint();
  const key = ctx.blockIndex.join('_');
  const started = path.join(ctx.params.dir, 'started');
  mkdirSync(started, { recursive: true });
  writeFileSync(path.join(started, key), '');
  const meet = ctx.params.meet?.map((m) => m.join('_'));
  if (!meet || meet.includes(key)) {
    const count = () => readdirSync(started).filter((f) => !meet || meet.includes(f)).length;
    await waitUntil(() => count() >= ctx.params.atLeast, `${ctx.params.atLeast} blocks${meet ? ` of ${meet.join(' ')}` : ''} running together with block ${key}`);
  }
  if (ctx.params.ms) await new Promise((r) => setTimeout(r, ctx.params.ms));
  const end = process.hrtime.bigint();
  appendFileSync(ctx.params.log, JSON.stringify({ index: ctx.blockIndex, start: String(start), end: String(end) }) + '\n');
  return { data: null };
}

/** Returns its block index; blocks behind params.gate wait for the gate file first (holdAtGate). */
export async function gatedBlock(ctx: BlockContext<{ gate: Gate }>): Promise<BlockResult> {
  await holdAtGate(ctx.params.gate, ctx.blockIndex, false);
  return { data: { block: ctx.blockIndex } };
}

/** Fails the first params.failures[key] attempts of listed blocks (counted in files under params.dir). */
export function flaky(ctx: BlockContext<{ dir: string; failures: Record<string, number> }>): BlockResult {
  const key = ctx.blockIndex.join('_');
  const limit = ctx.params.failures[key] ?? 0;
  const file = path.join(ctx.params.dir, `${key}.count`);
  const n = existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0;
  writeFileSync(file, String(n + 1));
  if (n < limit) throw new Error(`planned failure ${n + 1} of block ${key}`);
  return { data: { key, attempts: n + 1 } };
}

/** Kills its own thread (process.exit inside a worker thread ends just that thread). */
export function dies(ctx: BlockContext<{ dir: string }>): BlockResult {
  const key = ctx.blockIndex.join('_');
  const file = path.join(ctx.params.dir, `${key}.died`);
  if (!existsSync(file)) {
    writeFileSync(file, '1');
    process.exit(3);
  }
  return { data: key };
}

/**
 * A deterministic compute-bound filter: `rounds` passes of a 3x3x3 mean over the input
 * (uint8/uint16/float32), neighbours outside readBox are left out (edges of the volume), so the
 * result at a voxel depends only on the input, never on the block. Output float32 over ctx.box.
 * With rounds > 1 each pass is recomputed from the input (the work grows, the answer does not).
 * With params.gate, gated blocks wait for the gate file before they start (tests that kill a run).
 */
export function boxFilter(ctx: BlockContext<{ rounds?: number; sleepMs?: number; gate?: Gate }>): BlockResult {
  holdAtGate(ctx.params.gate, ctx.blockIndex, true);
  const src = ctx.inputs.in;
  const [sx, sy, sz] = src.shape;
  const out = Volume.zeros('float32', ctx.box);
  const [ox, oy, oz] = boxShape(ctx.box);
  const d = src.data as ArrayLike<number>;
  const o = out.data;
  const rounds = ctx.params.rounds ?? 1;
  for (let r = 0; r < rounds; r++) {
    for (let z = 0; z < oz; z++) {
      const gz = ctx.box.min[2] + z - src.box.min[2];
      for (let y = 0; y < oy; y++) {
        const gy = ctx.box.min[1] + y - src.box.min[1];
        for (let x = 0; x < ox; x++) {
          const gx = ctx.box.min[0] + x - src.box.min[0];
          let sum = 0;
          let n = 0;
          for (let dz = -1; dz <= 1; dz++) {
            const zz = gz + dz;
            if (zz < 0 || zz >= sz) continue;
            for (let dy = -1; dy <= 1; dy++) {
              const yy = gy + dy;
              if (yy < 0 || yy >= sy) continue;
              const row = sx * (yy + sy * zz);
              for (let dx = -1; dx <= 1; dx++) {
                const xx = gx + dx;
                if (xx < 0 || xx >= sx) continue;
                sum += d[row + xx];
                n++;
              }
            }
          }
          o[x + ox * (y + oy * z)] = sum / n;
        }
      }
    }
  }
  if (ctx.params.sleepMs) sleepSync(ctx.params.sleepMs);
  return { volumes: { out }, data: { block: ctx.blockIndex } };
}

/**
 * The first time block params.block runs (no marker file yet) it writes "<pid>" to params.marker
 * and holds for params.holdMs, so a test can kill that process mid-block; other blocks (and
 * later attempts) take params.ms.
 */
export async function hang(ctx: BlockContext<{ marker: string; block: number[]; holdMs: number; ms: number }>): Promise<BlockResult> {
  const mine = ctx.blockIndex.every((v, i) => v === ctx.params.block[i]);
  if (mine && !existsSync(ctx.params.marker)) {
    writeFileSync(ctx.params.marker, String(process.pid));
    await new Promise((r) => setTimeout(r, ctx.params.holdMs));
  } else {
    await new Promise((r) => setTimeout(r, ctx.params.ms));
  }
  return { data: { block: ctx.blockIndex, big: 18446744073709551615n } };
}

/** CPU-bound: params.iterations of an xorshift loop; logs its interval to params.log when given. */
export function burn(ctx: BlockContext<{ iterations: number; log?: string }>): BlockResult {
  const start = process.hrtime.bigint();
  let s = (ctx.blockIndex[0] + 1) * 2654435761;
  for (let i = 0; i < ctx.params.iterations; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
  }
  const end = process.hrtime.bigint();
  if (ctx.params.log) appendFileSync(ctx.params.log, JSON.stringify({ index: ctx.blockIndex, start: String(start), end: String(end) }) + '\n');
  return { data: s >>> 0 };
}

/** Paints its block with params.value; fails while a file `fail-<block>` exists in params.dir. */
export function paintOrFail(ctx: BlockContext<{ dir: string; value: number }>): BlockResult {
  const key = ctx.blockIndex.join('_');
  if (existsSync(path.join(ctx.params.dir, `fail-${key}`))) throw new Error(`planned failure of block ${key}`);
  const v = Volume.zeros('uint8', ctx.box);
  v.data.fill(ctx.params.value);
  return { volumes: { out: v } };
}

/** A loop hot enough for V8 to optimize (the worker-flags test looks for its name in --trace-opt output). */
function fixtureHotSum(a: Float64Array, k: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * k;
  return s;
}

/** CPU-bound through one named function, fixtureHotSum, called params.calls times. */
export function hotCalls(ctx: BlockContext<{ calls: number }>): BlockResult {
  const a = new Float64Array(1000).fill(1);
  let t = 0;
  for (let k = 0; k < ctx.params.calls; k++) t += fixtureHotSum(a, k & 7);
  return { data: t };
}

/** Each input's read box, channel count and a checksum of its bytes (tests of how inputs are read). */
export function inputDigest(ctx: BlockContext<Record<string, never>>): BlockResult {
  const out: Record<string, { box: string; channels: number; dtype: string; sum: number }> = {};
  for (const [name, v] of Object.entries(ctx.inputs)) {
    const b = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
    let h = 0;
    for (let i = 0; i < b.length; i++) h = (Math.imul(h, 31) + b[i]) >>> 0;
    out[name] = { box: JSON.stringify(v.box), channels: v.channels, dtype: v.dtype, sum: h };
  }
  return { data: out };
}
