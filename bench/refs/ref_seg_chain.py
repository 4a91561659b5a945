#!/usr/bin/python3
"""Reference segmentation chain for bench/seg-chain.bench.ts: what a careful ilastik + scikit-image
user runs from raw to a neuron segmentation, with every choice made on the training volume only.

 1. pixel classifier: ilastik-style features (ref_pixel_forest.features, imported: 3-D on isotropic
    stacks, per 2-D section with --dims 2) and a scikit-learn RandomForestClassifier (n_jobs=1,
    seeded) on boundary vs interior voxels of the training volume, the same number per class.
    The target is Wiring's (`train-pixels --gt`, src/stages/predict/training.ts
    classesFromSegmentation): a voxel with a different id among its 6 neighbours (3-D) or 4
    in-section neighbours (2-D), or with id 0, is boundary; the rest interior. With --train-labels
    the classes are label values instead (--boundary-values, --interior-values; others unlabelled),
    as `train-pixels --labels` learns them.
 2. supervoxels: seeded watershed (skimage.segmentation.watershed) of the boundary map smoothed by
    a Gaussian (sigma --seed-sigma, in-section on 2-D stacks), seeds = 'threshold' components of the
    smoothed map below t (smaller than --min-seed-size dropped) or its local 'minima'.
 3. agglomeration by mean boundary (what skimage's rag_boundary + merge_hierarchical with the mean
    boundary weight does, written plainly): the face graph of the supervoxels, a face's value the
    mean of the map at its two voxels, the lowest-mean edge merged first, edge statistics pooled;
    the merge order is recorded once, and cut t = the merges while the lowest mean is <= t.
 4. the seeds (--seed-grid) and the cut (--cuts) are chosen out of fold on the training volume:
    its two halves along --fold-axis (default: z for --mode per-slice, else the longest axis); a
    forest trained on one half predicts the other, whose segmentations at every (seeds, cut) are
    scored (VOI split + merge, gt 0 ignored) against its ground truth; the choice = the lowest mean
    VOI over both halves. Then a forest on the whole training volume predicts the test volume,
    which is segmented with that choice. The test volume is never scored here.

Modes: 3d (3-D watershed and graph), per-slice (each z section on its own; ids unique per section;
ISBI-style), sv2d (2-D watershed per section, 3-D graph; anisotropic stacks of 3-D neurons).
Inputs are .npy (z,y,x). Writes --out (uint32 (z,y,x) segmentation), optionally --out-map
(float32 boundary probability), prints one JSON object (process CPU seconds per step, choice, the
out-of-fold table). Example:
  /usr/bin/python3 ref_seg_chain.py --train-raw a.npy --train-gt ag.npy --test-raw b.npy --dims 3 \
      --mode 3d --trees 50 --n-train 100000 --out seg.npy
"""
import sys, os, json, time, argparse, heapq
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_pixel_forest import features  # noqa: E402


def feature_stack(raw, dims, sigmas):
    if dims == 3:
        return features(raw, sigmas)
    return np.stack([features(raw[z], sigmas) for z in range(raw.shape[0])])


def gt_target(gt, dims):
    """1 boundary, 0 interior (Wiring's --gt target, width 1, id 0 = boundary)."""
    b = gt == 0
    axes = (0, 1, 2) if dims == 3 else (1, 2)
    for a in axes:
        n = gt.shape[a]
        lo = [slice(None)] * 3; hi = [slice(None)] * 3
        lo[a] = slice(0, n - 1); hi[a] = slice(1, n)
        d = gt[tuple(lo)] != gt[tuple(hi)]
        b[tuple(lo)] |= d; b[tuple(hi)] |= d
    return b.astype(np.int8)


def label_target(lab, boundary, interior):
    t = np.full(lab.shape, -1, np.int8)
    t[np.isin(lab, interior)] = 0
    t[np.isin(lab, boundary)] = 1
    return t


