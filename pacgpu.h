/* pacgpu.h 0.0.1 - phase-amplitude coupling that fits in memory and agrees with tensorpac - MIT license (end of file)

   Do this:
       #define PACGPU_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation. It includes
   tensorpool.h (define TENSORPOOL_IMPLEMENTATION in one file too, possibly the same one).

   STATUS: under construction (issue 5). What is here and tested: the FFT every later stage
   stands on (section 3), tensorpac's filter bank with Hilbert phase and amplitude (section 4) and
   the modulation index in both definitions (section 5), swap-blocks surrogates with their mean and
   standard deviation (z-scores). Still to come, in this order: time-lag and epoch-permutation
   surrogates and p-values, the memory plan and one call for the whole pipeline, threads,
   float32, then the CUDA backend (issue 6).

   CONTENTS
       1. Why            3. FFT                  5. Modulation index     7. API
       2. Options        4. Band-pass filtering  6. What it does NOT do

   1. WHY
   Phase-amplitude coupling over a grid of phase x amplitude bands with surrogate statistics costs
   tensorpac ~2 s plus ~1 CPU-s per surrogate for 64 signals of 2048 samples, and gPAC's GPU
   version materialises an 8.5 GB tensor for one step. pacgpu computes the same quantities from
   one FFT per signal shared by every band, in chunks that fit a memory budget.

   2. COMPILE-TIME OPTIONS (define before including; "impl" = only where the implementation is built)
       PAC_ASSERT(x)     impl     internal consistency asserts (default: none)
       PAC_STATIC        global   make every function static (with TP_STATIC for the pool)
       PACDEF            global   linkage of the public functions (default: extern)

   3. FFT
   Any length n >= 1. Lengths whose prime factors are 2, 3 and 5 run a Stockham (autosort)
   transform in stages of radix 4, 2, 3, 5 on separate real and imaginary arrays, with twiddles
   computed directly in double (no recurrences, so no error growth with n); any other length runs
   Bluestein's chirp-z algorithm on the next 2^a 3^b 5^c length >= 2n - 1. Measured error against a long-double DFT:
   at most 1.3e-15 relative (max norm) for every n <= 64 and 13 lengths up to 4099, primes
   included (tests/test_pacgpu.c). A plan is read-only
   after creation and may be shared by threads; each call brings its own scratch
   (pac_fft_scratch_doubles). Data are interleaved complex doubles (re, im); the forward transform
   uses exp(-2 pi i jk / n), the inverse exp(+2 pi i jk / n) without the 1/n.

   4. BAND-PASS FILTERING (tensorpac's, to the last bits that matter)
   Filter order for a band [lo, hi] Hz: cycles * floor(fs / lo) (tensorpac: 3 cycles for phase
   bands, 6 for amplitude bands), capped at (n_times - 1) / 3. Taps: tensorpac's fir1, i.e. the
   least-squares band-pass of order + 1 taps (the truncated ideal band-pass response), times a
   Hamming window, scaled to gain 1 at the band centre. Zero-phase filtering equal to scipy's
   filtfilt(b, 1, x, padlen=order) with odd padding, computed as: odd-extend each signal once by
   the largest order of all bands, one FFT, then per band a product with |B(f)|^2 and one inverse
   FFT, trimmed. This is exact, not an approximation: filtfilt's output on the trimmed span
   depends only on the odd extension within `order` samples of the ends, which a longer extension
   shares, and the circular product never wraps into that span. Phase and amplitude: scipy's
   hilbert on the filtered signal zero-padded to the next 2^a 3^b 5^c length (tensorpac's hilbertm),
   then atan2 and hypot. Measured against tensorpac (tests/test_pacgpu.c, 20 bands, 2 x 2048
   samples at 512 Hz): taps within 1.7e-16, filtered signals and amplitudes within 1.2e-15 of
   their largest value, phases within 3e-13 rad (where the amplitude is tiny, phase is
   ill-conditioned). Bands are explicit (n, 2) arrays or tensorpac's presets (pac_band_preset,
   equal bit for bit to tensorpac's numpy vectors).

   5. MODULATION INDEX
   18 phase bins with tensorpac's edges: numpy.linspace(-pi - 2 eps, pi + 2 eps, 19) (eps = DBL_EPSILON),
   a value v in bin j when edge[j] <= v < edge[j + 1]. Amplitudes are summed per bin in one pass
   (a histogram, never one-hot products). PAC_MI_TORT (Tort 2010, per series): the mean amplitude
   of each bin of that series, p = means / their sum, MI = 1 + sum p log p / log 18 (empty bins
   count 0). PAC_MI_TENSORPAC (what tensorpac's Pac(idpac=(2, ...)) returns): each bin's amplitude
   sum divided by the number of samples in that bin pooled over every phase band and signal of the
   call, bins empty everywhere dropped, then the same formula; a series without samples in a bin
   that others fill contributes 0 there (tensorpac would give NaN). Output (n_amp, n_pha,
   n_signals), tensorpac's order. Measured against tensorpac on its reference (10 x 10 bands, 8 x
   2048 samples, phases and amplitudes from section 4): within 1e-10 relative.

   6. WHAT IT DOES NOT DO (yet: see STATUS)
   No single-precision FFT, no SIMD-specialised kernels, no real-input shortcut.

   7. API: see the declarations below; each states its contract.
*/
#ifndef PACGPU_H
#define PACGPU_H

#if defined(PAC_STATIC) && !defined(TP_STATIC)
#define TP_STATIC
#endif
#include "tensorpool.h"

#include <stddef.h>
#include <stdint.h>

#define PAC_VERSION_MAJOR 0
#define PAC_VERSION_MINOR 0
#define PAC_VERSION_PATCH 1

#ifndef PACDEF
#if defined(PAC_STATIC) && (defined(__GNUC__) || defined(__clang__))
#define PACDEF static __attribute__((unused))
#elif defined(PAC_STATIC)
#define PACDEF static
#else
#define PACDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pac_result {
    PAC_OK = 0,
    PAC_ERR_ARG = -1,      /* a bad argument */
    PAC_ERR_OVERFLOW = -2, /* a size computation overflowed */
    PAC_ERR_NOMEM = -3,    /* the pool (or the system) refused memory */
    PAC_ERR_BUDGET = -4    /* the memory would exceed the pool's budget */
} pac_result;

typedef struct pac_fft pac_fft;

/* A plan for complex transforms of length n (1 <= n <= 2^31), its tables from pool (NULL = the
   system allocator through a private pool). PAC_ERR_ARG for n = 0 or n > 2^31, PAC_ERR_NOMEM,
   PAC_ERR_BUDGET. */
