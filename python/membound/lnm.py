"""Lesion network mapping over a normative connectome, streamed subject by subject (stat_stream.h)."""
import os
import struct
import warnings
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np

from . import _membound

_POLICIES = {"strict": 0, "ldk": 1, "lacuna": 2, "ldk_single": 3}
Lesion = Union[str, np.ndarray, Any]


def connectome_info(connectome: str) -> Dict[str, Any]:
    """A connectome's sizes (n_subjects, n_timepoints, n_voxels), its mask (mask_indices, 3 x n_voxels),
    affine, grid (mask_shape) and files (file_first: file f holds subjects file_first[f] ..
    file_first[f + 1] - 1)."""
    _need_hdf5()
    return _membound.h5_info(os.fspath(connectome))


def write_nifti(path: str, volume: np.ndarray, affine: np.ndarray) -> None:
    """A 3-D volume as a NIfTI-1 file (float32, the affine as its sform; NaN written as 0), the
    layout the lnm program writes: no nibabel needed."""
    vol = np.nan_to_num(np.asarray(volume, dtype=np.float64), nan=0.0).astype("<f4")
    aff = np.asarray(affine, dtype=np.float64)
    hdr = bytearray(352)
    struct.pack_into("<i", hdr, 0, 348)
    struct.pack_into("<8h", hdr, 40, 3, *vol.shape, 1, 1, 1, 1)
    struct.pack_into("<hh", hdr, 70, 16, 32)  # float32
    struct.pack_into("<8f", hdr, 76, 1.0, *np.sqrt((aff[:3, :3] ** 2).sum(0)), 1.0, 1.0, 1.0, 1.0)
    struct.pack_into("<ff", hdr, 108, 352.0, 1.0)  # vox_offset, scl_slope
    hdr[123] = 10  # mm
    struct.pack_into("<hh", hdr, 252, 0, 1)  # qform none, sform scanner
    struct.pack_into("<12f", hdr, 280, *aff[:3].reshape(-1))
    hdr[344:348] = b"n+1\0"
    with open(path, "wb") as f:
        f.write(bytes(hdr) + vol.tobytes(order="F"))


def _write_maps(out_dir: str, name: str, maps: Dict[str, np.ndarray], info: Dict[str, Any]) -> None:
    """The lnm program's files of one lesion: NAME_{mean_z,mean_r,avg_r,std_z,t,p,n}.npy on the
    voxel axis, NAME_{AvgR,AvgR_Fz,T,p}.nii on the grid (0 outside the mask)"""
    os.makedirs(out_dir, exist_ok=True)
    for m in ("mean_z", "mean_r", "avg_r", "std_z", "t", "p", "n"):
        np.save(os.path.join(out_dir, "%s_%s.npy" % (name, m)), maps[m])
    ijk = info["mask_indices"]
    for suffix, m in (("AvgR", "avg_r"), ("AvgR_Fz", "mean_z"), ("T", "t"), ("p", "p")):
        vol = np.zeros(tuple(int(k) for k in info["mask_shape"]))
        vol[ijk[0], ijk[1], ijk[2]] = maps[m]
        write_nifti(os.path.join(out_dir, "%s_%s.nii" % (name, suffix)), vol, info["affine"])


def _need_hdf5() -> None:
    if not hasattr(_membound, "lnm"):
        raise _membound.UnsupportedError("this build of membound has no HDF5: install HDF5's C library (Debian: "
                                         "libhdf5-dev) and reinstall membound")


def resample(data: np.ndarray, src_affine: np.ndarray, shape: Sequence[int], affine: np.ndarray,
             order: int = 0) -> np.ndarray:
    """A 3-D volume on its grid (src_affine) resampled onto another (shape, affine) as nilearn's
    resample_to_img does it (scipy's affine_transform): ``order`` 0 nearest (for masks), 1
    trilinear (for weights); 0 outside the volume, NaN read as 0. The lnm program's resampling,
    in numpy (both tested against nilearn's own output)."""
    if order not in (0, 1):
        raise ValueError("order must be 0 (nearest) or 1 (linear), not %r" % (order,))
    src = np.nan_to_num(np.asarray(data, dtype=np.float64).reshape(np.shape(data)[:3]), nan=0.0)
    try:
        m = np.linalg.inv(np.asarray(src_affine, dtype=np.float64)) @ np.asarray(affine, dtype=np.float64)
    except np.linalg.LinAlgError:
        raise _membound.ArgumentError("the image's affine is singular") from None
    n = np.array(src.shape)
    ijk = np.indices(tuple(int(k) for k in shape), dtype=np.float64).reshape(3, -1)
    x = m[:3, :3] @ ijk + m[:3, 3:4]  # each target voxel's position in the image's voxels
    inside = np.all((x >= 0) & (x <= (n - 1)[:, None]), axis=0)
    out = np.zeros(x.shape[1])
    xi = x[:, inside]
    if order == 0:
        p = np.floor(xi + 0.5).astype(np.int64)
        out[inside] = src[p[0], p[1], p[2]]
    else:  # trilinear; a neighbour past the last index has weight 0
        f = np.floor(xi).astype(np.int64)
        w = xi - f
        v = np.zeros(xi.shape[1])
        for c in range(8):
            up = np.array([(c >> d) & 1 for d in range(3)])[:, None]
            q = f + up
            wt = np.prod(np.where(up == 1, w, 1 - w), axis=0)
            ok = (wt != 0) & np.all(q < n[:, None], axis=0)
            v[ok] += wt[ok] * src[q[0, ok], q[1, ok], q[2, ok]]
        out[inside] = v
    return out.reshape(tuple(int(k) for k in shape))


