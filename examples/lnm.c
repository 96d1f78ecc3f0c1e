/* lnm - lesion network mapping: each lesion's mean time series correlated with every voxel of
   every subject of a normative connectome, Fisher-z maps reduced over subjects as they stream.

   build/lnm --connectome FILE_OR_DIR --lesion L.npy|L.nii [--lesion ...] --out-dir DIR
             [--policy strict|ldk|lacuna|ldk_single] [--precision f32|f64] [--png]
   build/lnm --demo [--out DIR]

   The connectome is the ldk/lacuna HDF5 layout (one file or a directory of them; needs a build
   with HDF5). A lesion .npy is an int64 list of positions on the connectome's voxel axis; a .nii
   is a mask on its grid (nonzero = lesion). Per lesion NAME (the file name without extension):
   NAME_mean_z.npy, NAME_mean_r.npy, NAME_avg_r.npy, NAME_t.npy, NAME_std_z.npy, NAME_p.npy,
   NAME_n.npy on the voxel axis, and NAME_AvgR.nii, NAME_AvgR_Fz.nii, NAME_T.nii, NAME_p.nii on the
   mask grid (outside the mask: 0); --png adds NAME_T.png, the middle axial slice of the t-map.

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
#include "common/nifti.h"
#include "common/npy.h"
#include "common/png.h"
#include "common/progress.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(LNM_MPI)
#include <mpi.h>
#endif

#define MAX_LESIONS 64

typedef struct options {
    const char *connectome, *out_dir, *lesions[MAX_LESIONS];
    int n_lesions, policy, precision, png, demo, threads, read_ahead;
} options;

/* The connectome's geometry: voxel axis <-> grid */
typedef struct geometry {
    size_t n_v, shape[3];
    const int64_t *ijk; /* 3 x n_v */
    double affine[4][4];
} geometry;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lnm --connectome FILE_OR_DIR --lesion L.npy|L.nii [--lesion ...] --out-dir DIR\n"
            "           [--policy strict|ldk|lacuna|ldk_single] [--precision f32|f64] [--png]\n"
            "           [--threads N] [--read-ahead]\n"
            "       lnm --demo [--out DIR]\n"
            "\n"
            "Lesion network mapping: for every subject of the connectome, Pearson r between each lesion's\n"
            "mean time series and every voxel, Fisher z, reduced over subjects as they stream (memory does\n"
            "not grow with the number of subjects).\n"
            "  --connectome P   an HDF5 file or a directory of them (/timeseries (subjects, time, voxels),\n"
            "                   /mask_indices, /mask_affine, mask_shape); needs a build with HDF5\n"
            "  --lesion L       int64 .npy of voxel-axis positions, or a .nii mask on the connectome's grid\n"
            "                   (repeatable, up to 64)\n"
            "  --policy P       strict (default: float64 rules, NaN propagates), ldk, lacuna, ldk_single\n"
            "                   (the Python packages' rules: see stat_stream.h)\n"
            "  --precision P    f32 (default) or f64 products\n"
            "  --out-dir DIR    maps per lesion: .npy on the voxel axis, .nii on the grid\n"
            "  --png            also NAME_T.png, the middle axial slice of each t-map\n"
            "  --threads N      workers over voxel blocks (default: the CPUs this process may use; 1 per MPI rank)\n"
            "  --read-ahead     copy subjects into memory, the next one while computing this one\n"
            "                   (default: contiguous float32 files are memory-mapped, no copy; gzip\n"
            "                   files are read one subject at a time)\n"
            "  --demo           a synthetic 40-subject connectome with two connected regions and a lesion\n"
            "                   in one of them; all outputs in --out DIR (default out/)\n"
            "  --help           this text\n");
}

#define fail(...) ex_error("lnm", __VA_ARGS__)

