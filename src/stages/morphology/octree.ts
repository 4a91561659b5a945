/**
 * A mesh as a Neuroglancer multi-resolution octree (precomputed `neuroglancer_multilod_draco`).
 *
 * Level of detail 0 is the full mesh cut into the cells of a regular grid (cell = `chunkShape` nm,
 * grid starting at `gridOrigin`): one node per cell the surface passes through. Triangles that
 * cross a cell face are split at the face (the new vertices are shared by both sides, so the
 * pieces stay welded); a marching-cubes mesh whose grid faces lie on voxel-centre planes needs
 * no split at all. Level k+1 has one node per 2x2x2 group of level-k nodes: the children's
 * triangles merged, then simplified (meshoptimizer) to about a quarter with the node's border
 * locked, so every node ends exactly on its cell faces and neighbouring nodes of any level meet
 * there without cracks. Every level is a closed surface if the input is.
 *
 * All levels index one shared vertex array (simplification only collapses onto existing
 * vertices), so a vertex on a cell face is the same number in every node that touches it.
 */
import { MeshoptSimplifier } from 'meshoptimizer';
import type { Vec3 } from '../../core/box.js';
import { WiringError } from '../../core/errors.js';
import type { MeshOctree, OctreeNode } from '../../formats/mesh/precomputed.js';
import type { Mesh } from './mesh.js';

export interface OctreeOptions {
  /** Lod-0 cell size in nm [x,y,z]. */
  chunkShape: Vec3;
  /** Corner of cell [0,0,0] in nm; every vertex must be >= it. Default: the mesh's lower corner. */
  gridOrigin?: Vec3;
  /** Most levels of detail (default 3). Fewer are written when simplifying stops paying off. */
  lods?: number;
  /** Lod-0 scale in nm (the error scale Neuroglancer uses to pick a level; default 1). */
  lodScale0?: number;
  /**
   * Simplify lod 0 too, each cell with its faces locked, moving the surface by at most this many
   * nm (igneous simplifies its finest level within half a voxel). 0 (default): lod 0 is the input
   * mesh as it is.
   */
  lod0Error?: number;
  /**
   * Build a coarser level only while the previous one holds at least this many triangles (all its
   * nodes together). Default 0: only the rule that a single node of fewer than 64 triangles ends
   * the octree.
   */
  minLodTriangles?: number;
}

/** Relative tolerance for "on a cell face" (in cells). */
const EPS = 1e-9;

