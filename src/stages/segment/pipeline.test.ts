import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { evaluateSegmentation } from '../../metrics/segmentation.js';
import { relabel } from './agglomerate.js';
import { supervoxelBodies, trainAgglomeration } from './learned.js';
import { DEFAULT_CONTACT, MEAN_METHOD_CONTACT, boundaryMaps, computeAgglomeration, computeSupervoxels, contactOf, denseSupervoxels, mergeTreeJson } from './pipeline.js';
import { buildRag } from './rag.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Voronoi cells with 1-voxel membranes; boundary = 0.95 on membranes, noisy low values inside. */
function cells(shape: Vec3, n: number, seed: number): { gt: Uint32Array; b: Float32Array } {
  const r = rng(seed);
  const [sx, sy, sz] = shape;
  const cs = Array.from({ length: n }, () => [r() * sx, r() * sy, r() * sz]);
  const N = sx * sy * sz;
  const lab = new Uint32Array(N);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        let best = 0;
        let bd = Infinity;
        cs.forEach((c, k) => {
          const d = (c[0] - x) ** 2 + (c[1] - y) ** 2 + (c[2] - z) ** 2;
          if (d < bd) {
            bd = d;
            best = k + 1;
          }
        });
        lab[x + sx * (y + sy * z)] = best;
      }
  const gt = new Uint32Array(N);
  const b = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const x = i % sx;
    const y = Math.floor(i / sx) % sy;
    const z = Math.floor(i / (sx * sy));
    const edge = (x + 1 < sx && lab[i + 1] !== lab[i]) || (y + 1 < sy && lab[i + sx] !== lab[i]) || (z + 1 < sz && lab[i + sx * sy] !== lab[i]);
    gt[i] = edge ? 0 : lab[i];
    b[i] = edge ? 0.95 : 0.3 * r();
  }
  return { gt, b };
}

describe('segment pipeline', () => {
  const shape: Vec3 = [40, 36, 12];
  const { gt, b } = cells(shape, 12, 5);
  it('boundary map -> supervoxels -> mean agglomeration recovers the cells', () => {
    const maps = boundaryMaps(Volume.from('float32', shape, b));
    const sv = computeSupervoxels(maps);
    expect(sv.count).toBeGreaterThanOrEqual(12);
    const a = computeAgglomeration(sv.labels, maps, { method: 'mean' });
    const seg = relabel(sv.labels, a.map, new Uint32Array(sv.labels.length));
    const s = evaluateSegmentation(seg, gt);
    expect(s.voi_split + s.voi_merge).toBeLessThan(0.15);
    // the tree holds every merge; the JSON names supervoxels by id
    const j = mergeTreeJson(a.tree, null, { method: 'mean' }) as { merges: unknown[] };
    expect(j.merges.length).toBe(a.tree.count);
    for (const method of ['quantile', 'mutex'] as const) {
      const m = computeAgglomeration(sv.labels, maps, { method });
      const e = evaluateSegmentation(relabel(sv.labels, m.map, new Uint32Array(sv.labels.length)), gt);
      expect(e.voi_split + e.voi_merge).toBeLessThan(0.3);
    }
  });
  it('uint8 maps are scaled, 3-channel affinities take the affinity path', () => {
    const u8 = Uint8Array.from(b, (v) => Math.round(v * 255));
    const m8 = boundaryMaps(Volume.from('uint8', shape, u8));
    expect(m8.boundary[0]).toBeCloseTo(u8[0] / 255, 6);
    // affinities from the boundary map: aff(p, p - e) = 1 - max(b[p], b[p - e])
    const [sx, sy, sz] = shape;
    const n = sx * sy * sz;
    const affs = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      const x = i % sx;
      const y = Math.floor(i / sx) % sy;
      const z = Math.floor(i / (sx * sy));
      if (x > 0) affs[i] = 1 - Math.max(b[i], b[i - 1]);
      if (y > 0) affs[n + i] = 1 - Math.max(b[i], b[i - sx]);
      if (z > 0) affs[2 * n + i] = 1 - Math.max(b[i], b[i - sx * sy]);
    }
    const maps = boundaryMaps(Volume.from('float32', shape, affs, { channels: 3 }));
    expect(maps.affinities).toBeDefined();
    const sv = computeSupervoxels(maps, { high: 0.95, minSize: 10 });
    const a = computeAgglomeration(sv.labels, maps, { method: 'mean', threshold: 0.5 });
    const s = evaluateSegmentation(relabel(sv.labels, a.map, new Uint32Array(n)), gt);
    expect(s.voi_split + s.voi_merge).toBeLessThan(0.4);
    expect(() => boundaryMaps(Volume.from('float32', shape, new Float32Array(2 * n), { channels: 2 }))).toThrow(/channels/);
  });
  it('learned agglomeration trains on one volume and segments another', () => {
    const other = cells(shape, 12, 9);
    const mapsA = boundaryMaps(Volume.from('float32', shape, b));
    const svA = computeSupervoxels(mapsA);
    // the graph a model is trained on reads faces as the learned method does (train-agglomeration: DEFAULT_CONTACT)
    const ragA = computeAgglomeration(svA.labels, mapsA, { method: 'mean', contact: DEFAULT_CONTACT }).rag;
    const { forest, samples } = trainAgglomeration([{ rag: ragA, body: supervoxelBodies(svA.labels, gt, ragA.nNodes) }], { nTrees: 20 });
    expect(samples).toBeGreaterThan(10);
    const mapsB = boundaryMaps(Volume.from('float32', shape, other.b));
    const svB = computeSupervoxels(mapsB);
    const a = computeAgglomeration(svB.labels, mapsB, { method: 'learned', forest });
    const s = evaluateSegmentation(relabel(svB.labels, a.map, new Uint32Array(svB.labels.length)), other.gt);
    expect(s.voi_split + s.voi_merge).toBeLessThan(0.3);
    expect(() => computeAgglomeration(svB.labels, mapsB, { method: 'learned' })).toThrow(/model/);
  });
  it('the mean method reads a face by MEAN_METHOD_CONTACT, the others by the max of its two voxels; a given contact wins', () => {
    const maps = boundaryMaps(Volume.from('float32', shape, b));
    const sv = computeSupervoxels(maps);
    const sums = (contact: 'max' | 'mean'): Float64Array => buildRag(sv.labels, maps.boundary, shape, { contact }).sum;
    // the two readings differ on this map (noisy interiors next to 0.95 membranes)
    expect(sums('max')).not.toEqual(sums('mean'));
    expect(contactOf({})).toBe(MEAN_METHOD_CONTACT);
    expect(computeAgglomeration(sv.labels, maps).rag.sum).toEqual(sums(MEAN_METHOD_CONTACT));
    expect(computeAgglomeration(sv.labels, maps, { method: 'mean' }).rag.sum).toEqual(sums(MEAN_METHOD_CONTACT));
    for (const method of ['quantile', 'mutex', 'multicut'] as const) {
      expect(contactOf({ method })).toBe(DEFAULT_CONTACT);
      expect(computeAgglomeration(sv.labels, maps, { method }).rag.sum).toEqual(sums(DEFAULT_CONTACT));
    }
    for (const contact of ['max', 'mean'] as const) {
      expect(computeAgglomeration(sv.labels, maps, { method: 'mean', contact }).rag.sum).toEqual(sums(contact));
      expect(computeAgglomeration(sv.labels, maps, { method: 'mutex', contact }).rag.sum).toEqual(sums(contact));
    }
  });
  it('dense supervoxels from uint64 ids', () => {
    const v = Volume.from('uint64', [4, 1, 1], BigUint64Array.from([0n, 864691135639556411n, 5n, 864691135639556411n]));
    const d = denseSupervoxels(v);
    expect(Array.from(d.labels)).toEqual([0, 1, 2, 1]);
    expect(d.ids[1]).toBe(864691135639556411n);
  });
});

