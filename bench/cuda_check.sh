#!/bin/sh
# bench/cuda_check.sh - what pacgpu's CUDA backend needs checked on a GPU, in one call of the
# device tool (15 minutes a session): build, the device tests (device vs CPU float32 and vs
# tensorpac's reference), the pac example on the GPU, issue 6's benchmark case with each cell
# kernel (runs: rows twice; once: rows once, PAC_TEST_CUDA_ROWS_ONCE; runs4: 4 bands a block; columns),
# the large case (its rows fit only once) with the runs and the column kernel,
# compute-sanitizer and one Nsight Compute profile of each cell kernel; a table of the device
# times last. Each step has its own time limit, so one that hangs costs only its own. Logs go to
# $OUT (the device tool's folder that comes back) or bench/out. When the machine cannot build
# (no make or nvcc), the binaries in .devbin/ are used: `sh bench/cuda_check.sh prebuild` puts
# them there (on any machine with nvcc; carry .devbin, an ignored folder, to the device). Run
# from the repository root:   sh bench/cuda_check.sh
set -u
OUT=${OUT:-bench/out}
mkdir -p "$OUT" build
LOG=$OUT/cuda_check.log
ARCH="-gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90"
NVCC=$(tools/detect.sh nvcc) || NVCC=nvcc

# a bench_pac_cuda built with extra macros: variant NAME FLAGS...
variant() {
    name=$1; shift
    $NVCC -std=c++14 -O2 $ARCH -DPACGPU_USE_CUDA "$@" -x cu -c bench/bench_pac.c -o "build/bench_pac_$name.o" &&
        $NVCC $ARCH "build/bench_pac_$name.o" build/npy_cuda.o build/util_cuda.o -o "build/bench_pac_$name" -lcufft -lm -lpthread
}

build_all() {
    make -s -j8 build/bench_pac build/bench_pac_cuda build/test_pacgpu_cuda build/pac build/pac_cuda || return 1
    cc -O2 tests/npy_compare.c examples/common/npy.c examples/common/util.c -lm -o build/npy_compare || return 1
    variant runs & variant columns -DPAC_TEST_CUDA_CELLS=0 & variant runs4 -DPAC_TEST_CUDA_RUN_BANDS=4 & variant once -DPAC_TEST_CUDA_ROWS_ONCE=1 &
    $NVCC -std=c++14 -O2 $ARCH --default-stream per-thread tests/test_pacgpu_cuda.cu examples/common/npy.c examples/common/util.c \
        -o build/test_pacgpu_cuda_ptds -lcufft -lm -lpthread &
    wait
    for v in runs columns runs4 once; do [ -x "build/bench_pac_$v" ] || return 1; done
}

bench() { # bench NAME ARGS...: one key=value line, tagged with the variant
    name=$1; shift
    timeout 180 "build/bench_pac_$name" --backend cuda --precision f32 "$@" | sed "s/^/variant=$name /"
}

