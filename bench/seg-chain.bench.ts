// `npm run bench seg-chain`: the whole segmentation chain from raw, ours (the CLI with defaults) against
// a scikit-learn / scikit-image reference chain (bench/refs/ref_seg_chain.py), held out, in the same run
// on the same inputs (issue #17). docs/ACCURACY.md "The whole chain against a scikit-learn reference" has the table.
//
// Ours: `wiring train-pixels --gt` (or `--labels` on data with membrane labels) -> `wiring predict` ->
// `wiring segment` with defaults (only --trees/--samples set, the same for both chains), scored by
// `wiring evaluate` against the test volume's ground truth. The reference: ref_seg_chain.py (forest on
// ilastik-style features, seeded watershed, mean-boundary agglomeration, seeds and cut chosen out of fold
// on the training volume's halves). Its segmentation is scored by the same `wiring evaluate`.
//
// Pairs (SEGCHAIN_PAIRS, default all; chosen on -> measured on):
//  - gala-x: gala-medulla x 0:100 -> x 100:200 (same volume); gala-z: z 0:25 -> z 25:50 (same volume);
//  - isbi: ISBI 2012 slices 0-9 -> 10-19 (same stack), labels 1 = membrane, 2 = interior; each test
//    slice segmented on its own (ours: `wiring segment` on a one-section map per slice), ground truth =
//    4-connected interior components per slice; segment ids distinct per slice, so the 3-D score is the
//    voxel-weighted per-slice score;
//  - vnc-isbi: vnc-sstem stack1 x 0:512, y 0:512, sections 0-11 (4.6x4.6x45 nm; membrane = label values
//    0..128, the rest interior, ISBI's convention) -> ISBI slices 10-19 (another volume; predict with
//    --allow-voxel-size), segmented and scored as isbi;
//  - phantom: `wiring phantom` seed 1 -> seed 2 (SEGCHAIN_PHANTOM_SEEDS, default 1,2; SEGCHAIN_PHANTOM_SIZE, default 160,160,32, 8x8x30 nm).
// SEGCHAIN_TREES (50), SEGCHAIN_SAMPLES (100000): both chains; SEGCHAIN_TRAIN_ARGS, SEGCHAIN_REF: below; SEGCHAIN_DIR: scratch folder (default a
// temporary one, removed at the end unless SEGCHAIN_KEEP=1). Needs dist/ (`npx tsc -p tsconfig.json`).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Vec3, box } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { createHdf5Writer } from '../src/formats/hdf5.js';
import { writeNpy } from '../src/formats/npy.js';
import { connectedComponents } from '../src/kernels/components.js';
import { DATA, hasData, mapLabels, readAll, sections } from './accuracy-data.js';
import { runRefSegChain, wiringJson } from './seg-chain-ref.js';

const TREES = Number(process.env.SEGCHAIN_TREES ?? 50);
const SAMPLES = Number(process.env.SEGCHAIN_SAMPLES ?? 100_000);
const PAIRS = (process.env.SEGCHAIN_PAIRS ?? 'gala-x,gala-z,isbi,vnc-isbi,phantom').split(',').filter(Boolean);
const PHANTOM_SIZE = process.env.SEGCHAIN_PHANTOM_SIZE ?? '160,160,32';
// SEGCHAIN_PHANTOM_SEEDS: the phantom pair's training and test seeds (default 1,2)
const PHANTOM_SEEDS = (process.env.SEGCHAIN_PHANTOM_SEEDS ?? '1,2').split(',').map(Number);
if (PHANTOM_SEEDS.length !== 2 || !PHANTOM_SEEDS.every((s) => Number.isInteger(s) && s >= 0) || PHANTOM_SEEDS[0] === PHANTOM_SEEDS[1]) throw new Error(`SEGCHAIN_PHANTOM_SEEDS: expected two different seeds a,b, got ${process.env.SEGCHAIN_PHANTOM_SEEDS}`);
// SEGCHAIN_TRAIN_ARGS: extra `wiring train-pixels` options for ours (a variant, e.g. "--smooth-output 0";
// the row says so); SEGCHAIN_REF=0: ours only (the reference is deterministic: same inputs, same seed, same result)
const TRAIN_ARGS = (process.env.SEGCHAIN_TRAIN_ARGS ?? '').split(' ').filter(Boolean);
const RUN_REF = process.env.SEGCHAIN_REF !== '0';
// SEGCHAIN_SEGMENT_ARGS: `wiring segment` variants for ours, separated by ';' (an empty one = defaults), e.g.
// ";--seeds minima --seed-sigma 1 --seed-connectivity full --flood smoothed": each pair is trained and
// predicted once and every variant segments the same map (a row per variant). SEGCHAIN_REUSE=1: reuse a
// model and map already in SEGCHAIN_DIR from an earlier run (cpu_seconds then has no train/predict).
const SEGMENT_VARIANTS = (process.env.SEGCHAIN_SEGMENT_ARGS ?? '').split(';').map((v) => v.split(' ').filter(Boolean));
const REUSE = process.env.SEGCHAIN_REUSE === '1';
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;

