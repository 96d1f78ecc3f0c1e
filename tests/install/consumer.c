/* A project using an installed membound: the four headers by the include directory that
   pkg-config or the CMake package gives, the implementations here, one small job for each.
   Prints the build lines and "consumer ok"; exit 1 on a wrong answer. With -DWANT_HDF5 it also
   requires the HDF5 connectome source in stat_stream's build line (membound::hdf5). */
#define TENSORPOOL_IMPLEMENTATION
#define STAT_STREAM_IMPLEMENTATION
#define PROM2D_IMPLEMENTATION
#define PACGPU_IMPLEMENTATION
#include "stat_stream.h"
#include "prom2d.h"
#include "pacgpu.h"

#include <stdio.h>
#include <string.h>

static int count_peaks(void *user, const p2d_slice *s)
{
    *(size_t *)user += s->n_peaks;
    return 0;
}

int main(void)
{
    double rows[3] = {1, 2, 6}, mean = 0, map[3 * 3] = {0, 0, 0, 0, 5, 0, 0, 0, 0};
    size_t n_peaks = 0;
    ss_moments_desc md = TP_DEFAULTS;
    ss_moments *acc = NULL;
    ss_maps maps = TP_DEFAULTS;
    p2d_desc pd = TP_DEFAULTS;
    p2d_cube cube = TP_DEFAULTS;
    p2d_ctx *ctx = NULL;
    tp_error err;
    printf("%s\n%s\n%s\n%s\n", tp_build_info(), ss_build_info(), p2d_build_info(), pac_build_info());
    md.n_features = 1;
    maps.mean = &mean;
    if (ss_moments_create(&md, &acc, &err) != TP_OK || ss_moments_add_rows(acc, rows, TP_F64, 3, 0, &err) != TP_OK ||
        ss_moments_finalize(acc, NULL, &maps, &err) != TP_OK || mean != 3.0) {
        fprintf(stderr, "stat_stream: %s (mean %g)\n", err.message, mean);
        return 1;
    }
    ss_moments_destroy(acc);
    pd.on_slice = count_peaks, pd.user = &n_peaks;
    cube.data = map, cube.dtype = TP_F64, cube.n_x = 3, cube.n_y = 3, cube.n_t = 1;
    if (p2d_create(&pd, &ctx, &err) != TP_OK || p2d_run(ctx, &cube, NULL, NULL, NULL, &err) != TP_OK || n_peaks != 1) {
        fprintf(stderr, "prom2d: %s (%zu peaks)\n", err.message, n_peaks);
        return 1;
    }
    p2d_destroy(ctx);
#if defined(WANT_HDF5)
    if (!strstr(ss_build_info(), "hdf5")) {
        fprintf(stderr, "stat_stream was built without the HDF5 source\n");
        return 1;
    }
#endif
    printf("consumer ok\n");
    return 0;
}
