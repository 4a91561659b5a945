/**
 * Split touching objects: within each object of `labels`, the components of the seed mask
 * (`seedMask` != 0, `minSeed` voxels or more) become seeds, and a seeded watershed of
 * `values` (low = inside an object, high = between objects) floods the object from them; two
 * objects that touch along a ridge of `values` are cut there. An object with fewer than two seeds
 * is left whole. Flooding never leaves an object (the mask is the objects' voxels), so a split only
 * ever cuts an object into parts.
 *
 * Output labels are 1..count in raster order of each part's first voxel; 0 stays background.
 * Memory: a few arrays of the volume's size (labels, seeds), plus each split object's bounding box;
 * the flood runs only in the boxes of objects with two or more seeds.
 */
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import { type Connectivity, compactLabels, connectedComponents } from './components.js';
import { seededWatershed } from './watershed.js';

export interface SplitOptions {
  /** smallest seed (voxels) */
  minSeed?: number;
  /** seed connectivity (default 26) */
  connectivity?: Connectivity;
  /** flood each section on its own (seeds are still 3-D components) */
  twoD?: boolean;
}

export function splitObjects(labels: Uint32Array, values: Float32Array, seeds0: Uint8Array, shape: Vec3, o: SplitOptions = {}): { labels: Uint32Array; count: number } {
  const n = shape[0] * shape[1] * shape[2];
  if (labels.length !== n || values.length !== n || seeds0.length !== n) throw new UsageError(`splitObjects: labels (${labels.length}), values (${values.length}) and seed mask (${seeds0.length}) must each hold ${n} voxels for shape [${shape}]`);
  const seedMask = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (labels[i] !== 0 && seeds0[i]) seedMask[i] = 1;
  // seed components never join two objects: components of the seed mask split by object label
  const cc = connectedComponents(seedMask, shape, { connectivity: o.connectivity ?? 26 });
  const size = new Float64Array(cc.count + 1);
  for (let i = 0; i < n; i++) if (cc.labels[i]) size[cc.labels[i]]++;
  const minSeed = o.minSeed ?? 1;
  // per object: its seeds (seed component ids are keyed by object so a seed crossing objects is two)
  const key = new Map<number, number>();
  const objectSeeds = new Map<number, number>();
  const seeds = new Uint32Array(n);
  let next = 0;
  for (let i = 0; i < n; i++) {
    const s = cc.labels[i];
    if (!s || size[s] < minSeed) continue;
    const k = s * 4294967296 + labels[i];
    let id = key.get(k);
    if (id === undefined) {
      id = ++next;
      key.set(k, id);
      objectSeeds.set(labels[i], (objectSeeds.get(labels[i]) ?? 0) + 1);
    }
    seeds[i] = id;
  }
  // objects with fewer than two seeds stay whole: one seed = the whole object
  const whole = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (!l || (objectSeeds.get(l) ?? 0) >= 2) continue;
    let id = whole.get(l);
    if (id === undefined) {
      id = ++next;
      whole.set(l, id);
    }
    seeds[i] = id;
  }
  const flooded = floodSplitObjects(values, shape, labels, seeds, objectSeeds, o.twoD);
  // voxels the 6-connected flood could not reach (joined to their object only diagonally, or cut
  // off within a section by twoD flooding) take the part of a 26-neighbour of the same object
  fillDiagonal(flooded, labels, shape);
  const { labels: out, count } = compactLabels(flooded);
  return { labels: out, count };
}

/**
 * The seeded watershed of each object with two or more seeds, each in its own bounding box (the
 * other objects are whole already in `seeds`): the same flood as over the whole volume with the
 * objects as mask, at the cost of the split objects' boxes only.
 */
function floodSplitObjects(values: Float32Array, shape: Vec3, labels: Uint32Array, seeds: Uint32Array, objectSeeds: Map<number, number>, twoD?: boolean): Uint32Array {
  const [sx, sy] = shape;
  const out = seeds.slice();
  const boxes = new Map<number, number[]>();
  for (const [l, c] of objectSeeds) if (c >= 2) boxes.set(l, [Infinity, Infinity, Infinity, -1, -1, -1]);
  if (boxes.size === 0) return out;
  for (let i = 0; i < labels.length; i++) {
    const b = labels[i] ? boxes.get(labels[i]) : undefined;
    if (!b) continue;
    const x = i % sx, y = Math.floor(i / sx) % sy, z = Math.floor(i / (sx * sy));
    if (x < b[0]) b[0] = x;
    if (y < b[1]) b[1] = y;
    if (z < b[2]) b[2] = z;
    if (x > b[3]) b[3] = x;
    if (y > b[4]) b[4] = y;
    if (z > b[5]) b[5] = z;
  }
  for (const [l, b] of boxes) {
    const cs: Vec3 = [b[3] - b[0] + 1, b[4] - b[1] + 1, b[5] - b[2] + 1];
    const cn = cs[0] * cs[1] * cs[2];
    const v = new Float32Array(cn), sd = new Uint32Array(cn), m = new Uint8Array(cn);
    for (let z = 0, j = 0; z < cs[2]; z++) {
      for (let y = 0; y < cs[1]; y++) {
        for (let x = 0, i = b[0] + sx * (b[1] + y + sy * (b[2] + z)); x < cs[0]; x++, i++, j++) {
          if (labels[i] !== l) continue;
          m[j] = 1;
          v[j] = values[i];
          sd[j] = seeds[i];
        }
      }
    }
    const f = seededWatershed(v, cs, sd, { mask: m, twoD });
    for (let z = 0, j = 0; z < cs[2]; z++) {
      for (let y = 0; y < cs[1]; y++) {
        for (let x = 0, i = b[0] + sx * (b[1] + y + sy * (b[2] + z)); x < cs[0]; x++, i++, j++) if (m[j]) out[i] = f[j];
      }
    }
  }
  return out;
}

/** Give every object voxel left at 0 in `parts` the part of a 26-neighbour in the same object, pass after pass until none changes. */
function fillDiagonal(parts: Uint32Array, labels: Uint32Array, shape: Vec3): void {
  const [sx, sy, sz] = shape;
  let todo: number[] = [];
  for (let i = 0; i < parts.length; i++) if (labels[i] && !parts[i]) todo.push(i);
  while (todo.length) {
    const left: number[] = [];
    const got: Array<[number, number]> = [];
    for (const i of todo) {
      const x = i % sx, y = Math.floor(i / sx) % sy, z = Math.floor(i / (sx * sy));
      let found = 0;
      for (let dz = -1; dz <= 1 && !found; dz++) {
        for (let dy = -1; dy <= 1 && !found; dy++) {
          for (let dx = -1; dx <= 1 && !found; dx++) {
            const X = x + dx, Y = y + dy, Z = z + dz;
            if (X < 0 || Y < 0 || Z < 0 || X >= sx || Y >= sy || Z >= sz) continue;
            const j = X + sx * (Y + sy * Z);
            if (labels[j] === labels[i] && parts[j]) found = parts[j];
          }
        }
      }
      if (found) got.push([i, found]);
      else left.push(i);
    }
    // an object part with no flooded voxel at all cannot happen (every object holds a seed)
    if (got.length === 0) throw new Error('splitObjects: internal: object voxels unreachable from any seed');
    for (const [i, v] of got) parts[i] = v;
    todo = left;
  }
}
