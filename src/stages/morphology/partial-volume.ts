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
 * of the face, and (keepWithin) to the range where the vertex lies no farther along its axis from any
 * of the segment's full-resolution boundary crossings the face stands for than the face itself: the
 * crossings along the fine rows through a's cross-section, between a's and b's outer faces (a's outer
 * face only where the coarse voxel beyond a is the segment too, b's only where the one beyond b is
 * not: otherwise another coarse face stands for them). The mean is the volume's best place; the
 * range stops it from pulling the surface away from a boundary the mode grid dropped (a one-voxel
 * cavity or bump next to the face: phantom seed 7's largest surface distance, 32.3 nm against a
 * 32.1 nm voxel diagonal, came from such a move). The mesh's topology (the mode grid's) is kept; only
 * positions move. Vertices on the volume's faces (b outside the volume) stay.
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
 * ends n_b voxels into b, a row with n_a < f ends f - n_a voxels before the face. Also the range
 * [lo, hi] the vertex may take without lying farther (along the axis) from any of l's
 * full-resolution boundary crossings this face stands for than the face itself does (see
 * `keepWithin`): t in [max s - D, min s + D], D = max |s| over those crossings s.
 */
function rowBoundary(g: PartialVolumeGrid, l: number, a: number[], axis: number, dir: number): { mean: number; lo: number; hi: number } {
  const [sx, sy] = g.shape;
  const f = g.factor;
  const fk = f[axis];
  const n = g.shape[axis];
  const u = axis === 0 ? 1 : 0;
  const v = axis === 2 ? 1 : 2;
  const p = [0, 0, 0];
  // a's and b's fine voxels along the axis (partial coarse voxels at the volume's upper face clipped)
  const a0 = a[axis] * fk;
  const a1 = Math.min(n, a0 + fk);
  const b0 = (a[axis] + dir) * fk;
  const b1 = Math.min(n, b0 + fk);
  // the faces of a and b along the axis: span [s0, s1], the a|b face F; a's outer face counts only
  // where the coarse voxel beyond a is l too (no coarse surface there), b's outer face only where the
  // coarse voxel beyond b is not l (none there either)
  const s0 = Math.min(a0, b0);
  const s1 = Math.max(a1, b1);
  const F = dir > 0 ? a1 : a0;
  const [cx, cy] = g.cshape;
  const cAt = (ck: number): number => {
    if (ck < 0 || ck >= g.cshape[axis]) return -1;
    const q = [a[0], a[1], a[2]];
    q[axis] = ck;
    return g.coarse[q[0] + cx * (q[1] + cy * q[2])];
  };
  const aOuter = cAt(a[axis] - dir) === l;
  const bOuter = cAt(a[axis] + 2 * dir) !== l;
  const lowOuter = dir > 0 ? aOuter : bOuter;
  const highOuter = dir > 0 ? bOuter : aOuter;
  const at = (s: number): boolean => {
    if (s < 0 || s >= n) return false;
    p[axis] = s;
    return g.labels[p[0] + sx * (p[1] + sy * p[2])] === l;
  };
  let rows = 0;
  let sum = 0;
  let sMin = Infinity;
  let sMax = -Infinity;
  for (let j = a[v] * f[v]; j < Math.min(g.shape[v], (a[v] + 1) * f[v]); j++) {
    for (let i = a[u] * f[u]; i < Math.min(g.shape[u], (a[u] + 1) * f[u]); i++) {
      p[u] = i;
      p[v] = j;
      // l's boundary crossings along the row (the face at c lies between voxels c - 1 and c), and
      // l's voxels in a (na) and in b (nb) read in the same pass
      let prev = at(s0 - 1);
      let na = 0;
      let nb = 0;
      for (let c = s0; c <= s1; c++) {
        const cur = at(c);
        if (cur && c >= a0 && c < a1) na++;
        if (cur && c >= b0 && c < b1) nb++;
        if (cur !== prev && ((c > s0 && c < s1) || (c === s0 && lowOuter) || (c === s1 && highOuter))) {
          const s = dir * (c - F);
          if (s < sMin) sMin = s;
          if (s > sMax) sMax = s;
        }
        prev = cur;
      }
      if (na === 0) continue;
      rows++;
      sum += na === a1 - a0 ? nb : na - (a1 - a0);
    }
  }
  const mean = rows === 0 ? 0 : sum / rows;
  if (sMin === Infinity) return { mean, lo: -Infinity, hi: Infinity };
  const D = Math.max(Math.abs(sMin), Math.abs(sMax));
  return { mean, lo: sMax - D, hi: sMin + D };
}

/**
 * Moves the vertices of each label's coarse marching-cubes mesh (meshes[l], vertices on coarse
 * edges in nm) to the label's partial-volume crossing along the edge (in place). Returns the number
 * of vertices moved. `reach`: the largest move in coarse voxels (default PV_REACH); `keepWithin`
 * (default true): no move that puts the vertex farther along its axis from a boundary crossing it
 * stands for than the coarse face is (rowBoundary's lo, hi).
 */
export function placeByFraction(meshes: Mesh[], g: PartialVolumeGrid, reach = PV_REACH, keepWithin = true): number {
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
      const cross = rowBoundary(g, l, lo, axis, dir);
      let d = Math.min(reach * fk, Math.max(-reach * fk, cross.mean));
      if (keepWithin) d = Math.min(cross.hi, Math.max(cross.lo, d));
      if (d === 0) continue;
      // global coarse position of the face between a and b, moved by d fine voxels towards b
      const face = lo[axis] + r0[axis] + (aIn ? 1 : 0);
      V[i + axis] = (base[axis] + face + (dir * d) / fk) * cres[axis];
      moved++;
    }
  }
  return moved;
}
