/**
 * Rotation-invariant feature matches between two sections, for where phase correlation finds no
 * peak (across a missing section, after a large rotation): difference-of-Gaussian keypoints in
 * scale space (extrema over space and scale, low contrast and edge responses rejected), one
 * dominant gradient orientation per keypoint, a SIFT-like descriptor (4 x 4 cells x 8
 * orientations, rotated to the keypoint's orientation, clipped and normalised), mutual nearest
 * neighbours with Lowe's ratio test. The caller fits a model to the pairs by RANSAC.
 * NaN pixels (outside a warped section) are treated as the image mean; keypoints near them are dropped.
 */
import { gaussianFilter } from '../../kernels/filters.js';
import { type Image2D, image, stats } from './image.js';

export interface FeatureOptions {
  /** Blur of the first scale, px. */
  sigma0: number;
  /** Scales per doubling of sigma. */
  perOctave: number;
  /** Doublings of sigma searched. */
  octaves: number;
  /** |DoG| below this fraction of the image's std is low contrast. */
  contrast: number;
  /** Largest ratio of principal curvatures (edge rejection, as Lowe's r = 10). */
  edgeRatio: number;
  /** Most keypoints kept (strongest |DoG| first). */
  maxKeypoints: number;
  /** Lowe's ratio: nearest / second nearest descriptor distance below this. */
  ratio: number;
}

export const FEATURE_DEFAULTS: FeatureOptions = { sigma0: 1.6, perOctave: 3, octaves: 3, contrast: 0.02, edgeRatio: 10, maxKeypoints: 800, ratio: 0.9 };

export interface Keypoint {
  x: number;
  y: number;
  sigma: number;
  /** Dominant gradient orientation, radians. */
  angle: number;
  /** Signed DoG response (normalised by the image's std). */
  response: number;
}

export interface Features {
  keypoints: Keypoint[];
  /** 128 floats per keypoint, L2-normalised. */
  descriptors: Float32Array;
}

const DESC = 128;

/** Gaussian blur of a section (edges clamped, 3 sigma): the kernels' separable filter. */
export function gaussianBlur(im: Image2D, sigma: number): Image2D {
  return image(im.w, im.h, gaussianFilter(im.data, [im.w, im.h, 1], [sigma, sigma, 0], 0, { mode: 'nearest', truncate: 3 }));
}

/** Keypoints and descriptors of one image. */
export function detectFeatures(src: Image2D, o: FeatureOptions = FEATURE_DEFAULTS): Features {
  const { w, h } = src;
  const st = stats(src.data);
  const std = st.std || 1;
  // normalised copy; NaN (outside) -> 0 (the mean), remembered as a mask
  const base = image(w, h);
  const outside = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) {
    const v = src.data[i];
    if (v !== v) outside[i] = 1;
    else base.data[i] = (v - st.mean) / std;
  }
  const ns = o.perOctave * o.octaves + 3;
  const k = 2 ** (1 / o.perOctave);
  const sig = Array.from({ length: ns }, (_, i) => o.sigma0 * k ** i);
  const blur = sig.map((s) => gaussianBlur(base, s));
  const dog = blur.slice(1).map((b, i) => {
    const d = new Float32Array(w * h);
    for (let p = 0; p < w * h; p++) d[p] = b.data[p] - blur[i].data[p];
    return d;
  });
  // distance (chessboard) to the nearest outside pixel, capped: keypoints need their support inside
  const cand: Keypoint[] = [];
  const thr = o.contrast;
  const er = (o.edgeRatio + 1) ** 2 / o.edgeRatio;
  for (let s = 1; s < dog.length - 1; s++) {
    const d0 = dog[s - 1];
    const d1 = dog[s];
    const d2 = dog[s + 1];
    const margin = Math.ceil(4 * sig[s]);
    for (let y = Math.max(1, margin); y < h - Math.max(1, margin); y++) {
      for (let x = Math.max(1, margin); x < w - Math.max(1, margin); x++) {
        const p = x + w * y;
        const v = d1[p];
        if (Math.abs(v) < thr) continue;
        let ext = true;
        for (let dz = 0; dz < 3 && ext; dz++) {
          const d = dz === 0 ? d0 : dz === 1 ? d1 : d2;
          for (let dy = -1; dy <= 1 && ext; dy++) {
            for (let dx = -1; dx <= 1; dx++) {
              if (dz === 1 && dx === 0 && dy === 0) continue;
              const u = d[p + dx + w * dy];
              if (v > 0 ? u >= v : u <= v) {
                ext = false;
                break;
              }
            }
          }
        }
        if (!ext) continue;
        const dxx = d1[p + 1] + d1[p - 1] - 2 * v;
        const dyy = d1[p + w] + d1[p - w] - 2 * v;
        const dxy = (d1[p + 1 + w] - d1[p - 1 + w] - d1[p + 1 - w] + d1[p - 1 - w]) / 4;
        const tr = dxx + dyy;
        const det = dxx * dyy - dxy * dxy;
        if (det <= 0 || (tr * tr) / det >= er) continue;
        if (nearOutside(outside, w, h, x, y, margin)) continue;
        // subpixel position: parabola through the neighbours along x and y
        const ox = dxx !== 0 ? Math.max(-0.5, Math.min(0.5, -(d1[p + 1] - d1[p - 1]) / (2 * dxx))) : 0;
        const oy = dyy !== 0 ? Math.max(-0.5, Math.min(0.5, -(d1[p + w] - d1[p - w]) / (2 * dyy))) : 0;
        cand.push({ x: x + ox, y: y + oy, sigma: sig[s], angle: 0, response: v });
      }
    }
  }
  cand.sort((a, b) => Math.abs(b.response) - Math.abs(a.response));
  const keypoints: Keypoint[] = [];
  const descs: Float32Array[] = [];
  for (const kp of cand) {
    if (keypoints.length >= o.maxKeypoints) break;
    const s = Math.round(Math.log(kp.sigma / o.sigma0) / Math.log(k));
    const g = blur[Math.min(blur.length - 1, s)];
    const angle = dominantAngle(g, kp);
    if (angle === null) continue;
    const kpa = { ...kp, angle };
    keypoints.push(kpa);
    descs.push(describe(g, kpa));
  }
  const descriptors = new Float32Array(keypoints.length * DESC);
  descs.forEach((d, i) => descriptors.set(d, i * DESC));
  return { keypoints, descriptors };
}

