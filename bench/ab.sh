#!/bin/sh
# A/B of two builds of the benchmark programs (e.g. a release against the one before it):
#   git worktree add /tmp/old v0.x && make -C /tmp/old build/bench_pool build/bench_prom2d build/bench_pac build/bench_lnm
#   make build/bench_pool build/bench_prom2d build/bench_pac build/bench_lnm
#   sh bench/ab.sh /tmp/old/build build > ab.txt
# Each configuration runs 3 rounds, old then new, each run in its own process, so that the VM's
# speed changes hit both sides alike. Prints one line per run: label, side, round, the program's line.
set -eu
OLD=$1 NEW=$2 ROUNDS=${ROUNDS:-3}
X=${TMPDIR:-/tmp}/ab_pac_x.npy
[ -f "$X" ] || "$NEW/bench_pac" --synthetic 64,2048 --save "$X" >/dev/null
run() { # label program args...
    label=$1; shift
    round=1
    while [ $round -le "$ROUNDS" ]; do
        for side in old new; do
            dir=$OLD; [ $side = new ] && dir=$NEW
            printf '%s %s round=%s %s\n' "$label" $side $round "$("$dir/$@" 2>&1 | tail -1)"
        done
        round=$((round + 1))
    done
}
run pool_mix bench_pool mix --alloc tp --ops 2000
run pool_small1 bench_pool small --alloc tp --threads 1
run pool_small1_st bench_pool small --alloc tp --threads 1 --single-thread 1
run pool_small2 bench_pool small --alloc tp --threads 2 --pairs 5000000
run p2d_exact bench_prom2d --bins 30000 --mode exact
run p2d_exact_t2 bench_prom2d --bins 30000 --mode exact --threads 2
run p2d_pypho bench_prom2d --bins 30000 --mode pypho
run p2d_masks bench_prom2d --bins 30000 --mode masks
run pac0_t1 bench_pac --input "$X" --reps 9
run pac0_t2 bench_pac --input "$X" --threads 2 --reps 9
run pac200_t2 bench_pac --input "$X" --n-perm 200 --threads 2 --reps 3
run pac200_f32_t2 bench_pac --input "$X" --n-perm 200 --threads 2 --precision f32 --reps 3
run lnm_gemm bench_lnm --gemm --reps 10
run lnm_gsp bench_lnm --memory --subjects 10 --t 120 --v 228483 --policy ldk --threads 2 --view
run lnm_gsp_copied bench_lnm --memory --subjects 10 --t 120 --v 228483 --policy ldk --threads 2
