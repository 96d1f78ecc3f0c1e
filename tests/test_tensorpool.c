/* Tests for tensorpool.h: they show, rather than assume, each property the header promises. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* mkdtemp, MAP_ANONYMOUS under -std=c99 */
#endif
#include <stdio.h>
#include <stdlib.h>
/* The tests run with the header's internal invariants checked. */
#define TP_ASSERT(x) \
    do { if (!(x)) { fprintf(stderr, "TP_ASSERT failed: %s (%s:%d)\n", #x, __FILE__, __LINE__); abort(); } } while (0)
#include "thread_faults.h"
#define TENSORPOOL_IMPLEMENTATION
#include "../tensorpool.h"
#include "testkit.h"
#include "testlog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <dirent.h>
#include <signal.h>
#include <time.h>
#ifndef TP_NO_THREADS
#include <pthread.h>
#endif

#define MiB ((size_t)1 << 20)

/* ---- helpers ---------------------------------------------------------------------------------- */

/* A pool from desc (NULL = defaults), or NULL after saying why. */
static tp_pool *make_pool(const tp_desc *desc)
{
    tp_pool *pool = NULL;
    tp_error err;
    if (tp_create(desc, &pool, &err) != TP_OK) fprintf(stderr, "  tp_create: %s\n", err.message);
    return pool;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* log-uniform size in [lo, hi] */
static size_t rng_size(uint64_t *s, size_t lo, size_t hi)
{
    double u = (double)(rng_next(s) >> 11) / 9007199254740992.0;
    return (size_t)exp(log((double)lo) + u * (log((double)hi) - log((double)lo)));
}

static void fill(unsigned char *p, size_t n, unsigned tag)
{
    size_t i;
    for (i = 0; i < n; i += 61) p[i] = (unsigned char)(tag + i);
    if (n) p[n - 1] = (unsigned char)(tag * 7);
}

static int intact(const unsigned char *p, size_t n, unsigned tag)
{
    size_t i;
    for (i = 0; i < n; i += 61)
        if (i != n - 1 && p[i] != (unsigned char)(tag + i)) return 0;
    return n == 0 || p[n - 1] == (unsigned char)(tag * 7);
}

/* Features of this build, as tp_build_info reports them ("mmap", "mremap", "spill"). */
static int built_with(const char *word)
{
    return strstr(tp_build_info(), word) != NULL;
}

static int invariants_hold(tp_pool *pool)
{
    tp_stats s = tp_get_stats(pool);
    return s.bytes_live + s.bytes_cached == s.bytes_reserved && s.hits + s.misses == s.allocs &&
           s.bytes_reserved <= s.peak_live + (4u << 20) /* high-water rule */ && s.peak_live >= s.bytes_live;
}

static size_t rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static int maps_mention(const char *needle)
{
    char line[1024];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) found = 1;
    fclose(f);
    return found;
}

static int dir_entries(const char *dir)
{
    int n = 0;
    struct dirent *e;
    DIR *d = opendir(dir);
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}


/* A pool in debug mode whose messages land in *log. */
static tp_pool *debug_pool(captured_log *log)
{
    tp_desc d;
    memset(log, 0, sizeof *log);
    memset(&d, 0, sizeof d);
    d.debug = 1;
    d.log.fn = capture_log;
    d.log.user = log;
    return make_pool(&d);
}

/* Allocator hooks that count, and fail the n-th call when asked to. */
typedef struct counting_alloc {
    long calls, fail_at; /* fail_at = 0: never */
    long outstanding;
    size_t bytes;
} counting_alloc;

static void *counting_malloc(size_t n, void *user)
{
    counting_alloc *c = (counting_alloc *)user;
    void *p;
    if (++c->calls == c->fail_at) return NULL;
    p = malloc(n);
    if (p) { c->outstanding++; c->bytes += n; }
    return p;
}

static void counting_free(void *p, size_t n, void *user)
{
    counting_alloc *c = (counting_alloc *)user;
    c->outstanding--;
    c->bytes -= n;
    free(p);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_alignment_and_sizes(void)
{
    static const size_t sizes[] = {0, 1, 7, 63, 64, 65, 100, 1000, 4096, 65536, 200000,
                                   262144, 300000, 5 * 1024 * 1024 + 3};
    tp_pool *pool = make_pool(NULL);
    void *ptrs[sizeof sizes / sizeof sizes[0]];
    size_t i;
    CHECK(pool != NULL);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ptrs[i] = tp_alloc(pool, sizes[i]);
        CHECK(ptrs[i] != NULL);
        CHECK_MSG((uintptr_t)ptrs[i] % 64 == 0, "size %zu at %p", sizes[i], ptrs[i]);
        CHECK(tp_usable_size(pool, ptrs[i]) >= sizes[i]);
        fill((unsigned char *)ptrs[i], sizes[i], (unsigned)i);
    }
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK(intact((unsigned char *)ptrs[i], sizes[i], (unsigned)i));
        CHECK(tp_free(pool, ptrs[i]) == TP_OK);
    }
    CHECK(tp_free(pool, NULL) == TP_OK);
    tp_destroy(pool);
}

static void test_size_class_waste(void)
{
    tp_pool *pool = make_pool(NULL);
    size_t n;
    for (n = 65; n < 256 * 1024 - 64; n += 1 + n / 37) {
        void *p = tp_alloc(pool, n);
        size_t u = tp_usable_size(pool, p);
        CHECK_MSG(u >= n && (u - n) * 4 < n, "request %zu got %zu", n, u);
        tp_free(pool, p);
    }
    tp_destroy(pool);
}

static void test_reuse_and_stats_invariants(void)
{
    tp_pool *pool = make_pool(NULL);
    void *live[32] = {0};
    size_t req[32] = {0};
    uint64_t seed = 42;
    int i, ok = 1;
    tp_stats s;
    for (i = 0; i < 4000; i++) {
        int k = (int)(rng_next(&seed) % 32);
        if (live[k]) {
            ok &= intact((unsigned char *)live[k], req[k], (unsigned)k);
            tp_free(pool, live[k]);
            live[k] = NULL;
        } else {
            req[k] = rng_size(&seed, 16, 4 * MiB);
            live[k] = tp_alloc(pool, req[k]);
            fill((unsigned char *)live[k], req[k], (unsigned)k);
        }
        ok &= invariants_hold(pool);
    }
    CHECK(ok);
    s = tp_get_stats(pool);
    CHECK(s.hits > s.misses); /* a steady workload is served mostly from the cache */
    CHECK(s.hit_rate > 0.5 && s.hit_rate <= 1.0);
    for (i = 0; i < 32; i++) tp_free(pool, live[i]);
    s = tp_get_stats(pool);
    CHECK(s.bytes_live == 0 && s.live_blocks == 0 && s.bytes_requested == 0);
    CHECK(s.frees + 0 == s.allocs);
    tp_destroy(pool);
}

static void test_same_size_is_a_hit(void)
{
    tp_pool *pool = make_pool(NULL);
    void *a = tp_alloc(pool, 1000), *b;
    tp_stats s;
    tp_free(pool, a);
    b = tp_alloc(pool, 990);
    s = tp_get_stats(pool);
    CHECK(a == b);
    CHECK(s.hits == 1 && s.misses == 1);
    tp_free(pool, b);
    a = tp_alloc(pool, 3 * MiB);
    tp_free(pool, a);
    b = tp_alloc(pool, 3 * MiB);
    s = tp_get_stats(pool);
    CHECK(a == b && s.hits == 2);
    tp_free(pool, b);
    tp_destroy(pool);
}

static void test_zeroed_after_reuse(void)
{
    tp_pool *pool = make_pool(NULL);
    size_t sizes[2] = {5000, 2 * MiB}, i, j;
    for (j = 0; j < 2; j++) {
        unsigned char *p = (unsigned char *)tp_alloc(pool, sizes[j]);
        int zero = 1;
        memset(p, 0xFF, sizes[j]);
        tp_free(pool, p);
        p = (unsigned char *)tp_alloc_zeroed(pool, sizes[j]);
        for (i = 0; i < sizes[j]; i++) zero &= p[i] == 0;
        CHECK(zero);
        tp_free(pool, p);
    }
    tp_destroy(pool);
}

static void test_high_water_and_cache_cap(void)
{
    tp_desc d;
    tp_pool *pool;
    void *a, *b, *c;
    tp_stats s;
    memset(&d, 0, sizeof d);
    pool = make_pool(&d);
    a = tp_alloc(pool, 8 * MiB);
    tp_free(pool, a);
    b = tp_alloc(pool, 1 * MiB);  /* live 1 MiB; high water 8 MiB */
    c = tp_alloc(pool, 4 * MiB);
    s = tp_get_stats(pool);
    CHECK(s.bytes_reserved <= s.peak_live + 4 * MiB);
    tp_free(pool, b);
    tp_free(pool, c);
    s = tp_get_stats(pool);
    CHECK(s.bytes_cached <= s.peak_live + 4 * MiB);
    tp_destroy(pool);

    d.max_cached_bytes = 2 * MiB;
    pool = make_pool(&d);
    a = tp_alloc(pool, 1 * MiB);
    b = tp_alloc(pool, 1 * MiB);
    c = tp_alloc(pool, 1 * MiB);
    tp_free(pool, a);
    tp_free(pool, b);
    tp_free(pool, c);
    s = tp_get_stats(pool);
    CHECK_MSG(s.bytes_cached <= 2 * MiB, "cached %zu", s.bytes_cached);
    CHECK(tp_get_desc(pool).max_cached_bytes == 2 * MiB);
    tp_destroy(pool);
}

#if defined(__linux__)
static void test_recycled_pages_are_not_fresh(void)
{
    tp_pool *pool = make_pool(NULL);
    unsigned char *a = (unsigned char *)tp_alloc(pool, 6 * MiB);
    unsigned char *b = (unsigned char *)tp_alloc(pool, 6 * MiB);
    unsigned char *c;
    uint64_t fresh_before;
    tp_stats s;
    memset(a, 1, 6 * MiB);
    memset(b, 2, 6 * MiB);
    tp_free(pool, a);
    tp_free(pool, b);
    fresh_before = tp_get_stats(pool).bytes_fresh;
    c = (unsigned char *)tp_alloc(pool, 11 * MiB); /* no single chunk fits: pages are moved */
    s = tp_get_stats(pool);
    CHECK(c != NULL);
    CHECK_MSG(s.bytes_fresh - fresh_before < MiB, "fresh %llu", (unsigned long long)(s.bytes_fresh - fresh_before));
    memset(c, 3, 11 * MiB);
    CHECK(c[0] == 3 && c[11 * MiB - 1] == 3);
    CHECK(invariants_hold(pool));
    tp_free(pool, c);
    tp_destroy(pool);
}
#endif

/* single_thread pools take no lock but behave the same */
static void test_single_thread_pool(void)
{
    tp_desc d;
    tp_pool *pool;
    void *a, *b;
    memset(&d, 0, sizeof d);
    d.single_thread = 1;
    pool = make_pool(&d);
    CHECK(tp_get_desc(pool).single_thread == 1);
    a = tp_alloc(pool, 3000);
    tp_free(pool, a);
    b = tp_alloc(pool, 2900);
    CHECK(a == b && tp_get_stats(pool).hits == 1);
    tp_free(pool, b);
    CHECK(invariants_hold(pool));
    tp_destroy(pool);
}

#if defined(__linux__)
/* Kilobytes of AnonHugePages in the mapping that contains addr, from /proc/self/smaps. */
static long huge_kib_at(const void *addr)
{
    char line[512];
    long kib = -1;
    int inside = 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        else if (inside && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1) break;
    }
    fclose(f);
    return kib;
}

static int thp_allowed(void)
{
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return 0;
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    fclose(f);
    return strstr(buf, "[madvise]") ? 1 : strstr(buf, "[always]") ? 2 : 0;
}

/* huge_pages (the default) asks for transparent huge pages on big blocks, and gets them where the
   kernel allows; huge_pages = -1 does not ask. */
static void test_huge_pages(void)
{
    tp_desc d;
    tp_pool *pool;
    char *p;
    size_t n = 32 * MiB;
    memset(&d, 0, sizeof d);
    pool = make_pool(&d);
    CHECK(tp_get_desc(pool).huge_pages == 1);
    p = (char *)tp_alloc(pool, n);
    memset(p, 1, n);
    CHECK_MSG(huge_kib_at(p + n / 2) > 0, "AnonHugePages %ld kB", huge_kib_at(p + n / 2));
    tp_free(pool, p);
    tp_destroy(pool);
    d.huge_pages = -1;
    pool = make_pool(&d);
    CHECK(tp_get_desc(pool).huge_pages == 0);
    p = (char *)tp_alloc(pool, n);
    memset(p, 1, n);
    if (thp_allowed() == 1) /* "madvise" mode: without the advice there are none */
        CHECK_MSG(huge_kib_at(p + n / 2) == 0, "AnonHugePages %ld kB", huge_kib_at(p + n / 2));
    tp_free(pool, p);
    tp_destroy(pool);
}
#endif

static void test_budget_refusal(void)
{
    counting_alloc ca = {0, 0, 0, 0};
    captured_log log;
    tp_desc d;
    tp_pool *pool;
    void *a, *b, *c;
    tp_error e;
    tp_stats s;
    memset(&log, 0, sizeof log);
    memset(&d, 0, sizeof d);
    d.budget_bytes = 1 * MiB;
    d.allocator.alloc = counting_malloc;
    d.allocator.free = counting_free;
    d.allocator.user = &ca;
    d.log.fn = capture_log;
    d.log.user = &log;
    pool = make_pool(&d);
    a = tp_alloc(pool, 600 * 1024);
    CHECK(a != NULL);
    b = tp_alloc_at(pool, 600 * 1024, 0, "here.c", 7, &e);
    CHECK(b == NULL && e.code == TP_ERR_BUDGET);
    CHECK(strstr(e.message, "live") && strstr(e.message, "cached") && strstr(e.message, "614400") &&
          strstr(e.message, "here.c:7"));
    CHECK(log.count == 1 && strstr(log.text, "over budget"));
    s = tp_get_stats(pool);
    CHECK(s.failures == 1 && s.allocs == 1 && s.bytes_live <= 1 * MiB);
    tp_free(pool, a);             /* the pool stays usable */
    c = tp_alloc(pool, 900 * 1024);
    CHECK(c != NULL);
    s = tp_get_stats(pool);
    CHECK(s.bytes_reserved <= 1 * MiB);
    tp_free(pool, c);
    tp_destroy(pool);
    CHECK(ca.outstanding == 0 && ca.bytes == 0);
}

static void test_budget_evicts_cache_first(void)
{
    tp_desc d;
    tp_pool *pool;
    void *a, *b;
    tp_stats s;
    memset(&d, 0, sizeof d);
    d.budget_bytes = 8 * MiB;
    pool = make_pool(&d);
    a = tp_alloc(pool, 6 * MiB);
    tp_free(pool, a);               /* 6 MiB cached */
    b = tp_alloc(pool, 7 * MiB);    /* needs the cache's room */
    s = tp_get_stats(pool);
    CHECK(b != NULL);
    CHECK_MSG(s.bytes_reserved <= 8 * MiB, "reserved %zu", s.bytes_reserved);
    tp_free(pool, b);
    tp_destroy(pool);
}

#if defined(__linux__)
static void test_spill_larger_than_budget(void)
{
    char dir[] = "/tmp/tp_spill_XXXXXX";
    tp_desc d;
    tp_pool *pool;
    unsigned char *big, *small;
    size_t n = 24 * MiB, i;
    tp_error e;
    tp_stats s;
    int ok = 1;
    CHECK(mkdtemp(dir) != NULL);
    memset(&d, 0, sizeof d);
    d.budget_bytes = 4 * MiB;
    d.spill_dir = dir;
    pool = make_pool(&d);
    big = (unsigned char *)tp_alloc_at(pool, n, 0, NULL, 0, &e);
    CHECK(big != NULL && e.code == TP_OK && e.message[0] == 0);
    if (!big) { tp_destroy(pool); return; }
    s = tp_get_stats(pool);
    CHECK(s.spills == 1 && s.bytes_spilled >= n && s.bytes_live == 0);
    for (i = 0; i < n; i++) big[i] = (unsigned char)(i * 2654435761u >> 13);
    for (i = 0; i < n; i++) ok &= big[i] == (unsigned char)(i * 2654435761u >> 13);
    CHECK(ok);
    CHECK(maps_mention("tensorpool-") == 1);  /* mapped, and already unlinked */
    CHECK(dir_entries(dir) == 0);
    small = (unsigned char *)tp_alloc(pool, 100000); /* below the threshold: in memory */
    CHECK(small != NULL && tp_get_stats(pool).spills == 1);
    tp_free(pool, small);
    tp_free(pool, big);
    CHECK(maps_mention("tensorpool-") == 0);  /* gone with the free */
    s = tp_get_stats(pool);
    CHECK(s.bytes_spilled == 0 && s.peak_spilled >= n);
    big = (unsigned char *)tp_alloc_flags(pool, 2 * MiB, TP_SPILL);  /* forced */
    CHECK(big != NULL && tp_get_stats(pool).spills == 2);
    tp_free(pool, big);
    tp_destroy(pool);
    CHECK(dir_entries(dir) == 0);
    rmdir(dir);

    d.spill_dir = "/nonexistent/dir";
    pool = make_pool(&d);
    big = (unsigned char *)tp_alloc_at(pool, n, 0, NULL, 0, &e);
    CHECK(big == NULL && e.code == TP_ERR_IO && strstr(e.message, "spill") != NULL);
    tp_destroy(pool);
}
#endif

#if defined(__linux__)
static void test_trim_lowers_rss(void)
{
    tp_pool *pool = make_pool(NULL);
    size_t n = 96 * MiB, before, cached_rss, trimmed_rss, released;
    char *p = (char *)tp_alloc(pool, n);
    before = rss_bytes();
    memset(p, 1, n);
    tp_free(pool, p);
    cached_rss = rss_bytes();
    released = tp_trim(pool);
    trimmed_rss = rss_bytes();
    CHECK(released >= n);
    CHECK_MSG(cached_rss > before + n / 2, "rss before %zu, cached %zu", before, cached_rss);
    CHECK_MSG(trimmed_rss + n / 2 < cached_rss, "rss cached %zu, trimmed %zu", cached_rss, trimmed_rss);
    CHECK(tp_get_stats(pool).bytes_cached == 0);
    tp_destroy(pool);
}
#endif

static void test_frames(void)
{
    tp_pool *pool = make_pool(NULL);
    void *keep = tp_alloc(pool, 1000), *tmp[10];
    tp_frame f = tp_mark(pool);
    size_t live_before = tp_get_stats(pool).bytes_live;
    int i;
    tp_stats s;
    for (i = 0; i < 10; i++) tmp[i] = tp_alloc(pool, (size_t)(i + 1) * 70000);
    CHECK(tp_get_stats(pool).live_blocks == 11);
    CHECK(tp_release_to(pool, f, NULL) == TP_OK);
    s = tp_get_stats(pool);
    CHECK(s.live_blocks == 1 && s.bytes_live == live_before);
    CHECK(tp_free(pool, keep) == TP_OK);
    CHECK(tp_free(pool, tmp[3]) == TP_ERR_DOUBLE_FREE); /* it was released by the frame */
    f.seq += 1000;
    CHECK(tp_release_to(pool, f, NULL) == TP_ERR_ARG);
    tp_destroy(pool);
}

static void test_double_free_and_foreign(void)
{
    tp_pool *pool;
    void *a, *big, *foreign;
    captured_log log;
    pool = debug_pool(&log);
    a = tp_alloc(pool, 256);
    CHECK(tp_free(pool, a) == TP_OK);
    CHECK(tp_free(pool, a) == TP_ERR_DOUBLE_FREE);
    CHECK(strstr(log.text, "double free") != NULL);
    big = tp_alloc(pool, 2 * MiB);
    CHECK(tp_free(pool, big) == TP_OK);
    CHECK(tp_free(pool, big) != TP_OK);  /* pages went back to the cache as a chunk */
    foreign = malloc(4096 + 64);
    CHECK(tp_free(pool, (char *)foreign + (64 - (uintptr_t)foreign % 64)) == TP_ERR_FOREIGN);
    CHECK(tp_free(pool, (char *)foreign + 1) == TP_ERR_FOREIGN);
    free(foreign);
    CHECK(tp_get_stats(pool).frees == 2);
    tp_destroy(pool);

    /* Without debug the header still catches a double free of a cached block. */
    pool = make_pool(NULL);
    a = tp_alloc(pool, 256);
    tp_free(pool, a);
    CHECK(tp_free(pool, a) == TP_ERR_DOUBLE_FREE);
    tp_destroy(pool);
}

static void test_leak_report_and_poison(void)
{
    tp_pool *pool;
    captured_log log;
    char where[64];
    unsigned char *p;
    int line;
    pool = debug_pool(&log);
    p = (unsigned char *)tp_alloc(pool, 512);
    tp_free(pool, p);
    TP_UNPOISON(p, 512);                 /* (ASan would stop these deliberate uses after free) */
    CHECK(p[0] == 0xDD && p[511] == 0xDD);  /* poisoned */
    p[100] = 1;                            /* a write after free ... */
    p = (unsigned char *)tp_alloc(pool, 512); /* ... is reported when the block is reused */
    CHECK(strstr(log.text, "write after free at byte 100") != NULL);
    tp_free(pool, p);
    line = __LINE__ + 1;
    tp_alloc_at(pool, 777, 0, __FILE__, line, NULL);
    tp_destroy(pool);
    snprintf(where, sizeof where, "test_tensorpool.c:%d", line);
    CHECK(strstr(log.text, "leak: 777 bytes") != NULL);
    CHECK(strstr(log.text, where) != NULL);
}

#if TP_ASAN
/* Under AddressSanitizer a block's bytes past its request and every cached byte are out of
   bounds, so ASan stops a read past a buffer into its class slack, or a use of a buffer already
   given back, that the pool's own malloc'd or mapped blocks would hide. Small (class) and page
   blocks, through reuse, a split page chunk and a debug pool's 0xDD checks. */
static int poisoned(const void *p) { return __asan_address_is_poisoned(p); }

static void check_marks(tp_pool *pool, size_t n)
{
    unsigned char *p = (unsigned char *)tp_alloc_zeroed(pool, n), *q;
    CHECK_MSG(p && !poisoned(p) && !poisoned(p + n - 1) && poisoned(p + n) && tp_usable_size(pool, p) == n,
              "%zu bytes: the request open, the byte past it poisoned", n);
    memset(p, 7, n);
    tp_free(pool, p);
    CHECK_MSG(poisoned(p) && poisoned(p + n / 2), "%zu bytes: cached, all poisoned", n);
    q = (unsigned char *)tp_alloc_zeroed(pool, n - 1); /* a hit: the same block, one byte shorter */
    CHECK_MSG(q == p && !poisoned(q) && !poisoned(q + n - 2) && poisoned(q + n - 1) && q[0] == 0 && q[n - 2] == 0,
              "%zu bytes: reused for %zu, open again up to the new request (and zeroed)", n, n - 1);
    tp_free(pool, q);
}

static void test_asan_marks(void)
{
    tp_desc d;
    tp_pool *pool = make_pool(NULL);
    unsigned char *big, *half;
    check_marks(pool, 1000);
    check_marks(pool, (1u << 20) + 3);
    big = (unsigned char *)tp_alloc(pool, 4u << 20); /* freed, then split: the half reused is open */
    tp_free(pool, big);
    half = (unsigned char *)tp_alloc(pool, 1u << 20);
    CHECK(half && !poisoned(half) && !poisoned(half + (1u << 20) - 1) && poisoned(half + (1u << 20)));
    memset(half, 1, 1u << 20);
    tp_free(pool, half);
    tp_destroy(pool);
    memset(&d, 0, sizeof d);
    d.debug = 1;
    pool = make_pool(&d);
    check_marks(pool, 1000);
    check_marks(pool, (1u << 20) + 3);
    tp_destroy(pool);
}
#endif

/* Freed neighbours merge: two blocks split from one chunk, freed apart, serve a request as big as
   both without a new map or a page move. */
static void test_neighbours_merge(void)
{
    tp_pool *pool = make_pool(NULL);
    void *a, *b, *c;
    tp_stats s0, s1;
    tp_free(pool, tp_alloc(pool, 8 * MiB));     /* one 8 MiB chunk */
    a = tp_alloc(pool, 3 * MiB);                 /* its first pages */
    b = tp_alloc(pool, 3 * MiB);                 /* the next ones */
    CHECK(a && b && (char *)b > (char *)a);
    tp_free(pool, a);
    tp_free(pool, b);
    s0 = tp_get_stats(pool);
    c = tp_alloc(pool, 7 * MiB);
    s1 = tp_get_stats(pool);
    CHECK_MSG(c == a && s1.os_maps == s0.os_maps && s1.bytes_fresh == s0.bytes_fresh && s1.hits == s0.hits + 1,
              "c %p a %p, maps %llu -> %llu", c, a, (unsigned long long)s0.os_maps, (unsigned long long)s1.os_maps);
    tp_free(pool, c);
    tp_destroy(pool);
}

/* Decay: cached chunks unused for decay_ms go back, down to decay_keep_bytes; not before. */
static void test_decay(void)
{
    tp_desc d = TP_DEFAULTS;
    tp_pool *pool;
    struct timespec pause = {0, 120 * 1000 * 1000};
    tp_error e;
    tp_stats s0, s1;
    unsigned char *a;
    size_t rss_before;
    d.decay_ms = 60;
    d.decay_keep_bytes = 2 * MiB;
    pool = make_pool(&d);
    a = (unsigned char *)tp_alloc(pool, 8 * MiB);
    memset(a, 1, 8 * MiB);                            /* resident */
    tp_free(pool, a);
    CHECK(tp_get_stats(pool).bytes_cached >= 8 * MiB);
    CHECK(tp_decay(pool) == 0);                       /* just freed: kept */
    nanosleep(&pause, NULL);
    rss_before = rss_bytes();
    CHECK(tp_decay(pool) > 0);
    s0 = tp_get_stats(pool);
    CHECK_MSG(s0.bytes_cached == 2 * MiB, "cached %zu", s0.bytes_cached);
#if defined(__linux__)
    /* the pages went back; the address range stays for the next fresh request, without a map */
    CHECK_MSG(s0.bytes_decayed >= 6 * MiB && rss_bytes() + 5 * MiB < rss_before, "decayed %zu, rss %zu -> %zu",
              s0.bytes_decayed, rss_before, rss_bytes());
    a = (unsigned char *)tp_alloc(pool, 5 * MiB);     /* no chunk fits: fresh pages, in decayed space */
    s1 = tp_get_stats(pool);
    CHECK_MSG(a && s1.os_maps == s0.os_maps && s1.bytes_decayed + 5 * MiB <= s0.bytes_decayed,
              "maps %llu -> %llu, decayed %zu -> %zu", (unsigned long long)s0.os_maps,
              (unsigned long long)s1.os_maps, s0.bytes_decayed, s1.bytes_decayed);
    memset(a, 2, 5 * MiB);
    tp_free(pool, a);
    tp_trim(pool);
    CHECK(tp_get_stats(pool).bytes_decayed == 0 && tp_get_stats(pool).bytes_cached == 0);
#endif
    tp_destroy(pool);
    d.decay_keep_bytes = 0;
    pool = make_pool(&d);
    tp_free(pool, tp_alloc(pool, 8 * MiB));
    nanosleep(&pause, NULL);
    tp_free(pool, tp_alloc(pool, 1000));              /* a miss: the pool decays by itself */
    CHECK_MSG(tp_get_stats(pool).bytes_cached < 8 * MiB, "cached %zu", tp_get_stats(pool).bytes_cached);
    tp_destroy(pool);
    d.decay_ms = -1;
    CHECK(tp_create(&d, &pool, &e) == TP_ERR_ARG && strstr(e.message, "decay_ms"));
    d.decay_ms = 0;                                   /* off: tp_decay does nothing */
    pool = make_pool(&d);
    tp_free(pool, tp_alloc(pool, 8 * MiB));
    CHECK(tp_decay(pool) == 0 && tp_get_stats(pool).bytes_cached >= 8 * MiB);
    tp_destroy(pool);
}

/* Debug mode checks the poison of every reused block: reusing, splitting and reassembling big
   blocks must not raise false alarms, and a real write after free in one must be caught. */
static void test_debug_page_blocks(void)
{
    tp_pool *pool;
    captured_log log;
    unsigned char *a, *b, *c;
    pool = debug_pool(&log);
    a = (unsigned char *)tp_alloc(pool, 8 * MiB);
    b = (unsigned char *)tp_alloc(pool, 3 * MiB);
    memset(a, 7, 8 * MiB);
    memset(b, 9, 3 * MiB);
    tp_free(pool, a);
    tp_free(pool, b);
    a = (unsigned char *)tp_alloc(pool, 2 * MiB);   /* best fit: the 3 MiB chunk, split */
    b = (unsigned char *)tp_alloc(pool, 5 * MiB);   /* from the 8 MiB chunk */
    c = (unsigned char *)tp_alloc(pool, 4 * MiB);   /* reassembled from what is left, where mremap exists */
    CHECK(a && b && c);
    CHECK_MSG(log.count == 0, "unexpected: %s", log.text);
    memset(c, 1, 4 * MiB);
    tp_free(pool, c);
    TP_UNPOISON(c + 4096, 1);
    c[4096] = 5;                                     /* write after free into a big block */
    c = (unsigned char *)tp_alloc(pool, 4 * MiB);
    CHECK(strstr(log.text, "write after free") != NULL);
    tp_free(pool, a);
    tp_free(pool, b);
    tp_free(pool, c);
    tp_destroy(pool);
}

/* Fails the underlying allocator at each call in turn: every failure must come back as a clean
   error, and the pool must give back everything it got. */
static int injected_scenario(counting_alloc *ca)
{
    tp_desc d;
    tp_pool *pool;
    void *p[40];
    int i, failures = 0;
    tp_error e;
    memset(&d, 0, sizeof d);
    d.allocator.alloc = counting_malloc;
    d.allocator.free = counting_free;
    d.allocator.user = ca;
    d.debug = 1;
    d.max_cached_bytes = 3 * MiB;
    if (tp_create(&d, &pool, &e) != TP_OK) return e.code == TP_ERR_NOMEM && pool == NULL ? 1 : -1000;
    for (i = 0; i < 40; i++) {
        p[i] = tp_alloc_at(pool, (size_t)(i % 7 + 1) * 50000 + (size_t)i, 0, NULL, 0, &e);
        if (!p[i]) {
            if (e.code != TP_ERR_NOMEM) failures -= 1000;
            failures++;
        } else fill((unsigned char *)p[i], 1000, (unsigned)i);
        if (i % 3 == 2) { tp_free(pool, p[i - 1]); p[i - 1] = NULL; }
    }
    for (i = 0; i < 40; i++)
        if (p[i] && !intact((unsigned char *)p[i], 1000, (unsigned)i)) failures -= 1000;
    for (i = 0; i < 40; i += 2) tp_free(pool, p[i]);
    tp_trim(pool);
    tp_destroy(pool);
    return failures;
}

static void test_allocator_failure_injection(void)
{
    long n;
    int clean_run = 0;
    for (n = 1; n < 400 && !clean_run; n++) {
        counting_alloc ca = {0, 0, 0, 0};
        int failures;
        ca.fail_at = n;
        failures = injected_scenario(&ca);
        CHECK_MSG(failures >= 0, "failing call %ld: wrong error code or corrupted data", n);
        CHECK_MSG(ca.outstanding == 0 && ca.bytes == 0, "failing call %ld leaks %ld blocks", n, ca.outstanding);
        if (ca.calls < n) clean_run = 1; /* the scenario never reached call n */
    }
    CHECK(clean_run);
}

static void test_bad_arguments(void)
{
    tp_desc d;
    tp_error e;
    tp_pool *pool = (tp_pool *)&d; /* tp_create must set it to NULL on failure */
    size_t out;
    int x;
    memset(&d, 0, sizeof d);
    d.allocator.alloc = counting_malloc;  /* free missing: all-or-none */
    CHECK(tp_create(&d, &pool, &e) == TP_ERR_ARG && pool == NULL && e.code == TP_ERR_ARG && strstr(e.message, "allocator"));
    memset(&d, 0, sizeof d);
    d.budget_fraction = 1.5;
    CHECK(tp_create(&d, &pool, &e) == TP_ERR_ARG && strstr(e.message, "budget_fraction") && strstr(e.message, "1.5"));
    CHECK(tp_create(&d, NULL, NULL) == TP_ERR_ARG);
    CHECK(tp_create(NULL, &pool, &e) == TP_OK && pool && e.code == TP_OK && e.message[0] == 0);
    CHECK(tp_alloc_at(pool, (size_t)-1 - 10, 0, NULL, 0, &e) == NULL && e.code == TP_ERR_OVERFLOW && strstr(e.message, "overflow"));
    CHECK(tp_alloc_at(pool, ((size_t)-1 >> 1), 0, NULL, 0, &e) == NULL && e.code == TP_ERR_OVERFLOW);
    CHECK(tp_alloc_at(pool, 100, TP_SPILL, NULL, 0, &e) == NULL && e.code == TP_ERR_ARG && strstr(e.message, "spill_dir"));
    CHECK(tp_get_stats(pool).failures == 3);
    CHECK(tp_alloc_at(NULL, 10, 0, NULL, 0, &e) == NULL && e.code == TP_ERR_ARG && strstr(e.message, "NULL"));
    CHECK(tp_alloc(NULL, 10) == NULL && tp_free(NULL, &x) == TP_ERR_ARG);
    CHECK(tp_release_to(NULL, tp_mark(pool), &e) == TP_ERR_ARG && strstr(e.message, "tp_release_to"));
    CHECK(tp_size_mul((size_t)-1 / 2, 3, &out) == 0 && out == 0);
    CHECK(tp_size_mul(1000, 1000, &out) == 1 && out == 1000000);
    CHECK(tp_size_add((size_t)-1, 1, &out) == 0);
    CHECK(strcmp(tp_result_string(TP_ERR_BUDGET), "over the memory budget") == 0);
    CHECK(strstr(tp_build_info(), "tensorpool 1.0.0") != NULL);
    tp_destroy(pool);
}

/* The error record and the element type: the pieces every header of the collection shares. */
static void test_error_record_and_dtype(void)
{
    tp_error e;
    char long_text[600];
    int codes[] = {TP_OK, TP_ERR_ARG, TP_ERR_OVERFLOW, TP_ERR_NOMEM, TP_ERR_BUDGET, TP_ERR_IO, TP_ERR_FORMAT,
                   TP_ERR_CANCELLED, TP_ERR_THREAD, TP_ERR_DEVICE, TP_ERR_UNSUPPORTED, TP_ERR_DOUBLE_FREE, TP_ERR_FOREIGN};
    size_t i, j;
    CHECK(tp_error_set(&e, TP_ERR_FORMAT, "file %s: field %s", "a.h5", "mask_shape") == TP_ERR_FORMAT);
    CHECK(e.code == TP_ERR_FORMAT && strcmp(e.message, "file a.h5: field mask_shape") == 0);
    CHECK(tp_error_set(NULL, TP_ERR_IO, "ignored %d", 1) == TP_ERR_IO); /* NULL is allowed */
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = 0;
    tp_error_set(&e, TP_ERR_ARG, "%s", long_text);
    CHECK(strlen(e.message) == TP_ERROR_MESSAGE - 1); /* truncated, terminated */
    tp_error_set(&e, TP_ERR_IO, "cannot read %s", "x.npy");
    tp_error_prefix(&e, "pac_run");
    CHECK(e.code == TP_ERR_IO && strcmp(e.message, "pac_run: cannot read x.npy") == 0);
    tp_error_clear(&e);
    CHECK(e.code == TP_OK && e.message[0] == 0);
    tp_error_prefix(&e, "pac_run"); /* nothing to name on success */
    CHECK(e.message[0] == 0);
    tp_error_prefix(NULL, "x");
    tp_error_clear(NULL);
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK_MSG(strcmp(tp_result_string((tp_result)codes[i]), "unknown result") != 0, "code %d has no name", codes[i]);
        for (j = 0; j < i; j++) CHECK(codes[i] != codes[j] && strcmp(tp_result_string((tp_result)codes[i]), tp_result_string((tp_result)codes[j])) != 0);
    }
    CHECK(tp_dtype_size(TP_F32) == 4 && tp_dtype_size(TP_F64) == 8 && tp_dtype_size((tp_dtype)0) == 0 && tp_dtype_size((tp_dtype)3) == 0);
    CHECK(tp_dtype_check(TP_F64, "x", &e) == TP_OK);
    CHECK(tp_dtype_check((tp_dtype)0, "pac_run: x", &e) == TP_ERR_ARG && strstr(e.message, "pac_run: x") && strstr(e.message, "TP_F32"));
}

