/**
 * TEASAR-style skeletonization of every label of a block (Sato et al. 2000, as in kimimaro):
 *
 * 1. DBF = anisotropic distance of each voxel to the nearest voxel of another label (kernels/edt).
 * 2. Per connected piece (26-connected) of each label: root = its deepest voxel (max DBF), as
 *    kimimaro roots at a soma's centre; pieces are found by the Dijkstra itself.
 * 3. One Dijkstra from the root over the penalty field PDRF(v) = pdrfScale * (1 - DBF/maxDBF)^pdrfExponent + 1
 *    (edge cost = PDRF(v) * step length in nm) gives a shortest-path tree that hugs the centre; the
 *    physical length along that tree ranks targets (farthest first).
 * 4. Repeatedly: the farthest voxel not yet invalidated becomes a target; its tree path to the
 *    root (or to the existing skeleton) is added; every voxel within scale * DBF + const (nm) of a
 *    new path voxel is invalidated. Forced targets (block-face anchors) are traced first.
 *
 * Vertices are voxel centres in nm ((offset + i + 0.5) * voxelSize); radius = DBF at the vertex (nm).
 * Hot loops use typed arrays only (binary heap with decrease-key, no per-voxel Map/Set).
 */
import type { Vec3 } from '../../core/box.js';
import { WiringError } from '../../core/errors.js';
import { edtLabels } from '../../kernels/edt.js';

/** A skeleton: vertices [x,y,z] nm flattened, edges as vertex index pairs, radius per vertex (nm). */
export interface Skeleton {
  vertices: Float32Array;
  edges: Uint32Array;
  radius: Float32Array;
}

/** The skeletonizer's defaults (the CLI help reads them). */
export const TEASAR_DEFAULTS = {
  /** Invalidation radius = scale * distance to the boundary + const. */
  scale: 1.5,
  /** The invalidation constant, in multiples of the largest voxel size (nm). */
  constVoxels: 2,
  pdrfScale: 100000,
  pdrfExponent: 4,
  minVoxels: 1,
  /**
   * The skeleton stage samples every 2nd voxel along axes at most half as long as the longest
   * (8x8x30 nm -> 16x16x30 nm; isotropic volumes are not sampled) up to this step; 1 = the full
   * grid. Chosen on the phantom (docs/THROUGHPUT.md, Skeletons).
   */
  maxSampleStep: 2,
} as const;

export interface TeasarOptions {
  /** nm per voxel [x,y,z]. */
  voxelSize?: Vec3;
  /** Global voxel coordinate of element 0. */
  offset?: Vec3;
  /** Invalidation radius = scale * DBF + const (nm). Defaults TEASAR_DEFAULTS.scale and TEASAR_DEFAULTS.constVoxels * the largest voxel size. */
  scale?: number;
  const?: number;
  pdrfScale?: number;
  pdrfExponent?: number;
  /** Components smaller than this many voxels get no skeleton (default 1: every component). */
  minVoxels?: number;
  /** Treat the array border as the object's end (true) or as unknown (false, for blocks). Default true. */
  borderIsBoundary?: boolean;
  /** Per compact label, flat indices into `labels` that must become skeleton vertices. */
  forcedTargets?: Map<number, number[]>;
  /** Precomputed DBF (edtLabels of `labels`, same sampling), if the caller has it. */
  dbf?: Float32Array;
}

export function emptySkeleton(): Skeleton {
  return { vertices: new Float32Array(0), edges: new Uint32Array(0), radius: new Float32Array(0) };
}

