/* stat_stream.h 0.0.1 - mergeable streaming statistics over many features - MIT license (end of file)

   Do this:
       #define STAT_STREAM_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation. It includes
   tensorpool.h (define TENSORPOOL_IMPLEMENTATION in one file too, possibly the same one).

   STATUS: under construction (issue 3). Here and tested: the accumulators (section 3), the
   statistics they finalize to (section 4), Fisher z (section 5), seed-to-voxel correlation
   (section 6: a built-in GEMM, or CBLAS with STAT_STREAM_USE_CBLAS) and the lesion network
   mapping pipeline over subjects from a reader callback (section 7), and with
   STAT_STREAM_USE_HDF5 a reader of the ldk/lacuna HDF5 layout (ss_h5_*). Still to come: a
   faster built-in GEMM, threads over subjects, the benchmark (examples/lnm.c is the program).

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
       SS_NO_VECTOR_EXTENSIONS   impl     the built-in kernel in plain C loops (no vector types)
       STAT_STREAM_USE_HDF5      impl     the HDF5 connectome reader ss_h5_* (include and link HDF5,
                                          e.g. -I/usr/include/hdf5/serial -lhdf5; POSIX for dirent)

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
   ss_seedcorr: seed series = mean of its voxels' raw series (BOES); per block of 512 voxels the
   series are centred in double and stored in the computation's precision, the seeds centred and
   divided by their norms, one GEMM (seeds x time by time x voxels) gives the covariances, scaled
   by each voxel's inverse norm in double. Measured: float64 within 1e-14 of a long-double
   Pearson, float32 within 2e-7 (absolute r), and the LNM reference's r within 1e-15.
   Speed (this 2-core VM, one thread, 20 seeds x 200 time points x 50,000 voxels, centring
   included): built-in float32 51 ms, double 74 ms per subject; with OpenBLAS 38 and 44 ms.

   7. LESION NETWORK MAPPING
   ss_lnm streams subjects (a reader callback fills one n_t x n_v float slab at a time) through
   ss_seedcorr into accumulators of z (and of r, for Lead-DBS' mean-of-r map) over n_seeds x n_v
   features, then finalizes mean z, mean r = tanh(mean z), std z, t and p. Its memory is one slab,
   the seeds' r and z maps, the two accumulators and the correlation's scratch:
   ss_lnm_estimate_bytes, equal to the pool's measured peak (tested) and independent of the
   number of subjects. One code path, four policies (SS_POLICY_*: strict, ldk, lacuna, ldk_single;
   see their declaration) that differ only in the NaN rule, z_inf, ddof and t at a zero standard
   error. Partial runs (files, MPI ranks) hand back their accumulators (ss_lnm_state) to be
   serialized, merged and finalized with ss_lnm_finalize.

   8. WHAT IT DOES NOT DO (yet: see STATUS)
   Weighted samples; higher moments.

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
   n_v doubles (rows ldr >= n_v apart). Means, centring and norms in double; the products as one
   GEMM per block of voxels on centred, normalised data, in float (precision SS_F32) or double
   (SS_F64). A voxel or a seed whose series is constant gives NaN. Scratch: ss_seedcorr_bytes
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
/* Called after each subject; return nonzero to cancel (SS_ERR_CANCELLED). */
typedef int (*ss_progress_fn)(void *user, size_t done, size_t total);

typedef struct ss_lnm_desc {
    tp_pool *pool;            /* all scratch [NULL: a private pool] */
    size_t n_subjects, n_t, n_v;
    ss_subject_fn read;       /* the subjects, one at a time (required) */
    void *read_user;
    const ss_seeds *seeds;    /* the lesions (required) */
    int policy;               /* SS_POLICY_* [strict] */
    int precision;            /* of the products: SS_F32 or SS_F64 [SS_F32] */
    ss_progress_fn progress;  /* [NULL] */
    void *progress_user;
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

/* Streams the subjects through ss_seedcorr into per-(seed, voxel) accumulators of z and r and
   finalizes them into out (which may be NULL when state is not). Memory: ss_lnm_estimate_bytes
   from the pool, whatever n_subjects. When state is not NULL it receives both accumulators (the
   caller destroys them), e.g. to merge partial runs over files or MPI ranks. Errors: those of
   ss_seedcorr, SS_ERR_IO (the reader failed), SS_ERR_CANCELLED. */
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

/* c (m x n) = a (m x k) b (k x n), all row-major and dense, for the two element types. Four rows
   of c and 2 vectors of columns stay in registers while k runs; each c element is one sum over
   p in order, whatever the blocking. */
#if defined(STAT_STREAM_USE_CBLAS)
#include <cblas.h>
static void ss__gemm_f32(size_t m, size_t n, size_t k, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)k, b, (int)n, 0.0f, c, (int)n);
}
static void ss__gemm_f64(size_t m, size_t n, size_t k, const double *a, const double *b, double *c)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0, a, (int)k, b, (int)n, 0.0, c, (int)n);
}
#else
/* the plain kernel: one row of c, columns j0 .. j1 */
#define SS__GEMM_ROW(R)                                                                         \
    static void ss__gemm_row_##R(size_t n, size_t k, const R *ai, const R *b, R *ci, size_t j0, size_t j1) \
    {                                                                                           \
        size_t j, p;                                                                            \
        for (j = j0; j < j1; j++) {                                                             \
            R s = 0;                                                                            \
            for (p = 0; p < k; p++) s += ai[p] * b[p * n + j];                                  \
            ci[j] = s;                                                                          \
        }                                                                                       \
    }
