import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { symmetricEigen } from './eigen3.js';

/**
 * Object-level features of candidate cleft objects (components of a cleft probability map), from
 * the cleft and vesicle-cloud probability maps only, so they are computed the same way on a pixel
 * model's out-of-fold maps (training) and on any predicted map (`wiring synapses`).
 *
 * Per object: its size; mean and peak cleft probability; its extent along the three principal axes
 * of its voxels (nm; the smallest is its thickness) and flatness; how much its normal points along z;
 * the sections it spans; the vesicle-cloud probability on each side of its plane within
 * `CONTEXT_NM` (a cleft has a vesicle cloud on one side: the stronger side's mean, the weaker's, their
 * difference and the stronger side's fraction of voxels >= 0.5) and within `NEAR_NM` of the plane
 * on each side (where the vesicles dock); the fraction of its voxels with p >= 0.7; the cleft probability around it
 * (a cleft is a bright sheet on a dark background, a false one often a brighter patch of a membrane
 * that is bright all along).
 */
export const CLEFT_FEATURE_NAMES = [
  'log_size',
  'mean_p',
  'peak_p',
  'length_nm',
  'width_nm',
  'thickness_nm',
  'flatness',
  'normal_z',
  'sections',
  'vesicle_strong_side',
  'vesicle_weak_side',
  'vesicle_asymmetry',
  'vesicle_strong_fraction',
  'cleft_p_around',
  'cleft_p_contrast',
  'high_p_fraction',
  'vesicle_near_strong_side',
  'vesicle_near_weak_side',
] as const;

/** The near sides: BAND_NM to this far from the plane, where a presynaptic cloud's vesicles dock, nm. */
const NEAR_NM = 100;


/** How far from the object's plane the vesicle clouds are looked for, nm. */
export const CONTEXT_NM = 200;
/** Voxels closer than this to the plane belong to the cleft band itself, not to a side, nm. */
const BAND_NM = 16;

/** Voxels of labelled objects 1..count as CSR (object l: idx[start[l] .. start[l+1]), memory order). */
export interface ObjectVoxels {
  count: number;
  start: Int32Array;
  idx: Int32Array;
}

export function objectVoxels(labels: Uint32Array, count: number): ObjectVoxels {
  const start = new Int32Array(count + 2);
  for (let i = 0; i < labels.length; i++) if (labels[i]) start[labels[i] + 1]++;
  for (let l = 1; l <= count + 1; l++) start[l] += start[l - 1];
  const fill = start.slice();
  const idx = new Int32Array(start[count + 1]);
  for (let i = 0; i < labels.length; i++) if (labels[i]) idx[fill[labels[i]]++] = i;
  return { count, start, idx };
}

export { symmetricEigen };

/**
 * Where object l of `obj` lies and how it spreads: the centroid (voxel units), the bounding box
 * (inclusive, voxels) and the principal spreads (nm^2, descending) with the smallest axis (the
 * normal of a flat object). A voxel is a box, not a point: its own spread (v^2 / 12 per axis)
 * keeps one-voxel-thick objects' extent finite.
 */
export function objectGeometry(obj: ObjectVoxels, l: number, shape: Vec3, vs: Vec3): { mean: Vec3; lo: number[]; hi: number[]; values: Vec3; normal: Vec3 } {
  const [X, Y] = shape;
  const s0 = obj.start[l], s1 = obj.start[l + 1];
  const n = s1 - s0;
  let mx = 0, my = 0, mz = 0;
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (let k = s0; k < s1; k++) {
    const i = obj.idx[k];
    const x = i % X, y = Math.floor(i / X) % Y, z = Math.floor(i / (X * Y));
    mx += x; my += y; mz += z;
    if (x < lo[0]) lo[0] = x;
    if (y < lo[1]) lo[1] = y;
    if (z < lo[2]) lo[2] = z;
    if (x > hi[0]) hi[0] = x;
    if (y > hi[1]) hi[1] = y;
    if (z > hi[2]) hi[2] = z;
  }
  mx /= n; my /= n; mz /= n;
  const m = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (let k = s0; k < s1; k++) {
    const i = obj.idx[k];
    const d = [((i % X) - mx) * vs[0], ((Math.floor(i / X) % Y) - my) * vs[1], (Math.floor(i / (X * Y)) - mz) * vs[2]];
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) m[3 * a + b] += (d[a] * d[b]) / n;
  }
  for (let a = 0; a < 3; a++) m[4 * a] += (vs[a] * vs[a]) / 12;
  const { values, smallest } = symmetricEigen(m);
  return { mean: [mx, my, mz], lo, hi, values, normal: smallest };
}

/** The class maps the features read (probabilities in [0, 1], one value per voxel). */
export interface CleftFeatureMaps {
  cleft: Float32Array;
  vesicle: Float32Array;
}

/**
 * Features (sample-major: row l - 1 holds object l's `CLEFT_FEATURE_NAMES.length` values) of the
 * objects `labels` (1..count, 0 background; `obj` their voxels, `objectVoxels`) over maps of `shape` (probabilities in [0, 1], voxel size `vs` nm).
 */
