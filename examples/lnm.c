/* lnm - lesion network mapping: each lesion's mean time series correlated with every voxel of
   every subject of a normative connectome, Fisher-z maps reduced over subjects as they stream.

   build/lnm --connectome FILE_OR_DIR --lesion L.npy|L.nii [--lesion ...] --out-dir DIR
             [--policy strict|ldk|lacuna|ldk_single] [--precision f32|f64] [--png] [--fdr Q] [--seed pini]
   build/lnm --demo [--out DIR]

   The connectome is the ldk/lacuna HDF5 layout (one file or a directory of them; needs a build
   with HDF5); several (--connectome repeated, or a directory of connectome directories) each get
   their maps in DIR/NAME/. A lesion .npy is an int64 list of positions on the connectome's voxel axis; a .nii
   is a mask on its grid (nonzero = lesion). Per lesion NAME (the file name without extension):
   NAME_mean_z.npy, NAME_mean_r.npy, NAME_avg_r.npy, NAME_t.npy, NAME_std_z.npy, NAME_p.npy,
   NAME_n.npy on the voxel axis, and NAME_AvgR.nii, NAME_AvgR_Fz.nii, NAME_T.nii, NAME_p.nii on the
   mask grid (outside the mask: 0); --png adds NAME_T.png, the middle axial slice of the t-map;
   --fdr Q adds NAME_q.npy and NAME_q.nii (Benjamini-Hochberg q of p over the voxels, as lacuna's
   p_fdr map) and NAME_T_fdr.nii (t where q < Q, else 0); --atlas A.nii adds NAME_parcels.tsv
   (per parcel: label, name, voxels, and the mean of mean_z, mean_r, avg_r, t and p over them).
   --seed pini replaces each lesion by the voxels lacuna's PINI keeps, chosen per connectome file.
   --roi2roi A.nii (alone, or with lesions from the same pass over the subjects) writes roi2roi_mean_z.npy, roi2roi_t.npy, roi2roi_p.npy
   (parcel x parcel, over subjects) and roi2roi_parcels.tsv.

   Built with -DLNM_MPI by mpicc (build/lnm_mpi), the subjects are split over the ranks in
   contiguous ranges; each rank's accumulators are serialized and merged on rank 0 in rank order,
   which finalizes and writes the maps (the same as one process, to rounding).
*/
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#define TENSORPOOL_IMPLEMENTATION
#define STAT_STREAM_IMPLEMENTATION
#include "../stat_stream.h"
#include "common/cli.h"
#include "common/nifti.h"
#include "common/npy.h"
#include "common/outputs.h"
#include "common/png.h"
#include "common/progress.h"
#include "common/util.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(LNM_MPI)
#include <mpi.h>
#endif

#define MAX_LESIONS 64
#define MAX_CONNECTOMES 32

typedef struct options {
    const char *connectomes[MAX_CONNECTOMES], *connectome, *out_dir, *lesions[MAX_LESIONS];
    size_t n_lesions, n_connectomes;
    int policy, precision, png, demo, read_ahead;
    long long threads;
    double fdr; /* 0: no FDR maps */
    int binarize;
    const char *atlas, *atlas_labels, *roi2roi;
    int subject_maps;
    int pini;              /* --seed pini */
    double pini_percentile; /* --pini-percentile [SS_PINI_PERCENTILE] */
} options;

static int is_root(void); /* rank 0, or the one process: who prints and writes */

/* The connectome's geometry: voxel axis <-> grid */
typedef struct geometry {
    size_t n_v, shape[3];
    const int64_t *ijk; /* 3 x n_v */
    double affine[4][4];
} geometry;

#if defined(LNM_MPI)
#define PROG "lnm_mpi"
#else
#define PROG "lnm"
#endif
static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s --connectome FILE_OR_DIR --lesion L.npy|L.nii [--lesion ...] --out-dir DIR\n"
            "           [--policy strict|ldk|lacuna|ldk_single] [--precision f32|f64] [--png]\n"
            "           [--threads N] [--read-ahead] [--fdr Q] [--binarize] [--atlas A.nii [--atlas-labels L.tsv]]\n"
            "           [--roi2roi A.nii]   (with or without --lesion) [--subject-maps] [--seed boes|pini]\n"
            "       %s --demo [--out DIR]\n",
            PROG, PROG);
#if defined(LNM_MPI)
    fprintf(f, "       mpirun -n RANKS %s ...   (the subjects split over the ranks; rank 0 writes the maps)\n", PROG);
#endif
    fprintf(f,
            "\n"
            "Lesion network mapping: for every subject of the connectome, Pearson r between each lesion's\n"
            "mean time series and every voxel, Fisher z, reduced over subjects as they stream (memory does\n"
            "not grow with the number of subjects).\n"
            "  --connectome P   an HDF5 file or a directory of them (/timeseries (subjects, time, voxels),\n"
            "                   /mask_indices, /mask_affine, mask_shape); needs a build with HDF5.\n"
            "                   Repeatable, or a directory of such directories: each connectome is read once\n"
            "                   for all lesions, its maps in --out-dir/CONNECTOME_NAME/\n"
            "  --lesion L       int64 .npy of voxel-axis positions, or a 3-D .nii mask on the connectome's\n"
            "                   grid (repeatable, up to 64; NAME = the file name without extension, unique);\n"
            "                   a .nii whose nonzero values are not all 1 is a weighted lesion (a probability\n"
            "                   map): its series is the weighted mean of its voxels' series\n"
            "  --binarize       every nonzero voxel of a .nii lesion with weight 1 (the plain mean)\n"
            "  --seed S         a lesion's series: boes (default: the mean of all its voxels) or pini (lacuna's\n"
            "                   PINI: per connectome file, each voxel's r with the lesion's mean series in\n"
            "                   every subject, the first principal axis of those over the subjects, and the\n"
            "                   mean of the voxels whose |loading| is at least the 20th percentile's; reads\n"
            "                   each file twice; binary lesions)\n"
            "  --pini-percentile P   that percentile, 0 to 100 (default 20, lacuna's pini_percentile)\n"
            "  --atlas A        a parcellation .nii on the connectome's grid (integer labels, 0 outside):\n"
            "                   NAME_parcels.tsv, each map's mean over each parcel's voxels\n"
            "  --atlas-labels L the parcels' names: lines 'LABEL<tab>NAME' (others are skipped)\n"
            "  --subject-maps   also NAME_subject_r.npy, float32 (n_subjects, n_voxels): each subject's r\n"
            "                   map, streamed to disk as the subjects go (memory does not grow)\n"
            "  --roi2roi A      parcel by parcel (ROI-to-ROI): the Fisher z of the parcels' mean series in\n"
            "                   every subject, reduced over subjects as they stream: roi2roi_mean_z.npy,\n"
            "                   roi2roi_t.npy, roi2roi_p.npy (P x P, diagonal NaN) and roi2roi_parcels.tsv\n"
            "                   (row order: label, name, voxels; names from --atlas-labels); beside --lesion,\n"
            "                   from the same pass over the subjects (each is read once)\n"
            "  --policy P       strict (default: float64 rules, NaN propagates), ldk, lacuna, ldk_single\n"
            "                   (the Python packages' rules: see stat_stream.h)\n"
            "  --precision P    f32 (default) or f64 products\n"
            "  --out-dir DIR    maps per lesion: .npy on the voxel axis, .nii on the grid (made if missing)\n"
            "  --png            also NAME_T.png, the t-map's axial slice through the lesion, lesion outlined\n"
            "  --fdr Q          also NAME_q.npy / NAME_q.nii (Benjamini-Hochberg q-values of p over the\n"
            "                   voxels, lacuna's p_fdr map) and NAME_T_fdr.nii (t where q < Q, else 0)\n"
            "  --threads N      workers over voxel blocks (default 0: the CPUs this process may use; 1 per\n"
            "                   MPI rank)\n"
            "  --read-ahead     copy subjects into memory, the next one while computing this one\n"
            "                   (default: contiguous float32 files are memory-mapped, no copy; gzip\n"
            "                   files are read one subject at a time)\n"
            "  --demo           a synthetic 40-subject connectome with two connected regions and a lesion\n"
            "                   in one of them (as voxels, and drawn on a 1 mm grid); all outputs (--fdr\n"
            "                   0.05 unless given) in --out DIR (default out/); --lesion adds yours\n"
            "  -h, --help       this text\n"
            "\n"
            "Exit status: 0; 1 bad input or a failed run (no output kept); 2 a bad command line; 3 the maps\n"
            "are written but NaN reached them under --policy strict (the run says from how many subjects).\n");
}

#define fail(...) ex_error(PROG, __VA_ARGS__)
#define PINI_WEIGHTS "--seed pini selects among a lesion's voxels and uses no weights: give binary lesions, or --binarize"

/* 0: parsed, 1: help printed, -1: an error printed */
static int parse_args(int argc, char **argv, options *o)
{
    cli_opt t[19];
    size_t n = 0;
    int precision = 0; /* f32|f64 */
    int rc;
    memset(o, 0, sizeof *o);
    o->pini_percentile = -1; /* not given */
    t[n++] = cli_strings("--connectome", o->connectomes, MAX_CONNECTOMES, &o->n_connectomes);
    t[n++] = cli_strings("--lesion", o->lesions, MAX_LESIONS, &o->n_lesions);
    t[n++] = cli_string("--out-dir", &o->out_dir);
    t[n++] = cli_string("--out", &o->out_dir);
    t[n++] = cli_choice("--policy", &o->policy, "strict|ldk|lacuna|ldk_single"); /* the SS_POLICY_* order */
    t[n++] = cli_choice("--precision", &precision, "f32|f64");
    t[n++] = cli_int("--threads", &o->threads, 0, TP_MAX_THREADS, "a number of threads (0: the usable CPUs)");
    t[n++] = cli_flag("--png", &o->png);
    t[n++] = cli_flag("--binarize", &o->binarize);
    t[n++] = cli_string("--atlas", &o->atlas);
    t[n++] = cli_string("--atlas-labels", &o->atlas_labels);
    t[n++] = cli_string("--roi2roi", &o->roi2roi);
    t[n++] = cli_flag("--subject-maps", &o->subject_maps);
    t[n++] = cli_double("--fdr", &o->fdr, 0, 1, CLI_LO_OPEN | CLI_HI_OPEN, "a false discovery rate in (0, 1)");
    t[n++] = cli_flag("--read-ahead", &o->read_ahead);
    t[n++] = cli_flag("--demo", &o->demo);
    t[n++] = cli_choice("--seed", &o->pini, "boes|pini");
    t[n++] = cli_double("--pini-percentile", &o->pini_percentile, 0, 100, 0, "a percentile");
    rc = cli_parse(PROG, argc, argv, t, n, usage);
    o->precision = precision ? TP_F64 : TP_F32;
    if (rc == 0 && o->pini_percentile >= 0 && !o->pini) {
        fprintf(stderr, "%s: --pini-percentile applies to --seed pini only\n", PROG);
        return -1;
    }
    if (o->pini_percentile < 0) o->pini_percentile = SS_PINI_PERCENTILE;
    return rc;
}

