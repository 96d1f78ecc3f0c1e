"""tensorpac's outputs for every idpac on the reference signal, for tests/test_pacgpu.c (issue 23).

Runs tensorpac (pip install tensorpac==0.6.5) on tests/data/pac/signal.npy (8 epochs x 2048
samples at 512 Hz, the 10 x 10 bands of f_pha.npy / f_amp.npy) and writes into OUT:

    m{M}_pac.npy            Pac(idpac=(M, 0, 0)).filterfit(...): (n_amp, n_pha, n_epochs)
    m{M}_s{S}_n{N}.npy      what Pac(idpac=(M, S, N)).filterfit(..., n_perm=10, random_state=RS)
                            returns, for N = 1..4 (tensorpac's own `normalize` on its surrogates)
    m{M}_s{S}_pmax.npy      its infer_pvalues(0.05, 'maxstat'), (n_amp, n_pha)
    m{M}_bins12_pac.npy     methods 2 and 3 with n_bins=12
    shifts_s2.npy, shifts_s3.npy   the amplitude shift of each surrogate (swap-blocks, time-lag: tensorpac
                            rolls the phase right by c, the same pairs as the amplitude shifted left by c)
    perms_s1.npy            (n_perm, n_epochs): surrogate k pairs epoch e's amplitude with the phase of
                            epoch perms[k, e] (swap_pha_amp's permutation)
    m{M}_xamp_pac.npy       filterfit(sf, x, x_amp=numpy.roll(x, -1, axis=0)): phase from epoch e, amplitude
                            from epoch e + 1, M = 1, 2, 6
    m{M}_edges100_pac.npy   filterfit(sf, x, edges=100), M = 1, 2, 5, 6; and m{M}_edges100_s2_n4.npy with
                            10 surrogates (edges_shifts.npy: cuts in [1, 2048 - 200)), M = 1, 2
    m{M}_wavelet_pac.npy    Pac(idpac=(M, 0, 0), dcomplex='wavelet') (width 7), M = 1, 2, 5, 6; and
                            m2_wavelet5_pac.npy with width=5
    erpac_signal.npy        40 epochs x 1024 samples (pac_signals_wavelet, rnd_state=3): with 8 epochs the
                            copula's covariance is singular at some times and tensorpac raises
    erpac_circular.npy, erpac_circular_p.npy, erpac_gc.npy, erpac_gc_smooth3.npy (smooth=3)
                            EventRelatedPac(f_pha[1:4], f_amp[3:6]).filterfit(sf, xe, method=...): (3, 3, 1024)
                            kept for times 0 .. 511 (each time is computed on its own)
    pp{K}_binned.npy, pp{K}_pp.npy   PreferredPhase(f_pha, f_amp).filterfit(sf, x, n_bins=K), K = 12, 72:
                            the binned amplitude (K, n_amp, n_pha, n_epochs) and the preferred phase
    mcp_shifts.npy          200 swap-block shifts (RandomState(RS + k)) for the corrections below
    m{M}_mcp_{MCP}_{P}.npy  Pac(idpac=(M, 2, 0)) with those 200 surrogates, then
                            infer_pvalues(P, MCP) for MCP maxstat, fdr, bonferroni (mne's corrections),
                            M = 1 and 2; P 0.05, and 0.5 / 0.6 where fdr / bonferroni reach significance

tensorpac draws surrogate k from numpy.random.RandomState(RS + k); the files replay those draws.

    python3 tools/gen_pac_methods.py tests/data/pac tests/data/pac/methods
"""
import os
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")
from tensorpac import Pac  # noqa: E402
from tensorpac.methods import normalize  # noqa: E402

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
x = np.load(os.path.join(src, "signal.npy"))
fp, fa = np.load(os.path.join(src, "f_pha.npy")), np.load(os.path.join(src, "f_amp.npy"))
SF, N_PERM, RS = 512.0, 10, 7
n_times = x.shape[1]


def save(name, a):
    np.save(os.path.join(out, name), np.ascontiguousarray(a))


for m in range(1, 7):
    save("m%d_pac.npy" % m, Pac(idpac=(m, 0, 0), f_pha=fp, f_amp=fa, verbose=False).filterfit(SF, x, n_perm=0, n_jobs=1))
for m in (2, 3):
    p = Pac(idpac=(m, 0, 0), f_pha=fp, f_amp=fa, n_bins=12, verbose=False)
    save("m%d_bins12_pac.npy" % m, p.filterfit(SF, x, n_perm=0, n_jobs=1))

