// Memory limits that follow the work: one read allocates the box it was asked for, never a size
// a header declares, and a box larger than MAX_READ_BYTES is refused with a clear error.
import { type Box, boxShape, boxToString } from './box.js';
import { type DataType, bytesPerElement } from './dtype.js';
import { UsageError } from './errors.js';

/** Largest single read (bytes); set WIRING_MAX_READ_BYTES to change it. Larger volumes are read in blocks. */
export const MAX_READ_BYTES = (() => {
  const v = Number(process.env.WIRING_MAX_READ_BYTES);
  return Number.isFinite(v) && v > 0 ? v : 2 ** 31;
})();

/** Refuse a read box whose voxels would take more than MAX_READ_BYTES; `where` is the source. */
export function checkReadBytes(b: Box, dtype: DataType, channels: number, where: string): void {
  const [sx, sy, sz] = boxShape(b);
  const bytes = Math.max(0, sx) * Math.max(0, sy) * Math.max(0, sz) * channels * bytesPerElement(dtype);
  if (bytes > MAX_READ_BYTES) {
    throw new UsageError(
      `read box (${boxToString(b)}) needs ${bytes} bytes, more than one read may take (${MAX_READ_BYTES}, WIRING_MAX_READ_BYTES); read it in blocks (import and the stages do)`,
      where,
    );
  }
}
