/**
 * Reading one section of a stack as a float image, and telling blank or missing sections apart
 * from tissue: a section is blank when its grey levels hardly vary (std below `blankStd`) or
 * when most of it is exactly zero (unimaged or dropped data). A partial section (imaged over part
 * of the field, the rest exactly zero) has its unimaged part masked (NaN) for matching, so that
 * the edge of the zero area is not matched as if it were tissue.
 */
import { WiringError } from '../../core/errors.js';
import type { VolumeSource } from '../../formats/source.js';
import { type Image2D, image, stats } from './image.js';

export async function readSection(src: VolumeSource, z: number): Promise<Image2D> {
  const [w, h] = src.shape;
  const [ox, oy] = src.offset;
  if (src.dtype === 'uint64') throw new WiringError(`alignment reads an image stack; ${src.url} is uint64 (a segmentation? use --apply with transforms instead)`, src.url);
  const vol = await src.read({ min: [ox, oy, z], max: [ox + w, oy + h, z + 1] });
  const out = image(w, h);
  const d = vol.data as ArrayLike<number>;
  for (let i = 0; i < w * h; i++) out.data[i] = d[i];
  return out;
}

export interface SectionCheck {
  blank: boolean;
  std: number;
  zeroFraction: number;
}

export function checkSection(im: Image2D, blankStd: number, blankZeroFraction: number): SectionCheck {
  const s = stats(im.data);
  let zeros = 0;
  for (let i = 0; i < im.data.length; i++) if (im.data[i] === 0) zeros++;
  const zeroFraction = zeros / im.data.length;
  return { blank: s.std < blankStd || zeroFraction > blankZeroFraction, std: s.std, zeroFraction };
}

/**
 * Mask the unimaged part of a section in place: exact zeros in every `block` x `block` block that
 * is at least `fraction` zeros, and in the blocks around such a block (the boundary of the zero
 * area), become NaN (outside, for matching). Isolated zero pixels inside tissue (clipped dark
 * membranes) stay. Returns the number of pixels masked.
 */
export function maskUnimaged(im: Image2D, block = 8, fraction = 0.9): number {
  const { w, h, data } = im;
  const bw = Math.ceil(w / block);
  const bh = Math.ceil(h / block);
  const empty = new Uint8Array(bw * bh);
  let any = false;
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      let zeros = 0;
      let n = 0;
      for (let y = by * block; y < Math.min(h, (by + 1) * block); y++) {
        for (let x = bx * block; x < Math.min(w, (bx + 1) * block); x++) {
          n++;
          if (data[x + w * y] === 0) zeros++;
        }
      }
      if (zeros >= fraction * n) {
        empty[bx + bw * by] = 1;
        any = true;
      }
    }
  }
  if (!any) return 0;
  let masked = 0;
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      let near = false;
      for (let dy = -1; dy <= 1 && !near; dy++) for (let dx = -1; dx <= 1 && !near; dx++) {
        const [x, y] = [bx + dx, by + dy];
        near = x >= 0 && y >= 0 && x < bw && y < bh && empty[x + bw * y] === 1;
      }
      if (!near) continue;
      for (let y = by * block; y < Math.min(h, (by + 1) * block); y++) {
        for (let x = bx * block; x < Math.min(w, (bx + 1) * block); x++) {
          if (data[x + w * y] === 0) {
            data[x + w * y] = NaN;
            masked++;
          }
        }
      }
    }
  }
  return masked;
}
