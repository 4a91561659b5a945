import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { bilinear, image, nearest } from './image.js';
import { type SectionTransform, pullback } from './transform.js';
import { warpImage } from './warp.js';

describe('warpImage', () => {
  it('samples exactly where pullback says (affine + mesh, inside and outside the node grid, linear and nearest)', () => {
    const r = mulberry32(9);
    const raw = image(80, 70, Float32Array.from({ length: 80 * 70 }, () => 255 * r()));
    for (const [nx, ny] of [[5, 4], [1, 3], [4, 1]]) {
      const t: SectionTransform = {
        z: 0, status: 'ok', affine: [0.99, -0.03, 2.5, 0.03, 1.01, -1.5],
        mesh: { ox: 12.5, oy: 9, stride: 14, nx, ny, u: Array.from({ length: nx * ny }, () => 4 * r() - 2), v: Array.from({ length: nx * ny }, () => 4 * r() - 2) },
      };
      for (const sampling of ['linear', 'nearest'] as const) {
        const out = warpImage(raw, t, -5, 3, 90, 60, sampling, 1, 2);
        const f = sampling === 'nearest' ? nearest : bilinear;
        let worst = 0;
        let nan = 0;
        for (let y = 0; y < 60; y++) {
          for (let x = 0; x < 90; x++) {
            const [sx, sy] = pullback(t, x - 5, y + 3);
            const want = f(raw, sx - 1, sy - 2);
            const got = out.data[x + 90 * y];
            if (Number.isNaN(want)) {
              expect(got).toBeNaN();
              nan++;
            } else worst = Math.max(worst, Math.abs(got - want));
          }
        }
        expect(nan).toBeGreaterThan(0); // part of the output pulls from outside the raw section
        expect(worst).toBeLessThan(1e-3);
      }
    }
  });
});
