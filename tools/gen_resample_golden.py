"""References for examples/common/nifti.c's nifti_resample: nilearn's resample_to_img on the same
pairs (binary masks with 'nearest', weight maps with 'linear'), into tests/data/resample:
CASE_src.npy (float64 volume, i fastest as NIfTI stores it: saved as Fortran-order values of the
(i, j, k) array), CASE_src_affine.npy, CASE_target_affine.npy, CASE_target_shape.npy, and
CASE_nearest.npy / CASE_linear.npy (the target volume, same layout).

    pip install nilearn nibabel numpy
    python3 tools/gen_resample_golden.py tests/data/resample
"""
import os
import sys
import warnings

import nibabel as nib
import numpy as np
from nilearn.image import resample_to_img

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def rot_z(deg):
    t = np.deg2rad(deg)
    r = np.eye(4)
    r[:2, :2] = [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]
    return r


def blob(shape, centre, radius):
    i, j, k = np.indices(shape)
    return (((i - centre[0]) ** 2 + (j - centre[1]) ** 2 + (k - centre[2]) ** 2) <= radius ** 2).astype(np.float64)


cases = {}
s1 = np.diag([1.0, 1.0, 1.0, 1.0]); s1[:3, 3] = [-10, -11, -9]
t2 = np.diag([2.0, 2.0, 2.0, 1.0]); t2[:3, 3] = [-10, -11, -9]
cases["down2"] = (s1, (20, 22, 18), t2, (10, 11, 9))
flip = s1.copy(); flip[0, 0] = -1; flip[0, 3] = 9
cases["flipped"] = (flip, (20, 22, 18), t2, (10, 11, 9))
obl = rot_z(12) @ s1; obl[0, 1] += 0.1
cases["oblique"] = (obl, (20, 22, 18), t2, (10, 11, 9))
part = np.diag([1.5, 1.5, 1.5, 1.0]); part[:3, 3] = [2, -3, 1]
cases["partial"] = (part, (16, 14, 12), t2, (10, 11, 9))
shift = np.eye(4); shift[:3, 3] = [3, -2, 1]
ident = np.eye(4)
cases["shift"] = (shift, (12, 10, 9), ident, (14, 12, 10))
for name, (sa, ss, ta, ts) in cases.items():
    mask = blob(ss, [s * 0.45 for s in ss], min(ss) * 0.3)
    weights = mask * rng.uniform(0.1, 1.0, ss) + blob(ss, [s * 0.6 for s in ss], 2) * 0.5
    tgt = nib.Nifti1Image(np.zeros(ts, np.float32), ta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        near = resample_to_img(nib.Nifti1Image(mask, sa), tgt, interpolation="nearest", force_resample=True,
                               copy_header=True).get_fdata()
        lin = resample_to_img(nib.Nifti1Image(weights, sa), tgt, interpolation="linear", force_resample=True,
                              copy_header=True).get_fdata()
    np.save(os.path.join(out, name + "_mask.npy"), mask.ravel(order="F"))
    np.save(os.path.join(out, name + "_weights.npy"), weights.ravel(order="F"))
    np.save(os.path.join(out, name + "_src_shape.npy"), np.array(ss, np.float64))
    np.save(os.path.join(out, name + "_src_affine.npy"), sa)
    np.save(os.path.join(out, name + "_target_affine.npy"), ta)
    np.save(os.path.join(out, name + "_target_shape.npy"), np.array(ts, np.float64))
    np.save(os.path.join(out, name + "_nearest.npy"), near.ravel(order="F"))
    np.save(os.path.join(out, name + "_linear.npy"), lin.ravel(order="F"))
    print(name, "nearest voxels", int(near.sum()), "linear sum %.6f" % lin.sum())
