import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { type Affine, apply, compose, invert } from './affine.js';
import { BandedSystem } from './banded.js';
import { type PairSet, solveGlobalAffine } from './global-affine.js';
import { type LinkTarget, Links, relaxGlobalMesh } from './global-mesh.js';

function similarity(deg: number, s: number, tx: number, ty: number): Affine {
  const t = (deg * Math.PI) / 180;
  return [s * Math.cos(t), -s * Math.sin(t), tx, s * Math.sin(t), s * Math.cos(t), ty];
}

/** Pairs between sections j and z seen through pull-backs A (output -> raw): p = A_j(o), q = A_z(o). */
function pairs(A: Affine[], j: number, z: number, n: number, r: () => number, noise: number, w = 1): PairSet {
  const p: number[] = [];
  const q: number[] = [];
  for (let k = 0; k < n; k++) {
    const o: [number, number] = [r() * 512, r() * 512];
    p.push(...apply(A[j], o[0], o[1]));
    const [qx, qy] = apply(A[z], o[0], o[1]);
    q.push(qx + noise * (2 * r() - 1), qy + noise * (2 * r() - 1));
  }
  return { j, z, w, p, q };
}

describe('BandedSystem', () => {
  it('solves a banded SPD system like a dense solve', () => {
    const r = mulberry32(4);
    const n = 9;
    const bw = 2;
    const sys = new BandedSystem(n, bw);
    const dense = Array.from({ length: n }, () => new Float64Array(n));
    for (let row = 0; row < 40; row++) {
      const i = Math.floor(r() * (n - bw));
      const idx = [i, i + 1, i + 2];
      const val = [r() - 0.5, r() - 0.5, r() - 0.5];
      const rhs = r();
      sys.addRow(idx, val, rhs, 1);
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) dense[idx[a]][idx[b]] += val[a] * val[b];
    }
    for (let i = 0; i < n; i++) {
      sys.addRow([i], [1], 0, 0.1);
      dense[i][i] += 0.1;
    }
    const b = Float64Array.from(sys.rhs);
    const x = sys.solve();
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += dense[i][j] * x[j];
      expect(s).toBeCloseTo(b[i], 9);
    }
    expect(() => new BandedSystem(4, 1).add(3, 0, 1)).toThrow(/outside the band/);
  });
});

describe('solveGlobalAffine', () => {
  const r = mulberry32(11);
  const nz = 12;
  const truth: Affine[] = Array.from({ length: nz }, (_, z) => (z === 0 ? [1, 0, 0, 0, 1, 0] : similarity(4 * (r() - 0.5), 1 + 0.04 * (r() - 0.5), 20 * (r() - 0.5), 20 * (r() - 0.5))));

  it('recovers every section from pairs with z-1 and z-2 (exact pairs: exact)', () => {
    const sets: PairSet[] = [];
    for (let z = 1; z < nz; z++) for (const k of [1, 2]) if (z - k >= 0) sets.push(pairs(truth, z - k, z, 20, r, 0, 1 / k));
    for (const model of ['similarity', 'rigid', 'affine'] as const) {
      const out = solveGlobalAffine(nz, sets, { model, maxResidual: 2, rounds: 2, reference: 0, w: 512, h: 512 });
      for (let z = 0; z < nz; z++) {
        const [x, y] = apply(out.affines[z], 300, 100);
        const [tx, ty] = apply(truth[z], 300, 100);
        // rigid cannot represent the scalings of the truth: only similarity and affine are exact
        expect(Math.hypot(x - tx, y - ty), `${model} z${z}`).toBeLessThan(model === 'rigid' ? 40 : 1e-3);
      }
    }
  });

  it('drops outlier pairs, and with a second neighbour a bad z-1 match does not shift the rest of the stack', () => {
    const sets: PairSet[] = [];
    for (let z = 1; z < nz; z++) for (const k of [1, 2]) if (z - k >= 0) sets.push(pairs(truth, z - k, z, 20, r, 0.3));
    // section 5 against 4: every pair of it off by 15 px (a wrong peak); outliers among others
    const bad = sets.find((s) => s.j === 4 && s.z === 5)!;
    for (let i = 0; i < bad.q.length; i += 2) bad.q[i] += 15;
    sets[3].q[0] += 40;
    const out = solveGlobalAffine(nz, sets, { model: 'affine', maxResidual: 2, rounds: 4, reference: 0, w: 512, h: 512 });
    let worst = 0;
    for (let z = 0; z < nz; z++) {
      const [x, y] = apply(out.affines[z], 256, 256);
      const [tx, ty] = apply(truth[z], 256, 256);
      worst = Math.max(worst, Math.hypot(x - tx, y - ty));
    }
    expect(worst).toBeLessThan(0.5);
    expect(out.kept[sets.indexOf(bad)]).toBe(0);
    // the identity check of the pull-back convention: F_z = A_z^-1 maps q back to the output point
    const F = invert(out.affines[3]);
    const o = apply(compose(F, truth[3]), 10, 20);
    expect(o[0]).toBeCloseTo(10, 0);
  });
});

