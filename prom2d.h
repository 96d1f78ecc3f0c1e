/* prom2d.h 1.0.0 - exact 2-D peak prominence and dominant-peak masks for stacks of 2-D maps - MIT license (end of file)

   Do this:
       #define PROM2D_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation. It includes
   tensorpool.h, the collection's runtime: define TENSORPOOL_IMPLEMENTATION in one file too.

   QUICK START (compiles as C99 and as C++; link -lm -lpthread)
       #define TENSORPOOL_IMPLEMENTATION
       #define PROM2D_IMPLEMENTATION
       #include "prom2d.h"
       #include <stdio.h>
       #include <stdlib.h>

       static int on_slice(void *user, const p2d_slice *s)   // once per time bin, in time order
       {
           (void)user;
           if (s->n_peaks) printf("bin %zu: %zu peaks, dominant at (%d, %d)\n", s->t, s->n_peaks,
                                  (int)s->dom_ix, (int)s->dom_iy);
           return 0;                                         // non-zero cancels the run
       }

       int main(void)
       {
           enum { NX = 41, NY = 63, NT = 16 };
           double alphas[3] = {0.1, 0.5, 0.9};
           double *z = (double *)calloc((size_t)NX * NY * NT, sizeof(double)); // C order (x, y, t)
           unsigned char *masks = (unsigned char *)malloc((size_t)3 * NX * NY * NT);
           p2d_desc desc = TP_DEFAULTS;                      // zero = defaults: exact, 8-connected
           p2d_cube cube = TP_DEFAULTS;
           p2d_masks out = TP_DEFAULTS;                      // C order (alpha, x, y, t), a byte each
           p2d_ctx *ctx = NULL;
           tp_error err;
           z[(20 * NY + 30) * NT + 5] = 1.0;                 // one peak, at (20, 30) in bin 5
           desc.alphas = alphas; desc.n_alpha = 3; desc.on_slice = on_slice;
           cube.data = z; cube.dtype = TP_F64; cube.n_x = NX; cube.n_y = NY; cube.n_t = NT;
           out.data = masks;
           if (p2d_create(&desc, &ctx, &err) != TP_OK || p2d_run(ctx, &cube, &out, NULL, NULL, &err) != TP_OK)
               fprintf(stderr, "%s\n", err.message);
           p2d_destroy(ctx);
           free(z);
           free(masks);
           return 0;
       }

   CONTENTS
       1. Options           3. Peaks: exact mode     4. Peaks: pyPho mode         6. Threads, memory, progress
       2. Conventions       3a. Regions, widths,     5. Dominant-peak masks       7. What it does NOT do
                                labels

   A decoded posterior is a cube (n_x, n_y, n_t), e.g. 41 x 63 positions x 100,000 time bins, time
   fastest in memory. For every time bin you want the peaks of its 2-D map with their topographic
   prominence, and for a few alphas the connected region around the dominant peak. prom2d computes
   the exact prominence by one union-find sweep per slice, reads the cube in place through
   strides, writes masks straight into your layout (bit-packed if you like) and holds only a few
   slices of scratch at a time, whatever n_t is.

   1. COMPILE-TIME OPTIONS (define before including; "impl" = only where the implementation is built)
       P2D_NO_VECTOR_EXTENSIONS impl  plain C loops only (the default, with gcc >= 9 or clang, uses
                                  GNU vector extensions, AVX2/AVX-512 where the CPU has them;
                                  same results either way)
       P2D_ASSERT(x)     impl     internal consistency asserts (default: none)
       P2D_STATIC        global   make every function static (with TP_STATIC for the pool)
       P2DDEF            global   linkage of the public functions (default: extern)
       tensorpool.h's options apply too: TP_NO_THREADS (one thread), TP_CPU_FEATURES_MASK.

   2. CONVENTIONS (both modes)
   A slice is the 2-D map Z[ix][iy] of one time bin; ix is the row (0..n_x-1), iy the column,
   "row-major" means by ix*n_y + iy. Nothing lies outside the grid (an edge pixel has fewer
   neighbours; the edge is not sea level). A peak must stand above the slice minimum, so a
   constant slice has no peaks and all-false masks. Infinities are ordinary values. Values are
   compared and subtracted in double (float input is widened exactly).
   Holes: a NaN cell (an unvisited position, a wall) is not part of the map. Each connected
   component of the other cells (in the run's connectivity) is a landscape of its own: its
   highest peak's prominence is its height minus that component's minimum, and a path between
   two peaks never crosses a hole. The masks never include a hole, the dominant peak is the
   first row-major maximum of the cells that are not NaN, and p2d_slice.n_nan counts the holes.
   A slice whose every cell is NaN has no peaks, all-false masks and status P2D_SLICE_NAN.
   Circular tracks: desc.periodic = P2D_PERIODIC_X (row 0 neighbours row n_x - 1), _Y (column
   0 neighbours column n_y - 1) or _XY (a torus): a peak that crosses the edge is one peak, and
   the masks wrap too. An axis of length 1 has nothing to wrap; on an axis of length 2 both
   neighbours are the same cell. Exact mode only; the pixels of a wrapped edge join the sweep one
   by one and the masks are filled pixel by pixel, so a periodic run costs more (bench/RESULTS.md).
   Valleys: desc.valleys = 1 finds the minima and their depth: the run works on -Z, and reports
   height, col_level, min and max in the input's values (a valley's height is its lowest value,
   its col_level the pass out of it, its prominence the depth between them, positive). The dominant valley is the first row-major minimum, and a mask holds
   the 4-connected region of -Z >= alpha * (-h) around it (for a map below zero: Z <= alpha * h).
   1-D profiles (a linear track): n_x = 1 or n_y = 1, same rules. Compared with scipy's
   signal.peak_prominences, every peak whose horizontal line meets higher ground on both sides
   has the same prominence; scipy also stops at the profile's ends as if they were bases (and
   lists no peak on an end sample), where here the end is not sea level: a peak with higher
   ground on one side only is measured down to the lowest point between it and that ground, and
   the highest peak down to the profile's minimum.

   3. PEAKS: EXACT MODE (desc.mode = P2D_MODE_EXACT, the default)
   Topographic prominence of every local maximum, by a sweep over the pixels in descending value
   (ties: ascending row-major index) that joins each pixel to its already-visited neighbours
   (connectivity 8 by default, or 4) with a union-find. A pixel with no visited neighbour is a new
   summit. When a pixel joins several regions, the one whose summit is higher (tie: visited first)
   survives; every other summit dies there: that pixel is its key col (saddle), its value the col
   level, prominence = height - col level, parent = the surviving summit. The highest summit never
   dies: prominence = height - slice minimum, no col (col_level NaN, col_ix = col_iy = -1,
   parent = -1). A flat maximal region gives one peak, at its first pixel in row-major order: its
   other pixels would be summits of prominence 0, which are never reported. Cost per slice of
   N = n_x * n_y pixels: one O(N) pass finds the pixels that can start or join regions (summits
   and saddle-like pixels, about a quarter of a noisy map); only those are radix-sorted and swept,
   the rest follow pointers to their summit. The result is that of the full sweep, bit for bit.

   3a. REGIONS, WIDTHS, LABELS (exact mode)
   A peak's region is the connected component (in the run's connectivity, across periodic edges)
   of the cells strictly above its floor that holds the peak; its floor is height - prominence
   (the col level, or for the highest peak of a landscape its minimum, which is then in no
   region). Regions nest: a peak's region holds the regions of the peaks that merged into it above
   its floor. desc.geometry = 1 hands each peak's region to on_slice as a p2d_geom (area, centroid,
   box), aligned with peaks. desc.widths[j] = f asks also for the region above height - f *
   prominence, for each peak (f = 0.5: the half-prominence width; in 1-D these are the cells
   strictly between scipy's peak_widths crossings at rel_height f). desc.min_area lists only the
   peaks whose region has that many cells; a peak whose parent is not listed has parent -1 (a
   parent's region holds its child's unless they merged exactly at the parent's floor).
   desc.labels = 1 gives each bin a map of which listed peak owns each cell: the one with the
   smallest region that holds it (0 for cells in none). The regions come from the sweep itself:
   each cell joins the region of one living summit when it is reached, and one pass up the tree
   of merges adds every subtree to its parent: about two and a half times a plain run's time
   (bench/RESULTS.md), and nothing when not asked for.

   4. PEAKS: PYPHO MODE (desc.mode = P2D_MODE_PYPHO)
   Reproduces pyPhoPlaceCellAnalysis' compute_2d_dt_posterior_peak_promenences exactly: a peak is
   every pixel equal to the maximum of its in-grid 3 x 3 neighbourhood and above the slice minimum
   (every pixel of a plateau counts), and its "prominence" is its height minus the highest non-peak
   pixel 8-adjacent to the 8-connected group of peak pixels it belongs to (for an isolated peak:
   the step down to its highest neighbour). col_level is NaN, col and parent -1. No sort: O(N).
   desc.connectivity does not apply. The dominant peak and the masks are those of section 5.

   5. DOMINANT-PEAK MASKS
   The dominant peak is the first row-major global maximum, at height h. For each alpha, the mask
   is the 4-connected region of pixels with Z >= alpha * h that contains the dominant peak, which
   is always included (so alpha > 1 gives a one-pixel mask). Masks are computed by a seeded flood
   fill and written for every (alpha, x, y, t) - zeros included - either one byte (0/1) per element
   or bit-packed: the bit of time bin t is bit (t % 8) of the byte for t / 8, least significant
   first (numpy.packbits(m, axis=-1, bitorder='little') of the byte cube): 8x smaller. Strides are
   yours; the default is C order (n_alpha, n_x, n_y, n_t) for bytes and (n_alpha, n_x, n_y,
   ceil(n_t / 8)) for bits.

   6. THREADS, MEMORY, PROGRESS
   The run works through blocks of a few time bins (a multiple of 8): a worker copies a block into
   padded slices (converted to double), computes peaks and masks for each slice, writes the
   block's masks and hands its peaks to desc.on_slice in time order. The workers are tensorpool's
   team of desc.n_threads (0 = the CPUs this process may use; at most one a block); on_slice and
   progress are called one at a time, in time order, possibly from different threads. Results
   are identical for any thread count. All scratch (a slab per worker, sized for the worst case of
   exact peaks, and the team) comes from desc.pool (or a private pool) before any work starts, so
   a run either starts with everything it needs or fails cleanly (TP_ERR_NOMEM, TP_ERR_BUDGET);
   p2d_estimate_bytes says how much beforehand, and does not grow with n_t. A time-fastest cube
   puts every pixel's bins on a page of its own: allocate big cubes with transparent huge pages
   (tensorpool does for blocks of 4 MiB and more). The cube and the masks are never copied. A
   non-zero return from on_slice or progress cancels the run (TP_ERR_CANCELLED; the masks of the
   bins handed out so far are written). One run at a time per p2d_ctx; different contexts are
   independent. A worker thread that cannot start is reported to the logger (desc.log, or the
   pool's) and the run goes on with the others (p2d_summary.n_workers says how many ran).

   7. WHAT IT DOES NOT DO
   No 3-D (space-time) peaks, no sub-pixel peak positions, no periodic edges in pyPho mode, no
   masks with 8-connectivity. Peaks are handed out per slice; keeping them is up to on_slice.
*/
#ifndef PROM2D_H
#define PROM2D_H

#if defined(P2D_STATIC) && !defined(TP_STATIC)
#define TP_STATIC
#endif
#include "tensorpool.h"

#include <stddef.h>
#include <stdint.h>

#define P2D_VERSION_MAJOR 1
#define P2D_VERSION_MINOR 0
#define P2D_VERSION_PATCH 0

#ifndef P2DDEF
#if defined(P2D_STATIC) && (defined(__GNUC__) || defined(__clang__))
#define P2DDEF static __attribute__((unused))
#elif defined(P2D_STATIC)
#define P2DDEF static
#else
#define P2DDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum p2d_mode { P2D_MODE_EXACT = 0, P2D_MODE_PYPHO = 1, P2D_MODE__FORCE_INT = 0x7fffffff } p2d_mode;
typedef enum p2d_slice_status {
    P2D_SLICE_OK = 0, P2D_SLICE_NO_PEAKS = 1, P2D_SLICE_NAN = 2 /* every cell NaN */, P2D_SLICE__FORCE_INT = 0x7fffffff
} p2d_slice_status;
/* desc.periodic: which axes wrap around (a circular or toroidal track) */
typedef enum p2d_periodic {
    P2D_PERIODIC_NONE = 0, P2D_PERIODIC_X = 1, P2D_PERIODIC_Y = 2, P2D_PERIODIC_XY = 3,
    P2D_PERIODIC__FORCE_INT = 0x7fffffff
} p2d_periodic;

/* The input: element (ix, iy, t) is at data + ix*stride_x + iy*stride_y + t*stride_t (strides in
   elements, any sign). All strides 0 = C order (x, y, t): stride_t = 1, stride_y = n_t,
   stride_x = n_y * n_t. dtype is required (TP_F64 or TP_F32). */
typedef struct p2d_cube {
    const void *data;
    tp_dtype dtype;
    size_t n_x, n_y, n_t;
    ptrdiff_t stride_x, stride_y, stride_t;
} p2d_cube;

/* The mask output (section 5). Strides in bytes; for packed masks stride_t steps from one byte
   of 8 time bins to the next. All strides 0 = C order. data NULL = no masks. */
typedef struct p2d_masks {
    void *data;
    int packed; /* 0: one byte per element, 1: 8 time bins per byte */
    ptrdiff_t stride_alpha, stride_x, stride_y, stride_t;
} p2d_masks;

typedef struct p2d_peak {
    int32_t ix, iy;         /* position */
    int32_t col_ix, col_iy; /* key col (exact mode); -1 for the highest peak and in pyPho mode */
    int32_t parent;         /* index in the slice's peak list of the higher peak it merges into; -1 */
    double height, prominence;
    double col_level;       /* NaN for the highest peak and in pyPho mode */
} p2d_peak;

/* The shape of a peak's region (section 3a): its cells, their mean position and their box.
   Periodic axes: the centroid is the circular mean, in [0, n); the box is the shortest arc that
   holds the region's rows (columns), x0 <= ix <= x1 with x0 > ix - n_x (so x0 may be negative
   and x1 may pass n_x - 1: unwrapped coordinates around the peak). */
typedef struct p2d_geom {
    uint32_t area;           /* cells */
    int32_t x0, x1, y0, y1;  /* inclusive bounding box */
    double cx, cy;           /* centroid: mean ix and mean iy of the cells */
} p2d_geom;

/* What on_slice receives for each time bin. Pointers are valid during the call only. */
typedef struct p2d_slice {
    size_t t;
    p2d_slice_status status;
    const p2d_peak *peaks;  /* row-major order; none when desc.skip_peaks */
    size_t n_peaks;
    ptrdiff_t dominant;     /* index of the dominant peak in peaks, -1 if not listed */
    int32_t dom_ix, dom_iy; /* first row-major global maximum; -1 for NaN and constant slices */
    double min, max;        /* of the slice's cells that are not NaN (NaN for an all-NaN slice) */
    size_t n_nan;           /* cells that are NaN: holes (section 2) */
    const p2d_geom *geom;   /* desc.geometry: the region of each peak, aligned with peaks [NULL] */
    const p2d_geom *widths; /* desc.n_widths: peak k's region at fraction j of its prominence at
                               widths[k * n_widths + j] [NULL] */
    const uint16_t *labels; /* desc.labels: n_x * n_y row-major, the peak that owns each cell (k + 1
                               for peaks[k], 0 for none; 65535 for peaks past 65534) [NULL] */
} p2d_slice;

typedef int (*p2d_slice_fn)(void *user, const p2d_slice *slice); /* non-zero = cancel */

/* Zero-initialise (TP_DEFAULTS) and set what you need: every zero field means the default in
   brackets. p2d_get_desc returns the resolved values. */
