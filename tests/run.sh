#!/bin/sh
# The whole test suite (make test): compile checks of every header, the test programs in their
# variants (plain, ASan+UBSan, TSan, no threads, valgrind), and the example programs' I/O kit.
# Prints a line per failure or skip and per suite, and ends with "N passed, N failed, N skipped";
# exits non-zero on any failure. The parts run at once on JOBS queues (default: the CPUs); PART=name
# runs one part (headers tensorpool prom2d pacgpu cuda stat_stream v1 common examples install python).
# Optional tools and libraries that are missing are skipped with a line saying so.
set -u
cd "$(dirname "$0")/.." || exit 1
CC=${CC:-cc}
WARN="-Wall -Wextra -Wpedantic -Werror"
passed=0
failed=0
skipped=0

have() { command -v "$1" >/dev/null 2>&1; }
ok() { passed=$((passed + 1)); [ -n "${VERBOSE:-}" ] && echo "ok      $1"; return 0; }
bad() { failed=$((failed + 1)); echo "FAILED  $1"; [ -f "$B/last.log" ] && sed 's/^/    /' "$B/last.log" | head -40; return 0; }
skip() { skipped=$((skipped + 1)); echo "skipped $1"; }

# step NAME COMMAND...: one pass or fail, output kept in last.log
step() {
    name=$1; shift
    if "$@" >"$B/last.log" 2>&1; then ok "$name"; else bad "$name"; fi
}

# run_suite NAME BINARY [RUNNER...]: a test program adds its own "N passed, N failed"
run_suite() {
    name=$1; bin=$2; shift 2
    "$@" "$bin" >"$B/last.log" 2>&1
    rc=$?
    line=$(grep -E '^[^ ]+.*: [0-9]+ passed, [0-9]+ failed' "$B/last.log" | tail -1)
    p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
    n_skip=$(grep -c '^skipped' "$B/last.log")
    skipped=$((skipped + n_skip))
    grep '^skipped' "$B/last.log" | sed "s|^skipped|skipped [$name]|"
    if [ -z "$p" ]; then bad "$name (crashed or printed no summary, exit $rc)"; return; fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        echo "FAILED  $name: $line (exit $rc)"; sed 's/^/    /' "$B/last.log" | grep -v '^    ok ' | head -40
        [ "$f" -eq 0 ] && failed=$((failed + 1))
    else
        echo "$name: $line" | sed 's/: [^:]*: /: /'
    fi
}

HEADERS=""
for h in tensorpool.h stat_stream.h prom2d.h pacgpu.h; do [ -f "$h" ] && HEADERS="$HEADERS $h"; done
impl_macro() { echo "$(basename "$1" .h | tr 'a-z' 'A-Z')_IMPLEMENTATION"; }

# the optional backends found here (the headers that use them run their variants only when found)
for lib in zlib cblas hdf5 mpi nvcc fuzzer; do
    if flags=$(tools/detect.sh $lib); then echo "backend $lib: found ($flags)"
    else echo "backend $lib: not found, its variants are skipped"; fi
done

# ---- shared by the parts: flags, the sanitizer probe, objects for the C++ builds --------------
TFLAGS="-std=c99 -O1 -g -Wall -Wextra -Wpedantic -Werror"
LIBS="-lm -lpthread"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
S=build/suite_shared
mkdir -p "$S"
# build OUT COMPILER ARGS...: skipped (and what follows it with &&) when the compiler is not installed
build() {
    out=$1; shift
    if ! have "$1"; then skip "build $out: $1 not installed"; return 1; fi
    step "build $out" "$@" -o "$B/$out" && [ -x "$B/$out" ]
}
have_san() { [ -x "$S/san_probe" ]; }
if have clang && echo 'int main(void){return 0;}' | clang $SAN -x c - -o "$S/san_probe" 2>/dev/null; then :; else
    rm -f "$S/san_probe"
fi
gcc -std=c99 -D_DEFAULT_SOURCE -O1 -g -c examples/common/npy.c -o "$S/npy.o" && gcc -std=c99 -D_DEFAULT_SOURCE -O1 -g -c examples/common/util.c -o "$S/util.o" ||
    { echo "FAILED  build npy.o util.o"; exit 1; }

