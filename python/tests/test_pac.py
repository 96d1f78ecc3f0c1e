"""membound.Pac against tensorpac 0.6.5's own outputs (tests/data/pac/methods, written by
tools/gen_pac_methods.py with tensorpac): every measure, surrogate kind and normalisation with
tensorpac's random_state draws, p-values by each correction, edges, x_amp, the wavelet, and the
drop-in test: the same script run with tensorpac when it can be installed here."""
import os
import subprocess
import sys

import numpy as np
import pytest

import membound

D = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "pac")


def load(name):
    return np.load(os.path.join(D, name))


X, FP, FA = load("signal.npy"), load("f_pha.npy"), load("f_amp.npy")
SF, RS = 512.0, 7


# The circular ERPAC's p = exp(-n rho^2 / 2), n = 40 epochs, moves up to 3.8 times rho's error (at
# rho = 1 / sqrt(40)) and the correction over the cells multiplies that again: as the C test, 1e-11.
ERPAC_P_TOL = 1e-11


def close(got, ref, tol=1e-9):
    """as the C tests: the largest difference over the largest value"""
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= tol * np.abs(ref).max()


@pytest.mark.parametrize("m", range(1, 7))
def test_measures(m):
    close(membound.Pac(idpac=(m, 0, 0), f_pha=FP, f_amp=FA).filterfit(SF, X, n_perm=0, n_jobs=1),
          load("methods/m%d_pac.npy" % m))


@pytest.mark.parametrize("m", (1, 2, 3, 5, 6))
@pytest.mark.parametrize("s", (1, 2, 3))
def test_surrogates_and_normalisations(m, s):
    """tensorpac's draws for random_state: the normalised results and the maxstat p-values"""
    for n in range(1, 5):
        p = membound.Pac(idpac=(m, s, n), f_pha=FP, f_amp=FA)
        close(p.filterfit(SF, X, n_perm=10, n_jobs=2, random_state=RS), load("methods/m%d_s%d_n%d.npy" % (m, s, n)))
        assert p.surrogates.shape == (10, 10, 10, 8) and p.pac.shape == (10, 10, 8)
    np.testing.assert_array_equal(p.pvalues, load("methods/m%d_s%d_pmax.npy" % (m, s)))
    np.testing.assert_array_equal(p.infer_pvalues(0.05, "maxstat"), load("methods/m%d_s%d_pmax.npy" % (m, s)))


@pytest.mark.parametrize("m", (1, 2))
def test_corrections(m):
    p = membound.Pac(idpac=(m, 2, 0), f_pha=FP, f_amp=FA)
    p.filterfit(SF, X, n_perm=200, random_state=RS)
    for mcp, pv in (("maxstat", 0.05), ("fdr", 0.05), ("fdr", 0.5), ("bonferroni", 0.05), ("bonferroni", 0.6)):
        ref = load("methods/m%d_mcp_%s_%g.npy" % (m, mcp, pv))
        np.testing.assert_allclose(p.infer_pvalues(pv, mcp=mcp), ref, rtol=1e-12)
        q = membound.Pac(idpac=(m, 2, 0), f_pha=FP, f_amp=FA)
        q.filterfit(SF, X, n_perm=200, random_state=RS, p=pv, mcp=mcp, keep_surrogates=False)
        np.testing.assert_allclose(q.pvalues, ref, rtol=1e-12)
        assert q.surrogates is None


def test_edges_xamp_wavelet_bins():
    for m in (1, 2, 5, 6):
        close(membound.Pac(idpac=(m, 0, 0), f_pha=FP, f_amp=FA).filterfit(SF, X, edges=100, n_perm=0),
              load("methods/m%d_edges100_pac.npy" % m))
        close(membound.Pac(idpac=(m, 0, 0), f_pha=FP, f_amp=FA, dcomplex="wavelet").filterfit(SF, X, n_perm=0),
              load("methods/m%d_wavelet_pac.npy" % m))
    for m in (1, 2):
        close(membound.Pac(idpac=(m, 2, 4), f_pha=FP, f_amp=FA).filterfit(SF, X, edges=100, n_perm=10, random_state=RS),
              load("methods/m%d_edges100_s2_n4.npy" % m))
    for m in (1, 2, 6):
        close(membound.Pac(idpac=(m, 0, 0), f_pha=FP, f_amp=FA).filterfit(SF, X, x_amp=np.roll(X, -1, axis=0), n_perm=0),
              load("methods/m%d_xamp_pac.npy" % m))
    for m in (2, 3):
        close(membound.Pac(idpac=(m, 0, 0), f_pha=FP, f_amp=FA, n_bins=12).filterfit(SF, X, n_perm=0),
              load("methods/m%d_bins12_pac.npy" % m))


