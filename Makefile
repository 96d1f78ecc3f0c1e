# Memory-frugal scientific kernels: four single-file C libraries, their examples, tests and
# benchmarks. Needs a C compiler and make; a C++ compiler, clang, valgrind and the optional
# libraries are detected, and what needs one that is missing is skipped (make test says which).
#
#   make          build every example and test program into build/
#   make demo     run every example on its built-in sample data, writing into out/
#   make check    the quick look: each test program once, the command lines against bad input
#   make test     the whole suite (compile checks, sanitizers, valgrind) on every core; ends "N passed, N failed"
#   make bench    benchmarks side by side with the peers; results in bench/RESULTS.md
#   make fuzz     every fuzz target: the parsers FUZZ_RUNS times, the HDF5 source FUZZ_SECONDS (libFuzzer)
#   make cuda     pacgpu's CUDA backend and its tests (nvcc; part of make when nvcc is found)
#   make install  the headers into $(PREFIX)/include/membound, membound.pc, the CMake package
#                 (PREFIX=/usr/local, DESTDIR honoured); make uninstall removes them
#   make clean

CC      ?= cc
CFLAGS  ?= -O2 -g
STD      = -std=c99 -D_DEFAULT_SOURCE
WARN     = -Wall -Wextra -Wpedantic
LDLIBS   = -lm -lpthread
B        = build
FUZZ_SECONDS ?= 20
FUZZ_RUNS ?= 1000000

ZLIB := $(shell tools/detect.sh zlib)
HDF5 := $(shell tools/detect.sh hdf5)
LNM_HDF5 := $(if $(HDF5),-DSTAT_STREAM_USE_HDF5 $(HDF5))
MPICC := $(shell tools/detect.sh mpi)
NVCC := $(shell tools/detect.sh nvcc)
HAVE_CXX := $(shell command -v $(CXX) >/dev/null 2>&1 && echo yes)
CUDA_ARCH = -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90

COMMON_SRC = examples/common/npy.c examples/common/nifti.c examples/common/png.c examples/common/progress.c \
             examples/common/util.c examples/common/cli.c examples/common/outputs.c
COMMON_HDR = $(COMMON_SRC:.c=.h) examples/common/font6x10.h
EXAMPLES   = $(B)/pool $(B)/prom2d $(B)/pac $(B)/lnm $(if $(MPICC),$(B)/lnm_mpi $(B)/pac_mpi)
TESTS      = $(B)/test_tensorpool $(B)/test_common $(B)/test_prom2d $(B)/test_pacgpu $(B)/test_stat_stream $(B)/test_v1 \
             $(B)/test_alloc_faults \
             $(if $(HAVE_CXX),$(B)/test_pacgpu_cuda_emu) $(if $(NVCC),$(B)/test_pacgpu_cuda)

.PHONY: all demo check test bench fuzz clean cuda install uninstall
all: $(EXAMPLES) $(TESTS)

$(B):
	@mkdir -p $(B)

$(B)/pool: examples/pool.c tensorpool.h $(COMMON_SRC) $(COMMON_HDR) | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) examples/pool.c $(COMMON_SRC) -o $@ $(LDLIBS) $(ZLIB)

$(B)/prom2d: examples/prom2d.c prom2d.h tensorpool.h $(COMMON_SRC) $(COMMON_HDR) | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) examples/prom2d.c $(COMMON_SRC) -o $@ $(LDLIBS) $(ZLIB)

$(B)/lnm: examples/lnm.c stat_stream.h tensorpool.h $(COMMON_SRC) $(COMMON_HDR) | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(LNM_HDF5) examples/lnm.c $(COMMON_SRC) -o $@ $(LDLIBS) $(ZLIB) $(HDF5)

# the MPI variant of lnm (subjects split over ranks), when mpicc exists
$(B)/lnm_mpi: examples/lnm.c stat_stream.h tensorpool.h $(COMMON_SRC) $(COMMON_HDR) | $(B)
	$(MPICC) $(STD) $(CFLAGS) $(WARN) -DLNM_MPI $(LNM_HDF5) examples/lnm.c $(COMMON_SRC) -o $@ $(LDLIBS) $(ZLIB) $(HDF5)

$(B)/pac: examples/pac.c pacgpu.h tensorpool.h $(COMMON_SRC) $(COMMON_HDR) | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) examples/pac.c $(COMMON_SRC) -o $@ $(LDLIBS) $(ZLIB)

# the MPI variant of pac (signals split over ranks), when mpicc exists
$(B)/pac_mpi: examples/pac.c pacgpu.h tensorpool.h $(COMMON_SRC) $(COMMON_HDR) | $(B)
	$(MPICC) $(STD) $(CFLAGS) $(WARN) -DPAC_MPI examples/pac.c $(COMMON_SRC) -o $@ $(LDLIBS) $(ZLIB)

$(B)/test_stat_stream: tests/test_stat_stream.c stat_stream.h tensorpool.h tests/testkit.h tests/testdata.h tests/thread_faults.h tests/testlog.h examples/common/npy.c examples/common/util.c | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) tests/test_stat_stream.c examples/common/npy.c examples/common/util.c -o $@ $(LDLIBS)

