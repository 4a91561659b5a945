/**
 * Global affine solve: every section gets a forward map F_z (raw section pixel -> output pixel)
 * such that matched points agree in the output frame, F_j(p) = F_z(q) for every point pair
 * (p in section j, q in section z) found between a section and several neighbours (z-1, z-2, ...),
 * in the least-squares sense over the whole stack at once, so a single pair's error does not
 * carry down the stack as it does in a sequential chain. The first good section is the frame
 * (F = identity); a tiny prior ties each section to the one before, so a section with no pairs
 * follows its neighbours. Pair sets whose median residual exceeds `maxResidual` (worst first,
 * one per round), then single pairs farther than `maxResidual` (and than three times the median)
 * are dropped and the system solved again.
 *
 * Models are linear in their parameters (in coordinates centred and scaled to about [-1, 1]):
 * translation (2), similarity (4: a, b, c, f with x' = a x - b y + c, y' = b x + a y + f) and
 * affine (6). Rigid = the similarity solution with its scale removed, translations solved again.
 */
import { WiringError } from '../../core/errors.js';
import { type Affine, type AffineModel, IDENTITY, compose, invert } from './affine.js';
import { BandedSystem } from './banded.js';
import { detrendRotation } from './detrend.js';

/** Matched points between sections j < z: raw_j(p_k) shows what raw_z(q_k) shows. */
export interface PairSet {
  j: number;
  z: number;
  /** Weight of each pair of this set. */
  w: number;
  /** Optional weight of each pair, multiplied by `w` (match quality: solve.ts `pairWeight`). */
  wp?: Float64Array;
  /** Interleaved x, y (full-resolution raw pixels). */
  p: number[] | Float64Array;
  q: number[] | Float64Array;
}

export interface GlobalAffineOptions {
  model: AffineModel;
  /** Pairs farther than this from the solution are dropped, px. */
  maxResidual: number;
  /** Drop-and-solve rounds after the first solve. */
  rounds: number;
  /** Sections whose F is fixed to the identity (the frame). */
  reference: number;
  /** Image size (for centring). */
  w: number;
  h: number;
  /**
   * Affine model only: weight of a prior pulling each section's linear part toward the rotation of
   * the similarity solution (TrakEM2's regularised affine), relative to the section's pairs (1: as
   * much as all its pairs). 0: free affine. Stops scale and shear accumulating along a long stack.
   */
  regularise?: number;
  /** What the regularised affine is pulled toward: the similarity solution's rotation (rigid, default) or the similarity itself (uniform scale left free). */
  regulariseTo?: 'rigid' | 'similarity';
  /**
   * Weight of the prior on each section's uniform scale alone (its similarity part's length),
   * relative to its pairs, when the rest of the linear part (rotation, shear, anisotropic scale) is
   * pulled with `regularise`. Undefined: `regularise` (one prior on all four). 0 with 'rigid' is
   * 'similarity'.
   */
  regulariseScale?: number;
  /**
   * Rotation trend removed after the solve (detrend.ts): Gaussian window of the local slope,
   * sections (0: none). A prior against the slow rotation drift that pairwise matching reads
   * from the content of real sections.
   */
  detrend?: number;
}

export interface GlobalAffineResult {
  /** Pull-backs A_z = F_z^-1 (output pixel -> raw pixel), one per section. */
  affines: Affine[];
  /** Per pair set: kept pairs and their residual median after the last solve, px. */
  kept: number[];
  residualMedian: number[];
}

type Coef = (x: number, y: number) => { x: number[]; y: number[] };

/** Coefficients of F(x, y)'s x and y components in the model's parameters, and the parameter count. */
function modelOf(model: 'translation' | 'similarity' | 'affine'): { P: number; coef: Coef; toAffine: (t: ArrayLike<number>) => Affine; fromAffine: (a: Affine) => number[] } {
  if (model === 'translation') return { P: 2, coef: () => ({ x: [1, 0], y: [0, 1] }), toAffine: (t) => [1, 0, t[0], 0, 1, t[1]], fromAffine: (a) => [a[2], a[5]] };
  if (model === 'similarity') {
    return {
      P: 4,
      coef: (x, y) => ({ x: [x, -y, 1, 0], y: [y, x, 0, 1] }),
      toAffine: (t) => [t[0], -t[1], t[2], t[1], t[0], t[3]],
      fromAffine: (a) => [(a[0] + a[4]) / 2, (a[3] - a[1]) / 2, a[2], a[5]],
    };
  }
  return { P: 6, coef: (x, y) => ({ x: [x, y, 1, 0, 0, 0], y: [0, 0, 0, x, y, 1] }), toAffine: (t) => [t[0], t[1], t[2], t[3], t[4], t[5]], fromAffine: (a) => [...a] };
}

