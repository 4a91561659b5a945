// `wiring demo` and `wiring run` end to end on generated data (the phantom), as a user runs them.
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLEFT_MIN_SIZES, CLEFT_THRESHOLDS, CUTS, DEMO_DEFAULTS, carriedFilter, demoSteps } from '../src/cli/commands/demo.js';
import type { LabelArray } from '../src/kernels/components.js';
import { evaluateSegmentation } from '../src/metrics/segmentation.js';
import { readWhole } from '../src/stages/segment/io.js';
import { REPO_ROOT, tempDir } from './data.js';

const exec = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'wiring.js');

/**
 * Bounds on the demo's scores for its fixed seed and the sizes below (96x96x24 test phantom,
 * 12 trees, 20000 samples). Measured 2026-12-06 on that phantom (under load; the pipeline is
 * seeded): VOI split 0.708, merge 0.536, ARAND 0.106, 60 segments for 45 true cells; after the
 * phantom's class change (basket axons, glia; docs/PHANTOM.md) VOI split 0.426, merge 0.618,
 * ARAND 0.147, 46 segments for 45 true cells. A single
 * segment scores VOI merge 4.10, ARAND 0.82; every voxel its own segment VOI split 13.6,
 * ARAND 1.00. The bounds leave 1.7-3x margin over the measured scores (unchanged by the class change).
 */
const BOUNDS = { voi_split: 1.4, voi_merge: 1.1, voi: 2.0, arand: 0.25 };

function passes(s: { voi_split: number; voi_merge: number; arand: number }): boolean {
  const ok = (v: number, max: number) => Number.isFinite(v) && v >= 0 && v <= max;
  return ok(s.voi_split, BOUNDS.voi_split) && ok(s.voi_merge, BOUNDS.voi_merge) && ok(s.voi_split + s.voi_merge, BOUNDS.voi) && ok(s.arand, BOUNDS.arand);
}

describe('wiring demo', () => {
  it('runs the whole pipeline on a small phantom and reports scores', async () => {
    const out = path.join(await tempDir('wiring-demo-'), 'demo');
    const { stdout } = await exec(process.execPath, [BIN, 'demo', '--no-serve', '--size', '96,96,24', '--train-size', '96,96,24', '--validation-size', '96,96,24', '--trees', '12', '--samples', '20000', '--train-synapse-density', '6', '--out', out, '--json'], { maxBuffer: 1 << 26 });
    const r = JSON.parse(stdout);
    // thresholds come from the training/validation phantoms (other seeds), from the lists tried there
    expect(CUTS).toContain(r.chosen.agglomeration_threshold);
    // this small training phantom holds too few true clefts for the cleft filter (the default
    // demo's does): the fallback, a cleft threshold swept on the training + validation phantoms
    expect(r.chosen.cleft_filter).toBeNull();
    expect(r.chosen.cleft_filter_skipped).toMatch(/fewer than the \d+ the cleft filter needs/);
    expect(CLEFT_THRESHOLDS).toContain(r.chosen.cleft_threshold);
    expect(CLEFT_MIN_SIZES).toContain(r.chosen.cleft_min_size);
    expect(r.chosen.validation_voi.threshold).toBe(r.chosen.agglomeration_threshold);
    expect(r.counts.true_cells).toBeGreaterThan(0);
    // Scores within bounds for this fixed seed, and the bounds mean something: a single segment
    // and a segmentation with every voxel split, computed here on the same truth, fail them.
    expect(passes(r.scores), `scores ${JSON.stringify(r.scores)} within ${JSON.stringify(BOUNDS)}`).toBe(true);
    const { vol: truth } = await readWhole(path.join(r.truth, 'neurons'));
    const gt = truth.data as LabelArray;
    const single = evaluateSegmentation(new Uint32Array(gt.length).fill(1), gt);
    const split = evaluateSegmentation(Uint32Array.from({ length: gt.length }, (_, i) => i + 1), gt);
    expect(passes(single), `a single segment ${JSON.stringify(single)}`).toBe(false);
    expect(passes(split), `all voxels split ${JSON.stringify(split)}`).toBe(false);
    // Partner F1 has no bound here: this small phantom holds 2 true synapses (F1 0.33 measured)
    // and the counts are checked instead. The training and validation phantoms are made
    // denser in synapses (--train-synapse-density 6: at the demo's default 3 this 96x96x24 training
    // phantom holds 1 synapse and the validation phantom none, and nothing was detected); with 6,
    // 10 clefts were detected for the 2 true, partner recall 1 (measured 2026-12-06).
    expect(r.counts.synapses_true).toBe(2);
    expect(r.counts.synapses_detected).toBeGreaterThan(0);
    expect(r.scores.synapse_partner_f1).toBeGreaterThanOrEqual(0);
    // every kind of organelle counted on both sides, the truth's from the phantom's table
    expect(r.counts.organelles_true.mitochondrion).toBeGreaterThan(0);
    expect(r.counts.organelles_true.vesicle_cloud).toBeGreaterThan(0);
    expect(Number.isInteger(r.counts.organelles_detected.mitochondrion ?? 0)).toBe(true);
    expect(r.counts.segments).toBeGreaterThanOrEqual(r.counts.true_cells / 2);
    expect(r.counts.segments).toBeLessThanOrEqual(r.counts.true_cells * 3);
    const ds = r.dataset;
    for (const layer of ['raw', 'probabilities', 'segmentation', 'supervoxels']) expect(existsSync(path.join(ds, layer, 'info')), layer).toBe(true);
    const segInfo = JSON.parse(await fs.readFile(path.join(ds, 'segmentation', 'info'), 'utf8'));
    expect(typeof segInfo.mesh).toBe('string');
    expect(typeof segInfo.skeletons).toBe('string');
    const { stdout: cells } = await exec(process.execPath, [BIN, 'query', path.join(ds, 'connectome.duckdb'), 'cells', '--format', 'json']);
    const rows = JSON.parse(cells);
    expect(rows.length).toBeGreaterThan(0);
    const { stdout: syn } = await exec(process.execPath, [BIN, 'query', path.join(ds, 'connectome.duckdb'), 'synapses', '--format', 'json']);
    expect(JSON.parse(syn).length, 'the synapses table holds what the demo reported').toBe(r.counts.synapses_detected);
    expect(typeof (rows[0].pt_root_id ?? rows.rows?.[0]?.[0])).toBe('string');
  }, 600_000);
});

