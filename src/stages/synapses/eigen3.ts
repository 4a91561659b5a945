import type { Vec3 } from '../../core/box.js';

/**
 * A symmetric 3x3 matrix (row-major) diagonalised by cyclic Jacobi rotations: `diag` holds the
 * eigenvalues at 0, 4, 8 (unordered) and the columns of `V` the unit eigenvectors (column j for
 * the eigenvalue at 4j).
 */
export function jacobi3(a: readonly number[]): { diag: number[]; V: number[] } {
  const A = a.slice();
  const V = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = A[1] * A[1] + A[2] * A[2] + A[5] * A[5];
    const scale = A[0] * A[0] + A[4] * A[4] + A[8] * A[8];
    if (off === 0 || off <= 1e-24 * scale) break;
    for (const [p, q] of [[0, 1], [0, 2], [1, 2]] as const) {
      const apq = A[3 * p + q];
      if (apq === 0) continue;
      const theta = (A[3 * q + q] - A[3 * p + p]) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const akp = A[3 * k + p], akq = A[3 * k + q];
        A[3 * k + p] = c * akp - s * akq;
        A[3 * k + q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = A[3 * p + k], aqk = A[3 * q + k];
        A[3 * p + k] = c * apk - s * aqk;
        A[3 * q + k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = V[3 * k + p], vkq = V[3 * k + q];
        V[3 * k + p] = c * vkp - s * vkq;
        V[3 * k + q] = s * vkp + c * vkq;
      }
    }
  }
  return { diag: A, V };
}

/** The unit eigenvector (column j of V) of eigenvalue j. */
export function eigenvector(V: readonly number[], j: number): Vec3 {
  const v = [V[j], V[3 + j], V[6 + j]];
  const len = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / len, v[1] / len, v[2] / len];
}

/** Eigenvalues (descending) and the unit eigenvector of the smallest, of a symmetric 3x3 matrix (row-major). */
export function symmetricEigen(a: readonly number[]): { values: Vec3; smallest: Vec3 } {
  const { diag: A, V } = jacobi3(a);
  const order = [0, 1, 2].sort((i, j) => A[4 * j] - A[4 * i]);
  return { values: [A[4 * order[0]], A[4 * order[1]], A[4 * order[2]]], smallest: eigenvector(V, order[2]) };
}

/** Unit eigenvector of the smallest eigenvalue of a symmetric 3x3 matrix (row-major; the lowest index on ties). */
export function smallestEigenvector(a: readonly number[]): Vec3 {
  const { diag: A, V } = jacobi3(a);
  let j = 0;
  if (A[4] < A[3 * j + j]) j = 1;
  if (A[8] < A[3 * j + j]) j = 2;
  return eigenvector(V, j);
}
