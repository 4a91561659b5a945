import type { Vec3 } from '../../core/box.js';
import { WiringError } from '../../core/errors.js';
import { remapTriangles, uniqueTriples } from '../../core/hash.js';
import { type FlatSlab, mergeFlatSlab } from './flat-merge.js';
import { EDGE_AXIS, EDGE_CORNERS, EDGE_OFFSET, TRI_EDGES, TRI_START } from './mc-table.js';

/** A triangle mesh: vertices [x,y,z] in nm (flattened), triangles as vertex index triples. */
export interface Mesh {
  vertices: Float32Array;
  indices: Uint32Array;
}

export function emptyMesh(): Mesh {
  return { vertices: new Float32Array(0), indices: new Uint32Array(0) };
}

class F32 {
  a = new Float32Array(1024);
  n = 0;
  push3(x: number, y: number, z: number): void {
    if (this.n + 3 > this.a.length) this.grow();
    this.a[this.n] = x;
    this.a[this.n + 1] = y;
    this.a[this.n + 2] = z;
    this.n += 3;
  }
  private grow(): void {
    const b = new Float32Array(this.a.length * 2);
    b.set(this.a);
    this.a = b;
  }
}

class U32 {
  a = new Uint32Array(1024);
  n = 0;
  push(x: number): void {
    if (this.n >= this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  push3(x: number, y: number, z: number): void {
    if (this.n + 3 > this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n] = x;
    this.a[this.n + 1] = y;
    this.a[this.n + 2] = z;
    this.n += 3;
  }
}

export interface MarchingCubesOptions {
  /** nm per voxel [x,y,z] (default 1,1,1). */
  voxelSize?: Vec3;
  /** Global voxel coordinate of element 0 (default 0,0,0). */
  offset?: Vec3;
  /**
   * Close surfaces at the array border by treating the outside as background, per axis side
   * [xlo, xhi, ylo, yhi, zlo, zhi] or one flag for all. Blockwise runs pass true only on the
   * sides that are the volume's border, so interior block faces stay open and weld to the
   * neighbouring block.
   */
  closeBorder?: boolean | readonly boolean[];
  /**
   * Merge the flat quads in z-planes (between sections) into rectangles triangulated on their
   * perimeter (flat-merge.ts): the same surface with fewer triangles. Rectangles do not cross the
   * cell lines x = origin[0] + k * cell[0] and y = origin[1] + k * cell[1] (global voxel
   * coordinates of cube corners; cell 0 = no line), e.g. the multi-resolution octree's lod-0
   * cells, so no merged triangle crosses a cell face. Absent (default): one quad per cube, the
   * plain marching-cubes mesh (proofreading's fragments depend on its exact bytes).
   */
  mergeFlat?: { cell: Vec3; origin: Vec3 };
}

/**
 * Marching cubes of every label of a compact label array at once (one pass over the block).
 * `labels` holds compact labels 0..maxLabel (0 = background), x fastest, shape [x,y,z].
 * Returns one mesh per label (index = label; entry 0 is empty). Each label's vertices are welded
 * (every crossed voxel edge gives one vertex per label), triangles wind outward, and vertices are
 * in nm: the surface between voxel centres i and i+1 passes through (offset + i + 1) * voxelSize,
 * voxel i covering [offset + i, offset + i + 1) * voxelSize as in Neuroglancer.
 */
export function marchingCubesLabels(
  labels: Uint32Array,
  shape: Vec3,
  maxLabel: number,
  opts: MarchingCubesOptions = {},
): Mesh[] {
  const [sx0, sy0, sz0] = shape;
  if (labels.length !== sx0 * sy0 * sz0) {
    throw new WiringError(`marching cubes: ${labels.length} labels do not fill shape [${shape}]`);
  }
  const res = opts.voxelSize ?? [1, 1, 1];
  const off = opts.offset ?? [0, 0, 0];
  const cb = opts.closeBorder ?? false;
  const close = typeof cb === 'boolean' ? [cb, cb, cb, cb, cb, cb] : cb;
  const pad = [close[0] ? 1 : 0, close[1] ? 1 : 0, close[2] ? 1 : 0, close[3] ? 1 : 0, close[4] ? 1 : 0, close[5] ? 1 : 0];
  let lab = labels;
  let sx = sx0;
  let sy = sy0;
  let sz = sz0;
  let ox = off[0];
  let oy = off[1];
  let oz = off[2];
  if (pad.some((p) => p)) {
    sx = sx0 + pad[0] + pad[1];
    sy = sy0 + pad[2] + pad[3];
    sz = sz0 + pad[4] + pad[5];
    ox -= pad[0];
    oy -= pad[2];
    oz -= pad[4];
    lab = new Uint32Array(sx * sy * sz);
    for (let z = 0; z < sz0; z++) {
      for (let y = 0; y < sy0; y++) {
        const s = sx0 * (y + sy0 * z);
        lab.set(labels.subarray(s, s + sx0), pad[0] + sx * (y + pad[2] + sy * (z + pad[4])));
      }
    }
  }
  const out: Mesh[] = [];
  if (sx < 2 || sy < 2 || sz < 2 || maxLabel === 0) {
    for (let l = 0; l <= maxLabel; l++) out.push(emptyMesh());
    return out;
  }

  const verts = new F32();
  const vlab = new U32();
  const tris = new U32();
  const tlab = new U32();

  // Vertex caches (vertex id + 1, 0 = none), per edge and side (side 0: the label of the lower
  // voxel, side 1: of the upper voxel). Planes hold x and y edges of z = plane; zc holds z edges.
  const plane = sx * sy;
  let lower = new Int32Array(plane * 4); // [(y*sx+x)*4 + axis*2 + side]
  let upper = new Int32Array(plane * 4);
  const zc = new Int32Array(plane * 2);
  const cornerOff = new Int32Array(8);
  for (let c = 0; c < 8; c++) cornerOff[c] = (c & 1) + ((c >> 1) & 1) * sx + ((c >> 2) & 1) * plane;
  const cl = new Uint32Array(8);
  const distinct = new Uint32Array(8);
  const rx = res[0];
  const ry = res[1];
  const rz = res[2];
  const triStart = TRI_START;
  const triEdges = TRI_EDGES;
  const edgeAxis = EDGE_AXIS;
  const edgeOffset = EDGE_OFFSET;
  const edgeCorners = EDGE_CORNERS;

  // flat quads of the current slab, per cube: the label below the plane (facing +z) / above (-z)
  const merge = opts.mergeFlat;
  const flatUp = merge ? new Uint32Array(plane) : undefined;
  const flatDown = merge ? new Uint32Array(plane) : undefined;
  let flatZ = 0;
  const slab: FlatSlab | undefined = merge && {
    nx: sx - 1, ny: sy - 1, stride: sx, gx0: ox, gy0: oy,
    cellX: merge.cell[0], cellY: merge.cell[1], originX: merge.origin[0], originY: merge.origin[1],
  };
  const zVertex = (X: number, Y: number, side: number, L: number): number => {
    const slot = (X + sx * Y) * 2 + side;
    let v = zc[slot] - 1;
    if (v < 0) {
      v = vlab.n;
      verts.push3((ox + X + 0.5) * rx, (oy + Y + 0.5) * ry, (oz + flatZ + 1) * rz);
      vlab.push(L);
      zc[slot] = v + 1;
    }
    return v;
  };
  const vUp = (X: number, Y: number, L: number) => zVertex(X, Y, 0, L);
  const vDown = (X: number, Y: number, L: number) => zVertex(X, Y, 1, L);
  const flatTri = (a: number, b: number, c: number, L: number) => {
    tris.push3(a, b, c);
    tlab.push(L);
  };

  for (let z = 0; z < sz - 1; z++) {
    upper.fill(0);
    zc.fill(0);
    for (let y = 0; y < sy - 1; y++) {
      let i = sx * (y + sy * z);
      for (let x = 0; x < sx - 1; x++, i++) {
        const l0 = lab[i];
        const l1 = lab[i + 1];
        const l2 = lab[i + sx];
        const l3 = lab[i + sx + 1];
        const l4 = lab[i + plane];
        const l5 = lab[i + plane + 1];
        const l6 = lab[i + plane + sx];
        const l7 = lab[i + plane + sx + 1];
        if (l0 === l1 && l0 === l2 && l0 === l3 && l0 === l4 && l0 === l5 && l0 === l6 && l0 === l7) continue;
        cl[0] = l0; cl[1] = l1; cl[2] = l2; cl[3] = l3; cl[4] = l4; cl[5] = l5; cl[6] = l6; cl[7] = l7;
        let nd = 0;
        for (let c = 0; c < 8; c++) {
          const L = cl[c];
          if (L === 0) continue;
          let seen = false;
          for (let k = 0; k < nd; k++) if (distinct[k] === L) { seen = true; break; }
          if (!seen) distinct[nd++] = L;
        }
        for (let k = 0; k < nd; k++) {
          const L = distinct[k];
          let cfg = 0;
          for (let c = 0; c < 8; c++) if (cl[c] === L) cfg |= 1 << c;
          if (flatUp && (cfg === 0x0f || cfg === 0xf0)) {
            (cfg === 0x0f ? flatUp : flatDown!)[x + sx * y] = L;
            continue;
          }
          const t0 = triStart[cfg];
          const t1 = triStart[cfg + 1];
          if (t0 === t1) continue;
          for (let t = t0; t < t1; t++) {
            let v0 = 0, v1 = 0, v2 = 0;
            for (let q = 0; q < 3; q++) {
              const e = triEdges[3 * t + q];
              const axis = edgeAxis[e];
              const dx = edgeOffset[3 * e];
              const dy = edgeOffset[3 * e + 1];
              const dz = edgeOffset[3 * e + 2];
              const side = cl[edgeCorners[2 * e]] === L ? 0 : 1;
              let cache: Int32Array;
              let slot: number;
              const p = (x + dx) + sx * (y + dy);
              if (axis === 2) {
                cache = zc;
                slot = p * 2 + side;
              } else {
                cache = dz === 0 ? lower : upper;
                slot = p * 4 + axis * 2 + side;
              }
              let v = cache[slot] - 1;
              if (v < 0) {
                v = vlab.n;
                const gx = ox + x + dx + 0.5 + (axis === 0 ? 0.5 : 0);
                const gy = oy + y + dy + 0.5 + (axis === 1 ? 0.5 : 0);
                const gz = oz + z + dz + 0.5 + (axis === 2 ? 0.5 : 0);
                verts.push3(gx * rx, gy * ry, gz * rz);
                vlab.push(L);
                cache[slot] = v + 1;
              }
              if (q === 0) v0 = v;
              else if (q === 1) v1 = v;
              else v2 = v;
            }
            tris.push3(v0, v1, v2);
            tlab.push(L);
          }
        }
      }
    }
    if (slab) {
      flatZ = z;
      mergeFlatSlab(flatUp!, slab, true, vUp, flatTri);
      mergeFlatSlab(flatDown!, slab, false, vDown, flatTri);
    }
    const t = lower;
    lower = upper;
    upper = t;
  }
  return splitByLabel(verts.a, vlab.a, vlab.n, tris.a, tlab.a, tlab.n, maxLabel);
}

function splitByLabel(
  verts: Float32Array,
  vlab: Uint32Array,
  nv: number,
  tris: Uint32Array,
  tlab: Uint32Array,
  nt: number,
  maxLabel: number,
): Mesh[] {
  const vcount = new Uint32Array(maxLabel + 1);
  const tcount = new Uint32Array(maxLabel + 1);
  for (let v = 0; v < nv; v++) vcount[vlab[v]]++;
  for (let t = 0; t < nt; t++) tcount[tlab[t]]++;
  const out: Mesh[] = [];
  for (let l = 0; l <= maxLabel; l++) {
    out.push({ vertices: new Float32Array(vcount[l] * 3), indices: new Uint32Array(tcount[l] * 3) });
  }
  const local = new Uint32Array(nv);
  const vfill = new Uint32Array(maxLabel + 1);
  for (let v = 0; v < nv; v++) {
    const l = vlab[v];
    const j = vfill[l]++;
    local[v] = j;
    const dst = out[l].vertices;
    dst[3 * j] = verts[3 * v];
    dst[3 * j + 1] = verts[3 * v + 1];
    dst[3 * j + 2] = verts[3 * v + 2];
  }
  const tfill = new Uint32Array(maxLabel + 1);
  for (let t = 0; t < nt; t++) {
    const l = tlab[t];
    const j = tfill[l]++;
    const dst = out[l].indices;
    dst[3 * j] = local[tris[3 * t]];
    dst[3 * j + 1] = local[tris[3 * t + 1]];
    dst[3 * j + 2] = local[tris[3 * t + 2]];
  }
  return out;
}

/** Compact arbitrary uint32/uint64 ids to labels 1..n (0 stays 0); `ids[l]` is label l's id. */
export function compactLabels(data: ArrayLike<number | bigint> & { length: number }): { labels: Uint32Array; ids: bigint[] } {
  const labels = new Uint32Array(data.length);
  const ids: bigint[] = [0n];
  const map = new Map<number | bigint, number>();
  let last: number | bigint = 0;
  let lastLabel = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== last) {
      last = v;
      if (v === 0 || v === 0n) lastLabel = 0;
      else {
        let l = map.get(v);
        if (l === undefined) {
          l = ids.length;
          ids.push(BigInt(v));
          map.set(v, l);
        }
        lastLabel = l;
      }
    }
    labels[i] = lastLabel;
  }
  return { labels, ids };
}

