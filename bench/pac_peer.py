"""The peer of bench/bench_pac.c: tensorpac on the benchmark input, in this one process.

    python3 bench/pac_peer.py input OUT.npy            writes the input: tensorpac's
        pac_signals_wavelet(f_pha=6, f_amp=80, sf=512, n_times=2048, n_epochs=64, noise=0.8,
        rnd_state=0), the signal the reference study timed
    python3 bench/pac_peer.py run X.npy N_PERM REPS [OUT.npy [METHOD]]
        Pac(idpac=(METHOD, 0, 0) or (METHOD, 2, 4), f_pha='mres', f_amp='mres').filterfit(512, x,
        n_perm=N_PERM, n_jobs=1) (METHOD: tensorpac's 1-6, default 2): REPS runs; prints one
        key=value line (median wall and CPU seconds, peak RSS of this process) and saves Pac.pac
        of the last run (the measure before normalisation) unless OUT is '-'

n_jobs=1 keeps all work in this process, so process CPU time is the whole cost.
"""
import resource
import sys
import time

import numpy as np


def main():
    if sys.argv[1] == "input":
        from tensorpac.signals import pac_signals_wavelet
        x, _ = pac_signals_wavelet(f_pha=6., f_amp=80., sf=512., n_times=2048, n_epochs=64, noise=.8, rnd_state=0)
        np.save(sys.argv[2], np.ascontiguousarray(x, dtype=np.float64))
        return
    from tensorpac import Pac
    import tensorpac
    x = np.load(sys.argv[2])
    n_perm, reps = int(sys.argv[3]), int(sys.argv[4])
    method = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    idpac = (method, 2, 4) if n_perm else (method, 0, 0)
    p = Pac(idpac=idpac, f_pha='mres', f_amp='mres', verbose=False)
    walls, cpus = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        mi = p.filterfit(512., x, n_perm=n_perm, n_jobs=1, random_state=0, verbose=False)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if len(sys.argv) > 5 and sys.argv[5] != "-":
        np.save(sys.argv[5], np.ascontiguousarray(p.pac, dtype=np.float64))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("bench=pac_peer tensorpac=%s method=%d n_perm=%d reps=%d wall_s=%.3f best_s=%.3f cpu_s=%.3f maxrss_mb=%.1f"
          % (tensorpac.__version__, method, n_perm, reps, float(np.median(walls)), min(walls), float(np.median(cpus)), rss))


if __name__ == "__main__":
    main()
