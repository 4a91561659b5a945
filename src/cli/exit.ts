/**
 * Exit codes of every `wiring` command (README, Conventions): 0 success (and --help, --version);
 * 2 a usage or input error, one line on stderr (parser errors add a hint to --help); 1 an internal
 * error (WIRING_DEBUG=1 prints its stack). A closed stdout (`| head -1`) ends quietly with 0.
 */
export const EXIT = { ok: 0, internal: 1, usage: 2 } as const;
