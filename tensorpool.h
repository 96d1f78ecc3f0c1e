/* tensorpool.h 1.0.0 - pool allocator for numeric buffers, and the runtime of the membound collection - MIT license (end of file)

   Do this:
       #define TENSORPOOL_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation.

   QUICK START (compiles as C99 and as C++)
       #define TENSORPOOL_IMPLEMENTATION
       #include "tensorpool.h"
       #include <stdio.h>

       int main(void)
       {
           tp_desc desc = TP_DEFAULTS;           // every zero field means its default
           tp_pool *pool = NULL;
           tp_error err;
           float *x;
           desc.budget_bytes = (size_t)1 << 30;  // past 1 GiB, allocations fail cleanly
           if (tp_create(&desc, &pool, &err) != TP_OK) {
               fprintf(stderr, "%s\n", err.message);
               return 1;
           }
           x = (float *)tp_alloc(pool, 1000000 * sizeof(float)); // 64-byte aligned, or NULL
           if (x) x[0] = 1.0f;
           tp_free(pool, x);                     // its pages stay for the next tp_alloc
           printf("peak %zu bytes\n", tp_get_stats(pool).peak_live);
           tp_destroy(pool);
           return 0;
       }

   CONTENTS
       1. Compile-time options     5. Budget, AUTO and spill     9. CPUs and CPU features
       2. Memory model             6. Errors and logging        10. Allocator hooks
       3. Statistics and frames    7. Debugging                 11. Costs and thread safety
       4. The collection's runtime 8. Threads: the team         12. What it does NOT do

   Numeric codes allocate the same large buffers again and again; every fresh large allocation is
   an mmap whose pages fault in on first touch, and when memory runs out the process is OOM-killed
   instead of degrading. tensorpool keeps freed buffers (and their already-faulted pages) for
   reuse, never holds more than the program once needed at one time, refuses cleanly when a budget
   would be exceeded, and can back huge buffers with a disk file instead of failing. It is also the
   runtime that stat_stream.h, prom2d.h and pacgpu.h share: one result type, one error record, one
   element type, one progress callback, one thread team, one CPU-feature probe.

   1. COMPILE-TIME OPTIONS (define before including; "impl" = only where the implementation is built)
       TP_NO_THREADS     impl     no locking and no threads: one thread per pool, teams of one
       TP_DEBUG          global   debug checks on by default (desc.debug), and tp_alloc & co. record
                                  __FILE__/__LINE__ for the leak report; per TU, no layout change
       TP_ASSERT(x)      impl     internal consistency asserts (default: none)
       TP_STATIC         global   make every function static (private copy per TU)
       TP_NO_MMAP        impl     never map memory directly: every block comes from malloc/hooks
       TPDEF             global   linkage of the public functions (default: extern)
       TP_THREAD_CREATE(thread, fn, arg)  impl  how the team starts a thread [pthread_create(thread,
                                  NULL, fn, arg)]; tests define it to make a start fail
       TP_CPU_FEATURES_MASK impl  features tp_cpu_features may report [all]; 0 makes every header of
                                  the collection take its plain C kernels (tests, bisecting)
       TP_TEST_ALLOC_FAILS(pool, bytes)  impl  when defined and non-zero for a request, that
                                  tp_alloc fails with TP_ERR_NOMEM as if the system had no memory;
                                  tests define it to fail every allocation of a run in turn

   2. MEMORY MODEL
   - Every block is 64-byte aligned and carries a 64-byte header just before it.
   - Small blocks (below 256 KiB) are rounded up to size classes, four per power of two (64, 80,
     96, 112, 128, 160, ...), so a block wastes less than 25 % of the request; freed blocks wait on
     a per-class list and are reused LIFO.
   - Large blocks are page-rounded private anonymous maps. Freed large blocks become "chunks" of
     already-faulted pages, merged with the chunks they touch on either side that were mapped
     with the same huge-page advice (neighbours freed apart become one range again, without
     moving a page). A request is served by the best-fitting chunk (split when the rest is at
     least a quarter of the block, capped at 1 MiB, or 64 KiB; a shorter rest stays with the
     block); on Linux, when no single chunk is large enough, the pages of several chunks are
     moved with mremap into one new contiguous range, so only the part the cache cannot cover is
     fresh memory (moving pages costs a small fraction of faulting them anew).
   - High-water rule: the pool keeps cached bytes <= max(4 MiB, (highest live bytes ever) - (live
     bytes now)), so live + cached never exceeds what the program itself once held at one time by
     more than 4 MiB. On top of that, desc.max_cached_bytes caps the cache absolutely, and the
     budget caps live + cached.
   - Decay (desc.decay_ms, off by default): a cached page chunk that no request has used for
     decay_ms gives its pages back to the system (oldest first, down to desc.decay_keep_bytes of
     cache), as jemalloc's decay does: on Linux with madvise(MADV_DONTNEED), keeping the address
     range (stats.bytes_decayed), which the next request that needs fresh pages takes before any
     new map; elsewhere the chunk is unmapped. The pool checks as it is used (at most every
     eighth of decay_ms, on page-block operations and allocation misses); tp_decay checks now.
   - Contents of a reused block are undefined (tp_alloc_zeroed / TP_ZERO for zeros).

   3. STATISTICS AND FRAMES
   tp_get_stats: counts (allocs = hits + misses; failures are counted apart), bytes live / cached /
   reserved (live + cached = reserved) / spilled, their peaks, OS maps and unmaps. A hit is an
   allocation served wholly from the cache; a miss needed fresh memory (bytes_fresh counts it).
   tp_mark / tp_release_to free every block allocated after the mark (newest first), e.g. all
   temporaries of a phase. Blocks allocated after the mark by other threads are freed too (an
   allocation that races with tp_mark itself falls on either side of it).
   With thread caches (section 11) every counter is exact when read: tp_get_stats first merges
   each thread's counts into the pool's. The peaks (peak_live, peak_requested) are exact while
   one thread at a time allocates; when several allocate at once, a thread's rise is added at
   its next merge (a batch of its operations, or a tp_get_stats), so the peak of a truly
   concurrent phase can differ from any single moment's total by up to what the threads' caches
   hold (at most 1 MiB each).

   4. THE COLLECTION'S RUNTIME (what every header of membound shares, written once here)
   - Results: every fallible function returns tp_result (0 = TP_OK, negative = an error) and takes
     an optional tp_error * as its LAST argument (section 6).
   - Objects: x_create(const x_desc *desc, x **out, tp_error *err) and x_destroy(x *); desc NULL
     is the zero desc. Every field of every desc or options struct is zero by default and means
     its default then, written in brackets beside it; x_get_desc reads the resolved values back.
     TP_DEFAULTS zero-initialises a desc in C and in C++ alike (`x_desc d = TP_DEFAULTS;`).
   - Memory: desc.pool (NULL = a private pool), or a pool as the FIRST argument of functions that
     take no desc; x_estimate_bytes(desc, sizes..., &bytes, err) says beforehand what an operation
     takes from it (the measured peak lies within [90 %, 100 %] of it).
   - Element type: tp_dtype, TP_F32 or TP_F64; 0 is invalid (TP_ERR_ARG), so an unset field never
     silently means a type.
   - Progress: tp_progress_fn, called with work done and total; non-zero cancels the operation
     (TP_ERR_CANCELLED, no leak; each header says what partial output remains).
   - Threads: desc.n_threads (0 = the CPUs this process may use, section 9; 1 = the calling thread
     only), run by the team of section 8. Results never depend on the thread count.
   - Fallbacks (fewer threads than asked, a smaller chunk) are never silent: they go to the log
     (section 6) and to the object's info.

   5. BUDGET, AUTO AND SPILL
   budget_bytes caps live + cached bytes in memory (spilled bytes are on disk and not counted).
   TP_BUDGET_AUTO takes budget_fraction (default 0.8) of what this process may still use: the
   smallest of MemAvailable and every cgroup (v2 or v1) limit on the way to the root, less that
   cgroup's working set (usage - inactive file pages); right inside SLURM jobs and containers.
   tp_query_memory reports the numbers it used. Over budget, the pool first drops cached memory;
   if the live bytes alone would exceed it, the allocation fails with TP_ERR_BUDGET and a message
   with live, cached and requested bytes, and nothing changes. With spill_dir set, a request of at
   least spill_threshold (default 1 MiB) that would fail the budget is instead backed by a file
   created in spill_dir, unlinked at once (nothing is left on disk, even after a crash) and mapped
   shared; disk blocks are reserved up front (posix_fallocate where available) so a full disk
   fails the allocation instead of raising SIGBUS later. TP_SPILL forces a spill.
   desc.on_budget is asked first, with no lock held, when a request would exceed the budget: it
   may free, trim or move data out, and asks for a retry (as PyTorch's and RMM's out-of-memory
   handlers); when it gives up (or after TP_BUDGET_RETRIES retries) the request spills or fails.

   6. ERRORS AND LOGGING
   tp_error {code, message[256]}: the message names the argument, file or step that failed and
   what to do; a NULL tp_error * is allowed everywhere. Nothing is stored for later: no "last
   error" in a pool or an object. tp_alloc returns NULL on failure; tp_alloc_at gives the reason.
   Nothing is printed: a tp_logger {fn, user} in a desc receives errors, warnings (fallbacks, leak
   reports) and notes; in the other headers a zero logger means the pool's. tp_error_set and
   tp_log format messages for the headers of the collection and for callers alike.

   7. DEBUGGING
   desc.debug (or TP_DEBUG): freed blocks are poisoned with 0xDD and checked when reused (a write
   after free is reported), every tp_free is looked up (double free -> TP_ERR_DOUBLE_FREE, pointer
   from elsewhere -> TP_ERR_FOREIGN, nothing freed), and tp_destroy reports each leaked block with
   the file:line of its allocation. Without debug, tp_free checks the header's magic and state
   (catches double frees of cached blocks) but trusts that the pointer came from some pool.
   A debug pool also keeps a timeline: the last desc.timeline events (16384 by default) of every
   allocation, free, resize and refusal, each with its time, size, the live and spilled bytes
   after it, and the file:line of the allocation. tp_timeline copies them, tp_timeline_json
   writes them as JSON (one event a line), which `build/pool --draw-timeline` turns into a PNG
   of live bytes over time, as PyTorch's memory snapshot is drawn.
   Built with AddressSanitizer (-fsanitize=address, gcc or clang), the pool marks for it a live
   block's bytes past the request and every cached byte as out of bounds, so ASan stops a read
   or write past a buffer's end (into the slack of its size class) and any use of a buffer after
   tp_free, which would otherwise land in memory the pool still holds; tp_usable_size then
   returns the request itself. TP_POISON and TP_UNPOISON let a caller that carves one block into
   regions mark the gaps between them (no-ops without ASan).

   8. THREADS: THE TEAM
   A tp_team is the calling thread plus n_threads - 1 workers, started once and parked between
   jobs. tp_team_for(team, n_items, fn, user) calls fn(user, worker, item) for every item, each
   item once, items taken in increasing order by whichever worker is free, and returns when all
   are done. Inside fn, tp_team_ordered_begin/end(team, item) make a section run in item order
   (e.g. handing results out in time order), and tp_team_lock/unlock one at a time. A parked
   worker spins briefly before it sleeps, so jobs that follow each other within a millisecond
   start without a wake-up. A worker thread that cannot start is reported to the logger and the
   team runs with those it has (tp_team_size); a team never fails for that. Builds with
   TP_NO_THREADS, or without POSIX threads, have teams of one.

   9. CPUS AND CPU FEATURES
   tp_thread_count(0) is the number of CPUs this process may use: the smallest of the online
   CPUs, this process's affinity mask (/proc/self/status) and every cgroup CPU quota on the way to
   the root (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us, rounded up), so a SLURM
   job or a container with 2 CPUs gets 2 workers; tp_query_cpus reports the numbers.
   tp_cpu_features says which vector extensions the CPU has (x86: AVX2, AVX-512F); the headers of
   the collection pick their kernels with it, and every variant gives the plain C code's bits.

   10. ALLOCATOR HOOKS
   desc.allocator = {alloc, free, user}: all or none (tp_create fails with TP_ERR_ARG otherwise).
   With hooks every byte the pool holds, its own bookkeeping included, comes from them (no direct
   mmap), so they also serve to inject failures in tests. free receives the size given to alloc.

   11. COSTS AND THREAD SAFETY
   All functions taking a pool are thread-safe unless TP_NO_THREADS or desc.single_thread.
   Thread caches (desc.thread_caches, on by default; not in single_thread or debug pools): each
   thread that allocates class blocks (below 256 KiB) gets, on first use, a cache of them in
   the pool: a bin per class (4 to 32 blocks, about 128 KiB, 1 MiB in all) refilled from and
   given back to the pool's class lists half a bin at a time, with its own spin lock, which only
   its thread takes on the hit path; the thread finds it by its thread pointer where gcc or clang
   give it (x86-64, AArch64), else by a POSIX thread key. So threads sharing a pool do not
   contend: an alloc + free pair costs about the same on two threads as on one
   (bench/RESULTS.md). A hit (a block from or back into the thread's own cache found by its
   thread pointer, or, in a pool without thread caches, the pool's lists under a lock that is
   free) calls no function; anything else, a lock taken at that moment included, takes the long
   way. A block freed by another thread than the one that allocated it is
   collected and settled with its owner's cache 32 frees at a time; a block freed twice that
   way is reported when it is settled. Bytes in thread caches count as cached against the
   budget and the high-water rule, and as taken when the pool needs room: with a tight budget,
   an allocation may be refused while other threads' caches hold free blocks (tp_trim gives
   every cache back). A thread's cache goes
   back to the pool when the thread exits and is reused by the next new thread; a pool has at
   most 128, and threads beyond that share the pool's lock (said to the logger once per thread).
   A pool with thread caches holds one POSIX thread key (glibc has 1024 a process); a pool made
   when none is left runs without caches (said to the logger).
   Destroy a pool after the threads that used it have stopped using it, as for any call.
   The pool's own path (page blocks, misses, spills, a cache trim) decides under one short spin
   lock and makes its system calls (mmap, mremap, munmap, madvise, malloc, free, files) after
   releasing it, so other threads never wait on the kernel. Large-block hit: O(chunks <= 64).
   tp_free: O(1). Page faults happen in the caller when it touches fresh memory. tp_trim,
   tp_destroy: O(cached blocks). tp_get_stats, tp_live_blocks, tp_release_to: O(threads with a
   cache) locks, plus the blocks they visit. tp_create and tp_destroy of a pool must not race
   with other calls on it. A team is used by one thread at a time (its owner); tp_team_for must
   not be called from inside one of its own items.

   12. WHAT IT DOES NOT DO
   No NUMA placement, no explicit huge pages (only the transparent-huge-page advice), no Windows
   VirtualAlloc path (there it falls back to malloc and has no spill), no work stealing or nested
   parallelism in teams.
*/
#ifndef TENSORPOOL_H
#define TENSORPOOL_H

#include <stddef.h>
#include <stdint.h>

#define TP_VERSION_MAJOR 1
#define TP_VERSION_MINOR 0
#define TP_VERSION_PATCH 0

#ifndef TPDEF
#if defined(TP_STATIC) && (defined(__GNUC__) || defined(__clang__))
#define TPDEF static __attribute__((unused)) /* a TU need not call every function */
#elif defined(TP_STATIC)
#define TPDEF static
#else
#define TPDEF extern
#endif
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TP_PRINTF(fmt, args)
#endif

/* Zero-initialises a desc or options struct in C and C++ alike: `tp_desc d = TP_DEFAULTS;`
   (C++ warns on `= {0}` under -Wextra; C99 has no `= {}`). */
#ifdef __cplusplus
#define TP_DEFAULTS {}
#else
#define TP_DEFAULTS {0}
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- >>results and errors (section 6) ------------------------------------------------------- */

/* The result of every fallible function of the collection. */
typedef enum tp_result {
    TP_OK = 0,
    TP_ERR_ARG = -1,          /* a bad argument: the message names it */
    TP_ERR_OVERFLOW = -2,     /* a size computation overflowed */
    TP_ERR_NOMEM = -3,        /* the system (or an allocator hook) refused memory */
    TP_ERR_BUDGET = -4,       /* the memory would exceed the pool's budget (and no spill applied) */
    TP_ERR_IO = -5,           /* a file (or /proc, /sys, a spill file) could not be read, written or mapped */
    TP_ERR_FORMAT = -6,       /* a file or a serialized state is malformed: the message names the field */
    TP_ERR_CANCELLED = -7,    /* a progress or result callback asked to stop */
    TP_ERR_THREAD = -8,       /* a thread, lock or condition could not be created and nothing could run */
    TP_ERR_DEVICE = -9,       /* no accelerator, or one of its calls failed: the message says which */
    TP_ERR_UNSUPPORTED = -10, /* the feature is not in this build or on this platform */
    TP_ERR_DOUBLE_FREE = -11, /* tp_free of a block already freed */
    TP_ERR_FOREIGN = -12,     /* tp_free of a pointer this pool never returned */
    TP_RESULT__FORCE_INT = 0x7fffffff /* reserved: keeps every public enum of the collection
                                         int-sized, so that a wrong value is well-defined in C++ */
} tp_result;

#define TP_ERROR_MESSAGE 256

/* Where a function says why it failed; every function takes it last and accepts NULL. On
   success code is TP_OK and message empty. */
typedef struct tp_error {
    tp_result code;
    char message[TP_ERROR_MESSAGE];
} tp_error;

/* Stores code and the printf-formatted message (truncated to fit) into err, if err is not NULL;
   returns code, so that `return tp_error_set(err, TP_ERR_ARG, "...");` reads as it does. */
TPDEF tp_result tp_error_set(tp_error *err, tp_result code, const char *fmt, ...) TP_PRINTF(3, 4);
/* err = {TP_OK, ""} (NULL: nothing). */
TPDEF void tp_error_clear(tp_error *err);
/* Puts "prefix: " before the message of an err that holds an error (NULL or TP_OK: nothing), so
   that a message made deep inside names the public function it came out of. */
TPDEF void tp_error_prefix(tp_error *err, const char *prefix);
/* A short English name of the code ("over the memory budget"). */
TPDEF const char *tp_result_string(tp_result result);

typedef enum tp_log_level { TP_LOG_ERROR = 0, TP_LOG_WARN = 1, TP_LOG_INFO = 2, TP_LOG__FORCE_INT = 0x7fffffff } tp_log_level;
typedef void (*tp_log_fn)(void *user, tp_log_level level, const char *message);
/* A log callback and its user pointer; zero = silent (in other headers: the pool's). */
typedef struct tp_logger {
    tp_log_fn fn;
    void *user;
} tp_logger;
/* Formats a message and hands it to log->fn, if there is one (log may be NULL). */
TPDEF void tp_log(const tp_logger *log, tp_log_level level, const char *fmt, ...) TP_PRINTF(3, 4);

/* ---- >>element type and progress (section 4) -------------------------------------------------- */

/* The element type of every array argument of the collection; 0 is invalid. */
typedef enum tp_dtype { TP_F32 = 1, TP_F64 = 2, TP_DTYPE__FORCE_INT = 0x7fffffff } tp_dtype;
/* Bytes of one element: 4, 8, or 0 for a value that is not a tp_dtype. */
TPDEF size_t tp_dtype_size(tp_dtype dtype);
/* TP_OK for TP_F32 or TP_F64, else TP_ERR_ARG with a message naming `what` (e.g. "pac_run: x"). */
TPDEF tp_result tp_dtype_check(tp_dtype dtype, const char *what, tp_error *err);

/* Called as work advances (done of total, in the operation's own unit); return non-zero to cancel
   (the operation then returns TP_ERR_CANCELLED). */
typedef int (*tp_progress_fn)(void *user, uint64_t done, uint64_t total);

/* For the collection's vector kernels (section 9): TP_VECTOR is 1 where the GNU vector
   extensions they use are there (gcc >= 9, clang); TP_X86_TARGETS where AVX2 and AVX-512
   variants can be built beside the plain code (x86, gcc >= 9 or clang >= 8). Each header's own
   X_NO_VECTOR_EXTENSIONS turns its use off. TP_VSELECT(vi, mask, a, b, out): out = mask ? a : b
   lane by lane, for vectors a, b, out of one size and vi the integer vector type of that size
   (mask: all-ones or all-zero lanes, as a comparison gives); needs <string.h>. */
#if defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 9)
#define TP_VECTOR 1
#if (defined(__x86_64__) || defined(__i386__)) && (!defined(__clang__) || __clang_major__ >= 8)
#define TP_X86_TARGETS 1
#endif
#endif
#define TP_VSELECT(vi, mask, a, b, out)                                                         \
    do {                                                                                        \
        vi tp_a_, tp_b_;                                                                        \
        memcpy(&tp_a_, &(a), sizeof tp_a_);                                                     \
        memcpy(&tp_b_, &(b), sizeof tp_b_);                                                     \
        tp_a_ = (tp_a_ & (mask)) | (tp_b_ & ~(mask));                                           \
        memcpy(&(out), &tp_a_, sizeof tp_a_);                                                   \
    } while (0)

/* ---- >>pool ----------------------------------------------------------------------------------- */

#define TP_BUDGET_AUTO ((size_t)-1)

/* AddressSanitizer's marks (section 7). TP_ASAN is 1 in a build with -fsanitize=address (gcc or
   clang), else 0. TP_POISON(addr, n) marks n bytes of a live block out of bounds, e.g. gaps left
   between the regions a caller carves from one block, so that ASan stops a region's overrun into
   its neighbour; TP_UNPOISON undoes it; tp_free and the block's next tp_alloc reset the marks.
   Both are no-ops without ASan. TP_REDZONE: the bytes such a carver leaves after each region
   (64 under ASan, else 0). */
#if defined(__SANITIZE_ADDRESS__)
#define TP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TP_ASAN 1
#endif
#endif
#if defined(TP_ASAN)
#include <sanitizer/asan_interface.h>
#define TP_POISON(addr, n) ASAN_POISON_MEMORY_REGION((addr), (n))
#define TP_UNPOISON(addr, n) ASAN_UNPOISON_MEMORY_REGION((addr), (n))
#else
#define TP_ASAN 0
#define TP_POISON(addr, n) ((void)(addr), (void)(n))
#define TP_UNPOISON(addr, n) ((void)(addr), (void)(n))
#endif
#define TP_REDZONE (TP_ASAN ? 64u : 0u)

/* Flags for tp_alloc_flags / tp_alloc_at. */
enum { TP_ZERO = 1u, TP_SPILL = 2u, TP_NO_SPILL = 4u };

typedef struct tp_allocator {
    void *(*alloc)(size_t bytes, void *user); /* may return any alignment; NULL = failure */
    void (*free)(void *ptr, size_t bytes, void *user);
    void *user;
} tp_allocator;

typedef struct tp_pool tp_pool;

/* Called when an allocation of `bytes` would exceed the budget (section 5), before it fails or
   spills, with no lock held: fn may free blocks, tp_trim, or move data to disk, and returns
   non-zero to have the allocation tried again (at most TP_BUDGET_RETRIES times), 0 to let it
   fail (or spill, with spill_dir). fn must not allocate from the pool it is called for. */
