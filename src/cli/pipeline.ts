import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WiringError } from '../core/errors.js';

/**
 * A pipeline is a list of `wiring` commands run one after another, each in its own process
 * with --json, so every stage stays the same command a user can run by hand (and resume by
 * hand) and a failing stage names itself. A step may instead be a function run in this process
 * when it only combines earlier results (the demo's choice of a threshold on its validation
 * volume). Used by `wiring demo` and `wiring run`.
 */
export interface PipelineStep {
  /** Short name shown in progress lines and used as the key of the results. */
  name: string;
  /** What this step does, for the progress line. */
  title: string;
  /** Arguments after `wiring` (--json is added)... */
  args?: string[] | ((results: Record<string, any>) => string[]);
  /** ...or, for a step that only combines earlier results (e.g. picks a parameter), a function run in this process. */
  run?: (results: Record<string, any>) => Promise<unknown>;
}

const BIN = fileURLToPath(new URL('../../bin/wiring.js', import.meta.url));

/**
 * Node options of the `wiring` processes a chain starts (`run`, `demo`, the browser's whole-volume
 * runs): V8's `--no-concurrent-recompilation`, so each step's own isolate compiles its hot functions
 * in the thread that runs them instead of on V8's background threads. V8 reads the flag only when an
 * isolate starts (a running process cannot give it to its own main isolate), and a chain starts a
 * process per step anyway. The sum of the 1-worker stages' CPU fell 5-9 % with it on the phantoms of
 * seeds 7 (chosen) and 19 and on gala-medulla (held out), outputs identical; `wiring run` end to end on
 * seed 19 was a tie (0.99) (docs/THROUGHPUT.md, "One worker without V8's background compiler").
 * WIRING_CONCURRENT_COMPILE=1: none (V8's default).
 */
export function stepNodeArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.WIRING_CONCURRENT_COMPILE === '1' ? [] : ['--no-concurrent-recompilation'];
}

/** Run one `wiring` command with --json and return its parsed output (stderr passes through on failure). */
export function runWiring(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    const env = opts.env ?? process.env;
    const child = spawn(process.execPath, [...stepNodeArgs(env), BIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== 0) {
        const detail = stderr.trim().split('\n').filter((l) => !/^HDF5-DIAG|^\s+#\d+/.test(l)).slice(-8).join('\n');
        reject(new WiringError(`\`wiring ${args.join(' ')}\` failed (exit ${code}):\n${detail}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new WiringError(`\`wiring ${args.join(' ')}\` printed no JSON result`));
      }
    });
  });
}

/** Run the steps in order; progress lines go to stderr unless `quiet`. Returns results by step name. */
export async function runPipeline(steps: PipelineStep[], opts: { quiet?: boolean } = {}): Promise<{ results: Record<string, any>; seconds: Record<string, number> }> {
  const results: Record<string, any> = {};
  const seconds: Record<string, number> = {};
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(s);
  };
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (!step.args === !step.run) throw new WiringError(`pipeline step ${step.name}: give exactly one of args or run`);
    const args = typeof step.args === 'function' ? step.args(results) : step.args;
    log(`[${i + 1}/${steps.length}] ${step.title} ...`);
    const t0 = Date.now();
    const tick = opts.quiet || !process.stderr.isTTY ? undefined : setInterval(() => log('.'), 5000);
    try {
      results[step.name] = step.run ? await step.run(results) : await runWiring(args!);
    } finally {
      if (tick) clearInterval(tick);
    }
    seconds[step.name] = (Date.now() - t0) / 1000;
    log(` ${seconds[step.name].toFixed(1)} s\n`);
  }
  return { results, seconds };
}
