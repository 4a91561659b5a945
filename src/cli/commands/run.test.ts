import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { runInProcess } from '../../../test/cli-in-process.js';
import { register as info } from './info.js';
import { register as run, runSteps, type SkippedStep } from './run.js';

/** A 4x3x2 uint8 .npy (a format that records no voxel size). */
async function npy(file: string): Promise<void> {
  let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }";
  header = header.padEnd(64 - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  await writeFile(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.alloc(24, 7)]));
}

describe('wiring run / info on a volume without a voxel size', () => {
  it('info warns and names --voxel-size; run refuses unless the config gives "voxel_size"', async () => {
    const dir = await tempDir('wiring-run-');
    const raw = path.join(dir, 'raw.npy');
    await npy(raw);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const out = JSON.parse(await runInProcess([info], ['info', raw, '--json']));
      expect(out.voxel_size_assumed).toBe(true);
      expect(out.warning).toMatch(/raw\.npy records no voxel size: 1,1,1 nm is assumed.*--voxel-size/);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/warning: .*--voxel-size/);
    } finally {
      stderr.mockRestore();
    }
    const cfg = path.join(dir, 'run.json');
    await writeFile(cfg, JSON.stringify({ raw, out: path.join(dir, 'ds'), pixel_model: path.join(dir, 'none.forest') }));
    await expect(runInProcess([run], ['run', cfg])).rejects.toThrow(/raw\.npy records no voxel size.*"voxel_size": \[x, y, z\] in the config.*refusing/);
  });

  it('says when it skips the synapse step and builds pyramids of the layers it writes', async () => {
    const skipped: SkippedStep[] = [];
    const steps = await runSteps({ raw: 'v.h5#raw', out: 'ds', onnx: 'm.onnx', skip: ['mesh'] }, skipped);
    expect(skipped.map((s) => s.step)).toEqual(['synapses', 'mesh']);
    expect(skipped[0].why).toMatch(/no cleft class/);
    const names = steps.map((s) => s.name);
    expect(names).not.toContain('synapses');
    expect(names.slice(-3)).toEqual(['downsample-raw', 'downsample-probabilities', 'downsample-segmentation']);
    expect(steps.at(-1)!.args).toEqual(['downsample', path.join('ds', 'segmentation')]);
    const withCleft = await runSteps({ raw: 'v.h5#raw', out: 'ds', onnx: 'm.onnx', cleft_channel: 1 });
    expect(withCleft.map((s) => s.name)).toContain('synapses');
  });
});
