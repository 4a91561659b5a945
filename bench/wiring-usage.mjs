// Runs one `wiring` command (arguments as JSON in WIRING_ARGS) and prints the process's CPU
// time (all threads) and peak RSS on stderr, for bench/pipeline.bench.ts. A file, not `node -e`:
// worker threads inherit execArgv, and an -e script would run again in every worker.
// On Linux it also splits the CPU by thread (/proc/self/task): `main` (the CLI's own thread: its
// set-up, the scheduler, and the blocks when --workers 1), `workers` (each block worker thread,
// with --workers 1 and WIRING_ONE_WORKER_THREAD=1 the one thread that runs the blocks,
// still alive at the end, by the ids the thread pool records) and the rest (`other`: V8's
// compiler and garbage-collector helper threads, libuv's file-system threads, DuckDB's threads).
import { readFileSync, readdirSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
const { run } = await import(main.href);
await run(['node', 'wiring', ...JSON.parse(process.env.WIRING_ARGS)]);
const u = process.resourceUsage();
const cpu = (u.userCPUTime + u.systemCPUTime) / 1e6;

/** CPU seconds of one thread of this process, or undefined (not Linux, or the thread has ended). */
function threadCpu(tid) {
  try {
    const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return undefined;
  }
}
/**
 * CPU seconds of the other live threads by thread name (/proc/self/task/<tid>/comm: V8's
 * "V8 DefaultWorke" compiler and GC helpers, libuv's "libuv-worker", DuckDB's threads); threads
 * that ended before now are not listed (their CPU is still in `other`).
 */
function otherByName(skip) {
  const out = {};
  let tids = [];
  try {
    tids = readdirSync('/proc/self/task').map(Number);
  } catch {
    return undefined;
  }
  for (const tid of tids) {
    if (skip.has(tid)) continue;
    const c = threadCpu(tid);
    if (!c) continue;
    let name = '?';
    try {
      name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    } catch {}
    if (process.env.WIRING_USAGE_TIDS) name += `:${tid}`;
    out[name] = +((out[name] ?? 0) + c).toFixed(2);
  }
  return out;
}
let threads;
const mainCpu = threadCpu(process.pid);
if (mainCpu !== undefined) {
  const { poolThreadIds } = await import(new URL('../dist/scheduler/pool.js', import.meta.url).href);
  const workers = poolThreadIds().map(threadCpu).filter((c) => c !== undefined);
  threads = { main: mainCpu, workers, other: Math.max(0, cpu - mainCpu - workers.reduce((a, b) => a + b, 0)), other_by_name: otherByName(new Set([process.pid, ...poolThreadIds()])) };
}
process.stderr.write('\n@@usage ' + JSON.stringify({ cpu, rss: u.maxRSS / 1024, code: process.exitCode ?? 0, threads }) + '\n');
