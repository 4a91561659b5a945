/** The `--bounds x0:x1,y0:y1,z0:z1` option of `train-pixels` and `predict` (parsed by src/cli/xyz.ts). */
import type { Box } from '../core/box.js';
import { parseXyzBounds } from './xyz.js';

/** Parse "x0:x1,y0:y1,z0:z1" (voxels, half-open). */
export function parseBounds(text: string, what: string): Box {
  return parseXyzBounds(text, what);
}
