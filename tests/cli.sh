#!/bin/sh
# tests/cli.sh BUILD_DIR - the example programs against bad input and typos (DESIGN.md section 7).
# Needs in BUILD_DIR the programs as tests/run.sh names them (pac_cli, prom2d_cli, lnm_cli, pool,
# npy_make; lnm_cli_hdf5 when present) or as the Makefile does (pac, prom2d, lnm, pool, npy_make). Every case gives the exit status it expects and a phrase its stderr
# (or stdout, for -h) must hold; a case that expects a failure must also leave nothing behind in
# the output directory (no partial file, no temporary).
B=${1:-build}
W=$B/cli_cases
rm -rf "$W"
mkdir -p "$W/in" "$W/dir.npy"
passed=0
failed=0
pick() { if [ -x "$B/$1" ]; then echo "$B/$1"; else echo "$B/$2"; fi; }
PACB=$(pick pac_cli pac)
P2DB=$(pick prom2d_cli prom2d)
LNMB=$(pick lnm_cli lnm)
POOLB=$B/pool
LNMH5=$(pick lnm_cli_hdf5 lnm)
[ -x "$LNMH5" ] || LNMH5=
[ -n "$LNMH5" ] && "$LNMH5" --connectome /nonexistent.h5 --lesion x.npy --out-dir "$W/probe" 2>&1 | grep -q 'no HDF5 support' && LNMH5=

fail_case() {
    failed=$((failed + 1))
    echo "FAIL cli: $*"
}

# expect STATUS PHRASE CMD...: runs CMD in a fresh $W/out; checks the status, the phrase, and
# that a failed run left no file in $W/out
expect() {
    want=$1 phrase=$2
    shift 2
    rm -rf "$W/out"
    mkdir -p "$W/out"
    "$@" >"$W/stdout" 2>"$W/stderr"
    got=$?
    left=$(find "$W/out" -type f | wc -l)
    if [ "$got" -ne "$want" ]; then
        fail_case "exit $got, want $want: $*"
        sed 's/^/    /' "$W/stderr" | head -3
    elif ! grep -qF -- "$phrase" "$W/stderr" "$W/stdout"; then
        fail_case "no '$phrase' in the output of: $*"
        sed 's/^/    /' "$W/stderr" | head -3
    elif [ "$want" -ne 0 ] && [ "$want" -ne 3 ] && [ "$left" -ne 0 ]; then
        fail_case "a failed run left $left file(s) in the output directory: $*"
    else
        passed=$((passed + 1))
    fi
}

"$B/npy_make" "$W/in/const.npy" const 3 2048 &&
    "$B/npy_make" "$W/in/nan.npy" nan 3 2048 &&
    "$B/npy_make" "$W/in/sig.npy" noise 4 2048 &&
    "$B/npy_make" "$W/in/sig3.npy" noise 3 2048 &&
    "$B/npy_make" "$W/in/flat.npy" noise 1 300 &&
    "$B/npy_make" "$W/in/les.npy" int 1 10 || { echo "FAIL cli: npy_make"; exit 1; }
mkdir -p "$W/in/a" "$W/in/b"
cp "$W/in/les.npy" "$W/in/a/les.npy"
cp "$W/in/les.npy" "$W/in/b/les.npy"
printf 'not an npy file' >"$W/in/text.npy"
SIG=tests/data/pac/signal.npy
POST=tests/data/prom2d/posterior_200.npy
O=$W/out

# ---- every program: help, unknown options, missing and malformed values -------------------------
for p in "$PACB" "$P2DB" "$LNMB" "$POOLB"; do
    expect 0 "usage:" "$p" -h
    expect 0 "usage:" "$p" --help
    expect 2 "unknown option --bogus" "$p" --bogus
    expect 2 "unknown option --bogus" "$p" --bogus=3
    expect 2 "unexpected argument 'stray'" "$p" stray
