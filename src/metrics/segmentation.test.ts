import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHARED_REFS, dataPath, describeData, tempDir } from '../../test/data.js';
import { PY, TESTDATA_REFS, pythonMissing, refScript, referenceJson } from '../../testdata/refs/reference.js';
import type { LabelArray } from '../kernels/components.js';
import { readWhole } from '../stages/segment/io.js';
import { ContingencyAccumulator, contingency, evaluateSegmentation, scoresFromContingency } from './segmentation.js';

// The shared refs' golden values, else the copy committed under testdata/refs/py (same file).
const SHARED_GOLDEN = path.join(SHARED_REFS, 'metrics_golden.json');
const GOLDEN = existsSync(SHARED_GOLDEN) ? SHARED_GOLDEN : path.join(TESTDATA_REFS, 'py', 'metrics_golden.json');
if (GOLDEN !== SHARED_GOLDEN) console.log(`[fixture] metrics golden values: ${SHARED_GOLDEN} not found; using the committed ${GOLDEN}`);
const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Record<string, unknown>;

describe('segmentation metrics', () => {
  it('match metrics_golden.json (VOI, CREMI and skimage ARAND)', () => {
    const gt = Uint32Array.from((golden.gt as number[][][]).flat(2));
    const seg = Uint32Array.from((golden.seg as number[][][]).flat(2));
    const s = evaluateSegmentation(seg, gt);
    const [vs, vm] = golden['skimage_voi(split,merge)'] as number[];
    const [cs, cm] = golden['cremi_voi(split,merge)'] as number[];
    const [are] = golden['skimage_arand(are,prec,rec)'] as number[];
    const [care, cprec, crec] = golden['cremi_arand(are,prec,rec)'] as number[];
    expect(s.voi_split).toBeCloseTo(vs, 14);
    expect(s.voi_merge).toBeCloseTo(vm, 14);
    expect(s.voi_split).toBeCloseTo(cs, 14);
    expect(s.voi_merge).toBeCloseTo(cm, 14);
    expect(s.arand_skimage).toBeCloseTo(are, 14);
    expect(s.arand).toBeCloseTo(care, 14);
    expect(s.arand_precision).toBeCloseTo(cprec, 14);
    expect(s.arand_recall).toBeCloseTo(crec, 14);
    expect(s.gt_segments).toBe(3);
    expect(s.seg_segments).toBe(3);
    expect(s.voxels_evaluated).toBe(10);
    // same values from uint64 ids above 2^53
    const big = BigUint64Array.from(seg, (v) => (v === 0 ? 0n : 864691135639556411n * BigInt(v)));
    const s64 = evaluateSegmentation(big, BigUint64Array.from(gt, (v) => BigInt(v) << 40n));
    expect(s64).toEqual(s);
  });
  it('perfect, all-merged, all-split and empty cases', () => {
    const gt = Uint32Array.from([1, 1, 2, 2, 3, 3]);
    const perfect = evaluateSegmentation(Uint32Array.from([9, 9, 4, 4, 7, 7]), gt);
    expect(perfect.voi_split).toBe(0);
    expect(perfect.voi_merge).toBe(0);
    expect(perfect.arand).toBeCloseTo(0, 15);
    expect(perfect.arand_skimage).toBeCloseTo(0, 15);
    const merged = evaluateSegmentation(new Uint32Array(6).fill(1), gt);
    expect(merged.voi_split).toBe(0);
    expect(merged.voi_merge).toBeCloseTo(Math.log2(3), 14);
    const split = evaluateSegmentation(Uint32Array.from([1, 2, 3, 4, 5, 6]), gt);
    expect(split.voi_split).toBeCloseTo(1, 14);
    expect(split.voi_merge).toBe(0);
    expect(split.arand_skimage).toBe(1);
    const none = evaluateSegmentation(new Uint32Array(4), new Uint32Array(4));
    expect(none.voxels_evaluated).toBe(0);
    expect(none.voi_split).toBe(0);
    expect(() => evaluateSegmentation(new Uint32Array(3), new Uint32Array(4))).toThrow(/same box/);
  });
  it('the one-pass table of small labels gives the same table and scores as the hashed path', () => {
    const n = 30000;
    const gt = new Int32Array(n);
    const seg = new Uint32Array(n);
    let x = 12345;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    for (let i = 0; i < n; i++) {
      gt[i] = Math.floor(i / 700) % 13; // runs, 0 included
      seg[i] = rnd() < 0.2 ? Math.floor(rnd() * 40) : Math.floor(i / 300) % 37;
    }
    seg[5] = 999; // a seg label only where gt = 0 counts as a seg segment
    expect(gt[5]).toBe(0);
    // the same labels shifted above the table limit take the hashed path
    const big = Float64Array.from(seg, (v) => (v === 0 ? 0 : v + 1e7));
    const small = contingency(seg, gt);
    const hashed = contingency(big, gt);
    const triples = (t: ReturnType<typeof contingency>, shift: bigint) =>
      Array.from(t.count, (c, e) => `${t.gtIds[t.gt[e]]},${t.segIds[t.seg[e]] === 0n ? 0n : t.segIds[t.seg[e]] - shift},${c}`).sort();
    expect(triples(small, 0n)).toEqual(triples(hashed, 10000000n));
    expect(small.segIds.length).toBe(hashed.segIds.length);
    const a = evaluateSegmentation(seg, gt);
    const b = evaluateSegmentation(big, gt);
    for (const k of ['voi_split', 'voi_merge', 'arand', 'arand_skimage', 'arand_precision', 'arand_recall'] as const) expect(a[k], k).toBeCloseTo(b[k], 13);
    for (const k of ['gt_segments', 'seg_segments', 'seg_segments_in_gt', 'voxels_evaluated'] as const) expect(a[k], k).toBe(b[k]);
    expect(a.seg_segments).toBe(a.seg_segments_in_gt + 1);
    // uint64 labels: ids below 2^32 take the one-pass table (read as their low words), larger ones the hash
    const seg64 = BigUint64Array.from(seg, (v) => BigInt(v));
    expect(triples(contingency(seg64, gt), 0n)).toEqual(triples(small, 0n));
    const huge = BigUint64Array.from(seg, (v) => (v === 0 ? 0n : BigInt(v) + (1n << 40n)));
    expect(triples(contingency(huge, gt), 1n << 40n)).toEqual(triples(small, 0n));
    expect(evaluateSegmentation(huge, gt).voi_merge).toBeCloseTo(a.voi_merge, 13);
    // negative labels are still an error naming the label
    gt[7] = -2;
    expect(() => evaluateSegmentation(seg, gt)).toThrow(/label -2/);
  });
  it('block by block (ContingencyAccumulator) gives the scores of the whole volume', () => {
    const n = 24000;
    const gt = new Uint32Array(n);
    const seg = new BigUint64Array(n);
    for (let i = 0; i < n; i++) {
      gt[i] = Math.floor(i / 500) % 11;
      seg[i] = i % 7 === 0 ? 0n : BigInt(Math.floor(i / 350) % 23) + (i % 3 === 0 ? 1n << 40n : 0n);
    }
    seg[3] = 999n; // only where gt = 0
    const whole = evaluateSegmentation(seg, gt);
    const acc = new ContingencyAccumulator();
    for (const [a, b] of [[0, 5000], [5000, 5001], [5001, 17000], [17000, n]]) acc.add(seg.subarray(a, b), gt.subarray(a, b));
    const blocks = scoresFromContingency(acc.table());
    for (const k of ['voi_split', 'voi_merge', 'arand', 'arand_skimage', 'arand_precision', 'arand_recall'] as const) expect(blocks[k], k).toBeCloseTo(whole[k], 13);
    for (const k of ['gt_segments', 'seg_segments', 'seg_segments_in_gt', 'voxels_evaluated', 'voxels_total'] as const) expect(blocks[k], k).toBe(whole[k]);
  });
  it('contingency counts every evaluated voxel once', () => {
    const n = 20000;
    const gt = new Uint32Array(n);
    const seg = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      gt[i] = (i * 31) % 97;
      seg[i] = (i * 17) % 1013;
    }
    const t = contingency(seg, gt);
    let sum = 0;
    for (const c of t.count) sum += c;
    expect(sum).toBe(t.evaluated);
    expect(t.evaluated).toBe(gt.filter((v) => v !== 0).length);
  });
});

