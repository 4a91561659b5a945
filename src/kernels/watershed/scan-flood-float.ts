import type { Vec3 } from '../../core/box.js';
import { grow, MAXF, type PlateauBuffers, resolvePlateau, scanScratch, singleVoxelPlateauExit } from './scan-plateaus.js';

/**
 * floodScanReference with fewer costs per voxel, same labels (same tie rules): work buffers kept between calls
 * (scanScratch), a FIFO ring of n entries (never grows), voxel coordinates in the FIFO without integer
 * division, and no branch on whether a voxel's parent is labelled yet in the parent pass.
 */
export function floodScanFloat(values: Float32Array, shape: Vec3, labels: Uint32Array, useZ: boolean, prepared: boolean): void {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  const sxy = sx * sy;
  const INF = Infinity;
  const { C, dir, ring } = scanScratch(n);
  let f = values;
  // 1a. forward scan over the causal neighbours (-x, -y, -z); the -x cost is carried in a register
  for (let pass = 0; pass < 2; pass++) {
    let bad = false;
    for (let z = 0, i = 0; z < sz; z++) {
      const oz = useZ && z > 0 ? sxy : 0;
      for (let y = 0; y < sy; y++) {
        const oy = y > 0 ? sx : 0;
        const end = i + sx;
        let prev = INF;
        for (; i < end; i++) {
          const fv = f[i];
          if (!(fv < INF) && !prepared) bad = true;
          let g = labels[i] !== 0 ? fv : prev;
          if (oy !== 0) {
            const b = C[i - oy];
            if (b < g) g = b;
          }
          if (oz !== 0) {
            const c = C[i - oz];
            if (c < g) g = c;
          }
          if (g < fv) g = fv;
          C[i] = g;
          prev = g;
        }
      }
    }
    if (!bad) break;
    f = Float32Array.from(f, (v) => (v < MAXF ? v : MAXF));
  }
  // 1b. backward scan over the anti-causal neighbours; queue the voxels that can still lower one
  // dir: "in queue" during 1c, parent direction + 1 (plateaus, deferred voxels) in 2; ring: the FIFO
  // queue of 1c (a voxel is queued at most once at a time, so n entries never overflow), then the
  // deferred voxels of 2
  const cap = n;
  let qh = 0;
  let qn = 0;
  for (let z = sz - 1, i = n - 1; z >= 0; z--) {
    const oz = useZ && z + 1 < sz ? sxy : 0;
    for (let y = sy - 1; y >= 0; y--) {
      const oy = y + 1 < sy ? sx : 0;
      const end = i - sx;
      // the +x neighbour's cost and value are carried in registers; a missing neighbour costs
      // +Infinity (no effect on the min) and is never lowered
      let a = INF;
      let fa = INF;
      for (; i > end; i--) {
        const old = C[i];
        let g = old;
        if (a < g) g = a;
        const b = oy !== 0 ? C[i + oy] : INF;
        if (b < g) g = b;
        const c = oz !== 0 ? C[i + oz] : INF;
        if (c < g) g = c;
        const fv = f[i];
        if (g < fv) g = fv;
        C[i] = g;
        // Only a voxel this scan lowered can lower an anti-causal neighbour: the forward scan already
        // bounded each of them by max(its value, this voxel's cost then).
        if (g < old && ((a > g && a > fa) || (b > g && oy !== 0 && b > f[i + oy]) || (c > g && oz !== 0 && c > f[i + oz]))) {
          ring[qn++] = i;
          dir[i] = 1;
        }
        a = g;
        fa = fv;
      }
    }
  }
  // 1c. FIFO propagation until no cost can be lowered. Coordinates without integer division: the row
  // is floor((p + 0.5) / sx) (never within 0.5/sx of an integer, so the float product is exact enough),
  // z bounds are index bounds. Neighbours unrolled; the ring holds n entries, so it never overflows.
  const invSx = 1 / sx;
  const invSy = 1 / sy;
  const zOn = useZ;
  let tail = qn === cap ? 0 : qn;
  while (qn > 0) {
    const p = ring[qh];
    qh = qh + 1 === cap ? 0 : qh + 1;
    qn--;
    dir[p] = 0;
    const g = C[p];
    const row = Math.floor((p + 0.5) * invSx);
    const x = p - row * sx;
    const y = row - Math.floor((row + 0.5) * invSy) * sy;
    for (let k = 0; k < 6; k++) {
      let q: number;
      if (k === 0) { if (x === 0) continue; q = p - 1; }
      else if (k === 1) { if (x + 1 >= sx) continue; q = p + 1; }
      else if (k === 2) { if (y === 0) continue; q = p - sx; }
      else if (k === 3) { if (y + 1 >= sy) continue; q = p + sx; }
      else if (k === 4) { if (!zOn || p < sxy) continue; q = p - sxy; }
      else { if (!zOn || p + sxy >= n) continue; q = p + sxy; }
      const cq = C[q];
      if (cq <= g) continue;
      const fq = f[q];
      if (cq <= fq) continue;
      C[q] = g > fq ? g : fq;
      if (dir[q] !== 0) continue;
      dir[q] = 1;
      ring[tail] = q;
      tail = tail + 1 === cap ? 0 : tail + 1;
      qn++;
    }
  }
  // 2. labels along parent chains: a raster pass labels every voxel whose parent is already labelled
  // and records the parent direction of the others (deferred), which are then labelled in reverse
  // raster order by following the recorded directions.
  const offs = [-1, 1, -sx, sx, -sxy, sxy];
  const deferred = ring;
  let nd = 0;
  const bufs: PlateauBuffers = { members: new Int32Array(1 << 12), queue: new Int32Array(1 << 12), stack: new Int32Array(1 << 12) };
  for (let z = 0, i = 0; z < sz; z++) {
    const ozm = useZ && z > 0 ? sxy : 0;
    const ozp = useZ && z + 1 < sz ? sxy : 0;
    for (let y = 0; y < sy; y++) {
      const oym = y > 0 ? sx : 0;
      const oyp = y + 1 < sy ? sx : 0;
      for (let x = 0; x < sx; x++, i++) {
        if (labels[i] !== 0) continue;
        const c = C[i];
        if (c === INF) continue;
        let d = dir[i] - 1; // set for plateau voxels resolved earlier
        if (d < 0) {
          let m = c;
          let t = C[i - (x > 0 ? 1 : 0)];
          if (t < m) { m = t; d = 0; }
          t = C[i + (x + 1 < sx ? 1 : 0)];
          if (t < m) { m = t; d = 1; }
          t = C[i - oym];
          if (t < m) { m = t; d = 2; }
          t = C[i + oyp];
          if (t < m) { m = t; d = 3; }
          t = C[i - ozm];
          if (t < m) { m = t; d = 4; }
          if (C[i + ozp] < m) d = 5;
          if (d < 0) {
            d = singleVoxelPlateauExit(C, labels, i, x, y, z, sx, sy, sz, useZ);
            if (d < 0) {
              resolvePlateau(C, f, labels, dir, i, sx, sy, sz, useZ, bufs);
              d = dir[i] - 1;
            }
          }
        }
        // no branch on whether the parent is labelled yet (it is about half the time, unpredictably)
        const L = labels[i + offs[d]];
        labels[i] = L;
        dir[i] = d + 1;
        deferred[nd] = i;
        nd += L === 0 ? 1 : 0;
      }
    }
  }
  let path = new Int32Array(1 << 10);
  for (let k = nd - 1; k >= 0; k--) {
    let u = deferred[k];
    if (labels[u] !== 0) continue;
    let sp = 0;
    while (labels[u] === 0) {
      if (sp === path.length) path = grow(path);
      path[sp++] = u;
      u += offs[dir[u] - 1];
    }
    const L = labels[u];
    while (sp > 0) labels[path[--sp]] = L;
  }
}
