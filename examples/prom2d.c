/* prom2d - peaks, prominences and dominant-peak masks of every time bin of a posterior cube.

   build/prom2d --posterior p.npy --alpha 0.1,0.5,0.9 [--connectivity 4|8] [--mode exact|pypho]
                [--periodic x|y|xy] [--valleys] --peaks-out peaks.npy --masks-out masks.npy [--png-dir DIR]
                [--geometry-out g.npy [--widths F,...]] [--min-area N] [--labels-out labels.npy]
   build/prom2d --demo [--out DIR]

   p.npy: float32 or float64, shape (n_x, n_y, n_t), C order (time fastest, as numpy makes it), or
   (n_x, n_t) for a linear track. NaN cells are holes (prom2d.h section 2).
   peaks.npy: (n_rows, 6) float64 - t, ix, iy, height, prominence, col_level (NaN for the highest
   peak of a bin and in pypho mode), in time order, then row-major. Written as the run goes, so
   the peaks never have to fit in memory.
   g.npy: (n_rows, 7 * (1 + n_widths)) float64 aligned with peaks.npy's rows - area (cells),
   centroid_x, centroid_y, x0, x1, y0, y1 (inclusive box) of each peak's region, then the same 7 at
   each --widths fraction of its prominence (prom2d.h section 3a).
   labels.npy: uint16 (n_t, n_x, n_y): which peak owns each cell (its row within the bin + 1; 0 none).
   masks.npy: uint8 (n_alpha, n_x, n_y, n_t), 1 inside the dominant peak's region for that alpha;
   with --pack-masks: (n_alpha, n_x, n_y, ceil(n_t / 8)), bits along t, least significant first
   (np.unpackbits(m, axis=-1, count=n_t, bitorder='little') gives the byte cube back).
*/
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#define TENSORPOOL_IMPLEMENTATION
#define PROM2D_IMPLEMENTATION
#include "../prom2d.h"
#include "common/cli.h"
#include "common/npy.h"
#include "common/outputs.h"
#include "common/png.h"
#include "common/progress.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ALPHAS 16
#define MAX_PNG_BINS 4

typedef struct options {
    const char *posterior, *peaks_out, *masks_out, *png_dir, *out_dir, *geometry_out, *labels_out;
    double alphas[MAX_ALPHAS], widths[MAX_ALPHAS];
    size_t n_alpha, n_widths;
    long long min_area;
    int connectivity, mode, pack, demo, periodic, valleys;
    long long threads;
    double min_prominence;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: prom2d --posterior p.npy --alpha A[,A...] --peaks-out peaks.npy --masks-out masks.npy\n"
            "              [--mode exact|pypho] [--connectivity 4|8] [--min-prominence P] [--threads T]\n"
            "              [--periodic x|y|xy] [--valleys] [--pack-masks] [--png-dir DIR]\n"
            "              [--geometry-out g.npy [--widths F,...]] [--min-area N] [--labels-out labels.npy]\n"
            "       prom2d --demo [--out DIR]\n"
            "\n"
            "Peaks and their prominence for every time bin of a posterior cube (n_x, n_y, n_t), and for\n"
            "each alpha the 4-connected region of values >= alpha * (dominant peak height) around the\n"
            "dominant peak.\n"
            "  --posterior F       float32/float64 .npy, shape (n_x, n_y, n_t), or (n_x, n_t) for a linear\n"
            "                      track; NaN cells (unvisited places, walls) are holes in the map\n"
            "  --alpha LIST        mask thresholds, comma-separated (e.g. 0.1,0.5,0.9); none: no masks\n"
            "  --mode M            exact (topographic prominence, default) or pypho (reproduces\n"
            "                      pyPhoPlaceCellAnalysis' compute_2d_dt_posterior_peak_promenences)\n"
            "  --connectivity C    exact mode: 8 (default) or 4 neighbours\n"
            "  --min-prominence P  list only peaks with prominence >= P (default: all)\n"
            "  --periodic A        exact mode: the x (rows), y (columns) or xy edges wrap around, as on a\n"
            "                      circular or toroidal track\n"
            "  --valleys           the minima and their depth instead of the maxima (the masks hold the\n"
            "                      region around the deepest valley)\n"
            "  --peaks-out F       (n_rows, 6) float64: t, ix, iy, height, prominence, col_level\n"
            "  --masks-out F       uint8 (n_alpha, n_x, n_y, n_t)\n"
            "  --pack-masks        masks bit-packed along t (8x smaller), see the header of prom2d.c\n"
            "  --geometry-out F    exact mode: (n_rows, 7) float64 aligned with --peaks-out: area, centroid_x,\n"
            "                      centroid_y, x0, x1, y0, y1 of each peak's region (cells above its col)\n"
            "  --widths LIST       with --geometry-out: 7 more columns per fraction of the prominence, the\n"
            "                      region above height - F * prominence (e.g. 0.5: half-prominence width)\n"
            "  --min-area N        exact mode: list only peaks whose region has >= N cells\n"
            "  --labels-out F      exact mode: uint16 (n_t, n_x, n_y), which listed peak owns each cell\n"
            "                      (its row within the bin + 1; 0: none)\n"
            "  --threads T         worker threads (default 0: the CPUs this process may use); results do not\n"
            "                      depend on it\n"
            "  --png-dir DIR       PNGs of 4 bins (3 evenly spaced, and the one whose second peak is the\n"
            "                      most prominent): the posterior with its dominant peak, and the masks\n"
            "  --demo              a bump moving around a track with noise, 2000 bins, all outputs in\n"
            "                      --out DIR (default out/)\n"
            "  --help              this text\n");
}

