import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { type Box, type Vec3, boxFromShape, boxGrow, boxIntersect } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { anchorId, choosePartners, defaultPartnerRadius, detectOrganelles, detectSynapses, smallestEigenvector, type SynapseParams } from './detect.js';
import { mergeBlockData, storeDetections, synapseBlock, type SynapseTaskParams } from './tasks.js';

const A = (1n << 60n) + 1n; // ids above 2^53
const B = (1n << 60n) + 2n;
const VS: Vec3 = [4, 4, 40];

/** Two cells touching across a membrane plane x = 11..12, a cleft in the membrane, vesicles on A's side. */
function twoCells(vesicleSide: 'A' | 'B' | 'none' = 'A') {
  const shape: Vec3 = [24, 16, 8];
  const n = shape[0] * shape[1] * shape[2];
  const seg = new BigUint64Array(n);
  const cleft = new Uint8Array(n);
  const ves = new Float32Array(n);
  for (let z = 0; z < 8; z++)
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 24; x++) {
        const i = x + 24 * (y + 16 * z);
        seg[i] = x < 11 ? A : x > 12 ? B : 0n;
        if (x >= 11 && x <= 12 && y >= 5 && y < 10 && z >= 2 && z < 6) cleft[i] = 230;
        if (y >= 5 && y < 10 && z >= 2 && z < 6) {
          if (vesicleSide === 'A' && x >= 6 && x < 10) ves[i] = 0.9;
          if (vesicleSide === 'B' && x >= 14 && x < 18) ves[i] = 0.9;
        }
      }
  const opts = { voxelSize: VS };
  return {
    shape,
    seg: Volume.from('uint64', shape, seg, opts),
    cleft: Volume.from('uint8', shape, cleft, opts),
    ves: Volume.from('float32', shape, ves, opts),
  };
}

function params(bounds: Box, extra: Partial<SynapseParams> = {}): SynapseParams {
  return { threshold: 0.5, minSize: 5, vesicleThreshold: 0.5, partnerRadius: 12, vesicleRadius: 40, voxelSize: VS, bounds, ...extra };
}

