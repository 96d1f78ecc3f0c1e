#!/bin/sh
# make bench: runs each benchmark side by side with its peers in one run and rewrites that
# benchmark's section of bench/RESULTS.md (between its <!-- NAME:begin/end --> markers) with the
# machine, the command and the table. Raw output lines are kept in bench/out/.
set -u
cd "$(dirname "$0")/.." || exit 1
mkdir -p bench/out
REPS=${REPS:-3}

machine() {
    cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
    mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
    thp=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
    echo "$cpu, $(nproc) cores, $mem, Linux $(uname -r), THP $thp, $(cc --version | head -1)"
}

# field NAME LINE: the value of NAME=... in a key=value line
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# table_rows PATTERN FILE FIELD...: a markdown row per matching line: its label, then the fields
table_rows() {
    pat=$1; file=$2; shift 2
    grep "$pat" "$file" | while IFS= read -r l; do
        row="| $(printf '%s' "$l" | sed 's/^label=\(.*\) bench=.*/\1/') |"
        for f in "$@"; do row="$row $(field "$f" "$l") |"; done
        echo "$row"
    done
}

# median of the runs of one configuration, by the given field
median_line() { # median_line FIELD FILE
    awk -v f="$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] "\t" $0 } }' "$2" \
        | sort -n | awk -v n="$(wc -l <"$2")" 'NR == int((n + 1) / 2) { sub(/^[^\t]*\t/, ""); print }'
}

# replace_section NAME FILE: puts FILE between NAME's markers in RESULTS.md (appends if absent)
replace_section() {
    r=bench/RESULTS.md
    [ -f "$r" ] || printf '# Benchmark results\n\nEach section is written by `make bench` (bench/run.sh); figures are medians of %s runs.\n' "$REPS" >"$r"
    if grep -q "<!-- $1:begin -->" "$r"; then
        awk -v name="$1" -v file="$2" '
            $0 == "<!-- " name ":begin -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
            $0 == "<!-- " name ":end -->" { skip = 0 }
            !skip { print }' "$r" >"$r.tmp" && mv "$r.tmp" "$r"
    else
        { echo; echo "<!-- $1:begin -->"; cat "$2"; echo "<!-- $1:end -->"; } >>"$r"
    fi
}

# ---- pool ------------------------------------------------------------------------------------
pool_bench() {
    bin=build/bench_pool
    raw=bench/out/pool.txt
    : >"$raw"
    jemalloc=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1)
    mimalloc=$(ls /usr/lib/*/libmimalloc.so.2 2>/dev/null | head -1)
    tuned="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
    # the tuned configurations keep freed memory forever: faster reuse, higher peak RSS
    OPS=${OPS:-2000}
    SMALL_REPS=${SMALL_REPS:-5}
    mix_reps=$REPS
    run() { # run LABEL ENV... -- ARGS...: REPS runs, prints the median line with its label and best
        label=$1; shift
        envs=""
        while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
        shift
        tmp=bench/out/.runs
        : >"$tmp"
        i=0
        while [ $i -lt "$REPS" ]; do
            env $envs "$bin" "$@" >>"$tmp" || echo "bench_pool $* failed" >&2
            i=$((i + 1))
        done
        key=us_per_op
        [ "$1" = small ] && key=ns_per_pair
        line=$(median_line $key "$tmp")
        best=$(sed -n "s/.* $key=\([0-9.]*\).*/\1/p" "$tmp" | sort -n | head -1)
        echo "label=$label $line best=$best" | tee -a "$raw"
    }
    echo "pool: buffer mix, $OPS ops, median of $REPS runs per allocator" >&2
    run "tensorpool" -- mix --alloc tp --ops "$OPS"
    run "tensorpool, huge pages off" -- mix --alloc tp --ops "$OPS" --huge-pages -1
    run "glibc malloc" -- mix --alloc malloc --ops "$OPS"
    run "glibc tuned to keep memory" GLIBC_TUNABLES=$tuned -- mix --alloc malloc --ops "$OPS"
    [ -n "$jemalloc" ] && run "jemalloc" LD_PRELOAD=$jemalloc -- mix --alloc malloc --ops "$OPS"
    [ -n "$jemalloc" ] && run "jemalloc tuned to keep memory" LD_PRELOAD=$jemalloc \
        MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 -- mix --alloc malloc --ops "$OPS"
    [ -n "$mimalloc" ] && run "mimalloc" LD_PRELOAD=$mimalloc -- mix --alloc malloc --ops "$OPS"
    run "floor: no allocator" -- mix --alloc floor --ops "$OPS"
    echo "pool: small-buffer hit path" >&2
    REPS=$SMALL_REPS
    run "tensorpool, shared pool" -- small --alloc tp --threads 1
    run "tensorpool, single_thread pool" -- small --alloc tp --threads 1 --single-thread 1
    run "glibc malloc" -- small --alloc malloc --threads 1
    [ -n "$jemalloc" ] && run "jemalloc" LD_PRELOAD=$jemalloc -- small --alloc malloc --threads 1
    [ -n "$mimalloc" ] && run "mimalloc" LD_PRELOAD=$mimalloc -- small --alloc malloc --threads 1
    run "tensorpool, one shared pool" -- small --alloc tp --threads 2 --pairs 5000000
    run "tensorpool, a single_thread pool per thread" -- small --alloc tp --threads 2 --pool-per-thread 1 --pairs 10000000
    run "glibc malloc" -- small --alloc malloc --threads 2 --pairs 10000000
    [ -n "$jemalloc" ] && run "jemalloc" LD_PRELOAD=$jemalloc -- small --alloc malloc --threads 2 --pairs 10000000
    [ -n "$mimalloc" ] && run "mimalloc" LD_PRELOAD=$mimalloc -- small --alloc malloc --threads 2 --pairs 10000000

    md=bench/out/pool.md
    {
        echo "## pool: tensorpool against the system allocators"
        echo
        echo "Measured $(date -u +%Y-%m-%d) on: $(machine)."
        echo "Command: \`make bench\` (\`bench/run.sh\`, which runs \`build/bench_pool\` once per allocator and"
        echo "configuration, each in its own process: jemalloc and mimalloc through LD_PRELOAD). Mix: median of $mix_reps runs."
        echo
        echo "**(a) Numeric-buffer mix**: $OPS allocations, sizes log-uniform in [4 KiB, 64 MiB], 4 live buffers"
        echo "(the oldest freed before each allocation), one byte written per 4 KiB page after each allocation."
        echo "Time per op includes that touching; \"alloc+free\" is the time inside the allocator calls alone."
        echo
        echo "| allocator | us/op | alloc+free us/op | page faults/op | peak RSS MiB |"
        echo "|---|---:|---:|---:|---:|"
        table_rows bench=mix "$raw" us_per_op alloc_free_us_per_op faults_per_op peak_rss_mib
        echo
        echo "**(b) Small-buffer hit path**: alloc + free pairs, sizes log-uniform in [64 B, 64 KiB] (1024 sizes"
        echo "cycled, every class warm). With two threads the time is per pair per thread. $SMALL_REPS runs each:"
        echo "this shared VM swings between two speeds from run to run (e.g. 20 and 34 ns for the same binary),"
        echo "so the best run is shown beside the median."
        echo
        echo "| allocator | threads | ns per pair, median | ns per pair, best |"
        echo "|---|---:|---:|---:|"
        table_rows bench=small "$raw" threads ns_per_pair best
    } >"$md"
    replace_section pool "$md"
}

make -s build/bench_pool || exit 1
pool_bench
echo "wrote bench/RESULTS.md" >&2