#if defined(__GNUC__) && !defined(SS_NO_VECTOR_EXTENSIONS)
/* 4 rows x 2 vectors of 16 bytes per step */
#define SS__GEMM(R)                                                                             \
    SS__GEMM_ROW(R)                                                                             \
    static void ss__gemm_##R(size_t m, size_t n, size_t k, const R *a, const R *b, R *c)       \
    {                                                                                           \
        typedef R vec __attribute__((vector_size(16)));                                        \
        const size_t w = 16 / sizeof(R), tile = 2 * w;                                          \
        size_t i, j, p, nt = n - n % tile;                                                      \
        for (i = 0; i + 4 <= m; i += 4) {                                                       \
            const R *a0 = a + i * k, *a1 = a0 + k, *a2 = a1 + k, *a3 = a2 + k;                  \
            for (j = 0; j < nt; j += tile) {                                                    \
                vec c00, c01, c10, c11, c20, c21, c30, c31, x0, x1;                             \
                memset(&c00, 0, sizeof c00);                                                    \
                c01 = c10 = c11 = c20 = c21 = c30 = c31 = c00;                                  \
                for (p = 0; p < k; p++) {                                                       \
                    memcpy(&x0, b + p * n + j, sizeof x0);                                      \
                    memcpy(&x1, b + p * n + j + w, sizeof x1);                                  \
                    c00 += a0[p] * x0; c01 += a0[p] * x1;                                       \
                    c10 += a1[p] * x0; c11 += a1[p] * x1;                                       \
                    c20 += a2[p] * x0; c21 += a2[p] * x1;                                       \
                    c30 += a3[p] * x0; c31 += a3[p] * x1;                                       \
                }                                                                               \
                memcpy(c + i * n + j, &c00, sizeof c00); memcpy(c + i * n + j + w, &c01, sizeof c01); \
                memcpy(c + (i + 1) * n + j, &c10, sizeof c10); memcpy(c + (i + 1) * n + j + w, &c11, sizeof c11); \
                memcpy(c + (i + 2) * n + j, &c20, sizeof c20); memcpy(c + (i + 2) * n + j + w, &c21, sizeof c21); \
                memcpy(c + (i + 3) * n + j, &c30, sizeof c30); memcpy(c + (i + 3) * n + j + w, &c31, sizeof c31); \
            }                                                                                   \
            for (p = 0; p < 4; p++) ss__gemm_row_##R(n, k, a + (i + p) * k, b, c + (i + p) * n, nt, n); \
        }                                                                                       \
        for (; i < m; i++) ss__gemm_row_##R(n, k, a + i * k, b, c + i * n, 0, n);               \
    }
#else
#define SS__GEMM(R)                                                                             \
    SS__GEMM_ROW(R)                                                                             \
    static void ss__gemm_##R(size_t m, size_t n, size_t k, const R *a, const R *b, R *c)       \
    {                                                                                           \
        size_t i;                                                                               \
        for (i = 0; i < m; i++) ss__gemm_row_##R(n, k, a + i * k, b, c + i * n, 0, n);         \
    }
#endif
SS__GEMM(float)
SS__GEMM(double)
static void ss__gemm_f32(size_t m, size_t n, size_t k, const float *a, const float *b, float *c) { ss__gemm_float(m, n, k, a, b, c); }
static void ss__gemm_f64(size_t m, size_t n, size_t k, const double *a, const double *b, double *c) { ss__gemm_double(m, n, k, a, b, c); }
#endif

/* Scratch layout: seeds' normalised series (L x T), a voxel block centred (T x B), its
   inverse norms and sums (2 x B doubles), the products (L x B), one seed series in double (T), a flag per
   seed (constant or not). 0 when the sizes overflow. */
