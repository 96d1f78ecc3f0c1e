/* Tests of pacgpu.h: the FFT against a long-double DFT computed here, the filter bank, phase and
   amplitude, MI and surrogates against tensorpac's outputs (tests/data/pac, converted from
   ../shared/refdata/pac by tools/gen_pac_golden.py), plans, memory, threads and bad input. Run
   from the repository root. */
#include "thread_faults.h"
#define TENSORPOOL_IMPLEMENTATION
#define PACGPU_IMPLEMENTATION
#include "../pacgpu.h"
#include "testkit.h"
#include "testlog.h"
#include "testdata.h"

#define DATA "tests/data/pac/"

static npy_array load(const char *name) { return td_load(DATA, name); }

#include <stdint.h>

static uint64_t rng_state = 0x243F6A8885A308D3u;
static double uniform_pm1(void)
{
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-52 - 1.0;
}

/* X_k = sum_j x_j exp(-+2 pi i jk / n) in long double, from a table of the n roots (the angle
   reduced mod n first, so each root is as exact as cosl/sinl make it) */
static void naive_dft(const double *x, long double *X, size_t n, int inverse)
{
    const long double pi = 3.141592653589793238462643383279502884L;
    long double *root = (long double *)malloc(2 * n * sizeof(long double));
    size_t j, k;
    for (j = 0; j < n; j++) {
        long double a = (inverse ? 2 : -2) * pi * (long double)j / (long double)n;
        root[2 * j] = cosl(a);
        root[2 * j + 1] = sinl(a);
    }
    for (k = 0; k < n; k++) {
        long double sr = 0, si = 0;
        size_t jk = 0; /* j * k mod n */
        for (j = 0; j < n; j++) {
            const long double *w = root + 2 * jk;
            sr += x[2 * j] * w[0] - x[2 * j + 1] * w[1];
            si += x[2 * j] * w[1] + x[2 * j + 1] * w[0];
            jk += k;
            if (jk >= n) jk -= n;
        }
        X[2 * k] = sr;
        X[2 * k + 1] = si;
    }
    free(root);
}

/* max |fft - dft| / max |dft| for one length and direction */
static double fft_error(size_t n, int inverse)
{
    pac_fft *p = NULL;
    double *x = (double *)malloc(2 * n * sizeof(double)), *y = (double *)malloc(2 * n * sizeof(double)), *scratch;
    long double *ref = (long double *)malloc(2 * n * sizeof(long double)), err = 0, mag = 0;
    size_t j;
    if (pac_fft_create(NULL, n, &p, NULL) != TP_OK) { free(x); free(y); free(ref); return 1e300; }
    scratch = (double *)malloc(pac_fft_scratch_doubles(p) * sizeof(double));
    for (j = 0; j < 2 * n; j++) x[j] = y[j] = uniform_pm1();
    naive_dft(x, ref, n, inverse);
    pac_fft_run(p, y, inverse, scratch);
    for (j = 0; j < 2 * n; j++) {
        long double d = fabsl((long double)y[j] - ref[j]), m = fabsl(ref[j]);
        err = d > err ? d : err;
        mag = m > mag ? m : mag;
    }
    pac_fft_destroy(p);
    free(x); free(y); free(ref); free(scratch);
    return (double)(err / mag);
}

/* Every length 1..64 (radices 2, 3, 4, 5 and Bluestein for the other primes), and larger ones:
   powers, smooth composites, primes and a prime square (Bluestein on Bluestein-free inners). */
static void test_fft_against_dft(void)
{
    static const size_t big[] = {97, 100, 121, 128, 243, 625, 1000, 1024, 2047, 2048, 3000, 4096, 4099};
    size_t n, i;
    double worst = 0;
    for (n = 1; n <= 64; n++) {
        double e = fft_error(n, 0), ei = fft_error(n, 1);
        CHECK_MSG(e <= 1e-14 && ei <= 1e-14, "n = %zu: error %.3g, inverse %.3g", n, e, ei);
        worst = e > worst ? e : worst;
    }
    for (i = 0; i < sizeof big / sizeof big[0]; i++) {
        double e = fft_error(big[i], i % 2);
        CHECK_MSG(e <= 1e-13, "n = %zu: error %.3g", big[i], e);
        worst = e > worst ? e : worst;
    }
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  worst relative error %.3g\n", worst);
}

/* inverse(forward(x)) = n x, for a smooth and a Bluestein length; a plan shared by two calls
   with their own scratch gives identical bits */
static void test_fft_round_trip_and_sharing(void)
{
    size_t lengths[2] = {2048, 2039}, k, j;
    for (k = 0; k < 2; k++) {
        size_t n = lengths[k];
        pac_fft *p = NULL;
        double *x = (double *)malloc(2 * n * sizeof(double)), *y = (double *)malloc(2 * n * sizeof(double));
        double *z = (double *)malloc(2 * n * sizeof(double)), *s1, *s2, err = 0;
        CHECK(pac_fft_create(NULL, n, &p, NULL) == TP_OK && pac_fft_length(p) == n);
        s1 = (double *)malloc(pac_fft_scratch_doubles(p) * sizeof(double));
        s2 = (double *)malloc(pac_fft_scratch_doubles(p) * sizeof(double));
        for (j = 0; j < 2 * n; j++) x[j] = y[j] = z[j] = uniform_pm1();
        pac_fft_run(p, y, 0, s1);
        pac_fft_run(p, z, 0, s2);
        CHECK(memcmp(y, z, 2 * n * sizeof(double)) == 0);
        pac_fft_run(p, y, 1, s1);
        for (j = 0; j < 2 * n; j++) {
            double d = fabs(y[j] / (double)n - x[j]);
            err = d > err ? d : err;
        }
        CHECK_MSG(err <= 1e-14, "n = %zu: round trip error %.3g", n, err);
        pac_fft_destroy(p);
        free(x); free(y); free(z); free(s1); free(s2);
    }
}

/* Plans come from the pool given (and give it all back); bad lengths are refused; a budget too
   small for the tables fails cleanly. */
static void test_fft_plans_and_errors(void)
{
    tp_pool *pool = NULL;
    tp_create(NULL, &pool, NULL);
    tp_desc d;
    pac_fft *p = (pac_fft *)1;
    CHECK(pac_fft_create(pool, 0, &p, NULL) == TP_ERR_ARG && p == NULL);
    CHECK(pac_fft_create(pool, ((size_t)1 << 31) + 1, &p, NULL) == TP_ERR_ARG);
    CHECK(pac_fft_create(pool, 16, NULL, NULL) == TP_ERR_ARG);
    CHECK(pac_fft_create(pool, 1009, &p, NULL) == TP_OK && tp_get_stats(pool).live_blocks == 2); /* Bluestein + inner */
    pac_fft_destroy(p);
    CHECK(tp_get_stats(pool).live_blocks == 0);
    tp_destroy(pool);
    memset(&d, 0, sizeof d);
    d.budget_bytes = 64 * 1024;
    tp_create(&d, &pool, NULL);
    CHECK(pac_fft_create(pool, 100000, &p, NULL) == TP_ERR_BUDGET && p == NULL);
    CHECK(tp_get_stats(pool).live_blocks == 0);
    tp_destroy(pool);
    pac_fft_destroy(NULL);
    CHECK(strcmp(tp_result_string(TP_ERR_BUDGET), "over the memory budget") == 0);
    CHECK(strncmp(pac_build_info(), "pacgpu ", 7) == 0);
}

/* tensorpac's filter orders and taps for the reference's 10 phase bands (3 cycles) and 10
   amplitude bands (6 cycles) at 512 Hz, 2048 samples */
static void test_fir_against_tensorpac(void)
{
    npy_array fp = load("f_pha.npy"), fa = load("f_amp.npy"), taps = load("fir_taps.npy"), off = load("fir_offsets.npy"),
              ord = load("fir_orders.npy");
    size_t k;
    double worst = 0, mine[1024];
    CHECK(fp.data && fa.data && taps.data && off.data && ord.data);
    if (!fp.data || !fa.data || !taps.data || !off.data || !ord.data) return;
    for (k = 0; k < 20; k++) {
        const double *band = k < 10 ? (const double *)fp.data + 2 * k : (const double *)fa.data + 2 * (k - 10);
        size_t order = pac_fir_order(512.0, 2048, band[0], k < 10 ? 3 : 6), j;
        const int64_t *o = (const int64_t *)off.data;
        const double *ref = (const double *)taps.data + o[k];
        CHECK_MSG(order == (size_t)((const int64_t *)ord.data)[k], "band %zu: order %zu", k, order);
        CHECK(order + 1 == (size_t)(o[k + 1] - o[k]) && order < 1024);
        if (order + 1 != (size_t)(o[k + 1] - o[k]) || order >= 1024) continue;
        CHECK(pac_fir_design(512.0, band[0], band[1], order, mine, NULL) == TP_OK);
        for (j = 0; j <= order; j++) worst = fabs(mine[j] - ref[j]) > worst ? fabs(mine[j] - ref[j]) : worst;
    }
    CHECK_MSG(worst <= 1e-12, "taps differ by %.3g", worst);
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  taps: max difference %.3g\n", worst);
    CHECK(pac_fir_order(512.0, 100, 2.0, 3) == 33);   /* capped at (100 - 1) / 3 */
    CHECK(pac_fir_design(512.0, 5.0, 300.0, 10, mine, NULL) == TP_ERR_ARG); /* above Nyquist */
    CHECK(pac_fir_design(512.0, 7.0, 5.0, 10, mine, NULL) == TP_ERR_ARG);
    npy_free(&fp); npy_free(&fa); npy_free(&taps); npy_free(&off); npy_free(&ord);
}

/* largest |a - b| over n values, with phases compared on the circle */
static double max_diff(const double *a, const double *b, size_t n, int circular)
{
    size_t i;
    double m = 0;
    for (i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (circular && d > 3.14159265358979) d = fabs(d - 6.283185307179586);
        m = d > m ? d : m;
    }
    return m;
}

/* filtfilt output, phase and amplitude equal tensorpac's for epochs 0 and 5 of the reference */
static void test_bandpass_against_tensorpac(void)
{
    npy_array x = load("signal.npy"), fp = load("f_pha.npy"), fa = load("f_amp.npy");
    npy_array rfp = load("filt_pha_epochs_0_5.npy"), rfa = load("filt_amp_epochs_0_5.npy");
    npy_array rp = load("pha_epochs_0_5.npy"), ra = load("amp_epochs_0_5.npy");
    size_t n = 2048, b, e;
    double sig[2 * 2048], *out = (double *)malloc(10 * 2 * n * sizeof(double)), worst[4] = {0, 0, 0, 0}, scale[4] = {0, 0, 0, 0};
    int what;
    tp_error err;
    CHECK(x.data && fp.data && fa.data && rfp.data && rfa.data && rp.data && ra.data);
    if (!x.data || !fp.data || !fa.data || !rfp.data || !rfa.data || !rp.data || !ra.data) return;
    memcpy(sig, (const double *)x.data, n * sizeof(double));
    memcpy(sig + n, (const double *)x.data + 5 * n, n * sizeof(double));
    for (what = 0; what < 4; what++) { /* filtered pha bands, filtered amp bands, phase, amplitude */
        const npy_array *bands = what == 0 || what == 2 ? &fp : &fa, *ref = what == 0 ? &rfp : what == 1 ? &rfa : what == 2 ? &rp : &ra;
        pac_signal_kind kind = what < 2 ? PAC_FILTERED : what == 2 ? PAC_PHASE : PAC_AMPLITUDE;
        CHECK(pac_bandpass(NULL, sig, 2, n, 512.0, (const double *)bands->data, 10, what == 0 || what == 2 ? 3 : 6, kind, out,
                           &err) == TP_OK);
        for (b = 0; b < 10; b++)
            for (e = 0; e < 2; e++) {
                const double *r = (const double *)ref->data + (b * 2 + e) * n, *o = out + (b * 2 + e) * n;
                double d = max_diff(o, r, n, kind == PAC_PHASE);
                size_t i;
                for (i = 0; i < n; i++) scale[what] = fabs(r[i]) > scale[what] ? fabs(r[i]) : scale[what];
                worst[what] = d > worst[what] ? d : worst[what];
            }
    }
    /* the filtered signals and amplitudes relative to their largest value, phases in radians */
    CHECK_MSG(worst[0] <= 1e-10 * scale[0], "filtered (phase bands): %.3g of %.3g", worst[0], scale[0]);
    CHECK_MSG(worst[1] <= 1e-10 * scale[1], "filtered (amplitude bands): %.3g of %.3g", worst[1], scale[1]);
    CHECK_MSG(worst[2] <= 1e-10, "phase: %.3g rad", worst[2]);
    CHECK_MSG(worst[3] <= 1e-10 * scale[3], "amplitude: %.3g of %.3g", worst[3], scale[3]);
    if (getenv("TK_VERBOSE"))
        fprintf(stderr, "  filtered %.3g / %.3g, phase %.3g rad, amplitude %.3g (relative to max)\n", worst[0] / scale[0],
                worst[1] / scale[1], worst[2], worst[3] / scale[3]);
    free(out);
    npy_free(&x); npy_free(&fp); npy_free(&fa); npy_free(&rfp); npy_free(&rfa); npy_free(&rp); npy_free(&ra);
}

/* Bad input: a message naming the problem, nothing written past out */
static void test_bandpass_bad_input(void)
{
    double x[64], out[64], bands[2] = {5, 7}, above[2] = {100, 300}, inverted[2] = {9, 7};
    tp_error err;
    size_t i;
    for (i = 0; i < 64; i++) x[i] = sin(0.3 * (double)i);
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, above, 1, 3, PAC_PHASE, out, &err) == TP_ERR_ARG && strstr(err.message, "band 0"));
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, inverted, 1, 3, PAC_PHASE, out, &err) == TP_ERR_ARG);
    CHECK(pac_bandpass(NULL, x, 1, 3, 512, bands, 1, 3, PAC_PHASE, out, &err) == TP_ERR_ARG && strstr(err.message, "short"));
    CHECK(pac_bandpass(NULL, x, 1, 64, -1, bands, 1, 3, PAC_PHASE, out, &err) == TP_ERR_ARG && strstr(err.message, "fs"));
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, bands, 1, 0, PAC_PHASE, out, &err) == TP_ERR_ARG);
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, bands, 1, 3, (pac_signal_kind)7, out, &err) == TP_ERR_ARG && strstr(err.message, "what"));
    CHECK(pac_bandpass(NULL, NULL, 1, 64, 512, bands, 1, 3, PAC_PHASE, out, NULL) == TP_ERR_ARG);
    /* a short signal: the order is capped at (64 - 1) / 3 = 21 and the run succeeds */
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, bands, 1, 3, PAC_AMPLITUDE, out, &err) == TP_OK);
    x[10] = NAN;
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, bands, 1, 3, PAC_AMPLITUDE, out, &err) == TP_OK && isnan(out[0]));
}

/* Both MI definitions against tensorpac's reference (all 8 epochs, 10 x 10 bands), on phases
   and amplitudes computed here (within 3e-13 rad and 1e-15 of tensorpac's, section 4) */
