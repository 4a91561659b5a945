// The block scheduler: see docs/ARCHITECTURE.md and types.ts.
export type {
  BlockContext,
  BlockFunction,
  BlockResult,
  BlockTask,
  FailedBlock,
  RunOptions,
  RunReport,
  TaskReport,
} from './types.js';
export { runTasks, SchedulerError, orderTasks } from './run.js';
export { readBlockData } from './state.js';
export { decodeJson, encodeJson } from './codec.js';
