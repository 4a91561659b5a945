import { existsSync } from 'node:fs';
import type { Vec3 } from '../../core/box.js';
import { addShardingOption, shardingFor } from '../sharding-options.js';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { parseXyz } from '../xyz.js';
import { type Box, boxFromShape, boxIntersect } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { openSource } from '../../formats/open.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { runTasks } from '../../scheduler/index.js';
import { PixelModel, type SegmentSeeds } from '../../stages/predict/model.js';
import { type OnnxOptions, onnxPredictTask, onnxPredictVolume, openOnnx } from '../../stages/predict/onnx.js';
import { type OutputDtype, checkRawForModel, normalizationFor, predictPixelsTask } from '../../stages/predict/predict.js';
import { predictManyTask } from '../../stages/predict/predict-many.js';
import { NORMALIZE_MIN_SHIFT } from '../../stages/predict/normalize.js';
import type { IntensityMap } from '../../stages/predict/normalize.js';
import { Volume } from '../../core/volume.js';
import { emit } from '../output.js';
import { objectRulesInfo } from '../object-rules.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';
import { parseBounds } from '../bounds.js';

/**
 * Output chunk size: per axis the largest size <= want (and <= the volume) whose grid (from the
 * volume's offset) has chunk boundaries at the bounds' start and end (or the end is the volume's end).
 */
export function defaultChunk(want: readonly number[], bounds: Box, volume: Box): [number, number, number] {
  const out = [0, 0, 0] as [number, number, number];
  for (let a = 0; a < 3; a++) {
    const size = volume.max[a] - volume.min[a];
    const lo = bounds.min[a] - volume.min[a], hi = bounds.max[a] - volume.min[a];
    let c = Math.max(1, Math.min(want[a], size));
    while (c > 1 && (lo % c !== 0 || (hi % c !== 0 && hi !== size))) c--;
    out[a] = c;
  }
  return out;
}

