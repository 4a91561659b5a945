// The scheduler's seam to the formats layer: output layers (PrecomputedLayer) and input sources
// (openSource). Imported lazily: a run without inputs (or a `wiring worker` waiting for jobs)
// does not load every format reader.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { PrecomputedLayer } from '../formats/precomputed/index.js';
import type { VolumeSource } from '../formats/source.js';

export type OutputLayer = PrecomputedLayer;

export async function openOutputLayer(dir: string): Promise<PrecomputedLayer> {
  const { PrecomputedLayer } = await import('../formats/precomputed/index.js');
  return PrecomputedLayer.open(dir);
}

/**
 * openSource(spec). A precomputed layer folder (the common case inside a pipeline) is opened
 * exactly as openSource does it (PrecomputedLayer.open(dir).source(0)) without loading every
 * other reader: open.ts imports the HDF5 reader (h5wasm) eagerly, which costs seconds per
 * worker thread.
 */
export async function openInput(spec: string, opts: { allowIncomplete?: boolean } = {}): Promise<VolumeSource> {
  if (!spec.includes('#') && existsSync(path.join(spec, 'info'))) {
    const { PrecomputedLayer } = await import('../formats/precomputed/index.js');
    return (await PrecomputedLayer.open(spec)).source(0, opts);
  }
  const { openSource } = await import('../formats/open.js');
  return openSource(spec, opts);
}