$(B)/test_prom2d: tests/test_prom2d.c prom2d.h tensorpool.h tests/testkit.h tests/testdata.h tests/thread_faults.h tests/testlog.h examples/common/npy.c examples/common/util.c | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) tests/test_prom2d.c examples/common/npy.c examples/common/util.c -o $@ $(LDLIBS)

$(B)/test_pacgpu: tests/test_pacgpu.c pacgpu.h tensorpool.h tests/testkit.h tests/testdata.h tests/thread_faults.h tests/testlog.h examples/common/npy.c examples/common/util.c | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) tests/test_pacgpu.c examples/common/npy.c examples/common/util.c -o $@ $(LDLIBS)

# pacgpu's CUDA backend (PACGPU_USE_CUDA), when nvcc exists: sm_90 code and PTX for newer GPUs
cuda: $(B)/test_pacgpu_cuda $(B)/bench_pac_cuda $(B)/bench_pac_cuda_columns $(B)/pac_cuda
$(B)/test_pacgpu_cuda: tests/test_pacgpu_cuda.cu pacgpu.h tensorpool.h tests/testkit.h tests/testdata.h tests/thread_faults.h tests/testlog.h | $(B)
	$(if $(NVCC),,@echo "make cuda: nvcc (the CUDA toolkit) not found" && false)
	$(NVCC) -std=c++14 -O2 $(CUDA_ARCH) -Xcompiler -Wall,-Wextra tests/test_pacgpu_cuda.cu examples/common/npy.c examples/common/util.c \
	    -o $@ -lcufft -lm -lpthread

# the CUDA backend's tests on the CPU: kernels and host side through tests/cuda_emu.h (no nvcc needed)
$(B)/test_pacgpu_cuda_emu: tests/test_pacgpu_cuda.cu tests/cuda_emu.h pacgpu.h tensorpool.h tests/testkit.h tests/testdata.h tests/thread_faults.h tests/testlog.h | $(B)
	$(CXX) -std=c++14 -x c++ -O2 -g $(WARN) -DPAC_TEST_EMULATE_CUDA tests/test_pacgpu_cuda.cu examples/common/npy.c examples/common/util.c \
	    -o $@ -lm -lpthread

# the pac example with the CUDA backend (--backend auto takes the GPU when one answers)
$(B)/pac_cuda: examples/pac.c pacgpu.h tensorpool.h $(COMMON_SRC) $(COMMON_HDR) | $(B)
	$(if $(NVCC),,@echo "pac_cuda: nvcc (the CUDA toolkit) not found" && false)
	$(NVCC) -std=c++14 -O2 $(CUDA_ARCH) -DPACGPU_USE_CUDA $(filter -D%,$(ZLIB)) -Xcompiler -Wall,-Wextra -x cu -c examples/pac.c -o $(B)/pac_cuda.o
	$(NVCC) $(CUDA_ARCH) $(filter -D%,$(ZLIB)) $(B)/pac_cuda.o $(COMMON_SRC) -o $@ -lcufft -lm -lpthread $(filter -l%,$(ZLIB))

# the same benchmark with the CUDA backend (--backend cuda), for a machine with a GPU
$(B)/bench_pac_cuda: bench/bench_pac.c pacgpu.h tensorpool.h examples/common/npy.c examples/common/util.c | $(B)
	$(if $(NVCC),,@echo "bench_pac_cuda: nvcc (the CUDA toolkit) not found" && false)
	$(CC) $(STD) -O2 -c examples/common/npy.c -o $(B)/npy_cuda.o && $(CC) $(STD) -O2 -c examples/common/util.c -o $(B)/util_cuda.o
	$(NVCC) -std=c++14 -O2 $(CUDA_ARCH) -DPACGPU_USE_CUDA -x cu -c bench/bench_pac.c -o $(B)/bench_pac_cuda.o
	$(NVCC) $(CUDA_ARCH) $(B)/bench_pac_cuda.o $(B)/npy_cuda.o $(B)/util_cuda.o -o $@ -lcufft -lm -lpthread

# the same with the surrogates' cells always by the column kernel (pac__k_cells), to compare the two
$(B)/bench_pac_cuda_columns: $(B)/bench_pac_cuda
	$(NVCC) -std=c++14 -O2 $(CUDA_ARCH) -DPACGPU_USE_CUDA -DPAC_TEST_CUDA_CELLS=0 -x cu -c bench/bench_pac.c -o $(B)/bench_pac_cuda_columns.o
	$(NVCC) $(CUDA_ARCH) $(B)/bench_pac_cuda_columns.o $(B)/npy_cuda.o $(B)/util_cuda.o -o $@ -lcufft -lm -lpthread

$(B)/test_tensorpool: tests/test_tensorpool.c tensorpool.h tests/testkit.h tests/thread_faults.h tests/testlog.h | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) tests/test_tensorpool.c -o $@ $(LDLIBS)