static int parse_args(int argc, char **argv, options *o)
{
    int i;
    memset(o, 0, sizeof *o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { usage(stdout); exit(0); }
        if (!strcmp(a, "--demo")) { o->demo = 1; continue; }
        if (!strcmp(a, "--png")) { o->png = 1; continue; }
        if (!strcmp(a, "--read-ahead")) { o->read_ahead = 1; continue; }
        if (!v) return fail("%s needs a value (see --help)", a);
        i++;
        if (!strcmp(a, "--connectome")) o->connectome = v;
        else if (!strcmp(a, "--out-dir") || !strcmp(a, "--out")) o->out_dir = v;
        else if (!strcmp(a, "--lesion")) {
            if (o->n_lesions == MAX_LESIONS) return fail("%s", "at most 64 lesions per run");
            o->lesions[o->n_lesions++] = v;
        } else if (!strcmp(a, "--policy")) {
            if (!strcmp(v, "strict")) o->policy = SS_POLICY_STRICT;
            else if (!strcmp(v, "ldk")) o->policy = SS_POLICY_LDK;
            else if (!strcmp(v, "lacuna")) o->policy = SS_POLICY_LACUNA;
            else if (!strcmp(v, "ldk_single")) o->policy = SS_POLICY_LDK_SINGLE;
            else return fail("--policy is strict, ldk, lacuna or ldk_single, not '%s'", v);
        } else if (!strcmp(a, "--precision")) {
            if (!strcmp(v, "f32")) o->precision = TP_F32;
            else if (!strcmp(v, "f64")) o->precision = TP_F64;
            else return fail("--precision is f32 or f64, not '%s'", v);
        } else if (!strcmp(a, "--threads")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 64) return fail("--threads is 1 .. 64, not '%s'", v);
            o->threads = (int)n;
        } else return fail("unknown option %s (see --help)", a);
    }
    return 0;
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
   the connectome's mask are dropped with a warning; none left is an error naming the lesion */
static int load_lesion(const char *path, const geometry *g, int64_t **vox, size_t *n)
{
    char err[400];
    size_t i, kept = 0, dropped = 0;
    *n = 0;
    *vox = NULL;
    if (strstr(path, ".nii")) {
        nifti_image img;
        size_t *lut;
        if (nifti_read(path, &img, err, sizeof err)) return fail("%s", err);
        if (img.ndim < 3 || img.dim[0] != g->shape[0] || img.dim[1] != g->shape[1] || img.dim[2] != g->shape[2]) {
            nifti_free(&img);
            return fail("%s: the mask's grid differs from the connectome's", path);
        }
        lut = (size_t *)malloc(g->shape[0] * g->shape[1] * g->shape[2] * sizeof(size_t));
        *vox = (int64_t *)malloc(g->n_v * sizeof(int64_t));
        if (!lut || !*vox) { free(lut); nifti_free(&img); return fail("%s", "out of memory"); }
        for (i = 0; i < g->shape[0] * g->shape[1] * g->shape[2]; i++) lut[i] = (size_t)-1;
        for (i = 0; i < g->n_v; i++)
            lut[(size_t)g->ijk[i] + g->shape[0] * ((size_t)g->ijk[g->n_v + i] + g->shape[1] * (size_t)g->ijk[2 * g->n_v + i])] = i;
        for (i = 0; i < g->shape[0] * g->shape[1] * g->shape[2]; i++)
            if (img.data[i] != 0) {
                if (lut[i] == (size_t)-1) dropped++;
                else (*vox)[kept++] = (int64_t)lut[i];
            }
        free(lut);
        nifti_free(&img);
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
        free(*vox);
        *vox = NULL;
        return fail("%s: no lesion voxel is inside the connectome's mask", path);
    }
    *n = kept;
    return 0;
}

static int save_npy(const char *dir, const char *name, const char *what, const double *v, size_t n)
{
    char path[1024], err[400];
    snprintf(path, sizeof path, "%s/%s_%s.npy", dir, name, what);
    if (npy_write(path, NPY_F8, 1, &n, v, err, sizeof err)) return fail("%s", err);
    return 0;
}

