/* libFuzzer target: the .npy reader (examples/common/npy.c) on any bytes: an array or an error,
   never a crash, a leak or undefined behaviour. Corpus: tests/fuzz_corpus/npy. */
#include "../../examples/common/npy.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    npy_array a;
    if (npy_read_mem(data, size, &a, err, sizeof err) == 0) npy_free(&a);
    return 0;
}
