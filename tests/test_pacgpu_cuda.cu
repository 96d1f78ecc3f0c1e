/* Tests of pacgpu.h's CUDA backend (PACGPU_USE_CUDA, built by nvcc: make cuda). Without a CUDA
   device the tests that need one print a "skipped" line (tests/run.sh counts them); the checks
   that need none (backend selection, errors) run anyway. On a device: the whole run there
   (filters, Hilbert, bins, amplitudes, MI, surrogates) equals the CPU's float32 path (its
   oracle) within 5e-5 absolute MI on random coupled signals of awkward sizes (2000 samples, odd
   band counts, chunks of 5 signals), for both MI definitions and the heights ratio, and the
   mean vector length and ndPAC its float64 path, with the three kinds of surrogates; a NaN
   signal gives NaN cells; tensorpac's references (MI, HR, MVL, ndPAC); progress and cancel; the
   device budget fails cleanly; the surrogate cube and pvalues as on the CPU.
   Built by a C++ compiler with PAC_TEST_EMULATE_CUDA, the same tests run every kernel and the
   host side on the CPU through tests/cuda_emu.h (smaller sizes: a block's threads are fibers),
   and more: every failed cudaMalloc, launch and FFT plan gives a clean error and frees all it
   took; a device too small for one chunk shrinks the chunk with the same results; a barrier
   that not every thread reaches fails the launch. With PAC_TEST_DEVICE_SIZES too, the emulated
   build runs the device tests at a GPU's sizes and expectations (half a minute; tests/run.sh
   does). Run from the repository root. */
#define TENSORPOOL_IMPLEMENTATION
#define PACGPU_IMPLEMENTATION
#define PACGPU_USE_CUDA
#if defined(PAC_TEST_EMULATE_CUDA)
#include "cuda_emu.h"
#endif
#if defined(PAC_TEST_EMULATE_CUDA) && !defined(PAC_TEST_DEVICE_SIZES) /* those: a GPU's sizes, emulated (minutes) */
/* T_PERM: both cell kernels (pac__k_runs from 32 histograms a cell); the second warp's first
   lanes start at surrogate 33, the last one. At most 4 amplitude bands a runs block: two groups,
   the second short. */
#define PAC_TEST_CUDA_RUN_BANDS 4
#if defined(PAC_TEST_CUDA_CELLS) && !PAC_TEST_CUDA_CELLS /* the column kernel alone: fewer surrogates, it emulates slowly */
enum { T_PERM = 10 };
#else
enum { T_PERM = 33 };
#endif
enum { T_S = 7, T_N = 700, T_P = 5, T_A = 7, T_CHUNK = 2, T_SMALL = 4, T_SMALL_PERM = 6, T_SMALL_SIZES = 1 };
#define T_TOL 1e-6   /* MI, absolute: no cuFFT rounding here (measured ~1e-8) */
#define T_TOL_Z 1e-4 /* z, relative */
#else
enum { T_S = 12, T_N = 2000, T_P = 9, T_A = 7, T_PERM = 40, T_CHUNK = 5, T_SMALL = 10, T_SMALL_PERM = 20, T_SMALL_SIZES = 0 };
#define T_TOL 5e-5 /* the issue's bound */
#define T_TOL_Z 1e-2
#endif
#define PAC_TEST_CUDA_CHUNK_CAP ((size_t)T_CHUNK) /* several chunks, and a short last one */
#include "../pacgpu.h"
#if defined(PAC_TEST_EMULATE_CUDA)
#define CUDA_EMU_IMPLEMENTATION
#include "cuda_emu.h"
#endif
#include "testkit.h"
#include "testlog.h"
#include "testdata.h"

