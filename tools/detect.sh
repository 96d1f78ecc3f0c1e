#!/bin/sh
# tools/detect.sh NAME: prints the compiler/linker flags for an optional library and exits 0 when
# it is usable here (a test compile and link), or prints nothing and exits 1.
# NAME: zlib | cblas | hdf5 | mpi | nvcc | fuzzer
CC=${CC:-cc}
probe() { # probe 'C source' flags...
    src=$1; shift
    printf '%s\n' "$src" | $CC -x c - "$@" -o /dev/null >/dev/null 2>&1
}
case "$1" in
zlib)
    probe '#include <zlib.h>
int main(void) { return zlibVersion() == 0; }' -lz && echo "-DHAVE_ZLIB -lz" && exit 0 ;;
cblas)
    for lib in "-lopenblas" "-lcblas" "-lblas"; do
        for inc in "" "-I/usr/include/x86_64-linux-gnu/openblas-pthread" "-I/usr/include/openblas"; do
            probe '#include <cblas.h>
int main(void) { float a = 1, b = 1, c = 0; cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1); return c != 1; }' $inc $lib \
                && echo "$inc $lib" && exit 0
        done
    done ;;
hdf5)
    flags=$(pkg-config --cflags --libs hdf5 2>/dev/null || echo "-I/usr/include/hdf5/serial -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5")
    probe '#include <hdf5.h>
int main(void) { return H5open() < 0; }' $flags && echo "$flags" && exit 0 ;;
mpi)
    command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1 && echo "mpicc" && exit 0 ;;
nvcc)
    for n in nvcc /usr/local/cuda/bin/nvcc; do
        command -v "$n" >/dev/null 2>&1 && echo "$n" && exit 0
    done ;;
fuzzer)
    printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
        | clang -x c - -fsanitize=fuzzer -o /dev/null >/dev/null 2>&1 && echo "-fsanitize=fuzzer,address,undefined" && exit 0 ;;
esac
exit 1
