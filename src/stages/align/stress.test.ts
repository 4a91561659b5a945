// The large misalignments a user meets first (stress.ts; bench/align-stress.bench.ts at full size):
// sections placed tens of px off or rotated 5-20° (found by the rotation/scale search, search.ts),
// partial sections (unimaged part masked, section.ts), on the phantom (exact frame) and on a small
// real crop. (Tests may use another stage's code: the phantom generator is the ground truth here.)
import { describe, expect, it } from 'vitest';
import { dataPath, describeData } from '../../../test/data.js';
import { boxFromShape } from '../../core/box.js';
import type { Volume } from '../../core/volume.js';
import { phantomBlock } from '../phantom/tasks.js';
import { type Image2D, correlation, flatField, halve, image, stats } from './image.js';
import { searchRotationScale } from './search.js';
import { maskUnimaged } from './section.js';
import { alignStack, memorySource } from './solve.js';
import { type StressCase, makeStress } from './stress.js';
import { type Synthetic, makeSynthetic, quantile, residuals } from './synthetic.js';
import { readSlice } from './testing.js';
import { pullback } from './transform.js';

function phantomSections(seed: number, size: number, nz: number): Image2D[] {
  const box = boxFromShape([size, size, nz]);
  const res = phantomBlock({ box, readBox: box, inputs: {}, params: { seed, size: [size, size, nz], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0 }, blockIndex: [0, 0, 0] });
  const raw = res.volumes!.raw as Volume<'uint8'>;
  return Array.from({ length: nz }, (_, z) => image(size, size, Float32Array.from(raw.data.subarray(z * size * size, (z + 1) * size * size))));
}

/** Median residual |G(T(p)) - p| per section (NaN for section 0 and missing ones). */
function perSection(syn: Synthetic, res: Awaited<ReturnType<typeof alignStack>>): number[] {
  return residuals(syn, (z, x, y) => pullback(res.transforms.sections[z], x, y)).perSection.map((v) => quantile(v, 0.5));
}

describe('maskUnimaged', () => {
  it('masks the zero part of a partial section and its boundary, not isolated zeros in tissue', () => {
    const im = image(64, 64);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) im.data[x + 64 * y] = x < 27 ? 0 : 100 + ((x * 7 + y * 13) % 50);
    im.data[50 + 64 * 50] = 0; // a clipped dark pixel inside tissue
    const masked = maskUnimaged(im);
    expect(masked).toBe(27 * 64);
    expect(Number.isNaN(im.data[26 + 64 * 10])).toBe(true); // the boundary column (its 8x8 block is 3/8 zero)
    expect(im.data[50 + 64 * 50]).toBe(0);
    // halving skips the masked pixels: no NaN leaks into tissue, NaN stays where all four are masked
    const h = halve(im);
    expect(Number.isNaN(h.data[5 + 32 * 5])).toBe(true);
    expect(Number.isFinite(h.data[13 + 32 * 5])).toBe(true);
    expect(maskUnimaged(image(16, 16, new Float32Array(256).fill(3)))).toBe(0);
  });
});

