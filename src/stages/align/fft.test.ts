import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { fft1d, fft2d } from './fft.js';

const PY = '/usr/bin/python3';
const hasNumpy = spawnSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
if (!hasNumpy) console.warn('[skip] numpy FFT comparison: /usr/bin/python3 with numpy not found');

describe('fft', () => {
  it('matches the direct DFT and inverts', () => {
    const n = 16;
    const r = mulberry32(3);
    const re = Float64Array.from({ length: n }, () => r() - 0.5);
    const im = Float64Array.from({ length: n }, () => r() - 0.5);
    const xr = re.slice();
    const xi = im.slice();
    fft1d(xr, xi, n);
    for (let k = 0; k < n; k++) {
      let sr = 0;
      let si = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * j * k) / n;
        sr += re[j] * Math.cos(a) - im[j] * Math.sin(a);
        si += re[j] * Math.sin(a) + im[j] * Math.cos(a);
      }
      expect(xr[k]).toBeCloseTo(sr, 10);
      expect(xi[k]).toBeCloseTo(si, 10);
    }
    const w = 8;
    const h = 4;
    const a = Float64Array.from({ length: w * h }, () => r());
    const b = new Float64Array(w * h);
    const ar = a.slice();
    fft2d(ar, b, w, h);
    fft2d(ar, b, w, h, true);
    for (let i = 0; i < w * h; i++) expect(ar[i]).toBeCloseTo(a[i], 12);
  });

  it('rejects sizes that are not powers of two', () => {
    expect(() => fft1d(new Float64Array(6), new Float64Array(6), 6)).toThrow(/power of two/);
  });

  it.skipIf(!hasNumpy)('equals numpy.fft.fft2 on a 32x16 image', () => {
    const w = 32;
    const h = 16;
    const r = mulberry32(7);
    const a = Array.from({ length: w * h }, () => Math.round(r() * 255));
    const out = spawnSync(PY, ['-c', `import numpy as np, json, sys
a = np.array(json.loads(sys.stdin.read()), dtype=np.float64).reshape(${h}, ${w})
f = np.fft.fft2(a)
print(json.dumps([f.real.ravel().tolist(), f.imag.ravel().tolist()]))`], { input: JSON.stringify(a), encoding: 'utf8' });
    const [nr, ni] = JSON.parse(out.stdout) as number[][];
    const re = Float64Array.from(a);
    const im = new Float64Array(w * h);
    fft2d(re, im, w, h);
    let err = 0;
    for (let i = 0; i < w * h; i++) err = Math.max(err, Math.abs(re[i] - nr[i]), Math.abs(im[i] - ni[i]));
    expect(err).toBeLessThan(1e-8);
  });
});