static void test_mi_against_tensorpac(void)
{
    npy_array x = load("signal.npy"), fp = load("f_pha.npy"), fa = load("f_amp.npy"), rt = load("mi_tensorpac.npy"),
              rr = load("mi_tort.npy");
    size_t n = 2048, i;
    double *pha = (double *)malloc(10 * 8 * n * sizeof(double)), *amp = (double *)malloc(10 * 8 * n * sizeof(double));
    double mi[800], worst_t = 0, worst_r = 0, tort_vs_tensorpac = 0;
    tp_error err;
    CHECK(x.data && fp.data && fa.data && rt.data && rr.data);
    if (!x.data || !fp.data || !fa.data || !rt.data || !rr.data) return;
    CHECK(pac_bandpass(NULL, (const double *)x.data, 8, n, 512, (const double *)fp.data, 10, 3, PAC_PHASE, pha, &err) == TP_OK);
    CHECK(pac_bandpass(NULL, (const double *)x.data, 8, n, 512, (const double *)fa.data, 10, 6, PAC_AMPLITUDE, amp, &err) == TP_OK);
    CHECK(pac_modulation_index(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, mi, &err) == TP_OK);
    for (i = 0; i < 800; i++) {
        double r = ((const double *)rt.data)[i], d = fabs(mi[i] - r) / fabs(r);
        worst_t = d > worst_t ? d : worst_t;
    }
    CHECK(pac_modulation_index(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TORT, mi, &err) == TP_OK);
    for (i = 0; i < 800; i++) {
        double r = ((const double *)rr.data)[i], d = fabs(mi[i] - r) / fabs(r);
        worst_r = d > worst_r ? d : worst_r;
        d = fabs(r - ((const double *)rt.data)[i]);
        tort_vs_tensorpac = d > tort_vs_tensorpac ? d : tort_vs_tensorpac;
    }
    CHECK_MSG(worst_t <= 1e-10, "tensorpac MI: relative error %.3g", worst_t);
    CHECK_MSG(worst_r <= 1e-10, "Tort MI: relative error %.3g", worst_r);
    CHECK(tort_vs_tensorpac > 1e-3); /* the two definitions really differ here, so both are checked */
    if (getenv("TK_VERBOSE"))
        fprintf(stderr, "  MI relative error: tensorpac %.3g, Tort %.3g (the definitions differ by %.3g)\n", worst_t, worst_r,
                tort_vs_tensorpac);
    free(pha); free(amp);
    npy_free(&x); npy_free(&fp); npy_free(&fa); npy_free(&rt); npy_free(&rr);
}

/* A phase at exactly -pi or pi lands in the first or last bin; a uniform amplitude gives MI 0; an
   amplitude only at one phase gives MI 1; bad arguments are refused */
static void test_mi_edges(void)
{
    double pha[36], amp[36], mi = -1;
    tp_error err;
    size_t i;
    for (i = 0; i < 36; i++) { pha[i] = -3.141592653589793 + 2 * 3.141592653589793 * (double)i / 36.0; amp[i] = 1.0; }
    pha[0] = -3.141592653589793;
    pha[35] = 3.141592653589793;
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, 36, PAC_MI_TORT, &mi, &err) == TP_OK && fabs(mi) < 1e-15);
    amp[35] = 5.0; /* the sample at exactly pi counts (in the last bin): the MI moves off 0 */
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, 36, PAC_MI_TORT, &mi, &err) == TP_OK && mi > 0.01);
    for (i = 0; i < 36; i++) amp[i] = i == 7 ? 1.0 : 0.0;
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, 36, PAC_MI_TENSORPAC, &mi, &err) == TP_OK && fabs(mi - 1.0) < 1e-15);
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, 36, (pac_mi)9, &mi, &err) == TP_ERR_ARG && strstr(err.message, "method"));
    CHECK(pac_modulation_index(NULL, NULL, 1, amp, 1, 1, 36, PAC_MI_TORT, &mi, &err) == TP_ERR_ARG);
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, (size_t)-1 / 2, PAC_MI_TORT, &mi, &err) == TP_ERR_OVERFLOW);
}

/* The histogram kernels (samples sorted by bin, sums in registers): every vector width this CPU
   runs gives the same bits, and the sums are those of each bin's amplitudes shifted circularly
   (against long-double sums), for shifts that wrap nowhere, early, late, and samples without a bin */
static void test_histogram_variants(void)
{
    enum { N = 1000, LD = 32 };
    struct variant { pac__hist_fn f; int f32; const char *name; } v[8];
    static double ampd[N * LD], hd[PAC_N_BINS * LD], firstd[PAC_N_BINS * LD];
    static float ampf[N * LD], hf[PAC_N_BINS * LD], firstf[PAC_N_BINS * LD];
    static unsigned char bq[N];
    static uint32_t order[N], start[PAC_N_BINS + 1];
    size_t shifts[4] = {0, 1, 377, N - 1}, i, k, t, a, nv = 0;
    uint64_t st = 5;
    int j;
#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
    v[nv].f = pac__histogram_v2, v[nv].f32 = 0, v[nv++].name = "16-byte doubles";
    v[nv].f = pac__histogram_v4f, v[nv].f32 = 1, v[nv++].name = "16-byte floats";
#if defined(PAC__X86_WIDE)
    if (__builtin_cpu_supports("avx2")) {
        v[nv].f = pac__histogram_avx2, v[nv].f32 = 0, v[nv++].name = "AVX2 doubles";
        v[nv].f = pac__histogram_avx2f, v[nv].f32 = 1, v[nv++].name = "AVX2 floats";
    }
    if (__builtin_cpu_supports("avx512f")) {
        v[nv].f = pac__histogram_avx512, v[nv].f32 = 0, v[nv++].name = "AVX-512 doubles";
        v[nv].f = pac__histogram_avx512f, v[nv].f32 = 1, v[nv++].name = "AVX-512 floats";
    }
#endif
#else
    v[nv].f = pac__histogram_plain, v[nv].f32 = 0, v[nv++].name = "plain doubles";
    v[nv].f = pac__histogram_plainf, v[nv].f32 = 1, v[nv++].name = "plain floats";
#endif
    for (t = 0; t < N; t++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        bq[t] = (unsigned char)(t % 97 == 5 ? (uint64_t)PAC_N_BINS : (st >> 33) % PAC_N_BINS);
        for (a = 0; a < LD; a++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            ampd[t * LD + a] = (double)(st >> 11) / 9007199254740992.0 + 0.1, ampf[t * LD + a] = (float)ampd[t * LD + a];
        }
    }
    pac__sort_bins(bq, N, PAC_N_BINS, order, start);
    CHECK(start[PAC_N_BINS] == N - (N + 91) / 97);
    for (k = 0; k < 4; k++) {
        int have_d = 0, have_f = 0;
        for (i = 0; i < nv; i++) {
            double worst = 0;
            v[i].f(order, start, PAC_N_BINS, v[i].f32 ? (const void *)ampf : (const void *)ampd, N, LD, shifts[k], v[i].f32 ? (void *)hf : (void *)hd);
            for (j = 0; j < PAC_N_BINS; j++)
                for (a = 0; a < LD; a++) {
                    long double want = 0;
                    double got = v[i].f32 ? hf[j * LD + a] : hd[j * LD + a];
                    for (t = 0; t < N; t++)
                        if (bq[t] == j) want += v[i].f32 ? ampf[(t + shifts[k]) % N * LD + a] : ampd[(t + shifts[k]) % N * LD + a];
                    worst = fabs(got - (double)want) / (double)want > worst ? fabs(got - (double)want) / (double)want : worst;
                }
            CHECK_MSG(worst < (v[i].f32 ? 1e-5 : 1e-13), "%s, shift %zu: %.3g", v[i].name, shifts[k], worst);
            if (v[i].f32 && have_f) CHECK_MSG(!memcmp(hf, firstf, sizeof hf), "%s, shift %zu: other bits", v[i].name, shifts[k]);
            if (!v[i].f32 && have_d) CHECK_MSG(!memcmp(hd, firstd, sizeof hd), "%s, shift %zu: other bits", v[i].name, shifts[k]);
            if (v[i].f32 && !have_f) memcpy(firstf, hf, sizeof hf), have_f = 1;
            if (!v[i].f32 && !have_d) memcpy(firstd, hd, sizeof hd), have_d = 1;
        }
    }
}

/* The CUDA runs kernel's MI from two sums a histogram (pac__mi_add_bin, pac__mi_sums) against
   pac__mi_cell: weak to strong coupling, weights, empty bins and an empty histogram */
static void test_mi_from_sums(void)
{
    double h[PAC_N_BINS], w[PAC_N_BINS], worst = 0;
    uint64_t st = 99;
    int trial, j;
    for (trial = 0; trial < 2000; trial++) {
        double total = 0, ulogu = 0, depth = trial % 4 == 0 ? 0.0 : ldexp(1.0, -(trial % 20)), d;
        for (j = 0; j < PAC_N_BINS; j++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            h[j] = 100.0 * (1.0 + depth * sin(0.35 * j + trial)) * (1.0 + 1e-3 * (double)(st >> 40) / 16777216.0);
            w[j] = trial % 3 ? 1.0 : 1.0 / (50.0 + j);
            if (trial % 7 == 0 && j == 5) h[j] = 0;
        }
        for (j = 0; j < PAC_N_BINS; j++) pac__mi_add_bin(h[j], w[j], &total, &ulogu);
        d = fabs(pac__mi_sums(total, ulogu) - pac__mi_cell(h, 1, PAC_N_BINS, w));
        worst = d > worst ? d : worst;
    }
    CHECK_MSG(worst < 1e-14, "MI from two sums vs pac__mi_cell: %.3g", worst);
    for (j = 0; j < PAC_N_BINS; j++) h[j] = 0, w[j] = 1;
    CHECK(pac__mi_sums(0, 0) == 0 && pac__mi_cell(h, 1, PAC_N_BINS, w) == 0);
}

/* The CUDA runs kernel's rows stored once: the shifted row of every time, against
   ((t + shift) mod n) ag + a, for lengths, band counts, bands and shifts at the edges and at random */
static void test_wrap_rows(void)
{
    static const unsigned ns[] = {1, 2, 7, 2048, 20000, 29000}, ags[] = {1, 2, 4, 32};
    uint64_t st = 7;
    size_t i, g;
    long bad = 0;
    for (i = 0; i < sizeof ns / sizeof *ns; i++)
        for (g = 0; g < sizeof ags / sizeof *ags; g++) {
            unsigned n = ns[i], ag = ags[g], span = n * ag * 4, trial;
            for (trial = 0; trial < 40; trial++) {
                unsigned shift = trial == 0 ? 0 : trial == 1 ? n - 1 : (unsigned)((st = st * 6364136223846793005ull + 1442695040888963407ull) >> 33) % n;
                unsigned a = trial % ag, off, early, thr, t;
                pac__wrap_plan(shift, a, ag, span, &off, &early, &thr);
                for (t = 0; t < n; t += n > 64 && t > 8 && t < n - 8 ? 37 : 1)
                    bad += pac__wrap_row(t * ag * 4, off, early, thr) != ((t + shift) % n * ag + a) * 4;
            }
        }
    CHECK_MSG(bad == 0, "%ld shifted rows wrong", bad);
}

/* tensorpac's 20 swap-block surrogates (replayed from its cut points) and z-scores */
static void test_surrogates_against_tensorpac(void)
{
    npy_array x = load("signal.npy"), fp = load("f_pha.npy"), fa = load("f_amp.npy"), rs = load("surrogates.npy"),
              rc = load("surrogate_cuts.npy"), rz = load("mi_zscore.npy");
    size_t n = 2048, i;
    double *pha = (double *)malloc(10 * 8 * n * sizeof(double)), *amp = (double *)malloc(10 * 8 * n * sizeof(double));
    double *surro = (double *)malloc(20 * 800 * sizeof(double)), mi[800], mean[800], sd[800], mean2[800], worst_s = 0, worst_z = 0;
    int64_t cuts[20], bad_cut = 2048;
    tp_error err;
    CHECK(x.data && fp.data && fa.data && rs.data && rc.data && rz.data);
    if (!x.data || !fp.data || !fa.data || !rs.data || !rc.data || !rz.data) return;
    pac_bandpass(NULL, (const double *)x.data, 8, n, 512, (const double *)fp.data, 10, 3, PAC_PHASE, pha, &err);
    pac_bandpass(NULL, (const double *)x.data, 8, n, 512, (const double *)fa.data, 10, 6, PAC_AMPLITUDE, amp, &err);
    CHECK(pac_modulation_index(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, mi, &err) == TP_OK);
    CHECK(pac_swap_blocks(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, (const int64_t *)rc.data, 20, surro, mean, sd, &err) == TP_OK);
    for (i = 0; i < 20 * 800; i++) {
        double r = ((const double *)rs.data)[i], d = fabs(surro[i] - r) / fabs(r);
        worst_s = d > worst_s ? d : worst_s;
    }
    for (i = 0; i < 800; i++) {
        double r = ((const double *)rz.data)[i], z = (mi[i] - mean[i]) / sd[i], d = fabs(z - r);
        worst_z = d > worst_z ? d : worst_z;
    }
    CHECK_MSG(worst_s <= 1e-9, "surrogates: relative error %.3g", worst_s);
    CHECK_MSG(worst_z <= 1e-9, "z-scores: error %.3g", worst_z);
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  surrogates relative error %.3g, z-scores %.3g\n", worst_s, worst_z);
    /* without the cube: the same mean */
    CHECK(pac_swap_blocks(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, (const int64_t *)rc.data, 20, NULL, mean2, NULL, &err) == TP_OK && memcmp(mean, mean2, sizeof mean) == 0);
    /* seeded cuts: in range, the same for the same seed, different for another */
    CHECK(pac_random_cuts(7, n, 20, cuts, NULL) == TP_OK);
    for (i = 0; i < 20; i++) CHECK(cuts[i] >= 1 && cuts[i] < (int64_t)n);
    {
        int64_t again[20], other[20];
        pac_random_cuts(7, n, 20, again, NULL);
        pac_random_cuts(8, n, 20, other, NULL);
        CHECK(memcmp(cuts, again, sizeof cuts) == 0 && memcmp(cuts, other, sizeof cuts) != 0);
    }
    CHECK(pac_swap_blocks(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, &bad_cut, 1, NULL, mean, sd, &err) ==
              TP_ERR_ARG && strstr(err.message, "cuts[0] is"));
    free(pha); free(amp); free(surro);
    npy_free(&x); npy_free(&fp); npy_free(&fa); npy_free(&rs); npy_free(&rc); npy_free(&rz);
}

/* the presets are numpy's linspace bands, bit for bit */
static void test_band_presets(void)
{
    static const char *names[5] = {"lres", "mres", "hres", "demon", "hulk"};
    int k;
    for (k = 0; k < 5; k++) {
        char file[64];
        npy_array ref;
        double bands[200];
        size_t n;
        snprintf(file, sizeof file, "preset_%s.npy", names[k]);
        ref = load(file);
        CHECK(ref.data != NULL);
        if (!ref.data) continue;
        size_t n2 = 0;
        CHECK(pac_band_preset(names[k], PAC_PHASE, bands, &n, NULL) == TP_OK);
        CHECK(n == ref.shape[1] && pac_band_preset(names[k], PAC_PHASE, NULL, &n2, NULL) == TP_OK && n2 == n);
        CHECK_MSG(memcmp(bands, ref.data, 2 * n * sizeof(double)) == 0, "%s phase bands", names[k]);
        CHECK(pac_band_preset(names[k], PAC_AMPLITUDE, bands, &n2, NULL) == TP_OK && n2 == n);
        CHECK_MSG(memcmp(bands, (const double *)ref.data + 2 * n, 2 * n * sizeof(double)) == 0, "%s amplitude bands", names[k]);
        npy_free(&ref);
    }
    {
        tp_error err;
        size_t n = 7;
        CHECK(pac_band_preset("ultra", PAC_PHASE, NULL, &n, &err) == TP_ERR_ARG && n == 0 && strstr(err.message, "'ultra'") &&
              strstr(err.message, "mres"));
        CHECK(pac_band_preset("mres", PAC_FILTERED, NULL, NULL, &err) == TP_ERR_ARG && strstr(err.message, "kind"));
        CHECK(pac_band_preset(NULL, PAC_PHASE, NULL, NULL, NULL) == TP_ERR_ARG);
    }
}

