import { describe, expect, it } from 'vitest';
import { boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { detectOrganelles } from './detect.js';

describe('hysteresis thresholds (lowThreshold)', () => {
  it('keeps a faint rim around a bright core, drops faint specks without a core', () => {
    const shape: [number, number, number] = [30, 20, 4];
    const map = Volume.zeros('float32', shape);
    const seg = Volume.zeros('uint32', shape).data.fill(1);
    const segV = new Volume('uint32', map.box, seg);
    const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
    // blob 5x5x2 at (2..6, 2..6, 1..2): core 3x3 at 0.9, rim 0.4
    for (let z = 1; z < 3; z++) for (let y = 2; y < 7; y++) for (let x = 2; x < 7; x++) map.data[at(x, y, z)] = x > 2 && x < 6 && y > 2 && y < 6 ? 0.9 : 0.4;
    // speck 2x2x1 at 0.45 far away
    for (const [x, y] of [[20, 10], [21, 10], [20, 11], [21, 11]]) map.data[at(x, y, 2)] = 0.45;
    const b = boxFromShape(shape);
    const base = { minSize: 1, voxelSize: [4, 4, 40] as [number, number, number], bounds: b, kind: 'mitochondrion' as const };
    const hyst = detectOrganelles(map, segV, b, { ...base, threshold: 0.8, lowThreshold: 0.3 });
    expect(hyst.organelles.length).toBe(1);
    expect(hyst.organelles[0].size).toBe(5 * 5 * 2);
    const low = detectOrganelles(map, segV, b, { ...base, threshold: 0.3 });
    expect(low.organelles.length).toBe(2);
    const high = detectOrganelles(map, segV, b, { ...base, threshold: 0.8 });
    expect(high.organelles.length).toBe(1);
    expect(high.organelles[0].size).toBe(3 * 3 * 2);
    expect(() => detectOrganelles(map, segV, b, { ...base, threshold: 0.3, lowThreshold: 0.5 })).toThrow(/must not exceed/);
  });
});