done
expect 2 "did you mean --signal" "$PACB" --sginal x.npy
expect 2 "did you mean --posterior" "$P2DB" --postrior p.npy
expect 2 "did you mean --connectome" "$LNMB" --conectome c.h5
expect 2 "did you mean --frames" "$POOLB" --frams 3

# ---- pac ------------------------------------------------------------------------------------------
PAC="$PACB --signal $SIG --pha-bands lres --amp-bands lres"
expect 2 "--fs needs a value" $PAC --fs
expect 2 "--fs needs a value, not an option" $PAC --fs --out "$O/mi.npy"
expect 2 "--fs wants a sampling rate in Hz, above 0; not '-3'" $PAC --fs -3 --out "$O/mi.npy"
expect 2 "--fs wants" $PAC --fs 0 --out "$O/mi.npy"
expect 2 "--fs wants" $PAC --fs nan --out "$O/mi.npy"
expect 2 "--fs wants" $PAC --fs 512Hz --out "$O/mi.npy"
expect 2 "--fs is given twice" $PAC --fs 512 --fs 256 --out "$O/mi.npy"
expect 2 "--n-perm wants a number of surrogates" $PAC --fs 512 --n-perm -1 --out "$O/mi.npy"
expect 2 "--n-perm wants" $PAC --fs 512 --n-perm 2.5 --out "$O/mi.npy"
expect 2 "--threads wants" $PAC --fs 512 --threads 65 --out "$O/mi.npy"
expect 2 "--mi is one of tort|tensorpac" $PAC --fs 512 --mi kl --out "$O/mi.npy"
expect 2 "--surrogate is one of" $PAC --fs 512 --surrogate shuffle --out "$O/mi.npy"
expect 2 "--backend is one of" $PAC --fs 512 --backend gpu --out "$O/mi.npy"
expect 2 "--budget-mb wants" $PAC --fs 512 --budget-mb 0 --out "$O/mi.npy"
expect 2 "--out needs a value, not an empty string" $PAC --fs 512 --out ""
expect 1 "are required" "$PACB" --signal $SIG --fs 512 --out "$O/mi.npy"
expect 1 "need surrogates" $PAC --fs 512 --out "$O/mi.npy" --z-out "$O/z.npy"
expect 1 "give --cuts or --n-perm, not both" $PAC --fs 512 --out "$O/mi.npy" --n-perm 5 --cuts tests/data/pac/surrogate_cuts.npy
expect 1 "less than one cycle" $PAC --fs 1e9 --out "$O/mi.npy"
expect 1 "want M,S,N: M in 1..6" $PAC --fs 512 --out "$O/mi.npy" --idpac 7,0,0
expect 1 "want M,S,N" $PAC --fs 512 --out "$O/mi.npy" --idpac 1,2
expect 1 "want M,S,N" $PAC --fs 512 --out "$O/mi.npy" --idpac 1,2,4x
expect 1 "--mi chooses the modulation index's form" $PAC --fs 512 --out "$O/mi.npy" --idpac 1,2,4 --mi tort
expect 1 "not both" $PAC --fs 512 --out "$O/mi.npy" --idpac 1,2,4 --surrogate time-lag
expect 1 "--n-perm needs surrogates: --idpac's second digit is 0" $PAC --fs 512 --out "$O/mi.npy" --idpac 1,0,0 --n-perm 5
expect 1 "not --idpac M,1,N (swap-epochs)" $PAC --fs 512 --out "$O/mi.npy" --idpac 1,1,4 --cuts tests/data/pac/surrogate_cuts.npy
expect 1 "ndPAC has no surrogates" $PAC --fs 512 --out "$O/mi.npy" --idpac 4,2,4 --z-out "$O/z.npy"
expect 0 "ndPAC runs without surrogates or normalisation" $PAC --fs 512 --out "$O/mi.npy" --idpac 4,2,4 --n-perm 5
expect 0 "a normalisation needs surrogates" $PAC --fs 512 --out "$O/mi.npy" --idpac 5,0,4
expect 1 "--pvalues-out need surrogates" $PAC --fs 512 --out "$O/mi.npy" --pvalues-out "$O/pv.npy"
expect 2 "--mcp is one of maxstat|fdr|bonferroni" $PAC --fs 512 --out "$O/mi.npy" --mcp holm
expect 2 "--p-threshold wants a significance level" $PAC --fs 512 --out "$O/mi.npy" --p-threshold 0
expect 1 "--pp-out and --binamp-out use tensorpac's pooled bin counts" $PAC --fs 512 --out "$O/mi.npy" --pp-out "$O/pp.npy"
expect 0 "strongest coupling" $PAC --fs 512 --out "$O/mi.npy" --idpac 3,0,0 --n-bins 12 --pp-out "$O/pp.npy" --binamp-out "$O/b.npy"
expect 1 "--erpac-p-out and --erpac-png need --erpac-out" $PAC --fs 512 --out "$O/mi.npy" --erpac-p-out "$O/ep.npy"
expect 1 "--erpac-p-out and --erpac-png need --erpac-out" $PAC --fs 512 --out "$O/mi.npy" --erpac-png "$O/e.png"
expect 1 "the gc method's p-values need permutations" $PAC --fs 512 --erpac-out "$O/e.npy" --erpac-method gc --erpac-p-out "$O/ep.npy"
expect 2 "--erpac-method is one of circular|gc" $PAC --fs 512 --erpac-out "$O/e.npy" --erpac-method voytek
expect 0 "event-related PAC (circular-linear correlation) over 8 epochs" $PAC --fs 512 --erpac-out "$O/e.npy" --erpac-p-out "$O/ep.npy" \
    --erpac-png "$O/e.png"
