#!/usr/bin/env python3
"""Reference serial-section alignment with scikit-image, for bench/align.bench.ts.

rigid:   each section registered to the previous good one by phase_cross_correlation
         (upsample_factor 20, Hann-windowed; with --level, on images mean-downsampled to the scale wiring matches
         at: at full resolution neighbouring sections do not correlate), translations chained.
elastic: the same translation, then optical_flow_tvl1 between the previous good raw section and
         the translated section; the dense maps are chained (each pull-back composed with the
         previous one by bilinear map_coordinates).
Blank sections (std < 2, the same rule as wiring's) keep the previous map and are skipped.

Input: float32 raw (z, y, x) C order. Output (stdout, JSON): for every section the pull-back
T_z(p) at grid points p = (x, y), x, y in range(border, size - border, step) (row-major, x
fastest), as [[tx, ty], ...]; CPU seconds of matching and of rendering the aligned stack.
"""
import argparse
import json
import sys
import time

import numpy as np
from scipy import ndimage as ndi
from skimage.registration import optical_flow_tvl1, phase_cross_correlation
from skimage.filters import window
from skimage.transform import downscale_local_mean


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('raw')
    ap.add_argument('--shape', required=True, help='z,y,x')
    ap.add_argument('--mode', choices=['rigid', 'elastic'], required=True)
    ap.add_argument('--step', type=int, default=16)
    ap.add_argument('--border', type=int, default=32)
    ap.add_argument('--level', type=int, default=0, help='phase correlation on images mean-downsampled 2^level times (the scale wiring matches at)')
    a = ap.parse_args()
    nz, h, w = (int(v) for v in a.shape.split(','))
    vol = np.fromfile(a.raw, dtype=np.float32).reshape(nz, h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    maps = []  # per section: (Y, X) dense pull-back
    prev = None  # index of the previous good section
    c0 = time.process_time()
    for z in range(nz):
        if vol[z].std() < 2 or prev is None:
            maps.append(maps[-1] if maps else (yy.copy(), xx.copy()))
            if vol[z].std() >= 2:
                prev = z
            continue
        f = 2 ** a.level
        ca = downscale_local_mean(vol[prev], (f, f)) if f > 1 else vol[prev]
        cb = downscale_local_mean(vol[z], (f, f)) if f > 1 else vol[z]
        # Hann window (as in scikit-image's own examples) so image borders do not dominate
        win = window('hann', ca.shape)
        shift, _, _ = phase_cross_correlation((ca - ca.mean()) * win, (cb - cb.mean()) * win, upsample_factor=20)
        shift = shift * f
        PY, PX = maps[prev]
        if a.mode == 'rigid':
            maps.append((PY - shift[0], PX - shift[1]))
        else:
            moved = ndi.shift(vol[z], shift, order=1, mode='nearest')
            v, u = optical_flow_tvl1(vol[prev], moved)
            # raw_prev(q) ~ raw_z(q + flow(q) - shift), composed with the previous map at q = T_prev(p)
            fv = ndi.map_coordinates(v, [PY, PX], order=1, mode='nearest')
            fu = ndi.map_coordinates(u, [PY, PX], order=1, mode='nearest')
            maps.append((PY + fv - shift[0], PX + fu - shift[1]))
        prev = z
    match_cpu = time.process_time() - c0
    c1 = time.process_time()
    for z in range(nz):
        ndi.map_coordinates(vol[z], [maps[z][0], maps[z][1]], order=1, mode='constant', cval=0)
    render_cpu = time.process_time() - c1
    ys = np.arange(a.border, h - a.border, a.step)
    xs = np.arange(a.border, w - a.border, a.step)
    out = []
    for z in range(nz):
        Y, X = maps[z]
        out.append([[float(X[y, x]), float(Y[y, x])] for y in ys for x in xs])
    json.dump({'mode': a.mode, 'sections': out, 'cpu_seconds': {'match': match_cpu, 'render': render_cpu}}, sys.stdout)


if __name__ == '__main__':
    main()