/** Bounding boxes of labels 1..maxLabel: [xmin,ymin,zmin,xmax,ymax,zmax] (inclusive), xmin > xmax if absent. */
export function labelBoxes(labels: Uint32Array, shape: Vec3, maxLabel: number): Int32Array {
  const b = new Int32Array((maxLabel + 1) * 6);
  for (let l = 0; l <= maxLabel; l++) {
    b[6 * l] = b[6 * l + 1] = b[6 * l + 2] = 0x7fffffff;
    b[6 * l + 3] = b[6 * l + 4] = b[6 * l + 5] = -1;
  }
  const [sx, sy, sz] = shape;
  let i = 0;
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++, i++) {
        const l = labels[i];
        if (l === 0) continue;
        if (l > maxLabel) throw new WiringError(`label ${l} at voxel ${i} exceeds maxLabel ${maxLabel}`);
        const o = 6 * l;
        if (x < b[o]) b[o] = x;
        if (x > b[o + 3]) b[o + 3] = x;
        if (y < b[o + 1]) b[o + 1] = y;
        if (y > b[o + 4]) b[o + 4] = y;
        if (z < b[o + 2]) b[o + 2] = z;
        if (z > b[o + 5]) b[o + 5] = z;
      }
  return b;
}

/** Skeletonize every label of a compact label block; result[l] is label l's skeleton (0: empty). */
export function skeletonizeLabels(labels: Uint32Array, shape: Vec3, maxLabel: number, opts: TeasarOptions = {}): Skeleton[] {
  const res = opts.voxelSize ?? [1, 1, 1];
  const [sx, sy, sz] = shape;
  if (labels.length !== sx * sy * sz) {
    throw new WiringError(`skeletonize: ${labels.length} labels do not fill shape [${shape}]`);
  }
  const dbf0 = opts.dbf ?? edtLabels(labels, shape, { sampling: res, borderIsBoundary: opts.borderIsBoundary ?? true });
  // padded copies (one voxel of 0 around) so neighbour offsets never leave the array
  const px = sx + 2, py = sy + 2, pz = sz + 2;
  const N = px * py * pz;
  // Blocks of one run have about the same shape: reuse the last workspace if it is large enough
  // (state is all 0 after each label, lab is cleared here, the rest is written before read).
  let ws = cachedWorkspace;
  if (!ws || ws.capacity < N) {
    cachedWorkspace = undefined;
    ws = new Workspace(Math.ceil(N * 1.1));
  }
  cachedWorkspace = undefined; // not shared while in use (re-entrancy)
  ws.lab.fill(0, 0, N);
  ws.setGeometry(px, py, pz, res);
  const lab = ws.lab;
  const dbf = ws.dbf;
  const counts = new Int32Array(maxLabel + 2);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++) {
      const s = sx * (y + sy * z);
      const d = 1 + px * (y + 1 + py * (z + 1));
      for (let x = 0; x < sx; x++) {
        const l = labels[s + x];
        if (l > maxLabel) throw new WiringError(`label ${l} at voxel ${s + x} exceeds maxLabel ${maxLabel}`);
        lab[d + x] = l;
        dbf[d + x] = dbf0[s + x];
        counts[l + 1]++;
      }
    }
  // voxel lists per label (counting sort, padded indices)
  counts[0] = 0;
  counts[1] = 0; // label 0 not listed
  for (let l = 1; l <= maxLabel; l++) counts[l + 1] += counts[l];
  const fill = counts.slice();
  const vox = new Int32Array(counts[maxLabel + 1]);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++) {
      const d = 1 + px * (y + 1 + py * (z + 1));
      for (let x = 0; x < sx; x++) {
        const l = lab[d + x];
        if (l !== 0) vox[fill[l]++] = d + x;
      }
    }
  let maxCount = 0;
  for (let l = 1; l <= maxLabel; l++) maxCount = Math.max(maxCount, counts[l + 1] - counts[l]);
  ws.heap = new Int32Array(maxCount + 1);
  ws.hkey = new Float32Array(maxCount + 1);
  ws.order = new Int32Array(maxCount + 1);
  // forced targets: convert flat unpadded indices to padded
  const out: Skeleton[] = [emptySkeleton()];
  for (let l = 1; l <= maxLabel; l++) {
    const members = vox.subarray(counts[l], counts[l + 1]);
    if (members.length === 0) {
      out.push(emptySkeleton());
      continue;
    }
    const given = opts.forcedTargets?.get(l);
    const forced = new Int32Array(given ? given.length : 0);
    for (let k = 0; k < forced.length; k++) {
      const g = given![k];
      const gx = g % sx, gy = Math.floor(g / sx) % sy, gz = Math.floor(g / (sx * sy));
      forced[k] = gx + 1 + px * (gy + 1 + py * (gz + 1));
    }
    out.push(skeletonizeOne(ws, l, members, forced, opts));
  }
  cachedWorkspace = ws; // lab/dbf interiors are fully rewritten by the next call
  return out;
}