describe('solveGlobalAffine: per-pair weights', () => {
  it('a set of low-weight pairs (a weak guess across a gap) pulls less than the good set it contradicts, in proportion to its weight', () => {
    // sections 0-2, the truth shifts section 2 by (6, 0); a good z-1 set 1-2 says so, a second set
    // 1-2 (the chain's guess) says (0, 0): with equal weights the solution sits halfway between
    const r = mulberry32(31);
    const truth: Affine[] = [[1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 1, 0], [1, 0, 6, 0, 1, 0]];
    const good = pairs(truth, 1, 2, 9, r, 0);
    const guess = pairs([truth[0], truth[1], truth[1]], 1, 2, 9, r, 0);
    const base = pairs(truth, 0, 1, 9, r, 0);
    const shiftOf = (sets: PairSet[]) => solveGlobalAffine(3, sets, { model: 'translation', maxResidual: 100, rounds: 0, reference: 0, w: 512, h: 512 }).affines[2][2];
    expect(shiftOf([base, good, guess])).toBeCloseTo(3, 3);
    const weak = { ...guess, wp: new Float64Array(9).fill(1 / 9) };
    // 9 pairs of weight 1 against 9 of weight 1/9: 6 x 9 / (9 + 1)
    expect(shiftOf([base, good, weak])).toBeCloseTo(5.4, 3);
  });
});

describe('solveGlobalAffine: regularised affine', () => {
  it('a small scale bias in every pair set accumulates along the free affine, not along the regularised one', () => {
    // the truth is rigid (rotation and shift per section); every z-1 pair set says z is 1 % larger
    // than it is (a systematic compression), as long real stacks' pairs do
    const r = mulberry32(21);
    const n = 20;
    const truth: Affine[] = Array.from({ length: n }, (_, z) => (z === 0 ? [1, 0, 0, 0, 1, 0] : similarity(2 * (r() - 0.5), 1, 10 * (r() - 0.5), 10 * (r() - 0.5))));
    const sets: PairSet[] = [];
    for (let z = 1; z < n; z++) {
      const s = pairs(truth, z - 1, z, 30, r, 0.2);
      // q about the centre scaled by 1.01
      for (let i = 0; i < s.q.length; i++) s.q[i] = 256 + 1.01 * (s.q[i] - 256);
      sets.push(s);
    }
    const scaleOf = (a: Affine) => Math.sqrt(Math.abs(a[0] * a[4] - a[1] * a[3]));
    const free = solveGlobalAffine(n, sets, { model: 'affine', maxResidual: 20, rounds: 0, reference: 0, w: 512, h: 512 });
    const reg = solveGlobalAffine(n, sets, { model: 'affine', maxResidual: 20, rounds: 0, reference: 0, w: 512, h: 512, regularise: 0.1 });
    // free: 1.01^19 ~ 1.21; regularised: within 2 % of 1
    expect(scaleOf(free.affines[n - 1])).toBeGreaterThan(1.15);
    expect(Math.abs(scaleOf(reg.affines[n - 1]) - 1)).toBeLessThan(0.02);
    // the rotations still follow the data
    for (const z of [5, 12, 19]) {
      const rot = (a: Affine) => Math.atan2(a[3], a[0]);
      expect(Math.abs(rot(reg.affines[z]) - rot(truth[z])) * (180 / Math.PI)).toBeLessThan(0.3);
    }
  });

  it('exact similarity pairs are still fitted exactly by the regularised affine when the truth is rigid', () => {
    const r = mulberry32(5);
    const n = 6;
    const truth: Affine[] = Array.from({ length: n }, (_, z) => (z === 0 ? [1, 0, 0, 0, 1, 0] : similarity(4 * (r() - 0.5), 1, 20 * (r() - 0.5), 20 * (r() - 0.5))));
    const sets: PairSet[] = [];
    for (let z = 1; z < n; z++) for (const k of [1, 2]) if (z - k >= 0) sets.push(pairs(truth, z - k, z, 20, r, 0));
    const out = solveGlobalAffine(n, sets, { model: 'affine', maxResidual: 2, rounds: 1, reference: 0, w: 512, h: 512, regularise: 1 });
    for (let z = 0; z < n; z++) {
      const [x, y] = apply(out.affines[z], 400, 60);
      const [tx, ty] = apply(truth[z], 400, 60);
      expect(Math.hypot(x - tx, y - ty)).toBeLessThan(1e-3);
    }
  });
});

