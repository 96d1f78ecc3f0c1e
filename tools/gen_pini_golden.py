"""Golden data for PINI (lacuna's representative lesion voxels) in tests/test_stat_stream.c.

    python3 tools/gen_pini_golden.py tests/data/pini

A synthetic connectome of two files (7 and 5 subjects, 40 time points, 160 voxels, offset 1000,
voxel 159 constant) and three lesions: 30 voxels of which some follow a shared signal with weights
that vary over subjects, 4 voxels (more subjects than voxels), and 12 voxels with the constant
one. Per file, lacuna's _extract_lesion_timeseries_pini_batch (lacuna 134a88f,
src/lacuna/analysis/functional_network_mapping.py L849-917) restated in float64: each voxel's r
with the lesion's mean series (nan_to_num), sklearn's PCA(n_components=1) over the subjects,
threshold = np.percentile(|loadings|, 20), keep |loading| >= threshold, seed = mean of the kept
voxels. Then the strict maps over all 12 subjects: mean of atanh(r) and the one-sample t (ddof 1).

Writes ts.npy (12, 40, 160) float32, voxels.npy / offsets.npy (int64), rows.npy (12, 46) (the PCA
input), loadings.npy (2, 46) (sklearn's components_), kept.npy (2, 46) uint8, mean_z.npy and
t.npy (3, 160); for the command line, the same connectome as conn/a.h5 and conn/b.h5 (the ldk
layout, gzip-1 chunks of one subject, the voxels filling an 8 x 5 x 4 grid), each lesion as
lesion_L.npy and its maps as mean_z_L.npy, t_L.npy; atlas.nii, four parcels on that grid (NIfTI-1,
int16, written here byte by byte) for --roi2roi.
"""
import os
import sys

import numpy as np
from sklearn.decomposition import PCA

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(11)
S, T, V = 12, 40, 160
files = [(0, 7), (7, 12)]
lesions = [np.arange(10, 40), np.array([60, 61, 70, 71]), np.r_[np.arange(100, 111), 159]]

signal = rng.standard_normal((S, T))
ts = 1000 + rng.standard_normal((S, T, V))
for s in range(S):
    w = rng.uniform(0.2, 2.0, size=30) * (rng.uniform(size=30) < 0.7)
    ts[s, :, 10:40] += signal[s][:, None] * w[None, :]
    ts[s, :, 60:62] += 0.8 * signal[s][:, None]
    ts[s, :, 100:111] += rng.uniform(0, 1.5) * rng.standard_normal(T)[:, None]
    ts[s, :, 120:130] += 0.6 * signal[s][:, None]  # a region the first lesion's seed finds
ts[:, :, 159] = 1000.5
ts = ts.astype(np.float32)
x = ts.astype(np.float64)


def pini_rows(batch, idx):
    les = batch[:, :, idx]
    mean = les.mean(axis=2)
    mc = mean - mean.mean(axis=1, keepdims=True)
    vc = les - les.mean(axis=1, keepdims=True)
    cov = np.einsum("it,itv->iv", mc, vc)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cov / (np.sqrt((mc ** 2).sum(axis=1))[:, None] * np.sqrt((vc ** 2).sum(axis=1)))
    return np.nan_to_num(r)


rows = np.concatenate([pini_rows(x, idx) for idx in lesions], axis=1)
offsets = np.r_[0, np.cumsum([len(i) for i in lesions])]
loadings = np.zeros((len(files), offsets[-1]))
kept = np.zeros((len(files), offsets[-1]), dtype=np.uint8)
seeds = np.zeros((len(lesions), S, T))
for f, (a, b) in enumerate(files):
    for l, idx in enumerate(lesions):
        m = rows[a:b, offsets[l]:offsets[l + 1]]
        pca = PCA(n_components=1, svd_solver="full").fit(m)
        load = pca.components_[0]
        u, sv, vt = np.linalg.svd(m - m.mean(axis=0), full_matrices=False)
        assert np.allclose(np.abs(vt[0]), np.abs(load), atol=1e-12)
        thr = np.percentile(np.abs(load), 20)
        keep = np.where(np.abs(load) >= thr)[0]
        loadings[f, offsets[l]:offsets[l + 1]] = load
        kept[f, offsets[l] + keep] = 1
        seeds[l, a:b] = x[a:b][:, :, idx[keep]].mean(axis=2)

