/* pac - phase-amplitude coupling comodulograms (modulation index) with surrogate statistics.

   build/pac --signal x.npy --fs HZ --pha-bands p.npy|PRESET --amp-bands a.npy|PRESET --out pac.npy
             [--idpac M,S,N] [--mi tort|tensorpac] [--n-perm N --surrogate swap-blocks|time-lag|swap-epochs
             --seed S | --cuts cuts.npy] [--z-out z.npy] [--p-out p.npy] [--pvalues-out pv.npy
             --mcp maxstat|fdr|bonferroni --p-threshold P] [--png comodulogram.png]
             [--threads T] [--budget-mb M] [--backend auto|cpu|cuda]
   build/pac --demo [--out DIR]
   (build/pac_cuda, from `make cuda`: the same program with pacgpu's CUDA backend)
   mpirun -n RANKS build/pac_mpi ...   (built with -DPAC_MPI by mpicc: the signals split over the
   ranks, tensorpac's pooled bin counts and the surrogates' sums exchanged, rank 0 writing: the
   same files as one process, bit for bit; not with swap-epochs or --erpac-out, which need every
   signal in one process)

   x.npy: float32 or float64, (n_signals, n_times) or (n_times,). Bands: (n, 2) [low, high] Hz
   .npy files or tensorpac's presets (lres, mres, hres, demon, hulk). Outputs: float64
   (n_amp, n_pha, n_signals), tensorpac's order; --out holds what tensorpac's Pac.filterfit returns
   for that idpac. The PNG shows --out averaged over the signals, amplitude frequency up, phase
   frequency across, the strongest cell circled.
*/
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#define TENSORPOOL_IMPLEMENTATION
#define PACGPU_IMPLEMENTATION
#include "../pacgpu.h"
#include "common/cli.h"
#include "common/npy.h"
#include "common/outputs.h"
#include "common/png.h"
#include "common/progress.h"
#include "common/util.h"

#if defined(PAC_MPI)
#include <mpi.h>
#define PROG "pac_mpi"
#else
#define PROG "pac"
#endif
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct options {
    const char *signal, *amp_signal, *pha, *amp, *out, *z_out, *p_out, *pv_out, *pp_out, *binamp_out, *png, *cuts, *idpac;
    const char *erpac_out, *erpac_p_out, *erpac_png;
    int erpac_method;
    double fs, budget_mb, p_threshold, width;
    int method, surrogate, demo, backend, mcp, dcomplex;
    int measure, surr_id, norm; /* --idpac's three digits (measure 0: not given) */
    long long threads, n_perm, seed, edges, n_bins, smooth;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s --signal x.npy --fs HZ --pha-bands P --amp-bands A --out pac.npy [--idpac M,S,N]\n"
            "           [--mi tort|tensorpac] [--n-perm N --surrogate swap-blocks|time-lag|swap-epochs --seed S\n"
            "           | --cuts cuts.npy]\n"
            "           [--z-out z.npy] [--p-out p.npy] [--pvalues-out pv.npy --mcp maxstat|fdr|bonferroni\n"
            "           --p-threshold P] [--png comodulogram.png] [--threads T] [--budget-mb M]\n"
            "           [--backend auto|cpu|cuda]\n"
            "       %s --demo [--out DIR]\n", PROG, PROG);
#if defined(PAC_MPI)
    fprintf(f, "       mpirun -n RANKS %s ...   (the signals split over the ranks; rank 0 writes the outputs)\n", PROG);
#endif
    fprintf(f,
            "\n"
            "Phase-amplitude coupling of every (amplitude band, phase band, signal) with tensorpac's filters,\n"
            "methods and numbers, and optional surrogates, normalisations, z-scores and p-values.\n"
            "  --signal F       float32/float64 .npy, (n_signals, n_times) or (n_times,)\n"
            "  --amp-signal F   the amplitude from these signals, the phase from --signal (coupling between\n"
            "                   channels; tensorpac's x_amp): the same shape and type as --signal\n"
            "  --edges N        samples dropped at each end after filtering, before anything is measured\n"
            "                   (tensorpac's edges: the filters' transients); shifts then lie in what is left\n"
            "  --fs HZ          sampling rate\n"
            "  --pha-bands P    (n_pha, 2) [low, high] Hz .npy, or a preset: lres mres hres demon hulk\n"
            "  --amp-bands A    (n_amp, 2) .npy or a preset\n"
            "  --idpac M,S,N    tensorpac's idpac. M, the measure: 1 mean vector length, 2 modulation index\n"
            "                   (tensorpac's form unless --mi tort), 3 heights ratio, 4 ndPAC (no surrogates,\n"
            "                   as in tensorpac), 5 phase-locking value, 6 Gaussian copula (bits). S, the\n"
            "                   surrogates: 0 none, 1 swap-epochs, 2 swap-blocks, 3 time-lag (200 unless --n-perm).\n"
            "                   N, what --out holds: 0 the measure, 1 minus the surrogates' mean, 2 divided by\n"
            "                   it, 3 both, 4 the z-score. Default: 2,0,0 with --mi tort\n"
            "  --mi M           tort (per-series Tort 2010, default) or tensorpac (tensorpac's pooled variant)\n"
            "  --n-bins K       phase bins of the MI and the heights ratio, 2 to 120 (default 18)\n"
            "  --dcomplex D     hilbert (default: tensorpac's FIR filters, then Hilbert) or wavelet (Morlet\n"
            "                   wavelets at the bands' centres, --width cycles, default 7)\n"
            "  --n-perm N       number of surrogates (default 0: none)\n"
            "  --surrogate S    swap-blocks (default), time-lag, or swap-epochs (pairs each signal's\n"
            "                   amplitude with another signal's phase)\n"
            "  --seed S         surrogate generator seed (default 0)\n"
            "  --cuts F         int64 .npy of swap-block cut points (replays tensorpac's; sets --n-perm)\n"
            );
    fprintf(f,
            "  --out F          the measure, normalised as --idpac says, float64 (n_amp, n_pha, n_signals)\n"
            "  --z-out F        (measure - surrogate mean) / surrogate std, same shape\n"
            "  --p-out F        fraction of surrogates >= the measure per cell (at least 1 / n_perm), same shape\n"
            "  --pvalues-out F  tensorpac's Pac.pvalues, (n_amp, n_pha): the signal-averaged measure against its\n"
            "                   surrogates, corrected over the cells by --mcp, 1 where not significant\n"
            "  --mcp M          maxstat (default: maximum statistics), fdr (Benjamini-Hochberg) or bonferroni\n"
            "  --pp-out F       the preferred phase (tensorpac's PreferredPhase), radians, (n_amp, n_pha, n_signals)\n"
            "  --binamp-out F   its binned amplitude, (n_bins, n_amp, n_pha, n_signals), each bin's mean amplitude over\n"
            "                   their sum; both need tensorpac's pooled bins: --idpac 2,S,N or 3,S,N\n"
            "  --p-threshold P  significance level of --pvalues-out, and ndPAC's threshold (default 0.05)\n"
            "  --erpac-out F    event-related PAC (tensorpac's EventRelatedPac): the coupling across the signals\n"
            "                   (epochs) at each time, (n_amp, n_pha, n_times); --out is then optional\n"
            "  --erpac-method M circular (default: Voytek's circular-linear correlation) or gc (Gaussian copula, bits)\n"
            "  --erpac-p-out F  its p-values: circular, chi2 corrected over the cells (FDR, or --mcp bonferroni);\n"
            "                   gc, maxstat over --n-perm permutations of the epochs\n"
            "  --smooth W       gc: each time's MI over the times within W samples too, averaged (tensorpac's smooth)\n"
            "  --erpac-png F    the event-related PAC of the phase band holding the strongest cell: amplitude\n"
            "                   frequency up, time across, that cell circled\n"
            "  --png F          heat map of --out averaged over the signals, axes in Hz, peak circled\n"
            "  --threads T      workers (default 0: the CPUs this process may use); results do not depend on it\n"
            "  --budget-mb M    memory budget for the work buffers (default: none); the run plans to fit\n"
            "  --backend B      auto (default: the GPU when this build has pacgpu's CUDA backend and a device\n"
            "                   answers, else the CPU), cpu, or cuda (an error where there is none); the GPU\n"
            "                   computes in float32 (MI within 5e-5 of the CPU's)\n"
            "  --demo           a 6 Hz -> 80 Hz coupled signal, 20 x 2048 samples at 512 Hz, 'mres' bands and\n"
            "                   100 swap-blocks surrogates; writes the signal, MI, z, p and the PNG into DIR (--out DIR,\n"
            "                   default out/)\n"
            "  --help           this text\n");
}