part_headers() {
# ---- 1. every header compiles warning-free as C99 and as C++, with gcc and clang -------------
for h in $HEADERS; do
    m=$(impl_macro "$h")
    printf '#define TENSORPOOL_IMPLEMENTATION\n#define %s\n#include "../../%s"\nint main(void) { return 0; }\n' "$m" "$h" >"$B/impl_$h.c"
    for cc in "gcc -std=c99" "clang -std=c99" "g++ -std=c++11 -x c++" "clang++ -std=c++11 -x c++"; do
        set -- $cc
        if have "$1"; then step "$h: $cc $WARN" $cc $WARN -c "$B/impl_$h.c" -o /dev/null
        else skip "$h: $1 not installed"; fi
    done
done
# each header's QUICK START (the lines after it up to CONTENTS, unindented) compiles warning-free as C
# and as C++, and runs
for h in $HEADERS; do
    q="$B/quickstart_$h.c"
    awk '/^   QUICK START/ {on = 1; next} /^   CONTENTS/ {on = 0} on' "$h" | sed 's/^       //' >"$q"
    if grep -q 'int main' "$q"; then
        step "$h: its quick start compiles (C99, C++) and runs" sh -c "
            gcc -std=c99 $WARN -I. '$q' -o '$B/qs_c' -lm -lpthread && '$B/qs_c' >/dev/null &&
            { ! command -v g++ >/dev/null || { g++ -x c++ $WARN -I. '$q' -o '$B/qs_cxx' -lm -lpthread && '$B/qs_cxx' >/dev/null; }; }"
    else
        skip "$h: no compilable quick start yet"
    fi
done
# README.md's C snippets (each a whole program) compile as C99 and as C++, and run
n_snip=$(awk '/^```c$/ {n++; f = sprintf("'"$B"'/readme_%d.c", n); next} /^```$/ {f = ""} f {print > f} END {print n + 0}' README.md)
i=1
while [ "$i" -le "$n_snip" ]; do
    step "README.md snippet $i compiles (C99, C++) and runs" sh -c "
        gcc -std=c99 $WARN -I. '$B/readme_$i.c' -o '$B/rd_c' -lm -lpthread && '$B/rd_c' >/dev/null &&
        { ! command -v g++ >/dev/null || { g++ -x c++ $WARN -I. '$B/readme_$i.c' -o '$B/rd_cxx' -lm -lpthread && '$B/rd_cxx' >/dev/null; }; }"
    i=$((i + 1))
done
# all headers implemented in one translation unit (symbol collisions), and a header included
# twice (declarations first, then the implementation)
{
    for h in $HEADERS; do echo "#define $(impl_macro "$h")"; done
    for h in $HEADERS; do echo "#include \"../../$h\""; done
    echo 'int main(void) { return 0; }'
} >"$B/all_in_one.c"
step "all headers in one TU (gcc)" gcc -std=c99 $WARN "$B/all_in_one.c" -o "$B/all_in_one" -lm -lpthread
if have g++; then step "all headers in one TU (g++)" g++ -x c++ $WARN "$B/all_in_one.c" -o "$B/all_in_one_cxx" -lpthread
else skip "all headers in one TU (g++): g++ not installed"; fi
# every header as a private static copy, in a TU that calls nothing (no unused-function warnings)
for h in $HEADERS; do
    printf '#define TP_STATIC\n#define TENSORPOOL_IMPLEMENTATION\n#define %s\n#include "../../%s"\nint main(void) { return 0; }\n' \
        "$(impl_macro "$h")" "$h" >"$B/static_$h.c"
    step "$h with TP_STATIC" gcc -std=c99 $WARN -c "$B/static_$h.c" -o /dev/null
done
for h in $HEADERS; do
    printf '#include "../../%s"\n#define TENSORPOOL_IMPLEMENTATION\n#define %s\n#include "../../%s"\n#include "../../%s"\nint main(void) { return 0; }\n' \
        "$h" "$(impl_macro "$h")" "$h" "$h" >"$B/twice_$h.c"
    step "$h included twice" gcc -std=c99 $WARN -c "$B/twice_$h.c" -o /dev/null
done
}

part_tensorpool() {
# ---- 2. test programs -------------------------------------------------------------------------

build tensorpool $CC $TFLAGS tests/test_tensorpool.c $LIBS && run_suite "tensorpool" "$B/tensorpool"
build tensorpool_nothreads $CC $TFLAGS -DTP_NO_THREADS tests/test_tensorpool.c -lm \
    && run_suite "tensorpool TP_NO_THREADS" "$B/tensorpool_nothreads"
build tensorpool_nommap $CC $TFLAGS -DTP_NO_MMAP tests/test_tensorpool.c $LIBS \
    && run_suite "tensorpool TP_NO_MMAP" "$B/tensorpool_nommap"
build tensorpool_cxx g++ -x c++ -O1 -g -Wall -Wextra -Werror tests/test_tensorpool.c -lpthread \
    && run_suite "tensorpool C++" "$B/tensorpool_cxx"

if have_san; then
    build tensorpool_asan clang $TFLAGS $SAN tests/test_tensorpool.c $LIBS \
        && run_suite "tensorpool ASan+UBSan" "$B/tensorpool_asan"
    build tensorpool_tsan clang $TFLAGS -fsanitize=thread tests/test_tensorpool.c $LIBS \
        && run_suite "tensorpool TSan" "$B/tensorpool_tsan"
else
    skip "sanitizer builds: clang with its sanitizer runtime (libclang-rt-dev) not installed"
fi
if have valgrind; then
    run_suite "tensorpool valgrind" "$B/tensorpool" valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3
else
    skip "valgrind runs: valgrind not installed"
fi
}