let cachedWorkspace: Workspace | undefined;

/** Scratch arrays over the padded block, reset sparsely after each label. */
class Workspace {
  lab: Uint32Array;
  dbf: Float32Array;
  state: Uint8Array; // bit 0 reached, bit 1 invalidated, bit 2 on skeleton, bit 3 component done
  /** per voxel v: pd[2v] = penalty (PDRF), pd[2v + 1] = Dijkstra distance (one cache line for both) */
  pd: Float32Array;
  plen: Float32Array;
  parent: Int32Array;
  hpos: Int32Array;
  vid: Int32Array;
  heap = new Int32Array(0);
  /** bounding box of the current label, padded coordinates, inclusive [x0,y0,z0,x1,y1,z1] */
  bbox = new Int32Array(6);
  hkey = new Float32Array(0);
  order = new Int32Array(0);
  /** the current label's vertices [x,y,z] nm, radii and edge pairs, grown by doubling */
  vbuf = new Float32Array(3 * 256);
  rbuf = new Float32Array(256);
  ebuf = new Uint32Array(2 * 256);
  growVertices(): void {
    const v = new Float32Array(2 * this.vbuf.length);
    v.set(this.vbuf);
    this.vbuf = v;
    const r = new Float32Array(2 * this.rbuf.length);
    r.set(this.rbuf);
    this.rbuf = r;
  }
  growEdges(): void {
    const e = new Uint32Array(2 * this.ebuf.length);
    e.set(this.ebuf);
    this.ebuf = e;
  }
  /** neighbour offsets and step lengths (nm) of the 26-neighbourhood, for `res` */
  nOff = new Int32Array(26);
  nLen = new Float64Array(26);
  px = 0;
  py = 0;
  pz = 0;
  /** Use the first px*py*pz elements as a padded block of that shape, voxel size `res`. */
  setGeometry(px: number, py: number, pz: number, res: Vec3): void {
    this.px = px;
    this.py = py;
    this.pz = pz;
    let k = 0;
    for (let dz = -1; dz <= 1; dz++)
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          if (!dx && !dy && !dz) continue;
          this.nOff[k] = dx + this.px * (dy + this.py * dz);
          this.nLen[k] = Math.hypot(dx * res[0], dy * res[1], dz * res[2]);
          k++;
        }
  }
  constructor(readonly capacity: number) {
    const n = capacity;
    this.lab = new Uint32Array(n);
    this.dbf = new Float32Array(n);
    this.state = new Uint8Array(n);
    this.pd = new Float32Array(2 * n);
    this.plen = new Float32Array(n);
    this.parent = new Int32Array(n);
    this.hpos = new Int32Array(n);
    this.vid = new Int32Array(n);
  }
}

const REACHED = 1;
const INVALID = 2;
const ONSKEL = 4;
/** settled by the Dijkstra (its piece is done) */
const DONE = 8;
/** a voxel of the label being skeletonized (set for its members, cleared after) */
const MEMBER = 16;