PACDEF pac_result pac_fft_create(size_t n, tp_pool *pool, pac_fft **plan);
PACDEF void pac_fft_destroy(pac_fft *plan);
PACDEF size_t pac_fft_length(const pac_fft *plan);
/* Doubles of scratch one call of pac_fft_run needs. */
PACDEF size_t pac_fft_scratch_doubles(const pac_fft *plan);
/* Transforms data (n interleaved complex values) in place: forward (inverse = 0) or unscaled
   inverse (inverse = 1). scratch: pac_fft_scratch_doubles(plan) doubles, not overlapping data. */
PACDEF void pac_fft_run(const pac_fft *plan, double *data, int inverse, double *scratch);

/* tensorpac's filter order for a band starting at f_lo Hz: cycles * floor(fs / f_lo), capped at
   (n_times - 1) / 3; 0 for arguments that give no filter (non-positive or non-finite numbers). */
PACDEF size_t pac_fir_order(double fs, size_t n_times, double f_lo, int cycles);
/* The order + 1 taps of tensorpac's fir1 band-pass for [f_lo, f_hi] Hz (section 4).
   PAC_ERR_ARG unless 0 < f_lo < f_hi < fs / 2, order >= 1 and taps != NULL. */
PACDEF pac_result pac_fir_design(double fs, double f_lo, double f_hi, size_t order, double *taps);

enum { PAC_FILTERED = 0, PAC_PHASE = 1, PAC_AMPLITUDE = 2 };

/* tensorpac's band presets (pac_vec): "lres", "mres", "hres", "demon", "hulk" give 10, 30, 50, 70,
   100 bands; phase (kind PAC_PHASE): centres f = linspace(2, 20, n), bands [f - f/4, f + f/4];
   amplitude (PAC_AMPLITUDE): f = linspace(60, 160, n), bands [f - f/8, f + f/8]. Writes n x 2
   values into bands when it is not NULL; returns n, or 0 for an unknown name or kind. */
PACDEF size_t pac_band_preset(const char *name, int kind, double *bands);

/* Band-passes every signal of x (n_signals x n_times, C order) in every band (n_bands x 2,
   [low, high] Hz) with tensorpac's filters (section 4) and writes out (n_bands x n_signals x
   n_times): the filtered signals (what = PAC_FILTERED), their phase in [-pi, pi] (PAC_PHASE) or
   their amplitude (PAC_AMPLITUDE). Scratch from pool (NULL = a private pool). Errors, with a
   message in err (may be NULL) naming the band: PAC_ERR_ARG (NULL pointers, zero sizes, fs not
   positive and finite, a band outside 0 < low < high < fs / 2, cycles < 1, n_times < 4: too short
   for any filter), PAC_ERR_OVERFLOW, PAC_ERR_NOMEM, PAC_ERR_BUDGET. NaN in x gives NaN out. */
PACDEF pac_result pac_bandpass(tp_pool *pool, const double *x, size_t n_signals, size_t n_times, double fs,
                               const double *bands, size_t n_bands, int cycles, int what, double *out, char *err,
                               size_t errcap);

enum { PAC_MI_TORT = 0, PAC_MI_TENSORPAC = 1 };
enum { PAC_N_BINS = 18 };

/* Modulation index (section 5) of every (amplitude band, phase band, signal): pha is n_pha x
   n_signals x n_times phases in [-pi, pi], amp n_amp x n_signals x n_times amplitudes, out
   n_amp x n_pha x n_signals. Scratch (n_pha * n_signals * n_times bytes) from pool (NULL = a
   private pool). PAC_ERR_ARG (NULL pointers, zero sizes, a bad method), PAC_ERR_OVERFLOW,
   PAC_ERR_NOMEM, PAC_ERR_BUDGET; a phase that is NaN or outside [-pi, pi] counts in no bin. */
PACDEF pac_result pac_modulation_index(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                                       size_t n_signals, size_t n_times, int method, double *out, char *err,
                                       size_t errcap);

/* n_cuts swap-block cut points, uniform in [1, n_times), from seed (splitmix64; the same seed
   gives the same cuts everywhere). PAC_ERR_ARG for cuts NULL or n_times < 2. */
PACDEF pac_result pac_random_cuts(uint64_t seed, size_t n_times, size_t n_cuts, int64_t *cuts);
/* Swap-blocks surrogates (tensorpac's): for each cut c, the MI (method as in
   pac_modulation_index) of the phases with the amplitudes shifted circularly left by c
   (amp'[t] = amp[(t + c) mod n_times]; one cut for every band and signal), by index arithmetic on
   the unshifted amplitudes. Writes the surrogate cube (n_cuts x n_amp x n_pha x n_signals) only
   when surrogates is not NULL, and per cell their mean and standard deviation (ddof 0, for
   z = (mi - mean) / std) when mean / std are not NULL. PAC_ERR_ARG also for a cut outside
   [1, n_times). */
PACDEF pac_result pac_swap_blocks(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                                  size_t n_signals, size_t n_times, int method, const int64_t *cuts, size_t n_cuts,
                                  double *surrogates, double *mean, double *std, char *err, size_t errcap);

PACDEF const char *pac_result_string(pac_result result);
/* "pacgpu 0.0.1 cpu fft filters mi swap-blocks" - what this build contains. */
PACDEF const char *pac_build_info(void);

#ifdef __cplusplus
}
#endif

#endif /* PACGPU_H */

/* ============================================================================================ */
/* >>implementation                                                                             */
/* ============================================================================================ */
#if defined(PACGPU_IMPLEMENTATION) && !defined(PACGPU_IMPLEMENTATION_INCLUDED)
#define PACGPU_IMPLEMENTATION_INCLUDED

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef PAC_ASSERT
#define PAC_ASSERT(x) ((void)0)
#endif

#define PAC__PI 3.14159265358979323846264338327950288
#define PAC__MAX_FACTORS 64

struct pac_fft {
    size_t n;
    int n_stages;
    int radix[PAC__MAX_FACTORS]; /* the Stockham stages' radices, first stage first */
    double *tw; /* per stage of span s and radix r: (r - 1) * s real parts, then as many imaginary */
    /* Bluestein plans: the inner transform of length m, the chirp exp(-pi i k^2 / n) and the
       transform of the conjugate chirp's circular extension, each as real parts then imaginary */
    pac_fft *inner;
    size_t m;
    double *chirp, *bfft;
    tp_pool *pool, *own_pool;
};

PACDEF const char *pac_result_string(pac_result r)
{
    switch (r) {
    case PAC_OK: return "ok";
    case PAC_ERR_ARG: return "bad argument";
    case PAC_ERR_OVERFLOW: return "size overflow";
    case PAC_ERR_NOMEM: return "out of memory";
    case PAC_ERR_BUDGET: return "over the memory budget";
    }
    return "unknown result";
}

PACDEF const char *pac_build_info(void) { return "pacgpu 0.0.1 cpu fft filters mi swap-blocks"; }

