/* npy.c - see npy.h. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* ftruncate, fileno, mmap */
#endif
#include "npy.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define NPY__MMAP 1
#endif

static const struct { const char *descr; npy_dtype dtype; size_t size; } npy__types[] = {
    {"<f4", NPY_F4, 4}, {"<f8", NPY_F8, 8}, {"<i4", NPY_I4, 4}, {"<i8", NPY_I8, 8},
    {"|u1", NPY_U1, 1}, {"<u1", NPY_U1, 1}, {"|b1", NPY_B1, 1}, {"<u2", NPY_U2, 2},
};
#define NPY__NTYPES (sizeof npy__types / sizeof npy__types[0])

size_t npy_itemsize(npy_dtype dtype)
{
    size_t i;
    for (i = 0; i < NPY__NTYPES; i++)
        if (npy__types[i].dtype == dtype) return npy__types[i].size;
    return 0;
}

const char *npy_dtype_name(npy_dtype dtype)
{
    size_t i;
    for (i = 0; i < NPY__NTYPES; i++)
        if (npy__types[i].dtype == dtype) return npy__types[i].descr;
    return "?";
}

/* Finds the value text after 'key': in the header dictionary. */
static const char *npy__value(const char *hdr, const char *key)
{
    char quoted[32];
    const char *p;
    snprintf(quoted, sizeof quoted, "'%s'", key);
    p = strstr(hdr, quoted);
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static int npy__parse_shape(const char *p, npy_array *a, char *err, size_t cap)
{
    if (*p != '(') return ex_fail(err, cap, "npy: shape is not a tuple");
    p++;
    a->ndim = 0;
    for (;;) {
        char *end;
        unsigned long long v;
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        if (*p < '0' || *p > '9') return ex_fail(err, cap, "npy: bad character '%c' in shape", *p);
        if (a->ndim == NPY_MAX_DIMS) return ex_fail(err, cap, "npy: more than %d dimensions", NPY_MAX_DIMS);
        v = strtoull(p, &end, 10);
        if ((size_t)v != v || end - p > 20) return ex_fail(err, cap, "npy: dimension too large");
        a->shape[a->ndim++] = (size_t)v;
        p = end;
        while (*p == ' ' || *p == 'L') p++;
        if (*p != ',' && *p != ')') return ex_fail(err, cap, "npy: bad shape tuple");
    }
    return 0;
}

static int npy__parse_header(const char *hdr, npy_array *a, int *fortran, char *err, size_t cap)
{
    const char *d = npy__value(hdr, "descr"), *f = npy__value(hdr, "fortran_order"),
               *s = npy__value(hdr, "shape");
    size_t i;
    if (!d || !f || !s) return ex_fail(err, cap, "npy: header lacks descr, fortran_order or shape");
    if (*d != '\'') return ex_fail(err, cap, "npy: structured dtypes are not supported");
    for (i = 0; i < NPY__NTYPES; i++) {
        size_t n = strlen(npy__types[i].descr);
        if (strncmp(d + 1, npy__types[i].descr, n) == 0 && d[1 + n] == '\'') break;
    }
    if (i == NPY__NTYPES) {
        char name[16] = {0};
        size_t k;
        for (k = 0; k < sizeof name - 1 && d[1 + k] && d[1 + k] != '\''; k++) name[k] = d[1 + k];
        return ex_fail(err, cap, "npy: unsupported dtype '%s' (use <f4, <f8, <i4, <i8, |u1 or |b1)", name);
    }
    a->dtype = npy__types[i].dtype;
    a->itemsize = npy__types[i].size;
    if (strncmp(f, "True", 4) == 0) *fortran = 1;
    else if (strncmp(f, "False", 5) == 0) *fortran = 0;
    else return ex_fail(err, cap, "npy: fortran_order is neither True nor False");
    return npy__parse_shape(s, a, err, cap);
}

/* C-order copy of a Fortran-order array. */
static void npy__fortran_to_c(const npy_array *a, const unsigned char *src, unsigned char *dst)
{
    size_t idx[NPY_MAX_DIMS] = {0}, fstride[NPY_MAX_DIMS], i;
    int k;
    if (a->ndim == 0) { memcpy(dst, src, a->itemsize); return; }
    fstride[0] = 1;
    for (k = 1; k < a->ndim; k++) fstride[k] = fstride[k - 1] * a->shape[k - 1];
    for (i = 0; i < a->count; i++) {
        size_t off = 0;
        for (k = 0; k < a->ndim; k++) off += idx[k] * fstride[k];
        memcpy(dst + i * a->itemsize, src + off * a->itemsize, a->itemsize);
        for (k = a->ndim - 1; k >= 0; k--) { /* C-order odometer */
            if (++idx[k] < a->shape[k]) break;
            idx[k] = 0;
        }
    }
}

/* Parses the header of a .npy image: fills a (no data yet), the data offset and the order, and
   checks that the data is all there. */
static int npy__parse(const unsigned char *b, size_t len, npy_array *a, size_t *data_start, int *fortran, char *err,
                      size_t cap)
{
    size_t hlen, start, bytes, i;
    char *hdr;
    memset(a, 0, sizeof *a);
    *fortran = 0;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0) return ex_fail(err, cap, "npy: not a .npy file (bad magic)");
    if (b[6] == 1) { hlen = (size_t)b[8] | (size_t)b[9] << 8; start = 10; }
    else if (b[6] == 2 || b[6] == 3) {
        if (len < 12) return ex_fail(err, cap, "npy: truncated header");
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        start = 12;
    } else return ex_fail(err, cap, "npy: unsupported format version %d.%d", b[6], b[7]);
    if (hlen > len - start) return ex_fail(err, cap, "npy: truncated header (%zu bytes announced)", hlen);
    hdr = (char *)malloc(hlen + 1);
    if (!hdr) return ex_fail(err, cap, "npy: out of memory");
    memcpy(hdr, b + start, hlen);
    hdr[hlen] = 0;
    if (npy__parse_header(hdr, a, fortran, err, cap) != 0) { free(hdr); return -1; }
    free(hdr);
    a->count = 1;
    for (i = 0; i < (size_t)a->ndim; i++)
        if (a->shape[i] && a->count > (size_t)-1 / a->shape[i]) return ex_fail(err, cap, "npy: shape overflows");
        else a->count *= a->shape[i];
    if (a->count > ((size_t)-1 >> 1) / a->itemsize) return ex_fail(err, cap, "npy: shape overflows");
    bytes = a->count * a->itemsize;
    start += hlen;
    if (bytes > len - start)
        return ex_fail(err, cap, "npy: truncated data: %zu bytes expected, %zu present", bytes, len - start);
    *data_start = start;
    return 0;
}

