/**
 * Region adjacency graph of a supervoxel volume with boundary statistics on every contact.
 *
 * Supervoxels are dense labels 1..nNodes (0 = no supervoxel, ignored). Two supervoxels are adjacent
 * when a pair of face-neighbouring voxels carries them (6-neighbourhood; 4 with twoD). Each such voxel
 * pair is one contact face; its boundary value is max(b[p], b[q]) (the ridge voxel of the pair — the
 * watershed puts the split on the ridge, which lies on one side), or the mean with contact 'mean'.
 *
 * Per edge: contact area (faces), sum and sum of squares of contact values, min, max, and a histogram
 * of contact values on [0, 1] (`bins` bins) for quantiles. Per node: size (voxels) and the sum of
 * boundary values inside. Statistics of two edges add, so merged regions keep exact means and
 * histogram quantiles during agglomeration.
 *
 * Edges are found with an open-addressing hash over (u, v) pairs in typed arrays (no Map per voxel).
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { hashPair } from '../../core/hash.js';

/** The per-edge columns of a region graph (edge e's statistics at index e), shared by the graph (Rag), a block's record (BlockRag) and the agglomeration's state (EdgeState). */
export interface EdgeColumns {
  /** endpoints, u < v */
  u: Uint32Array;
  v: Uint32Array;
  /** contact area (faces) */
  area: Float64Array;
  /** sum and sum of squares of the contact values */
  sum: Float64Array;
  sumSq: Float64Array;
  min: Float32Array;
  max: Float32Array;
}

export interface Rag extends EdgeColumns {
  nNodes: number;
  /** voxels per node (index 0 unused) */
  nodeSize: Float64Array;
  /** sum of boundary values inside each node */
  nodeSum: Float64Array;
  nEdges: number;
  bins: number;
  /** hist[e * bins + k] */
  hist: Float32Array;
}

export interface RagOptions {
  /** Histogram bins on [0, 1] (default 32). */
  bins?: number;
  /** Value of a contact face: 'max' (default) or 'mean' of the two voxels. */
  contact?: 'max' | 'mean';
  /** Only in-section contacts (4-neighbourhood). */
  twoD?: boolean;
  /**
   * Affinities (3 channels [x, y, z], channel c = affinity of voxel p with p - e_c): the contact value
   * of a face is then 1 - its affinity, and `boundary` is used for the node statistics only.
   */
  affinities?: Float32Array;
  /**
   * Only voxels p inside this box (array coordinates, half-open) count: their node statistics and
   * their faces towards +x, +y, +z (the neighbour may lie outside the region, inside the array).
   * Blockwise RAGs use it so that every face of the volume is counted by exactly one block.
   */
  region?: { min: readonly [number, number, number]; max: readonly [number, number, number] };
}