/* Logging through the logger of a desc, with the level. */
static void test_log_helper(void)
{
    captured_log log;
    tp_logger lg;
    memset(&log, 0, sizeof log);
    lg.fn = capture_log;
    lg.user = &log;
    tp_log(&lg, TP_LOG_WARN, "%d of %d", 3, 4);
    tp_log(NULL, TP_LOG_WARN, "nobody listens");
    lg.fn = NULL;
    tp_log(&lg, TP_LOG_WARN, "nobody listens");
    CHECK(log.count == 1 && strcmp(log.text, "3 of 4\n") == 0);
}

/* A fake file-system root with proc/ and sys/ files. */
static void write_file(const char *root, const char *rel, const char *text)
{
    char path[1024], dir[1024], *slash;
    FILE *f;
    snprintf(path, sizeof path, "%s%s", root, rel);
    strcpy(dir, path);
    for (slash = dir + strlen(root) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
        *slash = 0;
        mkdir(dir, 0700);
        *slash = '/';
    }
    f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

/* Removes the fake root again: the tests leave nothing behind in /tmp. */
static void remove_tree(const char *path)
{
    struct stat st;
    DIR *dir;
    struct dirent *e;
    char child[1024];
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode) && (dir = opendir(path)) != NULL) {
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            remove_tree(child);
        }
        closedir(dir);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void test_query_memory(void)
{
    char root2[] = "/tmp/tp_root2_XXXXXX", root1[] = "/tmp/tp_root1_XXXXXX";
    tp_memory_info mi;
    CHECK(tp_query_memory(&mi, NULL, NULL) == TP_OK);
    CHECK(mi.usable > 0 && mi.mem_total > 0 && mi.usable <= mi.mem_total + (mi.cgroup_limit ? mi.cgroup_limit : 0));

    /* cgroup v2: the tightest limit is the parent's; usage minus inactive file pages */
    CHECK(mkdtemp(root2) != NULL);
    write_file(root2, "/proc/meminfo", "MemTotal:       16000000 kB\nMemFree: 1 kB\nMemAvailable:    8000000 kB\n");
    write_file(root2, "/proc/self/cgroup", "0::/job/step\n");
    write_file(root2, "/sys/fs/cgroup/job/memory.max", "2147483648\n");
    write_file(root2, "/sys/fs/cgroup/job/memory.current", "1073741824\n");
    write_file(root2, "/sys/fs/cgroup/job/memory.stat", "anon 1\ninactive_file 536870912\nactive_file 0\n");
    write_file(root2, "/sys/fs/cgroup/job/step/memory.max", "max\n");
    CHECK(tp_query_memory(&mi, root2, NULL) == TP_OK);
    CHECK(mi.cgroup_version == 2 && mi.cgroup_limit == 2147483648u && mi.cgroup_usage == 536870912u);
    CHECK(mi.mem_available == 8000000ull * 1024 && mi.usable == 2147483648u - 536870912u);

    /* cgroup v1, memory controller listed with another, unlimited root */
    CHECK(mkdtemp(root1) != NULL);
    write_file(root1, "/proc/meminfo", "MemTotal: 4000 kB\nMemAvailable: 1000 kB\n");
    write_file(root1, "/proc/self/cgroup", "5:cpu,cpuacct:/\n4:memory:/slurm/job7\n0::/\n");
    write_file(root1, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    write_file(root1, "/sys/fs/cgroup/memory/slurm/job7/memory.limit_in_bytes", "100000000\n");
    write_file(root1, "/sys/fs/cgroup/memory/slurm/job7/memory.usage_in_bytes", "1000\n");
    write_file(root1, "/sys/fs/cgroup/memory/slurm/job7/memory.stat", "total_inactive_file 0\n");
    CHECK(tp_query_memory(&mi, root1, NULL) == TP_OK);
    CHECK(mi.cgroup_version == 1 && mi.cgroup_limit == 100000000u);
    CHECK(mi.usable == 1000 * 1024); /* MemAvailable is smaller here */

    remove_tree(root2);
    remove_tree(root1);
    CHECK(access(root1, F_OK) != 0 && access(root2, F_OK) != 0);
    CHECK(tp_query_memory(&mi, "/nonexistent", NULL) == TP_ERR_IO);
    {
        tp_desc d;
        tp_pool *pool;
        memset(&d, 0, sizeof d);
        d.budget_bytes = TP_BUDGET_AUTO;
        d.budget_fraction = 0.5;
        pool = make_pool(&d);
        CHECK(pool != NULL && tp_get_desc(pool).budget_bytes > 0 && tp_get_desc(pool).budget_bytes != TP_BUDGET_AUTO);
        tp_destroy(pool);
    }
}

static void test_query_cpus(void)
{
    char root2[] = "/tmp/tp_cpu2_XXXXXX", root1[] = "/tmp/tp_cpu1_XXXXXX";
    tp_cpu_info ci;
    tp_error e;
    int online, cap;
    CHECK(tp_query_cpus(&ci, NULL, &e) == TP_OK && ci.usable >= 1 && e.code == TP_OK);
    online = ci.online;
    CHECK(online >= 1 && ci.usable <= online);
    cap = ci.usable < TP_MAX_THREADS ? ci.usable : TP_MAX_THREADS;
    CHECK(tp_thread_count(0) == cap && tp_thread_count(5) == 5 && tp_thread_count(TP_MAX_THREADS) == TP_MAX_THREADS);
    CHECK(tp_thread_count(-1) == 0 && tp_thread_count(TP_MAX_THREADS + 1) == 0);

    /* cgroup v2: the parent's quota of 2.5 CPUs binds (rounded up to 3), affinity 9 CPUs */
    CHECK(mkdtemp(root2) != NULL);
    write_file(root2, "/proc/self/status", "Name:\tx\nCpus_allowed:\tff\nCpus_allowed_list:\t0-7,16\nMems_allowed:\t1\n");
    write_file(root2, "/proc/self/cgroup", "0::/job/step\n");
    write_file(root2, "/sys/fs/cgroup/job/cpu.max", "250000 100000\n");
    write_file(root2, "/sys/fs/cgroup/job/step/cpu.max", "max 100000\n");
    CHECK(tp_query_cpus(&ci, root2, NULL) == TP_OK);
    CHECK(ci.affinity == 9 && ci.cgroup_quota == 2.5 && ci.usable == (online < 3 ? online : 3));

    /* cgroup v1 under cpu,cpuacct: 1.5 CPUs (2), the root's -1 is no quota */
    CHECK(mkdtemp(root1) != NULL);
    write_file(root1, "/proc/self/cgroup", "5:memory:/\n4:cpu,cpuacct:/slurm/j1\n");
    write_file(root1, "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    write_file(root1, "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    write_file(root1, "/sys/fs/cgroup/cpu,cpuacct/slurm/j1/cpu.cfs_quota_us", "150000\n");
    write_file(root1, "/sys/fs/cgroup/cpu,cpuacct/slurm/j1/cpu.cfs_period_us", "100000\n");
    CHECK(tp_query_cpus(&ci, root1, NULL) == TP_OK);
    CHECK(ci.affinity == 0 && ci.cgroup_quota == 1.5 && ci.usable == (online < 2 ? online : 2));
    remove_tree(root2);
    remove_tree(root1);
    CHECK(tp_query_cpus(&ci, "/nonexistent", NULL) == TP_OK && ci.usable == online && ci.cgroup_quota == 0.0);
    CHECK(tp_query_cpus(NULL, NULL, &e) == TP_ERR_ARG);
    CHECK((tp_cpu_features() & ~(unsigned)(TP_CPU_AVX2 | TP_CPU_AVX512F)) == 0);
}

enum { JOB_ITEMS = 1000 };
typedef struct team_job {
    tp_team *team;
    int hits[JOB_ITEMS];
    size_t order[JOB_ITEMS], n_order, locked;
    int workers_seen[TP_MAX_THREADS];
} team_job;

static void team_item(void *user, int worker, size_t item)
{
    team_job *j = (team_job *)user;
    j->hits[item]++; /* each item runs once: no two workers touch one */
    if (item % 7 == 0) { /* unordered work of uneven length */
        volatile double x = 0;
        int k;
        for (k = 0; k < 2000; k++) x = x + k;
        (void)x;
    }
    tp_team_lock(j->team);
    j->locked++;
    if (worker >= 0 && worker < TP_MAX_THREADS) j->workers_seen[worker] = 1;
    tp_team_unlock(j->team);
    tp_team_ordered_begin(j->team, item);
    j->order[j->n_order++] = item;
    tp_team_ordered_end(j->team, item);
}

/* Runs two jobs on the team; every item once, ordered sections in item order, workers in range. */
static int team_runs_jobs(tp_team *team)
{
    static team_job j;
    int ok = 1, round, w;
    size_t i;
    for (round = 0; round < 2; round++) {
        memset(&j, 0, sizeof j);
        j.team = team;
        tp_team_for(team, JOB_ITEMS - (size_t)round * 300, team_item, &j);
        for (i = 0; i < JOB_ITEMS - (size_t)round * 300; i++) ok &= j.hits[i] == 1 && j.order[i] == i;
        ok &= j.n_order == JOB_ITEMS - (size_t)round * 300 && j.locked == j.n_order;
        for (w = tp_team_size(team); w < TP_MAX_THREADS; w++) ok &= !j.workers_seen[w];
    }
    memset(&j, 0, sizeof j); /* one item, and none */
    j.team = team;
    tp_team_for(team, 1, team_item, &j);
    tp_team_for(team, 0, team_item, &j);
    return ok && j.n_order == 1 && j.hits[0] == 1;
}

static void test_team(void)
{
    tp_team_desc td;
    tp_team *team = NULL;
    tp_pool *pool = make_pool(NULL);
    tp_error e;
    tp_stats s0, s1;
    int n;
    CHECK(team_runs_jobs(NULL)); /* no team: the caller alone */
    for (n = 0; n <= 3; n++) {
        memset(&td, 0, sizeof td);
        td.n_threads = n;
        CHECK(tp_team_create(&td, &team, &e) == TP_OK && team != NULL);
#if defined(TP_NO_THREADS)
        CHECK(tp_team_size(team) == 1);
#else
        CHECK_MSG(tp_team_size(team) == (n ? n : tp_thread_count(0)), "n_threads %d: %d workers", n, tp_team_size(team));
#endif
        CHECK_MSG(team_runs_jobs(team), "n_threads %d", n);
        tp_team_destroy(team);
    }
    /* a team taken from a pool: tp_team_bytes of it, given back at destroy */
    memset(&td, 0, sizeof td);
    td.n_threads = 2;
    td.pool = pool;
    s0 = tp_get_stats(pool);
    CHECK(tp_team_create(&td, &team, NULL) == TP_OK);
    s1 = tp_get_stats(pool);
    CHECK(s1.bytes_requested - s0.bytes_requested == tp_team_bytes(2) && s1.live_blocks == s0.live_blocks + 1);
    CHECK(team_runs_jobs(team));
    tp_team_destroy(team);
    CHECK(tp_get_stats(pool).live_blocks == s0.live_blocks);
    td.n_threads = TP_MAX_THREADS + 1;
    CHECK(tp_team_create(&td, &team, &e) == TP_ERR_ARG && team == NULL && strstr(e.message, "n_threads"));
    CHECK(tp_team_create(NULL, NULL, &e) == TP_ERR_ARG);
    tp_team_destroy(NULL);
    tp_destroy(pool);
}

#ifndef TP_NO_THREADS
/* A thread that cannot start: the team says so to the logger, and runs on the others. */
static void test_team_thread_start_fails(void)
{
    captured_log log;
    tp_team_desc td;
    tp_team *team = NULL;
    memset(&log, 0, sizeof log);
    memset(&td, 0, sizeof td);
    td.n_threads = 4;
    td.log.fn = capture_log;
    td.log.user = &log;
    tf_fail_from(2); /* the second worker thread fails, and every one after it */
    CHECK(tp_team_create(&td, &team, NULL) == TP_OK);
    tf_fail_from(0);
    CHECK(tp_team_size(team) == 2);
    CHECK_MSG(log.count == 1 && strstr(log.text, "2 of a team's 3 worker threads could not start") &&
              strstr(log.text, "runs on 2 threads, not 4"), "%s", log.text);
    CHECK(team_runs_jobs(team));
    tp_team_destroy(team);
}
#endif

/* Allocator hooks and a logger that take the pool's lock themselves (tp_get_stats): had the pool
   called them under its lock, the thread would wait for itself; an alarm turns that into a
   failure. Every path that gets or returns memory, logs, or grows the debug table runs. */
typedef struct lock_probe { tp_pool *pool; long calls; captured_log log; } lock_probe;

static void probe_pool(lock_probe *lp)
{
    if (lp->pool) {
        tp_get_stats(lp->pool);
        lp->calls++;
    }
}

static void *probing_malloc(size_t n, void *user) { probe_pool((lock_probe *)user); return malloc(n); }
static void probing_free(void *p, size_t n, void *user) { (void)n; probe_pool((lock_probe *)user); free(p); }
static void probing_log(void *user, tp_log_level level, const char *msg)
{
    lock_probe *lp = (lock_probe *)user;
    probe_pool(lp);
    capture_log(&lp->log, level, msg);
}

static void on_alarm(int sig)
{
    static const char msg[] = "  FAIL test_no_callout_under_the_lock: a hook or the logger ran under the pool's lock\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) _exit(4);
    _exit(3);
}

static void test_no_callout_under_the_lock(void)
{
    static lock_probe lp;
    tp_desc d;
    tp_pool *pool = NULL;
    void *p[300];
    tp_frame mark;
    int i;
    memset(&lp, 0, sizeof lp);
    memset(&d, 0, sizeof d);
    d.allocator.alloc = probing_malloc;
    d.allocator.free = probing_free;
    d.allocator.user = &lp;
    d.log.fn = probing_log;
    d.log.user = &lp;
    d.debug = 1;                  /* the debug table grows past 192 blocks */
    d.budget_bytes = 8 * MiB;
    d.max_cached_bytes = 256 * 1024;
    signal(SIGALRM, on_alarm);
    alarm(60);
    CHECK(tp_create(&d, &pool, NULL) == TP_OK);
    lp.pool = pool;
    mark = tp_mark(pool);
    for (i = 0; i < 300; i++) p[i] = tp_alloc(pool, (size_t)(i % 13 + 1) * 1000);
    for (i = 0; i < 300; i += 2) tp_free(pool, p[i]);   /* the cache cap frees some */
    CHECK(tp_alloc(pool, 9 * MiB) == NULL);            /* over budget: logged */
    tp_free(pool, p[0]);                               /* a double free: logged */
    tp_release_to(pool, mark, NULL);
    tp_trim(pool);
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    CHECK(lp.calls > 300 && strstr(lp.log.text, "over budget") && strstr(lp.log.text, "double free"));
    lp.pool = NULL;
    tp_destroy(pool);
}


/* ---- realloc ------------------------------------------------------------------------------------- */

static void test_realloc(void)
{
    tp_pool *pool = make_pool(NULL);
    unsigned char *a, *b, *c;
    tp_stats s0, s1;
    tp_error e;
    int mapped = built_with(" mmap");
    a = (unsigned char *)tp_realloc(pool, NULL, 900);     /* NULL: an allocation */
    CHECK(a != NULL);
    fill(a, 900, 5u);
    b = (unsigned char *)tp_realloc(pool, a, 1000);       /* the same size class (1024): in place */
    CHECK(b == a && intact(b, 900, 5u) && tp_get_stats(pool).bytes_requested == 1000);
    b = (unsigned char *)tp_realloc(pool, a, 300);        /* half the class: a smaller block */
    CHECK(b != NULL && b != a && b[0] == 5u && b[61] == (unsigned char)(5u + 61) && b[244] == (unsigned char)(5u + 244));
    CHECK(tp_get_stats(pool).live_blocks == 1);
    a = (unsigned char *)tp_realloc(pool, b, 300 * 1024); /* class block to page block: a copy */
    CHECK(a != NULL && tp_get_stats(pool).live_blocks == 1 && tp_get_stats(pool).bytes_requested == 300 * 1024);
    tp_free(pool, a);
    if (mapped) { /* grows into the cached chunk right after it: no map, no fault, same pointer */
        a = (unsigned char *)tp_alloc(pool, 6 * MiB);
        tp_free(pool, a);                                  /* a 6 MiB chunk */
        a = (unsigned char *)tp_alloc(pool, 1 * MiB);      /* its first pages; the rest stays cached */
        fill(a, 1 * MiB, 9u);
        s0 = tp_get_stats(pool);
        b = (unsigned char *)tp_realloc(pool, a, 3 * MiB);
        s1 = tp_get_stats(pool);
        CHECK_MSG(b == a && intact(b, 1 * MiB, 9u) && s1.os_maps == s0.os_maps && s1.bytes_fresh == s0.bytes_fresh,
                  "moved %d, maps %llu -> %llu", b != a, (unsigned long long)s0.os_maps, (unsigned long long)s1.os_maps);
        CHECK(s1.bytes_live >= 3 * MiB && s1.bytes_live + s1.bytes_cached == s0.bytes_live + s0.bytes_cached);
        fill(b, 3 * MiB, 3u);
        c = (unsigned char *)tp_realloc(pool, b, 512 * 1024);  /* shrinks in place: the tail is cached */
        s0 = tp_get_stats(pool);
        CHECK_MSG(c == b && c[61 * 8000] == (unsigned char)(3u + 61 * 8000) && s0.bytes_live < 600 * 1024 &&
                  s0.bytes_requested == 512 * 1024, "live %zu, requested %zu", s0.bytes_live, s0.bytes_requested);
        a = (unsigned char *)tp_alloc(pool, 100);
        c = (unsigned char *)tp_realloc(pool, c, 40 * MiB);    /* past every chunk: mremap moves the pages */
        CHECK(c != NULL && tp_get_stats(pool).bytes_requested == 40 * MiB + 100);
        CHECK(c[0] == (unsigned char)3u && c[61] == (unsigned char)(3u + 61));
        tp_free(pool, a);
        tp_free(pool, c);
    }
    /* errors: the block is left as it was */
    a = (unsigned char *)tp_alloc(pool, 5000);
    tp_free(pool, a);
    CHECK(tp_realloc_at(pool, a, 6000, NULL, 0, &e) == NULL && e.code != TP_OK); /* not live */
    a = (unsigned char *)tp_alloc(pool, 5000);
    CHECK(tp_realloc_at(pool, a, (size_t)-1 - 10, NULL, 0, &e) == NULL && e.code == TP_ERR_OVERFLOW);
    CHECK(tp_realloc_at(NULL, a, 10, NULL, 0, &e) == NULL && e.code == TP_ERR_ARG);
    tp_free(pool, a);
    CHECK(invariants_hold(pool) && tp_get_stats(pool).live_blocks == 0);
    tp_destroy(pool);
}

static void test_realloc_budget(void)
{
    tp_desc d = TP_DEFAULTS;
    tp_pool *pool;
    unsigned char *a;
    tp_error e;
    d.budget_bytes = 8 * MiB;
    pool = make_pool(&d);
    a = (unsigned char *)tp_alloc(pool, 2 * MiB);
    fill(a, 2 * MiB, 4u);
    CHECK(tp_realloc_at(pool, a, 12 * MiB, NULL, 0, &e) == NULL && e.code == TP_ERR_BUDGET);
    CHECK(intact(a, 2 * MiB, 4u) && tp_get_stats(pool).bytes_requested == 2 * MiB); /* unchanged */
    tp_free(pool, a);
    tp_destroy(pool);
}

/* ---- the timeline of a debug pool -------------------------------------------------------------- */

typedef struct text_sink { char text[16384]; size_t n; int stop_after; } text_sink;

static int sink_write(void *user, const char *text, size_t n)
{
    text_sink *t = (text_sink *)user;
    if (t->stop_after && --t->stop_after == 0) return 1;
    if (t->n + n >= sizeof t->text) return 1;
    memcpy(t->text + t->n, text, n);
    t->n += n;
    t->text[t->n] = 0;
    return 0;
}

static void test_timeline(void)
{
    tp_desc d = TP_DEFAULTS;
    tp_pool *pool;
    tp_event ev[16];
    uint64_t dropped;
    text_sink sink;
    tp_error e;
    void *a, *b;
    size_t n, i;
    d.debug = 1;
    d.timeline = 6;
    d.budget_bytes = 8 * MiB;
    pool = make_pool(&d);
    CHECK(tp_get_desc(pool).timeline == 6);
    a = tp_alloc_at(pool, 100, 0, "model.c", 12, NULL);
    b = tp_alloc_at(pool, 1 * MiB, 0, "a \"quoted\"\\name.c", 34, NULL);
    tp_free(pool, a);
    b = tp_realloc(pool, b, 900 * 1024);             /* in place, in every build */
    CHECK(tp_alloc_at(pool, 9 * MiB, 0, "big.c", 56, NULL) == NULL);
    n = tp_timeline(pool, ev, 16, &dropped);
    CHECK_MSG(n == 5 && dropped == 0, "n %zu", n);
    CHECK(ev[0].kind == TP_EVENT_ALLOC && ev[0].bytes == 100 && ev[0].line == 12 && !strcmp(ev[0].file, "model.c"));
    CHECK(ev[1].kind == TP_EVENT_ALLOC && ev[1].live > 1 * MiB && ev[0].live > 0 && ev[0].live < 1024);
    CHECK(ev[2].kind == TP_EVENT_FREE && ev[2].ptr == a && ev[2].live == ev[1].live - ev[0].live);
    CHECK(ev[3].kind == TP_EVENT_RESIZE && ev[3].bytes == 900 * 1024 && ev[3].live >= 900 * 1024 && ev[3].ptr == b);
    CHECK(ev[4].kind == TP_EVENT_FAIL && ev[4].ptr == NULL && ev[4].bytes == 9 * MiB && ev[4].line == 56);
    for (i = 1; i < n; i++) CHECK(ev[i].t_us >= ev[i - 1].t_us);
    memset(&sink, 0, sizeof sink);
    CHECK(tp_timeline_json(pool, sink_write, &sink, &e) == TP_OK);
    CHECK_MSG(strstr(sink.text, "\"format\": \"tensorpool-timeline\"") && strstr(sink.text, "\"op\": \"resize\"") &&
              strstr(sink.text, "\"file\": \"a \\\"quoted\\\"\\\\name.c\", \"line\": 34") &&
              strstr(sink.text, "\"op\": \"fail\", \"bytes\": 9437184"), "%s", sink.text);
    tp_free(pool, b);
    tp_free(pool, tp_alloc(pool, 10));               /* 10 events in all: the 4 oldest dropped */
    tp_free(pool, tp_alloc(pool, 10));
    n = tp_timeline(pool, ev, 16, &dropped);
    CHECK(n == 6 && dropped == 4 && ev[0].kind == TP_EVENT_FAIL && ev[1].kind == TP_EVENT_FREE && ev[1].live < 1024);
    CHECK(tp_timeline(pool, NULL, 0, NULL) == 6 && tp_timeline(pool, ev, 2, NULL) == 2 && ev[1].kind == TP_EVENT_FREE);
    memset(&sink, 0, sizeof sink);
    sink.stop_after = 2;
    CHECK(tp_timeline_json(pool, sink_write, &sink, &e) == TP_ERR_IO);
    tp_destroy(pool);
    d.debug = -1;                                    /* not a debug pool: no timeline */
    pool = make_pool(&d);
    CHECK(tp_get_desc(pool).timeline == -1 && tp_timeline(pool, ev, 16, &dropped) == 0 && dropped == 0);
    CHECK(tp_timeline_json(pool, sink_write, &sink, &e) == TP_ERR_UNSUPPORTED && strstr(e.message, "debug"));
    tp_destroy(pool);
    d.timeline = -2;
    CHECK(tp_create(&d, &pool, &e) == TP_ERR_ARG && strstr(e.message, "timeline"));
}

/* ---- the budget handler ---------------------------------------------------------------------- */

typedef struct budget_probe {
    void *held;       /* freed by the handler when asked */
    int calls;
    int always_yes;   /* asks for retries without freeing anything */
    size_t asked;
} budget_probe;

static int free_held_on_budget(void *user, tp_pool *pool, size_t bytes)
{
    budget_probe *b = (budget_probe *)user;
    b->calls++;
    b->asked = bytes;
    if (b->always_yes) return 1;
    if (!b->held) return 0;
    tp_free(pool, b->held);
    b->held = NULL;
    return 1;
}

static void test_budget_handler(void)
{
    tp_desc d = TP_DEFAULTS;
    tp_pool *pool;
    budget_probe probe;
    captured_log log;
    tp_error e;
    void *p;
    memset(&probe, 0, sizeof probe);
    memset(&log, 0, sizeof log);
    d.budget_bytes = 4 * MiB;
    d.on_budget.fn = free_held_on_budget;
    d.on_budget.user = &probe;
    d.log.fn = capture_log;
    d.log.user = &log;
    pool = make_pool(&d);
    probe.held = tp_alloc(pool, 3 * MiB);
    CHECK(probe.held != NULL);
    p = tp_alloc_at(pool, 2 * MiB, 0, NULL, 0, &e);       /* over: the handler frees, the retry fits */
    CHECK_MSG(p && probe.calls == 1 && probe.asked == 2 * MiB && e.code == TP_OK, "p %p, calls %d", p, probe.calls);
    CHECK(tp_get_stats(pool).failures == 0 && log.count == 0); /* a retried try is no failure */
    CHECK(tp_alloc_at(pool, 3 * MiB, 0, NULL, 0, &e) == NULL); /* nothing left to free: it says no */
    CHECK(e.code == TP_ERR_BUDGET && probe.calls == 2 && tp_get_stats(pool).failures == 1 && strstr(log.text, "over budget"));
    probe.always_yes = 1;                                 /* a handler that never helps: bounded */
    CHECK(tp_alloc_at(pool, 3 * MiB, 0, NULL, 0, &e) == NULL && e.code == TP_ERR_BUDGET);
    CHECK_MSG(probe.calls == 2 + TP_BUDGET_RETRIES, "calls %d", probe.calls);
    tp_free(pool, p);
    tp_destroy(pool);
#if defined(__linux__)
    if (built_with(" spill")) { /* when the handler gives up, a request that may spill does */
        char dir[] = "/tmp/tp_budget_XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        d.spill_dir = dir;
        memset(&probe, 0, sizeof probe);
        pool = make_pool(&d);
        p = tp_alloc(pool, 3 * MiB);
        CHECK(tp_alloc(pool, 3 * MiB) != NULL && probe.calls == 1 && tp_get_stats(pool).spills == 1);
        tp_free(pool, p);
        tp_destroy(pool);
        rmdir(dir);
    }
#endif
}

#ifndef TP_NO_THREADS
typedef struct worker { tp_pool *pool; unsigned id; int ok; } worker;

static void *worker_run(void *arg)
{
    worker *w = (worker *)arg;
    void *live[16] = {0};
    size_t req[16] = {0};
    unsigned tag[16] = {0};
    uint64_t seed = 0x9e3779b97f4a7c15ull * (w->id + 1);
    int i;
    w->ok = 1;
    for (i = 0; i < 20000; i++) {
        int k = (int)(rng_next(&seed) % 16);
        if (live[k]) {
            w->ok &= intact((unsigned char *)live[k], req[k], tag[k]);
            w->ok &= tp_free(w->pool, live[k]) == TP_OK;
            live[k] = NULL;
        } else {
            req[k] = rng_size(&seed, 8, (i % 50 == 0) ? 2 * MiB : 64 * 1024);
            tag[k] = w->id * 131u + (unsigned)i;
            live[k] = tp_alloc(w->pool, req[k]);
            if (!live[k]) { w->ok = 0; continue; }
            fill((unsigned char *)live[k], req[k], tag[k]);
        }
    }
    for (i = 0; i < 16; i++) tp_free(w->pool, live[i]);
    return NULL;
}

static void test_two_threads_integrity(void)
{
    tp_pool *pool = make_pool(NULL);
    pthread_t t[2];
    worker w[2];
    unsigned i;
    tp_stats s;
    for (i = 0; i < 2; i++) {
        w[i].pool = pool;
        w[i].id = i;
        pthread_create(&t[i], NULL, worker_run, &w[i]);
    }
    for (i = 0; i < 2; i++) pthread_join(t[i], NULL);
    CHECK(w[0].ok && w[1].ok);
    s = tp_get_stats(pool);
    CHECK(s.bytes_live == 0 && s.live_blocks == 0 && s.allocs == s.frees && s.hits + s.misses == s.allocs);
    CHECK(s.bytes_reserved == s.bytes_cached);
    tp_destroy(pool);
}

/* ---- thread caches ------------------------------------------------------------------------------ */

typedef struct tc_job {
    tp_pool *pool;
    void *blocks[64];
    size_t n;
    size_t bytes;       /* block sizes to allocate */
    int ok;
} tc_job;

static void *tc_alloc_job(void *arg)
{
    tc_job *j = (tc_job *)arg;
    size_t i;
    j->ok = 1;
    for (i = 0; i < j->n; i++) {
        j->blocks[i] = tp_alloc(j->pool, j->bytes);
        if (!j->blocks[i]) j->ok = 0;
        else fill((unsigned char *)j->blocks[i], j->bytes, (unsigned)i);
    }
    return NULL;
}

static void *tc_free_job(void *arg)
{
    tc_job *j = (tc_job *)arg;
    size_t i;
    j->ok = 1;
    for (i = 0; i < j->n; i++) {
        j->ok &= intact((unsigned char *)j->blocks[i], j->bytes, (unsigned)i);
        j->ok &= tp_free(j->pool, j->blocks[i]) == TP_OK;
    }
    return NULL;
}

static void run_thread(void *(*fn)(void *), tc_job *j)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fn, j) == 0);
    pthread_join(t, NULL);
}

