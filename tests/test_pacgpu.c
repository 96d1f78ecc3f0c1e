/* Tests of pacgpu.h so far: the FFT against a long-double DFT computed here, the filter bank,
   phase and amplitude against tensorpac's outputs (tests/data/pac, converted from
   ../shared/refdata/pac by tools/gen_pac_golden.py). Run from the repository root. */
#define TENSORPOOL_IMPLEMENTATION
#define PACGPU_IMPLEMENTATION
#include "../pacgpu.h"
#include "testkit.h"
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
    if (pac_fft_create(n, NULL, &p) != PAC_OK) { free(x); free(y); free(ref); return 1e300; }
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
        CHECK(pac_fft_create(n, NULL, &p) == PAC_OK && pac_fft_length(p) == n);
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
    tp_pool *pool = tp_create(NULL, NULL);
    tp_desc d;
    pac_fft *p = (pac_fft *)1;
    CHECK(pac_fft_create(0, pool, &p) == PAC_ERR_ARG && p == NULL);
    CHECK(pac_fft_create(((size_t)1 << 31) + 1, pool, &p) == PAC_ERR_ARG);
    CHECK(pac_fft_create(16, pool, NULL) == PAC_ERR_ARG);
    CHECK(pac_fft_create(1009, pool, &p) == PAC_OK && tp_get_stats(pool).live_blocks == 2); /* Bluestein + inner */
    pac_fft_destroy(p);
    CHECK(tp_get_stats(pool).live_blocks == 0);
    tp_destroy(pool);
    memset(&d, 0, sizeof d);
    d.budget_bytes = 64 * 1024;
    pool = tp_create(&d, NULL);
    CHECK(pac_fft_create(100000, pool, &p) == PAC_ERR_BUDGET && p == NULL);
    CHECK(tp_get_stats(pool).live_blocks == 0);
    tp_destroy(pool);
    pac_fft_destroy(NULL);
    CHECK(strcmp(pac_result_string(PAC_ERR_BUDGET), "over the memory budget") == 0);
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
        CHECK(pac_fir_design(512.0, band[0], band[1], order, mine) == PAC_OK);
        for (j = 0; j <= order; j++) worst = fabs(mine[j] - ref[j]) > worst ? fabs(mine[j] - ref[j]) : worst;
    }
    CHECK_MSG(worst <= 1e-12, "taps differ by %.3g", worst);
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  taps: max difference %.3g\n", worst);
    CHECK(pac_fir_order(512.0, 100, 2.0, 3) == 33);   /* capped at (100 - 1) / 3 */
    CHECK(pac_fir_design(512.0, 5.0, 300.0, 10, mine) == PAC_ERR_ARG); /* above Nyquist */
    CHECK(pac_fir_design(512.0, 7.0, 5.0, 10, mine) == PAC_ERR_ARG);
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
    char err[256];
    CHECK(x.data && fp.data && fa.data && rfp.data && rfa.data && rp.data && ra.data);
    if (!x.data || !fp.data || !fa.data || !rfp.data || !rfa.data || !rp.data || !ra.data) return;
    memcpy(sig, (const double *)x.data, n * sizeof(double));
    memcpy(sig + n, (const double *)x.data + 5 * n, n * sizeof(double));
    for (what = 0; what < 4; what++) { /* filtered pha bands, filtered amp bands, phase, amplitude */
        const npy_array *bands = what == 0 || what == 2 ? &fp : &fa, *ref = what == 0 ? &rfp : what == 1 ? &rfa : what == 2 ? &rp : &ra;
        int kind = what < 2 ? PAC_FILTERED : what == 2 ? PAC_PHASE : PAC_AMPLITUDE;
        CHECK(pac_bandpass(NULL, sig, 2, n, 512.0, (const double *)bands->data, 10, what == 0 || what == 2 ? 3 : 6, kind, out,
                           err, sizeof err) == PAC_OK);
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
    char err[256];
    size_t i;
    for (i = 0; i < 64; i++) x[i] = sin(0.3 * (double)i);
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, above, 1, 3, PAC_PHASE, out, err, sizeof err) == PAC_ERR_ARG && strstr(err, "band 0"));
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, inverted, 1, 3, PAC_PHASE, out, err, sizeof err) == PAC_ERR_ARG);
    CHECK(pac_bandpass(NULL, x, 1, 3, 512, bands, 1, 3, PAC_PHASE, out, err, sizeof err) == PAC_ERR_ARG && strstr(err, "short"));
    CHECK(pac_bandpass(NULL, x, 1, 64, -1, bands, 1, 3, PAC_PHASE, out, err, sizeof err) == PAC_ERR_ARG && strstr(err, "fs"));
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, bands, 1, 0, PAC_PHASE, out, err, sizeof err) == PAC_ERR_ARG);
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, bands, 1, 3, 7, out, err, sizeof err) == PAC_ERR_ARG);
    CHECK(pac_bandpass(NULL, NULL, 1, 64, 512, bands, 1, 3, PAC_PHASE, out, NULL, 0) == PAC_ERR_ARG);
    /* a short signal: the order is capped at (64 - 1) / 3 = 21 and the run succeeds */
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, bands, 1, 3, PAC_AMPLITUDE, out, err, sizeof err) == PAC_OK);
    x[10] = NAN;
    CHECK(pac_bandpass(NULL, x, 1, 64, 512, bands, 1, 3, PAC_AMPLITUDE, out, err, sizeof err) == PAC_OK && isnan(out[0]));
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
    char err[256];
    CHECK(x.data && fp.data && fa.data && rt.data && rr.data);
    if (!x.data || !fp.data || !fa.data || !rt.data || !rr.data) return;
    CHECK(pac_bandpass(NULL, (const double *)x.data, 8, n, 512, (const double *)fp.data, 10, 3, PAC_PHASE, pha, err, sizeof err) == PAC_OK);
    CHECK(pac_bandpass(NULL, (const double *)x.data, 8, n, 512, (const double *)fa.data, 10, 6, PAC_AMPLITUDE, amp, err, sizeof err) == PAC_OK);
    CHECK(pac_modulation_index(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, mi, err, sizeof err) == PAC_OK);
    for (i = 0; i < 800; i++) {
        double r = ((const double *)rt.data)[i], d = fabs(mi[i] - r) / fabs(r);
        worst_t = d > worst_t ? d : worst_t;
    }
    CHECK(pac_modulation_index(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TORT, mi, err, sizeof err) == PAC_OK);
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
    char err[256];
    size_t i;
    for (i = 0; i < 36; i++) { pha[i] = -3.141592653589793 + 2 * 3.141592653589793 * (double)i / 36.0; amp[i] = 1.0; }
    pha[0] = -3.141592653589793;
    pha[35] = 3.141592653589793;
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, 36, PAC_MI_TORT, &mi, err, sizeof err) == PAC_OK && fabs(mi) < 1e-15);
    amp[35] = 5.0; /* the sample at exactly pi counts (in the last bin): the MI moves off 0 */
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, 36, PAC_MI_TORT, &mi, err, sizeof err) == PAC_OK && mi > 0.01);
    for (i = 0; i < 36; i++) amp[i] = i == 7 ? 1.0 : 0.0;
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, 36, PAC_MI_TENSORPAC, &mi, err, sizeof err) == PAC_OK && fabs(mi - 1.0) < 1e-15);
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, 36, 9, &mi, err, sizeof err) == PAC_ERR_ARG && strstr(err, "method"));
    CHECK(pac_modulation_index(NULL, NULL, 1, amp, 1, 1, 36, PAC_MI_TORT, &mi, err, sizeof err) == PAC_ERR_ARG);
    CHECK(pac_modulation_index(NULL, pha, 1, amp, 1, 1, (size_t)-1 / 2, PAC_MI_TORT, &mi, err, sizeof err) == PAC_ERR_OVERFLOW);
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
    char err[256];
    CHECK(x.data && fp.data && fa.data && rs.data && rc.data && rz.data);
    if (!x.data || !fp.data || !fa.data || !rs.data || !rc.data || !rz.data) return;
    pac_bandpass(NULL, (const double *)x.data, 8, n, 512, (const double *)fp.data, 10, 3, PAC_PHASE, pha, err, sizeof err);
    pac_bandpass(NULL, (const double *)x.data, 8, n, 512, (const double *)fa.data, 10, 6, PAC_AMPLITUDE, amp, err, sizeof err);
    CHECK(pac_modulation_index(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, mi, err, sizeof err) == PAC_OK);
    CHECK(pac_swap_blocks(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, (const int64_t *)rc.data, 20, surro, mean, sd, err,
                          sizeof err) == PAC_OK);
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
    CHECK(pac_swap_blocks(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, (const int64_t *)rc.data, 20, NULL, mean2, NULL, err,
                          sizeof err) == PAC_OK && memcmp(mean, mean2, sizeof mean) == 0);
    /* seeded cuts: in range, the same for the same seed, different for another */
    CHECK(pac_random_cuts(7, n, 20, cuts) == PAC_OK);
    for (i = 0; i < 20; i++) CHECK(cuts[i] >= 1 && cuts[i] < (int64_t)n);
    {
        int64_t again[20], other[20];
        pac_random_cuts(7, n, 20, again);
        pac_random_cuts(8, n, 20, other);
        CHECK(memcmp(cuts, again, sizeof cuts) == 0 && memcmp(cuts, other, sizeof cuts) != 0);
    }
    CHECK(pac_swap_blocks(NULL, pha, 10, amp, 10, 8, n, PAC_MI_TENSORPAC, &bad_cut, 1, NULL, mean, sd, err, sizeof err) ==
              PAC_ERR_ARG && strstr(err, "cut 0"));
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
        n = pac_band_preset(names[k], PAC_PHASE, bands);
        CHECK(n == ref.shape[1] && pac_band_preset(names[k], PAC_PHASE, NULL) == n);
        CHECK_MSG(memcmp(bands, ref.data, 2 * n * sizeof(double)) == 0, "%s phase bands", names[k]);
        CHECK(pac_band_preset(names[k], PAC_AMPLITUDE, bands) == n);
        CHECK_MSG(memcmp(bands, (const double *)ref.data + 2 * n, 2 * n * sizeof(double)) == 0, "%s amplitude bands", names[k]);
        npy_free(&ref);
    }
    CHECK(pac_band_preset("ultra", PAC_PHASE, NULL) == 0 && pac_band_preset("mres", PAC_FILTERED, NULL) == 0);
}

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
    RUN(test_surrogates_against_tensorpac);
    RUN(test_band_presets);
    return tk_summary("pacgpu");
}
