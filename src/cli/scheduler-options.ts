import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import type { RunOptions } from '../scheduler/index.js';

/** Add the scheduler's options to a stage command: --workers, --memory, --redis, --retries. */
export function addSchedulerOptions(cmd: Command): Command {
  return cmd
    .option('--workers <n>', 'worker threads (default: all cores); with --redis, the most blocks queued at once')
    .option('--memory <size>', 'memory budget for blocks in flight, e.g. 512M, 2G (default: half the RAM)')
    .option('--redis <url>', 'run the blocks on `wiring worker` processes through Redis (redis://HOST:PORT)')
    .option('--retries <n>', 'extra attempts for a failing block (default 2)');
}

/** Parse a size: a number of bytes, or with K, M, G, T (binary: 1K = 1024 bytes; KB/KiB accepted too). */
export function parseSize(text: string, what = '--memory'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`${what}: expected a size like 512M or 2G, got ${JSON.stringify(text)}`);
  const unit = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(m[1]) * 1024 ** unit);
  if (!(bytes > 0)) throw new UsageError(`${what}: the size must be positive, got ${JSON.stringify(text)}`);
  return bytes;
}

function parseCount(text: unknown, what: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || !/^\s*\d+\s*$/.test(String(text))) {
    throw new UsageError(`${what}: expected a whole number >= ${min}, got ${JSON.stringify(String(text))}`);
  }
  return n;
}

/** RunOptions from the parsed options of a command that called addSchedulerOptions. */
export function schedulerOptions(
  opts: { workers?: string; memory?: string; redis?: string; retries?: string; json?: boolean },
  stateDir: string,
): RunOptions {
  const out: RunOptions = { stateDir, json: !!opts.json };
  const workers = parseCount(opts.workers, '--workers', 1);
  if (workers !== undefined) out.workers = workers;
  if (opts.memory !== undefined) out.memory = parseSize(opts.memory);
  if (opts.redis !== undefined) {
    if (!/^redis:\/\/[^\s/]+/.test(opts.redis)) throw new UsageError(`--redis: expected redis://HOST:PORT, got ${JSON.stringify(opts.redis)}`);
    out.redis = opts.redis;
  }
  const retries = parseCount(opts.retries, '--retries', 0);
  if (retries !== undefined) out.retries = retries;
  return out;
}
