/* bench_lnm - times the lesion network mapping pipeline (stat_stream.h), one process per row.

   build/bench_lnm --memory [--subjects S] [--t T] [--v V] [--seeds L] [--seed-voxels N] [--threads K]
                   [--precision f32|f64] [--policy strict|ldk|lacuna|ldk_single]
       subjects made in memory (4 distinct slabs, the reader copies one per subject: the cost of
       reading from the page cache without HDF5; with --view they are shown in place), ss_lnm over them
   build/bench_lnm --make-data DIR [--files F] [--gzip] ...   writes the connectome as F HDF5 files
   build/bench_lnm --input DIR ...                               ss_lnm over those files
   build/bench_lnm --read DIR                                    HDF5 read throughput only
   build/bench_lnm --evict DIR                                   DIR's files out of the page cache
   build/bench_lnm --cache DIR                                   ... and back in, read through memory
                                                                 maps asking for huge pages: the
                                                                 kernel then caches them in 2 MiB
                                                                 folios, which ss_h5_view maps with
                                                                 2 MiB pages (cat caches small ones)
   build/bench_lnm --gemm [--reps R] ...                         the products' kernel vs cblas_sgemm
   build/bench_lnm --features                                    hdf5=0|1 cblas=0|1 (what this build has)

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
#define BENCH_HAS_CBLAS 1
#else
#define BENCH_HAS_CBLAS 0
#endif
#if defined(STAT_STREAM_USE_HDF5)
#define BENCH_HAS_HDF5 1
#else
#define BENCH_HAS_HDF5 0
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* two independent N(0, 1) values (Box-Muller) */
static void gauss2(uint64_t *s, double *a, double *b)
{
    double u = ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0, v = (double)(splitmix(s) >> 11) / 9007199254740992.0;
    double m = sqrt(-2.0 * log(u));
    *a = m * cos(6.283185307179586 * v), *b = m * sin(6.283185307179586 * v);
}

static double gauss(uint64_t *s)
{
    double a, b;
    gauss2(s, &a, &b);
    return a;
}