part_prom2d() {
# ---- prom2d.h ---------------------------------------------------------------------------------
P2D_SRC="tests/test_prom2d.c examples/common/npy.c examples/common/util.c"
build prom2d $CC $TFLAGS -D_DEFAULT_SOURCE $P2D_SRC $LIBS && run_suite "prom2d" "$B/prom2d"
build prom2d_plain $CC $TFLAGS -D_DEFAULT_SOURCE -DP2D_NO_VECTOR_EXTENSIONS -DTP_NO_THREADS $P2D_SRC -lm \
    && run_suite "prom2d TP_NO_THREADS P2D_NO_VECTOR_EXTENSIONS" "$B/prom2d_plain"
build prom2d_cxx g++ -x c++ -O1 -g -Wall -Wextra -Werror tests/test_prom2d.c -x none "$S/npy.o" "$S/util.o" -lpthread \
    && run_suite "prom2d C++" "$B/prom2d_cxx"
if have_san; then
    build prom2d_asan clang $TFLAGS -D_DEFAULT_SOURCE $SAN $P2D_SRC $LIBS && run_suite "prom2d ASan+UBSan" "$B/prom2d_asan"
    build prom2d_tsan clang $TFLAGS -D_DEFAULT_SOURCE -fsanitize=thread $P2D_SRC $LIBS && run_suite "prom2d TSan" "$B/prom2d_tsan"
fi
if have valgrind; then
    run_suite "prom2d valgrind" "$B/prom2d" valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3
fi
}

part_pacgpu() {
# ---- pacgpu.h -----------------------------------------------------------------------------------
PAC_SRC="tests/test_pacgpu.c examples/common/npy.c examples/common/util.c"
build pacgpu $CC $TFLAGS -D_DEFAULT_SOURCE $PAC_SRC $LIBS && run_suite "pacgpu" "$B/pacgpu"
build pacgpu_plain $CC $TFLAGS -D_DEFAULT_SOURCE -DPAC_NO_VECTOR_EXTENSIONS -DTP_NO_THREADS $PAC_SRC -lm \
    && run_suite "pacgpu TP_NO_THREADS PAC_NO_VECTOR_EXTENSIONS" "$B/pacgpu_plain"
build pacgpu_cxx g++ -x c++ -O1 -g -Wall -Wextra -Werror tests/test_pacgpu.c -x none "$S/npy.o" "$S/util.o" -lpthread \
    && run_suite "pacgpu C++" "$B/pacgpu_cxx"
if have_san; then
    build pacgpu_asan clang $TFLAGS -D_DEFAULT_SOURCE $SAN $PAC_SRC $LIBS && run_suite "pacgpu ASan+UBSan" "$B/pacgpu_asan"
    build pacgpu_tsan clang $TFLAGS -D_DEFAULT_SOURCE -fsanitize=thread $PAC_SRC $LIBS && run_suite "pacgpu TSan" "$B/pacgpu_tsan"
fi
if have valgrind; then
    run_suite "pacgpu valgrind" "$B/pacgpu" valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3
fi
}

part_cuda() {
# the CUDA backend: built by nvcc for sm_90 with PTX beside it; its device tests skip without a GPU
if NVCC=$(tools/detect.sh nvcc); then
    build pacgpu_cuda $NVCC -std=c++14 -O2 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
        -Xcompiler -Wall,-Wextra,-Werror tests/test_pacgpu_cuda.cu examples/common/npy.c examples/common/util.c -lcufft -lm -lpthread && run_suite "pacgpu CUDA" "$B/pacgpu_cuda"
else
    skip "pacgpu CUDA backend: no nvcc (the CUDA toolkit) found"
fi
# the same tests with every kernel and the host side run on the CPU (tests/cuda_emu.h: a block's
# threads as fibers, cuFFT by pacgpu's FFT, failures injected), here with or without a GPU
EMU="-std=c++14 -x c++ -O1 -g -Wall -Wextra -Wpedantic -Werror -DPAC_TEST_EMULATE_CUDA tests/test_pacgpu_cuda.cu examples/common/npy.c examples/common/util.c -lm -lpthread"
build pacgpu_cuda_emu g++ $EMU && run_suite "pacgpu CUDA emulated" "$B/pacgpu_cuda_emu"
build pacgpu_cuda_emu_columns g++ -DPAC_TEST_CUDA_CELLS=0 $EMU && run_suite "pacgpu CUDA emulated, column kernel only" "$B/pacgpu_cuda_emu_columns"
build pacgpu_cuda_emu_once g++ -DPAC_TEST_CUDA_ROWS_ONCE=1 $EMU && run_suite "pacgpu CUDA emulated, runs kernel rows once" "$B/pacgpu_cuda_emu_once"
# the device tests at the sizes a GPU runs them with (their expectations too: chunks of 5, not 2)
build pacgpu_cuda_emu_device_sizes g++ -DPAC_TEST_DEVICE_SIZES $EMU -O2 \
    && run_suite "pacgpu CUDA emulated at a GPU's test sizes" "$B/pacgpu_cuda_emu_device_sizes"
if have_san; then
    build pacgpu_cuda_emu_asan clang++ $SAN $EMU && run_suite "pacgpu CUDA emulated ASan+UBSan" "$B/pacgpu_cuda_emu_asan"
fi
}

