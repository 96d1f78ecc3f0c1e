/* png.c - see png.h. */
#include "png.h"
#include "util.h"
#include "font6x10.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the file format ------------------------------------------------------------------------ */

static uint32_t png__crc(uint32_t crc, const unsigned char *p, size_t n)
{
    size_t i;
    int k;
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void png__be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24); b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8); b[3] = (unsigned char)v;
}

/* A chunk whose data comes in pieces: the CRC runs over the type and every piece. */
typedef struct png__chunk { FILE *f; uint32_t crc; } png__chunk;

static void png__chunk_begin(png__chunk *c, FILE *f, const char *type, uint32_t len)
{
    unsigned char b[4];
    png__be32(b, len);
    fwrite(b, 1, 4, f);
    fwrite(type, 1, 4, f);
    c->f = f;
    c->crc = png__crc(0, (const unsigned char *)type, 4);
}

static void png__chunk_data(png__chunk *c, const void *p, size_t n)
{
    fwrite(p, 1, n, c->f);
    c->crc = png__crc(c->crc, (const unsigned char *)p, n);
}

static void png__chunk_end(png__chunk *c)
{
    unsigned char b[4];
    png__be32(b, c->crc);
    fwrite(b, 1, 4, c->f);
}

#if defined(HAVE_ZLIB)
#include <zlib.h>
/* The IDAT chunk with zlib: the rows filtered (filter 1, Sub: a byte minus the one 3 to its left,
   which turns a plot's flat areas into zeros) and deflated at level 9 */
static int png__idat(FILE *f, int w, int h, const unsigned char *rgb, char *err, size_t cap)
{
    size_t row = (size_t)w * 3, raw_len = (row + 1) * (size_t)h, y, x;
    uLongf zlen = compressBound((uLong)raw_len);
    unsigned char *raw = (unsigned char *)malloc(raw_len), *z = (unsigned char *)malloc(zlen);
    png__chunk ch;
    int ok;
    if (!raw || !z) {
        free(raw), free(z);
        return ex_fail(err, cap, "png: out of memory");
    }
    for (y = 0; y < (size_t)h; y++) {
        const unsigned char *src = rgb + y * row;
        unsigned char *dst = raw + y * (row + 1);
        dst[0] = 1;
        for (x = 0; x < row; x++) dst[1 + x] = (unsigned char)(src[x] - (x >= 3 ? src[x - 3] : 0));
    }
    ok = compress2(z, &zlen, raw, (uLong)raw_len, 9) == Z_OK && zlen <= 0x7fffffffu;
    if (ok) {
        png__chunk_begin(&ch, f, "IDAT", (uint32_t)zlen);
        png__chunk_data(&ch, z, zlen);
        png__chunk_end(&ch);
    }
    free(raw), free(z);
    return ok ? 0 : ex_fail(err, cap, "png: deflate failed");
}
#else
/* The zlib stream of IDAT without zlib: stored deflate blocks of at most 65535 bytes, and the
   Adler-32 */
typedef struct png__zstream { png__chunk *ch; size_t done, total; uint32_t a1, a2; } png__zstream;

static void png__emit(png__zstream *z, const unsigned char *p, size_t n)
{
    while (n) {
        size_t in_block = z->done % 65535, take, k;
        if (in_block == 0) {
            size_t len = z->total - z->done < 65535 ? z->total - z->done : 65535;
            unsigned char hdr[5];
            hdr[0] = (unsigned char)(len == z->total - z->done); /* BFINAL on the last block */
            hdr[1] = (unsigned char)(len & 0xff);
            hdr[2] = (unsigned char)(len >> 8);
            hdr[3] = (unsigned char)(~len & 0xff);
            hdr[4] = (unsigned char)((~len >> 8) & 0xff);
            png__chunk_data(z->ch, hdr, 5);
        }
        take = n < 65535 - in_block ? n : 65535 - in_block;
        png__chunk_data(z->ch, p, take);
        for (k = 0; k < take; k++) {
            z->a1 = (z->a1 + p[k]) % 65521;
            z->a2 = (z->a2 + z->a1) % 65521;
        }
        p += take;
        n -= take;
        z->done += take;
    }
}