/**
 * compactLabels of the sub-box [lo, lo + shape) of `data` (a volume of shape `full`, x fastest),
 * without copying the box out first: the same labels and ids as compactLabels of the cropped
 * copy. uint64 ids are compared as two 32-bit words (no BigInt per voxel); a BigInt is made only
 * where the id changes along a row and the id is not the last one seen with that low word.
 */
export function compactRegion(data: ArrayLike<number | bigint> & { length: number }, full: Vec3, lo: Vec3, shape: Vec3): { labels: Uint32Array; ids: bigint[] } {
  const [fx, fy] = full;
  const [rx, ry, rz] = shape;
  const labels = new Uint32Array(rx * ry * rz);
  if (!(data instanceof BigUint64Array)) {
    // other dtypes: the row-wise copy and the plain compaction (numbers hash cheaply)
    const sub = new (data as unknown as { constructor: new (n: number) => { set(a: ArrayLike<unknown>, o: number): void } & ArrayLike<number> }).constructor(rx * ry * rz);
    const src = data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> };
    for (let z = 0; z < rz; z++) {
      for (let y = 0; y < ry; y++) {
        const si = lo[0] + fx * (lo[1] + y + fy * (lo[2] + z));
        sub.set(src.subarray(si, si + rx), rx * (y + ry * z));
      }
    }
    return compactLabels(sub);
  }
  const w = new Uint32Array(data.buffer, data.byteOffset, 2 * data.length);
  const ids: bigint[] = [0n];
  // low word -> the label last given an id with that low word (its high word in hiOf); the full id
  // in `big` otherwise
  const byLo = new Map<number, number>();
  const hiOf: number[] = [0];
  const big = new Map<bigint, number>();
  let lastLo = 0;
  let lastHi = 0;
  let lastLabel = 0;
  let o = 0;
  for (let z = 0; z < rz; z++) {
    for (let y = 0; y < ry; y++) {
      let i = 2 * (lo[0] + fx * (lo[1] + y + fy * (lo[2] + z)));
      for (let x = 0; x < rx; x++, i += 2, o++) {
        const a = w[i];
        const b = w[i + 1];
        if (a !== lastLo || b !== lastHi) {
          lastLo = a;
          lastHi = b;
          if (a === 0 && b === 0) lastLabel = 0;
          else {
            let l = byLo.get(a);
            if (l === undefined || hiOf[l] !== b) {
              const id = (BigInt(b) << 32n) | BigInt(a);
              l = big.get(id);
              if (l === undefined) {
                l = ids.length;
                ids.push(id);
                hiOf.push(b);
                big.set(id, l);
              }
              byLo.set(a, l);
            }
            lastLabel = l;
          }
        }
        labels[o] = lastLabel;
      }
    }
  }
  return { labels, ids };
}

