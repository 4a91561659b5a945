/** What `wiring info` (and `import`, `downsample`) report about a precomputed layer. */
import type { PrecomputedLayer } from '../formats/precomputed/index.js';

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