function skeletonizeOne(ws: Workspace, L: number, members: Int32Array, forced: Int32Array, opts: TeasarOptions): Skeleton {
  const res = opts.voxelSize ?? [1, 1, 1];
  const off = opts.offset ?? [0, 0, 0];
  const scale = opts.scale ?? TEASAR_DEFAULTS.scale;
  const cst = opts.const ?? TEASAR_DEFAULTS.constVoxels * Math.max(res[0], res[1], res[2]);
  const pdrfScale = opts.pdrfScale ?? TEASAR_DEFAULTS.pdrfScale;
  const pdrfExp = opts.pdrfExponent ?? TEASAR_DEFAULTS.pdrfExponent;
  const minVoxels = opts.minVoxels ?? TEASAR_DEFAULTS.minVoxels;
  const { px, py, state, dbf, vid, parent, plen, nOff, nLen } = ws;
  const minStep = Math.min(res[0], res[1], res[2]);
  // one pass: membership bits, bounding box (clips the invalidation balls), deepest voxel
  const bb = ws.bbox;
  bb[0] = bb[1] = bb[2] = 0x7fffffff;
  bb[3] = bb[4] = bb[5] = -1;
  const plane = px * py;
  let maxD = 0;
  for (let i = 0; i < members.length; i++) {
    const c = members[i];
    state[c] = MEMBER;
    const z = (c / plane) | 0;
    const rem = c - z * plane;
    const y = (rem / px) | 0;
    const x = rem - y * px;
    if (x < bb[0]) bb[0] = x;
    if (x > bb[3]) bb[3] = x;
    if (y < bb[1]) bb[1] = y;
    if (y > bb[4]) bb[4] = y;
    if (z < bb[2]) bb[2] = z;
    if (z > bb[5]) bb[5] = z;
    if (dbf[c] > maxD) maxD = dbf[c];
  }
  // vertices, radii and edges in the workspace's growable typed buffers: plain arrays here took
  // integer or double elements depending on the label, and every change of kind threw the
  // optimized code away (hundreds of deopts per block)
  let nv = 0;
  let ne = 0;
  const addVertex = (c: number): number => {
    const x = c % px, y = Math.floor(c / px) % py, z = Math.floor(c / (px * py));
    if (nv === ws.rbuf.length) ws.growVertices();
    const vb = ws.vbuf;
    vb[3 * nv] = (off[0] + x - 0.5) * res[0];
    vb[3 * nv + 1] = (off[1] + y - 0.5) * res[1];
    vb[3 * nv + 2] = (off[2] + z - 0.5) * res[2];
    ws.rbuf[nv] = dbf[c];
    const id = nv++;
    vid[c] = id;
    state[c] |= ONSKEL;
    return id;
  };
  // penalty for every voxel of the label (maxD = the label's deepest voxel), and depth keys
  const inv = maxD > 0 ? 1 / maxD : 0;
  const pd = ws.pd;
  const dq = 4 / minStep;
  const maxDepth = Math.floor(maxD * dq);
  const keys = ws.order; // scratch until the first Dijkstra
  for (let i = 0; i < members.length; i++) {
    const c = members[i];
    const d = dbf[c];
    const t = 1 - d * inv;
    pd[2 * c] = pdrfScale * (pdrfExp === 4 ? t * t * t * t : t ** pdrfExp) + 1;
    keys[i] = maxDepth - Math.floor(d * dq);
  }
  // members by depth (deepest first): each connected piece is rooted at its deepest voxel, the
  // first member not yet reached by an earlier piece's Dijkstra
  const dBucket = new Int32Array(maxDepth + 2);
  for (let i = 0; i < members.length; i++) dBucket[keys[i] + 1]++;
  for (let k = 1; k <= maxDepth + 1; k++) dBucket[k] += dBucket[k - 1];
  const byDepth = new Int32Array(members.length);
  for (let i = 0; i < members.length; i++) byDepth[dBucket[keys[i]]++] = members[i];
  // forced targets of this label (typed and looped: Array.filter on arrays of varying element
  // kinds deoptimized this function once per label)
  const pending = new Int32Array(forced.length);
  let nPending = 0;
  for (let k = 0; k < forced.length; k++) {
    const c = forced[k];
    if (c >= 0 && c < ws.px * ws.py * ws.pz && ws.lab[c] === L) pending[nPending++] = c;
  }
  for (let mi = 0; mi < byDepth.length; mi++) {
    const root = byDepth[mi];
    if (state[root] & DONE) continue;
    // ---- penalty field Dijkstra from the piece's deepest voxel (TEASAR rooted at the centre,
    // as kimimaro does at a soma): the shortest-path tree reaches every voxel of the piece
    const count = dijkstra(ws, root, nOff, nLen);
    if (count < minVoxels) continue;
    // farthest first by physical length along the tree: sort packed keys (length, then order)
    // (counting sort on plen quantized to a quarter of the smallest step; ties keep tree order)
    const order = ws.order;
    const q = 4 / minStep;
    let maxKey = 0;
    for (let i = 0; i < count; i++) {
      const k = Math.floor(plen[order[i]] * q);
      if (k > maxKey) maxKey = k;
    }
    const bucket = new Int32Array(maxKey + 2);
    for (let i = 0; i < count; i++) bucket[maxKey - Math.floor(plen[order[i]] * q) + 1]++;
    for (let k = 1; k <= maxKey + 1; k++) bucket[k] += bucket[k - 1];
    const ranked = new Int32Array(count);
    for (let i = 0; i < count; i++) ranked[bucket[maxKey - Math.floor(plen[order[i]] * q)]++] = order[i];
    addVertex(root);
    const trace = (t: number) => {
      if (state[t] & ONSKEL) return;
      const path: number[] = [];
      let c = t;
      while (!(state[c] & ONSKEL)) {
        path.push(c);
        c = parent[c];
        if (c < 0) throw new WiringError('skeleton path left the component');
      }
      let prev = vid[c];
      for (let i = path.length - 1; i >= 0; i--) {
        const id = addVertex(path[i]);
        if (2 * ne + 2 > ws.ebuf.length) ws.growEdges();
        ws.ebuf[2 * ne] = prev;
        ws.ebuf[2 * ne + 1] = id;
        ne++;
        prev = id;
      }
      // invalidate balls around the new path voxels. Consecutive balls overlap almost entirely,
      // so balls are placed every half radius (their union covers >= 0.97 of the swept tube).
      let lastX = -1e30, lastY = 0, lastZ = 0;
      for (let i = 0; i < path.length; i++) {
        const p = path[i];
        const r = scale * dbf[p] + cst;
        const x = (p % px) * res[0], y = (Math.floor(p / px) % py) * res[1], z = Math.floor(p / (px * py)) * res[2];
        if (i === path.length - 1 || Math.hypot(x - lastX, y - lastY, z - lastZ) >= 0.5 * r) {
          invalidateBall(ws, p, res, r);
          lastX = x;
          lastY = y;
          lastZ = z;
        }
      }
    };
    invalidateBall(ws, root, res, scale * dbf[root] + cst);
    // this piece's forced targets first (REACHED is set by the Dijkstra only, so testing it
    // while tracing picks the same targets as before the tracing)
    for (let k = 0; k < nPending; k++) if (state[pending[k]] & REACHED) trace(pending[k]);
    for (let i = 0; i < ranked.length; i++) {
      const t = ranked[i];
      if (state[t] & (INVALID | ONSKEL)) continue;
      trace(t);
    }
  }
  // sparse reset
  for (let i = 0; i < members.length; i++) {
    const c = members[i];
    state[c] = 0;
  }
  return { vertices: ws.vbuf.slice(0, 3 * nv), edges: ws.ebuf.slice(0, 2 * ne), radius: ws.rbuf.slice(0, nv) };
}

