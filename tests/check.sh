#!/bin/sh
# make check: the quick look (about a minute on 2 cores, after the build): every test program
# built by make, once, and the example programs against bad input (tests/cli.sh). The whole
# suite, with sanitizers, valgrind and every build variant, is make test.
cd "$(dirname "$0")/.." || exit 1
B=build
failed=0
for t in test_tensorpool test_common test_prom2d test_pacgpu test_stat_stream test_v1 test_alloc_faults test_pacgpu_cuda_emu test_pacgpu_cuda; do
    [ -x "$B/$t" ] || continue
    if "$B/$t" >"$B/$t.log" 2>&1; then
        grep -E ': [0-9]+ passed, [0-9]+ failed' "$B/$t.log" | tail -1
    else
        echo "FAILED  $t"
        grep -v '^ok ' "$B/$t.log" | sed 's/^/    /' | head -20
        failed=$((failed + 1))
    fi
done
if sh tests/cli.sh "$B" >"$B/cli.log" 2>&1; then tail -1 "$B/cli.log"; else cat "$B/cli.log"; failed=$((failed + 1)); fi
if [ "$failed" -eq 0 ]; then echo "check: all passed (make test runs the whole suite)"; else echo "check: $failed failed"; fi
[ "$failed" -eq 0 ]
