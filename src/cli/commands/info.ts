import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { openSource } from '../../formats/open.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { emit } from '../output.js';
import { voxelSizeAssumed, voxelSizeWarning } from '../voxel-size.js';

/** The facts `wiring info` reports about a precomputed layer (all vectors [x, y, z], nm). */
export function describeLayer(layer: PrecomputedLayer) {
  const info = layer.info;
  const s0 = info.scales[0];
  return {
    format: 'precomputed',
    type: info.type,
    data_type: info.data_type,
    num_channels: info.num_channels,
    size: s0.size,
    voxel_offset: s0.voxel_offset,
    voxel_size: s0.resolution,
    encoding: s0.encoding,
    chunk_size: s0.chunk_sizes[0],
    scales: info.scales.map((s) => ({
      key: s.key,
      size: s.size,
      voxel_offset: s.voxel_offset,
      voxel_size: s.resolution,
      chunk_sizes: s.chunk_sizes,
      encoding: s.encoding,
      ...(s.compressed_segmentation_block_size ? { compressed_segmentation_block_size: s.compressed_segmentation_block_size } : {}),
      sharded: !!s.sharding,
    })),
    ...(info.mesh ? { mesh: info.mesh } : {}),
    ...(info.skeletons ? { skeletons: info.skeletons } : {}),
  };
}

export function register(program: Command): Command {
  return program
    .command('info')
    .description('describe a precomputed layer (or any readable volume): type, data type, size, voxel size, scales, chunks, encoding')
    .argument('<layer-dir>', 'a precomputed layer folder, or any source `wiring import` reads')
    .option('--json', 'machine-readable output')
    .action(async (spec: string, opts) => {
      let result: Record<string, unknown>;
      if (existsSync(path.join(spec, 'info'))) {
        result = { layer: spec, ...describeLayer(await PrecomputedLayer.open(spec)) };
      } else {
        const src = await openSource(spec);
        await src.close();
        result = {
          layer: spec,
          format: src.format,
          type: src.kind ?? null,
          data_type: src.dtype,
          num_channels: src.channels,
          size: src.shape,
          voxel_offset: src.offset,
          voxel_size: src.voxelSize,
          chunk_size: src.chunkShape,
          voxel_size_assumed: voxelSizeAssumed(src),
        };
        if (result.voxel_size_assumed) {
          result.warning = voxelSizeWarning(spec, '--voxel-size X,Y,Z to import (or "voxel_size" to run)');
          process.stderr.write(`warning: ${result.warning}\n`);
        }
      }
      emit(opts, result, () => {
        const lines = [
          `${spec}: ${result.format} ${result.type ?? ''} ${result.data_type} x${result.num_channels}`,
          `  size ${result.size} voxels at ${result.voxel_size} nm, offset ${result.voxel_offset}`,
        ];
        for (const s of (result.scales as Array<Record<string, unknown>> | undefined) ?? []) {
          lines.push(`  scale ${s.key}: size ${s.size}, chunks ${(s.chunk_sizes as unknown[]).join(' ')}, ${s.encoding}${s.sharded ? ', sharded' : ''}`);
        }
        return lines.join('\n');
      });
    });
}
