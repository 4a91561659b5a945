/**
 * Blockwise supervoxels through the scheduler, independent of the block shape and worker count.
 *
 * The supervoxels are defined on a fixed **tile grid** (tiles of `tile` voxels from the volume's
 * origin, edge tiles clipped), which is a parameter of the result like the seeds or the minimum
 * size: every tile is computed from the boundary map over the tile grown by `margin` (clipped to
 * the volume) with the same watershed as the whole-volume path (seeds, flood, small-segment
 * merge), and keeps its own voxels. A scheduler block is a whole number of tiles and just computes
 * the tiles it covers, so the layer is the same bytes for every block shape and worker count.
 *
 * Ids (uint64) are anchored on the seed: a supervoxel's id is 1 + the volume-linear index
 * (x fastest, from the volume's origin) of the first voxel of its seed. Two neighbouring tiles
 * whose contexts overlap find the same seed for a cell that crosses their common face (the seed
 * computation reads only the tile's context, and the contexts agree away from their edges), so
 * both halves get the same id: most supervoxels are not cut by tile faces at all. Where the two
 * contexts disagree the halves get different ids and the agglomeration stitches them (their
 * contact lies inside the cell). Affinity maps (3 channels) use the affinity watershed, whose
 * seeds are not exposed: ids there are (tile linear index + 1) * 2^32 + label in the tile.
 */
import { type Box, type Vec3, boxEquals, boxFromShape, boxGrow, boxIntersect, boxShape, boxToString, boxVoxels } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { flood, mergeSmallSegments, watershedSeedsAndMap } from '../../kernels/watershed/index.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import { type BoundaryMaps, type SupervoxelParams, boundaryMaps, computeSupervoxels } from './pipeline.js';

/** Default tile context (voxels per side) of blockwise supervoxels. */
export const DEFAULT_TILE_MARGIN: Vec3 = [16, 16, 16];

export interface SupervoxelBlockParams {
  supervoxels: SupervoxelParams;
  affinityOrder?: 'xyz' | 'zyx';
  invert?: boolean;
  channel?: number;
  /** the volume: origin and end of the tile grid */
  bounds: Box;
  /** tile shape [x, y, z] (at most the volume's shape) */
  tile: Vec3;
  /** context read around each tile [x, y, z] */
  margin: Vec3;
}

/**
 * Work arrays of the tiles computed one after another in this thread (a tile's map and labels,
 * 4 bytes a voxel each), kept between tiles and blocks instead of allocated per tile: the
 * allocations (zeroed pages, then the garbage collections their external memory triggers) cost
 * more CPU than the transforms that fill them. The arrays are fully overwritten by each tile.
 */
class TileWork {
  private map = new Float32Array(0);
  private labels = new Uint32Array(0);
  /** A float array of n voxels (contents unspecified). */
  mapOf(n: number): Float32Array {
    if (this.map.length < n) this.map = new Float32Array(n);
    return this.map.subarray(0, n);
  }
  /** A label array of n voxels (contents unspecified). */
  labelsOf(n: number): Uint32Array {
    if (this.labels.length < n) this.labels = new Uint32Array(n);
    return this.labels.subarray(0, n);
  }
}

const tileWork = new TileWork();

/**
 * The seeded watershed of `watershed()` in src/kernels/watershed/ (its seeds, `watershedSeeds`;
 * flood; small-segment merge), keeping for every final label the context-linear
 * index of the first voxel of its seed. Final labels are 1..count (raster order of first voxel).
 * `labelsInto`: an array of the volume's length the labels may be computed in (the returned
 * `labels` is then a view of it, overwritten by the next call that is given it).
 */
