// Neuroglancer precomputed: Wiring's canonical on-disk dataset layer. All vectors [x, y, z].
export {
  type ShardingSpec,
  type ScaleInfo,
  type PrecomputedInfo,
  type ChunkEncoding,
  type MakeInfoOptions,
  makeInfo,
  parseInfo,
  validateInfo,
  stringifyInfo,
  checkSharding,
  scaleKey,
  MAX_CHUNK_BYTES,
} from './info.js';
export { PrecomputedLayer, isPrecomputedLayer, type CreateOptions, type IoStats } from './layer.js';
export { type ChunkFormat, decodeChunk, decodeChunkInto, encodeChunk, isGzip, maybeGunzip } from './chunk-codec.js';
export { type LabelArray, encodeCompressedSegmentation, decodeCompressedSegmentation, decodeCompressedSegmentationInto } from './compressed-segmentation.js';
export {
  ShardReader,
  MinishardCache,
  compressedMortonCode,
  mortonBits,
  hashChunkId,
  locateChunk,
  shardFileName,
  shardShape,
  suggestSharding,
  encodeShard,
  chooseSharding,
  SHARDING_DEFAULTS,
  SHARD_BLOCK_BYTES,
  type ShardingChoice,
} from './sharding.js';
export { murmurhash3_x86_128, murmurhash3_x86_128_bytes, murmurhash3_x86_128_uint64 } from './murmurhash3.js';
export { withFileLock } from './lock.js';
