// The `wiring` command run from source (no build needed), for tests that spawn it as a process:
//   node --import tsx test/wiring-cli.ts <args...>
import { run } from '../src/cli/main.js';

await run(process.argv);
