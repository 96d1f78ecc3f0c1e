/* pacgpu.h 1.0.0 - phase-amplitude coupling that fits in memory and agrees with tensorpac - MIT license (end of file)

   Do this:
       #define PACGPU_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation. It includes
   tensorpool.h, the collection's runtime: define TENSORPOOL_IMPLEMENTATION in one file too.

   QUICK START (compiles as C99 and as C++; link -lm -lpthread)
       #define TENSORPOOL_IMPLEMENTATION
       #define PACGPU_IMPLEMENTATION
       #include "pacgpu.h"
       #include <math.h>
       #include <stdio.h>
       #include <stdlib.h>

       int main(void)
       {
           enum { S = 4, N = 2048 };                        // 4 signals of 2048 samples at 512 Hz
           double pha[10 * 2], amp[10 * 2], *x = (double *)malloc(S * N * sizeof(double));
           double *mi = (double *)malloc(10 * 10 * S * sizeof(double)), *z = (double *)malloc(10 * 10 * S * sizeof(double));
           pac_desc desc = TP_DEFAULTS;                     // zero = defaults: Tort MI, 3 / 6 cycles
           pac_output out = TP_DEFAULTS;
           tp_error err;
           size_t i, n_pha = 0, n_amp = 0;
           unsigned long long rng = 1;
           double p = 0;
           for (i = 0; i < S * N; i++) {                    // a jittery 6 Hz phase drives 80 Hz amplitude
               rng = rng * 6364136223846793005ull + 1442695040888963407ull;
               p += 2 * 3.14159265358979 * 6 / 512.0 * (1 + 4 * ((double)(rng >> 11) / 9007199254740992.0 - 0.5));
               x[i] = sin(p) + (1 + sin(p)) * 0.3 * sin(2 * 3.14159265358979 * 80 * (double)i / 512.0);
           }
           pac_band_preset("lres", PAC_PHASE, pha, &n_pha, NULL);     // tensorpac's 10 x 10 bands
           pac_band_preset("lres", PAC_AMPLITUDE, amp, &n_amp, NULL);
           desc.fs = 512; desc.pha_bands = pha; desc.n_pha = n_pha; desc.amp_bands = amp; desc.n_amp = n_amp;
           desc.surrogates = PAC_SURR_SWAP_BLOCKS; desc.n_perm = 20;
           out.pac = mi; out.z = z;                         // (n_amp, n_pha, n_signals), tensorpac's order
           if (pac_run(&desc, x, TP_F64, S, N, NULL, &out, &err) != TP_OK) fprintf(stderr, "%s\n", err.message);
           else printf("MI of (6 Hz, 80 Hz) in signal 0: %.4f (z %.1f)\n", mi[(2 * 10 + 2) * S], z[(2 * 10 + 2) * S]);
           free(x); free(mi); free(z);
           return 0;
       }

   CONTENTS
       1. Options       3. Band-pass filtering    5. Surrogates and statistics    7. Precision
       2. FFT           4. Measures               5a. Event-related PAC           8. CUDA
                                                  6. Memory plan and threads
                                                                                  9. What it does NOT do

   Phase-amplitude coupling over a grid of phase x amplitude bands with surrogate statistics: each
   of tensorpac's six measures, surrogates and normalisations, the numbers tensorpac computes (to
   1e-11), from one FFT per signal shared by every band, surrogates
   by index arithmetic, in buffers whose size it states in advance and fits to a budget. pac_plan
   tells beforehand how a run will use memory; the lower-level calls (pac_fft_*, pac_fir_design,
   pac_bandpass, pac_modulation_index, pac_swap_blocks) expose each stage.

   1. COMPILE-TIME OPTIONS (define before including; "impl" = only where the implementation is built)
       PAC_ASSERT(x)              impl     internal consistency asserts (default: none)
       PAC_STATIC                 global   make every function static (with TP_STATIC for the pool)
       PACDEF                     global   linkage of the public functions (default: extern)
       PAC_CACHE_BYTES            impl     cache a worker's pass of amplitudes should fit (section 6)
                                           [1 MiB]
       PAC_NO_VECTOR_EXTENSIONS   impl     plain C loops only (no GCC/clang vector types, no AVX2 or
                                           AVX-512 variants picked at run time); same results
       PACGPU_USE_CUDA            impl     the CUDA backend (section 8): compile the implementation
                                           with nvcc, e.g. nvcc -gencode arch=compute_90,code=sm_90
                                           -gencode arch=compute_90,code=compute_90 file.cu -lcufft
       PAC_TEST_CUDA_CELLS        impl     test hook: 0 = the device's surrogate cells always by the
                                           column kernel, 1 = the runs kernels where they fit [1]
       PAC_TEST_CUDA_ROWS_ONCE    impl     test hook: 1 = the runs kernel stores each row once [only
                                           for long signals]
       PAC_TEST_CUDA_RUN_BANDS    impl     test hook: amplitude bands a runs-kernel block holds [32]
       PAC_TEST_CUDA_CHUNK_CAP    impl     test hook: signals a device chunk holds at most [none]
       PAC_CUDA_EMULATOR          impl     test hook: the CUDA runtime is an emulator (tests/cuda_emu.h)
                                           that defines PAC_EMU_LAUNCH, PAC_EMU_LAUNCH_COOPERATIVE and
                                           PAC_EMU_DYNAMIC_SHARED; kernels then run on the CPU
       tensorpool.h's options apply too: TP_NO_THREADS (one thread), TP_CPU_FEATURES_MASK.

   2. FFT
   Any length n >= 1. Lengths whose prime factors are 2, 3 and 5 run a Stockham (autosort)
   transform in stages of radix 8, 4, 2, 3, 5 on separate real and imaginary arrays, with twiddles
   computed directly in double (no recurrences, so no error growth with n); any other length runs
   Bluestein's chirp-z algorithm on the next 2^a 3^b 5^c length >= 2n - 1. Error against a
   long-double DFT: at most 1.3e-15 relative (max norm) for every n <= 64 and 13 lengths up to
   4099, primes included (tested). A plan is read-only after creation and may be shared by
   threads; each call brings its own scratch (pac_fft_scratch_doubles). Data are interleaved
   complex doubles (re, im); the forward transform uses exp(-2 pi i jk / n), the inverse
   exp(+2 pi i jk / n) without the 1/n. Inside the pipeline the stages run on split arrays,
   vectorised over consecutive butterflies with the widest vectors the CPU has (AVX-512, AVX2,
   SSE2; each lane computes exactly what the plain code does).

   3. BAND-PASS FILTERING (tensorpac's, to the last bits that matter)
   Filter order for a band [lo, hi] Hz: cycles * floor(fs / lo) (tensorpac: 3 cycles for phase
   bands, 6 for amplitude bands), capped at (n_times - 1) / 3. Taps: tensorpac's fir1, i.e. the
   least-squares band-pass of order + 1 taps (the truncated ideal band-pass response), times a
   Hamming window, scaled to gain 1 at the band centre. Zero-phase filtering equal to scipy's
   filtfilt(b, 1, x, padlen=order) with odd padding, computed as: odd-extend each signal once by
   the largest order of all bands, one FFT, then per band a product with |B(f)|^2 and one inverse
   FFT, trimmed. This is exact, not an approximation: filtfilt's output on the trimmed span
   depends only on the odd extension within `order` samples of the ends, which a longer extension
   shares, and the circular product never wraps into that span. Phase and amplitude: scipy's
   hilbert on the filtered signal zero-padded to the next 2^a 3^b 5^c length (tensorpac's
   hilbertm), then atan2 and hypot. Against tensorpac (20 bands, 2 x 2048 samples at 512 Hz,
   tested): taps within 1.7e-16, filtered signals and amplitudes within 1.2e-15 of their largest
   value, phases within 3e-13 rad (where the amplitude is tiny, phase is ill-conditioned). Bands
   are explicit (n, 2) arrays or tensorpac's presets (pac_band_preset, equal bit for bit to
   tensorpac's numpy vectors). In the pipeline two bands share each inverse transform (S (K_a +
   i K_b): the real part is band a, the imaginary part band b, since both are real) and each
   Hilbert transform pair, always pairing bands (2i, 2i + 1) so that the rounding does not depend
   on the plan. Amplitude = sqrt(y^2 + h^2) (within 1 ulp of numpy's hypot). desc.edges drops
   samples at both ends of the filtered signals, phases and amplitudes before anything is
   measured (tensorpac's edges: filtered at full length, then sliced); surrogates shift within
   what is left, and the PLV's second Hilbert transforms see only that. Equal to tensorpac's
   filterfit(..., edges) (tested). desc.dcomplex = PAC_DCOMPLEX_WAVELET replaces filter and
   Hilbert by tensorpac's Morlet wavelet at each band's centre f (desc.width cycles, 7 unless
   asked: numpy's taps t = arange(-w st / 2, w st / 2, 1 / fs), st = w / (2 pi f), a exp(-t^2 /
   (2 st^2)) exp(2 pi i f t), a = 1 / sqrt(st sqrt(pi))), convolved as np.convolve does (zero
   padding, the n samples its slice keeps), by one product and inverse transform per band:
   equal to tensorpac's dcomplex='wavelet' (tested, widths 7 and 5).

   4. MEASURES
   desc.measure picks one of tensorpac's six (its idpac's first digit), each equal to tensorpac's
   own output on the same signal to rounding (section 5 gives the tested figures):
     PAC_MVL    |sum_t amp e^(i pha)| / n (Canolty 2006)
     PAC_MI     the modulation index below, in desc.method's form (the default measure)
     PAC_HR     heights ratio (Lakatos 2005): the MI's histogram with tensorpac's pooled counts,
                p = the bins' means over their sum (bins empty in the whole call left out),
                (max p - min p) / max p
     PAC_NDPAC  ndPAC (Ozkurt 2012): the amplitude z-scored (ddof 1), |sum_t z e^(i pha)| / n, and 0
                where |sum|^2 <= 2 n erfinv(1 - p)^2, p = desc.p_threshold (tensorpac passes its p
                there). tensorpac always runs it as idpac (4, 0, 0): so does pac_run, logging that it
                dropped the surrogates or normalisation asked; statistics outputs are TP_ERR_ARG
     PAC_PLV    |sum_t e^(-i pha_amp) e^(i pha)| / n, where pha_amp is the angle of the Hilbert
                transform of the amplitude envelope taken twice: tensorpac's filterfit takes it and
                its fit takes it again (a quirk kept so that the numbers are tensorpac's)
     PAC_GCPAC  Gaussian-copula mutual information in bits (Ince 2017): sin and cos of the phase
                and the amplitude each copula-normalised (ranks to ndtri((r + 1) / (n + 1)), ties in
                sample order), covariance / (n - 1), entropies from Cholesky factors, no demeaning
                or bias correction, as tensorpac. sin and cos are h / r and y / r of the analytic
                signal, where tensorpac takes sin and cos of its angle: an ulp apart. The ranks are
                tensorpac's except among values equal to the last ulp, which happen: sin is flat
                near a quarter turn, so samples within ~3e-7 rad of one round to the same double.
                numpy's sort orders such ties as its algorithm happens to, pacgpu in sample order;
                the cells of that series then differ (tensorpac's benchmark input: 35 of 57,600
                cells, by up to 2.5e-5 bits, 2.7 % of the smallest of them).
   tensorpac's PreferredPhase: out.binned (n_bins x the cells) holds each bin's mean amplitude
   (its sum over the bin's count pooled over every phase band and signal of the call) over their
   sum, out.pp the centre of the first largest bin, -pi + (j + 1/2) 2 pi / K; both need those
   pooled counts (desc.measure PAC_HR, or PAC_MI with PAC_MI_TENSORPAC: tensorpac's PreferredPhase
   is its heights ratio's histogram) and are equal to tensorpac's with 12 and 72 bins (tested). A
   bin empty in the whole call is 0 here; tensorpac drops its row (and its preferred phases then
   point one bin off past it).
   MVL, ndPAC, PLV and the copula are sums over time of amplitude times a phase vector: their
   surrogates are the same sums with the amplitude's index shifted, in double whatever
   desc.precision says. MI and HR come from phase-binned histograms:

   The modulation index: K = desc.n_bins phase bins (18 unless asked; 2 to PAC_MAX_BINS) with
   tensorpac's edges: numpy.linspace(-pi - 2 eps, pi + 2 eps, K + 1) (eps =
   DBL_EPSILON), a value v in bin j when edge[j] <= v < edge[j + 1]. Amplitudes are summed per
   bin in one pass (a histogram, never one-hot products). PAC_MI_TORT (the default; Tort 2010,
   per series): the mean amplitude of each bin of that series, p = means / their sum, MI = 1 +
   sum p log p / log K (empty bins count 0). PAC_MI_TENSORPAC (what tensorpac's Pac(idpac=(2,
   ...)) returns): each bin's amplitude sum divided by the number of samples in that bin pooled
   over every phase band and signal of the call, bins empty everywhere dropped, then the same
   formula; a series without samples in a bin that others fill contributes 0 there (tensorpac
   would give NaN). Output (n_amp, n_pha, n_signals), tensorpac's order. The phase bin comes from
   (y, h) without atan2 where a rough angle lies well inside a bin, by atan2 near an edge: the
   bins are those of atan2 (tested). MI = sum p log(K p) / log K (the formula above, without
   its cancellation), with a log accurate to 2 ulp. A signal with a NaN sample has no phase bins:
   all its cells are NaN. Against tensorpac from the raw signal (pac_run, tested): MI within
   2e-12 relative, Tort MI 7e-12.

   4a. GIVEN PHASES AND AMPLITUDES (pac_fit, pac_erpac_fit; tensorpac's fit)
   The same measures, surrogates and statistics from phases and amplitudes you computed (e.g.
   tensorpac's or pac_bandpass's), (n_bands, n_signals, n_times) each, as tensorpac's
   Pac.fit(pha, amp) and EventRelatedPac.fit take them. What tensorpac's fit does to them, done
   here too: the phase vector is (cos pha, sin pha) (its exp(1j pha)); the PLV first takes the
   angle of the amplitudes' Hilbert transform (hilbertm, once: filterfit's first one is yours to
   take); ndPAC z-scores the amplitude, the copula copula-normalises sin, cos and the amplitude.
   The MI's and HR's bins are section 4's; a phase that is NaN or outside [-pi, pi] counts in no
   bin (tensorpac's digitize does the same), a NaN amplitude makes its cells NaN. Equal to
   tensorpac's fit on every measure with surrogates and normalisations (tested).

   5. SURROGATES AND STATISTICS
   Surrogates destroy the phase-amplitude relation while keeping each series' own structure:
     PAC_SURR_SWAP_BLOCKS  tensorpac's: the amplitude cut at c in [1, n_times) and its two blocks
                           swapped (amp'[t] = amp[(t + c) mod n]); one cut per surrogate for every
                           band and signal; desc.cuts replays given cuts (e.g. tensorpac's).
     PAC_SURR_TIME_LAG     tensorpac's: the phase rolled by c in [0, n_times). Rolling the phase
                           by c pairs the same samples as shifting the amplitude by c, so this is
                           computed as a shift too (c = 0 allowed).
     PAC_SURR_SWAP_EPOCHS  tensorpac's swap_pha_amp: surrogate k pairs each signal's amplitude
                           with the phase of signal perm_k[s] (a uniform random permutation).
   All by index arithmetic on the unshifted data; random draws from splitmix64 seeded with
   desc.seed (the same on every platform). Per cell: surrogate mean and std (ddof 0, Welford in
   surrogate order), z = (mi - mean) / std (tensorpac's normalisation 4), p = fraction of
   surrogates >= mi (at least 1 / n_perm, no correction). out.norm: tensorpac's normalisations
   (desc.norm, idpac's third digit): pac - mean, pac / mean, (pac - mean) / mean, z; without
   surrogates it is pac itself (tensorpac ignores the normalisation then: logged). desc.pairs
   replays given swap-epochs pairings (tensorpac's permutations). pvalues: tensorpac's
   infer_pvalues(p_threshold, mcp) on the signal-averaged measure and surrogates (the surrogates
   summed in 64.64-bit fixed point, so the sum does not depend on which worker adds first, and
   any measure's scale fits): PAC_MCP_MAXSTAT, the fraction of surrogates whose largest cell
   reaches the cell; PAC_MCP_FDR and _BONFERRONI, the fraction of the cell's own surrogates that
   reach it, corrected over the cells as mne's fdr_correction (Benjamini-Hochberg) and
   bonferroni_correction do; 1 where not significant, at least 1 / n_perm. Equal to tensorpac's
   (with mne) on 200 replayed surrogates, all three (tested). Against tensorpac's 20 surrogates (tested): within 3e-12 relative,
   z within 6e-12, maxstat p-values equal; every measure with every surrogate kind and
   normalisation (10 surrogates): within 1.1e-12 of the largest value, maxstat p-values equal.

   5a. EVENT-RELATED PAC (pac_erpac; tensorpac's EventRelatedPac)
   The coupling across epochs at each time, (n_amp, n_pha, n_times'). PAC_ERPAC_CIRCULAR: the
   circular-linear correlation of Voytek 2013, rho = sqrt((rxc^2 + rxs^2 - 2 rxc rxs rcs) /
   (1 - rcs^2)) from Pearson correlations across the epochs, with tensorpac's quirk kept: its
   sin-cos correlation rcs of a phase band sums over every phase band's cos (its einsum
   'i...j, k...j->i...'; Voytek's own for a single band). p-values 1 - chi2.cdf(n rho^2, 2),
   corrected over all cells as tensorpac does by default (mne's FDR; Bonferroni with desc.mcp
   PAC_MCP_BONFERRONI). PAC_ERPAC_GC: sin, cos and amplitude copula-normalised across the epochs
   at each time, then the copula MI of section 4; its p-values from desc.n_perm permutations of
   the epochs' phases (drawn from desc.seed, or desc.pairs), maxstat at desc.p_threshold, as
   tensorpac (whose permutations come from numpy's global generator and cannot be replayed).
   With few epochs the phases at a time may leave sin and cos with collinear ranks: that cell
   is NaN (tensorpac raises LinAlgError). desc.smooth = w (gc): each window of 2 w + 1 times' MI
   over all their epochs, each time the mean of the windows that hold it (tensorpac's smooth),
   the permutations smoothed alike; it keeps each time's copula sums, (1 + n_perm) x 2 x n_amp x
   n_pha x n_times doubles more.
   Pass 0 keeps every epoch's phase vectors and amplitudes ((2 n_pha + n_amp) x n_epochs x n_times
   doubles); pass 1 takes the times, each on its own, so the results are the same bits whatever
   the workers. Against tensorpac on 40 epochs (tested): both methods within 4e-13 of the
   largest value (smoothed too), the corrected p-values within 5e-13.

   6. MEMORY PLAN AND THREADS
   Per worker: the signal's spectrum and a band pair (4 x the padded length), the Hilbert pair,
   FFT scratch, the phase bins of one signal (n_pha x n_times bytes), the amplitudes of the bands
   of a pass (n_times x bands, rounded up to 8), four small histograms. Shared: |B(f)|^2 of every
   band (half spectra), the FFT plans, the surrogates' shifts, and when planned the phase bins of
   every signal (n_pha x n_signals x n_times bytes: tensorpac's pooled counts need all of them
   before any MI, and swap-epochs pairs signals). pac_plan picks the most workers (up to
   desc.n_threads; 0 = the CPUs this process may use), keeps the bins if they fit (else a first
   pass recomputes the pooled counts), then the most amplitude bands per pass, so that the total
   fits the budget, and for the MI and HR no more than fit PAC_CACHE_BYTES (every surrogate reads
   the pass's amplitudes once per phase band: from cache, the surrogates of 20,000-sample signals
   run 1.4x faster); plan.bytes is what the run takes from the pool, to the byte (tested against
   the pool's measured peak; pac_estimate_bytes returns it). Nothing grows with n_perm, and
   nothing with n_signals unless the bins are kept. The surrogate cube is written only into
   caller memory you provide. The workers are tensorpool's team; they take whole signals; a
   signal's results depend on it alone and every sum runs in a fixed order, so outputs are bit
   for bit the same whatever the plan or the thread count (tested); between CPUs they can differ
   in the last bit only where a compiler fuses multiply-adds. A worker thread that cannot start
   is reported to the logger (desc.log, or the pool's) and in out.info; the others do its share.
   Over several processes (MPI ranks, cluster jobs) each holding some of the signals: every
   signal's results depend on it alone except tensorpac's pooled bin counts and p-values. Each
   process counts its signals (pac_count_bins), the counts summed go to every process as
   desc.pooled_counts; each runs pac_run on its signals with out.sums (the surrogates' sums, exact
   in 64.64 fixed point), the sums are added (pac_sums_merge, any order: exact) and pac_pvalues
   turns them and every signal's out.pac into what one process gives, bit for bit (tested;
   examples/pac.c built with -DPAC_MPI is such a program). Swap-epochs pairs signals across
   processes and needs them in one.

   7. PRECISION
   desc.precision = TP_F32 (MI and HR; the other measures compute in double whatever it says)
   stores the amplitudes and sums the histograms in floats (the
   surrogate loop moves half the bytes; MI within 3e-9 absolute, z within 1e-4 of the float64 run
   on tensorpac's reference); the filters, FFTs and Hilbert transforms stay in double in both
   modes (their float error would move phases by up to 1e-4 rad, bins with them).

   8. CUDA (PACGPU_USE_CUDA; desc.backend, desc.device, desc.device_fraction)
   With the backend built, pac_run takes a CUDA device when desc.backend is PAC_BACKEND_CUDA, or
   PAC_BACKEND_AUTO and a device answers (PAC_BACKEND_CPU keeps it on the CPU; PAC_BACKEND_CUDA
   without a device, or in a build without the backend, is TP_ERR_DEVICE). The device computes
   as the TP_F32 mode does (filters and FFTs in double, amplitudes and histograms in floats),
   whatever desc.precision says: that CPU path is its oracle, within 5e-5 of the MI or HR (the
   mean vector length, ndPAC and the PLV: float amplitudes and unit vectors, double sums,
   against the CPU's float64 within 5e-5 of the largest value; an ndPAC cell within float
   rounding of its threshold may fall on the other side of it). Signals go
   to the device in chunks (at most 64, or a sixteenth of them past 1,024, so progress comes and
   cancelling works a chunk at a time); surrogates are index arithmetic on unshifted amplitudes in
   a fixed order (no atomics), so device results do not depend on the chunk. Device memory comes
   from a budget of desc.device_fraction (0.8) of the free device memory; a chunk that does not
   fit it shrinks (logged, and out.info->device.chunk says so), and below one signal the run is
   TP_ERR_BUDGET. Every signal's phases stay on the device for the whole run, whatever the chunk:
   a byte a sample and phase band (their bins), 8 more for the mean vector length, ndPAC and the
   PLV (unit vectors as float pairs). Every CUDA and cuFFT call is checked (TP_ERR_DEVICE with
   the step and CUDA's message). Host memory comes from desc.pool as on the CPU path: the filters' design and one
   block staging a chunk; pac_plan picks the largest chunk whose staging fits the budget, and
   plan.bytes is the most the run takes from the pool (exactly that when the surrogate cube is
   asked, less otherwise: pvalues' max-stat sums are added on the device). out.info->device gets
   the device's times by CUDA events, the memory it held, the chunk and the kernel that took the
   surrogates' cells.

   9. WHAT IT DOES NOT DO
   No real-input FFT (real signals ride in pairs in complex transforms instead). On the device,
   every measure but the Gaussian copula (18-bin MI and HR) of one set of signals, every sample,
   filtered: desc.x_amp, desc.edges, other n_bins, wavelets, out.binned and out.pp and the
   Gaussian copula run on the CPU under PAC_BACKEND_AUTO, and are TP_ERR_ARG with
   PAC_BACKEND_CUDA.
*/
#ifndef PACGPU_H
#define PACGPU_H

#if defined(PAC_STATIC) && !defined(TP_STATIC)
#define TP_STATIC
#endif
#include "tensorpool.h"

#include <stddef.h>
#include <stdint.h>

#define PAC_VERSION_MAJOR 1
#define PAC_VERSION_MINOR 0
#define PAC_VERSION_PATCH 0

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

/* ---- FFT -------------------------------------------------------------------------------------- */

typedef struct pac_fft pac_fft;

/* A plan for complex transforms of length n (1 <= n <= 2^31), its tables from pool (NULL = a
   private pool), into *out. TP_ERR_ARG (out NULL, n = 0 or n > 2^31), TP_ERR_NOMEM,
   TP_ERR_BUDGET. */
PACDEF tp_result pac_fft_create(tp_pool *pool, size_t n, pac_fft **out, tp_error *err);
PACDEF void pac_fft_destroy(pac_fft *plan);
/* The bytes pac_fft_create takes from the pool for length n, at its peak. */
PACDEF tp_result pac_fft_estimate_bytes(size_t n, size_t *bytes, tp_error *err);
PACDEF size_t pac_fft_length(const pac_fft *plan);
/* Doubles of scratch one call of pac_fft_run needs. */
PACDEF size_t pac_fft_scratch_doubles(const pac_fft *plan);
/* Transforms data (n interleaved complex values) in place: forward (inverse = 0) or unscaled
   inverse (inverse = 1). scratch: pac_fft_scratch_doubles(plan) doubles, not overlapping data. */
PACDEF void pac_fft_run(const pac_fft *plan, double *data, int inverse, double *scratch);

/* ---- filters and bands ------------------------------------------------------------------------ */

/* tensorpac's filter order for a band starting at f_lo Hz: cycles * floor(fs / f_lo), capped at
   (n_times - 1) / 3; 0 for arguments that give no filter (non-positive or non-finite numbers). */
PACDEF size_t pac_fir_order(double fs, size_t n_times, double f_lo, int cycles);
/* The order + 1 taps of tensorpac's fir1 band-pass for [f_lo, f_hi] Hz (section 3).
   TP_ERR_ARG unless 0 < f_lo < f_hi < fs / 2, order >= 1 and taps != NULL. */
PACDEF tp_result pac_fir_design(double fs, double f_lo, double f_hi, size_t order, double *taps, tp_error *err);

/* What a band-pass gives: the filtered signal, its phase, its amplitude (and which bands a
   preset is for: PAC_PHASE or PAC_AMPLITUDE). */
typedef enum pac_signal_kind {
    PAC_FILTERED = 0, PAC_PHASE = 1, PAC_AMPLITUDE = 2, PAC_SIGNAL__FORCE_INT = 0x7fffffff
} pac_signal_kind;

/* tensorpac's band presets (pac_vec): "lres", "mres", "hres", "demon", "hulk" give 10, 30, 50, 70,
   100 bands; phase (kind PAC_PHASE): centres f = linspace(2, 20, n), bands [f - f/4, f + f/4];
   amplitude (PAC_AMPLITUDE): f = linspace(60, 160, n), bands [f - f/8, f + f/8]. Writes n x 2
   values into bands when it is not NULL and n into *n_bands (may be NULL). TP_ERR_ARG for an
   unknown name (the message lists the known ones) or kind. */
PACDEF tp_result pac_band_preset(const char *name, pac_signal_kind kind, double *bands, size_t *n_bands, tp_error *err);

/* Band-passes every signal of x (n_signals x n_times, C order) in every band (n_bands x 2,
   [low, high] Hz) with tensorpac's filters (section 3) and writes out (n_bands x n_signals x
   n_times): the filtered signals (what = PAC_FILTERED), their phase in [-pi, pi] (PAC_PHASE) or
   their amplitude (PAC_AMPLITUDE). Scratch from pool (NULL = a private pool): at most
   pac_bandpass_estimate_bytes. Errors naming the band or argument: TP_ERR_ARG (NULL pointers,
   zero sizes, fs not positive and finite, a band outside 0 < low < high < fs / 2, cycles < 1,
   n_times < 4: too short for any filter), TP_ERR_OVERFLOW, TP_ERR_NOMEM, TP_ERR_BUDGET. NaN in x
   gives NaN out. */
PACDEF tp_result pac_bandpass(tp_pool *pool, const double *x, size_t n_signals, size_t n_times, double fs,
                              const double *bands, size_t n_bands, int cycles, pac_signal_kind what, double *out,
                              tp_error *err);
/* The bytes pac_bandpass takes from the pool for these sizes, bands and cycles. */
PACDEF tp_result pac_bandpass_estimate_bytes(size_t n_signals, size_t n_times, double fs, const double *bands,
                                             size_t n_bands, int cycles, size_t *bytes, tp_error *err);
/* pac_bandpass with tensorpac's Morlet wavelet at each band's centre (width cycles, 0 = 7; section
   3) in place of the filter and Hilbert transform: tensorpac's filter with dcomplex='wavelet'
   (PAC_FILTERED: the real part, as its float64 cast keeps). Errors as pac_bandpass's; TP_ERR_ARG
   also for a negative width or a wavelet longer than the sizes allow. */
PACDEF tp_result pac_wavelet(tp_pool *pool, const double *x, size_t n_signals, size_t n_times, double fs,
                             const double *bands, size_t n_bands, double width, pac_signal_kind what, double *out,
                             tp_error *err);
/* The bytes pac_wavelet takes from the pool for these sizes, bands and width. */
PACDEF tp_result pac_wavelet_estimate_bytes(size_t n_signals, size_t n_times, double fs, const double *bands,
                                            size_t n_bands, double width, size_t *bytes, tp_error *err);

/* ---- modulation index and surrogates on given phases and amplitudes --------------------------- */

/* Which modulation index (section 4); a desc field, so 0 is the default (Tort's). */
typedef enum pac_mi { PAC_MI_DEFAULT = 0, PAC_MI_TORT = 1, PAC_MI_TENSORPAC = 2, PAC_MI__FORCE_INT = 0x7fffffff } pac_mi;
enum { PAC_N_BINS = 18, PAC_MAX_BINS = 120 }; /* the default number of phase bins, and the most */

/* Modulation index (section 4) of every (amplitude band, phase band, signal): pha is n_pha x
   n_signals x n_times phases in [-pi, pi], amp n_amp x n_signals x n_times amplitudes, out
   n_amp x n_pha x n_signals. Scratch from pool (NULL = a private pool): pac_mi_estimate_bytes
   with n_cuts 0. TP_ERR_ARG (NULL pointers, zero sizes, a bad method), TP_ERR_OVERFLOW,
   TP_ERR_NOMEM, TP_ERR_BUDGET; a phase that is NaN or outside [-pi, pi] counts in no bin. */
PACDEF tp_result pac_modulation_index(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                                      size_t n_signals, size_t n_times, pac_mi method, double *out, tp_error *err);

/* n_cuts swap-block cut points, uniform in [1, n_times), from seed (splitmix64; the same seed
   gives the same cuts everywhere). TP_ERR_ARG for cuts NULL or n_times < 2. */
PACDEF tp_result pac_random_cuts(uint64_t seed, size_t n_times, size_t n_cuts, int64_t *cuts, tp_error *err);

/* Swap-blocks surrogates (tensorpac's): for each cut c, the MI (method as in
   pac_modulation_index) of the phases with the amplitudes shifted circularly left by c
   (amp'[t] = amp[(t + c) mod n_times]; one cut for every band and signal), by index arithmetic on
   the unshifted amplitudes. Writes the surrogate cube (n_cuts x n_amp x n_pha x n_signals) only
   when surrogates is not NULL, and per cell their mean and standard deviation (ddof 0, for
   z = (mi - mean) / std) when mean / std are not NULL. Scratch: pac_mi_estimate_bytes.
   TP_ERR_ARG also for a cut outside [1, n_times). */
PACDEF tp_result pac_swap_blocks(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                                 size_t n_signals, size_t n_times, pac_mi method, const int64_t *cuts, size_t n_cuts,
                                 double *surrogates, double *mean, double *std, tp_error *err);

/* The bytes pac_modulation_index (n_cuts = 0) or pac_swap_blocks (n_cuts > 0) takes from the
   pool for these sizes. */
PACDEF tp_result pac_mi_estimate_bytes(size_t n_pha, size_t n_amp, size_t n_signals, size_t n_times, pac_mi method,
                                       size_t n_cuts, size_t *bytes, tp_error *err);

/* ---- the whole pipeline in one call ---------------------------------------------------------- */

typedef enum pac_surrogates {
    PAC_SURR_NONE = 0, PAC_SURR_SWAP_BLOCKS = 1, PAC_SURR_TIME_LAG = 2, PAC_SURR_SWAP_EPOCHS = 3,
    PAC_SURR__FORCE_INT = 0x7fffffff
} pac_surrogates;
/* What couples (tensorpac's idpac, first digit); a desc field, so 0 is the default (the MI). */
typedef enum pac_measure {
    PAC_MEASURE_DEFAULT = 0,
    PAC_MVL = 1,                /* mean vector length (Canolty 2006): |sum amp e^(i pha)| / n */
    PAC_MI = 2,                 /* modulation index, in desc.method's form (section 4) */
    PAC_HR = 3,                 /* heights ratio (Lakatos 2005): (max - min) / max of the binned amplitude */
    PAC_NDPAC = 4,              /* normalised direct PAC (Ozkurt 2012): tensorpac runs it without surrogates */
    PAC_PLV = 5,                /* phase-locking value of the phase and the amplitude's phase (Penny 2008) */
    PAC_GCPAC = 6,              /* Gaussian-copula mutual information, in bits (Ince 2017) */
    PAC_MEASURE__FORCE_INT = 0x7fffffff
} pac_measure;
/* How out.norm corrects the coupling by its surrogates (tensorpac's idpac, third digit). */
typedef enum pac_norm {
    PAC_NORM_NONE = 0,          /* out.norm = out.pac */
    PAC_NORM_SUBTRACT = 1,      /* pac - surrogate mean */
    PAC_NORM_DIVIDE = 2,        /* pac / surrogate mean */
    PAC_NORM_SUBTRACT_DIVIDE = 3, /* (pac - surrogate mean) / surrogate mean */
    PAC_NORM_ZSCORE = 4,        /* (pac - surrogate mean) / surrogate std (ddof 0) */
    PAC_NORM__FORCE_INT = 0x7fffffff
} pac_norm;
/* How the complex signal of a band is made (tensorpac's dcomplex) */
typedef enum pac_dcomplex {
    PAC_DCOMPLEX_HILBERT = 0,   /* tensorpac's FIR band-pass, zero-phase, then the Hilbert transform */
    PAC_DCOMPLEX_WAVELET = 1,   /* a Morlet wavelet at the band's centre (desc.width cycles) */
    PAC_DCOMPLEX__FORCE_INT = 0x7fffffff
} pac_dcomplex;
/* How out.pvalues corrects for the many cells (tensorpac's infer_pvalues' mcp). */
typedef enum pac_mcp {
    PAC_MCP_MAXSTAT = 0,        /* maximum statistics over the cells */
    PAC_MCP_FDR = 1,            /* Benjamini-Hochberg over the cells' own p-values */
    PAC_MCP_BONFERRONI = 2,     /* Bonferroni over the cells' own p-values */
    PAC_MCP__FORCE_INT = 0x7fffffff
} pac_mcp;
typedef enum pac_backend {
    PAC_BACKEND_AUTO = 0, PAC_BACKEND_CPU = 1, PAC_BACKEND_CUDA = 2, PAC_BACKEND__FORCE_INT = 0x7fffffff
} pac_backend;

/* What to compute. Zero-initialise (TP_DEFAULTS): a zero field means its default, in brackets. */
typedef struct pac_desc {
    tp_pool *pool;              /* scratch memory and the budget the plan fits [NULL: a private pool, no budget] */
    double fs;                  /* sampling rate in Hz (required) */
    const double *pha_bands;    /* n_pha x 2 [low, high] Hz (required; pac_band_preset gives tensorpac's) */
    size_t n_pha;
    const double *amp_bands;    /* n_amp x 2 [low, high] Hz (required) */
    size_t n_amp;
    int pha_cycles, amp_cycles; /* filter lengths in cycles of the low edge [3 and 6, tensorpac's] */
    pac_dcomplex dcomplex;      /* [PAC_DCOMPLEX_HILBERT] or PAC_DCOMPLEX_WAVELET (section 3) */
    double width;               /* the Morlet wavelet's width in cycles [7, tensorpac's] */
    pac_measure measure;        /* what couples (section 4) [PAC_MI] */
    const void *x_amp;          /* the amplitude from these signals (n_signals x n_times, x's dtype), the phase
                                   from x: tensorpac's x_amp, coupling between channels [NULL: x] */
    size_t edges;               /* samples dropped at each end after filtering, before anything is measured
                                   (tensorpac's edges: its filter transients) [0] */
    size_t smooth;              /* pac_erpac's gc method: each time's MI over the times within this many samples
                                   too, averaged over the windows that hold it (tensorpac's smooth) [0: none] */
    pac_mi method;              /* the MI's form: [PAC_MI_TORT] or PAC_MI_TENSORPAC (tensorpac's idpac 2) */
    int n_bins;                 /* phase bins of the MI and the heights ratio (tensorpac's n_bins), 2 .. PAC_MAX_BINS [18] */
    pac_surrogates surrogates;  /* PAC_SURR_SWAP_BLOCKS, _TIME_LAG or _SWAP_EPOCHS [none] */
    size_t n_perm;              /* number of surrogates [0] */
    uint64_t seed;              /* of the surrogates' generator [0] */
    const int64_t *cuts;        /* n_perm explicit shifts instead of random ones (swap-blocks, time-lag) [NULL] */
    const uint32_t *pairs;      /* n_perm x n_signals explicit pairings instead of random ones (swap-epochs):
                                   surrogate k pairs signal s's amplitude with the phase of signal
                                   pairs[k n_signals + s] (e.g. tensorpac's permutations) [NULL] */
    pac_norm norm;              /* what out.norm holds [PAC_NORM_NONE] */
    const uint64_t *pooled_counts; /* n_bins: tensorpac's pooled phase-bin counts given, e.g. pac_count_bins of every
                                   process's signals summed, so that a process measuring some of the signals
                                   gets what one process measuring all would (section 6) [NULL: counted here] */
    pac_mcp mcp;                /* out.pvalues' correction [PAC_MCP_MAXSTAT] */
    double p_threshold;         /* significance level of pvalues, and ndPAC's threshold [0.05] */
    tp_dtype precision;         /* TP_F32: amplitudes, histograms and their sums in floats (section 7) [TP_F64] */
    int n_threads;              /* workers, at most TP_MAX_THREADS [0 = the CPUs this process may use] */
    tp_progress_fn progress;    /* signals done of (passes x n_signals), one call at a time [NULL] */
    void *user;                 /* passed to progress */
    tp_logger log;              /* fallbacks: a worker that could not start, a smaller device chunk [the pool's] */
    pac_backend backend;        /* [AUTO]: CUDA when built with it and a device answers; CPU; CUDA (section 8) */
    int device;                 /* the CUDA device's ordinal [0] */
    double device_fraction;     /* of the device's free memory its buffers may take [0.8] */
} pac_desc;

/* How a run uses memory: chosen by pac_plan to fit a budget, reported, and accepted back by
   pac_run. Results are bit for bit the same whatever the plan. */
typedef struct pac_plan_info {
    size_t n_threads;           /* workers, each holding one signal at a time */
    size_t amp_bands_per_pass;  /* amplitude bands each worker holds at once (n_times x this doubles) */
    int keep_phase_bins;        /* 1: the phase bins of all signals are kept (n_pha x n_signals x n_times bytes;
                                   on the device with the CUDA backend) */
    int two_passes;             /* 1: a first pass over the phase bands (pooled counts, swap-epochs) */
    size_t bytes;               /* what the run takes from the pool, to the byte (CUDA: at most; section 8) */
    size_t budget;              /* the budget it was planned for (0: none) */
} pac_plan_info;

/* What a run on a CUDA device did (section 8). */
typedef struct pac_device_info {
    double ms[4];               /* by CUDA events: the phases (their filters, bins and counts), the amplitudes
                                   (their filters), the cells, and the whole from the first copy up to the
                                   last copy down (allocation and FFT planning excluded) */
    size_t bytes;               /* device memory held at most: the buffers and cuFFT's work area */
    size_t budget;              /* the device budget: desc.device_fraction of the free memory */
    size_t chunk;               /* signals a chunk */
    int runs_kernel;            /* the surrogates' cells by 1: the runs kernel (rows twice), 2: the runs kernel
                                   (rows once, long signals), 0: the column kernel */
} pac_device_info;

/* What a run did. */
typedef struct pac_run_info {
    pac_plan_info plan;         /* the plan it followed */
    int n_workers;              /* workers that ran: plan.n_threads, fewer if a thread could not start (logged) */
    int on_device;              /* 1: the run went to a CUDA device, and device says how */
    pac_device_info device;
} pac_run_info;

/* Where results go (caller's memory); zero-initialise it: NULL skips an output. Cells are
   (n_amp, n_pha, n_signals), tensorpac's order. */
typedef struct pac_output {
    double *pac;                /* the coupling by desc.measure (tensorpac's Pac.pac) (required) */
    double *norm;               /* pac corrected by its surrogates as desc.norm says: what tensorpac's
                                   Pac.filterfit returns (pac itself for PAC_NORM_NONE) */
    double *z;                  /* (pac - surrogate mean) / surrogate std (ddof 0): tensorpac's normalisation 4 */
    double *surr_mean, *surr_std;
    double *p;                  /* per cell: fraction of surrogates >= pac, at least 1 / n_perm (no correction) */
    double *pvalues;            /* n_amp x n_pha: tensorpac's Pac.pvalues, infer_pvalues(p_threshold, desc.mcp) on the
                                   signal-averaged pac and surrogates */
    double *surrogates;         /* n_perm x n_amp x n_pha x n_signals: the cube itself (the memory hog) */
    double *binned;             /* n_bins x n_amp x n_pha x n_signals: tensorpac's PreferredPhase binned amplitude,
                                   each bin's mean amplitude (pooled counts) over their sum (section 4) */
    double *pp;                 /* the preferred phase, radians: the centre of the first largest bin of binned */
    uint64_t *sums;             /* n_perm x n_amp x n_pha x 2: each surrogate's values summed over these signals,
                                   exact (64.64 fixed point, high word first): what pvalues come from. Processes
                                   holding some of the signals each add theirs (pac_sums_merge) and pac_pvalues
                                   turns the total into pvalues (section 6) */
    pac_run_info *info;         /* what the run did [NULL] */
} pac_output;

/* Chooses a plan for n_signals x n_times samples that fits budget bytes (0: the pool's budget,
   or none): the most workers (up to desc.n_threads), then the most amplitude bands per pass.
   TP_ERR_BUDGET with the smallest size it would need when nothing fits; the checks of pac_run. */
PACDEF tp_result pac_plan(const pac_desc *desc, size_t n_signals, size_t n_times, size_t budget, pac_plan_info *plan,
                          tp_error *err);
/* The bytes pac_run (without a plan of its own) takes from desc.pool: pac_plan's with the pool's
   budget. */
PACDEF tp_result pac_estimate_bytes(const pac_desc *desc, size_t n_signals, size_t n_times, size_t *bytes,
                                    tp_error *err);
/* Band-passes, phases, amplitudes, MI, surrogates and their statistics of x (n_signals x n_times,
   C order, dtype TP_F64 or TP_F32), with plan (NULL: pac_plan with the pool's budget). Errors
   naming the argument: TP_ERR_ARG (NULL pointers, zero sizes, a dtype other than TP_F32 or
   TP_F64, a band outside 0 < low < high < fs / 2 or too short a signal for its filter,
   statistics asked without surrogates, a cut out of range, a plan that does not fit desc),
   TP_ERR_OVERFLOW, TP_ERR_NOMEM, TP_ERR_BUDGET (also the device's, with the CUDA backend),
   TP_ERR_CANCELLED, TP_ERR_DEVICE (desc.backend CUDA without a device or backend, a failed CUDA
   call); the outputs are then undefined. A signal with a NaN gives NaN in all its cells. */
PACDEF tp_result pac_run(const pac_desc *desc, const void *x, tp_dtype dtype, size_t n_signals, size_t n_times,
                         const pac_plan_info *plan, const pac_output *out, tp_error *err);
/* tensorpac's Pac.fit: what pac_run measures, from given phases pha (desc.n_pha x n_signals x
   n_times, radians) and amplitudes amp (desc.n_amp x n_signals x n_times) instead of filtered
   signals (section 4a). desc's filter fields (fs, bands, cycles, dcomplex, width) are not read;
   desc.x_amp, desc.edges and PAC_BACKEND_CUDA are TP_ERR_ARG. The plan is pac_run's default
   one (the pool's budget). Errors as pac_run's; TP_ERR_ARG also for series of fewer than 2
   samples. */
PACDEF tp_result pac_fit(const pac_desc *desc, const double *pha, const double *amp, size_t n_signals, size_t n_times,
                         const pac_output *out, tp_error *err);
/* The bytes pac_fit takes from desc.pool for these sizes. */
PACDEF tp_result pac_fit_estimate_bytes(const pac_desc *desc, size_t n_signals, size_t n_times, size_t *bytes, tp_error *err);

/* ---- event-related PAC ----------------------------------------------------------------------- */

/* tensorpac's EventRelatedPac methods */
typedef enum pac_erpac_method {
    PAC_ERPAC_CIRCULAR = 0,     /* circular-linear correlation across epochs (Voytek 2013) */
    PAC_ERPAC_GC = 1,           /* Gaussian-copula mutual information across epochs, bits (Ince 2017) */
    PAC_ERPAC__FORCE_INT = 0x7fffffff
} pac_erpac_method;

/* Where pac_erpac's results go (caller's memory), n_amp x n_pha x n_times' (the samples left
   after desc.edges), tensorpac's order. Zero-initialise it: NULL skips an output. */
typedef struct pac_erpac_output {
    double *erpac;              /* the coupling across epochs at each time (required) */
    double *pvalues;            /* tensorpac's EventRelatedPac.pvalues. circular: 1 - chi2.cdf(n_epochs rho^2, 2)
                                   per cell, corrected over the cells by mne's FDR (Bonferroni when desc.mcp is
                                   PAC_MCP_BONFERRONI); gc: maxstat over desc.n_perm epoch permutations of the
                                   phase at desc.p_threshold [NULL] */
    double *surrogates;         /* gc with permutations: n_perm x n_amp x n_pha x n_times', each permutation's map
                                   (tensorpac's EventRelatedPac.surrogates; n_perm times the output's memory) [NULL] */
} pac_erpac_output;

/* Event-related PAC (section 5a): x holds n_epochs epochs of n_times samples (TP_F64 or TP_F32);
   the phase and amplitude of each band and epoch as pac_run makes them (desc: fs, bands,
   cycles, dcomplex, width, edges, x_amp, n_threads, pool, progress), then at every time the
   coupling across the epochs. desc.n_perm > 0 (gc only) draws permutations of the epochs from
   desc.seed, or replays desc.pairs, with desc.surrogates PAC_SURR_SWAP_EPOCHS or NONE. Memory:
   every epoch's phases and amplitudes, (2 n_pha + n_amp) x n_epochs x n_times doubles, and a
   worker's buffers. Errors as pac_run's; TP_ERR_ARG for fewer than 3 epochs or a method or
   output desc or out does not allow. */
PACDEF tp_result pac_erpac(const pac_desc *desc, pac_erpac_method method, const void *x, tp_dtype dtype, size_t n_epochs,
                           size_t n_times, const pac_erpac_output *out, tp_error *err);
/* tensorpac's EventRelatedPac.fit: pac_erpac from given phases (desc.n_pha x n_epochs x n_times,
   radians) and amplitudes (desc.n_amp x n_epochs x n_times), as pac_fit (section 4a). */
PACDEF tp_result pac_erpac_fit(const pac_desc *desc, pac_erpac_method method, const double *pha, const double *amp,
                               size_t n_epochs, size_t n_times, const pac_erpac_output *out, tp_error *err);

/* ---- one analysis over several processes (section 6) ------------------------------------------ */

/* tensorpac's pooled phase-bin counts (n_bins values, every phase band and signal) of these
   signals, as pac_run with desc would count them: summed over the processes that share the
   signals, they go back into desc.pooled_counts. Errors as pac_run's. */
PACDEF tp_result pac_count_bins(const pac_desc *desc, const void *x, tp_dtype dtype, size_t n_signals, size_t n_times,
                                uint64_t *counts, tp_error *err);
/* dst += src for n_entries of out.sums (pairs of words), exactly */
PACDEF void pac_sums_merge(uint64_t *dst, const uint64_t *src, size_t n_entries);
/* out.pvalues from every signal's measure (pac: n_amp x n_pha x n_signals, all signals) and the
   merged out.sums of every process: what one pac_run over all the signals gives. TP_ERR_ARG for
   NULL pointers or a desc without surrogates. */
PACDEF tp_result pac_pvalues(const pac_desc *desc, const double *pac, size_t n_signals, const uint64_t *sums, double *pvalues,
                             tp_error *err);

/* "pacgpu 1.0.0 cpu avx2" or "... cuda" - what this build contains (and the CPU's kernels). */
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

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PAC_ASSERT
#define PAC_ASSERT(x) ((void)0)
#endif

/* Per-element logic that the CUDA kernels share with the CPU path (and its tests) */
#if defined(PACGPU_USE_CUDA)
#if !defined(PAC_CUDA_EMULATOR)
#if !defined(__CUDACC__)
#error "pacgpu.h: with PACGPU_USE_CUDA the implementation must be compiled by nvcc (a .cu file)"
#endif
#include <cuda_runtime.h>
#include <cufft.h>
/* a kernel whose threads never wait for each other, and one whose threads do (__syncthreads,
   shuffles): the same launch on a GPU, not in the emulator */
#define PAC__LAUNCH(kernel, blocks, shmem, stream, args) kernel<<<blocks, PAC__CUDA_THREADS, shmem, stream>>> args
#define PAC__LAUNCH_COOPERATIVE(kernel, blocks, threads, shmem, stream, args) kernel<<<blocks, threads, shmem, stream>>> args
#define PAC__DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#else /* the emulator's launches (option PAC_CUDA_EMULATOR) */
#define PAC__LAUNCH(kernel, blocks, shmem, stream, args) PAC_EMU_LAUNCH(kernel, blocks, PAC__CUDA_THREADS, shmem, stream, args)
#define PAC__LAUNCH_COOPERATIVE(kernel, blocks, threads, shmem, stream, args) \
    PAC_EMU_LAUNCH_COOPERATIVE(kernel, blocks, threads, shmem, stream, args)
#define PAC__DYNAMIC_SHARED(type, name) PAC_EMU_DYNAMIC_SHARED(type, name)
#endif
#if defined(__CUDACC__)
#define PAC__UNROLL _Pragma("unroll")
#define PAC__FORCEINLINE __forceinline__
#else
#define PAC__UNROLL
#define PAC__FORCEINLINE inline
#endif
#define PAC_HD __host__ __device__
#else
#define PAC_HD
#endif

/* AVX2 and AVX-512 variants of the inner loops, picked at run time (tp_cpu_features) */
#if defined(TP_X86_TARGETS) && !defined(PAC_NO_VECTOR_EXTENSIONS)
#define PAC__X86_WIDE 1
#endif

#define PAC__PI 3.14159265358979323846264338327950288

/* A kernel family's widest member this CPU runs: name_avx512, name_avx2 (x86 with vector
   extensions), then name_v2 (16-byte vectors), else name_plain */
#if defined(PAC__X86_WIDE)
#define PAC__PICK_WIDE(name)                                     \
    if (tp_cpu_features() & TP_CPU_AVX512F) return name##_avx512; \
    if (tp_cpu_features() & TP_CPU_AVX2) return name##_avx2;
#else
#define PAC__PICK_WIDE(name)
#endif
#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
#define PAC__PICK(name) PAC__PICK_WIDE(name) return name##_v2;
/* A kernel family's members, KERNEL(name, vector bytes, attributes): the ones PAC__PICK picks */
#if defined(PAC__X86_WIDE)
#define PAC__KERNELS(KERNEL, name)                                                                 \
    KERNEL(name##_v2, 16, ) KERNEL(name##_avx2, 32, __attribute__((target("avx2"))))              \
    KERNEL(name##_avx512, 64, __attribute__((target("avx512f"))))
#else
#define PAC__KERNELS(KERNEL, name) KERNEL(name##_v2, 16, )
#endif
#else
#define PAC__PICK(name) return name##_plain;
#endif

/* First in the body of a function whose vector and plain variants must give the same bits: no
   fused multiply-adds there (clang fuses by default where the target has them; gcc in ISO mode
   does not) */
#if defined(__clang__)
#define PAC__EXACT _Pragma("STDC FP_CONTRACT OFF")
#else
#define PAC__EXACT
#endif
#define PAC__MAX_FACTORS 64

/* FFT stage kernels of one vector width (section >>fft) */
typedef void (*pac__stage_fn)(size_t n, size_t span, size_t i0, size_t i1, const double *tw, const double *xr,
                              const double *xi, double *yr, double *yi);
typedef void (*pac__first_fn)(size_t n, const double *xr, const double *xi, double *yr, double *yi);
/* f4: the first radix-4 stage (span 1) over `width` blocks at once, or NULL (the plain loop) */
typedef struct pac__stage_set { int width; pac__stage_fn s2, s3, s4, s5, s8; pac__first_fn f4; } pac__stage_set;

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
    pac__stage_set vec[4];      /* the stage kernels this CPU runs, widest first, then width 1 (none) */
};

#if defined(PACGPU_USE_CUDA)
#define PAC__BUILD " cuda"
#else
#define PAC__BUILD ""
#endif
PACDEF const char *pac_build_info(void)
{
#if defined(PAC__X86_WIDE)
    unsigned f = tp_cpu_features();
    if (f & TP_CPU_AVX512F) return "pacgpu 1.0.0 cpu avx512" PAC__BUILD;
    if (f & TP_CPU_AVX2) return "pacgpu 1.0.0 cpu avx2" PAC__BUILD;
#endif
#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
    return "pacgpu 1.0.0 cpu vector" PAC__BUILD;
#else
    return "pacgpu 1.0.0 cpu plain" PAC__BUILD;
#endif
}

/* ---- >>fft ----------------------------------------------------------------------------------- */

/* Splits n into radices 8, 4, 2, 3, 5 (large radices first: fewer passes over the data), with a
   4 first when n has one (the first stage has no twiddles, and a 4 there runs in vectors);
   returns what is left (1 when n is 5-smooth). */
static size_t pac__factor(size_t n, int *fact, int *n_fact)
{
    static const int radices[5] = {8, 4, 2, 3, 5};
    int i;
    *n_fact = 0;
    if (n % 4 == 0 && n > 1) fact[(*n_fact)++] = 4, n /= 4;
    for (i = 0; i < 5; i++)
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
static tp_result pac__fft_alloc(size_t n, size_t table_doubles, tp_pool *pool, pac_fft **out)
{
    size_t bytes;
    tp_error te = {TP_OK, {0}};
    pac_fft *p;
    if (!tp_size_mul(table_doubles, sizeof(double), &bytes) || !tp_size_add(bytes, sizeof *p + 64, &bytes))
        return TP_ERR_OVERFLOW;
    p = (pac_fft *)tp_alloc_at(pool, bytes, TP_ZERO, __FILE__, __LINE__, &te);
    if (!p) return te.code;
    p->n = n;
    p->pool = pool;
    p->tw = (double *)(void *)((char *)p + (sizeof *p + 63) / 64 * 64);
    *out = p;
    return TP_OK;
}

static void pac__fft_split(const pac_fft *p, double *re, double *im, double *scratch);
static void pac__pick_stages(pac__stage_set *sets);

static tp_result pac__fft_make(size_t n, tp_pool *pool, pac_fft **out)
{
    int fact[PAC__MAX_FACTORS], nf, s;
    size_t rest = pac__factor(n, fact, &nf), j, m;
    tp_result r;
    pac_fft *p;
    if (rest == 1) { /* Stockham stages: span 1, r_0, r_0 r_1, ...; (r - 1) span twiddles each */
        size_t span = 1, off = 0, q, i;
        if ((r = pac__fft_alloc(n, 2 * n, pool, &p)) != TP_OK) return r;
        p->n_stages = nf;
        pac__pick_stages(p->vec);
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
        return TP_OK;
    }
    /* Bluestein: X_k = c_k * sum_j (x_j c_j) conj(c_{k-j}), a circular convolution of length m */
    m = pac__next_smooth(2 * n - 1);
    {
        size_t tables;
        if (!tp_size_mul(n + m, 2, &tables)) return TP_ERR_OVERFLOW;
        if ((r = pac__fft_alloc(n, tables, pool, &p)) != TP_OK) return r;
    }
    p->m = m;
    p->chirp = p->tw;
    p->bfft = p->tw + 2 * n;
    p->tw = NULL;
    if ((r = pac__fft_make(m, pool, &p->inner)) != TP_OK) { pac_fft_destroy(p); return r; }
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
        tp_error te = {TP_OK, {0}};
        size_t bytes;
        double *scratch;
        if (!tp_size_mul(pac__split_scratch(p->inner), sizeof(double), &bytes)) { pac_fft_destroy(p); return TP_ERR_OVERFLOW; }
        scratch = (double *)tp_alloc_at(pool, bytes, 0, __FILE__, __LINE__, &te);
        if (!scratch) { pac_fft_destroy(p); return te.code; }
        pac__fft_split(p->inner, p->bfft, p->bfft + m, scratch);
        tp_free(pool, scratch);
    }
    *out = p;
    return TP_OK;
}

static tp_result pac__fft_check(size_t n, const char *who, tp_error *err)
{
    if (n == 0 || n > ((size_t)1 << 31))
        return tp_error_set(err, TP_ERR_ARG, "%s: the length must lie in 1 .. 2^31, got %zu", who, n);
    return TP_OK;
}

PACDEF tp_result pac_fft_create(tp_pool *pool, size_t n, pac_fft **out, tp_error *err)
{
    tp_pool *own = NULL;
    tp_result r;
    if (!out) return tp_error_set(err, TP_ERR_ARG, "pac_fft_create: out is NULL");
    *out = NULL;
    if ((r = pac__fft_check(n, "pac_fft_create", err)) != TP_OK) return r;
    if (!pool && (r = tp_create(NULL, &own, err)) != TP_OK) return r;
    if (!pool) pool = own;
    if ((r = pac__fft_make(n, pool, out)) != TP_OK) {
        if (own) tp_destroy(own);
        return tp_error_set(err, r, "pac_fft_create: the plan for length %zu: %s", n, tp_result_string(r));
    }
    (*out)->own_pool = own;
    tp_error_clear(err);
    return TP_OK;
}

/* A plan's blocks once made: its own, and for Bluestein its inner plan's */
static size_t pac__fft_block_bytes(size_t n)
{
    int fact[PAC__MAX_FACTORS], nf;
    size_t m;
    if (pac__factor(n, fact, &nf) == 1) return 2 * n * sizeof(double) + sizeof(pac_fft) + 64;
    m = pac__next_smooth(2 * n - 1);
    return 2 * (n + m) * sizeof(double) + sizeof(pac_fft) + 64 + pac__fft_block_bytes(m);
}

/* pac__split_scratch of the plan for length n, before it exists */
static size_t pac__split_scratch_for(size_t n)
{
    int fact[PAC__MAX_FACTORS], nf;
    return pac__factor(n, fact, &nf) == 1 ? 2 * n : 4 * pac__next_smooth(2 * n - 1);
}

/* The bytes pac__fft_make requests at its peak: the plan's block; for Bluestein also the inner
   plan and, while the chirp's transform is made, the inner transform's scratch. */
static size_t pac__fft_make_bytes(size_t n)
{
    int fact[PAC__MAX_FACTORS], nf;
    size_t m;
    if (pac__factor(n, fact, &nf) == 1) return 2 * n * sizeof(double) + sizeof(pac_fft) + 64;
    m = pac__next_smooth(2 * n - 1);
    return 2 * (n + m) * sizeof(double) + sizeof(pac_fft) + 64 + pac__fft_make_bytes(m) + 2 * m * sizeof(double);
}

PACDEF tp_result pac_fft_estimate_bytes(size_t n, size_t *bytes, tp_error *err)
{
    tp_result r;
    if (!bytes) return tp_error_set(err, TP_ERR_ARG, "pac_fft_estimate_bytes: bytes is NULL");
    *bytes = 0;
    if ((r = pac__fft_check(n, "pac_fft_estimate_bytes", err)) != TP_OK) return r;
    *bytes = pac__fft_make_bytes(n);
    tp_error_clear(err);
    return TP_OK;
}

/* Stockham stages (autosort, decimation in time) of radix R: butterfly j = b span + i reads
   x[j + q n / R] (q < R), multiplies input q by the twiddle exp(-2 pi i q i / (R span)) and
   writes its R outputs to y[b R span + i + q span]. The first stage (span 1) has no twiddles.
   One function per radix keeps every value in a register; PAC__STAGES writes them for a value
   type T of W doubles (loaded with LD, stored with ST): plain doubles, and vectors that take W
   consecutive butterflies [i0, i1) of each block at once (every lane computes what the plain
   code computes, in the same order); the plain code takes the rest of each block. */
#if defined(__cplusplus) || !defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L
#define PAC__RESTRICT __restrict
#else
#define PAC__RESTRICT restrict
#endif
#define PAC__TWIDDLE(T, r, i, wr_, wi_)                                                         \
    do {                                                                                        \
        T wr = (wr_), wi = (wi_), t_ = (r) * wr - (i) * wi;                                     \
        (i) = (r) * wi + (i) * wr;                                                              \
        (r) = t_;                                                                               \
    } while (0)
#define PAC__LD1(p) (*(p))
#define PAC__ST1(p, v) (*(p) = (v))
#define PAC__STAGES(SUF, T, W, ATTR, LD, ST) \
ATTR static void pac__stage2##SUF(size_t n, size_t span, size_t i0, size_t i1, const double *tw, const double *PAC__RESTRICT xr,            \
                                 const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)  \
{                                                                                                                     \
    size_t m = n / 2, blocks = m / span, b, i;                                                                        \
    const double *w1r = tw, *w1i = tw + span;                                                                         \
    for (b = 0; b < blocks; b++) {                                                                                    \
        const double *sr = xr + b * span, *si = xi + b * span;                                                        \
        double *dr = yr + 2 * b * span, *di = yi + 2 * b * span;                                                      \
        for (i = i0; i < i1; i += W) {                                                                               \
            T r0 = LD(sr + i), i0 = LD(si + i), r1 = LD(sr + i + m), i1 = LD(si + i + m);                             \
            if (span > 1) PAC__TWIDDLE(T, r1, i1, LD(w1r + i), LD(w1i + i));                                          \
            ST(dr + i, r0 + r1); ST(di + i, i0 + i1);                                                                 \
            ST(dr + i + span, r0 - r1); ST(di + i + span, i0 - i1);                                                   \
        }                                                                                                             \
    }                                                                                                                 \
}                                                                                                                     \
ATTR static void pac__stage4##SUF(size_t n, size_t span, size_t i0, size_t i1, const double *tw, const double *PAC__RESTRICT xr,            \
                                 const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)  \
{                                                                                                                     \
    size_t m = n / 4, blocks = m / span, b, i;                                                                        \
    const double *w1r = tw, *w2r = tw + span, *w3r = tw + 2 * span, *w1i = tw + 3 * span, *w2i = tw + 4 * span,       \
                 *w3i = tw + 5 * span;                                                                                \
    for (b = 0; b < blocks; b++) {                                                                                    \
        const double *sr = xr + b * span, *si = xi + b * span;                                                        \
        double *dr = yr + 4 * b * span, *di = yi + 4 * b * span;                                                      \
        for (i = i0; i < i1; i += W) {                                                                               \
            T r0 = LD(sr + i), i0 = LD(si + i), r1 = LD(sr + i + m), i1 = LD(si + i + m);                             \
            T r2 = LD(sr + i + 2 * m), i2 = LD(si + i + 2 * m), r3 = LD(sr + i + 3 * m), i3 = LD(si + i + 3 * m);     \
            T ar, ai, br, bi, cr, ci, er, ei;                                                                         \
            if (span > 1) {                                                                                           \
                PAC__TWIDDLE(T, r1, i1, LD(w1r + i), LD(w1i + i));                                                    \
                PAC__TWIDDLE(T, r2, i2, LD(w2r + i), LD(w2i + i));                                                    \
                PAC__TWIDDLE(T, r3, i3, LD(w3r + i), LD(w3i + i));                                                    \
            }                                                                                                         \
            ar = r0 + r2; ai = i0 + i2; br = r0 - r2; bi = i0 - i2; /* the quarter turn is -i */                      \
            cr = r1 + r3; ci = i1 + i3; er = r1 - r3; ei = i1 - i3;                                                   \
            ST(dr + i, ar + cr); ST(di + i, ai + ci);                                                                 \
            ST(dr + i + span, br + ei); ST(di + i + span, bi - er);                                                   \
            ST(dr + i + 2 * span, ar - cr); ST(di + i + 2 * span, ai - ci);                                           \
            ST(dr + i + 3 * span, br - ei); ST(di + i + 3 * span, bi + er);                                           \
        }                                                                                                             \
    }                                                                                                                 \
}                                                                                                                     \
ATTR static void pac__stage3##SUF(size_t n, size_t span, size_t i0, size_t i1, const double *tw, const double *PAC__RESTRICT xr,            \
                                 const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)  \
{                                                                                                                     \
    const double h = 0.86602540378443864676; /* sin(2 pi / 3) */                                                      \
    size_t m = n / 3, blocks = m / span, b, i;                                                                        \
    const double *w1r = tw, *w2r = tw + span, *w1i = tw + 2 * span, *w2i = tw + 3 * span;                             \
    for (b = 0; b < blocks; b++) {                                                                                    \
        const double *sr = xr + b * span, *si = xi + b * span;                                                        \
        double *dr = yr + 3 * b * span, *di = yi + 3 * b * span;                                                      \
        for (i = i0; i < i1; i += W) {                                                                               \
            T r0 = LD(sr + i), i0 = LD(si + i), r1 = LD(sr + i + m), i1 = LD(si + i + m);                             \
            T r2 = LD(sr + i + 2 * m), i2 = LD(si + i + 2 * m), pr, pi, qr, qi, mr, mi;                               \
            if (span > 1) {                                                                                           \
                PAC__TWIDDLE(T, r1, i1, LD(w1r + i), LD(w1i + i));                                                    \
                PAC__TWIDDLE(T, r2, i2, LD(w2r + i), LD(w2i + i));                                                    \
            }                                                                                                         \
            pr = r1 + r2; pi = i1 + i2; qr = r1 - r2; qi = i1 - i2;                                                   \
            mr = r0 - 0.5 * pr; mi = i0 - 0.5 * pi;                                                                   \
            ST(dr + i, r0 + pr); ST(di + i, i0 + pi);                                                                 \
            ST(dr + i + span, mr + h * qi); ST(di + i + span, mi - h * qr);                                           \
            ST(dr + i + 2 * span, mr - h * qi); ST(di + i + 2 * span, mi + h * qr);                                   \
        }                                                                                                             \
    }                                                                                                                 \
}                                                                                                                     \
ATTR static void pac__stage5##SUF(size_t n, size_t span, size_t i0, size_t i1, const double *tw, const double *PAC__RESTRICT xr,            \
                                 const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)  \
{                                                                                                                     \
    const double c1 = 0.30901699437494742410, c2 = -0.80901699437494742410; /* cos(2 pi k / 5) */                     \
    const double s1 = 0.95105651629515357212, s2 = 0.58778525229247312917;  /* sin(2 pi k / 5) */                     \
    size_t m = n / 5, blocks = m / span, b, i;                                                                        \
    const double *w1r = tw, *w2r = tw + span, *w3r = tw + 2 * span, *w4r = tw + 3 * span;                             \
    const double *w1i = tw + 4 * span, *w2i = tw + 5 * span, *w3i = tw + 6 * span, *w4i = tw + 7 * span;              \
    for (b = 0; b < blocks; b++) {                                                                                    \
        const double *sr = xr + b * span, *si = xi + b * span;                                                        \
        double *dr = yr + 5 * b * span, *di = yi + 5 * b * span;                                                      \
        for (i = i0; i < i1; i += W) {                                                                               \
            T r0 = LD(sr + i), i0 = LD(si + i), r1 = LD(sr + i + m), i1 = LD(si + i + m);                             \
            T r2 = LD(sr + i + 2 * m), i2 = LD(si + i + 2 * m), r3 = LD(sr + i + 3 * m), i3 = LD(si + i + 3 * m);     \
            T r4 = LD(sr + i + 4 * m), i4 = LD(si + i + 4 * m);                                                       \
            T ar, ai, br, bi, cr, ci, er, ei, a1r, a1i, a2r, a2i, b1r, b1i, b2r, b2i;                                 \
            if (span > 1) {                                                                                           \
                PAC__TWIDDLE(T, r1, i1, LD(w1r + i), LD(w1i + i));                                                    \
                PAC__TWIDDLE(T, r2, i2, LD(w2r + i), LD(w2i + i));                                                    \
                PAC__TWIDDLE(T, r3, i3, LD(w3r + i), LD(w3i + i));                                                    \
                PAC__TWIDDLE(T, r4, i4, LD(w4r + i), LD(w4i + i));                                                    \
            }                                                                                                         \
            ar = r1 + r4; ai = i1 + i4; br = r1 - r4; bi = i1 - i4;                                                   \
            cr = r2 + r3; ci = i2 + i3; er = r2 - r3; ei = i2 - i3;                                                   \
            a1r = r0 + c1 * ar + c2 * cr; a1i = i0 + c1 * ai + c2 * ci;                                               \
            a2r = r0 + c2 * ar + c1 * cr; a2i = i0 + c2 * ai + c1 * ci;                                               \
            b1r = s1 * br + s2 * er; b1i = s1 * bi + s2 * ei;                                                         \
            b2r = s2 * br - s1 * er; b2i = s2 * bi - s1 * ei;                                                         \
            ST(dr + i, r0 + ar + cr); ST(di + i, i0 + ai + ci);                                                       \
            ST(dr + i + span, a1r + b1i); ST(di + i + span, a1i - b1r);                                               \
            ST(dr + i + 4 * span, a1r - b1i); ST(di + i + 4 * span, a1i + b1r);                                       \
            ST(dr + i + 2 * span, a2r + b2i); ST(di + i + 2 * span, a2i - b2r);                                       \
            ST(dr + i + 3 * span, a2r - b2i); ST(di + i + 3 * span, a2i + b2r);                                       \
        }                                                                                                             \
    }                                                                                                                 \
}                                                                                                                     \
ATTR static void pac__stage8##SUF(size_t n, size_t span, size_t i0, size_t i1, const double *tw, const double *PAC__RESTRICT xr, \
                                 const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)  \
{                                                                                                                     \
    const double h = 0.70710678118654752440; /* 1 / sqrt(2) */                                                        \
    size_t m = n / 8, blocks = m / span, k = 7 * span, b, i;                                                          \
    for (b = 0; b < blocks; b++) {                                                                                    \
        const double *sr = xr + b * span, *si = xi + b * span;                                                        \
        double *dr = yr + 8 * b * span, *di = yi + 8 * b * span;                                                      \
        for (i = i0; i < i1; i += W) {                                                                                \
            T x0r = LD(sr + i), x0i = LD(si + i), x1r = LD(sr + i + m), x1i = LD(si + i + m);                         \
            T x2r = LD(sr + i + 2 * m), x2i = LD(si + i + 2 * m), x3r = LD(sr + i + 3 * m), x3i = LD(si + i + 3 * m); \
            T x4r = LD(sr + i + 4 * m), x4i = LD(si + i + 4 * m), x5r = LD(sr + i + 5 * m), x5i = LD(si + i + 5 * m); \
            T x6r = LD(sr + i + 6 * m), x6i = LD(si + i + 6 * m), x7r = LD(sr + i + 7 * m), x7i = LD(si + i + 7 * m); \
            T s04r, s04i, d04r, d04i, s26r, s26i, d26r, d26i, s15r, s15i, d15r, d15i, s37r, s37i, d37r, d37i;         \
            T e0r, e0i, e1r, e1i, e2r, e2i, e3r, e3i, o0r, o0i, o1r, o1i, o2r, o2i, o3r, o3i, t1r, t1i, t3r, t3i;     \
            if (span > 1) {                                                                                           \
                PAC__TWIDDLE(T, x1r, x1i, LD(tw + i), LD(tw + k + i));                                                \
                PAC__TWIDDLE(T, x2r, x2i, LD(tw + span + i), LD(tw + k + span + i));                                  \
                PAC__TWIDDLE(T, x3r, x3i, LD(tw + 2 * span + i), LD(tw + k + 2 * span + i));                          \
                PAC__TWIDDLE(T, x4r, x4i, LD(tw + 3 * span + i), LD(tw + k + 3 * span + i));                          \
                PAC__TWIDDLE(T, x5r, x5i, LD(tw + 4 * span + i), LD(tw + k + 4 * span + i));                          \
                PAC__TWIDDLE(T, x6r, x6i, LD(tw + 5 * span + i), LD(tw + k + 5 * span + i));                          \
                PAC__TWIDDLE(T, x7r, x7i, LD(tw + 6 * span + i), LD(tw + k + 6 * span + i));                          \
            }                                                                                                         \
            /* two 4-point DFTs, of the even inputs (e) and the odd ones (o), then the eighth turns */                \
            s04r = x0r + x4r; s04i = x0i + x4i; d04r = x0r - x4r; d04i = x0i - x4i;                                   \
            s26r = x2r + x6r; s26i = x2i + x6i; d26r = x2r - x6r; d26i = x2i - x6i;                                   \
            s15r = x1r + x5r; s15i = x1i + x5i; d15r = x1r - x5r; d15i = x1i - x5i;                                   \
            s37r = x3r + x7r; s37i = x3i + x7i; d37r = x3r - x7r; d37i = x3i - x7i;                                   \
            e0r = s04r + s26r; e0i = s04i + s26i; e2r = s04r - s26r; e2i = s04i - s26i;                               \
            e1r = d04r + d26i; e1i = d04i - d26r; e3r = d04r - d26i; e3i = d04i + d26r;                               \
            o0r = s15r + s37r; o0i = s15i + s37i; o2r = s15r - s37r; o2i = s15i - s37i;                               \
            o1r = d15r + d37i; o1i = d15i - d37r; o3r = d15r - d37i; o3i = d15i + d37r;                               \
            t1r = (o1r + o1i) * h; t1i = (o1i - o1r) * h;   /* exp(-i pi / 4) o1 */                                   \
            t3r = (o3i - o3r) * h; t3i = -((o3r + o3i) * h); /* exp(-3 i pi / 4) o3 */                                \
            ST(dr + i, e0r + o0r); ST(di + i, e0i + o0i);                                                             \
            ST(dr + i + span, e1r + t1r); ST(di + i + span, e1i + t1i);                                               \
            ST(dr + i + 2 * span, e2r + o2i); ST(di + i + 2 * span, e2i - o2r);                                       \
            ST(dr + i + 3 * span, e3r + t3r); ST(di + i + 3 * span, e3i + t3i);                                       \
            ST(dr + i + 4 * span, e0r - o0r); ST(di + i + 4 * span, e0i - o0i);                                       \
            ST(dr + i + 5 * span, e1r - t1r); ST(di + i + 5 * span, e1i - t1i);                                       \
            ST(dr + i + 6 * span, e2r - o2i); ST(di + i + 6 * span, e2i + o2r);                                       \
            ST(dr + i + 7 * span, e3r - t3r); ST(di + i + 7 * span, e3i - t3i);                                       \
        }                                                                                                             \
    }                                                                                                                 \
}
PAC__STAGES(_1, double, 1, , PAC__LD1, PAC__ST1)

#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
#define PAC__VECTOR_IO(SUF, bytes, ATTR)                                                        \
    typedef double pac__vd##SUF __attribute__((vector_size(bytes)));                           \
    ATTR static pac__vd##SUF pac__ld##SUF(const double *p)                                     \
    {                                                                                           \
        pac__vd##SUF x;                                                                         \
        memcpy(&x, p, sizeof x);                                                                \
        return x;                                                                               \
    }                                                                                           \
    ATTR static void pac__st##SUF(double *p, pac__vd##SUF x) { memcpy(p, &x, sizeof x); }
PAC__VECTOR_IO(_2, 16, )
PAC__STAGES(_2, pac__vd_2, 2, , pac__ld_2, pac__st_2)
#if defined(PAC__X86_WIDE)
PAC__VECTOR_IO(_4, 32, __attribute__((target("avx2"))))
PAC__STAGES(_4, pac__vd_4, 4, __attribute__((target("avx2"))), pac__ld_4, pac__st_4)
PAC__VECTOR_IO(_8, 64, __attribute__((target("avx512f"))))
PAC__STAGES(_8, pac__vd_8, 8, __attribute__((target("avx512f"))), pac__ld_8, pac__st_8)
#endif
#endif

/* The first radix-4 stage (span 1: no twiddles, one butterfly per block), blocks b0 .. n / 4 - 1,
   as a plain loop */
static void pac__first4_from(size_t n, size_t b0, const double *PAC__RESTRICT xr, const double *PAC__RESTRICT xi,
                             double *PAC__RESTRICT yr, double *PAC__RESTRICT yi)
{
    size_t m = n / 4, b;
    for (b = b0; b < m; b++) {
        double r0 = xr[b], i0 = xi[b], r1 = xr[b + m], i1 = xi[b + m], r2 = xr[b + 2 * m], i2 = xi[b + 2 * m];
        double r3 = xr[b + 3 * m], i3 = xi[b + 3 * m];
        double ar = r0 + r2, ai = i0 + i2, br = r0 - r2, bi = i0 - i2, cr = r1 + r3, ci = i1 + i3, er = r1 - r3, ei = i1 - i3;
        yr[4 * b] = ar + cr; yi[4 * b] = ai + ci;
        yr[4 * b + 1] = br + ei; yi[4 * b + 1] = bi - er;
        yr[4 * b + 2] = ar - cr; yi[4 * b + 2] = ai - ci;
        yr[4 * b + 3] = br - ei; yi[4 * b + 3] = bi + er;
    }
}

static void pac__first4(size_t n, const double *xr, const double *xi, double *yr, double *yi)
{
    pac__first4_from(n, 0, xr, xi, yr, yi);
}

/* The first stage over W blocks at once: the plain loop's sums lane by lane (adds only: the same
   bits), the four outputs of each block interleaved by a 4 x W transpose; the plain loop takes
   the blocks past the last whole vector. */
#if defined(PAC__X86_WIDE) && defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define PAC__FIRST4_BODY(T, W, LD, ST, TRANSPOSE)                                                            \
    size_t m = n / 4, b;                                                                                      \
    for (b = 0; b + W <= m; b += W) {                                                                         \
        T r0 = LD(xr + b), i0 = LD(xi + b), r1 = LD(xr + b + m), i1 = LD(xi + b + m);                         \
        T r2 = LD(xr + b + 2 * m), i2 = LD(xi + b + 2 * m), r3 = LD(xr + b + 3 * m), i3 = LD(xi + b + 3 * m); \
        T ar = r0 + r2, ai = i0 + i2, br = r0 - r2, bi = i0 - i2, cr = r1 + r3, ci = i1 + i3;                 \
        T er = r1 - r3, ei = i1 - i3;                                                                         \
        TRANSPOSE(ar + cr, br + ei, ar - cr, br - ei, yr + 4 * b);                                            \
        TRANSPOSE(ai + ci, bi - er, ai - ci, bi + er, yi + 4 * b);                                            \
    }                                                                                                         \
    pac__first4_from(n, b, xr, xi, yr, yi);
#define PAC__T4(y0, y1, y2, y3, dst)                                                                         \
    do {                                                                                                      \
        pac__vd_4 a_ = __builtin_shufflevector(y0, y1, 0, 4, 1, 5), b_ = __builtin_shufflevector(y2, y3, 0, 4, 1, 5); \
        pac__vd_4 c_ = __builtin_shufflevector(y0, y1, 2, 6, 3, 7), d_ = __builtin_shufflevector(y2, y3, 2, 6, 3, 7); \
        pac__st_4(dst, __builtin_shufflevector(a_, b_, 0, 1, 4, 5));                                          \
        pac__st_4(dst + 4, __builtin_shufflevector(a_, b_, 2, 3, 6, 7));                                      \
        pac__st_4(dst + 8, __builtin_shufflevector(c_, d_, 0, 1, 4, 5));                                      \
        pac__st_4(dst + 12, __builtin_shufflevector(c_, d_, 2, 3, 6, 7));                                     \
    } while (0)
#define PAC__T8(y0, y1, y2, y3, dst)                                                                         \
    do {                                                                                                      \
        pac__vd_8 a_ = __builtin_shufflevector(y0, y1, 0, 8, 1, 9, 2, 10, 3, 11);                             \
        pac__vd_8 b_ = __builtin_shufflevector(y2, y3, 0, 8, 1, 9, 2, 10, 3, 11);                             \
        pac__vd_8 c_ = __builtin_shufflevector(y0, y1, 4, 12, 5, 13, 6, 14, 7, 15);                           \
        pac__vd_8 d_ = __builtin_shufflevector(y2, y3, 4, 12, 5, 13, 6, 14, 7, 15);                           \
        pac__st_8(dst, __builtin_shufflevector(a_, b_, 0, 1, 8, 9, 2, 3, 10, 11));                            \
        pac__st_8(dst + 8, __builtin_shufflevector(a_, b_, 4, 5, 12, 13, 6, 7, 14, 15));                      \
        pac__st_8(dst + 16, __builtin_shufflevector(c_, d_, 0, 1, 8, 9, 2, 3, 10, 11));                       \
        pac__st_8(dst + 24, __builtin_shufflevector(c_, d_, 4, 5, 12, 13, 6, 7, 14, 15));                     \
    } while (0)
__attribute__((target("avx2"))) static void pac__first4_4(size_t n, const double *PAC__RESTRICT xr,
                                                           const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr,
                                                           double *PAC__RESTRICT yi)
{
    PAC__FIRST4_BODY(pac__vd_4, 4, pac__ld_4, pac__st_4, PAC__T4)
}
__attribute__((target("avx512f"))) static void pac__first4_8(size_t n, const double *PAC__RESTRICT xr,
                                                              const double *PAC__RESTRICT xi, double *PAC__RESTRICT yr,
                                                              double *PAC__RESTRICT yi)
{
    PAC__FIRST4_BODY(pac__vd_8, 8, pac__ld_8, pac__st_8, PAC__T8)
}
#define PAC__FIRST4_4 pac__first4_4
#define PAC__FIRST4_8 pac__first4_8
#endif
#endif
#if !defined(PAC__FIRST4_4)
#define PAC__FIRST4_4 NULL
#define PAC__FIRST4_8 NULL
#endif

/* The stage kernels this CPU runs, widest first: AVX-512 (8 doubles), AVX2 (4), SSE2 (2); a
   set of width 1 marks the end */
static void pac__pick_stages(pac__stage_set *sets)
{
    static const pac__stage_set none = {1, pac__stage2_1, pac__stage3_1, pac__stage4_1, pac__stage5_1, pac__stage8_1, NULL};
    int k = 0;
#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
#if defined(PAC__X86_WIDE)
    static const pac__stage_set v8 = {8, pac__stage2_8, pac__stage3_8, pac__stage4_8, pac__stage5_8, pac__stage8_8, PAC__FIRST4_8};
    static const pac__stage_set v4 = {4, pac__stage2_4, pac__stage3_4, pac__stage4_4, pac__stage5_4, pac__stage8_4, PAC__FIRST4_4};
    if (tp_cpu_features() & TP_CPU_AVX512F) sets[k++] = v8;
    if (tp_cpu_features() & TP_CPU_AVX2) sets[k++] = v4;
#endif
    {
        static const pac__stage_set v2 = {2, pac__stage2_2, pac__stage3_2, pac__stage4_2, pac__stage5_2, pac__stage8_2, NULL};
        sets[k++] = v2;
    }
#endif
    while (k < 4) sets[k++] = none;
}

/* Forward transform of (re, im) in place, split format. The inverse (without 1/n) is the same
   call with re and im exchanged. scratch: pac__split_scratch(p) doubles. */
static void pac__fft_split(const pac_fft *p, double *re, double *im, double *scratch)
{
    static const pac__stage_set plain = {1, pac__stage2_1, pac__stage3_1, pac__stage4_1, pac__stage5_1, pac__stage8_1, NULL};
    size_t n = p->n, j, span = 1, off = 0;
    if (!p->inner) {
        double *xr = re, *xi = im, *yr = scratch, *yi = scratch + n, *t;
        int s;
        for (s = 0; s < p->n_stages; s++) {
            const double *w = p->tw + off;
            int R = p->radix[s];
            const pac__stage_set *v = &p->vec[0];
            size_t cut;
            pac__stage_fn vf, sf;
            while (v->width > 1 && (size_t)v->width > span) v++; /* the widest that fits the span */
            cut = span - span % (size_t)v->width;                /* butterflies [0, cut) of each block in vectors */
            vf = R == 8 ? v->s8 : R == 4 ? v->s4 : R == 2 ? v->s2 : R == 3 ? v->s3 : v->s5;
            sf = R == 8 ? plain.s8 : R == 4 ? plain.s4 : R == 2 ? plain.s2 : R == 3 ? plain.s3 : plain.s5;
            if (span == 1 && R == 4) (p->vec[0].f4 ? p->vec[0].f4 : pac__first4)(n, xr, xi, yr, yi);
            else {
                if (cut) vf(n, span, 0, cut, w, xr, xi, yr, yi);
                if (cut < span) sf(n, span, cut, span, w, xr, xi, yr, yi);
            }
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

PACDEF tp_result pac_fir_design(double fs, double f_lo, double f_hi, size_t order, double *taps, tp_error *err)
{
    size_t n = order + 1, j, half;
    double f1, f2, centre, gr = 0, gi = 0, gain;
    if (!taps || order < 1)
        return tp_error_set(err, TP_ERR_ARG, "pac_fir_design: %s", !taps ? "taps is NULL" : "order must be >= 1");
    if (!(fs > 0) || !(f_lo > 0) || !(f_hi > f_lo) || !(f_hi < fs / 2))
        return tp_error_set(err, TP_ERR_ARG, "pac_fir_design: the band [%g, %g] Hz must satisfy 0 < low < high < fs / 2 = %g",
                            f_lo, f_hi, fs / 2);
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
    tp_error_clear(err);
    return TP_OK;
}

PACDEF tp_result pac_band_preset(const char *name, pac_signal_kind kind, double *bands, size_t *n_bands, tp_error *err)
{
    static const char *names[5] = {"lres", "mres", "hres", "demon", "hulk"};
    static const size_t counts[5] = {10, 30, 50, 70, 100};
    double lo = kind == PAC_PHASE ? 2.0 : 60.0, hi = kind == PAC_PHASE ? 20.0 : 160.0, div = kind == PAC_PHASE ? 4.0 : 8.0;
    size_t i, n = 0, j;
    if (n_bands) *n_bands = 0;
    if (kind != PAC_PHASE && kind != PAC_AMPLITUDE)
        return tp_error_set(err, TP_ERR_ARG, "pac_band_preset: kind must be PAC_PHASE or PAC_AMPLITUDE, got %d", (int)kind);
    for (i = 0; name && i < 5; i++)
        if (strcmp(name, names[i]) == 0) n = counts[i];
    if (!n)
        return tp_error_set(err, TP_ERR_ARG, "pac_band_preset: no preset '%s' (lres, mres, hres, demon, hulk: 10, 30, 50, "
                            "70, 100 bands)", name ? name : "(NULL)");
    for (j = 0; bands && j < n; j++) { /* numpy.linspace: j * step + start, the last exactly stop */
        double f = j + 1 == n ? hi : (double)j * ((hi - lo) / (double)(n - 1)) + lo;
        bands[2 * j] = f - f / div;
        bands[2 * j + 1] = f + f / div;
    }
    if (n_bands) *n_bands = n;
    tp_error_clear(err);
    return TP_OK;
}

static tp_result pac__fail(tp_error *err, tp_result r, const char *what)
{
    return tp_error_set(err, r, "%s", what);
}

/* ---- >>phase bins and the modulation index ---------------------------------------------------- */

/* tensorpac's bin edges for k bins (numpy.linspace with the same arithmetic), their directions,
   and the bin of a phase, or k for none */
typedef struct pac__bins {
    double edge[PAC_MAX_BINS + 1], cos_e[PAC_MAX_BINS + 1], sin_e[PAC_MAX_BINS + 1], inv_step;
    int k;
} pac__bins;

static void pac__bins_init(pac__bins *b, int k)
{
    double eps = 2.0 * 2.220446049250313080847e-16, lo = -PAC__PI - eps, hi = PAC__PI + eps, step = (hi - lo) / k;
    int i;
    b->k = k;
    for (i = 0; i < k; i++) b->edge[i] = (double)i * step + lo;
    b->edge[k] = hi;
    for (i = 0; i <= k; i++) {
        b->cos_e[i] = cos(b->edge[i]);
        b->sin_e[i] = sin(b->edge[i]);
    }
    b->inv_step = 1.0 / step;
}

PAC_HD static inline unsigned char pac__bin_of(const pac__bins *bn, double v)
{
    const double *edges = bn->edge;
    int b;
    if (!(v >= edges[0]) || !(v < edges[bn->k])) return (unsigned char)bn->k;
    b = (int)((v - edges[0]) * bn->inv_step);
    if (b > bn->k - 1) b = bn->k - 1;
    while (b > 0 && v < edges[b]) b--; /* the product may land one bin off */
    while (b < bn->k - 1 && v >= edges[b + 1]) b++;
    return (unsigned char)b;
}

/* The bin of atan2(im, re), equal to pac__bin_of(atan2(im, re)) without calling atan2 for all
   but the samples within 1e-12 |z| of an edge: a rough angle (error < 0.0038 rad; a bin is 0.35)
   picks a bin b, and the signs of im cos(e) - re sin(e) = |z| sin(angle - e) at its two edges
   keep it or move it one bin down or up. */
PAC_HD static inline unsigned char pac__bin_xy(const pac__bins *bn, double re, double im)
{
    double ax = fabs(re), ay = fabs(im), mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax, r = ax + ay, t, a, lo, hi, tol;
    int b;
    if (!(r > 0) || r - r != 0) return pac__bin_of(bn, atan2(im, re)); /* zero, NaN, infinity */
    t = mn / mx;
    a = t * (0.78539816339744831 + 0.273 * (1.0 - t));
    a = ay > ax ? PAC__PI / 2 - a : a;
    a = re < 0 ? PAC__PI - a : a;
    a = im < 0 ? -a : a;
    b = (int)((a - bn->edge[0]) * bn->inv_step);
    b = b < 0 ? 0 : b > bn->k - 1 ? bn->k - 1 : b;
    lo = im * bn->cos_e[b] - re * bn->sin_e[b];
    hi = im * bn->cos_e[b + 1] - re * bn->sin_e[b + 1];
    tol = 1e-12 * r;
    if (fabs(lo) <= tol || fabs(hi) <= tol) return pac__bin_of(bn, atan2(im, re));
    return (unsigned char)(b + (hi > 0) - (lo < 0));
}

/* The bins of n samples (re[t], im[t] * scale), as pac__bin_xy gives them. The vector variants
   take its rough angle for whole vectors and keep a lane's bin when the angle lies more than
   0.005 rad inside it: the rough angle is within 0.0038 rad of atan2's (t (pi/4 + 0.273 (1 - t))
   against atan t, measured on [0, 1]), so that bin is the exact one; the other lanes (about 3 %,
   and zero, NaN or infinite samples) go through pac__bin_xy. Same bins as the plain loop. */
typedef void (*pac__bin_fn)(const pac__bins *bn, const double *re, const double *im, double scale, size_t n, unsigned char *out);

static void pac__bin_plain(const pac__bins *bn, const double *re, const double *im, double scale, size_t n, unsigned char *out)
{
    size_t t;
    for (t = 0; t < n; t++) out[t] = pac__bin_xy(bn, re[t], im[t] * scale);
}

#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
#define PAC__BIN_FN(name, bytes, attr)                                                          \
    attr static void name(const pac__bins *bn, const double *re_, const double *im_, double scale, size_t n, unsigned char *out) \
    {                                                                                           \
        typedef double vd __attribute__((vector_size(bytes)));                                 \
        typedef long long vi __attribute__((vector_size(bytes)));                              \
        typedef int vi32 __attribute__((vector_size(bytes / 2)));                              \
        enum { W = bytes / sizeof(double) };                                                    \
        const double margin = 0.005 * bn->inv_step;                                             \
        int lane[W];                                                                            \
        size_t t;                                                                               \
        int i;                                                                                  \
        vi sign;                                                                                \
        vd zero;                                                                                \
        memset(&sign, 0, sizeof sign);                                                          \
        memset(&zero, 0, sizeof zero);                                                          \
        sign += -0x7fffffffffffffffll - 1;                                                      \
        for (t = 0; t + W <= n; t += W) {                                                       \
            vd re, im, ax, ay, mx, mn, r, q, a, u, fr, alt;                                     \
            vi bits, ok, m;                                                                     \
            vi32 b, ok32, none;                                                                 \
            memcpy(&re, re_ + t, sizeof re);                                                    \
            memcpy(&im, im_ + t, sizeof im);                                                    \
            im = im * scale;                                                                    \
            memcpy(&bits, &re, sizeof bits); bits &= ~sign; memcpy(&ax, &bits, sizeof ax);       \
            memcpy(&bits, &im, sizeof bits); bits &= ~sign; memcpy(&ay, &bits, sizeof ay);       \
            m = ax > ay;                                                                        \
            TP_VSELECT(vi, m, ax, ay, mx);                                                        \
            TP_VSELECT(vi, m, ay, ax, mn);                                                        \
            r = ax + ay;                                                                        \
            q = mn / mx;                                                                        \
            a = q * (0.78539816339744831 + 0.273 * (1.0 - q));                                  \
            alt = PAC__PI / 2 - a;                                                              \
            m = ay > ax;                                                                        \
            TP_VSELECT(vi, m, alt, a, a);                                                         \
            alt = PAC__PI - a;                                                                  \
            m = re < 0.0;                                                                       \
            TP_VSELECT(vi, m, alt, a, a);                                                         \
            alt = -a;                                                                           \
            m = im < 0.0;                                                                       \
            TP_VSELECT(vi, m, alt, a, a);                                                         \
            u = (a - bn->edge[0]) * bn->inv_step;                                               \
            ok = (r > 0.0) & (r - r == 0.0) & (u > 0.0) & (u < (double)bn->k);                  \
            TP_VSELECT(vi, ok, u, zero, u); /* no conversion of NaN or out-of-range values */     \
            b = __builtin_convertvector(u, vi32);                                               \
            fr = u - __builtin_convertvector(b, vd);                                            \
            ok &= (fr > margin) & (fr < 1.0 - margin);                                          \
            ok32 = __builtin_convertvector(ok, vi32);                                           \
            none = (b & 0) + 255;                                                               \
            b = (b & ok32) | (none & ~ok32); /* 255: the exact path decides, below */          \
            memcpy(lane, &b, sizeof lane);                                                      \
            for (i = 0; i < W; i++) out[t + (size_t)i] = (unsigned char)lane[i];               \
        }                                                                                       \
        pac__bin_plain(bn, re_ + t, im_ + t, scale, n - t, out + t);                            \
        for (t = 0; t < n; t++)                                                                 \
            if (out[t] == 255) out[t] = pac__bin_xy(bn, re_[t], im_[t] * scale);                \
    }
PAC__KERNELS(PAC__BIN_FN, pac__bin)
#endif

static pac__bin_fn pac__pick_bin(void) { PAC__PICK(pac__bin) }

/* Histograms of the amplitudes of several bands at once: row t of amp_t holds every band's
   amplitude at sample t (ld lanes, a multiple of 64 bytes), read shift samples ahead, circularly
   (a swap-blocks or time-lag surrogate by index arithmetic); h[j * ld + a] = the sum of band a's
   amplitudes over the samples in phase bin j, j < PAC_N_BINS. The samples come sorted by bin
   (pac__sort_bins: order, and start[j] the first of bin j), so each bin's sums stay in registers
   64 bytes of lanes at a time: no read-modify-write of a histogram in memory per sample, about
   half the time of adding each sample into its bin's row. Within a bin the times ascend, so the
   shifted ones wrap at one point, found by bisection. Two sums a lane (samples at even and odd
   places of the bin's run) keep the adds from waiting on each other; every lane adds in that
   order whatever the vector width, so all variants give the same bits. In doubles, or in
   floats for desc.precision = TP_F32 (16 bands per 64 bytes). */
typedef void (*pac__hist_fn)(const uint32_t *order, const uint32_t *start, int bins, const void *amp_t, size_t n, size_t ld,
                             size_t shift, void *h);

/* The first place in order[lo, hi) (times ascending) whose time shifted by shift wraps */
static size_t pac__wrap_at(const uint32_t *order, size_t lo, size_t hi, size_t wrap)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (order[mid] < wrap) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The samples of a phase series by bin (k bins), times ascending within a bin; samples without
   a bin (k) left out */
static void pac__sort_bins(const unsigned char *bq, size_t n, int k, uint32_t *order, uint32_t *start)
{
    uint32_t at[PAC_MAX_BINS + 1];
    size_t t, j, nb = (size_t)k;
    memset(at, 0, sizeof at);
    for (t = 0; t < n; t++) at[bq[t]]++;
    for (j = 0, start[0] = 0; j < nb; j++) start[j + 1] = start[j] + at[j];
    for (j = 0; j < nb; j++) at[j] = start[j];
    for (t = 0; t < n; t++)
        if (bq[t] < nb) order[at[bq[t]]++] = (uint32_t)t;
}

/* A bin's sums, 64 bytes of lanes from a: even and odd places of its run in [r0, r1), times below
   the wrap read ahead by shift, the others behind by n - shift; d = even + odd */
#define PAC__RUNS_FN(name, R, VEC, K, attr)                                                     \
    attr static void name(const uint32_t *order, const uint32_t *start, int bins, const void *amp_t, size_t n, size_t ld,   \
                          size_t shift, void *h_)                                               \
    {                                                                                           \
        const R *amp = (const R *)amp_t;                                                        \
        R *h = (R *)h_;                                                                         \
        size_t j, a, wrap = n - shift;                                                          \
        for (j = 0; j < (size_t)bins; j++) {                                                    \
            size_t r0 = start[j], r1 = start[j + 1], split = pac__wrap_at(order, r0, r1, wrap); \
            for (a = 0; a < ld; a += 64 / sizeof(R)) {                                          \
                VEC even[K], odd[K];                                                            \
                size_t r;                                                                       \
                int i;                                                                          \
                memset(even, 0, sizeof even), memset(odd, 0, sizeof odd);                       \
                for (r = r0; r < r1;) {                                                         \
                    size_t end = r < split ? split : r1, back = r < split ? 0 : n;              \
                    for (; r + 1 < end; r += 2) {                                               \
                        const R *p = amp + (order[r] + shift - back) * ld + a;                  \
                        const R *q = amp + (order[r + 1] + shift - back) * ld + a;              \
                        for (i = 0; i < K; i++) {                                               \
                            VEC x, y;                                                           \
                            memcpy(&x, p + i * (64 / K / sizeof(R)), sizeof x);                 \
                            memcpy(&y, q + i * (64 / K / sizeof(R)), sizeof y);                 \
                            even[i] += x, odd[i] += y;                                          \
                        }                                                                       \
                    }                                                                           \
                    if (r < end) {                                                              \
                        const R *p = amp + (order[r] + shift - back) * ld + a;                  \
                        for (i = 0; i < K; i++) {                                               \
                            VEC x;                                                              \
                            memcpy(&x, p + i * (64 / K / sizeof(R)), sizeof x);                 \
                            even[i] += x;                                                       \
                        }                                                                       \
                        r++;                                                                    \
                    }                                                                           \
                }                                                                               \
                for (i = 0; i < K; i++) {                                                       \
                    VEC sum = even[i] + odd[i];                                                 \
                    memcpy(h + j * ld + a + i * (64 / K / sizeof(R)), &sum, sizeof sum);        \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }

#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
typedef double pac__v2d __attribute__((vector_size(16)));
typedef float pac__v4f __attribute__((vector_size(16)));
PAC__RUNS_FN(pac__histogram_v2, double, pac__v2d, 4, )
PAC__RUNS_FN(pac__histogram_v4f, float, pac__v4f, 4, )
#if defined(PAC__X86_WIDE)
#define PAC__AVX2 __attribute__((target("avx2")))
#define PAC__AVX512 __attribute__((target("avx512f")))
typedef double pac__v4d __attribute__((vector_size(32)));
typedef float pac__v8f __attribute__((vector_size(32)));
typedef double pac__v8d __attribute__((vector_size(64)));
typedef float pac__v16f __attribute__((vector_size(64)));
PAC__RUNS_FN(pac__histogram_avx2, double, pac__v4d, 2, PAC__AVX2)
PAC__RUNS_FN(pac__histogram_avx512, double, pac__v8d, 1, PAC__AVX512)
PAC__RUNS_FN(pac__histogram_avx2f, float, pac__v8f, 2, PAC__AVX2)
PAC__RUNS_FN(pac__histogram_avx512f, float, pac__v16f, 1, PAC__AVX512)
#endif
#else
PAC__RUNS_FN(pac__histogram_plain, double, double, 8, )
PAC__RUNS_FN(pac__histogram_plainf, float, float, 16, )
#endif

/* The widest histogram kernel this CPU runs, for doubles or floats */
static pac__hist_fn pac__pick_histogram(int f32)
{
#if defined(PAC__X86_WIDE)
    if (tp_cpu_features() & TP_CPU_AVX512F) return f32 ? pac__histogram_avx512f : pac__histogram_avx512;
    if (tp_cpu_features() & TP_CPU_AVX2) return f32 ? pac__histogram_avx2f : pac__histogram_avx2;
#endif
#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
    return f32 ? pac__histogram_v4f : pac__histogram_v2;
#else
    return f32 ? pac__histogram_plainf : pac__histogram_plain;
#endif
}

/* The MI of lanes [0, ld) of a histogram (rows j < k, row stride ld) with bin weights
   wt[j] (1 / the series' count for Tort, 1 / the pooled count for tensorpac, 0 for a bin left
   out): v_j = h_j wt_j, p_j = v_j / sum v, MI = sum p log(k p) / log k (0 when sum v = 0,
   NaN when a sum is NaN). Vectorised over lanes where the compiler has vector types; each lane
   follows the same operations in the same order as pac__mi_plain. */
typedef void (*pac__mi_fn)(const double *h, size_t ld, int k, const double *wt, double *mi);
/* out[t] = atan2(y[t] * scale, x[t]); out may be x */
typedef void (*pac__angle_fn)(const double *y, const double *x, double scale, size_t n, double *out);
/* (c[t], s[t]) = the unit vector of y[t] + i h[t] scale; s NULL: c[t] = its modulus. c and s
   may be y and h. */
typedef void (*pac__unit_fn)(const double *y, const double *h, double scale, size_t n, double *c, double *s);
/* Four cells' products at once (section >>vector) */
typedef void (*pac__dot4_fn)(const double *const *xr, const double *const *xi, const double *v0, const double *v1, size_t len,
                             double *r, double *im);
/* Products of a segment for the vector measures (section >>vector) */
typedef void (*pac__dot_fn)(const double *xr, const double *xi, const double *v0, const double *v1, size_t len, double *r,
                            double *im);

/* log(k), the MI's scale: for tensorpac's 18 bins the literal its formula has always divided by */
PAC_HD static inline double pac__log_bins(int k)
{
    return k == PAC_N_BINS ? 2.8903717578961646922 : log((double)k);
}

/* log(x), within 2 ulp, branch-light: x = m 2^e with m in (sqrt(1/2), sqrt(2)], log m =
   2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its series to s^21 (the rest < 3e-17). */
PAC_HD static inline double pac__log(double x)
{
    static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    uint64_t u;
    double m, s, z, r;
    int ex;
    if (!(x >= 2.2250738585072014e-308) || !(x <= 1.7976931348623157e308)) return log(x);
    memcpy(&u, &x, sizeof u);
    ex = (int)((u >> 52) & 0x7ff) - 1023;
    u = (u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    memcpy(&m, &u, sizeof m);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        ex++;
    }
    s = (m - 1.0) / (m + 1.0);
    z = s * s;
    r = 1.0 / 21;
    r = r * z + 1.0 / 19;
    r = r * z + 1.0 / 17;
    r = r * z + 1.0 / 15;
    r = r * z + 1.0 / 13;
    r = r * z + 1.0 / 11;
    r = r * z + 1.0 / 9;
    r = r * z + 1.0 / 7;
    r = r * z + 1.0 / 5;
    r = r * z + 1.0 / 3;
    return (double)ex * ln2_hi + ((double)ex * ln2_lo + 2.0 * s * (1.0 + z * r));
}

/* The MI of one histogram (sums h[j * ld], bin weights wt): what every MI kernel computes lane
   by lane, and the CUDA kernel per cell. */
PAC_HD static inline double pac__mi_cell(const double *h, size_t ld, int k, const double *wt)
{
    double total = 0, acc = 0, inv;
    int j;
    for (j = 0; j < k; j++) total += h[(size_t)j * ld] * wt[j];
    inv = 1.0 / total;
    for (j = 0; j < k; j++) {
        double p = h[(size_t)j * ld] * wt[j] * inv;
        acc += p * pac__log(p > 0 ? (double)k * p : 1.0);
    }
    return total == 0 ? 0.0 : acc / pac__log_bins(k);
}

/* The same MI from two numbers a histogram gathers bin by bin (pac__k_runs keeps four
   histograms in registers this way, not eighteen sums each): with u_j = h_j w_j, total = sum u_j
   and ulogu = sum u_j log u_j, MI = (ulogu / total - log total + log 18) / log 18. It cancels
   where pac__mi_cell does not (MI ~ 1e-3 of log 18 loses three digits of double: ~1e-16). */
PAC_HD static inline void pac__mi_add_bin(double h, double w, double *total, double *ulogu)
{
    double u = h * w;
    *total += u;
    *ulogu += u > 0 ? u * pac__log(u) : 0.0;
}

PAC_HD static inline double pac__mi_sums(double total, double ulogu)
{
    return total > 0 ? (ulogu / total - pac__log(total) + 2.8903717578961646922) / 2.8903717578961646922 : 0.0;
}

/* The heights ratio of one histogram (sums h[j * ld], bin weights wt), tensorpac's steps: over
   the bins of nonzero weight v_j = h_j wt_j, p_j = v_j / sum v, HR = (max p - min p) / max p;
   NaN when a sum is. */
static inline double pac__hr_cell(const double *h, size_t ld, int k, const double *wt)
{
    double sum = 0, hi = -HUGE_VAL, lo = HUGE_VAL;
    int j;
    for (j = 0; j < k; j++)
        if (wt[j] > 0) sum += h[(size_t)j * ld] * wt[j];
    for (j = 0; j < k; j++)
        if (wt[j] > 0) {
            double p = h[(size_t)j * ld] * wt[j] / sum;
            hi = p > hi ? p : hi;
            lo = p < lo ? p : lo;
        }
    return sum == sum ? (hi - lo) / hi : sum;
}

/* The same heights ratio from two numbers gathered bin by bin (the CUDA kernels): the highest and the
   lowest u_j = h_j w_j over the bins of nonzero weight (hi NaN once a u_j is); the sum cancels
   from (max p - min p) / max p, so HR = (hi - lo) / hi (its rounding differs by ~1e-16). */
PAC_HD static inline void pac__hr_add_bin(double h, double w, double *hi, double *lo)
{
    double u = h * w;
    if (!(w > 0)) return;
    *hi = u > *hi || u != u ? u : *hi;
    *lo = u < *lo ? u : *lo;
}

PAC_HD static inline double pac__hr_sums(double hi, double lo) { return (hi - lo) / hi; }

/* Welford's step: surrogate k's value v into the running mean and M2 */
PAC_HD static inline void pac__welford(double v, size_t k, double *mean, double *m2)
{
    double d = v - *mean;
    *mean += d / (double)(k + 1);
    *m2 += d * (v - *mean);
}

#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
/* pac__log's steps on a vector (x normal and positive in every lane that matters) */
#define PAC__VLOG(vd, vi, x, out)                                                               \
    do {                                                                                        \
        vi u_, ex_, big_;                                                                       \
        vd m_, s_, z_, r_, e_;                                                                  \
        memcpy(&u_, &(x), sizeof u_);                                                           \
        ex_ = ((u_ >> 52) & 0x7ff) - 1023;                                                      \
        u_ = (u_ & 0x000fffffffffffffll) | 0x3ff0000000000000ll;                                 \
        memcpy(&m_, &u_, sizeof m_);                                                            \
        big_ = m_ > 1.4142135623730951;                                                         \
        { vd h_ = m_ * 0.5; TP_VSELECT(vi, big_, h_, m_, m_); }                                \
        ex_ = ex_ - big_ + 0x4338000000000000ll; /* 1.5 2^52 + ex as a double's bits */            \
        memcpy(&e_, &ex_, sizeof e_);                                                           \
        e_ = e_ - 6755399441055744.0;                                                           \
        s_ = (m_ - 1.0) / (m_ + 1.0);                                                           \
        z_ = s_ * s_;                                                                           \
        r_ = z_ * (1.0 / 21) + 1.0 / 19;                                                        \
        r_ = r_ * z_ + 1.0 / 17;                                                                \
        r_ = r_ * z_ + 1.0 / 15;                                                                \
        r_ = r_ * z_ + 1.0 / 13;                                                                \
        r_ = r_ * z_ + 1.0 / 11;                                                                \
        r_ = r_ * z_ + 1.0 / 9;                                                                 \
        r_ = r_ * z_ + 1.0 / 7;                                                                 \
        r_ = r_ * z_ + 1.0 / 5;                                                                 \
        r_ = r_ * z_ + 1.0 / 3;                                                                 \
        out = e_ * 6.93147180369123816490e-01 + (e_ * 1.90821492927058770002e-10 + 2.0 * s_ * (1.0 + z_ * r_)); \
    } while (0)

#define PAC__MI_KERNEL(name, bytes, attr)                                                       \
    attr static void name(const double *h, size_t ld, int k, const double *wt, double *mi)    \
    {                                                                                           \
        typedef double vd __attribute__((vector_size(bytes)));                                 \
        typedef long long vi __attribute__((vector_size(bytes)));                              \
        double log_k = pac__log_bins(k);                                                        \
        size_t a;                                                                               \
        int j;                                                                                  \
        for (a = 0; a < ld; a += bytes / sizeof(double)) {                                      \
            vd total, acc, inv, x, zero, one;                                                   \
            vi pos, none, ai, bi;                                                               \
            memset(&zero, 0, sizeof zero);                                                      \
            total = zero;                                                                       \
            one = zero + 1.0;                                                                   \
            for (j = 0; j < k; j++) {                                                           \
                memcpy(&x, h + (size_t)j * ld + a, sizeof x);                                   \
                total += x * wt[j];                                                             \
            }                                                                                   \
            inv = 1.0 / total;                                                                  \
            acc = zero;                                                                         \
            for (j = 0; j < k; j++) {                                                           \
                vd p, arg, lg;                                                                  \
                memcpy(&x, h + (size_t)j * ld + a, sizeof x);                                   \
                p = x * wt[j] * inv;                                                            \
                arg = (double)k * p;                                                            \
                pos = p > 0.0;                                                                  \
                memcpy(&ai, &arg, sizeof ai);                                                   \
                memcpy(&bi, &one, sizeof bi);                                                   \
                ai = (ai & pos) | (bi & ~pos);                                                  \
                memcpy(&arg, &ai, sizeof arg);                                                  \
                PAC__VLOG(vd, vi, arg, lg);                                                     \
                acc += p * lg;                                                                  \
            }                                                                                   \
            acc = acc / log_k;                                                                  \
            none = total == 0.0;                                                                \
            memcpy(&ai, &acc, sizeof ai);                                                       \
            ai &= ~none;                                                                        \
            memcpy(mi + a, &ai, sizeof ai);                                                     \
        }                                                                                       \
    }
PAC__KERNELS(PAC__MI_KERNEL, pac__mi)
#else
static void pac__mi_plain(const double *h, size_t ld, int k, const double *wt, double *mi)
{
    size_t a;
    for (a = 0; a < ld; a++) mi[a] = pac__mi_cell(h + a, ld, k, wt);
}
#endif

/* The widest MI kernel this CPU runs */
static pac__mi_fn pac__pick_mi(void) { PAC__PICK(pac__mi) }

/* A series' bin weights for pac__mi_fn; 0 when no sample of the series has a phase bin (its
   signal is NaN) */
static int pac__weights(const uint32_t *count, const size_t *pooled, int method, int k, double *wt)
{
    int j;
    uint32_t any = 0;
    for (j = 0; j < k; j++) {
        size_t c = method == PAC_MI_TORT ? count[j] : pooled[j];
        any |= count[j];
        wt[j] = c ? 1.0 / (double)c : 0.0;
    }
    return any != 0;
}

/* ---- >>engine -------------------------------------------------------------------------------- */

/* splitmix64: a small, seedable, portable generator */
static uint64_t pac__next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* uniform in [0, range) without modulo bias (range >= 1) */
static uint64_t pac__uniform(uint64_t *state, uint64_t range)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % range, r;
    do r = pac__next(state); while (r >= limit);
    return r % range;
}

PACDEF tp_result pac_random_cuts(uint64_t seed, size_t n_times, size_t n_cuts, int64_t *cuts, tp_error *err)
{
    uint64_t st = seed;
    size_t k;
    if (!cuts || n_times < 2)
        return tp_error_set(err, TP_ERR_ARG, "pac_random_cuts: %s", !cuts ? "cuts is NULL" : "n_times must be >= 2");
    for (k = 0; k < n_cuts; k++) cuts[k] = (int64_t)(1 + pac__uniform(&st, (uint64_t)(n_times - 1)));
    tp_error_clear(err);
    return TP_OK;
}

enum { PAC__PHA = 0, PAC__AMP = 1 };
typedef struct pac__work pac__work_t;

/* A sum behind pvalues: 64 integer bits (two's complement) and 64 fraction bits. Every value
   is rounded to 2^-64 before it is added, so the sums are exact and any order of adding gives
   the same, whatever the scale of the measure (an MVL carries the amplitude's units). */
typedef struct pac__wide { uint64_t hi, lo; } pac__wide;

/* v in the sums' fixed point; NaN (a NaN signal: it makes every mean NaN anyway) and values past
   2^62 (no measure reaches them) count 0 */
PAC_HD static inline pac__wide pac__wide_of(double v)
{
    pac__wide w = {0, 0};
    double whole, frac;
    if (!(v > -4.6e18 && v < 4.6e18)) return w;
    whole = floor(v);
    frac = ldexp(v - whole, 64); /* v - floor(v) is exact; frac < 2^64 */
    w.hi = (uint64_t)(int64_t)whole;
    w.lo = (uint64_t)frac;
    return w;
}

PAC_HD static inline void pac__wide_add(pac__wide *acc, pac__wide v)
{
    uint64_t lo = acc->lo + v.lo;
    acc->hi += v.hi + (lo < v.lo);
    acc->lo = lo;
}

static int pac__wide_less(pac__wide a, pac__wide b)
{
    int64_t ah = (int64_t)(a.hi ^ ((uint64_t)1 << 63)), bh = (int64_t)(b.hi ^ ((uint64_t)1 << 63)); /* order as signed */
    return ah < bh || (ah == bh && a.lo < b.lo);
}

/* A cell's signal-averaged measure, its p-value, and where it goes (pac__pvalues) */
typedef struct pac__cellp { double m, p; uint32_t at; } pac__cellp;

/* qsort's order of cells by p-value */
static int pac__by_p(const void *a, const void *b)
{
    double x = ((const pac__cellp *)a)->p, y = ((const pac__cellp *)b)->p;
    return x < y ? -1 : x > y;
}

static double pac__wide_value(pac__wide a)
{
    double hi = a.hi >> 63 ? -(double)(~a.hi) - 1.0 : (double)a.hi;
    return hi + ldexp((double)a.lo, -64);
}

/* Everything a run shares read-only, and the little it shares read-write under the lock. */
typedef struct pac__eng {
    /* the problem */
    int given;                /* 1: phases and amplitudes are given, not signals */
    const void *x;            /* signals (n_sig x n) */
    const void *x_amp;        /* the amplitude's signals (desc.x_amp), or x */
    tp_dtype dtype;
    const double *pha, *amp;  /* given phases (n_pha x n_sig x n) and amplitudes, or NULL */
    size_t n_sig, n, n_band[2];
    size_t t0, nt;            /* the samples measured: [t0, t0 + nt) of the n filtered (desc.edges) */
    const double *bands[2];
    int cycles[2], surr;
    int wavelet;              /* desc.dcomplex: Morlet wavelets instead of FIR filters and Hilbert */
    double width;
    pac_mi method;            /* resolved: PAC_MI_TORT or PAC_MI_TENSORPAC (HR: its pooled counts) */
    pac_measure measure;      /* resolved: PAC_MVL .. PAC_GCPAC */
    int vec;                  /* a vector measure (MVL, ndPAC, PLV, copula: section >>vector) */
    pac_norm norm;
    double nd_limit;          /* ndPAC: a cell whose |sum|^2 is at most this is 0 */
    int adjusted;             /* what the run changed as tensorpac does: 1 ndPAC's surrogates dropped, 2 a normalisation */
    int erpac;                /* 0: pac_run; 1 + pac_erpac_method: pac_erpac (pass 0 over epochs, pass 1 over times) */
    double *all_av;           /* pac_erpac: every epoch's amplitudes, n_amp x n_sig x nt */
    size_t smooth;            /* pac_erpac, gc: desc.smooth; then each time's copula sums are kept: */
    double *s_xy, *s_xx, *s_yy; /* (1 + n_perm) x n_amp x n_pha x nt x 2 (then each permutation's), n_pha x nt x 3,
                                   n_amp x nt */
    pac_erpac_output eout;
    double *gauss;            /* the copula: ndtri((r + 1) / (n + 1)) of each rank r */
    double *all_vp;           /* vector measures: every signal's phase vectors (plan.keep_phase_bins) */
    pac_fft *fc;              /* vector measures with many shifts: transforms of length nt, for every shift at once */
    pac_fft *ht;              /* the PLV's Hilbert transforms of the measured samples (h itself without edges) */
    size_t lht;               /* its length */
    pac_signal_kind what;     /* what pac_bandpass writes */
    double *bp_out;           /* pac_bandpass's output, or NULL */
    size_t n_perm;
    const int64_t *shifts;    /* n_perm amplitude shifts (swap-blocks, time-lag) */
    int64_t *shift_buf;       /* where drawn shifts go */
    const uint32_t *perms;    /* n_perm x n_sig: the phase signal paired with each (swap-epochs) */
    const uint32_t *pairs;    /* desc.pairs: given ones */
    uint32_t *perm_buf;       /* where drawn ones go */
    pac_output out;
    pac_plan_info plan;
    tp_progress_fn progress;
    void *user;
    tp_logger log;
    /* the filter bank */
    double fs;
    size_t lh, lf[2], half[2], pmax[2], lf_max;
    pac_fft *f[2], *h;
    double *kernel[2];        /* per band |B(f)|^2 for f <= lf / 2 */
    pac__bins bins;
    pac__hist_fn histogram;
    pac__mi_fn mi;
    pac__bin_fn bin;
    pac__dot_fn dot;
    pac__dot4_fn dot4;        /* four cells at once (AVX2, AVX-512), or NULL */
    pac__angle_fn angles;
    pac__unit_fn units;
    int f32;                  /* desc.precision == TP_F32: amplitudes and histograms in floats */
    /* phase bins of every signal (plan.keep_phase_bins), their counts, the pooled counts */
    unsigned char *all_bins;
    uint32_t *all_counts;
    size_t pooled[PAC_MAX_BINS];
    int k;                    /* phase bins (desc.n_bins) */
    const uint64_t *given_pooled; /* desc.pooled_counts */
    int count_only;           /* pac_count_bins: pass 0's pooled counts, nothing else */
    uint64_t *counts_out;     /* where they go */
    pac__wide *max_sum;       /* n_perm x n_amp x n_pha fixed-point sums over signals (pvalues) */
    pac__cellp *cellp;        /* n_amp x n_pha: pvalues' work */
    pac_mcp mcp;
    /* work distribution: done, stop and stop_msg under the team's lock */
    tp_team *team;
    pac__work_t *work;        /* a worker's buffers, by team worker */
    size_t done, total;
    int pass;
    tp_result stop;
    char stop_msg[200];       /* why a worker stopped the run, when it was not the progress callback */
    /* the CUDA backend (PACGPU_USE_CUDA): the run on the device */
    int cuda, device;
    double device_fraction;
    tp_pool *pool;            /* the run's host memory (the CUDA path's staging comes from it too) */
} pac__eng;

/* The CUDA path's host staging, one pool block (pac__staging_layout) */
typedef struct pac__staging {
    double *hx, *hres, *hvals; /* a chunk's signals, its cells' four statistics, every MI of them (the cube) */
    double *hwt;               /* every series' bin weights */
    uint32_t *hcounts, *htask; /* every series' bin counts; the runs kernel's order of surrogates */
    int *hok;                  /* every series: occupied bins enough for an MI */
} pac__staging;

/* One worker's buffers (carved from one pool block) */
typedef struct pac__work {
    pac__eng *e;
    double *sr, *si, *wr, *wi, *hr, *hi, *scratch; /* spectrum, band pair, Hilbert pair, FFT scratch */
    unsigned char *bins;      /* n_pha x n (when not kept for all signals) */
    uint32_t *counts;         /* n_pha x (k + 1) */
    void *amp_t;              /* n x ld doubles or floats */
    void *hist;               /* k x ld doubles or floats */
    uint32_t *order, *start;  /* the phase series' samples by bin (pac__sort_bins): n, k + 1 */
    double *hist64;           /* the histogram's k rows in doubles (hist itself for doubles) */
    double *mi0, *mean, *m2, *vals; /* ld each */
    double *vp, *va, *yy;     /* vector measures: phase vectors (n_pha x 2n), the pass's amplitudes (bands x 2n), ld */
    double *fa, *fx, *fv, *fs; /* their transforms (bands x 2n), every shift's sums (bands x 2n), 2n, scratch */
    double *by_partner;       /* swap-epochs: the pass's measures with each signal's phases (n_sig x ld) */
    double *ep, *perm_max;    /* pac_erpac: one time's values across epochs ((2 n_pha + n_amp) x n_sig), each permutation's largest */
    size_t *partner_q;        /* the phase band + 1 each row of by_partner holds (0: none yet) */
    uint32_t *idx;            /* the copula: 4n for its ranks */
    size_t *n_ge;
    pac__wide *fixed;         /* ld */
    size_t ld;
} pac__work;

static void pac__lock(pac__eng *e) { tp_team_lock(e->team); }
static void pac__unlock(pac__eng *e) { tp_team_unlock(e->team); }

static size_t pac__round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* Bytes of an FFT plan as pac__fft_alloc requests them (smooth lengths only) */
static size_t pac__fft_bytes(size_t len) { return len ? 2 * len * sizeof(double) + sizeof(pac_fft) + 64 : 0; }

#ifndef PAC__SHIFT_FFT_MIN
#define PAC__SHIFT_FFT_MIN 16 /* shifted surrogates of a vector measure from transforms past this many */
#endif

/* A vector measure's shifted surrogates all at once: sum_t A[t + c] U[t] for every c is the
   inverse transform of FFT(A) conj(FFT(conj U)), n log n per cell instead of n per surrogate. The
   rule depends on the problem alone, so the plan never changes a bit of the results. */
static int pac__shift_fft(const pac__eng *e)
{
    return e->vec && e->n_perm >= PAC__SHIFT_FFT_MIN && e->surr != PAC_SURR_SWAP_EPOCHS;
}

/* tensorpac's pooled bin counts are counted in a first pass (unless desc.pooled_counts gives them) */
static int pac__counts_pooled(const pac__eng *e)
{
    return e->method == PAC_MI_TENSORPAC && !e->given_pooled && !e->vec;
}

/* The PLV takes Hilbert transforms of the measured samples alone: with edges, of another length;
   on given amplitudes, with a plan of its own (there is no filter bank) */
static int pac__trimmed_hilbert(const pac__eng *e)
{
    return e->measure == PAC_PLV && (e->nt != e->n || e->given);
}

/* Lanes of a pass: bands rounded up to 64 bytes of doubles or floats */
static size_t pac__lanes(size_t na, int f32) { return f32 ? (na + 15) / 16 * 16 : (na + 7) / 8 * 8; }

/* Reserves bytes (rounded to 64) at *off of a block carved from base (NULL: only counting);
   returns where they start. Under AddressSanitizer each region gets 64 more bytes, marked out of
   bounds with its slack, so that a region carved short overruns into marks, not into its
   neighbour (tensorpool 7). */
static size_t pac__take(char *base, size_t *off, size_t bytes)
{
    size_t at = *off;
    *off += pac__round64(bytes) + TP_REDZONE;
    if (base) TP_POISON(base + at + bytes, *off - at - bytes);
    return at;
}

/* The worker block: its parts in order; carves them from base when base != NULL. */
static size_t pac__work_layout(const pac__eng *e, size_t na, int keep, char *base, pac__work *w)
{
    /* on the CUDA path a worker only designs the filters (a spectrum pair, FFT scratch): cpu = 0 */
    size_t cpu = !e->cuda, ld = cpu * pac__lanes(na, e->f32), off = 0, el = e->f32 ? sizeof(float) : sizeof(double);
    size_t lfm = e->lf_max, lh = lfm ? e->lh : 0, n = cpu * e->nt, np = cpu * e->n_band[PAC__PHA];
    if (e->given && e->vec) { /* a pair of given amplitudes (wr, wi), and the PLV's Hilbert pair */
        lfm = pac__trimmed_hilbert(e) ? e->lht : e->nt;
        lh = pac__trimmed_hilbert(e) ? e->lht : 0;
    }
    size_t sc = lfm ? 2 * (lfm > lh ? lfm : lh) : 0, d = sizeof(double);
    size_t o_sr = pac__take(base, &off, lfm * d), o_si = pac__take(base, &off, lfm * d), o_wr = pac__take(base, &off, cpu * lfm * d);
    size_t o_wi = pac__take(base, &off, cpu * lfm * d), o_hr = pac__take(base, &off, cpu * lh * d), o_hi = pac__take(base, &off, cpu * lh * d);
    size_t o_sc = pac__take(base, &off, sc * d), o_bins = pac__take(base, &off, keep || e->vec ? 0 : np * n);
    size_t kb = (size_t)e->k, o_cnt = pac__take(base, &off, keep || e->vec ? 0 : np * (kb + 1) * sizeof(uint32_t));
    size_t hn = e->vec ? 0 : n, hl = e->vec ? 0 : ld, vn = e->vec ? n : 0; /* the histograms', the vectors' */
    size_t o_amp = pac__take(base, &off, hn * ld * el), o_hist = pac__take(base, &off, kb * hl * el);
    size_t o_ord = pac__take(base, &off, hn * sizeof(uint32_t)), o_start = pac__take(base, &off, (kb + 1) * sizeof(uint32_t));
    size_t o_h64 = pac__take(base, &off, e->f32 ? kb * hl * d : 0);
    size_t o_vp = pac__take(base, &off, keep ? 0 : 2 * np * vn * d), o_va = pac__take(base, &off, 2 * na * vn * d);
    size_t o_yy = pac__take(base, &off, e->vec ? ld * d : 0), o_idx = pac__take(base, &off, e->measure == PAC_GCPAC ? 4 * vn * sizeof(uint32_t) : 0);
    size_t fn = cpu && pac__shift_fft(e) ? e->nt : 0; /* every shift by transforms */
    size_t o_fa = pac__take(base, &off, 2 * na * fn * d), o_fx = pac__take(base, &off, 2 * na * fn * d);
    size_t o_fv = pac__take(base, &off, 2 * fn * d), o_fs = pac__take(base, &off, fn ? pac__split_scratch_for(fn) * d : 0);
    size_t pn = cpu && e->vec && e->surr == PAC_SURR_SWAP_EPOCHS ? e->n_sig : 0; /* a row per partner signal */
    size_t o_bp = pac__take(base, &off, pn * ld * d), o_pq = pac__take(base, &off, pn * sizeof(size_t));
    size_t en = cpu && e->erpac ? e->n_sig : 0, o_ep = pac__take(base, &off, (2 * np + e->n_band[PAC__AMP]) * en * d);
    size_t o_pm = pac__take(base, &off, en ? e->n_perm * d : 0), o_ei = pac__take(base, &off, 4 * en * sizeof(uint32_t));
    size_t o_acc = pac__take(base, &off, 4 * ld * d), o_ge = pac__take(base, &off, ld * sizeof(size_t));
    size_t o_fix = pac__take(base, &off, ld * sizeof(pac__wide));
    if (base) {
        w->sr = (double *)(void *)(base + o_sr);
        w->si = (double *)(void *)(base + o_si);
        w->wr = (double *)(void *)(base + o_wr);
        w->wi = (double *)(void *)(base + o_wi);
        w->hr = (double *)(void *)(base + o_hr);
        w->hi = (double *)(void *)(base + o_hi);
        w->scratch = (double *)(void *)(base + o_sc);
        w->bins = keep ? NULL : (unsigned char *)(base + o_bins);
        w->counts = keep ? NULL : (uint32_t *)(void *)(base + o_cnt);
        w->amp_t = base + o_amp;
        w->hist = base + o_hist;
        w->order = (uint32_t *)(void *)(base + o_ord);
        w->start = (uint32_t *)(void *)(base + o_start);
        w->hist64 = e->f32 ? (double *)(void *)(base + o_h64) : (double *)w->hist;
        w->mi0 = (double *)(void *)(base + o_acc);
        w->mean = w->mi0 + ld;
        w->m2 = w->mean + ld;
        w->vals = w->m2 + ld;
        w->n_ge = (size_t *)(void *)(base + o_ge);
        w->fixed = (pac__wide *)(void *)(base + o_fix);
        w->vp = keep || !e->vec ? NULL : (double *)(void *)(base + o_vp);
        w->va = (double *)(void *)(base + o_va);
        w->yy = (double *)(void *)(base + o_yy);
        w->idx = (uint32_t *)(void *)(base + o_idx);
        w->fa = (double *)(void *)(base + o_fa);
        w->fx = (double *)(void *)(base + o_fx);
        w->fv = (double *)(void *)(base + o_fv);
        w->fs = (double *)(void *)(base + o_fs);
        w->by_partner = (double *)(void *)(base + o_bp);
        w->ep = (double *)(void *)(base + o_ep);
        w->perm_max = (double *)(void *)(base + o_pm);
        if (en) w->idx = (uint32_t *)(void *)(base + o_ei); /* ranks across epochs */
        w->partner_q = (size_t *)(void *)(base + o_pq);
        w->ld = ld;
    }
    return off;
}

/* The shared block: kernels, kept phase bins and counts, surrogate shifts or permutations,
   fixed-point sums for pvalues; carved into e when base != NULL. */
static size_t pac__shared_layout(pac__eng *e, int keep, char *base)
{
    size_t off = 0, np = e->n_band[PAC__PHA], na = e->n_band[PAC__AMP], d = sizeof(double);
    int epochs = e->surr == PAC_SURR_SWAP_EPOCHS, maxstat = e->n_perm > 0;
    size_t o_k0 = pac__take(base, &off, e->half[0] * np * d), o_k1 = pac__take(base, &off, e->half[1] * na * d);
    size_t o_bins, o_cnt, o_vp, o_gauss;
    int bins;
    keep = keep && !e->cuda; /* the device keeps its own */
    bins = keep && !e->vec;
    o_bins = pac__take(base, &off, bins ? np * e->n_sig * e->nt : 0);
    o_cnt = pac__take(base, &off, bins ? np * e->n_sig * (size_t)(e->k + 1) * sizeof(uint32_t) : 0);
    o_vp = pac__take(base, &off, keep && e->vec ? 2 * np * e->n_sig * e->nt * d : 0);
    o_gauss = pac__take(base, &off, e->measure == PAC_GCPAC ? e->nt * d : e->erpac == 1 + PAC_ERPAC_GC ? e->n_sig * d : 0);
    size_t o_av = pac__take(base, &off, e->erpac ? na * e->n_sig * e->nt * d : 0);
    size_t sm = e->smooth ? e->nt : 0, o_sxy = pac__take(base, &off, 2 * (1 + e->n_perm) * na * np * sm * d);
    size_t o_sxx = pac__take(base, &off, 3 * np * sm * d), o_syy = pac__take(base, &off, na * sm * d);
    size_t o_shift = pac__take(base, &off, e->n_perm && !epochs ? e->n_perm * sizeof(int64_t) : 0);
    size_t o_perm = pac__take(base, &off, e->n_perm && epochs && !e->pairs ? e->n_perm * e->n_sig * sizeof(uint32_t) : 0);
    size_t o_max = pac__take(base, &off, maxstat ? e->n_perm * na * np * sizeof(pac__wide) : 0);
    size_t o_cellp = pac__take(base, &off, maxstat ? na * np * sizeof(pac__cellp) : 0);
    if (base) {
        e->kernel[0] = (double *)(void *)(base + o_k0);
        e->kernel[1] = (double *)(void *)(base + o_k1);
        e->all_bins = bins ? (unsigned char *)(base + o_bins) : NULL;
        e->all_counts = bins ? (uint32_t *)(void *)(base + o_cnt) : NULL;
        e->all_vp = keep && e->vec ? (double *)(void *)(base + o_vp) : NULL;
        e->gauss = e->measure == PAC_GCPAC || e->erpac == 1 + PAC_ERPAC_GC ? (double *)(void *)(base + o_gauss) : NULL;
        e->all_av = e->erpac ? (double *)(void *)(base + o_av) : NULL;
        e->s_xy = (double *)(void *)(base + o_sxy);
        e->s_xx = (double *)(void *)(base + o_sxx);
        e->s_yy = (double *)(void *)(base + o_syy);
        e->shift_buf = (int64_t *)(void *)(base + o_shift);
        e->perm_buf = (uint32_t *)(void *)(base + o_perm);
        e->perms = !epochs || !e->n_perm ? NULL : e->pairs ? e->pairs : e->perm_buf;
        e->max_sum = maxstat ? (pac__wide *)(void *)(base + o_max) : NULL;
        e->cellp = maxstat ? (pac__cellp *)(void *)(base + o_cellp) : NULL;
    }
    return off;
}

/* Everything a run takes from the pool (plan, sizes already checked against overflow), the CUDA
   path's staging apart: the shared block, a block per worker, the FFT plans, the team. */
static size_t pac__bytes(pac__eng *e, size_t threads, size_t na, int keep)
{
    size_t total = pac__shared_layout(e, keep, NULL) + threads * pac__work_layout(e, na, keep, NULL, NULL);
    if (e->lf_max) total += pac__fft_bytes(e->lf[0]) + pac__fft_bytes(e->lf[1]) + pac__fft_bytes(e->lh);
    if (pac__shift_fft(e)) total += pac__fft_block_bytes(e->nt);
    if (pac__trimmed_hilbert(e)) total += pac__fft_bytes(e->lht);
    return total + (threads > 1 ? tp_team_bytes((int)threads) : 0);
}

#ifndef PAC_TEST_CUDA_CHUNK_CAP
#define PAC_TEST_CUDA_CHUNK_CAP ((size_t)-1) /* at most this many signals per chunk (tests set it low) */
#endif

/* The most signals a chunk of the CUDA path takes (up to cap): 64, whose cells keep a device
   busy, or a sixteenth of them past 64 x 16, so that a long run reports progress (and can be
   cancelled) every 64 signals or 16 times a pass */
static size_t pac__gpu_chunk_cap(size_t n_sig, size_t cap)
{
    size_t step = n_sig / 16 + (n_sig % 16 != 0), most = step > 64 ? step : 64;
    most = most < cap ? most : cap;
    return n_sig < most ? n_sig : most;
}

/* The CUDA path's host staging for chunks of `chunk` signals: what does not grow with the chunk
   (every series' counts, weights and flag; the runs kernel's order, counted whether it runs or
   not) plus per signal its samples, its cells' four statistics and, for the surrogate cube or
   pvalues, every surrogate's MI of its cells (the plan counts them whenever there are
   surrogates: it does not know the outputs). SIZE_MAX past size_t. Carves h from base. */
static size_t pac__staging_layout(const pac__eng *e, int planning, size_t chunk, char *base, pac__staging *h)
{
    size_t off = 0, series = e->n_band[PAC__PHA] * e->n_sig, cells = e->n_band[PAC__PHA] * e->n_band[PAC__AMP], d = sizeof(double);
    int kept = planning ? e->n_perm > 0 : e->out.surrogates != NULL; /* pvalues' sums are added on the device */
    size_t every = kept ? e->n_perm + 1 : 0, per_signal, t;
    size_t o_x, o_res, o_vals, o_wt, o_cnt, o_ok, o_task;
    if (!tp_size_mul(cells, 4 + every, &t) || !tp_size_add(t, e->n, &t) || !tp_size_mul(t, d, &per_signal) ||
        !tp_size_mul(per_signal, chunk, &t) || t > SIZE_MAX / 2)
        return SIZE_MAX;
    o_x = pac__take(base, &off, chunk * e->n * d), o_res = pac__take(base, &off, 4 * chunk * cells * d);
    o_wt = pac__take(base, &off, series * PAC_N_BINS * d);
    o_cnt = pac__take(base, &off, series * (PAC_N_BINS + 1) * sizeof(uint32_t)), o_ok = pac__take(base, &off, series * sizeof(int));
    o_task = pac__take(base, &off, e->n_perm ? (e->n_perm + 1) * sizeof(uint32_t) : 0);
    o_vals = pac__take(base, &off, every * chunk * cells * d); /* the largest last: past it, ASan's marks (tensorpool 7) */
    if (base) {
        h->hx = (double *)(void *)(base + o_x);
        h->hres = (double *)(void *)(base + o_res);
        h->hvals = every ? (double *)(void *)(base + o_vals) : NULL;
        h->hwt = (double *)(void *)(base + o_wt);
        h->hcounts = (uint32_t *)(void *)(base + o_cnt);
        h->hok = (int *)(void *)(base + o_ok);
        h->htask = (uint32_t *)(void *)(base + o_task);
    }
    return off;
}

/* The most signals a chunk of the CUDA path may hold (pac__gpu_chunk_cap) with its staging within
   `left` bytes of the pool (0: not even one) */
static size_t pac__staging_chunk(const pac__eng *e, int planning, size_t left)
{
    size_t lo = 0, hi = pac__gpu_chunk_cap(e->n_sig, PAC_TEST_CUDA_CHUNK_CAP), slack = 4096 + 64;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2, b = pac__staging_layout(e, planning, mid, NULL, NULL);
        if (b != SIZE_MAX && b + slack <= left) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}
/* Sample i of a signal x of n samples odd-extended by p at each end (scipy's odd padding: p + n
   + p samples), 0 past them */
PAC_HD static inline double pac__odd_ext(const double *x, size_t n, size_t p, size_t i)
{
    if (i < p) return 2.0 * x[0] - x[p - i];
    if (i < p + n) return x[i - p];
    if (i < 2 * p + n) return 2.0 * x[n - 1] - x[n - 2 - (i - p - n)];
    return 0.0;
}

/* One frequency of a band pair's product: spectrum S times K1 + i K2 (K real) */
PAC_HD static inline void pac__pair_mul(double sr, double si, double k1, double k2, double *wr, double *wi)
{
    *wr = sr * k1 - si * k2;
    *wi = sr * k2 + si * k1;
}

/* Frequency t of lh times -i sign(f) (0 at f = 0 and at Nyquist): the Hilbert transform */
PAC_HD static inline void pac__hilbert_mul(size_t t, size_t lh, double *re, double *im)
{
    double r = *re;
    if (t == 0 || 2 * t == lh) *re = *im = 0.0;
    else if (t < (lh + 1) / 2) *re = *im, *im = -r; /* times -i */
    else *re = -*im, *im = r;                        /* times +i */
}

/* The CUDA runs kernel with amplitude rows stored once (n rows of ag bands, span = 4 n ag bytes):
   for a surrogate shifted by shift samples and band a, the byte offset of its time-0 row (off),
   the same a copy earlier (early = off - span, modulo 2^32) and the time offset from which its
   shifted time passes the last row (thr) */
PAC_HD static inline void pac__wrap_plan(unsigned shift, unsigned a, unsigned ag, unsigned span, unsigned *off, unsigned *early,
                                         unsigned *thr)
{
    *off = (shift * ag + a) * 4, *early = *off - span, *thr = span - shift * ag * 4;
}

/* ...and the byte offset of time offset at (4 t ag) shifted: ((t + shift) mod n) ag + a, times 4 */
PAC_HD static inline unsigned pac__wrap_row(unsigned at, unsigned off, unsigned early, unsigned thr)
{
    return (at >= thr ? early : off) + at;
}

/* The amplitude of a filtered sample y and its Hilbert transform h (times the scale inv) */
PAC_HD static inline double pac__amplitude(double y, double h, double inv)
{
    double hv = h * inv;
    return sqrt(y * y + hv * hv);
}

/* Odd extension of signal s by p samples at each end (scipy's odd padding) into re, zero-filled
   to len, with im zeroed, then its forward transform. */
static void pac__spectrum(const pac__eng *e, pac__work *w, size_t s, int kind)
{
    size_t n = e->n, p = e->pmax[kind], len = e->lf[kind], i;
    double *buf = w->sr;
    const void *src = kind == PAC__AMP ? e->x_amp : e->x;
    if (e->dtype == TP_F32) {
        const float *x = (const float *)src + s * n;
        for (i = 0; i < n; i++) buf[p + i] = x[i];
    } else {
        const double *x = (const double *)src + s * n;
        for (i = 0; i < n; i++) buf[p + i] = x[i];
    }
    for (i = 0; i < p; i++) {
        buf[i] = pac__odd_ext(buf + p, n, p, i);
        buf[p + n + i] = pac__odd_ext(buf + p, n, p, p + n + i);
    }
    memset(buf + n + 2 * p, 0, (len - n - 2 * p) * sizeof(double));
    memset(w->si, 0, len * sizeof(double));
    pac__fft_split(e->f[kind], w->sr, w->si, w->scratch);
}

/* Band-passes bands b and b + 1 (b alone when two = 0) of the signal whose spectrum is in
   (sr, si): one inverse transform of S (K_b + i K_b+1) gives both (real and imaginary part), one
   transform pair gives both Hilbert transforms (multiplier -i sign(f), zero at 0 and Nyquist:
   scipy's hilbert without its real part, which is the signal itself). Leaves the filtered
   signals in wr, wi and their Hilbert transforms times lh in hr, hi (first n samples). */
/* tensorpac's Morlet wavelet of a band centred at f Hz: taps t_i = start + i delta, i < *len
   (numpy.arange(-w st / 2, w st / 2, 1 / fs), delta its first two values' difference), st =
   w / (2 pi f); returns start, and delta and the scale a = 1 / sqrt(st sqrt(pi)) in *delta, *a */
static double pac__morlet_taps(double fs, double f, double width, size_t *len, double *delta, double *a)
{
    double dt = 1.0 / fs, sf = f / width, st = 1.0 / (2.0 * PAC__PI * sf), start = -width * st / 2, stop = width * st / 2;
    double count = ceil((stop - start) / dt);
    *len = count >= 1 && count < 1e9 ? (size_t)count : 0;
    *delta = (start + dt) - start;
    *a = 1.0 / sqrt(st * sqrt(PAC__PI));
    return start;
}

/* The wavelet transforms of bands b and b + 1 (b alone when two = 0) of the signal whose
   zero-padded spectrum is in (sr, si): per band one product with the wavelet's spectrum and one
   inverse transform, np.convolve's full convolution, of which the n samples centred as tensorpac
   slices them are kept. Leaves what pac__band_pair leaves: real parts in wr, wi, imaginary parts
   times lh in hr, hi. */
static void pac__wavelet_pair(const pac__eng *e, pac__work *w, int kind, size_t b, int two)
{
    size_t lf = e->lf[kind], n = e->n, t, j;
    double inv = 1.0 / (double)lf, lh = (double)e->lh;
    for (j = two ? 2 : 1; j-- > 0;) { /* band b + 1 first: its real part waits in hr */
        const double *kr = e->kernel[kind] + (b + j) * e->half[kind], *ki = kr + lf, *sr = w->sr, *si = w->si;
        double *wr = w->wr, *wi = w->wi, delta, a, f = 0.5 * (e->bands[kind][2 * (b + j)] + e->bands[kind][2 * (b + j) + 1]);
        size_t len, c0;
        pac__morlet_taps(e->fs, f, e->width, &len, &delta, &a);
        c0 = (len + 1) / 2 - 1; /* ceil(len / 2) - 1 */
        for (t = 0; t < lf; t++) {
            wr[t] = sr[t] * kr[t] - si[t] * ki[t];
            wi[t] = sr[t] * ki[t] + si[t] * kr[t];
        }
        pac__fft_split(e->f[kind], wi, wr, w->scratch); /* inverse */
        if (j == 1) {
            for (t = 0; t < n; t++) {
                w->hi[t] = wi[c0 + t] * inv * lh;
                w->hr[t] = wr[c0 + t] * inv;
            }
            continue;
        }
        for (t = 0; t < n; t++) { /* reads ahead of the writes: c0 >= 0 */
            double re = wr[c0 + t] * inv, im = wi[c0 + t] * inv;
            if (two) wi[t] = w->hr[t];
            w->hr[t] = im * lh;
            wr[t] = re;
        }
    }
}

static void pac__band_pair(const pac__eng *e, pac__work *w, int kind, size_t b, int two)
{
    size_t lf = e->lf[kind], half = e->half[kind], n = e->n, lh = e->lh, p = e->pmax[kind], t;
    if (e->wavelet) {
        pac__wavelet_pair(e, w, kind, b, two);
        return;
    }
    const double *k1 = e->kernel[kind] + b * half, *k2 = two ? k1 + half : NULL;
    const double *sr = w->sr, *si = w->si;
    double *wr = w->wr, *wi = w->wi, *hr = w->hr, *hi = w->hi, inv = 1.0 / (double)lf;
    if (two) { /* the kernels are even: K[lf - f] = K[f] */
        for (t = 0; t < half; t++) pac__pair_mul(sr[t], si[t], k1[t], k2[t], &wr[t], &wi[t]);
        for (; t < lf; t++) pac__pair_mul(sr[t], si[t], k1[lf - t], k2[lf - t], &wr[t], &wi[t]);
    } else {
        for (t = 0; t < half; t++) pac__pair_mul(sr[t], si[t], k1[t], 0.0, &wr[t], &wi[t]);
        for (; t < lf; t++) pac__pair_mul(sr[t], si[t], k1[lf - t], 0.0, &wr[t], &wi[t]);
    }
    pac__fft_split(e->f[kind], wi, wr, w->scratch); /* inverse */
    for (t = 0; t < n; t++) {
        hr[t] = wr[t] = wr[p + t] * inv;
        hi[t] = wi[t] = wi[p + t] * inv;
    }
    memset(hr + n, 0, (lh - n) * sizeof(double));
    memset(hi + n, 0, (lh - n) * sizeof(double));
    pac__fft_split(e->h, hr, hi, w->scratch);
    for (t = 0; t < lh; t++) pac__hilbert_mul(t, lh, &hr[t], &hi[t]);
    pac__fft_split(e->h, hi, hr, w->scratch); /* inverse */
}

/* counts[j] += the samples in bin j, four interleaved tallies so that runs of one bin do not
   wait on their own increments */
static void pac__count(const unsigned char *bq, size_t n, int k, uint32_t *counts)
{
    uint32_t c[4][PAC_MAX_BINS + 1];
    size_t t;
    int j;
    memset(c, 0, sizeof c);
    for (t = 0; t + 4 <= n; t += 4) {
        c[0][bq[t]]++;
        c[1][bq[t + 1]]++;
        c[2][bq[t + 2]]++;
        c[3][bq[t + 3]]++;
    }
    for (; t < n; t++) c[0][bq[t]]++;
    for (j = 0; j <= k; j++) counts[j] += c[0][j] + c[1][j] + c[2][j] + c[3][j];
}

/* Phase bins and per-series counts of signal s, from its filtered signal or from the given
   phases; band q's go to bins + q * bstride and counts + q * cstride. */
static void pac__phase_bins(const pac__eng *e, pac__work *w, size_t s, unsigned char *bins, size_t bstride,
                            uint32_t *counts, size_t cstride)
{
    size_t np = e->n_band[PAC__PHA], n = e->nt, t0 = e->t0, q, t;
    double inv = e->lh ? 1.0 / (double)e->lh : 0;
    for (q = 0; q < np; q++) memset(counts + q * cstride, 0, (size_t)(e->k + 1) * sizeof(uint32_t));
    if (e->given) {
        for (q = 0; q < np; q++)
            for (t = 0; t < n; t++) {
                unsigned char b = bins[q * bstride + t] = pac__bin_of(&e->bins, e->pha[(q * e->n_sig + s) * n + t]);
                counts[q * cstride + b]++;
            }
        return;
    }
    pac__spectrum(e, w, s, PAC__PHA);
    for (q = 0; q < np; q += 2) {
        int two = q + 1 < np, j;
        pac__band_pair(e, w, PAC__PHA, q, two);
        for (j = 0; j <= two; j++) {
            const double *y = j ? w->wi : w->wr, *h = j ? w->hi : w->hr;
            unsigned char *bq = bins + (q + (size_t)j) * bstride;
            uint32_t *cq = counts + (q + (size_t)j) * cstride;
            e->bin(&e->bins, y + t0, h + t0, inv, n, bq);
            pac__count(bq, n, e->k, cq);
        }
    }
}

/* amp_t[t * ld + lane] = v[t], in the run's precision */
static void pac__put_lane(const pac__eng *e, pac__work *w, size_t lane, const double *v, size_t n)
{
    size_t t, ld = w->ld;
    if (e->f32) {
        float *dst = (float *)w->amp_t + lane;
        for (t = 0; t < n; t++) dst[t * ld] = (float)v[t];
    } else {
        double *dst = (double *)w->amp_t + lane;
        for (t = 0; t < n; t++) dst[t * ld] = v[t];
    }
}

/* Amplitudes of bands a0 .. a0 + na - 1 of signal s, transposed: amp_t[t * ld + a - a0]
   (padding lanes 0). The signal's amplitude spectrum is computed when a0 == 0. */
static void pac__amplitudes(const pac__eng *e, pac__work *w, size_t s, size_t a0, size_t na)
{
    size_t n = e->nt, t0 = e->t0, ld = w->ld, a, b, t, el = e->f32 ? sizeof(float) : sizeof(double);
    double inv = e->lh ? 1.0 / (double)e->lh : 0;
    if (ld > na)
        for (t = 0; t < n; t++) memset((char *)w->amp_t + (t * ld + na) * el, 0, (ld - na) * el);
    if (e->given) {
        for (a = 0; a < na; a++) pac__put_lane(e, w, a, e->amp + ((a0 + a) * e->n_sig + s) * n, n);
        return;
    }
    if (a0 == 0) pac__spectrum(e, w, s, PAC__AMP);
    for (b = a0 & ~(size_t)1; b < a0 + na; b += 2) { /* pairs (2i, 2i + 1) whatever the pass: the same rounding */
        int two = b + 1 < e->n_band[PAC__AMP], j;
        pac__band_pair(e, w, PAC__AMP, b, two);
        for (j = 0; j <= two; j++) {
            double *y = j ? w->wi : w->wr;
            const double *h = j ? w->hi : w->hr;
            if (b + (size_t)j < a0 || b + (size_t)j >= a0 + na) continue; /* the partner of a pass's edge band */
            for (t = t0; t < t0 + n; t++) y[t] = pac__amplitude(y[t], h[t], inv); /* y is not needed after this */
            pac__put_lane(e, w, b + (size_t)j - a0, y + t0, n);
        }
    }
}

/* The phase bins and counts of (signal s, phase band q) */
static const unsigned char *pac__bins_of(const pac__eng *e, const pac__work *w, size_t s, size_t q, const uint32_t **cnt)
{
    size_t n = e->nt;
    if (e->all_bins) {
        *cnt = e->all_counts + (q * e->n_sig + s) * (size_t)(e->k + 1);
        return e->all_bins + (q * e->n_sig + s) * n;
    }
    *cnt = w->counts + q * (size_t)(e->k + 1);
    return w->bins + q * n;
}

/* The heights ratio of lanes [0, ld) of a histogram (as pac__mi_fn) */
static void pac__hr(const double *h, size_t ld, int k, const double *wt, double *hr)
{
    size_t a;
    for (a = 0; a < ld; a++) hr[a] = pac__hr_cell(h + a, ld, k, wt);
}

/* The histogram of the pass's amplitudes by the phase bins sorted in w->order / w->start
   (amplitudes shifted by shift) and the MI (or the heights ratio) of every lane into w->vals */
static void pac__histogram_mi(const pac__eng *e, pac__work *w, size_t shift, const double *wt)
{
    e->histogram(w->order, w->start, e->k, w->amp_t, e->nt, w->ld, shift, w->hist);
    if (e->f32) {
        const float *src = (const float *)w->hist;
        size_t i;
        for (i = 0; i < (size_t)e->k * w->ld; i++) w->hist64[i] = src[i];
    }
    if (e->measure == PAC_HR) pac__hr(w->hist64, w->ld, e->k, wt, w->vals);
    else e->mi(w->hist64, w->ld, e->k, wt, w->vals);
}

/* tensorpac's normalisation idn of a cell's value v by its surrogates' mean and std */
static double pac__normalise(pac_norm idn, double v, double mean, double sd)
{
    switch (idn) {
    case PAC_NORM_SUBTRACT: return v - mean;
    case PAC_NORM_DIVIDE: return v / mean;
    case PAC_NORM_SUBTRACT_DIVIDE: return (v - mean) / mean;
    case PAC_NORM_ZSCORE: return (v - mean) / sd;
    default: return v;
    }
}

/* A cell's outputs from its MI and its surrogates' mean, M2 and count of values >= the MI */
static void pac__finish_cell(const pac__eng *e, size_t cell, double mi0, double mean, double m2, size_t n_ge)
{
    const pac_output *o = &e->out;
    double sd, p;
    o->pac[cell] = mi0;
    if (!e->n_perm) {
        if (o->norm) o->norm[cell] = mi0;
        return;
    }
    sd = sqrt(m2 / (double)e->n_perm), p = (double)n_ge / (double)e->n_perm;
    if (o->norm) o->norm[cell] = pac__normalise(e->norm, mi0, mean, sd);
    if (o->surr_mean) o->surr_mean[cell] = mean;
    if (o->surr_std) o->surr_std[cell] = sd;
    if (o->z) o->z[cell] = (mi0 - mean) / sd;
    if (o->p) o->p[cell] = p > 1.0 / (double)e->n_perm ? p : 1.0 / (double)e->n_perm;
}

/* Where surrogate k's MI of cell (amplitude band a, phase band q, signal s) goes in the cube */
static size_t pac__cube_at(const pac__eng *e, size_t k, size_t a, size_t q, size_t s)
{
    return (k * e->n_band[PAC__AMP] + a) * e->n_band[PAC__PHA] * e->n_sig + q * e->n_sig + s;
}

/* Cells (amplitude bands a0 .. a0 + na - 1, phase band q) of signal s: the measure of each is in
   w->vals; it starts their surrogates' statistics. */
static void pac__tally_start(pac__work *w, size_t na)
{
    size_t a;
    for (a = 0; a < na; a++) {
        w->mi0[a] = w->vals[a];
        w->mean[a] = w->m2[a] = 0;
        w->n_ge[a] = 0;
    }
}

/* Surrogate k of those cells is in w->vals: into their statistics, the cube and the sums behind
   pvalues. */
static void pac__tally(pac__eng *e, pac__work *w, size_t s, size_t q, size_t a0, size_t na, size_t k)
{
    size_t np = e->n_band[PAC__PHA], nas = e->n_band[PAC__AMP], a;
    const pac_output *o = &e->out;
    for (a = 0; a < na; a++) { /* Welford over the surrogates of each cell */
        double v = w->vals[a];
        pac__welford(v, k, &w->mean[a], &w->m2[a]);
        w->n_ge[a] += v >= w->mi0[a];
        if (o->surrogates) o->surrogates[pac__cube_at(e, k, a0 + a, q, s)] = v;
        w->fixed[a] = pac__wide_of(v);
    }
    if (e->max_sum && (o->pvalues || o->sums)) { /* the sums only when pvalues or they are asked for */
        pac__wide *dst = e->max_sum + k * nas * np + q;
        pac__lock(e);
        for (a = 0; a < na; a++) pac__wide_add(&dst[(a0 + a) * np], w->fixed[a]);
        pac__unlock(e);
    }
}

static void pac__tally_finish(const pac__eng *e, const pac__work *w, size_t s, size_t q, size_t a0, size_t na)
{
    size_t a, np = e->n_band[PAC__PHA];
    for (a = 0; a < na; a++) pac__finish_cell(e, ((a0 + a) * np + q) * e->n_sig + s, w->mi0[a], w->mean[a], w->m2[a], w->n_ge[a]);
}


/* tensorpac's PreferredPhase from the unshifted histogram of (signal s, phase band q, the pass's
   bands): p_j = each bin's mean amplitude (pooled counts) over their sum, bins empty in the whole
   call 0 (tensorpac drops their rows); pp = the centre of the first largest, as numpy's
   arange(-pi, pi, 2 pi / K) + pi / K computes it (arange steps by its first two values'
   difference). NaN for a signal without phase bins. */
static void pac__preferred_phase(const pac__eng *e, const pac__work *w, size_t s, size_t q, size_t a0, size_t na, int ok)
{
    size_t np = e->n_band[PAC__PHA], nas = e->n_band[PAC__AMP], n_sig = e->n_sig, a, j, k = (size_t)e->k;
    double step = 2.0 * PAC__PI / (double)e->k, delta = (-PAC__PI + step) - -PAC__PI, nan_value = 0.0 / 0.0;
    for (a = 0; a < na; a++) {
        size_t cell = ((a0 + a) * np + q) * n_sig + s, best = 0;
        double sum = 0, top = -HUGE_VAL;
        for (j = 0; j < k; j++) sum += e->pooled[j] ? w->hist64[j * w->ld + a] / (double)e->pooled[j] : 0.0;
        for (j = 0; j < k; j++) {
            double v = e->pooled[j] ? w->hist64[j * w->ld + a] / (double)e->pooled[j] / sum : 0.0;
            if (!ok) v = nan_value;
            if (v > top) top = v, best = j;
            if (e->out.binned) e->out.binned[j * nas * np * n_sig + cell] = v;
        }
        if (e->out.pp) e->out.pp[cell] = ok && top == top ? (-PAC__PI + (double)best * delta) + step / 2 : nan_value;
    }
}

/* MI (or HR), surrogates and their statistics of every (amplitude band a0 .. a0 + na - 1, phase
   band) cell of signal s. */
static void pac__cells(pac__eng *e, pac__work *w, size_t s, size_t a0, size_t na)
{
    size_t np = e->n_band[PAC__PHA], n_sig = e->n_sig, q, k, a;
    double nan_value = 0.0 / 0.0;
    for (q = 0; q < np; q++) {
        const uint32_t *cnt;
        const unsigned char *bq = pac__bins_of(e, w, s, q, &cnt);
        double wt[PAC_MAX_BINS];
        int ok = pac__weights(cnt, e->pooled, e->method, e->k, wt);
        pac__sort_bins(bq, e->nt, e->k, w->order, w->start);
        pac__histogram_mi(e, w, 0, wt);
        if (e->out.binned || e->out.pp) pac__preferred_phase(e, w, s, q, a0, na, ok);
        for (a = 0; a < na; a++) w->vals[a] = ok ? w->vals[a] : nan_value;
        pac__tally_start(w, na);
        for (k = 0; k < e->n_perm; k++) {
            int okk = ok;
            if (e->perms) { /* another signal's phases, unshifted */
                const uint32_t *ck;
                const unsigned char *bk = pac__bins_of(e, w, e->perms[k * n_sig + s], q, &ck);
                double wk[PAC_MAX_BINS];
                okk = pac__weights(ck, e->pooled, e->method, e->k, wk);
                pac__sort_bins(bk, e->nt, e->k, w->order, w->start);
                pac__histogram_mi(e, w, 0, wk);
            } else {
                pac__histogram_mi(e, w, (size_t)e->shifts[k], wt);
            }
            for (a = 0; a < na; a++) w->vals[a] = okk ? w->vals[a] : nan_value;
            pac__tally(e, w, s, q, a0, na, k);
        }
        pac__tally_finish(e, w, s, q, a0, na);
    }
}

/* ---- >>vector measures: MVL, ndPAC, PLV and the Gaussian copula ----------------------------- */

/* These four are functions of sums over time of (a function of) the amplitude times a vector of
   the phase: sum_t A[t] U[t], A real (complex for the PLV), U = e^(i pha) (for the copula the
   pair of copula-normalised sin and cos of the phase). A surrogate shifts A by index arithmetic
   or pairs another signal's U. Every sum runs in one fixed order: the same bits whatever the plan. */

/* The standard normal quantile (scipy's ndtri) of p in (0, 1): Abramowitz and Stegun 26.2.23
   (error < 4.5e-4) on the lower tail, then Halley steps on erfc until they stop moving it: a few
   ulp, and ndtri(1 - p) = -ndtri(p) exactly, as scipy's. */
static double pac__ndtri(double p)
{
    double q = p < 0.5 ? p : 1.0 - p, t = sqrt(-2.0 * log(q)), x;
    int i;
    x = -(t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))));
    for (i = 0; i < 4; i++) {
        double d = 0.5 * erfc(-x * 0.70710678118654752440) - q;
        double u = d * 2.50662827463100050242 * exp(0.5 * x * x);
        x -= u / (1.0 + 0.5 * x * u);
    }
    return p < 0.5 ? x : -x;
}

/* The order of x[0 .. n) (no NaN), ties in sample order, into idx: a stable radix sort on the
   values rounded to float (three passes of 11 bits; rounding keeps the order, merging only
   neighbours), then the runs of equal floats sorted by their doubles. scratch: 3n more. */
static void pac__order(const double *x, size_t n, uint32_t *idx, uint32_t *scratch)
{
    uint32_t count[3][2048], *key = scratch, *key2 = scratch + n, *idx2 = scratch + 2 * n, *ks = key, *kd = key2, *is = idx,
             *id = idx2, *t;
    size_t i, j;
    int d;
    memset(count, 0, sizeof count);
    for (i = 0; i < n; i++) {
        float f = (float)(x[i] + 0.0); /* -0 == +0: one key */
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        key[i] = u >> 31 ? ~u : u | 0x80000000u;
        idx[i] = (uint32_t)i;
        for (d = 0; d < 3; d++) count[d][key[i] >> (11 * d) & 2047]++;
    }
    for (d = 0; d < 3; d++) {
        uint32_t sum = 0, c;
        for (j = 0; j < 2048; j++) c = count[d][j], count[d][j] = sum, sum += c;
        for (i = 0; i < n; i++) {
            uint32_t at = count[d][ks[i] >> (11 * d) & 2047]++;
            kd[at] = ks[i];
            id[at] = is[i];
        }
        t = ks, ks = kd, kd = t;
        t = is, is = id, id = t;
    }
    if (is != idx) memcpy(idx, is, n * sizeof(uint32_t)); /* three passes: the result is in idx2 */
    for (i = 1; i < n; i++) { /* equal floats: insertion by the doubles, stable */
        uint32_t v = idx[i];
        if (ks[i] != ks[i - 1]) continue;
        for (j = i; j > 0 && ks[j - 1] == ks[i] && x[v] < x[idx[j - 1]]; j--) idx[j] = idx[j - 1];
        idx[j] = v;
    }
}

/* tensorpac's copnorm of one series in place: the normal quantile of each value's rank,
   gauss[r] = ndtri((r + 1) / (n + 1)); all NaN when a value is NaN */
static void pac__copnorm_n(double *x, size_t n, const double *gauss, uint32_t *idx)
{
    size_t r;
    for (r = 0; r < n; r++)
        if (x[r] != x[r]) {
            for (r = 0; r < n; r++) x[r] = 0.0 / 0.0;
            return;
        }
    pac__order(x, n, idx, idx + n);
    for (r = 0; r < n; r++) x[idx[r]] = gauss[r];
}

static void pac__copnorm(const pac__eng *e, pac__work *w, double *x) { pac__copnorm_n(x, e->nt, e->gauss, w->idx); }

static void pac__swap_series(double *a, double *b, size_t n)
{
    size_t t;
    for (t = 0; t < n; t++) {
        double v = a[t];
        a[t] = b[t];
        b[t] = v;
    }
}

/* The phase vectors of signal s: band q's at dst + q * stride, two series of n: cos and sin of the
   phase (the copula: copnorm(sin), copnorm(cos)). */
static void pac__phase_vectors(const pac__eng *e, pac__work *w, size_t s, double *dst, size_t stride)
{
    size_t np = e->n_band[PAC__PHA], n = e->nt, q, t;
    double inv = e->lh ? 1.0 / (double)e->lh : 0;
    if (!e->given) pac__spectrum(e, w, s, PAC__PHA);
    for (q = 0; q < np; q += 2) {
        int two = q + 1 < np, j;
        if (!e->given) pac__band_pair(e, w, PAC__PHA, q, two);
        for (j = 0; j <= two; j++) {
            double *c = dst + (q + (size_t)j) * stride, *sn = c + n;
            if (e->given) { /* tensorpac's exp(1j pha) */
                const double *pha = e->pha + ((q + (size_t)j) * e->n_sig + s) * n;
                for (t = 0; t < n; t++) c[t] = cos(pha[t]), sn[t] = sin(pha[t]);
            } else { /* e^(i angle(z)) = z / |z|; angle(0) = 0 */
                e->units((j ? w->wi : w->wr) + e->t0, (j ? w->hi : w->hr) + e->t0, inv, n, c, sn);
            }
            if (e->measure == PAC_GCPAC) { /* x = (sin, cos), each copula-normalised */
                pac__swap_series(c, sn, n);
                pac__copnorm(e, w, c);
                pac__copnorm(e, w, sn);
            }
        }
    }
}

/* The unit vector z / |z| of z = y + i h: 1 / |z| from the bits of |z|^2 (an estimate within
   3.5 %) and four Newton steps (error below 1e-20, then rounding: within 4 ulp of y / hypot),
   vectorised; exactly where |z|^2 lies outside [1e-290, 1e290], (1, 0) at zero as numpy's angle
   gives 0 there, NaN for NaN. pac__unit and the kernels compute the same operations in the same
   order: every width gives the same bits. */
static double pac__rsqrt_steps(double x2, double k)
{
    PAC__EXACT
    double hx = 0.5 * x2;
    int i;
    for (i = 0; i < 4; i++) k = k * (1.5 - hx * k * k);
    return k;
}

static void pac__unit_vector(double y, double h, double *c, double *s)
{
    PAC__EXACT
    double x2 = y * y + h * h, k;
    uint64_t u;
    if (!(x2 >= 1e-290 && x2 <= 1e290)) { /* zero, NaN, the ends of the range: exactly */
        double r = hypot(y, h);
        *c = r > 0 ? y / r : r == 0 ? 1.0 : r;
        *s = r > 0 ? h / r : r == 0 ? 0.0 : r;
        return;
    }
    memcpy(&u, &x2, sizeof u);
    u = 0x5FE6EB50C7B537A9ull - (u >> 1);
    memcpy(&k, &u, sizeof k);
    k = pac__rsqrt_steps(x2, k);
    *c = y * k;
    *s = h * k;
}

/* |y + i h| the same way: |z|^2 / |z| (the vector measures' amplitudes) */
static double pac__modulus(double y, double h)
{
    PAC__EXACT
    double x2 = y * y + h * h, k;
    uint64_t u;
    if (!(x2 >= 1e-290 && x2 <= 1e290)) return hypot(y, h);
    memcpy(&u, &x2, sizeof u);
    u = 0x5FE6EB50C7B537A9ull - (u >> 1);
    memcpy(&k, &u, sizeof k);
    return x2 * pac__rsqrt_steps(x2, k);
}


#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
#define PAC__UNIT_KERNEL(name, bytes, attr)                                                           \
    attr static void name(const double *yv, const double *hv, double scale, size_t n, double *c, double *s) \
    {                                                                                                 \
        PAC__EXACT                                                                                    \
        typedef double vd __attribute__((vector_size(bytes)));                                       \
        typedef long long vi __attribute__((vector_size(bytes)));                                    \
        enum { W = (int)(bytes / sizeof(double)) };                                                   \
        size_t t = 0;                                                                                 \
        int i, odd;                                                                                   \
        for (; t + W <= n; t += W) {                                                                  \
            vd y, h, x2, k, hx, cc, ss;                                                               \
            vi u, ok;                                                                                 \
            long long lane[W];                                                                        \
            double co[W], so[W];                                                                      \
            memcpy(&y, yv + t, sizeof y);                                                             \
            memcpy(&h, hv + t, sizeof h);                                                             \
            h = h * scale;                                                                            \
            x2 = y * y + h * h;                                                                       \
            ok = (x2 >= 1e-290) & (x2 <= 1e290);                                                      \
            memcpy(&u, &x2, sizeof u);                                                                \
            u = (long long)0x5FE6EB50C7B537A9ll - (u >> 1);                                           \
            memcpy(&k, &u, sizeof k);                                                                 \
            hx = 0.5 * x2;                                                                            \
            for (i = 0; i < 4; i++) k = k * (1.5 - hx * k * k);                                       \
            if (s) cc = y * k, ss = h * k;                                                            \
            else cc = x2 * k, ss = cc;                                                                \
            memcpy(co, &cc, sizeof co);                                                               \
            memcpy(so, &ss, sizeof so);                                                               \
            memcpy(lane, &ok, sizeof lane);                                                           \
            for (i = 0, odd = 0; i < W; i++) odd |= !lane[i];                                         \
            for (i = 0; odd && i < W; i++) /* before the stores: c and s may be y and h */            \
                if (!lane[i]) {                                                                       \
                    if (s) pac__unit_vector(yv[t + (size_t)i], hv[t + (size_t)i] * scale, co + i, so + i); \
                    else co[i] = pac__modulus(yv[t + (size_t)i], hv[t + (size_t)i] * scale);         \
                }                                                                                     \
            memcpy(c + t, co, sizeof co);                                                             \
            if (s) memcpy(s + t, so, sizeof so);                                                      \
        }                                                                                             \
        for (; t < n; t++) {                                                                          \
            if (s) pac__unit_vector(yv[t], hv[t] * scale, c + t, s + t);                              \
            else c[t] = pac__modulus(yv[t], hv[t] * scale);                                           \
        }                                                                                             \
    }
PAC__KERNELS(PAC__UNIT_KERNEL, pac__units)
#else
static void pac__units_plain(const double *y, const double *h, double scale, size_t n, double *c, double *s)
{
    size_t t;
    for (t = 0; t < n; t++) {
        if (s) pac__unit_vector(y[t], h[t] * scale, c + t, s + t);
        else c[t] = pac__modulus(y[t], h[t] * scale);
    }
}
#endif

/* The widest unit-vector kernel this CPU runs */
static pac__unit_fn pac__pick_units(void) { PAC__PICK(pac__units) }

/* atan2 for the PLV's angles, vectorised: |y| <= |x| by symmetry; above tan(3 pi/16) the
   argument (z - 1) / (z + 1) and pi/4 added, above tan(pi/16) (z - c) / (1 + z c), c = tan(pi/8),
   and pi/8 added, so |t| <= tan(pi/16); then the series of atan to t^23 (its rest < 1e-17 of the
   angle): within 3 ulp of libm's (tested). A NaN gives NaN, -0 gives +0 (the angles feed a
   Hilbert transform, where that is the same number). pac__atan2 and the vector kernels compute
   the same operations in the same order, so every width gives the same bits. */
#define PAC__ATAN_TERMS 12
#define PAC__TAN_PI_8 0.41421356237309504880
#define PAC__ATAN_HIGH 0.66817863791929891999 /* tan(3 pi / 16) */
#define PAC__ATAN_MID 0.19891236737965800691  /* tan(pi / 16) */
#define PAC__ATAN_COEF(k) ((k) % 2 ? -1.0 : 1.0) / (double)(2 * (k) + 1)

static double pac__atan2(double y, double x)
{
    PAC__EXACT
    double ax = fabs(x), ay = fabs(y), lo = ay < ax ? ay : ax, hi = ay < ax ? ax : ay;
    double z = hi > 0 ? lo / hi : 0.0, t, t2, p, a;
    int big = z > PAC__ATAN_HIGH, mid = !big && z > PAC__ATAN_MID, k;
    t = big ? (z - 1.0) / (z + 1.0) : mid ? (z - PAC__TAN_PI_8) / (1.0 + z * PAC__TAN_PI_8) : z / 1.0;
    t2 = t * t;
    p = PAC__ATAN_COEF(PAC__ATAN_TERMS - 1);
    for (k = PAC__ATAN_TERMS - 2; k >= 0; k--) p = p * t2 + PAC__ATAN_COEF(k);
    a = (big ? 0.78539816339744830962 : mid ? 0.39269908169872415481 : 0.0) + t * p;
    a = ay > ax ? 1.57079632679489661923 - a : a;
    a = signbit(x) ? 3.14159265358979323846 - a : a;
    a = signbit(y) ? -a : a;
    return a + (x - x) + (y - y); /* NaN in, NaN out */
}


#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
#define PAC__ANGLE_KERNEL(name, bytes, attr)                                                         \
    attr static void name(const double *yv, const double *xv, double scale, size_t n, double *out) \
    {                                                                                                \
        PAC__EXACT                                                                                   \
        typedef double vd __attribute__((vector_size(bytes)));                                      \
        typedef long long vi __attribute__((vector_size(bytes)));                                   \
        enum { W = (int)(bytes / sizeof(double)) };                                                  \
        size_t t = 0;                                                                                \
        for (; t + W <= n; t += W) {                                                                 \
            vd x, y, ax, ay, lo, hi, z, tt, t2, p, a, zero, one, num, den, off;                      \
            vi xi, yi, m, sx, sy, big, mid;                                                          \
            int k;                                                                                   \
            memcpy(&x, xv + t, sizeof x);                                                            \
            memcpy(&y, yv + t, sizeof y);                                                            \
            y = y * scale;                                                                           \
            memcpy(&xi, &x, sizeof xi);                                                              \
            memcpy(&yi, &y, sizeof yi);                                                              \
            sx = xi < 0, sy = yi < 0; /* sign bits */                                                \
            PAC__VSEL(vd, vi, sx, -x, x, ax);                                                        \
            PAC__VSEL(vd, vi, sy, -y, y, ay);                                                        \
            m = ay < ax;                                                                             \
            PAC__VSEL(vd, vi, m, ay, ax, lo);                                                        \
            PAC__VSEL(vd, vi, m, ax, ay, hi);                                                        \
            memset(&zero, 0, sizeof zero);                                                           \
            one = zero + 1.0;                                                                        \
            m = hi > 0;                                                                              \
            PAC__VSEL(vd, vi, m, hi, one, den);                                                      \
            PAC__VSEL(vd, vi, m, lo, zero, num);                                                     \
            z = num / den;                                                                           \
            big = z > PAC__ATAN_HIGH;                                                                \
            mid = ~big & (z > PAC__ATAN_MID);                                                        \
            PAC__VSEL(vd, vi, mid, z - PAC__TAN_PI_8, z, num);                                       \
            PAC__VSEL(vd, vi, mid, 1.0 + z * PAC__TAN_PI_8, one, den);                               \
            PAC__VSEL(vd, vi, big, z - 1.0, num, num);                                               \
            PAC__VSEL(vd, vi, big, z + 1.0, den, den);                                               \
            tt = num / den;                                                                          \
            t2 = tt * tt;                                                                            \
            p = zero + PAC__ATAN_COEF(PAC__ATAN_TERMS - 1);                                          \
            for (k = PAC__ATAN_TERMS - 2; k >= 0; k--) p = p * t2 + PAC__ATAN_COEF(k);               \
            PAC__VSEL(vd, vi, mid, zero + 0.39269908169872415481, zero, off);                        \
            PAC__VSEL(vd, vi, big, zero + 0.78539816339744830962, off, off);                         \
            a = off + tt * p;                                                                        \
            PAC__VSEL(vd, vi, (ay > ax), 1.57079632679489661923 - a, a, a);                          \
            PAC__VSEL(vd, vi, sx, 3.14159265358979323846 - a, a, a);                                 \
            PAC__VSEL(vd, vi, sy, -a, a, a);                                                         \
            a = a + (x - x) + (y - y);                                                               \
            memcpy(out + t, &a, sizeof a);                                                           \
        }                                                                                            \
        for (; t < n; t++) out[t] = pac__atan2(yv[t] * scale, xv[t]);                                \
    }
/* r = m ? a : b, lane by lane (m: all ones or zeros) */
#define PAC__VSEL(vd, vi, m, a, b, r)                                                                \
    do {                                                                                             \
        vd sel_a_ = (a), sel_b_ = (b);                                                               \
        vi sel_ai_, sel_bi_, sel_m_ = (m);                                                           \
        memcpy(&sel_ai_, &sel_a_, sizeof sel_ai_);                                                   \
        memcpy(&sel_bi_, &sel_b_, sizeof sel_bi_);                                                   \
        sel_ai_ = (sel_ai_ & sel_m_) | (sel_bi_ & ~sel_m_);                                          \
        memcpy(&(r), &sel_ai_, sizeof(r));                                                           \
    } while (0)
PAC__KERNELS(PAC__ANGLE_KERNEL, pac__angles)
#else
static void pac__angles_plain(const double *y, const double *x, double scale, size_t n, double *out)
{
    PAC__EXACT
    size_t t;
    for (t = 0; t < n; t++) out[t] = pac__atan2(y[t] * scale, x[t]);
}
#endif

/* The widest angle kernel this CPU runs */
static pac__angle_fn pac__pick_angles(void) { PAC__PICK(pac__angles) }

/* Hilbert transforms (times lh) of the real series in wr and wi (n samples each) into hr and hi,
   zero-padded to lh as tensorpac's hilbertm */
static void pac__hilbert_pair(const pac__eng *e, pac__work *w)
{
    size_t n = e->nt, lh = e->lht, t;
    memcpy(w->hr, w->wr, n * sizeof(double));
    memcpy(w->hi, w->wi, n * sizeof(double));
    memset(w->hr + n, 0, (lh - n) * sizeof(double));
    memset(w->hi + n, 0, (lh - n) * sizeof(double));
    pac__fft_split(e->ht, w->hr, w->hi, w->scratch);
    for (t = 0; t < lh; t++) pac__hilbert_mul(t, lh, &w->hr[t], &w->hi[t]);
    pac__fft_split(e->ht, w->hi, w->hr, w->scratch); /* inverse */
}

/* The PLV's amplitude side of a band pair whose envelopes are in wr and wi: tensorpac takes the
   angle of hilbertm twice (in filterfit and again in fit), so the series is angle(hilbertm(
   angle(hilbertm(envelope)))); leaves that angle's unit vector conjugated, cos in wr and
   -sin in hr (band 2i), cos in wi and -sin in hi (band 2i + 1). */
static void pac__plv_amplitude(const pac__eng *e, pac__work *w)
{
    size_t n = e->nt, t;
    double inv = 1.0 / (double)e->lht;
    if (!e->given) { /* given amplitudes: tensorpac's fit takes the angle once */
        pac__hilbert_pair(e, w);
        e->angles(w->hr, w->wr, inv, n, w->wr);
        e->angles(w->hi, w->wi, inv, n, w->wi);
    }
    pac__hilbert_pair(e, w);
    e->units(w->wr, w->hr, inv, n, w->wr, w->hr);
    e->units(w->wi, w->hi, inv, n, w->wi, w->hi);
    for (t = 0; t < n; t++) w->hr[t] = -w->hr[t], w->hi[t] = -w->hi[t]; /* conjugated */
}

/* ndPAC's amplitude: z-scored with ddof 1, as numpy computes mean and std */
static void pac__zscore(double *x, size_t n)
{
    double m = 0, m2 = 0, ss = 0, sd;
    size_t t;
    for (t = 0; t < n; t++) m += x[t];
    m /= (double)n;
    for (t = 0; t < n; t++) x[t] -= m, m2 += x[t];
    m2 /= (double)n;
    for (t = 0; t < n; t++) ss += (x[t] - m2) * (x[t] - m2);
    sd = sqrt(ss / (double)(n - 1));
    for (t = 0; t < n; t++) x[t] /= sd;
}

/* The amplitude side of bands a0 .. a0 + na - 1 of signal s: band a's at va + (a - a0) * 2 n, its
   real part then its imaginary part (the PLV's only); the copula's sum of squares in w->yy. */
static void pac__amplitude_vectors(const pac__eng *e, pac__work *w, size_t s, size_t a0, size_t na)
{
    size_t n = e->nt, t0 = e->t0, b, t;
    double inv = e->lh ? 1.0 / (double)e->lh : 0;
    if (a0 == 0 && !e->given) pac__spectrum(e, w, s, PAC__AMP);
    for (b = a0 & ~(size_t)1; b < a0 + na; b += 2) { /* pairs (2i, 2i + 1) whatever the pass */
        int two = b + 1 < e->n_band[PAC__AMP], j;
        if (e->given) {
            memcpy(w->wr, e->amp + (b * e->n_sig + s) * n, n * sizeof(double));
            if (two) memcpy(w->wi, e->amp + ((b + 1) * e->n_sig + s) * n, n * sizeof(double));
            else memset(w->wi, 0, n * sizeof(double));
        } else {
            pac__band_pair(e, w, PAC__AMP, b, two);
            e->units(w->wr + t0, w->hr + t0, inv, n, w->wr, NULL); /* the measured samples' moduli, moved to the front */
            if (two) e->units(w->wi + t0, w->hi + t0, inv, n, w->wi, NULL);
            else memset(w->wi, 0, n * sizeof(double));
        }
        if (e->measure == PAC_PLV) pac__plv_amplitude(e, w);
        for (j = 0; j <= two; j++) {
            double *dst, *y = j ? w->wi : w->wr;
            if (b + (size_t)j < a0 || b + (size_t)j >= a0 + na) continue; /* the partner of a pass's edge band */
            dst = w->va + (b + (size_t)j - a0) * 2 * n;
            memcpy(dst, y, n * sizeof(double));
            if (e->measure == PAC_PLV) memcpy(dst + n, j ? w->hi : w->hr, n * sizeof(double));
            if (e->measure == PAC_NDPAC) pac__zscore(dst, n);
            if (e->measure == PAC_GCPAC) {
                double ss = 0;
                pac__copnorm(e, w, dst);
                for (t = 0; t < n; t++) ss += dst[t] * dst[t];
                w->yy[b + (size_t)j - a0] = ss;
            }
        }
    }
}

/* Products of a segment into eight partial sums: lane j takes the products whose index in the
   segment is j mod 8, so every vector width (and the plain code) adds the same numbers in the
   same order. xi NULL: A is real. */

static void pac__dot_tail(const double *xr, const double *xi, const double *v0, const double *v1, size_t t, size_t len,
                          double *r, double *im)
{
    PAC__EXACT
    size_t k;
    for (k = 0; t < len; t++, k++) {
        r[k] += xr[t] * v0[t] - (xi ? xi[t] * v1[t] : 0.0);
        im[k] += xr[t] * v1[t] + (xi ? xi[t] * v0[t] : 0.0);
    }
}

#if defined(__GNUC__) && !defined(PAC_NO_VECTOR_EXTENSIONS)
#define PAC__DOT_KERNEL(name, bytes, attr)                                                         \
    attr static void name(const double *xr, const double *xi, const double *v0, const double *v1, \
                          size_t len, double *r, double *im)                                       \
    {                                                                                              \
        PAC__EXACT                                                                                 \
        typedef double vd __attribute__((vector_size(bytes)));                                    \
        enum { W = (int)(bytes / sizeof(double)), V = 8 / W };                                     \
        vd sr[V], si[V];                                                                           \
        size_t t = 0;                                                                              \
        int k;                                                                                     \
        memcpy(sr, r, sizeof sr);                                                                  \
        memcpy(si, im, sizeof si);                                                                 \
        if (!xi)                                                                                   \
            for (; t + 8 <= len; t += 8)                                                           \
                for (k = 0; k < V; k++) {                                                          \
                    vd x, a, b;                                                                    \
                    memcpy(&x, xr + t + (size_t)k * W, sizeof x);                                  \
                    memcpy(&a, v0 + t + (size_t)k * W, sizeof a);                                  \
                    memcpy(&b, v1 + t + (size_t)k * W, sizeof b);                                  \
                    sr[k] += x * a;                                                                \
                    si[k] += x * b;                                                                \
                }                                                                                  \
        else                                                                                       \
            for (; t + 8 <= len; t += 8)                                                           \
                for (k = 0; k < V; k++) {                                                          \
                    vd x, y, a, b;                                                                 \
                    memcpy(&x, xr + t + (size_t)k * W, sizeof x);                                  \
                    memcpy(&y, xi + t + (size_t)k * W, sizeof y);                                  \
                    memcpy(&a, v0 + t + (size_t)k * W, sizeof a);                                  \
                    memcpy(&b, v1 + t + (size_t)k * W, sizeof b);                                  \
                    sr[k] += x * a - y * b;                                                        \
                    si[k] += x * b + y * a;                                                        \
                }                                                                                  \
        memcpy(r, sr, sizeof sr);                                                                  \
        memcpy(im, si, sizeof si);                                                                 \
        pac__dot_tail(xr, xi, v0, v1, t, len, r, im);                                              \
    }
PAC__KERNELS(PAC__DOT_KERNEL, pac__dot)
#else
static void pac__dot_plain(const double *xr, const double *xi, const double *v0, const double *v1, size_t len, double *r,
                           double *im)
{
    PAC__EXACT
    size_t t = 0, k;
    for (; t + 8 <= len; t += 8)
        for (k = 0; k < 8; k++) {
            r[k] += xr[t + k] * v0[t + k] - (xi ? xi[t + k] * v1[t + k] : 0.0);
            im[k] += xr[t + k] * v1[t + k] + (xi ? xi[t + k] * v0[t + k] : 0.0);
        }
    pac__dot_tail(xr, xi, v0, v1, t, len, r, im);
}
#endif

/* The widest products kernel this CPU runs */
static pac__dot_fn pac__pick_dot(void) { PAC__PICK(pac__dot) }

/* Four cells at once, one phase vector and four amplitude bands: each cell's eight partial sums
   take the same products in the same order as pac__dot_fn's, so the bits are the same; the phase
   vector is read once for the four (the products are bound by the reads). NULL where the CPU
   has neither AVX2 nor AVX-512: one cell at a time there. */

#if defined(PAC__X86_WIDE)
#define PAC__DOT4_KERNEL(name, bytes, attr)                                                         \
    attr static void name(const double *const *xr, const double *const *xi, const double *v0, const double *v1,   \
                          size_t len, double *r, double *im)                                        \
    {                                                                                               \
        PAC__EXACT                                                                                  \
        typedef double vd __attribute__((vector_size(bytes)));                                     \
        enum { W = (int)(bytes / sizeof(double)), V = 8 / W };                                      \
        vd sr[4][V], si[4][V];                                                                      \
        size_t t = 0;                                                                               \
        int k, c;                                                                                   \
        memcpy(sr, r, sizeof sr);                                                                   \
        memcpy(si, im, sizeof si);                                                                  \
        for (; t + 8 <= len; t += 8)                                                                \
            for (k = 0; k < V; k++) {                                                               \
                vd a, b;                                                                            \
                memcpy(&a, v0 + t + (size_t)k * W, sizeof a);                                       \
                memcpy(&b, v1 + t + (size_t)k * W, sizeof b);                                       \
                for (c = 0; c < 4; c++) {                                                           \
                    vd x, y;                                                                        \
                    memcpy(&x, xr[c] + t + (size_t)k * W, sizeof x);                                \
                    if (!xi) {                                                                      \
                        sr[c][k] += x * a;                                                          \
                        si[c][k] += x * b;                                                          \
                        continue;                                                                   \
                    }                                                                               \
                    memcpy(&y, xi[c] + t + (size_t)k * W, sizeof y);                                \
                    sr[c][k] += x * a - y * b;                                                      \
                    si[c][k] += x * b + y * a;                                                      \
                }                                                                                   \
            }                                                                                       \
        memcpy(r, sr, sizeof sr);                                                                   \
        memcpy(im, si, sizeof si);                                                                  \
        for (c = 0; c < 4; c++) pac__dot_tail(xr[c], xi ? xi[c] : NULL, v0, v1, t, len, r + 8 * c, im + 8 * c); \
    }
PAC__DOT4_KERNEL(pac__dot4_avx2, 32, __attribute__((target("avx2"))))
PAC__DOT4_KERNEL(pac__dot4_avx512, 64, __attribute__((target("avx512f"))))
#endif

static pac__dot4_fn pac__pick_dot4(void)
{
#if defined(PAC__X86_WIDE)
    if (tp_cpu_features() & TP_CPU_AVX512F) return pac__dot4_avx512;
    if (tp_cpu_features() & TP_CPU_AVX2) return pac__dot4_avx2;
#endif
    return NULL;
}

/* sum_t A[(t + c) mod n] U[t] into (*sr, *si): A = ar (+ i ai when ai is not NULL), U = u0 + i u1 */
static void pac__dot(pac__dot_fn seg, const double *ar, const double *ai, const double *u0, const double *u1, size_t n, size_t c,
                     double *sr, double *si)
{
    double r[8] = {0, 0, 0, 0, 0, 0, 0, 0}, im[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    seg(ar + c, ai ? ai + c : NULL, u0, u1, n - c, r, im); /* t < n - c reads A from c on */
    seg(ar, ai, u0 + n - c, u1 + n - c, c, r, im);
    *sr = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    *si = ((im[0] + im[1]) + (im[2] + im[3])) + ((im[4] + im[5]) + (im[6] + im[7]));
}

/* pac__dot of four amplitude sides with one phase vector (sr, si: four each), by dot4 */
static void pac__dot_four(pac__dot4_fn dot4, const double *const *ar, const double *const *ai, const double *u0, const double *u1,
                          size_t n, size_t c, double *sr, double *si)
{
    double r[32], im[32];
    const double *xr[4], *xi[4];
    int j;
    memset(r, 0, sizeof r);
    memset(im, 0, sizeof im);
    for (j = 0; j < 4; j++) xr[j] = ar[j] + c, xi[j] = ai ? ai[j] + c : NULL;
    dot4(xr, ai ? xi : NULL, u0, u1, n - c, r, im); /* t < n - c reads A from c on */
    dot4(ar, ai, u0 + n - c, u1 + n - c, c, r, im);
    for (j = 0; j < 4; j++) {
        const double *p = r + 8 * j, *q = im + 8 * j;
        sr[j] = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
        si[j] = ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
    }
}

/* The copula's MI in bits from the sums of its joint covariance (x = the phase pair, y the
   amplitude): tensorpac's nd_mi_gg (covariance / (n - 1), Cholesky, entropies from the log of its
   diagonal) */
static double pac__gc_mi(const double *xx, double xy1, double xy2, double yy, size_t n)
{
    double k = 1.0 / (double)(n - 1), a = xx[0] * k, b = xx[1] * k, c = xx[2] * k, d = xy1 * k, f = xy2 * k, g = yy * k;
    double l11 = sqrt(a), l21 = b / l11, l22 = sqrt(c - l21 * l21), l31 = d / l11, l32 = (f - l31 * l21) / l22;
    double l33 = sqrt(g - (l31 * l31 + l32 * l32));
    double hx = log(l11) + log(l22), hy = log(sqrt(g)), hxy = log(l11) + log(l22) + log(l33);
    return (hx + hy - hxy) / 0.69314718055994530942;
}

/* The phase vectors of (signal s, phase band q): kept for every signal, or this worker's */
static const double *pac__vectors_of(const pac__eng *e, const pac__work *w, size_t s, size_t q)
{
    size_t n = e->nt;
    return e->all_vp ? e->all_vp + (q * e->n_sig + s) * 2 * n : w->vp + q * 2 * n;
}

/* sum u0^2, u0 u1, u1^2 of a copula's phase pair */
static void pac__gc_phase_sums(const double *u, size_t n, double *xx)
{
    size_t t;
    xx[0] = xx[1] = xx[2] = 0;
    for (t = 0; t < n; t++) {
        xx[0] += u[t] * u[t];
        xx[1] += u[t] * u[n + t];
        xx[2] += u[n + t] * u[n + t];
    }
}

/* The measure of amplitude band a of the pass from its sums (sr, si) with a phase vector whose
   copula sums are xx */
static double pac__vector_value(const pac__eng *e, const pac__work *w, size_t a, const double *xx, double sr, double si)
{
    double m;
    if (e->measure == PAC_GCPAC) return pac__gc_mi(xx, sr, si, w->yy[a], e->nt);
    m = sqrt(sr * sr + si * si);
    if (e->measure == PAC_NDPAC && m * m <= e->nd_limit) return 0.0;
    return m / (double)e->nt;
}

/* The measure of amplitude band a (its vectors in the pass) with phase vectors u, the amplitude
   shifted by c */
static double pac__vector_cell(const pac__eng *e, const pac__work *w, size_t a, const double *u, const double *xx, size_t c)
{
    size_t n = e->nt;
    const double *ar = w->va + a * 2 * n;
    double sr, si;
    pac__dot(e->dot, ar, e->measure == PAC_PLV ? ar + n : NULL, u, u + n, n, c, &sr, &si);
    return pac__vector_value(e, w, a, xx, sr, si);
}

/* pac__vector_cell of the pass's bands 0 .. na - 1 into out: four at a time where the CPU can */
static void pac__vector_cells_of(const pac__eng *e, const pac__work *w, size_t na, const double *u, const double *xx, size_t c,
                                 double *out)
{
    size_t n = e->nt, a = 0;
    int plv = e->measure == PAC_PLV, j;
    for (; e->dot4 && a + 4 <= na; a += 4) {
        const double *ar[4], *ai[4];
        double sr[4], si[4];
        for (j = 0; j < 4; j++) ar[j] = w->va + (a + (size_t)j) * 2 * n, ai[j] = ar[j] + n;
        pac__dot_four(e->dot4, ar, plv ? ai : NULL, u, u + n, n, c, sr, si);
        for (j = 0; j < 4; j++) out[a + (size_t)j] = pac__vector_value(e, w, a + (size_t)j, xx, sr[j], si[j]);
    }
    for (; a < na; a++) out[a] = pac__vector_cell(e, w, a, u, xx, c);
}

/* The transforms of the pass's amplitude sides, band a's at fa + a * 2 n (real part, imaginary) */
static void pac__amplitude_spectra(const pac__eng *e, pac__work *w, size_t na)
{
    size_t n = e->nt, a;
    for (a = 0; a < na; a++) {
        const double *ar = w->va + a * 2 * n;
        double *fr = w->fa + a * 2 * n;
        memcpy(fr, ar, n * sizeof(double));
        if (e->measure == PAC_PLV) memcpy(fr + n, ar + n, n * sizeof(double));
        else memset(fr + n, 0, n * sizeof(double));
        pac__fft_split(e->fc, fr, fr + n, w->fs);
    }
}

/* n times sum_t A[t + c] U[t] for every shift c of every band of the pass (fx + a * 2 n: real part,
   imaginary), from phase vectors u: the inverse transform of FFT(A) conj(FFT(conj U)) */
static void pac__shift_sums(const pac__eng *e, pac__work *w, const double *u, size_t na)
{
    size_t n = e->nt, a, t;
    double *vr = w->fv, *vi = w->fv + n;
    memcpy(vr, u, n * sizeof(double));
    for (t = 0; t < n; t++) vi[t] = -u[n + t];
    pac__fft_split(e->fc, vr, vi, w->fs);
    for (a = 0; a < na; a++) {
        const double *ar = w->fa + a * 2 * n, *ai = ar + n;
        double *xr = w->fx + a * 2 * n, *xi = xr + n;
        for (t = 0; t < n; t++) { /* times conj(V) */
            xr[t] = ar[t] * vr[t] + ai[t] * vi[t];
            xi[t] = ai[t] * vr[t] - ar[t] * vi[t];
        }
        pac__fft_split(e->fc, xi, xr, w->fs); /* inverse */
    }
}

/* Every cell of the pass (amplitude bands a0 .. a0 + na - 1) of signal s, and its surrogates */
static void pac__vector_cells(pac__eng *e, pac__work *w, size_t s, size_t a0, size_t na)
{
    size_t np = e->n_band[PAC__PHA], n = e->nt, q, k, a;
    double inv = 1.0 / (double)n;
    if (e->fc) pac__amplitude_spectra(e, w, na);
    if (e->perms) memset(w->partner_q, 0, e->n_sig * sizeof(size_t));
    for (q = 0; q < np; q++) {
        const double *u = pac__vectors_of(e, w, s, q);
        double xx[3] = {0, 0, 0};
        if (e->measure == PAC_GCPAC) pac__gc_phase_sums(u, n, xx);
        pac__vector_cells_of(e, w, na, u, xx, 0, w->vals);
        pac__tally_start(w, na);
        if (e->fc && e->n_perm) pac__shift_sums(e, w, u, na);
        for (k = 0; k < e->n_perm; k++) {
            const double *uk = u;
            double xk[3] = {xx[0], xx[1], xx[2]};
            size_t c = e->perms ? 0 : (size_t)e->shifts[k];
            if (e->perms) { /* another signal's phases, unshifted: each partner once a phase band */
                size_t partner = e->perms[k * e->n_sig + s];
                double *row = w->by_partner + partner * w->ld;
                if (w->partner_q[partner] != q + 1) {
                    uk = pac__vectors_of(e, w, partner, q);
                    if (e->measure == PAC_GCPAC) pac__gc_phase_sums(uk, n, xk);
                    pac__vector_cells_of(e, w, na, uk, xk, 0, row);
                    w->partner_q[partner] = q + 1;
                }
                memcpy(w->vals, row, na * sizeof(double));
                pac__tally(e, w, s, q, a0, na, k);
                continue;
            }
            for (a = 0; a < na; a++) {
                const double *x = w->fx + a * 2 * n;
                w->vals[a] = e->fc ? pac__vector_value(e, w, a, xx, x[c] * inv, x[n + c] * inv) : pac__vector_cell(e, w, a, uk, xx, c);
            }
            pac__tally(e, w, s, q, a0, na, k);
        }
        pac__tally_finish(e, w, s, q, a0, na);
    }
}

/* A vector measure's work on signal s: pass 0 keeps its phase vectors (swap-epochs); pass 1
   the cells, a pass of amplitude bands at a time */
static void pac__vector_signal(pac__eng *e, pac__work *w, size_t s, int pass)
{
    size_t nas = e->n_band[PAC__AMP], a0, n2 = 2 * e->nt;
    if (pass == 0) {
        pac__phase_vectors(e, w, s, e->all_vp + s * n2, e->n_sig * n2);
        return;
    }
    if (!e->all_vp) pac__phase_vectors(e, w, s, w->vp, n2);
    for (a0 = 0; a0 < nas; a0 += e->plan.amp_bands_per_pass) {
        size_t na = nas - a0 < e->plan.amp_bands_per_pass ? nas - a0 : e->plan.amp_bands_per_pass;
        pac__amplitude_vectors(e, w, s, a0, na);
        pac__vector_cells(e, w, s, a0, na);
    }
}

/* ---- >>erpac: event-related PAC, across epochs at each time ------------------------------------ */

/* Section 5a. Pass 0 keeps every epoch's phase vectors (cos, sin) and amplitudes; pass 1 takes
   the times, each on its own, so that every result has one order of sums whatever the worker. */
static void pac__erpac_epoch(pac__eng *e, pac__work *w, size_t s)
{
    size_t na = e->n_band[PAC__AMP], nt = e->nt, a;
    pac__phase_vectors(e, w, s, e->all_vp + s * 2 * nt, e->n_sig * 2 * nt);
    pac__amplitude_vectors(e, w, s, 0, na);
    for (a = 0; a < na; a++) memcpy(e->all_av + (a * e->n_sig + s) * nt, w->va + a * 2 * nt, nt * sizeof(double));
}

/* tensorpac's pearson: (sum x y - n mean x mean y) / (|x - mean x| |y - mean y|) */
static double pac__pearson(const double *x, const double *y, size_t n)
{
    double mx = 0, my = 0, sxy = 0, vx = 0, vy = 0;
    size_t i;
    for (i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= (double)n, my /= (double)n;
    for (i = 0; i < n; i++) {
        sxy += x[i] * y[i];
        vx += (x[i] - mx) * (x[i] - mx);
        vy += (y[i] - my) * (y[i] - my);
    }
    return (sxy - (double)n * (mx * my)) / (sqrt(vx) * sqrt(vy));
}

/* The sin-cos correlation of phase band q as tensorpac's erpac computes it: its pearson with
   einsum('i...j, k...j->i...') sums over the second array's bands too, so band q's sin is set
   against the cos of every phase band, in numerator and denominator (Voytek's for one band). */
static double pac__erpac_rcs(const double *ep, size_t q, size_t np, size_t ns)
{
    const double *sa = ep + 2 * q * ns;
    double ms = 0, vs = 0, cov = 0, mu = 0, den = 0;
    size_t k, i;
    for (i = 0; i < ns; i++) ms += sa[i];
    ms /= (double)ns;
    for (i = 0; i < ns; i++) vs += (sa[i] - ms) * (sa[i] - ms);
    for (k = 0; k < np; k++) {
        const double *ca = ep + (2 * k + 1) * ns;
        double mc = 0, vc = 0;
        for (i = 0; i < ns; i++) mc += ca[i];
        mc /= (double)ns;
        for (i = 0; i < ns; i++) cov += sa[i] * ca[i], vc += (ca[i] - mc) * (ca[i] - mc);
        mu += ms * mc;
        den += sqrt(vs) * sqrt(vc);
    }
    return (cov - (double)ns * mu) / den;
}

/* Every cell at time t: w->ep holds, across the epochs, sin then cos of each phase band and
   each amplitude band (the copula: copula-normalised). */
static void pac__erpac_time(pac__eng *e, pac__work *w, size_t t)
{
    size_t ns = e->n_sig, np = e->n_band[PAC__PHA], na = e->n_band[PAC__AMP], nt = e->nt, q, a, s, k;
    double *ep = w->ep, *amp = ep + 2 * np * ns;
    for (q = 0; q < np; q++)
        for (s = 0; s < ns; s++) {
            const double *u = e->all_vp + (q * ns + s) * 2 * nt;
            ep[2 * q * ns + s] = u[nt + t];
            ep[(2 * q + 1) * ns + s] = u[t];
        }
    for (a = 0; a < na; a++)
        for (s = 0; s < ns; s++) amp[a * ns + s] = e->all_av[(a * ns + s) * nt + t];
    if (e->erpac == 1 + PAC_ERPAC_CIRCULAR) {
        for (q = 0; q < np; q++) {
            const double *sa = ep + 2 * q * ns, *ca = sa + ns;
            double rcs = pac__erpac_rcs(ep, q, np, ns);
            for (a = 0; a < na; a++) {
                double rxs = pac__pearson(amp + a * ns, sa, ns), rxc = pac__pearson(amp + a * ns, ca, ns);
                double rho = sqrt((rxc * rxc + rxs * rxs - 2 * rxc * rxs * rcs) / (1 - rcs * rcs));
                size_t cell = (a * np + q) * nt + t;
                e->eout.erpac[cell] = rho;
                if (e->eout.pvalues) e->eout.pvalues[cell] = 1.0 - -expm1(-0.5 * (double)ns * rho * rho); /* 1 - chi2.cdf(., 2) */
            }
        }
        return;
    }
    for (q = 0; q < 2 * np; q++) pac__copnorm_n(ep + q * ns, ns, e->gauss, w->idx);
    for (a = 0; a < na; a++) pac__copnorm_n(amp + a * ns, ns, e->gauss, w->idx);
    for (q = 0; q < np; q++) {
        const double *x1 = ep + 2 * q * ns, *x2 = x1 + ns;
        double xx[3] = {0, 0, 0};
        for (s = 0; s < ns; s++) xx[0] += x1[s] * x1[s], xx[1] += x1[s] * x2[s], xx[2] += x2[s] * x2[s];
        if (e->smooth) memcpy(e->s_xx + (q * nt + t) * 3, xx, sizeof xx);
        for (a = 0; a < na; a++) {
            const double *y = amp + a * ns;
            double d1 = 0, d2 = 0, yy = 0;
            for (s = 0; s < ns; s++) d1 += x1[s] * y[s], d2 += x2[s] * y[s], yy += y[s] * y[s];
            if (e->smooth) { /* the windows come after every time is done; so do the permutations' */
                size_t cells = na * np * nt, at = (a * np + q) * nt + t;
                e->s_xy[at * 2] = d1, e->s_xy[at * 2 + 1] = d2;
                e->s_yy[a * nt + t] = yy;
                for (k = 0; k < e->n_perm; k++) {
                    const uint32_t *perm = e->perms + k * ns;
                    double *dst = e->s_xy + ((k + 1) * cells + at) * 2;
                    dst[0] = dst[1] = 0;
                    for (s = 0; s < ns; s++) dst[0] += x1[perm[s]] * y[s], dst[1] += x2[perm[s]] * y[s];
                }
                continue;
            }
            e->eout.erpac[(a * np + q) * nt + t] = pac__gc_mi(xx, d1, d2, yy, ns);
            for (k = 0; k < e->n_perm; k++) { /* epoch s's amplitude with epoch perm[s]'s phase */
                const uint32_t *perm = e->perms + k * ns;
                double v;
                d1 = d2 = 0;
                for (s = 0; s < ns; s++) d1 += x1[perm[s]] * y[s], d2 += x2[perm[s]] * y[s];
                v = pac__gc_mi(xx, d1, d2, yy, ns);
                if (v > w->perm_max[k]) w->perm_max[k] = v;
                if (e->eout.surrogates) e->eout.surrogates[((k * na + a) * np + q) * nt + t] = v;
            }
        }
    }
}

/* tensorpac's smoothed gc ERPAC from each time's sums: the MI of window [k - w, k + w] (k from w
   to nt - w - 1) over all its times' epochs, then at each time the mean of the windows that hold
   it, added in window order. Cell row (a, q) of sums set m (0: the data, 1 + j: permutation j)
   into out (nt values). */
static void pac__erpac_smooth_row(const pac__eng *e, size_t m, size_t a, size_t q, double *out)
{
    size_t np = e->n_band[PAC__PHA], na = e->n_band[PAC__AMP], nt = e->nt, w = e->smooth, k, t;
    size_t n_win = nt - 2 * w, samples = (2 * w + 1) * e->n_sig;
    const double *sxy = e->s_xy + (m * na * np * nt + (a * np + q) * nt) * 2;
    for (t = 0; t < nt; t++) out[t] = 0;
    for (k = w; k < w + n_win; k++) {
        double xx[3] = {0, 0, 0}, d1 = 0, d2 = 0, yy = 0, v;
        for (t = k - w; t <= k + w; t++) {
            const double *x = e->s_xx + (q * nt + t) * 3;
            xx[0] += x[0], xx[1] += x[1], xx[2] += x[2];
            d1 += sxy[t * 2], d2 += sxy[t * 2 + 1], yy += e->s_yy[a * nt + t];
        }
        v = pac__gc_mi(xx, d1, d2, yy, samples);
        for (t = k - w; t <= k + w; t++) out[t] += v;
    }
    for (t = 0; t < nt; t++) { /* the windows that hold time t: k in [max(t - w, w), min(t + w, nt - w - 1)] */
        size_t kmin = t > 2 * w ? t - w : w, kmax = t + w < nt - w - 1 ? t + w : nt - w - 1;
        out[t] /= (double)(kmax - kmin + 1);
    }
}

/* The smoothed map into eout.erpac, and each permutation's largest smoothed cell (its map made
   a row at a time in the first worker's scratch) */
static void pac__erpac_smooth(pac__eng *e, pac__work *w0)
{
    size_t np = e->n_band[PAC__PHA], na = e->n_band[PAC__AMP], nt = e->nt, a, q, k, t;
    for (a = 0; a < na; a++)
        for (q = 0; q < np; q++) pac__erpac_smooth_row(e, 0, a, q, e->eout.erpac + (a * np + q) * nt);
    for (k = 0; k < e->n_perm; k++) {
        double top = -HUGE_VAL;
        for (a = 0; a < na; a++)
            for (q = 0; q < np; q++) {
                pac__erpac_smooth_row(e, k + 1, a, q, w0->va);
                for (t = 0; t < nt; t++) top = w0->va[t] > top ? w0->va[t] : top;
                if (e->eout.surrogates) memcpy(e->eout.surrogates + ((k * na + a) * np + q) * nt, w0->va, nt * sizeof(double));
            }
        w0->perm_max[k] = top;
    }
}

/* The circular method's p-values corrected over every cell as tensorpac's infer_pvalues does it
   (mne's fdr_correction, or bonferroni_correction for desc.mcp PAC_MCP_BONFERRONI): q_(i) =
   min_(j >= i) p_(j) n / j, at most 1. TP_ERR_NOMEM when the order of the cells has no room. */
static tp_result pac__erpac_correct(pac__eng *e, size_t cells)
{
    double *pv = e->eout.pvalues, q = 1.0;
    pac__cellp *cp;
    size_t c;
    tp_error te;
    if (e->mcp == PAC_MCP_BONFERRONI) {
        for (c = 0; c < cells; c++) pv[c] = pv[c] * (double)cells > 1.0 ? 1.0 : pv[c] * (double)cells;
        return TP_OK;
    }
    if (!(cp = (pac__cellp *)tp_alloc_at(e->pool, cells * sizeof *cp, 0, __FILE__, __LINE__, &te))) return te.code;
    for (c = 0; c < cells; c++) cp[c].p = pv[c], cp[c].at = (uint32_t)c;
    qsort(cp, cells, sizeof *cp, pac__by_p);
    for (c = cells; c-- > 0;) {
        double raw = cp[c].p / ((double)(c + 1) / (double)cells);
        q = raw < q ? raw : q;
        pv[cp[c].at] = q;
    }
    tp_free(e->pool, cp);
    return TP_OK;
}

/* pac_erpac's p-values: the circular method's chi2 values corrected over the cells, or the gc
   method's maxstat over the permutations' largest cells, as tensorpac */
static tp_result pac__erpac_pvalues(pac__eng *e, pac__work *wk, size_t n_workers, double threshold)
{
    size_t cells = e->n_band[PAC__AMP] * e->n_band[PAC__PHA] * e->nt, c, k, i;
    if (!e->eout.pvalues) return TP_OK;
    if (e->erpac == 1 + PAC_ERPAC_CIRCULAR) return pac__erpac_correct(e, cells);
    for (k = 0; k < e->n_perm; k++) /* the largest of the workers' largest: no order to depend on */
        for (i = 1; i < n_workers; i++) wk[0].perm_max[k] = wk[i].perm_max[k] > wk[0].perm_max[k] ? wk[i].perm_max[k] : wk[0].perm_max[k];
    for (c = 0; c < cells; c++) {
        size_t over = 0;
        double p;
        for (k = 0; k < e->n_perm; k++) over += e->eout.erpac[c] <= wk[0].perm_max[k];
        p = (double)over / (double)e->n_perm;
        if (p >= threshold) p = 1.0;
        e->eout.pvalues[c] = p > 1.0 / (double)e->n_perm ? p : 1.0 / (double)e->n_perm;
    }
    return TP_OK;
}

/* ---- >>cuda: the cells of pass 1 on the device (PACGPU_USE_CUDA) ----------------------------- */
#if defined(PACGPU_USE_CUDA)
/* Device memory under a budget: every block of a run comes from cudaMalloc while the bytes held
   stay within it (over it, TP_ERR_BUDGET before any launch), and all go back at the run's end.
   A run allocates each buffer once, so there is nothing to reuse within it. */
enum { PAC__GPU_BUFS = 21, PAC__DPOOL_BLOCKS = PAC__GPU_BUFS + 1 }; /* pac__gpu_buffers' most, and cuFFT's work area */
typedef struct pac__dpool {
    size_t budget, held, peak;
    void *block[PAC__DPOOL_BLOCKS];
    int n;
} pac__dpool;

static tp_result pac__dalloc(pac__dpool *d, size_t n, void **p)
{
    if (n > d->budget || d->held > d->budget - n || d->n == PAC__DPOOL_BLOCKS) return TP_ERR_BUDGET;
    if (cudaMalloc(p, n) != cudaSuccess) return TP_ERR_DEVICE;
    d->held += n;
    d->peak = d->held > d->peak ? d->held : d->peak;
    d->block[d->n++] = *p;
    return TP_OK;
}

static void pac__dpool_free(pac__dpool *d)
{
    while (d->n > 0) cudaFree(d->block[--d->n]);
    d->held = 0;
}

/* A run on the device: signals go up in chunks; per chunk, cuFFT transforms of their odd
   extensions (one per signal and kind), the band pairs' products and inverse transforms, the
   pairs' Hilbert transforms, then phase bins (kept for every signal) or amplitudes (floats, for
   the chunk), and the cells. Everything per element is the CPU path's own functions. */
typedef struct pac__gpu {
    pac__dpool pool;
    size_t chunk, pairs[2];
    cufftHandle spec[2], pair[2], hil[2]; /* batches: chunk; chunk x pairs; chunk x pairs */
    int plans;                            /* how many of the six were made */
    void *ws;                             /* the plans' shared work area */
    cudaStream_t stream;
    double *x, *kern[2], *wt, *res;
    cufftDoubleComplex *sp, *work, *hilb;
    unsigned char *bins;                  /* n_pha x n_sig x n: every signal's */
    uint32_t *counts;                     /* n_pha x n_sig x (PAC_N_BINS + 1) */
    float *amp;                           /* chunk x n_amp x n (not for the PLV) */
    float *vec;                           /* MVL, ndPAC, PLV: n_pha x n_sig x n unit vectors (float pairs) */
    float *avec;                          /* PLV: chunk x n_amp x n amplitude sides (float pairs) */
    cufftDoubleComplex *env;              /* PLV: chunk x amplitude pairs x n, envelopes then their angles */
    double *mom;                          /* ndPAC: chunk x n_amp (mean, sd) of the amplitude rows */
    int *ok;                              /* n_pha x n_sig */
    int64_t *shifts;
    uint32_t *perms;                      /* swap-epochs: n_perm x n_sig, the phase signal of each */
    uint32_t *task_k;                     /* the runs kernel's order of surrogates */
    double *vals;                         /* every MI, (n_perm + 1) x the chunk's cells: for pac__k_runs, the
                                             surrogate cube and pvalues (else NULL) */
    int runs;                             /* cells by pac__k_runs (else pac__k_cells) */
    int keep_vals;                        /* vals wanted */
    pac__wide *msum;                      /* pvalues or out.sums without the cube: the max-stat sums, on the device */
    unsigned ag;                          /* its amplitude bands per block, a power of two <= 32 */
    unsigned copies;                      /* of each amplitude row in its shared memory: 2, or 1 (wrap) */
    size_t runs_shared;                   /* its dynamic shared memory */
    unsigned runs_threads;                /* its threads a block */
    pac__staging h;                       /* host staging, one block from hpool */
    char *hblock;
    tp_pool *hpool;
    cudaEvent_t ev[4];                    /* out.info: the run's start, then marks within a chunk */
    int events;                           /* how many were made */
    double ms[4];
} pac__gpu;

#ifndef PAC__CUDA_THREADS
#define PAC__CUDA_THREADS 256 /* threads of a block; a multiple of 32 */
#endif

#ifndef PAC_TEST_CUDA_CELLS
#define PAC_TEST_CUDA_CELLS 1 /* 0: always pac__k_cells (to compare the two on a device) */
#endif
#ifndef PAC_TEST_CUDA_ROWS_ONCE
#define PAC_TEST_CUDA_ROWS_ONCE 0 /* 1: pac__k_runs stores the rows once (offsets wrap) even where they fit twice */
#endif
#ifndef PAC_TEST_CUDA_RUN_BANDS
#define PAC_TEST_CUDA_RUN_BANDS 32 /* pac__k_runs: at most this many amplitude bands a block (a power of two) */
#endif
#ifndef PAC__RUNS_MIN_SURROGATES
#define PAC__RUNS_MIN_SURROGATES 32 /* pac__k_runs from this many histograms a cell (n_perm + 1) */
#endif

static unsigned pac__grid(size_t n) { return (unsigned)((n + PAC__CUDA_THREADS - 1) / PAC__CUDA_THREADS); }

/* spec[s][i] = (odd extension of x[s] at i, 0) for i < lf */
__global__ static void pac__k_extend(const double *x, size_t n, size_t p, size_t lf, size_t rows, cufftDoubleComplex *spec)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x, s = g / lf, i = g % lf;
    if (s >= rows) return;
    spec[g].x = pac__odd_ext(x + s * n, n, p, i);
    spec[g].y = 0.0;
}

/* work[s][pair][f] = spec[s][f] (K_2pair(f) + i K_2pair+1(f)), the kernels even (K[lf - f] = K[f]) */
__global__ static void pac__k_pairs(const cufftDoubleComplex *spec, const double *kern, size_t half, size_t lf, size_t nb,
                                    size_t pairs, size_t rows, cufftDoubleComplex *work)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x, f = g % lf, sp = g / lf, s = sp / pairs, q = sp % pairs;
    size_t k = f < half ? f : lf - f, b = 2 * q;
    double k1, k2, wr, wi;
    if (s >= rows) return;
    k1 = kern[b * half + k], k2 = b + 1 < nb ? kern[(b + 1) * half + k] : 0.0;
    pac__pair_mul(spec[s * lf + f].x, spec[s * lf + f].y, k1, k2, &wr, &wi);
    work[g].x = wr, work[g].y = wi;
}

/* hilb[r][t] = the filtered pair (trimmed, scaled by 1 / lf) for t < n, 0 to lh */
__global__ static void pac__k_trim(const cufftDoubleComplex *work, size_t lf, size_t p, size_t n, size_t lh, size_t rows,
                                   cufftDoubleComplex *hilb)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x, r = g / lh, t = g % lh;
    double inv = 1.0 / (double)lf;
    if (r >= rows) return;
    hilb[g].x = t < n ? work[r * lf + p + t].x * inv : 0.0;
    hilb[g].y = t < n ? work[r * lf + p + t].y * inv : 0.0;
}

__global__ static void pac__k_hilbert(size_t lh, size_t rows, cufftDoubleComplex *hilb)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    double re, im;
    if (g >= rows * lh) return;
    re = hilb[g].x, im = hilb[g].y;
    pac__hilbert_mul(g % lh, lh, &re, &im);
    hilb[g].x = re, hilb[g].y = im;
}

/* Phase bins of chunk signal s (global s0 + s), band pair q: bins[band][s0 + s][t] */
__global__ static void pac__k_bins(const cufftDoubleComplex *work, const cufftDoubleComplex *hilb, pac__bins bn, size_t lf,
                                   size_t p, size_t n, size_t lh, size_t pairs, size_t nb, size_t rows, size_t s0, size_t n_sig,
                                   unsigned char *bins)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x, t = g % n, r = g / n, s = r / pairs, q = r % pairs, b = 2 * q;
    double inv_f = 1.0 / (double)lf, inv_h = 1.0 / (double)lh;
    if (s >= rows) return;
    bins[(b * n_sig + s0 + s) * n + t] = pac__bin_xy(&bn, work[r * lf + p + t].x * inv_f, hilb[r * lh + t].x * inv_h);
    if (b + 1 < nb) bins[((b + 1) * n_sig + s0 + s) * n + t] = pac__bin_xy(&bn, work[r * lf + p + t].y * inv_f, hilb[r * lh + t].y * inv_h);
}

/* amp[s][band][t] for the chunk's signals */
__global__ static void pac__k_amps(const cufftDoubleComplex *work, const cufftDoubleComplex *hilb, size_t lf, size_t p, size_t n,
                                   size_t lh, size_t pairs, size_t nb, size_t rows, float *amp)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x, t = g % n, r = g / n, s = r / pairs, q = r % pairs, b = 2 * q;
    double inv_f = 1.0 / (double)lf, inv_h = 1.0 / (double)lh;
    if (s >= rows) return;
    amp[(s * nb + b) * n + t] = (float)pac__amplitude(work[r * lf + p + t].x * inv_f, hilb[r * lh + t].x, inv_h);
    if (b + 1 < nb) amp[(s * nb + b + 1) * n + t] = (float)pac__amplitude(work[r * lf + p + t].y * inv_f, hilb[r * lh + t].y, inv_h);
}

/* The unit vectors z / |z| of the phases, as float pairs vec[series][t][2] (as the CPU's pac__unit:
   (1, 0) at zero, NaN for NaN; hypot, so no square overflows), for the mean vector length */
PAC_HD static inline void pac__unit_of(double re, double im, float *out)
{
    double m = hypot(re, im);
    out[0] = m > 0 ? (float)(re / m) : m == 0 ? 1.0f : (float)m;
    out[1] = m > 0 ? (float)(im / m) : m == 0 ? 0.0f : (float)m;
}

__global__ static void pac__k_units(const cufftDoubleComplex *work, const cufftDoubleComplex *hilb, size_t lf, size_t p, size_t n,
                                    size_t lh, size_t pairs, size_t nb, size_t rows, size_t s0, size_t n_sig, float *vec)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x, t = g % n, r = g / n, s = r / pairs, q = r % pairs, b = 2 * q;
    double inv_f = 1.0 / (double)lf, inv_h = 1.0 / (double)lh;
    if (s >= rows) return;
    pac__unit_of(work[r * lf + p + t].x * inv_f, hilb[r * lh + t].x * inv_h, vec + 2 * ((b * n_sig + s0 + s) * n + t));
    if (b + 1 < nb) pac__unit_of(work[r * lf + p + t].y * inv_f, hilb[r * lh + t].y * inv_h, vec + 2 * (((b + 1) * n_sig + s0 + s) * n + t));
}

/* The PLV's amplitude side (tensorpac's angle of hilbertm, twice), in three steps over the
   chunk's amplitude pairs (rows x pairs, lh each) between Hilbert transforms of hilb. First:
   each pair's envelopes (from work and hilb, as pac__k_amps computes them, in double) into
   hilb, zero-padded, and into env */
__global__ static void pac__k_plv_envelopes(const cufftDoubleComplex *work, cufftDoubleComplex *hilb, size_t lf, size_t p, size_t n,
                                            size_t lh, size_t pr, cufftDoubleComplex *env)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x, t = g % lh, r = g / lh;
    double inv_f = 1.0 / (double)lf, inv_h = 1.0 / (double)lh, x = 0, y = 0;
    if (r >= pr) return;
    if (t < n) {
        x = pac__amplitude(work[r * lf + p + t].x * inv_f, hilb[g].x, inv_h);
        y = pac__amplitude(work[r * lf + p + t].y * inv_f, hilb[g].y, inv_h);
        env[r * n + t].x = x, env[r * n + t].y = y;
    }
    hilb[g].x = x, hilb[g].y = y;
}

/* Second: the angles of (env, its Hilbert transform) into hilb, zero-padded, and into env */
__global__ static void pac__k_plv_angles(cufftDoubleComplex *hilb, size_t n, size_t lh, size_t pr, cufftDoubleComplex *env)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x, t = g % lh, r = g / lh;
    double inv_h = 1.0 / (double)lh, x = 0, y = 0;
    if (r >= pr) return;
    if (t < n) {
        x = atan2(hilb[g].x * inv_h, env[r * n + t].x);
        y = atan2(hilb[g].y * inv_h, env[r * n + t].y);
        env[r * n + t].x = x, env[r * n + t].y = y;
    }
    hilb[g].x = x, hilb[g].y = y;
}

/* Third: the conjugated unit vectors of (angles, their Hilbert transform) as float pairs,
   avec[s][band][t][2] = (cos, -sin) */
__global__ static void pac__k_plv_units(const cufftDoubleComplex *hilb, const cufftDoubleComplex *env, size_t n, size_t lh, size_t pairs,
                                        size_t nb, size_t rows, float *avec)
{
    size_t g = (size_t)blockIdx.x * blockDim.x + threadIdx.x, t = g % n, r = g / n, s = r / pairs, q = r % pairs, b = 2 * q;
    double inv_h = 1.0 / (double)lh;
    float *o;
    if (s >= rows) return;
    o = avec + 2 * ((s * nb + b) * n + t);
    pac__unit_of(env[r * n + t].x, hilb[r * lh + t].x * inv_h, o);
    o[1] = -o[1];
    if (b + 1 < nb) {
        o = avec + 2 * ((s * nb + b + 1) * n + t);
        pac__unit_of(env[r * n + t].y, hilb[r * lh + t].y * inv_h, o);
        o[1] = -o[1];
    }
}

/* counts[q][s][j]: samples of series (q, s) in bin j (PAC_N_BINS: none); one block per series */
__global__ static void pac__k_counts(const unsigned char *bins, size_t n, uint32_t *counts)
{
    __shared__ unsigned int c[PAC_N_BINS + 1];
    size_t series = blockIdx.x, t;
    unsigned j;
    for (j = threadIdx.x; j <= PAC_N_BINS; j += blockDim.x) c[j] = 0;
    __syncthreads();
    for (t = threadIdx.x; t < n; t += blockDim.x) atomicAdd(&c[bins[series * n + t]], 1u);
    __syncthreads();
    for (j = threadIdx.x; j <= PAC_N_BINS; j += blockDim.x) counts[series * (PAC_N_BINS + 1) + j] = c[j];
}

/* A cell's running statistics on the device, in surrogate order as on the CPU: the MI (k = 0),
   then Welford over the surrogates and the count of those at or above the MI; stored as
   res[0..3][cell] */
typedef struct pac__cellstat { double mi0, mean, m2, n_ge; } pac__cellstat;

PAC_HD static inline void pac__cellstat_take(pac__cellstat *c, double v, size_t k)
{
    if (k == 0) {
        c->mi0 = v;
        return;
    }
    pac__welford(v, k - 1, &c->mean, &c->m2);
    c->n_ge += v >= c->mi0;
}

PAC_HD static inline void pac__cellstat_store(const pac__cellstat *c, double *res, size_t cells, size_t cell)
{
    res[cell] = c->mi0, res[cells + cell] = c->mean, res[2 * cells + cell] = c->m2, res[3 * cells + cell] = c->n_ge;
}

/* One block per (chunk signal s, phase band q, amplitude band a): for the MI and each
   surrogate (shift k), every thread sums the amplitudes of its samples by bin into its own
   column of shared memory (no atomics), each warp adds a bin's columns (lanes, then a shuffle
   tree: a fixed order), thread 0 takes the MI of the histogram (pac__mi_cell; with hr its heights
   ratio, pac__hr_add_bin) and the Welford
   step (pac__welford), as the CPU does. The shift is index arithmetic on the unshifted
   amplitudes; swap-epochs (perms) pairs them with another signal's bins and weights instead.
   Each MI also goes to vals[k][cell] when asked (the surrogate cube, pvalues). Two barriers a
   shift. The block size is a multiple of 32. */
__global__ static void pac__k_cells(const unsigned char *bins, const float *amp, size_t n, size_t n_sig, size_t s0, size_t np,
                                    size_t na, const double *wt, const int *ok, const int64_t *shifts, const uint32_t *perms,
                                    size_t n_perm, int hr, double nan_value, double *res, double *vals)
{
    PAC__DYNAMIC_SHARED(float, pac__part); /* PAC_N_BINS x blockDim.x */
    __shared__ double hist[PAC_N_BINS];
    size_t cell = blockIdx.x, a = cell % na, q = cell / na % np, s = cell / na / np, series = q * n_sig + s0 + s, t, k;
    size_t cells = (size_t)gridDim.x;
    unsigned tid = threadIdx.x, nt = blockDim.x, i;
    const float *av = amp + (s * na + a) * n;
    pac__cellstat st = {0, 0, 0, 0};
    int j;
    for (k = 0; k <= n_perm; k++) {
        size_t shift = k && !perms ? (size_t)shifts[k - 1] : 0, sk = k && perms ? q * n_sig + perms[(k - 1) * n_sig + s0 + s] : series;
        const unsigned char *bk = bins + sk * n;
        for (j = 0; j < PAC_N_BINS; j++) pac__part[j * nt + tid] = 0.0f;
        for (t = tid; t < n; t += nt) {
            unsigned b = bk[t];
            if (b < PAC_N_BINS) pac__part[b * nt + tid] += av[t + shift >= n ? t + shift - n : t + shift];
        }
        __syncthreads();
        for (j = (int)(tid / 32); j < PAC_N_BINS; j += (int)(nt / 32)) { /* a warp per bin, a fixed order */
            float sum = 0.0f;
            int off;
            for (i = tid % 32; i < nt; i += 32) sum += pac__part[j * nt + i];
            for (off = 16; off > 0; off /= 2) sum += __shfl_down_sync(0xffffffffu, sum, off);
            if (tid % 32 == 0) hist[j] = sum;
        }
        __syncthreads();
        if (tid == 0) {
            const double *w = wt + sk * PAC_N_BINS;
            double v = nan_value, hi = -HUGE_VAL, lo = HUGE_VAL;
            if (ok[sk] && hr) { /* as the runs kernel: pac__hr_cell's two loops cost twice the registers */
                for (j = 0; j < PAC_N_BINS; j++) pac__hr_add_bin(hist[j], w[j], &hi, &lo);
                v = pac__hr_sums(hi, lo);
            } else if (ok[sk]) {
                v = pac__mi_cell(hist, 1, PAC_N_BINS, w);
            }
            if (vals) vals[k * cells + cell] = v;
            pac__cellstat_take(&st, v, k);
        } /* no barrier here: the next shift writes hist only after its first one, so the other
             warps start it while thread 0 takes the logarithms */
    }
    if (tid == 0) pac__cellstat_store(&st, res, cells, cell);
}

/* The sum of every thread's v in a fixed order (a shuffle tree per warp, then the warps in
   order), in every thread; part holds a double a warp. Two barriers. */
__device__ static PAC__FORCEINLINE double pac__block_sum(double v, double *part)
{
    unsigned tid = threadIdx.x, w, warps = blockDim.x / 32;
    double sum = 0;
    int off;
    for (off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
    if (tid % 32 == 0) part[tid / 32] = v;
    __syncthreads();
    for (w = 0; w < warps; w++) sum += part[w];
    __syncthreads();
    return sum;
}

/* ndPAC's z-scores of the chunk's amplitude rows, as the CPU's pac__zscore computes them: the
   mean m, the mean c of the centred values, sd = sqrt(sum (x - m - c)^2 / (n - 1)); one block a
   row: mom[2 row] = m, mom[2 row + 1] = sd */
__global__ static void pac__k_zscore_moments(const float *amp, size_t n, double *mom)
{
    __shared__ double part[PAC__CUDA_THREADS / 32];
    size_t row = blockIdx.x, t;
    const float *x = amp + row * n;
    double m, c, acc = 0;
    for (t = threadIdx.x; t < n; t += blockDim.x) acc += x[t];
    m = pac__block_sum(acc, part) / (double)n;
    for (acc = 0, t = threadIdx.x; t < n; t += blockDim.x) acc += x[t] - m;
    c = pac__block_sum(acc, part) / (double)n;
    for (acc = 0, t = threadIdx.x; t < n; t += blockDim.x) acc += (x[t] - m - c) * (x[t] - m - c);
    acc = pac__block_sum(acc, part);
    if (threadIdx.x == 0) mom[2 * row] = m, mom[2 * row + 1] = sqrt(acc / (double)(n - 1));
}

/* The mean vector length's cells (ndPAC's, with mom: each amplitude row z-scored, values with
   |sum|^2 <= nd_limit zero; the PLV's, with avec: complex amplitude sides in place of amp): one
   block per (chunk signal s, phase band q, amplitude band a);
   for the measure and each surrogate (shift k, or swap-epochs' other signal's phases) every
   thread sums amplitude x unit vector over its samples in double, the block adds the sums in a
   fixed order (a shuffle tree per warp, then thread 0 over the warps) and thread 0 takes
   |sum| / n and the Welford step, as pac__k_cells does for the MI. The warps' sums alternate
   between two rows by shift, so one barrier a shift keeps thread 0's reads ahead of the next
   writes. */
__global__ static void pac__k_mvl_cells(const float *vec, const float *amp, const float *avec, const double *mom, double nd_limit,
                                        size_t n, size_t n_sig, size_t s0, size_t np, size_t na, const int *ok, const int64_t *shifts,
                                        const uint32_t *perms, size_t n_perm, double nan_value, double *res, double *vals)
{
    __shared__ double part[2][2][PAC__CUDA_THREADS / 32];
    size_t cell = blockIdx.x, a = cell % na, q = cell / na % np, s = cell / na / np, series = q * n_sig + s0 + s, t, k;
    size_t cells = (size_t)gridDim.x;
    unsigned tid = threadIdx.x, nt = blockDim.x, warps = nt / 32, w;
    const float *av = avec ? NULL : amp + (s * na + a) * n, *cv = avec ? avec + 2 * (s * na + a) * n : NULL;
    double m0 = mom ? mom[2 * (s * na + a)] : 0.0, sd = mom ? mom[2 * (s * na + a) + 1] : 1.0;
    pac__cellstat st = {0, 0, 0, 0};
    for (k = 0; k <= n_perm; k++) {
        size_t shift = k && !perms ? (size_t)shifts[k - 1] : 0, sk = k && perms ? q * n_sig + perms[(k - 1) * n_sig + s0 + s] : series;
        const float *u = vec + 2 * sk * n;
        double sr = 0, si = 0;
        int off;
        for (t = tid; t < n; t += nt) {
            size_t at = t + shift >= n ? t + shift - n : t + shift;
            if (cv) { /* the PLV: (amplitude side) x (phase side), complex */
                double xr = cv[2 * at], xi = cv[2 * at + 1];
                sr += xr * u[2 * t] - xi * u[2 * t + 1];
                si += xr * u[2 * t + 1] + xi * u[2 * t];
            } else {
                double x = av[at];
                if (mom) x = (x - m0) / sd;
                sr += x * u[2 * t];
                si += x * u[2 * t + 1];
            }
        }
        for (off = 16; off > 0; off /= 2) {
            sr += __shfl_down_sync(0xffffffffu, sr, off);
            si += __shfl_down_sync(0xffffffffu, si, off);
        }
        if (tid % 32 == 0) part[k & 1][0][tid / 32] = sr, part[k & 1][1][tid / 32] = si;
        __syncthreads();
        if (tid == 0) {
            double v;
            sr = si = 0;
            for (w = 0; w < warps; w++) sr += part[k & 1][0][w], si += part[k & 1][1][w];
            v = sqrt(sr * sr + si * si);
            v = !ok[sk] ? nan_value : mom && v * v <= nd_limit ? 0.0 : v / (double)n;
            if (vals) vals[k * cells + cell] = v;
            pac__cellstat_take(&st, v, k);
        }
    }
    if (tid == 0) pac__cellstat_store(&st, res, cells, cell);
}

/* The max-stat sums of the chunk's cells, added to sums[((k - 1) x na + a) x np + q] for every
   surrogate k: each value in pac__wide's fixed point, whose sums do not depend on their order,
   so they equal the CPU path's to the bit (pvalues and out.sums without copying every
   surrogate's value down); one thread a sum */
__global__ static void pac__k_max_sums(const double *vals, size_t rows, size_t np, size_t na, size_t n_perm, pac__wide *sums)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, cells = rows * np * na, k = i / (na * np) + 1, a = i / np % na, q = i % np, s;
    pac__wide acc;
    if (i >= n_perm * na * np) return;
    acc = sums[i];
    for (s = 0; s < rows; s++) pac__wide_add(&acc, pac__wide_of(vals[k * cells + (s * np + q) * na + a]));
    sums[i] = acc;
}

#ifndef PAC__RUNS_SHIFTS
#define PAC__RUNS_SHIFTS 4
#endif
/* pac__k_runs' arguments: one struct for its two instances (rows twice and once), each with the
   registers its own inner loop needs */
typedef struct pac__runs_args {
    const unsigned char *bins;
    const uint32_t *counts, *task_k;
    const float *amp;
    const double *wt;
    const int *ok;
    const int64_t *shifts;
    double *vals, nan_value;
    size_t n_sig, s0, np, na, groups, n_perm, cells;
    unsigned n, ag;
    int hr;                     /* the heights ratio instead of the MI */
} pac__runs_args;

/* The cells with surrogates, when a group of amplitude bands fits in shared memory twice. One
   block per (chunk signal s, phase band q, group of ag amplitude bands): the series' samples
   sorted by phase bin (stable: a warp per bin, ballots in time order), the group's amplitudes
   time-major in shared memory, twice over (rows t and t + n alike, so a shifted time needs no
   wrap), then each thread PAC__RUNS_SHIFTS histograms (surrogates) of one band at a time, bin
   after bin, summing the amplitudes at the bin's shifted times in registers: per sample and
   surrogate one add of offsets, one shared load and one float add; no read-modify-write, no
   zeroing and no reduction per shift, which cost pac__k_cells more than its sums at 2048 samples.
   A warp's lanes are ag bands x 32 / ag surrogates: at each sample all lanes read its time once
   (a broadcast, for PAC__RUNS_SHIFTS sums) and the lanes of a surrogate one row; the host orders
   the surrogates so that those a warp reads together are shifted by distinct residues mod
   32 / ag: their rows fall in distinct banks. Times and shifts are byte offsets into the rows.
   Each MI (or heights ratio, from the two numbers it gathers bin by bin in place of the MI's)
   goes to vals[k][cell]; pac__k_stats takes them in surrogate order. With copies = 1 the
   rows are stored once, for signals too long to store twice (or PAC_TEST_CUDA_ROWS_ONCE): a shifted
   offset past the last row wraps to the first (pac__wrap_plan, pac__wrap_row: a compare and a
   select more an update) in place of half the shared memory. */
__device__ static PAC__FORCEINLINE void pac__runs_block(const pac__runs_args *p, const unsigned copies)
{
    const size_t np = p->np, na = p->na, groups = p->groups, n_perm = p->n_perm;
    const unsigned n = p->n, ag = p->ag;
    PAC__DYNAMIC_SHARED(float, pac__amp_t); /* copies x n x ag amplitudes, then the sorted samples' row offsets in bytes */
    __shared__ unsigned start[PAC_N_BINS + 1];
    __shared__ double weight[PAC_N_BINS];
    size_t blk = blockIdx.x, grp = blk % groups, q = blk / groups % np, s = blk / groups / np, series = q * p->n_sig + p->s0 + s;
    size_t a0 = grp * ag, nag = na - a0 < ag ? na - a0 : ag, cell0 = (s * np + q) * na + a0, i, base;
    unsigned *row = (unsigned *)(pac__amp_t + (size_t)copies * n * ag), span = n * ag * 4; /* a copy's bytes */
    const unsigned char *bq = p->bins + series * n;
    unsigned tid = threadIdx.x, nt = blockDim.x, lane = tid % 32, per_warp = 32 / ag, a = lane % ag, j, t, u;
    unsigned stride = nt / 32 * per_warp * PAC__RUNS_SHIFTS;
    if (tid == 0) {
        unsigned acc = 0;
        for (j = 0; j < PAC_N_BINS; j++) start[j] = acc, acc += p->counts[series * (PAC_N_BINS + 1) + j];
        start[PAC_N_BINS] = acc;
    }
    if (tid < PAC_N_BINS) weight[tid] = p->wt[series * PAC_N_BINS + tid];
    __syncthreads();
    for (j = tid / 32; j < PAC_N_BINS; j += nt / 32) {
        unsigned at = start[j];
        for (t = 0; t < n; t += 32) {
            int mine = t + lane < n && bq[t + lane] == j;
            unsigned votes = __ballot_sync(0xffffffffu, mine);
            if (mine) row[at + __popc(votes & ((1u << lane) - 1))] = (t + lane) * ag * 4;
            at += __popc(votes);
        }
    }
    for (i = tid; i < nag * n; i += nt) {
        float v = p->amp[(s * na + a0 + i / n) * n + i % n];
        pac__amp_t[i % n * ag + i / n] = v;
        if (copies == 2) pac__amp_t[(i % n + n) * ag + i / n] = v;
    }
    __syncthreads();
    if (a >= nag) return;
    for (base = tid / 32 * per_warp * PAC__RUNS_SHIFTS + lane / ag; base <= n_perm; base += stride) {
        const unsigned char *at_shift[PAC__RUNS_SHIFTS]; /* this lane's row 0 of each surrogate's shift */
        double s1[PAC__RUNS_SHIFTS], s2[PAC__RUNS_SHIFTS]; /* MI: sum u, sum u log u; HR: max u, min u */
        unsigned sh[PAC__RUNS_SHIFTS];
        PAC__UNROLL
        for (u = 0; u < PAC__RUNS_SHIFTS; u++) { /* the u-th surrogate: base + u per_warp */
            size_t task = base + u * per_warp, k = task <= n_perm ? p->task_k[task] : 0;
            sh[u] = k ? (unsigned)p->shifts[k - 1] : 0;
            at_shift[u] = (const unsigned char *)(pac__amp_t + a) + (size_t)sh[u] * ag * 4;
            s1[u] = p->hr ? -HUGE_VAL : 0.0;
            s2[u] = p->hr ? HUGE_VAL : 0.0;
        }
        if (p->ok[series])
            for (j = 0; j < PAC_N_BINS; j++) {
                float sum[PAC__RUNS_SHIFTS];
                unsigned r;
                PAC__UNROLL
                for (u = 0; u < PAC__RUNS_SHIFTS; u++) sum[u] = 0.0f;
                if (copies == 2)
                    for (r = start[j]; r < start[j + 1]; r++) {
                        unsigned at = row[r];
                        PAC__UNROLL
                        for (u = 0; u < PAC__RUNS_SHIFTS; u++) sum[u] += *(const float *)(at_shift[u] + at);
                    }
                else { /* rows stored once: from thr[u] on, the shifted row is a copy (span bytes) earlier */
                    unsigned off[PAC__RUNS_SHIFTS], early[PAC__RUNS_SHIFTS], thr[PAC__RUNS_SHIFTS];
                    PAC__UNROLL
                    for (u = 0; u < PAC__RUNS_SHIFTS; u++) pac__wrap_plan(sh[u], a, ag, span, &off[u], &early[u], &thr[u]);
                    for (r = start[j]; r < start[j + 1]; r++) {
                        unsigned at = row[r];
                        PAC__UNROLL
                        for (u = 0; u < PAC__RUNS_SHIFTS; u++)
                            sum[u] += *(const float *)((const unsigned char *)pac__amp_t + pac__wrap_row(at, off[u], early[u], thr[u]));
                    }
                }
                PAC__UNROLL
                for (u = 0; u < PAC__RUNS_SHIFTS; u++)
                    if (p->hr) pac__hr_add_bin(sum[u], weight[j], &s1[u], &s2[u]);
                    else pac__mi_add_bin(sum[u], weight[j], &s1[u], &s2[u]);
            }
        PAC__UNROLL
        for (u = 0; u < PAC__RUNS_SHIFTS; u++) {
            size_t task = base + u * per_warp;
            if (task <= n_perm)
                p->vals[p->task_k[task] * p->cells + cell0 + a] = !p->ok[series] ? p->nan_value
                                                                  : p->hr ? pac__hr_sums(s1[u], s2[u]) : pac__mi_sums(s1[u], s2[u]);
        }
    }
}

__global__ static void pac__k_runs(pac__runs_args p) { pac__runs_block(&p, 2); }
__global__ static void pac__k_runs1(pac__runs_args p) { pac__runs_block(&p, 1); } /* rows stored once */

/* Per cell, the statistics of pac__k_runs' MIs in surrogate order */
__global__ static void pac__k_stats(const double *vals, size_t cells, size_t n_perm, double *res)
{
    size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x, k;
    pac__cellstat st = {0, 0, 0, 0};
    if (c >= cells) return;
    for (k = 0; k <= n_perm; k++) pac__cellstat_take(&st, vals[k * cells + c], k);
    pac__cellstat_store(&st, res, cells, c);
}

/* Stops the run with a message naming the step */
static tp_result pac__gpu_error(pac__eng *e, tp_result r, const char *what, const char *why)
{
    if (e->stop == TP_OK) {
        e->stop = r;
        snprintf(e->stop_msg, sizeof e->stop_msg, "CUDA: %s%s%s", what, why ? ": " : "", why ? why : "");
    }
    return r;
}
#define PAC__CU(e, call, what)                                                                  \
    do {                                                                                        \
        cudaError_t ce_ = (call);                                                               \
        if (ce_ != cudaSuccess) return pac__gpu_error(e, TP_ERR_DEVICE, what, cudaGetErrorString(ce_)); \
    } while (0)
#define PAC__FFT(e, call, what)                                                                 \
    do {                                                                                        \
        if ((call) != CUFFT_SUCCESS) return pac__gpu_error(e, TP_ERR_DEVICE, what, "cuFFT failed"); \
    } while (0)
#define PAC__LAUNCHED(e, what) PAC__CU(e, cudaGetLastError(), what)

/* a * b * c * d, or SIZE_MAX past size_t */
static size_t pac__prod4(size_t a, size_t b, size_t c, size_t d)
{
    size_t t;
    return tp_size_mul(a, b, &t) && tp_size_mul(t, c, &t) && tp_size_mul(t, d, &t) ? t : SIZE_MAX;
}

/* One device buffer: its bytes, where its address goes, what it holds (for messages) */
typedef struct pac__gpu_buf {
    size_t bytes;
    void **at;
    const char *what;
} pac__gpu_buf;

/* Does the device add the max-stat sums (pvalues, out.sums)? Unless the cube is asked for: its
   values come down anyway, and the host adds them as the CPU path does. */
static int pac__gpu_sums_here(const pac__eng *e)
{
    return e->n_perm && (e->out.pvalues || e->out.sums) && !e->out.surrogates;
}

/* The device buffers for chunks of c signals, in allocation order; how many. Sizes that pass
   size_t are SIZE_MAX (no budget admits them). */
static size_t pac__gpu_buffers(const pac__eng *e, pac__gpu *g, size_t c, pac__gpu_buf *b)
{
    size_t np = e->n_band[0], na = e->n_band[1], series = np * e->n_sig, kp = e->n_perm + 1, k = 0;
    size_t lfm = e->lf[0] > e->lf[1] ? e->lf[0] : e->lf[1], pm = g->pairs[0] > g->pairs[1] ? g->pairs[0] : g->pairs[1];
    size_t z = sizeof(cufftDoubleComplex);
#define PAC__BUF(size, ptr, name) (b[k].bytes = (size), b[k].at = (void **)(ptr), b[k].what = (name), k++)
    PAC__BUF(pac__prod4(c, e->n, sizeof(double), 1), &g->x, "signals");
    PAC__BUF(e->half[0] * np * sizeof(double), &g->kern[0], "phase kernels");
    PAC__BUF(e->half[1] * na * sizeof(double), &g->kern[1], "amplitude kernels");
    PAC__BUF(pac__prod4(c, lfm, z, 1), &g->sp, "spectra");
    PAC__BUF(pac__prod4(c, pm, lfm, z), &g->work, "filtered pairs");
    PAC__BUF(pac__prod4(c, pm, e->lh, z), &g->hilb, "Hilbert pairs");
    PAC__BUF(series * e->n, &g->bins, "phase bins");
    if (e->measure == PAC_MVL || e->measure == PAC_NDPAC || e->measure == PAC_PLV)
        PAC__BUF(pac__prod4(series, e->n, 2 * sizeof(float), 1), &g->vec, "phase vectors");
    if (e->measure == PAC_PLV) {
        PAC__BUF(pac__prod4(c, na, e->n, 2 * sizeof(float)), &g->avec, "amplitude sides");
        PAC__BUF(pac__prod4(c, g->pairs[1], e->n, z), &g->env, "envelopes");
    }
    if (e->measure == PAC_NDPAC) PAC__BUF(pac__prod4(c, na, 2 * sizeof(double), 1), &g->mom, "amplitude moments");
    PAC__BUF(series * (PAC_N_BINS + 1) * sizeof(uint32_t), &g->counts, "bin counts");
    PAC__BUF(series * PAC_N_BINS * sizeof(double), &g->wt, "bin weights");
    PAC__BUF(series * sizeof(int), &g->ok, "the series' flags");
    if (e->measure != PAC_PLV) PAC__BUF(pac__prod4(c, na, e->n, sizeof(float)), &g->amp, "amplitudes"); /* the PLV: avec */
    PAC__BUF(pac__prod4(c, np, na, 4 * sizeof(double)), &g->res, "cells");
    PAC__BUF(e->n_perm * sizeof(int64_t), &g->shifts, "shifts");
    if (e->perms) PAC__BUF(e->n_perm * e->n_sig * sizeof(uint32_t), &g->perms, "permutations");
    if (g->keep_vals) PAC__BUF(pac__prod4(kp, c, np * na, sizeof(double)), &g->vals, "cell values");
    if (g->runs) PAC__BUF(kp * sizeof(uint32_t), &g->task_k, "task order");
    if (pac__gpu_sums_here(e)) PAC__BUF(pac__prod4(e->n_perm, na, np, sizeof(pac__wide)), &g->msum, "max-stat sums");
#undef PAC__BUF
    return k;
}

/* Their bytes in all, or SIZE_MAX past size_t */
static size_t pac__gpu_bytes(const pac__eng *e, pac__gpu *g, size_t c)
{
    pac__gpu_buf b[PAC__GPU_BUFS];
    size_t n = pac__gpu_buffers(e, g, c, b), i, total = 0;
    for (i = 0; i < n; i++)
        if (!tp_size_add(total, b[i].bytes, &total)) return SIZE_MAX;
    return total;
}

static tp_result pac__gpu_alloc(pac__eng *e, pac__gpu *g, size_t n, void **p, const char *what)
{
    tp_result r = pac__dalloc(&g->pool, n ? n : 1, p);
    if (r == TP_ERR_BUDGET) {
        char why[160];
        snprintf(why, sizeof why, "%.1f MiB more would pass the device budget of %.1f MiB (%.1f held)", (double)n / 1048576.0,
                 (double)g->pool.budget / 1048576.0, (double)g->pool.held / 1048576.0);
        return pac__gpu_error(e, r, what, why);
    }
    if (r != TP_OK) return pac__gpu_error(e, r, what, "cudaMalloc failed");
    return TP_OK;
}

/* The six plans for chunks of g->chunk signals, sharing one work area from the device pool */
static tp_result pac__gpu_plans(pac__eng *e, pac__gpu *g)
{
    size_t sizes[6], i, most = 0;
    cufftHandle *h[6];
    int k;
    for (k = 0; k < 2; k++) {
        size_t lf = e->lf[k];
        h[3 * k] = &g->spec[k], h[3 * k + 1] = &g->pair[k], h[3 * k + 2] = &g->hil[k];
        for (i = 0; i < 3; i++) {
            int len = (int)(i == 2 ? e->lh : lf), batch = (int)(i == 0 ? g->chunk : g->chunk * g->pairs[k]);
            PAC__FFT(e, cufftCreate(h[3 * k + i]), "creating an FFT plan");
            g->plans++;
            PAC__FFT(e, cufftSetAutoAllocation(*h[3 * k + i], 0), "creating an FFT plan");
            PAC__FFT(e, cufftMakePlan1d(*h[3 * k + i], len, CUFFT_Z2Z, batch, &sizes[3 * k + i]), "making an FFT plan");
            PAC__FFT(e, cufftSetStream(*h[3 * k + i], g->stream), "setting an FFT plan's stream");
            most = sizes[3 * k + i] > most ? sizes[3 * k + i] : most;
        }
    }
    if (pac__gpu_alloc(e, g, most, &g->ws, "the FFTs' work area") != TP_OK) return e->stop;
    for (i = 0; i < 6; i++) PAC__FFT(e, cufftSetWorkArea(*h[i], g->ws), "setting an FFT work area");
    return TP_OK;
}

/* The Hilbert transforms (times lh) of the pr zero-padded pairs in g->hilb, in place, by the
   plans of kind k */
static tp_result pac__gpu_hilbert(pac__eng *e, pac__gpu *g, int k, size_t pr, const char *what)
{
    PAC__FFT(e, cufftExecZ2Z(g->hil[k], g->hilb, g->hilb, CUFFT_FORWARD), what);
    PAC__LAUNCH(pac__k_hilbert, pac__grid(pr * e->lh), 0, g->stream, (e->lh, pr, g->hilb));
    PAC__LAUNCHED(e, "the Hilbert multiplier");
    PAC__FFT(e, cufftExecZ2Z(g->hil[k], g->hilb, g->hilb, CUFFT_INVERSE), what);
    return TP_OK;
}

/* Filtered pairs and their Hilbert transforms of chunk signals s0 .. s0 + rows - 1, kind k, in
   g->work (trimmed at p) and g->hilb */
static tp_result pac__gpu_filter(pac__eng *e, pac__gpu *g, size_t s0, size_t rows, int k)
{
    size_t n = e->n, lf = e->lf[k], p = e->pmax[k], pr = rows * g->pairs[k], i, t;
    if (e->dtype == TP_F32) {
        const float *x = (const float *)e->x + s0 * n;
        for (i = 0; i < rows * n; i++) g->h.hx[i] = x[i];
    } else
        for (i = 0, t = s0 * n; i < rows * n; i++) g->h.hx[i] = ((const double *)e->x)[t + i];
    PAC__CU(e, cudaMemcpyAsync(g->x, g->h.hx, rows * n * sizeof(double), cudaMemcpyHostToDevice, g->stream), "copying signals up");
    PAC__LAUNCH(pac__k_extend, pac__grid(rows * lf), 0, g->stream, (g->x, n, p, lf, rows, g->sp));
    PAC__LAUNCHED(e, "odd extension");
    PAC__FFT(e, cufftExecZ2Z(g->spec[k], g->sp, g->sp, CUFFT_FORWARD), "the signals' transforms");
    PAC__LAUNCH(pac__k_pairs, pac__grid(pr * lf), 0, g->stream,
                (g->sp, g->kern[k], e->half[k], lf, e->n_band[k], g->pairs[k], rows, g->work));
    PAC__LAUNCHED(e, "band products");
    PAC__FFT(e, cufftExecZ2Z(g->pair[k], g->work, g->work, CUFFT_INVERSE), "the bands' inverse transforms");
    PAC__LAUNCH(pac__k_trim, pac__grid(pr * e->lh), 0, g->stream, (g->work, lf, p, n, e->lh, pr, g->hilb));
    PAC__LAUNCHED(e, "trimming");
    return pac__gpu_hilbert(e, g, k, pr, "the Hilbert transforms");
}

/* With out.info: event i recorded on the stream; the time from event a to b added to ms[to] */
static tp_result pac__gpu_mark(pac__eng *e, pac__gpu *g, int i)
{
    if (g->events) PAC__CU(e, cudaEventRecord(g->ev[i], g->stream), "timing events");
    return TP_OK;
}

static tp_result pac__gpu_lap(pac__eng *e, pac__gpu *g, int a, int b, int to)
{
    float ms = 0;
    if (!g->events) return TP_OK;
    PAC__CU(e, cudaEventSynchronize(g->ev[b]), "timing events");
    PAC__CU(e, cudaEventElapsedTime(&ms, g->ev[a], g->ev[b]), "timing events");
    g->ms[to] += ms;
    return TP_OK;
}
#define PAC__TRY(call)                                 \
    do {                                               \
        if ((call) != TP_OK) return e->stop; \
    } while (0)

/* The outputs that need every surrogate's MI (the cube, the sums behind pvalues) from the
   chunk's vals, as the CPU path fills them */
static tp_result pac__gpu_every_surrogate(pac__eng *e, pac__gpu *g, size_t s0, size_t rows)
{
    size_t np = e->n_band[0], na = e->n_band[1], cells = rows * np * na, k, s, q, a;
    PAC__CU(e, cudaMemcpyAsync(g->h.hvals, g->vals, (e->n_perm + 1) * cells * sizeof(double), cudaMemcpyDeviceToHost, g->stream),
            "copying surrogates down");
    PAC__CU(e, cudaStreamSynchronize(g->stream), "copying surrogates down");
    for (k = 1; k <= e->n_perm; k++)
        for (s = 0; s < rows; s++)
            for (q = 0; q < np; q++)
                for (a = 0; a < na; a++) {
                    double v = g->h.hvals[k * cells + (s * np + q) * na + a];
                    if (e->out.surrogates) e->out.surrogates[pac__cube_at(e, k - 1, a, q, s0 + s)] = v;
                    if (e->out.pvalues || e->out.sums) pac__wide_add(&e->max_sum[((k - 1) * na + a) * np + q], pac__wide_of(v));
                }
    return TP_OK;
}

static int pac__gpu_progress(pac__eng *e, size_t done)
{
    e->done += done;
    if (e->progress && e->progress(e->user, e->done, e->total)) return pac__gpu_error(e, TP_ERR_CANCELLED, "cancelled", NULL) != TP_OK;
    return 0;
}

/* Pass 0: every signal's phase bins and their counts; the weights of every series */
static tp_result pac__gpu_phases(pac__eng *e, pac__gpu *g)
{
    size_t np = e->n_band[0], s0, q, s, j;
    PAC__TRY(pac__gpu_mark(e, g, 0));
    for (s0 = 0; s0 < e->n_sig; s0 += g->chunk) {
        size_t rows = e->n_sig - s0 < g->chunk ? e->n_sig - s0 : g->chunk;
        PAC__TRY(pac__gpu_mark(e, g, 1));
        PAC__TRY(pac__gpu_filter(e, g, s0, rows, 0));
        PAC__LAUNCH(pac__k_bins, pac__grid(rows * g->pairs[0] * e->n), 0, g->stream,
                    (g->work, g->hilb, e->bins, e->lf[0], e->pmax[0], e->n, e->lh, g->pairs[0], np, rows, s0, e->n_sig, g->bins));
        PAC__LAUNCHED(e, "phase bins");
        if (g->vec) {
            PAC__LAUNCH(pac__k_units, pac__grid(rows * g->pairs[0] * e->n), 0, g->stream,
                        (g->work, g->hilb, e->lf[0], e->pmax[0], e->n, e->lh, g->pairs[0], np, rows, s0, e->n_sig, g->vec));
            PAC__LAUNCHED(e, "phase vectors");
        }
        PAC__TRY(pac__gpu_mark(e, g, 2));
        PAC__CU(e, cudaStreamSynchronize(g->stream), "phase bins");
        PAC__TRY(pac__gpu_lap(e, g, 1, 2, 0));
        if (e->plan.two_passes && pac__gpu_progress(e, rows)) return e->stop;
    }
    PAC__TRY(pac__gpu_mark(e, g, 1));
    PAC__LAUNCH_COOPERATIVE(pac__k_counts, (unsigned)(np * e->n_sig), PAC__CUDA_THREADS, 0, g->stream, (g->bins, e->n, g->counts));
    PAC__LAUNCHED(e, "bin counts");
    PAC__TRY(pac__gpu_mark(e, g, 2));
    PAC__CU(e, cudaMemcpyAsync(g->h.hcounts, g->counts, np * e->n_sig * (PAC_N_BINS + 1) * sizeof(uint32_t), cudaMemcpyDeviceToHost,
                               g->stream), "copying bin counts down");
    PAC__CU(e, cudaStreamSynchronize(g->stream), "bin counts");
    PAC__TRY(pac__gpu_lap(e, g, 1, 2, 0));
    memset(e->pooled, 0, sizeof e->pooled);
    for (q = 0; q < np * e->n_sig; q++)
        for (j = 0; j < PAC_N_BINS; j++) e->pooled[j] += g->h.hcounts[q * (PAC_N_BINS + 1) + j];
    for (q = 0; q < np; q++)
        for (s = 0; s < e->n_sig; s++) {
            size_t series = q * e->n_sig + s;
            g->h.hok[series] = pac__weights(g->h.hcounts + series * (PAC_N_BINS + 1), e->pooled, e->method, PAC_N_BINS,
                                            g->h.hwt + series * PAC_N_BINS);
        }
    PAC__CU(e, cudaMemcpyAsync(g->wt, g->h.hwt, np * e->n_sig * PAC_N_BINS * sizeof(double), cudaMemcpyHostToDevice, g->stream),
            "copying weights up");
    PAC__CU(e, cudaMemcpyAsync(g->ok, g->h.hok, np * e->n_sig * sizeof(int), cudaMemcpyHostToDevice, g->stream), "copying weights up");
    return TP_OK;
}

/* The PLV's amplitude sides of the chunk's filtered amplitude pairs (g->work, g->hilb): angle of
   hilbertm of the envelopes, then the conjugated unit vector of hilbertm of those angles */
static tp_result pac__gpu_plv_sides(pac__eng *e, pac__gpu *g, size_t rows)
{
    size_t pr = rows * g->pairs[1], lh = e->lh, n = e->n;
    PAC__LAUNCH(pac__k_plv_envelopes, pac__grid(pr * lh), 0, g->stream, (g->work, g->hilb, e->lf[1], e->pmax[1], n, lh, pr, g->env));
    PAC__LAUNCHED(e, "the PLV's envelopes");
    PAC__TRY(pac__gpu_hilbert(e, g, 1, pr, "the PLV's Hilbert transforms"));
    PAC__LAUNCH(pac__k_plv_angles, pac__grid(pr * lh), 0, g->stream, (g->hilb, n, lh, pr, g->env));
    PAC__LAUNCHED(e, "the PLV's angles");
    PAC__TRY(pac__gpu_hilbert(e, g, 1, pr, "the PLV's Hilbert transforms"));
    PAC__LAUNCH(pac__k_plv_units, pac__grid(pr * n), 0, g->stream, (g->hilb, g->env, n, lh, g->pairs[1], e->n_band[1], rows, g->avec));
    PAC__LAUNCHED(e, "the PLV's amplitude sides");
    return TP_OK;
}

/* Pass 1: amplitudes of each chunk and its cells */
static tp_result pac__gpu_cells(pac__eng *e, pac__gpu *g)
{
    size_t np = e->n_band[0], na = e->n_band[1], s0, s, q, a;
    for (s0 = 0; s0 < e->n_sig; s0 += g->chunk) {
        size_t rows = e->n_sig - s0 < g->chunk ? e->n_sig - s0 : g->chunk, cells = rows * np * na;
        PAC__TRY(pac__gpu_mark(e, g, 1));
        PAC__TRY(pac__gpu_filter(e, g, s0, rows, 1));
        if (g->avec) PAC__TRY(pac__gpu_plv_sides(e, g, rows));
        else {
            PAC__LAUNCH(pac__k_amps, pac__grid(rows * g->pairs[1] * e->n), 0, g->stream,
                        (g->work, g->hilb, e->lf[1], e->pmax[1], e->n, e->lh, g->pairs[1], na, rows, g->amp));
            PAC__LAUNCHED(e, "amplitudes");
        }
        PAC__TRY(pac__gpu_mark(e, g, 2));
        if (g->runs) {
            size_t groups = (na + g->ag - 1) / g->ag;
            pac__runs_args ra;
            ra.bins = g->bins, ra.counts = g->counts, ra.task_k = g->task_k, ra.amp = g->amp, ra.wt = g->wt, ra.ok = g->ok;
            ra.shifts = g->shifts, ra.vals = g->vals, ra.nan_value = 0.0 / 0.0, ra.n_sig = e->n_sig, ra.s0 = s0, ra.np = np, ra.na = na;
            ra.groups = groups, ra.n_perm = e->n_perm, ra.cells = cells, ra.n = (unsigned)e->n, ra.ag = g->ag;
            ra.hr = e->measure == PAC_HR;
            if (g->copies == 2)
                PAC__LAUNCH_COOPERATIVE(pac__k_runs, (unsigned)(rows * np * groups), g->runs_threads, g->runs_shared, g->stream, (ra));
            else
                PAC__LAUNCH_COOPERATIVE(pac__k_runs1, (unsigned)(rows * np * groups), g->runs_threads, g->runs_shared, g->stream, (ra));
            PAC__LAUNCHED(e, "the cells' values");
            PAC__LAUNCH(pac__k_stats, pac__grid(cells), 0, g->stream, (g->vals, cells, e->n_perm, g->res));
            PAC__LAUNCHED(e, "the cells' statistics");
        } else if (g->vec) {
            if (g->mom) {
                PAC__LAUNCH_COOPERATIVE(pac__k_zscore_moments, (unsigned)(rows * na), PAC__CUDA_THREADS, 0, g->stream, (g->amp, e->n, g->mom));
                PAC__LAUNCHED(e, "the amplitudes' z-scores");
            }
            PAC__LAUNCH_COOPERATIVE(pac__k_mvl_cells, (unsigned)cells, PAC__CUDA_THREADS, 0, g->stream,
                                    (g->vec, g->amp, g->avec, g->mom, e->nd_limit, e->n, e->n_sig, s0, np, na, g->ok, g->shifts,
                                     g->perms, e->n_perm, 0.0 / 0.0, g->res, g->vals));
            PAC__LAUNCHED(e, "the cells");
        } else {
            PAC__LAUNCH_COOPERATIVE(pac__k_cells, (unsigned)cells, PAC__CUDA_THREADS, PAC_N_BINS * PAC__CUDA_THREADS * sizeof(float),
                                    g->stream, (g->bins, g->amp, e->n, e->n_sig, s0, np, na, g->wt, g->ok, g->shifts, g->perms,
                                                e->n_perm, e->measure == PAC_HR, 0.0 / 0.0, g->res, g->vals));
            PAC__LAUNCHED(e, "the cells");
        }
        PAC__CU(e, cudaMemcpyAsync(g->h.hres, g->res, 4 * cells * sizeof(double), cudaMemcpyDeviceToHost, g->stream), "copying cells down");
        PAC__TRY(pac__gpu_mark(e, g, 3));
        PAC__CU(e, cudaStreamSynchronize(g->stream), "the cells");
        PAC__TRY(pac__gpu_lap(e, g, 1, 2, 1));
        PAC__TRY(pac__gpu_lap(e, g, 2, 3, 2));
        if (g->h.hvals) PAC__TRY(pac__gpu_every_surrogate(e, g, s0, rows));
        if (g->msum) {
            PAC__LAUNCH(pac__k_max_sums, pac__grid(e->n_perm * na * np), 0, g->stream, (g->vals, rows, np, na, e->n_perm, g->msum));
            PAC__LAUNCHED(e, "the max-stat sums");
        }
        for (s = 0; s < rows; s++)
            for (q = 0; q < np; q++)
                for (a = 0; a < na; a++) {
                    size_t c = (s * np + q) * na + a;
                    pac__finish_cell(e, (a * np + q) * e->n_sig + s0 + s, g->h.hres[c], g->h.hres[cells + c], g->h.hres[2 * cells + c],
                                     (size_t)g->h.hres[3 * cells + c]);
                }
        if (pac__gpu_progress(e, rows)) return e->stop;
    }
    if (g->msum) {
        PAC__CU(e, cudaMemcpyAsync(e->max_sum, g->msum, e->n_perm * na * np * sizeof(pac__wide), cudaMemcpyDeviceToHost, g->stream),
                "copying the max-stat sums down");
        PAC__CU(e, cudaStreamSynchronize(g->stream), "the max-stat sums");
    }
    return TP_OK;
}

static void pac__gpu_free(pac__gpu *g)
{
    int i;
    for (i = 0; i < 6 && i < g->plans; i++) cufftDestroy(i % 3 == 0 ? g->spec[i / 3] : i % 3 == 1 ? g->pair[i / 3] : g->hil[i / 3]);
    pac__dpool_free(&g->pool);
    while (g->events > 0) cudaEventDestroy(g->ev[--g->events]);
    if (g->stream) cudaStreamDestroy(g->stream);
    if (g->hblock) tp_free(g->hpool, g->hblock);
}

/* pac__k_runs' order of surrogates (k = 0 the MI, shift 0): each warp's 32 / ag of them shifted
   by distinct residues mod 32 / ag where the shifts allow, so that (n a multiple of 32 / ag) the
   rows they read at a sample lie in distinct banks of shared memory */
static size_t pac__next_of_residue(const pac__eng *e, size_t k, size_t residue, unsigned m)
{
    while (k <= e->n_perm && (k ? (size_t)e->shifts[k - 1] : 0) % m != residue) k++;
    return k;
}

static void pac__gpu_task_order(const pac__eng *e, unsigned per_warp, uint32_t *task_k)
{
    size_t at[32], p, r;
    for (r = 0; r < per_warp; r++) at[r] = pac__next_of_residue(e, 0, r, per_warp);
    for (p = 0; p <= e->n_perm; p++) {
        size_t want = p % per_warp, take = want;
        if (at[want] > e->n_perm) /* none of that residue left: the earliest of any */
            for (r = 0; r < per_warp; r++) take = at[r] < at[take] ? r : take;
        task_k[p] = (uint32_t)at[take];
        at[take] = pac__next_of_residue(e, at[take] + 1, take, per_warp);
    }
}

/* The runs kernel's block: the fewest passes over the surrogates of as many warps as its
   registers allow (cudaFuncGetAttributes: on sm_90 768 threads of pac__k_runs1's 82 registers,
   not 1024; a larger block fails to launch), then the fewest warps for that many passes; and
   its shared memory opted into */
static tp_result pac__gpu_size_runs(pac__eng *e, pac__gpu *g)
{
    struct cudaFuncAttributes fa;
    size_t most, a_warp = 32 / g->ag * PAC__RUNS_SHIFTS, passes; /* surrogates a warp */
    void (*kernel)(pac__runs_args) = g->copies == 2 ? pac__k_runs : pac__k_runs1;
    cudaError_t ce = cudaFuncGetAttributes(&fa, kernel);
    if (ce != cudaSuccess || fa.maxThreadsPerBlock < 32)
        return pac__gpu_error(e, TP_ERR_DEVICE, "the runs kernel's attributes", ce != cudaSuccess ? cudaGetErrorString(ce) : NULL);
    most = (size_t)fa.maxThreadsPerBlock / 32;
    passes = (e->n_perm + 1 + most * a_warp - 1) / (most * a_warp);
    g->runs_threads = (unsigned)(32 * ((e->n_perm + 1 + passes * a_warp - 1) / (passes * a_warp)));
    ce = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)g->runs_shared);
    if (ce != cudaSuccess) return pac__gpu_error(e, TP_ERR_DEVICE, "the runs kernel's shared memory", cudaGetErrorString(ce));
    return TP_OK;
}

/* The most amplitude bands (a power of two, at most ag) whose rows, `copies` times, and the
   sorted offsets fit in optin bytes of shared memory with the kernel's static arrays (0: none) */
static unsigned pac__runs_bands(size_t n, unsigned ag, unsigned copies, int optin)
{
    while (ag > 0 && (double)n * (4.0 * copies * ag + 4.0) + 512.0 > (double)optin) ag /= 2;
    return ag;
}

/* pac__k_runs when the surrogates fill its blocks and at least four amplitude bands (or all, if
   fewer) fit twice in the shared memory a block may opt into; else, for longer signals, at least
   one band stored once (copies = 1, the offsets wrap); else pac__k_cells, whose shared memory
   does not grow with n */
static tp_result pac__gpu_pick_cells(pac__eng *e, pac__gpu *g)
{
    size_t na = e->n_band[1];
    unsigned most, need;
    int optin = 0;
    cudaError_t ce = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, e->device);
    if (ce != cudaSuccess) return pac__gpu_error(e, TP_ERR_DEVICE, "the device's shared memory", cudaGetErrorString(ce));
    for (most = PAC_TEST_CUDA_RUN_BANDS; most > 1 && most / 2 >= na; most /= 2) continue;
    need = most < 4 ? most : 4;
    g->copies = 2, g->ag = pac__runs_bands(e->n, most, 2, optin);
    if (g->ag < need || PAC_TEST_CUDA_ROWS_ONCE) g->copies = 1, g->ag = pac__runs_bands(e->n, most, 1, optin), need = 1;
    g->runs = PAC_TEST_CUDA_CELLS && !e->perms && g->ag >= need && e->n_perm + 1 >= PAC__RUNS_MIN_SURROGATES && !e->vec;
    g->runs_shared = g->runs ? e->n * (4 * (size_t)g->copies * g->ag + 4) : 0;
    g->keep_vals = g->runs || e->out.surrogates || e->out.pvalues || e->out.sums;
    return g->runs ? pac__gpu_size_runs(e, g) : TP_OK;
}

/* The chunk's first bound: the most signals whose host staging fits both the plan's bytes and
   what the pool's budget leaves (the device's budget may halve it after) */
static tp_result pac__gpu_staging_chunk(pac__eng *e, pac__gpu *g)
{
    tp_stats st = tp_get_stats(e->pool);
    size_t left = !st.budget ? SIZE_MAX : st.budget > st.bytes_reserved ? st.budget - st.bytes_reserved : 0;
    size_t fixed = pac__bytes(e, 1, 1, e->plan.keep_phase_bins), slack = 4096 + 64;
    size_t planned = e->plan.bytes >= fixed ? e->plan.bytes - fixed + slack : 0;
    if ((g->chunk = pac__staging_chunk(e, 0, left < planned ? left : planned)) == 0) {
        char why[120];
        snprintf(why, sizeof why, "a signal's takes %.2f MiB; the budget leaves %.2f, the plan %.2f",
                 (double)pac__staging_layout(e, 0, 1, NULL, NULL) / 1048576.0, (double)left / 1048576.0, (double)planned / 1048576.0);
        return pac__gpu_error(e, TP_ERR_BUDGET, "host staging", why);
    }
    return TP_OK;
}

/* The chunk: what the host staging allows (pac__gpu_staging_chunk), a cuFFT batch within int
   elements (cufftMakePlan1d's sizes), half the device budget for the buffers (cuFFT's work
   area, also from it, gets the rest) */
static tp_result pac__gpu_size_chunk(pac__eng *e, pac__gpu *g)
{
    size_t lfm = e->lf[0] > e->lf[1] ? e->lf[0] : e->lf[1], pm = g->pairs[0] > g->pairs[1] ? g->pairs[0] : g->pairs[1];
    size_t staged;
    if (pac__gpu_staging_chunk(e, g) != TP_OK) return e->stop;
    staged = g->chunk;
    while (g->chunk > 1 && (double)g->chunk * (double)pm * (double)(lfm > e->lh ? lfm : e->lh) > (double)INT_MAX) g->chunk /= 2;
    while (g->chunk > 1 && pac__gpu_bytes(e, g, g->chunk) > g->pool.budget / 2) g->chunk /= 2;
    if (g->chunk < staged)
        tp_log(&e->log, TP_LOG_INFO, "pacgpu: the device takes chunks of %zu signals, not the %zu the host staging "
               "allows (its budget: %.1f MiB; cuFFT's int sizes)", g->chunk, staged, (double)g->pool.budget / 1048576.0);
    return TP_OK;
}

/* The stream, the host staging (one block from the run's pool) and the device buffers */
static tp_result pac__gpu_allocate(pac__eng *e, pac__gpu *g)
{
    pac__gpu_buf b[PAC__GPU_BUFS];
    size_t n = pac__gpu_buffers(e, g, g->chunk, b), i;
    tp_error te = {TP_OK, {0}};
    if (cudaStreamCreate(&g->stream) != cudaSuccess) return pac__gpu_error(e, TP_ERR_DEVICE, "creating a stream", NULL);
    g->hpool = e->pool;
    g->hblock = (char *)tp_alloc_at(e->pool, pac__staging_layout(e, 0, g->chunk, NULL, NULL), 0, __FILE__, __LINE__, &te);
    if (!g->hblock)
        return pac__gpu_error(e, te.code, "host staging", te.code == TP_ERR_BUDGET ? "over the pool's budget" : "no memory");
    pac__staging_layout(e, 0, g->chunk, g->hblock, &g->h);
    for (i = 0; i < n; i++)
        if (pac__gpu_alloc(e, g, b[i].bytes, b[i].at, b[i].what) != TP_OK) return e->stop;
    return TP_OK;
}

/* The filters' kernels, the shifts or permutations, the runs kernel's order and the max-stat
   sums' zeros (the host's, cleared by the run) up, in the run's
   stream like every copy (a plain cudaMemcpy goes to the default stream, which under nvcc's
   --default-stream per-thread does not wait for ours, nor ours for it); the timing events when
   out.info wants them */
static tp_result pac__gpu_upload(pac__eng *e, pac__gpu *g)
{
    size_t np = e->n_band[0], na = e->n_band[1];
    cudaMemcpyKind up = cudaMemcpyHostToDevice;
    if (cudaMemcpyAsync(g->kern[0], e->kernel[0], e->half[0] * np * sizeof(double), up, g->stream) != cudaSuccess ||
        cudaMemcpyAsync(g->kern[1], e->kernel[1], e->half[1] * na * sizeof(double), up, g->stream) != cudaSuccess ||
        (e->shifts && cudaMemcpyAsync(g->shifts, e->shifts, e->n_perm * sizeof(int64_t), up, g->stream) != cudaSuccess) ||
        (e->perms && cudaMemcpyAsync(g->perms, e->perms, e->n_perm * e->n_sig * sizeof(uint32_t), up, g->stream) != cudaSuccess) ||
        (g->runs && (pac__gpu_task_order(e, 32 / g->ag, g->h.htask),
                     cudaMemcpyAsync(g->task_k, g->h.htask, (e->n_perm + 1) * sizeof(uint32_t), up, g->stream) != cudaSuccess)) ||
        (g->msum && cudaMemcpyAsync(g->msum, e->max_sum, e->n_perm * na * np * sizeof(pac__wide), up, g->stream) != cudaSuccess))
        return pac__gpu_error(e, TP_ERR_DEVICE, "copying the filters and shifts up", NULL);
    for (g->events = 0; e->out.info && g->events < 4; g->events++)
        if (cudaEventCreate(&g->ev[g->events]) != cudaSuccess) return pac__gpu_error(e, TP_ERR_DEVICE, "creating timing events", NULL);
    return TP_OK;
}

/* The whole run on the device: a chunk of signals as large as the device budget allows */
static tp_result pac__gpu_run(pac__eng *e, tp_error *err)
{
    pac__gpu g;
    size_t free_b = 0, total_b = 0, np = e->n_band[0], na = e->n_band[1];
    tp_result r = TP_OK;
    cudaError_t ce;
    memset(&g, 0, sizeof g);
    if ((ce = cudaSetDevice(e->device)) != cudaSuccess || (ce = cudaMemGetInfo(&free_b, &total_b)) != cudaSuccess) {
        pac__gpu_error(e, TP_ERR_DEVICE, "the device", cudaGetErrorString(ce));
        goto out;
    }
    g.pool.budget = (size_t)((double)free_b * e->device_fraction);
    g.pairs[0] = (np + 1) / 2, g.pairs[1] = (na + 1) / 2;
    if (pac__gpu_pick_cells(e, &g) != TP_OK || pac__gpu_size_chunk(e, &g) != TP_OK || pac__gpu_allocate(e, &g) != TP_OK ||
        pac__gpu_upload(e, &g) != TP_OK || pac__gpu_plans(e, &g) != TP_OK || pac__gpu_phases(e, &g) != TP_OK ||
        pac__gpu_cells(e, &g) != TP_OK || pac__gpu_lap(e, &g, 0, 3, 3) != TP_OK)
        goto out;
    if (e->out.info) {
        pac_device_info *info = &e->out.info->device;
        e->out.info->on_device = 1;
        memcpy(info->ms, g.ms, sizeof g.ms);
        info->bytes = g.pool.peak, info->budget = g.pool.budget, info->chunk = g.chunk, info->runs_kernel = g.runs ? 3 - (int)g.copies : 0;
    }
out:
    pac__gpu_free(&g);
    if (e->stop != TP_OK) r = pac__fail(err, e->stop, e->stop_msg);
    return r;
}
#endif

/* Pass 0 computes (and keeps) phase bins of every signal, or only their pooled counts; pass 1
   does the rest. Workers take signals in turn; each signal's results depend on it alone. */
/* pac_bandpass's work for signal s: filtered signals, phases or amplitudes of every band */
static void pac__bandpass_signal(const pac__eng *e, pac__work *w, size_t s)
{
    size_t nb = e->n_band[PAC__PHA], n = e->n, b, t;
    double inv = 1.0 / (double)e->lh;
    pac__spectrum(e, w, s, PAC__PHA);
    for (b = 0; b < nb; b += 2) {
        int two = b + 1 < nb, j;
        pac__band_pair(e, w, PAC__PHA, b, two);
        for (j = 0; j <= two; j++) {
            const double *y = j ? w->wi : w->wr, *h = j ? w->hi : w->hr;
            double *dst = e->bp_out + ((b + (size_t)j) * e->n_sig + s) * n;
            for (t = 0; t < n; t++)
                dst[t] = e->what == PAC_FILTERED ? y[t] : e->what == PAC_PHASE ? atan2(h[t] * inv, y[t]) : hypot(y[t], h[t] * inv);
        }
    }
}

static void pac__signal(pac__eng *e, pac__work *w, size_t s, int pass)
{
    size_t np = e->n_band[PAC__PHA], nas = e->n_band[PAC__AMP], a0, q, j, c1 = (size_t)e->k + 1;
    if (e->bp_out) {
        pac__bandpass_signal(e, w, s);
        return;
    }
    if (e->erpac) {
        if (pass == 0) pac__erpac_epoch(e, w, s);
        else pac__erpac_time(e, w, s);
        return;
    }
    if (e->vec) {
        pac__vector_signal(e, w, s, pass);
        return;
    }
    if (pass == 0) {
        const uint32_t *counts;
        size_t cstride = c1;
        if (e->all_bins) {
            cstride = e->n_sig * c1;
            pac__phase_bins(e, w, s, e->all_bins + s * e->nt, e->n_sig * e->nt, e->all_counts + s * c1, cstride);
            counts = e->all_counts + s * c1;
        } else {
            pac__phase_bins(e, w, s, w->bins, e->nt, w->counts, c1);
            counts = w->counts;
        }
        if (!pac__counts_pooled(e)) return;
        pac__lock(e);
        for (q = 0; q < np; q++)
            for (j = 0; j < (size_t)e->k; j++) e->pooled[j] += counts[q * cstride + j];
        pac__unlock(e);
        return;
    }
    if (!e->all_bins) pac__phase_bins(e, w, s, w->bins, e->nt, w->counts, c1);
    for (a0 = 0; a0 < nas; a0 += e->plan.amp_bands_per_pass) {
        size_t na = nas - a0 < e->plan.amp_bands_per_pass ? nas - a0 : e->plan.amp_bands_per_pass;
        pac__amplitudes(e, w, s, a0, na);
        pac__cells(e, w, s, a0, na);
    }
}

/* One signal of the pass, by whichever worker took it; progress after it, one call at a time. */
static void pac__item(void *user, int worker, size_t s)
{
    pac__eng *e = (pac__eng *)user;
    int go;
    pac__lock(e);
    go = e->stop == TP_OK;
    pac__unlock(e);
    if (!go) return;
    pac__signal(e, &e->work[worker], s, e->pass);
    pac__lock(e);
    e->done++;
    if (e->progress && e->stop == TP_OK && e->progress(e->user, (uint64_t)e->done, (uint64_t)e->total))
        e->stop = TP_ERR_CANCELLED;
    pac__unlock(e);
}

/* Runs one pass over the signals on the team (the caller is worker 0). */
static void pac__pass(pac__eng *e, int pass)
{
    e->pass = pass;
    tp_team_for(e->team, e->erpac && pass == 1 ? e->nt : e->n_sig, pac__item, e); /* pac_erpac's pass 1: times */
}

/* Filter orders, FFT lengths and the bytes of everything a run of e would take (the bank's sizes
   land in e). TP_ERR_ARG with a message naming the band that has no filter. */
static tp_result pac__sizes(pac__eng *e, tp_error *err)
{
    int k;
    size_t b, ext;
    e->lf_max = e->lh = 0;
    for (k = 0; k < 2; k++) {
        e->pmax[k] = e->lf[k] = e->half[k] = 0;
        if (e->given || !e->n_band[k]) continue;
        for (b = 0; b < e->n_band[k]; b++) {
            double lo = e->bands[k][2 * b], hi = e->bands[k][2 * b + 1], delta, a;
            size_t o;
            char msg[200];
            if (!(lo > 0) || !(hi > lo) || !(hi < e->fs / 2)) {
                snprintf(msg, sizeof msg, "%s band %zu [%g, %g] Hz: want 0 < low < high < fs / 2 = %g",
                         k == PAC__PHA && e->n_band[PAC__AMP] ? "phase" : k == PAC__PHA ? "the" : "amplitude", b, lo, hi, e->fs / 2);
                return pac__fail(err, TP_ERR_ARG, msg);
            }
            if (e->wavelet) { /* the longest wavelet: a full convolution of n + taps - 1 */
                pac__morlet_taps(e->fs, 0.5 * (lo + hi), e->width, &o, &delta, &a);
                if (o < 1 || o > ((size_t)1 << 28)) {
                    snprintf(msg, sizeof msg, "band %zu [%g, %g] Hz: a Morlet wavelet of width %g has %zu taps", b, lo, hi, e->width, o);
                    return pac__fail(err, TP_ERR_ARG, msg);
                }
                e->pmax[k] = o > e->pmax[k] ? o : e->pmax[k];
                continue;
            }
            o = pac_fir_order(e->fs, e->n, lo, e->cycles[k]);
            if (o < 1) {
                snprintf(msg, sizeof msg, "band %zu [%g, %g] Hz: %zu samples are too short for its filter", b, lo, hi, e->n);
                return pac__fail(err, TP_ERR_ARG, msg);
            }
            e->pmax[k] = o > e->pmax[k] ? o : e->pmax[k];
        }
        if (!tp_size_mul(e->pmax[k], e->wavelet ? 1 : 2, &ext) || !tp_size_add(ext, e->n, &ext) || ext > ((size_t)1 << 30))
            return pac__fail(err, TP_ERR_OVERFLOW, "the sizes overflow");
        e->lf[k] = pac__next_smooth(ext - (e->wavelet ? 1 : 0));
        e->half[k] = e->wavelet ? 2 * e->lf[k] : e->lf[k] / 2 + 1; /* a band's kernel: the wavelet's spectrum, or |B|^2's half */
        if (e->wavelet) e->pmax[k] = 0; /* zero padding, not odd extension */
        e->lf_max = e->lf[k] > e->lf_max ? e->lf[k] : e->lf_max;
    }
    if (e->lf_max) e->lh = pac__next_smooth(e->n);
    e->lht = pac__trimmed_hilbert(e) ? pac__next_smooth(e->nt) : e->lh;
    return TP_OK;
}

static void pac__free_bank(pac__eng *e)
{
    pac_fft_destroy(e->f[0]);
    pac_fft_destroy(e->f[1]);
    pac_fft_destroy(e->fc);
    if (e->ht != e->h) pac_fft_destroy(e->ht);
    pac_fft_destroy(e->h);
    e->f[0] = e->f[1] = e->h = e->fc = e->ht = NULL;
}

/* The spectrum of tensorpac's Morlet wavelet at f Hz (numpy's steps: a exp(-t^2 / (2 st^2)) times
   exp(2 pi i f t)), zero-padded to lf, into dst (real parts, then imaginary) */
static void pac__morlet_spectrum(const pac__eng *e, pac__work *w, int k, double f, double *dst)
{
    size_t len, i, lf = e->lf[k];
    double delta, a, start = pac__morlet_taps(e->fs, f, e->width, &len, &delta, &a);
    double st = 1.0 / (2.0 * PAC__PI * (f / e->width)), two_st2 = 2.0 * (st * st), w2 = 2.0 * PAC__PI * f;
    for (i = 0; i < len; i++) {
        double t = start + (double)i * delta, g = a * exp(-(t * t) / two_st2), ph = w2 * t;
        w->sr[i] = g * cos(ph);
        w->si[i] = g * sin(ph);
    }
    pac__fft_split(e->f[k], w->sr, w->si, w->scratch);
    memcpy(dst, w->sr, lf * sizeof(double));
    memcpy(dst + lf, w->si, lf * sizeof(double));
}

/* |B(f)|^2 of every band, with worker w's buffers as scratch */
static void pac__design_kernels(pac__eng *e, pac__work *w)
{
    int k;
    size_t b, t;
    for (k = 0; k < 2; k++)
        for (b = 0; b < e->n_band[k] && e->lf[k]; b++) {
            double lo = e->bands[k][2 * b], hi = e->bands[k][2 * b + 1], *dst = e->kernel[k] + b * e->half[k];
            size_t o = pac_fir_order(e->fs, e->n, lo, e->cycles[k]);
            memset(w->sr, 0, e->lf[k] * sizeof(double));
            memset(w->si, 0, e->lf[k] * sizeof(double));
            if (e->wavelet) {
                pac__morlet_spectrum(e, w, k, 0.5 * (lo + hi), dst);
                continue;
            }
            pac_fir_design(e->fs, lo, hi, o, w->sr, NULL);
            pac__fft_split(e->f[k], w->sr, w->si, w->scratch);
            for (t = 0; t < e->half[k]; t++) dst[t] = w->sr[t] * w->sr[t] + w->si[t] * w->si[t];
        }
}

/* Surrogate shifts (swap-blocks: [1, n), time-lag: [0, n)) or permutations of the signals
   (swap-epochs, Fisher-Yates), all from one splitmix64 stream seeded with seed. */
static void pac__draw(pac__eng *e, uint64_t seed)
{
    uint64_t st = seed;
    size_t k, i;
    if (e->surr == PAC_SURR_SWAP_EPOCHS) {
        for (k = 0; k < e->n_perm && !e->pairs; k++) {
            uint32_t *p = e->perm_buf + k * e->n_sig;
            for (i = 0; i < e->n_sig; i++) p[i] = (uint32_t)i;
            for (i = e->n_sig; i > 1; i--) {
                size_t j = (size_t)pac__uniform(&st, (uint64_t)i);
                uint32_t tmp = p[i - 1];
                p[i - 1] = p[j];
                p[j] = tmp;
            }
        }
        return;
    }
    for (k = 0; k < e->n_perm; k++)
        e->shift_buf[k] = e->surr == PAC_SURR_TIME_LAG ? (int64_t)pac__uniform(&st, (uint64_t)e->nt)
                                                       : (int64_t)(1 + pac__uniform(&st, (uint64_t)(e->nt - 1)));
    e->shifts = e->shift_buf;
}

/* tensorpac's infer_pvalues(p, mcp) on the signal-averaged measure and surrogates, into
   out.pvalues. maxstat: the fraction of surrogates whose largest cell reaches the cell; fdr and
   bonferroni: the fraction of the cell's own surrogates that reach it, corrected over the cells
   (mne's fdr_correction, Benjamini-Hochberg, and bonferroni_correction); either way at least
   1 / n_perm, and 1 where not significant at the threshold. */
static void pac__pvalues(pac__eng *e, double threshold)
{
    size_t np = e->n_band[PAC__PHA], na = e->n_band[PAC__AMP], cells = np * na, c, k, s, rejectmax = 0;
    double floor_p = 1.0 / (double)e->n_perm, nsig = (double)e->n_sig;
    pac__cellp *cp = e->cellp;
    for (c = 0; c < cells; c++) {
        double m = 0;
        for (s = 0; s < e->n_sig; s++) m += e->out.pac[c * e->n_sig + s];
        cp[c].m = m / nsig;
        cp[c].p = 0;
        cp[c].at = (uint32_t)c;
    }
    for (k = 0; k < e->n_perm; k++) {
        const pac__wide *row = e->max_sum + k * cells;
        if (e->mcp == PAC_MCP_MAXSTAT) {
            pac__wide top = row[0];
            double v;
            for (c = 1; c < cells; c++) top = pac__wide_less(top, row[c]) ? row[c] : top;
            v = pac__wide_value(top) / nsig;
            for (c = 0; c < cells; c++) cp[c].p += cp[c].m <= v;
        } else {
            for (c = 0; c < cells; c++) cp[c].p += cp[c].m <= pac__wide_value(row[c]) / nsig;
        }
    }
    for (c = 0; c < cells; c++) {
        double p = cp[c].p / (double)e->n_perm;
        if (e->mcp == PAC_MCP_MAXSTAT && p >= threshold) p = 1.0;
        cp[c].p = p > floor_p ? p : floor_p;
    }
    if (e->mcp == PAC_MCP_BONFERRONI)
        for (c = 0; c < cells; c++) {
            double q = cp[c].p * (double)cells;
            cp[c].p = q > 1.0 ? 1.0 : q;
            if (!(cp[c].p < threshold)) cp[c].p = 1.0;
        }
    if (e->mcp == PAC_MCP_FDR) { /* sorted: reject up to the last p_(i) < i / n alpha, q_(i) = min_(j >= i) p_(j) n / j */
        double q = 1.0;
        int any = 0;
        qsort(cp, cells, sizeof *cp, pac__by_p);
        for (c = 0; c < cells; c++)
            if (cp[c].p < (double)(c + 1) / (double)cells * threshold) rejectmax = c, any = 1;
        for (c = cells; c-- > 0;) {
            double raw = cp[c].p / ((double)(c + 1) / (double)cells);
            q = raw < q ? raw : q;
            cp[c].m = any && c <= rejectmax ? q : 1.0; /* not significant: 1, as tensorpac */
        }
        for (c = 0; c < cells; c++) e->out.pvalues[cp[c].at] = cp[c].m;
        return;
    }
    for (c = 0; c < cells; c++) e->out.pvalues[c] = cp[c].p;
}

/* Allocates what the plan says, runs the passes, frees everything. */
static tp_result pac__execute(pac__eng *e, tp_pool *pool, uint64_t seed, double threshold, tp_error *err)
{
    pac__work wk[TP_MAX_THREADS];
    char *blocks[TP_MAX_THREADS], *shared = NULL;
    tp_pool *own = NULL;
    tp_error te = {TP_OK, {0}};
    tp_result r = TP_OK;
    size_t i, nt = e->plan.n_threads, wbytes, sbytes;
    int keep = e->plan.keep_phase_bins;
    memset(blocks, 0, sizeof blocks);
    e->f[0] = e->f[1] = e->h = e->fc = e->ht = NULL;
    e->team = NULL;
    if (!pool && (r = tp_create(NULL, &own, &te)) != TP_OK) return pac__fail(err, r, te.message);
    if (!pool) pool = own;
    e->pool = pool;
    if (!e->log.fn) e->log = tp_get_desc(pool).log;
    if (e->adjusted)
        tp_log(&e->log, TP_LOG_WARN, "%s", e->adjusted == 1 ? "pacgpu: ndPAC runs without surrogates or normalisation, as "
               "tensorpac's idpac (4, 0, 0)" : e->adjusted == 2 ? "pacgpu: a normalisation needs surrogates: out.norm is the measure "
               "itself, as in tensorpac" : "pacgpu: desc.smooth applies to the gc ERPAC: the circular one ignores it, as tensorpac's");
    for (i = 0; i < 2 && e->lf_max; i++)
        if (e->lf[i] && (r = pac_fft_create(pool, e->lf[i], &e->f[i], &te)) != TP_OK) goto fail;
    if (e->lf_max && (r = pac_fft_create(pool, e->lh, &e->h, &te)) != TP_OK) goto fail;
    if (pac__shift_fft(e) && (r = pac_fft_create(pool, e->nt, &e->fc, &te)) != TP_OK) goto fail;
    e->ht = e->h;
    if (pac__trimmed_hilbert(e) && (r = pac_fft_create(pool, e->lht, &e->ht, &te)) != TP_OK) goto fail;
    sbytes = pac__shared_layout(e, keep, NULL);
    wbytes = pac__work_layout(e, e->plan.amp_bands_per_pass, keep, NULL, NULL);
    if (sbytes && !(shared = (char *)tp_alloc_at(pool, sbytes, 0, __FILE__, __LINE__, &te))) goto fail_mem;
    pac__shared_layout(e, keep, shared);
    for (i = 0; i < nt; i++) {
        if (!(blocks[i] = (char *)tp_alloc_at(pool, wbytes, 0, __FILE__, __LINE__, &te))) goto fail_mem;
        pac__work_layout(e, e->plan.amp_bands_per_pass, keep, blocks[i], &wk[i]);
        wk[i].e = e;
    }
    if (nt > 1) {
        tp_team_desc td;
        memset(&td, 0, sizeof td);
        td.n_threads = (int)nt;
        td.pool = pool;
        td.log = e->log;
        if ((r = tp_team_create(&td, &e->team, &te)) != TP_OK) goto fail;
    }
    e->work = wk;
    pac__design_kernels(e, &wk[0]);
    pac__bins_init(&e->bins, e->k);
    e->histogram = pac__pick_histogram(e->f32);
    e->mi = pac__pick_mi();
    e->bin = pac__pick_bin();
    e->dot = pac__pick_dot();
    e->dot4 = pac__pick_dot4();
    e->angles = pac__pick_angles();
    e->units = pac__pick_units();
    if (e->n_perm && !e->shifts) pac__draw(e, seed);
    {   /* the copula's quantiles: of a series' samples, or (pac_erpac) of the epochs at one time */
        size_t m = e->erpac ? e->n_sig : e->nt;
        for (i = 0; e->gauss && i < m; i++) e->gauss[i] = pac__ndtri((double)(i + 1) / (double)(m + 1));
    }
    for (i = 0; e->erpac && i < nt; i++) {
        size_t k;
        for (k = 0; k < e->n_perm; k++) wk[i].perm_max[k] = -HUGE_VAL;
    }
    if (e->max_sum) memset(e->max_sum, 0, e->n_perm * e->n_band[0] * e->n_band[1] * sizeof(pac__wide));
    memset(e->pooled, 0, sizeof e->pooled);
    for (i = 0; e->given_pooled && i < (size_t)e->k; i++) e->pooled[i] = (size_t)e->given_pooled[i];
    e->done = 0;
    e->stop = TP_OK;
    e->total = e->erpac ? e->n_sig + e->nt : e->n_sig * (e->plan.two_passes ? 2u : 1u);
    if (e->out.info) {
        e->out.info->plan = e->plan;
        e->out.info->n_workers = tp_team_size(e->team);
    }
#if defined(PACGPU_USE_CUDA)
    if (e->cuda) r = pac__gpu_run(e, err);
    else
#endif
    {
        if (e->plan.two_passes) pac__pass(e, 0);
        if (e->stop == TP_OK && !e->count_only) pac__pass(e, 1);
    }
    if (r != TP_OK) goto done;
    if (e->stop != TP_OK) r = pac__fail(err, e->stop, e->stop_msg[0] ? e->stop_msg : "cancelled by the progress callback");
    else if (e->erpac) {
        if (e->smooth) pac__erpac_smooth(e, &wk[0]);
        if ((r = pac__erpac_pvalues(e, wk, nt, threshold)) != TP_OK) pac__fail(err, r, "no memory to order the p-values");
    } else {
        if (e->out.pvalues) pac__pvalues(e, threshold);
        if (e->out.sums) memcpy(e->out.sums, e->max_sum, e->n_perm * e->n_band[0] * e->n_band[1] * sizeof(pac__wide));
        for (i = 0; e->count_only && i < (size_t)e->k; i++) e->counts_out[i] = (uint64_t)e->pooled[i];
    }
    goto done;
fail_mem:
    r = te.code;
fail:
    pac__fail(err, r, te.message);
done:
    tp_team_destroy(e->team);
    e->team = NULL;
    for (i = nt; i-- > 0;) tp_free(pool, blocks[i]);
    tp_free(pool, shared);
    pac__free_bank(e);
    if (own) tp_destroy(own);
    return r;
}

static int pac__fits(pac__eng *e, size_t threads, size_t na, int keep, size_t budget)
{
    size_t slack = (threads + 4) * (4096 + 64); /* page rounding and block headers */
    return budget == 0 || pac__bytes(e, threads, na, keep) + slack <= budget;
}

/* The CUDA path's plan: one host worker (it designs the filters), the phase bins of every signal
   kept on the device when wanted, and chunks of as many signals as the budget leaves room to
   stage (the device's budget may take fewer): plan.bytes the most the run takes from the pool */
static tp_result pac__plan_cuda(pac__eng *e, size_t budget, pac_plan_info *pl, tp_error *err)
{
    int keep = e->surr == PAC_SURR_SWAP_EPOCHS || pac__counts_pooled(e);
    size_t fixed = pac__bytes(e, 1, 1, keep), slack = 5 * (4096 + 64), chunk;
    chunk = pac__staging_chunk(e, 1, !budget ? SIZE_MAX : budget > fixed + slack ? budget - fixed - slack : 0);
    if (!chunk) {
        char msg[200];
        snprintf(msg, sizeof msg, "needs at least %.1f MiB on the host (the filters, one signal's staging); the budget is %.1f MiB",
                 (double)(fixed + pac__staging_layout(e, 1, 1, NULL, NULL)) / 1048576.0, (double)budget / 1048576.0);
        return pac__fail(err, TP_ERR_BUDGET, msg);
    }
    pl->n_threads = 1;
    pl->amp_bands_per_pass = e->n_band[PAC__AMP];
    pl->keep_phase_bins = pl->two_passes = keep;
    pl->bytes = fixed + pac__staging_layout(e, 1, chunk, NULL, NULL);
    pl->budget = budget;
    return TP_OK;
}

#ifndef PAC_CACHE_BYTES
#define PAC_CACHE_BYTES ((size_t)1 << 20) /* a core's share of cache the histograms' amplitudes should fit */
#endif

/* The most amplitude bands a pass of the histogram measures should hold: every surrogate of
   every phase band reads the pass's amplitudes (n_times x bands) once, so they stay in cache
   when they fit PAC_CACHE_BYTES (more bands a pass, fewer passes, past that the reads miss: at
   20,000 samples 8 bands a pass run the surrogates 1.4x faster than 50); at least one vector */
static size_t pac__cache_bands(const pac__eng *e)
{
    size_t el = e->f32 ? sizeof(float) : sizeof(double), lanes = 64 / el, fit;
    if (e->vec || !e->nt) return (size_t)-1;
    fit = PAC_CACHE_BYTES / (e->nt * el) / lanes * lanes;
    return fit > lanes ? fit : lanes;
}

/* The most workers, then the most amplitude bands per pass, that fit the budget; phase bins
   kept for all signals when wanted (tensorpac's pooled counts) and when they fit, or always
   (swap-epochs needs them). */
static tp_result pac__plan(pac__eng *e, size_t threads, size_t budget, pac_plan_info *pl, tp_error *err)
{
    int need = e->surr == PAC_SURR_SWAP_EPOCHS, keep;
    size_t t, nas = e->n_band[PAC__AMP] ? e->n_band[PAC__AMP] : 1, cap = pac__cache_bands(e);
    char msg[200];
    if (e->cuda) return pac__plan_cuda(e, budget, pl, err);
    nas = nas < cap ? nas : cap;
    if (threads > e->n_sig) threads = e->n_sig;
    for (keep = need || pac__counts_pooled(e); keep >= need; keep--)
        for (t = threads; t >= 1; t--) {
            size_t lo = 1, hi = nas;
            if (!pac__fits(e, t, 1, keep, budget)) continue;
            while (lo < hi) {
                size_t mid = lo + (hi - lo + 1) / 2;
                if (pac__fits(e, t, mid, keep, budget)) lo = mid;
                else hi = mid - 1;
            }
            pl->n_threads = t;
            pl->amp_bands_per_pass = lo;
            pl->keep_phase_bins = keep;
            pl->two_passes = keep || pac__counts_pooled(e);
            pl->bytes = pac__bytes(e, t, lo, keep);
            pl->budget = budget;
            return TP_OK;
        }
    snprintf(msg, sizeof msg, "needs at least %.1f MiB (one worker, one amplitude band per pass%s); the budget is %.1f MiB",
             (double)pac__bytes(e, 1, 1, need) / 1048576.0, need ? ", the phase bins of every signal for swap-epochs" : "",
             (double)budget / 1048576.0);
    return pac__fail(err, TP_ERR_BUDGET, msg);
}

/* Checks a description and the sizes; fills e (no allocation). */
/* CPU or CUDA (e->cuda), from desc.backend and the devices present; the CUDA path computes in
   floats (the CPU's TP_F32 mode is its oracle) */
static tp_result pac__backend(pac__eng *e, const pac_desc *d, tp_error *err)
{
    if (d->backend < PAC_BACKEND_AUTO || d->backend > PAC_BACKEND_CUDA)
        return pac__fail(err, TP_ERR_ARG, "backend must be PAC_BACKEND_AUTO, _CPU or _CUDA");
    if (d->device_fraction < 0 || d->device_fraction > 1 || d->device_fraction != d->device_fraction)
        return pac__fail(err, TP_ERR_ARG, "device_fraction must be in [0, 1] (0 = 0.8)");
#if defined(PACGPU_USE_CUDA)
    e->device = d->device;
    e->device_fraction = d->device_fraction > 0 ? d->device_fraction : 0.8;
    if (d->backend != PAC_BACKEND_CPU) {
        int count = 0;
        cudaError_t ce = cudaGetDeviceCount(&count);
        if (ce == cudaSuccess && d->device >= 0 && d->device < count) e->cuda = 1;
        else if (d->backend == PAC_BACKEND_CUDA) {
            char msg[200];
            snprintf(msg, sizeof msg, "no CUDA device %d (%d found%s%s)", d->device, ce == cudaSuccess ? count : 0,
                     ce == cudaSuccess ? "" : ": ", ce == cudaSuccess ? "" : cudaGetErrorString(ce));
            return pac__fail(err, TP_ERR_DEVICE, msg);
        }
    }
    if (e->cuda) e->f32 = 1;
#else
    (void)e;
    if (d->backend == PAC_BACKEND_CUDA)
        return pac__fail(err, TP_ERR_DEVICE, "this build has no CUDA backend (define PACGPU_USE_CUDA, compile with nvcc)");
#endif
    return TP_OK;
}

/* The checks a run on given phases and amplitudes adds (pac_fit): desc's filter fields do not
   apply, and those that would change the series are refused rather than ignored */
static tp_result pac__given_checks(const pac_desc *d, size_t n_sig, size_t n, tp_error *err)
{
    if (!d->n_pha || !d->n_amp) return pac__fail(err, TP_ERR_ARG, "desc.n_pha, desc.n_amp: no phase or no amplitude series");
    if (!n_sig || n < 2) return pac__fail(err, TP_ERR_ARG, "no signals, or series of fewer than 2 samples");
    if (d->x_amp) return pac__fail(err, TP_ERR_ARG, "desc.x_amp: the amplitudes are given (amp), there is nothing to filter");
    if (d->edges) return pac__fail(err, TP_ERR_ARG, "desc.edges: given series are measured whole (slice them before)");
    if (d->backend == PAC_BACKEND_CUDA)
        return pac__fail(err, TP_ERR_ARG, "given phases and amplitudes are measured on the CPU (desc.backend AUTO or CPU)");
    return TP_OK;
}

static tp_result pac__from_desc(pac__eng *e, const pac_desc *d, size_t n_sig, size_t n, int given, tp_error *err)
{
    size_t cells, bytes, k;
    tp_result r;
    char msg[160];
    memset(e, 0, sizeof *e);
    tp_error_clear(err);
    if (!d) return pac__fail(err, TP_ERR_ARG, "desc is NULL");
    if (given && (r = pac__given_checks(d, n_sig, n, err)) != TP_OK) return r;
    if (!given && (!d->pha_bands || !d->amp_bands || !d->n_pha || !d->n_amp))
        return pac__fail(err, TP_ERR_ARG, "desc.pha_bands, desc.amp_bands: no phase or no amplitude bands");
    if (!n_sig || !n) return pac__fail(err, TP_ERR_ARG, "no signals, or signals of no samples");
    if (n < 4 && !given) return pac__fail(err, TP_ERR_ARG, "n_times < 4: too short for any filter");
    if (!given && (!(d->fs > 0) || d->fs - d->fs != 0))
        return tp_error_set(err, TP_ERR_ARG, "desc.fs must be positive and finite, got %g", d->fs);
    if (d->pha_cycles < 0 || d->amp_cycles < 0)
        return pac__fail(err, TP_ERR_ARG, "desc.pha_cycles and desc.amp_cycles must be >= 1 (0 = tensorpac's 3 and 6)");
    if (d->method != PAC_MI_DEFAULT && d->method != PAC_MI_TORT && d->method != PAC_MI_TENSORPAC)
        return tp_error_set(err, TP_ERR_ARG, "desc.method must be PAC_MI_TORT or PAC_MI_TENSORPAC, got %d", (int)d->method);
    if (d->measure < PAC_MEASURE_DEFAULT || d->measure > PAC_GCPAC)
        return tp_error_set(err, TP_ERR_ARG, "desc.measure must be one of PAC_MVL .. PAC_GCPAC (tensorpac's methods 1 to 6), got %d",
                            (int)d->measure);
    if (d->dcomplex != PAC_DCOMPLEX_HILBERT && d->dcomplex != PAC_DCOMPLEX_WAVELET)
        return tp_error_set(err, TP_ERR_ARG, "desc.dcomplex must be PAC_DCOMPLEX_HILBERT or _WAVELET, got %d", (int)d->dcomplex);
    if (d->width < 0 || d->width != d->width || d->width > 1e6)
        return tp_error_set(err, TP_ERR_ARG, "desc.width must be a positive number of cycles (0 = 7), got %g", d->width);
    if (d->n_bins < 0 || d->n_bins == 1 || d->n_bins > PAC_MAX_BINS)
        return tp_error_set(err, TP_ERR_ARG, "desc.n_bins must lie in 2 .. %d (0 = 18), got %d", PAC_MAX_BINS, d->n_bins);
    if (d->mcp < PAC_MCP_MAXSTAT || d->mcp > PAC_MCP_BONFERRONI)
        return tp_error_set(err, TP_ERR_ARG, "desc.mcp must be PAC_MCP_MAXSTAT, _FDR or _BONFERRONI, got %d", (int)d->mcp);
    if (d->norm < PAC_NORM_NONE || d->norm > PAC_NORM_ZSCORE)
        return tp_error_set(err, TP_ERR_ARG, "desc.norm must be one of PAC_NORM_NONE .. PAC_NORM_ZSCORE (tensorpac's 0 to 4), got %d",
                            (int)d->norm);
    if (d->surrogates < PAC_SURR_NONE || d->surrogates > PAC_SURR_SWAP_EPOCHS)
        return tp_error_set(err, TP_ERR_ARG, "desc.surrogates must be one of PAC_SURR_*, got %d", (int)d->surrogates);
    if (d->n_perm && d->surrogates == PAC_SURR_NONE) return pac__fail(err, TP_ERR_ARG, "desc.n_perm > 0 needs desc.surrogates");
    if (d->n_threads < 0 || d->n_threads > TP_MAX_THREADS)
        return tp_error_set(err, TP_ERR_ARG, "desc.n_threads must lie in 0 .. %d (0 = the usable CPUs), got %d", TP_MAX_THREADS,
                            d->n_threads);
    if (d->precision != 0 && d->precision != TP_F64 && d->precision != TP_F32)
        return tp_error_set(err, TP_ERR_ARG, "desc.precision must be TP_F64 or TP_F32 (0 = TP_F64), got %d", (int)d->precision);
    if (d->p_threshold < 0 || d->p_threshold > 1 || d->p_threshold != d->p_threshold)
        return tp_error_set(err, TP_ERR_ARG, "desc.p_threshold must lie in [0, 1] (0 = 0.05), got %g", d->p_threshold);
    if (d->surrogates == PAC_SURR_SWAP_EPOCHS && d->n_perm) {
        if (n_sig < 2) return pac__fail(err, TP_ERR_ARG, "swap-epochs needs at least 2 signals");
        if (n_sig > UINT32_MAX) return pac__fail(err, TP_ERR_OVERFLOW, "too many signals for swap-epochs");
        if (d->cuts) return pac__fail(err, TP_ERR_ARG, "desc.cuts apply to swap-blocks and time-lag, not swap-epochs");
    }
    if (d->pairs && (d->surrogates != PAC_SURR_SWAP_EPOCHS || !d->n_perm))
        return pac__fail(err, TP_ERR_ARG, "desc.pairs apply to swap-epochs surrogates (desc.surrogates, desc.n_perm)");
    for (k = 0; d->pairs && k < d->n_perm * n_sig; k++)
        if (d->pairs[k] >= n_sig) {
            snprintf(msg, sizeof msg, "desc.pairs[%zu] is %lu: a signal's index, below n_signals = %zu", k, (unsigned long)d->pairs[k], n_sig);
            return pac__fail(err, TP_ERR_ARG, msg);
        }
    if (d->edges && (d->edges >= n / 2 || n - 2 * d->edges < 4))
        return tp_error_set(err, TP_ERR_ARG, "desc.edges = %zu leaves %s of the %zu samples: drop fewer than (n_times - 4) / 2", d->edges,
                            d->edges >= n / 2 ? "none" : "fewer than 4", n);
    for (k = 0; d->cuts && k < d->n_perm; k++) {
        int64_t lo = d->surrogates == PAC_SURR_TIME_LAG ? 0 : 1;
        size_t nt = n - 2 * d->edges;
        if (d->cuts[k] < lo || (uint64_t)d->cuts[k] >= (uint64_t)nt) {
            snprintf(msg, sizeof msg, "desc.cuts[%zu] is %lld: cuts must lie in [%d, %s = %zu)", k, (long long)d->cuts[k], (int)lo,
                     d->edges ? "the samples left after desc.edges" : "n_times", nt);
            return pac__fail(err, TP_ERR_ARG, msg);
        }
    }
    if (!tp_size_mul(d->n_amp, d->n_pha, &cells) || !tp_size_mul(cells, n_sig, &cells) ||
        !tp_size_mul(cells, d->n_perm ? d->n_perm : 1, &bytes) || !tp_size_mul(bytes, sizeof(double), &bytes) ||
        !tp_size_mul(d->n_pha * n_sig, n, &bytes) || d->n_pha > ((size_t)-1) / n_sig ||
        !tp_size_mul(n, pac__lanes(d->n_amp, 0) + 16, &bytes) || !tp_size_mul(bytes, 2 * sizeof(double), &bytes) ||
        !tp_size_mul(d->n_perm, n_sig, &bytes) || !tp_size_mul(bytes, 8, &bytes) || d->n_amp > ((size_t)-1) / 16)
        return pac__fail(err, TP_ERR_OVERFLOW, "the sizes overflow");
    e->given = given;
    e->n_sig = n_sig;
    e->n = n;
    e->t0 = d->edges;
    e->nt = n - 2 * d->edges;
    e->fs = d->fs;
    e->n_band[PAC__PHA] = d->n_pha;
    e->n_band[PAC__AMP] = d->n_amp;
    e->bands[PAC__PHA] = d->pha_bands;
    e->bands[PAC__AMP] = d->amp_bands;
    e->wavelet = d->dcomplex == PAC_DCOMPLEX_WAVELET;
    e->width = d->width > 0 ? d->width : 7.0;
    e->cycles[PAC__PHA] = d->pha_cycles ? d->pha_cycles : 3;
    e->cycles[PAC__AMP] = d->amp_cycles ? d->amp_cycles : 6;
    e->measure = d->measure ? d->measure : PAC_MI;
    e->vec = e->measure != PAC_MI && e->measure != PAC_HR;
    e->method = (d->method == PAC_MI_TENSORPAC && !e->vec) || e->measure == PAC_HR ? PAC_MI_TENSORPAC : PAC_MI_TORT;
    e->f32 = d->precision == TP_F32 && !e->vec;
    e->surr = d->n_perm ? d->surrogates : PAC_SURR_NONE;
    e->n_perm = d->n_perm;
    e->shifts = d->cuts;
    e->pairs = d->pairs;
    e->norm = d->norm;
    e->mcp = d->mcp;
    e->k = d->n_bins ? d->n_bins : PAC_N_BINS;
    e->given_pooled = e->method == PAC_MI_TENSORPAC ? d->pooled_counts : NULL;
    if (e->measure == PAC_NDPAC) { /* tensorpac: x_lim = n erfinv(1 - p)^2, zero where |sum|^2 <= 2 x_lim */
        double p = d->p_threshold > 0 ? d->p_threshold : 0.05, q = p < 1 ? -pac__ndtri(0.5 * p) * 0.70710678118654752440 : 0.0;
        e->nd_limit = 2.0 * (double)n * q * q;
    }
    if ((e->measure == PAC_NDPAC && (e->n_perm || e->norm)) || (!e->n_perm && e->norm)) {
        e->adjusted = e->measure == PAC_NDPAC ? 1 : 2; /* logged by the run */
        if (e->measure == PAC_NDPAC) e->n_perm = 0, e->surr = PAC_SURR_NONE, e->pairs = NULL, e->shifts = NULL;
        e->norm = PAC_NORM_NONE;
    }
    e->progress = d->progress;
    e->user = d->user;
    e->log = d->log;
    if ((r = pac__backend(e, d, err)) != TP_OK) return r;
    if (given) e->cuda = 0, e->f32 = d->precision == TP_F32 && !e->vec;
    if (e->cuda && (e->measure == PAC_GCPAC || d->x_amp || d->edges || e->k != PAC_N_BINS || e->wavelet)) {
        if (d->backend == PAC_BACKEND_CUDA)
            return tp_error_set(err, TP_ERR_ARG, "%s runs on the CPU only: the CUDA backend computes every measure but the Gaussian "
                                "copula, of one set of signals, every sample, filtered (use PAC_BACKEND_AUTO or _CPU)",
                                d->x_amp ? "desc.x_amp" : d->edges ? "desc.edges" : e->k != PAC_N_BINS ? "desc.n_bins"
                                : e->wavelet ? "desc.dcomplex" : "the Gaussian copula (PAC_GCPAC)");
        e->cuda = 0;
        e->f32 = d->precision == TP_F32 && !e->vec;
    }
    return pac__sizes(e, err);
}

/* The plan pac_run makes when it is given none: desc.n_threads (0: the usable CPUs), the pool's
   budget unless one is given. */
static tp_result pac__default_plan(pac__eng *e, const pac_desc *desc, size_t budget, pac_plan_info *plan, tp_error *err)
{
    if (!budget && desc->pool) budget = tp_get_stats(desc->pool).budget;
    return pac__plan(e, (size_t)tp_thread_count(desc->n_threads), budget, plan, err);
}

PACDEF tp_result pac_plan(const pac_desc *desc, size_t n_signals, size_t n_times, size_t budget, pac_plan_info *plan,
                          tp_error *err)
{
    pac__eng e;
    tp_result r = pac__from_desc(&e, desc, n_signals, n_times, 0, err);
    if (r == TP_OK && !plan) r = pac__fail(err, TP_ERR_ARG, "plan is NULL");
    if (r == TP_OK) r = pac__default_plan(&e, desc, budget, plan, err);
    if (r != TP_OK) tp_error_prefix(err, "pac_plan");
    return r;
}

/* pac_estimate_bytes (given 0) and pac_fit_estimate_bytes (given 1) */
static tp_result pac__estimate(const pac_desc *desc, size_t n_signals, size_t n_times, int given, size_t *bytes,
                               tp_error *err)
{
    pac__eng e;
    pac_plan_info plan;
    tp_result r;
    if (bytes) *bytes = 0;
    r = pac__from_desc(&e, desc, n_signals, n_times, given, err);
    if (r == TP_OK && !bytes) r = pac__fail(err, TP_ERR_ARG, "bytes is NULL");
    if (r == TP_OK && (r = pac__default_plan(&e, desc, 0, &plan, err)) == TP_OK) *bytes = plan.bytes;
    if (r != TP_OK) tp_error_prefix(err, given ? "pac_fit_estimate_bytes" : "pac_estimate_bytes");
    return r;
}

PACDEF tp_result pac_estimate_bytes(const pac_desc *desc, size_t n_signals, size_t n_times, size_t *bytes, tp_error *err)
{
    return pac__estimate(desc, n_signals, n_times, 0, bytes, err);
}

/* pac_run on signals x, or pac_fit on given phases and amplitudes (x NULL, pha and amp set) */
static tp_result pac__run(const pac_desc *desc, const void *x, tp_dtype dtype, const double *pha, const double *amp,
                          size_t n_signals, size_t n_times, const pac_plan_info *plan, const pac_output *out, tp_error *err)
{
    pac__eng e;
    int given = !x && (pha || amp);
    tp_result r = pac__from_desc(&e, desc, n_signals, n_times, given, err);
    if (r != TP_OK) return r;
    if (given && (!pha || !amp)) return pac__fail(err, TP_ERR_ARG, "pha or amp is NULL");
    if (!given && !x) return pac__fail(err, TP_ERR_ARG, "x is NULL");
    if (!out || !out->pac) return pac__fail(err, TP_ERR_ARG, "out or out->pac is NULL");
    if (!given && (r = tp_dtype_check(dtype, "x", err)) != TP_OK) return r;
    if (!e.n_perm && (out->z || out->surr_mean || out->surr_std || out->p || out->pvalues || out->surrogates || out->sums))
        return pac__fail(err, TP_ERR_ARG, e.adjusted == 1 ? "ndPAC has no surrogates (tensorpac runs it as idpac (4, 0, 0)): "
                         "ask for no z, p or surrogate outputs" : "z, p and surrogate outputs need surrogates (desc.surrogates, desc.n_perm)");
    if ((out->binned || out->pp) && (e.vec || e.method != PAC_MI_TENSORPAC))
        return pac__fail(err, TP_ERR_ARG, "out.binned and out.pp come from tensorpac's pooled bin counts: desc.measure PAC_HR, or "
                         "PAC_MI with desc.method PAC_MI_TENSORPAC");
    if ((out->binned || out->pp) && e.cuda) {
        if (desc->backend == PAC_BACKEND_CUDA)
            return pac__fail(err, TP_ERR_ARG, "out.binned and out.pp are computed on the CPU only (desc.backend AUTO or CPU)");
        e.cuda = 0, e.f32 = desc->precision == TP_F32 && !e.vec;
    }
    if (out->info) memset(out->info, 0, sizeof *out->info);
    if (plan) {
        if (plan->n_threads < 1 || plan->n_threads > TP_MAX_THREADS || plan->amp_bands_per_pass < 1 ||
            plan->amp_bands_per_pass > desc->n_amp || (plan->keep_phase_bins != 0 && plan->keep_phase_bins != 1) ||
            (e.surr == PAC_SURR_SWAP_EPOCHS && !plan->keep_phase_bins))
            return pac__fail(err, TP_ERR_ARG, "the plan does not fit this description (make it with pac_plan)");
        e.plan = *plan;
        e.plan.two_passes = plan->keep_phase_bins || pac__counts_pooled(&e);
    } else if ((r = pac__default_plan(&e, desc, 0, &e.plan, err)) != TP_OK) {
        return r;
    }
    e.x = x;
    e.x_amp = desc->x_amp ? desc->x_amp : x;
    e.dtype = dtype;
    e.pha = pha;
    e.amp = amp;
    e.out = *out;
    return pac__execute(&e, desc->pool, desc->seed, desc->p_threshold > 0 ? desc->p_threshold : 0.05, err);
}

PACDEF tp_result pac_run(const pac_desc *desc, const void *x, tp_dtype dtype, size_t n_signals, size_t n_times,
                         const pac_plan_info *plan, const pac_output *out, tp_error *err)
{
    tp_result r = x ? pac__run(desc, x, dtype, NULL, NULL, n_signals, n_times, plan, out, err)
                    : pac__fail(err, TP_ERR_ARG, "x is NULL");
    if (r != TP_OK) tp_error_prefix(err, "pac_run");
    return r;
}

PACDEF tp_result pac_fit(const pac_desc *desc, const double *pha, const double *amp, size_t n_signals, size_t n_times,
                         const pac_output *out, tp_error *err)
{
    tp_result r = pha && amp ? pac__run(desc, NULL, TP_F64, pha, amp, n_signals, n_times, NULL, out, err)
                             : pac__fail(err, TP_ERR_ARG, "pha or amp is NULL");
    if (r != TP_OK) tp_error_prefix(err, "pac_fit");
    return r;
}

PACDEF tp_result pac_fit_estimate_bytes(const pac_desc *desc, size_t n_signals, size_t n_times, size_t *bytes, tp_error *err)
{
    return pac__estimate(desc, n_signals, n_times, 1, bytes, err);
}

/* pac_erpac on signals x, or pac_erpac_fit on given phases and amplitudes (x NULL) */
static tp_result pac__erpac_run(const pac_desc *desc, pac_erpac_method method, const void *x, tp_dtype dtype,
                                const double *pha, const double *amp, size_t n_epochs, size_t n_times,
                                const pac_erpac_output *out, tp_error *err)
{
    pac__eng e;
    pac_desc d;
    tp_result r;
    size_t threads;
    int given = !x;
    if (!desc) return pac__fail(err, TP_ERR_ARG, "desc is NULL");
    if (method != PAC_ERPAC_CIRCULAR && method != PAC_ERPAC_GC)
        return tp_error_set(err, TP_ERR_ARG, "method must be PAC_ERPAC_CIRCULAR or PAC_ERPAC_GC, got %d", (int)method);
    if ((given && (!pha || !amp)) || !out || !out->erpac)
        return pac__fail(err, TP_ERR_ARG, given ? "pha, amp, out or out->erpac is NULL" : "out or out->erpac is NULL");
    if (n_epochs < 3) return tp_error_set(err, TP_ERR_ARG, "%zu epochs: the coupling across epochs needs at least 3", n_epochs);
    if (desc->surrogates != PAC_SURR_NONE && desc->surrogates != PAC_SURR_SWAP_EPOCHS)
        return pac__fail(err, TP_ERR_ARG, "event-related PAC permutes epochs: desc.surrogates PAC_SURR_SWAP_EPOCHS (or NONE)");
    if (desc->n_perm && method == PAC_ERPAC_CIRCULAR)
        return pac__fail(err, TP_ERR_ARG, "permutations apply to the gc method (the circular one has its chi2 p-values, as tensorpac)");
    if ((out->pvalues || out->surrogates) && method == PAC_ERPAC_GC && !desc->n_perm)
        return pac__fail(err, TP_ERR_ARG, out->pvalues ? "the gc method's p-values need permutations (desc.n_perm)"
                                                       : "the gc method's surrogates need permutations (desc.n_perm)");
    if (out->surrogates && method == PAC_ERPAC_CIRCULAR)
        return pac__fail(err, TP_ERR_ARG, "out.surrogates: the circular method has no permutations (its p-values are chi2's)");
    if (desc->smooth && method == PAC_ERPAC_GC && (desc->smooth >= n_times / 2 || 2 * desc->smooth + 1 + 2 * desc->edges > n_times))
        return tp_error_set(err, TP_ERR_ARG, "desc.smooth = %zu: a window of 2 smooth + 1 times must fit the %zu samples measured",
                            desc->smooth, n_times > 2 * desc->edges ? n_times - 2 * desc->edges : 0);
    d = *desc;
    d.measure = PAC_MVL, d.norm = PAC_NORM_NONE, d.mcp = PAC_MCP_MAXSTAT, d.n_bins = 0, d.backend = PAC_BACKEND_CPU;
    d.surrogates = d.n_perm ? PAC_SURR_SWAP_EPOCHS : PAC_SURR_NONE;
    if ((r = pac__from_desc(&e, &d, n_epochs, n_times, given, err)) != TP_OK) return r;
    if (!given && (r = tp_dtype_check(dtype, "x", err)) != TP_OK) return r;
    e.erpac = 1 + (int)method;
    e.smooth = method == PAC_ERPAC_GC ? desc->smooth : 0;
    if (desc->smooth && method == PAC_ERPAC_CIRCULAR) e.adjusted = 3; /* logged: tensorpac ignores it there too */
    threads = (size_t)tp_thread_count(desc->n_threads);
    e.plan.n_threads = threads < n_epochs ? threads : n_epochs; /* pass 0 has n_epochs items */
    e.plan.amp_bands_per_pass = desc->n_amp;
    e.plan.keep_phase_bins = e.plan.two_passes = 1;
    e.plan.bytes = pac__bytes(&e, e.plan.n_threads, desc->n_amp, 1);
    e.x = x;
    e.x_amp = desc->x_amp ? desc->x_amp : x;
    e.dtype = dtype;
    e.pha = pha;
    e.amp = amp;
    e.eout = *out;
    return pac__execute(&e, desc->pool, desc->seed, desc->p_threshold > 0 ? desc->p_threshold : 0.05, err);
}

PACDEF tp_result pac_erpac(const pac_desc *desc, pac_erpac_method method, const void *x, tp_dtype dtype, size_t n_epochs,
                           size_t n_times, const pac_erpac_output *out, tp_error *err)
{
    tp_result r = x ? pac__erpac_run(desc, method, x, dtype, NULL, NULL, n_epochs, n_times, out, err)
                    : pac__fail(err, TP_ERR_ARG, "x is NULL");
    if (r != TP_OK) tp_error_prefix(err, "pac_erpac");
    return r;
}

PACDEF tp_result pac_erpac_fit(const pac_desc *desc, pac_erpac_method method, const double *pha, const double *amp,
                               size_t n_epochs, size_t n_times, const pac_erpac_output *out, tp_error *err)
{
    tp_result r = pac__erpac_run(desc, method, NULL, TP_F64, pha, amp, n_epochs, n_times, out, err);
    if (r != TP_OK) tp_error_prefix(err, "pac_erpac_fit");
    return r;
}

static tp_result pac__count_bins(const pac_desc *desc, const void *x, tp_dtype dtype, size_t n_signals, size_t n_times,
                                 uint64_t *counts, tp_error *err)
{
    pac__eng e;
    pac_desc d;
    tp_result r;
    if (!desc || !x || !counts) return pac__fail(err, TP_ERR_ARG, "desc, x or counts is NULL");
    d = *desc;
    d.measure = PAC_MI, d.method = PAC_MI_TENSORPAC, d.pooled_counts = NULL, d.n_perm = 0, d.surrogates = PAC_SURR_NONE;
    d.cuts = NULL, d.pairs = NULL, d.norm = PAC_NORM_NONE, d.backend = PAC_BACKEND_CPU;
    if ((r = pac__from_desc(&e, &d, n_signals, n_times, 0, err)) != TP_OK) return r;
    if ((r = tp_dtype_check(dtype, "x", err)) != TP_OK) return r;
    if ((r = pac__default_plan(&e, &d, 0, &e.plan, err)) != TP_OK) return r;
    e.plan.keep_phase_bins = 0, e.plan.two_passes = 1, e.plan.amp_bands_per_pass = 1;
    e.count_only = 1;
    e.counts_out = counts;
    e.x = e.x_amp = x;
    e.dtype = dtype;
    return pac__execute(&e, desc->pool, 0, 0.05, err);
}

PACDEF tp_result pac_count_bins(const pac_desc *desc, const void *x, tp_dtype dtype, size_t n_signals, size_t n_times,
                                uint64_t *counts, tp_error *err)
{
    tp_result r = pac__count_bins(desc, x, dtype, n_signals, n_times, counts, err);
    if (r != TP_OK) tp_error_prefix(err, "pac_count_bins");
    return r;
}

PACDEF void pac_sums_merge(uint64_t *dst, const uint64_t *src, size_t n_entries)
{
    size_t i;
    for (i = 0; i < n_entries; i++) {
        pac__wide a, b;
        a.hi = dst[2 * i], a.lo = dst[2 * i + 1], b.hi = src[2 * i], b.lo = src[2 * i + 1];
        pac__wide_add(&a, b);
        dst[2 * i] = a.hi, dst[2 * i + 1] = a.lo;
    }
}

static tp_result pac__pvalues_given(const pac_desc *desc, const double *pac, size_t n_signals, const uint64_t *sums, double *pvalues,
                                    tp_error *err)
{
    pac__eng e;
    tp_result r;
    size_t cells;
    tp_error te;
    tp_pool *own = NULL, *pool;
    if (!desc || !pac || !sums || !pvalues) return pac__fail(err, TP_ERR_ARG, "desc, pac, sums or pvalues is NULL");
    pac_desc d = *desc;
    d.cuts = NULL, d.pairs = NULL, d.edges = 0; /* any length will do: only the cells count here */
    if ((r = pac__from_desc(&e, &d, n_signals, 4, 0, err)) != TP_OK) return r;
    if (!e.n_perm) return pac__fail(err, TP_ERR_ARG, "desc has no surrogates (desc.surrogates, desc.n_perm)");
    cells = desc->n_amp * desc->n_pha;
    if (!(pool = desc->pool) && (r = tp_create(NULL, &own, &te)) != TP_OK) return pac__fail(err, r, te.message);
    if (!pool) pool = own;
    e.cellp = (pac__cellp *)tp_alloc_at(pool, cells * sizeof *e.cellp, 0, __FILE__, __LINE__, &te);
    if (!e.cellp) {
        if (own) tp_destroy(own);
        return pac__fail(err, te.code, te.message);
    }
    e.max_sum = (pac__wide *)(uintptr_t)sums; /* read only: pac__pvalues reads the sums */
    e.out.pac = (double *)(uintptr_t)pac;
    e.out.pvalues = pvalues;
    pac__pvalues(&e, desc->p_threshold > 0 ? desc->p_threshold : 0.05);
    tp_free(pool, e.cellp);
    if (own) tp_destroy(own);
    return TP_OK;
}

PACDEF tp_result pac_pvalues(const pac_desc *desc, const double *pac, size_t n_signals, const uint64_t *sums, double *pvalues,
                             tp_error *err)
{
    tp_result r = pac__pvalues_given(desc, pac, n_signals, sums, pvalues, err);
    if (r != TP_OK) tp_error_prefix(err, "pac_pvalues");
    return r;
}

/* The one-worker plan the lower-level calls run with, and its bytes */
static void pac__simple_plan(pac__eng *e, size_t na)
{
    e->plan.n_threads = 1;
    e->plan.amp_bands_per_pass = na;
    e->plan.keep_phase_bins = 0;
    e->plan.two_passes = pac__counts_pooled(e) && !e->bp_out;
    e->plan.bytes = pac__bytes(e, 1, na, 0);
}

/* pac_bandpass's engine (pac_wavelet's when width > 0), without the data */
static tp_result pac__bandpass_eng(pac__eng *e, size_t n_signals, size_t n_times, double fs, const double *bands,
                                   size_t n_bands, int cycles, double width, tp_error *err)
{
    size_t total;
    memset(e, 0, sizeof *e);
    tp_error_clear(err);
    if (!bands || !n_signals || !n_bands) return pac__fail(err, TP_ERR_ARG, "bands NULL, or no signals or bands");
    if (!(fs > 0) || fs - fs != 0) return tp_error_set(err, TP_ERR_ARG, "fs must be positive and finite, got %g", fs);
    if (!(width >= 0) || width > 1e6)
        return tp_error_set(err, TP_ERR_ARG, "width must be a positive number of cycles (0 = 7), got %g", width);
    if (cycles < 1 && !width) return tp_error_set(err, TP_ERR_ARG, "cycles must be >= 1, got %d", cycles);
    if (n_times < 4) return pac__fail(err, TP_ERR_ARG, "n_times < 4: too short for any filter");
    if (!tp_size_mul(n_signals, n_bands, &total) || !tp_size_mul(total, n_times, &total))
        return pac__fail(err, TP_ERR_OVERFLOW, "the sizes overflow");
    e->dtype = TP_F64;
    e->n_sig = n_signals;
    e->n = e->nt = n_times;
    e->k = PAC_N_BINS;
    e->fs = fs;
    e->n_band[PAC__PHA] = n_bands;
    e->bands[PAC__PHA] = bands;
    e->cycles[PAC__PHA] = cycles;
    e->wavelet = width > 0;
    e->width = width;
    return pac__sizes(e, err);
}

/* pac_bandpass (width 0) and pac_wavelet */
static tp_result pac__bandpass(tp_pool *pool, const double *x, size_t n_signals, size_t n_times, double fs,
                               const double *bands, size_t n_bands, int cycles, double width, pac_signal_kind what,
                               double *out, tp_error *err)
{
    pac__eng e;
    tp_result r;
    if (!x || !out) return pac__fail(err, TP_ERR_ARG, "x or out is NULL");
    if (what != PAC_FILTERED && what != PAC_PHASE && what != PAC_AMPLITUDE)
        return tp_error_set(err, TP_ERR_ARG, "what must be PAC_FILTERED, PAC_PHASE or PAC_AMPLITUDE, got %d", (int)what);
    if ((r = pac__bandpass_eng(&e, n_signals, n_times, fs, bands, n_bands, cycles, width, err)) != TP_OK) return r;
    e.x = x;
    e.what = what;
    e.bp_out = out;
    pac__simple_plan(&e, 0);
    return pac__execute(&e, pool, 0, 0.05, err);
}

PACDEF tp_result pac_bandpass(tp_pool *pool, const double *x, size_t n_signals, size_t n_times, double fs,
                              const double *bands, size_t n_bands, int cycles, pac_signal_kind what, double *out,
                              tp_error *err)
{
    tp_result r = pac__bandpass(pool, x, n_signals, n_times, fs, bands, n_bands, cycles, 0.0, what, out, err);
    if (r != TP_OK) tp_error_prefix(err, "pac_bandpass");
    return r;
}

PACDEF tp_result pac_wavelet(tp_pool *pool, const double *x, size_t n_signals, size_t n_times, double fs,
                             const double *bands, size_t n_bands, double width, pac_signal_kind what, double *out,
                             tp_error *err)
{
    tp_result r = pac__bandpass(pool, x, n_signals, n_times, fs, bands, n_bands, 0, width == 0 ? 7.0 : width, what, out, err);
    if (r != TP_OK) tp_error_prefix(err, "pac_wavelet");
    return r;
}

static tp_result pac__bandpass_bytes(size_t n_signals, size_t n_times, double fs, const double *bands, size_t n_bands,
                                     int cycles, double width, size_t *bytes, tp_error *err)
{
    pac__eng e;
    tp_result r;
    if (bytes) *bytes = 0;
    if (!bytes) return pac__fail(err, TP_ERR_ARG, "bytes is NULL");
    if ((r = pac__bandpass_eng(&e, n_signals, n_times, fs, bands, n_bands, cycles, width, err)) != TP_OK) return r;
    pac__simple_plan(&e, 0);
    *bytes = e.plan.bytes;
    return TP_OK;
}

PACDEF tp_result pac_bandpass_estimate_bytes(size_t n_signals, size_t n_times, double fs, const double *bands,
                                             size_t n_bands, int cycles, size_t *bytes, tp_error *err)
{
    tp_result r = pac__bandpass_bytes(n_signals, n_times, fs, bands, n_bands, cycles, 0.0, bytes, err);
    if (r != TP_OK) tp_error_prefix(err, "pac_bandpass_estimate_bytes");
    return r;
}

PACDEF tp_result pac_wavelet_estimate_bytes(size_t n_signals, size_t n_times, double fs, const double *bands,
                                            size_t n_bands, double width, size_t *bytes, tp_error *err)
{
    tp_result r = pac__bandpass_bytes(n_signals, n_times, fs, bands, n_bands, 0, width == 0 ? 7.0 : width, bytes, err);
    if (r != TP_OK) tp_error_prefix(err, "pac_wavelet_estimate_bytes");
    return r;
}

/* What pac_modulation_index and pac_swap_blocks share: checks and the engine on given phases and
   amplitudes (pha and amp may be NULL for an estimate). */
static tp_result pac__given_eng(pac__eng *e, size_t n_pha, size_t n_amp, size_t n_signals, size_t n_times, pac_mi method,
                                const int64_t *cuts, size_t n_cuts, tp_error *err)
{
    size_t cells, t, k;
    memset(e, 0, sizeof *e);
    tp_error_clear(err);
    if (!n_pha || !n_amp || !n_signals || !n_times) return pac__fail(err, TP_ERR_ARG, "a size is zero");
    if (method != PAC_MI_DEFAULT && method != PAC_MI_TORT && method != PAC_MI_TENSORPAC)
        return tp_error_set(err, TP_ERR_ARG, "method must be PAC_MI_TORT or PAC_MI_TENSORPAC, got %d", (int)method);
    if (!tp_size_mul(n_pha, n_signals, &cells) || !tp_size_mul(cells, n_times, &cells) || !tp_size_mul(n_amp, n_signals, &t) ||
        !tp_size_mul(t, n_times, &t) || !tp_size_mul(n_amp, n_pha, &cells) || !tp_size_mul(cells, n_signals, &cells) ||
        !tp_size_mul(cells, n_cuts ? n_cuts : 1, &t) || n_times > UINT32_MAX || !tp_size_mul(n_times, pac__lanes(n_amp, 0) + 16, &t) ||
        !tp_size_mul(t, 2 * sizeof(double), &t))
        return pac__fail(err, TP_ERR_OVERFLOW, "the sizes overflow");
    for (k = 0; cuts && k < n_cuts; k++)
        if (cuts[k] < 1 || (uint64_t)cuts[k] >= (uint64_t)n_times)
            return tp_error_set(err, TP_ERR_ARG, "cuts[%zu] is %lld: cuts must lie in [1, n_times = %zu)", k, (long long)cuts[k],
                                n_times);
    e->given = 1;
    e->n_sig = n_signals;
    e->n = e->nt = n_times;
    e->k = PAC_N_BINS;
    e->n_band[PAC__PHA] = n_pha;
    e->n_band[PAC__AMP] = n_amp;
    e->method = method == PAC_MI_TENSORPAC ? PAC_MI_TENSORPAC : PAC_MI_TORT;
    e->surr = n_cuts ? PAC_SURR_SWAP_BLOCKS : PAC_SURR_NONE;
    e->n_perm = n_cuts;
    e->shifts = cuts;
    pac__simple_plan(e, n_amp);
    return TP_OK;
}

static tp_result pac__given(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                            size_t n_signals, size_t n_times, pac_mi method, const int64_t *cuts, size_t n_cuts,
                            const pac_output *out, tp_error *err)
{
    pac__eng e;
    tp_result r;
    if (!pha || !amp) return pac__fail(err, TP_ERR_ARG, "pha or amp is NULL");
    if ((r = pac__given_eng(&e, n_pha, n_amp, n_signals, n_times, method, cuts, n_cuts, err)) != TP_OK) return r;
    e.pha = pha;
    e.amp = amp;
    e.out = *out;
    return pac__execute(&e, pool, 0, 0.05, err);
}

PACDEF tp_result pac_modulation_index(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                                      size_t n_signals, size_t n_times, pac_mi method, double *out, tp_error *err)
{
    pac_output o;
    tp_result r;
    memset(&o, 0, sizeof o);
    o.pac = out;
    r = out ? pac__given(pool, pha, n_pha, amp, n_amp, n_signals, n_times, method, NULL, 0, &o, err)
            : pac__fail(err, TP_ERR_ARG, "out is NULL");
    if (r != TP_OK) tp_error_prefix(err, "pac_modulation_index");
    return r;
}

/* The surrogates' run writes the MI itself too: it takes it from the pool. */
static size_t pac__mi_bytes(size_t n_pha, size_t n_amp, size_t n_signals) { return n_amp * n_pha * n_signals * sizeof(double); }

static tp_result pac__swap_blocks(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                                  size_t n_signals, size_t n_times, pac_mi method, const int64_t *cuts, size_t n_cuts,
                                  double *surrogates, double *mean, double *std, tp_error *err)
{
    pac_output o;
    pac__eng e;
    tp_pool *own = NULL;
    tp_error te;
    tp_result r;
    if (!cuts || !n_cuts || n_times < 2) return pac__fail(err, TP_ERR_ARG, "no cuts, or n_times < 2");
    if ((r = pac__given_eng(&e, n_pha, n_amp, n_signals, n_times, method, cuts, n_cuts, err)) != TP_OK) return r;
    memset(&o, 0, sizeof o);
    o.surrogates = surrogates;
    o.surr_mean = mean;
    o.surr_std = std;
    if (!pool && (r = tp_create(NULL, &own, err)) != TP_OK) return r;
    if (!pool) pool = own;
    if (!(o.pac = (double *)tp_alloc_at(pool, pac__mi_bytes(n_pha, n_amp, n_signals), 0, __FILE__, __LINE__, &te)))
        r = pac__fail(err, te.code, te.message);
    else
        r = pac__given(pool, pha, n_pha, amp, n_amp, n_signals, n_times, method, cuts, n_cuts, &o, err);
    tp_free(pool, o.pac);
    if (own) tp_destroy(own);
    return r;
}

PACDEF tp_result pac_swap_blocks(tp_pool *pool, const double *pha, size_t n_pha, const double *amp, size_t n_amp,
                                 size_t n_signals, size_t n_times, pac_mi method, const int64_t *cuts, size_t n_cuts,
                                 double *surrogates, double *mean, double *std, tp_error *err)
{
    tp_result r = pac__swap_blocks(pool, pha, n_pha, amp, n_amp, n_signals, n_times, method, cuts, n_cuts, surrogates,
                                   mean, std, err);
    if (r != TP_OK) tp_error_prefix(err, "pac_swap_blocks");
    return r;
}

PACDEF tp_result pac_mi_estimate_bytes(size_t n_pha, size_t n_amp, size_t n_signals, size_t n_times, pac_mi method,
                                       size_t n_cuts, size_t *bytes, tp_error *err)
{
    pac__eng e;
    tp_result r;
    if (bytes) *bytes = 0;
    if (!bytes) r = pac__fail(err, TP_ERR_ARG, "bytes is NULL");
    else if ((r = pac__given_eng(&e, n_pha, n_amp, n_signals, n_times, method, NULL, n_cuts, err)) == TP_OK)
        *bytes = e.plan.bytes + (n_cuts ? pac__mi_bytes(n_pha, n_amp, n_signals) : 0);
    if (r != TP_OK) tp_error_prefix(err, "pac_mi_estimate_bytes");
    return r;
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
