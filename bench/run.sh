#!/bin/sh
# make bench: runs each benchmark side by side with its peers in one run and rewrites that
# benchmark's section of bench/RESULTS.md (between its <!-- NAME:begin/end --> markers) with the
# machine, the command and the table. Raw output lines are kept in bench/out/. Missing peers are
# installed with pip (or apt-get), said on stderr first; BENCH_INSTALL=0 installs nothing.
set -u
cd "$(dirname "$0")/.." || exit 1
mkdir -p bench/out
REPS=${REPS:-3}
BENCH_INSTALL=${BENCH_INSTALL:-1}

# install_peer WHAT PIP_PACKAGES -- APT_PACKAGES: installs a missing peer, saying so first;
# BENCH_INSTALL=0 installs nothing (the peers that are missing are then not run)
install_peer() {
    what=$1; shift
    pips=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do pips="$pips $1"; shift; done
    [ $# -gt 0 ] && shift
    if [ "$BENCH_INSTALL" = 0 ]; then
        echo "bench: $what is missing and BENCH_INSTALL=0: not installing it" >&2
        return 1
    fi
    echo "bench: installing $what for the side-by-side runs: pip install$pips${*:+ (or apt-get install $*)}" >&2
    pip install --quiet $pips >&2 2>/dev/null && return 0
    [ $# -gt 0 ] && apt-get install -y -qq "$@" >&2 2>/dev/null
}

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
    mi_tuned="MIMALLOC_ALLOW_DECOMMIT=0 MIMALLOC_RESET_DELAY=1000000"
    # the tuned configurations keep freed memory forever: faster reuse, higher peak RSS
    OPS=${OPS:-2000}
    SMALL_REPS=${SMALL_REPS:-5}
    mix_reps=$REPS
    # Configurations are listed first (LABEL|ENV...|ARGS..., one a line) and run in rounds, each
    # round running every one of them once in its own process: this VM swings between speeds for
    # seconds at a time, and interleaving makes a swing hit every allocator of a table alike.
    list=bench/out/.configs
    add() { # add LABEL ENV... -- ARGS...
        label=$1; shift
        envs=""
        while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
        shift
        echo "$label|$envs|$*" >>"$list"
    }
    rounds() { # rounds KEY REPS: runs the list, prints each configuration's median line and best
        key=$1
        rm -f bench/out/.runs.*
        r=0
        while [ $r -lt "$2" ]; do
            k=0
            while IFS='|' read -r label envs args; do
                k=$((k + 1))
                env $envs "$bin" $args >>"bench/out/.runs.$k" </dev/null || echo "bench_pool $args failed" >&2
            done <"$list"
            r=$((r + 1))
        done
        k=0
        while IFS='|' read -r label envs args; do
            k=$((k + 1))
            line=$(median_line "$key" "bench/out/.runs.$k")
            best=$(sed -n "s/.* $key=\([0-9.]*\).*/\1/p" "bench/out/.runs.$k" | sort -n | head -1)
            echo "label=$label $line best=$best" | tee -a "$raw"
        done <"$list"
        rm -f bench/out/.runs.* "$list"
    }
    echo "pool: buffer mix, $OPS ops, median of $REPS rounds" >&2
    : >"$list"
    add "tensorpool" -- mix --alloc tp --ops "$OPS"
    add "tensorpool, huge pages off" -- mix --alloc tp --ops "$OPS" --huge-pages -1
    add "glibc malloc" -- mix --alloc malloc --ops "$OPS"
    add "glibc tuned to keep memory" GLIBC_TUNABLES=$tuned -- mix --alloc malloc --ops "$OPS"
    [ -n "$jemalloc" ] && add "jemalloc" LD_PRELOAD=$jemalloc -- mix --alloc malloc --ops "$OPS"
    [ -n "$jemalloc" ] && add "jemalloc tuned to keep memory" LD_PRELOAD=$jemalloc \
        MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 -- mix --alloc malloc --ops "$OPS"
    [ -n "$mimalloc" ] && add "mimalloc" LD_PRELOAD=$mimalloc -- mix --alloc malloc --ops "$OPS"
    [ -n "$mimalloc" ] && add "mimalloc tuned to keep memory" LD_PRELOAD=$mimalloc $mi_tuned -- mix --alloc malloc --ops "$OPS"
    add "floor: no allocator" -- mix --alloc floor --ops "$OPS"
    rounds us_per_op "$REPS"
    echo "pool: small buffers, three patterns" >&2
    PAIRS=${PAIRS:-4000000}
    small_rows() { # small_rows PATTERN THREADS PAIRS: every allocator on one pattern
        : >"$list"
        add "tensorpool" -- small --pattern "$1" --alloc tp --threads "$2" --pairs "$3"
        add "tensorpool, thread caches off" -- small --pattern "$1" --alloc tp --threads "$2" --pairs "$3" --thread-caches -1
        [ "$1" = pair ] && [ "$2" = 1 ] && add "tensorpool, single_thread pool" -- small --pattern pair --alloc tp --threads 1 --single-thread 1 --pairs "$3"
        [ "$1" = pair ] && [ "$2" = 2 ] && add "tensorpool, a single_thread pool per thread" -- small --pattern pair --alloc tp --threads 2 --pool-per-thread 1 --pairs "$3"
        add "glibc malloc" -- small --pattern "$1" --alloc malloc --threads "$2" --pairs "$3"
        add "glibc tuned to keep memory" GLIBC_TUNABLES=$tuned -- small --pattern "$1" --alloc malloc --threads "$2" --pairs "$3"
        [ -n "$jemalloc" ] && add "jemalloc" LD_PRELOAD=$jemalloc -- small --pattern "$1" --alloc malloc --threads "$2" --pairs "$3"
        [ -n "$mimalloc" ] && add "mimalloc" LD_PRELOAD=$mimalloc -- small --pattern "$1" --alloc malloc --threads "$2" --pairs "$3"
        [ -n "$mimalloc" ] && add "mimalloc tuned to keep memory" LD_PRELOAD=$mimalloc $mi_tuned -- small --pattern "$1" --alloc malloc --threads "$2" --pairs "$3"
        rounds ns_per_pair "$SMALL_REPS"
    }
    small_rows pair 1 "$PAIRS"
    small_rows pair 2 "$PAIRS"
    small_rows live 1 "$PAIRS"
    small_rows live 2 "$PAIRS"
    small_rows handoff 2 $((PAIRS / 4))

    md=bench/out/pool.md
    {
        echo "## pool: tensorpool against the system allocators"
        echo
        echo "Measured $(date -u +%Y-%m-%d) on: $(machine)."
        echo "Command: \`make bench\` (\`bench/run.sh\`; \`BENCH=pool make bench\` runs only this section), which runs \`build/bench_pool\` once per allocator and"
        echo "configuration, each in its own process (jemalloc and mimalloc through LD_PRELOAD), in rounds: each round runs every"
        echo "configuration of a table once, so that this VM's swings in speed hit them alike. Mix: median of $mix_reps rounds."
        echo
        echo "**(a) Numeric-buffer mix**: $OPS allocations, sizes log-uniform in [4 KiB, 64 MiB], 4 live buffers"
        echo "(the oldest freed before each allocation), one byte written per 4 KiB page after each allocation."
        echo "Time per op includes that touching; \"alloc+free\" is the time inside the allocator calls alone."
        echo
        echo "| allocator | us/op | alloc+free us/op | page faults/op | peak RSS MiB |"
        echo "|---|---:|---:|---:|---:|"
        table_rows bench=mix "$raw" us_per_op alloc_free_us_per_op faults_per_op peak_rss_mib
        echo
        echo "**(b) Small buffers**, sizes log-uniform in [64 B, 64 KiB] (1024 sizes cycled, every class warm),"
        echo "in three patterns: *pair*, each thread allocates and frees at once (the hit path); *live*, each"
        echo "thread keeps 8 buffers and frees the oldest before each allocation; *handoff*, one thread"
        echo "allocates and another frees (producer and consumer through a ring of 64). Time per alloc + free"
        echo "per thread (handoff: per buffer). $SMALL_REPS rounds, median and best: this shared VM swings"
        echo "between two speeds from run to run. The tuned rows are the mix's tunings."
        echo
        echo "| pattern | allocator | threads | ns, median | ns, best |"
        echo "|---|---|---:|---:|---:|"
        grep bench=small "$raw" | while IFS= read -r l; do
            echo "| $(field pattern "$l") | $(printf '%s' "$l" | sed 's/^label=\(.*\) bench=.*/\1/') | $(field threads "$l") | $(field ns_per_pair "$l") | $(field best "$l") |"
        done
    } >"$md"
    replace_section pool "$md"
}

# ---- prom2d -----------------------------------------------------------------------------------
prom2d_bench() {
    bin=build/bench_prom2d
    raw=bench/out/prom2d.txt
    bins=${P2D_BINS:-100000}
    peer_bins=2000
    : >"$raw"
    # the peer: pyPho's step rebuilt with scipy/scikit-image, checked against pyPho's own outputs
    if ! python3 -c "import numpy, scipy, skimage" 2>/dev/null; then
        install_peer "the pyPho replica's numpy, scipy, scikit-image" numpy scipy scikit-image -- python3-numpy python3-scipy python3-skimage
    fi
    p2d_run() { # p2d_run LABEL ARGS...: REPS runs, the median by wall time
        label=$1; shift
        tmp=bench/out/.runs
        : >"$tmp"
        i=0
        while [ $i -lt "$REPS" ]; do
            "$bin" --bins "$bins" "$@" >>"$tmp" || echo "bench_prom2d $* failed" >&2
            i=$((i + 1))
        done
        echo "label=$label $(median_line wall_s "$tmp") best_us=$(sed -n 's/.* us_per_bin=\([0-9.]*\).*/\1/p' "$tmp" | sort -n | head -1)" | tee -a "$raw"
    }
    echo "prom2d: 41 x 63 x $bins float64, alphas 0.1/0.5/0.9, median of $REPS runs" >&2
    "$bin" --bins "$peer_bins" --mode exact --save-first "$peer_bins" bench/out/posterior_$peer_bins.npy >/dev/null
    p2d_run "exact, 8-conn, bit-packed masks" --mode exact
    p2d_run "exact, 8-conn, byte masks" --mode exact --packed 0
    p2d_run "exact, 4-conn, bit-packed masks" --mode exact --conn 4
    p2d_run "exact, 8-conn, bit-packed masks, 2 threads" --mode exact --threads 2
    p2d_run "pypho mode, bit-packed masks" --mode pypho
    p2d_run "masks only, bit-packed" --mode masks
    p2d_run "masks only, byte masks" --mode masks --packed 0
    p2d_run "exact, 10 % of the cells NaN (holes)" --mode exact --holes 0.1
    p2d_run "exact, periodic x and y" --mode exact --periodic 3
    p2d_run "exact, valleys" --mode exact --valleys 1
    p2d_run "exact + regions (geometry)" --mode exact --geometry 1
    p2d_run "exact + regions, half-prominence widths, labels" --mode exact --geometry 3
    gudhi=""
    if ! python3 -c "import gudhi" 2>/dev/null; then
        install_peer "gudhi (cubical persistence)" gudhi
    fi
    if python3 -c "import gudhi" 2>/dev/null && make -s build/prom2d; then
        build/prom2d --posterior bench/out/posterior_$peer_bins.npy --peaks-out bench/out/peaks_$peer_bins.npy >/dev/null
        gudhi_check=$(python3 bench/gudhi_peer.py --check bench/out/posterior_$peer_bins.npy bench/out/peaks_$peer_bins.npy)
        gudhi=$(python3 bench/gudhi_peer.py --time bench/out/posterior_$peer_bins.npy --reps "$REPS")
        echo "$gudhi_check" | tee -a "$raw"
        echo "label=gudhi $gudhi" | tee -a "$raw"
    else
        echo "prom2d: no gudhi: its side-by-side is not run" >&2
    fi
    peer=""
    if python3 -c "import numpy, scipy, skimage" 2>/dev/null; then
        check=$(python3 bench/pypho_replica.py --check tests/data/prom2d)
        peer=$(python3 bench/pypho_replica.py --time bench/out/posterior_$peer_bins.npy --reps "$REPS")
        echo "$check" | tee -a "$raw"
        echo "label=pyPho replica (numpy/scipy/scikit-image) $peer" | tee -a "$raw"
    else
        echo "prom2d: no numpy/scipy/scikit-image: the peer is not run" >&2
    fi
    md=bench/out/prom2d.md
    {
        echo "## prom2d: peaks and masks of 41 x 63 posteriors"
        echo
        echo "Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD 2>/dev/null) on: $(machine)."
        echo "Command: \`make bench\` (\`bench/run.sh\`; \`BENCH=prom2d make bench\` runs only this section). One process per"
        echo "row; each makes the same 41 x 63 x $bins float64 cube (C order, time fastest: 2-3 Gaussian bumps"
        echo "+ background + noise per bin, normalised, like the reference data) and runs prom2d on it with alphas"
        echo "0.1, 0.5, 0.9; peaks go to a callback that counts them. Median of $REPS runs by wall time; best"
        echo "us/bin beside it (this VM swings between two speeds run to run). Peak RSS includes the $(( bins * 41 * 63 * 8 / 1048576 )) MiB"
        echo "input cube and the mask output; \"beyond\" is the rest."
        echo
        echo "| configuration | us/bin | best us/bin | total s | CPU s | peak RSS MiB | beyond input+masks MiB | masks MiB | scratch KiB | peaks |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        table_rows bench=prom2d "$raw" us_per_bin best_us wall_s cpu_s maxrss_mb beyond_io_mb mask_mb scratch_kb peaks
        if [ -n "$peer" ]; then
            us=$(field us_per_bin "label=x $peer")
            echo
            echo "The peer, on the first $peer_bins bins of the same cube (\`bench/pypho_replica.py\`: pyPho's"
            echo "compute_2d_dt_posterior_peak_promenences rebuilt from the same scipy/scikit-image calls; pyPho itself"
            echo "is not installable here, and \`--check\` first confirms the replica reproduces pyPho's reference"
            echo "outputs: $(field check "$check"), $(field peaks "$check") peaks, masks equal: $(field masks_equal "$check");"
            echo "$(field versions "label=x $peer" | tr ',' ' ')). The reference measured pyPho's own function at ~0.95 ms/bin"
            echo "on this kind of machine with Debian's numpy 1.24 / scipy 1.10 / scikit-image 0.19 (../shared/refdata)."
            echo
            echo "| peer | bins | us/bin | total s | CPU s | peak RSS MiB | masks MiB (bool cubes) | projected for $bins bins |"
            echo "|---|---:|---:|---:|---:|---:|---:|---|"
            echo "| pyPho replica | $(field bins "label=x $peer") | $us | $(field wall_s "label=x $peer") | $(field cpu_s "label=x $peer") | $(field maxrss_mb "label=x $peer") | $(awk -v b="$(field mask_bytes "label=x $peer")" 'BEGIN {printf "%.1f", b / 1048576}') | $(awk -v u="$us" -v n="$bins" 'BEGIN {printf "%.0f s, %.0f MiB of masks", u * n / 1e6, 3 * 41 * 63 * n / 1048576}') |"
        fi
        if [ -n "$gudhi" ]; then
            us=$(field us_per_bin "label=x $gudhi")
            echo
            echo "gudhi's cubical persistence (\`bench/gudhi_peer.py\`: dimension-0 pairs of -Z, top-dimensional cells,"
            echo "so 8-connectivity; $(field versions "label=x $gudhi" | tr ',' ' ')) on the same first $peer_bins bins, peaks"
            echo "only (no masks), with the Python loop over bins and pairs that a user writes. Its prominences against"
            echo "\`build/prom2d\`'s on those bins: $(field check "$gudhi_check"), $(field peaks "$gudhi_check") peaks, $(field bins_differing "$gudhi_check") bins differing."
            echo
            echo "| peer | bins | us/bin | total s | CPU s | peak RSS MiB | projected for $bins bins |"
            echo "|---|---:|---:|---:|---:|---:|---|"
            echo "| gudhi CubicalComplex | $(field bins "label=x $gudhi") | $us | $(field wall_s "label=x $gudhi") | $(field cpu_s "label=x $gudhi") | $(field maxrss_mb "label=x $gudhi") | $(awk -v u="$us" -v n="$bins" 'BEGIN {printf "%.0f s", u * n / 1e6}') |"
        fi
    } >"$md"
    replace_section prom2d "$md"
}

# ---- pacgpu ----------------------------------------------------------------------------------
# pac_measure_table RAW PEER_PERM: one row per tensorpac method from the key=value lines of RAW
pac_measure_table() {
    awk -v k="$2" '
        function get(name,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name && index($i, "=")) return kv[2] } return "" }
        BEGIN { split("mvl mi hr ndpac plv gcpac", names, " "); for (i = 1; i <= 6; i++) id[names[i]] = i
                split("MVL,MI (tensorpac),heights ratio,ndPAC,PLV,Gaussian copula", label, ",") }
        /bench=pac_peer/ { m = get("method"); n = get("n_perm"); if (n == 0) { pw[m] = get("wall_s"); pc0[m] = get("cpu_s") } else pck[m] = get("cpu_s") }
        /bench=pac / && get("threads") == 2 && get("precision") == "f64" && get("signals") == 64 && get("mi") == "tensorpac" {
            m = id[get("measure")]; n = get("n_perm")
            if (n == 0) { ow[m] = get("wall_s"); diff[m] = get("max_rel_diff") } else if (get("surrogates") == "swap-blocks") ow2[m] = get("wall_s") }
        END { for (m = 1; m <= 6; m++) {
                  if (pw[m] == "" || ow[m] == "") continue
                  row = sprintf("| %d %s | %s | %s | %.0fx |", m, label[m], pw[m], ow[m], pw[m] / ow[m])
                  if (pck[m] != "" && ow2[m] != "") { proj = pc0[m] + (pck[m] - pc0[m]) / k * 200
                      row = row sprintf(" %.0f | %s | %.0fx |", proj, ow2[m], proj / ow2[m]) } else row = row " - | - | - |"
                  print row " " diff[m] " |" } }' "$1"
}

