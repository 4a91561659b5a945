/**
 * Skeleton accuracy against known centre lines (e.g. phantom tubes): precision = fraction of
 * skeleton vertices within `tolerance` (nm) of a true centre-line polyline; recall = fraction of
 * points sampled along the true centre lines (every `step` nm) within `tolerance` of a skeleton
 * edge. Brute force over segments with a uniform grid to stay fast on thousands of vertices.
 */

export interface Polyline {
  /** points [x,y,z] in nm */
  points: ReadonlyArray<readonly [number, number, number]>;
}

export interface SkeletonLike {
  vertices: Float32Array;
  edges: Uint32Array;
}

export interface SkeletonScore {
  precision: number;
  recall: number;
  f1: number;
  vertices: number;
  truthSamples: number;
}

type Seg = [number, number, number, number, number, number];

function pointSegDist2(px: number, py: number, pz: number, s: Seg): number {
  const dx = s[3] - s[0], dy = s[4] - s[1], dz = s[5] - s[2];
  const len2 = dx * dx + dy * dy + dz * dz;
  let u = len2 > 0 ? ((px - s[0]) * dx + (py - s[1]) * dy + (pz - s[2]) * dz) / len2 : 0;
  u = u < 0 ? 0 : u > 1 ? 1 : u;
  const qx = s[0] + u * dx - px, qy = s[1] + u * dy - py, qz = s[2] + u * dz - pz;
  return qx * qx + qy * qy + qz * qz;
}

/** Segments bucketed in a uniform grid of cell `cell` nm; query returns the min distance^2 within tol. */
class SegGrid {
  private cells = new Map<string, Seg[]>();
  constructor(private cell: number) {}
  add(s: Seg, pad: number): void {
    const c = this.cell;
    const lo = [0, 1, 2].map((k) => Math.floor((Math.min(s[k], s[k + 3]) - pad) / c));
    const hi = [0, 1, 2].map((k) => Math.floor((Math.max(s[k], s[k + 3]) + pad) / c));
    for (let z = lo[2]; z <= hi[2]; z++)
      for (let y = lo[1]; y <= hi[1]; y++)
        for (let x = lo[0]; x <= hi[0]; x++) {
          const key = `${x},${y},${z}`;
          let a = this.cells.get(key);
          if (!a) this.cells.set(key, (a = []));
          a.push(s);
        }
  }
  near(px: number, py: number, pz: number, tol: number): boolean {
    const c = this.cell;
    const a = this.cells.get(`${Math.floor(px / c)},${Math.floor(py / c)},${Math.floor(pz / c)}`);
    if (!a) return false;
    const t2 = tol * tol;
    for (const s of a) if (pointSegDist2(px, py, pz, s) <= t2) return true;
    return false;
  }
}

export function scoreSkeleton(skel: SkeletonLike, truth: Polyline[], tolerance: number, step = tolerance / 2): SkeletonScore {
  const cell = Math.max(tolerance * 2, 1e-9);
  const truthGrid = new SegGrid(cell);
  for (const pl of truth) {
    for (let i = 0; i + 1 < pl.points.length; i++) {
      const a = pl.points[i], b = pl.points[i + 1];
      truthGrid.add([a[0], a[1], a[2], b[0], b[1], b[2]], tolerance);
    }
    if (pl.points.length === 1) {
      const a = pl.points[0];
      truthGrid.add([a[0], a[1], a[2], a[0], a[1], a[2]], tolerance);
    }
  }
  const v = skel.vertices;
  const nv = v.length / 3;
  let good = 0;
  for (let i = 0; i < nv; i++) if (truthGrid.near(v[3 * i], v[3 * i + 1], v[3 * i + 2], tolerance)) good++;
  const skelGrid = new SegGrid(cell);
  const e = skel.edges;
  for (let k = 0; k < e.length; k += 2) {
    const a = 3 * e[k], b = 3 * e[k + 1];
    skelGrid.add([v[a], v[a + 1], v[a + 2], v[b], v[b + 1], v[b + 2]], tolerance);
  }
  // isolated vertices count as zero-length segments
  const deg = new Uint8Array(nv);
  for (let k = 0; k < e.length; k++) deg[e[k]] = 1;
  for (let i = 0; i < nv; i++) if (!deg[i]) skelGrid.add([v[3 * i], v[3 * i + 1], v[3 * i + 2], v[3 * i], v[3 * i + 1], v[3 * i + 2]], tolerance);
  let samples = 0;
  let hit = 0;
  for (const pl of truth) {
    const pts = pl.points;
    for (let i = 0; i + 1 < pts.length; i++) {
      const a = pts[i], b = pts[i + 1];
      const len = Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2]);
      const m = Math.max(1, Math.ceil(len / step));
      for (let j = 0; j < m; j++) {
        const u = j / m;
        samples++;
        if (skelGrid.near(a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1]), a[2] + u * (b[2] - a[2]), tolerance)) hit++;
      }
    }
    if (pts.length > 0) {
      const z = pts[pts.length - 1];
      samples++;
      if (skelGrid.near(z[0], z[1], z[2], tolerance)) hit++;
    }
  }
  const precision = nv ? good / nv : 0;
  const recall = samples ? hit / samples : 0;
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0, vertices: nv, truthSamples: samples };
}
