"""Tests of the membound package (run by make test through tests/run.sh, part python, with the
extension built into build/python): against the golden data the C tests use, zero-copy inputs,
the GIL released during a run, progress callables, errors carrying the headers' messages."""
import os
import sys
import threading

import numpy as np
import pytest

import membound

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "prom2d")


def golden(name):
    return np.load(os.path.join(DATA, name))


def test_build_and_memory_info():
    info = membound.build_info()
    assert [line.split()[0] for line in info] == ["tensorpool", "stat_stream", "prom2d", "pacgpu"]
    assert all(line.split()[1] == membound.__version__ for line in info)
    mem = membound.memory_info()
    assert mem["mem_total"] > 0 and 0 < mem["usable"] <= mem["mem_total"]
    assert mem["cgroup_version"] in (0, 1, 2)


def test_pool_stats_and_budget():
    pool = membound.Pool(budget_bytes=64 << 20)
    stats = pool.stats()
    assert stats["budget"] == 64 << 20 and stats["bytes_live"] == 0
    posterior = golden("posterior_200.npy")
    membound.prominence(posterior, pool=pool, n_threads=1)
    after = pool.stats()
    assert after["allocs"] > 0 and after["allocs"] == after["frees"] and after["peak_live"] > 0
    tight = membound.Pool(budget_bytes=4096)
    with pytest.raises(membound.BudgetError, match="budget") as e:
        membound.prominence(posterior, pool=tight)
    assert isinstance(e.value, MemoryError) and isinstance(e.value, membound.Error)
    with pytest.raises(ValueError):
        membound.Pool(budget_bytes=0)


def test_prominence_pypho_reference():
    """mode='pypho' gives pyPho's peaks (t, ix, iy, height, prominence) and masks bit for bit"""
    posterior = golden("posterior_200.npy")
    ref, packed = golden("pypho_peaks.npy"), golden("pypho_masks_packed.npy")
    peaks, masks = membound.prominence(posterior, alphas=[0.1, 0.5, 0.9], mode="pypho")
    assert peaks.shape == (len(ref), 6) and peaks.dtype == np.float64
    np.testing.assert_array_equal(peaks[:, :4], ref[:, :4])
    np.testing.assert_allclose(peaks[:, 4], ref[:, 4], rtol=1e-12)
    assert masks.shape == (3,) + posterior.shape and masks.dtype == np.bool_
    np.testing.assert_array_equal(np.packbits(masks, axis=-1, bitorder="little"), packed)


def test_prominence_exact_reference():
    """exact mode on the first 20 bins equals the union-find reference (height, prominence, col)"""
    posterior = golden("posterior_200.npy")[:, :, :20]
    ref = golden("uf8_peaks.npy")
    ref = ref[ref[:, 4] > 0]
    peaks = membound.prominence(posterior)
    assert len(peaks) == len(ref)
    mine = {(int(r[0]), int(r[1]), int(r[2])): r for r in peaks}
    for r in ref:
        p = mine[(int(r[0]), int(r[1]), int(r[2]))]
        assert p[3] == r[3] and p[4] == pytest.approx(r[4], rel=1e-12)
        assert (np.isnan(p[5]) and np.isnan(r[5])) or p[5] == r[5]


def test_prominence_layouts_without_copy():
    """float32 and float64 in any strides give the same peaks as a C-ordered copy"""
    posterior = golden("posterior_200.npy")[:, :, :30]
    want = membound.prominence(np.ascontiguousarray(posterior))
    f_order = np.asfortranarray(posterior)
    np.testing.assert_array_equal(membound.prominence(f_order), want)
    strided = np.repeat(posterior, 2, axis=2)[:, :, ::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(membound.prominence(strided), want)
    single = membound.prominence(posterior.astype(np.float32))
    assert single.shape[1] == 6 and len(single) > 0
    one = membound.prominence(posterior[:, :, 3])
    np.testing.assert_array_equal(one[:, 1:], want[want[:, 0] == 3][:, 1:])
    assert (one[:, 0] == 0).all()


def test_prominence_threads_same_result():
    posterior = golden("posterior_200.npy")
    np.testing.assert_array_equal(membound.prominence(posterior, n_threads=1), membound.prominence(posterior, n_threads=3))


def test_prominence_bad_input():
    x = np.zeros((4, 5, 2))
    with pytest.raises(membound.ArgumentError, match="mode"):
        membound.prominence(x, mode="contour")
    with pytest.raises(membound.ArgumentError, match="periodic"):
        membound.prominence(x, periodic="z")
    with pytest.raises(membound.ArgumentError, match="connectivity"):
        membound.prominence(x, connectivity=5)
    with pytest.raises(ValueError):
        membound.prominence(np.zeros(7))
    with pytest.raises(membound.ArgumentError, match="alpha"):
        membound.prominence(x, alphas=[0.5, float("nan")])


def test_progress_and_cancel():
    posterior = golden("posterior_200.npy")
    seen = []
    membound.prominence(posterior, progress=lambda done, total: seen.append((done, total)), n_threads=1)
    assert seen and seen[-1] == (200, 200) and all(b[0] >= a[0] for a, b in zip(seen, seen[1:]))
    with pytest.raises(membound.CancelledError):
        membound.prominence(posterior, progress=lambda done, total: True)

    def boom(done, total):
        raise KeyError("from the callable")

    with pytest.raises(KeyError, match="from the callable"):
        membound.prominence(posterior, progress=boom, n_threads=2)


def test_gil_released():
    """another Python thread runs while prominence computes: woken by the first progress call, it
    sets an event; with the switch interval at 5 s a thread waiting for a held GIL could not run
    for 5 s, so the event is seen within the next 200 calls (a fifth of a second) only if the
    run gives the GIL back while in C"""
    posterior = np.tile(golden("posterior_200.npy"), (1, 1, 40))  # 8000 bins, 1000 progress calls
    wake, woke = threading.Event(), threading.Event()
    seen = []

    def progress(done, total):
        seen.append(woke.is_set())
        wake.set()

    t = threading.Thread(target=lambda: wake.wait() and woke.set())
    old = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        t.start()
        membound.prominence(posterior, n_threads=1, progress=progress)
    finally:
        sys.setswitchinterval(old)
        wake.set()
        t.join()
    assert len(seen) > 200 and not seen[0] and any(seen[1:200])
