import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { buildBase, PROOFREAD_DEFAULTS } from './base.js';
import { CellGrouper, cellKey, fragmentCell, fragmentName, meshGrid } from './groups.js';
import { GraphState } from './state.js';

/** 80x70x12 voxels of 7x5x3 blocks with seeded random supervoxel ids (some blocks share one id, so supervoxels need not be boxes). */
function blocks(seed: number) {
  const rnd = mulberry32(seed);
  const shape = [80, 70, 12] as [number, number, number];
  const nb = [Math.ceil(80 / 7), Math.ceil(70 / 5), Math.ceil(12 / 3)];
  const blockLabel = Array.from({ length: nb[0] * nb[1] * nb[2] }, () => 1 + Math.floor(rnd() * 300));
  const labels = new Uint32Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < labels.length; i++) {
    const x = i % 80, y = Math.floor(i / 80) % 70, z = Math.floor(i / 5600);
    labels[i] = blockLabel[Math.floor(x / 7) + nb[0] * (Math.floor(y / 5) + nb[1] * Math.floor(z / 3))];
  }
  const ids = new BigUint64Array(301).map((_, i) => BigInt(1000 + i));
  const seg = Array.from(labels, (l) => 1 + (l % 7));
  return { base: buildBase(labels, ids, seg, null, { shape, offset: [0, 0, 0], voxelSize: [4, 4, 40] }), labels, shape };
}

describe('supervoxel groups by mesh cell', () => {
  it('are the connected pieces (by joined edges) of the root in each cell, as a search over the voxels finds them', () => {
    const { base, labels, shape } = blocks(5);
    const state = new GraphState(base);
    const F = PROOFREAD_DEFAULTS.meshCell;
    const nc = meshGrid(base, F);
    expect(nc).toEqual([3, 3, 1]);
    const grouper = new CellGrouper(base, (l, visit) => state.forEachJoined(l, visit));
    const rnd = mulberry32(9);
    for (let trial = 0; trial < 6; trial++) {
      // a random set of supervoxels (dense) and random joined edges (as after some edits: contacts
      // between members that are not joined split a cell's group; a link edge joins supervoxels that
      // do not touch)
      const n = base.ids.length - 1;
      const members = Array.from({ length: n }, (_, i) => i + 1).filter(() => rnd() < 0.4);
      const mine = new Set(members);
      const joined = new Set<string>(), links = new Set<string>();
      for (let e = 0; e < base.edgeA.length; e++) {
        state.active[e] = rnd() < 0.6 ? 1 : 0;
        if (state.active[e]) joined.add(`${base.edgeA[e]},${base.edgeB[e]}`);
        if (base.area[e] === 0) links.add(`${base.edgeA[e]},${base.edgeB[e]}`);
      }
      expect(links.size).toBeGreaterThan(0);
      const got = grouper.groups(members).map((g) => `${g.cell}:${g.members.join(',')}`).sort();
      // reference from the voxels: in each cell's cube [F c, F(c+1)+1), the members present, joined
      // when two of their voxels share a face anywhere in the volume (the base's contacts)
      const dense = new Map<bigint, number>();
      for (let l = 1; l <= n; l++) dense.set(base.ids[l], l);
      const lab = (i: number) => dense.get(BigInt(1000 + labels[i]))!;
      const touch = new Set<string>();
      const [sx, sy, sz] = shape;
      for (let z = 0; z < sz; z++) for (let y = 0; y < sy; y++) for (let x = 0; x < sx; x++) {
        const i = x + sx * (y + sy * z);
        for (const [dx, dy, dz] of [[1, 0, 0], [0, 1, 0], [0, 0, 1]]) {
          if (x + dx >= sx || y + dy >= sy || z + dz >= sz) continue;
          const a = lab(i), c = lab(i + dx + sx * (dy + sy * dz));
          if (a !== c) touch.add(`${Math.min(a, c)},${Math.max(a, c)}`);
        }
      }
      const want: string[] = [];
      for (let cell = 0; cell < nc[0] * nc[1] * nc[2]; cell++) {
        const cx = cell % nc[0], cy = Math.floor(cell / nc[0]);
        const present = new Set<number>();
        for (let z = 0; z < sz; z++) for (let y = F * cy; y < Math.min(F * (cy + 1) + 1, sy); y++) for (let x = F * cx; x < Math.min(F * (cx + 1) + 1, sx); x++) {
          const l = lab(x + sx * (y + sy * z));
          if (mine.has(l)) present.add(l);
        }
        const seen = new Set<number>();
        for (const l0 of [...present].sort((a, b) => a - b)) {
          if (seen.has(l0)) continue;
          const g = [l0];
          seen.add(l0);
          const key = (u: number, v: number) => `${Math.min(u, v)},${Math.max(u, v)}`;
          for (let k = 0; k < g.length; k++) for (const y of present) if (!seen.has(y) && (touch.has(key(g[k], y)) || links.has(key(g[k], y))) && joined.has(key(g[k], y))) { seen.add(y); g.push(y); }
          want.push(`${cell}:${g.sort((a, b) => a - b).join(',')}`);
        }
      }
      expect(got).toEqual(want.sort());
    }
  });

  it('names fragments by cell and supervoxel ids, whatever the order of the members', () => {
    const { base } = blocks(6);
    const nc = meshGrid(base, PROOFREAD_DEFAULTS.meshCell);
    const a = fragmentName(base, 4, nc, [3, 1, 2]);
    expect(a).toBe(fragmentName(base, 4, nc, [1, 2, 3]));
    expect(a).not.toBe(fragmentName(base, 4, nc, [1, 2]));
    expect(a).not.toBe(fragmentName(base, 5, nc, [1, 2, 3]));
    expect(cellKey(4, nc)).toBe('1_1_0');
    expect(fragmentCell(a)).toBe('1_1_0');
    expect(fragmentCell('123:0')).toBeUndefined();
  });
});
