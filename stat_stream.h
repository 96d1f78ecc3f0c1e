/* stat_stream.h 1.0.0 - mergeable streaming statistics over many features, and lesion network mapping - MIT license (end of file)

   Do this:
       #define STAT_STREAM_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation. It includes
   tensorpool.h, the collection's runtime: define TENSORPOOL_IMPLEMENTATION in one file too.

   QUICK START (compiles as C99 and as C++; link -lm -lpthread)
       #define TENSORPOOL_IMPLEMENTATION
       #define STAT_STREAM_IMPLEMENTATION
       #include "stat_stream.h"
       #include <stdio.h>

       int main(void)
       {
           double block[4 * 3] = {1, 10, 5, 2, 11, 5, 3, 9, 5, 4, 12, 5}; // 4 rows (subjects) x 3 features
           double mean[3], t[3], p[3];
           ss_moments_desc desc = TP_DEFAULTS;
           ss_moments *acc = NULL;
           ss_maps maps = TP_DEFAULTS;                  // NULL arrays are not computed
           tp_error err;
           desc.n_features = 3;
           if (ss_moments_create(&desc, &acc, &err) != TP_OK) {
               fprintf(stderr, "%s\n", err.message);
               return 1;
           }
           ss_moments_add_rows(acc, block, TP_F64, 2, 0, NULL);      // rows may come in any blocks:
           ss_moments_add_rows(acc, block + 6, TP_F64, 2, 0, NULL);  // the state is the same
           maps.mean = mean; maps.t = t; maps.p = p;
           if (ss_moments_finalize(acc, NULL, &maps, &err) != TP_OK) fprintf(stderr, "%s\n", err.message);
           printf("feature 0: mean %g, t %.3f, p %.4f\n", mean[0], t[0], p[0]);
           ss_moments_destroy(acc);
           return 0;
       }

   CONTENTS
       1. Options          3. Finalized statistics         5. Seed-to-voxel correlation
       2. Accumulators     4. Fisher z                      6. Lesion network mapping
                                                            7. The HDF5 connectome source
                                                            8. What it does NOT do

   Averaging a map over a thousand subjects should not need a thousand maps in memory. An
   accumulator holds, per feature, the count, the mean and the sum of squared deviations (M2) in
   double, takes rows as they come, merges with another accumulator (partial results of other
   files, threads or MPI ranks) and serializes to a portable byte string. On it stands lesion
   network mapping: every lesion's seed series correlated with every voxel of every subject of a
   normative connectome, the Fisher z maps averaged over subjects, in memory independent of the
   number of subjects.

   1. COMPILE-TIME OPTIONS (define before including; "impl" = only where the implementation is built)
       SS_STATIC                 global   make every function static (with TP_STATIC for the pool)
       SSDEF                     global   linkage of the public functions (default: extern)
       STAT_STREAM_USE_CBLAS     impl     ss_seedcorr's products by cblas_sgemm / cblas_dgemm (link a
                                          CBLAS, e.g. -lopenblas); default: the built-in kernel
       SS_NO_VECTOR_EXTENSIONS   impl     the built-in kernels in plain C loops (no vector types, no
                                          AVX2 / AVX-512 variants); the same results
       STAT_STREAM_USE_HDF5      impl     the HDF5 connectome source ss_h5_* (include and link HDF5,
                                          e.g. -I/usr/include/hdf5/serial -lhdf5; POSIX: dirent, mmap)
       tensorpool.h's options apply too: TP_NO_THREADS (one thread), TP_CPU_FEATURES_MASK.

   2. ACCUMULATORS
   ss_moments_add_rows takes a block of rows (float or double, any row stride), computes the
   block's per-feature mean and M2 in two passes in double, and merges it with Chan et al.'s
   formula: n = na + nb, d = mean_b - mean_a, mean = mean_a + d nb / n,
   M2 = M2a + M2b + d^2 na nb / n. No sum of squares is ever formed: with data offset by 1e4,
   float32 sums of squares lose every digit of the variance and even double sums lose eight
   (tested). NaN policy per accumulator (desc.nan_policy):
       SS_NAN_PROPAGATE   a NaN makes that feature's mean and M2 NaN [default: strict]
       SS_NAN_AS_ZERO     a NaN counts as 0 (ldk, lacuna)
       SS_NAN_SKIP        a NaN is left out: counts are per feature
   Merging needs the same number of features and NaN policy. The serialized form is
   little-endian whatever the machine: "SSM1", version, policy, n_features, then the counts
   (one, or one per feature for SS_NAN_SKIP) as uint64 and mean, M2 as IEEE doubles; a state read
   back is checked in every field (TP_ERR_FORMAT).

   3. FINALIZED STATISTICS
   mean; var = M2 / (n - ddof); std; t = mean / (std / sqrt(n)) (a one-sample t against 0, the
   std with ddof 1 unless ss_finalize_opts.t_population asks for ddof 0); where the standard
   error is 0, t is NaN (SS_T_ZERO_SE_NAN, strict, the default) or 0 (SS_T_ZERO_SE_ZERO, the ldk
   family); two-sided p = I_{df/(df+t^2)}(df/2, 1/2) with df = n - 1 (regularized incomplete
   beta by Lentz's continued fraction; within 1e-10 of scipy's t.sf, tested); Benjamini-Hochberg
   q-values over the finite p (NaN stays NaN and is not counted; lacuna instead sets a NaN p to 1
   and counts it, which gives the same q wherever no p is NaN, as under its own policy).

   4. FISHER Z
   z = atanh(r). |r| = 1 gives +-z_inf when z_inf > 0 (ldk's batch path uses 3, its single-lesion
   path 10), else +-infinity; finite z are never clipped; |r| > 1 (rounding) and NaN give NaN, for
   the NaN policy to handle.

   5. SEED-TO-VOXEL CORRELATION
   ss_seedcorr: seed series = mean of its voxels' raw series (BOES), centred and divided by its
   norm. Per block of 512 voxels one pass over the rows stores each series shifted by its first
   value (d = x - x_0) in the computation's precision and sums d and d^2 in double (the mean and
   norm); one GEMM (seeds x time by time x voxels) gives sum a_t d_t, from which the seed's sum
   (~0) times the voxel's mean d is taken (the centred covariance, exactly in exact arithmetic),
   scaled by the voxel's inverse norm. Against a long-double Pearson (tested): float64 within
   1e-14, float32 within 2.5e-7 (absolute r); the LNM reference's r within 1e-15. The built-in
   GEMM keeps tiles of 4 seeds x 2 or 4 vectors in registers; it, the centring and the folding of
   section 6 come in plain C, 16-byte vectors, AVX2 and AVX-512 (the widest the CPU has, from
   tp_cpu_features), and every variant rounds exactly as the plain C code (no reassociation;
   clang's FMA contraction is turned off in them; tested), so results do not depend on the CPU.
   PINI (lacuna's principal-component selection of a lesion's representative voxels, its
   method='pini') replaces each seed by a subset of its voxels, chosen per connectome file:
   ss_pini_row gives, for one subject, every seed voxel's r with the seed's plain mean series;
   over the file's subjects, ss_pini_select centres each seed's subjects x voxels matrix over
   the subjects, takes its first principal axis and keeps the voxels whose |loading| reaches the
   20th percentile (SS_PINI_PERCENTILE) of the seed's |loadings|; the seed's series is then the
   mean of the kept voxels. Equal to lacuna's own on its float64 restatement (tests/data/pini:
   rows within 1e-13, loadings within 1e-10 of sklearn's, the same voxels, maps within 1e-10).
   The axis is exact: Householder to tridiagonal, bisection for the largest eigenvalue, inverse
   iteration, on the smaller Gram matrix (subjects' or voxels'), O(min(S, n)^2 max(S, n)) per
   seed; sklearn's PCA, which lacuna calls with its defaults, switches to a randomized solver
   above 500 x 500, whose axis is an approximation. Where the matrix does not vary (one subject
   in the file) every voxel is kept; lacuna then takes an arbitrary axis, which keeps every voxel
   too unless the seed has exactly 2.

   6. LESION NETWORK MAPPING
   ss_lnm streams subjects into accumulators of z (and of r, for Lead-DBS' mean-of-r map) over
   n_seeds x n_v features, then finalizes mean z, mean r = tanh(mean z), std z, t and p. A subject
   arrives either copied by a reader callback into a slab (desc.read), or shown in place
   (desc.view: e.g. ss_h5_view's memory map of the file, no copy, no slab). Per subject the
   workers (tensorpool's team of desc.n_threads; 0 = the CPUs this process may use) first build
   the seeds' series, then take blocks of 512 voxels: shift, multiply with the seeds, turn the
   products into r and z (this header's own atanh, one division a lane: in precision TP_F32 r and
   z are formed in float lanes, within 3 ulp of libm's atanh rounded to float; in TP_F64 in
   double, within 3 ulp of libm's; tested) and fold them at once into the double accumulators
   (Chan's update with one value), so no full r or z map is ever stored. Each cell is folded by
   one worker per subject and subjects in order: the maps are the same bits for any n_threads,
   read_ahead or source (tested). With desc.read_ahead a worker reads the next subject into a
   second slab while the others compute. Memory (ss_lnm_estimate_bytes, equal to the pool's
   measured peak: tested; independent of the number of subjects):
       slab         n_t x n_v x 4 bytes (x 2 with read_ahead; 0 with view)
       accumulators n_seeds x n_v x 16 bytes for z, as much again for r unless skip_avg_r
       scratch      per worker (n_t + n_seeds) x 512 values and 12 KiB; n_seeds x n_t values
       the team     a few hundred bytes when there are several workers
   One code path, four policies (ss_policy: strict, ldk, lacuna, ldk_single; see its
   declaration) that differ only in the NaN rule, z_inf, ddof and t at a zero standard error.
   Partial runs (files, MPI ranks) hand back their accumulators (ss_lnm_state) to be serialized,
   merged and finalized with ss_lnm_finalize. A worker thread that cannot start is reported to
   the logger (desc.log, or the pool's) and in out->info; the others do its share.

   7. THE HDF5 CONNECTOME SOURCE (STAT_STREAM_USE_HDF5)
   The layout of the lacuna/ldk package: /timeseries float32 (n_subjects, n_timepoints,
   n_voxels), one subject per chunk (gzip or not), /mask_indices int64 (3, n_voxels) or
   (n_voxels, 3), /mask_affine float64 4 x 4, attribute mask_shape (3 integers). A connectome is
   one such file, or a directory whose *.h5 files are read in name order. ss_h5_create checks what
   it reads: at least 2 time points and 1 voxel; integer voxel positions, each inside mask_shape
   (every dimension 1 to 32767, NIfTI-1's limit), no two at one place; a 4 x 4 affine of finite
   numbers whose last row is 0 0 0 1; and in a directory, the same time points, voxels, grid and
   mask in every file (ss_h5_files and ss_h5_file_first tell which subjects each file holds,
   for methods that work per file as PINI). ss_h5_read copies a subject (one hyperslab) into a caller's buffer; ss_h5_view
   memory-maps it straight from the file where /timeseries is contiguous little-endian float32
   (no copy: the page cache is the buffer; the mapping asks for huge pages, and the next
   subject's pages are asked for ahead), else reads it into a buffer of its own. HDF5's own
   error printing is off during every call.

   8. WHAT IT DOES NOT DO
   Weighted samples; higher moments. gzip-compressed connectomes are inflated by HDF5 on one
   thread: the run is then bound by that, not by the arithmetic; converting the files to
   contiguous storage once (h5repack -l CONTI) makes them mappable. The checks of section 7 cover
   what HDF5 hands over, not HDF5's own parsing: HDF5 1.10's reader itself reads out of bounds on
   some damaged files (found by fuzzing, inside H5Aopen and H5Dopen), so open connectomes from
   sources you do not trust in a sandbox, or with an HDF5 release that fixed its file checks.
*/
#ifndef STAT_STREAM_H
#define STAT_STREAM_H

#if defined(SS_STATIC) && !defined(TP_STATIC)
#define TP_STATIC
#endif
#include "tensorpool.h"

#include <stddef.h>
#include <stdint.h>

#define SS_VERSION_MAJOR 1
#define SS_VERSION_MINOR 0
#define SS_VERSION_PATCH 0

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

/* ---- accumulators (sections 2, 3) --------------------------------------------------------- */

typedef enum ss_nan_policy {
    SS_NAN_PROPAGATE = 0, SS_NAN_AS_ZERO = 1, SS_NAN_SKIP = 2, SS_NAN__FORCE_INT = 0x7fffffff
} ss_nan_policy;

typedef struct ss_moments ss_moments;

/* Zero-initialise (TP_DEFAULTS) and set what you need: zero fields mean the defaults in brackets. */
typedef struct ss_moments_desc {
    tp_pool *pool;            /* where the state (and add_rows' scratch) lives [NULL = a private pool] */
    size_t n_features;        /* features a row holds (required, >= 1) */
    ss_nan_policy nan_policy; /* [SS_NAN_PROPAGATE] */
} ss_moments_desc;

/* An empty accumulator into *out. TP_ERR_ARG (out NULL, zero features, a bad policy),
   TP_ERR_OVERFLOW, TP_ERR_NOMEM, TP_ERR_BUDGET. */
SSDEF tp_result ss_moments_create(const ss_moments_desc *desc, ss_moments **out, tp_error *err);
SSDEF void ss_moments_destroy(ss_moments *m);
/* The resolved desc (pool pointing at the pool in use). */
SSDEF ss_moments_desc ss_moments_get_desc(const ss_moments *m);
/* What an accumulator of desc takes from the pool at its peak: the state, and add_rows' scratch
   (3 doubles per feature, or 4 with SS_NAN_SKIP) while it runs. */
SSDEF tp_result ss_moments_estimate_bytes(const ss_moments_desc *desc, size_t *bytes, tp_error *err);
/* The count of feature f (the same for all features unless the policy is SS_NAN_SKIP). */
SSDEF uint64_t ss_moments_count(const ss_moments *m, size_t f);
/* Adds n_rows rows of n_features values (dtype TP_F32 or TP_F64) starting stride elements apart
   (0 = n_features). TP_ERR_ARG for NULL data with rows, a bad dtype, stride < n_features;
   TP_ERR_NOMEM, TP_ERR_BUDGET for the scratch (the state is then unchanged). */
SSDEF tp_result ss_moments_add_rows(ss_moments *m, const void *data, tp_dtype dtype, size_t n_rows, size_t stride,
                                    tp_error *err);
/* a += b. TP_ERR_ARG unless both have the same features and policy. */
SSDEF tp_result ss_moments_merge(ss_moments *a, const ss_moments *b, tp_error *err);

/* Bytes of the serialized state. */
SSDEF size_t ss_moments_serialized_bytes(const ss_moments *m);
/* Writes the state into buf (cap >= ss_moments_serialized_bytes); TP_ERR_ARG when it does not fit. */
SSDEF tp_result ss_moments_serialize(const ss_moments *m, void *buf, size_t cap, tp_error *err);
/* A new accumulator from a serialized state, its memory from pool (NULL = a private pool);
   TP_ERR_FORMAT naming the field for bytes that are not one (magic, version, policy, feature
   count, length). */
SSDEF tp_result ss_moments_deserialize(tp_pool *pool, const void *buf, size_t len, ss_moments **out, tp_error *err);