describe('the illumination case and flatField', () => {
  const flat = (v: number) => Array.from({ length: 4 }, () => image(128, 96, new Float32Array(128 * 96).fill(v)));

  it('multiplies each section z > 0 by its own smooth gain field (0.5-1.5 and a vignette) plus a smooth offset, seeded', () => {
    const a = makeStress(flat(100), 'illumination');
    const b = makeStress(flat(100), 'illumination');
    expect(a.sections.map((s) => Array.from(s.data))).toEqual(b.sections.map((s) => Array.from(s.data)));
    expect(Array.from(a.sections[0].data).every((v) => v === 100)).toBe(true);
    for (let z = 1; z < 4; z++) {
      const d = a.sections[z].data;
      let lo = Infinity;
      let hi = -Infinity;
      let step = 0;
      for (let y = 0; y < 96; y++) {
        for (let x = 0; x < 128; x++) {
          const v = d[x + 128 * y];
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
          if (x > 0) step = Math.max(step, Math.abs(v - d[x - 1 + 128 * y]));
        }
      }
      // gain 1 - 0.5 .. 1 + 0.5 before the vignette and +-30 offset: a flat 100 spans far more than the contrast case's steps
      expect(hi - lo, `z${z} span`).toBeGreaterThan(60);
      expect(lo, `z${z} min`).toBeGreaterThanOrEqual(0);
      expect(hi, `z${z} max`).toBeLessThanOrEqual(255);
      // smooth: no neighbouring pixels differ by more than a few grey levels
      expect(step, `z${z} smooth`).toBeLessThan(5);
    }
    // each section its own field
    expect(correlation(a.sections[1].data, a.sections[2].data)).toBeLessThan(0.99);
  });

  it('flatField takes a smooth gain and offset out of a texture, keeps the global mean/std and masked pixels', () => {
    const [w, h] = [128, 128];
    const tex = image(w, h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) tex.data[x + w * y] = 120 + 40 * Math.sin(x * 0.9 + 2 * Math.sin(y * 0.37)) * Math.cos(y * 0.71);
    const lit = image(w, h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) lit.data[x + w * y] = (0.5 + x / w) * (0.8 + (0.4 * y) / h) * tex.data[x + w * y] + 30 * (y / h);
    lit.data[5 + w * 7] = Number.NaN;
    const before = correlation(lit.data, tex.data);
    const ff = flatField(lit, 8);
    const after = correlation(ff.data, flatField(tex, 8).data);
    expect(after).toBeGreaterThan(0.97);
    expect(after).toBeGreaterThan(before + 0.1);
    expect(Number.isNaN(ff.data[5 + w * 7])).toBe(true);
    expect(Number.isFinite(ff.data[6 + w * 7])).toBe(true);
    const [s0, s1] = [stats(lit.data), stats(ff.data)];
    expect(Math.abs(s1.mean - s0.mean)).toBeLessThan(0.05 * s0.std);
    expect(s1.std / s0.std).toBeGreaterThan(0.8);
    expect(s1.std / s0.std).toBeLessThan(1.25);
    expect(flatField(lit, 0)).toBe(lit);
  });

  it('rejects a negative flatField or damagedFlatField', async () => {
    await expect(alignStack(memorySource(flat(100).slice(0, 2), [8, 8, 30]), { flatField: -1 })).rejects.toThrow(/flatField -1: expected a Gaussian sigma/);
    await expect(alignStack(memorySource(flat(100).slice(0, 2), [8, 8, 30]), { damagedFlatField: -2 })).rejects.toThrow(/damagedFlatField -2: expected a Gaussian sigma/);
  });
});

