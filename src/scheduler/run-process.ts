// Runs runTasks in a child process (used by the kill -9 tests): argv[2] is a JSON document
// {tasks, options} written with encodeJson. Prints the report as one JSON line.
import { readFileSync } from 'node:fs';
import { decodeJson, encodeJson } from './codec.js';
import { runTasks } from './run.js';
import type { BlockTask, RunOptions } from './types.js';

const { tasks, options } = decodeJson(readFileSync(process.argv[2], 'utf8')) as { tasks: BlockTask[]; options: RunOptions };
try {
  const report = await runTasks(tasks, { ...options, json: true });
  process.stdout.write(encodeJson(report) + '\n');
  process.exit(0);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
