import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { type Mesh, holeEdges, openEdges } from './mesh.js';

/** The definitions, written with a hash map of directed edges (the reference for the CSR scans). */
function reference(mesh: Mesh): { open: number; holes: number } {
  const nv = mesh.vertices.length / 3;
  const counts = new Map<number, number>();
  const f = mesh.indices;
  for (let t = 0; t < f.length; t += 3) for (let k = 0; k < 3; k++) counts.set(f[t + k] * nv + f[t + ((k + 1) % 3)], (counts.get(f[t + k] * nv + f[t + ((k + 1) % 3)]) ?? 0) + 1);
  let open = 0, holes = 0;
  for (const [key, n] of counts) {
    const a = Math.floor(key / nv), b = key - a * nv;
    const r = counts.get(b * nv + a);
    if (n !== 1 || r !== 1) open++;
    if (r !== n) holes++;
  }
  return { open, holes };
}

const tetra = (): Mesh => ({ vertices: new Float32Array(12), indices: Uint32Array.of(0, 2, 1, 0, 1, 3, 1, 2, 3, 0, 3, 2) });

describe('open and hole edges (CSR scans)', () => {
  it('a closed tetrahedron has none; a missing face opens three edges; a doubled face is a pinch, not a hole', () => {
    expect(openEdges(tetra())).toBe(0);
    expect(holeEdges(tetra())).toBe(0);
    const open = { ...tetra(), indices: tetra().indices.slice(0, 9) };
    expect(openEdges(open)).toBe(3);
    expect(holeEdges(open)).toBe(3);
    const t = tetra().indices;
    const pinched = { ...tetra(), indices: Uint32Array.from([...t, ...t]) };
    expect(openEdges(pinched)).toBe(12);
    expect(holeEdges(pinched)).toBe(0);
  });

  it('agrees with the hash-map definition on random meshes', () => {
    const rnd = mulberry32(5);
    for (let trial = 0; trial < 50; trial++) {
      const nv = 3 + Math.floor(rnd() * 30);
      const nt = 1 + Math.floor(rnd() * 60);
      const idx = new Uint32Array(nt * 3);
      for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(rnd() * nv);
      const mesh: Mesh = { vertices: new Float32Array(nv * 3), indices: idx };
      const want = reference(mesh);
      expect([openEdges(mesh), holeEdges(mesh)], `trial ${trial}`).toEqual([want.open, want.holes]);
    }
  });
});