static pac_result pac__from_tp(tp_result r)
{
    return r == TP_ERR_BUDGET ? PAC_ERR_BUDGET : r == TP_ERR_OVERFLOW ? PAC_ERR_OVERFLOW : PAC_ERR_NOMEM;
}

/* ---- >>fft ----------------------------------------------------------------------------------- */

/* Splits n into radices 4, 2, 3, 5 (4s first: fewer, cheaper stages); returns what is left
   (1 when n is 5-smooth). */
static size_t pac__factor(size_t n, int *fact, int *n_fact)
{
    static const int radices[4] = {4, 2, 3, 5};
    int i;
    *n_fact = 0;
    for (i = 0; i < 4; i++)
        while (n % (size_t)radices[i] == 0 && n > 1) {
            fact[(*n_fact)++] = radices[i];
            n /= (size_t)radices[i];
        }
    return n;
}

static size_t pac__next_smooth(size_t n)
{
    int fact[PAC__MAX_FACTORS], nf;
    while (pac__factor(n, fact, &nf) != 1) n++;
    return n;
}

/* exp(-2 pi i num / den) computed from the reduced angle, exact at the quarter turns */
static void pac__unit(size_t num, size_t den, double *re, double *im)
{
    double a;
    num %= den;
    if (num == 0) { *re = 1; *im = 0; return; }
    if (num * 4 == den) { *re = 0; *im = -1; return; }
    if (num * 2 == den) { *re = -1; *im = 0; return; }
    if (num * 4 == 3 * den) { *re = 0; *im = 1; return; }
    a = -2.0 * PAC__PI * (double)num / (double)den;
    *re = cos(a);
    *im = sin(a);
}

PACDEF size_t pac_fft_length(const pac_fft *plan) { return plan ? plan->n : 0; }

/* Doubles of scratch the split-format transform needs: a second pair of arrays for the
   Stockham ping-pong, or Bluestein's padded sequence and its inner transform's scratch. */
static size_t pac__split_scratch(const pac_fft *p)
{
    return p->inner ? 2 * p->m + pac__split_scratch(p->inner) : 2 * p->n;
}

PACDEF size_t pac_fft_scratch_doubles(const pac_fft *plan)
{
    return plan ? 2 * plan->n + pac__split_scratch(plan) : 0;
}

PACDEF void pac_fft_destroy(pac_fft *plan)
{
    tp_pool *own;
    if (!plan) return;
    own = plan->own_pool;
    pac_fft_destroy(plan->inner);
    tp_free(plan->pool, plan);
    if (own) tp_destroy(own);
}

/* One allocation: the struct, then the tables. */
static pac_result pac__fft_alloc(size_t n, size_t table_doubles, tp_pool *pool, pac_fft **out)
{
    size_t bytes;
    tp_result tr = TP_OK;
    pac_fft *p;
    if (!tp_size_mul(table_doubles, sizeof(double), &bytes) || !tp_size_add(bytes, sizeof *p + 64, &bytes))
        return PAC_ERR_OVERFLOW;
    p = (pac_fft *)tp_alloc_at(pool, bytes, TP_ZERO, __FILE__, __LINE__, &tr);
    if (!p) return pac__from_tp(tr);
    p->n = n;
    p->pool = pool;
    p->tw = (double *)(void *)((char *)p + (sizeof *p + 63) / 64 * 64);
    *out = p;
    return PAC_OK;
}

static void pac__fft_split(const pac_fft *p, double *re, double *im, double *scratch);

static pac_result pac__fft_make(size_t n, tp_pool *pool, pac_fft **out)
{
    int fact[PAC__MAX_FACTORS], nf, s;
    size_t rest = pac__factor(n, fact, &nf), j, m;
    pac_result r;
    pac_fft *p;
    if (rest == 1) { /* Stockham stages: span 1, r_0, r_0 r_1, ...; (r - 1) span twiddles each */
        size_t span = 1, off = 0, q, i;
        if ((r = pac__fft_alloc(n, 2 * n, pool, &p)) != PAC_OK) return r;
        p->n_stages = nf;
        memcpy(p->radix, fact, (size_t)nf * sizeof(int));
        for (s = 0; s < nf; s++) {
            size_t rad = (size_t)fact[s], k = (rad - 1) * span;
            for (q = 1; q < rad; q++)
                for (i = 0; i < span; i++)
                    pac__unit(q * i, rad * span, &p->tw[off + (q - 1) * span + i], &p->tw[off + k + (q - 1) * span + i]);
            off += 2 * k;
            span *= rad;
        }
        *out = p;
        return PAC_OK;
    }
    /* Bluestein: X_k = c_k * sum_j (x_j c_j) conj(c_{k-j}), a circular convolution of length m */
    m = pac__next_smooth(2 * n - 1);
    {
        size_t tables;
        if (!tp_size_mul(n + m, 2, &tables)) return PAC_ERR_OVERFLOW;
        if ((r = pac__fft_alloc(n, tables, pool, &p)) != PAC_OK) return r;
    }
    p->m = m;
    p->chirp = p->tw;
    p->bfft = p->tw + 2 * n;
    p->tw = NULL;
    if ((r = pac__fft_make(m, pool, &p->inner)) != PAC_OK) { pac_fft_destroy(p); return r; }
    for (j = 0; j < n; j++) /* angle pi k^2 / n, with k^2 reduced mod 2n first */
        pac__unit((size_t)(((unsigned long long)j * j) % (2ull * n)), 2 * n, &p->chirp[j], &p->chirp[n + j]);
    for (j = 0; j < n; j++) {
        p->bfft[j] = p->chirp[j];
        p->bfft[m + j] = -p->chirp[n + j];
        if (j) {
            p->bfft[m - j] = p->chirp[j];
            p->bfft[m + m - j] = -p->chirp[n + j];
        }
    }
    {
        tp_result tr = TP_OK;
        size_t bytes;
        double *scratch;
        if (!tp_size_mul(pac__split_scratch(p->inner), sizeof(double), &bytes)) { pac_fft_destroy(p); return PAC_ERR_OVERFLOW; }
        scratch = (double *)tp_alloc_at(pool, bytes, 0, __FILE__, __LINE__, &tr);
        if (!scratch) { pac_fft_destroy(p); return pac__from_tp(tr); }
        pac__fft_split(p->inner, p->bfft, p->bfft + m, scratch);
        tp_free(pool, scratch);
    }
    *out = p;
    return PAC_OK;
}

PACDEF pac_result pac_fft_create(size_t n, tp_pool *pool, pac_fft **plan)
{
    tp_pool *own = NULL;
    tp_result tr = TP_OK;
    pac_result r;
    if (plan) *plan = NULL;
    if (!plan || n == 0 || n > ((size_t)1 << 31)) return PAC_ERR_ARG;
    if (!pool && !(pool = own = tp_create(NULL, &tr))) return pac__from_tp(tr);
    r = pac__fft_make(n, pool, plan);
    if (r != PAC_OK) { if (own) tp_destroy(own); return r; }
    (*plan)->own_pool = own;
    return PAC_OK;
}

