/**
 * A scripted labeller for the interactive loop's tests and benchmark: it sees a dense class
 * volume (the truth) and draws N short strokes, half on each of two classes, each a few voxels
 * long inside one section and staying on its class (as a person would trace a membrane or
 * scribble inside a cell).
 */
import type { Vec3 } from '../../core/box.js';
import { mulberry32 } from '../../core/random.js';
import type { Volume } from '../../core/volume.js';
import type { Stroke } from './interactive.js';

export function scriptedStrokes(truth: Volume, classes: [number, number], n: number, seed: number, radius = 0, user = 'script'): Stroke[] {
  const rnd = mulberry32(seed);
  const [sx, sy, sz] = truth.shape;
  const d = truth.data as Uint8Array;
  const at = (x: number, y: number, z: number) => d[x + sx * (y + sy * z)];
  const out: Stroke[] = [];
  const dirs = [[1, 0], [0, 1], [1, 1], [1, -1], [-1, 0], [0, -1], [-1, -1], [-1, 1]];
  let guard = 0;
  while (out.length < n && guard++ < n * 2000) {
    const cls = classes[out.length % 2];
    const x = Math.floor(rnd() * sx), y = Math.floor(rnd() * sy), z = Math.floor(rnd() * sz);
    if (at(x, y, z) !== cls) continue;
    const pts: Vec3[] = [[x + truth.box.min[0], y + truth.box.min[1], z + truth.box.min[2]]];
    let cx = x, cy = y;
    for (let step = 0; step < 6; step++) {
      const [dx, dy] = dirs[Math.floor(rnd() * dirs.length)];
      const nx = cx + dx, ny = cy + dy;
      if (nx < 0 || ny < 0 || nx >= sx || ny >= sy || at(nx, ny, z) !== cls) continue;
      cx = nx;
      cy = ny;
      pts.push([cx + truth.box.min[0], cy + truth.box.min[1], z + truth.box.min[2]]);
    }
    out.push({ id: out.length + 1, cls, points: pts, radius, plane: 'xy', user, time: new Date(0).toISOString() });
  }
  return out;
}