describe('default and self-calibrated cuts', () => {
  /** A chain of n supervoxels in x: contacts alternate "inside a cell" (low) and "membrane" (high). */
  function chain(low: number, high: number): { sv: Uint32Array; maps: ReturnType<typeof boundaryMaps> } {
    const n = 12;
    const w = 4;
    const shape: Vec3 = [n * w, 3, 3];
    const N = shape[0] * 9;
    const sv = new Uint32Array(N);
    const b = new Float32Array(N).fill(0.05);
    for (let i = 0; i < N; i++) {
      const x = i % shape[0];
      sv[i] = Math.floor(x / w) + 1;
      // the last column of supervoxel k carries the contact value to k + 1
      if (x % w === w - 1 && x + 1 < shape[0]) b[i] = Math.floor(x / w) % 2 === 0 ? low : high;
    }
    return { sv, maps: boundaryMaps(Volume.from('float32', shape, b)) };
  }
  it('auto cuts between the two populations of contact scores, wherever the map puts them', () => {
    for (const [low, high] of [[0.2, 0.9], [0.45, 0.95], [0.1, 0.6]]) {
      const { sv, maps } = chain(low, high);
      const r = computeAgglomeration(sv, maps, { threshold: 'auto' });
      expect(r.threshold).toBeGreaterThan(low);
      expect(r.threshold).toBeLessThan(high);
      expect(r.count).toBe(6); // every low contact merged, no high one
    }
    expect(() => computeAgglomeration(chain(0.2, 0.9).sv, chain(0.2, 0.9).maps, { method: 'quantile', threshold: 'auto' })).toThrow(/auto/);
  });
  it('anisotropic stacks default to a lower mean cut', () => {
    const { sv, maps } = chain(0.6, 0.95);
    expect(computeAgglomeration(sv, maps).threshold).toBe(0.7);
    expect(computeAgglomeration(sv, maps).count).toBe(6);
    const a = computeAgglomeration(sv, maps, { anisotropic: true });
    expect(a.threshold).toBe(0.55);
    expect(a.count).toBe(12);
  });
});
