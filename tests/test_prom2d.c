/* Tests of prom2d.h: both modes against the peers' outputs (tests/data/prom2d, converted from
   ../shared/refdata/prom2d by tools/gen_prom2d_golden.py), against brute-force implementations of
   the definitions on small random grids full of ties, edge cases, layouts, threads, memory and
   bad input. Run from the repository root. */
#include "thread_faults.h"
#define TENSORPOOL_IMPLEMENTATION
#define PROM2D_IMPLEMENTATION
#include "../prom2d.h"
#include "testkit.h"
#include "testlog.h"
#include "testdata.h"

#include <stdint.h>

#define DATA "tests/data/prom2d/"

/* ---- helpers ------------------------------------------------------------------------------- */

/* Every peak of a run, in order, with its bin; and each bin's slice info. */
typedef struct collected {
    p2d_peak *peaks;
    size_t *bin_of;
    size_t n, cap;
    p2d_slice *slices; /* n_t entries, peaks pointer cleared */
    size_t *first;     /* index of each bin's first peak */
    size_t n_t;
    size_t cancel_at;  /* cancel when this bin arrives (0 = never) */
} collected;

static int collect(void *user, const p2d_slice *s)
{
    collected *c = (collected *)user;
    size_t i;
    if (c->cancel_at && s->t == c->cancel_at) return 1;
    if (c->n + s->n_peaks > c->cap) {
        c->cap = (c->n + s->n_peaks) * 2 + 64;
        c->peaks = (p2d_peak *)realloc(c->peaks, c->cap * sizeof *c->peaks);
        c->bin_of = (size_t *)realloc(c->bin_of, c->cap * sizeof *c->bin_of);
    }
    if (s->t < c->n_t) {
        c->slices[s->t] = *s;
        c->slices[s->t].peaks = NULL;
        c->first[s->t] = c->n;
    }
    for (i = 0; i < s->n_peaks; i++) {
        c->peaks[c->n] = s->peaks[i];
        c->bin_of[c->n++] = s->t;
    }
    return 0;
}

static void collected_init(collected *c, size_t n_t)
{
    memset(c, 0, sizeof *c);
    c->n_t = n_t;
    c->slices = (p2d_slice *)calloc(n_t ? n_t : 1, sizeof *c->slices);
    c->first = (size_t *)calloc(n_t ? n_t : 1, sizeof *c->first);
}

static void collected_free(collected *c)
{
    free(c->peaks); free(c->bin_of); free(c->slices); free(c->first);
    memset(c, 0, sizeof *c);
}

static npy_array load(const char *name) { return td_load(DATA, name); }

/* A context for desc, or NULL after saying why. */
static p2d_ctx *make_ctx(const p2d_desc *d)
{
    p2d_ctx *ctx = NULL;
    tp_error err;
    if (p2d_create(d, &ctx, &err) != TP_OK) fprintf(stderr, "  p2d_create: %s\n", err.message);
    return ctx;
}

/* One run over a C-order cube: peaks into c (when not NULL), masks into masks (may be NULL). */
static tp_result run_cube(const double *data, tp_dtype dtype, size_t n_x, size_t n_y, size_t n_t, int mode,
                           int conn, const double *alphas, size_t n_alpha, int packed, uint8_t *masks,
                           int threads, collected *c, p2d_summary *sum)
{
    p2d_desc d;
    p2d_cube cube;
    p2d_masks m;
    p2d_ctx *ctx = NULL;
    tp_error err;
    tp_result r;
    memset(&d, 0, sizeof d);
    memset(&cube, 0, sizeof cube);
    memset(&m, 0, sizeof m);
    d.mode = (p2d_mode)mode;
    d.connectivity = conn;
    d.alphas = alphas;
    d.n_alpha = n_alpha;
    d.n_threads = threads;
    d.on_slice = c ? collect : NULL;
    d.user = c;
    if ((r = p2d_create(&d, &ctx, &err)) != TP_OK) return r;
    cube.data = data; cube.dtype = dtype;
    cube.n_x = n_x; cube.n_y = n_y; cube.n_t = n_t;
    m.data = masks; m.packed = packed;
    r = p2d_run(ctx, &cube, &m, NULL, sum, &err);
    if (r != TP_OK) fprintf(stderr, "  %s\n", err.message);
    p2d_destroy(ctx);
    return r;
}

static size_t count_ones(const uint8_t *m, size_t n)
{
    size_t i, s = 0;
    for (i = 0; i < n; i++) s += m[i] != 0;
    return s;
}

static const double ALPHAS[3] = {0.1, 0.5, 0.9};

/* Exact mode on the first n_t bins of the reference posterior, as a C-order cube of their own */
static void exact_first_bins(const npy_array *P, size_t n_t, int conn, collected *c)
{
    size_t nx = P->shape[0], ny = P->shape[1], i;
    double *sub = (double *)malloc(nx * ny * n_t * sizeof(double));
    for (i = 0; i < nx * ny; i++) memcpy(sub + i * n_t, (const double *)P->data + i * P->shape[2], n_t * sizeof(double));
    collected_init(c, n_t);
    CHECK(run_cube(sub, TP_F64, nx, ny, n_t, P2D_MODE_EXACT, conn, NULL, 0, 0, NULL, 1, c, NULL) == TP_OK);
    free(sub);
}

/* ---- against the peers --------------------------------------------------------------------- */

/* pyPho mode reproduces the pyPho function: every peak, height, "prominence", the dominant
   choice and the masks of all 200 bins (masks compared bit-packed and as bytes). */
static void test_pypho_reference(void)
{
    npy_array P = load("posterior_200.npy"), R = load("pypho_peaks.npy"), M = load("pypho_masks_packed.npy");
    size_t nx, ny, nt, i, bad = 0, nbytes;
    uint8_t *packed, *bytes;
    collected c;
    const double *ref;
    CHECK(P.data && R.data && M.data);
    if (!P.data || !R.data || !M.data) return;
    nx = P.shape[0]; ny = P.shape[1]; nt = P.shape[2];
    ref = (const double *)R.data;
    CHECK(p2d_masks_bytes(3, nx, ny, nt, 1, &nbytes, NULL) == TP_OK && nbytes == M.count);
    packed = (uint8_t *)malloc(nbytes);
    bytes = (uint8_t *)malloc(3 * nx * ny * nt);
    collected_init(&c, nt);
    CHECK(run_cube((const double *)P.data, TP_F64, nx, ny, nt, P2D_MODE_PYPHO, 0, ALPHAS, 3, 1, packed, 1, &c, NULL) == TP_OK);
    CHECK_MSG(c.n == R.shape[0], "%zu peaks vs %zu in the reference", c.n, R.shape[0]);
    for (i = 0; i < c.n && i < R.shape[0]; i++) {
        const double *row = ref + i * 6;
        const p2d_peak *pk = c.peaks + i;
        size_t t = c.bin_of[i];
        int same = (double)t == row[0] && pk->ix == (int)row[1] && pk->iy == (int)row[2] && pk->height == row[3] &&
                   fabs(pk->prominence - row[4]) <= 1e-12 * fabs(row[4]) + 1e-300;
        if (row[5] == 1.0) same = same && c.slices[t].dominant == (ptrdiff_t)(i - c.first[t]);
        if (!same && bad++ < 5)
            fprintf(stderr, "  peak %zu: t %zu (%d,%d) h %.17g p %.17g vs t %g (%g,%g) h %.17g p %.17g dom %g\n", i, t,
                    pk->ix, pk->iy, pk->height, pk->prominence, row[0], row[1], row[2], row[3], row[4], row[5]);
    }
    CHECK_MSG(bad == 0, "%zu peaks differ", bad);
    CHECK(memcmp(packed, M.data, nbytes) == 0);
    /* the same masks one byte per element */
    CHECK(run_cube((const double *)P.data, TP_F64, nx, ny, nt, P2D_MODE_PYPHO, 0, ALPHAS, 3, 0, bytes, 1, NULL, NULL) == TP_OK);
    for (i = 0, bad = 0; i < 3 * nx * ny * nt; i++)
        bad += bytes[i] != ((((const uint8_t *)M.data)[i / nt * ((nt + 7) / 8) + i % nt / 8] >> (i % 8)) & 1);
    CHECK_MSG(bad == 0, "%zu mask bytes differ", bad);
    free(packed); free(bytes);
    collected_free(&c);
    npy_free(&P); npy_free(&R); npy_free(&M);
}

/* Exact mode equals the union-find reference (first 20 bins) for both connectivities: the peak
   set, heights, prominences, col levels, saddles and parents. */
static void check_exact_reference(int conn, const char *file)
{
    npy_array P = load("posterior_200.npy"), R = load(file);
    size_t i, j, bad = 0, n_ref = 0, n_t = 20;
    collected c;
    const double *ref;
    CHECK(P.data && R.data);
    if (!P.data || !R.data) return;
    ref = (const double *)R.data;
    exact_first_bins(&P, n_t, conn, &c);
    for (i = 0; i < R.shape[0]; i++) {
        const double *row = ref + i * 10;
        size_t t = (size_t)row[0], end = t + 1 < n_t ? c.first[t + 1] : c.n;
        const p2d_peak *pk = NULL;
        if (row[4] == 0.0) continue; /* zero-prominence summits are never reported (none here) */
        n_ref++;
        for (j = c.first[t]; j < end; j++)
            if (c.peaks[j].ix == (int)row[1] && c.peaks[j].iy == (int)row[2]) pk = c.peaks + j;
        if (!pk) { if (bad++ < 5) fprintf(stderr, "  missing t %zu (%g,%g)\n", t, row[1], row[2]); continue; }
        if (pk->height != row[3] || fabs(pk->prominence - row[4]) > 1e-12 * row[4] ||
            (isnan(row[5]) ? !isnan(pk->col_level) : pk->col_level != row[5]) || pk->col_ix != (int)row[6] ||
            pk->col_iy != (int)row[7] ||
            (row[8] < 0 ? pk->parent != -1
                        : pk->parent < 0 || c.peaks[c.first[t] + (size_t)pk->parent].ix != (int)row[8] ||
                              c.peaks[c.first[t] + (size_t)pk->parent].iy != (int)row[9])) {
            if (bad++ < 5)
                fprintf(stderr, "  t %zu (%d,%d): p %.17g col %.17g at (%d,%d) parent %d vs p %.17g col %.17g (%g,%g) (%g,%g)\n", t,
                        pk->ix, pk->iy, pk->prominence, pk->col_level, pk->col_ix, pk->col_iy, pk->parent, row[4], row[5],
                        row[6], row[7], row[8], row[9]);
        }
    }
    CHECK_MSG(c.n == n_ref, "%zu peaks vs %zu in the reference", c.n, n_ref);
    CHECK_MSG(bad == 0, "%zu peaks differ (connectivity %d)", bad, conn);
    collected_free(&c);
    npy_free(&P); npy_free(&R);
}

static void test_exact_reference_conn8(void) { check_exact_reference(8, "uf8_peaks.npy"); }
static void test_exact_reference_conn4(void) { check_exact_reference(4, "uf4_peaks.npy"); }

/* The contour-based original quantises heights and cols to levels `step` apart, so for every
   peak it resolves clearly (prominence >= 5 steps) the exact prominence must lie within 2 steps,
   the height within [level, level + step), and an exact peak within 1.5 pixels of the contour
   centre. Checked with both connectivities (contours sit between the two). */
static void test_contour_agreement(void)
{
    npy_array P = load("posterior_200.npy"), X = load("xunius_peaks.npy");
    size_t i, j, n_t = 20, checked = 0;
    int conn;
    CHECK(P.data && X.data);
    if (!P.data || !X.data) return;
    for (conn = 4; conn <= 8; conn += 4) {
        collected c;
        exact_first_bins(&P, n_t, conn, &c);
        for (i = 0; i < X.shape[0]; i++) {
            const double *row = (const double *)X.data + i * 8;
            size_t t = (size_t)row[0], end = t + 1 < n_t ? c.first[t + 1] : c.n;
            double step = row[7], best = 1e30;
            const p2d_peak *pk = NULL;
            if (row[5] < 5 * step) continue;
            for (j = c.first[t]; j < end; j++) {
                double dx = c.peaks[j].ix - row[1], dy = c.peaks[j].iy - row[2], d2 = dx * dx + dy * dy;
                if (d2 < best) { best = d2; pk = c.peaks + j; }
            }
            checked++;
            CHECK_MSG(pk && best <= 1.5 * 1.5, "t %zu: no exact peak near (%g, %g)", t, row[1], row[2]);
            if (!pk) continue;
            CHECK_MSG(pk->height >= row[3] && pk->height < row[3] + step, "t %zu: height %.9g vs level %.9g", t, pk->height, row[3]);
            if (row[6] == 0.0)
                CHECK_MSG(fabs(pk->prominence - row[5]) <= 2 * step, "t %zu (%d,%d) conn %d: %.9g vs %.9g (step %.3g)", t,
                          pk->ix, pk->iy, conn, pk->prominence, row[5], step);
        }
        collected_free(&c);
    }
    CHECK(checked == 86); /* 43 peaks x 2 connectivities */
    npy_free(&P); npy_free(&X);
}

