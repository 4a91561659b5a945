// `wiring demo` and `wiring run` end to end on generated data (the phantom), as a user runs them.
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLEFT_MIN_SIZES, CLEFT_THRESHOLDS, CUTS } from '../src/cli/commands/demo.js';
import { REPO_ROOT, tempDir } from './data.js';

const exec = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'wiring.js');

describe('wiring demo', () => {
  it('runs the whole pipeline on a small phantom and reports scores', async () => {
    const out = path.join(await tempDir('wiring-demo-'), 'demo');
    const { stdout } = await exec(process.execPath, [BIN, 'demo', '--no-serve', '--size', '96,96,24', '--train-size', '96,96,24', '--trees', '12', '--samples', '20000', '--out', out, '--json'], { maxBuffer: 1 << 26 });
    const r = JSON.parse(stdout);
    // thresholds come from the training/validation phantoms (other seeds), from the lists tried there
    expect(CUTS).toContain(r.chosen.agglomeration_threshold);
    expect(CLEFT_THRESHOLDS).toContain(r.chosen.cleft_threshold);
    expect(CLEFT_MIN_SIZES).toContain(r.chosen.cleft_min_size);
    expect(r.chosen.validation_voi.threshold).toBe(r.chosen.agglomeration_threshold);
    expect(r.counts.true_cells).toBeGreaterThan(0);
    for (const k of ['voi_split', 'voi_merge', 'arand']) {
      expect(Number.isFinite(r.scores[k]), k).toBe(true);
      expect(r.scores[k]).toBeGreaterThanOrEqual(0);
    }
    expect(r.scores.arand).toBeLessThanOrEqual(1);
    const ds = r.dataset;
    for (const layer of ['raw', 'probabilities', 'segmentation', 'supervoxels']) expect(existsSync(path.join(ds, layer, 'info')), layer).toBe(true);
    const segInfo = JSON.parse(await fs.readFile(path.join(ds, 'segmentation', 'info'), 'utf8'));
    expect(typeof segInfo.mesh).toBe('string');
    expect(typeof segInfo.skeletons).toBe('string');
    const { stdout: cells } = await exec(process.execPath, [BIN, 'query', path.join(ds, 'connectome.duckdb'), 'cells', '--format', 'json']);
    const rows = JSON.parse(cells);
    expect(rows.length).toBeGreaterThan(0);
    expect(typeof (rows[0].pt_root_id ?? rows.rows?.[0]?.[0])).toBe('string');
  }, 600_000);
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
