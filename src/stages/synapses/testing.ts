/** Test scenes shared by the cleft-filter and contact-site tests (not used by the stage itself). */
import type { Vec3 } from '../../core/box.js';
import { mulberry32 } from '../../core/random.js';
import type { FilterVolume } from './cleft-filter.js';

/**
 * Cleft-like discs (one section thick, radius 5 voxels, p 0.8 with noise) on a faint noisy
 * background, one per cell of a 4 x 4 grid of 24 voxels: the true ones have a vesicle cloud (p 0.9)
 * one to three sections above them, the false ones the same disc and no cloud. A disc's section is
 * `zBase` + 0..3. With `cells`, every disc lies on the contact between two cells stacked in z (one
 * column of 21 x 21 voxels per disc, ids 10 (k + 1) + 1 below and + 2 above, background 0 between
 * columns) and the scene carries that segmentation.
 */
export function discScene(seed: number, shape: Vec3 = [96, 96, 12], opts: { zBase?: number; cells?: boolean } = {}): FilterVolume & { nTrue: number; nFalse: number; discs: Vec3[] } {
  const zBase = opts.zBase ?? 2;
  const rnd = mulberry32(seed);
  const n = shape[0] * shape[1] * shape[2];
  const cleft = new Float32Array(n), vesicle = new Float32Array(n), truth = new Uint8Array(n);
  const segmentation = opts.cells ? new Uint32Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    cleft[i] = 0.1 * rnd();
    vesicle[i] = 0.1 * rnd();
  }
  const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
  let nTrue = 0, nFalse = 0, k = 0;
  const discs: Vec3[] = [];
  for (let gy = 0; gy < 4; gy++)
    for (let gx = 0; gx < 4; gx++, k++) {
      const cx = 12 + gx * 24, cy = 12 + gy * 24, cz = zBase + Math.floor(rnd() * 4);
      const real = rnd() < 0.5;
      discs.push([cx, cy, cz]);
      if (real) nTrue++;
      else nFalse++;
      if (segmentation) for (let z = 0; z < shape[2]; z++) for (let y = cy - 10; y <= cy + 10; y++) for (let x = cx - 10; x <= cx + 10; x++) segmentation[at(x, y, z)] = 10 * (k + 1) + (z <= cz ? 1 : 2);
      for (let y = cy - 5; y <= cy + 5; y++)
        for (let x = cx - 5; x <= cx + 5; x++) {
          if ((x - cx) ** 2 + (y - cy) ** 2 > 25) continue;
          cleft[at(x, y, cz)] = 0.7 + 0.2 * rnd();
          if (real) {
            truth[at(x, y, cz)] = 1;
            for (let z = cz + 1; z <= cz + 3; z++) vesicle[at(x, y, z)] = 0.9;
          }
        }
    }
  return { cleft, vesicle, truth, shape, nTrue, nFalse, discs, ...(segmentation ? { segmentation } : {}) };
}