/* Stockham stages (autosort, decimation in time) of radix R: butterfly j = b span + i reads
   x[j + q n / R] (q < R), multiplies input q by the twiddle exp(-2 pi i q i / (R span)) and
   writes its R outputs to y[b R span + i + q span]. The first stage (span 1) has no twiddles.
   One function per radix keeps every value in a register. */
#if defined(__cplusplus) || !defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L
#define PAC__RESTRICT __restrict
#else
#define PAC__RESTRICT restrict
#endif
#define PAC__TWIDDLE(r, i, wr, wi) do { double t_ = (r) * (wr) - (i) * (wi); (i) = (r) * (wi) + (i) * (wr); (r) = t_; } while (0)

static void pac__stage2(size_t n, size_t span, const double *tw, const double *PAC__RESTRICT xr,
                        const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)
{
    size_t m = n / 2, blocks = m / span, b, i;
    const double *w1r = tw, *w1i = tw + span;
    for (b = 0; b < blocks; b++) {
        const double *sr = xr + b * span, *si = xi + b * span;
        double *dr = yr + 2 * b * span, *di = yi + 2 * b * span;
        for (i = 0; i < span; i++) {
            double r0 = sr[i], i0 = si[i], r1 = sr[i + m], i1 = si[i + m];
            if (span > 1) PAC__TWIDDLE(r1, i1, w1r[i], w1i[i]);
            dr[i] = r0 + r1; di[i] = i0 + i1;
            dr[i + span] = r0 - r1; di[i + span] = i0 - i1;
        }
    }
}

static void pac__stage4(size_t n, size_t span, const double *tw, const double *PAC__RESTRICT xr,
                        const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)
{
    size_t m = n / 4, blocks = m / span, b, i;
    const double *w1r = tw, *w2r = tw + span, *w3r = tw + 2 * span, *w1i = tw + 3 * span, *w2i = tw + 4 * span,
                 *w3i = tw + 5 * span;
    for (b = 0; b < blocks; b++) {
        const double *sr = xr + b * span, *si = xi + b * span;
        double *dr = yr + 4 * b * span, *di = yi + 4 * b * span;
        for (i = 0; i < span; i++) {
            double r0 = sr[i], i0 = si[i], r1 = sr[i + m], i1 = si[i + m];
            double r2 = sr[i + 2 * m], i2 = si[i + 2 * m], r3 = sr[i + 3 * m], i3 = si[i + 3 * m];
            double ar, ai, br, bi, cr, ci, er, ei;
            if (span > 1) {
                PAC__TWIDDLE(r1, i1, w1r[i], w1i[i]);
                PAC__TWIDDLE(r2, i2, w2r[i], w2i[i]);
                PAC__TWIDDLE(r3, i3, w3r[i], w3i[i]);
            }
            ar = r0 + r2; ai = i0 + i2; br = r0 - r2; bi = i0 - i2; /* the quarter turn is -i */
            cr = r1 + r3; ci = i1 + i3; er = r1 - r3; ei = i1 - i3;
            dr[i] = ar + cr; di[i] = ai + ci;
            dr[i + span] = br + ei; di[i + span] = bi - er;
            dr[i + 2 * span] = ar - cr; di[i + 2 * span] = ai - ci;
            dr[i + 3 * span] = br - ei; di[i + 3 * span] = bi + er;
        }
    }
}

static void pac__stage3(size_t n, size_t span, const double *tw, const double *PAC__RESTRICT xr,
                        const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)
{
    const double h = 0.86602540378443864676; /* sin(2 pi / 3) */
    size_t m = n / 3, blocks = m / span, b, i;
    const double *w1r = tw, *w2r = tw + span, *w1i = tw + 2 * span, *w2i = tw + 3 * span;
    for (b = 0; b < blocks; b++) {
        const double *sr = xr + b * span, *si = xi + b * span;
        double *dr = yr + 3 * b * span, *di = yi + 3 * b * span;
        for (i = 0; i < span; i++) {
            double r0 = sr[i], i0 = si[i], r1 = sr[i + m], i1 = si[i + m], r2 = sr[i + 2 * m], i2 = si[i + 2 * m];
            double pr, pi, qr, qi, mr, mi;
            if (span > 1) {
                PAC__TWIDDLE(r1, i1, w1r[i], w1i[i]);
                PAC__TWIDDLE(r2, i2, w2r[i], w2i[i]);
            }
            pr = r1 + r2; pi = i1 + i2; qr = r1 - r2; qi = i1 - i2;
            mr = r0 - 0.5 * pr; mi = i0 - 0.5 * pi;
            dr[i] = r0 + pr; di[i] = i0 + pi;
            dr[i + span] = mr + h * qi; di[i + span] = mi - h * qr;
            dr[i + 2 * span] = mr - h * qi; di[i + 2 * span] = mi + h * qr;
        }
    }
}

static void pac__stage5(size_t n, size_t span, const double *tw, const double *PAC__RESTRICT xr,
                        const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)
{
    const double c1 = 0.30901699437494742410, c2 = -0.80901699437494742410; /* cos(2 pi k / 5) */
    const double s1 = 0.95105651629515357212, s2 = 0.58778525229247312917;  /* sin(2 pi k / 5) */
    size_t m = n / 5, blocks = m / span, b, i;
    const double *w1r = tw, *w2r = tw + span, *w3r = tw + 2 * span, *w4r = tw + 3 * span;
    const double *w1i = tw + 4 * span, *w2i = tw + 5 * span, *w3i = tw + 6 * span, *w4i = tw + 7 * span;
    for (b = 0; b < blocks; b++) {
        const double *sr = xr + b * span, *si = xi + b * span;
        double *dr = yr + 5 * b * span, *di = yi + 5 * b * span;
        for (i = 0; i < span; i++) {
            double r0 = sr[i], i0 = si[i], r1 = sr[i + m], i1 = si[i + m], r2 = sr[i + 2 * m], i2 = si[i + 2 * m];
            double r3 = sr[i + 3 * m], i3 = si[i + 3 * m], r4 = sr[i + 4 * m], i4 = si[i + 4 * m];
            double ar, ai, br, bi, cr, ci, er, ei, a1r, a1i, a2r, a2i, b1r, b1i, b2r, b2i;
            if (span > 1) {
                PAC__TWIDDLE(r1, i1, w1r[i], w1i[i]);
                PAC__TWIDDLE(r2, i2, w2r[i], w2i[i]);
                PAC__TWIDDLE(r3, i3, w3r[i], w3i[i]);
                PAC__TWIDDLE(r4, i4, w4r[i], w4i[i]);
            }
            ar = r1 + r4; ai = i1 + i4; br = r1 - r4; bi = i1 - i4;
            cr = r2 + r3; ci = i2 + i3; er = r2 - r3; ei = i2 - i3;
            a1r = r0 + c1 * ar + c2 * cr; a1i = i0 + c1 * ai + c2 * ci;
            a2r = r0 + c2 * ar + c1 * cr; a2i = i0 + c2 * ai + c1 * ci;
            b1r = s1 * br + s2 * er; b1i = s1 * bi + s2 * ei;
            b2r = s2 * br - s1 * er; b2i = s2 * bi - s1 * ei;
            dr[i] = r0 + ar + cr; di[i] = i0 + ai + ci;
            dr[i + span] = a1r + b1i; di[i + span] = a1i - b1r;
            dr[i + 4 * span] = a1r - b1i; di[i + 4 * span] = a1i + b1r;
            dr[i + 2 * span] = a2r + b2i; di[i + 2 * span] = a2i - b2r;
            dr[i + 3 * span] = a2r - b2i; di[i + 3 * span] = a2i + b2r;
        }
    }
}

