import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { dataPath, describeData } from '../../../test/data.js';
import { bilinear, image } from './image.js';
import { matchPatch } from './match.js';
import { phaseCorrelate } from './phase-correlation.js';
import { readSlice } from './testing.js';

const PY = '/usr/bin/python3';
const hasSkimage = spawnSync(PY, ['-c', 'import skimage.registration'], { stdio: 'ignore' }).status === 0;

/** A smooth random texture (sum of blobs), w x h. */
function texture(w: number, h: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(w * h);
  for (let k = 0; k < 300; k++) {
    const cx = r() * w;
    const cy = r() * h;
    const s = 1 + r() * 2;
    const a = r() * 100;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[x + w * y] += a * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s));
  }
  return out;
}

function cut(src: Float32Array, w: number, x0: number, y0: number, n: number): Float32Array {
  const im = image(w, src.length / w, src);
  const out = new Float32Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) out[x + n * y] = bilinear(im, x0 + x, y0 + y);
  return out;
}

describe('phaseCorrelate', () => {
  it('finds shifts of a texture, sign fixed(p) = moving(p + d); matchPatch removes the window bias', () => {
    const w = 160;
    const t = texture(w, w, 1);
    const im = image(w, w, t);
    for (const [dx, dy] of [[3, -5], [0.4, 0.25], [-7.3, 2.6]]) {
      const fixed = cut(t, w, 40, 40, 64);
      const moving = cut(t, w, 40 - dx, 40 - dy, 64); // moving(p + d) = t(40 + p) = fixed(p)
      const r = phaseCorrelate(fixed, moving, 64);
      expect(Math.sign(r.dx)).toBe(Math.sign(dx));
      expect(Math.sign(r.dy)).toBe(Math.sign(dy));
      expect(r.ratio).toBeGreaterThan(3);
      // moving image = t shifted by -d: moving(q) = t(q - d), so fixed = t matches at +d
      const mv = image(w, w, cut(t, w, -dx, -dy, w).map((v) => (v === v ? v : 0)));
      const m = matchPatch(im, mv, 80, 80, { patch: 64, stride: 32, maxShift: 16, minRatio: 2, minStd: 1, rounds: 5 });
      expect(m.valid).toBe(true);
      expect(Math.abs(m.dx - dx)).toBeLessThan(0.05);
      expect(Math.abs(m.dy - dy)).toBeLessThan(0.05);
    }
  });

  it('matchPatch: a patch 40 % outside the moving section is "outside" by default and matched with maxOutside 0.5', () => {
    const w = 160;
    const t = texture(w, w, 4);
    const im = image(w, w, t);
    const [dx, dy] = [2.5, -1.5];
    // the moving section shifted by -d, unimaged (NaN) left of x = 74: 26 of the patch's 64 columns
    const mv = image(w, w, cut(t, w, -dx, -dy, w).map((v, i) => (i % w < 74 || v !== v ? NaN : v)));
    const o = { patch: 64, stride: 32, maxShift: 16, minRatio: 2, minStd: 1, rounds: 5 };
    expect(matchPatch(im, mv, 80, 80, o)).toMatchObject({ valid: false, reason: 'outside' });
    // (the unimaged part counts as the patch mean: its edge lowers the peak ratio, to 1.23 here)
    const m = matchPatch(im, mv, 80, 80, { ...o, minRatio: 1.1, maxOutside: 0.5 });
    expect(m.valid).toBe(true);
    expect(Math.abs(m.dx - dx)).toBeLessThan(0.2);
    expect(Math.abs(m.dy - dy)).toBeLessThan(0.2);
    // more than half outside: not matched even then
    const mv2 = image(w, w, mv.data.map((v, i) => (i % w < 84 ? NaN : v)));
    expect(matchPatch(im, mv2, 80, 80, { ...o, minRatio: 1.1, maxOutside: 0.5 })).toMatchObject({ valid: false, reason: 'outside' });
  });

  it('gives a low peak ratio for unrelated patches', () => {
    const a = texture(64, 64, 2);
    const b = texture(64, 64, 3);
    const r = phaseCorrelate(a, b, 64);
    expect(r.ratio).toBeLessThan(2);
  });

  it('rejects bad patch sizes', () => {
    expect(() => phaseCorrelate(new Float32Array(36), new Float32Array(36), 6)).toThrow(/power of two/);
  });
});

describeData('isbi2012/train/image/0.png', 'phaseCorrelate on ISBI 2012', () => {
  it.skipIf(!hasSkimage)('agrees with scikit-image phase_cross_correlation (upsample 20) on shifted real patches', async () => {
    const { data, w } = await readSlice(dataPath('isbi2012/train/image/0.png'));
    const n = 128;
    const shifts = [[2.35, -4.6], [-11.05, 7.5], [0.5, 0.5]];
    const cases = shifts.map(([dx, dy]) => ({ dx, dy, fixed: Array.from(cut(data, w, 150, 180, n)), moving: Array.from(cut(data, w, 150 - dx, 180 - dy, n)) }));
    const out = spawnSync(PY, ['-c', `import numpy as np, json, sys
from skimage.registration import phase_cross_correlation
res = []
for c in json.loads(sys.stdin.read()):
    a = np.array(c['fixed']).reshape(${n}, ${n}); b = np.array(c['moving']).reshape(${n}, ${n})
    s, _, _ = phase_cross_correlation(a, b, upsample_factor=20)
    res.append([float(-s[1]), float(-s[0])])
print(json.dumps(res))`], { input: JSON.stringify(cases), encoding: 'utf8' });
    const ref = JSON.parse(out.stdout) as number[][];
    cases.forEach((c, i) => {
      const r = phaseCorrelate(c.fixed, c.moving, n);
      // Both within 0.15 px of the truth; scikit-image's is unwindowed, so the two differ slightly.
      expect(Math.abs(r.dx - c.dx)).toBeLessThan(0.15);
      expect(Math.abs(r.dy - c.dy)).toBeLessThan(0.15);
      expect(Math.abs(ref[i][0] - c.dx)).toBeLessThan(0.3);
      expect(Math.abs(ref[i][1] - c.dy)).toBeLessThan(0.3);
    });
  });
});