/**
 * Dijkstra over the member voxels reachable from `src`, edge cost = step length (nm) * the
 * penalty of the voxel entered (pd[2v]). Fills the distances (pd[2v + 1]), ws.parent, ws.plen (physical length along
 * the tree) and ws.order[0..count); marks REACHED. 4-ary heap with keys stored beside the ids.
 */
function dijkstra(ws: Workspace, src: number, nOff: Int32Array, nLen: Float64Array): number {
  const { state, pd, parent, heap, hkey, hpos, plen, order } = ws;
  let hn = 0;
  let count = 0;
  pd[2 * src + 1] = 0;
  plen[src] = 0;
  parent[src] = -1;
  state[src] |= REACHED;
  heap[0] = src;
  hkey[0] = 0;
  hpos[src] = 0;
  hn = 1;
  while (hn > 0) {
    const u = heap[0];
    hn--;
    if (hn > 0) {
      // sift the last element down from the root (4-ary heap: children 4i+1..4i+4)
      const v = heap[hn];
      const d = hkey[hn];
      let i = 0;
      for (;;) {
        const c0 = 4 * i + 1;
        if (c0 >= hn) break;
        let c = c0;
        let kc = hkey[c0];
        const cEnd = c0 + 4 < hn ? c0 + 4 : hn;
        for (let j = c0 + 1; j < cEnd; j++) {
          const kj = hkey[j];
          if (kj < kc) {
            kc = kj;
            c = j;
          }
        }
        if (kc >= d) break;
        const hc = heap[c];
        heap[i] = hc;
        hkey[i] = kc;
        hpos[hc] = i;
        i = c;
      }
      heap[i] = v;
      hkey[i] = d;
      hpos[v] = i;
    }
    state[u] |= DONE;
    order[count++] = u;
    const du = pd[2 * u + 1];
    const lu = plen[u];
    for (let k = 0; k < 26; k++) {
      const v = u + nOff[k];
      const st = state[v];
      // a member of the label not yet settled (non-members have state 0)
      if ((st & (MEMBER | DONE)) !== MEMBER) continue;
      let i: number;
      const nd = du + nLen[k] * pd[2 * v];
      if (!(st & REACHED)) {
        state[v] = st | REACHED;
        i = hn++;
      } else {
        if (nd >= pd[2 * v + 1]) continue;
        i = hpos[v];
      }
      pd[2 * v + 1] = nd;
      parent[v] = u;
      plen[v] = lu + nLen[k];
      // sift up from i
      while (i > 0) {
        const p = (i - 1) >> 2;
        if (hkey[p] <= nd) break;
        heap[i] = heap[p];
        hkey[i] = hkey[p];
        hpos[heap[i]] = i;
        i = p;
      }
      heap[i] = v;
      hkey[i] = nd;
      hpos[v] = i;
    }
  }
  return count;
}