static int png__idat(FILE *f, int w, int h, const unsigned char *rgb, char *err, size_t cap)
{
    static const unsigned char zhdr[2] = {0x78, 0x01}, filter = 0;
    size_t row = (size_t)w * 3, zlen, y;
    unsigned char b4[4];
    png__chunk ch;
    png__zstream z;
    z.ch = &ch;
    z.done = 0;
    z.total = (row + 1) * (size_t)h;
    z.a1 = 1;
    z.a2 = 0;
    zlen = 2 + z.total + 5 * ((z.total + 65534) / 65535) + 4;
    if (zlen > 0x7fffffffu) return ex_fail(err, cap, "png: image too large");
    png__chunk_begin(&ch, f, "IDAT", (uint32_t)zlen);
    png__chunk_data(&ch, zhdr, 2);
    for (y = 0; y < (size_t)h; y++) {
        png__emit(&z, &filter, 1);
        png__emit(&z, rgb + y * row, row);
    }
    png__be32(b4, z.a2 << 16 | z.a1);
    png__chunk_data(&ch, b4, 4);
    png__chunk_end(&ch);
    return 0;
}
#endif

int png_write_rgb(const char *path, int w, int h, const unsigned char *rgb, char *err, size_t cap)
{
    static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    unsigned char ihdr[13];
    png__chunk ch;
    FILE *f;
    if (w <= 0 || h <= 0 || w > 1 << 15 || h > 1 << 15) return ex_fail(err, cap, "png: bad size %d x %d", w, h);
    f = fopen(path, "wb");
    if (!f) return ex_fail(err, cap, "png: cannot create %s", path);
    fwrite(sig, 1, 8, f);
    png__be32(ihdr, (uint32_t)w);
    png__be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    png__chunk_begin(&ch, f, "IHDR", 13);
    png__chunk_data(&ch, ihdr, 13);
    png__chunk_end(&ch);
    if (png__idat(f, w, h, rgb, err, cap)) {
        fclose(f);
        return -1;
    }
    png__chunk_begin(&ch, f, "IEND", 0);
    png__chunk_end(&ch);
    if (fclose(f) != 0) return ex_fail(err, cap, "png: write to %s failed", path);
    return 0;
}

/* ---- drawing ---------------------------------------------------------------------------------- */

int png_canvas_init(png_canvas *c, int w, int h, const unsigned char bg[3])
{
    size_t i, n = (size_t)w * (size_t)h;
    c->w = w;
    c->h = h;
    c->rgb = (unsigned char *)malloc(n * 3);
    if (!c->rgb) return -1;
    for (i = 0; i < n; i++) memcpy(c->rgb + 3 * i, bg, 3);
    return 0;
}

void png_canvas_free(png_canvas *c)
{
    free(c->rgb);
    c->rgb = NULL;
}

static void png__pixel(png_canvas *c, int x, int y, const unsigned char rgb[3])
{
    if (x >= 0 && y >= 0 && x < c->w && y < c->h) memcpy(c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x), rgb, 3);
}

void png_fill_rect(png_canvas *c, int x, int y, int w, int h, const unsigned char rgb[3])
{
    int i, j;
    for (j = y; j < y + h; j++)
        for (i = x; i < x + w; i++) png__pixel(c, i, j, rgb);
}

int png_text_width(const char *s, int scale) { return (int)strlen(s) * 6 * scale; }

int png_text(png_canvas *c, int x, int y, const char *s, const unsigned char rgb[3], int scale, int vertical)
{
    int n = 0;
    for (; *s; s++, n++) {
        int ch = (unsigned char)*s, r, b;
        if (ch < 32 || ch > 126) ch = '?';
        for (r = 0; r < 10; r++)
            for (b = 0; b < 6; b++) {
                int gx, gy;
                if (!((font6x10[ch - 32][r] >> (7 - b)) & 1)) continue;
                /* glyph pixel (b, r) of character n, rotated 90 degrees when vertical */
                gx = vertical ? x + r * scale : x + (n * 6 + b) * scale;
                gy = vertical ? y - (n * 6 + b) * scale : y + r * scale;
                png_fill_rect(c, gx, gy, scale, scale, rgb);
            }
    }
    return n * 6 * scale;
}

int png_write_canvas(const char *path, const png_canvas *c, char *err, size_t cap)
{
    return png_write_rgb(path, c->w, c->h, c->rgb, err, cap);
}

