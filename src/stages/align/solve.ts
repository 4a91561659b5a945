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
import { type Affine, AFFINE_MODELS, type AffineModel, IDENTITY, apply, compose, minPairs, translation } from './affine.js';
import { type Image2D, correlation, flatField, halve } from './image.js';
import { type MatchOptions, matchPatches, patchCentres } from './match.js';
import { type MeshGrid } from './mesh.js';
import { type PairSet, solveGlobalAffine } from './global-affine.js';
import { type LinkTarget, Links, relaxGlobalMesh } from './global-mesh.js';
import { FEATURE_DEFAULTS, detectFeatures, matchFeatures } from './features.js';
import { isPowerOfTwo } from './fft.js';
import { phaseCorrelate } from './phase-correlation.js';
import { ransacAffine } from './ransac.js';
import { searchRotationScale } from './search.js';
import { checkSection, maskUnimaged, readSection } from './section.js';
import { type SectionTransform, TRANSFORMS_FORMAT, type TransformsFile, pullback, scaleTransform, unscaleTransform } from './transform.js';
import { warpImage } from './warp.js';

/** Every default of `wiring align` (the CLI help reads these). Chosen on ISBI 2012 (docs/ALIGNMENT.md). */
export const ALIGN_DEFAULTS = {
  /** Affine model: translation, rigid, similarity or affine. */
  model: 'affine' as AffineModel,
  /**
   * Previous good sections each section is matched against. 3 with the 32 px affine grid was
   * chosen on ISBI 2012 by rel (equivariance; docs/ALIGNMENT.md) and confirmed on vnc-sstem, but
   * worse on the phantom (the exact frame) in every measure and twice the CPU: kept at 2.
   */
  neighbours: 2,
  /** Longest side of the coarse scale, px. */
  coarseSize: 256,
  /** Pixel size of the matching scale, nm (the stack is mean-halved until its pixels are about this size). */
  matchNm: 16,
  /**
   * Affine stage: patch side and spacing at the matching scale, px. `--patch 32 --neighbours 3`
   * (49 patches on a 128 px level image instead of 9) keeps the pair counts clear of RANSAC's
   * minimum on real ssTEM, so sections no longer flip between a patch affine and the
   * translation-only fallback with the applied warp (ISBI 2012 rel median 9.06 -> 3.63 px,
   * vnc-sstem 5.28 -> 2.60), but the phantom's exact frame gets worse (rel 1.12 -> 3.55, abs 1.66
   * -> 4.49 px) and matching costs twice the CPU; docs/ALIGNMENT.md, Equivariance.
   */
  patch: 64,
  stride: 32,
  /**
   * Affine stage: a second grid of smaller patches (this side, spacing half of it; 0: none), solved
   * on its own from the coarse translation; the guard keeps whichever solution correlates best with
   * the neighbour (flag `fine-grid` when it is this one).
   */
  finePatch: 0,
  /**
   * Where the affine grid (`patch`/`stride`) finds too few inliers from the coarse translation and the
   * search did not place the section, the patch rounds run once more from there on a grid of this
   * side, spacing half of it (0: none; never across a missing section); flag `fallback-grid`; the guard still decides. On
   * a 128 px matching image the default grid has 9 patches and RANSAC needs 6 inliers for an affine,
   * so real 50 nm sections fall back to the translation by chance. Opt-in: on the ISBI 2012 stress
   * bench it recovers the shift and contrast cases, but on the default bench it worsens ISBI's rigid
   * rel/step and elastic abs/rel (the 32 px patches read more of the content's rotation drift);
   * docs/ALIGNMENT.md, The sections the defaults lost.
   */
  fallbackPatch: 0,
  /**
   * A search result kept on its gain in correlation alone (the affine grid's patch rounds failed
   * from it) is refined by the patch rounds on a grid of this side, spacing half of it (0: none;
   * never across a missing section); flag `fallback-grid`; the guard still decides. Only such
   * sections are touched (none on the default bench). Chosen on the ISBI 2012 stress bench (rotation
   * and scale cases: no section lost, step 2.77 -> 1.68 and 2.44 -> 1.51 px); docs/ALIGNMENT.md, The
   * sections the defaults lost.
   */
  searchFallbackPatch: 32,
  /**
   * Local contrast normalisation at the matching scale before matching (sigma, px at the matching
   * scale; 0: off): each section's departure from a Gaussian local mean over its local std
   * (image.ts `flatField`), so a smooth gain/offset across the field (uneven illumination,
   * vignetting) does not enter the correlations. Matching only, never the rendered output.
   * docs/ALIGNMENT.md, Uneven illumination.
   */
  flatField: 0,
  /**
   * The damaged test only (pass 1: aligned correlation with the adjacent section under
   * damagedCorrelation x the stack's median) on locally contrast-normalised images, sigma px at the
   * matching scale (0: plain correlation, the behaviour before 2026-12-08); matching itself unchanged.
   * Chosen on the ISBI 2012 stress bench (illumination case: no section lost, step p95 12.87 -> 4.98
   * px; every other case identical but debris, improved); measured on vnc-sstem and the phantom seed 13
   * (illumination recovered, every other case and the accuracy bench identical); docs/ALIGNMENT.md,
   * Uneven illumination.
   */
  damagedFlatField: 16,
  /** Global least-squares solve over all pairs (false: the sequential chain's transforms). */
  global: true,
  /**
   * Weight of each patch pair in the global affine: 'equal' (1), or 'ratio' (its correlation peak
   * ratio r: min(1, (r - 1) / (2 (minRatio - 1))), so the retry's weak peaks count less), or
   * 'ratio-in-set' (the same, scaled so that each pair set keeps its total weight: better pairs
   * count more within a set, sets weigh as before).
   */
  pairWeight: 'equal' as 'equal' | 'ratio' | 'ratio-in-set',
  /**
   * Weight of each of the 9 pairs with which a section whose patch matching failed (coarse-only,
   * fallbacks) enters the global affine, keeping it where the chain put it (1: like a patch pair).
   */
  chainPairWeight: 1,
  /**
   * Affine model: prior pulling each section's affine toward its rigid part, relative to its
   * pairs (global-affine.ts; 0: free affine). Chosen on ISBI 2012 (warped, abs median 12.2 ->
   * 10.0 px); measured on vnc-sstem and the phantom (docs/ALIGNMENT.md).
   */
  regularise: 0.03,
  /** What the regularised affine is pulled toward: 'rigid' (the similarity's rotation) or 'similarity' (uniform scale free). */
  regulariseTo: 'rigid' as 'rigid' | 'similarity',
  /**
   * Weight of the regularised affine's pull on each section's uniform scale alone, relative to its
   * pairs (null: `regularise`; rotation, shear and anisotropic scale keep `regularise`). 0.02 met
   * the rule in the rigid case (phantom rel 1.12 -> 1.05 and 1.05 -> 0.95 px, abs not worse, the
   * vnc-sstem 20-section drift held) but not in the elastic case (ISBI 2012 abs worse): opt-in;
   * weaker weights keep more of genuine per-section scalings and let more drift through
   * (docs/ALIGNMENT.md, The prior on uniform scale).
   */
  regulariseScale: null as number | null,
  /**
   * Rotation trend removed after the global affine (detrend.ts): Gaussian window of its local
   * slope along z, sections (0: off).
   */
  detrend: 0,
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
  /**
   * Prior toward the affine: every mesh node of every section is pulled to zero displacement with
   * this weight (relative to one match), so the mesh departs from the affine only where matches
   * agree on it and its errors do not accumulate along z (0: off). Chosen on the phantom seed 11
   * (elastic case: abs median 2.53 -> 1.91 px, rel 1.44 -> 1.08); docs/ALIGNMENT.md, The exact frame.
   */
  elasticPrior: 0.1,
  /** The prior pulls toward the affine plus a free translation per section (the mesh's shape only) instead of toward the affine. */
  elasticPriorShape: false,
  /**
   * Elastic guard (pass 3): a section whose aligned image correlates with the previous good
   * aligned section better by more than `elasticGuardMargin` without its mesh than with it keeps
   * its affine (flag `elastic-reverted`). Off by default: on ISBI 2012 and the phantom seed 11 it
   * acted only on the unwarped runs and rel worsened (docs/ALIGNMENT.md).
   */
  elasticGuard: false,
  elasticGuardMargin: 0,
  /** Matches farther than this from the relaxed mesh are dropped, px. */
  meshMaxResidual: 3,
  /** Low-pass of the patch correlations, sigma px at the matching scale, and the whitening floor (phase-correlation.ts). */
  lowpass: 1,
  whiten: 0.1,
  /** Peak ratio below which a patch match is an outlier. */
  minRatio: 1.8,
  /**
   * Where patch matching fails (after a blank section, large rotation), try rotation-invariant
   * feature matches (features.ts) at pixels of about `featureNm` nm, guided by the coarse
   * translation (candidates within `featureRadius` px at that scale), similarity by RANSAC with
   * at least `featureMinInliers` inliers; the patch rounds then restart from it and the guard
   * decides. Off by default: on real 50 nm sections (ISBI 2012, vnc-sstem) the feature fit was
   * not better than the translation alone (docs/ALIGNMENT.md).
   */
  features: false,
  featureNm: 8,
  /**
   * Where patch matching fails, search the section's rotation (within ±searchRotation degrees,
   * grid searchRotationStep, then a finer one) and scale (within ±searchScale, grid
   * searchScaleStep), with the translation over most of the section's side, by the whole-section
   * correlation peak at the coarse scale (search.ts); the patch rounds restart from the best, which
   * is taken when they succeed there or when it correlates with the neighbour better than the
   * coarse translation by more than searchMargin (0.02 admitted a spurious 3.5°/8 % after the blank
   * section of the ISBI 2012 bench, whose gain was 0.045; the rotation cases gain 0.12-0.4); the
   * guard still decides (flag `searched`). For
   * sections placed by hand (shifted tens of px, rotated 5-20°, compressed 3-8 %): docs/ALIGNMENT.md,
   * Large misalignments.
   */
  search: true,
  searchRotation: 45,
  searchRotationStep: 2,
  searchScale: 0.2,
  searchScaleStep: 0.02,
  searchMargin: 0.1,
  /** The search runs only where the coarse translation correlates with the neighbour below this fraction of the stack's median so far (or before there is one). */
  searchBelow: 0.5,
  /**
   * Before the stack has a median (the first section after the reference, where nothing says the
   * section is far off), the search's result is kept only when it correlates with the neighbour better
   * than the coarse translation by more than this, even where the patch rounds succeed from it (ISBI
   * 2012: the bench's elastic section 1 gained 0.016 with a spurious 2°/3.5 %, the stress scale case's
   * section 1 0.068, the rotation case's 0.28).
   */
  searchMarginFirst: 0.04,
  featureRadius: 12,
  featureMinInliers: 12,
  /**
   * The match across a gap (`--gap-match`): a section whose patch matching failed and whose
   * previous good sections lie across a missing one is matched to them (at most `neighbours` of them, pooled) once more at pixels of
   * about `gapNm` nm with `gapPatch` px patches (spacing half of it), peak ratio `gapRatio`, model
   * `gapModel` by RANSAC with at least `gapMinInliers` inliers; its inliers enter the global affine
   * as pair sets of their own (source 'gap') instead of the chain's guess. Off by default:
   * docs/ALIGNMENT.md, The match across the gap.
   */
  gapMatch: false,
  gapNm: 32,
  gapPatch: 32,
  gapRatio: 1.5,
  gapModel: 'rigid' as AffineModel,
  gapMinInliers: 6,
  /**
   * The match across a gap is kept only when a round re-cut at the previous round's fit moves it by
   * less than this rotation (degrees) and less than ransacThreshold px at the matching scale
   * (at most affineRounds + 1 rounds).
   */
  gapConverge: 0.25,
  /** Peak ratio of the affine stage's retry when too few patches pass minRatio. */
  retryRatio: 1.2,
  /**
   * Affine stage: a patch more than this fraction outside the section (NaN: beyond its edge, or the
   * masked unimaged part of a partial section) is not matched ('outside'). 0.5 recovers the ISBI 2012
   * stress bench's shift case but loses a section of its rotation and contrast cases (the unwarped
   * run's decisions move too): opt-in (`--patch-max-outside`); docs/ALIGNMENT.md, The decision at six inliers.
   */
  patchMaxOutside: 0.25,
  /** Patch standard deviation below which a patch is blank, grey levels. */
  minStd: 3,
  /** RANSAC inlier distance, px. */
  ransacThreshold: 2,
  ransacIterations: 300,
  /** Whole-section std below which a section is blank, grey levels. */
  blankStd: 2,
  /**
   * Fraction of exactly-zero pixels above which a section is missing (below it, the zero part of a
   * partial section is masked for matching: section.ts). 0.5 before 2026-12-07; partial sections
   * imaged over 20-50 % of the field are now aligned (docs/ALIGNMENT.md, Large misalignments).
   */
  blankZeroFraction: 0.8,
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
  /**
   * Where patch matching failed and the section enters the global solve where the chain put it
   * (coarse-only, fallbacks): how far the best patch fit that failed (fewer inliers than the model
   * needs, strong or weak peaks; at least 4) places the section from there, median px over 9 points
   * of the field; null elsewhere or without such a fit. A measure of how uncertain that placement
   * is: on real 50 nm sections the two differ by the content's apparent rotation (docs/ALIGNMENT.md,
   * The decision at six inliers).
   */
  unsure_px: number | null;
  /** Residual displacement to the previous good aligned section, px (null when not measured). */
  residual_median_px: number | null;
  residual_p95_px: number | null;
  corr_before: number | null;
  corr_after: number | null;
  rotation_deg: number;
  scale: number;
  shift_px: [number, number];
}