/* ---- brute force on small random grids full of ties ---------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return rng_state;
}

/* The cell (x + dx, y + dy) of an nx x ny grid, across the edges that wrap; -1 outside. */
static int brute_cell(int nx, int ny, int wrap, int x, int y, int dx, int dy)
{
    x += dx, y += dy;
    if ((wrap & 1) && nx > 1) x = (x + nx) % nx;
    if ((wrap & 2) && ny > 1) y = (y + ny) % ny;
    return x >= 0 && x < nx && y >= 0 && y < ny ? x * ny + y : -1;
}

/* Exact prominence straight from the definition: with pixels ranked by (descending value,
   ascending index), p is a summit if no neighbour ranks before it, and it dies at the first rank
   k at which its component among the pixels of rank <= k holds a pixel ranked before p. NaN
   cells are never ranked (holes); wrap: bit 0 rows, bit 1 columns (periodic edges). A summit that
   never dies stands above the minimum of its component. */
static void brute_general(const double *z, int nx, int ny, int conn, int wrap, double *prom, int *col)
{
    int n = nx * ny, i, j, k, m = 0;
    int *rank = (int *)malloc(n * sizeof(int)), *order = (int *)malloc(n * sizeof(int));
    int *seen = (int *)malloc(n * sizeof(int)), *stack = (int *)malloc(n * sizeof(int));
    for (i = 0; i < n; i++) {
        rank[i] = n; /* a hole: never */
        if (z[i] == z[i]) order[m++] = i;
    }
    for (i = 1; i < m; i++) /* insertion sort: stable, so ties stay in index order */
        for (j = i; j > 0 && z[order[j - 1]] < z[order[j]]; j--) { k = order[j]; order[j] = order[j - 1]; order[j - 1] = k; }
    for (i = 0; i < m; i++) rank[order[i]] = i;
    for (i = 0; i < n; i++) prom[i] = -1, col[i] = -1;
    for (i = 0; i < m; i++) {
        int p = order[i], is_summit = 1, dx, dy, kk, top;
        for (dx = -1; dx <= 1; dx++)
            for (dy = -1; dy <= 1; dy++) {
                int q = brute_cell(nx, ny, wrap, p / ny, p % ny, dx, dy);
                if ((dx || dy) && (conn == 8 || !dx || !dy) && q >= 0 && rank[q] < i) is_summit = 0;
            }
        if (!is_summit) continue;
        prom[p] = 0;
        for (kk = i; kk < m; kk++) { /* grow the component of p among ranks <= kk */
            int found = 0;
            top = 0;
            memset(seen, 0, n * sizeof(int));
            stack[top++] = p; seen[p] = 1;
            while (top && !found) {
                int a = stack[--top];
                if (rank[a] < i) found = 1;
                for (dx = -1; dx <= 1; dx++)
                    for (dy = -1; dy <= 1; dy++) {
                        int q = brute_cell(nx, ny, wrap, a / ny, a % ny, dx, dy);
                        if (!(dx || dy) || (conn == 4 && dx && dy) || q < 0) continue;
                        if (!seen[q] && rank[q] <= kk) { seen[q] = 1; stack[top++] = q; }
                    }
            }
            if (found) { prom[p] = z[p] - z[order[kk]]; col[p] = order[kk]; break; }
        }
        if (col[p] < 0) { /* the highest summit of its component: down to the component's minimum */
            double mn = z[p];
            top = 0;
            memset(seen, 0, n * sizeof(int));
            stack[top++] = p; seen[p] = 1;
            while (top) {
                int a = stack[--top];
                mn = z[a] < mn ? z[a] : mn;
                for (dx = -1; dx <= 1; dx++)
                    for (dy = -1; dy <= 1; dy++) {
                        int q = brute_cell(nx, ny, wrap, a / ny, a % ny, dx, dy);
                        if (!(dx || dy) || (conn == 4 && dx && dy) || q < 0) continue;
                        if (!seen[q] && rank[q] < m) { seen[q] = 1; stack[top++] = q; }
                    }
            }
            prom[p] = z[p] - mn;
        }
    }
    free(rank); free(order); free(seen); free(stack);
}

static void brute_exact(const double *z, int nx, int ny, int conn, double *prom, int *col)
{
    brute_general(z, nx, ny, conn, 0, prom, col);
}

/* pyPho's prominence the way it computes it: reconstruction by dilation (3 x 3) of the slice with
   its peaks set to -inf, iterated to stability; prominence = height - reconstruction. */
static void brute_pypho(const double *z, int nx, int ny, int *is_peak, double *prom)
{
    int n = nx * ny, i, changed = 1;
    double *rec = (double *)malloc(n * sizeof(double)), mn = HUGE_VAL;
    for (i = 0; i < n; i++) mn = z[i] < mn ? z[i] : mn; /* NaN cells (holes) never count */
    for (i = 0; i < n; i++) {
        int dx, dy;
        double m = -HUGE_VAL;
        for (dx = -1; dx <= 1; dx++)
            for (dy = -1; dy <= 1; dy++) {
                int xx = i / ny + dx, yy = i % ny + dy;
                if (xx >= 0 && xx < nx && yy >= 0 && yy < ny && z[xx * ny + yy] > m) m = z[xx * ny + yy];
            }
        is_peak[i] = z[i] >= m && z[i] > mn;
        rec[i] = is_peak[i] ? -HUGE_VAL : z[i];
    }
    while (changed) {
        changed = 0;
        for (i = 0; i < n; i++) {
            int dx, dy;
            double m = rec[i];
            for (dx = -1; dx <= 1; dx++)
                for (dy = -1; dy <= 1; dy++) {
                    int xx = i / ny + dx, yy = i % ny + dy;
                    if (xx >= 0 && xx < nx && yy >= 0 && yy < ny && rec[xx * ny + yy] > m) m = rec[xx * ny + yy];
                }
            if (m > z[i]) m = z[i];
            if (z[i] != z[i]) m = -HUGE_VAL; /* a hole carries nothing */
            if (m != rec[i]) { rec[i] = m; changed = 1; }
        }
    }
    for (i = 0; i < n; i++) prom[i] = is_peak[i] ? z[i] - rec[i] : -1;
    free(rec);
}

/* Dominant mask from the definition: repeated sweeps growing the region 4-connectedly (across
   the edges that wrap); the seed is the first maximum of the cells that are not NaN. */
static void brute_mask_wrap(const double *z, int nx, int ny, int wrap, double alpha, uint8_t *m)
{
    int n = nx * ny, i, k, s = -1, changed = 1;
    static const int dx[4] = {-1, 1, 0, 0}, dy[4] = {0, 0, -1, 1};
    for (i = 0; i < n; i++) if (z[i] == z[i] && (s < 0 || z[i] > z[s])) s = i;
    memset(m, 0, (size_t)nx * (size_t)ny);
    if (s < 0) return;
    m[s] = 1;
    while (changed) {
        changed = 0;
        for (i = 0; i < n; i++) {
            if (m[i] || !(z[i] >= alpha * z[s])) continue;
            for (k = 0; k < 4; k++) {
                int q = brute_cell(nx, ny, wrap, i / ny, i % ny, dx[k], dy[k]);
                if (q >= 0 && m[q]) { m[i] = 1; changed = 1; break; }
            }
        }
    }
}

static void brute_mask(const double *z, int nx, int ny, double alpha, uint8_t *m)
{
    brute_mask_wrap(z, nx, ny, 0, alpha, m);
}

static void test_random_against_brute_force(void)
{
    int trial, bad = 0;
    for (trial = 0; trial < 300; trial++) {
        int nx = 1 + (int)(rng_next() % 7), ny = 1 + (int)(rng_next() % 9), n = nx * ny, i, conn, levels;
        double z[63], prom[63], prom_p[63];
        int col[63], is_peak[63];
        uint8_t masks[3 * 63], want[63];
        collected c;
        levels = trial % 3 == 0 ? 1000000 : 2 + trial % 4; /* few levels: plateaus and ties everywhere */
        for (i = 0; i < n; i++) {
            uint64_t k = rng_next() % (uint64_t)levels;
            z[i] = (double)k * 0.25 - 0.5;
            if (z[i] == 0.0 && (rng_next() & 1)) z[i] = -0.0;      /* -0 and +0 are one value */
            if (trial % 3 == 2) z[i] = 1.0 + (double)k * 0x1p-40; /* differ in the low bits only */
        }
        for (conn = 4; conn <= 8; conn += 4) {
            size_t k = 0;
            brute_exact(z, nx, ny, conn, prom, col);
            collected_init(&c, 1);
            CHECK(run_cube(z, TP_F64, nx, ny, 1, P2D_MODE_EXACT, conn, NULL, 0, 0, NULL, 1, &c, NULL) == TP_OK);
            for (i = 0; i < n; i++) {
                if (!(prom[i] > 0)) continue;
                if (k >= c.n || c.peaks[k].ix * ny + c.peaks[k].iy != i || c.peaks[k].prominence != prom[i] ||
                    (col[i] >= 0 && c.peaks[k].col_ix * ny + c.peaks[k].col_iy != col[i])) {
                    if (bad++ < 5) fprintf(stderr, "  trial %d conn %d: pixel %d prom %g\n", trial, conn, i, prom[i]);
                    break;
                }
                k++;
            }
            if (k != c.n && bad++ < 5) fprintf(stderr, "  trial %d conn %d: %zu peaks vs %zu\n", trial, conn, c.n, k);
            collected_free(&c);
        }
        brute_pypho(z, nx, ny, is_peak, prom_p);
        collected_init(&c, 1);
        CHECK(run_cube(z, TP_F64, nx, ny, 1, P2D_MODE_PYPHO, 0, ALPHAS, 3, 0, masks, 1, &c, NULL) == TP_OK);
        {
            size_t k = 0;
            for (i = 0; i < n; i++) {
                if (!is_peak[i]) continue;
                if (k >= c.n || c.peaks[k].ix * ny + c.peaks[k].iy != i || c.peaks[k].prominence != prom_p[i]) {
                    if (bad++ < 5) fprintf(stderr, "  trial %d pypho: pixel %d prom %g\n", trial, i, prom_p[i]);
                    break;
                }
                k++;
            }
            if (k != c.n && bad++ < 5) fprintf(stderr, "  trial %d pypho: %zu peaks vs %zu\n", trial, c.n, k);
        }
        {
            int a, constant = c.slices[0].status == P2D_SLICE_NO_PEAKS;
            for (a = 0; a < 3; a++) {
                brute_mask(z, nx, ny, ALPHAS[a], want);
                if (constant) memset(want, 0, n);
                for (i = 0; i < n; i++)
                    if (masks[a * n + i] != want[i]) { if (bad++ < 5) fprintf(stderr, "  trial %d mask %d\n", trial, a); break; }
            }
        }
        collected_free(&c);
    }
    CHECK_MSG(bad == 0, "%d mismatches", bad);
}

/* One slice with holes, periodic edges or valleys against the definitions above: exact peaks
   (every field), pyPho peaks (holes only), masks. */