int npy_read_mem(const void *buf, size_t len, npy_array *a, char *err, size_t cap)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t start, bytes, i;
    int fortran;
    if (npy__parse(b, len, a, &start, &fortran, err, cap) != 0) return -1;
    bytes = a->count * a->itemsize;
    a->data = malloc(bytes ? bytes : 1);
    if (!a->data) return ex_fail(err, cap, "npy: out of memory for %zu bytes", bytes);
    if (fortran && a->ndim > 1) npy__fortran_to_c(a, b + start, (unsigned char *)a->data);
    else memcpy(a->data, b + start, bytes);
    if (a->dtype == NPY_B1)
        for (i = 0; i < a->count; i++) ((unsigned char *)a->data)[i] = ((unsigned char *)a->data)[i] != 0;
    return 0;
}

/* A file's bytes: mapped read-only where the system can (no copy in this process's memory),
   else read into a buffer. *mapped says which, for npy__release. */
static unsigned char *npy__file_bytes(const char *path, size_t *len, int *mapped, char *err, size_t cap)
{
    FILE *f;
    long size;
    unsigned char *buf;
    *mapped = 0;
    if (ex_readable("npy", path, err, cap)) return NULL;
    if (!(f = fopen(path, "rb"))) { ex_fail(err, cap, "npy: cannot open %s: %s", path, strerror(errno)); return NULL; }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        ex_fail(err, cap, "npy: cannot size %s", path);
        return NULL;
    }
    *len = (size_t)size;
