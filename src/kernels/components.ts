/**
 * Connected components on [x, y, z] volumes (x fastest: index = x + sx*(y + sy*z)).
 *
 * Two-pass labelling with union-find over typed arrays: pass 1 gives every voxel a provisional label
 * from its already-visited neighbours and records equivalences; pass 2 resolves each provisional label
 * to its root and numbers components 1..n in the order of their first voxel in memory order, which is
 * the raster order of a numpy (z, y, x) array, so binary results equal scipy.ndimage.label exactly.
 *
 * Connectivity: 6 / 18 / 26 in 3-D (faces / +edges / +corners), or 4 / 8 for 2-D labelling of every z
 * section on its own (components never cross sections).
 *
 * Also here: `compactLabels`, a hash-based relabelling of any label array (uint64 included) to dense
 * uint32 labels 1..n (0 stays 0), with no Map or bigint per voxel.
 */
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import { type LabelArray, foregroundMask } from './edt.js';

export type { LabelArray } from './edt.js';
export type Connectivity = 4 | 8 | 6 | 18 | 26;

export interface ComponentsOptions {
  /** 6 (default), 18, 26 in 3-D; 4 or 8 per z section. */
  connectivity?: Connectivity;
  /** Output array (length = voxel count); allocated otherwise. */
  out?: Uint32Array;
}

export interface Components {
  /** Component labels 1..count, 0 on background. */
  labels: Uint32Array;
  count: number;
}

function check(what: string, length: number, shape: Vec3, conn: number): void {
  for (let i = 0; i < 3; i++) {
    if (!Number.isInteger(shape[i]) || shape[i] < 0) throw new UsageError(`${what}: shape [${shape}] must be non-negative integers`);
  }
  const n = shape[0] * shape[1] * shape[2];
  if (length !== n) throw new UsageError(`${what}: array has ${length} elements, expected ${n} for shape [${shape}]`);
  if (![4, 8, 6, 18, 26].includes(conn)) throw new UsageError(`${what}: connectivity must be 4, 8, 6, 18 or 26, got ${conn}`);
}

/** Backward neighbour offsets [dx, dy, dz] (already visited in raster order) for a connectivity. */
function backwardOffsets(conn: Connectivity): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let dz = -1; dz <= 0; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        if (dz === 0 && (dy > 0 || (dy === 0 && dx >= 0))) continue;
        const k = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        const twoD = conn === 4 || conn === 8;
        if (twoD && dz !== 0) continue;
        if ((conn === 4 || conn === 6) && k > 1) continue;
        if (conn === 18 && k > 2) continue;
        out.push([dx, dy, dz]);
      }
  return out;
}

/** Binary components: voxels with value != 0 are foreground. */
export function connectedComponents(mask: LabelArray, shape: Vec3, opts: ComponentsOptions = {}): Components {
  const conn = opts.connectivity ?? 6;
  check('connectedComponents', mask.length, shape, conn);
  const bin = foregroundMask(mask);
  return label(bin, shape, conn, opts.out);
}

/**
 * Multi-label components: two neighbouring voxels are connected when they carry the same non-zero
 * label (skimage.measure.label(vol, background=0) semantics). uint64 ids are compacted first.
 */
export function labelComponents(labels: LabelArray, shape: Vec3, opts: ComponentsOptions = {}): Components {
  const conn = opts.connectivity ?? 6;
  check('labelComponents', labels.length, shape, conn);
  let lab: Exclude<LabelArray, BigUint64Array>;
  if (labels instanceof BigUint64Array) lab = compactLabels(labels).labels;
  else if (labels instanceof Float32Array || labels instanceof Float64Array) {
    throw new UsageError('labelComponents: labels must be an integer array, not float');
  } else lab = labels;
  return label(lab, shape, conn, opts.out);
}

/** Growable union-find parent array; parent[root] = root; roots are the smallest label of their set. */
class UnionFind {
  parent: Uint32Array;
  size = 1; // label 0 unused
  constructor(capacity: number) {
    this.parent = new Uint32Array(Math.max(16, capacity));
  }
  make(): number {
    if (this.size === this.parent.length) {
      const p = new Uint32Array(this.parent.length * 2);
      p.set(this.parent);
      this.parent = p;
    }
    const l = this.size++;
    this.parent[l] = l;
    return l;
  }
  find(a: number): number {
    const p = this.parent;
    while (p[a] !== a) {
      const g = p[p[a]];
      p[a] = g;
      a = g;
    }
    return a;
  }
  /** Union; returns the root. */
  union(a: number, b: number): number {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return ra;
    if (rb < ra) {
      const t = ra;
      ra = rb;
      rb = t;
    }
    this.parent[rb] = ra;
    return ra;
  }
}