/* One thread at a time (each joined before the next starts): every counter and peak is exact,
   whichever thread cache holds the blocks and whichever thread frees them. */
static void test_thread_caches_stats_exact(void)
{
    tp_pool *pool = make_pool(NULL);
    tc_job a, b;
    size_t block = 0, i;
    tp_stats s;
    void *warm[40];
    CHECK(tp_get_desc(pool).thread_caches == 1);
    /* the pool's class lists get blocks, so that the threads' caches have something to take */
    for (i = 0; i < 40; i++) warm[i] = tp_alloc(pool, 3000);
    block = tp_get_stats(pool).bytes_live / 40; /* the class size (tp_usable_size is 3000 under ASan) */
    for (i = 0; i < 40; i++) tp_free(pool, warm[i]);
    tp_reset_peak(pool);
    memset(&a, 0, sizeof a);
    a.pool = pool;
    a.n = 30;
    a.bytes = 3000;
    run_thread(tc_alloc_job, &a);     /* thread A allocates 30 blocks ... */
    CHECK(a.ok);
    s = tp_get_stats(pool);
    CHECK_MSG(s.live_blocks == 30 && s.bytes_live == 30 * block && s.bytes_requested == 30 * 3000,
              "live %zu blocks, %zu bytes, %zu requested", s.live_blocks, s.bytes_live, s.bytes_requested);
    CHECK_MSG(s.peak_live == 30 * block && s.peak_requested == 30 * 3000, "peak %zu", s.peak_live);
    CHECK(tp_live_blocks(pool, NULL, NULL) == 30);
    b = a;
    b.n = 20;
    run_thread(tc_free_job, &b);      /* ... thread B frees 20 of them (another thread's blocks) ... */
    CHECK(b.ok);
    s = tp_get_stats(pool);
    CHECK_MSG(s.live_blocks == 10 && s.bytes_live == 10 * block && s.frees == 40 + 20,
              "live %zu, frees %llu", s.live_blocks, (unsigned long long)s.frees);
    CHECK(s.bytes_live + s.bytes_cached == s.bytes_reserved && s.allocs == s.hits + s.misses);
    memmove(b.blocks, b.blocks + 20, 10 * sizeof(void *));
    b.n = 10;
    for (i = 0; i < 10; i++) fill((unsigned char *)b.blocks[i], 3000, (unsigned)i);
    run_thread(tc_free_job, &b);      /* ... and a third thread the rest */
    CHECK(b.ok);
    s = tp_get_stats(pool);
    CHECK(s.live_blocks == 0 && s.bytes_live == 0 && s.bytes_requested == 0 && s.allocs == s.frees);
    CHECK_MSG(s.peak_live == 30 * block, "peak %zu, expected %zu", s.peak_live, 30 * block);
    CHECK(invariants_hold(pool));
    CHECK(tp_trim(pool) == s.bytes_cached && tp_get_stats(pool).bytes_cached == 0); /* exited threads' bins came back */
    tp_destroy(pool);
}

