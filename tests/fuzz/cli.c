/* libFuzzer target: one example program's command-line parser (build with -DFUZZ_PROGRAM=pac,
   prom2d, lnm or pool): the input, split at NUL bytes, is its argv. Every argv must parse, print
   the usage, or be refused with a message, never crash (run with -close_fd_mask=3: the program's
   own printing is silenced, libFuzzer's reports are not). Corpus: tests/fuzz_corpus/cli. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define main example_main /* the program's own main is not the fuzzer's */
#if FUZZ_PROGRAM_POOL
#include "../../examples/pool.c"
#define FUZZ_OPTS job
#define FUZZ_PARSE parse
#elif FUZZ_PROGRAM_PAC
#include "../../examples/pac.c"
#elif FUZZ_PROGRAM_PROM2D
#include "../../examples/prom2d.c"
#elif FUZZ_PROGRAM_LNM
#include "../../examples/lnm.c"
#endif
#undef main
#ifndef FUZZ_OPTS
#define FUZZ_OPTS options
#define FUZZ_PARSE parse_args
#endif

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *buf = (char *)malloc(size + 1), *argv[33];
    int argc = 1;
    size_t i, start = 0;
    FUZZ_OPTS o;
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    argv[0] = (char *)"prog";
    for (i = 0; i <= size && argc < 32; i++)
        if (buf[i] == 0) {
            argv[argc++] = buf + start;
            start = i + 1;
        }
    argv[argc] = NULL;
    (void)FUZZ_PARSE(argc, argv, &o);
    free(buf);
    return 0;
}