part_stat_stream() {
# ---- stat_stream.h ------------------------------------------------------------------------------
SS_SRC="tests/test_stat_stream.c examples/common/npy.c examples/common/util.c"
build stat_stream $CC $TFLAGS -D_DEFAULT_SOURCE $SS_SRC $LIBS && run_suite "stat_stream" "$B/stat_stream"
build stat_stream_plain $CC $TFLAGS -D_DEFAULT_SOURCE -DSS_NO_VECTOR_EXTENSIONS -DTP_NO_THREADS $SS_SRC -lm \
    && run_suite "stat_stream SS_NO_VECTOR_EXTENSIONS TP_NO_THREADS" "$B/stat_stream_plain"
if CBLAS=$(tools/detect.sh cblas); then
    build stat_stream_cblas $CC $TFLAGS -D_DEFAULT_SOURCE -DSTAT_STREAM_USE_CBLAS $SS_SRC $CBLAS $LIBS \
        && run_suite "stat_stream STAT_STREAM_USE_CBLAS" "$B/stat_stream_cblas"
else
    skip "stat_stream with CBLAS: no CBLAS (libopenblas-dev) found"
fi
if H5=$(tools/detect.sh hdf5); then
    build stat_stream_hdf5 $CC $TFLAGS -D_DEFAULT_SOURCE -DSTAT_STREAM_USE_HDF5 $H5 $SS_SRC $H5 $LIBS \
        && run_suite "stat_stream STAT_STREAM_USE_HDF5" "$B/stat_stream_hdf5"
    if have_san; then
        build stat_stream_hdf5_asan clang $TFLAGS -D_DEFAULT_SOURCE $SAN -DSTAT_STREAM_USE_HDF5 $H5 $SS_SRC $H5 $LIBS \
            && run_suite "stat_stream STAT_STREAM_USE_HDF5 ASan+UBSan" "$B/stat_stream_hdf5_asan"
    fi
else
    skip "stat_stream with HDF5: no HDF5 (libhdf5-dev) found"
fi
build stat_stream_cxx g++ -x c++ -O1 -g -Wall -Wextra -Werror tests/test_stat_stream.c -x none "$S/npy.o" "$S/util.o" -lpthread \
    && run_suite "stat_stream C++" "$B/stat_stream_cxx"
if have_san; then
    build stat_stream_asan clang $TFLAGS -D_DEFAULT_SOURCE $SAN $SS_SRC $LIBS && run_suite "stat_stream ASan+UBSan" "$B/stat_stream_asan"
    build stat_stream_tsan clang $TFLAGS -D_DEFAULT_SOURCE -fsanitize=thread $SS_SRC $LIBS && run_suite "stat_stream TSan" "$B/stat_stream_tsan"
fi
if have valgrind; then
    run_suite "stat_stream valgrind" "$B/stat_stream" valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3
fi
}

part_v1() {
# ---- the four headers as one library (v1 forms, defaults, element types), as C and as C++ ------
V1_SRC="tests/test_v1.c"
build v1 $CC $TFLAGS -D_DEFAULT_SOURCE $V1_SRC $LIBS && run_suite "v1 (all four headers, C)" "$B/v1"
build v1_cxx g++ -x c++ -O1 -g -Wall -Wextra -Wpedantic -Werror $V1_SRC -lm -lpthread && run_suite "v1 (all four headers, C++)" "$B/v1_cxx"
if have_san; then
    build v1_asan clang++ -x c++ -O1 -g -Wall -Wextra -Werror $SAN $V1_SRC -lm -lpthread && run_suite "v1 C++ ASan+UBSan" "$B/v1_asan"
fi
if have valgrind; then
    run_suite "v1 valgrind" "$B/v1" valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3
fi
# every allocation of each header's main entry points failing in turn: clean errors, no leak, no partial output
build alloc_faults $CC $TFLAGS -D_DEFAULT_SOURCE tests/test_alloc_faults.c $LIBS && run_suite "allocation faults" "$B/alloc_faults"
if have_san; then
    build alloc_faults_asan clang $TFLAGS -D_DEFAULT_SOURCE $SAN tests/test_alloc_faults.c $LIBS \
        && run_suite "allocation faults ASan+UBSan" "$B/alloc_faults_asan"
fi
if have valgrind; then
    run_suite "allocation faults valgrind" "$B/alloc_faults" valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3
fi
}

