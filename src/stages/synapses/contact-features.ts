import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import type { CleftFeatureMaps, ObjectVoxels } from './cleft-features.js';

/**
 * Segmentation-aware features of candidate cleft objects (as SynEM classifies the interface between
 * two neurites, and SyConn2 starts from their contact sites): a cleft lies on the contact of exactly
 * two cells, one of which (the presynaptic) holds a vesicle cloud *inside it* next to the contact.
 * A membrane beside a vesicle cloud often fails one of these: a third cell reaches it, the cloud lies
 * in neither cell on it, or the candidate covers only a sliver of a long contact that is bright
 * all along.
 *
 * Per candidate, with A and B the two segments holding most voxels near it (within `NEAR_NM`):
 * how many segments reach it, the two's share and balance; the fraction of its voxels lying on the
 * A|B contact (both within 2 pixels and a section); the mean vesicle probability inside each of A and
 * B within `WINDOW_NM` (pre = the higher; asymmetry; pre's fraction >= 0.5; the voxels >= 0.5 inside
 * each, log, and within `NEAR_NM` of the candidate, where the vesicles dock); the A|B contact inside
 * that window (its area, the share of it the candidate covers, its mean cleft probability); the
 * window's share of A and of B (boutons and spine heads are small); and the other candidates on the
 * same pair (how many, the nearest one's distance). Segment labels are any uint32 labels (0 = none),
 * e.g. compactLabels of a uint64 segmentation.
 */
export const CONTACT_FEATURE_NAMES = [
  'seg_count',
  'seg_top2_share',
  'seg_balance',
  'on_contact_fraction',
  'vesicle_pre_segment',
  'vesicle_post_segment',
  'vesicle_segment_asymmetry',
  'vesicle_pre_high_fraction',
  'vesicle_pre_log_voxels',
  'vesicle_post_log_voxels',
  'contact_log_area',
  'contact_coverage',
  'contact_cleft_p',
  'pre_window_share',
  'post_window_share',
  'pair_candidates',
  'pair_nearest_nm',
  'vesicle_pre_near_log_voxels',
  'vesicle_post_near_log_voxels',
] as const;

/** The near set: voxels within this distance of the candidate (box), where its two cells are, nm. */
export const NEAR_NM = 40;
/** The window around the candidate: vesicles inside each cell and the A|B contact are read within this, nm. */
export const WINDOW_NM = 200;
/** A segment counts as reaching the candidate with this share of its near voxels. */
const MIN_SHARE = 0.1;
/** Nearest-candidate distance when the pair has no other candidate, nm. */
const FAR_NM = 2000;

/** A dilation of a local mask by r voxels per axis (box structuring element), by running counts along each axis. */
function dilate(mask: Uint8Array, s: Vec3, r: Vec3): Uint8Array {
  let cur = mask;
  const stride = [1, s[0], s[0] * s[1]];
  for (let a = 0; a < 3; a++) {
    if (r[a] === 0) continue;
    const out = new Uint8Array(cur.length);
    const n = s[a], st = stride[a];
    const line = new Int32Array(n + 1);
    const others = cur.length / n;
    for (let o = 0; o < others; o++) {
      // base index of line o: enumerate the other two axes
      let base: number;
      if (a === 0) base = o * s[0];
      else if (a === 1) base = (o % s[0]) + Math.floor(o / s[0]) * s[0] * s[1];
      else base = o;
      for (let k = 0; k < n; k++) line[k + 1] = line[k] + cur[base + k * st];
      for (let k = 0; k < n; k++) {
        const lo = Math.max(0, k - r[a]), hi = Math.min(n, k + r[a] + 1);
        if (line[hi] - line[lo] > 0) out[base + k * st] = 1;
      }
    }
    cur = out;
  }
  return cur;
}

/**
 * Contact features (sample-major: row l - 1 holds object l's `CONTACT_FEATURE_NAMES.length` values)
 * of objects `obj` over maps of `shape` (probabilities in [0, 1]) and segment labels `seg`, voxel size `vs` nm.
 */