/* ---- the one-call pipeline ---------------------------------------------------------------- */

/* The reference problem: 8 signals x 2048 samples at 512 Hz, 10 x 10 bands */
typedef struct ref_case {
    npy_array x, fp, fa, cuts;
    pac_desc d;
} ref_case;

static int ref_open(ref_case *c, pac_mi method)
{
    memset(c, 0, sizeof *c);
    c->x = load("signal.npy");
    c->fp = load("f_pha.npy");
    c->fa = load("f_amp.npy");
    c->cuts = load("surrogate_cuts.npy");
    if (!c->x.data || !c->fp.data || !c->fa.data || !c->cuts.data) return 0;
    c->d.fs = 512;
    c->d.pha_bands = (const double *)c->fp.data;
    c->d.n_pha = 10;
    c->d.amp_bands = (const double *)c->fa.data;
    c->d.n_amp = 10;
    c->d.method = method;
    return 1;
}

static void ref_close(ref_case *c)
{
    npy_free(&c->x); npy_free(&c->fp); npy_free(&c->fa); npy_free(&c->cuts);
}

static double check_idpac(ref_case *c, int m, const uint32_t *pairs, const double *pha, const double *amp);
static int ref_pairs(uint32_t *pairs);

static double worst_rel(const double *a, const double *b, size_t n)
{
    double w = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / fabs(b[i]);
        w = d > w || d != d ? d : w;
    }
    return w;
}

/* every variant of the phase binning gives atan2's bins (pac__bin_xy's), near the edges, at
   zero, -0, infinity and NaN too */
static void test_phase_bins(void)
{
    enum { N = 20011 };
    typedef struct variant { const char *name; pac__bin_fn f; } variant;
    variant v[4];
    int nv = 0, i, k;
    pac__bins bn;
    double *re = (double *)malloc(N * sizeof(double)), *im = (double *)malloc(N * sizeof(double));
    unsigned char *want = (unsigned char *)malloc(N), *got = (unsigned char *)malloc(N);
    size_t t, near = 0;
    pac__bins_init(&bn, PAC_N_BINS);
    v[nv].name = "plain", v[nv++].f = pac__bin_plain;
#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
    v[nv].name = "16-byte vectors", v[nv++].f = pac__bin_v2;
#if defined(PAC__X86_WIDE)
    if (__builtin_cpu_supports("avx2")) v[nv].name = "AVX2", v[nv++].f = pac__bin_avx2;
    if (__builtin_cpu_supports("avx512f")) v[nv].name = "AVX-512", v[nv++].f = pac__bin_avx512;
#endif
#endif
    for (t = 0; t < N; t++) {
        double ang, mag = exp(6 * uniform_pm1());
        k = (int)(t % 7);
        if (t >= 3 && t < 43) k = 3 + (int)(t % 2); /* the tail tests' samples: all near edges */
        if (k < 3) ang = 3.14159265358979 * uniform_pm1();                               /* anywhere */
        else ang = bn.edge[t % (PAC_N_BINS + 1)] + (k - 4) * 1e-3 + 1e-9 * uniform_pm1(); /* near an edge */
        re[t] = mag * cos(ang), im[t] = mag * sin(ang);
    }
    re[0] = 0, im[0] = 0;
    re[1] = -1, im[1] = -0.0;
    re[2] = -1, im[2] = 0.0;
    re[3] = 1.0 / 0.0, im[3] = 1;
    re[4] = 0.0 / 0.0, im[4] = 1;
    re[5] = 1e-300, im[5] = -1e-300;
    re[6] = 0, im[6] = -2;
    for (t = 0; t < N; t++) want[t] = pac__bin_xy(&bn, re[t], im[t] * 0.5);
    for (t = 0; t < N; t++) near += fabs(remainder(atan2(im[t], re[t]) - bn.edge[0], 2 * 3.14159265358979323846 / PAC_N_BINS)) < 0.01;
    for (i = 0; i < nv; i++) {
        size_t len;
        memset(got, 0xee, N);
        v[i].f(&bn, re, im, 0.5, N, got);
        CHECK_MSG(!memcmp(want, got, N), "phase bins: %s", v[i].name);
        for (len = 1; len <= 40; len++) { /* every tail length; the samples near edges (offset 3) */
            memset(got, 0xee, len);
            v[i].f(&bn, re + 3, im + 3, 0.5, len, got);
            CHECK_MSG(!memcmp(want + 3, got, len), "phase bins: %s, %zu samples", v[i].name, len);
        }
    }
    CHECK(want[1] == 0 && want[2] == PAC_N_BINS - 1 && want[4] == PAC_N_BINS && near > N / 4);
    free(re), free(im), free(want), free(got);
}

/* pac_run from the raw signal equals tensorpac: MI (both definitions), the 20 replayed
   surrogates, z-scores and tensorpac's maxstat p-values */
static void test_run_against_tensorpac(void)
{
    ref_case c;
    npy_array rmi = load("mi_tensorpac.npy"), rtort = load("mi_tort.npy"), rs = load("surrogates.npy"),
              rz = load("mi_zscore.npy"), rp = load("pvalues_maxstat.npy");
    double mi[800], z[800], p[800], mean[800], sd[800], pmax[100], *cube = (double *)malloc(20 * 800 * sizeof(double));
    double w_mi, w_tort, w_s, w_z = 0;
    pac_output o;
    tp_error err;
    size_t i, k;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC) && rmi.data && rtort.data && rs.data && rz.data && rp.data);
    if (!c.x.data || !rmi.data || !rtort.data || !rs.data || !rz.data || !rp.data) goto out;
    memset(&o, 0, sizeof o);
    o.pac = mi;
    CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
    w_mi = worst_rel(mi, (const double *)rmi.data, 800);
    c.d.method = PAC_MI_TORT;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK);
    w_tort = worst_rel(mi, (const double *)rtort.data, 800);
    CHECK_MSG(w_mi <= 1e-10 && w_tort <= 1e-10, "MI relative error %.3g (tensorpac), %.3g (Tort)", w_mi, w_tort);

    c.d.method = PAC_MI_TENSORPAC;
    c.d.surrogates = PAC_SURR_SWAP_BLOCKS;
    c.d.n_perm = 20;
    c.d.cuts = (const int64_t *)c.cuts.data;
    o.z = z;
    o.p = p;
    o.surr_mean = mean;
    o.surr_std = sd;
    o.pvalues = pmax;
    o.surrogates = cube;
    CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
    w_s = worst_rel(cube, (const double *)rs.data, 20 * 800);
    for (i = 0; i < 800; i++) {
        double d = fabs(z[i] - ((const double *)rz.data)[i]);
        w_z = d > w_z ? d : w_z;
    }
    CHECK_MSG(w_s <= 1e-9 && w_z <= 1e-9, "surrogates relative error %.3g, z %.3g", w_s, w_z);
    CHECK_MSG(memcmp(pmax, rp.data, sizeof pmax) == 0, "maxstat p-values differ from tensorpac's");
    for (i = 0; i < 800; i++) { /* the other statistics from the cube, as their definitions say */
        double m = 0, m2 = 0, ge = 0;
        for (k = 0; k < 20; k++) m += cube[k * 800 + i];
        m /= 20;
        for (k = 0; k < 20; k++) {
            m2 += (cube[k * 800 + i] - m) * (cube[k * 800 + i] - m);
            ge += cube[k * 800 + i] >= mi[i];
        }
        CHECK_NEAR(mean[i], m, 1e-15);
        CHECK_NEAR(sd[i], sqrt(m2 / 20), 1e-15);
        CHECK(p[i] == (ge > 1 ? ge : 1) / 20.0);
    }
    if (getenv("TK_VERBOSE"))
        fprintf(stderr, "  MI %.3g / Tort %.3g, surrogates %.3g, z %.3g\n", w_mi, w_tort, w_s, w_z);
out:
    free(cube);
    ref_close(&c);
    npy_free(&rmi); npy_free(&rtort); npy_free(&rs); npy_free(&rz); npy_free(&rp);
}

/* The largest |a - b| over the largest |b| */
static double worst_scaled(const double *a, const double *b, size_t n)
{
    double e = 0, m = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= e)) e = d; /* NaN on either side counts as the worst */
        m = fabs(b[i]) > m ? fabs(b[i]) : m;
    }
    return m > 0 ? e / m : e;
}

/* pac_run of c->d on the reference signal against tensorpac's tests/data/pac/methods/NAME: the
   largest difference over the largest value (1 when either is missing), checked <= 1e-9 */
static void check_against(ref_case *c, const char *name, double *pac)
{
    npy_array ref = td_load(DATA "methods/", name);
    pac_output o;
    tp_error err;
    double w = 1;
    memset(&o, 0, sizeof o);
    o.pac = pac;
    CHECK_MSG(pac_run(&c->d, c->x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s: %s", name, err.message);
    if (ref.data) w = worst_scaled(pac, (const double *)ref.data, 800);
    CHECK_MSG(w <= 1e-9, "%s: error %.3g of the largest value", name, w);
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  %s: %.3g\n", name, w);
    npy_free(&ref);
}

/* Phase from one signal, amplitude from another (tensorpac's x_amp): epoch e's phase with epoch
   e + 1's amplitude, against tensorpac's filterfit(sf, x, x_amp) */
static void test_x_amp_against_tensorpac(void)
{
    static const int methods[3] = {1, 2, 6};
    ref_case c;
    double *xa = NULL, pac[800];
    pac_output o;
    tp_error err;
    int i;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC));
    if (!c.x.data) goto out;
    xa = (double *)malloc(8 * 2048 * sizeof(double));
    for (i = 0; i < 8; i++) memcpy(xa + (size_t)i * 2048, (const double *)c.x.data + (size_t)((i + 1) % 8) * 2048, 2048 * sizeof(double));
    c.d.x_amp = xa;
    for (i = 0; i < 3; i++) {
        char name[64];
        c.d.measure = (pac_measure)methods[i];
        snprintf(name, sizeof name, "m%d_xamp_pac.npy", methods[i]);
        check_against(&c, name, pac);
    }
    memset(&o, 0, sizeof o);
    o.pac = pac;
    c.d.backend = PAC_BACKEND_CUDA; /* never on the device */
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) != TP_OK);
out:
    free(xa);
    ref_close(&c);
}

/* desc.edges: filtered at full length, 100 samples dropped at each end before anything is
   measured, against tensorpac's filterfit(..., edges=100), surrogates and z-scores included */
static void test_edges_against_tensorpac(void)
{
    static const int methods[4] = {1, 2, 5, 6};
    ref_case c;
    npy_array cuts = td_load(DATA "methods/", "edges_shifts.npy");
    double pac[800], norm[800];
    pac_output o;
    tp_error err;
    int i;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC) && cuts.data);
    if (!c.x.data || !cuts.data) goto out;
    memset(&o, 0, sizeof o);
    o.pac = pac;
    c.d.edges = 100;
    for (i = 0; i < 4; i++) {
        char name[64];
        npy_array ref;
        double w;
        c.d.measure = (pac_measure)methods[i];
        snprintf(name, sizeof name, "m%d_edges100_pac.npy", methods[i]);
        check_against(&c, name, pac);
        if (methods[i] > 2) continue;
        c.d.surrogates = PAC_SURR_SWAP_BLOCKS, c.d.n_perm = 10, c.d.cuts = (const int64_t *)cuts.data, c.d.norm = PAC_NORM_ZSCORE;
        o.norm = norm;
        snprintf(name, sizeof name, "m%d_edges100_s2_n4.npy", methods[i]);
        ref = td_load(DATA "methods/", name);
        CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
        w = ref.data ? worst_scaled(norm, (const double *)ref.data, 800) : 1;
        CHECK_MSG(w <= 1e-9, "%s: error %.3g of the largest value", name, w);
        npy_free(&ref);
        c.d.surrogates = PAC_SURR_NONE, c.d.n_perm = 0, c.d.cuts = NULL, c.d.norm = PAC_NORM_NONE;
        o.norm = NULL;
    }
    c.d.measure = PAC_MI;
    c.d.edges = 1023; /* 2 samples left */
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.edges"));
    c.d.edges = 100, c.d.surrogates = PAC_SURR_SWAP_BLOCKS, c.d.n_perm = 1;
    {
        int64_t late = 1900; /* a shift past the samples left */
        c.d.cuts = &late;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "after desc.edges"));
    }
out:
    npy_free(&cuts);
    ref_close(&c);
}

/* n_bins other than 18 (tensorpac's n_bins of the MI and the heights ratio) against tensorpac;
   out of range refused */
static void test_n_bins_against_tensorpac(void)
{
    ref_case c;
    double pac[800];
    pac_output o;
    tp_error err;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC));
    if (!c.x.data) goto out;
    c.d.n_bins = 12;
    c.d.measure = PAC_MI;
    check_against(&c, "m2_bins12_pac.npy", pac);
    c.d.measure = PAC_HR;
    check_against(&c, "m3_bins12_pac.npy", pac);
    memset(&o, 0, sizeof o);
    o.pac = pac;
    c.d.n_bins = 1;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.n_bins"));
    c.d.n_bins = PAC_MAX_BINS + 1;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.n_bins"));
    c.d.n_bins = PAC_MAX_BINS, c.d.measure = PAC_MI, c.d.method = PAC_MI_TORT;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK && pac[0] >= 0 && pac[0] < 1);
out:
    ref_close(&c);
}

/* out.binned and out.pp against tensorpac's PreferredPhase.filterfit with 12 and 72 bins */
static void test_preferred_phase_against_tensorpac(void)
{
    static const int bins[2] = {12, 72};
    ref_case c;
    double *binned = (double *)malloc(72 * 800 * sizeof(double)), pac[800], pp[800];
    pac_output o;
    tp_error err;
    int i;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC));
    if (!c.x.data) goto out;
    memset(&o, 0, sizeof o);
    o.pac = pac, o.binned = binned, o.pp = pp;
    c.d.measure = PAC_HR;
    for (i = 0; i < 2; i++) {
        char name[64];
        npy_array rb, rp;
        double wb, wp = 0;
        size_t j;
        c.d.n_bins = bins[i];
        snprintf(name, sizeof name, "pp%d_binned.npy", bins[i]);
        rb = td_load(DATA "methods/", name);
        snprintf(name, sizeof name, "pp%d_pp.npy", bins[i]);
        rp = td_load(DATA "methods/", name);
        CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
        wb = rb.data ? worst_scaled(binned, (const double *)rb.data, (size_t)bins[i] * 800) : 1;
        for (j = 0; rp.data && j < 800; j++) wp += pp[j] != ((const double *)rp.data)[j];
        CHECK_MSG(rp.data && wb <= 1e-12 && wp == 0, "%d bins: binned amplitude %.3g, %g preferred phases differ", bins[i], wb, wp);
        if (getenv("TK_VERBOSE")) fprintf(stderr, "  preferred phase, %d bins: binned %.3g, phases equal\n", bins[i], wb);
        npy_free(&rb);
        npy_free(&rp);
    }
    c.d.measure = PAC_MVL;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "pooled bin counts"));
out:
    free(binned);
    ref_close(&c);
}

/* dcomplex = wavelet: tensorpac's Morlet transform (np.convolve's centred slice) in place of
   the filters and Hilbert, against tensorpac, width 7 and 5 */
static void test_wavelet_against_tensorpac(void)
{
    static const int methods[5] = {1, 2, 5, 6, 2};
    ref_case c;
    double pac[800];
    pac_output o;
    tp_error err;
    int i;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC));
    if (!c.x.data) goto out;
    c.d.dcomplex = PAC_DCOMPLEX_WAVELET;
    for (i = 0; i < 5; i++) {
        char name[64];
        c.d.measure = (pac_measure)methods[i];
        c.d.width = i == 4 ? 5 : 0;
        snprintf(name, sizeof name, i == 4 ? "m%d_wavelet5_pac.npy" : "m%d_wavelet_pac.npy", methods[i]);
        check_against(&c, name, pac);
    }
    memset(&o, 0, sizeof o);
    o.pac = pac;
    c.d.width = -1;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.width"));
    c.d.width = 0, c.d.dcomplex = (pac_dcomplex)2;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.dcomplex"));
