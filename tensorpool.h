/* tensorpool.h 0.1.0 - a pool allocator for numeric buffers that come back - MIT license (end of file)

   Do this:
       #define TENSORPOOL_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the implementation.

   CONTENTS
       1. Why            5. Statistics and frames      9. Costs and thread safety
       2. Quick start    6. Budget, AUTO and spill    10. What it does NOT do
       3. Options        7. Errors and debugging      11. API
       4. Memory model   8. Allocator hooks

   1. WHY
   Numeric codes allocate the same large buffers again and again. On Linux every fresh large
   allocation is an mmap whose pages fault in on first touch (about 2 us per 4 KiB page on the
   machine this was written on: 33 ms to touch a fresh 64 MiB buffer, 0.5 ms to touch it again),
   and when memory runs out the process is OOM-killed instead of degrading. tensorpool keeps freed
   buffers (and their already-faulted pages) for reuse, never holds more than the program once
   needed at one time, refuses cleanly when a budget would be exceeded, and can back huge buffers
   with a disk file instead of failing.

   2. QUICK START
       tp_pool *pool = tp_create(NULL, NULL);           // defaults: unlimited, thread-safe
       float *x = (float *)tp_alloc(pool, n * sizeof(float));   // 64-byte aligned, or NULL
       ...
       tp_free(pool, x);                                // the pages stay for the next tp_alloc
       tp_destroy(pool);

   3. COMPILE-TIME OPTIONS (define before including; "impl" = only where the implementation is built)
       TP_NO_THREADS     impl     no locking: one thread per pool (embedded, single-threaded codes)
       TP_DEBUG          global   debug checks on by default (desc.debug), and tp_alloc & co. record
                                  __FILE__/__LINE__ for the leak report; per TU, no layout change
       TP_ASSERT(x)      impl     internal consistency asserts (default: none)
       TP_STATIC         global   make every function static (private copy per TU)
       TP_NO_MMAP        impl     never map memory directly: every block comes from malloc/hooks
       TPDEF             global   linkage of the public functions (default: extern)

   4. MEMORY MODEL
   - Every block is 64-byte aligned and carries a 64-byte header just before it.
   - Small blocks (below 256 KiB) are rounded up to size classes, four per power of two (64, 80,
     96, 112, 128, 160, ...), so a block wastes less than 25 % of the request; freed blocks wait on
     a per-class list and are reused LIFO.
   - Large blocks are page-rounded private anonymous maps. Freed large blocks become "chunks" of
     already-faulted pages. A request is served by the best-fitting chunk (split when the rest is
     at least a quarter of the block, capped at 1 MiB, or 64 KiB; a shorter rest stays with the
     block); on Linux, when no single chunk is large enough, the pages of several chunks
     are moved with mremap into one new contiguous range, so only the part the cache cannot cover
     is fresh memory. Moving 64 MiB of pages costs ~0.05-0.1 ms against ~33 ms to fault them anew.
   - High-water rule: the pool keeps cached bytes <= max(4 MiB, (highest live bytes ever) - (live
     bytes now)), so live + cached never exceeds what the program itself once held at one time by
     more than 4 MiB. On top of that, desc.max_cached_bytes caps the cache absolutely, and the
     budget caps live + cached.
   - Contents of a reused block are undefined (tp_alloc_zeroed / TP_ZERO for zeros).

   5. STATISTICS AND FRAMES
   tp_get_stats: counts (allocs = hits + misses; failures are counted apart), bytes live / cached /
   reserved (live + cached = reserved) / spilled, their peaks, OS maps and unmaps. A hit is an
   allocation served wholly from the cache; a miss needed fresh memory (bytes_fresh counts it).
   tp_mark / tp_release_to free every block allocated after the mark (in reverse order), e.g. all
   temporaries of a phase. Blocks allocated after the mark by other threads are freed too.

   6. BUDGET, AUTO AND SPILL
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

   7. ERRORS AND DEBUGGING
   Functions return tp_result (0 = TP_OK, negative = error) or NULL plus the result through an
   optional out-parameter; tp_last_error copies the latest failure's message. Nothing is printed:
   install desc.log to receive messages (failures, warnings, leak reports).
   desc.debug (or TP_DEBUG): freed blocks are poisoned with 0xDD and checked when reused (a write
   after free is reported), every tp_free is looked up (double free -> TP_ERR_DOUBLE_FREE, pointer
   from elsewhere -> TP_ERR_FOREIGN, nothing freed), and tp_destroy reports each leaked block with
   the file:line of its allocation. Without debug, tp_free checks the header's magic and state
   (catches double frees of cached blocks) but trusts that the pointer came from some pool.
   Built with AddressSanitizer (-fsanitize=address, gcc or clang), the pool marks for it a live
   block's bytes past the request and every cached byte as out of bounds, so ASan stops a read
   or write past a buffer's end (into the slack of its size class) and any use of a buffer after
   tp_free, which would otherwise land in memory the pool still holds; tp_usable_size then
   returns the request itself. TP_POISON and TP_UNPOISON let a caller that carves one block into
   regions mark the gaps between them (no-ops without ASan).

   8. ALLOCATOR HOOKS
   desc.allocator = {alloc, free, user}: all or none (tp_create fails with TP_ERR_ARG otherwise).
   With hooks every byte the pool holds, its own bookkeeping included, comes from them (no direct
   mmap), so they also serve to inject failures in tests. free receives the size given to alloc.

   9. COSTS AND THREAD SAFETY
   All functions taking a pool are thread-safe unless TP_NO_THREADS or desc.single_thread; one
   short spin lock per call. Measured on a 2-core Xeon VM (bench/RESULTS.md): a small-block
   tp_alloc + tp_free pair that hits the cache takes ~40 ns (~24 ns in a single_thread pool, whose
   calls take no lock); two threads hammering one pool take ~600 ns a pair, because the lock and
   the counters bounce between the cores: give each thread its own single_thread pool for
   thread-private temporaries. Large-block hit: O(chunks <= 64), no system call. A miss: malloc,
   or mmap plus mremap calls, with the lock held (spill: file creation and block reservation
   too). tp_free: O(1) (plus munmap when the cache must shrink). Page faults happen in the caller
   when it touches fresh memory, never under the lock. tp_trim, tp_destroy: O(cached blocks).
   tp_get_stats: O(1). tp_create and tp_destroy of a pool must not race with other calls on it.

   10. WHAT IT DOES NOT DO
   No realloc, no per-thread caches inside one pool (use a single_thread pool per thread), no NUMA
   placement, no explicit huge pages (only the transparent-huge-page advice), no Windows
   VirtualAlloc path (there it falls back to malloc and has no spill).

   11. API: see the declarations below; each states its contract.
*/
#ifndef TENSORPOOL_H
#define TENSORPOOL_H