[ -s "$O/e.npy" ] && [ -s "$O/ep.npy" ] && [ -s "$O/e.png" ] || fail_case "pac --erpac-out wrote no files"
expect 1 "--edges 1023 leaves fewer than 4 of the 2048 samples: drop at most 1022" $PAC --fs 512 --out "$O/mi.npy" --edges 1023
expect 2 "--edges wants a number of samples" $PAC --fs 512 --out "$O/mi.npy" --edges -1
expect 1 "has shape (4, 2048), --signal $SIG has (8, 2048)" $PAC --fs 512 --out "$O/mi.npy" --amp-signal "$W/in/sig.npy"
expect 0 "strongest coupling" "$PACB" --signal "$W/in/sig.npy" --amp-signal "$W/in/sig.npy" --fs 512 --pha-bands lres \
    --amp-bands lres --out "$O/mi.npy"
expect 3 "1 of 3 signals have no meaningful" "$PACB" --signal "$W/in/sig3.npy" --amp-signal "$W/in/nan.npy" --fs 512 \
    --pha-bands lres --amp-bands lres --out "$O/mi.npy"
expect 1 "fs / 2" $PAC --fs 100 --out "$O/mi.npy"
expect 1 "is a directory, not a file" "$PACB" --signal "$W/dir.npy" --fs 512 --pha-bands lres --amp-bands lres --out "$O/mi.npy"
expect 1 "No such file" "$PACB" --signal "$W/in/none.npy" --fs 512 --pha-bands lres --amp-bands lres --out "$O/mi.npy"
expect 1 "text.npy" "$PACB" --signal "$W/in/text.npy" --fs 512 --pha-bands lres --amp-bands lres --out "$O/mi.npy"
expect 1 "want a non-empty float32 or float64" "$PACB" --signal "$W/in/les.npy" --fs 512 --pha-bands lres --amp-bands lres --out "$O/mi.npy"
expect 1 "ultra" "$PACB" --signal $SIG --fs 512 --pha-bands ultra --amp-bands lres --out "$O/mi.npy"
expect 1 "same file" $PAC --fs 512 --n-perm 3 --out "$O/mi.npy" --z-out "$O/./mi.npy"
expect 1 "is an input of this run" $PAC --fs 512 --out $SIG
expect 1 "is a directory" $PAC --fs 512 --out "$O"
expect 1 "cannot write in /proc" $PAC --fs 512 --out /proc/mi.npy
expect 1 "not a directory" $PAC --fs 512 --out "$SIG/mi.npy"
expect 1 "no CUDA backend" $PAC --fs 512 --out "$O/mi.npy" --backend cuda
expect 0 "strongest coupling" $PAC --fs 512 --out "$O/deep/er/mi.npy"
[ -s "$O/deep/er/mi.npy" ] || fail_case "pac did not write into a directory it had to make"
expect 3 "signal 0 (constant)" "$PACB" --signal "$W/in/const.npy" --fs 512 --pha-bands lres --amp-bands lres --out "$O/mi.npy"
expect 3 "signal 1 (NaN or infinite samples)" "$PACB" --signal "$W/in/nan.npy" --fs 512 --pha-bands lres --amp-bands lres \
    --n-perm 3 --out "$O/mi.npy" --z-out "$O/z.npy"
