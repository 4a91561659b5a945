import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../core/atomic.js';
import { UsageError } from '../../core/errors.js';
import { mulberry32 } from '../../core/random.js';
import { pairSource } from '../query.js';
import type { ConnectomeStore } from '../store.js';
import type { Point3 } from './coregister.js';

/**
 * Functional tables for a connectome that has none (the phantom's), with a known answer:
 * each cell gets a preferred orientation drawn so that connected cells are alike with a chosen
 * strength β, by Gibbs sampling of
 *
 *     P(θ) ∝ exp(β Σ_{i~j} cos 2(θ_i − θ_j))       (i~j: connected either way)
 *
 * β = 0 gives independent preferences (no like-to-like); the analyses must then find none,
 * and for β > 0 they must find it. Written as CSV tables shaped like MICrONS's:
 *
 *   coregistration.csv  id, pt_root_id, session, scan_idx, unit_id, field, residual, score
 *   tuning.csv          session, scan_idx, unit_id, pref_ori (radians), pref_dir, osi, dsi, reliability
 *   correlations.csv    session, scan_idx, unit_id_a, unit_id_b, signal_corr, noise_corr
 *   landmarks.csv       name, em_x, em_y, em_z (nm), tp_x, tp_y, tp_z (µm, a known warp)
 *   truth.json          β, seed, the transform behind the landmarks
 */

export interface SynthesizeOptions {
  strength: number;
  seed?: number;
  /** Fraction of cells coregistered (default 0.8). */
  fraction?: number;
  /** Gibbs sweeps (default 60). */
  sweeps?: number;
  landmarks?: number;
}

export const SYNTH_DEFAULTS = { seed: 1, fraction: 0.8, sweeps: 60, landmarks: 30, session: 4, scanIdx: 7 };

export interface SynthesizeReport {
  cells: number;
  coregistered: number;
  connected_pairs: number;
  files: string[];
}

/** Preferred orientations (degrees, [0, 180)) for n nodes with undirected neighbour lists. */
export function gibbsOrientations(neighbours: number[][], beta: number, seed: number, sweeps: number): Float64Array {
  const K = 36;
  const rnd = mulberry32(seed);
  const n = neighbours.length;
  const theta = new Float64Array(n);
  for (let i = 0; i < n; i++) theta[i] = Math.floor(rnd() * K);
  const cosTab = new Float64Array(K);
  for (let d = 0; d < K; d++) cosTab[d] = Math.cos((2 * Math.PI * d) / K);
  const w = new Float64Array(K);
  for (let s = 0; s < sweeps; s++) {
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        let e = 0;
        for (const j of neighbours[i]) e += cosTab[(k - theta[j] + K) % K];
        w[k] = beta * e;
        if (w[k] > max) max = w[k];
      }
      let tot = 0;
      for (let k = 0; k < K; k++) tot += w[k] = Math.exp(w[k] - max);
      let r = rnd() * tot;
      let k = 0;
      while (k < K - 1 && (r -= w[k]) > 0) k++;
      theta[i] = k;
    }
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (theta[i] * 180) / K + rnd() * (180 / K);
  return out;
}

/** The warp behind the synthetic landmarks: EM nm -> 2-photon µm (rotation, scale, shift, a smooth bend). */
export function syntheticWarp(p: Point3): Point3 {
  const th = 0.2;
  const c = Math.cos(th), s = Math.sin(th);
  const [x, y, z] = [p[0] / 1000, p[1] / 1000, p[2] / 1000];
  return [0.98 * (c * x - s * y) + 20 + 1.5 * Math.sin(z / 15), 1.02 * (s * x + c * y) - 15, 0.9 * z + 100 + 1.0 * Math.cos(x / 20)];
}

const csv = (rows: (string | number | bigint)[][]) => rows.map((r) => r.join(',')).join('\n') + '\n';

