/* stat_stream.h 0.0.1 - mergeable streaming statistics over many features - MIT license (end of file)

   Do this:
       #define STAT_STREAM_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation. It includes
   tensorpool.h (define TENSORPOOL_IMPLEMENTATION in one file too, possibly the same one).

   STATUS: complete and tested: the accumulators (section 3), the statistics they finalize to
   (section 4), Fisher z (section 5), seed-to-voxel correlation (section 6: built-in kernels with
   AVX-512 / AVX2 variants, or CBLAS) and the lesion network mapping pipeline (section 7: workers,
   subjects copied or shown in place), and with STAT_STREAM_USE_HDF5 the ldk/lacuna HDF5 connectome
   (read, or memory-mapped without a copy). examples/lnm.c is the program; bench/bench_lnm.c and
   bench/RESULTS.md the measurements.

   CONTENTS
       1. Why          4. Finalized statistics      7. Lesion network mapping
       2. Options      5. Fisher z                  8. Not done
       3. Accumulators 6. Seed-to-voxel correlation 9. API

   1. WHY
   Averaging a map over a thousand subjects should not need a thousand maps in memory. An
   accumulator holds, per feature, the count, the mean and the sum of squared deviations (M2) in
   double, takes rows as they come, merges with another accumulator (partial results of other
   files, threads or MPI ranks) and serializes to a portable byte string.

   2. COMPILE-TIME OPTIONS (define before including; "impl" = only where the implementation is built)
       SS_STATIC                 global   make every function static (with TP_STATIC for the pool)
       SSDEF                     global   linkage of the public functions (default: extern)
       STAT_STREAM_USE_CBLAS     impl     ss_seedcorr's products by cblas_sgemm / cblas_dgemm (link a
                                          CBLAS, e.g. -lopenblas); default: the built-in kernel
       SS_NO_VECTOR_EXTENSIONS   impl     the built-in kernels in plain C loops (no vector types, no
                                          AVX2 / AVX-512 variants); the same results
       SS_NO_THREADS             impl     never start threads (n_threads is ignored); no pthreads
       STAT_STREAM_USE_HDF5      impl     the HDF5 connectome source ss_h5_* (include and link HDF5,
                                          e.g. -I/usr/include/hdf5/serial -lhdf5; POSIX: dirent, mmap)

   3. ACCUMULATORS
   ss_moments_add_rows takes a block of rows (float or double, any row stride), computes the
   block's per-feature mean and M2 in two passes in double, and merges it with Chan et al.'s
   formula: n = na + nb, d = mean_b - mean_a, mean = mean_a + d nb / n,
   M2 = M2a + M2b + d^2 na nb / n. No sum of squares is ever formed: with data offset by 1e4,
   float32 sums of squares lose every digit of the variance (tests/test_stat_stream.c shows it)
   and even double sums lose eight. NaN policy per accumulator:
       SS_NAN_PROPAGATE   a NaN makes that feature's mean and M2 NaN (strict)
       SS_NAN_AS_ZERO     a NaN counts as 0 (ldk, lacuna)
       SS_NAN_SKIP        a NaN is left out: counts are per feature
   Merging needs the same number of features and NaN policy. The serialized form is
   little-endian whatever the machine: "SSM1", version, policy, n_features, then the counts
   (one, or one per feature for SS_NAN_SKIP) as uint64 and mean, M2 as IEEE doubles.

   4. FINALIZED STATISTICS
   mean; var = M2 / (n - ddof); std; t = mean / (std / sqrt(n)) (a one-sample t against 0, std
   with ddof 1 unless asked otherwise); where the standard error is 0, t is NaN (SS_T_ZERO_SE_NAN,
   strict) or 0 (SS_T_ZERO_SE_ZERO, the ldk family); two-sided p = I_{df/(df+t^2)}(df/2, 1/2) with
   df = n - 1 (regularized incomplete beta by Lentz's continued fraction; within 1e-10 of scipy's
   t.sf, tested); Benjamini-Hochberg q-values over the finite p (NaN stays NaN and is not counted).

   5. FISHER Z
   z = atanh(r). |r| = 1 gives +-z_inf when z_inf > 0 (ldk's batch path uses 3, its single-lesion
   path 10), else +-infinity; finite z are never clipped; |r| > 1 (rounding) and NaN give NaN, for
   the NaN policy to handle.

   6. SEED-TO-VOXEL CORRELATION
   ss_seedcorr: seed series = mean of its voxels' raw series (BOES), centred and divided by its
   norm. Per block of 512 voxels one pass over the rows stores each series shifted by its first
   value (d = x - x_0) in the computation's precision and sums d and d^2 in double (the mean and
   norm); one GEMM (seeds x time by time x voxels) gives sum a_t d_t, from which the seed's sum
   (~0) times the voxel's mean d is taken (the centred covariance, exactly in exact arithmetic),
   scaled by the voxel's inverse norm. Measured: float64 within 1e-14 of a long-double Pearson,
   float32 within 2.5e-7 (absolute r; 1.4e-7 when the block was centred in a second pass), and
   the LNM reference's r within 1e-15.
   The built-in GEMM keeps tiles of 4 seeds x 2 or 4 vectors in registers; it, the centring and
   the folding of section 7 come in plain C, 16-byte vectors, AVX2 and AVX-512 (GCC/clang vector
   extensions, the widest the CPU has picked at run time), and every variant rounds exactly as
   the plain C code (no reassociation; clang's FMA contraction is turned off in them; tested), so
   results do not depend on the CPU. The pass over the rows writes each block in panels of 16
   voxels, so the products read it in order. 20 x 200 x 50,000 float32 products on one core of
   this VM (Zen 3, AVX2; `bench_lnm --gemm`, four runs): 35.7-55.1 GFLOP/s, 0.79-1.31x OpenBLAS's
   cblas_sgemm on the whole product (bench/RESULTS.md).

   7. LESION NETWORK MAPPING
   ss_lnm streams subjects into accumulators of z (and of r, for Lead-DBS' mean-of-r map) over
   n_seeds x n_v features, then finalizes mean z, mean r = tanh(mean z), std z, t and p. A subject
   arrives either copied by a reader callback into a slab (desc.read), or shown in place
   (desc.view: e.g. ss_h5_view's memory map of the file, no copy, no slab). Per subject the
   workers (desc.n_threads) first build the seeds' series, then take blocks of 512 voxels: shift,
   multiply with the seeds, turn the products into r and z (this header's own atanh, one division
   a lane: in precision SS_F32 r and z are formed in float lanes, within 3 ulp of libm's atanh
   rounded to float; in SS_F64 in double, within 3 ulp of libm's; tested) and fold them at once
   into the double accumulators (Chan's update with one value), so no full r or z map is ever
   stored. Each cell is folded by one worker per subject and subjects in order: the maps are the
   same bits for any n_threads, read_ahead or source (tested). With desc.read_ahead a worker reads the next subject into a second slab
   while the others compute. Memory (ss_lnm_estimate_bytes, equal to the pool's measured peak:
   tested; independent of the number of subjects):
       slab        n_t x n_v x 4 bytes (x 2 with read_ahead; 0 with view)
       accumulators n_seeds x n_v x 16 bytes for z, as much again for r unless skip_avg_r
       scratch     per worker (n_t + n_seeds) x 512 values and 12 KiB; n_seeds x n_t values
   One code path, four policies (SS_POLICY_*: strict, ldk, lacuna, ldk_single; see their
   declaration) that differ only in the NaN rule, z_inf, ddof and t at a zero standard error.
   Partial runs (files, MPI ranks) hand back their accumulators (ss_lnm_state) to be serialized,
   merged and finalized with ss_lnm_finalize. Speed on this 2-core VM (bench/RESULTS.md; 20
   lesions x 100 subjects x 200 time points x 50,000 voxels, 4 GB of HDF5 in the page cache as
   reading from disk leaves it; an AMD EPYC with AVX2, a VM whose speed swings ~1.5x):
       subjects mapped in place, 2 workers    0.85 s in the VM's fast state, 1.25 s in its slow
                                              one (medians of two runs of the section), 16 MiB
                                              from the pool, 77 MiB peak RSS
       copied into the slab, 2 workers        1.18 s fast, 1.34 s slow (1.02 / 1.07 s reading
                                              ahead, 92 MiB from the pool)
       numpy replicas of the Python package   6.1 s / 529 MiB (batched matmul), 17.4 s / 1.29 GiB
                                              (the package's einsum) in the fast run; 5.6 s and
                                              31 s in the slow one
       reading (copying) the files alone      0.6-0.8 s
   One thread's subject: the products two fifths, the centring a quarter, the fold and the seeds'
   gather (random reads all over the subject) a seventh each.

   8. WHAT IT DOES NOT DO
   Weighted samples; higher moments. gzip-compressed connectomes are inflated by HDF5 on one
   thread (~100 MB/s here): the run is then bound by that, not by the arithmetic; converting the
   files to contiguous storage once (h5repack -l CONTI) makes them mappable.

   9. API: see the declarations below; each states its contract.
*/
#ifndef STAT_STREAM_H
#define STAT_STREAM_H

#if defined(SS_STATIC) && !defined(TP_STATIC)
#define TP_STATIC
#endif
#include "tensorpool.h"

#include <stddef.h>
#include <stdint.h>

#define SS_VERSION_MAJOR 0
#define SS_VERSION_MINOR 0
#define SS_VERSION_PATCH 1

#ifndef SSDEF
#if defined(SS_STATIC) && (defined(__GNUC__) || defined(__clang__))
#define SSDEF static __attribute__((unused))
#elif defined(SS_STATIC)
#define SSDEF static
#else
#define SSDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ss_result {
    SS_OK = 0,
    SS_ERR_ARG = -1,      /* a bad argument */
    SS_ERR_OVERFLOW = -2, /* a size computation overflowed */
    SS_ERR_NOMEM = -3,    /* the pool (or the system) refused memory */
    SS_ERR_BUDGET = -4,   /* the memory would exceed the pool's budget */
    SS_ERR_FORMAT = -5,   /* a serialized state that is not one, or of another version */
    SS_ERR_IO = -6,       /* a subject could not be read */
    SS_ERR_CANCELLED = -7 /* the progress callback asked to stop */
} ss_result;

enum { SS_NAN_PROPAGATE = 0, SS_NAN_AS_ZERO = 1, SS_NAN_SKIP = 2 };
enum { SS_F32 = 0, SS_F64 = 1 };                          /* row element types */
enum { SS_T_ZERO_SE_NAN = 0, SS_T_ZERO_SE_ZERO = 1 };     /* t where the standard error is 0 */

typedef struct ss_moments ss_moments;

/* An accumulator of n_features features (>= 1), empty, its memory from pool (NULL = a private
   pool). SS_ERR_ARG (zero features, a bad policy, out NULL), SS_ERR_OVERFLOW, SS_ERR_NOMEM,
   SS_ERR_BUDGET. */
SSDEF ss_result ss_moments_create(size_t n_features, int nan_policy, tp_pool *pool, ss_moments **out);
SSDEF void ss_moments_destroy(ss_moments *m);
SSDEF size_t ss_moments_features(const ss_moments *m);
/* The count of feature f (the same for all features unless the policy is SS_NAN_SKIP). */
SSDEF uint64_t ss_moments_count(const ss_moments *m, size_t f);
/* Adds n_rows rows of n_features values (dtype SS_F32 or SS_F64) starting stride elements apart
   (0 = n_features). Scratch from the accumulator's pool (3 doubles per feature, or 4 with
   SS_NAN_SKIP). SS_ERR_ARG for NULL data with rows, a bad dtype, stride < n_features. */
SSDEF ss_result ss_moments_add_rows(ss_moments *m, const void *data, int dtype, size_t n_rows, size_t stride);
/* a += b. SS_ERR_ARG unless both have the same features and policy. */
SSDEF ss_result ss_moments_merge(ss_moments *a, const ss_moments *b);

/* Bytes of the serialized state. */
SSDEF size_t ss_moments_serialized_bytes(const ss_moments *m);
/* Writes the state into buf (cap >= ss_moments_serialized_bytes); SS_ERR_ARG when it does not fit. */
SSDEF ss_result ss_moments_serialize(const ss_moments *m, void *buf, size_t cap);
/* A new accumulator from a serialized state; SS_ERR_FORMAT for bytes that are not one (wrong
   magic, version, policy or length). */
SSDEF ss_result ss_moments_deserialize(const void *buf, size_t len, tp_pool *pool, ss_moments **out);

/* What ss_moments_finalize writes: arrays of n_features doubles, NULL to skip. */
typedef struct ss_maps {
    double *mean, *var, *std, *t, *p, *q;
} ss_maps;
typedef struct ss_finalize_opts {
    int ddof;       /* for var and std [0 here means ddof 0; set 1 for the sample variance] */
    int ddof_t;     /* ddof of the std in t [1 = the usual one-sample t]: 0 or 1 */
    int t_zero_se;  /* SS_T_ZERO_SE_NAN or SS_T_ZERO_SE_ZERO [NAN] */
} ss_finalize_opts;
/* Per-feature statistics (section 4); opts NULL = ddof 0, ddof_t 1, t NaN where se = 0. A feature
   with n <= ddof has var NaN; t and p need n >= 2. q needs p (scratch from the pool). */
SSDEF ss_result ss_moments_finalize(const ss_moments *m, const ss_finalize_opts *opts, const ss_maps *out);

/* Two-sided p of Student's t with df degrees of freedom (df > 0); NaN for NaN input. */
SSDEF double ss_t_pvalue(double t, double df);
/* The regularized incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1 (NaN outside). */
SSDEF double ss_betainc(double a, double b, double x);
/* Benjamini-Hochberg q-values of n p-values; NaN p give NaN q and are not counted. Scratch
   (n indices) from pool (NULL = the system allocator through a private pool). */
SSDEF ss_result ss_bh_qvalues(const double *p, size_t n, double *q, tp_pool *pool);
/* atanh(r) with +-z_inf at |r| = 1 (z_inf <= 0: +-infinity); NaN for |r| > 1 and NaN. */
SSDEF double ss_fisher_z(double r, double z_inf);

/* ---- seed-to-voxel correlation ------------------------------------------------------------- */

/* Seeds (e.g. lesions): n_seeds lists of positions on the voxel axis; seed l's voxels are
   voxels[offsets[l] .. offsets[l + 1]). */
typedef struct ss_seeds {
    size_t n_seeds;
    const int64_t *voxels;
    const size_t *offsets; /* n_seeds + 1 entries, offsets[0] = 0, non-decreasing */
} ss_seeds;

/* Pearson r between each seed's series (the mean of its voxels' raw series) and every voxel's,
   for one subject: ts is n_t x n_v float (voxel fastest, rows ld >= n_v apart), r is n_seeds x
   n_v doubles (rows ldr >= n_v apart). Means and norms in double; the products as one GEMM per
   block of voxels (the seeds centred and normalised, the voxels shifted by their first value and
   corrected after), in float (precision SS_F32) or double (SS_F64). A voxel or a seed whose series is constant gives NaN. Scratch: ss_seedcorr_bytes
   from pool (NULL = a private pool). Errors, with a message in err (may be NULL): SS_ERR_ARG
   (NULL pointers, zero sizes, n_t < 2, a seed with no voxel or one outside [0, n_v), naming it),
   SS_ERR_OVERFLOW, SS_ERR_NOMEM, SS_ERR_BUDGET. */
SSDEF ss_result ss_seedcorr(tp_pool *pool, const float *ts, size_t n_t, size_t n_v, size_t ld, const ss_seeds *seeds,
                            int precision, double *r, size_t ldr, char *err, size_t errcap);
/* The scratch ss_seedcorr takes from the pool, to the byte (0 when the sizes overflow). */
SSDEF size_t ss_seedcorr_bytes(size_t n_t, size_t n_v, size_t n_seeds, int precision);

/* ---- the lesion network mapping pipeline ---------------------------------------------------- */

/* Output policies of one code path, reproducing the peers (section 7 of DESIGN.md):
     SS_POLICY_STRICT      z = atanh(r) unclipped, NaN propagates, std and t with ddof 1, t NaN
                           where the standard error is 0
     SS_POLICY_LDK         ldk's batch path: NaN r counts as 0, r = +-1 gives z = +-3, ddof 0, t 0
                           where the standard error is 0
     SS_POLICY_LACUNA      lacuna's batch path: as ldk with ddof 1
     SS_POLICY_LDK_SINGLE  ldk's single-lesion path: as lacuna with z = +-10 at r = +-1 */
enum { SS_POLICY_STRICT = 0, SS_POLICY_LDK = 1, SS_POLICY_LACUNA = 2, SS_POLICY_LDK_SINGLE = 3 };

/* Fills ts (n_t x n_v floats, voxel fastest) with subject k's series; returns 0, or nonzero with a
   message in err (the run then fails with SS_ERR_IO and that message). */
typedef int (*ss_subject_fn)(void *user, size_t k, float *ts, char *err, size_t errcap);
/* The other way to hand subjects over: returns subject k's n_t x n_v floats (voxel fastest), which
   must stay valid and unchanged until the next call (e.g. a memory map of the file: no copy), or
   NULL with a message in err. */