/** Concatenate meshes and merge vertices with bit-identical positions (block stitching). */
export function mergeMeshes(meshes: Mesh[]): Mesh {
  let nv = 0;
  let nt = 0;
  for (const m of meshes) {
    nv += m.vertices.length / 3;
    nt += m.indices.length;
  }
  const vertices = new Float32Array(nv * 3);
  const indices = new Uint32Array(nt);
  let vo = 0;
  let to = 0;
  for (const m of meshes) {
    vertices.set(m.vertices, vo * 3);
    for (let i = 0; i < m.indices.length; i++) indices[to + i] = m.indices[i] + vo;
    vo += m.vertices.length / 3;
    to += m.indices.length;
  }
  return weldVertices({ vertices, indices });
}

/**
 * Merge vertices whose positions are bit-identical (open-addressing hash over the float bits);
 * drops triangles that become degenerate. Vertex order is first occurrence.
 */
export function weldVertices(mesh: Mesh): Mesh {
  const nv = mesh.vertices.length / 3;
  const { remap, unique, count } = uniqueTriples(new Uint32Array(mesh.vertices.buffer, mesh.vertices.byteOffset, nv * 3));
  return { vertices: new Float32Array(unique.buffer, 0, count * 3).slice(), indices: remapTriangles(mesh.indices, remap) };
}

