/**
 * Re-cutting a segmentation's merge tree at any threshold, without recomputing supervoxels: the
 * agglomeration wrote `merge_tree.json` (merges in order, each with its score) beside its
 * segmentation layer, and the supervoxel layer it started from. A cut at T applies the longest
 * prefix of merges whose scores are all <= T (as `cutTree` does); a segment is named by the
 * smallest supervoxel id in it, so a segment keeps its id across cuts that do not change it.
 *
 * Served as a precomputed segmentation (raw uint64 chunks of the supervoxel layer's grid, mapped
 * on the fly), so a slider in the viewer shows the cut in view at once; `choose` writes the cut
 * into the segmentation layer's info (`wiring.cut`).
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type Box, boxShape } from '../../core/box.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer } from '../../formats/precomputed/index.js';

export interface RecutTree {
  /** supervoxel ids (decimal strings) by index */
  ids: bigint[];
  a: Int32Array;
  b: Int32Array;
  score: Float64Array;
}

export function parseMergeTree(json: unknown, file: string): RecutTree {
  const o = json as { format?: unknown; merges?: unknown };
  if (!o || o.format !== 'wiring-merge-tree' || !Array.isArray(o.merges)) throw new FormatError('not a wiring merge tree (expected format "wiring-merge-tree" and a merges list)', file);
  const index = new Map<string, number>();
  const ids: bigint[] = [];
  const at = (s: unknown, m: number): number => {
    if (typeof s !== 'string' || !/^[0-9]+$/.test(s)) throw new FormatError(`merges[${m}]: supervoxel ids must be decimal strings`, file);
    let i = index.get(s);
    if (i === undefined) {
      i = ids.length;
      ids.push(BigInt(s));
      index.set(s, i);
    }
    return i;
  };
  const n = o.merges.length;
  const a = new Int32Array(n), b = new Int32Array(n), score = new Float64Array(n);
  o.merges.forEach((m: unknown, k: number) => {
    if (!Array.isArray(m) || m.length !== 3 || typeof m[2] !== 'number') throw new FormatError(`merges[${k}]: expected [a, b, score]`, file);
    a[k] = at(m[0], k);
    b[k] = at(m[1], k);
    score[k] = m[2];
  });
  return { ids, a, b, score };
}

/** Supervoxel id -> segment id (the smallest supervoxel id of its segment) for merged supervoxels at cut T; others map to themselves. */
export function cutMapping(tree: RecutTree, threshold: number): { map: Map<bigint, bigint>; merges: number } {
  const n = tree.ids.length;
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  let merges = 0;
  for (let m = 0; m < tree.a.length; m++) {
    if (tree.score[m] > threshold) break;
    const ra = find(tree.a[m]), rb = find(tree.b[m]);
    if (ra === rb) continue;
    merges++;
    if (tree.ids[ra] < tree.ids[rb]) parent[rb] = ra;
    else parent[ra] = rb;
  }
  const map = new Map<bigint, bigint>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (r !== i) map.set(tree.ids[i], tree.ids[r]);
  }
  return { map, merges };
}

export class Recut {
  private readonly cache = new Map<string, { map: Map<bigint, bigint>; merges: number }>();
  private constructor(
    readonly segmentation: string,
    readonly supervoxels: PrecomputedLayer,
    readonly tree: RecutTree,
    /** supervoxels in the layer (segments at a cut = supervoxels - merges) */
    readonly supervoxelCount: number | undefined,
    /** the cut the segmentation layer was made at */
    readonly threshold: number | null,
  ) {}

