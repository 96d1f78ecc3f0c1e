/* Tests for examples/common: the .npy and NIfTI readers against files numpy and nibabel wrote
   (tests/data/io, made by tools/gen_io_golden.py), their error paths, round trips, and the PNG
   writer checked by decoding what it wrote (chunk CRCs, stored blocks, Adler-32). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include "../examples/common/cli.h"
#include "../examples/common/npy.h"
#include "../examples/common/nifti.h"
#include "../examples/common/outputs.h"
#include "../examples/common/png.h"
#include "testkit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(HAVE_ZLIB)
#include <zlib.h>
#endif

#define IO "tests/data/io/"

static char tmpdir[] = "/tmp/tp_common_XXXXXX";
static char err[512];

static const char *tmp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The golden array: arange(24).reshape(2, 3, 4) * 0.5 - 3 */
static double golden(size_t i) { return (double)i * 0.5 - 3.0; }

static void test_npy_reads_numpy_files(void)
{
    static const char *files[] = {"f8_c.npy", "f4_c.npy", "f8_v2.npy", "f8_v3.npy", "f8_fortran.npy"};
    size_t f, i;
    for (f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[128];
        npy_array a;
        double v[24];
        int ok = 1;
        snprintf(path, sizeof path, IO "%s", files[f]);
        CHECK_MSG(npy_read(path, &a, err, sizeof err) == 0, "%s: %s", files[f], err);
        CHECK(a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 4 && a.count == 24);
        if (a.count != 24) { npy_free(&a); continue; }
        npy_to_f64(&a, v);
        for (i = 0; i < 24; i++) ok &= v[i] == golden(i);
        CHECK_MSG(ok, "%s: values (Fortran order must come back transposed to C order)", files[f]);
        npy_free(&a);
    }
}

static void test_npy_integer_and_bool_dtypes(void)
{
    npy_array a;
    double v[24];
    size_t i;
    int ok = 1;
    CHECK(npy_read(IO "i4_c.npy", &a, err, sizeof err) == 0 && a.dtype == NPY_I4);
    npy_to_f64(&a, v);
    for (i = 0; i < 24; i++) ok &= v[i] == (double)(int)golden(i);
    CHECK(ok);
    npy_free(&a);
    CHECK(npy_read(IO "i8_c.npy", &a, err, sizeof err) == 0 && a.dtype == NPY_I8 && a.count == 7);
    CHECK(((int64_t *)a.data)[6] == 6 * 1000000007ll);
    npy_free(&a);
    CHECK(npy_read(IO "u1_c.npy", &a, err, sizeof err) == 0 && a.dtype == NPY_U1 && ((unsigned char *)a.data)[9] == 225);
    npy_free(&a);
    CHECK(npy_read(IO "b1_c.npy", &a, err, sizeof err) == 0 && a.dtype == NPY_B1 && a.count == 4);
    CHECK(memcmp(a.data, "\1\0\1\1", 4) == 0);
    npy_free(&a);
    CHECK(npy_read(IO "scalar.npy", &a, err, sizeof err) == 0 && a.ndim == 0 && a.count == 1);
    CHECK(((double *)a.data)[0] == 2.5);
    npy_free(&a);
}

static void test_npy_errors(void)
{
    npy_array a;
    size_t len, cut;
    unsigned char *buf = slurp(IO "f8_c.npy", &len), *copy;
    CHECK(npy_read(IO "c16.npy", &a, err, sizeof err) == -1 && strstr(err, "unsupported dtype '<c16'"));
    CHECK(npy_read(IO "f8_big_endian.npy", &a, err, sizeof err) == -1 && strstr(err, ">f8"));
    CHECK(npy_read("/nonexistent.npy", &a, err, sizeof err) == -1 && strstr(err, "cannot open"));
    /* every truncation of a valid file is an error, never a crash */
    for (cut = 0; cut < len; cut++) CHECK(npy_read_mem(buf, cut, &a, err, sizeof err) == -1);
    copy = (unsigned char *)malloc(len);
    memcpy(copy, buf, len);
    copy[1] = 'X';
    CHECK(npy_read_mem(copy, len, &a, err, sizeof err) == -1 && strstr(err, "magic"));
    free(copy);
    free(buf);
    {
        /* a shape whose product overflows size_t */
        const char *hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }";
        unsigned char mem[256];
        size_t hl = strlen(hdr);
        memcpy(mem, "\x93NUMPY\x01\x00", 8);
        mem[8] = (unsigned char)hl;
        mem[9] = 0;
        memcpy(mem + 10, hdr, hl);
        CHECK(npy_read_mem(mem, 10 + hl, &a, err, sizeof err) == -1 && strstr(err, "overflow"));
    }
}

