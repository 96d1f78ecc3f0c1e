"""Builds membound's extension module from the headers at the repository root (pyproject.toml has
the package's metadata). The C side needs only a C99 compiler, Python's headers and numpy's."""
import os

import numpy
from setuptools import Extension, setup

root = os.path.dirname(os.path.abspath(__file__))
setup(
    ext_modules=[
        Extension(
            "membound._membound",
            sources=["python/membound/_membound.c"],
            include_dirs=[root, numpy.get_include()],
            define_macros=[("_DEFAULT_SOURCE", None)],
            extra_compile_args=["-std=c99", "-O2"],
            libraries=["m", "pthread"],
            depends=["tensorpool.h", "stat_stream.h", "prom2d.h", "pacgpu.h"],
        )
    ]
)
