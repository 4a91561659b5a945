import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { WiringError } from '../core/errors.js';
import { EncodedJson } from './codec.js';
import { executeBlock, releaseRuntimes } from './execute.js';
import type { BlockJob } from './types.js';

/** Runs blocks somewhere and resolves with their `data`. */
export interface Executor {
  readonly mode: 'in-process' | 'threads' | 'redis';
  /** How many blocks it runs at once. */
  readonly capacity: number;
  run(job: BlockJob): Promise<unknown>;
  close(): Promise<void>;
  /** Redis only: jobs enqueued again after they vanished. */
  readonly requeued?: number;
  /** Redis only: jobs of an earlier run of the same records taken over. */
  readonly reattached?: number;
}

/** workers: 1 — blocks run in this thread, one at a time (unless `oneWorkerOnThread`). */
export class InProcessExecutor implements Executor {
  readonly mode = 'in-process' as const;
  readonly capacity = 1;
  run(job: BlockJob): Promise<unknown> {
    return executeBlock(job);
  }
  async close(): Promise<void> {
    await releaseRuntimes();
  }
}

/**
 * URL of tsx's ESM register API, for worker threads that must load TypeScript. On Node 20,
 * `execArgv: ['--import', 'tsx']` is NOT applied to worker threads (the entry fails with
 * ERR_UNKNOWN_FILE_EXTENSION), so a small JS bootstrap calls tsx's `register()` first.
 */
function tsxRegisterUrl(): string {
  const req = createRequire(import.meta.url);
  let pkgFile: string;
  try {
    pkgFile = req.resolve('tsx/package.json');
  } catch {
    throw new WiringError('block modules are TypeScript (.ts) but the tsx package is not installed');
  }
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: Record<string, { import?: { default?: string } | string }> };
  const entry = pkg.exports?.['./esm/api'];
  const rel = typeof entry?.import === 'string' ? entry.import : entry?.import?.default ?? './dist/esm/api/index.mjs';
  return pathToFileURL(path.join(path.dirname(pkgFile), rel)).href;
}

const BOOT = `
const { workerData } = require('node:worker_threads');
import(workerData.tsx)
  .then((m) => { m.register(); return import(workerData.entry); })
  .catch((e) => { setImmediate(() => { throw e; }); });
`;

/**
 * Block worker threads of a run that fills the pool compile their hot functions on their own
 * thread (V8's `--no-concurrent-recompilation`), not on V8's background helper threads. The flag
 * is read when an isolate starts, so setting it just before such a thread starts leaves this
 * (main) thread's isolate as it was: with `--workers 1` the blocks still run here with background
 * compilation, on a core the blocks do not use (unless `oneWorkerOnThread`). When a run has at least as many blocks as the
 * pool has threads, every thread runs a block (the pool is sized to the cores), so a background
 * compile only takes a core from another block and costs more CPU than the same compile done in
 * the thread that needs it: 2 workers, phantom 256x256x128, the helper threads' CPU fell
 * 1.1-1.4 -> 0.3-0.4 s and the process's by 4-10 % (supervoxels, synapses, cells, skeletons;
 * docs/THROUGHPUT.md, "Scaling to 2 workers, per stage"). A run with fewer blocks than threads
 * (a one-block mesh task) leaves a core free, so its threads keep V8's default (once set, the
 * flag stays for threads started later). WIRING_CONCURRENT_COMPILE=1 keeps V8's default always.
 */
export const WORKER_V8_FLAGS = ['--no-concurrent-recompilation'];

/**
 * Opt-in (WIRING_ONE_WORKER_THREAD=1): a `workers: 1` run's blocks run on one pool thread, which
 * compiles on its own thread (WORKER_V8_FLAGS), instead of in this thread with V8's background
 * compiler. V8 reads the flag only when an isolate starts (a `v8.setFlagsFromString` in a running
 * process leaves its main isolate compiling in the background: checked with `--trace-opt`), so
 * from inside the process the one way to give a one-worker run's blocks the flag is a thread
 * started after it is set. The main thread (set-up, global steps) keeps V8's default. Not the
 * default: it saved CPU on predict and supervoxels but cost CPU on meshes and, at 1 Mvox, on most
 * stages (the thread's own start-up and warm-up), so it did not win on the held-out volumes
 * (docs/THROUGHPUT.md, "One worker without V8's background compiler").
 * WIRING_CONCURRENT_COMPILE=1 (V8's default everywhere) overrides it.
 */