/* What ss_moments_finalize writes: arrays of n_features doubles, NULL to skip. */
typedef struct ss_maps {
    double *mean, *var, *std, *t, *p, *q;
} ss_maps;
typedef enum ss_t_zero_se { SS_T_ZERO_SE_NAN = 0, SS_T_ZERO_SE_ZERO = 1, SS_T_ZERO_SE__FORCE_INT = 0x7fffffff } ss_t_zero_se;
/* Zero (or NULL) = the defaults in brackets. */
typedef struct ss_finalize_opts {
    int ddof;                /* delta degrees of freedom of var and std: 0 or 1 [0] */
    int t_population;        /* 1: the std in t with ddof 0, as ldk [0: ddof 1, the usual one-sample t] */
    ss_t_zero_se t_zero_se;  /* t where the standard error is 0 [NaN] */
} ss_finalize_opts;
/* Per-feature statistics (section 3). A feature with n <= ddof has var NaN; t and p need n >= 2.
   q needs p (scratch from the accumulator's pool). TP_ERR_ARG (NULL, a bad option). */
SSDEF tp_result ss_moments_finalize(const ss_moments *m, const ss_finalize_opts *opts, const ss_maps *out, tp_error *err);

/* Two-sided p of Student's t with df degrees of freedom (df > 0); NaN for NaN input. */
SSDEF double ss_t_pvalue(double t, double df);
/* The regularized incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1 (NaN outside). */
SSDEF double ss_betainc(double a, double b, double x);
/* Benjamini-Hochberg q-values of n p-values; NaN p give NaN q and are not counted. Scratch
   (n indices) from pool (NULL = a private pool). */
SSDEF tp_result ss_bh_qvalues(tp_pool *pool, const double *p, size_t n, double *q, tp_error *err);
/* atanh(r) with +-z_inf at |r| = 1 (z_inf <= 0: +-infinity); NaN for |r| > 1 and NaN. */
SSDEF double ss_fisher_z(double r, double z_inf);

/* ---- seed-to-voxel correlation (section 5) ------------------------------------------------- */

/* Seeds (e.g. lesions): n_seeds lists of positions on the voxel axis; seed l's voxels are
   voxels[offsets[l] .. offsets[l + 1]). A seed's series is the mean of its voxels' series, or
   with weights (e.g. a lesion probability map) the weighted mean sum(w x) / sum(w). */
typedef struct ss_seeds {
    size_t n_seeds;
    const int64_t *voxels;
    const size_t *offsets; /* n_seeds + 1 entries, offsets[0] = 0, increasing */
    const double *weights; /* aligned with voxels: finite, >= 0, each seed's sum > 0 [NULL = all 1] */
} ss_seeds;

/* Pearson r between each seed's series (the mean of its voxels' raw series) and every voxel's,
   for one subject: ts is n_t x n_v float (voxel fastest, rows ld >= n_v apart), r is n_seeds x
   n_v doubles (rows ldr >= n_v apart). Means and norms in double; the products as one GEMM per
   block of voxels in float (precision TP_F32) or double (TP_F64). A voxel or a seed whose series
   is constant gives NaN. Scratch from pool (NULL = a private pool): ss_seedcorr_estimate_bytes.
   Errors naming the argument: TP_ERR_ARG (NULL pointers, zero sizes, n_t < 2, a bad precision,
   a seed with no voxel or one outside [0, n_v)), TP_ERR_OVERFLOW, TP_ERR_NOMEM, TP_ERR_BUDGET. */
SSDEF tp_result ss_seedcorr(tp_pool *pool, const float *ts, size_t n_t, size_t n_v, size_t ld, const ss_seeds *seeds,
                            tp_dtype precision, double *r, size_t ldr, tp_error *err);
/* The scratch ss_seedcorr takes from the pool, to the byte. */
SSDEF tp_result ss_seedcorr_estimate_bytes(size_t n_t, size_t n_v, size_t n_seeds, tp_dtype precision, size_t *bytes,
                                           tp_error *err);

/* Parcel to parcel (ROI-to-ROI): Pearson r between the mean series of every pair of parcels for
   one subject. ts as ss_seedcorr's; parcel_of[v] is voxel v's parcel in [0, n_parcels), or -1 for
   none; r is n_parcels x n_parcels doubles (rows ldr >= n_parcels apart), symmetric, with 1 on the
   diagonal and NaN in the row and column of a parcel that is empty or constant. In double.
   Scratch (n_parcels x (n_t + 2) doubles) from pool (NULL = a private pool). TP_ERR_ARG naming
   the argument (NULL, zero sizes, n_t < 2, ld < n_v, ldr < n_parcels, a parcel_of outside),
   TP_ERR_OVERFLOW, TP_ERR_NOMEM, TP_ERR_BUDGET. */
SSDEF tp_result ss_parcel_corr(tp_pool *pool, const float *ts, size_t n_t, size_t n_v, size_t ld, const int32_t *parcel_of,
                               size_t n_parcels, double *r, size_t ldr, tp_error *err);

/* PINI, lacuna's representative lesion voxels (section 5): per connectome file, one row per
   subject from ss_pini_row, then ss_pini_select; a ss_seeds over the voxels it keeps (weights
   NULL) is that file's seeds for ss_lnm. */
#define SS_PINI_PERCENTILE 20.0 /* lacuna's pini_percentile */
/* Subject's row: for every seed and each of its voxels, Pearson r between the voxel's series and
   the seed's plain mean series (weights are not used), in double; 0 where either series is
   constant (lacuna's nan_to_num). row has seeds->offsets[n_seeds] entries, aligned with
   seeds->voxels. ts as ss_seedcorr's. Scratch (n_seeds x n_t + 3 x offsets[n_seeds] doubles)
   from pool (NULL = a private pool). Errors as ss_seedcorr's. */
SSDEF tp_result ss_pini_row(tp_pool *pool, const float *ts, size_t n_t, size_t n_v, size_t ld, const ss_seeds *seeds,
                            double *row, tp_error *err);
/* Each seed's representative voxels from n_subjects rows (ldrow >= offsets[n_seeds] apart; a NaN
   counts as 0): the seed's subjects x voxels matrix centred over subjects, its first principal
   axis (the loadings), and the voxels whose |loading| is at least the percentile-th percentile
   (0 to 100, numpy's linear interpolation) of the seed's |loadings|. The kept voxels, in their
   order in seeds->voxels, go to voxels (room for offsets[n_seeds]) and offsets (n_seeds + 1);
   loadings (aligned with seeds->voxels, the largest |entry| positive as sklearn's) unless NULL.
   A seed whose matrix does not vary over the subjects (one subject, or all alike) keeps every
   voxel, with loadings 0. Scratch (per seed m = min(subjects, voxels): subjects x voxels +
   2 m^2 doubles, the largest seed's) from pool (NULL = a private pool). TP_ERR_ARG naming the
   argument (as ss_seedcorr's on seeds, n_subjects 0, ldrow short, percentile outside),
   TP_ERR_OVERFLOW, TP_ERR_NOMEM, TP_ERR_BUDGET. */
SSDEF tp_result ss_pini_select(tp_pool *pool, const double *rows, size_t n_subjects, size_t ldrow, const ss_seeds *seeds,
                               double percentile, int64_t *voxels, size_t *offsets, double *loadings, tp_error *err);

/* ---- lesion network mapping (section 6) --------------------------------------------------- */

/* Output policies of one code path, reproducing the peers:
     SS_POLICY_STRICT      z = atanh(r) unclipped, NaN propagates, std and t with ddof 1, t NaN
                           where the standard error is 0 [default]
     SS_POLICY_LDK         ldk's batch path: NaN r counts as 0, r = +-1 gives z = +-3, ddof 0, t 0
                           where the standard error is 0
     SS_POLICY_LACUNA      lacuna's batch path: as ldk with ddof 1
     SS_POLICY_LDK_SINGLE  ldk's single-lesion path: as lacuna with z = +-10 at r = +-1 */
typedef enum ss_policy {
    SS_POLICY_STRICT = 0, SS_POLICY_LDK = 1, SS_POLICY_LACUNA = 2, SS_POLICY_LDK_SINGLE = 3, SS_POLICY__FORCE_INT = 0x7fffffff
} ss_policy;

/* Fills ts (n_t x n_v floats, voxel fastest) with subject k's series; TP_OK, or an error whose
   message says why (the run then fails with it, naming the subject). */
typedef tp_result (*ss_read_fn)(void *user, size_t k, float *ts, tp_error *err);
/* The other way to hand subjects over: returns subject k's n_t x n_v floats (voxel fastest), which
   must stay valid and unchanged until the next call (e.g. a memory map of the file: no copy), or
   NULL with the reason in err. */
typedef const float *(*ss_view_fn)(void *user, size_t k, tp_error *err);

/* Zero-initialise (TP_DEFAULTS) and set what you need: zero fields mean the defaults in brackets. */
/* Subject k's Pearson r between each seed and every voxel: n_seeds x n_v floats (seed-major), NaN
   where a series has no correlation, before any policy; valid during the call. Called from the
   thread that called ss_lnm, subjects in order. Returning an error stops the run with it. */
typedef tp_result (*ss_subject_fn)(void *user, size_t k, const float *r, size_t n_seeds, size_t n_v, tp_error *err);

typedef struct ss_lnm_desc {
    tp_pool *pool;            /* all scratch [NULL: a private pool] */
    size_t n_subjects, n_t, n_v; /* (required) */
    ss_read_fn read;          /* the subjects, one at a time, copied into a slab ... */
    ss_view_fn view;          /* ... or shown in place (no slab): exactly one of read and view */
    void *source_user;        /* passed to read or view */
    const ss_seeds *seeds;    /* the lesions (required) */
    ss_policy policy;         /* [SS_POLICY_STRICT] */
    tp_dtype precision;       /* of the products: TP_F32 or TP_F64 [TP_F32] */
    tp_progress_fn progress;  /* subjects done of n_subjects [NULL] */
    void *user;               /* passed to progress */
    int n_threads;            /* workers over blocks of voxels [0 = the CPUs this process may use]; the maps
                                 do not depend on it */
    int skip_avg_r;           /* 1: no accumulator of r (out->avg_r must be NULL; state->r is NULL),
                                 which saves n_seeds x n_v x 16 bytes and a third of the traffic [0] */
    int read_ahead;           /* 1 (with read and n_threads > 1): a worker reads the next subject into
                                 a second slab while the others compute this one (read is then called
                                 from that worker, one call at a time) [0: one slab] */
    tp_logger log;            /* a worker that could not start [zero = the pool's] */
    ss_subject_fn subject_r;  /* each subject's r in subject order, e.g. to stream it to disk; takes
                                 n_seeds x n_v floats of the pool [NULL] */
    void *subject_user;       /* passed to subject_r */
} ss_lnm_desc;

/* What a run did. */
typedef struct ss_lnm_info {
    int n_workers;            /* workers that ran: the resolved n_threads, fewer if a thread could not
                                 start (logged) */
    size_t bytes;             /* taken from the pool: ss_lnm_estimate_bytes */
    /* Subjects with a series that has no correlation (a NaN or infinite value, or one value
       throughout): in some voxel, or in some seed (then all its voxels). Under SS_POLICY_STRICT
       their r is NaN, and so are the maps of every voxel (of every voxel, for a seed) they touch;
       the other policies count that r as 0. */
    size_t n_subjects_bad_voxel, n_subjects_bad_seed;
} ss_lnm_info;

/* Maps of n_seeds x n_v doubles (row l = seed l), NULL to skip. mean_r = tanh(mean_z); avg_r is
   Lead-DBS' mean of r (under the policy's NaN rule). */
typedef struct ss_lnm_maps {
    double *mean_z, *mean_r, *avg_r, *std_z, *t, *p;
    ss_lnm_info *info;        /* what the run did [NULL] */
} ss_lnm_maps;

/* A run's accumulators over n_seeds x n_v features: z, and r (for avg_r). */
typedef struct ss_lnm_state {
    ss_moments *z, *r;
} ss_lnm_state;

/* Streams the subjects (section 6) into per-(seed, voxel) accumulators of z and r (r unless
   skip_avg_r) and finalizes them into out (which may be NULL when state is not). Memory:
   ss_lnm_estimate_bytes from the pool, whatever n_subjects. When state is not NULL it receives
   the accumulators (the caller destroys them), e.g. to merge partial runs over files or MPI
   ranks. Errors naming the argument: TP_ERR_ARG (as ss_seedcorr's, and: not exactly one of read
   and view, avg_r with skip_avg_r, n_threads outside 0 .. TP_MAX_THREADS), TP_ERR_OVERFLOW,
   TP_ERR_NOMEM, TP_ERR_BUDGET, the reader's error (its message, naming the subject),
   TP_ERR_CANCELLED. */
SSDEF tp_result ss_lnm(const ss_lnm_desc *desc, const ss_lnm_maps *out, ss_lnm_state *state, tp_error *err);
/* What ss_lnm takes from the pool, to the byte; the checks of ss_lnm on desc. */
SSDEF tp_result ss_lnm_estimate_bytes(const ss_lnm_desc *desc, size_t *bytes, tp_error *err);
/* Finalizes accumulators (e.g. merged from partial runs) under a policy into maps; r may be NULL
   (avg_r is then left alone). */
SSDEF tp_result ss_lnm_finalize(const ss_moments *z, const ss_moments *r, ss_policy policy, const ss_lnm_maps *out,
                                tp_error *err);

/* ---- the HDF5 connectome source (section 7; STAT_STREAM_USE_HDF5) ---------------------------- */
#if defined(STAT_STREAM_USE_HDF5)
typedef struct ss_h5 ss_h5;

typedef struct ss_h5_desc {
    const char *path;         /* a connectome file, or a directory of them (required) */
    tp_pool *pool;            /* the mask and read buffers [NULL = a private pool] */
} ss_h5_desc;

/* Opens and checks every file into *out (the masks are read; no time series yet). A file is
   untrusted: every field is checked against the rest before use (section 7), and the errors name
   the file and the field: TP_ERR_IO (cannot open, no .h5 file in a directory), TP_ERR_FORMAT (a
   missing dataset or attribute, a wrong rank, size or type, a voxel outside the grid or two at
   one place, files that disagree in time points, voxels, grid or mask, no subject at all),
   TP_ERR_OVERFLOW (sizes past size_t), TP_ERR_NOMEM, TP_ERR_BUDGET. */
SSDEF tp_result ss_h5_create(const ss_h5_desc *desc, ss_h5 **out, tp_error *err);
SSDEF void ss_h5_destroy(ss_h5 *c);
/* Subjects over all files, time points, voxels; the mask's voxel positions (3 x n_voxels: i, j,
   k rows), affine (4 x 4, row-major) and grid shape (3) from the first file. */
SSDEF size_t ss_h5_subjects(const ss_h5 *c);
SSDEF size_t ss_h5_timepoints(const ss_h5 *c);
SSDEF size_t ss_h5_voxels(const ss_h5 *c);
SSDEF const int64_t *ss_h5_mask_indices(const ss_h5 *c);
SSDEF const double *ss_h5_affine(const ss_h5 *c);
SSDEF const int64_t *ss_h5_mask_shape(const ss_h5 *c);
/* An ss_read_fn: user is the ss_h5; reads subject k (one hyperslab) into ts. */
SSDEF tp_result ss_h5_read(void *user, size_t k, float *ts, tp_error *err);
/* An ss_view_fn: user is the ss_h5; subject k mapped from the file where it can be (section 7),
   else read into a buffer of n_t x n_v floats from the pool. The pointer is valid until the next
   call or ss_h5_destroy; a mapped file must not be truncated meanwhile (the process would get
   SIGBUS, as with any memory map). */
