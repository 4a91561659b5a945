import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { boxFromShape } from '../core/box.js';
import { WiringError } from '../core/errors.js';
import { type BlockTask, SchedulerError, readBlockData, runTasks } from './index.js';
import { EncodedJson, decodeJson, encodeJson } from './codec.js';
import { iterateBlockData, recordText, taskDir } from './state.js';

const FIX = new URL('./fixtures.ts', import.meta.url).href;

function task(over: Partial<BlockTask> = {}): BlockTask {
  return { name: 't', module: FIX, fn: 'trivial', params: {}, bounds: boxFromShape([10, 7, 5]), blockShape: [4, 4, 4], ...over };
}

describe('codec', () => {
  it('keeps bigints exact', () => {
    const v = { a: 864691135639556411n, b: [1n << 64n, 'x'], c: { $bigint: 5 } };
    expect(decodeJson(encodeJson(v))).toEqual(v);
  });
  it('reads and writes what the reviver/replacer versions did (fast paths without them)', () => {
    const oldEncode = (x: unknown) => JSON.stringify(x, (_k, y) => (typeof y === 'bigint' ? { $bigint: y.toString(10) } : y));
    const oldDecode = (t: string) =>
      JSON.parse(t, (_k, y) => (y !== null && typeof y === 'object' && !Array.isArray(y) && Object.keys(y).length === 1 && typeof y.$bigint === 'string' && /^-?\d+$/.test(y.$bigint) ? BigInt(y.$bigint) : y));
    const values: unknown[] = [
      { ids: ['5', '21'], u: [1, 2, 3], nested: [[{ $bigint: '7' }], { x: { $bigint: '-12' } }] },
      [{ $bigint: '18446744073709551615' }, null, 1.5, 'a'],
      { $bigint: '9' },
      { a: { $bigint: '1', b: 2 }, c: { $bigint: 'x1' }, d: { $bigint: 3 } },
      { big: 2n ** 63n, list: [1n, 2, [3n]] },
    ];
    for (const v of values) {
      expect(encodeJson(v)).toBe(oldEncode(v));
      expect(encodeJson(v, 2)).toBe(JSON.stringify(v, (_k, y) => (typeof y === 'bigint' ? { $bigint: y.toString(10) } : y), 2));
      const text = oldEncode(v);
      expect(decodeJson(text)).toEqual(oldDecode(text));
    }
    // a "__proto__" key stays a plain data property holding the bigint
    const p = decodeJson('{"__proto__": {"$bigint": "4"}, "k": [{"$bigint": "5"}]}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(p, '__proto__')?.value).toBe(4n);
    expect(p.k).toEqual([5n]);
  });
  it('writes a record whose data a worker encoded exactly as it writes the decoded data', () => {
    const head = { blockIndex: [1, 0, 2] as [number, number, number], box: boxFromShape([4, 4, 4]) };
    for (const data of [undefined, null, 0, 'x', { a: 1n, b: [2n, 'c'] }, [1, 2.5, { $bigint: '3' }]]) {
      const text = data === undefined ? undefined : encodeJson(data);
      expect(recordText({ ...head, data: new EncodedJson(text) })).toBe(encodeJson({ ...head, data }));
    }
  });
});

describe('runTasks (local)', () => {
  it('runs every block once with data kept exact, in-process and on threads, and resumes', async () => {
    for (const workers of [1, 2]) {
      const stateDir = await tempDir();
      const r = await runTasks([task()], { stateDir, workers, json: true });
      expect(r.blocks).toBe(3 * 2 * 2);
      expect(r.computed).toBe(12);
      expect(r.mode).toBe(workers === 1 ? 'in-process' : 'threads');
      const data = await readBlockData(stateDir, 't');
      expect(data.map((d) => d.blockIndex)).toEqual([
        [0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0], [2, 1, 0],
        [0, 0, 1], [1, 0, 1], [2, 0, 1], [0, 1, 1], [1, 1, 1], [2, 1, 1],
      ]);
      expect(data[11].data).toEqual({ sum: 4, id: 864691135639556413n });
      expect(data[2].box).toEqual({ min: [8, 0, 0], max: [10, 4, 4] });
      const again = await runTasks([task()], { stateDir, workers, json: true });
      expect(again.computed).toBe(0);
      expect(again.resumed).toBe(12);
    }
  });
});

describe('failures', () => {
  it('retries failing blocks up to the limit and names the blocks that failed for good', async () => {
    const stateDir = await tempDir();
    const dir = await tempDir();
    const failures = { '0_0_0': 1, '1_0_0': 5 };
    const t = task({ fn: 'flaky', params: { dir, failures }, bounds: boxFromShape([8, 4, 4]) });
    const err = await runTasks([t], { stateDir, workers: 2, retries: 2, json: true }).catch((e) => e);
    expect(err).toBeInstanceOf(SchedulerError);
    expect(err).toBeInstanceOf(WiringError);
    expect(err.message).toMatch(/1 block\(s\) failed for good/);
    expect(err.message).toMatch(/t block \[1,0,0\] \(x 4:8, y 0:4, z 0:4\) after 3 attempt\(s\): planned failure 3 of block 1_0_0/);
    const r = err.report;
    expect(r.failed).toHaveLength(1);
    expect(r.computed).toBe(1);
    expect(r.tasks[0]).toMatchObject({ status: 'failed', retried: 2, failed: 1, computed: 1 });
    // The block that succeeded on its 2nd attempt is recorded; a rerun only retries the failed one.
    expect((await readBlockData(stateDir, 't')).map((d) => d.data)).toEqual([{ key: '0_0_0', attempts: 2 }]);
    const again = await runTasks([t], { stateDir, workers: 1, retries: 5, json: true });
    expect(again).toMatchObject({ computed: 1, resumed: 1 });
  });

  it('replaces a worker thread that dies and redoes its block', async () => {
    const stateDir = await tempDir();
    const dir = await tempDir();
    const r = await runTasks([task({ fn: 'dies', params: { dir }, bounds: boxFromShape([8, 8, 4]) })], { stateDir, workers: 2, retries: 1, json: true });
    expect(r.computed).toBe(4);
    expect(r.tasks[0].retried).toBe(4);
    expect((await readBlockData(stateDir, 't')).map((d) => d.data)).toEqual(['0_0_0', '1_0_0', '0_1_0', '1_1_0']);
  });

  it('does not start a task whose dependency failed', async () => {
    const stateDir = await tempDir();
    const dir = await tempDir();
    const a = task({ name: 'a', fn: 'flaky', params: { dir, failures: { '0_0_0': 9 } }, bounds: boxFromShape([4, 4, 4]) });
    const b = task({ name: 'b', dependsOn: ['a'] });
    const err = await runTasks([b, a], { stateDir, workers: 1, retries: 0, json: true }).catch((e) => e);
    expect(err).toBeInstanceOf(SchedulerError);
    expect(err.message).toMatch(/not started because a dependency failed: b/);
    expect(err.report.tasks.map((t: { name: string; status: string }) => [t.name, t.status])).toEqual([['a', 'failed'], ['b', 'blocked']]);
  });

  it('rejects bad task definitions with UsageErrors', async () => {
    const stateDir = await tempDir();
    await expect(runTasks([task(), task()], { stateDir })).rejects.toThrow(/unique/);
    await expect(runTasks([task({ blockShape: [0, 4, 4] })], { stateDir })).rejects.toThrow(/blockShape/);
    await expect(runTasks([task({ dependsOn: ['x'] })], { stateDir })).rejects.toThrow(/"x", which is not a task/);
    await expect(runTasks([task({ name: 'a', dependsOn: ['b'] }), task({ name: 'b', dependsOn: ['a'] })], { stateDir })).rejects.toThrow(/cycle: a -> b -> a/);
    await expect(runTasks([task({ fn: 'nope' })], { stateDir, workers: 1, retries: 0 })).rejects.toThrow(/does not export a block function named "nope"/);
  });
});

function intervals(log: string): Array<{ index: number[]; start: bigint; end: bigint }> {
  return readFileSync(log, 'utf8').trim().split('\n').map((l) => {
    const o = JSON.parse(l);
    return { index: o.index, start: BigInt(o.start), end: BigInt(o.end) };
  });
}

function maxOverlap(iv: Array<{ start: bigint; end: bigint }>): number {
  const ev = iv.flatMap((i) => [[i.start, 1], [i.end, -1]] as Array<[bigint, number]>).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  let n = 0;
  let m = 0;
  for (const [, d] of ev) m = Math.max(m, (n += d));
  return m;
}

describe('scheduling constraints', () => {
  it('never runs adjacent blocks at the same time with exclusiveNeighbours', async () => {
    const stateDir = await tempDir();
    const dir = await tempDir();
    const log = path.join(dir, 'log');
    // Every block holds until a second block has started (a barrier, not a sleep): the first
    // block cannot finish before another runs beside it, so parallelism is proven, not hoped for.
    const t = task({ fn: 'rendezvous', params: { log, dir, atLeast: 2, ms: 20 }, bounds: boxFromShape([16, 12, 8]), exclusiveNeighbours: true });
    await runTasks([t], { stateDir, workers: 4, json: true });
    const iv = intervals(log);
    expect(iv).toHaveLength(4 * 3 * 2);
    let parallel = 0;
    for (let a = 0; a < iv.length; a++)
      for (let b = a + 1; b < iv.length; b++) {
        const overlap = iv[a].start < iv[b].end && iv[b].start < iv[a].end;
        if (!overlap) continue;
        parallel++;
        const near = iv[a].index.every((v, i) => Math.abs(v - iv[b].index[i]) <= 1);
        expect(near, `blocks ${iv[a].index} and ${iv[b].index} ran together`).toBe(false);
      }
    // The constraint must not serialise everything: non-adjacent blocks did overlap.
    expect(parallel).toBeGreaterThan(0);
  });

  it('runs adjacent blocks together without the constraint', async () => {
    const stateDir = await tempDir();
    const dir = await tempDir();
    const log = path.join(dir, 'log');
    // Blocks [0,0,0] and [1,0,0] (dispatched first, on 2 threads) each wait until both have
    // started: they can only finish if the scheduler runs them side by side.
    const params = { log, dir, meet: [[0, 0, 0], [1, 0, 0]], atLeast: 2 };
    await runTasks([task({ fn: 'rendezvous', params, bounds: boxFromShape([24, 4, 4]) })], { stateDir, workers: 2, json: true });
    const iv = intervals(log);
    expect(iv).toHaveLength(6);
    const [a, b] = [0, 1].map((x) => iv.find((i) => i.index.join() === `${x},0,0`)!);
    expect(a.start < b.end && b.start < a.end, 'adjacent blocks 0 and 1 overlapped').toBe(true);
  });

  it('finishes a dependency before starting its dependents', async () => {
    const stateDir = await tempDir();
    const dir = await tempDir();
    const logA = path.join(dir, 'a');
    const logB = path.join(dir, 'b');
    const a = task({ name: 'a', fn: 'interval', params: { log: logA, ms: 10 }, bounds: boxFromShape([16, 8, 4]) });
    const b = task({ name: 'b', fn: 'interval', params: { log: logB, ms: 10 }, bounds: boxFromShape([16, 8, 4]), dependsOn: ['a'] });
    const r = await runTasks([b, a], { stateDir, workers: 3, json: true });
    expect(r.tasks.map((t) => t.name)).toEqual(['a', 'b']);
    const endA = intervals(logA).reduce((m, i) => (i.end > m ? i.end : m), 0n);
    const startB = intervals(logB).reduce((m, i) => (i.start < m ? i.start : m), 1n << 80n);
    expect(startB > endA).toBe(true);
  });

  it('keeps blocks in flight within the memory budget, and a volume far larger than it completes', async () => {
    const stateDir = await tempDir();
    const log = path.join(await tempDir(), 'log');
    // 64 blocks of (declared) 1 MB each: 64 MB of work under a 2.5 MB budget -> at most 2 at once.
    const t = task({ fn: 'interval', params: { log, ms: 5 }, bounds: boxFromShape([16, 16, 16]), memoryPerBlock: 1 << 20 });
    const r = await runTasks([t], { stateDir, workers: 4, memory: 2.5 * (1 << 20), json: true });
    expect(r.computed).toBe(64);
    expect(r.peakInFlight).toBe(2);
    expect(r.peakBytes).toBeLessThanOrEqual(2.5 * (1 << 20));
    expect(maxOverlap(intervals(log))).toBeLessThanOrEqual(2);
    // A block bigger than the whole budget still runs (alone).
    const r2 = await runTasks([task({ name: 'big', memoryPerBlock: 1 << 30 })], { stateDir, workers: 4, memory: 1 << 20, json: true });
    expect(r2).toMatchObject({ computed: 12, peakInFlight: 1 });
  });
});

describe('resume records', () => {
  it('start afresh when the task definition changes, and say so', async () => {
    const stateDir = await tempDir();
    await runTasks([task({ params: { salt: 1 } })], { stateDir, workers: 1, json: true });
    const same = await runTasks([task({ params: { salt: 1 } })], { stateDir, workers: 1, json: true });
    expect(same.tasks[0]).toMatchObject({ resumed: 12, restarted: false });
    const changed = await runTasks([task({ params: { salt: 2 } })], { stateDir, workers: 1, json: true });
    expect(changed.tasks[0]).toMatchObject({ resumed: 0, computed: 12, restarted: true });
    expect((await readBlockData(stateDir, 't'))[0].data).toEqual({ sum: 2, id: 864691135639556411n });
    const reshaped = await runTasks([task({ params: { salt: 2 }, blockShape: [5, 7, 5] })], { stateDir, workers: 1, json: true });
    expect(reshaped.tasks[0]).toMatchObject({ blocks: 2, computed: 2, restarted: true });
    expect(await readBlockData(stateDir, 't')).toHaveLength(2);
    // A changed dependency invalidates its dependents too.
    const a = (salt: number) => task({ name: 'a', params: { salt } });
    const b = task({ name: 'b', dependsOn: ['a'] });
    await runTasks([a(1), b], { stateDir, workers: 1, json: true });
    const r = await runTasks([a(3), b], { stateDir, workers: 1, json: true });
    expect(r.tasks.map((t) => t.restarted)).toEqual([true, true]);
  });

  it('reports a missing task', async () => {
    await expect(readBlockData(await tempDir(), 'nothing')).rejects.toThrow(/no resume records for task "nothing"/);
  });

  it('are read one at a time in block order, and a record under another block\'s name is refused', async () => {
    const stateDir = await tempDir();
    const blocks = path.join(taskDir(stateDir, 't'), 'blocks');
    await fs.mkdir(blocks, { recursive: true });
    const rec = (i: number[]) => JSON.stringify({ blockIndex: i, box: { min: [0, 0, 0], max: [1, 1, 1] }, data: i.join('_') });
    for (const i of [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]) await fs.writeFile(path.join(blocks, `${i.join('_')}.json`), rec(i));
    const order: unknown[] = [];
    for await (const r of iterateBlockData(stateDir, 't')) order.push(r.data);
    expect(order).toEqual(['0_0_0', '1_0_0', '0_1_0', '0_0_1']);
    expect((await readBlockData(stateDir, 't')).map((r) => r.data)).toEqual(order);
    await fs.writeFile(path.join(blocks, '2_0_0.json'), rec([3, 0, 0]));
    await expect(readBlockData(stateDir, 't')).rejects.toThrow(/names block \[3,0,0\] but its file name says \[2,0,0\]/);
  });
});

describe('edge cases', () => {
  it('handles empty bounds, a one-voxel volume and 2-D bounds', async () => {
    const stateDir = await tempDir();
    const r = await runTasks([task({ name: 'e', bounds: boxFromShape([0, 4, 4]) }), task({ name: 'one', bounds: boxFromShape([1, 1, 1], [5, 5, 5]) }), task({ name: 'flat', bounds: boxFromShape([9, 9, 1]) })], { stateDir, workers: 2, json: true });
    expect(r.tasks.map((t) => t.blocks)).toEqual([0, 1, 9]);
    expect(await readBlockData(stateDir, 'one')).toEqual([{ blockIndex: [0, 0, 0], box: { min: [5, 5, 5], max: [6, 6, 6] }, data: { sum: 0, id: 864691135639556411n } }]);
  });
});

describe('thread pool', () => {
  it('starts threads as blocks need them: one for a one-block task, never more than the workers', async () => {
    const { sharedPool } = await import('./pool.js');
    // a size no other test uses: a fresh shared pool
    const stateDir = await tempDir();
    const pool = await sharedPool(5, true);
    expect(pool.threads).toBe(0);
    await runTasks([task({ name: 'one', bounds: boxFromShape([4, 4, 4]) })], { stateDir, workers: 5, json: true });
    expect(await sharedPool(5, true)).toBe(pool);
    expect(pool.threads).toBe(1);
    const r = await runTasks([task({ name: 'many', bounds: boxFromShape([16, 8, 4]) })], { stateDir, workers: 5, json: true });
    expect(r.computed).toBe(8);
    expect(pool.threads).toBeGreaterThan(1);
    expect(pool.threads).toBeLessThanOrEqual(5);
  });

  it('worker threads of a run that fills the pool compile on their own thread; fewer blocks than threads, or WIRING_CONCURRENT_COMPILE=1, keep the background compiler', async () => {
    const { spawn } = await import('node:child_process');
    const { RUN_SCRIPT } = await import('./testing.js');
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
    // blocks of 4^3 on a 2-worker pool, in a child process tracing V8's optimizations
    const modes = async (env: Record<string, string>, blocks: number): Promise<string[]> => {
      const dir = await tempDir('sched-flags');
      const spec = path.join(dir, 'spec.json');
      const t = task({ fn: 'hotCalls', params: { calls: 20000 }, bounds: boxFromShape([4 * blocks, 4, 4]) });
      await fs.writeFile(spec, encodeJson({ tasks: [t], options: { stateDir: path.join(dir, 'state'), workers: 2 } }));
      const child = spawn(process.execPath, ['--trace-opt', '--import', 'tsx', RUN_SCRIPT, spec], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      expect(code).toBe(0);
      return [...out.matchAll(/compiling method \S+ <JSFunction fixtureHotSum[^\n]*ConcurrencyMode::(\w+)/g)].map((m) => m[1]);
    };
    const filled = await modes({ WIRING_CONCURRENT_COMPILE: '' }, 2);
    expect(filled.length).toBeGreaterThan(0);
    expect(new Set(filled)).toEqual(new Set(['kSynchronous']));
    // one block leaves a core free: its thread keeps compiling in the background
    expect(new Set(await modes({ WIRING_CONCURRENT_COMPILE: '' }, 1))).toEqual(new Set(['kConcurrent']));
    expect(await modes({ WIRING_CONCURRENT_COMPILE: '1' }, 2)).toContain('kConcurrent');
  }, 90000);

  it('WIRING_ONE_WORKER_THREAD=1 runs a one-worker run\'s blocks on one thread that compiles in-thread; unset, or with WIRING_CONCURRENT_COMPILE=1, they run in this thread, compiling in the background', async () => {
    const { spawn } = await import('node:child_process');
    const { RUN_SCRIPT } = await import('./testing.js');
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
    // 2 blocks of 4^3, workers 1, in a child process tracing V8's optimizations
    const run = async (env: Record<string, string>): Promise<{ mode: string; compiles: string[]; data: unknown[] }> => {
      const dir = await tempDir('sched-one-worker');
      const spec = path.join(dir, 'spec.json');
      const t = task({ fn: 'hotCalls', params: { calls: 20000 }, bounds: boxFromShape([8, 4, 4]) });
      await fs.writeFile(spec, encodeJson({ tasks: [t], options: { stateDir: path.join(dir, 'state'), workers: 1 } }));
      const child = spawn(process.execPath, ['--trace-opt', '--import', 'tsx', RUN_SCRIPT, spec], { cwd: root, env: { ...process.env, WIRING_ONE_WORKER_THREAD: '', WIRING_CONCURRENT_COMPILE: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      expect(code).toBe(0);
      const report = decodeJson(out.split('\n').find((l) => l.startsWith('{'))!) as { mode: string };
      const compiles = [...out.matchAll(/compiling method \S+ <JSFunction fixtureHotSum[^\n]*ConcurrencyMode::(\w+)/g)].map((m) => m[1]);
      return { mode: report.mode, compiles, data: (await readBlockData(path.join(dir, 'state'), 't')).map((r) => r.data) };
    };
    const thread = await run({ WIRING_ONE_WORKER_THREAD: '1' });
    expect(thread.mode).toBe('threads');
    expect(thread.compiles.length).toBeGreaterThan(0);
    expect(new Set(thread.compiles)).toEqual(new Set(['kSynchronous']));
    for (const env of [{}, { WIRING_ONE_WORKER_THREAD: '1', WIRING_CONCURRENT_COMPILE: '1' }] as Array<Record<string, string>>) {
      const here = await run(env);
      expect(here.mode).toBe('in-process');
      expect(here.compiles).toContain('kConcurrent');
      expect(here.data).toEqual(thread.data);
    }
  }, 90000);

  it('fails blocks with a clear error when its threads cannot start, instead of respawning forever', async () => {
    const { ThreadPool } = await import('./pool.js');
    const pool = new ThreadPool(2, { entry: new URL('./no-such-entry.ts', import.meta.url) });
    await expect(pool.run({ task: {} as never, index: [0, 0, 0], box: boxFromShape([1, 1, 1]), attempt: 1 })).rejects.toThrow(/worker threads fail to start/);
    await pool.close();
  });
});

describe('progress', () => {
  it('counts every block once, resumed blocks included', async () => {
    const stateDir = await tempDir();
    const events: string[] = [];
    let done = 0;
    const progress = { start: (n: number) => events.push(`start ${n}`), increment: (n = 1) => void (done += n), stop: () => events.push(`stop ${done}`) };
    await runTasks([task({ name: 'a', bounds: boxFromShape([8, 4, 4]) })], { stateDir, workers: 1, progress });
    await runTasks([task({ name: 'a', bounds: boxFromShape([8, 4, 4]) }), task({ name: 'b' })], { stateDir, workers: 2, progress: { ...progress, start: (n: number) => { done = 0; events.push(`start ${n}`); } } });
    expect(events).toEqual(['start 2', 'stop 2', 'start 14', 'stop 14']);
  });
});
