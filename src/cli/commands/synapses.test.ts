import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../../../test/cli-in-process.js';
import { tempDir } from '../../../test/data.js';
import type { Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { writeNpy } from '../../formats/npy.js';
import { openSource } from '../../formats/open.js';
import { boxFromShape } from '../../core/box.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { register as phantom } from './phantom.js';
import { register } from './synapses.js';

const cli = (args: string[], withName = true): Promise<string> => runInProcess([register, phantom], [...(withName ? ['synapses'] : []), ...args]);

/** Three cell pairs stacked in y, each touching at x = 11..12 with a cleft (see the first test); optional decoy clefts. */
async function pairsFixture(dir: string, decoys = false) {
  // three cell pairs stacked in y; each pair touches at a membrane x = 11..12 with a cleft;
  // vesicles on the left in pairs 0 and 2, on the right in pair 1
  const shape: Vec3 = [24, 48, 8];
  const n = shape[0] * shape[1] * shape[2];
  const seg = new BigUint64Array(n);
  const cleft = new Float32Array(n);
  const ves = new Uint8Array(n);
  const base = 1n << 58n;
  for (let z = 0; z < 8; z++)
    for (let y = 0; y < 48; y++)
      for (let x = 0; x < 24; x++) {
        const i = x + 24 * (y + 48 * z);
        const pair = Math.floor(y / 16);
        seg[i] = x < 11 ? base + BigInt(2 * pair) : x > 12 ? base + BigInt(2 * pair + 1) : 0n;
        const yy = y % 16;
        if (yy >= 5 && yy < 10 && z >= 2 && z < 6) {
          if (x === 11 || x === 12) cleft[i] = 0.9;
          const left = pair !== 1;
          if ((left && x >= 7 && x < 10) || (!left && x >= 14 && x < 17)) ves[i] = 200;
        }
        // decoys: a faint cleft-like patch (pair 0, y 12..14) and a 2-voxel speck (pair 2, y 44), both with vesicles
        if (decoys && x >= 7 && x <= 12 && z >= 2 && z < 6 && ((y >= 12 && y < 15) || (y === 44 && z === 3))) {
          if (x >= 11) cleft[i] = y === 44 ? (x === 11 ? 0.9 : 0) : 0.35;
          else if (x < 10) ves[i] = 200;
        }
      }
  const files = { seg: path.join(dir, 'seg.npy'), clefts: path.join(dir, 'clefts.npy'), ves: path.join(dir, 'ves.npy') };
  await writeNpy(files.seg, Volume.from('uint64', shape, seg));
  await writeNpy(files.clefts, Volume.from('float32', shape, cleft));
  await writeNpy(files.ves, Volume.from('uint8', shape, ves));
  const gtDb = path.join(dir, 'gt.duckdb');
  const gt = await ConnectomeStore.open(gtDb);
  await gt.insertSynapses(
    [0, 1, 2].map((p) => {
      const left = base + BigInt(2 * p);
      const right = left + 1n;
      const [pre, post] = p === 1 ? [right, left] : [left, right];
      const px = p === 1 ? 13.5 : 10.5;
      const qx = p === 1 ? 10.5 : 13.5;
      const y = 16 * p + 7.5;
      return { id: BigInt(p + 1), pre_pt_root_id: pre, post_pt_root_id: post, pre_pt_position: [px, y, 4], post_pt_position: [qx, y, 4], ctr_pt_position: [12, y, 4], size: 40 };
    }),
  );
  await gt.close();
  return { files, gtDb, base };
}

describe('wiring synapses', () => {
  it('takes the cleft rule carried by the map (info wiring.object_rules) when no threshold is given; flags win', async () => {
    const dir = await tempDir('wiring-syncli-rule-');
    const { files } = await pairsFixture(dir, true);
    // the decoy clefts: a faint patch (p 0.35) and a 2-voxel speck (p 0.9); the rule drops both
    const layerDir = path.join(dir, 'clefts');
    const src = await openSource(files.clefts);
    const vol = await src.read(boxFromShape([24, 48, 8]));
    await src.close();
    const info = makeInfo({ type: 'image', dtype: 'float32', shape: [24, 48, 8], voxelSize: [1, 1, 1], chunkSize: [24, 48, 8] });
    (info as unknown as Record<string, unknown>).wiring = { object_rules: { 0: { output: 'class_3', high: 0.8, low: 0.5, min_size: 5 } } };
    await (await PrecomputedLayer.create(layerDir, info)).writeBox(vol);
    const common = [files.seg, '--partner-radius', '2', '--vesicle-radius', '6', '--workers', '1', '--json'];
    const carried = JSON.parse(await cli([path.join(dir, 'a.duckdb'), '--clefts', layerDir, '--vesicles', files.ves, '--segmentation', ...common]));
    expect(carried.carried_rules.clefts).toEqual({ high: 0.8, low: 0.5, minSize: 5 });
    expect([carried.threshold, carried.low_threshold, carried.min_size]).toEqual([0.8, 0.5, 5]);
    expect(carried.synapses).toBe(3);
    const given = JSON.parse(await cli([path.join(dir, 'b.duckdb'), '--clefts', layerDir, '--vesicles', files.ves, '--threshold', '0.3', '--min-size', '1', '--segmentation', ...common]));
    expect([given.threshold, given.min_size, given.low_threshold]).toEqual([0.3, 1, undefined]);
    expect(given.synapses).toBeGreaterThan(3);
  });

  it('detects synapses between cell pairs blockwise, stores them, scores against ground truth', async () => {
    const dir = await tempDir('wiring-syncli-');
    const { files, gtDb, base } = await pairsFixture(dir);
    const db = path.join(dir, 'out.duckdb');
    const out = await cli([
      db, '--clefts', files.clefts, '--segmentation', files.seg, '--vesicles', files.ves,
      '--partner-radius', '2', '--vesicle-radius', '6', '--block', '16,16,8', '--margin', '10,10,4', '--workers', '1',
      '--ground-truth', gtDb, '--max-distance', '4', '--json',
    ]);
    const res = JSON.parse(out);
    expect(res.synapses).toBe(3);
    expect(res.organelles).toBe(3);
    expect(res.truncated).toBe(0);
    expect(res.partners).toMatchObject({ tp: 3, fp: 0, fn: 0, fscore: 1 });
    const store = await ConnectomeStore.open(db);
    try {
      const rows = await store.all('SELECT pre_pt_root_id AS a, post_pt_root_id AS b, size FROM synapses ORDER BY pre_pt_root_id');
      expect(rows).toEqual([
        { a: base, b: base + 1n, size: 40 },
        { a: base + 3n, b: base + 2n, size: 40 },
        { a: base + 4n, b: base + 5n, size: 40 },
      ]);
      const hosts = await store.all('SELECT host_root_id FROM organelles ORDER BY host_root_id');
      expect(hosts.map((h) => h.host_root_id)).toEqual([base, base + 3n, base + 4n]);
    } finally {
      await store.close();
    }
  });

  it('--sweep-thresholds chooses the cleft threshold and size filter by partner F-score, then detects with them', async () => {
    const dir = await tempDir('wiring-synsweep-');
    const { files, gtDb } = await pairsFixture(dir, true);
    const common = [
      '--clefts', files.clefts, '--segmentation', files.seg, '--vesicles', files.ves,
      '--partner-radius', '2', '--vesicle-radius', '6', '--workers', '1', '--ground-truth', gtDb, '--max-distance', '4', '--json',
    ];
    // the faint decoy is found at 0.3, the speck passes a 1-voxel size filter: both are false positives
    const loose = JSON.parse(await cli([path.join(dir, 'loose.duckdb'), ...common, '--threshold', '0.3', '--min-size', '1']));
    expect(loose.synapses).toBe(5);
    expect(loose.partners).toMatchObject({ tp: 3, fp: 2 });
    const res = JSON.parse(await cli([path.join(dir, 'swept.duckdb'), ...common, '--threshold', '0.3', '--min-size', '1', '--sweep-thresholds', '0.3,0.5,0.95', '--sweep-min-sizes', '1,10']));
    expect(res.sweep.rows.length).toBe(6);
    expect(res.sweep.best).toMatchObject({ threshold: 0.5, minSize: 10, fscore: 1 });
    expect(res.sweep.rows.find((r: { threshold: number; minSize: number }) => r.threshold === 0.3 && r.minSize === 1)).toMatchObject({ detected: 5, fp: 2 });
    expect([res.threshold, res.min_size]).toEqual([0.5, 10]);
    expect(res.synapses).toBe(3);
    expect(res.partners).toMatchObject({ tp: 3, fp: 0, fn: 0 });
    await expect(cli([path.join(dir, 'x.duckdb'), '--clefts', files.clefts, '--segmentation', files.seg, '--sweep-thresholds', '0.5'])).rejects.toThrow(/--ground-truth/);
    await expect(cli([path.join(dir, 'y.duckdb'), ...common, '--sweep-thresholds', '0.5,2'])).rejects.toThrow(/--sweep-thresholds "0.5,2": expected/);
  });

  it('on the phantom: ground-truth clefts and vesicles give every ground-truth synapse with its partners', async () => {
    const dir = await tempDir('wiring-synph-');
    const ds = path.join(dir, 'ph');
    // seed 12: both ground-truth clefts are larger than --min-size (seed 7's phantom has one cut to 1 voxel by a face)
    await cli(['phantom', ds, '--size', '128,128,24', '--seed', '12', '--workers', '1', '--json'], false);
    const gt = await ConnectomeStore.open(path.join(ds, 'connectome.duckdb'), { readOnly: true });
    const nGt = await gt.count('synapses');
    await gt.close();
    expect(nGt).toBeGreaterThan(0);
    const res = JSON.parse(
      await cli([
        path.join(dir, 'syn.duckdb'), '--clefts', path.join(ds, 'clefts'), '--segmentation', path.join(ds, 'neurons'), '--vesicles', path.join(ds, 'vesicles'),
        '--partner-radius', '40', '--vesicle-radius', '200', '--min-size', '5', '--workers', '1',
        '--ground-truth', path.join(ds, 'connectome.duckdb'), '--gt-clefts', path.join(ds, 'clefts'), '--json',
      ]),
    );
    expect(res.synapses).toBe(nGt);
    expect(res.partners).toMatchObject({ tp: nGt, fp: 0, fn: 0, fscore: 1 });
    expect(res.clefts.cremiScore).toBe(0);
  }, 120_000);
});
