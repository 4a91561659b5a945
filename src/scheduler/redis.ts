import { createRequire } from 'node:module';
import { Job, Queue, Worker } from 'bullmq';
import { UsageError, WiringError } from '../core/errors.js';
import { EncodedJson, decodeJson, encodeJson } from './codec.js';
import { type Executor, ThreadPool } from './pool.js';
import type { BlockJob } from './types.js';

/**
 * Distributed execution on BullMQ/Redis. The run (RedisExecutor) enqueues one job per block
 * attempt on the queue (default 'wiring-blocks') and polls its jobs; `wiring worker` processes
 * (startWorker) take jobs, run each block on their own worker threads — reading inputs and
 * writing outputs themselves, so all machines must see the same paths — and return the block's
 * `data`. Failure handling:
 *  - a worker killed mid-block: its job's lock expires and BullMQ's stalled check hands the job
 *    to another worker (beyond maxStalledCount it fails and the run retries it);
 *  - Redis restarted (and its data lost): the run notices its jobs are gone and enqueues them again;
 *  - the run itself killed: a rerun skips recorded blocks and enqueues the rest again.
 * Blocks are idempotent (pure function, whole-chunk atomic writes), so a block done twice is harmless.
 */
export const DEFAULT_QUEUE = 'wiring-blocks';

export interface RedisConnection {
  host: string;
  port: number;
  password?: string;
  username?: string;
  db?: number;
  maxRetriesPerRequest: null;
  retryStrategy: (times: number) => number;
}

export function parseRedisUrl(url: string): RedisConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--redis: expected redis://HOST:PORT, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'redis:') throw new UsageError(`--redis: expected a redis:// URL, got ${JSON.stringify(url)}`);
  const port = u.port ? Number(u.port) : 6379;
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) throw new UsageError(`--redis: database ${JSON.stringify(u.pathname)} is not a number`);
  return {
    host: u.hostname || '127.0.0.1',
    port,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(db !== undefined ? { db } : {}),
    maxRetriesPerRequest: null,
    // Keep reconnecting (a restarted Redis comes back): 50 ms, 100 ms, ... at most 1 s apart.
    retryStrategy: (times: number) => Math.min(times * 50, 1000),
  };
}

function checkQueueName(name: string): string {
  if (!name || name.includes(':')) throw new UsageError(`queue name ${JSON.stringify(name)} must be non-empty and contain no ':'`);
  return name;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new WiringError(what)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface Pending {
  id: string;
  job: BlockJob;
  /** Still looking for a job left by an earlier run: not polled yet. */
  attaching: boolean;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class RedisExecutor implements Executor {
  readonly mode = 'redis' as const;
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  /** Jobs enqueued again because they vanished from Redis (a restart without persistence). */
  requeued = 0;
  /** Jobs found in Redis from an earlier (killed) run of the same records and taken over. */
  reattached = 0;
  private loop?: Promise<void>;

  private constructor(
    private readonly queue: Queue,
    readonly capacity: number,
    private readonly pollMs: number,
  ) {}

  static async connect(url: string, opts: { capacity: number; queue?: string; pollMs?: number }): Promise<RedisExecutor> {
    const connection = parseRedisUrl(url);
    const queue = new Queue(checkQueueName(opts.queue ?? DEFAULT_QUEUE), { connection });
    queue.on('error', () => {}); // connection drops are retried; polling notices lost jobs
    try {
      await withTimeout(queue.waitUntilReady(), 15_000, `cannot reach Redis at ${url} (waited 15 s)`);
    } catch (err) {
      await queue.close().catch(() => {});
      throw err;
    }
    const ex = new RedisExecutor(queue, opts.capacity, opts.pollMs ?? 100);
    ex.loop = ex.poll();
    return ex;
  }

  private async add(p: Pending): Promise<void> {
    await this.queue.add(p.job.task.name, { p: encodeJson(p.job) }, {
      jobId: p.id,
      attempts: 1,
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 3600 },
    });
  }

  /**
   * Job ids are `<task nonce>.<block>.<attempt>`: a rerun on the same resume records finds the
   * jobs a killed run left (waiting, running or finished) and takes them over instead of queueing
   * the blocks again; a job that had failed for good is removed and queued afresh.
   */
  async run(job: BlockJob): Promise<unknown> {
    const id = `${job.task.nonce}.${job.index.join('_')}.${job.attempt}`;
    return new Promise((resolve, reject) => {
      const p: Pending = { id, job, resolve, reject, attaching: true };
      this.pending.set(id, p);
      this.attach(p)
        .catch(() => {
          /* Redis unreachable right now: the poll loop re-adds jobs it cannot find */
        })
        .finally(() => {
          p.attaching = false;
        });
    });
  }

  private async attach(p: Pending): Promise<void> {
    const existing = await Job.fromId(this.queue, p.id);
    if (existing) {
      if (existing.finishedOn && existing.failedReason) {
        await existing.remove();
        await this.add(p);
      } else this.reattached++;
      return;
    }
    await this.add(p);
  }

  private async check(p: Pending): Promise<void> {
    if (p.attaching) return;
    const j = await Job.fromId(this.queue, p.id);
    if (!this.pending.has(p.id)) return;
    if (!j) {
      // Lost (Redis restarted without persistence, or the add never reached it): enqueue again.
      this.requeued++;
      await this.add(p);
      return;
    }
    if (!j.finishedOn) return;
    this.pending.delete(p.id);
    if (j.failedReason) {
      p.reject(new WiringError(j.failedReason));
    } else {
      try {
        // the worker's text goes into the resume record as it is (decoded only if it is not JSON text)
        p.resolve(typeof j.returnvalue === 'string' ? new EncodedJson(j.returnvalue) : j.returnvalue);
      } catch (err) {
        p.reject(err as Error);
      }
    }
    await j.remove().catch(() => {});
  }

  private async poll(): Promise<void> {
    while (!this.closed) {
      await new Promise((r) => setTimeout(r, this.pollMs));
      const batch = [...this.pending.values()];
      await Promise.all(batch.map((p) => this.check(p).catch(() => {})));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
    for (const p of this.pending.values()) p.reject(new WiringError('the run was closed'));
    this.pending.clear();
    await this.queue.close().catch(() => {});
  }
}

function tsxAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('tsx/package.json');
    return true;
  } catch {
    return false;
  }
}