/* Forward transform of (re, im) in place, split format. The inverse (without 1/n) is the same
   call with re and im exchanged. scratch: pac__split_scratch(p) doubles. */
static void pac__fft_split(const pac_fft *p, double *re, double *im, double *scratch)
{
    size_t n = p->n, j, span = 1, off = 0;
    if (!p->inner) {
        double *xr = re, *xi = im, *yr = scratch, *yi = scratch + n, *t;
        int s;
        for (s = 0; s < p->n_stages; s++) {
            const double *w = p->tw + off;
            int R = p->radix[s];
            if (R == 4) pac__stage4(n, span, w, xr, xi, yr, yi);
            else if (R == 2) pac__stage2(n, span, w, xr, xi, yr, yi);
            else if (R == 3) pac__stage3(n, span, w, xr, xi, yr, yi);
            else pac__stage5(n, span, w, xr, xi, yr, yi);
            off += 2 * (size_t)(R - 1) * span;
            span *= (size_t)R;
            t = xr; xr = yr; yr = t;
            t = xi; xi = yi; yi = t;
        }
        if (xr != re) {
            memcpy(re, xr, n * sizeof(double));
            memcpy(im, xi, n * sizeof(double));
        }
        return;
    }
    {
        size_t m = p->m;
        double *ar = scratch, *ai = scratch + m, *inner = scratch + 2 * m;
        const double *cr = p->chirp, *ci = p->chirp + n, *br = p->bfft, *bi = p->bfft + m;
        for (j = 0; j < n; j++) {
            ar[j] = re[j] * cr[j] - im[j] * ci[j];
            ai[j] = re[j] * ci[j] + im[j] * cr[j];
        }
        memset(ar + n, 0, (m - n) * sizeof(double));
        memset(ai + n, 0, (m - n) * sizeof(double));
        pac__fft_split(p->inner, ar, ai, inner);
        for (j = 0; j < m; j++) {
            double x = ar[j] * br[j] - ai[j] * bi[j];
            ai[j] = ar[j] * bi[j] + ai[j] * br[j];
            ar[j] = x;
        }
        pac__fft_split(p->inner, ai, ar, inner); /* inverse */
        for (j = 0; j < n; j++) {
            re[j] = (ar[j] * cr[j] - ai[j] * ci[j]) / (double)m;
            im[j] = (ar[j] * ci[j] + ai[j] * cr[j]) / (double)m;
        }
    }
}

PACDEF void pac_fft_run(const pac_fft *p, double *data, int inverse, double *scratch)
{
    size_t n = p->n, j;
    double *re = scratch, *im = scratch + n;
    for (j = 0; j < n; j++) { re[j] = data[2 * j]; im[j] = data[2 * j + 1]; }
    if (inverse) pac__fft_split(p, im, re, scratch + 2 * n);
    else pac__fft_split(p, re, im, scratch + 2 * n);
    for (j = 0; j < n; j++) { data[2 * j] = re[j]; data[2 * j + 1] = im[j]; }
}

/* ---- >>filters ------------------------------------------------------------------------------- */

PACDEF size_t pac_fir_order(double fs, size_t n_times, double f_lo, int cycles)
{
    double q;
    size_t order;
    if (!(fs > 0) || !(f_lo > 0) || cycles < 1 || fs - fs != 0 || f_lo - f_lo != 0) return 0;
    q = floor(fs / f_lo);
    if (!(q < 1e15)) return 0;
    order = (size_t)cycles * (size_t)q;
    if (n_times < 3 * order) order = n_times ? (n_times - 1) / 3 : 0;
    return order;
}

/* numpy's sinc: sin(pi x) / (pi x) */
static double pac__sinc(double x)
{
    double y = PAC__PI * x;
    return y == 0 ? 1.0 : sin(y) / y;
}

PACDEF pac_result pac_fir_design(double fs, double f_lo, double f_hi, size_t order, double *taps)
{
    size_t n = order + 1, j, half;
    double f1, f2, centre, gr = 0, gi = 0, gain;
    if (!taps || order < 1 || !(fs > 0) || !(f_lo > 0) || !(f_hi > f_lo) || !(f_hi < fs / 2)) return PAC_ERR_ARG;
    f1 = f_lo / (fs / 2.0) / 2.0; /* band edges in cycles per sample */
    f2 = f_hi / (fs / 2.0) / 2.0;
    centre = (f_lo / (fs / 2.0) + f_hi / (fs / 2.0)) / 2.0;
    /* the least-squares band-pass: the ideal response 2 (f2 sinc(2 k f2) - f1 sinc(2 k f1)) at
       lags k from the centre (half-integer lags for an even number of taps) */
    half = n / 2;
    if (n % 2) {
        taps[half] = 2.0 * (f2 - f1);
        for (j = 1; j <= half; j++) {
            double k2 = 2.0 * (double)j, b = f2 * pac__sinc(k2 * f2) - f1 * pac__sinc(k2 * f1);
            taps[half - j] = taps[half + j] = 4.0 * b / 2.0;
        }
    } else {
        for (j = 0; j < half; j++) {
            double k2 = 2.0 * ((double)j + 0.5), b = f2 * pac__sinc(k2 * f2) - f1 * pac__sinc(k2 * f1);
            taps[half - 1 - j] = taps[half + j] = 0.5 * (4.0 * b);
        }
    }
    for (j = 0; j < n; j++) { /* numpy's hamming window */
        double m = (double)n, t = (1.0 - m) + 2.0 * (double)j;
        taps[j] *= 0.54 + 0.46 * cos(PAC__PI * t / (m - 1.0));
    }
    for (j = 0; j < n; j++) { /* gain 1 at the band centre */
        double a = -2.0 * PAC__PI * (centre / 2.0) * (double)j;
        gr += cos(a) * taps[j];
        gi += sin(a) * taps[j];
    }
    gain = hypot(gr, gi);
    for (j = 0; j < n; j++) taps[j] /= gain;
    return PAC_OK;
}

