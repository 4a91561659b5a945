/**
 * The block scheduler. Every compute stage is a pure function of one block plus a context margin;
 * `runTasks` owns the loop over the volume.
 *
 * - Blocks: a task's `bounds` cut by `blockShape` from bounds.min (edge blocks clipped). Each
 *   block's inputs are read (openSource) over the block grown by `margin`, clipped to the
 *   intersection of the inputs' bounds (the task bounds when there are no inputs) — that box is
 *   `ctx.readBox`. The returned volumes (exactly `ctx.box`) are written with
 *   PrecomputedLayer.writeBox, so `blockShape` must be a multiple of each output's chunk size
 *   and `bounds` must start and end on chunk boundaries (or at the layer's end).
 * - Where blocks run: `workers: 1` in this thread (with WIRING_ONE_WORKER_THREAD=1 on one worker
 *   thread that compiles in-thread: `oneWorkerOnThread`, pool.ts); otherwise worker threads
 *   (default os.availableParallelism()); with `redis`, `wiring worker` processes via BullMQ. The worker
 *   that runs a block also reads its inputs and writes its outputs (all threads/machines see the
 *   same paths), so no volume is ever copied between threads or processes: only the small `data`
 *   result travels back. Block modules in TypeScript (.ts: tests, `npm run bench`) load in
 *   worker threads through tsx's register API (Node 20 ignores `--import tsx` in worker execArgv).
 * - Resume: after a block's outputs are written, its record (`data`, bigints exact) is written
 *   atomically to stateDir/<task>/blocks/I_J_K.json; a rerun skips recorded blocks. Each task
 *   stores a fingerprint of its definition (module, fn, params, inputs, outputs, bounds,
 *   blockShape, margin, and its dependencies' fingerprints): when it differs, the old records are
 *   deleted and the task starts afresh (TaskReport.restarted says so; output voxels the new
 *   definition does not cover are left as they were). The fingerprint covers the definition, not
 *   the input files' contents: after changing an input in place, use a fresh stateDir. One run
 *   at a time per stateDir.
 * - Redis: the run enqueues one BullMQ job per block attempt and polls them; jobs that vanish
 *   (Redis restarted without persistence) are enqueued again; a worker killed mid-block loses its
 *   job lock and another worker redoes the block. Job ids derive from a random nonce kept with the
 *   resume records, so a rerun after the run itself was killed takes over the jobs it had queued
 *   (RunReport.reattached) rather than queueing those blocks twice.
 * - A killed writer may leave `*.tmp-*` files beside chunk files (readers ignore them); stale
 *   temporary resume records are removed when the run resumes.
 * - Failures: a failing block is retried up to `retries` times (default 2); blocks that still fail
 *   are listed in the SchedulerError (a WiringError) the run rejects with, with their errors;
 *   tasks depending on a failed task do not start.
 * - Constraints: `dependsOn` (a task starts when its dependencies are complete),
 *   `exclusiveNeighbours` (no two blocks of the task that touch, 26-neighbourhood, run at once),
 *   `memory` (estimated bytes of blocks in flight — inputs over readBox + outputs over box, or
 *   task.memoryPerBlock — stay within the budget; a block larger than the budget runs alone).
 */
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
export { absoluteSpec, runTasks, SchedulerError, orderTasks } from './run.js';
export { iterateBlockData, readBlockData } from './state.js';
export { decodeJson, encodeJson } from './codec.js';