static int check_general(const double *z, int nx, int ny, int conn, int wrap, int valleys, int mode, int trial)
{
    int n = nx * ny, i, a, bad = 0, is_peak[63], col[63];
    double neg[63], prom[63];
    const double *w = z;
    uint8_t masks[3 * 63], want[63];
    p2d_desc d;
    p2d_cube cube;
    p2d_masks m;
    p2d_ctx *ctx;
    collected c;
    size_t k = 0;
    tp_error err;
    if (valleys) { /* the definitions on -z */
        for (i = 0; i < n; i++) neg[i] = -z[i];
        w = neg;
    }
    if (mode == P2D_MODE_EXACT) brute_general(w, nx, ny, conn, wrap, prom, col);
    else brute_pypho(w, nx, ny, is_peak, prom);
    memset(&d, 0, sizeof d); memset(&cube, 0, sizeof cube); memset(&m, 0, sizeof m);
    d.mode = (p2d_mode)mode; d.connectivity = conn; d.periodic = (p2d_periodic)wrap; d.valleys = valleys;
    d.alphas = ALPHAS; d.n_alpha = 3; d.on_slice = collect; d.user = &c;
    cube.data = z; cube.dtype = TP_F64; cube.n_x = (size_t)nx; cube.n_y = (size_t)ny; cube.n_t = 1;
    m.data = masks;
    collected_init(&c, 1);
    if (!(ctx = make_ctx(&d)) || p2d_run(ctx, &cube, &m, NULL, NULL, &err) != TP_OK) {
        fprintf(stderr, "  trial %d: run failed\n", trial);
        p2d_destroy(ctx);
        collected_free(&c);
        return 1;
    }
    p2d_destroy(ctx);
    for (i = 0; i < n && !bad; i++) {
        const p2d_peak *pk;
        if (mode == P2D_MODE_EXACT ? !(prom[i] > 0) : !is_peak[i]) continue; /* pyPho lists steps of 0 too */
        pk = k < c.n ? c.peaks + k : NULL;
        if (!pk || pk->ix * ny + pk->iy != i || pk->prominence != prom[i] || pk->height != z[i])
            bad = 1;
        else if (mode == P2D_MODE_EXACT && col[i] >= 0 &&
                 (pk->col_ix * ny + pk->col_iy != col[i] || pk->col_level != z[col[i]] || pk->parent < 0))
            bad = 1;
        else if (mode == P2D_MODE_EXACT && col[i] < 0 && !(pk->col_ix == -1 && isnan(pk->col_level) && pk->parent == -1))
            bad = 1;
        if (bad) fprintf(stderr, "  trial %d (%dx%d conn %d wrap %d valleys %d mode %d): cell %d prom %g\n", trial, nx,
                         ny, conn, wrap, valleys, mode, i, prom[i]);
        k++;
    }
    if (!bad && k != c.n) {
        fprintf(stderr, "  trial %d (wrap %d valleys %d mode %d): %zu peaks vs %zu\n", trial, wrap, valleys, mode, c.n, k);
        bad = 1;
    }
    for (a = 0; a < 3 && !bad; a++) {
        brute_mask_wrap(w, nx, ny, wrap, ALPHAS[a], want);
        if (c.slices[0].status != P2D_SLICE_OK) memset(want, 0, (size_t)n);
        for (i = 0; i < n; i++)
            if (masks[a * n + i] != want[i]) {
                fprintf(stderr, "  trial %d (wrap %d valleys %d): mask %d cell %d\n", trial, wrap, valleys, a, i);
                bad = 1;
                break;
            }
    }
    collected_free(&c);
    return bad;
}

static void test_holes_periodic_valleys_against_brute_force(void)
{
    int trial, bad = 0;
    for (trial = 0; trial < 600 && bad < 5; trial++) {
        int nx = 1 + (int)(rng_next() % 7), ny = 1 + (int)(rng_next() % 9), n = nx * ny, i;
        int levels = trial % 3 == 0 ? 1000000 : 2 + trial % 4, holes = (int)(rng_next() % 4);
        int wrap = (trial / 2) % 4, valleys = trial % 5 == 1;
        double z[63];
        for (i = 0; i < n; i++) {
            z[i] = (double)(rng_next() % (uint64_t)levels) * 0.25 - 0.5;
            if (holes && rng_next() % 8 < (uint64_t)holes) z[i] = NAN; /* up to 3/8 of the cells */
            if (trial % 37 == 5 && rng_next() % 5 == 0) z[i] = rng_next() & 1 ? HUGE_VAL : -HUGE_VAL;
        }
        bad += check_general(z, nx, ny, 8, wrap, valleys, P2D_MODE_EXACT, trial);
        bad += check_general(z, nx, ny, 4, wrap, valleys, P2D_MODE_EXACT, trial);
        if (!wrap) bad += check_general(z, nx, ny, 8, 0, valleys, P2D_MODE_PYPHO, trial);
    }
    CHECK_MSG(bad == 0, "%d mismatches", bad);
}

/* ---- geometry: regions, widths, labels against flood fills ----------------------------------- */

typedef struct geom_slice {
    size_t n, n_widths, cells; /* set by the caller: widths asked for, n_x * n_y */
    p2d_peak peaks[64];
    p2d_geom geom[64], widths[64 * 2];
    uint16_t labels[64];
    int status;
} geom_slice;

static int collect_geom(void *user, const p2d_slice *s)
{
    geom_slice *g = (geom_slice *)user;
    g->n = s->n_peaks;
    g->status = (int)s->status;
    memcpy(g->peaks, s->peaks, s->n_peaks * sizeof(p2d_peak));
    if (s->geom) memcpy(g->geom, s->geom, s->n_peaks * sizeof(p2d_geom));
    if (s->widths) memcpy(g->widths, s->widths, g->n_widths * s->n_peaks * sizeof(p2d_geom));
    if (s->labels) memcpy(g->labels, s->labels, g->cells * sizeof(uint16_t));
    return 0;
}

/* The region of cell p above floor: flood fill (conn, wrap) over cells > floor, into in[] */
static int brute_region(const double *z, int nx, int ny, int conn, int wrap, int p, double floor, uint8_t *in)
{
    int n = nx * ny, stack[64], top = 0, area = 0, dx, dy;
    memset(in, 0, (size_t)n);
    in[p] = 1, stack[top++] = p;
    while (top) {
        int a = stack[--top];
        area++;
        for (dx = -1; dx <= 1; dx++)
            for (dy = -1; dy <= 1; dy++) {
                int q = brute_cell(nx, ny, wrap, a / ny, a % ny, dx, dy);
                if (!(dx || dy) || (conn == 4 && dx && dy) || q < 0 || in[q] || !(z[q] > floor)) continue;
                in[q] = 1, stack[top++] = q;
            }
    }
    return area;
}

/* The shortest circular arc of n holding every set occ[], unwrapped around at (as prom2d.h
   section 3a says), by trying every start and length. */
static void brute_arc(const uint8_t *occ, int n, int at, int *lo, int *hi)
{
    int len, s, k;
    for (len = 1; len <= n; len++)
        for (s = 0; s < n; s++) {
            int ok = 1;
            for (k = 0; k < n && ok; k++)
                if (occ[k] && (k - s + n) % n >= len) ok = 0;
            if (!ok || (at - s + n) % n >= len) continue;
            if (len == n) s = 0;
            *lo = s <= at ? s : s - n;
            *hi = *lo + len - 1;
            return;
        }
}

/* One axis of a region: its centroid (circular mean on a wrapped axis, unless the cells' angles
   cancel out: then any value) and its box */
static int same_axis(const uint8_t *occ, const int *count, int n, int wrapped, int at, double c, int lo, int hi)
{
    double sum = 0, cs = 0, sn = 0, want;
    int k, area = 0, l = -1, h = -1;
    for (k = 0; k < n; k++) {
        area += count[k], sum += (double)k * count[k];
        cs += count[k] * cos(2 * M_PI * k / n), sn += count[k] * sin(2 * M_PI * k / n);
        if (occ[k] && l < 0) l = k;
        if (occ[k]) h = k;
    }
    want = sum / area;
    if (wrapped) {
        if (hypot(cs, sn) < 1e-9 * area) return 1; /* no mean direction */
        want = atan2(sn, cs) / (2 * M_PI) * n;
        if (want < 0) want += n;
        brute_arc(occ, n, at, &l, &h);
    }
    return (fabs(c - want) < 1e-9 * n || (wrapped && fabs(fabs(c - want) - n) < 1e-9 * n)) && c >= 0 && c < n &&
           lo == l && hi == h;
}

static int same_geom(int nx, int ny, int wrap, int px, int py, const uint8_t *in, const p2d_geom *g)
{
    uint8_t occx[16], occy[16];
    int cntx[16], cnty[16], i, area = 0;
    memset(occx, 0, sizeof occx), memset(occy, 0, sizeof occy), memset(cntx, 0, sizeof cntx), memset(cnty, 0, sizeof cnty);
    for (i = 0; i < nx * ny; i++)
        if (in[i]) area++, occx[i / ny] = occy[i % ny] = 1, cntx[i / ny]++, cnty[i % ny]++;
    return (int)g->area == area && same_axis(occx, cntx, nx, (wrap & 1) && nx > 1, px, g->cx, g->x0, g->x1) &&
           same_axis(occy, cnty, ny, (wrap & 2) && ny > 1, py, g->cy, g->y0, g->y1);
}

static const double WIDTHS[2] = {0.5, 0.25};

/* One slice's regions, widths and labels against flood fills from the definitions */
static int check_geometry(const double *z, int nx, int ny, int conn, int wrap, size_t min_area, int trial)
{
    int n = nx * ny, i, j, k = 0, bad = 0, col[64], best[64];
    double prom[64];
    uint8_t in[64];
    int area_of[64];
    geom_slice g;
    p2d_desc d;
    p2d_cube cube;
    p2d_ctx *ctx;
    tp_error err;
    memset(&d, 0, sizeof d); memset(&cube, 0, sizeof cube); memset(&g, 0, sizeof g);
    g.n_widths = 2, g.cells = (size_t)n;
    d.connectivity = conn; d.periodic = (p2d_periodic)wrap; d.geometry = 1; d.widths = WIDTHS; d.n_widths = 2;
    d.min_area = min_area; d.labels = 1; d.on_slice = collect_geom; d.user = &g;
    cube.data = z; cube.dtype = TP_F64; cube.n_x = (size_t)nx; cube.n_y = (size_t)ny; cube.n_t = 1;
    if (!(ctx = make_ctx(&d)) || p2d_run(ctx, &cube, NULL, NULL, NULL, &err) != TP_OK) {
        fprintf(stderr, "  geometry trial %d: run failed\n", trial);
        p2d_destroy(ctx);
        return 1;
    }
    p2d_destroy(ctx);
    brute_general(z, nx, ny, conn, wrap, prom, col);
    for (i = 0; i < n; i++) best[i] = 0, area_of[i] = 1 << 30;
    for (i = 0; i < n && !bad; i++) {
        int area;
        if (!(prom[i] > 0)) continue;
        area = brute_region(z, nx, ny, conn, wrap, i, z[i] - prom[i], in);
        if ((size_t)area < min_area) continue;
        if (k >= (int)g.n || g.peaks[k].ix * ny + g.peaks[k].iy != i) {
            fprintf(stderr, "  geometry trial %d (%dx%d conn %d wrap %d min_area %zu): peak %d not listed as %d\n", trial,
                    nx, ny, conn, wrap, min_area, i, k);
            bad = 1;
            break;
        }
        for (j = 0; j < n; j++) /* the smallest listed region holding a cell owns it */
            if (in[j] && area < area_of[j]) area_of[j] = area, best[j] = k + 1;
        if (!same_geom(nx, ny, wrap, i / ny, i % ny, in, &g.geom[k])) {
            fprintf(stderr, "  geometry trial %d (%dx%d conn %d wrap %d): region of peak %d: area %u box %d-%d %d-%d c %g %g\n",
                    trial, nx, ny, conn, wrap, i, g.geom[k].area, g.geom[k].x0, g.geom[k].x1, g.geom[k].y0, g.geom[k].y1,
                    g.geom[k].cx, g.geom[k].cy);
            bad = 1;
        }
        for (j = 0; j < 2 && !bad; j++) {
            brute_region(z, nx, ny, conn, wrap, i, z[i] - WIDTHS[j] * prom[i], in);
            if (!same_geom(nx, ny, wrap, i / ny, i % ny, in, &g.widths[k * 2 + j])) {
                fprintf(stderr, "  geometry trial %d: width %g of peak %d: area %u box %d-%d %d-%d c %g %g (%dx%d wrap %d)\n", trial, WIDTHS[j], i,
                        g.widths[k * 2 + j].area, g.widths[k * 2 + j].x0, g.widths[k * 2 + j].x1, g.widths[k * 2 + j].y0,
                        g.widths[k * 2 + j].y1, g.widths[k * 2 + j].cx, g.widths[k * 2 + j].cy, nx, ny, wrap);
                bad = 1;
            }
        }
        k++;
    }
    if (!bad && k != (int)g.n) fprintf(stderr, "  geometry trial %d: %zu peaks vs %d\n", trial, g.n, k), bad = 1;
    for (i = 0; i < n && !bad; i++)
        if (g.labels[i] != best[i]) {
            fprintf(stderr, "  geometry trial %d (%dx%d conn %d wrap %d): cell %d label %d vs %d\n", trial, nx, ny, conn,
                    wrap, i, g.labels[i], best[i]);
            bad = 1;
        }
    return bad;
}

