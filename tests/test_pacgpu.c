/* Tests of pacgpu.h (so far: the FFT) against a long-double DFT computed here. */
#define TENSORPOOL_IMPLEMENTATION
#define PACGPU_IMPLEMENTATION
#include "../pacgpu.h"
#include "testkit.h"

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

int main(void)
{
    RUN(test_fft_against_dft);
    RUN(test_fft_round_trip_and_sharing);
    RUN(test_fft_plans_and_errors);
    return tk_summary("pacgpu");
}
