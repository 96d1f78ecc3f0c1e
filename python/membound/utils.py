"""tensorpac.utils' band helpers: ``from membound.utils import pac_vec, pac_trivec`` in place of
``from tensorpac.utils import ...`` gives the same arrays."""
from typing import Any, Tuple

import numpy as np

from .pac import _bands


def pac_vec(f_pha: Any = "mres", f_amp: Any = "mres") -> Tuple[np.ndarray, np.ndarray]:
    """Phase and amplitude bands, (n, 2) [low, high] Hz each, from any of tensorpac's forms: a preset
    ('lres', 'mres', 'hres', 'demon', 'hulk'), [low, high], a list of bands, (start, stop, width,
    step) or a sequence of edges."""
    return _bands(f_pha, "phase"), _bands(f_amp, "amplitude")


def pac_trivec(f_start: float = 60.0, f_end: float = 160.0, f_width: float = 10.0) -> Tuple[np.ndarray, np.ndarray]:
    """Bands of every [start, end] pair of a grid from ``f_start`` to ``f_end`` by ``f_width``
    (widening bands, for :meth:`membound.Pac.triplot`).

    Returns
    -------
    f : ndarray, shape (n_bands, 2)
    tridx : ndarray, shape (n_bands, 2)
        Where each band's value goes in the triangle.
    """
    starting = np.arange(f_start, f_end + f_width, f_width)
    f, tridx = [], []
    for num, k in enumerate(starting[:-1]):
        ends = starting[num + 1:]
        f.append(np.c_[np.full(len(ends), k), ends])
        tridx.append(np.c_[np.arange(len(ends))[::-1], np.full(len(ends), num)])
    return np.concatenate(f, axis=0), np.concatenate(tridx, axis=0)