describe('detectSynapses', () => {
  it('finds the cleft between two cells; pre = the side with the vesicle cloud', () => {
    const v = twoCells('A');
    const b = boxFromShape(v.shape);
    const r = detectSynapses({ clefts: v.cleft, segmentation: v.seg, vesicles: v.ves }, b, params(b));
    expect(r.synapses.length).toBe(1);
    const s = r.synapses[0];
    expect(s.pre_pt_root_id).toBe(A);
    expect(s.post_pt_root_id).toBe(B);
    expect(s.size).toBe(2 * 5 * 4);
    expect(s.id).toBe(anchorId([11, 5, 2], b));
    // ctr on the cleft; pre point inside A, post inside B, each along the cleft's normal about one
    // partner radius (12 nm = 3 voxels) beyond the cleft's centre (x 48 nm): 36 nm -> voxel 8 (a tie
    // with 9 goes to the first in memory order), 60 nm -> voxel 14; in the cleft's middle in y and z
    expect(s.ctr_pt_position[0] / 4 - 0.5).toBeGreaterThanOrEqual(11);
    expect(s.ctr_pt_position[0] / 4 - 0.5).toBeLessThanOrEqual(12);
    expect(s.pre_pt_position[0] / 4 - 0.5).toBe(8);
    expect(s.post_pt_position[0] / 4 - 0.5).toBe(14);
    for (const q of [s.pre_pt_position, s.post_pt_position]) {
      expect(q[1] / 4 - 0.5).toBe(7);
      expect(q[2] / 40 - 0.5).toBe(3);
    }
    expect(s.ctr_pt_position[2]).toBe((3 + 0.5) * 40);
    const swapped = detectSynapses({ clefts: v.cleft, segmentation: v.seg, vesicles: twoCells('B').ves }, b, params(b)).synapses[0];
    expect([swapped.pre_pt_root_id, swapped.post_pt_root_id]).toEqual([B, A]);
  });

  it('finds the partners of a cleft lying in one section (anisotropic voxels) with the default radius', () => {
    // 8x8x30 nm voxels: A in sections 0-1, B in 3-4, the cleft fills section 2 in a 6x6 patch; a
    // third cell C beside the cleft in section 2; A holds the vesicles. The partners are one
    // section (30 nm) away: 3 voxels along x (24 nm) reach only C, the default reaches A and B.
    const vs: Vec3 = [8, 8, 30];
    const shape: Vec3 = [16, 16, 5];
    const n = shape[0] * shape[1] * shape[2];
    const seg = new BigUint64Array(n);
    const cleft = new Uint8Array(n);
    const ves = new Float32Array(n);
    const C = A + 4n;
    for (let z = 0; z < 5; z++)
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++) {
          const i = x + 16 * (y + 16 * z);
          const inPatch = x >= 5 && x < 11 && y >= 5 && y < 11;
          seg[i] = z < 2 ? A : z > 2 ? B : inPatch ? 0n : C;
          if (z === 2 && inPatch) cleft[i] = 255;
          if (z < 2 && inPatch) ves[i] = 0.9;
        }
    const opts = { voxelSize: vs };
    const inp = { clefts: Volume.from('uint8', shape, cleft, opts), segmentation: Volume.from('uint64', shape, seg, opts), vesicles: Volume.from('float32', shape, ves, opts) };
    const b = boxFromShape(shape);
    expect(defaultPartnerRadius(vs)).toBe(38);
    expect(defaultPartnerRadius([4, 4, 4])).toBe(12);
    const p = { threshold: 0.5, minSize: 5, vesicleThreshold: 0.5, voxelSize: vs, bounds: b };
    const narrow = detectSynapses(inp, b, { ...p, partnerRadius: 24 });
    expect(narrow.synapses).toEqual([]);
    const r = detectSynapses(inp, b, { ...p, partnerRadius: defaultPartnerRadius(vs) });
    expect(r.synapses.length).toBe(1);
    expect([r.synapses[0].pre_pt_root_id, r.synapses[0].post_pt_root_id]).toEqual([A, B]);
    // the points lie in A below and in B above the cleft's centre
    expect(r.synapses[0].pre_pt_position[2]).toBe(1.5 * 30);
    expect(r.synapses[0].post_pt_position[2]).toBe(3.5 * 30);
  });

  it('size filter, threshold, no vesicles, one-sided clefts, empty volume', () => {
    const v = twoCells('A');
    const b = boxFromShape(v.shape);
    expect(detectSynapses({ clefts: v.cleft, segmentation: v.seg, vesicles: v.ves }, b, params(b, { minSize: 41 })).dropped.small).toBe(1);
    expect(detectSynapses({ clefts: v.cleft, segmentation: v.seg, vesicles: v.ves }, b, params(b, { threshold: 0.95 })).synapses).toEqual([]);
    // no vesicle map: direction unknown -> the two touching segments, smaller id first
    const nv = detectSynapses({ clefts: v.cleft, segmentation: v.seg }, b, params(b)).synapses[0];
    expect([nv.pre_pt_root_id, nv.post_pt_root_id]).toEqual([A, B]);
    // vesicle map without vesicles near the cleft: no partner assignment
    const none = detectSynapses({ clefts: v.cleft, segmentation: v.seg, vesicles: twoCells('none').ves }, b, params(b));
    expect(none.synapses).toEqual([]);
    expect(none.dropped.noPartners).toBe(1);
    // a cleft inside one cell only: one candidate, dropped
    const seg1 = Volume.from('uint64', v.shape, new BigUint64Array(v.seg.voxels).fill(A), { voxelSize: VS });
    expect(detectSynapses({ clefts: v.cleft, segmentation: seg1, vesicles: v.ves }, b, params(b)).dropped.noPartners).toBe(1);
    const empty = Volume.zeros('uint8', v.shape, { voxelSize: VS });
    expect(detectSynapses({ clefts: empty, segmentation: v.seg }, b, params(b)).synapses).toEqual([]);
    const one = boxFromShape([1, 1, 1]);
    expect(detectSynapses({ clefts: Volume.zeros('float32', one), segmentation: Volume.zeros('uint32', one) }, one, params(one)).synapses).toEqual([]);
  });

  it('pairs segments across the cleft: two fragments of an over-split cell on one side are not partners', () => {
    // A is split at y = 8 into A (y < 8) and A2 (y >= 8) on the same side of the cleft (x < 11);
    // both touch the cleft more than B does (B starts 2 voxels farther away, x > 14)
    const v = twoCells('A');
    const A2 = (1n << 60n) + 3n;
    const seg = v.seg.data as BigUint64Array;
    for (let z = 0; z < 8; z++)
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 24; x++) {
          const i = x + 24 * (y + 16 * z);
          if (x < 11 && y >= 8) seg[i] = A2;
          if (x > 12 && x <= 14) seg[i] = 0n;
        }
    const b = boxFromShape(v.shape);
    const r = detectSynapses({ clefts: v.cleft, segmentation: v.seg, vesicles: v.ves }, b, params(b, { partnerRadius: 16 }));
    expect(r.synapses.length).toBe(1);
    expect(r.synapses[0].post_pt_root_id).toBe(B);
    expect([A, A2]).toContain(r.synapses[0].pre_pt_root_id);
  });

  it('choosePartners: best pair across the plane, fallback to the top two without sides', () => {
    const ids = (l: number) => BigInt(l);
    // 1 and 2 on the + side (strong), 3 on the - side (weak)
    const c = new Map([[1, { w: 10, wPos: 10 }], [2, { w: 8, wPos: 8 }], [3, { w: 3, wPos: 0 }]]);
    expect(choosePartners(c, ids)).toEqual([1, 3]);
    // one segment straddling the plane is not paired with itself
    const d = new Map([[1, { w: 10, wPos: 5 }], [2, { w: 2, wPos: 0 }]]);
    expect(choosePartners(d, ids)).toEqual([1, 2]);
    // nothing on the - side: the two with the most contact
    const e = new Map([[1, { w: 4, wPos: 4 }], [2, { w: 9, wPos: 9 }], [3, { w: 1, wPos: 1 }]]);
    expect(choosePartners(e, ids)).toEqual([2, 1]);
  });

  it('smallestEigenvector: the normal of a sheet, for axis-aligned and rotated covariances', () => {
    const n = smallestEigenvector([9, 0, 0, 0, 0.1, 0, 0, 0, 4]);
    expect(Math.abs(n[1])).toBeCloseTo(1, 9);
    // rotate diag(5, 3, 0.2) by 30 degrees about z: the normal stays z; about x: (0, -sin, cos)
    const t = Math.PI / 6;
    const [c, s] = [Math.cos(t), Math.sin(t)];
    const R = [1, 0, 0, 0, c, -s, 0, s, c];
    const D = [5, 3, 0.2];
    const M = [0, 0, 0, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) M[3 * i + j] += R[3 * i + k] * D[k] * R[3 * j + k];
    const m = smallestEigenvector(M);
    const dot = m[0] * 0 + m[1] * -s + m[2] * c;
    expect(Math.abs(dot)).toBeCloseTo(1, 9);
  });

  it('blockwise results equal the whole-volume result (random clefts, margins hold them)', () => {
    const shape: Vec3 = [48, 40, 12];
    const n = shape[0] * shape[1] * shape[2];
    const seg = new Uint32Array(n);
    const cleft = new Float32Array(n);
    const ves = new Float32Array(n);
    // vertical slabs of cells 6 wide with 1-voxel membranes; clefts in random membrane patches
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let z = 0; z < shape[2]; z++)
      for (let y = 0; y < shape[1]; y++)
        for (let x = 0; x < shape[0]; x++) seg[x + shape[0] * (y + shape[1] * z)] = x % 7 === 6 ? 0 : 1 + Math.floor(x / 7) + 10 * Math.floor(y / 10);
    for (let k = 0; k < 25; k++) {
      const mx = 6 + 7 * Math.floor(rnd() * 6);
      const y0 = Math.floor(rnd() * 36);
      const z0 = Math.floor(rnd() * 9);
      const left = rnd() < 0.5;
      for (let z = z0; z < z0 + 3; z++)
        for (let y = y0; y < Math.min(shape[1], y0 + 3); y++) {
          cleft[mx + shape[0] * (y + shape[1] * z)] = 0.8;
          for (let d = 1; d <= 3; d++) {
            const vx = left ? mx - d : mx + d;
            if (vx >= 0 && vx < shape[0]) ves[vx + shape[0] * (y + shape[1] * z)] = 0.7;
          }
        }
    }
    const vs: Vec3 = [4, 4, 8];
    const vol = {
      clefts: Volume.from('float32', shape, cleft, { voxelSize: vs }),
      segmentation: Volume.from('uint32', shape, seg, { voxelSize: vs }),
      vesicles: Volume.from('float32', shape, ves, { voxelSize: vs }),
    };
    const bounds = boxFromShape(shape);
    const p: SynapseTaskParams = { threshold: 0.5, minSize: 3, vesicleThreshold: 0.5, partnerRadius: 6, vesicleRadius: 16, voxelSize: vs, bounds };
    const whole = synapseBlock({ box: bounds, readBox: bounds, inputs: vol, params: p, blockIndex: [0, 0, 0] }).data as ReturnType<typeof mergeBlockData>;
    expect(whole.synapses.length).toBeGreaterThan(10);
    for (const bs of [[16, 16, 4], [20, 13, 5], [48, 40, 12]] as Vec3[]) {
      const margin: Vec3 = [12, 12, 8];
      const blocks: { data?: unknown }[] = [];
      for (let z = 0; z < shape[2]; z += bs[2])
        for (let y = 0; y < shape[1]; y += bs[1])
          for (let x = 0; x < shape[0]; x += bs[0]) {
            const box = boxIntersect(boxFromShape(bs, [x, y, z]), bounds);
            const readBox = boxIntersect(boxGrow(box, margin), bounds);
            const inputs = Object.fromEntries(Object.entries(vol).map(([k, v]) => [k, v.crop(readBox)]));
            blocks.push(synapseBlock({ box, readBox, inputs, params: p, blockIndex: [0, 0, 0] }));
          }
      const merged = mergeBlockData(blocks);
      expect(merged.truncated).toBe(0);
      expect(merged.synapses).toEqual(mergeBlockData([{ data: whole }]).synapses);
    }
  });
});

