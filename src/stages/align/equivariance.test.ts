import { describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { dataPath, describeData } from '../../../test/data.js';
import { type Image2D, image } from './image.js';
import { alignStack, memorySource } from './solve.js';
import { makeSynthetic, mapBack, quantile } from './synthetic.js';
import { readSlice } from './testing.js';
import { pullback } from './transform.js';

async function isbi(n: number, size: number): Promise<Image2D[]> {
  const out: Image2D[] = [];
  for (let z = 0; z < n; z++) {
    const s = await readSlice(dataPath(path.join('isbi2012/train/image', `${z}.png`)));
    const o = (s.w - size) >> 1;
    const im = image(size, size);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) im.data[x + size * y] = s.data[o + x + s.w * (o + y)];
    out.push(im);
  }
  return out;
}

describe('alignStack: new parameters are checked', () => {
  it('names finePatch and detrend when they are wrong', async () => {
    const two = [image(64, 64), image(64, 64)];
    await expect(alignStack(memorySource(two), { finePatch: 24 })).rejects.toThrow(/finePatch 24: expected 0 or a power of two >= 16/);
    await expect(alignStack(memorySource(two), { detrend: -1 })).rejects.toThrow(/detrend -1: expected a number of sections >= 0/);
  });
});

describeData('isbi2012/train/image/7.png', 'alignStack is equivariant to a shift of real sections (ISBI 2012)', () => {
  it('a shifted stack aligns to the unshifted solution composed with the shift; no section falls back to the translation', async () => {
    // ISBI 2012, 8 sections, 512 px: each section z > 0 shifted by up to 10 px (no rotation, no
    // scale); rel = |G_z(T_z(p)) - T0_z(p)| with T0 the solve of the unshifted stack. With the
    // 64/32 affine grid and 2 neighbours this was 8.9 px median (sections flipping between a patch
    // affine and the translation-only fallback); the 32/16 grid with 3 neighbours: 1.33 px
    // (docs/ALIGNMENT.md, Equivariance).
    const orig = await isbi(8, 512);
    const syn = makeSynthetic(orig, { shift: 10, rotation: 0, scale: 0, elastic: 0, missing: -1, foldSection: -1, fold: 0, seed: 5 });
    // the dense affine grid (opt-in: `--patch 32 --neighbours 3`)
    const params = { elastic: false, patch: 32, stride: 16, neighbours: 3 };
    const base = await alignStack(memorySource(orig, [4, 4, 50]), params);
    const res = await alignStack(memorySource(syn.sections, [4, 4, 50]), params);
    const rel: number[] = [];
    for (let z = 1; z < 8; z++) {
      for (let y = 32; y < 480; y += 16) {
        for (let x = 32; x < 480; x += 16) {
          const [px, py] = mapBack(syn.warps[z], ...pullback(res.transforms.sections[z], x, y));
          const [bx, by] = pullback(base.transforms.sections[z], x, y);
          rel.push(Math.hypot(px - bx, py - by));
        }
      }
    }
    expect(quantile(rel, 0.5)).toBeLessThan(2.5);
    for (const r of [...base.sections, ...res.sections]) expect(r.flags).not.toContain('coarse-only');
  });
});