/** Growable float64 / uint32 storage (typed arrays, doubled when full). */
class Floats {
  a: Float64Array;
  n = 0;
  constructor(init: ArrayLike<number>, extra: number) {
    this.a = new Float64Array(init.length + extra);
    this.a.set(init);
    this.n = init.length;
  }
  push3(x: number, y: number, z: number): void {
    if (this.n + 3 > this.a.length) {
      const b = new Float64Array(this.a.length * 2 + 3);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
    this.a[this.n++] = y;
    this.a[this.n++] = z;
  }
}
class Uints {
  a: Uint32Array;
  n = 0;
  constructor(cap: number) {
    this.a = new Uint32Array(Math.max(16, cap));
  }
  push3(x: number, y: number, z: number): void {
    if (this.n + 3 > this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
    this.a[this.n++] = y;
    this.a[this.n++] = z;
  }
}

/**
 * Split triangles so none crosses a plane origin + k * cell of `axis`. Vertices are appended to
 * `verts` (float64, nm); an edge crossing a plane gets one new vertex, shared by both triangles
 * of the edge (cached by edge and plane). Triangles that cross no plane (all of a marching-cubes
 * mesh on a voxel-centre grid) are copied as they are, in order, without leaving typed arrays.
 */
function splitAxis(verts: Floats, tris: Uint32Array, count: number, axis: number, origin: number, cell: number): Uints {
  // the common case first (a marching-cubes mesh on a voxel-centre grid): no triangle crosses a
  // plane, so the triangles stay as they are, without a copy
  {
    const nv = verts.n / 3;
    const tv = new Float64Array(nv);
    for (let v = 0; v < nv; v++) tv[v] = (verts.a[3 * v + axis] - origin) / cell;
    let crosses = false;
    for (let f = 0; f < count; f += 3) {
      const ta = tv[tris[f]], tb = tv[tris[f + 1]], tc = tv[tris[f + 2]];
      const lo = ta < tb ? (ta < tc ? ta : tc) : tb < tc ? tb : tc;
      const hi = ta > tb ? (ta > tc ? ta : tc) : tb > tc ? tb : tc;
      if (Math.floor(lo + EPS) + 1 < hi - EPS) {
        crosses = true;
        break;
      }
    }
    if (!crosses) {
      const same = new Uints(0);
      same.a = tris;
      same.n = count;
      return same;
    }
  }
  const out = new Uints(count + (count >> 3));
  const cache = new Map<string, number>();
  const t = (v: number) => (verts.a[3 * v + axis] - origin) / cell;
  const cut = (a: number, b: number, p: number): number => {
    const i = a < b ? a : b;
    const j = a < b ? b : a;
    const key = `${i},${j},${p}`;
    let v = cache.get(key);
    if (v !== undefined) return v;
    const ti = t(i), tj = t(j);
    const s = (p - ti) / (tj - ti);
    v = verts.n / 3;
    const V = verts.a;
    verts.push3(V[3 * i] + s * (V[3 * j] - V[3 * i]), V[3 * i + 1] + s * (V[3 * j + 1] - V[3 * i + 1]), V[3 * i + 2] + s * (V[3 * j + 2] - V[3 * i + 2]));
    verts.a[3 * v + axis] = origin + p * cell;
    cache.set(key, v);
    return v;
  };
  const stack: number[] = [];
  const A: number[] = [];
  const B: number[] = [];
  for (let f = 0; f < count; f += 3) {
    const a0 = tris[f], b0 = tris[f + 1], c0 = tris[f + 2];
    {
      const ta = t(a0), tb = t(b0), tc = t(c0);
      const lo = Math.min(ta, tb, tc);
      const hi = Math.max(ta, tb, tc);
      if (Math.floor(lo + EPS) + 1 >= hi - EPS) {
        out.push3(a0, b0, c0);
        continue;
      }
    }
    stack.push(a0, b0, c0);
    while (stack.length > 0) {
      const c = stack.pop()!, b = stack.pop()!, a = stack.pop()!;
      const ta = t(a), tb = t(b), tc = t(c);
      const lo = Math.min(ta, tb, tc);
      const hi = Math.max(ta, tb, tc);
      const p = Math.floor(lo + EPS) + 1; // the first plane above the lowest vertex
      if (p >= hi - EPS) {
        out.push3(a, b, c);
        continue;
      }
      // split at plane p: A = the part below (side <= 0), B = above (side >= 0)
      A.length = 0;
      B.length = 0;
      const poly = [a, b, c];
      const ts = [ta, tb, tc];
      for (let e = 0; e < 3; e++) {
        const u = poly[e], w = poly[(e + 1) % 3];
        const su = ts[e] < p - EPS ? -1 : ts[e] > p + EPS ? 1 : 0;
        const tw = ts[(e + 1) % 3];
        const sw = tw < p - EPS ? -1 : tw > p + EPS ? 1 : 0;
        if (su <= 0) A.push(u);
        if (su >= 0) B.push(u);
        if (su * sw < 0) {
          const x = cut(u, w, p);
          A.push(x);
          B.push(x);
        }
      }
      // A lies below plane p: done on this axis. B may cross higher planes: split again.
      for (let k = 1; k + 1 < A.length; k++) out.push3(A[0], A[k], A[k + 1]);
      for (let k = 1; k + 1 < B.length; k++) stack.push(B[0], B[k], B[k + 1]);
    }
  }
  return out;
}

/** Cut a mesh at the faces of a grid: shared float64 vertices, triangles and each one's cell. */
export function cutMeshToGrid(mesh: Mesh, origin: Vec3, cell: Vec3): { vertices: Float64Array; indices: Uint32Array; cells: Int32Array } {
  // the common case (a marching-cubes mesh on a voxel-centre grid: no triangle crosses a cell
  // face) in one pass over the input, without copies; the general case splits triangles first
  return cellsIfUncut(mesh, origin, cell) ?? cellsOf(cutTriangles(mesh, origin, cell), origin, cell);
}

function cutTriangles(mesh: Mesh, origin: Vec3, cell: Vec3): { vertices: Float64Array; indices: Uint32Array } {
  const verts = new Floats(mesh.vertices, 48);
  let tris = mesh.indices;
  let count = tris.length;
  for (let axis = 0; axis < 3; axis++) {
    const r = splitAxis(verts, tris, count, axis, origin[axis], cell[axis]);
    tris = r.a;
    count = r.n;
  }
  return { vertices: verts.a.slice(0, verts.n), indices: tris.slice(0, count) };
}

/** Vertex positions in cells (float64, [x,y,z] per vertex). */
function cellCoordinates(vertices: ArrayLike<number>, origin: Vec3, cell: Vec3): Float64Array {
  const u = new Float64Array(vertices.length);
  const ox = origin[0], oy = origin[1], oz = origin[2];
  const cx = cell[0], cy = cell[1], cz = cell[2];
  for (let i = 0; i < vertices.length; i += 3) {
    u[i] = (vertices[i] - ox) / cx;
    u[i + 1] = (vertices[i + 1] - oy) / cy;
    u[i + 2] = (vertices[i + 2] - oz) / cz;
  }
  return u;
}

/**
 * The cell of every triangle corner's axis (cells[f + axis]) from vertex positions in cells `u`,
 * or undefined when a triangle crosses a cell face (`check`; after cutting none does).
 */
function triangleCells(u: Float64Array, indices: Uint32Array, check: boolean): Int32Array | undefined {
  const cells = new Int32Array(indices.length);
  for (let f = 0; f < indices.length; f += 3) {
    const a = 3 * indices[f], b = 3 * indices[f + 1], d = 3 * indices[f + 2];
    for (let axis = 0; axis < 3; axis++) {
      const ua = u[a + axis], ub = u[b + axis], ud = u[d + axis];
      const lo = ua < ub ? (ua < ud ? ua : ud) : ub < ud ? ub : ud;
      const hi = ua > ub ? (ua > ud ? ua : ud) : ub > ud ? ub : ud;
      // splitAxis' test: the first plane above the lowest corner is below the highest
      if (check && Math.floor(lo + EPS) + 1 < hi - EPS) return undefined;
      // the cell whose closed range holds the triangle (a triangle lying in a face: either side)
      let c = Math.floor((lo + hi) / 2);
      if (hi - c > 1 + 1e-6 || lo - c < -1e-6) c = Math.floor(lo + EPS);
      if (c < 0 || c >= 0x10000) throw new WiringError(`mesh vertex outside the octree grid (cell ${c} on axis ${axis})`);
      cells[f + axis] = c;
    }
  }
  return cells;
}

function cellsIfUncut(mesh: Mesh, origin: Vec3, cell: Vec3): { vertices: Float64Array; indices: Uint32Array; cells: Int32Array } | undefined {
  const u = cellCoordinates(mesh.vertices, origin, cell);
  const cells = triangleCells(u, mesh.indices, true);
  if (!cells) return undefined;
  return { vertices: Float64Array.from(mesh.vertices), indices: mesh.indices.slice(), cells };
}

function cellsOf(cut: { vertices: Float64Array; indices: Uint32Array }, origin: Vec3, cell: Vec3): { vertices: Float64Array; indices: Uint32Array; cells: Int32Array } {
  const cells = triangleCells(cellCoordinates(cut.vertices, origin, cell), cut.indices, false)!;
  return { ...cut, cells };
}

/**
 * A lod-0 node the simplifier emptied keeps its input: a small closed piece alone in its cell (e.g. a
 * segment of a few voxels) has no locked border, and meshoptimizer may collapse it to nothing
 * (phantom seed 7: a 3-voxel segment's 24 triangles), which would leave the segment without a mesh.
 */
function keepSome(simplified: Uint32Array, input: Uint32Array): Uint32Array {
  return simplified.length === 0 && input.length > 0 ? input : simplified;
}

/** Build the octree of a closed (or open) triangle mesh; see the module comment. */
export async function buildMeshOctree(mesh: Mesh, opts: OctreeOptions): Promise<MeshOctree> {
  const chunk = opts.chunkShape;
  if (!chunk.every((c) => c > 0)) throw new WiringError(`octree chunk shape [${chunk}] must be positive`);
  let origin = opts.gridOrigin;
  if (!origin) {
    const lo = [Infinity, Infinity, Infinity];
    for (let i = 0; i < mesh.vertices.length; i += 3) for (let k = 0; k < 3; k++) lo[k] = Math.min(lo[k], mesh.vertices[i + k]);
    origin = (lo[0] === Infinity ? [0, 0, 0] : lo) as unknown as Vec3;
  }
  const maxLods = opts.lods ?? 3;
  const scale0 = opts.lodScale0 ?? 1;
  const minTris = opts.minLodTriangles ?? 0;
  const { vertices, indices, cells } = cutMeshToGrid(mesh, origin, chunk);
  // lod 0: group triangles by cell (counting sort by node; neighbouring triangles mostly share a cell)
  const nodeOf = new Map<number, number>();
  const positions: Vec3[] = [];
  const tnode = new Int32Array(indices.length / 3);
  let lastKey = -1;
  let lastNode = -1;
  for (let f = 0, t = 0; f < indices.length; f += 3, t++) {
    const key = cells[f] + 0x10000 * (cells[f + 1] + 0x10000 * cells[f + 2]);
    if (key !== lastKey) {
      let n = nodeOf.get(key);
      if (n === undefined) {
        n = positions.length;
        nodeOf.set(key, n);
        positions.push([cells[f], cells[f + 1], cells[f + 2]]);
      }
      lastKey = key;
      lastNode = n;
    }
    tnode[t] = lastNode;
  }
  const fillAt = new Int32Array(positions.length);
  for (let t = 0; t < tnode.length; t++) fillAt[tnode[t]] += 3;
  const nodeTris = positions.map((_, n) => new Uint32Array(fillAt[n]));
  fillAt.fill(0);
  for (let f = 0, t = 0; f < indices.length; f += 3, t++) {
    const n = tnode[t];
    const dst = nodeTris[n];
    const o = fillAt[n];
    dst[o] = indices[f];
    dst[o + 1] = indices[f + 1];
    dst[o + 2] = indices[f + 2];
    fillAt[n] = o + 3;
  }
  // no vertex added by cutting: the input's float32 positions are the shared ones
  const f32 = vertices.length === mesh.vertices.length ? mesh.vertices : Float32Array.from(vertices);
  const slot = new Int32Array(vertices.length / 3).fill(-1);
  await MeshoptSimplifier.ready;
  const e0 = opts.lod0Error ?? 0;
  if (!(e0 >= 0)) throw new WiringError(`lod-0 simplification error ${e0} nm: expected >= 0`);
  const lods: OctreeNode[][] = [
    // ratio 0: the error bound alone decides how far a cell simplifies
    positions.map((position, n) => ({ position, indices: e0 > 0 ? keepSome(simplifyLocked(f32, nodeTris[n], 0, e0, slot), nodeTris[n]) : nodeTris[n] })),
  ];
  for (let lod = 1; lod < maxLods; lod++) {
    const prev = lods[lod - 1];
    if (prev.length === 1 && prev[0].indices.length < 3 * 64) break;
    if (minTris > 0 && prev.reduce((n, node) => n + node.indices.length, 0) < 3 * minTris) break;
    const groups = new Map<string, { position: Vec3; parts: Uint32Array[] }>();
    for (const n of prev) {
      const p: Vec3 = [n.position[0] >> 1, n.position[1] >> 1, n.position[2] >> 1];
      const key = p.join(',');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { position: p, parts: [] }));
      g.parts.push(n.indices);
    }
    const level: OctreeNode[] = [];
    let before = 0;
    let after = 0;
    for (const g of groups.values()) {
      const merged = concatIndices(g.parts);
      before += merged.length;
      // error bound: a quarter of the level's scale (lod 1: half the finest voxel size)
      // (coarser lods may empty a node: a small island vanishes from far away, octree-empty.test.ts)
      const simplified = simplifyLocked(f32, merged, 0.25, (scale0 * 2 ** lod) / 4, slot);
      after += simplified.length;
      level.push({ position: g.position, indices: simplified });
    }
    if (after > 0.9 * before) break; // nothing left to gain
    lods.push(level);
  }
  return {
    chunkShape: [chunk[0], chunk[1], chunk[2]],
    gridOrigin: [origin[0], origin[1], origin[2]],
    vertices,
    lodScales: lods.map((_, k) => scale0 * 2 ** k),
    lods,
  };
}

