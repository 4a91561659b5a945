import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { openSource } from '../../formats/open.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';
import { emit } from '../output.js';
import { voxelSizeAssumed, voxelSizeWarning } from '../voxel-size.js';
import { describeLayer } from '../layer-info.js';

export { describeLayer }; // its old home: other commands import it from ../layer-info.js

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
