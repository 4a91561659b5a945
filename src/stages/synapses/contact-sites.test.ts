import { describe, expect, it } from 'vitest';
import { type Box, boxFromShape, type Vec3 } from '../../core/box.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { checkCleftFilter, type FilterVolume, SITE_RULES, trainCleftFilter } from './cleft-filter.js';
import { SITE_FEATURE_NAMES, contactSites, siteObjects } from './contact-sites.js';
import { detectSynapses } from './detect.js';
import { defaultMargin } from './tasks.js';
import { discScene } from './testing.js';

const vs: Vec3 = [8, 8, 30];

/** Two segments (1: x < 10, 2: x >= 10) filling a 20 x 40 x 4 block: one flat contact at x = 9 | 10. */
function halves(shape: Vec3 = [20, 40, 4]): Uint32Array {
  const seg = new Uint32Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < seg.length; i++) seg[i] = i % shape[0] < 10 ? 1 : 2;
  return seg;
}

/** Site label groups as a canonical partition: for each voxel, the first voxel (in memory order) of its site; -1 off every site. */
function partition(labels: Uint32Array): Int32Array {
  const first = new Map<number, number>();
  return Int32Array.from(labels, (l, i) => {
    if (!l) return -1;
    if (!first.has(l)) first.set(l, i);
    return first.get(l)!;
  });
}

describe('contactSites', () => {
  it('takes the voxels on both sides of the faces between two segments, cut in patches of the grid', () => {
    const shape: Vec3 = [20, 40, 4];
    const seg = halves(shape);
    // patch 1000 nm: 125 pixels, the whole contact is one site
    const one = contactSites(seg, shape, vs, 1000);
    expect(one.count).toBe(1);
    for (let i = 0; i < seg.length; i++) expect(one.labels[i] !== 0).toBe(i % 20 === 9 || i % 20 === 10);
    // patch 80 nm = 10 pixels along y, 2.67 sections in z: 4 cells in y x 2 in z
    const cut = contactSites(seg, shape, vs, 80);
    expect(cut.count).toBe(8);
    const sizes = new Map<number, number>();
    for (const l of cut.labels) if (l) sizes.set(l, (sizes.get(l) ?? 0) + 1);
    // a site: 2 voxels across x 10 along y, 3 or 1 sections
    expect([...sizes.values()].sort((a, b) => a - b)).toEqual([20, 20, 20, 20, 60, 60, 60, 60]);
  });

  it('does not depend on where a block starts: the grid is the dataset\'s', () => {
    const shape: Vec3 = [20, 40, 4];
    const seg = halves(shape);
    const whole = contactSites(seg, shape, vs, 80);
    // the block y >= 7 read on its own, origin [0, 7, 0]
    const sub: Vec3 = [20, 33, 4];
    const part = new Uint32Array(sub[0] * sub[1] * sub[2]);
    for (let z = 0; z < 4; z++) for (let y = 0; y < 33; y++) for (let x = 0; x < 20; x++) part[x + 20 * (y + 33 * z)] = seg[x + 20 * (y + 7 + 40 * z)];
    const s = contactSites(part, sub, vs, 80, [0, 7, 0]);
    const pw = partition(whole.labels), ps = partition(s.labels);
    // same site for two voxels of the block iff the same site in the whole
    for (let z = 0; z < 4; z++)
      for (let y = 7; y < 40; y++) {
        const i = 9 + 20 * (y + 40 * z), j = 9 + 20 * (y - 7 + 33 * z);
        const i2 = 10 + 20 * (17 + 40 * 1), j2 = 10 + 20 * (10 + 33 * 1);
        expect(pw[i] === pw[i2]).toBe(ps[j] === ps[j2]);
      }
  });

  it('gives a voxel touching two other segments to the one it touches on more faces, and label 0 touches nothing', () => {
    // a 3 x 3 x 1 block: centre voxel 1, its left and upper neighbours 2, right and lower neighbours 3 and 3, corners 0
    const shape: Vec3 = [3, 3, 1];
    const seg = Uint32Array.from([0, 2, 0, 2, 1, 3, 0, 3, 0]);
    const { labels } = contactSites(seg, shape, vs, 1000);
    // centre: two faces with 2, two with 3: the tie goes to 2 (smaller): the centre's site is the one of the 2s
    expect(labels[4]).toBe(labels[1]);
    expect(labels[4]).not.toBe(labels[5]);
    expect(labels[0]).toBe(0);
    expect(labels[8]).toBe(0);
    // a segment beside only label 0 has no contact
    expect(contactSites(Uint32Array.from([1, 0, 2]), [3, 1, 1], vs, 1000).count).toBe(0);
  });

  it('rejects a segmentation of the wrong size and a patch that is not positive', () => {
    expect(() => contactSites(new Uint32Array(5), [2, 2, 2], vs, 100)).toThrow(UsageError);
    expect(() => contactSites(new Uint32Array(8), [2, 2, 2], vs, 0)).toThrow(/patch size/);
  });
});