export function seededSupervoxels(values: Float32Array, shape: Vec3, opts: SupervoxelParams, labelsInto?: Uint32Array): { labels: Uint32Array; count: number; seedVoxel: Float64Array } {
  const n = shape[0] * shape[1] * shape[2];
  // seeds, and the map flooded: values, or the smoothed one (minima seeds, flood 'smoothed')
  const seeds = watershedSeedsAndMap(values, shape, opts, labelsInto);
  const map = seeds.map;
  // first voxel of each seed (seed voxels keep their label through the flood)
  const first = new Float64Array(seeds.count + 1).fill(-1);
  const sl = seeds.labels;
  const mask = opts.mask;
  if (mask) {
    for (let i = 0; i < n; i++) {
      const l = sl[i];
      if (l !== 0 && first[l] < 0 && mask[i] !== 0) first[l] = i;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const l = sl[i];
      if (l !== 0 && first[l] < 0) first[l] = i;
    }
  }
  // flooded in place (seededWatershed without its copy: the seeds are not needed afterwards)
  const labels = sl;
  if (mask) for (let i = 0; i < n; i++) if (mask[i] === 0) labels[i] = 0;
  flood(map, shape, labels, opts);
  const max = seeds.count;
  const sizes = new Float64Array(max + 1);
  for (let i = 0; i < n; i++) sizes[labels[i]]++;
  const minSize = opts.minSize ?? 0;
  let kept = 0;
  for (let l = 1; l <= max; l++) if (sizes[l] >= minSize) kept++;
  const filtered = minSize > 1 && kept > 0;
  // the sizes are known (the flood's labels are seed labels 1..max)
  const count = mergeSmallSegments(map, shape, labels, minSize > 1 ? minSize : 0, opts, sizes);
  // a surviving seed keeps its voxels (only dropped segments are re-flooded): its first voxel names its new label
  const seedVoxel = new Float64Array(count + 1).fill(-1);
  for (let l = 1; l <= max; l++) {
    if (first[l] < 0 || (filtered && sizes[l] < minSize)) continue;
    seedVoxel[labels[first[l]]] = first[l];
  }
  return { labels, count, seedVoxel };
}

/** The tiles of the grid (tile shape from bounds.min) that meet `b`, as boxes with their grid index. */
export function tilesOf(b: Box, bounds: Box, tile: Vec3): Array<{ index: Vec3; box: Box }> {
  const lo = [0, 1, 2].map((i) => Math.floor((b.min[i] - bounds.min[i]) / tile[i]));
  const hi = [0, 1, 2].map((i) => Math.ceil((b.max[i] - bounds.min[i]) / tile[i]));
  const out: Array<{ index: Vec3; box: Box }> = [];
  for (let k = lo[2]; k < hi[2]; k++)
    for (let j = lo[1]; j < hi[1]; j++)
      for (let i = lo[0]; i < hi[0]; i++) {
        const min: Vec3 = [bounds.min[0] + i * tile[0], bounds.min[1] + j * tile[1], bounds.min[2] + k * tile[2]];
        const t = boxIntersect({ min, max: [min[0] + tile[0], min[1] + tile[1], min[2] + tile[2]] }, bounds);
        out.push({ index: [i, j, k], box: t });
      }
  return out;
}

/**
 * Supervoxel ids of one tile (uint64, x fastest over `tileBox`) from `input`, the map over exactly
 * `tileBox` grown by the margin and clipped to the volume; `distinct`: the ids that occur in it.
 */
