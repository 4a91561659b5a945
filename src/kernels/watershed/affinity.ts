import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { compactLabels, connectedComponents } from '../components.js';
import { checkVolume } from './check.js';
import { LevelBits } from './levels.js';
import { mergeSmallSegments, sizeFilter } from './size-filter.js';

export interface AffinityWatershedOptions {
  /** Channel c holds the affinity between voxel p and p - e_axis[c]; default ['x', 'y', 'z'] (waterz/numpy files are ['z', 'y', 'x']). */
  channelAxes?: ['x' | 'y' | 'z', 'x' | 'y' | 'z', 'x' | 'y' | 'z'];
  /** Edges with affinity >= high join voxels into seeds (default 0.9999). */
  high?: number;
  /** Edges with affinity < low are never crossed; voxels reached by none stay 0 (default 0.0001). */
  low?: number;
  /** Drop seeds smaller than this (voxels) before flooding (default 0). */
  minSeedSize?: number;
  /** Merge final segments smaller than this into the neighbour with the strongest edge (default 0). */
  minSize?: number;
  levels?: number;
}

/**
 * Watershed on a 3-channel affinity graph (Zlateski & Seung 2015 style): seeds are the components of
 * edges with affinity >= high; then voxels are claimed along edges in decreasing affinity (bucket
 * queue on 1 - affinity, FIFO ties), never across edges below `low`. Returns labels 1..count.
 */
export function affinityWatershed(affs: Float32Array, shape: Vec3, opts: AffinityWatershedOptions = {}): { labels: Uint32Array; count: number } {
  const n = checkVolume('affinityWatershed', affs.length / 3, shape);
  if (affs.length !== 3 * n) throw new UsageError(`affinityWatershed: expected 3 channels (${3 * n} values), got ${affs.length}`);
  const [sx, sy, sz] = shape;
  const sxy = sx * sy;
  const axes = opts.channelAxes ?? ['x', 'y', 'z'];
  const chan = { x: axes.indexOf('x'), y: axes.indexOf('y'), z: axes.indexOf('z') };
  if (chan.x < 0 || chan.y < 0 || chan.z < 0) throw new UsageError(`affinityWatershed: channelAxes must name x, y and z once each, got ${axes}`);
  const ax = affs.subarray(chan.x * n, (chan.x + 1) * n);
  const ay = affs.subarray(chan.y * n, (chan.y + 1) * n);
  const az = affs.subarray(chan.z * n, (chan.z + 1) * n);
  const high = opts.high ?? 0.9999;
  const low = opts.low ?? 0.0001;
  // 1. seeds: union-find over edges >= high
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
    return a;
  };
  const join = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) {
      if (ra < rb) parent[rb] = ra;
      else parent[ra] = rb;
    }
  };
  const inSeed = new Uint8Array(n);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        const i = x + sx * (y + sy * z);
        if (x > 0 && ax[i] >= high) { join(i, i - 1); inSeed[i] = inSeed[i - 1] = 1; }
        if (y > 0 && ay[i] >= high) { join(i, i - sx); inSeed[i] = inSeed[i - sx] = 1; }
        if (z > 0 && az[i] >= high) { join(i, i - sxy); inSeed[i] = inSeed[i - sxy] = 1; }
      }
  const labels = new Uint32Array(n);
  const rootLabel = new Uint32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (!inSeed[i]) continue;
    const r = find(i);
    if (rootLabel[r] === 0) rootLabel[r] = ++count;
    labels[i] = rootLabel[r];
  }
  if ((opts.minSeedSize ?? 0) > 1) count = sizeFilter(labels, opts.minSeedSize!).count;
  // 2. flood along edges in decreasing affinity
  const levels = opts.levels ?? 65536;
  return floodAffinity(labels, count, ax, ay, az, shape, low, levels, opts.minSize ?? 0);
}