const wiring = (...args: string[]): { json: Record<string, unknown>; cpu: number } => wiringJson(...args);

/** A volume as an HDF5 dataset `stack` with its voxel size (`resolution`), for the CLI. */
async function writeH5(file: string, v: Volume): Promise<string> {
  rmSync(file, { force: true });
  const w = await createHdf5Writer(file, 'stack', { dtype: v.dtype, shape: v.shape, channels: v.channels, voxelSize: v.voxelSize });
  w.write(v, 0);
  await w.commit();
  return `${file}#stack`;
}

/** Crop a box [x0,y0,z0]..[x1,y1,z1] as a new volume starting at 0. */
function cropTo(v: Volume, lo: Vec3, hi: Vec3): Volume {
  const c = v.crop(box(lo, hi));
  return new Volume(c.dtype, box([0, 0, 0], [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]]), c.data, c.channels, v.voxelSize);
}

/** Ground truth of a membrane-labelled stack: 4-connected components of `interior` per slice, ids distinct per slice. */
function interiorComponents(interior: Uint8Array, shape: Vec3, voxelSize: Vec3): Volume<'uint32'> {
  const [sx, sy, sz] = shape;
  const n = sx * sy;
  const out = Volume.zeros('uint32', box([0, 0, 0], shape), { voxelSize });
  let base = 0;
  for (let z = 0; z < sz; z++) {
    const c = connectedComponents(interior.subarray(z * n, (z + 1) * n), [sx, sy, 1], { connectivity: 6 });
    for (let i = 0; i < n; i++) out.data[z * n + i] = c.labels[i] ? c.labels[i] + base : 0;
    base += c.count;
  }
  return out;
}

interface Prepared {
  name: string;
  chosenOn: string;
  measuredOn: string;
  /** our inputs (HDF5 specs or layers) */
  ours: { trainRaw: string; train: ['--gt' | '--labels', string]; testRaw: string; channel?: number; perSlice: boolean; predictArgs?: string[] };
  /** reference inputs (.npy) and its options */
  ref: { trainRaw: string; trainGt: string; testRaw: string; args: string[] };
  testGt: string;
  testShape: Vec3;
  testVoxelSize: Vec3;
}

