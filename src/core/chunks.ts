import { type Box, type Vec3, box, boxFromShape, boxIntersect, boxIsEmpty } from './box.js';
import { WiringError } from './errors.js';

/**
 * A regular grid of chunks over a volume: `bounds` (half-open voxel box, [x, y, z]) cut into
 * chunks of `chunkSize` starting at bounds.min. Edge chunks are clipped to the bounds.
 * Neuroglancer precomputed's `voxel_offset`/`size`/`chunk_sizes` map to exactly this.
 */
export class ChunkGrid {
  readonly gridShape: Vec3;
  constructor(
    readonly bounds: Box,
    readonly chunkSize: Vec3,
  ) {
    for (let i = 0; i < 3; i++) {
      if (!(chunkSize[i] > 0) || !Number.isInteger(chunkSize[i])) {
        throw new WiringError(`chunk size [${chunkSize}] must be positive integers`);
      }
    }
    const s = [0, 1, 2].map((i) => Math.max(0, Math.ceil((bounds.max[i] - bounds.min[i]) / chunkSize[i])));
    this.gridShape = [s[0], s[1], s[2]];
  }

  static of(shape: Vec3, chunkSize: Vec3, offset: Vec3 = [0, 0, 0]): ChunkGrid {
    return new ChunkGrid(boxFromShape(shape, offset), chunkSize);
  }

  get count(): number {
    return this.gridShape[0] * this.gridShape[1] * this.gridShape[2];
  }

  /** Voxel box of chunk at grid position (i, j, k), clipped to the bounds. */
  chunkBox(g: Vec3): Box {
    const min: Vec3 = [
      this.bounds.min[0] + g[0] * this.chunkSize[0],
      this.bounds.min[1] + g[1] * this.chunkSize[1],
      this.bounds.min[2] + g[2] * this.chunkSize[2],
    ];
    return boxIntersect(box(min, [min[0] + this.chunkSize[0], min[1] + this.chunkSize[1], min[2] + this.chunkSize[2]]), this.bounds);
  }

  /** Grid positions of all chunks that overlap box `b`, x fastest. */
  *chunksIn(b: Box = this.bounds): Generator<Vec3> {
    const r = boxIntersect(b, this.bounds);
    if (boxIsEmpty(r)) return;
    const lo = [0, 1, 2].map((i) => Math.floor((r.min[i] - this.bounds.min[i]) / this.chunkSize[i]));
    const hi = [0, 1, 2].map((i) => Math.ceil((r.max[i] - this.bounds.min[i]) / this.chunkSize[i]));
    for (let k = lo[2]; k < hi[2]; k++)
      for (let j = lo[1]; j < hi[1]; j++)
        for (let i = lo[0]; i < hi[0]; i++) yield [i, j, k];
  }

  /** Linear index of a grid position (x fastest). */
  linear(g: Vec3): number {
    return g[0] + this.gridShape[0] * (g[1] + this.gridShape[1] * g[2]);
  }

  fromLinear(n: number): Vec3 {
    const gx = this.gridShape[0];
    const gy = this.gridShape[1];
    return [n % gx, Math.floor(n / gx) % gy, Math.floor(n / (gx * gy))];
  }
}
