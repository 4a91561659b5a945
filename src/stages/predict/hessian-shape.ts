/**
 * 'HoGR' features (opt-in, `--features ...,HoGR`): the shape of the Hessian of Gaussian at each
 * scale, independent of contrast: blob vs ridge. From the eigenvalues e (descending) and
 * S = sum |e| + HOGR_EPS:
 *   HoGR0 = (e_first - e_last) / S   ~1 on a ridge or sheet (one strong curvature: membranes),
 *                                    ~0 on a blob (all curvatures alike: dark organelles, vesicles);
 *   HoGR1 = sum e / S                the sign of the mean curvature (+1 dark, -1 bright structure).
 * The forest sees HoGE's eigenvalues themselves; these ratios are what an axis-aligned split of two
 * eigenvalues cannot express at every contrast (docs/ACCURACY.md "Blob vs ridge features").
 */

/** Added to the eigenvalues' absolute sum (intensity units / voxel^2) so flat regions give 0, not noise. */
export const HOGR_EPS = 1e-3;

/** HoGR0 and HoGR1 (see above) from eigenvalues in descending order (two in 2-D, three in 3-D). */
export function hessianShape(eig: Float32Array[], r0: Float32Array, r1: Float32Array): void {
  const first = eig[0], last = eig[eig.length - 1];
  const k = eig.length;
  for (let i = 0; i < r0.length; i++) {
    let sum = 0, abs = 0;
    for (let j = 0; j < k; j++) {
      const e = eig[j][i];
      sum += e;
      abs += Math.abs(e);
    }
    const s = abs + HOGR_EPS;
    r0[i] = (first[i] - last[i]) / s;
    r1[i] = sum / s;
  }
}
