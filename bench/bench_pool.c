/* bench_pool - tensorpool against the system allocator, one allocator per process so that peak
   RSS and page faults belong to it alone (bench/run.sh runs malloc as glibc, glibc tuned, jemalloc
   and mimalloc through LD_PRELOAD, and tensorpool, on the same sequence).

   bench_pool mix   --alloc tp|malloc|floor [--ops N] [--seed S] [--huge-pages -1]
       numeric-buffer mix: sizes log-uniform in [4 KiB, 64 MiB], 4 live buffers (the oldest is
       freed before each allocation), one byte written per 4 KiB page after each allocation.
   bench_pool small --alloc tp|malloc [--pattern pair|live|handoff] [--threads T] [--pairs N]
                    [--single-thread 1] [--pool-per-thread 1] [--thread-caches -1]
       small buffers, sizes log-uniform in [64 B, 64 KiB], T threads on one pool. pair: each thread
       allocates and frees at once (the hit path); live: each thread keeps 8 buffers and frees the
       oldest before each allocation; handoff: one thread allocates, another frees (producer and
       consumer, through a ring of 64), time per buffer.
   Prints one line of key=value pairs. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#define TENSORPOOL_IMPLEMENTATION
#include "../tensorpool.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sched.h>
#include <time.h>

static void sched_yield_or_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    sched_yield();
#endif
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t log_uniform(uint64_t *s, double lo, double hi)
{
    double u = (double)(rng(s) >> 11) / 9007199254740992.0;
    return (size_t)exp(log(lo) + u * (log(hi) - log(lo)));
}

enum { USE_MALLOC, USE_POOL, USE_FLOOR };
static const char *alloc_names[] = {"malloc", "tensorpool", "floor"};

/* "floor" hands out 4 pre-faulted 64 MiB buffers in turn: what the mix costs with no allocator. */
typedef struct allocator {
    int kind;
    tp_pool *pool;
    unsigned char *floor_buf[4];
    int floor_next;
} allocator;

static void *do_alloc(allocator *a, size_t n)
{
    if (a->kind == USE_POOL) return tp_alloc(a->pool, n);
    if (a->kind == USE_FLOOR) return a->floor_buf[a->floor_next++ % 4];
    return malloc(n);
}