PACDEF size_t pac_band_preset(const char *name, int kind, double *bands)
{
    static const char *names[5] = {"lres", "mres", "hres", "demon", "hulk"};
    static const size_t counts[5] = {10, 30, 50, 70, 100};
    double lo = kind == PAC_PHASE ? 2.0 : 60.0, hi = kind == PAC_PHASE ? 20.0 : 160.0, div = kind == PAC_PHASE ? 4.0 : 8.0;
    size_t i, n = 0, j;
    if (!name || (kind != PAC_PHASE && kind != PAC_AMPLITUDE)) return 0;
    for (i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) n = counts[i];
    if (!n || !bands) return n;
    for (j = 0; j < n; j++) { /* numpy.linspace: j * step + start, the last exactly stop */
        double f = j + 1 == n ? hi : (double)j * ((hi - lo) / (double)(n - 1)) + lo;
        bands[2 * j] = f - f / div;
        bands[2 * j + 1] = f + f / div;
    }
    return n;
}

static pac_result pac__fail(char *err, size_t cap, pac_result r, const char *what)
{
    if (err && cap) snprintf(err, cap, "pacgpu: %s", what);
    return r;
}

/* Odd extension of one signal by p samples at each end (scipy's odd padding), as complex values
   with zero imaginary parts, zero-filled to len. */
static void pac__odd_extend(const double *x, size_t n, size_t p, double *buf, size_t len)
{
    size_t i;
    memset(buf, 0, 2 * len * sizeof(double));
    for (i = 0; i < p; i++) buf[2 * i] = 2.0 * x[0] - x[p - i];
    for (i = 0; i < n; i++) buf[2 * (p + i)] = x[i];
    for (i = 0; i < p; i++) buf[2 * (p + n + i)] = 2.0 * x[n - 1] - x[n - 2 - i];
}

/* scipy.signal.hilbert(x, len)[:n] in place over buf (len complex values, x real in its first n);
   then phase or amplitude into out. */
static void pac__hilbert(const pac_fft *plan, double *buf, size_t n, int what, double *out, double *scratch)
{
    size_t len = pac_fft_length(plan), j, pos_end = (len + 1) / 2;
    pac_fft_run(plan, buf, 0, scratch);
    for (j = 1; j < pos_end; j++) { buf[2 * j] *= 2.0; buf[2 * j + 1] *= 2.0; }
    for (j = len / 2 + 1; j < len; j++) buf[2 * j] = buf[2 * j + 1] = 0.0;
    pac_fft_run(plan, buf, 1, scratch);
    for (j = 0; j < n; j++) {
        double re = buf[2 * j] / (double)len, im = buf[2 * j + 1] / (double)len;
        out[j] = what == PAC_PHASE ? atan2(im, re) : hypot(re, im);
    }
}

PACDEF pac_result pac_bandpass(tp_pool *pool, const double *x, size_t n_signals, size_t n_times, double fs,
                               const double *bands, size_t n_bands, int cycles, int what, double *out, char *err,
                               size_t errcap)
{
    size_t b, s, t, pmax = 0, ext, lf, lh, doubles;
    pac_fft *pf = NULL, *ph = NULL;
    tp_pool *own = NULL;
    tp_result tr = TP_OK;
    pac_result r = PAC_OK;
    double *mem = NULL, *kernel, *spec, *work, *hbuf, *scratch;
    char what_msg[160];
    if (err && errcap) err[0] = 0;
    if (!x || !bands || !out || !n_signals || !n_bands) return pac__fail(err, errcap, PAC_ERR_ARG, "NULL pointer or zero size");
    if (what != PAC_FILTERED && what != PAC_PHASE && what != PAC_AMPLITUDE)
        return pac__fail(err, errcap, PAC_ERR_ARG, "what must be PAC_FILTERED, PAC_PHASE or PAC_AMPLITUDE");
    if (!(fs > 0) || fs - fs != 0) return pac__fail(err, errcap, PAC_ERR_ARG, "fs must be positive and finite");
    if (cycles < 1) return pac__fail(err, errcap, PAC_ERR_ARG, "cycles must be >= 1");
    if (n_times < 4) return pac__fail(err, errcap, PAC_ERR_ARG, "n_times < 4: too short for any filter");
    for (b = 0; b < n_bands; b++) {
        double lo = bands[2 * b], hi = bands[2 * b + 1];
        size_t o;
        if (!(lo > 0) || !(hi > lo) || !(hi < fs / 2)) {
            snprintf(what_msg, sizeof what_msg, "band %zu [%g, %g] Hz: want 0 < low < high < fs / 2 = %g", b, lo, hi, fs / 2);
            return pac__fail(err, errcap, PAC_ERR_ARG, what_msg);
        }
        o = pac_fir_order(fs, n_times, lo, cycles);
        if (o < 1) {
            snprintf(what_msg, sizeof what_msg, "band %zu [%g, %g] Hz: %zu samples are too short for its filter", b, lo, hi, n_times);
            return pac__fail(err, errcap, PAC_ERR_ARG, what_msg);
        }
        pmax = o > pmax ? o : pmax;
    }
    if (!tp_size_mul(pmax, 2, &ext) || !tp_size_add(ext, n_times, &ext) || ext > ((size_t)1 << 30) ||
        !tp_size_mul(n_signals * n_bands, n_times, &doubles) || n_signals > ((size_t)-1) / n_bands)
        return pac__fail(err, errcap, PAC_ERR_OVERFLOW, "the sizes overflow");
    lf = pac__next_smooth(ext);
    lh = pac__next_smooth(n_times);
    if (!pool && !(pool = own = tp_create(NULL, &tr))) return pac__fail(err, errcap, pac__from_tp(tr), "no memory for a pool");
    if ((r = pac_fft_create(lf, pool, &pf)) != PAC_OK || (r = pac_fft_create(lh, pool, &ph)) != PAC_OK) {
        pac__fail(err, errcap, r, "cannot make the FFT plans");
        goto done;
    }
    {   /* kernels |B|^2 per band, the signal's spectrum, a work copy, the Hilbert buffer, scratch */
        size_t sc = pac_fft_scratch_doubles(pf) > pac_fft_scratch_doubles(ph) ? pac_fft_scratch_doubles(pf) : pac_fft_scratch_doubles(ph);
        size_t total = n_bands * lf + 2 * lf + 2 * lf + 2 * lh + sc, bytes;
        if (!tp_size_mul(total, sizeof(double), &bytes)) { r = pac__fail(err, errcap, PAC_ERR_OVERFLOW, "the sizes overflow"); goto done; }
        mem = (double *)tp_alloc_at(pool, bytes, 0, __FILE__, __LINE__, &tr);
        if (!mem) { r = pac__fail(err, errcap, pac__from_tp(tr), "no memory for the filter bank"); goto done; }
        kernel = mem;
        spec = kernel + n_bands * lf;
        work = spec + 2 * lf;
        hbuf = work + 2 * lf;
        scratch = hbuf + 2 * lh;
    }
    for (b = 0; b < n_bands; b++) { /* taps into work (real parts), zero-padded, then |B|^2 */
        size_t o = pac_fir_order(fs, n_times, bands[2 * b], cycles);
        double *taps = hbuf; /* order + 1 <= n_times <= lh */
        pac_fir_design(fs, bands[2 * b], bands[2 * b + 1], o, taps);
        memset(work, 0, 2 * lf * sizeof(double));
        for (t = 0; t <= o; t++) work[2 * t] = taps[t];
        pac_fft_run(pf, work, 0, scratch);
        for (t = 0; t < lf; t++) kernel[b * lf + t] = work[2 * t] * work[2 * t] + work[2 * t + 1] * work[2 * t + 1];
    }
    for (s = 0; s < n_signals; s++) {
        pac__odd_extend(x + s * n_times, n_times, pmax, spec, lf);
        pac_fft_run(pf, spec, 0, scratch);
        for (b = 0; b < n_bands; b++) {
            const double *k = kernel + b * lf;
            double *dst = out + (b * n_signals + s) * n_times;
            for (t = 0; t < lf; t++) {
                work[2 * t] = spec[2 * t] * k[t];
                work[2 * t + 1] = spec[2 * t + 1] * k[t];
            }
            pac_fft_run(pf, work, 1, scratch);
            if (what == PAC_FILTERED) {
                for (t = 0; t < n_times; t++) dst[t] = work[2 * (pmax + t)] / (double)lf;
                continue;
            }
            memset(hbuf, 0, 2 * lh * sizeof(double));
            for (t = 0; t < n_times; t++) hbuf[2 * t] = work[2 * (pmax + t)] / (double)lf;
            pac__hilbert(ph, hbuf, n_times, what, dst, scratch);
        }
    }
done:
    tp_free(pool, mem);
    pac_fft_destroy(pf);
    pac_fft_destroy(ph);
    if (own) tp_destroy(own);
    return r;
}

