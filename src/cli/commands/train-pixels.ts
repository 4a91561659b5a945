import * as path from 'node:path';
import { parseXyz } from '../xyz.js';
import type { Command } from 'commander';
import { type Box, type Vec3, boxFromShape, boxShape } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { compactLabels } from '../../kernels/components.js';
import { createProgress } from '../../core/progress.js';
import { openSource } from '../../formats/open.js';
import { DEFAULT_FEATURES, FEATURE_NAMES, type FeatureConfig, type FeatureName, RECURSIVE_FROM, STE_OUTER, type SteOuter, featureConfig } from '../../stages/predict/features.js';
import { checkLineConfig } from '../../stages/predict/line-features.js';
import { CONTEXT_FEATURES, MAX_CONTEXT_ROUNDS } from '../../stages/predict/context.js';
import { MAX_EDGE_BAND_WIDTH, edgeBandOf } from '../../stages/predict/edge-band.js';
import { MAX_OUTPUT_SIGMA, OUTPUT_SIGMA_CANDIDATES, OUTPUT_SIGMA_MIN_GAIN } from '../../stages/predict/output-smoothing.js';
import { CROSS_FIT_MIN_LABELLED, PIXEL_BOOTSTRAPS, PIXEL_FOREST_SIZES, pixelForestChoice, PIXEL_TRAINING_DEFAULTS as D, bootstrapBalanced, PIXEL_TRAINING_PRESETS, type TrainOptions, defaultDims, pixelTrainingPreset, trainPixelClassifier } from '../../stages/predict/training.js';
import { BOUNDARY_OUTPUT, OBJECT_RULE_GRID, SPLIT_RULE_GRID, chooseObjectRules } from '../object-rules.js';
import { defaultSegmentation } from '../predicted-segmentation.js';
import { OBJECT_FILTER_DEFAULTS } from '../../stages/synapses/object-filter.js';
import { SITE_RULES } from '../../stages/synapses/cleft-filter.js';
import { DEFAULT_BOUNDARY_CLASS, DEFAULT_SEGMENT_CHOICE, SEGMENT_CHOICE_MODES, type SegmentChoiceMode, calibrateSegmentation, seedsToCarry } from '../segment-calibration.js';
import { SEED_CANDIDATES } from '../../stages/segment/choice.js';
import { parseBounds } from '../bounds.js';
import { emit } from '../output.js';