typedef const float *(*ss_view_fn)(void *user, size_t k, char *err, size_t errcap);
/* Called after each subject; return nonzero to cancel (SS_ERR_CANCELLED). */
typedef int (*ss_progress_fn)(void *user, size_t done, size_t total);

typedef struct ss_lnm_desc {
    tp_pool *pool;            /* all scratch [NULL: a private pool] */
    size_t n_subjects, n_t, n_v;
    ss_subject_fn read;       /* the subjects, one at a time, copied into a slab ... */
    ss_view_fn view;          /* ... or shown in place (no slab): exactly one of read and view */
    void *read_user;          /* passed to read or view */
    const ss_seeds *seeds;    /* the lesions (required) */
    int policy;               /* SS_POLICY_* [strict] */
    int precision;            /* of the products: SS_F32 or SS_F64 [SS_F32] */
    ss_progress_fn progress;  /* [NULL] */
    void *progress_user;
    int n_threads;            /* workers over blocks of voxels [1]; the maps do not depend on it */
    int skip_avg_r;           /* 1: no accumulator of r (out->avg_r must be NULL; state->r is NULL),
                                 which saves n_seeds x n_v x 16 bytes and a third of the traffic */
    int read_ahead;           /* 1 (with read and n_threads > 1): a worker reads the next subject
                                 into a second slab while the others compute this one (read is then
                                 called from that worker, one call at a time) [0: one slab] */
} ss_lnm_desc;

/* Maps of n_seeds x n_v doubles (row l = seed l), NULL to skip. mean_r = tanh(mean_z); avg_r is
   Lead-DBS' mean of r (under the policy's NaN rule); n = the subjects counted. */
typedef struct ss_lnm_maps {
    double *mean_z, *mean_r, *avg_r, *std_z, *t, *p;
} ss_lnm_maps;

/* A run's accumulators over n_seeds x n_v features: z, and r (for avg_r). */
typedef struct ss_lnm_state {
    ss_moments *z, *r;
} ss_lnm_state;

/* Streams the subjects (section 7) into per-(seed, voxel) accumulators of z and r (r unless
   skip_avg_r) and finalizes them into out (which may be NULL when state is not). Memory:
   ss_lnm_estimate_bytes from the pool, whatever n_subjects. When state is not NULL it receives
   the accumulators (the caller destroys them), e.g. to merge partial runs over files or MPI
   ranks. Errors: SS_ERR_ARG (as ss_seedcorr's, and: not exactly one of read and view, avg_r
   with skip_avg_r, n_threads outside 0 .. 64), SS_ERR_OVERFLOW, SS_ERR_NOMEM, SS_ERR_BUDGET,
   SS_ERR_IO (the reader or view failed: the message names the subject), SS_ERR_CANCELLED. */
SSDEF ss_result ss_lnm(const ss_lnm_desc *desc, const ss_lnm_maps *out, ss_lnm_state *state, char *err, size_t errcap);
/* What ss_lnm takes from the pool, to the byte (0 when the sizes overflow or desc is invalid). */
SSDEF size_t ss_lnm_estimate_bytes(const ss_lnm_desc *desc);
/* Finalizes accumulators (e.g. merged from partial runs) under a policy into maps; r may be NULL
   (avg_r is then left alone). */
SSDEF ss_result ss_lnm_finalize(const ss_moments *z, const ss_moments *r, int policy, const ss_lnm_maps *out);

/* ---- the HDF5 connectome source (STAT_STREAM_USE_HDF5) --------------------------------------- */
#if defined(STAT_STREAM_USE_HDF5)
/* A connectome in the ldk/lacuna layout: /timeseries float (n_subjects, n_timepoints, n_voxels),
   one subject per chunk (gzip or not), /mask_indices int64 (3, n_voxels) or (n_voxels, 3),
   /mask_affine float64 4 x 4, attribute mask_shape (3 integers). path is one such file, or a
   directory whose *.h5 files are read in name order (mask and geometry from the first). The
   mask (3 x n_voxels int64) comes from pool (NULL = a private pool). */
typedef struct ss_h5 ss_h5;
/* Opens and checks every file (their shapes; nothing is read yet). Errors with a message naming
   the file: SS_ERR_IO (cannot open, no .h5 file in a directory), SS_ERR_FORMAT (a missing dataset,
   a wrong rank or type, files that disagree in time points or voxels), SS_ERR_NOMEM. HDF5's own
   error printing is off during every call. */
SSDEF ss_result ss_h5_open(const char *path, tp_pool *pool, ss_h5 **out, char *err, size_t errcap);
SSDEF void ss_h5_close(ss_h5 *c);
/* Subjects over all files, time points, voxels; the mask's voxel positions (3 x n_voxels: i, j,
   k rows), affine (4 x 4, row-major) and grid shape (3) from the first file. */
SSDEF size_t ss_h5_subjects(const ss_h5 *c);
SSDEF size_t ss_h5_timepoints(const ss_h5 *c);
SSDEF size_t ss_h5_voxels(const ss_h5 *c);
SSDEF const int64_t *ss_h5_mask_indices(const ss_h5 *c);
SSDEF const double *ss_h5_affine(const ss_h5 *c);
SSDEF const int64_t *ss_h5_mask_shape(const ss_h5 *c);
/* An ss_subject_fn: user is the ss_h5; reads subject k (one hyperslab) into ts. */
SSDEF int ss_h5_read(void *user, size_t k, float *ts, char *err, size_t errcap);
/* An ss_view_fn: user is the ss_h5. Where a file's /timeseries is contiguous little-endian
   float32 (checked against HDF5's own read at open), subject k is memory-mapped straight from the
   file (no copy: the page cache is the buffer). Where the cache holds the file in 2 MiB folios,
   as Linux 6.x (ext4) leaves a file read from disk, a subject maps with 2 MiB pages: a 40 MB
   subject mapped, touched and unmapped in ~0.5 ms here instead of 5-9 ms with 4 KiB ones (the
   mapping asks for huge pages, so that its own faults fill the cache that way). The next
   subject's pages are asked for ahead (a 4 GB run from disk here: 3.7-4.1 s, 5.2-6.5 s without).
   Otherwise (gzip chunks, other types) subject k is read into a buffer of n_t x n_v floats from
   the pool. The pointer is valid until the next call or ss_h5_close; a mapped file must not be
   truncated meanwhile (the process would get SIGBUS, as with any memory map). */
SSDEF const float *ss_h5_view(void *user, size_t k, char *err, size_t errcap);
/* 1 when every file can be shown in place by ss_h5_view. */
SSDEF int ss_h5_mapped(const ss_h5 *c);
#endif

SSDEF const char *ss_result_string(ss_result result);

#ifdef __cplusplus
}
#endif

#endif /* STAT_STREAM_H */

/* ============================================================================================ */
/* >>implementation                                                                             */
/* ============================================================================================ */
#if defined(STAT_STREAM_IMPLEMENTATION) && !defined(STAT_STREAM_IMPLEMENTATION_INCLUDED)
#define STAT_STREAM_IMPLEMENTATION_INCLUDED

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ss_moments {
    size_t n_features;
    int policy;
    uint64_t count;   /* all features (not SS_NAN_SKIP) */
    uint64_t *counts; /* per feature (SS_NAN_SKIP), else NULL */
    double *mean, *m2;
    tp_pool *pool, *own_pool;
};

SSDEF const char *ss_result_string(ss_result r)
{
    switch (r) {
    case SS_OK: return "ok";
    case SS_ERR_ARG: return "bad argument";
    case SS_ERR_OVERFLOW: return "size overflow";
    case SS_ERR_NOMEM: return "out of memory";
    case SS_ERR_BUDGET: return "over the memory budget";
    case SS_ERR_FORMAT: return "not a serialized accumulator of this version";
    case SS_ERR_IO: return "a subject could not be read";
    case SS_ERR_CANCELLED: return "cancelled";
    }
    return "unknown result";
}

static ss_result ss__from_tp(tp_result r)
{
    return r == TP_ERR_BUDGET ? SS_ERR_BUDGET : r == TP_ERR_OVERFLOW ? SS_ERR_OVERFLOW : SS_ERR_NOMEM;
}

/* ---- >>accumulators --------------------------------------------------------------------------- */

SSDEF ss_result ss_moments_create(size_t n_features, int nan_policy, tp_pool *pool, ss_moments **out)
{
    size_t per, bytes, head = (sizeof(ss_moments) + 63) / 64 * 64;
    tp_pool *own = NULL;
    tp_result tr = TP_OK;
    ss_moments *m;
    if (out) *out = NULL;
    if (!out || !n_features || nan_policy < SS_NAN_PROPAGATE || nan_policy > SS_NAN_SKIP) return SS_ERR_ARG;
    per = 2 * sizeof(double) + (nan_policy == SS_NAN_SKIP ? sizeof(uint64_t) : 0);
    if (!tp_size_mul(n_features, per, &bytes) || !tp_size_add(bytes, head, &bytes)) return SS_ERR_OVERFLOW;
    if (!pool && !(pool = own = tp_create(NULL, &tr))) return ss__from_tp(tr);
    m = (ss_moments *)tp_alloc_at(pool, bytes, TP_ZERO, __FILE__, __LINE__, &tr);
    if (!m) {
        if (own) tp_destroy(own);
        return ss__from_tp(tr);
    }
    m->n_features = n_features;
    m->policy = nan_policy;
    m->mean = (double *)(void *)((char *)m + head);
    m->m2 = m->mean + n_features;
    m->counts = nan_policy == SS_NAN_SKIP ? (uint64_t *)(void *)(m->m2 + n_features) : NULL;
    m->pool = pool;
    m->own_pool = own;
    *out = m;
    return SS_OK;
}

SSDEF void ss_moments_destroy(ss_moments *m)
{
    tp_pool *own;
    if (!m) return;
    own = m->own_pool;
    tp_free(m->pool, m);
    if (own) tp_destroy(own);
}

SSDEF size_t ss_moments_features(const ss_moments *m) { return m ? m->n_features : 0; }

SSDEF uint64_t ss_moments_count(const ss_moments *m, size_t f)
{
    if (!m || f >= m->n_features) return 0;
    return m->counts ? m->counts[f] : m->count;
}

/* Chan's merge of (nb, mean_b, m2_b) into feature f */
static void ss__merge_one(ss_moments *m, size_t f, uint64_t na, uint64_t nb, double mean_b, double m2_b)
{
    double n, d;
    if (!nb) return;
    if (!na) {
        m->mean[f] = mean_b;
        m->m2[f] = m2_b;
        return;
    }
    n = (double)na + (double)nb;
    d = mean_b - m->mean[f];
    m->mean[f] += d * ((double)nb / n);
    m->m2[f] += m2_b + d * d * ((double)na * (double)nb / n);
}

static double ss__value(const void *data, int dtype, size_t i)
{
    return dtype == SS_F32 ? (double)((const float *)data)[i] : ((const double *)data)[i];
}

SSDEF ss_result ss_moments_add_rows(ss_moments *m, const void *data, int dtype, size_t n_rows, size_t stride)
{
    size_t nf, r, f, bytes;
    double *sum, *dev;
    uint64_t *cnt = NULL;
    tp_result tr = TP_OK;
    int skip, zero;
    if (!m || (dtype != SS_F32 && dtype != SS_F64)) return SS_ERR_ARG;
    if (!n_rows) return SS_OK;
    nf = m->n_features;
    if (!data || (stride && stride < nf)) return SS_ERR_ARG;
    if (!stride) stride = nf;
    if (!tp_size_mul(n_rows - 1, stride, &bytes) || !tp_size_add(bytes, nf, &bytes) ||
        !tp_size_mul(nf, 2 * sizeof(double) + sizeof(uint64_t), &bytes))
        return SS_ERR_OVERFLOW;
    skip = m->policy == SS_NAN_SKIP;
    zero = m->policy == SS_NAN_AS_ZERO;
    sum = (double *)tp_alloc_at(m->pool, nf * (2 * sizeof(double) + (skip ? sizeof(uint64_t) : 0)), TP_ZERO, __FILE__,
                                __LINE__, &tr);
    if (!sum) return ss__from_tp(tr);
    dev = sum + nf;
    if (skip) cnt = (uint64_t *)(void *)(dev + nf);
    /* the block's mean: row by row, feature by feature in memory order */
    for (r = 0; r < n_rows; r++) {
        const size_t base = r * stride;
        for (f = 0; f < nf; f++) {
            double v = ss__value(data, dtype, base + f);
            if (v != v) {
                if (skip) continue;
                if (zero) v = 0.0;
            }
            sum[f] += v;
            if (skip) cnt[f]++;
        }
    }
    for (f = 0; f < nf; f++) sum[f] /= skip ? (double)(cnt[f] ? cnt[f] : 1) : (double)n_rows;
    /* its M2 around that mean */
    for (r = 0; r < n_rows; r++) {
        const size_t base = r * stride;
        for (f = 0; f < nf; f++) {
            double v = ss__value(data, dtype, base + f), d;
            if (v != v) {
                if (skip) continue;
                if (zero) v = 0.0;
            }
            d = v - sum[f];
            dev[f] += d * d;
        }
    }
    for (f = 0; f < nf; f++) {
        uint64_t na = skip ? m->counts[f] : m->count, nb = skip ? cnt[f] : (uint64_t)n_rows;
        ss__merge_one(m, f, na, nb, sum[f], dev[f]);
        if (skip) m->counts[f] += cnt[f];
    }
    if (!skip) m->count += (uint64_t)n_rows;
    tp_free(m->pool, sum);
    return SS_OK;
}

SSDEF ss_result ss_moments_merge(ss_moments *a, const ss_moments *b)
{
    size_t f;
    if (!a || !b || a->n_features != b->n_features || a->policy != b->policy) return SS_ERR_ARG;
    for (f = 0; f < a->n_features; f++) {
        uint64_t na = a->counts ? a->counts[f] : a->count, nb = b->counts ? b->counts[f] : b->count;
        ss__merge_one(a, f, na, nb, b->mean[f], b->m2[f]);
        if (a->counts) a->counts[f] += b->counts[f];
    }
    if (!a->counts) a->count += b->count;
    return SS_OK;
}

/* ---- >>serialization -------------------------------------------------------------------------- */

enum { SS__HEADER = 4 + 4 + 4 + 4 + 8 };

static void ss__put64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t ss__get64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t ss__bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double ss__double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static size_t ss__state_bytes(size_t nf, int policy)
{
    return SS__HEADER + 8 * ((policy == SS_NAN_SKIP ? nf : 1) + 2 * nf);
}

SSDEF size_t ss_moments_serialized_bytes(const ss_moments *m)
{
    return m ? ss__state_bytes(m->n_features, m->policy) : 0;
}

SSDEF ss_result ss_moments_serialize(const ss_moments *m, void *buf, size_t cap)
{
    unsigned char *p = (unsigned char *)buf;
    size_t f, nc;
    if (!m || !buf || cap < ss_moments_serialized_bytes(m)) return SS_ERR_ARG;
    memcpy(p, "SSM1", 4);
    ss__put64(p + 4, 1); /* version 1 (low 4 bytes), policy (high 4) */
    p[8] = (unsigned char)m->policy;
    memset(p + 9, 0, 7);
    ss__put64(p + 16, (uint64_t)m->n_features);
    p += SS__HEADER;
    nc = m->counts ? m->n_features : 1;
    for (f = 0; f < nc; f++, p += 8) ss__put64(p, m->counts ? m->counts[f] : m->count);
    for (f = 0; f < m->n_features; f++, p += 8) ss__put64(p, ss__bits(m->mean[f]));
    for (f = 0; f < m->n_features; f++, p += 8) ss__put64(p, ss__bits(m->m2[f]));
    return SS_OK;
}

SSDEF ss_result ss_moments_deserialize(const void *buf, size_t len, tp_pool *pool, ss_moments **out)
{
    const unsigned char *p = (const unsigned char *)buf;
    uint64_t nf64;
    size_t nf, f, nc;
    int policy;
    ss_result r;
    ss_moments *m;
    if (out) *out = NULL;
    if (!buf || !out) return SS_ERR_ARG;
    if (len < SS__HEADER || memcmp(p, "SSM1", 4) != 0 || (ss__get64(p + 4) & 0xffffffffu) != 1) return SS_ERR_FORMAT;
    policy = p[8];
    nf64 = ss__get64(p + 16);
    if (policy > SS_NAN_SKIP || nf64 == 0 || nf64 > (uint64_t)((size_t)-1 / 32)) return SS_ERR_FORMAT;
    nf = (size_t)nf64;
    if (len != ss__state_bytes(nf, policy)) return SS_ERR_FORMAT;
    if ((r = ss_moments_create(nf, policy, pool, &m)) != SS_OK) return r;
    p += SS__HEADER;
    nc = policy == SS_NAN_SKIP ? nf : 1;
    for (f = 0; f < nc; f++, p += 8) {
        if (m->counts) m->counts[f] = ss__get64(p);
        else m->count = ss__get64(p);
    }
    for (f = 0; f < nf; f++, p += 8) m->mean[f] = ss__double(ss__get64(p));
    for (f = 0; f < nf; f++, p += 8) m->m2[f] = ss__double(ss__get64(p));
    *out = m;
    return SS_OK;
}

