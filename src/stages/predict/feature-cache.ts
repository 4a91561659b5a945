/**
 * Feature stacks of a raw volume, computed on demand in small tiles and kept in memory (LRU, a
 * byte budget), for the interactive loop: training needs the features of the labelled voxels
 * only, and prediction of the view needs the view's; both come from the same tiles, so a view
 * labelled and then predicted computes its features once, and every model trained after the
 * first reuses them.
 *
 *   tile:   `tile` voxels ([64, 64, 1] by default: one section), aligned to the raw's offset,
 *           clipped at its far bounds; stores the F feature channels and the raw (channel F),
 *           channel-major (index = voxel + tileVoxels * channel)
 *   groups: tiles asked for within `batchMs` of each other are computed together: their set is
 *           split (kd, longest axis) into boxes where computing one box with the feature margin
 *           costs less than its parts, capped at `groupVoxels` output voxels, computed in the
 *           order their tiles were first asked for; a box read with
 *           `featureMargin` gives the whole-volume features bit for bit (features.ts), so the
 *           grouping never changes a value
 */
import { type Box, type Vec3, box, boxIntersect, boxShape, boxVoxels } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import type { VolumeSource } from '../../formats/source.js';
import { type FeatureConfig, computeFeatures, featureCount, featureMargin } from './features.js';
import { assertFinite, toFloat32 } from './training.js';

export const FEATURE_CACHE_DEFAULTS = {
  tile: [64, 64, 1] as Vec3,
  /** Memory for cached tiles (F + 1 float32 per voxel: 33 channels = 132 B per voxel in 2-D). */
  budgetBytes: 512 * 2 ** 20,
  /** Most output voxels computed in one go (bounds the transient feature stack). */
  groupVoxels: 2 ** 20,
  batchMs: 8,
};

export interface FeatureCacheStats {
  tilesComputed: number;
  tileHits: number;
  groups: number;
  /** voxels whose features were computed (output plus margin) */
  voxelsComputed: number;
  seconds: number;
}

type TileKey = string;
interface Pending {
  key: TileKey;
  t: Vec3;
  resolve: (v: Float32Array) => void;
  reject: (e: unknown) => void;
}

/**
 * Split a set of tiles (tile-grid coordinates) into groups, each computed as one box: a group is
 * kept whole when computing its bounding box (with margin) costs no more than its halves' groups
 * and it has at most `maxVoxels` output voxels. `cost(lo, hi)` is the voxel count of computing
 * tiles lo..hi (inclusive) with their margin; `voxels(lo, hi)` the output voxels.
 */
export function groupTiles(tiles: Vec3[], cost: (lo: Vec3, hi: Vec3) => number, voxels: (lo: Vec3, hi: Vec3) => number, maxVoxels: number): Vec3[][] {
  const go = (ts: Vec3[]): { groups: Vec3[][]; cost: number } => {
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (const t of ts) for (let a = 0; a < 3; a++) (lo[a] = Math.min(lo[a], t[a]), (hi[a] = Math.max(hi[a], t[a])));
    const l = lo as unknown as Vec3, h = hi as unknown as Vec3;
    const whole = cost(l, h);
    if (ts.length === 1) return { groups: [ts], cost: whole };
    let axis = 0;
    for (let a = 1; a < 3; a++) if (hi[a] - lo[a] > hi[axis] - lo[axis]) axis = a;
    if (hi[axis] === lo[axis]) return { groups: [ts], cost: whole }; // repeats of one tile
    const mid = Math.floor((lo[axis] + hi[axis]) / 2);
    const a = go(ts.filter((t) => t[axis] <= mid)), b = go(ts.filter((t) => t[axis] > mid));
    if (voxels(l, h) <= maxVoxels && whole <= a.cost + b.cost) return { groups: [ts], cost: whole };
    return { groups: [...a.groups, ...b.groups], cost: a.cost + b.cost };
  };
  return tiles.length ? go(tiles).groups : [];
}

export class FeatureCache {
  readonly F: number;
  readonly margin: Vec3;
  readonly tile: Vec3;
  readonly bounds: Box;
  private readonly tiles = new Map<TileKey, Promise<Float32Array>>();
  private readonly sizes = new Map<TileKey, number>();
  private bytes = 0;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  readonly stats: FeatureCacheStats = { tilesComputed: 0, tileHits: 0, groups: 0, voxelsComputed: 0, seconds: 0 };
  private readonly o: typeof FEATURE_CACHE_DEFAULTS;

  constructor(
    readonly raw: VolumeSource,
    readonly cfg: FeatureConfig,
    o: Partial<typeof FEATURE_CACHE_DEFAULTS> = {},
  ) {
    this.o = { ...FEATURE_CACHE_DEFAULTS, ...o };
    if (raw.channels !== 1) throw new UsageError(`raw has ${raw.channels} channels; the pixel classifier needs one`, raw.url);
    this.F = featureCount(cfg);
    this.margin = featureMargin(cfg);
    this.tile = this.o.tile;
    this.bounds = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  }

