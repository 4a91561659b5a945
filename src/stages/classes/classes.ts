import { type Box, boxIntersect, boxIsEmpty, boxShape } from '../../core/box.js';
import { WiringError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';

/**
 * Semantic classes for training a pixel classifier, made from instance ground truth (e.g. the
 * phantom's layers, or a proofread volume): one uint8 class per voxel. Later entries win where
 * masks overlap, so organelles and clefts sit on top of the cell classes.
 */
export const CLASS_NAMES = ['unlabelled', 'boundary', 'cytoplasm', 'cleft', 'vesicle', 'mitochondrion'] as const;
export const CLASS = { boundary: 1, cytoplasm: 2, cleft: 3, vesicle: 4, mitochondrion: 5 } as const;

export interface ClassInputs {
  /** Cell ids (0 = extracellular / unlabelled), covering a box that contains `box` grown by 1 voxel where possible. */
  neurons: Volume;
  clefts?: Volume;
  vesicles?: Volume;
  mitochondria?: Volume;
}

/**
 * Classes inside `box`: boundary where a voxel's cell id is 0 or differs from a 6-neighbour
 * inside the neurons volume (so the result only depends on the neurons volume covering
 * box+1, not on block size), cytoplasm elsewhere in cells; then vesicle, mitochondrion and cleft
 * voxels (non-zero ids) override.
 */
export function classLabels(inp: ClassInputs, box: Box): Volume<'uint8'> {
  const n = inp.neurons;
  if (!boxIsEmpty(box) && boxIsEmpty(boxIntersect(box, n.box))) throw new WiringError('the neurons volume does not cover the block');
  const out = Volume.zeros('uint8', box, { voxelSize: n.voxelSize });
  const [bx, by, bz] = boxShape(box);
  const [nx, ny, nz] = n.shape;
  const ids = n.data as unknown as ArrayLike<number | bigint>;
  const o = out.data;
  for (let z = 0; z < bz; z++) {
    const gz = box.min[2] + z - n.box.min[2];
    for (let y = 0; y < by; y++) {
      const gy = box.min[1] + y - n.box.min[1];
      for (let x = 0; x < bx; x++) {
        const gx = box.min[0] + x - n.box.min[0];
        const i = gx + nx * (gy + ny * gz);
        const id = ids[i];
        let boundary = id == 0; // 0 and 0n
        if (!boundary) {
          boundary =
            (gx > 0 && ids[i - 1] !== id) ||
            (gx < nx - 1 && ids[i + 1] !== id) ||
            (gy > 0 && ids[i - nx] !== id) ||
            (gy < ny - 1 && ids[i + nx] !== id) ||
            (gz > 0 && ids[i - nx * ny] !== id) ||
            (gz < nz - 1 && ids[i + nx * ny] !== id);
        }
        o[x + bx * (y + by * z)] = boundary ? CLASS.boundary : CLASS.cytoplasm;
      }
    }
  }
  overlay(out, inp.vesicles, CLASS.vesicle);
  overlay(out, inp.mitochondria, CLASS.mitochondrion);
  overlay(out, inp.clefts, CLASS.cleft);
  return out;
}

function overlay(out: Volume<'uint8'>, mask: Volume | undefined, cls: number): void {
  if (!mask) return;
  const b = out.box;
  const [bx, by, bz] = out.shape;
  const m = mask.data as unknown as ArrayLike<number | bigint>;
  for (let z = 0; z < bz; z++)
    for (let y = 0; y < by; y++) {
      const row = mask.index(b.min[0], b.min[1] + y, b.min[2] + z);
      const orow = bx * (y + by * z);
      for (let x = 0; x < bx; x++) if (m[row + x] != 0) out.data[orow + x] = cls;
    }
}