def fit(F, target, n_train, trees, seed):
    from sklearn.ensemble import RandomForestClassifier
    y = target.reshape(-1)
    X = F.reshape(-1, F.shape[-1])
    rng = np.random.default_rng(seed); per = n_train // 2
    idx = []
    for c in (0, 1):
        pool = np.flatnonzero(y == c)
        if len(pool) == 0:
            raise SystemExit(f"ref_seg_chain: the training target has no {'boundary' if c else 'interior'} voxel")
        idx.append(rng.choice(pool, min(per, len(pool)), replace=False))
    idx = np.sort(np.concatenate(idx))
    clf = RandomForestClassifier(n_estimators=trees, n_jobs=1, random_state=seed)
    clf.fit(X[idx], y[idx])
    return clf, len(idx)


def predict(clf, F):
    X = F.reshape(-1, F.shape[-1]); out = np.empty(X.shape[0], np.float32)
    col = list(clf.classes_).index(1); step = 1 << 18
    for i in range(0, X.shape[0], step):
        out[i:i + step] = clf.predict_proba(X[i:i + step])[:, col]
    return out.reshape(F.shape[:-1])


def supervoxels(pmap, mode, seeds, sigma, min_seed):
    """Seeded watershed; returns uint32 labels 1..n (3-D, or per section with ids unique over the stack)."""
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed
    from skimage.morphology import local_minima
    kind, t = seeds

    def one(p):
        s = ndi.gaussian_filter(p.astype(np.float64), sigma) if sigma > 0 else p.astype(np.float64)
        if kind == 'threshold':
            m, n = ndi.label(s < t)
            if min_seed > 1 and n:
                sizes = np.bincount(m.ravel())
                keep = sizes >= min_seed; keep[0] = False
                remap = np.zeros(len(sizes), np.int64); remap[keep] = np.arange(1, keep.sum() + 1)
                m = remap[m]
        else:
            m, _ = ndi.label(local_minima(s))
        if m.max() == 0:
            m = np.zeros(p.shape, np.int64); m.flat[int(np.argmin(s))] = 1
        return watershed(s, m).astype(np.uint32)

    if mode == '3d':
        return one(pmap)
    out = np.empty(pmap.shape, np.uint32); base = 0
    for z in range(pmap.shape[0]):
        l = one(pmap[z]); out[z] = l + base; base += int(l.max())
    return out


def face_graph(sv, pmap, mode, face='mean'):
    """Edges (u < v) with the sum and count of face values (mean of the map at the face's two voxels;
    face='max': their max, Wiring's default contact, for bench/refs/ref_seg_swap.py)."""
    n = int(sv.max()) + 1
    us, vs, ws = [], [], []
    axes = (1, 2) if mode == 'per-slice' else (0, 1, 2)
    for a in axes:
        k = sv.shape[a]
        lo = [slice(None)] * 3; hi = [slice(None)] * 3
        lo[a] = slice(0, k - 1); hi[a] = slice(1, k)
        A = sv[tuple(lo)].ravel(); B = sv[tuple(hi)].ravel()
        d = A != B
        w0, w1 = pmap[tuple(lo)].ravel()[d], pmap[tuple(hi)].ravel()[d]
        w = 0.5 * (w0 + w1) if face == 'mean' else np.maximum(w0, w1)
        a_, b_ = A[d].astype(np.int64), B[d].astype(np.int64)
        us.append(np.minimum(a_, b_)); vs.append(np.maximum(a_, b_)); ws.append(w)
    u = np.concatenate(us); v = np.concatenate(vs); w = np.concatenate(ws).astype(np.float64)
    key = u * n + v
    uk, inv = np.unique(key, return_inverse=True)
    s = np.bincount(inv, weights=w); c = np.bincount(inv)
    return n, (uk // n).astype(np.int64), (uk % n).astype(np.int64), s, c


def merge_order(n, u, v, s, c):
    """Greedy mean-boundary agglomeration to the end: [(mean, a, b)] in merge order (a absorbs b)."""
    adj = [dict() for _ in range(n)]
    for a, b, ss, cc in zip(u.tolist(), v.tolist(), s.tolist(), c.tolist()):
        adj[a][b] = [ss, cc]; adj[b][a] = [ss, cc]
    heap = [(ss / cc, a, b) for a, b, ss, cc in zip(u.tolist(), v.tolist(), s.tolist(), c.tolist())]
    heapq.heapify(heap)
    alive = [True] * n; order = []
    while heap:
        m, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]) or b not in adj[a]:
            continue
        e = adj[a][b]
        if e[0] / e[1] != m:
            continue  # stale entry
        if len(adj[a]) < len(adj[b]):
            a, b = b, a
        order.append((m, a, b))
        alive[b] = False
        del adj[a][b]; del adj[b][a]
        for x, (ss, cc) in adj[b].items():
            del adj[x][b]
            if x in adj[a]:
                e2 = adj[a][x]; e2[0] += ss; e2[1] += cc
            else:
                e2 = [ss, cc]; adj[a][x] = e2
            adj[x][a] = e2
            heapq.heappush(heap, (e2[0] / e2[1], min(a, x), max(a, x)))
        adj[b] = {}
    return order


