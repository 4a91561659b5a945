import type { Command } from 'commander';
import type { Vec3 } from '../core/box.js';
import { type ShardingSpec, suggestSharding } from '../formats/precomputed/index.js';

/**
 * Layers of more chunks than this are written sharded by default (Neuroglancer's
 * neuroglancer_uint64_sharded_v1: one file per shard of ~512 chunks instead of a file per chunk).
 * 100,000 chunk files is where listing, copying and syncing a layer becomes slow; a teravoxel
 * layer in 64^3 chunks is ~4 million files unsharded, ~8,000 shards.
 */
export const SHARDED_ABOVE_CHUNKS = 100_000;

/** Add --sharded / --no-sharded (default: sharded above SHARDED_ABOVE_CHUNKS chunks). */
export function addShardingOption(cmd: Command): Command {
  return cmd
    .option('--sharded', `write the layer sharded (Neuroglancer sharded precomputed; default when it has more than ${SHARDED_ABOVE_CHUNKS.toLocaleString('en')} chunks)`)
    .option('--no-sharded', 'write one file per chunk, however large the layer');
}

/** The sharding of a new layer of `shape` in `chunk`s under the options given, or undefined (unsharded). */
export function shardingFor(opts: { sharded?: boolean }, shape: Vec3, chunk: Vec3, kind: 'image' | 'segmentation'): ShardingSpec | undefined {
  const grid: Vec3 = [Math.ceil(shape[0] / chunk[0]), Math.ceil(shape[1] / chunk[1]), Math.ceil(shape[2] / chunk[2])];
  const chunks = grid[0] * grid[1] * grid[2];
  const sharded = opts.sharded ?? chunks > SHARDED_ABOVE_CHUNKS;
  // Raw image chunks are gzipped inside the shards; compressed_segmentation is compact already.
  return sharded ? suggestSharding(grid, { gzipData: kind === 'image' }) : undefined;
}