/* ---- >>modulation index ---------------------------------------------------------------------- */

/* tensorpac's bin edges (numpy.linspace with the same arithmetic) and the bin of a phase, or
   PAC_N_BINS for none */
static void pac__bin_edges(double *edges)
{
    double eps = 2.0 * 2.220446049250313080847e-16, lo = -PAC__PI - eps, hi = PAC__PI + eps, step = (hi - lo) / PAC_N_BINS;
    int i;
    for (i = 0; i < PAC_N_BINS; i++) edges[i] = (double)i * step + lo;
    edges[PAC_N_BINS] = hi;
}

static unsigned char pac__bin_of(const double *edges, double v)
{
    int b;
    if (!(v >= edges[0]) || !(v < edges[PAC_N_BINS])) return PAC_N_BINS;
    b = (int)((v - edges[0]) / (edges[1] - edges[0]));
    if (b > PAC_N_BINS - 1) b = PAC_N_BINS - 1;
    while (b > 0 && v < edges[b]) b--;              /* the division may land one bin off */
    while (b < PAC_N_BINS - 1 && v >= edges[b + 1]) b++;
    return (unsigned char)b;
}

/* 1 + sum p log p / log(n_bins) over the positive p = v / sum v */
static double pac__kl_mi(const double *v, int n)
{
    double total = 0, acc = 0;
    int j;
    for (j = 0; j < n; j++) total += v[j];
    if (!(total > 0)) return 0.0;
    for (j = 0; j < n; j++) {
        double p = v[j] / total;
        if (p > 0) acc += p * log(p);
    }
    return 1.0 + acc / log((double)PAC_N_BINS);
}

/* The MI of one series: phase bins bq, amplitudes as read from index shift on, circularly (a
   swap-blocks surrogate by index arithmetic: as'[t] = as[(t + shift) mod n]). */
static double pac__mi_cell(const unsigned char *bq, const uint32_t *count, const double *as, size_t n, size_t shift,
                           int method, const size_t *pooled)
{
    /* Phases move slowly, so neighbouring samples mostly hit the same bin: four interleaved
       histograms keep those additions from waiting on each other. */
    double h[4][PAC_N_BINS + 1], sum[PAC_N_BINS + 1], v[PAC_N_BINS];
    size_t t, wrap = n - shift;
    int j, k = 0;
    memset(h, 0, sizeof h);
    for (t = 0; t + 4 <= wrap; t += 4) {
        h[0][bq[t]] += as[t + shift];
        h[1][bq[t + 1]] += as[t + 1 + shift];
        h[2][bq[t + 2]] += as[t + 2 + shift];
        h[3][bq[t + 3]] += as[t + 3 + shift];
    }
    for (; t < wrap; t++) h[0][bq[t]] += as[t + shift];
    for (; t < n; t++) h[1][bq[t]] += as[t - wrap];
    for (j = 0; j <= PAC_N_BINS; j++) sum[j] = (h[0][j] + h[1][j]) + (h[2][j] + h[3][j]);
    for (j = 0; j < PAC_N_BINS; j++) {
        if (method == PAC_MI_TORT) v[k++] = count[j] ? sum[j] / (double)count[j] : 0.0;
        else if (pooled[j]) v[k++] = sum[j] / (double)pooled[j];
    }
    return pac__kl_mi(v, k);
}

/* Phase bins of every sample (n_series series of n samples), each series' bin counts (after the
   bins, at *counts; they do not change with the amplitude or its shift) and the pooled counts.
   NULL when the pool refuses; free the result with tp_free. */
static unsigned char *pac__bins(tp_pool *pool, const double *pha, size_t n_series, size_t n, size_t *pooled,
                                uint32_t **counts, tp_result *tr)
{
    double edges[PAC_N_BINS + 1];
    size_t cells = n_series * n, off = (cells + 63) / 64 * 64, bytes, t, s;
    unsigned char *bins;
    if (!tp_size_mul(n_series, (PAC_N_BINS + 1) * sizeof(uint32_t), &bytes) || !tp_size_add(bytes, off, &bytes) ||
        n > UINT32_MAX) {
        *tr = TP_ERR_OVERFLOW;
        return NULL;
    }
    bins = (unsigned char *)tp_alloc_at(pool, bytes, 0, __FILE__, __LINE__, tr);
    if (!bins) return NULL;
    *counts = (uint32_t *)(void *)(bins + off);
    pac__bin_edges(edges);
    memset(pooled, 0, PAC_N_BINS * sizeof(size_t));
    memset(*counts, 0, n_series * (PAC_N_BINS + 1) * sizeof(uint32_t));
    for (s = 0; s < n_series; s++)
        for (t = 0; t < n; t++) {
            unsigned char b = bins[s * n + t] = pac__bin_of(edges, pha[s * n + t]);
            (*counts)[s * (PAC_N_BINS + 1) + b]++;
            if (b < PAC_N_BINS) pooled[b]++;
        }
    return bins;
}

