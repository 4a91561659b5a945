import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Box, type Vec3, boxContains, boxIsEmpty, boxToString } from '../core/box.js';
import { bytesPerElement } from '../core/dtype.js';
import { UsageError, WiringError } from '../core/errors.js';
import { createProgress } from '../core/progress.js';
import type { ChunkGrid } from '../core/chunks.js';
import { type Block, adjacent, blockFileName, blockGrid } from './blocks.js';
import { canonicalJson, sha256 } from './codec.js';
import { openInput, openOutputLayer } from './io.js';
import { type Executor, InProcessExecutor, SharedPoolExecutor, oneWorkerOnThread } from './pool.js';
import { openTaskState, writeBlockRecord } from './state.js';
import type { BlockTask, FailedBlock, RunOptions, RunReport, TaskReport, TaskSpec } from './types.js';

/** The run finished with blocks that failed for good (or tasks blocked by them); `report` has the details. */
export class SchedulerError extends WiringError {
  constructor(
    message: string,
    readonly report: RunReport,
  ) {
    super(message);
    this.name = 'SchedulerError';
  }
}

interface TaskState {
  task: BlockTask;
  spec: TaskSpec;
  exclusive: boolean;
  bytesPerBlock: number;
  /**
   * The block list is streamed, never held: blocks are taken in linear order (x fastest) from
   * `cursor`, skipping those the resume records at the start (`done`) hold; `queue` holds the
   * few blocks to take first (retries, and blocks of an exclusive task that touched a running
   * one). Memory follows the blocks done and in flight, not the size of the grid.
   */
  grid: ChunkGrid;
  total: number;
  cursor: number;
  done: Set<string>;
  queue: number[];
  running: Block[];
  attempts: Map<number, number>;
  retried: Set<number>;
  remaining: number;
  computed: number;
  resumed: number;
  failed: FailedBlock[];
  restarted: boolean;
  status: 'waiting' | 'running' | 'finishing' | 'done' | 'failed' | 'blocked';
  t0: number;
  t1: number;
}

const DEFAULT_RETRIES = 2;

function isVec3(v: unknown, opts: { positive?: boolean; nonNegative?: boolean } = {}): v is Vec3 {
  return (
    Array.isArray(v) &&
    v.length === 3 &&
    v.every((n) => Number.isInteger(n) && (!opts.positive || n > 0) && (!opts.nonNegative || n >= 0))
  );
}

function isBox(b: unknown): b is Box {
  const x = b as Box;
  return !!x && isVec3(x.min) && isVec3(x.max);
}

/** Check names, shapes and dependencies; return the tasks in an order where dependencies come first. */
export function orderTasks(tasks: BlockTask[]): BlockTask[] {
  const byName = new Map<string, BlockTask>();
  for (const t of tasks) {
    const where = `task ${JSON.stringify(t?.name)}`;
    if (typeof t.name !== 'string' || t.name === '') throw new UsageError('every task needs a non-empty name', where);
    if (byName.has(t.name)) throw new UsageError('two tasks have this name; names must be unique within a run', where);
    if (typeof t.module !== 'string' || typeof t.fn !== 'string') throw new UsageError('module and fn must be strings', where);
    if (!isBox(t.bounds)) throw new UsageError('bounds must be {min: [x,y,z], max: [x,y,z]} of integers', where);
    if (!isVec3(t.blockShape, { positive: true })) throw new UsageError(`blockShape must be three positive integers, got ${JSON.stringify(t.blockShape)}`, where);
    if (t.margin !== undefined && !isVec3(t.margin, { nonNegative: true })) {
      throw new UsageError(`margin must be three non-negative integers, got ${JSON.stringify(t.margin)}`, where);
    }
    for (const [k, v] of Object.entries(t.inputs ?? {})) {
      if (typeof v !== 'string' || v === '') throw new UsageError(`input ${k} must be a source spec (a path or URL)`, where);
    }
    for (const [k, o] of Object.entries(t.outputs ?? {})) {
      if (!o || typeof o.layer !== 'string' || o.layer === '') throw new UsageError(`output ${k} needs {layer: <precomputed layer folder>}`, where);
      if (o.scale !== undefined && !(Number.isInteger(o.scale) && o.scale >= 0)) throw new UsageError(`output ${k}: scale must be a whole number >= 0`, where);
    }
    byName.set(t.name, t);
  }
  const order: BlockTask[] = [];
  const mark = new Map<string, 1 | 2>();
  const visit = (t: BlockTask, path: string[]) => {
    const m = mark.get(t.name);
    if (m === 2) return;
    if (m === 1) throw new UsageError(`tasks depend on each other in a cycle: ${[...path, t.name].join(' -> ')}`);
    mark.set(t.name, 1);
    for (const d of t.dependsOn ?? []) {
      const dep = byName.get(d);
      if (!dep) throw new UsageError(`depends on ${JSON.stringify(d)}, which is not a task of this run`, `task ${JSON.stringify(t.name)}`);
      visit(dep, [...path, t.name]);
    }
    mark.set(t.name, 2);
    order.push(t);
  };
  for (const t of tasks) visit(t, []);
  return order;
}

