// Runs one `wiring` command (arguments as JSON in WIRING_ARGS) and prints the process's CPU
// time (all threads) and peak RSS on stderr, for bench/pipeline.bench.ts. A file, not `node -e`:
// worker threads inherit execArgv, and an -e script would run again in every worker.
const main = new URL('../dist/cli/main.js', import.meta.url);
const { run } = await import(main.href);
await run(['node', 'wiring', ...JSON.parse(process.env.WIRING_ARGS)]);
const u = process.resourceUsage();
process.stderr.write('\n@@usage ' + JSON.stringify({ cpu: (u.userCPUTime + u.systemCPUTime) / 1e6, rss: u.maxRSS / 1024, code: process.exitCode ?? 0 }) + '\n');