describe('detectOrganelles', () => {
  it('objects with size, central position and host cell; ids distinct across kinds', () => {
    const v = twoCells('A');
    const b = boxFromShape(v.shape);
    const base = { threshold: 0.5, minSize: 1, voxelSize: VS, bounds: b };
    const vc = detectOrganelles(v.ves, v.seg, b, { ...base, kind: 'vesicle_cloud' });
    expect(vc.organelles.length).toBe(1);
    expect(vc.organelles[0]).toMatchObject({ kind: 'vesicle_cloud', size: 4 * 5 * 4, host_root_id: A });
    const mito = detectOrganelles(v.ves, v.seg, b, { ...base, kind: 'mitochondrion' });
    expect(mito.organelles[0].id).not.toBe(vc.organelles[0].id);
    expect(detectOrganelles(v.ves, v.seg, b, { ...base, minSize: 81, kind: 'mitochondrion' }).small).toBe(1);
  });
});

describe('storeDetections', () => {
  it('writes synapses and organelles to the connectome store with exact ids', async () => {
    const v = twoCells('A');
    const b = boxFromShape(v.shape);
    const p: SynapseTaskParams = { ...params(b), organelles: [{ input: 'vesicles', kind: 'vesicle_cloud', threshold: 0.5, minSize: 1 }] };
    const r = synapseBlock({ box: b, readBox: b, inputs: { clefts: v.cleft, segmentation: v.seg, vesicles: v.ves }, params: p, blockIndex: [0, 0, 0] });
    const dir = await tempDir('wiring-syn-');
    const store = await ConnectomeStore.open(path.join(dir, 's.duckdb'));
    try {
      await storeDetections(store, mergeBlockData([r]));
      const rows = await store.all('SELECT pre_pt_root_id, post_pt_root_id, size FROM synapses');
      expect(rows).toEqual([{ pre_pt_root_id: A, post_pt_root_id: B, size: 40 }]);
      expect(await store.all('SELECT kind, host_root_id FROM organelles')).toEqual([{ kind: 'vesicle_cloud', host_root_id: A }]);
    } finally {
      await store.close();
    }
  });
});