static void test_geometry_against_flood_fills(void)
{
    int trial, bad = 0;
    for (trial = 0; trial < 800 && bad < 5; trial++) {
        int nx = 1 + (int)(rng_next() % 7), ny = 1 + (int)(rng_next() % 9), n = nx * ny, i;
        int levels = trial % 3 == 0 ? 1000000 : 2 + trial % 4, holes = trial % 5 == 3;
        double z[64];
        for (i = 0; i < n; i++) {
            z[i] = (double)(rng_next() % (uint64_t)levels) * 0.25 - 0.5;
            if (holes && rng_next() % 5 == 0) z[i] = NAN;
        }
        bad += check_geometry(z, nx, ny, trial % 2 ? 8 : 4, (trial / 2) % 4, trial % 7 == 6 ? 3 : 0, trial);
    }
    CHECK_MSG(bad == 0, "%d slices differ", bad);
}

/* Peaks of one slice with periodic edges (no masks) into c. */
static tp_result run_periodic(const double *z, size_t nx, size_t ny, int axes, collected *c)
{
    p2d_desc d;
    p2d_cube cube;
    p2d_ctx *ctx;
    tp_result r;
    memset(&d, 0, sizeof d); memset(&cube, 0, sizeof cube);
    d.periodic = (p2d_periodic)axes; d.on_slice = collect; d.user = c;
    cube.data = z; cube.dtype = TP_F64; cube.n_x = nx; cube.n_y = ny; cube.n_t = 1;
    if (!(ctx = make_ctx(&d))) return TP_ERR_ARG;
    r = p2d_run(ctx, &cube, NULL, NULL, NULL, NULL);
    p2d_destroy(ctx);
    return r;
}