grep -q "mean z = -*nan" "$W/stdout" && fail_case "pac printed a NaN mean z"

# ---- prom2d ---------------------------------------------------------------------------------------
P2D="$P2DB --posterior $POST"
expect 2 "--alpha wants fractions" $P2D --alpha -1 --masks-out "$O/m.npy"
expect 2 "--alpha wants fractions" $P2D --alpha 1.5 --masks-out "$O/m.npy"
expect 2 "--alpha wants fractions" $P2D --alpha 50 --masks-out "$O/m.npy"
expect 2 "--alpha wants fractions" $P2D --alpha 0.1,x --masks-out "$O/m.npy"
expect 2 "--alpha wants fractions" $P2D --alpha 0.1,,0.5 --masks-out "$O/m.npy"
expect 2 "--mode is one of exact|pypho" $P2D --mode fancy --peaks-out "$O/p.npy"
expect 2 "--connectivity is one of 4|8" $P2D --connectivity 6 --peaks-out "$O/p.npy"
expect 2 "--min-prominence wants" $P2D --min-prominence -0.1 --peaks-out "$O/p.npy"
expect 2 "--pack-masks takes no value" $P2D --pack-masks=1 --peaks-out "$O/p.npy"
expect 1 "nothing to do" $P2D
expect 1 "--masks-out needs --alpha" $P2D --masks-out "$O/m.npy"
expect 1 "give --masks-out too" $P2D --alpha 0.5 --peaks-out "$O/p.npy"
expect 1 "is a directory, not a file" "$P2DB" --posterior "$W/dir.npy" --peaks-out "$O/p.npy"
expect 1 "want a float32 or float64 array of shape" "$P2DB" --posterior "$W/in/flat.npy" --peaks-out "$O/p.npy"
expect 2 "--periodic is one of x|y|xy" $P2D --periodic z --peaks-out "$O/p.npy"
expect 2 "--periodic needs --mode exact" $P2D --periodic x --mode pypho --peaks-out "$O/p.npy"
expect 2 "--valleys takes no value" $P2D --valleys=1 --peaks-out "$O/p.npy"
# a linear track (n_x, n_t), one with a NaN cell (a hole), valleys on a torus
expect 0 "bins of 4 x 1" "$P2DB" --posterior "$W/in/sig.npy" --peaks-out "$O/p.npy"
expect 0 "1 bins have NaN cells (1 in all), taken as holes" "$P2DB" --posterior "$W/in/nan.npy" --peaks-out "$O/p.npy"
expect 0 "periodic xy, valleys" $P2D --valleys --periodic xy --alpha 0.5 --masks-out "$O/m.npy" --peaks-out "$O/p.npy"
# regions
expect 2 "--widths wants fractions of the prominence in (0, 1)" $P2D --widths 1 --geometry-out "$O/g.npy"
expect 2 "--widths wants fractions of the prominence in (0, 1)" $P2D --widths 0 --geometry-out "$O/g.npy"
expect 2 "give --geometry-out too" $P2D --widths 0.5 --peaks-out "$O/p.npy"
expect 2 "need --mode exact" $P2D --mode pypho --geometry-out "$O/g.npy"
expect 2 "--min-area wants a number of cells" $P2D --min-area -1 --peaks-out "$O/p.npy"
expect 0 "peaks" $P2D --geometry-out "$O/g.npy" --widths 0.5,0.25 --labels-out "$O/l.npy" --min-area 3 --peaks-out "$O/p.npy"
[ -s "$O/g.npy" ] && [ -s "$O/l.npy" ] || fail_case "prom2d geometry outputs missing"
expect 1 "cannot write in /proc" $P2D --alpha 0.5 --masks-out "$O/m.npy" --peaks-out /proc/p.npy
expect 1 "same file" $P2D --alpha 0.5 --masks-out "$O/x.npy" --peaks-out "$O/x.npy"
expect 1 "is an input of this run" $P2D --peaks-out $POST
expect 0 "peaks" $P2D --alpha 0.5 --masks-out "$O/a/b/m.npy" --peaks-out "$O/a/p.npy" --png-dir "$O/a/png"
[ -s "$O/a/b/m.npy" ] && [ -s "$O/a/p.npy" ] && [ "$(ls "$O/a/png" | wc -l)" -eq 8 ] || fail_case "prom2d outputs missing"
[ -z "$(find "$O" -name '.*tmp*')" ] || fail_case "prom2d left a temporary file"