part_common() {
# ---- 3. the example programs' I/O kit -------------------------------------------------------
if [ -f tests/test_common.c ]; then
    build common $CC $TFLAGS -D_DEFAULT_SOURCE tests/test_common.c examples/common/*.c $LIBS $(tools/detect.sh zlib) \
        && run_suite "examples/common" "$B/common"
    if have valgrind; then
        run_suite "examples/common valgrind" "$B/common" valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3
    fi
    if have clang; then
        build common_asan clang $TFLAGS -D_DEFAULT_SOURCE $SAN tests/test_common.c examples/common/*.c $LIBS $(tools/detect.sh zlib) \
            && run_suite "examples/common ASan+UBSan" "$B/common_asan"
    fi
fi

# every fuzz target, briefly, on its corpus (make fuzz and tests/fuzz/campaign.sh explore further)
if tools/detect.sh fuzzer >/dev/null; then
    step "fuzz targets: .npy, NIfTI, the four command lines, the HDF5 source (a short run each)" \
        env FUZZ_DIR="$B/fuzz" sh tests/fuzz/campaign.sh 20000 3
else
    skip "fuzz targets: clang with libFuzzer (libclang-rt-dev) not installed"
fi
}

part_examples() {
# ---- 4. the example programs themselves ------------------------------------------------------
build prom2d_cli $CC $TFLAGS -D_DEFAULT_SOURCE examples/prom2d.c examples/common/*.c $LIBS $(tools/detect.sh zlib) \
    && step "prom2d --demo (peaks, masks, PNGs)" "$B/prom2d_cli" --demo --out "$B/prom2d_demo" \
    && step "prom2d CLI, pypho mode: packed masks equal pyPho's byte for byte" sh -c "
        $B/prom2d_cli --posterior tests/data/prom2d/posterior_200.npy --alpha 0.1,0.5,0.9 --mode pypho --pack-masks \
            --peaks-out $B/cli_peaks.npy --masks-out $B/cli_masks.npy >/dev/null &&
        head -c 128 $B/cli_peaks.npy | grep -q \"'shape': (39743, 6)\" &&
        tail -c 193725 $B/cli_masks.npy >$B/cli_masks.bin && tail -c 193725 tests/data/prom2d/pypho_masks_packed.npy >$B/ref_masks.bin &&
        cmp -s $B/cli_masks.bin $B/ref_masks.bin" \
    && step "prom2d CLI rejects bad input" sh -c "rm -f $B/x.npy && ! $B/prom2d_cli --posterior tests/data/pac/fir_taps.npy --alpha 0.5 --masks-out $B/x.npy 2>/dev/null && [ ! -e $B/x.npy ] &&
        ! $B/prom2d_cli --posterior nonexistent.npy --peaks-out $B/x.npy 2>/dev/null && ! $B/prom2d_cli --alpha 0.1,x 2>/dev/null &&
        ! $B/prom2d_cli --mode fancy 2>/dev/null"

PAC_CLI_SRC="examples/pac.c examples/common/npy.c examples/common/png.c examples/common/progress.c examples/common/util.c examples/common/cli.c examples/common/outputs.c"
build pac_cli $CC $TFLAGS -D_DEFAULT_SOURCE $PAC_CLI_SRC $LIBS \
    && build npy_compare $CC $TFLAGS -D_DEFAULT_SOURCE tests/npy_compare.c examples/common/npy.c examples/common/util.c -lm \
    && step "pac CLI equals tensorpac: MI and z with its 20 replayed cuts" sh -c "
        $B/pac_cli --signal tests/data/pac/signal.npy --fs 512 --pha-bands tests/data/pac/f_pha.npy \
            --amp-bands tests/data/pac/f_amp.npy --mi tensorpac --cuts tests/data/pac/surrogate_cuts.npy \
            --out $B/cli_mi.npy --z-out $B/cli_z.npy --png $B/cli_pac.png --threads 2 >/dev/null &&
        $B/npy_compare $B/cli_mi.npy tests/data/pac/mi_tensorpac.npy 1e-10 >/dev/null &&
        $B/npy_compare $B/cli_z.npy tests/data/pac/mi_zscore.npy 1e-9 1e-9 >/dev/null && [ -s $B/cli_pac.png ]" \
    && step "pac --demo (6 Hz -> 80 Hz found, PNG written)" sh -c "
        $B/pac_cli --demo --out $B/pac_demo | grep -q 'phase 6.97 Hz .* -> amplitude 80.7 Hz' && [ -s $B/pac_demo/pac_comodulogram.png ]" \
    && step "pac CLI rejects bad input" sh -c "! $B/pac_cli --signal tests/data/pac/signal.npy --fs 512 --pha-bands ultra \
            --amp-bands mres --out $B/x.npy 2>/dev/null && [ ! -e $B/x.npy ] &&
        ! $B/pac_cli --signal tests/data/pac/f_pha.npy --fs 512 --pha-bands lres --amp-bands lres --out $B/x.npy 2>/dev/null &&
        ! $B/pac_cli --signal tests/data/pac/signal.npy --fs 100 --pha-bands lres --amp-bands lres --out $B/x.npy 2>/dev/null &&
        ! $B/pac_cli --signal nonexistent.npy --fs 512 --pha-bands lres --amp-bands lres --out $B/x.npy 2>/dev/null &&
        ! $B/pac_cli --fs -3 2>/dev/null && ! $B/pac_cli --surrogate shuffle 2>/dev/null &&
        ! $B/pac_cli --signal tests/data/pac/signal.npy --fs 512 --pha-bands lres --amp-bands lres --out $B/x.npy --z-out $B/z.npy 2>/dev/null &&
        ! $B/pac_cli --backend gpu 2>/dev/null &&
        $B/pac_cli --signal tests/data/pac/signal.npy --fs 512 --pha-bands lres --amp-bands lres --out $B/x.npy --backend cuda 2>&1 |
            grep -q 'no CUDA backend' && [ ! -e $B/x.npy ]"
if tools/detect.sh mpi >/dev/null; then
    build pac_mpi mpicc $TFLAGS -D_DEFAULT_SOURCE -DPAC_MPI $PAC_CLI_SRC $LIBS \
        && step "pac_mpi: 1, 2 and 3 ranks write the files of one process, bit for bit (pooled counts, FDR p-values)" sh -c "
            export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
            A='--signal tests/data/pac/signal.npy --fs 512 --pha-bands tests/data/pac/f_pha.npy --amp-bands tests/data/pac/f_amp.npy
               --idpac 2,2,4 --n-perm 30 --seed 4 --mcp fdr --p-threshold 0.5 --threads 1'
            $B/pac_cli \$A --out $B/mpi1.npy --z-out $B/mpi1_z.npy --pvalues-out $B/mpi1_pv.npy --pp-out $B/mpi1_pp.npy >/dev/null &&
            for r in 1 2 3; do
                mpirun -np \$r $B/pac_mpi \$A --out $B/mpi_r.npy --z-out $B/mpi_r_z.npy --pvalues-out $B/mpi_r_pv.npy \
                    --pp-out $B/mpi_r_pp.npy >/dev/null &&
                cmp -s $B/mpi1.npy $B/mpi_r.npy && cmp -s $B/mpi1_z.npy $B/mpi_r_z.npy && cmp -s $B/mpi1_pv.npy $B/mpi_r_pv.npy &&
                cmp -s $B/mpi1_pp.npy $B/mpi_r_pp.npy || exit 1
            done" \
        && step "pac_mpi refuses swap-epochs (every signal in one process)" sh -c "
            export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
            ! mpirun -np 2 $B/pac_mpi --signal tests/data/pac/signal.npy --fs 512 --pha-bands lres --amp-bands lres --idpac 1,1,4 \
                --out $B/x.npy 2>$B/mpi_err.txt && grep -q 'swap-epochs pairs each signal' $B/mpi_err.txt"
else
    skip "pac_mpi: no mpicc/mpirun (openmpi-bin, libopenmpi-dev)"
fi
if NVCC=$(tools/detect.sh nvcc); then # the same program built by nvcc with the backend: the GPU where one answers, else the CPU
    step "build pac_cuda (nvcc)" make -s build/pac_cuda \
        && step "pac_cuda equals tensorpac (--backend auto: the GPU's float32 within 5e-5, or the CPU's exactly)" sh -c "
            build/pac_cuda --signal tests/data/pac/signal.npy --fs 512 --pha-bands tests/data/pac/f_pha.npy \
                --amp-bands tests/data/pac/f_amp.npy --mi tensorpac --out $B/cuda_mi.npy >$B/cuda_mi.txt &&
            if grep -q 'on the GPU' $B/cuda_mi.txt; then tol='0 5e-5'; else tol=1e-10; fi &&
            $B/npy_compare $B/cuda_mi.npy tests/data/pac/mi_tensorpac.npy \$tol >/dev/null"
fi

LNM_SRC="examples/lnm.c examples/common/npy.c examples/common/nifti.c examples/common/png.c examples/common/progress.c examples/common/util.c examples/common/cli.c examples/common/outputs.c"
build lnm_cli $CC $TFLAGS -D_DEFAULT_SOURCE $LNM_SRC $LIBS \
    && step "lnm --demo (the lesion's partner region lights up; maps, NIfTI and PNG written)" sh -c "
        $B/lnm_cli --demo --out $B/lnm_demo | grep -q 'peak t = ' && [ -s $B/lnm_demo/lnm_demo_lesion_T.nii ] &&
        [ -s $B/lnm_demo/lnm_demo_lesion_T.png ] && [ -s $B/lnm_demo/lnm_demo_lesion_mean_z.npy ]" \
    && build lnm_check $CC $TFLAGS -D_DEFAULT_SOURCE tests/lnm_check.c examples/common/npy.c examples/common/nifti.c examples/common/util.c $LIBS \
    && step "lnm --fdr: q is Benjamini-Hochberg's (lacuna's formula) of p, T_fdr holds t where q < Q" sh -c "
        $B/lnm_cli --demo --fdr 0.01 --out $B/lnm_fdr >/dev/null && $B/lnm_check $B/lnm_fdr lnm_demo_lesion 0.01 >/dev/null" \
    && step "lnm --demo: its lesion drawn on a 1 mm grid, resampled onto the 2 mm one, gives the same maps" sh -c "
        for f in t mean_z p; do $B/npy_compare $B/lnm_demo/lnm_demo_lesion_1mm_\$f.npy $B/lnm_demo/lnm_demo_lesion_\$f.npy 0 0 >/dev/null || exit 1; done" \
    && step "lnm --subject-maps: every subject's r streamed; their mean Fisher z is the mean_z map" sh -c "
        $B/lnm_cli --demo --subject-maps --out $B/lnm_subjects >/dev/null &&
        $B/lnm_check $B/lnm_subjects lnm_demo_lesion subjects >/dev/null" \
    && step "lnm CLI rejects bad input" sh -c "! $B/lnm_cli --connectome x --lesion y.npy 2>/dev/null &&
        ! $B/lnm_cli --policy fancy 2>/dev/null && ! $B/lnm_cli --precision f16 2>/dev/null &&
        $B/lnm_cli --connectome x --lesion y.npy --out-dir $B/x 2>&1 | grep -q 'HDF5\|x'"
if tools/detect.sh mpi >/dev/null; then
    build lnm_mpi mpicc $TFLAGS -D_DEFAULT_SOURCE -DLNM_MPI $LNM_SRC $LIBS \
        && step "lnm_mpi: mpirun -np 2 gives the maps (and the ROI-to-ROI matrices) of one process (1e-12)" sh -c "
            export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
            mpirun -np 2 $B/lnm_mpi --demo --subject-maps --out $B/lnm_mpi_demo >/dev/null &&
            $B/npy_compare $B/lnm_mpi_demo/lnm_demo_lesion_subject_r.npy $B/lnm_subjects/lnm_demo_lesion_subject_r.npy 0 0 >/dev/null &&
            for f in lnm_demo_lesion_mean_z lnm_demo_lesion_mean_r lnm_demo_lesion_avg_r lnm_demo_lesion_std_z \
                     lnm_demo_lesion_t lnm_demo_lesion_p roi2roi_mean_z roi2roi_t; do
                $B/npy_compare $B/lnm_mpi_demo/\$f.npy $B/lnm_demo/\$f.npy 1e-12 1e-12 >/dev/null || exit 1
            done" \
        && step "lnm_mpi --seed pini: 3 ranks (splitting the demo's two files) give one process's maps (1e-12)" sh -c "
            export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
            $B/lnm_cli --demo --seed pini --subject-maps --out $B/lnm_pini_demo >/dev/null &&
            mpirun -np 3 $B/lnm_mpi --demo --seed pini --subject-maps --out $B/lnm_mpi_pini >/dev/null &&
            $B/npy_compare $B/lnm_mpi_pini/lnm_demo_lesion_subject_r.npy $B/lnm_pini_demo/lnm_demo_lesion_subject_r.npy 0 0 >/dev/null &&
            for f in mean_z avg_r t; do
                $B/npy_compare $B/lnm_mpi_pini/lnm_demo_lesion_\$f.npy $B/lnm_pini_demo/lnm_demo_lesion_\$f.npy 1e-12 1e-12 >/dev/null || exit 1
            done && ! $B/npy_compare $B/lnm_pini_demo/lnm_demo_lesion_t.npy $B/lnm_demo/lnm_demo_lesion_t.npy 1e-3 >/dev/null 2>&1"
else
    skip "lnm_mpi: no mpicc/mpirun (openmpi-bin, libopenmpi-dev)"
fi
if H5=$(tools/detect.sh hdf5); then
    build lnm_cli_hdf5 $CC $TFLAGS -D_DEFAULT_SOURCE -DSTAT_STREAM_USE_HDF5 $H5 $LNM_SRC $H5 $LIBS \
        && step "lnm CLI (HDF5) names a connectome it cannot open" sh -c "
            $B/lnm_cli_hdf5 --connectome /nonexistent.h5 --lesion x.npy --out-dir $B/x 2>&1 | grep -q 'nonexistent.h5'" \
        && step "lnm --seed pini on a two-file connectome: lacuna's PINI per file (tests/data/pini, float64, 1e-10)" sh -c "
            D=tests/data/pini; $B/lnm_cli_hdf5 --connectome \$D/conn --lesion \$D/lesion_0.npy --lesion \$D/lesion_1.npy \
                --lesion \$D/lesion_2.npy --seed pini --precision f64 --out-dir $B/pini >/dev/null 2>&1; [ \$? = 3 ] || exit 1
            for l in 0 1 2; do
                $B/npy_compare $B/pini/lesion_\${l}_mean_z.npy \$D/mean_z_\$l.npy 1e-10 >/dev/null &&
                $B/npy_compare $B/pini/lesion_\${l}_t.npy \$D/t_\$l.npy 1e-9 >/dev/null || exit 1
            done" \
        && step "lnm --roi2roi beside lesions (fed from their pass; pini's two, read ahead) equals --roi2roi alone" sh -c "
            D=tests/data/pini; $B/lnm_cli_hdf5 --connectome \$D/conn --roi2roi \$D/atlas.nii --out-dir $B/r2r_alone >/dev/null || exit 1
            $B/lnm_cli_hdf5 --connectome \$D/conn --roi2roi \$D/atlas.nii --lesion \$D/lesion_0.npy --seed pini \
                --out-dir $B/r2r_pini >/dev/null 2>&1; [ \$? = 3 ] || exit 1
            $B/lnm_cli_hdf5 --connectome \$D/conn --roi2roi \$D/atlas.nii --lesion \$D/lesion_0.npy --read-ahead --threads 2 \
                --out-dir $B/r2r_ahead >/dev/null 2>&1; [ \$? = 3 ] || exit 1
            for d in r2r_pini r2r_ahead; do for f in roi2roi_mean_z roi2roi_t roi2roi_p; do
                $B/npy_compare $B/\$d/\$f.npy $B/r2r_alone/\$f.npy 0 0 >/dev/null || exit 1
            done; done"
fi

build pool $CC $TFLAGS -D_DEFAULT_SOURCE examples/pool.c examples/common/*.c $LIBS $(tools/detect.sh zlib) \
    && step "pool --demo (a job twice its budget, spilled and checked)" "$B/pool" --demo --out "$B/pool_demo" \
    && step "pool rejects bad arguments" sh -c "! $B/pool --frames 0 && ! $B/pool --bogus"

# every program against bad input and typos: the status, the message, and nothing left behind
build npy_make $CC $TFLAGS -D_DEFAULT_SOURCE tests/npy_make.c examples/common/npy.c examples/common/util.c -lm \
    && step "the programs against bad input (tests/cli.sh)" sh tests/cli.sh "$B"
}

part_python() {
# ---- the Python package (python/membound): setup.py builds it into build/python, pytest runs ----
PY=""
for p in python3 /usr/bin/python3; do
    if have "$p" && "$p" -c "import numpy, setuptools, pytest, sysconfig, os
assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))" 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    skip "python: no python3 with numpy, setuptools, pytest and Python's headers (python3-dev python3-numpy python3-pytest python3-setuptools)"
    return
fi
inc="-I$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])") -I$("$PY" -c "import numpy; print(numpy.get_include())")"
H5=$(tools/detect.sh hdf5) && H5="-DSTAT_STREAM_USE_HDF5 $(printf '%s\n' $H5 | grep '^-I' | tr '\n' ' ')"
for cc in gcc clang; do
    have $cc && step "python: the extension compiles warning-free ($cc -std=c99 -Wall -Wextra)" \
        $cc -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I. $inc -fsyntax-only python/membound/_membound.c
    have $cc && [ -n "$H5" ] && step "python: the extension with HDF5 (membound.lnm) compiles warning-free ($cc)" \
        $cc -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I. $inc $H5 -fsyntax-only python/membound/_membound.c
done
rm -rf "$B/python" "$B/python_tmp"
step "python: setup.py builds the membound package ($PY)" \
    "$PY" setup.py -q build_py --build-lib "$B/python" build_ext --force --build-lib "$B/python" --build-temp "$B/python_tmp" \
    && {
        log=$B/pytest.log
        (cd "$B/python" && "$PY" -m pytest -q -p no:cacheprovider "$OLDPWD/python/tests") >"$log" 2>&1
        rc=$?
        p=$(sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p; s/^\([0-9][0-9]*\) passed.*/\1/p' "$log" | tail -1)
        f=$(sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p; s/^\([0-9][0-9]*\) failed.*/\1/p' "$log" | tail -1)
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        if [ "$rc" -ne 0 ]; then
            [ -z "$f" ] && failed=$((failed + 1))
            echo "FAILED  python: pytest (exit $rc)"; sed 's/^/    /' "$log" | tail -40
        else
            echo "python pytest: ${p:-0} passed, 0 failed"
        fi
    }
}

