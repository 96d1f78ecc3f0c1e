/* The collection as one library (v1): all four headers in one program, compiled as C and as C++,
   each used through its v1 forms; zero-initialised descs and options mean what their documented
   defaults mean (the same results as the defaults set by hand, and as NULL where NULL is
   allowed); an element type that is not TP_F32 or TP_F64 is TP_ERR_ARG with a message in every
   header; every error names the public function it came from. Run from the repository root. */
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
#include <stdint.h>
#include <string.h>

enum { NX = 12, NY = 9, NT = 40, S = 3, N = 1024, SUBJ = 6, ST = 30, SV = 700 };

static uint64_t rng = 0x2545F4914F6CDD1Du;
static double uniform(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1p-53;
}

/* ---- tensorpool ----------------------------------------------------------------------------- */

static void test_pool_and_team_defaults(void)
{
    tp_desc zero, by_hand, d1, d2, d3;
    tp_pool *a = NULL, *b = NULL, *c = NULL;
    tp_team_desc tz, th;
    tp_team *t1 = NULL, *t2 = NULL, *t3 = NULL;
    memset(&zero, 0, sizeof zero);
    memset(&by_hand, 0, sizeof by_hand);
    by_hand.budget_fraction = 0.8, by_hand.spill_threshold = (size_t)1 << 20, by_hand.debug = -1, by_hand.huge_pages = 1;
    CHECK(tp_create(NULL, &a, NULL) == TP_OK && tp_create(&zero, &b, NULL) == TP_OK && tp_create(&by_hand, &c, NULL) == TP_OK);
    d1 = tp_get_desc(a), d2 = tp_get_desc(b), d3 = tp_get_desc(c);
    CHECK(memcmp(&d1, &d2, sizeof d1) == 0 && memcmp(&d1, &d3, sizeof d1) == 0);
    memset(&tz, 0, sizeof tz);
    memset(&th, 0, sizeof th);
    th.n_threads = tp_thread_count(0);
    CHECK(tp_team_create(NULL, &t1, NULL) == TP_OK && tp_team_create(&tz, &t2, NULL) == TP_OK && tp_team_create(&th, &t3, NULL) == TP_OK);
    CHECK(tp_team_size(t1) == tp_team_size(t2) && tp_team_size(t2) == tp_team_size(t3));
    tp_team_destroy(t1), tp_team_destroy(t2), tp_team_destroy(t3);
    tp_destroy(a), tp_destroy(b), tp_destroy(c);
}

/* ---- prom2d ----------------------------------------------------------------------------------- */

typedef struct peaks_seen { size_t n; double sum; } peaks_seen;
static int count_peaks(void *user, const p2d_slice *s)
{
    peaks_seen *p = (peaks_seen *)user;
    size_t i;
    for (i = 0; i < s->n_peaks; i++) p->sum += s->peaks[i].prominence * (double)(s->t + 1) + s->peaks[i].ix;
    p->n += s->n_peaks;
    return 0;
}

static void test_prom2d_defaults(void)
{
    static double z[NX * NY * NT];
    static unsigned char m1[2 * NX * NY * NT], m2[2 * NX * NY * NT];
    double alphas[2] = {0.3, 0.8};
    p2d_desc zero, by_hand, r1, r2;
    p2d_cube cube, strided;
    p2d_masks masks;
    p2d_ctx *a = NULL, *b = NULL, *c = NULL;
    peaks_seen pa, pb;
    p2d_summary sa, sb;
    tp_error err;
    size_t i;
    for (i = 0; i < NX * NY * NT; i++) z[i] = uniform();
    /* NULL and zero: the same resolved desc */
    memset(&zero, 0, sizeof zero);
    CHECK(p2d_create(NULL, &a, NULL) == TP_OK && p2d_create(&zero, &b, NULL) == TP_OK);
    r1 = p2d_get_desc(a), r2 = p2d_get_desc(b);
    CHECK(r1.mode == r2.mode && r1.connectivity == 8 && r2.connectivity == 8 && r1.n_threads == r2.n_threads &&
          r1.n_threads == tp_thread_count(0) && r1.n_alpha == 0 && r2.n_alpha == 0);
    p2d_destroy(a), p2d_destroy(b);
    /* zero fields = the defaults set by hand: the same peaks and masks; zero strides = C order */
    memset(&zero, 0, sizeof zero);
    zero.alphas = alphas, zero.n_alpha = 2, zero.on_slice = count_peaks;
    by_hand = zero;
    by_hand.mode = P2D_MODE_EXACT, by_hand.connectivity = 8, by_hand.n_threads = tp_thread_count(0);
    memset(&cube, 0, sizeof cube);
    cube.data = z, cube.dtype = TP_F64, cube.n_x = NX, cube.n_y = NY, cube.n_t = NT;
    strided = cube;
    strided.stride_x = NY * NT, strided.stride_y = NT, strided.stride_t = 1;
    memset(&masks, 0, sizeof masks);
    memset(&pa, 0, sizeof pa), memset(&pb, 0, sizeof pb);
    zero.user = &pa, by_hand.user = &pb;
    CHECK(p2d_create(&zero, &a, NULL) == TP_OK && p2d_create(&by_hand, &c, NULL) == TP_OK);
    masks.data = m1;
    CHECK_MSG(p2d_run(a, &cube, &masks, NULL, &sa, &err) == TP_OK, "%s", err.message);
    masks.data = m2;
    CHECK(p2d_run(c, &strided, &masks, NULL, &sb, NULL) == TP_OK);
    CHECK(pa.n == pb.n && pa.n > 0 && pa.sum == pb.sum && memcmp(m1, m2, sizeof m1) == 0 && sa.n_peaks == sb.n_peaks);
    /* an element type that is not one */
    cube.dtype = (tp_dtype)0;
    CHECK(p2d_run(a, &cube, &masks, NULL, NULL, &err) == TP_ERR_ARG && strstr(err.message, "p2d_run") &&
          strstr(err.message, "element type"));
    p2d_destroy(a), p2d_destroy(c);
}