void png_colormap(double t, unsigned char rgb[3])
{
    static const unsigned char v[9][3] = {{68, 1, 84}, {71, 44, 122}, {59, 81, 139}, {44, 113, 142},
                                          {33, 144, 141}, {39, 173, 129}, {92, 200, 99},
                                          {170, 220, 50}, {253, 231, 37}};
    double s;
    int i, k;
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    s = t * 8;
    i = (int)s;
    if (i > 7) i = 7;
    s -= i;
    for (k = 0; k < 3; k++) rgb[k] = (unsigned char)(v[i][k] + (v[i + 1][k] - v[i][k]) * s + 0.5);
}

/* ---- heat maps -------------------------------------------------------------------------------- */

png_heatmap_opts png_heatmap_defaults(void)
{
    png_heatmap_opts o;
    memset(&o, 0, sizeof o);
    o.mark_row = o.mark_col = -1;
    return o;
}

void png_make_ticks(double lo, double hi, int integers, png_ticks *t)
{
    double span = hi - lo, step, mag, first, big;
    static const double mult[3] = {1, 2, 5};
    int i, e, dec;
    t->n = 0;
    if (!(span > 0) || !isfinite(span)) {
        t->v[t->n++] = lo;
        snprintf(t->fmt, sizeof t->fmt, "%%.4g");
        return;
    }
    mag = pow(10, floor(log10(span / 5)));
    step = mag;
    for (e = 0; e < 3 * 4; e++) { /* the smallest nice step with at most 6 ticks */
        step = mult[e % 3] * mag * pow(10, e / 3);
        if (floor(hi / step) - ceil(lo / step) + 1 <= 6) break;
    }
    if (integers && step < 1) step = 1;
    first = ceil(lo / step - 1e-9) * step;
    for (i = 0; t->n < 16 && first + i * step <= hi + 1e-9 * span; i++) {
        double v = first + i * step;
        t->v[t->n++] = fabs(v) < 1e-9 * span ? 0 : v;
    }
    big = fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi);
    if (big >= 1e5 || (big < 1e-3 && big > 0)) {
        snprintf(t->fmt, sizeof t->fmt, "%%.%de", (int)floor(log10(big)) - (int)floor(log10(step)) > 0
                                                     ? (int)floor(log10(big)) - (int)floor(log10(step)) : 0);
    } else {
        dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(t->fmt, sizeof t->fmt, "%%.%df", dec);
    }
}

static void png__tick_label(char *buf, size_t cap, const png_ticks *t, double v)
{
    snprintf(buf, cap, t->fmt, v);
}

/* Mean of the finite values of z over the block of cells behind plot pixel (px, py). */
static double png__cell(const double *z, size_t rows, size_t cols, int pw, int ph, int px, int py, int rows_up)
{
    size_t r0 = (size_t)py * rows / (size_t)ph, r1 = ((size_t)py + 1) * rows / (size_t)ph;
    size_t c0 = (size_t)px * cols / (size_t)pw, c1 = ((size_t)px + 1) * cols / (size_t)pw, r, c, n = 0;
    double sum = 0;
    if (r1 <= r0) r1 = r0 + 1;
    if (c1 <= c0) c1 = c0 + 1;
    for (r = r0; r < r1; r++) {
        size_t rr = rows_up ? rows - 1 - r : r;
        for (c = c0; c < c1; c++) {
            double v = z[rr * cols + c];
            if (isfinite(v)) { sum += v; n++; }
        }
    }
    return n ? sum / (double)n : NAN;
}

static void png__range(const double *z, size_t n, double *lo, double *hi)
{
    size_t i;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (i = 0; i < n; i++)
        if (isfinite(z[i])) { if (z[i] < *lo) *lo = z[i]; if (z[i] > *hi) *hi = z[i]; }
    if (!(*lo <= *hi)) { *lo = 0; *hi = 1; }
    if (*lo == *hi) { *lo -= 0.5; *hi += 0.5; }
}

/* Plot area size: whole multiples of the data when small, averaged blocks when large. */
static void png__plot_size(size_t rows, size_t cols, int max_w, int max_h, int *pw, int *ph)
{
    double sx = (double)max_w / (double)cols, sy = (double)max_h / (double)rows, s = sx < sy ? sx : sy;
    if (s >= 1) s = floor(s);
    if (s < 1 && s * (double)cols < 64) s = 64.0 / (double)cols;
    *pw = (int)(s * (double)cols);
    *ph = (int)(s * (double)rows);
    if (*pw < 1) *pw = 1;
    if (*ph < 1) *ph = 1;
    if (*pw > max_w) *pw = max_w;
    if (*ph > max_h) *ph = max_h;
}