typedef int (*tp_budget_fn)(void *user, tp_pool *pool, size_t bytes);
typedef struct tp_budget_handler {
    tp_budget_fn fn;
    void *user;
} tp_budget_handler;
enum { TP_BUDGET_RETRIES = 8 };

/* Zero-initialise and set what you need: every zero field means the default in brackets.
   tp_get_desc returns the resolved values. */
typedef struct tp_desc {
    size_t budget_bytes;     /* cap on live + cached bytes [0 = unlimited]; TP_BUDGET_AUTO */
    double budget_fraction;  /* share of the usable memory for TP_BUDGET_AUTO [0.8] */
    size_t max_cached_bytes; /* absolute cap on cached bytes [0 = only the high-water rule] */
    const char *spill_dir;   /* directory for spill files [NULL = never spill]; copied */
    size_t spill_threshold;  /* smallest request that may spill [1 MiB] */
    int debug;               /* 1 = checks on, -1 = off [0 = on if TP_DEBUG, else off] */
    int timeline;            /* debug pools keep the last N allocation events (section 7)
                                [0 = 16384; -1 = none] */
    int huge_pages;          /* 1 = ask for transparent huge pages on page blocks >= 4 MiB, -1 = never [1] */
    int decay_ms;            /* cached page chunks unused this long go back to the system (section 2)
                                [0 = kept, within the cache rules] */
    size_t decay_keep_bytes; /* cached bytes decay leaves in place [0] */
    int single_thread;       /* 1 = the caller promises one thread at a time: no locking [0] */
    int thread_caches;       /* 1 = each thread keeps a small cache of class blocks, -1 = off [1]
                                (section 11; never in single_thread or debug pools) */
    tp_allocator allocator;  /* hooks, all or none [malloc/free and mmap] */
    tp_logger log;           /* receives errors, warnings, leak reports [silent] */
    tp_budget_handler on_budget; /* asked to make room when the budget would be exceeded [none] */
} tp_desc;

typedef struct tp_stats {
    uint64_t allocs;       /* successful allocations = hits + misses */
    uint64_t hits;         /* served wholly from cached memory */
    uint64_t misses;       /* needed fresh memory (spills included) */
    uint64_t frees;
    uint64_t failures;     /* refused allocations (budget, memory, I/O, arguments) */
    uint64_t spills;       /* allocations backed by a spill file */
    uint64_t os_maps;      /* mmap/malloc calls that obtained memory */
    uint64_t os_unmaps;    /* munmap/free calls that returned memory */
    uint64_t bytes_fresh;  /* total bytes newly obtained from the system (faults to come) */
    double hit_rate;       /* hits / allocs (0 when no allocs) */
    size_t bytes_live;     /* in-memory bytes handed out (block sizes) */
    size_t bytes_cached;   /* bytes kept for reuse */
    size_t bytes_reserved; /* bytes_live + bytes_cached */
    size_t bytes_spilled;  /* bytes handed out that live in spill files */
    size_t bytes_requested;/* bytes asked for by live (and spilled) blocks */
    size_t peak_live, peak_reserved, peak_spilled, peak_requested; /* since create / reset */
    size_t live_blocks;    /* number of blocks handed out and not freed */
    size_t budget;         /* resolved budget (0 = unlimited) */
    size_t bytes_decayed;  /* address space decay emptied (no memory behind it), kept for reuse */
} tp_stats;

typedef struct tp_frame { uint64_t seq; } tp_frame;

typedef struct tp_memory_info {
    size_t mem_total;       /* /proc/meminfo MemTotal (0 if unknown) */
    size_t mem_available;   /* /proc/meminfo MemAvailable */
    int cgroup_version;     /* 0 = no memory limit found, 1 or 2 */
    size_t cgroup_limit;    /* tightest limit on the path to the root (0 = none) */
    size_t cgroup_usage;    /* working set of that cgroup (usage - inactive_file) */
    size_t usable;          /* min(mem_available, cgroup_limit - cgroup_usage) */
} tp_memory_info;

/* Creates a pool into *out (NULL on failure). desc NULL = all defaults. TP_ERR_ARG (out NULL,
   half-set hooks, a budget_fraction outside [0, 1]), TP_ERR_NOMEM, TP_ERR_IO (TP_BUDGET_AUTO
   could read no memory figure). */
TPDEF tp_result tp_create(const tp_desc *desc, tp_pool **out, tp_error *err);
/* Frees everything the pool holds, live blocks included (reported as leaks in debug mode). */
TPDEF void tp_destroy(tp_pool *pool);

/* 64-byte aligned block of at least `bytes` (0 is allowed and gives a unique block), or NULL
   (the reason goes to the pool's logger; tp_alloc_at gives it to you). tp_alloc_zeroed zeroes
   the first `bytes`. Thread-safe. */
TPDEF void *tp_alloc(tp_pool *pool, size_t bytes);
TPDEF void *tp_alloc_zeroed(tp_pool *pool, size_t bytes);
/* flags: TP_ZERO, TP_SPILL (back with a spill file now), TP_NO_SPILL (never spill this one). */
TPDEF void *tp_alloc_flags(tp_pool *pool, size_t bytes, unsigned flags);
/* The full form: file/line (may be NULL/0) label the block for the leak report; on a NULL
   return *err says why: TP_ERR_ARG (pool NULL, TP_SPILL without spill_dir), TP_ERR_OVERFLOW,
   TP_ERR_NOMEM, TP_ERR_BUDGET, TP_ERR_IO (a spill file), TP_ERR_UNSUPPORTED (spill without mmap). */
TPDEF void *tp_alloc_at(tp_pool *pool, size_t bytes, unsigned flags, const char *file, int line, tp_error *err);
/* Returns a block to the pool; NULL is a no-op returning TP_OK. TP_ERR_DOUBLE_FREE or
   TP_ERR_FOREIGN (nothing is freed then, the logger says where) when the checks of section 7
   catch a bad pointer. Like free(), it takes no tp_error: a bad pointer is a bug to log. */
TPDEF tp_result tp_free(tp_pool *pool, void *ptr);
/* Resizes a live block to `bytes` and returns it (the same pointer or a new one), its first
   min(old request, bytes) bytes kept. In place when the block's size class still fits (and is
   not twice too big), or, for a page block, when the pages right after it are a cached chunk
   (no system call, no fault: they were faulted before); else a page block moves with mremap
   (the page tables move, the data is not copied; Linux), and anything else is allocated anew,
   copied and freed. A shrunk page block gives its tail pages to the cache. ptr NULL is
   tp_alloc. On failure NULL, and the block is left as it was (still live). */
TPDEF void *tp_realloc(tp_pool *pool, void *ptr, size_t bytes);
/* The full form: file/line label a block allocated anew; *err says why on NULL (TP_ERR_ARG,
   TP_ERR_OVERFLOW, TP_ERR_BUDGET, TP_ERR_NOMEM, TP_ERR_DOUBLE_FREE for a block not live). */
TPDEF void *tp_realloc_at(tp_pool *pool, void *ptr, size_t bytes, const char *file, int line, tp_error *err);
/* Usable size of a live block (>= the request; the request itself under AddressSanitizer,
   section 7), 0 for NULL. */
TPDEF size_t tp_usable_size(tp_pool *pool, const void *ptr);

/* Gives every cached byte back to the OS (and the address space decay kept); returns how many
   cached bytes were released. */
TPDEF size_t tp_trim(tp_pool *pool);
/* Gives back now the cached page chunks unused for desc.decay_ms (down to decay_keep_bytes);
   returns the bytes released (0 when decay is off). The pool does this by itself as it is used;
   call it from a timer or a progress callback when the program may sit idle for long. */
TPDEF size_t tp_decay(tp_pool *pool);
/* The counters (section 3): the thread caches' merged in, then a snapshot under the lock. */
TPDEF tp_stats tp_get_stats(tp_pool *pool);
/* Sets every peak to the current value, to measure the peak of one phase. */
TPDEF void tp_reset_peak(tp_pool *pool);
/* The desc as resolved at create time: defaults filled in, TP_BUDGET_AUTO turned into bytes,
   spill_dir pointing at the pool's own copy. No lock needed: it never changes. */
TPDEF tp_desc tp_get_desc(const tp_pool *pool);

/* Marks the current point in the allocation order, for tp_release_to. */
TPDEF tp_frame tp_mark(tp_pool *pool);
/* Frees all live blocks allocated after `mark`. TP_ERR_ARG for a NULL pool or a mark that
   tp_mark did not give. */
TPDEF tp_result tp_release_to(tp_pool *pool, tp_frame mark, tp_error *err);

/* Calls fn for every live block under the pool's lock or a thread cache's: do not call the pool
   from fn. The pool's own blocks come first, then each thread cache's, each oldest first.
   Returns the number of live blocks. fn may be NULL (just count). */
typedef void (*tp_block_fn)(void *user, const void *ptr, size_t bytes, const char *file, int line);
TPDEF size_t tp_live_blocks(tp_pool *pool, tp_block_fn fn, void *user);

/* One event of a debug pool's timeline (section 7). */
typedef enum tp_event_kind {
    TP_EVENT_ALLOC = 1,   /* a block handed out */
    TP_EVENT_FREE = 2,    /* a block given back (tp_free, a frame, tp_destroy) */
    TP_EVENT_RESIZE = 3,  /* tp_realloc kept the block (in place or its pages moved) */
    TP_EVENT_FAIL = 4,    /* an allocation refused */
    TP_EVENT__FORCE_INT = 0x7fffffff
} tp_event_kind;
typedef struct tp_event {
    uint64_t t_us;        /* microseconds since tp_create */
    tp_event_kind kind;
    int line;             /* where the block was allocated (0: unknown) */
    const char *file;     /* NULL: unknown (build the caller with TP_DEBUG) */
    const void *ptr;      /* the block (NULL for a failure) */
    size_t bytes;         /* requested bytes (a resize: the new request) */
    size_t live;          /* bytes_live after the event */
    size_t spilled;       /* bytes_spilled after the event */
} tp_event;
/* Copies up to cap of the timeline's events, oldest first, into out (NULL: just count) and
   returns how many it copied (how many there are, for out NULL); *dropped (may be NULL)
   receives how many older events the bounded timeline no longer holds. 0 for pools without
   a timeline. */
TPDEF size_t tp_timeline(tp_pool *pool, tp_event *out, size_t cap, uint64_t *dropped);
/* Receives text as it is written; returns non-zero to stop (the caller's error). */
typedef int (*tp_write_fn)(void *user, const char *text, size_t n);
/* Writes the timeline as JSON through write: {"format": "tensorpool-timeline", "version": 1,
   "budget", "dropped", "events": [{"t_us", "op", "bytes", "live", "spilled", "ptr", "file",
   "line"}, ...]}, one event a line (examples/pool.c draws it as a PNG). TP_ERR_ARG (pool or
   write NULL), TP_ERR_UNSUPPORTED (no timeline: not a debug pool, or desc.timeline -1),
   TP_ERR_IO (write asked to stop), TP_ERR_NOMEM. */
TPDEF tp_result tp_timeline_json(tp_pool *pool, tp_write_fn write, void *user, tp_error *err);

/* How much memory this process may use (section 5). root is the file-system root to read proc/
   and sys/ under (NULL = "/"; tests point it at a fake tree). TP_ERR_IO if nothing was readable. */
TPDEF tp_result tp_query_memory(tp_memory_info *info, const char *root, tp_error *err);

/* "tensorpool 1.0.0 threads(spinlock) thread-caches mmap mremap spill" - what this build uses. */
TPDEF const char *tp_build_info(void);

/* Overflow-checked size arithmetic for callers (every header of the collection uses these):
   return 1 and store the result, or return 0 (and store 0) on overflow. */
TPDEF int tp_size_mul(size_t a, size_t b, size_t *out);
TPDEF int tp_size_add(size_t a, size_t b, size_t *out);

/* ---- >>CPUs and threads (sections 8, 9) ------------------------------------------------------- */

enum { TP_MAX_THREADS = 64 };

typedef struct tp_cpu_info {
    int online;            /* CPUs online (sysconf), 0 if unknown */
    int affinity;          /* CPUs in this process's affinity mask (/proc/self/status), 0 if unknown */
    double cgroup_quota;   /* CPUs' worth of time the tightest cgroup quota allows, 0 = no quota */
    int usable;            /* the smallest of the three (a quota rounded up), at least 1 */
} tp_cpu_info;

/* The CPUs this process may use (section 9); root as for tp_query_memory. Always fills info
   (usable >= 1); TP_ERR_IO when no figure at all could be read (usable is then 1). */
TPDEF tp_result tp_query_cpus(tp_cpu_info *info, const char *root, tp_error *err);
/* Resolves a desc's n_threads: 0 -> the usable CPUs (at most TP_MAX_THREADS), 1 .. TP_MAX_THREADS
   -> itself; anything else -> 0 (the caller's TP_ERR_ARG). */
TPDEF int tp_thread_count(int n_threads);

enum { TP_CPU_AVX2 = 1u, TP_CPU_AVX512F = 2u };
/* The vector extensions this CPU has, as TP_CPU_* bits (0 off x86 or without gcc/clang), limited
   by TP_CPU_FEATURES_MASK. Cheap, but callers pick their kernels once per operation. */
TPDEF unsigned tp_cpu_features(void);

typedef struct tp_team tp_team;
typedef void (*tp_task_fn)(void *user, int worker, size_t item);

typedef struct tp_team_desc {
    int n_threads;         /* workers, the calling thread included [0 = tp_thread_count(0)] */
    tp_pool *pool;         /* where the team's few hundred bytes live [NULL = malloc] */
    tp_logger log;         /* told when a worker cannot start [zero = the pool's logger] */
} tp_team_desc;

/* Starts n_threads - 1 worker threads (section 8). A thread that cannot start is logged
   (TP_LOG_WARN) and the team runs without it. TP_ERR_ARG (out NULL, n_threads outside
   0 .. TP_MAX_THREADS), TP_ERR_NOMEM, TP_ERR_BUDGET, TP_ERR_THREAD (no lock could be made). */
TPDEF tp_result tp_team_create(const tp_team_desc *desc, tp_team **out, tp_error *err);
/* Stops and joins the workers, frees the team. */
TPDEF void tp_team_destroy(tp_team *team);
/* Workers that take items: n_threads, or fewer when threads could not start; 1 for NULL. */
TPDEF int tp_team_size(const tp_team *team);
/* Calls fn(user, worker, item) for item = 0 .. n_items - 1 on the team's workers (worker 0 is
   the caller; worker < tp_team_size), and returns when every call has returned. Items start in
   increasing order. team NULL runs them all on the calling thread, in order. */
TPDEF void tp_team_for(tp_team *team, size_t n_items, tp_task_fn fn, void *user);
/* Inside fn of `item`: begin waits until every earlier item of this tp_team_for has ended its
   ordered section; end lets the next one in. Either every item calls both, or none does. */
TPDEF void tp_team_ordered_begin(tp_team *team, size_t item);
TPDEF void tp_team_ordered_end(tp_team *team, size_t item);
/* A mutex of the team, for a section of fn that must run one worker at a time. */
TPDEF void tp_team_lock(tp_team *team);
TPDEF void tp_team_unlock(tp_team *team);
/* Bytes a team of n_threads takes from its pool (for estimates). */
TPDEF size_t tp_team_bytes(int n_threads);

#ifdef __cplusplus
}
#endif

/* With TP_DEBUG, allocations made from this TU record where they were made. */
#if defined(TP_DEBUG) && !defined(TP_NO_CALLSITE)
#define tp_alloc(pool, bytes) tp_alloc_at((pool), (bytes), 0u, __FILE__, __LINE__, NULL)
#define tp_alloc_zeroed(pool, bytes) tp_alloc_at((pool), (bytes), TP_ZERO, __FILE__, __LINE__, NULL)
#define tp_alloc_flags(pool, bytes, flags) tp_alloc_at((pool), (bytes), (flags), __FILE__, __LINE__, NULL)
#define tp_realloc(pool, ptr, bytes) tp_realloc_at((pool), (ptr), (bytes), __FILE__, __LINE__, NULL)
#endif

#endif /* TENSORPOOL_H */
/* ============================================================================================ */
/* >>implementation                                                                             */
/* ============================================================================================ */
#if defined(TENSORPOOL_IMPLEMENTATION) && !defined(TENSORPOOL_IMPLEMENTATION_INCLUDED)
#define TENSORPOOL_IMPLEMENTATION_INCLUDED

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdarg.h>
#include <errno.h>
#include <time.h>

#if defined(__unix__) || defined(__APPLE__)
#define TP__POSIX 1
#include <sys/types.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>
#endif

/* TP__FILEMAP: file maps (spill), plain POSIX. TP__MMAP: anonymous maps, whose flag strict
   POSIX headers hide; on Linux its value is kernel ABI (0x20 on these architectures). */
#if defined(TP__POSIX) && !defined(TP_NO_MMAP)
#define TP__FILEMAP 1
#if defined(MAP_ANONYMOUS)
#define TP__MAP_ANON MAP_ANONYMOUS
#elif defined(__linux__) && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || \
                             defined(__arm__) || defined(__riscv) || defined(__powerpc__) || defined(__s390__))
#define TP__MAP_ANON 0x20
#endif
#if defined(TP__MAP_ANON)
#define TP__MMAP 1
#endif
#endif

/* mremap is Linux-only and declared only under _GNU_SOURCE; its flags are kernel ABI. */
#if defined(TP__MMAP) && defined(__linux__)
#define TP__MREMAP 1
#ifndef MREMAP_MAYMOVE
extern void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);
#define TP__MREMAP_FLAGS 3 /* MREMAP_MAYMOVE | MREMAP_FIXED */
#else
#define TP__MREMAP_FLAGS (MREMAP_MAYMOVE | MREMAP_FIXED)
#endif
#endif

/* Decay empties chunks with MADV_DONTNEED and keeps their address range where it is declared
   (Linux); elsewhere it unmaps them. */
#if defined(TP__MMAP) && defined(MADV_DONTNEED) && defined(__linux__)
#define TP__DECAY_ADVISE 1
#endif

#if defined(TP__POSIX) && defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200112L
#define TP__POSIX2001 1 /* ftruncate, posix_fallocate are declared */
#endif

#if !defined(TP_NO_THREADS) && defined(TP__POSIX)
#define TP__THREADS 1
#include <pthread.h>
#if defined(__GNUC__) || defined(__clang__)
#define TP__SPINLOCK 1
#include <sched.h>
#endif
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TP__LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define TP__STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define TP__FETCH_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define TP__ATOMICS 1
#if defined(__x86_64__) || defined(__i386__)
#define TP__PAUSE() __builtin_ia32_pause()
#else
#define TP__PAUSE() ((void)0)
#endif
#endif

#ifndef TP_ASSERT
#define TP_ASSERT(x) ((void)0)
#endif

/* TP__APART: keeps the compiler from merging the counter updates on either side into one vector
   load and store, which a later scalar store and load of one of them would stall on. */
#if defined(__GNUC__) || defined(__clang__)
#define TP__APART() __asm__ __volatile__("" ::: "memory")
#else
#define TP__APART() ((void)0)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TP__NOINLINE __attribute__((noinline)) /* keeps a cold path's big frame off the hot one */
#define TP__HOT_INLINE __inline__ __attribute__((always_inline)) /* a hit path's few instructions */
#else
#define TP__NOINLINE
#define TP__HOT_INLINE
#endif

#define TP__HDR 64u                    /* header bytes before every block (keeps alignment) */
#define TP__ALIGN 64u
#define TP__LARGE (256u * 1024u)       /* blocks this big (header included) are page maps */
#define TP__MIN_CHUNK (64u * 1024u)    /* smaller leftovers of a large chunk are not kept */
#define TP__MAX_CHUNKS 64
#define TP__MAX_PIECES 16              /* chunks moved into one new large block at most */
#define TP__NCLASS 240
#define TP__HUGE_MIN ((size_t)4 << 20)  /* page blocks this big get MADV_HUGEPAGE */
#define TP__CACHE_SLACK ((size_t)4 << 20) /* cache always allowed under the high-water rule */
#define TP__MAGIC 0x7e9500d1u
#define TP__MSG TP_ERROR_MESSAGE

enum { TP__SMALL = 1, TP__PAGES = 2, TP__SPILLED = 3 };
enum { TP__LIVE = 1, TP__CACHED = 2 };

typedef struct tp__hdr {
    uint32_t magic;
    uint8_t kind, state, cls;
    uint8_t raw_off;  /* header - start of the raw allocation (small blocks; < TP__ALIGN) */
    uint16_t owner;   /* live list it is on: 0 the pool's, i the thread cache tcs[i - 1]'s */
    uint8_t huge;     /* page blocks: its pages were mapped with the huge-page advice */
    uint8_t unused;
    int32_t line;
    size_t size;      /* usable bytes after the header */
    size_t req;       /* bytes asked for */
    uint64_t seq;     /* the frame epoch it was allocated in (tp_mark) */
    const char *file;
    struct tp__hdr *prev, *next; /* live list, or class free list (next only) */
} tp__hdr;

typedef struct tp__list { tp__hdr *head, *tail; } tp__list;

typedef char tp__hdr_fits[(sizeof(tp__hdr) <= TP__HDR) ? 1 : -1];

typedef struct tp__chunk {
    char *addr;
    size_t len;
    uint64_t idle_since; /* ms, tp__now_ms */
    int huge;            /* mapped with the huge-page advice: merges only with its like */
} tp__chunk;

/* Thread caches (section 11) need the spin lock's atomics and POSIX thread keys. Where the
   compiler gives the thread pointer (one instruction on x86-64 and AArch64), a thread finds its
   cache by it, without a pthread_getspecific call; the key stays for the rest. */
#if defined(TP__SPINLOCK) && defined(TP__ATOMICS)
#define TP__TCACHE 1
#if defined(__has_builtin) && !defined(__CUDACC__) && (defined(__x86_64__) || defined(__aarch64__))
#if __has_builtin(__builtin_thread_pointer)
#define TP__THREAD_PTR() ((uintptr_t)__builtin_thread_pointer())
#endif
#endif
#endif
#define TP__TC_SLOTS 256               /* thread pointer -> cache, open addressing */
#define TP__TC_PROBES 4
#define TP__TC_MAX 128                 /* thread caches a pool keeps; more threads share the pool */
#define TP__TC_CLASSES 49              /* every class below TP__LARGE */
#define TP__TC_CLASS_BYTES (128u * 1024u) /* a class's bin holds about this many bytes ... */
#define TP__TC_MIN_COUNT 4             /* ... and 4 to 32 blocks */
#define TP__TC_MAX_COUNT 32
#define TP__TC_BYTES ((size_t)1 << 20) /* past this a bin being freed into goes back whole */
#define TP__TC_PEND 32                 /* frees of another thread's blocks settled at once */