static void test_npy_round_trip(void)
{
    size_t shape[2] = {3, 5}, i;
    float data[15];
    npy_array a;
    int ok = 1;
    for (i = 0; i < 15; i++) data[i] = (float)i / 3.0f;
    CHECK(npy_write(tmp_path("rt.npy"), NPY_F4, 2, shape, data, err, sizeof err) == 0);
    CHECK(npy_read(tmp_path("rt.npy"), &a, err, sizeof err) == 0);
    CHECK(a.dtype == NPY_F4 && a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 5);
    for (i = 0; i < 15 && a.data; i++) ok &= ((float *)a.data)[i] == data[i];
    CHECK(ok);
    npy_free(&a);
    shape[0] = 0; /* empty arrays are legal */
    CHECK(npy_write(tmp_path("empty.npy"), NPY_F8, 1, shape, NULL, err, sizeof err) == 0);
    CHECK(npy_read(tmp_path("empty.npy"), &a, err, sizeof err) == 0 && a.count == 0 && a.ndim == 1);
    npy_free(&a);
}

/* A streamed file gets its final row count written into the header when it closes; a stream
   with no rows is a legal (0, cols) array. */
static void test_npy_stream(void)
{
    double rows[6] = {1, 2, 3, 4, 5, 6};
    npy_stream s;
    npy_array a;
    CHECK(npy_stream_open(&s, tmp_path("stream.npy"), NPY_F8, 2, err, sizeof err) == 0);
    CHECK(npy_stream_rows(&s, rows, 1, err, sizeof err) == 0);
    CHECK(npy_stream_rows(&s, rows + 2, 2, err, sizeof err) == 0);
    CHECK(npy_stream_close(&s, err, sizeof err) == 0);
    CHECK(npy_read(tmp_path("stream.npy"), &a, err, sizeof err) == 0);
    CHECK(a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 2 && a.data && ((double *)a.data)[5] == 6.0);
    npy_free(&a);
    CHECK(npy_stream_open(&s, tmp_path("stream0.npy"), NPY_F8, 6, err, sizeof err) == 0);
    CHECK(npy_stream_close(&s, err, sizeof err) == 0);
    CHECK(npy_read(tmp_path("stream0.npy"), &a, err, sizeof err) == 0 && a.shape[0] == 0 && a.shape[1] == 6);
    npy_free(&a);
    CHECK(npy_stream_open(&s, "/nonexistent-dir/x.npy", NPY_F8, 2, err, sizeof err) == -1 && strstr(err, "cannot create"));
}

/* A mapped output: created full size and zeroed, filled in place, readable by the reader. */
static void test_npy_map(void)
{
    size_t shape[2] = {3, 1000}, i;
    npy_map m;
    npy_array a;
    int ok = 1;
    CHECK(npy_map_create(&m, tmp_path("map.npy"), NPY_U1, 2, shape, err, sizeof err) == 0 && m.bytes == 3000);
    for (i = 0; i < m.bytes && m.data; i++) ok &= ((unsigned char *)m.data)[i] == 0;
    CHECK(ok);
    if (m.data) ((unsigned char *)m.data)[2999] = 7;
    CHECK(npy_map_close(&m, err, sizeof err) == 0);
    CHECK(npy_read(tmp_path("map.npy"), &a, err, sizeof err) == 0);
    CHECK(a.dtype == NPY_U1 && a.shape[0] == 3 && a.shape[1] == 1000 && a.data && ((unsigned char *)a.data)[2999] == 7);
    npy_free(&a);
    CHECK(npy_map_create(&m, "/nonexistent-dir/m.npy", NPY_U1, 2, shape, err, sizeof err) == -1);
}

/* npy_map_read maps C-order files (no copy) and falls back to a copy for Fortran order and bool;
   either way the values are npy_read's */
static void test_npy_map_read(void)
{
    static const char *files[3] = {IO "f8_c.npy", IO "f8_fortran.npy", IO "b1_c.npy"};
    int f;
    for (f = 0; f < 3; f++) {
        npy_array m, r;
        CHECK(npy_map_read(files[f], &m, err, sizeof err) == 0 && npy_read(files[f], &r, err, sizeof err) == 0);
        CHECK(m.count == r.count && m.dtype == r.dtype && memcmp(m.data, r.data, r.count * r.itemsize) == 0);
        CHECK((m.map_base != NULL) == (f == 0));
        npy_free(&m);
        npy_free(&r);
        CHECK(m.data == NULL && m.map_base == NULL);
    }
    {
        npy_array m;
        CHECK(npy_map_read(IO "nonexistent.npy", &m, err, sizeof err) == -1 && strstr(err, "cannot open"));
        CHECK(npy_map_read(IO "c16.npy", &m, err, sizeof err) == -1 && strstr(err, "c16"));
    }
}

