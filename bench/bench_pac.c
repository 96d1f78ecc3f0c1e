/* bench_pac - times pac_run on one configuration, one process per configuration (for peak RSS).

   build/bench_pac --input x.npy [--n-perm N] [--threads T] [--mi tort|tensorpac]
                   [--compare mi.npy] [--reps R] [--budget-mb M] [--bands-per-pass B] [--precision f32|f64]
                   [--backend cpu|cuda]   (cuda: build/bench_pac_cuda, made by nvcc with PACGPU_USE_CUDA)
   build/bench_pac --synthetic SIGNALS,SAMPLES [--bands PRESET] ...   [--save x.npy: write the input, stop]

   Prints one key=value line: median and best wall seconds, CPU seconds of the median run, peak
   RSS, the plan (workers, amplitude bands per pass, work bytes) and, with --compare, the largest
   relative difference from another MI cube (tensorpac's); with --backend cuda also the medians
   of the device's times by CUDA events (pac_output.info->device: phases, amplitudes, cells, whole, in
   ms; allocation and FFT planning excluded), its memory, chunk and cell kernel. The band presets
   are tensorpac's.
*/
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#define TENSORPOOL_IMPLEMENTATION
#define PACGPU_IMPLEMENTATION
#include "../pacgpu.h"
#include "../examples/common/npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double seconds(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, size_t n)
{
    double sorted[64];
    memcpy(sorted, v, n * sizeof *v);
    qsort(sorted, n, sizeof *v, by_value);
    return sorted[(n - 1) / 2];
}

