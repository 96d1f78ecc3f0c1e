/* cuda_emu.h - the CUDA runtime and cuFFT calls of pacgpu.h's backend (section 11), emulated on
   the CPU, so that its kernels and their host side run in the tests where there is no GPU.

   Test code only (C++11). Include it before pacgpu.h, and once more after it with
   CUDA_EMU_IMPLEMENTATION defined:
       #include "cuda_emu.h"
       #define PACGPU_USE_CUDA
       #include "../pacgpu.h"
       #define CUDA_EMU_IMPLEMENTATION
       #include "cuda_emu.h"

   What it models, and why:
   - A launch runs the grid's blocks one after another. The threads of a block that cooperate
     (PAC__LAUNCH_COOPERATIVE) are fibers of one OS thread, switched only at __syncthreads,
     shuffles and ballots; each warp runs as far as it can before the next starts (first warp
     first or last first, drawn anew at each barrier), so that a missing barrier reads what
     another warp has not yet written. A barrier that not every thread of the block (or of the
     warp) reaches is divergence, a hang on a GPU: the launch fails (cudaGetLastError) with a line
     on stderr. Independent threads (PAC__LAUNCH) run one after another; one that waits at a
     barrier is a failed launch too.
   - Device memory is host memory from malloc, so AddressSanitizer sees a kernel's out-of-bounds
     access, filled with all-ones bytes (NaNs, huge indices) as a GPU's is undefined; dynamic
     shared memory is filled with NaNs before each block, and a launch with more than 48 KiB of
     it fails unless cudaFuncSetAttribute allowed that much (emu.shared_optin at most, which
     cudaDeviceGetAttribute reports). A kernel's registers bound its blocks on a GPU: a test sets
     that bound for a kernel (emu_limit_block_threads), cudaFuncGetAttributes reports it and a
     larger launch fails. Live allocations, streams, events and FFT
     plans are counted (emu_live) so a test can check that a run, failed or not, gives
     everything back; events read the host's clock.
   - cudaMemGetInfo reports emu.free_bytes less what is allocated; emu.fail_malloc, fail_launch
     and fail_plan make the k-th call of their kind fail (1 = the next one), to test that each
     failure becomes a clean error.
   - cuFFT's Z2Z plans run pacgpu's own FFT (cuFFT's conventions: forward exp(-2 pi i jk / n),
     inverse unnormalised, batches contiguous). A plan without auto-allocation needs the work area
     set before it runs; the emulator writes over the whole area, so a short one shows under ASan.
   Not modelled: concurrency between blocks or streams, timing, warp-synchronous code without
   shuffles (there is none), memory other than global and shared. */
#ifndef CUDA_EMU_H
#define CUDA_EMU_H

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <functional>
#if !(defined(__x86_64__) && defined(__linux__))
#include <ucontext.h>
#endif

#define PAC_CUDA_EMULATOR 1
#define __global__
#define __host__
#define __device__
#define __shared__ static /* one block runs at a time */

enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorLaunchOutOfResources = 701,
    cudaErrorLaunchFailure = 719
};
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2 };
enum cudaDeviceAttr { cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
typedef struct emu_stream *cudaStream_t;
typedef struct emu_event *cudaEvent_t;
struct emu_dim3 { unsigned x, y, z; };
extern emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaStreamCreate(cudaStream_t *stream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaGetLastError(void);
cudaError_t cudaEventCreate(cudaEvent_t *event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t emu_func_set_attribute(cudaFuncAttribute attr, int value);
template <class F> cudaError_t cudaFuncSetAttribute(F *kernel, cudaFuncAttribute attr, int value)
{
    (void)kernel; /* one limit for every kernel: the emulator does not tell them apart */
    return emu_func_set_attribute(attr, value);
}
typedef void (*emu_kernel)(void); /* a kernel's address, whatever its parameters */
struct cudaFuncAttributes {
    int maxThreadsPerBlock;
};
int emu_block_threads(emu_kernel kernel);
template <class F> cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *attr, F *kernel)
{
    attr->maxThreadsPerBlock = emu_block_threads(reinterpret_cast<emu_kernel>(kernel));
    return cudaSuccess;
}
const char *cudaGetErrorString(cudaError_t e);

void __syncthreads(void);
unsigned atomicAdd(unsigned *address, unsigned value);
double emu_shuffle_down(double v, unsigned delta);
unsigned __ballot_sync(unsigned mask, int predicate);
inline int __popc(unsigned x) { return __builtin_popcount(x); }
template <class T> T __shfl_down_sync(unsigned mask, T v, unsigned delta)
{
    if (mask != 0xffffffffu) std::fprintf(stderr, "cuda_emu: only full-warp shuffles are modelled\n"), std::abort();
    return (T)emu_shuffle_down((double)v, delta);
}

typedef int cufftHandle;
enum cufftResult { CUFFT_SUCCESS = 0, CUFFT_INVALID_PLAN = 1, CUFFT_ALLOC_FAILED = 2, CUFFT_INVALID_VALUE = 4, CUFFT_EXEC_FAILED = 6 };
enum cufftType { CUFFT_Z2Z = 0x69 };
enum { CUFFT_FORWARD = -1, CUFFT_INVERSE = 1 };
struct cufftDoubleComplex { double x, y; };

cufftResult cufftCreate(cufftHandle *plan);
cufftResult cufftSetAutoAllocation(cufftHandle plan, int automatic);
cufftResult cufftMakePlan1d(cufftHandle plan, int nx, cufftType type, int batch, size_t *work_bytes);
cufftResult cufftSetStream(cufftHandle plan, cudaStream_t stream);
cufftResult cufftSetWorkArea(cufftHandle plan, void *area);
cufftResult cufftExecZ2Z(cufftHandle plan, cufftDoubleComplex *in, cufftDoubleComplex *out, int direction);
cufftResult cufftDestroy(cufftHandle plan);

void emu_launch(emu_kernel kernel, bool cooperative, unsigned blocks, unsigned threads, size_t shared_bytes,
                const std::function<void()> &body);
/* On a GPU a kernel's registers bound its blocks' threads (64 K registers a block: 1024 threads
   of at most 64, 896 of 72, ...); here a test sets that bound for one kernel (at most 8 kernels;
   0: 1024). cudaFuncGetAttributes reports it; a launch beyond it fails as on a GPU. */
void emu_limit_block_threads(emu_kernel kernel, int threads);
void *emu_dynamic_shared(void);
size_t emu_live(void); /* device allocations, streams, events and FFT plans not yet given back */
void emu_shutdown(void); /* frees the emulator's own stacks and shared memory */

/* the knobs a test turns */
struct emu_config {
    int devices;        /* what cudaGetDeviceCount finds (1) */
    size_t free_bytes;  /* device memory before any allocation (1 GiB) */
    int shared_optin;   /* the shared memory a block may opt into (227 KiB, an H100's) */
    long fail_malloc;   /* the k-th cudaMalloc from now fails (0: none) */
    long fail_launch;   /* the k-th kernel launch from now fails */
    long fail_plan;     /* the k-th cufftMakePlan1d from now fails */
    int quiet;          /* no line on stderr for a failed launch (a test that fails one on purpose) */
    long mallocs, launches, plans; /* calls so far */
    size_t peak_bytes;  /* the most device memory allocated at once (a test may reset it) */
};
extern emu_config emu;

/* pacgpu.h's launch hooks (its option PAC_CUDA_EMULATOR) */
#define PAC_EMU_LAUNCH(kernel, blocks, threads, shmem, stream, args) \
    ((void)(stream), emu_launch(reinterpret_cast<emu_kernel>(kernel), false, blocks, threads, shmem, [=]() { kernel args; }))
#define PAC_EMU_LAUNCH_COOPERATIVE(kernel, blocks, threads, shmem, stream, args) \
    ((void)(stream), emu_launch(reinterpret_cast<emu_kernel>(kernel), true, blocks, threads, shmem, [=]() { kernel args; }))
#define PAC_EMU_DYNAMIC_SHARED(type, name) type *name = (type *)emu_dynamic_shared()

#endif /* CUDA_EMU_H */

#if defined(CUDA_EMU_IMPLEMENTATION) && !defined(CUDA_EMU_IMPLEMENTATION_DONE)
#define CUDA_EMU_IMPLEMENTATION_DONE

emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
emu_config emu = {1, (size_t)1 << 30, 227 * 1024, 0, 0, 0, 0, 0, 0, 0, 0};

enum { EMU_MAX_THREADS = 1024, EMU_STACK = 256 * 1024, EMU_MAX_PLANS = 64 };
enum emu_state { EMU_RUN, EMU_AT_BLOCK_BARRIER, EMU_AT_WARP_BARRIER, EMU_DONE };

struct emu_fft_plan {
    bool used, made, automatic;
    int n, batch;
    pac_fft *fft;
    double *scratch;
    void *area;
    size_t area_bytes;
};

static struct {
    const std::function<void()> *body;
    bool cooperative, failed;
    unsigned threads, current;
    emu_state state[EMU_MAX_THREADS];
    char *stacks;
    unsigned stack_threads;
    double lane[EMU_MAX_THREADS];
    unsigned char *shared;
    size_t shared_bytes, allocated, allocations, streams, events, plans;
    cudaError_t last_error;
    int shared_allowed; /* dynamic shared memory a launch may have: 48 KiB, or what was opted into */
    struct {
        emu_kernel kernel;
        int threads;
    } limit[8]; /* emu_limit_block_threads */
    unsigned long long order; /* xorshift state of the warps' order */
    emu_fft_plan plan[EMU_MAX_PLANS];
} emu_;

static bool emu_due(long *countdown) { return *countdown > 0 && --*countdown == 0; }

cudaError_t cudaGetDeviceCount(int *count)
{
    *count = emu.devices;
    return emu.devices > 0 ? cudaSuccess : cudaErrorNoDevice;
}

cudaError_t cudaSetDevice(int device) { return device >= 0 && device < emu.devices ? cudaSuccess : cudaErrorInvalidDevice; }

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    *total_bytes = emu.free_bytes;
    *free_bytes = emu.free_bytes > emu_.allocated ? emu.free_bytes - emu_.allocated : 0;
    return cudaSuccess;
}

/* a header before each block records its size, for cudaFree's accounting */
cudaError_t cudaMalloc(void **p, size_t bytes)
{
    size_t *b;
    *p = NULL;
    emu.mallocs++;
    if (emu_due(&emu.fail_malloc) || emu_.allocated + bytes > emu.free_bytes) return cudaErrorMemoryAllocation;
    if (!(b = (size_t *)std::malloc(bytes + 16))) return cudaErrorMemoryAllocation;
    b[0] = bytes;
    std::memset(b + 2, 0xff, bytes); /* NaNs and all-ones: a read of what no kernel or copy wrote shows */
    emu_.allocated += bytes, emu_.allocations++;
    emu.peak_bytes = emu_.allocated > emu.peak_bytes ? emu_.allocated : emu.peak_bytes;
    *p = (char *)b + 16;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    size_t *b = (size_t *)((char *)p - 16);
    if (!p) return cudaSuccess;
    emu_.allocated -= b[0], emu_.allocations--;
    std::free(b);
    return cudaSuccess;
}

/* No cudaMemcpy: every copy of the backend goes through its own stream (a plain one would go to
   the default stream, unordered with ours under --default-stream per-thread), and a use of it
   fails to compile here. */
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream)
{
    (void)stream, (void)kind;
    std::memcpy(dst, src, bytes);
    return cudaSuccess;
}