/* Where value v of an axis from v0 (first cell's centre) to v1 (last cell's) falls, in pixels
   from the plot's edge, over n cells in `len` pixels */
static int png__at(double v, double v0, double v1, size_t n, int len)
{
    double cell = n > 1 && v1 != v0 ? (v - v0) / (v1 - v0) * ((double)n - 1) : 0;
    return (int)((cell + 0.5) * len / (double)n);
}

static void png__axis_ticks(png_canvas *c, int x, int y, int pw, int ph, const png_heatmap_opts *o,
                            size_t rows, size_t cols)
{
    static const unsigned char ink[3] = {30, 30, 30};
    double x0 = o->x0, x1 = o->x1, y0 = o->y0, y1 = o->y1;
    int k, ix = x0 == x1, iy = y0 == y1; /* index axes: integer ticks on cell centres */
    png_ticks tx, ty;
    char lab[32];
    if (ix) x0 = 0, x1 = (double)cols - 1;
    if (iy) y0 = 0, y1 = (double)rows - 1;
    png_make_ticks(x0 < x1 ? x0 : x1, x0 < x1 ? x1 : x0, ix, &tx);
    png_make_ticks(y0 < y1 ? y0 : y1, y0 < y1 ? y1 : y0, iy, &ty);
    for (k = 0; k < tx.n; k++) {
        int px = x + png__at(tx.v[k], x0, x1, cols, pw);
        png_fill_rect(c, px, y + ph, 1, 5, ink);
        png__tick_label(lab, sizeof lab, &tx, tx.v[k]);
        png_text(c, px - png_text_width(lab, 1) / 2, y + ph + 7, lab, ink, 1, 0);
    }
    for (k = 0; k < ty.n; k++) {
        int off = png__at(ty.v[k], y0, y1, rows, ph), py = o->rows_up ? y + ph - 1 - off : y + off;
        png_fill_rect(c, x - 5, py, 5, 1, ink);
        png__tick_label(lab, sizeof lab, &ty, ty.v[k]);
        png_text(c, x - 8 - png_text_width(lab, 1), py - 5, lab, ink, 1, 0);
    }
}

static void png__colour_bar(png_canvas *c, int x, int y, int ph, double lo, double hi, const char *label)
{
    static const unsigned char ink[3] = {30, 30, 30};
    char lab[32];
    int j, k, widest = 0;
    png_ticks t;
    for (j = 0; j < ph; j++) {
        unsigned char rgb[3];
        png_colormap(1.0 - (double)j / (ph > 1 ? ph - 1 : 1), rgb);
        png_fill_rect(c, x, y + j, 16, 1, rgb);
    }
    png_make_ticks(lo, hi, 0, &t);
    for (k = 0; k < t.n; k++) {
        int ty = y + (ph - 1) - (int)((t.v[k] - lo) / (hi - lo) * (ph - 1) + 0.5), w;
        png_fill_rect(c, x + 16, ty, 4, 1, ink);
        png__tick_label(lab, sizeof lab, &t, t.v[k]);
        png_text(c, x + 22, ty - 5, lab, ink, 1, 0);
        if ((w = png_text_width(lab, 1)) > widest) widest = w;
    }
    if (label) png_text(c, x + 30 + widest, y + ph / 2 + png_text_width(label, 1) / 2, label, ink, 1, 1);
}

/* The edges of the outlined cells: where a cell in the outline meets one that is not */
static void png__outline(png_canvas *c, int left, int top, int pw, int ph, size_t rows, size_t cols, const unsigned char *m,
                         int rows_up)
{
    static const unsigned char edge[3] = {255, 40, 200};
    size_t r, q;
    for (r = 0; r < rows; r++)
        for (q = 0; q < cols; q++) {
            size_t rr = rows_up ? rows - 1 - r : r; /* the data row drawn at screen row r */
            int x0 = left + (int)((double)q * pw / (double)cols), x1 = left + (int)((double)(q + 1) * pw / (double)cols);
            int y0 = top + (int)((double)r * ph / (double)rows), y1 = top + (int)((double)(r + 1) * ph / (double)rows);
            int up, down;
            if (!m[rr * cols + q]) continue;
            up = r > 0 && m[(rows_up ? rr + 1 : rr - 1) * cols + q];
            down = r + 1 < rows && m[(rows_up ? rr - 1 : rr + 1) * cols + q];
            if (q == 0 || !m[rr * cols + q - 1]) png_fill_rect(c, x0, y0, 2, y1 - y0, edge);
            if (q + 1 == cols || !m[rr * cols + q + 1]) png_fill_rect(c, x1 - 2, y0, 2, y1 - y0, edge);
            if (!up) png_fill_rect(c, x0, y0, x1 - x0, 2, edge);
            if (!down) png_fill_rect(c, x0, y1 - 2, x1 - x0, 2, edge);
        }
}

