// wiring train-pixels --object-filter: the option's checks and what the model records when a class has too few objects.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured } from '../../../test/cli-in-process.js';
import { Volume } from '../../core/volume.js';
import { writeNpy } from '../../formats/npy.js';
import { PixelModel } from '../../stages/predict/model.js';

const wiring = wiringCaptured;

describe('wiring train-pixels --object-filter', () => {
  it('names an unknown output, and records why a class with too few objects got no filter', async () => {
    const dir = await tempDir();
    // 10 dark disks (class 2) on a noisy bright background (class 1), every voxel labelled
    const shape: [number, number, number] = [48, 48, 4];
    const raw = Volume.zeros('uint8', shape, { voxelSize: [4, 4, 40] });
    const lab = Volume.zeros('uint8', shape, { voxelSize: [4, 4, 40] });
    let r = 12345;
    const rnd = (): number => ((r = (r * 1103515245 + 12345) % 2147483648) / 2147483648);
    const disks = Array.from({ length: 10 }, () => [4 + rnd() * 40, 4 + rnd() * 40, 2 + rnd() * 3]);
    for (let z = 0, i = 0; z < 4; z++) for (let y = 0; y < 48; y++) for (let x = 0; x < 48; x++, i++) {
      const inside = disks.some(([cx, cy, rr]) => (x - cx) ** 2 + (y - cy) ** 2 <= rr * rr);
      lab.data[i] = inside ? 2 : 1;
      raw.data[i] = Math.max(0, Math.min(255, Math.round((inside ? 110 : 160) + (rnd() - 0.5) * 120)));
    }
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    await writeNpy(path.join(dir, 'lab.npy'), lab);
    const model = path.join(dir, 'm.forest');
    const args = ['train-pixels', '--raw', path.join(dir, 'raw.npy'), '--labels', path.join(dir, 'lab.npy'), '-o', model, '--voxel-size', '4,4,40', '--sigmas', '0.7,1.6', '--trees', '6', '--samples', '3000', '--threads', '1', '--json'];
    const bad = await wiring([...args, '--object-filter', 'class_2,class_9']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--object-filter: no output class_9 \(the outputs are class_1, class_2\)/);
    const t = await wiring([...args, '--object-filter', 'class_2']);
    expect(t.code, t.out).toBeUndefined();
    const rule = JSON.parse(t.stdout).object_rules.class_2;
    expect(rule.objectFilter).toBeUndefined();
    expect(rule.objectFilterSkipped).toMatch(/true objects in the training folds, fewer than the 50 the object filter needs/);
    expect((await PixelModel.load(model)).meta.objectRules!.class_2.objectFilterSkipped).toBe(rule.objectFilterSkipped);
  });
});
