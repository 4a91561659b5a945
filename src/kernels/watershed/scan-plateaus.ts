/**
 * What the three scan floods share: the plateau resolution of their parent pass (a voxel with no
 * strictly lower neighbour points breadth-first to its plateau's exits), work buffers, MAXF.
 */
import type { Vec3 } from '../../core/box.js';

/** The largest float32: NaN and +Infinity values are flooded as this value (+Infinity in floodScanReference's input means "never reached"). */
export const MAXF = 3.4028234663852886e38;

/** A copy of an Int32Array twice as long (growing work buffers; rare, not per voxel). */
export function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** k of the neighbour (in [-x, +x, -y, +y, -z, +z] order, first on ties) with the lowest cost strictly below C[i], or -1. */
export function lowerNeighbour(C: Float32Array, i: number, x: number, y: number, z: number, sx: number, sy: number, sz: number, useZ: boolean): number {
  const sxy = sx * sy;
  let m = C[i];
  let k = -1;
  let t: number;
  if (x > 0 && (t = C[i - 1]) < m) { m = t; k = 0; }
  if (x + 1 < sx && (t = C[i + 1]) < m) { m = t; k = 1; }
  if (y > 0 && (t = C[i - sx]) < m) { m = t; k = 2; }
  if (y + 1 < sy && (t = C[i + sx]) < m) { m = t; k = 3; }
  if (useZ) {
    if (z > 0 && (t = C[i - sxy]) < m) { m = t; k = 4; }
    if (z + 1 < sz && C[i + sxy] < m) k = 5;
  }
  return k;
}

/**
 * For a plateau voxel i (no strictly lower neighbour): k of its first neighbour of the same cost that
 * is an exit (labelled, or with a strictly lower neighbour) if every neighbour of the same cost is an
 * exit (i is a plateau of one voxel, the common case: a dip of one voxel), else -1 (a larger plateau:
 * resolvePlateau).
 */
export function singleVoxelPlateauExit(C: Float32Array, labels: Uint32Array, i: number, x: number, y: number, z: number, sx: number, sy: number, sz: number, useZ: boolean): number {
  const sxy = sx * sy;
  const c = C[i];
  let exit = -1;
  for (let k = 0; k < 6; k++) {
    let q: number;
    let qx = x;
    let qy = y;
    let qz = z;
    if (k === 0) { if (x === 0) continue; q = i - 1; qx--; }
    else if (k === 1) { if (x + 1 >= sx) continue; q = i + 1; qx++; }
    else if (k === 2) { if (y === 0) continue; q = i - sx; qy--; }
    else if (k === 3) { if (y + 1 >= sy) continue; q = i + sx; qy++; }
    else if (k === 4) { if (!useZ || z === 0) continue; q = i - sxy; qz--; }
    else { if (!useZ || z + 1 >= sz) continue; q = i + sxy; qz++; }
    if (C[q] !== c) continue;
    if (labels[q] !== 0 || lowerNeighbour(C, q, qx, qy, qz, sx, sy, sz, useZ) >= 0) {
      if (exit < 0) exit = k;
    } else return -1;
  }
  return exit;
}

/** Work buffers of resolvePlateau, grown as needed. */
export interface PlateauBuffers { members: Int32Array; queue: Int32Array; stack: Int32Array }

/**
 * Parents for the whole plateau (connected unlabelled voxels of equal cost with no strictly lower
 * neighbour) containing u: breadth-first from the plateau voxels that touch a voxel of the same cost
 * with a way down, so every plateau voxel points one step closer to an exit. dir = parent k + 1.
 */