async function prepare(pair: string, dir: string): Promise<Prepared | undefined> {
  const f = (n: string): string => path.join(dir, n);
  const both = async (name: string, v: Volume): Promise<{ h5: string; npy: string }> => {
    await writeNpy(f(`${name}.npy`), v);
    return { h5: await writeH5(f(`${name}.h5`), v), npy: f(`${name}.npy`) };
  };
  if (pair === 'gala-x' || pair === 'gala-z') {
    if (!hasData('gala-medulla')) return undefined;
    const vs: Vec3 = [10, 10, 10];
    const raw = await readAll(`${DATA}/gala-medulla/train-image.h5#stack`, vs);
    const gt = await readAll(`${DATA}/gala-medulla/train-gt.h5#stack`, vs);
    const [sx, sy, sz] = raw.shape;
    const [a0, a1, b0, b1]: Vec3[] = pair === 'gala-x'
      ? [[0, 0, 0], [100, sy, sz], [100, 0, 0], [200, sy, sz]]
      : [[0, 0, 0], [sx, sy, 25], [0, 0, 25], [sx, sy, 50]];
    const tr = await both(`${pair}-tr`, cropTo(raw, a0, a1));
    const tg = await both(`${pair}-tg`, cropTo(gt, a0, a1));
    const te = await both(`${pair}-te`, cropTo(raw, b0, b1));
    const eg = await both(`${pair}-eg`, cropTo(gt, b0, b1));
    const span = pair === 'gala-x' ? ['x 0:100', 'x 100:200'] : ['z 0:25', 'z 25:50'];
    return {
      name: pair, chosenOn: `gala-medulla ${span[0]}`, measuredOn: `gala-medulla ${span[1]} (same volume)`,
      ours: { trainRaw: tr.h5, train: ['--gt', tg.h5], testRaw: te.h5, perSlice: false },
      ref: { trainRaw: tr.npy, trainGt: tg.npy, testRaw: te.npy, args: ['--dims', '3', '--mode', '3d'] },
      testGt: eg.npy, testShape: boxShapeOf(b0, b1), testVoxelSize: vs,
    };
  }
  if (pair === 'isbi' || pair === 'vnc-isbi') {
    if (!hasData('isbi2012') || (pair === 'vnc-isbi' && !hasData('vnc-sstem'))) return undefined;
    const ivs: Vec3 = [4, 4, 50];
    const iraw = await readAll(`${DATA}/isbi2012/train/image`, ivs);
    const ilab = await readAll(`${DATA}/isbi2012/train/label`, ivs);
    const te = await both(`${pair}-te`, sections(iraw, 10, 20));
    const teLab = sections(ilab, 10, 20);
    const eg = await both(`${pair}-eg`, interiorComponents(maskOf(teLab, (v) => v === 255), teLab.shape, ivs));
    let trRaw: Volume, trCls: Volume, trGt: Volume, chosenOn: string;
    const refLabel = ['--boundary-values', '1', '--interior-values', '2'];
    if (pair === 'isbi') {
      trRaw = sections(iraw, 0, 10);
      const lab = sections(ilab, 0, 10);
      trCls = mapLabels(lab, { 0: 1, 255: 2 });
      trGt = interiorComponents(maskOf(lab, (v) => v === 255), lab.shape, ivs);
      chosenOn = 'ISBI 2012 slices 0-9';
    } else {
      const vvs: Vec3 = [4.6, 4.6, 45];
      const vraw = await readAll(`${DATA}/vnc-sstem/stack1/raw`, vvs);
      const vlab = await readAll(`${DATA}/vnc-sstem/stack1/labels`, vvs);
      const lo: Vec3 = [0, 0, 0], hi: Vec3 = [512, 512, vraw.shape[2]];
      trRaw = cropTo(vraw, lo, hi);
      const lab = cropTo(vlab, lo, hi);
      const membrane = (v: number): boolean => v <= 128;
      const table: Record<number, number> = {};
      for (let v = 0; v < 256; v++) table[v] = membrane(v) ? 1 : 2;
      trCls = mapLabels(lab, table);
      trGt = interiorComponents(maskOf(lab, (v) => !membrane(v)), lab.shape, vvs);
      chosenOn = 'vnc-sstem stack1 x 0:512, y 0:512, sections 0-11';
    }
    const tr = await both(`${pair}-tr`, trRaw);
    const tl = await both(`${pair}-tl`, trCls);
    const tg = await both(`${pair}-tg`, trGt);
    return {
      name: pair, chosenOn, measuredOn: `ISBI 2012 slices 10-19${pair === 'isbi' ? ' (same stack)' : ' (another volume)'}`,
      ours: { trainRaw: tr.h5, train: ['--labels', tl.h5], testRaw: te.h5, channel: 0, perSlice: true, ...(pair === 'vnc-isbi' ? { predictArgs: ['--allow-voxel-size'] } : {}) },
      ref: { trainRaw: tr.npy, trainGt: tg.npy, testRaw: te.npy, args: ['--dims', '2', '--mode', 'per-slice', '--train-labels', tl.npy, ...refLabel] },
      testGt: eg.npy, testShape: teLab.shape, testVoxelSize: ivs,
    };
  }
  if (pair === 'phantom') {
    const [s1, s2] = PHANTOM_SEEDS;
    for (const s of [s1, s2]) if (!existsSync(f(`ph${s}/neurons`))) wiring('phantom', f(`ph${s}`), '--size', PHANTOM_SIZE, '--seed', String(s), '--overwrite');
    const vs: Vec3 = [8, 8, 30];
    const tag = s1 === 1 && s2 === 2 ? '' : `-${s1}-${s2}`;
    const tr = await both(`ph${tag}-tr`, await readAll(f(`ph${s1}/raw`), vs));
    const tg = await both(`ph${tag}-tg`, await readAll(f(`ph${s1}/neurons`), vs));
    const te = await both(`ph${tag}-te`, await readAll(f(`ph${s2}/raw`), vs));
    const egv = await readAll(f(`ph${s2}/neurons`), vs);
    const eg = await both(`ph${tag}-eg`, egv);
    return {
      name: `${pair}${tag}`, chosenOn: `phantom seed ${s1} (${PHANTOM_SIZE})`, measuredOn: `phantom seed ${s2} (${PHANTOM_SIZE}; another volume)`,
      ours: { trainRaw: f(`ph${s1}/raw`), train: ['--gt', f(`ph${s1}/neurons`)], testRaw: f(`ph${s2}/raw`), perSlice: false },
      ref: { trainRaw: tr.npy, trainGt: tg.npy, testRaw: te.npy, args: ['--dims', '2', '--mode', 'sv2d'] },
      testGt: eg.npy, testShape: egv.shape, testVoxelSize: vs,
    };
  }
  throw new Error(`SEGCHAIN_PAIRS: unknown pair '${pair}' (gala-x, gala-z, isbi, vnc-isbi, phantom)`);
}

