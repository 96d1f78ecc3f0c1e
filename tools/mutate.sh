#!/bin/sh
# tools/mutate.sh: a mutation run. Each mutation below breaks one check or one line of arithmetic
# that a test is supposed to guard (a copy of the tree in build/mutate, one mutation at a time),
# builds the test program that guards it, and runs it: the mutation must be "killed" (the test
# fails). Prints a line per mutation and the kill count; exits non-zero if one survives.
# Needs gcc (and HDF5 for the mutations of the HDF5 source, skipped without it). ~2 minutes.
set -u
cd "$(dirname "$0")/.." || exit 1
M=build/mutate
H5=$(tools/detect.sh hdf5) || H5=""
ZLIB=$(tools/detect.sh zlib) || ZLIB=""
CF="-std=c99 -D_DEFAULT_SOURCE -O1 -w"
killed=0
survived=0
skipped=0

# build+run commands per test, in $M/tree
t_ss_h5="gcc $CF -DSTAT_STREAM_USE_HDF5 $H5 tests/test_stat_stream.c examples/common/npy.c examples/common/util.c -o t $H5 -lm -lpthread && ./t"
t_ss="gcc $CF tests/test_stat_stream.c examples/common/npy.c examples/common/util.c -o t -lm -lpthread && ./t"
t_pac="gcc $CF tests/test_pacgpu.c examples/common/npy.c examples/common/util.c -o t -lm -lpthread && ./t"
t_p2d="gcc $CF tests/test_prom2d.c examples/common/npy.c examples/common/util.c -o t -lm -lpthread && ./t"
t_tp="gcc $CF tests/test_tensorpool.c -o t -lm -lpthread && ./t"
t_common="gcc $CF tests/test_common.c examples/common/*.c -o t -lm $ZLIB && ./t"
t_faults="gcc $CF tests/test_alloc_faults.c -o t -lm -lpthread && ./t"
t_cli="make -s B=build build/pac build/prom2d build/lnm build/pool build/npy_make >/dev/null 2>&1 && sh tests/cli.sh build"

# mutate NAME FILE 'FROM' 'TO' TEST: FROM must occur in FILE exactly once
mutate() {
    name=$1 file=$2 from=$3 to=$4 test=$5
    if [ -z "$test" ]; then skipped=$((skipped + 1)); echo "skipped  $name"; return; fi
    rm -rf "$M/tree"
    mkdir -p "$M/tree"
    git ls-files | tar -cf - -T - | tar -xf - -C "$M/tree"
    n=$(grep -cF -- "$from" "$M/tree/$file")
    if [ "$n" -ne 1 ]; then
        echo "BROKEN   $name: the text to mutate occurs $n times in $file"
        survived=$((survived + 1))
        return
    fi
    FROM=$from TO=$to python3 -c 'import os,sys; p=sys.argv[1]; s=open(p).read(); open(p,"w").write(s.replace(os.environ["FROM"], os.environ["TO"], 1))' "$M/tree/$file"
    if (cd "$M/tree" && sh -c "$test") >"$M/$name.log" 2>&1; then
        survived=$((survived + 1))
        echo "SURVIVED $name ($file)"
    else
        killed=$((killed + 1))
        echo "killed   $name"
    fi
}

ifh5() { [ -n "$H5" ] && echo "$1"; }