def _grid_values(img: Any, info: Dict[str, Any], binarize: bool = False, name: str = "a lesion image") -> np.ndarray:
    """a nibabel-like image's (or a 3-D array's) values at the connectome's mask voxels; an image
    on another grid is resampled onto the connectome's first, as the lnm program does"""
    data, affine = (np.asarray(img.get_fdata()), np.asarray(img.affine)) if hasattr(img, "get_fdata") else (img, None)
    shape = tuple(int(k) for k in info["mask_shape"])
    if affine is None and data.shape[:3] != shape:
        raise _membound.ArgumentError(
            "a lesion array of shape %s is not on the connectome's grid %s: give an image (its affine says where it "
            "lies, and it is resampled) or resample it first" % (data.shape, shape))
    if affine is not None and (data.shape[:3] != shape or not np.allclose(affine, info["affine"])):
        data = np.asarray(data, dtype=np.float64)
        if binarize:
            data = np.where((data != 0) & ~np.isnan(data), 1.0, data)
        binary = bool(np.all((data == 0) | (data == 1) | np.isnan(data)))
        src_shape = data.shape[:3]
        data = resample(data, affine, shape, np.asarray(info["affine"]), 0 if binary else 1)
        warnings.warn("%s: on another grid %s, resampled onto the connectome's %s with %s interpolation, as nilearn's "
                      "resample_to_img" % (name, src_shape, shape, "nearest" if binary else "linear"))
    ijk = info["mask_indices"]
    return np.asarray(data, dtype=np.float64).reshape(shape)[ijk[0], ijk[1], ijk[2]]


def _lesion(les: Lesion, info: Dict[str, Any], binarize: bool):
    """(voxel positions, weights or None) of a lesion in any accepted form"""
    n_v = int(info["n_voxels"])
    name = os.fspath(les) if isinstance(les, (str, os.PathLike)) else "a lesion image"
    if isinstance(les, (str, os.PathLike)):
        path = os.fspath(les)
        if path.endswith(".npy"):
            les = np.load(path)
        else:
            try:
                import nibabel
            except ImportError:
                raise ImportError("reading %s needs nibabel (pip install nibabel), or give an array" % path) from None
            les = nibabel.load(path)
    if not hasattr(les, "get_fdata"):
        les = np.asarray(les)
    if hasattr(les, "get_fdata") or les.ndim == 3:
        values = _grid_values(les, info, binarize, name)
    elif les.ndim == 1 and np.issubdtype(les.dtype, np.integer):
        vox = np.unique(les.astype(np.int64))
        if len(vox) == 0 or vox[0] < 0 or vox[-1] >= n_v:
            raise _membound.ArgumentError("a lesion's voxel positions must lie in 0 .. %d (the connectome's voxels)" % (n_v - 1))
        return vox, None
    elif les.ndim == 1 and len(les) == n_v:
        values = les.astype(np.float64)
    else:
        raise _membound.ArgumentError("a lesion is voxel positions (1-D integers), values on the voxel axis (%d), a 3-D "
                                      "array on the connectome's grid, an image or a path" % n_v)
    values = np.where(np.isnan(values), 0.0, values)
    vox = np.nonzero(values)[0].astype(np.int64)
    if len(vox) == 0:
        raise _membound.ArgumentError("a lesion has no voxel inside the connectome's mask")
    w = values[vox]
    if binarize or np.all(w == 1):
        return vox, None
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise _membound.ArgumentError("a lesion's values are weights >= 0 (a probability map); binarize=True gives every "
                                      "nonzero voxel weight 1")
    return vox, w


