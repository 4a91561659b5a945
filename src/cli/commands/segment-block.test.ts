// `segment --block` on a volume smaller than the block in some axes (issue 21): the block is clamped
// to the volume and the chunk grids of the layers it writes follow, so any --block works.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import type { Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { voronoiBoundaryMap } from '../../stages/segment/testing.js';
import { wiringJsonInProcess } from '../../../test/cli-in-process.js';

const wiring = wiringJsonInProcess;

describe('segment --block larger than the volume in some axes', () => {
  it('segments a 200x100x50 volume with --block 128,128,64 and agrees with a one-block run', async () => {
    const dir = await tempDir('wiring-segblock-');
    const shape: Vec3 = [200, 100, 50];
    const b = path.join(dir, 'b');
    const l = await PrecomputedLayer.create(b, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize: [8, 8, 8], chunkSize: [64, 64, 64] }));
    await l.writeBox(Volume.from('float32', shape, voronoiBoundaryMap(shape, 30, 5, (r) => 0.6 + 0.35 * r()), { voxelSize: [8, 8, 8] }));
    const r = await wiring('segment', '--boundaries', b, '--block', '128,128,64', '--workers', '1', path.join(dir, 'seg'));
    expect(r.segments).toBeGreaterThan(5);
    const one = await wiring('segment', '--boundaries', b, '--block', '256,128,64', '--workers', '1', '--supervoxels-out', path.join(dir, 'sv2'), path.join(dir, 'seg2'));
    expect(one.segments).toBe(r.segments);
  });
});