/* ---- pacgpu ------------------------------------------------------------------------------------ */

static void test_pacgpu_defaults(void)
{
    static double x[S * N], mi1[10 * 10 * S], mi2[10 * 10 * S], z1[10 * 10 * S], z2[10 * 10 * S];
    double pha[20], amp[20];
    size_t n = 0, i;
    pac_desc zero, by_hand;
    pac_output o;
    tp_error err;
    for (i = 0; i < S * N; i++) x[i] = sin(0.07 * (double)i) * (1 + sin(0.07 * (double)i)) * sin(1.1 * (double)i) + uniform();
    CHECK(pac_band_preset("lres", PAC_PHASE, pha, &n, NULL) == TP_OK && n == 10);
    CHECK(pac_band_preset("lres", PAC_AMPLITUDE, amp, &n, NULL) == TP_OK);
    memset(&zero, 0, sizeof zero);
    zero.fs = 512, zero.pha_bands = pha, zero.n_pha = 10, zero.amp_bands = amp, zero.n_amp = 10;
    zero.surrogates = PAC_SURR_SWAP_BLOCKS, zero.n_perm = 5;
    by_hand = zero;
    by_hand.pha_cycles = 3, by_hand.amp_cycles = 6, by_hand.method = PAC_MI_TORT, by_hand.p_threshold = 0.05;
    by_hand.precision = TP_F64, by_hand.n_threads = tp_thread_count(0), by_hand.backend = PAC_BACKEND_AUTO;
    by_hand.device_fraction = 0.8;
    memset(&o, 0, sizeof o);
    o.pac = mi1, o.z = z1;
    CHECK_MSG(pac_run(&zero, x, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
    o.pac = mi2, o.z = z2;
    CHECK_MSG(pac_run(&by_hand, x, TP_F64, S, N, NULL, &o, &err) == TP_OK, "%s", err.message);
    CHECK(memcmp(mi1, mi2, sizeof mi1) == 0 && memcmp(z1, z2, sizeof z1) == 0);
    /* NULL is no desc at all (fs and bands are required): an error naming it */
    CHECK(pac_run(NULL, x, TP_F64, S, N, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "pac_run: desc is NULL"));
    CHECK(pac_run(&zero, x, (tp_dtype)0, S, N, NULL, &o, &err) == TP_ERR_ARG && strstr(err.message, "pac_run") &&
          strstr(err.message, "element type"));
}

/* ---- stat_stream ------------------------------------------------------------------------------- */

static float subjects[SUBJ][ST][SV];
static tp_result read_subject(void *user, size_t k, float *ts, tp_error *err)
{
    (void)user, (void)err;
    memcpy(ts, subjects[k], sizeof subjects[k]);
    return TP_OK;
}

static void test_stat_stream_defaults(void)
{
    static const int64_t vox[] = {3, 4, 5, 200, 201};
    static const size_t off[] = {0, 3, 5};
    static double z1[2 * SV], z2[2 * SV], t1[2 * SV], t2[2 * SV];
    double rows[4 * 3], m1[3], m2[3], v1[3], v2[3];
    ss_seeds seeds = {2, vox, off, NULL};
    ss_lnm_desc zero, by_hand;
    ss_lnm_maps maps;
    ss_moments_desc md;
    ss_finalize_opts opts;
    ss_maps fm;
    ss_moments *acc = NULL;
    tp_error err;
    size_t k, t, v;
    for (k = 0; k < SUBJ; k++)
        for (t = 0; t < ST; t++)
            for (v = 0; v < SV; v++) subjects[k][t][v] = (float)(uniform() + (v < 10 || (v > 190 && v < 210) ? sin((double)t) : 0));
    memset(&zero, 0, sizeof zero);
    zero.n_subjects = SUBJ, zero.n_t = ST, zero.n_v = SV, zero.read = read_subject, zero.seeds = &seeds;
    by_hand = zero;
    by_hand.policy = SS_POLICY_STRICT, by_hand.precision = TP_F32, by_hand.n_threads = tp_thread_count(0);
    memset(&maps, 0, sizeof maps);
    maps.mean_z = z1, maps.t = t1;
    CHECK_MSG(ss_lnm(&zero, &maps, NULL, &err) == TP_OK, "%s", err.message);
    maps.mean_z = z2, maps.t = t2;
    CHECK_MSG(ss_lnm(&by_hand, &maps, NULL, &err) == TP_OK, "%s", err.message);
    CHECK(memcmp(z1, z2, sizeof z1) == 0 && memcmp(t1, t2, sizeof t1) == 0);
    CHECK(ss_lnm(NULL, &maps, NULL, &err) == TP_ERR_ARG && strstr(err.message, "ss_lnm: desc"));
    /* the accumulator's options: zero = NULL */
    for (k = 0; k < 12; k++) rows[k] = uniform();
    memset(&md, 0, sizeof md);
    md.n_features = 3;
    CHECK(ss_moments_create(&md, &acc, NULL) == TP_OK && ss_moments_add_rows(acc, rows, TP_F64, 4, 0, NULL) == TP_OK);
    memset(&opts, 0, sizeof opts);
    memset(&fm, 0, sizeof fm);
    fm.t = m1, fm.var = v1;
    CHECK(ss_moments_finalize(acc, NULL, &fm, NULL) == TP_OK);
    fm.t = m2, fm.var = v2;
    CHECK(ss_moments_finalize(acc, &opts, &fm, NULL) == TP_OK);
    CHECK(memcmp(m1, m2, sizeof m1) == 0 && memcmp(v1, v2, sizeof v1) == 0);
    CHECK(ss_moments_add_rows(acc, rows, (tp_dtype)0, 4, 0, &err) == TP_ERR_ARG && strstr(err.message, "ss_moments_add_rows") &&
          strstr(err.message, "element type"));
    CHECK(ss_seedcorr(NULL, &subjects[0][0][0], ST, SV, SV, &seeds, (tp_dtype)0, z1, SV, &err) == TP_ERR_ARG &&
          strstr(err.message, "ss_seedcorr") && strstr(err.message, "element type"));
    ss_moments_destroy(acc);
}

/* ---- every header in one pool, its messages naming their functions --------------------------- */

static void test_one_pool_for_all(void)
{
    static double z[NX * NY * NT], mi[10 * 10 * S], x[S * N];
    double pha[20], amp[20];
    size_t n, i, est_p2d = 0, est_pac = 0;
    tp_pool *pool = NULL;
    tp_desc pd;
    p2d_desc dd;
    p2d_cube cube;
    p2d_ctx *ctx = NULL;
    pac_desc ad;
    pac_output o;
    tp_stats st;
    tp_error err;
    for (i = 0; i < NX * NY * NT; i++) z[i] = uniform();
    for (i = 0; i < S * N; i++) x[i] = uniform();
    memset(&pd, 0, sizeof pd);
    pd.budget_bytes = (size_t)64 << 20;
    CHECK(tp_create(&pd, &pool, NULL) == TP_OK);
    memset(&dd, 0, sizeof dd);
    dd.pool = pool, dd.n_threads = 2;
    memset(&cube, 0, sizeof cube);
    cube.data = z, cube.dtype = TP_F64, cube.n_x = NX, cube.n_y = NY, cube.n_t = NT;
    CHECK(p2d_estimate_bytes(&dd, NX, NY, NT, &est_p2d, NULL) == TP_OK && p2d_create(&dd, &ctx, NULL) == TP_OK);
    tp_reset_peak(pool);
    n = tp_get_stats(pool).bytes_requested;
    CHECK(p2d_run(ctx, &cube, NULL, NULL, NULL, NULL) == TP_OK);
    st = tp_get_stats(pool);
    CHECK(st.peak_requested - n == est_p2d);
    p2d_destroy(ctx);
    pac_band_preset("lres", PAC_PHASE, pha, &n, NULL), pac_band_preset("lres", PAC_AMPLITUDE, amp, &n, NULL);
    memset(&ad, 0, sizeof ad);
    ad.pool = pool, ad.fs = 512, ad.pha_bands = pha, ad.n_pha = 10, ad.amp_bands = amp, ad.n_amp = 10;
    memset(&o, 0, sizeof o);
    o.pac = mi;
    CHECK(pac_estimate_bytes(&ad, S, N, &est_pac, NULL) == TP_OK);
    tp_reset_peak(pool);
    n = tp_get_stats(pool).bytes_requested;
    CHECK(pac_run(&ad, x, TP_F64, S, N, NULL, &o, NULL) == TP_OK);
    CHECK(tp_get_stats(pool).peak_requested - n == est_pac);
    /* over the pool's budget: every header says so, naming itself */
    CHECK(pac_run(&ad, x, TP_F64, S, (size_t)1 << 22, NULL, &o, &err) == TP_ERR_BUDGET && strstr(err.message, "pac_run"));
    CHECK(tp_get_stats(pool).live_blocks == 0);
    tp_destroy(pool);
}

int main(void)
{
    RUN(test_pool_and_team_defaults);
    RUN(test_prom2d_defaults);
    RUN(test_pacgpu_defaults);
    RUN(test_stat_stream_defaults);
    RUN(test_one_pool_for_all);
    return tk_summary("v1 (all four headers)");
}