def test_tensorpac_forms_and_quirks():
    p = membound.Pac(idpac=(2, 2, 4), f_pha="lres", f_amp="mres")
    assert p.f_pha.shape == (10, 2) and p.f_amp.shape == (30, 2)
    np.testing.assert_allclose(p.f_pha[0], [1.5, 2.5])
    np.testing.assert_allclose(membound.Pac(f_pha=(2, 20, 4, 2)).f_pha[:2], [[2, 6], [4, 8]])
    np.testing.assert_allclose(membound.Pac(f_pha=[2, 4, 8]).f_pha, [[2, 4], [4, 8]])
    np.testing.assert_allclose(membound.Pac(f_pha=[[2, 4], [5, 7]]).f_pha, [[2, 4], [5, 7]])
    assert str(p) == "Modulation Index (MI, Tort et al. 2010)" and p.idpac == (2, 2, 4)
    with pytest.warns(UserWarning, match="ndPAC"):
        assert membound.Pac(idpac=(4, 2, 1)).idpac == (4, 0, 0)
    with pytest.warns(UserWarning, match="normalisation"):
        assert membound.Pac(idpac=(2, 0, 3)).idpac == (2, 0, 0)
    q = membound.Pac(idpac=(2, 2, 4), f_pha=FP, f_amp=FA)
    close(q.filterfit(SF, X, n_perm=0), load("methods/m2_pac.npy"))  # no surrogates: tensorpac's (2, 0, 0)
    assert q.idpac == (2, 0, 0) and q.pvalues is None


def test_filter_matches_filterfit_inputs():
    p = membound.Pac(idpac=(2, 0, 0), f_pha=FP, f_amp=FA)
    pha, amp = p.filter(SF, X, "phase"), p.filter(SF, X, "amplitude", edges=10)
    assert pha.shape == (10, 8, 2048) and amp.shape == (10, 8, 2028)
    assert np.abs(pha).max() <= np.pi and amp.min() >= 0


