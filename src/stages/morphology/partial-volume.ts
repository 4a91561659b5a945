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

/**
 * A move of a half-integer number of fine voxels (a mean over rows: 0.5 over two rows, one through
 * the segment's voxels in b and one not) puts the vertex on a fine voxel-centre plane along its
 * axis. With a factor of 1 along one of the other axes (e.g. [2,2,1]: that coordinate is a fine
 * centre, the other a fine face), the vertex then has the position of a full-resolution
 * marching-cubes vertex, the one on the fine edge across that plane, and a thin patch or cavity of
 * the same segment with that vertex (a separate closed surface touching the coarse one) welds to
 * it: edges of three or four triangles after the weld (morphology.test.ts, --lod0-error 0 on the
 * coarse path). Such a move is shortened by this many fine voxels towards the face (inside the
 * reach and the keepWithin range, which both hold the face): an eighth of a voxel, at least one
 * step of any 10-bit quantization the stage writes (a step is at most 1/8 of the finest voxel,
 * MESH_DEFAULTS.maxQuantizationStepVoxels), so no quantized weld brings the two back together.
 * Chosen on phantom seed 7 (lod-0 volume error p95 1.29 % against 1.41 % with a quarter voxel and
 * 1.39 % before the fix), measured on seeds 19 and 23 (docs/THROUGHPUT.md, Meshes: sixth pass).
 */
export const PV_OFF_PLANE = 0.125;

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

/** rowBoundary's result: mean, lo, hi (one scratch array, no object per vertex). */
const crossing = new Float64Array(3);

/**
 * Where label `l`'s boundary crosses the edge from coarse voxel `a` (ax, ay, az) to its neighbour b
 * along `axis` (read-region coarse indices), in fine voxels from their shared face (positive: into b),
 * averaged over the fine rows along the axis that hold `l` in a: a row with l in all of a's voxels
 * ends n_b voxels into b, a row with n_a < f voxels ends f - n_a voxels before the face. Also the
 * range [lo, hi] the vertex may take without lying farther (along the axis) from any of l's
 * full-resolution boundary crossings this face stands for than the face itself does (see
 * `keepWithin`): t in [max s - D, min s + D], D = max |s| over those crossings s. Written into
 * `crossing` as [mean, lo, hi].
 */