/* One thread's cache of class blocks in one pool. Its own lock (taken by that thread, and by
   others only to free one of its blocks or to merge its counters) keeps the hit path off the
   pool's lock. The d_ fields are what its operations changed since they were last merged into
   the pool's statistics (tp__tc_sync); rise_* are the highest d_live / d_req reached since; the
   change of bin_bytes since then is counted at a merge too. */
typedef struct tp__tcache {
    /* the hit path's cache line: the lock, who owns it, what its operations changed */
    int lock;
    uint16_t idx;               /* 1-based, as in tp__hdr.owner */
    int attached;               /* a live thread uses it (under the pool lock) */
    uintptr_t thread_ptr;       /* that thread's pointer while it is attached, else 0 (atomic) */
    int64_t d_live, rise_live, d_req, rise_req; /* interleaved: no vector load over two fresh stores */
    uint64_t d_allocs, d_frees;
    tp__list live;
    size_t bin_bytes;
    struct { tp__hdr *head; uint16_t count; uint8_t cap; } bin[TP__TC_CLASSES]; /* one line a class */
    struct tp_pool *pool;
    void *raw;                  /* the allocation it lives in */
    tp__hdr *pend[TP__TC_PEND]; /* freed blocks of cache pend_owner, still on its live list */
    int n_pend;
    uint16_t pend_owner;
    size_t synced_bin_bytes;    /* bin_bytes as the pool's tc_held last counted it */
    char pad[64]; /* the cache line of the last fields ends inside the allocation: another thread's
                     cache (malloc'd right after) never shares it */
} tp__tcache;

struct tp_pool {
    tp_desc desc;               /* resolved; read-only after tp_create */
    char *spill_dir;            /* owned copy */
    size_t page;
    /* The lock gets a cache line of its own: the read-only fields above stay shared between cores
       while the lock and the mutable state below bounce. */
    char pad_before_lock[64];
#if defined(TP__SPINLOCK)
    int lock;
#elif defined(TP__THREADS)
    pthread_mutex_t lock;
#endif
    char pad_after_lock[64];
    tp__hdr *free_small[TP__NCLASS];
    tp__chunk chunks[TP__MAX_CHUNKS];
    int n_chunks;
    tp__list live;              /* live blocks of the pool's own path (owner 0) */
    uint64_t epoch;             /* frames: tp_mark's count (written under the lock, read atomically) */
    size_t tc_held;             /* bytes in thread caches' bins, as of their last merge */
    uint64_t last_decay;        /* tp__now_ms of the last decay pass */
    tp__chunk decayed[TP__MAX_CHUNKS]; /* emptied chunks: address space to map fresh pages into */
    int n_decayed;
    /* debug timeline: a ring of tl_cap events, tl_n written in all (under the lock) */
    tp_event *tl;
    size_t tl_cap;
    uint64_t tl_n, tl_t0;
    /* thread caches: tcs[0 .. n_tc - 1] (published with a release store, never removed before
       tp_destroy), found through tc_key */
    int tc_on;
    int n_tc;
    tp__tcache *tcs[TP__TC_MAX];
    tp__tcache *tc_slot[TP__TC_SLOTS]; /* by thread pointer (written under the lock, read atomically) */
#if defined(TP__TCACHE)
    pthread_key_t tc_key;
#endif
    size_t high_water;          /* highest bytes_live ever: bounds live + cached */
    size_t cache_floor;         /* min(slack, max_cached_bytes): a smaller cache needs no check */
    tp_stats st;
    uint64_t spill_counter;
    /* debug: open-addressing set of every block the pool holds (live or cached) */
    void **dbg_set;
    size_t dbg_cap, dbg_used, dbg_tomb;
};

/* ---- >>errors and logs ---------------------------------------------------------------------- */

TPDEF tp_result tp_error_set(tp_error *err, tp_result code, const char *fmt, ...)
{
    va_list ap;
    if (!err) return code;
    err->code = code;
    err->message[0] = 0;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

TPDEF void tp_error_clear(tp_error *err)
{
    if (!err) return;
    err->code = TP_OK;
    err->message[0] = 0;
}

TPDEF void tp_error_prefix(tp_error *err, const char *prefix)
{
    char old[TP_ERROR_MESSAGE];
    size_t cap = sizeof err->message - 1, n, rest;
    if (!err || err->code == TP_OK || !prefix) return;
    memcpy(old, err->message, sizeof old);
    old[sizeof old - 1] = 0;
    n = strlen(prefix) < cap ? strlen(prefix) : cap;
    memcpy(err->message, prefix, n);
    if (n + 2 <= cap) memcpy(err->message + n, ": ", 2), n += 2;
    rest = strlen(old) < cap - n ? strlen(old) : cap - n;
    memcpy(err->message + n, old, rest);
    err->message[n + rest] = 0;
}

TPDEF void tp_log(const tp_logger *log, tp_log_level level, const char *fmt, ...)
{
    char msg[TP__MSG];
    va_list ap;
    if (!log || !log->fn) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log->fn(log->user, level, msg);
}

TPDEF const char *tp_result_string(tp_result r)
{
    switch (r) {
    case TP_OK: return "ok";
    case TP_ERR_ARG: return "bad argument";
    case TP_ERR_OVERFLOW: return "size overflow";
    case TP_ERR_NOMEM: return "out of memory";
    case TP_ERR_BUDGET: return "over the memory budget";
    case TP_ERR_IO: return "I/O error";
    case TP_ERR_FORMAT: return "malformed input";
    case TP_ERR_CANCELLED: return "cancelled";
    case TP_ERR_THREAD: return "could not start threads";
    case TP_ERR_DEVICE: return "device error";
    case TP_ERR_UNSUPPORTED: return "not supported by this build";
    case TP_ERR_DOUBLE_FREE: return "double free";
    case TP_ERR_FOREIGN: return "pointer not from this pool";
    default: break;
    }
    return "unknown result";
}

TPDEF size_t tp_dtype_size(tp_dtype dtype)
{
    return dtype == TP_F32 ? 4u : dtype == TP_F64 ? 8u : 0u;
}

TPDEF tp_result tp_dtype_check(tp_dtype dtype, const char *what, tp_error *err)
{
    if (dtype == TP_F32 || dtype == TP_F64) return TP_OK;
    return tp_error_set(err, TP_ERR_ARG, "%s: element type must be TP_F32 (1) or TP_F64 (2), got %d",
                        what ? what : "dtype", (int)dtype);
}

/* ---- >>small helpers ------------------------------------------------------------------------ */

TPDEF int tp_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a) { *out = 0; return 0; }
    *out = a * b;
    return 1;
}

TPDEF int tp_size_add(size_t a, size_t b, size_t *out)
{
    if (b > (size_t)-1 - a) { *out = 0; return 0; }
    *out = a + b;
    return 1;
}

static size_t tp__round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

static int tp__floor_log2(size_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (int)(sizeof(unsigned long long) * 8 - 1) - __builtin_clzll((unsigned long long)x);
#else
    int e = 0;
    while (x >>= 1) e++;
    return e;
#endif
}

/* Size classes: 64, then four per power of two: (5..8) << (e - 2). Waste < 25 % of the request. */
static unsigned tp__class_of(size_t bytes)
{
    size_t k;
    int e;
    if (bytes <= 64) return 0;
    k = bytes - 1;
    e = tp__floor_log2(k);
    return (unsigned)((e - 6) * 4 + (int)((k >> (e - 2)) & 3u) + 1);
}

static size_t tp__class_size(unsigned cls)
{
    unsigned e, sub;
    if (cls == 0) return 64;
    e = (cls - 1) / 4 + 6;
    sub = (cls - 1) % 4;
    return (size_t)(5 + sub) << (e - 2);
}

/* ---- >>lock ------------------------------------------------------------------------------------ */

#if defined(TP__SPINLOCK)
/* Test-and-test-and-set: critical sections are a few dozen instructions and never wait on the
   kernel (section 11); after a while of spinning the waiter yields the core. */
static void tp__lock_contended(int *lock)
{
    int spins = 0;
    do {
        while (__atomic_load_n(lock, __ATOMIC_RELAXED)) {
            if (++spins < 2000) {
                TP__PAUSE();
            } else {
                sched_yield();
                spins = 0;
            }
        }
    } while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE));
}
#endif

static void tp__lock(tp_pool *p)
{
    if (p->desc.single_thread) return;
#if defined(TP__SPINLOCK)
    if (__atomic_exchange_n(&p->lock, 1, __ATOMIC_ACQUIRE)) tp__lock_contended(&p->lock);
#elif defined(TP__THREADS)
    pthread_mutex_lock(&p->lock);
#endif
}

/* The lock if it is free now: 1 when taken. */
static TP__HOT_INLINE int tp__trylock(tp_pool *p)
{
    if (p->desc.single_thread) return 1;
#if defined(TP__SPINLOCK)
    return !__atomic_exchange_n(&p->lock, 1, __ATOMIC_ACQUIRE);
#elif defined(TP__THREADS)
    return pthread_mutex_trylock(&p->lock) == 0;
#else
    return 1;
#endif
}

static void tp__unlock(tp_pool *p)
{
    if (p->desc.single_thread) return;
#if defined(TP__SPINLOCK)
    __atomic_store_n(&p->lock, 0, __ATOMIC_RELEASE);
#elif defined(TP__THREADS)
    pthread_mutex_unlock(&p->lock);
#endif
}

/* ---- >>later: what the lock decides and the caller does after releasing it -------------------- */

/* Ranges to unmap, raw blocks to free and messages to log, collected under the lock and carried
   out after it (tp__later_run), so that no system call and no user callback runs under it. One
   operation needs at most two cache trims (<= TP__MAX_CHUNKS + 1 ranges each) and a few more. */
#define TP__LATER_MAX (2 * TP__MAX_CHUNKS + TP__MAX_PIECES + 8)
typedef struct tp__later {
    tp__chunk range[TP__LATER_MAX];
    unsigned char raw[TP__LATER_MAX]; /* 0: a map to unmap, 1: a raw allocation for the free hook,
                                         2: a chunk to empty (MADV_DONTNEED) and keep as decayed */
    int n;
    tp__hdr *small;                   /* class blocks to give back, linked by next */
    int n_msg;
    tp_log_level level[2];
    char msg[2][TP__MSG];
} tp__later;

static void tp__later_init(tp__later *l)
{
    l->n = 0;
    l->small = NULL;
    l->n_msg = 0;
}

static void tp__later_range(tp__later *l, void *addr, size_t len, int raw)
{
    TP_ASSERT(l->n < TP__LATER_MAX);
    if (!len) return;
    l->range[l->n].addr = (char *)addr;
    l->range[l->n].len = len;
    l->range[l->n].huge = 0;
    l->raw[l->n++] = (unsigned char)raw;
}

/* A map to unmap after the lock; counted now. */
static void tp__later_unmap(tp_pool *p, tp__later *l, void *addr, size_t len)
{
    tp__later_range(l, addr, len, 0);
    p->st.os_unmaps++;
}

static void tp__later_msg(tp__later *l, tp_log_level level, const char *fmt, ...) TP_PRINTF(3, 4);
static void tp__later_msg(tp__later *l, tp_log_level level, const char *fmt, ...)
{
    va_list ap;
    if (l->n_msg == 2) return;
    va_start(ap, fmt);
    vsnprintf(l->msg[l->n_msg], TP__MSG, fmt, ap);
    va_end(ap);
    l->level[l->n_msg++] = level;
}

static void *tp__raw_alloc(const tp_allocator *a, size_t n)
{
    return a->alloc ? a->alloc(n, a->user) : malloc(n);
}

static void tp__raw_free(const tp_allocator *a, void *ptr, size_t n)
{
    if (!ptr) return;
    if (a->free) a->free(ptr, n, a->user);
    else free(ptr);
}

static void tp__os_unmap(void *addr, size_t len)
{
    TP_UNPOISON(addr, len); /* the shadow outlives the map: the next map there starts clean */
#if defined(TP__FILEMAP)
    munmap(addr, len);
#else
    (void)addr; (void)len;
#endif
}

static char *tp__user(tp__hdr *h) { return (char *)h + TP__HDR; }
static size_t tp__small_raw_len(const tp__hdr *h) { return TP__HDR + h->size + TP__ALIGN - 1; }

/* Carries out what the lock decided; the lock is not held. */
static void tp__decayed_keep(tp_pool *p, const tp__chunk *range);

static void tp__later_run(tp_pool *p, tp__later *l)
{
    int i;
    while (l->small) {
        tp__hdr *h = l->small;
        l->small = h->next;
        TP_UNPOISON(tp__user(h), h->size);
        tp__raw_free(&p->desc.allocator, (char *)h - h->raw_off, tp__small_raw_len(h));
    }
    for (i = 0; i < l->n; i++) {
        if (l->raw[i] == 1) tp__raw_free(&p->desc.allocator, l->range[i].addr, l->range[i].len);
        else if (l->raw[i] == 2) tp__decayed_keep(p, &l->range[i]);
        else tp__os_unmap(l->range[i].addr, l->range[i].len);
    }
    l->n = 0;
    for (i = 0; i < l->n_msg; i++) tp_log(&p->desc.log, l->level[i], "%s", l->msg[i]);
    l->n_msg = 0;
}

/* Bytes a block accounts for: the class size for small blocks, the whole map for page blocks
   (so that a page block and the chunk it becomes count the same). */
static size_t tp__footprint(const tp__hdr *h) { return h->kind == TP__SMALL ? h->size : h->size + TP__HDR; }
static tp__hdr *tp__hdr_of(const void *ptr) { return (tp__hdr *)(void *)((char *)ptr - TP__HDR); }

/* ---- >>accounting ---------------------------------------------------------------------------- */

static void tp__peaks(tp_pool *p)
{
    tp_stats *s = &p->st;
    size_t reserved = s->bytes_live + s->bytes_cached; /* derived: tp_get_stats fills it in */
    if (s->bytes_live > s->peak_live) s->peak_live = s->bytes_live;
    if (reserved > s->peak_reserved) s->peak_reserved = reserved;
    if (s->bytes_spilled > s->peak_spilled) s->peak_spilled = s->bytes_spilled;
    if (s->bytes_requested > s->peak_requested) s->peak_requested = s->bytes_requested;
    if (s->bytes_live > p->high_water) p->high_water = s->bytes_live;
}

static void tp__list_push(tp__list *list, tp__hdr *h)
{
    h->next = NULL;
    h->prev = list->tail;
    if (list->tail) list->tail->next = h; else list->head = h;
    list->tail = h;
}

static void tp__list_remove(tp__list *list, tp__hdr *h)
{
    if (h->prev) h->prev->next = h->next; else list->head = h->next;
    if (h->next) h->next->prev = h->prev; else list->tail = h->prev;
    h->prev = h->next = NULL;
}

/* Sets a block's state by storing its first eight bytes at once: tp_free checks magic and kind
   with one eight-byte load, which a lone byte store just before would stall. */
static void tp__hdr_word(tp__hdr *h, uint8_t state)
{
    struct { uint32_t magic; uint8_t kind, state, cls, raw_off; } w;
    w.magic = TP__MAGIC;
    w.kind = h->kind;
    w.state = state;
    w.cls = h->cls;
    w.raw_off = h->raw_off;
    memcpy(h, &w, sizeof w);
}

static void tp__live_link(tp_pool *p, tp__hdr *h)
{
    tp__hdr_word(h, TP__LIVE);
    h->owner = 0;
    h->seq = p->epoch;
    tp__list_push(&p->live, h);
    p->st.live_blocks++;
}

static void tp__live_unlink(tp_pool *p, tp__hdr *h)
{
    TP_ASSERT(h->state == TP__LIVE && h->owner == 0 && p->st.live_blocks > 0);
    tp__list_remove(&p->live, h);
    p->st.live_blocks--;
}

/* Would `need` more live bytes stay within the budget? The pool's own cache is dropped later as
   needed; bytes waiting in thread caches cannot be, so they count as taken. */
static int tp__fits_budget(const tp_pool *p, size_t need)
{
    size_t budget = p->desc.budget_bytes, taken = p->st.bytes_live + p->tc_held;
    return !budget || (need <= budget && taken <= budget - need);
}

/* ---- >>debug set ----------------------------------------------------------------------------- */

static size_t tp__hash(const void *ptr, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)ptr >> 6;
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 17) & (cap - 1);
}

#define TP__TOMB ((void *)(uintptr_t)1) /* never a block address: blocks are 64-aligned */

static void **tp__dbg_slot(tp_pool *p, const void *ptr)
{
    size_t i = tp__hash(ptr, p->dbg_cap);
    while (p->dbg_set[i]) {
        if (p->dbg_set[i] == ptr) return &p->dbg_set[i];
        i = (i + 1) & (p->dbg_cap - 1);
    }
    return NULL;
}

static void tp__dbg_rehash(tp_pool *p, void **nw, size_t cap, tp__later *l)
{
    size_t i, j;
    for (i = 0; i < p->dbg_cap; i++) {
        if (!p->dbg_set[i] || p->dbg_set[i] == TP__TOMB) continue;
        j = tp__hash(p->dbg_set[i], cap);
        while (nw[j]) j = (j + 1) & (cap - 1);
        nw[j] = p->dbg_set[i];
    }
    tp__later_range(l, p->dbg_set, p->dbg_cap * sizeof(void *), 1);
    p->dbg_set = nw;
    p->dbg_cap = cap;
    p->dbg_tomb = 0;
}

/* Makes room for one more entry of the debug set; called under the lock, it drops the lock while
   it allocates a bigger table. 0 when the table cannot grow. */
static int tp__dbg_room(tp_pool *p, tp__later *l)
{
    while (p->desc.debug && (p->dbg_used + p->dbg_tomb + 1) * 4 >= p->dbg_cap * 3) {
        size_t cap = p->dbg_cap ? p->dbg_cap * 2 : 256, bytes;
        void **nw;
        if (!tp_size_mul(cap, sizeof(void *), &bytes)) return 0;
        tp__unlock(p);
        nw = (void **)tp__raw_alloc(&p->desc.allocator, bytes);
        if (nw) memset(nw, 0, bytes);
        tp__lock(p);
        if (!nw) return 0;
        if (p->dbg_cap >= cap) tp__later_range(l, nw, bytes, 1); /* another thread grew it meanwhile */
        else tp__dbg_rehash(p, nw, cap, l);
    }
    return 1;
}

static void tp__dbg_insert(tp_pool *p, const void *ptr)
{
    size_t i;
    if (!p->desc.debug) return;
    i = tp__hash(ptr, p->dbg_cap);
    while (p->dbg_set[i] && p->dbg_set[i] != TP__TOMB) i = (i + 1) & (p->dbg_cap - 1);
    if (p->dbg_set[i] == TP__TOMB) p->dbg_tomb--;
    p->dbg_set[i] = (void *)ptr;
    p->dbg_used++;
}

static void tp__dbg_remove(tp_pool *p, const void *ptr)
{
    void **slot;
    if (!p->desc.debug || !p->dbg_cap) return;
    slot = tp__dbg_slot(p, ptr);
    if (!slot) return;
    *slot = TP__TOMB;
    p->dbg_used--;
    p->dbg_tomb++;
}

static void tp__poison(tp__hdr *h)
{
    TP_UNPOISON(tp__user(h), h->size);
    memset(tp__user(h), 0xDD, h->size);
}

static void tp__check_poison(tp__hdr *h, tp__later *l)
{
    const unsigned char *u = (const unsigned char *)tp__user(h);
    size_t i;
    TP_UNPOISON(u, h->size);
    for (i = 0; i < h->size; i++) {
        if (u[i] == 0xDD) continue;
        tp__later_msg(l, TP_LOG_ERROR, "tensorpool: write after free at byte %llu of a %llu-byte block "
                      "(last allocated at %s:%d)", (unsigned long long)i, (unsigned long long)h->size,
                      h->file ? h->file : "?", (int)h->line);
        return;
    }
}

/* ---- >>system memory (called without the lock) ------------------------------------------------ */

/* Whether tp__map gives a map of len bytes the huge-page advice. */
static int tp__advised_huge(const tp_pool *p, size_t len)
{
    return p->desc.huge_pages && len >= TP__HUGE_MIN;
}

static void *tp__map(const tp_pool *p, size_t len)
{
#if defined(TP__MMAP)
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | TP__MAP_ANON, -1, 0);
    if (m == MAP_FAILED) return NULL;
    (void)p;
#if defined(MADV_HUGEPAGE)
    /* One fault and one TLB entry per 2 MiB instead of 512: first touch of big buffers gets ~5x
       cheaper. Advice only: the kernel may decline (THP "never"), nothing changes then. */
    if (tp__advised_huge(p, len)) madvise(m, len, MADV_HUGEPAGE);
#endif
    return m;
#else
    (void)p; (void)len;
    return NULL;
#endif
}

static int tp__uses_pages(const tp_pool *p, size_t total)
{
#if defined(TP__MMAP)
    return !p->desc.allocator.alloc && total >= TP__LARGE;
#else
    (void)p; (void)total;
    return 0;
#endif
}

#if defined(TP__MREMAP)
/* Moves len bytes of already-faulted pages from src to dst. A range spanning several kernel
   mappings (a block that was itself assembled) cannot move in one call: split it in halves. */
static size_t tp__move_pages(size_t page, char *src, char *dst, size_t len)
{
    size_t half;
    TP_UNPOISON(src, len);
    if (mremap(src, len, len, TP__MREMAP_FLAGS, dst) != MAP_FAILED) return len;
    if (len <= TP__MIN_CHUNK) return 0;
    half = tp__round_up(len / 2, page);
    if (tp__move_pages(page, src, dst, half) != half) return 0;
    return half + tp__move_pages(page, src + half, dst + half, len - half);
}
#endif

/* Fills the fresh map m (len bytes) from its start with the pages of the pieces, in order, and
   returns how many bytes came in. After a piece that does not move whole, what is left of it and
   the pieces after it are unmapped (*unmaps counts those calls). */
static size_t tp__fill_from(size_t page, char *m, size_t len, const tp__chunk *piece, int n, uint64_t *unmaps)
{
    size_t done = 0;
    int k, ok = 1;
    (void)page; (void)m; (void)len; (void)ok;
    for (k = 0; k < n; k++) {
        size_t moved = 0;
#if defined(TP__MREMAP)
        if (ok && done + piece[k].len <= len) moved = tp__move_pages(page, piece[k].addr, m + done, piece[k].len);
#endif
        if (moved < piece[k].len) {
            tp__os_unmap(piece[k].addr + moved, piece[k].len - moved);
            (*unmaps)++;
            ok = 0;
        }
        done += moved;
    }
    return done;
}

/* ---- >>cache (under the lock) ----------------------------------------------------------------- */

static void tp__drop_small(tp_pool *p, tp__hdr *h, tp__later *l)
{
    tp__dbg_remove(p, tp__user(h));
    p->st.bytes_cached -= h->size;
    p->st.os_unmaps++;
    h->next = l->small;
    l->small = h;
}

static void tp__chunk_remove(tp_pool *p, int i)
{
    TP_ASSERT(i >= 0 && i < p->n_chunks);
    p->chunks[i] = p->chunks[--p->n_chunks];
}

/* Gives the last `cut` bytes of a cached chunk back (under the lock): unmapped, or, for decay
   where madvise is there, emptied and kept as decayed address space (tp__decayed_keep). */