describe('demo steps: the cleft filter the model carries, else the swept threshold', () => {
  // a 5-class train-pixels result as the demo's `train` step returns it, with or without a filter
  const trainResult = (filter: boolean) => ({
    classes: [1, 2, 3, 4, 5],
    object_rules: { class_3: { high: 0.5, low: 0.5, minSize: 10, ...(filter ? { filter: { oof: { f1: 0.4 }, candidates: { high: 0.3 }, cut: 0.5 } } : { filterSkipped: '24 true clefts in the training volumes, fewer than the 50 the cleft filter needs' }) } },
  });
  const steps = demoSteps('out', [64, 64, 8], [8, 8, 30], 1, { trees: 2, samples: 100 });
  const step = (name: string) => steps.find((s) => s.name === name)!;
  const results = (filter: boolean) => ({ train: trainResult(filter), cut: { threshold: 0.5 } });

  it('trains the 5-class model with the training phantom\'s neurons, on a training phantom larger than the validation one', () => {
    const args = step('train').args as string[];
    expect(args[args.indexOf('--segmentation') + 1]).toBe(path.join('out', 'train', 'neurons'));
    const size = (name: string) => (step(name).args as string[])[(step(name).args as string[]).indexOf('--size') + 1];
    expect(size('phantom_train')).toBe(DEMO_DEFAULTS.trainSize.join(','));
    expect(size('phantom_val')).toBe(DEMO_DEFAULTS.validationSize.join(','));
    // auto-context only when asked (measured: no gain for the demo, docs/ACCURACY.md)
    expect(args).not.toContain('--auto-context');
    const ac = demoSteps('out', [64, 64, 8], [8, 8, 30], 1, { trees: 2, samples: 100, autoContext: true }).find((s) => s.name === 'train')!.args as string[];
    expect(ac).toContain('--auto-context');
  });

  it('with a carried filter: no fold run, no sweep, and synapses gets no rule (so it applies the filter)', async () => {
    const r: Record<string, any> = results(true);
    expect(carriedFilter(r.train)).toEqual({ out_of_fold: { f1: 0.4 }, candidates: { high: 0.3 }, cut: 0.5 });
    for (const name of ['train_a', 'predict_a', 'train_b', 'predict_b']) expect(await step(name).run!(r)).toEqual({ skipped: 'the model carries a cleft filter' });
    r.cleft_params = await step('cleft_params').run!(r);
    expect(r.cleft_params).toMatchObject({ threshold: null, min_size: null, sweep: null });
    const args = (step('synapses').args as (r: Record<string, any>) => string[])(r);
    expect(args).toContain('--segmentation');
    expect(args).not.toContain('--threshold');
    expect(args).not.toContain('--min-size');
  });

  it('without a filter: synapses gets the swept threshold and size', () => {
    const r: Record<string, any> = { ...results(false), cleft_params: { threshold: 0.15, min_size: 40, sweep: { rows: [], best: null } } };
    expect(carriedFilter(r.train)).toBeUndefined();
    const args = (step('synapses').args as (r: Record<string, any>) => string[])(r);
    expect(args[args.indexOf('--threshold') + 1]).toBe('0.15');
    expect(args[args.indexOf('--min-size') + 1]).toBe('40');
  });
});

describe('wiring run', () => {
  it('rejects a config with a clear error naming the file and field', async () => {
    const dir = await tempDir('wiring-run-');
    const cfg = path.join(dir, 'config.json');
    await fs.writeFile(cfg, JSON.stringify({ raw: 'x.h5#raw', out: path.join(dir, 'ds'), pixel_model: 'm', voxelsize: [1, 1, 1] }));
    const err = await exec(process.execPath, [BIN, 'run', cfg]).then(() => null, (e) => e as { stderr: string; code: number });
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain(cfg);
    expect(err?.stderr).toMatch(/unknown field "voxelsize"/);
  });
});