/* A block freed by another thread waits to be settled with its owner's lock; freeing it twice is
   still found, and tp_release_to never releases a block its thread already freed. */
static void test_thread_caches_double_free_and_frames(void)
{
    tp_desc d = TP_DEFAULTS;
    tp_pool *pool;
    captured_log log;
    tc_job a, b;
    tp_frame f;
    tp_stats s;
    memset(&log, 0, sizeof log);
    d.log.fn = capture_log;
    d.log.user = &log;
    pool = make_pool(&d);
    memset(&a, 0, sizeof a);
    a.pool = pool;
    a.n = 16;
    a.bytes = 500;
    tp_free(pool, tp_alloc(pool, 500)); /* this thread has a cache of its own from here on */
    run_thread(tc_alloc_job, &a);     /* blocks of the pool's own path ... */
    run_thread(tc_free_job, &a);      /* ... into a thread's cache, back to the pool at its exit */
    a.n = 8;
    run_thread(tc_alloc_job, &a);     /* so these come from a thread cache */
    b = a;
    b.n = 3;
    tc_free_job(&b);                  /* freed here, by another thread than theirs: collected */
    CHECK(b.ok);
    CHECK(tp_free(pool, a.blocks[1]) == TP_OK);            /* freed again: collected too */
    s = tp_get_stats(pool);                                 /* settles: reported */
    CHECK_MSG(strstr(log.text, "double free") != NULL, "%s", log.text);
    CHECK(s.live_blocks == 5);
    f = tp_mark(pool);
    a.n = 6;
    run_thread(tc_alloc_job, &a);     /* 6 more after the mark, in another thread's cache */
    b = a;
    b.n = 2;
    tc_free_job(&b);                  /* two of them freed (collected) before the release */
    CHECK(tp_get_stats(pool).live_blocks == 9);
    CHECK(tp_release_to(pool, f, NULL) == TP_OK);
    s = tp_get_stats(pool);
    CHECK_MSG(s.live_blocks == 5 && s.bytes_requested == 5 * 500, "live %zu", s.live_blocks);
    CHECK(invariants_hold(pool));
    tp_destroy(pool);
}

