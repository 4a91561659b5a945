import { Command, CommanderError } from 'commander';
import { UsageError, WiringError } from '../core/errors.js';
import { toJson } from '../core/ids.js';
import { commands } from './commands/index.js';
import { EXIT } from './exit.js';

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
    // The program's version is `wiring --version` / `wiring -V` before any command only:
    // positional options leave a command's own `--version <n>` (a data version) to the command.
    .version('0.1.0', '-V, --version', 'print the program version')
    .enablePositionalOptions()
    .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') })
    .showHelpAfterError(`(run 'wiring ${commandName(argv) ?? ''} --help' for usage)`.replace('  ', ' '))
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

export { EXIT };

/** Exit quietly when the reader of stdout goes away (EPIPE), as Unix tools do. */
function quietOnClosedStdout(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listeners('error').some((l) => (l as { wiringEpipe?: boolean }).wiringEpipe)) continue;
    const onError = Object.assign((err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(EXIT.ok);
      throw err;
    }, { wiringEpipe: true });
    stream.on('error', onError);
  }
}

export async function run(argv: string[]): Promise<void> {
  quietOnClosedStdout();
  const program = await buildProgram(argv);
  const wantsJson = argv.includes('--json');
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    if (wantsJson) process.stdout.write(toJson({ error: message, type: (err as Error)?.name ?? 'Error' }) + '\n');
    process.stderr.write(`wiring: ${message}\n`);
    if (err instanceof UsageError) process.stderr.write(`(run 'wiring ${commandName(argv) ?? ''} --help' for usage)\n`.replace('  ', ' '));
    if (!(err instanceof WiringError) && process.env.WIRING_DEBUG) console.error(err);
    process.exitCode = err instanceof WiringError ? EXIT.usage : EXIT.internal;
  }
}
