#!/bin/sh
# tests/fuzz/campaign.sh [RUNS] [SECONDS]: builds every fuzz target (clang's libFuzzer with ASan and
# UBSan) and runs each on its corpus in tests/fuzz_corpus (new inputs go to build/fuzz/corpus_*,
# crashes to build/fuzz/, or FUZZ_DIR), the fast parsers for RUNS executions (default 10^7), the HDF5 targets
# for SECONDS each (default 1800; ~2,000 runs a second for the structure-aware one, which also
# stops at RUNS). Prints one line per target:
# executions, seconds, coverage, crashes (those inside libhdf5 counted apart: HDF5's parser has
# its own). Exits non-zero when a crash is ours. `make fuzz` runs it briefly; TESTING.md has a
# campaign's figures. FUZZ_ONLY="npy h5" runs only the targets named.
set -u
cd "$(dirname "$0")/../.." || exit 1
status=0
RUNS=${1:-10000000}
SECS=${2:-1800}
B=${FUZZ_DIR:-build/fuzz}
mkdir -p "$B"
FUZZ=$(tools/detect.sh fuzzer) || { echo "fuzz: clang with libFuzzer (libclang-rt-dev) not installed"; exit 0; }
CF="-std=c99 -D_DEFAULT_SOURCE -g -O1 -fno-sanitize-recover=all $FUZZ"
COMMON="examples/common/npy.c examples/common/nifti.c examples/common/png.c examples/common/progress.c examples/common/util.c examples/common/cli.c examples/common/outputs.c"
ZLIB=$(tools/detect.sh zlib)
H5=$(tools/detect.sh hdf5)

build() { # build NAME SOURCES...
    name=$1; shift
    clang $CF "$@" -o "$B/$name" -lm -lpthread 2>"$B/$name.build.log" || { echo "fuzz $name: build failed"; cat "$B/$name.build.log"; return 1; }
}

# run NAME CORPUS ARGS...: one target, its summary line (FUZZ_ONLY="name ...": only those)
run() {
    name=$1 corpus=$2; shift 2
    case " ${FUZZ_ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
    mkdir -p "$B/corpus_$name"
    t0=$(date +%s)
    "$B/$name" "$@" -artifact_prefix="$B/${name}_" "$B/corpus_$name" "$corpus" >"$B/$name.log" 2>&1
    rc=$?
    t=$(($(date +%s) - t0))
    last=$(grep -E '^#[0-9]+' "$B/$name.log" | tail -1)
    execs=$(printf '%s' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
    cov=$(printf '%s' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    crashes=0 in_hdf5=0
    for f in $(ls "$B" | grep "^${name}_\(crash\|leak\|timeout\|oom\)"); do
        # in the raw h5 target the source allocates under a budget: running out of memory is HDF5
        case "$name:$f" in h5:h5_oom-*) in_hdf5=$((in_hdf5 + 1)); continue ;; esac
        # a crash whose first frame below the sanitizer's interceptors is in libhdf5 is HDF5's own
        if "$B/$name" -malloc_limit_mb=1000000000 "$B/$f" 2>&1 | grep -E '^ +#[0-9]+ ' | grep -v -m1 'interceptor\|sysdeps\|libc\.so\| in malloc \| in calloc \| in realloc \| in strdup \| in memcpy \| in memmove ' |
            grep -q libhdf5; then in_hdf5=$((in_hdf5 + 1)); else crashes=$((crashes + 1)); fi
    done
    echo "fuzz $name: ${execs:-0} executions in $t s, coverage $cov edges, $crashes crash(es) of ours${in_hdf5:+, $in_hdf5 inside libhdf5}, exit $rc"
    [ "$crashes" -eq 0 ]
}

build npy tests/fuzz/npy.c examples/common/npy.c examples/common/util.c &&
    run npy tests/fuzz_corpus/npy -runs="$RUNS" -max_len=4096 || status=1
build nifti $ZLIB tests/fuzz/nifti.c examples/common/nifti.c examples/common/util.c $ZLIB &&
    run nifti tests/fuzz_corpus/nifti -runs="$RUNS" -max_len=4096 || status=1
for p in pac prom2d lnm pool; do
    P=$(echo "$p" | tr 'a-z' 'A-Z')
    build "cli_$p" -DFUZZ_PROGRAM_$P=1 tests/fuzz/cli.c $COMMON &&
        run "cli_$p" tests/fuzz_corpus/cli -runs="$RUNS" -max_len=512 -close_fd_mask=3 || status=1
done
if [ -n "$H5" ]; then
    # structure-aware: files HDF5 wrote, contents chosen to break the source's checks
    build h5_gen $H5 tests/fuzz/h5_gen.c $H5 && run h5_gen tests/fuzz_corpus/h5_gen -runs="$RUNS" -max_total_time="$SECS" -max_len=512 || status=1
    # raw bytes: HDF5's own parser on damaged files; its crashes are kept and counted, the run goes on
    build h5 $H5 tests/fuzz/h5.c $H5 &&
        run h5 tests/fuzz_corpus/h5 -max_total_time="$SECS" -max_len=16384 -malloc_limit_mb=1000000000 -fork=1 \
            -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 || status=1
else
    echo "fuzz h5, h5_gen: no HDF5 (libhdf5-dev)"
fi
exit $status
