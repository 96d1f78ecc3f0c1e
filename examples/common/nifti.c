/* nifti.c - see nifti.h. */
#include "nifti.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif

#define NII_HDR 348
#define NII_OFFSET 352

/* ---- byte-order-aware field access ---------------------------------------------------------- */

typedef struct nii__reader { const unsigned char *b; int swap; } nii__reader;

static void nii__get(const nii__reader *r, size_t off, void *out, size_t n)
{
    unsigned char tmp[8];
    size_t i;
    memcpy(tmp, r->b + off, n);
    if (r->swap)
        for (i = 0; i < n / 2; i++) { unsigned char t = tmp[i]; tmp[i] = tmp[n - 1 - i]; tmp[n - 1 - i] = t; }
    memcpy(out, tmp, n);
}

static int nii__i16(const nii__reader *r, size_t off) { int16_t v; nii__get(r, off, &v, 2); return v; }
static int32_t nii__i32(const nii__reader *r, size_t off) { int32_t v; nii__get(r, off, &v, 4); return v; }
static double nii__f32(const nii__reader *r, size_t off) { float v; nii__get(r, off, &v, 4); return v; }

static int nii__type_size(int datatype)
{
    switch (datatype) {
    case 2: case 256: return 1;      /* uint8, int8 */
    case 4: case 512: return 2;      /* int16, uint16 */
    case 8: case 768: case 16: return 4; /* int32, uint32, float32 */
    case 64: case 1024: case 1280: return 8; /* float64, int64, uint64 */
    default: return 0;
    }
}

static double nii__value(const nii__reader *r, const unsigned char *p, int datatype)
{
    nii__reader v;
    v.b = p;
    v.swap = r->swap;
    switch (datatype) {
    case 2: return p[0];
    case 256: return (signed char)p[0];
    case 4: return nii__i16(&v, 0);
    case 512: { uint16_t x; nii__get(&v, 0, &x, 2); return x; }
    case 8: return nii__i32(&v, 0);
    case 768: { uint32_t x; nii__get(&v, 0, &x, 4); return x; }
    case 16: return nii__f32(&v, 0);
    case 64: { double x; nii__get(&v, 0, &x, 8); return x; }
    case 1024: { int64_t x; nii__get(&v, 0, &x, 8); return (double)x; }
    case 1280: { uint64_t x; nii__get(&v, 0, &x, 8); return (double)x; }
    }
    return 0.0;
}

/* ---- affine <-> quaternion (the NIfTI-1 conventions) ------------------------------------------- */

static void nii__quatern_to_affine(double b, double c, double d, const double off[3], const double pix[3],
                                   double qfac, double A[4][4])
{
    double a = 1.0 - (b * b + c * c + d * d), R[3][3];
    int i, j;
    if (a < 1e-7) { /* 180-degree rotation: renormalise b, c, d */
        double n = sqrt(b * b + c * c + d * d);
        if (n > 0) { b /= n; c /= n; d /= n; }
        a = 0.0;
    } else a = sqrt(a);
    R[0][0] = a * a + b * b - c * c - d * d; R[0][1] = 2 * (b * c - a * d); R[0][2] = 2 * (b * d + a * c);
    R[1][0] = 2 * (b * c + a * d); R[1][1] = a * a + c * c - b * b - d * d; R[1][2] = 2 * (c * d - a * b);
    R[2][0] = 2 * (b * d - a * c); R[2][1] = 2 * (c * d + a * b); R[2][2] = a * a + d * d - c * c - b * b;
    for (i = 0; i < 3; i++) {
        for (j = 0; j < 3; j++) A[i][j] = R[i][j] * (pix[j] > 0 ? pix[j] : 1.0) * (j == 2 ? qfac : 1.0);
        A[i][3] = off[i];
    }
    A[3][0] = A[3][1] = A[3][2] = 0.0;
    A[3][3] = 1.0;
}