tool() { # the path of an NVIDIA tool, on the PATH or in its usual folders
    command -v "$1" 2>/dev/null || ls /usr/local/cuda/bin/"$1" /opt/nvidia/nsight-compute/*/"$1" 2>/dev/null | head -1
}

BINS="bench_pac bench_pac_runs bench_pac_columns bench_pac_runs4 bench_pac_once test_pacgpu_cuda test_pacgpu_cuda_ptds pac pac_cuda npy_compare"
if [ "${1:-}" = prebuild ]; then
    build_all && mkdir -p .devbin && (cd build && cp $BINS ../.devbin/) && exit 0
    exit 1
fi

{
    date
    nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,memory.total,driver_version --format=csv 2>&1
    $NVCC --version | tail -1
    if ! build_all; then
        echo "== the build failed here: binaries from .devbin"
        (cd .devbin && cp $BINS ../build/) || exit 1
    fi
    echo "== device tests"
    timeout 120 build/test_pacgpu_cuda
    echo "== device tests built with --default-stream per-thread (every copy must go through the run's stream)"
    timeout 120 build/test_pacgpu_cuda_ptds | tail -3
    echo "== the pac example on the GPU: the demo's signal (20 x 2048), 30 x 30 bands, 100 surrogates, vs the CPU's"
    build/pac --demo --out /tmp/pacdemo >/dev/null
    for b in cuda cpu; do
        timeout 60 build/pac_cuda --backend $b --signal /tmp/pacdemo/pac_signal.npy --fs 512 --pha-bands mres --amp-bands mres \
            --n-perm 100 --out /tmp/pac_$b.npy --png "$OUT/pac_${b}_comodulogram.png"
    done
    build/npy_compare /tmp/pac_cuda.npy /tmp/pac_cpu.npy 0 5e-5
    echo "== issue 6's case: 64 x 2048 at 512 Hz, 30 x 30 bands (mres), tensorpac's MI"
    build/bench_pac --synthetic 64,2048 --save /tmp/pac_x.npy
    for v in runs columns runs4 once; do
        for p in 0 200; do bench $v --input /tmp/pac_x.npy --n-perm $p --reps 20; done
    done
    bench runs --input /tmp/pac_x.npy --n-perm 100 --reps 20 # with 200: the cells' cost a surrogate
    echo "== the other device measures, same case: heights ratio (3), mean vector length (1), PLV (5), ndPAC (4, no surrogates)"
    for m in 3 1 5; do
        for p in 0 200; do bench runs --input /tmp/pac_x.npy --measure $m --n-perm $p --reps 10; done
    done
    bench runs --input /tmp/pac_x.npy --measure 4 --n-perm 0 --reps 10
    echo "== the large case: 512 x 20,000, 50 x 50 bands (hres), Tort's MI, 1000 surrogates"
    bench runs --synthetic 512,20000 --bands hres --mi tort --n-perm 1000 --reps 3 # pac__k_runs, rows once (runs1)
    bench columns --synthetic 512,20000 --bands hres --mi tort --n-perm 1000 --reps 1
    echo "== compute-sanitizer (memcheck, racecheck, synccheck, initcheck) on the device tests"
    CS=$(tool compute-sanitizer)
    if [ -n "$CS" ]; then
        for t in memcheck:90 racecheck:90 synccheck:60 initcheck:60; do
            lim=${t#*:} t=${t%:*}
            echo "-- $t"
            timeout $lim "$CS" --tool $t --error-exitcode 9 build/test_pacgpu_cuda 2>&1 | tail -25
        done
    else
        echo "no compute-sanitizer here"
    fi
    echo "== Nsight Compute: one launch of each cell kernel, issue 6's case, n_perm 200"
    NCU=$(tool ncu)
    if [ -n "$NCU" ]; then
        for v in runs columns; do
            k=pac__k_runs; [ $v = columns ] && k=pac__k_cells
            timeout 60 "$NCU" --clock-control none -k regex:$k -c 1 --section SpeedOfLight --section Occupancy \
                --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis \
                "build/bench_pac_$v" --backend cuda --precision f32 --input /tmp/pac_x.npy --n-perm 200 --reps 1 2>&1 |
                grep -v '^==PROF==' | tail -90
        done
    else
        echo "no ncu here"
    fi
    date
} 2>&1 | tee "$LOG"

echo
echo "variant  measure signals x samples  bands  n_perm prec cells    device_ms  cells_ms  phases_ms  amps_ms  wall_s  device_mb"
grep '^variant=' "$LOG" | sed 's/=/ /g' | awk '{
    for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
    printf "%-8s %-7s %7s x %-8s %5s  %6s %4s %-7s %9s %9s %10s %8s %7s %10s\n", v["variant"], v["measure"], v["signals"], v["samples"],
           v["bands"], v["n_perm"], v["precision"], v["cells"], v["device_ms"], v["device_cells_ms"], v["device_phases_ms"],
           v["device_amps_ms"], v["wall_s"], v["device_mb"]
}' | tee "$OUT/cuda_table.txt"