/* What pac_modulation_index and pac_swap_blocks share: the checks, a pool (*own when private),
   the phase bins. On failure nothing is held. */
static pac_result pac__mi_begin(tp_pool **pool, tp_pool **own, const double *pha, size_t n_pha, const double *amp,
                                size_t n_amp, size_t n_signals, size_t n_times, int method, unsigned char **bins,
                                uint32_t **counts, size_t *pooled, char *err, size_t errcap)
{
    size_t cells, t;
    tp_result tr = TP_OK;
    *own = NULL;
    if (!pha || !amp || !n_pha || !n_amp || !n_signals || !n_times)
        return pac__fail(err, errcap, PAC_ERR_ARG, "NULL pointer or zero size");
    if (method != PAC_MI_TORT && method != PAC_MI_TENSORPAC)
        return pac__fail(err, errcap, PAC_ERR_ARG, "method must be PAC_MI_TORT or PAC_MI_TENSORPAC");
    if (!tp_size_mul(n_pha, n_signals, &cells) || !tp_size_mul(cells, n_times, &cells) ||
        !tp_size_mul(n_amp, n_signals, &t) || !tp_size_mul(t, n_times, &t))
        return pac__fail(err, errcap, PAC_ERR_OVERFLOW, "the sizes overflow");
    if (!*pool && !(*pool = *own = tp_create(NULL, &tr))) return pac__fail(err, errcap, pac__from_tp(tr), "no memory for a pool");
    *bins = pac__bins(*pool, pha, n_pha * n_signals, n_times, pooled, counts, &tr);
    if (!*bins) {
        if (*own) tp_destroy(*own);
        return pac__fail(err, errcap, pac__from_tp(tr), "no memory for the phase bins");
    }
    return PAC_OK;
}

PACDEF pac_result pac_modulation_index(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                                       size_t n_signals, size_t n_times, int method, double *out, char *err,
                                       size_t errcap)
{
    size_t q, a, s, pooled[PAC_N_BINS];
    unsigned char *bins;
    uint32_t *counts;
    tp_pool *own;
    pac_result r;
    if (err && errcap) err[0] = 0;
    if (!out) return pac__fail(err, errcap, PAC_ERR_ARG, "out is NULL");
    r = pac__mi_begin(&pool, &own, pha, n_pha, amp, n_amp, n_signals, n_times, method, &bins, &counts, pooled, err, errcap);
    if (r != PAC_OK) return r;
    for (a = 0; a < n_amp; a++)
        for (q = 0; q < n_pha; q++)
            for (s = 0; s < n_signals; s++)
                out[(a * n_pha + q) * n_signals + s] =
                    pac__mi_cell(bins + (q * n_signals + s) * n_times, counts + (q * n_signals + s) * (PAC_N_BINS + 1),
                                 amp + (a * n_signals + s) * n_times, n_times, 0, method, pooled);
    tp_free(pool, bins);
    if (own) tp_destroy(own);
    return PAC_OK;
}

/* ---- >>surrogates ----------------------------------------------------------------------------- */

/* splitmix64: a small, seedable, portable generator */
static uint64_t pac__next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

PACDEF pac_result pac_random_cuts(uint64_t seed, size_t n_times, size_t n_cuts, int64_t *cuts)
{
    uint64_t st = seed, range, limit;
    size_t k;
    if (!cuts || n_times < 2) return PAC_ERR_ARG;
    range = (uint64_t)(n_times - 1);
    limit = UINT64_MAX - UINT64_MAX % range;
    for (k = 0; k < n_cuts; k++) { /* uniform in [1, n_times) without modulo bias */
        uint64_t r;
        do r = pac__next(&st); while (r >= limit);
        cuts[k] = (int64_t)(1 + r % range);
    }
    return PAC_OK;
}

PACDEF pac_result pac_swap_blocks(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                                  size_t n_signals, size_t n_times, int method, const int64_t *cuts, size_t n_cuts,
                                  double *surrogates, double *mean, double *std, char *err, size_t errcap)
{
    size_t q, a, s, k, n_out, pooled[PAC_N_BINS];
    unsigned char *bins;
    uint32_t *counts;
    tp_pool *own;
    pac_result r;
    if (err && errcap) err[0] = 0;
    if (!cuts || !n_cuts || n_times < 2)
        return pac__fail(err, errcap, PAC_ERR_ARG, "no cuts, or n_times < 2");
    for (k = 0; k < n_cuts; k++)
        if (cuts[k] < 1 || (uint64_t)cuts[k] >= (uint64_t)n_times) {
            char msg[120];
            snprintf(msg, sizeof msg, "cut %zu is %lld: cuts must lie in [1, n_times = %zu)", k, (long long)cuts[k], n_times);
            return pac__fail(err, errcap, PAC_ERR_ARG, msg);
        }
    if (!tp_size_mul(n_amp, n_pha, &n_out) || !tp_size_mul(n_out, n_signals, &n_out) || !tp_size_mul(n_out, n_cuts, &k))
        return pac__fail(err, errcap, PAC_ERR_OVERFLOW, "the sizes overflow");
    r = pac__mi_begin(&pool, &own, pha, n_pha, amp, n_amp, n_signals, n_times, method, &bins, &counts, pooled, err, errcap);
    if (r != PAC_OK) return r;
    for (a = 0; a < n_amp; a++)
        for (q = 0; q < n_pha; q++)
            for (s = 0; s < n_signals; s++) {
                size_t cell = (a * n_pha + q) * n_signals + s;
                double m = 0, m2 = 0; /* Welford over the surrogates of this cell */
                for (k = 0; k < n_cuts; k++) {
                    double v = pac__mi_cell(bins + (q * n_signals + s) * n_times,
                                            counts + (q * n_signals + s) * (PAC_N_BINS + 1),
                                            amp + (a * n_signals + s) * n_times, n_times, (size_t)cuts[k], method, pooled);
                    double d = v - m;
                    if (surrogates) surrogates[k * n_out + cell] = v;
                    m += d / (double)(k + 1);
                    m2 += d * (v - m);
                }
                if (mean) mean[cell] = m;
                if (std) std[cell] = sqrt(m2 / (double)n_cuts);
            }
    tp_free(pool, bins);
    if (own) tp_destroy(own);
    return PAC_OK;
}

#endif /* PACGPU_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
MIT License

Copyright (c) 2026 the tensorpool authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
