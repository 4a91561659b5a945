#!/usr/bin/python3
"""Reference side of bench/predict-exp-cleft-gap.ts (the cleft AUC gap between Wiring's pixel forest and
scikit-learn's on ilastik-style vigra features). Two commands:

  features --raw a.npy --out a.f32 [--sigmas 0.7,1.6,3.5,5]
      vigra's 2-D feature stack per section (ref_pixel_forest.features: the families, sigmas and channel
      order of Wiring's default 2-D stack), written channel-major float32 (C, z, y, x), as Wiring's
      computeFeatures lays a stack out.
  forests --dir D
      reads D/exp.json (written by the TS side: shapes, the training sample indices and classes, the
      feature sets, the bin edges Wiring's forest used, and the scikit-learn variants to run), fits each
      scikit-learn variant on the same samples, predicts the test volume's cleft channel, then scores
      every map in D/maps/*.f32 (Wiring's and these) against the test classes: pixel AUC of the cleft
      class among labelled voxels, as float and rounded to uint8 as `--dtype uint8` writes it.
      Prints one JSON object.

scikit-learn variants ("sk:<features>:<scheme>"): scheme `plain` = RandomForestClassifier as the pipeline
bench's reference fits it (bootstrap of the training set's size); `binned` = the same on the features
replaced by their bin index under Wiring's bin edges (the 255 quantile thresholds of its forest);
`weighted` = the plain bootstrap with
class_weight="balanced_subsample" (every class weighs the same in each tree, no sample repeated for it);
`balanced` = Wiring's balanced bootstrap (every tree draws round(n / K) samples of every class with
replacement) under scikit-learn's trees (DecisionTreeClassifier, max_features sqrt, one per tree, the
mean of their leaf distributions).
"""
import argparse, json, os, sys, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CLEFT = 3


def cmd_features(a):
    from ref_pixel_forest import features
    raw = np.load(a.raw)
    sig = [float(s) for s in a.sigmas.split(",")]
    z, y, x = raw.shape
    C = len(sig) * 8
    out = np.empty((C, z, y, x), np.float32)
    t = time.process_time()
    for k in range(z):
        out[:, k] = np.moveaxis(features(raw[k], sig), -1, 0)
    out.tofile(a.out)
    print(json.dumps({"channels": C, "shape": [z, y, x], "cpu_seconds": round(time.process_time() - t, 2)}))


def load_f32(path, shape):
    return np.fromfile(path, np.float32).reshape(shape)


def auc(score, truth):
    from sklearn.metrics import roc_auc_score
    return round(float(roc_auc_score(truth, score)), 4)


def cmd_forests(a):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier
    e = json.load(open(os.path.join(a.dir, "exp.json")))
    C, ntr, nte = e["channels"], e["train_voxels"], e["test_voxels"]
    idx = np.fromfile(os.path.join(a.dir, "samples.i32"), np.int32)
    y = np.fromfile(os.path.join(a.dir, "samples.u8"), np.uint8).astype(np.int64)
    classes = sorted(set(y.tolist()))
    out = {"variants": {}}
    os.makedirs(os.path.join(a.dir, "maps"), exist_ok=True)
    for v in e["sklearn"]:
        _, feats, scheme, seed = v.split(":")
        seed = int(seed)
        name = v.replace(":", "_")
        dest = os.path.join(a.dir, "maps", name + ".f32")
        if os.path.exists(dest):
            continue
        tr = load_f32(os.path.join(a.dir, f"train-{feats}.f32"), (C, ntr))
        X = np.ascontiguousarray(tr[:, idx].T)
        del tr
        edges = None
        if scheme == "binned":
            edges = [np.fromfile(os.path.join(a.dir, f"edges-{feats}-{f}.f32"), np.float32) for f in range(C)]
            X = np.stack([np.searchsorted(edges[f], X[:, f], side="left") for f in range(C)], 1).astype(np.float32)
        t0 = time.process_time()
        if scheme in ("plain", "binned", "weighted"):
            cw = "balanced_subsample" if scheme == "weighted" else None
            models = [RandomForestClassifier(n_estimators=e["trees"], n_jobs=1, random_state=seed, class_weight=cw).fit(X, y)]
        elif scheme == "balanced":
            rng = np.random.default_rng(seed)
            per = round(len(y) / len(classes))
            by = [np.flatnonzero(y == c) for c in classes]
            models = []
            for t in range(e["trees"]):
                s = np.concatenate([b[rng.integers(0, len(b), per)] for b in by])
                models.append(DecisionTreeClassifier(max_features="sqrt", random_state=int(rng.integers(1 << 30))).fit(X[s], y[s]))
        else:
            raise SystemExit(f"unknown scheme {scheme}")
        fit = time.process_time() - t0
        te = load_f32(os.path.join(a.dir, f"test-{feats}.f32"), (C, nte))
        p = np.empty(nte, np.float32)
        step = 1 << 18
        t1 = time.process_time()
        for s0 in range(0, nte, step):
            xs = np.ascontiguousarray(te[:, s0:s0 + step].T)
            if edges is not None:
                xs = np.stack([np.searchsorted(edges[f], xs[:, f], side="left") for f in range(C)], 1).astype(np.float32)
            acc = np.zeros(len(xs), np.float64)
            for m in models:
                pr = m.predict_proba(xs)
                acc += pr[:, list(m.classes_).index(CLEFT)] if CLEFT in m.classes_ else 0
            p[s0:s0 + step] = acc / len(models)
        del te
        p.tofile(dest)
        out["variants"][name] = {"fit_cpu_s": round(fit, 2), "predict_cpu_s": round(time.process_time() - t1, 2),
                                 "nodes": int(sum(t.tree_.node_count for m in models for t in (m.estimators_ if hasattr(m, "estimators_") else [m])))}
    tc = np.fromfile(os.path.join(a.dir, "test-classes.u8"), np.uint8)
    m = tc > 0
    truth = (tc == CLEFT)[m]
    scores = {}
    for f in sorted(os.listdir(os.path.join(a.dir, "maps"))):
        p = np.fromfile(os.path.join(a.dir, "maps", f), np.float32)[m]
        scores[f[:-4]] = {"auc": auc(p, truth), "auc_uint8": auc(np.rint(p * 255), truth)}
    out["scores"] = scores
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("features"); f.add_argument("--raw", required=True); f.add_argument("--out", required=True)
    f.add_argument("--sigmas", default="0.7,1.6,3.5,5.0")
    g = sub.add_parser("forests"); g.add_argument("--dir", required=True)
    a = ap.parse_args()
    cmd_features(a) if a.cmd == "features" else cmd_forests(a)


if __name__ == "__main__":
    main()