function median(v: number[]): number {
  if (!v.length) return 0;
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Solve for all sections at once. `fixedLinear` (rigid): the linear part of each F is given and
 * only translations are solved (the caller normalises a similarity solution).
 */
function solveOnce(
  nz: number, sets: PairSet[], keep: boolean[][], o: GlobalAffineOptions, model: 'translation' | 'similarity' | 'affine',
  N: Affine, fixedLinear: Affine[] | null, toward: { rot: Affine[]; weight: number; scaleWeight?: number } | null = null,
): Affine[] {
  const m = modelOf(model);
  const P = m.P;
  let gap = 1;
  for (const s of sets) gap = Math.max(gap, s.z - s.j);
  const sys = new BandedSystem(nz * P, P * (gap + 1) - 1);
  // normalised coordinates: n = N p
  const norm = (x: number, y: number): [number, number] => [N[0] * x + N[1] * y + N[2], N[3] * x + N[4] * y + N[5]];
  // F in normalised coordinates; with a fixed linear part L, F(p) = L p + t and the rows carry L p on the right.
  sets.forEach((s, k) => {
    for (let i = 0; i < s.p.length / 2; i++) {
      if (!keep[k][i]) continue;
      const [px, py] = norm(s.p[2 * i], s.p[2 * i + 1]);
      const [qx, qy] = norm(s.q[2 * i], s.q[2 * i + 1]);
      const cp = m.coef(px, py);
      const cq = m.coef(qx, qy);
      let rx = 0;
      let ry = 0;
      if (fixedLinear) {
        const Lj = fixedLinear[s.j];
        const Lz = fixedLinear[s.z];
        // F_j(p) - F_z(q) = (Lj p - Lz q) + t_j - t_z  ->  t_j - t_z = Lz q - Lj p
        rx = Lz[0] * qx + Lz[1] * qy - (Lj[0] * px + Lj[1] * py);
        ry = Lz[3] * qx + Lz[4] * qy - (Lj[3] * px + Lj[4] * py);
      }
      const idx: number[] = [];
      for (let t = 0; t < P; t++) idx.push(s.j * P + t);
      for (let t = 0; t < P; t++) idx.push(s.z * P + t);
      const wi = s.w * (s.wp ? s.wp[i] : 1);
      sys.addRow(idx, [...cp.x, ...cq.x.map((c) => -c)], rx, wi);
      sys.addRow(idx, [...cp.y, ...cq.y.map((c) => -c)], ry, wi);
    }
  });
  if (toward && model === 'affine' && toward.weight > 0) {
    // pairs per section (both ends, weighted) set the prior's scale: lambda x (what the data says about z)
    const count = new Float64Array(nz);
    sets.forEach((s, k) => {
      let n = 0;
      keep[k].forEach((b, i) => {
        if (b) n += s.w * (s.wp ? s.wp[i] : 1);
      });
      count[s.j] += n;
      count[s.z] += n;
    });
    for (let z = 0; z < nz; z++) {
      if (z === o.reference || count[z] === 0) continue;
      const r = toward.rot[z];
      const w = toward.weight * count[z];
      if (toward.scaleWeight === undefined) {
        // affine parameters [a, b, c, d, e, f]: a, b, d, e toward the rotation's
        for (const [t, v] of [[0, r[0]], [1, r[1]], [3, r[3]], [4, r[4]]] as const) sys.addRow([z * P + t], [1], v, w);
      } else {
        // the same prior in an orthonormal basis of (a, b, d, e): the anti-similarity part (a - e, b + d)/sqrt2
        // (shear, anisotropic scale), and the similarity part (a + e, d - b)/sqrt2 split into its
        // component along the target's direction (uniform scale, weight scaleWeight) and across it (rotation)
        const k = Math.SQRT1_2;
        const sc = Math.hypot(r[0], r[3]) || 1;
        const c = r[0] / sc;
        const sn = r[3] / sc;
        const ws = toward.scaleWeight * count[z];
        sys.addRow([z * P, z * P + 4], [k, -k], k * (r[0] - r[4]), w);
        sys.addRow([z * P + 1, z * P + 3], [k, k], k * (r[1] + r[3]), w);
        // similarity coordinates u = (a + e)/sqrt2, v = (d - b)/sqrt2; along = c u + sn v, across = -sn u + c v
        const u0 = k * (r[0] + r[4]);
        const v0 = k * (r[3] - r[1]);
        sys.addRow([z * P, z * P + 4, z * P + 1, z * P + 3], [c * k, c * k, -sn * k, sn * k], c * u0 + sn * v0, ws);
        sys.addRow([z * P, z * P + 4, z * P + 1, z * P + 3], [-sn * k, -sn * k, -c * k, c * k], -sn * u0 + c * v0, w);
      }
    }
  }
  // The frame: the reference section's F is the identity (strongly); a tiny prior ties each
  // section to the one before (sections with no pairs follow their neighbours).
  const ident = fixedLinear ? [0, 0] : m.fromAffine(IDENTITY);
  for (let t = 0; t < P; t++) sys.addRow([o.reference * P + t], [1], ident[t], 1e6);
  for (let z = 1; z < nz; z++) for (let t = 0; t < P; t++) sys.addRow([(z - 1) * P + t, z * P + t], [1, -1], 0, 1e-4);
  const x = sys.solve();
  const Ninv = invert(N);
  return Array.from({ length: nz }, (_, z) => {
    const th = x.subarray(z * P, (z + 1) * P);
    const Fn: Affine = fixedLinear ? [fixedLinear[z][0], fixedLinear[z][1], th[0], fixedLinear[z][3], fixedLinear[z][4], th[1]] : m.toAffine(th);
    return compose(Ninv, compose(Fn, N)); // F in pixels
  });
}

export function solveGlobalAffine(nz: number, sets: PairSet[], o: GlobalAffineOptions): GlobalAffineResult {
  if (!(o.reference >= 0 && o.reference < nz)) throw new WiringError(`global affine: reference section ${o.reference} outside 0..${nz - 1}`);
  const R = Math.max(o.w, o.h) / 2;
  const N: Affine = [1 / R, 0, -(o.w - 1) / 2 / R, 0, 1 / R, -(o.h - 1) / 2 / R];
  const Ninv = invert(N);
  const keep = sets.map((s) => new Array<boolean>(s.p.length / 2).fill(true));
  let F: Affine[] = [];
  const residualsOf = (s: PairSet, Fs: Affine[]) => {
    const r: number[] = [];
    const a = Fs[s.j];
    const b = Fs[s.z];
    for (let i = 0; i < s.p.length / 2; i++) {
      const [px, py] = [s.p[2 * i], s.p[2 * i + 1]];
      const [qx, qy] = [s.q[2 * i], s.q[2 * i + 1]];
      r.push(Math.hypot(a[0] * px + a[1] * py + a[2] - (b[0] * qx + b[1] * qy + b[2]), a[3] * px + a[4] * py + a[5] - (b[3] * qx + b[4] * qy + b[5])));
    }
    return r;
  };
  for (let round = 0; round <= o.rounds; round++) {
    if (o.model === 'rigid') {
      const sim = solveOnce(nz, sets, keep, o, 'similarity', N, null);
      // normalise each (normalised-coordinate) similarity to a rotation, then solve translations
      const lin = sim.map((f) => {
        const n = compose(N, compose(f, Ninv));
        const s = Math.hypot(n[0], n[3]) || 1;
        return [n[0] / s, n[1] / s, 0, n[3] / s, n[4] / s, 0] as Affine;
      });
      F = solveOnce(nz, sets, keep, o, 'translation', N, lin);
    } else if (o.model === 'translation') F = solveOnce(nz, sets, keep, o, 'translation', N, Array.from({ length: nz }, () => [...IDENTITY] as Affine));
    else if (o.model === 'affine' && (o.regularise ?? 0) > 0) {
      const sim = solveOnce(nz, sets, keep, o, 'similarity', N, null);
      const rot = sim.map((f) => {
        const n = compose(N, compose(f, Ninv));
        const s = o.regulariseTo === 'similarity' ? 1 : Math.hypot(n[0], n[3]) || 1;
        return [n[0] / s, n[1] / s, 0, n[3] / s, n[4] / s, 0] as Affine;
      });
      F = solveOnce(nz, sets, keep, o, 'affine', N, null, { rot, weight: o.regularise!, scaleWeight: o.regulariseScale });
    } else F = solveOnce(nz, sets, keep, o, o.model, N, null);
    const all: number[] = [];
    const res = sets.map((s, k) => {
      const r = residualsOf(s, F);
      r.forEach((v, i) => keep[k][i] && all.push(v));
      return r;
    });
    if (round === o.rounds) break;
    // A whole pair set can be wrong (a false peak across a section): the set whose median
    // residual is worst, when above maxResidual, goes first, one set per round (its error also
    // pulls on the sets around it); then single pairs beyond max(maxResidual, 3 x median).
    let changed = false;
    let worstSet = -1;
    let worstMedian = o.maxResidual;
    res.forEach((r, k) => {
      const m = median(r.filter((_v, i) => keep[k][i]));
      if (m > worstMedian) {
        worstMedian = m;
        worstSet = k;
      }
    });
    if (worstSet >= 0) {
      keep[worstSet].fill(false);
      changed = true;
    } else {
      const cut = Math.max(o.maxResidual, 3 * median(all));
      res.forEach((r, k) => r.forEach((v, i) => {
        if (keep[k][i] && v > cut) {
          keep[k][i] = false;
          changed = true;
        }
      }));
    }
    if (!changed) break;
  }
  if ((o.detrend ?? 0) > 0) {
    const use = new Array<boolean>(nz).fill(false);
    use[o.reference] = true;
    sets.forEach((s, k) => {
      if (!keep[k].some(Boolean)) return;
      use[s.j] = true;
      use[s.z] = true;
    });
    F = detrendRotation(F, use, o.reference, o.detrend!, o.w, o.h).F;
  }
  return {
    affines: F.map((f) => invert(f)),
    kept: keep.map((k) => k.filter(Boolean).length),
    residualMedian: sets.map((s, k) => median(residualsOf(s, F).filter((_v, i) => keep[k][i]))),
  };
}
