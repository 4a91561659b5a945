import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { type ObjectVoxels, objectGeometry } from './cleft-features.js';

/**
 * Object-level features of candidate objects of any class map (components of its probability map),
 * read from that class's map and the other class maps of the same pixel model: the generic object
 * filter's features (object-filter.ts), the same on out-of-fold maps (training) and predicted maps.
 *
 * From the object's own map: size, mean / peak p, fraction of voxels >= 0.7, its extents along its
 * three principal axes (nm) and flatness, how much its normal points along z, sections spanned, the
 * map's mean in the object's plane beside it and the contrast to it. From each context map (another
 * class: membrane, glia, mitochondria, cytoplasm, ...): its mean inside the object, around it (within
 * CONTEXT_NM of the object's plane and its lateral reach, object voxels excluded), and on the
 * stronger and the weaker side of the plane (a cleft has a membrane through it and a presynaptic
 * side; a mitochondrion sits in cytoplasm, a dark blob in glia does not).
 */
export const OBJECT_SHAPE_FEATURES = [
  'log_size',
  'mean_p',
  'peak_p',
  'high_p_fraction',
  'length_nm',
  'width_nm',
  'thickness_nm',
  'flatness',
  'normal_z',
  'sections',
  'p_around',
  'p_contrast',
] as const;

/** Per context map: mean inside, around, on the stronger side, on the weaker side. */
const CONTEXT_STATS = ['inside', 'around', 'strong_side', 'weak_side'] as const;

/** Feature names for context maps named `context` (e.g. the model's output names), in order. */
export function objectFeatureNames(context: readonly string[]): string[] {
  return [...OBJECT_SHAPE_FEATURES, ...context.flatMap((c) => CONTEXT_STATS.map((s) => `${c}_${s}`))];
}

/** How far from the object's plane (and beyond its lateral reach) the context is read, nm. */
export const OBJECT_CONTEXT_NM = 200;
/** Voxels closer than this to the plane belong to the object's band, not to a side, nm. */
const BAND_NM = 16;

/**
 * Features (sample-major: row l - 1 holds object l's values, `objectFeatureNames(context).length`
 * of them) of objects 1..count of `labels` (their voxels `obj`, objectVoxels) over `map` (the
 * objects' class, probabilities in [0, 1]) and the `context` maps of the same shape; voxel size `vs` nm.
 */
export function objectFeatures(labels: Uint32Array, obj: ObjectVoxels, map: Float32Array, context: Float32Array[], shape: Vec3, vs: Vec3): Float32Array {
  const nVox = shape[0] * shape[1] * shape[2];
  if ([map, labels, ...context].some((m) => m.length !== nVox)) throw new UsageError(`object features: every map must hold ${nVox} voxels for shape [${shape}]`);
  const S = OBJECT_SHAPE_FEATURES.length, C = context.length, F = S + 4 * C;
  const out = new Float32Array(obj.count * F);
  const [X, Y, Z] = shape;
  const r: Vec3 = [Math.ceil(OBJECT_CONTEXT_NM / vs[0]), Math.ceil(OBJECT_CONTEXT_NM / vs[1]), Math.ceil(OBJECT_CONTEXT_NM / vs[2])];
  const inside = new Float64Array(C), around = new Float64Array(C), pos = new Float64Array(C), neg = new Float64Array(C);
  for (let l = 1; l <= obj.count; l++) {
    const s0 = obj.start[l], s1 = obj.start[l + 1];
    const n = s1 - s0;
    let sp = 0, pk = 0, hi7 = 0;
    inside.fill(0);
    for (let k = s0; k < s1; k++) {
      const i = obj.idx[k];
      const p = map[i];
      sp += p;
      if (p > pk) pk = p;
      if (p >= 0.7) hi7++;
      for (let c = 0; c < C; c++) inside[c] += context[c][i];
    }
    const { mean: [mx, my, mz], lo, hi, values, normal: nrm } = objectGeometry(obj, l, shape, vs);
    const ext = values.map((v) => Math.sqrt(Math.max(0, v)));
    // the neighbourhood: within OBJECT_CONTEXT_NM of the plane through the centroid (normal: the
    // smallest principal axis) and within the object's lateral reach (2 sd along its length, plus a
    // voxel) plus OBJECT_CONTEXT_NM / 2; the band |s| < BAND_NM beside the object is its plane
    const c0 = [mx * vs[0], my * vs[1], mz * vs[2]];
    const reach = 2 * ext[0] + vs[0] + OBJECT_CONTEXT_NM / 2;
    const reach2 = reach * reach;
    around.fill(0); pos.fill(0); neg.fill(0);
    let nAround = 0, nPos = 0, nNeg = 0, band = 0, nBand = 0;
    const z0 = Math.max(0, lo[2] - r[2]), z1 = Math.min(Z - 1, hi[2] + r[2]);
    const y0 = Math.max(0, lo[1] - r[1]), y1 = Math.min(Y - 1, hi[1] + r[1]);
    const x0 = Math.max(0, lo[0] - r[0]), x1 = Math.min(X - 1, hi[0] + r[0]);
    for (let z = z0; z <= z1; z++) {
      const dz = z * vs[2] - c0[2];
      for (let y = y0; y <= y1; y++) {
        const dy = y * vs[1] - c0[1];
        let i = x0 + X * (y + Y * z);
        for (let x = x0; x <= x1; x++, i++) {
          if (labels[i] === l) continue;
          const dx = x * vs[0] - c0[0];
          const s = dx * nrm[0] + dy * nrm[1] + dz * nrm[2];
          if (Math.abs(s) > OBJECT_CONTEXT_NM + ext[2]) continue;
          if (dx * dx + dy * dy + dz * dz - s * s > reach2) continue;
          nAround++;
          for (let c = 0; c < C; c++) around[c] += context[c][i];
          if (Math.abs(s) < BAND_NM) {
            band += map[i];
            nBand++;
          } else if (s > 0) {
            nPos++;
            for (let c = 0; c < C; c++) pos[c] += context[c][i];
          } else {
            nNeg++;
            for (let c = 0; c < C; c++) neg[c] += context[c][i];
          }
        }
      }
    }
    const f = out.subarray((l - 1) * F, l * F);
    const bandMean = nBand ? band / nBand : 0;
    f[0] = Math.log(n);
    f[1] = sp / n;
    f[2] = pk;
    f[3] = hi7 / n;
    f[4] = ext[0];
    f[5] = ext[1];
    f[6] = ext[2];
    f[7] = ext[2] / (ext[1] || 1);
    f[8] = Math.abs(nrm[2]);
    f[9] = hi[2] - lo[2] + 1;
    f[10] = bandMean;
    f[11] = sp / n - bandMean;
    for (let c = 0; c < C; c++) {
      const a = nPos ? pos[c] / nPos : 0, b = nNeg ? neg[c] / nNeg : 0;
      f[S + 4 * c] = inside[c] / n;
      f[S + 4 * c + 1] = nAround ? around[c] / nAround : 0;
      f[S + 4 * c + 2] = Math.max(a, b);
      f[S + 4 * c + 3] = Math.min(a, b);
    }
  }
  return out;
}
