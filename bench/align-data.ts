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

/** The bench's known warps (rigid: shift, rotation, scale; elastic: smaller ones plus a smooth field and a fold), blank section 3 in both. */
export const BENCH_WARPS = {
  rigid: { shift: 10, rotation: 2, scale: 0.02, elastic: 0, missing: 3, foldSection: -1, fold: 0, seed: 5 },
  elastic: { shift: 6, rotation: 1, scale: 0.01, elastic: 4, missing: 3, foldSection: 5, fold: 6, seed: 7 },
};

/**
 * The experiments' stack by name: `phantom:<seed>` (a crop of at most 384 px, 8x8x30 nm), `isbi`
 * (4x4x50 nm) or `vnc` (vnc-sstem stack2, 4.6x4.6x50 nm), `nz` sections of `size` px.
 */
export async function experimentStack(ds: string, nz: number, size: number): Promise<{ orig: Image2D[]; vox: [number, number, number] }> {
  const isPh = ds.startsWith('phantom');
  const vox: [number, number, number] = ds === 'isbi' ? [4, 4, 50] : isPh ? [8, 8, 30] : [4.6, 4.6, 50];
  const orig = isPh
    ? phantomStack({ seed: Number(ds.split(':')[1] ?? 11), size: [Math.min(size, 384), Math.min(size, 384), nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 }).sections
    : await realStack(sectionFiles(ds === 'isbi' ? 'isbi' : 'vnc', nz), size);
  return { orig, vox };
}
