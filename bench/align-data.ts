// Inputs of the alignment benchmark: the phantom's sections (exact shift truth) and real sections.
import { boxFromShape } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { type PhantomParams, phantomBlock, sectionArtefacts } from '../src/stages/phantom/tasks.js';
import * as path from 'node:path';
import { type Image2D, image } from '../src/stages/align/image.js';
import { readSlice } from '../src/stages/align/testing.js';

const DATA = process.env.WIRING_DATA ?? new URL('../../shared/data', import.meta.url).pathname;

export function phantomStack(p: PhantomParams) {
  const box = boxFromShape(p.size);
  const res = phantomBlock({ box, readBox: box, inputs: {}, params: p, blockIndex: [0, 0, 0] });
  const raw = res.volumes!.raw as Volume<'uint8'>;
  const [w, h, nz] = p.size;
  const sections = Array.from({ length: nz }, (_, z) => image(w, h, Float32Array.from(raw.data.subarray(z * w * h, (z + 1) * w * h))));
  return { sections, art: sectionArtefacts(p) };
}

/** The first `nz` sections of a real stack: ISBI 2012's training images or vnc-sstem stack2's raw. */
export function sectionFiles(stack: 'isbi' | 'vnc', nz: number): string[] {
  return Array.from({ length: nz }, (_, z) => (stack === 'isbi' ? path.join(DATA, `isbi2012/train/image/${z}.png`) : path.join(DATA, `vnc-sstem/stack2/raw/${String(z).padStart(2, '0')}.tif`)));
}

/** The central size x size crop of each file's section. */
export async function realStack(files: string[], size: number): Promise<Image2D[]> {
  const out: Image2D[] = [];
  for (const f of files) {
    const s = await readSlice(f);
    const o = (s.w - size) >> 1;
    const oy = (s.h - size) >> 1;
    const im = image(size, size);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) im.data[x + size * y] = s.data[o + x + s.w * (oy + y)];
    out.push(im);
  }
  return out;
}