export function resolvePlateau(C: Float32Array, f: Float32Array, labels: Uint32Array, dir: Uint8Array, u: number, sx: number, sy: number, sz: number, useZ: boolean, bufs: PlateauBuffers): void {
  const sxy = sx * sy;
  const c = C[u];
  let members = bufs.members;
  let nm = 0;
  members[nm++] = u;
  dir[u] = 7; // 7 = plateau member without a parent yet; 8 + k = exit through neighbour k
  for (let s = 0; s < nm; s++) {
    const p = members[s];
    const x = p % sx;
    const t = (p - x) / sx;
    const y = t % sy;
    const z = (t - y) / sy;
    let exit = -1;
    for (let k = 0; k < 6; k++) {
      let q: number;
      let qx = x;
      let qy = y;
      let qz = z;
      if (k === 0) { if (x === 0) continue; q = p - 1; qx--; }
      else if (k === 1) { if (x + 1 >= sx) continue; q = p + 1; qx++; }
      else if (k === 2) { if (y === 0) continue; q = p - sx; qy--; }
      else if (k === 3) { if (y + 1 >= sy) continue; q = p + sx; qy++; }
      else if (k === 4) { if (!useZ || z === 0) continue; q = p - sxy; qz--; }
      else { if (!useZ || z + 1 >= sz) continue; q = p + sxy; qz++; }
      if (C[q] !== c || dir[q] >= 7) continue;
      // (a labelled voxel of the same cost is a seed or has a lower neighbour: plateaus are resolved whole)
      if (labels[q] !== 0 || lowerNeighbour(C, q, qx, qy, qz, sx, sy, sz, useZ) >= 0) {
        if (exit < 0) exit = k;
        continue;
      }
      dir[q] = 7;
      if (nm === members.length) bufs.members = members = grow(members);
      members[nm++] = q;
    }
    if (exit >= 0) dir[p] = 8 + exit;
  }
  // Order of the priority flood inside the plateau: exits in discovery order; a voxel below the
  // plateau's level c (in a dip) is taken at once, so the first front to enter a dip floods all of it
  // (stack), voxels at level c wait their turn (FIFO queue).
  if (bufs.queue.length < nm) bufs.queue = new Int32Array(members.length);
  if (bufs.stack.length < nm) bufs.stack = new Int32Array(members.length);
  const st: PlateauState = { queue: bufs.queue, stack: bufs.stack, qt: 0, sp: 0 };
  let reached = 0;
  for (let m = 0; m < nm; m++) {
    const p = members[m];
    if (dir[p] < 8) continue; // not an exit, or already reached from another one
    dir[p] -= 7;
    reached++;
    if (f[p] < c) {
      st.stack[st.sp++] = p;
      while (st.sp > 0) reached += plateauStep(st.stack[--st.sp], c, f, dir, sx, sy, sz, useZ, st);
    } else st.queue[st.qt++] = p;
  }
  for (let qh = 0; qh < st.qt; qh++) {
    reached += plateauStep(st.queue[qh], c, f, dir, sx, sy, sz, useZ, st);
    while (st.sp > 0) reached += plateauStep(st.stack[--st.sp], c, f, dir, sx, sy, sz, useZ, st);
  }
  // Every plateau of finite cost has an exit (the optimal path of its voxels leaves it through one).
  if (reached !== nm) throw new Error(`watershed: internal error, plateau of ${nm} voxels with ${reached} reached`);
}

export interface PlateauState { queue: Int32Array; stack: Int32Array; qt: number; sp: number }

/** Gives p's unreached plateau neighbours p as parent: below level c onto the stack, at c into the queue. Returns how many. */
export function plateauStep(p: number, c: number, f: Float32Array, dir: Uint8Array, sx: number, sy: number, sz: number, useZ: boolean, st: PlateauState): number {
  const sxy = sx * sy;
  const x = p % sx;
  const t = (p - x) / sx;
  const y = t % sy;
  const z = (t - y) / sy;
  let r = 0;
  for (let k = 0; k < 6; k++) {
    let q: number;
    if (k === 0) { if (x === 0) continue; q = p - 1; }
    else if (k === 1) { if (x + 1 >= sx) continue; q = p + 1; }
    else if (k === 2) { if (y === 0) continue; q = p - sx; }
    else if (k === 3) { if (y + 1 >= sy) continue; q = p + sx; }
    else if (k === 4) { if (!useZ || z === 0) continue; q = p - sxy; }
    else { if (!useZ || z + 1 >= sz) continue; q = p + sxy; }
    const dq = dir[q];
    if (dq !== 7 && dq < 8) continue;
    dir[q] = (k ^ 1) + 1;
    r++;
    if (f[q] < c) st.stack[st.sp++] = q;
    else st.queue[st.qt++] = q;
  }
  return r;
}

/** floodScanReference's work buffers, kept between calls up to SCRATCH_MAX voxels (no allocation and zeroing of ~9 bytes a voxel per call). */
let scratchBuf: { C: Float32Array; dir: Uint8Array; ring: Int32Array } | null = null;
export const SCRATCH_MAX = 1 << 22;
export function scanScratch(n: number): { C: Float32Array; dir: Uint8Array; ring: Int32Array } {
  if (n > SCRATCH_MAX) return { C: new Float32Array(n), dir: new Uint8Array(n), ring: new Int32Array(n) };
  if (!scratchBuf || scratchBuf.C.length < n) {
    const m = Math.min(SCRATCH_MAX, Math.max(n, scratchBuf ? scratchBuf.C.length * 2 : 0));
    scratchBuf = { C: new Float32Array(m), dir: new Uint8Array(m), ring: new Int32Array(m) };
  }
  const { C, dir, ring } = scratchBuf;
  dir.fill(0, 0, n);
  return { C: C.subarray(0, n), dir: dir.subarray(0, n), ring: ring.subarray(0, n) };
}
