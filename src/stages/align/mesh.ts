/**
 * Spring-mesh geometry: a regular grid of nodes carrying a displacement (u, v) each, and the
 * bilinear sampling of a node field. The relaxation of the meshes of a whole stack against
 * matches between sections lives in global-mesh.ts.
 */
export interface MeshGrid {
  /** Position of node (0, 0), px. */
  ox: number;
  oy: number;
  stride: number;
  nx: number;
  ny: number;
}

/** Bilinear interpolation of a node field at (x, y), clamped to the grid's extent. */
export function sampleField(g: MeshGrid, f: ArrayLike<number>, x: number, y: number): number {
  let fx = (x - g.ox) / g.stride;
  let fy = (y - g.oy) / g.stride;
  fx = Math.min(Math.max(fx, 0), g.nx - 1);
  fy = Math.min(Math.max(fy, 0), g.ny - 1);
  const i0 = Math.min(Math.floor(fx), Math.max(0, g.nx - 2));
  const j0 = Math.min(Math.floor(fy), Math.max(0, g.ny - 2));
  const tx = fx - i0;
  const ty = fy - j0;
  const i1 = Math.min(i0 + 1, g.nx - 1);
  const j1 = Math.min(j0 + 1, g.ny - 1);
  const a = f[i0 + g.nx * j0] + tx * (f[i1 + g.nx * j0] - f[i0 + g.nx * j0]);
  const b = f[i0 + g.nx * j1] + tx * (f[i1 + g.nx * j1] - f[i0 + g.nx * j1]);
  return a + ty * (b - a);
}