out:
    ref_close(&c);
}

/* Event-related PAC (both methods) against tensorpac's EventRelatedPac on 40 epochs; the p-values
   of the circular method; bit for bit whatever the workers; permutations' maxstat p-values */
static void test_erpac_against_tensorpac(void)
{
    npy_array x = td_load(DATA "methods/", "erpac_signal.npy"), fp = load("f_pha.npy"), fa = load("f_amp.npy");
    npy_array rc = td_load(DATA "methods/", "erpac_circular.npy"), rp = td_load(DATA "methods/", "erpac_circular_p.npy");
    npy_array rg = td_load(DATA "methods/", "erpac_gc.npy");
    double *er = (double *)malloc(9 * 1024 * sizeof(double)), *pv = (double *)malloc(9 * 1024 * sizeof(double));
    double *again = (double *)malloc(9 * 1024 * sizeof(double)), wc = 0, wp = 0, wg = 0, top = 0;
    pac_desc d;
    pac_erpac_output o;
    tp_error err;
    size_t a, q, t;
    int m;
    CHECK(x.data && fp.data && fa.data && rc.data && rp.data && rg.data);
    if (!x.data || !fp.data || !fa.data || !rc.data || !rp.data || !rg.data) goto out;
    memset(&d, 0, sizeof d);
    d.fs = 512;
    d.pha_bands = (const double *)fp.data + 2, d.n_pha = 3;
    d.amp_bands = (const double *)fa.data + 6, d.n_amp = 3;
    d.n_threads = 1;
    memset(&o, 0, sizeof o);
    o.erpac = er, o.pvalues = pv;
    for (m = 0; m < 2; m++) {
        const double *ref = m ? (const double *)rg.data : (const double *)rc.data;
        double w = 0;
        if (m) o.pvalues = NULL;
        CHECK_MSG(pac_erpac(&d, (pac_erpac_method)m, x.data, TP_F64, 40, 1024, &o, &err) == TP_OK, "%s", err.message);
        for (a = 0; a < 3; a++)
            for (q = 0; q < 3; q++)
                for (t = 0; t < 512; t++) {
                    double v = er[(a * 3 + q) * 1024 + t], r = ref[(a * 3 + q) * 512 + t];
                    w = fabs(v - r) > w || v != v ? fabs(v - r) : w;
                    top = fabs(r) > top ? fabs(r) : top;
                    if (!m) wp = fabs(pv[(a * 3 + q) * 1024 + t] - ((const double *)rp.data)[(a * 3 + q) * 512 + t]) > wp
                                     ? fabs(pv[(a * 3 + q) * 1024 + t] - ((const double *)rp.data)[(a * 3 + q) * 512 + t]) : wp;
                }
        if (m) wg = w / top; else wc = w / top;
        d.n_threads = 2; /* the same bits with two workers */
        o.erpac = again;
        CHECK(pac_erpac(&d, (pac_erpac_method)m, x.data, TP_F64, 40, 1024, &o, &err) == TP_OK && !memcmp(er, again, 9 * 1024 * sizeof(double)));
        d.n_threads = 1, o.erpac = er, o.pvalues = pv;
    }
    /* p = exp(-n rho^2 / 2) with n = 40 epochs moves up to 3.8 times rho's error (at rho = 1 /
       sqrt(40)), and the correction over the cells multiplies that again: 1e-11 on p */
    CHECK_MSG(wc <= 1e-12 && wp <= 1e-11 && wg <= 1e-12, "circular %.3g (p %.3g), gc %.3g of the largest", wc, wp, wg);
    {   /* tensorpac's smooth = 3: windows of 7 times' epochs, averaged over those holding each time */
        npy_array rs = td_load(DATA "methods/", "erpac_gc_smooth3.npy");
        double ws = 0, ts = 0;
        d.smooth = 3, o.pvalues = NULL;
        CHECK_MSG(rs.data && pac_erpac(&d, PAC_ERPAC_GC, x.data, TP_F64, 40, 1024, &o, &err) == TP_OK, "%s", err.message);
        for (a = 0; rs.data && a < 3; a++)
            for (q = 0; q < 3; q++)
                for (t = 0; t < 512; t++) {
                    double v = er[(a * 3 + q) * 1024 + t], r = ((const double *)rs.data)[(a * 3 + q) * 512 + t];
                    ws = fabs(v - r) > ws || v != v ? fabs(v - r) : ws;
                    ts = fabs(r) > ts ? fabs(r) : ts;
                }
        CHECK_MSG(ws <= 1e-12 * ts, "smoothed gc: %.3g of the largest", ws / ts);
        if (getenv("TK_VERBOSE")) fprintf(stderr, "  erpac: smoothed gc %.3g\n", ws / ts);
        d.smooth = 600;
        CHECK(pac_erpac(&d, PAC_ERPAC_GC, x.data, TP_F64, 40, 1024, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.smooth"));
        d.smooth = 0, o.pvalues = pv;
        npy_free(&rs);
    }
    {   /* smoothed permutations, by their definition: permutation k's map is the smoothed ERPAC of
           the epochs' phases taken from epochs pairs[k] (x_amp keeping the amplitudes), and a
           cell's p-value is the fraction of the maps whose largest cell reaches it */
        enum { K = 3 };
        uint32_t pairs[K * 40];
        double *xp = (double *)malloc(40 * 1024 * sizeof(double)), *sm = (double *)malloc(9 * 1024 * sizeof(double));
        double top[K], *want = (double *)malloc(9 * 1024 * sizeof(double));
        double *cube = (double *)malloc(K * 9 * 1024 * sizeof(double)), *want_cube = (double *)malloc(K * 9 * 1024 * sizeof(double));
        size_t k, e2;
        pac_erpac_output ob;
        for (k = 0; k < K * 40; k++) pairs[k] = (uint32_t)((k * 7 + k / 40 * 3) % 40);
        d.smooth = 2, o.pvalues = NULL;
        CHECK(pac_erpac(&d, PAC_ERPAC_GC, x.data, TP_F64, 40, 1024, &o, &err) == TP_OK); /* er: the smoothed map */
        for (k = 0; k < K; k++) {
            for (e2 = 0; e2 < 40; e2++) memcpy(xp + e2 * 1024, (const double *)x.data + pairs[k * 40 + e2] * 1024, 1024 * sizeof(double));
            d.x_amp = x.data;
            memset(&ob, 0, sizeof ob);
            ob.erpac = sm, ob.pvalues = NULL;
            CHECK(pac_erpac(&d, PAC_ERPAC_GC, xp, TP_F64, 40, 1024, &ob, &err) == TP_OK);
            d.x_amp = NULL;
            top[k] = -HUGE_VAL;
            for (t = 0; t < 9 * 1024; t++) top[k] = sm[t] > top[k] ? sm[t] : top[k];
            memcpy(want_cube + k * 9 * 1024, sm, 9 * 1024 * sizeof(double));
        }
        for (t = 0; t < 9 * 1024; t++) {
            double p = 0;
            for (k = 0; k < K; k++) p += er[t] <= top[k];
            p /= K;
            want[t] = p >= 0.5 ? 1.0 : p > 1.0 / K ? p : 1.0 / K;
        }
        d.surrogates = PAC_SURR_SWAP_EPOCHS, d.n_perm = K, d.pairs = pairs, d.p_threshold = 0.5;
        o.erpac = again, o.pvalues = pv, o.surrogates = cube;
        CHECK_MSG(pac_erpac(&d, PAC_ERPAC_GC, x.data, TP_F64, 40, 1024, &o, &err) == TP_OK, "%s", err.message);
        CHECK_MSG(!memcmp(again, er, 9 * 1024 * sizeof(double)) && !memcmp(pv, want, 9 * 1024 * sizeof(double)),
                  "smoothed permutations differ from their definition");
        /* to rounding: the definition's sums of squares run in the permuted order */
        CHECK_MSG(worst_scaled(cube, want_cube, K * 9 * 1024) <= 1e-13, "out.surrogates: not each permutation's map (%.3g)",
                  worst_scaled(cube, want_cube, K * 9 * 1024));
        d.smooth = 0; /* unsmoothed: the p-values are the cube's maxstat */
        CHECK_MSG(pac_erpac(&d, PAC_ERPAC_GC, x.data, TP_F64, 40, 1024, &o, &err) == TP_OK, "%s", err.message);
        for (k = 0; k < K; k++) {
            top[k] = -HUGE_VAL;
            for (t = 0; t < 9 * 1024; t++) top[k] = cube[k * 9 * 1024 + t] > top[k] ? cube[k * 9 * 1024 + t] : top[k];
        }
        for (t = 0, e2 = 0; t < 9 * 1024; t++) {
            double p = 0;
            for (k = 0; k < K; k++) p += again[t] <= top[k];
            p /= K;
            e2 += pv[t] != (p >= 0.5 ? 1.0 : p > 1.0 / K ? p : 1.0 / K);
        }
        CHECK_MSG(e2 == 0, "%zu p-values differ from the kept surrogates' maxstat", e2);
        o.surrogates = NULL;
        free(cube); free(want_cube);
        d.surrogates = PAC_SURR_NONE, d.n_perm = 0, d.pairs = NULL, d.p_threshold = 0, d.smooth = 0;
        o.erpac = er;
        free(xp); free(sm); free(want);
    }
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  erpac: circular %.3g (p %.3g), gc %.3g\n", wc, wp, wg);
    /* the gc method's permutations: p-values from the largest cell of each, at least 1 / n_perm */
    d.surrogates = PAC_SURR_SWAP_EPOCHS, d.n_perm = 20, d.seed = 3;
    CHECK(pac_erpac(&d, PAC_ERPAC_GC, x.data, TP_F64, 40, 1024, &o, &err) == TP_OK);
    for (t = 0; t < 9 * 1024; t++) CHECK(pv[t] >= 0.05 - 1e-15 && pv[t] <= 1);
    CHECK(pac_erpac(&d, PAC_ERPAC_CIRCULAR, x.data, TP_F64, 40, 1024, &o, &err) == TP_ERR_ARG && strstr(err.message, "gc method"));
    d.n_perm = 0;
    CHECK(pac_erpac(&d, PAC_ERPAC_GC, x.data, TP_F64, 40, 1024, &o, &err) == TP_ERR_ARG && strstr(err.message, "need permutations"));
    CHECK(pac_erpac(&d, PAC_ERPAC_CIRCULAR, x.data, TP_F64, 2, 1024, &o, &err) == TP_ERR_ARG && strstr(err.message, "at least 3"));
    CHECK(pac_erpac(&d, (pac_erpac_method)5, x.data, TP_F64, 40, 1024, &o, &err) == TP_ERR_ARG);
out:
    free(er); free(pv); free(again);
    npy_free(&x); npy_free(&fp); npy_free(&fa); npy_free(&rc); npy_free(&rp); npy_free(&rg);
}

/* The angle of scipy's hilbert of each row of x (rows of n, n a 2^a 3^b 5^c length, as
   tensorpac's hilbertm pads to): what tensorpac's filterfit does to the PLV's amplitudes before
   its fit */
static int hilbert_angles(double *x, size_t rows, size_t n)
{
    pac_fft *f = NULL;
    double *z = (double *)malloc(2 * n * sizeof(double)), *sc = NULL;
    size_t r, t;
    tp_error err;
    if (!z || pac_fft_create(NULL, n, &f, &err) != TP_OK || !(sc = (double *)malloc(pac_fft_scratch_doubles(f) * sizeof(double)))) {
        free(z);
        pac_fft_destroy(f);
        return 0;
    }
    for (r = 0; r < rows; r++) {
        double *y = x + r * n;
        for (t = 0; t < n; t++) z[2 * t] = y[t], z[2 * t + 1] = 0;
        pac_fft_run(f, z, 0, sc);
        for (t = 1; t < n; t++) {
            double h = 2 * t < n ? 2.0 : 2 * t == n ? 1.0 : 0.0;
            z[2 * t] *= h, z[2 * t + 1] *= h;
        }
        pac_fft_run(f, z, 1, sc);
        for (t = 0; t < n; t++) y[t] = atan2(z[2 * t + 1], z[2 * t]);
    }
    free(z);
    free(sc);
    pac_fft_destroy(f);
    return 1;
}

/* pac_fit: tensorpac's fit on phases and amplitudes given (pac_bandpass's, equal to tensorpac's
   filter to rounding), every measure, surrogate kind and normalisation, against what tensorpac's
   filterfit (its filter, then its fit) gave; maxstat p-values equal; the PreferredPhase's bins */
static void test_fit_against_tensorpac(void)
{
    enum { N = 10 * 8 * 2048 };
    ref_case c;
    double *pha = (double *)malloc(N * sizeof(double)), *amp = (double *)malloc(N * sizeof(double));
    double *plv_amp = (double *)malloc(N * sizeof(double)), *binned = (double *)malloc(12 * 800 * sizeof(double));
    double pac[800], pp[800], worst = 0, w;
    uint32_t pairs[80];
    pac_output o;
    tp_error err;
    int m;
    size_t i;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC) && ref_pairs(pairs) && pha && amp && plv_amp && binned);
    if (!c.x.data || !ref_pairs(pairs) || !pha || !amp || !plv_amp || !binned) goto out;
    CHECK(pac_bandpass(NULL, (const double *)c.x.data, 8, 2048, 512, (const double *)c.fp.data, 10, 3, PAC_PHASE, pha, &err) == TP_OK);
    CHECK(pac_bandpass(NULL, (const double *)c.x.data, 8, 2048, 512, (const double *)c.fa.data, 10, 6, PAC_AMPLITUDE, amp, &err) == TP_OK);
    memcpy(plv_amp, amp, N * sizeof(double));
    CHECK(hilbert_angles(plv_amp, 80, 2048));
    c.d.fs = 0, c.d.pha_bands = c.d.amp_bands = NULL; /* not read */
    for (m = 1; m <= 6; m++) {
        w = check_idpac(&c, m, pairs, pha, m == 5 ? plv_amp : amp);
        worst = w > worst ? w : worst;
    }
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  pac_fit, every idpac: %.3g of the largest value\n", worst);
    {   /* PreferredPhase.fit: the binned amplitude and the preferred phase */
        npy_array rb = td_load(DATA "methods/", "pp12_binned.npy"), rpp = td_load(DATA "methods/", "pp12_pp.npy");
        double wp = 0;
        memset(&o, 0, sizeof o);
        o.pac = pac, o.binned = binned, o.pp = pp;
        c.d.measure = PAC_HR, c.d.n_bins = 12, c.d.surrogates = PAC_SURR_NONE, c.d.n_perm = 0, c.d.norm = PAC_NORM_NONE;
        c.d.cuts = NULL, c.d.pairs = NULL;
        CHECK_MSG(pac_fit(&c.d, pha, amp, 8, 2048, &o, &err) == TP_OK, "%s", err.message);
        w = rb.data ? worst_scaled(binned, (const double *)rb.data, 12 * 800) : 1;
        for (i = 0; rpp.data && i < 800; i++) wp += pp[i] != ((const double *)rpp.data)[i];
        CHECK_MSG(rpp.data && w <= 1e-12 && wp == 0, "fit, 12 bins: binned %.3g, %g preferred phases differ", w, wp);
        npy_free(&rb);
        npy_free(&rpp);
        c.d.n_bins = 0;
    }
    /* bad input: what would change the series is refused, not ignored */
    memset(&o, 0, sizeof o);
    o.pac = pac;
    c.d.measure = PAC_MVL;
    c.d.edges = 10;
    CHECK(pac_fit(&c.d, pha, amp, 8, 2048, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.edges") && strstr(err.message, "pac_fit"));
    c.d.edges = 0, c.d.x_amp = c.x.data;
    CHECK(pac_fit(&c.d, pha, amp, 8, 2048, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.x_amp"));
    c.d.x_amp = NULL;
    CHECK(pac_fit(&c.d, NULL, amp, 8, 2048, &o, &err) == TP_ERR_ARG && strstr(err.message, "pha or amp"));
    CHECK(pac_fit(&c.d, pha, amp, 8, 1, &o, &err) == TP_ERR_ARG && strstr(err.message, "fewer than 2"));
    c.d.n_amp = 0;
    CHECK(pac_fit(&c.d, pha, amp, 8, 2048, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.n_amp"));
    c.d.n_amp = 10, c.d.backend = PAC_BACKEND_CUDA;
    CHECK(pac_fit(&c.d, pha, amp, 8, 2048, &o, &err) == TP_ERR_ARG && strstr(err.message, "CPU"));
    c.d.backend = PAC_BACKEND_AUTO;
    CHECK(pac_run(&c.d, NULL, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "x is NULL"));
    /* a NaN phase counts in no bin (tensorpac's digitize), a NaN amplitude makes its cells NaN */
    c.d.measure = PAC_MI;
    pha[5] = NAN;
    CHECK(pac_fit(&c.d, pha, amp, 8, 2048, &o, &err) == TP_OK && pac[0] == pac[0]);
    amp[7] = NAN;
    CHECK(pac_fit(&c.d, pha, amp, 8, 2048, &o, &err) == TP_OK && pac[0] != pac[0] && pac[1] == pac[1]);
out:
    free(pha); free(amp); free(plv_amp); free(binned);
    ref_close(&c);
}

/* pac_wavelet: tensorpac's filter with dcomplex='wavelet'; its phases and amplitudes through
   pac_fit give tensorpac's wavelet filterfit (widths 7 and 5); the filtered signal is the real
   part of what gives them */
static void test_wavelet_filter_against_tensorpac(void)
{
    static const int methods[5] = {1, 2, 5, 6, 2};
    enum { N = 10 * 8 * 2048 };
    ref_case c;
    double *pha = (double *)malloc(N * sizeof(double)), *amp = (double *)malloc(N * sizeof(double));
    double *re = (double *)malloc(N * sizeof(double)), pac[800], worst = 0;
    pac_output o;
    tp_error err;
    size_t i, est;
    int k;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC) && pha && amp && re);
    if (!c.x.data || !pha || !amp || !re) goto out;
    memset(&o, 0, sizeof o);
    o.pac = pac;
    for (k = 0; k < 5; k++) {
        char name[64];
        npy_array ref;
        double w, width = k == 4 ? 5 : 0;
        CHECK(pac_wavelet(NULL, (const double *)c.x.data, 8, 2048, 512, (const double *)c.fp.data, 10, width, PAC_PHASE, pha, &err) == TP_OK);
        CHECK(pac_wavelet(NULL, (const double *)c.x.data, 8, 2048, 512, (const double *)c.fa.data, 10, width, PAC_AMPLITUDE, amp, &err) == TP_OK);
        if (methods[k] == 5) CHECK(hilbert_angles(amp, 80, 2048));
        c.d.measure = (pac_measure)methods[k];
        snprintf(name, sizeof name, k == 4 ? "m%d_wavelet5_pac.npy" : "m%d_wavelet_pac.npy", methods[k]);
        ref = td_load(DATA "methods/", name);
        CHECK_MSG(pac_fit(&c.d, pha, amp, 8, 2048, &o, &err) == TP_OK, "%s", err.message);
        w = ref.data ? worst_scaled(pac, (const double *)ref.data, 800) : 1;
        CHECK_MSG(w <= 1e-9, "%s: error %.3g of the largest value", name, w);
        worst = w > worst ? w : worst;
        npy_free(&ref);
    }
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  pac_wavelet then pac_fit: %.3g of the largest value\n", worst);
    CHECK(pac_wavelet(NULL, (const double *)c.x.data, 8, 2048, 512, (const double *)c.fa.data, 10, 0, PAC_AMPLITUDE, amp, &err) == TP_OK);
    CHECK(pac_wavelet(NULL, (const double *)c.x.data, 8, 2048, 512, (const double *)c.fa.data, 10, 0, PAC_PHASE, pha, &err) == TP_OK);
    CHECK(pac_wavelet(NULL, (const double *)c.x.data, 8, 2048, 512, (const double *)c.fa.data, 10, 0, PAC_FILTERED, re, &err) == TP_OK);
    for (i = 0, worst = 0; i < N; i++) {
        double d = fabs(re[i] - amp[i] * cos(pha[i]));
        worst = d > worst ? d : worst;
    }
    CHECK_MSG(worst <= 1e-12, "the real part: %.3g from amp cos(pha)", worst);
    CHECK(pac_wavelet(NULL, (const double *)c.x.data, 8, 2048, 512, (const double *)c.fa.data, 10, -1, PAC_PHASE, pha, &err) == TP_ERR_ARG &&
          strstr(err.message, "pac_wavelet: width"));
    CHECK(pac_wavelet_estimate_bytes(8, 2048, 512, (const double *)c.fa.data, 10, 0, &est, &err) == TP_OK && est > 0);
out:
    free(pha); free(amp); free(re);
    ref_close(&c);
}

/* pac_erpac_fit: EventRelatedPac.fit on pac_bandpass's phases and amplitudes of the 40 epochs,
   both methods, against tensorpac's filterfit; bit for bit whatever the workers */
static void test_erpac_fit_against_tensorpac(void)
{
    npy_array x = td_load(DATA "methods/", "erpac_signal.npy"), fp = load("f_pha.npy"), fa = load("f_amp.npy");
    npy_array rc = td_load(DATA "methods/", "erpac_circular.npy"), rg = td_load(DATA "methods/", "erpac_gc.npy");
    double *pha = (double *)malloc(3 * 40 * 1024 * sizeof(double)), *amp = (double *)malloc(3 * 40 * 1024 * sizeof(double));
    double *er = (double *)malloc(9 * 1024 * sizeof(double)), *again = (double *)malloc(9 * 1024 * sizeof(double));
    pac_desc d;
    pac_erpac_output o;
    tp_error err;
    int m;
    CHECK(x.data && fp.data && fa.data && rc.data && rg.data && pha && amp && er && again);
    if (!x.data || !fp.data || !fa.data || !rc.data || !rg.data || !pha || !amp || !er || !again) goto out;
    CHECK(pac_bandpass(NULL, (const double *)x.data, 40, 1024, 512, (const double *)fp.data + 2, 3, 3, PAC_PHASE, pha, &err) == TP_OK);
    CHECK(pac_bandpass(NULL, (const double *)x.data, 40, 1024, 512, (const double *)fa.data + 6, 3, 6, PAC_AMPLITUDE, amp, &err) == TP_OK);
    memset(&d, 0, sizeof d);
    d.n_pha = d.n_amp = 3;
    d.n_threads = 1;
    memset(&o, 0, sizeof o);
    for (m = 0; m < 2; m++) {
        const double *ref = m ? (const double *)rg.data : (const double *)rc.data;
        double w = 0, top = 0;
        size_t a, t;
        o.erpac = er;
        CHECK_MSG(pac_erpac_fit(&d, (pac_erpac_method)m, pha, amp, 40, 1024, &o, &err) == TP_OK, "%s", err.message);
        for (a = 0; a < 9; a++)
            for (t = 0; t < 512; t++) {
                double v = er[a * 1024 + t], r = ref[a * 512 + t];
                w = fabs(v - r) > w || v != v ? fabs(v - r) : w;
                top = fabs(r) > top ? fabs(r) : top;
            }
        CHECK_MSG(w <= 1e-12 * top, "erpac fit, method %d: %.3g of the largest", m, w / top);
        if (getenv("TK_VERBOSE")) fprintf(stderr, "  pac_erpac_fit, method %d: %.3g\n", m, w / top);
        d.n_threads = 2, o.erpac = again;
        CHECK(pac_erpac_fit(&d, (pac_erpac_method)m, pha, amp, 40, 1024, &o, &err) == TP_OK && !memcmp(er, again, 9 * 1024 * sizeof(double)));
        d.n_threads = 1;
    }
    CHECK(pac_erpac_fit(&d, PAC_ERPAC_GC, NULL, amp, 40, 1024, &o, &err) == TP_ERR_ARG && strstr(err.message, "pac_erpac_fit"));
out:
    free(pha); free(amp); free(er); free(again);
    npy_free(&x); npy_free(&fp); npy_free(&fa); npy_free(&rc); npy_free(&rg);
}

/* One analysis split over processes: signals 0-2 and 3-7 each counted (pac_count_bins), measured
   with the summed counts, their surrogate sums merged and turned into p-values: the same bits as
   one run over all eight */
static void test_split_runs(void)
{
    static const pac_mcp mcps[2] = {PAC_MCP_MAXSTAT, PAC_MCP_FDR};
    ref_case c;
    double whole[800], part[800], pv_whole[100], pv_split[100], *a = (double *)malloc(3 * 100 * sizeof(double)),
           *b = (double *)malloc(5 * 100 * sizeof(double));
    uint64_t counts[18], more[18], *sums = (uint64_t *)malloc(20 * 100 * 2 * sizeof(uint64_t)),
             *sums2 = (uint64_t *)malloc(20 * 100 * 2 * sizeof(uint64_t));
    pac_output o;
    tp_error err;
    size_t i, s;
    int m;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC));
    if (!c.x.data) goto out;
    c.d.surrogates = PAC_SURR_SWAP_BLOCKS, c.d.n_perm = 20, c.d.seed = 11, c.d.p_threshold = 0.5;
    for (m = 0; m < 2; m++) {
        const double *x = (const double *)c.x.data;
        c.d.mcp = mcps[m];
        c.d.pooled_counts = NULL;
        memset(&o, 0, sizeof o);
        o.pac = whole, o.pvalues = pv_whole;
        CHECK(pac_run(&c.d, x, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK);
        CHECK(pac_count_bins(&c.d, x, TP_F64, 3, 2048, counts, &err) == TP_OK);
        CHECK(pac_count_bins(&c.d, x + 3 * 2048, TP_F64, 5, 2048, more, &err) == TP_OK);
        for (i = 0; i < 18; i++) counts[i] += more[i];
        c.d.pooled_counts = counts;
        memset(&o, 0, sizeof o);
        o.pac = a, o.sums = sums;
        CHECK(pac_run(&c.d, x, TP_F64, 3, 2048, NULL, &o, &err) == TP_OK);
        o.pac = b, o.sums = sums2;
        CHECK(pac_run(&c.d, x + 3 * 2048, TP_F64, 5, 2048, NULL, &o, &err) == TP_OK);
        pac_sums_merge(sums, sums2, 20 * 100);
        for (i = 0; i < 100; i++)
            for (s = 0; s < 8; s++) part[i * 8 + s] = s < 3 ? a[i * 3 + s] : b[i * 5 + s - 3];
        CHECK(pac_pvalues(&c.d, part, 8, sums, pv_split, &err) == TP_OK);
        CHECK_MSG(!memcmp(whole, part, sizeof whole) && !memcmp(pv_whole, pv_split, sizeof pv_split), "mcp %d: split runs differ",
                  (int)mcps[m]);
    }
    c.d.n_perm = 0, c.d.surrogates = PAC_SURR_NONE;
    CHECK(pac_pvalues(&c.d, part, 8, sums, pv_split, &err) == TP_ERR_ARG && strstr(err.message, "no surrogates"));
out:
    free(a); free(b); free(sums); free(sums2);
    ref_close(&c);
}

/* out.pvalues under each correction equals tensorpac's infer_pvalues (mne's fdr_correction and
   bonferroni_correction) on 200 replayed swap-block surrogates */
static void test_mcp_against_tensorpac(void)
{
    static const char *names[3] = {"maxstat", "fdr", "bonferroni"};
    static const struct { pac_mcp mcp; double p; } cases[5] = {
        {PAC_MCP_MAXSTAT, 0.05}, {PAC_MCP_FDR, 0.05}, {PAC_MCP_FDR, 0.5}, {PAC_MCP_BONFERRONI, 0.05}, {PAC_MCP_BONFERRONI, 0.6}};
    ref_case c;
    npy_array cuts = td_load(DATA "methods/", "mcp_shifts.npy");
    double pac[800], pv[100];
    pac_output o;
    tp_error err;
    int m, i;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC) && cuts.data);
    if (!c.x.data || !cuts.data) goto out;
    c.d.surrogates = PAC_SURR_SWAP_BLOCKS;
    c.d.n_perm = 200;
    c.d.cuts = (const int64_t *)cuts.data;
    memset(&o, 0, sizeof o);
    o.pac = pac;
    o.pvalues = pv;
    for (m = 1; m <= 2; m++)
        for (i = 0; i < 5; i++) {
            char name[64];
            npy_array ref;
            size_t j, signif = 0;
            c.d.measure = (pac_measure)m;
            c.d.mcp = cases[i].mcp;
            c.d.p_threshold = cases[i].p;
            snprintf(name, sizeof name, "m%d_mcp_%s_%g.npy", m, names[cases[i].mcp], cases[i].p);
            ref = td_load(DATA "methods/", name);
            CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
            CHECK_MSG(ref.data && memcmp(pv, ref.data, sizeof pv) == 0, "%s: p-values differ from tensorpac's", name);
            for (j = 0; j < 100; j++) signif += pv[j] < 1;
            if (getenv("TK_VERBOSE")) fprintf(stderr, "  %s: %zu cells significant, as tensorpac\n", name, signif);
            npy_free(&ref);
        }
    c.d.mcp = (pac_mcp)3;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "desc.mcp"));