#define fail(...) ex_error("prom2d", __VA_ARGS__)

/* 0: parsed, 1: help printed, -1: an error printed */
static int parse_args(int argc, char **argv, options *o)
{
    cli_opt t[18];
    size_t n = 0;
    int conn = 1, periodic = -1; /* 4|8: 8; x|y|xy: none */
    int rc;
    memset(o, 0, sizeof *o);
    t[n++] = cli_string("--posterior", &o->posterior);
    t[n++] = cli_doubles("--alpha", o->alphas, MAX_ALPHAS, &o->n_alpha, 0, 1, CLI_LO_OPEN,
                         "fractions of the dominant peak's height, comma-separated");
    t[n++] = cli_string("--peaks-out", &o->peaks_out);
    t[n++] = cli_string("--masks-out", &o->masks_out);
    t[n++] = cli_string("--png-dir", &o->png_dir);
    t[n++] = cli_string("--out", &o->out_dir);
    t[n++] = cli_choice("--mode", &o->mode, "exact|pypho");
    t[n++] = cli_choice("--connectivity", &conn, "4|8");
    t[n++] = cli_int("--threads", &o->threads, 0, TP_MAX_THREADS, "a number of threads (0: the usable CPUs)");
    t[n++] = cli_double("--min-prominence", &o->min_prominence, 0, HUGE_VAL, 0, "a prominence");
    t[n++] = cli_flag("--pack-masks", &o->pack);
    t[n++] = cli_flag("--demo", &o->demo);
    t[n++] = cli_choice("--periodic", &periodic, "x|y|xy");
    t[n++] = cli_flag("--valleys", &o->valleys);
    t[n++] = cli_string("--geometry-out", &o->geometry_out);
    t[n++] = cli_doubles("--widths", o->widths, MAX_ALPHAS, &o->n_widths, 0, 1, CLI_LO_OPEN | CLI_HI_OPEN,
                         "fractions of the prominence in (0, 1), comma-separated");
    t[n++] = cli_int("--min-area", &o->min_area, 0, 1LL << 40, "a number of cells");
    t[n++] = cli_string("--labels-out", &o->labels_out);
    rc = cli_parse("prom2d", argc, argv, t, n, usage);
    o->connectivity = conn ? 8 : 4;
    o->mode = o->mode ? P2D_MODE_PYPHO : P2D_MODE_EXACT;
    o->periodic = periodic + 1; /* P2D_PERIODIC_X, _Y, _XY */
    if (!rc && o->periodic && o->mode == P2D_MODE_PYPHO) {
        fprintf(stderr, "prom2d: --periodic needs --mode exact (pyPho's method has no periodic edges)\n");
        return -1;
    }
    if (!rc && o->mode == P2D_MODE_PYPHO && (o->geometry_out || o->min_area || o->labels_out)) {
        fprintf(stderr, "prom2d: --geometry-out, --min-area and --labels-out need --mode exact (pyPho's method has no "
                        "regions)\n");
        return -1;
    }
    if (!rc && o->n_widths && !o->geometry_out) {
        fprintf(stderr, "prom2d: --widths adds columns to --geometry-out: give --geometry-out too\n");
        return -1;
    }
    return rc;
}