def cut(sv, n, order, t):
    parent = np.arange(n)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]; x = parent[x]
        return x
    for m, a, b in order:
        if m > t:
            break
        parent[find(b)] = find(a)
    root = np.array([find(i) for i in range(n)])
    _, lab = np.unique(root, return_inverse=True)
    return lab.astype(np.uint32)[sv]


def voi(seg, gt):
    """VOI split = H(seg | gt), merge = H(gt | seg), bits, voxels with gt != 0."""
    m = gt != 0
    s = seg[m].astype(np.int64); g = gt[m].astype(np.int64)
    if s.size == 0:
        return float('nan'), float('nan')
    _, si = np.unique(s, return_inverse=True); _, gi = np.unique(g, return_inverse=True)
    _, joint = np.unique(si * (gi.max() + 1) + gi, return_counts=True)
    N = float(s.size)
    def H(cnt):
        p = cnt / N
        return -float(np.sum(p * np.log2(p)))
    hj = H(joint); hs = H(np.bincount(si)); hg = H(np.bincount(gi))
    return hj - hg, hj - hs


def parse_seeds(spec):
    out = []
    for tok in spec.split(','):
        if tok == 'minima':
            out.append(('minima', None))
        elif tok.startswith('threshold:'):
            out.append(('threshold', float(tok.split(':')[1])))
        else:
            raise SystemExit(f"ref_seg_chain: --seed-grid: '{tok}' is neither 'minima' nor 'threshold:<t>'")
    return out


def seeds_name(sd):
    return 'minima' if sd[0] == 'minima' else f'threshold:{sd[1]:g}'