/* A plot's title and axis labels around its area (left, top, pw x ph), then the file written and
   the canvas freed. */
static int png__finish(png_canvas *c, const char *path, const char *title, const char *xlabel, const char *ylabel,
                       int left, int top, int pw, int ph, char *err, size_t cap)
{
    static const unsigned char ink[3] = {30, 30, 30};
    int rc;
    if (title) png_text(c, left + (pw - png_text_width(title, 1)) / 2, 10, title, ink, 1, 0);
    if (xlabel) png_text(c, left + (pw - png_text_width(xlabel, 1)) / 2, top + ph + 24, xlabel, ink, 1, 0);
    if (ylabel) png_text(c, 8, top + (ph + png_text_width(ylabel, 1)) / 2, ylabel, ink, 1, 1);
    rc = png_write_canvas(path, c, err, cap);
    png_canvas_free(c);
    return rc;
}

int png_heatmap(const char *path, const double *z, size_t rows, size_t cols, const png_heatmap_opts *opts,
                char *err, size_t cap)
{
    static const unsigned char white[3] = {255, 255, 255}, ink[3] = {30, 30, 30}, grey[3] = {160, 160, 160},
                               red[3] = {230, 40, 40};
    png_heatmap_opts o = opts ? *opts : png_heatmap_defaults();
    int pw, ph, left = 80, top = o.title ? 30 : 12, right = 110, bottom = 46, px, py;
    double lo = o.vmin, hi = o.vmax;
    png_canvas c;
    if (!rows || !cols) return ex_fail(err, cap, "png: empty array");
    if (rows > ((size_t)-1) / cols) return ex_fail(err, cap, "png: array too large");
    png__plot_size(rows, cols, o.max_w > 0 ? o.max_w : 640, o.max_h > 0 ? o.max_h : 480, &pw, &ph);
    if (lo == hi) png__range(z, rows * cols, &lo, &hi);
    if (png_canvas_init(&c, left + pw + right, top + ph + bottom, white) != 0) return ex_fail(err, cap, "png: out of memory");
    for (py = 0; py < ph; py++)
        for (px = 0; px < pw; px++) {
            double v = png__cell(z, rows, cols, pw, ph, px, py, o.rows_up);
            unsigned char rgb[3];
            if (isfinite(v)) png_colormap((v - lo) / (hi - lo), rgb);
            else memcpy(rgb, grey, 3);
            png__pixel(&c, left + px, top + py, rgb);
        }
    png_fill_rect(&c, left - 1, top + ph, pw + 1, 1, ink);
    png_fill_rect(&c, left - 1, top, 1, ph + 1, ink);
    png__axis_ticks(&c, left, top, pw, ph, &o, rows, cols);
    if (o.mark_row >= 0 && o.mark_col >= 0 && (size_t)o.mark_row < rows && (size_t)o.mark_col < cols) {
        int cx = left + (int)(((double)o.mark_col + 0.5) * pw / (double)cols);
        int r = o.rows_up ? (int)rows - 1 - o.mark_row : o.mark_row, a;
        int cy = top + (int)(((double)r + 0.5) * ph / (double)rows);
        for (a = 0; a < 360; a += 3) {
            double t = a * 3.14159265358979 / 180;
            png_fill_rect(&c, cx + (int)(7 * cos(t)), cy + (int)(7 * sin(t)), 2, 2, red);
        }
    }
    if (o.outline) png__outline(&c, left, top, pw, ph, rows, cols, o.outline, o.rows_up);
    png__colour_bar(&c, left + pw + 14, top, ph, lo, hi, o.cbar_label);
    return png__finish(&c, path, o.title, o.xlabel, o.ylabel, left, top, pw, ph, err, cap);
}

