import * as os from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { toJson } from '../../core/ids.js';
import { startWorker } from '../../scheduler/redis.js';

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
    .action(async (opts) => {
      const concurrency = count(opts.concurrency, '--concurrency', 1) ?? os.availableParallelism();
      const lockDuration = count(opts.lockDuration, '--lock-duration', 100);
      if (!/^redis:\/\//.test(opts.redis)) throw new UsageError(`--redis: expected redis://HOST:PORT, got ${JSON.stringify(opts.redis)}`);
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
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await w.close();
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