def load(path, what):
    try:
        a = np.load(path)
    except Exception as e:  # noqa: BLE001
        raise SystemExit(f"ref_seg_chain: {what} {path}: cannot read as .npy ({e})")
    if a.ndim != 3:
        raise SystemExit(f"ref_seg_chain: {what} {path}: expected a 3-D (z,y,x) array, got shape {a.shape}")
    return a


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-raw", required=True); ap.add_argument("--train-gt", required=True)
    ap.add_argument("--train-labels"); ap.add_argument("--boundary-values"); ap.add_argument("--interior-values")
    ap.add_argument("--test-raw", required=True); ap.add_argument("--out", required=True); ap.add_argument("--out-map")
    ap.add_argument("--dims", type=int, choices=(2, 3), default=3)
    ap.add_argument("--mode", choices=("3d", "per-slice", "sv2d"), default="3d")
    ap.add_argument("--fold-axis", choices=("x", "y", "z"))
    ap.add_argument("--sigmas", default="0.7,1.6,3.5,5.0")
    ap.add_argument("--n-train", type=int, default=100000); ap.add_argument("--trees", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seed-grid", default="threshold:0.3,threshold:0.5,minima")
    ap.add_argument("--seed-sigma", type=float, default=1.0); ap.add_argument("--min-seed-size", type=int, default=10)
    ap.add_argument("--cuts", default=",".join(f"{t / 100:g}" for t in range(10, 100, 5)))
    a = ap.parse_args()
    sig = [float(s) for s in a.sigmas.split(",")]
    grid = parse_seeds(a.seed_grid); cuts = [float(t) for t in a.cuts.split(",")]
    tr, gt, te = load(a.train_raw, "--train-raw"), load(a.train_gt, "--train-gt"), load(a.test_raw, "--test-raw")
    if tr.shape != gt.shape:
        raise SystemExit(f"ref_seg_chain: --train-gt {a.train_gt}: shape {gt.shape} differs from --train-raw's {tr.shape}")
    if a.train_labels:
        if not (a.boundary_values and a.interior_values):
            raise SystemExit("ref_seg_chain: --train-labels needs --boundary-values and --interior-values")
        lab = load(a.train_labels, "--train-labels")
        if lab.shape != tr.shape:
            raise SystemExit(f"ref_seg_chain: --train-labels {a.train_labels}: shape {lab.shape} differs from --train-raw's {tr.shape}")
        target = label_target(lab, [int(v) for v in a.boundary_values.split(",")], [int(v) for v in a.interior_values.split(",")])
    else:
        target = gt_target(gt, a.dims)
    # a half-section of a 2-D (anisotropic) stack keeps whole sections
    fold = a.fold_axis or ('z' if a.mode == 'per-slice' else 'zyx'[int(np.argmax(tr.shape))])
    ax = 'zyx'.index(fold)
    if tr.shape[ax] < 2:
        raise SystemExit(f"ref_seg_chain: --train-raw {a.train_raw}: fold axis {fold} has {tr.shape[ax]} voxel(s); cannot halve it")
    cpu = {}
    t0 = time.process_time()
    F = feature_stack(tr, a.dims, sig); cpu['train_features'] = time.process_time() - t0
    h = tr.shape[ax] // 2
    halves = [tuple(slice(None) if i != ax else slice(0, h) for i in range(3)), tuple(slice(None) if i != ax else slice(h, None) for i in range(3))]
    table = {}  # (seeds, cut) -> [voi per half]
    cpu['oof_fit'] = cpu['oof_predict'] = cpu['oof_segment'] = 0.0
    for k in (0, 1):
        A, B = halves[k], halves[1 - k]
        t = time.process_time(); clf, _ = fit(F[A], target[A], a.n_train, a.trees, a.seed); cpu['oof_fit'] += time.process_time() - t
        t = time.process_time(); p = predict(clf, F[B]); cpu['oof_predict'] += time.process_time() - t; del clf
        t = time.process_time()
        for sd in grid:
            sv = supervoxels(p, a.mode, sd, a.seed_sigma, a.min_seed_size)
            n, u, v, s, c = face_graph(sv, p, a.mode)
            order = merge_order(n, u, v, s, c)
            for ct in cuts:
                sp, mg = voi(cut(sv, n, order, ct), gt[B])
                table.setdefault((seeds_name(sd), ct), [None, None])[k] = sp + mg
        cpu['oof_segment'] += time.process_time() - t
    best = min(table.items(), key=lambda kv: (sum(kv[1]) / 2, kv[0][1]))
    (chosen_seeds, chosen_cut), chosen_vois = best
    t = time.process_time(); clf, n_samples = fit(F, target, a.n_train, a.trees, a.seed); cpu['fit'] = time.process_time() - t; del F
    t = time.process_time(); Ft = feature_stack(te, a.dims, sig); p = predict(clf, Ft); del Ft; cpu['predict'] = time.process_time() - t
    t = time.process_time()
    sd = parse_seeds(chosen_seeds)[0]
    sv = supervoxels(p, a.mode, sd, a.seed_sigma, a.min_seed_size)
    n, u, v, s, c = face_graph(sv, p, a.mode)
    order = merge_order(n, u, v, s, c)
    seg = cut(sv, n, order, chosen_cut)
    cpu['segment'] = time.process_time() - t
    np.save(a.out, seg.astype(np.uint32))
    if a.out_map:
        np.save(a.out_map, p.astype(np.float32))
    oof = sorted(([name, ct, round(vs[0], 4), round(vs[1], 4)] for (name, ct), vs in table.items()), key=lambda r: r[2] + r[3])
    print(json.dumps({
        "samples": int(n_samples), "trees": a.trees, "dims": a.dims, "mode": a.mode, "fold_axis": fold,
        "chosen": {"seeds": chosen_seeds, "cut": chosen_cut, "oof_voi_halves": [round(x, 4) for x in chosen_vois]},
        "supervoxels": int(n - 1), "segments": int(len(np.unique(seg))),
        "oof_best": oof[:8],
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
    }))


if __name__ == "__main__":
    main()