/* white noise with a 6 Hz -> 80 Hz coupled component, deterministic */
static double *synthetic(size_t n_sig, size_t n)
{
    double *x = (double *)malloc(n_sig * n * sizeof(double)), pi = 3.14159265358979323846;
    unsigned long long s = 7;
    size_t i;
    if (!x) return NULL;
    for (i = 0; i < n_sig * n; i++) {
        double t = (double)(i % n) / 512.0, slow = sin(2 * pi * 6 * t + (double)(i / n));
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = slow + 0.4 * (1 + slow) * sin(2 * pi * 80 * t) + ((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    return x;
}

int main(int argc, char **argv)
{
    pac_backend backend = PAC_BACKEND_CPU;
    const char *input = NULL, *compare = NULL, *preset = "mres", *save = NULL;
    size_t n_sig = 0, n = 0, n_perm = 0, reps = 3, r, cells, nb, per_pass = 0;
    int threads = 1, i, f32 = 0, measure = 0, epochs = 0;
    static const char *measure_names[7] = {"mi", "mvl", "mi", "hr", "ndpac", "plv", "gcpac"};
    pac_mi method = PAC_MI_TENSORPAC;
    double budget_mb = 0, *x = NULL, *mi, *z = NULL, walls[64], cpus[64], wall_med, wall_best, bands[2][200], worst = 0;
    double dev[4][64];
    pac_run_info info;
    char dev_line[240] = "";
    npy_array in, ref;
    pac_desc d;
    pac_plan_info plan;
    pac_output out;
    tp_desc pd;
    tp_pool *pool;
    struct rusage ru;
    char err[300], diff[32];
    tp_error perr;
    memset(&in, 0, sizeof in);
    for (i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--input")) input = v;
        else if (!strcmp(a, "--synthetic")) { if (sscanf(v, "%zu,%zu", &n_sig, &n) != 2) return 2; }
        else if (!strcmp(a, "--n-perm")) n_perm = (size_t)atol(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--measure")) measure = atoi(v) >= 1 && atoi(v) <= 6 ? atoi(v) : 0;
        else if (!strcmp(a, "--surrogate")) epochs = !strcmp(v, "swap-epochs");
        else if (!strcmp(a, "--mi")) method = strcmp(v, "tort") ? PAC_MI_TENSORPAC : PAC_MI_TORT;
        else if (!strcmp(a, "--compare")) compare = v;
        else if (!strcmp(a, "--reps")) reps = (size_t)atol(v);
        else if (!strcmp(a, "--budget-mb")) budget_mb = atof(v);
        else if (!strcmp(a, "--bands")) preset = v;
        else if (!strcmp(a, "--save")) save = v;
        else if (!strcmp(a, "--precision")) f32 = !strcmp(v, "f32");
        else if (!strcmp(a, "--bands-per-pass")) per_pass = (size_t)atol(v);
        else if (!strcmp(a, "--backend")) backend = !strcmp(v, "cuda") ? PAC_BACKEND_CUDA : PAC_BACKEND_CPU;
        else { fprintf(stderr, "bench_pac: unknown option %s\n", a); return 2; }
    }
    if (reps < 1 || reps > 64) return 2;
    if (input) {
        if (npy_map_read(input, &in, err, sizeof err) || in.dtype != NPY_F8 || in.ndim != 2) {
            fprintf(stderr, "bench_pac: %s: want float64 (n_signals, n_times)\n", input);
            return 1;
        }
        n_sig = in.shape[0];
        n = in.shape[1];
        x = (double *)in.data;
    } else if (!n_sig || !(x = synthetic(n_sig, n))) {
        fprintf(stderr, "bench_pac: --input or --synthetic SIGNALS,SAMPLES\n");
        return 2;
    }
    if (save) { /* write the synthetic input for another program and stop */
        size_t shape[2];
        shape[0] = n_sig;
        shape[1] = n;
        if (npy_write(save, NPY_F8, 2, shape, x, err, sizeof err)) { fprintf(stderr, "bench_pac: %s\n", err); return 1; }
        return 0;
    }
    if (pac_band_preset(preset, PAC_PHASE, bands[0], &nb, &perr) != TP_OK ||
        pac_band_preset(preset, PAC_AMPLITUDE, bands[1], &nb, &perr) != TP_OK) {
        fprintf(stderr, "bench_pac: %s\n", perr.message);
        return 2;
    }
    memset(&pd, 0, sizeof pd);
    pd.budget_bytes = (size_t)(budget_mb * 1048576.0);
    tp_create(&pd, &pool, NULL);
    memset(&d, 0, sizeof d);
    d.pool = pool;
    d.fs = 512;
    d.pha_bands = bands[0];
    d.amp_bands = bands[1];
    d.n_pha = d.n_amp = nb;
    d.method = method;
    d.measure = (pac_measure)measure;
    d.n_threads = threads;
    d.precision = f32 ? TP_F32 : TP_F64;
    d.backend = backend;
    if (n_perm) {
        d.surrogates = epochs ? PAC_SURR_SWAP_EPOCHS : PAC_SURR_SWAP_BLOCKS;
        d.n_perm = n_perm;
    }
    cells = nb * nb * n_sig;
    mi = (double *)malloc(cells * sizeof(double));
    if (n_perm) z = (double *)malloc(cells * sizeof(double));
    memset(&out, 0, sizeof out);
    out.pac = mi;
    out.z = z;
    memset(&info, 0, sizeof info);
    out.info = &info;
    if (pac_plan(&d, n_sig, n, 0, &plan, &perr) != TP_OK) {
        fprintf(stderr, "bench_pac: %s\n", perr.message);
        return 1;
    }
    if (per_pass) plan.amp_bands_per_pass = per_pass;
    for (r = 0; r < reps; r++) {
        double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
        if (pac_run(&d, x, TP_F64, n_sig, n, &plan, &out, &perr) != TP_OK) {
            fprintf(stderr, "bench_pac: %s\n", perr.message);
            return 1;
        }
        walls[r] = seconds(CLOCK_MONOTONIC) - w0;
        cpus[r] = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
        for (i = 0; i < 4; i++) dev[i][r] = info.device.ms[i];
    }
    if (backend == PAC_BACKEND_CUDA)
        snprintf(dev_line, sizeof dev_line,
                 " device_phases_ms=%.3f device_amps_ms=%.3f device_cells_ms=%.3f device_ms=%.3f device_mb=%.1f chunk=%zu cells=%s",
                 median(dev[0], reps), median(dev[1], reps), median(dev[2], reps), median(dev[3], reps),
                 (double)info.device.bytes / 1048576.0, info.device.chunk,
                 info.device.runs_kernel == 1 ? "runs" : info.device.runs_kernel == 2 ? "runs1" : "columns");
    wall_med = median(walls, reps);
    for (wall_best = walls[0], r = 1; r < reps; r++) wall_best = walls[r] < wall_best ? walls[r] : wall_best;
    if (compare) {
        double *v;
        size_t k;
        if (npy_read_f64(compare, &ref, &v, err, sizeof err) || ref.ndim != 3 || ref.shape[0] * ref.shape[1] * ref.shape[2] != cells) {
            fprintf(stderr, "bench_pac: %s: not an MI cube of this shape\n", compare);
            return 1;
        }
        for (k = 0; k < cells; k++) {
            double dd = fabs(mi[k] - v[k]) / fabs(v[k]);
            worst = dd > worst ? dd : worst;
        }
        npy_free(&ref);
        free(v);
    }
    if (compare) snprintf(diff, sizeof diff, "%.2g", worst);
    else snprintf(diff, sizeof diff, "-");
    getrusage(RUSAGE_SELF, &ru);
    for (r = 0; r < reps && walls[r] != wall_med; r++) {}
    printf("bench=pac backend=%s measure=%s surrogates=%s signals=%zu samples=%zu bands=%zux%zu mi=%s precision=%s n_perm=%zu threads=%zu bands_per_pass=%zu keep_bins=%d "
           "wall_s=%.3f best_s=%.3f cpu_s=%.3f work_mb=%.1f maxrss_mb=%.1f input_mb=%.1f max_rel_diff=%s%s\n",
           backend == PAC_BACKEND_CUDA ? "cuda" : "cpu", measure_names[measure], !n_perm ? "none" : epochs ? "swap-epochs" : "swap-blocks", n_sig, n, nb, nb, method == PAC_MI_TORT ? "tort" : "tensorpac", f32 ? "f32" : "f64", n_perm, plan.n_threads, plan.amp_bands_per_pass,
           plan.keep_phase_bins, wall_med, wall_best, cpus[r < reps ? r : 0],
           (double)plan.bytes / 1048576.0, (double)ru.ru_maxrss / 1024.0, (double)(n_sig * n * sizeof(double)) / 1048576.0,
           diff, dev_line);
    tp_destroy(pool);
    free(mi);
    free(z);
    if (input) npy_free(&in);
    else free(x);
    return 0;
}
