import * as os from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { toJson } from '../../core/ids.js';
import { startWorker } from '../../scheduler/redis.js';
import { EXIT } from '../exit.js';

/** Defaults of `wiring worker` (read by its help). */
export const WORKER_DEFAULTS = { redisTimeoutS: 60 } as const;

function seconds(text: unknown, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (String(text).trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${what}: expected a number of seconds > 0, got ${JSON.stringify(String(text))}`);
  return n;
}

function count(text: unknown, what: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(String(text)) || Number(text) < min) {
    throw new UsageError(`${what}: expected a whole number >= ${min}, got ${JSON.stringify(String(text))}`);
  }
  return Number(text);
}

export function register(program: Command): Command {
  return program
    .command('worker')
    .description('join runs started with --redis: take blocks from the Redis queue and compute them until stopped (Ctrl-C); every machine must see the runs\' files at the same paths')
    .requiredOption('--redis <url>', 'the Redis the runs use (redis://HOST:PORT)')
    .option('--concurrency <n>', 'blocks at once, each on its own thread (default: all cores)')
    .option('--queue <name>', 'queue name (default wiring-blocks)')
    .option('--lock-duration <ms>', 'a block whose worker vanished is handed to another worker after this long (default 30000)')
    .option('--json', 'one JSON line per block on stdout')
    .option('--redis-timeout <s>', `exit (code 2) when Redis stays unreachable this many seconds (default ${WORKER_DEFAULTS.redisTimeoutS})`)
    .option('--stop-timeout <s>', 'on SIGTERM/SIGINT, wait at most this many seconds for the blocks in progress before exiting (default: the lock duration; an unfinished block goes to another worker when its lock expires)')
    .action(async (opts) => {
      const concurrency = count(opts.concurrency, '--concurrency', 1) ?? os.availableParallelism();
      const lockDuration = count(opts.lockDuration, '--lock-duration', 100);
      const redisTimeoutMs = 1000 * (seconds(opts.redisTimeout, '--redis-timeout') ?? WORKER_DEFAULTS.redisTimeoutS);
      const stopMs = 1000 * (seconds(opts.stopTimeout, '--stop-timeout') ?? (lockDuration ?? 30_000) / 1000);
      if (!/^redis:\/\//.test(opts.redis)) throw new UsageError(`--redis: expected redis://HOST:PORT, got ${JSON.stringify(opts.redis)}`);
      // Signals are caught from the start (a signal during start-up is answered once ready).
      const signalled = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      const w = await startWorker(opts.redis, {
        concurrency,
        queue: opts.queue,
        lockDuration,
        onBlock: (e) => {
          if (opts.json) process.stdout.write(toJson(e) + '\n');
          else if (!e.ok) process.stderr.write(`wiring worker: ${e.task} block [${e.index}] failed: ${e.error}\n`);
        },
      });
      if (!opts.json) process.stderr.write(`wiring worker: ${concurrency} thread(s) on ${opts.redis} (queue ${opts.queue ?? 'wiring-blocks'}); Ctrl-C to stop\n`);
      else process.stdout.write(toJson({ ready: true, pid: process.pid, concurrency }) + '\n');
      const say = (m: string) => process.stderr.write(`wiring worker: ${m}\n`);

      // Until a signal, or Redis unreachable for redisTimeoutMs (checked by PING every `every` ms).
      const every = Math.max(50, Math.min(5000, Math.floor(redisTimeoutMs / 4)));
      let reachable = true;
      let probe: NodeJS.Timeout | undefined;
      const why = await new Promise<{ signal: string } | { lost: true }>((resolve) => {
        void signalled.then((signal) => resolve({ signal }));
        let lastOk = Date.now();
        let busy = false;
        probe = setInterval(() => {
          if (busy) return;
          busy = true;
          let timer: NodeJS.Timeout | undefined;
          void Promise.race([w.ping().then(() => true, () => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), every)))]).then((ok) => {
            clearTimeout(timer);
            busy = false;
            reachable = ok;
            if (ok) lastOk = Date.now();
            else if (Date.now() - lastOk >= redisTimeoutMs) resolve({ lost: true });
          });
        }, every);
      });
      clearInterval(probe);
      if ('lost' in why) {
        say(`Redis at ${opts.redis} has been unreachable for ${redisTimeoutMs / 1000} s; exiting (blocks in progress go to other workers when their lock expires)`);
        process.exit(EXIT.usage);
      }
      // A second signal ends at once.
      const now = (signal: string) => {
        say(`${signal} again: exiting without waiting for the blocks in progress`);
        process.exit(EXIT.ok);
      };
      process.once('SIGINT', now);
      process.once('SIGTERM', now);
      if (!reachable) {
        say(`${why.signal}: Redis at ${opts.redis} is unreachable, so blocks in progress cannot be reported; exiting (they go to other workers when their lock expires)`);
        process.exit(EXIT.ok);
      }
      say(`${why.signal}: finishing the blocks in progress (at most ${stopMs / 1000} s; a second signal exits at once)`);
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([w.close().then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), stopMs)))]);
      clearTimeout(timer);
      if (!finished) say(`blocks in progress did not finish in ${stopMs / 1000} s; exiting (they go to other workers when their lock expires)`);
      process.exit(EXIT.ok);
    });
}

// Run directly (`node [--import tsx] src/cli/commands/worker.ts --redis URL ...`): only this
// command, without loading every other command (the scheduler's tests start workers this way).
if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  const { Command } = await import('commander');
  const program = new Command('wiring').exitOverride();
  register(program);
  try {
    await program.parseAsync([process.argv[0], 'wiring', 'worker', ...process.argv.slice(2)]);
  } catch (err) {
    process.stderr.write(`wiring worker: ${(err as Error).message}\n`);
    process.exitCode = 2;
  }
}