static void check_golden_volume(const nifti_image *img)
{
    npy_array vals, aff;
    size_t i;
    int ok = 1;
    CHECK(img->ndim == 3 && img->dim[0] == 4 && img->dim[1] == 5 && img->dim[2] == 6);
    CHECK(npy_read(IO "vol_i16_values.npy", &vals, err, sizeof err) == 0);
    CHECK(npy_read(IO "vol_i16_affine.npy", &aff, err, sizeof err) == 0);
    if (vals.count != img->count || aff.count != 16) { npy_free(&vals); npy_free(&aff); CHECK(0); return; }
    /* numpy's array is C order (i, j, k) with k fastest; NIfTI stores i fastest */
    for (i = 0; i < img->count; i++) {
        size_t x = i % 4, y = (i / 4) % 5, z = i / 20;
        ok &= img->data[i] == ((double *)vals.data)[(x * 5 + y) * 6 + z];
    }
    CHECK_MSG(ok, "voxel values with scl_slope 0.5, scl_inter 10");
    for (i = 0; i < 16; i++) CHECK_NEAR(img->affine[i / 4][i % 4], ((double *)aff.data)[i], 1e-5);
    npy_free(&vals);
    npy_free(&aff);
}

static void test_nifti_reads_nibabel_file(void)
{
    nifti_image img;
    CHECK_MSG(nifti_read(IO "vol_i16.nii", &img, err, sizeof err) == 0, "%s", err);
    CHECK(img.datatype == 4 && img.sform_code == 4 && img.qform_code == 1);
    check_golden_volume(&img);
    nifti_free(&img);
#ifdef HAVE_ZLIB
    CHECK_MSG(nifti_read(IO "vol_i16.nii.gz", &img, err, sizeof err) == 0, "%s", err);
    check_golden_volume(&img);
    nifti_free(&img);
#else
    CHECK(nifti_read(IO "vol_i16.nii.gz", &img, err, sizeof err) == -1 && strstr(err, "zlib"));
    printf("skipped .nii.gz reading: built without zlib\n");
#endif
}

static void test_nifti_round_trip_and_qform(void)
{
    nifti_image img, back;
    double th = -0.7;
    size_t i, len;
    unsigned char *buf;
    memset(&img, 0, sizeof img);
    img.ndim = 3;
    img.dim[0] = 3; img.dim[1] = 4; img.dim[2] = 2;
    img.count = 24;
    img.data = (double *)malloc(24 * sizeof(double));
    for (i = 0; i < 24; i++) img.data[i] = golden(i);
    /* rotation about z, voxel 1.5 x 2 x 3 mm, a flipped third axis (qfac -1) */
    memset(img.affine, 0, sizeof img.affine);
    img.affine[0][0] = 1.5 * cos(th); img.affine[0][1] = -2 * sin(th);
    img.affine[1][0] = 1.5 * sin(th); img.affine[1][1] = 2 * cos(th);
    img.affine[2][2] = -3.0;
    img.affine[0][3] = 10; img.affine[1][3] = -20; img.affine[2][3] = 30; img.affine[3][3] = 1;
    CHECK(nifti_write(tmp_path("rt.nii"), &img, err, sizeof err) == 0);
    CHECK(nifti_read(tmp_path("rt.nii"), &back, err, sizeof err) == 0);
    CHECK(back.count == 24 && back.datatype == 16);
    for (i = 0; i < 24 && back.data; i++) CHECK(back.data[i] == img.data[i]);
    for (i = 0; i < 16; i++) CHECK_NEAR(back.affine[i / 4][i % 4], img.affine[i / 4][i % 4], 1e-5);
    nifti_free(&back);
    /* the same file without its sform: the qform quaternion must give the same affine */
    buf = slurp(tmp_path("rt.nii"), &len);
    buf[254] = buf[255] = 0;
    CHECK(nifti_read_mem(buf, len, &back, err, sizeof err) == 0 && back.sform_code == 0);
    for (i = 0; i < 16; i++) CHECK_NEAR(back.affine[i / 4][i % 4], img.affine[i / 4][i % 4], 1e-5);
    nifti_free(&back);
    free(buf);
    nifti_free(&img);
}