/* ---- >>statistics ----------------------------------------------------------------------------- */

/* The continued fraction of I_x(a, b) (Abramowitz & Stegun 26.5.8) by the modified Lentz method;
   it converges fast for x < (a + 1) / (a + b + 2) */
static double ss__betacf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-16;
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap, h;
    int m;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    h = d;
    for (m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m, aa = m * (b - m) * x / ((qam + m2) * (a + m2)), del;
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

/* I_x(a, b) given x and y = 1 - x, each computed accurately by the caller */
static double ss__betainc2(double a, double b, double x, double y)
{
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y);
    if (x < (a + 1) / (a + b + 2)) return exp(lfront) * ss__betacf(a, b, x) / a;
    return 1 - exp(lfront) * ss__betacf(b, a, y) / b;
}

SSDEF double ss_betainc(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return 0.0 / 0.0;
    if (x == 0 || x == 1) return x;
    return ss__betainc2(a, b, x, 1 - x);
}

SSDEF double ss_t_pvalue(double t, double df)
{
    double t2 = t * t;
    if (t != t || !(df > 0)) return 0.0 / 0.0;
    if (fabs(t) == 1.0 / 0.0 || t2 > 1e300) return 0.0;
    if (t2 == 0) return 1.0;
    /* p = I_x(df / 2, 1 / 2), x = df / (df + t^2); 1 - x = t^2 / (df + t^2) is computed on its
       own, so that neither a tiny t nor a huge one loses digits */
    return ss__betainc2(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
}

SSDEF double ss_fisher_z(double r, double z_inf)
{
    if (r != r || fabs(r) > 1) return 0.0 / 0.0;
    if (fabs(r) == 1) return (r > 0 ? 1 : -1) * (z_inf > 0 ? z_inf : 1.0 / 0.0);
    return atanh(r);
}

/* sort helper: indices by p ascending (heap sort: no recursion, no qsort context) */
static void ss__sift(size_t *idx, const double *p, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1, top = root;
        if (child < n && p[idx[child]] > p[idx[top]]) top = child;
        if (child + 1 < n && p[idx[child + 1]] > p[idx[top]]) top = child + 1;
        if (top == root) return;
        {
            size_t tmp = idx[root];
            idx[root] = idx[top];
            idx[top] = tmp;
        }
        root = top;
    }
}

SSDEF ss_result ss_bh_qvalues(const double *p, size_t n, double *q, tp_pool *pool)
{
    size_t *idx, m = 0, i, bytes;
    tp_pool *own = NULL;
    tp_result tr = TP_OK;
    double running = 1.0;
    if (!n) return SS_OK;
    if (!p || !q) return SS_ERR_ARG;
    if (!tp_size_mul(n, sizeof(size_t), &bytes)) return SS_ERR_OVERFLOW;
    if (!pool && !(pool = own = tp_create(NULL, &tr))) return ss__from_tp(tr);
    idx = (size_t *)tp_alloc_at(pool, bytes, 0, __FILE__, __LINE__, &tr);
    if (!idx) {
        if (own) tp_destroy(own);
        return ss__from_tp(tr);
    }
    for (i = 0; i < n; i++) {
        if (p[i] == p[i]) idx[m++] = i;
        q[i] = p[i] == p[i] ? 0.0 : p[i];
    }
    for (i = m / 2; i-- > 0;) ss__sift(idx, p, i, m);
    for (i = m; i-- > 1;) {
        size_t tmp = idx[0];
        idx[0] = idx[i];
        idx[i] = tmp;
        ss__sift(idx, p, 0, i);
    }
    for (i = m; i-- > 0;) { /* q_(i) = min over j >= i of p_(j) m / j */
        double v = p[idx[i]] * (double)m / (double)(i + 1);
        running = v < running ? v : running;
        q[idx[i]] = running;
    }
    tp_free(pool, idx);
    if (own) tp_destroy(own);
    return SS_OK;
}

SSDEF ss_result ss_moments_finalize(const ss_moments *m, const ss_finalize_opts *opts, const ss_maps *out)
{
    ss_finalize_opts o;
    size_t f;
    double nan = 0.0 / 0.0;
    if (!m || !out) return SS_ERR_ARG;
    if (opts) o = *opts;
    else {
        memset(&o, 0, sizeof o);
        o.ddof_t = 1;
    }
    if (o.ddof < 0 || o.ddof > 1 || o.ddof_t < 0 || o.ddof_t > 1 || (o.t_zero_se != SS_T_ZERO_SE_NAN && o.t_zero_se != SS_T_ZERO_SE_ZERO))
        return SS_ERR_ARG;
    if (out->q && !out->p) return SS_ERR_ARG;
    for (f = 0; f < m->n_features; f++) {
        double n = (double)(m->counts ? m->counts[f] : m->count), mean = n > 0 ? m->mean[f] : nan, m2 = m->m2[f];
        double var = n > o.ddof ? m2 / (n - o.ddof) : nan, var_t = n > o.ddof_t ? m2 / (n - o.ddof_t) : nan;
        double se = sqrt(var_t / n), t = nan;
        if (n >= 2 && mean == mean && se == se) {
            if (se > 0) t = mean / se;
            else t = o.t_zero_se == SS_T_ZERO_SE_ZERO ? 0.0 : nan;
        }
        if (out->mean) out->mean[f] = mean;
        if (out->var) out->var[f] = var;
        if (out->std) out->std[f] = sqrt(var);
        if (out->t) out->t[f] = t;
        if (out->p) out->p[f] = n >= 2 ? ss_t_pvalue(t, n - 1) : nan;
    }
    if (out->q) return ss_bh_qvalues(out->p, m->n_features, out->q, m->pool);
    return SS_OK;
}

/* ---- >>seed correlation ------------------------------------------------------------------------ */

#define SS__BLOCK 512 /* voxels per GEMM: n_t x 512 floats stay in L2 */
/* A centred block is stored in panels of SS__PANEL voxels, each panel n_t rows of SS__PANEL
   values: the products then read it in order, one cache line a row. Read row-major (rows 2 KiB
   apart), every row of a tile fell in the same two sets of L1 and the built-in products ran at
   46 GFLOP/s on one hot block here (Zen 3); in panels, 85. A CBLAS takes row-major blocks: its
   panel is the whole block, rows SS__BLOCK values apart. */
#if defined(STAT_STREAM_USE_CBLAS)
#define SS__PANEL SS__BLOCK
#else
#define SS__PANEL 16
#endif
/* where value (t, j) of a centred block lies */
#define SS__AT(t, j, n_t) (((j) / SS__PANEL) * (n_t) * SS__PANEL + (t) * SS__PANEL + (j) % SS__PANEL)

/* c (m x n) = a (m x k) b (k x n), a and c row-major and dense, b a centred block (SS__AT), for
   the two element types. Each c element is one sum over p in order, whatever the kernel, the
   blocking or the vector width. */
typedef void (*ss__gemm32_fn)(size_t m, size_t n, size_t k, const float *a, const float *b, float *c);
typedef void (*ss__gemm64_fn)(size_t m, size_t n, size_t k, const double *a, const double *b, double *c);

/* clang would fuse a * b + c where a target has FMA: each kernel turns that off so that every
   variant rounds as the plain C code does (gcc does not fuse in ISO C mode) */
#if defined(__clang__)
#define SS__EXACT _Pragma("clang fp contract(off)")
#else
#define SS__EXACT
#endif
#if defined(__GNUC__)
#define SS__PREFETCH(p) __builtin_prefetch((p), 0, 1)
#else
#define SS__PREFETCH(p) ((void)(p))
#endif

#define SS__GEMM_PLAIN(name, R)                                                                 \
    static void name(size_t m, size_t n, size_t k, const R *a, const R *b, R *c)                \
    {                                                                                           \
        SS__EXACT                                                                               \
        size_t i, j, p;                                                                         \
        for (i = 0; i < m; i++)                                                                 \
            for (j = 0; j < n; j++) {                                                           \
                R s = 0;                                                                        \
                for (p = 0; p < k; p++) s += a[i * k + p] * b[SS__AT(p, j, k)];                 \
                c[i * n + j] = s;                                                               \
            }                                                                                   \
    }
SS__GEMM_PLAIN(ss__gemm32_plain, float)
SS__GEMM_PLAIN(ss__gemm64_plain, double)

#if defined(__GNUC__) && !defined(SS_NO_VECTOR_EXTENSIONS) && (defined(__clang__) || __GNUC__ >= 9)
#define SS__VECTOR 1
#if (defined(__x86_64__) || defined(__i386__)) && (!defined(__clang__) || __clang_major__ >= 8)
#define SS__X86_WIDE 1 /* AVX2 and AVX-512 variants, picked at run time */
#endif
/* One tile: rows i .. i + NR - 1 of c (NR 4 or 5), NV (2 or 4) vectors from column j; named
   variables, not arrays, so that the compiler keeps all of them in registers. */
#define SS__GEMM_TILE(R, vec, W, NV, NR)                                                        \
    do {                                                                                        \
        vec c0a, c0b, c0c, c0d, c1a, c1b, c1c, c1d, c2a, c2b, c2c, c2d, c3a, c3b, c3c, c3d;     \
        vec c4a, c4b, c4c, c4d, xa, xb, xc, xd;                                                 \
        const R *ba = b + SS__AT(0, j, k), *bb = b + SS__AT(0, j + W, k);                       \
        const R *bc = NV > 2 ? b + SS__AT(0, j + 2 * W, k) : ba, *bd = NV > 2 ? b + SS__AT(0, j + 3 * W, k) : ba; \
        memset(&c0a, 0, sizeof c0a);                                                            \
        c0b = c0c = c0d = c1a = c1b = c1c = c1d = c2a = c2b = c2c = c2d = c0a;                  \
        c3a = c3b = c3c = c3d = c4a = c4b = c4c = c4d = xc = xd = c0a;                          \
        for (p = 0; p < k; p++) {                                                               \
            const R a0 = ar[0][p], a1 = ar[1][p], a2 = ar[2][p], a3 = ar[3][p];                 \
            const R a4 = NR > 4 ? ar[4][p] : a3;                                                \
            memcpy(&xa, ba + p * SS__PANEL, sizeof xa);                                         \
            memcpy(&xb, bb + p * SS__PANEL, sizeof xb);                                         \
            c0a += a0 * xa, c0b += a0 * xb, c1a += a1 * xa, c1b += a1 * xb;                     \
            c2a += a2 * xa, c2b += a2 * xb, c3a += a3 * xa, c3b += a3 * xb;                     \
            if (NR > 4) c4a += a4 * xa, c4b += a4 * xb;                                         \
            if (NV > 2) {                                                                       \
                memcpy(&xc, bc + p * SS__PANEL, sizeof xc);                                     \
                memcpy(&xd, bd + p * SS__PANEL, sizeof xd);                                     \
                c0c += a0 * xc, c0d += a0 * xd, c1c += a1 * xc, c1d += a1 * xd;                 \
                c2c += a2 * xc, c2d += a2 * xd, c3c += a3 * xc, c3d += a3 * xd;                 \
                if (NR > 4) c4c += a4 * xc, c4d += a4 * xd;                                     \
            }                                                                                   \
        }                                                                                       \
        SS__GEMM_STORE(R, 0, c0a, c0b, c0c, c0d, W, NV);                                        \
        SS__GEMM_STORE(R, 1, c1a, c1b, c1c, c1d, W, NV);                                        \
        SS__GEMM_STORE(R, 2, c2a, c2b, c2c, c2d, W, NV);                                        \
        SS__GEMM_STORE(R, 3, c3a, c3b, c3c, c3d, W, NV);                                        \
        SS__GEMM_STORE(R, 4, c4a, c4b, c4c, c4d, W, NV);                                        \
    } while (0)
#define SS__GEMM_STORE(R, r, va, vb, vc, vd, W, NV)                                             \
    if (r < rows) {                                                                             \
        R *cr = c + (i + r) * n + j;                                                            \
        memcpy(cr, &va, sizeof va);                                                             \
        memcpy(cr + W, &vb, sizeof vb);                                                         \
        if (NV > 2) {                                                                           \
            memcpy(cr + 2 * W, &vc, sizeof vc);                                                 \
            memcpy(cr + 3 * W, &vd, sizeof vd);                                                 \
        }                                                                                       \
    }
/* Tiles of 5 rows x NV vectors of c stay in registers while p runs over k, and of 4 rows for
   the last rows when fewer than 5 are left (rows past m repeat the last row and are not
   stored); then single vectors, then single columns. Five rows rather than four: a fifth less
   of the block read per product (one pass over it per tile row), the products 8-12 % faster in
   the interleaved harness (20 seeds, Zen 3). */
#define SS__GEMM_VEC(name, R, bytes, NV, attr)                                                  \
    attr static void name(size_t m, size_t n, size_t k, const R *a, const R *b, R *c)           \
    {                                                                                           \
        SS__EXACT                                                                               \
        typedef R vec __attribute__((vector_size(bytes)));                                      \
        enum { W = bytes / sizeof(R) };                                                         \
        size_t i, j, p, r, nr;                                                                  \
        for (i = 0; i < m; i += nr) {                                                           \
            const R *ar[5];                                                                     \
            size_t rows;                                                                        \
            nr = m - i >= 5 ? 5 : 4;                                                            \
            rows = m - i < nr ? m - i : nr;                                                     \
            for (r = 0; r < 5; r++) ar[r] = a + (i + (r < rows ? r : rows - 1)) * k;            \
            for (j = 0; j + NV * W <= n; j += NV * W) {                                         \
                if (nr == 5) SS__GEMM_TILE(R, vec, W, NV, 5);                                   \
                else SS__GEMM_TILE(R, vec, W, NV, 4);                                           \
            }                                                                                   \
            for (; j + W <= n; j += W) {                                                        \
                vec acc[5], x;                                                                  \
                const R *bj = b + SS__AT(0, j, k);                                              \
                memset(acc, 0, sizeof acc);                                                     \
                for (p = 0; p < k; p++) {                                                       \
                    memcpy(&x, bj + p * SS__PANEL, sizeof x);                                   \
                    for (r = 0; r < 5; r++) acc[r] += ar[r][p] * x;                             \
                }                                                                               \
                for (r = 0; r < rows; r++) memcpy(c + (i + r) * n + j, &acc[r], sizeof acc[r]); \
            }                                                                                   \
            for (; j < n; j++)                                                                  \
                for (r = 0; r < rows; r++) {                                                    \
                    R s = 0;                                                                    \
                    for (p = 0; p < k; p++) s += ar[r][p] * b[SS__AT(p, j, k)];                 \
                    c[(i + r) * n + j] = s;                                                     \
                }                                                                               \
        }                                                                                       \
    }
SS__GEMM_VEC(ss__gemm32_v16, float, 16, 2, )
SS__GEMM_VEC(ss__gemm64_v16, double, 16, 2, )
#if defined(SS__X86_WIDE)
#define SS__AVX2 __attribute__((target("avx2")))
#define SS__AVX512 __attribute__((target("avx512f")))
SS__GEMM_VEC(ss__gemm32_avx2, float, 32, 2, SS__AVX2)
SS__GEMM_VEC(ss__gemm64_avx2, double, 32, 2, SS__AVX2)
SS__GEMM_VEC(ss__gemm32_avx512, float, 64, 4, SS__AVX512)
SS__GEMM_VEC(ss__gemm64_avx512, double, 64, 4, SS__AVX512)
#endif
#endif

/* atanh(a) = log(u) / 2, u = (1 + a) / (1 - a), for 0 <= a < 1, within 3 ulp (tested), by one
   division instead of three (one for u, one for the log's reduction, one for log1p's correction):
   u = m 2^k with m in (sqrt(1/2), sqrt(2)], log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172,
   by its series to s^21 (the rest < 3e-17). k comes from the exponents of 1 + a and 1 - a without
   forming u, and s = ((1 + a) - 2^k (1 - a)) / ((1 + a) + 2^k (1 - a)) with both sums' rounding
   errors carried (hi + lo = 1 + a and p + lo2 = 1 - a exactly), the first difference exact as its
   terms are within a factor 2. For small a, k = 0 and s = a. The polynomial by Estrin's scheme
   (depth 5, not Horner's 10): a lane is one long chain of dependent operations, and this and the
   two divisions fewer made the fold ~10 % faster (interleaved harness). */
/* The reduction to s and e, for a of type T (double or float; U its unsigned integer of the same
   width, mb and bias its exponent's position and bias, one and r2 = sqrt(2) in T). hi and 1 - a
   are positive and normal, so k is the difference of their exponent fields. */
