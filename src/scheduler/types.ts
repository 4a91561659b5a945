import type { Box, Vec3 } from '../core/box.js';
import type { Progress } from '../core/progress.js';
import type { Volume } from '../core/volume.js';

/** What a block function receives. */
export interface BlockContext<P> {
  /** The block: the region this call computes (output voxel grid). */
  box: Box;
  /** `box` grown by the task's margin, clipped to the inputs' bounds (the task bounds when there are no inputs). */
  readBox: Box;
  /** Each input volume covers exactly `readBox`. */
  inputs: Record<string, Volume>;
  params: P;
  /** Grid position of the block in the task's block grid, [x, y, z]. */
  blockIndex: Vec3;
}

/** What a block function returns. */
export interface BlockResult {
  /** One volume per task output, each covering exactly ctx.box. */
  volumes?: Record<string, Volume>;
  /** JSON-able data kept in the resume records (bigints allowed, kept exact); read back with readBlockData. */
  data?: unknown;
}

export type BlockFunction<P = any> = (ctx: BlockContext<P>) => BlockResult | Promise<BlockResult>;

export interface BlockTask<P = any> {
  /** Unique within a run; names the resume records. */
  name: string;
  /** import.meta.url of the module exporting the block function (.ts in tests, .js when built). */
  module: string;
  /** Export name of the BlockFunction. */
  fn: string;
  /** JSON-able (bigints allowed). */
  params: P;
  /** Input name -> source spec for openSource. */
  inputs?: Record<string, string>;
  /** Output name -> existing precomputed layer folder (and scale, default 0). */
  outputs?: Record<string, { layer: string; scale?: number }>;
  /** Region to compute, in the outputs' voxel grid. */
  bounds: Box;
  /** Multiple of the outputs' chunk size (shard size when sharded). */
  blockShape: Vec3;
  /** Context read around each block. */
  margin?: Vec3;
  /** Never run two adjacent blocks (26-neighbourhood) at the same time. */
  exclusiveNeighbours?: boolean;
  /** Names of tasks (in the same run) whose blocks must all be finished before this one starts. */
  dependsOn?: string[];
  /**
   * Extra (scheduler-specific): estimated bytes one block needs, for the memory budget, when
   * the block function reads more than its declared inputs (default: inputs over readBox + outputs over box).
   */
  memoryPerBlock?: number;
}

export interface RunOptions {
  /** Worker threads (default os.availableParallelism()); with `redis`, the most blocks queued at once (default 256). */
  workers?: number;
  /** Bytes budget for blocks in flight (default half the machine's memory). A block larger than the budget runs alone. */
  memory?: number;
  /** redis://HOST:PORT: hand blocks to `wiring worker` processes through BullMQ instead of local threads. */
  redis?: string;
  /** Extra attempts for a failing block (default 2). */
  retries?: number;
  /** Resume records live here. */
  stateDir: string;
  json?: boolean;
  progress?: Progress;
  /** Extra (scheduler-specific): BullMQ queue name (default 'wiring-blocks'); workers must use the same one. */
  queue?: string;
}

export interface FailedBlock {
  task: string;
  blockIndex: Vec3;
  box: Box;
  attempts: number;
  error: string;
}

export interface TaskReport {
  name: string;
  blocks: number;
  /** Blocks computed in this run. */
  computed: number;
  /** Blocks skipped because a previous run had finished them. */
  resumed: number;
  failed: number;
  /** Blocks retried at least once in this run. */
  retried: number;
  /** True when older resume records were discarded because the task definition changed. */
  restarted: boolean;
  /** 'done', 'failed' (some blocks failed for good) or 'blocked' (a dependency failed). */
  status: 'done' | 'failed' | 'blocked';
  seconds: number;
}

export interface RunReport {
  mode: 'in-process' | 'threads' | 'redis';
  workers: number;
  blocks: number;
  computed: number;
  resumed: number;
  failed: FailedBlock[];
  tasks: TaskReport[];
  seconds: number;
  /** The most blocks that were in flight at once, and their estimated bytes at that moment. */
  peakInFlight: number;
  peakBytes: number;
  /** With redis: block jobs enqueued again because they vanished from Redis (restarted without persistence). */
  requeued: number;
  /** With redis: block jobs left in Redis by an earlier, killed run on the same records and taken over. */
  reattached: number;
}

/** A block as sent to an executor (structured-clone and JSON safe apart from bigints in params). */
export interface BlockJob {
  task: TaskSpec;
  index: Vec3;
  box: Box;
  attempt: number;
}

/** The part of a task a worker needs to run one of its blocks. */
export interface TaskSpec {
  name: string;
  module: string;
  fn: string;
  params: unknown;
  inputs: Record<string, string>;
  outputs: Record<string, { layer: string; scale: number }>;
  bounds: Box;
  margin: Vec3;
  fingerprint: string;
  /** Random id of this task's resume records (names its BullMQ jobs). */
  nonce: string;
}
