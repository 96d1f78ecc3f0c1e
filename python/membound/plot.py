"""tensorpac's plotting methods (pacplot, comodulogram, triplot, polar, show, savefig) with
matplotlib, imported when a plot is asked for: without it those methods raise ImportError saying
so. ``mapinterpolation`` is tensorpac's map interpolation (Matlab's interp2, linear), which
``interp=`` uses."""
from typing import Any, Optional, Sequence

import numpy as np


def interp2(z: np.ndarray, xi: np.ndarray, yi: np.ndarray, extrapval: float = 0.0) -> np.ndarray:
    """Matlab's interp2(z, xi, yi, 'linear') as tensorpac's: z at the fractional (column xi, row
    yi) positions, bilinear; positions outside the grid get ``extrapval``."""
    z = np.asarray(z, dtype=np.float64)
    nrows, ncols = z.shape
    if nrows < 2 or ncols < 2:
        raise ValueError("z shape is too small: at least 2 x 2 to interpolate")
    x, y = np.array(xi, dtype=np.float64), np.array(yi, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError("sizes of X indexes and Y-indexes must match")
    x_bad, y_bad = (x < 0) | (x > ncols - 1), (y < 0) | (y > nrows - 1)
    x[x_bad], y[y_bad] = 0, 0
    ndx = (np.floor(y) * ncols + np.floor(x)).astype(np.int64)
    on_x, on_y = x == ncols - 1, y == nrows - 1  # the last column or row: the cell before it, at 1
    x, y = x - np.floor(x), y - np.floor(y)
    x[on_x] += 1
    ndx[on_x] -= 1
    y[on_y] += 1
    ndx[on_y] -= ncols
    zf = z.ravel()
    f = (zf[ndx] * (1 - y) + zf[ndx + ncols] * y) * (1 - x) + (zf[ndx + 1] * (1 - y) + zf[ndx + ncols + 1] * y) * x
    f[x_bad | y_bad] = extrapval
    return f


def mapinterpolation(data: np.ndarray, x: Optional[Sequence[float]] = None, y: Optional[Sequence[float]] = None,
                     interpx: float = 1, interpy: float = 1):
    """tensorpac's map interpolation: data (rows, columns) at steps of ``interpx`` columns and
    ``interpy`` rows; returns the map and its axis vectors, spread as tensorpac spreads them
    (the x vector over the new rows' count, the y vector over the columns', its quirk kept)."""
    data = np.asarray(data)
    dim2, dim1 = data.shape
    x = np.arange(0, dim1, interpx) if x is None else np.asarray(x)
    y = np.arange(0, dim2, interpy) if y is None else np.asarray(y)
    xi, yi = np.meshgrid(np.arange(0, dim1 - 1, interpx), np.arange(0, dim2 - 1, interpy))
    out = interp2(data, xi, yi)
    return out, np.linspace(x[0], x[-1], out.shape[0]), np.linspace(y[0], y[-1], out.shape[1])


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib (pip install matplotlib); the results themselves do not") from None
    return plt


class PacPlots:
    """The plotting methods the tensorpac classes share."""

    def pacplot(self, pac: np.ndarray, xvec: Sequence[float], yvec: Sequence[float], xlabel: str = "", ylabel: str = "",
                cblabel: str = "", title: str = "", fz_labels: float = 12, fz_title: float = 13, fz_cblabel: float = 12,
                cmap: str = "viridis", vmin: Optional[float] = None, vmax: Optional[float] = None,
                under: Optional[str] = None, over: Optional[str] = None, bad: Optional[str] = None,
                pvalues: Optional[np.ndarray] = None, p: float = 0.05, interp: Any = None, rmaxis: bool = False,
                dpaxis: bool = False, plotas: str = "imshow", ncontours: int = 5, levels: Any = None,
                levelcmap: str = "Reds", polar: bool = False, colorbar: bool = True, y: float = 1.02,
                subplot: Any = 111) -> Any:
        """Draw a 2-D array (amplitude x phase, or anything) as tensorpac's pacplot does: cells with
        ``pvalues >= p`` masked, colour limits symmetric about 0 when the values change sign (after
        :meth:`comodulogram`; tensorpac's triplot and polar turn that off), 'imshow', 'contour' or
        'pcolor', optional significance contours (``levels``), a colour bar; ``interp=(dx, dy)``
        interpolates the map (and the p-values) at those steps first (:func:`mapinterpolation`).
        Returns the matplotlib axes."""
        pac = np.asanyarray(pac)  # a masked array keeps its mask (triplot's triangle)
        if pac.ndim != 2:
            raise ValueError("The PAC variable must have two dimensions.")
        plt = _pyplot()
        pvalues = np.zeros_like(pac) if pvalues is None else np.asarray(pvalues)
        if interp is not None:
            pac, xvec, yvec = mapinterpolation(np.ma.getdata(pac), xvec, yvec, interp[0], interp[1])
            pvalues = mapinterpolation(pvalues, getattr(self, "xvec", None), getattr(self, "yvec", None),
                                       interp[0], interp[1])[0]
        masked = np.ma.masked_array(pac, mask=(pvalues >= p) | np.ma.getmaskarray(pac))
        if polar:
            plotas = "pcolor"
            sub = [int(k) for k in str(subplot)] if isinstance(subplot, int) else list(subplot)
            plt.subplot(*sub, projection="polar")
        if vmin is None and vmax is None and getattr(self, "_autovmM", True):
            shown = masked.compressed() if masked.count() else pac.reshape(-1)
            vmin, vmax = min(0.0, float(np.nanmin(shown))), max(0.0, float(np.nanmax(shown)))
            if vmin < 0 < vmax:
                vmax = max(vmax, -vmin)
                vmin = -vmax
        data = masked.data if levels is not None else masked
        xvec, yvec = np.asarray(xvec), np.asarray(yvec)
        if plotas == "imshow":
            im = plt.imshow(data, aspect="auto", cmap=cmap, origin="upper", vmin=vmin, vmax=vmax, interpolation="none",
                            extent=[xvec[0], xvec[-1], yvec[-1], yvec[0]])
            plt.gca().invert_yaxis()
        elif plotas == "contour":
            im = plt.contourf(xvec, yvec, data, ncontours, cmap=cmap, vmin=vmin, vmax=vmax)
        elif plotas == "pcolor":
            plt.gca().grid(False)
            im = plt.pcolormesh(xvec, yvec, data, cmap=cmap, vmin=vmin, vmax=vmax, antialiased=True)
        else:
            raise ValueError("plotas is 'imshow', 'contour' or 'pcolor', not %r" % (plotas,))
        self._plt_im = im
        if levels is not None:
            levels = [levels] if isinstance(levels, (int, float)) else levels
            plt.contour(pvalues, extent=[xvec[0], xvec[-1], yvec[0], yvec[-1]], levels=levels, cmap=levelcmap)
        for setter, color in ((im.cmap.set_under, under), (im.cmap.set_over, over), (im.cmap.set_bad, bad)):
            if color is not None:
                setter(color=color)
        plt.axis("tight")
        plt.xlabel(xlabel, fontsize=fz_labels)
        plt.ylabel(ylabel, fontsize=fz_labels)
        plt.title(title, y=y, fontsize=fz_title)
        plt.clim(vmin=vmin, vmax=vmax)
        if colorbar:
            cb = plt.colorbar(im, shrink=0.7, pad=0.01, aspect=10)
            cb.set_label(cblabel, fontsize=fz_cblabel)
            cb.outline.set_visible(False)
        ax = plt.gca()
        if rmaxis:
            for loc in ("top", "right"):
                ax.spines[loc].set_color("none")
        if dpaxis:
            for loc in ("left", "bottom"):
                ax.spines[loc].set_position(("outward", 10))
        if polar:
            ax.grid(True)
            ax.set_rlabel_position(0)
            ax.set_thetamin(-180)
            ax.set_thetamax(180)
            ax.set_thetagrids([-135, -90, -45, 0, 45, 90, 135, 180])
        return ax

    def comodulogram(self, pac: np.ndarray, xlabel: str = "Frequency for phase (hz)",
                     ylabel: str = "Frequency for amplitude (hz)", cblabel: str = "PAC values", **kwargs: Any) -> Any:
        """The comodulogram of pac (n_amp, n_pha); a 3-D pac is averaged over its last axis first.
        Further arguments go to :meth:`pacplot`."""
        pac = np.asarray(pac)
        if pac.ndim == 3:
            pac = pac.mean(-1)
        self._autovmM = True
        return self.pacplot(pac, self.xvec, self.yvec, xlabel, ylabel, cblabel, **kwargs)

    def triplot(self, pac: np.ndarray, fvec: np.ndarray, tridx: np.ndarray, xlabel: str = "Starting frequency (hz)",
                ylabel: str = "Ending frequency (hz)", cblabel: str = "PAC values", bad: str = "lightgray",
                **kwargs: Any) -> Any:
        """tensorpac's triangular plot: which [start, end] band couples best. pac holds one value
        per band of :func:`membound.utils.pac_trivec`'s ``fvec`` (its ``tridx`` places them);
        further arguments go to :meth:`pacplot`."""
        pac, tridx, fvec = np.squeeze(np.asarray(pac)), np.squeeze(np.asarray(tridx)).astype(int), np.asarray(fvec)
        if pac.ndim != 1:
            raise ValueError("The PAC variable must be a row vector.")
        if len(pac) != tridx.shape[0]:
            raise ValueError("PAC and tridx variables must have the same length.")
        n = tridx.max() + 2
        rpac = np.zeros((n, n), dtype=float)
        rpac[tridx[:, 0], tridx[:, 1]] = pac
        mask = np.zeros_like(rpac, dtype=bool)
        mask[np.triu_indices_from(mask)] = True
        rpac = np.ma.masked_array(np.flipud(rpac), mask=mask)
        vector = fvec[tridx[:, 0] == 0, 0]
        xvec = yvec = np.append(vector, [fvec.max()])
        self._autovmM = False
        return self.pacplot(rpac, xvec, yvec, xlabel, ylabel, cblabel, bad=bad, **kwargs)

    def show(self) -> None:
        """matplotlib's show."""
        _pyplot().show()

    def savefig(self, filename: str, dpi: int = 600) -> None:
        """Save the current figure (bbox tight)."""
        _pyplot().savefig(filename, dpi=dpi, bbox_inches="tight")


class PolarPlots(PacPlots):
    """PreferredPhase's polar plot."""

    def polar(self, amp: np.ndarray, xvec: Sequence[float], yvec: Sequence[float], interp: Any = None,
              **kwargs: Any) -> Any:
        """amp (n_bins, n_amp) over phase (xvec) and amplitude frequency (yvec) in polar axes;
        ``interp``: a step to interpolate the amplitude axis at, as tensorpac's."""
        amp = np.asarray(amp)
        if interp is not None:
            amp, yvec, xvec = mapinterpolation(amp, yvec, xvec, interp, 1)
        self._autovmM = False
        return self.pacplot(amp, xvec, yvec, polar=True, **kwargs)