  /** Open the merge tree of a segmentation layer and the supervoxel layer it names. */
  static async open(segmentation: string): Promise<Recut> {
    const file = path.join(segmentation, 'merge_tree.json');
    if (!existsSync(file)) throw new UsageError(`no merge_tree.json in ${segmentation}: re-cutting needs a segmentation made by wiring segment or agglomerate`);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await fs.readFile(file, 'utf8'));
    } catch (err) {
      throw new FormatError(`not JSON: ${(err as Error).message}`, file);
    }
    const tree = parseMergeTree(json, file);
    const sv = (json.supervoxels_layer ?? json.supervoxels_source) as string | null | undefined;
    if (typeof sv !== 'string') throw new UsageError(`${file} names no supervoxel layer (segment with --supervoxels-out, or agglomerate --supervoxels <layer>)`);
    // the path as given when the tree was written (absolute, or relative to where that ran), else beside the segmentation
    const candidates = [path.resolve(sv), path.join(path.dirname(path.resolve(segmentation)), path.basename(sv))];
    const layerPath = candidates.find((c) => existsSync(path.join(c, 'info')));
    if (!layerPath) throw new UsageError(`${file}: the supervoxel layer ${sv} is not a precomputed layer (looked in ${candidates.join(', ')})`);
    const count = typeof json.supervoxels === 'number' ? json.supervoxels : undefined;
    return new Recut(segmentation, await PrecomputedLayer.open(layerPath), tree, count, typeof json.threshold === 'number' ? json.threshold : null);
  }

  mapping(threshold: number): { map: Map<bigint, bigint>; merges: number } {
    if (!Number.isFinite(threshold)) throw new UsageError(`threshold ${threshold}: expected a number`);
    const key = threshold.toFixed(6);
    let m = this.cache.get(key);
    if (!m) {
      m = cutMapping(this.tree, threshold);
      if (this.cache.size > 32) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, m);
    }
    return m;
  }

  /**
   * The thresholds that change the cut: below `min` no merge applies (every supervoxel is its own
   * segment), at `max` every merge does; `threshold` is the cut the segmentation layer was made
   * at (merge_tree.json), `chosen` the one kept last (`wiring.cut` of the layer's info).
   */
  async range(): Promise<{ min: number; max: number; merges: number; supervoxels: number | null; threshold: number | null; chosen: number | null }> {
    let min = Infinity, max = -Infinity;
    for (const s of this.tree.score) if (Number.isFinite(s)) (min = Math.min(min, s), (max = Math.max(max, s)));
    if (!Number.isFinite(min)) min = max = 0;
    let chosen: number | null = null;
    try {
      const info = JSON.parse(await fs.readFile(path.join(this.segmentation, 'info'), 'utf8')) as { wiring?: { cut?: { threshold?: unknown } } };
      if (typeof info.wiring?.cut?.threshold === 'number') chosen = info.wiring.cut.threshold;
    } catch {
      // no readable info: nothing chosen
    }
    return { min, max, merges: this.tree.score.length, supervoxels: this.supervoxelCount ?? null, threshold: this.threshold, chosen };
  }

  /** Segments at cut T (supervoxels minus the merges applied). */
  segments(threshold: number): number | undefined {
    return this.supervoxelCount === undefined ? undefined : this.supervoxelCount - this.mapping(threshold).merges;
  }

  /** The precomputed info of the re-cut layer (the supervoxel layer's grid, raw uint64 chunks). */
  info(): Record<string, unknown> {
    const i = this.supervoxels.info;
    return {
      '@type': 'neuroglancer_multiscale_volume',
      type: 'segmentation',
      data_type: 'uint64',
      num_channels: 1,
      scales: [{ ...i.scales[0], encoding: 'raw', sharding: undefined, compressed_segmentation_block_size: undefined }],
    };
  }

  /** One chunk (`x0-x1_y0-y1_z0-z1`) of the re-cut segmentation, raw little-endian uint64. */
  async chunk(threshold: number, name: string): Promise<Uint8Array> {
    const m = /^(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+)$/.exec(name);
    if (!m) throw new UsageError(`chunk ${JSON.stringify(name)}: expected x0-x1_y0-y1_z0-z1`);
    const b: Box = { min: [+m[1], +m[3], +m[5]], max: [+m[2], +m[4], +m[6]] };
    const s = this.supervoxels.info.scales[0];
    for (let a = 0; a < 3; a++) {
      const lo = s.voxel_offset[a], hi = lo + s.size[a];
      if (b.min[a] < lo || b.max[a] > hi || b.max[a] <= b.min[a] || boxShape(b)[a] > s.chunk_sizes[0][a]) throw new UsageError(`chunk ${name} is not a chunk of this layer`);
    }
    const v = await this.supervoxels.readBox(b);
    const { map } = this.mapping(threshold);
    const src = v.data as BigUint64Array;
    const out = new Volume('uint64', b, new BigUint64Array(src.length));
    const dst = out.data as BigUint64Array;
    let last = -1n, lastTo = 0n;
    for (let i = 0; i < src.length; i++) {
      const id = src[i];
      if (id !== last) {
        last = id;
        lastTo = map.get(id) ?? id;
      }
      dst[i] = lastTo;
    }
    return new Uint8Array(dst.buffer);
  }

  /**
   * Write the chosen cut into the segmentation layer's info (`wiring.cut`: threshold, the merges
   * it applies, its segments, who and when). The layer's voxels stay at the cut it was made at
   * (`merge_tree_threshold`); the re-cut layer serves the chosen one.
   */
  async choose(threshold: number, user: string): Promise<void> {
    const layer = await PrecomputedLayer.open(this.segmentation);
    const raw = layer.info as unknown as Record<string, unknown>;
    const { merges } = this.mapping(threshold);
    const cut = { threshold, merges, segments: this.segments(threshold) ?? null, merge_tree_threshold: this.threshold, user, time: new Date().toISOString() };
    const w = { ...((raw.wiring as object) ?? {}), cut };
    await layer.updateInfo({ wiring: w } as never);
  }
}