describe('the rotation/scale search on the phantom (exact frame)', () => {
  const orig = phantomSections(13, 256, 4);

  it('finds a 20 degree rotation with a 6 % scaling and a 60 px shift of one section against another', () => {
    const syn = makeStress(orig.slice(0, 2), 'rotation', { rotation: [20, 20], scale: [0.06, 0.06], shift: [60, 60], seed: 3 });
    const g = syn.warps[1].affine; // original pixel = g(warped pixel): the pull-back that aligns section 1 is g^-1
    const sc = 2;
    const r = searchRotationScale(halve(syn.sections[1]), halve(syn.sections[0]), [1, 0, 0, 0, 1, 0], sc, 256, 256, { maxRotation: 45, rotationStep: 2, maxScale: 0.2, scaleStep: 0.02, lowpass: 1, whiten: 0.1 })!;
    const truthDeg = (-Math.atan2(g[3], g[0]) * 180) / Math.PI;
    const truthScale = 1 / Math.hypot(g[0], g[3]);
    expect(Math.abs(r.rotationDeg - truthDeg)).toBeLessThan(1);
    expect(Math.abs(r.scale - truthScale)).toBeLessThan(0.01);
    // the found map puts the centre within 2 px of where it belongs
    const [cx, cy] = [127.5, 127.5];
    const qx = r.affine[0] * cx + r.affine[1] * cy + r.affine[2];
    const qy = r.affine[3] * cx + r.affine[4] * cy + r.affine[5];
    const px = g[0] * qx + g[1] * qy + g[2];
    const py = g[3] * qx + g[4] * qy + g[5];
    expect(Math.hypot(px - cx, py - cy)).toBeLessThan(2);
  });

  it('rejects bad search parameters', async () => {
    const src = memorySource(orig.slice(0, 2), [8, 8, 30]);
    await expect(alignStack(src, { searchRotation: 120 })).rejects.toThrow(/searchRotation 120: expected degrees in \[0, 90\]/);
    await expect(alignStack(src, { searchScale: 0.7 })).rejects.toThrow(/searchScale 0.7: expected a relative scale change in \[0, 0.5\)/);
    await expect(alignStack(src, { searchRotationStep: 0 })).rejects.toThrow(/expected steps > 0/);
    await expect(alignStack(src, { blankZeroFraction: 2 })).rejects.toThrow(/blankZeroFraction 2: expected a fraction in \[0, 1\]/);
    await expect(alignStack(src, { searchFallbackPatch: 24 })).rejects.toThrow(/searchFallbackPatch 24: expected 0 or a power of two >= 16/);
    await expect(alignStack(src, { fallbackPatch: 8 })).rejects.toThrow(/fallbackPatch 8: expected 0 or a power of two >= 16/);
  });

  it('rotation (5-20° per section): each section within 2 px of the exact frame; without the search sections are lost', async () => {
    const syn = makeStress(orig, 'rotation');
    const src = memorySource(syn.sections, [8, 8, 30]);
    const res = await alignStack(src, { elastic: false });
    expect(res.sections.map((s) => s.status)).toEqual(['reference', 'ok', 'ok', 'ok']);
    expect(res.sections.some((s) => s.flags.includes('searched'))).toBe(true);
    const med = perSection(syn, res);
    // measured 2026-12-07: 0.3-1.15 px (z 3 the largest)
    for (const z of [1, 2, 3]) expect(med[z], `z${z}`).toBeLessThan(2);
    const off = perSection(syn, await alignStack(src, { elastic: false, search: false }));
    expect(Math.max(...off.slice(1)), 'without the search').toBeGreaterThan(10);
  });

  it('illumination: without damagedFlatField a lit section is called damaged and the next loses its neighbour; with it neither, and an unrelated section is still damaged', async () => {
    const syn = makeStress(orig, 'illumination');
    const src = memorySource(syn.sections, [8, 8, 30]);
    // measured 2026-12-07: z2 damaged, z3 skipped-neighbour + coarse-only without it
    const off = await alignStack(src, { elastic: false, damagedFlatField: 0 });
    expect(off.sections[2].status).toBe('damaged');
    expect(off.sections[3].flags).toContain('skipped-neighbour');
    const on = await alignStack(src, { elastic: false, damagedFlatField: 16 });
    expect(on.sections.map((s) => s.status)).toEqual(['reference', 'ok', 'ok', 'ok']);
    const med = perSection(syn, on);
    for (const z of [1, 2, 3]) expect(med[z], `z${z}`).toBeLessThan(2);
    // a section that shows other tissue (another phantom) is still damaged with it
    const other = phantomSections(5, 256, 1)[0];
    const mixed = [syn.sections[0], syn.sections[1], other, syn.sections[3]];
    expect((await alignStack(memorySource(mixed, [8, 8, 30]), { elastic: false, damagedFlatField: 16 })).sections[2].status).toBe('damaged');
  });

  it('shifts of 20-100 px per section: each section within 2 px of the exact frame', async () => {
    const syn = makeStress(orig, 'shift');
    const res = await alignStack(memorySource(syn.sections, [8, 8, 30]), { elastic: false });
    expect(res.sections.map((s) => s.status)).toEqual(['reference', 'ok', 'ok', 'ok']);
    const med = perSection(syn, res);
    for (const z of [1, 2, 3]) expect(med[z], `z${z}`).toBeLessThan(2);
    // unaligned, the sections are tens of px off
    const un = residuals(syn, (_z, x, y) => [x, y]).perSection.map((v) => quantile(v, 0.5));
    expect(Math.min(...un.slice(1))).toBeGreaterThan(15);
  });

  it('partial sections (30-65 % exactly zero) are aligned within 2 px, not reported missing as the old rule did', async () => {
    const syn = makeStress(orig, 'partial');
    const src = memorySource(syn.sections, [8, 8, 30]);
    const res = await alignStack(src, { elastic: false });
    expect(res.sections.map((s) => s.status)).toEqual(['reference', 'ok', 'ok', 'ok']);
    const med = perSection(syn, res);
    // measured 2026-12-07: 1.33 px at z 1 (the partial one)
    for (const z of [1, 2, 3]) expect(med[z], `z${z}`).toBeLessThan(2);
    // the old rule (> 50 % zeros = missing) dropped a partial section
    const old = await alignStack(src, { elastic: false, blankZeroFraction: 0.5 });
    expect(old.sections.some((s) => s.status === 'missing')).toBe(true);
  });
});