static size_t ss__corr_layout(size_t n_t, size_t n_v, size_t n_seeds, int precision, size_t *parts)
{
    size_t el = precision == SS_F32 ? sizeof(float) : sizeof(double), blk = n_v < SS__BLOCK ? n_v : SS__BLOCK, total = 0, i;
    size_t sz[6];
    if (!tp_size_mul(n_seeds, n_t, &sz[0]) || !tp_size_mul(sz[0], el, &sz[0]) || !tp_size_mul(n_t, blk * el, &sz[1]) ||
        !tp_size_mul(n_seeds, blk * el, &sz[3]) || !tp_size_mul(n_t, sizeof(double), &sz[4]))
        return 0;
    sz[2] = 2 * blk * sizeof(double);
    sz[5] = n_seeds;
    for (i = 0; i < 6; i++) {
        if (parts) parts[i] = total;
        if (!tp_size_add(total, (sz[i] + 63) / 64 * 64, &total) || sz[i] > ((size_t)-1) - 64) return 0;
    }
    return total;
}

SSDEF size_t ss_seedcorr_bytes(size_t n_t, size_t n_v, size_t n_seeds, int precision)
{
    return ss__corr_layout(n_t, n_v, n_seeds, precision, NULL);
}

static ss_result ss__fail(char *err, size_t cap, ss_result r, const char *what)
{
    if (err && cap) snprintf(err, cap, "stat_stream: %s", what);
    return r;
}

/* Seed l's series, centred and divided by its norm, into dst (float or double); 0 when constant */
static int ss__seed_series(const float *ts, size_t n_t, size_t ld, const int64_t *vox, size_t nvox, double *tmp, void *dst,
                           int precision)
{
    size_t t, i;
    double mean = 0, ss = 0, inv;
    for (t = 0; t < n_t; t++) {
        double s = 0;
        for (i = 0; i < nvox; i++) s += ts[t * ld + (size_t)vox[i]];
        tmp[t] = s / (double)nvox;
        mean += tmp[t];
    }
    mean /= (double)n_t;
    for (t = 0; t < n_t; t++) {
        tmp[t] -= mean;
        ss += tmp[t] * tmp[t];
    }
    inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
    for (t = 0; t < n_t; t++) {
        if (precision == SS_F32) ((float *)dst)[t] = (float)(tmp[t] * inv);
        else ((double *)dst)[t] = tmp[t] * inv;
    }
    return ss > 0;
}

/* Voxels v0 .. v0 + nb - 1 centred into blk (n_t x nb) with their inverse norms (NaN when
   constant); rows are read in memory order, sums kept per voxel in double (acc: nb doubles) */
static void ss__center_block(const float *ts, size_t n_t, size_t ld, size_t v0, size_t nb, void *blk, double *inv_norm,
                             double *acc, int precision)
{
    size_t t, j;
    double *mean = inv_norm;
    memset(mean, 0, nb * sizeof(double));
    memset(acc, 0, nb * sizeof(double));
    for (t = 0; t < n_t; t++) {
        const float *row = ts + t * ld + v0;
        for (j = 0; j < nb; j++) mean[j] += row[j];
    }
    for (j = 0; j < nb; j++) mean[j] /= (double)n_t;
    for (t = 0; t < n_t; t++) {
        const float *row = ts + t * ld + v0;
        if (precision == SS_F32) {
            float *dst = (float *)blk + t * nb;
            for (j = 0; j < nb; j++) {
                double d = (double)row[j] - mean[j];
                acc[j] += d * d;
                dst[j] = (float)d;
            }
        } else {
            double *dst = (double *)blk + t * nb;
            for (j = 0; j < nb; j++) {
                double d = (double)row[j] - mean[j];
                acc[j] += d * d;
                dst[j] = d;
            }
        }
    }
    for (j = 0; j < nb; j++) inv_norm[j] = acc[j] > 0 ? 1.0 / sqrt(acc[j]) : 0.0 / 0.0;
}

