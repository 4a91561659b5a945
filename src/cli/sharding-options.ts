/**
 * --sharded / --no-sharded, declared once for every command that writes a precomputed layer, and
 * turned into the stages' `ShardingChoice` (the policy itself, with its defaults, is
 * `chooseSharding` in src/formats/precomputed/sharding.ts).
 */
import type { Command } from 'commander';
import type { Vec3 } from '../core/box.js';
import { SHARDING_DEFAULTS, type ShardingChoice, type ShardingSpec, chooseSharding } from '../formats/precomputed/index.js';

/** Layers of more chunks than this are written sharded by default (SHARDING_DEFAULTS.aboveChunks). */
export const SHARDED_ABOVE_CHUNKS = SHARDING_DEFAULTS.aboveChunks;

/** Add --sharded / --no-sharded (default: sharded above SHARDED_ABOVE_CHUNKS chunks). */
export function addShardingOption(cmd: Command): Command {
  return cmd
    .option('--sharded', `write the layer sharded (Neuroglancer's neuroglancer_uint64_sharded_v1: a file per shard of up to ${2 ** SHARDING_DEFAULTS.log2MaxChunksPerShard} chunks); the default when a scale has more than ${SHARDED_ABOVE_CHUNKS.toLocaleString('en')} chunks`)
    .option('--no-sharded', 'write one file per chunk, however large the layer');
}

/** The stages' ShardingChoice under the options given (--sharded, --no-sharded, or the size rule). */
export function shardingChoice(opts: { sharded?: boolean }): ShardingChoice {
  return (kind, shape, chunk, block) => chooseSharding(opts.sharded, kind, shape, chunk, block);
}

/** The sharding of a new layer of `shape` in `chunk`s under the options given, or undefined (unsharded). */
export function shardingFor(opts: { sharded?: boolean }, shape: Vec3, chunk: Vec3, kind: 'image' | 'segmentation', block?: Vec3): ShardingSpec | undefined {
  return chooseSharding(opts.sharded, kind, shape, chunk, block);
}
