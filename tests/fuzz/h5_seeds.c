/* h5_seeds DIR: small valid connectomes, the seed corpus of tests/fuzz/h5.c: contiguous and
   gzip-chunked, (3, V) and (V, 3) masks, float32 and float64 series. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int seed(const char *dir, const char *name, int n_subj, int nt, int nv, int gzip, int transpose, int f64)
{
    char path[512];
    hsize_t dims[3] = {(hsize_t)n_subj, (hsize_t)nt, (hsize_t)nv}, chunk[3] = {1, (hsize_t)nt, (hsize_t)nv};
    hsize_t mdims[2] = {3, (hsize_t)nv}, adims[2] = {4, 4}, three = 3;
    double aff[16] = {2, 0, 0, -90, 0, 2, 0, -126, 0, 0, 2, -72, 0, 0, 0, 1}, *ts;
    int64_t shape[3] = {4, 5, 6}, *mask;
    hid_t f, s, p, d, a;
    int i, v;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0) return 1;
    ts = (double *)malloc((size_t)n_subj * nt * nv * sizeof(double));
    mask = (int64_t *)malloc(3 * (size_t)nv * sizeof(int64_t));
    for (i = 0; i < n_subj * nt * nv; i++) ts[i] = (double)((i * 7919) % 101) / 10.0;
    for (v = 0; v < nv; v++) {
        int64_t ijk[3] = {v % 4, v / 4 % 5, v / 20};
        for (i = 0; i < 3; i++) mask[transpose ? 3 * v + i : i * nv + v] = ijk[i];
    }
    if (transpose) mdims[0] = (hsize_t)nv, mdims[1] = 3;
    s = H5Screate_simple(3, dims, NULL);
    p = H5Pcreate(H5P_DATASET_CREATE);
    if (gzip) H5Pset_chunk(p, 3, chunk), H5Pset_deflate(p, 1);
    d = H5Dcreate2(f, "/timeseries", f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, s, H5P_DEFAULT, p, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ts);
    H5Dclose(d), H5Pclose(p), H5Sclose(s);
    s = H5Screate_simple(2, mdims, NULL);
    d = H5Dcreate2(f, "/mask_indices", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, mask);
    H5Dclose(d), H5Sclose(s);
    s = H5Screate_simple(2, adims, NULL);
    d = H5Dcreate2(f, "/mask_affine", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, aff);
    H5Dclose(d), H5Sclose(s);
    s = H5Screate_simple(1, &three, NULL);
    a = H5Acreate2(f, "mask_shape", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, shape);
    H5Aclose(a), H5Sclose(s);
    H5Fclose(f);
    free(ts), free(mask);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: h5_seeds DIR\n");
        return 2;
    }
    return seed(argv[1], "contiguous.h5", 2, 5, 12, 0, 0, 0) | seed(argv[1], "gzip.h5", 3, 4, 20, 1, 0, 0) |
           seed(argv[1], "transposed.h5", 1, 3, 7, 0, 1, 0) | seed(argv[1], "f64.h5", 2, 6, 9, 0, 0, 1);
}