typedef struct p2d_desc {
    tp_pool *pool;          /* scratch memory [NULL = a private pool] */
    p2d_mode mode;          /* [P2D_MODE_EXACT] or P2D_MODE_PYPHO */
    int connectivity;       /* exact mode: 4 or 8 [0 = 8] */
    const double *alphas;   /* mask thresholds as fractions of the dominant height; copied */
    size_t n_alpha;         /* [0 = no masks] */
    double min_prominence;  /* report only peaks with prominence >= this [0 = all] */
    int skip_peaks;         /* 1 = no peak search (masks, dominant, min/max only) [0] */
    int n_threads;          /* workers, at most TP_MAX_THREADS [0 = the CPUs this process may use] */
    p2d_slice_fn on_slice;  /* receives each bin's peaks [NULL = peaks are not computed] */
    tp_progress_fn progress; /* time bins done of n_t, after each block [NULL] */
    void *user;             /* passed to on_slice and progress */
    tp_logger log;          /* fallbacks such as a worker that could not start [zero = the pool's] */
    p2d_periodic periodic;  /* exact mode: axes whose edges wrap [P2D_PERIODIC_NONE] */
    int valleys;            /* 1 = the prominence of minima: the run works on -Z (section 2) [0] */
    int geometry;           /* exact mode: 1 = each peak's region in p2d_slice.geom (section 3a) [0] */
    const double *widths;   /* exact mode: fractions in (0, 1) of the prominence: each peak's region
                               at height - f * prominence in p2d_slice.widths; copied [NULL] */
    size_t n_widths;        /* [0] */
    size_t min_area;        /* exact mode: report only peaks whose region has >= this many cells [0] */
    int labels;             /* exact mode: 1 = which peak owns each cell, p2d_slice.labels [0] */
} p2d_desc;

/* What a run did. */
typedef struct p2d_summary {
    size_t n_ok, n_no_peaks, n_nan; /* slices by status */
    uint64_t n_peaks;       /* peaks handed to on_slice */
    size_t block_bins;      /* time bins per block */
    int n_workers;          /* workers that ran: the resolved n_threads, at most one a block, fewer if
                               a thread could not start (logged) */
    size_t scratch_bytes;   /* bytes taken from the pool: p2d_estimate_bytes of this run's desc */
    size_t n_with_holes;    /* slices with some NaN cells (not all): counted in n_ok or n_no_peaks */
    uint64_t n_nan_cells;   /* NaN cells over the whole run, all-NaN slices included */
} p2d_summary;

typedef struct p2d_ctx p2d_ctx;

/* Checks and resolves desc (NULL = defaults: exact mode, no masks, no peaks) into *out.
   TP_ERR_ARG naming the field: a bad mode, connectivity, thread count, periodic value, valleys,
   geometry or labels flag, a negative or NaN min_prominence, alphas NULL with n_alpha > 0, a
   non-finite alpha, widths NULL with n_widths > 0, a width outside (0, 1), or periodic edges,
   geometry, widths, min_area or labels in pyPho mode (pyPho has none of them); TP_ERR_NOMEM,
   TP_ERR_BUDGET. */
P2DDEF tp_result p2d_create(const p2d_desc *desc, p2d_ctx **out, tp_error *err);
P2DDEF void p2d_destroy(p2d_ctx *ctx);
/* The resolved desc: n_threads and connectivity filled in, alphas pointing at the context's copy. */
P2DDEF p2d_desc p2d_get_desc(const p2d_ctx *ctx);

/* Bytes of scratch a run with this desc on (n_x, n_y, n_t) takes from the pool, counted as
   tp_stats' requested bytes (the run's peak is exactly this), and the checks of p2d_create and
   p2d_run on the sizes. */
P2DDEF tp_result p2d_estimate_bytes(const p2d_desc *desc, size_t n_x, size_t n_y, size_t n_t, size_t *bytes,
                                    tp_error *err);
/* Bytes of a mask buffer in the default (C order) layout. TP_ERR_ARG (bytes NULL), TP_ERR_OVERFLOW. */
P2DDEF tp_result p2d_masks_bytes(size_t n_alpha, size_t n_x, size_t n_y, size_t n_t, int packed, size_t *bytes,
                                 tp_error *err);

/* Runs over every time bin of cube: peaks to desc.on_slice, masks into *masks (may be NULL),
   status[t] (may be NULL, n_t bytes) gets each slice's status, *summary (may be NULL) what the
   run did. Errors: TP_ERR_ARG (NULL data, a zero dimension, a dtype other than TP_F32 or
   TP_F64, masks NULL while desc.n_alpha > 0), TP_ERR_OVERFLOW (a slice of more than 2^31 - 1 padded pixels, or sizes/offsets that
   do not fit), TP_ERR_NOMEM, TP_ERR_BUDGET, TP_ERR_CANCELLED; no memory is held after any of
   them. */
P2DDEF tp_result p2d_run(p2d_ctx *ctx, const p2d_cube *cube, const p2d_masks *masks, uint8_t *status,
                         p2d_summary *summary, tp_error *err);

/* "prom2d 1.0.0 avx512" - what this build uses (its widest kernels on this CPU). */
P2DDEF const char *p2d_build_info(void);

#ifdef __cplusplus
}
#endif

#endif /* PROM2D_H */

/* ============================================================================================ */
/* >>implementation                                                                             */
/* ============================================================================================ */
#if defined(PROM2D_IMPLEMENTATION) && !defined(PROM2D_IMPLEMENTATION_INCLUDED)
#define PROM2D_IMPLEMENTATION_INCLUDED

#include <stdio.h>
#include <string.h>
#include <math.h>
#include <float.h>


#ifndef P2D_ASSERT
#define P2D_ASSERT(x) ((void)0)
#endif

#if defined(__GNUC__)
#define P2D__INLINE inline __attribute__((always_inline))
#define P2D__PREFETCH(p) __builtin_prefetch((p), 0, 1)
#else
#define P2D__INLINE
#define P2D__PREFETCH(p) ((void)(p))
#endif
#ifndef P2D__BLOCK_TARGET
#define P2D__BLOCK_TARGET ((size_t)256 << 10) /* slices + masks of a block: about L2 */
#endif
#define P2D__MAX_BLOCK 256                  /* time bins per block at most */
#define P2D__BORDER 0xFFFFFFFFu             /* pyPho mode: visited mark of the padding ring */

struct p2d_ctx {
    p2d_desc desc;         /* resolved */
    double *alphas;        /* own copy */
    tp_pool *pool;
    tp_pool *own_pool;     /* the private pool, when desc.pool was NULL */
};

/* ---- >>desc --------------------------------------------------------------------------------- */

static tp_result p2d__check_desc(const p2d_desc *d, const char *who, tp_error *err)
{
    size_t a;
    if (d->mode != P2D_MODE_EXACT && d->mode != P2D_MODE_PYPHO)
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.mode must be P2D_MODE_EXACT or P2D_MODE_PYPHO, got %d", who, (int)d->mode);
    if (d->connectivity != 0 && d->connectivity != 4 && d->connectivity != 8)
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.connectivity must be 4 or 8 (0 = 8), got %d", who, d->connectivity);
    if (d->n_threads < 0 || d->n_threads > TP_MAX_THREADS)
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.n_threads must lie in 0 .. %d (0 = the usable CPUs), got %d", who,
                            TP_MAX_THREADS, d->n_threads);
    if ((unsigned)d->periodic > (unsigned)P2D_PERIODIC_XY)
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.periodic must be P2D_PERIODIC_NONE, _X, _Y or _XY, got %d", who,
                            (int)d->periodic);
    if (d->periodic && d->mode == P2D_MODE_PYPHO)
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.periodic needs exact mode: pyPho mode reproduces pyPho, which has "
                            "no periodic edges", who);
    if (d->valleys != 0 && d->valleys != 1)
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.valleys must be 0 or 1, got %d", who, d->valleys);
    if ((d->geometry != 0 && d->geometry != 1) || (d->labels != 0 && d->labels != 1))
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.geometry and desc.labels must be 0 or 1, got %d and %d", who,
                            d->geometry, d->labels);
    if (d->n_widths > 0 && !d->widths)
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.widths is NULL but desc.n_widths is %zu", who, d->n_widths);
    for (a = 0; a < d->n_widths; a++)
        if (!(d->widths[a] > 0.0 && d->widths[a] < 1.0))
            return tp_error_set(err, TP_ERR_ARG, "%s: desc.widths[%zu] is %g; a width is a fraction of the prominence in "
                                "(0, 1)", who, a, d->widths[a]);
    if (d->mode == P2D_MODE_PYPHO && (d->geometry || d->n_widths || d->min_area || d->labels))
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.geometry, widths, min_area and labels need exact mode: pyPho's "
                            "method has no regions", who);
    if (!(d->min_prominence >= 0.0))
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.min_prominence must be >= 0 (and not NaN), got %g", who, d->min_prominence);
    if (d->n_alpha > 0 && !d->alphas)
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.alphas is NULL but desc.n_alpha is %zu", who, d->n_alpha);
    for (a = 0; a < d->n_alpha; a++)
        if (!(d->alphas[a] - d->alphas[a] == 0.0))
            return tp_error_set(err, TP_ERR_ARG, "%s: desc.alphas[%zu] is %g; every alpha must be finite", who, a, d->alphas[a]);
    return TP_OK;
}

static p2d_desc p2d__resolve(const p2d_desc *d)
{
    p2d_desc r = *d;
    if (!r.connectivity) r.connectivity = 8;
    r.n_threads = tp_thread_count(r.n_threads);
    return r;
}

P2DDEF tp_result p2d_create(const p2d_desc *desc, p2d_ctx **out, tp_error *err)
{
    p2d_desc zero;
    p2d_ctx *c;
    tp_pool *pool = NULL;
    tp_error e;
    tp_result r;
    size_t bytes;
    if (!out) return tp_error_set(err, TP_ERR_ARG, "p2d_create: out is NULL");
    *out = NULL;
    memset(&zero, 0, sizeof zero);
    if (!desc) desc = &zero;
    if ((r = p2d__check_desc(desc, "p2d_create", err)) != TP_OK) return r;
    if (!tp_size_add(desc->n_alpha, desc->n_widths, &bytes) || !tp_size_mul(bytes, sizeof(double), &bytes) ||
        !tp_size_add(bytes, sizeof *c, &bytes))
        return tp_error_set(err, TP_ERR_OVERFLOW, "p2d_create: %zu alphas and %zu widths overflow a size", desc->n_alpha,
                            desc->n_widths);
    if (!(pool = desc->pool) && (r = tp_create(NULL, &pool, &e)) != TP_OK)
        return tp_error_set(err, r, "p2d_create: %s", e.message);
    c = (p2d_ctx *)tp_alloc_at(pool, bytes, TP_ZERO, __FILE__, __LINE__, &e);
    if (!c) {
        if (!desc->pool) tp_destroy(pool);
        return tp_error_set(err, e.code, "p2d_create: %s", e.message);
    }
    c->desc = p2d__resolve(desc);
    c->pool = pool;
    c->own_pool = desc->pool ? NULL : pool;
    c->alphas = (double *)(c + 1);
    if (desc->n_alpha) memcpy(c->alphas, desc->alphas, desc->n_alpha * sizeof(double));
    c->desc.alphas = c->alphas;
    if (desc->n_widths) memcpy(c->alphas + desc->n_alpha, desc->widths, desc->n_widths * sizeof(double));
    c->desc.widths = desc->n_widths ? c->alphas + desc->n_alpha : NULL;
    c->desc.pool = pool;
    if (!c->desc.log.fn) c->desc.log = tp_get_desc(pool).log;
    *out = c;
    tp_error_clear(err);
    return TP_OK;
}

P2DDEF void p2d_destroy(p2d_ctx *ctx)
{
    tp_pool *own;
    if (!ctx) return;
    own = ctx->own_pool;
    tp_free(ctx->pool, ctx);
    if (own) tp_destroy(own);
}

P2DDEF p2d_desc p2d_get_desc(const p2d_ctx *ctx) { return ctx->desc; }

/* ---- >>plan: block size and the scratch layout of one worker -------------------------------- */

/* One padded row of a flood fill by rows (p2d__fill_rows): which pixels are at least the
   threshold and which of them the fill has reached, as bits (bit iy - 1); valid while stamp is
   the fill's. queued: on the fill's stack. */
typedef struct p2d__row {
    uint64_t at_least, in;
    uint32_t stamp, queued;
} p2d__row;

enum { P2D__ARRAYS = 34 };

/* Geometry: a candidate's ladder for the climb of p2d__row_roots, in one cache line: the levels
   at which it and its next three ancestors died (a summit that never died: its floor, and NaN
   above it), and itself and those four ancestors. */
#define P2D__RUNGS 4
typedef struct p2d__node {
    double col[P2D__RUNGS];
    int32_t up[P2D__RUNGS + 1];
    int32_t pad[3];
} p2d__node;

/* Geometry: a region's cells so far. On a wrapped axis sx (sy) sums the cosines and sx2 (sy2) the
   sines of the cells' angles, and 64-bit words of which rows (columns) hold a cell follow. */
typedef struct p2d__acc {
    uint32_t n;
    int32_t x0, x1, y0, y1;
    double sx, sy, sx2, sy2;
} p2d__acc; /* the arrays in a worker's slab (p2d__layout) */

typedef struct p2d__plan {
    size_t n_x, n_y, n_t, w2, npix, npad;  /* w2: padded row length; npad: padded pixels */
    uint64_t row_mul;      /* padded index * row_mul >> row_shift = its padded row (p2d__rowcol) */
    unsigned row_shift;
    size_t block;          /* time bins per block, a multiple of 8 */
    size_t unit;           /* time bins whose masks a worker writes at once: whole blocks, >= 64 */
    size_t n_blocks;
    int n_workers;
    int peaks, masks;      /* what the run computes */
    int exact, pypho;      /* which peak search (neither when peaks are off) */
    int connectivity;
    int wrap_x, wrap_y;    /* periodic axes (of length 2 or more) */
    int valleys;           /* the run works on -Z */
    int geometry, labels;  /* exact mode: regions (geometry, widths, min_area or labels asked for) */
    size_t n_widths, min_area;
    const double *widths;
    size_t words_x, words_y; /* geometry on a wrapped axis: 64-bit words of a region's rows (columns) */
    size_t acc_bytes;      /* one region accumulator (p2d__acc and its words) */
    /* byte offsets of each array in a worker's slab, and the slab size */
    size_t o_work, o_z, o_mask, o_peaks, o_info, o_keys, o_keys2, o_root, o_sad, o_csad, o_cpar,
        o_ccol, o_cmin, o_cout, o_mark, o_queue, o_flag, o_up, o_crit, o_rows, o_row_stack, o_up0, o_bas,
        o_acc, o_lvl, o_theta, o_kids, o_trig, o_tree, o_geom, o_labels, o_edge, o_edge_at, o_edge_nb, slab;
    int row_fill;          /* masks by whole rows of bits (rows of 64 pixels at most) */
    size_t total;          /* the slabs: n_workers of them, in one block */
    size_t gap[P2D__ARRAYS][2]; /* after each array, the bytes up to the next (ASan marks them) */
    int n_gaps;
} p2d__plan;

/* Reserves n elements at *at (rounded to 64 bytes) for one of a slab's arrays. Under
   AddressSanitizer each gets 64 more bytes, marked out of bounds with its slack by
   p2d__work_init, so that an array sized short overruns into marks, not into its neighbour. */
static int p2d__take(p2d__plan *p, size_t *at, size_t n, size_t elem, size_t *offset)
{
    size_t bytes, end;
    if (!tp_size_mul(n, elem, &bytes) || !tp_size_add(*at, bytes, &end) || !tp_size_add(bytes, 63 + TP_REDZONE, &bytes))
        return 0;
    *offset = *at;
    if (!tp_size_add(*at, bytes / 64 * 64, at)) return 0;
    P2D_ASSERT(p->n_gaps < P2D__ARRAYS);
    p->gap[p->n_gaps][0] = end, p->gap[p->n_gaps++][1] = *at;
    return 1;
}