static void tp__chunk_give_tail(tp_pool *p, tp__chunk *ch, size_t cut, int decay, tp__later *l)
{
    char *tail = ch->addr + ch->len - cut;
#if defined(TP__DECAY_ADVISE)
    if (decay) {
        tp__later_range(l, tail, cut, 2);
        l->range[l->n - 1].huge = ch->huge;
        p->st.bytes_decayed += cut;
    } else
#endif
        tp__later_unmap(p, l, tail, cut);
    (void)decay;
    ch->len -= cut;
    p->st.bytes_cached -= cut;
}

/* Gives back cached memory until bytes_cached <= target: large chunks first (their tails can be
   unmapped to the exact byte count), then small blocks from the largest class down. */
static void tp__shrink_cache(tp_pool *p, size_t target, tp__later *l)
{
    int c;
    while (p->st.bytes_cached > target && p->n_chunks > 0) {
        size_t excess = p->st.bytes_cached - target;
        tp__chunk *ch = &p->chunks[p->n_chunks - 1];
        size_t cut = tp__round_up(excess, p->page);
        if (cut + TP__MIN_CHUNK > ch->len) cut = ch->len;
        tp__chunk_give_tail(p, ch, cut, 0, l);
        if (ch->len == 0) p->n_chunks--;
    }
    for (c = TP__NCLASS - 1; c >= 0 && p->st.bytes_cached > target; c--) {
        while (p->free_small[c] && p->st.bytes_cached > target) {
            tp__hdr *h = p->free_small[c];
            p->free_small[c] = h->next;
            tp__drop_small(p, h, l);
        }
    }
}

/* The cache limit that holds right now: the high-water rule (with a small slack, so that a program
   holding one small buffer at a time still cycles through all its sizes from the cache), the
   absolute cap, and the budget. */
static size_t tp__cache_limit(const tp_pool *p)
{
    size_t lim = p->high_water - p->st.bytes_live;
    if (lim < TP__CACHE_SLACK) lim = TP__CACHE_SLACK;
    if (p->desc.max_cached_bytes && p->desc.max_cached_bytes < lim) lim = p->desc.max_cached_bytes;
    if (p->desc.budget_bytes) {
        size_t room = p->desc.budget_bytes > p->st.bytes_live ? p->desc.budget_bytes - p->st.bytes_live : 0;
        if (room < lim) lim = room;
    }
    return lim;
}

static void tp__enforce_cache_limit(tp_pool *p, tp__later *l)
{
    size_t lim = tp__cache_limit(p);
    if (p->st.bytes_cached > lim) tp__shrink_cache(p, lim, l);
}

/* Keeps a freed page block as a chunk; when the table is full the smallest chunk goes. */
/* Microseconds of a monotonic clock (of the wall clock where POSIX timers are not declared). */
static uint64_t tp__now_us(void)
{
#if defined(TP__POSIX) && defined(CLOCK_MONOTONIC)
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) == 0) return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
#endif
    return (uint64_t)time(NULL) * 1000000u;
}

static uint64_t tp__now_ms(void) { return tp__now_us() / 1000u; }

/* Records an event in a debug pool's timeline (under the lock); h NULL for a refusal. */
static void tp__event(tp_pool *p, tp_event_kind kind, const tp__hdr *h, size_t bytes, const char *file, int line)
{
    tp_event *e;
    if (!p->tl) return;
    e = &p->tl[p->tl_n++ % p->tl_cap];
    e->t_us = tp__now_us() - p->tl_t0;
    e->kind = kind;
    e->ptr = h ? (const void *)((const char *)h + TP__HDR) : NULL;
    e->bytes = bytes;
    e->file = h ? h->file : file;
    e->line = h ? (int)h->line : line;
    e->live = p->st.bytes_live;
    e->spilled = p->st.bytes_spilled;
}

/* Gives back the cached chunks unused for desc.decay_ms, oldest first, down to
   desc.decay_keep_bytes of cache (under the lock). */
static void tp__decay(tp_pool *p, uint64_t now, tp__later *l)
{
    uint64_t age = (uint64_t)p->desc.decay_ms;
    p->last_decay = now;
    while (p->st.bytes_cached > p->desc.decay_keep_bytes && l->n < TP__LATER_MAX - 2) {
        int i, oldest = -1;
        tp__chunk *ch;
        size_t cut;
        for (i = 0; i < p->n_chunks; i++)
            if (now - p->chunks[i].idle_since >= age && (oldest < 0 || p->chunks[i].idle_since < p->chunks[oldest].idle_since))
                oldest = i;
        if (oldest < 0) return;
        ch = &p->chunks[oldest];
        cut = p->st.bytes_cached - p->desc.decay_keep_bytes;
        cut = cut < ch->len ? tp__round_up(cut, p->page) : ch->len;
        if (cut + TP__MIN_CHUNK > ch->len) cut = ch->len;
        tp__chunk_give_tail(p, ch, cut, 1, l);
        if (ch->len == 0) tp__chunk_remove(p, oldest);
        else ch->idle_since = now; /* what decay keeps starts its wait again */
    }
}

/* Decay, at most every eighth of decay_ms (under the lock). */
static void tp__maybe_decay(tp_pool *p, tp__later *l)
{
    uint64_t now;
    if (p->desc.decay_ms <= 0 || p->n_chunks == 0) return;
    now = tp__now_ms();
    if (now - p->last_decay >= (uint64_t)p->desc.decay_ms / 8u) tp__decay(p, now, l);
}

/* ---- decayed chunks: address space kept after its pages were dropped ------------------------ */

/* Empties a decayed range (without the lock: its pages belong to nobody now) and files it, merged
   with a decayed neighbour of its kind; a full table gives its smallest range back. */
static void tp__decayed_keep(tp_pool *p, const tp__chunk *range)
{
    tp__chunk out = {NULL, 0, 0, 0};
    int i, at = -1;
#if defined(TP__DECAY_ADVISE)
    TP_UNPOISON(range->addr, range->len);
    madvise(range->addr, range->len, MADV_DONTNEED);
    TP_POISON(range->addr, range->len);
#endif
    tp__lock(p);
    for (i = 0; i < p->n_decayed && at < 0; i++) {
        tp__chunk *d = &p->decayed[i];
        if (d->huge != range->huge) continue;
        if (d->addr + d->len == range->addr) d->len += range->len, at = i;
        else if (range->addr + range->len == d->addr) d->addr = range->addr, d->len += range->len, at = i;
    }
    if (at < 0 && p->n_decayed == TP__MAX_CHUNKS) { /* the smallest goes back to the system */
        int small = 0;
        for (i = 1; i < p->n_decayed; i++)
            if (p->decayed[i].len < p->decayed[small].len) small = i;
        out = p->decayed[small];
        p->decayed[small] = p->decayed[--p->n_decayed];
        p->st.bytes_decayed -= out.len;
        p->st.os_unmaps++;
    }
    if (at < 0) p->decayed[p->n_decayed++] = *range;
    tp__unlock(p);
    if (out.len) tp__os_unmap(out.addr, out.len);
}

/* A decayed range of len bytes for fresh pages (under the lock), split off the smallest that
   fits; NULL if none does. *huge: it was mapped with the huge-page advice. */
static char *tp__decayed_take(tp_pool *p, size_t len, int *huge)
{
    int i, best = -1;
    char *m;
    for (i = 0; i < p->n_decayed; i++)
        if (p->decayed[i].len >= len && (best < 0 || p->decayed[i].len < p->decayed[best].len)) best = i;
    if (best < 0) return NULL;
    m = p->decayed[best].addr;
    *huge = p->decayed[best].huge;
    p->decayed[best].addr += len;
    p->decayed[best].len -= len;
    if (p->decayed[best].len == 0) p->decayed[best] = p->decayed[--p->n_decayed];
    p->st.bytes_decayed -= len;
    return m;
}

/* Gives every decayed range back to the system (tp_trim, tp_destroy; under the lock). */
static void tp__decayed_release(tp_pool *p, tp__later *l)
{
    while (p->n_decayed > 0 && l->n < TP__LATER_MAX - 1) {
        tp__chunk *d = &p->decayed[--p->n_decayed];
        p->st.bytes_decayed -= d->len;
        tp__later_unmap(p, l, d->addr, d->len);
    }
}

/* Merges a freed range into a cached chunk it touches (both sides), so that neighbours freed
   apart serve a larger request later without moving pages. 1 when merged. */
static int tp__chunk_merge(tp_pool *p, char *addr, size_t len, int huge)
{
    int i, left = -1, right = -1;
    for (i = 0; i < p->n_chunks; i++) {
        if (p->chunks[i].huge != huge) continue; /* a big block keeps its huge pages whole */
        if (p->chunks[i].addr + p->chunks[i].len == addr) left = i;
        else if (addr + len == p->chunks[i].addr) right = i;
    }
    if (left < 0 && right < 0) return 0;
    if (left < 0) {
        p->chunks[right].addr = addr;
        p->chunks[right].len += len;
        if (p->desc.decay_ms > 0) p->chunks[right].idle_since = tp__now_ms();
        return 1;
    }
    p->chunks[left].len += len;
    if (p->desc.decay_ms > 0) p->chunks[left].idle_since = tp__now_ms(); /* its decay starts over */
    if (right >= 0) {
        p->chunks[left].len += p->chunks[right].len;
        tp__chunk_remove(p, right);
    }
    return 1;
}

static void tp__chunk_add(tp_pool *p, char *addr, size_t len, int huge, tp__later *l)
{
    int i, smallest = 0;
    if (tp__chunk_merge(p, addr, len, huge)) return;
    if (p->n_chunks == TP__MAX_CHUNKS) {
        for (i = 1; i < p->n_chunks; i++)
            if (p->chunks[i].len < p->chunks[smallest].len) smallest = i;
        if (p->chunks[smallest].len >= len) {
            tp__later_unmap(p, l, addr, len);
            p->st.bytes_cached -= len;
            return;
        }
        tp__later_unmap(p, l, p->chunks[smallest].addr, p->chunks[smallest].len);
        p->st.bytes_cached -= p->chunks[smallest].len;
        tp__chunk_remove(p, smallest);
    }
    p->chunks[p->n_chunks].addr = addr;
    p->chunks[p->n_chunks].len = len;
    p->chunks[p->n_chunks].huge = huge;
    p->chunks[p->n_chunks].idle_since = p->desc.decay_ms > 0 ? tp__now_ms() : 0;
    p->n_chunks++;
}

/* A best-fit chunk is split only if the rest is at least this long; a shorter rest stays with the
   block (waste <= 25 %, or 64 KiB), which saves an munmap now and a fragment later. */
static size_t tp__min_rest(size_t len)
{
    size_t q = len / 4;
    if (q > ((size_t)1 << 20)) q = (size_t)1 << 20;
    return q < TP__MIN_CHUNK ? TP__MIN_CHUNK : q;
}

/* Best fit among the chunks: the smallest at least `len` long, or -1. */
static int tp__chunk_best_fit(const tp_pool *p, size_t len)
{
    int i, best = -1;
    for (i = 0; i < p->n_chunks; i++)
        if (p->chunks[i].len >= len && (best < 0 || p->chunks[i].len < p->chunks[best].len)) best = i;
    return best;
}

/* Takes up to len bytes of pages out of the largest chunks (at most TP__MAX_PIECES pieces) for a
   new block to be filled with after the lock (tp__fill_from); a chunk left shorter than
   TP__MIN_CHUNK is unmapped. Returns the number of pieces. */
static int tp__take_pieces(tp_pool *p, size_t len, tp__chunk *piece, tp__later *l)
{
    int n = 0;
#if defined(TP__MREMAP)
    size_t taken = 0;
    while (taken < len && n < TP__MAX_PIECES && p->n_chunks > 0) {
        int i, big = 0;
        tp__chunk *ch;
        size_t want;
        for (i = 1; i < p->n_chunks; i++)
            if (p->chunks[i].len > p->chunks[big].len) big = i;
        ch = &p->chunks[big];
        want = len - taken < ch->len ? len - taken : ch->len;
        piece[n].addr = ch->addr;
        piece[n++].len = want;
        ch->addr += want;
        ch->len -= want;
        p->st.bytes_cached -= want;
        taken += want;
        if (ch->len < TP__MIN_CHUNK) {
            if (ch->len) tp__later_unmap(p, l, ch->addr, ch->len);
            p->st.bytes_cached -= ch->len;
            tp__chunk_remove(p, big);
        }
    }
#else
    (void)p; (void)len; (void)piece; (void)l;
#endif
    return n;
}

/* ---- >>spill (called without the lock) -------------------------------------------------------- */

#if defined(TP__FILEMAP)
static int tp__spill_extend(int fd, size_t len)
{
#if defined(TP__POSIX2001) && defined(__linux__)
    return posix_fallocate(fd, 0, (off_t)len) == 0;
#elif defined(TP__POSIX2001)
    return ftruncate(fd, (off_t)len) == 0;
#else
    /* No ftruncate in strict C99 headers: write zeros, which also reserves the blocks. */
    static const char zeros[4096] = {0};
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < sizeof zeros ? len - done : sizeof zeros;
        ssize_t w = write(fd, zeros, n);
        if (w <= 0) return 0;
        done += (size_t)w;
    }
    return 1;
#endif
}
#endif

/* A map of len bytes backed by a new, already unlinked file in dir (`serial` makes its name
   unique), or NULL with *why. */
static void *tp__spill_map(const char *dir, uint64_t serial, size_t len, tp_result *why)
{
#if defined(TP__FILEMAP)
    char path[4096];
    int fd = -1, attempt;
    void *m;
    for (attempt = 0; attempt < 64 && fd < 0; attempt++) {
        int n = snprintf(path, sizeof path, "%s/tensorpool-%ld-%llu-%d.spill", dir, (long)getpid(),
                         (unsigned long long)serial, attempt);
        if (n < 0 || (size_t)n >= sizeof path) { *why = TP_ERR_ARG; return NULL; }
        fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) { *why = TP_ERR_IO; return NULL; }
    unlink(path);
    if (!tp__spill_extend(fd, len)) { close(fd); *why = TP_ERR_IO; return NULL; }
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd); /* the map keeps the file alive; munmap releases its blocks */
    if (m == MAP_FAILED) { *why = TP_ERR_IO; return NULL; }
    return m;
#else
    (void)dir; (void)serial; (void)len;
    *why = TP_ERR_UNSUPPORTED;
    return NULL;
#endif
}

static tp_result tp__check_live(tp_pool *p, const void *ptr, tp__later *l);

/* ---- >>thread caches (section 11) -------------------------------------------------------------- */

/* Each thread that allocates class blocks from a shared pool gets a cache of them: a bin per
   class, refilled from and flushed to the pool's class lists in batches, and its own list of the
   blocks it handed out (for frames and tp_live_blocks). Lock order: a thread cache's lock, then
   the pool's; never the other way round. */
#if defined(TP__TCACHE)

static const char tp__no_tc_mark = 0;
#define TP__NO_TC ((void *)(uintptr_t)&tp__no_tc_mark) /* this thread has none: share the pool */

static void tp__tc_lock(tp__tcache *tc)
{
    if (__atomic_exchange_n(&tc->lock, 1, __ATOMIC_ACQUIRE)) tp__lock_contended(&tc->lock);
}

static TP__HOT_INLINE int tp__tc_trylock(tp__tcache *tc) { return !__atomic_exchange_n(&tc->lock, 1, __ATOMIC_ACQUIRE); }

static void tp__tc_unlock(tp__tcache *tc) { __atomic_store_n(&tc->lock, 0, __ATOMIC_RELEASE); }

static int tp__tc_count(tp_pool *p) { return __atomic_load_n(&p->n_tc, __ATOMIC_ACQUIRE); }

/* The current frame epoch (tp_mark), read without the pool lock. */
static uint64_t tp__epoch(const tp_pool *p) { return __atomic_load_n(&p->epoch, __ATOMIC_RELAXED); }

/* Blocks a bin of class cls holds before half of them go back to the pool. At least 4: a bin
   of 2 empties or fills every few frees of its class, and each time takes the pool's lock and
   moves blocks whose headers another core may hold. */
static unsigned tp__tc_cap(unsigned cls)
{
    size_t n = TP__TC_CLASS_BYTES / tp__class_size(cls);
    return n < TP__TC_MIN_COUNT ? (unsigned)TP__TC_MIN_COUNT : n > TP__TC_MAX_COUNT ? (unsigned)TP__TC_MAX_COUNT : (unsigned)n;
}

/* Merges tc's counters into the pool's (both locks held). The peaks add tc's highest rise to
   the live bytes it started from, which is exact while one thread at a time uses the pool. */
static void tp__tc_sync(tp_pool *p, tp__tcache *tc)
{
    tp_stats *st = &p->st;
    size_t top = st->bytes_live + (size_t)tc->rise_live, top_req = st->bytes_requested + (size_t)tc->rise_req;
    if (top > st->peak_live) st->peak_live = top;
    if (top > p->high_water) p->high_water = top;
    if (top_req > st->peak_requested) st->peak_requested = top_req;
    st->bytes_live += (size_t)tc->d_live; /* a negative delta wraps back as it should */
    st->bytes_cached += tc->bin_bytes - tc->synced_bin_bytes;
    p->tc_held += tc->bin_bytes - tc->synced_bin_bytes;
    tc->synced_bin_bytes = tc->bin_bytes;
    st->bytes_requested += (size_t)tc->d_req;
    st->live_blocks += (size_t)(tc->d_allocs - tc->d_frees);
    st->allocs += tc->d_allocs;
    st->hits += tc->d_allocs; /* a thread cache only hands out cached blocks */
    st->frees += tc->d_frees;
    tc->d_live = tc->d_req = tc->rise_live = tc->rise_req = 0;
    tc->d_allocs = tc->d_frees = 0;
}

/* Moves blocks of class cls from the bin to the pool's list until `keep` are left (both locks
   held, tc synced). */
static void tp__tc_flush(tp_pool *p, tp__tcache *tc, unsigned cls, unsigned keep)
{
    while (tc->bin[cls].count > keep) {
        tp__hdr *h = tc->bin[cls].head;
        tc->bin[cls].head = h->next;
        tc->bin[cls].count--;
        tc->bin_bytes -= h->size;
        tc->synced_bin_bytes -= h->size;
        p->tc_held -= h->size;
        h->next = p->free_small[cls];
        p->free_small[cls] = h;
    }
}

/* Takes half a bin's worth of class cls from the pool's list, or what keeps the cache within
   TP__TC_BYTES, one block at least (both locks held, tc synced). */
static void tp__tc_refill(tp_pool *p, tp__tcache *tc, unsigned cls)
{
    unsigned want = tc->bin[cls].cap / 2u;
    tp__hdr *h;
    while (tc->bin[cls].count < want && (h = p->free_small[cls]) != NULL &&
           (!tc->bin[cls].count || tc->bin_bytes + h->size <= TP__TC_BYTES)) {
        p->free_small[cls] = h->next;
        h->next = tc->bin[cls].head;
        tc->bin[cls].head = h;
        tc->bin[cls].count++;
        tc->bin_bytes += h->size;
        tc->synced_bin_bytes += h->size;
        p->tc_held += h->size;
    }
}

/* Hands out the first block of a bin that has one (tc locked). */
static TP__HOT_INLINE tp__hdr *tp__tc_take(tp_pool *p, tp__tcache *tc, size_t req, unsigned cls, const char *file, int line)
{
    tp__hdr *h = tc->bin[cls].head;
    tc->bin[cls].head = h->next;
    tc->bin[cls].count--;
    tc->bin_bytes -= h->size;
    tp__hdr_word(h, TP__LIVE);
    h->req = req;
    h->owner = tc->idx;
    h->seq = tp__epoch(p);
    h->file = file;
    h->line = line;
    tp__list_push(&tc->live, h);
    tc->d_live += (int64_t)h->size;
    tc->d_req += (int64_t)req;
    tc->d_allocs++;
    if (tc->d_live > tc->rise_live) tc->rise_live = tc->d_live;
    if (tc->d_req > tc->rise_req) tc->rise_req = tc->d_req;
    return h;
}

/* A class block from tc's bin (refilled from the pool when empty), or NULL when the pool has
   none cached either: the caller then takes the pool's path, with tc's counters merged. */
static TP__HOT_INLINE tp__hdr *tp__tc_alloc(tp_pool *p, tp__tcache *tc, size_t req, unsigned cls, const char *file, int line)
{
    tp__hdr *h;
    tp__tc_lock(tc);
    if (!tc->bin[cls].head) {
        tp__lock(p);
        tp__tc_sync(p, tc);
        tp__tc_refill(p, tc, cls);
        tp__unlock(p);
        if (!tc->bin[cls].head) {
            tp__tc_unlock(tc);
            return NULL;
        }
    }
    h = tp__tc_take(p, tc, req, cls, file, line);
    tp__tc_unlock(tc);
    return h;
}

/* A freed class block into tc's bin (tc locked; unlocked on return). `counted`: the pool's
   statistics already hold it as cached in a thread cache. A full bin, or a cache past
   TP__TC_BYTES, gives blocks back to the pool. */
static TP__NOINLINE tp_result tp__tc_overflow(tp_pool *p, tp__tcache *tc, unsigned cls);

/* Puts a freed class block into tc's bin (tc locked). `counted`: the pool's statistics already
   hold it as cached in a thread cache. 1 when the bin or the cache is full (tp__tc_overflow). */
static TP__HOT_INLINE int tp__tc_push(tp__tcache *tc, tp__hdr *h, int counted)
{
    unsigned cls = h->cls;
    TP_POISON(tp__user(h), h->size);
    h->next = tc->bin[cls].head;
    tc->bin[cls].head = h;
    tc->bin[cls].count++;
    tc->bin_bytes += h->size;
    if (counted) tc->synced_bin_bytes += h->size;
    return tc->bin[cls].count >= tc->bin[cls].cap || tc->bin_bytes > TP__TC_BYTES;
}

/* tp__tc_push, then tc unlocked (after giving blocks back when full); TP_OK. */
static TP__HOT_INLINE tp_result tp__tc_keep(tp_pool *p, tp__tcache *tc, tp__hdr *h, int counted)
{
    if (tp__tc_push(tc, h, counted)) return tp__tc_overflow(p, tc, h->cls);
    tp__tc_unlock(tc);
    return TP_OK;
}

/* A bin that is full, or a cache past TP__TC_BYTES: blocks go back to the pool (tc locked;
   unlocked on return). */
static TP__NOINLINE tp_result tp__tc_overflow(tp_pool *p, tp__tcache *tc, unsigned cls)
{
    unsigned keep = tc->bin_bytes > TP__TC_BYTES ? 0u : tc->bin[cls].cap / 2u;
    tp__later l;
    tp__later_init(&l);
    tp__lock(p);
    tp__tc_sync(p, tc);
    tp__tc_flush(p, tc, cls, keep);
    if (p->st.bytes_cached > p->cache_floor) tp__enforce_cache_limit(p, &l);
    tp__unlock(p);
    tp__tc_unlock(tc);
    tp__later_run(p, &l);
    return TP_OK;
}

