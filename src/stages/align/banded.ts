/**
 * A symmetric positive definite banded system (the normal equations of the global affine
 * solve: each section's parameters couple only with those of sections a few z away), assembled
 * entry by entry and solved by banded Cholesky in O(n bw^2).
 */
import { WiringError } from '../../core/errors.js';

export class BandedSystem {
  /** Lower band, row-major: entry (i, j), j <= i, i - j <= bw, at i * (bw + 1) + (i - j). */
  readonly a: Float64Array;
  readonly rhs: Float64Array;

  constructor(
    readonly n: number,
    readonly bw: number,
  ) {
    this.a = new Float64Array(n * (bw + 1));
    this.rhs = new Float64Array(n);
  }

  /** Add v to entry (i, j) (and, by symmetry, (j, i)). */
  add(i: number, j: number, v: number): void {
    if (j > i) [i, j] = [j, i];
    if (i - j > this.bw) throw new WiringError(`banded system: entry (${i}, ${j}) outside the band ${this.bw}`);
    this.a[i * (this.bw + 1) + (i - j)] += v;
  }

  /** Add w * (c . x - r)^2 to the energy: c sparse as index/value lists. */
  addRow(idx: number[], val: number[], r: number, w: number): void {
    for (let s = 0; s < idx.length; s++) {
      this.rhs[idx[s]] += w * val[s] * r;
      for (let t = 0; t <= s; t++) {
        const v = w * val[s] * val[t];
        if (idx[s] === idx[t]) this.add(idx[s], idx[s], s === t ? v : 2 * v);
        else this.add(idx[s], idx[t], v);
      }
    }
  }

  /** Solve (destroys the matrix). */
  solve(): Float64Array {
    const { n, bw, a } = this;
    const L = (i: number, j: number) => i * (bw + 1) + (i - j);
    for (let i = 0; i < n; i++) {
      const j0 = Math.max(0, i - bw);
      for (let j = j0; j <= i; j++) {
        let s = a[L(i, j)];
        const k0 = Math.max(j0, j - bw);
        for (let k = k0; k < j; k++) s -= a[L(i, k)] * a[L(j, k)];
        if (i === j) {
          if (!(s > 0)) throw new WiringError(`banded system: not positive definite at row ${i}`);
          a[L(i, i)] = Math.sqrt(s);
        } else a[L(i, j)] = s / a[L(j, j)];
      }
    }
    const x = Float64Array.from(this.rhs);
    for (let i = 0; i < n; i++) {
      let s = x[i];
      for (let k = Math.max(0, i - bw); k < i; k++) s -= a[L(i, k)] * x[k];
      x[i] = s / a[L(i, i)];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = x[i];
      for (let k = i + 1; k <= Math.min(n - 1, i + bw); k++) s -= a[L(k, i)] * x[k];
      x[i] = s / a[L(i, i)];
    }
    return x;
  }
}
