import { describe, expect, it } from 'vitest';
import { dataPath, describeData } from '../../../test/data.js';
import { mulberry32 } from '../../core/random.js';
import { type Image2D, image } from './image.js';
import { alignStack, memorySource } from './solve.js';
import { makeSynthetic, quantile, residuals } from './synthetic.js';
import { readSlice } from './testing.js';
import { pullback } from './transform.js';

/** One real section repeated: the only difference between sections is the known warp. */
async function repeated(n: number, size: number): Promise<Image2D[]> {
  const s = await readSlice(dataPath('vnc-sstem/stack2/raw/00.tif'));
  const o = (s.w - size) >> 1;
  const im = image(size, size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) im.data[x + size * y] = s.data[o + x + s.w * (o + y)];
  return Array.from({ length: n }, () => image(size, size, im.data.slice()));
}

describe('alignStack: bad input', () => {
  it('needs two sections and sane parameters', async () => {
    const one = [image(64, 64)];
    await expect(alignStack(memorySource(one))).rejects.toThrow(/1 section\(s\); alignment needs at least 2/);
    const two = [image(64, 64), image(64, 64)];
    await expect(alignStack(memorySource(two), { patch: 48 })).rejects.toThrow(/patch 48: expected a power of two/);
    await expect(alignStack(memorySource(two), { model: 'projective' as never })).rejects.toThrow(/model "projective"/);
    await expect(alignStack(memorySource(two), { regularise: Number.NaN })).rejects.toThrow(/regularise NaN: expected a number >= 0/);
    await expect(alignStack(memorySource(two), { regulariseTo: 'free' as never })).rejects.toThrow(/regulariseTo "free": expected rigid or similarity/);
    await expect(alignStack(memorySource(two), { elasticPrior: -1 })).rejects.toThrow(/elasticPrior -1: expected a number >= 0/);
    expect(() => memorySource([image(64, 64), image(64, 32)])).toThrow(/section 1 is 64x32, section 0 is 64x64/);
  });

  it('reports an all-blank stack as missing sections', async () => {
    const res = await alignStack(memorySource([image(64, 64), image(64, 64), image(64, 64)]));
    expect(res.sections.map((s) => s.status)).toEqual(['missing', 'missing', 'missing']);
  });
});

