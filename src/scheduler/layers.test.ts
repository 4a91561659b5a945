// Runs with real output layers (Neuroglancer precomputed) and real inputs (openSource): results
// must not depend on block shape or worker count, and a run killed with SIGKILL at a random
// moment (seeded, printed) resumes to byte-identical output.
import { existsSync, promises as fs, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import type { Vec3 } from '../core/box.js';
import { boxFromShape } from '../core/box.js';
import { PrecomputedLayer, makeInfo } from '../formats/precomputed/index.js';
import { downsampleMean, downsampleMode, nextFactor } from '../stages/downsample/downsample.js';
import { planPyramid } from '../stages/downsample/tasks.js';
import { encodeJson } from './codec.js';
import { type BlockTask, SchedulerError, readBlockData, runTasks } from './index.js';
import { channelGroups } from './execute.js';
import { openSource } from '../formats/open.js';
import { Volume } from '../core/volume.js';
import type { Gate } from './fixtures.js';
import { RUN_SCRIPT, expectSameFiles, seededRandom, filterTask, killProcess, makeInput, makeOutput, noise, snapshot, spawnTs, waitFor } from './testing.js';

const FIX = new URL('./fixtures.ts', import.meta.url).href;

describe('runs that write precomputed layers', () => {
  it('give byte-identical output for every block shape and worker count (3x3x3 box filter, margin 1)', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [20, 14, 9];
    const input = await makeInput(dir, shape, 'precomputed');
    let reference: Map<string, Buffer> | undefined;
    for (const [blockShape, workers, budget] of [
      [[20, 16, 12], 1],
      [[4, 4, 4], 2],
      [[8, 12, 4], 2],
      [[12, 4, 8], 1],
      [[4, 4, 8], 2, 'budget'],
    ] as Array<[Vec3, number, string?]>) {
      const out = await makeOutput(path.join(dir, `out-${blockShape.join('x')}-${workers}${budget ?? ''}`), shape);
      // The last configuration runs on 2 threads under a memory budget of one block: (6*6*10
      // uint16 input with margin + 4*4*8 float32 output) = 1232 bytes each.
      const memory = budget ? 1232 + 100 : undefined;
      const r = await runTasks([filterTask(input, out, shape, blockShape)], { stateDir: path.join(dir, `state-${blockShape}-${workers}`), workers, memory, json: true });
      expect(r.failed).toEqual([]);
      if (memory) {
        expect(r.peakInFlight).toBe(1);
        expect(r.peakBytes).toBe(1232);
      }
      const snap = await snapshot(out);
      if (!reference) {
        reference = snap;
        // Check the filter itself at a corner (clipped to 8 voxels) and inside (27 voxels).
        const src = noise('uint16', shape);
        const layer = await PrecomputedLayer.open(out);
        const res = await layer.readBox(boxFromShape(shape));
        let corner = 0;
        for (const [x, y, z] of [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]]) corner += Number(src.get(x, y, z));
        expect(res.get(0, 0, 0)).toBeCloseTo(corner / 8, 3);
        let inner = 0;
        for (let z = 3; z <= 5; z++) for (let y = 6; y <= 8; y++) for (let x = 9; x <= 11; x++) inner += Number(src.get(x, y, z));
        expect(res.get(10, 7, 4)).toBeCloseTo(inner / 27, 3);
      } else expectSameFiles(reference, snap, `blocks ${blockShape}, ${workers} worker(s)`);
    }
    // The same input as an .npy file, opened through openSource: the same output.
    const npy = await makeInput(dir, shape, 'npy');
    const out = await makeOutput(path.join(dir, 'out-npy'), shape);
    await runTasks([filterTask(npy, out, shape, [8, 8, 8])], { stateDir: path.join(dir, 'state-npy'), workers: 1, json: true });
    expectSameFiles(reference!, await snapshot(out), 'npy input');
  });

  it('give the same sharded output when several blocks share a shard (murmurhash and identity)', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [20, 14, 9];
    const input = await makeInput(dir, shape, 'precomputed');
    for (const hash of ['identity', 'murmurhash3_x86_128'] as const) {
      const sharding = { '@type': 'neuroglancer_uint64_sharded_v1' as const, preshift_bits: 1, hash, minishard_bits: 1, shard_bits: 5, minishard_index_encoding: 'gzip' as const };
      const snaps = [];
      for (const [blockShape, workers] of [[[20, 16, 12], 1], [[4, 4, 4], 2]] as Array<[Vec3, number]>) {
        const out = path.join(dir, `sharded-${hash}-${blockShape.join('x')}`);
        await PrecomputedLayer.create(out, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize: [4, 4, 40], chunkSize: [4, 4, 4], sharding }));
        await runTasks([filterTask(input, out, shape, blockShape)], { stateDir: path.join(out + '-state'), workers, json: true });
        snaps.push(await snapshot(out));
      }
      expect([...snaps[0].keys()].some((k) => k.endsWith('.shard'))).toBe(true);
      expectSameFiles(snaps[0], snaps[1], `${hash} sharding, one block vs one chunk per block`);
    }
  });

  it('rejects block shapes and bounds that do not fit the output chunks, and wrong volumes from a block', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [8, 8, 8];
    const input = await makeInput(dir, shape);
    const out = await makeOutput(path.join(dir, 'out'), shape);
    const stateDir = path.join(dir, 'state');
    await expect(runTasks([filterTask(input, out, shape, [6, 4, 4])], { stateDir })).rejects.toThrow(/not a multiple of output out's chunk size \[4,4,4\]/);
    await expect(runTasks([{ ...filterTask(input, out, shape, [4, 4, 4]), bounds: boxFromShape([4, 4, 4], [2, 0, 0]) }], { stateDir })).rejects.toThrow(/chunk boundaries/);
    await expect(runTasks([{ ...filterTask(input, out, shape, [4, 4, 4]), bounds: boxFromShape([12, 8, 8]) }], { stateDir })).rejects.toThrow(/outside output out's layer/);
    const err = await runTasks([{ ...filterTask(input, out, shape, [4, 4, 4]), fn: 'trivial', inputs: {} }], { stateDir, workers: 1, retries: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(SchedulerError);
    expect(err.message).toMatch(/returned no volume for output "out"/);
  });

  it('resumes a run killed with SIGKILL at a seeded random moment to byte-identical output', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [24, 16, 8];
    const input = await makeInput(dir, shape, 'precomputed');
    const task = (layer: string, gate?: Gate) => filterTask(input, layer, shape, [4, 4, 4], { sleepMs: 30, ...(gate ? { gate } : {}) });
    const clean = await makeOutput(path.join(dir, 'clean'), shape);
    await runTasks([task(clean)], { stateDir: path.join(dir, 'clean-state'), workers: 2, json: true });
    const want = await snapshot(clean);
    // The kill point: after k block records, a further delay of 0-40 ms while blocks k and k+1
    // are free to compute and write (the kill may land mid-write); blocks from k+2 on wait at a
    // gate that opens only after the kill, so the run cannot finish before it is killed.
    const { random, tag } = seededRandom('scheduler kill point');
    const k = Math.floor(random() * 36);
    const delay = random() * 40;
    const out = await makeOutput(path.join(dir, 'killed'), shape);
    const stateDir = path.join(dir, 'killed-state');
    const job = path.join(dir, 'job.json');
    const gate: Gate = { file: path.join(dir, 'gate'), from: k + 2, grid: [6, 4, 2] };
    writeFileSync(job, encodeJson({ tasks: [task(out, gate)], options: { stateDir, workers: 2 } }));
    const child = spawnTs(RUN_SCRIPT, [job]);
    const blocks = path.join(stateDir, 'filter', 'blocks');
    const records = () => (existsSync(blocks) ? readdirSync(blocks).filter((f) => f.endsWith('.json')).length : 0);
    await waitFor(() => records() >= k, 60_000, `${k} blocks (${tag})`);
    await new Promise((r) => setTimeout(r, delay));
    await killProcess(child);
    expect(child.signalCode, `the run was killed before it finished: ${tag}`).toBe('SIGKILL');
    expect(records(), tag).toBeLessThanOrEqual(k + 2);
    writeFileSync(gate.file, '');
    const r = await runTasks([task(out, gate)], { stateDir, workers: 2, json: true });
    expect(r.resumed + r.computed, tag).toBe(48);
    expectSameFiles(want, await snapshot(out), `killed after ${k} blocks + ${delay.toFixed(1)} ms: ${tag}`);
  });
});