#if defined(NPY__MMAP)
    if (size > 0) {
        void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fileno(f), 0);
        if (p != MAP_FAILED) {
            fclose(f);
            *mapped = 1;
            return (unsigned char *)p;
        }
    }
#endif
    buf = (unsigned char *)malloc((size_t)size + 1);
    if (!buf) { fclose(f); ex_fail(err, cap, "npy: out of memory reading %s", path); return NULL; }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(buf);
        ex_fail(err, cap, "npy: cannot read %s", path);
        return NULL;
    }
    fclose(f);
    return buf;
}

static void npy__release(unsigned char *b, size_t len, int mapped)
{
#if defined(NPY__MMAP)
    if (mapped) { munmap(b, len); return; }
#endif
    (void)len; (void)mapped;
    free(b);
}

int npy_map_read(const char *path, npy_array *a, char *err, size_t cap)
{
    size_t len = 0, start;
    int mapped, fortran, rc;
    unsigned char *b = npy__file_bytes(path, &len, &mapped, err, cap);
    memset(a, 0, sizeof *a);
    if (!b) return -1;
    if (mapped && npy__parse(b, len, a, &start, &fortran, err, cap) == 0 && (!fortran || a->ndim <= 1) &&
        a->dtype != NPY_B1 && start % a->itemsize == 0) {
        a->data = b + start; /* read-only pages of the file */
        a->map_base = b;
        a->map_len = len;
        return 0;
    }
    rc = npy_read_mem(b, len, a, err, cap); /* a copy: Fortran order, bool, or no mmap */
    npy__release(b, len, mapped);
    if (rc != 0) ex_prefix_path(err, cap, path);
    return rc;
}

int npy_read(const char *path, npy_array *a, char *err, size_t cap)
{
    size_t len = 0;
    int mapped, rc;
    unsigned char *b = npy__file_bytes(path, &len, &mapped, err, cap);
    memset(a, 0, sizeof *a);
    if (!b) return -1;
    rc = npy_read_mem(b, len, a, err, cap);
    npy__release(b, len, mapped);
    if (rc != 0) ex_prefix_path(err, cap, path);
    return rc;
}

/* Writes the magic, version and header dict of a C-order array; the header is padded with spaces
   to at least min_total bytes (so a streamed file can be rewritten in place) and to a multiple of
   64. Returns the element count, or (size_t)-1 when the shape overflows. */
static size_t npy__write_header(FILE *f, npy_dtype dtype, int ndim, const size_t *shape, size_t min_total)
{
    char dict[1024], pre[12];
    size_t n = 0, count = 1, dlen, total, pad, pre_len, hl;
    int i, version;
    n += (size_t)snprintf(dict + n, sizeof dict - n, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                          npy_dtype_name(dtype));
    for (i = 0; i < ndim; i++) {
        if (shape[i] && count > (size_t)-1 / shape[i]) return (size_t)-1;
        count *= shape[i];
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%zu%s", shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
    }
    n += (size_t)snprintf(dict + n, sizeof dict - n, "), }");
    dlen = n;
    version = dlen + 11 > 65535 ? 2 : 1;
    pre_len = version == 1 ? 10 : 12;
    total = pre_len + dlen + 1;
    pad = total < min_total ? min_total - total : 0;
    pad += (64 - (total + pad) % 64) % 64;
    hl = dlen + pad + 1;
    memcpy(pre, "\x93NUMPY", 6);
    pre[6] = (char)version;
    pre[7] = 0;
    pre[8] = (char)(hl & 0xff);
    pre[9] = (char)((hl >> 8) & 0xff);
    if (version == 2) { pre[10] = (char)((hl >> 16) & 0xff); pre[11] = (char)((hl >> 24) & 0xff); }
    fwrite(pre, 1, pre_len, f);
    fwrite(dict, 1, dlen, f);
    for (; pad; pad--) fputc(' ', f);
    fputc('\n', f);
    return count;
}

