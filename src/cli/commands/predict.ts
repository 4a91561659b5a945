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
import { PixelModel } from '../../stages/predict/model.js';
import { type OnnxOptions, onnxPredictTask, onnxPredictVolume, openOnnx } from '../../stages/predict/onnx.js';
import { type OutputDtype, checkRawForModel, normalizationFor, predictPixelsTask } from '../../stages/predict/predict.js';
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
    .argument('<out-layer>', 'output precomputed layer folder (created; float32 or uint8, one channel per class/output)')
    .requiredOption('--raw <source>', 'raw EM intensities (any source openSource reads)')
    .option('--model <file>', 'pixel classifier from wiring train-pixels')
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
  return cmd.action(async (outLayer: string, opts) => {
    if (!!opts.model === !!opts.onnx) throw new UsageError('give exactly one of --model <file> or --onnx <file>');
    const dtype = opts.dtype as OutputDtype;
    if (dtype !== 'float32' && dtype !== 'uint8') throw new UsageError(`--dtype: expected float32 or uint8, got ${JSON.stringify(opts.dtype)}`);
    const voxelSize = opts.voxelSize ? parseXyz(opts.voxelSize, '--voxel-size', 'nm') : undefined;
    const rawSpec = path.resolve(opts.raw);
    const raw = await openSource(rawSpec, voxelSize ? { voxelSize } : {});
    const warnings: string[] = [];
    let model: PixelModel | undefined;
    if (opts.normalize !== 'auto' && opts.normalize !== 'off') throw new UsageError(`--normalize: expected auto or off, got ${JSON.stringify(opts.normalize)}`);
    let normalize: IntensityMap | undefined;
    let normalizeShift: number | undefined;
    try {
      if (opts.model) {
        model = await PixelModel.load(opts.model);
        warnings.push(...(await checkRawForModel(model, raw, { allowVoxelSize: !!opts.allowVoxelSize })));
        if (opts.normalize === 'auto') {
          const n = await normalizationFor(model, raw);
          normalize = n.map;
          normalizeShift = n.shift;
          if (normalize) warnings.push(`raw intensities normalised to the training raw's by quantile matching (the quantiles moved by ${((n.shift ?? 0) * 100).toFixed(0)}% of the training 1-99 span)`);
        }
      }
    } finally {
      await raw.close();
    }
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
    let outChannels: number;
    let task;
    const outDir = path.resolve(outLayer);
    if (model) {
      outChannels = model.outputChannels;
      if (opts.calibrated && !model.meta.calibration) throw new UsageError('--calibrated: the model carries no calibration (train it with dense --labels; --cross-fit auto or on)', opts.model);
      task = predictPixelsTask({ model, modelPath: path.resolve(opts.model), raw: rawSpec, out: outDir, bounds, blockShape: block, dtype, normalize, calibrated: !!opts.calibrated });
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
      outChannels = (await onnxPredictVolume(onnxPath, probe, { ...o, tile: probeShape as unknown as [number, number, number], overlap: [0, 0, 0], halo: [0, 0, 0] })).channels;
      task = onnxPredictTask({ onnx: onnxPath, raw: rawSpec, out: outDir, bounds, blockShape: block, dtype, options: o, outChannels, inChannels: raw.channels });
    }
    const info = makeInfo({ type: 'image', dtype, channels: outChannels, shape: raw.shape, voxelSize: raw.voxelSize, offset: raw.offset, chunkSize: [...chunkSize], sharding });
    // a boundary model's cut for `wiring segment` travels with the map it predicts
    const cut = model?.meta.target === 'gt' ? model.meta.segmentThreshold : undefined;
    const wiringInfo: Record<string, unknown> = {};
    if (cut !== undefined) wiringInfo.segment_threshold = cut;
    // a labels model's object rules (chosen on its calibrated out-of-fold maps) travel with its map
    if (model?.meta.objectRules) wiringInfo.object_rules = objectRulesInfo(model.meta.outputs, model.meta.objectRules, opts.calibrated ? model.meta.calibration?.channels.slice(model.meta.target === 'gt' ? 1 : 0) : undefined);
    if (opts.calibrated) wiringInfo.calibrated = true;
    if (Object.keys(wiringInfo).length) (info as unknown as Record<string, unknown>).wiring = wiringInfo;
    if (existsSync(path.join(outDir, 'info')) && !opts.overwrite) {
      // an earlier (interrupted) run: resume into it if it has the same geometry
      const old = await PrecomputedLayer.open(outDir);
      const s0 = old.info.scales[0];
      if (old.info.num_channels !== outChannels || old.info.data_type !== dtype || s0.size.join() !== raw.shape.join() || s0.chunk_sizes[0].join() !== chunkSize.join() || !!s0.sharding !== !!sharding) {
        throw new UsageError(`output layer exists with ${old.info.num_channels} ${old.info.data_type} channel(s), size [${s0.size}], chunks [${s0.chunk_sizes[0]}], ${s0.sharding ? 'sharded' : 'unsharded'}; this run writes ${outChannels} ${dtype} channel(s), size [${raw.shape}], chunks [${chunkSize}], ${sharding ? 'sharded' : 'unsharded'}: pass --overwrite to replace it`, outDir);
      }
    } else {
      await rm(path.join(outDir, '.wiring-run'), { recursive: true, force: true });
      await PrecomputedLayer.create(outDir, info, { overwrite: !!opts.overwrite, writing: task.name });
    }
    const report = await runTasks([task], schedulerOptions(opts, path.join(outDir, '.wiring-run')));
    const result = { layer: outDir, channels: outChannels, outputs: model?.meta.outputs, dtype, ...(cut !== undefined ? { segment_threshold: cut } : {}), ...(normalizeShift !== undefined ? { normalized: !!normalize, quantile_shift: normalizeShift } : {}), warnings, blocks: report.blocks, computed: report.computed, resumed: report.resumed, failed: report.failed, seconds: report.seconds };
    emit(opts, result, () => `${outDir}: ${outChannels} channel(s) ${dtype}, ${report.blocks} blocks (${report.computed} computed, ${report.resumed} resumed) in ${report.seconds.toFixed(1)} s`);
  });
}
