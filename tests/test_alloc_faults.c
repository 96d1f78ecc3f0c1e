/* Allocation failures, injected at two levels: each main entry point of the four headers runs
   again and again (1) on a fresh pool whose allocator hooks fail their k-th call, and (2) with
   its k-th tp_alloc failing (TP_TEST_ALLOC_FAILS, which reaches the allocations a pool serves
   from its cache too), k = 1, 2, ... until a run makes fewer calls than k. Every run must end in
   TP_OK with the reference results, or in TP_ERR_NOMEM with a message, with every block given
   back (no leak) and the caller's outputs untouched (no partial output). Run from the repository
   root. */
static int test_alloc_fails(void);
#define TP_TEST_ALLOC_FAILS(pool, bytes) ((void)(pool), (void)(bytes), test_alloc_fails())
#define TENSORPOOL_IMPLEMENTATION
#define STAT_STREAM_IMPLEMENTATION
#define PROM2D_IMPLEMENTATION
#define PACGPU_IMPLEMENTATION
#include "../tensorpool.h"
#include "../stat_stream.h"
#include "../prom2d.h"
#include "../pacgpu.h"
#include "testkit.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the failing allocator, and the failing tp_alloc ------------------------------------------ */

static pthread_mutex_t tp_alloc_lock = PTHREAD_MUTEX_INITIALIZER;
static long tp_alloc_calls, tp_alloc_fail_at; /* 0: none fails */

static int test_alloc_fails(void)
{
    int fail;
    pthread_mutex_lock(&tp_alloc_lock);
    fail = tp_alloc_fail_at > 0 && ++tp_alloc_calls == tp_alloc_fail_at;
    pthread_mutex_unlock(&tp_alloc_lock);
    return fail;
}

typedef struct faulty {
    pthread_mutex_t lock; /* workers may allocate too */
    long calls, fail_at;
    long live_blocks;
    size_t live_bytes;
} faulty;

static void *faulty_alloc(size_t bytes, void *user)
{
    faulty *f = (faulty *)user;
    void *p = NULL;
    pthread_mutex_lock(&f->lock);
    if (++f->calls != f->fail_at && (p = malloc(bytes)) != NULL) f->live_blocks++, f->live_bytes += bytes;
    pthread_mutex_unlock(&f->lock);
    return p;
}

static void faulty_free(void *ptr, size_t bytes, void *user)
{
    faulty *f = (faulty *)user;
    pthread_mutex_lock(&f->lock);
    f->live_blocks--, f->live_bytes -= bytes;
    pthread_mutex_unlock(&f->lock);
    free(ptr);
}

/* A scenario: runs the entry point on pool (its outputs in memory the scenario owns); `fresh`
   sets the outputs to the sentinel before the run; `untouched` says whether they still are;
   `matches` whether they equal the reference run's (taken with an ordinary pool first). */
typedef struct scenario {
    const char *name;
    tp_result (*run)(tp_pool *pool, tp_error *err);
    void (*fresh)(void);
    int (*untouched)(void);
    void (*keep_reference)(void);
    int (*matches)(void);
} scenario;

#define SENTINEL 0x5A

static int all_bytes(const void *p, size_t n, unsigned char v)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++)
        if (b[i] != v) return 0;
    return 1;
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static double uniform(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1p-53;
}

/* ---- prom2d: p2d_create and p2d_run with masks, two workers --------------------------------------- */

enum { NX = 9, NY = 11, NT = 300, NA = 3 }; /* several blocks of bins: two workers, a team */
static double cube[NX * NY * NT];
static unsigned char masks[NA * NX * NY * NT], masks_ref[NA * NX * NY * NT];
static uint8_t status[NT], status_ref[NT];

static int on_slice(void *user, const p2d_slice *s)
{
    (void)user, (void)s;
    return 0;
}

static tp_result prom2d_run(tp_pool *pool, tp_error *err)
{
    static const double alphas[NA] = {0.2, 0.5, 0.9};
    p2d_desc d;
    p2d_cube c;
    p2d_masks m;
    p2d_ctx *ctx = NULL;
    tp_result r;
    memset(&d, 0, sizeof d);
    d.pool = pool, d.alphas = alphas, d.n_alpha = NA, d.on_slice = on_slice, d.n_threads = 2;
    if ((r = p2d_create(&d, &ctx, err)) != TP_OK) return r;
    memset(&c, 0, sizeof c);
    c.data = cube, c.dtype = TP_F64, c.n_x = NX, c.n_y = NY, c.n_t = NT;
    memset(&m, 0, sizeof m);
    m.data = masks;
    r = p2d_run(ctx, &c, &m, status, NULL, err);
    p2d_destroy(ctx);
    return r;
}
static void prom2d_fresh(void) { memset(masks, SENTINEL, sizeof masks), memset(status, SENTINEL, sizeof status); }
static int prom2d_untouched(void) { return all_bytes(masks, sizeof masks, SENTINEL) && all_bytes(status, sizeof status, SENTINEL); }
static void prom2d_keep(void) { memcpy(masks_ref, masks, sizeof masks), memcpy(status_ref, status, sizeof status); }
static int prom2d_matches(void) { return !memcmp(masks, masks_ref, sizeof masks) && !memcmp(status, status_ref, sizeof status); }

