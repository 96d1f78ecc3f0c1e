/* png.h - a PNG writer (deflated with zlib when built with HAVE_ZLIB, stored blocks without), and the plots the example
   programs draw with it: heat maps with labelled axes and a colour bar, downsampled previews of
   large arrays, and step plots (a quantity over time). Not part of the headers.
   Functions return 0 on success, -1 with a message in err (may be NULL). */
#ifndef EXAMPLES_PNG_H
#define EXAMPLES_PNG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" { /* C++ and nvcc builds of the examples link the C objects */
#endif

/* RGB image, rows top to bottom. */
typedef struct png_canvas {
    int w, h;
    unsigned char *rgb; /* w * h * 3 */
} png_canvas;

int png_write_rgb(const char *path, int w, int h, const unsigned char *rgb, char *err, size_t errcap);

int png_canvas_init(png_canvas *c, int w, int h, const unsigned char bg[3]);
void png_canvas_free(png_canvas *c);
void png_fill_rect(png_canvas *c, int x, int y, int w, int h, const unsigned char rgb[3]);
/* Text in the 6x10 fixed font, scaled by an integer; (x, y) is the top-left corner. vertical
   writes bottom to top (for a y-axis label). Returns the width in pixels. */
int png_text(png_canvas *c, int x, int y, const char *s, const unsigned char rgb[3], int scale, int vertical);
int png_text_width(const char *s, int scale);
int png_write_canvas(const char *path, const png_canvas *c, char *err, size_t errcap);

/* Perceptually uniform colour map (viridis, interpolated from 9 anchors), t in [0, 1]. */
void png_colormap(double t, unsigned char rgb[3]);

typedef struct png_heatmap_opts {
    const char *title, *xlabel, *ylabel, *cbar_label; /* NULL: none */
    double x0, x1, y0, y1;  /* axis values at the first and last column / row; x0 == x1: indices */
    double vmin, vmax;      /* colour range; vmin == vmax: the finite min and max of the data */
    int max_w, max_h;       /* largest plot area in pixels [0: 640 x 480]; bigger data is averaged */
    int rows_up;            /* 1: row 0 at the bottom (a y axis that grows upward) */
    int mark_row, mark_col; /* a cell to circle (e.g. the peak); -1: none */
    const unsigned char *outline; /* rows x cols, nonzero cells outlined (e.g. a lesion); NULL: none */
} png_heatmap_opts;

/* z is rows x cols, row-major; NaN cells are drawn grey. */
int png_heatmap(const char *path, const double *z, size_t rows, size_t cols, const png_heatmap_opts *opts,
                char *err, size_t errcap);

/* Ticks of an axis from lo to hi: multiples of 1, 2 or 5 x 10^k, at most 6 (integers only when
   `integers`, as on an axis of bin indices), and one printf format for all their labels: fixed
   with the decimals the step needs, or all scientific where the values pass 1e5 or stay under 1e-3. */
typedef struct png_ticks { double v[16]; int n; char fmt[16]; } png_ticks;
void png_make_ticks(double lo, double hi, int integers, png_ticks *t);

/* Default options (no labels, index axes, auto range, no marker). */
png_heatmap_opts png_heatmap_defaults(void);

/* A series of a step plot: y[i] holds from x[i] to x[i + 1]. */
typedef struct png_series {
    const double *y;
    const char *label;
    unsigned char rgb[3];
} png_series;

typedef struct png_steps_opts {
    const char *title, *xlabel, *ylabel; /* NULL: none */
    double hline;                        /* a dashed horizontal line at this value (e.g. a budget); 0: none */
    const char *hline_label;
} png_steps_opts;

/* Step plot of n_series series over the n increasing x values, y from 0 up, legend top left. */
int png_steps(const char *path, const double *x, size_t n, const png_series *series, int n_series,
              const png_steps_opts *opts, char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif
