import type { Vec3 } from '../../core/box.js';
import { grow, MAXF, type PlateauBuffers, resolvePlateau, singleVoxelPlateauExit } from './scan-plateaus.js';

/**
 * Seeded watershed by raster scans instead of a priority queue (the priority queue visits voxels in
 * value order, scattered over the volume, and is memory-bound). Same basins as the priority flood,
 * up to ties:
 *  1. cost C(v) = min over paths from a seed to v of the max value along the path (a seed's cost is
 *     its own value) — the water level at which the priority flood reaches v. Computed as a grey
 *     reconstruction by erosion with Vincent's (1993) hybrid algorithm: one forward and one backward
 *     raster scan, then a FIFO queue for the voxels the scans left too high (paths turning back).
 *  2. every reached unlabelled voxel takes the label of its neighbour of lowest cost when that is
 *     strictly below its own (the priority flood labels v from the neighbour it pops first, i.e. the
 *     one of lowest cost); voxels without one (plateaus of C: dips below a pass, equal costs) point
 *     breadth-first to the plateau's exits. Labels follow these parent chains, in raster order (a
 *     parent before v in raster order is already labelled; others are chased forward).
 * Voxels no seed reaches keep label 0. With `prepared`, +Infinity in `values` marks voxels never to
 * reach (the mask); without, NaN and +Infinity values are flooded as the largest float.
 */
export function floodScanReference(values: Float32Array, shape: Vec3, labels: Uint32Array, useZ: boolean, prepared: boolean): void {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  const sxy = sx * sy;
  const INF = Infinity;
  const C = new Float32Array(n);
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
  const dir = new Uint8Array(n); // "in queue" during 1c, parent direction + 1 (plateaus) in 2
  let cap = 1 << 16;
  let ring = new Int32Array(cap);
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
          if (qn === cap) ring = grow(ring);
          cap = ring.length;
          ring[qn++] = i;
          dir[i] = 1;
        }
        a = g;
        fa = fv;
      }
    }
  }
  // 1c. FIFO propagation until no cost can be lowered
  while (qn > 0) {
    const p = ring[qh];
    qh = qh + 1 === cap ? 0 : qh + 1;
    qn--;
    dir[p] = 0;
    const g = C[p];
    const x = p % sx;
    const t = (p - x) / sx;
    const y = t % sy;
    const z = (t - y) / sy;
    for (let k = 0; k < 6; k++) {
      let q: number;
      if (k === 0) { if (x === 0) continue; q = p - 1; }
      else if (k === 1) { if (x + 1 >= sx) continue; q = p + 1; }
      else if (k === 2) { if (y === 0) continue; q = p - sx; }
      else if (k === 3) { if (y + 1 >= sy) continue; q = p + sx; }
      else if (k === 4) { if (!useZ || z === 0) continue; q = p - sxy; }
      else { if (!useZ || z + 1 >= sz) continue; q = p + sxy; }
      const cq = C[q];
      if (cq <= g) continue;
      const fq = f[q];
      if (cq <= fq) continue;
      C[q] = g > fq ? g : fq;
      if (dir[q] !== 0) continue;
      dir[q] = 1;
      if (qn === cap) {
        const r = new Int32Array(cap * 2);
        for (let m = 0; m < qn; m++) r[m] = ring[(qh + m) % cap];
        ring = r;
        qh = 0;
        cap = r.length;
      }
      const tail = qh + qn;
      ring[tail < cap ? tail : tail - cap] = q;
      qn++;
    }
  }
  // 2. labels along parent chains: a raster pass labels every voxel whose parent is already labelled
  // and records the parent direction of the others (deferred), which are then labelled in reverse
  // raster order by following the recorded directions.
  const offs = [-1, 1, -sx, sx, -sxy, sxy];
  let deferred = ring.length >= n >> 1 ? ring : new Int32Array(n >> 1);
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
        const L = labels[i + offs[d]];
        if (L !== 0) labels[i] = L;
        else {
          dir[i] = d + 1;
          if (nd === deferred.length) deferred = grow(deferred);
          deferred[nd++] = i;
        }
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
