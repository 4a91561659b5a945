/**
 * Edge features of the learned agglomeration: what the classifier sees of the contact between two
 * (possibly grown) regions of the current graph.
 *
 * Two sets, chosen by a model's number of features (a model file records the names it was trained
 * with): `basic` (18, the first models) and `rich` (the default since issue #17: boundary-value
 * quantiles and an 8-bin histogram of the contact, contact area, region sizes and supervoxel counts,
 * region boundary means and the contrast of the contact against them, and shape: the share of each
 * region's surface the contact covers and the compactness (surface / size^(2/3)) of both regions and
 * of their union).
 */
import { UsageError } from '../../core/errors.js';
import { type EdgeState, NO_HISTOGRAMS } from './agglomerate.js';
import { histQuantile } from './rag.js';

export const BASIC_EDGE_FEATURES = [
  'mean', 'std', 'min', 'max', 'q10', 'q25', 'q50', 'q75', 'q90',
  'log_area', 'log_size_min', 'log_size_max', 'node_mean_min', 'node_mean_max', 'node_mean_diff',
  'contact_ratio', 'log_count_min', 'log_count_max',
] as const;

const HIST8 = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7'] as const;

export const RICH_EDGE_FEATURES = [
  ...BASIC_EDGE_FEATURES,
  'q05', 'q95', ...HIST8,
  'contrast', 'log_size_sum',
  'contact_share_min', 'contact_share_max', 'compact_min', 'compact_max', 'compact_union', 'compact_gain',
] as const;

export type EdgeFeatureSet = 'basic' | 'rich';
export const EDGE_FEATURE_NAMES: Record<EdgeFeatureSet, readonly string[]> = { basic: BASIC_EDGE_FEATURES, rich: RICH_EDGE_FEATURES };
export const DEFAULT_EDGE_FEATURES: EdgeFeatureSet = 'rich';

/** The feature set of a model with this many features (undefined: none matches). */
export function featureSetOf(nFeatures: number): EdgeFeatureSet | undefined {
  if (nFeatures === BASIC_EDGE_FEATURES.length) return 'basic';
  if (nFeatures === RICH_EDGE_FEATURES.length) return 'rich';
  return undefined;
}

/** Compactness of a region: surface / size^(2/3) (about 4.8 for a ball, more for thin shapes). */
function compact(surface: number, size: number): number {
  return surface / Math.pow(Math.max(1, size), 2 / 3);
}

/** Features of edge e of the current graph into out[offset..offset + length of the set). */
export function computeEdgeFeatures(set: EdgeFeatureSet, s: EdgeState, e: number, out: Float32Array, offset = 0): void {
  const bins = s.rag.bins;
  if (bins === 0) throw new UsageError(NO_HISTOGRAMS);
  const area = s.area[e];
  const mean = s.sum[e] / area;
  const varr = Math.max(0, s.sumSq[e] / area - mean * mean);
  const a = s.u[e];
  const b = s.v[e];
  const sa = s.nodeSize[a];
  const sb = s.nodeSize[b];
  const ma = s.nodeSum[a] / Math.max(1, sa);
  const mb = s.nodeSum[b] / Math.max(1, sb);
  const o = e * bins;
  let k = offset;
  out[k++] = mean;
  out[k++] = Math.sqrt(varr);
  out[k++] = s.min[e];
  out[k++] = s.max[e];
  out[k++] = histQuantile(s.hist, o, bins, area, 0.1);
  out[k++] = histQuantile(s.hist, o, bins, area, 0.25);
  out[k++] = histQuantile(s.hist, o, bins, area, 0.5);
  out[k++] = histQuantile(s.hist, o, bins, area, 0.75);
  out[k++] = histQuantile(s.hist, o, bins, area, 0.9);
  out[k++] = Math.log1p(area);
  out[k++] = Math.log1p(Math.min(sa, sb));
  out[k++] = Math.log1p(Math.max(sa, sb));
  out[k++] = Math.min(ma, mb);
  out[k++] = Math.max(ma, mb);
  out[k++] = Math.abs(ma - mb);
  out[k++] = area / Math.pow(Math.max(1, Math.min(sa, sb)), 2 / 3);
  out[k++] = Math.log1p(Math.min(s.nodeCount[a], s.nodeCount[b]));
  out[k++] = Math.log1p(Math.max(s.nodeCount[a], s.nodeCount[b]));
  if (set === 'basic') return;
  out[k++] = histQuantile(s.hist, o, bins, area, 0.05);
  out[k++] = histQuantile(s.hist, o, bins, area, 0.95);
  // 8-bin histogram of the contact values (fractions of the contact area)
  const per = bins / 8;
  for (let h = 0; h < 8; h++) {
    let c = 0;
    const lo = Math.floor(h * per);
    const hi = Math.floor((h + 1) * per);
    for (let j = lo; j < hi; j++) c += s.hist[o + j];
    out[k++] = area > 0 ? c / area : 0;
  }
  out[k++] = mean - Math.max(ma, mb);
  out[k++] = Math.log1p(sa + sb);
  const fa = area / Math.max(area, s.nodeSurface[a]);
  const fb = area / Math.max(area, s.nodeSurface[b]);
  out[k++] = Math.min(fa, fb);
  out[k++] = Math.max(fa, fb);
  const ca = compact(s.nodeSurface[a], sa);
  const cb = compact(s.nodeSurface[b], sb);
  const cu = compact(Math.max(0, s.nodeSurface[a] + s.nodeSurface[b] - 2 * area), sa + sb);
  out[k++] = Math.min(ca, cb);
  out[k++] = Math.max(ca, cb);
  out[k++] = cu;
  out[k++] = cu - Math.min(ca, cb);
}
