"""membound.lnm on the two-file connectome of tests/data/pini: PINI against lacuna's method
(float64 reference), BOES against numpy here, the lesion forms, weights and bad input."""
import os

import numpy as np
import pytest

import membound

D = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "pini")
CONN = os.path.join(D, "conn")
pytestmark = pytest.mark.skipif(not hasattr(membound._membound, "lnm"),
                                reason="this build of membound has no HDF5 (libhdf5-dev): membound.lnm is not built")


def les(l):
    return np.load(os.path.join(D, "lesion_%d.npy" % l))


def close(got, ref, tol):
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert np.max(np.abs(got[ok] - ref[ok]) / np.maximum(np.abs(ref[ok]), 1e-300)) <= tol


def boes_reference(vox, weights=None):
    """strict maps of the weighted-mean seed, in float64 (numpy)"""
    x = np.load(os.path.join(D, "ts.npy")).astype(np.float64)
    w = np.ones(len(vox)) if weights is None else weights
    seed = (x[:, :, vox] * w).sum(axis=2) / w.sum()
    sc = seed - seed.mean(axis=1, keepdims=True)
    vc = x - x.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.einsum("st,stv->sv", sc, vc) / (np.sqrt((sc ** 2).sum(1))[:, None] * np.sqrt((vc ** 2).sum(1)))
        z = np.arctanh(r)
    mean = z.mean(0)
    return mean, mean / (z.std(0, ddof=1) / np.sqrt(len(z)))


def test_pini_equals_lacuna():
    r = membound.lnm(CONN, {"a": les(0), "b": les(1), "c": les(2)}, seed="pini", precision="f64")
    for name, l in (("a", 0), ("b", 1), ("c", 2)):
        close(r[name]["mean_z"], np.load(os.path.join(D, "mean_z_%d.npy" % l)), 1e-10)
        close(r[name]["t"], np.load(os.path.join(D, "t_%d.npy" % l)), 1e-9)
        assert (r[name]["n"] == 12).all()
    assert r["_info"]["n_subjects"] == 12 and list(r["_info"]["file_first"]) == [0, 7, 12]
    assert r["_info"]["n_subjects_bad_voxel"] == 12  # voxel 159 is constant


def test_boes_and_forms():
    info = membound.connectome_info(CONN)
    mean, t = boes_reference(les(0))
    r = membound.lnm(CONN, les(0), precision="f64")["lesion_0"]
    close(r["mean_z"], mean, 1e-10)
    close(r["t"], t, 1e-9)
    np.testing.assert_allclose(r["mean_r"], np.tanh(r["mean_z"]))
    grid = np.zeros(tuple(info["mask_shape"]))  # the same lesion as a mask on the grid
    ijk = info["mask_indices"][:, les(0)]
    grid[ijk[0], ijk[1], ijk[2]] = 1
    np.testing.assert_array_equal(membound.lnm(CONN, [grid], precision="f64")["lesion_0"]["t"], r["t"])
    axis = np.zeros(160)  # weights on the voxel axis
    axis[les(2)] = np.linspace(0.2, 1.0, len(les(2)))
    mean_w, _ = boes_reference(les(2), axis[les(2)])
    close(membound.lnm(CONN, axis, precision="f64")["lesion_0"]["mean_z"], mean_w, 1e-10)
    one = membound.lnm(CONN, axis, binarize=True, precision="f64")["lesion_0"]["mean_z"]
    close(one, boes_reference(les(2))[0], 1e-10)
    f32 = membound.lnm(CONN, les(0), n_threads=2)["lesion_0"]  # float products: r within 2.5e-7 (stat_stream.h)
    assert np.nanmax(np.abs(f32["mean_z"] - mean)) <= 1e-6


RD = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "resample")


@pytest.mark.parametrize("case", ("down2", "flipped", "oblique", "partial", "shift"))
def test_resample_equals_nilearn(case):
    """membound.lnm's resampling against nilearn's resample_to_img (tools/gen_resample_golden.py):
    nearest equal voxel for voxel, linear to 1e-12 (the volumes stored i fastest, as NIfTI)"""
    from membound.lnm import resample
    ld = lambda part: np.load(os.path.join(RD, "%s_%s.npy" % (case, part)))  # noqa: E731
    src_shape, shape = ld("src_shape").astype(int), ld("target_shape").astype(int)
    for part, order, tol in (("mask", 0, 0), ("weights", 1, 1e-12)):
        got = resample(ld(part).reshape(src_shape, order="F"), ld("src_affine"), shape, ld("target_affine"), order)
        ref = ld("nearest" if order == 0 else "linear")
        assert np.max(np.abs(got.ravel(order="F") - ref)) <= tol