/* Per-slice arrays (independent of the block size), then the block arrays. */
static int p2d__layout(p2d__plan *p, const p2d_desc *d)
{
    size_t at = 0, n = p->npix, np = p->npad, zb, mb, pb;
    int exact = p->exact, pypho = p->pypho;
    p->n_gaps = 0;
    if (!p2d__take(p, &at, pypho ? np : 0, sizeof(uint32_t), &p->o_mark) ||
        !p2d__take(p, &at, pypho || (p->masks && !p->row_fill) ? n : 0, sizeof(int32_t), &p->o_queue) ||
        !p2d__take(p, &at, pypho || exact ? np : 0, 1, &p->o_flag) ||
        !p2d__take(p, &at, exact ? np : 0, sizeof(int32_t), &p->o_up) ||
        !p2d__take(p, &at, exact ? n : 0, sizeof(uint64_t), &p->o_keys) ||
        !p2d__take(p, &at, exact ? n : 0, sizeof(uint64_t), &p->o_keys2) ||
        !p2d__take(p, &at, exact ? n : 0, sizeof(uint32_t), &p->o_crit) ||
        !p2d__take(p, &at, exact ? np : 0, sizeof(int32_t), &p->o_root) ||
        !p2d__take(p, &at, exact ? n : 0, sizeof(uint32_t), &p->o_sad) ||
        !p2d__take(p, &at, exact ? n : 0, sizeof(int32_t), &p->o_csad) ||
        !p2d__take(p, &at, exact ? n : 0, sizeof(int32_t), &p->o_cpar) ||
        !p2d__take(p, &at, exact ? n : 0, sizeof(double), &p->o_ccol) ||
        !p2d__take(p, &at, exact ? n : 0, sizeof(double), &p->o_cmin) ||
        !p2d__take(p, &at, exact ? n : 0, sizeof(int32_t), &p->o_cout) ||
        !p2d__take(p, &at, p->row_fill ? p->n_x + 2 : 0, sizeof(p2d__row), &p->o_rows) ||
        !p2d__take(p, &at, p->row_fill ? p->n_x : 0, sizeof(int32_t), &p->o_row_stack))
        return 0;
    if (p->geometry) { /* regions: pointers, basins, accumulators, levels, the tree's order */
        size_t per = 2 + p->n_widths, accs, trig = p->wrap_x || p->wrap_y ? 2 * (p->n_x + p->n_y) : 0;
        if (!tp_size_mul(n, per, &accs) || !p2d__take(p, &at, np, sizeof(int32_t), &p->o_up0) ||
            !p2d__take(p, &at, np, sizeof(int32_t), &p->o_bas) || !p2d__take(p, &at, accs, p->acc_bytes, &p->o_acc) ||
            !p2d__take(p, &at, n, sizeof(double), &p->o_lvl) ||
            !tp_size_mul(n, p->n_widths, &accs) || !p2d__take(p, &at, accs, sizeof(double), &p->o_theta) ||
            !p2d__take(p, &at, 2 * n, sizeof(int32_t), &p->o_kids) || !p2d__take(p, &at, trig, sizeof(double), &p->o_trig) ||
            !p2d__take(p, &at, n + 1, sizeof(p2d__node), &p->o_tree))
            return 0;
    }
    if (!tp_size_mul(np, p->block, &zb) || !p2d__take(p, &at, zb, sizeof(double), &p->o_z) ||
        !tp_size_mul(np, p->unit / 8, &mb) || !tp_size_mul(mb, p->masks ? d->n_alpha : 0, &mb) ||
        !p2d__take(p, &at, mb, 1, &p->o_mask) ||
        !tp_size_mul(n, p->peaks ? p->block : 0, &pb) || !p2d__take(p, &at, pb, sizeof(p2d_peak), &p->o_peaks) ||
        !p2d__take(p, &at, p->block, sizeof(p2d_slice), &p->o_info))
        return 0;
    if (p->geometry) {
        size_t gb, lb;
        if (!tp_size_mul(pb, (d->geometry ? 1 : 0) + p->n_widths, &gb) ||
            !p2d__take(p, &at, gb, sizeof(p2d_geom), &p->o_geom) ||
            !tp_size_mul(n, p->labels ? p->block : 0, &lb) || !p2d__take(p, &at, lb, sizeof(uint16_t), &p->o_labels))
            return 0;
    }
    if (p->wrap_x || p->wrap_y) { /* the pixels of the wrapped edges and their neighbours (p2d__edges) */
        size_t ne = 2 * (p->n_x + p->n_y), nb;
        if (!p2d__take(p, &at, np, sizeof(int32_t), &p->o_edge) || !p2d__take(p, &at, ne, sizeof(uint32_t), &p->o_edge_at) ||
            !tp_size_mul(ne, 8, &nb) || !p2d__take(p, &at, nb, sizeof(int32_t), &p->o_edge_nb))
            return 0;
    }
    p->slab = at;
    return 1;
}

/* Row and column of a padded index by a multiply and a shift: a division per peak and per col
   showed in profiles. With s = 31 + ceil(log2 w2) and m = floor(2^s / w2) + 1, i * m >> s is i / w2
   for every i < 2^31 (m's excess adds less than i / 2^s < 1 / w2 to i / w2); m <= 2^32, so the
   product fits 64 bits. */
static void p2d__row_divisor(p2d__plan *p)
{
    unsigned l = 0;
    while (((size_t)1 << l) < p->w2) l++;
    p->row_shift = 31 + l;
    p->row_mul = ((uint64_t)1 << p->row_shift) / p->w2 + 1;
}

static void p2d__rowcol(const p2d__plan *p, size_t padded, int32_t *ix, int32_t *iy)
{
    size_t row = (size_t)(((uint64_t)padded * p->row_mul) >> p->row_shift);
    *ix = (int32_t)row - 1;
    *iy = (int32_t)(padded - row * p->w2) - 1;
}

/* The upper link of a pixel: which of its 8 neighbours (bit i: offset i in row-major order NW N NE
   W E SW S SE) come before it in the sweep, and how many separate pieces they form around it
   (pieces joined through the ring, in the run's connectivity, that touch the pixel), with one
   neighbour of each piece. One piece or none: the pixel can join nothing together. The entry
   also says what p2d__classify does with such a pixel, in offsets within the padded slice. */
typedef struct p2d__link {
    uint8_t n_comp;
    uint8_t summit, saddle;  /* no earlier neighbour; two pieces or more */
    uint8_t take_up;         /* an earlier predecessor exists: take over its pointer */
    int32_t up_off;          /* that predecessor (0 when none) */
    int32_t to_off;          /* else the earlier later neighbour to point at (0: itself, a summit) */
    int32_t rep_off[4];      /* a neighbour of each piece */
} p2d__link;