static int is_root(void);
#define fail(...) (is_root() ? ex_error(PROG, __VA_ARGS__) : 1) /* one message, not one a rank */

/* rank 0, or the one process: who prints and writes */
static int is_root(void)
{
#if defined(PAC_MPI)
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank == 0;
#else
    return 1;
#endif
}

/* 0: parsed, 1: help printed, -1: an error printed */
static int parse_args(int argc, char **argv, options *o)
{
    cli_opt t[34];
    size_t n = 0;
    memset(o, 0, sizeof *o);
    o->method = -1; /* not given: Tort's, or tensorpac's with --idpac 2 */
    o->n_perm = -1;    /* not given */
    o->surrogate = -1; /* not given: swap-blocks */
    t[n++] = cli_string("--idpac", &o->idpac);
    t[n++] = cli_string("--signal", &o->signal);
    t[n++] = cli_string("--amp-signal", &o->amp_signal);
    t[n++] = cli_int("--edges", &o->edges, 0, LLONG_MAX, "a number of samples");
    t[n++] = cli_int("--n-bins", &o->n_bins, 2, PAC_MAX_BINS, "a number of phase bins");
    t[n++] = cli_choice("--dcomplex", &o->dcomplex, "hilbert|wavelet");
    t[n++] = cli_double("--width", &o->width, 0, 1e6, CLI_LO_OPEN, "a wavelet width in cycles");
    t[n++] = cli_double("--fs", &o->fs, 0, HUGE_VAL, CLI_LO_OPEN, "a sampling rate in Hz");
    t[n++] = cli_string("--pha-bands", &o->pha);
    t[n++] = cli_string("--amp-bands", &o->amp);
    t[n++] = cli_string("--out", &o->out);
    t[n++] = cli_string("--z-out", &o->z_out);
    t[n++] = cli_string("--p-out", &o->p_out);
    t[n++] = cli_string("--pvalues-out", &o->pv_out);
    t[n++] = cli_string("--pp-out", &o->pp_out);
    t[n++] = cli_string("--erpac-out", &o->erpac_out);
    t[n++] = cli_string("--erpac-p-out", &o->erpac_p_out);
    t[n++] = cli_string("--erpac-png", &o->erpac_png);
    t[n++] = cli_choice("--erpac-method", &o->erpac_method, "circular|gc");
    t[n++] = cli_int("--smooth", &o->smooth, 0, LLONG_MAX, "a number of samples");
    t[n++] = cli_string("--binamp-out", &o->binamp_out);
    t[n++] = cli_choice("--mcp", &o->mcp, "maxstat|fdr|bonferroni");
    t[n++] = cli_double("--p-threshold", &o->p_threshold, 0, 1, CLI_LO_OPEN, "a significance level in (0, 1]");
    t[n++] = cli_string("--png", &o->png);
    t[n++] = cli_string("--cuts", &o->cuts);
    t[n++] = cli_choice("--mi", &o->method, "tort|tensorpac");
    t[n++] = cli_choice("--surrogate", &o->surrogate, "swap-blocks|time-lag|swap-epochs");
    t[n++] = cli_int("--n-perm", &o->n_perm, 0, 1000000, "a number of surrogates");
    t[n++] = cli_int("--seed", &o->seed, 0, LLONG_MAX, "a seed");
    t[n++] = cli_int("--threads", &o->threads, 0, TP_MAX_THREADS, "a number of threads (0: the usable CPUs)");
    t[n++] = cli_choice("--backend", &o->backend, "auto|cpu|cuda");
    t[n++] = cli_double("--budget-mb", &o->budget_mb, 0, HUGE_VAL, CLI_LO_OPEN, "a budget in MiB");
    t[n++] = cli_flag("--demo", &o->demo);
    return cli_parse(PROG, argc, argv, t, n, usage);
}

