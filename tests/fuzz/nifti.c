/* libFuzzer target: the NIfTI-1 reader (examples/common/nifti.c) on any bytes: a volume or an
   error, never a crash, a leak or undefined behaviour. Corpus: tests/fuzz_corpus/nifti. */
#include "../../examples/common/nifti.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    nifti_image img;
    if (nifti_read_mem(data, size, &img, err, sizeof err) == 0) nifti_free(&img);
    return 0;
}
