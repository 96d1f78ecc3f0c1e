"""The pyPho peak-prominence step, rebuilt from its definition with the same library calls
(scipy.ndimage.maximum_filter, skimage.morphology.reconstruction, scipy.ndimage.binary_propagation)
for side-by-side timing with prom2d.h. pyPhoPlaceCellAnalysis itself is not installable here;
`--check DIR` first proves that this replica gives pyPho's outputs exactly on the reference
(tests/data/prom2d: 200 bins, alphas 0.1/0.5/0.9), so its timing stands for the original's.

    python3 bench/pypho_replica.py --check tests/data/prom2d
    python3 bench/pypho_replica.py --time posterior.npy [--reps 3]
Prints one line of key=value pairs per run.
"""
import argparse
import resource
import time

import numpy as np
from scipy import ndimage
from skimage.morphology import reconstruction

ALPHAS = [0.1, 0.5, 0.9]


def bin_peaks(Z, alphas):
    """One time bin: (coords, prominences, heights) and one bool mask per alpha."""
    masks = [np.zeros(Z.shape, bool) for _ in alphas]
    empty = (np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0))
    if np.isnan(Z).any():
        return empty, masks
    zmin = Z.min()
    peaks = (Z == ndimage.maximum_filter(Z, size=3, mode="nearest")) & (Z > zmin)
    if not peaks.any():
        return empty, masks
    seed = Z.copy()
    seed[peaks] = zmin
    rec = reconstruction(seed, Z, method="dilation")
    coords = np.argwhere(peaks)
    heights = Z[peaks]
    dom = tuple(coords[np.argmax(heights)])
    for m, a in zip(masks, alphas):
        start = np.zeros(Z.shape, bool)
        start[dom] = True
        m[:] = ndimage.binary_propagation(start, mask=Z >= a * Z[dom]) | start
    return (coords, heights - rec[peaks], heights), masks


def run(P, alphas):
    out, masks = [], [np.zeros(P.shape, bool) for _ in alphas]
    for t in range(P.shape[2]):
        tup, ms = bin_peaks(P[:, :, t], alphas)
        out.append(tup)
        for M, m in zip(masks, ms):
            M[:, :, t] = m
    return out, masks


def check(d):
    P = np.load(d + "/posterior_200.npy")
    ref = np.load(d + "/pypho_peaks.npy")
    ref_masks = np.unpackbits(np.load(d + "/pypho_masks_packed.npy"), axis=-1, count=P.shape[2], bitorder="little")
    out, masks = run(P, ALPHAS)
    rows = np.array([[t, c[0], c[1], h, p] for t, (cs, ps, hs) in enumerate(out) for c, p, h in zip(cs, ps, hs)])
    same_peaks = rows.shape == ref[:, :5].shape and np.array_equal(rows[:, :4], ref[:, :4]) and \
        np.allclose(rows[:, 4], ref[:, 4], rtol=1e-12, atol=0)
    same_masks = all(np.array_equal(m, ref_masks[i].astype(bool)) for i, m in enumerate(masks))
    print("bench=pypho_replica check=%s peaks=%d masks_equal=%s" % ("ok" if same_peaks and same_masks else "FAILED",
                                                                  len(rows), same_masks))
    return 0 if same_peaks and same_masks else 1


def timing(path, reps):
    P = np.load(path)
    n_t = P.shape[2]
    times = []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        out, masks = run(P, ALPHAS)
        times.append((time.perf_counter() - t0, time.process_time() - c0))
        n_peaks = sum(len(o[1]) for o in out)
    wall, cpu = sorted(times)[len(times) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    import scipy
    import skimage
    print("bench=pypho_replica bins=%d wall_s=%.3f cpu_s=%.3f us_per_bin=%.1f peaks=%d mask_bytes=%d maxrss_mb=%.1f "
          "input_mb=%.1f versions=numpy-%s,scipy-%s,scikit-image-%s"
          % (n_t, wall, cpu, 1e6 * wall / n_t, n_peaks, sum(m.nbytes for m in masks), rss, P.nbytes / 1048576.0,
             np.__version__, scipy.__version__, skimage.__version__))
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--check")
    ap.add_argument("--time")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    raise SystemExit(check(a.check) if a.check else timing(a.time, a.reps))