SSDEF ss_result ss_seedcorr(tp_pool *pool, const float *ts, size_t n_t, size_t n_v, size_t ld, const ss_seeds *seeds,
                            int precision, double *r, size_t ldr, char *err, size_t errcap)
{
    size_t parts[6], bytes, l, v0, L;
    tp_pool *own = NULL;
    tp_result tr = TP_OK;
    char *mem, msg[160];
    unsigned char *live;
    if (err && errcap) err[0] = 0;
    if (!ts || !seeds || !r || !seeds->voxels || !seeds->offsets || !seeds->n_seeds || !n_v)
        return ss__fail(err, errcap, SS_ERR_ARG, "NULL pointer or zero size");
    if (n_t < 2) return ss__fail(err, errcap, SS_ERR_ARG, "fewer than 2 time points: no correlation");
    if (ld < n_v || ldr < n_v) return ss__fail(err, errcap, SS_ERR_ARG, "row strides must be >= n_v");
    if (precision != SS_F32 && precision != SS_F64) return ss__fail(err, errcap, SS_ERR_ARG, "precision must be SS_F32 or SS_F64");
    L = seeds->n_seeds;
    for (l = 0; l < L; l++) {
        size_t i, a = seeds->offsets[l], b = seeds->offsets[l + 1];
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
    if (!(bytes = ss__corr_layout(n_t, n_v, L, precision, parts))) return ss__fail(err, errcap, SS_ERR_OVERFLOW, "the sizes overflow");
    if (!pool && !(pool = own = tp_create(NULL, &tr))) return ss__fail(err, errcap, ss__from_tp(tr), "no memory for a pool");
    mem = (char *)tp_alloc_at(pool, bytes, 0, __FILE__, __LINE__, &tr);
    if (!mem) {
        if (own) tp_destroy(own);
        return ss__fail(err, errcap, ss__from_tp(tr), "no memory for the correlation's scratch");
    }
    live = (unsigned char *)mem + parts[5];
    for (l = 0; l < L; l++) {
        size_t a = seeds->offsets[l], el = precision == SS_F32 ? sizeof(float) : sizeof(double);
        live[l] = (unsigned char)ss__seed_series(ts, n_t, ld, seeds->voxels + a, seeds->offsets[l + 1] - a,
                                                 (double *)(void *)(mem + parts[4]), mem + parts[0] + l * n_t * el, precision);
    }
    for (v0 = 0; v0 < n_v; v0 += SS__BLOCK) {
        size_t nb = n_v - v0 < SS__BLOCK ? n_v - v0 : SS__BLOCK, j;
        double *inv = (double *)(void *)(mem + parts[2]);
        ss__center_block(ts, n_t, ld, v0, nb, mem + parts[1], inv, inv + (n_v < SS__BLOCK ? n_v : SS__BLOCK), precision);
        if (precision == SS_F32)
            ss__gemm_f32(L, nb, n_t, (const float *)(void *)(mem + parts[0]), (const float *)(void *)(mem + parts[1]),
                         (float *)(void *)(mem + parts[3]));
        else
            ss__gemm_f64(L, nb, n_t, (const double *)(void *)(mem + parts[0]), (const double *)(void *)(mem + parts[1]),
                         (double *)(void *)(mem + parts[3]));
        for (l = 0; l < L; l++) {
            double *dst = r + l * ldr + v0;
            for (j = 0; j < nb; j++) {
                double c = precision == SS_F32 ? (double)((const float *)(void *)(mem + parts[3]))[l * nb + j]
                                               : ((const double *)(void *)(mem + parts[3]))[l * nb + j];
                dst[j] = live[l] ? c * inv[j] : 0.0 / 0.0;
            }
        }
    }
    tp_free(pool, mem);
    if (own) tp_destroy(own);
    return SS_OK;
}

/* ---- >>lnm pipeline ---------------------------------------------------------------------------- */

static int ss__policy_nan(int policy) { return policy == SS_POLICY_STRICT ? SS_NAN_PROPAGATE : SS_NAN_AS_ZERO; }

/* Bytes of one accumulator as ss_moments_create requests them, and of ss_moments_add_rows' scratch */
static size_t ss__moments_bytes(size_t nf, int policy)
{
    return (sizeof(ss_moments) + 63) / 64 * 64 + nf * (2 * sizeof(double) + (policy == SS_NAN_SKIP ? sizeof(uint64_t) : 0));
}

SSDEF size_t ss_lnm_estimate_bytes(const ss_lnm_desc *d)
{
    size_t lv, slab, maps, acc, add, corr;
    if (!d || !d->seeds || !d->n_t || !d->n_v || !d->seeds->n_seeds) return 0;
    if (!tp_size_mul(d->seeds->n_seeds, d->n_v, &lv) || !tp_size_mul(d->n_t, d->n_v, &slab) ||
        !tp_size_mul(slab, sizeof(float), &slab) || !tp_size_mul(lv, sizeof(double), &maps) || lv > ((size_t)-1) / 64)
        return 0;
    corr = ss_seedcorr_bytes(d->n_t, d->n_v, d->seeds->n_seeds, d->precision);
    if (!corr) return 0;
    acc = 2 * ss__moments_bytes(lv, ss__policy_nan(d->policy));
    add = lv * 2 * sizeof(double); /* ss_moments_add_rows' scratch (no per-feature counts here) */
    /* the slab, r, z, two accumulators, then the larger of the correlation and the add scratch */
    return slab + 2 * maps + acc + (corr > add ? corr : add);
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

SSDEF ss_result ss_lnm(const ss_lnm_desc *d, const ss_lnm_maps *out, ss_lnm_state *state, char *err, size_t errcap)
{
    tp_pool *pool, *own = NULL;
    tp_result tr = TP_OK;
    ss_moments *zacc = NULL, *racc = NULL;
    float *slab = NULL;
    double *r = NULL, *z;
    size_t L, lv, i, k;
    int nanpol;
    double z_inf;
    ss_result res = SS_OK;
    char msg[200];
    if (err && errcap) err[0] = 0;
    if (state) state->z = state->r = NULL;
    if (!d || (!out && !state) || !d->read || !d->seeds || !d->n_subjects)
        return ss__fail(err, errcap, SS_ERR_ARG, "NULL desc, maps, reader or seeds, or no subjects");
    if (d->policy < SS_POLICY_STRICT || d->policy > SS_POLICY_LDK_SINGLE) return ss__fail(err, errcap, SS_ERR_ARG, "policy must be one of SS_POLICY_*");
    if (!ss_lnm_estimate_bytes(d)) return ss__fail(err, errcap, SS_ERR_OVERFLOW, "the sizes overflow (or n_t, n_v or seeds are zero)");
    L = d->seeds->n_seeds;
    lv = L * d->n_v;
    nanpol = ss__policy_nan(d->policy);
    z_inf = d->policy == SS_POLICY_STRICT ? 0.0 : d->policy == SS_POLICY_LDK_SINGLE ? 10.0 : 3.0;
    pool = d->pool;
    if (!pool && !(pool = own = tp_create(NULL, &tr))) return ss__fail(err, errcap, ss__from_tp(tr), "no memory for a pool");
    slab = (float *)tp_alloc_at(pool, d->n_t * d->n_v * sizeof(float), 0, __FILE__, __LINE__, &tr);
    r = slab ? (double *)tp_alloc_at(pool, 2 * lv * sizeof(double), 0, __FILE__, __LINE__, &tr) : NULL;
    if (!slab || !r) {
        res = ss__fail(err, errcap, ss__from_tp(tr), "no memory for a subject and its maps");
        goto done;
    }
    z = r + lv;
    /* states handed to the caller must outlive a private pool: they then get their own */
    if ((res = ss_moments_create(lv, nanpol, own && state ? NULL : pool, &zacc)) != SS_OK ||
        (res = ss_moments_create(lv, nanpol, own && state ? NULL : pool, &racc)) != SS_OK) {
        ss__fail(err, errcap, res, "no memory for the accumulators");
        goto done;
    }
    for (k = 0; k < d->n_subjects; k++) {
        msg[0] = 0;
        if (d->read(d->read_user, k, slab, msg, sizeof msg) != 0) {
            char full[260];
            snprintf(full, sizeof full, "subject %zu: %s", k, msg[0] ? msg : "the reader failed");
            res = ss__fail(err, errcap, SS_ERR_IO, full);
            goto done;
        }
        if ((res = ss_seedcorr(pool, slab, d->n_t, d->n_v, d->n_v, d->seeds, d->precision, r, d->n_v, err, errcap)) != SS_OK)
            goto done;
        for (i = 0; i < lv; i++) {
            double rv = r[i];
            if (nanpol == SS_NAN_AS_ZERO && rv != rv) rv = r[i] = 0.0; /* ldk: NaN r counts as 0 */
            z[i] = ss_fisher_z(rv, z_inf);
        }
        if ((res = ss_moments_add_rows(racc, r, SS_F64, 1, 0)) != SS_OK || (res = ss_moments_add_rows(zacc, z, SS_F64, 1, 0)) != SS_OK) {
            ss__fail(err, errcap, res, "no memory to add a subject");
            goto done;
        }
        if (d->progress && d->progress(d->progress_user, k + 1, d->n_subjects)) {
            res = ss__fail(err, errcap, SS_ERR_CANCELLED, "cancelled by the progress callback");
            goto done;
        }
    }
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
    tp_free(pool, r);
    tp_free(pool, slab);
    if (own) tp_destroy(own);
    return res;
}

/* ---- >>hdf5 source ----------------------------------------------------------------------------- */
#if defined(STAT_STREAM_USE_HDF5)
#include <dirent.h>
#include <hdf5.h>

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
    free(c->paths);
    free(c->first);
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
    if (!c->first) {
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