static int descending(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Periodic edges equal gudhi's periodic cubical complex (tools/gen_prom2d_peers.py): the same
   prominences, exactly, on 9 x 11 maps with bumps across the edges and on 2 x 11 maps, for rows,
   columns and both wrapping. */
static void test_periodic_equals_gudhi(void)
{
    npy_array M = load("periodic_maps.npy"), R = load("periodic_prom.npy");
    size_t k, bad = 0, checked = 0;
    int axes;
    CHECK(M.data && R.data);
    if (!M.data || !R.data) return;
    for (k = 0; k < M.shape[0]; k++)
        for (axes = 1; axes <= 3; axes++) {
            const double *ref = (const double *)R.data, *z = (const double *)M.data + k * M.shape[1] * M.shape[2];
            size_t nx = isnan(z[2 * M.shape[2]]) ? 2 : M.shape[1], i, n_ref = 0;
            double want[128], got[128];
            collected c;
            for (i = 0; i < R.shape[0]; i++)
                if (ref[i * 3] == (double)k && ref[i * 3 + 1] == (double)axes && n_ref < 128) want[n_ref++] = ref[i * 3 + 2];
            collected_init(&c, 1);
            CHECK(run_periodic(z, nx, M.shape[2], axes, &c) == TP_OK);
            for (i = 0; i < c.n && i < 128; i++) got[i] = c.peaks[i].prominence;
            qsort(want, n_ref, sizeof(double), descending);
            qsort(got, c.n < 128 ? c.n : 128, sizeof(double), descending);
            if (c.n != n_ref || memcmp(want, got, n_ref * sizeof(double)) != 0) {
                if (bad++ < 5) fprintf(stderr, "  map %zu axes %d: %zu peaks vs gudhi's %zu (first %g vs %g)\n", k, axes,
                                       c.n, n_ref, c.n ? got[0] : 0.0, n_ref ? want[0] : 0.0);
            }
            checked += n_ref;
            collected_free(&c);
        }
    CHECK_MSG(bad == 0 && checked > 200, "%zu of %zu map/axes pairs differ", bad, checked);
    npy_free(&M); npy_free(&R);
}

/* 1-D profiles (n_x = 1) against scipy.signal.find_peaks, peak_prominences and peak_widths: every
   scipy peak is ours; where its horizontal line meets higher ground on both sides the prominence
   is the same, else ours descends to the lowest point before the higher ground on the one side
   that has it (scipy also takes the end of the profile as a base: prom2d.h section 2). Ours add
   only end samples. Where the prominences agree, the region at half the prominence is the cells
   strictly between scipy's interpolated crossings (left_ips, right_ips). */
static void test_profiles_1d_against_scipy(void)
{
    static const double half[1] = {0.5};
    npy_array P = load("profiles_1d.npy"), R = load("profiles_1d_peaks.npy");
    size_t k, i, n = 0, bad = 0, same = 0, ends = 0, widths = 0;
    CHECK(P.data && R.data && R.shape[1] == 7);
    if (!P.data || !R.data || R.shape[1] != 7) return;
    n = P.shape[1];
    for (k = 0; k < P.shape[0]; k++) {
        const double *z = (const double *)P.data + k * n, *ref = (const double *)R.data;
        geom_slice g;
        p2d_desc d;
        p2d_cube cube;
        p2d_ctx *ctx;
        size_t matched = 0, m, ends_k = 0;
        memset(&d, 0, sizeof d); memset(&cube, 0, sizeof cube); memset(&g, 0, sizeof g);
        g.n_widths = 1;
        d.geometry = 1; d.widths = half; d.n_widths = 1; d.on_slice = collect_geom; d.user = &g;
        cube.data = z; cube.dtype = TP_F64; cube.n_x = 1; cube.n_y = n; cube.n_t = 1;
        ctx = make_ctx(&d);
        CHECK(ctx && p2d_run(ctx, &cube, NULL, NULL, NULL, NULL) == TP_OK);
        p2d_destroy(ctx);
        for (i = 0; i < R.shape[0]; i++) {
            const double *row = ref + i * 7;
            size_t at = (size_t)row[1], j;
            double lmin = z[at], rmin = z[at], want;
            int left_higher = 0, right_higher = 0;
            if (row[0] != (double)k) continue;
            for (j = at; j-- > 0 && !(left_higher = z[j] > z[at]);) lmin = z[j] < lmin ? z[j] : lmin;
            for (j = at + 1; j < n && !(right_higher = z[j] > z[at]); j++) rmin = z[j] < rmin ? z[j] : rmin;
            for (m = 0; m < g.n && g.peaks[m].iy != (int32_t)at; m++) {}
            if (m == g.n) { if (bad++ < 5) fprintf(stderr, "  profile %zu: no peak at %zu\n", k, at); continue; }
            matched++;
            if (left_higher && right_higher) {
                const p2d_geom *w = g.widths + m;
                want = row[2], same++;
                if (w->y0 != (int32_t)floor(row[5]) + 1 || w->y1 != (int32_t)ceil(row[6]) - 1 ||
                    w->area != (uint32_t)(w->y1 - w->y0 + 1)) {
                    if (bad++ < 5) fprintf(stderr, "  profile %zu peak %zu: half width %d-%d vs scipy's %.3f-%.3f\n", k, at,
                                           w->y0, w->y1, row[5], row[6]);
                }
                widths++;
            } else if (left_higher || right_higher) {
                want = z[at] - (left_higher ? lmin : rmin);
            } else { /* the highest: down to the profile's minimum */
                for (want = z[0], j = 1; j < n; j++) want = z[j] < want ? z[j] : want;
                want = z[at] - want;
            }
            if (g.peaks[m].prominence != want && bad++ < 5)
                fprintf(stderr, "  profile %zu peak %zu: %.17g vs %.17g (scipy %.17g)\n", k, at, g.peaks[m].prominence, want,
                        row[2]);
        }
        for (m = 0; m < g.n; m++) ends_k += g.peaks[m].iy == 0 || g.peaks[m].iy == (int32_t)n - 1;
        if (g.n - matched != ends_k && bad++ < 5) fprintf(stderr, "  profile %zu: %zu peaks beyond scipy's\n", k, g.n - matched);
        ends += ends_k;
    }
    CHECK_MSG(bad == 0 && same > 200 && widths == same, "%zu differ, %zu equal to scipy's, %zu end peaks", bad, same, ends);
    npy_free(&P); npy_free(&R);
}

/* Every upper-link mask kernel against the sweep order itself (a neighbour inside the grid comes
   first when it is higher, or equal and earlier in row-major order), on grids of many widths (so
   every vector tail length), with ties, -0 and -inf pixels (the ring is -inf too). */
/* the kernel levels of prom2d.h's tables */
static const char *const KERNEL_NAMES[] = {"plain", "16-byte vectors", "AVX2", "AVX-512"};

static void test_upper_masks(void)
{
    int nv = p2d__kernel_level() + 1, trial, k, bad = 0;
    static const int dx[8] = {-1, -1, -1, 0, 0, 1, 1, 1}, dy[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
    for (trial = 0; trial < 400; trial++) {
        p2d__plan p;
        double z[12 * 43];
        uint8_t flag[12 * 43];
        int nx = 1 + trial % 10, ny = 1 + (trial * 7) % 41, ix, iy, any_inf = 0, levels = 2 + trial % 5;
        memset(&p, 0, sizeof p);
        p.n_x = (size_t)nx, p.n_y = (size_t)ny, p.w2 = (size_t)ny + 2;
        for (k = 0; k < (nx + 2) * (ny + 2); k++) z[k] = -HUGE_VAL;
        for (ix = 1; ix <= nx; ix++)
            for (iy = 1; iy <= ny; iy++) {
                int level = (int)(rng_next() % (uint64_t)levels);
                double *zz = z + ix * (ny + 2) + iy;
                *zz = level == 0 && trial % 3 == 0 ? -HUGE_VAL : (double)level - 1.0;
                if (*zz == 0.0 && (rng_next() & 1)) *zz = -0.0;
                any_inf |= *zz == -HUGE_VAL;
            }
        for (k = 0; k < nv; k++) {
            memset(flag, 0xAA, sizeof flag);
            p2d__upper_kernels[k](z, p.w2, p.w2 + 1, p.n_x * p.w2 + p.n_y + 1, flag);
            if (any_inf) p2d__clear_ring_bits(&p, z, flag);
            for (ix = 1; ix <= nx; ix++)
                for (iy = 1; iy <= ny; iy++) {
                    int at = ix * (ny + 2) + iy, j;
                    unsigned want = 0;
                    for (j = 0; j < 8; j++) {
                        int qx = ix + dx[j], qy = iy + dy[j], q = qx * (ny + 2) + qy;
                        if (qx < 1 || qx > nx || qy < 1 || qy > ny) continue;
                        if (z[q] > z[at] || (z[q] == z[at] && q < at)) want |= 1u << j;
                    }
                    if (flag[at] != want && bad++ < 5)
                        fprintf(stderr, "  %s: %d x %d grid, pixel (%d, %d): mask %02x, want %02x\n", KERNEL_NAMES[k], nx, ny,
                                ix - 1, iy - 1, flag[at], want);
                }
        }
    }
    CHECK_MSG(bad == 0, "%d wrong masks", bad);
    CHECK(nv >= 1);
}

/* Every min/max kernel against the plain loop on grids of every width (vector tails, rows shorter
   than a vector), with many ties and NaN pixels anywhere: the same first minimal and maximal
   pixels; and p2d__scan's zero rule: the first zero's sign. */
static void test_range_kernels(void)
{
    int nv = p2d__kernel_level() + 1, trial, k, bad = 0;
    for (trial = 0; trial < 400; trial++) {
        double z[12 * 43];
        size_t lo0 = 0, hi0 = 0;
        int nx = 1 + trial % 10, ny = 1 + (trial * 7) % 41, ix, iy, ok0 = 0;
        for (k = 0; k < 12 * 43; k++) z[k] = -HUGE_VAL;
        for (ix = 1; ix <= nx; ix++)
            for (iy = 1; iy <= ny; iy++) z[ix * (ny + 2) + iy] = (double)(int64_t)(rng_next() % (trial % 2 ? 5 : 2001)) - 2.0; /* ties */
        if (trial % 4 == 1) z[(1 + (int)(rng_next() % (uint64_t)nx)) * (ny + 2) + 1 + (int)(rng_next() % (uint64_t)ny)] = NAN;
        for (k = 0; k < nv; k++) {
            size_t lo, hi;
            int ok = p2d__range_kernels[k](z, (size_t)ny + 2, (size_t)nx, (size_t)ny, &lo, &hi);
            if (k == 0) { ok0 = ok, lo0 = lo, hi0 = hi; continue; }
            if ((ok != ok0 || (ok && (lo != lo0 || hi != hi0))) && bad++ < 5)
                fprintf(stderr, "  %s, %d x %d: %d %zu %zu, plain %d %zu %zu\n", KERNEL_NAMES[k], nx, ny, ok, lo, hi, ok0, lo0, hi0);
        }
        CHECK(ok0 == (trial % 4 != 1));
    }
    CHECK_MSG(bad == 0, "%d wrong ranges", bad);
    {   /* zeros only, the first one negative: min -0, max -0, argmax the first pixel */
        p2d__plan p;
        double z[5 * 12], mn = 1, mx = 1;
        size_t arg, i, nn;
        memset(&p, 0, sizeof p);
        p.n_x = 3, p.n_y = 10, p.w2 = 12;
        for (i = 0; i < 5 * 12; i++) z[i] = -HUGE_VAL;
        for (i = 1; i <= 3; i++) memset(z + i * 12 + 1, 0, 10 * sizeof(double));
        z[13] = -0.0;
        CHECK(p2d__scan(&p, p2d__range_kernels[p2d__kernel_level()], z, &mn, &mx, &arg, &nn) == 1);
        CHECK(mn == 0.0 && signbit(mn) && mx == 0.0 && signbit(mx) && arg == 13);
        z[13] = 0.0, z[14] = -0.0;
        CHECK(p2d__scan(&p, p2d__range_kernels[p2d__kernel_level()], z, &mn, &mx, &arg, &nn) == 1);
        CHECK(!signbit(mn) && !signbit(mx) && arg == 13 && nn == 0);
        /* holes: the extremes of the other cells, the same first pixels, the NaN counted */
        z[15] = NAN, z[13] = NAN, z[30] = NAN;
        CHECK(p2d__scan(&p, p2d__range_kernels[p2d__kernel_level()], z, &mn, &mx, &arg, &nn) == 1);
        CHECK(mn == 0.0 && signbit(mn) && mx == 0.0 && signbit(mx) && arg == 14 && nn == 3);
        for (i = 1; i <= 3; i++) memset(z + i * 12 + 1, 0xFF, 10 * sizeof(double)); /* all NaN */
        CHECK(p2d__scan(&p, p2d__range_kernels[p2d__kernel_level()], z, &mn, &mx, &arg, &nn) == 0 && nn == 30);
    }
}

/* p2d__rowcol's multiply-and-shift against a division, for row lengths from the smallest (3) to
   the largest a slice can have, at both ends of the index range (2^31 - 1 is the largest padded
   index) and at random in between. */
static void test_rowcol_without_division(void)
{
    static const size_t lengths[] = {3, 4, 5, 7, 8, 9, 43, 63, 64, 65, 255, 256, 257, 1000, 4095, 65535, 65536,
                                     65537, 1u << 20, (1u << 30) + 1, 0x7FFFFFFFu};
    size_t k, n, bad = 0;
    for (k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        p2d__plan p;
        memset(&p, 0, sizeof p);
        p.w2 = lengths[k];
        p2d__row_divisor(&p);
        for (n = 0; n < 30000; n++) {
            size_t i = n < 10000 ? n : n < 20000 ? 0x7FFFFFFFu - (n - 10000) : (size_t)(rng_next() % 0x80000000u);
            int32_t ix, iy;
            p2d__rowcol(&p, i, &ix, &iy);
            if ((ix != (int32_t)(i / p.w2) - 1 || iy != (int32_t)(i % p.w2) - 1) && bad++ < 5)
                fprintf(stderr, "  w2 %zu, index %zu: %d %d\n", p.w2, i, (int)ix, (int)iy);
        }
    }
    CHECK_MSG(bad == 0, "%zu wrong rows or columns", bad);
}

/* The two flood fills (a queue of pixels; rows of bits) reach the same pixels: random grids up to
   64 pixels a row (bit 63 included), values with many ties, thresholds above the seed (an alpha
   over 1), seeds anywhere, many fills on one set of rows (their stamps); every row kernel. */
static void test_fill_rows_equal_pixels(void)
{
    enum { NX = 70, NY = 64, W2 = NY + 2, NPAD = (NX + 2) * W2 };
    static double z[NPAD];
    static uint8_t by_pixels[NPAD], by_rows[NPAD];
    static int32_t queue[NX * NY], stack[NX];
    static p2d__row rows[NX + 2];
    int trial, bad = 0, filled_rows = 0, nv = p2d__kernel_level() + 1;
    p2d__work w;
    memset(&w, 0, sizeof w);
    memset(rows, 0, sizeof rows);
    w.queue = queue, w.rows = rows, w.row_stack = stack;
    for (trial = 0; trial < 3000 * nv; trial++) {
        p2d__plan p;
        size_t i, ix, iy, seed;
        int levels = 2 + trial % 7;
        double thr;
        memset(&p, 0, sizeof p);
        p.n_x = 1 + rng_next() % NX, p.n_y = trial % 5 == 0 ? (size_t)NY : 1 + rng_next() % NY, p.w2 = p.n_y + 2;
        p.row_fill = 1;
        p2d__row_divisor(&p);
        for (i = 0; i < NPAD; i++) z[i] = -HUGE_VAL;
        for (ix = 1; ix <= p.n_x; ix++)
            for (iy = 1; iy <= p.n_y; iy++) z[ix * p.w2 + iy] = (double)(rng_next() % (uint64_t)levels);
        seed = (1 + rng_next() % p.n_x) * p.w2 + 1 + rng_next() % p.n_y;
        thr = trial % 11 == 0 ? (double)levels : (double)(rng_next() % (uint64_t)levels);
        memset(by_pixels, 0, sizeof by_pixels);
        memset(by_rows, 0, sizeof by_rows);
        w.at_least = p2d__at_least_kernels[trial % nv];
        p2d__fill_pixels(&p, &w, z, seed, thr, by_pixels, 1, 4);
        p2d__fill_rows(&p, &w, z, seed, thr, by_rows, 1, 4);
        filled_rows += count_ones(by_rows, NPAD) > p.n_y;
        if (memcmp(by_pixels, by_rows, sizeof by_rows) && bad++ < 5)
            fprintf(stderr, "  %s, %zu x %zu, seed %zu, thr %g: %zu pixels by pixels, %zu by rows\n", KERNEL_NAMES[trial % nv],
                    p.n_x, p.n_y, seed, thr, count_ones(by_pixels, NPAD), count_ones(by_rows, NPAD));
    }
    CHECK_MSG(bad == 0, "%d fills differ", bad);
    CHECK(filled_rows > 300); /* regions that span rows, not only seeds */
}

/* Through whole runs: slices with rows longer than 64 pixels take the pixel fill, their
   transposes the row fill; the masks must be transposes too (continuous values: one maximum). */
static void test_fill_paths_in_runs(void)
{
    enum { NX = 9, NY = 70, NT = 12, NA = 3 };
    static double z[NX * NY * NT], zt[NY * NX * NT];
    static uint8_t m[NA * NX * NY * NT], mt[NA * NY * NX * NT];
    const double alphas[NA] = {0.2, 0.5, 0.8};
    size_t x, y, t, a, bad = 0, ones = 0;
    for (x = 0; x < NX; x++)
        for (y = 0; y < NY; y++)
            for (t = 0; t < NT; t++) {
                double v = sin(0.3 * (double)x + 0.11 * (double)y * (double)(t + 1)) + 1e-3 * (double)(rng_next() % 1000);
                z[(x * NY + y) * NT + t] = v;
                zt[(y * NX + x) * NT + t] = v;
            }
    CHECK(run_cube(z, TP_F64, NX, NY, NT, P2D_MODE_EXACT, 8, alphas, NA, 0, m, 1, NULL, NULL) == TP_OK);
    CHECK(run_cube(zt, TP_F64, NY, NX, NT, P2D_MODE_EXACT, 8, alphas, NA, 0, mt, 1, NULL, NULL) == TP_OK);
    for (a = 0; a < NA; a++)
        for (x = 0; x < NX; x++)
            for (y = 0; y < NY; y++)
                for (t = 0; t < NT; t++) {
                    uint8_t u = m[((a * NX + x) * NY + y) * NT + t], v = mt[((a * NY + y) * NX + x) * NT + t];
                    bad += u != v;
                    ones += u;
                }
    CHECK_MSG(bad == 0, "%zu mask elements differ between the two fills", bad);
    CHECK(ones > NT * NA * 2 && ones < NA * NX * NY * NT); /* regions, not single pixels or everything */
}

/* ---- edge cases ---------------------------------------------------------------------------- */

static size_t mask_sum_1(const double *z, tp_dtype dtype, size_t nx, size_t ny, double alpha, collected *c, int mode)
{
    uint8_t m[64 * 64];
    CHECK(run_cube(z, dtype, nx, ny, 1, mode, 0, &alpha, 1, 0, m, 1, c, NULL) == TP_OK);
    return count_ones(m, nx * ny);
}

/* pyPho's answers on its edge cases (../shared/refdata/prom2d/edge_cases_pypho.json): the 5 x 6
   base slice with alphas 1.5, 0, 0.8, shifted by -2, and as float32. */
static void test_edge_pypho_reference(void)
{
    npy_array B = load("edge_base.npy"), E = load("edge_pypho_peaks.npy");
    double shifted[30];
    float f32[30];
    const double *want = (const double *)E.data;
    collected c;
    size_t i, k;
    CHECK(B.data && E.data && B.count == 30 && E.shape[1] == 5);
    if (!B.data || !E.data) return;
    for (i = 0; i < 30; i++) { shifted[i] = ((const double *)B.data)[i] - 2.0; f32[i] = (float)((const double *)B.data)[i]; }
    for (k = 0; k < 3; k++) {
        size_t sum;
        collected_init(&c, 1);
        if (k == 0) sum = mask_sum_1((const double *)B.data, TP_F64, 5, 6, 0.0, &c, P2D_MODE_PYPHO);
        else if (k == 1) sum = mask_sum_1(shifted, TP_F64, 5, 6, 0.5, &c, P2D_MODE_PYPHO);
        else sum = mask_sum_1((const double *)(const void *)f32, TP_F32, 5, 6, 0.5, &c, P2D_MODE_PYPHO);
        CHECK_MSG(sum == (k == 0 ? 30u : k == 1 ? 1u : 18u), "case %zu: mask of %zu pixels", k, sum);
        CHECK(c.n == 5);
        for (i = 0; i < c.n && i < 5; i++) {
            const double *w = want + (k * 5 + i) * 4;
            CHECK(c.peaks[i].ix == (int)w[0] && c.peaks[i].iy == (int)w[1]);
            CHECK_NEAR(c.peaks[i].height, w[2], 1e-15);
            CHECK_NEAR(c.peaks[i].prominence, w[3], 1e-12);
        }
        collected_free(&c);
    }
    collected_init(&c, 1);
    CHECK(mask_sum_1((const double *)B.data, TP_F64, 5, 6, 1.5, &c, P2D_MODE_PYPHO) == 1); /* seed only */
    CHECK(mask_sum_1((const double *)B.data, TP_F64, 5, 6, 0.8, &c, P2D_MODE_PYPHO) == 2);
    collected_free(&c);
    npy_free(&B); npy_free(&E);
}

static void test_edge_slices(void)
{
    double z[25], nanz[30];
    collected c;
    int mode, i;
    for (mode = 0; mode < 2; mode++) {
        uint8_t st2[2];
        /* constant and all-zero slices: no peaks, an all-false mask */
        for (i = 0; i < 16; i++) z[i] = 0.25;
        collected_init(&c, 1);
        CHECK(mask_sum_1(z, TP_F64, 4, 4, 0.5, &c, mode) == 0);
        CHECK(c.n == 0 && c.slices[0].status == P2D_SLICE_NO_PEAKS && c.slices[0].dom_ix == -1);
        for (i = 0; i < 16; i++) z[i] = mode ? -0.0 : 0.0;
        CHECK(mask_sum_1(z, TP_F64, 4, 4, 0.5, &c, mode) == 0 && c.n == 0);
        /* 1 x 1 */
        CHECK(mask_sum_1(z, TP_F64, 1, 1, 0.5, &c, mode) == 0 && c.n == 0);
        collected_free(&c);
        /* an infinite maximum: alpha < 0 gives thr = -inf (every pixel), alpha 0 a NaN thr and
           alpha > 0 thr = inf (the seed alone either way) */
        for (i = 0; i < 12; i++) z[i] = (double)(i % 5);
        z[7] = HUGE_VAL;
        collected_init(&c, 1);
        CHECK(mask_sum_1(z, TP_F64, 3, 4, -0.5, &c, mode) == 12);
        CHECK(mask_sum_1(z, TP_F64, 3, 4, 0.0, &c, mode) == 1);
        CHECK(mask_sum_1(z, TP_F64, 3, 4, 0.5, &c, mode) == 1);
        collected_free(&c);
        /* one NaN cell: a hole, the rest as before; every cell NaN: no peaks, all-false masks,
           NaN status (pyPho's old version crashes on either) */
        for (i = 0; i < 30; i++) nanz[i] = (double)(i % 7);
        nanz[2 * 6 + 3] = NAN;
        collected_init(&c, 1);
        CHECK(mask_sum_1(nanz, TP_F64, 5, 6, 0.5, &c, mode) > 0);
        CHECK(c.n > 0 && c.slices[0].status == P2D_SLICE_OK && c.slices[0].n_nan == 1 && c.slices[0].max == 6.0);
        collected_free(&c);
        for (i = 0; i < 30; i++) nanz[i] = NAN;
        collected_init(&c, 1);
        CHECK(mask_sum_1(nanz, TP_F64, 5, 6, 0.5, &c, mode) == 0);
        CHECK(c.n == 0 && c.slices[0].status == P2D_SLICE_NAN && isnan(c.slices[0].max) && c.slices[0].n_nan == 30 &&
              c.slices[0].dom_ix == -1);
        {
            p2d_desc d; p2d_cube cube; p2d_ctx *ctx; p2d_summary s;
            double two[60];
            memset(&d, 0, sizeof d); memset(&cube, 0, sizeof cube);
            for (i = 0; i < 60; i++) two[i] = i % 2 ? NAN : (i == 20 ? NAN : 1.0 + (double)(i % 9)); /* (5, 6, 2) */
            d.mode = (p2d_mode)mode;
            ctx = make_ctx(&d);
            cube.data = two; cube.dtype = TP_F64; cube.n_x = 5; cube.n_y = 6; cube.n_t = 2;
            CHECK(p2d_run(ctx, &cube, NULL, st2, &s, NULL) == TP_OK && st2[0] == P2D_SLICE_OK && st2[1] == P2D_SLICE_NAN &&
                  s.n_nan == 1 && s.n_with_holes == 1 && s.n_nan_cells == 31 && s.n_ok == 1);
            p2d_destroy(ctx);
        }
        collected_free(&c);
    }
    /* two equal maxima: the first in row-major order is dominant; exact mode gives the second a
       col at the first pixel joining them (8-connectivity: the diagonal (2,2)), prominence 1 */
    memset(z, 0, sizeof z);
    z[1 * 5 + 1] = 1.0; z[3 * 5 + 3] = 1.0;
    collected_init(&c, 1);
    CHECK(mask_sum_1(z, TP_F64, 5, 5, 0.5, &c, P2D_MODE_PYPHO) == 1);
    CHECK(c.n == 2 && c.slices[0].dominant == 0 && c.peaks[0].prominence == 1.0 && c.peaks[1].prominence == 1.0);
    collected_free(&c);
    collected_init(&c, 1);
    CHECK(mask_sum_1(z, TP_F64, 5, 5, 0.5, &c, P2D_MODE_EXACT) == 1);
    CHECK(c.n == 2 && c.slices[0].dominant == 0 && c.peaks[0].ix == 1 && c.peaks[0].parent == -1 &&
          isnan(c.peaks[0].col_level) && c.peaks[1].prominence == 1.0 && c.peaks[1].col_level == 0.0 &&
          c.peaks[1].col_ix == 2 && c.peaks[1].col_iy == 2 && c.peaks[1].parent == 0);
    collected_free(&c);
    /* a 2 x 2 plateau: pyPho lists its 4 pixels, exact mode one peak at its first pixel */
    memset(z, 0, sizeof z);
    z[6] = z[7] = z[11] = z[12] = 1.0;
    collected_init(&c, 1);
    CHECK(mask_sum_1(z, TP_F64, 5, 5, 0.5, &c, P2D_MODE_PYPHO) == 4);
    CHECK(c.n == 4 && c.peaks[3].ix == 2 && c.peaks[3].iy == 2 && c.peaks[3].prominence == 1.0);
    collected_free(&c);
    collected_init(&c, 1);
    CHECK(mask_sum_1(z, TP_F64, 5, 5, 0.5, &c, P2D_MODE_EXACT) == 4);
    CHECK(c.n == 1 && c.peaks[0].ix == 1 && c.peaks[0].iy == 1 && c.peaks[0].prominence == 1.0);
    collected_free(&c);
    /* diagonal neighbours 1.0 and 0.9: pyPho: one peak, prominence 0.1 (its definition);
       exact 8-connectivity: one peak; 4-connectivity: two, the lower with col 0 */
    memset(z, 0, sizeof z);
    z[1 * 4 + 1] = 1.0; z[2 * 4 + 2] = 0.9;
    collected_init(&c, 1);
    CHECK(mask_sum_1(z, TP_F64, 4, 4, 0.5, &c, P2D_MODE_PYPHO) == 1);
    CHECK(c.n == 1 && fabs(c.peaks[0].prominence - 0.1) < 1e-15);
    collected_free(&c);
    {
        collected c4;
        collected_init(&c4, 1);
        CHECK(run_cube(z, TP_F64, 4, 4, 1, P2D_MODE_EXACT, 4, NULL, 0, 0, NULL, 1, &c4, NULL) == TP_OK);
        CHECK(c4.n == 2 && c4.peaks[1].ix == 2 && c4.peaks[1].prominence == 0.9 && c4.peaks[1].parent == 0);
        collected_free(&c4);
        collected_init(&c4, 1);
        CHECK(run_cube(z, TP_F64, 4, 4, 1, P2D_MODE_EXACT, 8, NULL, 0, 0, NULL, 1, &c4, NULL) == TP_OK);
        CHECK(c4.n == 1 && c4.peaks[0].prominence == 1.0);
        collected_free(&c4);
    }
    /* 1 x N: peaks 3 (col 2, prominence 1) and 5 (the highest: 5 - 1) */
    {
        double row[5] = {1, 3, 2, 5, 4};
        collected_init(&c, 1);
        CHECK(run_cube(row, TP_F64, 1, 5, 1, P2D_MODE_EXACT, 8, NULL, 0, 0, NULL, 1, &c, NULL) == TP_OK);
        CHECK(c.n == 2 && c.peaks[0].iy == 1 && c.peaks[0].prominence == 1.0 && c.peaks[0].col_iy == 2 &&
              c.peaks[1].iy == 3 && c.peaks[1].prominence == 4.0 && c.peaks[0].parent == 1);
        collected_free(&c);
    }
}

/* ---- layouts, threads, chunks -------------------------------------------------------------- */

/* b's peaks equal a's from peak `from` on, b's bins numbered from bin_offset */
static int same_peaks_from(const collected *a, size_t from, const collected *b, size_t bin_offset)
{
    size_t i;
    if (from + b->n > a->n) return 0;
    for (i = 0; i < b->n; i++) {
        const p2d_peak *x = a->peaks + from + i, *y = b->peaks + i;
        if (a->bin_of[from + i] != b->bin_of[i] + bin_offset || x->ix != y->ix || x->iy != y->iy || x->height != y->height ||
            x->prominence != y->prominence || x->col_ix != y->col_ix || x->col_iy != y->col_iy || x->parent != y->parent)
            return 0;
    }
    return 1;
}

static int same_peaks(const collected *a, const collected *b) { return a->n == b->n && same_peaks_from(a, 0, b, 0); }

/* The cube stored time-slowest (t, x, y), as float32, and masks in a (t, alpha, x, y) layout give
   the same answers as the C-order double cube. */
static void test_strides_and_float(void)
{
    npy_array P = load("posterior_200.npy");
    size_t nx, ny, nt = 40, i, t, a, bad = 0;
    double *txy;
    float *f32;
    uint8_t *m_ref, *m_txy;
    collected ref, other;
    p2d_desc d;
    p2d_cube cube;
    p2d_masks m;
    p2d_ctx *ctx;
    int mode;
    CHECK(P.data != NULL);
    if (!P.data) return;
    nx = P.shape[0]; ny = P.shape[1];
    txy = (double *)malloc(nx * ny * nt * sizeof(double));
    f32 = (float *)malloc(nx * ny * P.shape[2] * sizeof(float));
    m_ref = (uint8_t *)malloc(3 * nx * ny * P.shape[2]);
    m_txy = (uint8_t *)malloc(3 * nx * ny * P.shape[2]);
    for (i = 0; i < nx * ny; i++)
        for (t = 0; t < nt; t++) txy[t * nx * ny + i] = ((const double *)P.data)[i * P.shape[2] + t];
    for (mode = 0; mode < 2; mode++) {
        collected_init(&ref, nt);
        collected_init(&other, nt);
        memset(&d, 0, sizeof d);
        d.mode = (p2d_mode)mode; d.alphas = ALPHAS; d.n_alpha = 3; d.on_slice = collect; d.user = &ref;
        ctx = make_ctx(&d);
        memset(&cube, 0, sizeof cube);
        cube.data = P.data; cube.dtype = TP_F64; cube.n_x = nx; cube.n_y = ny; cube.n_t = nt;
        cube.stride_x = (ptrdiff_t)(ny * P.shape[2]); cube.stride_y = (ptrdiff_t)P.shape[2]; cube.stride_t = 1;
        memset(&m, 0, sizeof m);
        m.data = m_ref; m.stride_alpha = (ptrdiff_t)(nx * ny * nt); m.stride_x = (ptrdiff_t)(ny * nt);
        m.stride_y = (ptrdiff_t)nt; m.stride_t = 1;
        CHECK(p2d_run(ctx, &cube, &m, NULL, NULL, NULL) == TP_OK);
        p2d_destroy(ctx);
        d.user = &other;
        ctx = make_ctx(&d);
        cube.data = txy; cube.stride_x = (ptrdiff_t)ny; cube.stride_y = 1; cube.stride_t = (ptrdiff_t)(nx * ny);
        m.data = m_txy; m.stride_t = (ptrdiff_t)(3 * nx * ny); m.stride_alpha = (ptrdiff_t)(nx * ny);
        m.stride_x = (ptrdiff_t)ny; m.stride_y = 1;
        CHECK(p2d_run(ctx, &cube, &m, NULL, NULL, NULL) == TP_OK);
        p2d_destroy(ctx);
        CHECK(ref.n > 0 && same_peaks(&ref, &other));
        for (a = 0; a < 3; a++)
            for (i = 0; i < nx * ny; i++)
                for (t = 0; t < nt; t++) bad += m_ref[(a * nx * ny + i) * nt + t] != m_txy[t * 3 * nx * ny + a * nx * ny + i];
        CHECK_MSG(bad == 0, "%zu mask elements differ", bad);
        collected_free(&other);
        collected_free(&ref);
    }
    /* float32: the same peaks as the double cube made of the same (float) values */
    {
        double *widened = (double *)malloc(nx * ny * P.shape[2] * sizeof(double));
        for (i = 0; i < nx * ny * P.shape[2]; i++) {
            f32[i] = (float)((const double *)P.data)[i];
            widened[i] = f32[i];
        }
        collected_init(&ref, P.shape[2]);
        collected_init(&other, P.shape[2]);
        CHECK(run_cube(widened, TP_F64, nx, ny, P.shape[2], P2D_MODE_EXACT, 8, ALPHAS, 3, 0, m_ref, 1, &ref, NULL) == TP_OK);
        CHECK(run_cube((const double *)(const void *)f32, TP_F32, nx, ny, P.shape[2], P2D_MODE_EXACT, 8, ALPHAS, 3, 0,
                       m_txy, 1, &other, NULL) == TP_OK);
        CHECK(ref.n > 0 && same_peaks(&ref, &other));
        collected_free(&other);
        collected_free(&ref);
        free(widened);
    }
    free(txy); free(f32); free(m_ref); free(m_txy);
    npy_free(&P);
}

/* Results do not depend on the thread count, nor on running the cube in two pieces. */
#ifndef TP_NO_THREADS

/* A worker thread that cannot start: the run goes on with the others, says so to the pool's
   logger and in the summary, and gives the one-thread results. */
static void test_thread_start_fails(void)
{
    npy_array P = load("posterior_200.npy");
    collected one, some;
    tp_desc pd;
    tp_pool *pool = NULL;
    p2d_desc d;
    p2d_cube cube;
    p2d_masks m;
    p2d_ctx *ctx;
    p2d_summary s;
    captured_log log;
    uint8_t *m1, *m2;
    size_t nbytes;
    CHECK(P.data != NULL);
    if (!P.data) return;
    memset(&log, 0, sizeof log);
    memset(&pd, 0, sizeof pd);
    pd.log.fn = capture_log;
    pd.log.user = &log;
    tp_create(&pd, &pool, NULL);
    p2d_masks_bytes(3, P.shape[0], P.shape[1], P.shape[2], 1, &nbytes, NULL);
    m1 = (uint8_t *)calloc(nbytes, 1);
    m2 = (uint8_t *)calloc(nbytes, 1);
    collected_init(&one, P.shape[2]);
    collected_init(&some, P.shape[2]);
    memset(&cube, 0, sizeof cube);
    cube.data = P.data; cube.dtype = TP_F64; cube.n_x = P.shape[0]; cube.n_y = P.shape[1]; cube.n_t = P.shape[2];
    memset(&m, 0, sizeof m);
    m.packed = 1;
    memset(&d, 0, sizeof d);
    d.pool = pool; d.alphas = ALPHAS; d.n_alpha = 3; d.on_slice = collect; d.user = &one; d.n_threads = 1;
    ctx = make_ctx(&d);
    m.data = m1;
    CHECK(p2d_run(ctx, &cube, &m, NULL, NULL, NULL) == TP_OK && log.count == 0);
    p2d_destroy(ctx);
    d.user = &some; d.n_threads = 3;
    ctx = make_ctx(&d);
    m.data = m2;
    tf_fail_from(2);
    CHECK(p2d_run(ctx, &cube, &m, NULL, &s, NULL) == TP_OK);
    tf_fail_from(0);
    p2d_destroy(ctx);
    CHECK_MSG(s.n_workers == 2 && log.count == 1 && strstr(log.text, "could not start") && strstr(log.text, "not 3"), "%d: %s",
              s.n_workers, log.text);
    CHECK(one.n == some.n && same_peaks_from(&one, 0, &some, 0) && memcmp(m1, m2, nbytes) == 0);
    collected_free(&one);
    collected_free(&some);
    free(m1);
    free(m2);
    tp_destroy(pool);
    npy_free(&P);
}
#endif

/* Regions, widths and labels of a whole run, appended bin by bin */
typedef struct geom_run {
    p2d_geom *geom;
    uint16_t *labels;
    size_t n, cap, n_labels, cells;
} geom_run;

static int collect_run_geom(void *user, const p2d_slice *s)
{
    geom_run *g = (geom_run *)user;
    if (g->n + 2 * s->n_peaks > g->cap) {
        g->cap = (g->n + 2 * s->n_peaks) * 2;
        g->geom = (p2d_geom *)realloc(g->geom, g->cap * sizeof *g->geom);
    }
    memcpy(g->geom + g->n, s->geom, s->n_peaks * sizeof *g->geom);
    memcpy(g->geom + g->n + s->n_peaks, s->widths, s->n_peaks * sizeof *g->geom);
    g->n += 2 * s->n_peaks;
    memcpy(g->labels + s->t * g->cells, s->labels, g->cells * sizeof *g->labels);
    return 0;
}

/* The regions do not depend on the thread count either (posterior_200, 1 and 3 workers) */
static void test_geometry_threads_identical(void)
{
    static const double half[1] = {0.5};
    npy_array P = load("posterior_200.npy");
    geom_run a, b;
    int k;
    CHECK(P.data != NULL);
    if (!P.data) return;
    for (k = 0; k < 2; k++) {
        geom_run *g = k ? &b : &a;
        p2d_desc d;
        p2d_cube cube;
        p2d_ctx *ctx;
        memset(g, 0, sizeof *g);
        g->cells = P.shape[0] * P.shape[1];
        g->labels = (uint16_t *)malloc(g->cells * P.shape[2] * sizeof(uint16_t));
        memset(&d, 0, sizeof d); memset(&cube, 0, sizeof cube);
        d.geometry = 1, d.widths = half, d.n_widths = 1, d.labels = 1, d.n_threads = k ? 3 : 1;
        d.on_slice = collect_run_geom, d.user = g;
        cube.data = P.data; cube.dtype = TP_F64; cube.n_x = P.shape[0]; cube.n_y = P.shape[1]; cube.n_t = P.shape[2];
        ctx = make_ctx(&d);
        CHECK(ctx && p2d_run(ctx, &cube, NULL, NULL, NULL, NULL) == TP_OK);
        p2d_destroy(ctx);
    }
    CHECK(a.n == b.n && a.n > 1000 && !memcmp(a.geom, b.geom, a.n * sizeof *a.geom));
    CHECK(!memcmp(a.labels, b.labels, a.cells * P.shape[2] * sizeof(uint16_t)));
    free(a.geom), free(b.geom), free(a.labels), free(b.labels);
    npy_free(&P);
}

static void test_threads_and_pieces_identical(void)
{
    npy_array P = load("posterior_200.npy");
    size_t nx, ny, nt, nbytes;
    int mode, threads;
    CHECK(P.data != NULL);
    if (!P.data) return;
    nx = P.shape[0]; ny = P.shape[1]; nt = P.shape[2];
    p2d_masks_bytes(3, nx, ny, nt, 1, &nbytes, NULL);
    for (mode = 0; mode < 2; mode++) {
        collected one, many;
        uint8_t *m1 = (uint8_t *)malloc(nbytes), *m2 = (uint8_t *)malloc(nbytes);
        collected_init(&one, nt);
        CHECK(run_cube((const double *)P.data, TP_F64, nx, ny, nt, mode, 8, ALPHAS, 3, 1, m1, 1, &one, NULL) == TP_OK);
        for (threads = 2; threads <= 5; threads += 3) {
            p2d_summary s;
            collected_init(&many, nt);
            memset(m2, 0xAB, nbytes);
            CHECK(run_cube((const double *)P.data, TP_F64, nx, ny, nt, mode, 8, ALPHAS, 3, 1, m2, threads, &many, &s) == TP_OK);
            CHECK(s.n_workers == (strstr(tp_build_info(), "no-threads") ? 1 : threads) && s.n_ok == nt && s.n_peaks == many.n);
            CHECK(same_peaks(&one, &many));
            CHECK(memcmp(m1, m2, nbytes) == 0);
            collected_free(&many);
        }
        /* bins 0..103 and 104..199 as two runs (104: a multiple of 8, as packed masks need) */
        {
            p2d_desc d; p2d_cube cube; p2d_masks m; p2d_ctx *ctx;
            collected h1, h2;
            size_t split = 104;
            collected_init(&h1, split);
            collected_init(&h2, nt - split);
            memset(&d, 0, sizeof d);
            d.mode = (p2d_mode)mode; d.alphas = ALPHAS; d.n_alpha = 3; d.on_slice = collect; d.user = &h1;
            ctx = make_ctx(&d);
            memset(&cube, 0, sizeof cube);
            memset(&m, 0, sizeof m);
            cube.dtype = TP_F64; cube.n_x = nx; cube.n_y = ny; cube.stride_x = (ptrdiff_t)(ny * nt); cube.stride_y = (ptrdiff_t)nt; cube.stride_t = 1;
            m.packed = 1; m.stride_alpha = (ptrdiff_t)(nx * ny * (nt / 8)); m.stride_x = (ptrdiff_t)(ny * (nt / 8));
            m.stride_y = (ptrdiff_t)(nt / 8); m.stride_t = 1;
            memset(m2, 0xAB, nbytes);
            cube.data = P.data; cube.n_t = split; m.data = m2;
            CHECK(p2d_run(ctx, &cube, &m, NULL, NULL, NULL) == TP_OK);
            p2d_destroy(ctx);
            d.user = &h2;
            ctx = make_ctx(&d);
            cube.data = (const double *)P.data + split; cube.n_t = nt - split; m.data = m2 + split / 8;
            CHECK(p2d_run(ctx, &cube, &m, NULL, NULL, NULL) == TP_OK);
            p2d_destroy(ctx);
            CHECK(h1.n + h2.n == one.n && same_peaks_from(&one, 0, &h1, 0) && same_peaks_from(&one, h1.n, &h2, split));
            CHECK(memcmp(m1, m2, nbytes) == 0);
            collected_free(&h1);
            collected_free(&h2);
        }
        collected_free(&one);
        free(m1); free(m2);
    }
    npy_free(&P);
}

/* Byte masks equal the bit-packed ones bit for bit for every length of the last group of 8 bins
   and of the last unit of 64 (the byte writer stores 8 bins at once where it can), and nothing is
   written past the last bin (a canary after the buffer). */
static void test_byte_masks_every_tail(void)
{
    static const size_t lengths[] = {1, 2, 7, 8, 9, 15, 17, 63, 64, 65, 71, 127, 129};
    const size_t nx = 5, ny = 6, guard = 16;
    size_t li;
    for (li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        size_t nt = lengths[li], npk = 0, nby = 0, i, a, t, bad = 0;
        double *cube = (double *)malloc(nx * ny * nt * sizeof(double));
        uint8_t *packed, *bytes;
        for (i = 0; i < nx * ny * nt; i++) cube[i] = (double)(rng_next() % 1000) / 1000.0;
        CHECK(p2d_masks_bytes(3, nx, ny, nt, 1, &npk, NULL) == TP_OK && p2d_masks_bytes(3, nx, ny, nt, 0, &nby, NULL) == TP_OK);
        packed = (uint8_t *)malloc(npk);
        bytes = (uint8_t *)malloc(nby + guard);
        memset(bytes, 0xAB, nby + guard);
        CHECK(run_cube(cube, TP_F64, nx, ny, nt, P2D_MODE_PYPHO, 0, ALPHAS, 3, 1, packed, 1, NULL, NULL) == TP_OK);
        CHECK(run_cube(cube, TP_F64, nx, ny, nt, P2D_MODE_PYPHO, 0, ALPHAS, 3, 0, bytes, 1, NULL, NULL) == TP_OK);
        for (a = 0; a < 3 * nx * ny; a++) /* (alpha, x, y) rows */
            for (t = 0; t < nt; t++)
                bad += bytes[a * nt + t] != (packed[a * ((nt + 7) / 8) + t / 8] >> (t % 8) & 1);
        for (i = nby; i < nby + guard; i++) bad += bytes[i] != 0xAB;
        CHECK_MSG(bad == 0, "n_t %zu: %zu bytes differ", nt, bad);
        free(cube); free(packed); free(bytes);
    }
}

/* ---- memory, cancel, options, bad input ------------------------------------------------------ */

static int cancel_progress(void *user, uint64_t done, uint64_t total) { (void)user; return done * 10 > total * 3; }

/* p2d_estimate_bytes is what the run takes from the pool, the run holds nothing afterwards, a
   budget below the estimate fails cleanly, and cancel leaves nothing behind. */
static void test_memory_estimate_and_cancel(void)
{
    npy_array P = load("posterior_200.npy");
    tp_desc pd;
    tp_pool *pool;
    p2d_desc d;
    p2d_cube cube;
    p2d_masks m;
    p2d_ctx *ctx;
    p2d_summary s;
    collected c;
    size_t est, nbytes, live0;
    uint8_t *masks;
    tp_stats st;
    tp_error err;
    int mode, threads;
    CHECK(P.data != NULL);
    if (!P.data) return;
    p2d_masks_bytes(3, P.shape[0], P.shape[1], P.shape[2], 0, &nbytes, NULL);
    masks = (uint8_t *)malloc(nbytes);
    memset(&cube, 0, sizeof cube);
    cube.data = P.data; cube.dtype = TP_F64; cube.n_x = P.shape[0]; cube.n_y = P.shape[1]; cube.n_t = P.shape[2];
    memset(&m, 0, sizeof m);
    m.data = masks;
    /* the run's peak is the estimate, to the byte, in every configuration: peaks exact, pyPho or
       none, or exact with regions, widths, labels and periodic edges; masks as bytes, bits or
       none; one to three workers; both connectivities; a 2-D posterior, a short cube and a 1-D
       profile */
    for (mode = 0; mode < 4; mode++)
        for (threads = 1; threads <= 3; threads++) {
            static const size_t shapes[3][3] = {{0, 0, 0}, {7, 5, 9}, {1, 300, 20}};
            int shape, kind;
            for (shape = 0; shape < 3; shape++)
                for (kind = 0; kind < 3; kind++) {
                    p2d_cube c2 = cube;
                    size_t peak;
                    if (shape) {
                        c2.n_x = shapes[shape][0], c2.n_y = shapes[shape][1], c2.n_t = shapes[shape][2];
                        c2.stride_x = (ptrdiff_t)(P.shape[1] * P.shape[2]), c2.stride_y = (ptrdiff_t)P.shape[2], c2.stride_t = 1;
                    }
                    tp_create(NULL, &pool, NULL);
                    collected_init(&c, c2.n_t);
                    memset(&d, 0, sizeof d);
                    d.pool = pool; d.mode = mode == 1 ? P2D_MODE_PYPHO : P2D_MODE_EXACT; d.skip_peaks = mode == 2;
                    d.connectivity = threads == 2 ? 4 : 8;
                    d.alphas = ALPHAS; d.n_alpha = kind < 2 ? 3 : 0; d.on_slice = collect; d.user = &c;
                    d.n_threads = threads;
                    if (mode == 3) {
                        d.geometry = 1, d.widths = WIDTHS, d.n_widths = 2, d.labels = 1;
                        d.periodic = (p2d_periodic)(1 + shape % 3);
                    }
                    m.packed = kind == 1;
                    CHECK(p2d_estimate_bytes(&d, c2.n_x, c2.n_y, c2.n_t, &est, NULL) == TP_OK && est > 0);
                    ctx = make_ctx(&d);
                    live0 = tp_get_stats(pool).bytes_requested;
                    tp_reset_peak(pool);
                    CHECK(p2d_run(ctx, &c2, kind < 2 ? &m : NULL, NULL, &s, NULL) == TP_OK);
                    st = tp_get_stats(pool);
                    peak = st.peak_requested - live0;
                    CHECK_MSG(peak <= est && peak >= est - est / 10 && s.scratch_bytes == est,
                              "mode %d, %d threads, shape %d, masks %d: peak %zu, estimate %zu", mode, threads, shape, kind, peak, est);
                    CHECK(st.bytes_requested == live0);
                    p2d_destroy(ctx);
                    collected_free(&c);
                    tp_destroy(pool);
                }
        }
    m.packed = 0;
    /* the estimate does not grow with n_t (past one block) */
    {
        size_t e1 = 0, e2 = 1;
        memset(&d, 0, sizeof d);
        d.mode = P2D_MODE_EXACT; d.alphas = ALPHAS; d.n_alpha = 3; d.on_slice = collect;
        CHECK(p2d_estimate_bytes(&d, 41, 63, 1000, &e1, NULL) == TP_OK && p2d_estimate_bytes(&d, 41, 63, 100000, &e2, NULL) == TP_OK);
        CHECK(e1 == e2 && e1 < ((size_t)8 << 20));
    }
    /* a budget below the estimate: TP_ERR_BUDGET with a message, nothing held */
    memset(&pd, 0, sizeof pd);
    pd.budget_bytes = 256 * 1024;
    tp_create(&pd, &pool, NULL);
    memset(&d, 0, sizeof d);
    d.pool = pool; d.alphas = ALPHAS; d.n_alpha = 3; d.on_slice = collect;
    collected_init(&c, cube.n_t);
    d.user = &c;
    ctx = make_ctx(&d);
    live0 = tp_get_stats(pool).bytes_live;
    CHECK(p2d_run(ctx, &cube, &m, NULL, NULL, &err) == TP_ERR_BUDGET);
    CHECK(strstr(err.message, "scratch") != NULL && strstr(err.message, "over budget") != NULL);
    CHECK(tp_get_stats(pool).bytes_live == live0);
    p2d_destroy(ctx);
    tp_destroy(pool);
    collected_free(&c);
    /* cancel from on_slice and from progress, with 1 and 2 threads: distinct result, no leak */
    for (threads = 1; threads <= 2; threads++) {
        tp_create(NULL, &pool, NULL);
        collected_init(&c, cube.n_t);
        c.cancel_at = 50;
        memset(&d, 0, sizeof d);
        d.pool = pool; d.alphas = ALPHAS; d.n_alpha = 3; d.on_slice = collect; d.user = &c; d.n_threads = threads;
        ctx = make_ctx(&d);
        live0 = tp_get_stats(pool).bytes_live;
        CHECK(p2d_run(ctx, &cube, &m, NULL, NULL, NULL) == TP_ERR_CANCELLED);
        CHECK(tp_get_stats(pool).bytes_live == live0);
        p2d_destroy(ctx);
        d.on_slice = NULL; d.progress = cancel_progress;
        ctx = make_ctx(&d);
        CHECK(p2d_run(ctx, &cube, &m, NULL, NULL, &err) == TP_ERR_CANCELLED);
        CHECK(strstr(err.message, "cancel") != NULL && err.code == TP_ERR_CANCELLED);
        p2d_destroy(ctx);
        collected_free(&c);
        tp_destroy(pool);
    }
    free(masks);
    npy_free(&P);
}

/* min_prominence keeps exactly the peaks at or above it; skip_peaks still reports the dominant
   position, min and max. */
static void test_options(void)
{
    npy_array P = load("posterior_200.npy");
    collected all, some;
    p2d_desc d;
    p2d_cube cube;
    p2d_ctx *ctx;
    size_t i, want = 0, nt = 30;
    CHECK(P.data != NULL);
    if (!P.data) return;
    memset(&cube, 0, sizeof cube);
    cube.data = P.data; cube.dtype = TP_F64; cube.n_x = P.shape[0]; cube.n_y = P.shape[1]; cube.n_t = nt;
    cube.stride_x = (ptrdiff_t)(P.shape[1] * P.shape[2]); cube.stride_y = (ptrdiff_t)P.shape[2]; cube.stride_t = 1;
    collected_init(&all, nt);
    collected_init(&some, nt);
    memset(&d, 0, sizeof d);
    d.on_slice = collect; d.user = &all;
    ctx = make_ctx(&d);
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, NULL) == TP_OK);
    p2d_destroy(ctx);
    for (i = 0; i < all.n; i++) want += all.peaks[i].prominence >= 1e-5;
    d.user = &some; d.min_prominence = 1e-5;
    ctx = make_ctx(&d);
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, NULL) == TP_OK);
    p2d_destroy(ctx);
    CHECK(some.n == want && want > 0 && want < all.n);
    collected_free(&some);
    collected_init(&some, nt);
    d.min_prominence = 0; d.skip_peaks = 1;
    ctx = make_ctx(&d);
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, NULL) == TP_OK);
    p2d_destroy(ctx);
    CHECK(some.n == 0);
    for (i = 0; i < nt; i++) {
        const p2d_peak *dom = all.peaks + all.first[i] + (size_t)all.slices[i].dominant;
        CHECK(all.slices[i].dominant >= 0 && some.slices[i].dominant == -1);
        CHECK(some.slices[i].dom_ix == dom->ix && some.slices[i].dom_iy == dom->iy && some.slices[i].max == dom->height);
    }
    collected_free(&some);
    collected_free(&all);
    npy_free(&P);
}