export function register(program: Command): Command {
  const cmd = program
    .command('predict')
    .description('per-voxel maps from a random-forest pixel classifier (--model) or an ONNX CNN (--onnx), blockwise')
    .argument('<out-layer...>', 'output precomputed layer folder (created; float32 or uint8, one channel per class/output); one per --model, in the same order')
    .requiredOption('--raw <source>', 'raw EM intensities (any source openSource reads)')
    .option('--model <file>', 'pixel classifier from wiring train-pixels; repeat it (one output layer each) to predict several models in one pass: each block reads the raw once, and models with the same feature configuration compute the features once', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--onnx <file>', 'ONNX model: input [1,N,(Z),Y,X], output [1,M,(Z),Y,X]')
    .option('--dtype <t>', 'float32 or uint8 (probability * 255)', 'float32')
    .option('--voxel-size <x,y,z>', 'override the raw voxel size (nm)')
    .option('--block <x,y,z>', 'block shape (multiple of the chunk size)')
    .option('--chunk <x,y,z>', 'output chunk size (default 64,64,64; 256,256,4 for a 2-D per-section model)')
    .option('--bounds <x0:x1,y0:y1,z0:z1>', 'predict only inside this box (voxels)')
    .option('--overwrite', 'replace an existing output layer')
    .option('--allow-voxel-size', 'predict even if the raw voxel size differs from the training data (a warning instead of an error)')
    .option('--normalize <mode>', `auto: match the raw's intensity quantiles to the training raw's when they moved by more than ${NORMALIZE_MIN_SHIFT} of its 1-99 span (models from this version on; helps under a real contrast change, hurts when only the content differs: docs/ACCURACY.md); off: use the raw as is`, 'off')
    .option('--calibrated', 'write calibrated probabilities (the isotonic map a dense-label model fitted on its out-of-fold maps: a probability then means the class frequency among unseen voxels); carried object rules are mapped to match')
    .option('--tile <x,y,z>', 'ONNX: tile size for dynamic model dimensions')
    .option('--halo <x,y,z>', 'ONNX: receptive-field radius dropped at inner tile edges, also the block margin', '0,0,0')
    .option('--overlap <x,y,z>', 'ONNX: tile overlap for blending (default 2*halo + tile/8)')
    .option('--input-scale <s>', 'ONNX: input = raw * scale + offset (default 1/255 for uint8, 1/65535 for uint16, else 1)')
    .option('--input-offset <o>', 'ONNX: see --input-scale', '0')
    .option('--input-mean <m>', 'ONNX: z-score input: (raw - mean) / std (instead of scale/offset)')
    .option('--input-std <s>', 'ONNX: see --input-mean')
    .option('--json', 'machine-readable output');
  addShardingOption(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (outLayers: string[], opts) => {
    const modelFiles: string[] = opts.model ?? [];
    if ((modelFiles.length > 0) === !!opts.onnx) throw new UsageError('give --model <file> (once or more) or --onnx <file>, not both');
    const wantOut = opts.onnx ? 1 : modelFiles.length;
    if (outLayers.length !== wantOut) throw new UsageError(opts.onnx ? `--onnx writes one output layer; got ${outLayers.length}: ${outLayers.join(' ')}` : `give one output layer per --model, in order: ${modelFiles.length} model(s) (${modelFiles.join(', ')}) but ${outLayers.length} output layer(s) (${outLayers.join(', ')})`);
    const dtype = opts.dtype as OutputDtype;
    if (dtype !== 'float32' && dtype !== 'uint8') throw new UsageError(`--dtype: expected float32 or uint8, got ${JSON.stringify(opts.dtype)}`);
    const voxelSize = opts.voxelSize ? parseXyz(opts.voxelSize, '--voxel-size', 'nm') : undefined;
    const rawSpec = path.resolve(opts.raw);
    const raw = await openSource(rawSpec, voxelSize ? { voxelSize } : {});
    const warnings: string[] = [];
    const models: Array<{ file: string; model: PixelModel; normalize?: IntensityMap; normalizeShift?: number }> = [];
    if (opts.normalize !== 'auto' && opts.normalize !== 'off') throw new UsageError(`--normalize: expected auto or off, got ${JSON.stringify(opts.normalize)}`);
    try {
      for (const file of modelFiles) {
        const model = await PixelModel.load(file);
        const entry: (typeof models)[number] = { file, model };
        // with several models a warning names the one it is about
        const tag = (w: string) => (modelFiles.length > 1 ? `${file}: ${w}` : w);
        warnings.push(...(await checkRawForModel(model, raw, { allowVoxelSize: !!opts.allowVoxelSize })).map(tag));
        if (opts.normalize === 'auto') {
          const n = await normalizationFor(model, raw);
          entry.normalize = n.map;
          entry.normalizeShift = n.shift;
          if (n.map) warnings.push(tag(`raw intensities normalised to the training raw's by quantile matching (the quantiles moved by ${((n.shift ?? 0) * 100).toFixed(0)}% of the training 1-99 span)`));
        }
        models.push(entry);
      }
    } finally {
      await raw.close();
    }
    const model: PixelModel | undefined = models[0]?.model;
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    const volumeBox = boxFromShape(raw.shape, raw.offset);
    const bounds = opts.bounds ? boxIntersect(parseBounds(opts.bounds, '--bounds'), volumeBox) : volumeBox;
    const twoD = model?.meta.featureConfig.dims === 2;
    const chunkSize: [number, number, number] = opts.chunk
      ? (parseXyz(opts.chunk, '--chunk', 'size').map((c, a) => Math.min(c, raw.shape[a])) as [number, number, number])
      : defaultChunk(twoD ? [256, 256, 1] : [64, 64, 64], bounds, volumeBox);
    const block: Vec3 = opts.block ? parseXyz(opts.block, '--block', 'size')
      : [chunkSize[0] * 2, chunkSize[1] * 2, twoD ? chunkSize[2] * Math.max(1, Math.floor(4 / chunkSize[2])) : chunkSize[2]];
    // a sharded output's shards fit the block, so each block writes its own shards once (the
    // features of a block dominate memory: a larger --block gives larger shards, fewer files)
    const sharding = shardingFor(opts, raw.shape, chunkSize, 'image', block);
    for (let a = 0; a < 3; a++) {
      if (block[a] % chunkSize[a] !== 0) throw new UsageError(`--block ${block.join(',')} must be a multiple of the chunk size ${chunkSize.join(',')}`);
    }
    const outDirs = outLayers.map((o) => path.resolve(o));
    let outChannels: number[];
    let task;
    if (model) {
      outChannels = models.map((m) => m.model.outputChannels);
      for (const m of models) if (opts.calibrated && !m.model.meta.calibration) throw new UsageError('--calibrated: the model carries no calibration (train it with dense --labels; --cross-fit auto or on)', m.file);
      task = models.length === 1
        ? predictPixelsTask({ model, modelPath: path.resolve(models[0].file), raw: rawSpec, out: outDirs[0], bounds, blockShape: block, dtype, normalize: models[0].normalize, calibrated: !!opts.calibrated })
        : predictManyTask({ models: models.map((m, i) => ({ model: m.model, modelPath: path.resolve(m.file), out: outDirs[i], normalize: m.normalize })), raw: rawSpec, bounds, blockShape: block, dtype, calibrated: !!opts.calibrated });
    } else {
      const onnxPath = path.resolve(opts.onnx);
      const o: OnnxOptions = { halo: parseXyz(opts.halo, '--halo', 'margin') };
      if (opts.tile) o.tile = parseXyz(opts.tile, '--tile', 'size');
      if (opts.overlap) o.overlap = parseXyz(opts.overlap, '--overlap', 'margin');
      if (opts.inputMean !== undefined || opts.inputStd !== undefined) {
        const m = Number(opts.inputMean ?? 0), s = Number(opts.inputStd ?? 1);
        if (!Number.isFinite(m) || !(s > 0)) throw new UsageError('--input-mean must be a number and --input-std a positive number');
        o.scale = 1 / s;
        o.offset = -m / s;
      } else {
        if (opts.inputScale !== undefined) o.scale = Number(opts.inputScale);
        o.offset = Number(opts.inputOffset);
        if ((o.scale !== undefined && !Number.isFinite(o.scale)) || !Number.isFinite(o.offset)) throw new UsageError('--input-scale/--input-offset must be numbers');
      }
      // probe the model on a small tile to learn M (and check N)
      const { info } = await openOnnx(onnxPath);
      // large enough for a valid-convolution model's shrink (a U-Net without padding loses ~40 voxels per side)
      const probeShape = [
        info.fixedTile[0] ?? Math.min(raw.shape[0], Math.max(2 * o.halo![0] + 8, 128)),
        info.fixedTile[1] ?? Math.min(raw.shape[1], Math.max(2 * o.halo![1] + 8, 128)),
        info.dims === 2 ? 1 : (info.fixedTile[2] ?? Math.min(raw.shape[2], Math.max(2 * o.halo![2] + 8, 48))),
      ] as const;
      const probe = Volume.zeros('float32', probeShape, { channels: raw.channels });
      outChannels = [(await onnxPredictVolume(onnxPath, probe, { ...o, tile: probeShape as unknown as [number, number, number], overlap: [0, 0, 0], halo: [0, 0, 0] })).channels];
      task = onnxPredictTask({ onnx: onnxPath, raw: rawSpec, out: outDirs[0], bounds, blockShape: block, dtype, options: o, outChannels: outChannels[0], inChannels: raw.channels });
    }
    // each output layer: created, or an earlier (interrupted) run's resumed when its geometry matches
    const cuts: Array<number | undefined> = [];
    const seedsOut: Array<Record<string, unknown> | undefined> = [];
    for (let i = 0; i < outDirs.length; i++) {
      const m = models[i]?.model;
      const outDir = outDirs[i];
      const info = makeInfo({ type: 'image', dtype, channels: outChannels[i], shape: raw.shape, voxelSize: raw.voxelSize, offset: raw.offset, chunkSize: [...chunkSize], sharding });
      // a boundary model's cut for `wiring segment` travels with the map it predicts
      const cut = m?.meta.segmentThreshold; // --gt models, and --labels models with --segment-choice
      cuts.push(cut);
      const wiringInfo: Record<string, unknown> = {};
      if (cut !== undefined) wiringInfo.segment_threshold = cut;
      // and the supervoxel seeds chosen with it (absent: segment's default seeds)
      const seeds = m?.meta.segmentSeeds;
      if (seeds) wiringInfo.segment_seeds = segmentSeedsInfo(seeds);
      seedsOut.push(seeds ? segmentSeedsInfo(seeds) : undefined);
      // a labels model's object rules (chosen on its calibrated out-of-fold maps) travel with its map
      if (m?.meta.objectRules) wiringInfo.object_rules = objectRulesInfo(m.meta.outputs, m.meta.objectRules, opts.calibrated ? m.meta.calibration?.channels.slice(m.meta.target === 'gt' ? 1 : 0) : undefined);
      if (opts.calibrated) wiringInfo.calibrated = true;
      if (Object.keys(wiringInfo).length) (info as unknown as Record<string, unknown>).wiring = wiringInfo;
      if (existsSync(path.join(outDir, 'info')) && !opts.overwrite) {
        const old = await PrecomputedLayer.open(outDir);
        const s0 = old.info.scales[0];
        if (old.info.num_channels !== outChannels[i] || old.info.data_type !== dtype || s0.size.join() !== raw.shape.join() || s0.chunk_sizes[0].join() !== chunkSize.join() || !!s0.sharding !== !!sharding) {
          throw new UsageError(`output layer exists with ${old.info.num_channels} ${old.info.data_type} channel(s), size [${s0.size}], chunks [${s0.chunk_sizes[0]}], ${s0.sharding ? 'sharded' : 'unsharded'}; this run writes ${outChannels[i]} ${dtype} channel(s), size [${raw.shape}], chunks [${chunkSize}], ${sharding ? 'sharded' : 'unsharded'}: pass --overwrite to replace it`, outDir);
        }
      } else {
        await rm(path.join(outDir, '.wiring-run'), { recursive: true, force: true });
        await PrecomputedLayer.create(outDir, info, { overwrite: !!opts.overwrite, writing: task.name });
      }
    }
    // the resume records of a several-model run live in its first layer
    const report = await runTasks([task], schedulerOptions(opts, path.join(outDirs[0], '.wiring-run')));
    const run = { warnings, blocks: report.blocks, computed: report.computed, resumed: report.resumed, failed: report.failed, seconds: report.seconds };
    const layerResult = (i: number) => {
      const m = models[i];
      return { layer: outDirs[i], channels: outChannels[i], outputs: m?.model.meta.outputs, dtype, ...(cuts[i] !== undefined ? { segment_threshold: cuts[i] } : {}), ...(seedsOut[i] ? { segment_seeds: seedsOut[i] } : {}), ...(m?.normalizeShift !== undefined ? { normalized: !!m.normalize, quantile_shift: m.normalizeShift } : {}) };
    };
    const done = `${report.blocks} blocks (${report.computed} computed, ${report.resumed} resumed) in ${report.seconds.toFixed(1)} s`;
    if (outDirs.length === 1) {
      emit(opts, { ...layerResult(0), ...run }, () => `${outDirs[0]}: ${outChannels[0]} channel(s) ${dtype}, ${done}`);
    } else {
      // several models: one entry per output layer, in the order of --model
      emit(opts, { layers: outDirs.map((_, i) => layerResult(i)), dtype, ...run }, () => `${outDirs.map((d, i) => `${d}: ${outChannels[i]} channel(s)`).join('; ')} ${dtype}, ${done}`);
    }
  });
}

/** A model's carried seeds as the layer info writes them (`wiring.segment_seeds`, snake_case as the rest of the info). */
function segmentSeedsInfo(s: SegmentSeeds): Record<string, unknown> {
  return {
    seeds: s.seeds,
    ...(s.seedSigma !== undefined ? { seed_sigma: s.seedSigma } : {}),
    ...(s.seedConnectivity !== undefined ? { seed_connectivity: s.seedConnectivity } : {}),
    ...(s.flood !== undefined ? { flood: s.flood } : {}),
  };
}