function int(v: unknown, what: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${what}: expected a whole number >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function num(v: unknown, what: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${what}: expected a number in ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** Segment labels (compacted to uint32) of `source` over `region`, for the cleft filter's segmentation features. */
async function readSegmentation(source: string, region: Box): Promise<Uint32Array> {
  const s = await openSource(source);
  try {
    if (s.dtype !== 'uint32' && s.dtype !== 'uint64') throw new UsageError(`--segmentation ${source}: expected a uint32/uint64 segmentation, got ${s.dtype}`);
    const b = boxFromShape(s.shape, s.offset);
    for (let a = 0; a < 3; a++) {
      if (region.min[a] < b.min[a] || region.max[a] > b.max[a]) throw new UsageError(`--segmentation ${source} covers [${b.min}]..[${b.max}], not the training region [${region.min}]..[${region.max}]`);
    }
    return compactLabels((await s.read(region)).data as Uint32Array | BigUint64Array).labels;
  } finally {
    await s.close();
  }
}

/** The --smooth-output auto line of the text output: the chosen scale and the out-of-fold AUC of each candidate. */
function sigmaLine(c: unknown): string[] | undefined {
  const o = c as { sigma?: number; candidates?: number[]; auc?: number[]; skipped?: string } | undefined;
  if (!o) return undefined;
  if (o.skipped) return [`output smoothing: none (${o.skipped})`];
  if (!o.candidates || !o.auc) return undefined;
  return [`output smoothing ${o.sigma} (chosen out of fold; mean class AUC ${o.candidates.map((s, i) => `${s}: ${o.auc![i]}`).join(', ')})`];
}

/** The presets and what each sets, for the help. */
function presetHelp(): string {
  return Object.entries(PIXEL_TRAINING_PRESETS)
    .map(([name, p]) => `${name} (${Object.entries(p).map(([k, v]) => `${k} ${v}`).join(', ')})`)
    .join('; ');
}

/** Options of the preset `name` into `opts`, except those given on the command line. */
function applyPreset(opts: Record<string, unknown>, cmd: Command, name: string): void {
  for (const [key, value] of Object.entries(pixelTrainingPreset(name))) {
    if (cmd.getOptionValueSource(key) !== 'cli') opts[key] = value;
  }
}

export function register(program: Command): Command {
  return program
    .command('train-pixels')
    .description('train a random-forest pixel classifier from labels (0 = unlabelled) or a neuron segmentation (--gt)')
    .requiredOption('--raw <source>', 'raw EM intensities (any source openSource reads)')
    .option('--labels <source>', 'label volume: 0 = unlabelled, every other value a class (scribbles or dense labels)')
    .option('--gt <source>', 'dense neuron segmentation: boundaries between ids (and id 0) become the boundary class')
    .requiredOption('-o, --output <model>', 'model file to write')
    .option('--dense', 'with --labels: 0 is a class too (every voxel labelled), e.g. ISBI 2012 labels (0 = membrane, 255 = interior)')
    .option('--classes <values>', 'with --labels: exactly these label values are classes, in this channel order (others unlabelled), e.g. 0,255')
    .option('--zero-is <what>', 'with --gt: id 0 is "boundary" (default) or "unlabelled"', 'boundary')
    .option('--voxel-size <x,y,z>', 'override the raw voxel size (nm), e.g. 4,4,50 for a PNG stack')
    .option('--dims <n>', '2 (per section) or 3; default 2 when z is more than twice as coarse as x/y or the training region is one section')
    .option('--sigmas <list>', 'feature scales in voxels', D.sigmas)
    .option('--features <list>', `features among ${FEATURE_NAMES.join(',')} (HoGR, blob vs ridge of the Hessian, is opt-in: it helped across volumes, not within one; LINE, oriented elongated line filters, 2-D only, is opt-in: docs/ACCURACY.md "Oriented line filters")`, DEFAULT_FEATURES.join(','))
    .option('--ste-outer <scale>', `structure-tensor eigenvalues (STE) at sigma s: half = gradients at s smoothed at 0.5 s (default); sigma = gradients at 0.5 s smoothed at s, as vigra's structureTensorEigenvalues(img, 0.5 s, s) of the pipeline bench's reference (opt-in: docs/ACCURACY.md "The cleft AUC gap")`, D.steOuter)
    .option('--recursive-from <sigma>', 'recursive (IIR) feature filters from this axis sigma (voxels) on, faster and within a few percent of the exact ones; "off": exact filters everywhere (blockwise predictions then equal whole-volume ones bit for bit)', String(RECURSIVE_FROM))
    .option('--forest <size>', `forest size: ${Object.entries(PIXEL_FOREST_SIZES).map(([k, v]) => `${k} = ${v.trees} trees of ${v.maxDepth ? `depth ${v.maxDepth}` : 'unlimited depth'}`).join(', ')}; auto: boundary for --gt models, full for --labels models (the demo's cleft rules and the ISBI membrane pair's segmentation lost with depth-limited trees); --trees and --max-depth override its numbers (docs/THROUGHPUT.md "A smaller forest for boundary models")`, D.forest)
    .option('--trees <n>', 'number of trees (default: --forest\'s)')
    .option('--max-depth <n>', 'maximum tree depth, 0: unlimited (default: --forest\'s)')
    .option('--min-leaf <n>', 'minimum samples per leaf', String(D.minLeaf))
    .option('--samples <n>', 'training voxels in total, balanced over classes', String(D.samples))
    .option('--bootstrap <scheme>', `how each tree draws from the training voxels: ${PIXEL_BOOTSTRAPS.join(' or ')}; balanced: the same number of every class, repeating a class that has fewer voxels than its share (e.g. clefts); plain: as many as there are, uniformly (scikit-learn's bootstrap; docs/ACCURACY.md "The cleft AUC gap")`, D.bootstrap)
    .option('--edge-weight <w>', 'sampling weight of the labelled voxels within --edge-width of another class (the label edges, where the labelled width and the image disagree) relative to the rest of their class: 1 as the rest, > 1 more often, 0 left out (docs/ACCURACY.md "Label width at membrane edges")', String(D.edgeWeight))
    .option('--edge-width <voxels>', `half-width of that band in voxels (0 < width <= ${MAX_EDGE_BAND_WIDTH})`, String(D.edgeWidth))
    .option('--bounds <x0:x1,y0:y1,z0:z1>', 'train only inside this box (voxels)')
    .option('--threads <n>', 'training threads (default: all cores)')
    .option('--seed <n>', 'random seed', String(D.seed))
    .option('--auto-context', `also train a second forest on the features plus the first forest's out-of-fold probabilities smoothed at several scales (ilastik's auto-context; about 3x the training time, prediction reads a wider margin; docs/ACCURACY.md)${D.autoContext ? ' (default)' : ''}`)
    .option('--no-auto-context', `one forest only${D.autoContext ? '' : ' (default)'}`)
    .option('--context-features <list>', `with auto-context: the features of the first forest's map the context forest sees, among ${FEATURE_NAMES.join(',')} (LINE, oriented line filters of the map, is opt-in: docs/ACCURACY.md "Oriented line filters")`, CONTEXT_FEATURES.join(','))
    .option('--context-rounds <n>', `with auto-context: rounds of context forests, each learning from the out-of-fold map of the one before (1..${MAX_CONTEXT_ROUNDS}; each round adds about the training of the first; docs/ACCURACY.md)`, String(D.contextRounds))
    .option('--smooth-output <sigma>', `smooth the predicted probabilities with a Gaussian of this scale (voxels; per axis as the features; 0: none), auto: the scale among ${OUTPUT_SIGMA_CANDIDATES.join(', ')} with the best out-of-fold class AUC on the training region (0 unless it gains ${OUTPUT_SIGMA_MIN_GAIN}; --gt models and dense --labels; sparse labels get 0), or boundary: auto for boundary models (--gt, or two classes) and 0 for models of more classes (whose downstream rules, e.g. the demo's cleft grid, were chosen on unsmoothed maps). Fixed 1.5 raised held-out membrane AUC on ssTEM (2-D features) by 0.002-0.010 and lowered it by 0.009 on gala-medulla (3-D) (docs/ACCURACY.md); calibration, object rules and the --gt cut are fitted on maps smoothed the same way; --gt models with --segment-choice all (opt-in) choose auto/boundary by the out-of-fold VOI of the segmentation, with the seeds and the cut, not by AUC`, String(D.outputSigma))
    .option('--cross-fit <mode>', `with --labels: calibrate the outputs on out-of-fold maps of the training region (a forest on each half predicts the other) and choose each class's object rule (hysteresis + size) there, both carried in the model; auto: when >= ${CROSS_FIT_MIN_LABELLED * 100}% of the region is labelled; on; off`, 'auto')
    .option('--split-objects', 'with --cross-fit: also search splits of touching objects (a seeded watershed inside each object) for each class\'s object rule, out of fold; several times the rule search\'s time (docs/ACCURACY.md: mitochondria on vnc-sstem)')
    .option('--object-filter <outputs>', `with --cross-fit: also train an object filter for these output classes (e.g. class_3,class_4): a forest on each candidate object's shape and probabilities and the other class maps around it, trained out of fold; carried only for a class with >= ${OBJECT_FILTER_DEFAULTS.minTrueObjects} true objects in the training region where it beats the class's rule out of fold by ${OBJECT_FILTER_DEFAULTS.minGain} (docs/ACCURACY.md)`)
    .option('--calibrate-cut', 'with --gt (the default there): choose the cut for `wiring segment` (and with --segment-choice all the seeds and the output smoothing) by cross-fitting on the training volume (trains two more forests) and carry it in the model')
    .option('--no-calibrate-cut', 'with --gt: do not choose a cut (`wiring segment` then uses its defaults)')
    .option('--segment-choice <what>', `with --gt and the cut calibration: all = choose the output smoothing (among ${OUTPUT_SIGMA_CANDIDATES.join(', ')} unless --smooth-output gives a scale), the supervoxel seeds (${Object.keys(SEED_CANDIDATES).join(' or ')}: --seeds minima --seed-sigma 1 --seed-connectivity full --flood smoothed) and the cut together, by out-of-fold VOI on the training volume's halves (no retraining per combination); cut = the cut only, for the default seeds, with the smoothing chosen on out-of-fold AUC. with the depth-12 --gt forests all lost to cut on both choice pairs and on two of three measured ones (docs/ACCURACY.md "The joint choice with the depth-12 boundary forests"), so cut stays the default. With --labels (a membrane class, --boundary-class, vs interior classes) only when given (opt-in): the same choice, folds along z, each section segmented on its own and scored against the interior's 4-connected components (the output smoothing stays the one chosen on AUC); the carried cut helped ISBI 0-9 -> 10-19 and ISBI -> vnc-sstem and leaked vnc-sstem -> ISBI (docs/ACCURACY.md "The cut of --labels boundary models")`, DEFAULT_SEGMENT_CHOICE)
    .option('--boundary-class <value>', `with --labels and --segment-choice: the label value of the membrane (boundary) class; the other classes are interior, whose 4-connected components per section are the instance ground truth the choice scores (folds along z, each section segmented on its own). Default ${DEFAULT_BOUNDARY_CLASS} (\`wiring classes\`' boundary)`)
    .option('--segmentation <source>', `with --labels holding cleft and vesicle classes: the neuron segmentation of the training region (e.g. the ids the labels were made from); the cleft object filter then also learns from the two segments across each candidate (contact, vesicles inside each cell; docs/ACCURACY.md), and wiring synapses reads its --segmentation for them`)
    .option('--predicted-segmentation', `with --labels holding boundary (${BOUNDARY_OUTPUT}), cleft and vesicle classes, instead of --segmentation: the cleft object filter learns from the segmentation \`wiring segment\` makes with its defaults of the training region's out-of-fold boundary map, the kind of segmentation wiring synapses reads on a new volume (docs/ACCURACY.md "Cleft filter trained on a predicted segmentation")`)
    .option('--contact-sites', `with --segmentation: the cleft object filter also tries the segmentation's contact sites as candidates (faces between two segments in patches of ${[...new Set(SITE_RULES.map((r) => r.patchNm))].join(', ')} nm; carried when out of fold they beat the map's components; then wiring synapses takes its candidates from its --segmentation's sites). Off by default: chosen on the phantom's true neurons it dropped nearly every site of a predicted segmentation (docs/ACCURACY.md)`)
    .option('--preset <name>', `named settings for a kind of data (flags given beside it win): ${presetHelp()}`)
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      if (opts.preset !== undefined) applyPreset(opts, cmd, String(opts.preset));
      if (!!opts.labels === !!opts.gt) throw new UsageError('give exactly one of --labels <source> or --gt <source>');
      if (opts.zeroIs !== 'boundary' && opts.zeroIs !== 'unlabelled') throw new UsageError(`--zero-is: expected boundary or unlabelled, got ${JSON.stringify(opts.zeroIs)}`);
      const voxelSize = opts.voxelSize ? parseXyz(opts.voxelSize, '--voxel-size', 'nm') : undefined;
      const raw = await openSource(opts.raw, voxelSize ? { voxelSize } : {});
      const labels = await openSource(opts.labels ?? opts.gt, voxelSize ? { voxelSize } : {});
      const sigmas = String(opts.sigmas).split(',').map(Number);
      const features = String(opts.features).split(',').map((s) => s.trim()) as FeatureName[];
      const dims = int(opts.dims, '--dims', 2);
      if (dims !== undefined && dims !== 2 && dims !== 3) throw new UsageError(`--dims: expected 2 or 3, got ${opts.dims}`);
      const bounds = opts.bounds ? parseBounds(opts.bounds, '--bounds') : undefined;
      const zExtent = Math.min(raw.offset[2] + raw.shape[2], labels.offset[2] + labels.shape[2], bounds?.max[2] ?? Infinity)
        - Math.max(raw.offset[2], labels.offset[2], bounds?.min[2] ?? -Infinity);
      const rf = String(opts.recursiveFrom);
      const recursiveFrom = rf === 'off' ? null : Number(rf);
      if (recursiveFrom !== null && !Number.isFinite(recursiveFrom)) throw new UsageError(`--recursive-from: expected a sigma in voxels or off, got ${JSON.stringify(rf)}`);
      if (!(STE_OUTER as readonly string[]).includes(String(opts.steOuter))) throw new UsageError(`--ste-outer: expected ${STE_OUTER.join(' or ')}, got ${JSON.stringify(opts.steOuter)}`);
      const cfg = featureConfig(raw.voxelSize, { sigmas, features, dims: (dims as 2 | 3 | undefined) ?? defaultDims(raw.voxelSize, zExtent), recursiveFrom, steOuter: String(opts.steOuter) as SteOuter });
      const warnings: string[] = [];
      if (!voxelSize && raw.voxelSize.every((v) => v === 1) && zExtent > 1) {
        warnings.push(`${opts.raw} records no voxel size (read as 1,1,1 nm), so features are ${cfg.dims}-D; pass --voxel-size (e.g. 4,4,50 for serial-section TEM: 2-D features per section; 8,8,8 for FIB-SEM: 3-D)`);
      }
      if (!['auto', 'on', 'off'].includes(opts.crossFit)) throw new UsageError(`--cross-fit: expected auto, on or off, got ${JSON.stringify(opts.crossFit)}`);
      if (opts.crossFit === 'on' && opts.gt) throw new UsageError('--cross-fit on applies to --labels models (a --gt model chooses its cut with --calibrate-cut)');
      const crossFit = opts.crossFit === 'auto' ? 'auto' : opts.crossFit === 'on';
      if (opts.classes && opts.gt) throw new UsageError('--classes applies to --labels, not --gt');
      if (opts.splitObjects && (opts.gt || opts.crossFit === 'off')) throw new UsageError('--split-objects chooses object rules on the cross-fitted maps of a --labels model; it needs --labels and --cross-fit auto/on');
      if (opts.segmentation && opts.gt) throw new UsageError('--segmentation applies to --labels models (the cleft object filter)');
      if (opts.predictedSegmentation && opts.segmentation) throw new UsageError('give at most one of --segmentation <ids> and --predicted-segmentation');
      if (opts.predictedSegmentation && (opts.gt || opts.crossFit === 'off')) throw new UsageError('--predicted-segmentation segments the cross-fitted boundary map of a --labels model; it needs --labels and --cross-fit auto/on');
      if (opts.contactSites && !opts.segmentation && !opts.predictedSegmentation) throw new UsageError('--contact-sites needs --segmentation or --predicted-segmentation (the sites are its contacts)');
      if (opts.objectFilter && (opts.gt || opts.crossFit === 'off')) throw new UsageError('--object-filter trains on the cross-fitted maps of a --labels model; it needs --labels and --cross-fit auto/on');
      if (opts.calibrateCut === true && !opts.gt) throw new UsageError('--calibrate-cut needs --gt (a neuron segmentation to score cuts against)');
      if (!SEGMENT_CHOICE_MODES.includes(opts.segmentChoice)) throw new UsageError(`--segment-choice: expected ${SEGMENT_CHOICE_MODES.join(' or ')}, got ${JSON.stringify(opts.segmentChoice)}`);
      const choiceGiven = cmd.getOptionValueSource('segmentChoice') === 'cli';
      if (choiceGiven && opts.gt && opts.calibrateCut === false) throw new UsageError('--segment-choice needs the cut calibration (not --no-calibrate-cut)');
      if (opts.boundaryClass !== undefined && !(opts.labels && choiceGiven)) throw new UsageError('--boundary-class applies to --labels models with --segment-choice');
      const segmentChoice = opts.segmentChoice as SegmentChoiceMode;
      // --labels models choose only when asked (--segment-choice), scored on the interior's components
      const boundaryClass = opts.labels && choiceGiven ? String(opts.boundaryClass ?? DEFAULT_BOUNDARY_CLASS) : undefined;
      // --gt with the joint choice: an automatic output smoothing is chosen with the seeds and the cut
      // on out-of-fold VOI (segment-calibration.ts), not on pixel AUC by the training
      const calibrate = (!!opts.gt && opts.calibrateCut !== false) || boundaryClass !== undefined;
      // (--labels models keep the smoothing chosen on AUC: their calibration and object rules are fitted on maps smoothed so)
      const sigmaByVoi = calibrate && !!opts.gt && segmentChoice === 'all' && (opts.smoothOutput === 'auto' || opts.smoothOutput === 'boundary');
      const progress = createProgress({ json: opts.json });
      try {
        const trainOpts: TrainOptions = {
          target: opts.gt ? 'gt' : 'labels',
          dense: !!opts.dense,
          zeroIs: opts.zeroIs,
          featureConfig: cfg,
          forestSize: pixelForestChoice(String(opts.forest)),
          maxSamples: int(opts.samples, '--samples', 2),
          forest: {
            nTrees: int(opts.trees, '--trees', 1), // undefined: --forest's
            maxDepth: int(opts.maxDepth, '--max-depth', 0), // 0: unlimited; undefined: --forest's
            minSamplesLeaf: int(opts.minLeaf, '--min-leaf', 1),
            balanced: bootstrapBalanced(String(opts.bootstrap)),
          },
          threads: int(opts.threads, '--threads', 1),
          bounds,
          classes: opts.classes ? String(opts.classes).split(',').map((v: string) => v.trim()) : undefined,
          seed: int(opts.seed, '--seed', 0),
          progress,
          autoContext: opts.autoContext ?? D.autoContext,
          contextRounds: int(opts.contextRounds, '--context-rounds', 1),
          contextFeatures: contextFeatures(String(opts.contextFeatures), cfg),
          outputSigma: opts.smoothOutput === 'auto' || opts.smoothOutput === 'boundary' ? opts.smoothOutput : num(opts.smoothOutput, '--smooth-output', 0, MAX_OUTPUT_SIGMA),
          crossFit: opts.gt ? false : crossFit,
          edgeBand: edgeBandOf(num(opts.edgeWeight, '--edge-weight', 0, 1000)!, num(opts.edgeWidth, '--edge-width', 0, MAX_EDGE_BAND_WIDTH)!),
        };
        const { model, report, crossFit: cf } = await trainPixelClassifier(raw, labels, sigmaByVoi ? { ...trainOpts, outputSigma: 0 } : trainOpts);
        let rules: ReturnType<typeof chooseObjectRules> | undefined;
        let predictedSegmentation: { segments: number; supervoxels: number } | undefined;
        if (cf) {
          const filters = opts.objectFilter ? String(opts.objectFilter).split(',').map((x: string) => x.trim()) : [];
          const unknown = filters.filter((x: string) => !model.meta.outputs.includes(x));
          if (unknown.length) throw new UsageError(`--object-filter: no output ${unknown.join(', ')} (the outputs are ${model.meta.outputs.join(', ')})`);
          let segmentation = opts.segmentation ? await readSegmentation(opts.segmentation, cf.region) : undefined;
          if (opts.predictedSegmentation) {
            const kb = model.meta.outputs.indexOf(BOUNDARY_OUTPUT);
            if (kb < 0) throw new UsageError(`--predicted-segmentation: the model has no boundary output ${BOUNDARY_OUTPUT} (outputs ${model.meta.outputs.join(', ')}); label the boundary class as \`wiring classes\` does`);
            const seg = await defaultSegmentation(cf.maps[kb], boxShape(cf.region) as Vec3, model.meta.voxelSize as Vec3);
            predictedSegmentation = { segments: seg.segments, supervoxels: seg.supervoxels };
            segmentation = seg.labels;
          }
          rules = chooseObjectRules(cf, model.meta.outputs, opts.splitObjects ? SPLIT_RULE_GRID : OBJECT_RULE_GRID, model.meta.voxelSize, filters, segmentation, opts.contactSites ? { siteRules: SITE_RULES } : {});
          model.meta.objectRules = rules;
          for (const r of Object.values(rules)) if (r.warning) warnings.push(r.warning);
        }
        let cut: Awaited<ReturnType<typeof calibrateSegmentation>> | undefined;
        // --gt models carry segmentation settings chosen by cross-fitting unless --no-calibrate-cut
        if (calibrate) {
          if (boundaryClass !== undefined && !model.meta.labelValues.includes(boundaryClass)) throw new UsageError(`--boundary-class ${boundaryClass}: not a class of the labels (classes ${model.meta.labelValues.join(', ')})`);
          if (boundaryClass !== undefined && model.meta.labelValues.length < 2) throw new UsageError('--segment-choice with --labels needs a boundary class and at least one interior class');
          // 'cut': the folds carry the model's chosen smoothing (not 'auto' again) and the default seeds
          const sigmas = sigmaByVoi ? undefined : [segmentChoice === 'all' && opts.gt ? (trainOpts.outputSigma as number) : (model.meta.outputSigma ?? 0)];
          cut = await calibrateSegmentation(raw, labels, trainOpts, { sigmas, seeds: segmentChoice === 'all' ? undefined : ['distance'], progress, boundaryClass });
          if ('skipped' in cut) {
            report.warnings.push(cut.skipped);
            if (sigmaByVoi) report.warnings.push('output smoothing not chosen (none): the segment calibration was skipped');
          } else {
            const seeds = seedsToCarry(cut);
            Object.assign(model.meta, { segmentThreshold: cut.threshold, cutCalibration: { ...cut } });
            if (seeds) model.meta.segmentSeeds = seeds;
            if (sigmaByVoi) {
              if (cut.outputSigma > 0) model.meta.outputSigma = cut.outputSigma;
              else delete model.meta.outputSigma;
              model.meta.training = { ...(model.meta.training ?? {}), outputSigma: { sigma: cut.outputSigma, chosenOn: 'out-of-fold VOI of the segmentation, with the seeds and the cut (meta.cutCalibration)' } };
            }
          }
        }
        await model.save(opts.output);
        warnings.push(...report.warnings);
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        const result = { model: path.resolve(opts.output), ...(opts.preset ? { preset: opts.preset } : {}), ...report, warnings, featureConfig: cfg, outputs: model.meta.outputs, auto_context: !!model.contextForest, output_sigma: model.meta.outputSigma ?? 0, context_rounds: model.contextForests.length, calibrated: !!model.meta.calibration, ...(rules ? { object_rules: rules } : {}), ...(predictedSegmentation ? { predicted_segmentation: predictedSegmentation } : {}), ...(cut && !('skipped' in cut) ? { segment_threshold: cut.threshold, ...(model.meta.segmentSeeds ? { segment_seeds: model.meta.segmentSeeds } : {}), cut_calibration: cut } : {}) };
        emit(opts, result, () =>
          [
            `${opts.output}: ${report.trees} trees${report.forestSize ? ` (${report.forestSize} forest, ${report.maxDepth ? `depth ${report.maxDepth}` : 'unlimited depth'})` : ''}, ${report.nodes} nodes, ${report.features} features (${cfg.dims}-D, voxel size ${raw.voxelSize.join(',')} nm), classes ${report.classes.join(', ')} -> output channels ${model.meta.outputs.join(', ')}`,
            `samples per class: ${report.samplesPerClass.join(', ')} (labelled voxels ${report.labelledVoxels.join(', ')})`,
            `features ${report.seconds.features.toFixed(1)} s, training ${report.seconds.training.toFixed(1)} s`,
            ...(sigmaLine(model.meta.training?.outputSigma) ?? []),
            ...(model.contextForest ? [`auto-context: ${model.contextForests.length} context forest(s) on ${model.contextForest.nFeatures} features (pixel features + context of the previous forest's out-of-fold map)`] : []),
            ...(rules ? [`object rules (chosen on out-of-fold maps, calibrated): ${Object.entries(rules).map(([k, r]) => `${k} high ${r.high} low ${r.low} size >= ${r.minSize}${r.split !== undefined ? ` split at ${r.split} (seeds >= ${r.splitMinSeed})` : ''} (F1 ${r.f1}, ${r.found} found / ${r.truth} true)${r.objectFilter ? `, object filter (out-of-fold F1 ${r.objectFilter.oof.f1} vs ${r.objectFilter.oof.baselineF1})` : r.objectFilterSkipped ? `, no object filter: ${r.objectFilterSkipped}` : ''}`).join('; ')}`] : []),
            `top features: ${report.importances.slice(0, 5).map((f) => `${f.feature} ${f.importance.toFixed(3)}`).join(', ')}`,
            ...(cut && !('skipped' in cut) ? [`segmentation chosen on the held-out halves: seeds ${cut.seeds}, output smoothing ${cut.outputSigma}, cut ${cut.threshold} (mean VOI ${cut.meanVoi[cut.grid.indexOf(cut.threshold)].toFixed(3)}; default seeds, ${cut.candidates[0].variant} smoothing, cut ${cut.default}: ${cut.defaultMeanVoi[cut.grid.indexOf(cut.default)].toFixed(3)})`] : []),
          ].join('\n'),
        );
      } finally {
        await raw.close();
        await labels.close();
      }
    });
}

/** --context-features: names among FEATURE_NAMES, LINE only with 2-D features (as the pixel features'). */
function contextFeatures(list: string, cfg: FeatureConfig): FeatureName[] {
  const names = list.split(',').map((x) => x.trim()) as FeatureName[];
  try {
    featureConfig([1, 1, cfg.dims === 2 ? 100 : 1], { features: names, dims: cfg.dims });
    if (names.includes('LINE')) checkLineConfig(cfg.dims, cfg.anisotropy);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`--context-features: ${e.message}`);
    throw e;
  }
  return names;
}
