#!/usr/bin/python3
"""Reference pixel classifier for bench/accuracy.bench.ts: ilastik-style 2-D features per section
(vigra; per sigma: G, GGM, LoG, DoG (G(s) - G(0.66 s)), structure-tensor eigenvalues (inner 0.5 s,
outer s), Hessian eigenvalues: the families and sigmas of Wiring's default stack) and a
scikit-learn RandomForestClassifier (n_jobs=1), trained on the same number of samples per class
as Wiring's forest, drawn with numpy's seeded RNG.

Inputs are .npy files (z,y,x): --train-raw, --train-labels (class values; --classes lists the
values that are classes, anything else unlabelled), --test-raw. Writes --out (.npy float32
(C,z,y,x), one channel per --outputs class value) and prints one JSON object (timings).
Example:
  /usr/bin/python3 ref_pixel_forest.py --train-raw a.npy --train-labels al.npy --test-raw b.npy \
      --classes 1,2,3 --outputs 2,3 --n-train 60000 --trees 50 --out p.npy
"""
import sys, json, time, argparse
import numpy as np


def features(img, sigmas):
    """The feature stack of a 2-D section (8 channels per sigma) or, given a 3-D array, of the whole
    volume in 3-D (10 per sigma: 3 structure-tensor and 3 Hessian eigenvalues); used by ref_seg_chain.py too."""
    import vigra
    vf = vigra.filters
    img = np.ascontiguousarray(img, np.float32)
    d = img.ndim
    out = np.empty(img.shape + (len(sigmas) * (4 + 2 * d),), np.float32); c = 0
    for s in sigmas:
        g = np.asarray(vf.gaussianSmoothing(img, s))
        out[..., c] = g; out[..., c + 1] = vf.gaussianGradientMagnitude(img, s); out[..., c + 2] = vf.laplacianOfGaussian(img, s); c += 3
        out[..., c] = g - np.asarray(vf.gaussianSmoothing(img, 0.66 * s)); c += 1
        out[..., c:c + d] = vf.structureTensorEigenvalues(img, 0.5 * s, s); c += d
        out[..., c:c + d] = vf.hessianOfGaussianEigenvalues(img, s); c += d
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-raw", required=True); ap.add_argument("--train-labels", required=True)
    ap.add_argument("--test-raw", required=True); ap.add_argument("--out", required=True)
    ap.add_argument("--classes", required=True); ap.add_argument("--outputs", required=True)
    ap.add_argument("--sigmas", default="0.7,1.6,3.5,5.0")
    ap.add_argument("--n-train", type=int, default=100000); ap.add_argument("--trees", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from sklearn.ensemble import RandomForestClassifier
    sig = [float(s) for s in a.sigmas.split(",")]
    classes = [int(v) for v in a.classes.split(",")]; outputs = [int(v) for v in a.outputs.split(",")]
    tr, lab, te = np.load(a.train_raw), np.load(a.train_labels), np.load(a.test_raw)
    t0 = time.process_time()
    F = [features(tr[z], sig) for z in range(tr.shape[0])]
    X = np.concatenate([f.reshape(-1, f.shape[-1]) for f in F]); del F
    y = lab.reshape(-1)
    rng = np.random.default_rng(a.seed); per = a.n_train // len(classes)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), min(per, int((y == c).sum())), replace=False) for c in classes if (y == c).any()])
    clf = RandomForestClassifier(n_estimators=a.trees, n_jobs=1, random_state=a.seed)
    t1 = time.process_time(); clf.fit(X[idx], y[idx]); t2 = time.process_time(); del X
    col = [list(clf.classes_).index(c) for c in outputs]
    out = np.empty((len(outputs),) + te.shape, np.float32)
    for z in range(te.shape[0]):
        f = features(te[z], sig); p = clf.predict_proba(f.reshape(-1, f.shape[-1]))
        for k, ci in enumerate(col): out[k, z] = p[:, ci].reshape(te.shape[1:])
    t3 = time.process_time()
    np.save(a.out, out)
    print(json.dumps({"samples": int(len(idx)), "trees": a.trees, "cpu_seconds": {"train_features": round(t1 - t0, 2), "fit": round(t2 - t1, 2), "predict": round(t3 - t2, 2)}}))


if __name__ == "__main__":
    main()
