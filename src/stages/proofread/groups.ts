/**
 * A root's mesh fragments are named as the ChunkedGraph names its L2 ids: in each mesh cell (the
 * base's grid of PROOFREAD_DEFAULTS.meshCell voxels), the root's supervoxels there split into the
 * connected components of the root's *joined* edges (joined contacts and link edges) between
 * supervoxels that both have voxels in the cell. A merge (one joined edge) changes groups only in
 * the cells holding both merged supervoxels, a split only in the cells holding both ends of a cut
 * edge. Two groups of one root may touch in a cell (a contact that is not joined): each keeps its
 * own closed surface, and their union is still the root's closed surface (as CAVE's L2 meshes).
 * `CellGrouper` finds them with a union-find over (supervoxel, cell) pairs (the positions of
 * `base.cells`, sorted per supervoxel), typed arrays only, reusing its scratch arrays across
 * calls, so the cost follows the root's supervoxels and joined edges, not the volume. Pure; the
 * edit-time recompute and the start-root precompute both use it (the precompute with the starting
 * state's joined edges), so they name the same groups the same way.
 */
import { createHash } from 'node:crypto';
import type { Base } from './base.js';

/**
 * The rule fragments are named by: `joined` = components of the root's joined edges in a mesh cell.
 * Precomputes and derived heads made under another rule (`touch`, before) carry no such mark.
 */
export const FRAGMENT_GROUPS = 'joined';

export interface CellGroup {
  /** mesh cell index x + nx*(y + ny*z) */
  cell: number;
  /** dense supervoxel indices, ascending */
  members: number[];
}

/** The joined neighbours of a dense supervoxel (under one state's joined edges), visited one by one. */
export type EachJoined = (l: number, visit: (y: number) => void) => void;

/** Mesh cells per axis of a base's grid. */
export function meshGrid(base: Base, F: number): [number, number, number] {
  return [Math.ceil(base.shape[0] / F), Math.ceil(base.shape[1] / F), Math.ceil(base.shape[2] / F)];
}

/** "cx_cy_cz" of a cell index. */
export function cellKey(cell: number, nc: readonly number[]): string {
  return `${cell % nc[0]}_${Math.floor(cell / nc[0]) % nc[1]}_${Math.floor(cell / (nc[0] * nc[1]))}`;
}

/** A fragment's name: its cell and a hash of its supervoxel ids (content-addressed, shared between roots and versions). */
export function fragmentName(base: Base, cell: number, nc: readonly number[], members: readonly number[]): string {
  const ids = members.map((l) => base.ids[l]).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return `f${cellKey(cell, nc)}_${createHash('sha1').update(ids.join(',')).digest('hex').slice(0, 16)}`;
}

/** The cell a fragment name belongs to ("cx_cy_cz"), or undefined for another name. */
export function fragmentCell(name: string): string | undefined {
  const m = /^f(\d+_\d+_\d+)_[0-9a-f]+$/.exec(name);
  return m?.[1];
}

export class CellGrouper {
  /** local offset of each member's first (supervoxel, cell) pair, -1 for non-members (reset after each call) */
  private pos: Int32Array;
  private parent = new Int32Array(1024);

  constructor(private readonly base: Base, private readonly eachJoined: EachJoined) {
    this.pos = new Int32Array(base.ids.length).fill(-1);
  }

  private find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]];
      x = p[x];
    }
    return x;
  }

  /** Whether supervoxel l has voxels in mesh cell `cell` (its cell list is sorted: a binary search). */
  hasCell(l: number, cell: number): boolean {
    const { cellStart, cells } = this.base;
    let lo = cellStart[l], hi = cellStart[l + 1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cells[mid] < cell) lo = mid + 1;
      else hi = mid;
    }
    return lo < cellStart[l + 1] && cells[lo] === cell;
  }

  /**
   * The group of supervoxel w in mesh cell `cell` (w has voxels there), ascending: a search from w
   * over joined neighbours that have voxels in the cell, so its cost is the group's, not the root's.
   * The same group `groups` finds for w's root in that cell.
   */
  groupAt(w: number, cell: number): number[] {
    const out = [w];
    const seen = new Set<number>(out);
    for (let i = 0; i < out.length; i++) {
      this.eachJoined(out[i], (y) => {
        if (!seen.has(y) && this.hasCell(y, cell)) {
          seen.add(y);
          out.push(y);
        }
      });
    }
    return out.sort((x, y) => x - y);
  }

  /** The groups of a set of supervoxels (dense indices, distinct; a root of the grouper's state), ordered by cell then first member. */
  groups(members: ArrayLike<number>): CellGroup[] {
    const { cellStart, cells } = this.base;
    const pos = this.pos;
    let K = 0;
    for (let i = 0; i < members.length; i++) {
      const l = members[i];
      pos[l] = K;
      K += cellStart[l + 1] - cellStart[l];
    }
    if (this.parent.length < K) this.parent = new Int32Array(Math.max(K, 2 * this.parent.length));
    const parent = this.parent;
    for (let k = 0; k < K; k++) parent[k] = k;
    try {
      for (let i = 0; i < members.length; i++) {
        const l = members[i];
        const la = cellStart[l], lb = cellStart[l + 1], pl = pos[l];
        this.eachJoined(l, (y) => {
          const py = pos[y];
          if (py < 0 || y < l) return;
          // cells both have voxels in (each list sorted): their pairs join
          let a = la, b = cellStart[y];
          const be = cellStart[y + 1];
          while (a < lb && b < be) {
            const ca = cells[a], cb = cells[b];
            if (ca < cb) a++;
            else if (cb < ca) b++;
            else {
              const x = this.find(pl + a - la), z = this.find(py + b - cellStart[y]);
              if (x !== z) parent[x < z ? z : x] = x < z ? x : z;
              a++;
              b++;
            }
          }
        });
      }
      const byRoot = new Map<number, CellGroup>();
      const out: CellGroup[] = [];
      const order = Array.from(members).sort((x, y) => x - y);
      for (const l of order) {
        for (let k = cellStart[l]; k < cellStart[l + 1]; k++) {
          const r = this.find(pos[l] + k - cellStart[l]);
          let g = byRoot.get(r);
          if (!g) {
            byRoot.set(r, (g = { cell: cells[k], members: [] }));
            out.push(g);
          }
          g.members.push(l);
        }
      }
      return out.sort((x, y) => x.cell - y.cell || x.members[0] - y.members[0]);
    } finally {
      for (let i = 0; i < members.length; i++) pos[members[i]] = -1;
    }
  }
}