/* subject k's n_t x n_v series */
static void make_subject(size_t k, size_t n_t, size_t n_v, float *ts)
{
    uint64_t s = 1000 + k * 7919;
    size_t t, v;
    for (t = 0; t < n_t; t++) {
        double shared = 0.5 * gauss(&s), a, b;
        float *row = ts + t * n_v;
        for (v = 0; v + 1 < n_v; v += 2) {
            gauss2(&s, &a, &b);
            row[v] = (float)(100.0 + shared + a), row[v + 1] = (float)(100.0 + shared + b);
        }
        if (v < n_v) row[v] = (float)(100.0 + shared + gauss(&s));
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

static tp_result mem_read(void *user, size_t k, float *ts, tp_error *err)
{
    mem_source *m = (mem_source *)user;
    (void)err;
    memcpy(ts, m->slabs[k % 4], m->n * sizeof(float));
    return TP_OK;
}

static const float *mem_view(void *user, size_t k, tp_error *err)
{
    (void)err;
    return ((mem_source *)user)->slabs[k % 4];
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

typedef struct opts {
    size_t S, T, V, L, nvox, files, reps;
    int threads, precision, policy, gzip, ahead, avg_r, view;
    const char *mode, *dir;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    int i;
    o->S = 100, o->T = 200, o->V = 50000, o->L = 20, o->nvox = 100, o->files = 10, o->reps = 5;
    o->threads = 1, o->precision = TP_F32, o->policy = SS_POLICY_LACUNA, o->gzip = 0, o->ahead = 0, o->avg_r = 0, o->view = 0;
    o->mode = NULL, o->dir = NULL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--memory") || !strcmp(a, "--gemm")) o->mode = a + 2;
        else if (!strcmp(a, "--gzip")) o->gzip = 1;
        else if (!strcmp(a, "--read-ahead")) o->ahead = 1;
        else if (!strcmp(a, "--avg-r")) o->avg_r = 1;
        else if (!strcmp(a, "--view")) o->view = 1;
        else if (!strcmp(a, "--make-data") || !strcmp(a, "--input") || !strcmp(a, "--read") || !strcmp(a, "--evict") || !strcmp(a, "--cache"))
            o->mode = a + 2, o->dir = v, i++;
        else if (!strcmp(a, "--subjects")) o->S = (size_t)atol(v), i++;
        else if (!strcmp(a, "--t")) o->T = (size_t)atol(v), i++;
        else if (!strcmp(a, "--v")) o->V = (size_t)atol(v), i++;
        else if (!strcmp(a, "--seeds")) o->L = (size_t)atol(v), i++;
        else if (!strcmp(a, "--seed-voxels")) o->nvox = (size_t)atol(v), i++;
        else if (!strcmp(a, "--files")) o->files = (size_t)atol(v), i++;
        else if (!strcmp(a, "--reps")) o->reps = (size_t)atol(v), i++;
        else if (!strcmp(a, "--threads")) o->threads = atoi(v), i++;
        else if (!strcmp(a, "--precision")) o->precision = strcmp(v, "f64") ? TP_F32 : TP_F64, i++;
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
static int run_lnm(const opts *o, ss_read_fn read, ss_view_fn view, void *user, const char *source)
{
    size_t lv = o->L * o->V, i;
    int64_t *vox = (int64_t *)malloc(o->L * o->nvox * sizeof(int64_t));
    size_t *off = (size_t *)malloc((o->L + 1) * sizeof(size_t));
    double *mz = (double *)malloc(lv * sizeof(double)), sum = 0, w0, c0, wall, cpu, gflop;
    ss_seeds seeds = TP_DEFAULTS;
    ss_lnm_desc d;
    ss_lnm_maps maps;
    tp_stats st;
    tp_pool *pool = NULL;
    tp_create(NULL, &pool, NULL);
    tp_error err;
    tp_result r;
    if (!vox || !off || !mz || !pool) return 1;
    make_seeds(o->L, o->nvox, o->V, vox, off);
    seeds.n_seeds = o->L, seeds.voxels = vox, seeds.offsets = off;
    memset(&d, 0, sizeof d);
    memset(&maps, 0, sizeof maps);
    d.pool = pool, d.n_subjects = o->S, d.n_t = o->T, d.n_v = o->V, d.read = read, d.view = view, d.source_user = user;
    d.seeds = &seeds, d.policy = (ss_policy)o->policy, d.precision = (tp_dtype)o->precision, d.n_threads = o->threads;
    d.skip_avg_r = !o->avg_r, d.read_ahead = o->ahead;
    maps.mean_z = mz;
    if (o->avg_r && !(maps.avg_r = (double *)malloc(lv * sizeof(double)))) return 1;
    w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    r = ss_lnm(&d, &maps, NULL, &err);
    wall = seconds(CLOCK_MONOTONIC) - w0, cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (r != TP_OK) {
        fprintf(stderr, "bench_lnm: %s\n", err.message);
        return 1;
    }
    for (i = 0; i < lv; i++) sum += mz[i];
    st = tp_get_stats(pool);
    gflop = 2.0 * (double)o->L * (double)o->S * (double)o->T * (double)o->V * 1e-9;
    printf("bench=lnm source=%s subjects=%zu t=%zu v=%zu seeds=%zu precision=%s threads=%d read_ahead=%d avg_r=%d wall_s=%.3f cpu_s=%.3f "
           "ms_per_subject=%.2f gemm_equiv_gflops=%.1f maxrss_mb=%.1f pool_peak_mb=%.1f checksum_mean_z=%.10g\n",
           source, o->S, o->T, o->V, o->L, o->precision == TP_F32 ? "f32" : "f64", o->threads, o->ahead, o->avg_r, wall, cpu,
           1e3 * wall / (double)o->S, gflop / wall, peak_rss_mb(), (double)st.peak_requested / 1048576.0, sum);
    tp_destroy(pool);
    free(vox), free(off), free(mz), free(maps.avg_r);
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
    rc = o->view ? run_lnm(o, NULL, mem_view, &m, "memory_in_place") : run_lnm(o, mem_read, NULL, &m, "memory_copied");
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
                /* each block is T x nb floats in the layout ss_seedcorr hands each kernel */
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

#if defined(STAT_STREAM_USE_HDF5)
/* One file of n subjects (from subject k0 on) in the ldk layout, contiguous or gzip-1 chunks of one subject */
static int write_file(const char *path, const opts *o, size_t k0, size_t n, float *slab)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), s, d, p, ms, a;
    hsize_t dims[3], one[3], start[3] = {0, 0, 0}, mdims[2], adims[2] = {4, 4}, three = 3;
    int64_t *mask = (int64_t *)malloc(3 * o->V * sizeof(int64_t)), shape[3] = {91, 109, 91};
    double aff[16] = {-2, 0, 0, 90, 0, 2, 0, -126, 0, 0, 2, -72, 0, 0, 0, 1};
    size_t i;
    int rc = 0;
    if (f < 0 || !mask) return 1;
    dims[0] = n, dims[1] = o->T, dims[2] = o->V;
    one[0] = 1, one[1] = o->T, one[2] = o->V;
    s = H5Screate_simple(3, dims, NULL);
    p = H5Pcreate(H5P_DATASET_CREATE);
    if (o->gzip) H5Pset_chunk(p, 3, one), H5Pset_deflate(p, 1);
    d = H5Dcreate2(f, "/timeseries", H5T_NATIVE_FLOAT, s, H5P_DEFAULT, p, H5P_DEFAULT);
    ms = H5Screate_simple(3, one, NULL);
    for (i = 0; i < n && d >= 0; i++) {
        make_subject(k0 + i, o->T, o->V, slab);
        start[0] = i;
        H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, one, NULL);
        if (H5Dwrite(d, H5T_NATIVE_FLOAT, ms, s, H5P_DEFAULT, slab) < 0) rc = 1;
    }
    H5Sclose(ms), H5Dclose(d), H5Pclose(p), H5Sclose(s);
    for (i = 0; i < o->V; i++) mask[i] = (int64_t)(i % 91), mask[o->V + i] = (int64_t)(i / 91 % 109), mask[2 * o->V + i] = (int64_t)(i / 9919);
    mdims[0] = 3, mdims[1] = o->V;
    s = H5Screate_simple(2, mdims, NULL);
    d = H5Dcreate2(f, "/mask_indices", H5T_NATIVE_INT64, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, mask);
    H5Dclose(d), H5Sclose(s);
    s = H5Screate_simple(2, adims, NULL);
    d = H5Dcreate2(f, "/mask_affine", H5T_NATIVE_DOUBLE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, aff);
    H5Dclose(d), H5Sclose(s);
    s = H5Screate_simple(1, &three, NULL);
    a = H5Acreate2(f, "mask_shape", H5T_NATIVE_INT64, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, shape);
    H5Aclose(a), H5Sclose(s);
    if (H5Fclose(f) < 0) rc = 1;
    free(mask);
    return rc;
}

/* the files, and lesions.txt (one line of voxel positions per lesion) for the peers */
static int make_data(const opts *o)
{
    size_t per = o->S / o->files, i, l;
    float *slab = (float *)malloc(o->T * o->V * sizeof(float));
    int64_t *vox = (int64_t *)malloc(o->L * o->nvox * sizeof(int64_t));
    size_t *off = (size_t *)malloc((o->L + 1) * sizeof(size_t));
    char path[4096];
    FILE *f;
    if (!slab || !vox || !off || !per || o->S % o->files) return fprintf(stderr, "bench_lnm: subjects must be a multiple of files\n"), 2;
    mkdir(o->dir, 0755);
    for (i = 0; i < o->files; i++) {
        snprintf(path, sizeof path, "%s/batch_%03zu.h5", o->dir, i);
        if (write_file(path, o, i * per, per, slab)) return fprintf(stderr, "bench_lnm: cannot write %s\n", path), 1;
        fprintf(stderr, "\rbench_lnm: wrote %zu of %zu files", i + 1, o->files);
    }
    fprintf(stderr, "\n");
    make_seeds(o->L, o->nvox, o->V, vox, off);
    snprintf(path, sizeof path, "%s/lesions.txt", o->dir);
    if (!(f = fopen(path, "w"))) return 1;
    for (l = 0; l < o->L; l++)
        for (i = off[l]; i < off[l + 1]; i++) fprintf(f, "%lld%c", (long long)vox[i], i + 1 < off[l + 1] ? ' ' : '\n');
    fclose(f);
    free(slab), free(vox), free(off);
    return 0;
}

static int input_mode(opts *o)
{
    ss_h5 *c = NULL;
    ss_h5_desc hd;
    tp_error err;
    int rc;
    memset(&hd, 0, sizeof hd);
    hd.path = o->dir;
    if (ss_h5_create(&hd, &c, &err) != TP_OK) return fprintf(stderr, "bench_lnm: %s\n", err.message), 1;
    o->S = ss_h5_subjects(c), o->T = ss_h5_timepoints(c), o->V = ss_h5_voxels(c);
    if (o->view) rc = run_lnm(o, NULL, ss_h5_view, c, ss_h5_mapped(c) ? "hdf5_mapped" : "hdf5_view_read");
    else rc = run_lnm(o, ss_h5_read, NULL, c, "hdf5");
    ss_h5_destroy(c);
    return rc;
}

/* reading alone: every subject into one slab */
static int read_mode(const opts *o)
{
    ss_h5 *c = NULL;
    ss_h5_desc hd;
    tp_error err;
    size_t k, n, bytes;
    float *slab;
    double w0, c0, wall, cpu;
    memset(&hd, 0, sizeof hd);
    hd.path = o->dir;
    if (ss_h5_create(&hd, &c, &err) != TP_OK) return fprintf(stderr, "bench_lnm: %s\n", err.message), 1;
    n = ss_h5_subjects(c), bytes = ss_h5_timepoints(c) * ss_h5_voxels(c) * sizeof(float);
    if (!(slab = (float *)malloc(bytes))) return 1;
    w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (k = 0; k < n; k++)
        if (ss_h5_read(c, k, slab, &err) != TP_OK) return fprintf(stderr, "bench_lnm: %s\n", err.message), 1;
    wall = seconds(CLOCK_MONOTONIC) - w0, cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    printf("bench=lnm_read dir=%s subjects=%zu mb=%.0f wall_s=%.3f cpu_s=%.3f mb_per_s=%.0f ms_per_subject=%.2f maxrss_mb=%.1f\n", o->dir, n,
           (double)(n * bytes) / 1e6, wall, cpu, (double)(n * bytes) / 1e6 / wall, 1e3 * wall / (double)n, peak_rss_mb());
    free(slab);
    ss_h5_destroy(c);
    return 0;
}
#endif

/* --evict / --cache: every regular file in o->dir out of the page cache, and with cache back in
   through a MADV_HUGEPAGE mapping (one read per 4 KiB page) */
static int cache_mode(const opts *o, int fill)
{
    DIR *dir = opendir(o->dir);
    struct dirent *e;
    char path[4096];
    size_t files = 0, bytes = 0;
    volatile unsigned char sink = 0;
    double w0 = seconds(CLOCK_MONOTONIC);
    if (!dir) return fprintf(stderr, "bench_lnm: cannot open %s\n", o->dir), 1;
    while ((e = readdir(dir))) {
        struct stat st;
        unsigned char *m;
        size_t i;
        int fd;
        snprintf(path, sizeof path, "%s/%s", o->dir, e->d_name);
        if (stat(path, &st) || !S_ISREG(st.st_mode) || !st.st_size || (fd = open(path, O_RDONLY)) < 0) continue;
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        if (fill && (m = (unsigned char *)mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) != MAP_FAILED) {
#if defined(MADV_HUGEPAGE)
            madvise(m, (size_t)st.st_size, MADV_HUGEPAGE);
#endif
            for (i = 0; i < (size_t)st.st_size; i += 4096) sink ^= m[i];
            munmap(m, (size_t)st.st_size);
        }
        close(fd);
        files++, bytes += (size_t)st.st_size;
    }
    closedir(dir);
    printf("bench=lnm_%s dir=%s files=%zu mb=%.0f wall_s=%.3f\n", fill ? "cache" : "evict", o->dir, files, (double)bytes / 1e6,
           seconds(CLOCK_MONOTONIC) - w0);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (argc == 2 && !strcmp(argv[1], "--features")) {
        printf("hdf5=%d cblas=%d\n", BENCH_HAS_HDF5, BENCH_HAS_CBLAS);
        return 0;
    }
    if (!parse(argc, argv, &o)) return 2;
    if (!strcmp(o.mode, "memory")) return memory_mode(&o);
    if (!strcmp(o.mode, "gemm")) return gemm_mode(&o);
    if (!strcmp(o.mode, "evict") || !strcmp(o.mode, "cache")) return cache_mode(&o, o.mode[0] == 'c');
#if defined(STAT_STREAM_USE_HDF5)
    if (!strcmp(o.mode, "make-data")) return make_data(&o);
    if (!strcmp(o.mode, "input")) return input_mode(&o);
    if (!strcmp(o.mode, "read")) return read_mode(&o);
#endif
    fprintf(stderr, "bench_lnm: --%s needs a build with HDF5\n", o.mode);
    return 2;
}