/** One set of point pairs of the global affine (diagnostics). */
export interface PairSetReport {
  /** Section indices (z - z0): pairs between section j and section z. */
  j: number;
  z: number;
  /** 'patches': RANSAC inliers of the patch matches; 'chain': 9 points where the chain put z (its patch matching failed); 'gap': the match across a missing section (gapMatch). */
  source: 'patches' | 'chain' | 'gap';
  pairs: number;
  kept: number;
  weight_sum: number;
  ratio_median: number | null;
  residual_median_px: number;
}

export interface AlignResult {
  transforms: TransformsFile;
  sections: SectionReport[];
  /** The global affine's pair sets (empty without the global solve). */
  pairs: PairSetReport[];
}

interface Neighbour {
  z: number;
  /** Index of the section in the stack (z - z0). */
  index: number;
  /** Aligned section at the matching scale (NaN outside the raw section). */
  aligned: Image2D;
  /** Aligned section at the coarse scale. */
  coarse: Image2D;
  rawCoarse: Image2D;
  t: SectionTransform;
  /** Raw section at the feature level (only with `features`). */
  rawFeature?: Image2D;
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

/** A section as matching sees it: its unimaged (zero) part masked (section.ts). */
async function readMasked(src: VolumeSource, z: number): Promise<Image2D> {
  const raw = await readSection(src, z);
  maskUnimaged(raw);
  return raw;
}

/**
 * A section at `levels` halvings as matching sees it: mean-halved, then, with `flatField` > 0, locally
 * contrast-normalised (image.ts `flatField`, sigma `flatField` px at the matching scale, scaled to this
 * level). Matching only: the rendered output never sees it.
 */
function matchScale(raw: Image2D, levels: number, p: AlignParams, g: Geometry): Image2D {
  return flatField(coarseOf(raw, levels), p.flatField * 2 ** (g.matchLevels - levels));
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

/** Level coordinates (pixels s times larger) -> full-resolution pixels. */
function toFull(s: number, x: number, y: number): [number, number] {
  return [s * x + (s - 1) / 2, s * y + (s - 1) / 2];
}

/**
 * One affine round at a level of scale s: patch matches of the candidate (raw warped by the
 * current affine) against each neighbour, point pairs pooled, RANSAC. Returns a full-resolution
 * affine and, per neighbour, the RANSAC inliers as raw-to-raw point pairs (full resolution).
 */
function affineRound(raw: Image2D, fixed: Neighbour[], a: Affine, s: number, p: AlignParams, patch: number, stride: number, seed: number) {
  const t = scaleTransform({ z: 0, status: 'ok', affine: a }, s);
  const cand = warpImage(raw, t, 0, 0, raw.w, raw.h);
  const centres = patchCentres(raw.w, raw.h, patch, stride);
  const x: number[] = [];
  const y: number[] = [];
  const u: number[] = [];
  const v: number[] = [];
  const from: number[] = [];
  const ratio: number[] = [];
  const rawNeighbour: number[] = [];
  let valid0 = 0;
  fixed.forEach((f, k) => {
    const tf = scaleTransform(f.t, s);
    const ms = matchPatches(f.aligned, cand, centres, { ...matchOpts(p, patch, stride, 3), maxOutside: p.patchMaxOutside });
    // ALIGN_DEBUG_PATCH=1: every patch of every affine round (status or reason : peak ratio : displacement)
    if (process.env.ALIGN_DEBUG_PATCH) console.error(`  round vs ${f.z} k${k} patch ${patch} minRatio ${p.minRatio}: ` + ms.map((m) => `${m.valid ? 'ok' : m.reason}:${m.ratio.toFixed(2)}:${m.dx.toFixed(1)},${m.dy.toFixed(1)}`).join(' '));
    for (const m of ms) {
      if (!m.valid) continue;
      if (k === 0) valid0++;
      const [qu, qv] = apply(t.affine, m.x + m.dx, m.y + m.dy);
      x.push(m.x);
      y.push(m.y);
      u.push(qu);
      v.push(qv);
      from.push(k);
      ratio.push(m.ratio);
      rawNeighbour.push(...pullback(tf, m.x, m.y));
    }
  });
  const validFraction = valid0 / centres.length;
  const fit = ransacAffine({ x, y, u, v }, { model: p.model, threshold: p.ransacThreshold, iterations: p.ransacIterations, seed });
  if (process.env.ALIGN_DEBUG_PATCH) console.error(`  -> ${x.length} matches, ${fit?.count ?? 0} inliers`);
  const pairs = fixed.map((f, k) => ({ j: f.index, k, p: [] as number[], q: [] as number[], r: [] as number[] }));
  if (fit) {
    fit.inliers.forEach((ok, i) => {
      if (!ok) return;
      pairs[from[i]].r.push(ratio[i]);
      pairs[from[i]].p.push(...toFull(s, rawNeighbour[2 * i], rawNeighbour[2 * i + 1]));
      pairs[from[i]].q.push(...toFull(s, u[i], v[i]));
    });
  }
  return { affine: fit ? unscaleTransform({ z: 0, status: 'ok', affine: fit.affine }, s).affine : null, validFraction, matches: x.length, inliers: fit?.count ?? 0, pairs };
}

/** Pairs that keep section z where transform tz puts it relative to neighbour j (tj): used when patches failed. */
function transformPairs(tj: SectionTransform, tz: SectionTransform, w: number, h: number): { p: number[]; q: number[] } {
  const p: number[] = [];
  const q: number[] = [];
  for (const fy of [0.25, 0.5, 0.75]) {
    for (const fx of [0.25, 0.5, 0.75]) {
      p.push(...pullback(tj, fx * (w - 1), fy * (h - 1)));
      q.push(...pullback(tz, fx * (w - 1), fy * (h - 1)));
    }
  }
  return { p, q };
}

/** Median distance between where transform t and affine b put 9 points of the w x h field (transformPairs' points), px. */
function unsure(t: SectionTransform, b: Affine, w: number, h: number): number {
  const d: number[] = [];
  for (const fy of [0.25, 0.5, 0.75]) {
    for (const fx of [0.25, 0.5, 0.75]) {
      const [x, y] = [fx * (w - 1), fy * (h - 1)];
      const [px, py] = pullback(t, x, y);
      const [qx, qy] = apply(b, x, y);
      d.push(Math.hypot(px - qx, py - qy));
    }
  }
  return percentile(d, 0.5)!;
}

interface Geometry {
  w: number;
  h: number;
  nz: number;
  z0: number;
  sm: number;
  sc: number;
  matchLevels: number;
  coarseLevels: number;
  featureLevels: number;
  /** Levels of the match across a gap (gapMatch). */
  gapLevels: number;
  mw: number;
  mh: number;
  q: AlignParams;
}

/**
 * Pass 1: the sequential chain (each section against the previous good, already placed
 * sections) gives every section a starting affine, the blank/damaged decisions, and the point
 * pairs between raw sections that the global solve uses.
 */
/** Called after each section of each pass (memory benchmarks sample here). */
export type StepHook = (pass: 'chain' | 'elastic' | 'quality', index: number) => void;

async function chainPass(src: VolumeSource, p: AlignParams, g: Geometry, onStep?: StepHook) {
  const { sm, sc, matchLevels, coarseLevels, q, nz, z0 } = g;
  const prev: Neighbour[] = [];
  const corrOk: number[] = [];
  const sections: SectionTransform[] = [];
  const reports: SectionReport[] = [];
  const pairSets: Array<PairSet & { r?: Float64Array; source: PairSetReport['source'] }> = [];
  for (let i = 0; i < nz; i++) {
    const z = z0 + i;
    const raw = await readSection(src, z);
    const chk = checkSection(raw, p.blankStd, p.blankZeroFraction);
    if (!chk.blank) maskUnimaged(raw);
    const last = prev[0];
    const report: SectionReport = {
      z, status: 'ok', flags: [], matched_to: last?.z ?? null, valid_patches: 0, unsure_px: null, residual_median_px: null, residual_p95_px: null,
      corr_before: null, corr_after: null, rotation_deg: 0, scale: 1, shift_px: [0, 0],
    };
    const finish = (t: SectionTransform) => {
      sections.push(t);
      report.status = t.status;
      reports.push(report);
      onStep?.('chain', i);
    };
    if (chk.blank) {
      report.flags.push('blank');
      report.matched_to = null;
      finish({ z, status: 'missing', affine: last ? [...last.t.affine] : [...IDENTITY] });
      continue;
    }
    const rawMatch = matchScale(raw, matchLevels, p, g);
    const rawCoarse = coarseOf(rawMatch, coarseLevels - matchLevels);
    const rawFeature = p.features ? coarseOf(raw, g.featureLevels) : undefined;
    if (!last) {
      report.valid_patches = 1;
      const t: SectionTransform = { z, status: 'reference', affine: [...IDENTITY] };
      prev.unshift({ z, index: i, aligned: rawMatch, coarse: rawCoarse, rawCoarse, t, rawFeature });
      finish(t);
      continue;
    }
    if (last.z !== z - 1) report.flags.push('skipped-neighbour');
    // --- coarse: global translation from the previous good section's affine
    const a0: Affine = [...last.t.affine];
    let a = coarseTranslation(rawCoarse, last.coarse, a0, sc, p);
    const coarseAffine: Affine = [...a];
    const fixed = prev.slice(0, p.neighbours);
    let affineFound = false;
    let pairs: ReturnType<typeof affineRound>['pairs'] = [];
    const need = Math.max(4, 2 * minPairs(p.model));
    const patchRounds = (start: Affine, patch = q.patch, stride = q.stride) => {
      let a1 = start;
      let found: ReturnType<typeof affineRound>['pairs'] | null = null;
      for (let round = 0; round < p.affineRounds; round++) {
        const r = affineRound(rawMatch, fixed, a1, sm, q, patch, stride, p.seed + i + 7919 * round);
        if (!r.affine || r.inliers < need) break;
        a1 = r.affine;
        found = r.pairs;
      }
      return found ? { a: a1, pairs: found } : null;
    };
    // the finer fallback grid of `side` (0: none), not across a missing section (there its noisier
    // patches agree on wrong solutions: ISBI 2012 bench, elastic case, section 4 placed 26 px off)
    const fallbackGrid = (side: number, start: Affine) => (side > 0 && side < q.patch && last.z === z - 1 ? patchRounds(start, side, side / 2) : null);
    let fellBack = false;
    // the failed patch fit with the most inliers (unsure_px)
    let failedFit: { affine: Affine; inliers: number } | null = null;
    const keepFailed = (f: { affine: Affine | null; inliers: number }) => {
      if (f.affine && f.inliers >= 4 && f.inliers > (failedFit?.inliers ?? 0)) failedFit = { affine: f.affine, inliers: f.inliers };
    };
    for (let round = 0; round < p.affineRounds; round++) {
      let r = affineRound(rawMatch, fixed, a, sm, q, q.patch, q.stride, p.seed + i + 7919 * round);
      // Too few confident patches (across a gap, low contrast): retry with every patch whose
      // peak stands out at all, and let RANSAC sort them out.
      if ((!r.affine || r.inliers < need) && p.minRatio > p.retryRatio) {
        keepFailed(r);
        const weak = affineRound(rawMatch, fixed, a, sm, { ...q, minRatio: p.retryRatio }, q.patch, q.stride, p.seed + i + 7919 * round);
        // weak patches must agree in numbers to be believed
        if (weak.affine && weak.inliers >= 2 * need) r = weak;
        else keepFailed(weak);
      }
      report.valid_patches = +r.validFraction.toFixed(3);
      if (!r.affine || r.inliers < need) break;
      a = r.affine;
      pairs = r.pairs;
      affineFound = true;
    }
    // Patch matching failed: search rotation and scale at the coarse scale, then the patch rounds again from there.
    // (only where the coarse translation correlates far less than the stack's sections typically do:
    // a section that is merely hard to match, dirt or a gap, keeps the chain's answer)
    const corrAt = (x: Affine) => correlation(warpImage(rawMatch, scaleTransform({ z, status: 'ok', affine: x }, sm), 0, 0, rawMatch.w, rawMatch.h).data, last.aligned.data);
    // (the stack's typical correlation is measured at the coarse scale: so is this one)
    const coarseCorr = () => correlation(warpImage(rawCoarse, scaleTransform({ z, status: 'ok', affine: a }, sc), 0, 0, rawCoarse.w, rawCoarse.h).data, last.coarse.data);
    const typicalCorr = percentile(corrOk, 0.5);
    if (process.env.ALIGN_DEBUG && !affineFound) console.error(`z${z}: patches failed (valid ${report.valid_patches}), coarse corr ${coarseCorr().toFixed(3)}, stack median ${typicalCorr?.toFixed(3) ?? '-'}`);
    if (!affineFound && p.search && (typicalCorr === null || !(coarseCorr() >= p.searchBelow * typicalCorr))) {
      const sr = searchRotationScale(rawCoarse, last.coarse, a0, sc, g.w, g.h, { maxRotation: p.searchRotation, rotationStep: p.searchRotationStep, maxScale: p.searchScale, scaleStep: p.searchScaleStep, lowpass: p.lowpass, whiten: p.whiten });
      if (sr) {
        const refined = patchRounds(sr.affine);
        const [cs, cc] = [corrAt(sr.affine), corrAt(a)];
        if (process.env.ALIGN_DEBUG) console.error(`search z${z}: ${sr.rotationDeg.toFixed(2)} deg, scale ${sr.scale.toFixed(3)}, peak ${sr.peak.toFixed(4)}, ratio ${sr.ratio.toFixed(2)}, patches ${refined ? 'yes' : 'no'}, corr ${cs.toFixed(3)} vs coarse ${cc.toFixed(3)}`);
        if (typicalCorr === null ? cs > cc + p.searchMarginFirst : refined || cs > cc + p.searchMargin) {
          report.flags.push('searched');
          // kept without the default grid's confirmation: the finer grid refines it where it can
          const fine = refined ? null : fallbackGrid(q.searchFallbackPatch, sr.affine);
          if (process.env.ALIGN_DEBUG && !refined && q.searchFallbackPatch > 0) console.error(`search z${z}: fallback grid ${fine ? 'found' : 'failed'}`);
          const r2 = refined ?? fine;
          if (r2) {
            a = r2.a;
            pairs = r2.pairs;
            affineFound = true;
            fellBack = r2 === fine;
          } else a = sr.affine;
        }
      }
    }
    // The default grid found too few inliers and the search did not place the section (not run: the
    // coarse translation correlates like the stack's sections do; or not kept): the finer fallback
    // grid from the chain's start (opt-in). After the search, not before: run first, on the phantom's
    // rotation case it agreed on a wrong solution for a section rotated 17° (damaged).
    if (!affineFound && q.fallbackPatch > 0 && !report.flags.includes('searched')) {
      const f = fallbackGrid(q.fallbackPatch, a);
      if (process.env.ALIGN_DEBUG) console.error(`z${z}: fallback grid ${f ? 'found' : 'failed'}`);
      if (f) {
        a = f.a;
        pairs = f.pairs;
        affineFound = true;
        fellBack = true;
      }
    }
    // Patch matching failed: rotation-invariant feature matches (opt-in), then the patch rounds again from them.
    let featureAffine: Affine | null = null;
    if (!affineFound && p.features && rawFeature && last.rawFeature) {
      featureAffine = featureStart(rawFeature, last.rawFeature, last.t, a, 2 ** g.featureLevels, p);
      if (featureAffine) {
        report.flags.push('features');
        const refined = patchRounds(featureAffine);
        if (refined) {
          a = refined.a;
          pairs = refined.pairs;
          affineFound = true;
        } else a = featureAffine;
      }
    }
    // The match across a gap (opt-in): where patch matching failed, the previous good sections
    // across a missing one, once more at the gap level, pooled; it places the section and its
    // pairs replace the chain's guess. (Run also where patch matching worked, it made the phantom
    // seed 11 worse: docs/ALIGNMENT.md, The match across the gap.)
    const across = p.gapMatch && !affineFound ? fixed.filter((f) => sections.slice(f.index + 1, i).some((s) => s.status === 'missing')) : [];
    const gap = across.length ? await gapRound(src, raw, across, coarseAffine, g, p, p.seed + i + 104729) : null;
    if (gap) {
      report.flags.push('gap-match');
      a = gap.a;
      pairs = [];
      affineFound = true;
    }
    // Patch matching failed: keep the whole-section translation (or the previous transform), flagged.
    if (!affineFound) report.flags.push('coarse-only');
    let t: SectionTransform = { z, status: 'ok', affine: a.map((x) => +x.toFixed(8)) as Affine };
    // Guard: the solution must correlate with the neighbour at least as well as the coarse
    // translation alone and the previous section's transform; otherwise the patches misled
    // RANSAC (few valid, repetitive texture) and the better of those is kept, flagged.
    // With finePatch, the finer grid's own solution competes too (patches misled on one grid need not be on the other).
    const fine = q.finePatch > 0 && q.finePatch < q.patch ? patchRounds(coarseAffine, q.finePatch, q.finePatch / 2) : null;
    const candidates: Array<{ t: SectionTransform; flag: string | null; pairs: typeof pairs | null }> = [
      { t, flag: null, pairs: affineFound ? pairs : null },
      ...(fine ? [{ t: { z, status: 'ok' as const, affine: fine.a.map((x) => +x.toFixed(8)) as Affine }, flag: 'fine-grid', pairs: fine.pairs }] : []),
      { t: { z, status: 'ok', affine: coarseAffine }, flag: 'fallback-coarse', pairs: null },
      { t: { z, status: 'ok', affine: [...last.t.affine] }, flag: 'fallback-previous', pairs: null },
    ];
    let best = -Infinity;
    let aligned = rawMatch;
    let chosen = candidates[0];
    candidates.forEach((c, k) => {
      const im = warpImage(rawMatch, scaleTransform(c.t, sm), 0, 0, rawMatch.w, rawMatch.h);
      const r = correlation(im.data, last.aligned.data);
      if (k === 0 || r > best + 0.01) {
        best = r;
        aligned = im;
        t = { ...c.t, z };
        chosen = c;
      }
    });
    if (chosen.flag) report.flags.push(chosen.flag);
    if (fellBack && chosen === candidates[0]) report.flags.push('fallback-grid');
    if (chosen.flag === 'fine-grid' && report.flags.includes('coarse-only')) report.flags.splice(report.flags.indexOf('coarse-only'), 1);
    // The pairs the global solve sees: the patch inliers of the chosen solution, or (when only
    // a fallback worked) a few points that keep this section where the fallback put it.
    if (chosen.pairs) {
      pairs = chosen.pairs;
      // every neighbour weighs the same: a wrong z-1 match is then outvoted by z-2 and z+1 (global.test.ts)
      // typed arrays: the global solve keeps every section's pairs (24 bytes a pair with its peak ratio)
      for (const pr of pairs) {
        if (!pr.p.length) continue;
        const r = Float64Array.from(pr.r);
        let wp = p.pairWeight !== 'equal' ? r.map((x) => Math.min(1, Math.max(0, (x - 1) / (2 * (p.minRatio - 1))))) : undefined;
        if (wp && p.pairWeight === 'ratio-in-set') {
          // within the set only: the set's total weight stays its pair count
          const mean = wp.reduce((a, b) => a + b, 0) / wp.length;
          wp = mean > 0 ? wp.map((x) => x / mean) : undefined;
        }
        pairSets.push({ j: pr.j, z: i, w: 1, wp, p: Float64Array.from(pr.p), q: Float64Array.from(pr.q), r, source: 'patches' });
      }
    }
    if (gap) for (const pr of gap.pairs) if (pr.p.length) pairSets.push({ j: pr.j, z: i, w: 1, p: Float64Array.from(pr.p), q: Float64Array.from(pr.q), r: Float64Array.from(pr.r), source: 'gap' });
    if (!chosen.pairs && !gap) {
      const ff = failedFit as { affine: Affine; inliers: number } | null;
      if (ff && !affineFound) report.unsure_px = round4(unsure(t, ff.affine, g.w, g.h));
      const tp = transformPairs(last.t, t, g.w, g.h);
      pairSets.push({ j: last.index, z: i, w: p.chainPairWeight, p: Float64Array.from(tp.p), q: Float64Array.from(tp.q), source: 'chain' });
    }
    const coarse = coarseOf(aligned, coarseLevels - matchLevels);
    // with damagedFlatField the damaged test compares locally contrast-normalised images (uneven illumination is not damage)
    const dff = p.damagedFlatField * 2 ** (matchLevels - coarseLevels);
    const corr = dff > 0 ? correlation(flatField(coarse, dff).data, flatField(last.coarse, dff).data) : correlation(coarse.data, last.coarse.data);
    // Damaged: even aligned, the section resembles its neighbour far less than good sections
    // resemble theirs (fold, crack, dirt, wrong section). It keeps its best transform but is
    // not used as a neighbour. (Across a gap correlation is lower by nature: not judged there.)
    const typical = percentile(corrOk, 0.5);
    if (typical !== null && last.z === z - 1 && corr < p.damagedCorrelation * typical) {
      report.flags.push('damaged');
      finish({ ...t, status: 'damaged' });
      continue;
    }
    if (Number.isFinite(corr)) corrOk.push(corr);
    prev.unshift({ z, index: i, aligned, coarse, rawCoarse, t, rawFeature });
    if (prev.length > p.neighbours) prev.pop();
    finish(t);
  }
  return { sections, reports, pairSets };
}

/** `name` is one of AFFINE_MODELS, or a UsageError naming it. */
function checkModel(name: string, model: string): void {
  if (!(AFFINE_MODELS as readonly string[]).includes(model)) throw new UsageError(`${name} ${JSON.stringify(model)}: expected ${AFFINE_MODELS.slice(0, -1).join(', ')} or ${AFFINE_MODELS[AFFINE_MODELS.length - 1]}`);
}

/**
 * The match across a gap: the candidate (raw section warped by a) against the good sections before
 * it that lie across a missing section (`across`, each read again and warped by its transform), at
 * the gap level (pixels of about gapNm), gapPatch px patches at half their side apart, peak ratio
 * gapRatio, matches pooled over those sections, gapModel by RANSAC (inlier distance ransacThreshold at the
 * matching scale, whatever the gap level), `affineRounds` rounds. Null
 * with fewer than gapMinInliers inliers (and twice the model's minimal sample).
 */
async function gapRound(src: VolumeSource, raw: Image2D, across: Neighbour[], a: Affine, g: Geometry, p: AlignParams, seed: number) {
  const sg = 2 ** g.gapLevels;
  const rawGap = matchScale(raw, g.gapLevels, p, g);
  const fixed: Neighbour[] = [];
  for (const f of across) {
    const rf = matchScale(await readMasked(src, g.z0 + f.index), g.gapLevels, p, g);
    fixed.push({ ...f, aligned: warpImage(rf, scaleTransform({ ...f.t, mesh: undefined }, sg), 0, 0, rf.w, rf.h) });
  }
  // RANSAC's inlier distance: the matching scale's, in full-resolution px (not 2 px of the coarser gap level)
  const gq: AlignParams = { ...g.q, model: p.gapModel, minRatio: p.gapRatio, ransacThreshold: (p.ransacThreshold * g.sm) / sg };
  const need = Math.max(p.gapMinInliers, 2 * minPairs(p.gapModel));
  // Rounds until the fit stops moving: a consensus of real matches, re-cut at its own solution,
  // stays put; a consensus of noise (weak peaks agreeing by chance) jumps by degrees from one round
  // to the next (ISBI 2012 and vnc-sstem across three missing sections: -5.0 then +1.6°, +2.1 then
  // -4.0°; the phantom -0.59 then -0.13°: docs/ALIGNMENT.md, A run of missing sections).
  let a1 = a;
  let found: ReturnType<typeof affineRound> | null = null;
  let converged = false;
  const [cx, cy] = [(g.w - 1) / 2, (g.h - 1) / 2];
  for (let round = 0; round < p.affineRounds + 1 && !converged; round++) {
    const r = affineRound(rawGap, fixed, a1, sg, gq, p.gapPatch, p.gapPatch / 2, seed + 7919 * round);
    if (!r.affine || r.inliers < need) return null;
    const rot = (((Math.atan2(r.affine[3], r.affine[0]) - Math.atan2(a1[3], a1[0])) * 180) / Math.PI + 540) % 360 - 180;
    const [ux, uy] = apply(r.affine, cx, cy);
    const [vx, vy] = apply(a1, cx, cy);
    if (process.env.ALIGN_DEBUG) console.error(`gap round ${round}: ${r.matches} matches, ${r.inliers} inliers, rotation change ${rot.toFixed(2)} deg, shift ${Math.hypot(ux - vx, uy - vy).toFixed(2)} px`);
    converged = round > 0 && Math.abs(rot) < p.gapConverge && Math.hypot(ux - vx, uy - vy) < p.ransacThreshold * g.sm;
    a1 = r.affine;
    found = r;
  }
  if (!converged) return null;
  return found ? { a: a1, pairs: found.pairs, inliers: found.inliers } : null;
}

/**
 * Feature fallback: keypoints of the candidate (raw warped by the coarse affine a) and of the
 * neighbour (its raw warped by its transform), both at the feature level (scale sf), matched
 * within featureRadius of each other; a similarity S (neighbour -> candidate, level pixels) by
 * RANSAC. Returns a composed with S at full resolution, or null with too few inliers.
 */
function featureStart(rawF: Image2D, lastRawF: Image2D, lastT: SectionTransform, a: Affine, sf: number, p: AlignParams): Affine | null {
  const cand = warpImage(rawF, scaleTransform({ z: 0, status: 'ok', affine: a }, sf), 0, 0, rawF.w, rawF.h);
  const nb = warpImage(lastRawF, scaleTransform({ ...lastT, mesh: undefined }, sf), 0, 0, lastRawF.w, lastRawF.h);
  const fc = detectFeatures(cand);
  const fn = detectFeatures(nb);
  const m = matchFeatures(fn, fc, FEATURE_DEFAULTS.ratio, { dx: 0, dy: 0, radius: p.featureRadius });
  const pr = { x: m.map((k) => fn.keypoints[k.i].x), y: m.map((k) => fn.keypoints[k.i].y), u: m.map((k) => fc.keypoints[k.j].x), v: m.map((k) => fc.keypoints[k.j].y) };
  const fit = ransacAffine(pr, { model: 'similarity', threshold: p.ransacThreshold, iterations: 1000, seed: p.seed });
  if (!fit || fit.count < p.featureMinInliers) return null;
  return compose(a, unscaleTransform({ z: 0, status: 'ok', affine: fit.affine }, sf).affine);
}

/**
 * Coarse step: whole-section phase correlation at the coarse scale around the previous good
 * section's transform: the translation. Returns the start transform when no peak stands out.
 * (Run on every section, a search of rotation and scale by the whole-section peak picked noise on
 * ISBI 2012; the search now runs only where patch matching failed and is kept only when the patch
 * rounds succeed from it or it correlates better: search.ts, docs/ALIGNMENT.md, Large misalignments.)
 */
function coarseTranslation(rawCoarse: Image2D, lastCoarse: Image2D, a0: Affine, sc: number, p: AlignParams): Affine {
  const cn = largestPow2(Math.min(rawCoarse.w, rawCoarse.h));
  if (cn < 16) return a0;
  const cand = warpImage(rawCoarse, scaleTransform({ z: 0, status: 'ok', affine: a0 }, sc), 0, 0, rawCoarse.w, rawCoarse.h);
  const pc = phaseCorrelate(centreCrop(lastCoarse, cn), centreCrop(cand, cn), cn, { maxShift: cn / 4, lowpass: p.lowpass, whiten: p.whiten });
  return pc.ratio >= p.minRatio ? compose(a0, translation(pc.dx * sc, pc.dy * sc)) : a0;
}

/** Warp a raw section (full resolution) to the matching level through a full-resolution transform. */
function alignedAtLevel(raw: Image2D, t: SectionTransform, g: Geometry): Image2D {
  const rawMatch = coarseOf(raw, g.matchLevels);
  return warpImage(rawMatch, scaleTransform(t, g.sm), 0, 0, rawMatch.w, rawMatch.h);
}

/**
 * Pass 2: the elastic stage for the whole stack. Each round streams the sections, warps them by
 * their current transforms, matches a patch grid against `neighbours` previous good sections
 * and relaxes all meshes at once (global-mesh.ts).
 */
async function elasticPass(src: VolumeSource, p: AlignParams, g: Geometry, sections: SectionTransform[], reports: SectionReport[], onStep?: StepHook) {
  const { q, sm, nz, z0 } = g;
  const centres = patchCentres(g.mw, g.mh, q.elasticPatch, q.elasticStride);
  const xs = [...new Set(centres.map((c) => c[0]))];
  const ys = [...new Set(centres.map((c) => c[1]))];
  const grid: MeshGrid = { ox: xs[0], oy: ys[0], stride: xs.length > 1 ? xs[1] - xs[0] : ys.length > 1 ? ys[1] - ys[0] : q.elasticStride, nx: xs.length, ny: ys.length };
  const N = grid.nx * grid.ny;
  let u: Float64Array[] = Array.from({ length: nz }, () => new Float64Array(N));
  let v: Float64Array[] = Array.from({ length: nz }, () => new Float64Array(N));
  const skipped = new Set<number>();
  const level = (i: number): SectionTransform => {
    const t = scaleTransform({ ...sections[i], mesh: undefined }, sm);
    return { ...t, mesh: { ...grid, u: Array.from(u[i]), v: Array.from(v[i]) } };
  };
  for (let round = 0; round < p.elasticRounds; round++) {
    const links = new Links();
    const shaped = new Uint8Array(nz);
    const prev: Array<{ index: number; aligned: Image2D }> = [];
    for (let i = 0; i < nz; i++) {
      const st = sections[i].status;
      if (st === 'missing') continue;
      const rawMatch = matchScale(await readMasked(src, z0 + i), g.matchLevels, p, g);
      const aligned = warpImage(rawMatch, level(i), 0, 0, rawMatch.w, rawMatch.h);
      if (prev.length && !skipped.has(i)) {
        const mine: LinkTarget[] = [];
        let valid0 = 0;
        prev.slice(0, p.neighbours).forEach((f, k) => {
          const ms = matchPatches(f.aligned, aligned, centres, matchOpts(q, q.elasticPatch, q.elasticStride, 2));
          ms.forEach((m, n) => {
            if (!m.valid) return;
            if (k === 0) valid0++;
            mine.push({ z: i, j: f.index, node: n, u: u[i][n] - u[f.index][n] + m.dx, v: v[i][n] - v[f.index][n] + m.dy, w: 1 / (k + 1) });
          });
        });
        if (valid0 / centres.length < p.minValidFraction) skipped.add(i);
        else for (const t of mine) links.push(t);
      }
      // sections without elastic links keep their affine (an absolute pull to zero); the others are
      // pulled toward it by the prior (elasticPrior)
      if (skipped.has(i) || st === 'reference') for (let n = 0; n < N; n++) links.push({ z: i, j: -1, node: n, u: 0, v: 0, w: st === 'reference' ? 1e3 : 1 });
      else if (p.elasticPrior > 0 && !p.elasticPriorShape) for (let n = 0; n < N; n++) links.push({ z: i, j: -1, node: n, u: 0, v: 0, w: p.elasticPrior });
      else if (p.elasticPrior > 0) shaped[i] = 1;
      if (st !== 'damaged') {
        prev.unshift({ index: i, aligned });
        if (prev.length > p.neighbours) prev.pop();
      }
      onStep?.('elastic', i);
    }
    const r = relaxGlobalMesh(grid, nz, links, { stiffness: p.stiffness, maxResidual: p.meshMaxResidual / sm, rounds: 3, shapePrior: { weight: p.elasticPrior, sections: shaped } });
    u = r.u;
    v = r.v;
  }
  for (const i of skipped) reports[i].flags.push('elastic-skipped');
  sections.forEach((t, i) => {
    if (t.status === 'missing' || skipped.has(i)) return;
    const full = unscaleTransform(level(i), sm);
    const mesh = full.mesh!;
    sections[i] = { ...t, mesh: { ...mesh, u: mesh.u.map((x) => +x.toFixed(4)), v: mesh.v.map((x) => +x.toFixed(4)) } };
  });
}

/**
 * Pass 3: quality of the final transforms, section by section against the previous good
 * aligned section: correlation before and after, residual displacement of a patch grid, flags.
 */
async function qualityPass(src: VolumeSource, p: AlignParams, g: Geometry, sections: SectionTransform[], reports: SectionReport[], onSection?: (r: SectionReport) => void, onStep?: StepHook) {
  const { q, sm, nz, z0, coarseLevels, matchLevels } = g;
  let last: { z: number; aligned: Image2D; coarse: Image2D; rawCoarse: Image2D } | null = null;
  const residualsOk: number[] = [];
  for (let i = 0; i < nz; i++) {
    let t = sections[i];
    const report = reports[i];
    const [a, b, c, d, e, f] = t.affine;
    report.rotation_deg = +((Math.atan2(d, a) * 180) / Math.PI).toFixed(4);
    report.scale = +Math.sqrt(Math.abs(a * e - b * d)).toFixed(5);
    report.shift_px = [+c.toFixed(3), +f.toFixed(3)];
    if (t.status !== 'missing') {
      const raw = await readMasked(src, z0 + i);
      const rawMatch = matchScale(raw, matchLevels, p, g);
      const rawCoarse = coarseOf(rawMatch, coarseLevels - matchLevels);
      let aligned = warpImage(rawMatch, scaleTransform(t, sm), 0, 0, rawMatch.w, rawMatch.h);
      // the elastic guard: a mesh that makes the section resemble its neighbour less than its affine does is dropped
      if (p.elasticGuard && t.mesh && last) {
        const plain = warpImage(rawMatch, scaleTransform({ ...t, mesh: undefined }, sm), 0, 0, rawMatch.w, rawMatch.h);
        if (correlation(plain.data, last.aligned.data) > correlation(aligned.data, last.aligned.data) + p.elasticGuardMargin) {
          t = { z: t.z, status: t.status, affine: t.affine };
          sections[i] = t;
          aligned = plain;
          report.flags.push('elastic-reverted');
        }
      }
      const coarse = coarseOf(aligned, coarseLevels - matchLevels);
      if (last) {
        report.matched_to = last.z;
        report.corr_before = round4(correlation(rawCoarse.data, last.rawCoarse.data));
        report.corr_after = round4(correlation(coarse.data, last.coarse.data));
        const res = matchPatches(last.aligned, aligned, patchCentres(g.mw, g.mh, q.elasticPatch, q.elasticPatch), matchOpts(q, q.elasticPatch, q.elasticPatch, 2))
          .filter((m) => m.valid)
          .map((m) => Math.hypot(m.dx, m.dy) * sm);
        report.residual_median_px = round4(percentile(res, 0.5));
        report.residual_p95_px = round4(percentile(res, 0.95));
        // High residual: above the floor and above twice the stack's typical residual so far (real
        // neighbours differ genuinely by a few px, which is not worth a flag on every section).
        const typicalResidual = residualsOk.length >= 3 ? percentile(residualsOk, 0.5)! : 0;
        if (report.residual_median_px !== null && report.residual_median_px > Math.max(p.flagResidual, 2 * typicalResidual)) report.flags.push('high-residual');
        if (report.residual_median_px !== null && t.status !== 'damaged') residualsOk.push(report.residual_median_px);
        if (report.corr_after !== null && report.corr_before !== null && report.corr_after < report.corr_before - 0.02) report.flags.push('worse');
      }
      if (t.status !== 'damaged') last = { z: t.z, aligned, coarse, rawCoarse };
    }
    onSection?.(report);
    onStep?.('quality', i);
  }
}

/** Align every section of `src`; `onSection` sees each section's final report as it is done, `onStep` every section of every pass. */
export async function alignStack(src: VolumeSource, params: Partial<AlignParams> = {}, onSection?: (r: SectionReport) => void, onStep?: StepHook): Promise<AlignResult> {
  const p: AlignParams = { ...ALIGN_DEFAULTS, ...params };
  const [w, h, nz] = src.shape;
  const z0 = src.offset[2];
  if (nz < 2) throw new UsageError(`${src.url}: the stack has ${nz} section(s); alignment needs at least 2`);
  for (const k of ['patch', 'elasticPatch'] as const) {
    if (!isPowerOfTwo(p[k]) || p[k] < 16) throw new UsageError(`${k} ${p[k]}: expected a power of two >= 16`);
  }
  if (p.finePatch !== 0 && (!isPowerOfTwo(p.finePatch) || p.finePatch < 16)) throw new UsageError(`finePatch ${p.finePatch}: expected 0 or a power of two >= 16`);
  for (const k of ['fallbackPatch', 'searchFallbackPatch'] as const) {
    if (p[k] !== 0 && (!isPowerOfTwo(p[k]) || p[k] < 16)) throw new UsageError(`${k} ${p[k]}: expected 0 or a power of two >= 16`);
  }
  if (!(p.damagedFlatField >= 0)) throw new UsageError(`damagedFlatField ${p.damagedFlatField}: expected a Gaussian sigma in px at the matching scale >= 0 (0: off)`);
  if (!(p.flatField >= 0)) throw new UsageError(`flatField ${p.flatField}: expected a Gaussian sigma in px at the matching scale >= 0 (0: off)`);
  if (!(p.patchMaxOutside >= 0 && p.patchMaxOutside < 1)) throw new UsageError(`patchMaxOutside ${p.patchMaxOutside}: expected a fraction in [0, 1)`);
  if (!(p.neighbours >= 1)) throw new UsageError(`neighbours ${p.neighbours}: expected >= 1`);
  if (!(p.detrend >= 0)) throw new UsageError(`detrend ${p.detrend}: expected a number of sections >= 0`);
  if (!(p.elasticPrior >= 0)) throw new UsageError(`elasticPrior ${p.elasticPrior}: expected a number >= 0`);
  if (!['rigid', 'similarity'].includes(p.regulariseTo)) throw new UsageError(`regulariseTo ${JSON.stringify(p.regulariseTo)}: expected rigid or similarity`);
  if (p.regulariseScale !== null && !(p.regulariseScale >= 0)) throw new UsageError(`regulariseScale ${p.regulariseScale}: expected a number >= 0 or null`);
  if (!['equal', 'ratio', 'ratio-in-set'].includes(p.pairWeight)) throw new UsageError(`pairWeight ${JSON.stringify(p.pairWeight)}: expected equal, ratio or ratio-in-set`);
  if (!(p.chainPairWeight > 0)) throw new UsageError(`chainPairWeight ${p.chainPairWeight}: expected a number > 0`);
  if (!isPowerOfTwo(p.gapPatch) || p.gapPatch < 16) throw new UsageError(`gapPatch ${p.gapPatch}: expected a power of two >= 16`);
  if (!(p.gapNm > 0)) throw new UsageError(`gapNm ${p.gapNm}: expected a pixel size in nm > 0`);
  if (!(p.gapRatio >= 1)) throw new UsageError(`gapRatio ${p.gapRatio}: expected a peak ratio >= 1`);
  checkModel('gapModel', p.gapModel);
  if (!(p.gapConverge > 0)) throw new UsageError(`gapConverge ${p.gapConverge}: expected degrees > 0`);
  if (!(p.searchMarginFirst >= 0)) throw new UsageError(`searchMarginFirst ${p.searchMarginFirst}: expected a correlation gain >= 0`);
  if (!(p.searchRotation >= 0 && p.searchRotation <= 90)) throw new UsageError(`searchRotation ${p.searchRotation}: expected degrees in [0, 90]`);
  if (!(p.searchScale >= 0 && p.searchScale < 0.5)) throw new UsageError(`searchScale ${p.searchScale}: expected a relative scale change in [0, 0.5)`);
  if (!(p.searchRotationStep > 0) || !(p.searchScaleStep > 0)) throw new UsageError(`searchRotationStep ${p.searchRotationStep}, searchScaleStep ${p.searchScaleStep}: expected steps > 0`);
  if (!(p.blankZeroFraction >= 0 && p.blankZeroFraction <= 1)) throw new UsageError(`blankZeroFraction ${p.blankZeroFraction}: expected a fraction in [0, 1]`);
  if (!(p.regularise >= 0)) throw new UsageError(`regularise ${p.regularise}: expected a number >= 0`);
  checkModel('model', p.model);
  let coarseLevels = 0;
  while (Math.max(w, h) / 2 ** coarseLevels > p.coarseSize) coarseLevels++;
  const matchLevels = levelFor(src.voxelSize[0], p.matchNm, w, h);
  coarseLevels = Math.max(coarseLevels, matchLevels);
  const sm = 2 ** matchLevels;
  const mw = Math.ceil(w / sm);
  const mh = Math.ceil(h / sm);
  const patch = Math.min(p.patch, largestPow2(Math.min(mw, mh)));
  const elasticPatch = Math.min(p.elasticPatch, patch);
  const q: AlignParams = { ...p, patch, elasticPatch, stride: Math.min(p.stride, patch), elasticStride: Math.min(p.elasticStride, elasticPatch) };
  const featureLevels = levelFor(src.voxelSize[0], p.featureNm, w, h);
  // the gap level: pixels of about gapNm, with at least two patches across (not levelFor's 128 px floor: coarser is the point)
  let gapLevels = Math.max(0, Math.round(Math.log2(p.gapNm / src.voxelSize[0])));
  while (gapLevels > 0 && Math.min(w, h) / 2 ** gapLevels < 2 * p.gapPatch) gapLevels--;
  const g: Geometry = { w, h, nz, z0, sm, sc: 2 ** coarseLevels, matchLevels, coarseLevels, featureLevels, gapLevels, mw, mh, q };
  const { sections, reports, pairSets } = await chainPass(src, p, g, onStep);
  const good = sections.map((t, i) => (t.status === 'missing' ? -1 : i)).filter((i) => i >= 0);
  const pairs: PairSetReport[] = [];
  if (good.length >= 2 && p.global) {
    // Global affine: all sections at once from the pairs of every section with its neighbours.
    const sol = solveGlobalAffine(nz, pairSets, { model: p.model, maxResidual: p.ransacThreshold * sm, rounds: 4, reference: good[0], w, h, regularise: p.regularise, regulariseTo: p.regulariseTo, regulariseScale: p.regulariseScale ?? undefined, detrend: p.detrend });
    pairSets.forEach((s, k) => {
      let ws = 0;
      for (let n = 0; n < s.p.length / 2; n++) ws += s.w * (s.wp ? s.wp[n] : 1);
      pairs.push({
        j: s.j, z: s.z, source: s.source, pairs: s.p.length / 2, kept: sol.kept[k], weight_sum: +ws.toFixed(3),
        ratio_median: s.r ? +percentile([...s.r], 0.5)!.toFixed(3) : null, residual_median_px: +sol.residualMedian[k].toFixed(3),
      });
    });
    let lastGood: Affine = [...IDENTITY];
    sections.forEach((t, i) => {
      if (t.status === 'missing') sections[i] = { ...t, affine: [...lastGood] };
      else {
        sections[i] = { ...t, affine: sol.affines[i].map((x) => +x.toFixed(8)) as Affine };
        lastGood = sections[i].affine;
      }
    });
  }
  if (p.elastic && good.length >= 2) await elasticPass(src, p, g, sections, reports, onStep);
  carryMissing(sections);
  await qualityPass(src, p, g, sections, reports, onSection, onStep);
  // the elastic guard may have dropped a mesh that a missing section after it carries
  if (p.elasticGuard) carryMissing(sections);
  const transforms: TransformsFile = {
    format: TRANSFORMS_FORMAT,
    version: 1,
    source: { url: src.url, size: [...src.shape] as unknown as Vec3, voxel_offset: [...src.offset] as unknown as Vec3, voxel_size: [...src.voxelSize] as unknown as Vec3 },
    params: { ...p, match_levels: matchLevels, coarse_levels: coarseLevels } as unknown as Record<string, unknown>,
    sections,
  };
  return { transforms, sections: reports, pairs };
}

/** Missing sections carry the previous good section's transform (fill = copy uses it). */
function carryMissing(sections: SectionTransform[]): void {
  let lastT: SectionTransform | null = null;
  sections.forEach((t, i) => {
    if (t.status === 'missing') sections[i] = { z: t.z, status: 'missing', affine: lastT ? [...lastT.affine] : [...IDENTITY], ...(lastT?.mesh ? { mesh: lastT.mesh } : {}) };
    else lastT = t;
  });
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
