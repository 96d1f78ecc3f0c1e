/* libFuzzer target, structure-aware: the input's bytes choose a connectome directory of one or
   two HDF5 files, written by HDF5 itself (so the files are well-formed HDF5) with adversarial
   contents: sizes from 0 up, series of any numeric type and rank, datasets and attributes
   missing, masks of any shape, type and values (inside and outside the grid, repeated), grids of
   any size, affines of any shape with NaN and infinities, a second file that disagrees. The
   directory is opened with ss_h5_create and every subject read back. Where raw mutation of HDF5
   files tests HDF5's own parser (tests/fuzz/h5.c), this tests the checks of stat_stream's
   source: every file must be a connectome or a TP_ERR_FORMAT naming the file, never a crash. */
#define TENSORPOOL_IMPLEMENTATION
#define STAT_STREAM_IMPLEMENTATION
#define STAT_STREAM_USE_HDF5
#include "../../stat_stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

typedef struct bytes { const unsigned char *p; size_t n, at; } bytes;

static unsigned next(bytes *b) { return b->at < b->n ? b->p[b->at++] : 0u; }

/* A numeric type of HDF5's, by number */
static hid_t pick_type(unsigned k)
{
    switch (k % 7) {
    case 0: return H5T_IEEE_F32LE;
    case 1: return H5T_IEEE_F64LE;
    case 2: return H5T_IEEE_F32BE;
    case 3: return H5T_STD_I16LE;
    case 4: return H5T_STD_I64LE;
    case 5: return H5T_STD_U8LE;
    default: return H5T_STD_I32BE;
    }
}

static void put_dataset(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims, const double *v, int gzip)
{
    hid_t s = H5Screate_simple(rank, dims, NULL), p = H5Pcreate(H5P_DATASET_CREATE), d;
    hsize_t chunk[4];
    int i, empty = 0;
    for (i = 0; i < rank; i++) chunk[i] = dims[i] ? dims[i] : 1, empty |= dims[i] == 0;
    if (gzip && !empty) H5Pset_chunk(p, rank, chunk), H5Pset_deflate(p, 1);
    d = H5Dcreate2(f, name, type, s, H5P_DEFAULT, p, H5P_DEFAULT);
    if (d >= 0 && !empty) H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (d >= 0) H5Dclose(d);
    H5Pclose(p), H5Sclose(s);
}

/* One file of the directory, its contents chosen by the bytes */
static void write_file(const char *path, bytes *b)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), s, a;
    unsigned flags = next(b), rank = 3, i;
    hsize_t dims[4], mdims[2], adims[2], n, nv;
    double *v;
    if (f < 0) return;
    if (flags & 0x80) rank = 1 + next(b) % 4;
    for (i = 0; i < 4; i++) dims[i] = i == 0 ? next(b) % 4 : i == 1 ? next(b) % 7 : next(b) % 41;
    nv = rank == 3 ? dims[2] : 5;
    n = 1;
    for (i = 0; i < rank; i++) n *= dims[i];
    v = (double *)malloc((n + 3 * 64 + 64) * sizeof(double));
    if (!v) { H5Fclose(f); return; }
    for (i = 0; i < n; i++) v[i] = (double)(int)(next(b) % 16) * (flags & 0x40 ? 1.0 : 0.25);
    if (!(flags & 1)) put_dataset(f, "/timeseries", pick_type(flags >> 3), (int)rank, dims, v, flags & 2);
    if (!(flags & 4)) { /* the mask: (3, nv), (nv, 3) or neither; values around the grid */
        unsigned shape = next(b), count;
        mdims[0] = 3, mdims[1] = nv + (shape & 4 ? 1 : 0);
        if (shape & 1) mdims[0] = mdims[1], mdims[1] = 3;
        if (shape & 8) mdims[0] = 2;
        count = (unsigned)(mdims[0] * mdims[1]);
        for (i = 0; i < count && i < 3 * 64; i++) v[i] = (double)((int)(next(b) % 16) - 2);
        for (; i < count; i++) v[i] = (double)(i % 5);
        put_dataset(f, "/mask_indices", (shape & 16) ? pick_type(shape >> 5) : H5T_STD_I64LE, 2, mdims, v, 0);
    }
    if (!(flags & 8)) { /* the affine */
        unsigned shape = next(b);
        adims[0] = shape & 1 ? 3 : 4, adims[1] = shape & 2 ? 5 : 4;
        for (i = 0; i < adims[0] * adims[1]; i++) {
            unsigned k = next(b);
            v[i] = k == 255 ? NAN : k == 254 ? INFINITY : (i >= 12 && !(shape & 4)) ? (i == 15) : (double)k - 100;
        }
        put_dataset(f, "/mask_affine", shape & 8 ? H5T_STD_I32LE : H5T_IEEE_F64LE, 2, adims, v, 0);
    }
    if (!(flags & 16)) { /* the grid: mask_shape of 0 to 5 numbers */
        hsize_t count = next(b) % 6;
        unsigned type = next(b);
        for (i = 0; i < count; i++) v[i] = (double)((int)(next(b) % 12) - 1) * (type & 1 ? 4000.0 : 1.0);
        s = count ? H5Screate_simple(1, &count, NULL) : H5Screate(H5S_SCALAR);
        a = H5Acreate2(f, "mask_shape", type & 2 ? H5T_IEEE_F64LE : H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) H5Awrite(a, H5T_NATIVE_DOUBLE, v), H5Aclose(a);
        H5Sclose(s);
    }
    free(v);
    H5Fclose(f);
}

static char dir[64];

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    bytes b = {data, size, 0};
    char a[96], c[96];
    ss_h5_desc d;
    ss_h5 *h = NULL;
    tp_error err;
    unsigned files;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/fuzz_h5_gen_%ld", (long)getpid());
        mkdir(dir, 0700);
        /* keep HDF5's freed blocks for reuse: its metadata cache is allocated and cleared on every
           open, and fresh pages for it cost 3 times the rest of a run under ASan */
        H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
    }
    snprintf(a, sizeof a, "%s/a.h5", dir);
    snprintf(c, sizeof c, "%s/b.h5", dir);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the writer's own complaints about odd requests */
    files = 1 + next(&b) % 2;
    write_file(a, &b);
    if (files == 2) write_file(c, &b);
    else unlink(c);
    memset(&d, 0, sizeof d);
    d.path = dir;
    if (ss_h5_create(&d, &h, &err) == TP_OK) {
        size_t n = ss_h5_timepoints(h) * ss_h5_voxels(h), k;
        float *ts = (float *)malloc(n * sizeof(float));
        for (k = 0; ts && k < ss_h5_subjects(h); k++) {
            (void)ss_h5_read(h, k, ts, &err);
            (void)ss_h5_view(h, k, &err);
        }
        free(ts);
        ss_h5_destroy(h);
    } else if (err.code != TP_ERR_FORMAT && err.code != TP_ERR_IO) {
        abort(); /* a file is refused as FORMAT (or IO when HDF5 cannot open it), nothing else */
    }
    return 0;
}