describe('siteObjects', () => {
  it('keeps a site\'s voxels of p >= low when one reaches high, with the site\'s features', () => {
    const shape: Vec3 = [20, 40, 4];
    const seg = halves(shape);
    const p = new Float32Array(seg.length);
    // a bright band on x = 9, 10 for y < 10 in section 1 (p 0.8), a faint one (0.3) for y in 20..29
    for (let y = 0; y < 10; y++) for (const x of [9, 10]) p[x + 20 * (y + 40)] = 0.8;
    for (let y = 20; y < 30; y++) for (const x of [9, 10]) p[x + 20 * (y + 40)] = 0.3;
    const o = siteObjects(p, seg, shape, vs, { high: 0.5, low: 0.25, minSize: 5, patchNm: 1000 });
    // one site (patch 1000 nm): both bands, one object holding the 40 voxels of p >= 0.25
    expect(o.count).toBe(1);
    expect(o.labels.reduce((a, l) => a + (l ? 1 : 0), 0)).toBe(40);
    const f = (name: (typeof SITE_FEATURE_NAMES)[number]): number => o.siteFeatures[SITE_FEATURE_NAMES.indexOf(name)];
    expect(f('site_object_fraction')).toBeCloseTo(40 / 320, 6);
    expect(f('site_cleft_max')).toBeCloseTo(0.8, 6);
    expect(f('site_cleft_frac_05')).toBeCloseTo(20 / 320, 6);
    expect(f('site_cleft_frac_03')).toBeCloseTo(40 / 320, 6);
    // patches of 80 nm (10 pixels in y): the faint band's site never reaches high
    const cut = siteObjects(p, seg, shape, vs, { high: 0.5, low: 0.25, minSize: 5, patchNm: 80 });
    expect(cut.count).toBe(1);
    expect(cut.labels.reduce((a, l) => a + (l ? 1 : 0), 0)).toBe(20);
    expect(() => siteObjects(p, seg, shape, vs, { high: 0.2, low: 0.3, minSize: 1, patchNm: 80 })).toThrow(/low <= high/);
  });
});

/** The disc scene of testing.ts with its two cells across every disc (discs in sections 3-6). */
const scene = (seed: number, shape?: Vec3) => discScene(seed, shape, { zBase: 3, cells: true });

describe('the cleft filter on contact sites', () => {
  const folds = [scene(1), scene(2), scene(4)];
  // patches of 1000 nm: every column's contact one site (no grid line through a disc)
  const train = () => trainCleftFilter(folds, vs, { trees: 16, minTrueClefts: 1, candidateRules: [], siteRules: SITE_RULES.map((r) => ({ ...r, patchNm: 1000 })) });

  it('learns which sites are clefts out of fold, and carries the site rule and feature set', () => {
    const { filter } = train();
    expect(filter).toBeDefined();
    expect(filter!.candidates.patchNm).toBe(1000);
    expect(filter!.features.slice(-SITE_FEATURE_NAMES.length)).toEqual([...SITE_FEATURE_NAMES]);
    expect(filter!.oof.truth).toBe(folds.reduce((a, s) => a + s.nTrue, 0));
    expect(filter!.oof.f1).toBe(1);
    const json = JSON.parse(JSON.stringify(filter));
    expect(checkCleftFilter(json, 'info').candidates.patchNm).toBe(1000);
    expect(() => checkCleftFilter({ ...json, candidates: { ...json.candidates, patchNm: -1 } }, 'x/info')).toThrow(FormatError);
    expect(() => checkCleftFilter({ ...json, candidates: { ...json.candidates, patchNm: undefined } }, 'x/info')).toThrow(/cleft_filter\.candidates\.patchNm/);
  });

  it('keeps the true sites in detectSynapses, the same synapses whatever the block size', () => {
    const { filter } = train();
    const s = scene(9);
    const bounds = boxFromShape(s.shape);
    const p = { threshold: filter!.candidates.high, lowThreshold: filter!.candidates.low, minSize: 10, partnerRadius: 38, vesicleThreshold: 0.5, voxelSize: vs, bounds, cleftFilter: filter };
    const vol = (d: Float32Array | Uint32Array, b: Box): Volume => {
      const shape = b.max.map((v, a) => v - b.min[a]);
      const out = d instanceof Float32Array ? new Float32Array(shape[0] * shape[1] * shape[2]) : new Uint32Array(shape[0] * shape[1] * shape[2]);
      for (let z = 0; z < shape[2]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++) out[x + shape[0] * (y + shape[1] * z)] = d[x + b.min[0] + s.shape[0] * (y + b.min[1] + s.shape[1] * (z + b.min[2]))];
      return out instanceof Float32Array ? new Volume('float32', b, out) : new Volume('uint32', b, out);
    };
    const run = (b: Box, read: Box) => detectSynapses({ clefts: vol(s.cleft, read), segmentation: vol(s.segmentation!, read), vesicles: vol(s.vesicle, read) }, b, p);
    const whole = run(bounds, bounds);
    expect(whole.dropped.filtered).toBe(s.nFalse);
    expect(whole.synapses.length).toBe(s.nTrue);
    // pre = the upper cell (its id ends in 2), the one holding the vesicle cloud
    for (const syn of whole.synapses) expect(syn.pre_pt_root_id % 10n).toBe(2n);
    // four blocks of 48 x 48 x 12, each read with the default margin
    const m = defaultMargin(p);
    const tiled = [];
    for (const [x0, y0] of [[0, 0], [48, 0], [0, 48], [48, 48]]) {
      const b: Box = { min: [x0, y0, 0], max: [x0 + 48, y0 + 48, 12] };
      const lo = (a: number) => Math.max(0, b.min[a] - m[a]);
      const hi = (a: number) => Math.min(s.shape[a], b.max[a] + m[a]);
      const read: Box = { min: [lo(0), lo(1), lo(2)], max: [hi(0), hi(1), hi(2)] };
      tiled.push(...run(b, read).synapses);
    }
    const key = (x: { id: bigint; pre_pt_root_id: bigint; post_pt_root_id: bigint }) => `${x.id}:${x.pre_pt_root_id}:${x.post_pt_root_id}`;
    expect(tiled.map(key).sort()).toEqual(whole.synapses.map(key).sort());
  });
});