/* ---- step plots ------------------------------------------------------------------------------- */

static int png__scale(double v, double lo, double hi, int len)
{
    return hi > lo ? (int)((v - lo) / (hi - lo) * (len - 1) + 0.5) : 0;
}

int png_steps(const char *path, const double *x, size_t n, const png_series *series, int n_series,
              const png_steps_opts *opts, char *err, size_t cap)
{
    static const unsigned char white[3] = {255, 255, 255}, ink[3] = {30, 30, 30}, grey[3] = {150, 150, 150},
                               grid[3] = {235, 235, 235};
    png_steps_opts o;
    int pw = 720, ph = 360, left = 80, top, bottom = 46, right = 20, k, s;
    double x0, x1, ymax = 0;
    png_ticks tx, ty;
    png_canvas c;
    char lab[32];
    size_t i;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof o);
    top = o.title ? 30 : 12;
    if (n == 0 || n_series < 1) return ex_fail(err, cap, "png: nothing to plot");
    x0 = x[0], x1 = x[n - 1] > x[0] ? x[n - 1] : x[0] + 1;
    for (s = 0; s < n_series; s++)
        for (i = 0; i < n; i++)
            if (series[s].y[i] > ymax) ymax = series[s].y[i];
    if (o.hline > ymax) ymax = o.hline;
    if (ymax <= 0) ymax = 1;
    ymax *= 1.05;
    if (png_canvas_init(&c, left + pw + right, top + ph + bottom, white) != 0) return ex_fail(err, cap, "png: out of memory");
    png_make_ticks(x0, x1, 0, &tx);
    png_make_ticks(0, ymax, 0, &ty);
    for (k = 0; k < ty.n; k++) { /* grid, y ticks */
        int py = top + ph - 1 - png__scale(ty.v[k], 0, ymax, ph);
        png_fill_rect(&c, left, py, pw, 1, grid);
        png_fill_rect(&c, left - 5, py, 5, 1, ink);
        png__tick_label(lab, sizeof lab, &ty, ty.v[k]);
        png_text(&c, left - 8 - png_text_width(lab, 1), py - 5, lab, ink, 1, 0);
    }
    for (k = 0; k < tx.n; k++) {
        int px = left + png__scale(tx.v[k], x0, x1, pw);
        png_fill_rect(&c, px, top + ph, 1, 5, ink);
        png__tick_label(lab, sizeof lab, &tx, tx.v[k]);
        png_text(&c, px - png_text_width(lab, 1) / 2, top + ph + 7, lab, ink, 1, 0);
    }
    if (o.hline > 0) {
        int py = top + ph - 1 - png__scale(o.hline, 0, ymax, ph), px;
        for (px = 0; px < pw; px += 8) png_fill_rect(&c, left + px, py, 4, 1, grey);
        if (o.hline_label) png_text(&c, left + pw - 6 - png_text_width(o.hline_label, 1), py - 12, o.hline_label, grey, 1, 0);
    }
    for (s = 0; s < n_series; s++) {
        const double *y = series[s].y;
        for (i = 0; i < n; i++) {
            int xa = left + png__scale(x[i], x0, x1, pw), xb = left + png__scale(i + 1 < n ? x[i + 1] : x1, x0, x1, pw);
            int ya = top + ph - 1 - png__scale(y[i], 0, ymax, ph);
            png_fill_rect(&c, xa, ya - 1, xb - xa + 1, 2, series[s].rgb);
            if (i + 1 < n) {
                int yb = top + ph - 1 - png__scale(y[i + 1], 0, ymax, ph);
                png_fill_rect(&c, xb, ya < yb ? ya : yb, 2, (ya < yb ? yb - ya : ya - yb) + 1, series[s].rgb);
            }
        }
        if (series[s].label) {
            png_fill_rect(&c, left + 10, top + 8 + 14 * s, 14, 4, series[s].rgb);
            png_text(&c, left + 30, top + 5 + 14 * s, series[s].label, ink, 1, 0);
        }
    }
    png_fill_rect(&c, left - 1, top + ph, pw + 1, 1, ink);
    png_fill_rect(&c, left - 1, top, 1, ph + 1, ink);
    return png__finish(&c, path, o.title, o.xlabel, o.ylabel, left, top, pw, ph, err, cap);
}
