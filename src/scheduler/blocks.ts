import { type Box, type Vec3, box, boxGrow, boxIntersect, boxIsEmpty } from '../core/box.js';
import { ChunkGrid } from '../core/chunks.js';

/** One block of a task: its grid position, linear index (x fastest) and voxel box. */
export interface Block {
  index: Vec3;
  linear: number;
  box: Box;
}

/** The block grid of a task: bounds cut by blockShape, aligned to bounds.min, edge blocks clipped. */
export function blockGrid(bounds: Box, blockShape: Vec3): ChunkGrid {
  return new ChunkGrid(bounds, blockShape);
}

export function listBlocks(grid: ChunkGrid): Block[] {
  const out: Block[] = [];
  for (let n = 0; n < grid.count; n++) {
    const index = grid.fromLinear(n);
    out.push({ index, linear: n, box: grid.chunkBox(index) });
  }
  return out;
}

/** The read box of a block: grown by the margin, clipped to `clip` (the inputs' common bounds). */
export function readBoxOf(b: Box, margin: Vec3, clip: Box): Box {
  return boxIntersect(boxGrow(b, margin), clip);
}

/** True when two blocks of one grid touch (26-neighbourhood) or are the same block. */
export function adjacent(a: Vec3, b: Vec3): boolean {
  return Math.abs(a[0] - b[0]) <= 1 && Math.abs(a[1] - b[1]) <= 1 && Math.abs(a[2] - b[2]) <= 1;
}

/** Intersection of several boxes (undefined for none). */
export function intersectAll(boxes: Box[]): Box | undefined {
  if (boxes.length === 0) return undefined;
  let r = box(boxes[0].min, boxes[0].max);
  for (const b of boxes.slice(1)) r = boxIntersect(r, b);
  return boxIsEmpty(r) ? r : r;
}

export function blockFileName(index: Vec3): string {
  return `${index[0]}_${index[1]}_${index[2]}.json`;
}
