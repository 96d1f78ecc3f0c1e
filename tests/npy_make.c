/* npy_make OUT.npy KIND ROWS COLS - small float64 inputs for the bad-input cases of tests/cli.sh:
   KIND noise (a seeded sine plus noise per row), const (every value 1), nan (noise with one NaN
   in row 1), int (int64 0 .. n-1, as a lesion's voxel list when ROWS is 1) */
#include "../examples/common/npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t rows, cols, i, shape[2];
    double *v;
    char err[300];
    unsigned long long s = 12345;
    int ok;
    if (argc != 5) {
        fprintf(stderr, "usage: npy_make OUT.npy noise|const|nan|int ROWS COLS\n");
        return 2;
    }
    rows = (size_t)strtoul(argv[3], NULL, 10), cols = (size_t)strtoul(argv[4], NULL, 10);
    if (!rows || !cols || !(v = (double *)malloc(rows * cols * sizeof(double)))) return 2;
    for (i = 0; i < rows * cols; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = sin(0.05 * (double)(i % cols)) + (double)(s >> 11) / 9007199254740992.0;
    }
    if (!strcmp(argv[2], "const"))
        for (i = 0; i < rows * cols; i++) v[i] = 1.0;
    if (!strcmp(argv[2], "nan")) v[(rows > 1 ? cols : 0) + cols / 2] = NAN;
    shape[0] = rows, shape[1] = cols;
    if (!strcmp(argv[2], "int")) {
        long long *w = (long long *)malloc(rows * cols * sizeof(long long));
        for (i = 0; w && i < rows * cols; i++) w[i] = (long long)i;
        ok = w && npy_write(argv[1], NPY_I8, rows == 1 ? 1 : 2, rows == 1 ? shape + 1 : shape, w, err, sizeof err) == 0;
        free(w);
    } else {
        ok = npy_write(argv[1], NPY_F8, rows == 1 ? 1 : 2, rows == 1 ? shape + 1 : shape, v, err, sizeof err) == 0;
    }
    free(v);
    if (!ok) fprintf(stderr, "npy_make: %s\n", err);
    return ok ? 0 : 1;
}