def lnm(connectome: Union[str, os.PathLike], lesions: Union[Lesion, Sequence[Lesion], Mapping[str, Lesion]],
        policy: str = "strict", seed: str = "boes", pini_percentile: float = 20.0, precision: str = "f32",
        binarize: bool = False, n_threads: int = 0, out_dir: Optional[str] = None, *, progress: Any = None,
        pool: Any = None) -> Dict[str, Dict[str, np.ndarray]]:
    """Lesion network mapping: every lesion's seed series correlated with every voxel of every
    subject, Fisher z, reduced over the subjects as they stream (memory independent of them).

    Parameters
    ----------
    connectome : path
        An HDF5 connectome in the lacuna/ldk layout (/timeseries (subjects, time, voxels),
        /mask_indices, /mask_affine, mask_shape), or a directory of them.
    lesions : lesion, sequence or dict of lesions
        Each: voxel positions on the connectome's voxel axis (1-D integers), values on that axis,
        a 3-D array on the connectome's grid or a nibabel image (nonzero = lesion; values other
        than 1 weight the seed's mean; an image on another grid is resampled onto the
        connectome's as the lnm program and nilearn's resample_to_img do: nearest for a mask,
        linear for weights, with a warning), or a path to a .npy (or, with nibabel, a .nii). A
        dict names the lesions; otherwise they are lesion_0, lesion_1, ...
    policy : {'strict', 'ldk', 'lacuna', 'ldk_single'}
        The output rules (stat_stream.h): strict (NaN propagates, ddof 1) or the Python packages'.
    seed : {'boes', 'pini'}
        The lesion's series: the mean of its voxels, or lacuna's PINI (per connectome file, the
        voxels whose loading on the first principal axis reaches the pini_percentile-th
        percentile; binary lesions only).
    precision : {'f32', 'f64'}
        Of the products.
    binarize : bool
        Every nonzero voxel with weight 1.
    n_threads : int
        Workers (0: the CPUs this process may use); the maps do not depend on it.
    out_dir : path, optional
        Also write the lnm program's files there: NAME_{mean_z,mean_r,avg_r,std_z,t,p,n}.npy on
        the voxel axis and NAME_{AvgR,AvgR_Fz,T,p}.nii on the connectome's grid (float32, 0
        outside the mask and for NaN).
    progress : callable, optional
        progress(done, total) in subjects (BOES); True cancels.
    pool : membound.Pool, optional

    Returns
    -------
    dict
        name -> dict of maps on the voxel axis (float64, n_voxels): mean_z, mean_r (tanh of
        mean_z), avg_r (Lead-DBS' mean of r), std_z, t, p, n (subjects); and under the key
        '_info': n_subjects, n_subjects_bad_voxel, n_subjects_bad_seed, mask_indices, affine,
        mask_shape.
    """
    _need_hdf5()
    if policy not in _POLICIES:
        raise ValueError("policy is one of %s, not %r" % (", ".join(_POLICIES), policy))
    if seed not in ("boes", "pini"):
        raise ValueError("seed is 'boes' or 'pini', not %r" % (seed,))
    if precision not in ("f32", "f64"):
        raise ValueError("precision is 'f32' or 'f64', not %r" % (precision,))
    path = os.fspath(connectome)
    info = _membound.h5_info(path)
    if isinstance(lesions, Mapping):
        named = list(lesions.items())
    elif isinstance(lesions, (str, os.PathLike)) or hasattr(lesions, "get_fdata") or (
            isinstance(lesions, np.ndarray) and lesions.dtype != object):
        named = [("lesion_0", lesions)]
    else:
        named = [("lesion_%d" % k, les) for k, les in enumerate(lesions)]
    if not named:
        raise _membound.ArgumentError("no lesion given")
    parts = [_lesion(les, info, binarize) for _, les in named]
    if seed == "pini" and any(w is not None for _, w in parts):
        raise _membound.ArgumentError("seed='pini' selects among a lesion's voxels and uses no weights: give binary "
                                      "lesions, or binarize=True")
    voxels = np.concatenate([v for v, _ in parts])
    offsets = np.r_[0, np.cumsum([len(v) for v, _ in parts])].astype(np.int64)
    weights = None
    if any(w is not None for _, w in parts):
        weights = np.concatenate([w if w is not None else np.ones(len(v)) for v, w in parts])
    r = _membound.lnm(path, voxels, offsets, weights, policy=_POLICIES[policy], precision=int(precision == "f64"),
                      n_threads=int(n_threads), pini=seed == "pini", pini_percentile=float(pini_percentile),
                      progress=progress, pool=pool)
    out: Dict[str, Any] = {}
    n = np.full(int(info["n_voxels"]), float(r["n_subjects"]))
    for k, (name, _) in enumerate(named):
        out[name] = {m: r[m][k] for m in ("mean_z", "mean_r", "avg_r", "std_z", "t", "p")}
        out[name]["n"] = n
    out["_info"] = dict(info, n_subjects_bad_voxel=r["n_subjects_bad_voxel"], n_subjects_bad_seed=r["n_subjects_bad_seed"])
    if out_dir is not None:
        for name, _ in named:
            _write_maps(os.fspath(out_dir), name, out[name], info)
    return out