/** Signed enclosed volume (nm^3) by the divergence theorem; positive for outward winding. */
export function meshVolume(mesh: Mesh): number {
  const v = mesh.vertices;
  const f = mesh.indices;
  let vol = 0;
  for (let t = 0; t < f.length; t += 3) {
    const a = 3 * f[t];
    const b = 3 * f[t + 1];
    const c = 3 * f[t + 2];
    const ax = v[a], ay = v[a + 1], az = v[a + 2];
    const bx = v[b], by = v[b + 1], bz = v[b + 2];
    const cx = v[c], cy = v[c + 1], cz = v[c + 2];
    vol += ax * (by * cz - bz * cy) - ay * (bx * cz - bz * cx) + az * (bx * cy - by * cx);
  }
  return vol / 6;
}

/** Surface area (nm^2). */
export function meshArea(mesh: Mesh): number {
  const v = mesh.vertices;
  const f = mesh.indices;
  let area = 0;
  for (let t = 0; t < f.length; t += 3) {
    const a = 3 * f[t];
    const b = 3 * f[t + 1];
    const c = 3 * f[t + 2];
    const ux = v[b] - v[a], uy = v[b + 1] - v[a + 1], uz = v[b + 2] - v[a + 2];
    const wx = v[c] - v[a], wy = v[c + 1] - v[a + 1], wz = v[c + 2] - v[a + 2];
    const cx = uy * wz - uz * wy, cy = uz * wx - ux * wz, cz = ux * wy - uy * wx;
    area += Math.sqrt(cx * cx + cy * cy + cz * cz) / 2;
  }
  return area;
}

