// wiring train-pixels --labels --segment-choice: the cut of a membrane (boundary vs interior) model chosen out
// of fold on its training stack (folds along z, each section segmented on its own, scored against the
// interior's 4-connected components per section), carried by the model and the map into `wiring segment`.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../../test/data.js';
import { wiringCaptured as wiring } from '../../../test/cli-in-process.js';
import { Volume } from '../../core/volume.js';
import { writeNpy } from '../../formats/npy.js';
import { PixelModel } from '../../stages/predict/model.js';
import { syntheticEm } from '../../stages/predict/synthetic.js';
import { classesFromSegmentation } from '../../stages/predict/training.js';
import { interiorComponents } from '../segment-calibration.js';

describe('interiorComponents (instance truth of membrane labels)', () => {
  it('4-connected components of the interior classes per section, ids distinct per section, the rest 0', () => {
    // 4 x 3 sections; 1 = membrane, 2 and 3 = interior classes, 0 = unlabelled
    const s0 = [
      2, 2, 1, 3,
      2, 1, 2, 3,
      1, 0, 1, 1,
    ];
    const s1 = [
      2, 2, 2, 2,
      1, 1, 1, 1,
      3, 3, 1, 2,
    ];
    const c = interiorComponents(Uint8Array.from([...s0, ...s1]), [4, 3, 2], [2, 3]);
    // section 0: {(0,0),(1,0),(0,1)}, {(2,1),(3,0),(3,1)} (2 and 3 are both interior), (2,1) joins (3,1);
    // the diagonal (1,0)-(2,1) does not join
    expect(Array.from(c.subarray(0, 12))).toEqual([
      1, 1, 0, 2,
      1, 0, 2, 2,
      0, 0, 0, 0,
    ]);
    // section 1: ids continue after section 0's
    expect(Array.from(c.subarray(12))).toEqual([
      3, 3, 3, 3,
      0, 0, 0, 0,
      4, 4, 0, 5,
    ]);
  });
});

describe('wiring train-pixels --labels --segment-choice', () => {
  it('chooses the cut per section out of fold (folds along z), carries it into the map, segment uses it', async () => {
    const dir = await tempDir();
    const vs = [4, 4, 50] as const;
    const { raw, seg } = syntheticEm([48, 40, 6], { cells: 9, seed: 5, voxelSize: [...vs] });
    // membrane labels as `wiring classes` writes them: 1 = boundary, 2 = interior
    const b = classesFromSegmentation(seg, 2);
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    await writeNpy(path.join(dir, 'lab.npy'), Volume.from('uint8', raw.shape, Uint8Array.from(b, (c) => (c === 1 ? 1 : 2))));
    const model = path.join(dir, 'm.rf');
    const common = ['--raw', path.join(dir, 'raw.npy'), '--labels', path.join(dir, 'lab.npy'), '--voxel-size', '4,4,50', '-o', model,
      '--sigmas', '0.7,1.6', '--recursive-from', 'off', '--trees', '5', '--samples', '3000', '--threads', '1', '--cross-fit', 'off'];
    // opt-in: without --segment-choice a labels model chooses nothing
    const plain = await wiring(['train-pixels', ...common, '--json']);
    expect(plain.code, plain.out).toBeUndefined();
    expect(JSON.parse(plain.stdout).segment_threshold).toBeUndefined();
    const noChoice = await wiring(['train-pixels', ...common, '--boundary-class', '1']);
    expect(noChoice.code).toBe(2);
    expect(noChoice.out).toMatch(/--boundary-class applies to --labels models with --segment-choice/);
    const badClass = await wiring(['train-pixels', ...common, '--segment-choice', 'cut', '--boundary-class', '7']);
    expect(badClass.code).toBe(2);
    expect(badClass.out).toMatch(/--boundary-class 7: not a class of the labels \(classes 1, 2\)/);
    const t = await wiring(['train-pixels', ...common, '--segment-choice', 'cut', '--json']);
    expect(t.code, t.out).toBeUndefined();
    const r = JSON.parse(t.stdout);
    const cal = r.cut_calibration;
    expect(cal.perSection).toBe(true);
    expect(cal.folds.map((f: { train: string; test: string }) => [f.train, f.test])).toEqual([
      ['x 0:48, y 0:40, z 0:3', 'x 0:48, y 0:40, z 3:6'],
      ['x 0:48, y 0:40, z 3:6', 'x 0:48, y 0:40, z 0:3'],
    ]);
    expect(cal.default).toBe(0.55);
    expect(cal.candidates.map((c: { seeds: string }) => c.seeds)).toEqual(['distance']);
    const i = cal.grid.indexOf(r.segment_threshold);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(cal.meanVoi[i]).toBe(Math.min(...cal.meanVoi));
    expect(new Set(cal.meanVoi).size).toBeGreaterThan(1);
    expect((await PixelModel.load(model)).meta.segmentThreshold).toBe(r.segment_threshold);
    // predict writes the cut into the map's info; segment (membrane channel 0) uses it unless given one
    const out = path.join(dir, 'pred');
    const p = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--voxel-size', '4,4,50', '--model', model, out, '--workers', '1', '--json']);
    expect(p.code, p.out).toBeUndefined();
    expect(JSON.parse(await fs.readFile(path.join(out, 'info'), 'utf8')).wiring.segment_threshold).toBe(r.segment_threshold);
    const s = await wiring(['segment', '--boundaries', out, '--channel', '0', path.join(dir, 'seg'), '--json']);
    expect(s.code, s.out).toBeUndefined();
    expect(JSON.parse(s.stdout).threshold).toBe(r.segment_threshold);
  }, 240_000);
});

describeData('isbi2012/train/label', 'wiring train-pixels --labels --segment-choice on ISBI 2012 (0 = membrane)', () => {
  it('scores the held-out sections against their interior components and picks the lowest out-of-fold VOI', async () => {
    const dir = await tempDir();
    const model = path.join(dir, 'm.rf');
    const t = await wiring(['train-pixels', '--raw', dataPath('isbi2012/train/image'), '--labels', dataPath('isbi2012/train/label'), '--voxel-size', '4,4,50',
      '--classes', '0,255', '--boundary-class', '0', '--bounds', '0:160,0:160,0:4', '--trees', '5', '--samples', '4000', '--threads', '1', '--cross-fit', 'off',
      '--smooth-output', '0', '--segment-choice', 'cut', '-o', model, '--json']);
    expect(t.code, t.out).toBeUndefined();
    const cal = JSON.parse(t.stdout).cut_calibration;
    expect(cal.folds.map((f: { test: string }) => f.test)).toEqual(['x 0:160, y 0:160, z 2:4', 'x 0:160, y 0:160, z 0:2']);
    // real membranes: the out-of-fold VOI has a minimum inside the grid, well below its worst cut
    const best = Math.min(...cal.meanVoi);
    expect(cal.meanVoi[cal.grid.indexOf(cal.threshold)]).toBe(best);
    expect(best).toBeLessThan(Math.max(...cal.meanVoi) - 0.3);
    // the winner's levels: the cut lies among the map's values (not below all, not above all)
    const lv = cal.levels.map[cal.grid.indexOf(cal.threshold)];
    expect(lv).toBeGreaterThan(0.3);
    expect(lv).toBeLessThan(1);
  }, 240_000);
});