out:
    npy_free(&cuts);
    ref_close(&c);
}

/* Past PAC__SHIFT_FFT_MIN shifts a vector measure takes every shift from transforms: the same
   surrogates as one sum per shift, to rounding */
static void test_shift_transforms(void)
{
    static const pac_measure measures[3] = {PAC_MVL, PAC_PLV, PAC_GCPAC};
    ref_case c;
    int64_t cuts[40];
    double *few = (double *)malloc(10 * 800 * sizeof(double)), *many = (double *)malloc(40 * 800 * sizeof(double)), pac[800];
    pac_output o;
    tp_error err;
    size_t i, k;
    int m;
    CHECK(ref_open(&c, PAC_MI_TORT) && PAC__SHIFT_FFT_MIN > 10 && PAC__SHIFT_FFT_MIN <= 40);
    if (!c.x.data) goto out;
    for (k = 0; k < 40; k++) cuts[k] = (int64_t)(1 + (k * 977 + 13) % 2047);
    c.d.surrogates = PAC_SURR_SWAP_BLOCKS;
    c.d.cuts = cuts;
    memset(&o, 0, sizeof o);
    o.pac = pac;
    for (m = 0; m < 3; m++) {
        double worst = 0, top = 0;
        c.d.measure = measures[m];
        c.d.n_perm = 10, o.surrogates = few;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK);
        c.d.n_perm = 40, o.surrogates = many;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK);
        for (i = 0; i < 10 * 800; i++) {
            double d = fabs(few[i] - many[i]);
            worst = d > worst || d != d ? d : worst;
            top = fabs(few[i]) > top ? fabs(few[i]) : top;
        }
        CHECK_MSG(worst <= 1e-12 * top, "measure %d: transforms differ from sums by %.3g of the largest", (int)measures[m], worst / top);
        if (getenv("TK_VERBOSE")) fprintf(stderr, "  measure %d: shifts by transforms within %.3g\n", (int)measures[m], worst / top);
    }
