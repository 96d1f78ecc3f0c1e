/* lnm_check DIR NAME Q: the --fdr maps of build/lnm against their definition, computed here
   independently (lacuna's formula: sort p, p * n / rank, cumulative minimum from the right,
   clipped to 1): NAME_q.npy equals it to 1e-12 relative, and NAME_T_fdr.nii holds t where
   q < Q and 0 elsewhere on the mask. Exit 0 when both hold.
   lnm_check DIR NAME subjects: NAME_subject_r.npy (n_subjects, n_voxels) float32 against the
   maps: the mean over subjects of atanh(r) is NAME_mean_z.npy (strict policy) to 1e-6. */
#include "../examples/common/nifti.h"
#include "../examples/common/npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double *P_SORT;
static int by_p(const void *a, const void *b)
{
    double x = P_SORT[*(const size_t *)a], y = P_SORT[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

static int load(const char *dir, const char *name, const char *suffix, npy_array *a, double **v)
{
    char path[1024], err[300];
    snprintf(path, sizeof path, "%s/%s_%s", dir, name, suffix);
    if (npy_read_f64(path, a, v, err, sizeof err)) { fprintf(stderr, "lnm_check: %s\n", err); return 1; }
    return 0;
}

static int check_subjects(const char *dir, const char *name)
{
    npy_array ra, za;
    double *r, *z, worst = 0;
    size_t s, v, n_s, n_v;
    if (load(dir, name, "subject_r.npy", &ra, &r) || load(dir, name, "mean_z.npy", &za, &z)) return 1;
    if (ra.ndim != 2 || ra.dtype != NPY_F4 || ra.shape[1] != za.count) { fprintf(stderr, "lnm_check: shapes\n"); return 1; }
    n_s = ra.shape[0], n_v = ra.shape[1];
    for (v = 0; v < n_v; v++) {
        double m = 0;
        for (s = 0; s < n_s; s++) m += atanh(r[s * n_v + v]);
        m /= (double)n_s;
        if (fabs(m - z[v]) > worst || m != m) worst = m != m ? 1e300 : fabs(m - z[v]);
    }
    printf("lnm_check: %zu subjects x %zu voxels, mean atanh(r) off mean_z by %.3g\n", n_s, n_v, worst);
    return worst <= 1e-6 ? 0 : 1;
}

int main(int argc, char **argv)
{
    npy_array pa, qa, ta;
    double *p, *q, *t, *want, running = 1, worst = 0, Q;
    size_t n, i, *idx, on_mask = 0, bad_t = 0;
    nifti_image img;
    char path[1024], err[300];
    if (argc != 4) { fprintf(stderr, "usage: lnm_check DIR NAME Q|subjects\n"); return 2; }
    if (!strcmp(argv[3], "subjects")) return check_subjects(argv[1], argv[2]);
    Q = atof(argv[3]);
    if (load(argv[1], argv[2], "p.npy", &pa, &p) || load(argv[1], argv[2], "q.npy", &qa, &q) ||
        load(argv[1], argv[2], "t.npy", &ta, &t))
        return 1;
    n = pa.count;
    idx = (size_t *)malloc(n * sizeof *idx);
    want = (double *)malloc(n * sizeof *want);
    for (i = 0; i < n; i++) idx[i] = i;
    P_SORT = p;
    qsort(idx, n, sizeof *idx, by_p);
    for (i = n; i-- > 0;) {
        double adj = p[idx[i]] * (double)n / (double)(i + 1);
        running = adj < running ? adj : running;
        want[idx[i]] = running;
    }
    for (i = 0; i < n; i++) {
        double d = fabs(q[i] - want[i]) / (want[i] > 1e-300 ? want[i] : 1e-300);
        worst = d > worst ? d : worst;
    }
    snprintf(path, sizeof path, "%s/%s_T_fdr.nii", argv[1], argv[2]);
    if (nifti_read(path, &img, err, sizeof err)) { fprintf(stderr, "lnm_check: %s\n", err); return 1; }
    /* the volume's non-zero values are the t of the voxels that pass, as float32 */
    for (i = 0; i < img.count; i++) on_mask += img.data[i] != 0;
    {
        size_t pass = 0;
        for (i = 0; i < n; i++) pass += q[i] < Q && t[i] != 0;
        bad_t = pass != on_mask;
    }
    printf("lnm_check: %zu voxels, worst relative q error %.3g, %zu voxels in T_fdr\n", n, worst, on_mask);
    return worst <= 1e-12 && !bad_t ? 0 : 1;
}
