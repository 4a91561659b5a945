// The scheduler's seam to the formats layer: output layers (precomputed) and input sources.
import type { ChunkGrid } from '../core/chunks.js';
import type { DataType } from '../core/dtype.js';
import type { Volume } from '../core/volume.js';
import type { Box } from '../core/box.js';
import type { VolumeSource } from '../formats/source.js';

/** The part of PrecomputedLayer the scheduler uses. */
export interface OutputLayer {
  readonly dir: string;
  readonly info: { data_type: DataType; num_channels: number; scales: Array<{ chunk_sizes: ReadonlyArray<readonly [number, number, number]>; sharding?: unknown }> };
  chunkGrid(scale?: number): ChunkGrid;
  writeBox(vol: Volume, scale?: number): Promise<void>;
  readBox(box: Box, scale?: number): Promise<Volume>;
}

const PRECOMPUTED = '../formats/precomputed/index.js' as string;
const OPEN = '../formats/open.js' as string;

export async function openOutputLayer(dir: string): Promise<OutputLayer> {
  const m = (await import(PRECOMPUTED)) as { PrecomputedLayer: { open(dir: string): Promise<OutputLayer> } };
  return m.PrecomputedLayer.open(dir);
}

export async function openInput(spec: string): Promise<VolumeSource> {
  const m = (await import(OPEN)) as { openSource(spec: string): Promise<VolumeSource> };
  return m.openSource(spec);
}
