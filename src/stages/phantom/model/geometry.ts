/** Vector helpers, random directions and confinement boxes (nm) for the model's random walks. */
import type { Vec3 } from '../../../core/box.js';

export type V = [number, number, number];
export const add = (a: Vec3, b: Vec3): V => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const sub = (a: Vec3, b: Vec3): V => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const mul = (a: Vec3, s: number): V => [a[0] * s, a[1] * s, a[2] * s];
export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const len = (a: Vec3): number => Math.sqrt(dot(a, a));
export const norm = (a: Vec3): V => mul(a, 1 / (len(a) || 1));
export const cross = (a: Vec3, b: Vec3): V => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

export function randomUnit(r: () => number): V {
  const z = 2 * r() - 1;
  const t = 2 * Math.PI * r();
  const s = Math.sqrt(1 - z * z);
  return [s * Math.cos(t), s * Math.sin(t), z];
}

/** A unit vector perpendicular to `u`, at a random angle. */
export function randomPerp(u: Vec3, r: () => number): V {
  const helper: Vec3 = Math.abs(u[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  const e1 = norm(cross(u, helper));
  const e2 = cross(u, e1);
  const t = 2 * Math.PI * r();
  return add(mul(e1, Math.cos(t)), mul(e2, Math.sin(t)));
}

/** Turn direction `u` by a random small angle (persistence of a random walk). */
export function wiggle(u: Vec3, amount: number, r: () => number): V {
  return norm(add(u, mul(randomUnit(r), amount)));
}

export const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
export const between = (r: () => number, a: number, b: number) => a + (b - a) * r();

export function pick<T extends string>(weights: Partial<Record<T, number>>, r: () => number): T {
  const entries = Object.entries(weights) as [T, number][];
  let u = r() * entries.reduce((s, [, w]) => s + w, 0);
  for (const [k, w] of entries) {
    u -= w;
    if (u < 0) return k;
  }
  return entries[entries.length - 1][0];
}

/** A confinement box [lo, hi] (nm). */
export type Confine = [V, V];
export const inside = (p: Vec3, c: Confine): boolean =>
  p[0] >= c[0][0] && p[0] <= c[1][0] && p[1] >= c[0][1] && p[1] <= c[1][1] && p[2] >= c[0][2] && p[2] <= c[1][2];
export const grown = (lo: Vec3, hi: Vec3, g: number): Confine => [
  [lo[0] - g, lo[1] - g, lo[2] - g],
  [hi[0] + g, hi[1] + g, hi[2] + g],
];