/**
 * The directed edges of a triangle list as out-lists per vertex (CSR: edges of vertex a are
 * dst[start[a] .. start[a + 1])), with repeats. Vertex valence is small, so counting an edge
 * is a short scan: linear in the mesh, no hash table (this check runs on every mesh written).
 */
function edgeLists(f: Uint32Array, nv: number): { start: Int32Array; dst: Int32Array } {
  const start = new Int32Array(nv + 1);
  for (let i = 0; i < f.length; i++) start[f[i] + 1]++;
  for (let v = 0; v < nv; v++) start[v + 1] += start[v];
  const fill = start.slice(0, nv);
  const dst = new Int32Array(f.length);
  for (let t = 0; t < f.length; t += 3) {
    dst[fill[f[t]]++] = f[t + 1];
    dst[fill[f[t + 1]]++] = f[t + 2];
    dst[fill[f[t + 2]]++] = f[t];
  }
  return { start, dst };
}

/** Count the distinct directed edges a->b for which `bad(n, r)` holds (n = times a->b occurs, r = times b->a occurs). */
function countEdges(indices: Uint32Array, nv: number, bad: (n: number, r: number) => boolean): number {
  const { start, dst } = edgeLists(indices, nv);
  const times = (a: number, b: number) => {
    let n = 0;
    for (let i = start[a]; i < start[a + 1]; i++) if (dst[i] === b) n++;
    return n;
  };
  let count = 0;
  for (let a = 0; a < nv; a++) {
    outer: for (let i = start[a]; i < start[a + 1]; i++) {
      const b = dst[i];
      for (let j = start[a]; j < i; j++) if (dst[j] === b) continue outer; // counted already
      if (bad(times(a, b), times(b, a))) count++;
    }
  }
  return count;
}

