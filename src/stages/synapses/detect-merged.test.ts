// detectSynapses with mergedPartners: a cleft whose two faces lie in one segment (a segmentation that
// merged the partners) is reported with that segment as pre and post and its points on either face.
import { describe, expect, it } from 'vitest';
import { type Box, type Vec3, boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { type SynapseParams, detectSynapses, mergedSegment } from './detect.js';

const A = (1n << 60n) + 1n;
const B = (1n << 60n) + 2n;
const VS: Vec3 = [4, 4, 40];

/** A membrane plane x = 11..12 with a cleft in it; left of it `left`, right of it `right`; a vesicle cloud on one side. */
function scene(left: bigint, right: bigint, vesicleSide: 'left' | 'right' | 'none') {
  const shape: Vec3 = [24, 16, 8];
  const n = shape[0] * shape[1] * shape[2];
  const seg = new BigUint64Array(n), cleft = new Uint8Array(n), ves = new Float32Array(n);
  for (let z = 0, i = 0; z < 8; z++) for (let y = 0; y < 16; y++) for (let x = 0; x < 24; x++, i++) {
    // the membrane is a wall with a hole at y 0..1 when both sides are one segment (a merge joins them somewhere)
    seg[i] = x < 11 ? left : x > 12 ? right : left === right && y < 2 ? left : 0n;
    if (x >= 11 && x <= 12 && y >= 5 && y < 10 && z >= 2 && z < 6) cleft[i] = 230;
    if (y >= 5 && y < 10 && z >= 2 && z < 6) {
      if (vesicleSide === 'left' && x >= 6 && x < 10) ves[i] = 0.9;
      if (vesicleSide === 'right' && x >= 14 && x < 18) ves[i] = 0.9;
    }
  }
  const o = { voxelSize: VS };
  return { shape, seg: Volume.from('uint64', shape, seg, o), cleft: Volume.from('uint8', shape, cleft, o), ves: Volume.from('float32', shape, ves, o) };
}

const params = (b: Box, mergedPartners: boolean): SynapseParams => ({ threshold: 0.5, minSize: 5, vesicleThreshold: 0.5, partnerRadius: 12, vesicleRadius: 40, voxelSize: VS, bounds: b, mergedPartners });

describe('detectSynapses, mergedPartners', () => {
  it('reports a cleft inside one segment with points on either face, pre on the vesicle side', () => {
    for (const side of ['left', 'right'] as const) {
      const v = scene(A, A, side);
      const b = boxFromShape(v.shape);
      const off = detectSynapses({ clefts: v.cleft, segmentation: v.seg, vesicles: v.ves }, b, params(b, false));
      expect(off.synapses.length).toBe(0);
      expect(off.dropped.noPartners).toBe(1);
      const on = detectSynapses({ clefts: v.cleft, segmentation: v.seg, vesicles: v.ves }, b, params(b, true));
      expect(on.synapses.length).toBe(1);
      const s = on.synapses[0];
      expect(s.pre_pt_root_id).toBe(A);
      expect(s.post_pt_root_id).toBe(A);
      const preX = s.pre_pt_position[0] / 4 - 0.5, postX = s.post_pt_position[0] / 4 - 0.5;
      if (side === 'left') {
        expect(preX).toBeLessThan(11);
        expect(postX).toBeGreaterThan(12);
      } else {
        expect(preX).toBeGreaterThan(12);
        expect(postX).toBeLessThan(11);
      }
    }
  });

  it('drops a merged cleft without vesicle evidence, and leaves two distinct partners as they were', () => {
    const none = scene(A, A, 'none');
    const b = boxFromShape(none.shape);
    const r = detectSynapses({ clefts: none.cleft, segmentation: none.seg, vesicles: none.ves }, b, params(b, true));
    expect(r.synapses.length).toBe(0);
    expect(r.dropped.noPartners).toBe(1);
    const two = scene(A, B, 'right');
    const off = detectSynapses({ clefts: two.cleft, segmentation: two.seg, vesicles: two.ves }, b, params(b, false));
    const on = detectSynapses({ clefts: two.cleft, segmentation: two.seg, vesicles: two.ves }, b, params(b, true));
    expect(on.synapses).toEqual(off.synapses);
    expect(on.synapses[0].pre_pt_root_id).toBe(B);
    expect(on.synapses[0].post_pt_root_id).toBe(A);
  });

  it('mergedSegment: the segment with the most contact on both faces, else 0', () => {
    expect(mergedSegment(new Map([[3, { w: 10, wPos: 5 }], [4, { w: 2, wPos: 1 }]]))).toBe(3);
    expect(mergedSegment(new Map([[3, { w: 10, wPos: 9 }], [4, { w: 4, wPos: 0 }]]))).toBe(0);
    expect(mergedSegment(new Map())).toBe(0);
  });
});