/* ---- the demo's posterior: a bump running around a track, a weaker distractor, noise --------- */

static double uniform01(unsigned long long *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

static double *demo_posterior(size_t nx, size_t ny, size_t nt)
{
    double *cube = (double *)malloc(nx * ny * nt * sizeof(double)), *z = (double *)malloc(nx * ny * sizeof(double));
    unsigned long long seed = 42;
    size_t t, i, j;
    if (!cube || !z) { free(cube); free(z); return NULL; }
    for (t = 0; t < nt; t++) {
        double phase = 2 * 3.14159265358979 * (double)t / 500.0, sum = 0;
        double cx = 20 + 14 * cos(phase), cy = 31 + 24 * sin(phase);         /* the animal's lap */
        double dx = 20 + 14 * cos(phase + 2.5), dy = 31 + 24 * sin(phase + 2.5); /* a replayed place */
        double w = 0.35 + 0.3 * sin((double)t / 37.0), width = 2.5 + 1.5 * uniform01(&seed);
        for (i = 0; i < nx; i++)
            for (j = 0; j < ny; j++) {
                double a = ((double)i - cx) * ((double)i - cx) + ((double)j - cy) * ((double)j - cy);
                double b = ((double)i - dx) * ((double)i - dx) + ((double)j - dy) * ((double)j - dy);
                z[i * ny + j] = exp(-a / (2 * width * width)) + w * exp(-b / 8.0) + 0.05 + 0.04 * uniform01(&seed);
            }
        for (i = 0; i < nx * ny; i++) sum += z[i];
        for (i = 0; i < nx * ny; i++) cube[i * nt + t] = z[i] / sum;
    }
    free(z);
    return cube;
}

/* ---- outputs --------------------------------------------------------------------------------- */

typedef struct run_state {
    npy_stream peaks, geometry, labels;
    int writing, writing_geometry, writing_labels, failed;
    size_t n_widths;
    char err[256];
    /* pictured bins: those whose dominant peaks lie farthest apart, and (last) the bin whose
       second peak stands out most; dom: every bin's dominant peak (ix, iy; -1 without one) */
    size_t png_bins[MAX_PNG_BINS], n_png;
    int32_t *dom;
    double max_prominence;
    size_t max_prom_t;
    progress_bar bar;
} run_state;

/* desc.user goes to both callbacks: the bar lives in the run state */
static int on_progress(void *user, uint64_t done, uint64_t total)
{
    return progress_callback(&((run_state *)user)->bar, done, total);
}

/* The regions of a bin's peaks: 7 columns a region, the peak's own then each width's; 16 rows a
   write */
static int write_geometry(run_state *st, const p2d_slice *s)
{
    double rows[16 * 7 * (1 + MAX_ALPHAS)];
    size_t i, k, n = 0, cols = 7 * (1 + st->n_widths);
    for (i = 0; i < s->n_peaks; i++) {
        for (k = 0; k <= st->n_widths; k++) {
            const p2d_geom *g = k ? s->widths + i * st->n_widths + (k - 1) : s->geom + i;
            double *r = rows + n * cols + 7 * k;
            r[0] = g->area, r[1] = g->cx, r[2] = g->cy, r[3] = g->x0, r[4] = g->x1, r[5] = g->y0, r[6] = g->y1;
        }
        if ((++n == 16 || i + 1 == s->n_peaks) && npy_stream_rows(&st->geometry, rows, n, st->err, sizeof st->err)) return 1;
        n = n == 16 ? 0 : n;
    }
    return 0;
}

static int on_slice(void *user, const p2d_slice *s)
{
    run_state *st = (run_state *)user;
    double row[6 * 64];
    size_t i, n = 0;
    if (st->writing_geometry && write_geometry(st, s)) { st->failed = 1; return 1; }
    if (st->writing_labels && npy_stream_rows(&st->labels, s->labels, 1, st->err, sizeof st->err)) {
        st->failed = 1;
        return 1;
    }
    if (st->dom) st->dom[2 * s->t] = s->dom_ix, st->dom[2 * s->t + 1] = s->dom_iy;
    for (i = 0; i < s->n_peaks; i++) {
        const p2d_peak *p = s->peaks + i;
        if (p->parent >= 0 && p->prominence > st->max_prominence) {
            st->max_prominence = p->prominence;
            st->max_prom_t = s->t;
        }
        if (!st->writing) continue;
        row[n * 6 + 0] = (double)s->t;
        row[n * 6 + 1] = p->ix;
        row[n * 6 + 2] = p->iy;
        row[n * 6 + 3] = p->height;
        row[n * 6 + 4] = p->prominence;
        row[n * 6 + 5] = p->col_level;
        if (++n == 64 || i + 1 == s->n_peaks) {
            if (npy_stream_rows(&st->peaks, row, n, st->err, sizeof st->err)) { st->failed = 1; return 1; }
            n = 0;
        }
    }
    return 0;
}

/* The bins to picture: MAX_PNG_BINS - 1 whose dominant peaks lie farthest apart (each the bin
   farthest from those already taken, the first a bin with a peak), so that the pictures differ,
   and the bin whose second peak is the most prominent (if any) */
static void pick_png_bins(run_state *st, size_t nt)
{
    size_t t, k, first = nt;
    for (t = 0; t < nt && first == nt; t++)
        if (st->dom[2 * t] >= 0) first = t;
    st->n_png = 0;
    if (first == nt) return;
    st->png_bins[st->n_png++] = first;
    while (st->n_png < MAX_PNG_BINS - 1) {
        size_t best = nt;
        double best_d = 0;
        for (t = 0; t < nt; t++) {
            double d = HUGE_VAL;
            if (st->dom[2 * t] < 0) continue;
            for (k = 0; k < st->n_png; k++) {
                double dx = st->dom[2 * t] - st->dom[2 * st->png_bins[k]], dy = st->dom[2 * t + 1] - st->dom[2 * st->png_bins[k] + 1];
                if (dx * dx + dy * dy < d) d = dx * dx + dy * dy;
            }
            if (d > best_d) best_d = d, best = t;
        }
        if (best == nt) break; /* every bin's peak sits where one already pictured does */
        st->png_bins[st->n_png++] = best;
    }
    if (st->max_prominence > 0) st->png_bins[st->n_png++] = st->max_prom_t;
}

/* Two PNGs per pictured bin: the posterior (dominant peak circled) and the masks, drawn as the
   number of alphas whose region holds each pixel, so nested regions show as bands. */
static int write_pngs(const options *o, const run_state *st, const double *cube, int f32, size_t nx, size_t ny, size_t nt,
                      const uint8_t *masks, ex_outputs *outs)
{
    double *img = (double *)malloc(nx * ny * sizeof(double));
    size_t k, i, a;
    char path[1024], title[160], err[1200];
    const char *tmp;
    if (!img) return fail("%s", "out of memory for the pictures");
    for (k = 0; k < st->n_png; k++) {
        size_t t = st->png_bins[k];
        png_heatmap_opts h = png_heatmap_defaults();
        for (i = 0; i < nx * ny; i++) img[i] = f32 ? (double)((const float *)(const void *)cube)[i * nt + t] : cube[i * nt + t];
        snprintf(title, sizeof title, "posterior, bin %zu", t);
        h.title = title; h.xlabel = "y bin"; h.ylabel = "x bin"; h.cbar_label = "P";
        h.mark_row = st->dom[2 * t]; h.mark_col = st->dom[2 * t + 1];
        snprintf(path, sizeof path, "%s/bin%06zu_posterior.png", o->png_dir, t);
        if (!(tmp = ex_outputs_add(outs, path, err, sizeof err)) || png_heatmap(tmp, img, nx, ny, &h, err, sizeof err)) {
            free(img);
            return fail("%s", err);
        }
        if (!masks) continue;
        for (i = 0; i < nx * ny; i++) {
            img[i] = 0;
            for (a = 0; a < o->n_alpha; a++) {
                size_t at = (a * nx * ny + i) * (o->pack ? (nt + 7) / 8 : nt) + (o->pack ? t / 8 : t);
                img[i] += o->pack ? (masks[at] >> (t % 8)) & 1 : masks[at];
            }
        }
        snprintf(title, sizeof title, "masks, bin %zu: alphas inside (of %zu)", t, o->n_alpha);
        h.title = title; h.cbar_label = "alphas"; h.vmin = 0; h.vmax = (double)o->n_alpha;
        snprintf(path, sizeof path, "%s/bin%06zu_masks.png", o->png_dir, t);
        if (!(tmp = ex_outputs_add(outs, path, err, sizeof err)) || png_heatmap(tmp, img, nx, ny, &h, err, sizeof err)) {
            free(img);
            return fail("%s", err);
        }
    }
    free(img);
    return 0;
}

/* The files a run writes, declared before it starts: peaks and masks under temporary names in
   *peaks and *masks; the pictures' directory made (its files are declared when the bins to show
   are known) */
static int declare_outputs(const options *o, ex_outputs *outs, int want_masks, const char **peaks, const char **masks,
                           const char **geometry, const char **labels)
{
    char err[1200];
    *peaks = *masks = *geometry = *labels = NULL;
    if ((o->posterior && ex_outputs_input(outs, o->posterior, err, sizeof err)) ||
        (o->peaks_out && !(*peaks = ex_outputs_add(outs, o->peaks_out, err, sizeof err))) ||
        (o->geometry_out && !(*geometry = ex_outputs_add(outs, o->geometry_out, err, sizeof err))) ||
        (o->labels_out && !(*labels = ex_outputs_add(outs, o->labels_out, err, sizeof err))) ||
        (want_masks && !(*masks = ex_outputs_add(outs, o->masks_out, err, sizeof err))) ||
        (o->png_dir && ex_mkdir_p(o->png_dir, err, sizeof err)))
        return fail("%s", err);
    return 0;
}

static int run(const options *o, const void *data, int f32, size_t nx, size_t ny, size_t nt)
{
    p2d_desc d;
    p2d_cube cube;
    p2d_masks m;
    p2d_summary sum;
    p2d_ctx *ctx = NULL;
    tp_error err;
    tp_result r;
    run_state st;
    uint8_t *masks = NULL;
    npy_map mask_file;
    ex_outputs outs;
    const char *peaks_tmp, *masks_tmp, *geometry_tmp, *labels_tmp;
    size_t mask_bytes = 0;
    double t0;
    int rc = 1, mapped = 0;
    memset(&st, 0, sizeof st);
    memset(&d, 0, sizeof d);
    memset(&mask_file, 0, sizeof mask_file);
    d.mode = (p2d_mode)o->mode;
    d.connectivity = o->connectivity;
    d.alphas = o->alphas;
    d.n_alpha = o->masks_out ? o->n_alpha : 0;
    d.min_prominence = o->min_prominence;
    d.periodic = (p2d_periodic)o->periodic;
    d.valleys = o->valleys;
    d.geometry = o->geometry_out != NULL;
    d.widths = o->widths;
    d.n_widths = o->geometry_out ? o->n_widths : 0;
    d.min_area = (size_t)o->min_area;
    d.labels = o->labels_out != NULL;
    st.n_widths = d.n_widths;
    d.n_threads = (int)o->threads;
    d.on_slice = on_slice;
    d.user = &st;
    d.progress = on_progress;
    ex_outputs_init(&outs);
    if (declare_outputs(o, &outs, d.n_alpha > 0, &peaks_tmp, &masks_tmp, &geometry_tmp, &labels_tmp)) goto done;
    if (o->png_dir && !(st.dom = (int32_t *)malloc(2 * nt * sizeof(int32_t)))) { fail("%s", "out of memory for the pictures"); goto done; }
    if (d.n_alpha) { /* the masks are written straight into the output file's pages */
        size_t shape[4];
        shape[0] = d.n_alpha; shape[1] = nx; shape[2] = ny; shape[3] = o->pack ? (nt + 7) / 8 : nt;
        if (npy_map_create(&mask_file, masks_tmp, NPY_U1, 4, shape, st.err, sizeof st.err)) { fail("%s", st.err); goto done; }
        mapped = 1;
        masks = (uint8_t *)mask_file.data;
        mask_bytes = mask_file.bytes;
    }
    if (peaks_tmp) {
        if (npy_stream_open(&st.peaks, peaks_tmp, NPY_F8, 6, st.err, sizeof st.err)) { fail("%s", st.err); goto done; }
        st.writing = 1;
    }
    if (geometry_tmp) {
        if (npy_stream_open(&st.geometry, geometry_tmp, NPY_F8, 7 * (1 + d.n_widths), st.err, sizeof st.err)) {
            fail("%s", st.err);
            goto done;
        }
        st.writing_geometry = 1;
    }
    if (labels_tmp) {
        size_t tail[2];
        tail[0] = nx, tail[1] = ny;
        if (npy_stream_open_shape(&st.labels, labels_tmp, NPY_U2, 2, tail, st.err, sizeof st.err)) { fail("%s", st.err); goto done; }
        st.writing_labels = 1;
    }
    if (p2d_create(&d, &ctx, &err) != TP_OK) { fail("%s", err.message); goto done; }
    memset(&cube, 0, sizeof cube);
    cube.data = data; cube.dtype = f32 ? TP_F32 : TP_F64;
    cube.n_x = nx; cube.n_y = ny; cube.n_t = nt;
    memset(&m, 0, sizeof m);
    m.data = masks; m.packed = o->pack;
    progress_begin(&st.bar, "prom2d");
    t0 = progress_now();
    r = p2d_run(ctx, &cube, &m, NULL, &sum, &err);
    progress_end(&st.bar);
    if (st.writing && npy_stream_close(&st.peaks, st.err, sizeof st.err)) st.failed = 1;
    if (st.writing_geometry && npy_stream_close(&st.geometry, st.err, sizeof st.err)) st.failed = 1;
    if (st.writing_labels && npy_stream_close(&st.labels, st.err, sizeof st.err)) st.failed = 1;
    st.writing = st.writing_geometry = st.writing_labels = 0;
    if (r != TP_OK) { fail("%s", st.failed ? st.err : err.message); goto done; }
    if (st.failed) { fail("%s", st.err); goto done; }
    if (o->png_dir) pick_png_bins(&st, nt);
    if (o->png_dir && write_pngs(o, &st, (const double *)data, f32, nx, ny, nt, masks, &outs)) goto done;
    mapped = 0;
    if (d.n_alpha && npy_map_close(&mask_file, st.err, sizeof st.err)) { fail("%s", st.err); goto done; }
    if (ex_outputs_commit(&outs, st.err, sizeof st.err)) { fail("%s", st.err); goto done; }
    {
        double secs = progress_now() - t0;
        printf("prom2d: %zu bins of %zu x %zu (%s%s%s, %s), %llu %s, %zu ok / %zu constant / %zu all NaN, "
               "%.3f s (%.1f us/bin, %d thread%s), scratch %.1f MiB, masks %.1f MiB%s\n",
               nt, nx, ny, o->mode == P2D_MODE_PYPHO ? "pypho" : "exact",
               o->periodic ? (o->periodic == 3 ? ", periodic xy" : o->periodic == 1 ? ", periodic x" : ", periodic y") : "",
               o->valleys ? ", valleys" : "", f32 ? "float32" : "float64", (unsigned long long)sum.n_peaks,
               o->valleys ? "valleys" : "peaks", sum.n_ok, sum.n_no_peaks, sum.n_nan, secs, 1e6 * secs / (double)nt,
               sum.n_workers, sum.n_workers == 1 ? "" : "s", (double)sum.scratch_bytes / 1048576.0,
               (double)mask_bytes / 1048576.0, o->pack ? " (bit-packed)" : "");
        if (sum.n_with_holes || sum.n_nan)
            printf("prom2d: %zu bins have NaN cells (%llu in all), taken as holes in the map; %zu bins are all NaN "
                   "and have no peaks\n", sum.n_with_holes + sum.n_nan, (unsigned long long)sum.n_nan_cells, sum.n_nan);
        if (st.max_prominence > 0)
            printf("prom2d: the most prominent peak that is not its bin's highest: %.4g in bin %zu\n", st.max_prominence,
                   st.max_prom_t);
    }
    rc = 0;
done:
    if (st.writing) npy_stream_close(&st.peaks, NULL, 0);
    if (st.writing_geometry) npy_stream_close(&st.geometry, NULL, 0);
    if (st.writing_labels) npy_stream_close(&st.labels, NULL, 0);
    if (mapped) npy_map_close(&mask_file, NULL, 0);
    ex_outputs_free(&outs); /* after a failure: no half-written output is left */
    free(st.dom);
    p2d_destroy(ctx);
    return rc;
}

static int demo(options *o)
{
    static char peaks[1024], masks_path[1024], png[1024], post[1024], geometry[1024], labels[1024];
    const char *dir = o->out_dir ? o->out_dir : "out";
    size_t nx = 41, ny = 63, nt = 2000, shape[3];
    double *cube = demo_posterior(nx, ny, nt);
    char err[1200];
    int rc;
    if (!cube) return fail("%s", "no memory for the demo posterior");
    if (ex_mkdir_p(dir, err, sizeof err)) {
        free(cube);
        return fail("%s", err);
    }
    snprintf(post, sizeof post, "%s/prom2d_posterior.npy", dir);
    snprintf(peaks, sizeof peaks, "%s/prom2d_peaks.npy", dir);
    snprintf(masks_path, sizeof masks_path, "%s/prom2d_masks.npy", dir);
    snprintf(png, sizeof png, "%s/prom2d_png", dir);
    snprintf(geometry, sizeof geometry, "%s/prom2d_geometry.npy", dir);
    snprintf(labels, sizeof labels, "%s/prom2d_labels.npy", dir);
    shape[0] = nx; shape[1] = ny; shape[2] = nt;
    if (npy_write(post, NPY_F8, 3, shape, cube, err, sizeof err)) { free(cube); return fail("%s", err); }
    o->n_alpha = 3;
    o->alphas[0] = 0.1; o->alphas[1] = 0.5; o->alphas[2] = 0.9;
    o->peaks_out = peaks; o->masks_out = masks_path; o->png_dir = png;
    if (o->mode == P2D_MODE_EXACT) { /* each peak's region, its half-prominence width, who owns each cell */
        o->geometry_out = geometry, o->labels_out = labels;
        o->widths[0] = 0.5, o->n_widths = 1;
    }
    printf("prom2d demo: %zu x %zu x %zu posterior written to %s\n", nx, ny, nt, post);
    rc = run(o, cube, 0, nx, ny, nt);
    if (!rc) printf("prom2d demo: peaks in %s, masks in %s, pictures in %s/\n", peaks, masks_path, png);
    if (!rc && o->geometry_out) printf("prom2d demo: regions in %s, labels in %s\n", geometry, labels);
    free(cube);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    npy_array a;
    char err[512];
    int rc;
    if ((rc = parse_args(argc, argv, &o)) != 0) return rc > 0 ? 0 : 2;
    if (o.demo) return demo(&o);
    if (!o.posterior) { usage(stderr); return 2; }
    if (!o.peaks_out && !o.masks_out && !o.geometry_out && !o.labels_out)
        return fail("%s", "nothing to do: give --peaks-out, --masks-out, --geometry-out or --labels-out");
    if (o.masks_out && !o.n_alpha) return fail("%s", "--masks-out needs --alpha");
    if (o.n_alpha && !o.masks_out) return fail("%s", "--alpha sets the masks' thresholds: give --masks-out too");
    if (o.pack && !o.masks_out) return fail("%s", "--pack-masks needs --masks-out");
    if (npy_map_read(o.posterior, &a, err, sizeof err)) return fail("%s", err); /* no copy of the cube */
    if ((a.ndim != 3 && a.ndim != 2) || (a.dtype != NPY_F4 && a.dtype != NPY_F8)) {
        npy_free(&a);
        return fail("%s: want a float32 or float64 array of shape (n_x, n_y, n_t), or (n_x, n_t) for a linear track",
                    o.posterior);
    }
    if (!a.count) { npy_free(&a); return fail("%s: the array is empty", o.posterior); }
    if (a.ndim == 2) /* a linear track: n_y = 1 */
        rc = run(&o, a.data, a.dtype == NPY_F4, a.shape[0], 1, a.shape[1]);
    else
        rc = run(&o, a.data, a.dtype == NPY_F4, a.shape[0], a.shape[1], a.shape[2]);
    npy_free(&a);
    return rc;
}