#define SS__ATANH_REDUCE(T, U, a, s, e, one, mb, bias, r2)                                      \
    do {                                                                                        \
        T hi_ = (one) + (a), lo_ = (a) - (hi_ - (one)), p_ = (one) - (a), lo2_ = ((one) - p_) - (a), pk_, q_; \
        U uh_, up_;                                                                             \
        int k_;                                                                                 \
        memcpy(&uh_, &hi_, sizeof uh_);                                                         \
        memcpy(&up_, &p_, sizeof up_);                                                          \
        k_ = (int)(uh_ >> (mb)) - (int)(up_ >> (mb));                                           \
        up_ = (U)(k_ + (bias)) << (mb);                                                         \
        memcpy(&pk_, &up_, sizeof pk_);                                                         \
        q_ = p_ * pk_; /* 2^k (1 - a) */                                                        \
        e = (T)k_;                                                                              \
        if (hi_ > (r2) * q_) q_ *= 2 * (one), pk_ *= 2 * (one), e += (one);                     \
        else if (hi_ * (r2) <= q_) q_ *= (one) / 2, pk_ *= (one) / 2, e -= (one);               \
        s = ((hi_ - q_) + (lo_ - pk_ * lo2_)) / (hi_ + q_);                                     \
    } while (0)

static double ss__atanh_pos(double a)
{
    SS__EXACT
    double s, z, z2, z4, poly, e;
    SS__ATANH_REDUCE(double, uint64_t, a, s, e, 1.0, 52, 1023, 1.4142135623730951);
    z = s * s, z2 = z * z, z4 = z2 * z2;
    poly = ((1.0 / 3 + z * (1.0 / 5)) + z2 * (1.0 / 7 + z * (1.0 / 9))) +
           z4 * (((1.0 / 11 + z * (1.0 / 13)) + z2 * (1.0 / 15 + z * (1.0 / 17))) + z4 * (1.0 / 19 + z * (1.0 / 21)));
    return e * (6.93147180369123816490e-01 / 2) + (e * (1.90821492927058770002e-10 / 2) + s * (1.0 + z * poly));
}

/* atanh(r) for |r| < 1 */
static double ss__atanh(double r) { return copysign(ss__atanh_pos(fabs(r)), r); }

/* ss_fisher_z with ss__atanh: what the LNM pipeline (and each vector lane) computes */
static double ss__fisher(double r, double z_inf)
{
    double a = fabs(r);
    if (a < 1.0) return ss__atanh(r);
    if (a == 1.0) return copysign(z_inf > 0 ? z_inf : HUGE_VAL, r);
    return a > 1.0 ? 0.0 / 0.0 : r; /* |r| > 1: NaN; NaN stays */
}

/* ss__atanh_pos in float, for the float32 pipeline, whose r carries float accuracy only (a float
   dot product): twice the lanes and half the series (to s^11, the rest < 2e-9 relative). Over
   every float in (0, 1): within 3 ulp of libm's atanh rounded to float, 97 % of them equal to it
   (checked once exhaustively; the test samples). The double one was more than half of the fold's
   time; this one made the fold ~40 % faster (9.3 -> 5.4 Mcyc a subject, interleaved harness, Zen 3).
   e ln2 / 2 in two parts (fdlibm's logf split: e ln2_hi exact for |e| <= 2^7). */
static float ss__atanhf_pos(float a)
{
    SS__EXACT
    float s, z, z2, poly, e;
    SS__ATANH_REDUCE(float, uint32_t, a, s, e, 1.0f, 23, 127, 1.41421356f);
    z = s * s, z2 = z * z;
    poly = ((1.0f / 3 + z * (1.0f / 5)) + z2 * (1.0f / 7 + z * (1.0f / 9))) + z2 * z2 * (1.0f / 11);
    return e * (6.9313812256e-01f / 2) + (e * (9.0580006145e-06f / 2) + s * (1.0f + z * poly));
}

/* ss__fisher for a float r (a float lane): z in float, infinities in double */
static double ss__fisherf(float r, double z_inf)
{
    float a = fabsf(r);
    if (a < 1.0f) return (double)copysignf(ss__atanhf_pos(a), r);
    if (a == 1.0f) return copysign(z_inf > 0 ? z_inf : HUGE_VAL, (double)r);
    return a > 1.0f ? 0.0 / 0.0 : (double)r;
}

/* How a block's products become r and z and enter the accumulators (ss_lnm): per cell
   r = (product - the voxel's mean shift x the seed's sum) x the voxel's inverse norm (NaN for a
   dead seed or a constant voxel; ss__center_plain says why the shift), the NaN rule, z, then
   Chan's update with one new value (w1 = 1/n, w2 = (n - 1)/n). In precision SS_F32 r and z are
   formed in float, in SS_F64 in double; the accumulators are double. */
typedef struct ss__fold {
    double *mean_z, *m2_z, *mean_r, *m2_r; /* the row's first cell; mean_r NULL: no r accumulator */
    const double *dm;                      /* the block's mean shifts (SS_F64) ... */
    const float *dmf;                      /* ... or in float (SS_F32) */
    double sa, w1, w2, z_inf;              /* sa: the seed's sum */
    float saf;
    int as_zero, first; /* first: the accumulators are empty (mean = value, M2 = 0) */
} ss__fold;

static void ss__fold_put(const ss__fold *f, size_t j, double r, double z)
{
    SS__EXACT
    double d;
    if (f->first) {
        f->mean_z[j] = z, f->m2_z[j] = 0.0;
        if (f->mean_r) f->mean_r[j] = r, f->m2_r[j] = 0.0;
        return;
    }
    d = z - f->mean_z[j];
    f->mean_z[j] += d * f->w1;
    f->m2_z[j] += d * d * f->w2;
    if (f->mean_r) {
        d = r - f->mean_r[j];
        f->mean_r[j] += d * f->w1;
        f->m2_r[j] += d * d * f->w2;
    }
}

static void ss__fold_cell(const ss__fold *f, size_t j, double r)
{
    double z;
    if (f->as_zero && r != r) r = 0.0;
    z = ss__fisher(r, f->z_inf);
    if (f->as_zero && z != z) z = 0.0;
    ss__fold_put(f, j, r, z);
}

static void ss__fold_cellf(const ss__fold *f, size_t j, float r)
{
    double z;
    if (f->as_zero && r != r) r = 0.0f;
    z = ss__fisherf(r, f->z_inf);
    if (f->as_zero && z != z) z = 0.0;
    ss__fold_put(f, j, (double)r, z);
}

static void ss__fold_plain(const ss__fold *f, const double *prod, const double *inv, size_t j0, size_t nb)
{
    SS__EXACT
    size_t j;
    for (j = j0; j < nb; j++) ss__fold_cell(f, j, (prod[j] - f->dm[j] * f->sa) * inv[j]);
}

static void ss__fold32_plain(const ss__fold *f, const float *prod, const float *inv, size_t j0, size_t nb)
{
    SS__EXACT
    size_t j;
    for (j = j0; j < nb; j++) ss__fold_cellf(f, j, (prod[j] - f->dmf[j] * f->saf) * inv[j]);
}

/* Voxels' series shifted by their first value, d = x - x_0 (block of nb voxels from ts, rows ld
   apart), into blk (n_t x nb, float or double, in panels: SS__AT), with their inverse norms (NaN
   when constant); mean: nb doubles (the mean of d), then nb floats (the same in float), then nb
   floats (the inverse norms in float, for the float fold). Rows in memory order, one pass: the
   one that reads them from memory stores d and sums d and d^2 in double (float32: d = x - x_0 in
   float, exact when the two are within a factor 2, as under an fMRI offset; float64: in double,
   exact). The products of d with the seeds, which are centred (to a sum s of ~0), are corrected
   in the fold: sum a_t (d_t - mean d) = sum a_t d_t - s mean d. Their rounding grows with
   |mean d| / std = |x_0 - mean| / std, ~1 for a typical sample and at most sqrt(n_t), since
   (x_0 - mean)^2 <= n_t var. With a shift that is one of the samples, sum d^2 <= (n_t + 1)
   sum (x - mean)^2, so the norm as sum d^2 - (sum d)^2 / n_t loses at most log10(n_t + 1) digits
   of a double. (A second pass that wrote x - mean from L2 was a third of the centring's time.) */
#define SS__INVF(mean, nb) ((float *)(void *)((mean) + (nb)) + (nb)) /* where the float norms lie */
static void ss__center_sums(size_t n_t, size_t nb, size_t j0, size_t j1, double *inv, double *mean)
{
    SS__EXACT
    size_t j;
    float *mf = (float *)(void *)(mean + nb), *invf = SS__INVF(mean, nb);
    for (j = j0; j < j1; j++) {
        double s = mean[j], q = inv[j] - s * (s / (double)n_t);
        mean[j] = s / (double)n_t;
        mf[j] = (float)mean[j];
        inv[j] = q > 0 ? 1.0 / sqrt(q) : 0.0 / 0.0;
        invf[j] = (float)inv[j];
    }
}

static void ss__center_plain(const float *ts, size_t n_t, size_t ld, size_t nb, void *blk, int f32, double *inv, double *mean)
{
    SS__EXACT
    size_t t, j;
    memset(mean, 0, nb * sizeof(double));
    memset(inv, 0, nb * sizeof(double));
    for (j = 0; j < nb; j++) {
        if (f32) ((float *)blk)[SS__AT(0, j, n_t)] = 0.0f;
        else ((double *)blk)[SS__AT(0, j, n_t)] = 0.0;
    }
    for (t = 1; t < n_t; t++)
        for (j = 0; j < nb; j++) {
            double d;
            if (f32) {
                float e = ts[t * ld + j] - ts[j];
                ((float *)blk)[SS__AT(t, j, n_t)] = e;
                d = e;
            } else {
                d = (double)ts[t * ld + j] - ts[j];
                ((double *)blk)[SS__AT(t, j, n_t)] = d;
            }
            mean[j] += d;
            inv[j] += d * d;
        }
    ss__center_sums(n_t, nb, 0, nb, inv, mean);
}

#if defined(SS__VECTOR)
/* The same arithmetic, lane by lane, on vectors of doubles: each lane's result equals the
   plain function's bit for bit (no reassociation; sums over t stay in order). */
#define SS__SEL(vi, mask, a, b, out)                                                            \
    do {                                                                                        \
        vi a_, b_;                                                                              \
        memcpy(&a_, &(a), sizeof a_);                                                           \
        memcpy(&b_, &(b), sizeof b_);                                                           \
        a_ = (a_ & (mask)) | (b_ & ~(mask));                                                    \
        memcpy(&(out), &a_, sizeof a_);                                                         \
    } while (0)

/* a = |r| in each lane: the sign bit (sign, per lane) cleared */
#define SS__VABS(vi, sign, r, a)                                                                \
    do {                                                                                        \
        vi b_;                                                                                  \
        memcpy(&b_, &(r), sizeof b_);                                                           \
        b_ &= ~(sign);                                                                          \
        memcpy(&(a), &b_, sizeof b_);                                                           \
    } while (0)

/* The fold's atanh r from z = atanh |r| (lanes with |r| < 1): z with r's sign there, edge
   (>= 0) with r's sign where |r| = 1, nan_ beyond; the same for double and float lanes */
#define SS__VATANH_SIGNED(vt, vi, sign, r, edge, nan_, z)                                       \
    do {                                                                                        \
        vt a_, t_;                                                                              \
        vi r_, m_, in_, one_;                                                                   \
        SS__VABS(vi, sign, r, a_);                                                              \
        in_ = a_ < 1, one_ = a_ == 1;                                                           \
        memcpy(&r_, &(r), sizeof r_);                                                           \
        memcpy(&m_, &(z), sizeof m_);                                                           \
        m_ = (m_ & ~(sign)) | (r_ & (sign));                                                    \
        memcpy(&(z), &m_, sizeof m_);                                                           \
        memcpy(&m_, &(edge), sizeof m_);                                                        \
        m_ = (m_ & ~(sign)) | (r_ & (sign));                                                    \
        memcpy(&t_, &m_, sizeof m_);                                                            \
        SS__SEL(vi, one_, t_, nan_, t_);                                                        \
        SS__SEL(vi, in_, z, t_, z);                                                             \
    } while (0)

/* Float lanes to double lanes (out = c, W of them). Not __builtin_convertvector: gcc 12 widens
   through halves and shuffles (scalar converts at 16 bytes), which made the centring bound by
   its shuffles; an initializer is one cvtps2pd with gcc and clang alike. */
#define SS__WIDEN2(vd, out, c) do { vd w_ = {c[0], c[1]}; out = w_; } while (0)
#define SS__WIDEN4(vd, out, c) do { vd w_ = {c[0], c[1], c[2], c[3]}; out = w_; } while (0)
#define SS__WIDEN8(vd, out, c) do { vd w_ = {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]}; out = w_; } while (0)

/* ss__atanh_pos (and ss__atanhf_pos) lane by lane, a in [0, 1): vT lanes of doubles (floats),
   vI integer lanes of their width; one = 1.0 (1.0f), mb and bias the exponent's position and
   bias, magic = 1.5 2^mb as an integer and as the type (e + magic read as the type is magic + e,
   for |e| < 2^(mb - 1)), r2 = sqrt(2) in the type. */
#define SS__VATANH_S(vT, vI, a, s_, e_, one, mb, bias, magic_i, magic, r2)                      \
    do {                                                                                        \
        vI bh_, bp_, up_, dn_;                                                                  \
        vT hi_, lo_, p_, lo2_, pk_, q_, h_, f_, g_, one_;                                       \
        memset(&one_, 0, sizeof one_);                                                          \
        one_ += (one);                                                                          \
        hi_ = (one) + (a);                                                                      \
        lo_ = (a) - (hi_ - (one));                                                              \
        p_ = (one) - (a);                                                                       \
        lo2_ = ((one) - p_) - (a);                                                              \
        memcpy(&bh_, &hi_, sizeof bh_);                                                         \
        memcpy(&bp_, &p_, sizeof bp_);                                                          \
        bh_ = (bh_ >> (mb)) - (bp_ >> (mb)); /* k */                                            \
        bp_ = (bh_ + (bias)) << (mb);                                                           \
        memcpy(&pk_, &bp_, sizeof pk_);                                                         \
        bh_ += (magic_i);                                                                       \
        memcpy(&e_, &bh_, sizeof e_);                                                           \
        e_ -= (magic);                                                                          \
        q_ = p_ * pk_;                                                                          \
        up_ = hi_ > (r2) * q_; /* both tests on the first q: they exclude each other */         \
        dn_ = hi_ * (r2) <= q_;                                                                 \
        f_ = one_;                                                                              \
        h_ = one_ + one_;                                                                       \
        SS__SEL(vI, up_, h_, f_, f_);                                                           \
        h_ = one_ * ((one) / 2);                                                                \
        SS__SEL(vI, dn_, h_, f_, f_);                                                           \
        h_ = one_ - one_;                                                                       \
        SS__SEL(vI, up_, one_, h_, g_);                                                         \
        h_ = -one_;                                                                             \
        SS__SEL(vI, dn_, h_, g_, g_);                                                           \
        q_ *= f_, pk_ *= f_, e_ += g_;                                                          \
        s_ = ((hi_ - q_) + (lo_ - pk_ * lo2_)) / (hi_ + q_);                                    \
    } while (0)
#define SS__VATANH_LOG(vd, s_, e_, out)                                                         \
    do {                                                                                        \
        vd z_, z2_, z4_, poly_;                                                                 \
        z_ = s_ * s_, z2_ = z_ * z_, z4_ = z2_ * z2_;                                           \
        poly_ = ((1.0 / 3 + z_ * (1.0 / 5)) + z2_ * (1.0 / 7 + z_ * (1.0 / 9))) +               \
                z4_ * (((1.0 / 11 + z_ * (1.0 / 13)) + z2_ * (1.0 / 15 + z_ * (1.0 / 17))) +    \
                       z4_ * (1.0 / 19 + z_ * (1.0 / 21)));                                     \
        out = e_ * (6.93147180369123816490e-01 / 2) + (e_ * (1.90821492927058770002e-10 / 2) + s_ * (1.0 + z_ * poly_)); \
    } while (0)

#define SS__VATANHF_LOG(vF, s_, e_, out)                                                        \
    do {                                                                                        \
        vF z_, z2_, poly_;                                                                      \
        z_ = s_ * s_, z2_ = z_ * z_;                                                            \
        poly_ = ((1.0f / 3 + z_ * (1.0f / 5)) + z2_ * (1.0f / 7 + z_ * (1.0f / 9))) + z2_ * z2_ * (1.0f / 11); \
        out = e_ * (6.9313812256e-01f / 2) + (e_ * (9.0580006145e-06f / 2) + s_ * (1.0f + z_ * poly_)); \
    } while (0)

