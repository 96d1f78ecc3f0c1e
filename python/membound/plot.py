"""tensorpac's plotting methods (pacplot, comodulogram, polar, show, savefig) with matplotlib,
imported when a plot is asked for: without it those methods raise ImportError saying so."""
from typing import Any, Optional, Sequence

import numpy as np


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
        ``pvalues >= p`` masked, colour limits symmetric about 0 when the values change sign,
        'imshow', 'contour' or 'pcolor', optional significance contours (``levels``), a colour
        bar. Returns the matplotlib axes. ``interp`` is not supported here."""
        pac = np.asarray(pac)
        if pac.ndim != 2:
            raise ValueError("The PAC variable must have two dimensions.")
        if interp is not None:
            raise NotImplementedError("interp (tensorpac's map interpolation) is not supported by membound's plots")
        plt = _pyplot()
        pvalues = np.zeros_like(pac) if pvalues is None else np.asarray(pvalues)
        masked = np.ma.masked_array(pac, mask=pvalues >= p)
        if polar:
            plotas = "pcolor"
            sub = [int(k) for k in str(subplot)] if isinstance(subplot, int) else list(subplot)
            plt.subplot(*sub, projection="polar")
        if vmin is None and vmax is None:
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
        return self.pacplot(pac, self.xvec, self.yvec, xlabel, ylabel, cblabel, **kwargs)

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
        """amp (n_bins, n_amp) over phase (xvec) and amplitude frequency (yvec) in polar axes."""
        return self.pacplot(np.asarray(amp), xvec, yvec, polar=True, interp=interp, **kwargs)
