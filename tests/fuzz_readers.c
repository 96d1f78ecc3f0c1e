/* libFuzzer target for the readers of outside data in examples/common: every input must give
   either an array or an error, never a crash, a leak or undefined behaviour (built with ASan and
   UBSan by `make fuzz`). The seed corpus is tests/fuzz_corpus. */
#include "../examples/common/npy.h"
#include "../examples/common/nifti.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    npy_array a;
    nifti_image img;
    if (npy_read_mem(data, size, &a, err, sizeof err) == 0) npy_free(&a);
    if (nifti_read_mem(data, size, &img, err, sizeof err) == 0) nifti_free(&img);
    return 0;
}