static void test_nifti_errors_and_byte_order(void)
{
    size_t len, cut, k;
    unsigned char *buf = slurp(IO "vol_i16.nii", &len), *sw;
    nifti_image img;
    for (cut = 0; cut < len; cut += 7) CHECK(nifti_read_mem(buf, cut, &img, err, sizeof err) == -1);
    sw = (unsigned char *)malloc(len);
    memcpy(sw, buf, len);
    sw[70] = 99; /* unsupported datatype */
    CHECK(nifti_read_mem(sw, len, &img, err, sizeof err) == -1 && strstr(err, "datatype"));
    memcpy(sw, buf, len);
    sw[42] = 0xff; sw[43] = 0x7f; sw[44] = 0xff; sw[45] = 0x7f; /* huge dims: data would be missing */
    CHECK(nifti_read_mem(sw, len, &img, err, sizeof err) == -1 && strstr(err, "truncated"));
    /* the same volume byte-swapped (a big-endian file) reads the same */
    memcpy(sw, buf, len);
#define SWAP(off, n) do { size_t a_ = (off), b_ = (off) + (n) - 1; for (; a_ < b_; a_++, b_--) { unsigned char t_ = sw[a_]; sw[a_] = sw[b_]; sw[b_] = t_; } } while (0)
    SWAP(0, 4);
    for (k = 0; k < 8; k++) SWAP(40 + 2 * k, 2);
    SWAP(70, 2); SWAP(72, 2);
    for (k = 0; k < 8; k++) SWAP(76 + 4 * k, 4);
    SWAP(108, 4); SWAP(112, 4); SWAP(116, 4);
    SWAP(252, 2); SWAP(254, 2);
    for (k = 0; k < 6; k++) SWAP(256 + 4 * k, 4);
    for (k = 0; k < 12; k++) SWAP(280 + 4 * k, 4);
    for (k = 0; k < 120; k++) SWAP(352 + 2 * k, 2);
#undef SWAP
    CHECK_MSG(nifti_read_mem(sw, len, &img, err, sizeof err) == 0, "%s", err);
    if (img.data) check_golden_volume(&img);
    nifti_free(&img);
    free(sw);
    free(buf);
}

/* Decodes a PNG written with stored blocks and compares its pixels. */
static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static uint32_t crc32_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

#if !defined(HAVE_ZLIB)
/* The zlib stream of stored blocks, without zlib: the bytes, checked by their Adler-32 */
static int png_stored_blocks(const unsigned char *data, size_t n, unsigned char *raw, size_t *raw_n)
{
    size_t p = 2, i;
    uint32_t a1 = 1, a2 = 0;
    int final = 0;
    *raw_n = 0;
    while (!final) {
        size_t bl;
        if (p + 5 > n) return 0;
        bl = (size_t)data[p + 1] | (size_t)data[p + 2] << 8;
        if ((data[p] & 6) != 0 || (size_t)((data[p + 3] | data[p + 4] << 8) ^ 0xffff) != bl || p + 5 + bl > n) return 0;
        final = data[p] & 1;
        memcpy(raw + *raw_n, data + p + 5, bl);
        *raw_n += bl;
        p += 5 + bl;
    }
    for (i = 0; i < *raw_n; i++) { a1 = (a1 + raw[i]) % 65521; a2 = (a2 + a1) % 65521; }
    return p + 4 <= n && be32(data + p) == (a2 << 16 | a1);
}

#endif

/* An RGB PNG of one IDAT back to pixels: inflated by zlib where the writer used it, else stored
   blocks; rows filtered with None or Sub */
static int png_decode(const unsigned char *f, size_t len, int *w, int *h, unsigned char **rgb, size_t *idat_bytes)
{
    size_t pos = 8, raw_n = 0, i, x, row;
    unsigned char *raw = NULL;
    if (len < 8 || memcmp(f, "\x89PNG\r\n\x1a\n", 8) != 0) return 0;
    while (pos + 12 <= len) {
        uint32_t n = be32(f + pos);
        const unsigned char *type = f + pos + 4, *data = f + pos + 8;
        if (pos + 12 + n > len || crc32_ref(type, n + 4) != be32(data + n)) { free(raw); return 0; }
        if (!memcmp(type, "IHDR", 4)) {
            *w = (int)be32(data);
            *h = (int)be32(data + 4);
            if (data[8] != 8 || data[9] != 2) return 0;
        } else if (!memcmp(type, "IDAT", 4) && !raw) {
            size_t cap = (size_t)*h * ((size_t)*w * 3 + 1) + 16;
            raw = (unsigned char *)malloc(cap > n ? cap : n);
            *idat_bytes = n;
#if defined(HAVE_ZLIB)
            {
                uLongf got = (uLongf)cap;
                if (uncompress(raw, &got, data, n) != Z_OK) { free(raw); return 0; }
                raw_n = got;
            }
#else
            if (!png_stored_blocks(data, n, raw, &raw_n)) { free(raw); return 0; }
#endif
        }
        pos += 12 + n;
    }
    row = (size_t)*w * 3;
    if (!raw || raw_n != (size_t)*h * (row + 1)) { free(raw); return 0; }
    *rgb = (unsigned char *)malloc(row * (size_t)*h);
    for (i = 0; i < (size_t)*h; i++) {
        const unsigned char *src = raw + i * (row + 1) + 1;
        unsigned char *dst = *rgb + i * row, filter = raw[i * (row + 1)];
        if (filter > 1) { free(raw); free(*rgb); return 0; }
        for (x = 0; x < row; x++) dst[x] = (unsigned char)(src[x] + (filter == 1 && x >= 3 ? dst[x - 3] : 0));
    }
    free(raw);
    return 1;
}