static int has_device(void)
{
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

static uint64_t rng = 12345;
static double uniform_pm1(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 4503599627370496.0 - 1.0 /* 2^52 */;
}

/* signals with a 6 Hz -> 80 Hz coupling and noise */
static void make_signals(double *x, size_t n_sig, size_t n)
{
    size_t s, t;
    for (s = 0; s < n_sig; s++)
        for (t = 0; t < n; t++) {
            double tt = (double)t / 512.0, slow = sin(2 * 3.141592653589793 * 6 * tt + 0.3 * (double)s);
            x[s * n + t] = slow + 0.5 * (1 + slow) * sin(2 * 3.141592653589793 * 80 * tt) + uniform_pm1();
        }
}

/* the first n_pha and n_amp of tensorpac's ten "lres" bands */
static void bands(double *pha, size_t n_pha, double *amp, size_t n_amp)
{
    double all[20];
    pac_band_preset("lres", PAC_PHASE, all, NULL, NULL);
    memcpy(pha, all, 2 * n_pha * sizeof *pha);
    pac_band_preset("lres", PAC_AMPLITUDE, all, NULL, NULL);
    memcpy(amp, all, 2 * n_amp * sizeof *amp);
}

/* S x N coupled signals from rng seed, the first P and A lres bands, and a float32 description
   of them for the device with n_perm surrogates of the given kind */
static pac_desc device_case(double *x, size_t S, size_t N, double *pha, size_t P, double *amp, size_t A, uint64_t seed, pac_surrogates surrogates,
                            size_t n_perm)
{
    pac_desc d;
    rng = seed;
    make_signals(x, S, N);
    bands(pha, P, amp, A);
    memset(&d, 0, sizeof d);
    d.fs = 512, d.pha_bands = pha, d.n_pha = P, d.amp_bands = amp, d.n_amp = A, d.precision = TP_F32, d.backend = PAC_BACKEND_CUDA;
    d.surrogates = surrogates, d.n_perm = n_perm;
    return d;
}

/* the device's cells against the CPU's float32 path */
static int count_calls(void *user, uint64_t done, uint64_t total)
{
    size_t *c = (size_t *)user;
    c[0]++, c[1] = (size_t)done, c[2] = (size_t)total;
    return c[3] && done >= c[3];
}

static void test_device_equals_cpu_float32(void)
{
    enum { S = T_S, N = T_N, P = T_P, A = T_A, CELLS = S * P * A };
    static double x[S * N], clean[S * N], pha[2 * P], amp[2 * A], mi_cpu[CELLS], mi_gpu[CELLS], z_cpu[CELLS], z_gpu[CELLS];
    static double m_cpu[CELLS], m_gpu[CELLS], sd_cpu[CELLS], sd_gpu[CELLS];
    double worst_mi = 0, worst_z = 0, worst_m = 0, by_measure[6] = {0, 0, 0, 0, 0, 0};
    pac_desc d;
    pac_output o;
    tp_error err;
    int method, perm;
    size_t i;
    make_signals(x, S, N);
    bands(pha, P, amp, A);
    memcpy(clean, x, sizeof x);
    for (i = 0; i < N; i += 97) x[3 * N + i] = 0.0 / 0.0; /* signal 3: NaN cells */
    static const pac_measure measures[6] = {PAC_MI, PAC_MI, PAC_HR, PAC_MVL, PAC_NDPAC, PAC_PLV};
    static const pac_mi methods[6] = {PAC_MI_TORT, PAC_MI_TENSORPAC, PAC_MI_DEFAULT, PAC_MI_DEFAULT, PAC_MI_DEFAULT, PAC_MI_DEFAULT};
    for (method = 0; method < 6; method++)
        for (perm = 0; perm < (measures[method] == PAC_NDPAC ? 1 : 4); perm++) { /* ndPAC has no surrogates */
            const double *xs = perm == 3 ? clean : x; /* swap-epochs: a NaN signal's phases would reach most cells */
            memset(&d, 0, sizeof d);
            d.fs = 512, d.pha_bands = pha, d.n_pha = P, d.amp_bands = amp, d.n_amp = A;
            d.method = methods[method], d.measure = measures[method];
            d.surrogates = perm == 1 ? PAC_SURR_SWAP_BLOCKS : perm == 2 ? PAC_SURR_TIME_LAG : perm == 3 ? PAC_SURR_SWAP_EPOCHS : PAC_SURR_NONE;
            d.n_perm = perm ? T_PERM : 0, d.seed = 7;
            d.precision = TP_F32, d.n_threads = 2;
            memset(&o, 0, sizeof o);
            d.backend = PAC_BACKEND_CPU;
            o.pac = mi_cpu;
            if (perm) o.z = z_cpu, o.surr_mean = m_cpu, o.surr_std = sd_cpu;
            CHECK_MSG(pac_run(&d, xs, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
            d.backend = PAC_BACKEND_CUDA;
            for (i = 0; i < CELLS; i++) mi_gpu[i] = z_gpu[i] = m_gpu[i] = sd_gpu[i] = -7; /* poison */
            o.pac = mi_gpu;
            if (perm) o.z = z_gpu, o.surr_mean = m_gpu, o.surr_std = sd_gpu;
            CHECK_MSG(pac_run(&d, xs, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
            for (i = 0; i < CELLS; i++) {
                double dm = fabs(mi_gpu[i] - mi_cpu[i]);
                if (i % S == 3 && xs == x) { /* the NaN signal */
                    CHECK(mi_gpu[i] != mi_gpu[i] && mi_cpu[i] != mi_cpu[i]);
                    continue;
                }
                worst_mi = dm > worst_mi || dm != dm ? dm : worst_mi;
                by_measure[method] = dm > by_measure[method] || dm != dm ? dm : by_measure[method];
                if (!perm) continue;
                dm = fabs(m_gpu[i] - m_cpu[i]);
                worst_m = dm > worst_m || dm != dm ? dm : worst_m;
                dm = fabs(z_gpu[i] - z_cpu[i]) / (1 + fabs(z_cpu[i]));
                worst_z = dm > worst_z || dm != dm ? dm : worst_z;
            }
        }
    CHECK_MSG(worst_mi <= T_TOL && worst_m <= T_TOL && worst_z <= T_TOL_Z, "device vs CPU (float32; float64 for MVL, ndPAC, PLV): worst %.3g, surrogate mean %.3g, z %.3g",
              worst_mi, worst_m, worst_z);
    { /* progress: once per chunk, counting both passes for tensorpac's MI; cancel */
        size_t calls[4] = {0, 0, 0, 0};
        d.progress = count_calls, d.user = calls, d.measure = PAC_MI, d.method = PAC_MI_TENSORPAC;
        d.surrogates = PAC_SURR_SWAP_EPOCHS, d.n_perm = T_PERM; /* as the loop's last MI case */
        CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
        size_t chunks = (S + T_CHUNK - 1) / T_CHUNK;
        CHECK_MSG(calls[0] == 2 * chunks && calls[1] == 2 * S && calls[2] == 2 * S, "progress %zu calls, %zu of %zu", calls[0], calls[1],
                  calls[2]);
        calls[3] = 5;
        CHECK(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_ERR_CANCELLED);
    }
    { /* what the device did: the three stages are disjoint spans within the whole, the memory
         within the budget, chunks as asked, the runs kernel for 34 histograms a cell; the CPU
         leaves it */
        pac_run_info info;
        const double *ms = info.device.ms;
        memset(&info, 0, sizeof info);
        d.progress = NULL, o.info = &info, d.surrogates = PAC_SURR_SWAP_BLOCKS;
        CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
        CHECK_MSG(ms[0] > 0 && ms[1] > 0 && ms[2] > 0 && ms[0] + ms[1] + ms[2] <= ms[3] * (1 + 1e-6) + 1e-3,
                  "device ms: phases %g, amplitudes %g, cells %g, whole %g", ms[0], ms[1], ms[2], ms[3]);
        CHECK_MSG(info.device.bytes > 0 && info.device.bytes <= info.device.budget && info.device.chunk == T_CHUNK && info.device.runs_kernel == (PAC_TEST_CUDA_CELLS ? 2 - !PAC_TEST_CUDA_ROWS_ONCE : 0),
                  "device: %zu bytes of %zu, chunk %zu, runs kernel %d", info.device.bytes, info.device.budget, info.device.chunk, info.device.runs_kernel);
        printf("  device ms: phases %.3g, amplitudes %.3g, cells %.3g, whole %.3g; %.2f MiB\n", ms[0], ms[1], ms[2], ms[3],
               (double)info.device.bytes / 1048576.0);
        CHECK(info.on_device == 1 && info.n_workers == 1);
        info.device.chunk = 12345, d.backend = PAC_BACKEND_CPU; /* the CPU: on_device 0, device zero */
        CHECK(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_OK && info.on_device == 0 && info.device.chunk == 0 &&
              info.n_workers >= 1);
    }
    printf("  device vs CPU float32 (MVL, ndPAC, PLV: vs its float64): Tort's MI within %.3g, tensorpac's %.3g, HR %.3g, MVL %.3g,"
           " ndPAC %.3g, PLV %.3g; surrogate mean %.3g, z %.3g (relative)\n", by_measure[0], by_measure[1], by_measure[2], by_measure[3],
           by_measure[4], by_measure[5], worst_m, worst_z);
}

/* tensorpac's reference (tests/data/pac: 8 signals x 2048 at 512 Hz, 10 x 10 bands, its 20
   swap-block cuts replayed) from the device: both MIs and the surrogate cube within the issue's
   5e-5 of tensorpac's float64 and of the CPU's float32 path, z near, pvalues off by at most one
   surrogate's step (float32 can reorder near-ties) */
static double worst_abs(const double *a, const double *b, size_t n, double rel)
{
    double w = 0, d;
    size_t i;
    for (i = 0; i < n; i++) {
        d = fabs(a[i] - b[i]) / (1 + rel * fabs(b[i]));
        w = d > w || d != d ? d : w;
    }
    return w;
}

/* the worst |a - b| as a fraction of the largest |b| (the measures without a fixed scale) */
static double worst_of_largest(const double *a, const double *b, size_t n)
{
    double top = 0, w = 0, d;
    size_t i;
    for (i = 0; i < n; i++) top = fabs(b[i]) > top ? fabs(b[i]) : top;
    for (i = 0; i < n; i++) {
        d = fabs(a[i] - b[i]) / top;
        w = d > w || d != d ? d : w;
    }
    return w;
}

static void test_device_on_reference_data(void)
{
    enum { CELLS = 800, K = 20 };
    npy_array x = td_load("tests/data/pac/", "signal.npy"), fp = td_load("tests/data/pac/", "f_pha.npy"),
              fa = td_load("tests/data/pac/", "f_amp.npy"), cuts = td_load("tests/data/pac/", "surrogate_cuts.npy"),
              rmi = td_load("tests/data/pac/", "mi_tensorpac.npy"), rtort = td_load("tests/data/pac/", "mi_tort.npy"),
              rs = td_load("tests/data/pac/", "surrogates.npy"), rz = td_load("tests/data/pac/", "mi_zscore.npy"),
              rp = td_load("tests/data/pac/", "pvalues_maxstat.npy");
    static double mi[CELLS], mi_cpu[CELLS], z[CELLS], pm[100], cube[K * CELLS], cube_cpu[K * CELLS];
    double w_mi, w_tort, w_cpu, w_cube, w_cube_cpu, w_z, w_p, w_hr = 1, w_mvl = 1, w_mvl_z = 1, w_plv = 1, w_nd = 1;
    pac_desc d;
    pac_output o;
    tp_error err;
    CHECK(x.data && fp.data && fa.data && cuts.data && rmi.data && rtort.data && rs.data && rz.data && rp.data);
    if (!x.data || !fp.data || !fa.data || !cuts.data || !rmi.data || !rtort.data || !rs.data || !rz.data || !rp.data) goto out;
    memset(&d, 0, sizeof d);
    memset(&o, 0, sizeof o);
    d.fs = 512, d.pha_bands = (const double *)fp.data, d.n_pha = 10, d.amp_bands = (const double *)fa.data, d.n_amp = 10;
    d.precision = TP_F32, d.backend = PAC_BACKEND_CUDA, d.method = PAC_MI_TORT;
    o.pac = mi;
    CHECK_MSG(pac_run(&d, x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
    w_tort = worst_abs(mi, (const double *)rtort.data, CELLS, 0);
    d.method = PAC_MI_TENSORPAC, d.surrogates = PAC_SURR_SWAP_BLOCKS, d.n_perm = K, d.cuts = (const int64_t *)cuts.data;
    o.z = z, o.pvalues = pm, o.surrogates = cube;
    CHECK_MSG(pac_run(&d, x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
    w_mi = worst_abs(mi, (const double *)rmi.data, CELLS, 0);
    w_cube = worst_abs(cube, (const double *)rs.data, K * CELLS, 0);
    w_z = worst_abs(z, (const double *)rz.data, CELLS, 1);
    w_p = worst_abs(pm, (const double *)rp.data, 100, 0);
    d.backend = PAC_BACKEND_CPU;
    o.pac = mi_cpu, o.z = NULL, o.pvalues = NULL, o.surrogates = cube_cpu;
    CHECK_MSG(pac_run(&d, x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
    w_cpu = worst_abs(mi, mi_cpu, CELLS, 0);
    w_cube_cpu = worst_abs(cube, cube_cpu, K * CELLS, 0);
    CHECK_MSG(w_mi <= 5e-5 && w_tort <= 5e-5 && w_cube <= 5e-5, "device vs tensorpac: MI %.3g, Tort's MI %.3g, surrogates %.3g", w_mi,
              w_tort, w_cube);
    CHECK_MSG(w_cpu <= T_TOL && w_cube_cpu <= T_TOL, "device vs CPU float32 on the reference: MI %.3g, surrogates %.3g", w_cpu,
              w_cube_cpu);
    CHECK_MSG(w_z <= T_TOL_Z && w_p <= 1.0 / K + 1e-12, "device vs tensorpac: z %.3g (relative), pvalues %.3g", w_z, w_p);
    { /* the heights ratio, tensorpac's idpac (3, 0, 0) */
        npy_array rh = td_load("tests/data/pac/methods/", "m3_pac.npy");
        CHECK(rh.data != NULL);
        d.backend = PAC_BACKEND_CUDA, d.measure = PAC_HR, d.method = PAC_MI_DEFAULT, d.surrogates = PAC_SURR_NONE, d.n_perm = 0;
        d.cuts = NULL;
        memset(&o, 0, sizeof o);
        o.pac = mi;
        CHECK_MSG(pac_run(&d, x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
        w_hr = rh.data ? worst_abs(mi, (const double *)rh.data, CELLS, 0) : 1;
        CHECK_MSG(w_hr <= 5e-5, "device vs tensorpac: heights ratio %.3g", w_hr);
        npy_free(&rh);
    }
    { /* the mean vector length, idpac (1, 0, 0), and with tensorpac's swap-block cuts z-scored,
         (1, 2, 4); errors as fractions of the largest value */
        npy_array rv = td_load("tests/data/pac/methods/", "m1_pac.npy"), rvz = td_load("tests/data/pac/methods/", "m1_s2_n4.npy"),
                  cut2 = td_load("tests/data/pac/methods/", "shifts_s2.npy");
        CHECK(rv.data && rvz.data && cut2.data);
        d.measure = PAC_MVL;
        o.pac = mi;
        CHECK_MSG(pac_run(&d, x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
        w_mvl = rv.data ? worst_of_largest(mi, (const double *)rv.data, CELLS) : 1;
        d.surrogates = PAC_SURR_SWAP_BLOCKS, d.n_perm = 10, d.cuts = (const int64_t *)cut2.data, d.norm = PAC_NORM_ZSCORE;
        o.norm = z;
        CHECK_MSG(pac_run(&d, x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
        w_mvl_z = rvz.data ? worst_of_largest(z, (const double *)rvz.data, CELLS) : 1;
        CHECK_MSG(w_mvl <= 5e-5 && w_mvl_z <= 5e-5, "device vs tensorpac: mean vector length %.3g, z-scored %.3g", w_mvl, w_mvl_z);
        npy_free(&rv), npy_free(&rvz), npy_free(&cut2);
    }
    { /* the phase synchrony, idpac (5, 0, 0), of the largest value */
        npy_array rp5 = td_load("tests/data/pac/methods/", "m5_pac.npy");
        CHECK(rp5.data != NULL);
        d.measure = PAC_PLV, d.surrogates = PAC_SURR_NONE, d.n_perm = 0, d.cuts = NULL, d.norm = PAC_NORM_NONE;
        o.norm = NULL;
        CHECK_MSG(pac_run(&d, x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
        w_plv = rp5.data ? worst_of_largest(mi, (const double *)rp5.data, CELLS) : 1;
        CHECK_MSG(w_plv <= 5e-5, "device vs tensorpac: PLV %.3g", w_plv);
        npy_free(&rp5);
    }
    { /* ndPAC, idpac (4, 0, 0): the same cells zeroed as tensorpac's, the others within 5e-5 */
        npy_array rn = td_load("tests/data/pac/methods/", "m4_pac.npy");
        size_t i, zero_cpu = 0, zero_gpu = 0;
        CHECK(rn.data != NULL);
        d.measure = PAC_NDPAC, d.surrogates = PAC_SURR_NONE, d.n_perm = 0, d.cuts = NULL, d.norm = PAC_NORM_NONE;
        o.norm = NULL;
        CHECK_MSG(pac_run(&d, x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
        w_nd = rn.data ? worst_of_largest(mi, (const double *)rn.data, CELLS) : 1;
        for (i = 0; rn.data && i < CELLS; i++) zero_cpu += ((const double *)rn.data)[i] == 0, zero_gpu += mi[i] == 0;
        CHECK_MSG(w_nd <= 5e-5 && zero_cpu == zero_gpu && zero_cpu > 0 && zero_cpu < CELLS,
                  "device vs tensorpac: ndPAC %.3g, zero cells %zu against %zu", w_nd, zero_gpu, zero_cpu);
        npy_free(&rn);
    }
    printf("  reference data: device vs tensorpac MI %.3g, Tort's %.3g, surrogates %.3g, z %.3g (relative), pvalues %.3g,"
           " heights ratio %.3g, mean vector length %.3g and z-scored %.3g, PLV %.3g, ndPAC %.3g (of the largest); vs CPU float32 MI"
           " %.3g, surrogates %.3g\n", w_mi, w_tort, w_cube, w_z, w_p, w_hr, w_mvl, w_mvl_z, w_plv, w_nd, w_cpu, w_cube_cpu);
out:
    npy_free(&x); npy_free(&fp); npy_free(&fa); npy_free(&cuts); npy_free(&rmi); npy_free(&rtort); npy_free(&rs); npy_free(&rz);
    npy_free(&rp);
}

/* a device budget too small for the buffers: a clean TP_ERR_BUDGET naming it; the outputs that
   need every surrogate (the cube, pvalues) from the device as from the CPU's float32 path, by
   either cell kernel (few surrogates: pac__k_cells; 40: pac__k_runs) */
static void test_device_budget_and_every_surrogate(void)
{
    enum { S = 4, N = 1024, P = T_SMALL, A = T_SMALL, CELLS = S * P * A, MAX_PERM = 40 };
    static double x[S * N], pha[2 * P], amp[2 * A], mi[CELLS], mi2[CELLS], pm[P * A], pm2[P * A], cube[MAX_PERM * CELLS],
        cube2[MAX_PERM * CELLS];
    size_t n_perm[2] = {T_SMALL_PERM, MAX_PERM}, i, r;
    pac_desc d;
    pac_output o;
    tp_error err;
    d = device_case(x, S, N, pha, P, amp, A, 11, PAC_SURR_SWAP_BLOCKS, T_SMALL_PERM);
    d.device_fraction = 1e-12;
    memset(&o, 0, sizeof o);
    o.pac = mi;
    CHECK(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_ERR_BUDGET && strstr(err.message, "device budget"));
    d.device_fraction = 0;
    for (r = 0; r < 2; r++) {
        double worst_cube = 0, worst_p = 0;
        d.n_perm = n_perm[r], d.backend = PAC_BACKEND_CUDA;
        o.pac = mi, o.pvalues = pm, o.surrogates = cube;
        for (i = 0; i < P * A; i++) pm[i] = -7;
        for (i = 0; i < d.n_perm * CELLS; i++) cube[i] = -7;
        CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
        d.backend = PAC_BACKEND_CPU;
        o.pac = mi2, o.pvalues = pm2, o.surrogates = cube2;
        CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
        for (i = 0; i < d.n_perm * CELLS; i++) worst_cube = fabs(cube[i] - cube2[i]) > worst_cube ? fabs(cube[i] - cube2[i]) : worst_cube;
        for (i = 0; i < P * A; i++) worst_p = fabs(pm[i] - pm2[i]) > worst_p ? fabs(pm[i] - pm2[i]) : worst_p;
        CHECK_MSG(worst_cube <= T_TOL && worst_p <= 1.0 / (double)d.n_perm + 1e-12, "n_perm %zu: cube %.3g, pvalues %.3g", d.n_perm,
                  worst_cube, worst_p);
        { /* without the cube the device adds the max-stat sums itself: the same bits as the host's */
            static uint64_t sums_host[2 * MAX_PERM * P * A], sums_dev[2 * MAX_PERM * P * A];
            static double pm3[P * A];
            size_t nsum = 2 * d.n_perm * P * A;
            d.backend = PAC_BACKEND_CUDA;
            o.pac = mi2, o.pvalues = pm2, o.surrogates = cube2, o.sums = sums_host;
            CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
            memset(sums_dev, 0xa5, sizeof sums_dev);
            o.pvalues = pm3, o.surrogates = NULL, o.sums = sums_dev;
            CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
            CHECK_MSG(!memcmp(sums_host, sums_dev, nsum * sizeof(uint64_t)) && !memcmp(pm, pm3, sizeof pm3),
                      "n_perm %zu: the device's max-stat sums differ from the host's", d.n_perm);
            o.sums = NULL;
        }
        printf("  n_perm %zu: the cube within %.3g of the CPU's, pvalues within %.3g\n", d.n_perm, worst_cube, worst_p);
    }
}

/* the host memory of a device run comes from desc.pool: the filters, one signal's worth of
   staging a chunk (its samples, its cells' statistics, every surrogate's MI for the cube and
   pvalues), to the byte of plan.bytes; a budget a signal's staging short of that gives
   smaller chunks with the same bits; below one signal's, a clean TP_ERR_BUDGET (pac_plan and
   pac_run) */
static void test_device_host_budget(void)
{
    enum { S = T_S, N = 1000, P = 3, A = 3, CELLS = S * P * A }; /* smooth lengths: FFT plans of the planned size */
    static double x[S * N], pha[2 * P], amp[2 * A], mi[2][CELLS], pm[2][P * A], cube[2][T_PERM * CELLS];
    pac_desc d;
    pac_output o;
    pac_plan_info full, small;
    pac_run_info di;
    tp_desc pd;
    tp_stats st;
    tp_error err;
    int k;
    d = device_case(x, S, N, pha, P, amp, A, 5, PAC_SURR_SWAP_BLOCKS, T_PERM);
    CHECK_MSG(pac_plan(&d, S, N, 0, &full, &err) == TP_OK, "%s", err.message);
    CHECK_MSG(pac_plan(&d, S, N, full.bytes + 6 * 4160 - 1, &small, &err) == TP_OK, "%s", err.message); /* + the slack */
    CHECK(small.bytes < full.bytes && full.n_threads == 1);
    for (k = 0; k < 2; k++) {
        const pac_plan_info *pl = k ? &small : &full;
        size_t live0;
        memset(&pd, 0, sizeof pd);
        pd.budget_bytes = k ? small.bytes + 6 * 4160 : 0;
        tp_create(&pd, &d.pool, NULL);
        live0 = tp_get_stats(d.pool).bytes_requested;
        memset(&o, 0, sizeof o);
        o.pac = mi[k], o.pvalues = pm[k], o.surrogates = cube[k], o.info = &di;
        CHECK_MSG(pac_run(&d, x, TP_F64, S, N, pl, &o, &err) == TP_OK, "%s", err.message);
        st = tp_get_stats(d.pool);
        CHECK_MSG(st.peak_requested - live0 == pl->bytes && st.live_blocks == 0 && (!k || st.peak_reserved <= pd.budget_bytes),
                  "budget %zu: the run took %zu bytes at most (reserved %zu), the plan said %zu", pd.budget_bytes,
                  st.peak_requested - live0, st.peak_reserved, pl->bytes);
        CHECK_MSG(k ? di.device.chunk >= 1 && di.device.chunk < (size_t)T_CHUNK : di.device.chunk == (size_t)T_CHUNK, "budget %zu: chunks of %zu",
                  pd.budget_bytes, di.device.chunk);
        tp_destroy(d.pool);
    }
    CHECK_MSG(!memcmp(mi[0], mi[1], sizeof mi[0]) && !memcmp(pm[0], pm[1], sizeof pm[0]) && !memcmp(cube[0], cube[1], sizeof cube[0]),
              "chunks of one signal for the host's budget: other results");
    CHECK(pac_plan(&d, S, N, 4096, &small, &err) == TP_ERR_BUDGET && strstr(err.message, "on the host"));
    memset(&pd, 0, sizeof pd);
    pd.budget_bytes = full.bytes - T_CHUNK * (full.bytes - small.bytes); /* the filters fit, no signal's staging */
    tp_create(&pd, &d.pool, NULL);
    CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_ERR_BUDGET && strstr(err.message, "budget") &&
                  tp_get_stats(d.pool).live_blocks == 0,
              "%s", err.message);
    tp_destroy(d.pool);
    printf("  host memory of a device run: %.1f KiB planned in chunks of %d, %.1f KiB in one signal fewer\n", (double)full.bytes / 1024.0,
           (int)T_CHUNK, (double)small.bytes / 1024.0);
}

/* chunks of at most 64 signals, or a sixteenth of them past 64 x 16: a long run reports
   progress every 64 signals or 16 times a pass */
static void test_chunk_cap(void)
{
    static const size_t n[7] = {1, 5, 64, 100, 1024, 1025, 10000}, want[7] = {1, 5, 64, 64, 64, 65, 625};
    int i;
    for (i = 0; i < 7; i++) CHECK_MSG(pac__gpu_chunk_cap(n[i], (size_t)-1) == want[i], "%zu signals", n[i]);
    CHECK(pac__gpu_chunk_cap(10000, 7) == 7 && pac__gpu_chunk_cap(3, 7) == 3);
}

/* what needs no device: the backend's choice and its errors */
static void test_backend_selection(void)
{
    double x[4 * 512], pha[4], amp[4], mi[4];
    pac_desc d;
    pac_output o;
    tp_error err;
    make_signals(x, 4, 512);
    pha[0] = 4, pha[1] = 8, pha[2] = 8, pha[3] = 12, amp[0] = 60, amp[1] = 80, amp[2] = 80, amp[3] = 100;
    memset(&d, 0, sizeof d);
    d.fs = 512, d.pha_bands = pha, d.n_pha = 2, d.amp_bands = amp, d.n_amp = 2;
    memset(&o, 0, sizeof o);
    o.pac = mi;
    d.backend = PAC_BACKEND_CUDA, d.device = 99;
    CHECK(pac_run(&d, x, TP_F64, 1, 512, NULL, &o, &err) == TP_ERR_DEVICE && strstr(err.message, "no CUDA device 99"));
    d.backend = (pac_backend)7, d.device = 0;
    CHECK(pac_run(&d, x, TP_F64, 1, 512, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "backend"));
    d.backend = PAC_BACKEND_AUTO, d.device_fraction = 2;
    CHECK(pac_run(&d, x, TP_F64, 1, 512, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "device_fraction"));
    d.device_fraction = 0; /* AUTO runs, on the device when there is one, else on the CPU */
    CHECK_MSG(pac_run(&d, x, TP_F64, 1, 512, NULL, &o, &err) == TP_OK, "%s", err.message);
    CHECK(strstr(pac_build_info(), "cuda") != NULL && !strcmp(tp_result_string(TP_ERR_DEVICE), "device error"));
    if (has_device()) { /* what the device does not compute: refused with CUDA, on the CPU with AUTO */
        pac_run_info ri;
        d.measure = PAC_GCPAC, d.backend = PAC_BACKEND_CUDA;
        CHECK(pac_run(&d, x, TP_F64, 1, 512, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "Gaussian copula"));
        memset(&ri, 0, sizeof ri);
        o.info = &ri, d.backend = PAC_BACKEND_AUTO;
        CHECK(pac_run(&d, x, TP_F64, 1, 512, NULL, &o, &err) == TP_OK && ri.on_device == 0);
        d.measure = PAC_PLV;
        CHECK(pac_run(&d, x, TP_F64, 1, 512, NULL, &o, &err) == TP_OK && ri.on_device == 1);
        o.info = NULL;
    }
}

#if defined(PAC_TEST_EMULATE_CUDA)
/* a run of 5 signals (3 chunks) with surrogates, counting its progress calls; what the device did */
static pac_run_info info;
static captured_log emu_log; /* what the emulated runs logged */
static tp_result emulated_run(double *mi, size_t *calls, tp_error *err)
{
    static double x[5 * 600], pha[6], amp[4];
    pac_desc d;
    pac_output o;
    rng = 12345;
    make_signals(x, 5, 600);
    bands(pha, 3, amp, 2);
    memset(&d, 0, sizeof d);
    d.fs = 512, d.pha_bands = pha, d.n_pha = 3, d.amp_bands = amp, d.n_amp = 2, d.precision = TP_F32;
    d.surrogates = PAC_SURR_SWAP_BLOCKS, d.n_perm = 31, d.backend = PAC_BACKEND_CUDA; /* pac__k_runs */
    d.progress = count_calls, d.user = calls;
    d.log.fn = capture_log, d.log.user = &emu_log;
    memset(calls, 0, 4 * sizeof *calls);
    memset(&o, 0, sizeof o);
    o.pac = mi, o.info = &info;
    return pac_run(&d, x, TP_F64, 5, 600, NULL, &o, err);
}

/* every cudaMalloc, kernel launch and FFT plan of a run failing in turn: each a TP_ERR_DEVICE
   naming its step, with all device memory, streams and plans given back */
static void test_emulated_failures(void)
{
    double mi[30];
    size_t calls[4];
    tp_error err;
    long *knob[3] = {&emu.fail_malloc, &emu.fail_launch, &emu.fail_plan}, *count[3] = {&emu.mallocs, &emu.launches, &emu.plans}, n[3];
    const char *expect[3] = {"cudaMalloc failed", "launch failure", "cuFFT failed"};
    int kind;
    for (kind = 0; kind < 3; kind++) n[kind] = *count[kind];
    CHECK_MSG(emulated_run(mi, calls, &err) == TP_OK && emu_live() == 0, "%s", err.message);
    for (kind = 0; kind < 3; kind++) n[kind] = *count[kind] - n[kind];
    CHECK_MSG(n[0] >= 14 && n[1] >= 30 && n[2] == 6, "a run: %ld cudaMalloc, %ld launches, %ld plans", n[0], n[1], n[2]);
    for (kind = 0; kind < 3; kind++) {
        long k, bad = 0;
        for (k = 1; k <= n[kind]; k++) {
            tp_result r;
            *knob[kind] = k;
            r = emulated_run(mi, calls, &err);
            *knob[kind] = 0;
            bad += r != TP_ERR_DEVICE || !strstr(err.message, "CUDA: ") || !strstr(err.message, expect[kind]) || emu_live() != 0;
            if (k == 1 || r != TP_ERR_DEVICE) printf("    failing call %ld of kind %d: result %d (%s)\n", k, kind, (int)r, err.message);
        }
        CHECK_MSG(bad == 0, "%ld of %ld failed calls of kind %d were not a clean error", bad, n[kind], kind);
    }
}

/* less device memory: chunks of one signal (five progress calls a pass), the same cells; then
   too little for one signal: TP_ERR_BUDGET, nothing left allocated */
static void test_emulated_small_device(void)
{
    double ref[30], mi[30];
    size_t calls[4], saved = emu.free_bytes, f, one_signal_chunks = 0;
    tp_error err;
    tp_result r = TP_OK;
    emu.peak_bytes = 0;
    memset(&emu_log, 0, sizeof emu_log);
    CHECK_MSG(emulated_run(ref, calls, &err) == TP_OK && calls[0] == 3 && emu_log.count == 0, "%s", err.message);
    CHECK_MSG(info.device.bytes == emu.peak_bytes, "the run says it held %zu bytes, cudaMalloc saw %zu", info.device.bytes, emu.peak_bytes);
    for (f = (size_t)64 << 20; f > 1024; f = f * 3 / 4) {
        emu.free_bytes = f;
        r = emulated_run(mi, calls, &err);
        CHECK(emu_live() == 0);
        if (r != TP_OK) break;
        CHECK_MSG(!memcmp(mi, ref, sizeof mi), "cells differ with %zu bytes of device memory", f);
        one_signal_chunks += calls[0] == 5;
    }
    emu.free_bytes = saved;
    CHECK_MSG(r == TP_ERR_BUDGET && strstr(err.message, "device budget"), "%d: %s", (int)r, err.message);
    CHECK(one_signal_chunks > 0);
    /* each smaller chunk was said (the log), and is in the run's info */
    CHECK_MSG(emu_log.count > 0 && strstr(emu_log.text, "the device takes chunks of 1 signals, not the 2"), "%s", emu_log.text);
}

/* a kernel's registers bound its blocks (on sm_90 pac__k_runs' 68 registers allow 960 threads):
   pac__k_runs, bounded to 64 and 32 threads, takes the surrogates in more passes with the same
   bits; a kernel launched beyond its bound fails cleanly, naming the cause */
static void test_emulated_block_limits(void)
{
    enum { S = 3, N = 600, P = 3, A = 4, CELLS = S * P * A, PERM = 100 };
    static double x[S * N], pha[2 * P], amp[2 * A], mi[3][CELLS], z[3][CELLS], m[3][CELLS], sd[3][CELLS], pm[3][P * A];
    static const int limit[3] = {0, 64, 32};
    pac_desc d;
    pac_output o;
    pac_run_info di;
    tp_error err;
    int k;
    d = device_case(x, S, N, pha, P, amp, A, 99, PAC_SURR_SWAP_BLOCKS, PERM);
    d.seed = 3;
    for (k = 0; k < 3; k++) {
        memset(&o, 0, sizeof o);
        memset(&di, 0, sizeof di);
        o.pac = mi[k], o.z = z[k], o.surr_mean = m[k], o.surr_std = sd[k], o.pvalues = pm[k], o.info = &di;
        emu_limit_block_threads(reinterpret_cast<emu_kernel>(pac__k_runs), limit[k]); /* rows twice */
        emu_limit_block_threads(reinterpret_cast<emu_kernel>(pac__k_runs1), limit[k]); /* and once */
        CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_OK && !di.device.runs_kernel == !PAC_TEST_CUDA_CELLS, "limit %d: %s", limit[k], err.message);
    }
    emu_limit_block_threads(reinterpret_cast<emu_kernel>(pac__k_runs), 0);
    emu_limit_block_threads(reinterpret_cast<emu_kernel>(pac__k_runs1), 0);
    for (k = 1; k < 3; k++)
        CHECK_MSG(!memcmp(mi[k], mi[0], sizeof mi[0]) && !memcmp(z[k], z[0], sizeof z[0]) && !memcmp(m[k], m[0], sizeof m[0]) &&
                      !memcmp(sd[k], sd[0], sizeof sd[0]) && !memcmp(pm[k], pm[0], sizeof pm[0]),
                  "pac__k_runs in blocks of at most %d threads: other results", limit[k]);
    emu_limit_block_threads(reinterpret_cast<emu_kernel>(pac__k_cells), 128); /* it always takes 256 */
    d.n_perm = 10;
    CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_ERR_DEVICE && strstr(err.message, "too many resources") &&
                  emu_live() == 0,
              "%s", err.message);
    emu_limit_block_threads(reinterpret_cast<emu_kernel>(pac__k_cells), 0);
}

/* pac__k_runs with its rows stored once (offsets that wrap), chosen when twice does not fit:
   the same bits as twice */
static void test_emulated_rows_once(void)
{
    enum { S = 3, N = 600, P = 3, A = 4, CELLS = S * P * A, PERM = 100 };
    static double x[S * N], pha[2 * P], amp[2 * A], mi[3][CELLS], z[3][CELLS], cube[3][PERM * CELLS];
    /* all the shared memory; four bands fit once, not twice; one band once (32 surrogates a warp's row) */
    const int saved = emu.shared_optin, optin[3] = {saved, N * (4 * 4 + 4) + 512, N * (4 + 4) + 512};
    int k;
    pac_desc d;
    pac_output o;
    pac_run_info di[3];
    tp_error err;
    d = device_case(x, S, N, pha, P, amp, A, 17, PAC_SURR_TIME_LAG, PERM);
    d.seed = 11;
    for (k = 0; k < 3; k++) {
        memset(&o, 0, sizeof o);
        memset(&di[k], 0, sizeof di[k]);
        o.pac = mi[k], o.z = z[k], o.surrogates = cube[k], o.info = &di[k];
        emu.shared_optin = optin[k];
        CHECK_MSG(pac_run(&d, x, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
    }
    emu.shared_optin = saved;
    CHECK_MSG(di[0].device.runs_kernel == (PAC_TEST_CUDA_CELLS ? 2 - !PAC_TEST_CUDA_ROWS_ONCE : 0) && di[1].device.runs_kernel == (PAC_TEST_CUDA_CELLS ? 2 : 0) &&
                  di[2].device.runs_kernel == di[1].device.runs_kernel,
              "runs kernels %d, %d and %d", di[0].device.runs_kernel, di[1].device.runs_kernel, di[2].device.runs_kernel);
    for (k = 1; k < 3; k++)
        CHECK_MSG(!memcmp(mi[0], mi[k], sizeof mi[0]) && !memcmp(z[0], z[k], sizeof z[0]) && !memcmp(cube[0], cube[k], sizeof cube[0]),
                  "the rows stored once, with %d bytes of shared memory: other results", optin[k]);
}

/* pac__k_runs' surrogate order: a permutation of 0..n_perm whose aligned groups of 32 / ag have
   distinct shift residues mod 32 / ag while every residue has shifts left */
static void test_runs_task_order(void)
{
    static int64_t shifts[300];
    static uint32_t task[301];
    static unsigned char seen[301];
    pac__eng e;
    unsigned per_warp;
    size_t k;
    for (k = 0; k < 300; k++) shifts[k] = 1 + (int64_t)((uniform_pm1() + 1) * 1023);
    memset(&e, 0, sizeof e);
    e.shifts = shifts, e.n_perm = 300;
    for (per_warp = 1; per_warp <= 32; per_warp *= 2) {
        size_t count[32] = {0}, fewest = 301, distinct_groups = 0, g, r;
        pac__gpu_task_order(&e, per_warp, task);
        memset(seen, 0, sizeof seen);
        for (k = 0; k <= 300; k++) seen[task[k] <= 300 ? task[k] : 0]++, count[(task[k] ? shifts[task[k] - 1] : 0) % per_warp]++;
        for (k = 0; k <= 300; k++) CHECK_MSG(seen[k] == 1, "per_warp %u: k %zu taken %d times", per_warp, k, seen[k]);
        for (r = 0; r < per_warp; r++) fewest = count[r] < fewest ? count[r] : fewest;
        for (g = 0; (g + 1) * per_warp <= 301; g++) {
            unsigned mask = 0, ok = 1;
            for (k = g * per_warp; k < (g + 1) * per_warp; k++) {
                unsigned bit = 1u << ((task[k] ? shifts[task[k] - 1] : 0) % per_warp);
                ok &= !(mask & bit), mask |= bit;
            }
            distinct_groups += ok;
        }
        CHECK_MSG(distinct_groups >= fewest, "per_warp %u: %zu groups of distinct residues, want %zu", per_warp, distinct_groups, fewest);
    }
}

__global__ static void k_skips_barrier(int *out)
{
    if (threadIdx.x != 0) __syncthreads();
    out[threadIdx.x] = 1;
}

__global__ static void k_lacks_barrier(float *out)
{
    PAC__DYNAMIC_SHARED(float, sh);
    sh[threadIdx.x] = (float)threadIdx.x;
    out[threadIdx.x] = sh[(threadIdx.x + 1) % blockDim.x];
}

/* the emulator's own checks: a barrier that thread 0 skips fails the launch; a missing one
   reads another thread's shared memory before it is written (NaN) */
static void test_emulator_catches_divergence(void)
{
    static int flags[PAC__CUDA_THREADS];
    static float got[PAC__CUDA_THREADS];
    int stream = 0;
    size_t i, unwritten = 0;
    emu.quiet = 1;
    PAC__LAUNCH_COOPERATIVE(k_skips_barrier, 1, PAC__CUDA_THREADS, 0, stream, (flags));
    emu.quiet = 0;
    CHECK(cudaGetLastError() == cudaErrorLaunchFailure);
    PAC__LAUNCH_COOPERATIVE(k_lacks_barrier, 1, PAC__CUDA_THREADS, PAC__CUDA_THREADS * sizeof(float), stream, (got));
    for (i = 0; i < PAC__CUDA_THREADS; i++) unwritten += got[i] != got[i];
    CHECK(cudaGetLastError() == cudaSuccess && unwritten > 0);
}
#endif

int main(void)
{
    RUN(test_backend_selection);
    RUN(test_chunk_cap);
    if (has_device()) {
        RUN(test_device_equals_cpu_float32);
        RUN(test_device_on_reference_data);
        RUN(test_device_host_budget);
        RUN(test_device_budget_and_every_surrogate);
    } else {
        printf("skipped test_device_equals_cpu_float32: no CUDA device here\n");
        printf("skipped test_device_on_reference_data: no CUDA device here\n");
        printf("skipped test_device_host_budget: no CUDA device here\n");
        printf("skipped test_device_budget_and_every_surrogate: no CUDA device here\n");
    }
#if defined(PAC_TEST_EMULATE_CUDA)
    if (T_SMALL_SIZES) { /* they count the small sizes' chunks and launches */
        RUN(test_emulated_failures);
        RUN(test_emulated_small_device);
    }
    RUN(test_emulated_block_limits);
    RUN(test_emulated_rows_once);
    RUN(test_emulator_catches_divergence);
    RUN(test_runs_task_order);
    emu_shutdown();
    return tk_summary("pacgpu CUDA (emulated)");
#else
    return tk_summary("pacgpu CUDA");
#endif
}