/* Takes a block that thread cache tc handed out off its live list (tc locked): NULL when it is
   live, else the reason it cannot be freed. */
static TP__HOT_INLINE tp_result tp__tc_unlink(tp__tcache *tc, tp__hdr *h)
{
    if (h->state != TP__LIVE || h->owner != tc->idx) return TP_ERR_DOUBLE_FREE;
    tp__list_remove(&tc->live, h);
    h->state = TP__CACHED;
    tc->d_live -= (int64_t)h->size;
    tc->d_req -= (int64_t)h->req;
    tc->d_frees++;
    return TP_OK;
}

/* Puts a block that left the live lists on the pool's class list (pool locked). */
static void tp__tc_to_pool(tp_pool *p, tp__hdr *h)
{
    TP_POISON(tp__user(h), h->size);
    p->st.bytes_cached += h->size;
    h->next = p->free_small[h->cls];
    p->free_small[h->cls] = h;
}

static tp_result tp__bad_free(tp_pool *p, tp__hdr *h, tp_result r)
{
    if (r == TP_ERR_FOREIGN)
        tp_log(&p->desc.log, TP_LOG_ERROR, "tensorpool: tp_free(%p): not a pointer returned by this pool", (void *)tp__user(h));
    else
        tp_log(&p->desc.log, TP_LOG_ERROR, "tensorpool: tp_free(%p): double free of a %llu-byte block allocated at %s:%d",
               (void *)tp__user(h), (unsigned long long)h->size, h->file ? h->file : "?", (int)h->line);
    return r;
}

/* Settles frees of blocks of cache `owner_idx` that tc collected (tc not locked; the blocks
   were taken out of tc->pend): off the owner's live list under its lock, once, and onto the
   pool's class lists, where the owner (a producer, most often) refills from. A block freed
   twice is found here and reported. */
static void tp__tc_settle(tp_pool *p, tp__tcache *tc, tp__hdr **blocks, int n, unsigned owner_idx)
{
    tp__tcache *owner = p->tcs[owner_idx - 1];
    unsigned char ok[TP__TC_PEND];
    int i;
    tp__later l;
    tp__later_init(&l);
    tp__tc_lock(owner);
    for (i = 0; i < n; i++) ok[i] = tp__tc_unlink(owner, blocks[i]) == TP_OK;
    tp__lock(p);
    tp__tc_sync(p, owner);
    for (i = 0; i < n; i++)
        if (ok[i]) tp__tc_to_pool(p, blocks[i]);
    if (p->st.bytes_cached > p->cache_floor) tp__enforce_cache_limit(p, &l);
    tp__unlock(p);
    tp__tc_unlock(owner);
    for (i = 0; i < n; i++)
        if (!ok[i]) tp__bad_free(p, blocks[i], TP_ERR_DOUBLE_FREE);
    tp__later_run(p, &l);
    (void)tc;
}

/* Settles every free tc collected. */
static void tp__tc_drain(tp_pool *p, tp__tcache *tc)
{
    tp__hdr *blocks[TP__TC_PEND];
    int n;
    unsigned owner;
    tp__tc_lock(tc);
    n = tc->n_pend;
    owner = tc->pend_owner;
    memcpy(blocks, tc->pend, (size_t)n * sizeof *blocks);
    tc->n_pend = 0;
    tp__tc_unlock(tc);
    if (n) tp__tc_settle(p, tc, blocks, n, owner);
}

/* A free of another thread's block by a thread with a cache: collected, and settled with the
   owner's lock once per TP__TC_PEND frees, so that a producer's lock does not move to its
   consumer's core at every buffer. */
static tp_result tp__tc_free_remote(tp_pool *p, tp__tcache *mine, tp__hdr *h)
{
    TP_POISON(tp__user(h), h->size);
    tp__tc_lock(mine);
    if (mine->n_pend && mine->pend_owner != h->owner) {
        tp__tc_unlock(mine);
        tp__tc_drain(p, mine);
        tp__tc_lock(mine);
    }
    mine->pend[mine->n_pend++] = h;
    mine->pend_owner = h->owner;
    if (mine->n_pend < TP__TC_PEND) {
        tp__tc_unlock(mine);
        return TP_OK;
    }
    tp__tc_unlock(mine);
    tp__tc_drain(p, mine);
    return TP_OK;
}

/* tp_free of a class block that a thread cache handed out; mine is the calling thread's cache
   (NULL: it has none). */
static tp_result tp__tc_free_owned(tp_pool *p, tp__tcache *mine, tp__hdr *h)
{
    tp__tcache *owner = p->tcs[h->owner - 1];
    tp__later l;
    if (mine && owner != mine) return tp__tc_free_remote(p, mine, h);
    tp__tc_lock(owner);
    if (tp__tc_unlink(owner, h) != TP_OK) {
        tp__tc_unlock(owner);
        return tp__bad_free(p, h, TP_ERR_DOUBLE_FREE);
    }
    if (owner == mine) {
        tp__tc_keep(p, mine, h, 0);
        return TP_OK;
    }
    tp__later_init(&l);
    tp__lock(p);
    tp__tc_sync(p, owner);
    tp__tc_to_pool(p, h);
    tp__enforce_cache_limit(p, &l);
    tp__unlock(p);
    tp__tc_unlock(owner);
    tp__later_run(p, &l);
    return TP_OK;
}

/* tp_free of a class block from the pool's own path, by a thread with a cache. */
static tp_result tp__tc_free_pooled(tp_pool *p, tp__tcache *mine, tp__hdr *h)
{
    tp__later l;
    tp_result r;
    tp__later_init(&l);
    tp__tc_lock(mine);
    tp__lock(p);
    tp__tc_sync(p, mine);
    r = tp__check_live(p, tp__user(h), &l);
    if (r == TP_OK) {
        tp__live_unlink(p, h);
        h->state = TP__CACHED;
        p->st.frees++;
        p->st.bytes_requested -= h->req;
        p->st.bytes_live -= h->size;
        p->st.bytes_cached += h->size;
        p->tc_held += h->size;
    }
    tp__unlock(p);
    if (r == TP_OK) tp__tc_keep(p, mine, h, 1);
    else tp__tc_unlock(mine);
    tp__later_run(p, &l);
    return r;
}

#if defined(TP__THREAD_PTR)
static size_t tp__tc_hash(uintptr_t thread_ptr)
{
    return (size_t)(((uint64_t)thread_ptr * 0x9e3779b97f4a7c15ull) >> 56) % TP__TC_SLOTS;
}
#endif

/* Files tc under the calling thread's pointer (pool locked); a full neighbourhood leaves it to
   the thread key alone. */
static void tp__tc_slot_in(tp_pool *p, tp__tcache *tc)
{
#if defined(TP__THREAD_PTR)
    uintptr_t me = TP__THREAD_PTR();
    size_t i = tp__tc_hash(me), k;
    __atomic_store_n(&tc->thread_ptr, me, __ATOMIC_RELEASE);
    for (k = 0; k < TP__TC_PROBES; k++)
        if (!p->tc_slot[(i + k) % TP__TC_SLOTS]) {
            __atomic_store_n(&p->tc_slot[(i + k) % TP__TC_SLOTS], tc, __ATOMIC_RELEASE);
            return;
        }
#else
    (void)p; (void)tc;
#endif
}

static void tp__tc_unslot(tp_pool *p, tp__tcache *tc)
{
    size_t i;
    __atomic_store_n(&tc->thread_ptr, (uintptr_t)0, __ATOMIC_RELEASE);
    for (i = 0; i < TP__TC_SLOTS; i++)
        if (p->tc_slot[i] == tc) __atomic_store_n(&p->tc_slot[i], (tp__tcache *)NULL, __ATOMIC_RELEASE);
}

/* Called by POSIX threads at the exit of a thread that had a cache: its bins go back to the
   pool, and the cache (with the live blocks it handed out) waits for the next new thread. */
static void tp__tc_exit(void *arg)
{
    tp__tcache *tc = (tp__tcache *)arg;
    tp_pool *p;
    tp__later l;
    unsigned c;
    if (arg == TP__NO_TC) return;
    p = tc->pool;
    tp__tc_drain(p, tc);
    tp__later_init(&l);
    tp__tc_lock(tc);
    tp__lock(p);
    tp__tc_sync(p, tc);
    for (c = 0; c < TP__TC_CLASSES; c++) tp__tc_flush(p, tc, c, 0);
    tp__enforce_cache_limit(p, &l);
    tp__tc_unslot(p, tc);
    tc->attached = 0;
    tp__unlock(p);
    tp__tc_unlock(tc);
    tp__later_run(p, &l);
}

/* A cache for the calling thread: a retired one, or a new one while there are fewer than
   TP__TC_MAX. NULL (and the thread shares the pool from then on) otherwise. */
static tp__tcache *tp__tc_attach(tp_pool *p)
{
    tp__tcache *tc = NULL;
    void *raw = NULL;
    int i, full;
    tp__lock(p);
    for (i = 0; i < p->n_tc && !tc; i++)
        if (!p->tcs[i]->attached) (tc = p->tcs[i])->attached = 1;
    full = p->n_tc >= TP__TC_MAX;
    tp__unlock(p);
    if (!tc && !full && (raw = tp__raw_alloc(&p->desc.allocator, sizeof *tc + TP__ALIGN)) != NULL) {
        tc = (tp__tcache *)(void *)((char *)raw + (TP__ALIGN - (uintptr_t)raw % TP__ALIGN)); /* own cache lines */
        memset(tc, 0, sizeof *tc);
        for (i = 0; i < TP__TC_CLASSES; i++) tc->bin[i].cap = (uint8_t)tp__tc_cap((unsigned)i);
        tc->raw = raw;
        tc->pool = p;
        tc->attached = 1;
        tp__lock(p);
        if (p->n_tc < TP__TC_MAX) {
            tc->idx = (uint16_t)(p->n_tc + 1);
            p->tcs[p->n_tc] = tc;
            __atomic_store_n(&p->n_tc, p->n_tc + 1, __ATOMIC_RELEASE);
            raw = NULL;
        } else {
            tc = NULL;
        }
        tp__unlock(p);
        if (raw) tp__raw_free(&p->desc.allocator, raw, sizeof *tc + TP__ALIGN);
    }
    if (tc && pthread_setspecific(p->tc_key, tc) == 0) {
        tp__lock(p);
        tp__tc_slot_in(p, tc);
        tp__unlock(p);
        return tc;
    }
    if (tc) {
        tp__lock(p);
        tc->attached = 0;
        tp__unlock(p);
    }
    pthread_setspecific(p->tc_key, TP__NO_TC);
    tp_log(&p->desc.log, TP_LOG_INFO, "tensorpool: a thread shares the pool's lock instead of a thread cache "
           "(%d threads have one, or there was no memory for one)", tp__tc_count(p));
    return NULL;
}

#if defined(TP__THREAD_PTR)
/* The calling thread's cache as its thread pointer finds it in tc_slot, or NULL. */
static TP__HOT_INLINE tp__tcache *tp__tc_probe(tp_pool *p)
{
    uintptr_t me = TP__THREAD_PTR();
    size_t i = tp__tc_hash(me), k;
    for (k = 0; k < TP__TC_PROBES; k++) {
        tp__tcache *tc = __atomic_load_n(&p->tc_slot[(i + k) % TP__TC_SLOTS], __ATOMIC_ACQUIRE);
        if (tc && __atomic_load_n(&tc->thread_ptr, __ATOMIC_ACQUIRE) == me) return tc;
    }
    return NULL;
}
#endif

/* The calling thread's cache, made on first use; NULL when the pool has none for it. */
static TP__HOT_INLINE tp__tcache *tp__tc_mine(tp_pool *p)
{
    void *v;
    if (!p->tc_on) return NULL;
#if defined(TP__THREAD_PTR)
    {
        tp__tcache *tc = tp__tc_probe(p);
        if (tc) return tc;
    }
#endif
    v = pthread_getspecific(p->tc_key);
    if (v == TP__NO_TC) return NULL;
    return v ? (tp__tcache *)v : tp__tc_attach(p);
}

#if defined(TP__THREAD_PTR)
#define TP__TC_HIT 1
/* A block from the calling thread's cache when its bin has one and its lock is free, else NULL.
   It calls nothing, so that a hit needs no stack frame. */
static TP__HOT_INLINE tp__hdr *tp__tc_hit(tp_pool *p, size_t req, const char *file, int line)
{
    tp__tcache *tc;
    tp__hdr *h = NULL;
    unsigned cls;
    if ((tc = tp__tc_probe(p)) == NULL || !tp__tc_trylock(tc)) return NULL;
    cls = tp__class_of(req);
    if (tc->bin[cls].head) h = tp__tc_take(p, tc, req, cls, file, line);
    tp__tc_unlock(tc);
    return h;
}

/* tp_free's hit path: h is a block that the calling thread's cache handed out. That cache,
   locked, with h off its live list; NULL leaves h as it was (then tp__free_general, which also
   reports a double free). The thread finds its own cache to compare: reading the owner's
   thread_ptr instead took the owner's hit-path line from its core at every free of another
   thread's block. */
static TP__HOT_INLINE tp__tcache *tp__tc_reclaim(tp_pool *p, tp__hdr *h)
{
    tp__tcache *tc = tp__tc_probe(p);
    if (!tc || tc->idx != h->owner || !tp__tc_trylock(tc)) return NULL; /* idx >= 1: owner 0 is the pool's */
    if (tp__tc_unlink(tc, h) == TP_OK) return tc;
    tp__tc_unlock(tc);
    return NULL;
}
#endif

/* Before the calling thread works on the pool's own path, its cache's counters are merged, so
   that the order of its operations is the order the statistics see. */
static void tp__tc_sync_mine(tp_pool *p)
{
    void *v;
    tp__tcache *tc;
    if (!p->tc_on || (v = pthread_getspecific(p->tc_key)) == NULL || v == TP__NO_TC) return;
    tc = (tp__tcache *)v;
    tp__tc_lock(tc);
    tp__lock(p);
    tp__tc_sync(p, tc);
    tp__unlock(p);
    tp__tc_unlock(tc);
}

/* Merges every thread cache's counters into the pool's; flush: gives their bins back too. */
static void tp__tc_gather(tp_pool *p, int flush)
{
    int i, n = p->tc_on ? tp__tc_count(p) : 0;
    unsigned c;
    for (i = 0; i < n; i++) tp__tc_drain(p, p->tcs[i]);
    for (i = 0; i < n; i++) {
        tp__tcache *tc = p->tcs[i];
        tp__tc_lock(tc);
        tp__lock(p);
        tp__tc_sync(p, tc);
        if (flush)
            for (c = 0; c < TP__TC_CLASSES; c++) tp__tc_flush(p, tc, c, 0);
        tp__unlock(p);
        tp__tc_unlock(tc);
    }
}

/* Frees the blocks of tc allocated in frame epochs >= from (every one for 0), newest first,
   into the pool's class lists. */
static void tp__tc_release_since(tp_pool *p, tp__tcache *tc, uint64_t from)
{
    tp__later l;
    tp__later_init(&l);
    tp__tc_lock(tc);
    tp__lock(p);
    while (tc->live.tail && tc->live.tail->seq >= from) {
        tp__hdr *h = tc->live.tail;
        tp__tc_unlink(tc, h);
        tp__tc_to_pool(p, h);
    }
    tp__tc_sync(p, tc);
    tp__enforce_cache_limit(p, &l);
    tp__unlock(p);
    tp__tc_unlock(tc);
    tp__later_run(p, &l);
}

static void tp__tc_visit(tp_pool *p, tp_block_fn fn, void *user, size_t *n)
{
    int i, count = p->tc_on ? tp__tc_count(p) : 0;
    tp__hdr *h;
    for (i = 0; i < count; i++) tp__tc_drain(p, p->tcs[i]);
    for (i = 0; i < count; i++) {
        tp__tc_lock(p->tcs[i]);
        for (h = p->tcs[i]->live.head; h; h = h->next, (*n)++)
            if (fn) fn(user, tp__user(h), h->req, h->file, (int)h->line);
        tp__tc_unlock(p->tcs[i]);
    }
}

static void tp__tc_release_all_since(tp_pool *p, uint64_t from)
{
    int i, n = p->tc_on ? tp__tc_count(p) : 0;
    for (i = 0; i < n; i++) tp__tc_drain(p, p->tcs[i]); /* a freed block must not be released again */
    for (i = 0; i < n; i++) tp__tc_release_since(p, p->tcs[i], from);
}

/* tp_destroy's part: every cache's blocks, live or binned, onto the pool's class lists, the
   caches freed (no other call may run: no thread uses them any more). */
static void tp__tc_destroy_all(tp_pool *p)
{
    int i, n = p->tc_on ? tp__tc_count(p) : 0;
    if (!p->tc_on) return;
    pthread_key_delete(p->tc_key);
    tp__tc_release_all_since(p, 0);
    tp__tc_gather(p, 1);
    for (i = 0; i < n; i++) tp__raw_free(&p->desc.allocator, p->tcs[i]->raw, sizeof(tp__tcache) + TP__ALIGN);
    p->n_tc = 0;
    p->tc_on = 0;
}

#else /* no thread caches in this build */
static void tp__tc_release_all_since(tp_pool *p, uint64_t from) { (void)p; (void)from; }
static void tp__tc_destroy_all(tp_pool *p) { (void)p; }
static void tp__tc_sync_mine(tp_pool *p) { (void)p; }
static void tp__tc_gather(tp_pool *p, int flush) { (void)p; (void)flush; }
static void tp__tc_visit(tp_pool *p, tp_block_fn fn, void *user, size_t *n) { (void)p; (void)fn; (void)user; (void)n; }
#endif

/* ---- >>allocation ------------------------------------------------------------------------------ */

static tp__hdr *tp__init_hdr(void *at, int kind, size_t size, size_t req)
{
    tp__hdr *h = (tp__hdr *)at;
    memset(h, 0, sizeof *h);
    h->magic = TP__MAGIC;
    h->kind = (uint8_t)kind;
    h->size = size;
    h->req = req;
    return h;
}

static tp_result tp__fail(tp__later *l, tp_result r, const char *msg)
{
    tp__later_msg(l, TP_LOG_ERROR, "%s", msg);
    return r;
}

/* The hit path of class blocks, apart so that it stays a few dozen instructions: a hit moves a
   block from cache to live, so reserved bytes (and with them the budget) cannot change, and the
   block is already in the debug set. NULL when the class list is empty. */
static TP__HOT_INLINE tp__hdr *tp__small_hit(tp_pool *p, size_t req)
{
    unsigned cls = tp__class_of(req);
    tp__hdr *h = p->free_small[cls];
    tp_stats *st = &p->st;
    if (!h) return NULL;
    p->free_small[cls] = h->next;
    h->req = req;
    st->bytes_cached -= h->size;
    TP__APART();
    st->bytes_live += h->size;
    st->bytes_requested += req;
    st->allocs++;
    st->hits++;
    if (st->bytes_live > st->peak_live) st->peak_live = st->bytes_live;
    if (st->bytes_live > p->high_water) p->high_water = st->bytes_live;
    if (st->bytes_requested > st->peak_requested) st->peak_requested = st->bytes_requested;
    tp__live_link(p, h);
    return h;
}

/* A new class block from malloc or the hook. Called under the lock, it drops the lock around
   the call, with the block's bytes reserved so that other threads see the budget taken. */
static tp__hdr *tp__alloc_small(tp_pool *p, size_t req, tp__later *l)
{
    unsigned cls = tp__class_of(req);
    size_t size = tp__class_size(cls), raw_len = TP__HDR + size + TP__ALIGN - 1;
    tp__hdr *h;
    char *raw;
    if (p->desc.budget_bytes) /* fresh bytes must fit beside live + cached */
        tp__shrink_cache(p, p->desc.budget_bytes - p->st.bytes_live - size, l);
    p->st.bytes_live += size;
    tp__unlock(p);
    tp__later_run(p, l);
    raw = (char *)tp__raw_alloc(&p->desc.allocator, raw_len);
    tp__lock(p);
    if (!raw) {
        p->st.bytes_live -= size;
        return NULL;
    }
    p->st.os_maps++;
    p->st.bytes_fresh += size;
    h = tp__init_hdr(raw + ((TP__ALIGN - (uintptr_t)raw % TP__ALIGN) % TP__ALIGN), TP__SMALL, size, req);
    h->raw_off = (uint32_t)((char *)h - raw);
    h->cls = (uint8_t)cls;
    return h;
}

/* A page block no single chunk fits: cached pages moved into a fresh map (section 2). Called
   under the lock, it takes the pieces and reserves the bytes, then maps and moves without it. */
static tp__hdr *tp__alloc_fresh_pages(tp_pool *p, size_t req, size_t len, size_t *dirty, tp__later *l)
{
    tp__chunk piece[TP__MAX_PIECES];
    int n = tp__take_pieces(p, len, piece, l);
    uint64_t unmaps = 0;
    size_t moved;
    char *m;
    tp__hdr *h;
    int huge = 0;
    char *reuse = tp__decayed_take(p, len, &huge); /* address space decay emptied: no map */
    p->st.bytes_live += len;
    tp__unlock(p);
    tp__later_run(p, l);
    if (reuse) {
        m = reuse;
        TP_UNPOISON(m, len);
#if defined(MADV_HUGEPAGE)
        if (!huge && tp__advised_huge(p, len)) madvise(m, len, MADV_HUGEPAGE);
#endif
        huge = huge || tp__advised_huge(p, len);
    } else {
        m = (char *)tp__map(p, len);
        huge = tp__advised_huge(p, len);
    }
    moved = tp__fill_from(p->page, m, m ? len : 0, piece, n, &unmaps);
    tp__lock(p);
    p->st.os_unmaps += unmaps;
    if (!m) {
        p->st.bytes_live -= len;
        return NULL;
    }
    if (!reuse) p->st.os_maps++;
    p->st.bytes_fresh += len - moved;
    *dirty = moved > TP__HDR ? moved - TP__HDR : 0;
    h = tp__init_hdr(m, TP__PAGES, len - TP__HDR, req);
    h->huge = (uint8_t)huge;
    return h;
}

/* A page block: the best-fitting chunk under the lock, else fresh pages. *dirty receives how many
   leading user bytes may hold old data (the rest is fresh zero pages). */
static tp__hdr *tp__alloc_pages(tp_pool *p, size_t req, size_t len, int *hit, size_t *dirty, tp__later *l)
{
    int i = tp__chunk_best_fit(p, len), ch_huge;
    tp__chunk *ch;
    tp__hdr *h;
    char *m;
    if (i < 0) {
        *hit = 0;
        return tp__alloc_fresh_pages(p, req, len, dirty, l);
    }
    ch = &p->chunks[i];
    m = ch->addr;
    ch_huge = ch->huge;
    if (ch->len - len >= tp__min_rest(len)) {
        ch->addr += len;
        ch->len -= len;
    } else if (tp__fits_budget(p, ch->len)) { /* a tail too short to keep rides along */
        len = ch->len;
        tp__chunk_remove(p, i);
    } else { /* ... unless the budget is tight: then it goes back */
        if (ch->len > len) tp__later_unmap(p, l, m + len, ch->len - len);
        p->st.bytes_cached -= ch->len - len;
        tp__chunk_remove(p, i);
    }
    p->st.bytes_cached -= len;
    p->st.bytes_live += len;
    *hit = 1;
    *dirty = len - TP__HDR;
    TP_UNPOISON(m, len);
    h = tp__init_hdr(m, TP__PAGES, len - TP__HDR, req);
    h->huge = (uint8_t)ch_huge;
    if (p->desc.debug) tp__check_poison(h, l);
    return h;
}

