"""Golden data for tests/test_stat_stream.c.

    python3 tools/gen_stat_golden.py ../shared/refdata/lnm tests/data/stat

t_pvalues.npy: rows (t, df, p) with p = 2 * scipy.stats.t.sf(|t|, df), over a grid of t and df
(df from 1 to 5000, |t| up to 40). bh.npy: rows (p, q) with q from
scipy.stats.false_discovery_control(p, method='bh') for 500 p-values (a tenth of them tiny).
lnm_*.npy: copied, not recomputed, from the lesion network mapping reference (computed with
numpy/scipy by its compute_reference.py) for lesion L0_block27, voxels 0..999 and the two edge
voxels 4998 and 4999 (4999 constant in every subject, 4998 in one): the subjects' r and strict z
(24, 1002), the three files' partial Welford states (3, 1002) and each policy's maps (1002,).
"""
import os
import sys

import numpy as np
import scipy
import scipy.stats as st

ref, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

rows = []
for df in (1, 2, 3, 5, 7.5, 10, 23, 30, 100, 999, 5000):
    for t in (0, 1e-8, 0.1, 0.5, 1, 1.96, 2.5, 3, 5, 8, 12, 20, 40, -2.2, -7):
        rows.append((t, df, 2 * st.t.sf(abs(t), df)))
np.save(os.path.join(out, "t_pvalues.npy"), np.array(rows, dtype=np.float64))

rng = np.random.default_rng(3)
p = rng.uniform(size=500)
p[::10] = rng.uniform(size=50) * 1e-4
p[7] = p[8]  # a tie
np.save(os.path.join(out, "bh.npy"), np.stack([p, st.false_discovery_control(p, method="bh")], axis=1))

vox = np.r_[np.arange(1000), 4998, 4999]
les = os.path.join(ref, "ref", "L0_block27")


def load(path):
    return np.load(os.path.join(les, path + ".npy"))


np.save(os.path.join(out, "lnm_r_subjects.npy"), np.ascontiguousarray(load("strict/r_subjects")[:, vox]))
np.save(os.path.join(out, "lnm_z_subjects.npy"), np.ascontiguousarray(load("strict/z_subjects")[:, vox]))
for name in ("n_b", "mean_b", "m2_b"):
    np.save(os.path.join(out, "lnm_partial_%s.npy" % name), np.ascontiguousarray(load("partial/" + name)[:, vox]))
for pol in ("strict", "ldk_batch_pop", "lacuna_batch_sample", "ldk_single"):
    names = ("mean_z", "mean_r", "std_z_ddof1", "t") if pol == "strict" else ("mean_z", "mean_r", "std_z", "t")
    for name in names:
        np.save(os.path.join(out, "lnm_%s_%s.npy" % (pol, name)), np.ascontiguousarray(load(pol + "/" + name)[vox]))
print("scipy", scipy.__version__)

# Subject 0's raw time series for the correlation test (file 0, where voxel 4998 is constant), on
# a reduced voxel axis: voxels 0..999, 4998, 4999, then
# lesion L0_block27's 27 voxels (lnm_seed_columns.npy gives their positions on this axis). Needs h5py.
try:
    import glob
    import h5py
    files = sorted(glob.glob(os.path.join(ref, "conn", "*.h5")))
    lesion = np.load(os.path.join(ref, "lesion_L0_block27.npy"))
    cols = np.r_[vox, lesion]
    ts = h5py.File(files[0], "r")["timeseries"][0]
    np.save(os.path.join(out, "lnm_ts_subject0.npy"), np.ascontiguousarray(ts[:, cols], dtype=np.float32))
    np.save(os.path.join(out, "lnm_seed_columns.npy"), np.arange(len(vox), len(cols), dtype=np.int64))
except ImportError:
    print("no h5py: lnm_ts_subject0.npy not written")