describeData('vnc-sstem/stack2/raw/03.tif', 'the stress cases on a real crop (vnc-sstem stack2, 384 px, 4 sections)', () => {
  async function crop(n: number, size: number): Promise<Image2D[]> {
    const out: Image2D[] = [];
    for (let z = 0; z < n; z++) {
      const s = await readSlice(dataPath(`vnc-sstem/stack2/raw/${String(z).padStart(2, '0')}.tif`));
      const o = (s.w - size) >> 1;
      const im = image(size, size);
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) im.data[x + size * y] = s.data[o + x + s.w * (o + y)];
      out.push(im);
    }
    return out;
  }

  it('rotation (5-20° per section): each section within 5 px of where the unwarped stack puts it', async () => {
    const orig = await crop(4, 384);
    const vox: [number, number, number] = [4.6, 4.6, 50];
    const base = await alignStack(memorySource(orig, vox), { elastic: false });
    for (const c of ['rotation'] as StressCase[]) {
      const syn = makeStress(orig, c);
      const res = await alignStack(memorySource(syn.sections, vox), { elastic: false });
      // rel: |G(T(p)) - T0(p)|, the error the known warp adds (real neighbours differ genuinely)
      for (let z = 1; z < 4; z++) {
        const d: number[] = [];
        for (let y = 64; y < 320; y += 32) {
          for (let x = 64; x < 320; x += 32) {
            const [qx, qy] = pullback(res.transforms.sections[z], x, y);
            const g = syn.warps[z].affine;
            const [bx, by] = pullback(base.transforms.sections[z], x, y);
            d.push(Math.hypot(g[0] * qx + g[1] * qy + g[2] - bx, g[3] * qx + g[4] * qy + g[5] - by));
          }
        }
        // measured 2026-12-07: up to 3.3 px (z 3); the bench calls a section lost above 5 px
        expect(quantile(d, 0.5), `${c} z${z}`).toBeLessThan(5);
      }
    }
  });
});

describeData('isbi2012/train/image/1.png', 'the search before the stack has a median (ISBI 2012, 512 px, 2 sections)', () => {
  it("the bench's elastic section 1 (1°, 1 % and bumps; its patches fail) is not moved by a spurious search; the rotation case's section 1 is", async () => {
    const orig: Image2D[] = [];
    for (let z = 0; z < 2; z++) {
      const s = await readSlice(dataPath(`isbi2012/train/image/${z}.png`));
      const o = (s.w - 512) >> 1;
      const im = image(512, 512);
      for (let y = 0; y < 512; y++) for (let x = 0; x < 512; x++) im.data[x + 512 * y] = s.data[o + x + s.w * (o + y)];
      orig.push(im);
    }
    const vox: [number, number, number] = [4, 4, 50];
    const bench = makeSynthetic(orig, { shift: 6, rotation: 1, scale: 0.01, elastic: 4, missing: 3, foldSection: 5, fold: 6, seed: 7 });
    const src = memorySource(bench.sections, vox);
    // measured 2026-12-07: the search proposes 2°/3.5 %, gaining 0.016 in correlation (searchMarginFirst 0.04)
    expect((await alignStack(src, { elastic: false })).sections[1].flags).not.toContain('searched');
    expect((await alignStack(src, { elastic: false, searchMarginFirst: 0 })).sections[1].flags).toContain('searched');
    // the stress rotation case's section 1 (rotated 5-20°) gains 0.28: still searched
    const rot = makeStress(orig, 'rotation');
    expect((await alignStack(memorySource(rot.sections, vox), { elastic: false })).sections[1].flags).toContain('searched');
  }, 300_000); // ~12 CPU s; 140 s wall was measured at load 15-40
});

