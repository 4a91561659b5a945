/**
 * A uniform grid over points (nm) for radius and nearest-neighbour queries: each query visits the
 * cells a sphere of the asked radius touches, so answers are exact.
 */
export class PointGrid {
  private readonly cells = new Map<string, number[]>();
  readonly n: number;

  constructor(
    readonly points: ArrayLike<number> /* x,y,z per point, nm */,
    readonly cell: number /* grid cell, nm */,
  ) {
    if (!(cell > 0)) throw new RangeError(`PointGrid: cell size must be > 0, got ${cell}`);
    this.n = Math.floor(points.length / 3);
    for (let i = 0; i < this.n; i++) {
      const k = this.key(points[3 * i], points[3 * i + 1], points[3 * i + 2]);
      let a = this.cells.get(k);
      if (!a) this.cells.set(k, (a = []));
      a.push(i);
    }
  }

  private key(x: number, y: number, z: number): string {
    return `${Math.floor(x / this.cell)},${Math.floor(y / this.cell)},${Math.floor(z / this.cell)}`;
  }

  /** Indices of the points within `r` nm of (x, y, z) (inclusive). */
  within(x: number, y: number, z: number, r: number, out: number[] = []): number[] {
    out.length = 0;
    const c = this.cell;
    const r2 = r * r;
    const p = this.points;
    for (let gz = Math.floor((z - r) / c); gz <= Math.floor((z + r) / c); gz++)
      for (let gy = Math.floor((y - r) / c); gy <= Math.floor((y + r) / c); gy++)
        for (let gx = Math.floor((x - r) / c); gx <= Math.floor((x + r) / c); gx++) {
          const a = this.cells.get(`${gx},${gy},${gz}`);
          if (!a) continue;
          for (const i of a) {
            const d = (p[3 * i] - x) ** 2 + (p[3 * i + 1] - y) ** 2 + (p[3 * i + 2] - z) ** 2;
            if (d <= r2) out.push(i);
          }
        }
    return out;
  }

  /** Index of the nearest point to (x, y, z) (lowest index on ties), or -1 when the grid is empty. */
  nearest(x: number, y: number, z: number): number {
    if (this.n === 0) return -1;
    const c = this.cell;
    const p = this.points;
    const gx = Math.floor(x / c), gy = Math.floor(y / c), gz = Math.floor(z / c);
    let best = -1;
    let bd = Infinity;
    for (let r = 0; ; r++) {
      for (let dz = -r; dz <= r; dz++)
        for (let dy = -r; dy <= r; dy++)
          for (let dx = -r; dx <= r; dx++) {
            if (Math.max(Math.abs(dx), Math.abs(dy), Math.abs(dz)) !== r) continue;
            const a = this.cells.get(`${gx + dx},${gy + dy},${gz + dz}`);
            if (!a) continue;
            for (const i of a) {
              const d = (p[3 * i] - x) ** 2 + (p[3 * i + 1] - y) ** 2 + (p[3 * i + 2] - z) ** 2;
              if (d < bd || (d === bd && i < best)) {
                bd = d;
                best = i;
              }
            }
          }
      // every point outside the searched cube is farther than r * c
      if (best >= 0 && Math.sqrt(bd) <= r * c) return best;
      if (r > 4096) return best;
    }
  }
}