/* Rotation part of A as a quaternion (b, c, d), voxel sizes and qfac. */
static void nii__affine_to_quatern(const double A[4][4], double q[3], double pix[3], double *qfac)
{
    double R[3][3], a, b, c, d, det;
    int i, j;
    for (j = 0; j < 3; j++) {
        double n = sqrt(A[0][j] * A[0][j] + A[1][j] * A[1][j] + A[2][j] * A[2][j]);
        pix[j] = n > 0 ? n : 1.0;
        for (i = 0; i < 3; i++) R[i][j] = n > 0 ? A[i][j] / n : (i == j);
    }
    det = R[0][0] * (R[1][1] * R[2][2] - R[1][2] * R[2][1]) - R[0][1] * (R[1][0] * R[2][2] - R[1][2] * R[2][0]) +
          R[0][2] * (R[1][0] * R[2][1] - R[1][1] * R[2][0]);
    *qfac = det < 0 ? -1.0 : 1.0;
    if (det < 0) for (i = 0; i < 3; i++) R[i][2] = -R[i][2];
    a = R[0][0] + R[1][1] + R[2][2] + 1.0;
    if (a > 0.5) {
        a = 0.5 * sqrt(a);
        b = 0.25 * (R[2][1] - R[1][2]) / a;
        c = 0.25 * (R[0][2] - R[2][0]) / a;
        d = 0.25 * (R[1][0] - R[0][1]) / a;
    } else {
        double xd = 1.0 + R[0][0] - (R[1][1] + R[2][2]), yd = 1.0 + R[1][1] - (R[0][0] + R[2][2]),
               zd = 1.0 + R[2][2] - (R[0][0] + R[1][1]);
        if (xd > 1.0) {
            b = 0.5 * sqrt(xd); c = 0.25 * (R[0][1] + R[1][0]) / b; d = 0.25 * (R[0][2] + R[2][0]) / b;
            a = 0.25 * (R[2][1] - R[1][2]) / b;
        } else if (yd > 1.0) {
            c = 0.5 * sqrt(yd); b = 0.25 * (R[0][1] + R[1][0]) / c; d = 0.25 * (R[1][2] + R[2][1]) / c;
            a = 0.25 * (R[0][2] - R[2][0]) / c;
        } else {
            d = 0.5 * sqrt(zd); b = 0.25 * (R[0][2] + R[2][0]) / d; c = 0.25 * (R[1][2] + R[2][1]) / d;
            a = 0.25 * (R[1][0] - R[0][1]) / d;
        }
        if (a < 0.0) { b = -b; c = -c; d = -d; }
    }
    q[0] = b; q[1] = c; q[2] = d;
}

void nifti_affine_scaled(double A[4][4], const double vox[3], const double origin[3])
{
    int i;
    memset(A, 0, 16 * sizeof(double));
    for (i = 0; i < 3; i++) { A[i][i] = vox[i]; A[i][3] = origin[i]; }
    A[3][3] = 1.0;
}

/* ---- reading ---------------------------------------------------------------------------------- */

static int nii__read_affine(const nii__reader *r, nifti_image *img)
{
    int i, j;
    img->qform_code = nii__i16(r, 252);
    img->sform_code = nii__i16(r, 254);
    if (img->sform_code > 0) {
        for (i = 0; i < 3; i++)
            for (j = 0; j < 4; j++) img->affine[i][j] = nii__f32(r, 280 + (size_t)(16 * i + 4 * j));
        img->affine[3][0] = img->affine[3][1] = img->affine[3][2] = 0.0;
        img->affine[3][3] = 1.0;
    } else if (img->qform_code > 0) {
        double off[3], qfac = nii__f32(r, 76);
        for (i = 0; i < 3; i++) off[i] = nii__f32(r, 268 + (size_t)(4 * i));
        nii__quatern_to_affine(nii__f32(r, 256), nii__f32(r, 260), nii__f32(r, 264), off, img->pixdim,
                               qfac < 0 ? -1.0 : 1.0, img->affine);
    } else {
        double zero[3] = {0, 0, 0}, vox[3];
        for (i = 0; i < 3; i++) vox[i] = img->pixdim[i] > 0 ? img->pixdim[i] : 1.0;
        nifti_affine_scaled(img->affine, vox, zero);
    }
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++)
            if (!isfinite(img->affine[i][j])) return -1;
    return 0;
}

