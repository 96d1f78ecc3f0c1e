#!/usr/bin/env python3
"""The peers of bench_lnm: numpy versions of the Python package's batch step, on the same HDF5 files.

    python3 bench/lnm_peer.py MODE DIR       (DIR from build/bench_lnm --make-data DIR)

MODE
  ldk32  the package's streaming batch step: a float32 centred copy of the batch, the lesion series
         centred, einsum("lit,itv->liv", optimize="optimal") for the covariances, r = cov / norms,
         nan_to_num, arctanh, nan_to_num (+-3), float64 sum and sum-of-squares accumulators
  mm32   the same maths with one batched matmul (I,L,T) @ (I,T,V) on pre-normalised lesion rows and the
         batch centred in place (float32), float64 accumulators

Each batch is one file, read whole as the package does (h5py). Prints one key=value line: wall, CPU
(all threads), peak RSS, the time spent reading, and the sum of the mean-z map to compare with
bench_lnm's (policy ldk).
"""
import resource
import sys
import time

import h5py
import numpy as np


def ldk_step(ts, lesions, acc_s, acc_s2):
    les = np.stack([ts[:, :, v].mean(axis=2) for v in lesions], axis=0)        # (L, I, T)
    brain_c = ts - ts.mean(axis=1, keepdims=True)                              # float32 copy
    les_c = (les - les.mean(axis=2, keepdims=True)).astype(np.float32)
    cov = np.einsum("lit,itv->liv", les_c, brain_c, dtype=np.float32, optimize="optimal")
    ls = np.sqrt(np.sum(les_c ** 2, axis=2))
    bs = np.sqrt(np.sum(brain_c ** 2, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cov / (ls[:, :, None] * bs[None, :, :])
        r = np.nan_to_num(r, nan=0.0, posinf=1.0, neginf=-1.0).astype(np.float32)
        z = np.arctanh(r)
    z = np.nan_to_num(z, nan=0.0, posinf=3.0, neginf=-3.0)
    acc_s += z.sum(axis=1, dtype=np.float64)
    acc_s2 += (z.astype(np.float64) ** 2).sum(axis=1)


def mm_step(ts, lesions, acc_s, acc_s2):
    les = np.stack([ts[:, :, v].mean(axis=2) for v in lesions], axis=1)        # (I, L, T)
    les -= les.mean(axis=2, keepdims=True)
    les /= np.sqrt(np.einsum("ilt,ilt->il", les, les))[:, :, None]
    ts -= ts.mean(axis=1, keepdims=True)                                       # in place
    nrm = np.sqrt(np.einsum("itv,itv->iv", ts, ts))
    r = np.matmul(les, ts)                                                     # (I, L, V)
    with np.errstate(divide="ignore", invalid="ignore"):
        r /= nrm[:, None, :]
        np.clip(r, -1.0, 1.0, out=r)
        np.arctanh(r, out=r)
    np.nan_to_num(r, copy=False, nan=0.0, posinf=3.0, neginf=-3.0)
    acc_s += r.sum(axis=0, dtype=np.float64)
    acc_s2 += np.einsum("ilv,ilv->lv", r, r, dtype=np.float64)


def main():
    mode, d = sys.argv[1], sys.argv[2]
    step = {"ldk32": ldk_step, "mm32": mm_step}[mode]
    with open(f"{d}/lesions.txt") as f:
        lesions = [np.array([int(v) for v in line.split()]) for line in f if line.strip()]
    import glob
    files = sorted(glob.glob(f"{d}/*.h5"))
    with h5py.File(files[0], "r") as f:
        _, T, V = f["timeseries"].shape
    L = len(lesions)
    acc_s, acc_s2 = np.zeros((L, V)), np.zeros((L, V))
    n = 0
    t_read = 0.0
    w0, c0 = time.perf_counter(), time.process_time()
    for path in files:
        a = time.perf_counter()
        with h5py.File(path, "r") as f:
            ts = f["timeseries"][:]
        t_read += time.perf_counter() - a
        step(ts, lesions, acc_s, acc_s2)
        n += ts.shape[0]
        del ts
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    mean_z = acc_s / n
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"bench=lnm_peer mode={mode} subjects={n} t={T} v={V} seeds={L} wall_s={wall:.3f} cpu_s={cpu:.3f} "
          f"read_s={t_read:.3f} ms_per_subject={1e3 * wall / n:.2f} maxrss_mb={rss:.1f} "
          f"checksum_mean_z={mean_z.sum():.10g} versions=numpy-{np.__version__},h5py-{h5py.__version__}")


if __name__ == "__main__":
    main()