describe('detection scored against generated ground truth', () => {
  it('a grid of cells with clefts on x, y and z faces: partner F-score 1, cleft distance 0', async () => {
    const { synapticPartnerScore, cleftDistanceScore } = await import('../../metrics/synapses.js');
    // cubes of 16x16x6 voxels (membrane = last plane of each cube), 4x4x3 cubes, voxels 8x8x40 nm
    const C: Vec3 = [16, 16, 6];
    const G: Vec3 = [4, 4, 3];
    const shape: Vec3 = [C[0] * G[0], C[1] * G[1], C[2] * G[2]];
    const vs: Vec3 = [8, 8, 40];
    const n = shape[0] * shape[1] * shape[2];
    const idx = (x: number, y: number, z: number) => x + shape[0] * (y + shape[1] * z);
    const cellOf = (x: number, y: number, z: number) => Math.floor(x / C[0]) + G[0] * (Math.floor(y / C[1]) + G[1] * Math.floor(z / C[2]));
    const rootOf = (c: number) => (1n << 55n) + BigInt(c) * 1000n;
    const seg = new BigUint64Array(n);
    for (let z = 0; z < shape[2]; z++)
      for (let y = 0; y < shape[1]; y++)
        for (let x = 0; x < shape[0]; x++) {
          const m = x % C[0] === C[0] - 1 || y % C[1] === C[1] - 1 || z % C[2] === C[2] - 1;
          seg[idx(x, y, z)] = m ? 0n : rootOf(cellOf(x, y, z));
        }
    const cleft = new Uint8Array(n);
    const ves = new Uint8Array(n);
    const gt: { pre_id: bigint; post_id: bigint; pre: Vec3; post: Vec3 }[] = [];
    let s = 99;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let cz = 0; cz < G[2]; cz++)
      for (let cy = 0; cy < G[1]; cy++)
        for (let cx = 0; cx < G[0]; cx++) {
          const axis = Math.floor(rnd() * 3);
          const nb = [cx, cy, cz];
          nb[axis]++;
          if (nb[axis] >= G[axis]) continue;
          const a = cx + G[0] * (cy + G[1] * cz);
          const b = nb[0] + G[0] * (nb[1] + G[1] * nb[2]);
          const preIsA = rnd() < 0.5;
          // membrane plane between a and b along `axis`, patch in the middle of the face
          const lo = [cx * C[0], cy * C[1], cz * C[2]];
          const mid = [lo[0] + 7, lo[1] + 7, lo[2] + 2];
          const plane = lo[axis] + C[axis] - 1;
          const half = axis === 2 ? [2, 2, 0] : axis === 0 ? [0, 2, 1] : [2, 0, 1];
          for (let dz = -half[2]; dz <= half[2]; dz++)
            for (let dy = -half[1]; dy <= half[1]; dy++)
              for (let dx = -half[0]; dx <= half[0]; dx++) {
                const p = [mid[0] + dx, mid[1] + dy, mid[2] + dz];
                p[axis] = plane;
                cleft[idx(p[0], p[1], p[2])] = 255;
                // vesicles: 1-3 voxels into the presynaptic cell (1 voxel along z)
                const depth = axis === 2 ? 1 : 3;
                for (let d = 1; d <= depth; d++) {
                  const q = [...p];
                  q[axis] = preIsA ? plane - d : plane + d;
                  ves[idx(q[0], q[1], q[2])] = 255;
                }
              }
          const pPre = [...mid];
          const pPost = [...mid];
          pPre[axis] = preIsA ? plane - 1 : plane + 1;
          pPost[axis] = preIsA ? plane + 1 : plane - 1;
          const nmOf = (p: number[]): Vec3 => [(p[0] + 0.5) * vs[0], (p[1] + 0.5) * vs[1], (p[2] + 0.5) * vs[2]];
          gt.push({ pre_id: rootOf(preIsA ? a : b), post_id: rootOf(preIsA ? b : a), pre: nmOf(pPre), post: nmOf(pPost) });
        }
    expect(gt.length).toBeGreaterThan(20);
    const bounds = boxFromShape(shape);
    const vol = {
      clefts: Volume.from('uint8', shape, cleft, { voxelSize: vs }),
      segmentation: Volume.from('uint64', shape, seg, { voxelSize: vs }),
      vesicles: Volume.from('uint8', shape, ves, { voxelSize: vs }),
    };
    const r = detectSynapses(vol, bounds, { threshold: 0.5, minSize: 3, vesicleThreshold: 0.5, partnerRadius: 45, vesicleRadius: 130, voxelSize: vs, bounds });
    expect(r.synapses.length).toBe(gt.length);
    const pred = r.synapses.map((x) => ({ pre_id: x.pre_pt_root_id, post_id: x.post_pt_root_id, pre: x.pre_pt_position, post: x.post_pt_position }));
    const score = synapticPartnerScore(pred, gt, { maxDistance: 100 });
    expect(score).toMatchObject({ tp: gt.length, fp: 0, fn: 0, fscore: 1 });
    // a wrong direction is not a match: flip every prediction
    const flipped = pred.map((p) => ({ ...p, pre_id: p.post_id, post_id: p.pre_id }));
    expect(synapticPartnerScore(flipped, gt, { maxDistance: 100 }).tp).toBe(0);
    const predMask = new Uint8Array(n);
    for (let i = 0; i < n; i++) predMask[i] = cleft[i] >= 128 ? 1 : 0;
    expect(cleftDistanceScore(predMask, cleft, shape, vs).cremiScore).toBe(0);
  });
});
