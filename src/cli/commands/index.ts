import type { Command } from 'commander';

/** Each command module exports a `register(program)` that adds its subcommand and returns it. */
export type RegisterCommand = (program: Command) => Command;

// One line per command; keep alphabetical.
export const commands: RegisterCommand[] = [];
