/**
 * The alignment solve: sections are streamed in z order (only the last `neighbours` aligned
 * sections stay in memory) and each is aligned to the already aligned good sections before it:
 *
 * 1. blank/missing sections (section.ts) are recorded and skipped; later sections match the
 *    previous good one;
 * 2. affine: starting from the previous good section's affine, a whole-section phase correlation
 *    at a coarse scale (<= coarseSize px) finds large shifts; patch matches at the matching scale
 *    (pixels of about `matchNm` nm: neighbouring 40-50 nm sections share structure at that
 *    scale, not their fine texture, measured on ISBI 2012) give point pairs, and RANSAC fits the
 *    model (translation, rigid, similarity or affine) to the pairs pooled over `neighbours`
 *    previous sections, so a single neighbour's error does not carry down the stack;
 * 3. elastic: patch-wise phase correlation on a regular grid against the same neighbours
 *    (weight 1/k for the k-th), outlier patches (low peak ratio, blank, out of range) dropped,
 *    and a spring mesh relaxed against all of them (mesh.ts), in `elasticRounds` rounds;
 * 4. a guard keeps the solution only if it correlates with the neighbour better than the coarse
 *    translation alone or the previous transform; sections that, aligned, correlate with their
 *    neighbour far less than the stack's typical section are 'damaged' and not used as neighbours;
 * 5. quality: residual displacement to the previous good aligned section, correlation with it
 *    before and after, flags.
 */
