# The install part of tests/run.sh (sourced; uses its step, skip and $B): make install into a
# temporary prefix, a consumer built with pkg-config and with CMake (the installed package with its
# hdf5 component, add_subdirectory, FetchContent), the examples through the root CMakeLists.txt,
# cmake --install writing what make install writes, DESTDIR staging, and make uninstall leaving
# nothing behind.
install_checks() {
    root=$(pwd)
    P=$root/$B/prefix
    rm -rf "$P" "$B/stage" "$B"/cmake_*
    step "make install PREFIX=...: the four headers, membound.pc and the CMake package" sh -c "
        make -s install PREFIX=$P >/dev/null &&
        for f in include/membound/tensorpool.h include/membound/stat_stream.h include/membound/prom2d.h \
                 include/membound/pacgpu.h lib/pkgconfig/membound.pc lib/cmake/membound/membound-config.cmake \
                 lib/cmake/membound/membound-config-version.cmake lib/cmake/membound/membound-backends.cmake; do
            [ -f $P/\$f ] || { echo \"missing \$f\"; exit 1; }
        done"
    step "the package's version is the headers' (membound.pc, the CMake version file, CMakeLists.txt)" sh -c '
        for h in tensorpool:TP stat_stream:SS prom2d:P2D pacgpu:PAC; do
            f=${h%%:*}.h p=${h##*:}
            v=$(for k in MAJOR MINOR PATCH; do sed -n "s/^#define ${p}_VERSION_$k \([0-9]*\)$/\1/p" $f; done | paste -sd.)
            [ "$v" = "$(sed -n "s/^Version: //p" membound.pc)" ] || { echo "$f: $v, membound.pc: other"; exit 1; }
            grep -q "PACKAGE_VERSION \"$v\"" cmake/membound-config-version.cmake || { echo "version file is not $v"; exit 1; }
            grep -q "project(membound VERSION $v " CMakeLists.txt || { echo "CMakeLists.txt is not $v"; exit 1; }
        done'
    if have pkg-config; then
        step "pkg-config: a consumer of the installed headers compiles warning-free (C99) and runs" sh -c "
            flags=\$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs membound) &&
            cc -std=c99 $WARN -O1 tests/install/consumer.c \$flags -o $B/consumer_pc && $B/consumer_pc | grep -q 'consumer ok'"
    else
        skip "pkg-config consumer: pkg-config not installed"
    fi
    if have cmake; then
        step "CMake find_package(membound CONFIG): the installed package, and its hdf5 component when HDF5 is found" sh -c "
            cmake -S tests/install -B $B/cmake_installed -DCMAKE_PREFIX_PATH=$P >/dev/null &&
            cmake --build $B/cmake_installed >/dev/null && $B/cmake_installed/consumer | grep -q 'consumer ok' &&
            { ! tools/detect.sh hdf5 >/dev/null || $B/cmake_installed/consumer_hdf5 | grep -q 'consumer ok'; }"
        step "CMake add_subdirectory and FetchContent of the source tree" sh -c "
            cmake -S tests/install -B $B/cmake_subdir -DMEMBOUND_SOURCE=$root >/dev/null && cmake --build $B/cmake_subdir >/dev/null &&
            $B/cmake_subdir/consumer | grep -q 'consumer ok' &&
            cmake -S tests/install -B $B/cmake_fetch -DMEMBOUND_SOURCE=$root -DUSE_FETCHCONTENT=ON >/dev/null &&
            cmake --build $B/cmake_fetch >/dev/null && $B/cmake_fetch/consumer | grep -q 'consumer ok'"
        step "CMake builds the examples from the root CMakeLists.txt; cmake --install writes what make install does" sh -c "
            cmake -S . -B $B/cmake_root >/dev/null && cmake --build $B/cmake_root -j 2 >/dev/null &&
            for p in pool prom2d pac lnm; do $B/cmake_root/\$p --help | grep -q usage || exit 1; done &&
            cmake --install $B/cmake_root --prefix $root/$B/prefix_cmake >/dev/null &&
            [ \"\$(cd $P && find . -type f ! -name installed-dirs | sort)\" = \"\$(cd $root/$B/prefix_cmake && find . -type f | sort)\" ]"
    else
        skip "CMake consumers: cmake not installed"
    fi
    step "DESTDIR stages under DESTDIR/PREFIX; make uninstall leaves nothing of it" sh -c "
        make -s install DESTDIR=$root/$B/stage PREFIX=/opt/mb >/dev/null && [ -f $B/stage/opt/mb/include/membound/pacgpu.h ] &&
        make -s uninstall DESTDIR=$root/$B/stage PREFIX=/opt/mb >/dev/null && [ -z \"\$(find $B/stage -mindepth 1)\" ]"
    step "make uninstall removes every file and the directories install made (and no other)" sh -c "
        mkdir -p $P/lib/keep && make -s uninstall PREFIX=$P >/dev/null &&
        [ \"\$(cd $P && find . -mindepth 1 | sort | paste -sd' ')\" = './lib ./lib/keep' ]"
}