export function cleftFeatures(labels: Uint32Array, obj: ObjectVoxels, maps: CleftFeatureMaps, shape: Vec3, vs: Vec3): Float32Array {
  const nVox = shape[0] * shape[1] * shape[2];
  const { cleft, vesicle } = maps;
  if ([cleft, vesicle, labels].some((m) => m.length !== nVox)) throw new UsageError(`cleft features: maps of ${cleft.length} and ${vesicle.length} voxels for shape [${shape}]`);
  const F = CLEFT_FEATURE_NAMES.length;
  const out = new Float32Array(obj.count * F);
  const [X, Y, Z] = shape;
  const r: Vec3 = [Math.ceil(CONTEXT_NM / vs[0]), Math.ceil(CONTEXT_NM / vs[1]), Math.ceil(CONTEXT_NM / vs[2])];
  for (let l = 1; l <= obj.count; l++) {
    const s0 = obj.start[l], s1 = obj.start[l + 1];
    const n = s1 - s0;
    let sp = 0, pk = 0;
    for (let k = s0; k < s1; k++) {
      const i = obj.idx[k];
      sp += cleft[i];
      if (cleft[i] > pk) pk = cleft[i];
    }
    const { mean: [mx, my, mz], lo, hi, values, normal: nrm } = objectGeometry(obj, l, shape, vs);
    const ext = values.map((v) => Math.sqrt(Math.max(0, v)));
    // sides of the plane through the centroid: vesicle probability within CONTEXT_NM of the plane and
    // within the object's lateral reach (2 sd of its spread along its length, about its radius, plus
    // a voxel) of the centroid; the band around it in its plane reaches CONTEXT_NM / 2 further
    const c = [mx * vs[0], my * vs[1], mz * vs[2]];
    const reach = 2 * ext[0] + vs[0];
    const lat2 = reach * reach, band2 = (reach + CONTEXT_NM / 2) ** 2;
    let vPos = 0, nPos = 0, hPos = 0, vNeg = 0, nNeg = 0, hNeg = 0, around = 0, nAround = 0;
    let nvPos = 0, nnPos = 0, nvNeg = 0, nnNeg = 0;
    const z0 = Math.max(0, lo[2] - r[2]), z1 = Math.min(Z - 1, hi[2] + r[2]);
    const y0 = Math.max(0, lo[1] - r[1]), y1 = Math.min(Y - 1, hi[1] + r[1]);
    const x0 = Math.max(0, lo[0] - r[0]), x1 = Math.min(X - 1, hi[0] + r[0]);
    for (let z = z0; z <= z1; z++) {
      const dz = z * vs[2] - c[2];
      for (let y = y0; y <= y1; y++) {
        const dy = y * vs[1] - c[1];
        let i = x0 + X * (y + Y * z);
        for (let x = x0; x <= x1; x++, i++) {
          const dx = x * vs[0] - c[0];
          const s = dx * nrm[0] + dy * nrm[1] + dz * nrm[2];
          const as = Math.abs(s);
          if (as > CONTEXT_NM) continue;
          const lat = dx * dx + dy * dy + dz * dz - s * s;
          if (lat > band2) continue;
          if (as < BAND_NM) {
            // the band of the object's plane beside it: the cleft probability around the object
            if (labels[i] !== l) {
              around += cleft[i];
              nAround++;
            }
            continue;
          }
          if (lat > lat2) continue;
          const v = vesicle[i];
          if (as <= NEAR_NM) {
            if (s > 0) {
              nvPos += v;
              nnPos++;
            } else {
              nvNeg += v;
              nnNeg++;
            }
          }
          if (s > 0) {
            vPos += v; nPos++;
            if (v >= 0.5) hPos++;
          } else {
            vNeg += v; nNeg++;
            if (v >= 0.5) hNeg++;
          }
        }
      }
    }
    const mPos = nPos ? vPos / nPos : 0, mNeg = nNeg ? vNeg / nNeg : 0;
    const strongPos = mPos >= mNeg;
    const aroundMean = nAround ? around / nAround : 0;
    const f = out.subarray((l - 1) * F, l * F);
    f[0] = Math.log(n);
    f[1] = sp / n;
    f[2] = pk;
    f[3] = ext[0];
    f[4] = ext[1];
    f[5] = ext[2];
    f[6] = ext[2] / (ext[1] || 1);
    f[7] = Math.abs(nrm[2]);
    f[8] = hi[2] - lo[2] + 1;
    f[9] = strongPos ? mPos : mNeg;
    f[10] = strongPos ? mNeg : mPos;
    f[11] = Math.abs(mPos - mNeg);
    f[12] = strongPos ? (nPos ? hPos / nPos : 0) : nNeg ? hNeg / nNeg : 0;
    f[13] = aroundMean;
    f[14] = sp / n - aroundMean;
    let hi7 = 0;
    for (let k = s0; k < s1; k++) if (cleft[obj.idx[k]] >= 0.7) hi7++;
    f[15] = hi7 / n;
    const nearPos = nnPos ? nvPos / nnPos : 0, nearNeg = nnNeg ? nvNeg / nnNeg : 0;
    f[16] = strongPos ? nearPos : nearNeg;
    f[17] = strongPos ? nearNeg : nearPos;
  }
  return out;
}
