import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import type { Connectivity } from '../../kernels/components.js';

/**
 * Candidate clefts cut along the segmentation's contacts: the components of p >= low in which two
 * neighbouring voxels join only when they lie on the contact of the same pair of segments, kept
 * when they reach p >= high (and hold minSize voxels). A loose rule's components are membrane
 * networks that run along the bouton's surface from its cleft to its other neighbours (on the
 * phantom, 133 of 144 true clefts lie in a component of p >= 0.25 but only 19 reach IoU 0.1 with
 * it); cut by pair, the piece on the bouton|target contact is the cleft's.
 *
 * A voxel's pair: its own segment and the segment other than it seen most often within 2 pixels
 * in-plane and one section (ties: the smaller label); a voxel of no segment (label 0) takes the two
 * most frequent. A voxel that sees a single segment is the pair (that segment, none).
 */
export interface ContactRule {
  high: number;
  low: number;
  minSize: number;
}

/** Pair label of every voxel of `mask` (0 outside it): equal values = the same pair of segments. */
export function contactPairs(mask: Uint8Array, seg: Uint32Array, shape: Vec3): Int32Array {
  const [X, Y, Z] = shape;
  const out = new Int32Array(mask.length);
  const ids = new Map<string, number>();
  const labs: number[] = [];
  const cnt: number[] = [];
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0, i = X * (y + Y * z); x < X; x++, i++) {
        if (!mask[i]) continue;
        const own = seg[i];
        labs.length = 0;
        cnt.length = 0;
        for (let w = Math.max(0, z - 1); w <= Math.min(Z - 1, z + 1); w++)
          for (let v = Math.max(0, y - 2); v <= Math.min(Y - 1, y + 2); v++)
            for (let u = Math.max(0, x - 2), j = u + X * (v + Y * w); u <= Math.min(X - 1, x + 2); u++, j++) {
              const s = seg[j];
              if (s === 0 || s === own) continue;
              const k = labs.indexOf(s);
              if (k < 0) {
                labs.push(s);
                cnt.push(1);
              } else cnt[k]++;
            }
        let a = 0, ca = 0, b = 0, cb = 0;
        for (let k = 0; k < labs.length; k++) {
          const s = labs[k], c = cnt[k];
          if (c > ca || (c === ca && s < a)) {
            b = a; cb = ca; a = s; ca = c;
          } else if (c > cb || (c === cb && s < b)) {
            b = s; cb = c;
          }
        }
        const p = own ? [own, a] : [a, b];
        const key = p[0] < p[1] ? `${p[0]}:${p[1]}` : `${p[1]}:${p[0]}`;
        let id = ids.get(key);
        if (id === undefined) ids.set(key, (id = ids.size + 1));
        out[i] = id;
      }
  return out;
}

function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/**
 * Objects (labels 1..count, in order of their first voxel) of `prob` under `rule`, cut along the
 * contacts of `seg` (see above). 6- or 26-connected within a pair.
 */
export function contactObjects(prob: Float32Array, seg: Uint32Array, shape: Vec3, rule: ContactRule, conn: Connectivity = 6): { labels: Uint32Array; count: number } {
  const n = shape[0] * shape[1] * shape[2];
  if (prob.length !== n || seg.length !== n) throw new UsageError(`contact candidates: a map of ${prob.length} and a segmentation of ${seg.length} voxels for shape [${shape}]`);
  if (!(rule.low >= 0 && rule.low <= rule.high && rule.high <= 1)) throw new UsageError(`contact candidates: expected 0 <= low <= high <= 1, got ${JSON.stringify(rule)}`);
  const [X, Y, Z] = shape;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (prob[i] >= rule.low) mask[i] = 1;
  const pair = contactPairs(mask, seg, shape);
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const offs: Array<[number, number, number]> = [];
  for (let dz = -1; dz <= 0; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        // half the neighbourhood (the ones visited before), 6- or 26-connected
        if (dz === 0 && (dy > 0 || (dy === 0 && dx >= 0))) continue;
        if (conn === 6 && Math.abs(dx) + Math.abs(dy) + Math.abs(dz) !== 1) continue;
        offs.push([dx, dy, dz]);
      }
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0, i = X * (y + Y * z); x < X; x++, i++) {
        if (!mask[i]) continue;
        for (const [dx, dy, dz] of offs) {
          const u = x + dx, v = y + dy, w = z + dz;
          if (u < 0 || v < 0 || w < 0 || u >= X || v >= Y) continue;
          const j = u + X * (v + Y * w);
          if (!mask[j] || pair[j] !== pair[i]) continue;
          const a = find(parent, i), b = find(parent, j);
          if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
        }
      }
  // components: size and peak per root, kept when they reach high and hold minSize voxels
  const size = new Map<number, number>(), peak = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const r = find(parent, i);
    size.set(r, (size.get(r) ?? 0) + 1);
    if (prob[i] > (peak.get(r) ?? -1)) peak.set(r, prob[i]);
  }
  const label = new Map<number, number>();
  const labels = new Uint32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const r = find(parent, i);
    if (peak.get(r)! < rule.high || size.get(r)! < rule.minSize) continue;
    let l = label.get(r);
    if (l === undefined) label.set(r, (l = ++count));
    labels[i] = l;
  }
  return { labels, count };
}
