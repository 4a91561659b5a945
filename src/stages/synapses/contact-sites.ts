import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';

/**
 * Contact sites of a segmentation (as SyConn2 and SynEM start from them): the voxels on the faces
 * between two touching segments A and B (a voxel of A with a 6-neighbour in B, and that voxel of B:
 * both sides, a band two voxels thick), split per pair into connected components (26-connected),
 * each cut by a grid of `patchNm` cells fixed in dataset coordinates (`origin`: the block's first
 * voxel in the dataset), so one long membrane contact is several sites and a site never depends on
 * where a block starts. Both voxels of a face take the cell of the face's lower voxel, so a grid
 * line never parts the two sides of a contact. A voxel touching several other segments takes the one it touches on most
 * faces (ties: the smaller label). Label 0 = no segment: it touches nothing.
 *
 * Candidate clefts from sites (`siteObjects`): the voxels of a site with cleft p >= low, kept when
 * one of them reaches high and they hold minSize voxels (low 0: the whole band). A site's object is
 * one candidate even when its voxels are not connected.
 */
export interface SiteRule {
  high: number;
  low: number;
  minSize: number;
  /** Largest extent of a site along each axis: the grid cell, nm. */
  patchNm: number;
}

/** Site features appended to a candidate's (sample-major; see siteObjects). */
export const SITE_FEATURE_NAMES = [
  'site_log_voxels',
  'site_object_fraction',
  'site_cleft_mean',
  'site_cleft_max',
  'site_cleft_q90',
  'site_cleft_frac_03',
  'site_cleft_frac_05',
  'site_log_area_nm2',
] as const;

function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/**
 * Site labels (1..count, in order of their first voxel in memory order; 0 = on no contact) of
 * segment labels `seg` over `shape`, voxel size `vs` nm, the block's first voxel at `origin` in the
 * dataset. Memory: the labels plus one index per contact voxel.
 */
export function contactSites(seg: Uint32Array, shape: Vec3, vs: Vec3, patchNm: number, origin: Vec3 = [0, 0, 0]): { labels: Uint32Array; count: number } {
  const [X, Y, Z] = shape;
  const n = X * Y * Z;
  if (seg.length !== n) throw new UsageError(`contact sites: a segmentation of ${seg.length} voxels for shape [${shape}]`);
  if (!(patchNm > 0)) throw new UsageError(`contact sites: patch size ${patchNm} nm must be positive`);
  // pass 1: each voxel's other segment (most faces), as a pair id; contact voxels listed in memory order
  const pairIds = new Map<number, number>();
  const other = new Uint32Array(6);
  const cnt = new Uint8Array(6);
  const pairOfVoxel = new Int32Array(n); // 0 = none, else pair id (1-based)
  const list: number[] = [];
  // per contact voxel: the face (0..5) to its other segment it takes its grid cell from
  const faces: number[] = [];
  const offs = [-1, 1, -X, X, -X * Y, X * Y];
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0, i = X * (y + Y * z); x < X; x++, i++) {
        const own = seg[i];
        if (own === 0) continue;
        let m = 0;
        for (let f = 0; f < 6; f++) {
          if ((f === 0 && x === 0) || (f === 1 && x === X - 1) || (f === 2 && y === 0) || (f === 3 && y === Y - 1) || (f === 4 && z === 0) || (f === 5 && z === Z - 1)) continue;
          const s = seg[i + offs[f]];
          if (s === 0 || s === own) continue;
          let k = 0;
          while (k < m && other[k] !== s) k++;
          if (k === m) {
            other[m] = s;
            cnt[m++] = 0;
          }
          cnt[k]++;
        }
        if (m === 0) continue;
        let b = other[0], cb = cnt[0];
        for (let k = 1; k < m; k++) if (cnt[k] > cb || (cnt[k] === cb && other[k] < b)) (b = other[k]), (cb = cnt[k]);
        let face = 0;
        while (!(face === 0 ? x > 0 : face === 1 ? x < X - 1 : face === 2 ? y > 0 : face === 3 ? y < Y - 1 : face === 4 ? z > 0 : z < Z - 1) || seg[i + offs[face]] !== b) face++;
        faces.push(face);
        const lo = Math.min(own, b), hi = Math.max(own, b);
        const key = lo * 4294967296 + hi;
        let id = pairIds.get(key);
        if (id === undefined) pairIds.set(key, (id = pairIds.size + 1));
        pairOfVoxel[i] = id;
        list.push(i);
      }
  // pass 2: union within a pair and a grid cell, 26-connected (half neighbourhood: voxels visited before)
  const m = list.length;
  const pos = new Int32Array(n);
  for (let k = 0; k < m; k++) pos[list[k]] = k;
  const parent = new Int32Array(m);
  for (let k = 0; k < m; k++) parent[k] = k;
  const cellOf = (len: number, a: number): Int32Array => Int32Array.from({ length: len }, (_, x) => Math.floor(((x + origin[a]) * vs[a]) / patchNm));
  const cx = cellOf(X, 0), cy = cellOf(Y, 1), cz = cellOf(Z, 2);
  // a voxel's cell: the cell of the lower voxel of its face with the other segment (both sides agree), as one number
  const cellOfVoxel = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const i = list[k], f = faces[k];
    const x = i % X - (f === 0 ? 1 : 0), y = (Math.floor(i / X) % Y) - (f === 2 ? 1 : 0), z = Math.floor(i / (X * Y)) - (f === 4 ? 1 : 0);
    cellOfVoxel[k] = (cx[x] * 65536 + cy[y]) * 65536 + cz[z];
  }
  for (let k = 0; k < m; k++) {
    const i = list[k];
    const x = i % X, y = Math.floor(i / X) % Y, z = Math.floor(i / (X * Y));
    const p = pairOfVoxel[i];
    for (let dz = -1; dz <= 0; dz++)
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          if (dz === 0 && (dy > 0 || (dy === 0 && dx >= 0))) continue;
          const u = x + dx, v = y + dy, w = z + dz;
          if (u < 0 || v < 0 || w < 0 || u >= X || v >= Y) continue;
          const j = u + X * (v + Y * w);
          if (pairOfVoxel[j] !== p || cellOfVoxel[k] !== cellOfVoxel[pos[j]]) continue;
          const a = find(parent, k), b = find(parent, pos[j]);
          if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
        }
  }
  const labels = new Uint32Array(n);
  const lab = new Int32Array(m);
  let count = 0;
  for (let k = 0; k < m; k++) {
    const r = find(parent, k);
    if (r === k) lab[k] = ++count;
    labels[list[k]] = lab[r];
  }
  return { labels, count };
}