/* NAME of a lesion: its file name without directory and extension(s) */
static void lesion_name(const char *path, char *name, size_t cap)
{
    const char *base = strrchr(path, '/');
    char *dot;
    snprintf(name, cap, "%.200s", base ? base + 1 : path);
    if ((dot = strstr(name, ".nii")) != NULL || (dot = strrchr(name, '.')) != NULL) *dot = 0;
}

/* A lesion's voxel-axis positions (malloc'd) from .npy positions or a .nii mask; voxels outside
   the connectome's mask are dropped with a warning; none left is an error naming the lesion. For
   a .nii whose values are not all 1 (a probability map) their values as weights in *wts (NULL
   otherwise, or with binarize). A .nii on another grid (shape or affine) is resampled onto the
   connectome's first, as nilearn's resample_to_img: nearest for a mask, linear for weights. */
static int resample_lesion(const char *path, nifti_image *img, const geometry *g, int binarize)
{
    size_t i, n = g->shape[0] * g->shape[1] * g->shape[2], r, c;
    int binary = 1, same = img->ndim >= 3 && img->dim[0] == g->shape[0] && img->dim[1] == g->shape[1] &&
                            img->dim[2] == g->shape[2];
    double *out, aff[4][4];
    char err[300];
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) same &= img->affine[r][c] == g->affine[r][c], aff[r][c] = g->affine[r][c];
    if (same) return 0;
    for (i = 0; i < img->count; i++) {
        if (binarize && img->data[i] != 0 && img->data[i] == img->data[i]) img->data[i] = 1;
        binary &= img->data[i] == 0 || img->data[i] == 1 || img->data[i] != img->data[i];
    }
    if (!(out = (double *)malloc(n * sizeof(double)))) return fail("%s", "out of memory");
    if (nifti_resample(img, g->shape, aff, binary ? 0 : 1, out, err, sizeof err)) {
        free(out);
        return fail("%s: %s", path, err);
    }
    if (is_root())
        printf("%s: %s: on another grid (%zu x %zu x %zu), resampled onto the connectome's (%zu x %zu x %zu) with %s "
           "interpolation, as nilearn's resample_to_img\n", PROG, path, img->dim[0], img->dim[1], img->ndim >= 3 ? img->dim[2] : 1,
           g->shape[0], g->shape[1], g->shape[2], binary ? "nearest" : "linear");
    free(img->data);
    img->data = out;
    img->ndim = 3, img->count = n;
    for (i = 0; i < 3; i++) img->dim[i] = g->shape[i];
    return 0;
}

static int load_lesion(const char *path, const geometry *g, int binarize, int64_t **vox, double **wts, size_t *n)
{
    char err[400];
    size_t i, kept = 0, dropped = 0, negative = 0;
    int weighted = 0;
    *n = 0;
    *vox = NULL;
    *wts = NULL;
    if (strstr(path, ".nii")) {
        nifti_image img;
        size_t *lut;
        if (nifti_read(path, &img, err, sizeof err)) return fail("%s", err);
        if (resample_lesion(path, &img, g, binarize)) {
            nifti_free(&img);
            return 1;
        }
        lut = (size_t *)malloc(g->shape[0] * g->shape[1] * g->shape[2] * sizeof(size_t));
        *vox = (int64_t *)malloc(g->n_v * sizeof(int64_t));
        *wts = (double *)malloc(g->n_v * sizeof(double));
        if (!lut || !*vox || !*wts) { free(lut); nifti_free(&img); return fail("%s", "out of memory"); }
        for (i = 0; i < g->shape[0] * g->shape[1] * g->shape[2]; i++) lut[i] = (size_t)-1;
        for (i = 0; i < g->n_v; i++)
            lut[(size_t)g->ijk[i] + g->shape[0] * ((size_t)g->ijk[g->n_v + i] + g->shape[1] * (size_t)g->ijk[2 * g->n_v + i])] = i;
        for (i = 0; i < g->shape[0] * g->shape[1] * g->shape[2]; i++)
            if (img.data[i] != 0 && img.data[i] == img.data[i]) {
                if (lut[i] == (size_t)-1) {
                    dropped++;
                    continue;
                }
                negative += img.data[i] < 0 || img.data[i] - img.data[i] != 0;
                weighted |= img.data[i] != 1;
                (*wts)[kept] = img.data[i];
                (*vox)[kept++] = (int64_t)lut[i];
            }
        free(lut);
        nifti_free(&img);
        if (weighted && negative && !binarize) {
            free(*vox), free(*wts);
            *vox = NULL, *wts = NULL;
            return fail("%s: %zu voxel(s) hold negative or infinite values; a lesion's values are weights >= 0 (a "
                        "probability map): fix the map, or --binarize to give every nonzero voxel weight 1", path, negative);
        }
        if (!weighted || binarize) {
            free(*wts);
            *wts = NULL;
        }
    } else {
        npy_array a;
        if (npy_read(path, &a, err, sizeof err)) return fail("%s", err);
        if (a.dtype != NPY_I8 || a.ndim != 1) {
            npy_free(&a);
            return fail("%s: want a 1-D int64 array of voxel-axis positions", path);
        }
        *vox = (int64_t *)malloc((a.shape[0] ? a.shape[0] : 1) * sizeof(int64_t));
        if (!*vox) { npy_free(&a); return fail("%s", "out of memory"); }
        for (i = 0; i < a.shape[0]; i++) {
            int64_t v = ((const int64_t *)a.data)[i];
            if (v < 0 || (uint64_t)v >= g->n_v) dropped++;
            else (*vox)[kept++] = v;
        }
        npy_free(&a);
    }
    if (dropped) fprintf(stderr, "lnm: warning: %s: %zu lesion voxel(s) outside the connectome's mask dropped\n", path, dropped);
    if (!kept) {
        free(*vox), free(*wts);
        *vox = NULL, *wts = NULL;
        return fail("%s: no lesion voxel is inside the connectome's mask (on its grid: a lesion outside the connectome's "
                    "field of view, or smaller than its voxels)", path);
    }
    *n = kept;
    return 0;
}