/** The triangles of one level of detail, all nodes, as one index list into `tree.vertices`. */
export function lodIndices(tree: MeshOctree, lod: number): Uint32Array {
  return concatIndices(tree.lods[lod].map((n) => n.indices));
}

function concatIndices(parts: Uint32Array[]): Uint32Array {
  const out = new Uint32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Simplify the triangles `indices` (into the shared vertex array) to about `ratio` of them with
 * their border (the node's cell faces) locked and an absolute error of at most `error` nm.
 * Returns indices into the shared vertex array.
 */
function simplifyLocked(shared: Float32Array, indices: Uint32Array, ratio: number, error: number, slot: Int32Array): Uint32Array {
  // local vertex array (meshoptimizer works on all vertices it is given); slot[g] = local index of
  // shared vertex g during this call (-1 otherwise; reset before returning). Scratch arrays are
  // reused between calls (one call per octree node: thousands per segment).
  if (scratch.back.length < indices.length) {
    const n = Math.max(indices.length, 2 * scratch.back.length);
    scratch.back = new Uint32Array(n);
    scratch.idx = new Uint32Array(n);
    scratch.pos = new Float32Array(3 * n);
  }
  const { back, pos } = scratch;
  const idx = scratch.idx.subarray(0, indices.length);
  let nl = 0;
  for (let i = 0; i < indices.length; i++) {
    const g = indices[i];
    let l = slot[g];
    if (l < 0) {
      l = nl++;
      slot[g] = l;
      back[l] = g;
    }
    idx[i] = l;
  }
  for (let l = 0; l < nl; l++) {
    const g = back[l];
    slot[g] = -1;
    pos[3 * l] = shared[3 * g];
    pos[3 * l + 1] = shared[3 * g + 1];
    pos[3 * l + 2] = shared[3 * g + 2];
  }
  // (a node whose children simplified away has no triangle: meshoptimizer asserts target <= count)
  const target = Math.min(indices.length, Math.max(3, Math.floor((indices.length / 3) * ratio) * 3));
  const [out] = MeshoptSimplifier.simplify(idx, pos.subarray(0, 3 * nl), 3, target, error, ['LockBorder', 'ErrorAbsolute']);
  for (let i = 0; i < out.length; i++) out[i] = back[out[i]];
  return out;
}

/** simplifyLocked's scratch: local-to-shared vertex ids, local triangles, local positions. */
const scratch = { back: new Uint32Array(0), idx: new Uint32Array(0), pos: new Float32Array(0) };
