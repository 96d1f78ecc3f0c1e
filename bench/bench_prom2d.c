/* bench_prom2d - prom2d.h on a 41 x 63 x N float64 posterior cube (C order, time fastest), made
   like the reference data (../shared/refdata/prom2d/scripts/gen_synthetic.py): per bin 2-3
   Gaussian bumps + 0.02 background + U[0, 0.01) noise, normalised to sum 1.

   bench_prom2d --mode exact|pypho|masks [--bins N] [--threads T] [--packed 0|1] [--conn 4|8]
                [--small-pages 1] [--save-first K FILE.npy]
       exact/pypho: peaks (counted by the callback, not kept) and masks for alphas 0.1, 0.5, 0.9;
       masks: masks only. --save-first writes the first K bins for the Python peer.
   Prints one line of key=value pairs; peak RSS includes the input cube and the mask output,
   beyond_io_mb is what remains without them. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#define TENSORPOOL_IMPLEMENTATION
#define PROM2D_IMPLEMENTATION
#include "../prom2d.h"
#include "../examples/common/npy.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng_s = 20240611u;
static double uniform(void) /* [0, 1) */
{
    rng_s ^= rng_s << 13; rng_s ^= rng_s >> 7; rng_s ^= rng_s << 17;
    return (double)(rng_s >> 11) * 0x1p-53;
}

/* Separable Gaussians: exp over x and over y, multiplied. */
static void make_cube(double *cube, size_t nx, size_t ny, size_t nt)
{
    double *z = (double *)malloc(nx * ny * sizeof(double)), gx[64], gy[64];
    size_t t, i, j;
    for (t = 0; t < nt; t++) {
        int k, nb = 2 + (int)(uniform() * 2);
        double sum = 0;
        for (i = 0; i < nx * ny; i++) z[i] = 0.02 + 0.01 * uniform();
        for (k = 0; k < nb; k++) {
            double cx = uniform() * (double)(nx - 1), cy = uniform() * (double)(ny - 1);
            double sx = 1.5 + 4.5 * uniform(), sy = 1.5 + 4.5 * uniform(), a = 0.3 + 0.7 * uniform();
            for (i = 0; i < nx; i++) gx[i] = a * exp(-0.5 * ((double)i - cx) * ((double)i - cx) / (sx * sx));
            for (j = 0; j < ny; j++) gy[j] = exp(-0.5 * ((double)j - cy) * ((double)j - cy) / (sy * sy));
            for (i = 0; i < nx; i++)
                for (j = 0; j < ny; j++) z[i * ny + j] += gx[i] * gy[j];
        }
        for (i = 0; i < nx * ny; i++) sum += z[i];
        for (i = 0; i < nx * ny; i++) cube[i * nt + t] = z[i] / sum;
    }
    free(z);
}

