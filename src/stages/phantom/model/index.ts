/**
 * The phantom model, local to a box: cells as geometric primitives (capsules with linearly varying
 * radius, spheres as zero-length capsules), synapses, mitochondria and vesicle clouds, and a
 * uniform grid index so a voxel only looks at the primitives near it.
 *
 * Locality: space is cut into cubic tiles (MODEL_CONSTANTS.tile nm). Everything anchored in a tile
 * (somata, dendrites with their spines and synaptic targets, the axons that make those synapses,
 * passing axons, organelles) is a pure function of (seed, tile index) and lies within the tile
 * grown by a known reach. The model of a box is the union of the tiles that can reach it (in tile
 * order), cut to the primitives near the box, so every voxel sees the same primitives in the same
 * order whatever box it is rasterised in: output is identical for any block shape or worker count,
 * and the model's size and build time depend on the box, not on the volume. Only a volume smaller
 * than one soma's share (MODEL_CONSTANTS.somaVolume) adds one soma of its own, from (seed, size).
 *
 * Frame: nanometres, voxel p samples the point (p + 0.5) * voxelSize (core voxelToNm).
 *
 * Files (README.md): types.ts, random.ts, geometry.ts, constants.ts, tile-generator.ts, tile.ts,
 * cache.ts, assemble.ts.
 */
export { buildModel, MAX_SYNAPSE_DENSITY, MIN_SYNAPSE_DENSITY } from './assemble.js';
export { clearTileCache, TILE_CACHE_SIZE, tileStats } from './cache.js';
export { MODEL_CONSTANTS } from './constants.js';
export { hash4, rng } from './random.js';
export type { TileContent } from './tile-generator.js';
export { buildTile } from './tile.js';
export {
  type CellInfo, CELL_TYPES, type CellType, type NeuronType, COMPARTMENT, COMPARTMENT_NAMES, CONNECTION_RULES, EXCITATORY, type OrganelleInfo,
  type PhantomModel, type PhantomOptions, type SynapseInfo, type TargetKind,
} from './types.js';