/* ss__fold_put on W cells from i (vectors z, r of doubles; t, d scratch) */
#define SS__FOLD_PUT(i, z, r)                                                                   \
    do {                                                                                        \
        if (f->first) {                                                                         \
            memcpy(f->mean_z + (i), &(z), sizeof(z));                                           \
            memcpy(f->m2_z + (i), &zero, sizeof zero);                                          \
            if (f->mean_r) {                                                                    \
                memcpy(f->mean_r + (i), &(r), sizeof(r));                                       \
                memcpy(f->m2_r + (i), &zero, sizeof zero);                                      \
            }                                                                                   \
            break;                                                                              \
        }                                                                                       \
        memcpy(&t, f->mean_z + (i), sizeof t);                                                  \
        d = (z) - t;                                                                            \
        t += d * f->w1;                                                                         \
        memcpy(f->mean_z + (i), &t, sizeof t);                                                  \
        memcpy(&t, f->m2_z + (i), sizeof t);                                                    \
        t += d * d * f->w2;                                                                     \
        memcpy(f->m2_z + (i), &t, sizeof t);                                                    \
        if (f->mean_r) {                                                                        \
            memcpy(&t, f->mean_r + (i), sizeof t);                                              \
            d = (r) - t;                                                                        \
            t += d * f->w1;                                                                     \
            memcpy(f->mean_r + (i), &t, sizeof t);                                              \
            memcpy(&t, f->m2_r + (i), sizeof t);                                                \
            t += d * d * f->w2;                                                                 \
            memcpy(f->m2_r + (i), &t, sizeof t);                                                \
        }                                                                                       \
    } while (0)

/* The fold in chunks of 8 vectors, two loops a chunk: up to atanh's division, then the rest. A lane
   is one chain of ~170 cycles of dependent operations; with the chain cut in two the core keeps
   more vectors in flight (the fold 15 % faster in the interleaved harness; 4 or 16 vectors: 6 and
   12 %). Same operations, same bits. */
#define SS__FOLD_CHUNK 8
#define SS__FOLD_VEC(name, bytes, attr)                                                         \
    attr static void name(const ss__fold *f, const double *prod, const double *inv, size_t j0, size_t nb) \
    {                                                                                           \
        SS__EXACT                                                                               \
        typedef double vd __attribute__((vector_size(bytes)));                                  \
        typedef long long vi __attribute__((vector_size(bytes)));                               \
        enum { W = bytes / sizeof(double) };                                                    \
        size_t j;                                                                               \
        vd zero, nan_, edge;                                                                    \
        vi sign;                                                                                \
        memset(&zero, 0, sizeof zero);                                                          \
        nan_ = zero + 0.0 / 0.0;                                                                \
        edge = zero + (f->z_inf > 0 ? f->z_inf : HUGE_VAL);                                     \
        memset(&sign, 0, sizeof sign);                                                          \
        sign += -0x7fffffffffffffffll - 1; /* the sign bit in each lane */                      \
        for (j = j0; j + W <= nb;) {                                                            \
            vd rs[SS__FOLD_CHUNK], ss[SS__FOLD_CHUNK], es[SS__FOLD_CHUNK];                      \
            size_t q, nq = (nb - j) / W < SS__FOLD_CHUNK ? (nb - j) / W : SS__FOLD_CHUNK;       \
            for (q = 0; q < nq; q++) {                                                          \
                vd r, a, x, iv, dm;                                                             \
                vi in, ok;                                                                      \
                memcpy(&r, prod + j + q * W, sizeof r);                                         \
                memcpy(&iv, inv + j + q * W, sizeof iv);                                        \
                memcpy(&dm, f->dm + j + q * W, sizeof dm);                                      \
                r = (r - dm * f->sa) * iv;                                                      \
                if (f->as_zero) {                                                               \
                    ok = r == r;                                                                \
                    SS__SEL(vi, ok, r, zero, r);                                                \
                }                                                                               \
                SS__VABS(vi, sign, r, a);                                                       \
                in = a < 1.0;                                                                   \
                SS__SEL(vi, in, a, zero, x);                                                    \
                SS__VATANH_S(vd, vi, x, ss[q], es[q], 1.0, 52, 1023, 0x4338000000000000ll, 6755399441055744.0, \
                             1.4142135623730951);                                               \
                rs[q] = r;                                                                      \
            }                                                                                   \
            for (q = 0; q < nq; q++) {                                                          \
                vd r = rs[q], z, t, d;                                                          \
                vi ok;                                                                          \
                SS__VATANH_LOG(vd, ss[q], es[q], z);                                            \
                SS__VATANH_SIGNED(vd, vi, sign, r, edge, nan_, z);                              \
                if (f->as_zero) {                                                               \
                    ok = z == z;                                                                \
                    SS__SEL(vi, ok, z, zero, z);                                                \
                }                                                                               \
                SS__FOLD_PUT(j + q * W, z, r);                                                  \
            }                                                                                   \
            j += W * nq;                                                                        \
        }                                                                                       \
        ss__fold_plain(f, prod, inv, j, nb);                                                    \
    }

/* The float fold: r and z in float lanes (twice as many as double ones), the accumulators in
   double. At |r| = 1 z is +-z_inf in float when z_inf is a float (3 and 10 are), else +-inf made
   +-z_inf once widened. Under the as-zero rule a NaN r or an |r| > 1 goes straight to z = 0 (the
   lane's atanh is not used), r is zeroed only for the r accumulator: the ldk policies' fold
   ~15 % cheaper than with the rule's two selects and the widened fix-up. Chunks as above. */
#define SS__FOLD32_VEC(name, bytes, attr, widen)                                                \
    attr static void name(const ss__fold *f, const float *prod, const float *inv, size_t j0, size_t nb) \
    {                                                                                           \
        SS__EXACT                                                                               \
        typedef double vd __attribute__((vector_size(bytes)));                                  \
        typedef long long vi __attribute__((vector_size(bytes)));                               \
        typedef float vF __attribute__((vector_size(bytes)));                                   \
        typedef float vf __attribute__((vector_size(bytes / 2)));                               \
        typedef int vI __attribute__((vector_size(bytes)));                                     \
        enum { W = bytes / sizeof(double), WF = bytes / sizeof(float) };                        \
        size_t j;                                                                               \
        int fix = f->z_inf > 0 && (double)(float)f->z_inf != f->z_inf; /* z_inf not a float */  \
        vd zero, edge;                                                                          \
        vF zerof, nanf_, inff_;                                                                 \
        vi sign;                                                                                \
        vI signf;                                                                               \
        memset(&zero, 0, sizeof zero);                                                          \
        memset(&zerof, 0, sizeof zerof);                                                        \
        nanf_ = zerof + (f->as_zero ? 0.0f : (float)(0.0 / 0.0));                               \
        inff_ = zerof + (f->z_inf > 0 && !fix ? (float)f->z_inf : (float)HUGE_VAL);             \
        edge = zero + f->z_inf;                                                                 \
        memset(&sign, 0, sizeof sign);                                                          \
        sign += -0x7fffffffffffffffll - 1;                                                      \
        memset(&signf, 0, sizeof signf);                                                        \
        signf += -0x7fffffff - 1;                                                               \
        for (j = j0; j + WF <= nb;) {                                                           \
            vF rs[SS__FOLD_CHUNK], ss[SS__FOLD_CHUNK], es[SS__FOLD_CHUNK];                      \
            size_t q, h, nq = (nb - j) / WF < SS__FOLD_CHUNK ? (nb - j) / WF : SS__FOLD_CHUNK;  \
            for (q = 0; q < nq; q++) {                                                          \
                vF r, a, x, iv, dm;                                                             \
                vI in;                                                                          \
                memcpy(&r, prod + j + q * WF, sizeof r);                                        \
                memcpy(&iv, inv + j + q * WF, sizeof iv);                                       \
                memcpy(&dm, f->dmf + j + q * WF, sizeof dm);                                    \
                r = (r - dm * f->saf) * iv;                                                     \
                SS__VABS(vI, signf, r, a);                                                      \
                in = a < 1.0f;                                                                  \
                SS__SEL(vI, in, a, zerof, x);                                                   \
                SS__VATANH_S(vF, vI, x, ss[q], es[q], 1.0f, 23, 127, 0x4b400000, 12582912.0f, 1.41421356f); \
                rs[q] = r;                                                                      \
            }                                                                                   \
            for (q = 0; q < nq; q++) {                                                          \
                vF r = rs[q], z;                                                                \
                vI ok;                                                                          \
                SS__VATANHF_LOG(vF, ss[q], es[q], z);                                           \
                SS__VATANH_SIGNED(vF, vI, signf, r, inff_, nanf_, z);                           \
                if (f->as_zero && f->mean_r) {                                                  \
                    ok = r == r;                                                                \
                    SS__SEL(vI, ok, r, zerof, r);                                               \
                }                                                                               \
                for (h = 0; h < 2; h++) { /* each half in double lanes */                       \
                    vf c;                                                                       \
                    vd zd, rd, t, d;                                                            \
                    memcpy(&c, (const float *)&z + h * W, sizeof c);                            \
                    widen(vd, zd, c);                                                           \
                    memcpy(&c, (const float *)&r + h * W, sizeof c);                            \
                    widen(vd, rd, c);                                                           \
                    if (fix) { /* +-inf: |r| = 1 */                                             \
                        vi e_, m_;                                                              \
                        memcpy(&e_, &zd, sizeof e_);                                            \
                        m_ = (e_ & ~sign) == 0x7ff0000000000000ll;                              \
                        memcpy(&t, &edge, sizeof t);                                            \
                        { vi g_; memcpy(&g_, &t, sizeof g_); g_ |= e_ & sign; memcpy(&t, &g_, sizeof t); } \
                        SS__SEL(vi, m_, t, zd, zd);                                             \
                    }                                                                           \
                    SS__FOLD_PUT(j + q * WF + h * W, zd, rd);                                   \
                }                                                                               \
            }                                                                                   \
            j += WF * nq;                                                                       \
        }                                                                                       \
        ss__fold32_plain(f, prod, inv, j, nb);                                                  \
    }

/* One row r of a group: d = x - x_0 stored in the panel and summed, for WF voxels from j (float
   lanes, the sums over their two halves in double lanes), or W voxels (double lanes). */
#define SS__SHIFT_ROW32(r, widen)                                                               \
    do {                                                                                        \
        memcpy(&xF, row + (r) * ld + j, sizeof xF);                                             \
        xF -= x0F;                                                                              \
        memcpy((float *)blk + SS__AT(t + (r), j, n_t), &xF, sizeof xF);                         \
        memcpy(&c, &xF, sizeof c);                                                              \
        widen(vd, d, c);                                                                        \
        m += d, s += d * d;                                                                     \
        memcpy(&c, (const float *)&xF + W, sizeof c);                                           \
        widen(vd, d, c);                                                                        \
        m2 += d, s2 += d * d;                                                                   \
    } while (0)
#define SS__SHIFT_ROW64(r, widen)                                                               \
    do {                                                                                        \
        memcpy(&c, row + (r) * ld + j, sizeof c);                                               \
        widen(vd, d, c);                                                                        \
        d -= x0;                                                                                \
        memcpy((double *)blk + SS__AT(t + (r), j, n_t), &d, sizeof d);                          \
        m += d, s += d * d;                                                                     \
    } while (0)
/* ss__center_plain lane by lane. The rows four at a time: a voxel's sums stay in registers over
   the four (same operations in the same order as the plain loop), loaded and stored once a
   group, not once a row. The rows are runs 4 n_v bytes apart: the next group's are prefetched a
   line at a time, for a strip of SS__STRIP voxels at a time (whole rows of the block measured 8 %
   slower, strips of 32 voxels much slower, of 256 within noise of 128). */
#define SS__STRIP 128
#define SS__CENTER_VEC(name, bytes, attr, widen)                                                \
    attr static void name(const float *ts, size_t n_t, size_t ld, size_t nb, void *blk, int f32, double *inv, double *mean) \
    {                                                                                           \
        SS__EXACT                                                                               \
        typedef double vd __attribute__((vector_size(bytes)));                                  \
        typedef float vf __attribute__((vector_size(bytes / 2)));                               \
        typedef float vF __attribute__((vector_size(bytes)));                                   \
        enum { W = bytes / sizeof(double), WF = bytes / sizeof(float) };                        \
        size_t t, j, r, s0, s1, sv;                                                             \
        vd m, s, m2, s2, d, x0;                                                                 \
        vF xF, x0F;                                                                             \
        vf c;                                                                                   \
        memset(mean, 0, nb * sizeof(double));                                                   \
        memset(inv, 0, nb * sizeof(double));                                                    \
        for (s0 = 0; s0 < nb; s0 = s1) {                                                        \
            s1 = nb - s0 < SS__STRIP ? nb : s0 + SS__STRIP;                                     \
            sv = s0 + (s1 - s0) / (f32 ? WF : W) * (f32 ? WF : W);                              \
            for (j = s0; j < s1; j++) {                                                         \
                if (f32) ((float *)blk)[SS__AT(0, j, n_t)] = 0.0f;                              \
                else ((double *)blk)[SS__AT(0, j, n_t)] = 0.0;                                  \
            }                                                                                   \
            for (t = 1; t < n_t; t += 4) {                                                      \
                const float *row = ts + t * ld;                                                 \
                size_t rows = n_t - t < 4 ? n_t - t : 4;                                        \
                for (r = 4; r < 8 && t + r < n_t; r++) /* the next group, a line at a time */   \
                    for (j = s0; j < s1; j += 16) __builtin_prefetch(row + r * ld + j);         \
                for (j = s0; f32 && j < sv; j += WF) {                                          \
                    memcpy(&x0F, ts + j, sizeof x0F);                                           \
                    memcpy(&m, mean + j, sizeof m);                                             \
                    memcpy(&s, inv + j, sizeof s);                                              \
                    memcpy(&m2, mean + j + W, sizeof m2);                                       \
                    memcpy(&s2, inv + j + W, sizeof s2);                                        \
                    if (rows == 4) { /* unrolled: no loop or test per row */                    \
                        SS__SHIFT_ROW32(0, widen);                                              \
                        SS__SHIFT_ROW32(1, widen);                                              \
                        SS__SHIFT_ROW32(2, widen);                                              \
                        SS__SHIFT_ROW32(3, widen);                                              \
                    } else                                                                      \
                        for (r = 0; r < rows; r++) SS__SHIFT_ROW32(r, widen);                   \
                    memcpy(mean + j, &m, sizeof m);                                             \
                    memcpy(inv + j, &s, sizeof s);                                              \
                    memcpy(mean + j + W, &m2, sizeof m2);                                       \
                    memcpy(inv + j + W, &s2, sizeof s2);                                        \
                }                                                                               \
                for (j = s0; !f32 && j < sv; j += W) {                                          \
                    memcpy(&c, ts + j, sizeof c);                                               \
                    widen(vd, x0, c);                                                           \
                    memcpy(&m, mean + j, sizeof m);                                             \
                    memcpy(&s, inv + j, sizeof s);                                              \
                    if (rows == 4) {                                                            \
                        SS__SHIFT_ROW64(0, widen);                                              \
                        SS__SHIFT_ROW64(1, widen);                                              \
                        SS__SHIFT_ROW64(2, widen);                                              \
                        SS__SHIFT_ROW64(3, widen);                                              \
                    } else                                                                      \
                        for (r = 0; r < rows; r++) SS__SHIFT_ROW64(r, widen);                   \
                    memcpy(mean + j, &m, sizeof m);                                             \
                    memcpy(inv + j, &s, sizeof s);                                              \
                }                                                                               \
                for (j = sv; j < s1; j++)                                                       \
                    for (r = 0; r < rows; r++) {                                                \
                        double e;                                                               \
                        if (f32) {                                                              \
                            float e32 = row[r * ld + j] - ts[j];                                \
                            ((float *)blk)[SS__AT(t + r, j, n_t)] = e32;                        \
                            e = e32;                                                            \
                        } else {                                                                \
                            e = (double)row[r * ld + j] - ts[j];                                \
                            ((double *)blk)[SS__AT(t + r, j, n_t)] = e;                         \
                        }                                                                       \
                        mean[j] += e;                                                           \
                        inv[j] += e * e;                                                        \
                    }                                                                           \
            }                                                                                   \
            ss__center_sums(n_t, nb, s0, s1, inv, mean);                                        \
        }                                                                                       \
    }
SS__FOLD_VEC(ss__fold_v16, 16, )
SS__FOLD32_VEC(ss__fold32_v16, 16, , SS__WIDEN2)
SS__CENTER_VEC(ss__center_v16, 16, , SS__WIDEN2)
#if defined(SS__X86_WIDE)
SS__FOLD_VEC(ss__fold_avx2, 32, SS__AVX2)
SS__FOLD32_VEC(ss__fold32_avx2, 32, SS__AVX2, SS__WIDEN4)
SS__CENTER_VEC(ss__center_avx2, 32, SS__AVX2, SS__WIDEN4)
SS__FOLD_VEC(ss__fold_avx512, 64, SS__AVX512)
SS__FOLD32_VEC(ss__fold32_avx512, 64, SS__AVX512, SS__WIDEN8)
SS__CENTER_VEC(ss__center_avx512, 64, SS__AVX512, SS__WIDEN8)
#endif
#endif

#if defined(STAT_STREAM_USE_CBLAS)
#include <cblas.h>
static void ss__sgemm(size_t m, size_t n, size_t k, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)k, b, SS__PANEL, 0.0f, c, (int)n);
}
static void ss__dgemm(size_t m, size_t n, size_t k, const double *a, const double *b, double *c)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0, a, (int)k, b, SS__PANEL, 0.0, c, (int)n);
}
#endif

