// Worker-thread entry: runs blocks sent by the pool (see pool.ts) and posts back their data, encoded (codec.ts).
import { readlinkSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { encodeJson } from './codec.js';
import { executeBlock, releaseRuntimes } from './execute.js';
import type { BlockJob } from './types.js';

if (!parentPort) throw new Error('thread-entry must run in a worker thread');
const port = parentPort;
port.on('message', async (msg: { id: number; job: BlockJob; reset?: boolean }) => {
  if (msg.reset) {
    await releaseRuntimes();
    return;
  }
  try {
    // encoded here, in parallel with the other threads (the run writes the text as it is)
    const data = await executeBlock(msg.job);
    port.postMessage({ id: msg.id, ok: true, text: data === undefined ? undefined : encodeJson(data) });
  } catch (err) {
    const e = err as Error;
    port.postMessage({ id: msg.id, ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), stack: e?.stack } });
  }
});
/** This thread's Linux thread id ("<pid>/task/<tid>"), for per-thread CPU accounting; undefined elsewhere. */
function threadId(): number | undefined {
  try {
    const m = /task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
port.postMessage({ ready: true, tid: threadId() });