int nifti_read_mem(const void *buf, size_t len, nifti_image *img, char *err, size_t cap)
{
    nii__reader r;
    int32_t sz;
    int i, tsize;
    double slope, inter, off_f;
    size_t off, bytes, k;
    memset(img, 0, sizeof *img);
    r.b = (const unsigned char *)buf;
    r.swap = 0;
    if (len < NII_HDR) return ex_fail(err, cap, "nifti: file too short for a NIfTI-1 header");
    sz = nii__i32(&r, 0);
    if (sz != NII_HDR) {
        r.swap = 1;
        if (nii__i32(&r, 0) != NII_HDR) return ex_fail(err, cap, "nifti: not a NIfTI-1 file (sizeof_hdr is not 348)");
    }
    if (memcmp(r.b + 344, "n+1", 4) != 0) {
        if (memcmp(r.b + 344, "ni1", 4) == 0) return ex_fail(err, cap, "nifti: .hdr/.img pairs are not supported; use a single .nii");
        return ex_fail(err, cap, "nifti: bad magic (not n+1)");
    }
    img->ndim = nii__i16(&r, 40);
    if (img->ndim < 1 || img->ndim > 7) return ex_fail(err, cap, "nifti: dim[0] = %d is not in 1..7", img->ndim);
    img->count = 1;
    for (i = 0; i < img->ndim; i++) {
        int d = nii__i16(&r, 42 + (size_t)(2 * i));
        if (d < 1) return ex_fail(err, cap, "nifti: dim[%d] = %d", i + 1, d);
        img->dim[i] = (size_t)d;
        if (img->count > (size_t)-1 / img->dim[i]) return ex_fail(err, cap, "nifti: dimensions overflow");
        img->count *= img->dim[i];
    }
    for (i = 0; i < 7; i++) img->pixdim[i] = fabs(nii__f32(&r, 80 + (size_t)(4 * i)));
    img->datatype = nii__i16(&r, 70);
    tsize = nii__type_size(img->datatype);
    if (!tsize) return ex_fail(err, cap, "nifti: unsupported datatype %d", img->datatype);
    off_f = nii__f32(&r, 108);
    if (!(off_f >= NII_HDR && off_f < 1e15)) return ex_fail(err, cap, "nifti: bad vox_offset %g", off_f);
    off = (size_t)off_f;
    if (img->count > ((size_t)-1 >> 1) / (size_t)tsize) return ex_fail(err, cap, "nifti: dimensions overflow");
    bytes = img->count * (size_t)tsize;
    if (off > len || bytes > len - off)
        return ex_fail(err, cap, "nifti: truncated data: %zu bytes expected after offset %zu, file has %zu", bytes, off, len);
    if (nii__read_affine(&r, img) != 0) return ex_fail(err, cap, "nifti: non-finite affine");
    slope = nii__f32(&r, 112);
    inter = nii__f32(&r, 116);
    if (!isfinite(slope) || slope == 0.0) { slope = 1.0; inter = 0.0; }
    if (!isfinite(inter)) inter = 0.0;
    img->data = (double *)malloc(img->count * sizeof(double));
    if (!img->data) return ex_fail(err, cap, "nifti: out of memory for %zu voxels", img->count);
    for (k = 0; k < img->count; k++)
        img->data[k] = nii__value(&r, r.b + off + k * (size_t)tsize, img->datatype) * slope + inter;
    return 0;
}