def _hilbert_angle(x):
    """numpy's version of what tensorpac's filterfit does to the PLV's amplitudes before its fit:
    the angle of scipy's hilbert (2048 samples: no padding)"""
    n = x.shape[-1]
    h = np.zeros(n)
    h[0], h[1:n // 2], h[n // 2] = 1, 2, 1
    return np.angle(np.fft.ifft(np.fft.fft(x, axis=-1) * h, axis=-1))


@pytest.mark.parametrize("m", range(1, 7))
def test_fit_on_given_phases_and_amplitudes(m):
    """tensorpac's filterfit is its filter then its fit: fit on filter's outputs gives filterfit's
    references, every surrogate kind and normalisation, maxstat p-values equal"""
    p = membound.Pac(idpac=(m, 0, 0), f_pha=FP, f_amp=FA)
    pha, amp = p.filter(SF, X, "phase"), p.filter(SF, X, "amplitude")
    if m == 5:
        amp = _hilbert_angle(amp)
    close(p.fit(pha, amp, n_perm=0), load("methods/m%d_pac.npy" % m))
    for s in ((1, 2, 3) if m != 4 else ()):
        for n in range(1, 5):
            q = membound.Pac(idpac=(m, s, n), f_pha=FP, f_amp=FA)
            close(q.fit(pha, amp, n_perm=10, random_state=RS), load("methods/m%d_s%d_n%d.npy" % (m, s, n)))
        np.testing.assert_array_equal(q.pvalues, load("methods/m%d_s%d_pmax.npy" % (m, s)))


def test_fit_forms_and_bad_input():
    p = membound.Pac(idpac=(2, 0, 0), f_pha=FP, f_amp=FA)
    pha, amp = p.filter(SF, X, "phase"), p.filter(SF, X, "amplitude")
    ref = p.fit(pha, amp)
    # phases in [0, 2 pi) are wrapped as tensorpac wraps them: the same bins
    close(p.fit(np.where(pha < 0, pha + 2 * np.pi, pha), amp), ref, 1e-12)
    # the wavelet's filter, then fit: tensorpac's wavelet filterfit
    w = membound.Pac(idpac=(2, 0, 0), f_pha=FP, f_amp=FA, dcomplex="wavelet")
    close(w.fit(w.filter(SF, X, "phase"), w.filter(SF, X, "amplitude")), load("methods/m2_wavelet_pac.npy"))
    with pytest.raises(ValueError, match="keepfilt"):  # as tensorpac
        w.filter(SF, X, "phase", keepfilt=True)
    with pytest.warns(UserWarning, match="degrees"):
        p.fit(np.degrees(pha), amp)
    with pytest.raises(ValueError, match="same number of trials"):
        p.fit(pha, amp[:, :3])
    with pytest.raises(ValueError, match="n_pha, n_epochs, n_times"):
        p.fit(pha[0], amp)
    binned, pp, _ = membound.PreferredPhase(f_pha=FP, f_amp=FA).fit(pha, amp, n_bins=12)
    close(binned, load("methods/pp12_binned.npy"), 1e-12)
    np.testing.assert_array_equal(pp, load("methods/pp12_pp.npy"))
    xe = load("methods/erpac_signal.npy")
    ep = membound.EventRelatedPac(f_pha=FP[1:4], f_amp=FA[3:6])
    ph, am = ep.filter(SF, xe, "phase"), ep.filter(SF, xe, "amplitude")
    close(ep.fit(ph, am, method="circular")[..., :512], load("methods/erpac_circular.npy"), 1e-12)
    close(ep.pvalues[..., :512], load("methods/erpac_circular_p.npy"), ERPAC_P_TOL)
    close(ep.fit(ph, am, method="gc", smooth=3)[..., :512], load("methods/erpac_gc_smooth3.npy"), 1e-12)


def test_bad_input():
    p = membound.Pac(idpac=(2, 2, 0), f_pha=FP, f_amp=FA)
    with pytest.raises(ValueError, match="same shape"):
        p.filterfit(SF, X, x_amp=X[:3])
    with pytest.raises(membound.ArgumentError, match="band"):
        membound.Pac(f_pha=[[2, 4]], f_amp=[[200, 300]]).filterfit(SF, X, n_perm=0)
    with pytest.raises(ValueError, match="mcp"):
        p.filterfit(SF, X, n_perm=10, mcp="holm")
    with pytest.raises(membound.ArgumentError, match="edges"):
        p.filterfit(SF, X, n_perm=10, edges=1500)
    with pytest.raises(ValueError, match="idpac"):
        membound.Pac(idpac=(7, 0, 0))
    with pytest.raises(ValueError, match="preset"):
        membound.Pac(f_pha="ultra")


SCRIPT = """
import sys, warnings
import numpy as np
warnings.filterwarnings("ignore")
if sys.argv[1] == "tensorpac":
    from tensorpac import Pac, PreferredPhase, EventRelatedPac
    from tensorpac.utils import pac_trivec, pac_vec
    from tensorpac.visu import mapinterpolation
else:
    from membound import Pac, PreferredPhase, EventRelatedPac
    from membound.utils import pac_trivec, pac_vec
    from membound.plot import mapinterpolation
x = np.load(sys.argv[2])
p = Pac(idpac=(2, 2, 4), f_pha="lres", f_amp="lres")
out = p.filterfit(512.0, x, n_perm=20, random_state=3, n_jobs=1)
res, pvs = [out, p.pac], [p.pvalues]
pha, amp = p.filter(512.0, x, "phase", n_jobs=1), p.filter(512.0, x, "amplitude", n_jobs=1)
for m in range(1, 7):  # fit on the phases and amplitudes filter gave
    q = Pac(idpac=(m, 0, 0) if m == 4 else (m, 2, 4), f_pha="lres", f_amp="lres")
    res.append(q.fit(pha, amp, n_perm=20, random_state=3, n_jobs=1))
    pvs.append(q.pvalues if m != 4 else np.zeros_like(p.pvalues))
w = Pac(idpac=(1, 0, 0), f_pha="lres", f_amp="lres", dcomplex="wavelet", width=6)
for ftype in ("phase", "amplitude"):
    res.append(w.filter(512.0, x[:3], ftype, n_jobs=1))
f, tridx = pac_trivec(60, 120, 20)
res += [f, tridx.astype(float), np.concatenate(pac_vec("hres", [[60, 70], [80, 90]]))]
res += list(mapinterpolation(out[..., 0], p.xvec, p.yvec, 0.5, 0.25))
binned, pp, _ = PreferredPhase(f_pha="lres", f_amp="lres").fit(pha, amp, n_bins=18)
res.append(pp)
e = EventRelatedPac(f_pha="lres", f_amp="lres")
erpac = e.fit(pha[:2], amp[:2], method="gc")  # the circular one needs mne in tensorpac
xe = np.load(sys.argv[5])  # 40 epochs: with 8, tensorpac's copula is singular at some times
e = EventRelatedPac(f_pha=[[5, 7]], f_amp=[[70, 90], [80, 100]])
np.random.seed(1)  # the gc ERPAC's permutations come from numpy's global generator, in both
e.filterfit(512.0, xe, method="gc", n_perm=5, n_jobs=1)
res += [e.surrogates, e.pvalues, e.infer_pvalues(p=0.5)]
np.save(sys.argv[3], np.concatenate([r.ravel() for r in res + [binned, erpac]]))
np.save(sys.argv[4], np.stack(pvs))
"""


def test_dropin_script_with_tensorpac(tmp_path):
    """the same script with `from tensorpac import Pac` and `from membound import Pac` (tensorpac in
    a virtual environment of its own, from pip; skipped, saying so, when it cannot be installed)"""
    venv = tmp_path / "venv"
    py = venv / "bin" / "python"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        # numpy as this interpreter's (membound was built against it), a scipy that goes with it
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--retries", "1", "--timeout", "20", "tensorpac==0.6.5", "matplotlib", "numpy==" + np.__version__,
                        "scipy<1.12" if np.__version__ < "1.25" else "scipy"], check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip("tensorpac could not be installed with pip here (%s): the drop-in comparison is not run"
                    % type(e).__name__)
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "xe.npy", load("methods/erpac_signal.npy"))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(membound.__file__))))
    for who in ("tensorpac", "membound"):
        subprocess.run([str(py), str(script), who, str(tmp_path / "x.npy"), str(tmp_path / (who + "_pac.npy")),
                        str(tmp_path / (who + "_pv.npy")), str(tmp_path / "xe.npy")], check=True, env=env, timeout=300)
    close(np.load(tmp_path / "membound_pac.npy"), np.load(tmp_path / "tensorpac_pac.npy"))  # filterfit, fit, PreferredPhase, ERPAC
    np.testing.assert_array_equal(np.load(tmp_path / "membound_pv.npy"), np.load(tmp_path / "tensorpac_pv.npy"))


