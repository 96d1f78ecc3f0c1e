"""Converts the tensorpac reference outputs (../shared/refdata/pac, computed with tensorpac 0.6.5;
see its scripts/gen_ref.py) into the .npy files tests/test_pacgpu.c reads. Values are copied, not
recomputed. To stay small, the per-epoch arrays keep epochs 0 and 5 of the 8.

    python3 tools/gen_pac_golden.py ../shared/refdata/pac tests/data/pac
"""
import json
import os
import sys

import numpy as np

ref, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
man = json.load(open(os.path.join(ref, "manifest.json")))
EPOCHS = [0, 5]


def load(name):
    f = man["files"][name]
    return np.fromfile(os.path.join(ref, name), f["dtype"]).reshape(f["shape"])


np.save(os.path.join(out, "signal.npy"), load("signal_f64.bin"))
np.save(os.path.join(out, "f_pha.npy"), load("f_pha_f64.bin"))
np.save(os.path.join(out, "f_amp.npy"), load("f_amp_f64.bin"))
np.save(os.path.join(out, "fir_taps.npy"), load("fir_coefs_all_f64.bin"))
np.save(os.path.join(out, "fir_offsets.npy"), np.array(man["filters"]["offsets"], dtype=np.int64))
np.save(os.path.join(out, "fir_orders.npy"), np.array([b["order"] for b in man["filters"]["bands"]], dtype=np.int64))
np.save(os.path.join(out, "mi_tensorpac.npy"), load("mi_tensorpac_200_f64.bin"))
np.save(os.path.join(out, "mi_tort.npy"), load("mi_tort_exact_perseries_f64.bin"))
np.save(os.path.join(out, "surrogates.npy"), load("surrogates_swapblocks_f64.bin"))
np.save(os.path.join(out, "surrogate_cuts.npy"), load("surrogate_cut_points_i64.bin"))
np.save(os.path.join(out, "mi_zscore.npy"), load("mi_zscore_224_f64.bin"))
for name in ("filt_pha", "filt_amp", "pha", "amp"):
    np.save(os.path.join(out, name + "_epochs_0_5.npy"), np.ascontiguousarray(load(name + "_f64.bin")[:, EPOCHS, :]))

# tensorpac's band presets (tensorpac.utils.pac_vec: numpy linspace of the centres, then
# [f - f/4, f + f/4] for phase and [f - f/8, f + f/8] for amplitude), computed with numpy
for name, n in (("lres", 10), ("mres", 30), ("hres", 50), ("demon", 70), ("hulk", 100)):
    fp = np.linspace(2, 20, n)
    fa = np.linspace(60, 160, n)
    np.save(os.path.join(out, "preset_%s.npy" % name),
            np.stack([np.c_[fp - fp / 4., fp + fp / 4.], np.c_[fa - fa / 8., fa + fa / 8.]]))

# tensorpac's p-values of the 20 swap-block surrogates: Pac.infer_pvalues(p=0.05, mcp='maxstat')
np.save(os.path.join(out, "pvalues_maxstat.npy"), load("pvalues_224_f64.bin"))