out:
    free(few);
    free(many);
    ref_close(&c);
}

/* The vector measures' unit vectors and moduli (pac__unit_vector, pac__modulus and the kernel this
   CPU picks): within 2 ulp of y / hypot and hypot, exact at zero, NaN and the ends of the range;
   the kernel equals the scalar bit for bit, in place too */
static void test_unit_vectors(void)
{
    enum { N = 1031 };
    double *y = (double *)malloc(N * sizeof(double)), *h = (double *)malloc(N * sizeof(double));
    double *c = (double *)malloc(N * sizeof(double)), *s = (double *)malloc(N * sizeof(double)), *m = (double *)malloc(N * sizeof(double));
    double worst = 0;
    pac__unit_fn k = pac__pick_units();
    size_t i;
    for (i = 0; i < N; i++) {
        double scale = ldexp(1.0, (int)(i % 301) - 150);
        y[i] = uniform_pm1() * scale, h[i] = uniform_pm1() * scale;
    }
    y[0] = h[0] = 0, y[1] = NAN, y[2] = 1e-200, h[2] = 3e-200, y[3] = 1e200, h[3] = -2e200;
    k(y, h, 1.0, N, c, s);
    k(y, h, 1.0, N, m, NULL);
    for (i = 0; i < N; i++) {
        double r = hypot(y[i], h[i]), cc, ss, mm = pac__modulus(y[i], h[i]);
        pac__unit_vector(y[i], h[i], &cc, &ss);
        CHECK_MSG(!memcmp(&c[i], &cc, sizeof cc) && !memcmp(&s[i], &ss, sizeof ss) && !memcmp(&m[i], &mm, sizeof mm),
                  "kernel and scalar differ at %zu", i);
        if (r > 0 && r == r) {
            double e1 = fabs(c[i] - y[i] / r) / 2.2e-16, e2 = fabs(s[i] - h[i] / r) / 2.2e-16, e3 = fabs(m[i] - r) / (r * 1.1e-16);
            worst = e1 > worst ? e1 : worst, worst = e2 > worst ? e2 : worst, worst = e3 > worst ? e3 : worst;
        }
    }
    CHECK(c[0] == 1 && s[0] == 0 && m[0] == 0 && c[1] != c[1] && m[1] != m[1]);
    CHECK_MSG(worst <= 4, "unit vectors and moduli within %.2f of an ulp-sized step", worst);
    memcpy(c, y, N * sizeof(double)), memcpy(s, h, N * sizeof(double));
    k(c, s, 1.0, N, c, s); /* in place */
    for (i = 0; i < N; i++) {
        double cc, ss;
        pac__unit_vector(y[i], h[i], &cc, &ss);
        CHECK(!memcmp(&c[i], &cc, sizeof cc) && !memcmp(&s[i], &ss, sizeof ss));
    }
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  unit vectors within %.2f ulp-steps\n", worst);
    free(y); free(h); free(c); free(s); free(m);
}

/* Four cells at once (pac__dot_four, where the CPU has AVX2 or AVX-512) give the bits of four
   single products, real and complex amplitudes, shifted or not */
static void test_dot_four(void)
{
    enum { N = 2043 };
    double *buf = (double *)malloc(10 * N * sizeof(double));
    const double *ar[4], *ai[4];
    pac__dot_fn one = pac__pick_dot();
    pac__dot4_fn four = pac__pick_dot4();
    static const size_t shifts[3] = {0, 5, N - 1};
    size_t i, k;
    int cplx, j;
    for (i = 0; i < 10 * N; i++) buf[i] = uniform_pm1();
    for (j = 0; j < 4; j++) ar[j] = buf + (size_t)j * N, ai[j] = buf + (size_t)(4 + j) * N;
    if (!four) {
        fprintf(stderr, "skipped [pacgpu] test_dot_four: no four-cell kernels here (they need AVX2 or AVX-512 and vector extensions)\n");
        free(buf);
        return;
    }
    for (cplx = 0; cplx < 2; cplx++)
        for (k = 0; k < 3; k++) {
            double sr[4], si[4];
            pac__dot_four(four, ar, cplx ? ai : NULL, buf + 8 * N, buf + 9 * N, N, shifts[k], sr, si);
            for (j = 0; j < 4; j++) {
                double r, m;
                pac__dot(one, ar[j], cplx ? ai[j] : NULL, buf + 8 * N, buf + 9 * N, N, shifts[k], &r, &m);
                CHECK_MSG(!memcmp(&r, &sr[j], sizeof r) && !memcmp(&m, &si[j], sizeof m), "cell %d, shift %zu, complex %d", j, shifts[k], cplx);
            }
        }
    free(buf);
}

/* The PLV's atan2 (pac__atan2 and the kernel this CPU picks): within 3 ulp of libm's over the
   plane, at the axes, zeros, infinities of the ratio and NaN; the kernel equals the scalar bit
   for bit */
static void test_atan2(void)
{
    enum { N = 4099 };
    double *y = (double *)malloc(N * sizeof(double)), *x = (double *)malloc(N * sizeof(double));
    double *v = (double *)malloc(N * sizeof(double)), worst = 0;
    static const double special[][2] = {{0, 1}, {1, 0}, {0, -1}, {-1, 0}, {1, 1}, {-1, -1}, {1e-300, 1}, {1, 1e-300},
                                        {0.41421356237309503, 1}, {0.41421356237309509, 1}, {3, -4}, {-5, 12}};
    pac__angle_fn k = pac__pick_angles();
    size_t i;
    for (i = 0; i < N; i++) {
        double scale = ldexp(1.0, (int)(i % 61) - 30);
        y[i] = uniform_pm1() * scale;
        x[i] = uniform_pm1() * scale;
        if (i < sizeof special / sizeof special[0]) y[i] = special[i][0], x[i] = special[i][1];
    }
    k(y, x, 1.0, N, v);
    for (i = 0; i < N; i++) {
        double ref = atan2(y[i], x[i]), ulp = nextafter(fabs(ref), HUGE_VAL) - fabs(ref);
        double d = fabs(v[i] - ref) / (ulp > 0 ? ulp : 1e-300);
        worst = d > worst ? d : worst;
        double one = pac__atan2(y[i], x[i]);
        CHECK_MSG(memcmp(&v[i], &one, sizeof one) == 0, "kernel and scalar differ at %zu", i);
    }
    CHECK_MSG(worst <= 3.0, "atan2 within %.2f ulp of libm's", worst);
    y[0] = NAN, x[1] = NAN;
    k(y, x, 1.0, 2, v);
    CHECK(v[0] != v[0] && v[1] != v[1]);
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  atan2 within %.2f ulp\n", worst);
    free(y); free(x); free(v);
}

/* Every tensorpac method (idpac's first digit) with every surrogate kind and normalisation,
   against tensorpac's own outputs on the reference signal (tools/gen_pac_methods.py: 10
   surrogates whose draws the files replay) */
/* Every idpac of measure m against tensorpac's references: the measure alone and, ndPAC apart,
   each surrogate kind with each normalisation (within 1e-9 of the largest value) and its maxstat
   p-values (equal). By pac_run on the reference signal, or by pac_fit on pha and amp when pha is
   not NULL. Returns the worst error. */
static double check_idpac(ref_case *c, int m, const uint32_t *pairs, const double *pha, const double *amp)
{
    static const pac_surrogates kind[4] = {PAC_SURR_NONE, PAC_SURR_SWAP_EPOCHS, PAC_SURR_SWAP_BLOCKS, PAC_SURR_TIME_LAG};
    const char *who = pha ? "fit" : "run";
    double pac[800], norm[800], pmax[100], worst = 1, w;
    pac_output o;
    tp_error err;
    char name[64];
    npy_array ref;
    int s, n;
    memset(&o, 0, sizeof o);
    o.pac = pac;
    c->d.measure = (pac_measure)m;
    c->d.surrogates = PAC_SURR_NONE, c->d.n_perm = 0, c->d.cuts = NULL, c->d.pairs = NULL, c->d.norm = PAC_NORM_NONE;
    snprintf(name, sizeof name, "m%d_pac.npy", m);
    ref = td_load(DATA "methods/", name);
    CHECK_MSG((pha ? pac_fit(&c->d, pha, amp, 8, 2048, &o, &err) : pac_run(&c->d, c->x.data, TP_F64, 8, 2048, NULL, &o, &err)) == TP_OK,
              "%s, method %d: %s", who, m, err.message);
    if (ref.data) worst = worst_scaled(pac, (const double *)ref.data, 800);
    CHECK_MSG(worst <= 1e-9, "%s, method %d: error %.3g of the largest value", who, m, worst);
    npy_free(&ref);
    for (s = 1; s <= 3 && m != 4; s++) {
        npy_array cuts, rp;
        memset(&cuts, 0, sizeof cuts);
        if (s > 1) {
            snprintf(name, sizeof name, "shifts_s%d.npy", s);
            if (!(cuts = td_load(DATA "methods/", name)).data) continue;
        }
        c->d.surrogates = kind[s], c->d.n_perm = 10;
        c->d.cuts = s > 1 ? (const int64_t *)cuts.data : NULL;
        c->d.pairs = s == 1 ? pairs : NULL;
        o.norm = norm, o.pvalues = pmax;
        snprintf(name, sizeof name, "m%d_s%d_pmax.npy", m, s);
        rp = td_load(DATA "methods/", name);
        for (n = 1; n <= 4; n++) {
            npy_array rn;
            c->d.norm = (pac_norm)n;
            snprintf(name, sizeof name, "m%d_s%d_n%d.npy", m, s, n);
            rn = td_load(DATA "methods/", name);
            CHECK_MSG((pha ? pac_fit(&c->d, pha, amp, 8, 2048, &o, &err) : pac_run(&c->d, c->x.data, TP_F64, 8, 2048, NULL, &o, &err)) ==
                          TP_OK, "%s, idpac (%d, %d, %d): %s", who, m, s, n, err.message);
            w = rn.data ? worst_scaled(norm, (const double *)rn.data, 800) : 1;
            CHECK_MSG(w <= 1e-9, "%s, idpac (%d, %d, %d): error %.3g of the largest value", who, m, s, n, w);
            if (getenv("TK_VERBOSE")) fprintf(stderr, "  %s, idpac (%d, %d, %d): %.3g\n", who, m, s, n, w);
            worst = w > worst ? w : worst;
            npy_free(&rn);
        }
        CHECK_MSG(rp.data && memcmp(pmax, rp.data, sizeof pmax) == 0, "%s, idpac (%d, %d, .): maxstat p-values differ from tensorpac's",
                  who, m, s);
        npy_free(&rp);
        npy_free(&cuts);
        o.norm = NULL, o.pvalues = NULL;
    }
    return worst;
}

/* The tensorpac permutations of the swap-epochs references as pairs */
static int ref_pairs(uint32_t *pairs)
{
    npy_array perms = td_load(DATA "methods/", "perms_s1.npy");
    size_t i;
    for (i = 0; perms.data && i < 80; i++) pairs[i] = (uint32_t)((const int64_t *)perms.data)[i];
    i = perms.data != NULL;
    npy_free(&perms);
    return (int)i;
}

static void test_measures_against_tensorpac(void)
{
    ref_case c;
    uint32_t pairs[10 * 8];
    int m;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC) && ref_pairs(pairs));
    if (!c.x.data || !ref_pairs(pairs)) goto out;
    for (m = 1; m <= 6; m++) {
        double w = check_idpac(&c, m, pairs, NULL, NULL);
        if (getenv("TK_VERBOSE")) fprintf(stderr, "  method %d, every idpac: %.3g\n", m, w);
    }
out:
    ref_close(&c);
}

typedef struct all_out {
    double mi[800], z[800], p[800], mean[800], sd[800], pmax[100], cube[10 * 800];
} all_out;

static void out_of(all_out *a, pac_output *o)
{
    memset(o, 0, sizeof *o);
    o->pac = a->mi; o->z = a->z; o->p = a->p; o->surr_mean = a->mean; o->surr_std = a->sd; o->pvalues = a->pmax;
    o->surrogates = a->cube;
}

/* Every output, bit for bit, whatever the plan: workers, bands per pass, kept bins; for each
   surrogate kind; the pool's measured peak equals the plan's bytes. */
static void test_run_plans_identical(void)
{
    static const pac_surrogates kinds[3] = {PAC_SURR_SWAP_BLOCKS, PAC_SURR_TIME_LAG, PAC_SURR_SWAP_EPOCHS};
    static const size_t threads[4] = {1, 2, 3, 2}, bands[4] = {10, 1, 3, 7};
    ref_case c;
    all_out *first = (all_out *)malloc(sizeof *first), *again = (all_out *)malloc(sizeof *again);
    tp_error err;
    int kind, method;
    CHECK(ref_open(&c, PAC_MI_TORT));
    if (!c.x.data) goto out;
    c.d.n_perm = 4;
    c.d.seed = 99;
    for (method = PAC_MI_TORT; method <= PAC_MI_TENSORPAC; method++)
        for (kind = 0; kind < 3; kind++) {
            int v;
            /* every plan for tensorpac's MI with swap-blocks, two plans for time-lag (Tort) and
               swap-epochs (tensorpac's MI): enough to cover kept and recomputed bins, odd passes */
            if ((kind == 0 && method != PAC_MI_TENSORPAC) || (kind == 1 && method != PAC_MI_TORT) ||
                (kind == 2 && method != PAC_MI_TENSORPAC))
                continue;
            c.d.method = (pac_mi)method;
            c.d.surrogates = kinds[kind];
            for (v = 0; v < 4; v += kind == 0 ? 1 : 2) {
                int keep;
                for (keep = kinds[kind] == PAC_SURR_SWAP_EPOCHS; keep < 2; keep++) {
                    tp_pool *pool = NULL;
                    tp_create(NULL, &pool, NULL);
                    pac_plan_info plan;
                    pac_output o;
                    all_out *dst = v == 0 && keep == (kinds[kind] == PAC_SURR_SWAP_EPOCHS) ? first : again;
                    size_t live0;
                    c.d.pool = pool;
                    c.d.n_threads = (int)threads[v];
                    CHECK(pac_plan(&c.d, 8, 2048, 0, &plan, &err) == TP_OK && plan.n_threads == threads[v]);
                    plan.amp_bands_per_pass = bands[v];
                    plan.keep_phase_bins = keep;
                    memset(dst, 0xAB, sizeof *dst);
                    out_of(dst, &o);
                    live0 = tp_get_stats(pool).bytes_requested;
                    tp_reset_peak(pool);
                    CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, &plan, &o, &err) == TP_OK, "%s", err.message);
                    /* the plan's bytes, recomputed for the changed plan by planning with it as budget */
                    {
                        tp_stats st = tp_get_stats(pool);
                        pac_plan_info exact;
                        CHECK(pac_plan(&c.d, 8, 2048, 0, &exact, &err) == TP_OK);
                        CHECK(st.bytes_requested == live0 && st.live_blocks == 0);
                        if (bands[v] == 10 && keep == exact.keep_phase_bins)
                            CHECK_MSG(st.peak_requested - live0 == exact.bytes, "peak %zu, plan %zu", st.peak_requested - live0,
                                      exact.bytes);
                        else
                            CHECK(st.peak_requested - live0 < exact.bytes + 2048 * 8 * 10 * 3);
                    }
                    if (dst == again)
                        CHECK_MSG(memcmp(first, again, sizeof *first) == 0, "method %d, surrogates %d, %zu threads, %zu bands, keep %d",
                                  method, kinds[kind], threads[v], bands[v], keep);
                    tp_destroy(pool);
                }
            }
        }
out:
    free(first);
    free(again);
    ref_close(&c);
}

/* MI of the phases of signal ps with the amplitudes of signal as shifted left by c, all cells,
   through pac_modulation_index on phases rolled here (a naive surrogate) */