describe('solveGlobalAffine: a separate weight for the uniform scale (regulariseScale)', () => {
  const scaleOf = (a: Affine) => Math.sqrt(Math.abs(a[0] * a[4] - a[1] * a[3]));
  const opts = { model: 'affine' as const, maxResidual: 20, rounds: 0, reference: 0, w: 512, h: 512, regularise: 0.03 };

  it('keeps genuine per-section scalings that the one-weight prior toward rigid shrinks; equal weights are that prior', () => {
    // every section z > 0 has its own uniform scale in [0.98, 1.02] (no trend), matched against 2 neighbours
    const r = mulberry32(8);
    const n = 12;
    const truth: Affine[] = Array.from({ length: n }, (_, z) => (z === 0 ? [1, 0, 0, 0, 1, 0] : similarity(2 * (r() - 0.5), 1 + 0.04 * (r() - 0.5), 10 * (r() - 0.5), 10 * (r() - 0.5))));
    const sets: PairSet[] = [];
    for (let z = 1; z < n; z++) for (const k of [1, 2]) if (z - k >= 0) sets.push(pairs(truth, z - k, z, 30, r, 0.2));
    const err = (A: Affine[]) => A.reduce((m, a, z) => m + Math.abs(scaleOf(a) - scaleOf(truth[z])), 0) / n;
    const rigid = solveGlobalAffine(n, sets, opts);
    const same = solveGlobalAffine(n, sets, { ...opts, regulariseScale: 0.03 });
    const weak = solveGlobalAffine(n, sets, { ...opts, regulariseScale: 0.003 });
    const none = solveGlobalAffine(n, sets, { ...opts, regulariseScale: 0 });
    const sim = solveGlobalAffine(n, sets, { ...opts, regulariseTo: 'similarity' });
    // the split prior with equal weights is the one-weight prior (an orthonormal change of basis)
    for (let z = 0; z < n; z++) for (let t = 0; t < 6; t++) expect(same.affines[z][t]).toBeCloseTo(rigid.affines[z][t], 6);
    const [e0, e1, e2, es] = [err(rigid.affines), err(weak.affines), err(none.affines), err(sim.affines)];
    console.log(`per-section scalings: mean scale error rigid prior ${e0.toFixed(5)}, scale weight 0.003 ${e1.toFixed(5)}, 0 ${e2.toFixed(5)}, similarity prior ${es.toFixed(5)}`);
    expect(e0).toBeGreaterThan(0.001);
    expect(e1).toBeLessThan(e0 / 2);
    expect(e2).toBeLessThan(e0 / 10);
    expect(e2).toBeLessThan(2 * es + 1e-4);
  });

  it('a steady scale drift: the weaker the scale weight, the more of it passes, between the rigid and the similarity prior', () => {
    // the truth is rigid; every z-1 and z-2 pair set says z is larger than it is (0.5 % per section)
    const r = mulberry32(21);
    const n = 20;
    const truth: Affine[] = Array.from({ length: n }, (_, z) => (z === 0 ? [1, 0, 0, 0, 1, 0] : similarity(2 * (r() - 0.5), 1, 10 * (r() - 0.5), 10 * (r() - 0.5))));
    const sets: PairSet[] = [];
    for (let z = 1; z < n; z++) {
      for (const k of [1, 2]) {
        if (z - k < 0) continue;
        const s = pairs(truth, z - k, z, 30, r, 0.2);
        for (let i = 0; i < s.q.length; i++) s.q[i] = 256 + 1.005 ** k * (s.q[i] - 256);
        sets.push(s);
      }
    }
    const last = (o: object) => scaleOf(solveGlobalAffine(n, sets, { ...opts, ...o }).affines[n - 1]);
    const rigid = last({});
    const ws = [0.01, 0.003, 0].map((w) => last({ regulariseScale: w }));
    const sim = last({ regulariseTo: 'similarity' });
    console.log(`steady drift: scale of section ${n - 1}: rigid ${rigid.toFixed(4)}, scale weight 0.01 / 0.003 / 0: ${ws.map((x) => x.toFixed(4)).join(' / ')}, similarity ${sim.toFixed(4)}`);
    // similarity: 1.005^19 ~ 1.10 (the drift is free); rigid holds it within 2 %
    expect(sim).toBeGreaterThan(1.07);
    expect(rigid).toBeLessThan(1.02);
    expect(rigid).toBeLessThan(ws[0]);
    expect(ws[0]).toBeLessThan(ws[1]);
    expect(ws[1]).toBeLessThan(ws[2]);
    expect(ws[2]).toBeCloseTo(sim, 2);
  });
});