/**
 * Watertightness check: every directed edge appears exactly once and its reverse exactly once
 * (closed, consistently wound). Returns the number of directed edges without a partner.
 */
export function openEdges(mesh: Mesh): number {
  return countEdges(mesh.indices, mesh.vertices.length / 3, (n, r) => n !== 1 || r !== 1);
}

/**
 * Hole check that allows pinches: the number of directed edges whose reverse does not occur
 * equally often. 0 = no hole, though the surface may pinch (e.g. two folds meeting along one edge
 * of a locked octree cell face), which `openEdges` would count.
 */
export function holeEdges(mesh: Mesh): number {
  return holeEdgesIndexed(mesh.indices, mesh.vertices.length / 3);
}

/**
 * `holeEdges` of triangles `indices` into any vertex array of `vertexCount` vertices. Per vertex a,
 * a counter per neighbour b adds the edges a->b and subtracts the edges b->a: a directed edge is
 * a hole edge where the counter is not 0. Linear in the mesh (no scan of a vertex's list per edge).
 */
export function holeEdgesIndexed(indices: Uint32Array, vertexCount: number): number {
  const nv = vertexCount;
  const f = indices;
  // out-lists (a -> b) and in-lists (b -> a) per vertex, CSR
  const os = new Int32Array(nv + 1);
  for (let i = 0; i < f.length; i++) os[f[i] + 1]++;
  for (let v = 0; v < nv; v++) os[v + 1] += os[v];
  // every corner starts one edge and ends one, so the in-lists have the same offsets
  const ofill = os.slice(0, nv);
  const ifill = os.slice(0, nv);
  const out = new Int32Array(f.length);
  const inn = new Int32Array(f.length);
  for (let t = 0; t < f.length; t += 3) {
    const a = f[t], b = f[t + 1], c = f[t + 2];
    out[ofill[a]++] = b;
    inn[ifill[b]++] = a;
    out[ofill[b]++] = c;
    inn[ifill[c]++] = b;
    out[ofill[c]++] = a;
    inn[ifill[a]++] = c;
  }
  const m = new Int32Array(nv);
  let count = 0;
  for (let a = 0; a < nv; a++) {
    const s = os[a], e = os[a + 1];
    for (let i = s; i < e; i++) m[out[i]]++;
    for (let i = s; i < e; i++) m[inn[i]]--;
    // each distinct b with a -> b counted once (the counter is cleared at its first visit)
    for (let i = s; i < e; i++) {
      const b = out[i];
      if (m[b] !== 0) count++;
      m[b] = 0;
    }
    for (let i = s; i < e; i++) m[inn[i]] = 0;
  }
  return count;
}