describeData('vnc-sstem/stack2/raw/00.tif', 'alignStack on a warped real section (vnc-sstem stack2)', () => {
  it('recovers shifts, rotations and scalings exactly when only the warp differs; skips the missing section', async () => {
    const syn = makeSynthetic(await repeated(5, 384), { shift: 10, rotation: 2, scale: 0.02, elastic: 0, missing: 2, foldSection: -1, fold: 0, seed: 5 });
    // the free affine (no pull toward rigid): the matcher's own precision
    const res = await alignStack(memorySource(syn.sections, [4.6, 4.6, 50]), { elastic: false, regularise: 0 });
    expect(res.sections.map((s) => s.status)).toEqual(['reference', 'ok', 'missing', 'ok', 'ok']);
    expect(res.sections[3].flags).toContain('skipped-neighbour');
    const r = residuals(syn, (z, x, y) => pullback(res.transforms.sections[z], x, y));
    expect(quantile(r.all, 0.5)).toBeLessThan(0.15);
    expect(quantile(r.all, 0.95)).toBeLessThan(0.5);
    // the global affine's pair sets: patches between good sections only (none with the missing one), z-1 and across the gap
    expect(res.pairs.length).toBeGreaterThan(0);
    for (const s of res.pairs) {
      expect(s.source).toBe('patches');
      expect([s.j, s.z]).not.toContain(2);
      expect(s.kept).toBeLessThanOrEqual(s.pairs);
      expect(s.weight_sum).toBe(s.pairs);
      expect(s.ratio_median).toBeGreaterThan(1);
    }
    expect(res.pairs.some((s) => s.j === 1 && s.z === 3)).toBe(true);
    // the default pulls each affine toward rigid: genuine 2 % scalings cost a little (not a drift)
    const reg = await alignStack(memorySource(syn.sections, [4.6, 4.6, 50]), { elastic: false });
    const rr = residuals(syn, (z, x, y) => pullback(reg.transforms.sections[z], x, y));
    expect(quantile(rr.all, 0.5)).toBeGreaterThan(quantile(r.all, 0.5));
    expect(quantile(rr.all, 0.5)).toBeLessThan(0.4);
    // pulled toward the similarity instead, the uniform 2 % scalings are free again
    const sim = await alignStack(memorySource(syn.sections, [4.6, 4.6, 50]), { elastic: false, regulariseTo: 'similarity' });
    const rs = residuals(syn, (z, x, y) => pullback(sim.transforms.sections[z], x, y));
    expect(quantile(rs.all, 0.5)).toBeLessThan(quantile(rr.all, 0.5));
    expect(quantile(rs.all, 0.5)).toBeLessThan(0.15);
  });

  it('recovers a 15 degree rotation after a blank section with feature matches (or the default rotation search), where patch matching fails', async () => {
    const syn = makeSynthetic(await repeated(4, 384), { shift: 10, rotation: 25, scale: 0.03, elastic: 0, missing: 2, foldSection: -1, fold: 0, seed: 9 });
    const src = memorySource(syn.sections, [4.6, 4.6, 50]);
    const off = await alignStack(src, { elastic: false, regularise: 0, search: false });
    const on = await alignStack(src, { elastic: false, regularise: 0, search: false, features: true });
    const searched = await alignStack(src, { elastic: false, regularise: 0 });
    const pull = (a: typeof on) => (z: number, x: number, y: number) => pullback(a.transforms.sections[z], x, y);
    // section 1 is rotated by -15 degrees: patches fail (coarse-only), features find it
    expect(off.sections[1].flags).toContain('coarse-only');
    expect(quantile(residuals(syn, pull(off)).perSection[1], 0.5)).toBeGreaterThan(10);
    expect(on.sections[1].flags).toContain('features');
    expect(on.sections[1].flags).not.toContain('coarse-only');
    expect(quantile(residuals(syn, pull(on)).perSection[1], 0.5)).toBeLessThan(0.3);
    expect(quantile(residuals(syn, pull(on)).perSection[3], 0.5)).toBeLessThan(0.3);
    expect(searched.sections[1].flags).toContain('searched');
    expect(searched.sections[1].flags).not.toContain('coarse-only');
    expect(quantile(residuals(syn, pull(searched)).perSection[1], 0.5)).toBeLessThan(0.3);
    expect(quantile(residuals(syn, pull(searched)).perSection[3], 0.5)).toBeLessThan(0.3);
  });

  it('the spring mesh follows a smooth elastic warp that the affine cannot', async () => {
    const syn = makeSynthetic(await repeated(3, 384), { shift: 6, rotation: 1, scale: 0.01, elastic: 4, missing: -1, foldSection: -1, fold: 0, seed: 8 });
    const src = memorySource(syn.sections, [4.6, 4.6, 50]);
    const affine = await alignStack(src, { elastic: false });
    const elastic = await alignStack(src, { elastic: true });
    const ra = residuals(syn, (z, x, y) => pullback(affine.transforms.sections[z], x, y));
    const re = residuals(syn, (z, x, y) => pullback(elastic.transforms.sections[z], x, y));
    expect(elastic.transforms.sections[1].mesh).toBeDefined();
    expect(quantile(re.all, 0.5)).toBeLessThan(0.5);
    expect(quantile(re.all, 0.5)).toBeLessThan(quantile(ra.all, 0.5) / 2);
  });

  it('the elastic guard keeps a mesh that helps and drops one that does not (and the missing section after it carries none)', async () => {
    const syn = makeSynthetic(await repeated(3, 256), { shift: 6, rotation: 1, scale: 0.01, elastic: 4, missing: 2, foldSection: -1, fold: 0, seed: 8 });
    const src = memorySource(syn.sections, [4.6, 4.6, 50]);
    const kept = await alignStack(src, { elasticGuard: true });
    expect(kept.transforms.sections[1].mesh).toBeDefined();
    expect(kept.transforms.sections[2].mesh).toBeDefined();
    expect(kept.sections.some((r) => r.flags.includes('elastic-reverted'))).toBe(false);
    // a margin of -2 (correlations differ by less): every mesh goes, the affine stays
    const dropped = await alignStack(src, { elasticGuard: true, elasticGuardMargin: -2 });
    for (const z of [1, 2]) expect(dropped.transforms.sections[z].mesh, `z${z}`).toBeUndefined();
    expect(dropped.sections[1].flags).toContain('elastic-reverted');
    expect(dropped.transforms.sections[1].affine).toEqual(kept.transforms.sections[1].affine);
  });

  it('the prior toward the affine keeps the mesh smaller on real neighbouring sections (the known-warp test above runs with it)', async () => {
    const files = [0, 1, 2, 3].map((z) => dataPath(`vnc-sstem/stack2/raw/0${z}.tif`));
    const secs: Image2D[] = [];
    for (const f of files) {
      const s = await readSlice(f);
      const o = (s.w - 256) >> 1;
      secs.push(image(256, 256, Float32Array.from({ length: 256 * 256 }, (_, i) => s.data[o + (i % 256) + s.w * (o + Math.floor(i / 256))])));
    }
    const size = (res: Awaited<ReturnType<typeof alignStack>>) => {
      const d: number[] = [];
      for (const t of res.transforms.sections) if (t.mesh) t.mesh.u.forEach((u, n) => d.push(Math.hypot(u, t.mesh!.v[n])));
      return d.reduce((a, b) => a + b, 0) / d.length;
    };
    const free = await alignStack(memorySource(secs, [4.6, 4.6, 50]), { elasticPrior: 0 });
    const prior = await alignStack(memorySource(secs, [4.6, 4.6, 50]), { elasticPrior: 1 });
    expect(size(prior)).toBeLessThan(0.8 * size(free));
  });

  it('does not follow a section of unrelated content: flagged, later sections still aligned', async () => {
    const syn = makeSynthetic(await repeated(5, 256), { shift: 6, rotation: 1, scale: 0.01, elastic: 0, missing: -1, foldSection: -1, fold: 0, seed: 9 });
    const r = mulberry32(3);
    syn.sections[2] = image(256, 256, Float32Array.from({ length: 256 * 256 }, () => 100 + 60 * r()));
    const res = await alignStack(memorySource(syn.sections, [4.6, 4.6, 50]), { elastic: false });
    expect(res.sections[2].status === 'damaged' || res.sections[2].flags.some((f) => f.startsWith('fallback') || f === 'coarse-only')).toBe(true);
    expect(res.sections[3].matched_to).toBe(1);
    const rr = residuals(syn, (z, x, y) => pullback(res.transforms.sections[z], x, y));
    expect(quantile(rr.perSection[3], 0.5)).toBeLessThan(0.3);
    expect(quantile(rr.perSection[4], 0.5)).toBeLessThan(0.3);
  });
});