/* streams and events: host objects, counted so that a test sees whether a run destroyed them */
static void *emu_make(size_t bytes, size_t *live)
{
    void *p = std::calloc(1, bytes);
    *live += p != NULL;
    return p;
}

static cudaError_t emu_unmake(void *p, size_t *live)
{
    std::free(p);
    --*live;
    return cudaSuccess;
}

/* an event holds the host's clock when recorded (every call here is synchronous); -1: never recorded */
struct emu_event { double at_ms; };
struct emu_stream { char unused; };

cudaError_t cudaStreamCreate(cudaStream_t *stream)
{
    *stream = (cudaStream_t)emu_make(sizeof **stream, &emu_.streams);
    return *stream ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) { return emu_unmake(stream, &emu_.streams); }

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    (void)stream;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device)
{
    if (device < 0 || device >= emu.devices) return cudaErrorInvalidDevice;
    if (attr != cudaDevAttrMaxSharedMemoryPerBlockOptin) return cudaErrorInvalidValue;
    *value = emu.shared_optin;
    return cudaSuccess;
}

cudaError_t emu_func_set_attribute(cudaFuncAttribute attr, int value)
{
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > emu.shared_optin) return cudaErrorInvalidValue;
    emu_.shared_allowed = value > 48 * 1024 ? value : 48 * 1024;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *event)
{
    if (!(*event = (cudaEvent_t)emu_make(sizeof **event, &emu_.events))) return cudaErrorMemoryAllocation;
    (*event)->at_ms = -1;
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) { return emu_unmake(event, &emu_.events); }

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    (void)stream;
    event->at_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) { return event->at_ms < 0 ? cudaErrorInvalidValue : cudaSuccess; }

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
    if (start->at_ms < 0 || end->at_ms < 0) return cudaErrorInvalidValue;
    *ms = (float)(end->at_ms - start->at_ms);
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = emu_.last_error;
    emu_.last_error = cudaSuccess;
    return e;
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    }
    return "unknown error";
}