/* ---- pacgpu: pac_run with surrogates, z, p and pvalues, two workers --------------------------- */

enum { PS = 3, PN = 512, PB = 4 };
static double sig[PS * PN];
static double mi[PB * PB * PS], zz[PB * PB * PS], pp[PB * PB * PS], pmax[PB * PB * PS];
static double mi_ref[PB * PB * PS], zz_ref[PB * PB * PS], pp_ref[PB * PB * PS], pmax_ref[PB * PB * PS];

static tp_result pacgpu_run(tp_pool *pool, tp_error *err)
{
    static const double pha[2 * PB] = {2, 4, 4, 6, 6, 8, 8, 10}, amp[2 * PB] = {30, 40, 40, 50, 50, 60, 60, 70};
    pac_desc d;
    pac_output o;
    memset(&d, 0, sizeof d);
    d.pool = pool, d.fs = 256, d.pha_bands = pha, d.n_pha = PB, d.amp_bands = amp, d.n_amp = PB;
    d.surrogates = PAC_SURR_SWAP_BLOCKS, d.n_perm = 6, d.seed = 3, d.n_threads = 2;
    memset(&o, 0, sizeof o);
    o.pac = mi, o.z = zz, o.p = pp, o.pvalues = pmax;
    return pac_run(&d, sig, TP_F64, PS, PN, NULL, &o, err);
}
static void pacgpu_fresh(void)
{
    memset(mi, SENTINEL, sizeof mi), memset(zz, SENTINEL, sizeof zz), memset(pp, SENTINEL, sizeof pp);
    memset(pmax, SENTINEL, sizeof pmax);
}
static int pacgpu_untouched(void)
{
    return all_bytes(mi, sizeof mi, SENTINEL) && all_bytes(zz, sizeof zz, SENTINEL) && all_bytes(pp, sizeof pp, SENTINEL) &&
           all_bytes(pmax, sizeof pmax, SENTINEL);
}
static void pacgpu_keep(void)
{
    memcpy(mi_ref, mi, sizeof mi), memcpy(zz_ref, zz, sizeof zz), memcpy(pp_ref, pp, sizeof pp);
    memcpy(pmax_ref, pmax, sizeof pmax);
}
static int pacgpu_matches(void)
{
    return !memcmp(mi, mi_ref, sizeof mi) && !memcmp(zz, zz_ref, sizeof zz) && !memcmp(pp, pp_ref, sizeof pp) &&
           !memcmp(pmax, pmax_ref, sizeof pmax);
}

/* ---- stat_stream: ss_lnm (read ahead, two workers), and an accumulator's whole life ------------- */

enum { SUBJ = 4, ST = 20, SV = 300, NF = 5 };
static float subjects[SUBJ][ST][SV];
static double lz[2 * SV], lt[2 * SV], lr[2 * SV], lz_ref[2 * SV], lt_ref[2 * SV], lr_ref[2 * SV];
static double mm[NF], mt[NF], mq[NF], mm_ref[NF], mt_ref[NF], mq_ref[NF];

static tp_result read_subject(void *user, size_t k, float *ts, tp_error *err)
{
    (void)user, (void)err;
    memcpy(ts, subjects[k], sizeof subjects[k]);
    return TP_OK;
}