/* The kernels of one run: the widest this CPU has (GCC/clang vector extensions), else plain C */
typedef struct ss__kernels {
    ss__gemm32_fn gemm32;
    ss__gemm64_fn gemm64;
    void (*center)(const float *ts, size_t n_t, size_t ld, size_t nb, void *blk, int f32, double *inv, double *mean);
    void (*fold)(const ss__fold *f, const double *prod, const double *inv, size_t j0, size_t nb);
    void (*fold32)(const ss__fold *f, const float *prod, const float *inv, size_t j0, size_t nb);
} ss__kernels;

static ss__kernels ss__pick_kernels(void)
{
    ss__kernels k;
    k.gemm32 = ss__gemm32_plain, k.gemm64 = ss__gemm64_plain, k.center = ss__center_plain, k.fold = ss__fold_plain;
    k.fold32 = ss__fold32_plain;
#if defined(SS__VECTOR)
    k.gemm32 = ss__gemm32_v16, k.gemm64 = ss__gemm64_v16, k.center = ss__center_v16, k.fold = ss__fold_v16;
    k.fold32 = ss__fold32_v16;
#if defined(SS__X86_WIDE)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        k.gemm32 = ss__gemm32_avx512, k.gemm64 = ss__gemm64_avx512, k.center = ss__center_avx512, k.fold = ss__fold_avx512;
        k.fold32 = ss__fold32_avx512;
    } else if (__builtin_cpu_supports("avx2")) {
        k.gemm32 = ss__gemm32_avx2, k.gemm64 = ss__gemm64_avx2, k.center = ss__center_avx2, k.fold = ss__fold_avx2;
        k.fold32 = ss__fold32_avx2;
    }
#endif
#endif
#if defined(STAT_STREAM_USE_CBLAS)
    k.gemm32 = ss__sgemm, k.gemm64 = ss__dgemm;
#endif
    return k;
}

/* The correlation's scratch: shared (the seeds' normalised series L x T, a flag per seed, their
   raw series in double L x T, the sums of the normalised series, L doubles) and per worker (a centred block T x B in whole panels, its inverse
   norms and means (2 x B doubles, 2 x B floats), the products L x B). at: the parts' offsets. 0 when
   the sizes overflow. mark: a block laid out so, whose bytes after each part ASan is told to stop
   (TP_REDZONE); NULL only counts. */
static size_t ss__corr_bytes(size_t n_t, size_t n_v, size_t L, int precision, int worker, size_t *at, char *mark)
{
    size_t el = precision == SS_F32 ? sizeof(float) : sizeof(double), blk = n_v < SS__BLOCK ? n_v : SS__BLOCK, total = 0, i;
    size_t sz[4] = {0, 0, 0, 0};
    if (!worker) {
        if (!tp_size_mul(L, n_t, &sz[0]) || !tp_size_mul(sz[0], el, &sz[0])) return 0;
        sz[1] = L;
        if (!tp_size_mul(L, n_t, &sz[2]) || !tp_size_mul(sz[2], sizeof(double), &sz[2])) return 0;
        if (!tp_size_mul(L, sizeof(double), &sz[3])) return 0;
    } else {
        size_t panels = (blk + SS__PANEL - 1) / SS__PANEL * SS__PANEL;
        if (!tp_size_mul(n_t, panels * el, &sz[0]) || !tp_size_mul(L, blk * el, &sz[2])) return 0;
        sz[1] = 2 * blk * sizeof(double) + 2 * blk * sizeof(float);
    }
    for (i = 0; i < 4; i++) { /* under ASan 64 more bytes each, marked with the slack in a block at mark */
        size_t start = total;
        if (at) at[i] = total;
        if (sz[i] > ((size_t)-1) - 128 || !tp_size_add(total, (sz[i] + 63) / 64 * 64 + TP_REDZONE, &total)) return 0;
        if (mark) TP_POISON(mark + start + sz[i], total - start - sz[i]);
    }
    return total;
}

SSDEF size_t ss_seedcorr_bytes(size_t n_t, size_t n_v, size_t n_seeds, int precision)
{
    size_t a = ss__corr_bytes(n_t, n_v, n_seeds, precision, 0, NULL, NULL), b = ss__corr_bytes(n_t, n_v, n_seeds, precision, 1, NULL, NULL);
    return a && b && a + b > a ? a + b : 0;
}

static ss_result ss__fail(char *err, size_t cap, ss_result r, const char *what)
{
    if (err && cap) snprintf(err, cap, "stat_stream: %s", what);
    return r;
}

/* One subject's correlation as the workers share it */
typedef struct ss__corr {
    const float *ts;
    size_t n_t, n_v, ld, L;
    int precision;
    char *shared; /* ss__corr_bytes(..., 0) */
    size_t at[4];
    ss__kernels k;
} ss__corr;

/* A worker's scratch */
typedef struct ss__work {
    void *blk, *prod;
    double *inv, *mean;
} ss__work;

static ss__work ss__work_at(const ss__corr *c, char *mem)
{
    size_t at[4];
    ss__work w;
    ss__corr_bytes(c->n_t, c->n_v, c->L, c->precision, 1, at, mem);
    w.blk = mem + at[0], w.inv = (double *)(void *)(mem + at[1]), w.prod = mem + at[2];
    w.mean = w.inv + (c->n_v < SS__BLOCK ? c->n_v : SS__BLOCK);
    return w;
}

/* Checks the arguments shared by ss_seedcorr and ss_lnm; SS_OK or SS_ERR_ARG with a message */
static ss_result ss__check_seeds(const ss_seeds *seeds, size_t n_t, size_t n_v, char *err, size_t errcap)
{
    size_t l, i;
    char msg[160];
    if (!seeds || !seeds->voxels || !seeds->offsets || !seeds->n_seeds || !n_v)
        return ss__fail(err, errcap, SS_ERR_ARG, "NULL pointer or zero size");
    if (n_t < 2) return ss__fail(err, errcap, SS_ERR_ARG, "fewer than 2 time points: no correlation");
    for (l = 0; l < seeds->n_seeds; l++) {
        size_t a = seeds->offsets[l], b = seeds->offsets[l + 1];
        if ((l == 0 && a != 0) || b <= a) {
            snprintf(msg, sizeof msg, "seed %zu has no voxel (offsets must start at 0 and increase)", l);
            return ss__fail(err, errcap, SS_ERR_ARG, msg);
        }
        for (i = a; i < b; i++)
            if (seeds->voxels[i] < 0 || (uint64_t)seeds->voxels[i] >= (uint64_t)n_v) {
                snprintf(msg, sizeof msg, "seed %zu: voxel %lld is outside [0, %zu)", l, (long long)seeds->voxels[i], n_v);
                return ss__fail(err, errcap, SS_ERR_ARG, msg);
            }
    }
    return SS_OK;
}

#define SS__SEED_ROWS 8 /* rows per item of the seeds' phase */
/* The raw series (the mean of its voxels) of every seed for rows t0 .. t1 - 1, into the shared
   sums (L x n_t doubles). Row by row, all seeds at once: the seeds' voxels lie all over a row,
   and one seed at a time walked every row's pages once per seed (seeds took a fifth of a
   subject's time that way, an eighth now). The gather waits for misses (random voxels touch
   half a row's lines): asking for the next row's lines as well cut it by 9-22 % (interleaved
   harness, Zen 3); two or three rows ahead, less. */
static void ss__seed_rows(const ss__corr *c, const ss_seeds *seeds, size_t t0, size_t t1)
{
    double *sums = (double *)(void *)(c->shared + c->at[2]);
    size_t t, l, i;
    for (t = t0; t < t1; t++) {
        const float *row = c->ts + t * c->ld, *next = t + 1 < c->n_t ? row + c->ld : row;
        for (l = 0; l < c->L; l++) {
            size_t a = seeds->offsets[l], b = seeds->offsets[l + 1];
            double s = 0;
            for (i = a; i < b; i++) {
                SS__PREFETCH(next + seeds->voxels[i]); /* the misses of two rows at once */
                s += row[seeds->voxels[i]];
            }
            sums[l * c->n_t + t] = s / (double)(b - a);
        }
    }
}

/* Seed l's series centred and divided by its norm, into the shared scratch in the products'
   precision, and the sum of what was stored (~0: for the voxels' shift, ss__center_plain); a
   constant seed is flagged dead. */
static void ss__seed_finish(const ss__corr *c, size_t l)
{
    size_t t, el = c->precision == SS_F32 ? sizeof(float) : sizeof(double);
    double *x = (double *)(void *)(c->shared + c->at[2]) + l * c->n_t, mean = 0, ss = 0, inv, sum = 0;
    void *dst = c->shared + c->at[0] + l * c->n_t * el;
    for (t = 0; t < c->n_t; t++) mean += x[t];
    mean /= (double)c->n_t;
    for (t = 0; t < c->n_t; t++) {
        x[t] -= mean;
        ss += x[t] * x[t];
    }
    inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
    for (t = 0; t < c->n_t; t++) {
        if (c->precision == SS_F32) sum += ((float *)dst)[t] = (float)(x[t] * inv);
        else sum += ((double *)dst)[t] = x[t] * inv;
    }
    ((unsigned char *)c->shared + c->at[1])[l] = ss > 0;
    ((double *)(void *)(c->shared + c->at[3]))[l] = sum;
}

/* Voxels v0 .. v0 + nb - 1: centred, their inverse norms, the products with every seed */
static void ss__corr_block(const ss__corr *c, const ss__work *w, size_t v0, size_t nb)
{
    c->k.center(c->ts + v0, c->n_t, c->ld, nb, w->blk, c->precision == SS_F32, w->inv, w->mean);
    if (c->precision == SS_F32)
        c->k.gemm32(c->L, nb, c->n_t, (const float *)(void *)(c->shared + c->at[0]), (const float *)w->blk, (float *)w->prod);
    else
        c->k.gemm64(c->L, nb, c->n_t, (const double *)(void *)(c->shared + c->at[0]), (const double *)w->blk, (double *)w->prod);
}

SSDEF ss_result ss_seedcorr(tp_pool *pool, const float *ts, size_t n_t, size_t n_v, size_t ld, const ss_seeds *seeds,
                            int precision, double *r, size_t ldr, char *err, size_t errcap)
{
    size_t bytes, shared, l, v0, el = precision == SS_F32 ? sizeof(float) : sizeof(double);
    tp_pool *own = NULL;
    tp_result tr = TP_OK;
    ss__corr c;
    ss__work w;
    ss_result res;
    if (err && errcap) err[0] = 0;
    if (!ts || !r) return ss__fail(err, errcap, SS_ERR_ARG, "NULL pointer or zero size");
    if ((res = ss__check_seeds(seeds, n_t, n_v, err, errcap)) != SS_OK) return res;
    if (ld < n_v || ldr < n_v) return ss__fail(err, errcap, SS_ERR_ARG, "row strides must be >= n_v");
    if (precision != SS_F32 && precision != SS_F64) return ss__fail(err, errcap, SS_ERR_ARG, "precision must be SS_F32 or SS_F64");
    if (!(bytes = ss_seedcorr_bytes(n_t, n_v, seeds->n_seeds, precision)))
        return ss__fail(err, errcap, SS_ERR_OVERFLOW, "the sizes overflow");
    if (!pool && !(pool = own = tp_create(NULL, &tr))) return ss__fail(err, errcap, ss__from_tp(tr), "no memory for a pool");
    memset(&c, 0, sizeof c);
    c.ts = ts, c.n_t = n_t, c.n_v = n_v, c.ld = ld, c.L = seeds->n_seeds, c.precision = precision, c.k = ss__pick_kernels();
    shared = ss__corr_bytes(n_t, n_v, c.L, precision, 0, c.at, NULL);
    if (!(c.shared = (char *)tp_alloc_at(pool, bytes, 0, __FILE__, __LINE__, &tr))) {
        if (own) tp_destroy(own);
        return ss__fail(err, errcap, ss__from_tp(tr), "no memory for the correlation's scratch");
    }
    ss__corr_bytes(n_t, n_v, c.L, precision, 0, NULL, c.shared);
    w = ss__work_at(&c, c.shared + shared);
    ss__seed_rows(&c, seeds, 0, n_t);
    for (l = 0; l < c.L; l++) ss__seed_finish(&c, l);
    for (v0 = 0; v0 < n_v; v0 += SS__BLOCK) {
        size_t nb = n_v - v0 < SS__BLOCK ? n_v - v0 : SS__BLOCK, j;
        ss__corr_block(&c, &w, v0, nb);
        for (l = 0; l < c.L; l++) {
            const char *p = (const char *)w.prod + l * nb * el;
            double *dst = r + l * ldr + v0, sa = ((const double *)(const void *)(c.shared + c.at[3]))[l];
            int live = ((const unsigned char *)c.shared + c.at[1])[l];
            for (j = 0; j < nb; j++) {
                double v = precision == SS_F32 ? (double)((const float *)(const void *)p)[j] : ((const double *)(const void *)p)[j];
                dst[j] = live ? (v - w.mean[j] * sa) * w.inv[j] : 0.0 / 0.0;
            }
        }
    }
    tp_free(pool, c.shared);
    if (own) tp_destroy(own);
    return SS_OK;
}

/* ---- >>lnm pipeline ---------------------------------------------------------------------------- */

static int ss__policy_nan(int policy) { return policy == SS_POLICY_STRICT ? SS_NAN_PROPAGATE : SS_NAN_AS_ZERO; }

/* Bytes of one accumulator as ss_moments_create requests them */
static size_t ss__moments_bytes(size_t nf, int policy)
{
    return (sizeof(ss_moments) + 63) / 64 * 64 + nf * (2 * sizeof(double) + (policy == SS_NAN_SKIP ? sizeof(uint64_t) : 0));
}

static int ss__threads(const ss_lnm_desc *d)
{
#if defined(SS_NO_THREADS)
    (void)d;
    return 1;
#else
    return d->n_threads > 1 ? d->n_threads : 1;
#endif
}

/* reading ahead needs a second worker and a second subject */
static int ss__ahead(const ss_lnm_desc *d) { return d->read && d->read_ahead && ss__threads(d) > 1 && d->n_subjects > 1; }

SSDEF size_t ss_lnm_estimate_bytes(const ss_lnm_desc *d)
{
    size_t lv, slab, acc, shared, worker, total;
    if (!d || !d->seeds || !d->n_t || !d->n_v || !d->seeds->n_seeds || d->n_threads < 0) return 0;
    if (!tp_size_mul(d->seeds->n_seeds, d->n_v, &lv) || !tp_size_mul(d->n_t, d->n_v, &slab) ||
        !tp_size_mul(slab, sizeof(float), &slab) || lv > ((size_t)-1) / 64)
        return 0;
    shared = ss__corr_bytes(d->n_t, d->n_v, d->seeds->n_seeds, d->precision, 0, NULL, NULL);
    worker = ss__corr_bytes(d->n_t, d->n_v, d->seeds->n_seeds, d->precision, 1, NULL, NULL);
    if (!shared || !worker || !tp_size_mul(worker, (size_t)ss__threads(d), &worker)) return 0;
    acc = (d->skip_avg_r ? 1 : 2) * ss__moments_bytes(lv, ss__policy_nan(d->policy));
    if (ss__ahead(d) && !tp_size_mul(slab, 2, &slab)) return 0;
    if (!d->read) slab = 0; /* subjects shown in place */
    /* the slab(s), the accumulators, the correlation's shared and per-worker scratch */
    if (!tp_size_add(slab, acc, &total) || !tp_size_add(total, shared, &total) || !tp_size_add(total, worker, &total)) return 0;
    return total;
}

SSDEF ss_result ss_lnm_finalize(const ss_moments *z, const ss_moments *r, int policy, const ss_lnm_maps *out)
{
    ss_maps m;
    ss_finalize_opts o;
    size_t i, nf;
    ss_result res;
    if (!z || !out || policy < SS_POLICY_STRICT || policy > SS_POLICY_LDK_SINGLE) return SS_ERR_ARG;
    memset(&m, 0, sizeof m);
    memset(&o, 0, sizeof o);
    o.ddof = o.ddof_t = policy == SS_POLICY_LDK ? 0 : 1;
    o.t_zero_se = policy == SS_POLICY_STRICT ? SS_T_ZERO_SE_NAN : SS_T_ZERO_SE_ZERO;
    m.mean = out->mean_z ? out->mean_z : out->mean_r;
    m.std = out->std_z;
    m.t = out->t;
    m.p = out->p;
    if ((res = ss_moments_finalize(z, &o, &m)) != SS_OK) return res;
    nf = ss_moments_features(z);
    if (out->mean_r)
        for (i = 0; i < nf; i++) out->mean_r[i] = tanh(m.mean[i]);
    if (r && out->avg_r) {
        memset(&m, 0, sizeof m);
        m.mean = out->avg_r;
        return ss_moments_finalize(r, NULL, &m);
    }
    return SS_OK;
}