function nearOutside(outside: Uint8Array, w: number, h: number, x: number, y: number, r: number): boolean {
  for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy += Math.max(1, r >> 1)) {
    for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx += Math.max(1, r >> 1)) if (outside[xx + w * yy]) return true;
  }
  return outside[x + w * y] === 1;
}

function grad(g: Image2D, x: number, y: number): [number, number] {
  const { w, h, data } = g;
  const xi = Math.min(w - 2, Math.max(1, x));
  const yi = Math.min(h - 2, Math.max(1, y));
  return [data[xi + 1 + w * yi] - data[xi - 1 + w * yi], data[xi + w * (yi + 1)] - data[xi + w * (yi - 1)]];
}

/** The peak of a 36-bin histogram of gradient orientations weighted by magnitude and a Gaussian of 1.5 sigma (interpolated). */
function dominantAngle(g: Image2D, kp: Keypoint): number | null {
  const hist = new Float64Array(36);
  const s = 1.5 * kp.sigma;
  const r = Math.round(3 * s);
  const cx = Math.round(kp.x);
  const cy = Math.round(kp.y);
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      const [gx, gy] = grad(g, cx + dx, cy + dy);
      const m = Math.hypot(gx, gy) * Math.exp(-(dx * dx + dy * dy) / (2 * s * s));
      const a = Math.atan2(gy, gx);
      hist[(Math.floor(((a + Math.PI) / (2 * Math.PI)) * 36) + 36) % 36] += m;
    }
  }
  // smooth twice
  for (let pass = 0; pass < 2; pass++) {
    const c = Float64Array.from(hist);
    for (let i = 0; i < 36; i++) hist[i] = (c[(i + 35) % 36] + 2 * c[i] + c[(i + 1) % 36]) / 4;
  }
  let best = 0;
  for (let i = 1; i < 36; i++) if (hist[i] > hist[best]) best = i;
  if (!(hist[best] > 0)) return null;
  const l = hist[(best + 35) % 36];
  const rr = hist[(best + 1) % 36];
  const den = l - 2 * hist[best] + rr;
  const off = den !== 0 ? (0.5 * (l - rr)) / den : 0;
  return ((best + 0.5 + off) / 36) * 2 * Math.PI - Math.PI;
}

