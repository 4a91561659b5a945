/** The `--bounds x0:x1,y0:y1,z0:z1` option of `train-pixels` and `predict`. */
import { type Box, box } from '../core/box.js';
import { UsageError } from '../core/errors.js';

/** Parse "x0:x1,y0:y1,z0:z1" (voxels, half-open). */
export function parseBounds(text: string, what: string): Box {
  const parts = text.split(',').map((p) => p.split(':').map((s) => Number(s.trim())));
  if (parts.length !== 3 || parts.some((p) => p.length !== 2 || p.some((v) => !Number.isInteger(v)) || p[1] <= p[0])) {
    throw new UsageError(`${what}: expected x0:x1,y0:y1,z0:z1 (whole voxels, half-open, non-empty), got ${JSON.stringify(text)}`);
  }
  return box([parts[0][0], parts[1][0], parts[2][0]], [parts[0][1], parts[1][1], parts[2][1]]);
}