/* A block backed by a spill file; the file is made without the lock. */
static tp__hdr *tp__alloc_spill(tp_pool *p, size_t req, size_t total, tp_result *why, tp__later *l)
{
    size_t len = tp__round_up(total, p->page);
    uint64_t serial = ++p->spill_counter;
    tp__hdr *h;
    char *m;
    tp__unlock(p);
    tp__later_run(p, l);
    m = (char *)tp__spill_map(p->spill_dir, serial, len, why);
    tp__lock(p);
    if (!m) return NULL;
    p->st.os_maps++;
    h = tp__init_hdr(m, TP__SPILLED, len - TP__HDR, req);
    p->st.bytes_fresh += len;
    p->st.bytes_spilled += h->size;
    p->st.spills++;
    return h;
}

/* Gives back a block that was obtained but cannot be handed out. */
static void tp__undo(tp_pool *p, tp__hdr *h, tp__later *l)
{
    if (h->kind == TP__SMALL) {
        p->st.bytes_live -= h->size;
        p->st.os_unmaps++;
        h->next = l->small;
        l->small = h;
        return;
    }
    if (h->kind == TP__SPILLED) p->st.bytes_spilled -= h->size;
    else p->st.bytes_live -= h->size + TP__HDR;
    tp__later_unmap(p, l, h, h->size + TP__HDR);
}

static tp_result tp__budget_fail(tp_pool *p, size_t req, const char *file, int line, tp__later *l)
{
    char where[128] = "";
    if (file) snprintf(where, sizeof where, " at %s:%d", file, line);
    tp__later_msg(l, TP_LOG_ERROR, "tensorpool: over budget: asked for %llu bytes%s with %llu live and "
                  "%llu cached (budget %llu); free buffers, raise the budget, or set spill_dir",
                  (unsigned long long)req, where, (unsigned long long)p->st.bytes_live,
                  (unsigned long long)p->st.bytes_cached, (unsigned long long)p->desc.budget_bytes);
    return TP_ERR_BUDGET;
}

static int tp__should_spill(const tp_pool *p, size_t req, unsigned flags, tp_result budget_ok)
{
    if (flags & TP_SPILL) return 1;
    if (flags & TP_NO_SPILL) return 0;
    return budget_ok == TP_ERR_BUDGET && p->spill_dir && req >= p->desc.spill_threshold;
}

/* Every allocation but a plain class-block hit. Called under the lock and returns under it; the
   lock is dropped around system calls (section 11). NULL with *res set on failure. */
static tp__hdr *tp__alloc_slow(tp_pool *p, size_t req, size_t total, unsigned flags, const char *file, int line,
                               tp__later *l, tp_result *res, size_t *dirty)
{
    int pages = tp__uses_pages(p, total), hit = 0;
    size_t len = pages ? tp__round_up(total, p->page) : tp__class_size(tp__class_of(req));
    tp_result room;
    tp__hdr *h;
    if (!pages && !(flags & TP_SPILL) && (h = tp__small_hit(p, req)) != NULL) { /* a debug pool's hit */
        tp__check_poison(h, l);
        h->file = file;
        h->line = line;
        *dirty = h->size;
        tp__event(p, TP_EVENT_ALLOC, h, req, NULL, 0);
        return h;
    }
    room = tp__fits_budget(p, len) ? TP_OK : TP_ERR_BUDGET;
    if (tp__should_spill(p, req, flags, room)) {
        if (!p->spill_dir) {
            *res = tp__fail(l, TP_ERR_ARG, "tensorpool: TP_SPILL needs desc.spill_dir");
            return NULL;
        }
        if (!(h = tp__alloc_spill(p, req, total, res, l))) {
            *res = tp__fail(l, *res, *res == TP_ERR_UNSUPPORTED ? "tensorpool: spill needs mmap, which this build lacks"
                                                                : "tensorpool: could not create, size or map a spill file in spill_dir");
            return NULL;
        }
    } else if (room != TP_OK) {
        *res = tp__budget_fail(p, req, file, line, l);
        return NULL;
    } else {
        h = pages ? tp__alloc_pages(p, req, len, &hit, dirty, l) : tp__alloc_small(p, req, l);
        if (!h) {
            *res = tp__fail(l, TP_ERR_NOMEM, "tensorpool: the system (or allocator hook) refused memory");
            return NULL;
        }
        if (!pages) *dirty = h->size;
    }
    if (!tp__dbg_room(p, l)) {
        tp__undo(p, h, l);
        *res = tp__fail(l, TP_ERR_NOMEM, "tensorpool: out of memory for the debug table");
        return NULL;
    }
    tp__dbg_insert(p, tp__user(h));
    h->file = file;
    h->line = line;
    tp__live_link(p, h);
    p->st.allocs++;
    if (hit) p->st.hits++; else p->st.misses++;
    p->st.bytes_requested += req;
    tp__peaks(p);
    tp__event(p, TP_EVENT_ALLOC, h, req, NULL, 0);
    if (!hit) tp__enforce_cache_limit(p, l); /* a hit moves bytes from cache to live: limits hold */
    tp__maybe_decay(p, l);
    *res = TP_OK;
    return h;
}

/* A class block of the pool's own lists for a small request, or NULL. wait: 0 gives up (NULL)
   when the lock is taken, so that the hit path calls nothing. */
static TP__HOT_INLINE tp__hdr *tp__shared_hit(tp_pool *p, size_t req, const char *file, int line, int wait)
{
    tp__hdr *h;
    if (p->desc.debug) return NULL;
    if (wait) tp__lock(p);
    else if (!tp__trylock(p)) return NULL;
    h = tp__small_hit(p, req);
    if (h) {
        h->file = file;
        h->line = line;
    }
    tp__unlock(p);
    return h;
}

/* tp_alloc_at's hit path: a class block from the calling thread's cache or, in a pool without
   thread caches, from the pool's lists; NULL for everything else (then tp__alloc_general).
   Requests under TP__LARGE - TP__HDR are class blocks below TP__TC_CLASSES. */
static TP__HOT_INLINE tp__hdr *tp__hit(tp_pool *p, size_t req, unsigned flags, const char *file, int line)
{
    if (!p || (flags & TP_SPILL) || req >= TP__LARGE - TP__HDR) return NULL;
#if defined(TP__TCACHE)
    if (p->tc_on) {
#if defined(TP__TC_HIT)
        return tp__tc_hit(p, req, file, line);
#else
        return NULL;
#endif
    }
#endif
    return tp__shared_hit(p, req, file, line, 0);
}

/* A class block from the calling thread's cache, or a plain hit of the pool's class lists; NULL
   for everything else (then the pool's path, tp__alloc_slow). */
static tp__hdr *tp__alloc_fast(tp_pool *p, size_t req, size_t total, unsigned flags, const char *file, int line)
{
    int small = !(flags & TP_SPILL) && !tp__uses_pages(p, total);
#if defined(TP__TCACHE)
    if (p->tc_on) {
        unsigned cls = tp__class_of(req);
        tp__tcache *tc = small && cls < TP__TC_CLASSES ? tp__tc_mine(p) : NULL;
        if (tc) return tp__tc_alloc(p, tc, req, cls, file, line); /* on NULL its counters are merged */
        tp__tc_sync_mine(p);
    }
#endif
    return small ? tp__shared_hit(p, req, file, line, 1) : NULL;
}

/* One try of the pool's path under its lock. A try that is not the last one and fails the
   budget is neither counted nor logged: the budget handler gets its turn first. */
static tp__hdr *tp__alloc_try(tp_pool *pool, size_t bytes, size_t total, unsigned flags, const char *file,
                              int line, size_t *dirty, int last, tp_result *res, tp_error *err)
{
    tp__hdr *h;
    tp__later l;
    tp__later_init(&l);
    tp__lock(pool);
    h = tp__alloc_slow(pool, bytes, total, flags, file, line, &l, res, dirty);
    if (!h && !last && *res == TP_ERR_BUDGET) {
        l.n_msg = 0;
    } else if (!h) {
        pool->st.failures++;
        tp__event(pool, TP_EVENT_FAIL, NULL, bytes, file, line);
        tp_error_set(err, *res, "%s", l.n_msg ? l.msg[l.n_msg - 1] : tp_result_string(*res));
    }
    tp__unlock(pool);
    tp__later_run(pool, &l);
    return h;
}

/* Everything but a hit: the pool's path, with the budget handler asked for room (spilling is
   left for when it gives up), failures and their messages. */
static TP__NOINLINE tp__hdr *tp__alloc_at_slow(tp_pool *pool, size_t bytes, size_t total, unsigned flags,
                                               const char *file, int line, size_t *dirty, tp_error *err)
{
    tp_budget_handler on = pool->desc.on_budget;
    tp_result res = TP_ERR_NOMEM;
    tp__hdr *h;
    int tries = on.fn ? 0 : TP_BUDGET_RETRIES;
    for (;;) {
        int last = tries >= TP_BUDGET_RETRIES;
        unsigned try_flags = last || (flags & TP_SPILL) ? flags : flags | TP_NO_SPILL;
        h = tp__alloc_try(pool, bytes, total, try_flags, file, line, dirty, last, &res, err);
        if (h || res != TP_ERR_BUDGET || last) return h;
        tries = on.fn(on.user, pool, bytes) ? tries + 1 : TP_BUDGET_RETRIES;
    }
}

static TP__NOINLINE void tp__refuse(tp_pool *pool, tp_result r, const char *msg, size_t bytes, tp_error *err)
{
    tp__lock(pool);
    pool->st.failures++;
    tp__unlock(pool);
    if (r == TP_ERR_OVERFLOW) tp_log(&pool->desc.log, TP_LOG_ERROR, msg, (unsigned long long)bytes);
    tp_error_set(err, r, msg, (unsigned long long)bytes);
}

/* The user's bytes of a block handed out for `bytes`: the request open to ASan and the rest
   poisoned, its first `zero` bytes zeroed, err cleared. */
static TP__HOT_INLINE void *tp__hand_out(tp__hdr *h, size_t bytes, size_t zero, tp_error *err)
{
    if (err) tp_error_clear(err);
    TP_UNPOISON(tp__user(h), bytes);
    TP_POISON(tp__user(h) + bytes, h->size - bytes);
    return zero ? memset(tp__user(h), 0, zero) : (void *)tp__user(h);
}

/* tp_alloc_at but its hit path. */
static TP__NOINLINE void *tp__alloc_general(tp_pool *pool, size_t bytes, unsigned flags, const char *file, int line, tp_error *err)
{
    size_t total, dirty = 0;
    tp__hdr *h;
    if (!pool) {
        tp_error_set(err, TP_ERR_ARG, "tp_alloc: the pool is NULL");
        return NULL;
    }
    if (!tp_size_add(bytes, TP__HDR + pool->page, &total) || total > ((size_t)-1 >> 2)) {
        tp__refuse(pool, TP_ERR_OVERFLOW, "tensorpool: a request of %llu bytes overflows", bytes, err);
        return NULL;
    }
    total = bytes + TP__HDR;
#if defined(TP_TEST_ALLOC_FAILS)
    if (TP_TEST_ALLOC_FAILS(pool, bytes)) {
        tp__refuse(pool, TP_ERR_NOMEM, "tensorpool: no memory for %llu bytes (TP_TEST_ALLOC_FAILS)", bytes, err);
        return NULL;
    }
#endif
    h = tp__alloc_fast(pool, bytes, total, flags, file, line);
    if (h) dirty = h->size;
    else if (!(h = tp__alloc_at_slow(pool, bytes, total, flags, file, line, &dirty, err))) return NULL;
    return tp__hand_out(h, bytes, flags & TP_ZERO ? (dirty < bytes ? dirty : bytes) : 0, err); /* fresh maps are zero */
}

TPDEF void *tp_alloc_at(tp_pool *pool, size_t bytes, unsigned flags, const char *file, int line, tp_error *err)
{
#if !defined(TP_TEST_ALLOC_FAILS) /* an injected failure may hit any request: all go the long way */
    tp__hdr *h = tp__hit(pool, bytes, flags, file, line);
    if (h) return tp__hand_out(h, bytes, flags & TP_ZERO ? bytes : 0, err);
#endif
    return tp__alloc_general(pool, bytes, flags, file, line, err);
}

TPDEF void *(tp_alloc)(tp_pool *pool, size_t bytes)
{
    return tp_alloc_at(pool, bytes, 0u, NULL, 0, NULL);
}

TPDEF void *(tp_alloc_zeroed)(tp_pool *pool, size_t bytes)
{
    return tp_alloc_at(pool, bytes, TP_ZERO, NULL, 0, NULL);
}

TPDEF void *(tp_alloc_flags)(tp_pool *pool, size_t bytes, unsigned flags)
{
    return tp_alloc_at(pool, bytes, flags, NULL, 0, NULL);
}

/* ---- >>free -------------------------------------------------------------------------------------- */

/* Moves a live block to the cache (or back to the system). Under the lock. */
static void tp__release(tp_pool *p, tp__hdr *h, tp__later *l)
{
    TP_ASSERT(p->st.bytes_requested >= h->req);
    tp__live_unlink(p, h);
    p->st.frees++;
    p->st.bytes_requested -= h->req;
    h->state = TP__CACHED;
    if (p->tl) {
        size_t fp = h->kind == TP__SPILLED ? 0 : tp__footprint(h), sp = h->kind == TP__SPILLED ? h->size : 0;
        p->st.bytes_live -= fp, p->st.bytes_spilled -= sp; /* the event shows the bytes after it */
        tp__event(p, TP_EVENT_FREE, h, h->req, NULL, 0);
        p->st.bytes_live += fp, p->st.bytes_spilled += sp;
    }
    if (h->kind == TP__SPILLED) {
        p->st.bytes_spilled -= h->size;
        tp__dbg_remove(p, tp__user(h));
        tp__later_unmap(p, l, h, h->size + TP__HDR);
        return;
    }
    p->st.bytes_live -= tp__footprint(h);
    p->st.bytes_cached += tp__footprint(h);
    TP_POISON(tp__user(h), h->size);
    if (h->kind == TP__SMALL) {
        h->next = p->free_small[h->cls];
        p->free_small[h->cls] = h;
    } else {
        size_t len = h->size + TP__HDR;
        tp__dbg_remove(p, tp__user(h)); /* chunks are anonymous pages, not blocks */
        if (p->desc.debug) memset(h, 0xDD, TP__HDR); /* merged chunks are checked across it */
        tp__chunk_add(p, (char *)h, len, h->huge, l);
    }
    /* A free keeps live + cached, so the budget holds; only the cache caps can be crossed, and
       never while the cache is below both of them. */
    if (p->st.bytes_cached > p->cache_floor) tp__enforce_cache_limit(p, l);
    if (h->kind != TP__SMALL) tp__maybe_decay(p, l);
}

/* Is ptr a live block of this pool? TP_OK, or why not. Under the lock. */
static tp_result tp__check_live(tp_pool *p, const void *ptr, tp__later *l)
{
    tp__hdr *h;
    if ((uintptr_t)ptr % TP__ALIGN != 0) {
        tp__later_msg(l, TP_LOG_ERROR, "tensorpool: tp_free(%p): not a pointer returned by this pool", ptr);
        return TP_ERR_FOREIGN;
    }
    if (p->desc.debug && (!p->dbg_cap || !tp__dbg_slot(p, ptr))) {
        tp__later_msg(l, TP_LOG_ERROR, "tensorpool: tp_free(%p): not a live block of this pool "
                      "(foreign pointer, or a double free of a block since given back)", ptr);
        return TP_ERR_FOREIGN;
    }
    h = tp__hdr_of(ptr);
    if (h->magic != TP__MAGIC) {
        tp__later_msg(l, TP_LOG_ERROR, "tensorpool: tp_free(%p): not a pointer returned by this pool", ptr);
        return TP_ERR_FOREIGN;
    }
    if (h->state != TP__LIVE) {
        tp__later_msg(l, TP_LOG_ERROR, "tensorpool: tp_free(%p): double free of a %llu-byte block allocated at %s:%d",
                      ptr, (unsigned long long)h->size, h->file ? h->file : "?", (int)h->line);
        return TP_ERR_DOUBLE_FREE;
    }
    return TP_OK;
}

/* tp_free on the pool's path, under its lock. */
static TP__NOINLINE tp_result tp__free_shared(tp_pool *pool, void *ptr)
{
    tp_result r;
    tp__hdr *h = tp__hdr_of(ptr);
    tp__later l;
    tp__tc_sync_mine(pool);
    tp__later_init(&l);
    tp__lock(pool);
    r = tp__check_live(pool, ptr, &l);
    if (r == TP_OK && pool->desc.debug && h->kind != TP__SPILLED) {
        /* poison outside the lock would race with a concurrent double free; keep it simple */
        tp__poison(h);
    }
    if (r == TP_OK) tp__release(pool, h, &l);
    tp__unlock(pool);
    tp__later_run(pool, &l);
    return r;
}

/* The enforce part of a class-block free whose cache passed the floor (pool locked; unlocked
   on return). */
static TP__NOINLINE void tp__free_small_enforce(tp_pool *p)
{
    tp__later l;
    tp__later_init(&l);
    tp__enforce_cache_limit(p, &l);
    tp__unlock(p);
    tp__later_run(p, &l);
}

/* tp_free of a class block of the pool's own list in a pool without debug checks or thread
   caches: the hit path of tp_free, a few dozen instructions under the lock. 1 when done; 0 for
   everything else, the lock taken by another thread included. */
static TP__HOT_INLINE int tp__free_small_shared(tp_pool *p, tp__hdr *h)
{
    if (!tp__trylock(p)) return 0; /* tp__free_shared waits for it */
    if (h->state != TP__LIVE || h->owner) {
        tp__unlock(p);
        return 0; /* tp__free_shared says why */
    }
    tp__live_unlink(p, h);
    p->st.frees++;
    p->st.bytes_requested -= h->req;
    p->st.bytes_live -= h->size;
    TP__APART();
    p->st.bytes_cached += h->size;
    h->state = TP__CACHED;
    TP_POISON(tp__user(h), h->size);
    h->next = p->free_small[h->cls];
    p->free_small[h->cls] = h;
    if (p->st.bytes_cached > p->cache_floor) tp__free_small_enforce(p);
    else tp__unlock(p);
    return 1;
}

/* tp_free but its hit path. */
static TP__NOINLINE tp_result tp__free_general(tp_pool *pool, void *ptr)
{
    if (!ptr) return TP_OK;
    if (!pool) return TP_ERR_ARG;
#if defined(TP__TCACHE)
    if (pool->tc_on && (uintptr_t)ptr % TP__ALIGN == 0) {
        tp__hdr *h = tp__hdr_of(ptr);
        tp__tcache *mine;
        if (h->magic == TP__MAGIC && h->kind == TP__SMALL) {
            if (h->owner > tp__tc_count(pool)) return tp__bad_free(pool, h, TP_ERR_FOREIGN);
            mine = tp__tc_mine(pool);
            if (h->owner && mine && pool->tcs[h->owner - 1] == mine) { /* the hit path: its own block */
                tp__tc_lock(mine);
                if (tp__tc_unlink(mine, h) == TP_OK) {
                    tp__tc_keep(pool, mine, h, 0);
                    return TP_OK;
                }
                tp__tc_unlock(mine);
                return tp__bad_free(pool, h, TP_ERR_DOUBLE_FREE);
            }
            if (h->owner) return tp__tc_free_owned(pool, mine, h);
            if (mine && h->cls < TP__TC_CLASSES) return tp__tc_free_pooled(pool, mine, h);
        }
    }
#endif
    return tp__free_shared(pool, ptr);
}

TPDEF tp_result tp_free(tp_pool *pool, void *ptr)
{
    /* A debug pool reads no header before its set of blocks vouches for the pointer. */
    if (ptr && pool && !pool->desc.debug && (uintptr_t)ptr % TP__ALIGN == 0) {
        tp__hdr *h = tp__hdr_of(ptr);
        if (h->magic == TP__MAGIC && h->kind == TP__SMALL) {
            if (!pool->tc_on) {
                if (tp__free_small_shared(pool, h)) return TP_OK;
            }
#if defined(TP__TC_HIT)
            else {
                tp__tcache *tc = tp__tc_reclaim(pool, h);
                if (tc) return tp__tc_keep(pool, tc, h, 0);
            }
#endif
        }
    }
    return tp__free_general(pool, ptr);
}


/* ---- >>realloc ----------------------------------------------------------------------------------- */

#if defined(TP__MREMAP)
/* Puts h back on the pool's live list at its place by frame epoch (it left the list while its
   pages moved). Under the lock. */
static void tp__live_relink(tp_pool *p, tp__hdr *h)
{
    tp__hdr *after = p->live.tail;
    while (after && after->seq > h->seq) after = after->prev;
    h->prev = after;
    h->next = after ? after->next : p->live.head;
    if (h->next) h->next->prev = h; else p->live.tail = h;
    if (after) after->next = h; else p->live.head = h;
    p->st.live_blocks++;
}
#endif

/* Moves the request size of a live block from `old_req` to h->req in the statistics. Under the
   lock of the list the block is on. */
static void tp__requested_moved(tp_pool *p, const tp__hdr *h, size_t old_req, size_t new_req)
{
    p->st.bytes_requested = p->st.bytes_requested - old_req + new_req;
    tp__peaks(p);
    tp__event(p, TP_EVENT_RESIZE, h, new_req, NULL, 0);
}

/* A class block resized within its class: 1 done, 0 live but not possible in place, -1 not a
   live block (*r says why). */
static int tp__realloc_small(tp_pool *p, tp__hdr *h, size_t bytes, tp_result *r, tp__later *l)
{
    int in_place = bytes <= h->size && bytes >= h->size / 2;
#if defined(TP__TCACHE)
    if (h->owner && h->owner <= tp__tc_count(p)) {
        tp__tcache *tc = p->tcs[h->owner - 1];
        tp__tc_lock(tc);
        if (h->state != TP__LIVE || h->owner != tc->idx) {
            tp__tc_unlock(tc);
            *r = TP_ERR_DOUBLE_FREE;
            return -1;
        }
        if (in_place) {
            tc->d_req += (int64_t)bytes - (int64_t)h->req;
            if (tc->d_req > tc->rise_req) tc->rise_req = tc->d_req;
            h->req = bytes;
        }
        tp__tc_unlock(tc);
        return in_place;
    }
#endif
    tp__lock(p);
    *r = h->owner ? TP_ERR_FOREIGN : tp__check_live(p, tp__user(h), l);
    if (*r == TP_OK && in_place) {
        size_t old = h->req;
        h->req = bytes;
        tp__requested_moved(p, h, old, bytes);
    }
    tp__unlock(p);
    return *r != TP_OK ? -1 : in_place;
}

