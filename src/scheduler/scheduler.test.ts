import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { boxFromShape } from '../core/box.js';
import { WiringError } from '../core/errors.js';
import { type BlockTask, SchedulerError, readBlockData, runTasks } from './index.js';
import { decodeJson, encodeJson } from './codec.js';

const FIX = new URL('./fixtures.ts', import.meta.url).href;

function task(over: Partial<BlockTask> = {}): BlockTask {
  return { name: 't', module: FIX, fn: 'trivial', params: {}, bounds: boxFromShape([10, 7, 5]), blockShape: [4, 4, 4], ...over };
}

describe('codec', () => {
  it('keeps bigints exact', () => {
    const v = { a: 864691135639556411n, b: [1n << 64n, 'x'], c: { $bigint: 5 } };
    expect(decodeJson(encodeJson(v))).toEqual(v);
  });
});

describe('runTasks (local)', () => {
  it('runs every block once with data kept exact, in-process and on threads, and resumes', async () => {
    for (const workers of [1, 2]) {
      const stateDir = await tempDir();
      const r = await runTasks([task()], { stateDir, workers, json: true });
      expect(r.blocks).toBe(3 * 2 * 2);
      expect(r.computed).toBe(12);
      expect(r.mode).toBe(workers === 1 ? 'in-process' : 'threads');
      const data = await readBlockData(stateDir, 't');
      expect(data.map((d) => d.blockIndex)).toEqual([
        [0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0], [2, 1, 0],
        [0, 0, 1], [1, 0, 1], [2, 0, 1], [0, 1, 1], [1, 1, 1], [2, 1, 1],
      ]);
      expect(data[11].data).toEqual({ sum: 4, id: 864691135639556413n });
      expect(data[2].box).toEqual({ min: [8, 0, 0], max: [10, 4, 4] });
      const again = await runTasks([task()], { stateDir, workers, json: true });
      expect(again.computed).toBe(0);
      expect(again.resumed).toBe(12);
    }
  });
});
