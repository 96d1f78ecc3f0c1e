"""Builds membound's extension module from the headers at the repository root (pyproject.toml has
the package's metadata). The C side needs only a C99 compiler, Python's headers and numpy's;
where HDF5's C library is found (pkg-config hdf5, or Debian's libhdf5-dev) membound.lnm is built
too (MEMBOUND_HDF5=0 leaves it out)."""
import os
import shlex
import subprocess

import numpy
from setuptools import Extension, setup

root = os.path.dirname(os.path.abspath(__file__))


def hdf5_flags():
    """HDF5's flags as tools/detect.sh finds them (a probe compile), or None"""
    if os.environ.get("MEMBOUND_HDF5", "1") == "0":
        return None
    try:
        out = subprocess.run(["sh", os.path.join(root, "tools", "detect.sh"), "hdf5"], capture_output=True, text=True)
    except OSError:
        return None
    return shlex.split(out.stdout) if out.returncode == 0 else None


flags = hdf5_flags() or []
macros = [("_DEFAULT_SOURCE", None)] + ([("STAT_STREAM_USE_HDF5", None)] if flags else [])
setup(
    ext_modules=[
        Extension(
            "membound._membound",
            sources=["python/membound/_membound.c"],
            include_dirs=[root, numpy.get_include()] + [f[2:] for f in flags if f.startswith("-I")],
            library_dirs=[f[2:] for f in flags if f.startswith("-L")],
            define_macros=macros,
            extra_compile_args=["-std=c99", "-O2"],
            libraries=["m", "pthread"] + [f[2:] for f in flags if f.startswith("-l")],
            depends=["tensorpool.h", "stat_stream.h", "prom2d.h", "pacgpu.h"],
        )
    ]
)
