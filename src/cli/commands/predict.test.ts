// End to end: wiring train-pixels and wiring predict (forest and ONNX) through the scheduler.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured } from '../../../test/cli-in-process.js';
import { diskTrainArgs, writeDiskLabels } from '../../../test/pixel-fixtures.js';
import { box, boxFromShape } from '../../core/box.js';
import { defaultChunk } from './predict.js';
import { writeNpy } from '../../formats/npy.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { PixelModel } from '../../stages/predict/model.js';
import { OUTPUT_SIGMA_CANDIDATES } from '../../stages/predict/output-smoothing.js';
import { SEED_CANDIDATES } from '../../stages/segment/choice.js';
import { buildOnnxModel } from '../../stages/predict/onnx-build.js';
import { predictVolume } from '../../stages/predict/predict.js';
import { syntheticEm } from '../../stages/predict/synthetic.js';
import { rocAuc } from '../../stages/predict/metrics.js';
import { classesFromSegmentation } from '../../stages/predict/training.js';
import { Volume } from '../../core/volume.js';
import { carriedObjectRule } from '../object-rules.js';
import { calibrate } from '../../stages/predict/calibration.js';

const wiring = wiringCaptured;

describe('wiring train-pixels / predict', () => {
  it('dense --labels: calibrated on out-of-fold maps, object rules chosen and carried into the map info', async () => {
    const dir = await tempDir();
    // 10 dark disks (class 2) on a noisy bright background (class 1), every voxel labelled
    const { raw, lab, shape } = await writeDiskLabels(dir);
    const model = path.join(dir, 'm.forest');
    const t = await wiring(diskTrainArgs(dir, model,
      '--sigmas', '0.7,1.6', '--trees', '6', '--samples', '3000', '--threads', '1', '--json'));
    expect(t.code, t.out).toBeUndefined();
    const res = JSON.parse(t.stdout);
    expect(res.calibrated).toBe(true);
    const rule = res.object_rules.class_2;
    expect(rule.truth).toBeGreaterThan(5);
    expect(rule.f1).toBeGreaterThan(0.5);
    const m = await PixelModel.load(model);
    expect(m.meta.calibration!.channels).toHaveLength(2);
    expect(m.meta.objectRules!.class_2).toEqual(rule);
    // calibrated disk probability: about the fraction of disk voxels among voxels given that score
    const p = predictVolume(m, raw, { calibrated: true }).data as Float32Array;
    const n = raw.voxels;
    let sp = 0, sl = 0;
    for (let i = 0; i < n; i++) { sp += p[n + i]; sl += lab.data[i] === 2 ? 1 : 0; }
    expect(Math.abs(sp / n - sl / n)).toBeLessThan(0.05);
    const out = path.join(dir, 'pred');
    const pr = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--voxel-size', '4,4,40', '--model', model, out, '--workers', '1', '--json']);
    expect(pr.code, pr.out).toBeUndefined();
    const info = JSON.parse(await fs.readFile(path.join(out, 'info'), 'utf8'));
    expect(info.wiring.calibrated).toBeUndefined();
    expect(info.wiring.object_rules['1']).toEqual({ output: 'class_2', high: rule.high, low: rule.low, min_size: rule.minSize });
    // --calibrated: calibrated maps, the rule's thresholds mapped through the same calibration
    const cal = path.join(dir, 'pred-cal');
    const pc = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--voxel-size', '4,4,40', '--model', model, cal, '--workers', '1', '--calibrated', '--json']);
    expect(pc.code, pc.out).toBeUndefined();
    const cinfo = JSON.parse(await fs.readFile(path.join(cal, 'info'), 'utf8'));
    expect(cinfo.wiring.calibrated).toBe(true);
    expect(cinfo.wiring.object_rules['1'].high).toBeCloseTo(calibrate(m.meta.calibration!.channels[1], rule.high), 5);
    const cp = await (await PrecomputedLayer.open(cal)).readBox(boxFromShape(shape));
    expect(Array.from(cp.data as Float32Array)).toEqual(Array.from(p));
    expect(carriedObjectRule(`${out}?channel=1`)).toEqual({ high: rule.high, low: rule.low, minSize: rule.minSize });
    expect(info.wiring.object_rules['0'].output).toBe('class_1'); // every class with true objects gets one
    expect(carriedObjectRule(out)).toBeUndefined(); // two channels: which one is not said
    // --cross-fit off: neither
    const off = await wiring(diskTrainArgs(dir, model,
      '--sigmas', '0.7', '--trees', '2', '--samples', '1000', '--threads', '1', '--cross-fit', 'off', '--json'));
    expect(JSON.parse(off.stdout).calibrated).toBe(false);
    expect(JSON.parse(off.stdout).object_rules).toBeUndefined();
  });

  it('--auto-context trains two forests; predict through the scheduler equals whole-volume prediction', async () => {
    const dir = await tempDir();
    const { raw, seg } = syntheticEm([40, 36, 4], { cells: 8, seed: 6, voxelSize: [4, 4, 40], noise: 60 });
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    await writeNpy(path.join(dir, 'seg.npy'), seg);
    const model = path.join(dir, 'ac.forest');
    const t = await wiring(['train-pixels', '--raw', path.join(dir, 'raw.npy'), '--gt', path.join(dir, 'seg.npy'), '-o', model, '--voxel-size', '4,4,40',
      '--sigmas', '0.7,1.6', '--trees', '6', '--samples', '3000', '--threads', '1', '--auto-context', '--json']);
    expect(t.code, t.out).toBeUndefined();
    expect(JSON.parse(t.stdout).auto_context).toBe(true);
    const m = await PixelModel.load(model);
    expect(m.contextForest).toBeDefined();
    const out = path.join(dir, 'pred');
    const p = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--voxel-size', '4,4,40', '--model', model, out, '--chunk', '16,16,2', '--block', '16,16,2', '--workers', '1', '--json']);
    expect(p.code, p.out).toBeUndefined();
    const got = await (await PrecomputedLayer.open(out)).readBox(boxFromShape([40, 36, 4]));
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(predictVolume(m, raw).data as Float32Array));
  });

  it('trains with --gt and predicts blockwise, equal to whole-volume prediction', async () => {
    const dir = await tempDir();
    const { raw, seg } = syntheticEm([40, 32, 20], { cells: 8, seed: 4 });
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    await writeNpy(path.join(dir, 'seg.npy'), seg);
    const model = path.join(dir, 'm.rf');
    const t = await wiring(['train-pixels', '--raw', path.join(dir, 'raw.npy'), '--gt', path.join(dir, 'seg.npy'), '-o', model,
      '--sigmas', '0.7,1.6', '--recursive-from', 'off', '--trees', '8', '--samples', '4000', '--threads', '1', '--no-calibrate-cut', '--json']);
    expect(t.code, t.out).toBeUndefined();
    expect(JSON.parse(t.stdout).classes).toEqual(['interior', 'boundary']);
    expect(JSON.parse(t.stdout).warnings.join()).toMatch(/records no voxel size/);
    const out = path.join(dir, 'pred');
    const p = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--model', model, out, '--chunk', '16,16,8', '--block', '16,16,8', '--workers', '1', '--json']);
    expect(p.code, p.out).toBeUndefined();
    expect(JSON.parse(p.out).channels).toBe(1);
    const layer = await PrecomputedLayer.open(out);
    const got = await layer.readBox(boxFromShape([40, 32, 20]));
    const want = predictVolume(await PixelModel.load(model), raw);
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
    // --sharded: Neuroglancer sharded output, the same values
    const sharded = path.join(dir, 'pred-sharded');
    const ps = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--model', model, sharded, '--chunk', '16,16,8', '--sharded', '--workers', '1', '--json']);
    expect(ps.code, ps.out).toBeUndefined();
    const sl = await PrecomputedLayer.open(sharded);
    expect(sl.info.scales[0].sharding?.['@type']).toBe('neuroglancer_uint64_sharded_v1');
    expect(Array.from((await sl.readBox(boxFromShape([40, 32, 20]))).data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
    // an existing output with another geometry is refused; bad flags are usage errors
    const again = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--model', model, out, '--dtype', 'uint8', '--workers', '1']);
    expect(again.code).toBe(2);
    expect(again.out).toMatch(/--overwrite/);
    const both = await wiring(['train-pixels', '--raw', path.join(dir, 'raw.npy'), '-o', model]);
    expect(both.code).toBe(2);
    expect(both.out).toMatch(/exactly one of --labels/);
  }, 60000);

  it('ISBI-style labels (0 = membrane) on uint16 raw: --classes, warnings, voxel-size and NaN errors', async () => {
    const dir = await tempDir();
    const { raw, seg } = syntheticEm([40, 32, 3], { cells: 6, seed: 11, voxelSize: [4, 4, 50] });
    const raw16 = Volume.from('uint16', raw.shape, Uint16Array.from(raw.data, (v) => v * 200), { voxelSize: [4, 4, 50] });
    const b = classesFromSegmentation(seg, 2);
    const lab = Volume.from('uint8', raw.shape, Uint8Array.from(b, (c) => (c === 1 ? 0 : 255)));
    await writeNpy(path.join(dir, 'raw.npy'), raw16);
    await writeNpy(path.join(dir, 'lab.npy'), lab);
    const model = path.join(dir, 'm.rf');
    const common = ['--raw', path.join(dir, 'raw.npy'), '--labels', path.join(dir, 'lab.npy'), '-o', model, '--sigmas', '0.7,1.6', '--features', 'G,GGM,HoGE', '--trees', '5', '--samples', '2000', '--threads', '1'];
    const plain = await wiring(['train-pixels', ...common]);
    expect(plain.code).toBe(2);
    expect(plain.out).toMatch(/pass --dense or --classes 0,255/);
    // npy records no voxel size: warned, and 3-D would be chosen; --classes 0,255 puts the membrane in channel 0
    const t = await wiring(['train-pixels', ...common, '--classes', '0,255', '--json']);
    expect(t.code, t.out).toBeUndefined();
    expect(t.out).toMatch(/warning: .*records no voxel size/);
    const t2 = await wiring(['train-pixels', ...common, '--classes', '0,255', '--voxel-size', '4,4,50', '--json']);
    expect(t2.code, t2.out).toBeUndefined();
    const rep = JSON.parse(t2.stdout);
    expect(rep.classes).toEqual(['0', '255']);
    expect(rep.outputs).toEqual(['class_0', 'class_255']);
    expect(rep.featureConfig.dims).toBe(2);
    expect(rep.warnings).toEqual([]);
    // the npy has no voxel size: predicting without --voxel-size is a clear error
    const out = path.join(dir, 'pred');
    const bad = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--model', model, out, '--workers', '1']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/trained on voxels of \[4,4,50\].*pass --voxel-size 4,4,50/);
    const p = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--model', model, '--voxel-size', '4,4,50', out, '--workers', '1', '--json']);
    expect(p.code, p.out).toBeUndefined();
    const res = JSON.parse(p.stdout);
    expect(res.outputs).toEqual(['class_0', 'class_255']);
    expect(res.warnings).toEqual([]);
    const got = await (await PrecomputedLayer.open(out)).readBox(boxFromShape(raw.shape));
    expect(rocAuc((got.data as Float32Array).subarray(0, raw.voxels), Uint8Array.from(b, (c) => (c === 1 ? 1 : 0)))).toBeGreaterThan(0.9);
    // the uint16 model on uint8 data: warned (intensities), still written
    await writeNpy(path.join(dir, 'raw8.npy'), raw);
    const w = await wiring(['predict', '--raw', path.join(dir, 'raw8.npy'), '--model', model, '--voxel-size', '4,4,50', path.join(dir, 'p8'), '--workers', '1']);
    expect(w.code, w.out).toBeUndefined();
    expect(w.out).toMatch(/warning: the model was trained on uint16 raw, this raw is uint8/);
    expect(w.out).toMatch(/warning: raw intensities .* differ from the training raw's/);
    // a --bounds box off the default chunk grid: the chunks adapt (2-D model: one section per chunk)
    const pb = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--model', model, '--voxel-size', '4,4,50', '--bounds', '0:40,0:32,1:3', path.join(dir, 'pb'), '--workers', '1', '--json']);
    expect(pb.code, pb.out).toBeUndefined();
    const pbl = await PrecomputedLayer.open(path.join(dir, 'pb'));
    expect(pbl.info.scales[0].chunk_sizes[0]).toEqual([40, 32, 1]);
    const pbv = await pbl.readBox(boxFromShape([40, 32, 2], [0, 0, 1]));
    expect(Array.from(pbv.data as Float32Array)).toEqual(Array.from((await (await PrecomputedLayer.open(out)).readBox(boxFromShape([40, 32, 2], [0, 0, 1]))).data as Float32Array));
    expect(defaultChunk([64, 64, 64], box([0, 0, 25], [200, 100, 50]), boxFromShape([200, 100, 50]))).toEqual([64, 64, 25]);
    expect(defaultChunk([64, 64, 64], box([10, 0, 0], [30, 100, 50]), boxFromShape([200, 100, 50]))).toEqual([10, 64, 50]);
    // NaN in float raw: the block fails with the voxel named
    const nan = Volume.from('float32', raw.shape, Float32Array.from(raw16.data), { voxelSize: [4, 4, 50] });
    nan.data[3 + 40 * 2 + 40 * 32 * 1] = NaN;
    await writeNpy(path.join(dir, 'nan.npy'), nan);
    const n = await wiring(['predict', '--raw', path.join(dir, 'nan.npy'), '--model', model, '--voxel-size', '4,4,50', path.join(dir, 'pn'), '--workers', '1']);
    expect(n.code).toBe(2);
    expect(n.out).toMatch(/raw voxel \[3,2,1\] is NaN/);
  }, 60000);

  it('--calibrate-cut: cross-fits output smoothing, seeds and cut on the training volume; predict carries them and segment uses them', async () => {
    const dir = await tempDir();
    const { raw, seg } = syntheticEm([48, 32, 16], { cells: 10, seed: 9, voxelSize: [8, 8, 8] });
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    await writeNpy(path.join(dir, 'seg.npy'), seg);
    const model = path.join(dir, 'm.rf');
    // exact filters: on this small volume the cuts' VOIs below were chosen with them (recursive
    // filters leave one fold with equal VOIs for every cut)
    const common = ['--raw', path.join(dir, 'raw.npy'), '--voxel-size', '8,8,8', '-o', model, '--sigmas', '0.7,1.6', '--recursive-from', 'off', '--trees', '6', '--samples', '3000', '--threads', '1'];
    const bad = await wiring(['train-pixels', ...common, '--labels', path.join(dir, 'seg.npy'), '--calibrate-cut']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--calibrate-cut needs --gt/);
    // the default for --gt models (no flag); --no-calibrate-cut turns it off
    const none = await wiring(['train-pixels', ...common, '--gt', path.join(dir, 'seg.npy'), '--no-calibrate-cut', '--trees', '2', '--json']);
    expect(none.code, none.out).toBeUndefined();
    expect(JSON.parse(none.stdout).segment_threshold).toBeUndefined();
    // --labels models choose only for a membrane class among their labels (train-pixels-labels-choice.test.ts)
    const onLabels = await wiring(['train-pixels', ...common, '--labels', path.join(dir, 'seg.npy'), '--segment-choice', 'all', '--boundary-class', '99']);
    expect(onLabels.code).toBe(2);
    expect(onLabels.out).toMatch(/--boundary-class 99: not a class/);
    const badChoice = await wiring(['train-pixels', ...common, '--gt', path.join(dir, 'seg.npy'), '--segment-choice', 'some']);
    expect(badChoice.code).toBe(2);
    expect(badChoice.out).toMatch(/--segment-choice: expected all or cut/);
    const t = await wiring(['train-pixels', ...common, '--gt', path.join(dir, 'seg.npy'), '--segment-choice', 'all', '--json']);
    expect(t.code, t.out).toBeUndefined();
    const r = JSON.parse(t.stdout);
    const cal = r.cut_calibration;
    // two folds, the halves of x (the longest axis)
    expect(cal.folds.map((f: { train: string; test: string }) => [f.train, f.test])).toEqual([
      ['x 0:24, y 0:32, z 0:16', 'x 24:48, y 0:32, z 0:16'],
      ['x 24:48, y 0:32, z 0:16', 'x 0:24, y 0:32, z 0:16'],
    ]);
    // every output smoothing x seed candidate scored at every cut; the winner has the lowest mean VOI of all
    expect(cal.candidates.map((c: { variant: number; seeds: string }) => `${c.variant} ${c.seeds}`)).toEqual(
      OUTPUT_SIGMA_CANDIDATES.flatMap((s) => Object.keys(SEED_CANDIDATES).map((k) => `${s} ${k}`)));
    for (const c of cal.candidates) {
      expect(c.meanVoi).toHaveLength(cal.grid.length);
      expect(c.meanVoi.every((v: number) => Number.isFinite(v) && v >= 0)).toBe(true);
    }
    expect(new Set(cal.candidates[0].meanVoi).size).toBeGreaterThan(1); // the cuts differ
    expect(cal.default).toBe(0.7);
    const i = cal.grid.indexOf(r.segment_threshold);
    expect(i).toBeGreaterThanOrEqual(0);
    const best = Math.min(...cal.candidates.flatMap((c: { meanVoi: number[] }) => c.meanVoi));
    expect(cal.meanVoi[i]).toBe(best);
    expect(r.output_sigma).toBe(cal.outputSigma);
    const m = await PixelModel.load(model);
    expect(m.meta.segmentThreshold).toBe(r.segment_threshold);
    expect(m.meta.outputSigma ?? 0).toBe(cal.outputSigma);
    expect(m.meta.segmentSeeds).toEqual(cal.seeds === 'distance' ? undefined : SEED_CANDIDATES[cal.seeds]);
    // predict writes the cut (and non-default seeds) into the map's info, segment takes them unless given
    const out = path.join(dir, 'pred');
    const p = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--voxel-size', '8,8,8', '--model', model, out, '--workers', '1', '--json']);
    expect(p.code, p.out).toBeUndefined();
    const seedsInfo = cal.seeds === 'distance' ? {} : { segment_seeds: { seeds: 'minima', seed_sigma: 1, seed_connectivity: 'full', flood: 'smoothed' } };
    expect(JSON.parse(await fs.readFile(path.join(out, 'info'), 'utf8')).wiring).toEqual({ segment_threshold: r.segment_threshold, ...seedsInfo });
    const s = await wiring(['segment', '--boundaries', out, path.join(dir, 'seg'), '--json']);
    expect(s.code, s.out).toBeUndefined();
    expect(JSON.parse(s.stdout).threshold).toBe(r.segment_threshold);
    expect(JSON.parse(s.stdout).carried_seeds).toEqual(m.meta.segmentSeeds);
    const s2 = await wiring(['segment', '--boundaries', out, path.join(dir, 'seg2'), '--threshold', '0.61', '--json']);
    expect(JSON.parse(s2.stdout).threshold).toBe(0.61);
    // the default (--segment-choice cut): the default seeds and the cut only, at the smoothing chosen on AUC
    const c = await wiring(['train-pixels', ...common, '--gt', path.join(dir, 'seg.npy'), '--json']);
    expect(c.code, c.out).toBeUndefined();
    const rc = JSON.parse(c.stdout);
    expect(rc.cut_calibration.candidates.map((x: { variant: number; seeds: string }) => [x.variant, x.seeds])).toEqual([[rc.output_sigma, 'distance']]);
    expect(rc.segment_seeds).toBeUndefined();
  }, 240_000);

  it('runs an ONNX model blockwise', async () => {
    const dir = await tempDir();
    const { raw } = syntheticEm([24, 20, 12], { cells: 5, seed: 9 });
    await writeNpy(path.join(dir, 'raw.npy'), raw);
    const onnx = path.join(dir, 'two.onnx');
    // two outputs: x and 1 - x
    await fs.writeFile(onnx, buildOnnxModel({
      nodes: [
        { op: 'Neg', inputs: ['in'], outputs: ['neg'] },
        { op: 'Add', inputs: ['neg', 'one'], outputs: ['inv'] },
        { op: 'Concat', inputs: ['in', 'inv'], outputs: ['out'], attrs: { axis: 1 } },
      ],
      inputs: [{ name: 'in', shape: [1, 1, 'z', 'y', 'x'] }],
      outputs: [{ name: 'out', shape: [1, 2, 'z', 'y', 'x'] }],
      initializers: [{ name: 'one', dims: [1], data: Float32Array.of(1) }],
    }));
    const out = path.join(dir, 'cnn');
    const r = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--onnx', onnx, out, '--chunk', '8,8,4', '--block', '16,16,4', '--tile', '8,8,4', '--workers', '1', '--dtype', 'uint8', '--json']);
    expect(r.code, r.out).toBeUndefined();
    const got = await (await PrecomputedLayer.open(out)).readBox(boxFromShape([24, 20, 12]));
    expect(got.channels).toBe(2);
    const n = raw.voxels;
    for (let i = 0; i < n; i += 7) {
      expect(got.data[i]).toBe(raw.data[i]);
      expect(got.data[n + i]).toBe(255 - (raw.data[i] as number));
    }
  }, 60000);
});