# ---- lnm ------------------------------------------------------------------------------------------
expect 2 "--policy is one of strict|ldk|lacuna|ldk_single" "$LNMB" --policy fancy
expect 2 "--precision is one of f32|f64" "$LNMB" --precision f16
expect 2 "--threads wants" "$LNMB" --threads -2
expect 1 "are required" "$LNMB" --connectome c.h5 --lesion "$W/in/les.npy"
expect 1 "have the same name 'les'" "$LNMB" --connectome c.h5 --lesion "$W/in/a/les.npy" --lesion "$W/in/b/les.npy" --out-dir "$O"
if [ -n "$LNMH5" ]; then
    LNM="$LNMH5 --lesion $W/in/les.npy --out-dir $O/maps"
    expect 1 "nonexistent.h5" $LNM --connectome /nonexistent.h5
    expect 1 "cannot open as HDF5" $LNM --connectome "$W/in/text.npy"
    expect 1 "no .h5 file in this directory" $LNM --connectome "$W/in"
    # several connectomes: a directory of directories, each read once, maps in a directory of its own
    mkdir -p "$W/conns/x" "$W/conns/y" "$W/other/x"
    cp tests/fuzz_corpus/h5/contiguous.h5 "$W/conns/x/c.h5"
    cp tests/fuzz_corpus/h5/gzip.h5 "$W/conns/y/c.h5"
    cp tests/fuzz_corpus/h5/contiguous.h5 "$W/other/x/c.h5"
    expect 0 "connectome 2 of 2" $LNM --connectome "$W/conns"
    [ -s "$O/maps/x/les_t.npy" ] && [ -s "$O/maps/y/les_t.npy" ] || fail_case "lnm: several connectomes' maps missing"
    expect 1 "have the same name 'x'" $LNM --connectome "$W/conns/x" --connectome "$W/other/x"
else
    expect 1 "HDF5" "$LNMB" --connectome c.h5 --lesion "$W/in/les.npy" --out-dir "$O"
fi
expect 1 "outside the connectome's field of view" "$LNMB" --demo --binarize --lesion tests/data/io/vol_i16.nii --out "$O/demo"
expect 2 "--fdr wants a false discovery rate in (0, 1)" "$LNMB" --fdr 0 --demo
expect 2 "--fdr wants a false discovery rate in (0, 1)" "$LNMB" --fdr 1 --demo
expect 0 "peak t" "$LNMB" --demo --out "$O/demo"
expect 0 "at FDR q < 0.01" "$LNMB" --demo --fdr 0.01 --out "$O/demo"
[ -s "$O/demo/lnm_demo_lesion_q.npy" ] && [ -s "$O/demo/lnm_demo_lesion_T_fdr.nii" ] || fail_case "lnm --fdr outputs missing"
expect 1 "differs from the connectome's (24 x 28 x 18)" "$LNMB" --demo --atlas tests/data/io/vol_i16.nii --out "$O/demo"
expect 0 "peak t" "$LNMB" --demo --out "$O/demo"
# the demo's atlas: region B, the lesion's partner, has a mean t far above the rest's
awk -F'\t' 'NR == 3 { b = $7 } NR == 4 { r = $7 } END { exit !(NR == 4 && b > 10 * r && b > 5) }' "$O/demo/lnm_demo_lesion_parcels.tsv" ||
    fail_case "lnm --atlas: region B's mean t is not the partner's"