describe('the downsample stage under the scheduler', () => {
  it('gives byte-identical pyramids for every block size and worker count', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [40, 36, 10];
    let reference: Map<string, Buffer> | undefined;
    for (const [type, dtype] of [['image', 'uint8'], ['segmentation', 'uint64']] as const) {
      reference = undefined;
      for (const [per, workers] of [[[1, 1, 1], 1], [[2, 2, 2], 2], [[1, 2, 1], 2], [[4, 4, 4], 1]] as Array<[Vec3, number]>) {
        const layerDir = path.join(dir, `${type}-${per.join('')}-${workers}`);
        const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type, dtype, shape, voxelSize: [4, 4, 40], chunkSize: [8, 8, 4] }));
        await layer.writeBox(noise(dtype, shape, 11, type === 'image' ? 256 : 5));
        const tasks = await planPyramid(layerDir, { chunksPerBlock: per });
        expect(tasks.length).toBeGreaterThan(1);
        await runTasks(tasks, { stateDir: path.join(dir, `state-${type}-${per.join('')}-${workers}`), workers, json: true });
        const snap = await snapshot(layerDir);
        if (!reference) {
          reference = snap;
          // The scheduled pyramid equals the kernel applied to the whole volume at once.
          const opened = await PrecomputedLayer.open(layerDir);
          const s0 = opened.info.scales[0];
          const s1 = opened.info.scales[1];
          const whole = await opened.readBox(boxFromShape(s0.size, s0.voxel_offset), 0);
          const factor = nextFactor(s0.resolution);
          const want = type === 'image' ? downsampleMean(whole, factor) : downsampleMode(whole, factor);
          const got = await opened.readBox(boxFromShape(s1.size, s1.voxel_offset), 1);
          expect(got.box).toEqual(want.box);
          expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength))).toBe(true);
          expect(opened.info.scales.length).toBe(tasks.length + 1);
        } else expectSameFiles(reference, snap, `${type}: ${per} chunks per block, ${workers} worker(s)`);
      }
    }
  });
});