/* Blocks waiting in thread caches count against the budget: it is never exceeded. */
static void test_thread_caches_and_budget(void)
{
    tp_desc d = TP_DEFAULTS;
    tp_pool *pool;
    tc_job a;
    void *big;
    tp_stats s;
    d.budget_bytes = 2 * MiB;
    pool = make_pool(&d);
    memset(&a, 0, sizeof a);
    a.pool = pool;
    a.n = 64;
    a.bytes = 8000;
    run_thread(tc_alloc_job, &a);
    a.n = 64;
    tc_free_job(&a);                  /* 512 KB of blocks into this thread's cache */
    big = tp_alloc(pool, 2 * MiB - 300 * 1024);
    s = tp_get_stats(pool);
    CHECK_MSG(s.bytes_reserved <= 2 * MiB, "reserved %zu with a budget of %zu (big %p)", s.bytes_reserved, 2 * MiB, big);
    tp_free(pool, big);
    CHECK(tp_get_stats(pool).bytes_reserved <= 2 * MiB);
    tp_destroy(pool);
}

static void test_thread_caches_off(void)
{
    tp_desc d = TP_DEFAULTS;
    tp_pool *pool;
    d.thread_caches = -1;
    pool = make_pool(&d);
    CHECK(tp_get_desc(pool).thread_caches == 0);
    tp_destroy(pool);
    d.thread_caches = 0;
    d.single_thread = 1;
    pool = make_pool(&d);
    CHECK(tp_get_desc(pool).thread_caches == 0);
    tp_destroy(pool);
    d.single_thread = 0;
    d.debug = 1;
    pool = make_pool(&d);
    CHECK(tp_get_desc(pool).thread_caches == 0);
    tp_destroy(pool);
}