/* The index of the cached chunk that starts right where h's pages end, or -1. */
static int tp__chunk_after(const tp_pool *p, const tp__hdr *h)
{
    const char *end = (const char *)h + h->size + TP__HDR;
    int i;
    for (i = 0; i < p->n_chunks; i++)
        if (p->chunks[i].addr == end) return i;
    return -1;
}

/* A page block's new length: shrunk in place (the tail pages cached), grown into the cached
   chunk after it, or moved by mremap. Under the lock on entry and on return (dropped around
   mremap). The block's header (maybe moved), or NULL when the caller must copy; *r is TP_OK
   then, or why nothing can be done. */
static tp__hdr *tp__realloc_pages(tp_pool *p, tp__hdr *h, size_t bytes, size_t len, tp_result *r, tp__later *l)
{
    size_t old_len = h->size + TP__HDR, extra, old_req = h->req;
    int i;
    *r = TP_OK;
    if (len <= old_len) {
        size_t tail = old_len - len;
        if (tail >= TP__MIN_CHUNK) {
            TP_UNPOISON((char *)h + len, tail);
            if (p->desc.debug) memset((char *)h + len, 0xDD, tail);
            p->st.bytes_live -= tail;
            p->st.bytes_cached += tail;
            TP_POISON((char *)h + len, tail);
            tp__chunk_add(p, (char *)h + len, tail, h->huge, l);
            h->size = len - TP__HDR;
            tp__enforce_cache_limit(p, l);
        }
        h->req = bytes;
        tp__requested_moved(p, h, old_req, bytes);
        return h;
    }
    extra = len - old_len;
    if (!tp__fits_budget(p, extra)) {
        *r = tp__budget_fail(p, bytes, h->file, h->line, l);
        return NULL;
    }
    i = tp__chunk_after(p, h);
    if (i >= 0 && p->chunks[i].len >= extra && p->chunks[i].huge == h->huge) { /* the free neighbour: no system call */
        tp__chunk *ch = &p->chunks[i];
        if (ch->len - extra < TP__MIN_CHUNK && tp__fits_budget(p, ch->len)) extra = ch->len; /* no sliver left */
        TP_UNPOISON(ch->addr, extra);
        ch->addr += extra;
        ch->len -= extra;
        if (ch->len == 0) tp__chunk_remove(p, i);
        p->st.bytes_cached -= extra;
        p->st.bytes_live += extra;
        h->size += extra;
        h->req = bytes;
        tp__requested_moved(p, h, old_req, bytes);
        return h;
    }
#if defined(TP__MREMAP)
    {
        char *m;
        int was_huge = h->huge; /* h's address is gone once the pages moved */
        tp__live_unlink(p, h); /* its neighbours must not write into pages on the move */
        p->st.bytes_live += extra;
        tp__unlock(p);
        tp__later_run(p, l);
        TP_UNPOISON(h, old_len); /* the shadow stays with the address, not the pages */
        m = (char *)mremap(h, old_len, len, 1 /* MREMAP_MAYMOVE */);
#if defined(MADV_HUGEPAGE)
        if (m != (char *)MAP_FAILED && tp__advised_huge(p, len) && !was_huge) madvise(m, len, MADV_HUGEPAGE);
#endif
        tp__lock(p);
        if (m == (char *)MAP_FAILED) {
            p->st.bytes_live -= extra;
            tp__live_relink(p, h);
            return NULL;
        }
        if (m != (char *)h && p->desc.debug) {
            tp__dbg_remove(p, tp__user(h));
            tp__dbg_insert(p, m + TP__HDR);
        }
        h = (tp__hdr *)(void *)m;
        h->size = len - TP__HDR;
        h->req = bytes;
        h->huge = (uint8_t)(was_huge || tp__advised_huge(p, len));
        p->st.bytes_fresh += extra;
        tp__live_relink(p, h);
        tp__requested_moved(p, h, old_req, bytes);
        return h;
    }
#else
    return NULL;
#endif
}

/* Resizes in place or by moving pages: the user pointer, NULL when the caller must copy (*r
   TP_OK), or NULL with *r the reason it cannot be resized at all. */
static void *tp__realloc_fast(tp_pool *p, tp__hdr *h, size_t bytes, size_t total, tp_result *r, tp__later *l)
{
    int done;
    *r = TP_OK;
    if ((uintptr_t)tp__user(h) % TP__ALIGN != 0 || (!p->desc.debug && h->magic != TP__MAGIC)) {
        *r = TP_ERR_FOREIGN;
        return NULL;
    }
    if (h->kind == TP__SMALL) { /* checked live even when it must move */
        done = tp__realloc_small(p, h, tp__uses_pages(p, total) ? h->size + 1 : bytes, r, l);
        return done > 0 ? tp__user(h) : NULL;
    }
    if (h->kind == TP__PAGES && tp__uses_pages(p, total)) {
        tp__tc_sync_mine(p);
        tp__lock(p);
        *r = tp__check_live(p, tp__user(h), l);
        if (*r == TP_OK) h = tp__realloc_pages(p, h, bytes, tp__round_up(total, p->page), r, l);
        else h = NULL;
        tp__unlock(p);
        return h ? tp__user(h) : NULL;
    }
    tp__lock(p); /* a spill, or a page block that becomes a class block: moves, if live */
    *r = tp__check_live(p, tp__user(h), l);
    tp__unlock(p);
    return NULL;
}

TPDEF void *tp_realloc_at(tp_pool *pool, void *ptr, size_t bytes, const char *file, int line, tp_error *err)
{
    size_t total, keep;
    tp_result r;
    tp__later l;
    void *out;
    int tries;
    if (!pool) {
        tp_error_set(err, TP_ERR_ARG, "tp_realloc: the pool is NULL");
        return NULL;
    }
    if (!ptr) return tp_alloc_at(pool, bytes, 0u, file, line, err);
    if (!tp_size_add(bytes, TP__HDR + pool->page, &total) || total > ((size_t)-1 >> 2)) {
        tp__refuse(pool, TP_ERR_OVERFLOW, "tensorpool: a request of %llu bytes overflows", bytes, err);
        return NULL;
    }
    total = bytes + TP__HDR;
    keep = tp__hdr_of(ptr)->req;
    for (tries = 0;; tries++) { /* the budget handler, as for tp_alloc */
        tp__later_init(&l);
        out = tp__realloc_fast(pool, tp__hdr_of(ptr), bytes, total, &r, &l);
        if (r == TP_ERR_BUDGET && pool->desc.on_budget.fn && tries < TP_BUDGET_RETRIES) l.n_msg = 0;
        tp__later_run(pool, &l);
        if (r != TP_ERR_BUDGET || !pool->desc.on_budget.fn || tries >= TP_BUDGET_RETRIES ||
            !pool->desc.on_budget.fn(pool->desc.on_budget.user, pool, bytes))
            break;
    }
    if (r != TP_OK) {
        tp_error_set(err, r, "tp_realloc(%p): %s", ptr, r == TP_ERR_BUDGET ? "over the budget (the block is unchanged)"
                                                         : "not a live block of this pool");
        if (r != TP_ERR_BUDGET) tp_log(&pool->desc.log, TP_LOG_ERROR, "tp_realloc(%p): not a live block of this pool", ptr);
        return NULL;
    }
    if (out) {
        TP_UNPOISON(out, bytes);
        TP_POISON((char *)out + bytes, tp__hdr_of(out)->size - bytes);
        tp_error_clear(err);
        return out;
    }
    out = tp_alloc_at(pool, bytes, 0u, file, line, err); /* a new block, a copy, a free */
    if (!out) return NULL;
    memcpy(out, ptr, keep < bytes ? keep : bytes);
    tp_free(pool, ptr);
    return out;
}

TPDEF void *(tp_realloc)(tp_pool *pool, void *ptr, size_t bytes)
{
    return tp_realloc_at(pool, ptr, bytes, NULL, 0, NULL);
}

TPDEF size_t tp_usable_size(tp_pool *pool, const void *ptr)
{
    (void)pool;
#if TP_ASAN
    return ptr ? tp__hdr_of(ptr)->req : 0; /* the rest is poisoned (as malloc_usable_size under ASan) */
#else
    return ptr ? tp__hdr_of(ptr)->size : 0;
#endif
}

/* ---- >>pool --------------------------------------------------------------------------------------- */

static size_t tp__page_size(void)
{
#if defined(TP__POSIX)
    long ps = sysconf(_SC_PAGESIZE);
    if (ps >= 4096 && ps <= (1L << 24)) return (size_t)ps;
#endif
    return 4096;
}

static tp_result tp__resolve(tp_desc *d, const tp_desc *in, tp_error *err)
{
    if (in) *d = *in; else memset(d, 0, sizeof *d);
    if ((d->allocator.alloc == NULL) != (d->allocator.free == NULL))
        return tp_error_set(err, TP_ERR_ARG, "tp_create: desc.allocator needs both alloc and free, or neither");
    if (!(d->budget_fraction >= 0.0 && d->budget_fraction <= 1.0))
        return tp_error_set(err, TP_ERR_ARG, "tp_create: desc.budget_fraction must lie in [0, 1] (0 = 0.8), got %g",
                            d->budget_fraction);
    if (d->budget_fraction == 0.0) d->budget_fraction = 0.8;
    if (d->spill_threshold == 0) d->spill_threshold = (size_t)1 << 20;
    d->huge_pages = d->huge_pages >= 0 ? 1 : 0;
    if (d->decay_ms < 0)
        return tp_error_set(err, TP_ERR_ARG, "tp_create: desc.decay_ms must be >= 0 (0 = no decay), got %d", d->decay_ms);
    d->single_thread = d->single_thread > 0;
    d->thread_caches = d->thread_caches >= 0 && !d->single_thread;
    if (d->debug == 0) {
#ifdef TP_DEBUG
        d->debug = 1;
#else
        d->debug = -1;
#endif
    }
    d->debug = d->debug > 0;
    if (d->debug) d->thread_caches = 0; /* debug checks need every block under the pool's lock */
    if (d->timeline < -1 || d->timeline > (1 << 26))
        return tp_error_set(err, TP_ERR_ARG, "tp_create: desc.timeline must be -1 (none), 0 (16384 events) or a "
                            "number of events up to 2^26, got %d", d->timeline);
    d->timeline = !d->debug || d->timeline < 0 ? -1 : d->timeline ? d->timeline : 16384;
    if (d->budget_bytes == TP_BUDGET_AUTO) {
        tp_memory_info mi;
        if (tp_query_memory(&mi, NULL, NULL) != TP_OK || mi.usable == 0)
            return tp_error_set(err, TP_ERR_IO, "tp_create: TP_BUDGET_AUTO found no memory figure in /proc/meminfo or "
                                "the cgroup files; set desc.budget_bytes instead");
        d->budget_bytes = (size_t)((double)mi.usable * d->budget_fraction);
        if (d->budget_bytes == 0) d->budget_bytes = 1;
    }
    return TP_OK;
}

TPDEF tp_result tp_create(const tp_desc *desc, tp_pool **out, tp_error *err)
{
    tp_desc d;
    tp_pool *p;
    tp_result r;
    if (!out) return tp_error_set(err, TP_ERR_ARG, "tp_create: out is NULL");
    *out = NULL;
    if ((r = tp__resolve(&d, desc, err)) != TP_OK) return r;
    p = (tp_pool *)tp__raw_alloc(&d.allocator, sizeof *p);
    if (!p) return tp_error_set(err, TP_ERR_NOMEM, "tp_create: no memory for the pool itself");
    memset(p, 0, sizeof *p);
    p->desc = d;
    p->page = tp__page_size();
    if (d.spill_dir) {
        size_t n = strlen(d.spill_dir) + 1;
        p->spill_dir = (char *)tp__raw_alloc(&d.allocator, n);
        if (!p->spill_dir) {
            tp__raw_free(&d.allocator, p, sizeof *p);
            return tp_error_set(err, TP_ERR_NOMEM, "tp_create: no memory for a copy of spill_dir");
        }
        memcpy(p->spill_dir, d.spill_dir, n);
        p->desc.spill_dir = p->spill_dir;
    }
#if defined(TP__THREADS) && !defined(TP__SPINLOCK)
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        tp__raw_free(&d.allocator, p->spill_dir, strlen(d.spill_dir ? d.spill_dir : "") + 1);
        tp__raw_free(&d.allocator, p, sizeof *p);
        return tp_error_set(err, TP_ERR_THREAD, "tp_create: could not make the pool's mutex");
    }
#endif
#if defined(TP__TCACHE)
    if (p->desc.thread_caches && pthread_key_create(&p->tc_key, tp__tc_exit) != 0) {
        p->desc.thread_caches = 0;
        tp_log(&d.log, TP_LOG_INFO, "tp_create: no thread key left in this process: the pool's threads share its lock");
    }
    p->tc_on = p->desc.thread_caches;
#else
    p->desc.thread_caches = 0;
#endif
    if (p->desc.timeline > 0) {
        p->tl_cap = (size_t)p->desc.timeline;
        p->tl = (tp_event *)tp__raw_alloc(&d.allocator, p->tl_cap * sizeof(tp_event));
        p->tl_t0 = tp__now_us();
        if (!p->tl) {
            tp_destroy(p);
            return tp_error_set(err, TP_ERR_NOMEM, "tp_create: no memory for a timeline of %d events "
                                "(desc.timeline; -1 keeps none)", d.timeline);
        }
    }
    p->st.budget = p->desc.budget_bytes;
    p->cache_floor = TP__CACHE_SLACK;
    if (d.max_cached_bytes && d.max_cached_bytes < p->cache_floor) p->cache_floor = d.max_cached_bytes;
    *out = p;
    tp_error_clear(err);
    return TP_OK;
}

TPDEF void tp_destroy(tp_pool *pool)
{
    tp_allocator a;
    tp__hdr *h;
    tp__later l;
    if (!pool) return; /* no other call may race with this one: no lock */
    if (pool->desc.debug)
        for (h = pool->live.head; h; h = h->next)
            tp_log(&pool->desc.log, TP_LOG_WARN, "tensorpool: leak: %llu bytes at %p allocated at %s:%d",
                   (unsigned long long)h->req, (void *)tp__user(h),
                   h->file ? h->file : "(unknown: build the caller with TP_DEBUG)", (int)h->line);
    tp__later_init(&l);
    tp__tc_destroy_all(pool);
    while (pool->live.tail) {
        tp__release(pool, pool->live.tail, &l);
        tp__later_run(pool, &l);
    }
    tp__shrink_cache(pool, 0, &l);
    tp__later_run(pool, &l);
    tp__decayed_release(pool, &l);
    tp__later_run(pool, &l);
    a = pool->desc.allocator;
    if (pool->dbg_set) tp__raw_free(&a, pool->dbg_set, pool->dbg_cap * sizeof(void *));
    if (pool->tl) tp__raw_free(&a, pool->tl, pool->tl_cap * sizeof(tp_event));
    if (pool->spill_dir) tp__raw_free(&a, pool->spill_dir, strlen(pool->spill_dir) + 1);
#if defined(TP__THREADS) && !defined(TP__SPINLOCK)
    pthread_mutex_destroy(&pool->lock);
#endif
    tp__raw_free(&a, pool, sizeof *pool);
}

TPDEF size_t tp_trim(tp_pool *pool)
{
    size_t before;
    tp__later l;
    if (!pool) return 0;
    tp__later_init(&l);
    tp__tc_gather(pool, 1);
    tp__lock(pool);
    before = pool->st.bytes_cached;
    tp__shrink_cache(pool, 0, &l);
    tp__unlock(pool);
    tp__later_run(pool, &l);
    tp__lock(pool);
    tp__decayed_release(pool, &l); /* address space only: not in the bytes returned */
    tp__unlock(pool);
    tp__later_run(pool, &l);
    return before;
}

TPDEF size_t tp_decay(tp_pool *pool)
{
    size_t before;
    tp__later l;
    if (!pool || pool->desc.decay_ms <= 0) return 0;
    tp__later_init(&l);
    tp__lock(pool);
    before = pool->st.bytes_cached;
    tp__decay(pool, tp__now_ms(), &l);
    before -= pool->st.bytes_cached;
    tp__unlock(pool);
    tp__later_run(pool, &l);
    return before;
}

TPDEF tp_stats tp_get_stats(tp_pool *pool)
{
    tp_stats s;
    memset(&s, 0, sizeof s);
    if (!pool) return s;
    tp__tc_gather(pool, 0);
    tp__lock(pool);
    s = pool->st;
    tp__unlock(pool);
    s.bytes_reserved = s.bytes_live + s.bytes_cached;
    s.hit_rate = s.allocs ? (double)s.hits / (double)s.allocs : 0.0;
    return s;
}

TPDEF void tp_reset_peak(tp_pool *pool)
{
    if (!pool) return;
    tp__tc_gather(pool, 0);
    tp__lock(pool);
    pool->st.peak_live = pool->st.bytes_live;
    pool->st.peak_reserved = pool->st.bytes_live + pool->st.bytes_cached;
    pool->st.peak_spilled = pool->st.bytes_spilled;
    pool->st.peak_requested = pool->st.bytes_requested;
    tp__unlock(pool);
}

TPDEF tp_desc tp_get_desc(const tp_pool *pool)
{
    tp_desc d;
    if (pool) return pool->desc;
    memset(&d, 0, sizeof d);
    return d;
}

TPDEF tp_frame tp_mark(tp_pool *pool)
{
    tp_frame f;
    f.seq = 0;
    if (!pool) return f;
    tp__lock(pool);
#if defined(TP__ATOMICS)
    __atomic_store_n(&pool->epoch, pool->epoch + 1, __ATOMIC_RELAXED);
#else
    pool->epoch++;
#endif
    f.seq = pool->epoch;
    tp__unlock(pool);
    return f;
}

TPDEF tp_result tp_release_to(tp_pool *pool, tp_frame mark, tp_error *err)
{
    tp__later l;
    if (!pool) return tp_error_set(err, TP_ERR_ARG, "tp_release_to: the pool is NULL");
    tp__later_init(&l);
    tp__lock(pool);
    if (mark.seq > pool->epoch) {
        tp__unlock(pool);
        return tp_error_set(err, TP_ERR_ARG, "tp_release_to: the mark (%llu) was not made by tp_mark on this pool "
                            "(its last mark is %llu)", (unsigned long long)mark.seq, (unsigned long long)pool->epoch);
    }
    while (pool->live.tail && pool->live.tail->seq >= mark.seq) {
        tp__hdr *h = pool->live.tail;
        if (l.n > TP__LATER_MAX - TP__MAX_CHUNKS - 4) { /* room for one more release's unmaps */
            tp__unlock(pool);
            tp__later_run(pool, &l);
            tp__lock(pool);
            continue;
        }
        if (pool->desc.debug && h->kind != TP__SPILLED) tp__poison(h);
        tp__release(pool, h, &l);
    }
    tp__unlock(pool);
    tp__later_run(pool, &l);
    tp__tc_release_all_since(pool, mark.seq);
    tp_error_clear(err);
    return TP_OK;
}

TPDEF size_t tp_live_blocks(tp_pool *pool, tp_block_fn fn, void *user)
{
    size_t n = 0;
    tp__hdr *h;
    if (!pool) return 0;
    tp__lock(pool);
    for (h = pool->live.head; h; h = h->next, n++)
        if (fn) fn(user, tp__user(h), h->req, h->file, (int)h->line);
    tp__unlock(pool);
    tp__tc_visit(pool, fn, user, &n);
    return n;
}


/* ---- >>timeline ------------------------------------------------------------------------------------ */

/* Copies the kept events, oldest first (under the lock). */
static size_t tp__timeline_copy(tp_pool *p, tp_event *out, size_t cap, uint64_t *dropped)
{
    uint64_t kept = p->tl_n < p->tl_cap ? p->tl_n : p->tl_cap, first = p->tl_n - kept, i;
    if (dropped) *dropped = first;
    if (!out) return (size_t)kept;
    if (kept > cap) first += kept - cap, kept = cap;
    for (i = 0; i < kept; i++) out[i] = p->tl[(first + i) % p->tl_cap];
    return (size_t)kept;
}

TPDEF size_t tp_timeline(tp_pool *pool, tp_event *out, size_t cap, uint64_t *dropped)
{
    size_t n;
    if (dropped) *dropped = 0;
    if (!pool || !pool->tl) return 0;
    tp__lock(pool);
    n = tp__timeline_copy(pool, out, cap, dropped);
    tp__unlock(pool);
    return n;
}

/* A file name as a JSON string's contents. */
static void tp__json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') out[n++] = '\\', out[n++] = (char)c;
        else if (c < 0x20) n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        else out[n++] = (char)c;
    }
    out[n] = 0;
}

TPDEF tp_result tp_timeline_json(tp_pool *pool, tp_write_fn write, void *user, tp_error *err)
{
    static const char *ops[] = {"?", "alloc", "free", "resize", "fail"};
    char line[TP__MSG + 512], file[TP__MSG];
    tp_event *ev;
    uint64_t dropped;
    size_t n, i, bytes;
    int len, stop = 0;
    if (!pool || !write) return tp_error_set(err, TP_ERR_ARG, "tp_timeline_json: %s is NULL", pool ? "write" : "the pool");
    if (!pool->tl)
        return tp_error_set(err, TP_ERR_UNSUPPORTED, "tp_timeline_json: this pool keeps no timeline (only debug pools "
                            "do: desc.debug = 1 or TP_DEBUG, and desc.timeline not -1)");
    bytes = pool->tl_cap * sizeof(tp_event); /* copied out, so that write runs without the lock */
    if (!(ev = (tp_event *)tp__raw_alloc(&pool->desc.allocator, bytes)))
        return tp_error_set(err, TP_ERR_NOMEM, "tp_timeline_json: no memory to copy %llu events",
                            (unsigned long long)pool->tl_cap);
    tp__lock(pool);
    n = tp__timeline_copy(pool, ev, pool->tl_cap, &dropped);
    tp__unlock(pool);
    len = snprintf(line, sizeof line, "{\"format\": \"tensorpool-timeline\", \"version\": 1, \"budget\": %llu, "
                   "\"dropped\": %llu, \"events\": [\n", (unsigned long long)pool->desc.budget_bytes,
                   (unsigned long long)dropped);
    stop = write(user, line, (size_t)len);
    for (i = 0; i < n && !stop; i++) {
        const tp_event *e = &ev[i];
        tp__json_escape(file, sizeof file, e->file);
        len = snprintf(line, sizeof line, "{\"t_us\": %llu, \"op\": \"%s\", \"bytes\": %llu, \"live\": %llu, "
                       "\"spilled\": %llu, \"ptr\": \"0x%llx\", \"file\": %s%s%s, \"line\": %d}%s\n",
                       (unsigned long long)e->t_us, ops[e->kind >= 1 && e->kind <= 4 ? e->kind : 0],
                       (unsigned long long)e->bytes, (unsigned long long)e->live, (unsigned long long)e->spilled,
                       (unsigned long long)(uintptr_t)e->ptr, e->file ? "\"" : "", e->file ? file : "null", e->file ? "\"" : "", e->line,
                       i + 1 < n ? "," : "");
        if (len > 0 && (size_t)len >= sizeof line) len = (int)sizeof line - 1;
        stop = write(user, line, (size_t)len);
    }
    if (!stop) stop = write(user, "]}\n", 3);
    tp__raw_free(&pool->desc.allocator, ev, bytes);
    if (stop) return tp_error_set(err, TP_ERR_IO, "tp_timeline_json: the write callback stopped");
    tp_error_clear(err);
    return TP_OK;
}