/* Whole file into memory; gzip-compressed or not when zlib is present. */
static unsigned char *nii__slurp(const char *path, size_t *len, char *err, size_t cap)
{
    size_t n = 0, room = 1 << 16;
    unsigned char *buf;
#ifdef HAVE_ZLIB
    gzFile f;
    int zerr = Z_OK;
#else
    FILE *f;
    size_t pl = strlen(path);
#endif
    if (ex_readable("nifti", path, err, cap)) return NULL;
    buf = (unsigned char *)malloc(room);
#ifdef HAVE_ZLIB
    f = gzopen(path, "rb");
    if (!f) { free(buf); ex_fail(err, cap, "nifti: cannot open %s", path); return NULL; }
#else
    if (pl > 3 && strcmp(path + pl - 3, ".gz") == 0) {
        free(buf);
        ex_fail(err, cap, "nifti: %s is gzip-compressed but this build has no zlib (install zlib1g-dev and rebuild)", path);
        return NULL;
    }
    f = fopen(path, "rb");
    if (!f) { free(buf); ex_fail(err, cap, "nifti: cannot open %s", path); return NULL; }
#endif
    for (;;) {
        long got;
        if (!buf) break;
        if (n == room) {
            unsigned char *nb = (unsigned char *)realloc(buf, room * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            room *= 2;
        }
#ifdef HAVE_ZLIB
        got = gzread(f, buf + n, (unsigned)(room - n > (1u << 30) ? (1u << 30) : room - n));
#else
        got = (long)fread(buf + n, 1, room - n, f);
#endif
        if (got < 0) { free(buf); buf = NULL; break; }
        if (got == 0) break;
        n += (size_t)got;
    }
#ifdef HAVE_ZLIB
    if (buf) gzerror(f, &zerr); /* a stream cut short (even in its trailer) reads as an end of file */
    gzclose(f);
    if (buf && zerr != Z_OK && zerr != Z_STREAM_END) {
        free(buf);
        ex_fail(err, cap, "nifti: %s: the gzip stream is corrupt or cut short", path);
        return NULL;
    }
#else
    fclose(f);
#endif
    if (!buf) ex_fail(err, cap, "nifti: cannot read %s (out of memory or corrupt gzip)", path);
    *len = n;
    return buf;
}

int nifti_read(const char *path, nifti_image *img, char *err, size_t cap)
{
    size_t len = 0;
    unsigned char *buf = nii__slurp(path, &len, err, cap);
    int rc;
    memset(img, 0, sizeof *img);
    if (!buf) return -1;
    rc = nifti_read_mem(buf, len, img, err, cap);
    free(buf);
    if (rc != 0) ex_prefix_path(err, cap, path);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------------- */

static void nii__put16(unsigned char *h, size_t off, int v) { h[off] = (unsigned char)(v & 0xff); h[off + 1] = (unsigned char)((v >> 8) & 0xff); }
static void nii__put32(unsigned char *h, size_t off, uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++) h[off + (size_t)i] = (unsigned char)((v >> (8 * i)) & 0xff);
}
static void nii__putf(unsigned char *h, size_t off, double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    nii__put32(h, off, u);
}

/* inv(a) of a 4 x 4 matrix by Gauss-Jordan with partial pivoting; 0 when singular */
static int nifti__invert(const double a[4][4], double inv[4][4])
{
    double m[4][8];
    int r, c, k;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 8; c++) m[r][c] = c < 4 ? a[r][c] : (c - 4 == r);
    for (c = 0; c < 4; c++) {
        int piv = c;
        for (r = c + 1; r < 4; r++)
            if (fabs(m[r][c]) > fabs(m[piv][c])) piv = r;
        if (!(fabs(m[piv][c]) > 0)) return 0;
        if (piv != c)
            for (k = 0; k < 8; k++) {
                double t = m[c][k];
                m[c][k] = m[piv][k], m[piv][k] = t;
            }
        for (k = 7; k >= c; k--) m[c][k] /= m[c][c];
        for (r = 0; r < 4; r++) {
            double f = m[r][c];
            if (r == c || f == 0) continue;
            for (k = c; k < 8; k++) m[r][k] -= f * m[c][k];
        }
    }
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) inv[r][c] = m[r][c + 4];
    return 1;
}

static double nifti__at(const nifti_image *img, size_t i, size_t j, size_t k)
{
    double v = img->data[i + img->dim[0] * (j + img->dim[1] * k)];
    return v == v ? v : 0.0;
}