/* Eight threads mix sizes (class blocks and page blocks), hand blocks to each other to free, and
   take part in frames: between two barriers every thread allocates temporaries, and one thread
   releases them all while the others free blocks they made before the mark. Run under
   ThreadSanitizer by make test. */
enum { ST_THREADS = 8, ST_LIVE = 24, ST_ROUNDS = 6, ST_OPS = 1500 };

typedef struct stress_shared {
    tp_pool *pool;
    pthread_barrier_t barrier;
    pthread_mutex_t lock;
    void *mailbox[ST_THREADS][16];   /* blocks handed to thread i to free */
    int mail_n[ST_THREADS];
    tp_frame mark;
    int ok[ST_THREADS];
} stress_shared;

typedef struct stress_arg { stress_shared *sh; int id; } stress_arg;

static void stress_empty_mailbox(stress_shared *sh, int id)
{
    void *mine[16];
    int n, i;
    pthread_mutex_lock(&sh->lock);
    n = sh->mail_n[id];
    memcpy(mine, sh->mailbox[id], (size_t)n * sizeof(void *));
    sh->mail_n[id] = 0;
    pthread_mutex_unlock(&sh->lock);
    for (i = 0; i < n; i++) sh->ok[id] &= intact((unsigned char *)mine[i], 64, 99u) && tp_free(sh->pool, mine[i]) == TP_OK;
}