function invalidateBall(ws: Workspace, c: number, res: Vec3, r: number): void {
  const { state, px, py } = ws;
  const bb = ws.bbox; // the label's bounding box in padded coordinates (inclusive)
  const x = c % px, y = Math.floor(c / px) % py, z = Math.floor(c / (px * py));
  const rz = Math.floor(r / res[2]);
  const r2 = r * r;
  const z0 = Math.max(bb[2], z - rz), z1 = Math.min(bb[5], z + rz);
  for (let zz = z0; zz <= z1; zz++) {
    const dz = zz - z;
    const ez = r2 - (dz * res[2]) ** 2;
    if (ez < 0) continue;
    const ry = Math.floor(Math.sqrt(ez) / res[1]);
    const y0 = Math.max(bb[1], y - ry), y1 = Math.min(bb[4], y + ry);
    for (let yy = y0; yy <= y1; yy++) {
      const dy = yy - y;
      const ey = ez - (dy * res[1]) ** 2;
      if (ey < 0) continue;
      const rx = Math.floor(Math.sqrt(ey) / res[0]);
      const lo = Math.max(bb[0], x - rx);
      const hi = Math.min(bb[3], x + rx);
      const base = px * (yy + py * zz);
      for (let xx = lo; xx <= hi; xx++) if (state[base + xx] & MEMBER) state[base + xx] |= INVALID;
    }
  }
}

/** Total cable length (nm) of a skeleton. */
export function cableLength(s: Skeleton): number {
  let len = 0;
  const v = s.vertices;
  for (let e = 0; e < s.edges.length; e += 2) {
    const a = 3 * s.edges[e];
    const b = 3 * s.edges[e + 1];
    len += Math.hypot(v[a] - v[b], v[a + 1] - v[b + 1], v[a + 2] - v[b + 2]);
  }
  return len;
}