static void p2d__link_table(int conn, size_t w2, p2d__link *table)
{
    static const int dx[8] = {-1, -1, -1, 0, 0, 1, 1, 1}, dy[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
    /* the neighbours that can carry a pointer: the connectivity's, earlier ones (bits 0-3) first */
    const int before = conn == 4 ? 0x0A : 0x0F, after = conn == 4 ? 0x50 : 0xF0;
    int mask, i, j;
    for (mask = 0; mask < 256; mask++) {
        int comp[8], stack[8], n = 0, top;
        p2d__link *l = table + mask;
        memset(l, 0, sizeof *l);
        for (i = 0; i < 8; i++) comp[i] = -1;
        for (i = 0; i < 8; i++) {
            int rep = -1;
            if (!(mask >> i & 1) || comp[i] >= 0) continue;
            comp[i] = n;
            stack[0] = i;
            top = 1;
            while (top) {
                int a = stack[--top];
                if (conn == 8 || dx[a] == 0 || dy[a] == 0) rep = rep < 0 ? a : rep;
                for (j = 0; j < 8; j++) {
                    int ddx = dx[a] - dx[j], ddy = dy[a] - dy[j], adx = ddx < 0 ? -ddx : ddx, ady = ddy < 0 ? -ddy : ddy;
                    if (!(mask >> j & 1) || comp[j] >= 0 || adx > 1 || ady > 1 || (conn == 4 && adx + ady != 1)) continue;
                    comp[j] = n;
                    stack[top++] = j;
                }
            }
            n++;
            if (rep >= 0) l->rep_off[l->n_comp++] = (int32_t)(dx[rep] * (int)w2 + dy[rep]);
        }
        for (i = 0; i < 8; i++) {
            int32_t o = (int32_t)(dx[i] * (int)w2 + dy[i]);
            if ((mask & before) >> i & 1 && !l->take_up) l->take_up = 1, l->up_off = o;
            if ((mask & after) >> i & 1 && !l->to_off) l->to_off = o;
        }
        l->summit = (mask & (before | after)) == 0;
        l->saddle = l->n_comp >= 2;
    }
}

/* ---- >>upper-link masks: which neighbours come before each pixel in the sweep ----------------- */

/* Bit i of a pixel's mask: neighbour i (NW N NE W E SW S SE) comes before it in the sweep, which
   visits higher values first and equal values in row-major order. So an earlier neighbour (bits
   0-3) counts when it is at least as high, a later one (bits 4-7) when it is strictly higher.
   The padding ring's -inf is never strictly higher; a -inf pixel's ring bits are cleared below. */
static unsigned p2d__upper_mask(const double *z, ptrdiff_t W, size_t at)
{
    double v = z[at];
    return (unsigned)(z[at - W - 1] >= v) | (unsigned)(z[at - W] >= v) << 1 | (unsigned)(z[at - W + 1] >= v) << 2 |
           (unsigned)(z[at - 1] >= v) << 3 | (unsigned)(z[at + 1] > v) << 4 | (unsigned)(z[at + W - 1] > v) << 5 |
           (unsigned)(z[at + W] > v) << 6 | (unsigned)(z[at + W + 1] > v) << 7;
}

/* The masks of pixels from .. to - 1 (padded indices; the ring columns between rows come along,
   and nothing reads theirs). The vector variants give the same bytes as the plain loop. */
typedef void (*p2d__upper_fn)(const double *z, size_t w2, size_t from, size_t to, uint8_t *flag);

static void p2d__upper_plain(const double *z, size_t w2, size_t from, size_t to, uint8_t *flag)
{
    size_t at;
    for (at = from; at < to; at++) flag[at] = (uint8_t)p2d__upper_mask(z, (ptrdiff_t)w2, at);
}

#if defined(TP_VECTOR) && !defined(P2D_NO_VECTOR_EXTENSIONS)
#define P2D__VECTOR 1
#if defined(TP_X86_TARGETS)
#define P2D__X86_WIDE 1
#endif
#endif

/* A kernel family `stem` (upper-link masks, min/max, row thresholds): stem_plain written out, the
   vector variants made by MAKE(name, bytes, attr) where they are built, and the table of the
   family by level (plain C, 16-byte vectors, AVX2, AVX-512), indexed by p2d__kernel_level. */
#if defined(P2D__X86_WIDE)
#define P2D__KERNELS(MAKE, stem)                                                                \
    MAKE(stem##_v2, 16, )                                                                       \
    MAKE(stem##_avx2, 32, __attribute__((target("avx2"))))                                      \
    MAKE(stem##_avx512, 64, __attribute__((target("avx512f"))))                                 \
    static const stem##_fn stem##_kernels[] = {stem##_plain, stem##_v2, stem##_avx2, stem##_avx512};
#elif defined(P2D__VECTOR)
#define P2D__KERNELS(MAKE, stem)                                                                \
    MAKE(stem##_v2, 16, )                                                                       \
    static const stem##_fn stem##_kernels[] = {stem##_plain, stem##_v2};
#else
#define P2D__KERNELS(MAKE, stem) static const stem##_fn stem##_kernels[] = {stem##_plain};
#endif

#if defined(P2D__VECTOR)
/* Named vectors, not an array: gcc keeps an array of vectors on the stack. */
#define P2D__UPPER_FN(name, bytes, attr)                                                        \
    attr static void name(const double *z, size_t w2, size_t from, size_t to, uint8_t *flag)    \
    {                                                                                           \
        typedef double vd __attribute__((vector_size(bytes)));                                 \
        typedef long long vi __attribute__((vector_size(bytes)));                              \
        typedef unsigned char vb __attribute__((vector_size(bytes / 8)));                      \
        const ptrdiff_t W = (ptrdiff_t)w2;                                                      \
        size_t at;                                                                              \
        for (at = from; at + bytes / 8 <= to; at += bytes / 8) {                                \
            const double *c = z + at;                                                           \
            vd v, nw, n, ne, we, ea, sw, s, se;                                                 \
            vi m;                                                                               \
            vb out;                                                                             \
            memcpy(&v, c, sizeof v);                                                            \
            memcpy(&nw, c - W - 1, sizeof v);                                                   \
            memcpy(&n, c - W, sizeof v);                                                        \
            memcpy(&ne, c - W + 1, sizeof v);                                                   \
            memcpy(&we, c - 1, sizeof v);                                                       \
            memcpy(&ea, c + 1, sizeof v);                                                       \
            memcpy(&sw, c + W - 1, sizeof v);                                                   \
            memcpy(&s, c + W, sizeof v);                                                        \
            memcpy(&se, c + W + 1, sizeof v);                                                   \
            m = ((nw >= v) & 1) | ((n >= v) & 2) | ((ne >= v) & 4) | ((we >= v) & 8) |          \
                ((ea > v) & 16) | ((sw > v) & 32) | ((s > v) & 64) | ((se > v) & 128);          \
            out = __builtin_convertvector(m, vb);                                               \
            memcpy(flag + at, &out, sizeof out);                                                \
        }                                                                                       \
        p2d__upper_plain(z, w2, at, to, flag);                                                  \
    }
#endif
P2D__KERNELS(P2D__UPPER_FN, p2d__upper)

/* The widest kernel level this CPU runs, an index into the kernel tables */
static int p2d__kernel_level(void)
{
#if defined(P2D__X86_WIDE)
    unsigned f = tp_cpu_features();
    if (f & TP_CPU_AVX512F) return 3;
    if (f & TP_CPU_AVX2) return 2;
#endif
#if defined(P2D__VECTOR)
    return 1;
#else
    return 0;
#endif
}

P2DDEF const char *p2d_build_info(void)
{
    static const char *const names[] = {"prom2d 1.0.0 plain", "prom2d 1.0.0 vector", "prom2d 1.0.0 avx2",
                                        "prom2d 1.0.0 avx512"};
    return names[p2d__kernel_level()];
}

/* A -inf pixel on the edge would count the ring's -inf as an earlier neighbour: clear those bits. */
static void p2d__clear_ring_bits(const p2d__plan *p, const double *z, uint8_t *flag)
{
    size_t ix, iy;
    for (ix = 1; ix <= p->n_x; ix++)
        for (iy = 1; iy <= p->n_y; iy++) {
            size_t at = ix * p->w2 + iy;
            unsigned ring = (ix == 1 ? 0x07u : 0u) | (iy == 1 ? 0x09u : 0u) | (iy == p->n_y ? 0x04u : 0u);
            if (z[at] == -HUGE_VAL) flag[at] = (uint8_t)(flag[at] & ~ring);
        }
}

/* ---- >>range of a slice ----------------------------------------------------------------- */

/* The first minimal and the first maximal pixel of a slice in row-major order (padded indices);
   0 when a pixel is NaN. Every variant finds the same two pixels: each lane keeps the first
   pixel where it rose (or fell) strictly, and the lanes that reach the extreme give the
   smallest of their indices. */
typedef int (*p2d__range_fn)(const double *z, size_t w2, size_t n_x, size_t n_y, size_t *lo_at, size_t *hi_at);

static int p2d__range_plain(const double *z, size_t w2, size_t n_x, size_t n_y, size_t *lo_at, size_t *hi_at)
{
    size_t ix, iy, lo = w2 + 1, hi = lo;
    int nan = 0;
    for (ix = 1; ix <= n_x; ix++)
        for (iy = 1; iy <= n_y; iy++) {
            size_t at = ix * w2 + iy;
            nan |= z[at] != z[at];
            lo = z[at] < z[lo] ? at : lo;
            hi = z[at] > z[hi] ? at : hi;
        }
    *lo_at = lo, *hi_at = hi;
    return !nan;
}

#if defined(P2D__VECTOR)
#define P2D__RANGE_FN(name, bytes, attr)                                                        \
    attr static int name(const double *z, size_t w2, size_t n_x, size_t n_y, size_t *lo_at, size_t *hi_at) \
    {                                                                                           \
        typedef double vd __attribute__((vector_size(bytes)));                                 \
        typedef long long vi __attribute__((vector_size(bytes)));                              \
        enum { L = bytes / 8 };                                                                 \
        vd vlo, vhi;                                                                            \
        vi bad, m, a, b, ilo, ihi, lane;                                                        \
        size_t ix, iy, lo, hi;                                                                  \
        int k;                                                                                  \
        if (n_y < L) return p2d__range_plain(z, w2, n_x, n_y, lo_at, hi_at);                   \
        for (k = 0; k < L; k++) lane[k] = k;                                                    \
        memcpy(&vlo, z + w2 + 1, sizeof vlo);                                                   \
        vhi = vlo;                                                                              \
        ilo = ihi = lane + (long long)(w2 + 1);                                                 \
        bad = lane & 0;                                                                         \
        for (ix = 1; ix <= n_x; ix++)                                                           \
            for (iy = 1; iy <= n_y; iy += L) {                                                  \
                vd v;                                                                           \
                vi at;                                                                          \
                if (iy + L > n_y + 1) iy = n_y + 1 - L; /* the row's last vector overlaps */    \
                memcpy(&v, z + ix * w2 + iy, sizeof v);                                         \
                at = lane + (long long)(ix * w2 + iy);                                          \
                bad |= v != v;                                                                  \
                memcpy(&a, &v, sizeof a);                                                       \
                m = v < vlo; memcpy(&b, &vlo, sizeof b); b = (a & m) | (b & ~m); memcpy(&vlo, &b, sizeof b); \
                ilo = (at & m) | (ilo & ~m);                                                    \
                m = v > vhi; memcpy(&b, &vhi, sizeof b); b = (a & m) | (b & ~m); memcpy(&vhi, &b, sizeof b); \
                ihi = (at & m) | (ihi & ~m);                                                    \
            }                                                                                   \
        lo = (size_t)ilo[0], hi = (size_t)ihi[0];                                               \
        for (k = 1; k < L; k++) {                                                               \
            size_t l = (size_t)ilo[k], h = (size_t)ihi[k];                                      \
            if (z[l] < z[lo] || (z[l] == z[lo] && l < lo)) lo = l;                              \
            if (z[h] > z[hi] || (z[h] == z[hi] && h < hi)) hi = h;                              \
        }                                                                                       \
        *lo_at = lo, *hi_at = hi;                                                               \
        for (k = 0; k < L; k++)                                                                 \
            if (bad[k]) return 0;                                                               \
        return 1;                                                                               \
    }
#endif
P2D__KERNELS(P2D__RANGE_FN, p2d__range)

/* ---- >>rows of a fill: which pixels of a row reach a threshold ------------------------------ */

/* Bit i: r[i] >= thr, for n <= 64 values. */
typedef uint64_t (*p2d__at_least_fn)(const double *r, size_t n, double thr);

static uint64_t p2d__at_least_plain(const double *r, size_t n, double thr)
{
    uint64_t m = 0;
    size_t i;
    for (i = 0; i < n; i++) m |= (uint64_t)(r[i] >= thr) << i;
    return m;
}

#if defined(P2D__VECTOR)
/* Each vector's lanes OR their bits into an accumulator; the row's last vector overlaps. */
#define P2D__AT_LEAST_FN(name, bytes, attr)                                                     \
    attr static uint64_t name(const double *r, size_t n, double thr)                            \
    {                                                                                           \
        typedef double vd __attribute__((vector_size(bytes)));                                 \
        typedef long long vi __attribute__((vector_size(bytes)));                              \
        typedef unsigned long long vu __attribute__((vector_size(bytes)));                     \
        enum { L = bytes / 8 };                                                                 \
        vd v, t;                                                                                \
        vi ge;                                                                                  \
        vu acc, bit, sel;                                                                       \
        size_t i;                                                                               \
        int k;                                                                                  \
        uint64_t m = 0;                                                                         \
        if (n < L) return p2d__at_least_plain(r, n, thr);                                       \
        for (k = 0; k < L; k++) t[k] = thr, bit[k] = (unsigned long long)1 << k;                \
        acc = bit & 0;                                                                          \
        for (i = 0; i < n; i += L) {                                                            \
            if (i + L > n) i = n - L;                                                           \
            memcpy(&v, r + i, sizeof v);                                                        \
            ge = v >= t;                                                                        \
            memcpy(&sel, &ge, sizeof sel);                                                      \
            acc |= sel & (bit << i);                                                            \
        }                                                                                       \
        for (k = 0; k < L; k++) m |= (uint64_t)acc[k];                                          \
        return m;                                                                               \
    }
#endif
P2D__KERNELS(P2D__AT_LEAST_FN, p2d__at_least)

/* Min, max, first row-major argmax (padded index) of the cells that are not NaN, and how many
   are NaN. Returns 0 for an all-NaN slice. Each extreme is its first pixel's value, so a zero has
   the same sign whatever the kernel. Slices with holes take a plain loop. */
static int p2d__scan(const p2d__plan *p, p2d__range_fn range, const double *z, double *mn, double *mx, size_t *arg,
                     size_t *n_nan)
{
    size_t lo = 0, ix, iy, hi = 0, holes = 0;
    *n_nan = 0;
    if (range(z, p->w2, p->n_x, p->n_y, &lo, arg)) {
        *mn = z[lo];
        *mx = z[*arg];
        return 1;
    }
    lo = 0;
    for (ix = 1; ix <= p->n_x; ix++)
        for (iy = 1; iy <= p->n_y; iy++) {
            size_t at = ix * p->w2 + iy;
            if (z[at] != z[at]) { holes++; continue; }
            if (!lo || z[at] < z[lo]) lo = at;
            if (!hi || z[at] > z[hi]) hi = at;
        }
    *n_nan = holes;
    if (!lo) return 0;
    *arg = hi;
    *mn = z[lo];
    *mx = z[hi];
    return 1;
}

/* ---- >>one worker's scratch ------------------------------------------------------------------ */

typedef struct p2d__work {
    double *z;             /* block of padded slices: slice b at z + b*npad; ring = -inf */
    uint8_t *mask;         /* a unit's masks as bits: [alpha][padded pixel][bin / 8], bin at bit bin % 8 */
    size_t unit_t0;        /* the unit they belong to (its first bin) */
    uint64_t planes;       /* which bytes of the unit (bin / 8) this worker computed */
    p2d_peak *peaks;       /* block peaks, npix per bin at most */
    size_t *n_peaks;       /* per bin of the block (inside the run's shared array) */
    p2d_slice *info;       /* per bin of the block */
    uint64_t *keys, *keys2;
    uint32_t *crit, *sad;  /* exact: the summits and the saddles of a slice */
    int32_t *root, *csad, *cpar, *cout, *queue, *up;
    double *ccol, *cmin;   /* per candidate: col level; the minimum of its component (holes) */
    int32_t *up0, *bas, *kids; /* geometry: classify's pointers; each cell's basin, then region; the tree */
    char *acc;             /* geometry: per candidate, accumulators (total, region, each width) */
    p2d__node *tree;       /* geometry: per candidate, death level and parent */
    int32_t *edge;         /* periodic: per padded pixel on the grid's border, its row r in edge_nb, as r
                              on a wrapped edge and -2 - r on another; -1 inside */
    uint32_t *edge_at;     /* periodic: the wrapped edges' pixels, row-major; n_edge of them */
    int32_t *edge_nb;      /* periodic: per border pixel, its 8 neighbours across the wrapped edges, as (row,
                              column) offsets (-1,0) (0,-1) (0,1) (1,0) (-1,-1) (-1,1) (1,-1) (1,1); 0: none */
    size_t n_edge;
    double *lvl, *theta, *trig; /* per candidate: region floor, width floors; cos/sin per row, column */
    p2d_geom *geom;        /* block: regions of the listed peaks (then widths), npix * (1 + n_widths) a bin */
    uint16_t *labels;      /* block: npix a bin */
    p2d_geom *cur_geom, *cur_wid; /* this bin's: NULL when not asked for */
    uint16_t *cur_labels;
    uint32_t *mark;
    uint32_t stamp;
    uint8_t *flag;          /* pyPho: peak flags; exact: each pixel's upper-link mask */
    p2d__link links[256];   /* exact: the upper-link table of the run's connectivity */
    p2d__row *rows;         /* masks: a fill's rows, when rows are 64 pixels at most */
    int32_t *row_stack;
    uint32_t row_stamp;
    p2d__upper_fn upper;    /* exact: the widest upper-link mask kernel this CPU runs */
    p2d__range_fn range;    /* the widest min/max kernel */
    p2d__at_least_fn at_least; /* masks: the widest row threshold kernel */
} p2d__work;

static void p2d__edges(const p2d__plan *p, p2d__work *w);

static void p2d__work_init(p2d__work *w, char *slab, const p2d__plan *p)
{
    size_t i;
    int g;
    for (g = 0; TP_ASAN && g < p->n_gaps; g++) TP_POISON(slab + p->gap[g][0], p->gap[g][1] - p->gap[g][0]);
    w->z = (double *)(slab + p->o_z);
    w->mask = (uint8_t *)(slab + p->o_mask);
    w->peaks = (p2d_peak *)(slab + p->o_peaks);
    w->keys = (uint64_t *)(slab + p->o_keys);
    w->keys2 = (uint64_t *)(slab + p->o_keys2);
    w->root = (int32_t *)(slab + p->o_root);
    w->sad = (uint32_t *)(slab + p->o_sad);
    w->csad = (int32_t *)(slab + p->o_csad);
    w->cpar = (int32_t *)(slab + p->o_cpar);
    w->ccol = (double *)(slab + p->o_ccol);
    w->cmin = (double *)(slab + p->o_cmin);
    w->up0 = (int32_t *)(slab + p->o_up0);
    w->bas = (int32_t *)(slab + p->o_bas);
    w->kids = (int32_t *)(slab + p->o_kids);
    w->acc = slab + p->o_acc;
    w->tree = (p2d__node *)(void *)(slab + p->o_tree);
    w->lvl = (double *)(slab + p->o_lvl);
    w->theta = (double *)(slab + p->o_theta);
    w->trig = (double *)(slab + p->o_trig);
    w->geom = (p2d_geom *)(slab + p->o_geom);
    w->labels = (uint16_t *)(slab + p->o_labels);
    w->edge = (int32_t *)(slab + p->o_edge);
    w->edge_at = (uint32_t *)(slab + p->o_edge_at);
    w->edge_nb = (int32_t *)(slab + p->o_edge_nb);
    w->n_edge = 0;
    if (p->wrap_x || p->wrap_y) p2d__edges(p, w);
    w->cur_geom = w->cur_wid = NULL;
    w->cur_labels = NULL;
    if (p->geometry && (p->wrap_x || p->wrap_y)) { /* a wrapped axis: centroids as circular means */
        for (i = 0; i < p->n_x; i++) {
            w->trig[2 * i] = cos(2 * 3.14159265358979323846 * (double)i / (double)p->n_x);
            w->trig[2 * i + 1] = sin(2 * 3.14159265358979323846 * (double)i / (double)p->n_x);
        }
        for (i = 0; i < p->n_y; i++) {
            w->trig[2 * (p->n_x + i)] = cos(2 * 3.14159265358979323846 * (double)i / (double)p->n_y);
            w->trig[2 * (p->n_x + i) + 1] = sin(2 * 3.14159265358979323846 * (double)i / (double)p->n_y);
        }
    }
    w->cout = (int32_t *)(slab + p->o_cout);
    w->queue = (int32_t *)(slab + p->o_queue);
    w->mark = (uint32_t *)(slab + p->o_mark);
    w->flag = (uint8_t *)(slab + p->o_flag);
    w->up = (int32_t *)(slab + p->o_up);
    w->crit = (uint32_t *)(slab + p->o_crit);
    w->rows = (p2d__row *)(slab + p->o_rows);
    w->row_stack = (int32_t *)(slab + p->o_row_stack);
    if (p->row_fill) memset(w->rows, 0, (p->n_x + 2) * sizeof(p2d__row));
    w->row_stamp = 0;
    /* The padding ring never changes: -inf values, marked visited, no label, not a peak. */
    for (i = 0; i < p->npad * p->block; i++) w->z[i] = -HUGE_VAL;
    if (p->pypho) { /* pyPho's peak groups: the ring is marked visited */
        for (i = 0; i < p->npad; i++) w->mark[i] = P2D__BORDER;
        for (i = 1; i <= p->n_x; i++) memset(w->mark + i * p->w2 + 1, 0, p->n_y * sizeof(uint32_t));
    }
    if (p->exact) /* the ring's pointers are read (and never used) by p2d__classify */
        for (i = 0; i < p->npad; i++) w->up[i] = (int32_t)i;
    if (p->pypho) memset(w->flag, 0, p->npad);
    if (p->exact) p2d__link_table(p->connectivity, p->w2, w->links);
    if (p->exact) w->upper = p2d__upper_kernels[p2d__kernel_level()];
    w->range = p2d__range_kernels[p2d__kernel_level()];
    w->at_least = p2d__at_least_kernels[p2d__kernel_level()];
    w->stamp = 0;
    w->planes = 0;
    w->unit_t0 = 0;
}

/* A fresh flood-fill stamp; the marks are cleared when the counter wraps. */
static uint32_t p2d__new_stamp(p2d__work *w, const p2d__plan *p)
{
    size_t i;
    if (++w->stamp == P2D__BORDER) {
        for (i = 1; i <= p->n_x; i++) memset(w->mark + i * p->w2 + 1, 0, p->n_y * sizeof(uint32_t));
        w->stamp = 1;
    }
    return w->stamp;
}

/* ---- >>gather: a block of bins into padded double slices ------------------------------------ */

typedef struct p2d__job {
    const p2d_ctx *ctx;
    const p2d_cube *cube;
    ptrdiff_t sx, sy, st;  /* resolved input strides (elements) */
    const p2d_masks *masks;
    ptrdiff_t ma, mx, my, mt; /* resolved mask strides (bytes) */
    uint8_t *status;
    p2d__plan plan;
} p2d__job;

static void p2d__gather(const p2d__job *j, size_t t0, size_t nb, double *z)
{
    const p2d__plan *p = &j->plan;
    const size_t np = p->npad;
    size_t ix, iy, b;
    for (ix = 0; ix < p->n_x; ix++) {
        ptrdiff_t off = (ptrdiff_t)ix * j->sx + (ptrdiff_t)t0 * j->st;
        double *dst = z + (ix + 1) * p->w2 + 1;
        if (j->cube->dtype == TP_F64 && j->st == 1 && nb == 8) { /* a time-fastest cube's block */
            const double *src = (const double *)j->cube->data + off;
            /* each value's line is one of n_x * n_y lines far apart: ask for the next block's
               line now, so that it arrives while this block is computed */
            int ahead = t0 + 16 <= p->n_t;
            for (iy = 0; iy < p->n_y; iy++, src += j->sy) {
                double *d = dst + iy;
                if (ahead) P2D__PREFETCH(src + 8);
                d[0] = src[0], d[np] = src[1], d[2 * np] = src[2], d[3 * np] = src[3];
                d[4 * np] = src[4], d[5 * np] = src[5], d[6 * np] = src[6], d[7 * np] = src[7];
            }
        } else if (j->cube->dtype == TP_F32) {
            for (iy = 0; iy < p->n_y; iy++) {
                const float *src = (const float *)j->cube->data + off + (ptrdiff_t)iy * j->sy;
                for (b = 0; b < nb; b++) dst[iy + b * np] = (double)src[(ptrdiff_t)b * j->st];
            }
        } else {
            for (iy = 0; iy < p->n_y; iy++) {
                const double *src = (const double *)j->cube->data + off + (ptrdiff_t)iy * j->sy;
                for (b = 0; b < nb; b++) dst[iy + b * np] = src[(ptrdiff_t)b * j->st];
            }
        }
    }
}

/* ---- >>exact mode: the union-find sweep over the pixels that matter --------------------------- */

/* A key that sorts doubles in descending order as unsigned integers (-0 and +0 equal). */
static uint64_t p2d__desc_key(double v)
{
    uint64_t u;
    v += 0.0; /* -0 + 0 = +0 (round to nearest); every other value is unchanged */
    memcpy(&u, &v, sizeof u);
    /* ascending order: flip every bit of a negative value, only the sign of a positive one */
    u ^= ((uint64_t)0 - (u >> 63)) | ((uint64_t)1 << 63);
    return ~u;
}

/* item a goes before item b: full key, then index */
static int p2d__before(const double *z, uint64_t a, uint64_t b)
{
    uint64_t ka = p2d__desc_key(z[(uint32_t)a]), kb = p2d__desc_key(z[(uint32_t)b]);
    return ka < kb || (ka == kb && (uint32_t)a < (uint32_t)b);
}

/* Shell sort (Ciura's gaps) of a run of items whose sorted bits agree: usually 2 or 3 items,
   but a slice whose values differ only in their last bits makes one long run. */
static void p2d__sort_run(const double *z, uint64_t *it, size_t n)
{
    static const size_t gaps[] = {1577, 701, 301, 132, 57, 23, 10, 4, 1};
    size_t g, gap, i, j;
    for (g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        gap = gaps[g];
        if (gap == 1577) while (gap * 9 / 4 < n) gap = gap * 9 / 4;
        for (i = gap; i < n; i++) {
            uint64_t x = it[i];
            for (j = i; j >= gap && p2d__before(z, x, it[j - gap]); j -= gap) it[j] = it[j - gap];
            it[j] = x;
        }
    }
}

/* Sorts n pixels (padded indices, which order like row-major ones) by descending value, ties by
   ascending index, as items (top 32 key bits << 32 | padded index). An LSD radix sort (stable,
   so ties keep index order) on the 24 key bits from the highest one that differs between the
   slice's extremes, in three passes of 8 bits (for a few hundred items small count tables pay),
   then a sort of the rare runs whose sorted bits agree (values closer than ~2^-21 relative for
   typical data). Returns the sorted array: items or tmp. */
static uint64_t *p2d__sort_items(const double *z, double zmin, double zmax, const uint32_t *pixels, uint64_t *items,
                                 uint64_t *tmp, size_t n)
{
    uint32_t count[3][256];
    uint64_t span = (p2d__desc_key(zmin) ^ p2d__desc_key(zmax)) >> 32, *from = items, *to = tmp, *swap;
    size_t i;
    int top = 32, lowest, d, c;
    while (span >> (top - 32)) top++;
    lowest = top - 24 > 32 ? top - 24 : 32;
    memset(count, 0, sizeof count);
    for (i = 0; i < n; i++) {
        uint64_t it = (p2d__desc_key(z[pixels[i]]) & 0xFFFFFFFF00000000u) | (uint64_t)pixels[i];
        items[i] = it;
        count[0][(it >> lowest) & 255]++;
        count[1][(it >> (lowest + 8)) & 255]++;
        count[2][(it >> (lowest + 16)) & 255]++;
    }
    for (d = 0; d < 3; d++) {
        uint32_t sum = 0;
        for (c = 0; c < 256; c++) {
            uint32_t x = count[d][c];
            count[d][c] = sum;
            sum += x;
        }
        for (i = 0; i < n; i++) to[count[d][(from[i] >> (lowest + 8 * d)) & 255]++] = from[i];
        swap = from, from = to, to = swap;
    }
    for (i = 1; i < n; i++) {
        size_t end;
        if ((from[i] >> lowest) != (from[i - 1] >> lowest)) continue;
        for (end = i + 1; end < n && (from[end] >> lowest) == (from[i] >> lowest); end++) {}
        p2d__sort_run(z, from + i - 1, end - i + 1);
        i = end - 1;
    }
    return from;
}

/* The sweep of section 4 visits every pixel in descending order, but only two kinds of pixel
   change its regions: summits (no earlier neighbour) and saddles (pixels whose earlier neighbours
   form two or more pieces around them, p2d__link). One pass over the slice in row-major order
   lists both and gives every other pixel a pointer to an earlier pixel of its region: following
   the pointers climbs, through earlier pixels only, to the summit whose region holds the pixel
   from the time it is visited. Sorting and sweeping the summits and saddles alone then gives
   exactly the full sweep's summits, cols and parents. The masks come first, for whole vectors;
   the pointer pass is then table look-ups without branches. Lists the summits (crit) and the
   saddles (sad) in row-major order; up[] holds the pointers (summits point at themselves),
   flag[] the upper-link masks. */
static void p2d__classify(const p2d__plan *p, p2d__work *w, const double *z, double zmin, size_t *n_summits,
                          size_t *n_saddles)
{
    size_t W = p->w2, ix, iy, ns = 0, nd = 0;
    /* locals, not w->...: the stores could alias w itself */
    const uint8_t *flag = w->flag;
    int32_t *up = w->up;
    uint32_t *summits = w->crit, *saddles = w->sad;
    const p2d__link *links = w->links;
    w->upper(z, W, W + 1, p->n_x * W + p->n_y + 1, w->flag);
    if (zmin == -HUGE_VAL) p2d__clear_ring_bits(p, z, w->flag);
    for (ix = 1; ix <= p->n_x; ix++) {
        for (iy = 1; iy <= p->n_y; iy++) {
            int32_t at = (int32_t)(ix * W + iy);
            const p2d__link *l = links + flag[at];
            /* an earlier predecessor already points closer to the summit: take its pointer; else
               point at an earlier later neighbour, or at itself (a summit) */
            int32_t via = up[at + l->up_off], own = at + l->to_off, take = -(int32_t)l->take_up;
            up[at] = (via & take) | (own & ~take);
            summits[ns] = (uint32_t)at;
            saddles[nd] = (uint32_t)at;
            ns += l->summit;
            nd += l->saddle;
        }
    }
    *n_summits = ns;
    *n_saddles = nd;
}

/* The root of x's tree. Trees here are shallow (a few hops): the first three hops are inline and
   take no loop whose exit the branch predictor would keep missing; a deeper path is compressed
   whole (a region that keeps losing makes long chains, and halving left them for the next find). */
static int32_t p2d__find_deep(int32_t *parent, int32_t x, int32_t r)
{
    int32_t next;
    while (parent[r] != r) r = parent[r];
    while (x != r) { /* the whole path now points at the root */
        next = parent[x];
        parent[x] = r;
        x = next;
    }
    return r;
}

static P2D__INLINE int32_t p2d__find(int32_t *parent, int32_t x)
{
    int32_t b = parent[parent[parent[x]]];
    if (parent[b] != b) return p2d__find_deep(parent, x, b);
    parent[x] = b;
    return b;
}

/* Births: summit i (row-major) becomes candidate i (root[] maps a summit to its candidate).
   Candidate c, when it dies: col level ccol[c], saddle csad[c], parent cpar[c]. */
static void p2d__births(p2d__work *w, const double *z, const uint32_t *summits, size_t n)
{
    size_t c;
    for (c = 0; c < n; c++) {
        int32_t at = (int32_t)summits[c];
        w->root[at] = (int32_t)c;
        w->csad[c] = -1;
        w->cpar[c] = -1;
        w->ccol[c] = z[at];
    }
}

/* Summit a comes before summit b in the sweep: higher, or as high and earlier in row-major order. */
static P2D__INLINE int p2d__older(const double *z, int32_t a, int32_t b)
{
    return z[a] > z[b] || (z[a] == z[b] && a < b);
}

/* Region roots[0..nr) meet at pixel at: every one but the highest (the oldest summit) dies there. */
static void p2d__merge(p2d__work *w, const double *z, int32_t at, const int32_t *roots, int nr)
{
    int32_t win;
    int m;
    if (nr < 2) return;
    for (win = roots[0], m = 1; m < nr; m++)
        if (p2d__older(z, roots[m], win)) win = roots[m];
    for (m = 0; m < nr; m++) {
        int32_t c;
        if (roots[m] == win) continue;
        c = w->root[roots[m]];
        w->ccol[c] = z[at];
        w->csad[c] = at;
        w->cpar[c] = w->root[win];
        w->up[roots[m]] = win;
    }
}

/* The padded index of the neighbour (dx, dy) of padded cell (ix, iy), across a periodic edge
   where the axis wraps; 0 when there is none. */
static size_t p2d__wrap_neighbour(const p2d__plan *p, size_t ix, size_t iy, int dx, int dy)
{
    size_t x = ix, y = iy;
    if (dx < 0) x = ix > 1 ? ix - 1 : p->wrap_x ? p->n_x : 0;
    if (dx > 0) x = ix < p->n_x ? ix + 1 : p->wrap_x ? 1 : 0;
    if (dy < 0) y = iy > 1 ? iy - 1 : p->wrap_y ? p->n_y : 0;
    if (dy > 0) y = iy < p->n_y ? iy + 1 : p->wrap_y ? 1 : 0;
    return x && y ? x * p->w2 + y : 0;
}

/* The border's pixels and their neighbours across the wrapped edges (w->edge, edge_at, edge_nb),
   once per worker: the sweep, its fixup and the mask fills look them up per bin. */
static void p2d__edges(const p2d__plan *p, p2d__work *w)
{
    static const int dx[8] = {-1, 0, 0, 1, -1, -1, 1, 1}, dy[8] = {0, -1, 1, 0, -1, 1, -1, 1};
    size_t ix, iy, i, rows = 0;
    int k;
    for (i = 0; i < p->npad; i++) w->edge[i] = -1;
    for (ix = 1; ix <= p->n_x; ix++)
        for (iy = 1; iy <= p->n_y; iy++) {
            size_t at = ix * p->w2 + iy;
            if (ix > 1 && ix < p->n_x && iy > 1 && iy < p->n_y) continue; /* inside */
            for (k = 0; k < 8; k++) w->edge_nb[8 * rows + (size_t)k] = (int32_t)p2d__wrap_neighbour(p, ix, iy, dx[k], dy[k]);
            if ((p->wrap_x && (ix == 1 || ix == p->n_x)) || (p->wrap_y && (iy == 1 || iy == p->n_y))) { /* wraps */
                w->edge[at] = (int32_t)rows;
                w->edge_at[w->n_edge++] = (uint32_t)at;
            } else {
                w->edge[at] = -2 - (int32_t)rows;
            }
            rows++;
        }
}

/* The neighbours of edge pixel at (across periodic edges) that come before it in the sweep, as
   padded indices into nb; returns how many. */
static int p2d__earlier_neighbours(const p2d__plan *p, const p2d__work *w, const double *z, size_t at, size_t *nb)
{
    const int32_t *q = w->edge_nb + 8 * (size_t)w->edge[at];
    int k, n = 0;
    for (k = 0; k < p->connectivity; k++)
        if (q[k] && (z[q[k]] > z[at] || (z[q[k]] == z[at] && (size_t)q[k] < at))) nb[n++] = (size_t)q[k];
    return n;
}

/* The sweep over the sorted saddles. Every summit is born before it starts: a saddle only meets
   the regions of summits above it, so this is the full sweep's order of events. The pointers of
   p2d__classify are the union-find: a summit whose region dies points at the winner's summit, so
   one find climbs from any pixel to the summit of its region now. With periodic edges the
   pixels of a wrapped edge are swept too, each joining the regions of its neighbours across. */
static void p2d__sweep(const p2d__plan *p, p2d__work *w, const double *z, const uint64_t *sorted, size_t n,
                       size_t n_cand)
{
    int32_t *root = w->root, *up = w->up;
    /* a slot no candidate has (a saddle is no summit, so n_cand < the pixels): the writes of a
       two-piece saddle whose pieces are one region already go there */
    const int32_t spare = (int32_t)n_cand;
    const int wrap = p->wrap_x || p->wrap_y;
    size_t i;
    for (i = 0; i < n; i++) {
        int32_t at = (int32_t)(uint32_t)sorted[i], roots[8];
        const p2d__link *l = w->links + w->flag[at];
        int k, m, nr = 0;
        if (wrap && w->edge[at] >= 0) {
            size_t nb[8];
            int n_nb = p2d__earlier_neighbours(p, w, z, (size_t)at, nb);
            for (k = 0; k < n_nb; k++) {
                int32_t r = p2d__find(up, (int32_t)nb[k]);
                for (m = 0; m < nr && roots[m] != r; m++) {}
                if (m == nr) roots[nr++] = r;
            }
            p2d__merge(w, z, at, roots, nr);
            continue;
        }
        if (l->n_comp == 2) { /* most saddles: no branch on the outcome */
            int32_t r0 = p2d__find(up, at + l->rep_off[0]), r1 = p2d__find(up, at + l->rep_off[1]);
            double z0 = z[r0], z1 = z[r1];
            /* masks, not a ternary on p2d__older: compilers branched, and which is older is
               anyone's guess */
            int32_t old0 = -((int32_t)(z0 > z1) | ((int32_t)(z0 == z1) & (int32_t)(r0 < r1)));
            int32_t hi = (r0 & old0) | (r1 & ~old0), lo = r0 ^ r1 ^ hi, one = -(int32_t)(r0 == r1);
            int32_t c = (root[lo] & ~one) | (spare & one);
            w->ccol[c] = z[at];
            w->csad[c] = at;
            w->cpar[c] = root[hi];
            up[lo] = hi;
            continue;
        }
        for (k = 0; k < l->n_comp; k++) {
            int32_t r = p2d__find(up, at + l->rep_off[k]);
            for (m = 0; m < nr && roots[m] != r; m++) {}
            if (m == nr) roots[nr++] = r;
        }
        p2d__merge(w, z, at, roots, nr);
    }
}

/* Periodic edges: p2d__classify saw the grid without them. A pixel of a wrapped edge with an
   earlier neighbour across it is no summit: it points at that neighbour instead. Every pixel of a
   wrapped edge (not NaN) joins the saddles, which p2d__sweep handles across the edge. Returns the
   summits left; *n_saddles grows. */
static size_t p2d__wrap_fixup(const p2d__plan *p, p2d__work *w, const double *z, size_t n_summits, size_t *n_saddles)
{
    size_t i, k = 0, ns = 0, nb[8];
    for (i = 0; i < n_summits; i++) {
        size_t at = w->crit[i];
        if (w->edge[at] >= 0 && p2d__earlier_neighbours(p, w, z, at, nb) > 0) w->up[at] = (int32_t)nb[0];
        else w->crit[k++] = (uint32_t)at;
    }
    for (i = 0; i < *n_saddles; i++) /* the edges come again below, once each */
        if (w->edge[w->sad[i]] < 0) w->sad[ns++] = w->sad[i];
    for (i = 0; i < w->n_edge; i++)
        if (z[w->edge_at[i]] == z[w->edge_at[i]]) w->sad[ns++] = w->edge_at[i];
    *n_saddles = ns;
    return k;
}

static void p2d__peak_at(const p2d__plan *p, p2d_peak *pk, size_t padded, double h)
{
    p2d__rowcol(p, padded, &pk->ix, &pk->iy);
    pk->height = h;
    pk->col_ix = pk->col_iy = -1;
    pk->parent = -1;
    pk->col_level = NAN;
}

/* ---- >>geometry: each peak's region, from the sweep's tree ---------------------------------- */

/* Section 3a. When a cell is swept it joins the region of one living summit: its region root
   r(c), the first summit that has not died yet up the tree from the summit its pointers climb to
   (its basin). A summit's region at its floor (its col level, or for the highest its component's
   minimum) holds its own cells above the floor and every whole subtree that merged into it above
   the floor; likewise at any height between floor and summit (the widths). So one pass over the
   cells and one over the tree, children first, give every region. */

static P2D__INLINE p2d__acc *p2d__acc_at(const p2d__plan *p, const p2d__work *w, size_t cand, size_t which)
{
    return (p2d__acc *)(void *)(w->acc + (cand * (2 + p->n_widths) + which) * p->acc_bytes);
}

static void p2d__acc_clear(const p2d__plan *p, p2d__acc *a)
{
    memset(a, 0, p->acc_bytes);
    a->x0 = a->y0 = INT32_MAX;
    a->x1 = a->y1 = -1;
}

static P2D__INLINE void p2d__acc_cell(const p2d__plan *p, const p2d__work *w, p2d__acc *a, int32_t ix, int32_t iy)
{
    uint64_t *bits = (uint64_t *)(void *)(a + 1);
    a->n++;
    a->x0 = ix < a->x0 ? ix : a->x0;
    a->x1 = ix > a->x1 ? ix : a->x1;
    a->y0 = iy < a->y0 ? iy : a->y0;
    a->y1 = iy > a->y1 ? iy : a->y1;
    if (!(p->wrap_x | p->wrap_y)) { /* the usual case */
        a->sx += ix, a->sy += iy;
        return;
    }
    if (p->wrap_x) {
        a->sx += w->trig[2 * ix], a->sx2 += w->trig[2 * ix + 1];
        bits[ix / 64] |= (uint64_t)1 << (ix % 64);
    } else {
        a->sx += ix;
    }
    if (p->wrap_y) {
        a->sy += w->trig[2 * (p->n_x + (size_t)iy)], a->sy2 += w->trig[2 * (p->n_x + (size_t)iy) + 1];
        bits[p->words_x + (size_t)iy / 64] |= (uint64_t)1 << (iy % 64);
    } else {
        a->sy += iy;
    }
}

static void p2d__acc_add(const p2d__plan *p, p2d__acc *a, const p2d__acc *b)
{
    uint64_t *ab = (uint64_t *)(void *)(a + 1);
    const uint64_t *bb = (const uint64_t *)(const void *)(b + 1);
    size_t k;
    if (!b->n) return;
    a->n += b->n;
    if (b->x0 < a->x0) a->x0 = b->x0;
    if (b->x1 > a->x1) a->x1 = b->x1;
    if (b->y0 < a->y0) a->y0 = b->y0;
    if (b->y1 > a->y1) a->y1 = b->y1;
    a->sx += b->sx, a->sy += b->sy, a->sx2 += b->sx2, a->sy2 += b->sy2;
    for (k = 0; k < p->words_x + p->words_y; k++) ab[k] |= bb[k];
}

/* A wrapped axis of n cells: the shortest arc holding every set bit (the complement of the
   longest circular run of clear bits), unwrapped around the peak's coordinate at. */
static void p2d__arc(const uint64_t *bits, size_t n, int32_t at, int32_t *lo, int32_t *hi)
{
    size_t i, gap = 0, best = 0, best_end = 0, first_set = n;
    for (i = 0; i < 2 * n; i++) { /* twice round: a gap may cross the end */
        int set = (int)(bits[i % n / 64] >> (i % n % 64) & 1);
        if (set && first_set == n) first_set = i;
        gap = set ? 0 : gap + 1;
        if (gap > best && gap <= n) best = gap, best_end = i % n;
    }
    if (best == 0 || best >= n) { /* the whole ring (or, never here, nothing) */
        *lo = 0, *hi = (int32_t)n - 1;
        return;
    }
    {
        int32_t start = (int32_t)((best_end + 1) % n), len = (int32_t)(n - best);
        *lo = start <= at ? start : start - (int32_t)n;
        *hi = *lo + len - 1;
    }
    (void)first_set;
}

static void p2d__geom_of(const p2d__plan *p, const p2d__acc *a, int32_t ix, int32_t iy, p2d_geom *g)
{
    const uint64_t *bits = (const uint64_t *)(const void *)(a + 1);
    const double two_pi = 2 * 3.14159265358979323846;
    memset(g, 0, sizeof *g); /* the padding too: outputs compare equal byte for byte */
    g->area = a->n;
    g->x0 = a->x0, g->x1 = a->x1, g->y0 = a->y0, g->y1 = a->y1;
    g->cx = a->n ? a->sx / a->n : NAN;
    g->cy = a->n ? a->sy / a->n : NAN;
    if (p->wrap_x) {
        double t = atan2(a->sx2, a->sx) / two_pi * (double)p->n_x;
        t = t < 0 ? t + (double)p->n_x : t;
        g->cx = t < (double)p->n_x ? t : 0.0; /* a hair below 0 rounds to n */
        p2d__arc(bits, p->n_x, ix, &g->x0, &g->x1);
    }
    if (p->wrap_y) {
        double t = atan2(a->sy2, a->sy) / two_pi * (double)p->n_y;
        t = t < 0 ? t + (double)p->n_y : t;
        g->cy = t < (double)p->n_y ? t : 0.0; /* a hair below 0 rounds to n */
        p2d__arc(bits + p->words_x, p->n_y, iy, &g->y0, &g->y1);
    }
}

/* A cell's region root (in bas, -1 until known): the summit whose region the cell joined when
   the sweep reached it, i.e. going up the tree from where its pointer leads (as p2d__classify
   left the pointers, in up0), past the summits that died at or above the cell's level. The
   pointer's target was swept earlier, so its root is a start further up the same path:
   memoised, every pointer is followed once. */
static void p2d__roots_init(const p2d__plan *p, p2d__work *w, size_t n_cand)
{
    size_t ix, c;
    /* The tree as ladders: a summit's level is the one it died at, or for a summit that never
       died its floor, and its parent then a last node (n_cand) that no cell climbs past and that
       stands for "in no region". */
    for (c = 0; c <= n_cand; c++) {
        p2d__node *t = w->tree + c;
        int32_t a = (int32_t)c;
        int k;
        for (k = 0; k < P2D__RUNGS; k++) {
            t->up[k] = a;
            t->col[k] = a == (int32_t)n_cand ? NAN : w->csad[a] >= 0 ? w->ccol[a] : w->lvl[a];
            a = a == (int32_t)n_cand ? a : w->csad[a] >= 0 ? w->cpar[a] : (int32_t)n_cand;
        }
        t->up[P2D__RUNGS] = a;
    }
    for (ix = 1; ix <= p->n_x; ix++) memset(w->bas + ix * p->w2 + 1, 0xFF, p->n_y * sizeof(int32_t)); /* -1 */
}

/* Up the tree from r past the summits that died at or above level v (and to n_cand below the
   floor of a summit that never died). */
static P2D__INLINE int32_t p2d__climb(const p2d__node *tree, int32_t r, double v)
{
    for (;;) { /* a rung at a time, without a branch on how many: that is anyone's guess */
        const p2d__node *t = tree + r;
        int s0 = t->col[0] >= v, s1 = s0 & (t->col[1] >= v), s2 = s1 & (t->col[2] >= v), s3 = s2 & (t->col[3] >= v);
        r = t->up[s0 + s1 + s2 + s3];
        if (!s3) return r;
    }
}

/* The root of cell x (not NaN) and of every cell on its pointer path not known yet */
static int32_t p2d__root_of(p2d__work *w, const double *z, int32_t x)
{
    int32_t *bas = w->bas, *stack = (int32_t *)(void *)w->keys, r;
    const int32_t *up0 = w->up0;
    const p2d__node *tree = w->tree;
    size_t top = 0;
    while (bas[x] < 0 && up0[x] != x) stack[top++] = x, x = up0[x];
    if (bas[x] < 0) { /* a summit: its own candidate, unless it died at its own level */
        bas[x] = r = p2d__climb(tree, w->root[x], z[x]);
    }
    for (r = bas[x]; top;) {
        int32_t cell = stack[--top];
        bas[cell] = r = p2d__climb(tree, r, z[cell]);
    }
    return r;
}

/* The index of the lowest set bit of x (x != 0). */
static int p2d__ctz64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(x);
#else
    int n = 0;
    while (!(x & 1)) x >>= 1, n++;
    return n;
#endif
}

/* The region roots of row ix's cells into rr (-1: NaN, or a highest summit's floor, which is in
   no region), memoised in bas (n_cand there for the floor). Most cells start from the root of the
   earlier cell their pointer names. */
static void p2d__row_roots(const p2d__plan *p, p2d__work *w, const double *z, size_t ix, int32_t n_cand, int32_t *rr)
{
    int32_t *bas = w->bas;
    const int32_t *up0 = w->up0;
    const p2d__node *tree = w->tree;
    size_t iy;
    for (iy = 0; iy < p->n_y; iy++) {
        int32_t at = (int32_t)(ix * p->w2 + iy + 1), r = -1, y = up0[at];
        double v = z[at];
        if (v == v) {
            r = bas[at];
            if (r < 0) r = y != at && bas[y] >= 0 ? (bas[at] = p2d__climb(tree, bas[y], v)) : p2d__root_of(w, z, at);
            r |= -(int32_t)(r == n_cand);
        }
        rr[iy] = r;
    }
}

/* Row x's cells into accumulator `which` of their roots (rr; -1: none), a run of cells with one
   root at a time: the run ends come from one branch-free pass, so that only the loop over runs
   branches. The sums are sums of integers, exact in any order. */
static void p2d__add_runs(const p2d__plan *p, p2d__work *w, const int32_t *rr, int32_t x, size_t which)
{
    size_t y0;
    for (y0 = 0; y0 < p->n_y; y0 += 64) {
        size_t n = p->n_y - y0 < 64 ? p->n_y - y0 : 64, i, s = 0;
        uint64_t ends = (uint64_t)1 << (n - 1);
        for (i = 0; i + 1 < n; i++) ends |= (uint64_t)(rr[y0 + i] != rr[y0 + i + 1]) << i;
        while (ends) {
            size_t e = (size_t)p2d__ctz64(ends);
            int32_t r = rr[y0 + s];
            ends &= ends - 1;
            if (r >= 0) {
                p2d__acc *a = p2d__acc_at(p, w, (size_t)r, which);
                int32_t lo = (int32_t)(y0 + s), hi = (int32_t)(y0 + e);
                uint32_t len = (uint32_t)(e - s + 1);
                a->n += len;
                a->x0 = x < a->x0 ? x : a->x0;
                a->x1 = x > a->x1 ? x : a->x1;
                a->y0 = lo < a->y0 ? lo : a->y0;
                a->y1 = hi > a->y1 ? hi : a->y1;
                a->sx += (double)x * len, a->sy += 0.5 * (double)(lo + hi) * len;
            }
            s = e + 1;
        }
    }
}

/* The region root r(c) of every cell into bas, each cell counted in the total of r(c) (and in the
   widths whose floor it is above); a region is its root's own cells and the subtrees that merged
   above its floor, so it starts as the total. Then the tree, children first (each candidate once
   its children are done), adds every subtree to its parent's total, and to its region and
   widths where it merged above their floors. */
static void p2d__regions(const p2d__plan *p, p2d__work *w, const double *z, size_t n_cand, double zmin, int holes)
{
    const size_t nw = p->n_widths;
    int32_t *kids = w->kids, *queue = w->kids + n_cand;
    size_t c, j, ix, iy, head = 0, tail = 0;
    for (c = 0; c < n_cand; c++) {
        double h = z[w->crit[c]];
        w->lvl[c] = w->csad[c] >= 0 ? w->ccol[c] : holes ? w->cmin[c] : zmin;
        for (j = 0; j < nw; j++) w->theta[c * nw + j] = h - p->widths[j] * (h - w->lvl[c]);
        for (j = 0; j < 2 + nw; j++)
            if (j != 1) p2d__acc_clear(p, p2d__acc_at(p, w, c, j)); /* 1, the region, starts as a copy of 0 */
        kids[c] = 0;
    }
    p2d__roots_init(p, w, n_cand);
    for (ix = 1; ix <= p->n_x; ix++) {
        /* rr: the row's roots; rw: those of the cells above a width's floor (-1 for the rest) */
        int32_t *rr = (int32_t *)(void *)w->keys2, *rw = rr + p->n_y, x = (int32_t)ix - 1;
        const double *v = z + ix * p->w2 + 1;
        p2d__row_roots(p, w, z, ix, (int32_t)n_cand, rr);
        for (j = 0; j <= nw; j++) {
            const int32_t *in = rr;
            const size_t which = j ? 1 + j : 0; /* the total, then width j - 1 */
            if (j) {
                for (iy = 0; iy < p->n_y; iy++) {
                    int32_t r = rr[iy];
                    rw[iy] = r >= 0 && v[iy] > w->theta[(size_t)r * nw + j - 1] ? r : -1;
                }
                in = rw;
            }
            if (!(p->wrap_x | p->wrap_y)) {
                p2d__add_runs(p, w, in, x, which);
                continue;
            }
            for (iy = 0; iy < p->n_y; iy++)
                if (in[iy] >= 0) p2d__acc_cell(p, w, p2d__acc_at(p, w, (size_t)in[iy], which), x, (int32_t)iy);
        }
    }
    for (c = 0; c < n_cand; c++) {
        memcpy(p2d__acc_at(p, w, c, 1), p2d__acc_at(p, w, c, 0), p->acc_bytes);
        if (w->csad[c] >= 0) kids[w->cpar[c]]++;
    }
    for (c = 0; c < n_cand; c++)
        if (!kids[c]) queue[tail++] = (int32_t)c;
    while (head < tail) {
        int32_t b = queue[head++], par = w->cpar[b];
        const p2d__acc *tot = p2d__acc_at(p, w, (size_t)b, 0);
        if (w->csad[b] < 0) continue;
        p2d__acc_add(p, p2d__acc_at(p, w, (size_t)par, 0), tot);
        if (w->ccol[b] > w->lvl[par]) p2d__acc_add(p, p2d__acc_at(p, w, (size_t)par, 1), tot);
        for (j = 0; j < nw; j++)
            if (w->ccol[b] > w->theta[(size_t)par * nw + j]) p2d__acc_add(p, p2d__acc_at(p, w, (size_t)par, 2 + j), tot);
        if (--kids[par] == 0) queue[tail++] = par;
    }
}

/* Labels: each cell goes to the first listed peak up the tree from its region root whose region
   holds it (above that peak's floor, and joined to it above the floor). */
static void p2d__label_cells(const p2d__plan *p, const p2d__work *w, const double *z, size_t n_cand, uint16_t *labels)
{
    size_t ix, iy;
    for (ix = 1; ix <= p->n_x; ix++)
        for (iy = 1; iy <= p->n_y; iy++) {
            int32_t at = (int32_t)(ix * p->w2 + iy), x, child = -1;
            double v = z[at];
            uint16_t label = 0;
            for (x = v == v && w->bas[at] != (int32_t)n_cand ? w->bas[at] : -1; x >= 0; child = x, x = w->csad[x] >= 0 ? w->cpar[x] : -1) {
                if (child >= 0 && !(w->ccol[child] > w->lvl[x])) continue; /* joined at its floor: not in */
                if (v > w->lvl[x] && w->cout[x] >= 0) {
                    label = w->cout[x] >= 65534 ? 65535 : (uint16_t)(w->cout[x] + 1);
                    break;
                }
            }
            labels[(ix - 1) * p->n_y + iy - 1] = label;
        }
}

/* The summits that rise above their col, or (never died: the highest of a component) above their
   component's minimum (zmin without holes), in row-major order, with their parents. */
static size_t p2d__keep(const p2d__plan *p, p2d__work *w, const double *z, size_t n_summits, double zmin, int holes,
                        double min_prom, p2d_peak *out)
{
    size_t i, j, n = 0;
    for (i = 0; i < n_summits; i++) {
        int32_t at = (int32_t)w->crit[i], c = w->root[at];
        int top = w->csad[c] < 0;
        double prom = z[at] - (!top ? w->ccol[c] : holes ? w->cmin[c] : zmin);
        p2d_peak *pk;
        w->cout[c] = -1;
        if (!(prom > 0.0 && prom >= min_prom)) continue;
        if (p->geometry && p2d__acc_at(p, w, (size_t)c, 1)->n < p->min_area) continue;
        pk = out + n;
        w->cout[c] = (int32_t)n++;
        p2d__peak_at(p, pk, (size_t)at, z[at]);
        pk->prominence = prom;
        if (!top) {
            pk->col_level = w->ccol[c];
            p2d__rowcol(p, (size_t)w->csad[c], &pk->col_ix, &pk->col_iy);
        }
        if (w->cur_geom) p2d__geom_of(p, p2d__acc_at(p, w, (size_t)c, 1), pk->ix, pk->iy, w->cur_geom + n - 1);
        for (j = 0; w->cur_wid && j < p->n_widths; j++)
            p2d__geom_of(p, p2d__acc_at(p, w, (size_t)c, 2 + j), pk->ix, pk->iy, w->cur_wid + (n - 1) * p->n_widths + j);
    }
    /* Parents by candidate, now that every kept candidate has its list index. A parent always
       has at least the prominence of its child, so it is listed whenever the child is. */
    for (i = 0; i < n; i++) {
        size_t at = ((size_t)out[i].ix + 1) * p->w2 + (size_t)out[i].iy + 1;
        int32_t cand = w->root[at];
        if (w->cpar[cand] >= 0) out[i].parent = w->cout[w->cpar[cand]];
    }
    return n;
}

/* Holes: a NaN cell has no earlier neighbour, so p2d__classify lists it as a summit; drop those.
   Returns the summits left. */
static size_t p2d__drop_nan_summits(const double *z, uint32_t *summits, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++)
        if (z[summits[i]] == z[summits[i]]) summits[k++] = summits[i];
    return k;
}

/* Holes: the minimum of each component, by its highest summit's candidate. After the sweep every
   cell's pointers climb to the summit of its whole component. */
static void p2d__component_minima(const p2d__plan *p, p2d__work *w, const double *z)
{
    size_t ix, iy;
    for (ix = 1; ix <= p->n_x; ix++)
        for (iy = 1; iy <= p->n_y; iy++) {
            int32_t at = (int32_t)(ix * p->w2 + iy), c;
            if (z[at] != z[at]) continue;
            c = w->root[p2d__find(w->up, at)];
            if (z[at] < w->cmin[c]) w->cmin[c] = z[at];
        }
}

/* Exact peaks of one slice into out (row-major); returns the count. */
static size_t p2d__exact(const p2d__plan *p, p2d__work *w, const double *z, double zmin, double zmax, int holes,
                         double min_prom, p2d_peak *out)
{
    size_t n_summits, n_saddles, i;
    p2d__classify(p, w, z, zmin, &n_summits, &n_saddles);
    if (holes) n_summits = p2d__drop_nan_summits(z, w->crit, n_summits);
    if (p->wrap_x || p->wrap_y) n_summits = p2d__wrap_fixup(p, w, z, n_summits, &n_saddles);
    if (p->geometry) memcpy(w->up0, w->up, p->npad * sizeof(int32_t)); /* the sweep compresses up */
    p2d__births(w, z, w->crit, n_summits);
    p2d__sweep(p, w, z, p2d__sort_items(z, zmin, zmax, w->sad, w->keys, w->keys2, n_saddles), n_saddles, n_summits);
    if (holes) { /* several landscapes only when the holes cut the map: more than one summit survives */
        size_t survivors = 0;
        for (i = 0; i < n_summits; i++) survivors += w->csad[i] < 0;
        holes = survivors > 1;
    }
    if (holes) {
        for (i = 0; i < n_summits; i++) w->cmin[i] = z[w->crit[i]];
        p2d__component_minima(p, w, z);
    }
    if (p->geometry) p2d__regions(p, w, z, n_summits, zmin, holes);
    i = p2d__keep(p, w, z, n_summits, zmin, holes, min_prom, out);
    if (w->cur_labels) p2d__label_cells(p, w, z, n_summits, w->cur_labels);
    return i;
}

/* ---- >>pyPho mode ---------------------------------------------------------------------------- */

/* pyPho peaks of one slice (section 5) into out (row-major); returns the count. */
static size_t p2d__pypho(const p2d__plan *p, p2d__work *w, const double *z, double zmin, double min_prom,
                         p2d_peak *out)
{
    ptrdiff_t W = (ptrdiff_t)p->w2;
    ptrdiff_t off[8] = {-W - 1, -W, -W + 1, -1, 1, W - 1, W, W + 1};
    uint8_t *flag = w->flag;
    size_t ix, iy, n = 0;
    int k;
    for (ix = 1; ix <= p->n_x; ix++)
        for (iy = 1; iy <= p->n_y; iy++) {
            size_t at = ix * p->w2 + iy;
            double v = z[at], m = -HUGE_VAL; /* a NaN neighbour (a hole) is never the maximum */
            for (k = 0; k < 8; k++) m = z[(ptrdiff_t)at + off[k]] > m ? z[(ptrdiff_t)at + off[k]] : m;
            flag[at] = v > zmin && v >= m;
        }
    for (ix = 1; ix <= p->n_x; ix++)
        for (iy = 1; iy <= p->n_y; iy++) {
            size_t at = ix * p->w2 + iy;
            double v = z[at], nb = -HUGE_VAL;
            int grouped = 0;
            if (!flag[at]) continue;
            for (k = 0; k < 8; k++) {
                ptrdiff_t q = (ptrdiff_t)at + off[k];
                if (flag[q]) grouped = 1;
                else if (z[q] > nb) nb = z[q]; /* the ring is -inf: never the highest */
            }
            if (grouped) { /* walk the 8-connected group of peak pixels; all share height v */
                uint32_t s = p2d__new_stamp(w, p);
                size_t head = 0, tail = 0;
                w->mark[at] = s;
                w->queue[tail++] = (int32_t)at;
                while (head < tail) {
                    ptrdiff_t a = w->queue[head++];
                    for (k = 0; k < 8; k++) {
                        ptrdiff_t q = a + off[k];
                        if (w->mark[q] == s) continue; /* the ring: never flagged, -inf */
                        if (flag[q]) { w->mark[q] = s; w->queue[tail++] = (int32_t)q; }
                        else if (z[q] > nb) nb = z[q];
                    }
                }
            }
            if (v - nb >= min_prom) {
                p2d__peak_at(p, out + n, at, v);
                out[n++].prominence = v - nb;
            }
        }
    return n;
}

/* ---- >>masks --------------------------------------------------------------------------------- */

/* The masks: the 4-connected region of Z >= thr around the seed (the seed is always in), as bit
   in mask[pixel * stride] of every pixel in it. Two ways, the same pixels: a queue of pixels, and
   for rows of 64 pixels at most, whole rows of bits, with vector compares and no branch per
   pixel (faster: bench/RESULTS.md). */

static void p2d__fill_pixels(const p2d__plan *p, p2d__work *w, const double *z, size_t seed, double thr,
                             uint8_t *mask, size_t stride, uint8_t bit)
{
    ptrdiff_t W = (ptrdiff_t)p->w2, off[4] = {-W, -1, 1, W};
    int32_t *queue = w->queue;
    size_t head = 0, tail = 0;
    int k;
    /* the bit is also the visited mark; the ring's -inf is below any thr */
    mask[seed * stride] |= bit;
    queue[tail++] = (int32_t)seed;
    while (head < tail) {
        ptrdiff_t a = queue[head++];
        for (k = 0; k < 4; k++) {
            ptrdiff_t q = a + off[k];
            if (!(mask[(size_t)q * stride] & bit) && z[q] >= thr) {
                mask[(size_t)q * stride] |= bit;
                queue[tail++] = (int32_t)q;
            }
        }
    }
}

/* The runs of m that hold a bit of x: x spread along m both ways, in doubling steps. */
static uint64_t p2d__runs_of(uint64_t x, uint64_t m)
{
    uint64_t up = x & m, down = up, pu = m, pd = m;
    int k;
    for (k = 1; k < 64; k *= 2) {
        up |= pu & (up << k);
        down |= pd & (down >> k);
        pu &= pu << k;
        pd &= pd >> k;
    }
    return up | down;
}

/* The row of a fill, read on first touch (rows the region never reaches cost nothing). */
static p2d__row *p2d__fill_row(const p2d__plan *p, p2d__work *w, const double *z, size_t ix, double thr)
{
    p2d__row *r = w->rows + ix;
    if (r->stamp != w->row_stamp) {
        r->stamp = w->row_stamp;
        r->at_least = ix >= 1 && ix <= p->n_x ? w->at_least(z + ix * p->w2 + 1, p->n_y, thr) : 0;
        r->in = 0;
        r->queued = 0;
    }
    return r;
}

static void p2d__fill_rows(const p2d__plan *p, p2d__work *w, const double *z, size_t seed, double thr,
                           uint8_t *mask, size_t stride, uint8_t bit)
{
    int32_t sx, sy, *stack = w->row_stack;
    size_t n = 0, lo, hi, ix;
    p2d__row *r;
    if (++w->row_stamp == 0) { /* after 2^32 fills: forget every stamp */
        memset(w->rows, 0, (p->n_x + 2) * sizeof(p2d__row));
        w->row_stamp = 1;
    }
    p2d__rowcol(p, seed, &sx, &sy);
    lo = hi = (size_t)sx + 1;
    r = p2d__fill_row(p, w, z, lo, thr);
    r->at_least |= (uint64_t)1 << sy;
    r->in = p2d__runs_of((uint64_t)1 << sy, r->at_least);
    r->queued = 1;
    stack[n++] = sx + 1;
    while (n) { /* a row whose reach grew passes it on to the rows above and below */
        size_t at = (size_t)stack[--n];
        uint64_t in = w->rows[at].in;
        int side;
        w->rows[at].queued = 0;
        for (side = -1; side <= 1; side += 2) {
            p2d__row *nb = p2d__fill_row(p, w, z, at + (size_t)side, thr);
            uint64_t grow = in & nb->at_least & ~nb->in;
            if (!grow) continue;
            nb->in |= p2d__runs_of(grow, nb->at_least);
            if (at + (size_t)side < lo) lo = at + (size_t)side;
            if (at + (size_t)side > hi) hi = at + (size_t)side;
            if (!nb->queued) nb->queued = 1, stack[n++] = (int32_t)(at + (size_t)side);
        }
    }
    for (ix = lo; ix <= hi; ix++) {
        uint64_t in = w->rows[ix].in;
        uint8_t *row = mask + (ix * p->w2 + 1) * stride;
        while (in) {
            row[(size_t)p2d__ctz64(in) * stride] |= bit;
            in &= in - 1;
        }
    }
}

/* p2d__fill_pixels across periodic edges */
static void p2d__fill_wrap(const p2d__plan *p, p2d__work *w, const double *z, size_t seed, double thr, uint8_t *mask,
                           size_t stride, uint8_t bit)
{
    int32_t *queue = w->queue;
    const int32_t W = (int32_t)p->w2;
    size_t head = 0, tail = 0;
    int k;
    mask[seed * stride] |= bit;
    queue[tail++] = (int32_t)seed;
    while (head < tail) {
        int32_t c = queue[head++], e = w->edge[c];
        /* inside, the four neighbours are in the grid; on the border, the table has them (across
           a wrapped edge, or none) */
        const int32_t inner[4] = {c - W, c - 1, c + 1, c + W};
        const int32_t *nb = e == -1 ? inner : w->edge_nb + 8 * (size_t)(e >= 0 ? e : -2 - e);
        for (k = 0; k < 4; k++) {
            size_t q = (size_t)nb[k];
            if (q && !(mask[q * stride] & bit) && z[q] >= thr) {
                mask[q * stride] |= bit;
                queue[tail++] = (int32_t)q;
            }
        }
    }
}

static void p2d__fill(const p2d__plan *p, p2d__work *w, const double *z, double zmin, int holes, size_t seed,
                      double thr, uint8_t *mask, size_t stride, uint8_t bit)
{
    size_t ix, iy;
    if (thr <= zmin && !holes) { /* every pixel is in (the grid is 4-connected): a low alpha on a flat floor */
        for (ix = 1; ix <= p->n_x; ix++)
            for (iy = 1; iy <= p->n_y; iy++) mask[(ix * p->w2 + iy) * stride] |= bit;
    } else if (p->wrap_x || p->wrap_y) {
        p2d__fill_wrap(p, w, z, seed, thr, mask, stride, bit);
    } else if (p->row_fill) {
        p2d__fill_rows(p, w, z, seed, thr, mask, stride, bit);
    } else {
        p2d__fill_pixels(p, w, z, seed, thr, mask, stride, bit);
    }
}

/* Bins k * 8 .. k * 8 + 7 of a byte-mask row from their bits: each byte of the product holds the
   bits, the mask keeps bit i in byte i, the add carries each non-zero byte into its top bit. One
   8-byte store (gcc and clang merge the byte stores) instead of eight shifts and stores. */
static P2D__INLINE void p2d__bits_to_bytes(unsigned bits, uint8_t *out)
{
    uint64_t r = ((uint64_t)bits * 0x0101010101010101u) & 0x8040201008040201u;
    r = ((r + 0x7F7F7F7F7F7F7F7Fu) >> 7) & 0x0101010101010101u;
    out[0] = (uint8_t)r, out[1] = (uint8_t)(r >> 8), out[2] = (uint8_t)(r >> 16), out[3] = (uint8_t)(r >> 24);
    out[4] = (uint8_t)(r >> 32), out[5] = (uint8_t)(r >> 40), out[6] = (uint8_t)(r >> 48), out[7] = (uint8_t)(r >> 56);
}

/* Writes the masks this worker computed for its unit into the caller's layout. Up to 8 bytes of
   each (alpha, x, y) row at once: every row is on another page of the caller's array, so each
   visit costs a TLB miss whether it writes one byte or eight. */
static void p2d__flush_masks(const p2d__job *j, p2d__work *w)
{
    const p2d__plan *p = &j->plan;
    const size_t per = p->unit / 8, t0 = w->unit_t0;
    const size_t n_bins = p->n_t - t0 < p->unit ? p->n_t - t0 : p->unit;
    /* the usual case, one worker's whole unit of 64 bins into packed rows: 8 bytes at once */
    const int whole = j->masks->packed && j->mt == 1 && per == 8 && n_bins == 64 && w->planes == 0xFF;
    size_t a, ix, iy, k, b;
    for (a = 0; a < j->ctx->desc.n_alpha && w->planes; a++)
        for (ix = 0; ix < p->n_x; ix++) {
            const uint8_t *src = w->mask + (a * p->npad + (ix + 1) * p->w2 + 1) * per;
            uint8_t *row = (uint8_t *)j->masks->data + (ptrdiff_t)a * j->ma + (ptrdiff_t)ix * j->mx;
            for (iy = 0; iy < p->n_y; iy++, row += j->my, src += per) {
                if (whole) {
                    memcpy(row + t0 / 8, src, 8);
                    continue;
                }
                for (k = 0; k * 8 < n_bins; k++) {
                    if (!(w->planes >> k & 1)) continue;
                    if (j->masks->packed) { /* bits past n_t are 0 */
                        row[(ptrdiff_t)(t0 / 8 + k) * j->mt] = src[k];
                        continue;
                    }
                    if (j->mt == 1 && k * 8 + 8 <= n_bins) { /* bytes in a row: 8 at once */
                        p2d__bits_to_bytes(src[k], row + t0 + k * 8);
                        continue;
                    }
                    for (b = 0; b < 8 && k * 8 + b < n_bins; b++)
                        row[(ptrdiff_t)(t0 + k * 8 + b) * j->mt] = (uint8_t)(src[k] >> b & 1);
                }
            }
        }
    w->planes = 0;
}

/* ---- >>one block --------------------------------------------------------------------------- */

static void p2d__slice(const p2d__job *j, p2d__work *w, size_t b, p2d_slice *info, p2d_peak *peaks)
{
    const p2d__plan *p = &j->plan;
    const p2d_desc *d = &j->ctx->desc;
    const double *z = w->z + b * p->npad;
    size_t arg = 0, a, i;
    double mn, mx;
    int holes;
    info->peaks = peaks;
    info->n_peaks = 0;
    info->dominant = -1;
    info->dom_ix = info->dom_iy = -1;
    info->geom = info->widths = NULL;
    info->labels = NULL;
    if (p->geometry) {
        size_t g = (d->geometry ? 1 : 0) + p->n_widths;
        p2d_geom *base = w->geom + b * p->npix * g;
        w->cur_geom = d->geometry ? base : NULL;
        w->cur_wid = p->n_widths ? base + (d->geometry ? p->npix : 0) : NULL;
        w->cur_labels = p->labels ? w->labels + b * p->npix : NULL;
        info->geom = w->cur_geom;
        info->widths = w->cur_wid;
        info->labels = w->cur_labels;
    }
    if (w->cur_labels) memset(w->cur_labels, 0, p->npix * sizeof(uint16_t)); /* no peaks: nobody's */
    if (!p2d__scan(p, w->range, z, &mn, &mx, &arg, &info->n_nan)) {
        info->status = P2D_SLICE_NAN;
        info->min = info->max = NAN;
        return;
    }
    holes = info->n_nan > 0;
    info->min = p->valleys ? -mx : mn;
    info->max = p->valleys ? -mn : mx;
    if (!(mx > mn)) { info->status = P2D_SLICE_NO_PEAKS; return; }
    info->status = P2D_SLICE_OK;
    p2d__rowcol(p, arg, &info->dom_ix, &info->dom_iy);
    if (p->peaks) {
        info->n_peaks = d->mode == P2D_MODE_PYPHO ? p2d__pypho(p, w, z, mn, d->min_prominence, peaks)
                                                 : p2d__exact(p, w, z, mn, mx, holes, d->min_prominence, peaks);
        for (i = 0; i < info->n_peaks; i++)
            if (peaks[i].ix == info->dom_ix && peaks[i].iy == info->dom_iy) { info->dominant = (ptrdiff_t)i; break; }
        for (i = 0; p->valleys && i < info->n_peaks; i++) { /* back to the input's values */
            peaks[i].height = -peaks[i].height;
            if (peaks[i].col_ix >= 0) peaks[i].col_level = -peaks[i].col_level;
        }
    }
    if (p->masks) { /* this bin's byte of the unit, and its bit */
        size_t per = p->unit / 8;
        for (a = 0; a < d->n_alpha; a++)
            p2d__fill(p, w, z, mn, holes, arg, d->alphas[a] * mx, w->mask + a * p->npad * per + info->t % p->unit / 8,
                      per, (uint8_t)(1u << (info->t % 8)));
    }
}

/* Valleys: the block's cells negated (the ring stays -inf) */
static void p2d__negate(const p2d__plan *p, double *z, size_t nb)
{
    size_t b, ix, iy;
    for (b = 0; b < nb; b++)
        for (ix = 1; ix <= p->n_x; ix++) {
            double *row = z + b * p->npad + ix * p->w2;
            for (iy = 1; iy <= p->n_y; iy++) row[iy] = -row[iy];
        }
}

/* A block of bins. The gather waits for the cube (each pixel of a time-fastest cube is on a page of
   its own); software prefetch of the next block (p2d__gather, a line per pixel) helps one core
   more than it costs two. Larger blocks leave L2 (CHANGELOG.md has the measurements). */
static void p2d__block(const p2d__job *j, p2d__work *w, size_t blk, p2d_slice *info)
{
    const p2d__plan *p = &j->plan;
    size_t t0 = blk * p->block, nb = p->n_t - t0 < p->block ? p->n_t - t0 : p->block, b;
    p2d__gather(j, t0, nb, w->z);
    if (p->valleys) p2d__negate(p, w->z, nb);
    if (p->masks) { /* a block of another unit: write this one's first */
        size_t unit_t0 = t0 - t0 % p->unit, k;
        if (w->planes && w->unit_t0 != unit_t0) p2d__flush_masks(j, w);
        if (!w->planes) memset(w->mask, 0, p->npad * j->ctx->desc.n_alpha * (p->unit / 8));
        w->unit_t0 = unit_t0;
        for (k = (t0 - unit_t0) / 8; k < (t0 - unit_t0 + nb + 7) / 8; k++) w->planes |= (uint64_t)1 << k;
    }
    for (b = 0; b < nb; b++) {
        info[b].t = t0 + b;
        p2d__slice(j, w, b, info + b, p->peaks ? w->peaks + b * p->npix : NULL);
    }
}

/* ---- >>plan: how many workers, and what a run takes from the pool ------------------------- */

static tp_result p2d__plan_for(p2d__plan *p, const p2d_desc *d, size_t n_x, size_t n_y, size_t n_t,
                               int want_masks, const char *who, tp_error *err)
{
    size_t per_bin, cells;
    memset(p, 0, sizeof *p);
    if (!n_x || !n_y || !n_t)
        return tp_error_set(err, TP_ERR_ARG, "%s: n_x, n_y and n_t must be >= 1, got %zu x %zu x %zu", who, n_x, n_y, n_t);
    p->n_x = n_x; p->n_y = n_y; p->n_t = n_t;
    p->peaks = d->on_slice && !d->skip_peaks;
    p->masks = want_masks && d->n_alpha > 0;
    p->exact = p->peaks && d->mode == P2D_MODE_EXACT;
    p->pypho = p->peaks && d->mode == P2D_MODE_PYPHO;
    p->connectivity = d->connectivity == 4 ? 4 : 8;
    p->wrap_x = (d->periodic & P2D_PERIODIC_X) && n_x > 1;
    p->wrap_y = (d->periodic & P2D_PERIODIC_Y) && n_y > 1;
    p->valleys = d->valleys;
    p->geometry = p->exact && (d->geometry || d->n_widths || d->min_area || d->labels);
    p->labels = p->geometry && d->labels;
    p->n_widths = p->geometry ? d->n_widths : 0;
    p->widths = d->widths;
    p->min_area = d->min_area;
    p->words_x = p->geometry && p->wrap_x ? (n_x + 63) / 64 : 0;
    p->words_y = p->geometry && p->wrap_y ? (n_y + 63) / 64 : 0;
    p->acc_bytes = sizeof(p2d__acc) + 8 * (p->words_x + p->words_y);
    p->row_fill = p->masks && n_y <= 64 && !p->wrap_x && !p->wrap_y;
    if (!tp_size_mul(n_x, n_y, &p->npix) || !tp_size_add(n_y, 2, &p->w2) || !tp_size_add(n_x, 2, &cells) ||
        !tp_size_mul(cells, p->w2, &p->npad) || p->npad > (size_t)INT32_MAX)
        return tp_error_set(err, TP_ERR_OVERFLOW, "%s: a slice of %zu x %zu has more than 2^31 - 1 (padded) pixels",
                            who, n_x, n_y);
    p2d__row_divisor(p);
    if (!tp_size_mul(p->npix, n_t, &cells) || !tp_size_mul(cells, d->n_alpha ? d->n_alpha : 1, &cells))
        return tp_error_set(err, TP_ERR_OVERFLOW, "%s: n_x * n_y * n_t * n_alpha overflows a size", who);
    /* Aim a block at P2D__BLOCK_TARGET bytes of block arrays (padded slices, masks, worst-case
       peaks), in multiples of 8 bins so packed masks of different blocks never share a byte. */
    per_bin = p->npad * sizeof(double) + (p->masks ? p->npad * d->n_alpha / 8 : 0);
    p->block = P2D__BLOCK_TARGET / per_bin / 8 * 8;
    if (p->block < 8) p->block = 8;
    if (p->block > P2D__MAX_BLOCK) p->block = P2D__MAX_BLOCK;
    if (p->block > (n_t + 7) / 8 * 8) p->block = (n_t + 7) / 8 * 8;
    p->n_blocks = (n_t + p->block - 1) / p->block;
    p->unit = (64 + p->block - 1) / p->block * p->block;
    p->n_workers = d->n_threads < 1 ? 1 : d->n_threads;
    if ((size_t)p->n_workers > p->n_blocks) p->n_workers = (int)p->n_blocks;
    if (!p2d__layout(p, d) || !p2d__take(p, &p->slab, 1, sizeof(p2d__work), &p->o_work) ||
        !tp_size_mul(p->slab, (size_t)p->n_workers, &p->total) ||
        !tp_size_add(p->total, p->n_workers > 1 ? tp_team_bytes(p->n_workers) : 0, &cells))
        return tp_error_set(err, TP_ERR_OVERFLOW, "%s: the scratch size overflows", who);
    return TP_OK;
}

/* Every byte a run takes from the pool: the slabs, and the team when there are several workers. */
static size_t p2d__plan_bytes(const p2d__plan *p)
{
    return p->total + (p->n_workers > 1 ? tp_team_bytes(p->n_workers) : 0);
}

P2DDEF tp_result p2d_estimate_bytes(const p2d_desc *desc, size_t n_x, size_t n_y, size_t n_t, size_t *bytes,
                                    tp_error *err)
{
    p2d__plan p;
    p2d_desc d;
    tp_result r;
    if (bytes) *bytes = 0;
    if (!desc || !bytes) return tp_error_set(err, TP_ERR_ARG, "p2d_estimate_bytes: desc and bytes must not be NULL");
    if ((r = p2d__check_desc(desc, "p2d_estimate_bytes", err)) != TP_OK) return r;
    d = p2d__resolve(desc);
    if ((r = p2d__plan_for(&p, &d, n_x, n_y, n_t, 1, "p2d_estimate_bytes", err)) != TP_OK) return r;
    *bytes = p2d__plan_bytes(&p);
    tp_error_clear(err);
    return TP_OK;
}

P2DDEF tp_result p2d_masks_bytes(size_t n_alpha, size_t n_x, size_t n_y, size_t n_t, int packed, size_t *bytes,
                                 tp_error *err)
{
    size_t n;
    if (!bytes) return tp_error_set(err, TP_ERR_ARG, "p2d_masks_bytes: bytes is NULL");
    *bytes = 0;
    if (packed) n_t = n_t / 8 + (n_t % 8 != 0);
    if (!tp_size_mul(n_alpha, n_x, &n) || !tp_size_mul(n, n_y, &n) || !tp_size_mul(n, n_t, &n))
        return tp_error_set(err, TP_ERR_OVERFLOW, "p2d_masks_bytes: %zu x %zu x %zu x %zu masks overflow a size",
                            n_alpha, n_x, n_y, n_t);
    *bytes = n;
    tp_error_clear(err);
    return TP_OK;
}

/* ---- >>the run: the team takes blocks in turn; they are handed out in time order ------------ */

typedef struct p2d__run {
    p2d__job job;
    char *slabs;           /* one per worker */
    tp_team *team;         /* NULL: the calling thread alone */
    tp_result stop;        /* TP_OK, or what ends the run; written in ordered sections under the team lock */
    p2d_summary sum;       /* written in the ordered sections */
    p2d__work *work[TP_MAX_THREADS]; /* a worker's state, made at its first block */
} p2d__run;

static p2d__work *p2d__worker_state(p2d__run *r, int worker)
{
    const p2d__plan *p = &r->job.plan;
    char *slab = r->slabs + (size_t)worker * p->slab;
    p2d__work *w = r->work[worker];
    if (!w) { /* only this worker touches its slot until the job ends */
        w = (p2d__work *)(void *)(slab + p->o_work);
        p2d__work_init(w, slab, p);
        w->info = (p2d_slice *)(void *)(slab + p->o_info);
        r->work[worker] = w;
    }
    return w;
}

/* Hands a finished block to the caller's callbacks; returns TP_OK or TP_ERR_CANCELLED. */
static tp_result p2d__emit(p2d__run *r, size_t blk, const p2d_slice *info)
{
    const p2d__plan *p = &r->job.plan;
    const p2d_desc *d = &r->job.ctx->desc;
    size_t t0 = blk * p->block, nb = p->n_t - t0 < p->block ? p->n_t - t0 : p->block, b;
    for (b = 0; b < nb; b++) {
        const p2d_slice *s = info + b;
        if (r->job.status) r->job.status[s->t] = (uint8_t)s->status;
        r->sum.n_ok += s->status == P2D_SLICE_OK;
        r->sum.n_no_peaks += s->status == P2D_SLICE_NO_PEAKS;
        r->sum.n_nan += s->status == P2D_SLICE_NAN;
        r->sum.n_with_holes += s->n_nan && s->status != P2D_SLICE_NAN;
        r->sum.n_nan_cells += s->n_nan;
        r->sum.n_peaks += s->n_peaks;
        if (d->on_slice && d->on_slice(d->user, s)) return TP_ERR_CANCELLED;
    }
    if (d->progress && d->progress(d->user, (uint64_t)(t0 + nb), (uint64_t)p->n_t)) return TP_ERR_CANCELLED;
    return TP_OK;
}

static tp_result p2d__stopped(p2d__run *r)
{
    tp_result s;
    tp_team_lock(r->team);
    s = r->stop;
    tp_team_unlock(r->team);
    return s;
}

/* One block, by whichever worker took it; its peaks go out in the block's turn. */
static void p2d__item(void *user, int worker, size_t blk)
{
    p2d__run *r = (p2d__run *)user;
    p2d__work *w = p2d__worker_state(r, worker), local;
    int computed = p2d__stopped(r) == TP_OK;
    if (computed) {
        /* on a copy the compiler may keep in registers: the slab's copy could alias every byte
           the block writes, and reloading its pointers cost 10-15 % in pyPho mode */
        local = *w;
        p2d__block(&r->job, &local, blk, local.info);
        *w = local;
    }
    tp_team_ordered_begin(r->team, blk);
    if (computed && r->stop == TP_OK) {
        tp_result res = p2d__emit(r, blk, w->info);
        if (res != TP_OK) {
            tp_team_lock(r->team);
            r->stop = res;
            tp_team_unlock(r->team);
        }
    }
    tp_team_ordered_end(r->team, blk);
}

static tp_result p2d__resolve_io(p2d__job *j, const p2d_cube *c, const p2d_masks *m, tp_error *err)
{
    const p2d__plan *p = &j->plan;
    size_t span;
    tp_result r;
    if ((r = tp_dtype_check(c->dtype, "p2d_run: cube.dtype", err)) != TP_OK) return r;
    j->sx = c->stride_x; j->sy = c->stride_y; j->st = c->stride_t;
    if (!j->sx && !j->sy && !j->st) {
        if (!tp_size_mul(p->npix, p->n_t, &span) || span > (size_t)PTRDIFF_MAX)
            return tp_error_set(err, TP_ERR_OVERFLOW, "p2d_run: the cube does not fit in memory offsets");
        j->st = 1; j->sy = (ptrdiff_t)p->n_t; j->sx = (ptrdiff_t)(p->n_y * p->n_t);
    }
    j->masks = m && m->data && p->masks ? m : NULL;
    if (j->masks) {
        size_t nt = m->packed ? p->n_t / 8 + (p->n_t % 8 != 0) : p->n_t;
        j->ma = m->stride_alpha; j->mx = m->stride_x; j->my = m->stride_y; j->mt = m->stride_t;
        if (!j->ma && !j->mx && !j->my && !j->mt) {
            if (!tp_size_mul(p->npix * nt, j->ctx->desc.n_alpha, &span) || span > (size_t)PTRDIFF_MAX)
                return tp_error_set(err, TP_ERR_OVERFLOW, "p2d_run: the masks do not fit in memory offsets");
            j->mt = 1; j->my = (ptrdiff_t)nt; j->mx = (ptrdiff_t)(p->n_y * nt);
            j->ma = (ptrdiff_t)(p->npix * nt);
        }
    } else {
        j->plan.masks = 0;
    }
    return TP_OK;
}

P2DDEF tp_result p2d_run(p2d_ctx *ctx, const p2d_cube *cube, const p2d_masks *masks, uint8_t *status,
                         p2d_summary *summary, tp_error *err)
{
    p2d__run r;
    tp_result res;
    tp_error e;
    size_t done;
    int i;
    if (summary) memset(summary, 0, sizeof *summary);
    if (!ctx) return tp_error_set(err, TP_ERR_ARG, "p2d_run: ctx is NULL");
    if (!cube || !cube->data) return tp_error_set(err, TP_ERR_ARG, "p2d_run: cube or cube->data is NULL");
    if (ctx->desc.n_alpha && !(masks && masks->data))
        return tp_error_set(err, TP_ERR_ARG, "p2d_run: desc.n_alpha is %zu but masks (or masks->data) is NULL: pass a "
                            "mask buffer, or set n_alpha = 0", ctx->desc.n_alpha);
    memset(&r, 0, sizeof r);
    r.job.ctx = ctx;
    r.job.cube = cube;
    r.job.status = status;
    res = p2d__plan_for(&r.job.plan, &ctx->desc, cube->n_x, cube->n_y, cube->n_t, masks && masks->data, "p2d_run", err);
    if (res != TP_OK || (res = p2d__resolve_io(&r.job, cube, masks, err)) != TP_OK) return res;
    /* everything the run needs before any work: a slab per worker, and the team */
    if (!(r.slabs = (char *)tp_alloc_at(ctx->pool, r.job.plan.total, 0, __FILE__, __LINE__, &e)))
        return tp_error_set(err, e.code, "p2d_run: %llu bytes of scratch: %s", (unsigned long long)r.job.plan.total, e.message);
    if (r.job.plan.n_workers > 1) {
        tp_team_desc td;
        memset(&td, 0, sizeof td);
        td.n_threads = r.job.plan.n_workers;
        td.pool = ctx->pool;
        td.log = ctx->desc.log;
        if ((res = tp_team_create(&td, &r.team, &e)) != TP_OK) {
            tp_free(ctx->pool, r.slabs);
            return tp_error_set(err, res, "p2d_run: %s", e.message);
        }
    }
    r.sum.block_bins = r.job.plan.block;
    r.sum.n_workers = tp_team_size(r.team);
    r.sum.scratch_bytes = p2d__plan_bytes(&r.job.plan);
    tp_team_for(r.team, r.job.plan.n_blocks, p2d__item, &r);
    for (i = 0; i < TP_MAX_THREADS; i++)
        if (r.work[i] && r.job.plan.masks) p2d__flush_masks(&r.job, r.work[i]);
    tp_team_destroy(r.team);
    tp_free(ctx->pool, r.slabs);
    if (summary) *summary = r.sum;
    done = r.sum.n_ok + r.sum.n_no_peaks + r.sum.n_nan;
    if (r.stop != TP_OK)
        return tp_error_set(err, r.stop, "p2d_run: cancelled by on_slice or progress after %zu of %zu time bins", done,
                            r.job.plan.n_t);
    tp_error_clear(err);
    return TP_OK;
}

#endif /* PROM2D_IMPLEMENTATION */

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