/* nifti_resample against nilearn's resample_to_img (tools/gen_resample_golden.py): a 1 mm mask
   and weights onto a 2 mm grid, flipped, oblique (rotated and sheared), partly outside, and an
   integer shift; nearest equal voxel for voxel, linear to 1e-12 */
static void test_nifti_resample_equals_nilearn(void)
{
    static const char *const cases[] = {"down2", "flipped", "oblique", "partial", "shift"};
    size_t c, i, r, k;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        static const char *const parts[] = {"mask", "weights", "src_shape", "src_affine", "target_affine", "target_shape",
                                            "nearest", "linear"};
        npy_array a[8];
        double *v[8], *out = NULL, worst = 0;
        nifti_image img;
        size_t shape[3], n_out, bad = 0;
        double taff[4][4];
        char path[256];
        int ok = 1;
        for (k = 0; k < 8; k++) {
            snprintf(path, sizeof path, "tests/data/resample/%s_%s.npy", cases[c], parts[k]);
            v[k] = NULL;
            ok &= npy_read_f64(path, &a[k], &v[k], err, sizeof err) == 0;
        }
        CHECK_MSG(ok, "%s: %s", cases[c], err);
        if (!ok) continue;
        memset(&img, 0, sizeof img);
        img.ndim = 3;
        for (i = 0; i < 3; i++) img.dim[i] = (size_t)v[2][i], shape[i] = (size_t)v[5][i];
        img.count = img.dim[0] * img.dim[1] * img.dim[2];
        for (r = 0; r < 4; r++)
            for (i = 0; i < 4; i++) img.affine[r][i] = v[3][r * 4 + i], taff[r][i] = v[4][r * 4 + i];
        n_out = shape[0] * shape[1] * shape[2];
        out = (double *)malloc(n_out * sizeof(double));
        img.data = v[0];
        CHECK(nifti_resample(&img, shape, taff, 0, out, err, sizeof err) == 0);
        for (i = 0; i < n_out; i++) bad += out[i] != v[6][i];
        CHECK_MSG(bad == 0, "%s: nearest differs from nilearn's at %zu of %zu voxels", cases[c], bad, n_out);
        img.data = v[1];
        CHECK(nifti_resample(&img, shape, taff, 1, out, err, sizeof err) == 0);
        for (i = 0; i < n_out; i++) worst = fabs(out[i] - v[7][i]) > worst ? fabs(out[i] - v[7][i]) : worst;
        CHECK_MSG(worst <= 1e-12, "%s: linear off nilearn's by %g", cases[c], worst);
        img.data = NULL;
        free(out);
        for (k = 0; k < 8; k++) { free(v[k]); npy_free(&a[k]); }
    }
    { /* a singular affine and a bad order are refused */
        nifti_image img;
        double one = 1, o[1], aff[4][4];
        size_t shape[3] = {1, 1, 1};
        memset(&img, 0, sizeof img);
        memset(aff, 0, sizeof aff);
        img.ndim = 3, img.dim[0] = img.dim[1] = img.dim[2] = 1, img.count = 1, img.data = &one;
        CHECK(nifti_resample(&img, shape, aff, 0, o, err, sizeof err) != 0 && strstr(err, "singular"));
        for (k = 0; k < 4; k++) img.affine[k][k] = aff[k][k] = 1;
        CHECK(nifti_resample(&img, shape, aff, 2, o, err, sizeof err) != 0 && strstr(err, "order"));
        CHECK(nifti_resample(&img, shape, aff, 1, o, err, sizeof err) == 0 && o[0] == 1);
    }
}

static void test_png_writer_decodes(void)
{
    int w = 300, h = 250, dw = 0, dh = 0, x, y; /* > 65535 bytes: several stored blocks */
    unsigned char *rgb = (unsigned char *)malloc((size_t)w * h * 3), *back = NULL, *file;
    size_t len, idat = 0;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++) {
            unsigned char *p = rgb + 3 * ((size_t)y * w + x);
            p[0] = (unsigned char)x; p[1] = (unsigned char)y; p[2] = (unsigned char)(x ^ y);
        }
    CHECK(png_write_rgb(tmp_path("t.png"), w, h, rgb, err, sizeof err) == 0);
    file = slurp(tmp_path("t.png"), &len);
    CHECK(file && png_decode(file, len, &dw, &dh, &back, &idat));
    CHECK(dw == w && dh == h && back && memcmp(back, rgb, (size_t)w * h * 3) == 0);
    CHECK(png_write_rgb(tmp_path("bad.png"), 0, 10, rgb, err, sizeof err) == -1);
    free(file);
    free(back);
    free(rgb);
}

