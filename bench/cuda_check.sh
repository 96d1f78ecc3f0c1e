#!/bin/sh
# bench/cuda_check.sh - what pacgpu's CUDA backend needs checked on a GPU, in one call of the
# device tool (15 minutes a session): build, the device tests (device vs CPU float32), issue 6's
# benchmark case with each cell kernel and the large case; a table last. Logs go to $OUT (the
# device tool's folder that comes back) or bench/out. About 3 minutes on an H200 by estimate.
# Run from the repository root:   sh bench/cuda_check.sh
set -u
OUT=${OUT:-bench/out}
mkdir -p "$OUT" build
LOG=$OUT/cuda_check.log
ARCH="-gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90"

# a bench_pac_cuda built with extra macros: variant NAME FLAGS...
variant() {
    name=$1; shift
    nvcc -std=c++14 -O2 $ARCH -DPACGPU_USE_CUDA "$@" -x cu -c bench/bench_pac.c -o "build/bench_pac_$name.o" &&
        nvcc $ARCH "build/bench_pac_$name.o" build/npy_cuda.o build/util_cuda.o -o "build/bench_pac_$name" -lcufft -lm -lpthread
}

bench() { # bench NAME ARGS...: one key=value line, tagged with the variant
    name=$1; shift
    "build/bench_pac_$name" --backend cuda --precision f32 "$@" | sed "s/^/variant=$name /"
}

{
    nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,memory.total --format=csv 2>&1
    nvcc --version | tail -1
    make -s build/bench_pac cuda || exit 1
    variant runs && variant columns -DPAC__CUDA_RUNS=0 && variant runs4 -DPAC__RUNS_BANDS=4 || exit 1
    echo "== device tests"
    build/test_pacgpu_cuda
    echo "== issue 6's case: 64 x 2048 at 512 Hz, 30 x 30 bands (mres), tensorpac's MI"
    build/bench_pac --synthetic 64,2048 --save /tmp/pac_x.npy
    for v in runs columns runs4; do
        for p in 0 200; do bench $v --input /tmp/pac_x.npy --n-perm $p --reps 20; done
    done
    bench runs --input /tmp/pac_x.npy --n-perm 100 --reps 20 # with 200: the cells' cost a surrogate
    echo "== the large case: 512 x 20,000, 50 x 50 bands (hres), Tort's MI, 1000 surrogates"
    bench runs --synthetic 512,20000 --bands hres --mi tort --n-perm 1000 --reps 3
} 2>&1 | tee "$LOG"

echo
echo "variant  signals x samples  bands  n_perm  cells    device_ms  cells_ms  phases_ms  amps_ms  wall_s  device_mb"
grep '^variant=' "$LOG" | sed 's/=/ /g' | awk '{
    for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
    printf "%-8s %7s x %-8s %5s  %6s  %-7s %9s %9s %10s %8s %7s %10s\n", v["variant"], v["signals"], v["samples"], v["bands"],
           v["n_perm"], v["cells"], v["device_ms"], v["device_cells_ms"], v["device_phases_ms"], v["device_amps_ms"], v["wall_s"], v["device_mb"]
}'
