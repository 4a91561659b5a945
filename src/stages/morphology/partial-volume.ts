/**
 * Partial-volume vertex placement for meshes of a coarse (mode-downsampled) grid.
 *
 * Marching cubes on the mode grid puts every vertex halfway along its coarse edge, on the face
 * between the coarse voxel of the segment (a) and the other one (b), wherever the segment's
 * full-resolution boundary lies inside them: a flat boundary one voxel inside a 2x2x1 coarse voxel
 * is off by a voxel, and small segments lose volume at the coarse corners. Here each vertex of
 * segment l moves along its edge (axis k) to the segment's full-resolution boundary along that
 * axis, averaged over the fine rows along k through a that hold l: a row with l in all of a's
 * voxels ends n_b voxels into b (n_b: its voxels of l in b), a row with n_a < f_k voxels of l in a
 * ends f_k - n_a voxels before the face. (A fraction of the whole coarse voxel, as plain marching
 * cubes on a mean-downsampled mask would use, mixes the other axes in: a corner's coarse voxel is
 * half empty because of its x boundary, which would pull its y and z faces in as well; measured
 * worse than the mode on phantom seed 7.) The move is clamped to PV_REACH coarse voxels either side
 * of the face. The mesh's topology (the mode grid's) is kept; only positions move. Vertices on the
 * volume's faces (b outside the volume) stay.
 *
 * Positions are computed from global coarse indices (from bounds.min) and the voxels of a and b
 * only, in a fixed order, so two blocks that both see a vertex place it bit for bit the same and
 * their meshes still weld.
 */
import type { Vec3 } from '../../core/box.js';
import type { Mesh } from './mesh.js';

/**
 * How far a vertex may move from the coarse face, in coarse voxels: a little short of the coarse
 * centres (1/2), so vertices on the edges around one coarse voxel never meet at its centre (no
 * triangle collapses to a point).
 */
export const PV_REACH = 0.45;

export interface PartialVolumeGrid {
  /** compact labels of the read region (full resolution), x fastest */
  labels: Uint32Array;
  shape: Vec3;
  /** global voxel of the read region's element 0 (on the coarse grid from bounds.min) */
  origin: Vec3;
  /** the mode grid of the read region (modeDownsample of `labels`) */
  coarse: Uint32Array;
  cshape: Vec3;
  factor: Vec3;
  voxelSize: Vec3;
  boundsMin: Vec3;
}

/**
 * Where label `l`'s boundary crosses the edge from coarse voxel `a` to its neighbour `b` along
 * `axis` (read-region coarse indices), in fine voxels from their shared face (positive: into b),
 * averaged over the fine rows along the axis that hold `l` in a: a row with l in all of a's voxels
 * ends n_b voxels into b, a row with n_a < f ends f - n_a voxels before the face.
 */
function rowBoundary(g: PartialVolumeGrid, l: number, a: number[], axis: number, dir: number): number {
  const [sx, sy] = g.shape;
  const f = g.factor;
  const fk = f[axis];
  const u = axis === 0 ? 1 : 0;
  const v = axis === 2 ? 1 : 2;
  const p = [0, 0, 0];
  // a's and b's fine voxels along the axis (partial coarse voxels at the volume's upper face clipped)
  const a0 = a[axis] * fk;
  const a1 = Math.min(g.shape[axis], a0 + fk);
  const b0 = (a[axis] + dir) * fk;
  const b1 = Math.min(g.shape[axis], b0 + fk);
  let rows = 0;
  let sum = 0;
  for (let j = a[v] * f[v]; j < Math.min(g.shape[v], (a[v] + 1) * f[v]); j++) {
    for (let i = a[u] * f[u]; i < Math.min(g.shape[u], (a[u] + 1) * f[u]); i++) {
      p[u] = i;
      p[v] = j;
      let na = 0;
      let nb = 0;
      for (let s = a0; s < a1; s++) {
        p[axis] = s;
        if (g.labels[p[0] + sx * (p[1] + sy * p[2])] === l) na++;
      }
      if (na === 0) continue;
      if (na === a1 - a0) {
        for (let s = b0; s < b1; s++) {
          p[axis] = s;
          if (g.labels[p[0] + sx * (p[1] + sy * p[2])] === l) nb++;
        }
      }
      rows++;
      sum += na === a1 - a0 ? nb : na - (a1 - a0);
    }
  }
  return rows === 0 ? 0 : sum / rows;
}

/**
 * Moves the vertices of each label's coarse marching-cubes mesh (meshes[l], vertices on coarse
 * edges in nm) to the label's partial-volume crossing along the edge (in place). Returns the number
 * of vertices moved. `reach`: the largest move in coarse voxels (default PV_REACH).
 */
export function placeByFraction(meshes: Mesh[], g: PartialVolumeGrid, reach = PV_REACH): number {
  const [cx, cy, cz] = g.cshape;
  const cres = [0, 1, 2].map((k) => g.voxelSize[k] * g.factor[k]);
  // global coarse position of the grid's lower face (b.min / f) and the read region's first coarse voxel (from bounds.min)
  const base = [0, 1, 2].map((k) => g.boundsMin[k] / g.factor[k]);
  const r0 = [0, 1, 2].map((k) => (g.origin[k] - g.boundsMin[k]) / g.factor[k]);
  const inGrid = (r: number[]) => r[0] >= 0 && r[1] >= 0 && r[2] >= 0 && r[0] < cx && r[1] < cy && r[2] < cz;
  let moved = 0;
  const n2 = [0, 0, 0];
  const ra = [0, 0, 0];
  const rb = [0, 0, 0];
  for (let l = 1; l < meshes.length; l++) {
    const V = meshes[l]?.vertices;
    if (!V || V.length === 0) continue;
    for (let i = 0; i < V.length; i += 3) {
      // twice the global coarse coordinate: odd on coarse centres, even on the faces between them
      let axis = -1;
      let even = 0;
      for (let k = 0; k < 3; k++) {
        n2[k] = Math.round(2 * (V[i + k] / cres[k] - base[k]));
        if ((n2[k] & 1) === 0) {
          axis = k;
          even++;
        }
      }
      if (even !== 1) continue;
      for (let k = 0; k < 3; k++) {
        const gk = k === axis ? n2[k] / 2 - 1 : (n2[k] - 1) / 2;
        ra[k] = gk - r0[k];
        rb[k] = ra[k] + (k === axis ? 1 : 0);
      }
      // a: the coarse voxel of label l; b: the other one (outside the volume: the vertex stays)
      const aIn = inGrid(ra) && g.coarse[ra[0] + cx * (ra[1] + cy * ra[2])] === l;
      const lo = aIn ? ra : rb;
      const hi = aIn ? rb : ra;
      if (!inGrid(lo) || !inGrid(hi) || g.coarse[lo[0] + cx * (lo[1] + cy * lo[2])] !== l) continue;
      // the boundary along the edge, clamped between the two coarse centres (fine voxels from the face)
      const dir = aIn ? 1 : -1;
      const fk = g.factor[axis];
      const d = Math.min(reach * fk, Math.max(-reach * fk, rowBoundary(g, l, lo, axis, dir)));
      if (d === 0) continue;
      // global coarse position of the face between a and b, moved by d fine voxels towards b
      const face = lo[axis] + r0[axis] + (aIn ? 1 : 0);
      V[i + axis] = (base[axis] + face + (dir * d) / fk) * cres[axis];
      moved++;
    }
  }
  return moved;
}
