"""Writes the golden files that tests/test_common.c reads: .npy files written by numpy itself
(every supported dtype, format versions 1.0/2.0/3.0, Fortran order) and a NIfTI-1 volume written
by nibabel with a rotated affine and an int16 datatype with scaling.

    pip install numpy nibabel && python3 tools/gen_io_golden.py tests/data/io
"""
import os
import sys

import numpy as np
from numpy.lib import format as npf

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
a = np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 0.5 - 3
np.save(os.path.join(out, "f8_c.npy"), a)
np.save(os.path.join(out, "f4_c.npy"), a.astype(np.float32))
np.save(os.path.join(out, "i4_c.npy"), a.astype(np.int32))
np.save(os.path.join(out, "i8_c.npy"), np.arange(7, dtype=np.int64) * 1000000007)
np.save(os.path.join(out, "u1_c.npy"), np.arange(10, dtype=np.uint8) * 25)
np.save(os.path.join(out, "b1_c.npy"), np.array([True, False, True, True]))
np.save(os.path.join(out, "f8_fortran.npy"), np.asfortranarray(a))
np.save(os.path.join(out, "scalar.npy"), np.float64(2.5))
np.save(os.path.join(out, "c16.npy"), np.zeros(3, dtype=np.complex128))
np.save(os.path.join(out, "f8_big_endian.npy"), np.zeros(3, dtype=">f8"))
for version in [(2, 0), (3, 0)]:
    with open(os.path.join(out, "f8_v%d.npy" % version[0]), "wb") as f:
        npf.write_array(f, a, version=version)

import nibabel as nib

vol = (np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6) - 60)
theta = 0.3
aff = np.array([[2 * np.cos(theta), -2 * np.sin(theta), 0, -90.0],
                [2 * np.sin(theta), 2 * np.cos(theta), 0, -126.0],
                [0, 0, 2.0, -72.0],
                [0, 0, 0, 1]])
img = nib.Nifti1Image(vol, aff)
img.header.set_slope_inter(0.5, 10.0)
img.set_qform(aff, code=1)
img.set_sform(aff, code=4)
nib.save(img, os.path.join(out, "vol_i16.nii"))
nib.save(img, os.path.join(out, "vol_i16.nii.gz"))
np.save(os.path.join(out, "vol_i16_values.npy"), vol.astype(np.float64) * 0.5 + 10.0)
np.save(os.path.join(out, "vol_i16_affine.npy"), aff)
