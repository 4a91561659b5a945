#!/usr/bin/python3
"""Reference for the pipeline bench's predict stage: what an ilastik-style user runs for the same
two maps. ilastik-style 2-D features per section (vigra; the families and sigmas of Wiring's default
stack: ref_pixel_forest.features) computed once per section and fed to two scikit-learn
RandomForestClassifiers (n_jobs=1): the class forest (every labelled class of `wiring classes`:
boundary, cytoplasm, cleft, vesicle, mitochondrion) and the boundary forest (boundary against every
other labelled class; with --train-neurons, the target `train-pixels --gt` learns with 2-D features:
boundary = a voxel whose cell id is 0 or differs from an in-plane 4-neighbour, both voxels of an
interface). Same trees and samples per class as the bench's forests, numpy's seeded RNG.

Inputs .npy (z,y,x): --train-raw, --train-classes (values of `wiring classes`, 0 unlabelled),
--test-raw, optionally --train-neurons / --test-neurons (cell ids: the boundary target and its score as
above); --test-classes (optional) scores both maps of the reference and, with --ours-boundary and
--ours-classes (the bench's own maps, uint8 .npy, (z,y,x) and (c,z,y,x) with --ours-cleft-channel),
ours too: pixel AUC of P(boundary) against the test classes' boundary, and of P(cleft) against its
cleft voxels (the reference's maps also rounded to uint8 as the bench's are, since ties lower a rare
class's AUC). Prints one JSON object: CPU seconds by phase, samples, AUCs.
"""
import argparse, json, os, sys, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_pixel_forest import features  # noqa: E402

BOUNDARY, CLEFT = 1, 3


def balanced(y, classes, per, rng):
    return np.concatenate([rng.choice(np.flatnonzero(y == c), min(per, int((y == c).sum())), replace=False) for c in classes if (y == c).any()])


def boundary_2d(n):
    b = n == 0
    for ax in (1, 2):
        d = np.diff(n, axis=ax) != 0
        lo = [slice(None)] * 3; hi = [slice(None)] * 3
        lo[ax] = slice(None, -1); hi[ax] = slice(1, None)
        b[tuple(lo)] |= d; b[tuple(hi)] |= d
    return b


def auc(score, truth, mask):
    from sklearn.metrics import roc_auc_score
    t, s = truth[mask], score[mask]
    return round(float(roc_auc_score(t, s)), 4) if 0 < t.sum() < t.size else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-raw", required=True); ap.add_argument("--train-classes", required=True)
    ap.add_argument("--test-raw", required=True); ap.add_argument("--test-classes")
    ap.add_argument("--train-neurons"); ap.add_argument("--test-neurons")
    ap.add_argument("--ours-boundary"); ap.add_argument("--ours-classes"); ap.add_argument("--ours-cleft-channel", type=int)
    ap.add_argument("--sigmas", default="0.7,1.6,3.5,5.0")
    ap.add_argument("--n-train", type=int, default=60000); ap.add_argument("--trees", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from sklearn.ensemble import RandomForestClassifier
    sig = [float(s) for s in a.sigmas.split(",")]
    tr, lab, te = np.load(a.train_raw), np.load(a.train_classes), np.load(a.test_raw)
    t0 = time.process_time()
    X = np.concatenate([features(tr[z], sig).reshape(-1, len(sig) * 8) for z in range(tr.shape[0])])
    y = lab.reshape(-1).astype(np.int64)
    t1 = time.process_time()
    rng = np.random.default_rng(a.seed)
    labelled = [c for c in range(1, 6) if (y == c).any()]
    ic = balanced(y, labelled, a.n_train // len(labelled), rng)
    classes = RandomForestClassifier(n_estimators=a.trees, n_jobs=1, random_state=a.seed).fit(X[ic], y[ic])
    t2 = time.process_time()
    if a.train_neurons:
        yb = np.where(boundary_2d(np.load(a.train_neurons)).reshape(-1), 2, 1)
    else:
        yb = np.where(y == 0, 0, np.where(y == BOUNDARY, 2, 1))  # 0 unlabelled, 1 other, 2 boundary
    ib = balanced(yb, [1, 2], a.n_train // 2, rng)
    boundary = RandomForestClassifier(n_estimators=a.trees, n_jobs=1, random_state=a.seed).fit(X[ib], yb[ib])
    t3 = time.process_time(); del X
    pb = np.empty(te.shape, np.float32); pc = np.empty(te.shape, np.float32)
    jb = list(boundary.classes_).index(2); jc = list(classes.classes_).index(CLEFT) if CLEFT in classes.classes_ else None
    tf = tp = 0.0
    for z in range(te.shape[0]):
        c0 = time.process_time()
        f = features(te[z], sig).reshape(-1, len(sig) * 8)
        c1 = time.process_time()
        p = classes.predict_proba(f)  # every class channel, as the stage writes them
        pb[z] = boundary.predict_proba(f)[:, jb].reshape(te.shape[1:])
        if jc is not None: pc[z] = p[:, jc].reshape(te.shape[1:])
        tp += time.process_time() - c1; tf += c1 - c0
    out = {"trees": a.trees, "samples_classes": int(len(ic)), "samples_boundary": int(len(ib)), "sigmas": sig, "voxels": int(te.size),
           "cpu_seconds": {"train_features": round(t1 - t0, 2), "fit_classes": round(t2 - t1, 2), "fit_boundary": round(t3 - t2, 2),
                           "predict_features": round(tf, 2), "predict_forests": round(tp, 2), "predict": round(tf + tp, 2)}}
    if a.test_classes:
        tc = np.load(a.test_classes)
        m = tc > 0
        u8 = lambda q: np.rint(q * 255)  # the bench's maps are uint8 (`--dtype uint8`): ties as ours have them
        tb, mb = (boundary_2d(np.load(a.test_neurons)), np.ones(te.shape, bool)) if a.test_neurons else (tc == BOUNDARY, m)
        out["boundary_target"] = "2-D (in-plane) boundaries of the cells" if a.test_neurons else "the boundary class of `wiring classes`"
        out["auc_boundary_reference"] = auc(pb, tb, mb)
        out["auc_boundary_reference_uint8"] = auc(u8(pb), tb, mb)
        if jc is not None:
            out["auc_cleft_reference"] = auc(pc, tc == CLEFT, m)
            out["auc_cleft_reference_uint8"] = auc(u8(pc), tc == CLEFT, m)
        if a.ours_boundary:
            ob = np.load(a.ours_boundary)
            out["auc_boundary_ours"] = auc(ob.reshape(te.shape).astype(np.float32), tb, mb)
        if a.ours_classes and a.ours_cleft_channel is not None:
            oc = np.load(a.ours_classes)
            out["auc_cleft_ours"] = auc(oc[a.ours_cleft_channel].astype(np.float32), tc == CLEFT, m)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
