/**
 * Reading one section of a stack as a float image, and telling blank or missing sections apart
 * from tissue: a section is blank when its grey levels hardly vary (std below `blankStd`) or
 * when most of it is exactly zero (unimaged or dropped data).
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