static void *stress_run(void *arg)
{
    stress_arg *sa = (stress_arg *)arg;
    stress_shared *sh = sa->sh;
    int id = sa->id, round, i;
    void *live[ST_LIVE] = {0};
    size_t req[ST_LIVE] = {0};
    uint64_t seed = 0x51ed270b27a1ull * (uint64_t)(id + 1);
    sh->ok[id] = 1;
    for (round = 0; round < ST_ROUNDS; round++) {
        for (i = 0; i < ST_OPS; i++) {
            int k = (int)(rng_next(&seed) % ST_LIVE);
            if (live[k]) {
                sh->ok[id] &= intact((unsigned char *)live[k], req[k], (unsigned)(id * 31 + k));
                if (rng_next(&seed) % 4 == 0 && req[k] >= 64) { /* hand it to the next thread */
                    int to = (id + 1) % ST_THREADS;
                    fill((unsigned char *)live[k], 64, 99u);
                    pthread_mutex_lock(&sh->lock);
                    if (sh->mail_n[to] < 16) sh->mailbox[to][sh->mail_n[to]++] = live[k], live[k] = NULL;
                    pthread_mutex_unlock(&sh->lock);
                }
                if (live[k]) sh->ok[id] &= tp_free(sh->pool, live[k]) == TP_OK;
                live[k] = NULL;
            } else {
                req[k] = rng_size(&seed, 8, (i % 97 == 0) ? 600 * 1024 : 48 * 1024);
                live[k] = tp_alloc(sh->pool, req[k]);
                if (!live[k]) { sh->ok[id] = 0; continue; }
                fill((unsigned char *)live[k], req[k], (unsigned)(id * 31 + k));
            }
            if (i % 64 == 0) stress_empty_mailbox(sh, id);
        }
        /* a frame: temporaries of every thread, released by thread 0 while the others free
           some of the blocks they made before the mark */
        pthread_barrier_wait(&sh->barrier);
        if (id == 0) sh->mark = tp_mark(sh->pool);
        pthread_barrier_wait(&sh->barrier);
        for (i = 0; i < 20; i++) {
            void *tmp = tp_alloc(sh->pool, rng_size(&seed, 8, 100 * 1024));
            if (!tmp) sh->ok[id] = 0;
            else if (i % 3 == 0) sh->ok[id] &= tp_free(sh->pool, tmp) == TP_OK; /* some freed by hand */
        }
        pthread_barrier_wait(&sh->barrier);
        if (id == 0) sh->ok[id] &= tp_release_to(sh->pool, sh->mark, NULL) == TP_OK;
        else
            for (i = 0; i < ST_LIVE; i += 3)
                if (live[i]) sh->ok[id] &= tp_free(sh->pool, live[i]) == TP_OK, live[i] = NULL;
        pthread_barrier_wait(&sh->barrier);
    }
    for (i = 0; i < ST_LIVE; i++) sh->ok[id] &= tp_free(sh->pool, live[i]) == TP_OK;
    pthread_barrier_wait(&sh->barrier);
    stress_empty_mailbox(sh, id);
    return NULL;
}