function label(lab: ArrayLike<number>, shape: Vec3, conn: Connectivity, outArr?: Uint32Array): Components {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  if (outArr && outArr.length !== n) throw new UsageError(`connected components: output has ${outArr.length} elements, expected ${n}`);
  const out = outArr ?? new Uint32Array(n);
  if (n === 0) return { labels: out, count: 0 };
  const uf = new UnionFind(Math.min(n + 1, 1 << 16));
  const sxy = sx * sy;
  if (conn === 6 || conn === 4) {
    const useZ = conn === 6;
    for (let z = 0; z < sz; z++) {
      for (let y = 0; y < sy; y++) {
        const row = z * sxy + y * sx;
        for (let x = 0; x < sx; x++) {
          const i = row + x;
          const L = lab[i];
          if (L === 0) {
            out[i] = 0;
            continue;
          }
          let l = 0;
          const left = x > 0 && lab[i - 1] === L;
          if (left) l = out[i - 1];
          // When the left voxel and the voxel above-left both match, the voxel above (if it matches)
          // is already joined to the left one through them: skip the union (same for z).
          if (y > 0 && lab[i - sx] === L && !(left && lab[i - 1 - sx] === L)) {
            const m = out[i - sx];
            if (l === 0) l = m;
            else if (m !== l) l = uf.union(l, m);
          }
          if (useZ && z > 0 && lab[i - sxy] === L && !(left && lab[i - 1 - sxy] === L)) {
            const m = out[i - sxy];
            if (l === 0) l = m;
            else if (m !== l) l = uf.union(l, m);
          }
          out[i] = l === 0 ? uf.make() : l;
        }
      }
    }
  } else {
    const offs = backwardOffsets(conn);
    const k = offs.length;
    const odx = Int32Array.from(offs.map((o) => o[0]));
    const ody = Int32Array.from(offs.map((o) => o[1]));
    const odz = Int32Array.from(offs.map((o) => o[2]));
    const od = Int32Array.from(offs.map((o) => o[0] + sx * o[1] + sxy * o[2]));
    for (let z = 0; z < sz; z++) {
      for (let y = 0; y < sy; y++) {
        const row = z * sxy + y * sx;
        for (let x = 0; x < sx; x++) {
          const i = row + x;
          const L = lab[i];
          if (L === 0) {
            out[i] = 0;
            continue;
          }
          let l = 0;
          for (let t = 0; t < k; t++) {
            const xx = x + odx[t];
            const yy = y + ody[t];
            if (xx < 0 || xx >= sx || yy < 0 || yy >= sy || z + odz[t] < 0) continue;
            const j = i + od[t];
            if (lab[j] !== L) continue;
            const m = out[j];
            if (l === 0) l = m;
            else if (m !== l) l = uf.union(l, m);
          }
          out[i] = l === 0 ? uf.make() : l;
        }
      }
    }
  }
  // Resolve: roots are the smallest provisional label of their set, and provisional labels were
  // created in raster order, so numbering roots in increasing order numbers components by first voxel.
  const final = new Uint32Array(uf.size);
  let count = 0;
  for (let l = 1; l < uf.size; l++) {
    const r = uf.find(l);
    final[l] = r === l ? ++count : final[r];
  }
  for (let i = 0; i < n; i++) out[i] = final[out[i]];
  return { labels: out, count };
}

export interface CompactLabels {
  /** Dense labels 1..count in order of first appearance; 0 stays 0. */
  labels: Uint32Array;
  count: number;
  /** ids[l] = original id of dense label l (ids[0] = 0). */
  ids: BigUint64Array;
}

/**
 * Relabel any integer label array (uint64 included) to dense uint32 labels 1..n in order of first
 * appearance, 0 staying 0. Open-addressing hash table over the two 32-bit words of each id; no bigint
 * or Map per voxel.
 */