int nifti_resample(const nifti_image *img, const size_t shape[3], double affine[4][4], int order, double *out,
                   char *err, size_t cap)
{
    double inv[4][4], A[3][3], b[3];
    size_t i, j, k, d, l;
    const size_t n[3] = {img->dim[0], img->dim[1], img->ndim >= 3 ? img->dim[2] : 1};
    if (order != 0 && order != 1) return ex_fail(err, cap, "nifti_resample: order must be 0 or 1");
    if (!nifti__invert(img->affine, inv)) return ex_fail(err, cap, "the image's affine is singular");
    for (d = 0; d < 3; d++) { /* inv(img.affine) @ affine: target voxel -> image voxel */
        for (l = 0; l < 4; l++) {
            double s = 0;
            for (k = 0; k < 4; k++) s += inv[d][k] * affine[k][l];
            if (l < 3) A[d][l] = s;
            else b[d] = s;
        }
    }
    for (k = 0; k < shape[2]; k++)
        for (j = 0; j < shape[1]; j++)
            for (i = 0; i < shape[0]; i++) {
                const double o[3] = {(double)i, (double)j, (double)k};
                double x[3], v = 0;
                int inside = 1;
                for (d = 0; d < 3; d++) {
                    x[d] = A[d][0] * o[0] + A[d][1] * o[1] + A[d][2] * o[2] + b[d];
                    inside &= x[d] >= 0 && x[d] <= (double)(n[d] - 1);
                }
                if (inside && order == 0) {
                    v = nifti__at(img, (size_t)floor(x[0] + 0.5), (size_t)floor(x[1] + 0.5), (size_t)floor(x[2] + 0.5));
                } else if (inside) { /* trilinear; a neighbour past the last index has weight 0 */
                    size_t f[3], c;
                    double w[3];
                    for (d = 0; d < 3; d++) f[d] = (size_t)floor(x[d]), w[d] = x[d] - (double)f[d];
                    for (c = 0; c < 8; c++) {
                        size_t p[3];
                        double wt = 1;
                        for (d = 0; d < 3; d++) {
                            int up = (int)(c >> d & 1);
                            p[d] = f[d] + (size_t)up;
                            wt *= up ? w[d] : 1 - w[d];
                        }
                        if (wt != 0 && p[0] < n[0] && p[1] < n[1] && p[2] < n[2]) v += wt * nifti__at(img, p[0], p[1], p[2]);
                    }
                }
                out[i + shape[0] * (j + shape[1] * k)] = v;
            }
    return 0;
}

int nifti_write(const char *path, const nifti_image *img, char *err, size_t cap)
{
    unsigned char h[NII_OFFSET];
    double q[3], pix[3], qfac;
    size_t k;
    int i, j;
    FILE *f;
    if (img->ndim < 1 || img->ndim > 7) return ex_fail(err, cap, "nifti: ndim %d not in 1..7", img->ndim);
    for (i = 0; i < img->ndim; i++)
        if (img->dim[i] < 1 || img->dim[i] > 32767) return ex_fail(err, cap, "nifti: dim %zu does not fit NIfTI-1", img->dim[i]);
    memset(h, 0, sizeof h);
    nii__put32(h, 0, NII_HDR);
    nii__put16(h, 40, img->ndim);
    for (i = 0; i < img->ndim; i++) nii__put16(h, 42 + (size_t)(2 * i), (int)img->dim[i]);
    for (; i < 7; i++) nii__put16(h, 42 + (size_t)(2 * i), 1);
    nii__put16(h, 70, 16);  /* float32 */
    nii__put16(h, 72, 32);
    nii__affine_to_quatern(img->affine, q, pix, &qfac);
    nii__putf(h, 76, qfac);
    for (i = 0; i < 3; i++) nii__putf(h, 80 + (size_t)(4 * i), pix[i]);
    for (i = 3; i < 7; i++) nii__putf(h, 80 + (size_t)(4 * i), img->pixdim[i] > 0 ? img->pixdim[i] : 1.0);
    nii__putf(h, 108, NII_OFFSET);
    nii__putf(h, 112, 1.0);
    h[123] = 10 | 8; /* xyzt_units: mm, s */
    nii__put16(h, 252, img->qform_code > 0 ? img->qform_code : 1);
    nii__put16(h, 254, img->sform_code > 0 ? img->sform_code : 1);
    for (i = 0; i < 3; i++) nii__putf(h, 256 + (size_t)(4 * i), q[i]);
    for (i = 0; i < 3; i++) nii__putf(h, 268 + (size_t)(4 * i), img->affine[i][3]);
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++) nii__putf(h, 280 + (size_t)(16 * i + 4 * j), img->affine[i][j]);
    memcpy(h + 344, "n+1", 4);
    f = fopen(path, "wb");
    if (!f) return ex_fail(err, cap, "nifti: cannot create %s", path);
    fwrite(h, 1, sizeof h, f);
    for (k = 0; k < img->count; k++) {
        unsigned char b[4];
        float v = (float)img->data[k];
        uint32_t u;
        memcpy(&u, &v, 4);
        nii__put32(b, 0, u);
        fwrite(b, 1, 4, f);
    }
    if (fclose(f) != 0) return ex_fail(err, cap, "nifti: write to %s failed", path);
    return 0;
}

void nifti_free(nifti_image *img)
{
    if (!img) return;
    free(img->data);
    img->data = NULL;
}
