import * as path from 'node:path';
import type { Command } from 'commander';
import { parseXyz } from '../xyz.js';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { createProgress } from '../../core/progress.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { openSource } from '../../formats/open.js';
import { cleftDistanceScore, relabelPartners, synapticPartnerScore, type PartnerSynapse } from '../../metrics/synapses.js';
import { readBlockData, runTasks } from '../../scheduler/index.js';
import { defaultPartnerRadius, thresholdMap } from '../../stages/synapses/detect.js';
import { parseNumberList, sweepSynapseParams, type SweepResult } from '../../stages/synapses/tune.js';
import { SYNAPSE_BLOCK, type SynapseTaskParams, mergeBlockData, storeDetections, synapseTask } from '../../stages/synapses/tasks.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';
import type { ObjectParams } from '../../stages/synapses/objects.js';
import { carriedCleftFilter, carriedObjectRule } from '../object-rules.js';
import { emit } from '../output.js';
import { partnerScorer, partnersOf } from '../synapse-scoring.js';

export { partnerScorer, partnersOf }; // their old home: other commands import them from ../synapse-scoring.js

function num(v: unknown, what: string, min = 0, max = Infinity): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${what} ${JSON.stringify(v)}: expected a number in [${min}, ${max}]`);
  return n;
}

/**
 * One object rule (threshold, hysteresis low, min size): each value given on the command line,
 * else the map's carried rule (its high and low only when the threshold is not given; its min
 * size whenever the size is not given), else 0.5, a plain threshold and `defaultMin`.
 */
function resolveRule(
  carried: ObjectParams | undefined,
  given: { threshold: [unknown, string]; low?: [unknown, string]; minSize: [unknown, string] },
  defaultMin: number,
): { threshold: number; minSize: number; lowThreshold?: number; split?: number; splitMinSeed?: number } {
  const [t, tName] = given.threshold;
  const r = t === undefined ? carried : undefined;
  const threshold = t !== undefined ? num(t, tName, 0, 1) : (r?.high ?? 0.5);
  const low = given.low?.[0] !== undefined ? num(given.low[0], given.low[1], 0, threshold) : r && r.low < r.high ? r.low : undefined;
  const [m, mName] = given.minSize;
  const minSize = m !== undefined ? num(m, mName, 1) : Math.max(1, carried?.minSize ?? defaultMin);
  // the carried split (touching objects cut apart) applies with the carried thresholds only
  const split = r?.split !== undefined && given.low?.[0] === undefined ? { split: r.split, splitMinSeed: r.splitMinSeed } : {};
  return { threshold, minSize, ...(low !== undefined ? { lowThreshold: low } : {}), ...split };
}

/** Read the inputs whole, score a detection against the ground truth (relabelled to its segmentation when given). */
async function sweepOnVolume(opts: Record<string, any>, params: SynapseTaskParams, grid: { thresholds: number[]; minSizes: number[] }): Promise<SweepResult> {
  const whole = async (spec: string | undefined, own = false) => {
    if (!spec) return undefined;
    const s = await openSource(spec);
    try {
      return await s.read(own ? boxFromShape(s.shape, s.offset) : params.bounds);
    } finally {
      await s.close();
    }
  };
  const [clefts, segmentation, vesicles, gtSeg] = await Promise.all([whole(opts.clefts), whole(opts.segmentation), whole(opts.vesicles), whole(opts.gtSegmentation, true)]);
  const gt = await partnersOf(opts.groundTruth);
  const maxDistance = num(opts.maxDistance, '--max-distance', 0);
  return sweepSynapseParams([{ inputs: { clefts: clefts!, segmentation: segmentation!, vesicles }, params, score: partnerScorer(gt, gtSeg, maxDistance) }], grid);
}

export function register(program: Command): Command {
  const cmd = program
    .command('synapses')
    .description('detect synapses (cleft objects + pre/post partners) and organelles, and write them to a connectome database')
    .argument('<db>', 'connectome database file (created if missing)')
    .requiredOption('--clefts <source>', 'cleft probability map (uint8/uint16/float32)')
    .requiredOption('--segmentation <source>', 'cell segmentation (root ids)')
    .option('--vesicles <source>', 'vesicle-cloud probability map (decides the presynaptic side; also stored as organelles)')
    .option('--mitochondria <source>', 'mitochondria probability map (stored as organelles)')
    .option('--supervoxels <source>', 'supervoxel labels (fills pre/post_pt_supervoxel_id)')
    .option('--threshold <p>', 'cleft probability threshold in [0,1] (default: the rule the pixel model chose for the --clefts channel, carried in its info "wiring": {"object_rules"}, else 0.5)')
    .option('--min-size <voxels>', 'smallest cleft kept (default: the carried rule\'s, else 10)')
    .option('--low-threshold <p>', 'hysteresis: clefts are components of p >= this that reach --threshold somewhere (default: the carried rule\'s low when --threshold is not given, else --threshold, a plain threshold)')
    .option('--no-cleft-filter', 'do not apply the cleft object filter the --clefts map carries (a forest on each candidate cleft\'s size, shape, probabilities and vesicle clouds, and, when trained with train-pixels --segmentation, the two segments of --segmentation across it; trained by wiring train-pixels on its out-of-fold maps; applied by default when no --threshold, --low-threshold or --min-size is given)')
    .option('--mito-low-threshold <p>', 'hysteresis low threshold for mitochondria (default: the carried rule\'s, else --mito-threshold)')
    .option('--vesicle-threshold <p>', 'vesicle probability threshold (default: the carried rule\'s high, else 0.5)')
    .option('--merged-partners', 'when one segment lies on both faces of a cleft (a segmentation that merged the two partners), report the synapse with that segment as pre and post, its points on either face (their supervoxels tell the partners apart once the merge is split); default: such a cleft is paired with the next segment or dropped (docs/ACCURACY.md)')
    .option('--partner-radius <nm>', 'partners lie within this distance of the cleft (default: 3 voxels along x, at least one section + one pixel)')
    .option('--vesicle-radius <nm>', 'vesicles count within this distance of the cleft (default 4x partner radius)')
    .option('--mito-threshold <p>', 'mitochondria probability threshold (default: the carried rule\'s high, else 0.5)')
    .option('--organelle-min-size <voxels>', 'smallest mitochondrion / vesicle cloud kept (default: each map\'s carried rule, else 20)')
    .option('--connectivity <n>', '6 or 26', '6')
    .option('--block <x,y,z>', 'block shape in voxels', SYNAPSE_BLOCK.join(','))
    .option('--margin <x,y,z>', 'context around each block (default: search radius + 16 voxels)')
    .option('--state <dir>', 'resume records (default <db>.synapses-state)')
    .option('--ground-truth <db>', 'score the partners against the synapses table of this database (CREMI-like F-score)')
    .option('--gt-segmentation <source>', 'with --ground-truth: the ground truth\'s segmentation; predicted partners are relabelled to the truth\'s ids at their points (as CREMI does), so a prediction on another segmentation can be scored')
    .option('--gt-clefts <source>', 'score the cleft mask against this ground-truth cleft map (ADGT/ADF)')
    .option('--max-distance <nm>', 'partner matching distance for --ground-truth', '400')
    .option('--sweep-thresholds <list>', 'with --ground-truth: choose the cleft threshold among these (e.g. 0.2,0.3,0.5) by partner F-score before detecting; use on a training volume, then pass the choice as --threshold on the volume you score')
    .option('--sweep-min-sizes <list>', 'with --sweep-thresholds: minimum cleft sizes (voxels) to try', '5,10,20,40,80')
    .option('--json', 'machine-readable output');
  addSchedulerOptions(cmd);
  cmd.action(async (db: string, opts) => {
    const seg = await openSource(opts.segmentation);
    const clefts = await openSource(opts.clefts);
    const vs: Vec3 = seg.voxelSize;
    const bounds = boxFromShape(seg.shape, seg.offset);
    for (const [name, s] of [['clefts', clefts]] as const) {
      if (s.shape.some((v, i) => v !== seg.shape[i]) || s.offset.some((v, i) => v !== seg.offset[i])) {
        throw new UsageError(`--${name} ${opts[name]} is [${s.shape}] at [${s.offset}], the segmentation is [${seg.shape}] at [${seg.offset}]`);
      }
    }
    await clefts.close();
    const partnerRadius = opts.partnerRadius !== undefined ? num(opts.partnerRadius, '--partner-radius', 1e-9) : defaultPartnerRadius(vs);
    const conn = Number(opts.connectivity);
    if (conn !== 6 && conn !== 26) throw new UsageError(`--connectivity ${opts.connectivity}: expected 6 or 26`);
    // rules carried by the maps (chosen by the pixel model on its out-of-fold maps) fill what is not given
    const carried = { clefts: carriedObjectRule(opts.clefts), vesicles: opts.vesicles ? carriedObjectRule(opts.vesicles) : undefined, mitochondria: opts.mitochondria ? carriedObjectRule(opts.mitochondria) : undefined };
    // the carried cleft filter replaces the carried rule unless a rule is given (or --no-cleft-filter, or a sweep)
    const ruleGiven = opts.threshold !== undefined || opts.lowThreshold !== undefined || opts.minSize !== undefined;
    const filter = opts.cleftFilter !== false && !ruleGiven && opts.sweepThresholds === undefined ? carriedCleftFilter(opts.clefts) : undefined;
    if (filter) {
      const c = filter.filter.candidates;
      carried.clefts = { high: c.high, low: c.low, minSize: c.minSize };
    }
    const cleft = resolveRule(carried.clefts, { threshold: [opts.threshold, '--threshold'], low: [opts.lowThreshold, '--low-threshold'], minSize: [opts.minSize, '--min-size'] }, 10);
    const omin: [unknown, string] = [opts.organelleMinSize, '--organelle-min-size'];
    const vesicle = opts.vesicles ? resolveRule(carried.vesicles, { threshold: [opts.vesicleThreshold, '--vesicle-threshold'], minSize: omin }, 20) : undefined;
    const mito = opts.mitochondria ? resolveRule(carried.mitochondria, { threshold: [opts.mitoThreshold, '--mito-threshold'], low: [opts.mitoLowThreshold, '--mito-low-threshold'], minSize: omin }, 20) : undefined;
    const params: SynapseTaskParams = {
      ...cleft,
      vesicleThreshold: vesicle?.threshold ?? (opts.vesicleThreshold !== undefined ? num(opts.vesicleThreshold, '--vesicle-threshold', 0, 1) : 0.5),
      partnerRadius,
      vesicleRadius: opts.vesicleRadius !== undefined ? num(opts.vesicleRadius, '--vesicle-radius', 1e-9) : undefined,
      voxelSize: vs,
      bounds,
      connectivity: conn,
      ...(filter ? { cleftFilter: filter.filter } : {}),
      ...(opts.mergedPartners ? { mergedPartners: true } : {}),
      organelles: [
        ...(vesicle ? [{ input: 'vesicles' as const, kind: 'vesicle_cloud' as const, ...vesicle }] : []),
        ...(mito ? [{ input: 'mitochondria' as const, kind: 'mitochondrion' as const, ...mito }] : []),
      ],
    };
    let sweep: SweepResult | undefined;
    if (opts.sweepThresholds !== undefined) {
      if (!opts.groundTruth) throw new UsageError('--sweep-thresholds needs --ground-truth <db> to score against');
      const thresholds = parseNumberList(opts.sweepThresholds, '--sweep-thresholds', 0, 1);
      const minSizes = parseNumberList(opts.sweepMinSizes, '--sweep-min-sizes', 1, Number.MAX_SAFE_INTEGER);
      sweep = await sweepOnVolume(opts, params, { thresholds, minSizes });
      if (sweep.best) {
        // the sweep tries plain thresholds: a carried hysteresis low no longer applies
        params.threshold = sweep.best.threshold;
        params.minSize = sweep.best.minSize;
        delete params.lowThreshold;
      }
    }
    const task = synapseTask({
      clefts: opts.clefts,
      segmentation: opts.segmentation,
      vesicles: opts.vesicles,
      mitochondria: opts.mitochondria,
      supervoxels: opts.supervoxels,
      filterVesicles: filter?.vesicles,
      params,
      blockShape: parseXyz(opts.block, '--block', 'size'),
      margin: opts.margin ? parseXyz(opts.margin, '--margin', 'margin') : undefined,
    });
    const stateDir = opts.state ?? `${db}.synapses-state`;
    const run = schedulerOptions(opts, stateDir);
    run.progress = createProgress({ json: opts.json, label: 'synapses' });
    await runTasks([task], run);
    const data = mergeBlockData(await readBlockData(stateDir, task.name));
    const store = await ConnectomeStore.open(db);
    try {
      await storeDetections(store, data);
    } finally {
      await store.close();
    }
    const result: Record<string, unknown> = {
      database: db,
      threshold: params.threshold,
      min_size: params.minSize,
      ...(params.lowThreshold !== undefined ? { low_threshold: params.lowThreshold } : {}),
      organelle_rules: (params.organelles ?? []).map((o) => ({ kind: o.kind, threshold: o.threshold, min_size: o.minSize, ...(o.lowThreshold !== undefined ? { low_threshold: o.lowThreshold } : {}) })),
      carried_rules: Object.fromEntries(Object.entries(carried).filter(([, r]) => r)),
      ...(filter ? { cleft_filter: { candidates: filter.filter.candidates, cut: filter.filter.cut, out_of_fold: filter.filter.oof, vesicles: opts.vesicles ?? filter.vesicles } } : {}),
      ...(sweep ? { sweep: { best: sweep.best, rows: sweep.rows } } : {}),
      synapses: data.synapses.length,
      organelles: data.organelles.length,
      dropped: data.dropped,
      truncated: data.truncated,
    };
    if (opts.groundTruth) {
      const gt = await partnersOf(opts.groundTruth);
      let pred: PartnerSynapse[] = data.synapses.map((s) => ({ pre_id: s.pre_pt_root_id, post_id: s.post_pt_root_id, pre: s.pre_pt_position, post: s.post_pt_position }));
      if (opts.gtSegmentation) {
        const gs = await openSource(opts.gtSegmentation);
        try {
          pred = relabelPartners(pred, await gs.read(boxFromShape(gs.shape, gs.offset)));
        } finally {
          await gs.close();
        }
      }
      const sc = synapticPartnerScore(pred, gt, { maxDistance: num(opts.maxDistance, '--max-distance', 0) });
      result.partners = { tp: sc.tp, fp: sc.fp, fn: sc.fn, precision: sc.precision, recall: sc.recall, fscore: sc.fscore, meanDistance: sc.meanDistance };
    }
    if (opts.gtClefts) {
      const g = await openSource(opts.gtClefts);
      const c = await openSource(opts.clefts);
      const gv = await g.read(bounds);
      const cv = await c.read(bounds);
      await g.close();
      await c.close();
      result.clefts = cleftDistanceScore(thresholdMap(cv, params.threshold), thresholdMap(gv, 0.5), seg.shape, vs);
    }
    await seg.close();
    emit(opts, result, () => {
      const lines = [`${db}: ${data.synapses.length} synapses, ${data.organelles.length} organelles (dropped: ${data.dropped.small} small, ${data.dropped.filtered !== undefined ? `${data.dropped.filtered} by the cleft filter, ` : ''}${data.dropped.noPartners} without two partners)`];
      if (data.truncated) lines.push(`warning: ${data.truncated} objects touch a block's margin; use a larger --margin (state in ${path.resolve(stateDir)})`);
      if (sweep) {
        lines.push(`sweep (partner F-score): ${sweep.rows.map((r) => `t ${r.threshold} min ${r.minSize}: ${r.fscore.toFixed(3)}`).join(', ')}`);
        lines.push(sweep.best ? `chosen: --threshold ${sweep.best.threshold} --min-size ${sweep.best.minSize}` : `no setting found a true synapse; kept --threshold ${params.threshold} --min-size ${params.minSize}`);
      }
      if (result.partners) lines.push(`partners: ${JSON.stringify(result.partners)}`);
      if (result.clefts) lines.push(`clefts: ${JSON.stringify(result.clefts)}`);
      return lines.join('\n');
    });
  });
  return cmd;
}
