/** Shape/length check shared by the watershed entry points. */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';

export function checkVolume(what: string, length: number, shape: Vec3): number {
  for (let i = 0; i < 3; i++) {
    if (!Number.isInteger(shape[i]) || shape[i] < 0) throw new UsageError(`${what}: shape [${shape}] must be non-negative integers`);
  }
  const n = shape[0] * shape[1] * shape[2];
  if (length !== n) throw new UsageError(`${what}: array has ${length} elements, expected ${n} for shape [${shape}]`);
  return n;
}
