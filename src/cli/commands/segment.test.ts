// The segment commands end to end, in process: supervoxels, agglomerate, segment, train-agglomeration, evaluate.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { dataPath, describeData, tempDir } from '../../../test/data.js';
import { buildProgram } from '../main.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';

async function wiring(...args: string[]): Promise<any> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  try {
    const argv = ['node', 'wiring', ...args, '--json'];
    await (await buildProgram(argv)).parseAsync(argv);
  } finally {
    spy.mockRestore();
  }
  return JSON.parse(chunks.join(''));
}

describe('segment commands: usage errors', () => {
  it('rejects bad options with a UsageError naming the option', async () => {
    const dir = await tempDir();
    const p1 = dataPath('gala-medulla', 'train-p1.h5');
    if (!existsSync(p1)) return;
    await expect(wiring('supervoxels', '--boundaries', `${p1}#stack`, '--seeds', 'bogus', path.join(dir, 'x'))).rejects.toThrow(/--seeds/);
    await expect(wiring('agglomerate', '--supervoxels', `${p1}#stack`, '--boundaries', `${p1}#stack`, '--method', 'learned', path.join(dir, 'y'))).rejects.toThrow(/--model/);
    await expect(wiring('segment', '--boundaries', `${p1}#stack`, '--channel', '2', path.join(dir, 'z'))).rejects.toThrow(/channel 2/);
  });
});

describeData('gala-medulla', 'segment commands on gala-medulla', () => {
  const d = (f: string) => `${dataPath('gala-medulla', f)}#stack`;
  it('segment, evaluate, train-agglomeration and agglomerate --model', async () => {
    const dir = await tempDir();
    const seg = path.join(dir, 'seg');
    const sv = path.join(dir, 'sv');
    const r = await wiring('segment', '--boundaries', d('train-p1.h5'), '--supervoxels-out', sv, seg);
    expect(r.segments).toBeGreaterThan(20);
    expect(r.supervoxels).toBeGreaterThan(r.segments);
    const layer = await PrecomputedLayer.open(seg);
    expect(layer.info.type).toBe('segmentation');
    expect(layer.info.data_type).toBe('uint64');
    expect(existsSync(path.join(seg, 'merge_tree.json'))).toBe(true);
    const e = await wiring('evaluate', seg, d('train-gt.h5'));
    expect(Object.keys(e)).toEqual(expect.arrayContaining(['voi_split', 'voi_merge', 'arand', 'arand_skimage']));
    expect(e.voi_split + e.voi_merge).toBeLessThan(0.63);
    // learned agglomeration from gala's own supervoxels
    const model = path.join(dir, 'agg.model');
    const t = await wiring('train-agglomeration', '--supervoxels', d('train-ws.h5'), '--boundaries', d('train-p1.h5'), '--gt', d('train-gt.h5'), '-o', model, '--trees', '30');
    expect(t.samples).toBeGreaterThan(50);
    const out = path.join(dir, 'learned');
    const a = await wiring('agglomerate', '--supervoxels', d('train-ws.h5'), '--boundaries', d('train-p1.h5'), '--model', model, out);
    expect(a.method).toBe('learned');
    const e2 = await wiring('evaluate', out, d('train-gt.h5'));
    expect(e2.voi_split + e2.voi_merge).toBeLessThan(0.63);
    // the supervoxel layer reads back and agglomerates with the mean method
    const m = await wiring('agglomerate', '--supervoxels', sv, '--boundaries', d('train-p1.h5'), path.join(dir, 'mean'));
    expect(m.segments).toBe(r.segments);
  }, 120_000);
});