  /** Does a model with this feature configuration read these features? */
  matches(cfg: FeatureConfig): boolean {
    return JSON.stringify(cfg) === JSON.stringify(this.cfg);
  }

  private tileOf(p: ArrayLike<number>): Vec3 {
    const o = this.bounds.min;
    return [Math.floor((p[0] - o[0]) / this.tile[0]), Math.floor((p[1] - o[1]) / this.tile[1]), Math.floor((p[2] - o[2]) / this.tile[2])];
  }

  /** The voxels of tiles lo..hi (inclusive), clipped to the volume. */
  tileBox(lo: Vec3, hi: Vec3 = lo): Box {
    const o = this.bounds.min, s = this.tile;
    return boxIntersect(box([o[0] + lo[0] * s[0], o[1] + lo[1] * s[1], o[2] + lo[2] * s[2]], [o[0] + (hi[0] + 1) * s[0], o[1] + (hi[1] + 1) * s[1], o[2] + (hi[2] + 1) * s[2]]), this.bounds);
  }

  private readBox(b: Box): Box {
    const m = this.margin;
    return boxIntersect(box([b.min[0] - m[0], b.min[1] - m[1], b.min[2] - m[2]], [b.max[0] + m[0], b.max[1] + m[1], b.max[2] + m[2]]), this.bounds);
  }

  /** Tiles covering a box. */
  private tilesOf(b: Box): Vec3[] {
    const lo = this.tileOf(b.min), hi = this.tileOf([b.max[0] - 1, b.max[1] - 1, b.max[2] - 1]);
    const out: Vec3[] = [];
    for (let z = lo[2]; z <= hi[2]; z++) for (let y = lo[1]; y <= hi[1]; y++) for (let x = lo[0]; x <= hi[0]; x++) out.push([x, y, z]);
    return out;
  }

  /** A tile's data (features + raw), computed (with the other tiles asked for meanwhile) when missing. */
  private get(t: Vec3): Promise<Float32Array> {
    const key = t.join(',');
    const have = this.tiles.get(key);
    if (have) {
      this.stats.tileHits++;
      // most recently used last
      this.tiles.delete(key);
      this.tiles.set(key, have);
      return have;
    }
    const p = new Promise<Float32Array>((resolve, reject) => this.pending.push({ key, t, resolve, reject }));
    p.catch(() => this.forget(key));
    this.tiles.set(key, p);
    if (!this.timer) this.timer = setTimeout(() => this.flush(), this.o.batchMs);
    return p;
  }

  private forget(key: TileKey): void {
    this.tiles.delete(key);
    this.bytes -= this.sizes.get(key) ?? 0;
    this.sizes.delete(key);
  }

  private flush(): void {
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(() => this.compute(batch));
  }

  private async compute(batch: Pending[]): Promise<void> {
    const byKey = new Map(batch.map((p) => [p.key, p]));
    const order = new Map(batch.map((p, i) => [p.key, i]));
    const first = (g: Vec3[]) => Math.min(...g.map((t) => order.get(t.join(','))!));
    // groups in the order their tiles were first asked for (the view before what surrounds it)
    const groups = groupTiles(
      [...byKey.values()].map((p) => p.t),
      (lo, hi) => boxVoxels(this.readBox(this.tileBox(lo, hi))),
      (lo, hi) => boxVoxels(this.tileBox(lo, hi)),
      this.o.groupVoxels,
    ).sort((a, b) => first(a) - first(b));
    for (const g of groups) {
      let lo: Vec3 = g[0], hi: Vec3 = g[0];
      for (const t of g) (lo = [Math.min(lo[0], t[0]), Math.min(lo[1], t[1]), Math.min(lo[2], t[2])]), (hi = [Math.max(hi[0], t[0]), Math.max(hi[1], t[1]), Math.max(hi[2], t[2])]);
      const members = g.map((t) => byKey.get(t.join(','))!);
      try {
        const out = this.tileBox(lo, hi);
        const rb = this.readBox(out);
        const rv = await this.raw.read(rb);
        if (rv.channels !== 1) throw new UsageError(`raw has ${rv.channels} channels; the pixel classifier needs one`, this.raw.url);
        assertFinite(rv, this.raw.url);
        const t0 = performance.now();
        const rf = toFloat32(rv);
        const rs = boxShape(rb);
        const feats = computeFeatures(rf, rs, this.cfg);
        const nv = rs[0] * rs[1] * rs[2];
        for (const m of members) {
          const tb = this.tileBox(m.t);
          const ts = boxShape(tb);
          const tv = ts[0] * ts[1] * ts[2];
          const data = new Float32Array(tv * (this.F + 1));
          for (let c = 0; c <= this.F; c++) {
            const src = c < this.F ? feats.subarray(c * nv, (c + 1) * nv) : rf;
            let o = c * tv;
            for (let z = 0; z < ts[2]; z++) {
              for (let y = 0; y < ts[1]; y++) {
                const s = tb.min[0] - rb.min[0] + rs[0] * (tb.min[1] - rb.min[1] + y + rs[1] * (tb.min[2] - rb.min[2] + z));
                data.set(src.subarray(s, s + ts[0]), o);
                o += ts[0];
              }
            }
          }
          this.sizes.set(m.key, data.byteLength);
          this.bytes += data.byteLength;
          m.resolve(data);
        }
        this.stats.groups++;
        this.stats.tilesComputed += members.length;
        this.stats.voxelsComputed += nv;
        this.stats.seconds += (performance.now() - t0) / 1000;
        this.evict();
      } catch (err) {
        for (const m of members) m.reject(err);
      }
      // let the answers of this group go out before the next one
      await new Promise((r) => setImmediate(r));
    }
  }

