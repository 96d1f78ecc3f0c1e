"""tensorpac's Pac on membound's engine (pacgpu.h): the same constructor, attributes and results.

Changing ``from tensorpac import Pac`` to ``from membound import Pac`` keeps a script's
``filterfit`` and ``fit`` results (tensorpac 0.6.5's, float64 to 1e-9 relative, tested on its own outputs),
including the surrogates drawn for a given ``random_state`` (tensorpac draws surrogate k from
``numpy.random.RandomState(random_state + k)``; so does this class) and tensorpac's quirks (ndPAC
runs as idpac (4, 0, 0); PLV takes the phase of the amplitude envelope; a normalisation without
surrogates is dropped). The filtering, measures, surrogates and their statistics run in C, on
``n_jobs`` threads, without the GIL and in memory that does not grow with the surrogates unless
they are kept (``keep_surrogates``, on by default as in tensorpac).
"""
import warnings
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _membound
from .plot import PacPlots, PolarPlots

ArrayLike = Union[np.ndarray, Sequence[Any]]
_PRESETS = ("lres", "mres", "hres", "demon", "hulk")
_METHODS = {
    1: "Mean Vector Length (MVL, Canolty et al. 2006)",
    2: "Modulation Index (MI, Tort et al. 2010)",
    3: "Heights ratio (HR, Lakatos et al. 2005)",
    4: "Normalized Direct Pac (ndPac, Ozkurt et al. 2012)",
    5: "Phase-Locking Value (PLV, Penny et al. 2008)",
    6: "Gaussian Copula PAC (gcPac)",
}
_SURROGATES = {
    0: "No surrogates",
    1: "Permute phase across trials (Tort et al. 2010)",
    2: "Swap amplitude time blocks (min_shift=1; max_shift=n_times) (Bahramisharif et al. 2013)",
    3: "Time lag (min_shift=1; max_shift=n_times) (Canolty et al. 2006)",
}
_NORMS = {
    0: "No normalization",
    1: "Substract the mean of surrogates",
    2: "Divide by the mean of surrogates",
    3: "Substract then divide by the mean of surrogates",
    4: "Substract the mean and divide by the deviation of the surrogates",
}


def _bands(f: Union[str, ArrayLike], kind: str) -> np.ndarray:
    """tensorpac's frequency forms as (n, 2) [low, high] bands: a preset name, [lo, hi], a list of
    bands, (start, stop, width, step), or a sequence of edges (consecutive pairs)."""
    if isinstance(f, str):
        if f not in _PRESETS:
            raise ValueError("unknown frequency preset %r: one of %s" % (f, ", ".join(_PRESETS)))
        return _membound.band_preset(f, kind)
    a = np.atleast_2d(np.asarray(f, dtype=np.float64))
    if a.size == 1:
        raise ValueError("The length of f should at least be 2.")
    if 2 in a.shape:
        return np.ascontiguousarray(a if a.shape[1] == 2 else a.T)
    if np.squeeze(a).shape == (4,):
        start, stop, width, step = np.squeeze(a)
        return np.c_[np.arange(start, stop - width, step), np.arange(start + width, stop, step)]
    edges = np.sort(a.reshape(-1))
    return np.c_[edges[:-1], edges[1:]]


def _signals(x: ArrayLike) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[np.newaxis, :]
    if x.ndim != 2:
        raise ValueError("x should be a 2d array like (n_epochs, n_times)")
    return x