function boxShapeOf(lo: Vec3, hi: Vec3): Vec3 {
  return [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
}

function maskOf(v: Volume, keep: (x: number) => boolean): Uint8Array {
  const d = v.data as ArrayLike<number>;
  const out = new Uint8Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = keep(d[i]) ? 1 : 0;
  return out;
}

function scoreOf(j: Record<string, unknown>): { voi: number; split: number; merge: number; arand: number } {
  const split = Number(j.voi_split), merge = Number(j.voi_merge);
  return { voi: r4(split + merge), split: r4(split), merge: r4(merge), arand: r4(Number(j.arand)) };
}

/** Our chain with defaults; per-slice: each test slice segmented from its own one-section map. */
async function ours(p: Prepared, dir: string): Promise<Array<Record<string, unknown>>> {
  const f = (n: string): string => path.join(dir, `${p.name}-ours${TRAIN_ARGS.length ? '-variant' : ''}-${n}`);
  const cpu: Record<string, number> = {};
  let carried: unknown = null, outputSigma: unknown = null, seeds: unknown = null, choice: unknown = null;
  if (REUSE && existsSync(f('model.rf')) && existsSync(f('map'))) {
    log(`${p.name}: reusing ${f('model.rf')} and its map`);
  } else {
    const t = wiring('train-pixels', '--raw', p.ours.trainRaw, p.ours.train[0], p.ours.train[1], '-o', f('model.rf'), '--trees', String(TREES), '--samples', String(SAMPLES), ...TRAIN_ARGS);
    cpu.train = t.cpu;
    carried = t.json.segment_threshold ?? null;
    outputSigma = t.json.output_sigma;
    seeds = t.json.segment_seeds ?? null;
    const cal = t.json.cut_calibration as { seeds?: string; outputSigma?: number; threshold?: number; meanVoi?: number[]; grid?: number[] } | undefined;
    if (cal?.meanVoi && cal.grid && cal.threshold !== undefined) choice = { seeds: cal.seeds, output_sigma: cal.outputSigma, cut: cal.threshold, oof_voi: cal.meanVoi[cal.grid.indexOf(cal.threshold)] };
    const pr = wiring('predict', '--raw', p.ours.testRaw, '--model', f('model.rf'), f('map'), '--overwrite', ...(p.ours.predictArgs ?? []));
    cpu.predict = pr.cpu;
  }
  const rows: Array<Record<string, unknown>> = [];
  for (const variant of SEGMENT_VARIANTS) {
    const r = await oursSegment(p, f, variant);
    rows.push({ ...r, segment_args: variant.join(' '), segment_threshold_carried: carried, segment_seeds_carried: seeds, out_of_fold_choice: choice, output_sigma: outputSigma, cpu_seconds: { ...cpu, segment: r.cpu_segment } });
    log(`${p.name}: ours [${variant.join(' ') || 'defaults'}] VOI ${r.voi} (${r.split} / ${r.merge}), ARAND ${r.arand}, ${r.supervoxels} -> ${r.segments}`);
  }
  return rows;
}

/** `wiring segment` (with `extra` options) on our map, scored; per-slice: each test slice from its own one-section map. */
async function oursSegment(p: Prepared, f: (n: string) => string, extra: string[]): Promise<Record<string, unknown>> {
  const cpu: Record<string, number> = {};
  const ch = [...(p.ours.channel !== undefined ? ['--channel', String(p.ours.channel)] : []), ...extra];
  let segSpec: string, segInfo: Record<string, unknown>;
  if (!p.ours.perSlice) {
    const s = wiring('segment', '--boundaries', f('map'), f('seg'), '--overwrite', ...ch);
    cpu.segment = s.cpu;
    segSpec = f('seg');
    segInfo = { supervoxels: s.json.supervoxels, segments: s.json.segments, method: s.json.method, threshold: s.json.threshold };
  } else {
    const map = await readAll(f('map'), p.testVoxelSize);
    // a one-section HDF5 map has no info: the map layer's carried cut and seeds are passed as options
    const carriedArgs = carriedOptions(f('map'), extra);
    const [sx, sy, sz] = map.shape;
    const all = Volume.zeros('uint32', box([0, 0, 0], [sx, sy, sz]), { voxelSize: p.testVoxelSize });
    let base = 0, sv = 0, segs = 0;
    const thresholds = new Set<unknown>();
    cpu.segment = 0;
    for (let z = 0; z < sz; z++) {
      const one = sections(map, z, z + 1);
      const spec = await writeH5(f(`map-z${z}.h5`), one);
      const s = wiring('segment', '--boundaries', spec, f(`seg-z${z}`), '--overwrite', ...ch, ...carriedArgs);
      cpu.segment += s.cpu;
      sv += Number(s.json.supervoxels); segs += Number(s.json.segments); thresholds.add(s.json.threshold);
      const seg = await readAll(f(`seg-z${z}`), p.testVoxelSize);
      // relabel to 1..k within the slice, offset by the slices before
      const ids = new Map<bigint | number, number>();
      const d = seg.data as ArrayLike<number | bigint>;
      for (let i = 0; i < sx * sy; i++) {
        let k = ids.get(d[i]);
        if (k === undefined) ids.set(d[i], (k = ids.size + 1));
        all.data[z * sx * sy + i] = base + k;
      }
      base += ids.size;
    }
    await writeNpy(f('seg.npy'), all);
    segSpec = f('seg.npy');
    segInfo = { supervoxels: sv, segments: segs, per_slice: true, threshold: [...thresholds] };
  }
  const e = wiring('evaluate', segSpec, p.testGt);
  return { ...scoreOf(e.json), ...segInfo, cpu_segment: cpu.segment };
}

/**
 * What `wiring segment` would take from the map layer's info (`wiring.segment_threshold`,
 * `wiring.segment_seeds`) as options, for the per-slice runs on one-section HDF5 copies of the map;
 * none that `extra` already sets.
 */
function carriedOptions(layer: string, extra: string[]): string[] {
  const file = path.join(layer, 'info');
  if (!existsSync(file)) return [];
  const w = (JSON.parse(readFileSync(file, 'utf8')) as { wiring?: { segment_threshold?: number; segment_seeds?: { seeds: string; seed_sigma?: number; seed_connectivity?: string; flood?: string } } }).wiring;
  const out: string[] = [];
  if (w?.segment_threshold !== undefined && !extra.includes('--threshold')) out.push('--threshold', String(w.segment_threshold));
  const s = w?.segment_seeds;
  if (s && !extra.some((a) => ['--seeds', '--seed-sigma', '--seed-connectivity', '--flood'].includes(a))) {
    out.push('--seeds', s.seeds);
    if (s.seed_sigma !== undefined) out.push('--seed-sigma', String(s.seed_sigma));
    if (s.seed_connectivity !== undefined) out.push('--seed-connectivity', s.seed_connectivity);
    if (s.flood !== undefined) out.push('--flood', s.flood);
  }
  return out;
}

function reference(p: Prepared, dir: string): Record<string, unknown> {
  const out = path.join(dir, `${p.name}-ref-seg.npy`);
  const { info, cpu } = runRefSegChain({ trainRaw: p.ref.trainRaw, trainGt: p.ref.trainGt, testRaw: p.ref.testRaw, out, trees: TREES, samples: SAMPLES, args: [...p.ref.args, '--out-map', path.join(dir, `${p.name}-ref-map.npy`)] });
  const e = wiring('evaluate', out, p.testGt);
  return { ...scoreOf(e.json), chosen: info.chosen, supervoxels: info.supervoxels, segments: info.segments, oof_best: info.oof_best, cpu_seconds: { total: cpu, ...info.cpu_seconds } };
}

export default async function main(): Promise<unknown> {
  const keep = process.env.SEGCHAIN_KEEP === '1' || !!process.env.SEGCHAIN_DIR;
  const dir = process.env.SEGCHAIN_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'wiring-segchain-'));
  mkdirSync(dir, { recursive: true });
  const rows: Record<string, unknown>[] = [];
  try {
    for (const pair of PAIRS) {
      log(`${pair}: preparing`);
      const p = await prepare(pair, dir);
      if (!p) {
        console.log(`${pair}: skipped (data not in ${DATA})`);
        continue;
      }
      log(`${pair}: ours (CLI defaults, ${TREES} trees, ${SAMPLES} samples)`);
      const os_ = await ours(p, dir);
      let r: Record<string, unknown> | undefined;
      if (RUN_REF) {
        log(`${pair}: reference (ref_seg_chain.py)`);
        r = reference(p, dir);
        log(`${pair}: reference VOI ${r.voi} (${r.split} / ${r.merge}), ARAND ${r.arand}, chosen ${JSON.stringify(r.chosen)}`);
      }
      for (const o of os_) {
        const row = { pair, chosen_on: p.chosenOn, measured_on: p.measuredOn, ours_train_args: TRAIN_ARGS.join(' '), ours: o, ...(r ? { reference: r } : {}) };
        console.log(JSON.stringify(row));
        rows.push(row);
      }
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  console.log('\npair | chosen on -> measured on | ours segment args | ours VOI (split / merge), ARAND | reference VOI (split / merge), ARAND, cut');
  for (const row of rows as Array<{ pair: string; chosen_on: string; measured_on: string; ours: Record<string, number>; reference: Record<string, unknown> & { chosen: { cut: number; seeds: string } } }>) {
    const o = row.ours, r = row.reference as unknown as (Record<string, number> & { chosen: { cut: number; seeds: string } }) | undefined;
    console.log(`${row.pair} | ${row.chosen_on} -> ${row.measured_on} | ${String(o.segment_args) || 'defaults'} | ${o.voi} (${o.split} / ${o.merge}), ${o.arand} | ${r ? `${r.voi} (${r.split} / ${r.merge}), ${r.arand}, ${r.chosen.seeds} cut ${r.chosen.cut}` : 'not run'}`);
  }
  return { trees: TREES, samples: SAMPLES, ours_train_args: TRAIN_ARGS.join(' '), ours_segment_variants: SEGMENT_VARIANTS.map((v) => v.join(' ')), rows };
}
