/* npy_compare A.npy B.npy REL_TOL [ABS_TOL] - exit 0 when both hold the same shape and every value
   of A is within REL_TOL * |B| + ABS_TOL of B (NaN only where B has NaN); for the CLI checks in
   tests/run.sh. */
#include "../examples/common/npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    npy_array a, b;
    double *va = NULL, *vb = NULL, tol, atol, worst = 0;
    char err[300];
    size_t i, n = 1;
    int k, rc = 1;
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: npy_compare A.npy B.npy REL_TOL [ABS_TOL]\n");
        return 2;
    }
    tol = atof(argv[3]);
    atol = argc == 5 ? atof(argv[4]) : 0.0;
    if (npy_read_f64(argv[1], &a, &va, err, sizeof err) || npy_read_f64(argv[2], &b, &vb, err, sizeof err)) {
        fprintf(stderr, "npy_compare: %s\n", err);
        return 2;
    }
    if (a.ndim != b.ndim) goto shape;
    for (k = 0; k < a.ndim; k++) {
        if (a.shape[k] != b.shape[k]) goto shape;
        n *= a.shape[k];
    }
    for (i = 0; i < n; i++) {
        double d = fabs(va[i] - vb[i]) / fabs(vb[i]);
        if (vb[i] != vb[i] ? va[i] == va[i] : !(fabs(va[i] - vb[i]) <= tol * fabs(vb[i]) + atol)) {
            fprintf(stderr, "npy_compare: element %zu: %.17g vs %.17g\n", i, va[i], vb[i]);
            goto done;
        }
        if (vb[i] == vb[i] && d > worst) worst = d;
    }
    printf("npy_compare: %zu values, worst relative difference %.3g\n", n, worst);
    rc = 0;
    goto done;
shape:
    fprintf(stderr, "npy_compare: the shapes differ\n");
done:
    npy_free(&a);
    npy_free(&b);
    free(va);
    free(vb);
    return rc;
}