#include <stddef.h>
#include <stdint.h>

#define TP_VERSION_MAJOR 0
#define TP_VERSION_MINOR 1
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

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tp_result {
    TP_OK = 0,
    TP_ERR_ARG = -1,         /* a bad argument (NULL pool, conflicting options, ...) */
    TP_ERR_OVERFLOW = -2,    /* a size computation overflowed */
    TP_ERR_NOMEM = -3,       /* the system or the allocator hook refused memory */
    TP_ERR_BUDGET = -4,      /* the live bytes would exceed the budget (and no spill applied) */
    TP_ERR_IO = -5,          /* spill file could not be created, sized or mapped */
    TP_ERR_DOUBLE_FREE = -6, /* tp_free of a block already freed */
    TP_ERR_FOREIGN = -7,     /* tp_free of a pointer this pool never returned */
    TP_ERR_UNSUPPORTED = -8  /* the feature is not available in this build or platform */
} tp_result;

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

enum { TP_LOG_ERROR = 0, TP_LOG_WARN = 1, TP_LOG_INFO = 2 };
typedef void (*tp_log_fn)(void *user, int level, const char *message);

typedef struct tp_allocator {
    void *(*alloc)(size_t bytes, void *user); /* may return any alignment; NULL = failure */
    void (*free)(void *ptr, size_t bytes, void *user);
    void *user;
} tp_allocator;

/* Zero-initialise and set what you need: every zero field means the default in brackets.
   tp_get_desc returns the resolved values. */
typedef struct tp_desc {
    size_t budget_bytes;     /* cap on live + cached bytes [0 = unlimited]; TP_BUDGET_AUTO */
    double budget_fraction;  /* share of the usable memory for TP_BUDGET_AUTO [0.8] */
    size_t max_cached_bytes; /* absolute cap on cached bytes [0 = only the high-water rule] */
    const char *spill_dir;   /* directory for spill files [NULL = never spill]; copied */
    size_t spill_threshold;  /* smallest request that may spill [1 MiB] */
    int debug;               /* 1 = checks on, -1 = off [0 = on if TP_DEBUG, else off] */
    int huge_pages;          /* 1 = ask for transparent huge pages on page blocks >= 4 MiB, -1 = never [1] */
    int single_thread;       /* 1 = the caller promises one thread at a time: no locking [0] */
    tp_allocator allocator;  /* hooks, all or none [malloc/free and mmap] */
    tp_log_fn log;           /* receives errors, warnings, leak reports [NULL = silent] */
    void *log_user;
} tp_desc;

typedef struct tp_stats {
    uint64_t allocs;       /* successful allocations = hits + misses */
    uint64_t hits;         /* served wholly from cached memory */
    uint64_t misses;       /* needed fresh memory (spills included) */
    uint64_t frees;
    uint64_t failures;     /* refused allocations (budget, memory, I/O, arguments) */
    uint64_t spills;       /* allocations backed by a spill file */
    uint64_t os_maps;      /* mmap/mremap/malloc calls that obtained memory */
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

typedef struct tp_pool tp_pool;

/* Creates a pool. desc may be NULL (all defaults). On failure returns NULL and, when result is
   not NULL, the reason (TP_ERR_ARG for half-set hooks or a negative/over-1 budget_fraction,
   TP_ERR_NOMEM, TP_ERR_IO when TP_BUDGET_AUTO cannot read any memory figure). */
TPDEF tp_pool *tp_create(const tp_desc *desc, tp_result *result);
/* Frees everything the pool holds, live blocks included (reported as leaks in debug mode). */
TPDEF void tp_destroy(tp_pool *pool);

/* 64-byte aligned block of at least `bytes` (0 is allowed and gives a unique block), or NULL.
   tp_alloc_zeroed fills its first `bytes` with zeros. Thread-safe. */
TPDEF void *tp_alloc(tp_pool *pool, size_t bytes);
TPDEF void *tp_alloc_zeroed(tp_pool *pool, size_t bytes);
/* flags: TP_ZERO, TP_SPILL (back with a spill file now), TP_NO_SPILL (never spill this one). */
TPDEF void *tp_alloc_flags(tp_pool *pool, size_t bytes, unsigned flags);
/* The full form: file/line (may be NULL/0) label the block for the leak report; *result (may be
   NULL) receives TP_OK or the reason of a NULL return. */
TPDEF void *tp_alloc_at(tp_pool *pool, size_t bytes, unsigned flags, const char *file, int line,
                        tp_result *result);
/* Returns a block to the pool; NULL is a no-op returning TP_OK. TP_ERR_DOUBLE_FREE or
   TP_ERR_FOREIGN (nothing is freed then) when the checks of section 7 catch a bad pointer. */
TPDEF tp_result tp_free(tp_pool *pool, void *ptr);
/* Usable size of a live block (>= the request; the request itself under AddressSanitizer,
   section 7), 0 for NULL. */
TPDEF size_t tp_usable_size(tp_pool *pool, const void *ptr);

/* Gives every cached byte back to the OS; returns how many bytes were released. */
TPDEF size_t tp_trim(tp_pool *pool);
/* A consistent snapshot of the counters (section 5), taken under the lock. */
TPDEF tp_stats tp_get_stats(tp_pool *pool);
/* Sets every peak to the current value, to measure the peak of one phase. */
TPDEF void tp_reset_peak(tp_pool *pool);
/* The desc as resolved at create time: defaults filled in, TP_BUDGET_AUTO turned into bytes,
   spill_dir pointing at the pool's own copy. No lock needed: it never changes. */
TPDEF tp_desc tp_get_desc(const tp_pool *pool);

/* Marks the current point in the allocation order, for tp_release_to. */
TPDEF tp_frame tp_mark(tp_pool *pool);
/* Frees all live blocks allocated after `mark`; returns TP_OK or TP_ERR_ARG. */
TPDEF tp_result tp_release_to(tp_pool *pool, tp_frame mark);

/* Calls fn for every live block (oldest first) under the pool lock: do not call the pool from fn.
   Returns the number of live blocks. fn may be NULL (just count). */
typedef void (*tp_block_fn)(void *user, const void *ptr, size_t bytes, const char *file, int line);
TPDEF size_t tp_live_blocks(tp_pool *pool, tp_block_fn fn, void *user);

/* Copies the message of the latest failure into buf (NUL-terminated, truncated to cap) and
   returns its code (TP_OK and "" when nothing failed yet). With several threads it is whichever
   failed last; tp_alloc_at's result and the log callback are exact. */
TPDEF tp_result tp_last_error(tp_pool *pool, char *buf, size_t cap);
TPDEF const char *tp_result_string(tp_result result);

/* How much memory this process may use. root is the file-system root to read proc/ and sys/
   under (NULL = "/"; tests point it at a fake tree). Returns TP_ERR_IO if nothing was readable. */
TPDEF tp_result tp_query_memory(tp_memory_info *info, const char *root);

/* "tensorpool 0.1.0 threads mmap mremap spill" - what this build uses. */
TPDEF const char *tp_build_info(void);

/* Overflow-checked size arithmetic for callers (every header of the collection uses these):
   return 1 and store the result, or return 0 (and store 0) on overflow. */
TPDEF int tp_size_mul(size_t a, size_t b, size_t *out);
TPDEF int tp_size_add(size_t a, size_t b, size_t *out);

#ifdef __cplusplus
}
#endif