describeData('isbi2012/train/image/2.png', 'a search kept on its correlation gain alone, refined by the 32 px fallback grid (ISBI 2012, 512 px, 3 sections)', () => {
  async function crop(n: number): Promise<Image2D[]> {
    const out: Image2D[] = [];
    for (let z = 0; z < n; z++) {
      const s = await readSlice(dataPath(`isbi2012/train/image/${z}.png`));
      const o = (s.w - 512) >> 1;
      const im = image(512, 512);
      for (let y = 0; y < 512; y++) for (let x = 0; x < 512; x++) im.data[x + 512 * y] = s.data[o + x + s.w * (o + y)];
      out.push(im);
    }
    return out;
  }
  /** Median over a grid 32 px in, 16 px apart, of section z's error against the unwarped run (rel) and of z's placement relative to z-1 (step). */
  function errors(syn: Synthetic, t: (z: number, x: number, y: number) => [number, number], t0: (z: number, x: number, y: number) => [number, number], z: number) {
    const rel: number[] = [];
    const step: number[] = [];
    const at = (k: number, x: number, y: number) => {
      const [qx, qy] = t(k, x, y);
      const g = syn.warps[k].affine;
      const [bx, by] = t0(k, x, y);
      return [g[0] * qx + g[1] * qy + g[2] - bx, g[3] * qx + g[4] * qy + g[5] - by];
    };
    for (let y = 32; y < 480; y += 16) {
      for (let x = 32; x < 480; x += 16) {
        const [dx, dy] = at(z, x, y);
        const [ex, ey] = at(z - 1, x, y);
        rel.push(Math.hypot(dx, dy));
        step.push(Math.hypot(dx - ex, dy - ey));
      }
    }
    return { rel: quantile(rel, 0.5), step: quantile(step, 0.5) };
  }

  it("the rotation case's section 2 (23.5° from section 1) and a section compressed by 8 %: within the 5 px lost line only with the fallback grid", async () => {
    const orig = await crop(3);
    const vox: [number, number, number] = [4, 4, 50];
    const run = async (sections: Image2D[], cfg: Record<string, unknown>) => {
      const r = await alignStack(memorySource(sections, vox), { elastic: false, ...cfg });
      return (z: number, x: number, y: number) => pullback(r.transforms.sections[z], x, y);
    };
    const base = await run(orig, {});
    // the stress bench's rotation case: section 2's search (23.5°) is kept on its correlation gain, the 64 px grid fails from it
    const rot = makeStress(orig, 'rotation');
    // measured 2026-12-07: step 1.20 px with the fallback grid, 6.52 px without (the search's own placement)
    expect(errors(rot, await run(rot.sections, {}), base, 2).step, 'rotation z2').toBeLessThan(3);
    expect(errors(rot, await run(rot.sections, { searchFallbackPatch: 0 }), base, 2).step, 'rotation z2 without').toBeGreaterThan(5);
    // section 1 scaled by 0.924 (section 2 by 1.072): the search finds 10 %, the 64 px grid fails from it
    const sc = makeStress(orig, 'scale', { scale: [0.07, 0.08], seed: 5 });
    // measured 2026-12-07: rel 1.63 px with the fallback grid, 5.72 px without (the search's scale step is 1/4 of 2 %)
    expect(errors(sc, await run(sc.sections, {}), base, 1).rel, 'scale z1').toBeLessThan(3);
    expect(errors(sc, await run(sc.sections, { searchFallbackPatch: 0 }), base, 1).rel, 'scale z1 without').toBeGreaterThan(5);
  }, 300_000);

  it("the shift case's decision at six inliers: sections 1-2 coarse-only with a measured doubt (unsure_px); patchMaxOutside 0.5 keeps the corner patch", async () => {
    const orig = await crop(3);
    const vox: [number, number, number] = [4, 4, 50];
    const syn = makeStress(orig, 'shift');
    const base = await alignStack(memorySource(orig, vox), { elastic: false });
    // the unwarped run: both sections placed by patches (6 and 7 inliers), no doubt to report
    for (const z of [1, 2]) {
      expect(base.sections[z].flags, `unwarped z${z}`).not.toContain('coarse-only');
      expect(base.sections[z].unsure_px, `unwarped z${z}`).toBeNull();
    }
    // the shifted one: a corner patch of section 1 is a third outside the section, 5 inliers where the affine needs 6;
    // section 2 has 4 valid patches against section 1 (measured 2026-12-07: the failed fits place them 3.5 and 2.8 px away)
    const r = await alignStack(memorySource(syn.sections, vox), { elastic: false });
    for (const z of [1, 2]) {
      expect(r.sections[z].flags, `shifted z${z}`).toContain('coarse-only');
      expect(r.sections[z].unsure_px, `shifted z${z}`).toBeGreaterThan(1);
      expect(r.sections[z].unsure_px, `shifted z${z}`).toBeLessThan(10);
    }
    // patches up to half outside matched: section 1 is placed by patches as in the unwarped run
    const half = await alignStack(memorySource(syn.sections, vox), { elastic: false, patchMaxOutside: 0.5 });
    expect(half.sections[1].flags).not.toContain('coarse-only');
    expect(half.sections[1].unsure_px).toBeNull();
    await expect(alignStack(memorySource(syn.sections, vox), { patchMaxOutside: 1 })).rejects.toThrow(/patchMaxOutside 1: expected a fraction/);
  }, 300_000);
});