size_t emu_live(void) { return emu_.allocations + emu_.streams + emu_.events + emu_.plans; }

void emu_shutdown(void)
{
    std::free(emu_.stacks), std::free(emu_.shared);
    emu_.stacks = NULL, emu_.shared = NULL, emu_.stack_threads = 0, emu_.shared_bytes = 0;
}

/* ---- threads of a block ----------------------------------------------------------------------- */

static void emu_diverged(const char *what)
{
    if (!emu_.failed && !emu.quiet) std::fprintf(stderr, "cuda_emu: block %u: %s\n", blockIdx.x, what);
    emu_.failed = true;
}

/* ---- fibers: emu_fiber_start(i) readies thread i to run emu_fiber_main on its own stack;
   emu_to_fiber(i) and emu_to_scheduler() switch. On x86-64 Linux a switch of the six registers
   the ABI preserves (glibc's swapcontext also saves the signal mask, a system call each time,
   which made these tests three times slower); elsewhere ucontext. */
static void emu_fiber_main(void);

#if defined(__x86_64__) && defined(__linux__)
extern "C" void emu_switch(void **save_sp, void *load_sp);
__asm__(".text\n"
        ".globl emu_switch\n"
        ".type emu_switch, @function\n"
        "emu_switch:\n"
        "    pushq %rbp\n    pushq %rbx\n    pushq %r12\n    pushq %r13\n    pushq %r14\n    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n    popq %r14\n    popq %r13\n    popq %r12\n    popq %rbx\n    popq %rbp\n"
        "    ret\n"
        ".size emu_switch, .-emu_switch\n");

static void *emu_scheduler_sp, *emu_fiber_sp[EMU_MAX_THREADS];

static void emu_fiber_entry(void)
{
    emu_fiber_main();
    emu_switch(&emu_fiber_sp[emu_.current], emu_scheduler_sp); /* never resumed */
    std::abort();
}

/* the new stack as emu_switch leaves one: six registers, then the entry's address for its ret,
   then a return address the entry never uses (so the entry starts 16-byte aligned, as after a call) */
static void emu_fiber_start(unsigned i)
{
    void **sp = (void **)(emu_.stacks + (size_t)(i + 1) * EMU_STACK);
    void (*entry)(void) = emu_fiber_entry;
    int k;
    *--sp = NULL;
    std::memcpy(--sp, &entry, sizeof entry);
    for (k = 0; k < 6; k++) *--sp = NULL;
    emu_fiber_sp[i] = sp;
}

