#!/usr/bin/python3
"""The reference chain's segmentation steps (ref_seg_chain.py, imported) one at a time, for
bench/seg-chain-exp-swap.ts: swap its supervoxels or its agglomeration with Wiring's on one fixed map.

  sv     --map m.npy --out sv.npy [--mode 3d|sv2d|per-slice] [--seeds minima|threshold:t] [--seed-sigma 1]
         the reference's supervoxels (skimage seeded watershed of the Gaussian-smoothed map)
  agglo  --map m.npy --sv sv.npy --gt gt.npy [--face mean|max] [--cuts ...] [--mode ...] [--out-seg s.npy --at t]
         the reference's greedy mean-boundary agglomeration of the given supervoxels (face value = mean
         of its two voxels, or their max with --face max); prints {cut: [split, merge]} (VOI bits, gt 0
         ignored) and the merge count

Arrays are .npy (z,y,x). Prints one JSON object.
"""
import sys, os, json, argparse
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_seg_chain as R  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('cmd', choices=('sv', 'agglo'))
    ap.add_argument('--map', required=True); ap.add_argument('--sv'); ap.add_argument('--gt'); ap.add_argument('--out')
    ap.add_argument('--mode', choices=('3d', 'sv2d', 'per-slice'), default='3d')
    ap.add_argument('--seeds', default='minima'); ap.add_argument('--seed-sigma', type=float, default=1.0)
    ap.add_argument('--min-seed-size', type=int, default=10)
    ap.add_argument('--face', choices=('mean', 'max'), default='mean')
    ap.add_argument('--cuts', default=','.join(f'{t / 100:g}' for t in range(10, 100, 5)))
    ap.add_argument('--out-seg'); ap.add_argument('--at', type=float)
    a = ap.parse_args()
    p = R.load(a.map, '--map').astype(np.float32)
    if a.cmd == 'sv':
        if not a.out:
            raise SystemExit('ref_seg_swap: sv needs --out')
        sv = R.supervoxels(p, a.mode, R.parse_seeds(a.seeds)[0], a.seed_sigma, a.min_seed_size)
        np.save(a.out, sv.astype(np.uint32))
        print(json.dumps({'supervoxels': int(sv.max())}))
        return
    if not (a.sv and a.gt):
        raise SystemExit('ref_seg_swap: agglo needs --sv and --gt')
    sv = R.load(a.sv, '--sv').astype(np.int64)
    gt = R.load(a.gt, '--gt')
    if sv.shape != p.shape or gt.shape != p.shape:
        raise SystemExit(f'ref_seg_swap: shapes differ: map {p.shape}, sv {sv.shape}, gt {gt.shape}')
    # dense 1..n (the face graph indexes nodes by id)
    _, inv = np.unique(sv, return_inverse=True)
    sv = inv.reshape(sv.shape).astype(np.int64) + (1 if sv.min() > 0 else 0)
    n, u, v, s, c = R.face_graph(sv, p, a.mode, a.face)
    order = R.merge_order(n, u, v, s, c)
    out = {}
    for t in [float(x) for x in a.cuts.split(',')]:
        sp, mg = R.voi(R.cut(sv, n, order, t), gt)
        out[f'{t:g}'] = [round(sp, 4), round(mg, 4)]
    if a.out_seg:
        np.save(a.out_seg, R.cut(sv, n, order, a.at).astype(np.uint32))
    print(json.dumps({'supervoxels': int(n - 1), 'merges': len(order), 'voi': out}))


if __name__ == '__main__':
    main()