function rowBoundary(g: PartialVolumeGrid, l: number, ax: number, ay: number, az: number, axis: number, dir: number): void {
  const sx = g.shape[0];
  const sxy = sx * g.shape[1];
  const f = g.factor;
  const labels = g.labels;
  const fk = f[axis];
  const n = g.shape[axis];
  // the row axis k (stride st), and the two axes across it: u (stride su) and v (stride sv)
  const u = axis === 0 ? 1 : 0;
  const v = axis === 2 ? 1 : 2;
  const st = axis === 0 ? 1 : axis === 1 ? sx : sxy;
  const su = u === 0 ? 1 : sx;
  const sv = v === 1 ? sx : sxy;
  const ak = axis === 0 ? ax : axis === 1 ? ay : az;
  const au = u === 0 ? ax : ay;
  const av = v === 1 ? ay : az;
  // a's and b's fine voxels along the axis (partial coarse voxels at the volume's upper face clipped)
  const a0 = ak * fk;
  const a1 = Math.min(n, a0 + fk);
  const b0 = (ak + dir) * fk;
  const b1 = Math.min(n, b0 + fk);
  // the faces of a and b along the axis: span [s0, s1], the a|b face F; a's outer face counts only
  // where the coarse voxel beyond a is l too (no coarse surface there), b's outer face only where the
  // coarse voxel beyond b is not l (none there either)
  const s0 = Math.min(a0, b0);
  const s1 = Math.max(a1, b1);
  const F = dir > 0 ? a1 : a0;
  const cn = g.cshape[axis];
  const cst = axis === 0 ? 1 : axis === 1 ? g.cshape[0] : g.cshape[0] * g.cshape[1];
  const ca = ax + g.cshape[0] * (ay + g.cshape[1] * az);
  const kOut = ak - dir;
  const kBeyond = ak + 2 * dir;
  const aOuter = kOut >= 0 && kOut < cn && g.coarse[ca - dir * cst] === l;
  const bOuter = !(kBeyond >= 0 && kBeyond < cn && g.coarse[ca + 2 * dir * cst] === l);
  const lowOuter = dir > 0 ? aOuter : bOuter;
  const highOuter = dir > 0 ? bOuter : aOuter;
  const fa = a1 - a0;
  let rows = 0;
  let sum = 0;
  let sMin = Infinity;
  let sMax = -Infinity;
  const j1 = Math.min(g.shape[v], (av + 1) * f[v]);
  const i1 = Math.min(g.shape[u], (au + 1) * f[u]);
  for (let j = av * f[v]; j < j1; j++) {
    for (let i = au * f[u]; i < i1; i++) {
      const row = i * su + j * sv;
      // l's boundary crossings along the row (the face at c lies between voxels c - 1 and c), and
      // l's voxels in a (na) and in b (nb) read in the same pass
      let prev = s0 - 1 >= 0 && s0 - 1 < n && labels[row + (s0 - 1) * st] === l;
      let na = 0;
      let nb = 0;
      for (let c = s0; c <= s1; c++) {
        const cur = c < n && labels[row + c * st] === l;
        if (cur) {
          if (c >= a0 && c < a1) na++;
          if (c >= b0 && c < b1) nb++;
        }
        if (cur !== prev && ((c > s0 && c < s1) || (c === s0 && lowOuter) || (c === s1 && highOuter))) {
          const s = dir * (c - F);
          if (s < sMin) sMin = s;
          if (s > sMax) sMax = s;
        }
        prev = cur;
      }
      if (na === 0) continue;
      rows++;
      sum += na === fa ? nb : na - fa;
    }
  }
  const mean = rows === 0 ? 0 : sum / rows;
  crossing[0] = mean;
  if (sMin === Infinity) {
    crossing[1] = -Infinity;
    crossing[2] = Infinity;
    return;
  }
  const D = Math.max(Math.abs(sMin), Math.abs(sMax));
  crossing[1] = sMax - D;
  crossing[2] = sMin + D;
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
  const coarse = g.coarse;
  const cxy = cx * cy;
  const cdim = [cx, cy, cz];
  const cstride = [1, cx, cxy];
  let moved = 0;
  const n2 = [0, 0, 0];
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
      // ra: the coarse voxel below the face along the axis (read-region indices); rb = ra + 1 along it
      const rax = (axis === 0 ? n2[0] / 2 - 1 : (n2[0] - 1) / 2) - r0[0];
      const ray = (axis === 1 ? n2[1] / 2 - 1 : (n2[1] - 1) / 2) - r0[1];
      const raz = (axis === 2 ? n2[2] / 2 - 1 : (n2[2] - 1) / 2) - r0[2];
      // the other two coordinates are those of both a and b: outside the grid, the vertex stays
      if (rax < (axis === 0 ? -1 : 0) || ray < (axis === 1 ? -1 : 0) || raz < (axis === 2 ? -1 : 0)) continue;
      if (rax >= cx || ray >= cy || raz >= cz) continue;
      const rak = axis === 0 ? rax : axis === 1 ? ray : raz;
      const ia = rax + cx * ray + cxy * raz;
      const st = cstride[axis];
      // a: the coarse voxel of label l; b: the other one (outside the volume: the vertex stays)
      const aIn = rak >= 0 && coarse[ia] === l;
      // lo: the coarse voxel of l (a), hi: the other; both must lie in the grid
      if (rak < 0 || rak + 1 >= cdim[axis]) continue;
      if (!aIn && coarse[ia + st] !== l) continue;
      // the boundary along the edge, clamped between the two coarse centres (fine voxels from the face)
      const dir = aIn ? 1 : -1;
      const fk = g.factor[axis];
      if (aIn) rowBoundary(g, l, rax, ray, raz, axis, dir);
      else rowBoundary(g, l, rax + (axis === 0 ? 1 : 0), ray + (axis === 1 ? 1 : 0), raz + (axis === 2 ? 1 : 0), axis, dir);
      let d = Math.min(reach * fk, Math.max(-reach * fk, crossing[0]));
      if (keepWithin) d = Math.min(crossing[2], Math.max(crossing[1], d));
      // never onto a fine voxel-centre plane (offFinePlanes)
      if (d - Math.floor(d) === 0.5) d -= Math.sign(d) * PV_OFF_PLANE;
      if (d === 0) continue;
      // global coarse position of the face between a and b, moved by d fine voxels towards b
      const lok = aIn ? rak : rak + 1;
      const face = lok + r0[axis] + (aIn ? 1 : 0);
      V[i + axis] = (base[axis] + face + (dir * d) / fk) * cres[axis];
      moved++;
    }
  }
  return moved;
}