export function compactLabels(input: LabelArray, out?: Uint32Array): CompactLabels {
  const n = input.length;
  const labels = out ?? new Uint32Array(n);
  if (labels.length !== n) throw new UsageError(`compactLabels: output has ${labels.length} elements, expected ${n}`);
  if (input instanceof BigUint64Array) {
    // little-endian: word 2i = low, 2i+1 = high
    return compact64(new Uint32Array(input.buffer, input.byteOffset, n * 2), n, labels);
  }
  const lo = input;
  let cap = 1024;
  let keys = new Float64Array(cap); // stored key + 1 (0 = empty); ids here fit 2^53 exactly
  let vals = new Uint32Array(cap);
  let count = 0;
  let idsF: number[] = [0];
  let lastKey = NaN;
  let lastVal = 0;
  for (let i = 0; i < n; i++) {
    const v = lo[i];
    if (v === 0) {
      labels[i] = 0;
      continue;
    }
    if (v === lastKey) {
      labels[i] = lastVal;
      continue;
    }
    let h = hash32(v >>> 0, Math.floor(v / 4294967296) >>> 0) & (cap - 1);
    for (;;) {
      const k = keys[h];
      if (k === 0) {
        if (!(v > 0) || !Number.isInteger(v)) throw new UsageError(`compactLabels: label ${v} is not a non-negative integer`);
        keys[h] = v + 1;
        vals[h] = ++count;
        idsF.push(v);
        lastVal = count;
        break;
      }
      if (k === v + 1) {
        lastVal = vals[h];
        break;
      }
      h = (h + 1) & (cap - 1);
    }
    lastKey = v;
    labels[i] = lastVal;
    if (count * 2 > cap) {
      // grow
      const ok = keys;
      const ov = vals;
      cap *= 2;
      keys = new Float64Array(cap);
      vals = new Uint32Array(cap);
      for (let s = 0; s < ok.length; s++) {
        if (ok[s] === 0) continue;
        const kv = ok[s] - 1;
        let hh = hash32(kv >>> 0, Math.floor(kv / 4294967296) >>> 0) & (cap - 1);
        while (keys[hh] !== 0) hh = (hh + 1) & (cap - 1);
        keys[hh] = ok[s];
        vals[hh] = ov[s];
      }
    }
  }
  const ids = new BigUint64Array(count + 1);
  for (let l = 1; l <= count; l++) ids[l] = BigInt(idsF[l]);
  idsF = [];
  return { labels, count, ids };
}

function hash32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function compact64(w: Uint32Array, n: number, labels: Uint32Array): CompactLabels {
  let cap = 1024;
  let klo = new Uint32Array(cap);
  let khi = new Uint32Array(cap);
  let vals = new Uint32Array(cap); // 0 = empty slot
  let count = 0;
  let idLo = new Uint32Array(1024);
  let idHi = new Uint32Array(1024);
  let lastLo = 0;
  let lastHi = 0;
  let lastVal = 0;
  for (let i = 0; i < n; i++) {
    const a = w[2 * i];
    const b = w[2 * i + 1];
    if (a === 0 && b === 0) {
      labels[i] = 0;
      continue;
    }
    if (lastVal !== 0 && a === lastLo && b === lastHi) {
      labels[i] = lastVal;
      continue;
    }
    let h = hash32(a, b) & (cap - 1);
    for (;;) {
      const v = vals[h];
      if (v === 0) {
        klo[h] = a;
        khi[h] = b;
        vals[h] = ++count;
        if (count >= idLo.length) {
          const nl = new Uint32Array(idLo.length * 2);
          nl.set(idLo);
          idLo = nl;
          const nh = new Uint32Array(idHi.length * 2);
          nh.set(idHi);
          idHi = nh;
        }
        idLo[count] = a;
        idHi[count] = b;
        lastVal = count;
        break;
      }
      if (klo[h] === a && khi[h] === b) {
        lastVal = v;
        break;
      }
      h = (h + 1) & (cap - 1);
    }
    lastLo = a;
    lastHi = b;
    labels[i] = lastVal;
    if (count * 2 > cap) {
      const ol = klo;
      const oh = khi;
      const ov = vals;
      cap *= 2;
      klo = new Uint32Array(cap);
      khi = new Uint32Array(cap);
      vals = new Uint32Array(cap);
      for (let s = 0; s < ov.length; s++) {
        if (ov[s] === 0) continue;
        let hh = hash32(ol[s], oh[s]) & (cap - 1);
        while (vals[hh] !== 0) hh = (hh + 1) & (cap - 1);
        klo[hh] = ol[s];
        khi[hh] = oh[s];
        vals[hh] = ov[s];
      }
    }
  }
  const ids = new BigUint64Array(count + 1);
  const iw = new Uint32Array(ids.buffer);
  for (let l = 1; l <= count; l++) {
    iw[2 * l] = idLo[l];
    iw[2 * l + 1] = idHi[l];
  }
  return { labels, count, ids };
}