export function contactFeatures(obj: ObjectVoxels, maps: CleftFeatureMaps, seg: Uint32Array, shape: Vec3, vs: Vec3): Float32Array {
  const [X, Y, Z] = shape;
  const nVox = X * Y * Z;
  const { cleft, vesicle } = maps;
  if (seg.length !== nVox || cleft.length !== nVox || vesicle.length !== nVox) throw new UsageError(`contact features: a segmentation of ${seg.length} voxels and maps of ${cleft.length}, ${vesicle.length} for shape [${shape}]`);
  const F = CONTACT_FEATURE_NAMES.length;
  const out = new Float32Array(obj.count * F);
  const rN: Vec3 = [Math.ceil(NEAR_NM / vs[0]), Math.ceil(NEAR_NM / vs[1]), Math.ceil(NEAR_NM / vs[2])];
  const rW: Vec3 = [Math.ceil(WINDOW_NM / vs[0]), Math.ceil(WINDOW_NM / vs[1]), Math.ceil(WINDOW_NM / vs[2])];
  const pairOf = new Float64Array(obj.count * 2); // A, B labels
  const centre = new Float64Array(obj.count * 3); // nm
  const counts = new Map<number, number>();
  for (let l = 1; l <= obj.count; l++) {
    const s0 = obj.start[l], s1 = obj.start[l + 1];
    const n = s1 - s0;
    const f = out.subarray((l - 1) * F, l * F);
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    let cx = 0, cy = 0, cz = 0;
    for (let k = s0; k < s1; k++) {
      const i = obj.idx[k];
      const c = [i % X, Math.floor(i / X) % Y, Math.floor(i / (X * Y))];
      cx += c[0]; cy += c[1]; cz += c[2];
      for (let a = 0; a < 3; a++) {
        if (c[a] < lo[a]) lo[a] = c[a];
        if (c[a] > hi[a]) hi[a] = c[a];
      }
    }
    centre[3 * (l - 1)] = ((cx / n) + 0.5) * vs[0];
    centre[3 * (l - 1) + 1] = ((cy / n) + 0.5) * vs[1];
    centre[3 * (l - 1) + 2] = ((cz / n) + 0.5) * vs[2];
    // the near set: the candidate dilated by rN inside its bounding box grown by rN (clipped)
    const nlo = lo.map((v, a) => Math.max(0, v - rN[a]));
    const nhi = hi.map((v, a) => Math.min(shape[a] - 1, v + rN[a]));
    const ns: Vec3 = [nhi[0] - nlo[0] + 1, nhi[1] - nlo[1] + 1, nhi[2] - nlo[2] + 1];
    const m = new Uint8Array(ns[0] * ns[1] * ns[2]);
    for (let k = s0; k < s1; k++) {
      const i = obj.idx[k];
      m[(i % X) - nlo[0] + ns[0] * ((Math.floor(i / X) % Y) - nlo[1] + ns[1] * (Math.floor(i / (X * Y)) - nlo[2]))] = 1;
    }
    const near = dilate(m, ns, rN);
    counts.clear();
    let labelled = 0;
    for (let z = 0, j = 0; z < ns[2]; z++)
      for (let y = 0; y < ns[1]; y++) {
        let i = nlo[0] + X * (nlo[1] + y + Y * (nlo[2] + z));
        for (let x = 0; x < ns[0]; x++, j++, i++) {
          if (!near[j]) continue;
          const s = seg[i];
          if (!s) continue;
          labelled++;
          counts.set(s, (counts.get(s) ?? 0) + 1);
        }
      }
    let A = 0, B = 0, cA = 0, cB = 0, segCount = 0;
    for (const [s, c] of counts) {
      if (c >= MIN_SHARE * labelled) segCount++;
      if (c > cA || (c === cA && s < A)) {
        B = A; cB = cA; A = s; cA = c;
      } else if (c > cB || (c === cB && s < B)) {
        B = s; cB = c;
      }
    }
    pairOf[2 * (l - 1)] = Math.min(A, B);
    pairOf[2 * (l - 1) + 1] = Math.max(A, B);
    f[0] = segCount;
    f[1] = labelled ? (cA + cB) / labelled : 0;
    f[2] = cA ? cB / cA : 0;
    // on the A|B contact: both within 2 pixels in-plane and one section
    let onContact = 0;
    if (B) {
      const rx = Math.min(2, X - 1), ry = Math.min(2, Y - 1), rz = Math.min(1, Z - 1);
      for (let k = s0; k < s1; k++) {
        const i = obj.idx[k];
        const x = i % X, y = Math.floor(i / X) % Y, z = Math.floor(i / (X * Y));
        let hasA = false, hasB = false;
        for (let w = Math.max(0, z - rz); w <= Math.min(Z - 1, z + rz) && !(hasA && hasB); w++)
          for (let v = Math.max(0, y - ry); v <= Math.min(Y - 1, y + ry) && !(hasA && hasB); v++)
            for (let u = Math.max(0, x - rx); u <= Math.min(X - 1, x + rx); u++) {
              const s = seg[u + X * (v + Y * w)];
              if (s === A) hasA = true;
              else if (s === B) hasB = true;
            }
        if (hasA && hasB) onContact++;
      }
    }
    f[3] = onContact / n;
    // the window: vesicles inside A and B, the A|B contact, the window's share of each
    const wlo = lo.map((v, a) => Math.max(0, v - rW[a]));
    const whi = hi.map((v, a) => Math.min(shape[a] - 1, v + rW[a]));
    let vA = 0, nA = 0, hA = 0, vB = 0, nB = 0, hB = 0, win = 0;
    let contact = 0, contactNear = 0, contactP = 0, hnA = 0, hnB = 0;
    for (let z = wlo[2]; z <= whi[2]; z++)
      for (let y = wlo[1]; y <= whi[1]; y++) {
        let i = wlo[0] + X * (y + Y * z);
        for (let x = wlo[0]; x <= whi[0]; x++, i++) {
          win++;
          const s = seg[i];
          if (!B || (s !== A && s !== B)) continue;
          const v = vesicle[i];
          const other = s === A ? B : A;
          if (s === A) {
            vA += v; nA++;
            if (v >= 0.5) hA++;
          } else {
            vB += v; nB++;
            if (v >= 0.5) hB++;
          }
          const u = x - nlo[0], v2 = y - nlo[1], w = z - nlo[2];
          const isNear = u >= 0 && v2 >= 0 && w >= 0 && u < ns[0] && v2 < ns[1] && w < ns[2] && near[u + ns[0] * (v2 + ns[1] * w)] === 1;
          if (isNear && v >= 0.5) {
            if (s === A) hnA++;
            else hnB++;
          }
          // an interface voxel: the other cell one or two pixels away in-plane, or one section away
          if (
            (x > 0 && seg[i - 1] === other) || (x < X - 1 && seg[i + 1] === other) ||
            (y > 0 && seg[i - X] === other) || (y < Y - 1 && seg[i + X] === other) ||
            (z > 0 && seg[i - X * Y] === other) || (z < Z - 1 && seg[i + X * Y] === other) ||
            (x > 1 && seg[i - 2] === other) || (x < X - 2 && seg[i + 2] === other) ||
            (y > 1 && seg[i - 2 * X] === other) || (y < Y - 2 && seg[i + 2 * X] === other)
          ) {
            contact++;
            contactP += cleft[i];
            if (isNear) contactNear++;
          }
        }
      }
    const mA = nA ? vA / nA : 0, mB = nB ? vB / nB : 0;
    const preA = mA >= mB;
    f[4] = preA ? mA : mB;
    f[5] = preA ? mB : mA;
    f[6] = Math.abs(mA - mB);
    f[7] = preA ? (nA ? hA / nA : 0) : nB ? hB / nB : 0;
    f[8] = Math.log1p(preA ? hA : hB);
    f[9] = Math.log1p(preA ? hB : hA);
    f[10] = Math.log1p(contact);
    f[11] = contact ? contactNear / contact : 0;
    f[12] = contact ? contactP / contact : 0;
    f[13] = win ? (preA ? nA : nB) / win : 0;
    f[14] = win ? (preA ? nB : nA) / win : 0;
    f[17] = Math.log1p(preA ? hnA : hnB);
    f[18] = Math.log1p(preA ? hnB : hnA);
  }
  // other candidates on the same pair of segments
  const byPair = new Map<string, number[]>();
  for (let l = 0; l < obj.count; l++) {
    if (!pairOf[2 * l + 1]) continue;
    const key = `${pairOf[2 * l]}:${pairOf[2 * l + 1]}`;
    let g = byPair.get(key);
    if (!g) byPair.set(key, (g = []));
    g.push(l);
  }
  for (let l = 0; l < obj.count; l++) {
    const f = out.subarray(l * F, (l + 1) * F);
    f[15] = 0;
    f[16] = FAR_NM;
    if (!pairOf[2 * l + 1]) continue;
    const g = byPair.get(`${pairOf[2 * l]}:${pairOf[2 * l + 1]}`)!;
    f[15] = g.length - 1;
    for (const o of g) {
      if (o === l) continue;
      const d = Math.hypot(centre[3 * o] - centre[3 * l], centre[3 * o + 1] - centre[3 * l + 1], centre[3 * o + 2] - centre[3 * l + 2]);
      if (d < f[16]) f[16] = d;
    }
  }
  return out;
}
