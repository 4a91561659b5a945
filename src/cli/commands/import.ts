import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import { type Vec3, boxContains, boxFromShape, boxShape, boxToString, parseBoxText } from '../../core/box.js';
import { bytesPerElement, isLabelType } from '../../core/dtype.js';
import { UsageError } from '../../core/errors.js';
import { openSource } from '../../formats/open.js';
import { type PrecomputedInfo, PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import type { LayerKind } from '../../formats/source.js';
import { runTasks } from '../../scheduler/index.js';
import { layerDataType } from '../../stages/ingest/convert.js';
import type { IngestParams } from '../../stages/ingest/tasks.js';
import { emit } from '../output.js';
import { parseXyz } from '../xyz.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';
import { addShardingOption, shardingFor } from '../sharding-options.js';
import { describeLayer } from '../layer-info.js';

const ingestModule = new URL('../../stages/ingest/tasks.js', import.meta.url).href;

/** Whether an existing layer has the scale-0 layout a new import would write. */
function sameLayout(layer: PrecomputedLayer, info: PrecomputedInfo): boolean {
  const a = layer.info;
  const [x, y] = [a.scales[0], info.scales[0]];
  return (
    a.type === info.type && a.data_type === info.data_type && a.num_channels === info.num_channels &&
    JSON.stringify([x.size, x.voxel_offset, x.resolution, x.chunk_sizes, x.encoding, x.sharding ?? null]) === JSON.stringify([y.size, y.voxel_offset, y.resolution, y.chunk_sizes, y.encoding, y.sharding ?? null])
  );
}

export function register(program: Command): Command {
  const cmd = program
    .command('import')
    .description('import a volume (PNG/TIFF slices, multi-page TIFF, file.h5#dataset, .zarr, OME-Zarr, .npy, precomputed) as a Neuroglancer precomputed layer')
    .argument('<source>', 'the volume to read')
    .argument('<layer-dir>', 'the precomputed layer folder to write (e.g. ds/raw)')
    .option('--voxel-size <X,Y,Z>', 'voxel size in nm (default: from the source, else 1,1,1)')
    .option('--offset <X,Y,Z>', 'voxel offset of the layer (default: from the source)')
    .option('--bounds <x0:x1,y0:y1,z0:z1>', 'import only this box of the source (voxels, source coordinates): a cutout, e.g. of a remote petavoxel layer; the layer keeps the source coordinates')
    .addOption(new Option('--type <kind>', 'layer type (default: segmentation for uint32/uint64/int32 labels, image otherwise)').choices(['image', 'segmentation']))
    .option('--chunk-size <X,Y,Z>', 'chunk size in voxels', '64,64,64')
    .addOption(new Option('--encoding <enc>', 'chunk encoding (default: raw for images, compressed_segmentation for segmentations)').choices(['raw', 'compressed_segmentation']))
    .option('--gzip', 'gzip the chunk files')
    .option('--overwrite', 'replace an existing layer')
    .option('--json', 'machine-readable output');
  addShardingOption(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (source: string, layerDir: string, opts) => {
    const src = await openSource(source);
    try {
      const kind: LayerKind =
        opts.type ?? src.kind ?? (isLabelType(src.dtype) || src.dtype === 'int32' ? 'segmentation' : 'image');
      if (kind === 'segmentation' && src.channels !== 1) {
        throw new UsageError(`a segmentation has one channel; ${source} has ${src.channels}`);
      }
      const voxelSize: Vec3 = opts.voxelSize ? parseXyz(opts.voxelSize, '--voxel-size', 'nm') : src.voxelSize;
      const offset: Vec3 = opts.offset ? parseXyz(opts.offset, '--offset', 'offset') : src.offset;
      const chunkSize = parseXyz(opts.chunkSize, '--chunk-size', 'size');
      const dtype = layerDataType(src.dtype, kind);
      const srcBox = boxFromShape(src.shape, src.offset);
      const cut = opts.bounds ? parseBoxText(opts.bounds, '--bounds') : undefined;
      if (cut && !boxContains(srcBox, cut)) throw new UsageError(`--bounds ${boxToString(cut)} is not inside the source (${boxToString(srcBox)})`, source);
      if (cut && opts.offset) throw new UsageError('--bounds keeps the source coordinates; give --bounds or --offset, not both');
      const shape: Vec3 = cut ? boxShape(cut) : src.shape;
      const layerOffset: Vec3 = cut ? cut.min : offset;
      const clipped: Vec3 = [Math.min(chunkSize[0], shape[0]), Math.min(chunkSize[1], shape[1]), Math.min(chunkSize[2], shape[2])];
      const sharding = shardingFor(opts, shape, clipped, kind);
      if (sharding && opts.gzip) throw new UsageError('--gzip is for unsharded chunk files; a sharded layer gzips image chunks inside its shards');
      const info = makeInfo({ type: kind, dtype, channels: src.channels, shape, voxelSize, offset: layerOffset, chunkSize, encoding: opts.encoding, sharding });
      // An existing layer made from the same import resumes (the scheduler skips finished blocks);
      // anything else needs --overwrite.
      const layer =
        !opts.overwrite && existsSync(path.join(layerDir, 'info')) && sameLayout(await PrecomputedLayer.open(layerDir), info)
          ? await PrecomputedLayer.open(layerDir)
          : await PrecomputedLayer.create(layerDir, info, { overwrite: !!opts.overwrite, gzip: !!opts.gzip, writing: 'import' });
      const chunk = layer.info.scales[0].chunk_sizes[0];
      const bounds = cut ?? boxFromShape(src.shape, offset);
      // Blocks of several chunks in x and y keep reads of slice stacks and HDF5 chunks efficient.
      // A sharded layer is written a shard per block (each block rewrites its own shard once).
      const blockShape: Vec3 = (sharding && layer.writeUnit(0)) || [chunk[0] * 4, chunk[1] * 4, chunk[2]];
      const shift: Vec3 = cut ? [0, 0, 0] : [offset[0] - src.offset[0], offset[1] - src.offset[1], offset[2] - src.offset[2]];
      // Workers (threads, or other machines through Redis) open the source themselves: give them an absolute path.
      const sourceSpec = /^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? source : path.resolve(source);
      const params: IngestParams = { source: sourceSpec, dtype, voxelSize, shift };
      const started = Date.now();
      const report = await runTasks(
        [{
          name: 'import',
          module: ingestModule,
          fn: 'ingestBlock',
          params,
          outputs: { out: { layer: layerDir } },
          bounds,
          blockShape,
        }],
        schedulerOptions(opts, path.join(layerDir, '.wiring-run')),
      );
      const seconds = (Date.now() - started) / 1000;
      const bytes = shape[0] * shape[1] * shape[2] * src.channels * bytesPerElement(src.dtype);
      const result = { layer: layerDir, source, ...describeLayer(await PrecomputedLayer.open(layerDir)), seconds, mb_per_s: bytes / 1e6 / Math.max(seconds, 1e-6), blocks: report };
      emit(opts, result, () => `imported ${source}${cut ? ` [${boxToString(cut)}]` : ''} -> ${layerDir}: ${kind} ${dtype} [${shape}] at ${voxelSize} nm in ${seconds.toFixed(1)} s`);
    } finally {
      await src.close();
    }
  });
}
