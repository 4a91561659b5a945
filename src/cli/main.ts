import { Command, CommanderError } from 'commander';
import { WiringError } from '../core/errors.js';
import { toJson } from '../core/ids.js';
import { commands } from './commands/index.js';

/**
 * Build the `wiring` program. Every command registers itself from src/cli/commands/ and
 * takes --json (machine-readable stdout, no progress bar).
 */
export function buildProgram(): Command {
  const program = new Command('wiring')
    .description('From a volume-EM image stack to an annotated, queryable, browsable connectome.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const register of commands) {
    const cmd = register(program);
    if (!cmd.options.some((o) => o.long === '--json')) cmd.option('--json', 'machine-readable output on stdout');
    cmd.exitOverride();
  }
  return program;
}

export async function run(argv: string[]): Promise<void> {
  const program = buildProgram();
  const wantsJson = argv.includes('--json');
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    if (wantsJson) process.stdout.write(toJson({ error: message, type: (err as Error)?.name ?? 'Error' }) + '\n');
    process.stderr.write(`wiring: ${message}\n`);
    if (!(err instanceof WiringError) && process.env.WIRING_DEBUG) console.error(err);
    process.exitCode = err instanceof WiringError ? 2 : 1;
  }
}