static void test_heatmap_png(void)
{
    double z[40 * 60];
    size_t i;
    int w = 0, h = 0;
    unsigned char *file, *rgb = NULL;
    size_t len, idat = 0;
    png_heatmap_opts o = png_heatmap_defaults();
    for (i = 0; i < 40 * 60; i++) z[i] = sin((double)(i % 60) / 9.0) * cos((double)(i / 60) / 7.0);
    z[5] = NAN;
    o.title = "test heat map";
    o.xlabel = "phase (Hz)";
    o.ylabel = "amplitude (Hz)";
    o.cbar_label = "MI";
    o.x0 = 2; o.x1 = 20; o.y0 = 60; o.y1 = 160;
    o.rows_up = 1;
    o.mark_row = 10; o.mark_col = 20;
    CHECK(png_heatmap(tmp_path("heat.png"), z, 40, 60, &o, err, sizeof err) == 0);
    file = slurp(tmp_path("heat.png"), &len);
    CHECK(file && png_decode(file, len, &w, &h, &rgb, &idat));
    CHECK(w > 60 && h > 40);
#if defined(HAVE_ZLIB)
    CHECK_MSG(idat * 10 < (size_t)w * h * 3, "a heat map of %d x %d takes %zu bytes of IDAT: not compressed", w, h, idat);
#endif
    free(file);
    free(rgb);
    /* a large array is averaged down to the plot size */
    {
        size_t n = 3000 * 2000;
        double *big = (double *)malloc(n * sizeof(double));
        for (i = 0; i < n; i++) big[i] = (double)(i % 3000);
        o = png_heatmap_defaults();
        CHECK(png_heatmap(tmp_path("big.png"), big, 2000, 3000, &o, err, sizeof err) == 0);
        file = slurp(tmp_path("big.png"), &len);
        CHECK(file && png_decode(file, len, &w, &h, &rgb, &idat) && w <= 640 + 200 && h <= 480 + 80);
        free(file);
        free(rgb);
        free(big);
    }
    CHECK(png_heatmap(tmp_path("none.png"), z, 0, 60, &o, err, sizeof err) == -1);
}

/* Axis ticks: round values, integers on index axes, one label format per axis */
static void test_png_ticks(void)
{
    static const struct { double lo, hi; int integers; double first, step; int n; const char *label0; } c[] = {
        {0, 62, 1, 0, 20, 4, "0"},          /* 63 bins: 0 20 40 60, never 15.5 */
        {0, 1999, 1, 0, 500, 4, "0"},
        {0, 3, 1, 0, 1, 4, "0"},           /* 4 bins: every one, no 0.5 */
        {2, 20, 0, 5, 5, 4, "5"},          /* Hz */
        {60, 160, 0, 60, 20, 6, "60"},
        {0.0012, 0.0051, 0, 0.002, 0.001, 4, "0.002"},
        {0, 0.00031, 0, 0, 0.0001, 4, "0e+00"}, /* small: all in scientific */
        {-3.2, 7.9, 0, -2, 2, 5, "-2"},
        {1e5, 5e5, 0, 1e5, 1e5, 5, "1e+05"},
    };
    size_t k;
    int i;
    for (k = 0; k < sizeof c / sizeof *c; k++) {
        png_ticks t;
        char a[32], b[32];
        png_make_ticks(c[k].lo, c[k].hi, c[k].integers, &t);
        CHECK_MSG(t.n == c[k].n && fabs(t.v[0] - c[k].first) < 1e-12 && fabs(t.v[1] - t.v[0] - c[k].step) < 1e-12,
                  "case %zu: %d ticks from %g step %g", k, t.n, t.n ? t.v[0] : 0, t.n > 1 ? t.v[1] - t.v[0] : 0);
        snprintf(a, sizeof a, t.fmt, t.v[0]);
        CHECK_MSG(!strcmp(a, c[k].label0), "case %zu: first label '%s', want '%s' (format %s)", k, a, c[k].label0, t.fmt);
        for (i = 1; i < t.n; i++) { /* every label of an axis has the same shape */
            snprintf(b, sizeof b, t.fmt, t.v[i]);
            CHECK_MSG(strchr(a, 'e') == NULL ? strchr(b, 'e') == NULL : strchr(b, 'e') != NULL, "case %zu: %s and %s", k, a, b);
            if (c[k].integers) CHECK(t.v[i] == floor(t.v[i]));
        }
    }
}

/* A directory where a file is expected is named as such, not "out of memory" */
static void test_readers_refuse_directories(void)
{
    npy_array a;
    nifti_image img;
    CHECK(npy_read(tmpdir, &a, err, sizeof err) == -1 && strstr(err, "is a directory"));
    CHECK(npy_map_read(tmpdir, &a, err, sizeof err) == -1 && strstr(err, "is a directory"));
    CHECK(nifti_read(tmpdir, &img, err, sizeof err) == -1 && strstr(err, "is a directory"));
    CHECK(npy_read(tmp_path("missing.npy"), &a, err, sizeof err) == -1 && strstr(err, "No such file"));
}