static void emu_to_fiber(unsigned i) { emu_switch(&emu_scheduler_sp, emu_fiber_sp[i]); }
static void emu_to_scheduler(void) { emu_switch(&emu_fiber_sp[emu_.current], emu_scheduler_sp); }
#else
static ucontext_t emu_scheduler_ctx, emu_fiber_ctx[EMU_MAX_THREADS];

static void emu_fiber_start(unsigned i)
{
    getcontext(&emu_fiber_ctx[i]);
    emu_fiber_ctx[i].uc_stack.ss_sp = emu_.stacks + (size_t)i * EMU_STACK;
    emu_fiber_ctx[i].uc_stack.ss_size = EMU_STACK;
    emu_fiber_ctx[i].uc_link = &emu_scheduler_ctx;
    makecontext(&emu_fiber_ctx[i], emu_fiber_main, 0);
}

static void emu_to_fiber(unsigned i) { swapcontext(&emu_scheduler_ctx, &emu_fiber_ctx[i]); }
static void emu_to_scheduler(void) { swapcontext(&emu_fiber_ctx[emu_.current], &emu_scheduler_ctx); }
#endif

/* the running fiber waits at a barrier until the scheduler lets it go */
static void emu_wait(emu_state at)
{
    if (!emu_.cooperative) {
        emu_diverged("a kernel launched as independent threads waits at a barrier (launch it with PAC__LAUNCH_COOPERATIVE)");
        return;
    }
    emu_.state[emu_.current] = at;
    emu_to_scheduler();
}

void __syncthreads(void) { emu_wait(EMU_AT_BLOCK_BARRIER); }

unsigned atomicAdd(unsigned *address, unsigned value)
{
    unsigned old = *address;
    *address = old + value;
    return old;
}

double emu_shuffle_down(double v, unsigned delta)
{
    unsigned me = threadIdx.x, lane = me % 32;
    double r;
    emu_.lane[me] = v;
    emu_wait(EMU_AT_WARP_BARRIER);
    r = lane + delta < 32 ? emu_.lane[me + delta] : v;
    emu_wait(EMU_AT_WARP_BARRIER); /* nobody overwrites a lane before every lane has read */
    return r;
}

unsigned __ballot_sync(unsigned mask, int predicate)
{
    unsigned me = threadIdx.x, first = me - me % 32, votes = 0, i;
    if (mask != 0xffffffffu) std::fprintf(stderr, "cuda_emu: only full-warp ballots are modelled\n"), std::abort();
    emu_.lane[me] = predicate != 0;
    emu_wait(EMU_AT_WARP_BARRIER);
    for (i = 0; i < 32; i++) votes |= (emu_.lane[first + i] != 0.0) << i;
    emu_wait(EMU_AT_WARP_BARRIER);
    return votes;
}

void *emu_dynamic_shared(void) { return emu_.shared; }

/* a fiber's life: the kernel for one thread; on ucontext, uc_link returns to the scheduler */
static void emu_fiber_main(void)
{
    (*emu_.body)();
    emu_.state[emu_.current] = EMU_DONE;
}

/* Runs warp w's threads until none can go on, releasing its shuffles as soon as every lane waits */
static void emu_run_warp(unsigned w, bool backwards)
{
    unsigned k, i, waiting;
    do {
        for (k = 0; k < 32 && !emu_.failed; k++) {
            i = 32 * w + (backwards ? 31 - k : k);
            if (emu_.state[i] != EMU_RUN) continue;
            emu_.current = i, threadIdx.x = i;
            emu_to_fiber(i);
        }
        for (waiting = 0, i = 32 * w; i < 32 * w + 32; i++) waiting += emu_.state[i] == EMU_AT_WARP_BARRIER;
        if (waiting == 32)
            for (i = 32 * w; i < 32 * w + 32; i++) emu_.state[i] = EMU_RUN;
    } while (waiting == 32 && !emu_.failed);
}

/* A block, warp after warp: each runs as far as it can (to a __syncthreads or its end) before
   the next starts: the most skew between warps, so that a missing __syncthreads reads what
   another warp has not yet written. Between two barriers the warps go first to last or last to
   first, drawn at random (a fixed sequence), so that every stretch of a kernel sees both. */