static tp_result lnm_run(tp_pool *pool, tp_error *err)
{
    static const int64_t vox[] = {3, 4, 5, 200, 201};
    static const size_t off[] = {0, 3, 5};
    ss_seeds seeds = TP_DEFAULTS;
    ss_lnm_desc d;
    ss_lnm_maps m;
    seeds.n_seeds = 2, seeds.voxels = vox, seeds.offsets = off;
    memset(&d, 0, sizeof d);
    d.pool = pool, d.n_subjects = SUBJ, d.n_t = ST, d.n_v = SV, d.read = read_subject, d.seeds = &seeds;
    d.n_threads = 2, d.read_ahead = 1;
    memset(&m, 0, sizeof m);
    m.mean_z = lz, m.t = lt, m.avg_r = lr;
    return ss_lnm(&d, &m, NULL, err);
}
static void lnm_fresh(void) { memset(lz, SENTINEL, sizeof lz), memset(lt, SENTINEL, sizeof lt), memset(lr, SENTINEL, sizeof lr); }
static int lnm_untouched(void) { return all_bytes(lz, sizeof lz, SENTINEL) && all_bytes(lt, sizeof lt, SENTINEL) && all_bytes(lr, sizeof lr, SENTINEL); }
static void lnm_keep(void) { memcpy(lz_ref, lz, sizeof lz), memcpy(lt_ref, lt, sizeof lt), memcpy(lr_ref, lr, sizeof lr); }
static int lnm_matches(void) { return !memcmp(lz, lz_ref, sizeof lz) && !memcmp(lt, lt_ref, sizeof lt) && !memcmp(lr, lr_ref, sizeof lr); }

/* create, add rows, serialize, deserialize, merge, finalize with p and BH q */
static tp_result moments_run(tp_pool *pool, tp_error *err)
{
    double rows[6 * NF];
    ss_moments_desc md;
    ss_moments *a = NULL, *b = NULL, *c = NULL;
    ss_finalize_opts fo;
    ss_maps out;
    unsigned char buf[4096];
    size_t i, n;
    tp_result r;
    for (i = 0; i < 6 * NF; i++) rows[i] = sin((double)i) + (double)(i % NF);
    memset(&md, 0, sizeof md);
    md.pool = pool, md.n_features = NF;
    if ((r = ss_moments_create(&md, &a, err)) != TP_OK || (r = ss_moments_create(&md, &b, err)) != TP_OK ||
        (r = ss_moments_add_rows(a, rows, TP_F64, 3, 0, err)) != TP_OK ||
        (r = ss_moments_add_rows(b, rows + 3 * NF, TP_F64, 3, 0, err)) != TP_OK)
        goto done;
    n = ss_moments_serialized_bytes(b);
    if ((r = ss_moments_serialize(b, buf, sizeof buf, err)) != TP_OK || (r = ss_moments_deserialize(pool, buf, n, &c, err)) != TP_OK ||
        (r = ss_moments_merge(a, c, err)) != TP_OK)
        goto done;
    memset(&fo, 0, sizeof fo);
    memset(&out, 0, sizeof out);
    out.mean = mm, out.p = mt, out.q = mq;
    r = ss_moments_finalize(a, &fo, &out, err);
done:
    ss_moments_destroy(a), ss_moments_destroy(b), ss_moments_destroy(c);
    return r;
}
static void moments_fresh(void) { memset(mm, SENTINEL, sizeof mm), memset(mt, SENTINEL, sizeof mt), memset(mq, SENTINEL, sizeof mq); }
static int moments_untouched(void) { return all_bytes(mm, sizeof mm, SENTINEL) && all_bytes(mt, sizeof mt, SENTINEL) && all_bytes(mq, sizeof mq, SENTINEL); }
static void moments_keep(void) { memcpy(mm_ref, mm, sizeof mm), memcpy(mt_ref, mt, sizeof mt), memcpy(mq_ref, mq, sizeof mq); }
static int moments_matches(void) { return !memcmp(mm, mm_ref, sizeof mm) && !memcmp(mt, mt_ref, sizeof mt) && !memcmp(mq, mq_ref, sizeof mq); }

/* ---- the sweep ------------------------------------------------------------------------------------ */

/* One run with the k-th call of a level failing: 0 when it ends as it must; *calls: how many
   calls the run made at that level */
typedef enum { LEVEL_ALLOCATOR, LEVEL_TP_ALLOC } level;

static tp_result run_failing(const scenario *s, level lv, long k, long *calls, tp_error *err)
{
    faulty f;
    tp_desc d;
    tp_pool *pool = NULL;
    tp_result r;
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.lock, NULL);
    memset(&d, 0, sizeof d);
    if (lv == LEVEL_ALLOCATOR) {
        f.fail_at = k;
        d.allocator.alloc = faulty_alloc, d.allocator.free = faulty_free, d.allocator.user = &f;
    } else {
        tp_alloc_calls = 0, tp_alloc_fail_at = k;
    }
    s->fresh();
    memset(err, 0, sizeof *err);
    if ((r = tp_create(&d, &pool, err)) == TP_OK) {
        r = s->run(pool, err);
        CHECK_MSG(tp_get_stats(pool).live_blocks == 0, "%s, call %ld fails: %zu blocks left live", s->name, k,
                  (size_t)tp_get_stats(pool).live_blocks);
        tp_destroy(pool);
    }
    tp_alloc_fail_at = 0;
    CHECK_MSG(f.live_blocks == 0 && f.live_bytes == 0, "%s, call %ld fails: %ld blocks (%zu bytes) never given back", s->name, k,
              f.live_blocks, f.live_bytes);
    pthread_mutex_destroy(&f.lock);
    *calls = lv == LEVEL_ALLOCATOR ? f.calls : tp_alloc_calls;
    return r;
}