[ -s "$O/demo/roi2roi_mean_z.npy" ] && [ -s "$O/demo/roi2roi_t.npy" ] && grep -q "region B" "$O/demo/roi2roi_parcels.tsv" ||
    fail_case "lnm --roi2roi outputs missing"
grep -q "the strongest pair: 1 (region A (the lesion's)) - 2 (region B" "$W/stdout" || fail_case "lnm --roi2roi: A-B is not the strongest pair"
cp "$O/demo/lnm_demo_atlas.nii" "$W/in/weighted.nii" # labels 1 to 3: a weighted lesion on the demo's grid
cp "$O/demo/lnm_demo_lesion_T.nii" "$W/in/negative.nii" # a t-map: negative values, not weights
expect 1 "give one of them too" "$LNMB" --demo --atlas-labels x.tsv --out "$O/demo"
expect 1 "uses no weights: give binary lesions, or --binarize" "$LNMB" --demo --seed pini --lesion "$W/in/weighted.nii" --out "$O/pini"
expect 2 "--seed is one of boes|pini" "$LNMB" --demo --seed lesion
expect 2 "--pini-percentile applies to --seed pini only" "$LNMB" --demo --pini-percentile 30
expect 2 "--pini-percentile wants a percentile" "$LNMB" --demo --seed pini --pini-percentile 101
expect 0 "PINI kept 21 in every file" "$LNMB" --demo --seed pini --out "$O/pini"
expect 1 "hold negative or infinite values; a lesion's values are weights >= 0" "$LNMB" --demo --lesion "$W/in/negative.nii" --out "$O/neg"
expect 0 "peak t" "$LNMB" --demo --binarize --lesion "$W/in/negative.nii" --out "$O/neg"

# ---- pool -----------------------------------------------------------------------------------------
expect 2 "--frames wants a number of frames, from 1 to 64" "$POOLB" --frames 0
expect 2 "--budget-mib wants" "$POOLB" --budget-mib 0
expect 1 "/proc/x" "$POOLB" --frames 2 --frame-mib 1 --budget-mib 4 --batches 1 --out /proc/x
expect 2 "give --out DIR" "$POOLB" --frames 2 --frame-mib 1 --budget-mib 4 --batches 1 --timeline
expect 2 "go together" "$POOLB" --draw-timeline "$W/in/x.json"
# a timeline written by one run, drawn again by --draw-timeline
expect 0 "pool_timeline.png" "$POOLB" --frames 3 --frame-mib 1 --budget-mib 2 --batches 2 --out "$W/tl" --timeline
if [ -s "$W/tl/pool_timeline.json" ] && grep -q '"op": "alloc"' "$W/tl/pool_timeline.json" &&
    [ "$(grep -c '"op": "free"' "$W/tl/pool_timeline.json")" -eq 7 ]; then passed=$((passed + 1))
else fail_case "pool --timeline: no timeline with 7 frees (3 frames x 2 batches and the output) in $W/tl/pool_timeline.json"; fi
expect 0 "wrote" "$POOLB" --draw-timeline "$W/tl/pool_timeline.json" --png "$W/out/t.png"
expect 1 "not a tensorpool timeline" "$POOLB" --draw-timeline "$W/in/les.npy" --png "$W/out/t.png"
expect 1 "cannot open" "$POOLB" --draw-timeline "$W/in/none.json" --png "$W/out/t.png"

echo "cli cases: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