mutate hdf5_duplicate_voxels stat_stream.h 'if (tmp[v] == tmp[v - 1]) {' 'if (0) {' "$(ifh5 "$t_ss_h5")"
mutate hdf5_voxel_range stat_stream.h 'ijk[a * n + v] >= shape[a])' 'ijk[a * n + v] > shape[a])' "$(ifh5 "$t_ss_h5")"
mutate hdf5_affine_last_row stat_stream.h 'affine[14] != 0 || affine[15] != 1)' 'affine[14] != 0)' "$(ifh5 "$t_ss_h5")"
mutate hdf5_stored_values stat_stream.h 'ok = n_elem == 0 || (stored > 0' 'ok = 1 || (stored > 0' "$(ifh5 "$t_ss_h5")"
mutate bad_seed_count stat_stream.h 'job->n_bad_seed += memchr' 'job->n_bad_seed += 0 && memchr' "$t_ss"
mutate ldk_ddof stat_stream.h 'o.ddof = policy == SS_POLICY_LDK ? 0 : 1;' 'o.ddof = 1;' "$t_ss"
mutate fisher_at_one stat_stream.h 'if (a == 1.0) return copysign(z_inf > 0 ? z_inf : HUGE_VAL, r);' 'if (a == 1.0) return copysign(HUGE_VAL, r);' "$t_ss"
mutate q_values stat_stream.h 'ss__bh(out->p, m->n_features, out->q, idx);' ';' "$t_ss"
mutate lnm_info_counts stat_stream.h 'out->info->n_subjects_bad_voxel = job.n_bad_voxel' 'out->info->n_subjects_bad_voxel = 0' "$t_ss"
mutate p_value_floor pacgpu.h 'if (o->p) o->p[cell] = p > 1.0 / (double)e->n_perm ? p : 1.0 / (double)e->n_perm;' 'if (o->p) o->p[cell] = p;' "$t_pac"
mutate prominence_value prom2d.h 'pk->prominence = prom;' 'pk->prominence = prom * 0.999;' "$t_p2d"
mutate hole_component_min prom2d.h 'if (z[at] < w->cmin[c]) w->cmin[c] = z[at];' '(void)c;' "$t_p2d"
mutate hole_mask_shortcut prom2d.h 'if (thr <= zmin && !holes)' 'if (thr <= zmin)' "$t_p2d"
mutate periodic_edge_summit prom2d.h 'p2d__earlier_neighbours(p, z, at, nb) > 0) w->up[at]' 'p2d__earlier_neighbours(p, z, at, nb) > 8) w->up[at]' "$t_p2d"
mutate periodic_wrap_x prom2d.h 'if (dx < 0) x = ix > 1 ? ix - 1 : p->wrap_x ? p->n_x : 0;' 'if (dx < 0) x = ix > 1 ? ix - 1 : 0;' "$t_p2d"
mutate valleys_negate prom2d.h 'if (p->valleys) p2d__negate(p, w->z, nb);' ';' "$t_p2d"
mutate region_floor prom2d.h 'if (!(v > lvl[r])) r = -1;' 'if (!(v >= lvl[r])) r = -1;' "$t_p2d"
mutate region_subtree prom2d.h 'if (w->ccol[b] > w->lvl[par]) p2d__acc_add' 'if (w->ccol[b] >= w->lvl[par]) p2d__acc_add' "$t_p2d"
mutate label_joined_at_floor prom2d.h 'if (child >= 0 && !(w->ccol[child] > w->lvl[x])) continue;' ';' "$t_p2d"
mutate masks_need_buffer prom2d.h 'if (ctx->desc.n_alpha && !(masks && masks->data))' 'if (0)' "$t_p2d"
mutate budget_check tensorpool.h 'return !budget || (need <= budget && p->st.bytes_live <= budget - need);' 'return 1;' "$t_tp"
mutate gzip_trailer examples/common/nifti.c 'if (buf && zerr != Z_OK && zerr != Z_STREAM_END) {' 'if (0) {' "$([ -n "$ZLIB" ] && echo "$t_common")"
mutate outputs_collision examples/common/outputs.c 'if (!strcmp(o->item[i].key, key))' 'if (0)' "$t_common"
mutate outputs_cleanup examples/common/outputs.c 'if (!o->item[i].committed) unlink(o->item[i].tmp);' ';' "$t_common"
mutate cli_range examples/common/cli.c 'if (o->flags & CLI_LO_OPEN ? !(x > o->lo) : !(x >= o->lo)) return 0;' ';' "$t_common"
mutate pac_constant_signal examples/pac.c 'if (!bad[s] && lo == hi) bad[s] = 2;' ';' "$t_cli"

echo "mutation run: $killed killed, $survived survived, $skipped skipped"
[ "$survived" -eq 0 ]