export function oneWorkerOnThread(): boolean {
  return process.env.WIRING_ONE_WORKER_THREAD === '1' && process.env.WIRING_CONCURRENT_COMPILE !== '1';
}
let workerFlagsSet = false;
function setWorkerFlags(): void {
  if (workerFlagsSet || process.env.WIRING_CONCURRENT_COMPILE === '1') return;
  workerFlagsSet = true;
  try {
    for (const f of WORKER_V8_FLAGS) v8.setFlagsFromString(f);
  } catch {
    // a runtime that refuses flags after start-up keeps V8's default: a speed choice, not a result
  }
}

interface Slot {
  worker: Worker;
  /** The thread's Linux thread id (from /proc/thread-self), when it said. */
  tid?: number;
  ready: Promise<void>;
  busy?: { id: number; resolve: (v: unknown) => void; reject: (e: Error) => void };
}

/** Linux thread ids of every pool thread this process started (for per-thread CPU accounting: bench/wiring-usage.mjs). */
const threadIds = new Set<number>();
export function poolThreadIds(): number[] {
  return [...threadIds];
}

/**
 * A pool of worker threads. Each thread runs one block at a time; a thread that dies (crash,
 * process.exit in a block function, out of memory) fails its block and is replaced. Threads start
 * when blocks need them, not all at once: a run with fewer blocks than `capacity` starts only as
 * many threads as it has blocks (each thread costs its start-up: module loading, and the JIT
 * warm-up and heap of its own V8 isolate).
 */
export class ThreadPool implements Executor {
  readonly mode = 'threads' as const;
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiting: Array<{ resolve: (s: Slot) => void; reject: (e: Error) => void }> = [];
  /** Threads in a row that died before they were ready; at 3 the pool gives up (a broken entry or bootstrap). */
  private bootFailures = 0;
  private broken?: Error;
  private nextId = 1;
  /** Threads spawned and not yet ready. */
  private starting = 0;
  private closed = false;
  private readonly entry: URL;
  private readonly typescript: boolean;
  readonly typescriptThreads: boolean;

  constructor(
    readonly capacity: number,
    opts: { typescript?: boolean; /** tests only */ entry?: URL } = {},
  ) {
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    this.entry = opts.entry ?? new URL(`./thread-entry.${ext}`, import.meta.url);
    this.typescript = ext === 'ts' || !!opts.typescript;
    this.typescriptThreads = !!opts.typescript;
  }

  /**
   * Whether the blocks to come fill every thread (then threads started from now on compile on
   * their own thread: WORKER_V8_FLAGS). True unless a run says otherwise (`SharedPoolExecutor`).
   */
  fills = true;