SSDEF const float *ss_h5_view(void *user, size_t k, tp_error *err);
/* 1 when every file can be shown in place by ss_h5_view. */
SSDEF int ss_h5_mapped(const ss_h5 *c);
/* The files (1 for a single file), and the subjects of each: file f holds subjects
   ss_h5_file_first(c, f) .. ss_h5_file_first(c, f + 1) - 1 (f = ss_h5_files(c) gives the total), e.g.
   for methods that work per file as lacuna's PINI; 0 for f past the end. */
SSDEF size_t ss_h5_files(const ss_h5 *c);
SSDEF size_t ss_h5_file_first(const ss_h5 *c, size_t f);
#endif

/* "stat_stream 1.0.0 avx2 cblas hdf5" - what this build uses. */
SSDEF const char *ss_build_info(void);

#ifdef __cplusplus
}
#endif

#endif /* STAT_STREAM_H */

/* ============================================================================================ */
/* >>implementation                                                                             */
/* ============================================================================================ */
#if defined(STAT_STREAM_IMPLEMENTATION) && !defined(STAT_STREAM_IMPLEMENTATION_INCLUDED)
#define STAT_STREAM_IMPLEMENTATION_INCLUDED

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ss_moments {
    size_t n_features;
    ss_nan_policy policy;
    uint64_t count;   /* all features (not SS_NAN_SKIP) */
    uint64_t *counts; /* per feature (SS_NAN_SKIP), else NULL */
    double *mean, *m2;
    tp_pool *pool, *own_pool;
};

/* ---- >>accumulators --------------------------------------------------------------------------- */

static size_t ss__moments_head(void) { return (sizeof(ss_moments) + 63) / 64 * 64; }
static size_t ss__per_feature(ss_nan_policy policy) { return 2 * sizeof(double) + (policy == SS_NAN_SKIP ? sizeof(uint64_t) : 0); }

static tp_result ss__check_moments_desc(const ss_moments_desc *d, const char *who, tp_error *err)
{
    size_t bytes;
    if (!d) return tp_error_set(err, TP_ERR_ARG, "%s: desc is NULL", who);
    if (!d->n_features) return tp_error_set(err, TP_ERR_ARG, "%s: desc.n_features must be >= 1", who);
    if (d->nan_policy < SS_NAN_PROPAGATE || d->nan_policy > SS_NAN_SKIP)
        return tp_error_set(err, TP_ERR_ARG, "%s: desc.nan_policy must be one of SS_NAN_*, got %d", who, (int)d->nan_policy);
    if (!tp_size_mul(d->n_features, ss__per_feature(d->nan_policy) + sizeof(double), &bytes) ||
        !tp_size_add(bytes, ss__moments_head(), &bytes))
        return tp_error_set(err, TP_ERR_OVERFLOW, "%s: %zu features overflow a size", who, d->n_features);
    return TP_OK;
}

SSDEF tp_result ss_moments_create(const ss_moments_desc *desc, ss_moments **out, tp_error *err)
{
    size_t head = ss__moments_head();
    tp_pool *pool, *own = NULL;
    tp_error te;
    tp_result r;
    ss_moments *m;
    if (!out) return tp_error_set(err, TP_ERR_ARG, "ss_moments_create: out is NULL");
    *out = NULL;
    if ((r = ss__check_moments_desc(desc, "ss_moments_create", err)) != TP_OK) return r;
    if (!(pool = desc->pool) && (r = tp_create(NULL, &own, &te)) != TP_OK)
        return tp_error_set(err, r, "ss_moments_create: %s", te.message);
    if (!pool) pool = own;
    m = (ss_moments *)tp_alloc_at(pool, head + desc->n_features * ss__per_feature(desc->nan_policy), TP_ZERO, __FILE__,
                                  __LINE__, &te);
    if (!m) {
        if (own) tp_destroy(own);
        return tp_error_set(err, te.code, "ss_moments_create: %s", te.message);
    }
    m->n_features = desc->n_features;
    m->policy = desc->nan_policy;
    m->mean = (double *)(void *)((char *)m + head);
    m->m2 = m->mean + m->n_features;
    m->counts = m->policy == SS_NAN_SKIP ? (uint64_t *)(void *)(m->m2 + m->n_features) : NULL;
    m->pool = pool;
    m->own_pool = own;
    *out = m;
    tp_error_clear(err);
    return TP_OK;
}

SSDEF void ss_moments_destroy(ss_moments *m)
{
    tp_pool *own;
    if (!m) return;
    own = m->own_pool;
    tp_free(m->pool, m);
    if (own) tp_destroy(own);
}

SSDEF ss_moments_desc ss_moments_get_desc(const ss_moments *m)
{
    ss_moments_desc d;
    memset(&d, 0, sizeof d);
    if (!m) return d;
    d.pool = m->pool;
    d.n_features = m->n_features;
    d.nan_policy = m->policy;
    return d;
}

/* add_rows' scratch: the block's sums and deviations (and counts for SS_NAN_SKIP) */
static size_t ss__add_rows_bytes(size_t nf, ss_nan_policy policy) { return nf * (2 * sizeof(double) + (policy == SS_NAN_SKIP ? sizeof(uint64_t) : 0)); }

SSDEF tp_result ss_moments_estimate_bytes(const ss_moments_desc *desc, size_t *bytes, tp_error *err)
{
    tp_result r;
    if (bytes) *bytes = 0;
    if (!bytes) return tp_error_set(err, TP_ERR_ARG, "ss_moments_estimate_bytes: bytes is NULL");
    if ((r = ss__check_moments_desc(desc, "ss_moments_estimate_bytes", err)) != TP_OK) return r;
    *bytes = ss__moments_head() + desc->n_features * ss__per_feature(desc->nan_policy) +
             ss__add_rows_bytes(desc->n_features, desc->nan_policy);
    tp_error_clear(err);
    return TP_OK;
}

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

static double ss__value(const void *data, tp_dtype dtype, size_t i)
{
    return dtype == TP_F32 ? (double)((const float *)data)[i] : ((const double *)data)[i];
}

SSDEF tp_result ss_moments_add_rows(ss_moments *m, const void *data, tp_dtype dtype, size_t n_rows, size_t stride,
                                    tp_error *err)
{
    size_t nf, r, f, bytes;
    double *sum, *dev;
    uint64_t *cnt = NULL;
    tp_error te;
    tp_result res;
    int skip, zero;
    if (!m) return tp_error_set(err, TP_ERR_ARG, "ss_moments_add_rows: the accumulator is NULL");
    if ((res = tp_dtype_check(dtype, "ss_moments_add_rows: dtype", err)) != TP_OK) return res;
    tp_error_clear(err);
    if (!n_rows) return TP_OK;
    nf = m->n_features;
    if (!data) return tp_error_set(err, TP_ERR_ARG, "ss_moments_add_rows: data is NULL with %zu rows", n_rows);
    if (stride && stride < nf)
        return tp_error_set(err, TP_ERR_ARG, "ss_moments_add_rows: stride %zu is less than the %zu features", stride, nf);
    if (!stride) stride = nf;
    if (!tp_size_mul(n_rows - 1, stride, &bytes) || !tp_size_add(bytes, nf, &bytes) ||
        !tp_size_mul(nf, 2 * sizeof(double) + sizeof(uint64_t), &bytes))
        return tp_error_set(err, TP_ERR_OVERFLOW, "ss_moments_add_rows: %zu rows of stride %zu overflow a size", n_rows, stride);
    skip = m->policy == SS_NAN_SKIP;
    zero = m->policy == SS_NAN_AS_ZERO;
    sum = (double *)tp_alloc_at(m->pool, ss__add_rows_bytes(nf, m->policy), TP_ZERO, __FILE__, __LINE__, &te);
    if (!sum) return tp_error_set(err, te.code, "ss_moments_add_rows: %s", te.message);
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
    return TP_OK;
}