import { type Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import type { VolumeSource } from '../../formats/source.js';
import { type Affine, type AffineModel, IDENTITY, apply, compose, minPairs, translation } from './affine.js';
import { type Image2D, correlation, halve } from './image.js';
import { type MatchOptions, matchPatches, patchCentres } from './match.js';
import { type MeshGrid, type NodeTarget, relaxMesh } from './mesh.js';
import { isPowerOfTwo } from './fft.js';
import { phaseCorrelate } from './phase-correlation.js';
import { ransacAffine } from './ransac.js';
import { checkSection, readSection } from './section.js';
import { type SectionTransform, TRANSFORMS_FORMAT, type TransformsFile, scaleTransform, unscaleTransform } from './transform.js';
import { warpImage } from './warp.js';

/** Every default of `wiring align` (the CLI help reads these). Chosen on ISBI 2012 (docs/ALIGNMENT.md). */
export const ALIGN_DEFAULTS = {
  /** Affine model: translation, rigid, similarity or affine. */
  model: 'affine' as AffineModel,
  /** Previous good sections each section is matched against. */
  neighbours: 2,
  /** Longest side of the coarse scale, px. */
  coarseSize: 256,
  /** Pixel size of the matching scale, nm (the stack is mean-halved until its pixels are about this size). */
  matchNm: 16,
  /** Affine stage: patch side and spacing at the matching scale, px. */
  patch: 64,
  stride: 32,
  /** Affine rounds at the matching scale. */
  affineRounds: 2,
  /** Elastic stage (false: affine only). */
  elastic: true,
  /** Elastic stage: patch side and spacing (= mesh spacing) at the matching scale, px. */
  elasticPatch: 32,
  elasticStride: 16,
  elasticRounds: 2,
  /** Spring stiffness between mesh nodes relative to one match. */
  stiffness: 0.5,
  /** Matches farther than this from the relaxed mesh are dropped, px. */
  meshMaxResidual: 3,
  /** Low-pass of the patch correlations, sigma px at the matching scale, and the whitening floor (phase-correlation.ts). */
  lowpass: 1,
  whiten: 0.1,
  /** Peak ratio below which a patch match is an outlier. */
  minRatio: 1.8,
  /** Peak ratio of the affine stage's retry when too few patches pass minRatio. */
  retryRatio: 1.2,
  /** Patch standard deviation below which a patch is blank, grey levels. */
  minStd: 3,
  /** RANSAC inlier distance, px. */
  ransacThreshold: 2,
  ransacIterations: 300,
  /** Whole-section std below which a section is blank, grey levels. */
  blankStd: 2,
  /** Fraction of exactly-zero pixels above which a section is missing. */
  blankZeroFraction: 0.5,
  /** Fraction of valid elastic patches below which the elastic stage is skipped for a section. */
  minValidFraction: 0.15,
  /** A section whose aligned correlation with its neighbour is below this fraction of the stack's median is damaged. */
  damagedCorrelation: 0.5,
  /** Median residual above which a section is flagged, px (and above twice the stack's median so far). */
  flagResidual: 1,
  seed: 1,
};

export type AlignParams = typeof ALIGN_DEFAULTS;

export interface SectionReport {
  z: number;
  status: SectionTransform['status'];
  flags: string[];
  /** The good section it was matched to (null for the reference and blank sections). */
  matched_to: number | null;
  /** Valid patches of the affine stage against the nearest neighbour, fraction. */
  valid_patches: number;
  /** Residual displacement to the previous good aligned section, px (null when not measured). */
  residual_median_px: number | null;
  residual_p95_px: number | null;
  corr_before: number | null;
  corr_after: number | null;
  rotation_deg: number;
  scale: number;
  shift_px: [number, number];
}

export interface AlignResult {
  transforms: TransformsFile;
  sections: SectionReport[];
}

interface Neighbour {
  z: number;
  /** Aligned section at the matching scale (NaN outside the raw section). */
  aligned: Image2D;
  /** Aligned section at the coarse scale. */
  coarse: Image2D;
  rawCoarse: Image2D;
  t: SectionTransform;
}

function percentile(values: number[], q: number): number | null {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  const i = Math.min(v.length - 1, Math.max(0, Math.round(q * (v.length - 1))));
  return v[i];
}

function largestPow2(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

function centreCrop(im: Image2D, n: number): Float32Array {
  const x0 = Math.floor((im.w - n) / 2);
  const y0 = Math.floor((im.h - n) / 2);
  const out = new Float32Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) out[x + n * y] = im.data[x0 + x + im.w * (y0 + y)];
  return out;
}

function matchOpts(p: AlignParams, patch: number, stride: number, rounds: number): MatchOptions {
  return { patch, stride, maxShift: patch / 4, minRatio: p.minRatio, minStd: p.minStd, rounds, lowpass: p.lowpass, whiten: p.whiten };
}

function coarseOf(im: Image2D, levels: number): Image2D {
  let c = im;
  for (let i = 0; i < levels; i++) c = halve(c);
  return c;
}

/** Levels of mean-halving to reach pixels of about `nm` (never below 0; at least 128 px left, so an affine has enough patches). */
export function levelFor(voxelNm: number, nm: number, w: number, h: number): number {
  let l = Math.max(0, Math.round(Math.log2(nm / voxelNm)));
  while (l > 0 && Math.min(w, h) / 2 ** l < 128) l--;
  return l;
}

/**
 * One affine round at a level of scale s: patch matches of the candidate (raw warped by the
 * current affine) against each neighbour, point pairs pooled, RANSAC. Returns a full-resolution affine.
 */
function affineRound(raw: Image2D, fixed: Image2D[], a: Affine, s: number, p: AlignParams, patch: number, stride: number, seed: number) {
  const t = scaleTransform({ z: 0, status: 'ok', affine: a }, s);
  const cand = warpImage(raw, t, 0, 0, raw.w, raw.h);
  const centres = patchCentres(raw.w, raw.h, patch, stride);
  const x: number[] = [];
  const y: number[] = [];
  const u: number[] = [];
  const v: number[] = [];
  let valid0 = 0;
  fixed.forEach((f, k) => {
    const ms = matchPatches(f, cand, centres, matchOpts(p, patch, stride, 3));
    for (const m of ms) {
      if (!m.valid) continue;
      if (k === 0) valid0++;
      const [qu, qv] = apply(t.affine, m.x + m.dx, m.y + m.dy);
      x.push(m.x);
      y.push(m.y);
      u.push(qu);
      v.push(qv);
    }
  });
  const validFraction = valid0 / centres.length;
  const fit = ransacAffine({ x, y, u, v }, { model: p.model, threshold: p.ransacThreshold, iterations: p.ransacIterations, seed });
  return { affine: fit ? unscaleTransform({ z: 0, status: 'ok', affine: fit.affine }, s).affine : null, validFraction, inliers: fit?.count ?? 0 };
}

/**
 * Elastic stage at the matching level (scale s): a spring mesh on the elastic patch grid,
 * relaxed against the neighbours; returned in full-resolution pixels.
 */
function elastic(raw: Image2D, fixed: Image2D[], a: Affine, s: number, p: AlignParams) {
  const centres = patchCentres(raw.w, raw.h, p.elasticPatch, p.elasticStride);
  const xs = [...new Set(centres.map((c) => c[0]))];
  const ys = [...new Set(centres.map((c) => c[1]))];
  const grid: MeshGrid = { ox: xs[0], oy: ys[0], stride: xs.length > 1 ? xs[1] - xs[0] : ys.length > 1 ? ys[1] - ys[0] : p.elasticStride, nx: xs.length, ny: ys.length };
  const affine = scaleTransform({ z: 0, status: 'ok', affine: a }, s).affine;
  let u: Float64Array = new Float64Array(centres.length);
  let v: Float64Array = new Float64Array(centres.length);
  let validFraction = 0;
  for (let round = 0; round < p.elasticRounds; round++) {
    const t: SectionTransform = { z: 0, status: 'ok', affine, mesh: { ...grid, u: Array.from(u), v: Array.from(v) } };
    const cand = warpImage(raw, t, 0, 0, raw.w, raw.h);
    const targets: NodeTarget[] = [];
    let valid0 = 0;
    fixed.forEach((f, k) => {
      const ms = matchPatches(f, cand, centres, matchOpts(p, p.elasticPatch, p.elasticStride, 2));
      ms.forEach((m, i) => {
        if (!m.valid) return;
        if (k === 0) valid0++;
        targets.push({ node: i, u: u[i] + m.dx, v: v[i] + m.dy, w: 1 / (k + 1) });
      });
    });
    validFraction = valid0 / centres.length;
    if (validFraction < p.minValidFraction) break;
    const r = relaxMesh(grid, targets, { stiffness: p.stiffness, maxResidual: p.meshMaxResidual / s, rounds: 3 });
    u = r.u;
    v = r.v;
  }
  const level: SectionTransform = { z: 0, status: 'ok', affine, mesh: { ...grid, u: Array.from(u), v: Array.from(v) } };
  const full = unscaleTransform(level, s).mesh!;
  return { mesh: { ...full, u: full.u.map((x) => +x.toFixed(4)), v: full.v.map((x) => +x.toFixed(4)) }, validFraction };
}

/** Align every section of `src`; `onSection` sees each section's report as it is done. */
export async function alignStack(src: VolumeSource, params: Partial<AlignParams> = {}, onSection?: (r: SectionReport) => void): Promise<AlignResult> {
  const p: AlignParams = { ...ALIGN_DEFAULTS, ...params };
  const [w, h, nz] = src.shape;
  const z0 = src.offset[2];
  if (nz < 2) throw new UsageError(`${src.url}: the stack has ${nz} section(s); alignment needs at least 2`);
  for (const k of ['patch', 'elasticPatch'] as const) {
    if (!isPowerOfTwo(p[k]) || p[k] < 16) throw new UsageError(`${k} ${p[k]}: expected a power of two >= 16`);
  }
  if (!(p.neighbours >= 1)) throw new UsageError(`neighbours ${p.neighbours}: expected >= 1`);
  if (!['translation', 'rigid', 'similarity', 'affine'].includes(p.model)) throw new UsageError(`model ${JSON.stringify(p.model)}: expected translation, rigid, similarity or affine`);
  let coarseLevels = 0;
  while (Math.max(w, h) / 2 ** coarseLevels > p.coarseSize) coarseLevels++;
  const matchLevels = levelFor(src.voxelSize[0], p.matchNm, w, h);
  coarseLevels = Math.max(coarseLevels, matchLevels);
  const sc = 2 ** coarseLevels;
  const sm = 2 ** matchLevels;
  const mw = Math.ceil(w / sm);
  const mh = Math.ceil(h / sm);
  const patch = Math.min(p.patch, largestPow2(Math.min(mw, mh)));
  const elasticPatch = Math.min(p.elasticPatch, patch);
  const q: AlignParams = { ...p, patch, elasticPatch, stride: Math.min(p.stride, patch), elasticStride: Math.min(p.elasticStride, elasticPatch) };
  const prev: Neighbour[] = [];
  const corrOk: number[] = [];
  const residualsOk: number[] = [];
  const sections: SectionTransform[] = [];
  const reports: SectionReport[] = [];
  for (let i = 0; i < nz; i++) {
    const z = z0 + i;
    const raw = await readSection(src, z);
    const chk = checkSection(raw, p.blankStd, p.blankZeroFraction);
    const last = prev[0];
    const report: SectionReport = {
      z, status: 'ok', flags: [], matched_to: last?.z ?? null, valid_patches: 0, residual_median_px: null, residual_p95_px: null,
      corr_before: null, corr_after: null, rotation_deg: 0, scale: 1, shift_px: [0, 0],
    };
    const finish = (t: SectionTransform) => {
      sections.push(t);
      const [a, b, c, d, e, f] = t.affine;
      report.status = t.status;
      report.rotation_deg = +((Math.atan2(d, a) * 180) / Math.PI).toFixed(4);
      report.scale = +Math.sqrt(Math.abs(a * e - b * d)).toFixed(5);
      report.shift_px = [+c.toFixed(3), +f.toFixed(3)];
      reports.push(report);
      onSection?.(report);
    };
    if (chk.blank) {
      report.flags.push('blank');
      report.matched_to = null;
      finish({ z, status: 'missing', affine: last ? [...last.t.affine] : [...IDENTITY], ...(last?.t.mesh ? { mesh: last.t.mesh } : {}) });
      continue;
    }
    const rawMatch = coarseOf(raw, matchLevels);
    const rawCoarse = coarseOf(rawMatch, coarseLevels - matchLevels);
    if (!last) {
      report.valid_patches = 1;
      const t: SectionTransform = { z, status: 'reference', affine: [...IDENTITY] };
      prev.unshift({ z, aligned: rawMatch, coarse: rawCoarse, rawCoarse, t });
      finish(t);
      continue;
    }
    if (last.z !== z - 1) report.flags.push('skipped-neighbour');
    report.corr_before = round4(correlation(rawCoarse.data, last.rawCoarse.data));
    // --- coarse: global translation from the previous good section's affine
    let a: Affine = [...last.t.affine];
    const cn = largestPow2(Math.min(rawCoarse.w, rawCoarse.h));
    let coarseFound = false;
    if (cn >= 16) {
      const cand = warpImage(rawCoarse, scaleTransform({ z, status: 'ok', affine: a }, sc), 0, 0, rawCoarse.w, rawCoarse.h);
      const pc = phaseCorrelate(centreCrop(last.coarse, cn), centreCrop(cand, cn), cn, { maxShift: cn / 4, lowpass: p.lowpass, whiten: p.whiten });
      if (pc.ratio >= p.minRatio) {
        a = compose(a, translation(pc.dx * sc, pc.dy * sc));
        coarseFound = true;
      }
    }
    const coarseAffine: Affine = [...a];
    const fixed = prev.slice(0, p.neighbours).map((n) => n.aligned);
    let affineFound = false;
    for (let round = 0; round < p.affineRounds; round++) {
      let r = affineRound(rawMatch, fixed, a, sm, q, patch, q.stride, p.seed + i + 7919 * round);
      // Too few confident patches (across a gap, low contrast): retry with every patch whose
      // peak stands out at all, and let RANSAC sort them out.
      if ((!r.affine || r.inliers < Math.max(4, 2 * minPairs(p.model))) && p.minRatio > p.retryRatio) {
        const weak = affineRound(rawMatch, fixed, a, sm, { ...q, minRatio: p.retryRatio }, patch, q.stride, p.seed + i + 7919 * round);
        // weak patches must agree in numbers to be believed
        if (weak.affine && weak.inliers >= 2 * Math.max(4, 2 * minPairs(p.model))) r = weak;
      }
      report.valid_patches = +r.validFraction.toFixed(3);
      if (!r.affine || r.inliers < Math.max(4, 2 * minPairs(p.model))) break;
      a = r.affine;
      affineFound = true;
    }
    // Patch matching failed: keep the whole-section translation (or the previous transform), flagged.
    if (!affineFound) report.flags.push('coarse-only');
    let t: SectionTransform = { z, status: 'ok', affine: a.map((x) => +x.toFixed(8)) as Affine };
    if (p.elastic && affineFound) {
      const e = elastic(rawMatch, fixed, t.affine, sm, q);
      if (e.validFraction >= p.minValidFraction) t = { ...t, mesh: e.mesh };
      else report.flags.push('elastic-skipped');
    }
    // Guard: the solution must correlate with the neighbour at least as well as the coarse
    // translation alone and the previous section's transform; otherwise the patches misled
    // RANSAC (few valid, repetitive texture) and the better of those is kept, flagged.
    const candidates: SectionTransform[] = [t, { z, status: 'ok', affine: coarseAffine }, { z, status: 'ok', affine: [...last.t.affine], ...(last.t.mesh ? { mesh: last.t.mesh } : {}) }];
    let best = -Infinity;
    let aligned = rawMatch;
    candidates.forEach((c, k) => {
      const im = warpImage(rawMatch, scaleTransform(c, sm), 0, 0, rawMatch.w, rawMatch.h);
      const r = correlation(im.data, last.aligned.data);
      if (k === 0 || r > best + 0.01) {
        if (k > 0) report.flags.push(k === 1 ? 'fallback-coarse' : 'fallback-previous');
        if (k > 1 && report.flags.includes('fallback-coarse')) report.flags.splice(report.flags.indexOf('fallback-coarse'), 1);
        best = r;
        aligned = im;
        t = { ...c, z };
      }
    });
    const coarse = coarseOf(aligned, coarseLevels - matchLevels);
    report.corr_after = round4(correlation(coarse.data, last.coarse.data));
    // Damaged: even aligned, the section resembles its neighbour far less than good sections
    // resemble theirs (fold, crack, dirt, wrong section). It keeps its best transform but is
    // not used as a neighbour. (Across a gap correlation is lower by nature: not judged there.)
    const typical = percentile(corrOk, 0.5);
    if (typical !== null && last.z === z - 1 && (report.corr_after ?? 0) < p.damagedCorrelation * typical) {
      report.flags.push('damaged');
      finish({ ...t, status: 'damaged' });
      continue;
    }
    if (report.corr_after !== null) corrOk.push(report.corr_after);
    const res = matchPatches(last.aligned, aligned, patchCentres(mw, mh, elasticPatch, elasticPatch), matchOpts(q, elasticPatch, elasticPatch, 2))
      .filter((m) => m.valid)
      .map((m) => Math.hypot(m.dx, m.dy) * sm);
    report.residual_median_px = round4(percentile(res, 0.5));
    report.residual_p95_px = round4(percentile(res, 0.95));
    // High residual: above the floor and above twice the stack's typical residual so far (real
    // neighbours differ genuinely by a few px, which is not worth a flag on every section).
    const typicalResidual = residualsOk.length >= 3 ? percentile(residualsOk, 0.5)! : 0;
    if (report.residual_median_px !== null && report.residual_median_px > Math.max(p.flagResidual, 2 * typicalResidual)) report.flags.push('high-residual');
    if (report.residual_median_px !== null) residualsOk.push(report.residual_median_px);
    if (report.corr_after !== null && report.corr_before !== null && report.corr_after < report.corr_before - 0.02) report.flags.push('worse');
    prev.unshift({ z, aligned, coarse, rawCoarse, t });
    if (prev.length > p.neighbours) prev.pop();
    finish(t);
  }
  const transforms: TransformsFile = {
    format: TRANSFORMS_FORMAT,
    version: 1,
    source: { url: src.url, size: [...src.shape] as unknown as Vec3, voxel_offset: [...src.offset] as unknown as Vec3, voxel_size: [...src.voxelSize] as unknown as Vec3 },
    params: { ...p, match_levels: matchLevels, coarse_levels: coarseLevels } as unknown as Record<string, unknown>,
    sections,
  };
  return { transforms, sections: reports };
}

function round4(x: number | null): number | null {
  return x === null || !Number.isFinite(x) ? null : +x.toFixed(4);
}

/** An in-memory stack as a VolumeSource (tests, benchmarks). */
export function memorySource(sections: Image2D[], voxelSize: Vec3 = [1, 1, 1], url = 'memory'): VolumeSource {
  const w = sections[0]?.w ?? 0;
  const h = sections[0]?.h ?? 0;
  sections.forEach((s, i) => {
    if (s.w !== w || s.h !== h) throw new UsageError(`${url}: section ${i} is ${s.w}x${s.h}, section 0 is ${w}x${h}; all sections must have one size`);
  });
  return {
    url, format: 'memory', dtype: 'float32', shape: [w, h, sections.length], channels: 1, voxelSize, offset: [0, 0, 0], chunkShape: [w, h, 1],
    async read(b) {
      const vol = Volume.zeros('float32', b);
      const bw = b.max[0] - b.min[0];
      let o = 0;
      for (let z = b.min[2]; z < b.max[2]; z++) for (let y = b.min[1]; y < b.max[1]; y++) for (let x = 0; x < bw; x++) vol.data[o++] = sections[z].data[b.min[0] + x + w * y];
      return vol;
    },
    async close() {},
  };
}
