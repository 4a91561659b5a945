/**
 * Runs `wiring` commands inside the test process (no child process, no build needed): registers
 * the given command modules on a fresh commander program and returns what they wrote to stdout.
 */
import { Command } from 'commander';

type Register = (program: Command) => Command;

export async function runInProcess(registers: Register[], args: string[]): Promise<string> {
  const program = new Command('wiring').exitOverride();
  for (const r of registers) r(program).exitOverride();
  let out = '';
  const stdout = process.stdout as unknown as { write: (s: string) => boolean };
  const write = stdout.write;
  stdout.write = (s: string) => ((out += s), true);
  try {
    await program.parseAsync(['node', 'wiring', ...args]);
  } finally {
    stdout.write = write;
  }
  return out;
}

/**
 * Runs one `wiring` command in process as the real program does (lazy command loading included)
 * with --json, and returns its parsed JSON output.
 */
export async function wiringJsonInProcess(...args: string[]): Promise<any> {
  const { buildProgram } = await import('../src/cli/main.js');
  const chunks: string[] = [];
  const stdout = process.stdout as unknown as { write: (s: string | Uint8Array) => boolean };
  const write = stdout.write;
  stdout.write = (c: string | Uint8Array) => (chunks.push(String(c)), true);
  try {
    const argv = ['node', 'wiring', ...args, '--json'];
    await (await buildProgram(argv)).parseAsync(argv);
  } finally {
    stdout.write = write;
  }
  return JSON.parse(chunks.join(''));
}

/**
 * Runs `wiring <args>` in process through the CLI's own entry (`run` of src/cli/main.ts, errors
 * reported as the program reports them): `out` is stdout and stderr interleaved, `stdout` stdout
 * alone, `code` the exit code the program set (undefined: success).
 */
export async function wiringCaptured(args: string[]): Promise<{ out: string; stdout: string; code: number | undefined }> {
  const { run } = await import('../src/cli/main.js');
  const chunks: string[] = [];
  const stdout: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string) => (chunks.push(String(c)), stdout.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => (chunks.push(String(c)), true)) as typeof process.stderr.write;
  process.exitCode = undefined;
  try {
    await run(['node', 'wiring', ...args]);
  } finally {
    process.stdout.write = orig;
    process.stderr.write = origErr;
  }
  const code = process.exitCode as number | undefined;
  process.exitCode = undefined;
  return { out: chunks.join(''), stdout: stdout.join(''), code };
}
