/* bench_lnm - times the lesion network mapping pipeline (stat_stream.h), one process per row.

   build/bench_lnm --memory [--subjects S] [--t T] [--v V] [--seeds L] [--seed-voxels N] [--threads K]
                   [--precision f32|f64] [--policy strict|ldk|lacuna|ldk_single]
       subjects made in memory (4 distinct slabs, the reader copies one per subject: the cost of
       reading from the page cache without HDF5), ss_lnm over them
   build/bench_lnm --make-data DIR [--files F] [--gzip] ...   writes the connectome as F HDF5 files
   build/bench_lnm --input DIR ...                               ss_lnm over those files
   build/bench_lnm --read DIR                                    HDF5 read throughput only
   build/bench_lnm --gemm [--reps R] ...                         the products' kernel vs cblas_sgemm

   Data (all modes): per subject, per time point a shared signal s_t ~ N(0, 0.25), per voxel
   N(0, 1) noise, plus 100 (fMRI-like offset): the same recipe as the reference study's bench.
   Seeds: L lesions of N distinct random voxels each. Prints one key=value line.
*/
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#define TENSORPOOL_IMPLEMENTATION
#define STAT_STREAM_IMPLEMENTATION
#include "../stat_stream.h"

#if defined(BENCH_CBLAS)
#include <cblas.h>
#endif
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

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double gauss(uint64_t *s)
{
    double u = ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0, v = (double)(splitmix(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* subject k's n_t x n_v series */
static void make_subject(size_t k, size_t n_t, size_t n_v, float *ts)
{
    uint64_t s = 1000 + k * 7919;
    size_t t, v;
    for (t = 0; t < n_t; t++) {
        double shared = 0.5 * gauss(&s);
        for (v = 0; v < n_v; v++) ts[t * n_v + v] = (float)(100.0 + shared + gauss(&s));
    }
}

/* L lesions of nvox distinct voxels (sorted) */
static void make_seeds(size_t L, size_t nvox, size_t n_v, int64_t *vox, size_t *off)
{
    uint64_t s = 7;
    size_t l, i, j;
    for (l = 0; l <= L; l++) off[l] = l * nvox;
    for (l = 0; l < L; l++) {
        int64_t *p = vox + l * nvox;
        for (i = 0; i < nvox; i++) {
            int64_t c;
            do {
                c = (int64_t)(splitmix(&s) % n_v);
                for (j = 0; j < i && p[j] != c; j++) continue;
            } while (j < i);
            for (j = i; j > 0 && p[j - 1] > c; j--) p[j] = p[j - 1];
            p[j] = c;
        }
    }
}

typedef struct mem_source {
    float *slabs[4];
    size_t n;
} mem_source;

static int mem_read(void *user, size_t k, float *ts, char *err, size_t cap)
{
    mem_source *m = (mem_source *)user;
    (void)err, (void)cap;
    memcpy(ts, m->slabs[k % 4], m->n * sizeof(float));
    return 0;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

typedef struct opts {
    size_t S, T, V, L, nvox, files, reps;
    int threads, precision, policy, gzip;
    const char *mode, *dir;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    int i;
    o->S = 100, o->T = 200, o->V = 50000, o->L = 20, o->nvox = 100, o->files = 10, o->reps = 5;
    o->threads = 1, o->precision = SS_F32, o->policy = SS_POLICY_LACUNA, o->gzip = 0;
    o->mode = NULL, o->dir = NULL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--memory") || !strcmp(a, "--gemm")) o->mode = a + 2;
        else if (!strcmp(a, "--gzip")) o->gzip = 1;
        else if (!strcmp(a, "--make-data") || !strcmp(a, "--input") || !strcmp(a, "--read")) o->mode = a + 2, o->dir = v, i++;
        else if (!strcmp(a, "--subjects")) o->S = (size_t)atol(v), i++;
        else if (!strcmp(a, "--t")) o->T = (size_t)atol(v), i++;
        else if (!strcmp(a, "--v")) o->V = (size_t)atol(v), i++;
        else if (!strcmp(a, "--seeds")) o->L = (size_t)atol(v), i++;
        else if (!strcmp(a, "--seed-voxels")) o->nvox = (size_t)atol(v), i++;
        else if (!strcmp(a, "--files")) o->files = (size_t)atol(v), i++;
        else if (!strcmp(a, "--reps")) o->reps = (size_t)atol(v), i++;
        else if (!strcmp(a, "--threads")) o->threads = atoi(v), i++;
        else if (!strcmp(a, "--precision")) o->precision = strcmp(v, "f64") ? SS_F32 : SS_F64, i++;
        else if (!strcmp(a, "--policy")) {
            o->policy = !strcmp(v, "strict") ? SS_POLICY_STRICT : !strcmp(v, "ldk") ? SS_POLICY_LDK
                      : !strcmp(v, "ldk_single") ? SS_POLICY_LDK_SINGLE : SS_POLICY_LACUNA;
            i++;
        } else {
            fprintf(stderr, "bench_lnm: unknown option %s\n", a);
            return 0;
        }
    }
    if (!o->mode) fprintf(stderr, "bench_lnm: give --memory, --gemm, --make-data, --input or --read\n");
    return o->mode != NULL && o->V >= o->nvox;
}

/* ss_lnm over a reader; prints the line */
static int run_lnm(const opts *o, ss_subject_fn read, void *user, const char *source)
{
    size_t lv = o->L * o->V, i;
    int64_t *vox = (int64_t *)malloc(o->L * o->nvox * sizeof(int64_t));
    size_t *off = (size_t *)malloc((o->L + 1) * sizeof(size_t));
    double *mz = (double *)malloc(lv * sizeof(double)), sum = 0, w0, c0, wall, cpu, gflop;
    ss_seeds seeds;
    ss_lnm_desc d;
    ss_lnm_maps maps;
    tp_stats st;
    tp_pool *pool = tp_create(NULL, NULL);
    char err[300];
    ss_result r;
    if (!vox || !off || !mz || !pool) return 1;
    make_seeds(o->L, o->nvox, o->V, vox, off);
    seeds.n_seeds = o->L, seeds.voxels = vox, seeds.offsets = off;
    memset(&d, 0, sizeof d);
    memset(&maps, 0, sizeof maps);
    d.pool = pool, d.n_subjects = o->S, d.n_t = o->T, d.n_v = o->V, d.read = read, d.read_user = user;
    d.seeds = &seeds, d.policy = o->policy, d.precision = o->precision, d.n_threads = o->threads, d.skip_avg_r = 1;
    maps.mean_z = mz;
    w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    r = ss_lnm(&d, &maps, NULL, err, sizeof err);
    wall = seconds(CLOCK_MONOTONIC) - w0, cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (r != SS_OK) {
        fprintf(stderr, "bench_lnm: %s\n", err);
        return 1;
    }
    for (i = 0; i < lv; i++) sum += mz[i];
    st = tp_get_stats(pool);
    gflop = 2.0 * (double)o->L * (double)o->S * (double)o->T * (double)o->V * 1e-9;
    printf("bench=lnm source=%s subjects=%zu t=%zu v=%zu seeds=%zu precision=%s threads=%d wall_s=%.3f cpu_s=%.3f "
           "ms_per_subject=%.2f gemm_equiv_gflops=%.1f maxrss_mb=%.1f pool_peak_mb=%.1f checksum_mean_z=%.10g\n",
           source, o->S, o->T, o->V, o->L, o->precision == SS_F32 ? "f32" : "f64", o->threads, wall, cpu,
           1e3 * wall / (double)o->S, gflop / wall, peak_rss_mb(), (double)st.peak_requested / 1048576.0, sum);
    tp_destroy(pool);
    free(vox), free(off), free(mz);
    return 0;
}

static int memory_mode(const opts *o)
{
    mem_source m;
    size_t i;
    int rc;
    m.n = o->T * o->V;
    for (i = 0; i < 4; i++) {
        if (!(m.slabs[i] = (float *)malloc(m.n * sizeof(float)))) return 1;
        make_subject(i, o->T, o->V, m.slabs[i]);
    }
    rc = run_lnm(o, mem_read, &m, "memory");
    for (i = 0; i < 4; i++) free(m.slabs[i]);
    return rc;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* the products alone: L x T times T x B blocks over V voxels, the built-in kernel and cblas */
static int gemm_mode(const opts *o)
{
    size_t B = SS__BLOCK, n = o->T * o->V, i, rep, v0;
    float *a = (float *)malloc(o->L * o->T * sizeof(float)), *x = (float *)malloc(n * sizeof(float));
    float *c = (float *)malloc(o->L * o->V * sizeof(float));
    double best[2] = {1e30, 1e30}, flop = 2.0 * (double)o->L * (double)o->T * (double)o->V, t[64];
    uint64_t s = 3;
    int k;
    ss__kernels kern = ss__pick_kernels();
    if (!a || !x || !c) return 1;
    for (i = 0; i < o->L * o->T; i++) a[i] = (float)gauss(&s);
    for (i = 0; i < n; i++) x[i] = (float)gauss(&s);
    for (k = 0; k < 2; k++) {
#if !defined(BENCH_CBLAS)
        if (k == 1) break;
#endif
        for (rep = 0; rep < o->reps && rep < 64; rep++) {
            double w = seconds(CLOCK_MONOTONIC);
            for (v0 = 0; v0 < o->V; v0 += B) {
                size_t nb = o->V - v0 < B ? o->V - v0 : B;
                /* the block copied as ss_seedcorr stores it (T x nb, dense) is not timed here: x is
                   used in place with its row stride through a T x nb copy made once per block */
                if (k == 0) kern.gemm32(o->L, nb, o->T, a, x + v0 * o->T, c + o->L * v0);
#if defined(BENCH_CBLAS)
                else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)o->L, (int)nb, (int)o->T, 1.0f, a,
                                 (int)o->T, x + v0 * o->T, (int)nb, 0.0f, c + o->L * v0, (int)nb);
#endif
            }
            t[rep] = seconds(CLOCK_MONOTONIC) - w;
        }
        qsort(t, rep, sizeof(double), by_value);
        best[k] = t[rep / 2];
    }
    printf("bench=lnm_gemm l=%zu t=%zu v=%zu block=%zu builtin_ms=%.2f builtin_gflops=%.1f", o->L, o->T, o->V, B,
           1e3 * best[0], flop / best[0] * 1e-9);
#if defined(BENCH_CBLAS)
    {   /* and one cblas_sgemm over the whole L x T x V product, the shape without blocks */
        for (rep = 0; rep < o->reps && rep < 64; rep++) {
            double w = seconds(CLOCK_MONOTONIC);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)o->L, (int)o->V, (int)o->T, 1.0f, a, (int)o->T,
                        x, (int)o->V, 0.0f, c, (int)o->V);
            t[rep] = seconds(CLOCK_MONOTONIC) - w;
        }
        qsort(t, rep, sizeof(double), by_value);
        printf(" cblas_blocks_ms=%.2f cblas_blocks_gflops=%.1f cblas_whole_ms=%.2f cblas_whole_gflops=%.1f fraction=%.2f",
               1e3 * best[1], flop / best[1] * 1e-9, 1e3 * t[rep / 2], flop / t[rep / 2] * 1e-9, t[rep / 2] / best[0]);
    }
#endif
    printf("\n");
    free(a), free(x), free(c);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (!parse(argc, argv, &o)) return 2;
    if (!strcmp(o.mode, "memory")) return memory_mode(&o);
    if (!strcmp(o.mode, "gemm")) return gemm_mode(&o);
    fprintf(stderr, "bench_lnm: --%s needs a build with HDF5\n", o.mode);
    return 2;
}