static double min_of(const double *v, size_t n)
{
    double m = v[0];
    size_t i;
    for (i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

static double max_of(const double *v, size_t n)
{
    double m = v[0];
    size_t i;
    for (i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

static int save_npy(const char *path, const double *v, size_t n)
{
    char err[1200];
    if (npy_write(path, NPY_F8, 1, &n, v, err, sizeof err)) return fail("%s", err);
    return 0;
}

/* a voxel-axis map as a volume on the grid (0 outside the mask, NaN as 0) */
static int save_nii(const char *path, const double *v, const geometry *g)
{
    char err[1200];
    nifti_image img;
    size_t i;
    memset(&img, 0, sizeof img);
    img.ndim = 3;
    img.dim[0] = g->shape[0];
    img.dim[1] = g->shape[1];
    img.dim[2] = g->shape[2];
    img.count = g->shape[0] * g->shape[1] * g->shape[2];
    img.pixdim[0] = img.pixdim[1] = img.pixdim[2] = 1;
    memcpy(img.affine, g->affine, sizeof img.affine);
    img.sform_code = img.qform_code = 1;
    img.data = (double *)calloc(img.count, sizeof(double));
    if (!img.data) return fail("%s", "out of memory");
    for (i = 0; i < g->n_v; i++)
        img.data[(size_t)g->ijk[i] + g->shape[0] * ((size_t)g->ijk[g->n_v + i] + g->shape[1] * (size_t)g->ijk[2 * g->n_v + i])] =
            v[i] == v[i] ? v[i] : 0.0;
    if (nifti_write(path, &img, err, sizeof err)) { free(img.data); return fail("%s", err); }
    free(img.data);
    return 0;
}

/* The lesion's middle axial slice (the median k of its voxels) */
static size_t lesion_slice(const int64_t *les, size_t n_les, const geometry *g)
{
    size_t *count = (size_t *)calloc(g->shape[2], sizeof(size_t)), i, k = g->shape[2] / 2, seen = 0;
    if (!count) return k;
    for (i = 0; i < n_les; i++) count[g->ijk[2 * g->n_v + (size_t)les[i]]]++;
    for (i = 0; i < g->shape[2]; i++)
        if ((seen += count[i]) * 2 >= n_les) { k = i; break; }
    free(count);
    return k;
}

/* The t-map's axial slice through the lesion as a heat map, the lesion's voxels in that slice
   outlined */
static int save_png(const char *path, const char *name, const double *v, const geometry *g, const int64_t *les, size_t n_les)
{
    size_t nx = g->shape[0], ny = g->shape[1], k = lesion_slice(les, n_les, g), i;
    double *img = (double *)malloc(nx * ny * sizeof(double));
    unsigned char *mark = (unsigned char *)calloc(nx * ny, 1);
    char title[300], err[1200];
    png_heatmap_opts h = png_heatmap_defaults();
    int rc;
    if (!img || !mark) {
        free(img), free(mark);
        return fail("%s", "out of memory");
    }
    for (i = 0; i < nx * ny; i++) img[i] = NAN;
    for (i = 0; i < g->n_v; i++)
        if ((size_t)g->ijk[2 * g->n_v + i] == k) img[(size_t)g->ijk[g->n_v + i] * nx + (size_t)g->ijk[i]] = v[i];
    for (i = 0; i < n_les; i++) {
        size_t at = (size_t)les[i];
        if ((size_t)g->ijk[2 * g->n_v + at] == k) mark[(size_t)g->ijk[g->n_v + at] * nx + (size_t)g->ijk[at]] = 1;
    }
    snprintf(title, sizeof title, "%.200s: t-map, axial slice k = %zu through the lesion (outlined)", name, k);
    h.title = title;
    h.xlabel = "i (voxels)";
    h.ylabel = "j (voxels)";
    h.cbar_label = "t";
    h.rows_up = 1;
    h.outline = mark;
    rc = png_heatmap(path, img, ny, nx, &h, err, sizeof err);
    free(img);
    free(mark);
    return rc ? fail("%s", err) : 0;
}

/* The bar over several runs (--seed pini: two passes a file): base + done of all */
typedef struct run_state { progress_bar bar; uint64_t base, all; } run_state;
static int on_progress(void *user, uint64_t done, uint64_t total)
{
    run_state *s = (run_state *)user;
    return progress_callback(&s->bar, s->base + done, s->all ? s->all : total);
}

/* subjects first .. first + n - 1 of another reader */
typedef struct sub_range { ss_read_fn read; ss_view_fn view; void *user; size_t first; } sub_range;
static tp_result range_read(void *user, size_t k, float *ts, tp_error *err)
{
    sub_range *r = (sub_range *)user;
    return r->read(r->user, r->first + k, ts, err);
}
static const float *range_view(void *user, size_t k, tp_error *err)
{
    sub_range *r = (sub_range *)user;
    return r->view(r->user, r->first + k, err);
}

/* d0 narrowed to subjects first .. first + n - 1 (range holds the reader) */
static ss_lnm_desc desc_range(const ss_lnm_desc *d0, sub_range *range, size_t first, size_t n)
{
    ss_lnm_desc d = *d0;
    range->read = d0->read, range->view = d0->view, range->user = d0->source_user, range->first = first;
    d.read = d0->read ? range_read : NULL;
    d.view = d0->view ? range_view : NULL;
    d.source_user = range;
    d.n_subjects = n;
    return d;
}

/* Accumulators with no subject yet (a rank with none, or before the first file) */
static int empty_states(const ss_lnm_desc *d, ss_lnm_state *st, tp_error *err)
{
    ss_moments_desc md;
    memset(&md, 0, sizeof md);
    md.nan_policy = d->policy == SS_POLICY_STRICT ? SS_NAN_PROPAGATE : SS_NAN_AS_ZERO;
    md.n_features = d->seeds->n_seeds * d->n_v;
    return ss_moments_create(&md, &st->z, err) != TP_OK || ss_moments_create(&md, &st->r, err) != TP_OK;
}

/* this process's subjects: all, or its rank's contiguous share */
static void my_subjects(size_t n, size_t *lo, size_t *hi)
{
#if defined(LNM_MPI)
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    *lo = n * (size_t)rank / (size_t)size;
    *hi = n * (size_t)(rank + 1) / (size_t)size;
#else
    *lo = 0, *hi = n;
#endif
}

#if defined(LNM_MPI)
static int is_root(void)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank == 0;
}

static int send_state(const ss_moments *m, int to)
{
    size_t n = ss_moments_serialized_bytes(m);
    unsigned long long len = (unsigned long long)n;
    unsigned char *buf = (unsigned char *)malloc(n);
    int ok = buf && ss_moments_serialize(m, buf, n, NULL) == TP_OK;
    MPI_Send(&len, 1, MPI_UNSIGNED_LONG_LONG, to, 0, MPI_COMM_WORLD);
    if (ok) MPI_Send(buf, (int)n, MPI_BYTE, to, 1, MPI_COMM_WORLD);
    free(buf);
    return ok ? 0 : -1;
}

/* receives a state from rank `from` and merges it into m */
static int merge_state(ss_moments *m, int from)
{
    unsigned long long len;
    unsigned char *buf;
    ss_moments *other = NULL;
    int ok;
    MPI_Recv(&len, 1, MPI_UNSIGNED_LONG_LONG, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    buf = (unsigned char *)malloc((size_t)len);
    if (!buf) return -1;
    MPI_Recv(buf, (int)len, MPI_BYTE, from, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    ok = ss_moments_deserialize(NULL, buf, (size_t)len, &other, NULL) == TP_OK && ss_moments_merge(m, other, NULL) == TP_OK;
    ss_moments_destroy(other);
    free(buf);
    return ok ? 0 : -1;
}
#else
static int is_root(void) { return 1; }
#endif

/* The end of a run in parts: (with MPI, every rank's states into rank 0's in rank order, and the
   counts summed) the maps finalized into m. Takes st; bad: this process failed (err says why). */
static int finish_states(const ss_lnm_desc *d, ss_lnm_state *st, const ss_lnm_info *counts, const ss_lnm_maps *m, int bad,
                         tp_error *err)
{
#if defined(LNM_MPI)
    int rank, size, r, any_bad;
    unsigned long long local[2], total[2] = {0, 0};
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any_bad) {
        if (!bad) tp_error_clear(err); /* the rank that failed says why */
        bad = 1;
        goto out;
    }
    local[0] = counts->n_subjects_bad_voxel, local[1] = counts->n_subjects_bad_seed;
    MPI_Reduce(local, total, 2, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0 && m->info) m->info->n_subjects_bad_voxel = (size_t)total[0], m->info->n_subjects_bad_seed = (size_t)total[1];
    if (rank != 0) {
        bad = send_state(st->z, 0) || send_state(st->r, 0);
        goto out;
    }
    for (r = 1; r < size && !bad; r++) bad = merge_state(st->z, r) || merge_state(st->r, r);
    if (bad) tp_error_set(err, TP_ERR_FORMAT, "cannot merge the ranks' states");
#else
    if (!bad && m->info) m->info->n_subjects_bad_voxel = counts->n_subjects_bad_voxel, m->info->n_subjects_bad_seed = counts->n_subjects_bad_seed;
#endif
    if (!bad && ss_lnm_finalize(st->z, st->r, d->policy, m, err) != TP_OK) bad = 1;
#if defined(LNM_MPI)
out:
#endif
    ss_moments_destroy(st->z);
    ss_moments_destroy(st->r);
    st->z = st->r = NULL;
    return bad ? -1 : 0;
}

/* One run into st (merged into what st already holds), its counts added */
static int run_part(const ss_lnm_desc *d, ss_lnm_state *st, ss_lnm_info *counts, tp_error *err)
{
    ss_lnm_maps none;
    ss_lnm_info info;
    ss_lnm_state part = {NULL, NULL};
    int bad;
    memset(&none, 0, sizeof none);
    memset(&info, 0, sizeof info);
    none.info = &info; /* no maps: only what the run met */
    if (ss_lnm(d, &none, st->z ? &part : st, err) != TP_OK) return -1;
    counts->n_subjects_bad_voxel += info.n_subjects_bad_voxel, counts->n_subjects_bad_seed += info.n_subjects_bad_seed;
    if (!part.z) return 0;
    bad = ss_moments_merge(st->z, part.z, err) != TP_OK || ss_moments_merge(st->r, part.r, err) != TP_OK;
    ss_moments_destroy(part.z);
    ss_moments_destroy(part.r);
    return bad ? -1 : 0;
}

/* The lesions' series as the maps' definition (BOES: every lesion voxel): with MPI each rank
   streams its range of subjects; one process runs them all straight into the maps */
static int compute(const ss_lnm_desc *d0, const ss_lnm_maps *m, tp_error *err)
{
#if defined(LNM_MPI)
    size_t lo, hi;
    ss_lnm_info counts;
    ss_lnm_state st = {NULL, NULL};
    sub_range range;
    ss_lnm_desc d;
    int bad;
    my_subjects(d0->n_subjects, &lo, &hi);
    d = desc_range(d0, &range, lo, hi - lo);
    if (!is_root()) d.progress = NULL;
    memset(&counts, 0, sizeof counts);
    tp_error_clear(err);
    bad = hi > lo ? run_part(&d, &st, &counts, err) != 0 : empty_states(&d, &st, err) != 0; /* more ranks than subjects */
    return finish_states(&d, &st, &counts, m, bad, err);
#else
    return ss_lnm(d0, m, NULL, err) == TP_OK ? 0 : -1;
#endif
}


/* Workers when --threads is not given: the CPUs this process may use (0), or 1 per MPI rank (ranks
   fill the CPUs) */
static int default_threads(void)
{
#if defined(LNM_MPI)
    return 1;
#else
    return 0;
#endif
}

/* ---- --atlas: per-parcel means ------------------------------------------------------------ */

typedef struct atlas {
    size_t n_parcels;
    int64_t *label;      /* per parcel: its value in the atlas, ascending */
    char (*name)[128];   /* per parcel: from --atlas-labels, or "" */
    size_t *n_vox;       /* per parcel: voxels in the connectome's mask */
    int32_t *parcel_of;  /* per connectome voxel: its parcel, -1 for none */
    size_t n_voxels;     /* the connectome's */
} atlas;

static void atlas_free(atlas *a)
{
    free(a->label), free(a->name), free(a->n_vox), free(a->parcel_of);
    memset(a, 0, sizeof *a);
}

static int by_int64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Names from a TSV of 'LABEL<tab>NAME' lines (a header or comment line is skipped) */
static int atlas_names(const char *path, atlas *a)
{
    char line[512];
    FILE *f = fopen(path, "r");
    size_t named = 0;
    if (!f) return fail("cannot open --atlas-labels %s", path);
    while (fgets(line, sizeof line, f)) {
        char *end, *name;
        long long v = strtoll(line, &end, 10);
        int64_t key = (int64_t)v;
        const int64_t *hit;
        if (end == line || (*end != '\t' && *end != ' ')) continue; /* not 'LABEL NAME' */
        for (name = end; *name == '\t' || *name == ' '; name++) {}
        name[strcspn(name, "\t\r\n")] = 0;
        hit = (const int64_t *)bsearch(&key, a->label, a->n_parcels, sizeof *a->label, by_int64);
        if (hit) snprintf(a->name[hit - a->label], sizeof a->name[0], "%s", name), named++;
    }
    fclose(f);
    if (!named) return fail("--atlas-labels %s names none of the atlas's %zu parcels (want lines 'LABEL<tab>NAME')", path,
                            a->n_parcels);
    return 0;
}

/* The atlas on the connectome's grid: integer labels >= 0, 0 for no parcel; the parcels are the
   labels found inside the connectome's mask */
static int atlas_load(const char *path, const char *labels, const geometry *g, atlas *a)
{
    nifti_image img;
    char err[400];
    size_t i, n = 0, k;
    int64_t *vals;
    memset(a, 0, sizeof *a);
    if (nifti_read(path, &img, err, sizeof err)) return fail("%s", err);
    if (img.ndim < 3 || img.dim[0] != g->shape[0] || img.dim[1] != g->shape[1] || img.dim[2] != g->shape[2] ||
        (img.ndim > 3 && img.count != g->shape[0] * g->shape[1] * g->shape[2])) {
        nifti_free(&img);
        return fail("%s: the atlas's grid (%zu x %zu x %zu) differs from the connectome's (%zu x %zu x %zu)", path, img.dim[0],
                    img.dim[1], img.dim[2], g->shape[0], g->shape[1], g->shape[2]);
    }
    a->n_voxels = g->n_v;
    a->parcel_of = (int32_t *)malloc(g->n_v * sizeof(int32_t));
    vals = (int64_t *)malloc(g->n_v * sizeof(int64_t));
    if (!a->parcel_of || !vals) { nifti_free(&img); free(vals); atlas_free(a); return fail("%s", "out of memory"); }
    for (i = 0; i < g->n_v; i++) {
        double v = img.data[(size_t)g->ijk[i] + g->shape[0] * ((size_t)g->ijk[g->n_v + i] + g->shape[1] * (size_t)g->ijk[2 * g->n_v + i])];
        if (!(v >= 0 && v < 9.2e18 && v == floor(v))) {
            nifti_free(&img), free(vals), atlas_free(a);
            return fail("%s: value %g at a voxel of the connectome's mask; an atlas holds integer labels >= 0 (0: no parcel)",
                        path, v);
        }
        vals[i] = (int64_t)v;
        if (vals[i]) n++;
    }
    nifti_free(&img);
    { /* the distinct labels, ascending */
        int64_t *sorted = (int64_t *)malloc((n ? n : 1) * sizeof(int64_t));
        if (!sorted) { free(vals), atlas_free(a); return fail("%s", "out of memory"); }
        for (i = 0, k = 0; i < g->n_v; i++)
            if (vals[i]) sorted[k++] = vals[i];
        qsort(sorted, n, sizeof *sorted, by_int64);
        for (i = 0, k = 0; i < n; i++)
            if (!k || sorted[i] != sorted[k - 1]) sorted[k++] = sorted[i];
        a->n_parcels = k;
        a->label = sorted;
    }
    if (!a->n_parcels) { free(vals), atlas_free(a); return fail("%s: no parcel (nonzero label) inside the connectome's mask", path); }
    a->name = (char (*)[128])calloc(a->n_parcels, sizeof *a->name);
    a->n_vox = (size_t *)calloc(a->n_parcels, sizeof *a->n_vox);
    if (!a->name || !a->n_vox) { free(vals), atlas_free(a); return fail("%s", "out of memory"); }
    for (i = 0; i < g->n_v; i++) {
        const int64_t *hit = vals[i] ? (const int64_t *)bsearch(&vals[i], a->label, a->n_parcels, sizeof *a->label, by_int64) : NULL;
        a->parcel_of[i] = hit ? (int32_t)(hit - a->label) : -1;
        if (hit) a->n_vox[hit - a->label]++;
    }
    free(vals);
    if (labels && atlas_names(labels, a)) { atlas_free(a); return 1; }
    return 0;
}

/* NAME_parcels.tsv: per parcel, the mean of each map over its voxels with a finite value */
static int write_parcels(const char *path, const atlas *a, double *const maps[], size_t off)
{
    static const int cols[5] = {0, 1, 2, 4, 5}; /* mean_z, mean_r, avg_r, t, p */
    double *sum = (double *)calloc(a->n_parcels * 5, sizeof(double));
    size_t *cnt = (size_t *)calloc(a->n_parcels * 5, sizeof(size_t)), i, c;
    FILE *f;
    int bad;
    if (!sum || !cnt) { free(sum), free(cnt); return fail("%s", "out of memory"); }
    for (i = 0; i < a->n_voxels; i++) {
        int32_t pc = a->parcel_of[i];
        for (c = 0; pc >= 0 && c < 5; c++) {
            double v = maps[cols[c]][off + i];
            if (v - v == 0) sum[(size_t)pc * 5 + c] += v, cnt[(size_t)pc * 5 + c]++;
        }
    }
    if (!(f = fopen(path, "w"))) { free(sum), free(cnt); return fail("cannot create %s", path); }
    fprintf(f, "label\tname\tn_voxels\tmean_z\tmean_r\tavg_r\tt\tp\n");
    for (c = 0; c < a->n_parcels; c++) {
        size_t k;
        fprintf(f, "%lld\t%s\t%zu", (long long)a->label[c], a->name[c], a->n_vox[c]);
        for (k = 0; k < 5; k++)
            fprintf(f, cnt[c * 5 + k] ? "\t%.12g" : "\tnan", cnt[c * 5 + k] ? sum[c * 5 + k] / (double)cnt[c * 5 + k] : 0.0);
        fputc('\n', f);
    }
    bad = ferror(f) != 0;
    bad = fclose(f) != 0 || bad;
    free(sum), free(cnt);
    return bad ? fail("cannot write %s", path) : 0;
}

/* The files of one lesion: NAME_<suffix>; maps[] index (6: the subject count, 7: q, 8: t where
   q < Q), the format (npy, volume, png, table, streamed), and the option that asks for it */
enum lnm_option { ALWAYS, WITH_PNG, WITH_FDR, WITH_ATLAS, WITH_SUBJECT_MAPS };
typedef struct lnm_file { const char *suffix; int map; char kind; enum lnm_option option; } lnm_file;
static const lnm_file lnm_files[] = {
    {"mean_z.npy", 0, 'n', ALWAYS},        {"mean_r.npy", 1, 'n', ALWAYS},  {"avg_r.npy", 2, 'n', ALWAYS},
    {"std_z.npy", 3, 'n', ALWAYS},         {"t.npy", 4, 'n', ALWAYS},       {"p.npy", 5, 'n', ALWAYS},
    {"n.npy", 6, 'n', ALWAYS},             {"AvgR.nii", 2, 'v', ALWAYS},    {"AvgR_Fz.nii", 0, 'v', ALWAYS},
    {"T.nii", 4, 'v', ALWAYS},             {"p.nii", 5, 'v', ALWAYS},       {"T.png", 4, 'p', WITH_PNG},
    {"q.npy", 7, 'n', WITH_FDR},           {"q.nii", 7, 'v', WITH_FDR},     {"T_fdr.nii", 8, 'v', WITH_FDR},
    {"parcels.tsv", 0, 't', WITH_ATLAS},   {"subject_r.npy", 0, 's', WITH_SUBJECT_MAPS},
};

/* Whether this run writes file f of every lesion */
static int lnm_file_wanted(const options *o, size_t f)
{
    switch (lnm_files[f].option) {
    case WITH_PNG: return o->png;
    case WITH_FDR: return o->fdr > 0;
    case WITH_ATLAS: return o->atlas != NULL;
    case WITH_SUBJECT_MAPS: return o->subject_maps;
    default: return 1;
    }
}
#define LNM_MAPS 9
#define LNM_FILES (sizeof lnm_files / sizeof *lnm_files)

/* Two lesions of one NAME would write the same files: refused before anything is opened */
static int check_lesion_names(const options *o)
{
    char a[256], b[256];
    size_t l, k;
    for (l = 0; l < o->n_lesions; l++)
        for (k = 0; k < l; k++) {
            lesion_name(o->lesions[k], a, sizeof a);
            lesion_name(o->lesions[l], b, sizeof b);
            if (!strcmp(a, b))
                return fail("lesions %s and %s have the same name '%s': their maps would overwrite each other; rename one",
                            o->lesions[k], o->lesions[l], a);
        }
    return 0;
}

/* Every lesion's name, and every output declared (made, checked, under temporary names in tmp),
   before any work */
static int declare_outputs(const options *o, char names[][256], ex_outputs *outs, const char *tmp[][LNM_FILES])
{
    char path[1200], err[1400];
    size_t l, f;
    for (l = 0; l < o->n_lesions; l++) {
        lesion_name(o->lesions[l], names[l], 256);
        if (ex_outputs_input(outs, o->lesions[l], err, sizeof err)) return fail("%s", err);
    }
    for (l = 0; l < o->n_lesions; l++)
        for (f = 0; f < LNM_FILES; f++) {
            tmp[l][f] = NULL;
            if (!lnm_file_wanted(o, f)) continue;
            snprintf(path, sizeof path, "%s/%s_%s", o->out_dir, names[l], lnm_files[f].suffix);
            if (!(tmp[l][f] = ex_outputs_add(outs, path, err, sizeof err))) return fail("%s", err);
        }
    return 0;
}

static int write_lesion(const char *const tmp[LNM_FILES], const char *name, double *const maps[LNM_MAPS], size_t off, const geometry *g,
                        const int64_t *les, size_t n_les, const atlas *at)
{
    size_t f;
    for (f = 0; f < LNM_FILES; f++) {
        const double *v;
        if (!tmp[f]) continue;
        if (lnm_files[f].kind == 's') continue; /* written during the run */
        if (lnm_files[f].kind == 't') {
            if (write_parcels(tmp[f], at, maps, off)) return -1;
            continue;
        }
        v = lnm_files[f].map == 6 ? maps[6] : maps[lnm_files[f].map] + off;
        if (lnm_files[f].kind == 'n' ? save_npy(tmp[f], v, g->n_v)
                                      : lnm_files[f].kind == 'v' ? save_nii(tmp[f], v, g) : save_png(tmp[f], name, v, g, les, n_les))
            return -1;
    }
    return 0;
}

/* --fdr: each lesion's q-values over its voxels (maps[7]) and its t where q < Q (maps[8]), with a
   line on how many voxels pass */
static int fdr_maps(const options *o, tp_pool *pool, double *const maps[LNM_MAPS], size_t L, size_t n_v,
                    char names[][256])
{
    size_t l, i;
    tp_error err;
    for (l = 0; l < L; l++) {
        const double *p = maps[5] + l * n_v, *t = maps[4] + l * n_v;
        double *q = maps[7] + l * n_v, *tf = maps[8] + l * n_v;
        size_t pass = 0;
        if (ss_bh_qvalues(pool, p, n_v, q, &err) != TP_OK) return fail("%s", err.message);
        for (i = 0; i < n_v; i++) {
            tf[i] = q[i] < o->fdr ? t[i] : 0.0;
            pass += q[i] < o->fdr;
        }
        printf("%s: %s: %zu of %zu voxels at FDR q < %g\n", PROG, names[l], pass, n_v, o->fdr);
    }
    return 0;
}

/* What NaN did to the maps, and what to do about it; returns 3 when strict let it into them */
static int report_nan(const options *o, const ss_lnm_info *info, size_t n_subjects, char names[][256], double *const maps[LNM_MAPS],
                      size_t n_v)
{
    size_t l, i, hit = 0;
    if (!info->n_subjects_bad_voxel && !info->n_subjects_bad_seed) return 0;
    fprintf(stderr, "%s: %zu of %zu subjects have a series with no correlation (NaN, infinite or constant) in some voxel, %zu in "
                    "some lesion's voxels\n", PROG, info->n_subjects_bad_voxel, n_subjects, info->n_subjects_bad_seed);
    if (o->policy != SS_POLICY_STRICT) {
        fprintf(stderr, "%s: --policy %s counts their r as 0\n", PROG, o->policy == SS_POLICY_LDK ? "ldk" : o->policy == SS_POLICY_LACUNA ? "lacuna" : "ldk_single");
        return 0;
    }
    for (l = 0; l < o->n_lesions; l++) {
        size_t nan = 0;
        for (i = 0; i < n_v; i++) nan += maps[4][l * n_v + i] != maps[4][l * n_v + i];
        if (nan) fprintf(stderr, "%s: %s: t is NaN at %zu of %zu voxels (0 in the NIfTI volumes)\n", PROG, names[l], nan, n_v);
        hit += nan;
    }
    if (!hit) return 0;
    fprintf(stderr, "%s: under --policy strict a NaN reaches every map it touches; --policy ldk or lacuna count such r as 0, "
                    "or clean the connectome\n", PROG);
    return 3;
}

/* --subject-maps: a row per subject into each lesion's stream; with MPI each rank writes its
   subjects' rows in place into files rank 0 made at their full size */
typedef struct subject_streams {
    npy_stream s[MAX_LESIONS];
    size_t n;
#if defined(LNM_MPI)
    FILE *f[MAX_LESIONS];
    unsigned long long header[MAX_LESIONS];
    size_t first; /* this rank's first subject */
#endif
} subject_streams;

static tp_result write_subject(void *user, size_t k, const float *r, size_t n_seeds, size_t n_v, tp_error *err)
{
    subject_streams *ss = (subject_streams *)user;
    char msg[300];
    size_t l;
    for (l = 0; l < n_seeds && l < ss->n; l++) {
#if defined(LNM_MPI)
        off_t at = (off_t)(ss->header[l] + (unsigned long long)(ss->first + k) * n_v * sizeof(float));
        if (fseeko(ss->f[l], at, SEEK_SET) != 0 || fwrite(r + l * n_v, sizeof(float), n_v, ss->f[l]) != n_v)
            return tp_error_set(err, TP_ERR_IO, "cannot write the subject maps");
        (void)msg;
#else
        (void)k;
        if (npy_stream_rows(&ss->s[l], r + l * n_v, 1, msg, sizeof msg)) return tp_error_set(err, TP_ERR_IO, "%s", msg);
#endif
    }
    return TP_OK;
}

#if defined(LNM_MPI)
/* Rank 0 makes each lesion's subject file at its full size; every rank opens them */
static int open_subject_files(subject_streams *ss, const char *tmp[][LNM_FILES], size_t L, size_t n_subjects,
                              size_t n_v)
{
    static char paths[MAX_LESIONS][1024];
    int rank, bad = 0, any;
    size_t l, f;
    char msg[300];
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (f = 0; f < LNM_FILES && lnm_files[f].kind != 's'; f++) {}
    for (l = 0; l < L && rank == 0; l++) {
        npy_map m;
        size_t shape[2];
        shape[0] = n_subjects, shape[1] = n_v;
        snprintf(paths[l], sizeof paths[l], "%s", tmp[l][f]);
        if (npy_map_create(&m, paths[l], NPY_F4, 2, shape, msg, sizeof msg) || (ss->header[l] = m.header, npy_map_close(&m, msg, sizeof msg)))
            bad = fail("%s", msg);
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (bad) return 1;
    MPI_Bcast(paths, (int)sizeof paths, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(ss->header, (int)L, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    {
        size_t hi;
        my_subjects(n_subjects, &ss->first, &hi); /* as the runs split them */
    }
    for (l = 0; l < L; l++) {
        if (!(ss->f[l] = fopen(paths[l], "r+b"))) bad = 1;
        ss->n = l + 1;
    }
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any ? fail("%s", "cannot open the subject maps' files on every rank") : 0;
}
#endif

/* Closes the subject files or streams; with MPI every rank's rows are in before rank 0 goes on */
static int close_subject_files(subject_streams *ss, int ok)
{
    char msg[300];
    size_t l;
    int bad = 0;
    for (l = 0; l < ss->n; l++) {
#if defined(LNM_MPI)
        bad |= fclose(ss->f[l]) != 0;
        (void)msg;
#else
        if (ok && npy_stream_close(&ss->s[l], msg, sizeof msg)) bad = fail("%s", msg);
        else if (!ok) npy_stream_close(&ss->s[l], NULL, 0);
#endif
    }
    ss->n = 0;
#if defined(LNM_MPI)
    {
        int any;
        MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (any && ok) return fail("%s", "cannot write the subject maps");
    }
#endif
    return bad;
}

/* ---- --seed pini: each connectome file's representative lesion voxels (lacuna's PINI) -------- */

/* Rows of ss_pini_row for subjects lo .. hi - 1 into rows (n_all apart) */
static int pini_rows(const ss_lnm_desc *d, size_t lo, size_t hi, double *rows, size_t n_all, tp_error *err)
{
    float *buf = NULL;
    size_t k;
    int bad = 0;
    if (d->read && !(buf = (float *)malloc(d->n_t * d->n_v * sizeof(float))))
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory for a subject"), -1;
    for (k = lo; k < hi && !bad; k++) {
        const float *ts = buf;
        if (d->read ? d->read(d->source_user, k, buf, err) != TP_OK : !(ts = d->view(d->source_user, k, err))) {
            char at[48];
            snprintf(at, sizeof at, "subject %zu", k);
            tp_error_prefix(err, at);
            bad = 1;
        }
        else if (ss_pini_row(d->pool, ts, d->n_t, d->n_v, d->n_v, d->seeds, rows + (k - lo) * n_all, err) != TP_OK)
            bad = 1;
        else if (d->progress && d->progress(d->user, k + 1 - lo, hi - lo))
            bad = 1, tp_error_set(err, TP_ERR_CANCELLED, "cancelled");
    }
    free(buf);
    return bad ? -1 : 0;
}

#if defined(LNM_MPI)
/* Every rank's rows of one file (ranks hold contiguous, ordered parts of it) to every rank */
static int pini_gather(double *rows, size_t file_lo, size_t file_hi, size_t n_subjects, size_t n_all)
{
    int size, r, *counts, *displs, ok = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    counts = (int *)malloc(2 * (size_t)size * sizeof(int));
    if (!counts) return -1;
    displs = counts + size;
    for (r = 0; r < size; r++) {
        size_t lo = n_subjects * (size_t)r / (size_t)size, hi = n_subjects * (size_t)(r + 1) / (size_t)size;
        size_t a = lo > file_lo ? lo : file_lo, b = hi < file_hi ? hi : file_hi;
        size_t n = b > a ? (b - a) * n_all : 0, at = b > a ? (a - file_lo) * n_all : 0;
        ok &= n <= (size_t)INT_MAX && at <= (size_t)INT_MAX;
        counts[r] = (int)n, displs[r] = (int)at;
    }
    if (ok) MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows, counts, displs, MPI_DOUBLE, MPI_COMM_WORLD);
    free(counts);
    return ok ? 0 : -1;
}
#endif

/* Per connectome file (subjects first[f] .. first[f + 1] - 1): every subject's row of voxel-to-
   lesion r (pass 1), the voxels PINI keeps, then the file's subjects with those seeds (pass 2);
   the files' states merged. kept[f * L + l]: voxels kept of lesion l in file f. */
static int compute_pini(const ss_lnm_desc *d0, const ss_lnm_maps *m, const size_t *first, size_t n_files, double percentile,
                        run_state *st, subject_streams *subjects, size_t *kept, tp_error *err)
{
    const ss_seeds *seeds = d0->seeds;
    size_t L = seeds->n_seeds, n_all = seeds->offsets[L], lo, hi, f, l, most = 0;
    size_t *koff = (size_t *)malloc((L + 1) * sizeof(size_t));
    int64_t *kvox = (int64_t *)malloc(n_all * sizeof(int64_t));
    double *rows;
    ss_lnm_info counts;
    ss_lnm_state acc = {NULL, NULL};
    ss_lnm_desc dd = *d0;
    ss_seeds mine;
    int bad = 0;
    if (!is_root()) dd.progress = NULL;
    for (f = 0; f < n_files; f++) most = first[f + 1] - first[f] > most ? first[f + 1] - first[f] : most;
    rows = (double *)malloc((most ? most : 1) * n_all * sizeof(double));
    my_subjects(d0->n_subjects, &lo, &hi);
    memset(&counts, 0, sizeof counts);
    tp_error_clear(err);
    st->base = 0, st->all = 2 * (hi - lo);
    if (!koff || !kvox || !rows) bad = 1, tp_error_set(err, TP_ERR_NOMEM, "out of memory for the PINI rows");
    for (f = 0; f < n_files; f++) { /* with MPI every rank goes through every file: the checks are collective */
        size_t a = first[f] > lo ? first[f] : lo, b = first[f + 1] < hi ? first[f + 1] : hi;
        if (!bad && b > a) bad = pini_rows(&dd, a, b, rows + (a - first[f]) * n_all, n_all, err) != 0;
        if (b > a) st->base += b - a;
#if defined(LNM_MPI)
        { /* every rank needs the file's rows: the selection is the file's */
            int any;
            MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
            if (any) break;
            if (pini_gather(rows, first[f], first[f + 1], d0->n_subjects, n_all))
                bad = 1, tp_error_set(err, TP_ERR_OVERFLOW, "a file's PINI rows exceed what MPI sends at once");
        }
#else
        if (bad) break;
#endif
        if (!bad && ss_pini_select(d0->pool, rows, first[f + 1] - first[f], n_all, seeds, percentile, kvox, koff, NULL, err) != TP_OK)
            bad = 1;
        for (l = 0; l < L && !bad; l++) kept[f * L + l] = koff[l + 1] - koff[l];
        if (!bad && b > a) {
            sub_range range;
            ss_lnm_desc d = desc_range(&dd, &range, a, b - a);
            memset(&mine, 0, sizeof mine);
            mine.n_seeds = L, mine.voxels = kvox, mine.offsets = koff;
            d.seeds = &mine;
#if defined(LNM_MPI)
            subjects->first = a;
#else
            (void)subjects;
#endif
            bad = run_part(&d, &acc, &counts, err) != 0;
        }
        if (b > a) st->base += b - a;
    }
    if (!bad && !acc.z) bad = empty_states(d0, &acc, err) != 0; /* a rank with no subject */
    free(rows), free(kvox), free(koff);
    return finish_states(d0, &acc, &counts, m, bad, err);
}

/* ", PINI kept 20 (per file 18 to 22)": what --seed pini kept of lesion l */
static const char *pini_summary(const size_t *kept, size_t n_files, size_t L, size_t l, char *buf, size_t cap)
{
    size_t f, lo = kept[l], hi = kept[l];
    for (f = 1; f < n_files; f++) lo = kept[f * L + l] < lo ? kept[f * L + l] : lo, hi = kept[f * L + l] > hi ? kept[f * L + l] : hi;
    if (lo == hi) snprintf(buf, cap, ", PINI kept %zu%s", lo, n_files > 1 ? " in every file" : "");
    else snprintf(buf, cap, ", PINI kept %zu to %zu (per file)", lo, hi);
    return buf;
}

/* Runs every lesion at once over the subjects and writes the maps. Returns the exit status. */
/* The subjects come in n_files connectome files, file f holding subjects first[f] .. first[f + 1] - 1
   (--seed pini selects per file). */
static int run(const options *o, size_t n_subjects, size_t n_t, const geometry *g, ss_read_fn read, ss_view_fn view,
               void *read_user, size_t reader_bytes, const size_t *first, size_t n_files)
{
    int64_t *all = NULL;
    static subject_streams subjects;
    atlas at;
    double *weights = NULL;
    int weighted = 0;
    size_t offsets[MAX_LESIONS + 1], L = o->n_lesions, l, i, lv;
    static char names[MAX_LESIONS][256];
    static const char *tmp[MAX_LESIONS][LNM_FILES];
    double *maps[LNM_MAPS] = {NULL}, t0;
    tp_error err;
    size_t work_bytes = 0;
    ss_seeds seeds = TP_DEFAULTS;
    ss_lnm_desc d;
    ss_lnm_maps m;
    ss_lnm_info info;
    run_state st;
    ex_outputs outs;
    tp_pool *pool = NULL;
    int rc = 1, bad = 0;
    char msg[1200];
    size_t *kept = NULL; /* --seed pini: voxels kept per file and lesion */
    ex_outputs_init(&outs);
    memset(&at, 0, sizeof at);
    subjects.n = 0;
    if (is_root()) /* outputs and the atlas checked before any work */
        bad = declare_outputs(o, names, &outs, tmp) != 0 || (o->atlas && atlas_load(o->atlas, o->atlas_labels, g, &at));
#if defined(LNM_MPI)
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD); /* every rank stops when rank 0 cannot write */
#endif
    if (bad) goto done;
    offsets[0] = 0;
    for (l = 0; l < L; l++) {
        int64_t *v, *grown;
        double *w, *grown_w;
        size_t n, k;
        if (load_lesion(o->lesions[l], g, o->binarize, &v, &w, &n)) goto done;
        grown = (int64_t *)realloc(all, (offsets[l] + n) * sizeof(int64_t));
        grown_w = (double *)realloc(weights, (offsets[l] + n) * sizeof(double));
        if (grown) all = grown;
        if (grown_w) weights = grown_w;
        if (!grown || !grown_w) { free(v), free(w); fail("%s", "out of memory"); goto done; }
        memcpy(all + offsets[l], v, n * sizeof(int64_t));
        for (k = 0; k < n; k++) weights[offsets[l] + k] = w ? w[k] : 1.0;
        if (w) {
            weighted = 1;
            printf("%s: %s: a weighted lesion (values from %g to %g): its series is the weighted mean (--binarize: "
                   "the plain mean)\n", PROG, o->lesions[l], min_of(w, n), max_of(w, n));
        }
        free(v), free(w);
        offsets[l + 1] = offsets[l] + n;
        if (!is_root()) lesion_name(o->lesions[l], names[l], sizeof names[l]);
    }
    if (o->pini && weighted) {
        fail("%s", PINI_WEIGHTS);
        goto done;
    }
    if (o->pini && !(kept = (size_t *)calloc(n_files * L, sizeof(size_t)))) {
        fail("%s", "out of memory");
        goto done;
    }
    lv = L * g->n_v;
    for (i = 0; i < LNM_MAPS; i++)
        if ((i < 7 || o->fdr) && !(maps[i] = (double *)malloc((i == 6 ? g->n_v : lv) * sizeof(double)))) {
            fail("%s", "out of memory for the maps");
            goto done;
        }
    for (i = 0; i < g->n_v; i++) maps[6][i] = (double)n_subjects;
    seeds.n_seeds = L;
    seeds.voxels = all;
    seeds.offsets = offsets;
    seeds.weights = weighted ? weights : NULL; /* unweighted lesions keep the plain mean, bit for bit */
    if (tp_create(NULL, &pool, &err) != TP_OK) { fail("%s", err.message); goto done; }
    memset(&d, 0, sizeof d);
    d.pool = pool;
    d.n_subjects = n_subjects;
    d.n_t = n_t;
    d.n_v = g->n_v;
    d.read = read;
    d.view = view;
    d.source_user = read_user;
    d.seeds = &seeds;
    d.policy = (ss_policy)o->policy;
    d.precision = (tp_dtype)o->precision;
    d.progress = on_progress;
    d.user = &st;
    d.n_threads = o->threads ? (int)o->threads : default_threads();
    d.read_ahead = o->read_ahead;
    if (o->subject_maps) { /* each lesion's stream, opened under its temporary name */
#if defined(LNM_MPI)
        if (open_subject_files(&subjects, tmp, L, n_subjects, g->n_v)) goto done;
#else
        for (l = 0; l < L; l++) {
            size_t f;
            for (f = 0; f < LNM_FILES && lnm_files[f].kind != 's'; f++) {}
            if (npy_stream_open(&subjects.s[l], tmp[l][f], NPY_F4, g->n_v, msg, sizeof msg)) { fail("%s", msg); goto done; }
            subjects.n = l + 1;
        }
#endif
        d.subject_r = write_subject, d.subject_user = &subjects;
    }
    memset(&m, 0, sizeof m);
    memset(&info, 0, sizeof info);
    m.mean_z = maps[0];
    m.mean_r = maps[1];
    m.avg_r = maps[2];
    m.std_z = maps[3];
    m.t = maps[4];
    m.p = maps[5];
    m.info = &info;
    progress_begin(&st.bar, PROG);
    t0 = progress_now();
    st.base = st.all = 0;
    if (o->pini ? compute_pini(&d, &m, first, n_files, o->pini_percentile, &st, &subjects, kept, &err) != 0
                : compute(&d, &m, &err) != 0) {
        progress_end(&st.bar);
        if (err.code != TP_OK) fail("%s", err.message);
        goto done;
    }
    progress_end(&st.bar);
    ss_lnm_estimate_bytes(&d, &work_bytes, NULL);
    if (subjects.n && close_subject_files(&subjects, 1)) goto done;
    if (!is_root()) {
        rc = 0;
        goto done;
    }
    if (o->fdr && fdr_maps(o, pool, maps, L, g->n_v, names)) goto done;
    for (l = 0; l < L; l++)
        if (write_lesion(tmp[l], names[l], maps, l * g->n_v, g, all + offsets[l], offsets[l + 1] - offsets[l], &at)) goto done;
    if (ex_outputs_commit(&outs, msg, sizeof msg)) { fail("%s", msg); goto done; }
    for (l = 0; l < L; l++) {
        size_t off = l * g->n_v, peak = 0;
        for (i = 1; i < g->n_v; i++)
            if (maps[4][off + i] > maps[4][off + peak] || maps[4][off + peak] != maps[4][off + peak]) peak = i;
        if (maps[4][off + peak] != maps[4][off + peak]) {
            printf("%s: %s: %zu voxels, no finite t\n", PROG, names[l], offsets[l + 1] - offsets[l]);
            continue;
        }
        printf("%s: %s: %zu voxels%s, peak t = %.3g at voxel %zu (grid %lld, %lld, %lld), mean r there %.3g\n", PROG, names[l],
               offsets[l + 1] - offsets[l], kept ? pini_summary(kept, n_files, L, l, msg, sizeof msg) : "", maps[4][off + peak], peak,
               (long long)g->ijk[peak], (long long)g->ijk[g->n_v + peak], (long long)g->ijk[2 * g->n_v + peak], maps[1][off + peak]);
    }
    printf("%s: %zu lesions x %zu subjects x %zu time points x %zu voxels in %.2f s, %.1f MiB of working memory; maps in %s/\n",
           PROG, L, n_subjects, n_t, g->n_v, progress_now() - t0, (double)(work_bytes + reader_bytes) / 1048576.0, o->out_dir);
    rc = report_nan(o, &info, n_subjects, names, maps, g->n_v);
done:
    if (subjects.n) close_subject_files(&subjects, 0);
    ex_outputs_free(&outs);
    for (i = 0; i < LNM_MAPS; i++) free(maps[i]);
    free(all);
    free(weights);
    free(kept);
    atlas_free(&at);
    if (pool) tp_destroy(pool);
    return rc;
}

/* ---- --roi2roi: parcel by parcel over subjects ------------------------------------------------- */

static int roi2roi_table(const char *path, const atlas *a)
{
    FILE *f = fopen(path, "w");
    size_t c;
    int bad;
    if (!f) return fail("cannot create %s", path);
    fprintf(f, "index\tlabel\tname\tn_voxels\n");
    for (c = 0; c < a->n_parcels; c++) fprintf(f, "%zu\t%lld\t%s\t%zu\n", c, (long long)a->label[c], a->name[c], a->n_vox[c]);
    bad = ferror(f) != 0;
    bad = fclose(f) != 0 || bad;
    return bad ? fail("cannot write %s", path) : 0;
}

/* Every subject once: its parcels' mean series, their r, Fisher z into one accumulator of P x P
   features (memory independent of the subjects); then mean z, t and p under the policy. Beside
   lesions the subjects are fed from the lesions' own pass (tee_read, tee_view): read once. */
typedef struct r2r {
    ex_outputs outs;
    const char *tmp[4];
    atlas at;
    ss_moments *acc;
    tp_pool *pool;
    double *r;
} r2r;

static void r2r_close(r2r *x)
{
    ex_outputs_free(&x->outs);
    atlas_free(&x->at);
    ss_moments_destroy(x->acc);
    free(x->r);
    if (x->pool) tp_destroy(x->pool);
    memset(x, 0, sizeof *x);
}

/* The atlas, the outputs declared (before any work), the accumulator; 0 or 1 (said why) */
static int r2r_open(const options *o, const geometry *g, r2r *x)
{
    static const char *const files[4] = {"roi2roi_mean_z.npy", "roi2roi_t.npy", "roi2roi_p.npy", "roi2roi_parcels.tsv"};
    ss_moments_desc md;
    tp_error err;
    char path[1200], msg[1400];
    size_t k, P;
    int bad = 0;
    memset(x, 0, sizeof *x);
    ex_outputs_init(&x->outs);
    if (atlas_load(o->roi2roi, o->atlas_labels, g, &x->at)) return 1; /* every rank: the same file */
    for (k = 0; k < 4 && is_root(); k++) {
        snprintf(path, sizeof path, "%s/%s", o->out_dir, files[k]);
        if (!(x->tmp[k] = ex_outputs_add(&x->outs, path, msg, sizeof msg))) { fail("%s", msg); bad = 1; break; }
    }
#if defined(LNM_MPI)
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
    if (bad) return 1;
    P = x->at.n_parcels;
    if (tp_create(NULL, &x->pool, &err) != TP_OK) return fail("%s", err.message);
    memset(&md, 0, sizeof md);
    md.pool = x->pool;
    md.n_features = P * P;
    md.nan_policy = o->policy == SS_POLICY_STRICT ? SS_NAN_PROPAGATE : SS_NAN_AS_ZERO;
    if (ss_moments_create(&md, &x->acc, &err) != TP_OK) return fail("%s", err.message);
    if (!(x->r = (double *)malloc(P * P * sizeof(double)))) return fail("%s", "out of memory for the parcel matrices");
    return 0;
}

/* One subject's parcel-by-parcel z into the accumulator */
static tp_result r2r_add(r2r *x, const float *ts, size_t n_t, size_t n_v, tp_error *err)
{
    size_t P = x->at.n_parcels, i;
    if (ss_parcel_corr(x->pool, ts, n_t, n_v, n_v, x->at.parcel_of, P, x->r, P, err) != TP_OK) return err->code;
    for (i = 0; i < P * P; i++) x->r[i] = i % (P + 1) == 0 ? NAN : ss_fisher_z(x->r[i], 0); /* no self-pairs */
    return ss_moments_add_rows(x->acc, x->r, TP_F64, 1, 0, err);
}

/* (With MPI: every rank's accumulator into rank 0's, in rank order.) Mean z, t and p written, the
   strongest pair said; 0, or 1 (said why) */
static int r2r_finish(r2r *x, const options *o, size_t n_subjects, double seconds, int bad)
{
    size_t P = x->at.n_parcels, k, i, j, bi = 0, bj = 0, shape[2];
    double *mean, *t, *p, best = -HUGE_VAL;
    ss_finalize_opts fo;
    ss_maps maps;
    tp_error err;
    char msg[1400];
    int rc = 1;
#if defined(LNM_MPI)
    int rank, size, any;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) return 1;
    if (rank != 0) return send_state(x->acc, 0) != 0;
    for (k = 1; k < (size_t)size && !bad; k++) bad = merge_state(x->acc, (int)k);
    if (bad) return fail("%s", "cannot merge the ranks' parcel accumulators");
#endif
    if (bad) return 1;
    if (!(mean = (double *)malloc(3 * P * P * sizeof(double)))) return fail("%s", "out of memory for the parcel matrices");
    t = mean + P * P, p = t + P * P;
    memset(&fo, 0, sizeof fo);
    fo.ddof = 1;
    fo.t_population = o->policy == SS_POLICY_LDK;
    memset(&maps, 0, sizeof maps);
    maps.mean = mean, maps.t = t, maps.p = p;
    if (ss_moments_finalize(x->acc, &fo, &maps, &err) != TP_OK) { fail("%s", err.message); goto done; }
    for (i = 0; i < P; i++) /* the diagonal stays NaN whatever the policy */
        mean[i * (P + 1)] = t[i * (P + 1)] = p[i * (P + 1)] = NAN;
    shape[0] = shape[1] = P;
    for (k = 0; k < 3; k++)
        if (npy_write(x->tmp[k], NPY_F8, 2, shape, k == 0 ? mean : k == 1 ? t : p, msg, sizeof msg)) { fail("%s", msg); goto done; }
    if (roi2roi_table(x->tmp[3], &x->at)) goto done;
    if (ex_outputs_commit(&x->outs, msg, sizeof msg)) { fail("%s", msg); goto done; }
    for (i = 0; i < P; i++)
        for (j = i + 1; j < P; j++)
            if (t[i * P + j] > best) best = t[i * P + j], bi = i, bj = j;
    printf("%s: roi2roi: %zu parcels x %zu subjects in %.2f s; the strongest pair: %lld (%s) - %lld (%s), mean z %.3g, t %.3g\n",
           PROG, P, n_subjects, seconds, (long long)x->at.label[bi], x->at.name[bi][0] ? x->at.name[bi] : "-",
           (long long)x->at.label[bj], x->at.name[bj][0] ? x->at.name[bj] : "-", mean[bi * P + bj], best);
    rc = 0;
done:
    free(mean);
    return rc;
}

#if defined(STAT_STREAM_USE_HDF5)
/* --roi2roi alone: the subjects read for it */
static int roi2roi(const options *o, size_t n_subjects, size_t n_t, const geometry *g, ss_read_fn read, ss_view_fn view,
                   void *user)
{
    size_t first, last, k;
    int bad = 0, rc;
    r2r x;
    tp_error err;
    float *buf = NULL;
    double t0;
    run_state st;
    my_subjects(n_subjects, &first, &last);
    if (r2r_open(o, g, &x)) {
        r2r_close(&x);
        return 1;
    }
    if (read && !(buf = (float *)malloc(n_t * g->n_v * sizeof(float)))) bad = fail("%s", "out of memory for a subject");
    memset(&st, 0, sizeof st);
    progress_begin(&st.bar, PROG " roi2roi");
    t0 = progress_now();
    for (k = first; k < last && !bad; k++) {
        const float *ts = buf;
        if (read ? read(user, k, buf, &err) != TP_OK : !(ts = view(user, k, &err)))
            bad = fail("subject %zu: %s", k, err.message);
        else if (r2r_add(&x, ts, n_t, g->n_v, &err) != TP_OK)
            bad = fail("%s", err.message);
        if (is_root() && on_progress(&st, k + 1 - first, last - first)) break;
    }
    progress_end(&st.bar);
    free(buf);
    rc = r2r_finish(&x, o, n_subjects, progress_now() - t0, bad);
    r2r_close(&x);
    return rc;
}

#endif

/* A source that also feeds roi2roi each subject the first time it passes (the lesions' run may
   show a subject twice: --seed pini), in order from this process's first */
typedef struct tee {
    ss_read_fn read;
    ss_view_fn view;
    void *user;
    r2r *x;
    size_t next, n_t, n_v;
} tee;

static tp_result tee_feed(tee *t, size_t k, const float *ts, tp_error *err)
{
    if (k != t->next) return TP_OK;
    t->next++;
    return r2r_add(t->x, ts, t->n_t, t->n_v, err);
}

static tp_result tee_read(void *user, size_t k, float *ts, tp_error *err)
{
    tee *t = (tee *)user;
    tp_result rc = t->read(t->user, k, ts, err);
    return rc == TP_OK ? tee_feed(t, k, ts, err) : rc;
}

static const float *tee_view(void *user, size_t k, tp_error *err)
{
    tee *t = (tee *)user;
    const float *ts = t->view(t->user, k, err);
    return ts && tee_feed(t, k, ts, err) == TP_OK ? ts : NULL;
}

/* The lesions' run, with --roi2roi fed from the same pass */
static int run_all(const options *o, size_t n_subjects, size_t n_t, const geometry *g, ss_read_fn read, ss_view_fn view,
                   void *user, size_t reader_bytes, const size_t *first, size_t n_files)
{
    tee t;
    r2r x;
    size_t lo, hi;
    double t0;
    int rc, r2, ok;
    if (!o->roi2roi) return run(o, n_subjects, n_t, g, read, view, user, reader_bytes, first, n_files);
    if (r2r_open(o, g, &x)) {
        r2r_close(&x);
        return 1;
    }
    my_subjects(n_subjects, &lo, &hi);
    t.read = read, t.view = view, t.user = user, t.x = &x, t.next = lo, t.n_t = n_t, t.n_v = g->n_v;
    t0 = progress_now();
    rc = run(o, n_subjects, n_t, g, read ? tee_read : NULL, view ? tee_view : NULL, &t, reader_bytes, first, n_files);
    ok = rc == 0 || rc == 3;
#if defined(LNM_MPI)
    { /* every rank finishes, or none */
        int all;
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        ok = all;
    }
#endif
    if (ok) {
        int missed = t.next != hi;
        if (missed) fail("roi2roi: %zu of the subjects %zu .. %zu came past", t.next - lo, lo, hi - 1);
        if ((r2 = r2r_finish(&x, o, n_subjects, progress_now() - t0, missed)) != 0) rc = r2;
    }
    r2r_close(&x);
    return rc;
}

#if defined(STAT_STREAM_USE_HDF5)
static int run_connectome(const options *o)
{
    ss_h5 *c = NULL;
    ss_h5_desc hd;
    geometry g;
    tp_error err;
    const double *aff;
    size_t *first, f;
    int rc, i;
    memset(&hd, 0, sizeof hd);
    hd.path = o->connectome;
    if (ss_h5_create(&hd, &c, &err) != TP_OK) return fail("%s", err.message);
    g.n_v = ss_h5_voxels(c);
    for (i = 0; i < 3; i++) g.shape[i] = (size_t)ss_h5_mask_shape(c)[i];
    g.ijk = ss_h5_mask_indices(c);
    aff = ss_h5_affine(c);
    memcpy(g.affine, aff, sizeof g.affine);
    if (!(first = (size_t *)malloc((ss_h5_files(c) + 1) * sizeof(size_t)))) {
        ss_h5_destroy(c);
        return fail("%s", "out of memory");
    }
    for (f = 0; f <= ss_h5_files(c); f++) first[f] = ss_h5_file_first(c, f);
    /* subjects in place (memory-mapped) where the files allow it: no copy, no slab */
    rc = !o->n_lesions ? roi2roi(o, ss_h5_subjects(c), ss_h5_timepoints(c), &g, NULL, ss_h5_view, c)
                       : run_all(o, ss_h5_subjects(c), ss_h5_timepoints(c), &g, o->read_ahead ? ss_h5_read : NULL,
                                 o->read_ahead ? NULL : ss_h5_view, c,
                                 o->read_ahead || ss_h5_mapped(c) ? 0 : ss_h5_timepoints(c) * g.n_v * sizeof(float), first,
                                 ss_h5_files(c));
    free(first);
    ss_h5_destroy(c);
    return rc;
}
#else
static int run_connectome(const options *o)
{
    (void)o;
    return fail("%s", "this build has no HDF5 support: install libhdf5-dev and rebuild (make detects it)");
}
#endif

/* ---- several connectomes: each read once for all lesions, its maps in a directory of its own --- */

static int has_h5(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (!d) return 0;
    while (!found && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        found = n > 3 && !strcmp(e->d_name + n - 3, ".h5");
    }
    closedir(d);
    return found;
}

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A directory with no .h5 file of its own whose subdirectories hold some: those subdirectories,
   sorted, into list (malloc'd paths); returns how many (0: not such a directory) */
static size_t sub_connectomes(const char *dir, char **list, size_t cap)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    size_t n = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || has_h5(dir) || !(d = opendir(dir))) return 0;
    while (n < cap && (e = readdir(d))) {
        char path[1200];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && has_h5(path) && (list[n] = (char *)malloc(strlen(path) + 1)))
            strcpy(list[n++], path);
    }
    closedir(d);
    qsort(list, n, sizeof *list, by_string);
    return n;
}

/* The name of a connectome's output directory: its file or directory name without .h5 */
static void connectome_name(const char *path, char *name, size_t cap)
{
    size_t n = strlen(path);
    const char *base;
    while (n > 1 && path[n - 1] == '/') n--;
    base = path + n;
    while (base > path && base[-1] != '/') base--;
    snprintf(name, cap, "%.*s", (int)(path + n - base), base);
    n = strlen(name);
    if (n > 3 && !strcmp(name + n - 3, ".h5")) name[n - 3] = 0;
}

static int run_connectomes(const options *o)
{
    static char *list[MAX_CONNECTOMES];
    static char names[MAX_CONNECTOMES][256], dirs[MAX_CONNECTOMES][1400];
    size_t n = 0, i, k;
    int rc = 0, worst = 0;
    char err[1400];
    for (i = 0; i < o->n_connectomes; i++) {
        size_t got = sub_connectomes(o->connectomes[i], list + n, MAX_CONNECTOMES - n);
        if (!got && n < MAX_CONNECTOMES && (list[n] = (char *)malloc(strlen(o->connectomes[i]) + 1)))
            strcpy(list[n], o->connectomes[i]), got = 1;
        n += got;
    }
    for (i = 0; i < n; i++) { /* distinct names, and every output directory made, before any work */
        connectome_name(list[i], names[i], sizeof names[i]);
        for (k = 0; k < i; k++)
            if (!strcmp(names[i], names[k])) {
                rc = fail("connectomes %s and %s have the same name '%s': their maps would overwrite each other", list[k],
                          list[i], names[i]);
                goto done;
            }
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", o->out_dir, names[i]);
        if (n > 1 && is_root() && ex_mkdir_p(dirs[i], err, sizeof err)) {
            rc = fail("%s", err);
            goto done;
        }
    }
    for (i = 0; i < n; i++) {
        options one = *o;
        one.connectome = list[i];
        if (n > 1) {
            one.out_dir = dirs[i];
            if (is_root()) printf("%s: connectome %zu of %zu: %s\n", PROG, i + 1, n, list[i]);
        }
        rc = run_connectome(&one);
        if (rc != 0 && rc != 3) goto done;
        worst = rc > worst ? rc : worst;
    }
    rc = worst;
done:
    for (i = 0; i < n; i++) free(list[i]);
    return rc;
}

/* ---- the demo: two connected regions on a small grid ------------------------------------------- */

enum { DS = 40, DT = 120, DX = 24, DY = 28, DZ = 18 };

typedef struct demo_conn { float *ts; size_t n_v; } demo_conn;

static tp_result demo_read(void *user, size_t k, float *ts, tp_error *err)
{
    demo_conn *c = (demo_conn *)user;
    (void)err;
    memcpy(ts, c->ts + k * DT * c->n_v, DT * c->n_v * sizeof(float));
    return TP_OK;
}

static double demo_gauss(unsigned long long *s)
{
    double u1, u2;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    u1 = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    u2 = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* The demo's lesion (2 mm voxels 6..8, 8..10, 8..10) as a mask on a 1 mm grid of twice the size
   whose voxel centres straddle the 2 mm ones */
static int demo_lesion_1mm(const char *path)
{
    nifti_image img;
    double vox[3] = {1, 1, 1}, origin[3] = {-24.5, -28.5, -18.5};
    size_t i, j, k;
    char err[1200];
    int rc;
    memset(&img, 0, sizeof img);
    img.ndim = 3;
    img.dim[0] = 2 * DX, img.dim[1] = 2 * DY, img.dim[2] = 2 * DZ;
    img.count = img.dim[0] * img.dim[1] * img.dim[2];
    img.pixdim[0] = img.pixdim[1] = img.pixdim[2] = 1;
    nifti_affine_scaled(img.affine, vox, origin);
    img.sform_code = img.qform_code = 1;
    if (!(img.data = (double *)calloc(img.count, sizeof(double)))) return fail("%s", "out of memory");
    for (k = 16; k < 22; k++)
        for (j = 16; j < 22; j++)
            for (i = 12; i < 18; i++) img.data[i + img.dim[0] * (j + img.dim[1] * k)] = 1;
    rc = nifti_write(path, &img, err, sizeof err) ? fail("%s", err) : 0;
    free(img.data);
    return rc;
}

static int demo_atlas(const char *path, const char *labels, const geometry *g)
{
    double *v = (double *)malloc(g->n_v * sizeof(double));
    FILE *f;
    size_t i;
    int rc;
    if (!v) return fail("%s", "out of memory");
    for (i = 0; i < g->n_v; i++) {
        double x = (double)g->ijk[i], y = (double)g->ijk[g->n_v + i], z = (double)g->ijk[2 * g->n_v + i];
        v[i] = (x - 7) * (x - 7) + (y - 9) * (y - 9) + (z - 9) * (z - 9) <= 9      ? 1
               : (x - 16) * (x - 16) + (y - 19) * (y - 19) + (z - 9) * (z - 9) <= 9 ? 2
                                                                                  : 3;
    }
    rc = save_nii(path, v, g);
    free(v);
    if (rc) return rc;
    if (!(f = fopen(labels, "w"))) return fail("cannot create %s", labels);
    fprintf(f, "index\tname\n1\tregion A (the lesion's)\n2\tregion B (its partner)\n3\tthe rest\n");
    return fclose(f) != 0 ? fail("cannot write %s", labels) : 0;
}

static int demo(const options *o0)
{
    options o = *o0;
    const char *dir = o.out_dir ? o.out_dir : "out";
    char lesion_path[1024], err[1200];
    static char atlas_path[1024], labels_path[1024], lesion_1mm[1024];
    int files_bad = 0;
    int64_t *ijk, lesion[27];
    size_t i, j, k, n_v = 0, s, t, nl = 0;
    int rc;
    unsigned long long seed = 77;
    demo_conn c;
    geometry g;
    /* an ellipsoid "brain", region A around (7, 9, 9), region B around (16, 19, 9) */
    ijk = (int64_t *)malloc(3 * DX * DY * DZ * sizeof(int64_t));
    if (!ijk) return fail("%s", "out of memory");
    for (k = 0; k < DZ; k++)
        for (j = 0; j < DY; j++)
            for (i = 0; i < DX; i++) {
                double x = (i - 11.5) / 11.5, y = (j - 13.5) / 13.5, z = (k - 8.5) / 8.5;
                if (x * x + y * y + z * z <= 1) {
                    ijk[n_v] = (int64_t)i;
                    ijk[DX * DY * DZ + n_v] = (int64_t)j;
                    ijk[2 * DX * DY * DZ + n_v] = (int64_t)k;
                    n_v++;
                }
            }
    for (i = 0; i < n_v; i++) { /* compact to 3 x n_v */
        ijk[n_v + i] = ijk[DX * DY * DZ + i];
    }
    for (i = 0; i < n_v; i++) ijk[2 * n_v + i] = ijk[2 * DX * DY * DZ + i];
    c.n_v = n_v;
    c.ts = (float *)malloc((size_t)DS * DT * n_v * sizeof(float));
    if (!c.ts) { free(ijk); return fail("%s", "out of memory"); }
    for (s = 0; s < DS; s++)
        for (t = 0; t < DT; t++) {
            double net = demo_gauss(&seed);
            for (i = 0; i < n_v; i++) {
                double dxa = (double)ijk[i] - 7, dya = (double)ijk[n_v + i] - 9, dza = (double)ijk[2 * n_v + i] - 9;
                double dxb = (double)ijk[i] - 16, dyb = (double)ijk[n_v + i] - 19, dzb = (double)ijk[2 * n_v + i] - 9;
                double w = exp(-(dxa * dxa + dya * dya + dza * dza) / 8) + exp(-(dxb * dxb + dyb * dyb + dzb * dzb) / 8);
                c.ts[(s * DT + t) * n_v + i] = (float)(1000 + 0.8 * w * net + demo_gauss(&seed));
            }
        }
    for (i = 0; i < n_v && nl < 27; i++) /* the lesion: the 3 x 3 x 3 block at region A's centre */
        if (llabs(ijk[i] - 7) <= 1 && llabs(ijk[n_v + i] - 9) <= 1 && llabs(ijk[2 * n_v + i] - 9) <= 1) lesion[nl++] = (int64_t)i;
    g.n_v = n_v;
    g.shape[0] = DX;
    g.shape[1] = DY;
    g.shape[2] = DZ;
    g.ijk = ijk;
    {
        double vox[3] = {2, 2, 2}, origin[3] = {-24, -28, -18};
        nifti_affine_scaled(g.affine, vox, origin);
    }
    for (i = 0; i < o.n_lesions; i++) { /* so must the user's lesions */
        int64_t *v = NULL;
        double *w = NULL;
        size_t nv;
        int bad = is_root() && load_lesion(o.lesions[i], &g, o.binarize, &v, &w, &nv);
        if (!bad && w && o.pini) bad = fail("%s", PINI_WEIGHTS);
        free(v), free(w);
#if defined(LNM_MPI)
        MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
        if (bad) { free(c.ts); free(ijk); return 1; }
    }
    if (o.atlas) { /* the user's atlas must fit the demo's grid before the demo writes anything */
        atlas check;
        int bad;
        memset(&check, 0, sizeof check);
        bad = is_root() && atlas_load(o.atlas, o.atlas_labels, &g, &check);
        atlas_free(&check);
#if defined(LNM_MPI)
        MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
        if (bad) { free(c.ts); free(ijk); return 1; }
    }
    /* the demo's files, written by rank 0 (MPI: the others wait for them, or for its failure) */
    snprintf(lesion_path, sizeof lesion_path, "%s/lnm_demo_lesion.npy", dir);
    snprintf(lesion_1mm, sizeof lesion_1mm, "%s/lnm_demo_lesion_1mm.nii", dir);
    snprintf(atlas_path, sizeof atlas_path, "%s/lnm_demo_atlas.nii", dir);
    snprintf(labels_path, sizeof labels_path, "%s/lnm_demo_atlas_labels.tsv", dir);
    if (is_root()) {
        if (ex_mkdir_p(dir, err, sizeof err) || npy_write(lesion_path, NPY_I8, 1, &nl, lesion, err, sizeof err))
            files_bad = fail("%s", err);
        /* a three-parcel atlas: around A's centre, around B's, the rest of the brain; and the
           same lesion drawn on a 1 mm grid, as lesions often come: resampled onto the demo's
           2 mm grid it must be the same 27 voxels, and give the same maps */
        else if ((!o.atlas && demo_atlas(atlas_path, labels_path, &g)) || demo_lesion_1mm(lesion_1mm))
            files_bad = 1;
    }
#if defined(LNM_MPI)
    MPI_Bcast(&files_bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
    if (files_bad) { free(c.ts); free(ijk); return 1; }
    if (!o.atlas) o.atlas = atlas_path, o.atlas_labels = labels_path;
    if (!o.fdr) o.fdr = 0.05; /* lacuna's default: the q map and the thresholded t map */
    if (is_root())
        printf("lnm demo: %d subjects x %d time points x %zu voxels (regions A and B share a signal); lesion of %zu voxels in A: %s\n",
               DS, DT, n_v, nl, lesion_path);
    o.out_dir = dir;
    if (o.n_lesions + 2 > MAX_LESIONS) { free(c.ts); free(ijk); return fail("at most %d lesions", MAX_LESIONS - 2); }
    o.lesions[o.n_lesions++] = lesion_path; /* after the user's own, if any: on the demo's grid too */
    o.lesions[o.n_lesions++] = lesion_1mm;
    o.png = 1;
    if (!o.roi2roi) o.roi2roi = o.atlas; /* the demo's atlas, parcel by parcel too */
    { /* as if the connectome came in two files of 20 subjects (--seed pini selects per file) */
        static const size_t halves[3] = {0, DS / 2, DS};
        rc = run_all(&o, DS, DT, &g, demo_read, NULL, &c, 0, halves, 2);
    }
    free(c.ts);
    free(ijk);
    return rc;
}

static int lnm_main(int argc, char **argv)
{
    options o;
    int r;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if ((r = parse_args(argc, argv, &o)) != 0) return r > 0 ? 0 : 2;
    if (o.atlas_labels && !o.atlas && !o.roi2roi)
        return fail("%s", "--atlas-labels names the parcels of --atlas or --roi2roi: give one of them too");
#if defined(LNM_MPI)
#endif
    if (o.demo) return demo(&o);
    if (!o.n_connectomes || (!o.n_lesions && !o.roi2roi) || !o.out_dir)
        return fail("%s", "--connectome, --out-dir and --lesion (or --roi2roi) are required (see --help)");
    if (check_lesion_names(&o)) return 1;
    return run_connectomes(&o);
}

int main(int argc, char **argv)
{
#if defined(LNM_MPI)
    int rc;
    MPI_Init(&argc, &argv);
    rc = lnm_main(argc, argv);
    MPI_Finalize();
    return rc;
#else
    return lnm_main(argc, argv);
#endif
}
