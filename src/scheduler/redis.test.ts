import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { boxFromShape } from '../core/box.js';
import { encodeJson } from './codec.js';
import { type BlockTask, readBlockData, runTasks } from './index.js';
import type { Vec3 } from '../core/box.js';
import { Volume } from '../core/volume.js';
import { PrecomputedLayer, makeInfo } from '../formats/precomputed/index.js';
import { planPyramid } from '../stages/downsample/tasks.js';
import { type Gate, gateWaitingMarkers } from './fixtures.js';
import { RUN_SCRIPT, TestRedis, seededRandom, expectSameFiles, filterTask, makeInput, makeOutput, snapshot, killProcess, spawnTs, startWorkerProcess, waitFor } from './testing.js';

const FIX = new URL('./fixtures.ts', import.meta.url).href;

// These tests need Debian's /usr/bin/redis-server: without it they FAIL (TestRedis.start throws).
describe('distributed runs on Redis (BullMQ)', () => {
  let redis: TestRedis;
  const children: Array<Awaited<ReturnType<typeof startWorkerProcess>>> = [];
  const queue = 'blocks';
  let pool: Array<Awaited<ReturnType<typeof startWorkerProcess>>> = [];
  beforeAll(async () => {
    redis = await TestRedis.start();
    pool = await workers(2);
  });
  afterAll(async () => {
    for (const c of children) await killProcess(c);
    await redis?.stop();
  });

  async function workers(n: number) {
    const ws = await Promise.all(Array.from({ length: n }, () => startWorkerProcess(redis.url, { queue, lockMs: 1000 })));
    children.push(...ws);
    return ws;
  }

  function hangTask(dir: string, over: Partial<BlockTask> = {}): BlockTask {
    return {
      name: 'h',
      module: FIX,
      fn: 'hang',
      params: { marker: path.join(dir, 'marker'), block: [1, 1, 0], holdMs: 60_000, ms: 20 },
      bounds: boxFromShape([24, 16, 8]),
      blockShape: [4, 4, 4],
      ...over,
    };
  }

  it('runs blocks on worker processes with the same records as a local run, and fails loudly without workers\' help for bad blocks', async () => {
    const t: BlockTask = { name: 't', module: FIX, fn: 'trivial', params: { salt: 3 }, bounds: boxFromShape([20, 12, 8]), blockShape: [4, 4, 4] };
    const remote = await tempDir();
    const r = await runTasks([t], { stateDir: remote, redis: redis.url, queue, json: true });
    expect(r).toMatchObject({ mode: 'redis', computed: 30 });
    const local = await tempDir();
    await runTasks([t], { stateDir: local, workers: 1, json: true });
    expect(await readBlockData(remote, 't')).toEqual(await readBlockData(local, 't'));
    const bad = await runTasks([{ ...t, name: 'bad', fn: 'missing' }], { stateDir: remote, redis: redis.url, queue, retries: 1, json: true }).catch((e) => e);
    expect(bad.message).toMatch(/does not export a block function named "missing"/);
    expect(bad.report.failed).toHaveLength(30);
  });

  it('redoes the block of a worker killed mid-block, and the run completes', async () => {
    const ws = pool;
    const dir = await tempDir();
    const stateDir = await tempDir();
    const t = hangTask(dir);
    const run = runTasks([t], { stateDir, redis: redis.url, queue, workers: 8, json: true });
    const marker = path.join(dir, 'marker');
    await waitFor(() => existsSync(marker) && readFileSync(marker, 'utf8') !== '', 20_000, 'the held block to start');
    const pid = Number(readFileSync(marker, 'utf8'));
    const victim = ws.find((w) => w.pid === pid);
    expect(victim, `marker pid ${pid} is one of the workers`).toBeDefined();
    await killProcess(victim!);
    const r = await run;
    // Keep two workers for the next tests.
    pool = [...ws.filter((w) => w !== victim), ...(await workers(1))];
    expect(r.computed).toBe(6 * 4 * 2);
    const data = await readBlockData(stateDir, 'h');
    expect(data).toHaveLength(48);
    expect(data.find((d) => d.blockIndex.join() === '1,1,0')?.data).toEqual({ block: [1, 1, 0], big: 18446744073709551615n });
  });

  it('completes a run when Redis is restarted (and loses its data) mid-run', async () => {
    const dir = await tempDir();
    const stateDir = await tempDir();
    // Blocks 0-5 run freely; blocks from 6 on wait at a gate the test opens after the restart,
    // so Redis goes down with jobs queued and running, whatever the load (was: 150 ms blocks
    // racing the kill).
    const gate: Gate = { file: path.join(dir, 'gate'), from: 6, grid: [6, 4, 2] };
    const t: BlockTask = { name: 'r', module: FIX, fn: 'gatedBlock', params: { gate }, bounds: boxFromShape([24, 16, 8]), blockShape: [4, 4, 4] };
    const run = runTasks([t], { stateDir, redis: redis.url, queue, workers: 4, json: true });
    const blocksDir = path.join(stateDir, 'r', 'blocks');
    const records = () => (existsSync(blocksDir) ? readdirSync(blocksDir).filter((f) => f.endsWith('.json')).length : 0);
    await waitFor(() => records() >= 6 && gateWaitingMarkers(gate).length > 0, 60_000, 'blocks 0-5 to finish and a gated block to be running');
    await redis.kill();
    const doneAtKill = records();
    await redis.up();
    writeFileSync(gate.file, '');
    const r = await run;
    expect(r.computed).toBe(48);
    expect(doneAtKill, 'only the ungated blocks were done when Redis went down').toBe(6);
    expect(r.requeued, 'jobs lost with the restart were enqueued again').toBeGreaterThan(0);
    expect(await readBlockData(stateDir, 'r')).toHaveLength(48);
  });

  it('resumes a whole run killed with SIGKILL to byte-identical output (box filter layer)', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [24, 16, 8];
    const input = await makeInput(dir, shape, 'precomputed');
    // Seeded kill point k (printed; WIRING_TEST_SEED replays it): blocks from k on wait at a gate
    // opened after the run is killed, so the kill lands with jobs of the run still in Redis.
    const { random, tag } = seededRandom('redis run kill point');
    const k = 3 + Math.floor(random() * 30);
    const gate: Gate = { file: path.join(dir, 'gate'), from: k, grid: [6, 4, 2] };
    const task = (layer: string, g?: Gate) => ({ ...filterTask(input, layer, shape, [4, 4, 4], { sleepMs: 10, ...(g ? { gate: g } : {}) }), name: 'k' });
    const out = await makeOutput(path.join(dir, 'killed'), shape);
    const stateDir = path.join(dir, 'state');
    const job = path.join(dir, 'job.json');
    writeFileSync(job, encodeJson({ tasks: [task(out, gate)], options: { stateDir, redis: redis.url, queue, workers: 4 } }));
    const main = spawnTs(RUN_SCRIPT, [job]);
    const blocksDir = path.join(stateDir, 'k', 'blocks');
    const records = () => (existsSync(blocksDir) ? readdirSync(blocksDir).filter((f) => f.endsWith('.json')).length : 0);
    await waitFor(() => records() >= k && gateWaitingMarkers(gate).length > 0, 60_000, `${k} blocks to finish and a gated block to run (${tag})`);
    await killProcess(main);
    expect(main.signalCode).toBe('SIGKILL');
    const done = records();
    expect(done, tag).toBe(k);
    writeFileSync(gate.file, '');
    const r = await runTasks([task(out, gate)], { stateDir, redis: redis.url, queue, workers: 4, json: true });
    // The blocks the killed run had queued are taken over, not queued twice.
    expect(r.reattached, tag).toBeGreaterThan(0);
    expect(r.resumed, tag).toBe(done);
    expect(r.resumed + r.computed, tag).toBe(48);
    const clean = await makeOutput(path.join(dir, 'clean'), shape);
    await runTasks([task(clean)], { stateDir: path.join(dir, 'clean-state'), workers: 1, json: true });
    expectSameFiles(await snapshot(clean), await snapshot(out), `redis run killed after ${k} blocks: ${tag}`);
  });

  it('keeps exclusiveNeighbours across worker processes', async () => {
    const log = path.join(await tempDir(), 'log');
    const t: BlockTask = { name: 'x', module: FIX, fn: 'interval', params: { log, ms: 60 }, bounds: boxFromShape([16, 12, 4]), blockShape: [4, 4, 4], exclusiveNeighbours: true };
    await runTasks([t], { stateDir: await tempDir(), redis: redis.url, queue, json: true });
    // process.hrtime is CLOCK_MONOTONIC: comparable across processes of one machine.
    const iv = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number[]; start: string; end: string });
    expect(new Set(iv.map((i) => i.index.join())).size).toBe(12);
    for (const a of iv)
      for (const b of iv) {
        // The same block twice is BullMQ's at-least-once delivery (a job whose lock lapsed on a
        // loaded machine is handed out again; blocks are idempotent), not a neighbour conflict.
        if (a === b || a.index.join() === b.index.join() || !(BigInt(a.start) < BigInt(b.end) && BigInt(b.start) < BigInt(a.end))) continue;
        expect(a.index.every((v, i) => Math.abs(v - b.index[i]) <= 1), `blocks ${a.index} and ${b.index} ran together`).toBe(false);
      }
  });

  it('writes the same layers as a local run (the downsample stage)', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [32, 32, 8];
    const vol = Volume.zeros('uint8', shape);
    for (let i = 0; i < vol.data.length; i++) vol.data[i] = (i * 2654435761) >>> 24;
    const snaps = [];
    for (const mode of ['local', 'redis']) {
      const layerDir = path.join(dir, mode);
      const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'image', dtype: 'uint8', shape, voxelSize: [4, 4, 40], chunkSize: [8, 8, 4] }));
      await layer.writeBox(vol);
      const tasks = await planPyramid(layerDir, { chunksPerBlock: [1, 1, 1] });
      // Same layer paths in both runs so the task params (and the info) are comparable.
      const stateDir = path.join(dir, `state-${mode}`);
      const r = await runTasks(tasks, mode === 'redis' ? { stateDir, redis: redis.url, queue, json: true } : { stateDir, workers: 2, json: true });
      expect(r.mode).toBe(mode === 'redis' ? 'redis' : 'threads');
      expect(r.computed).toBeGreaterThan(8);
      snaps.push(await snapshot(layerDir));
    }
    expectSameFiles(snaps[0], snaps[1], 'redis vs local');
  });
});