/* One subject inside ss_lnm: the correlation and the accumulators its blocks fold into. Its
   items: the seeds' raw series, SS__SEED_ROWS rows each (phase 0), then the blocks of voxels
   (phase 1); between them the caller finishes the seeds. */
typedef struct ss__read {  /* a subject read by a worker (read_ahead) */
    const ss_lnm_desc *d;
    size_t k;
    float *slab;
    int rc;
    char msg[200];
} ss__read;

typedef struct ss__lnm_job {
    ss__corr c;
    const ss_seeds *seeds;
    ss_moments *z, *r;
    ss__fold f;     /* the subject's weights and rules; the row pointers are set per block */
    int phase;
    ss__read *next; /* phase 1's item 0 reads the next subject into the other slab; NULL: none */
} ss__lnm_job;

/* Block b of the subject: its r, z folded into every seed's cells for those voxels */
static void ss__lnm_block(const ss__lnm_job *job, const ss__work *w, size_t b)
{
    const ss__corr *c = &job->c;
    size_t v0 = b * SS__BLOCK, nb = c->n_v - v0 < SS__BLOCK ? c->n_v - v0 : SS__BLOCK, l, j;
    const unsigned char *live = (const unsigned char *)c->shared + c->at[1];
    const double *sa = (const double *)(const void *)(c->shared + c->at[3]);
    ss__fold f = job->f;
    ss__corr_block(c, w, v0, nb);
    f.dm = w->mean, f.dmf = (const float *)(const void *)(w->mean + nb);
    for (l = 0; l < c->L; l++) {
        size_t cell = l * c->n_v + v0;
        f.sa = sa[l], f.saf = (float)sa[l];
        f.mean_z = job->z->mean + cell, f.m2_z = job->z->m2 + cell;
        if (job->r) f.mean_r = job->r->mean + cell, f.m2_r = job->r->m2 + cell;
        if (!live[l])
            for (j = 0; j < nb; j++) ss__fold_cell(&f, j, 0.0 / 0.0);
        else if (c->precision == SS_F32)
            c->k.fold32(&f, (const float *)w->prod + l * nb, SS__INVF(w->mean, nb), 0, nb);
        else
            c->k.fold(&f, (const double *)w->prod + l * nb, w->inv, 0, nb);
    }
}

static int ss__read_subject(const ss_lnm_desc *d, size_t k, float *slab, char *msg, size_t cap)
{
    msg[0] = 0;
    return d->read(d->read_user, k, slab, msg, cap);
}

static ss_result ss__read_failed(const ss__read *r, char *err, size_t errcap)
{
    char full[260];
    snprintf(full, sizeof full, "subject %zu: %s", r->k, r->msg[0] ? r->msg : "the reader failed");
    return ss__fail(err, errcap, SS_ERR_IO, full);
}

static void ss__lnm_item(const ss__lnm_job *job, const ss__work *w, size_t i)
{
    ss__read *nx = job->next;
    if (job->phase == 0) {
        size_t t1 = (i + 1) * SS__SEED_ROWS < job->c.n_t ? (i + 1) * SS__SEED_ROWS : job->c.n_t;
        ss__seed_rows(&job->c, job->seeds, i * SS__SEED_ROWS, t1);
    } else if (!nx) ss__lnm_block(job, w, i);
    else if (i > 0) ss__lnm_block(job, w, i - 1);
    else nx->rc = ss__read_subject(nx->d, nx->k, nx->slab, nx->msg, sizeof nx->msg);
}

#if !defined(SS_NO_THREADS)
#include <pthread.h>
/* Workers over the items of one subject at a time; each cell is folded by one worker per
   subject, subjects in order, so the maps do not depend on the number of workers. */
/* Two phases a subject, each begun and ended by a wake-up: the waiting side first spins on the
   word (~25,000 pauses, ~0.7 ms on this Zen 3) before it sleeps on the condition variable, which
   took ~0.3 ms a subject to wake a worker on this VM (seeds' phase 2.2-2.6 -> 1.9-2.1 ms a subject,
   a run ~4 % faster, two workers). The words are written under the mutex, atomically. */
#if defined(__GNUC__)
#define SS__ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define SS__ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define SS__ATOMIC_SUB(p) __atomic_sub_fetch((p), 1, __ATOMIC_ACQ_REL)
#if defined(__x86_64__) || defined(__i386__)
#define SS__PAUSE() __builtin_ia32_pause()
#else
#define SS__PAUSE() ((void)0)
#endif
#define SS__SPIN(cond)                                                                          \
    do {                                                                                        \
        int spin_;                                                                              \
        for (spin_ = 0; spin_ < 25000 && (cond); spin_++) SS__PAUSE();                          \
    } while (0)
#else
#define SS__ATOMIC_LOAD(p) (*(p))
#define SS__ATOMIC_STORE(p, v) (*(p) = (v))
#define SS__ATOMIC_SUB(p) (--*(p))
#define SS__SPIN(cond) ((void)0)
#endif
typedef struct ss__team {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    const ss__lnm_job *job;
    ss__work *work;
    size_t round, next, n_blocks;
    int busy, quit;
} ss__team;

typedef struct ss__worker_arg {
    ss__team *team;
    int id;
} ss__worker_arg;

static void ss__team_blocks(ss__team *tm, int id)
{
    for (;;) {
        size_t b;
        pthread_mutex_lock(&tm->mu);
        b = tm->next < tm->n_blocks ? tm->next++ : tm->n_blocks;
        pthread_mutex_unlock(&tm->mu);
        if (b == tm->n_blocks) break;
        ss__lnm_item(tm->job, &tm->work[id], b);
    }
    pthread_mutex_lock(&tm->mu);
    if (SS__ATOMIC_SUB(&tm->busy) == 0) pthread_cond_broadcast(&tm->done);
    pthread_mutex_unlock(&tm->mu);
}

static void *ss__worker(void *p)
{
    ss__worker_arg *a = (ss__worker_arg *)p;
    ss__team *tm = a->team;
    size_t seen = 0;
    for (;;) {
        SS__SPIN(SS__ATOMIC_LOAD(&tm->round) == seen);
        pthread_mutex_lock(&tm->mu);
        while (tm->round == seen && !tm->quit) pthread_cond_wait(&tm->go, &tm->mu);
        seen = tm->round;
        if (tm->quit) {
            pthread_mutex_unlock(&tm->mu);
            return NULL;
        }
        pthread_mutex_unlock(&tm->mu);
        ss__team_blocks(tm, a->id);
    }
}
#endif

/* The items of the job's phase, by n workers (worker 0 is the caller) */
static void ss__lnm_phase(const ss__lnm_job *job, ss__work *work, void *team, int n)
{
    size_t b, n_blocks = job->phase == 0 ? (job->c.n_t + SS__SEED_ROWS - 1) / SS__SEED_ROWS
                                         : (job->c.n_v + SS__BLOCK - 1) / SS__BLOCK + (job->next != NULL);
#if !defined(SS_NO_THREADS)
    ss__team *tm = (ss__team *)team;
    if (n > 1) {
        pthread_mutex_lock(&tm->mu);
        tm->job = job, tm->next = 0, tm->n_blocks = n_blocks;
        SS__ATOMIC_STORE(&tm->busy, n);
        SS__ATOMIC_STORE(&tm->round, tm->round + 1);
        pthread_cond_broadcast(&tm->go);
        pthread_mutex_unlock(&tm->mu);
        ss__team_blocks(tm, 0);
        SS__SPIN(SS__ATOMIC_LOAD(&tm->busy) != 0);
        pthread_mutex_lock(&tm->mu);
        while (tm->busy) pthread_cond_wait(&tm->done, &tm->mu);
        pthread_mutex_unlock(&tm->mu);
        return;
    }
#endif
    (void)team, (void)n;
    for (b = 0; b < n_blocks; b++) ss__lnm_item(job, &work[0], b);
}

/* Starts n - 1 workers (fewer when the system refuses threads: the run then uses those it got) */
static int ss__team_start(void *team, void *threads, void *args, ss__work *work, int n)
{
#if !defined(SS_NO_THREADS)
    ss__team *tm = (ss__team *)team;
    pthread_t *th = (pthread_t *)threads;
    ss__worker_arg *a = (ss__worker_arg *)args;
    int i;
    memset(tm, 0, sizeof *tm);
    tm->work = work;
    if (n < 2) return 1;
    pthread_mutex_init(&tm->mu, NULL);
    pthread_cond_init(&tm->go, NULL);
    pthread_cond_init(&tm->done, NULL);
    for (i = 1; i < n; i++) {
        a[i].team = tm, a[i].id = i;
        if (pthread_create(&th[i], NULL, ss__worker, &a[i]) != 0) break;
    }
    return i;
#else
    (void)team, (void)threads, (void)args, (void)work, (void)n;
    return 1;
#endif
}

static void ss__team_stop(void *team, void *threads, int n)
{
#if !defined(SS_NO_THREADS)
    ss__team *tm = (ss__team *)team;
    pthread_t *th = (pthread_t *)threads;
    int i;
    if (n < 2) return;
    pthread_mutex_lock(&tm->mu);
    tm->quit = 1;
    pthread_cond_broadcast(&tm->go);
    pthread_mutex_unlock(&tm->mu);
    for (i = 1; i < n; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&tm->mu);
    pthread_cond_destroy(&tm->go);
    pthread_cond_destroy(&tm->done);
#else
    (void)team, (void)threads, (void)n;
#endif
}

SSDEF ss_result ss_lnm(const ss_lnm_desc *d, const ss_lnm_maps *out, ss_lnm_state *state, char *err, size_t errcap)
{
    enum { MAX_WORKERS = 64 };
    tp_pool *pool, *own = NULL;
    tp_result tr = TP_OK;
    ss_moments *zacc = NULL, *racc = NULL;
    float *slab = NULL, *slabs[2];
    char *scratch = NULL;
    size_t L, lv, k, l, shared, per, slab_bytes;
    int i, n = 1, ahead;
    ss__lnm_job job;
    ss__read next;
    ss__work work[MAX_WORKERS];
#if !defined(SS_NO_THREADS)
    ss__team team;
    pthread_t threads[MAX_WORKERS];
    ss__worker_arg args[MAX_WORKERS];
#else
    char team, threads, args;
#endif
    ss_result res = SS_OK;
    if (err && errcap) err[0] = 0;
    if (state) state->z = state->r = NULL;
    if (!d || (!out && !state) || !d->seeds || !d->n_subjects)
        return ss__fail(err, errcap, SS_ERR_ARG, "NULL desc, maps or seeds, or no subjects");
    if (!d->read == !d->view) return ss__fail(err, errcap, SS_ERR_ARG, "give exactly one of read and view");
    if (d->policy < SS_POLICY_STRICT || d->policy > SS_POLICY_LDK_SINGLE) return ss__fail(err, errcap, SS_ERR_ARG, "policy must be one of SS_POLICY_*");
    if (d->precision != SS_F32 && d->precision != SS_F64) return ss__fail(err, errcap, SS_ERR_ARG, "precision must be SS_F32 or SS_F64");
    if (d->n_threads < 0 || d->n_threads > MAX_WORKERS) return ss__fail(err, errcap, SS_ERR_ARG, "n_threads must be 0 .. 64");
    if (d->skip_avg_r && out && out->avg_r) return ss__fail(err, errcap, SS_ERR_ARG, "avg_r asked for with skip_avg_r set");
    if ((res = ss__check_seeds(d->seeds, d->n_t, d->n_v, err, errcap)) != SS_OK) return res;
    if (!ss_lnm_estimate_bytes(d)) return ss__fail(err, errcap, SS_ERR_OVERFLOW, "the sizes overflow");
    L = d->seeds->n_seeds;
    lv = L * d->n_v;
    memset(&job, 0, sizeof job);
    job.c.n_t = d->n_t, job.c.n_v = d->n_v, job.c.ld = d->n_v, job.c.L = L, job.c.precision = d->precision;
    job.c.k = ss__pick_kernels();
    job.seeds = d->seeds;
    job.f.as_zero = ss__policy_nan(d->policy) == SS_NAN_AS_ZERO;
    job.f.z_inf = d->policy == SS_POLICY_STRICT ? 0.0 : d->policy == SS_POLICY_LDK_SINGLE ? 10.0 : 3.0;
    shared = ss__corr_bytes(d->n_t, d->n_v, L, d->precision, 0, job.c.at, NULL);
    per = ss__corr_bytes(d->n_t, d->n_v, L, d->precision, 1, NULL, NULL);
    n = ss__threads(d);
    ahead = ss__ahead(d);
    slab_bytes = d->n_t * d->n_v * sizeof(float);
    pool = d->pool;
    if (!pool && !(pool = own = tp_create(NULL, &tr))) return ss__fail(err, errcap, ss__from_tp(tr), "no memory for a pool");
    if (d->read) slab = (float *)tp_alloc_at(pool, (ahead ? 2 : 1) * slab_bytes, 0, __FILE__, __LINE__, &tr);
    scratch = slab || d->view ? (char *)tp_alloc_at(pool, shared + (size_t)n * per, 0, __FILE__, __LINE__, &tr) : NULL;
    if ((d->read && !slab) || !scratch) {
        res = ss__fail(err, errcap, ss__from_tp(tr), "no memory for a subject and the correlation's scratch");
        goto done;
    }
    slabs[0] = slab, slabs[1] = ahead ? slab + d->n_t * d->n_v : slab;
    job.c.shared = scratch;
    ss__corr_bytes(d->n_t, d->n_v, L, d->precision, 0, NULL, scratch);
    for (i = 0; i < n; i++) work[i] = ss__work_at(&job.c, scratch + shared + (size_t)i * per);
    /* states handed to the caller must outlive a private pool: they then get their own */
    if ((res = ss_moments_create(lv, ss__policy_nan(d->policy), own && state ? NULL : pool, &zacc)) != SS_OK ||
        (!d->skip_avg_r && (res = ss_moments_create(lv, ss__policy_nan(d->policy), own && state ? NULL : pool, &racc)) != SS_OK)) {
        ss__fail(err, errcap, res, "no memory for the accumulators");
        goto done;
    }
    job.z = zacc, job.r = racc;
    n = ss__team_start(&team, &threads, &args, work, n);
    next.d = d, next.rc = 0;
    for (k = 0; k < d->n_subjects; k++) {
        job.c.ts = slabs[k % 2];
        if (d->view) {
            next.k = k, next.msg[0] = 0;
            next.rc = (job.c.ts = d->view(d->read_user, k, next.msg, sizeof next.msg)) == NULL;
        } else if (k == 0 || !ahead)
            next.k = k, next.rc = ss__read_subject(d, k, slabs[k % 2], next.msg, sizeof next.msg);
        if (next.rc != 0) {
            res = ss__read_failed(&next, err, errcap);
            break;
        }
        next.k = k + 1, next.slab = slabs[(k + 1) % 2];
        job.next = ahead && k + 1 < d->n_subjects ? &next : NULL;
        job.f.first = k == 0;
        job.f.w1 = 1.0 / (double)(k + 1);
        job.f.w2 = (double)k / (double)(k + 1);
        job.phase = 0;
        ss__lnm_phase(&job, work, &team, n);
        for (l = 0; l < job.c.L; l++) ss__seed_finish(&job.c, l);
        job.phase = 1;
        ss__lnm_phase(&job, work, &team, n);
        zacc->count++;
        if (racc) racc->count++;
        if (next.rc != 0) {
            res = ss__read_failed(&next, err, errcap);
            break;
        }
        if (d->progress && d->progress(d->progress_user, k + 1, d->n_subjects)) {
            res = ss__fail(err, errcap, SS_ERR_CANCELLED, "cancelled by the progress callback");
            break;
        }
    }
    ss__team_stop(&team, &threads, n);
    if (res != SS_OK) goto done;
    if (out && (res = ss_lnm_finalize(zacc, racc, d->policy, out)) != SS_OK) {
        ss__fail(err, errcap, res, "cannot finalize the maps");
        goto done;
    }
    if (state) {
        state->z = zacc;
        state->r = racc;
        zacc = racc = NULL;
    }
done:
    ss_moments_destroy(racc);
    ss_moments_destroy(zacc);
    tp_free(pool, scratch);
    tp_free(pool, slab);
    if (own) tp_destroy(own);
    return res;
}

/* ---- >>hdf5 source ----------------------------------------------------------------------------- */
#if defined(STAT_STREAM_USE_HDF5)
#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <sys/mman.h>
#include <unistd.h>

#define SS__H5_MAX_FILES 4096

struct ss_h5 {
    size_t n_files, n_subjects, n_t, n_v;
    char **paths;           /* n_files names */
    size_t *first;          /* n_files + 1: subject offsets */
    int64_t *mask;          /* 3 x n_v */
    double affine[16];
    int64_t shape[3];
    hid_t file, data;       /* the file open for reading, or -1 */
    size_t open_index;
    uint64_t *at;           /* n_files: where /timeseries starts in each file, 0 = not mappable */
    int fd;                 /* the file mapped from, or -1 */
    size_t fd_index, map_len;
    void *map;              /* the subject shown by ss_h5_view, or NULL */
    float *buf;             /* ss_h5_view's buffer for files it cannot map */
    tp_pool *pool, *own_pool;
};