/* a voxel-axis map as a volume on the grid (0 outside the mask, NaN as 0) */
static int save_nii(const char *dir, const char *name, const char *what, const double *v, const geometry *g)
{
    char path[1024], err[400];
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
    snprintf(path, sizeof path, "%s/%s_%s.nii", dir, name, what);
    if (nifti_write(path, &img, err, sizeof err)) { free(img.data); return fail("%s", err); }
    free(img.data);
    return 0;
}

/* the middle axial slice of a voxel-axis map, as a heat map */
static int save_png(const char *dir, const char *name, const double *v, const geometry *g)
{
    size_t nx = g->shape[0], ny = g->shape[1], k = g->shape[2] / 2, i;
    double *img = (double *)malloc(nx * ny * sizeof(double));
    char path[1024], title[300], err[400];
    png_heatmap_opts h = png_heatmap_defaults();
    int rc;
    if (!img) return fail("%s", "out of memory");
    for (i = 0; i < nx * ny; i++) img[i] = NAN;
    for (i = 0; i < g->n_v; i++)
        if ((size_t)g->ijk[2 * g->n_v + i] == k) img[(size_t)g->ijk[g->n_v + i] * nx + (size_t)g->ijk[i]] = v[i];
    snprintf(title, sizeof title, "%s: t-map, axial slice k = %zu", name, k);
    h.title = title;
    h.xlabel = "i (voxels)";
    h.ylabel = "j (voxels)";
    h.cbar_label = "t";
    h.rows_up = 1;
    snprintf(path, sizeof path, "%s/%s_T.png", dir, name);
    rc = png_heatmap(path, img, ny, nx, &h, err, sizeof err);
    free(img);
    return rc ? fail("%s", err) : 0;
}

typedef struct run_state { progress_bar bar; } run_state;
static int on_progress(void *user, uint64_t done, uint64_t total)
{
    return progress_callback(&((run_state *)user)->bar, done, total);
}

#if defined(LNM_MPI)
static int is_root(void)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank == 0;
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

/* Each rank streams its range of subjects; rank 0 merges the states in rank order and finalizes */
static int compute(const ss_lnm_desc *d0, const ss_lnm_maps *m, tp_error *err)
{
    int rank, size, r, bad = 0, any_bad;
    size_t first, count;
    ss_lnm_desc d = *d0;
    ss_lnm_state st;
    sub_range range;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    first = d0->n_subjects * (size_t)rank / (size_t)size;
    count = d0->n_subjects * (size_t)(rank + 1) / (size_t)size - first;
    range.read = d0->read;
    range.view = d0->view;
    range.user = d0->source_user;
    range.first = first;
    d.read = d0->read ? range_read : NULL;
    d.view = d0->view ? range_view : NULL;
    d.source_user = &range;
    d.n_subjects = count;
    if (rank != 0) d.progress = NULL;
    st.z = st.r = NULL;
    tp_error_clear(err);
    if (count) bad = ss_lnm(&d, NULL, &st, err) != TP_OK;
    else { /* more ranks than subjects: empty states */
        ss_moments_desc md;
        memset(&md, 0, sizeof md);
        md.nan_policy = d.policy == SS_POLICY_STRICT ? SS_NAN_PROPAGATE : SS_NAN_AS_ZERO;
        md.n_features = d.seeds->n_seeds * d.n_v;
        bad = ss_moments_create(&md, &st.z, err) != TP_OK || ss_moments_create(&md, &st.r, err) != TP_OK;
    }
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any_bad) {
        if (!bad) tp_error_clear(err); /* the rank that failed says why */
        ss_moments_destroy(st.z);
        ss_moments_destroy(st.r);
        return -1;
    }
    if (rank != 0) {
        bad = send_state(st.z, 0) || send_state(st.r, 0);
    } else {
        for (r = 1; r < size && !bad; r++) bad = merge_state(st.z, r) || merge_state(st.r, r);
        if (!bad && ss_lnm_finalize(st.z, st.r, d.policy, m, err) != TP_OK) bad = 1;
        if (bad && err->code == TP_OK) tp_error_set(err, TP_ERR_FORMAT, "cannot merge the ranks' states");
    }
    ss_moments_destroy(st.z);
    ss_moments_destroy(st.r);
    return bad ? -1 : 0;
}
#else
static int is_root(void) { return 1; }
static int compute(const ss_lnm_desc *d, const ss_lnm_maps *m, tp_error *err)
{
    return ss_lnm(d, m, NULL, err) == TP_OK ? 0 : -1;
}
#endif

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