static void do_free(allocator *a, void *p)
{
    if (a->kind == USE_POOL) tp_free(a->pool, p);
    else if (a->kind == USE_MALLOC) free(p);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int run_mix(allocator *a, long ops, uint64_t seed)
{
    enum { LIVE = 4 };
    unsigned char *live[LIVE] = {0};
    size_t *sizes = (size_t *)malloc((size_t)ops * sizeof(size_t));
    long i, f0;
    double t0, c0, t, c, in_alloc = 0;
    size_t k;
    for (i = 0; i < ops; i++) sizes[i] = log_uniform(&seed, 4096.0, 64.0 * 1048576.0);
    f0 = minor_faults();
    t0 = now();
    c0 = cpu_seconds();
    for (i = 0; i < ops; i++) {
        int slot = (int)(i % LIVE);
        double ta = now();
        if (live[slot]) do_free(a, live[slot]);
        live[slot] = (unsigned char *)do_alloc(a, sizes[i]);
        in_alloc += now() - ta;
        if (!live[slot]) { fprintf(stderr, "allocation of %zu bytes failed\n", sizes[i]); return 1; }
        for (k = 0; k < sizes[i]; k += 4096) live[slot][k] = (unsigned char)k;
    }
    t = now() - t0;
    c = cpu_seconds() - c0;
    for (i = 0; i < LIVE; i++) do_free(a, live[i]);
    printf("bench=mix alloc=%s ops=%ld us_per_op=%.1f alloc_free_us_per_op=%.1f cpu_us_per_op=%.1f faults_per_op=%.1f peak_rss_mib=%.1f",
           alloc_names[a->kind], ops, 1e6 * t / (double)ops, 1e6 * in_alloc / (double)ops, 1e6 * c / (double)ops,
           (double)(minor_faults() - f0) / (double)ops, (double)peak_rss_kib() / 1024.0);
    if (a->kind == USE_POOL) {
        tp_stats s = tp_get_stats(a->pool);
        printf(" hit_rate=%.3f maps_per_op=%.2f unmaps_per_op=%.2f fresh_mib_per_op=%.2f peak_reserved_mib=%.1f", s.hit_rate,
               (double)s.os_maps / (double)ops, (double)s.os_unmaps / (double)ops,
               (double)s.bytes_fresh / 1048576.0 / (double)ops, (double)s.peak_reserved / 1048576.0);
    }
    printf("\n");
    free(sizes);
    return 0;
}

enum { PAIR, LIVE, HANDOFF };
enum { RING = 64 };

typedef struct small_job {
    allocator *a, own;
    int pattern;
    long pairs;
    const size_t *sizes;
    double seconds;
    /* handoff: the producer's ring, read by the consumer */
    unsigned char *ring[RING];
    long head, tail; /* written with atomics: head by the producer, tail by the consumer */
} small_job;

static void run_pairs(small_job *j)
{
    long i;
    for (i = 0; i < j->pairs; i++) {
        unsigned char *p = (unsigned char *)do_alloc(j->a, j->sizes[i & 1023]);
        p[0] = (unsigned char)i;
        do_free(j->a, p);
    }
}

static void run_live(small_job *j)
{
    unsigned char *live[8] = {0};
    long i;
    for (i = 0; i < j->pairs; i++) {
        int k = (int)(i & 7);
        do_free(j->a, live[k]);
        live[k] = (unsigned char *)do_alloc(j->a, j->sizes[i & 1023]);
        live[k][0] = (unsigned char)i;
    }
    for (i = 0; i < 8; i++) do_free(j->a, live[i]);
}

static void run_producer(small_job *j)
{
    long i;
    for (i = 0; i < j->pairs; i++) {
        unsigned char *p = (unsigned char *)do_alloc(j->a, j->sizes[i & 1023]);
        p[0] = (unsigned char)i;
        while (i - __atomic_load_n(&j->tail, __ATOMIC_ACQUIRE) >= RING) sched_yield_or_pause();
        j->ring[i % RING] = p;
        __atomic_store_n(&j->head, i + 1, __ATOMIC_RELEASE);
    }
}

static void run_consumer(small_job *j, small_job *from)
{
    long i;
    for (i = 0; i < j->pairs; i++) {
        unsigned char *p;
        while (__atomic_load_n(&from->head, __ATOMIC_ACQUIRE) <= i) sched_yield_or_pause();
        p = from->ring[i % RING];
        __atomic_store_n(&from->tail, i + 1, __ATOMIC_RELEASE);
        if (p[0] != (unsigned char)i) abort();
        do_free(j->a, p);
    }
}

static small_job *handoff_source;

static void *small_run(void *arg)
{
    small_job *j = (small_job *)arg;
    double t0 = now();
    if (j->pattern == PAIR) run_pairs(j);
    else if (j->pattern == LIVE) run_live(j);
    else if (j == handoff_source) run_producer(j);
    else run_consumer(j, handoff_source);
    j->seconds = now() - t0;
    return NULL;
}

/* pool_per_thread: each thread gets its own single_thread pool (the way to scale without a lock). */
static const char *pattern_names[] = {"pair", "live", "handoff"};

static int run_small(allocator *a, int threads, long pairs, int pool_per_thread, int pattern)
{
    size_t sizes[1024];
    uint64_t seed = 7;
    pthread_t t[16];
    small_job j[16];
    int i;
    double worst = 0;
    for (i = 0; i < 1024; i++) sizes[i] = log_uniform(&seed, 64.0, 65536.0);
    if (pattern == HANDOFF && (threads != 2 || pool_per_thread)) {
        fprintf(stderr, "--pattern handoff needs --threads 2 and one pool\n");
        return 2;
    }
    memset(j, 0, sizeof j);
    handoff_source = pattern == HANDOFF ? &j[0] : NULL;
    for (i = 0; i < threads; i++) { /* warm the cache: every class seen once */
        j[i].a = a;
        j[i].pattern = PAIR;
        if (pool_per_thread) {
            tp_desc d;
            memset(&d, 0, sizeof d);
            d.single_thread = 1;
            j[i].own.kind = USE_POOL;
            tp_create(&d, &j[i].own.pool, NULL);
            j[i].a = &j[i].own;
        }
        j[i].pairs = 4096;
        j[i].sizes = sizes;
        small_run(&j[i]);
    }
    for (i = 0; i < threads; i++) {
        j[i].pairs = pairs;
        j[i].pattern = pattern;
        pthread_create(&t[i], NULL, small_run, &j[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (j[i].seconds > worst) worst = j[i].seconds;
        if (pool_per_thread) tp_destroy(j[i].own.pool);
    }
    printf("bench=small pattern=%s alloc=%s threads=%d single_thread=%d pool_per_thread=%d pairs_per_thread=%ld ns_per_pair=%.1f\n",
           pattern_names[pattern], pool_per_thread ? "tensorpool" : alloc_names[a->kind], threads,
           pool_per_thread || (a->pool && tp_get_desc(a->pool).single_thread), pool_per_thread, pairs,
           1e9 * worst / (double)pairs);
    return 0;
}

int main(int argc, char **argv)
{
    allocator a;
    long ops = 2000, pairs = 20000000;
    uint64_t seed = 12345;
    int i, threads = 1, rc, single = 0, per_thread = 0, huge = 0, pattern = PAIR, caches = 0;
    tp_desc d;
    const char *mode = argc > 1 ? argv[1] : "";
    memset(&a, 0, sizeof a);
    for (i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--alloc"))
            a.kind = !strcmp(argv[i + 1], "tp") ? USE_POOL : !strcmp(argv[i + 1], "floor") ? USE_FLOOR : USE_MALLOC;
        else if (!strcmp(argv[i], "--pool-per-thread")) per_thread = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--huge-pages")) huge = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ops")) ops = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = (uint64_t)atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pairs")) pairs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--single-thread")) single = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--thread-caches")) caches = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pattern"))
            pattern = !strcmp(argv[i + 1], "live") ? LIVE : !strcmp(argv[i + 1], "handoff") ? HANDOFF : PAIR;
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (threads < 1 || threads > 16 || ops < 1 || pairs < 1) { fprintf(stderr, "bad sizes\n"); return 2; }
    memset(&d, 0, sizeof d);
    d.single_thread = single;
    d.huge_pages = huge;
    d.thread_caches = caches;
    if (single && threads > 1) { fprintf(stderr, "--single-thread 1 needs --threads 1\n"); return 2; }
    if (a.kind == USE_POOL && tp_create(&d, &a.pool, NULL) != TP_OK) { fprintf(stderr, "tp_create failed\n"); return 1; }
    if (a.kind == USE_FLOOR)
        for (i = 0; i < 4; i++) {
            a.floor_buf[i] = (unsigned char *)malloc((size_t)64 << 20);
            memset(a.floor_buf[i], 1, (size_t)64 << 20);
        }
    if (!strcmp(mode, "mix")) rc = run_mix(&a, ops, seed);
    else if (!strcmp(mode, "small")) rc = run_small(&a, threads, pairs, per_thread, pattern);
    else { fprintf(stderr, "usage: bench_pool mix|small --alloc tp|malloc [...]\n"); rc = 2; }
    if (a.pool && getenv("BENCH_POOL_STATS")) { /* for looking into a run, not for the tables */
        tp_stats st = tp_get_stats(a.pool);
        fprintf(stderr, "allocs %llu hits %llu os_maps %llu os_unmaps %llu cached %zu peak_live %zu\n",
                (unsigned long long)st.allocs, (unsigned long long)st.hits, (unsigned long long)st.os_maps,
                (unsigned long long)st.os_unmaps, st.bytes_cached, st.peak_live);
    }
    if (a.pool) tp_destroy(a.pool);
    if (a.kind == USE_FLOOR)
        for (i = 0; i < 4; i++) free(a.floor_buf[i]);
    return rc;
}