/* With TP_DEBUG, allocations made from this TU record where they were made. */
#if defined(TP_DEBUG) && !defined(TP_NO_CALLSITE)
#define tp_alloc(pool, bytes) tp_alloc_at((pool), (bytes), 0u, __FILE__, __LINE__, NULL)
#define tp_alloc_zeroed(pool, bytes) tp_alloc_at((pool), (bytes), TP_ZERO, __FILE__, __LINE__, NULL)
#define tp_alloc_flags(pool, bytes, flags) tp_alloc_at((pool), (bytes), (flags), __FILE__, __LINE__, NULL)
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
#include <errno.h>

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

#if defined(TP__POSIX) && defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200112L
#define TP__POSIX2001 1 /* ftruncate, posix_fallocate are declared */
#endif

#ifndef TP_NO_THREADS
#if defined(__GNUC__) || defined(__clang__)
#define TP__SPINLOCK 1
#if defined(TP__POSIX)
#include <sched.h>
#endif
#else
#include <pthread.h>
#endif
#endif

#ifndef TP_ASSERT
#define TP_ASSERT(x) ((void)0)
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
#define TP__MSG 512

enum { TP__SMALL = 1, TP__PAGES = 2, TP__SPILLED = 3 };
enum { TP__LIVE = 1, TP__CACHED = 2 };

typedef struct tp__hdr {
    uint32_t magic;
    uint8_t kind, state, cls, unused;
    uint32_t raw_off; /* header - start of the raw allocation (small blocks) */
    int32_t line;
    size_t size;      /* usable bytes after the header */
    size_t req;       /* bytes asked for */
    uint64_t seq;     /* allocation order, for frames */
    const char *file;
    struct tp__hdr *prev, *next; /* live list, or class free list (next only) */
} tp__hdr;

typedef char tp__hdr_fits[(sizeof(tp__hdr) <= TP__HDR) ? 1 : -1];

typedef struct tp__chunk { char *addr; size_t len; } tp__chunk;

struct tp_pool {
    tp_desc desc;               /* resolved; read-only after tp_create */
    char *spill_dir;            /* owned copy */
    size_t page;
    /* The lock gets a cache line of its own: the read-only fields above stay shared between cores
       while the lock and the mutable state below bounce. */
    char pad_before_lock[64];
#if defined(TP__SPINLOCK)
    int lock;
#elif !defined(TP_NO_THREADS)
    pthread_mutex_t lock;
#endif
    char pad_after_lock[64];
    tp__hdr *free_small[TP__NCLASS];
    tp__chunk chunks[TP__MAX_CHUNKS];
    int n_chunks;
    tp__hdr *live_head, *live_tail;
    uint64_t seq;
    size_t high_water;          /* highest bytes_live ever: bounds live + cached */
    size_t cache_floor;         /* min(slack, max_cached_bytes): a smaller cache needs no check */
    tp_stats st;
    uint64_t spill_counter;
    /* debug: open-addressing set of every block the pool holds (live or cached) */
    void **dbg_set;
    size_t dbg_cap, dbg_used, dbg_tomb;
    tp_result last_result;
    char last_msg[TP__MSG];
};

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

#if defined(TP__SPINLOCK)
/* Test-and-test-and-set: critical sections are a few dozen instructions, except misses that map
   memory; after a while of spinning the waiter yields the core. */
static void tp__lock_contended(tp_pool *p)
{
    int spins = 0;
    do {
        while (__atomic_load_n(&p->lock, __ATOMIC_RELAXED)) {
            if (++spins < 2000) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
#if defined(TP__POSIX)
                sched_yield();
#endif
                spins = 0;
            }
        }
    } while (__atomic_exchange_n(&p->lock, 1, __ATOMIC_ACQUIRE));
}
#endif

static void tp__lock(tp_pool *p)
{
    if (p->desc.single_thread) return;
#if defined(TP__SPINLOCK)
    if (__atomic_exchange_n(&p->lock, 1, __ATOMIC_ACQUIRE)) tp__lock_contended(p);
#elif !defined(TP_NO_THREADS)
    pthread_mutex_lock(&p->lock);
#endif
}

static void tp__unlock(tp_pool *p)
{
    if (p->desc.single_thread) return;
#if defined(TP__SPINLOCK)
    __atomic_store_n(&p->lock, 0, __ATOMIC_RELEASE);
#elif !defined(TP_NO_THREADS)
    pthread_mutex_unlock(&p->lock);
#endif
}

static void tp__log(const tp_pool *p, int level, const char *msg)
{
    if (p->desc.log) p->desc.log(p->desc.log_user, level, msg);
}