/* Runs every lesion at once over the subjects and writes the maps */
static int run(const options *o, size_t n_subjects, size_t n_t, const geometry *g, ss_read_fn read, ss_view_fn view,
               void *read_user, size_t reader_bytes)
{
    int64_t *all = NULL;
    size_t offsets[MAX_LESIONS + 1], L = (size_t)o->n_lesions, l, i, lv;
    char names[MAX_LESIONS][256];
    double *maps[6] = {NULL}, t0;
    tp_error err;
    size_t work_bytes = 0;
    ss_seeds seeds;
    ss_lnm_desc d;
    ss_lnm_maps m;
    run_state st;
    tp_pool *pool = NULL;
    int rc = 1;
    offsets[0] = 0;
    for (l = 0; l < L; l++) {
        int64_t *v;
        size_t n;
        if (load_lesion(o->lesions[l], g, &v, &n)) goto done;
        all = (int64_t *)realloc(all, (offsets[l] + n) * sizeof(int64_t));
        if (!all) { free(v); fail("%s", "out of memory"); goto done; }
        memcpy(all + offsets[l], v, n * sizeof(int64_t));
        free(v);
        offsets[l + 1] = offsets[l] + n;
        lesion_name(o->lesions[l], names[l], sizeof names[l]);
    }
    lv = L * g->n_v;
    for (i = 0; i < 6; i++)
        if (!(maps[i] = (double *)malloc(lv * sizeof(double)))) { fail("%s", "out of memory for the maps"); goto done; }
    seeds.n_seeds = L;
    seeds.voxels = all;
    seeds.offsets = offsets;
    tp_create(NULL, &pool, NULL);
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
    d.n_threads = o->threads ? o->threads : default_threads();
    d.read_ahead = o->read_ahead;
    memset(&m, 0, sizeof m);
    m.mean_z = maps[0];
    m.mean_r = maps[1];
    m.avg_r = maps[2];
    m.std_z = maps[3];
    m.t = maps[4];
    m.p = maps[5];
    progress_begin(&st.bar, "lnm");
    t0 = progress_now();
    if (compute(&d, &m, &err) != 0) {
        progress_end(&st.bar);
        if (err.code != TP_OK) fail("%s", err.message);
        goto done;
    }
    progress_end(&st.bar);
    ss_lnm_estimate_bytes(&d, &work_bytes, NULL);
    if (!is_root()) {
        rc = 0;
        goto done;
    }
    mkdir(o->out_dir, 0755);
    for (l = 0; l < L; l++) {
        const char *nm = names[l];
        size_t off = l * g->n_v, peak = 0;
        double *nmap = (double *)malloc(g->n_v * sizeof(double));
        if (!nmap) { fail("%s", "out of memory"); goto done; }
        for (i = 0; i < g->n_v; i++) nmap[i] = (double)n_subjects;
        if (save_npy(o->out_dir, nm, "mean_z", maps[0] + off, g->n_v) || save_npy(o->out_dir, nm, "mean_r", maps[1] + off, g->n_v) ||
            save_npy(o->out_dir, nm, "avg_r", maps[2] + off, g->n_v) || save_npy(o->out_dir, nm, "std_z", maps[3] + off, g->n_v) ||
            save_npy(o->out_dir, nm, "t", maps[4] + off, g->n_v) || save_npy(o->out_dir, nm, "p", maps[5] + off, g->n_v) ||
            save_npy(o->out_dir, nm, "n", nmap, g->n_v) || save_nii(o->out_dir, nm, "AvgR", maps[2] + off, g) ||
            save_nii(o->out_dir, nm, "AvgR_Fz", maps[0] + off, g) || save_nii(o->out_dir, nm, "T", maps[4] + off, g) ||
            save_nii(o->out_dir, nm, "p", maps[5] + off, g) || (o->png && save_png(o->out_dir, nm, maps[4] + off, g))) {
            free(nmap);
            goto done;
        }
        free(nmap);
        for (i = 1; i < g->n_v; i++)
            if (maps[4][off + i] > maps[4][off + peak] || maps[4][off + peak] != maps[4][off + peak]) peak = i;
        printf("lnm: %s: %zu voxels, peak t = %.3g at voxel %zu (grid %lld, %lld, %lld), mean r there %.3g\n", nm,
               offsets[l + 1] - offsets[l], maps[4][off + peak], peak, (long long)g->ijk[peak], (long long)g->ijk[g->n_v + peak],
               (long long)g->ijk[2 * g->n_v + peak], maps[1][off + peak]);
    }
    printf("lnm: %zu lesions x %zu subjects x %zu time points x %zu voxels in %.2f s, %.1f MiB of working memory; maps in %s/\n",
           L, n_subjects, n_t, g->n_v, progress_now() - t0, (double)(work_bytes + reader_bytes) / 1048576.0, o->out_dir);
    rc = 0;
done:
    for (i = 0; i < 6; i++) free(maps[i]);
    free(all);
    if (pool) tp_destroy(pool);
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
    int rc, i;
    memset(&hd, 0, sizeof hd);
    hd.path = o->connectome;
    if (ss_h5_create(&hd, &c, &err) != TP_OK) return fail("%s", err.message);
    g.n_v = ss_h5_voxels(c);
    for (i = 0; i < 3; i++) g.shape[i] = (size_t)ss_h5_mask_shape(c)[i];
    g.ijk = ss_h5_mask_indices(c);
    aff = ss_h5_affine(c);
    memcpy(g.affine, aff, sizeof g.affine);
    /* subjects in place (memory-mapped) where the files allow it: no copy, no slab */
    rc = run(o, ss_h5_subjects(c), ss_h5_timepoints(c), &g, o->read_ahead ? ss_h5_read : NULL, o->read_ahead ? NULL : ss_h5_view, c,
             o->read_ahead || ss_h5_mapped(c) ? 0 : ss_h5_timepoints(c) * g.n_v * sizeof(float));
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

static int demo(const options *o0)
{
    options o = *o0;
    const char *dir = o.out_dir ? o.out_dir : "out";
    char lesion_path[1024], err[400];
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
    mkdir(dir, 0755);
    snprintf(lesion_path, sizeof lesion_path, "%s/lnm_demo_lesion.npy", dir);
    if (is_root() && npy_write(lesion_path, NPY_I8, 1, &nl, lesion, err, sizeof err)) { free(c.ts); free(ijk); return fail("%s", err); }
#if defined(LNM_MPI)
    MPI_Barrier(MPI_COMM_WORLD); /* the lesion file exists before any rank reads it */
#endif
    if (is_root())
        printf("lnm demo: %d subjects x %d time points x %zu voxels (regions A and B share a signal); lesion of %zu voxels in A: %s\n",
               DS, DT, n_v, nl, lesion_path);
    o.out_dir = dir;
    o.n_lesions = 1;
    o.lesions[0] = lesion_path;
    o.png = 1;
    rc = run(&o, DS, DT, &g, demo_read, NULL, &c, 0);
    free(c.ts);
    free(ijk);
    return rc;
}

static int lnm_main(int argc, char **argv)
{
    options o;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (parse_args(argc, argv, &o)) return 2;
    if (o.demo) return demo(&o);
    if (!o.connectome || !o.n_lesions || !o.out_dir) return fail("%s", "--connectome, --lesion and --out-dir are required (see --help)");
    return run_connectome(&o);
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