/** 4 x 4 cells of 8 orientation bins over a window of 4 x 3 sigma per side, rotated to the keypoint's angle; trilinear binning. */
function describe(g: Image2D, kp: Keypoint): Float32Array {
  const d = new Float32Array(DESC);
  const cell = 3 * kp.sigma;
  const half = 2 * cell;
  const r = Math.ceil(half * Math.SQRT2);
  const c = Math.cos(kp.angle);
  const sn = Math.sin(kp.angle);
  const cx = Math.round(kp.x);
  const cy = Math.round(kp.y);
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      // rotate into the keypoint's frame
      const rx = (c * dx + sn * dy) / cell + 1.5;
      const ry = (-sn * dx + c * dy) / cell + 1.5;
      if (rx <= -1 || ry <= -1 || rx >= 4 || ry >= 4) continue;
      const [gx, gy] = grad(g, cx + dx, cy + dy);
      const m = Math.hypot(gx, gy) * Math.exp(-((rx - 1.5) ** 2 + (ry - 1.5) ** 2) / 8);
      let a = Math.atan2(gy, gx) - kp.angle;
      a = ((a % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
      const ro = (a / (2 * Math.PI)) * 8;
      const x0 = Math.floor(rx);
      const y0 = Math.floor(ry);
      const o0 = Math.floor(ro);
      const fx = rx - x0;
      const fy = ry - y0;
      const fo = ro - o0;
      for (let iy = 0; iy < 2; iy++) {
        const yy = y0 + iy;
        if (yy < 0 || yy > 3) continue;
        const wy = iy ? fy : 1 - fy;
        for (let ix = 0; ix < 2; ix++) {
          const xx = x0 + ix;
          if (xx < 0 || xx > 3) continue;
          const wx = ix ? fx : 1 - fx;
          for (let io = 0; io < 2; io++) {
            const oo = (o0 + io) % 8;
            d[(yy * 4 + xx) * 8 + oo] += m * wy * wx * (io ? fo : 1 - fo);
          }
        }
      }
    }
  }
  normalise(d);
  for (let i = 0; i < DESC; i++) d[i] = Math.min(d[i], 0.2);
  normalise(d);
  return d;
}

function normalise(d: Float32Array): void {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i] * d[i];
  s = Math.sqrt(s) || 1;
  for (let i = 0; i < d.length; i++) d[i] /= s;
}

/** Where a keypoint of a is expected in b: shifted by (dx, dy), within `radius` px. */
export interface MatchGuide {
  dx: number;
  dy: number;
  radius: number;
}

/** Nearest and second-nearest descriptor of b for each descriptor of a (squared distances); with `near`, only candidates it admits. */
function nearest2(a: Float32Array, na: number, b: Float32Array, nb: number, near?: (i: number, j: number) => boolean): { idx: Int32Array; d1: Float64Array; d2: Float64Array } {
  const idx = new Int32Array(na).fill(-1);
  const d1 = new Float64Array(na).fill(Infinity);
  const d2 = new Float64Array(na).fill(Infinity);
  for (let i = 0; i < na; i++) {
    const ai = i * DESC;
    for (let j = 0; j < nb; j++) {
      if (near && !near(i, j)) continue;
      const bj = j * DESC;
      let s = 0;
      for (let t = 0; t < DESC; t++) {
        const e = a[ai + t] - b[bj + t];
        s += e * e;
      }
      if (s < d1[i]) {
        d2[i] = d1[i];
        d1[i] = s;
        idx[i] = j;
      } else if (s < d2[i]) d2[i] = s;
    }
  }
  return { idx, d1, d2 };
}

/** Mutual nearest neighbours passing the ratio test: a.keypoints[i] ~ b.keypoints[j]. */
export function matchFeatures(a: Features, b: Features, ratio = FEATURE_DEFAULTS.ratio, guide?: MatchGuide): Array<{ i: number; j: number }> {
  const na = a.keypoints.length;
  const nb = b.keypoints.length;
  if (na < 2 || nb < 2) return [];
  const ka = a.keypoints;
  const kb = b.keypoints;
  const r2g = guide ? guide.radius * guide.radius : 0;
  const near = guide ? (i: number, j: number) => (ka[i].x + guide.dx - kb[j].x) ** 2 + (ka[i].y + guide.dy - kb[j].y) ** 2 <= r2g : undefined;
  const ab = nearest2(a.descriptors, na, b.descriptors, nb, near);
  const ba = nearest2(b.descriptors, nb, a.descriptors, na, near && ((j: number, i: number) => near(i, j)));
  const out: Array<{ i: number; j: number }> = [];
  const r2 = ratio * ratio;
  for (let i = 0; i < na; i++) {
    const j = ab.idx[i];
    if (j < 0 || ba.idx[j] !== i) continue;
    if (ab.d1[i] >= r2 * ab.d2[i]) continue;
    out.push({ i, j });
  }
  return out;
}