static void emu_run_block_fibers(void)
{
    unsigned n = emu_.threads, warps = n / 32, i;
    for (i = 0; i < n; i++) {
        emu_fiber_start(i);
        emu_.state[i] = EMU_RUN;
    }
    while (!emu_.failed) {
        unsigned k, at_block = 0, done = 0;
        bool backwards;
        emu_.order ^= emu_.order << 13, emu_.order ^= emu_.order >> 7, emu_.order ^= emu_.order << 17;
        backwards = (emu_.order >> 40) & 1;
        for (k = 0; k < warps; k++) emu_run_warp(backwards ? warps - 1 - k : k, backwards);
        for (i = 0; i < n; i++) at_block += emu_.state[i] == EMU_AT_BLOCK_BARRIER, done += emu_.state[i] == EMU_DONE;
        if (done == n || emu_.failed) break;
        if (at_block + done < n) emu_diverged("a warp shuffle that not every lane reaches");
        else if (done) emu_diverged("threads wait at __syncthreads that others never reach");
        else
            for (i = 0; i < n; i++) emu_.state[i] = EMU_RUN;
    }
}

int emu_block_threads(emu_kernel kernel)
{
    unsigned i;
    for (i = 0; i < sizeof emu_.limit / sizeof *emu_.limit; i++)
        if (emu_.limit[i].kernel == kernel) return emu_.limit[i].threads;
    return EMU_MAX_THREADS;
}

void emu_limit_block_threads(emu_kernel kernel, int threads)
{
    unsigned i, n = sizeof emu_.limit / sizeof *emu_.limit, slot = n;
    for (i = 0; i < n; i++) /* the kernel's own slot, else the first free one */
        if (emu_.limit[i].kernel == kernel || (slot == n && !emu_.limit[i].kernel)) slot = i;
    if (slot == n) std::fprintf(stderr, "cuda_emu: more than 8 kernels' limits\n"), std::abort();
    emu_.limit[slot].kernel = threads ? kernel : NULL;
    emu_.limit[slot].threads = threads;
}

void emu_launch(emu_kernel kernel, bool cooperative, unsigned blocks, unsigned threads, size_t shared_bytes,
                const std::function<void()> &body)
{
    unsigned b, t;
    emu.launches++;
    if (!emu_.shared_allowed) emu_.shared_allowed = 48 * 1024;
    if (threads > (unsigned)emu_block_threads(kernel)) {
        emu_.last_error = cudaErrorLaunchOutOfResources;
        return;
    }
    if (emu_due(&emu.fail_launch) || threads == 0 || threads > EMU_MAX_THREADS || threads % 32 || blocks == 0 ||
        shared_bytes > (size_t)emu_.shared_allowed) {
        emu_.last_error = cudaErrorLaunchFailure;
        return;
    }
    if (!emu_.order) emu_.order = 0x9e3779b97f4a7c15ull;
    if (cooperative && threads > emu_.stack_threads) {
        std::free(emu_.stacks);
        if (!(emu_.stacks = (char *)std::malloc((size_t)threads * EMU_STACK))) std::abort();
        emu_.stack_threads = threads;
    }
    if (shared_bytes > emu_.shared_bytes) {
        std::free(emu_.shared);
        if (!(emu_.shared = (unsigned char *)std::malloc(shared_bytes))) std::abort();
        emu_.shared_bytes = shared_bytes;
    }
    emu_.body = &body, emu_.cooperative = cooperative, emu_.threads = threads, emu_.failed = false;
    gridDim.x = blocks, blockDim.x = threads, gridDim.y = gridDim.z = blockDim.y = blockDim.z = 1;
    for (b = 0; b < blocks && !emu_.failed; b++) {
        blockIdx.x = b;
        if (shared_bytes) std::memset(emu_.shared, 0xff, shared_bytes); /* NaNs: shared memory starts undefined */
        if (cooperative) {
            emu_run_block_fibers();
            continue;
        }
        for (t = 0; t < threads && !emu_.failed; t++) threadIdx.x = t, body();
    }
    if (emu_.failed) emu_.last_error = cudaErrorLaunchFailure;
}