export function supervoxelTile(input: Volume, tileBox: Box, tileIndex: Vec3, p: SupervoxelBlockParams, target?: { data: BigUint64Array; box: Box }): { ids: BigUint64Array; distinct: BigUint64Array } {
  const maps: BoundaryMaps = boundaryMaps(input, { affinityOrder: p.affinityOrder, invert: p.invert, channel: p.channel, into: tileWork.mapOf(input.voxels) });
  const cb = input.box;
  const [rx, ry] = maps.shape;
  const [tx, ty, tz] = boxShape(tileBox);
  const ox = tileBox.min[0] - cb.min[0];
  const oy = tileBox.min[1] - cb.min[1];
  const oz = tileBox.min[2] - cb.min[2];
  // written into `target` (a box containing the tile) when given, else into a new array over the tile
  const dst = target ?? { data: new BigUint64Array(tx * ty * tz), box: tileBox };
  const out = dst.data;
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length * 2);
  const [dx, dy] = boxShape(dst.box);
  const dox = tileBox.min[0] - dst.box.min[0];
  const doy = tileBox.min[1] - dst.box.min[1];
  const doz = tileBox.min[2] - dst.box.min[2];
  const [Sx, Sy] = boxShape(p.bounds);
  if (maps.affinities) {
    const sv = computeSupervoxels(maps, p.supervoxels);
    const gt = boxShape(p.bounds).map((s, i) => Math.ceil(s / p.tile[i]));
    const hi = tileIndex[0] + gt[0] * (tileIndex[1] + gt[1] * tileIndex[2]) + 1;
    const local = new Uint32Array(sv.count + 1);
    let k = 0;
    for (let z = 0; z < tz; z++)
      for (let y = 0; y < ty; y++)
        for (let x = 0; x < tx; x++) {
          const l = sv.labels[x + ox + rx * (y + oy + ry * (z + oz))];
          if (l === 0) continue;
          if (local[l] === 0) local[l] = ++k;
          const i = x + dox + dx * (y + doy + dy * (z + doz));
          words[2 * i] = local[l];
          words[2 * i + 1] = hi;
        }
    const distinct = new BigUint64Array(k);
    for (let j = 0; j < k; j++) distinct[j] = (BigInt(hi) << 32n) | BigInt(j + 1);
    return { ids: out, distinct };
  }
  const sv = seededSupervoxels(maps.boundary, maps.shape, p.supervoxels, tileWork.labelsOf(maps.boundary.length));
  // label -> global id (1 + volume-linear index of its seed's first voxel), as two 32-bit words
  const idLo = new Uint32Array(sv.count + 1);
  const idHi = new Uint32Array(sv.count + 1);
  const rxy = rx * ry;
  for (let l = 1; l <= sv.count; l++) {
    const s = sv.seedVoxel[l];
    if (s < 0) throw new Error(`supervoxel tile ${boxToString(tileBox)}: label ${l} has no seed (watershed bookkeeping)`);
    const x = s % rx;
    const y = Math.floor(s / rx) % ry;
    const z = Math.floor(s / rxy);
    const g = 1 + (x + cb.min[0] - p.bounds.min[0]) + Sx * (y + cb.min[1] - p.bounds.min[1] + Sy * (z + cb.min[2] - p.bounds.min[2]));
    idLo[l] = g % 4294967296;
    idHi[l] = Math.floor(g / 4294967296);
  }
  const present = new Uint8Array(sv.count + 1);
  for (let z = 0; z < tz; z++)
    for (let y = 0; y < ty; y++) {
      const from = ox + rx * (y + oy + ry * (z + oz));
      const to = dox + dx * (y + doy + dy * (z + doz));
      for (let x = 0; x < tx; x++) {
        const l = sv.labels[from + x];
        if (l === 0) continue;
        present[l] = 1;
        const i = to + x;
        words[2 * i] = idLo[l];
        words[2 * i + 1] = idHi[l];
      }
    }
  let k = 0;
  for (let l = 1; l <= sv.count; l++) k += present[l];
  const distinct = new BigUint64Array(k);
  const dw = new Uint32Array(distinct.buffer);
  for (let l = 1, j = 0; l <= sv.count; l++) {
    if (present[l] === 0) continue;
    dw[2 * j] = idLo[l];
    dw[2 * j + 1] = idHi[l];
    j++;
  }
  return { ids: out, distinct };
}

/** Block function: the tiles covering ctx.box, each from the map over the tile grown by the margin. */
export function supervoxelBlock(ctx: BlockContext<SupervoxelBlockParams>): BlockResult {
  const p = ctx.params;
  const input = ctx.inputs.boundaries;
  const out = new BigUint64Array(boxVoxels(ctx.box));
  const found: BigUint64Array[] = [];
  for (const t of tilesOf(ctx.box, p.bounds, p.tile)) {
    for (let i = 0; i < 3; i++) {
      if (t.box.min[i] < ctx.box.min[i] || t.box.max[i] > ctx.box.max[i]) {
        throw new UsageError(`block ${boxToString(ctx.box)} is not a whole number of supervoxel tiles [${p.tile}] from [${p.bounds.min}]`);
      }
    }
    const context = boxIntersect(boxGrow(t.box, p.margin), p.bounds);
    // a block of one tile reads exactly the tile's context: no copy
    const map = boxEquals(context, input.box) ? input : input.crop(context);
    const { distinct } = supervoxelTile(map, t.box, t.index, p, { data: out, box: ctx.box });
    found.push(distinct);
  }
  // the distinct ids of the block (sorted, decimal strings), so the caller can count the supervoxels
  const all = new BigUint64Array(found.reduce((a, f) => a + f.length, 0));
  let at = 0;
  for (const f of found) {
    all.set(f, at);
    at += f.length;
  }
  all.sort();
  const ids: string[] = [];
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) ids.push(all[i].toString());
  return { volumes: { supervoxels: new Volume('uint64', ctx.box, out, 1, input.voxelSize) }, data: { ids } };
}