class _Image:
    """what lnm reads of a nibabel image"""
    def __init__(self, data, affine):
        self._data, self.affine = data, affine

    def get_fdata(self):
        return self._data


def test_lesion_on_another_grid():
    """a lesion drawn on a grid twice as fine, as an image: resampled (nearest) onto the
    connectome's, it is the same lesion, the same maps; a warning says it was resampled"""
    info = membound.connectome_info(CONN)
    shape, aff = tuple(int(k) for k in info["mask_shape"]), np.asarray(info["affine"])
    grid = np.zeros(shape)
    ijk = info["mask_indices"][:, les(0)]
    grid[ijk[0], ijk[1], ijk[2]] = 1
    fine = grid.repeat(2, 0).repeat(2, 1).repeat(2, 2)  # fine[2 i] = grid[i]
    fine_aff = aff.copy()
    fine_aff[:3, :3] /= 2
    with pytest.warns(UserWarning, match="resampled onto the connectome's .* nearest"):
        r = membound.lnm(CONN, _Image(fine, fine_aff), precision="f64")["lesion_0"]
    np.testing.assert_array_equal(r["t"], membound.lnm(CONN, les(0), precision="f64")["lesion_0"]["t"])
    with pytest.warns(UserWarning, match="linear"):  # weights: trilinear
        membound.lnm(CONN, _Image(fine * 0.5, fine_aff), precision="f64")
    with pytest.raises(membound.ArgumentError, match="singular"):
        membound.lnm(CONN, _Image(fine, np.zeros((4, 4))))


def test_bad_input():
    with pytest.raises(membound.ArgumentError, match="0 .. 159"):
        membound.lnm(CONN, np.array([3, 400]))
    with pytest.raises(membound.ArgumentError, match="grid"):
        membound.lnm(CONN, np.zeros((4, 4, 4)))
    with pytest.raises(membound.ArgumentError, match="weights >= 0"):
        membound.lnm(CONN, np.r_[np.full(10, -1.0), np.zeros(150)])
    with pytest.raises(membound.ArgumentError, match="no voxel"):
        membound.lnm(CONN, np.zeros(160))
    w = np.zeros(160)
    w[les(0)] = 0.5
    with pytest.raises(membound.ArgumentError, match="pini"):
        membound.lnm(CONN, w, seed="pini")
    with pytest.raises(ValueError, match="policy"):
        membound.lnm(CONN, les(0), policy="fast")
    with pytest.raises(membound.ArgumentError, match="no lesion"):
        membound.lnm(CONN, [])
    with pytest.raises(membound.FileError, match="nonexistent"):
        membound.lnm("/nonexistent.h5", les(0))


def test_out_dir_files(tmp_path):
    """out_dir: the lnm program's .npy maps, and NIfTI volumes on the grid (the header's size,
    sform and float32 values read back here)"""
    import struct
    r = membound.lnm(CONN, {"les": les(0)}, precision="f64", out_dir=str(tmp_path))
    info = r["_info"]
    np.testing.assert_array_equal(np.load(tmp_path / "les_t.npy"), r["les"]["t"])
    assert sorted(os.listdir(tmp_path)) == sorted(["les_%s.npy" % m for m in ("mean_z", "mean_r", "avg_r", "std_z", "t", "p", "n")]
                                                  + ["les_%s.nii" % v for v in ("AvgR", "AvgR_Fz", "T", "p")])
    raw = (tmp_path / "les_T.nii").read_bytes()
    dims = struct.unpack_from("<4h", raw, 40)
    assert dims == (3, 8, 5, 4) and struct.unpack_from("<h", raw, 70)[0] == 16 and raw[344:348] == b"n+1\0"
    np.testing.assert_allclose(np.array(struct.unpack_from("<12f", raw, 280)).reshape(3, 4), info["affine"][:3])
    vol = np.frombuffer(raw, "<f4", offset=352).reshape((8, 5, 4), order="F")
    ijk = info["mask_indices"]
    want = np.nan_to_num(r["les"]["t"], nan=0.0).astype(np.float32)
    np.testing.assert_array_equal(vol[ijk[0], ijk[1], ijk[2]], want)