@pytest.mark.parametrize("k", (12, 72))
def test_preferred_phase(k):
    binned, pp, polar = membound.PreferredPhase(f_pha=FP, f_amp=FA).filterfit(SF, X, n_bins=k)
    close(binned, load("methods/pp%d_binned.npy" % k), 1e-12)
    np.testing.assert_array_equal(pp, load("methods/pp%d_pp.npy" % k))
    np.testing.assert_allclose(polar, np.linspace(-np.pi, np.pi, k))


def test_event_related_pac():
    xe = load("methods/erpac_signal.npy")
    ep = membound.EventRelatedPac(f_pha=FP[1:4], f_amp=FA[3:6])
    close(ep.filterfit(SF, xe, method="circular")[..., :512], load("methods/erpac_circular.npy"), 1e-12)
    close(ep.pvalues[..., :512], load("methods/erpac_circular_p.npy"), ERPAC_P_TOL)
    assert ep.method == "ERPAC (Voytek et al. 2013)"
    gc = membound.EventRelatedPac(f_pha=FP[1:4], f_amp=FA[3:6])
    close(gc.filterfit(SF, xe, method="gc")[..., :512], load("methods/erpac_gc.npy"), 1e-12)
    assert gc.pvalues is None
    close(gc.filterfit(SF, xe, method="gc", smooth=3)[..., :512], load("methods/erpac_gc_smooth3.npy"), 1e-12)
    np.random.seed(0)
    gc.filterfit(SF, xe, method="gc", n_perm=20)
    assert gc.pvalues.shape == gc.erpac.shape and ((gc.pvalues > 0) & (gc.pvalues <= 1)).all()
    with pytest.raises(ValueError, match="method"):
        gc.filterfit(SF, xe, method="voytek")
    assert gc.surrogates.shape == (20, 3, 3, 1024)
    np.testing.assert_array_equal(gc.infer_pvalues(0.05), gc.pvalues)  # C's maxstat = the kept surrogates'
    gc.filterfit(SF, xe, method="gc", n_perm=20, keep_surrogates=False)
    with pytest.raises(ValueError, match="No surrogates"):
        gc.infer_pvalues()
    # tensorpac corrects the current p-values again on each call (mne's fdr / bonferroni)
    from membound.pac import _bh
    before = ep.pvalues.copy()
    np.testing.assert_array_equal(ep.infer_pvalues(0.05, "fdr"), _bh(before, 0.05)[1])
    np.testing.assert_array_equal(ep.infer_pvalues(0.05, "bonferroni"), np.minimum(_bh(before, 0.05)[1] * before.size, 1))


