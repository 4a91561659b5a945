import type { PhantomModel } from '../model.js';

/**
 * Primitive fields interleaved (a, b - a, 1/|b-a|^2, ra, rb - ra, Lipschitz factor), so one
 * primitive is one or two cache lines. The Lipschitz factor 1 + |rb - ra| / |b - a| bounds how
 * fast the surface distance (distance to the axis minus the interpolated radius) changes with
 * the position.
 */
export const PK = 10;
const packCache = new WeakMap<PhantomModel, Float64Array>();
export function packed(m: PhantomModel): Float64Array {
  let pk = packCache.get(m);
  if (!pk) {
    pk = new Float64Array(PK * m.nPrims);
    for (let i = 0; i < m.nPrims; i++) {
      for (let a = 0; a < 3; a++) {
        pk[PK * i + a] = m.pa[3 * i + a];
        pk[PK * i + 3 + a] = m.pu[3 * i + a];
      }
      pk[PK * i + 6] = m.pinv[i];
      pk[PK * i + 7] = m.pra[i];
      pk[PK * i + 8] = m.pdr[i];
      pk[PK * i + 9] = 1 + (m.pinv[i] > 0 ? Math.abs(m.pdr[i]) * Math.sqrt(m.pinv[i]) : 0) + 1e-9;
    }
    packCache.set(m, pk);
  }
  return pk;
}

/** Presynaptic cell per synapse (from the model's synapse list). */
const preCache = new WeakMap<PhantomModel, Int32Array>();
export function synPre(m: PhantomModel): Int32Array {
  let a = preCache.get(m);
  if (!a) {
    a = Int32Array.from(m.synapses.map((s) => s.pre));
    preCache.set(m, a);
  }
  return a;
}
