"""What the Python binding adds to a call: Pac.filterfit's wall time minus the time pac_run
spent in C (measured inside the extension), on the pac benchmark's shape (64 x 2048 at 512 Hz,
30 x 30 bands), with no surrogates and with 200 (tensorpac's draws made in Python, the surrogates
cube kept as tensorpac keeps it, and without it). One key=value line per configuration: median
and largest of REPS calls, milliseconds. Python's cyclic garbage collector is paused during each
timed call: a collection that happens to fall inside one (4-5 ms here, now and then) is Python's
cost, not the binding's.

    PYTHONPATH=build/python python3 bench/bench_binding.py [REPS]
"""
import gc
import sys
import time

import numpy as np

import membound

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 7
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 2048))
for label, idpac, n_perm, keep in (("no surrogates", (2, 0, 0), 0, True),
                                    ("200 surrogates, cube kept", (2, 2, 4), 200, True),
                                    ("200 surrogates, no cube", (2, 2, 4), 200, False)):
    over, total = [], []
    for _ in range(reps):
        p = membound.Pac(idpac=idpac, f_pha="mres", f_amp="mres")
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        p.filterfit(512.0, x, n_perm=n_perm, random_state=0, n_jobs=2, keep_surrogates=keep)
        wall = time.perf_counter() - t0
        gc.enable()
        over.append(wall - p._c_seconds)
        total.append(wall)
    print("label=%s bench=binding call_ms=%.1f overhead_ms=%.3f overhead_max_ms=%.3f"
          % (label.replace(" ", "_"), 1e3 * np.median(total), 1e3 * np.median(over), 1e3 * max(over)))