static void naive_pair_mi(const double *pha, const double *amp, size_t n_sig, size_t n, size_t ps, size_t as, size_t c,
                          pac_mi method, const size_t *pooled_from, double *out /* 100 */)
{
    double *p = (double *)malloc(10 * n * sizeof(double)), *a = (double *)malloc(10 * n * sizeof(double));
    size_t q, t;
    tp_error err;
    (void)pooled_from;
    for (q = 0; q < 10; q++)
        for (t = 0; t < n; t++) {
            p[q * n + t] = pha[(q * n_sig + ps) * n + t];
            a[q * n + t] = amp[(q * n_sig + as) * n + (t + c) % n];
        }
    CHECK(pac_modulation_index(NULL, p, 10, a, 10, 1, n, method, out, &err) == TP_OK);
    free(p);
    free(a);
}

/* The other measures too: every output bit for bit whatever the plan (workers, bands per pass,
   kept phase vectors), and the pool's peak is the plan's bytes; with edges too */
static void test_measures_plans_identical(void)
{
    static const pac_measure measures[5] = {PAC_MVL, PAC_HR, PAC_NDPAC, PAC_PLV, PAC_GCPAC};
    static const size_t threads[4] = {1, 2, 3, 2}, bands[4] = {10, 1, 3, 7};
    ref_case c;
    all_out *first = (all_out *)malloc(sizeof *first), *again = (all_out *)malloc(sizeof *again);
    tp_error err;
    int mi, epochs;
    CHECK(ref_open(&c, PAC_MI_TORT));
    if (!c.x.data) goto out;
    c.d.seed = 5;
    for (mi = 0; mi < 5; mi++)
        for (epochs = 0; epochs < 2; epochs++) {
            int v, stats = measures[mi] != PAC_NDPAC;
            if (!stats && epochs) continue;
            c.d.measure = measures[mi];
            c.d.edges = mi % 2 ? 37 : 0; /* HR and PLV measure fewer samples than they filter */
            c.d.n_bins = measures[mi] == PAC_HR ? 12 : 0;
            c.d.dcomplex = measures[mi] == PAC_NDPAC || measures[mi] == PAC_PLV ? PAC_DCOMPLEX_WAVELET : PAC_DCOMPLEX_HILBERT;
            c.d.surrogates = epochs ? PAC_SURR_SWAP_EPOCHS : PAC_SURR_SWAP_BLOCKS;
            c.d.n_perm = stats ? 4 : 0;
            for (v = 0; v < 4; v++) {
                int keep = epochs || v == 3;
                tp_pool *pool = NULL;
                pac_plan_info plan;
                pac_output o;
                all_out *dst = v == 0 ? first : again;
                tp_stats st;
                tp_create(NULL, &pool, NULL);
                c.d.pool = pool;
                c.d.n_threads = (int)threads[v];
                CHECK(pac_plan(&c.d, 8, 2048, 0, &plan, &err) == TP_OK && plan.n_threads == threads[v]);
                if (v > 0) { /* the first run follows pac_plan's own plan */
                    plan.amp_bands_per_pass = bands[v];
                    plan.keep_phase_bins = keep;
                }
                memset(dst, 0xAB, sizeof *dst);
                out_of(dst, &o);
                if (!stats) o.z = o.p = o.surr_mean = o.surr_std = o.pvalues = o.surrogates = NULL;
                tp_reset_peak(pool);
                CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, &plan, &o, &err) == TP_OK, "%s", err.message);
                st = tp_get_stats(pool);
                CHECK(st.bytes_requested == 0 && st.live_blocks == 0);
                if (v == 0) CHECK_MSG(st.peak_requested == plan.bytes, "measure %d: peak %zu, plan %zu", (int)measures[mi],
                                      st.peak_requested, plan.bytes);
                if (dst == again)
                    CHECK_MSG(memcmp(first, again, sizeof *first) == 0, "measure %d, epochs %d, %zu threads, %zu bands, keep %d",
                              (int)measures[mi], epochs, threads[v], bands[v], keep);
                tp_destroy(pool);
            }
        }
out:
    free(first);
    free(again);
    ref_close(&c);
}

/* time-lag (a phase roll: the same pairs as an amplitude shift) and swap-epochs (each
   surrogate pairs the phases of a permutation of the signals with the amplitudes), against
   naive surrogates built from pac_bandpass's phases and amplitudes; Tort MI, 3 signals */
static void test_run_surrogate_kinds(void)
{
    ref_case c;
    size_t n = 2048, ns = 3, k, s, s2, cell;
    double *pha = (double *)malloc(10 * ns * n * sizeof(double)), *amp = (double *)malloc(10 * ns * n * sizeof(double));
    double mi[300], cube[12 * 300], naive[3][3][100], one[100];
    int64_t lags[4] = {0, 1, 1000, 2047};
    pac_output o;
    tp_error err;
    CHECK(ref_open(&c, PAC_MI_TORT));
    if (!c.x.data) goto out;
    pac_bandpass(NULL, (const double *)c.x.data, ns, n, 512, c.d.pha_bands, 10, 3, PAC_PHASE, pha, &err);
    pac_bandpass(NULL, (const double *)c.x.data, ns, n, 512, c.d.amp_bands, 10, 6, PAC_AMPLITUDE, amp, &err);
    memset(&o, 0, sizeof o);
    o.pac = mi;
    o.surrogates = cube;
    c.d.surrogates = PAC_SURR_TIME_LAG;
    c.d.n_perm = 4;
    c.d.cuts = lags;
    CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, ns, n, NULL, &o, &err) == TP_OK, "%s", err.message);
    for (k = 0; k < 4; k++)
        for (s = 0; s < ns; s++) {
            naive_pair_mi(pha, amp, ns, n, s, s, (size_t)lags[k], PAC_MI_TORT, NULL, one);
            for (cell = 0; cell < 100; cell++) CHECK_NEAR(cube[k * 300 + cell * ns + s], one[cell], 1e-10 * one[cell]);
        }
    for (cell = 0; cell < 300; cell++) CHECK(cube[cell] == mi[cell] || fabs(cube[cell] - mi[cell]) <= 1e-12 * mi[cell]);
    lags[0] = -1;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, ns, n, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "cuts[0] is"));

    c.d.surrogates = PAC_SURR_SWAP_EPOCHS;
    c.d.cuts = NULL;
    c.d.n_perm = 12;
    c.d.seed = 5;
    CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, ns, n, NULL, &o, &err) == TP_OK, "%s", err.message);
    for (s = 0; s < ns; s++)
        for (s2 = 0; s2 < ns; s2++) naive_pair_mi(pha, amp, ns, n, s2, s, 0, PAC_MI_TORT, NULL, naive[s2][s]);
    {
        int seen_other = 0;
        for (k = 0; k < 12; k++) {
            int used[3] = {0, 0, 0};
            for (s = 0; s < ns; s++) { /* which signal's phases did surrogate k pair with amplitude s? */
                int found = -1;
                for (s2 = 0; s2 < ns && found < 0; s2++) {
                    int all = 1;
                    for (cell = 0; cell < 100 && all; cell++)
                        all = fabs(cube[k * 300 + cell * ns + s] - naive[s2][s][cell]) <= 1e-10 * naive[s2][s][cell];
                    if (all) found = (int)s2;
                }
                CHECK_MSG(found >= 0, "surrogate %zu, signal %zu pairs with no signal's phases", k, s);
                if (found >= 0) used[found]++;
                seen_other |= found >= 0 && (size_t)found != s;
            }
            CHECK_MSG(used[0] == 1 && used[1] == 1 && used[2] == 1, "surrogate %zu is not a permutation", k);
        }
        CHECK(seen_other);
    }
    c.d.cuts = lags;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, ns, n, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "cuts"));
    c.d.cuts = NULL;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 1, n, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "2 signals"));
out:
    free(pha);
    free(amp);
    ref_close(&c);
}

/* float32 input is read as its values; a NaN signal gives NaN cells and leaves the others
   alone; the progress callback counts and cancels */
static int count_calls(void *user, uint64_t done, uint64_t total)
{
    size_t *calls = (size_t *)user;
    (void)done;
    calls[0]++;
    calls[1] = (size_t)total;
    return calls[2] && calls[0] >= calls[2];
}

static void test_run_inputs_progress_cancel(void)
{
    ref_case c;
    size_t n = 2048, i, calls[3] = {0, 0, 0};
    float *xf = (float *)malloc(8 * n * sizeof(float));
    double *xd = (double *)malloc(8 * n * sizeof(double)), a[800], b[800];
    pac_output o;
    tp_error err;
    tp_pool *pool = NULL;
    tp_create(NULL, &pool, NULL);
    CHECK(ref_open(&c, PAC_MI_TENSORPAC));
    if (!c.x.data) goto out;
    for (i = 0; i < 8 * n; i++) xd[i] = xf[i] = (float)((const double *)c.x.data)[i];
    memset(&o, 0, sizeof o);
    o.pac = a;
    CHECK(pac_run(&c.d, xf, TP_F32, 8, n, NULL, &o, &err) == TP_OK);
    o.pac = b;
    CHECK(pac_run(&c.d, xd, TP_F64, 8, n, NULL, &o, &err) == TP_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);

    xd[3 * n + 100] = 0.0 / 0.0; /* signal 3 */
    c.d.method = PAC_MI_TORT;
    o.pac = a;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, n, NULL, &o, &err) == TP_OK);
    o.pac = b;
    CHECK(pac_run(&c.d, xd, TP_F64, 8, n, NULL, &o, &err) == TP_OK);
    for (i = 0; i < 800; i++) {
        if (i % 8 == 3) CHECK_MSG(b[i] != b[i], "cell %zu of the NaN signal is %g", i, b[i]);
        else CHECK(fabs(a[i] - b[i]) <= 1e-6 * a[i] || i % 8 != 3); /* float rounding of xd only */
    }

    c.d.pool = pool;
    c.d.progress = count_calls;
    c.d.user = calls;
    c.d.method = PAC_MI_TENSORPAC; /* two passes */
    o.pac = a;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, n, NULL, &o, &err) == TP_OK && calls[0] == 16 && calls[1] == 16);
    for (c.d.n_threads = 1; c.d.n_threads <= 2; c.d.n_threads++) {
        calls[0] = 0;
        calls[2] = 5;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, n, NULL, &o, &err) == TP_ERR_CANCELLED && strstr(err.message, "cancel"));
        CHECK(tp_get_stats(pool).live_blocks == 0);
    }
out:
    tp_destroy(pool);
    free(xf);
    free(xd);
    ref_close(&c);
}

/* the plan fits budgets: fewer bands per pass, then no kept bins, then fewer workers; a
   budget below the least it needs fails cleanly; the results do not change */
static void test_run_budget(void)
{
    ref_case c;
    pac_plan_info full, small;
    double a[800], b[800];
    pac_output o;
    tp_error err;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC));
    if (!c.x.data) goto out;
    c.d.n_threads = 2;
    CHECK(pac_plan(&c.d, 8, 2048, 0, &full, &err) == TP_OK);
    CHECK(full.n_threads == 2 && full.amp_bands_per_pass == 10 && full.keep_phase_bins == 1 && full.two_passes == 1);
    CHECK(pac_plan(&c.d, 8, 2048, full.bytes - 1, &small, &err) == TP_OK);
    CHECK(small.bytes < full.bytes && small.n_threads == 2 && small.amp_bands_per_pass < 10);
    {
        tp_desc pd;
        tp_pool *pool;
        memset(&pd, 0, sizeof pd);
        pd.budget_bytes = small.bytes + 6 * 4160;
        tp_create(&pd, &pool, NULL);
        memset(&o, 0, sizeof o);
        o.pac = a;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, &full, &o, &err) == TP_OK);
        c.d.pool = pool;
        o.pac = b;
        CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
        CHECK(memcmp(a, b, sizeof a) == 0 && tp_get_stats(pool).peak_reserved <= pd.budget_bytes);
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, &full, &o, &err) == TP_ERR_BUDGET && strstr(err.message, "budget"));
        CHECK(tp_get_stats(pool).live_blocks == 0);
        tp_destroy(pool);
        c.d.pool = NULL;
    }
    CHECK(pac_plan(&c.d, 8, 2048, 100000, &small, &err) == TP_ERR_BUDGET && strstr(err.message, "needs at least"));
    /* Tort keeps no bins: the memory does not grow with the number of signals */
    c.d.method = PAC_MI_TORT;
    CHECK(pac_plan(&c.d, 8, 2048, 0, &full, &err) == TP_OK && full.keep_phase_bins == 0 && full.two_passes == 0);
    CHECK(pac_plan(&c.d, 80000, 2048, 0, &small, &err) == TP_OK && small.bytes == full.bytes);
out:
    ref_close(&c);
}

static void test_run_bad_input(void)
{
    ref_case c;
    double mi[800], bad[2] = {10, 5}, z[800];
    pac_plan_info plan;
    pac_output o;
    tp_error err;
    CHECK(ref_open(&c, PAC_MI_TORT));
    if (!c.x.data) goto out;
    memset(&o, 0, sizeof o);
    o.pac = mi;
#define RUN_ERR(code, text) do { tp_error_clear(&err); CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == (code) && strstr(err.message, text), "%s", err.message); } while (0)
    c.d.fs = 0; RUN_ERR(TP_ERR_ARG, "fs"); c.d.fs = 512;
    c.d.pha_bands = bad; c.d.n_pha = 1; RUN_ERR(TP_ERR_ARG, "phase band 0 [10, 5]");
    bad[0] = 100; bad[1] = 300; RUN_ERR(TP_ERR_ARG, "fs / 2 = 256"); c.d.pha_bands = (const double *)c.fp.data; c.d.n_pha = 10;
    c.d.n_amp = 0; RUN_ERR(TP_ERR_ARG, "bands"); c.d.n_amp = 10;
    c.d.method = (pac_mi)7; RUN_ERR(TP_ERR_ARG, "desc.method"); c.d.method = PAC_MI_DEFAULT;
    c.d.n_perm = 3; RUN_ERR(TP_ERR_ARG, "needs desc.surrogates"); c.d.n_perm = 0;
    c.d.surrogates = (pac_surrogates)9; RUN_ERR(TP_ERR_ARG, "PAC_SURR"); c.d.surrogates = PAC_SURR_NONE;
    c.d.n_threads = 1000; RUN_ERR(TP_ERR_ARG, "n_threads"); c.d.n_threads = 0;
    o.z = z; RUN_ERR(TP_ERR_ARG, "need surrogates"); o.z = NULL;
    c.d.measure = (pac_measure)7; RUN_ERR(TP_ERR_ARG, "desc.measure"); c.d.measure = PAC_MEASURE_DEFAULT;
    c.d.norm = (pac_norm)5; RUN_ERR(TP_ERR_ARG, "desc.norm"); c.d.norm = PAC_NORM_NONE;
    {   /* pairs: only for swap-epochs, each a signal's index */
        uint32_t pairs[3 * 8] = {0};
        c.d.pairs = pairs; c.d.n_perm = 3; c.d.surrogates = PAC_SURR_SWAP_BLOCKS; RUN_ERR(TP_ERR_ARG, "swap-epochs");
        c.d.surrogates = PAC_SURR_SWAP_EPOCHS; pairs[17] = 8; RUN_ERR(TP_ERR_ARG, "desc.pairs[17] is 8");
        pairs[17] = 7;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK); /* need not be permutations */
        c.d.pairs = NULL; c.d.n_perm = 0; c.d.surrogates = PAC_SURR_NONE;
    }
    {   /* what tensorpac changes silently runs as it does, and says so */
        captured_log lg;
        double nd[800], nd0[800];
        memset(&lg, 0, sizeof lg);
        c.d.log.fn = capture_log, c.d.log.user = &lg;
        c.d.n_threads = 1; /* no team: without threads one would log that it runs alone */
        c.d.measure = PAC_NDPAC;
        o.pac = nd0;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK && lg.count == 0);
        c.d.surrogates = PAC_SURR_SWAP_BLOCKS, c.d.n_perm = 5, c.d.norm = PAC_NORM_ZSCORE;
        o.pac = nd;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK && memcmp(nd, nd0, sizeof nd) == 0);
        CHECK_MSG(lg.count == 1 && strstr(lg.text, "ndPAC runs without surrogates"), "%s", lg.text);
        o.z = z; RUN_ERR(TP_ERR_ARG, "ndPAC has no surrogates"); o.z = NULL;
        c.d.measure = PAC_MVL, c.d.surrogates = PAC_SURR_NONE, c.d.n_perm = 0;
        o.pac = mi, o.norm = nd;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK && memcmp(nd, mi, sizeof nd) == 0);
        CHECK_MSG(lg.count == 2 && strstr(lg.text, "a normalisation needs surrogates"), "%s", lg.text);
        o.norm = NULL, o.pac = mi;
        c.d.measure = PAC_MEASURE_DEFAULT, c.d.norm = PAC_NORM_NONE, c.d.n_threads = 0;
        memset(&c.d.log, 0, sizeof c.d.log);
    }
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 0, 2048, NULL, &o, &err) == TP_ERR_ARG);
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 3, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "n_times"));
    CHECK(pac_run(&c.d, c.x.data, (tp_dtype)7, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "element type"));
    CHECK(pac_run(&c.d, c.x.data, (tp_dtype)0, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "pac_run: x"));
    CHECK(pac_run(&c.d, NULL, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG);
    CHECK(pac_run(NULL, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG);
    CHECK(pac_run(&c.d, c.x.data, TP_F64, (size_t)-1 / 4, 2048, NULL, &o, &err) == TP_ERR_OVERFLOW);
    /* a 1 Hz band needs 3 * 512 taps: 5 samples are too short even for the capped order 1... */
    {
        double x5[5] = {1, 2, 3, 4, 5}, lowb[2] = {1, 3};
        c.d.pha_bands = lowb; c.d.n_pha = 1;
        CHECK(pac_run(&c.d, x5, TP_F64, 1, 5, NULL, &o, &err) == TP_OK); /* order capped at (5 - 1) / 3 = 1 */
        c.d.pha_bands = (const double *)c.fp.data; c.d.n_pha = 10;
    }
    CHECK(pac_plan(&c.d, 8, 2048, 0, &plan, &err) == TP_OK);
    plan.amp_bands_per_pass = 11;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, &plan, &o, &err) == TP_ERR_ARG && strstr(err.message, "plan"));