/** Local paths made absolute (workers may run elsewhere); URLs (scheme://) kept as they are. */
export function absoluteSpec(spec: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) return spec;
  const hash = spec.indexOf('#');
  return hash < 0 ? path.resolve(spec) : path.resolve(spec.slice(0, hash)) + spec.slice(hash);
}

function normalizeTask(t: BlockTask): BlockTask {
  return {
    ...t,
    inputs: Object.fromEntries(Object.entries(t.inputs ?? {}).map(([k, v]) => [k, absoluteSpec(v)])),
    outputs: Object.fromEntries(Object.entries(t.outputs ?? {}).map(([k, o]) => [k, { layer: absoluteSpec(o.layer), scale: o.scale ?? 0 }])),
  };
}

/** Parse what an element of a layer or source costs in bytes. */
function prod(v: Vec3): number {
  return v[0] * v[1] * v[2];
}

/** Open outputs/inputs to check alignment and estimate memory; returns bytes per block. */
async function inspectTask(t: BlockTask, producedHere: Set<string>): Promise<number> {
  const where = `task ${JSON.stringify(t.name)}`;
  const margin = t.margin ?? [0, 0, 0];
  let bytes = 0;
  for (const [name, o] of Object.entries(t.outputs ?? {})) {
    const layer = await openOutputLayer(o.layer);
    const scale = o.scale ?? 0;
    if (!layer.info.scales[scale]) throw new UsageError(`output ${name}: layer ${o.layer} has no scale ${scale}`, where);
    const grid = layer.chunkGrid(scale);
    const chunk = grid.chunkSize;
    for (let i = 0; i < 3; i++) {
      if (t.blockShape[i] % chunk[i] !== 0) {
        throw new UsageError(`blockShape [${t.blockShape}] is not a multiple of output ${name}'s chunk size [${chunk}]`, where);
      }
      const lo = t.bounds.min[i] - grid.bounds.min[i];
      const hi = t.bounds.max[i] - grid.bounds.min[i];
      if (lo % chunk[i] !== 0 || (t.bounds.max[i] !== grid.bounds.max[i] && hi % chunk[i] !== 0)) {
        throw new UsageError(
          `bounds (${boxToString(t.bounds)}) must start and end on chunk boundaries of output ${name} (chunks [${chunk}] from [${grid.bounds.min}], or end at the layer's end)`,
          where,
        );
      }
    }
    if (!boxContains(grid.bounds, t.bounds)) {
      throw new UsageError(`bounds (${boxToString(t.bounds)}) are outside output ${name}'s layer (${boxToString(grid.bounds)})`, where);
    }
    bytes += prod(t.blockShape) * bytesPerElement(layer.info.data_type) * layer.info.num_channels;
  }
  for (const [, spec] of Object.entries(t.inputs ?? {})) {
    // a layer an earlier task of this run writes may still be incomplete now; any other input must be complete
    const src = await openInput(spec, { allowIncomplete: producedHere.has(spec) });
    try {
      const s: Vec3 = [t.blockShape[0] + 2 * margin[0], t.blockShape[1] + 2 * margin[1], t.blockShape[2] + 2 * margin[2]];
      bytes += prod(s) * bytesPerElement(src.dtype) * src.channels;
    } finally {
      await src.close();
    }
  }
  return t.memoryPerBlock ?? bytes;
}