static void test_bad_input(void)
{
    p2d_desc d;
    p2d_cube cube;
    p2d_ctx *ctx = (p2d_ctx *)&d; /* p2d_create must set it to NULL on failure */
    tp_error e;
    double one = 1.0, nan_alpha = NAN;
    size_t bytes;
    memset(&d, 0, sizeof d);
    d.mode = (p2d_mode)7;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && ctx == NULL && strstr(e.message, "desc.mode"));
    d.mode = P2D_MODE_EXACT; d.connectivity = 6;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "connectivity") && strstr(e.message, "6"));
    d.connectivity = 0; d.n_threads = -1;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "n_threads"));
    d.n_threads = TP_MAX_THREADS + 1;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG);
    d.n_threads = 0; d.periodic = (p2d_periodic)4;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "desc.periodic") && strstr(e.message, "4"));
    d.periodic = (p2d_periodic)-1;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "desc.periodic"));
    d.periodic = P2D_PERIODIC_X; d.mode = P2D_MODE_PYPHO;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "exact mode"));
    d.periodic = P2D_PERIODIC_NONE; d.mode = P2D_MODE_EXACT; d.valleys = 2;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "desc.valleys"));
    d.valleys = 0; d.geometry = 2;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "desc.geometry"));
    d.geometry = 0; d.labels = -1;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "desc.labels"));
    d.labels = 0; d.n_widths = 1;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "desc.widths is NULL"));
    {
        static const double bad_widths[4] = {0.0, 1.0, -0.5, NAN};
        int k;
        for (k = 0; k < 4; k++) {
            d.widths = bad_widths + k;
            CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "desc.widths[0]") && strstr(e.message, "(0, 1)"));
        }
    }
    d.widths = WIDTHS; d.mode = P2D_MODE_PYPHO;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "need exact mode"));
    d.n_widths = 0; d.min_area = 3;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "need exact mode"));
    d.min_area = 0; d.mode = P2D_MODE_EXACT; d.widths = NULL; d.n_alpha = 1;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "alphas")); /* alphas NULL */
    d.alphas = &nan_alpha;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "alphas[0]"));
    d.alphas = &one; d.min_prominence = -1;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG && strstr(e.message, "min_prominence"));
    d.min_prominence = NAN;
    CHECK(p2d_create(&d, &ctx, &e) == TP_ERR_ARG);
    CHECK(p2d_create(&d, NULL, &e) == TP_ERR_ARG);
    d.min_prominence = 0;
    CHECK(p2d_create(&d, &ctx, &e) == TP_OK && ctx && e.code == TP_OK);
    CHECK(ctx && p2d_get_desc(ctx).connectivity == 8 && p2d_get_desc(ctx).n_threads == tp_thread_count(0) &&
          p2d_get_desc(ctx).alphas != &one && p2d_get_desc(ctx).alphas[0] == 1.0);
    memset(&cube, 0, sizeof cube);
    cube.data = &one; cube.dtype = TP_F64; cube.n_x = 1; cube.n_y = 1; cube.n_t = 1;
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, &e) == TP_ERR_ARG && strstr(e.message, "n_alpha is 1 but masks"));
    p2d_destroy(ctx);
    d.n_alpha = 0;
    ctx = make_ctx(&d);
    memset(&cube, 0, sizeof cube);
    CHECK(p2d_run(NULL, &cube, NULL, NULL, NULL, &e) == TP_ERR_ARG && strstr(e.message, "ctx"));
    CHECK(p2d_run(ctx, NULL, NULL, NULL, NULL, NULL) == TP_ERR_ARG);
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, &e) == TP_ERR_ARG && strstr(e.message, "NULL"));
    cube.data = &one; cube.dtype = TP_F64; cube.n_x = 1; cube.n_y = 0; cube.n_t = 1;
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, &e) == TP_ERR_ARG && strstr(e.message, "n_y"));
    cube.n_y = 1; cube.dtype = (tp_dtype)9;
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, &e) == TP_ERR_ARG && strstr(e.message, "cube.dtype"));
    cube.dtype = (tp_dtype)0; /* an unset element type is an error, not a default */
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, &e) == TP_ERR_ARG && strstr(e.message, "TP_F32"));
    /* sizes that overflow fail before the data is touched */
    cube.dtype = TP_F64; cube.n_x = (size_t)1 << 20; cube.n_y = (size_t)1 << 20;
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, NULL) == TP_ERR_OVERFLOW);
    cube.n_x = 41; cube.n_y = 63; cube.n_t = (size_t)-1 / 1000;
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, &e) == TP_ERR_OVERFLOW && strstr(e.message, "overflow"));
    CHECK(p2d_estimate_bytes(&d, 41, 63, (size_t)-1 / 1000, &bytes, NULL) == TP_ERR_OVERFLOW);
    CHECK(p2d_estimate_bytes(&d, 41, 0, 10, &bytes, &e) == TP_ERR_ARG && strstr(e.message, "p2d_estimate_bytes"));
    CHECK(p2d_estimate_bytes(NULL, 41, 63, 10, &bytes, NULL) == TP_ERR_ARG);
    CHECK(p2d_masks_bytes(3, (size_t)1 << 30, (size_t)1 << 30, 64, 0, &bytes, NULL) == TP_ERR_OVERFLOW);
    CHECK(p2d_masks_bytes(3, 41, 63, 100000, 1, &bytes, NULL) == TP_OK && bytes == 3u * 41 * 63 * 12500);
    CHECK(strncmp(p2d_build_info(), "prom2d 1.0.0 ", 13) == 0);
    p2d_destroy(ctx);
    p2d_destroy(NULL);
}

int main(void)
{
    RUN(test_pypho_reference);
    RUN(test_exact_reference_conn8);
    RUN(test_exact_reference_conn4);
    RUN(test_contour_agreement);
    RUN(test_random_against_brute_force);
    RUN(test_holes_periodic_valleys_against_brute_force);
    RUN(test_periodic_equals_gudhi);
    RUN(test_geometry_against_flood_fills);
    RUN(test_profiles_1d_against_scipy);
    RUN(test_upper_masks);
    RUN(test_range_kernels);
    RUN(test_rowcol_without_division);
    RUN(test_fill_rows_equal_pixels);
    RUN(test_fill_paths_in_runs);
    RUN(test_edge_pypho_reference);
    RUN(test_edge_slices);
    RUN(test_strides_and_float);
    RUN(test_threads_and_pieces_identical);
    RUN(test_geometry_threads_identical);
#ifndef TP_NO_THREADS
    RUN(test_thread_start_fails);
#endif
    RUN(test_byte_masks_every_tail);
    RUN(test_memory_estimate_and_cancel);
    RUN(test_options);
    RUN(test_bad_input);
    return tk_summary("prom2d");
}