# the four headers as one library (v1 forms, defaults, element types)
$(B)/test_v1: tests/test_v1.c tensorpool.h stat_stream.h prom2d.h pacgpu.h tests/testkit.h | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) tests/test_v1.c -o $@ $(LDLIBS)

# every allocation of each header's main entry points failing in turn
$(B)/test_alloc_faults: tests/test_alloc_faults.c tensorpool.h stat_stream.h prom2d.h pacgpu.h tests/testkit.h | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) tests/test_alloc_faults.c -o $@ $(LDLIBS)

$(B)/test_common: tests/test_common.c $(COMMON_SRC) $(COMMON_HDR) tests/testkit.h | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) tests/test_common.c $(COMMON_SRC) -o $@ $(LDLIBS) $(ZLIB)

demo: $(EXAMPLES)
	@mkdir -p out
	$(B)/pool --demo --out out
	$(B)/prom2d --demo --out out
	$(B)/pac --demo --out out
	$(B)/lnm --demo --out out
	@echo "demo outputs are in out/"

check: all $(B)/npy_make
	@sh tests/check.sh

test: all
	@sh tests/run.sh

$(B)/npy_make: tests/npy_make.c examples/common/npy.c examples/common/util.c | $(B)
	$(CC) $(STD) $(CFLAGS) $(WARN) tests/npy_make.c examples/common/npy.c examples/common/util.c -o $@ -lm

bench: $(B)/bench_pool $(B)/bench_prom2d $(B)/bench_pac $(B)/bench_lnm
	@sh bench/run.sh

$(B)/bench_pool: bench/bench_pool.c tensorpool.h | $(B)
	$(CC) $(STD) -O2 -g $(WARN) bench/bench_pool.c -o $@ $(LDLIBS)

$(B)/bench_pac: bench/bench_pac.c pacgpu.h tensorpool.h examples/common/npy.c | $(B)
	$(CC) $(STD) -O2 -g $(WARN) bench/bench_pac.c examples/common/npy.c examples/common/util.c -o $@ $(LDLIBS)

# with HDF5 (the connectome files) and a CBLAS (the products' comparison) when they exist
CBLAS := $(shell tools/detect.sh cblas)
$(B)/bench_lnm: bench/bench_lnm.c stat_stream.h tensorpool.h | $(B)
	$(CC) $(STD) -O2 -g $(WARN) $(LNM_HDF5) $(if $(CBLAS),-DBENCH_CBLAS) bench/bench_lnm.c -o $@ $(LDLIBS) $(HDF5) $(CBLAS)

$(B)/bench_prom2d: bench/bench_prom2d.c prom2d.h tensorpool.h examples/common/npy.c | $(B)
	$(CC) $(STD) -O2 -g $(WARN) bench/bench_prom2d.c examples/common/npy.c examples/common/util.c -o $@ $(LDLIBS)

fuzz: | $(B)
	@sh tests/fuzz/campaign.sh $(FUZZ_RUNS) $(FUZZ_SECONDS)

# ---- install: what a packager or a CMake / pkg-config consumer needs (headers only) -------------
PREFIX  ?= /usr/local
HEADERS  = tensorpool.h stat_stream.h prom2d.h pacgpu.h
CMAKEPKG = cmake/membound-config.cmake cmake/membound-config-version.cmake cmake/membound-backends.cmake
ROOT     = $(DESTDIR)$(PREFIX)
# the directories install needs; the ones it did create (with their parents) are listed in
# lib/cmake/membound/installed-dirs for uninstall to remove (when empty), and no others
INSTALL_DIRS = $(ROOT) $(ROOT)/include $(ROOT)/include/membound $(ROOT)/lib $(ROOT)/lib/pkgconfig $(ROOT)/lib/cmake \
               $(ROOT)/lib/cmake/membound

install:
	@made=""; for d in $(INSTALL_DIRS); do p=$$d; while [ ! -d "$$p" ]; do made="$$made $$p"; p=$$(dirname "$$p"); done; \
	    mkdir -p "$$d" || exit 1; done; \
	    list=$(ROOT)/lib/cmake/membound/installed-dirs; \
	    if [ -n "$$made" ] || [ ! -f "$$list" ]; then printf '%s\n' $$made >"$$list"; fi
	install -m 644 $(HEADERS) $(ROOT)/include/membound/
	install -m 644 membound.pc $(ROOT)/lib/pkgconfig/
	install -m 644 $(CMAKEPKG) $(ROOT)/lib/cmake/membound/

uninstall:
	@list=$(ROOT)/lib/cmake/membound/installed-dirs; dirs=$$(cat "$$list" 2>/dev/null); \
	    rm -f $(addprefix $(ROOT)/include/membound/,$(HEADERS)) $(ROOT)/lib/pkgconfig/membound.pc \
	        $(addprefix $(ROOT)/lib/cmake/membound/,$(notdir $(CMAKEPKG))) "$$list"; \
	    for d in $$(printf '%s\n' $$dirs | sort -ru); do rmdir "$$d" 2>/dev/null || true; done; \
	    echo "membound uninstalled from $(ROOT)"

clean:
	rm -rf $(B) out bench/out
