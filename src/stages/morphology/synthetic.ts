import type { Vec3 } from '../../core/box.js';
import { mulberry32 as rng } from '../../core/random.js';

/** A tube: polyline centre line (voxel coordinates, voxel centres at integers) and radius (voxels). */
export interface Tube {
  label: number;
  points: Vec3[];
  radius: number;
}

/**
 * Paint tubes into a label array of `shape` [x,y,z] (x fastest). Radii are in nm when `voxelSize`
 * is given (the tube is round in physical space), else voxels. Later tubes overwrite earlier ones.
 */
export function paintTubes(labels: Uint32Array, shape: Vec3, tubes: Tube[], voxelSize: Vec3 = [1, 1, 1]): void {
  const [sx, sy, sz] = shape;
  const [rx, ry, rz] = voxelSize;
  for (const t of tubes) {
    const r = t.radius;
    for (let s = 0; s + 1 < t.points.length; s++) {
      const a = t.points[s];
      const b = t.points[s + 1];
      const lo = [0, 1, 2].map((i) => Math.max(0, Math.floor(Math.min(a[i], b[i]) - r / voxelSize[i]) - 1));
      const hi = [0, 1, 2].map((i) => Math.min(shape[i] - 1, Math.ceil(Math.max(a[i], b[i]) + r / voxelSize[i]) + 1));
      const dx = (b[0] - a[0]) * rx, dy = (b[1] - a[1]) * ry, dz = (b[2] - a[2]) * rz;
      const len2 = dx * dx + dy * dy + dz * dz;
      for (let z = lo[2]; z <= hi[2]; z++)
        for (let y = lo[1]; y <= hi[1]; y++)
          for (let x = lo[0]; x <= hi[0]; x++) {
            const px = (x - a[0]) * rx, py = (y - a[1]) * ry, pz = (z - a[2]) * rz;
            let u = len2 > 0 ? (px * dx + py * dy + pz * dz) / len2 : 0;
            u = Math.max(0, Math.min(1, u));
            const qx = px - u * dx, qy = py - u * dy, qz = pz - u * dz;
            if (qx * qx + qy * qy + qz * qz <= r * r) labels[x + sx * (y + sy * z)] = t.label;
          }
    }
  }
  void sz;
}

/**
 * Random smooth tubes (neurite-like) crossing a volume: each a random walk with momentum.
 * Returns the tubes (centre lines in voxels, radius in nm units of voxelSize).
 */
export function randomTubes(shape: Vec3, count: number, opts: { seed?: number; radius?: [number, number]; step?: number; voxelSize?: Vec3; firstLabel?: number } = {}): Tube[] {
  const rand = rng(opts.seed ?? 1);
  const [r0, r1] = opts.radius ?? [2, 5];
  const vs = opts.voxelSize ?? [1, 1, 1];
  const step = opts.step ?? 4;
  const tubes: Tube[] = [];
  for (let k = 0; k < count; k++) {
    const p: [number, number, number] = [rand() * (shape[0] - 1), rand() * (shape[1] - 1), rand() * (shape[2] - 1)];
    let d = [rand() - 0.5, rand() - 0.5, rand() - 0.5];
    const points: Vec3[] = [[p[0], p[1], p[2]]];
    for (let s = 0; s < 400; s++) {
      d = d.map((v) => v + (rand() - 0.5) * 0.6);
      // step length in nm-ish: scale each axis by 1/voxel size so tubes are isotropic physically
      const n = Math.hypot(d[0] * vs[0], d[1] * vs[1], d[2] * vs[2]) || 1;
      const m = Math.min(vs[0], vs[1], vs[2]) * step;
      for (let i = 0; i < 3; i++) p[i] += (d[i] * m) / n;
      if (p.some((v, i) => v < 0 || v > shape[i] - 1)) break;
      points.push([p[0], p[1], p[2]]);
    }
    tubes.push({ label: (opts.firstLabel ?? 1) + k, points, radius: (r0 + rand() * (r1 - r0)) * Math.min(vs[0], vs[1], vs[2]) });
  }
  return tubes;
}
