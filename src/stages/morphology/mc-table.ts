/**
 * Marching-cubes case table for binary masks, generated (not copied): for each of the 256 corner
 * configurations, the contour on every cube face is built from the face's 4 corners alone, so
 * neighbouring cubes always agree on their shared face and the surface is closed. On an ambiguous
 * face (two inside corners on a diagonal) the inside corners are kept apart (inside is
 * 6-connected, outside 18-connected). Face contours are chained into loops that are fanned into
 * triangles whose winding makes the normal point from inside to outside.
 *
 * Corner c = dx + 2*dy + 4*dz. Edges: 0..3 along x at (dy,dz) = (0,0),(1,0),(0,1),(1,1);
 * 4..7 along y at (dx,dz); 8..11 along z at (dx,dy).
 */

/** Edge e joins corners EDGE_CORNERS[2e] (lower) and EDGE_CORNERS[2e+1]. */
export const EDGE_CORNERS = new Uint8Array(24);
/** Axis of edge e (0 x, 1 y, 2 z). */
export const EDGE_AXIS = new Uint8Array(12);
/** Offset [dx,dy,dz] of the lower corner of edge e, flattened. */
export const EDGE_OFFSET = new Uint8Array(36);

function corner(dx: number, dy: number, dz: number): number {
  return dx + 2 * dy + 4 * dz;
}

(() => {
  let e = 0;
  for (let axis = 0; axis < 3; axis++) {
    for (let b = 0; b < 2; b++) {
      for (let a = 0; a < 2; a++) {
        // (a, b) are the two other axes' offsets, first other axis fastest.
        const d = [0, 0, 0];
        const others = [0, 1, 2].filter((k) => k !== axis);
        d[others[0]] = a;
        d[others[1]] = b;
        const hi = [...d];
        hi[axis] = 1;
        EDGE_CORNERS[2 * e] = corner(d[0], d[1], d[2]);
        EDGE_CORNERS[2 * e + 1] = corner(hi[0], hi[1], hi[2]);
        EDGE_AXIS[e] = axis;
        EDGE_OFFSET[3 * e] = d[0];
        EDGE_OFFSET[3 * e + 1] = d[1];
        EDGE_OFFSET[3 * e + 2] = d[2];
        e++;
      }
    }
  }
})();

function edgeBetween(c1: number, c2: number): number {
  for (let e = 0; e < 12; e++) {
    const a = EDGE_CORNERS[2 * e];
    const b = EDGE_CORNERS[2 * e + 1];
    if ((a === c1 && b === c2) || (a === c2 && b === c1)) return e;
  }
  throw new Error(`corners ${c1} and ${c2} share no edge`);
}

/** The 6 faces, each as 4 corners in counter-clockwise order seen from outside the cube. */
function faces(): number[][] {
  const out: number[][] = [];
  for (let axis = 0; axis < 3; axis++) {
    const u = (axis + 1) % 3;
    const v = (axis + 2) % 3; // u x v = +axis
    for (const side of [0, 1]) {
      const pts: number[] = [];
      const at = (pu: number, pv: number) => {
        const d = [0, 0, 0];
        d[axis] = side;
        d[u] = pu;
        d[v] = pv;
        return corner(d[0], d[1], d[2]);
      };
      // CCW about +axis: (0,0) -> (1,0) -> (1,1) -> (0,1) in (u, v).
      const ccw = [at(0, 0), at(1, 0), at(1, 1), at(0, 1)];
      if (side === 1) pts.push(...ccw);
      else pts.push(ccw[0], ccw[3], ccw[2], ccw[1]); // outward normal is -axis: reverse
      out.push(pts);
    }
  }
  return out;
}

/** Whether edges e1 and e2 lie on a common cube face. */
function shareFace(e1: number, e2: number): boolean {
  for (let axis = 0; axis < 3; axis++) {
    if (axis === EDGE_AXIS[e1] || axis === EDGE_AXIS[e2]) continue;
    if (EDGE_OFFSET[3 * e1 + axis] === EDGE_OFFSET[3 * e2 + axis]) return true;
  }
  return false;
}

/** Cases whose loops could not avoid a diagonal inside a face (should stay empty). */
export const FACE_DIAGONAL_CASES: number[] = [];

/**
 * TRI_START[c]..TRI_START[c+1] (exclusive) index triples in TRI_EDGES: triangles of case c,
 * each as three edge ids, wound so the normal points from inside corners to outside ones.
 */
export const TRI_START = new Uint16Array(257);
export let TRI_EDGES: Uint8Array;

(() => {
  const F = faces();
  const tris: number[] = [];
  for (let c = 0; c < 256; c++) {
    TRI_START[c] = tris.length / 3;
    const inside = (k: number) => ((c >> k) & 1) === 1;
    const next = new Int8Array(12).fill(-1);
    for (const f of F) {
      // Edge k of the face joins f[k] and f[k+1]. Entering edges (out -> in) and leaving edges.
      for (let k = 0; k < 4; k++) {
        const a = f[k];
        const b = f[(k + 1) % 4];
        if (!inside(a) && inside(b)) {
          // Walk forward to where the run of inside corners ends.
          let j = (k + 1) % 4;
          while (inside(f[(j + 1) % 4])) j = (j + 1) % 4;
          const enter = edgeBetween(a, b);
          const leave = edgeBetween(f[j], f[(j + 1) % 4]);
          next[enter] = leave;
        }
      }
    }
    const used = new Uint8Array(12);
    for (let s = 0; s < 12; s++) {
      if (next[s] < 0 || used[s]) continue;
      const loop: number[] = [];
      let e = s;
      while (!used[e]) {
        used[e] = 1;
        loop.push(e);
        e = next[e];
        if (e < 0) throw new Error(`marching cubes table: open contour in case ${c}`);
      }
      // Fan from the apex whose diagonals do not lie in a cube face: a diagonal in a face could
      // also be made by the neighbouring cube, and the edge would then have four triangles.
      let best = 0;
      let bestBad = Infinity;
      for (let a = 0; a < loop.length; a++) {
        let bad = 0;
        for (let j = 2; j < loop.length - 1; j++) if (shareFace(loop[a], loop[(a + j) % loop.length])) bad++;
        if (bad < bestBad) {
          bestBad = bad;
          best = a;
        }
      }
      if (bestBad > 0) FACE_DIAGONAL_CASES.push(c);
      const L = loop.length;
      for (let i = 1; i + 1 < L; i++) tris.push(loop[best], loop[(best + i) % L], loop[(best + i + 1) % L]);
    }
  }
  TRI_START[256] = tris.length / 3;
  TRI_EDGES = Uint8Array.from(tris);
})();
