// Scheduler benchmark: (1) overhead per block with a trivial block function (in-process and on
// 2 threads, against calling the function directly), (2) speed-up from 1 to 2 worker threads on a
// compute-bound stage (a 3x3x3 box filter repeated `rounds` times, precomputed output), with
// the two outputs checked byte for byte.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Vec3 } from '../src/core/box.js';
import { boxFromShape } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { writeNpy } from '../src/formats/npy.js';
import { PrecomputedLayer, makeInfo } from '../src/formats/precomputed/index.js';
import { trivial } from '../src/scheduler/fixtures.js';
import { type BlockTask, runTasks } from '../src/scheduler/index.js';
import { writeBlockRecord } from '../src/scheduler/state.js';

const FIX = new URL('../src/scheduler/fixtures.ts', import.meta.url).href;

async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(path.relative(dir, p), await fs.readFile(p));
    }
  };
  await walk(dir);
  return out;
}

export default async function bench() {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wiring-bench-sched-'));
  // (1) Overhead: 600 one-voxel blocks that return a little data.
  const n: Vec3 = [30, 5, 4];
  const blocks = n[0] * n[1] * n[2];
  // What a durable resume record costs on its own (atomic write + fsync).
  let t0 = performance.now();
  for (let i = 0; i < 100; i++) await writeBlockRecord(path.join(tmp, 'rec'), 'r', { blockIndex: [i, 0, 0], box: boxFromShape([1, 1, 1]), data: { i } });
  const recordMs = (performance.now() - t0) / 100;
  const t: BlockTask = { name: 'trivial', module: FIX, fn: 'trivial', params: { salt: 1 }, bounds: boxFromShape(n), blockShape: [1, 1, 1] };
  t0 = performance.now();
  for (let i = 0; i < blocks; i++) trivial({ box: boxFromShape([1, 1, 1]), readBox: boxFromShape([1, 1, 1]), inputs: {}, params: { salt: 1 }, blockIndex: [i, 0, 0] });
  const directMs = (performance.now() - t0) / blocks;
  t0 = performance.now();
  await runTasks([t], { stateDir: path.join(tmp, 'o1'), workers: 1, json: true });
  const inProcessMs = (performance.now() - t0) / blocks;
  t0 = performance.now();
  await runTasks([t], { stateDir: path.join(tmp, 'o2'), workers: 2, json: true });
  const threadsMs = (performance.now() - t0) / blocks;
  t0 = performance.now();
  const resumed = await runTasks([t], { stateDir: path.join(tmp, 'o2'), workers: 2, json: true });
  const resumeMs = (performance.now() - t0) / blocks;
  if (resumed.resumed !== blocks) throw new Error('resume did not skip every block');
  console.log(`overhead per block: direct call ${directMs.toFixed(4)} ms, in-process ${inProcessMs.toFixed(3)} ms, 2 threads ${threadsMs.toFixed(3)} ms (incl. thread start), resume skip ${resumeMs.toFixed(3)} ms (${blocks} blocks); of which the atomic fsynced resume record ${recordMs.toFixed(3)} ms`);

  // (2) Speed-up on a compute-bound stage.
  const shape: Vec3 = [64, 64, 32];
  const input = Volume.zeros('uint16', shape);
  let s = 12345;
  for (let i = 0; i < input.data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    input.data[i] = s >>> 20;
  }
  const inFile = path.join(tmp, 'in.npy');
  await writeNpy(inFile, input);
  const rounds = 120;
  const wall: Record<number, number> = {};
  const cores: Record<number, number> = {};
  // Warm up: load the block module and every format reader in this thread and in the 2 pool
  // threads (h5wasm alone takes seconds), so the timings below are block work, not start-up.
  for (const workers of [1, 2]) {
    const layer = path.join(tmp, `warm-${workers}`);
    await PrecomputedLayer.create(layer, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize: [4, 4, 40], chunkSize: [16, 16, 16] }));
    await runTasks([{ name: 'warm', module: FIX, fn: 'boxFilter', params: { rounds: 1 }, inputs: { in: inFile }, outputs: { out: { layer } }, bounds: boxFromShape([32, 32, 32]), blockShape: [16, 16, 16], margin: [1, 1, 1] }], { stateDir: path.join(tmp, `warm-s-${workers}`), workers, json: true });
  }
  const outs: Record<number, Map<string, Buffer>> = {};
  for (const workers of [1, 2]) {
    const layer = path.join(tmp, `out-${workers}`);
    await PrecomputedLayer.create(layer, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize: [4, 4, 40], chunkSize: [16, 16, 16] }));
    const task: BlockTask = {
      name: 'filter', module: FIX, fn: 'boxFilter', params: { rounds }, inputs: { in: inFile }, outputs: { out: { layer } },
      bounds: boxFromShape(shape), blockShape: [32, 32, 16], margin: [1, 1, 1],
    };
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await runTasks([task], { stateDir: path.join(tmp, `s-${workers}`), workers, json: true });
    wall[workers] = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    // CPU seconds of all our threads per wall-clock second: how many cores the run really got.
    cores[workers] = (cpu.user + cpu.system) / 1e6 / wall[workers];
    outs[workers] = await files(layer);
  }
  // Were the 2 threads really computing at the same time? 4 CPU-bound blocks on 2 threads:
  // the fraction of their summed run time during which another block also ran.
  const log = path.join(tmp, 'burn.log');
  await runTasks([{ name: 'burn', module: FIX, fn: 'burn', params: { iterations: 1e8, log }, bounds: boxFromShape([4, 1, 1]), blockShape: [1, 1, 1] }], { stateDir: path.join(tmp, 'burn'), workers: 2, json: true });
  const iv = (await fs.readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { start: string; end: string }).map((i) => [Number(BigInt(i.start)) / 1e6, Number(BigInt(i.end)) / 1e6]);
  let overlapped = 0;
  let total = 0;
  for (const [a0, a1] of iv) {
    total += a1 - a0;
    for (const [b0, b1] of iv) if (b0 !== a0 || b1 !== a1) overlapped += Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
  }
  const concurrency = overlapped / total;
  console.log(`2 threads, 4 CPU-bound blocks: ${(100 * concurrency).toFixed(0)}% of block time overlapped another block`);
  const same = [...outs[1].keys()].length === [...outs[2].keys()].length && [...outs[1]].every(([k, v]) => outs[2].get(k)?.equals(v));
  if (!same) throw new Error('1-worker and 2-worker outputs differ');
  const speedup = wall[1] / wall[2];
  console.log(`box filter x${rounds} on ${shape} (8 blocks of 32x32x16, modules preloaded): 1 worker ${wall[1].toFixed(2)} s, 2 workers ${wall[2].toFixed(2)} s, speed-up ${speedup.toFixed(2)}x, outputs identical; cores used ${cores[1].toFixed(2)} vs ${cores[2].toFixed(2)}; load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores`);
  await fs.rm(tmp, { recursive: true, force: true });
  return { blocks, recordMs, directMs, inProcessMs, threadsMs, resumeMs, filter: { shape, rounds, seconds1: wall[1], seconds2: wall[2], speedup, coresUsed1: cores[1], coresUsed2: cores[2], overlapFraction: concurrency, loadAverage: os.loadavg()[0], identical: same } };
}