part_install() {
# ---- make install / uninstall, pkg-config and CMake consumers (tests/install/check.sh) -----------
. tests/install/check.sh
install_checks
}

# ---- the driver: the parts run on JOBS queues at once (default: the CPUs), each in its own
# directory build/suite_PART, its lines printed when it ends; then the totals ---------------------
# rough seconds of each part on a 2-core VM, longest first: the queues are filled greedily
PARTS="pacgpu:180 cuda:107 common:64 prom2d:56 examples:40 stat_stream:39 v1:39 install:30 headers:17 python:15 tensorpool:14"
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
[ "$JOBS" -ge 1 ] 2>/dev/null || JOBS=1
if [ -n "${PART:-}" ]; then PARTS="$PART:1"; JOBS=1; fi # PART=name runs one part
rm -f build/suite_*.out

run_part() { # in a subshell: its counters are its own, and end its output
    (
        B=build/suite_$1
        mkdir -p "$B"
        passed=0 failed=0 skipped=0
        t0=$(date +%s)
        "part_$1"
        echo "part $1: $(($(date +%s) - t0)) s"
        echo "TOTAL $passed $failed $skipped"
    ) >"build/suite_$1.out" 2>&1
    # one part's lines at a time
    while ! mkdir build/suite_print.lock 2>/dev/null; do sleep 0.1; done
    grep -v '^TOTAL ' "build/suite_$1.out"
    rmdir build/suite_print.lock
}

rmdir build/suite_print.lock 2>/dev/null
q=0
while [ "$q" -lt "$JOBS" ]; do eval "queue_$q=''; load_$q=0"; q=$((q + 1)); done
for pw in $PARTS; do # longest first, onto the least loaded queue
    best=0 q=1
    while [ "$q" -lt "$JOBS" ]; do
        eval "lq=\$load_$q lb=\$load_$best"
        [ "$lq" -lt "$lb" ] && best=$q
        q=$((q + 1))
    done
    eval "queue_$best=\"\$queue_$best ${pw%%:*}\"; load_$best=\$((load_$best + ${pw##*:}))"
done
q=0
while [ "$q" -lt "$JOBS" ]; do
    eval "list=\$queue_$q"
    ( for part in $list; do run_part "$part"; done ) &
    q=$((q + 1))
done
wait
for pw in $PARTS; do
    set -- $(grep '^TOTAL ' "build/suite_${pw%%:*}.out" || echo "TOTAL 0 1 0")
    passed=$((passed + $2)) failed=$((failed + $3)) skipped=$((skipped + $4))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