def test_map_interpolation():
    """tensorpac's interp2 is bilinear: exact on a plane; out of range gives extrapval"""
    from membound.plot import interp2, mapinterpolation
    z = np.add.outer(3.0 * np.arange(5), 0.5 * np.arange(7))  # z[r, c] = 3 r + c / 2
    xi, yi = np.meshgrid(np.arange(0, 6.01, 0.25), np.arange(0, 4.01, 0.5))
    np.testing.assert_allclose(interp2(z, xi, yi), 3 * yi + 0.5 * xi, rtol=1e-15)
    assert interp2(z, np.array([-1.0, 7.5]), np.array([1.0, 1.0]), extrapval=-9).tolist() == [-9, -9]
    m, xv, yv = mapinterpolation(z, np.arange(7) * 2.0, np.arange(5) * 10.0, 0.5, 0.5)
    assert m.shape == (8, 12) and xv[0] == 0 and xv[-1] == 12 and yv[-1] == 40
    with pytest.raises(ValueError, match="too small"):
        interp2(z[:1], xi, yi)
    f, tridx = membound.utils.pac_trivec(60, 100, 10)
    assert f.tolist()[:4] == [[60, 70], [60, 80], [60, 90], [60, 100]] and len(f) == 10
    assert tridx.tolist()[:4] == [[3, 0], [2, 0], [1, 0], [0, 0]] and tridx.tolist()[-1] == [0, 3]


def test_draws_are_numpys():
    """the surrogates' draws made in C equal numpy's RandomState(random_state + k) (tensorpac's)"""
    from membound._membound import tensorpac_draws
    for seed in (0, 7, 12345, 2 ** 32 - 10):
        for n in (2, 100, 2048, 70000):
            c2, c3 = tensorpac_draws(2, 5, seed, n, 3), tensorpac_draws(3, 5, seed, n, 3)
            assert list(c2) == [np.random.RandomState(seed + k).randint(1, n, (1,))[0] for k in range(5)]
            assert list(c3) == [np.random.RandomState(seed + k).randint(n) for k in range(5)]
        for n_epochs in (1, 2, 8, 41):
            p = tensorpac_draws(1, 3, seed, 10, n_epochs)
            for k in range(3):
                np.testing.assert_array_equal(p[k], np.random.RandomState(seed + k).permutation(n_epochs))
    with pytest.raises(membound.ArgumentError):
        tensorpac_draws(2, 20, 2 ** 32 - 10, 100, 1)


@pytest.mark.filterwarnings("ignore:Warning. converting a masked element to nan")
def test_plots(tmp_path, monkeypatch):
    """with matplotlib the comodulogram and polar plots draw and save; without it they raise
    ImportError saying so (the results never need it)"""
    p = membound.Pac(idpac=(2, 2, 0), f_pha=FP, f_amp=FA)
    pac = p.filterfit(SF, X, n_perm=10, random_state=RS)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        ax = p.comodulogram(pac, pvalues=p.pvalues, title="MI", plotas="contour")
        assert ax.get_title() == "MI"
        p.savefig(str(tmp_path / "como.png"), dpi=50)
        assert (tmp_path / "como.png").stat().st_size > 1000
        plt.close("all")
        binned, pp, polar = membound.PreferredPhase(f_pha=FP, f_amp=FA).filterfit(SF, X)
        membound.PreferredPhase(f_pha=FP, f_amp=FA).polar(binned[:, :, 0, 0].T, polar, p.yvec, interp=0.5)
        plt.close("all")
        ax = p.comodulogram(pac, pvalues=p.pvalues, interp=(0.5, 0.5))  # a 19 x 19 map, p-values with it
        assert ax.get_images()[0].get_array().shape == (18, 18)
        plt.close("all")
        f, tridx = membound.utils.pac_trivec(60, 160, 20)
        t = membound.Pac(idpac=(1, 0, 0), f_pha=[[5, 7]], f_amp=f)
        ax = t.triplot(t.filterfit(SF, X[:2], n_perm=0).mean(-1)[:, 0], f, tridx)
        data = ax.get_images()[0].get_array()
        assert data.shape == (6, 6) and data.mask.sum() == 21  # the lower triangle of 15 bands shown
        p.savefig(str(tmp_path / "tri.png"), dpi=50)
        plt.close("all")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="matplotlib"):
        p.comodulogram(pac)
