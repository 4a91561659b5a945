import { Command, CommanderError } from 'commander';
import { WiringError } from '../core/errors.js';
import { toJson } from '../core/ids.js';
import { commands } from './commands/index.js';

/** The subcommand an argv names (the first argument that is not an option), if any. */
function commandName(argv: string[]): string | undefined {
  const args = argv.slice(2);
  const first = args.find((a) => !a.startsWith('-'));
  if (first === 'help') return args[args.indexOf('help') + 1];
  return first;
}

/**
 * Build the `wiring` program. Every command registers itself from src/cli/commands/ and
 * takes --json (machine-readable stdout, no progress bar). Only the command being run is
 * loaded; the others are listed by their summary for `wiring --help`.
 */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('wiring')
    .description('From a volume-EM image stack to an annotated, queryable, browsable connectome.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  const wanted = commandName(argv);
  for (const [name, entry] of Object.entries(commands)) {
    if (name === wanted) {
      const cmd = (await entry.load()).register(program);
      if (!cmd.options.some((o) => o.long === '--json')) cmd.option('--json', 'machine-readable output on stdout');
      cmd.exitOverride();
    } else {
      program.command(name).description(entry.summary).allowUnknownOption().allowExcessArguments();
    }
  }
  return program;
}

export async function run(argv: string[]): Promise<void> {
  const program = await buildProgram(argv);
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