/** Number of distinct supervoxel ids over the block records of `supervoxelTask`. */
export function countSupervoxels(records: unknown[]): number {
  const all = new Set<string>();
  for (const r of records) for (const s of (r as { ids?: string[] } | null)?.ids ?? []) all.add(s);
  return all.size;
}

/** Parse and check a tile shape: positive whole numbers [x, y, z]. */
export function checkTile(tile: readonly number[], what = '--tile'): Vec3 {
  if (tile.length !== 3 || tile.some((t) => !Number.isInteger(t) || t <= 0)) throw new UsageError(`${what}: expected three positive whole numbers X,Y,Z, got [${tile}]`);
  return [tile[0], tile[1], tile[2]];
}

/**
 * The scheduler block for a requested block shape: each axis rounded up to whole tiles (and no
 * larger than the tiles covering the volume). `changed` says when that differs from the request
 * (ignoring a request larger than the volume).
 */
export function blockForTiles(requested: Vec3, tile: Vec3, shape: Vec3): { block: Vec3; changed: boolean } {
  let changed = false;
  const block = [0, 1, 2].map((i) => {
    const whole = Math.ceil(shape[i] / tile[i]) * tile[i];
    const b = Math.min(Math.ceil(requested[i] / tile[i]) * tile[i], whole);
    if (b !== requested[i] && requested[i] < shape[i]) changed = true;
    return b;
  }) as unknown as Vec3;
  return { block, changed };
}

export interface SupervoxelTaskOptions {
  boundaries: string;
  out: string;
  bounds: Box;
  /** whole tiles (see blockForTiles) */
  blockShape: Vec3;
  tile: Vec3;
  margin: Vec3;
  params: Omit<SupervoxelBlockParams, 'bounds' | 'tile' | 'margin'>;
  /** input channels (for the memory estimate; default 1) */
  channels?: number;
}

/** The scheduler task of blockwise supervoxels (the output layer must exist, uint64 segmentation, chunks dividing the tile). */
export function supervoxelTask(o: SupervoxelTaskOptions): BlockTask<SupervoxelBlockParams> {
  const tile = checkTile(o.tile, 'tile');
  if (o.margin.some((m) => !Number.isInteger(m) || m < 0)) throw new UsageError(`margin: expected three whole numbers >= 0, got [${o.margin}]`);
  for (let i = 0; i < 3; i++) {
    if (o.blockShape[i] % tile[i] !== 0) throw new UsageError(`block shape [${o.blockShape}] is not a whole number of supervoxel tiles [${tile}]`);
  }
  const grow = (s: Vec3): number => (s[0] + 2 * o.margin[0]) * (s[1] + 2 * o.margin[1]) * (s[2] + 2 * o.margin[2]);
  const ch = o.channels ?? 1;
  // inputs over the block's context, the output, one tile's context with its work arrays (~48 bytes a voxel)
  const memoryPerBlock = grow(o.blockShape) * 4 * ch + boxVoxels(boxFromShape(o.blockShape)) * 8 + grow(tile) * (48 + 8 * ch);
  return {
    name: 'supervoxels',
    module: import.meta.url,
    fn: 'supervoxelBlock',
    params: { ...o.params, bounds: o.bounds, tile, margin: o.margin },
    inputs: { boundaries: o.boundaries },
    outputs: { supervoxels: { layer: o.out } },
    bounds: o.bounds,
    blockShape: o.blockShape,
    margin: o.margin,
    memoryPerBlock,
  };
}

/** Chunk size for a layer written by blocks of `block` voxels: the largest divisor <= 64 per axis. */
export function chunkForBlock(block: Vec3): Vec3 {
  return block.map((b) => {
    for (let c = Math.min(64, b); c >= 1; c--) if (b % c === 0) return c;
    return 1;
  }) as unknown as Vec3;
}