pac_bench() {
    bin=build/bench_pac
    raw=bench/out/pac.txt
    peer_perm=${PAC_PEER_PERM:-20}
    big_perm=${PAC_BIG_PERM:-10}
    : >"$raw"
    # the peer: tensorpac (pip), in its own process per configuration
    if ! python3 -c "import tensorpac" 2>/dev/null; then
        install_peer "tensorpac" tensorpac matplotlib
    fi
    have_peer=0
    python3 -c "import tensorpac" 2>/dev/null && have_peer=1
    if [ $have_peer = 1 ]; then
        python3 bench/pac_peer.py input bench/out/pac_x.npy
    else
        echo "pac: tensorpac not installable: the peer is not run; the input is the reference signal's recipe in C" >&2
        "$bin" --synthetic 64,2048 --save bench/out/pac_x.npy >/dev/null 2>&1
    fi
    pac_run() { # pac_run LABEL ARGS...: one process, REPS runs inside, median line
        label=$1; shift
        line=$("$bin" "$@") || { echo "bench_pac $* failed" >&2; return; }
        echo "label=$label $line" | tee -a "$raw"
    }
    peer_run() { # peer_run LABEL N_PERM REPS [OUT|- [METHOD]]
        label=$1; shift
        line=$(python3 bench/pac_peer.py run bench/out/pac_x.npy "$@" 2>/dev/null) || { echo "pac_peer $* failed" >&2; return; }
        echo "label=$label $line" | tee -a "$raw"
    }
    echo "pac: 64 x 2048 at 512 Hz, 'mres' 30 x 30 bands, tensorpac's MI" >&2
    cmp=""
    if [ $have_peer = 1 ]; then
        peer_run "tensorpac, n_perm 0" 0 "$REPS" bench/out/pac_mi_tensorpac.npy
        peer_run "tensorpac, n_perm $peer_perm (1 run)" "$peer_perm" 1
        cmp="--compare bench/out/pac_mi_tensorpac.npy"
    fi
    pac_run "pacgpu, n_perm 0, 1 thread" --input bench/out/pac_x.npy --reps "$((REPS * 3))" $cmp
    pac_run "pacgpu, n_perm 0, 2 threads" --input bench/out/pac_x.npy --threads 2 --reps "$((REPS * 3))" $cmp
    pac_run "pacgpu, n_perm 200, 1 thread" --input bench/out/pac_x.npy --n-perm 200 --reps "$REPS"
    pac_run "pacgpu, n_perm 200, 2 threads" --input bench/out/pac_x.npy --n-perm 200 --threads 2 --reps "$REPS"
    pac_run "pacgpu float32 histograms, n_perm 0, 2 threads" --input bench/out/pac_x.npy --threads 2 --precision f32 \
        --reps "$((REPS * 3))" $cmp
    pac_run "pacgpu float32 histograms, n_perm 200, 2 threads" --input bench/out/pac_x.npy --n-perm 200 --threads 2 \
        --precision f32 --reps "$REPS"
    echo "pac: tensorpac's other measures (idpac M), n_perm 0 and 200 swap-block surrogates with z-scores" >&2
    for m in 1 3 4 5 6; do
        cmp=""
        if [ $have_peer = 1 ]; then
            peer_run "tensorpac method $m, n_perm 0" 0 "$REPS" "bench/out/pac_m$m.npy" $m
            [ $m = 4 ] || peer_run "tensorpac method $m, n_perm $peer_perm (1 run)" "$peer_perm" 1 - $m
            cmp="--compare bench/out/pac_m$m.npy"
        fi
        pac_run "pacgpu method $m, n_perm 0, 2 threads" --input bench/out/pac_x.npy --measure $m --threads 2 \
            --reps "$((REPS * 3))" $cmp
        [ $m = 4 ] || pac_run "pacgpu method $m, n_perm 200, 2 threads" --input bench/out/pac_x.npy --measure $m \
            --n-perm 200 --threads 2 --reps "$REPS"
    done
    pac_run "pacgpu method 1, n_perm 200 swap-epochs, 2 threads" --input bench/out/pac_x.npy --measure 1 --n-perm 200 \
        --surrogate swap-epochs --threads 2 --reps "$REPS"
    echo "pac: 1024 x 20000, 'hres' 50 x 50 bands, Tort MI, $big_perm surrogates, 256 MiB budget (one run)" >&2
    pac_run "pacgpu, 1024 x 20000, 50 x 50, n_perm 0, 256 MiB budget, 2 threads" --synthetic 1024,20000 --bands hres \
        --mi tort --budget-mb 256 --threads 2 --reps 1
    pac_run "pacgpu, 1024 x 20000, 50 x 50, n_perm $big_perm, 256 MiB budget, 2 threads" --synthetic 1024,20000 --bands hres \
        --mi tort --budget-mb 256 --threads 2 --n-perm "$big_perm" --reps 1
    pac_run "pacgpu float32 histograms, 1024 x 20000, 50 x 50, n_perm $big_perm, 256 MiB budget, 2 threads" --synthetic 1024,20000 \
        --bands hres --mi tort --budget-mb 256 --threads 2 --n-perm "$big_perm" --precision f32 --reps 1
    md=bench/out/pac.md
    {
        echo "## pacgpu: phase-amplitude coupling"
        echo
        echo "Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD 2>/dev/null) on: $(machine)."
        echo "Command: \`make bench\` (\`bench/run.sh\`; \`BENCH=pac make bench\` runs only this section). Input: tensorpac's"
        echo "\`pac_signals_wavelet(f_pha=6, f_amp=80, sf=512, n_times=2048, n_epochs=64, noise=0.8, rnd_state=0)\` (the signal"
        echo "the reference study timed), 'mres' bands (30 x 30), tensorpac's MI (idpac 2), swap-blocks surrogates and"
        echo "z-scores (idpac (2, 2, 4)). Each row is one process (peak RSS is that process's, Python and numpy included"
        echo "for tensorpac); wall and CPU seconds are medians of the runs inside it, best beside. tensorpac runs with"
        echo "n_jobs=1 (all its work in its own process). \"max rel diff\" compares pacgpu's MI with tensorpac's on this input"
        echo "(- : not compared). This VM runs at two speeds about 1.4x apart and changed between rows; the best column shows it."
        echo
        echo "| configuration | wall s | best s | CPU s | peak RSS MiB | work buffers MiB | workers | bands/pass | max rel diff |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        table_rows "bench=pac " "$raw" wall_s best_s cpu_s maxrss_mb work_mb threads bands_per_pass max_rel_diff
        if [ $have_peer = 1 ]; then
            echo
            echo "| peer | n_perm | runs | wall s | best s | CPU s | peak RSS MiB |"
            echo "|---|---:|---:|---:|---:|---:|---:|"
            table_rows "bench=pac_peer" "$raw" n_perm reps wall_s best_s cpu_s maxrss_mb
            p0=$(grep "bench=pac_peer.* n_perm=0 " "$raw" | sed -n 's/.* cpu_s=\([0-9.]*\).*/\1/p')
            pk=$(grep "bench=pac_peer.* n_perm=$peer_perm " "$raw" | sed -n 's/.* cpu_s=\([0-9.]*\).*/\1/p')
            [ -n "$p0" ] && [ -n "$pk" ] && echo && echo "tensorpac's n_perm 200, projected from these two rows: $(awk -v a="$p0" -v b="$pk" -v k="$peer_perm" 'BEGIN {printf "%.0f CPU-s (%.2f CPU-s per surrogate)", a + (b - a) / k * 200, (b - a) / k}')."
            echo
            echo "Every measure side by side (pacgpu with 2 threads; tensorpac's n_perm 200 projected from its n_perm 0"
            echo "and n_perm $peer_perm rows as above, its cost being linear in n_perm; ndPAC has no surrogates in tensorpac):"
            echo
            echo "| method | tensorpac wall s, n_perm 0 | pacgpu wall s | faster | tensorpac CPU s, n_perm 200 | pacgpu wall s | faster | max rel diff |"
            echo "|---|---:|---:|---:|---:|---:|---:|---:|"
            pac_measure_table "$raw" "$peer_perm"
        fi
        b0=$(grep "n_perm 0, 256 MiB" "$raw" | sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p')
        b64=$(grep "^label=pacgpu, 1024 x 20000, 50 x 50, n_perm $big_perm," "$raw" | sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p')
        b32=$(grep "^label=pacgpu float32 histograms, 1024 x 20000" "$raw" | sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p')
        [ -n "$b0" ] && [ -n "$b64" ] && [ -n "$b32" ] && echo && echo "The large case with 1000 surrogates, projected from its n_perm 0 and n_perm $big_perm rows (each surrogate costs the same): $(awk -v a="$b0" -v b="$b64" -v c="$b32" -v k="$big_perm" 'BEGIN {printf "%.0f min in float64, %.0f min with float32 histograms", (a + (b - a) / k * 1000) / 60, (a + (c - a) / k * 1000) / 60}')." 
    } >"$md"
    replace_section pac "$md"
}

# ---- stat_stream: lesion network mapping -------------------------------------------------------
lnm_bench() {
    bin=build/bench_lnm
    raw=bench/out/lnm.txt
    data=${LNM_DATA:-bench/out/lnm_data}
    : >"$raw"
    if ! "$bin" --features | grep -q hdf5=1; then
        echo "lnm: build/bench_lnm was built without HDF5 (libhdf5-dev): the section is not run" >&2
        return
    fi
    if ! python3 -c "import numpy, h5py" 2>/dev/null; then
        install_peer "the LNM peers' numpy, h5py" numpy h5py -- python3-numpy python3-h5py
    fi
    # the connectome: 100 subjects x 200 time points x 50,000 voxels in 10 contiguous files (4 GB),
    # and 10 subjects in one gzip-1 file for the read comparison; made once, kept in $data
    mkdir -p "$data"
    [ -f "$data/contig/lesions.txt" ] || "$bin" --make-data "$data/contig" --subjects 100 --files 10 >&2 || return
    [ -f "$data/gzip/lesions.txt" ] || "$bin" --make-data "$data/gzip" --subjects 10 --files 1 --gzip >&2 || return
    lnm_run() { # lnm_run LABEL ARGS...: REPS runs, the median by wall time, best beside
        label=$1; shift
        tmp=bench/out/.runs
        : >"$tmp"
        i=0
        while [ $i -lt "$REPS" ]; do
            OPENBLAS_NUM_THREADS=1 "$bin" "$@" >>"$tmp" || echo "bench_lnm $* failed" >&2
            i=$((i + 1))
        done
        echo "label=$label $(median_line wall_s "$tmp") best_s=$(sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p' "$tmp" | sort -n | head -1)" | tee -a "$raw"
    }
    echo "lnm: 20 lesions x 100 subjects x 200 x 50,000, median of $REPS runs" >&2
    # into the page cache as reading them from disk leaves it: out first, because files written
    # by this machine stay cached in 4 KiB folios, mapped a 4 KiB page at a time; read back, they
    # come in 2 MiB folios, mapped with 2 MiB pages (a 40 MB subject mapped, touched and unmapped
    # in ~0.5 ms instead of 5-9 ms on this VM's Linux 6.18, ext4)
    for d in "$data"/contig "$data"/gzip; do "$bin" --evict "$d" >/dev/null; cat "$d"/*.h5 >/dev/null; done
    steal0=$(awk '/^cpu / {print $9}' /proc/stat 2>/dev/null) # the host's steal, to see a run it disturbed
    t0=$(date +%s)
    gemm=$("$bin" --gemm --reps 10) && echo "label=products $gemm" | tee -a "$raw"
    rd=$("$bin" --read "$data/contig") && echo "label=read contiguous $rd" | tee -a "$raw"
    rdz=$("$bin" --read "$data/gzip") && echo "label=read gzip-1 $rdz" | tee -a "$raw"
    lnm_run "mapped (ss_h5_view), 1 thread" --input "$data/contig" --policy ldk --threads 1 --view
    lnm_run "mapped (ss_h5_view), 2 threads" --input "$data/contig" --policy ldk --threads 2 --view
    lnm_run "mapped, 2 threads, with the mean-of-r map" --input "$data/contig" --policy ldk --threads 2 --view --avg-r
    lnm_run "mapped, 2 threads, float64 products" --input "$data/contig" --policy ldk --threads 2 --view --precision f64
    lnm_run "copied (ss_h5_read), 1 thread" --input "$data/contig" --policy ldk --threads 1
    lnm_run "copied (ss_h5_read), 2 threads" --input "$data/contig" --policy ldk --threads 2
    lnm_run "copied, 2 threads, read ahead" --input "$data/contig" --policy ldk --threads 2 --read-ahead
    lnm_run "gzip-1 file (10 subjects), 2 threads" --input "$data/gzip" --policy ldk --threads 2 --view
    have_peer=0
    if python3 -c "import numpy, h5py" 2>/dev/null; then
        have_peer=1
        for m in ldk32 mm32; do
            line=$(python3 bench/lnm_peer.py "$m" "$data/contig") && echo "label=$m $line" | tee -a "$raw"
        done
    fi
    echo "lnm: GSP1000's shape (120 time points x 228,483 voxels, 20 lesions), 10 subjects in memory" >&2
    lnm_run "GSP1000 shape, 2 threads, 10 subjects in memory, in place" --memory --subjects 10 --t 120 --v 228483 --policy ldk \
        --threads 2 --view
    steal1=$(awk '/^cpu / {print $9}' /proc/stat 2>/dev/null)
    t1=$(date +%s)
    md=bench/out/lnm.md
    {
        echo "## stat_stream: lesion network mapping"
        echo
        echo "Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD 2>/dev/null) on: $(machine)."
        echo "Command: \`make bench\` (\`bench/run.sh\`; \`BENCH=lnm make bench\` runs only this section). Input: 20 lesions"
        echo "of 100 random voxels, 100 subjects x 200 time points x 50,000 voxels float32 (N(0,1) noise + a shared"
        echo "N(0, 0.25) signal per time point + 100), in 10 contiguous HDF5 files of 10 subjects (4 GB, the ldk layout,"
        echo "in the page cache), written by \`build/bench_lnm --make-data\`, then evicted (\`--evict\`) and read back by cat as"
        echo "reading from disk leaves them (in 2 MiB folios here; freshly written files stay in 4 KiB ones, which"
        echo "ss_h5_view maps a 4 KiB page at a time). Policy ldk, mean z, std z, t, p; no"
        echo "mean-of-r map unless stated (the peers make none). \"mapped\": subjects shown in place by ss_h5_view (a"
        echo "memory map of the file, no copy; its pages count in the RSS); \"copied\": read by ss_h5_read into"
        echo "stat_stream's slab. One process per row; median of $REPS runs by wall time, best beside (this VM runs at"
        echo "two speeds ~1.4x apart). \"pool peak\" is stat_stream's own memory; the GSP1000 row's RSS includes its 4"
        echo "subjects held in memory as the input."
        echo
        echo "| configuration | wall s | best s | CPU s | ms per subject | peak RSS MiB | pool peak MiB | sum of mean z |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        table_rows "bench=lnm " "$raw" wall_s best_s cpu_s ms_per_subject maxrss_mb pool_peak_mb checksum_mean_z
        if [ -n "$steal0" ] && [ -n "$steal1" ]; then
            echo
            awk -v a="$steal0" -v b="$steal1" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" -v s="$((t1 - t0))" 'BEGIN {
                printf "The host took %.1f s of the vCPUs'"'"' time (steal, /proc/stat) during the %d s of this section'"'"'s runs.\n", (b - a) / hz, s }'
        fi
        if [ $have_peer = 1 ]; then
            echo
            echo "The peers on the same files (\`bench/lnm_peer.py\`: numpy replicas of the Python package's batch step,"
            echo "one file = one batch read whole with h5py; $(sed -n 's/.* versions=\([^ ]*\).*/\1/p' "$raw" | head -1 | tr ',' ' '); numpy's"
            echo "BLAS on both cores). One run each."
            echo
            echo "| peer | wall s | CPU s | of which reading s | peak RSS MiB | sum of mean z |"
            echo "|---|---:|---:|---:|---:|---:|"
            echo "$(table_rows "bench=lnm_peer" "$raw" wall_s cpu_s read_s maxrss_mb checksum_mean_z | sed 's/^| ldk32 /| ldk32: float32 einsum (the package) /; s/^| mm32 /| mm32: batched matmul /')"
        fi
        gsp=$(grep "GSP1000 shape" "$raw" | sed -n 's/.* ms_per_subject=\([0-9.]*\).*/\1/p')
        gz=$(grep "label=read gzip" "$raw" | sed -n 's/.* mb_per_s=\([0-9.]*\).*/\1/p')
        ct=$(grep "label=read contiguous" "$raw" | sed -n 's/.* mb_per_s=\([0-9.]*\).*/\1/p')
        if [ -n "$gsp" ] && [ -n "$gz" ] && [ -n "$ct" ]; then
            echo
            awk -v ms="$gsp" -v gz="$gz" -v ct="$ct" 'BEGIN {
                mb = 1000 * 120 * 228483 * 4 / 1e6
                printf "GSP1000 projected (1000 subjects x 120 x 228,483, %.0f GB of float32): the arithmetic at %.1f ms a subject\n", mb / 1000, ms
                printf "(the row above, 2 workers, subjects in place) is %.0f s; reading gzip-1 files through HDF5 at %.0f MB/s\n", ms, gz
                printf "(one thread inflates) is %.0f s (%.0f min), which then bounds the run. Contiguous files are mapped, not\n", mb / gz, mb / gz / 60
                printf "copied: the run takes the longer of the %.0f s and the time the storage needs to deliver the data (it keeps\n", ms
                printf "up at %.0f MB/s; copying them out of the page cache runs at %.0f MB/s here).\n", mb / ms, ct
            }'
        fi
        echo
        echo "Reading alone (\`bench_lnm --read\`: every subject through ss_h5_read into one buffer):"
        echo
        echo "| file | subjects | MB | wall s | CPU s | MB/s | ms per subject |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        table_rows "bench=lnm_read" "$raw" subjects mb wall_s cpu_s mb_per_s ms_per_subject
        echo
        echo "The products alone (\`bench_lnm --gemm\`, one thread, 20 x 200 x 50,000 float32, median of 10): the built-in"
        echo "kernel in blocks of 512 voxels as ss_lnm calls it, OpenBLAS's cblas_sgemm on the same blocks and on the whole"
        echo "product in one call; fraction = built-in GFLOP/s over cblas_sgemm's on the whole product."
        echo
        echo "| built-in ms | built-in GFLOP/s | cblas blocks ms | cblas blocks GFLOP/s | cblas whole ms | cblas whole GFLOP/s | fraction |"
        echo "|---:|---:|---:|---:|---:|---:|---:|"
        table_rows "bench=lnm_gemm" "$raw" builtin_ms builtin_gflops cblas_blocks_ms cblas_blocks_gflops cblas_whole_ms cblas_whole_gflops fraction \
            | sed 's/^| products |/|/'
    } >"$md"
    replace_section lnm "$md"
}

# ---- lnm at GSP1000's scale: a connectome on disk, the page cache evicted before every run ------
# 200 subjects x 120 time points x 228,483 voxels (GSP1000's grid; 22 GB contiguous in 10 files)
# and 50 of them as gzip-1 (5 files); 20 lesions of 500 voxels through build/lnm (2 workers) and
# build/lnm_mpi (2 ranks), each against its floor: reading the files (cat) for the contiguous
# ones, one-thread HDF5 inflation (bench_lnm --read) for the gzip ones. The data are removed
# after. Not in the default run (27 GB of disk, about 15 min): BENCH=gsp make bench.
gsp_bench() {
    bin=build/bench_lnm
    raw=bench/out/gsp.txt
    data=${GSP_DATA:-bench/out/gsp_data}
    S=${GSP_SUBJECTS:-200} Z=${GSP_GZIP_SUBJECTS:-50} V=228483 T=120
    : >"$raw"
    if ! "$bin" --features | grep -q hdf5=1; then
        echo "gsp: build/bench_lnm was built without HDF5 (libhdf5-dev): the section is not run" >&2
        return
    fi
    need=$(((S + Z) * T * V * 4 / 1048576 + 2048))
    mkdir -p "$data"
    free=$(df -Pm "$data" | awk 'NR == 2 {print $4}')
    if [ "$free" -lt "$need" ]; then
        echo "gsp: $need MB of disk needed in $data, $free free: the section is not run (GSP_DATA=DIR elsewhere)" >&2
        return
    fi
    python3 -c "import numpy" 2>/dev/null || install_peer "numpy (the lesions' .npy files)" numpy -- python3-numpy
    make -s build/lnm $(command -v mpicc >/dev/null && echo build/lnm_mpi) || return
    echo "gsp: writing $S subjects (contiguous) and $Z (gzip-1) of $T x $V to $data" >&2
    "$bin" --make-data "$data/contig" --subjects "$S" --files $((S / 20)) --t $T --v $V --seed-voxels 500 >&2 || return
    "$bin" --make-data "$data/gzip" --subjects "$Z" --files $((Z / 10)) --t $T --v $V --seed-voxels 500 --gzip >&2 || return
    python3 -c "
import numpy as np, sys
for l, line in enumerate(open(sys.argv[1] + '/lesions.txt')):
    np.save(sys.argv[1] + '/lesion_%02d.npy' % l, np.array(line.split(), dtype=np.int64))" "$data/contig" || return
    lesions=$(for f in "$data"/contig/lesion_*.npy; do printf ' --lesion %s' "$f"; done)
    mb_contig=$(du -smc "$data"/contig/*.h5 | tail -1 | cut -f1)
    mb_gzip=$(du -smc "$data"/gzip/*.h5 | tail -1 | cut -f1)
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    # gsp_run LABEL SUBJECTS MB DIR CMD...: evicts DIR, runs CMD under GNU time; with MPI each
    # rank under its own (the peak RSS is the largest rank's, CPU the ranks' sum)
    gsp_run() {
        label=$1 subj=$2 mb=$3 dir=$4; shift 4
        "$bin" --evict "$dir" >/dev/null
        rm -rf bench/out/gsp_maps bench/out/.gsp_time*
        t0=$(date +%s.%N)
        "$@" >bench/out/gsp_last.log 2>&1 || echo "gsp: $label failed (bench/out/gsp_last.log)" >&2
        t1=$(date +%s.%N)
        cpu=$(cat bench/out/.gsp_time* 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "=");
              if (kv[1] == "user_s" || kv[1] == "sys_s") c += kv[2]; if (kv[1] == "maxrss_kb" && kv[2] > m) m = kv[2] } }
              END { printf "cpu_s=%.1f maxrss_mb=%.0f", c, m / 1024 }')
        echo "label=$label bench=gsp subjects=$subj mb=$mb $(awk -v a="$t0" -v b="$t1" -v mb="$mb" -v s="$subj" \
            'BEGIN { w = b - a; printf "wall_s=%.1f mb_per_s=%.0f s_per_subject=%.3f min_1000=%.1f", w, mb / w, w / s, w / s * 1000 / 60 }') $cpu" \
            | tee -a "$raw"
    }
    TIMEF="user_s=%U sys_s=%S maxrss_kb=%M"
    run_lnm="/usr/bin/time -o bench/out/.gsp_time -f \"$TIMEF\" build/lnm --threads 2 --policy ldk --out-dir bench/out/gsp_maps $lesions"
    run_mpi="mpirun -np 2 sh -c 'exec /usr/bin/time -o bench/out/.gsp_time.\$OMPI_COMM_WORLD_RANK -f \"$TIMEF\" build/lnm_mpi --policy ldk --out-dir bench/out/gsp_maps $lesions \"\$@\"' lnm_mpi"
    steal0=$(awk '/^cpu / {print $9}' /proc/stat 2>/dev/null)
    gsp_run "read the contiguous files (cat): the floor" "$S" "$mb_contig" "$data/contig" \
        sh -c "/usr/bin/time -o bench/out/.gsp_time -f '$TIMEF' cat $data/contig/*.h5 >/dev/null"
    gsp_run "lnm, 2 workers, contiguous (mapped)" "$S" "$mb_contig" "$data/contig" sh -c "$run_lnm --connectome $data/contig"
    command -v mpicc >/dev/null &&
        gsp_run "lnm_mpi, 2 ranks, contiguous (mapped)" "$S" "$mb_contig" "$data/contig" sh -c "$run_mpi --connectome $data/contig"
    gsp_run "lnm --seed pini, 2 workers, contiguous (each file read twice)" "$S" "$mb_contig" "$data/contig" \
        sh -c "$run_lnm --seed pini --connectome $data/contig"
    gsp_run "inflate the gzip-1 files, 1 thread (bench_lnm --read): the floor" "$Z" "$mb_gzip" "$data/gzip" \
        sh -c "/usr/bin/time -o bench/out/.gsp_time -f '$TIMEF' $bin --read $data/gzip >/dev/null"
    gsp_run "lnm, 2 workers, gzip-1" "$Z" "$mb_gzip" "$data/gzip" sh -c "$run_lnm --connectome $data/gzip"
    gsp_run "lnm, 2 workers, gzip-1, read ahead" "$Z" "$mb_gzip" "$data/gzip" sh -c "$run_lnm --read-ahead --connectome $data/gzip"
    command -v mpicc >/dev/null &&
        gsp_run "lnm_mpi, 2 ranks, gzip-1 (two inflating)" "$Z" "$mb_gzip" "$data/gzip" sh -c "$run_mpi --connectome $data/gzip"
    steal1=$(awk '/^cpu / {print $9}' /proc/stat 2>/dev/null)
    rm -rf "$data" bench/out/gsp_maps bench/out/.gsp_time*
    echo "steal_s=$(((${steal1:-0} - ${steal0:-0}) / 100)) S=$S Z=$Z need=$need mb_contig=$mb_contig mb_gzip=$mb_gzip" >bench/out/gsp.env
    gsp_report
}

# the gsp section of RESULTS.md from bench/out/gsp.txt (BENCH=gsp-report rewrites it alone); each
# run's wall over its floor's: the floor run on the same files (same MB)
gsp_report() {
    raw=bench/out/gsp.txt
    env=$(cat bench/out/gsp.env)
    for k in steal_s S Z need mb_contig mb_gzip; do eval "$k=$(field $k "$env")"; done
    T=120 V=228483
    md=bench/out/gsp.md
    awk '/the floor/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "mb") m = kv[2]; if (kv[1] == "wall_s") w = kv[2] }
                       floor[m] = w }
         { line[NR] = $0 }
         END { for (n = 1; n <= NR; n++) { m = ""; w = ""; split(line[n], f, " ");
                   for (i in f) { split(f[i], kv, "="); if (kv[1] == "mb") m = kv[2]; if (kv[1] == "wall_s") w = kv[2] }
                   printf "%s x_floor=%.2f\n", line[n], (m in floor) ? w / floor[m] : 0 } }' "$raw" >"$raw.x"
    {
        echo "## lnm at GSP1000's scale (issue 25)"
        echo
        echo "Measured $(date +%F) at commit $(git rev-parse --short HEAD 2>/dev/null) on: $(machine); the host's steal during the runs: $steal_s s."
        echo "Command: \`BENCH=gsp make bench\` (bench/run.sh, not in the default run: it writes $((need / 1024)) GB and takes about"
        echo "15 min). Input: $S subjects x $T time points x $V voxels (GSP1000's grid) written by \`build/bench_lnm"
        echo "--make-data\` as $((S / 20)) contiguous HDF5 files ($mb_contig MB), and $Z subjects as $((Z / 10)) gzip-1 files ($mb_gzip MB); 20"
        echo "lesions of 500 random voxels; \`--policy ldk\`. Before every run the files are evicted from the page cache"
        echo "(\`bench_lnm --evict\`: POSIX_FADV_DONTNEED), so each run reads them from the disk. One run each (the disk"
        echo "dominates); wall by the shell, CPU and peak RSS by GNU time (with MPI per rank: the CPU is the ranks' sum, the"
        echo "RSS the larger rank's). min_1000: the wall projected to 1000 subjects. The data are removed after."
        echo
        echo "x floor: the wall over its floor's (the floor run on the same files). Targets (issue 25): contiguous within"
        echo "1.5x of reading, gzip within 1.2x of one-thread inflation, peak RSS under 1 GB."
        echo
        echo "| run | subjects | MB | wall s | x floor | MB/s | s / subject | min for 1000 | CPU s | peak RSS MB |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        table_rows "bench=gsp" "$raw.x" subjects mb wall_s x_floor mb_per_s s_per_subject min_1000 cpu_s maxrss_mb
    } >"$md"
    replace_section gsp "$md"
}

# ---- the Python binding: what it adds to a call (Pac.filterfit's wall minus pac_run's time in C) --
binding_bench() {
    raw=bench/out/binding.txt
    : >"$raw"
    PY=""
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null && "$p" -c "import numpy, setuptools" 2>/dev/null; then PY=$p; break; fi
    done
    if [ -z "$PY" ]; then echo "binding: no python3 with numpy and setuptools: the section is not run" >&2; return; fi
    "$PY" setup.py -q build_py --build-lib build/python_bench build_ext --force --build-lib build/python_bench --build-temp build/python_bench_tmp \
        >/dev/null 2>&1 || { echo "binding: the extension did not build" >&2; return; }
    PYTHONPATH=build/python_bench "$PY" bench/bench_binding.py "$REPS" | tee -a "$raw"
    md=bench/out/binding.md
    {
        echo "## The Python binding's overhead (issue 27)"
        echo
        echo "Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD 2>/dev/null) on: $(machine)."
        echo "Command: \`make bench\` (\`BENCH=binding make bench\` runs only this section): \`bench/bench_binding.py\`,"
        echo "\`membound.Pac(idpac, 'mres', 'mres').filterfit(512, x)\` on 64 x 2048 float64 with 2 threads; overhead = the"
        echo "call's wall time minus the time pac_run spent in C (measured inside the extension): argument checks,"
        echo "tensorpac's surrogate draws (made in C), the result arrays; Python's cyclic garbage collector paused during"
        echo "each timed call (a collection falling inside one, 4-5 ms here now and then, is Python's). Median and largest of"
        echo "$REPS calls. Target: under 1 ms."
        echo
        echo "| configuration | call ms | overhead ms | largest overhead ms |"
        echo "|---|---:|---:|---:|"
        table_rows "bench=binding" "$raw" call_ms overhead_ms overhead_max_ms | sed 's/_/ /g'
    } >"$md"
    replace_section binding "$md"
}

only=${BENCH:-pool prom2d pac lnm binding}
case " $only " in *" pool "*) make -s build/bench_pool || exit 1; pool_bench ;; esac
case " $only " in *" prom2d "*) make -s build/bench_prom2d || exit 1; prom2d_bench ;; esac
case " $only " in *" pac "*) make -s build/bench_pac || exit 1; pac_bench ;; esac
case " $only " in *" lnm "*) make -s build/bench_lnm || exit 1; lnm_bench ;; esac
case " $only " in *" gsp "*) make -s build/bench_lnm || exit 1; gsp_bench ;; esac
case " $only " in *" binding "*) binding_bench ;; esac
case " $only " in *" gsp-report "*) gsp_report ;; esac
echo "wrote bench/RESULTS.md" >&2