/**
 * Candidate cleft objects of contact sites (see above): labels 1..count in order of their first
 * voxel, and per object the SITE_FEATURE_NAMES of its site (sample-major) from the cleft map `p`.
 */
export function siteObjects(p: Float32Array, seg: Uint32Array, shape: Vec3, vs: Vec3, rule: SiteRule, origin: Vec3 = [0, 0, 0]): { labels: Uint32Array; count: number; siteFeatures: Float32Array } {
  const n = shape[0] * shape[1] * shape[2];
  if (p.length !== n) throw new UsageError(`contact sites: a map of ${p.length} voxels for shape [${shape}]`);
  if (!(rule.low >= 0 && rule.low <= rule.high && rule.high <= 1)) throw new UsageError(`contact sites: expected 0 <= low <= high <= 1, got ${JSON.stringify(rule)}`);
  const s = contactSites(seg, shape, vs, rule.patchNm, origin);
  const S = s.count;
  const size = new Int32Array(S + 1), objSize = new Int32Array(S + 1);
  const peak = new Float32Array(S + 1), sum = new Float64Array(S + 1), n03 = new Int32Array(S + 1), n05 = new Int32Array(S + 1);
  const hist = new Int32Array((S + 1) * 20); // p in 20 bins, for the 90th percentile
  for (let i = 0; i < n; i++) {
    const l = s.labels[i];
    if (!l) continue;
    const v = p[i];
    size[l]++;
    sum[l] += v;
    if (v > peak[l]) peak[l] = v;
    if (v >= 0.3) n03[l]++;
    if (v >= 0.5) n05[l]++;
    if (v >= rule.low) objSize[l]++;
    hist[l * 20 + Math.min(19, Math.floor(v * 20))]++;
  }
  const keep = new Int32Array(S + 1);
  for (let l = 1; l <= S; l++) if (peak[l] >= rule.high && objSize[l] >= rule.minSize && objSize[l] > 0) keep[l] = -1;
  // objects numbered in order of their first voxel
  const labels = new Uint32Array(n);
  const siteOf: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = s.labels[i];
    if (!l || !keep[l] || p[i] < rule.low) continue;
    if (keep[l] < 0) {
      siteOf.push(l);
      keep[l] = siteOf.length;
    }
    labels[i] = keep[l];
  }
  const F = SITE_FEATURE_NAMES.length;
  const siteFeatures = new Float32Array(siteOf.length * F);
  const area = vs[0] * vs[1] + vs[0] * vs[2] + vs[1] * vs[2]; // a voxel's mean face, nm^2 (two voxels per face)
  siteOf.forEach((l, o) => {
    const f = siteFeatures.subarray(o * F, (o + 1) * F);
    let acc = 0, b = 19;
    for (; b > 0; b--) {
      acc += hist[l * 20 + b];
      if (acc >= 0.1 * size[l]) break;
    }
    f[0] = Math.log1p(size[l]);
    f[1] = objSize[l] / size[l];
    f[2] = sum[l] / size[l];
    f[3] = peak[l];
    f[4] = b / 20;
    f[5] = n03[l] / size[l];
    f[6] = n05[l] / size[l];
    f[7] = Math.log1p((size[l] / 2) * (area / 3));
  });
  return { labels, count: siteOf.length, siteFeatures };
}