int npy_write(const char *path, npy_dtype dtype, int ndim, const size_t *shape, const void *data,
              char *err, size_t cap)
{
    size_t count, bytes;
    FILE *f;
    if (ndim < 0 || ndim > NPY_MAX_DIMS || !npy_itemsize(dtype)) return ex_fail(err, cap, "npy: bad arguments");
    f = fopen(path, "wb");
    if (!f) return ex_fail(err, cap, "npy: cannot create %s", path);
    count = npy__write_header(f, dtype, ndim, shape, 0);
    if (count == (size_t)-1) { fclose(f); return ex_fail(err, cap, "npy: shape overflows"); }
    bytes = count * npy_itemsize(dtype);
    if (bytes && fwrite(data, 1, bytes, f) != bytes) { fclose(f); return ex_fail(err, cap, "npy: write to %s failed", path); }
    if (fclose(f) != 0) return ex_fail(err, cap, "npy: write to %s failed", path);
    return 0;
}

int npy_map_create(npy_map *m, const char *path, npy_dtype dtype, int ndim, const size_t *shape, char *err, size_t cap)
{
    size_t count;
    long header;
    memset(m, 0, sizeof *m);
    if (ndim < 0 || ndim > NPY_MAX_DIMS || !npy_itemsize(dtype)) return ex_fail(err, cap, "npy: bad arguments");
    m->f = fopen(path, "w+b");
    if (!m->f) return ex_fail(err, cap, "npy: cannot create %s", path);
    count = npy__write_header(m->f, dtype, ndim, shape, 0);
    if (count == (size_t)-1 || count > ((size_t)-1 - 4096) / npy_itemsize(dtype)) {
        fclose(m->f);
        m->f = NULL;
        return ex_fail(err, cap, "npy: shape overflows");
    }
    m->bytes = count * npy_itemsize(dtype);
    header = ftell(m->f);
#if defined(NPY__MMAP)
    if (fflush(m->f) == 0 && header > 0 && ftruncate(fileno(m->f), (off_t)((size_t)header + m->bytes)) == 0) {
        void *p = m->bytes ? mmap(NULL, (size_t)header + m->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(m->f), 0)
                           : MAP_FAILED;
        if (p != MAP_FAILED) {
            m->base = p;
            m->header = (size_t)header;
            m->data = (char *)p + header;
            return 0;
        }
    }
#endif
    /* no mapping: an ordinary buffer, written out by npy_map_close */
    m->header = (size_t)(header > 0 ? header : 0);
    m->data = calloc(m->bytes ? m->bytes : 1, 1);
    if (!m->data) { fclose(m->f); m->f = NULL; return ex_fail(err, cap, "npy: no memory for %s", path); }
    return 0;
}

int npy_map_close(npy_map *m, char *err, size_t cap)
{
    int bad = 0;
    if (!m->f) return 0;
#if defined(NPY__MMAP)
    if (m->base) {
        bad = munmap(m->base, m->header + m->bytes) != 0;
        m->base = NULL;
        m->data = NULL;
    }
#endif
    if (m->data) { /* the fallback buffer */
        bad = fseek(m->f, (long)m->header, SEEK_SET) != 0 || fwrite(m->data, 1, m->bytes, m->f) != m->bytes;
        free(m->data);
        m->data = NULL;
    }
    bad = fclose(m->f) != 0 || bad;
    m->f = NULL;
    return bad ? ex_fail(err, cap, "npy: write failed") : 0;
}

/* Room for any row count: the header is rewritten with the final shape when the stream closes. */
#define NPY__STREAM_HEADER 128