/* Copies a string, truncated to fit cap bytes with its terminator. */
static void tp__copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (!cap) return;
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Records a failure (under the lock) and forwards it to the log. */
static tp_result tp__fail(tp_pool *p, tp_result r, const char *msg)
{
    p->last_result = r;
    tp__copy_str(p->last_msg, TP__MSG, msg);
    tp__log(p, TP_LOG_ERROR, msg);
    return r;
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

static char *tp__user(tp__hdr *h) { return (char *)h + TP__HDR; }

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

static void tp__live_link(tp_pool *p, tp__hdr *h)
{
    h->state = TP__LIVE;
    h->seq = ++p->seq;
    h->next = NULL;
    h->prev = p->live_tail;
    if (p->live_tail) p->live_tail->next = h; else p->live_head = h;
    p->live_tail = h;
    p->st.live_blocks++;
}

static void tp__live_unlink(tp_pool *p, tp__hdr *h)
{
    TP_ASSERT(h->state == TP__LIVE && p->st.live_blocks > 0);
    if (h->prev) h->prev->next = h->next; else p->live_head = h->next;
    if (h->next) h->next->prev = h->prev; else p->live_tail = h->prev;
    h->prev = h->next = NULL;
    p->st.live_blocks--;
}

/* Would `need` more live bytes stay within the budget? (Cache is dropped later as needed.) */
static int tp__fits_budget(const tp_pool *p, size_t need)
{
    size_t budget = p->desc.budget_bytes;
    return !budget || (need <= budget && p->st.bytes_live <= budget - need);
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

static int tp__dbg_grow(tp_pool *p)
{
    size_t cap = p->dbg_cap ? p->dbg_cap * 2 : 256, i, j, bytes;
    void **old = p->dbg_set, **nw;
    if (!tp_size_mul(cap, sizeof(void *), &bytes)) return 0;
    nw = (void **)tp__raw_alloc(&p->desc.allocator, bytes);
    if (!nw) return 0;
    memset(nw, 0, bytes);
    for (i = 0; i < p->dbg_cap; i++) {
        if (!old[i] || old[i] == TP__TOMB) continue;
        j = tp__hash(old[i], cap);
        while (nw[j]) j = (j + 1) & (cap - 1);
        nw[j] = old[i];
    }
    tp__raw_free(&p->desc.allocator, old, p->dbg_cap * sizeof(void *));
    p->dbg_set = nw;
    p->dbg_cap = cap;
    p->dbg_tomb = 0;
    return 1;
}

/* Ensures room for one more entry, so that inserting afterwards cannot fail. */
static int tp__dbg_reserve(tp_pool *p)
{
    if (!p->desc.debug) return 1;
    if ((p->dbg_used + p->dbg_tomb + 1) * 4 < p->dbg_cap * 3) return 1;
    return tp__dbg_grow(p);
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

static void tp__check_poison(tp_pool *p, tp__hdr *h)
{
    const unsigned char *u = (const unsigned char *)tp__user(h);
    size_t i;
    char msg[TP__MSG];
    TP_UNPOISON(u, h->size);
    for (i = 0; i < h->size; i++) {
        if (u[i] == 0xDD) continue;
        snprintf(msg, sizeof msg, "tensorpool: write after free at byte %llu of a %llu-byte block "
                 "(last allocated at %s:%d)", (unsigned long long)i, (unsigned long long)h->size,
                 h->file ? h->file : "?", (int)h->line);
        tp__log(p, TP_LOG_ERROR, msg);
        return;
    }
}

/* ---- >>system memory --------------------------------------------------------------------------- */

static void tp__unmap(tp_pool *p, void *addr, size_t len)
{
    TP_UNPOISON(addr, len); /* the shadow outlives the map: the next map there starts clean */
#if defined(TP__FILEMAP)
    munmap(addr, len);
#else
    (void)addr; (void)len;
#endif
    p->st.os_unmaps++;
}

static void *tp__map(tp_pool *p, size_t len)
{
#if defined(TP__MMAP)
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | TP__MAP_ANON, -1, 0);
    if (m == MAP_FAILED) return NULL;
    p->st.os_maps++;
#if defined(MADV_HUGEPAGE)
    /* One fault and one TLB entry per 2 MiB instead of 512: first touch of big buffers gets ~5x
       cheaper. Advice only: the kernel may decline (THP "never"), nothing changes then. */
    if (p->desc.huge_pages && len >= TP__HUGE_MIN) madvise(m, len, MADV_HUGEPAGE);
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

/* ---- >>cache ------------------------------------------------------------------------------------ */

static void tp__drop_small(tp_pool *p, tp__hdr *h)
{
    size_t raw_len = TP__HDR + h->size + TP__ALIGN - 1;
    tp__dbg_remove(p, tp__user(h));
    p->st.bytes_cached -= h->size;
    TP_UNPOISON(tp__user(h), h->size);
    tp__raw_free(&p->desc.allocator, (char *)h - h->raw_off, raw_len);
    p->st.os_unmaps++;
}

static void tp__chunk_remove(tp_pool *p, int i)
{
    TP_ASSERT(i >= 0 && i < p->n_chunks);
    p->chunks[i] = p->chunks[--p->n_chunks];
}

/* Gives back cached memory until bytes_cached <= target: large chunks first (their tails can be
   unmapped to the exact byte count), then small blocks from the largest class down. */
static void tp__shrink_cache(tp_pool *p, size_t target)
{
    int c;
    while (p->st.bytes_cached > target && p->n_chunks > 0) {
        size_t excess = p->st.bytes_cached - target;
        tp__chunk *ch = &p->chunks[p->n_chunks - 1];
        size_t cut = tp__round_up(excess, p->page);
        if (cut + TP__MIN_CHUNK > ch->len) cut = ch->len;
        tp__unmap(p, ch->addr + ch->len - cut, cut);
        ch->len -= cut;
        p->st.bytes_cached -= cut;
        if (ch->len == 0) p->n_chunks--;
    }
    for (c = TP__NCLASS - 1; c >= 0 && p->st.bytes_cached > target; c--) {
        while (p->free_small[c] && p->st.bytes_cached > target) {
            tp__hdr *h = p->free_small[c];
            p->free_small[c] = h->next;
            tp__drop_small(p, h);
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

static void tp__enforce_cache_limit(tp_pool *p)
{
    size_t lim = tp__cache_limit(p);
    if (p->st.bytes_cached > lim) tp__shrink_cache(p, lim);
}

/* Keeps a freed page block as a chunk; when the table is full the smallest chunk goes. */
static void tp__chunk_add(tp_pool *p, char *addr, size_t len)
{
    int i, smallest = 0;
    if (p->n_chunks == TP__MAX_CHUNKS) {
        for (i = 1; i < p->n_chunks; i++)
            if (p->chunks[i].len < p->chunks[smallest].len) smallest = i;
        if (p->chunks[smallest].len >= len) {
            tp__unmap(p, addr, len);
            p->st.bytes_cached -= len;
            return;
        }
        tp__unmap(p, p->chunks[smallest].addr, p->chunks[smallest].len);
        p->st.bytes_cached -= p->chunks[smallest].len;
        tp__chunk_remove(p, smallest);
    }
    p->chunks[p->n_chunks].addr = addr;
    p->chunks[p->n_chunks].len = len;
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

#if defined(TP__MREMAP)
static int tp__chunk_largest(const tp_pool *p)
{
    int i, best = -1;
    for (i = 0; i < p->n_chunks; i++)
        if (best < 0 || p->chunks[i].len > p->chunks[best].len) best = i;
    return best;
}

/* Moves len bytes of already-faulted pages from src to dst. A range spanning several kernel
   mappings (a block that was itself assembled) cannot move in one call: split it in halves. */
static size_t tp__move_pages(tp_pool *p, char *src, char *dst, size_t len)
{
    size_t half;
    TP_UNPOISON(src, len);
    if (mremap(src, len, len, TP__MREMAP_FLAGS, dst) != MAP_FAILED) return len;
    if (len <= TP__MIN_CHUNK) return 0;
    half = tp__round_up(len / 2, p->page);
    if (tp__move_pages(p, src, dst, half) != half) return 0;
    return half + tp__move_pages(p, src + half, dst + half, len - half);
}
#endif

/* Fills the fresh map m (len bytes) with pages taken from the largest chunks; returns how many
   bytes were moved in. Chunks lose what they gave; a chunk left shorter than TP__MIN_CHUNK is
   unmapped. */
static size_t tp__recycle_into(tp_pool *p, char *m, size_t len)
{
    size_t done = 0;
#if defined(TP__MREMAP)
    int pieces = 0;
    while (done < len && pieces++ < TP__MAX_PIECES) {
        int i = tp__chunk_largest(p);
        tp__chunk *ch;
        size_t want, moved;
        if (i < 0) break;
        ch = &p->chunks[i];
        want = len - done < ch->len ? len - done : ch->len;
        moved = tp__move_pages(p, ch->addr, m + done, want);
        ch->addr += moved;
        ch->len -= moved;
        p->st.bytes_cached -= moved;
        done += moved;
        if (moved < want || ch->len < TP__MIN_CHUNK) {
            if (ch->len) tp__unmap(p, ch->addr, ch->len);
            p->st.bytes_cached -= ch->len;
            tp__chunk_remove(p, i);
            if (moved < want) break;
        }
    }
#else
    (void)p; (void)m; (void)len;
#endif
    return done;
}

/* ---- >>spill ------------------------------------------------------------------------------------ */

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

/* A map of len bytes backed by a new, already unlinked file in spill_dir, or NULL with *why. */
static void *tp__spill_map(tp_pool *p, size_t len, tp_result *why)
{
#if defined(TP__FILEMAP)
    char path[4096];
    int fd = -1, attempt;
    void *m;
    for (attempt = 0; attempt < 64 && fd < 0; attempt++) {
        int n = snprintf(path, sizeof path, "%s/tensorpool-%ld-%llu-%d.spill", p->spill_dir,
                         (long)getpid(), (unsigned long long)++p->spill_counter, attempt);
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
    p->st.os_maps++;
    return m;
#else
    (void)p; (void)len;
    *why = TP_ERR_UNSUPPORTED;
    return NULL;
#endif
}

/* ---- >>allocation -------------------------------------------------------------------------------- */

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

/* The hit path of class blocks (the only one), apart so that it stays a few dozen instructions:
   a hit moves a block from cache to live, so reserved bytes (and with them the budget) cannot
   change, and the block is already in the debug set. NULL when the class list is empty. */
static tp__hdr *tp__small_hit(tp_pool *p, size_t req)
{
    unsigned cls = tp__class_of(req);
    tp__hdr *h = p->free_small[cls];
    tp_stats *st = &p->st;
    if (!h) return NULL;
    p->free_small[cls] = h->next;
    if (p->desc.debug) tp__check_poison(p, h);
    h->req = req;
    st->bytes_cached -= h->size;
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

/* A new class block from malloc or the hook (hits never get here: tp__small_hit serves them). */
static tp__hdr *tp__alloc_small(tp_pool *p, size_t req)
{
    unsigned cls = tp__class_of(req);
    size_t size = tp__class_size(cls), raw_len;
    tp__hdr *h;
    char *raw;
    if (p->desc.budget_bytes) /* fresh bytes must fit beside live + cached */
        tp__shrink_cache(p, p->desc.budget_bytes - p->st.bytes_live - size);
    raw_len = TP__HDR + size + TP__ALIGN - 1;
    raw = (char *)tp__raw_alloc(&p->desc.allocator, raw_len);
    if (!raw) return NULL;
    p->st.os_maps++;
    p->st.bytes_fresh += size;
    h = tp__init_hdr(raw + ((TP__ALIGN - (uintptr_t)raw % TP__ALIGN) % TP__ALIGN), TP__SMALL, size, req);
    h->raw_off = (uint32_t)((char *)h - raw);
    h->cls = (uint8_t)cls;
    tp__dbg_insert(p, tp__user(h));
    return h;
}

/* *dirty receives how many leading user bytes may hold old data (the rest is fresh zero pages). */
static tp__hdr *tp__alloc_pages(tp_pool *p, size_t req, size_t len, int *hit, size_t *dirty)
{
    int i = tp__chunk_best_fit(p, len);
    char *m;
    size_t moved;
    tp__hdr *h;
    if (i >= 0) {
        tp__chunk *ch = &p->chunks[i];
        m = ch->addr;
        if (ch->len - len >= tp__min_rest(len)) {
            ch->addr += len;
            ch->len -= len;
        } else if (tp__fits_budget(p, ch->len)) { /* a tail too short to keep rides along */
            len = ch->len;
            tp__chunk_remove(p, i);
        } else { /* ... unless the budget is tight: then it goes back now */
            if (ch->len > len) tp__unmap(p, m + len, ch->len - len);
            p->st.bytes_cached -= ch->len - len;
            tp__chunk_remove(p, i);
        }
        p->st.bytes_cached -= len;
        *hit = 1;
        *dirty = len - TP__HDR;
        TP_UNPOISON(m, len);
        h = tp__init_hdr(m, TP__PAGES, len - TP__HDR, req);
        if (p->desc.debug) tp__check_poison(p, h);
    } else {
        m = (char *)tp__map(p, len);
        if (!m) return NULL;
        moved = tp__recycle_into(p, m, len);
        p->st.bytes_fresh += len - moved;
        *hit = 0;
        *dirty = moved > TP__HDR ? moved - TP__HDR : 0;
        h = tp__init_hdr(m, TP__PAGES, len - TP__HDR, req);
    }
    tp__dbg_insert(p, tp__user(h));
    return h;
}

static tp__hdr *tp__alloc_spill(tp_pool *p, size_t req, size_t total, tp_result *why)
{
    size_t len = tp__round_up(total, p->page);
    char *m = (char *)tp__spill_map(p, len, why);
    tp__hdr *h;
    if (!m) return NULL;
    h = tp__init_hdr(m, TP__SPILLED, len - TP__HDR, req);
    tp__dbg_insert(p, tp__user(h));
    p->st.bytes_fresh += len;
    p->st.bytes_spilled += h->size;
    p->st.spills++;
    return h;
}

static void tp__budget_message(tp_pool *p, size_t req, const char *file, int line)
{
    char msg[TP__MSG], where[128] = "";
    if (file) snprintf(where, sizeof where, " at %s:%d", file, line);
    snprintf(msg, sizeof msg, "tensorpool: over budget: asked for %llu bytes%s with %llu live and "
             "%llu cached (budget %llu); free buffers, raise the budget, or set spill_dir",
             (unsigned long long)req, where, (unsigned long long)p->st.bytes_live,
             (unsigned long long)p->st.bytes_cached, (unsigned long long)p->desc.budget_bytes);
    tp__fail(p, TP_ERR_BUDGET, msg);
}

static int tp__should_spill(const tp_pool *p, size_t req, unsigned flags, tp_result budget_ok)
{
    if (flags & TP_SPILL) return 1;
    if (flags & TP_NO_SPILL) return 0;
    return budget_ok == TP_ERR_BUDGET && p->spill_dir && req >= p->desc.spill_threshold;
}

/* The whole allocation under the lock; returns the header or NULL with *res set. */
static tp__hdr *tp__alloc_locked(tp_pool *p, size_t req, size_t total, unsigned flags,
                                 const char *file, int line, tp_result *res, size_t *dirty)
{
    int pages = tp__uses_pages(p, total), hit = 0;
    size_t len = pages ? tp__round_up(total, p->page) : tp__class_size(tp__class_of(req));
    tp_result room = tp__fits_budget(p, len) ? TP_OK : TP_ERR_BUDGET;
    tp__hdr *h = NULL;
    if (!tp__dbg_reserve(p)) { *res = tp__fail(p, TP_ERR_NOMEM, "tensorpool: out of memory for the debug table"); return NULL; }
    if (tp__should_spill(p, req, flags, room)) {
        if (!p->spill_dir) { *res = tp__fail(p, TP_ERR_ARG, "tensorpool: TP_SPILL needs desc.spill_dir"); return NULL; }
        h = tp__alloc_spill(p, req, total, res);
        if (!h) {
            *res = tp__fail(p, *res, *res == TP_ERR_UNSUPPORTED ? "tensorpool: spill needs mmap, which this build lacks"
                                                                : "tensorpool: could not create, size or map a spill file in spill_dir");
            return NULL;
        }
    } else if (room != TP_OK) {
        tp__budget_message(p, req, file, line);
        *res = TP_ERR_BUDGET;
        return NULL;
    } else {
        h = pages ? tp__alloc_pages(p, req, len, &hit, dirty) : tp__alloc_small(p, req);
        if (!h) { *res = tp__fail(p, TP_ERR_NOMEM, "tensorpool: the system (or allocator hook) refused memory"); return NULL; }
        if (!pages) *dirty = h->size;
        p->st.bytes_live += tp__footprint(h);
    }
    h->file = file;
    h->line = line;
    tp__live_link(p, h);
    p->st.allocs++;
    if (hit) p->st.hits++; else p->st.misses++;
    p->st.bytes_requested += req;
    tp__peaks(p);
    if (!hit) tp__enforce_cache_limit(p); /* a hit moves bytes from cache to live: limits hold */
    *res = TP_OK;
    return h;
}

TPDEF void *tp_alloc_at(tp_pool *pool, size_t bytes, unsigned flags, const char *file, int line,
                        tp_result *result)
{
    tp_result res = TP_OK;
    size_t total, dirty = 0;
    tp__hdr *h;
    if (!result) result = &res;
    if (!pool) { *result = TP_ERR_ARG; return NULL; }
    if (!tp_size_add(bytes, TP__HDR + pool->page, &total) || total > ((size_t)-1 >> 2)) {
        tp__lock(pool);
        pool->st.failures++;
        *result = tp__fail(pool, TP_ERR_OVERFLOW, "tensorpool: requested size overflows");
        tp__unlock(pool);
        return NULL;
    }
    total = bytes + TP__HDR;
    tp__lock(pool);
    h = NULL;
    if (!(flags & TP_SPILL) && !tp__uses_pages(pool, total)) h = tp__small_hit(pool, bytes);
    if (h) {
        h->file = file;
        h->line = line;
        dirty = h->size;
        *result = TP_OK;
    } else h = tp__alloc_locked(pool, bytes, total, flags, file, line, result, &dirty);
    if (!h) pool->st.failures++;
    tp__unlock(pool);
    if (!h) return NULL;
    TP_UNPOISON(tp__user(h), bytes);
    TP_POISON(tp__user(h) + bytes, h->size - bytes);
    if (flags & TP_ZERO) memset(tp__user(h), 0, dirty < bytes ? dirty : bytes); /* fresh maps are zero already */
    return tp__user(h);
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

/* Moves a live block to the cache (or back to the system); under the lock. */
static void tp__release(tp_pool *p, tp__hdr *h)
{
    TP_ASSERT(p->st.bytes_requested >= h->req);
    tp__live_unlink(p, h);
    p->st.frees++;
    p->st.bytes_requested -= h->req;
    h->state = TP__CACHED;
    if (h->kind == TP__SPILLED) {
        p->st.bytes_spilled -= h->size;
        tp__dbg_remove(p, tp__user(h));
        tp__unmap(p, h, h->size + TP__HDR);
        return;
    }
    p->st.bytes_live -= tp__footprint(h);
    p->st.bytes_cached += tp__footprint(h);
    TP_POISON(tp__user(h), h->size);
    if (h->kind == TP__SMALL) {
        h->next = p->free_small[h->cls];
        p->free_small[h->cls] = h;
    } else {
        tp__dbg_remove(p, tp__user(h)); /* chunks are anonymous pages, not blocks */
        tp__chunk_add(p, (char *)h, h->size + TP__HDR);
    }
    /* A free keeps live + cached, so the budget holds; only the cache caps can be crossed, and
       never while the cache is below both of them. */
    if (p->st.bytes_cached > p->cache_floor) tp__enforce_cache_limit(p);
}

/* Is ptr a live block of this pool? TP_OK, or why not. Under the lock. */
static tp_result tp__check_live(tp_pool *p, const void *ptr)
{
    tp__hdr *h;
    char msg[TP__MSG];
    if ((uintptr_t)ptr % TP__ALIGN != 0) {
        snprintf(msg, sizeof msg, "tensorpool: tp_free(%p): not a pointer returned by this pool", ptr);
        return tp__fail(p, TP_ERR_FOREIGN, msg);
    }
    if (p->desc.debug) {
        if (!p->dbg_cap || !tp__dbg_slot(p, ptr)) {
            snprintf(msg, sizeof msg, "tensorpool: tp_free(%p): not a live block of this pool "
                     "(foreign pointer, or a double free of a block since given back)", ptr);
            return tp__fail(p, TP_ERR_FOREIGN, msg);
        }
    }
    h = tp__hdr_of(ptr);
    if (h->magic != TP__MAGIC) {
        snprintf(msg, sizeof msg, "tensorpool: tp_free(%p): not a pointer returned by this pool", ptr);
        return tp__fail(p, TP_ERR_FOREIGN, msg);
    }
    if (h->state != TP__LIVE) {
        snprintf(msg, sizeof msg, "tensorpool: tp_free(%p): double free of a %llu-byte block "
                 "allocated at %s:%d", ptr, (unsigned long long)h->size, h->file ? h->file : "?", (int)h->line);
        return tp__fail(p, TP_ERR_DOUBLE_FREE, msg);
    }
    return TP_OK;
}

TPDEF tp_result tp_free(tp_pool *pool, void *ptr)
{
    tp_result r;
    tp__hdr *h;
    if (!ptr) return TP_OK;
    if (!pool) return TP_ERR_ARG;
    h = tp__hdr_of(ptr);
    tp__lock(pool);
    r = tp__check_live(pool, ptr);
    if (r == TP_OK && pool->desc.debug && h->kind != TP__SPILLED) {
        /* poison outside the lock would race with a concurrent double free; keep it simple */
        tp__poison(h);
    }
    if (r == TP_OK) tp__release(pool, h);
    tp__unlock(pool);
    return r;
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

static tp_result tp__resolve(tp_desc *d, const tp_desc *in)
{
    if (in) *d = *in; else memset(d, 0, sizeof *d);
    if ((d->allocator.alloc == NULL) != (d->allocator.free == NULL)) return TP_ERR_ARG;
    if (!(d->budget_fraction >= 0.0 && d->budget_fraction <= 1.0)) return TP_ERR_ARG;
    if (d->budget_fraction == 0.0) d->budget_fraction = 0.8;
    if (d->spill_threshold == 0) d->spill_threshold = (size_t)1 << 20;
    d->huge_pages = d->huge_pages >= 0 ? 1 : 0;
    d->single_thread = d->single_thread > 0;
    if (d->debug == 0) {
#ifdef TP_DEBUG
        d->debug = 1;
#else
        d->debug = -1;
#endif
    }
    d->debug = d->debug > 0;
    if (d->budget_bytes == TP_BUDGET_AUTO) {
        tp_memory_info mi;
        if (tp_query_memory(&mi, NULL) != TP_OK || mi.usable == 0) return TP_ERR_IO;
        d->budget_bytes = (size_t)((double)mi.usable * d->budget_fraction);
        if (d->budget_bytes == 0) d->budget_bytes = 1;
    }
    return TP_OK;
}

TPDEF tp_pool *tp_create(const tp_desc *desc, tp_result *result)
{
    tp_desc d;
    tp_pool *p;
    tp_result r = tp__resolve(&d, desc), dummy;
    if (!result) result = &dummy;
    if (r != TP_OK) { *result = r; return NULL; }
    p = (tp_pool *)tp__raw_alloc(&d.allocator, sizeof *p);
    if (!p) { *result = TP_ERR_NOMEM; return NULL; }
    memset(p, 0, sizeof *p);
    p->desc = d;
    p->page = tp__page_size();
    if (d.spill_dir) {
        size_t n = strlen(d.spill_dir) + 1;
        p->spill_dir = (char *)tp__raw_alloc(&d.allocator, n);
        if (!p->spill_dir) { tp__raw_free(&d.allocator, p, sizeof *p); *result = TP_ERR_NOMEM; return NULL; }
        memcpy(p->spill_dir, d.spill_dir, n);
        p->desc.spill_dir = p->spill_dir;
    }
#if !defined(TP__SPINLOCK) && !defined(TP_NO_THREADS)
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        tp__raw_free(&d.allocator, p->spill_dir, strlen(d.spill_dir ? d.spill_dir : "") + 1);
        tp__raw_free(&d.allocator, p, sizeof *p);
        *result = TP_ERR_NOMEM;
        return NULL;
    }
#endif
    p->st.budget = p->desc.budget_bytes;
    p->cache_floor = TP__CACHE_SLACK;
    if (d.max_cached_bytes && d.max_cached_bytes < p->cache_floor) p->cache_floor = d.max_cached_bytes;
    *result = TP_OK;
    return p;
}

static void tp__report_leak(void *user, const void *ptr, size_t bytes, const char *file, int line)
{
    tp_pool *p = (tp_pool *)user;
    char msg[TP__MSG];
    snprintf(msg, sizeof msg, "tensorpool: leak: %llu bytes at %p allocated at %s:%d",
             (unsigned long long)bytes, ptr, file ? file : "(unknown: build the caller with TP_DEBUG)", line);
    tp__log(p, TP_LOG_WARN, msg);
}

TPDEF void tp_destroy(tp_pool *pool)
{
    tp_allocator a;
    if (!pool) return;
    if (pool->desc.debug) tp_live_blocks(pool, tp__report_leak, pool);
    while (pool->live_tail) tp__release(pool, pool->live_tail);
    tp__shrink_cache(pool, 0);
    a = pool->desc.allocator;
    if (pool->dbg_set) tp__raw_free(&a, pool->dbg_set, pool->dbg_cap * sizeof(void *));
    if (pool->spill_dir) tp__raw_free(&a, pool->spill_dir, strlen(pool->spill_dir) + 1);
#if !defined(TP__SPINLOCK) && !defined(TP_NO_THREADS)
    pthread_mutex_destroy(&pool->lock);
#endif
    tp__raw_free(&a, pool, sizeof *pool);
}

TPDEF size_t tp_trim(tp_pool *pool)
{
    size_t before;
    if (!pool) return 0;
    tp__lock(pool);
    before = pool->st.bytes_cached;
    tp__shrink_cache(pool, 0);
    tp__unlock(pool);
    return before;
}

TPDEF tp_stats tp_get_stats(tp_pool *pool)
{
    tp_stats s;
    memset(&s, 0, sizeof s);
    if (!pool) return s;
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
    f.seq = pool->seq;
    tp__unlock(pool);
    return f;
}

TPDEF tp_result tp_release_to(tp_pool *pool, tp_frame mark)
{
    if (!pool) return TP_ERR_ARG;
    tp__lock(pool);
    if (mark.seq > pool->seq) { tp__unlock(pool); return TP_ERR_ARG; }
    while (pool->live_tail && pool->live_tail->seq > mark.seq) {
        tp__hdr *h = pool->live_tail;
        if (pool->desc.debug && h->kind != TP__SPILLED) tp__poison(h);
        tp__release(pool, h);
    }
    tp__unlock(pool);
    return TP_OK;
}

TPDEF size_t tp_live_blocks(tp_pool *pool, tp_block_fn fn, void *user)
{
    size_t n = 0;
    tp__hdr *h;
    if (!pool) return 0;
    tp__lock(pool);
    for (h = pool->live_head; h; h = h->next, n++)
        if (fn) fn(user, tp__user(h), h->req, h->file, (int)h->line);
    tp__unlock(pool);
    return n;
}

TPDEF tp_result tp_last_error(tp_pool *pool, char *buf, size_t cap)
{
    tp_result r;
    if (!pool) return TP_ERR_ARG;
    tp__lock(pool);
    r = pool->last_result;
    if (buf) tp__copy_str(buf, cap, pool->last_msg);
    tp__unlock(pool);
    return r;
}

TPDEF const char *tp_result_string(tp_result r)
{
    switch (r) {
    case TP_OK: return "ok";
    case TP_ERR_ARG: return "bad argument";
    case TP_ERR_OVERFLOW: return "size overflow";
    case TP_ERR_NOMEM: return "out of memory";
    case TP_ERR_BUDGET: return "over the memory budget";
    case TP_ERR_IO: return "I/O error (spill file or /proc, /sys)";
    case TP_ERR_DOUBLE_FREE: return "double free";
    case TP_ERR_FOREIGN: return "pointer not from this pool";
    case TP_ERR_UNSUPPORTED: return "not supported by this build";
    }
    return "unknown result";
}

TPDEF const char *tp_build_info(void)
{
    return "tensorpool 0.1.0"
#if defined(TP_NO_THREADS)
           " no-threads"
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

/* ---- >>memory query --------------------------------------------------------------------------- */

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

/* Walks from the process's cgroup up to the root of one hierarchy, keeping the tightest limit
   and the working set of the cgroup that sets it. */
static int tp__cgroup_limit(const char *root, const char *base, const char *cg, const char *limit_file,
                            const char *usage_file, const char *inactive_key, tp_memory_info *mi)
{
    char dir[1024], path[1200], stat[8192];
    int found = 0;
    if (strlen(cg) >= sizeof dir) return 0;
    strcpy(dir, cg);
    for (;;) {
        size_t lim, usage = 0, inactive = 0;
        char *slash;
        snprintf(path, sizeof path, "%s%s/%s", base, strcmp(dir, "/") == 0 ? "" : dir, limit_file);
        if (tp__read_limit(root, path, &lim) && (!found || lim < mi->cgroup_limit)) {
            snprintf(path, sizeof path, "%s%s/%s", base, strcmp(dir, "/") == 0 ? "" : dir, usage_file);
            tp__read_limit(root, path, &usage);
            snprintf(path, sizeof path, "%s%s/memory.stat", base, strcmp(dir, "/") == 0 ? "" : dir);
            if (tp__read_text(root, path, stat, sizeof stat) > 0) tp__find_value(stat, inactive_key, 1, &inactive);
            mi->cgroup_limit = lim;
            mi->cgroup_usage = usage > inactive ? usage - inactive : 0;
            found = 1;
        }
        slash = strrchr(dir, '/');
        if (!slash || strcmp(dir, "/") == 0 || dir[0] == 0) break;
        if (slash == dir) strcpy(dir, "/"); else *slash = 0;
    }
    return found;
}

TPDEF tp_result tp_query_memory(tp_memory_info *mi, const char *root)
{
    char buf[8192], cg[900];
    int any = 0;
    if (!mi) return TP_ERR_ARG;
    memset(mi, 0, sizeof *mi);
    if (!root) root = "";
    if (strcmp(root, "/") == 0) root = "";
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
    if (tp__cgroup_path(root, NULL, cg, sizeof cg) &&
        tp__cgroup_limit(root, "/sys/fs/cgroup", cg, "memory.max", "memory.current", "inactive_file", mi))
        mi->cgroup_version = 2;
    else if (tp__cgroup_path(root, "memory", cg, sizeof cg) &&
             tp__cgroup_limit(root, "/sys/fs/cgroup/memory", cg, "memory.limit_in_bytes",
                              "memory.usage_in_bytes", "total_inactive_file", mi))
        mi->cgroup_version = 1;
    mi->usable = mi->mem_available;
    if (mi->cgroup_version) {
        size_t room = mi->cgroup_limit > mi->cgroup_usage ? mi->cgroup_limit - mi->cgroup_usage : 0;
        if (!any || room < mi->usable) mi->usable = room;
        any = 1;
    }
    return any ? TP_OK : TP_ERR_IO;
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
