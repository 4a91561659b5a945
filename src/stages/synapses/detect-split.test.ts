import { describe, expect, it } from 'vitest';
import { boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { detectOrganelles } from './detect.js';
import { hysteresisObjects } from './objects.js';

describe('organelle split (the carried rule\'s split)', () => {
  it('cuts two touching mitochondria where the pipeline detects them, as the object rule scores them', () => {
    const shape: [number, number, number] = [30, 16, 3];
    const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
    for (const dtype of ['float32', 'uint8'] as const) {
      const map = Volume.zeros(dtype, shape);
      const s = dtype === 'uint8' ? 255 : 1;
      // two 8x8 blobs (p 0.95) touching along a seam at x 12 (p 0.6), in all 3 sections
      for (let z = 0; z < 3; z++) for (let y = 4; y < 12; y++) for (let x = 4; x < 21; x++) map.data[at(x, y, z)] = Math.round((x === 12 ? 0.6 : 0.95) * s * 1000) / 1000;
      const segV = new Volume('uint32', map.box, new Uint32Array(map.voxels).fill(7));
      const b = boxFromShape(shape);
      const base = { threshold: 0.9, lowThreshold: 0.5, minSize: 10, voxelSize: [8, 8, 40] as [number, number, number], bounds: b, kind: 'mitochondrion' as const };
      expect(detectOrganelles(map, segV, b, base).organelles.length).toBe(1);
      const split = detectOrganelles(map, segV, b, { ...base, split: 0.9, splitMinSeed: 20 });
      expect(split.organelles.length).toBe(2);
      expect(split.organelles.map((o) => o.size).reduce((a, c) => a + c, 0)).toBe(17 * 8 * 3);
      expect(split.organelles.every((o) => o.host_root_id === 7n)).toBe(true);
      // the same objects as the object rule the model carries
      const prob = Float32Array.from(map.data as ArrayLike<number>, (v) => v / s);
      expect(hysteresisObjects(prob, shape, { high: 0.9, low: 0.5, minSize: 10, split: 0.9, splitMinSeed: 20 }, 6).count).toBe(2);
    }
  });
});