static void test_eight_threads_stress(void)
{
    stress_shared sh;
    stress_arg args[ST_THREADS];
    pthread_t t[ST_THREADS];
    tp_stats s;
    int i, all_ok = 1;
    memset(&sh, 0, sizeof sh);
    sh.pool = make_pool(NULL);
    pthread_barrier_init(&sh.barrier, NULL, ST_THREADS);
    pthread_mutex_init(&sh.lock, NULL);
    for (i = 0; i < ST_THREADS; i++) {
        args[i].sh = &sh;
        args[i].id = i;
        CHECK(pthread_create(&t[i], NULL, stress_run, &args[i]) == 0);
    }
    for (i = 0; i < ST_THREADS; i++) pthread_join(t[i], NULL);
    for (i = 0; i < ST_THREADS; i++) all_ok &= sh.ok[i];
    CHECK(all_ok);
    s = tp_get_stats(sh.pool);
    CHECK_MSG(s.live_blocks == 0 && s.bytes_live == 0 && s.bytes_requested == 0 && s.allocs == s.frees,
              "live %zu blocks, %zu bytes; allocs %llu frees %llu", s.live_blocks, s.bytes_live,
              (unsigned long long)s.allocs, (unsigned long long)s.frees);
    CHECK(s.bytes_live + s.bytes_cached == s.bytes_reserved && s.hits + s.misses == s.allocs);
    CHECK(tp_live_blocks(sh.pool, NULL, NULL) == 0);
    pthread_barrier_destroy(&sh.barrier);
    pthread_mutex_destroy(&sh.lock);
    tp_destroy(sh.pool);
}
#endif

int main(void)
{
    RUN(test_alignment_and_sizes);
    RUN(test_size_class_waste);
    RUN(test_reuse_and_stats_invariants);
    RUN(test_same_size_is_a_hit);
    RUN(test_zeroed_after_reuse);
    RUN(test_high_water_and_cache_cap);
#if defined(__linux__)
    if (built_with(" mremap")) RUN(test_recycled_pages_are_not_fresh);
    else printf("skipped test_recycled_pages_are_not_fresh: built without mremap\n");
    if (built_with(" spill")) RUN(test_spill_larger_than_budget);
    else printf("skipped test_spill_larger_than_budget: built without mmap\n");
    if (built_with(" mmap")) RUN(test_trim_lowers_rss);
    else printf("skipped test_trim_lowers_rss: built without mmap\n");
#endif
#if defined(__linux__)
    if (built_with(" mmap") && thp_allowed()) RUN(test_huge_pages);
    else printf("skipped test_huge_pages: no mmap in this build, or transparent huge pages are off\n");
#endif
    RUN(test_single_thread_pool);
    RUN(test_budget_refusal);
    RUN(test_budget_evicts_cache_first);
    RUN(test_timeline);
    RUN(test_budget_handler);
    RUN(test_realloc);
    RUN(test_realloc_budget);
    RUN(test_frames);
    RUN(test_double_free_and_foreign);
    RUN(test_leak_report_and_poison);
    if (built_with(" mmap")) RUN(test_neighbours_merge);
    if (built_with(" mmap")) RUN(test_decay);
    if (built_with(" mmap")) RUN(test_debug_page_blocks);
    else printf("skipped test_debug_page_blocks: built without mmap\n");
    RUN(test_allocator_failure_injection);
#if TP_ASAN
    RUN(test_asan_marks);
#endif
    RUN(test_bad_arguments);
    RUN(test_error_record_and_dtype);
    RUN(test_log_helper);
    RUN(test_query_memory);
    RUN(test_query_cpus);
    RUN(test_team);
#ifndef TP_NO_THREADS
    RUN(test_team_thread_start_fails);
#endif
    RUN(test_no_callout_under_the_lock);
#ifndef TP_NO_THREADS
    RUN(test_two_threads_integrity);
    RUN(test_thread_caches_stats_exact);
    RUN(test_thread_caches_double_free_and_frames);
    RUN(test_thread_caches_and_budget);
    RUN(test_thread_caches_off);
    RUN(test_eight_threads_stress);
#endif
    return tk_summary("tensorpool" 
#ifdef TP_NO_THREADS
                      " (TP_NO_THREADS)"
#endif
                      );
}
