import { UsageError } from './errors.js';

/**
 * Axis convention (everywhere in Wiring's public API): a 3-vector is [x, y, z].
 * Shapes, offsets, voxel sizes, chunk sizes, positions: all [x, y, z].
 * In memory x varies fastest: index = x + sx * (y + sy * z)  (+ sx*sy*sz * c for channel c),
 * which is the byte order of a numpy C-order (c, z, y, x) array and of a Neuroglancer
 * (x, y, z, c) Fortran-order chunk.
 */
export type Vec3 = readonly [number, number, number];

/** A half-open box of voxels: min <= p < max on every axis, [x, y, z]. */
export interface Box {
  readonly min: Vec3;
  readonly max: Vec3;
}

export function box(min: Vec3, max: Vec3): Box {
  return { min: [min[0], min[1], min[2]], max: [max[0], max[1], max[2]] };
}

export function boxFromShape(shape: Vec3, offset: Vec3 = [0, 0, 0]): Box {
  return box(offset, [offset[0] + shape[0], offset[1] + shape[1], offset[2] + shape[2]]);
}

export function boxShape(b: Box): Vec3 {
  return [b.max[0] - b.min[0], b.max[1] - b.min[1], b.max[2] - b.min[2]];
}

export function boxVoxels(b: Box): number {
  const s = boxShape(b);
  return Math.max(0, s[0]) * Math.max(0, s[1]) * Math.max(0, s[2]);
}

export function boxIsEmpty(b: Box): boolean {
  return b.max[0] <= b.min[0] || b.max[1] <= b.min[1] || b.max[2] <= b.min[2];
}

export function boxIntersect(a: Box, b: Box): Box {
  return box(
    [Math.max(a.min[0], b.min[0]), Math.max(a.min[1], b.min[1]), Math.max(a.min[2], b.min[2])],
    [Math.min(a.max[0], b.max[0]), Math.min(a.max[1], b.max[1]), Math.min(a.max[2], b.max[2])],
  );
}

export function boxContains(outer: Box, inner: Box): boolean {
  for (let i = 0; i < 3; i++) {
    if (inner.min[i] < outer.min[i] || inner.max[i] > outer.max[i]) return false;
  }
  return true;
}

export function boxEquals(a: Box, b: Box): boolean {
  for (let i = 0; i < 3; i++) if (a.min[i] !== b.min[i] || a.max[i] !== b.max[i]) return false;
  return true;
}

/** Grow a box by a margin [x, y, z] on every side (a scheduler's read context). */
export function boxGrow(b: Box, margin: Vec3): Box {
  return box(
    [b.min[0] - margin[0], b.min[1] - margin[1], b.min[2] - margin[2]],
    [b.max[0] + margin[0], b.max[1] + margin[1], b.max[2] + margin[2]],
  );
}

export function boxTranslate(b: Box, d: Vec3): Box {
  return box(
    [b.min[0] + d[0], b.min[1] + d[1], b.min[2] + d[2]],
    [b.max[0] + d[0], b.max[1] + d[1], b.max[2] + d[2]],
  );
}

export function boxToString(b: Box): string {
  return `x ${b.min[0]}:${b.max[0]}, y ${b.min[1]}:${b.max[1]}, z ${b.min[2]}:${b.max[2]}`;
}

export function vecEquals(a: Vec3, b: Vec3): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

/** Parse "X,Y,Z" (command-line form); `integer` requires whole positive numbers. */
export function parseVec3(text: string, what: string, opts: { integer?: boolean; positive?: boolean } = {}): Vec3 {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length !== 3 || parts.some((p) => p === '')) {
    throw new UsageError(`${what}: expected X,Y,Z (three comma-separated numbers), got ${JSON.stringify(text)}`);
  }
  const v = parts.map(Number) as unknown as [number, number, number];
  for (const n of v) {
    if (!Number.isFinite(n)) throw new UsageError(`${what}: ${JSON.stringify(text)} has a value that is not a number`);
    if (opts.integer && !Number.isInteger(n)) throw new UsageError(`${what}: ${JSON.stringify(text)} must be whole numbers`);
    if (opts.positive && n <= 0) throw new UsageError(`${what}: ${JSON.stringify(text)} must be positive`);
  }
  return v;
}

/** Parse "x0:x1,y0:y1,z0:z1" (whole voxels, half-open, non-empty), e.g. a --bounds option. */
export function parseBoxText(text: string, what: string): Box {
  const parts = text.split(',').map((p) => p.split(':').map((s) => (s.trim() === '' ? NaN : Number(s.trim()))));
  if (parts.length !== 3 || parts.some((p) => p.length !== 2 || p.some((v) => !Number.isSafeInteger(v)) || p[1] <= p[0])) {
    throw new UsageError(`${what}: expected x0:x1,y0:y1,z0:z1 (whole voxels, half-open, non-empty), got ${JSON.stringify(text)}`);
  }
  return box([parts[0][0], parts[1][0], parts[2][0]], [parts[0][1], parts[1][1], parts[2][1]]);
}
