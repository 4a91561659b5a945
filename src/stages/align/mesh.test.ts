import { describe, expect, it } from 'vitest';
import { relaxGlobalMesh } from './global-mesh.js';
import { type MeshGrid, sampleField } from './mesh.js';

/** One section's mesh pulled to absolute targets (j = -1). */
function relaxMesh(g: MeshGrid, targets: Array<{ node: number; u: number; v: number; w: number }>, o: { stiffness: number; maxResidual: number; rounds: number }) {
  const r = relaxGlobalMesh(g, 1, targets.map((t) => ({ ...t, z: 0, j: -1 })), o);
  return { u: r.u[0], v: r.v[0], kept: r.kept };
}

describe('spring mesh of one section (relaxGlobalMesh, absolute targets)', () => {
  const g: MeshGrid = { ox: 0, oy: 0, stride: 10, nx: 6, ny: 5 };

  it('follows consistent targets, fills nodes without targets, drops an outlier', () => {
    const field = (i: number, j: number) => [0.3 * i, -0.2 * j];
    const targets = [];
    for (let j = 0; j < g.ny; j++) {
      for (let i = 0; i < g.nx; i++) {
        if ((i + j) % 3 === 0) continue; // a third of the nodes have no measurement
        const [u, v] = field(i, j);
        targets.push({ node: i + g.nx * j, u, v, w: 1 });
      }
    }
    targets.push({ node: 3 + g.nx * 3, u: 15, v: -12, w: 1 }); // a crack: gross outlier at a node with no other measurement
    const r = relaxMesh(g, targets, { stiffness: 0.05, maxResidual: 2, rounds: 4 });
    expect(r.kept[r.kept.length - 1]).toBe(0);
    expect(r.kept.slice(0, -1).every(Boolean)).toBe(true);
    for (let j = 0; j < g.ny; j++) {
      for (let i = 0; i < g.nx; i++) {
        const [u, v] = field(i, j);
        // the membrane energy flattens a slope slightly at the grid border
        expect(Math.abs(r.u[i + g.nx * j] - u)).toBeLessThan(0.2);
        expect(Math.abs(r.v[i + g.nx * j] - v)).toBeLessThan(0.2);
      }
    }
    expect(Math.abs(sampleField(g, r.u, 15, 7) - 0.45)).toBeLessThan(0.1);
    expect(sampleField(g, r.u, -100, 0)).toBeCloseTo(r.u[0], 12);
  });

  it('stiff springs average conflicting targets', () => {
    const targets = [
      { node: 0, u: 1, v: 0, w: 1 },
      { node: 29, u: -1, v: 0, w: 1 },
    ];
    const r = relaxMesh(g, targets, { stiffness: 1e4, maxResidual: Infinity, rounds: 1 });
    for (const x of r.u) expect(Math.abs(x)).toBeLessThan(0.01);
  });
});