/* ---- cuFFT ------------------------------------------------------------------------------------ */

static emu_fft_plan *emu_plan(cufftHandle h) { return h >= 0 && h < EMU_MAX_PLANS && emu_.plan[h].used ? &emu_.plan[h] : NULL; }

cufftResult cufftCreate(cufftHandle *plan)
{
    int h;
    for (h = 0; h < EMU_MAX_PLANS && emu_.plan[h].used; h++) continue;
    if (h == EMU_MAX_PLANS) return CUFFT_ALLOC_FAILED;
    std::memset(&emu_.plan[h], 0, sizeof emu_.plan[h]);
    emu_.plan[h].used = emu_.plan[h].automatic = true;
    emu_.plans++;
    *plan = h;
    return CUFFT_SUCCESS;
}

cufftResult cufftSetAutoAllocation(cufftHandle plan, int automatic)
{
    emu_fft_plan *p = emu_plan(plan);
    if (!p) return CUFFT_INVALID_PLAN;
    p->automatic = automatic != 0;
    return CUFFT_SUCCESS;
}

/* the work area: one batch's values, a stand-in for whatever cuFFT asks */
cufftResult cufftMakePlan1d(cufftHandle plan, int nx, cufftType type, int batch, size_t *work_bytes)
{
    emu_fft_plan *p = emu_plan(plan);
    if (!p || p->made) return CUFFT_INVALID_PLAN;
    emu.plans++;
    if (nx < 1 || batch < 1 || type != CUFFT_Z2Z) return CUFFT_INVALID_VALUE;
    if (emu_due(&emu.fail_plan) || pac_fft_create(NULL, (size_t)nx, &p->fft, NULL) != TP_OK) return CUFFT_ALLOC_FAILED;
    if (!(p->scratch = (double *)std::malloc(pac_fft_scratch_doubles(p->fft) * sizeof(double) + 1))) return CUFFT_ALLOC_FAILED;
    p->n = nx, p->batch = batch, p->made = true;
    p->area_bytes = (size_t)nx * sizeof(cufftDoubleComplex);
    *work_bytes = p->area_bytes;
    return CUFFT_SUCCESS;
}

cufftResult cufftSetStream(cufftHandle plan, cudaStream_t stream)
{
    (void)stream;
    return emu_plan(plan) ? CUFFT_SUCCESS : CUFFT_INVALID_PLAN;
}

cufftResult cufftSetWorkArea(cufftHandle plan, void *area)
{
    emu_fft_plan *p = emu_plan(plan);
    if (!p) return CUFFT_INVALID_PLAN;
    p->area = area;
    return CUFFT_SUCCESS;
}

cufftResult cufftExecZ2Z(cufftHandle plan, cufftDoubleComplex *in, cufftDoubleComplex *out, int direction)
{
    emu_fft_plan *p = emu_plan(plan);
    int b;
    if (!p || !p->made) return CUFFT_INVALID_PLAN;
    if (direction != CUFFT_FORWARD && direction != CUFFT_INVERSE) return CUFFT_INVALID_VALUE;
    if (!p->automatic && !p->area) return CUFFT_EXEC_FAILED;
    if (!p->automatic) std::memset(p->area, 0, p->area_bytes);
    if (in != out) std::memmove(out, in, (size_t)p->n * (size_t)p->batch * sizeof *in);
    for (b = 0; b < p->batch; b++) pac_fft_run(p->fft, (double *)(out + (size_t)b * (size_t)p->n), direction == CUFFT_INVERSE, p->scratch);
    return CUFFT_SUCCESS;
}

cufftResult cufftDestroy(cufftHandle plan)
{
    emu_fft_plan *p = emu_plan(plan);
    if (!p) return CUFFT_INVALID_PLAN;
    pac_fft_destroy(p->fft);
    std::free(p->scratch);
    p->used = false;
    emu_.plans--;
    return CUFFT_SUCCESS;
}

#endif /* CUDA_EMU_IMPLEMENTATION */