/* "(8, 2048)" */
static void shape_text(const npy_array *a, char *buf, size_t cap)
{
    size_t i, used = (size_t)snprintf(buf, cap, "(");
    for (i = 0; i < (size_t)a->ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%zu%s", a->shape[i], a->ndim == 1 ? "," : i + 1 < (size_t)a->ndim ? ", " : "");
    if (used < cap) snprintf(buf + used, cap - used, ")");
}

/* --amp-signal: mapped into xa, the shape and type of x (the phase's signals) */
static int load_amp_signal(const options *o, const npy_array *x, npy_array *xa)
{
    char err[400], sx[64], sa[64];
    if (npy_map_read(o->amp_signal, xa, err, sizeof err)) return fail("%s", err);
    if (xa->ndim != x->ndim || xa->shape[0] != x->shape[0] || (x->ndim == 2 && xa->shape[1] != x->shape[1])) {
        shape_text(x, sx, sizeof sx);
        shape_text(xa, sa, sizeof sa);
        return fail("--amp-signal %s has shape %s, --signal %s has %s: the amplitude's signals must match the phase's one for one",
                    o->amp_signal, sa, o->signal, sx);
    }
    if (xa->dtype != x->dtype)
        return fail("--amp-signal %s is %s, --signal %s is %s: give both as float32 or both as float64", o->amp_signal,
                    xa->dtype == NPY_F8 ? "float64" : xa->dtype == NPY_F4 ? "float32" : "not float32 or float64", o->signal,
                    x->dtype == NPY_F8 ? "float64" : "float32");
    return 0;
}

/* Bands from a preset name or an (n, 2) .npy; *bands is malloc'd */
static int load_bands(const char *spec, pac_signal_kind kind, double **bands, size_t *n)
{
    npy_array a;
    double *v;
    char err[300];
    if (pac_band_preset(spec, kind, NULL, n, NULL) == TP_OK) {
        *bands = (double *)malloc(2 * *n * sizeof(double));
        if (!*bands) return fail("%s", "out of memory");
        pac_band_preset(spec, kind, *bands, n, NULL);
        return 0;
    }
    if (npy_read_f64(spec, &a, &v, err, sizeof err))
        return fail("%s (bands are an (n, 2) .npy or one of lres mres hres demon hulk)", err);
    if (a.ndim != 2 || a.shape[1] != 2 || a.shape[0] == 0) {
        npy_free(&a);
        free(v);
        return fail("%s: bands must have shape (n, 2): [low, high] Hz per row", spec);
    }
    *n = a.shape[0];
    *bands = v;
    npy_free(&a);
    return 0;
}

typedef struct run_state {
    progress_bar bar;
} run_state;

static int on_progress(void *user, uint64_t done, uint64_t total)
{
    progress_update(&((run_state *)user)->bar, (double)done / (double)total);
    return 0;
}

/* The measure's name, for the summary and the plot */
static const char *measure_name(const pac_desc *d)
{
    static const char *names[7] = {"", "MVL", "MI", "HR", "ndPAC", "PLV", "GC-PAC (bits)"};
    if (d->measure == PAC_MI || d->measure == PAC_MEASURE_DEFAULT) return d->method == PAC_MI_TENSORPAC ? "MI (tensorpac)" : "MI (Tort)";
    return names[d->measure];
}

static double centre(const double *bands, size_t i) { return 0.5 * (bands[2 * i] + bands[2 * i + 1]); }

static int write_png(const options *o, const pac_desc *d, const double *map, const double *pha, size_t n_pha, const double *amp,
                     size_t n_amp, size_t peak)
{
    static const char *norms[5] = {"", ", minus the surrogates' mean", ", over the surrogates' mean",
                                   ", relative to the surrogates' mean", ", z-scored by the surrogates"};
    png_heatmap_opts h = png_heatmap_defaults();
    char title[160], err[300];
    snprintf(title, sizeof title, "%s%s, mean of the signals", measure_name(d), norms[d->norm]);
    h.title = title;
    h.xlabel = "phase frequency (Hz)";
    h.ylabel = "amplitude frequency (Hz)";
    h.cbar_label = d->norm == PAC_NORM_ZSCORE ? "z" : measure_name(d);
    h.x0 = centre(pha, 0);
    h.x1 = centre(pha, n_pha - 1);
    h.y0 = centre(amp, 0);
    h.y1 = centre(amp, n_amp - 1);
    h.rows_up = 1;
    h.mark_row = (int)(peak / n_pha);
    h.mark_col = (int)(peak % n_pha);
    if (png_heatmap(o->png, map, n_amp, n_pha, &h, err, sizeof err)) return fail("%s", err);
    return 0;
}

static int save(const char *path, const double *data, size_t n_amp, size_t n_pha, size_t n_sig)
{
    size_t shape[3];
    char err[300];
    shape[0] = n_amp;
    shape[1] = n_pha;
    shape[2] = n_sig;
    if (path && npy_write(path, NPY_F8, 3, shape, data, err, sizeof err)) return fail("%s", err);
    return 0;
}

static int save4(const char *path, const double *data, size_t n_bins, size_t n_amp, size_t n_pha, size_t n_sig)
{
    size_t shape[4];
    char err[300];
    shape[0] = n_bins;
    shape[1] = n_amp;
    shape[2] = n_pha;
    shape[3] = n_sig;
    if (path && npy_write(path, NPY_F8, 4, shape, data, err, sizeof err)) return fail("%s", err);
    return 0;
}

static int save2(const char *path, const double *data, size_t n_amp, size_t n_pha)
{
    size_t shape[2];
    char err[300];
    shape[0] = n_amp;
    shape[1] = n_pha;
    if (path && npy_write(path, NPY_F8, 2, shape, data, err, sizeof err)) return fail("%s", err);
    return 0;
}

/* Each band must hold a cycle of its low edge in the signal: a band below that measures the
   filter, not the data (the usual cause: --fs in the wrong unit) */
static int check_bands(const char *what, const double *bands, size_t n, size_t n_times, double fs)
{
    size_t b;
    for (b = 0; b < n; b++)
        if (bands[2 * b] * (double)n_times / fs < 1.0)
            return fail("%s band %zu [%g, %g] Hz: the signal is %zu samples at %g Hz = %.3g s, less than one cycle of %g Hz; "
                        "check --fs, or give a longer signal or higher bands", what, b, bands[2 * b], bands[2 * b + 1], n_times,
                        fs, (double)n_times / fs, bands[2 * b]);
    return 0;
}

/* Signals whose MI would not mean coupling: a NaN or infinite sample, or one value throughout
   (its filtered series are round-off, perfectly "locked"). bad[s] = 1 (non-finite) or 2
   (constant); returns how many. */
static size_t find_bad_signals(const void *x, int f32, size_t n_sig, size_t n, unsigned char *bad)
{
    size_t s, t, count = 0;
    for (s = 0; s < n_sig; s++) {
        double lo = HUGE_VAL, hi = -HUGE_VAL;
        bad[s] = 0;
        for (t = 0; t < n; t++) {
            double v = f32 ? (double)((const float *)x)[s * n + t] : ((const double *)x)[s * n + t];
            if (!isfinite(v)) { bad[s] = 1; break; }
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        if (!bad[s] && lo == hi) bad[s] = 2;
        count += bad[s] != 0;
    }
    return count;
}

/* find_bad_signals over the amplitude's signals as well: bad[s] also where they are bad; returns
   how many signals are bad in either */
static size_t find_bad_signals_too(const void *x, int f32, size_t n_sig, size_t n, unsigned char *bad)
{
    unsigned char *more = (unsigned char *)malloc(n_sig);
    size_t s, count = 0;
    if (more) find_bad_signals(x, f32, n_sig, n, more);
    for (s = 0; s < n_sig; s++) {
        if (more && !bad[s]) bad[s] = more[s];
        count += bad[s] != 0;
    }
    free(more);
    return count;
}

static void report_bad_signals(const unsigned char *bad, size_t n_sig, size_t n_bad)
{
    size_t s, shown = 0;
    fprintf(stderr, "pac: warning: %zu of %zu signals have no meaningful MI and are NaN in every output:", n_bad, n_sig);
    for (s = 0; s < n_sig && shown < 8; s++)
        if (bad[s]) fprintf(stderr, "%s signal %zu (%s)", shown++ ? "," : "", s, bad[s] == 1 ? "NaN or infinite samples" : "constant");
    fprintf(stderr, "%s\n", n_bad > shown ? ", ..." : "");
}

static void blank_bad_signals(double *cube, size_t cells, size_t n_sig, const unsigned char *bad)
{
    size_t c, s;
    for (c = 0; cube && c < cells; c++)
        for (s = 0; s < n_sig; s++)
            if (bad[s]) cube[c * n_sig + s] = NAN;
}

/* The mean of the finite values of v[0 .. n) (step apart); NaN when none */
static double finite_mean(const double *v, size_t n, size_t step, size_t *count)
{
    double sum = 0;
    size_t i, k = 0;
    for (i = 0; i < n; i++)
        if (isfinite(v[i * step])) sum += v[i * step], k++;
    if (count) *count = k;
    return k ? sum / (double)k : NAN;
}

static void print_summary(const pac_desc *d, const pac_plan_info *plan, const pac_run_info *info,
                          const double *map, size_t peak, const double *z, const double *p, size_t n_sig, size_t n_times,
                          double secs)
{
    const double *pha = d->pha_bands, *amp = d->amp_bands;
    size_t n_pha = d->n_pha, q = peak % n_pha, a = peak / n_pha, i, below = 0, k = 0;
    printf(PROG ": %zu signals x %zu samples, %zu x %zu bands, %s, %zu surrogates: %.3f s, ", n_sig, n_times, d->n_pha, d->n_amp,
           measure_name(d), d->n_perm, secs);
    if (info->on_device)
        printf("on the GPU (%.1f ms there, %.1f MiB of device memory), %.1f MiB of host buffers\n", info->device.ms[3],
               (double)info->device.bytes / 1048576.0, (double)plan->bytes / 1048576.0);
    else
        printf("on the CPU, %d worker(s), %.1f MiB of work buffers\n", info->n_workers, (double)plan->bytes / 1048576.0);
    if (!isfinite(map[peak])) {
        printf(PROG ": no signal gave a finite value\n");
        return;
    }
    printf(PROG ": strongest coupling (--out averaged over signals): phase %.3g Hz [%.3g, %.3g] -> amplitude %.3g Hz [%.3g, %.3g], "
           "%s%s = %.4g",
           centre(pha, q), pha[2 * q], pha[2 * q + 1], centre(amp, a), amp[2 * a], amp[2 * a + 1], measure_name(d),
           d->norm ? " (normalised)" : "", map[peak]);
    if (z) {
        double zm = finite_mean(z + peak * n_sig, n_sig, 1, &k);
        for (i = 0; i < n_sig; i++) below += p[peak * n_sig + i] <= 0.05;
        printf(", mean z = %.3g over %zu signals, p <= 0.05 in %zu of %zu signals", zm, k, below, n_sig);
    }
    printf("\n");
}

/* What to compute, from --idpac (tensorpac's numbering), --mi, --surrogate, --n-perm and --cuts,
   into d (cuts, n_perm and surrogates apart from --cuts' array, which run() loads) */
static int resolve_method(const options *o, pac_desc *d)
{
    static const pac_surrogates by_id[4] = {PAC_SURR_NONE, PAC_SURR_SWAP_EPOCHS, PAC_SURR_SWAP_BLOCKS, PAC_SURR_TIME_LAG};
    int m = 2, s = -1, n = 0;
    char tail;
    if (o->idpac && (sscanf(o->idpac, "%d,%d,%d%c", &m, &s, &n, &tail) != 3 || m < 1 || m > 6 || s < 0 || s > 3 || n < 0 || n > 4))
        return fail("--idpac %s: want M,S,N: M in 1..6 (the measure), S in 0..3 (the surrogates), N in 0..4 (the normalisation), "
                    "e.g. 2,2,4", o->idpac);
    if (o->idpac && o->surrogate >= 0)
        return fail("%s", "give the surrogates by --idpac's second digit or by --surrogate, not both");
    if (o->method >= 0 && m != 2) return fail("--mi chooses the modulation index's form: --idpac %d,... measures something else", m);
    if (o->cuts && o->n_perm > 0) return fail("%s", "give --cuts or --n-perm, not both (--cuts sets the number of surrogates)");
    if (s == 0 && o->n_perm > 0) return fail("%s", "--n-perm needs surrogates: --idpac's second digit is 0");
    if (s == 0 && o->cuts) return fail("%s", "--cuts are surrogates: --idpac's second digit is 0");
    if (s == 1 && o->cuts) return fail("%s", "--cuts shift the amplitude (swap-blocks, time-lag), not --idpac M,1,N (swap-epochs)");
    d->measure = (pac_measure)m;
    d->method = o->method > 0 || (o->method < 0 && o->idpac) ? PAC_MI_TENSORPAC : PAC_MI_TORT;
    d->norm = (pac_norm)n;
    d->surrogates = s >= 0 ? by_id[s] : o->surrogate >= 0 ? (pac_surrogates)(o->surrogate + 1) : PAC_SURR_SWAP_BLOCKS;
    if (o->cuts && d->surrogates != PAC_SURR_TIME_LAG) d->surrogates = PAC_SURR_SWAP_BLOCKS;
    d->n_perm = o->n_perm >= 0 ? (size_t)o->n_perm : s > 0 ? 200 : 0; /* tensorpac's filterfit draws 200 */
    if (m == 4 && (d->n_perm || o->cuts || n)) {
        if (o->z_out || o->p_out || o->pv_out)
            return fail("%s", "ndPAC has no surrogates (tensorpac runs it as idpac (4, 0, 0)): no --z-out, --p-out or --pvalues-out");
        d->p_threshold = o->p_threshold;
        fprintf(stderr, "pac: note: ndPAC runs without surrogates or normalisation, as tensorpac's idpac (4, 0, 0)\n");
        d->n_perm = 0, d->norm = PAC_NORM_NONE;
        return 0;
    }
    if (n && !d->n_perm && !o->cuts) {
        fprintf(stderr, "pac: note: a normalisation needs surrogates: --out holds the measure itself, as in tensorpac\n");
        d->norm = PAC_NORM_NONE;
    }
    if (!d->n_perm && !o->cuts) d->surrogates = PAC_SURR_NONE;
    if ((o->z_out || o->p_out || o->pv_out) && d->surrogates == PAC_SURR_NONE)
        return fail("%s", "--z-out, --p-out and --pvalues-out need surrogates (--n-perm N, --cuts, or --idpac M,S,N with S > 0)");
    d->mcp = (pac_mcp)o->mcp;
#if defined(PAC_MPI)
    if (d->surrogates == PAC_SURR_SWAP_EPOCHS && d->n_perm)
        return fail("%s", "swap-epochs pairs each signal with signals other ranks hold: run it with one process (pac)");
    if (o->erpac_out) return fail("%s", "--erpac-out needs every epoch in one process: run it with pac");
#endif
    if ((o->pp_out || o->binamp_out) && d->method != PAC_MI_TENSORPAC && d->measure != PAC_HR)
        return fail("%s", "--pp-out and --binamp-out use tensorpac's pooled bin counts: give --idpac 2,S,N (tensorpac's MI) or 3,S,N "
                    "(heights ratio)");
    d->p_threshold = o->p_threshold;
    return 0;
}

/* --erpac-png: amplitude band x time at the phase band of the strongest cell `best`: times
   averaged into at most 640 columns, each band's row repeated so the picture is about twice as
   wide as high */
static int erpac_png(const options *o, const options *w, const pac_desc *d, const double *er, size_t nt, size_t best)
{
    size_t q = best / nt % d->n_pha, cols = nt < 640 ? nt : 640, rep = d->n_amp < 320 ? 320 / d->n_amp : 1, a, c, r, t;
    double *map = (double *)malloc(d->n_amp * rep * cols * sizeof(double)), t0, t1;
    png_heatmap_opts h = png_heatmap_defaults();
    char title[200], err[300];
    int rc = 0;
    if (!map) return fail("%s", "out of memory for --erpac-png");
    for (a = 0; a < d->n_amp; a++)
        for (c = 0; c < cols; c++) { /* the mean of the block's finite values */
            size_t lo = c * nt / cols, hi = (c + 1) * nt / cols, k = 0;
            double sum = 0;
            for (t = lo; t < hi; t++) {
                double v = er[(a * d->n_pha + q) * nt + t];
                if (v == v) sum += v, k++;
            }
            for (r = 0; r < rep; r++) map[(a * rep + r) * cols + c] = k ? sum / (double)k : NAN;
        }
    t0 = ((double)o->edges + 0.5 * (double)(nt / cols) - 0.5) / d->fs; /* the first and last blocks' centres */
    t1 = ((double)o->edges + (double)nt - 0.5 * (double)(nt / cols) - 0.5) / d->fs;
    snprintf(title, sizeof title, "event-related PAC (%s), phase %.3g Hz [%.3g, %.3g]",
             o->erpac_method ? "Gaussian copula, bits" : "circular-linear r", centre(d->pha_bands, q), d->pha_bands[2 * q],
             d->pha_bands[2 * q + 1]);
    h.title = title;
    h.xlabel = "time (s)";
    h.ylabel = "amplitude frequency (Hz)";
    h.cbar_label = o->erpac_method ? "bits" : "r";
    h.x0 = t0, h.x1 = t1;
    h.y0 = centre(d->amp_bands, 0), h.y1 = centre(d->amp_bands, d->n_amp - 1);
    if (d->n_amp == 1) h.y0 = h.y1 = 0; /* one band: no frequency axis to draw */
    h.rows_up = 1;
    h.mark_row = (int)((best / nt / d->n_pha) * rep + rep / 2);
    h.mark_col = (int)((best % nt) * cols / nt);
    if (png_heatmap(w->erpac_png, map, d->n_amp * rep, cols, &h, err, sizeof err)) rc = fail("%s", err);
    free(map);
    return rc;
}

/* Event-related PAC across the signals (epochs) into w's --erpac-out and --erpac-p-out */
static int run_erpac(const options *o, const options *w, const pac_desc *d, const void *x, tp_dtype dtype, size_t n_sig,
                     size_t n_times)
{
    pac_desc ed = *d;
    pac_erpac_output eo;
    tp_error perr;
    size_t nt = n_times - 2 * (size_t)o->edges, cells = d->n_amp * d->n_pha * nt, i, best = 0, shape[3];
    double *er = (double *)malloc(cells * sizeof(double)), *pv = o->erpac_p_out ? (double *)malloc(cells * sizeof(double)) : NULL;
    char err[300];
    int rc = 1;
    if (!er || (o->erpac_p_out && !pv)) {
        fail("%s", "out of memory for --erpac-out");
        goto done;
    }
    ed.surrogates = o->erpac_method && d->n_perm ? PAC_SURR_SWAP_EPOCHS : PAC_SURR_NONE;
    ed.n_perm = o->erpac_method ? d->n_perm : 0;
    ed.cuts = NULL;
    ed.smooth = (size_t)o->smooth;
    memset(&eo, 0, sizeof eo);
    eo.erpac = er, eo.pvalues = pv;
    if (pac_erpac(&ed, (pac_erpac_method)o->erpac_method, x, dtype, n_sig, n_times, &eo, &perr) != TP_OK) {
        fail("%s", perr.message);
        goto done;
    }
    shape[0] = d->n_amp, shape[1] = d->n_pha, shape[2] = nt;
    if (npy_write(w->erpac_out, NPY_F8, 3, shape, er, err, sizeof err) ||
        (pv && npy_write(w->erpac_p_out, NPY_F8, 3, shape, pv, err, sizeof err))) {
        fail("%s", err);
        goto done;
    }
    for (i = 1; i < cells; i++)
        if (er[i] > er[best] || er[best] != er[best]) best = i;
    if (w->erpac_png && erpac_png(o, w, d, er, nt, best)) goto done;
    printf(PROG ": event-related PAC (%s) over %zu epochs: strongest %.4g, phase band %zu, amplitude band %zu, time %zu\n",
           o->erpac_method ? "Gaussian copula, bits" : "circular-linear correlation", n_sig, er[best], best / nt % d->n_pha,
           best / nt / d->n_pha, best % nt + (size_t)o->edges);
    rc = 0;
done:
    free(er);
    free(pv);
    return rc;
}

/* The outputs a run writes, declared before it starts; their temporary names in *w */
static int declare_outputs(const options *o, ex_outputs *outs, options *w)
{
    char err[600];
    *w = *o;
    if (ex_outputs_input(outs, o->signal, err, sizeof err) || (o->cuts && ex_outputs_input(outs, o->cuts, err, sizeof err)) ||
        (o->amp_signal && ex_outputs_input(outs, o->amp_signal, err, sizeof err)) ||
        (o->out && !(w->out = ex_outputs_add(outs, o->out, err, sizeof err))) ||
        (o->erpac_out && !(w->erpac_out = ex_outputs_add(outs, o->erpac_out, err, sizeof err))) ||
        (o->erpac_p_out && !(w->erpac_p_out = ex_outputs_add(outs, o->erpac_p_out, err, sizeof err))) ||
        (o->erpac_png && !(w->erpac_png = ex_outputs_add(outs, o->erpac_png, err, sizeof err))) ||
        (o->z_out && !(w->z_out = ex_outputs_add(outs, o->z_out, err, sizeof err))) ||
        (o->p_out && !(w->p_out = ex_outputs_add(outs, o->p_out, err, sizeof err))) ||
        (o->pv_out && !(w->pv_out = ex_outputs_add(outs, o->pv_out, err, sizeof err))) ||
        (o->pp_out && !(w->pp_out = ex_outputs_add(outs, o->pp_out, err, sizeof err))) ||
        (o->binamp_out && !(w->binamp_out = ex_outputs_add(outs, o->binamp_out, err, sizeof err))) ||
        (o->png && !(w->png = ex_outputs_add(outs, o->png, err, sizeof err))))
        return fail("%s", err);
    return 0;
}

#if defined(PAC_MPI)
/* The rows of every rank (rows x its signals, C order) into full (rows x n_sig) on rank 0 */
static int gather_rows(const double *mine, size_t rows, size_t first, size_t n_mine, size_t n_sig, double *full, int ranks)
{
    int *counts = (int *)malloc((size_t)ranks * sizeof(int)), *displs = (int *)malloc((size_t)ranks * sizeof(int)), r, rc = 0;
    double *all = is_root() ? (double *)malloc(rows * n_sig * sizeof(double) + 1) : NULL;
    size_t at = 0, row, s;
    (void)first;
    if (!counts || !displs || (is_root() && !all) || rows * n_sig > (size_t)INT_MAX) rc = 1;
    for (r = 0; !rc && r < ranks; r++) {
        size_t lo = n_sig * (size_t)r / (size_t)ranks, hi = n_sig * (size_t)(r + 1) / (size_t)ranks;
        counts[r] = (int)(rows * (hi - lo));
        displs[r] = (int)at;
        at += rows * (hi - lo);
    }
    if (!rc) MPI_Gatherv(mine, (int)(rows * n_mine), MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    for (r = 0; !rc && is_root() && r < ranks; r++) { /* rank r's block: rows x its signals */
        size_t lo = n_sig * (size_t)r / (size_t)ranks, hi = n_sig * (size_t)(r + 1) / (size_t)ranks;
        for (row = 0; row < rows; row++)
            for (s = lo; s < hi; s++) full[row * n_sig + s] = all[(size_t)displs[r] + row * (hi - lo) + s - lo];
    }
    free(counts);
    free(displs);
    free(all);
    return rc;
}
#endif

/* pac_run over every signal: in this process, or (pac_mpi) over the ranks, each measuring its
   share with the pooled counts and surrogate sums of all, the results gathered on rank 0 into
   out's arrays (full size there). plan NULL under MPI: each rank plans its share. */
static int measure_all(pac_desc *d, const pac_plan_info *plan, const void *x, tp_dtype dtype, size_t n_sig, size_t n_times,
                       const pac_output *out, tp_error *perr)
{
#if !defined(PAC_MPI)
    return pac_run(d, x, dtype, n_sig, n_times, plan, out, perr) != TP_OK;
#else
    int ranks, rank, bad = 0, any;
    size_t lo, hi, n, cells = d->n_amp * d->n_pha, k = (size_t)(d->n_bins ? d->n_bins : PAC_N_BINS), el = dtype == TP_F32 ? 4 : 8;
    size_t nsum = d->n_perm * cells * 2, i;
    uint64_t counts[PAC_MAX_BINS], total[PAC_MAX_BINS];
    pac_output mine = *out;
    double *buf[7] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    uint64_t *sums = NULL, *all_sums = NULL;
    (void)plan;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    lo = n_sig * (size_t)rank / (size_t)ranks, hi = n_sig * (size_t)(rank + 1) / (size_t)ranks, n = hi - lo;
    if ((d->method == PAC_MI_TENSORPAC || d->measure == PAC_HR) && d->measure != PAC_MVL && d->measure != PAC_NDPAC &&
        d->measure != PAC_PLV && d->measure != PAC_GCPAC) { /* tensorpac's counts pooled over every signal */
        memset(counts, 0, sizeof counts);
        if (n && pac_count_bins(d, (const char *)x + lo * n_times * el, dtype, n, n_times, counts, perr) != TP_OK) bad = 1;
        MPI_Allreduce(counts, total, (int)k, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
        d->pooled_counts = total;
    }
    buf[0] = (double *)malloc(cells * (n + 1) * sizeof(double));
    buf[1] = out->norm ? (double *)malloc(cells * (n + 1) * sizeof(double)) : NULL;
    buf[2] = out->z ? (double *)malloc(cells * (n + 1) * sizeof(double)) : NULL;
    buf[3] = out->p ? (double *)malloc(cells * (n + 1) * sizeof(double)) : NULL;
    buf[4] = out->pp ? (double *)malloc(cells * (n + 1) * sizeof(double)) : NULL;
    buf[5] = out->binned ? (double *)malloc(k * cells * (n + 1) * sizeof(double)) : NULL;
    if (out->pvalues) {
        sums = (uint64_t *)calloc(nsum + 1, sizeof(uint64_t));
        all_sums = is_root() ? (uint64_t *)malloc((size_t)ranks * nsum * sizeof(uint64_t) + 1) : NULL;
    }
    if (!buf[0] || (out->norm && !buf[1]) || (out->z && !buf[2]) || (out->p && !buf[3]) || (out->pp && !buf[4]) ||
        (out->binned && !buf[5]) || (out->pvalues && (!sums || (is_root() && !all_sums)))) {
        snprintf(perr->message, sizeof perr->message, "out of memory for rank %d's outputs", rank);
        bad = 1;
    }
    mine.pac = buf[0], mine.norm = buf[1], mine.z = buf[2], mine.p = buf[3], mine.pp = buf[4], mine.binned = buf[5];
    mine.pvalues = NULL, mine.sums = sums, mine.info = out->info;
    if (!bad && n && pac_run(d, (const char *)x + lo * n_times * el, dtype, n, n_times, NULL, &mine, perr) != TP_OK) bad = 1;
    if (bad && !is_root()) fprintf(stderr, PROG ": rank %d: %s\n", rank, perr->message);
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
        if (!bad) snprintf(perr->message, sizeof perr->message, "another rank failed (its message above)");
        for (i = 0; i < 7; i++) free(buf[i]);
        free(sums);
        free(all_sums);
        return 1;
    }
    gather_rows(buf[0], cells, lo, n, n_sig, out->pac, ranks);
    if (out->norm) gather_rows(buf[1], cells, lo, n, n_sig, out->norm, ranks);
    if (out->z) gather_rows(buf[2], cells, lo, n, n_sig, out->z, ranks);
    if (out->p) gather_rows(buf[3], cells, lo, n, n_sig, out->p, ranks);
    if (out->pp) gather_rows(buf[4], cells, lo, n, n_sig, out->pp, ranks);
    if (out->binned) gather_rows(buf[5], k * cells, lo, n, n_sig, out->binned, ranks);
    if (out->pvalues) { /* every rank's sums, merged in rank order on rank 0 (exact: any order gives the same) */
        MPI_Gather(sums, (int)nsum, MPI_UINT64_T, all_sums, (int)nsum, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        if (is_root()) {
            for (i = 1; i < (size_t)ranks; i++) pac_sums_merge(all_sums, all_sums + i * nsum, nsum / 2);
            if (pac_pvalues(d, out->pac, n_sig, all_sums, out->pvalues, perr) != TP_OK) bad = 1;
        }
    }
    for (i = 0; i < 7; i++) free(buf[i]);
    free(sums);
    free(all_sums);
    return bad;
#endif
}

/* Exit status: 0, 1 (bad input or a failure: no output kept), or 3 (outputs written, some signals
   could not be measured) */
static int run(const options *o)
{
    npy_array x, xa, cuts;
    double *pha = NULL, *amp = NULL, *mi = NULL, *val = NULL, *z = NULL, *p = NULL, *pv = NULL, *pp = NULL, *binned = NULL, *map = NULL,
           t0, secs;
    size_t n_pha = 0, n_amp = 0, n_sig, n_times, cells, i, peak = 0, n_bad;
    unsigned char *bad = NULL;
    pac_desc d;
    pac_plan_info plan;
    pac_output out;
    pac_run_info info;
    tp_desc pd;
    tp_error perr;
    tp_pool *pool = NULL;
    run_state st;
    ex_outputs outs;
    options w;
    char err[400];
    int rc = 1;
    tp_dtype dtype;
    memset(&x, 0, sizeof x);
    memset(&cuts, 0, sizeof cuts);
    memset(&xa, 0, sizeof xa);
    if (!o->signal || !o->pha || !o->amp || !(o->out || o->erpac_out) || !(o->fs > 0))
        return fail("%s", "--signal, --fs, --pha-bands, --amp-bands and --out (or --erpac-out) are required (see --help)");
    if ((o->erpac_p_out || o->erpac_png) && !o->erpac_out) return fail("%s", "--erpac-p-out and --erpac-png need --erpac-out");
    memset(&d, 0, sizeof d);
    if (resolve_method(o, &d)) return 1;
    ex_outputs_init(&outs);
    if (is_root() ? declare_outputs(o, &outs, &w) : (w = *o, 0)) goto done;
    if (npy_map_read(o->signal, &x, err, sizeof err)) { fail("%s", err); goto done; }
    if ((x.dtype != NPY_F8 && x.dtype != NPY_F4) || x.ndim < 1 || x.ndim > 2 || !x.count) {
        fail("%s: want a non-empty float32 or float64 array of shape (n_signals, n_times) or (n_times,)", o->signal);
        goto done;
    }
    n_sig = x.ndim == 2 ? x.shape[0] : 1;
    n_times = x.shape[x.ndim - 1];
    dtype = x.dtype == NPY_F8 ? TP_F64 : TP_F32;
    if (o->amp_signal && load_amp_signal(o, &x, &xa)) goto done;
    if (o->edges && (unsigned long long)o->edges >= (n_times - 2) / 2) {
        fail("--edges %lld leaves %s of the %zu samples: drop at most %zu at each end", o->edges,
             (unsigned long long)o->edges >= n_times / 2 ? "none" : "fewer than 4", n_times, n_times >= 6 ? (n_times - 4) / 2 : 0);
        goto done;
    }
    if (load_bands(o->pha, PAC_PHASE, &pha, &n_pha) || load_bands(o->amp, PAC_AMPLITUDE, &amp, &n_amp) ||
        check_bands("phase", pha, n_pha, n_times, o->fs) || check_bands("amplitude", amp, n_amp, n_times, o->fs))
        goto done;
    d.fs = o->fs;
    d.x_amp = xa.data;
    d.edges = (size_t)o->edges;
    d.n_bins = (int)o->n_bins;
    d.dcomplex = (pac_dcomplex)o->dcomplex;
    d.width = o->width;
    d.pha_bands = pha;
    d.n_pha = n_pha;
    d.amp_bands = amp;
    d.n_amp = n_amp;
    d.n_threads = (int)o->threads;
    d.seed = (uint64_t)o->seed;
    d.backend = (pac_backend)o->backend;
    if (o->cuts) {
        if (npy_read(o->cuts, &cuts, err, sizeof err)) { fail("%s", err); goto done; }
        if (cuts.dtype != NPY_I8 || cuts.ndim != 1 || !cuts.shape[0]) {
            fail("%s: cuts must be a non-empty 1-D int64 array", o->cuts);
            goto done;
        }
        d.cuts = (const int64_t *)cuts.data;
        d.n_perm = d.measure == PAC_NDPAC ? 0 : cuts.shape[0];
        if (!d.n_perm) d.cuts = NULL, d.surrogates = PAC_SURR_NONE;
    }
    memset(&pd, 0, sizeof pd);
    pd.budget_bytes = o->budget_mb > 0 ? (size_t)(o->budget_mb * 1048576.0) : 0;
    if (tp_create(&pd, &pool, &perr) != TP_OK) { fail("%s", perr.message); goto done; }
    d.pool = pool;
    if (o->erpac_out && run_erpac(o, &w, &d, x.data, dtype, n_sig, n_times)) goto done;
    if (!o->out) { /* event-related PAC alone */
        if (ex_outputs_commit(&outs, err, sizeof err)) { fail("%s", err); goto done; }
        rc = 0;
        goto done;
    }
    if (pac_plan(&d, n_sig, n_times, 0, &plan, &perr) != TP_OK) { fail("%s", perr.message); goto done; }
    cells = n_amp * n_pha;
    mi = (double *)malloc(cells * n_sig * sizeof(double));
    val = d.norm ? (double *)malloc(cells * n_sig * sizeof(double)) : mi; /* what --out holds */
    map = (double *)malloc(cells * sizeof(double));
    bad = (unsigned char *)malloc(n_sig);
    if (d.n_perm) {
        z = (double *)malloc(cells * n_sig * sizeof(double));
        p = (double *)malloc(cells * n_sig * sizeof(double));
        if (o->pv_out) pv = (double *)malloc(cells * sizeof(double));
    }
    if (o->pp_out) pp = (double *)malloc(cells * n_sig * sizeof(double));
    if (o->binamp_out && n_sig <= SIZE_MAX / sizeof(double) / cells / (size_t)(d.n_bins ? d.n_bins : PAC_N_BINS))
        binned = (double *)malloc(cells * n_sig * (size_t)(d.n_bins ? d.n_bins : PAC_N_BINS) * sizeof(double));
    if ((o->pp_out && !pp) || (o->binamp_out && !binned)) { fail("%s", "out of memory for --pp-out or --binamp-out"); goto done; }
    if (!mi || !val || !map || !bad || (d.n_perm && (!z || !p || (o->pv_out && !pv)))) { fail("%s", "out of memory for the outputs"); goto done; }
    n_bad = find_bad_signals(x.data, dtype == TP_F32, n_sig, n_times, bad);
    if (xa.data) n_bad = find_bad_signals_too(xa.data, dtype == TP_F32, n_sig, n_times, bad);
    memset(&out, 0, sizeof out);
    out.pac = mi;
    out.norm = d.norm ? val : NULL;
    out.z = z;
    out.pvalues = pv;
    out.pp = pp;
    out.binned = binned;
    out.p = p;
    out.info = &info;
    d.progress = is_root() ? on_progress : NULL;
    d.user = &st;
    progress_begin(&st.bar, PROG);
    t0 = progress_now();
    if (measure_all(&d, &plan, x.data, dtype, n_sig, n_times, &out, &perr)) {
        progress_end(&st.bar);
        fail("%s", perr.message);
        goto done;
    }
    progress_end(&st.bar);
    if (!is_root()) { /* rank 0 writes */
        rc = 0;
        goto done;
    }
    secs = progress_now() - t0;
    blank_bad_signals(val, cells, n_sig, bad);
    blank_bad_signals(z, cells, n_sig, bad);
    blank_bad_signals(p, cells, n_sig, bad);
    if (save(w.out, val, n_amp, n_pha, n_sig) || save(w.z_out, z, n_amp, n_pha, n_sig) || save(w.p_out, p, n_amp, n_pha, n_sig) ||
        save2(w.pv_out, pv, n_amp, n_pha) || save(w.pp_out, pp, n_amp, n_pha, n_sig) ||
        save4(w.binamp_out, binned, (size_t)(d.n_bins ? d.n_bins : PAC_N_BINS), n_amp, n_pha, n_sig))
        goto done;
    for (i = 0; i < cells; i++) map[i] = finite_mean(val + i * n_sig, n_sig, 1, NULL);
    for (i = 1; i < cells; i++)
        if (map[i] > map[peak] || map[peak] != map[peak]) peak = i;
    if (w.png && write_png(&w, &d, map, pha, n_pha, amp, n_amp, peak)) goto done;
    if (ex_outputs_commit(&outs, err, sizeof err)) { fail("%s", err); goto done; }
    print_summary(&d, &plan, &info, map, peak, z, p, n_sig, n_times, secs);
    if (pv) {
        static const char *mcps[3] = {"maximum statistics", "FDR", "Bonferroni"};
        size_t signif = 0;
        for (i = 0; i < cells; i++) signif += pv[i] < 1.0;
        printf(PROG ": %zu of %zu cells significant at p < %g (%s over the cells, the signal-averaged measure)\n", signif, cells,
               d.p_threshold > 0 ? d.p_threshold : 0.05, mcps[d.mcp]);
    }
    rc = 0;
    if (n_bad) {
        report_bad_signals(bad, n_sig, n_bad);
        rc = 3;
    }
done:
    ex_outputs_free(&outs);
    if (val != mi) free(val);
    free(pha); free(amp); free(mi); free(z); free(p); free(pv); free(pp); free(binned); free(map); free(bad);
    npy_free(&x);
    npy_free(&xa);
    npy_free(&cuts);
    if (pool) tp_destroy(pool);
    return rc;
}

/* ---- the demo: an 80 Hz rhythm whose amplitude follows the phase of a 6 Hz one, in noise -------- */

static double gauss(unsigned long long *s)
{
    double u1, u2;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    u1 = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    u2 = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

/* The slow rhythm's phase drifts (a random walk, about 1 rad^2 per half second), as real rhythms
   do; the fast one's amplitude follows it; every signal has its own noise and drift. */
static double *demo_signal(size_t n_sig, size_t n, double fs)
{
    double *x = (double *)malloc(n_sig * n * sizeof(double)), pi = 3.14159265358979323846, step = 1.4 / sqrt(fs);
    unsigned long long seed = 2026;
    size_t s, t;
    if (!x) return NULL;
    for (s = 0; s < n_sig; s++) {
        double phase = 2 * pi * gauss(&seed);
        for (t = 0; t < n; t++) {
            double slow = sin(phase), tt = (double)t / fs;
            x[s * n + t] = slow + 0.4 * (1.0 + slow) * sin(2 * pi * 80.0 * tt) + 0.8 * gauss(&seed);
            phase += 2 * pi * 6.0 / fs + step * gauss(&seed);
        }
    }
    return x;
}

static int demo(const options *o)
{
    const char *dir = o->out ? o->out : "out"; /* with --demo, --out names the directory */
    size_t n_sig = 20, n = 2048, shape[2];
    double fs = 512, *x = demo_signal(n_sig, n, fs);
    char sig[512], mi[512], z[512], p[512], png[512], err[300];
    options r;
    int rc;
    if (!x) return fail("%s", "no memory for the demo signal");
    if (ex_mkdir_p(dir, err, sizeof err)) {
        free(x);
        return fail("%s", err);
    }
    snprintf(sig, sizeof sig, "%s/pac_signal.npy", dir);
    snprintf(mi, sizeof mi, "%s/pac_mi.npy", dir);
    snprintf(z, sizeof z, "%s/pac_z.npy", dir);
    snprintf(p, sizeof p, "%s/pac_p.npy", dir);
    snprintf(png, sizeof png, "%s/pac_comodulogram.png", dir);
    shape[0] = n_sig;
    shape[1] = n;
    rc = npy_write(sig, NPY_F8, 2, shape, x, err, sizeof err);
    free(x);
    if (rc) return fail("%s", err);
    printf("pac demo: %zu signals x %zu samples at %g Hz (6 Hz phase -> 80 Hz amplitude, in noise) written to %s\n", n_sig, n,
           fs, sig);
    r = *o;
    r.signal = sig;
    r.fs = fs;
    r.pha = "mres";
    r.amp = "mres";
    r.out = mi;
    r.z_out = z;
    r.p_out = p;
    r.png = png;
    r.n_perm = 100;
    r.seed = 1;
    r.surrogate = 0; /* swap-blocks */
    if (r.threads < 2) r.threads = 2;
    rc = run(&r);
    if (!rc) printf("pac demo: MI in %s, z in %s, p in %s, comodulogram in %s\n", mi, z, p, png);
    return rc;
}

static int run_program(int argc, char **argv)
{
    options o;
    int r;
    if (argc < 2) {
        if (is_root()) usage(stderr);
        return 2;
    }
    if ((r = parse_args(argc, argv, &o)) != 0) return r > 0 ? 0 : 2;
    if (o.demo) return demo(&o);
    return run(&o);
}

int main(int argc, char **argv)
{
#if defined(PAC_MPI)
    int rc, all;
    MPI_Init(&argc, &argv);
    rc = run_program(argc, argv);
    MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD); /* one exit status everywhere */
    MPI_Finalize();
    return all;
#else
    return run_program(argc, argv);
#endif
}
