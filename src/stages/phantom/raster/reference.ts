import { type Box, boxShape } from '../../../core/box.js';
import type { PhantomModel } from '../model.js';
import { LOOK, type RasterFields } from './look.js';


/**
 * The labels by the plain algorithm (the rasteriser before tiling): every voxel scans its whole
 * grid cell's primitive and organelle lists. The specification `rasterize` must match voxel for
 * voxel, and the baseline of the speed benchmark (bench/phantom-raster.bench.ts).
 */
export function rasterizeLabelsReference(m: PhantomModel, box: Box): RasterFields {
  const [sx, sy, sz] = boxShape(box);
  const n = sx * sy * sz;
  const cellOut = new Int32Array(n);
  const compOut = new Uint8Array(n);
  const mitoOut = new Int32Array(n).fill(-1);
  const cloudOut = new Int32Array(n).fill(-1);
  const cleftOut = new Int32Array(n).fill(-1);
  const [vx, vy, vz] = m.options.voxelSize;
  const { pa, pu, pinv, pra, pdr, pcell, pcomp, psyn, primStart, primItems, orgStart, orgItems } = m;
  const { oa, ou, oinv, or, ohost, okind, synContact, synDisc, synPost } = m;
  const G = m.gridCell;
  const [ox, oy, oz] = m.gridOrigin;
  const [gdx, gdy, gdz] = m.gridDims;
  let o = 0;
  for (let z = box.min[2]; z < box.max[2]; z++) {
    const pz = (z + 0.5) * vz;
    const gz = Math.floor((pz - oz) / G);
    for (let y = box.min[1]; y < box.max[1]; y++) {
      const py = (y + 0.5) * vy;
      const gy = Math.floor((py - oy) / G);
      for (let x = box.min[0]; x < box.max[0]; x++, o++) {
        const px = (x + 0.5) * vx;
        const gx = Math.floor((px - ox) / G);
        cellOut[o] = -1;
        if (gx < 0 || gy < 0 || gz < 0 || gx >= gdx || gy >= gdy || gz >= gdz) continue;
        const g = gx + gdx * (gy + gdy * gz);
        // nearest primitive, and the nearest primitive of another cell than the nearest's
        let b1 = Infinity;
        let b2 = Infinity;
        let c1 = -1;
        let p1 = -1;
        let p2 = -1;
        for (let k = primStart[g]; k < primStart[g + 1]; k++) {
          const i = primItems[k];
          const i3 = 3 * i;
          const wx = px - pa[i3];
          const wy = py - pa[i3 + 1];
          const wz = pz - pa[i3 + 2];
          let t = (wx * pu[i3] + wy * pu[i3 + 1] + wz * pu[i3 + 2]) * pinv[i];
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const d = Math.sqrt((wx - t * pu[i3]) ** 2 + (wy - t * pu[i3 + 1]) ** 2 + (wz - t * pu[i3 + 2]) ** 2) - (pra[i] + t * pdr[i]);
          const c = pcell[i];
          if (d < b1) {
            if (c !== c1) {
              b2 = b1;
              p2 = p1;
            }
            b1 = d;
            c1 = c;
            p1 = i;
          } else if (d < b2 && c !== c1) {
            b2 = d;
            p2 = i;
          }
        }
        if (p1 < 0 || b1 > m.influence) continue;
        const h = p2 < 0 ? 1e9 : (b2 - b1) * 0.5;
        const label = h < LOOK.ecsHalf ? -1 : c1;
        cellOut[o] = label;
        compOut[o] = label >= 0 ? pcomp[p1] : 0;
        let mitoD = Infinity;
        let mito = -1;
        let cloud = -1;
        for (let k = orgStart[g]; k < orgStart[g + 1]; k++) {
          const i = orgItems[k];
          if (ohost[i] !== c1) continue;
          const i3 = 3 * i;
          const wx = px - oa[i3];
          const wy = py - oa[i3 + 1];
          const wz = pz - oa[i3 + 2];
          let t = (wx * ou[i3] + wy * ou[i3 + 1] + wz * ou[i3 + 2]) * oinv[i];
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const d = Math.sqrt((wx - t * ou[i3]) ** 2 + (wy - t * ou[i3 + 1]) ** 2 + (wz - t * ou[i3 + 2]) ** 2) - or[i];
          if (okind[i] === 0) {
            if (d < mitoD) {
              mitoD = d;
              mito = i;
            }
          } else if (d < 0 && cloud < 0) cloud = i;
        }
        if (label >= 0 && mitoD < 0) mitoOut[o] = mito;
        else if (label >= 0 && cloud >= 0) cloudOut[o] = cloud;
        if (p2 >= 0) {
          let syn = -1;
          const s1 = psyn[p1];
          if (s1 >= 0 && pcell[p2] === synPost[s1]) syn = s1;
          else if (psyn[p2] >= 0 && c1 === synPost[psyn[p2]]) syn = psyn[p2];
          if (syn >= 0) {
            const s3 = 3 * syn;
            const dc = (px - synContact[s3]) ** 2 + (py - synContact[s3 + 1]) ** 2 + (pz - synContact[s3 + 2]) ** 2;
            if (dc < synDisc[syn] ** 2 && h < LOOK.cleftHalf) cleftOut[o] = syn;
          }
        }
      }
    }
  }
  return { box, cell: cellOut, comp: compOut, mito: mitoOut, cloud: cloudOut, cleft: cleftOut };
}