int npy_stream_open_shape(npy_stream *s, const char *path, npy_dtype dtype, int n_tail, const size_t *tail, char *err,
                          size_t cap)
{
    size_t shape[3];
    int k;
    memset(s, 0, sizeof *s);
    if (!npy_itemsize(dtype) || n_tail < 1 || n_tail > 2) return ex_fail(err, cap, "npy: bad arguments");
    s->cols = 1;
    for (k = 0; k < n_tail; k++) {
        if (!tail[k]) return ex_fail(err, cap, "npy: bad arguments");
        s->tail[k] = tail[k], s->cols *= tail[k], shape[k + 1] = tail[k];
    }
    s->n_tail = n_tail;
    s->f = fopen(path, "wb");
    if (!s->f) return ex_fail(err, cap, "npy: cannot create %s", path);
    s->dtype = dtype;
    shape[0] = 0;
    npy__write_header(s->f, dtype, 1 + n_tail, shape, NPY__STREAM_HEADER);
    return 0;
}

int npy_stream_open(npy_stream *s, const char *path, npy_dtype dtype, size_t cols, char *err, size_t cap)
{
    return npy_stream_open_shape(s, path, dtype, 1, &cols, err, cap);
}

int npy_stream_rows(npy_stream *s, const void *rows, size_t n_rows, char *err, size_t cap)
{
    size_t bytes = n_rows * s->cols * npy_itemsize(s->dtype);
    if (bytes && fwrite(rows, 1, bytes, s->f) != bytes) return ex_fail(err, cap, "npy: write failed");
    s->rows += n_rows;
    return 0;
}

int npy_stream_close(npy_stream *s, char *err, size_t cap)
{
    size_t shape[3];
    int bad;
    if (!s->f) return 0;
    shape[0] = s->rows;
    shape[1] = s->tail[0];
    shape[2] = s->tail[1];
    bad = fseek(s->f, 0, SEEK_SET) != 0;
    if (!bad) npy__write_header(s->f, s->dtype, 1 + s->n_tail, shape, NPY__STREAM_HEADER);
    bad = fclose(s->f) != 0 || bad;
    s->f = NULL;
    return bad ? ex_fail(err, cap, "npy: write failed") : 0;
}

void npy_free(npy_array *a)
{
    if (!a) return;
    if (a->map_base) npy__release((unsigned char *)a->map_base, a->map_len, 1);
    else free(a->data);
    memset(a, 0, sizeof *a);
}

void npy_to_f64(const npy_array *a, double *dst)
{
    size_t i;
    for (i = 0; i < a->count; i++) {
        switch (a->dtype) {
        case NPY_F4: { float v; memcpy(&v, (const char *)a->data + 4 * i, 4); dst[i] = v; } break;
        case NPY_F8: memcpy(&dst[i], (const char *)a->data + 8 * i, 8); break;
        case NPY_I4: { int32_t v; memcpy(&v, (const char *)a->data + 4 * i, 4); dst[i] = v; } break;
        case NPY_I8: { int64_t v; memcpy(&v, (const char *)a->data + 8 * i, 8); dst[i] = (double)v; } break;
        case NPY_U1: case NPY_B1: dst[i] = ((const unsigned char *)a->data)[i]; break;
        case NPY_U2: { uint16_t v; memcpy(&v, (const char *)a->data + 2 * i, 2); dst[i] = v; } break;
        }
    }
}

int npy_read_f64(const char *path, npy_array *a, double **values, char *err, size_t cap)
{
    if (npy_read(path, a, err, cap) != 0) return -1;
    if (a->dtype != NPY_F4 && a->dtype != NPY_F8) {
        ex_fail(err, cap, "%s: dtype %s, expected float32 or float64", path, npy_dtype_name(a->dtype));
        npy_free(a);
        return -1;
    }
    *values = (double *)malloc((a->count ? a->count : 1) * sizeof(double));
    if (!*values) { npy_free(a); return ex_fail(err, cap, "npy: out of memory"); }
    npy_to_f64(a, *values);
    return 0;
}
