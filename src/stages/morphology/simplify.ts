import { MeshoptSimplifier } from 'meshoptimizer';
import type { Mesh } from './mesh.js';

/**
 * Simplify a mesh with meshoptimizer (quadric edge collapse) to about `ratio` of its triangles,
 * never moving the surface by more than `maxError` (relative to the mesh extent, meshoptimizer's
 * convention). Unused vertices are dropped. Topology is kept (no 'Sparse'/'Prune'), so a closed
 * mesh stays closed.
 */
export async function simplifyMesh(mesh: Mesh, opts: { ratio: number; maxError?: number; lockBorder?: boolean }): Promise<Mesh> {
  await MeshoptSimplifier.ready;
  const target = Math.max(3, Math.floor((mesh.indices.length / 3) * opts.ratio) * 3);
  if (mesh.indices.length <= target) return mesh;
  const [idx] = MeshoptSimplifier.simplify(
    mesh.indices,
    mesh.vertices,
    3,
    target,
    opts.maxError ?? 0.01,
    opts.lockBorder ? ['LockBorder'] : [],
  );
  return compact(mesh.vertices, idx);
}

/** Keep only referenced vertices, renumbered in first-use order. */
export function compact(vertices: Float32Array, indices: Uint32Array): Mesh {
  const remap = new Int32Array(vertices.length / 3).fill(-1);
  let n = 0;
  const out = new Uint32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (remap[v] < 0) remap[v] = n++;
    out[i] = remap[v];
  }
  const vs = new Float32Array(n * 3);
  for (let v = 0; v < remap.length; v++) {
    const r = remap[v];
    if (r >= 0) {
      vs[3 * r] = vertices[3 * v];
      vs[3 * r + 1] = vertices[3 * v + 1];
      vs[3 * r + 2] = vertices[3 * v + 2];
    }
  }
  return { vertices: vs, indices: out };
}
