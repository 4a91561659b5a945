/**
 * Warping a section through its transform: every output pixel pulls its value from the raw
 * section at pullback(x, y), bilinear (images) or nearest (labels). NaN marks pixels whose
 * source lies outside the raw section.
 */
import { type Image2D, bilinear, image, nearest } from './image.js';
import { type SectionTransform, pullback, pullbackRow } from './transform.js';

export type Sampling = 'linear' | 'nearest';

/**
 * The output rectangle [x0, x0 + w) x [y0, y0 + h) of a section warped from `raw`, whose pixel
 * (0, 0) sits at raw coordinates (rx0, ry0) (a sub-rectangle of the section).
 */
export function warpImage(raw: Image2D, t: SectionTransform, x0: number, y0: number, w: number, h: number, sampling: Sampling = 'linear', rx0 = 0, ry0 = 0): Image2D {
  const out = image(w, h);
  const sample = sampling === 'nearest' ? nearest : bilinear;
  const sx = new Float64Array(w);
  const sy = new Float64Array(w);
  const cols = t.mesh ? { u: new Float64Array(t.mesh.nx), v: new Float64Array(t.mesh.nx) } : undefined;
  for (let y = 0; y < h; y++) {
    pullbackRow(t, x0, y0 + y, w, sx, sy, cols);
    for (let x = 0; x < w; x++) out.data[x + w * y] = sample(raw, sx[x] - rx0, sy[x] - ry0);
  }
  return out;
}

/** The raw rectangle [min, max) that output rectangle (x0, y0, w, h) pulls from (one pixel of slack for bilinear). */
export function sourceRect(t: SectionTransform, x0: number, y0: number, w: number, h: number): { x0: number; y0: number; x1: number; y1: number } {
  let ax = Infinity;
  let ay = Infinity;
  let bx = -Infinity;
  let by = -Infinity;
  // The pull-back is smooth (affine + a bilinear mesh): its extreme values over the rectangle lie
  // on its border or at mesh nodes; sampling the border and a grid of 16 px bounds it closely.
  const step = 16;
  const visit = (x: number, y: number) => {
    const [sx, sy] = pullback(t, x, y);
    if (sx < ax) ax = sx;
    if (sy < ay) ay = sy;
    if (sx > bx) bx = sx;
    if (sy > by) by = sy;
  };
  for (let y = y0; y < y0 + h + step - 1; y += step) for (let x = x0; x < x0 + w + step - 1; x += step) visit(Math.min(x, x0 + w - 1), Math.min(y, y0 + h - 1));
  const slack = t.mesh ? 2 + t.mesh.stride / 8 : 2;
  return { x0: Math.floor(ax - slack), y0: Math.floor(ay - slack), x1: Math.ceil(bx + slack) + 1, y1: Math.ceil(by + slack) + 1 };
}