export interface WorkerOptions {
  /** Blocks run at once, each on its own thread (default os.availableParallelism()). */
  concurrency: number;
  queue?: string;
  /** BullMQ lock: a job whose worker stopped renewing it for this long is handed to another worker. */
  lockDuration?: number;
  stalledInterval?: number;
  /** Called after each block (for logs). */
  onBlock?: (e: { task: string; index: readonly number[]; ok: boolean; error?: string; ms: number }) => void;
}

/** Join a run: take block jobs from the queue until closed. */
export async function startWorker(url: string, opts: WorkerOptions): Promise<{ close(force?: boolean): Promise<void>; ping(): Promise<void> }> {
  const connection = parseRedisUrl(url);
  // Threads register tsx only for TypeScript block modules (tests, `npm run bench` from src): its
  // loader hooks run on a thread of their own and see every import, built JavaScript included.
  const pools = new Map<boolean, ThreadPool>();
  const poolFor = (typescript: boolean): ThreadPool => {
    let p = pools.get(typescript);
    if (!p) pools.set(typescript, (p = new ThreadPool(opts.concurrency, { typescript })));
    return p;
  };
  const worker = new Worker(
    checkQueueName(opts.queue ?? DEFAULT_QUEUE),
    async (job) => {
      const block = decodeJson((job.data as { p: string }).p) as BlockJob;
      const t = Date.now();
      try {
        const ts = /\.[cm]?ts$/.test(new URL(block.task.module).pathname);
        if (ts && !tsxAvailable()) throw new WiringError(`block module ${block.task.module} is TypeScript but the tsx package is not installed`);
        const data = await poolFor(ts).run(block);
        opts.onBlock?.({ task: block.task.name, index: block.index, ok: true, ms: Date.now() - t });
        // the pool's threads encoded it already
        if (data instanceof EncodedJson) return data.text ?? 'null';
        return encodeJson(data ?? null);
      } catch (err) {
        opts.onBlock?.({ task: block.task.name, index: block.index, ok: false, error: (err as Error).message, ms: Date.now() - t });
        throw err;
      }
    },
    {
      connection,
      concurrency: opts.concurrency,
      lockDuration: opts.lockDuration ?? 30_000,
      stalledInterval: opts.stalledInterval ?? Math.max(500, Math.floor((opts.lockDuration ?? 30_000) / 2)),
      maxStalledCount: 2,
    },
  );
  worker.on('error', () => {}); // reconnects are automatic; failed jobs are reported to the run
  await withTimeout(worker.waitUntilReady(), 15_000, `cannot reach Redis at ${url} (waited 15 s)`);
  return {
    /** Stop taking jobs; wait for the blocks in progress (force: do not wait for them). */
    async close(force = false) {
      await worker.close(force);
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
    /** Resolves when Redis answers a command (pending while it is unreachable). */
    async ping() {
      await (await worker.getBackend().client).get('wiring:ping');
    },
  };
}