#undef RUN_ERR
out:
    ref_close(&c);
}

/* desc.precision = TP_F32: within 5e-5 absolute MI of the float64 run (the issue's bound),
   z-scores close, less memory, and the same bits whatever the plan */
static void test_run_float32(void)
{
    ref_case c;
    double m64[800], m32[800], z64[800], z32[800], again[800], worst_mi = 0, worst_z = 0;
    pac_plan_info p64, p32;
    pac_output o;
    tp_error err;
    size_t i;
    int method;
    CHECK(ref_open(&c, PAC_MI_TORT));
    if (!c.x.data) goto out;
    c.d.surrogates = PAC_SURR_SWAP_BLOCKS;
    c.d.n_perm = 6; /* the first 6 of tensorpac's cuts */
    c.d.cuts = (const int64_t *)c.cuts.data;
    for (method = 0; method < 2; method++) {
        c.d.method = method ? PAC_MI_TENSORPAC : PAC_MI_TORT;
        memset(&o, 0, sizeof o);
        c.d.precision = TP_F64;
        o.pac = m64;
        o.z = z64;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK);
        CHECK(pac_plan(&c.d, 8, 2048, 0, &p64, &err) == TP_OK);
        c.d.precision = TP_F32;
        o.pac = m32;
        o.z = z32;
        CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK, "%s", err.message);
        CHECK(pac_plan(&c.d, 8, 2048, 0, &p32, &err) == TP_OK && p32.bytes < p64.bytes);
        for (i = 0; i < 800; i++) {
            worst_mi = fabs(m32[i] - m64[i]) > worst_mi ? fabs(m32[i] - m64[i]) : worst_mi;
            worst_z = fabs(z32[i] - z64[i]) > worst_z ? fabs(z32[i] - z64[i]) : worst_z;
        }
        CHECK(memcmp(m32, m64, sizeof m32) != 0); /* it did run in floats */
        /* another plan: 3 workers, 3 bands per pass */
        c.d.n_threads = 3;
        CHECK(pac_plan(&c.d, 8, 2048, 0, &p32, &err) == TP_OK);
        p32.amp_bands_per_pass = 3;
        o.pac = again;
        o.z = NULL;
        CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, &p32, &o, &err) == TP_OK && memcmp(again, m32, sizeof again) == 0);
        c.d.n_threads = 0;
    }
    CHECK_MSG(worst_mi <= 5e-5 && worst_z <= 1e-3, "float32: MI off by %.3g, z by %.3g", worst_mi, worst_z);
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  float32 against float64: MI %.3g absolute, z %.3g\n", worst_mi, worst_z);
    c.d.precision = (tp_dtype)3;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "precision"));
out:
    ref_close(&c);
}

/* Each estimate is what its operation takes from the pool, to the byte (within [90 %, 100 %] is
   the contract; the CPU path meets it exactly): pac_run's for several descs, the stages', the
   FFT's (smooth and Bluestein lengths). */
static size_t peak_of(tp_pool *pool, size_t live0) { return tp_get_stats(pool).peak_requested - live0; }

static void test_estimates_are_peaks(void)
{
    ref_case c;
    static double mi[800], z[800], pha[10 * 8 * 2048], amp[10 * 8 * 2048], sd[800], mean[800];
    tp_pool *pool = NULL;
    tp_error err;
    size_t est, live0, n = 2048, lengths[4] = {1, 2048, 1009, 4099};
    pac_output o;
    int v, k;
    CHECK(ref_open(&c, PAC_MI_TORT));
    if (!c.x.data) goto out;
    tp_create(NULL, &pool, NULL);
    c.d.pool = pool;
    for (v = 0; v < 6; v++) {
        c.d.method = v % 2 ? PAC_MI_TENSORPAC : PAC_MI_TORT;
        c.d.surrogates = v < 2 ? PAC_SURR_NONE : v < 4 ? PAC_SURR_SWAP_BLOCKS : PAC_SURR_SWAP_EPOCHS;
        c.d.n_perm = v < 2 ? 0 : 5;
        c.d.n_threads = v % 3 + 1;
        c.d.precision = v == 3 ? TP_F32 : TP_F64;
        memset(&o, 0, sizeof o);
        o.pac = mi;
        o.z = c.d.n_perm ? z : NULL;
        CHECK_MSG(pac_estimate_bytes(&c.d, 8, n, &est, &err) == TP_OK, "%s", err.message);
        live0 = tp_get_stats(pool).bytes_requested;
        tp_reset_peak(pool);
        CHECK_MSG(pac_run(&c.d, c.x.data, TP_F64, 8, n, NULL, &o, &err) == TP_OK, "%s", err.message);
        CHECK_MSG(peak_of(pool, live0) == est, "desc %d: peak %zu, estimate %zu", v, peak_of(pool, live0), est);
    }
    CHECK(pac_bandpass_estimate_bytes(8, n, 512, c.d.pha_bands, 10, 3, &est, &err) == TP_OK);
    live0 = tp_get_stats(pool).bytes_requested;
    tp_reset_peak(pool);
    CHECK(pac_bandpass(pool, (const double *)c.x.data, 8, n, 512, c.d.pha_bands, 10, 3, PAC_PHASE, pha, &err) == TP_OK);
    CHECK_MSG(peak_of(pool, live0) == est, "band-pass: peak %zu, estimate %zu", peak_of(pool, live0), est);
    CHECK(pac_wavelet_estimate_bytes(8, n, 512, c.d.pha_bands, 10, 0, &est, &err) == TP_OK);
    live0 = tp_get_stats(pool).bytes_requested;
    tp_reset_peak(pool);
    CHECK(pac_wavelet(pool, (const double *)c.x.data, 8, n, 512, c.d.pha_bands, 10, 0, PAC_PHASE, pha, &err) == TP_OK);
    CHECK_MSG(peak_of(pool, live0) == est, "wavelet: peak %zu, estimate %zu", peak_of(pool, live0), est);
    CHECK(pac_bandpass(pool, (const double *)c.x.data, 8, n, 512, c.d.pha_bands, 10, 3, PAC_PHASE, pha, &err) == TP_OK);
    CHECK(pac_bandpass(pool, (const double *)c.x.data, 8, n, 512, c.d.amp_bands, 10, 6, PAC_AMPLITUDE, amp, &err) == TP_OK);
    for (k = 0; k < 2; k++) {
        pac_mi m = k ? PAC_MI_TENSORPAC : PAC_MI_TORT;
        CHECK(pac_mi_estimate_bytes(10, 10, 8, n, m, 0, &est, &err) == TP_OK);
        live0 = tp_get_stats(pool).bytes_requested;
        tp_reset_peak(pool);
        CHECK(pac_modulation_index(pool, pha, 10, amp, 10, 8, n, m, mi, &err) == TP_OK);
        CHECK_MSG(peak_of(pool, live0) == est, "MI %d: peak %zu, estimate %zu", k, peak_of(pool, live0), est);
        CHECK(pac_mi_estimate_bytes(10, 10, 8, n, m, 20, &est, &err) == TP_OK);
        live0 = tp_get_stats(pool).bytes_requested;
        tp_reset_peak(pool);
        CHECK(pac_swap_blocks(pool, pha, 10, amp, 10, 8, n, m, (const int64_t *)c.cuts.data, 20, NULL, mean, sd, &err) == TP_OK);
        CHECK_MSG(peak_of(pool, live0) == est, "surrogates %d: peak %zu, estimate %zu", k, peak_of(pool, live0), est);
    }
    for (k = 0; k < 4; k++) {
        pac_fft *p = NULL;
        CHECK(pac_fft_estimate_bytes(lengths[k], &est, NULL) == TP_OK);
        live0 = tp_get_stats(pool).bytes_requested;
        tp_reset_peak(pool);
        CHECK(pac_fft_create(pool, lengths[k], &p, NULL) == TP_OK);
        CHECK_MSG(peak_of(pool, live0) == est, "FFT of %zu: peak %zu, estimate %zu", lengths[k], peak_of(pool, live0), est);
        pac_fft_destroy(p);
    }
    for (k = 1; k <= 6; k++) { /* pac_fit on the same phases and amplitudes, surrogates by transforms too */
        pac_desc fd;
        memset(&fd, 0, sizeof fd);
        fd.pool = pool, fd.n_pha = fd.n_amp = 10, fd.measure = (pac_measure)k, fd.n_threads = k % 2 + 1;
        fd.surrogates = k == 4 ? PAC_SURR_NONE : k == 3 ? PAC_SURR_SWAP_EPOCHS : PAC_SURR_SWAP_BLOCKS;
        fd.n_perm = k == 4 ? 0 : 20;
        memset(&o, 0, sizeof o);
        o.pac = mi;
        CHECK_MSG(pac_fit_estimate_bytes(&fd, 8, n, &est, &err) == TP_OK, "%s", err.message);
        live0 = tp_get_stats(pool).bytes_requested;
        tp_reset_peak(pool);
        CHECK_MSG(pac_fit(&fd, pha, amp, 8, n, &o, &err) == TP_OK, "%s", err.message);
        CHECK_MSG(peak_of(pool, live0) == est, "fit, measure %d: peak %zu, estimate %zu", k, peak_of(pool, live0), est);
    }
    CHECK(pac_fft_estimate_bytes(0, &est, &err) == TP_ERR_ARG && strstr(err.message, "pac_fft_estimate_bytes"));
    CHECK(pac_mi_estimate_bytes(10, 0, 8, n, PAC_MI_TORT, 0, &est, &err) == TP_ERR_ARG);
    CHECK(pac_estimate_bytes(NULL, 8, n, &est, &err) == TP_ERR_ARG && strstr(err.message, "pac_estimate_bytes: desc"));
    CHECK(tp_get_stats(pool).live_blocks == 0);
    tp_destroy(pool);
out:
    ref_close(&c);
}

#ifndef TP_NO_THREADS

/* A worker thread that cannot start: the run says so to desc.log and in out.info, and the others
   do its share, with the same bits. */
static void test_thread_start_fails(void)
{
    ref_case c;
    static double mi1[800], mi2[800], z1[800], z2[800];
    pac_output o;
    pac_run_info info;
    captured_log log;
    tp_error err;
    CHECK(ref_open(&c, PAC_MI_TENSORPAC));
    if (!c.x.data) goto out;
    memset(&log, 0, sizeof log);
    c.d.surrogates = PAC_SURR_SWAP_BLOCKS;
    c.d.n_perm = 4;
    c.d.log.fn = capture_log;
    c.d.log.user = &log;
    c.d.n_threads = 1;
    memset(&o, 0, sizeof o);
    o.pac = mi1, o.z = z1, o.info = &info;
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK && info.n_workers == 1 && log.count == 0);
    c.d.n_threads = 4;
    o.pac = mi2, o.z = z2;
    tf_fail_from(3); /* two workers start, the third and fourth do not */
    CHECK(pac_run(&c.d, c.x.data, TP_F64, 8, 2048, NULL, &o, &err) == TP_OK);
    tf_fail_from(0);
    CHECK_MSG(info.plan.n_threads == 4 && info.n_workers == 3 && log.count == 1 && strstr(log.text, "could not start"),
              "%zu %d: %s", info.plan.n_threads, info.n_workers, log.text);
    CHECK(memcmp(mi1, mi2, sizeof mi1) == 0 && memcmp(z1, z2, sizeof z1) == 0);
out:
    ref_close(&c);
}
#endif

int main(void)
{
    RUN(test_fft_against_dft);
    RUN(test_fft_round_trip_and_sharing);
    RUN(test_fft_plans_and_errors);
    RUN(test_fir_against_tensorpac);
    RUN(test_bandpass_against_tensorpac);
    RUN(test_bandpass_bad_input);
    RUN(test_mi_against_tensorpac);
    RUN(test_mi_edges);
    RUN(test_mi_from_sums);
    RUN(test_wrap_rows);
    RUN(test_histogram_variants);
    RUN(test_surrogates_against_tensorpac);
    RUN(test_band_presets);
    RUN(test_phase_bins);
    RUN(test_run_against_tensorpac);
    RUN(test_measures_against_tensorpac);
    RUN(test_mcp_against_tensorpac);
    RUN(test_split_runs);
    RUN(test_x_amp_against_tensorpac);
    RUN(test_edges_against_tensorpac);
    RUN(test_n_bins_against_tensorpac);
    RUN(test_preferred_phase_against_tensorpac);
    RUN(test_wavelet_against_tensorpac);
    RUN(test_erpac_against_tensorpac);
    RUN(test_fit_against_tensorpac);
    RUN(test_wavelet_filter_against_tensorpac);
    RUN(test_erpac_fit_against_tensorpac);
    RUN(test_atan2);
    RUN(test_unit_vectors);
    RUN(test_dot_four);
    RUN(test_shift_transforms);
    RUN(test_run_plans_identical);
    RUN(test_measures_plans_identical);
    RUN(test_run_surrogate_kinds);
    RUN(test_run_inputs_progress_cancel);
    RUN(test_run_budget);
    RUN(test_run_bad_input);
    RUN(test_run_float32);
    RUN(test_estimates_are_peaks);
#ifndef TP_NO_THREADS
    RUN(test_thread_start_fails);
#endif
    return tk_summary("pacgpu");
}
