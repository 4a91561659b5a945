/**
 * 'LINE' features (opt-in, `--features ...,LINE`; 2-D features only): oriented elongated line
 * filters (src/kernels/oriented-line.ts) at each pixel scale s: the second derivative across an
 * anisotropic Gaussian of sigma s across and LINE_FILTER_DEFAULTS.elongation * s along, at
 * LINE_FILTER_DEFAULTS.orientations orientations. Channels per scale:
 *   LINE0  max over orientations        evidence for a dark line, integrated along it (faint membranes)
 *   LINE1  min over orientations        a round dark blob (organelle) is high here too, a line is not
 *   LINE2  max - min                    line-ness, which an axis-aligned split of LINE0 and LINE1 cannot express
 * Exact (FIR) filters at every scale (no recursive filters), blockwise-exact with `lineMargin`.
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { LINE_FILTER_DEFAULTS, lineFilter2d, lineFilterMargin } from '../../kernels/oriented-line.js';

/** Channels of the LINE family per scale. */
export const LINE_CHANNELS = 3;

/** Context (pixels, per side) the LINE family needs at per-axis sigmas sg. */
export function lineMargin(sg: Vec3, truncate: number): Vec3 {
  const o = { ...LINE_FILTER_DEFAULTS, truncate };
  return [lineFilterMargin(sg[0], o), lineFilterMargin(sg[1], o), 0];
}

/** Refuse configurations the LINE family cannot serve (3-D features, x and y scales unequal). */
export function checkLineConfig(dims: number, anisotropy: Vec3): void {
  if (dims !== 2) throw new UsageError('features: LINE (oriented line filters) is 2-D only; this volume gets 3-D features (use --dims 2 for per-section features)');
  if (Math.abs(anisotropy[0] - anisotropy[1]) > 1e-6 * Math.max(anisotropy[0], anisotropy[1])) {
    throw new UsageError(`features: LINE (oriented line filters) needs equal x and y voxel sizes; the anisotropy is [${anisotropy.slice(0, 2).join(', ')}]`);
  }
}

/**
 * The LINE channels at per-axis sigma sg[0] of every pixel of the region (min, max: [x, y, z] box of the
 * block `shape`), each section of the block filtered on its own: out[c] receives channel c (region order,
 * x fastest).
 */
export function lineFeatures(raw: Float32Array, shape: Vec3, sigma: number, truncate: number, mode: 'reflect' | 'mirror' | 'nearest' | 'constant',
  min: Vec3, max: Vec3, out: [Float32Array, Float32Array, Float32Array]): void {
  const [nx, ny] = shape;
  const XY = nx * ny;
  const per = (max[0] - min[0]) * (max[1] - min[1]);
  const o = { ...LINE_FILTER_DEFAULTS, truncate, mode };
  for (let z = min[2]; z < max[2]; z++) {
    const r = lineFilter2d(raw.subarray(z * XY, (z + 1) * XY), nx, ny, sigma, { x0: min[0], x1: max[0], y0: min[1], y1: max[1] }, o);
    const base = (z - min[2]) * per;
    out[0].set(r.max, base);
    out[1].set(r.min, base);
    const d = out[2];
    for (let i = 0; i < per; i++) d[base + i] = r.max[i] - r.min[i];
  }
}