  private spawn(): Slot {
    if (this.fills) setWorkerFlags();
    const worker = this.typescript
      ? new Worker(BOOT, { eval: true, workerData: { tsx: tsxRegisterUrl(), entry: this.entry.href } })
      : new Worker(this.entry);
    let markReady!: () => void;
    let isReady = false;
    this.starting++;
    const slot: Slot = { worker, ready: new Promise<void>((r) => (markReady = r)) };
    worker.on('message', (m: { ready?: boolean; tid?: number; id?: number; ok?: boolean; text?: string; error?: { name: string; message: string; stack?: string } }) => {
      if (m.ready) {
        isReady = true;
        this.starting--;
        if (typeof m.tid === 'number') threadIds.add((slot.tid = m.tid));
        this.bootFailures = 0;
        markReady();
        this.release(slot);
        return;
      }
      const b = slot.busy;
      if (!b || b.id !== m.id) return;
      slot.busy = undefined;
      if (m.ok) b.resolve(new EncodedJson(m.text));
      else {
        const e = new Error(m.error?.message ?? 'block failed');
        e.name = m.error?.name ?? 'Error';
        if (m.error?.stack) e.stack = m.error.stack;
        b.reject(e);
      }
      this.release(slot);
    });
    const die = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return;
      if (!isReady) this.starting--;
      this.slots.splice(i, 1);
      const j = this.idle.indexOf(slot);
      if (j >= 0) this.idle.splice(j, 1);
      if (slot.busy) slot.busy.reject(new WiringError(`worker thread died while running the block: ${why}`));
      slot.busy = undefined;
      if (this.closed) return;
      if (!isReady && ++this.bootFailures >= 3) {
        this.broken = new WiringError(`worker threads fail to start: ${why}`);
        for (const w of this.waiting.splice(0)) w.reject(this.broken);
        return;
      }
      if (this.waiting.length > this.starting) this.spawn(); // a replacement only when a block waits for it
    };
    if (this.active === 0) worker.unref();
    worker.on('error', (err) => die(err.message));
    worker.on('exit', (code) => die(`exit code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private release(slot: Slot): void {
    if (this.closed || !this.slots.includes(slot)) return;
    const w = this.waiting.shift();
    if (w) w.resolve(slot);
    else this.idle.push(slot);
  }

  private acquire(): Promise<Slot> {
    const s = this.idle.shift();
    if (s) return Promise.resolve(s);
    if (this.broken) return Promise.reject(this.broken);
    // a thread for this block when every started thread is busy (it is released to the waiter when ready)
    if (this.slots.length < this.capacity && this.starting <= this.waiting.length) this.spawn();
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Blocks submitted and not finished: while > 0 the threads keep the process alive, idle they do not. */
  private active = 0;
  /** Set when the shared pool was replaced while busy. */
  closeWhenIdle = false;

  /** Threads started (running, idle or starting). */
  get threads(): number {
    return this.slots.length;
  }

  /** Blocks submitted and not finished. */
  get busy(): number {
    return this.active;
  }

  async run(job: BlockJob): Promise<unknown> {
    if (this.closed) throw new WiringError('thread pool is closed');
    if (this.broken) throw this.broken;
    if (this.active++ === 0) for (const s of this.slots) s.worker.ref();
    try {
      return await this.runOnSlot(job);
    } finally {
      if (--this.active === 0) {
        for (const s of this.slots) s.worker.unref();
        if (this.closeWhenIdle) void this.close();
      }
    }
  }

  private async runOnSlot(job: BlockJob): Promise<unknown> {
    const slot = await this.acquire();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.busy = { id, resolve, reject };
      slot.worker.postMessage({ id, job });
    });
  }

  get isClosed(): boolean {
    return this.closed || !!this.broken;
  }

  /** Drop the threads' cached sources and layers (between runs; the loaded modules stay). */
  async reset(): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        await s.ready;
        s.worker.postMessage({ reset: true });
      }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = this.slots.splice(0);
    this.idle.length = 0;
    await Promise.all(all.map((s) => s.worker.terminate()));
  }
}

let shared: ThreadPool | undefined;

/**
 * The process-wide pool reused by successive runs (threads keep their loaded modules, which can
 * take seconds to import; idle threads do not keep the process alive). A different size or
 * TypeScript setting replaces it.
 */
export async function sharedPool(size: number, typescript: boolean): Promise<ThreadPool> {
  if (shared && !shared.isClosed && shared.capacity === size && shared.typescriptThreads === typescript) return shared;
  const old = shared;
  shared = new ThreadPool(size, { typescript });
  // A pool still running another run's blocks is closed when those finish.
  if (old && old.busy === 0) await old.close();
  else if (old) old.closeWhenIdle = true;
  return shared;
}

/** Runs on the shared pool; closing it only resets the threads' caches. */
export class SharedPoolExecutor implements Executor {
  readonly mode = 'threads' as const;
  private constructor(private readonly pool: ThreadPool) {}
  /** `blocks`: how many blocks the run has to compute (whether they fill the threads: `ThreadPool.fills`). */
  static async create(size: number, typescript: boolean, blocks = Infinity): Promise<SharedPoolExecutor> {
    const pool = await sharedPool(size, typescript);
    pool.fills = blocks >= size;
    return new SharedPoolExecutor(pool);
  }
  get capacity(): number {
    return this.pool.capacity;
  }
  run(job: BlockJob): Promise<unknown> {
    return this.pool.run(job);
  }
  async close(): Promise<void> {
    await this.pool.reset();
  }
}