export async function synthesizeFunctionalTables(store: ConnectomeStore, outDir: string, o: SynthesizeOptions): Promise<SynthesizeReport> {
  if (!(Number.isFinite(o.strength) && o.strength >= 0)) throw new UsageError(`strength ${o.strength}: expected a number >= 0`);
  const seed = o.seed ?? SYNTH_DEFAULTS.seed;
  const fraction = o.fraction ?? SYNTH_DEFAULTS.fraction;
  if (!(fraction > 0 && fraction <= 1)) throw new UsageError(`fraction ${fraction}: expected a number in (0, 1]`);
  const cells = await store.all('SELECT pt_root_id AS id, pt_position_x AS x, pt_position_y AS y, pt_position_z AS z FROM cells WHERE pt_position_x IS NOT NULL ORDER BY pt_root_id');
  if (cells.length < 2) throw new UsageError(`the store has ${cells.length} cells with a position; need at least 2`, store.file);
  const ids = cells.map((c) => BigInt(c.id as bigint));
  const index = new Map(ids.map((id, i) => [id, i]));
  const nbr: Set<number>[] = ids.map(() => new Set());
  const p = await pairSource(store, { excludeSelf: true, excludeUnassigned: true });
  const rows = await store.all(`SELECT pre_pt_root_id AS a, post_pt_root_id AS b FROM (${p.sql})`, p.params);
  let pairs = 0;
  for (const r of rows) {
    const i = index.get(BigInt(r.a as bigint)), j = index.get(BigInt(r.b as bigint));
    if (i === undefined || j === undefined) continue;
    pairs++;
    nbr[i].add(j);
    nbr[j].add(i);
  }
  const theta = gibbsOrientations(nbr.map((s) => [...s]), o.strength, seed, o.sweeps ?? SYNTH_DEFAULTS.sweeps);
  const rnd = mulberry32(seed + 1000);
  const { session, scanIdx } = SYNTH_DEFAULTS;
  const unit = ids.map((_, i) => i + 1);
  for (let i = unit.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [unit[i], unit[j]] = [unit[j], unit[i]];
  }
  const co = ids.map((_, i) => i).filter(() => rnd() < fraction);
  const osi = ids.map(() => 0.2 + 0.6 * rnd());
  await fs.mkdir(outDir, { recursive: true });
  const files: string[] = [];
  const put = async (name: string, text: string) => {
    const f = path.join(outDir, name);
    await writeFileAtomic(f, text);
    files.push(f);
  };
  await put(
    'coregistration.csv',
    csv([['id', 'pt_root_id', 'session', 'scan_idx', 'unit_id', 'field', 'residual', 'score'], ...co.map((i, k) => [k + 1, ids[i], session, scanIdx, unit[i], 1 + (unit[i] % 6), (2 * rnd()).toFixed(3), (0.5 + 0.5 * rnd()).toFixed(3)])]),
  );
  // every cell is imaged (tuning rows for all units); only some are coregistered
  await put(
    'tuning.csv',
    csv([
      ['session', 'scan_idx', 'unit_id', 'pref_ori', 'pref_dir', 'osi', 'dsi', 'reliability'],
      ...ids.map((_, i) => [session, scanIdx, unit[i], ((theta[i] * Math.PI) / 180).toFixed(6), (((theta[i] + (rnd() < 0.5 ? 0 : 180)) * Math.PI) / 180).toFixed(6), osi[i].toFixed(4), (0.5 * rnd()).toFixed(4), (0.1 + 0.5 * rnd()).toFixed(4)]),
    ]),
  );
  const corr: (string | number)[][] = [['session', 'scan_idx', 'unit_id_a', 'unit_id_b', 'signal_corr', 'noise_corr']];
  for (let a = 0; a < ids.length; a++)
    for (let b = a + 1; b < ids.length; b++) {
      const sig = osi[a] * osi[b] * Math.cos((2 * (theta[a] - theta[b]) * Math.PI) / 180) + 0.05 * (rnd() - 0.5);
      corr.push([session, scanIdx, unit[a], unit[b], sig.toFixed(5), (0.1 * (rnd() - 0.5)).toFixed(5)]);
    }
  await put('correlations.csv', csv(corr));
  const L = Math.min(o.landmarks ?? SYNTH_DEFAULTS.landmarks, cells.length);
  const lm: (string | number)[][] = [['name', 'em_x', 'em_y', 'em_z', 'tp_x', 'tp_y', 'tp_z']];
  for (let k = 0; k < L; k++) {
    const c = cells[Math.floor((k * cells.length) / L)];
    const em: Point3 = [Number(c.x), Number(c.y), Number(c.z)];
    const tp = syntheticWarp(em);
    lm.push([`L${k + 1}`, ...em.map((v) => v.toFixed(1)), ...tp.map((v) => v.toFixed(4))]);
  }
  await put('landmarks.csv', csv(lm));
  await put('truth.json', JSON.stringify({ strength: o.strength, seed, fraction, session, scan_idx: scanIdx, warp: 'syntheticWarp in src/connectome/function/synthetic.ts' }, null, 2) + '\n');
  return { cells: ids.length, coregistered: co.length, connected_pairs: pairs, files };
}