SSDEF tp_result ss_moments_merge(ss_moments *a, const ss_moments *b, tp_error *err)
{
    size_t f;
    if (!a || !b) return tp_error_set(err, TP_ERR_ARG, "ss_moments_merge: an accumulator is NULL");
    if (a->n_features != b->n_features || a->policy != b->policy)
        return tp_error_set(err, TP_ERR_ARG, "ss_moments_merge: %zu features under policy %d cannot take %zu under %d",
                            a->n_features, (int)a->policy, b->n_features, (int)b->policy);
    for (f = 0; f < a->n_features; f++) {
        uint64_t na = a->counts ? a->counts[f] : a->count, nb = b->counts ? b->counts[f] : b->count;
        ss__merge_one(a, f, na, nb, b->mean[f], b->m2[f]);
        if (a->counts) a->counts[f] += b->counts[f];
    }
    if (!a->counts) a->count += b->count;
    tp_error_clear(err);
    return TP_OK;
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

static size_t ss__state_bytes(size_t nf, ss_nan_policy policy)
{
    return SS__HEADER + 8 * ((policy == SS_NAN_SKIP ? nf : 1) + 2 * nf);
}

SSDEF size_t ss_moments_serialized_bytes(const ss_moments *m)
{
    return m ? ss__state_bytes(m->n_features, m->policy) : 0;
}

SSDEF tp_result ss_moments_serialize(const ss_moments *m, void *buf, size_t cap, tp_error *err)
{
    unsigned char *p = (unsigned char *)buf;
    size_t f, nc;
    if (!m || !buf) return tp_error_set(err, TP_ERR_ARG, "ss_moments_serialize: the accumulator or buf is NULL");
    if (cap < ss_moments_serialized_bytes(m))
        return tp_error_set(err, TP_ERR_ARG, "ss_moments_serialize: the state takes %zu bytes, buf has %zu",
                            ss_moments_serialized_bytes(m), cap);
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
    tp_error_clear(err);
    return TP_OK;
}

SSDEF tp_result ss_moments_deserialize(tp_pool *pool, const void *buf, size_t len, ss_moments **out, tp_error *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    ss_moments_desc d;
    uint64_t nf64;
    size_t nf, f, nc;
    tp_result r;
    ss_moments *m;
    if (!buf || !out) return tp_error_set(err, TP_ERR_ARG, "ss_moments_deserialize: buf or out is NULL");
    *out = NULL;
    if (len < SS__HEADER || memcmp(p, "SSM1", 4) != 0)
        return tp_error_set(err, TP_ERR_FORMAT, "ss_moments_deserialize: not a serialized accumulator (no \"SSM1\" header)");
    if ((ss__get64(p + 4) & 0xffffffffu) != 1)
        return tp_error_set(err, TP_ERR_FORMAT, "ss_moments_deserialize: version %u, this build reads version 1",
                            (unsigned)(ss__get64(p + 4) & 0xffffffffu));
    nf64 = ss__get64(p + 16);
    if (p[8] > SS_NAN_SKIP) return tp_error_set(err, TP_ERR_FORMAT, "ss_moments_deserialize: NaN policy %d is none", (int)p[8]);
    if (nf64 == 0 || nf64 > (uint64_t)((size_t)-1 / 32))
        return tp_error_set(err, TP_ERR_FORMAT, "ss_moments_deserialize: %llu features", (unsigned long long)nf64);
    memset(&d, 0, sizeof d);
    d.pool = pool;
    d.nan_policy = (ss_nan_policy)p[8];
    d.n_features = nf = (size_t)nf64;
    if (len != ss__state_bytes(nf, d.nan_policy))
        return tp_error_set(err, TP_ERR_FORMAT, "ss_moments_deserialize: %zu bytes, where %zu features take %zu", len, nf,
                            ss__state_bytes(nf, d.nan_policy));
    if ((r = ss_moments_create(&d, &m, err)) != TP_OK) return r;
    p += SS__HEADER;
    nc = d.nan_policy == SS_NAN_SKIP ? nf : 1;
    for (f = 0; f < nc; f++, p += 8) {
        if (m->counts) m->counts[f] = ss__get64(p);
        else m->count = ss__get64(p);
    }
    for (f = 0; f < nf; f++, p += 8) m->mean[f] = ss__double(ss__get64(p));
    for (f = 0; f < nf; f++, p += 8) m->m2[f] = ss__double(ss__get64(p));
    *out = m;
    return TP_OK;
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

/* q of p, with idx (n indices) as scratch */
static void ss__bh(const double *p, size_t n, double *q, size_t *idx)
{
    size_t m = 0, i;
    double running = 1.0;
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
}

SSDEF tp_result ss_bh_qvalues(tp_pool *pool, const double *p, size_t n, double *q, tp_error *err)
{
    size_t *idx, bytes;
    tp_pool *own = NULL;
    tp_error te;
    tp_result r;
    tp_error_clear(err);
    if (!n) return TP_OK;
    if (!p || !q) return tp_error_set(err, TP_ERR_ARG, "ss_bh_qvalues: p or q is NULL");
    if (!tp_size_mul(n, sizeof(size_t), &bytes)) return tp_error_set(err, TP_ERR_OVERFLOW, "ss_bh_qvalues: %zu values overflow", n);
    if (!pool && (r = tp_create(NULL, &own, &te)) != TP_OK) return tp_error_set(err, r, "ss_bh_qvalues: %s", te.message);
    if (!pool) pool = own;
    idx = (size_t *)tp_alloc_at(pool, bytes, 0, __FILE__, __LINE__, &te);
    if (!idx) {
        if (own) tp_destroy(own);
        return tp_error_set(err, te.code, "ss_bh_qvalues: %s", te.message);
    }
    ss__bh(p, n, q, idx);
    tp_free(pool, idx);
    if (own) tp_destroy(own);
    return TP_OK;
}

SSDEF tp_result ss_moments_finalize(const ss_moments *m, const ss_finalize_opts *opts, const ss_maps *out, tp_error *err)
{
    ss_finalize_opts o;
    size_t f, *idx = NULL;
    tp_error te;
    int ddof_t;
    double nan = 0.0 / 0.0;
    if (!m || !out) return tp_error_set(err, TP_ERR_ARG, "ss_moments_finalize: the accumulator or out is NULL");
    if (opts) o = *opts;
    else memset(&o, 0, sizeof o);
    if (o.ddof < 0 || o.ddof > 1) return tp_error_set(err, TP_ERR_ARG, "ss_moments_finalize: opts.ddof must be 0 or 1, got %d", o.ddof);
    if (o.t_population != 0 && o.t_population != 1)
        return tp_error_set(err, TP_ERR_ARG, "ss_moments_finalize: opts.t_population must be 0 or 1, got %d", o.t_population);
    if (o.t_zero_se != SS_T_ZERO_SE_NAN && o.t_zero_se != SS_T_ZERO_SE_ZERO)
        return tp_error_set(err, TP_ERR_ARG, "ss_moments_finalize: opts.t_zero_se must be SS_T_ZERO_SE_NAN or _ZERO, got %d",
                            (int)o.t_zero_se);
    if (out->q && !out->p) return tp_error_set(err, TP_ERR_ARG, "ss_moments_finalize: q needs p (out->p is NULL)");
    /* q's scratch first: a failure leaves every output as it was */
    if (out->q && m->n_features && !(idx = (size_t *)tp_alloc_at(m->pool, m->n_features * sizeof(size_t), 0, __FILE__, __LINE__, &te)))
        return tp_error_set(err, te.code, "ss_moments_finalize: q's scratch: %s", te.message);
    ddof_t = o.t_population ? 0 : 1;
    for (f = 0; f < m->n_features; f++) {
        double n = (double)(m->counts ? m->counts[f] : m->count), mean = n > 0 ? m->mean[f] : nan, m2 = m->m2[f];
        double var = n > o.ddof ? m2 / (n - o.ddof) : nan, var_t = n > ddof_t ? m2 / (n - ddof_t) : nan;
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
    if (idx) {
        ss__bh(out->p, m->n_features, out->q, idx);
        tp_free(m->pool, idx);
    }
    tp_error_clear(err);
    return TP_OK;
}

/* ---- >>seed correlation ------------------------------------------------------------------------ */

#define SS__BLOCK 512 /* voxels per GEMM: n_t x 512 floats stay in L2 */
/* A centred block is stored in panels of SS__PANEL voxels, each panel n_t rows of SS__PANEL
   values: the products then read it in order, one cache line a row (read row-major, rows 2 KiB
   apart, every row of a tile fell in the same two sets of L1). A CBLAS takes row-major blocks:
   its panel is the whole block, rows SS__BLOCK values apart. */
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

#if defined(TP_VECTOR) && !defined(SS_NO_VECTOR_EXTENSIONS)
#define SS__VECTOR 1
#if defined(TP_X86_TARGETS)
#define SS__X86_WIDE 1 /* AVX2 and AVX-512 variants, picked at run time (tp_cpu_features) */
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
   of the block read per product (one pass over it per tile row). */
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
   time. e ln2 / 2 in two parts (fdlibm's logf split: e ln2_hi exact for |e| <= 2^7). */
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
   Chan's update with one new value (w1 = 1/n, w2 = (n - 1)/n). In precision TP_F32 r and z are
   formed in float, in TP_F64 in double; the accumulators are double. */
typedef struct ss__fold {
    double *mean_z, *m2_z, *mean_r, *m2_r; /* the row's first cell; mean_r NULL: no r accumulator */
    const double *dm;                      /* the block's mean shifts (TP_F64) ... */
    const float *dmf;                      /* ... or in float (TP_F32) */
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
        TP_VSELECT(vi, one_, t_, nan_, t_);                                                        \
        TP_VSELECT(vi, in_, z, t_, z);                                                             \
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
        TP_VSELECT(vI, up_, h_, f_, f_);                                                           \
        h_ = one_ * ((one) / 2);                                                                \
        TP_VSELECT(vI, dn_, h_, f_, f_);                                                           \
        h_ = one_ - one_;                                                                       \
        TP_VSELECT(vI, up_, one_, h_, g_);                                                         \
        h_ = -one_;                                                                             \
        TP_VSELECT(vI, dn_, h_, g_, g_);                                                           \
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
                    TP_VSELECT(vi, ok, r, zero, r);                                                \
                }                                                                               \
                SS__VABS(vi, sign, r, a);                                                       \
                in = a < 1.0;                                                                   \
                TP_VSELECT(vi, in, a, zero, x);                                                    \
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
                    TP_VSELECT(vi, ok, z, zero, z);                                                \
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
                TP_VSELECT(vI, in, a, zerof, x);                                                   \
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
                    TP_VSELECT(vI, ok, r, zerof, r);                                               \
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
                        TP_VSELECT(vi, m_, t, zd, zd);                                             \
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
   line at a time, for a strip of SS__STRIP voxels at a time (whole rows of the block, or strips
   of 32 voxels, were slower). */
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
    if (tp_cpu_features() & TP_CPU_AVX512F) {
        k.gemm32 = ss__gemm32_avx512, k.gemm64 = ss__gemm64_avx512, k.center = ss__center_avx512, k.fold = ss__fold_avx512;
        k.fold32 = ss__fold32_avx512;
    } else if (tp_cpu_features() & TP_CPU_AVX2) {
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
static size_t ss__corr_bytes(size_t n_t, size_t n_v, size_t L, tp_dtype precision, int worker, size_t *at, char *mark)
{
    size_t el = precision == TP_F32 ? sizeof(float) : sizeof(double), blk = n_v < SS__BLOCK ? n_v : SS__BLOCK, total = 0, i;
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

/* ss_seedcorr's scratch: the shared part and one worker's; 0 when the sizes overflow */
static size_t ss__seedcorr_bytes(size_t n_t, size_t n_v, size_t n_seeds, tp_dtype precision)
{
    size_t a = ss__corr_bytes(n_t, n_v, n_seeds, precision, 0, NULL, NULL), b = ss__corr_bytes(n_t, n_v, n_seeds, precision, 1, NULL, NULL);
    return a && b && a + b > a ? a + b : 0;
}

SSDEF tp_result ss_seedcorr_estimate_bytes(size_t n_t, size_t n_v, size_t n_seeds, tp_dtype precision, size_t *bytes,
                                           tp_error *err)
{
    tp_result r;
    if (bytes) *bytes = 0;
    if (!bytes) return tp_error_set(err, TP_ERR_ARG, "ss_seedcorr_estimate_bytes: bytes is NULL");
    if ((r = tp_dtype_check(precision, "ss_seedcorr_estimate_bytes: precision", err)) != TP_OK) return r;
    if (!n_t || !n_v || !n_seeds) return tp_error_set(err, TP_ERR_ARG, "ss_seedcorr_estimate_bytes: a size is zero");
    if (!(*bytes = ss__seedcorr_bytes(n_t, n_v, n_seeds, precision)))
        return tp_error_set(err, TP_ERR_OVERFLOW, "ss_seedcorr_estimate_bytes: the sizes overflow");
    tp_error_clear(err);
    return TP_OK;
}

static tp_result ss__fail(tp_error *err, tp_result r, const char *what)
{
    return tp_error_set(err, r, "%s", what);
}

/* One subject's correlation as the workers share it */
typedef struct ss__corr {
    const float *ts;
    size_t n_t, n_v, ld, L;
    tp_dtype precision;
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

/* Checks the arguments shared by ss_seedcorr and ss_lnm; TP_OK or TP_ERR_ARG with a message */
static tp_result ss__check_seeds(const ss_seeds *seeds, size_t n_t, size_t n_v, tp_error *err)
{
    size_t l, i;
    char msg[160];
    if (!seeds || !seeds->voxels || !seeds->offsets || !seeds->n_seeds || !n_v)
        return ss__fail(err, TP_ERR_ARG, "NULL pointer or zero size");
    if (n_t < 2) return ss__fail(err, TP_ERR_ARG, "fewer than 2 time points: no correlation");
    for (l = 0; l < seeds->n_seeds; l++) {
        size_t a = seeds->offsets[l], b = seeds->offsets[l + 1];
        if ((l == 0 && a != 0) || b <= a) {
            snprintf(msg, sizeof msg, "seed %zu has no voxel (offsets must start at 0 and increase)", l);
            return ss__fail(err, TP_ERR_ARG, msg);
        }
        for (i = a; i < b; i++)
            if (seeds->voxels[i] < 0 || (uint64_t)seeds->voxels[i] >= (uint64_t)n_v) {
                snprintf(msg, sizeof msg, "seed %zu: voxel %lld is outside [0, %zu)", l, (long long)seeds->voxels[i], n_v);
                return ss__fail(err, TP_ERR_ARG, msg);
            }
        if (seeds->weights) {
            double sum = 0;
            for (i = a; i < b; i++) {
                double w = seeds->weights[i];
                if (!(w >= 0 && w - w == 0)) {
                    snprintf(msg, sizeof msg, "seed %zu: weight %g of voxel %lld; weights must be finite and >= 0", l, w,
                             (long long)seeds->voxels[i]);
                    return ss__fail(err, TP_ERR_ARG, msg);
                }
                sum += w;
            }
            if (!(sum > 0)) {
                snprintf(msg, sizeof msg, "seed %zu: its weights sum to 0", l);
                return ss__fail(err, TP_ERR_ARG, msg);
            }
        }
    }
    return TP_OK;
}

#define SS__SEED_ROWS 8 /* rows per item of the seeds' phase */
/* The raw series (the mean of its voxels) of every seed for rows t0 .. t1 - 1, into the shared
   sums (L x n_t doubles). Row by row, all seeds at once: the seeds' voxels lie all over a row,
   and one seed at a time walked every row's pages once per seed. The gather waits for misses
   (random voxels touch half a row's lines): the next row's lines are asked for as well (two or
   three rows ahead helped less). */
static void ss__seed_rows(const ss__corr *c, const ss_seeds *seeds, size_t t0, size_t t1)
{
    double *sums = (double *)(void *)(c->shared + c->at[2]);
    size_t t, l, i;
    for (t = t0; t < t1; t++) {
        const float *row = c->ts + t * c->ld, *next = t + 1 < c->n_t ? row + c->ld : row;
        for (l = 0; l < c->L; l++) {
            size_t a = seeds->offsets[l], b = seeds->offsets[l + 1];
            double s = 0, ws = 0;
            if (seeds->weights) {
                for (i = a; i < b; i++) {
                    SS__PREFETCH(next + seeds->voxels[i]);
                    s += seeds->weights[i] * row[seeds->voxels[i]];
                    ws += seeds->weights[i];
                }
                sums[l * c->n_t + t] = s / ws;
                continue;
            }
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
    size_t t, el = c->precision == TP_F32 ? sizeof(float) : sizeof(double);
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
        if (c->precision == TP_F32) sum += ((float *)dst)[t] = (float)(x[t] * inv);
        else sum += ((double *)dst)[t] = x[t] * inv;
    }
    ((unsigned char *)c->shared + c->at[1])[l] = ss > 0;
    ((double *)(void *)(c->shared + c->at[3]))[l] = sum;
}

/* Voxels v0 .. v0 + nb - 1: centred, their inverse norms, the products with every seed */
static void ss__corr_block(const ss__corr *c, const ss__work *w, size_t v0, size_t nb)
{
    c->k.center(c->ts + v0, c->n_t, c->ld, nb, w->blk, c->precision == TP_F32, w->inv, w->mean);
    if (c->precision == TP_F32)
        c->k.gemm32(c->L, nb, c->n_t, (const float *)(void *)(c->shared + c->at[0]), (const float *)w->blk, (float *)w->prod);
    else
        c->k.gemm64(c->L, nb, c->n_t, (const double *)(void *)(c->shared + c->at[0]), (const double *)w->blk, (double *)w->prod);
}

/* ---- >>parcel to parcel ---------------------------------------------------------------------- */

SSDEF tp_result ss_parcel_corr(tp_pool *pool, const float *ts, size_t n_t, size_t n_v, size_t ld, const int32_t *parcel_of,
                               size_t n_parcels, double *r, size_t ldr, tp_error *err)
{
    tp_pool *own = NULL;
    tp_error e;
    double *mean, *norm;
    size_t P = n_parcels, bytes, t, v, a, b, *count;
    if (!ts || !parcel_of || !r || !n_v || !P) return tp_error_set(err, TP_ERR_ARG, "ss_parcel_corr: NULL pointer or zero size");
    if (n_t < 2) return tp_error_set(err, TP_ERR_ARG, "ss_parcel_corr: fewer than 2 time points: no correlation");
    if (ld < n_v || ldr < P) return tp_error_set(err, TP_ERR_ARG, "ss_parcel_corr: ld < n_v or ldr < n_parcels");
    for (v = 0; v < n_v; v++)
        if (parcel_of[v] < -1 || (parcel_of[v] >= 0 && (size_t)parcel_of[v] >= P))
            return tp_error_set(err, TP_ERR_ARG, "ss_parcel_corr: parcel_of[%zu] is %d, outside -1 .. %zu", v, (int)parcel_of[v],
                                P - 1);
    if (!tp_size_add(n_t, 2, &bytes) || !tp_size_mul(bytes, P, &bytes) || !tp_size_mul(bytes, sizeof(double), &bytes))
        return tp_error_set(err, TP_ERR_OVERFLOW, "ss_parcel_corr: %zu parcels x %zu time points overflow a size", P, n_t);
    if (!pool && tp_create(NULL, &own, &e) != TP_OK) return tp_error_set(err, e.code, "ss_parcel_corr: %s", e.message);
    if (!(mean = (double *)tp_alloc_at(own ? own : pool, bytes, TP_ZERO, __FILE__, __LINE__, &e))) {
        tp_destroy(own);
        return tp_error_set(err, e.code, "ss_parcel_corr: %s", e.message);
    }
    norm = mean + P * n_t;
    count = (size_t *)(void *)(norm + P); /* a size_t per parcel in the last P doubles' place */
    for (v = 0; v < n_v; v++)
        if (parcel_of[v] >= 0) count[parcel_of[v]]++;
    for (t = 0; t < n_t; t++) { /* each parcel's series: the sum of its voxels', row by row */
        const float *row = ts + t * ld;
        for (v = 0; v < n_v; v++)
            if (parcel_of[v] >= 0) mean[(size_t)parcel_of[v] * n_t + t] += row[v];
    }
    for (a = 0; a < P; a++) { /* centred, and its norm; an empty or constant parcel has norm 0 */
        double *x = mean + a * n_t, m = 0, ss = 0;
        for (t = 0; t < n_t && count[a]; t++) x[t] /= (double)count[a], m += x[t];
        m /= (double)n_t;
        for (t = 0; t < n_t; t++) x[t] = count[a] ? x[t] - m : 0, ss += x[t] * x[t];
        norm[a] = sqrt(ss);
    }
    for (a = 0; a < P; a++)
        for (b = a; b < P; b++) {
            double dot = 0, c;
            for (t = 0; t < n_t; t++) dot += mean[a * n_t + t] * mean[b * n_t + t];
            c = norm[a] > 0 && norm[b] > 0 ? (a == b ? 1.0 : dot / (norm[a] * norm[b])) : NAN;
            c = c > 1 ? 1 : c < -1 ? -1 : c; /* rounding past +-1 */
            r[a * ldr + b] = r[b * ldr + a] = c;
        }
    tp_free(own ? own : pool, mean);
    tp_destroy(own);
    tp_error_clear(err);
    return TP_OK;
}

SSDEF tp_result ss_seedcorr(tp_pool *pool, const float *ts, size_t n_t, size_t n_v, size_t ld, const ss_seeds *seeds,
                            tp_dtype precision, double *r, size_t ldr, tp_error *err)
{
    size_t bytes, shared, l, v0, el = precision == TP_F32 ? sizeof(float) : sizeof(double);
    tp_pool *own = NULL;
    tp_error te;
    ss__corr c;
    ss__work w;
    tp_result res;
    tp_error_clear(err);
    if (!ts || !r) return ss__fail(err, TP_ERR_ARG, "ss_seedcorr: ts or r is NULL");
    if ((res = ss__check_seeds(seeds, n_t, n_v, err)) != TP_OK) {
        tp_error_prefix(err, "ss_seedcorr");
        return res;
    }
    if (ld < n_v || ldr < n_v) return ss__fail(err, TP_ERR_ARG, "ss_seedcorr: the row strides ld and ldr must be >= n_v");
    if ((res = tp_dtype_check(precision, "ss_seedcorr: precision", err)) != TP_OK) return res;
    if (!(bytes = ss__seedcorr_bytes(n_t, n_v, seeds->n_seeds, precision)))
        return ss__fail(err, TP_ERR_OVERFLOW, "ss_seedcorr: the sizes overflow");
    if (!pool && (res = tp_create(NULL, &own, &te)) != TP_OK) return tp_error_set(err, res, "ss_seedcorr: %s", te.message);
    if (!pool) pool = own;
    memset(&c, 0, sizeof c);
    c.ts = ts, c.n_t = n_t, c.n_v = n_v, c.ld = ld, c.L = seeds->n_seeds, c.precision = precision, c.k = ss__pick_kernels();
    shared = ss__corr_bytes(n_t, n_v, c.L, precision, 0, c.at, NULL);
    if (!(c.shared = (char *)tp_alloc_at(pool, bytes, 0, __FILE__, __LINE__, &te))) {
        if (own) tp_destroy(own);
        return tp_error_set(err, te.code, "ss_seedcorr: %s", te.message);
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
                double v = precision == TP_F32 ? (double)((const float *)(const void *)p)[j] : ((const double *)(const void *)p)[j];
                dst[j] = live ? (v - w.mean[j] * sa) * w.inv[j] : 0.0 / 0.0;
            }
        }
    }
    tp_free(pool, c.shared);
    if (own) tp_destroy(own);
    return TP_OK;
}

/* ---- >>pini ----------------------------------------------------------------------------------- */

/* Scratch of n zeroed doubles into *out from pool, or a private pool's (*own receives it) */
static tp_result ss__scratch(tp_pool *pool, tp_pool **own, size_t n, double **out, const char *who, tp_error *err)
{
    tp_error e;
    size_t bytes;
    *own = NULL;
    if (!tp_size_mul(n, sizeof(double), &bytes))
        return tp_error_set(err, TP_ERR_OVERFLOW, "%s: the scratch size overflows", who);
    if (!pool && tp_create(NULL, own, &e) != TP_OK) return tp_error_set(err, e.code, "%s: %s", who, e.message);
    if (!(*out = (double *)tp_alloc_at(pool ? pool : *own, bytes ? bytes : 1, TP_ZERO, __FILE__, __LINE__, &e))) {
        tp_destroy(*own);
        *own = NULL;
        return tp_error_set(err, e.code, "%s: %s", who, e.message);
    }
    return TP_OK;
}

static void ss__scratch_free(tp_pool *pool, tp_pool *own, double *p)
{
    tp_free(own ? own : pool, p);
    tp_destroy(own);
}

SSDEF tp_result ss_pini_row(tp_pool *pool, const float *ts, size_t n_t, size_t n_v, size_t ld, const ss_seeds *seeds,
                            double *row, tp_error *err)
{
    tp_pool *own;
    tp_result res;
    double *mean, *sum, *sq, *cross;
    size_t L, n_all, n, t, l, i;
    tp_error_clear(err);
    if (!ts || !row) return ss__fail(err, TP_ERR_ARG, "ss_pini_row: ts or row is NULL");
    if ((res = ss__check_seeds(seeds, n_t, n_v, err)) != TP_OK) {
        tp_error_prefix(err, "ss_pini_row");
        return res;
    }
    if (ld < n_v) return ss__fail(err, TP_ERR_ARG, "ss_pini_row: the row stride ld must be >= n_v");
    L = seeds->n_seeds, n_all = seeds->offsets[L];
    if (n_all > SIZE_MAX / 4 || !tp_size_mul(L, n_t, &n) || !tp_size_add(n, 3 * n_all, &n))
        return ss__fail(err, TP_ERR_OVERFLOW, "ss_pini_row: the sizes overflow");
    if ((res = ss__scratch(pool, &own, n, &mean, "ss_pini_row", err)) != TP_OK) return res;
    sum = mean + L * n_t, sq = sum + n_all, cross = sq + n_all;
    for (t = 0; t < n_t; t++) { /* each seed's series: the plain mean of its voxels */
        const float *x = ts + t * ld;
        for (l = 0; l < L; l++) {
            double s = 0;
            for (i = seeds->offsets[l]; i < seeds->offsets[l + 1]; i++) s += x[seeds->voxels[i]];
            mean[l * n_t + t] = s / (double)(seeds->offsets[l + 1] - seeds->offsets[l]);
        }
    }
    for (l = 0; l < L; l++) { /* centred; a constant series exactly 0 (its mean need not round back) */
        double *m = mean + l * n_t, c = 0, lo = m[0], hi = m[0];
        for (t = 0; t < n_t; t++) c += m[t], lo = m[t] < lo ? m[t] : lo, hi = m[t] > hi ? m[t] : hi;
        c /= (double)n_t;
        for (t = 0; t < n_t; t++) m[t] = lo == hi ? 0 : m[t] - c;
    }
    for (t = 0; t < n_t; t++) { /* per voxel, d = x - x_0: sums of d, d^2 and d m */
        const float *x = ts + t * ld;
        for (l = 0; l < L; l++) {
            double m = mean[l * n_t + t];
            for (i = seeds->offsets[l]; i < seeds->offsets[l + 1]; i++) {
                double d = (double)x[seeds->voxels[i]] - (double)ts[seeds->voxels[i]];
                sum[i] += d, sq[i] += d * d, cross[i] += d * m;
            }
        }
    }
    for (l = 0; l < L; l++) {
        const double *m = mean + l * n_t;
        double mm = 0, ms = 0;
        for (t = 0; t < n_t; t++) mm += m[t] * m[t], ms += m[t];
        for (i = seeds->offsets[l]; i < seeds->offsets[l + 1]; i++) {
            double ssd = sq[i] - sum[i] * (sum[i] / (double)n_t), cov = cross[i] - (sum[i] / (double)n_t) * ms;
            row[i] = ssd > 0 && mm > 0 ? cov / (sqrt(ssd) * sqrt(mm)) : 0.0;
        }
    }
    ss__scratch_free(pool, own, mean);
    return TP_OK;
}

/* Householder reduction of the symmetric n x n a (row-major, overwritten) to tridiagonal d, e;
   the unit Householder vectors stay in a's columns below the subdiagonal (zero: none) */
static void ss__tridiagonal(double *a, size_t n, double *d, double *e, double *v, double *w)
{
    size_t k, i, j;
    for (k = 0; k + 2 < n; k++) {
        double norm = 0, alpha, vn = 0, kk = 0;
        d[k] = a[k * n + k];
        for (i = k + 1; i < n; i++) norm += a[i * n + k] * a[i * n + k];
        norm = sqrt(norm);
        if (norm == 0) {
            e[k] = 0;
            continue;
        }
        alpha = a[(k + 1) * n + k] > 0 ? -norm : norm;
        for (i = k + 1; i < n; i++) v[i] = a[i * n + k];
        v[k + 1] -= alpha;
        for (i = k + 1; i < n; i++) vn += v[i] * v[i];
        vn = sqrt(vn);
        for (i = k + 1; i < n; i++) a[i * n + k] = v[i] /= vn;
        e[k] = alpha;
        for (i = k + 1; i < n; i++) { /* w = A v - (v' A v) v; A -= 2 (v w' + w v') */
            double s = 0;
            for (j = k + 1; j < n; j++) s += a[i * n + j] * v[j];
            w[i] = s;
            kk += v[i] * s;
        }
        for (i = k + 1; i < n; i++) w[i] -= kk * v[i];
        for (i = k + 1; i < n; i++)
            for (j = k + 1; j < n; j++) a[i * n + j] -= 2 * (v[i] * w[j] + w[i] * v[j]);
    }
    if (n >= 2) d[n - 2] = a[(n - 2) * n + n - 2], e[n - 2] = a[(n - 1) * n + n - 2];
    d[n - 1] = a[(n - 1) * n + n - 1];
}

/* Eigenvalues of the tridiagonal (d, e) below x (Sturm) */
static size_t ss__sturm_below(const double *d, const double *e, size_t n, double x, double pivmin)
{
    size_t c = 0, i;
    double q = d[0] - x;
    for (i = 0;; i++) {
        if (fabs(q) < pivmin) q = -pivmin;
        c += q < 0;
        if (i + 1 == n) return c;
        q = d[i + 1] - x - e[i] * e[i] / q;
    }
}

/* Solves (T - s I) z = b in place by Gaussian elimination with partial pivoting (a zero pivot
   becomes tiny: s is an eigenvalue) */
static void ss__tridiag_solve(const double *d, const double *e, size_t n, double s, double tiny, double *b, double *work)
{
    double *dd = work, *du = dd + n, *du2 = du + n, *dl = du2 + n;
    unsigned char *swap = (unsigned char *)(dl + n);
    size_t i;
    for (i = 0; i < n; i++) dd[i] = d[i] - s, du[i] = i + 1 < n ? e[i] : 0, dl[i] = du[i], du2[i] = 0;
    for (i = 0; i + 1 < n; i++) {
        swap[i] = fabs(dd[i]) < fabs(dl[i]);
        if (!swap[i]) {
            if (dd[i] == 0) dd[i] = tiny;
            dl[i] /= dd[i];
            dd[i + 1] -= dl[i] * du[i];
        } else {
            double f = dd[i] / dl[i], u = du[i];
            dd[i] = dl[i], dl[i] = f;
            du[i] = dd[i + 1], dd[i + 1] = u - f * dd[i + 1];
            if (i + 2 < n) du2[i] = du[i + 1], du[i + 1] *= -f;
        }
    }
    if (dd[n - 1] == 0) dd[n - 1] = tiny;
    for (i = 0; i + 1 < n; i++) {
        if (swap[i]) {
            double x = b[i];
            b[i] = b[i + 1], b[i + 1] = x;
        }
        b[i + 1] -= dl[i] * b[i];
    }
    for (i = n; i-- > 0;)
        b[i] = (b[i] - (i + 1 < n ? du[i] * b[i + 1] : 0) - (i + 2 < n ? du2[i] * b[i + 2] : 0)) / dd[i];
}

/* The unit eigenvector y of the symmetric n x n a (overwritten) with the largest eigenvalue:
   Householder to tridiagonal, the eigenvalue by bisection (Sturm counts), its vector by inverse
   iteration, then back through the reflections. work: 8 n doubles. */
static void ss__top_eigvec(double *a, size_t n, double *y, double *work)
{
    double *d = work, *e = d + n, *v = e + n, *w = v + n, lo, hi, scale = 0, pivmin;
    size_t i, k, it;
    unsigned long long s = 0x9e3779b97f4a7c15ull;
    if (n == 1) {
        y[0] = 1;
        return;
    }
    ss__tridiagonal(a, n, d, e, v, w);
    for (i = 0; i < n; i++) scale = fmax(scale, fabs(d[i]) + (i ? fabs(e[i - 1]) : 0) + (i + 1 < n ? fabs(e[i]) : 0));
    if (scale == 0) scale = 1;
    pivmin = DBL_MIN * scale * scale > DBL_MIN ? DBL_MIN * scale * scale : DBL_MIN;
    lo = -scale, hi = scale; /* Gershgorin */
    for (it = 0; it < 200 && hi - lo > 4 * DBL_EPSILON * fmax(fabs(lo), fabs(hi)) + pivmin; it++) {
        double mid = 0.5 * (lo + hi);
        if (ss__sturm_below(d, e, n, mid, pivmin) == n) hi = mid;
        else lo = mid;
    }
    for (i = 0; i < n; i++) { /* a start no eigenvector is orthogonal to but by chance */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        y[i] = (double)(s >> 11) / 9007199254740992.0 + 0.5;
    }
    for (it = 0; it < 3; it++) {
        double big = 0, nrm = 0;
        ss__tridiag_solve(d, e, n, hi, DBL_EPSILON * scale, y, v);
        for (i = 0; i < n; i++) big = fmax(big, fabs(y[i]));
        if (!(big > 0) || big != big) break;
        for (i = 0; i < n; i++) y[i] /= big, nrm += y[i] * y[i];
        nrm = sqrt(nrm);
        for (i = 0; i < n; i++) y[i] /= nrm;
    }
    for (k = n >= 3 ? n - 2 : 0; k-- > 0;) { /* y = H_0 ... H_{n-3} y */
        double dot = 0;
        for (i = k + 1; i < n; i++) dot += a[i * n + k] * y[i];
        for (i = k + 1; i < n; i++) y[i] -= 2 * dot * a[i * n + k];
    }
}

/* numpy's percentile (method 'linear') of the n sorted values */
static double ss__percentile_sorted(const double *x, size_t n, double percentile)
{
    double at = (double)(n - 1) * (percentile / 100), g, lo, hi;
    size_t i;
    if (at >= (double)(n - 1)) return x[n - 1];
    i = (size_t)floor(at);
    g = at - (double)i, lo = x[i], hi = x[i + 1];
    return g >= 0.5 ? hi - (hi - lo) * (1 - g) : lo + (hi - lo) * g;
}

static int ss__by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One seed's loadings (n voxels) from its S x n matrix m (centred over subjects here); returns 0
   when the matrix does not vary (loadings 0). g: k x k, work: 10 k doubles (k = min(S, n)). */
static int ss__pini_axis(double *m, size_t S, size_t n, double *g, double *work, double *load)
{
    size_t s, i, j, t, k = S < n ? S : n, big = 0;
    int varies = 0;
    for (i = 0; i < n; i++) {
        double c = 0;
        for (s = 0; s < S; s++) c += m[s * n + i];
        c /= (double)S;
        for (s = 0; s < S; s++) m[s * n + i] -= c, varies |= m[s * n + i] != 0;
    }
    if (!varies) {
        for (i = 0; i < n; i++) load[i] = 0;
        return 0;
    }
    for (i = 0; i < k; i++) /* the smaller Gram matrix: subjects' (S <= n) or voxels' */
        for (j = 0; j <= i; j++) {
            double x = 0;
            if (S <= n)
                for (t = 0; t < n; t++) x += m[i * n + t] * m[j * n + t];
            else
                for (s = 0; s < S; s++) x += m[s * n + i] * m[s * n + j];
            g[i * k + j] = g[j * k + i] = x;
        }
    ss__top_eigvec(g, k, work + 8 * k, work);
    if (S <= n) { /* the right singular vector: m' u, normalised */
        double nrm = 0;
        for (i = 0; i < n; i++) {
            double x = 0;
            for (s = 0; s < S; s++) x += m[s * n + i] * work[8 * k + s];
            load[i] = x, nrm += x * x;
        }
        nrm = sqrt(nrm);
        for (i = 0; i < n; i++) load[i] /= nrm;
    } else
        for (i = 0; i < n; i++) load[i] = work[8 * k + i];
    for (i = 1; i < n; i++) big = fabs(load[i]) > fabs(load[big]) ? i : big;
    if (load[big] < 0)
        for (i = 0; i < n; i++) load[i] = -load[i];
    return 1;
}

SSDEF tp_result ss_pini_select(tp_pool *pool, const double *rows, size_t n_subjects, size_t ldrow, const ss_seeds *seeds,
                               double percentile, int64_t *voxels, size_t *offsets, double *loadings, tp_error *err)
{
    tp_pool *own;
    tp_result res;
    double *m, *g, *work, *load, *sorted, threshold;
    size_t L, l, i, s, need = 0, kept = 0, S = n_subjects;
    tp_error_clear(err);
    if (!rows || !voxels || !offsets) return ss__fail(err, TP_ERR_ARG, "ss_pini_select: rows, voxels or offsets is NULL");
    if ((res = ss__check_seeds(seeds, 2, SIZE_MAX, err)) != TP_OK) {
        tp_error_prefix(err, "ss_pini_select");
        return res;
    }
    L = seeds->n_seeds;
    if (!S) return ss__fail(err, TP_ERR_ARG, "ss_pini_select: n_subjects is 0");
    if (ldrow < seeds->offsets[L]) return ss__fail(err, TP_ERR_ARG, "ss_pini_select: ldrow is shorter than a row");
    if (!(percentile >= 0 && percentile <= 100))
        return tp_error_set(err, TP_ERR_ARG, "ss_pini_select: percentile %g is outside 0 .. 100", percentile);
    for (l = 0; l < L; l++) { /* the largest seed's scratch: matrix, Gram, 10 k + 2 n more */
        size_t n = seeds->offsets[l + 1] - seeds->offsets[l], k = S < n ? S : n, x, y;
        if (n > SIZE_MAX / 16 || !tp_size_mul(S, n, &x) || !tp_size_mul(k, k, &y) || !tp_size_add(x, y, &x) ||
            !tp_size_add(x, 10 * k + 2 * n, &x))
            return ss__fail(err, TP_ERR_OVERFLOW, "ss_pini_select: the sizes overflow");
        need = x > need ? x : need;
    }
    if ((res = ss__scratch(pool, &own, need, &m, "ss_pini_select", err)) != TP_OK) return res;
    offsets[0] = 0;
    for (l = 0; l < L; l++) {
        size_t a = seeds->offsets[l], n = seeds->offsets[l + 1] - a, k = S < n ? S : n;
        int varies;
        g = m + S * n, work = g + k * k, load = work + 10 * k, sorted = load + n;
        for (s = 0; s < S; s++)
            for (i = 0; i < n; i++) {
                double x = rows[s * ldrow + a + i];
                m[s * n + i] = x == x ? x : 0.0;
            }
        varies = ss__pini_axis(m, S, n, g, work, load);
        for (i = 0; i < n; i++) sorted[i] = fabs(load[i]);
        qsort(sorted, n, sizeof *sorted, ss__by_double);
        threshold = varies ? ss__percentile_sorted(sorted, n, percentile) : 0;
        for (i = 0; i < n; i++)
            if (fabs(load[i]) >= threshold) voxels[kept++] = seeds->voxels[a + i];
        if (loadings) memcpy(loadings + a, load, n * sizeof *load);
        offsets[l + 1] = kept;
    }
    ss__scratch_free(pool, own, m);
    return TP_OK;
}

/* ---- >>lnm pipeline ---------------------------------------------------------------------------- */

static ss_nan_policy ss__policy_nan(ss_policy policy) { return policy == SS_POLICY_STRICT ? SS_NAN_PROPAGATE : SS_NAN_AS_ZERO; }

/* Bytes of one accumulator as ss_moments_create requests them */
static size_t ss__moments_bytes(size_t nf, ss_nan_policy policy) { return ss__moments_head() + nf * ss__per_feature(policy); }

/* desc with its defaults resolved (precision, n_threads) */
static ss_lnm_desc ss__lnm_resolve(const ss_lnm_desc *d)
{
    ss_lnm_desc r = *d;
    if (!r.precision) r.precision = TP_F32;
    r.n_threads = tp_thread_count(r.n_threads);
    return r;
}

/* reading ahead needs a second worker and a second subject */
static int ss__ahead(const ss_lnm_desc *d) { return d->read && d->read_ahead && d->n_threads > 1 && d->n_subjects > 1; }

/* The checks of ss_lnm on a resolved desc (and out), and the bytes it takes from the pool */
static tp_result ss__lnm_check(const ss_lnm_desc *d, const ss_lnm_maps *out, size_t *total, tp_error *err)
{
    size_t lv, slab, acc, shared, worker;
    tp_result res;
    if (!d->n_subjects || !d->n_t || !d->n_v)
        return tp_error_set(err, TP_ERR_ARG, "desc.n_subjects, n_t and n_v must be >= 1, got %zu, %zu, %zu", d->n_subjects,
                            d->n_t, d->n_v);
    if (!d->read == !d->view) return ss__fail(err, TP_ERR_ARG, "give exactly one of desc.read and desc.view");
    if (d->policy < SS_POLICY_STRICT || d->policy > SS_POLICY_LDK_SINGLE)
        return tp_error_set(err, TP_ERR_ARG, "desc.policy must be one of SS_POLICY_*, got %d", (int)d->policy);
    if (d->precision != TP_F32 && d->precision != TP_F64)
        return tp_error_set(err, TP_ERR_ARG, "desc.precision must be TP_F32 or TP_F64 (0 = TP_F32), got %d", (int)d->precision);
    if (!d->n_threads)
        return tp_error_set(err, TP_ERR_ARG, "desc.n_threads must lie in 0 .. %d (0 = the usable CPUs)", TP_MAX_THREADS);
    if (d->skip_avg_r && out && out->avg_r) return ss__fail(err, TP_ERR_ARG, "out->avg_r asked for with desc.skip_avg_r set");
    if ((res = ss__check_seeds(d->seeds, d->n_t, d->n_v, err)) != TP_OK) return res;
    if (!tp_size_mul(d->seeds->n_seeds, d->n_v, &lv) || !tp_size_mul(d->n_t, d->n_v, &slab) ||
        !tp_size_mul(slab, sizeof(float), &slab) || lv > ((size_t)-1) / 64)
        return ss__fail(err, TP_ERR_OVERFLOW, "the sizes overflow");
    shared = ss__corr_bytes(d->n_t, d->n_v, d->seeds->n_seeds, d->precision, 0, NULL, NULL);
    worker = ss__corr_bytes(d->n_t, d->n_v, d->seeds->n_seeds, d->precision, 1, NULL, NULL);
    if (!shared || !worker || !tp_size_mul(worker, (size_t)d->n_threads, &worker))
        return ss__fail(err, TP_ERR_OVERFLOW, "the sizes overflow");
    acc = (d->skip_avg_r ? 1 : 2) * ss__moments_bytes(lv, ss__policy_nan(d->policy));
    if (d->subject_r) acc += lv * sizeof(float); /* the subject's r for the callback */
    if (ss__ahead(d) && !tp_size_mul(slab, 2, &slab)) return ss__fail(err, TP_ERR_OVERFLOW, "the sizes overflow");
    if (!d->read) slab = 0; /* subjects shown in place */
    /* the slab(s), the accumulators, the correlation's shared and per-worker scratch, the team */
    if (!tp_size_add(slab, acc, total) || !tp_size_add(*total, shared, total) || !tp_size_add(*total, worker, total) ||
        !tp_size_add(*total, d->n_threads > 1 ? tp_team_bytes(d->n_threads) : 0, total))
        return ss__fail(err, TP_ERR_OVERFLOW, "the sizes overflow");
    return TP_OK;
}

SSDEF tp_result ss_lnm_estimate_bytes(const ss_lnm_desc *desc, size_t *bytes, tp_error *err)
{
    ss_lnm_desc d;
    tp_result r;
    if (bytes) *bytes = 0;
    if (!desc || !bytes) return tp_error_set(err, TP_ERR_ARG, "ss_lnm_estimate_bytes: desc or bytes is NULL");
    if (desc->n_threads < 0 || desc->n_threads > TP_MAX_THREADS)
        return tp_error_set(err, TP_ERR_ARG, "ss_lnm_estimate_bytes: desc.n_threads must lie in 0 .. %d, got %d", TP_MAX_THREADS,
                            desc->n_threads);
    d = ss__lnm_resolve(desc);
    if ((r = ss__lnm_check(&d, NULL, bytes, err)) != TP_OK) tp_error_prefix(err, "ss_lnm_estimate_bytes");
    else tp_error_clear(err);
    return r;
}

SSDEF tp_result ss_lnm_finalize(const ss_moments *z, const ss_moments *r, ss_policy policy, const ss_lnm_maps *out,
                                tp_error *err)
{
    ss_maps m;
    ss_finalize_opts o;
    size_t i, nf;
    tp_result res;
    if (!z || !out) return tp_error_set(err, TP_ERR_ARG, "ss_lnm_finalize: z or out is NULL");
    if (policy < SS_POLICY_STRICT || policy > SS_POLICY_LDK_SINGLE)
        return tp_error_set(err, TP_ERR_ARG, "ss_lnm_finalize: policy must be one of SS_POLICY_*, got %d", (int)policy);
    memset(&m, 0, sizeof m);
    memset(&o, 0, sizeof o);
    o.ddof = policy == SS_POLICY_LDK ? 0 : 1;
    o.t_population = policy == SS_POLICY_LDK;
    o.t_zero_se = policy == SS_POLICY_STRICT ? SS_T_ZERO_SE_NAN : SS_T_ZERO_SE_ZERO;
    m.mean = out->mean_z ? out->mean_z : out->mean_r;
    m.std = out->std_z;
    m.t = out->t;
    m.p = out->p;
    if ((res = ss_moments_finalize(z, &o, &m, err)) != TP_OK) return res;
    nf = z->n_features;
    if (out->mean_r)
        for (i = 0; i < nf; i++) out->mean_r[i] = tanh(m.mean[i]);
    if (r && out->avg_r) {
        memset(&m, 0, sizeof m);
        m.mean = out->avg_r;
        return ss_moments_finalize(r, NULL, &m, err);
    }
    tp_error_clear(err);
    return TP_OK;
}

/* One subject inside ss_lnm: the correlation and the accumulators its blocks fold into. Its
   items: the seeds' raw series, SS__SEED_ROWS rows each (phase 0), then the blocks of voxels
   (phase 1); between them the caller finishes the seeds. */
typedef struct ss__read {  /* a subject read by a worker (read_ahead) */
    const ss_lnm_desc *d;
    size_t k;
    float *slab;
    tp_result rc;
    tp_error why;
} ss__read;

typedef struct ss__lnm_job {
    ss__corr c;
    const ss_seeds *seeds;
    ss_moments *z, *r;
    ss__fold f;     /* the subject's weights and rules; the row pointers are set per block */
    int phase;
    ss__read *next; /* phase 1's item 0 reads the next subject into the other slab; NULL: none */
    ss__work *work; /* each worker's scratch, by team worker */
    float *subject_r;                        /* L x n_v: this subject's r (desc.subject_r), or NULL */
    unsigned char bad_voxel[TP_MAX_THREADS]; /* by worker: a block of this subject had a voxel without r */
    size_t n_bad_voxel, n_bad_seed;          /* subjects so far (ss_lnm_info) */
} ss__lnm_job;

/* desc.subject_r: one seed's r over a block of nb voxels, as the fold computes it
   (ss__fold_plain, ss__fold32_plain), as float; prod: the seed's row of products */
static void ss__record_r(const ss__corr *c, const ss__work *w, const ss__fold *f, int live, size_t l, size_t nb, float *dst)
{
    size_t j;
    for (j = 0; j < nb; j++) {
        if (!live)
            dst[j] = 0.0f / 0.0f;
        else if (c->precision == TP_F32)
            dst[j] = (((const float *)w->prod)[l * nb + j] - f->dmf[j] * f->saf) * SS__INVF(w->mean, nb)[j];
        else
            dst[j] = (float)((((const double *)w->prod)[l * nb + j] - f->dm[j] * f->sa) * w->inv[j]);
    }
}

/* Block b of the subject: its r, z folded into every seed's cells for those voxels. Returns 1
   when a voxel of the block has no r (its inverse norm is NaN: a NaN, infinite or constant
   series). */
static int ss__lnm_block(const ss__lnm_job *job, const ss__work *w, size_t b)
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
        else if (c->precision == TP_F32)
            c->k.fold32(&f, (const float *)w->prod + l * nb, SS__INVF(w->mean, nb), 0, nb);
        else
            c->k.fold(&f, (const double *)w->prod + l * nb, w->inv, 0, nb);
        if (job->subject_r) ss__record_r(c, w, &f, live[l], l, nb, job->subject_r + cell);
    }
    for (j = 0; j < nb; j++)
        if (w->inv[j] != w->inv[j]) return 1;
    return 0;
}

static tp_result ss__read_subject(const ss_lnm_desc *d, size_t k, float *slab, tp_error *why)
{
    tp_error_clear(why);
    return d->read(d->source_user, k, slab, why);
}

static tp_result ss__read_failed(const ss__read *r, tp_error *err)
{
    return tp_error_set(err, r->rc, "subject %zu: %s", r->k, r->why.message[0] ? r->why.message : "the reader failed");
}

/* Item i of the job's phase, by team worker `worker` */
static void ss__lnm_item(void *user, int worker, size_t i)
{
    ss__lnm_job *job = (ss__lnm_job *)user;
    ss__read *nx = job->next;
    if (job->phase == 0) {
        size_t t1 = (i + 1) * SS__SEED_ROWS < job->c.n_t ? (i + 1) * SS__SEED_ROWS : job->c.n_t;
        ss__seed_rows(&job->c, job->seeds, i * SS__SEED_ROWS, t1);
    } else if (!nx || i > 0) {
        if (ss__lnm_block(job, &job->work[worker], nx ? i - 1 : i)) job->bad_voxel[worker] = 1;
    } else {
        nx->rc = ss__read_subject(nx->d, nx->k, nx->slab, &nx->why);
    }
}

/* The items of the job's phase on the team (each cell folded by one worker per subject, subjects
   in order: the maps do not depend on the number of workers) */
static void ss__lnm_phase(ss__lnm_job *job, tp_team *team)
{
    size_t n_items = job->phase == 0 ? (job->c.n_t + SS__SEED_ROWS - 1) / SS__SEED_ROWS
                                     : (job->c.n_v + SS__BLOCK - 1) / SS__BLOCK + (job->next != NULL);
    tp_team_for(team, n_items, ss__lnm_item, job);
}

/* The subjects, one after the other, into the job's accumulators */
static tp_result ss__lnm_subjects(const ss_lnm_desc *d, ss__lnm_job *job, tp_team *team, float **slabs, int ahead,
                                  tp_error *err)
{
    ss__read next;
    size_t k, l;
    next.d = d, next.rc = TP_OK;
    for (k = 0; k < d->n_subjects; k++) {
        job->c.ts = slabs[k % 2];
        if (d->view) {
            next.k = k;
            tp_error_clear(&next.why);
            next.rc = (job->c.ts = d->view(d->source_user, k, &next.why)) == NULL ? TP_ERR_IO : TP_OK;
            if (next.rc != TP_OK && next.why.code != TP_OK) next.rc = next.why.code;
        } else if (k == 0 || !ahead)
            next.k = k, next.rc = ss__read_subject(d, k, slabs[k % 2], &next.why);
        if (next.rc != TP_OK) return ss__read_failed(&next, err);
        next.k = k + 1, next.slab = slabs[(k + 1) % 2];
        job->next = ahead && k + 1 < d->n_subjects ? &next : NULL;
        job->f.first = k == 0;
        job->f.w1 = 1.0 / (double)(k + 1);
        job->f.w2 = (double)k / (double)(k + 1);
        job->phase = 0;
        ss__lnm_phase(job, team);
        for (l = 0; l < job->c.L; l++) ss__seed_finish(&job->c, l);
        job->n_bad_seed += memchr(job->c.shared + job->c.at[1], 0, job->c.L) != NULL; /* a seed not live */
        job->phase = 1;
        memset(job->bad_voxel, 0, sizeof job->bad_voxel);
        ss__lnm_phase(job, team);
        job->n_bad_voxel += memchr(job->bad_voxel, 1, sizeof job->bad_voxel) != NULL;
        job->z->count++;
        if (job->r) job->r->count++;
        if (next.rc != TP_OK) return ss__read_failed(&next, err);
        if (d->subject_r) {
            tp_error why;
            tp_result rc;
            tp_error_clear(&why);
            if ((rc = d->subject_r(d->subject_user, k, job->subject_r, job->c.L, job->c.n_v, &why)) != TP_OK)
                return tp_error_set(err, rc, "subject %zu: desc.subject_r: %s", k, why.message[0] ? why.message : "failed");
        }
        if (d->progress && d->progress(d->user, (uint64_t)(k + 1), (uint64_t)d->n_subjects))
            return tp_error_set(err, TP_ERR_CANCELLED, "cancelled by the progress callback after %zu of %zu subjects", k + 1,
                                d->n_subjects);
    }
    return TP_OK;
}

static tp_result ss__lnm(const ss_lnm_desc *desc, const ss_lnm_maps *out, ss_lnm_state *state, tp_error *err)
{
    ss_lnm_desc d;
    tp_pool *pool, *own = NULL;
    tp_team *team = NULL;
    tp_error te;
    ss_moments *zacc = NULL, *racc = NULL;
    ss_moments_desc md;
    float *slab = NULL, *slabs[2];
    char *scratch = NULL;
    size_t L, shared, per, slab_bytes, total;
    int i, n, ahead;
    ss__lnm_job job;
    ss__work work[TP_MAX_THREADS];
    tp_result res;
    if (!desc || (!out && !state)) return ss__fail(err, TP_ERR_ARG, "desc is NULL, or both out and state are");
    if (desc->n_threads < 0 || desc->n_threads > TP_MAX_THREADS)
        return tp_error_set(err, TP_ERR_ARG, "desc.n_threads must lie in 0 .. %d (0 = the usable CPUs), got %d", TP_MAX_THREADS,
                            desc->n_threads);
    d = ss__lnm_resolve(desc);
    if ((res = ss__lnm_check(&d, out, &total, err)) != TP_OK) return res;
    L = d.seeds->n_seeds;
    memset(&job, 0, sizeof job);
    job.c.n_t = d.n_t, job.c.n_v = d.n_v, job.c.ld = d.n_v, job.c.L = L, job.c.precision = d.precision;
    job.c.k = ss__pick_kernels();
    job.seeds = d.seeds;
    job.work = work;
    job.f.as_zero = ss__policy_nan(d.policy) == SS_NAN_AS_ZERO;
    job.f.z_inf = d.policy == SS_POLICY_STRICT ? 0.0 : d.policy == SS_POLICY_LDK_SINGLE ? 10.0 : 3.0;
    shared = ss__corr_bytes(d.n_t, d.n_v, L, d.precision, 0, job.c.at, NULL);
    per = ss__corr_bytes(d.n_t, d.n_v, L, d.precision, 1, NULL, NULL);
    n = d.n_threads;
    ahead = ss__ahead(&d);
    slab_bytes = d.n_t * d.n_v * sizeof(float);
    if (!(pool = d.pool) && (res = tp_create(NULL, &own, &te)) != TP_OK) return ss__fail(err, res, te.message);
    if (!pool) pool = own;
    if (!d.log.fn) d.log = tp_get_desc(pool).log;
    if (d.read && !(slab = (float *)tp_alloc_at(pool, (ahead ? 2 : 1) * slab_bytes, 0, __FILE__, __LINE__, &te))) goto fail_te;
    if (!(scratch = (char *)tp_alloc_at(pool, shared + (size_t)n * per, 0, __FILE__, __LINE__, &te))) goto fail_te;
    if (d.subject_r && !(job.subject_r = (float *)tp_alloc_at(pool, L * d.n_v * sizeof(float), 0, __FILE__, __LINE__, &te)))
        goto fail_te;
    slabs[0] = slab, slabs[1] = ahead ? slab + d.n_t * d.n_v : slab;
    job.c.shared = scratch;
    ss__corr_bytes(d.n_t, d.n_v, L, d.precision, 0, NULL, scratch);
    for (i = 0; i < n; i++) work[i] = ss__work_at(&job.c, scratch + shared + (size_t)i * per);
    /* states handed to the caller must outlive a private pool: they then get their own */
    memset(&md, 0, sizeof md);
    md.pool = own && state ? NULL : pool;
    md.n_features = L * d.n_v;
    md.nan_policy = ss__policy_nan(d.policy);
    if ((res = ss_moments_create(&md, &zacc, err)) != TP_OK || (!d.skip_avg_r && (res = ss_moments_create(&md, &racc, err)) != TP_OK))
        goto done;
    job.z = zacc, job.r = racc;
    if (n > 1) {
        tp_team_desc td;
        memset(&td, 0, sizeof td);
        td.n_threads = n, td.pool = pool, td.log = d.log;
        if ((res = tp_team_create(&td, &team, &te)) != TP_OK) goto fail_te;
    }
    if (out && out->info) out->info->n_workers = tp_team_size(team), out->info->bytes = total;
    if ((res = ss__lnm_subjects(&d, &job, team, slabs, ahead, err)) != TP_OK) goto done;
    if (out && out->info) out->info->n_subjects_bad_voxel = job.n_bad_voxel, out->info->n_subjects_bad_seed = job.n_bad_seed;
    if (out && (res = ss_lnm_finalize(zacc, racc, d.policy, out, err)) != TP_OK) goto done;
    if (state) {
        state->z = zacc;
        state->r = racc;
        zacc = racc = NULL;
    }
    goto done;
fail_te:
    res = ss__fail(err, te.code, te.message);
done:
    tp_team_destroy(team);
    ss_moments_destroy(racc);
    ss_moments_destroy(zacc);
    tp_free(pool, scratch);
    tp_free(pool, slab);
    tp_free(pool, job.subject_r);
    if (own) tp_destroy(own);
    return res;
}

SSDEF tp_result ss_lnm(const ss_lnm_desc *desc, const ss_lnm_maps *out, ss_lnm_state *state, tp_error *err)
{
    tp_result r;
    if (state) state->z = state->r = NULL;
    tp_error_clear(err);
    if ((r = ss__lnm(desc, out, state, err)) != TP_OK) tp_error_prefix(err, "ss_lnm");
    return r;
}

/* ---- >>hdf5 source ----------------------------------------------------------------------------- */
#if defined(STAT_STREAM_USE_HDF5)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SS__H5_MAX_DIM 32767 /* the largest grid dimension a NIfTI-1 volume can hold */

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

static int ss__is_h5_name(const char *name)
{
    size_t len = strlen(name);
    return len >= 4 && strcmp(name + len - 3, ".h5") == 0;
}

/* "dir/name" (name NULL: dir) from the pool */
static char *ss__h5_join(tp_pool *pool, const char *dir, const char *name, tp_error *err)
{
    size_t len = strlen(dir) + (name ? strlen(name) + 1 : 0) + 1;
    char *s = (char *)tp_alloc_at(pool, len, 0, __FILE__, __LINE__, err);
    if (s) snprintf(s, len, name ? "%s/%s" : "%s", dir, name ? name : "");
    return s;
}

/* The .h5 files of a directory, sorted, or path itself, into c->paths. Two passes over the
   directory: a file that appears between them is left out, one that goes is an error later. */
static tp_result ss__h5_list(ss_h5 *c, const char *path, tp_error *err)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    size_t n = 0, i = 0;
    tp_error te;
    if (!dir) {
        if (errno == ENOTDIR || errno == ENOENT) n = 1;
        else return tp_error_set(err, TP_ERR_IO, "%s: cannot read this directory: %s", path, strerror(errno));
    } else {
        while ((e = readdir(dir)) != NULL) n += ss__is_h5_name(e->d_name);
        if (!n) {
            closedir(dir);
            return tp_error_set(err, TP_ERR_IO, "%s: no .h5 file in this directory", path);
        }
    }
    c->paths = (char **)tp_alloc_at(c->pool, n * sizeof(char *), TP_ZERO, __FILE__, __LINE__, &te);
    if (!c->paths) {
        if (dir) closedir(dir);
        return tp_error_set(err, te.code, "the list of %zu files: %s", n, te.message);
    }
    c->n_files = n;
    if (!dir) {
        if (!(c->paths[0] = ss__h5_join(c->pool, path, NULL, &te))) return tp_error_set(err, te.code, "%s", te.message);
        return TP_OK;
    }
    rewinddir(dir);
    while (i < n && (e = readdir(dir)) != NULL) {
        if (!ss__is_h5_name(e->d_name)) continue;
        if (!(c->paths[i] = ss__h5_join(c->pool, path, e->d_name, &te))) {
            closedir(dir);
            return tp_error_set(err, te.code, "%s", te.message);
        }
        i++;
    }
    closedir(dir);
    c->n_files = i;
    qsort(c->paths, i, sizeof(char *), ss__by_name);
    return i ? TP_OK : tp_error_set(err, TP_ERR_IO, "%s: no .h5 file in this directory", path);
}

/* Whether dataset d stores its n_elem values: some storage at all (a dataset never written holds
   only fill values), and without compression at least n_elem of its elements. Sizes a file
   declares are believed only as far as the file backs them, so that a small crafted file cannot
   make the source allocate gigabytes for a mask it does not hold. */
static int ss__h5_stored(hid_t d, hsize_t n_elem)
{
    hid_t t = H5Dget_type(d), p = H5Dget_create_plist(d);
    hsize_t stored = H5Dget_storage_size(d);
    size_t elem = t >= 0 ? H5Tget_size(t) : 0;
    int filtered = p >= 0 && H5Pget_nfilters(p) > 0, ok;
    ok = n_elem == 0 || (stored > 0 && elem > 0 && (filtered || stored / elem >= n_elem));
    if (t >= 0) H5Tclose(t);
    if (p >= 0) H5Pclose(p);
    return ok;
}

/* dims of /timeseries in an open file, checked: rank 3, a floating-point type, at least 2 time
   points and 1 voxel, a subject's floats countable in a size_t, its values stored */
static tp_result ss__h5_shape(hid_t f, const char *name, hsize_t *dims, tp_error *err)
{
    hid_t d = H5Dopen2(f, "/timeseries", H5P_DEFAULT), s, t;
    int rank, is_float, stored;
    size_t bytes;
    if (d < 0) return tp_error_set(err, TP_ERR_FORMAT, "%s: no dataset /timeseries", name);
    s = H5Dget_space(d);
    t = H5Dget_type(d);
    rank = H5Sget_simple_extent_ndims(s);
    is_float = H5Tget_class(t) == H5T_FLOAT;
    if (rank == 3) H5Sget_simple_extent_dims(s, dims, NULL);
    stored = rank != 3 || ss__h5_stored(d, dims[0] * dims[1] * dims[2]); /* dims are unsigned: a product past 2^64 only lowers the bar */
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    if (rank != 3)
        return tp_error_set(err, TP_ERR_FORMAT, "%s: /timeseries has rank %d, want 3 (subjects, time points, voxels)", name, rank);
    if (!is_float) return tp_error_set(err, TP_ERR_FORMAT, "%s: /timeseries is not floating-point", name);
    if (dims[1] < 2 || dims[2] < 1)
        return tp_error_set(err, TP_ERR_FORMAT, "%s: /timeseries is %llu x %llu x %llu: want at least 2 time points and 1 voxel",
                            name, (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[2]);
    if (dims[0] > (hsize_t)SIZE_MAX || dims[1] > (hsize_t)SIZE_MAX || dims[2] > (hsize_t)SIZE_MAX ||
        !tp_size_mul((size_t)dims[1], (size_t)dims[2], &bytes) || !tp_size_mul(bytes, 3 * sizeof(int64_t), &bytes))
        return tp_error_set(err, TP_ERR_OVERFLOW, "%s: /timeseries of %llu x %llu x %llu does not fit in memory sizes", name,
                            (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[2]);
    if (!stored) return tp_error_set(err, TP_ERR_FORMAT, "%s: /timeseries declares more values than the file stores", name);
    return TP_OK;
}

/* The grid of a file: attribute mask_shape (3 integers, each 1 to SS__H5_MAX_DIM) and dataset
   /mask_affine (4 x 4 finite numbers, last row 0 0 0 1) */
static tp_result ss__h5_grid(hid_t f, const char *name, int64_t shape[3], double affine[16], tp_error *err)
{
    hid_t a = H5Aopen(f, "mask_shape", H5P_DEFAULT), d, s, t;
    hssize_t n = -1;
    hsize_t dims[2] = {0, 0};
    int is_int = 0, ok, i;
    if (a >= 0) {
        s = H5Aget_space(a), t = H5Aget_type(a);
        n = H5Sget_simple_extent_npoints(s);
        is_int = H5Tget_class(t) == H5T_INTEGER;
        H5Tclose(t), H5Sclose(s);
    }
    ok = a >= 0 && n == 3 && is_int && H5Aread(a, H5T_NATIVE_INT64, shape) >= 0;
    if (a >= 0) H5Aclose(a);
    if (!ok) return tp_error_set(err, TP_ERR_FORMAT, "%s: attribute mask_shape: %s", name, a < 0 ? "missing" : "want 3 integers");
    for (i = 0; i < 3; i++)
        if (shape[i] < 1 || shape[i] > SS__H5_MAX_DIM)
            return tp_error_set(err, TP_ERR_FORMAT, "%s: mask_shape[%d] is %lld: want 1 to %d", name, i, (long long)shape[i],
                                SS__H5_MAX_DIM);
    d = H5Dopen2(f, "/mask_affine", H5P_DEFAULT);
    ok = 0;
    if (d >= 0) {
        s = H5Dget_space(d), t = H5Dget_type(d);
        ok = H5Sget_simple_extent_ndims(s) == 2 && H5Sget_simple_extent_dims(s, dims, NULL) == 2 && dims[0] == 4 && dims[1] == 4 &&
             (H5Tget_class(t) == H5T_FLOAT || H5Tget_class(t) == H5T_INTEGER);
        H5Tclose(t), H5Sclose(s);
        ok = ok && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, affine) >= 0;
        H5Dclose(d);
    }
    if (!ok) return tp_error_set(err, TP_ERR_FORMAT, "%s: /mask_affine: %s", name, d < 0 ? "missing" : "want 4 x 4 numbers");
    for (i = 0; i < 16; i++)
        if (!isfinite(affine[i])) return tp_error_set(err, TP_ERR_FORMAT, "%s: /mask_affine[%d][%d] is not finite", name, i / 4, i % 4);
    if (affine[12] != 0 || affine[13] != 0 || affine[14] != 0 || affine[15] != 1)
        return tp_error_set(err, TP_ERR_FORMAT, "%s: /mask_affine's last row is %g %g %g %g: want 0 0 0 1", name, affine[12],
                            affine[13], affine[14], affine[15]);
    return TP_OK;
}

/* /mask_indices of a file: (3, n) or (n, 3) integers, stored; *by_row: (n, 3). Checked before
   anything is allocated for it. */
static tp_result ss__h5_mask_dims(hid_t f, const char *name, size_t n, int *by_row, tp_error *err)
{
    hid_t d = H5Dopen2(f, "/mask_indices", H5P_DEFAULT), s, t;
    hsize_t dims[2] = {0, 0};
    int ok;
    if (d < 0) return tp_error_set(err, TP_ERR_FORMAT, "%s: no dataset /mask_indices", name);
    s = H5Dget_space(d), t = H5Dget_type(d);
    ok = H5Sget_simple_extent_ndims(s) == 2 && H5Sget_simple_extent_dims(s, dims, NULL) == 2 &&
         ((dims[0] == 3 && dims[1] == n) || (dims[0] == n && dims[1] == 3)) && H5Tget_class(t) == H5T_INTEGER;
    H5Tclose(t), H5Sclose(s);
    if (ok && !ss__h5_stored(d, (hsize_t)3 * n)) {
        H5Dclose(d);
        return tp_error_set(err, TP_ERR_FORMAT, "%s: /mask_indices declares more values than the file stores", name);
    }
    H5Dclose(d);
    if (!ok) return tp_error_set(err, TP_ERR_FORMAT, "%s: /mask_indices: want (3, %zu) or (%zu, 3) integers", name, n, n);
    *by_row = dims[0] != 3;
    return TP_OK;
}

/* /mask_indices (as ss__h5_mask_dims found it) into dst as (3, n); tmp: 3 n scratch */
static tp_result ss__h5_mask_read(hid_t f, const char *name, size_t n, int by_row, int64_t *dst, int64_t *tmp, tp_error *err)
{
    hid_t d = H5Dopen2(f, "/mask_indices", H5P_DEFAULT);
    size_t v;
    int ok = d >= 0 && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) >= 0;
    if (d >= 0) H5Dclose(d);
    if (!ok) return tp_error_set(err, TP_ERR_FORMAT, "%s: /mask_indices: cannot read its values", name);
    if (!by_row) memcpy(dst, tmp, 3 * n * sizeof(int64_t));
    else
        for (v = 0; v < n; v++) dst[v] = tmp[3 * v], dst[n + v] = tmp[3 * v + 1], dst[2 * n + v] = tmp[3 * v + 2];
    return TP_OK;
}

static int ss__cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every voxel of the mask inside the grid, no two at one place (ijk as from ss__h5_mask_read;
   tmp: n uint64 of scratch) */
static tp_result ss__h5_mask_check(const char *name, const int64_t *ijk, size_t n, const int64_t shape[3], uint64_t *tmp,
                                   tp_error *err)
{
    static const char axis[3] = {'i', 'j', 'k'};
    size_t v;
    int a;
    for (v = 0; v < n; v++) {
        for (a = 0; a < 3; a++)
            if (ijk[a * n + v] < 0 || ijk[a * n + v] >= shape[a])
                return tp_error_set(err, TP_ERR_FORMAT, "%s: /mask_indices: voxel %zu has %c = %lld, outside mask_shape's 0 to %lld",
                                    name, v, axis[a], (long long)ijk[a * n + v], (long long)shape[a] - 1);
        tmp[v] = (uint64_t)ijk[v] + (uint64_t)shape[0] * ((uint64_t)ijk[n + v] + (uint64_t)shape[1] * (uint64_t)ijk[2 * n + v]);
    }
    qsort(tmp, n, sizeof *tmp, ss__cmp_u64);
    for (v = 1; v < n; v++)
        if (tmp[v] == tmp[v - 1]) {
            uint64_t at = tmp[v], sx = (uint64_t)shape[0], sy = (uint64_t)shape[1];
            return tp_error_set(err, TP_ERR_FORMAT, "%s: /mask_indices: two voxels at (%llu, %llu, %llu)", name,
                                (unsigned long long)(at % sx), (unsigned long long)(at / sx % sy), (unsigned long long)(at / sx / sy));
        }
    return TP_OK;
}

/* The mask and grid of file i: the first file's are checked and kept, the others' must equal them */
static tp_result ss__h5_geometry(ss_h5 *c, hid_t f, size_t i, tp_error *err)
{
    const char *name = c->paths[i];
    size_t n = c->n_v;
    int64_t shape[3], *ijk, *tmp;
    double affine[16];
    int by_row = 0;
    tp_result r;
    tp_error te;
    if ((r = ss__h5_grid(f, name, shape, affine, err)) != TP_OK) return r;
    if (i > 0 && (memcmp(shape, c->shape, sizeof shape) != 0 || memcmp(affine, c->affine, sizeof affine) != 0))
        return tp_error_set(err, TP_ERR_FORMAT, "%s: mask_shape or /mask_affine differ from %s's: the files are of different grids",
                            name, c->paths[0]);
    if ((r = ss__h5_mask_dims(f, name, n, &by_row, err)) != TP_OK) return r;
    if (i == 0 && !(c->mask = (int64_t *)tp_alloc_at(c->pool, 3 * n * sizeof(int64_t), 0, __FILE__, __LINE__, &te)))
        return tp_error_set(err, te.code, "%s: the mask (%zu bytes): %s", name, 3 * n * sizeof(int64_t), te.message);
    ijk = (int64_t *)tp_alloc_at(c->pool, 6 * n * sizeof(int64_t), 0, __FILE__, __LINE__, &te);
    if (!ijk) return tp_error_set(err, te.code, "%s: the mask's scratch (%zu bytes): %s", name, 6 * n * sizeof(int64_t), te.message);
    tmp = ijk + 3 * n;
    if ((r = ss__h5_mask_read(f, name, n, by_row, i ? ijk : c->mask, tmp, err)) == TP_OK) {
        if (i == 0) r = ss__h5_mask_check(name, c->mask, n, shape, (uint64_t *)(void *)tmp, err);
        else if (memcmp(ijk, c->mask, 3 * n * sizeof(int64_t)) != 0)
            r = tp_error_set(err, TP_ERR_FORMAT, "%s: /mask_indices differ from %s's", name, c->paths[0]);
    }
    tp_free(c->pool, ijk);
    if (r == TP_OK && i == 0) memcpy(c->shape, shape, sizeof shape), memcpy(c->affine, affine, sizeof affine);
    return r;
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
    struct stat st;
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
        ok = fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size >= (uint64_t)at &&
             (uint64_t)st.st_size - (uint64_t)at >= (uint64_t)n_subj * n_t * n_v * sizeof(float) && /* a map past the end faults */
             lseek(fd, (off_t)at, SEEK_SET) == (off_t)at && /* not pread: strict C99 builds do not declare it */
             read(fd, b, count[2] * sizeof(float)) == (ssize_t)(count[2] * sizeof(float)) &&
             memcmp(a, b, count[2] * sizeof(float)) == 0;
        if (fd >= 0) close(fd);
    }
    H5Pclose(fcpl), H5Pclose(p), H5Tclose(t), H5Dclose(d);
    return ok ? (uint64_t)at : 0;
}

SSDEF void ss_h5_destroy(ss_h5 *c)
{
    size_t i;
    ss__h5_quiet q;
    tp_pool *own;
    if (!c) return;
    ss__h5_mute(&q);
    if (c->data >= 0) H5Dclose(c->data);
    if (c->file >= 0) H5Fclose(c->file);
    ss__h5_unmute(&q);
    if (c->map) munmap(c->map, c->map_len);
    if (c->fd >= 0) close(c->fd);
    for (i = 0; c->paths && i < c->n_files; i++) tp_free(c->pool, c->paths[i]);
    tp_free(c->pool, c->paths);
    tp_free(c->pool, c->buf);
    tp_free(c->pool, c->first);
    tp_free(c->pool, c->at);
    tp_free(c->pool, c->mask);
    own = c->own_pool;
    tp_free(c->pool, c);
    if (own) tp_destroy(own);
}

/* File i: its shape against the first's, its geometry, where its subjects start */
static tp_result ss__h5_open_file(ss_h5 *c, size_t i, tp_error *err)
{
    hsize_t dims[3];
    hid_t f = H5Fopen(c->paths[i], H5F_ACC_RDONLY, H5P_DEFAULT);
    tp_result r;
    if (f < 0) return tp_error_set(err, TP_ERR_IO, "%s: cannot open as HDF5", c->paths[i]);
    if ((r = ss__h5_shape(f, c->paths[i], dims, err)) == TP_OK && i == 0) {
        c->n_t = (size_t)dims[1];
        c->n_v = (size_t)dims[2];
    } else if (r == TP_OK && ((size_t)dims[1] != c->n_t || (size_t)dims[2] != c->n_v)) {
        r = tp_error_set(err, TP_ERR_FORMAT, "%s: %llu time points x %llu voxels, but %s has %zu x %zu", c->paths[i],
                         (unsigned long long)dims[1], (unsigned long long)dims[2], c->paths[0], c->n_t, c->n_v);
    }
    if (r == TP_OK) r = ss__h5_geometry(c, f, i, err);
    if (r == TP_OK && !tp_size_add(c->first[i], (size_t)dims[0], &c->first[i + 1]))
        r = tp_error_set(err, TP_ERR_OVERFLOW, "%s: the subjects overflow a size_t", c->paths[i]);
    if (r == TP_OK) c->at[i] = ss__h5_mappable(f, c->paths[i], (size_t)dims[0], c->n_t, c->n_v);
    H5Fclose(f);
    return r;
}

static tp_result ss__h5_create(const ss_h5_desc *desc, ss_h5 **out, tp_error *err)
{
    ss_h5 *c;
    ss__h5_quiet q;
    tp_pool *pool, *own = NULL;
    tp_result r = TP_OK;
    tp_error te;
    size_t i;
    if (out) *out = NULL;
    if (!desc || !desc->path || !out) return tp_error_set(err, TP_ERR_ARG, "desc, desc->path or out is NULL");
    if (!(pool = desc->pool) && (r = tp_create(NULL, &own, &te)) != TP_OK) return tp_error_set(err, r, "%s", te.message);
    if (!pool) pool = own;
    if (!(c = (ss_h5 *)tp_alloc_at(pool, sizeof *c, TP_ZERO, __FILE__, __LINE__, &te))) {
        if (own) tp_destroy(own);
        return tp_error_set(err, te.code, "%s", te.message);
    }
    c->file = c->data = -1;
    c->fd = -1;
    c->pool = pool, c->own_pool = own;
    if ((r = ss__h5_list(c, desc->path, err)) != TP_OK) {
        ss_h5_destroy(c);
        return r;
    }
    c->first = (size_t *)tp_alloc_at(pool, (c->n_files + 1) * sizeof(size_t), TP_ZERO, __FILE__, __LINE__, &te);
    c->at = c->first ? (uint64_t *)tp_alloc_at(pool, c->n_files * sizeof(uint64_t), TP_ZERO, __FILE__, __LINE__, &te) : NULL;
    if (!c->at) {
        ss_h5_destroy(c);
        return tp_error_set(err, te.code, "the file table: %s", te.message);
    }
    ss__h5_mute(&q);
    for (i = 0; i < c->n_files && r == TP_OK; i++) r = ss__h5_open_file(c, i, err);
    ss__h5_unmute(&q);
    if (r == TP_OK && !(c->n_subjects = c->first[c->n_files]))
        r = tp_error_set(err, TP_ERR_FORMAT, "%s: /timeseries holds no subject", desc->path);
    if (r != TP_OK) {
        ss_h5_destroy(c);
        return r;
    }
    *out = c;
    tp_error_clear(err);
    return TP_OK;
}

SSDEF tp_result ss_h5_create(const ss_h5_desc *desc, ss_h5 **out, tp_error *err)
{
    tp_result r = ss__h5_create(desc, out, err);
    if (r != TP_OK) tp_error_prefix(err, "ss_h5_create");
    return r;
}

SSDEF size_t ss_h5_subjects(const ss_h5 *c) { return c ? c->n_subjects : 0; }
SSDEF size_t ss_h5_files(const ss_h5 *c) { return c ? c->n_files : 0; }
SSDEF size_t ss_h5_file_first(const ss_h5 *c, size_t f) { return c && f <= c->n_files ? c->first[f] : 0; }
SSDEF size_t ss_h5_timepoints(const ss_h5 *c) { return c ? c->n_t : 0; }
SSDEF size_t ss_h5_voxels(const ss_h5 *c) { return c ? c->n_v : 0; }
SSDEF const int64_t *ss_h5_mask_indices(const ss_h5 *c) { return c ? c->mask : NULL; }
SSDEF const double *ss_h5_affine(const ss_h5 *c) { return c ? c->affine : NULL; }
SSDEF const int64_t *ss_h5_mask_shape(const ss_h5 *c) { return c ? c->shape : NULL; }

SSDEF tp_result ss_h5_read(void *user, size_t k, float *ts, tp_error *err)
{
    ss_h5 *c = (ss_h5 *)user;
    ss__h5_quiet q;
    size_t fi = 0;
    hsize_t start[3], count[3];
    hid_t fs, ms;
    int ok;
    if (!c || !ts || k >= c->n_subjects)
        return tp_error_set(err, TP_ERR_ARG, "ss_h5_read: no subject %zu (of %zu)", k, c ? c->n_subjects : 0);
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
    if (!ok)
        return tp_error_set(err, TP_ERR_IO, "ss_h5_read: %s: cannot read subject %zu of this file", c->paths[fi], (size_t)start[0]);
    tp_error_clear(err);
    return TP_OK;
}

SSDEF int ss_h5_mapped(const ss_h5 *c)
{
    size_t i;
    if (!c) return 0;
    for (i = 0; i < c->n_files; i++)
        if (!c->at[i]) return 0;
    return 1;
}

SSDEF const float *ss_h5_view(void *user, size_t k, tp_error *err)
{
    ss_h5 *c = (ss_h5 *)user;
    size_t fi = 0, bytes, page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t pos, base;
    tp_error te = {TP_OK, {0}};
    if (!c || k >= c->n_subjects) {
        tp_error_set(err, TP_ERR_ARG, "ss_h5_view: no subject %zu (of %zu)", k, c ? c->n_subjects : 0);
        return NULL;
    }
    while (c->first[fi + 1] <= k) fi++;
    bytes = c->n_t * c->n_v * sizeof(float);
    if (c->map) munmap(c->map, c->map_len);
    c->map = NULL;
    if (!c->at[fi]) { /* read into the buffer */
        if (!c->buf && !(c->buf = (float *)tp_alloc_at(c->pool, bytes, 0, __FILE__, __LINE__, &te))) {
            tp_error_set(err, te.code, "ss_h5_view: a subject's buffer (%zu bytes): %s", bytes, te.message);
            return NULL;
        }
        return ss_h5_read(c, k, c->buf, err) != TP_OK ? NULL : c->buf;
    }
    if (c->fd < 0 || c->fd_index != fi) {
        if (c->fd >= 0) close(c->fd);
        c->fd = open(c->paths[fi], O_RDONLY), c->fd_index = fi;
        if (c->fd < 0) {
            tp_error_set(err, TP_ERR_IO, "ss_h5_view: %s: cannot open to map", c->paths[fi]);
            return NULL;
        }
    }
    pos = c->at[fi] + (uint64_t)(k - c->first[fi]) * bytes;
    base = pos - pos % (page ? page : 4096);
    c->map_len = bytes + (size_t)(pos - base);
    c->map = mmap(NULL, c->map_len, PROT_READ, MAP_SHARED, c->fd, (off_t)base);
    if (c->map == MAP_FAILED) {
        c->map = NULL;
        tp_error_set(err, TP_ERR_IO, "ss_h5_view: %s: cannot map subject %zu of this file", c->paths[fi], k - c->first[fi]);
        return NULL;
    }
#if defined(MADV_HUGEPAGE)
    madvise(c->map, c->map_len, MADV_HUGEPAGE);
#endif
#if defined(POSIX_FADV_WILLNEED)
    if (k + 1 < c->first[fi + 1]) posix_fadvise(c->fd, (off_t)(pos + bytes), (off_t)bytes, POSIX_FADV_WILLNEED);
#endif
    tp_error_clear(err);
    return (const float *)(const void *)((const char *)c->map + (pos - base));
}
#endif

SSDEF const char *ss_build_info(void)
{
#if defined(STAT_STREAM_USE_CBLAS)
#define SS__CBLAS " cblas"
#else
#define SS__CBLAS ""
#endif
#if defined(STAT_STREAM_USE_HDF5)
#define SS__HDF5 " hdf5"
#else
#define SS__HDF5 ""
#endif
#if defined(SS__X86_WIDE)
    unsigned f = tp_cpu_features();
    if (f & TP_CPU_AVX512F) return "stat_stream 1.0.0 avx512" SS__CBLAS SS__HDF5;
    if (f & TP_CPU_AVX2) return "stat_stream 1.0.0 avx2" SS__CBLAS SS__HDF5;
#endif
#if defined(SS__VECTOR)
    return "stat_stream 1.0.0 vector" SS__CBLAS SS__HDF5;
#else
    return "stat_stream 1.0.0 plain" SS__CBLAS SS__HDF5;
#endif
}

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
