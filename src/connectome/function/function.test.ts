import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { tempDir } from '../../../test/data.js';
import { ConnectomeStore, type SynapseRow } from '../store.js';
import { coregister, type Landmark, applyTransform } from './coregister.js';
import { featureVsFunction, functionalJoin, likeToLike, targetFunction } from './structure-function.js';
import { syntheticWarp, synthesizeFunctionalTables } from './synthetic.js';
import { importAnnotationTable, listAnnotationTables } from './tables.js';

const open: ConnectomeStore[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function newStore(): Promise<{ store: ConnectomeStore; dir: string }> {
  const dir = await tempDir('wiring-function-');
  const store = await ConnectomeStore.open(path.join(dir, 'c.duckdb'));
  open.push(store);
  return { store, dir };
}

/**
 * n cells in a 400 µm cube; connection i->j with probability
 *   base · exp(-d²/2σ²) · (1 + like · cos 2Δθ)
 * With `smooth`, preferences follow x (nearby cells alike): distance alone then makes connected
 * pairs alike, which the distance-matched null must explain away.
 */
async function wiredStore(o: { n: number; like: number; smooth: boolean; seed: number; base?: number }) {
  const { store, dir } = await newStore();
  const rnd = mulberry32(o.seed);
  const pos = Array.from({ length: o.n }, () => [rnd() * 400e3, rnd() * 400e3, rnd() * 400e3] as [number, number, number]);
  const theta = pos.map((p) => (o.smooth ? ((p[0] / 400e3) * 180 + 10 * rnd()) % 180 : rnd() * 180));
  const ids = pos.map((_, i) => 864691135000000000n + BigInt(i) * 7919n);
  await store.insertCells(ids.map((id, i) => ({ id, pt_position: pos[i], cell_type: i % 5 === 0 ? 'inh' : 'exc', volume: 1e9 * (1 + theta[i] / 90) })));
  const syn: SynapseRow[] = [];
  let sid = 1n;
  for (let i = 0; i < o.n; i++)
    for (let j = 0; j < o.n; j++) {
      if (i === j) continue;
      const d = Math.hypot(pos[i][0] - pos[j][0], pos[i][1] - pos[j][1], pos[i][2] - pos[j][2]);
      const dth = ((theta[i] - theta[j]) * Math.PI) / 90;
      const p = (o.base ?? 0.5) * Math.exp(-(d * d) / (2 * 150e3 ** 2)) * (1 + o.like * Math.cos(dth));
      if (rnd() < p) {
        const k = 1 + Math.floor(rnd() * 3);
        for (let q = 0; q < k; q++) syn.push({ id: sid++, pre_pt_root_id: ids[i], post_pt_root_id: ids[j], pre_pt_position: pos[i], post_pt_position: pos[j], ctr_pt_position: pos[j], size: 100 });
      }
    }
  await store.insertSynapses(syn);
  const units = ids.map((_, i) => i + 1);
  await fs.writeFile(
    path.join(dir, 'coreg.csv'),
    ['id,valid,pt_root_id,session,scan_idx,unit_id,field,residual,score,operator', ...ids.map((id, i) => `${i + 1},t,${id},4,7,${units[i]},${1 + (i % 3)},${(rnd() * 3).toFixed(2)},0.9,anna`)].join('\n') + '\n',
  );
  await fs.writeFile(
    path.join(dir, 'tuning.csv'),
    ['session,scan_idx,unit_id,pref_ori,osi,reliability', ...ids.map((_, i) => `4,7,${units[i]},${((theta[i] * Math.PI) / 180).toFixed(6)},${(0.5).toFixed(2)},0.3`)].join('\n') + '\n',
  );
  await importAnnotationTable(store, path.join(dir, 'coreg.csv'), { name: 'coreg' });
  await importAnnotationTable(store, path.join(dir, 'tuning.csv'), { name: 'tuning' });
  return { store, dir, ids, theta };
}

describe('annotation tables (CAVE shapes kept whole)', () => {
  it('imports a coregistration table with every column, skips valid=f, and reports extra columns, duplicates and unknown cells', async () => {
    const { store, dir } = await newStore();
    await store.insertCells([{ id: 18446744073709551615n, pt_position: [1, 2, 3] }, { id: 5n, pt_position: [4, 5, 6] }]);
    const f = path.join(dir, 'coregistration_manual_v3.csv');
    await fs.writeFile(
      f,
      [
        'id,valid,pt_supervoxel_id,pt_root_id,pt_position,session,scan_idx,unit_id,field,residual,score,operator',
        '1,t,99,18446744073709551615,"[10 20 30]",4,7,11,3,1.5,0.9,anna',
        '2,t,98,5,"[1 1 1]",4,7,12,3,2.5,0.7,ben',
        '3,f,97,5,"[1 1 1]",4,7,13,3,2.5,0.7,ben',
        '4,t,96,77,"[2 2 2]",4,7,11,2,0.5,0.2,ben',
      ].join('\n') + '\n',
    );
    const r = await importAnnotationTable(store, f, { resolution: [4, 4, 40] });
    expect(r.kind).toBe('coregistration');
    expect(r.name).toBe('coregistration_manual_v3');
    expect(r.rows).toBe(3);
    expect(r.skipped).toEqual({ 'valid=false': 1 });
    expect(r.extra).toEqual(['operator']);
    expect(r.duplicate_keys).toBe(1); // unit 11 matched to two cells
    expect(r.unknown_cells).toBe(1); // root 77
    expect(r.columns).toMatchObject({ pt_root_id: 'UBIGINT', session: 'UBIGINT', unit_id: 'UBIGINT', residual: 'DOUBLE', operator: 'VARCHAR', pt_position_x: 'DOUBLE', valid: 'BOOLEAN' });
    const rows = await store.all(`SELECT pt_root_id, pt_position_x, pt_position_z, operator FROM ${r.table} ORDER BY id`);
    expect(rows[0]).toEqual({ pt_root_id: 18446744073709551615n, pt_position_x: 40, pt_position_z: 1200, operator: 'anna' });
    // the functional join drops the ambiguous unit and the cell not in the store
    const j = await functionalJoin(store, { coregistration: 'coregistration_manual_v3' });
    expect(j.report.ambiguous_units).toBe(1);
    expect(j.cells.map((c) => c.id)).toEqual([5n]);
    expect((await listAnnotationTables(store)).map((t) => [t.name, t.kind, t.rows])).toEqual([['coregistration_manual_v3', 'coregistration', 3]]);
    await expect(importAnnotationTable(store, f)).rejects.toThrow(/already exists; pass --replace/);
  });

  it('refuses non-numeric tuning values and a missing key column, naming file, line and column; the database is unchanged', async () => {
    const { store, dir } = await newStore();
    const f = path.join(dir, 'tuning.csv');
    await fs.writeFile(f, 'session,scan_idx,unit_id,pref_ori,osi\n4,7,1,0.5,0.3\n4,7,2,north,0.2\n');
    await expect(importAnnotationTable(store, f)).rejects.toThrow(/tuning.csv.*line 3, column pref_ori: "north" is not a number/);
    const g = path.join(dir, 'coreg.csv');
    await fs.writeFile(g, 'pt_root_id,session,unit_id\n1,4,1\n');
    await expect(importAnnotationTable(store, g, { kind: 'coregistration' })).rejects.toThrow(/needs column scan_idx/);
    expect(await listAnnotationTables(store)).toEqual([]);
    // renaming a column on the way in (a table as published with other names)
    await fs.writeFile(g, 'root,session,scan,unit,score\n1,4,7,1,0.5\n');
    const r = await importAnnotationTable(store, g, { rename: { root: 'pt_root_id', scan: 'scan_idx', unit: 'unit_id' } });
    expect(r.kind).toBe('coregistration');
    expect((await listAnnotationTables(store))[0].rename).toEqual({ root: 'pt_root_id', scan: 'scan_idx', unit: 'unit_id' });
  });
});

describe('like-to-like connectivity', () => {
  it('finds like-to-like wiring above the distance-matched null when the wiring rule has it', async () => {
    const { store } = await wiredStore({ n: 140, like: 0.8, smooth: false, seed: 3 });
    const r = await likeToLike(store, { coregistration: 'coreg', tuning: 'tuning', feature: 'orientation', bootstrap: 300 });
    expect(r.unit).toBe('deg');
    expect(r.cells).toBe(140);
    expect(r.pairs).toBe(140 * 139);
    expect(r.bins[0].p).toBeGreaterThan(r.bins[3].p * 1.5);
    expect(r.excess).toBeGreaterThan(0);
    expect(r.excess_ci[0], 'interval excludes 0').toBeGreaterThan(0);
    for (const b of r.bins) {
      expect(b.wilson[0]).toBeLessThanOrEqual(b.p);
      expect(b.wilson[1]).toBeGreaterThanOrEqual(b.p);
    }
  });

  it('explains away like-to-like that comes from proximity alone (tuning smooth in space, wiring by distance only)', async () => {
    const { store } = await wiredStore({ n: 140, like: 0, smooth: true, seed: 4 });
    const r = await likeToLike(store, { coregistration: 'coreg', tuning: 'tuning', feature: 'orientation', bootstrap: 300 });
    // the raw curve falls with orientation difference ...
    expect(r.bins[0].p).toBeGreaterThan(r.bins[3].p * 1.5);
    // ... but no more than distance predicts
    expect(r.excess_ci[0]).toBeLessThan(0);
    expect(r.excess_ci[1]).toBeGreaterThan(0);
    for (const b of r.bins) expect(b.ratio).toBeGreaterThan(0.6);
  });

  it('relates a morphology column and target tuning to function', async () => {
    const { store } = await wiredStore({ n: 60, like: 0, smooth: false, seed: 5 });
    const f = await featureVsFunction(store, { coregistration: 'coreg', tuning: 'tuning', property: 'pref_ori', feature: 'volume', bootstrap: 200 });
    expect(f.cells).toBe(60);
    expect(f.spearman).toBeGreaterThan(0.99); // volume was made from the preference
    const t = await targetFunction(store, { coregistration: 'coreg', tuning: 'tuning', property: 'osi', bootstrap: 100 });
    expect(t.map((x) => x.pre_type).sort()).toEqual(['exc', 'inh']);
    for (const row of t) expect(row.mean).toBeCloseTo(0.5, 6);
    await expect(likeToLike(store, { coregistration: 'coreg', tuning: 'tuning', feature: 'pref_nope' })).rejects.toThrow(/no numeric column pref_nope/);
    await expect(likeToLike(store, { coregistration: 'nope', tuning: 'tuning', feature: 'orientation' })).rejects.toThrow(/no annotation table "nope"/);
  });
});

describe('synthetic functional tables for a connectome', () => {
  it('writes MICrONS-shaped tables whose like-to-like strength the analysis recovers, and landmarks of a known warp', async () => {
    const found: number[] = [];
    for (const strength of [0, 1.5]) {
      const { store, dir } = await wiredStore({ n: 120, like: 0, smooth: false, seed: 11, base: 0.06 });
      const rep = await synthesizeFunctionalTables(store, path.join(dir, 'fn'), { strength, seed: 2 });
      expect(rep.coregistered).toBeGreaterThan(80);
      for (const t of ['coregistration', 'tuning', 'correlations']) await importAnnotationTable(store, path.join(dir, 'fn', `${t}.csv`), { name: `syn_${t}` });
      const r = await likeToLike(store, { coregistration: 'syn_coregistration', tuning: 'syn_tuning', feature: 'orientation', bootstrap: 200 });
      expect(r.report.tuning_without_cell).toBe(120 - rep.coregistered);
      found.push(r.excess);
      const c = await likeToLike(store, { coregistration: 'syn_coregistration', correlations: 'syn_correlations', feature: 'signal_correlation', bootstrap: 0 });
      expect(c.unit).toBe('r');
      if (strength === 0) expect(Math.abs(r.excess)).toBeLessThan(Math.max(0.05, (r.excess_ci[1] - r.excess_ci[0]) / 1.5));
      else {
        expect(r.excess_ci[0]).toBeGreaterThan(0);
        expect(c.bins[c.bins.length - 1].p).toBeGreaterThan(c.bins[0].p);
      }
      // landmarks: a thin-plate spline predicts held-out points of the warp
      const lines = (await fs.readFile(path.join(dir, 'fn', 'landmarks.csv'), 'utf8')).trim().split('\n').slice(1);
      const lms: Landmark[] = lines.map((l) => {
        const v = l.split(',');
        return { name: v[0], source: [+v[1], +v[2], +v[3]], target: [+v[4], +v[5], +v[6]] };
      });
      const fit = coregister(lms, 'tps');
      expect(fit.loo_median).toBeLessThan(coregister(lms, 'affine').loo_median);
      const q = applyTransform(fit.transform, [200e3, 200e3, 200e3]);
      const want = syntheticWarp([200e3, 200e3, 200e3]);
      expect(Math.hypot(q[0] - want[0], q[1] - want[1], q[2] - want[2])).toBeLessThan(1.5);
    }
    expect(found[1]).toBeGreaterThan(found[0]);
  });
});
