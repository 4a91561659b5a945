// Segment benchmark on the synthetic volume of kernels.bench.ts (gen_volume.py, 64x256x256 z,y,x by
// default), one run each, same input, single thread:
//  - seeded watershed vs skimage.segmentation.watershed and vigra watershedsNew (ref_watershed.py,
//    threshold markers 0.08 on the sigma-1 smoothed map, min seed size 20, flood of the original map);
//    outputs compared voxel by voxel (labels are marker numbers in raster order on both sides).
//    Ours: the scan flood (first and second call) and the bucket-queue flood with ties: 'fifo'.
//  - metrics (VOI + both ARANDs) vs scikit-image (ref_metrics.py), values compared.
//  - agglomeration: RAG + mean-boundary merge tree + 6 threshold cuts, Mvox/s (waterz is not installed
//    here; the issue quotes 0.55 Mvox/s for 6 thresholds on this machine).
// Rates are from process CPU seconds on both sides (the machine is shared and heavily loaded).
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { evaluateSegmentation } from '../src/metrics/segmentation.js';
import { gaussianFilter } from '../src/kernels/filters.js';
import { _useReferenceScanFlood, seededWatershed, thresholdSeeds } from '../src/kernels/watershed/index.js';
import { buildRag } from '../src/stages/segment/rag.js';
import { agglomerate, cutTree, meanScorer, relabel } from '../src/stages/segment/agglomerate.js';
import { readRaw, ref, refMvox, syntheticVolume, time } from './kernels.bench.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Vec3 } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { compactLabels } from '../src/kernels/components.js';
import { readWhole } from '../src/stages/segment/io.js';
import { boundaryMaps, computeAgglomeration, computeSupervoxels, DEFAULT_SUPERVOXELS } from '../src/stages/segment/pipeline.js';
import { supervoxelBodies, trainAgglomeration } from '../src/stages/segment/learned.js';

const GALA = process.env.WIRING_DATA ? path.join(process.env.WIRING_DATA, 'gala-medulla') : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/data/gala-medulla');

function cropX<T extends Float32Array | Uint32Array>(a: T, shape: Vec3, x0: number, x1: number): T {
  const [sx, sy, sz] = shape;
  const w = x1 - x0;
  const out = new (a.constructor as new (n: number) => T)(w * sy * sz);
  for (let z = 0; z < sz; z++) for (let y = 0; y < sy; y++) out.set(a.subarray(z * sx * sy + y * sx + x0, z * sx * sy + y * sx + x1) as never, z * w * sy + y * w);
  return out;
}

/**
 * Accuracy on gala-medulla (train volume only is public): every agglomeration method from gala's own
 * p1 probabilities, starting from (a) gala's ws supervoxels and (b) our supervoxels (wiring segment
 * defaults). Unsupervised methods run with their default thresholds (not tuned here); the learned
 * method is trained on one x-half and scored on the other (both ways), the others are scored on the
 * same halves and on the whole volume.
 */
export async function accuracy(): Promise<Record<string, unknown>> {
  if (!existsSync(GALA)) return { skipped: `${GALA} not found` };
  const [{ vol: pv }, { vol: wv }, { vol: gv }] = await Promise.all(['p1', 'ws', 'gt'].map((k) => readWhole(path.join(GALA, `train-${k}.h5#stack`))));
  const shape = pv.shape;
  const p1 = boundaryMaps(pv).boundary;
  const gt = compactLabels(gv.data as Int32Array).labels; // relabelling does not change any score
  const ws = compactLabels(wv.data as Int32Array).labels;
  const score = (seg: Uint32Array, g: Uint32Array) => {
    const e = evaluateSegmentation(seg, g);
    return { voi: +(e.voi_split + e.voi_merge).toFixed(4), voi_split: +e.voi_split.toFixed(4), voi_merge: +e.voi_merge.toFixed(4), arand: +e.arand.toFixed(4), segments: e.seg_segments };
  };
  const ours = computeSupervoxels(boundaryMaps(Volume.from('float32', shape, p1)), { ...DEFAULT_SUPERVOXELS, sampling: [1, 1, 1] });
  const out: Record<string, unknown> = { volume: 'gala-medulla train (200x100x50 x,y,z)' };
  const halves: Array<[number, number]> = [[0, 100], [100, 200]];
  for (const [name, svAll] of [['gala_ws', ws], ['wiring_supervoxels', ours.labels]] as const) {
    const res: Record<string, unknown> = { supervoxels_only_whole: score(svAll, gt) };
    const maps = { boundary: p1, shape };
    for (const method of ['mean', 'quantile', 'mutex'] as const) {
      const a = computeAgglomeration(svAll, maps, { method });
      res[`${method}_whole`] = { threshold: a.threshold, ...score(relabel(svAll, a.map, new Uint32Array(svAll.length)), gt) };
    }
    // halves: learned trained on the other half
    const parts = halves.map(([x0, x1]) => {
      const sv = cropX(svAll, shape, x0, x1);
      compactLabels(sv, sv);
      return { sv, p: cropX(p1, shape, x0, x1), g: cropX(gt, shape, x0, x1), shape: [x1 - x0, shape[1], shape[2]] as Vec3 };
    });
    for (let k = 0; k < 2; k++) {
      const tr = parts[1 - k];
      const te = parts[k];
      const trMaps = { boundary: tr.p, shape: tr.shape };
      const teMaps = { boundary: te.p, shape: te.shape };
      const trRag = computeAgglomeration(tr.sv, trMaps, { method: 'mean' }).rag;
      const { forest } = trainAgglomeration([{ rag: trRag, body: supervoxelBodies(tr.sv, tr.g, trRag.nNodes) }]);
      const r: Record<string, unknown> = {};
      for (const method of ['mean', 'quantile', 'mutex', 'learned'] as const) {
        const a = computeAgglomeration(te.sv, teMaps, { method, forest });
        r[method] = { threshold: a.threshold, ...score(relabel(te.sv, a.map, new Uint32Array(te.sv.length)), te.g) };
      }
      res[`half_x${halves[k][0]}-${halves[k][1]}`] = r;
    }
    out[name] = res;
    console.log(name, JSON.stringify(res, null, 1));
  }
  return out;
}

