"""membound: memory-bounded scientific kernels for numpy.

The package wraps the single-file C libraries of the same repository (tensorpool.h,
stat_stream.h, prom2d.h, pacgpu.h): arrays go in without a copy where their layout allows, the
GIL is released while the C code runs (other Python threads keep going), errors raise a
subclass of :class:`membound.Error` carrying the library's message, and long runs accept a
``progress`` callable ``progress(done, total)`` that may return True to stop.

Functions and classes
---------------------
Pac, PreferredPhase, EventRelatedPac
    tensorpac's classes (filter, fit, filterfit, infer_pvalues, the plots): the same results,
    computed in C. ``membound.utils`` has tensorpac.utils' pac_vec and pac_trivec.
lnm
    Lesion network mapping over an HDF5 connectome, subjects streamed (builds with HDF5).
prominence
    Peaks and their topographic prominence in each 2-D slice of a stack, and dominant-peak masks.
Pool
    A memory pool with an optional budget; pass it as ``pool=`` to share its cache and budget.
memory_info
    The memory this process may use (/proc/meminfo and cgroup limits).
build_info
    What each header was built with.
"""
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _membound
from .lnm import connectome_info, lnm, write_nifti  # noqa: F401  (re-exported)
from . import utils  # noqa: F401  (tensorpac.utils' pac_vec, pac_trivec)
from .pac import EventRelatedPac, Pac, PreferredPhase, infer_pvalues  # noqa: F401  (re-exported)
from ._membound import (  # noqa: F401  (re-exported)
    ArgumentError,
    BudgetError,
    CancelledError,
    DeviceError,
    Error,
    FileError,
    FormatError,
    NoMemoryError,
    Pool,
    UnsupportedError,
)

__version__ = "1.0.0"
__all__ = [
    "Pac", "PreferredPhase", "EventRelatedPac", "infer_pvalues", "lnm", "connectome_info", "write_nifti", "prominence", "Pool", "memory_info", "build_info", "Error", "ArgumentError", "BudgetError", "CancelledError",
    "DeviceError", "FileError", "FormatError", "NoMemoryError", "UnsupportedError",
]

Progress = Callable[[int, int], Optional[bool]]


def memory_info() -> Dict[str, int]:
    """The memory this process may use.

    Returns
    -------
    dict
        ``mem_total`` and ``mem_available`` (bytes, /proc/meminfo), ``cgroup_version`` (0 when
        no memory limit was found, else 1 or 2), ``cgroup_limit`` and ``cgroup_usage`` (bytes, 0
        for none) and ``usable``: the smaller of what is available and what the cgroup leaves.
    """
    return _membound.memory_info()


def build_info() -> Tuple[str, str, str, str]:
    """Each header's build line: version, vector width, backends (tensorpool, stat_stream,
    prom2d, pacgpu)."""
    return _membound.build_info()


def prominence(
    posterior: np.ndarray,
    alphas: Optional[Sequence[float]] = None,
    connectivity: int = 8,
    mode: str = "exact",
    periodic: Optional[str] = None,
    valleys: bool = False,
    min_prominence: float = 0.0,
    n_threads: int = 0,
    *,
    progress: Optional[Progress] = None,
    pool: Optional[Pool] = None,
) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
    """Peaks and their prominence in every time bin of a stack of 2-D maps.

    Parameters
    ----------
    posterior : array_like, shape (n_x, n_y, n_t) or (n_x, n_y)
        The maps; float32 and float64 arrays are read in place whatever their strides (a
        C-ordered (x, y, t) cube, time fastest, is not copied), other types are converted to
        float64. NaN cells are holes: each connected part of a map is its own landscape.
    alphas : sequence of float, optional
        Mask thresholds as fractions of the dominant peak's height; with them the masks of the
        connected region around the dominant peak are returned too.
    connectivity : {8, 4}
        Neighbourhood of the exact mode.
    mode : {'exact', 'pypho'}
        'exact': topographic prominence (equal to persistent homology's); 'pypho': the
        contour-based routine of pyPhoPlaceCellAnalysis, reproduced bit for bit.
    periodic : {None, 'x', 'y', 'xy'}
        Axes whose edges wrap around (a circular or toroidal track; exact mode).
    valleys : bool
        The prominence of minima instead (heights are reported as in the input).
    min_prominence : float
        Report only peaks at least this prominent.
    n_threads : int
        Workers (0: the CPUs this process may use); results do not depend on it.
    progress : callable, optional
        ``progress(done, total)`` in time bins; return True to stop (raises CancelledError).
    pool : Pool, optional
        Take the scratch memory from this pool (its budget applies).

    Returns
    -------
    peaks : ndarray of float64, shape (n_peaks, 6)
        One row per peak: t, ix, iy, height, prominence, col_level (NaN for a landscape's
        highest peak); t is 0 for a 2-D input. The rows of ``prom2d --peaks-out``.
    masks : ndarray of bool, shape (n_alpha, n_x, n_y[, n_t])
        Only when ``alphas`` is given: for each alpha, the connected region around each bin's
        dominant peak above alpha times its height.

    Raises
    ------
    ArgumentError
        A bad argument (the message names it); also ValueError.
    BudgetError
        The pool's budget is too small for the scratch.
    """
    return _membound.prominence(
        posterior, alphas, connectivity, mode, periodic, bool(valleys), float(min_prominence), int(n_threads),
        progress=progress, pool=pool,
    )