def _phamp(pha: ArrayLike, amp: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    """tensorpac's checks of given phases and amplitudes (its _phampcheck): both (n_bands, n_epochs,
    n_times) with the same (n_epochs, n_times); the phase wrapped into [-pi, pi) as tensorpac
    does, (pha + pi) % 2 pi - pi (a copy)"""
    pha, amp = np.asarray(pha, dtype=np.float64), np.ascontiguousarray(amp, dtype=np.float64)
    if pha.ndim != 3:
        raise ValueError("`pha` should have a shape of (n_pha, n_epochs, n_times), not %s" % (pha.shape,))
    if amp.ndim != 3:
        raise ValueError("`amp` should have a shape of (n_amp, n_epochs, n_times), not %s" % (amp.shape,))
    if pha.shape[1:] != amp.shape[1:]:
        raise ValueError("`pha` and `amp` must have the same number of trials, channels and time points (%s and %s)"
                         % (pha.shape, amp.shape))
    if not np.ptp(pha) <= 2 * np.pi:
        warnings.warn("Your phase is probably in degrees and should be converted in radians using either np.degrees "
                      "or np.deg2rad.")
    return (pha + np.pi) % (2.0 * np.pi) - np.pi, amp


def _threads(n_jobs: int) -> int:
    return 0 if n_jobs is None or n_jobs < 0 else int(n_jobs)


def _mcp(mcp: str) -> int:
    if mcp not in ("maxstat", "fdr", "bonferroni"):
        raise ValueError("mcp is 'maxstat', 'fdr' or 'bonferroni', not %r" % (mcp,))
    return {"maxstat": 0, "fdr": 1, "bonferroni": 2}[mcp]


def _draws(kind: int, n_perm: int, random_state: int, n_times: int, n_epochs: int):
    """tensorpac 0.6.5's surrogate draws, surrogate k from RandomState(random_state + k): cuts
    randint(1, n_times) (swap-blocks) or randint(n_times) (time-lag), or permutation(n_epochs)
    (swap-epochs); made in C by numpy's legacy generator (tested equal to numpy's)"""
    if kind not in (1, 2, 3):
        return None, None
    d = _membound.tensorpac_draws(kind, n_perm, random_state, n_times, n_epochs)
    return (None, d) if kind == 1 else (d, None)


def _bh(p: np.ndarray, alpha: float) -> Tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg (independent tests) as mne.stats.fdr_correction: reject, corrected"""
    shape, flat = p.shape, p.reshape(-1)
    order = np.argsort(flat)
    ps = flat[order]
    n = len(ps)
    factor = np.arange(1, n + 1) / float(n)
    reject = ps < factor * alpha
    if reject.any():
        reject[: np.nonzero(reject)[0].max()] = True
    corrected = np.minimum.accumulate((ps / factor)[::-1])[::-1]
    corrected[corrected > 1] = 1
    out_r, out_p = np.empty(n, bool), np.empty(n)
    out_r[order], out_p[order] = reject, corrected
    return out_r.reshape(shape), out_p.reshape(shape)


def infer_pvalues(effect: np.ndarray, perm: np.ndarray, p: float = 0.05, mcp: str = "maxstat") -> np.ndarray:
    """tensorpac's p-values of ``effect`` against its permutations ``perm`` (n_perm, ...):
    'maxstat' (maximum statistics over the cells), 'fdr' (Benjamini-Hochberg) or 'bonferroni';
    cells not significant at ``p`` get 1, the smallest is 1 / n_perm."""
    n_perm = perm.shape[0]
    if mcp == "maxstat":
        max_p = perm.reshape(n_perm, -1).max(1)[np.newaxis, ...]
        pvalues = (effect[..., np.newaxis] <= max_p).sum(-1) / n_perm
        pvalues[pvalues >= p] = 1.0
        return np.maximum(1.0 / n_perm, pvalues)
    if mcp not in ("fdr", "bonferroni"):
        raise ValueError("mcp is 'maxstat', 'fdr' or 'bonferroni', not %r" % (mcp,))
    pvalues = np.maximum(1.0 / n_perm, (effect[np.newaxis, ...] <= perm).sum(0) / n_perm)
    if mcp == "fdr":
        signi, pvalues = _bh(pvalues, p)
    else:
        pvalues = np.minimum(pvalues * pvalues.size, 1.0)
        signi = pvalues < p
    pvalues[~signi] = 1.0
    return pvalues


class _PacObj:
    def __init__(self, f_pha: Any = (2, 4), f_amp: Any = (60, 200), dcomplex: str = "hilbert",
                 cycle: Tuple[int, int] = (3, 6), width: int = 7) -> None:
        self._f_pha, self._f_amp = _bands(f_pha, "phase"), _bands(f_amp, "amplitude")
        self._xvec, self._yvec = self._f_pha.mean(1), self._f_amp.mean(1)
        self.dcomplex, self.cycle, self.width = dcomplex, cycle, width

    f_pha = property(lambda self: self._f_pha, doc="Phase bands, shape (n_pha, 2).")
    f_amp = property(lambda self: self._f_amp, doc="Amplitude bands, shape (n_amp, 2).")
    xvec = property(lambda self: self._xvec, doc="Phase band centres, for plotting.")
    yvec = property(lambda self: self._yvec, doc="Amplitude band centres, for plotting.")

    @property
    def dcomplex(self) -> str:
        """'hilbert' (tensorpac's FIR band-pass and Hilbert transform) or 'wavelet' (Morlet)."""
        return self._dcomplex

    @dcomplex.setter
    def dcomplex(self, value: str) -> None:
        if value not in ("hilbert", "wavelet"):
            raise ValueError("dcomplex must either be 'hilbert' or 'wavelet'.")
        self._dcomplex = value

    @property
    def cycle(self) -> Tuple[int, int]:
        """Filter lengths in cycles of each band's low edge: (phase, amplitude)."""
        return self._cycle

    @cycle.setter
    def cycle(self, value: Tuple[int, int]) -> None:
        c = np.asarray(value)
        if c.shape != (2,) or not np.issubdtype(c.dtype, np.integer) or (c < 1).any():
            raise ValueError("cycle must be two integers >= 1 (tensorpac's automatic filter order is not supported)")
        self._cycle = (int(c[0]), int(c[1]))

    @property
    def width(self) -> int:
        """Width of the Morlet wavelet in cycles."""
        return self._width

    @width.setter
    def width(self, value: int) -> None:
        self._width = int(value)

    def filter(self, sf: float, x: ArrayLike, ftype: str = "phase", keepfilt: bool = False,
               edges: Optional[int] = None, n_jobs: int = -1) -> np.ndarray:
        """Band-pass x (n_epochs, n_times) in every phase or amplitude band.

        Parameters
        ----------
        sf : float
            Sampling frequency (Hz).
        x : array_like, shape (n_epochs, n_times) or (n_times,)
        ftype : {'phase', 'amplitude'}
        keepfilt : bool
            True: the band-passed signals themselves.
        edges : int, optional
            Samples dropped at each end after filtering.
        n_jobs : int
            Accepted for tensorpac's signature.

        Returns
        -------
        ndarray, shape (n_bands, n_epochs, n_times)
        """
        if ftype not in ("phase", "amplitude"):
            raise ValueError("ftype must either be 'phase' or 'amplitude.'")
        if self._dcomplex == "wavelet" and keepfilt:
            raise ValueError("Using wavelet for the complex decomposition do not allow to get filtered data only. Set "
                             "the keepfilt parameter to False or set dcomplex to 'hilbert'.")
        x = np.ascontiguousarray(_signals(x), dtype=np.float64)
        bands = self._f_pha if ftype == "phase" else self._f_amp
        what = "filtered" if keepfilt else ftype
        width = float(self._width) if self._dcomplex == "wavelet" else 0.0
        out = _membound.bandpass(x, float(sf), bands, self._cycle[0 if ftype == "phase" else 1], what, width)
        return out[..., edges:-edges] if isinstance(edges, int) and edges > 0 else out


class Pac(_PacObj, PacPlots):
    """Phase-amplitude coupling, as tensorpac's ``Pac``.

    Parameters
    ----------
    idpac : tuple of 3 int
        (measure, surrogates, normalisation). Measure: 1 mean vector length, 2 modulation index,
        3 heights ratio, 4 ndPAC, 5 phase-locking value, 6 Gaussian-copula PAC. Surrogates: 0 none,
        1 permute the phase across trials, 2 swap amplitude time blocks, 3 time lag.
        Normalisation: 0 none, 1 minus the surrogates' mean, 2 divided by it, 3 both, 4 z-score.
    f_pha, f_amp : str or array_like
        Bands: a preset ('lres', 'mres', 'hres', 'demon', 'hulk'), [low, high], a list of bands,
        (start, stop, width, step) or a sequence of edges.
    dcomplex : {'hilbert', 'wavelet'}
    cycle : (int, int)
        Filter lengths in cycles (phase, amplitude).
    width : int
        Morlet wavelet width.
    n_bins : int
        Phase bins of the MI and the heights ratio.
    verbose : any
        Accepted for tensorpac's signature.

    Attributes
    ----------
    pac : ndarray (n_amp, n_pha, n_epochs)
        The measure before normalisation.
    surrogates : ndarray (n_perm, n_amp, n_pha, n_epochs) or None
    pvalues : ndarray (n_amp, n_pha) or None
    idpac, method, str_surro, str_norm, f_pha, f_amp, xvec, yvec, n_bins
    """

    def __init__(self, idpac: Tuple[int, int, int] = (1, 2, 3), f_pha: Any = (2, 4), f_amp: Any = (60, 200),
                 dcomplex: str = "hilbert", cycle: Tuple[int, int] = (3, 6), width: int = 7, n_bins: int = 18,
                 verbose: Any = None) -> None:
        self.idpac = idpac
        _PacObj.__init__(self, f_pha=f_pha, f_amp=f_amp, dcomplex=dcomplex, cycle=cycle, width=width)
        self.n_bins = int(n_bins)
        self._pac = self._surrogates = self._pvalues = None

    def __str__(self) -> str:
        return self.method

    @property
    def idpac(self) -> Tuple[int, int, int]:
        """(measure, surrogates, normalisation), as tensorpac resolved it."""
        return self._idpac

    @idpac.setter
    def idpac(self, value: Sequence[int]) -> None:
        v = [int(k) for k in np.atleast_1d(value)]
        if len(v) != 3 or v[0] not in _METHODS or v[1] not in _SURROGATES or v[2] not in _NORMS:
            raise ValueError("idpac must be a tuple/list of 3 integers: measure 1-6, surrogates 0-3, normalisation 0-4")
        if v[0] == 4 and (v[1] or v[2]):
            warnings.warn("ndPAC runs without surrogates or normalisation: idpac (4, 0, 0), as tensorpac")
            v = [4, 0, 0]
        elif v[2] and not v[1]:
            warnings.warn("a normalisation needs surrogates (idpac's second digit): normalisation ignored, as tensorpac")
            v[2] = 0
        self._idpac = tuple(v)
        self.method, self.str_surro, self.str_norm = _METHODS[v[0]], _SURROGATES[v[1]], _NORMS[v[2]]

    pac = property(lambda self: self._pac, doc="The measure before normalisation, (n_amp, n_pha, n_epochs).")
    surrogates = property(lambda self: self._surrogates, doc="The surrogates, (n_perm, n_amp, n_pha, n_epochs).")
    pvalues = property(lambda self: self._pvalues, doc="p-values, (n_amp, n_pha).")

    def fit(self, pha: ArrayLike, amp: ArrayLike, n_perm: int = 200, p: float = 0.05, mcp: str = "maxstat",
            n_jobs: int = -1, random_state: Optional[int] = None, verbose: Any = None, *, keep_surrogates: bool = True,
            progress: Any = None, pool: Any = None) -> np.ndarray:
        """Measure the coupling of phases and amplitudes already computed (tensorpac's ``fit``).

        Parameters
        ----------
        pha : array_like, shape (n_pha, n_epochs, n_times)
            Phases in radians (wrapped into [-pi, pi) as tensorpac does), e.g. from :meth:`filter`.
        amp : array_like, shape (n_amp, n_epochs, n_times)
            Amplitudes (for the PLV, what tensorpac's fit takes: the angle of their Hilbert
            transform is taken here, as there).
        n_perm, p, mcp, n_jobs, random_state, keep_surrogates, progress, pool
            As :meth:`filterfit`'s.

        Returns
        -------
        ndarray, shape (n_amp, n_pha, n_epochs)
            The measure normalised as idpac says.
        """
        pha, amp = _phamp(pha, amp)
        return self._measure(None, 0.0, pha.shape[1], pha.shape[2], 0, n_perm, p, mcp, n_jobs, random_state,
                             keep_surrogates, progress, pool, pha=pha, amp=amp)

    def filterfit(self, sf: float, x_pha: ArrayLike, x_amp: Optional[ArrayLike] = None, n_perm: int = 200,
                  p: float = 0.05, mcp: str = "maxstat", edges: Optional[int] = None, n_jobs: int = -1,
                  random_state: Optional[int] = None, verbose: Any = None, *, keep_surrogates: bool = True,
                  progress: Any = None, pool: Any = None) -> np.ndarray:
        """Filter the signals, then measure the coupling (tensorpac's ``filterfit``).

        Parameters
        ----------
        sf : float
            Sampling frequency (Hz).
        x_pha : array_like, shape (n_epochs, n_times) or (n_times,)
            The signals the phases come from (float32 and float64 C-ordered arrays are not copied).
        x_amp : array_like, optional
            The signals the amplitudes come from (default: x_pha), of the same shape.
        n_perm : int
            Surrogates (with idpac's second digit > 0).
        p : float
            Significance level of :attr:`pvalues`, and ndPAC's threshold.
        mcp : {'maxstat', 'fdr', 'bonferroni'}
            Correction of :attr:`pvalues` (fdr and bonferroni need no mne here).
        edges : int, optional
            Samples dropped at each end after filtering.
        n_jobs : int
            Threads (-1: the CPUs this process may use); results do not depend on it.
        random_state : int, optional
            Surrogate k is drawn from ``RandomState(random_state + k)``, as tensorpac does.
        keep_surrogates : bool
            False: no :attr:`surrogates` cube (n_perm times the result's memory); p-values and
            normalisation are the same.
        progress : callable, optional
            ``progress(done, total)``; return True to stop (raises CancelledError).
        pool : membound.Pool, optional

        Returns
        -------
        ndarray, shape (n_amp, n_pha, n_epochs)
            The measure normalised as idpac says.
        """
        x_pha = _signals(x_pha)
        if x_amp is not None:
            x_amp = _signals(x_amp)
            if x_amp.shape != x_pha.shape:
                raise ValueError("Inputs `x_pha` and `x_amp` must have the same shape (%s and %s)."
                                 % (x_pha.shape, x_amp.shape))
        e = edges if isinstance(edges, (int, np.integer)) and edges > 0 else 0
        return self._measure(x_pha, sf, x_pha.shape[0], x_pha.shape[1] - 2 * e, e, n_perm, p, mcp, n_jobs, random_state,
                             keep_surrogates, progress, pool, x_amp=x_amp)

    def _measure(self, x, sf, n_epochs, n_times, edges, n_perm, p, mcp, n_jobs, random_state, keep_surrogates, progress,
                 pool, **given):
        """filterfit's and fit's run: tensorpac's idpac resolution and surrogate draws, then pac_run
        on the signals x or pac_fit on the phases and amplitudes given"""
        m, s, n = self._idpac
        if s == 0 or not isinstance(n_perm, (int, np.integer)) or n_perm <= 0:
            self._idpac = (m, 0, 0)
            m, s, n, n_perm = m, 0, 0, 0
        cuts = pairs = None
        if s and n_times >= (4 if x is not None else 2):  # fewer samples: the C side says what is wrong
            if random_state is None:
                random_state = int(np.random.randint(0, 10000, size=1)[0])
            cuts, pairs = _draws(s, int(n_perm), int(random_state), n_times, n_epochs)
        r = _membound.pac(x, float(sf), self._f_pha, self._f_amp, measure=m, surrogates=s, norm=n, n_perm=int(n_perm),
                          cuts=cuts, pairs=pairs, mi_form=2, n_bins=self.n_bins,
                          dcomplex=1 if self._dcomplex == "wavelet" else 0, width=float(self._width),
                          pha_cycles=self._cycle[0], amp_cycles=self._cycle[1], edges=int(edges),
                          mcp=_mcp(mcp), p=float(p), n_threads=_threads(n_jobs),
                          keep_surrogates=bool(keep_surrogates), progress=progress, pool=pool, **given)
        self._pac, self._surrogates, self._pvalues = r["pac"], r["surrogates"], r["pvalues"]
        self._c_seconds = r["c_seconds"]  # time inside the C call (the binding's overhead is the rest)
        return r["norm"]

    def infer_pvalues(self, p: float = 0.05, mcp: str = "maxstat") -> np.ndarray:
        """p-values of the epoch-averaged measure against the epoch-averaged surrogates (tensorpac's
        ``infer_pvalues``); needs the surrogates kept."""
        if self._pac is None or self._surrogates is None:
            raise ValueError("no surrogates: run filterfit with surrogates (and keep_surrogates=True) first")
        self._pvalues = infer_pvalues(self._pac.mean(2), self._surrogates.mean(3), p=p, mcp=mcp)
        return self._pvalues


class PreferredPhase(_PacObj, PolarPlots):
    """The phase at which the amplitude is largest, as tensorpac's ``PreferredPhase``.

    Parameters
    ----------
    f_pha, f_amp, dcomplex, cycle, width, verbose
        As :class:`Pac`'s.
    """

    def __init__(self, f_pha: Any = (2, 4), f_amp: Any = (60, 200), dcomplex: str = "hilbert",
                 cycle: Tuple[int, int] = (3, 6), width: int = 7, verbose: Any = None) -> None:
        _PacObj.__init__(self, f_pha=f_pha, f_amp=f_amp, dcomplex=dcomplex, cycle=cycle, width=width)

    def fit(self, pha: ArrayLike, amp: ArrayLike, n_bins: int = 72, *, n_jobs: int = -1,
            progress: Any = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bin each amplitude by the phase given, find the preferred phase (tensorpac's ``fit``).

        Parameters
        ----------
        pha : array_like, shape (n_pha, n_epochs, n_times)
            Phases in radians (wrapped into [-pi, pi) as tensorpac does).
        amp : array_like, shape (n_amp, n_epochs, n_times)
        n_bins : int

        Returns
        -------
        binned_amp, pp, polarvec
            As :meth:`filterfit`'s.
        """
        pha, amp = _phamp(pha, amp)
        r = _membound.pac(None, 0.0, None, None, measure=3, n_bins=int(n_bins), n_threads=_threads(n_jobs),
                          progress=progress, binned=True, pha=pha, amp=amp)
        return r["binned"], r["pp"], np.linspace(-np.pi, np.pi, int(n_bins))

    def filterfit(self, sf: float, x_pha: ArrayLike, x_amp: Optional[ArrayLike] = None, edges: Optional[int] = None,
                  n_bins: int = 12, verbose: Any = None, *, n_jobs: int = -1,
                  progress: Any = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Filter the signals, bin each amplitude by the phase, find the preferred phase.

        Returns
        -------
        binned_amp : ndarray, shape (n_bins, n_amp, n_pha, n_epochs)
            Each bin's mean amplitude over their sum.
        pp : ndarray, shape (n_amp, n_pha, n_epochs)
            The centre of the first largest bin, radians.
        polarvec : ndarray, shape (n_bins,)
            ``linspace(-pi, pi, n_bins)``, for a polar plot.
        """
        x_pha = _signals(x_pha)
        x_amp = None if x_amp is None else _signals(x_amp)
        e = edges if isinstance(edges, (int, np.integer)) and edges > 0 else 0
        r = _membound.pac(x_pha, float(sf), self._f_pha, self._f_amp, measure=3, n_bins=int(n_bins),
                          dcomplex=1 if self._dcomplex == "wavelet" else 0, width=float(self._width),
                          pha_cycles=self._cycle[0], amp_cycles=self._cycle[1], edges=int(e), x_amp=x_amp,
                          n_threads=_threads(n_jobs), progress=progress, binned=True)
        return r["binned"], r["pp"], np.linspace(-np.pi, np.pi, int(n_bins))


class EventRelatedPac(_PacObj, PacPlots):
    """Coupling across epochs at every time, as tensorpac's ``EventRelatedPac``.

    Parameters
    ----------
    f_pha, f_amp, dcomplex, cycle, width, verbose
        As :class:`Pac`'s.

    Attributes
    ----------
    erpac : ndarray (n_amp, n_pha, n_times)
    pvalues : ndarray (n_amp, n_pha, n_times) or None
    surrogates : ndarray (n_perm, n_amp, n_pha, n_times) or None
        The gc method's permutations (n_perm times the map's memory; ``keep_surrogates=False``
        keeps only their p-values).
    """

    def __init__(self, f_pha: Any = (2, 4), f_amp: Any = (60, 200), dcomplex: str = "hilbert",
                 cycle: Tuple[int, int] = (3, 6), width: int = 7, verbose: Any = None) -> None:
        _PacObj.__init__(self, f_pha=f_pha, f_amp=f_amp, dcomplex=dcomplex, cycle=cycle, width=width)
        self._erpac = self._pvalues = self._surrogates = None
        self.method = None

    erpac = property(lambda self: self._erpac, doc="The event-related PAC, (n_amp, n_pha, n_times).")
    pvalues = property(lambda self: self._pvalues, doc="p-values, (n_amp, n_pha, n_times).")
    surrogates = property(lambda self: self._surrogates, doc="The gc method's permutations, (n_perm, n_amp, n_pha, n_times).")

    def fit(self, pha: ArrayLike, amp: ArrayLike, method: str = "circular", smooth: Optional[int] = None,
            n_jobs: int = -1, n_perm: Optional[int] = None, p: float = 0.05, mcp: str = "fdr",
            verbose: Any = None, *, keep_surrogates: bool = True, progress: Any = None) -> np.ndarray:
        """The coupling across epochs at every time, from phases and amplitudes already computed
        (tensorpac's ``fit``).

        Parameters
        ----------
        pha : array_like, shape (n_pha, n_epochs, n_times)
            Phases in radians (wrapped into [-pi, pi) as tensorpac does).
        amp : array_like, shape (n_amp, n_epochs, n_times)
        method, smooth, n_jobs, n_perm, p, mcp
            As :meth:`filterfit`'s.

        Returns
        -------
        ndarray, shape (n_amp, n_pha, n_times)
        """
        pha, amp = _phamp(pha, amp)
        return self._measure(None, 0.0, pha.shape[1], 0, method, smooth, n_perm, p, mcp, n_jobs, progress,
                             keep_surrogates, pha=pha, amp=amp)

    def filterfit(self, sf: float, x_pha: ArrayLike, x_amp: Optional[ArrayLike] = None, method: str = "circular",
                  smooth: Optional[int] = None, n_perm: Optional[int] = None, p: float = 0.05, mcp: str = "fdr",
                  edges: Optional[int] = None, n_jobs: int = -1, verbose: Any = None, *,
                  keep_surrogates: bool = True, progress: Any = None) -> np.ndarray:
        """Filter the epochs, then the coupling across them at every time.

        Parameters
        ----------
        sf : float
        x_pha, x_amp : array_like, shape (n_epochs, n_times)
        method : {'circular', 'gc'}
            Voytek's circular-linear correlation (p-values from the chi2 law, corrected by ``mcp``:
            'fdr' or 'bonferroni'), or the Gaussian-copula mutual information (bits; p-values by
            maximum statistics over ``n_perm`` permutations of the epochs' phases, drawn from
            numpy's global random state as tensorpac does).
        smooth : int, optional
            gc: half-width of the time window (tensorpac's smooth).
        n_perm, p, mcp, edges, n_jobs
            As tensorpac's.
        keep_surrogates : bool
            gc with ``n_perm``: keep every permutation's map in :attr:`surrogates` (as tensorpac);
            False keeps only their p-values.

        Returns
        -------
        ndarray, shape (n_amp, n_pha, n_times)
        """
        x_pha = _signals(x_pha)
        x_amp = None if x_amp is None else _signals(x_amp)
        e = edges if isinstance(edges, (int, np.integer)) and edges > 0 else 0
        return self._measure(x_pha, sf, x_pha.shape[0], e, method, smooth, n_perm, p, mcp, n_jobs, progress,
                             keep_surrogates, x_amp=x_amp)

    def _measure(self, x, sf, n_epochs, edges, method, smooth, n_perm, p, mcp, n_jobs, progress, keep, **given):
        """filterfit's and fit's run: pac_erpac on the epochs x, or pac_erpac_fit on the phases and
        amplitudes given; the gc method's permutations from numpy's global generator, as tensorpac"""
        if method not in ("circular", "gc"):
            raise ValueError("method is 'circular' or 'gc', not %r" % (method,))
        perm = int(n_perm) if method == "gc" and isinstance(n_perm, (int, np.integer)) and n_perm > 0 else 0
        pairs = np.array([np.random.permutation(n_epochs) for _ in range(perm)], np.uint32) if perm else None
        er, pv, surr = _membound.erpac(x, float(sf), self._f_pha, self._f_amp, method=0 if method == "circular" else 1,
                                     smooth=int(smooth or 0) if method == "gc" else 0, n_perm=perm, pairs=pairs, p=float(p),
                                     mcp=2 if mcp == "bonferroni" else 1, dcomplex=1 if self._dcomplex == "wavelet" else 0,
                                     width=float(self._width), pha_cycles=self._cycle[0], amp_cycles=self._cycle[1],
                                     edges=int(edges), n_threads=_threads(n_jobs),
                                     pvalues=method == "circular" or perm > 0, progress=progress,
                                     keep_surrogates=bool(keep), **given)
        self.method = "ERPAC (Voytek et al. 2013)" if method == "circular" else "Gaussian-Copula ERPAC"
        self._erpac, self._pvalues, self._surrogates = er, pv, surr
        return er

    def infer_pvalues(self, p: float = 0.05, mcp: str = "fdr") -> np.ndarray:
        """tensorpac's ``infer_pvalues``: for the circular ERPAC, corrects the current p-values
        over the cells with ``mcp`` ('fdr' or 'bonferroni', as mne's corrections; tensorpac applies
        it to :attr:`pvalues` as they are, so a second call corrects them again, and so does this);
        for the Gaussian-copula ERPAC, maximum statistics over its kept permutations at ``p``."""
        if self._erpac is None:
            raise ValueError("compute the ERPAC first (filterfit or fit)")
        if self.method != "ERPAC (Voytek et al. 2013)":
            if self._surrogates is None:
                raise ValueError("No surrogates computed: run the gc method with n_perm (and keep_surrogates=True)")
            self._pvalues = infer_pvalues(self._erpac, self._surrogates, p=p, mcp="maxstat")
            return self._pvalues
        if mcp == "fdr":
            self._pvalues = _bh(self._pvalues, p)[1]
        elif mcp == "bonferroni":
            self._pvalues = np.minimum(self._pvalues * self._pvalues.size, 1.0)
        else:
            raise ValueError("mcp is 'fdr' or 'bonferroni', not %r" % (mcp,))
        return self._pvalues