function fingerprintOf(t: BlockTask, deps: string[]): { fingerprint: string; definition: unknown } {
  const definition = {
    name: t.name,
    module: t.module,
    fn: t.fn,
    params: t.params,
    inputs: t.inputs ?? {},
    outputs: Object.fromEntries(Object.entries(t.outputs ?? {}).map(([k, o]) => [k, { layer: o.layer, scale: o.scale ?? 0 }])),
    bounds: t.bounds,
    blockShape: t.blockShape,
    margin: t.margin ?? [0, 0, 0],
    dependencies: deps,
  };
  return { fingerprint: sha256(canonicalJson(definition)), definition };
}

/**
 * Run block tasks: every block of every task, dependencies first, on worker threads (or BullMQ
 * workers with `redis`), skipping blocks that resume records say are finished. Rejects with a
 * SchedulerError (a WiringError) naming the blocks that failed after all retries.
 */
export async function runTasks(tasks: BlockTask[], opts: RunOptions): Promise<RunReport> {
  // A run keeps the process alive until it settles: the thread pool unrefs its threads whenever
  // no block is in flight (so an idle pool never holds a finished program open), and between
  // those moments nothing else may be pending — a CLI process would otherwise exit mid-run (code 13).
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    return await runTasksHeld(tasks, opts);
  } finally {
    clearInterval(keepAlive);
  }
}

/**
 * Most blocks one task may have: block numbers stay exact doubles (2^53). The list is streamed
 * (memory follows the blocks done and in flight), so this only refuses grids no run could finish.
 */
export const MAX_TASK_BLOCKS = Number.MAX_SAFE_INTEGER;

/** The run's limits from its options (retries, workers, memory budget), checked. */
function runLimits(opts: RunOptions): { retries: number; workers: number; budget: number } {
  if (!opts || typeof opts.stateDir !== 'string' || opts.stateDir === '') throw new UsageError('runTasks needs a stateDir for its resume records');
  const retries = opts.retries ?? DEFAULT_RETRIES;
  if (!Number.isInteger(retries) || retries < 0) throw new UsageError(`retries must be a whole number >= 0, got ${retries}`);
  const workers = opts.workers ?? (opts.redis ? 256 : os.availableParallelism());
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`workers must be a whole number >= 1, got ${workers}`);
  const budget = opts.memory ?? Math.floor(os.totalmem() / 2);
  if (!(budget > 0)) throw new UsageError(`memory budget must be positive, got ${opts.memory}`);
  return { retries, workers, budget };
}

/**
 * Each task in dependency order with its fingerprint, its blocks and which of them the resume
 * records under stateDir already hold (a task whose definition changed starts afresh).
 */