static void sweep(const scenario *s, level lv)
{
    tp_pool *pool = NULL;
    tp_error err;
    long k, failures = 0, calls = 0;
    s->fresh();
    CHECK_MSG(tp_create(NULL, &pool, NULL) == TP_OK && s->run(pool, &err) == TP_OK, "%s: the reference run: %s", s->name,
              err.message);
    tp_destroy(pool);
    s->keep_reference();
    for (k = 1; k < 100000; k++) {
        tp_result r = run_failing(s, lv, k, &calls, &err);
        if (r == TP_OK) {
            CHECK_MSG(s->matches(), "%s, call %ld fails: TP_OK but not the reference results", s->name, k);
            if (calls < k) break; /* every call of the run has failed once */
            continue;             /* a failure it could do without (e.g. a spare it dropped) */
        }
        failures++;
        CHECK_MSG((r == TP_ERR_NOMEM || r == TP_ERR_BUDGET) && err.message[0], "%s, call %ld fails: %s (%s)", s->name, k,
                  tp_result_string(r), err.message);
        CHECK_MSG(s->untouched(), "%s, call %ld fails: %s, but the outputs were written to", s->name, k, tp_result_string(r));
    }
    CHECK_MSG(failures >= 3, "%s: only %ld allocations to fail", s->name, failures);
    printf("%s: each of its %ld %s failed in turn: %ld clean failures\n", s->name, k - 1,
           lv == LEVEL_ALLOCATOR ? "allocator calls" : "tp_allocs", failures);
}

static const scenario scenarios[] = {
    {"p2d_create + p2d_run", prom2d_run, prom2d_fresh, prom2d_untouched, prom2d_keep, prom2d_matches},
    {"pac_run", pacgpu_run, pacgpu_fresh, pacgpu_untouched, pacgpu_keep, pacgpu_matches},
    {"ss_lnm", lnm_run, lnm_fresh, lnm_untouched, lnm_keep, lnm_matches},
    {"ss_moments (create .. finalize)", moments_run, moments_fresh, moments_untouched, moments_keep, moments_matches},
};

static void test_every_allocation_fails_in_turn(void)
{
    size_t i, k, t, v;
    for (i = 0; i < NX * NY * NT; i++) cube[i] = uniform();
    for (i = 0; i < PS * PN; i++) sig[i] = sin(0.15 * (double)i) * (1.5 + sin(0.15 * (double)i)) * sin(1.4 * (double)i) + uniform();
    for (k = 0; k < SUBJ; k++)
        for (t = 0; t < ST; t++)
            for (v = 0; v < SV; v++) subjects[k][t][v] = (float)(uniform() + (v < 10 || (v > 190 && v < 210) ? sin((double)t) : 0));
    for (i = 0; i < sizeof scenarios / sizeof *scenarios; i++) {
        sweep(&scenarios[i], LEVEL_ALLOCATOR);
        sweep(&scenarios[i], LEVEL_TP_ALLOC);
    }
}

/* The sweep counts on every tp_alloc reaching the injector, a block the cache holds included. */
static void test_injection_reaches_cache_hits(void)
{
    tp_pool *pool = NULL;
    void *p;
    CHECK(tp_create(NULL, &pool, NULL) == TP_OK);
    p = tp_alloc(pool, 1000);
    CHECK(p != NULL);
    tp_free(pool, p);
    pthread_mutex_lock(&tp_alloc_lock);
    tp_alloc_calls = 0;
    tp_alloc_fail_at = 1;
    pthread_mutex_unlock(&tp_alloc_lock);
    p = tp_alloc(pool, 1000);
    CHECK_MSG(p == NULL, "the injected failure skipped a request the cache serves");
    pthread_mutex_lock(&tp_alloc_lock);
    tp_alloc_fail_at = 0;
    pthread_mutex_unlock(&tp_alloc_lock);
    tp_free(pool, p);
    tp_destroy(pool);
}

int main(void)
{
    RUN(test_injection_reaches_cache_hits);
    RUN(test_every_allocation_fails_in_turn);
    return tk_summary("allocation faults");
}