export default async function bench(): Promise<Record<string, unknown>> {
  const { dir, zyx, shape, n } = syntheticVolume();
  const mv = (s: number) => +(n / 1e6 / s).toFixed(2);
  const out: Record<string, unknown> = { shape_zyx: zyx, voxels: n };
  const bFile = path.join(dir, 'boundary_f32.raw');
  const boundary = readRaw(bFile, Float32Array);

  // --- watershed
  const wsArgs = [bFile, '--shape', zyx, '--markers', 'threshold', '--threshold', '0.08', '--min-seed-size', '20', '--sigma', '1'];
  const skOut = path.join(dir, 'ref_ws_sk.raw');
  const vgOut = path.join(dir, 'ref_ws_vigra.raw');
  const rs = ref('ref_watershed.py', [...wsArgs, '--out', skOut]);
  const rv = ref('ref_watershed.py', [...wsArgs, '--backend', 'vigra', '--out', vgOut]);
  const seeds = time(() => thresholdSeeds(gaussianFilter(boundary, shape, 1), shape, 0.08, { minSize: 20 }));
  // The first call includes V8's compilation of the flood's loops (background compiler threads count
  // in process CPU time, and on a loaded machine the loops run unoptimised for longer). V8 needs about
  // three calls to run its optimised code from the start of a call (the first calls run on-stack-
  // replaced loops; their functions are recompiled whole meanwhile): calls 1, 2, 3, 4 of a fresh
  // process took 693, 608, 573, 399 ms CPU. The steady state, what a pipeline flooding tile after tile
  // runs, is the best of calls 2-5; the ratios use it, and the first and second calls are reported too.
  // Same input, same labels.
  const wsCold = time(() => seededWatershed(boundary, shape, seeds.value.labels));
  const warm = [0, 1, 2, 3].map(() => time(() => seededWatershed(boundary, shape, seeds.value.labels)));
  const ws = warm.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const wsSecond = warm[0];
  const wsFifo = time(() => seededWatershed(boundary, shape, seeds.value.labels, { ties: 'fifo' }));
  // the previous scan flood (floodScanReference, kept as the reference of the tests) in the same run: same labels
  _useReferenceScanFlood(true);
  const wsRef = time(() => seededWatershed(boundary, shape, seeds.value.labels));
  _useReferenceScanFlood(false);
  const sk = readRaw(skOut, Uint32Array);
  const vg = readRaw(vgOut, Uint32Array);
  let agreeSk = 0;
  let agreeVg = 0;
  let agreeFifoSk = 0;
  let sameCold = true;
  let sameRef = true;
  for (let i = 0; i < n; i++) {
    if (ws.value[i] !== wsRef.value[i]) sameRef = false;
    if (ws.value[i] === sk[i]) agreeSk++;
    if (ws.value[i] === vg[i]) agreeVg++;
    if (wsFifo.value[i] === sk[i]) agreeFifoSk++;
    if (ws.value[i] !== wsCold.value[i] || wsSecond.value[i] !== ws.value[i]) sameCold = false;
  }
  out.watershed = {
    markers: seeds.value.count,
    ref_markers: rs.n_markers,
    ours_flood_mvox_s: mv(ws.seconds),
    ours_flood_second_call_mvox_s: mv(wsSecond.seconds),
    ours_flood_first_call_mvox_s: mv(wsCold.seconds),
    skimage_flood_mvox_s: refMvox(rs, 'watershed', n),
    vigra_flood_mvox_s: refMvox(rv, 'watershed', n),
    ratio_vs_skimage: +(mv(ws.seconds) / refMvox(rs, 'watershed', n)).toFixed(2),
    ratio_vs_vigra: +(mv(ws.seconds) / refMvox(rv, 'watershed', n)).toFixed(2),
    second_call_ratio_vs_skimage: +(mv(wsSecond.seconds) / refMvox(rs, 'watershed', n)).toFixed(2),
    second_call_ratio_vs_vigra: +(mv(wsSecond.seconds) / refMvox(rv, 'watershed', n)).toFixed(2),
    first_call_ratio_vs_skimage: +(mv(wsCold.seconds) / refMvox(rs, 'watershed', n)).toFixed(2),
    first_call_ratio_vs_vigra: +(mv(wsCold.seconds) / refMvox(rv, 'watershed', n)).toFixed(2),
    first_call_same_labels: sameCold,
    reference_scan_flood_mvox_s: mv(wsRef.seconds),
    reference_scan_flood_same_labels: sameRef,
    ours_fifo_ties_flood_mvox_s: mv(wsFifo.seconds),
    fifo_ties_agreement_with_skimage: +(agreeFifoSk / n).toFixed(6),
    load_average: os.loadavg().map((l) => +l.toFixed(2)),
    ours_markers_plus_flood_mvox_s: mv(ws.seconds + seeds.seconds),
    skimage_markers_plus_flood_mvox_s: +(n / 1e6 / (rs.cpu_seconds.markers + rs.cpu_seconds.watershed)).toFixed(2),
    agreement_with_skimage: +(agreeSk / n).toFixed(6),
    agreement_with_vigra: +(agreeVg / n).toFixed(6),
    // issue #6: labels must stay watershed basins agreeing with skimage on >= 99.98 % of voxels
    agreement_with_skimage_ok: agreeSk / n >= 0.9998,
  };
  console.log('watershed', out.watershed);

  // --- metrics: our watershed vs the synthetic gt with membranes 0
  const gtFile = path.join(dir, 'gt_mem0_u32.raw');
  const segFile = path.join(dir, 'ours_ws.raw');
  writeFileSync(segFile, new Uint8Array(ws.value.buffer));
  const rm = ref('ref_metrics.py', [segFile, gtFile, '--shape', zyx, '--skip', 'cremi,waterz']);
  const gt = readRaw(gtFile, Uint32Array);
  const m = time(() => evaluateSegmentation(ws.value, gt));
  const skSeconds = rm.cpu_seconds.skimage_voi + rm.cpu_seconds.skimage_arand;
  out.metrics = {
    ours_mvox_s: mv(m.seconds),
    skimage_voi_plus_arand_mvox_s: +(n / 1e6 / skSeconds).toFixed(2),
    ratio_vs_skimage: +(skSeconds / m.seconds).toFixed(2),
    max_abs_diff: Math.max(
      Math.abs(m.value.voi_split - rm.skimage.voi_split),
      Math.abs(m.value.voi_merge - rm.skimage.voi_merge),
      Math.abs(m.value.arand_skimage - rm.skimage.arand),
      Math.abs(m.value.arand - rm.explicit.arand_snemi),
    ),
    voi_split: m.value.voi_split,
    voi_merge: m.value.voi_merge,
    arand: m.value.arand,
  };
  console.log('metrics', out.metrics);

  // --- agglomeration: RAG + merge tree + 6 cuts (+ relabel of the volume for each)
  const thresholds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
  const ag = time(() => {
    const rag = buildRag(ws.value, boundary, shape, { contact: 'mean' });
    const tree = agglomerate(rag, meanScorer);
    const segs = thresholds.map((t) => relabel(ws.value, cutTree(tree, t).map, new Uint32Array(n)));
    return { rag, tree, segs };
  });
  const scores = ag.value.segs.map((s) => evaluateSegmentation(s, gt));
  out.agglomeration = {
    supervoxels: ag.value.rag.nNodes,
    edges: ag.value.rag.nEdges,
    thresholds,
    ours_mvox_s_6_thresholds: mv(ag.seconds),
    waterz_mvox_s_quoted: 0.55,
    voi_per_threshold: scores.map((s) => +(s.voi_split + s.voi_merge).toFixed(4)),
  };
  console.log('agglomeration', out.agglomeration);
  out.accuracy_gala = await accuracy();
  return out;
}