async function planTasks(ordered: BlockTask[], stateDir: string): Promise<TaskState[]> {
  const producedHere = new Set<string>();
  const fps = new Map<string, string>();
  const states: TaskState[] = [];
  for (const t of ordered) {
    const deps = (t.dependsOn ?? []).map((d) => `${d}:${fps.get(d)}`).sort();
    const { fingerprint, definition } = fingerprintOf(t, deps);
    fps.set(t.name, fingerprint);
    const bytesPerBlock = await inspectTask(t, producedHere);
    for (const o of Object.values(t.outputs ?? {})) if ((o.scale ?? 0) === 0) producedHere.add(o.layer);
    const grid = blockGrid(t.bounds, t.blockShape);
    if (!(grid.count <= MAX_TASK_BLOCKS)) {
      throw new UsageError(
        `bounds (${boxToString(t.bounds)}) cut into blocks of [${t.blockShape}] make ${grid.count} blocks, more than ${MAX_TASK_BLOCKS}; run a sub-box (--bounds) or larger blocks`,
        `task ${JSON.stringify(t.name)}`,
      );
    }
    const total = boxIsEmpty(t.bounds) ? 0 : grid.count;
    const { done, restarted, nonce } = await openTaskState(stateDir, t.name, fingerprint, definition);
    // records of this grid (the fingerprint includes bounds and block shape; a stray name is ignored)
    let resumed = 0;
    for (const f of done) {
      const m = /^(\d+)_(\d+)_(\d+)\.json$/.exec(f);
      if (m && [1, 2, 3].every((k, a) => Number(m[k]) < grid.gridShape[a])) resumed++;
    }
    if (total === 0) resumed = 0;
    states.push({
      task: t,
      spec: {
        name: t.name,
        module: t.module,
        fn: t.fn,
        params: t.params,
        inputs: { ...(t.inputs ?? {}) },
        outputs: Object.fromEntries(Object.entries(t.outputs ?? {}).map(([k, o]) => [k, { layer: o.layer, scale: o.scale ?? 0 }])),
        bounds: t.bounds,
        margin: t.margin ?? [0, 0, 0],
        fingerprint,
        nonce,
      },
      exclusive: !!t.exclusiveNeighbours,
      bytesPerBlock,
      grid,
      total,
      cursor: 0,
      done,
      queue: [],
      running: [],
      attempts: new Map(),
      retried: new Set(),
      remaining: total - resumed,
      computed: 0,
      resumed,
      failed: [],
      restarted,
      status: 'waiting',
      t0: 0,
      t1: 0,
    });
  }
  return states;
}