save("shifts_s2.npy", np.array([np.random.RandomState(RS + k).randint(1, n_times, (1,))[0] for k in range(N_PERM)], np.int64))
save("shifts_s3.npy", np.array([np.random.RandomState(RS + k).randint(n_times) for k in range(N_PERM)], np.int64))
save("perms_s1.npy", np.array([np.random.RandomState(RS + k).permutation(x.shape[0]) for k in range(N_PERM)], np.int64))

for m in (1, 2, 3, 5, 6):
    for s in (1, 2, 3):
        p = Pac(idpac=(m, s, 0), f_pha=fp, f_amp=fa, verbose=False)
        pac = p.filterfit(SF, x, n_perm=N_PERM, n_jobs=1, random_state=RS)
        save("m%d_s%d_pmax.npy" % (m, s), p.pvalues)
        for n in range(1, 5):
            v = pac.copy()
            normalize(n, v, p.surrogates)
            save("m%d_s%d_n%d.npy" % (m, s, n), v)

save("mcp_shifts.npy", np.array([np.random.RandomState(RS + k).randint(1, n_times, (1,))[0] for k in range(200)], np.int64))
for m in (1, 2):
    p = Pac(idpac=(m, 2, 0), f_pha=fp, f_amp=fa, verbose=False)
    p.filterfit(SF, x, n_perm=200, n_jobs=1, random_state=RS)
    for mcp, pv in (("maxstat", 0.05), ("fdr", 0.05), ("fdr", 0.5), ("bonferroni", 0.05), ("bonferroni", 0.6)):
        save("m%d_mcp_%s_%g.npy" % (m, mcp, pv), p.infer_pvalues(pv, mcp=mcp))

x_amp = np.roll(x, -1, axis=0)
for m in (1, 2, 6):
    p = Pac(idpac=(m, 0, 0), f_pha=fp, f_amp=fa, verbose=False)
    save("m%d_xamp_pac.npy" % m, p.filterfit(SF, x, x_amp=x_amp, n_perm=0, n_jobs=1))
E = 100
for m in (1, 2, 5, 6):
    p = Pac(idpac=(m, 0, 0), f_pha=fp, f_amp=fa, verbose=False)
    save("m%d_edges100_pac.npy" % m, p.filterfit(SF, x, edges=E, n_perm=0, n_jobs=1))
save("edges_shifts.npy", np.array([np.random.RandomState(RS + k).randint(1, n_times - 2 * E, (1,))[0] for k in range(N_PERM)], np.int64))
for m in (1, 2):
    p = Pac(idpac=(m, 2, 4), f_pha=fp, f_amp=fa, verbose=False)
    save("m%d_edges100_s2_n4.npy" % m, p.filterfit(SF, x, edges=E, n_perm=N_PERM, n_jobs=1, random_state=RS))

from tensorpac import PreferredPhase  # noqa: E402
for k in (12, 72):
    binned, pp, _ = PreferredPhase(f_pha=fp, f_amp=fa, verbose=False).filterfit(SF, x, n_bins=k)
    assert binned.shape[0] == k  # no bin empty in the whole call: tensorpac would drop its row
    save("pp%d_binned.npy" % k, binned)
    save("pp%d_pp.npy" % k, pp)

for m in (1, 2, 5, 6):
    p = Pac(idpac=(m, 0, 0), f_pha=fp, f_amp=fa, dcomplex="wavelet", verbose=False)
    save("m%d_wavelet_pac.npy" % m, p.filterfit(SF, x, n_perm=0, n_jobs=1))
p = Pac(idpac=(2, 0, 0), f_pha=fp, f_amp=fa, dcomplex="wavelet", width=5, verbose=False)
save("m2_wavelet5_pac.npy", p.filterfit(SF, x, n_perm=0, n_jobs=1))

from tensorpac import EventRelatedPac  # noqa: E402
from tensorpac.signals import pac_signals_wavelet  # noqa: E402
# 8 epochs leave the copula's covariance singular at some times (tensorpac raises): 40 epochs
xe, _ = pac_signals_wavelet(f_pha=6., f_amp=80., sf=SF, n_times=1024, n_epochs=40, noise=.8, rnd_state=3)
save("erpac_signal.npy", xe)
ep = EventRelatedPac(f_pha=fp[1:4], f_amp=fa[3:6], verbose=False)
save("erpac_circular.npy", ep.filterfit(SF, xe, method="circular")[..., :512])
save("erpac_circular_p.npy", ep.pvalues[..., :512])
save("erpac_gc.npy", EventRelatedPac(f_pha=fp[1:4], f_amp=fa[3:6], verbose=False).filterfit(SF, xe, method="gc")[..., :512])
save("erpac_gc_smooth3.npy", EventRelatedPac(f_pha=fp[1:4], f_amp=fa[3:6], verbose=False).filterfit(
    SF, xe, method="gc", smooth=3, n_jobs=1)[..., :512])
