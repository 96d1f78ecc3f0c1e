/* libFuzzer target: stat_stream's HDF5 connectome source on any file: the input is written to a
   file (on tmpfs) and opened with ss_h5_create; a connectome it accepts is read back through
   ss_h5_read and ss_h5_view. Every file must be a connectome or an error naming what is wrong,
   never a crash, a leak, an out-of-bounds access or undefined behaviour. Corpus:
   tests/fuzz_corpus/h5 (small valid connectomes made by tests/fuzz/h5_seeds.c). The source's
   allocations come from a pool with a 256 MiB budget, so an out-of-memory report is HDF5's. */
#define TENSORPOOL_IMPLEMENTATION
#define STAT_STREAM_IMPLEMENTATION
#define STAT_STREAM_USE_HDF5
#include "../../stat_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);

/* HDF5 1.10 itself leaks a few bytes on some corrupt files (H5Dopen2 reading a damaged layout
   message): leaks whose stack passes through libhdf5 are its own, not the source's */
const char *__lsan_default_suppressions(void) { return "leak:libhdf5"; }

/* and asks malloc for absurd sizes read from corrupt metadata, failing cleanly when malloc says
   no: let it say no (run with -malloc_limit_mb above the largest such request) */
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static char path[64];
static tp_pool *pool;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    FILE *f;
    ss_h5_desc d;
    ss_h5 *c = NULL;
    tp_error err;
    if (!path[0]) snprintf(path, sizeof path, "/dev/shm/fuzz_h5_%ld.h5", (long)getpid());
    if (!(f = fopen(path, "wb"))) return 0;
    if (size && fwrite(data, 1, size, f) != size) size = 0;
    fclose(f);
    /* the source's own memory under a budget: what runs out of memory past it is HDF5 */
    if (!pool) {
        tp_desc pd;
        memset(&pd, 0, sizeof pd);
        pd.budget_bytes = (size_t)256 << 20;
        if (tp_create(&pd, &pool, NULL) != TP_OK) return 0;
        H5set_free_list_limits(-1, -1, -1, -1, -1, -1); /* reuse HDF5's blocks: 4x the runs a second */
    }
    memset(&d, 0, sizeof d);
    d.path = path;
    d.pool = pool;
    if (ss_h5_create(&d, &c, &err) == TP_OK) {
        size_t n = ss_h5_timepoints(c) * ss_h5_voxels(c), k;
        float *ts = n <= ((size_t)1 << 20) ? (float *)malloc(n * sizeof(float)) : NULL;
        for (k = 0; ts && k < ss_h5_subjects(c) && k < 4; k++) {
            if (ss_h5_read(c, k, ts, &err) == TP_OK && ss_h5_mask_indices(c)[0] < 0) abort(); /* checked: never */
            (void)ss_h5_view(c, k, &err);
        }
        free(ts);
        ss_h5_destroy(c);
    }
    return 0;
}
