import { toJson } from '../core/ids.js';

/** Options every command takes. */
export interface CommonOptions {
  json?: boolean;
}

/**
 * Print a command's result: with --json one JSON document on stdout (ids as strings),
 * otherwise the human-readable text.
 */
export function emit(opts: CommonOptions, result: unknown, human: () => string): void {
  if (opts.json) process.stdout.write(toJson(result, 2) + '\n');
  else process.stdout.write(human() + '\n');
}