  private evict(): void {
    for (const key of this.tiles.keys()) {
      if (this.bytes <= this.o.budgetBytes) break;
      if (!this.sizes.has(key)) continue; // still computing
      this.forget(key);
    }
  }

  /** Compute (in the background) the tiles of these voxels; nothing is returned. */
  warm(points: Iterable<ArrayLike<number>>): void {
    const seen = new Set<string>();
    for (const p of points) {
      const t = this.tileOf(p);
      const k = t.join(',');
      if (seen.has(k)) continue;
      seen.add(k);
      this.get(t).catch(() => {});
    }
  }

  /** Compute (in the background) the tiles of a box. */
  warmBox(b: Box): void {
    for (const t of this.tilesOf(boxIntersect(b, this.bounds))) this.get(t).catch(() => {});
  }

  /** Features (feature-major, x[f * n + i], i = x fastest) and raw of a box inside the volume. */
  async box(b: Box): Promise<{ x: Float32Array; raw: Float32Array }> {
    const c = boxIntersect(b, this.bounds);
    if (boxVoxels(c) !== boxVoxels(b)) throw new UsageError(`box [${b.min}]..[${b.max}] is not inside the volume`);
    const bs = boxShape(b);
    const n = boxVoxels(b);
    const x = new Float32Array(n * this.F);
    const raw = new Float32Array(n);
    const tiles = this.tilesOf(b);
    const datas = await Promise.all(tiles.map((t) => this.get(t)));
    tiles.forEach((t, k) => {
      const tb = this.tileBox(t);
      const ts = boxShape(tb);
      const tv = ts[0] * ts[1] * ts[2];
      const o = boxIntersect(tb, b);
      const os = boxShape(o);
      const d = datas[k];
      for (let ch = 0; ch <= this.F; ch++) {
        const dst = ch < this.F ? x.subarray(ch * n, (ch + 1) * n) : raw;
        for (let z = 0; z < os[2]; z++) {
          for (let y = 0; y < os[1]; y++) {
            const s = ch * tv + o.min[0] - tb.min[0] + ts[0] * (o.min[1] - tb.min[1] + y + ts[1] * (o.min[2] - tb.min[2] + z));
            const e = o.min[0] - b.min[0] + bs[0] * (o.min[1] - b.min[1] + y + bs[1] * (o.min[2] - b.min[2] + z));
            dst.set(d.subarray(s, s + os[0]), e);
          }
        }
      }
    });
    return { x, raw };
  }

  /** Features (feature-major, x[f * n + j]) and raw at voxels (global [x, y, z] triples, inside the volume). */
  async at(points: ArrayLike<number>[]): Promise<{ x: Float32Array; raw: Float32Array }> {
    const n = points.length;
    const x = new Float32Array(n * this.F);
    const raw = new Float32Array(n);
    const tileKeys = new Map<string, Vec3>();
    for (const p of points) {
      for (let a = 0; a < 3; a++) if (!(p[a] >= this.bounds.min[a] && p[a] < this.bounds.max[a])) throw new UsageError(`voxel [${Array.from(p)}] is outside the volume`);
      const t = this.tileOf(p);
      tileKeys.set(t.join(','), t);
    }
    const keys = [...tileKeys.keys()];
    const datas = new Map((await Promise.all(keys.map((k) => this.get(tileKeys.get(k)!)))).map((d, i) => [keys[i], d]));
    for (let j = 0; j < n; j++) {
      const p = points[j];
      const t = this.tileOf(p);
      const tb = this.tileBox(t);
      const ts = boxShape(tb);
      const tv = ts[0] * ts[1] * ts[2];
      const v = p[0] - tb.min[0] + ts[0] * (p[1] - tb.min[1] + ts[1] * (p[2] - tb.min[2]));
      const d = datas.get(t.join(','))!;
      for (let f = 0; f < this.F; f++) x[f * n + j] = d[f * tv + v];
      raw[j] = d[this.F * tv + v];
    }
    return { x, raw };
  }

  /** Bytes held by cached tiles. */
  get cachedBytes(): number {
    return this.bytes;
  }
}
