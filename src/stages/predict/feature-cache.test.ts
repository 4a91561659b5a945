import { describe, expect, it } from 'vitest';
import { type Vec3, boxFromShape, boxVoxels } from '../../core/box.js';
import { mulberry32 } from '../../core/random.js';
import { Volume } from '../../core/volume.js';
import { FeatureCache, groupTiles } from './feature-cache.js';
import { computeFeatures, featureConfig } from './features.js';
import { memorySource } from './training.js';

function noise(shape: Vec3, seed: number): Volume {
  const v = Volume.zeros('uint8', boxFromShape(shape), { voxelSize: [8, 8, 30] });
  const r = mulberry32(seed);
  const d = v.data as Uint8Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.floor(r() * 256);
  return v;
}

describe('groupTiles', () => {
  // tiles of 10 x 10 x 1 voxels with a margin of 5 in x and y
  const cost = (lo: Vec3, hi: Vec3) => ((hi[0] - lo[0] + 1) * 10 + 10) * ((hi[1] - lo[1] + 1) * 10 + 10) * (hi[2] - lo[2] + 1);
  const voxels = (lo: Vec3, hi: Vec3) => (hi[0] - lo[0] + 1) * 10 * (hi[1] - lo[1] + 1) * 10 * (hi[2] - lo[2] + 1);
  it('keeps a block of adjacent tiles whole and splits tiles far apart', () => {
    const block: Vec3[] = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) block.push([x, y, 0]);
    expect(groupTiles(block, cost, voxels, 1e9)).toHaveLength(1);
    const far: Vec3[] = [[0, 0, 0], [50, 0, 0], [0, 50, 0]];
    const g = groupTiles(far, cost, voxels, 1e9);
    expect(g).toHaveLength(3);
    expect(g.flat().map((t) => t.join()).sort()).toEqual(far.map((t) => t.join()).sort());
    // every tile once, whatever the split
    const mixed: Vec3[] = [...block, [20, 20, 0], [21, 20, 0], [0, 0, 3]];
    expect(groupTiles(mixed, cost, voxels, 1e9).flat().map((t) => t.join()).sort()).toEqual(mixed.map((t) => t.join()).sort());
    // the voxel cap splits a block that would otherwise stay whole
    expect(groupTiles(block, cost, voxels, 400).length).toBeGreaterThan(1);
    expect(groupTiles([], cost, voxels, 1)).toEqual([]);
  });
});

describe('FeatureCache', () => {
  it('gives the whole-volume features bit for bit, by box and at points, whatever tiles were computed together', async () => {
    const v = noise([150, 90, 3], 4);
    const raw = memorySource(v, 'noise');
    const cfg = featureConfig(v.voxelSize, { dims: 2, sigmas: [0.7, 1.6, 3.5] });
    const whole = computeFeatures(Float32Array.from(v.data as Uint8Array), v.shape, cfg);
    const nv = v.voxels;
    const cache = new FeatureCache(raw, cfg, { tile: [32, 32, 1] });
    const F = cache.F;
    // points first (scattered tiles, grouped in one batch), then a box overlapping them
    const pts: Vec3[] = [[0, 0, 0], [149, 89, 2], [70, 40, 1], [71, 40, 1], [5, 80, 2]];
    const at = await cache.at(pts);
    pts.forEach((p, j) => {
      const i = p[0] + 150 * (p[1] + 90 * p[2]);
      for (let f = 0; f < F; f++) expect(at.x[f * pts.length + j]).toBe(whole[f * nv + i]);
      expect(at.raw[j]).toBe((v.data as Uint8Array)[i]);
    });
    const b = { min: [20, 10, 1], max: [140, 75, 3] } as const;
    const { x } = await cache.box(b);
    const n = boxVoxels(b);
    let bad = 0;
    for (let z = b.min[2], j = 0; z < b.max[2]; z++) for (let y = b.min[1]; y < b.max[1]; y++) for (let xx = b.min[0]; xx < b.max[0]; xx++, j++) for (let f = 0; f < F; f++) if (x[f * n + j] !== whole[f * nv + xx + 150 * (y + 90 * z)]) bad++;
    expect(bad).toBe(0);
    expect(cache.stats.tileHits).toBeGreaterThan(0); // the box reused tiles of the points
    await expect(cache.at([[150, 0, 0]])).rejects.toThrow(/outside the volume/);
    await expect(cache.box({ min: [0, 0, 0], max: [151, 1, 1] })).rejects.toThrow(/not inside the volume/);
  });

  it('keeps memory under its budget, evicting the least recently used tiles', async () => {
    const v = noise([128, 128, 2], 9);
    const cfg = featureConfig(v.voxelSize, { dims: 2, sigmas: [1] });
    const tileBytes = 32 * 32 * (featureCache(cfg) + 1) * 4;
    const cache = new FeatureCache(memorySource(v), cfg, { tile: [32, 32, 1], budgetBytes: 5 * tileBytes });
    await cache.box({ min: [0, 0, 0], max: [128, 128, 2] }); // 32 tiles
    expect(cache.cachedBytes).toBeLessThanOrEqual(5 * tileBytes);
    expect(cache.cachedBytes).toBeGreaterThan(0);
    const computed = cache.stats.tilesComputed;
    await cache.box({ min: [96, 96, 1], max: [128, 128, 2] }); // the last tile: still cached
    expect(cache.stats.tilesComputed).toBe(computed);
    await cache.box({ min: [0, 0, 0], max: [32, 32, 1] }); // the first: evicted, computed again
    expect(cache.stats.tilesComputed).toBe(computed + 1);
  });
});

function featureCache(cfg: ReturnType<typeof featureConfig>): number {
  return new FeatureCache(memorySource(noise([1, 1, 1], 1)), cfg).F;
}
