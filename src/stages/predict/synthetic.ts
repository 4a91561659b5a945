/**
 * A small synthetic EM-like volume for tests: Voronoi cells (ids 1..n) separated by dark,
 * blurred membranes, plus noise. Deterministic from the seed.
 */
import type { Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { gaussianFilter } from '../../kernels/filters.js';
import { makeRng } from '../../ml/forest.js';

export function syntheticEm(shape: Vec3, opts: { cells?: number; seed?: number; voxelSize?: Vec3; noise?: number } = {}): { raw: Volume<'uint8'>; seg: Volume<'uint32'> } {
  const [sx, sy, sz] = shape;
  const rng = makeRng(opts.seed ?? 1, 7);
  const u = (): number => rng() / 2 ** 32;
  const nc = opts.cells ?? 12;
  const vs = opts.voxelSize ?? [1, 1, 1];
  const cx = Array.from({ length: nc }, () => [u() * sx, u() * sy, u() * sz]);
  const seg = Volume.zeros('uint32', shape, { voxelSize: vs });
  const n = sx * sy * sz;
  const img = new Float32Array(n);
  for (let z = 0, i = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++, i++) {
        let b1 = Infinity, b2 = Infinity, id = 0;
        for (let c = 0; c < nc; c++) {
          const dx = (x - cx[c][0]) * vs[0], dy = (y - cx[c][1]) * vs[1], dz = (z - cx[c][2]) * vs[2];
          const d = Math.sqrt(dx * dx + dy * dy + dz * dz);
          if (d < b1) { b2 = b1; b1 = d; id = c + 1; } else if (d < b2) b2 = d;
        }
        seg.data[i] = id;
        img[i] = b2 - b1 < 1.5 * vs[0] ? 60 : 170 + 20 * Math.sin(x / 2 + y / 3);
      }
  const sm = gaussianFilter(img, shape, [0.8, 0.8, vs[2] > 2 * vs[0] ? 0 : 0.8]);
  const raw = Volume.zeros('uint8', shape, { voxelSize: vs });
  const noise = opts.noise ?? 25;
  for (let i = 0; i < n; i++) raw.data[i] = Math.max(0, Math.min(255, Math.round(sm[i] + (u() - 0.5) * 2 * noise)));
  return { raw, seg };
}
