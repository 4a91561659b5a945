// A layer records whether the run writing it finished: a failed or killed run leaves the scale
// marked incomplete (readers refuse it, or read it with a warning when asked to), a resumed run
// clears the mark, and layers written before the record existed stay readable.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../test/data.js';
import { type Vec3, boxFromShape } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import { openSource } from '../formats/open.js';
import { PrecomputedLayer, makeInfo } from '../formats/precomputed/index.js';
import { type BlockTask, SchedulerError, runTasks } from './index.js';

const FIX = new URL('./fixtures.ts', import.meta.url).href;
const shape: Vec3 = [8, 8, 8];

function paint(layer: string, dir: string): BlockTask {
  return { name: 'paint', module: FIX, fn: 'paintOrFail', params: { dir, value: 7 }, outputs: { out: { layer } }, bounds: boxFromShape(shape), blockShape: [4, 4, 4] };
}

async function errorOf(f: () => Promise<unknown>): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, got none');
}

describe('layer completeness', () => {
  it('a failed run leaves the scale marked incomplete; readers refuse it; a resumed run clears the mark', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'out');
    await PrecomputedLayer.create(out, makeInfo({ type: 'image', dtype: 'uint8', shape, voxelSize: [1, 1, 1], chunkSize: [4, 4, 4] }));
    // a layer with no record (as older code wrote them) is complete
    expect((await PrecomputedLayer.open(out)).incomplete(0)).toBeUndefined();
    await fs.writeFile(path.join(dir, 'fail-1_1_1'), '');
    const stateDir = path.join(dir, 'state');
    await expect(runTasks([paint(out, dir)], { stateDir, workers: 1, retries: 0, json: true })).rejects.toThrow(SchedulerError);
    const layer = await PrecomputedLayer.open(out);
    expect(layer.incomplete(0)).toMatchObject({ task: 'paint' });
    const e = await errorOf(() => openSource(out));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toContain(path.join(out, 'info'));
    expect(e.message).toMatch(/scale 1_1_1 is incomplete: "paint".*WIRING_READ_INCOMPLETE=1/);
    // read anyway: by option (no warning), or by environment (one warning on stderr)
    const v = await (await openSource(out, { allowIncomplete: true })).read(boxFromShape(shape));
    expect(v.get(0, 0, 0)).toBe(7);
    expect(v.get(7, 7, 7)).toBe(0); // the failed block was never written
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    process.env.WIRING_READ_INCOMPLETE = '1';
    try {
      await openSource(out);
      await openSource(out);
      const warnings = write.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('incomplete'));
      expect(warnings.length).toBe(1);
      expect(warnings[0]).toContain(path.join(out, 'info'));
    } finally {
      delete process.env.WIRING_READ_INCOMPLETE;
      write.mockRestore();
    }
    // the rerun computes only the failed block and clears the record
    await fs.rm(path.join(dir, 'fail-1_1_1'));
    const r = await runTasks([paint(out, dir)], { stateDir, workers: 1, retries: 0, json: true });
    expect([r.computed, r.resumed]).toEqual([1, 7]);
    expect((await PrecomputedLayer.open(out)).incomplete(0)).toBeUndefined();
    const all = await (await openSource(out)).read(boxFromShape(shape));
    expect(all.data.every((x) => x === 7)).toBe(true);
    // the info file holds no trace of the record once complete (Neuroglancer sees what it saw before)
    expect(JSON.parse(await fs.readFile(path.join(out, 'info'), 'utf8')).wiring).toBeUndefined();
  });

  it('a run killed after its last block record but before clearing the mark is cleared by the rerun', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'out');
    await PrecomputedLayer.create(out, makeInfo({ type: 'image', dtype: 'uint8', shape, voxelSize: [1, 1, 1], chunkSize: [4, 4, 4] }));
    const stateDir = path.join(dir, 'state');
    await runTasks([paint(out, dir)], { stateDir, workers: 1, json: true });
    await (await PrecomputedLayer.open(out)).markWriting(0, 'paint'); // as a kill at that moment leaves it
    await expect(openSource(out)).rejects.toThrow(/incomplete/);
    const r = await runTasks([paint(out, dir)], { stateDir, workers: 1, json: true });
    expect([r.computed, r.resumed]).toEqual([0, 8]);
    expect((await PrecomputedLayer.open(out)).incomplete(0)).toBeUndefined();
  });

  it('an incomplete input from an earlier run is refused before any block runs', async () => {
    const dir = await tempDir();
    const input = path.join(dir, 'in');
    await PrecomputedLayer.create(input, makeInfo({ type: 'image', dtype: 'uint8', shape, voxelSize: [1, 1, 1], chunkSize: [4, 4, 4] }));
    await (await PrecomputedLayer.open(input)).markWriting(0, 'import');
    const out = path.join(dir, 'out');
    await PrecomputedLayer.create(out, makeInfo({ type: 'image', dtype: 'uint8', shape, voxelSize: [1, 1, 1], chunkSize: [4, 4, 4] }));
    const task: BlockTask = { ...paint(out, dir), inputs: { in: input } };
    await expect(runTasks([task], { stateDir: path.join(dir, 'state'), workers: 1, json: true })).rejects.toThrow(/in\/info: scale 1_1_1 is incomplete: "import"/);
  });

  it('a layer created for a run is marked incomplete from its first byte, until the run finishes', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'out');
    await PrecomputedLayer.create(out, makeInfo({ type: 'image', dtype: 'uint8', shape, voxelSize: [1, 1, 1], chunkSize: [4, 4, 4] }), { writing: 'paint' });
    // a run stopped before its first block (killed, or refused while planning) leaves this
    expect((await PrecomputedLayer.open(out)).incomplete(0)?.task).toBe('paint');
    await expect(openSource(out)).rejects.toThrow(/incomplete: "paint"/);
    await runTasks([paint(out, dir)], { stateDir: path.join(dir, 'state'), workers: 1, json: true });
    expect((await PrecomputedLayer.open(out)).incomplete(0)).toBeUndefined();
  });
});