#if defined(HAVE_ZLIB)
/* A .nii.gz cut anywhere, even inside its 8-byte trailer, is refused (nibabel refuses it too) */
static void test_nifti_gzip_cut_short(void)
{
    size_t len, gz_len = 0, cut;
    unsigned char *buf = slurp(IO "vol_i16.nii", &len), *gz;
    gzFile f = gzopen(tmp_path("whole.nii.gz"), "wb");
    nifti_image img;
    FILE *w;
    CHECK(buf && f && gzwrite(f, buf, (unsigned)len) == (int)len);
    if (f) gzclose(f);
    CHECK_MSG(nifti_read(tmp_path("whole.nii.gz"), &img, err, sizeof err) == 0, "%s", err);
    nifti_free(&img);
    gz = slurp(tmp_path("whole.nii.gz"), &gz_len);
    for (cut = 1; gz && cut <= 8; cut += 3) { /* inside the trailer: CRC32 and length */
        w = fopen(tmp_path("cut.nii.gz"), "wb");
        CHECK(w && fwrite(gz, 1, gz_len - cut, w) == gz_len - cut);
        if (w) fclose(w);
        CHECK_MSG(nifti_read(tmp_path("cut.nii.gz"), &img, err, sizeof err) == -1 && strstr(err, "cut short"), "cut %zu: %s", cut, err);
    }
    w = fopen(tmp_path("cut.nii.gz"), "wb"); /* and in the middle of the data */
    CHECK(w && gz && fwrite(gz, 1, gz_len / 2, w) == gz_len / 2);
    if (w) fclose(w);
    CHECK(nifti_read(tmp_path("cut.nii.gz"), &img, err, sizeof err) == -1);
    free(buf);
    free(gz);
}
#endif

static void usage_line(FILE *f) { fputs("usage: t --a N\n", f); }

typedef struct cli_case { const char *args[6]; int rc; } cli_case;