/** Build the RAG of dense supervoxel labels over a boundary map (both [x, y, z], x fastest). */
export function buildRag(labels: Uint32Array, boundary: Float32Array, shape: Vec3, opts: RagOptions = {}): Rag {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  if (labels.length !== n || boundary.length !== n) {
    throw new UsageError(`buildRag: labels (${labels.length}) and boundaries (${boundary.length}) must both have ${n} voxels for shape [${shape}]`);
  }
  const bins = opts.bins ?? 32;
  const useMean = opts.contact === 'mean';
  let nNodes = 0;
  for (let i = 0; i < n; i++) if (labels[i] > nNodes) nNodes = labels[i];
  const nodeSize = new Float64Array(nNodes + 1);
  const nodeSum = new Float64Array(nNodes + 1);
  // hash of (u, v) -> edge index
  let cap = 1024;
  let hu = new Uint32Array(cap);
  let hv = new Uint32Array(cap);
  let he = new Int32Array(cap);
  let ne = 0;
  let ecap = 1024;
  let eu = new Uint32Array(ecap);
  let ev = new Uint32Array(ecap);
  let area = new Float64Array(ecap);
  let sum = new Float64Array(ecap);
  let sumSq = new Float64Array(ecap);
  let emin = new Float32Array(ecap);
  let emax = new Float32Array(ecap);
  let hist = new Float32Array(ecap * bins);
  let lastA = 0;
  let lastB = 0;
  let lastE = -1;
  const add = (a: number, b: number, val: number): void => {
    if (a > b) {
      const t = a;
      a = b;
      b = t;
    }
    let e: number;
    if (a === lastA && b === lastB && lastE >= 0) e = lastE;
    else {
      let h = hashPair(a, b) & (cap - 1);
      for (;;) {
        if (hu[h] === 0) {
          e = ne++;
          if (e === ecap) {
            ecap *= 2;
            const grow = <T extends Float64Array | Float32Array | Uint32Array>(old: T, mul = 1): T => {
              const x = new (old.constructor as new (n: number) => T)(ecap * mul);
              x.set(old);
              return x;
            };
            eu = grow(eu);
            ev = grow(ev);
            area = grow(area);
            sum = grow(sum);
            sumSq = grow(sumSq);
            emin = grow(emin);
            emax = grow(emax);
            hist = grow(hist, bins);
          }
          hu[h] = a;
          hv[h] = b;
          he[h] = e;
          eu[e] = a;
          ev[e] = b;
          emin[e] = Infinity;
          emax[e] = -Infinity;
          if (ne * 2 > cap) {
            const ou = hu;
            const ov = hv;
            const oe = he;
            cap *= 2;
            hu = new Uint32Array(cap);
            hv = new Uint32Array(cap);
            he = new Int32Array(cap);
            for (let s = 0; s < ou.length; s++) {
              if (ou[s] === 0) continue;
              let hh = hashPair(ou[s], ov[s]) & (cap - 1);
              while (hu[hh] !== 0) hh = (hh + 1) & (cap - 1);
              hu[hh] = ou[s];
              hv[hh] = ov[s];
              he[hh] = oe[s];
            }
          }
          break;
        }
        if (hu[h] === a && hv[h] === b) {
          e = he[h];
          break;
        }
        h = (h + 1) & (cap - 1);
      }
      lastA = a;
      lastB = b;
      lastE = e;
    }
    area[e]++;
    sum[e] += val;
    sumSq[e] += val * val;
    if (val < emin[e]) emin[e] = val;
    if (val > emax[e]) emax[e] = val;
    let k = Math.floor(val * bins);
    if (!(k >= 0)) k = 0;
    if (k >= bins) k = bins - 1;
    hist[e * bins + k]++;
  };
  const sxy = sx * sy;
  const useZ = !opts.twoD;
  const aff = opts.affinities;
  const r = opts.region;
  if (r && !(r.min.every((m, k) => Number.isInteger(m) && m >= 0) && r.max.every((m, k) => Number.isInteger(m) && m <= shape[k] && m >= r.min[k]))) {
    throw new UsageError(`buildRag: region [${r.min}]..[${r.max}] must lie inside the array [0,0,0]..[${shape}]`);
  }
  const [x0, y0, z0] = r ? r.min : [0, 0, 0];
  const [x1, y1, z1] = r ? r.max : [sx, sy, sz];
  if (aff && aff.length !== 3 * n) throw new UsageError(`buildRag: affinities have ${aff.length} values, expected ${3 * n} (3 channels)`);
  if (aff) {
    for (let z = z0; z < z1; z++)
      for (let y = y0; y < y1; y++)
        for (let x = x0; x < x1; x++) {
          const i = x + sx * (y + sy * z);
          const a = labels[i];
          if (a === 0) continue;
          nodeSize[a]++;
          nodeSum[a] += boundary[i];
          if (x + 1 < sx) {
            const b = labels[i + 1];
            if (b !== a && b !== 0) add(a, b, 1 - aff[i + 1]);
          }
          if (y + 1 < sy) {
            const b = labels[i + sx];
            if (b !== a && b !== 0) add(a, b, 1 - aff[n + i + sx]);
          }
          if (useZ && z + 1 < sz) {
            const b = labels[i + sxy];
            if (b !== a && b !== 0) add(a, b, 1 - aff[2 * n + i + sxy]);
          }
        }
  } else for (let z = z0; z < z1; z++)
    for (let y = y0; y < y1; y++) {
      const row = z * sxy + y * sx;
      for (let x = x0; x < x1; x++) {
        const i = row + x;
        const a = labels[i];
        if (a === 0) continue;
        const bi = boundary[i];
        nodeSize[a]++;
        nodeSum[a] += bi;
        if (x + 1 < sx) {
          const b = labels[i + 1];
          if (b !== a && b !== 0) {
            const bj = boundary[i + 1];
            add(a, b, useMean ? 0.5 * (bi + bj) : bi > bj ? bi : bj);
          }
        }
        if (y + 1 < sy) {
          const b = labels[i + sx];
          if (b !== a && b !== 0) {
            const bj = boundary[i + sx];
            add(a, b, useMean ? 0.5 * (bi + bj) : bi > bj ? bi : bj);
          }
        }
        if (useZ && z + 1 < sz) {
          const b = labels[i + sxy];
          if (b !== a && b !== 0) {
            const bj = boundary[i + sxy];
            add(a, b, useMean ? 0.5 * (bi + bj) : bi > bj ? bi : bj);
          }
        }
      }
    }
  return {
    nNodes,
    nodeSize,
    nodeSum,
    nEdges: ne,
    u: eu.slice(0, ne),
    v: ev.slice(0, ne),
    area: area.slice(0, ne),
    sum: sum.slice(0, ne),
    sumSq: sumSq.slice(0, ne),
    min: emin.slice(0, ne),
    max: emax.slice(0, ne),
    bins,
    hist: hist.slice(0, ne * bins),
  };
}

/** Quantile q (0..1) of a histogram on [0, 1], linearly interpolated inside the bin. */
export function histQuantile(hist: Float32Array | Float64Array, offset: number, bins: number, total: number, q: number): number {
  if (total <= 0) return 0;
  const target = q * total;
  let acc = 0;
  for (let k = 0; k < bins; k++) {
    const c = hist[offset + k];
    if (acc + c >= target && c > 0) {
      const frac = (target - acc) / c;
      return (k + Math.min(1, Math.max(0, frac))) / bins;
    }
    acc += c;
  }
  return 1;
}
