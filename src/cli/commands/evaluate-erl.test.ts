// `wiring evaluate --skeletons`: ERL beside VOI/ARAND, in process.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringJsonInProcess } from '../../../test/cli-in-process.js';
import { Volume } from '../../core/volume.js';
import { writeNpy } from '../../formats/npy.js';

const wiring = wiringJsonInProcess;

describe('evaluate --skeletons (ERL)', () => {
  it('scores run lengths over SWC skeletons: a split halves the run, a merge zeroes both neurons', async () => {
    const dir = await tempDir('wiring-erl-');
    // two neurons: rows y 0-4 (id 1) and y 5-9 (id 2), x 0..19, 2 sections; voxel size 1 nm (npy)
    const gt = Volume.zeros('uint32', [20, 10, 2]);
    for (let z = 0; z < 2; z++) for (let y = 0; y < 10; y++) for (let x = 0; x < 20; x++) gt.data[x + 20 * (y + 10 * z)] = y < 5 ? 1 : 2;
    const split = Volume.zeros('uint32', [20, 10, 2]);
    split.data.set(gt.data);
    for (let i = 0; i < split.data.length; i++) if (gt.data[i] === 1 && i % 20 >= 10) split.data[i] = 3;
    const merged = Volume.zeros('uint32', [20, 10, 2]).data.fill(7);
    const mergedVol = new Volume('uint32', gt.box, merged);
    await writeNpy(path.join(dir, 'gt.npy'), gt);
    await writeNpy(path.join(dir, 'split.npy'), split);
    await writeNpy(path.join(dir, 'merged.npy'), mergedVol);
    // skeletons along x at y 2.5 and 7.5 (voxel centres), 1 nm steps
    const swc = (y: number): string => Array.from({ length: 20 }, (_, i) => `${i + 1} 3 ${i + 0.5} ${y} 0.5 1 ${i === 0 ? -1 : i}`).join('\n');
    const skel = path.join(dir, 'skel');
    (await import('node:fs')).mkdirSync(skel);
    writeFileSync(path.join(skel, 'a.swc'), swc(2.5));
    writeFileSync(path.join(skel, 'b.swc'), swc(7.5));
    const perfect = await wiring('evaluate', path.join(dir, 'gt.npy'), path.join(dir, 'gt.npy'), '--skeletons', skel);
    expect(perfect.voi_split + perfect.voi_merge).toBe(0);
    expect(perfect.erl.erl).toBeCloseTo(19, 9);
    expect(perfect.erl.maxErl).toBeCloseTo(19, 9);
    const s = await wiring('evaluate', path.join(dir, 'split.npy'), path.join(dir, 'gt.npy'), '--skeletons', skel);
    // neuron a: runs of 9 and 9 nm (the 1 nm edge across the cut is an error); b intact 19
    expect(s.erl.erl).toBeCloseTo((9 * 9 + 9 * 9 + 19 * 19) / 38, 9);
    expect(s.erl.mergers).toBe(0);
    const m = await wiring('evaluate', path.join(dir, 'merged.npy'), path.join(dir, 'gt.npy'), '--skeletons', skel);
    expect(m.erl.erl).toBe(0);
    expect(m.erl.mergers).toBe(1);
    await expect(wiring('evaluate', path.join(dir, 'gt.npy'), path.join(dir, 'gt.npy'), '--skeletons', path.join(dir, 'none'))).rejects.toThrow(/--skeletons: .*does not exist/);
  });
});
