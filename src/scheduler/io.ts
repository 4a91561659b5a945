// The scheduler's seam to the formats layer: output layers (PrecomputedLayer) and input sources
// (openSource). Imported lazily: a run without inputs (or a `wiring worker` waiting for jobs)
// does not load every format reader (h5wasm alone takes seconds to load).
import type { PrecomputedLayer } from '../formats/precomputed/index.js';
import type { VolumeSource } from '../formats/source.js';

export type OutputLayer = PrecomputedLayer;

export async function openOutputLayer(dir: string): Promise<PrecomputedLayer> {
  const { PrecomputedLayer } = await import('../formats/precomputed/index.js');
  return PrecomputedLayer.open(dir);
}

export async function openInput(spec: string): Promise<VolumeSource> {
  const { openSource } = await import('../formats/open.js');
  return openSource(spec);
}