describe('inputs that are channels of one layer', () => {
  it('are read together (channelGroups), each block getting what reading them one by one gives', async () => {
    const dir = await tempDir();
    const shape: Vec3 = [20, 14, 9];
    const n = shape[0] * shape[1] * shape[2];
    let s = 5;
    const bytes = Uint8Array.from({ length: n * 4 }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
    const layerDir = path.join(dir, 'maps');
    const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'image', dtype: 'uint8', shape, voxelSize: [8, 8, 30], chunkSize: [8, 8, 4], channels: 4 }));
    await layer.writeBox(Volume.from('uint8', shape, bytes, { channels: 4 }));
    const inputs = { a: `${layerDir}?channel=3`, b: `${layerDir}?channel=1`, whole: layerDir, c: `${layerDir}?channel=1` };
    const opened = Object.fromEntries(await Promise.all(Object.entries(inputs).map(async ([k, v]) => [k, await openSource(v)] as const)));
    const groups = channelGroups(opened);
    expect(groups.map((g) => ({ names: g.names, channels: g.channels }))).toEqual([{ names: ['a', 'b', 'c'], channels: [3, 1, 1] }]);
    const task: BlockTask = { name: 'digest', module: FIX, fn: 'inputDigest', params: {}, inputs, bounds: boxFromShape(shape), blockShape: [8, 8, 4], margin: [2, 1, 1] };
    const r = await runTasks([task], { stateDir: path.join(dir, 'state'), workers: 1, json: true });
    expect(r.failed).toEqual([]);
    const blocks = await readBlockData(path.join(dir, 'state'), 'digest');
    expect(blocks.length).toBe(3 * 2 * 3);
    for (const b of blocks) {
      const d = b.data as Record<string, { box: string; channels: number; sum: number }>;
      const box = JSON.parse(d.a.box);
      for (const [name, src] of Object.entries(opened)) {
        const v = await src.read(box);
        const u = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
        let h = 0;
        for (let i = 0; i < u.length; i++) h = (Math.imul(h, 31) + u[i]) >>> 0;
        expect(d[name], `${name} at ${d.a.box}`).toEqual({ box: JSON.stringify(v.box), channels: v.channels, dtype: 'uint8', sum: h });
      }
    }
    for (const src of Object.values(opened)) await src.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
});