/* The option table's rules: each case is argv after the program name */
static void test_cli_parse(void)
{
    static const cli_case cases[] = {
        {{"--fs", "512", "--alpha", "0.1,0.5", "--mode", "pypho"}, 0},
        {{"--fs=250.5"}, 0},
        {{"-h"}, 1},
        {{"--help"}, 1},
        {{"--bogus", "1"}, -1},       /* unknown */
        {{"--fs"}, -1},               /* no value */
        {{"--fs", "--mode", "x"}, -1}, /* an option where the value should be */
        {{"--fs", "0"}, -1},          /* (0, inf) */
        {{"--fs", "nan"}, -1},
        {{"--fs", "1e999"}, -1},
        {{"--fs", "12x"}, -1},
        {{"--fs", "1", "--fs", "2"}, -1}, /* twice */
        {{"--alpha", "-1"}, -1},      /* (0, 1] */
        {{"--alpha", "1.5"}, -1},
        {{"--alpha", "50"}, -1},
        {{"--alpha", "0.5,"}, -1},
        {{"--alpha", "0.1,0.2,0.3,0.4,0.5"}, -1}, /* at most 4 */
        {{"--mode", "fancy"}, -1},
        {{"--n", "3.5"}, -1},
        {{"--n", "99999999999999999999"}, -1},
        {{"--n", "-1"}, -1},
        {{"--n", "7"}, 0},
        {{"--seed", "9223372036854775807"}, 0},
        {{"--quiet=1"}, -1},          /* a flag takes no value */
        {{"--quiet", "--quiet"}, -1},
        {{"--in", ""}, -1},           /* empty */
        {{"--in", "a", "--in", "b"}, 0}, /* repeats */
        {{"stray"}, -1},
        {{"-x"}, -1},
    };
    size_t k, i;
    FILE *null_out = fopen("/dev/null", "w");
    int saved_out = dup(1), saved_err = dup(2);
    for (k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *argv[8];
        int argc = 1, rc, quiet = 0, mode = -1;
        double fs = 0, alphas[4];
        long long n = 0, seed = 0;
        size_t n_alpha = 0, n_in = 0;
        const char *in[3];
        cli_opt t[7];
        t[0] = cli_double("--fs", &fs, 0, HUGE_VAL, CLI_LO_OPEN, "a sampling rate in Hz");
        t[1] = cli_doubles("--alpha", alphas, 4, &n_alpha, 0, 1, CLI_LO_OPEN, "fractions of the peak");
        t[2] = cli_choice("--mode", &mode, "exact|pypho");
        t[3] = cli_int("--n", &n, 0, 100, "a count");
        t[4] = cli_flag("--quiet", &quiet);
        t[5] = cli_strings("--in", in, 3, &n_in);
        t[6] = cli_int("--seed", &seed, 0, 9223372036854775807LL, "a seed");
        argv[0] = (char *)"t";
        for (i = 0; i < 6 && cases[k].args[i]; i++) argv[argc++] = (char *)cases[k].args[i];
        argv[argc] = NULL;
        fflush(stdout), fflush(stderr);
        if (null_out) dup2(fileno(null_out), 1), dup2(fileno(null_out), 2);
        rc = cli_parse("t", argc, argv, t, 7, usage_line);
        fflush(stdout), fflush(stderr);
        dup2(saved_out, 1), dup2(saved_err, 2);
        CHECK_MSG(rc == cases[k].rc, "case %zu (%s %s ...): %d, want %d", k, cases[k].args[0], cases[k].args[1] ? cases[k].args[1] : "",
                  rc, cases[k].rc);
        if (k == 0) CHECK(fs == 512 && n_alpha == 2 && alphas[1] == 0.5 && mode == 1);
        if (k == 1) CHECK(fs == 250.5);
        if (k == 22) CHECK(seed == 9223372036854775807LL);
        if (k == 26) CHECK(n_in == 2 && !strcmp(in[1], "b"));
    }
    if (null_out) fclose(null_out);
    close(saved_out), close(saved_err);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static size_t files_in(const char *dir)
{
    char cmd[400];
    FILE *p;
    size_t n = 0;
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    if ((p = popen(cmd, "r")) != NULL) {
        if (fscanf(p, "%zu", &n) != 1) n = 0;
        pclose(p);
    }
    return n;
}

/* Outputs: directories made first, collisions and inputs refused before any work, nothing left
   under the final names until the commit, no temporary left after a failed run */
static void test_outputs(void)
{
    ex_outputs o;
    char a[300], b[300], c[300], d[300], in[300];
    const char *ta, *tb;
    FILE *f;
    snprintf(a, sizeof a, "%s/out/deep/a.npy", tmpdir);
    snprintf(b, sizeof b, "%s/out/deep/../deep/b.npy", tmpdir);
    snprintf(c, sizeof c, "%s/out/./deep/a.npy", tmpdir);
    snprintf(d, sizeof d, "%s/out/deep", tmpdir);
    snprintf(in, sizeof in, "%s/input.npy", tmpdir);
    f = fopen(in, "w");
    if (f) fclose(f);
    ex_outputs_init(&o);
    CHECK(ex_outputs_input(&o, in, err, sizeof err) == 0);
    CHECK_MSG((ta = ex_outputs_add(&o, a, err, sizeof err)) != NULL && exists(ta) && !exists(a), "%s", err);
    CHECK_MSG((tb = ex_outputs_add(&o, b, err, sizeof err)) != NULL, "%s", err);
    CHECK(ex_outputs_add(&o, c, err, sizeof err) == NULL && strstr(err, "same file"));
    CHECK(ex_outputs_add(&o, d, err, sizeof err) == NULL && strstr(err, "is a directory"));
    CHECK(ex_outputs_add(&o, in, err, sizeof err) == NULL && strstr(err, "is an input"));
    CHECK(ex_outputs_add(&o, "/proc/no/such/x.npy", err, sizeof err) == NULL);
    if (ta) { f = fopen(ta, "w"); if (f) { fputs("A", f); fclose(f); } }
    ex_outputs_free(&o); /* no commit: a failed run */
    CHECK(!exists(a) && files_in(d) == 0);

    ex_outputs_init(&o);
    ta = ex_outputs_add(&o, a, err, sizeof err);
    tb = ex_outputs_add(&o, b, err, sizeof err);
    CHECK(ta && tb);
    if (ta) { f = fopen(ta, "w"); if (f) { fputs("A", f); fclose(f); } }
    CHECK(ex_outputs_commit(&o, err, sizeof err) == 0 && exists(a) && exists(b));
    ex_outputs_free(&o);
    CHECK(exists(a) && files_in(d) == 2);
    snprintf(c, sizeof c, "%s/input.npy/x", tmpdir); /* a file where a directory should be */
    CHECK(ex_mkdir_p(c, err, sizeof err) == -1 && strstr(err, "not a directory"));
}

int main(void)
{
    int rc;
    if (!mkdtemp(tmpdir)) return 2;
    RUN(test_npy_reads_numpy_files);
    RUN(test_npy_integer_and_bool_dtypes);
    RUN(test_npy_errors);
    RUN(test_npy_round_trip);
    RUN(test_npy_stream);
    RUN(test_npy_map);
    RUN(test_npy_map_read);
    RUN(test_nifti_reads_nibabel_file);
    RUN(test_nifti_round_trip_and_qform);
    RUN(test_nifti_errors_and_byte_order);
    RUN(test_nifti_resample_equals_nilearn);
    RUN(test_png_writer_decodes);
    RUN(test_heatmap_png);
    RUN(test_png_ticks);
    RUN(test_readers_refuse_directories);
#if defined(HAVE_ZLIB)
    RUN(test_nifti_gzip_cut_short);
#endif
    RUN(test_cli_parse);
    RUN(test_outputs);
    rc = tk_summary("examples/common");
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        if (system(cmd) != 0) rc |= 0;
    }
    return rc;
}