/* HDF5 prints its error stack by default: off for the length of one call */
typedef struct ss__h5_quiet { H5E_auto2_t fn; void *data; } ss__h5_quiet;
static void ss__h5_mute(ss__h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void ss__h5_unmute(const ss__h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->fn, q->data); }

static int ss__by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The .h5 files of a directory, sorted, or path itself; names malloc'd into *names */
static ss_result ss__h5_list(const char *path, char ***names, size_t *n, char *err, size_t errcap)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    char msg[512];
    *n = 0;
    *names = (char **)calloc(SS__H5_MAX_FILES, sizeof(char *));
    if (!*names) return ss__fail(err, errcap, SS_ERR_NOMEM, "no memory for the file list");
    if (!dir) {
        (*names)[0] = (char *)malloc(strlen(path) + 1);
        if (!(*names)[0]) return ss__fail(err, errcap, SS_ERR_NOMEM, "no memory for the file list");
        strcpy((*names)[0], path);
        *n = 1;
        return SS_OK;
    }
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".h5") != 0) continue;
        if (*n == SS__H5_MAX_FILES) break;
        (*names)[*n] = (char *)malloc(strlen(path) + len + 2);
        if (!(*names)[*n]) break;
        sprintf((*names)[*n], "%s/%s", path, e->d_name);
        (*n)++;
    }
    closedir(dir);
    if (!*n) {
        snprintf(msg, sizeof msg, "%s: no .h5 file in this directory", path);
        return ss__fail(err, errcap, SS_ERR_IO, msg);
    }
    qsort(*names, *n, sizeof(char *), ss__by_name);
    return SS_OK;
}

/* dims of /timeseries in an open file, checked: rank 3, a floating-point type */
static ss_result ss__h5_shape(hid_t f, const char *name, hsize_t *dims, char *err, size_t errcap)
{
    char msg[600];
    hid_t d = H5Dopen2(f, "/timeseries", H5P_DEFAULT), s, t;
    int rank, is_float;
    if (d < 0) {
        snprintf(msg, sizeof msg, "%s: no dataset /timeseries", name);
        return ss__fail(err, errcap, SS_ERR_FORMAT, msg);
    }
    s = H5Dget_space(d);
    t = H5Dget_type(d);
    rank = H5Sget_simple_extent_ndims(s);
    is_float = H5Tget_class(t) == H5T_FLOAT;
    if (rank == 3) H5Sget_simple_extent_dims(s, dims, NULL);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    if (rank != 3) {
        snprintf(msg, sizeof msg, "%s: /timeseries has rank %d, want 3 (subjects, time points, voxels)", name, rank);
        return ss__fail(err, errcap, SS_ERR_FORMAT, msg);
    }
    if (!is_float) {
        snprintf(msg, sizeof msg, "%s: /timeseries is not floating-point", name);
        return ss__fail(err, errcap, SS_ERR_FORMAT, msg);
    }
    return SS_OK;
}

/* mask indices (3, V) or (V, 3), affine and mask_shape of the first file */
static ss_result ss__h5_geometry(ss_h5 *c, hid_t f, const char *name, char *err, size_t errcap)
{
    char msg[600];
    hid_t d = H5Dopen2(f, "/mask_indices", H5P_DEFAULT), s, a;
    hsize_t dims[2] = {0, 0};
    size_t v, n = c->n_v;
    int ok;
    if (d < 0) {
        snprintf(msg, sizeof msg, "%s: no dataset /mask_indices", name);
        return ss__fail(err, errcap, SS_ERR_FORMAT, msg);
    }
    s = H5Dget_space(d);
    ok = H5Sget_simple_extent_ndims(s) == 2 && H5Sget_simple_extent_dims(s, dims, NULL) == 2 &&
         ((dims[0] == 3 && dims[1] == n) || (dims[0] == n && dims[1] == 3));
    H5Sclose(s);
    if (ok) ok = H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->mask) >= 0;
    H5Dclose(d);
    if (!ok) {
        snprintf(msg, sizeof msg, "%s: /mask_indices must be (3, %zu) or (%zu, 3) integers", name, n, n);
        return ss__fail(err, errcap, SS_ERR_FORMAT, msg);
    }
    if (dims[0] == n && n != 3) { /* (V, 3) -> (3, V) */
        int64_t *tmp = (int64_t *)malloc(3 * n * sizeof(int64_t));
        if (!tmp) return ss__fail(err, errcap, SS_ERR_NOMEM, "no memory for the mask");
        for (v = 0; v < n; v++) {
            tmp[v] = c->mask[3 * v];
            tmp[n + v] = c->mask[3 * v + 1];
            tmp[2 * n + v] = c->mask[3 * v + 2];
        }
        memcpy(c->mask, tmp, 3 * n * sizeof(int64_t));
        free(tmp);
    }
    d = H5Dopen2(f, "/mask_affine", H5P_DEFAULT);
    ok = d >= 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->affine) >= 0;
    if (d >= 0) H5Dclose(d);
    if (!ok) {
        snprintf(msg, sizeof msg, "%s: no readable /mask_affine (4 x 4 float64)", name);
        return ss__fail(err, errcap, SS_ERR_FORMAT, msg);
    }
    a = H5Aopen(f, "mask_shape", H5P_DEFAULT);
    ok = a >= 0 && H5Aread(a, H5T_NATIVE_INT64, c->shape) >= 0;
    if (a >= 0) H5Aclose(a);
    if (!ok) {
        snprintf(msg, sizeof msg, "%s: no readable attribute mask_shape (3 integers)", name);
        return ss__fail(err, errcap, SS_ERR_FORMAT, msg);
    }
    return SS_OK;
}

/* Where /timeseries' bytes start in the file when they can be mapped as they are: contiguous,
   little-endian float32 on a little-endian machine, no user block, 4-byte aligned, and the first
   values read through the file equal HDF5's; else 0. */
static uint64_t ss__h5_mappable(hid_t f, const char *path, size_t n_subj, size_t n_t, size_t n_v)
{
    hid_t d = H5Dopen2(f, "/timeseries", H5P_DEFAULT), t, p, fcpl, fs, ms;
    hsize_t ub = 1, start[3] = {0, 0, 0}, count[3] = {1, 1, 0};
    haddr_t at = HADDR_UNDEF;
    uint16_t one = 1;
    unsigned char first_byte;
    float a[16], b[16];
    int ok, fd;
    if (d < 0) return 0;
    memcpy(&first_byte, &one, 1);
    t = H5Dget_type(d), p = H5Dget_create_plist(d), fcpl = H5Fget_create_plist(f);
    ok = first_byte == 1 && H5Tequal(t, H5T_IEEE_F32LE) > 0 && H5Pget_layout(p) == H5D_CONTIGUOUS && H5Pget_external_count(p) == 0 &&
         H5Pget_userblock(fcpl, &ub) >= 0 && ub == 0 && n_subj && n_t && n_v &&
         H5Dget_storage_size(d) == (hsize_t)n_subj * n_t * n_v * sizeof(float);
    if (ok) at = H5Dget_offset(d);
    ok = ok && at != HADDR_UNDEF && at % sizeof(float) == 0;
    count[2] = n_v < 16 ? n_v : 16;
    if (ok) { /* the first values, both ways */
        fs = H5Dget_space(d), ms = H5Screate_simple(3, count, NULL);
        ok = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, a) >= 0;
        H5Sclose(ms), H5Sclose(fs);
        fd = ok ? open(path, O_RDONLY) : -1;
        ok = fd >= 0 && pread(fd, b, count[2] * sizeof(float), (off_t)at) == (ssize_t)(count[2] * sizeof(float)) &&
             memcmp(a, b, count[2] * sizeof(float)) == 0;
        if (fd >= 0) close(fd);
    }
    H5Pclose(fcpl), H5Pclose(p), H5Tclose(t), H5Dclose(d);
    return ok ? (uint64_t)at : 0;
}

SSDEF void ss_h5_close(ss_h5 *c)
{
    size_t i;
    ss__h5_quiet q;
    if (!c) return;
    ss__h5_mute(&q);
    if (c->data >= 0) H5Dclose(c->data);
    if (c->file >= 0) H5Fclose(c->file);
    ss__h5_unmute(&q);
    for (i = 0; c->paths && i < c->n_files; i++) free(c->paths[i]);
    if (c->map) munmap(c->map, c->map_len);
    if (c->fd >= 0) close(c->fd);
    if (c->buf) tp_free(c->pool, c->buf);
    free(c->paths);
    free(c->first);
    free(c->at);
    if (c->mask) tp_free(c->pool, c->mask);
    if (c->own_pool) tp_destroy(c->own_pool);
    free(c);
}

SSDEF ss_result ss_h5_open(const char *path, tp_pool *pool, ss_h5 **out, char *err, size_t errcap)
{
    ss_h5 *c;
    ss__h5_quiet q;
    ss_result r = SS_OK;
    tp_result tr = TP_OK;
    size_t i;
    char msg[700];
    if (err && errcap) err[0] = 0;
    if (out) *out = NULL;
    if (!path || !out) return ss__fail(err, errcap, SS_ERR_ARG, "path or out is NULL");
    c = (ss_h5 *)calloc(1, sizeof *c);
    if (!c) return ss__fail(err, errcap, SS_ERR_NOMEM, "no memory");
    c->file = c->data = -1;
    c->fd = -1;
    if (!(c->pool = pool) && !(c->pool = c->own_pool = tp_create(NULL, &tr))) {
        free(c);
        return ss__fail(err, errcap, ss__from_tp(tr), "no memory for a pool");
    }
    if ((r = ss__h5_list(path, &c->paths, &c->n_files, err, errcap)) != SS_OK) {
        if (!c->n_files) c->n_files = SS__H5_MAX_FILES; /* free what was listed */
        ss_h5_close(c);
        return r;
    }
    c->first = (size_t *)calloc(c->n_files + 1, sizeof(size_t));
    c->at = (uint64_t *)calloc(c->n_files, sizeof(uint64_t));
    if (!c->first || !c->at) {
        ss_h5_close(c);
        return ss__fail(err, errcap, SS_ERR_NOMEM, "no memory");
    }
    ss__h5_mute(&q);
    for (i = 0; i < c->n_files && r == SS_OK; i++) {
        hsize_t dims[3];
        hid_t f = H5Fopen(c->paths[i], H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0) {
            snprintf(msg, sizeof msg, "%s: cannot open as HDF5", c->paths[i]);
            r = ss__fail(err, errcap, SS_ERR_IO, msg);
            break;
        }
        if ((r = ss__h5_shape(f, c->paths[i], dims, err, errcap)) == SS_OK) {
            if (i == 0) {
                c->n_t = (size_t)dims[1];
                c->n_v = (size_t)dims[2];
                c->mask = (int64_t *)tp_alloc_at(c->pool, 3 * (c->n_v ? c->n_v : 1) * sizeof(int64_t), 0, __FILE__, __LINE__, &tr);
                if (!c->mask) r = ss__fail(err, errcap, ss__from_tp(tr), "no memory for the mask");
                else r = ss__h5_geometry(c, f, c->paths[i], err, errcap);
            } else if ((size_t)dims[1] != c->n_t || (size_t)dims[2] != c->n_v) {
                snprintf(msg, sizeof msg, "%s: %llu time points x %llu voxels, but %s has %zu x %zu", c->paths[i],
                         (unsigned long long)dims[1], (unsigned long long)dims[2], c->paths[0], c->n_t, c->n_v);
                r = ss__fail(err, errcap, SS_ERR_FORMAT, msg);
            }
            c->first[i + 1] = c->first[i] + (size_t)dims[0];
            if (r == SS_OK) c->at[i] = ss__h5_mappable(f, c->paths[i], (size_t)dims[0], c->n_t, c->n_v);
        }
        H5Fclose(f);
    }
    ss__h5_unmute(&q);
    if (r != SS_OK) {
        ss_h5_close(c);
        return r;
    }
    c->n_subjects = c->first[c->n_files];
    *out = c;
    return SS_OK;
}

SSDEF size_t ss_h5_subjects(const ss_h5 *c) { return c ? c->n_subjects : 0; }
SSDEF size_t ss_h5_timepoints(const ss_h5 *c) { return c ? c->n_t : 0; }
SSDEF size_t ss_h5_voxels(const ss_h5 *c) { return c ? c->n_v : 0; }
SSDEF const int64_t *ss_h5_mask_indices(const ss_h5 *c) { return c ? c->mask : NULL; }
SSDEF const double *ss_h5_affine(const ss_h5 *c) { return c ? c->affine : NULL; }
SSDEF const int64_t *ss_h5_mask_shape(const ss_h5 *c) { return c ? c->shape : NULL; }

SSDEF int ss_h5_read(void *user, size_t k, float *ts, char *err, size_t errcap)
{
    ss_h5 *c = (ss_h5 *)user;
    ss__h5_quiet q;
    size_t fi = 0;
    hsize_t start[3], count[3];
    hid_t fs, ms;
    int ok;
    if (!c || !ts || k >= c->n_subjects) {
        if (err && errcap) snprintf(err, errcap, "no subject %zu", k);
        return 1;
    }
    while (c->first[fi + 1] <= k) fi++;
    ss__h5_mute(&q);
    if (c->file < 0 || c->open_index != fi) {
        if (c->data >= 0) H5Dclose(c->data);
        if (c->file >= 0) H5Fclose(c->file);
        c->file = H5Fopen(c->paths[fi], H5F_ACC_RDONLY, H5P_DEFAULT);
        c->data = c->file >= 0 ? H5Dopen2(c->file, "/timeseries", H5P_DEFAULT) : -1;
        c->open_index = fi;
    }
    start[0] = k - c->first[fi];
    start[1] = start[2] = 0;
    count[0] = 1;
    count[1] = c->n_t;
    count[2] = c->n_v;
    ok = c->data >= 0;
    fs = ok ? H5Dget_space(c->data) : -1;
    ms = H5Screate_simple(3, count, NULL);
    ok = ok && fs >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
         H5Dread(c->data, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, ts) >= 0;
    if (fs >= 0) H5Sclose(fs);
    H5Sclose(ms);
    ss__h5_unmute(&q);
    if (!ok && err && errcap) snprintf(err, errcap, "%s: cannot read subject %zu of this file", c->paths[fi], (size_t)start[0]);
    return !ok;
}

SSDEF int ss_h5_mapped(const ss_h5 *c)
{
    size_t i;
    if (!c) return 0;
    for (i = 0; i < c->n_files; i++)
        if (!c->at[i]) return 0;
    return 1;
}

SSDEF const float *ss_h5_view(void *user, size_t k, char *err, size_t errcap)
{
    ss_h5 *c = (ss_h5 *)user;
    size_t fi = 0, bytes, page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t pos, base;
    tp_result tr = TP_OK;
    if (!c || k >= c->n_subjects) {
        if (err && errcap) snprintf(err, errcap, "no subject %zu", k);
        return NULL;
    }
    while (c->first[fi + 1] <= k) fi++;
    bytes = c->n_t * c->n_v * sizeof(float);
    if (c->map) munmap(c->map, c->map_len);
    c->map = NULL;
    if (!c->at[fi]) { /* read into the buffer */
        if (!c->buf && !(c->buf = (float *)tp_alloc_at(c->pool, bytes, 0, __FILE__, __LINE__, &tr))) {
            if (err && errcap) snprintf(err, errcap, "no memory for a subject (%zu bytes)", bytes);
            return NULL;
        }
        return ss_h5_read(c, k, c->buf, err, errcap) ? NULL : c->buf;
    }
    if (c->fd < 0 || c->fd_index != fi) {
        if (c->fd >= 0) close(c->fd);
        c->fd = open(c->paths[fi], O_RDONLY), c->fd_index = fi;
        if (c->fd < 0) {
            if (err && errcap) snprintf(err, errcap, "%s: cannot open to map", c->paths[fi]);
            return NULL;
        }
    }
    pos = c->at[fi] + (uint64_t)(k - c->first[fi]) * bytes;
    base = pos - pos % (page ? page : 4096);
    c->map_len = bytes + (size_t)(pos - base);
    c->map = mmap(NULL, c->map_len, PROT_READ, MAP_SHARED, c->fd, (off_t)base);
    if (c->map == MAP_FAILED) {
        c->map = NULL;
        if (err && errcap) snprintf(err, errcap, "%s: cannot map subject %zu of this file", c->paths[fi], k - c->first[fi]);
        return NULL;
    }
#if defined(MADV_HUGEPAGE)
    madvise(c->map, c->map_len, MADV_HUGEPAGE);
#endif
#if defined(POSIX_FADV_WILLNEED)
    if (k + 1 < c->first[fi + 1]) posix_fadvise(c->fd, (off_t)(pos + bytes), (off_t)bytes, POSIX_FADV_WILLNEED);
#endif
    return (const float *)(const void *)((const char *)c->map + (pos - base));
}
#endif

#endif /* STAT_STREAM_IMPLEMENTATION */

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