static int count_peaks(void *user, const p2d_slice *s)
{
    uint64_t *n = (uint64_t *)user;
    n[0] += s->n_peaks;
    if (s->n_peaks) n[1] ^= (uint64_t)(s->peaks[0].prominence * 1e12) + s->t; /* keep the work observable */
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = "exact", *save = NULL;
    size_t nx = 41, ny = 63, nt = 100000, save_k = 0, mask_bytes = 0, i;
    int threads = 1, packed = 1, conn = 8, small_pages = 0, periodic = 0, valleys = 0, geometry = 0;
    double widths[1] = {0.5};
    double holes = 0;
    tp_pool *io_pool;
    double alphas[3] = {0.1, 0.5, 0.9}, t0, t1, c0, c1, gen_s;
    double *cube;
    uint8_t *masks;
    uint64_t counted[2] = {0, 0};
    p2d_desc d;
    p2d_cube c;
    p2d_masks m;
    p2d_summary sum;
    p2d_ctx *ctx = NULL;
    tp_error err;
    tp_result r;
    struct rusage ru;
    for (i = 1; i < (size_t)argc; i++) {
        const char *a = argv[i], *v = i + 1 < (size_t)argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "bench_prom2d: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--mode")) mode = v;
        else if (!strcmp(a, "--bins")) nt = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--packed")) packed = atoi(v);
        else if (!strcmp(a, "--conn")) conn = atoi(v);
        else if (!strcmp(a, "--small-pages")) small_pages = atoi(v);
        else if (!strcmp(a, "--periodic")) periodic = atoi(v);
        else if (!strcmp(a, "--valleys")) valleys = atoi(v);
        else if (!strcmp(a, "--geometry")) geometry = atoi(v); /* 1 regions, 2 and a width, 3 and labels */
        else if (!strcmp(a, "--holes")) holes = atof(v);
        else if (!strcmp(a, "--save-first") && i + 2 < (size_t)argc) { save_k = (size_t)strtoull(v, NULL, 10); save = argv[i + 2]; i++; }
        else { fprintf(stderr, "bench_prom2d: unknown option %s\n", a); return 2; }
        i++;
    }
    if (periodic < 0 || periodic > 3 || !(holes >= 0 && holes < 1)) {
        fprintf(stderr, "bench_prom2d: --periodic is 0-3, --holes a fraction in [0, 1)\n");
        return 2;
    }
    /* the cube comes from a tensorpool, which asks for transparent huge pages on big blocks: a
       time-fastest cube puts each pixel's bins on another page, and 2 MiB pages spare the TLB
       (--small-pages 1 uses malloc) */
    tp_create(NULL, &io_pool, NULL);
    cube = small_pages ? (double *)malloc(nx * ny * nt * sizeof(double)) : (double *)tp_alloc(io_pool, nx * ny * nt * sizeof(double));
    if (!cube) { fprintf(stderr, "bench_prom2d: no memory for the cube\n"); return 1; }
    t0 = now();
    make_cube(cube, nx, ny, nt);
    if (holes > 0) { /* the same cells NaN in every bin: walls, unvisited places */
        unsigned long long s = 99;
        size_t x, t;
        for (x = 0; x < nx * ny; x++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            if ((double)(s >> 11) / 9007199254740992.0 < holes)
                for (t = 0; t < nt; t++) cube[x * nt + t] = NAN;
        }
    }
    gen_s = now() - t0;
    if (save) {
        size_t shape[3] = {nx, ny, save_k}, x;
        double *first = (double *)malloc(nx * ny * save_k * sizeof(double));
        char err[256];
        for (x = 0; x < nx * ny; x++) memcpy(first + x * save_k, cube + x * nt, save_k * sizeof(double));
        if (npy_write(save, NPY_F8, 3, shape, first, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
        free(first);
    }
    memset(&d, 0, sizeof d);
    d.mode = !strcmp(mode, "pypho") ? P2D_MODE_PYPHO : P2D_MODE_EXACT;
    d.connectivity = conn;
    d.alphas = alphas;
    d.n_alpha = 3;
    d.n_threads = threads;
    d.periodic = (p2d_periodic)periodic;
    d.valleys = valleys;
    d.geometry = geometry > 0;
    d.widths = widths;
    d.n_widths = geometry >= 2 ? 1 : 0;
    d.labels = geometry >= 3;
    d.on_slice = strcmp(mode, "masks") ? count_peaks : NULL;
    d.user = counted;
    p2d_masks_bytes(3, nx, ny, nt, packed, &mask_bytes, NULL);
    masks = (uint8_t *)malloc(mask_bytes);
    memset(&c, 0, sizeof c);
    c.data = cube; c.dtype = TP_F64; c.n_x = nx; c.n_y = ny; c.n_t = nt;
    memset(&m, 0, sizeof m);
    m.data = masks; m.packed = packed;
    if (p2d_create(&d, &ctx, &err) != TP_OK) { fprintf(stderr, "bench_prom2d: %s\n", err.message); return 1; }
    t0 = now(); c0 = cpu_now();
    r = p2d_run(ctx, &c, &m, NULL, &sum, &err);
    t1 = now(); c1 = cpu_now();
    if (r != TP_OK) { fprintf(stderr, "bench_prom2d: %s\n", err.message); return 1; }
    getrusage(RUSAGE_SELF, &ru);
    printf("bench=prom2d mode=%s%s%s%s%s bins=%zu threads=%d conn=%d packed=%d wall_s=%.3f cpu_s=%.3f us_per_bin=%.2f "
           "peaks=%llu mask_mb=%.1f scratch_kb=%.0f cube_mb=%.1f maxrss_mb=%.1f beyond_io_mb=%.1f gen_s=%.2f\n",
           mode, periodic ? (periodic == 3 ? "+periodic_xy" : periodic == 1 ? "+periodic_x" : "+periodic_y") : "",
           holes > 0 ? "+holes" : "", valleys ? "+valleys" : "",
           geometry == 1 ? "+geometry" : geometry == 2 ? "+geometry+width" : geometry >= 3 ? "+geometry+width+labels" : "", nt, threads, conn, packed, t1 - t0, c1 - c0, 1e6 * (t1 - t0) / (double)nt,
           (unsigned long long)counted[0], (double)mask_bytes / 1048576.0, (double)sum.scratch_bytes / 1024.0,
           (double)(nx * ny * nt * sizeof(double)) / 1048576.0, (double)ru.ru_maxrss / 1024.0,
           (double)ru.ru_maxrss / 1024.0 - (double)(nx * ny * nt * sizeof(double) + mask_bytes) / 1048576.0, gen_s);
    p2d_destroy(ctx);
    free(masks);
    if (small_pages) free(cube);
    tp_destroy(io_pool);
    return 0;
}
