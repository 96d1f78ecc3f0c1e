"""gudhi's cubical persistence as the peer of prom2d's exact mode: the prominences of a map's
peaks are the 0-dimensional persistence of its superlevel sets (gudhi on -Z: a peak is born at
its height and dies at its col; the one essential class is the highest peak, which prom2d takes
down to the slice's minimum). Top-dimensional cells that share a corner touch, which is prom2d's
8-connectivity.

    python3 bench/gudhi_peer.py --time posterior.npy [--reps 3]
        times gudhi on every bin of a (n_x, n_y, n_t) cube
    python3 bench/gudhi_peer.py --check posterior.npy peaks.npy
        compares, bin by bin, the multiset of gudhi's prominences with prom2d's (peaks.npy as
        `build/prom2d --peaks-out` writes it: t, ix, iy, height, prominence, col_level)
Prints one line of key=value pairs.
"""
import argparse
import resource
import time

import gudhi
import numpy as np


def prominences(z):
    """The prominences of one map's peaks, descending: finite 0-dim pairs, and the essential one."""
    cc = gudhi.CubicalComplex(top_dimensional_cells=-z)
    out = []
    for dim, (birth, death) in cc.persistence(homology_coeff_field=2, min_persistence=0):
        if dim != 0:
            continue
        p = (z.max() - z.min()) if np.isinf(death) else death - birth
        if p > 0:
            out.append(p)
    return sorted(out, reverse=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--check", nargs=2)
    a = ap.parse_args()
    if a.check:
        cube = np.load(a.check[0])
        peaks = np.load(a.check[1])
        bad = total = 0
        for t in range(cube.shape[2]):
            ours = sorted(peaks[peaks[:, 0] == t, 4].tolist(), reverse=True)
            theirs = prominences(np.ascontiguousarray(cube[:, :, t]))
            total += len(theirs)
            bad += ours != theirs
        print("check=%s bins=%d peaks=%d bins_differing=%d" % ("ok" if bad == 0 else "MISMATCH", cube.shape[2], total, bad))
        return
    cube = np.load(a.time)
    slices = [np.ascontiguousarray(cube[:, :, t]) for t in range(cube.shape[2])]
    best = None
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        n = sum(len(prominences(z)) for z in slices)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or wall < best[0]:
            best = (wall, cpu, n)
    wall, cpu, n = best
    print("bins=%d us_per_bin=%.1f wall_s=%.3f cpu_s=%.3f peaks=%d maxrss_mb=%.1f versions=gudhi-%s,numpy-%s"
          % (len(slices), 1e6 * wall / len(slices), wall, cpu, n,
             resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, gudhi.__version__, np.__version__))


if __name__ == "__main__":
    main()
