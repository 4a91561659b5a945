/**
 * Coplanar marching-cubes faces merged as they are emitted (the z-planes between sections).
 *
 * A cube whose four lower corners are label L and four upper corners are not (or the reverse)
 * gives L a flat quad in the plane between the two voxel layers: two triangles on the cube's four
 * z edges. On anisotropic stacks such cubes are a large share of the surface (tops and bottoms of
 * neurites between sections). `mergeFlatSlab` takes one slab's flat cubes (per label and facing),
 * covers them greedily with rectangles that do not cross the lines of a given cell grid, and
 * triangulates each rectangle on its perimeter vertices only: every unit vertex along the
 * perimeter is kept (so the neighbouring cubes' triangles, and the next block, meet it edge for
 * edge: the mesh stays closed and manifold), the vertices inside the rectangle are never made.
 * A w x h rectangle gives 2(w + h) - 2 triangles instead of 2wh, with the same surface (volume
 * and area unchanged up to float rounding).
 */

/** Lower corner of cube column x (global voxel coordinate) that starts a grid cell, or not. */
function startsCell(g: number, origin: number, cell: number): boolean {
  if (cell <= 0) return false;
  const r = (g - origin) % cell;
  return r === 0;
}

export interface FlatSlab {
  /** Cubes per row (x) and rows (y) of the slab; masks are indexed x + stride * y. */
  nx: number;
  ny: number;
  stride: number;
  /** Global voxel coordinate of cube (0, 0)'s lower corner, x and y. */
  gx0: number;
  gy0: number;
  /** Cell grid (voxels, 0 = none) and a global voxel coordinate on a cell line, x and y. */
  cellX: number;
  cellY: number;
  originX: number;
  originY: number;
}

/**
 * Cover `mask` (label per cube, 0 = not flat; cleared as it is used) with rectangles of one label
 * and emit their triangles: `vertex(X, Y, label)` returns the id of the z-edge vertex at cube
 * corner (X, Y) of the slab, `tri(a, b, c)` takes a triangle. `up`: the label lies below the plane
 * (outward normal +z); otherwise above (-z).
 */
export function mergeFlatSlab(
  mask: Uint32Array,
  s: FlatSlab,
  up: boolean,
  vertex: (X: number, Y: number, label: number) => number,
  tri: (a: number, b: number, c: number, label: number) => void,
): void {
  const { nx, ny, stride } = s;
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const L = mask[x + stride * y];
      if (L === 0) continue;
      let w = 1;
      while (x + w < nx && mask[x + w + stride * y] === L && !startsCell(s.gx0 + x + w, s.originX, s.cellX)) w++;
      let h = 1;
      grow: while (y + h < ny && !startsCell(s.gy0 + y + h, s.originY, s.cellY)) {
        const row = stride * (y + h);
        for (let k = 0; k < w; k++) if (mask[x + k + row] !== L) break grow;
        h++;
      }
      for (let r = 0; r < h; r++) mask.fill(0, x + stride * (y + r), x + w + stride * (y + r));
      rectangle(x, y, w, h, L, up, vertex, tri);
    }
  }
}

/**
 * Triangulate the w x h rectangle at cube corner (x, y) on its 2(w + h) perimeter vertices:
 * split by the diagonal from its lower-right to its upper-left corner, each half zipped between
 * its two sides (no triangle has three collinear corners), 2(w + h) - 2 triangles.
 */
function rectangle(
  x: number,
  y: number,
  w: number,
  h: number,
  L: number,
  up: boolean,
  vertex: (X: number, Y: number, label: number) => number,
  tri: (a: number, b: number, c: number, label: number) => void,
): void {
  // half 1: left side (x, y + i), i = h..0, and bottom side (x + j, y), j = w..0
  // half 2 (the same turned by 180 degrees): right side (x + w, y + h - i), top side (x + w - j, y + h)
  for (let half = 0; half < 2; half++) {
    const p = half === 0
      ? (i: number) => vertex(x, y + i, L)
      : (i: number) => vertex(x + w, y + h - i, L);
    const q = half === 0
      ? (j: number) => vertex(x + j, y, L)
      : (j: number) => vertex(x + w - j, y + h, L);
    let i = h;
    let j = w;
    let pi = p(i);
    let qj = q(j);
    // (p_i, q_j, next) winds clockwise seen from +z; `up` faces +z, so it is emitted reversed
    const emit = (a: number, b: number, c: number) => (up ? tri(a, c, b, L) : tri(a, b, c, L));
    while (i > 1 || j > 1) {
      // advance the side with more of its length left, so triangles stay as even as the zip allows
      if (i > 1 && (j <= 1 || (i - 1) * w >= (j - 1) * h)) {
        const n = p(i - 1);
        emit(pi, qj, n);
        pi = n;
        i--;
      } else {
        const n = q(j - 1);
        emit(pi, qj, n);
        qj = n;
        j--;
      }
    }
    emit(pi, qj, p(0));
  }
}