TPDEF const char *tp_build_info(void)
{
    return "tensorpool 1.0.0"
#if !defined(TP__THREADS)
           " no-threads"
#elif defined(TP__TCACHE)
           " threads(spinlock) thread-caches"
#elif defined(TP__SPINLOCK)
           " threads(spinlock)"
#else
           " threads(pthread)"
#endif
#if defined(TP__MMAP)
           " mmap"
#endif
#if defined(TP__MREMAP)
           " mremap"
#endif
#if defined(TP__FILEMAP)
           " spill"
#endif
        ;
}

/* ---- >>system files: memory and CPUs ----------------------------------------------------------- */

/* Reads a whole small text file under root into buf; returns bytes read or -1. */
static long tp__read_text(const char *root, const char *path, char *buf, size_t cap)
{
    char full[1024];
    FILE *f;
    size_t n;
    if (snprintf(full, sizeof full, "%s%s", root, path) >= (int)sizeof full) return -1;
    f = fopen(full, "r");
    if (!f) return -1;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    return (long)n;
}

/* The value after `key` in a "key value" text (meminfo-style, kB when unit is 1024). */
static int tp__find_value(const char *text, const char *key, size_t unit, size_t *out)
{
    const char *s = text;
    size_t klen = strlen(key);
    while ((s = strstr(s, key)) != NULL) {
        if ((s == text || s[-1] == '\n') && (s[klen] == ' ' || s[klen] == ':' || s[klen] == '\t')) {
            unsigned long long v = strtoull(s + klen + 1 + (s[klen] == ':'), NULL, 10);
            *out = (size_t)v * unit;
            return 1;
        }
        s += klen;
    }
    return 0;
}

/* A single number file: "max" (v2 unlimited) and huge v1 values (>= 2^60) mean no limit. */
static int tp__read_limit(const char *root, const char *path, size_t *out)
{
    char buf[64];
    unsigned long long v;
    if (tp__read_text(root, path, buf, sizeof buf) <= 0) return 0;
    if (strncmp(buf, "max", 3) == 0) return 0;
    v = strtoull(buf, NULL, 10);
    if (v == 0 || v >= (1ull << 60)) return 0;
    *out = (size_t)v;
    return 1;
}

/* Next line of a mutable text buffer (NUL-terminates it); NULL at the end. */
static char *tp__next_line(char **cursor)
{
    char *line = *cursor, *nl;
    if (!line || !*line) return NULL;
    nl = strchr(line, '\n');
    if (nl) { *nl = 0; *cursor = nl + 1; } else *cursor = line + strlen(line);
    return line;
}

/* The cgroup path of this process for the v1 controller `name`, or for v2 when name is NULL. */
static int tp__cgroup_path(const char *root, const char *name, char *out, size_t cap)
{
    char buf[4096], *cursor = buf, *line;
    if (tp__read_text(root, "/proc/self/cgroup", buf, sizeof buf) <= 0) return 0;
    while ((line = tp__next_line(&cursor)) != NULL) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *ctl;
        int match = 0;
        if (!c2) continue;
        *c1 = 0;
        *c2 = 0;
        ctl = c1 + 1;
        if (!name) match = strcmp(line, "0") == 0 && *ctl == 0;
        else { /* controllers are a comma-separated list */
            char *tok = ctl;
            size_t n = strlen(name);
            while (tok && *tok && !match) {
                match = strncmp(tok, name, n) == 0 && (tok[n] == ',' || tok[n] == 0);
                tok = strchr(tok, ',');
                if (tok) tok++;
            }
        }
        if (match && strlen(c2 + 1) < cap) { strcpy(out, c2 + 1); return 1; }
    }
    return 0;
}

/* Calls visit for the directory (under base) of cgroup cg and of each of its parents up to the
   hierarchy's root: a limit anywhere on the way binds. */
typedef void (*tp__cgroup_visit)(const char *root, const char *dir, void *ctx);
static void tp__cgroup_walk(const char *root, const char *base, const char *cg, tp__cgroup_visit visit, void *ctx)
{
    char dir[1024], path[1100];
    if (strlen(cg) >= sizeof dir) return;
    strcpy(dir, cg);
    for (;;) {
        char *slash;
        snprintf(path, sizeof path, "%s%s", base, strcmp(dir, "/") == 0 ? "" : dir);
        visit(root, path, ctx);
        slash = strrchr(dir, '/');
        if (!slash || strcmp(dir, "/") == 0 || dir[0] == 0) break;
        if (slash == dir) strcpy(dir, "/"); else *slash = 0;
    }
}

typedef struct tp__mem_walk {
    const char *limit_file, *usage_file, *inactive_key;
    tp_memory_info *mi;
    int found;
} tp__mem_walk;

/* Keeps the tightest memory limit and the working set of the cgroup that sets it. */
static void tp__visit_memory(const char *root, const char *dir, void *ctx)
{
    tp__mem_walk *w = (tp__mem_walk *)ctx;
    char path[1200], stat[8192];
    size_t lim, usage = 0, inactive = 0;
    snprintf(path, sizeof path, "%s/%s", dir, w->limit_file);
    if (!tp__read_limit(root, path, &lim) || (w->found && lim >= w->mi->cgroup_limit)) return;
    snprintf(path, sizeof path, "%s/%s", dir, w->usage_file);
    tp__read_limit(root, path, &usage);
    snprintf(path, sizeof path, "%s/memory.stat", dir);
    if (tp__read_text(root, path, stat, sizeof stat) > 0) tp__find_value(stat, w->inactive_key, 1, &inactive);
    w->mi->cgroup_limit = lim;
    w->mi->cgroup_usage = usage > inactive ? usage - inactive : 0;
    w->found = 1;
}

static int tp__memory_limit(const char *root, int version, tp_memory_info *mi)
{
    char cg[900];
    tp__mem_walk w;
    w.mi = mi;
    w.found = 0;
    if (version == 2) {
        if (!tp__cgroup_path(root, NULL, cg, sizeof cg)) return 0;
        w.limit_file = "memory.max", w.usage_file = "memory.current", w.inactive_key = "inactive_file";
        tp__cgroup_walk(root, "/sys/fs/cgroup", cg, tp__visit_memory, &w);
    } else {
        if (!tp__cgroup_path(root, "memory", cg, sizeof cg)) return 0;
        w.limit_file = "memory.limit_in_bytes", w.usage_file = "memory.usage_in_bytes";
        w.inactive_key = "total_inactive_file";
        tp__cgroup_walk(root, "/sys/fs/cgroup/memory", cg, tp__visit_memory, &w);
    }
    return w.found;
}

TPDEF tp_result tp_query_memory(tp_memory_info *mi, const char *root, tp_error *err)
{
    char buf[8192];
    int any = 0;
    if (!mi) return tp_error_set(err, TP_ERR_ARG, "tp_query_memory: info is NULL");
    memset(mi, 0, sizeof *mi);
    if (!root || strcmp(root, "/") == 0) root = "";
    if (tp__read_text(root, "/proc/meminfo", buf, sizeof buf) > 0) {
        tp__find_value(buf, "MemTotal", 1024, &mi->mem_total);
        if (!tp__find_value(buf, "MemAvailable", 1024, &mi->mem_available)) {
            size_t f = 0, c = 0; /* kernels before 3.14 */
            tp__find_value(buf, "MemFree", 1024, &f);
            tp__find_value(buf, "Cached", 1024, &c);
            mi->mem_available = f + c;
        }
        any = mi->mem_available > 0;
    }
    if (tp__memory_limit(root, 2, mi)) mi->cgroup_version = 2;
    else if (tp__memory_limit(root, 1, mi)) mi->cgroup_version = 1;
    mi->usable = mi->mem_available;
    if (mi->cgroup_version) {
        size_t room = mi->cgroup_limit > mi->cgroup_usage ? mi->cgroup_limit - mi->cgroup_usage : 0;
        if (!any || room < mi->usable) mi->usable = room;
        any = 1;
    }
    if (!any)
        return tp_error_set(err, TP_ERR_IO, "tp_query_memory: neither %s/proc/meminfo nor a cgroup memory limit "
                            "could be read", root);
    tp_error_clear(err);
    return TP_OK;
}

/* CPUs in a list such as "0-3,8,10-11" (/proc/self/status Cpus_allowed_list), 0 if none. */
static int tp__count_cpu_list(const char *s)
{
    int n = 0;
    while (*s && *s != '\n') {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s) break;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1) break;
            s = end;
        }
        if (b >= a && b - a < 1 << 20) n += (int)(b - a + 1);
        if (*s == ',') s++;
    }
    return n;
}

typedef struct tp__cpu_walk { int v1; double quota; } tp__cpu_walk;

/* Keeps the smallest CPU quota, in CPUs: v2 "QUOTA PERIOD" or "max PERIOD" in cpu.max; v1
   cpu.cfs_quota_us (-1 = none) over cpu.cfs_period_us. */
static void tp__visit_cpu(const char *root, const char *dir, void *ctx)
{
    tp__cpu_walk *w = (tp__cpu_walk *)ctx;
    char path[1200], buf[128];
    double q = 0.0, period = 0.0;
    if (!w->v1) {
        char *end;
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        if (tp__read_text(root, path, buf, sizeof buf) <= 0 || strncmp(buf, "max", 3) == 0) return;
        q = strtod(buf, &end);
        period = strtod(end, NULL);
    } else {
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        if (tp__read_text(root, path, buf, sizeof buf) <= 0) return;
        q = strtod(buf, NULL);
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
        if (tp__read_text(root, path, buf, sizeof buf) <= 0) return;
        period = strtod(buf, NULL);
    }
    if (q > 0.0 && period > 0.0 && (w->quota == 0.0 || q / period < w->quota)) w->quota = q / period;
}

TPDEF tp_result tp_query_cpus(tp_cpu_info *info, const char *root, tp_error *err)
{
    char buf[8192], cg[900];
    const char *list;
    tp__cpu_walk w;
    int usable = 0;
    if (!info) return tp_error_set(err, TP_ERR_ARG, "tp_query_cpus: info is NULL");
    memset(info, 0, sizeof *info);
    if (!root || strcmp(root, "/") == 0) root = "";
#if defined(TP__POSIX) && defined(_SC_NPROCESSORS_ONLN)
    {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        info->online = n > 0 && n < (1L << 20) ? (int)n : 0;
    }
#endif
    if (tp__read_text(root, "/proc/self/status", buf, sizeof buf) > 0 &&
        (list = strstr(buf, "Cpus_allowed_list:")) != NULL) {
        list += strlen("Cpus_allowed_list:");
        info->affinity = tp__count_cpu_list(list + strspn(list, " \t"));
    }
    w.quota = 0.0;
    if (tp__cgroup_path(root, NULL, cg, sizeof cg)) {
        w.v1 = 0;
        tp__cgroup_walk(root, "/sys/fs/cgroup", cg, tp__visit_cpu, &w);
    }
    if (w.quota == 0.0 && tp__cgroup_path(root, "cpu", cg, sizeof cg)) {
        char probe[1000];
        const char *base = "/sys/fs/cgroup/cpu"; /* usually a link to cpu,cpuacct */
        w.v1 = 1;
        snprintf(probe, sizeof probe, "%s/cpu.cfs_period_us", base);
        if (tp__read_text(root, probe, buf, sizeof buf) <= 0) base = "/sys/fs/cgroup/cpu,cpuacct";
        tp__cgroup_walk(root, base, cg, tp__visit_cpu, &w);
    }
    info->cgroup_quota = w.quota;
    usable = info->online;
    if (info->affinity > 0 && (usable == 0 || info->affinity < usable)) usable = info->affinity;
    if (w.quota > 0.0) {
        int q = (int)w.quota + ((double)(int)w.quota < w.quota);
        if (usable == 0 || q < usable) usable = q;
    }
    info->usable = usable > 0 ? usable : 1;
    if (!info->online && !info->affinity && w.quota == 0.0)
        return tp_error_set(err, TP_ERR_IO, "tp_query_cpus: no CPU count could be read (sysconf, %s/proc/self/status)", root);
    tp_error_clear(err);
    return TP_OK;
}

TPDEF int tp_thread_count(int n_threads)
{
    tp_cpu_info ci;
    if (n_threads < 0 || n_threads > TP_MAX_THREADS) return 0;
    if (n_threads > 0) return n_threads;
    tp_query_cpus(&ci, NULL, NULL);
    return ci.usable < TP_MAX_THREADS ? ci.usable : TP_MAX_THREADS;
}

TPDEF unsigned tp_cpu_features(void)
{
    unsigned f = 0;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) f |= TP_CPU_AVX2;
    if (__builtin_cpu_supports("avx512f")) f |= TP_CPU_AVX512F;
#endif
#if defined(TP_CPU_FEATURES_MASK)
    f &= (unsigned)(TP_CPU_FEATURES_MASK);
#endif
    return f;
}

/* ---- >>team ------------------------------------------------------------------------------------- */

typedef struct tp__worker_arg { struct tp_team *team; int id; } tp__worker_arg;

struct tp_team {
    tp_pool *pool;              /* where the team lives (NULL: malloc) */
    int n;                      /* workers taking items, the caller included */
#if defined(TP__THREADS)
    int sync;                   /* the mutexes and conditions exist */
    pthread_mutex_t mu, user_mu;
    pthread_cond_t go, done, turn;
    tp_task_fn fn;              /* the job: written under mu before round changes */
    void *user;
    size_t n_items;
    size_t next;                /* the next item to take */
    size_t ordered;             /* items whose ordered section has ended */
    unsigned long round;        /* job number: a worker waits for it to change */
    int busy;                   /* workers other than the caller still in the job */
    int quit;
    pthread_t th[TP_MAX_THREADS];
    tp__worker_arg arg[TP_MAX_THREADS];
#endif
};

#if defined(TP__THREADS)
#if defined(TP__ATOMICS)
/* Before it sleeps, a waiter spins ~25,000 pauses (under a millisecond): jobs that follow each
   other closely (a phase per subject, thousands of them) start without a wake-up. */
#define TP__SPIN_WHILE(cond)                                                                    \
    do {                                                                                        \
        int spin_;                                                                              \
        for (spin_ = 0; spin_ < 25000 && (cond); spin_++) TP__PAUSE();                          \
    } while (0)
#else
#define TP__LOAD(p) (*(p))
#define TP__STORE(p, v) (*(p) = (v))
#define TP__SPIN_WHILE(cond) ((void)0)
#endif

static size_t tp__team_take(tp_team *t)
{
#if defined(TP__ATOMICS)
    return TP__FETCH_ADD(&t->next, (size_t)1);
#else
    size_t i;
    pthread_mutex_lock(&t->mu);
    i = t->next++;
    pthread_mutex_unlock(&t->mu);
    return i;
#endif
}

static void tp__team_items(tp_team *t, int worker)
{
    size_t i;
    while ((i = tp__team_take(t)) < t->n_items) t->fn(t->user, worker, i);
}

static void *tp__worker_main(void *arg)
{
    tp__worker_arg *a = (tp__worker_arg *)arg;
    tp_team *t = a->team;
    unsigned long seen = 0;
    for (;;) {
        TP__SPIN_WHILE(TP__LOAD(&t->round) == seen && !TP__LOAD(&t->quit));
        pthread_mutex_lock(&t->mu);
        while (t->round == seen && !t->quit) pthread_cond_wait(&t->go, &t->mu);
        if (t->quit) {
            pthread_mutex_unlock(&t->mu);
            return NULL;
        }
        seen = t->round;
        pthread_mutex_unlock(&t->mu);
        tp__team_items(t, a->id);
        pthread_mutex_lock(&t->mu);
        TP__STORE(&t->busy, t->busy - 1);
        if (t->busy == 0) pthread_cond_signal(&t->done);
        pthread_mutex_unlock(&t->mu);
    }
}

static int tp__team_sync_init(tp_team *t)
{
    if (pthread_mutex_init(&t->mu, NULL) != 0) return 0;
    if (pthread_mutex_init(&t->user_mu, NULL) != 0) goto mu;
    if (pthread_cond_init(&t->go, NULL) != 0) goto user_mu;
    if (pthread_cond_init(&t->done, NULL) != 0) goto go;
    if (pthread_cond_init(&t->turn, NULL) != 0) goto done;
    return t->sync = 1;
done:
    pthread_cond_destroy(&t->done);
go:
    pthread_cond_destroy(&t->go);
user_mu:
    pthread_mutex_destroy(&t->user_mu);
mu:
    pthread_mutex_destroy(&t->mu);
    return 0;
}
#endif

#ifndef TP_THREAD_CREATE
#define TP_THREAD_CREATE(thread, fn, arg) pthread_create((thread), NULL, (fn), (arg))
#endif

TPDEF size_t tp_team_bytes(int n_threads)
{
    (void)n_threads; /* room for TP_MAX_THREADS whatever the count: one size, one class */
    return sizeof(struct tp_team);
}

static void tp__team_free(tp_team *t)
{
    if (t->pool) tp_free(t->pool, t);
    else free(t);
}

TPDEF tp_result tp_team_create(const tp_team_desc *desc, tp_team **out, tp_error *err)
{
    tp_team_desc d;
    tp_team *t;
    int n;
    if (!out) return tp_error_set(err, TP_ERR_ARG, "tp_team_create: out is NULL");
    *out = NULL;
    if (desc) d = *desc; else memset(&d, 0, sizeof d);
    if (d.n_threads < 0 || d.n_threads > TP_MAX_THREADS)
        return tp_error_set(err, TP_ERR_ARG, "tp_team_create: n_threads must lie in 0 .. %d (0 = the usable CPUs), got %d",
                            TP_MAX_THREADS, d.n_threads);
    n = tp_thread_count(d.n_threads);
    if (!d.log.fn && d.pool) d.log = d.pool->desc.log;
    if (d.pool) {
        tp_error e;
        t = (tp_team *)tp_alloc_at(d.pool, sizeof *t, TP_ZERO, __FILE__, __LINE__, &e);
        if (!t) return tp_error_set(err, e.code, "tp_team_create: %s", e.message);
    } else if (!(t = (tp_team *)calloc(1, sizeof *t))) {
        return tp_error_set(err, TP_ERR_NOMEM, "tp_team_create: no memory for the team");
    }
    t->pool = d.pool;
    t->n = 1;
#if defined(TP__THREADS)
    if (n > 1) {
        int i, rc = 0;
        if (!tp__team_sync_init(t)) {
            tp__team_free(t);
            return tp_error_set(err, TP_ERR_THREAD, "tp_team_create: could not make a mutex or condition variable");
        }
        for (i = 1; i < n; i++) {
            t->arg[i].team = t, t->arg[i].id = i;
            if ((rc = TP_THREAD_CREATE(&t->th[i], tp__worker_main, &t->arg[i])) != 0) break;
        }
        t->n = i;
        if (i < n)
            tp_log(&d.log, TP_LOG_WARN, "tensorpool: %d of a team's %d worker threads could not start (%s): it runs on %d "
                   "thread%s, not %d", n - i, n - 1, strerror(rc), i, i > 1 ? "s" : "", n);
    }
#else
    if (n > 1)
        tp_log(&d.log, TP_LOG_WARN, "tensorpool: built without threads (TP_NO_THREADS or no POSIX threads): a team "
               "of %d runs on the calling thread alone", n);
#endif
    *out = t;
    tp_error_clear(err);
    return TP_OK;
}

TPDEF void tp_team_destroy(tp_team *team)
{
    if (!team) return;
#if defined(TP__THREADS)
    if (team->sync) {
        int i;
        pthread_mutex_lock(&team->mu);
        TP__STORE(&team->quit, 1);
        pthread_cond_broadcast(&team->go);
        pthread_mutex_unlock(&team->mu);
        for (i = 1; i < team->n; i++) pthread_join(team->th[i], NULL);
        pthread_cond_destroy(&team->turn);
        pthread_cond_destroy(&team->done);
        pthread_cond_destroy(&team->go);
        pthread_mutex_destroy(&team->user_mu);
        pthread_mutex_destroy(&team->mu);
    }
#endif
    tp__team_free(team);
}

TPDEF int tp_team_size(const tp_team *team) { return team ? team->n : 1; }

TPDEF void tp_team_for(tp_team *team, size_t n_items, tp_task_fn fn, void *user)
{
    size_t i;
#if defined(TP__THREADS)
    if (team && team->n > 1) {
        pthread_mutex_lock(&team->mu);
        team->ordered = 0;
        if (n_items > 1) {
            team->fn = fn, team->user = user, team->n_items = n_items, team->next = 0;
            TP__STORE(&team->busy, team->n - 1);
            TP__STORE(&team->round, team->round + 1);
            pthread_cond_broadcast(&team->go);
        }
        pthread_mutex_unlock(&team->mu);
        if (n_items > 1) {
            tp__team_items(team, 0);
            TP__SPIN_WHILE(TP__LOAD(&team->busy) != 0);
            pthread_mutex_lock(&team->mu);
            while (team->busy) pthread_cond_wait(&team->done, &team->mu);
            pthread_mutex_unlock(&team->mu);
            return;
        }
    }
#endif
    (void)team;
    for (i = 0; i < n_items; i++) fn(user, 0, i);
}

TPDEF void tp_team_ordered_begin(tp_team *team, size_t item)
{
#if defined(TP__THREADS)
    if (!team || team->n < 2) return;
    pthread_mutex_lock(&team->mu);
    while (team->ordered != item) pthread_cond_wait(&team->turn, &team->mu);
    pthread_mutex_unlock(&team->mu);
#else
    (void)team, (void)item;
#endif
}

TPDEF void tp_team_ordered_end(tp_team *team, size_t item)
{
#if defined(TP__THREADS)
    if (!team || team->n < 2) return;
    pthread_mutex_lock(&team->mu);
    team->ordered = item + 1;
    pthread_cond_broadcast(&team->turn);
    pthread_mutex_unlock(&team->mu);
#else
    (void)team, (void)item;
#endif
}

TPDEF void tp_team_lock(tp_team *team)
{
#if defined(TP__THREADS)
    if (team && team->n > 1) pthread_mutex_lock(&team->user_mu);
#else
    (void)team;
#endif
}

TPDEF void tp_team_unlock(tp_team *team)
{
#if defined(TP__THREADS)
    if (team && team->n > 1) pthread_mutex_unlock(&team->user_mu);
#else
    (void)team;
#endif
}

#endif /* TENSORPOOL_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
MIT License

Copyright (c) 2026 the tensorpool authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