mean_z = np.zeros((len(lesions), V))
tmap = np.zeros((len(lesions), V))
for l in range(len(lesions)):
    sc = seeds[l] - seeds[l].mean(axis=1, keepdims=True)
    vc = x - x.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.einsum("st,stv->sv", sc, vc) / (np.sqrt((sc ** 2).sum(axis=1))[:, None] * np.sqrt((vc ** 2).sum(axis=1)))
        z = np.arctanh(r)
    mean_z[l] = z.mean(axis=0)
    tmap[l] = mean_z[l] / (z.std(axis=0, ddof=1) / np.sqrt(S))

np.save(os.path.join(out, "ts.npy"), ts)
np.save(os.path.join(out, "voxels.npy"), np.concatenate(lesions).astype(np.int64))
np.save(os.path.join(out, "offsets.npy"), offsets.astype(np.int64))
np.save(os.path.join(out, "rows.npy"), rows)
np.save(os.path.join(out, "loadings.npy"), loadings)
np.save(os.path.join(out, "kept.npy"), kept)
np.save(os.path.join(out, "mean_z.npy"), mean_z)
np.save(os.path.join(out, "t.npy"), tmap)
import h5py  # noqa: E402

os.makedirs(os.path.join(out, "conn"), exist_ok=True)
ijk = np.array(np.unravel_index(np.arange(V), (8, 5, 4), order="F"), dtype=np.int64)
for name, (a, b) in zip(("a", "b"), files):
    with h5py.File(os.path.join(out, "conn", name + ".h5"), "w") as h:
        h.create_dataset("timeseries", data=ts[a:b], chunks=(1, T, V), compression="gzip", compression_opts=1)
        h.create_dataset("mask_indices", data=ijk)
        h.create_dataset("mask_affine", data=np.diag([2.0, 2.0, 2.0, 1.0]))
        h.attrs["n_subjects"], h.attrs["n_timepoints"], h.attrs["n_voxels"] = b - a, T, V
        h.attrs["mask_shape"] = np.array([8, 5, 4], dtype=np.int64)
for l, idx in enumerate(lesions):
    np.save(os.path.join(out, "lesion_%d.npy" % l), idx.astype(np.int64))
    np.save(os.path.join(out, "mean_z_%d.npy" % l), mean_z[l])
    np.save(os.path.join(out, "t_%d.npy" % l), tmap[l])
import struct  # noqa: E402

hdr = bytearray(352)
struct.pack_into("<i", hdr, 0, 348)
struct.pack_into("<8h", hdr, 40, 3, 8, 5, 4, 1, 1, 1, 1)
struct.pack_into("<hh", hdr, 70, 4, 16)  # int16
struct.pack_into("<8f", hdr, 76, 1, 2, 2, 2, 1, 1, 1, 1)
struct.pack_into("<f", hdr, 108, 352.0)
struct.pack_into("<hh", hdr, 252, 1, 1)
struct.pack_into("<12f", hdr, 280, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0)
hdr[344:348] = b"n+1\0"
i, j, k = np.meshgrid(np.arange(8), np.arange(5), np.arange(4), indexing="ij")
labels = np.where(k == 3, 4, np.where(i < 3, 1, np.where(i < 6, 2, 3))).astype("<i2")
with open(os.path.join(out, "atlas.nii"), "wb") as f:
    f.write(bytes(hdr) + labels.tobytes(order="F"))
print("kept per file and lesion:", [[int(kept[f, offsets[l]:offsets[l + 1]].sum()) for l in range(3)] for f in range(2)])