async function runTasksHeld(tasks: BlockTask[], opts: RunOptions): Promise<RunReport> {
  const t0 = Date.now();
  const { retries, workers, budget } = runLimits(opts);
  await fs.mkdir(opts.stateDir, { recursive: true });
  const ordered = orderTasks(tasks).map(normalizeTask);
  const states = await planTasks(ordered, opts.stateDir);

  // Completeness record in each output layer: set before any block is written, cleared when the
  // task (and every other task of this run writing the same scale) has written all its blocks.
  const outputKey = (o: { layer: string; scale?: number }) => `${o.layer}\u0000${o.scale ?? 0}`;
  const marked = new Set<string>();
  for (const s of states) {
    if (s.remaining === 0) continue;
    for (const o of Object.values(s.task.outputs ?? {})) {
      if (marked.has(outputKey(o))) continue;
      marked.add(outputKey(o));
      await (await openOutputLayer(o.layer)).markWriting(o.scale ?? 0, s.task.name);
    }
  }
  const markCompleteAfter = async (s: TaskState): Promise<void> => {
    for (const o of Object.values(s.task.outputs ?? {})) {
      const others = states.some((x) => x !== s && x.status !== 'done' && x.status !== 'finishing' && Object.values(x.task.outputs ?? {}).some((p) => outputKey(p) === outputKey(o)));
      if (!others) await (await openOutputLayer(o.layer)).markComplete(o.scale ?? 0);
    }
  };

  const total = states.reduce((n, s) => n + s.total, 0);
  const todo = states.reduce((n, s) => n + s.remaining, 0);
  const progress = opts.progress ?? createProgress({ json: opts.json, label: 'blocks' });
  let executor: Executor | undefined;
  let peakInFlight = 0;
  let peakBytes = 0;
  if (todo > 0) {
    if (opts.redis) {
      const { RedisExecutor } = await import('./redis.js');
      executor = await RedisExecutor.connect(opts.redis, { capacity: workers, queue: opts.queue });
    } else if (workers === 1 && !oneWorkerOnThread()) executor = new InProcessExecutor();
    // (one worker with WIRING_ONE_WORKER_THREAD=1: one pool thread that compiles in-thread)
    else executor = await SharedPoolExecutor.create(workers, ordered.some((t) => t.module.endsWith('.ts')), todo);
  }
  progress.start(total, 'blocks');
  const resumedTotal = total - todo;
  if (resumedTotal > 0) progress.increment(resumedTotal);

  try {
    if (executor) {
      const ex = executor;
      await new Promise<void>((resolveAll, rejectAll) => {
        let inFlight = 0;
        let bytes = 0;
        const byName = new Map(states.map((s) => [s.task.name, s]));

        const touchesRunning = (s: TaskState, index: Vec3) => s.exclusive && s.running.some((r) => adjacent(r.index, index));
        // The next block to launch (its linear number), or -1: first the queue, then the cursor.
        const nextEligible = (s: TaskState): number => {
          for (let k = 0; k < s.queue.length; k++) {
            const n = s.queue[k];
            if (touchesRunning(s, s.grid.fromLinear(n))) continue;
            s.queue.splice(k, 1);
            return n;
          }
          while (s.cursor < s.total) {
            const n = s.cursor++;
            const index = s.grid.fromLinear(n);
            if (s.done.has(blockFileName(index))) continue;
            if (touchesRunning(s, index)) {
              s.queue.push(n); // taken once no running block touches it
              continue;
            }
            return n;
          }
          return -1;
        };

        // A task whose blocks are all written clears its outputs' incomplete records before it
        // counts as done (so a dependent task reading them finds them complete).
        let finishing = 0;
        const finishTaskIfDone = (s: TaskState) => {
          if (s.status === 'running' && s.remaining === 0 && s.running.length === 0) {
            s.t1 = Date.now();
            if (s.failed.length > 0) {
              s.status = 'failed';
              return;
            }
            s.status = 'finishing';
            finishing++;
            markCompleteAfter(s).then(
              () => {
                s.status = 'done';
                finishing--;
                pump();
              },
              (err: unknown) => rejectAll(err),
            );
          }
        };

        const launch = (s: TaskState, i: number) => {
          const index = s.grid.fromLinear(i);
          const b: Block = { index, linear: i, box: s.grid.chunkBox(index) };
          s.running.push(b);
          inFlight++;
          bytes += s.bytesPerBlock;
          peakInFlight = Math.max(peakInFlight, inFlight);
          peakBytes = Math.max(peakBytes, bytes);
          const attempt = (s.attempts.get(i) ?? 0) + 1;
          s.attempts.set(i, attempt);
          const work = async () => {
            const data = await ex.run({ task: s.spec, index: b.index, box: b.box, attempt });
            await writeBlockRecord(opts.stateDir, s.task.name, { blockIndex: b.index, box: b.box, data });
          };
          work().then(
            () => {
              s.attempts.delete(i);
              s.computed++;
              s.remaining--;
              progress.increment(1);
            },
            (err: unknown) => {
              const message = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
              if (attempt <= retries) {
                s.retried.add(i);
                s.queue.unshift(i);
              } else {
                s.attempts.delete(i);
                s.failed.push({ task: s.task.name, blockIndex: b.index, box: b.box, attempts: attempt, error: message });
                s.remaining--;
              }
            },
          ).then(() => {
            s.running.splice(s.running.indexOf(b), 1);
            inFlight--;
            bytes -= s.bytesPerBlock;
            finishTaskIfDone(s);
            pump();
          }).catch(rejectAll);
        };

        const pump = () => {
          let changed = true;
          while (changed) {
            changed = false;
            dispatch: for (const s of states) {
              if (s.status === 'waiting') {
                const deps = (s.task.dependsOn ?? []).map((d) => byName.get(d)!);
                if (deps.some((d) => d.status === 'failed' || d.status === 'blocked')) {
                  s.status = 'blocked';
                  changed = true;
                  continue;
                }
                if (!deps.every((d) => d.status === 'done')) continue;
                s.status = 'running';
                s.t0 = Date.now();
                finishTaskIfDone(s);
                changed = true;
              }
              if (s.status !== 'running') continue;
              while (inFlight < ex.capacity) {
                const i = nextEligible(s);
                if (i < 0) break;
                if (inFlight > 0 && bytes + s.bytesPerBlock > budget) {
                  s.queue.unshift(i); // taken next time
                  break dispatch;
                }
                launch(s, i);
              }
            }
          }
          if (inFlight === 0 && finishing === 0) resolveAll();
        };
        pump();
      });
    } else {
      for (const s of states) {
        s.status = 'done';
      }
      // every block was already recorded (e.g. a run killed after its last block): clear the records
      for (const s of states) await markCompleteAfter(s);
    }
  } finally {
    progress.stop();
    await executor?.close();
  }

  const report = runReport(states, {
    mode: executor?.mode ?? (opts.redis ? 'redis' : workers === 1 ? 'in-process' : 'threads'),
    workers, total, resumedTotal, t0, peakInFlight, peakBytes,
    requeued: executor?.requeued ?? 0,
    reattached: executor?.reattached ?? 0,
  });
  throwIfFailed(report);
  return report;
}