describe('relaxGlobalMesh', () => {
  const g = { ox: 0, oy: 0, stride: 16, nx: 5, ny: 5 };
  it('a warp of the middle section is put on that section, not spread over its neighbours', () => {
    // sections 0..4; section 2 is displaced by (3, -2) everywhere: links from 1 and 0 to it say +d, from 3 and 4 say -d
    const d = [3, -2];
    const links: LinkTarget[] = [];
    const disp = (z: number) => (z === 2 ? d : [0, 0]);
    for (let z = 1; z < 5; z++) {
      for (const k of [1, 2]) {
        const j = z - k;
        if (j < 0) continue;
        for (let n = 0; n < 25; n++) links.push({ z, j, node: n, u: disp(z)[0] - disp(j)[0], v: disp(z)[1] - disp(j)[1], w: 1 / k });
      }
    }
    for (let n = 0; n < 25; n++) links.push({ z: 0, j: -1, node: n, u: 0, v: 0, w: 1e3 });
    const r = relaxGlobalMesh(g, 5, links, { stiffness: 0.5, maxResidual: 1, rounds: 2 });
    for (let z = 0; z < 5; z++) {
      expect(r.u[z][12]).toBeCloseTo(disp(z)[0], 3);
      expect(r.v[z][12]).toBeCloseTo(disp(z)[1], 3);
    }
  });

  it('drops a link that contradicts the others (a fold) and keeps the mesh smooth', () => {
    const links: LinkTarget[] = [];
    for (let n = 0; n < 25; n++) links.push({ z: 0, j: -1, node: n, u: 0, v: 0, w: 1e3 });
    for (let n = 0; n < 25; n++) links.push({ z: 1, j: 0, node: n, u: 1, v: 0, w: 1 });
    links.push({ z: 1, j: 0, node: 12, u: 9, v: 0, w: 1 });
    const r = relaxGlobalMesh(g, 2, links, { stiffness: 0.5, maxResidual: 1, rounds: 3 });
    expect(r.kept.at(-1)).toBe(0);
    for (let n = 0; n < 25; n++) expect(r.u[1][n]).toBeCloseTo(1, 3);
  });

  it('the shape prior leaves a section\'s translation free and shrinks a local bump toward it', () => {
    // section 1 sits (2, 0) further than section 0 everywhere, plus a bump of 3 px at the centre node
    const links: LinkTarget[] = [];
    for (let n = 0; n < 25; n++) links.push({ z: 0, j: -1, node: n, u: 0, v: 0, w: 1e3 });
    for (let n = 0; n < 25; n++) links.push({ z: 1, j: 0, node: n, u: n === 12 ? 5 : 2, v: 0, w: 1 });
    const free = relaxGlobalMesh(g, 2, links, { stiffness: 0.5, maxResidual: 10, rounds: 0 });
    const shaped = relaxGlobalMesh(g, 2, links, { stiffness: 0.5, maxResidual: 10, rounds: 0, shapePrior: { weight: 1, sections: Uint8Array.from([0, 1]) } });
    // a corner node: the translation, the same with and without the prior
    expect(shaped.u[1][0]).toBeCloseTo(free.u[1][0], 1);
    expect(shaped.u[1][0]).toBeGreaterThan(1.9);
    // the bump: smaller with the prior, still above the translation
    expect(shaped.u[1][12] - 2).toBeLessThan(0.8 * (free.u[1][12] - 2));
    expect(shaped.u[1][12]).toBeGreaterThan(2);
    // an absolute prior (links to zero) would pull the translation too
    const abs = relaxGlobalMesh(g, 2, [...links, ...Array.from({ length: 25 }, (_, n) => ({ z: 1, j: -1, node: n, u: 0, v: 0, w: 1 }))], { stiffness: 0.5, maxResidual: 10, rounds: 0 });
    expect(abs.u[1][0]).toBeLessThan(1.5);
  });

  it('typed-array links (grown past their first capacity) relax to the same meshes as link objects', () => {
    const r = mulberry32(8);
    const links: LinkTarget[] = [];
    for (let n = 0; n < 25; n++) links.push({ z: 0, j: -1, node: n, u: 0, v: 0, w: 1e3 });
    for (let z = 1; z < 8; z++) for (const k of [1, 2]) if (z - k >= 0) for (let n = 0; n < 25; n++) links.push({ z, j: z - k, node: n, u: r() - 0.5, v: r() - 0.5, w: 1 / k });
    const L = Links.from(links);
    expect(L.length).toBe(links.length);
    expect(L.length).toBeGreaterThan(256); // grew at least once
    expect(L.bytes).toBeLessThan(links.length * 2 * 24 + 1);
    const a = relaxGlobalMesh(g, 8, links, { stiffness: 0.5, maxResidual: 1, rounds: 2 });
    const b = relaxGlobalMesh(g, 8, L, { stiffness: 0.5, maxResidual: 1, rounds: 2 });
    for (let z = 0; z < 8; z++) for (let n = 0; n < 25; n++) expect(b.u[z][n]).toBeCloseTo(a.u[z][n], 5);
    expect(Array.from(b.kept)).toEqual(Array.from(a.kept));
  });
});