// Live when Debian's python3 with h5py + scikit-image is here, else the committed fixture
// testdata/refs/metrics-gala-medulla.gz (ref_metrics.py's output on the same files).
const noPy = pythonMissing(['h5py', 'skimage']);

describeData('gala-medulla', 'segmentation metrics on gala-medulla (ws vs gt) vs ref_metrics.py', () => {
  it('agree with the explicit and scikit-image references within 1e-9', async () => {
    const dir = await tempDir();
    let ws: LabelArray | undefined;
    let gt: LabelArray | undefined;
    const r = referenceJson('metrics-gala-medulla', noPy, () => {
      const dump = spawnSync(
        PY,
        ['-c', `import h5py,sys,numpy as np
for name in ('ws','gt'):
    a = h5py.File(sys.argv[1] + '/train-' + name + '.h5','r')['stack'][...]
    a.astype('<u4').tofile(sys.argv[2] + '/' + name + '.raw')
print(','.join(map(str, a.shape)))`, dataPath('gala-medulla'), dir],
        { encoding: 'utf8' },
      );
      expect(dump.status, dump.stderr).toBe(0);
      const shape = dump.stdout.trim();
      const ref = spawnSync(PY, [refScript('ref_metrics.py'), path.join(dir, 'ws.raw'), path.join(dir, 'gt.raw'), '--shape', shape, '--skip', 'cremi,waterz'], { encoding: 'utf8' });
      expect(ref.status, ref.stderr).toBe(0);
      ws = new Uint32Array(readFileSync(path.join(dir, 'ws.raw')).buffer.slice(0));
      gt = new Uint32Array(readFileSync(path.join(dir, 'gt.raw')).buffer.slice(0));
      const out = JSON.parse(ref.stdout);
      return { explicit: out.explicit, skimage: out.skimage };
    });
    if (!ws || !gt) {
      // Without Python, the same stacks read by our own HDF5 reader.
      ws = (await readWhole(`${dataPath('gala-medulla', 'train-ws.h5')}#stack`)).vol.data as LabelArray;
      gt = (await readWhole(`${dataPath('gala-medulla', 'train-gt.h5')}#stack`)).vol.data as LabelArray;
    }
    const s = evaluateSegmentation(ws, gt);
    expect(Math.abs(s.voi_split - r.explicit.voi_split_bits)).toBeLessThan(1e-9);
    expect(Math.abs(s.voi_merge - r.explicit.voi_merge_bits)).toBeLessThan(1e-9);
    expect(Math.abs(s.arand - r.explicit.arand_snemi)).toBeLessThan(1e-9);
    expect(Math.abs(s.arand_skimage - r.explicit.arand_pairs)).toBeLessThan(1e-9);
    expect(Math.abs(s.voi_split - r.skimage.voi_split)).toBeLessThan(1e-9);
    expect(Math.abs(s.voi_merge - r.skimage.voi_merge)).toBeLessThan(1e-9);
    expect(Math.abs(s.arand_skimage - r.skimage.arand)).toBeLessThan(1e-9);
    expect(s.gt_segments).toBe(r.explicit.n_gt_labels);
  });
});