/** The report of a finished run (tasks never started because a dependency failed are 'blocked'). */
function runReport(
  states: TaskState[],
  r: { mode: RunReport['mode']; workers: number; total: number; resumedTotal: number; t0: number; peakInFlight: number; peakBytes: number; requeued: number; reattached: number },
): RunReport {
  for (const s of states) if (s.status === 'waiting') s.status = 'blocked';
  const taskReports: TaskReport[] = states.map((s) => ({
    name: s.task.name,
    blocks: s.total,
    computed: s.computed,
    resumed: s.resumed,
    failed: s.failed.length,
    retried: s.retried.size,
    restarted: s.restarted,
    status: s.status === 'done' ? 'done' : s.status === 'failed' ? 'failed' : 'blocked',
    seconds: s.t1 && s.t0 ? (s.t1 - s.t0) / 1000 : 0,
  }));
  return {
    mode: r.mode,
    workers: r.workers,
    blocks: r.total,
    computed: states.reduce((n, s) => n + s.computed, 0),
    resumed: r.resumedTotal,
    failed: states.flatMap((s) => s.failed),
    tasks: taskReports,
    seconds: (Date.now() - r.t0) / 1000,
    peakInFlight: r.peakInFlight,
    peakBytes: r.peakBytes,
    requeued: r.requeued,
    reattached: r.reattached,
  };
}

/** A run with blocks that failed for good, or tasks blocked by them, rejects with a SchedulerError listing them. */
function throwIfFailed(report: RunReport): void {
  const failed = report.failed;
  const blocked = report.tasks.filter((t) => t.status === 'blocked');
  if (failed.length > 0 || blocked.length > 0) {
    const lines = failed
      .slice(0, 20)
      .map((f) => `  ${f.task} block [${f.blockIndex}] (${boxToString(f.box)}) after ${f.attempts} attempt(s): ${f.error}`);
    if (failed.length > 20) lines.push(`  ... and ${failed.length - 20} more`);
    if (blocked.length) lines.push(`  not started because a dependency failed: ${blocked.map((t) => t.name).join(', ')}`);
    throw new SchedulerError(
      `${failed.length} block(s) failed for good (finished blocks are recorded; rerun to retry the rest):\n${lines.join('\n')}`,
      report,
    );
  }
}