/** Affinity flood with an entry-based bucket queue (a voxel may be offered several times). */
function floodAffinity(labels: Uint32Array, count: number, ax: Float32Array, ay: Float32Array, az: Float32Array, shape: Vec3, low: number, levels: number, minSize: number): { labels: Uint32Array; count: number } {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  const sxy = sx * sy;
  const top = levels - 1;
  const head = new Int32Array(levels).fill(-1);
  const tail = new Int32Array(levels).fill(-1);
  // entries: voxel, label, next
  let cap = Math.max(1024, n);
  let eVox = new Int32Array(cap);
  let eLab = new Uint32Array(cap);
  let eNext = new Int32Array(cap);
  let ne = 0;
  let cur = levels;
  const bits = new LevelBits(levels);
  const best = new Float32Array(n).fill(-1);
  const push = (j: number, L: number, a: number): void => {
    if (labels[j] !== 0 || a < low || a <= best[j]) return;
    best[j] = a;
    let lv = Math.floor((1 - a) * top);
    if (!(lv >= 0)) lv = top;
    if (lv > top) lv = top;
    if (ne === cap) {
      cap *= 2;
      const v = new Int32Array(cap); v.set(eVox); eVox = v;
      const l = new Uint32Array(cap); l.set(eLab); eLab = l;
      const x = new Int32Array(cap); x.set(eNext); eNext = x;
    }
    const e = ne++;
    eVox[e] = j;
    eLab[e] = L;
    eNext[e] = -1;
    if (head[lv] < 0) {
      head[lv] = e;
      bits.set(lv);
    } else eNext[tail[lv]] = e;
    tail[lv] = e;
    if (lv < cur) cur = lv;
  };
  const expand = (i: number): void => {
    const L = labels[i];
    const x = i % sx;
    const t = (i - x) / sx;
    const y = t % sy;
    const z = (t - y) / sy;
    if (x > 0) push(i - 1, L, ax[i]);
    if (x + 1 < sx) push(i + 1, L, ax[i + 1]);
    if (y > 0) push(i - sx, L, ay[i]);
    if (y + 1 < sy) push(i + sx, L, ay[i + sx]);
    if (z > 0) push(i - sxy, L, az[i]);
    if (z + 1 < sz) push(i + sxy, L, az[i + sxy]);
  };
  for (let i = 0; i < n; i++) if (labels[i] !== 0) expand(i);
  for (;;) {
    if (cur >= levels || head[cur] < 0) {
      cur = bits.next(cur);
      if (cur < 0) break;
    }
    const e = head[cur];
    head[cur] = eNext[e];
    if (head[cur] < 0) bits.clear(cur);
    const j = eVox[e];
    if (labels[j] !== 0) continue;
    labels[j] = eLab[e];
    expand(j);
  }
  // Voxels no strong edge reaches (isolated by edges < low): each connected group of them becomes its own segment.
  let orphans = false;
  for (let i = 0; i < n; i++) if (labels[i] === 0) { orphans = true; break; }
  if (orphans) {
    const m = new Uint8Array(n);
    for (let i = 0; i < n; i++) m[i] = labels[i] === 0 ? 1 : 0;
    const cc = connectedComponents(m, shape, { connectivity: 6 });
    for (let i = 0; i < n; i++) if (labels[i] === 0) labels[i] = count + cc.labels[i];
    count += cc.count;
  }
  if (minSize > 1) {
    // boundary value per voxel = 1 - max incident affinity, used to re-flood small segments
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = i % sx;
      const t = (i - x) / sx;
      const y = t % sy;
      const z = (t - y) / sy;
      let a = 0;
      if (x > 0) a = Math.max(a, ax[i]);
      if (x + 1 < sx) a = Math.max(a, ax[i + 1]);
      if (y > 0) a = Math.max(a, ay[i]);
      if (y + 1 < sy) a = Math.max(a, ay[i + sx]);
      if (z > 0) a = Math.max(a, az[i]);
      if (z + 1 < sz) a = Math.max(a, az[i + sxy]);
      b[i] = 1 - a;
    }
    return { labels, count: mergeSmallSegments(b, shape, labels, minSize) };
  }
  return { labels, count: compactLabels(labels, labels).count };
}
