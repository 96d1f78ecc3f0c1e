/* Tests of stat_stream.h: accumulators against naive double sums computed here, merge and
   serialization, NaN policies, the statistics against scipy (tests/data/stat, made by
   tools/gen_stat_golden.py), the lesion network mapping reference's Fisher z maps and per-file
   partial states, memory, threads and bad input. Run from the repository root. */
#include "thread_faults.h"
#define TENSORPOOL_IMPLEMENTATION
#define STAT_STREAM_IMPLEMENTATION
#include "../stat_stream.h"
#include "testkit.h"
#include "testlog.h"
#include "testdata.h"

#define DATA "tests/data/stat/"

static npy_array load(const char *name) { return td_load(DATA, name); }

/* An accumulator, or NULL after saying why. */
static ss_moments *acc_of(size_t n_features, ss_nan_policy policy)
{
    ss_moments_desc d;
    ss_moments *m = NULL;
    tp_error err;
    memset(&d, 0, sizeof d);
    d.n_features = n_features;
    d.nan_policy = policy;
    if (ss_moments_create(&d, &m, &err) != TP_OK) fprintf(stderr, "  ss_moments_create: %s\n", err.message);
    return m;
}

static size_t seedcorr_bytes(size_t n_t, size_t n_v, size_t n_seeds, tp_dtype precision)
{
    size_t bytes = 0;
    ss_seedcorr_estimate_bytes(n_t, n_v, n_seeds, precision, &bytes, NULL);
    return bytes;
}

static size_t lnm_bytes(const ss_lnm_desc *d)
{
    size_t bytes = 0;
    ss_lnm_estimate_bytes(d, &bytes, NULL);
    return bytes;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static double uniform01(void)
{
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-53;
}
static double gauss(void) { return sqrt(-2 * log(uniform01() + 1e-300)) * cos(6.283185307179586 * uniform01()); }

/* mean and M2 of column f of a rows x stride matrix, in long double */
static void naive(const double *x, size_t rows, size_t stride, size_t f, double *mean, double *m2)
{
    long double s = 0, d = 0, mu;
    size_t r;
    for (r = 0; r < rows; r++) s += x[r * stride + f];
    mu = s / rows;
    for (r = 0; r < rows; r++) d += (x[r * stride + f] - mu) * (x[r * stride + f] - mu);
    *mean = (double)mu;
    *m2 = (double)d;
}

static int close_rel(double a, double b, double tol) { return fabs(a - b) <= tol * fabs(b) || (a != a && b != b); }

/* rows added in any blocks, and merged accumulators, agree with the whole, for float and double
   rows with a stride */
static void test_blocks_and_merge(void)
{
    enum { R = 97, F = 13, S = 16 };
    double x[R * S], mean[F], var[F], worst = 0;
    float xf[R * S];
    static const size_t cuts[4][4] = {{97, 0, 0, 0}, {1, 96, 0, 0}, {50, 40, 7, 0}, {3, 3, 90, 1}};
    ss_maps maps;
    ss_finalize_opts o;
    size_t i, f, c;
    for (i = 0; i < R * S; i++) xf[i] = (float)(x[i] = 5 + 3 * gauss());
    memset(&maps, 0, sizeof maps);
    maps.mean = mean;
    maps.var = var;
    memset(&o, 0, sizeof o);
    o.ddof = 1;
    for (c = 0; c < 4; c++) {
        ss_moments *whole, *part = NULL;
        size_t at = 0, k;
        CHECK((whole = acc_of(F, SS_NAN_PROPAGATE)) != NULL);
        for (k = 0; k < 4 && cuts[c][k]; k++) { /* blocks into one accumulator, each block also alone, merged into part */
            ss_moments *alone;
            CHECK(ss_moments_add_rows(whole, x + at * S, TP_F64, cuts[c][k], S, NULL) == TP_OK);
            CHECK((alone = acc_of(F, SS_NAN_PROPAGATE)) != NULL);
            CHECK(ss_moments_add_rows(alone, x + at * S, TP_F64, cuts[c][k], S, NULL) == TP_OK);
            if (k == 0) part = alone;
            else {
                CHECK(ss_moments_merge(part, alone, NULL) == TP_OK);
                ss_moments_destroy(alone);
            }
            at += cuts[c][k];
        }
        CHECK(ss_moments_count(whole, 0) == R && ss_moments_count(part, F - 1) == R);
        CHECK(ss_moments_finalize(whole, &o, &maps, NULL) == TP_OK);
        for (f = 0; f < F; f++) {
            double m, m2;
            naive(x, R, S, f, &m, &m2);
            CHECK(close_rel(mean[f], m, 1e-14) && close_rel(var[f], m2 / (R - 1), 1e-13));
            worst = fabs(var[f] - m2 / (R - 1)) / (m2 / (R - 1)) > worst ? fabs(var[f] - m2 / (R - 1)) / (m2 / (R - 1)) : worst;
        }
        CHECK(ss_moments_finalize(part, &o, &maps, NULL) == TP_OK);
        for (f = 0; f < F; f++) {
            double m, m2;
            naive(x, R, S, f, &m, &m2);
            CHECK(close_rel(mean[f], m, 1e-14) && close_rel(var[f], m2 / (R - 1), 1e-13));
        }
        ss_moments_destroy(whole);
        ss_moments_destroy(part);
    }
    { /* float rows are read as their values */
        ss_moments *a;
        double xd[R * S], m, m2;
        for (i = 0; i < R * S; i++) xd[i] = xf[i];
        CHECK((a = acc_of(F, SS_NAN_PROPAGATE)) != NULL);
        CHECK(ss_moments_add_rows(a, xf, TP_F32, 60, S, NULL) == TP_OK && ss_moments_add_rows(a, xf + 60 * S, TP_F32, R - 60, S, NULL) == TP_OK);
        CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_OK);
        naive(xd, R, S, 4, &m, &m2);
        CHECK(close_rel(mean[4], m, 1e-14) && close_rel(var[4], m2 / (R - 1), 1e-13));
        CHECK(ss_moments_add_rows(a, xf, TP_F32, 2, F - 1, NULL) == TP_ERR_ARG && ss_moments_add_rows(a, NULL, TP_F64, 2, 0, NULL) == TP_ERR_ARG);
        CHECK(ss_moments_add_rows(a, xf, (tp_dtype)7, 2, 0, NULL) == TP_ERR_ARG && ss_moments_add_rows(a, NULL, TP_F64, 0, 0, NULL) == TP_OK);
        ss_moments_destroy(a);
    }
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  worst relative variance error %.3g\n", worst);
}

/* Why no sums of squares: values 1e4 + N(0, 1). float32 sum/sumsq gives a variance that is
   wrong in every digit (often negative); double sum/sumsq loses half its digits; the
   accumulator keeps them all. */
static void test_cancellation(void)
{
    enum { R = 1000 };
    double x[R], mean, m2, var;
    float xf[R], s = 0, s2 = 0, var32;
    double ds = 0, ds2 = 0, var64;
    ss_moments *a;
    ss_maps maps;
    ss_finalize_opts o;
    size_t i;
    for (i = 0; i < R; i++) {
        xf[i] = (float)(1e4 + gauss());
        x[i] = xf[i];
        s += xf[i];
        s2 += xf[i] * xf[i];
        ds += x[i];
        ds2 += x[i] * x[i];
    }
    var32 = (s2 - s * s / R) / (R - 1);
    var64 = (ds2 - ds * ds / R) / (R - 1);
    naive(x, R, 1, 0, &mean, &m2);
    CHECK((a = acc_of(1, SS_NAN_PROPAGATE)) != NULL);
    for (i = 0; i < R; i += 100) CHECK(ss_moments_add_rows(a, xf + i, TP_F32, 100, 1, NULL) == TP_OK);
    memset(&maps, 0, sizeof maps);
    maps.var = &var;
    memset(&o, 0, sizeof o);
    o.ddof = 1;
    CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_OK);
    CHECK_MSG(close_rel(var, m2 / (R - 1), 1e-12), "accumulator %.17g vs %.17g", var, m2 / (R - 1));
    CHECK_MSG(fabs(var32 - m2 / (R - 1)) > 0.1 * (m2 / (R - 1)), "float32 sum/sumsq happened to be right: %g", var32);
    CHECK(fabs(var64 - m2 / (R - 1)) > 1e-10 * (m2 / (R - 1)));
    if (getenv("TK_VERBOSE"))
        fprintf(stderr, "  variance of 1e4 + N(0, 1): exact %.10f, accumulator %.10f, double sumsq %.10f, float sumsq %.3f\n",
                m2 / (R - 1), var, var64, (double)var32);
    ss_moments_destroy(a);
}

/* the three NaN policies on a small matrix, against the rules written out here */
static void test_nan_policies(void)
{
    const double nan = 0.0 / 0.0;
    double x[4 * 3] = {1, nan, 5, 2, 4, nan, 3, nan, 7, nan, 6, 9}, mean[3], var[3];
    ss_moments *a;
    ss_maps maps;
    ss_finalize_opts o;
    memset(&maps, 0, sizeof maps);
    maps.mean = mean;
    maps.var = var;
    memset(&o, 0, sizeof o);
    o.ddof = 1;
    CHECK((a = acc_of(3, SS_NAN_PROPAGATE)) != NULL && ss_moments_add_rows(a, x, TP_F64, 4, 0, NULL) == TP_OK);
    CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_OK && mean[0] != mean[0] && mean[1] != mean[1] && var[2] != var[2]);
    ss_moments_destroy(a);
    CHECK((a = acc_of(3, SS_NAN_AS_ZERO)) != NULL && ss_moments_add_rows(a, x, TP_F64, 4, 0, NULL) == TP_OK);
    CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_OK && ss_moments_count(a, 1) == 4);
    CHECK_NEAR(mean[0], 6.0 / 4, 1e-15);
    CHECK_NEAR(mean[1], 10.0 / 4, 1e-15);
    CHECK_NEAR(var[2], ((5 - 5.25) * (5 - 5.25) + (0 - 5.25) * (0 - 5.25) + (7 - 5.25) * (7 - 5.25) + (9 - 5.25) * (9 - 5.25)) / 3, 1e-14);
    ss_moments_destroy(a);
    CHECK((a = acc_of(3, SS_NAN_SKIP)) != NULL && ss_moments_add_rows(a, x, TP_F64, 2, 0, NULL) == TP_OK &&
          ss_moments_add_rows(a, x + 6, TP_F64, 2, 0, NULL) == TP_OK);
    CHECK(ss_moments_count(a, 0) == 3 && ss_moments_count(a, 1) == 2 && ss_moments_count(a, 2) == 3);
    CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_OK);
    CHECK_NEAR(mean[0], 2.0, 1e-15);
    CHECK_NEAR(var[0], 1.0, 1e-15);
    CHECK_NEAR(mean[1], 5.0, 1e-15);
    CHECK_NEAR(var[1], 2.0, 1e-15);
    CHECK_NEAR(mean[2], 7.0, 1e-15);
    CHECK_NEAR(var[2], 4.0, 1e-14);
    ss_moments_destroy(a);
    {
        ss_moments_desc d;
        tp_error e;
        memset(&d, 0, sizeof d);
        d.n_features = 3;
        d.nan_policy = (ss_nan_policy)9;
        a = (ss_moments *)&d;
        CHECK(ss_moments_create(&d, &a, &e) == TP_ERR_ARG && a == NULL && strstr(e.message, "nan_policy"));
        d.nan_policy = SS_NAN_PROPAGATE;
        d.n_features = 0;
        CHECK(ss_moments_create(&d, &a, &e) == TP_ERR_ARG && strstr(e.message, "n_features"));
        d.n_features = (size_t)-1 / 8;
        CHECK(ss_moments_create(&d, &a, &e) == TP_ERR_OVERFLOW);
        CHECK(ss_moments_create(NULL, &a, &e) == TP_ERR_ARG && ss_moments_create(&d, NULL, NULL) == TP_ERR_ARG);
    }
}

/* serialize -> deserialize is exact; bytes that are not a state are refused; merging states of
   different shape or policy is refused */
static void test_serialize(void)
{
    double x[50 * 7];
    ss_moments *a, *b, *c;
    unsigned char *buf;
    size_t i, n;
    for (i = 0; i < 50 * 7; i++) x[i] = i % 11 == 3 ? 0.0 / 0.0 : gauss();
    CHECK((a = acc_of(7, SS_NAN_SKIP)) != NULL && ss_moments_add_rows(a, x, TP_F64, 50, 0, NULL) == TP_OK);
    n = ss_moments_serialized_bytes(a);
    CHECK(n == 24 + 8 * (7 + 14));
    buf = (unsigned char *)malloc(n + 8);
    CHECK(ss_moments_serialize(a, buf, n - 1, NULL) == TP_ERR_ARG && ss_moments_serialize(a, buf, n, NULL) == TP_OK);
    CHECK(memcmp(buf, "SSM1", 4) == 0 && buf[4] == 1 && buf[8] == SS_NAN_SKIP && buf[16] == 7);
    CHECK(ss_moments_deserialize(NULL, buf, n, &b, NULL) == TP_OK);
    {
        unsigned char *again = (unsigned char *)malloc(n);
        CHECK(ss_moments_serialize(b, again, n, NULL) == TP_OK && memcmp(again, buf, n) == 0);
        free(again);
    }
    CHECK(ss_moments_merge(a, b, NULL) == TP_OK && ss_moments_count(a, 3) == 2 * ss_moments_count(b, 3));
    CHECK(ss_moments_deserialize(NULL, buf, n - 8, &c, NULL) == TP_ERR_FORMAT && c == NULL);
    buf[0] = 'X';
    CHECK(ss_moments_deserialize(NULL, buf, n, &c, NULL) == TP_ERR_FORMAT);
    buf[0] = 'S';
    buf[4] = 2;
    CHECK(ss_moments_deserialize(NULL, buf, n, &c, NULL) == TP_ERR_FORMAT);
    buf[4] = 1;
    buf[8] = 7;
    CHECK(ss_moments_deserialize(NULL, buf, n, &c, NULL) == TP_ERR_FORMAT);
    CHECK((c = acc_of(7, SS_NAN_AS_ZERO)) != NULL && ss_moments_merge(a, c, NULL) == TP_ERR_ARG);
    ss_moments_destroy(c);
    CHECK((c = acc_of(6, SS_NAN_SKIP)) != NULL && ss_moments_merge(a, c, NULL) == TP_ERR_ARG);
    ss_moments_destroy(c);
    ss_moments_destroy(a);
    ss_moments_destroy(b);
    free(buf);
}

/* Student t p-values and the incomplete beta against scipy; BH q-values against scipy's
   false_discovery_control; Fisher z's edges */
static void test_against_scipy(void)
{
    npy_array tp = load("t_pvalues.npy"), bh = load("bh.npy");
    double worst = 0, q[500], p[500];
    size_t i, n;
    CHECK(tp.data && bh.data);
    if (!tp.data || !bh.data) goto out;
    n = tp.shape[0];
    for (i = 0; i < n; i++) {
        const double *row = (const double *)tp.data + 3 * i;
        double got = ss_t_pvalue(row[0], row[1]), want = row[2], d;
        /* df = 1 is the Cauchy distribution: p = 1 - 2 atan(|t|) / pi exactly (scipy 1.17's
           t.sf(1e-8, 1) is 3e-9 off it; its cauchy.sf agrees with the closed form) */
        if (row[1] == 1) want = 1 - 2 * atan(fabs(row[0])) / 3.14159265358979323846;
        d = fabs(got - want) / want;
        CHECK_MSG(d <= 1e-10, "t = %g, df = %g: %.17g vs %.17g", row[0], row[1], got, want);
        worst = d > worst ? d : worst;
    }
    for (i = 0; i < 500; i++) p[i] = ((const double *)bh.data)[2 * i];
    CHECK(ss_bh_qvalues(NULL, p, 500, q, NULL) == TP_OK);
    for (i = 0; i < 500; i++) CHECK_MSG(close_rel(q[i], ((const double *)bh.data)[2 * i + 1], 1e-14), "q[%zu]", i);
    p[3] = 0.0 / 0.0; /* NaN is left out: the others' q come from 499 p-values */
    CHECK(ss_bh_qvalues(NULL, p, 500, q, NULL) == TP_OK && q[3] != q[3] && q[0] == q[0]);
    CHECK(ss_t_pvalue(0.0 / 0.0, 5) != ss_t_pvalue(0.0 / 0.0, 5) && ss_t_pvalue(1.0 / 0.0, 5) == 0 && ss_t_pvalue(0, 5) == 1);
    CHECK(ss_t_pvalue(2, 0) != ss_t_pvalue(2, 0));
    CHECK(ss_betainc(2, 3, 0) == 0 && ss_betainc(2, 3, 1) == 1 && ss_betainc(-1, 3, 0.5) != ss_betainc(-1, 3, 0.5));
    CHECK_NEAR(ss_betainc(2, 3, 0.4), 0.5248, 1e-15); /* I_0.4(2, 3) = 1 - 0.6^4 - 4 0.4 0.6^3 */
    CHECK(ss_fisher_z(1, 3) == 3 && ss_fisher_z(-1, 10) == -10 && isinf(ss_fisher_z(1, 0)) && ss_fisher_z(-1, 0) < 0);
    CHECK(ss_fisher_z(1.0000001, 3) != ss_fisher_z(1.0000001, 3) && ss_fisher_z(0.0 / 0.0, 3) != ss_fisher_z(0.0 / 0.0, 3));
    CHECK(ss_fisher_z(0.999999, 3) > 3); /* finite z are never clipped */
    CHECK_NEAR(ss_fisher_z(0.5, 3), 0.54930614433405489, 4e-16); /* atanh(0.5), within 2 ulp */
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  t p-values: worst relative error %.3g over %zu (t, df)\n", worst, n);
out:
    npy_free(&tp);
    npy_free(&bh);
}

/* The lesion network mapping reference (L0_block27, 1002 voxels incl. the constant ones):
   each file's 8 subjects of strict z give its partial state; merged, the strict maps; from r,
   each ldk-family policy's maps (Fisher z with its z_inf, NaN as 0, its ddof, t = 0 where the
   standard error is 0) */
static void test_lnm_reference(void)
{
    enum { S = 24, V = 1002 };
    static const char *pols[4] = {"strict", "ldk_batch_pop", "lacuna_batch_sample", "ldk_single"};
    npy_array z = load("lnm_z_subjects.npy"), r = load("lnm_r_subjects.npy"), nb = load("lnm_partial_n_b.npy"),
              mb = load("lnm_partial_mean_b.npy"), m2b = load("lnm_partial_m2_b.npy");
    double *mean = (double *)malloc(V * sizeof(double)), *sd = (double *)malloc(V * sizeof(double)),
           *t = (double *)malloc(V * sizeof(double)), *zz = (double *)malloc(S * V * sizeof(double)), worst = 0;
    ss_moments *part[3], *all = NULL;
    ss_maps maps;
    ss_finalize_opts o;
    size_t k, v, i;
    int pol;
    CHECK(z.data && r.data && nb.data && mb.data && m2b.data);
    if (!z.data || !r.data || !nb.data || !mb.data || !m2b.data) goto out;
    for (k = 0; k < 3; k++) {
        const double *zk = (const double *)z.data + 8 * k * V;
        CHECK((part[k] = acc_of(V, SS_NAN_PROPAGATE)) != NULL);
        CHECK(ss_moments_add_rows(part[k], zk, TP_F64, 8, 0, NULL) == TP_OK);
        for (v = 0; v < V; v++) CHECK(ss_moments_count(part[k], v) == (uint64_t)((const double *)nb.data)[k * V + v]);
    }
    { /* the partial states themselves: mean and M2 of each file */
        ss_finalize_opts o0;
        memset(&o0, 0, sizeof o0);
        memset(&maps, 0, sizeof maps);
        maps.mean = mean;
        maps.var = sd; /* ddof 0: var = M2 / n */
        for (k = 0; k < 3; k++) {
            CHECK(ss_moments_finalize(part[k], &o0, &maps, NULL) == TP_OK);
            for (v = 0; v < V; v++) {
                double m2 = sd[v] * 8, rm2 = ((const double *)m2b.data)[k * V + v];
                CHECK(close_rel(mean[v], ((const double *)mb.data)[k * V + v], 1e-13));
                CHECK_MSG(fabs(m2 - rm2) <= 1e-12 * (fabs(rm2) + 1e-3) || (m2 != m2 && rm2 != rm2), "file %zu voxel %zu: M2 %.17g vs %.17g",
                          k, v, m2, rm2);
            }
        }
    }
    all = part[0];
    CHECK(ss_moments_merge(all, part[1], NULL) == TP_OK && ss_moments_merge(all, part[2], NULL) == TP_OK);
    for (pol = 0; pol < 4; pol++) {
        char name[96];
        npy_array rm, rs, rt, rr;
        double z_inf = pol == 3 ? 10 : 3;
        ss_moments *acc = all;
        memset(&o, 0, sizeof o);
        o.ddof = pol == 1 ? 0 : 1;
        o.t_population = o.ddof == 0;
        o.t_zero_se = pol == 0 ? SS_T_ZERO_SE_NAN : SS_T_ZERO_SE_ZERO;
        if (pol > 0) { /* the ldk family: z from r with its z_inf, NaN r and z as 0 */
            for (i = 0; i < (size_t)S * V; i++) {
                double rv = ((const double *)r.data)[i];
                zz[i] = ss_fisher_z(rv != rv ? 0.0 : rv, z_inf);
            }
            CHECK((acc = acc_of(V, SS_NAN_AS_ZERO)) != NULL && ss_moments_add_rows(acc, zz, TP_F64, S, 0, NULL) == TP_OK);
        }
        memset(&maps, 0, sizeof maps);
        maps.mean = mean;
        maps.std = sd;
        maps.t = t;
        CHECK(ss_moments_finalize(acc, &o, &maps, NULL) == TP_OK);
        snprintf(name, sizeof name, "lnm_%s_mean_z.npy", pols[pol]);
        rm = load(name);
        snprintf(name, sizeof name, pol == 0 ? "lnm_%s_std_z_ddof1.npy" : "lnm_%s_std_z.npy", pols[pol]);
        rs = load(name);
        snprintf(name, sizeof name, "lnm_%s_t.npy", pols[pol]);
        rt = load(name);
        snprintf(name, sizeof name, "lnm_%s_mean_r.npy", pols[pol]);
        rr = load(name);
        CHECK(rm.data && rs.data && rt.data && rr.data);
        for (v = 0; rm.data && rs.data && rt.data && rr.data && v < V; v++) {
            double em = ((const double *)rm.data)[v], es = ((const double *)rs.data)[v], et = ((const double *)rt.data)[v];
            double er = ((const double *)rr.data)[v];
            CHECK_MSG(close_rel(mean[v], em, 1e-10) || fabs(mean[v] - em) < 1e-15, "%s voxel %zu mean z %.17g vs %.17g", pols[pol], v, mean[v], em);
            CHECK_MSG(close_rel(sd[v], es, 1e-10) || fabs(sd[v] - es) < 1e-13, "%s voxel %zu std %.17g vs %.17g", pols[pol], v, sd[v], es);
            CHECK_MSG(close_rel(t[v], et, 1e-10) || fabs(t[v] - et) < 1e-9, "%s voxel %zu t %.17g vs %.17g", pols[pol], v, t[v], et);
            CHECK_MSG(close_rel(tanh(mean[v]), er, 1e-10), "%s voxel %zu mean r", pols[pol], v);
            if (em == em && fabs(t[v] - et) / fabs(et) > worst) worst = fabs(t[v] - et) / fabs(et);
        }
        npy_free(&rm); npy_free(&rs); npy_free(&rt); npy_free(&rr);
        if (acc != all) ss_moments_destroy(acc);
    }
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  LNM reference: worst relative t error %.3g\n", worst);
    ss_moments_destroy(part[1]);
    ss_moments_destroy(part[2]);
    ss_moments_destroy(all);
out:
    free(mean); free(sd); free(t); free(zz);
    npy_free(&z); npy_free(&r); npy_free(&nb); npy_free(&mb); npy_free(&m2b);
}

/* q needs p; bad options; a feature with one sample has NaN variance (ddof 1), t and p */
static void test_finalize_edges(void)
{
    double x[2] = {1, 2}, mean, var, t, p, q;
    ss_moments *a;
    ss_maps maps;
    ss_finalize_opts o;
    CHECK((a = acc_of(1, SS_NAN_PROPAGATE)) != NULL && ss_moments_add_rows(a, x, TP_F64, 1, 0, NULL) == TP_OK);
    memset(&maps, 0, sizeof maps);
    maps.mean = &mean;
    maps.var = &var;
    maps.t = &t;
    maps.p = &p;
    maps.q = &q;
    memset(&o, 0, sizeof o);
    o.ddof = 1;
    CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_OK && mean == 1 && var != var && t != t && p != p);
    CHECK(ss_moments_add_rows(a, x + 1, TP_F64, 1, 0, NULL) == TP_OK && ss_moments_finalize(a, &o, &maps, NULL) == TP_OK);
    CHECK_NEAR(var, 0.5, 1e-15);
    CHECK_NEAR(t, 1.5 / 0.5, 1e-14);
    CHECK_NEAR(p, ss_t_pvalue(3, 1), 1e-15);
    CHECK_NEAR(q, p, 1e-15);
    maps.p = NULL;
    CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_ERR_ARG);
    maps.p = &p;
    o.ddof = 2;
    CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_ERR_ARG);
    o.ddof = 1;
    o.t_zero_se = (ss_t_zero_se)5;
    CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_ERR_ARG);
    { /* zero options are NULL options: the same t (ddof 1), var (ddof 0) */
        double t0 = 1, t1 = 2, v0 = 3, v1 = 4;
        ss_maps m0;
        memset(&o, 0, sizeof o);
        memset(&m0, 0, sizeof m0);
        m0.t = &t0, m0.var = &v0;
        CHECK(ss_moments_finalize(a, NULL, &m0, NULL) == TP_OK);
        m0.t = &t1, m0.var = &v1;
        CHECK(ss_moments_finalize(a, &o, &m0, NULL) == TP_OK);
        CHECK(t0 == t1 && v0 == v1 && t0 == 3.0 && v0 == 0.25);
        o.ddof = 1;
        o.t_zero_se = (ss_t_zero_se)5;
    }
    CHECK(ss_moments_finalize(a, NULL, &maps, NULL) == TP_OK);
    ss_moments_destroy(a);
    { /* constant data: se 0 gives t NaN (strict) or 0 */
        double c[3] = {4, 4, 4};
        CHECK((a = acc_of(1, SS_NAN_PROPAGATE)) != NULL && ss_moments_add_rows(a, c, TP_F64, 3, 0, NULL) == TP_OK);
        maps.q = NULL;
        CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_ERR_ARG);
        o.t_zero_se = SS_T_ZERO_SE_NAN;
        CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_OK && t != t);
        o.t_zero_se = SS_T_ZERO_SE_ZERO;
        CHECK(ss_moments_finalize(a, &o, &maps, NULL) == TP_OK && t == 0 && p == 1);
        ss_moments_destroy(a);
    }
    CHECK(strcmp(tp_result_string(TP_ERR_FORMAT), "malformed input") == 0);
}

/* r of every (seed, voxel) against a long-double Pearson computed here: data with a 1e4 offset
   and scales from 1e-3 to 1e3, a constant voxel, a constant seed, a single-voxel seed, a voxel
   count that is not a multiple of the GEMM block; float64 to 1e-12, float32 to 2e-5 */
static void test_seedcorr_naive(void)
{
    enum { T = 37, V = 1203, LD = 1210, L = 5 };
    static const int64_t vox[] = {3, 4, 5, 900, 17, 1202, 600, 601, 602, 603, 7};
    static const size_t off[L + 1] = {0, 3, 4, 6, 10, 11};
    float *ts = (float *)malloc(T * LD * sizeof(float));
    double *r = (double *)malloc(L * V * sizeof(double)), worst64 = 0, worst32 = 0, off42 = 0;
    ss_seeds s = TP_DEFAULTS;
    size_t t, v, l, i;
    int prec;
    tp_error err;
    for (t = 0; t < T; t++)
        for (v = 0; v < LD; v++) ts[t * LD + v] = (float)(1e4 + pow(10.0, (double)(v % 7) - 3) * gauss());
    for (t = 0; t < T; t++) ts[t * LD + 40] = 5.0f;                        /* a constant voxel */
    for (t = 0; t < T; t++) ts[t * LD + 7] = 2.0f;                         /* seed 4 = that constant */
    ts[41] = 2e4f; /* a first sample far off: the worst case of the centring's shifted sums */
    ts[42] = 1e4f + 1; /* and of its shifted products: x_0 ~sqrt(T) std from the mean (std 1e-3 else) */
    s.n_seeds = L;
    s.voxels = vox;
    s.offsets = off;
    for (prec = TP_F32; prec <= TP_F64; prec++) {
        tp_pool *pool = NULL;
        tp_create(NULL, &pool, NULL);
        CHECK_MSG(ss_seedcorr(pool, ts, T, V, LD, &s, (tp_dtype)prec, r, V, &err) == TP_OK, "%s", err.message);
        CHECK(tp_get_stats(pool).peak_requested == seedcorr_bytes(T, V, L, (tp_dtype)prec) && tp_get_stats(pool).live_blocks == 0);
        tp_destroy(pool);
        for (l = 0; l < L; l++) {
            long double seed[T], sm = 0, sn = 0;
            for (t = 0; t < T; t++) {
                seed[t] = 0;
                for (i = off[l]; i < off[l + 1]; i++) seed[t] += ts[t * LD + (size_t)vox[i]];
                seed[t] /= (long double)(off[l + 1] - off[l]);
                sm += seed[t];
            }
            sm /= T;
            for (t = 0; t < T; t++) sn += (seed[t] - sm) * (seed[t] - sm);
            for (v = 0; v < V; v++) {
                long double vm = 0, vn = 0, c = 0, want;
                double got = r[l * V + v], d;
                for (t = 0; t < T; t++) vm += ts[t * LD + v];
                vm /= T;
                for (t = 0; t < T; t++) {
                    vn += (ts[t * LD + v] - vm) * (ts[t * LD + v] - vm);
                    c += (ts[t * LD + v] - vm) * (seed[t] - sm);
                }
                if (vn == 0 || sn == 0) {
                    CHECK_MSG(got != got, "seed %zu voxel %zu: constant series should give NaN, not %g", l, v, got);
                    continue;
                }
                want = c / sqrtl(vn * sn);
                d = fabs(got - (double)want);
                if (prec == TP_F64) {
                    CHECK_MSG(d <= 1e-12, "float64: seed %zu voxel %zu: %.17g vs %.17Lg", l, v, got, want);
                    worst64 = d > worst64 ? d : worst64;
                } else {
                    CHECK_MSG(d <= 2e-5, "float32: seed %zu voxel %zu: %.9g vs %.9Lg", l, v, got, want);
                    worst32 = d > worst32 ? d : worst32;
                    off42 = v == 42 && d > off42 ? d : off42;
                }
            }
        }
    }
    CHECK(r[1 * V + 900] > 0.999999); /* a single-voxel seed correlates with itself */
    { /* fewer voxels than one block (37): the same r for those voxels, bit for bit */
        static const int64_t sv[] = {3, 4, 5};
        static const size_t so[2] = {0, 3};
        double small[37];
        ss_seeds s1 = TP_DEFAULTS;
        s1.n_seeds = 1;
        s1.voxels = sv;
        s1.offsets = so;
        CHECK(ss_seedcorr(NULL, ts, T, 37, LD, &s1, TP_F64, small, 37, &err) == TP_OK);
#if defined(STAT_STREAM_USE_CBLAS)
        /* a BLAS may take another kernel for a narrower matrix (OpenBLAS does on AVX2 machines):
           the same r to rounding, not to the bit */
        for (v = 0; v < 37; v++)
            CHECK_MSG(small[v] != small[v] ? r[v] != r[v] : fabs(small[v] - r[v]) <= 1e-14, "voxel %zu: %.17g vs %.17g", v,
                      small[v], r[v]);
#else
        CHECK(memcmp(small, r, sizeof small) == 0);
#endif
    }
    { /* weights: the seed is the weighted mean series (a voxel of weight 0 counts for nothing) */
        static const double w[] = {0.25, 1.0, 0.0, 2.0, 0.5, 3.0, 1.0, 1.0, 1.0, 1.0, 7.0};
        double worst = 0;
        s.weights = w;
        CHECK(ss_seedcorr(NULL, ts, T, V, LD, &s, TP_F64, r, V, &err) == TP_OK);
        for (l = 0; l < 4; l++) { /* seed 4 is the constant voxel */
            long double seed[T], sm = 0, sn = 0;
            for (t = 0; t < T; t++) {
                long double ws = 0;
                seed[t] = 0;
                for (i = off[l]; i < off[l + 1]; i++) seed[t] += w[i] * ts[t * LD + (size_t)vox[i]], ws += w[i];
                seed[t] /= ws;
                sm += seed[t];
            }
            sm /= T;
            for (t = 0; t < T; t++) sn += (seed[t] - sm) * (seed[t] - sm);
            for (v = 0; v < V; v += 7) {
                long double vm = 0, vn = 0, c = 0;
                for (t = 0; t < T; t++) vm += ts[t * LD + v];
                vm /= T;
                for (t = 0; t < T; t++) vn += (ts[t * LD + v] - vm) * (ts[t * LD + v] - vm), c += (ts[t * LD + v] - vm) * (seed[t] - sm);
                if (vn == 0) continue;
                worst = fabs(r[l * V + v] - (double)(c / sqrtl(vn * sn))) > worst ? fabs(r[l * V + v] - (double)(c / sqrtl(vn * sn))) : worst;
            }
        }
        CHECK_MSG(worst <= 1e-12, "weighted seeds: r off by %g", worst);
        { /* bad weights are named */
            double bw[11];
            memcpy(bw, w, sizeof bw);
            s.weights = bw;
            bw[2] = -1;
            CHECK(ss_seedcorr(NULL, ts, T, V, LD, &s, TP_F64, r, V, &err) == TP_ERR_ARG && strstr(err.message, "seed 0: weight -1"));
            bw[2] = 0.0 / 0.0;
            CHECK(ss_seedcorr(NULL, ts, T, V, LD, &s, TP_F64, r, V, &err) == TP_ERR_ARG && strstr(err.message, "finite"));
            bw[2] = 0, bw[3] = 0;
            CHECK(ss_seedcorr(NULL, ts, T, V, LD, &s, TP_F64, r, V, &err) == TP_ERR_ARG && strstr(err.message, "seed 1: its weights sum to 0"));
        }
        s.weights = NULL;
    }
    { /* bad seeds are named */
        int64_t bad = 1203;
        size_t off1[2] = {0, 1}, off0[2] = {0, 0};
        ss_seeds b = TP_DEFAULTS;
        b.n_seeds = 1;
        b.voxels = &bad;
        b.offsets = off1;
        CHECK(ss_seedcorr(NULL, ts, T, V, LD, &b, TP_F64, r, V, &err) == TP_ERR_ARG && strstr(err.message, "seed 0: voxel 1203"));
        b.offsets = off0;
        CHECK(ss_seedcorr(NULL, ts, T, V, LD, &b, TP_F64, r, V, &err) == TP_ERR_ARG && strstr(err.message, "no voxel"));
        CHECK(ss_seedcorr(NULL, ts, 1, V, LD, &s, TP_F64, r, V, &err) == TP_ERR_ARG && strstr(err.message, "2 time points"));
        CHECK(ss_seedcorr(NULL, ts, T, V, V - 1, &s, TP_F64, r, V, &err) == TP_ERR_ARG);
        CHECK(ss_seedcorr(NULL, ts, T, V, LD, &s, (tp_dtype)3, r, V, &err) == TP_ERR_ARG && strstr(err.message, "precision"));
        CHECK(seedcorr_bytes((size_t)-1 / 2, V, L, TP_F64) == 0);
    }
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  seed correlation: float64 off by %.3g, float32 by %.3g (absolute r; %.3g for voxel 42)\n", worst64, worst32, off42);
    free(ts);
    free(r);
}

/* Parcel to parcel against long double sums; an empty parcel, a constant one, voxels in none */
static void test_parcel_corr_naive(void)
{
    enum { T = 29, V = 301, LD = 305, P = 6 };
    float *ts = (float *)malloc(T * LD * sizeof(float));
    int32_t of[V];
    double r[P * 7], worst = 0;
    size_t t, v, a, b;
    tp_error err;
    for (v = 0; v < V; v++) of[v] = v % 11 == 0 ? -1 : (int32_t)(v % 5); /* parcel 5: empty */
    for (t = 0; t < T; t++)
        for (v = 0; v < LD; v++) ts[t * LD + v] = (float)(100 + (v % 5 == 4 ? 0.0 : 1 + gauss() + (double)(v % 3) * 0.3 * sin((double)t)));
    /* parcel 4 is constant (every voxel 100) */
    CHECK_MSG(ss_parcel_corr(NULL, ts, T, V, LD, of, P, r, 7, &err) == TP_OK, "%s", err.message);
    for (a = 0; a < P; a++)
        for (b = 0; b < P; b++) {
            long double x[T], y[T], mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
            size_t na = 0, nb = 0;
            double got = r[a * 7 + b], want;
            for (t = 0; t < T; t++) {
                x[t] = y[t] = 0;
                na = nb = 0;
                for (v = 0; v < V; v++) {
                    if (of[v] == (int32_t)a) x[t] += ts[t * LD + v], na++;
                    if (of[v] == (int32_t)b) y[t] += ts[t * LD + v], nb++;
                }
                if (na) x[t] /= na;
                if (nb) y[t] /= nb;
                mx += x[t], my += y[t];
            }
            mx /= T, my /= T;
            for (t = 0; t < T; t++) sxy += (x[t] - mx) * (y[t] - my), sxx += (x[t] - mx) * (x[t] - mx), syy += (y[t] - my) * (y[t] - my);
            if (!na || !nb || a >= 4 || b >= 4) { /* empty or constant: NaN */
                CHECK_MSG(got != got, "parcels %zu, %zu: %g, want NaN", a, b, got);
                continue;
            }
            want = a == b ? 1.0 : (double)(sxy / sqrtl(sxx * syy));
            worst = fabs(got - want) > worst ? fabs(got - want) : worst;
            CHECK_MSG(got == r[b * 7 + a], "not symmetric at %zu, %zu", a, b);
        }
    CHECK_MSG(worst <= 1e-13, "parcel r off by %g", worst);
    of[7] = 6;
    CHECK(ss_parcel_corr(NULL, ts, T, V, LD, of, P, r, 7, &err) == TP_ERR_ARG && strstr(err.message, "parcel_of[7] is 6"));
    of[7] = -2;
    CHECK(ss_parcel_corr(NULL, ts, T, V, LD, of, P, r, 7, &err) == TP_ERR_ARG);
    of[7] = 2;
    CHECK(ss_parcel_corr(NULL, ts, 1, V, LD, of, P, r, 7, &err) == TP_ERR_ARG && strstr(err.message, "2 time points"));
    CHECK(ss_parcel_corr(NULL, ts, T, V, LD, of, P, r, 5, &err) == TP_ERR_ARG && strstr(err.message, "ldr"));
    free(ts);
}

/* one subject of the LNM reference connectome (voxels 0..999, 4998 constant here, 4999
   constant everywhere, and lesion L0_block27's voxels): r equals the reference's float64 r */
static void test_seedcorr_lnm(void)
{
    npy_array ts = load("lnm_ts_subject0.npy"), cols = load("lnm_seed_columns.npy"), rr = load("lnm_r_subjects.npy");
    double r[1029], worst = 0;
    size_t off[2], v, nv;
    ss_seeds s = TP_DEFAULTS;
    tp_error err;
    CHECK(ts.data && cols.data && rr.data);
    if (!ts.data || !cols.data || !rr.data) goto out;
    nv = ts.shape[1];
    off[0] = 0;
    off[1] = cols.shape[0];
    s.n_seeds = 1;
    s.voxels = (const int64_t *)cols.data;
    s.offsets = off;
    CHECK(nv == 1029 && ts.shape[0] == 120);
    CHECK_MSG(ss_seedcorr(NULL, (const float *)ts.data, 120, nv, nv, &s, TP_F64, r, nv, &err) == TP_OK, "%s", err.message);
    for (v = 0; v < 1002; v++) {
        double want = ((const double *)rr.data)[v], d = fabs(r[v] - want);
        CHECK_MSG(d <= 1e-12 || (want != want && r[v] != r[v]), "voxel %zu: %.17g vs %.17g", v, r[v], want);
        if (want == want) worst = d > worst ? d : worst;
    }
    CHECK(r[1000] != r[1000] && r[1001] != r[1001]);
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  LNM subject 0: r off by %.3g\n", worst);
out:
    npy_free(&ts);
    npy_free(&cols);
    npy_free(&rr);
}

/* ---- PINI against lacuna's method (tests/data/pini, made by tools/gen_pini_golden.py) ---- */

enum { PS = 12, PT = 40, PV = 160, PL = 3 };
typedef struct pini_src { const float *ts; size_t first; } pini_src;
static const float *pini_view(void *user, size_t k, tp_error *err)
{
    const pini_src *p = (const pini_src *)user;
    (void)err;
    return p->ts + (p->first + k) * PT * PV;
}

/* Per file (7 and 5 subjects): each subject's row of voxel-to-lesion-mean r, the principal axis
   (sklearn's components_, sign included), the kept voxels; then each file's run with its own
   seeds, the two states merged: lacuna's strict maps (float64) */
static void test_pini_reference(void)
{
    static const size_t first[3] = {0, 7, 12};
    npy_array ts = td_load("tests/data/pini/", "ts.npy"), vox = td_load("tests/data/pini/", "voxels.npy"),
              off = td_load("tests/data/pini/", "offsets.npy"), rows = td_load("tests/data/pini/", "rows.npy"),
              load = td_load("tests/data/pini/", "loadings.npy"), kept = td_load("tests/data/pini/", "kept.npy"),
              mz = td_load("tests/data/pini/", "mean_z.npy"), mt = td_load("tests/data/pini/", "t.npy");
    double row[64], mine[PS * 64], loadings[64], mean_z[PL * PV], t[PL * PV], worst = 0;
    size_t offsets[PL + 1], koff[PL + 1], n, f, s, i;
    int64_t kvox[64];
    ss_seeds seeds, fs;
    ss_lnm_state acc = {NULL, NULL};
    CHECK(ts.data && vox.data && off.data && rows.data && load.data && kept.data && mz.data && mt.data);
    if (!ts.data || !vox.data || !off.data || !rows.data || !load.data || !kept.data || !mz.data || !mt.data) goto out;
    for (i = 0; i <= PL; i++) offsets[i] = (size_t)((const int64_t *)off.data)[i];
    n = offsets[PL];
    memset(&seeds, 0, sizeof seeds);
    seeds.n_seeds = PL, seeds.voxels = (const int64_t *)vox.data, seeds.offsets = offsets;
    for (s = 0; s < PS; s++) {
        CHECK(ss_pini_row(NULL, (const float *)ts.data + s * PT * PV, PT, PV, PV, &seeds, row, NULL) == TP_OK);
        for (i = 0; i < n; i++) {
            double ref = ((const double *)rows.data)[s * n + i];
            worst = fmax(worst, fabs(row[i] - ref));
            mine[s * n + i] = row[i];
        }
    }
    CHECK_MSG(worst < 1e-13, "rows: worst |r - lacuna's| %.3g", worst);
    for (f = 0; f < 2; f++) {
        ss_lnm_desc d;
        ss_lnm_state part = {NULL, NULL};
        pini_src src;
        tp_error err;
        size_t j = 0;
        worst = 0;
        CHECK(ss_pini_select(NULL, mine + first[f] * n, first[f + 1] - first[f], n, &seeds, SS_PINI_PERCENTILE, kvox, koff,
                             loadings, &err) == TP_OK);
        for (i = 0; i < n; i++) {
            worst = fmax(worst, fabs(loadings[i] - ((const double *)load.data)[f * n + i]));
            if (((const unsigned char *)kept.data)[f * n + i]) CHECK(j < koff[PL] && kvox[j++] == seeds.voxels[i]);
        }
        CHECK_MSG(j == koff[PL], "file %zu: %zu voxels kept, lacuna keeps %zu", f, koff[PL], j);
        CHECK_MSG(worst < 1e-10, "file %zu: worst |loading - sklearn's| %.3g", f, worst);
        memset(&fs, 0, sizeof fs);
        fs.n_seeds = PL, fs.voxels = kvox, fs.offsets = koff;
        memset(&d, 0, sizeof d);
        src.ts = (const float *)ts.data, src.first = first[f];
        d.n_subjects = first[f + 1] - first[f], d.n_t = PT, d.n_v = PV, d.view = pini_view, d.source_user = &src;
        d.seeds = &fs, d.precision = TP_F64, d.n_threads = 1, d.skip_avg_r = 1;
        CHECK(ss_lnm(&d, NULL, f ? &part : &acc, &err) == TP_OK);
        if (f) CHECK(part.z && ss_moments_merge(acc.z, part.z, NULL) == TP_OK);
        ss_moments_destroy(part.z);
    }
    if (acc.z) {
        ss_lnm_maps m;
        memset(&m, 0, sizeof m);
        m.mean_z = mean_z, m.t = t;
        CHECK(ss_lnm_finalize(acc.z, NULL, SS_POLICY_STRICT, &m, NULL) == TP_OK);
        worst = 0;
        for (i = 0; i < PL * PV; i++) {
            double rz = ((const double *)mz.data)[i], rt = ((const double *)mt.data)[i];
            CHECK_MSG(close_rel(mean_z[i], rz, 1e-10) && close_rel(t[i], rt, 1e-9), "cell %zu: mean z %.17g vs %.17g, t %.17g vs %.17g",
                      i, mean_z[i], rz, t[i], rt);
            if (rz == rz) worst = fmax(worst, fabs(mean_z[i] - rz));
        }
        CHECK(mean_z[PV - 1] != mean_z[PV - 1]); /* the constant voxel: NaN under strict */
    }
out:
    ss_moments_destroy(acc.z);
    npy_free(&ts), npy_free(&vox), npy_free(&off), npy_free(&rows), npy_free(&load), npy_free(&kept), npy_free(&mz),
        npy_free(&mt);
}

/* The rules at the edges: one subject (or all alike) keeps every voxel; percentile 0 keeps all,
   100 the largest |loading| only; constant series give r 0; bad arguments are named */
static void test_pini_edges(void)
{
    enum { T = 16, V = 6, S = 5 };
    static float ts[S][T][V];
    int64_t vox[4] = {0, 1, 2, 5}, kv[4];
    size_t off[2] = {0, 4}, ko[2], s, t, v;
    double rows[S * 4], load[4];
    ss_seeds seeds;
    tp_error err;
    for (s = 0; s < S; s++)
        for (t = 0; t < T; t++)
            for (v = 0; v < V; v++) ts[s][t][v] = v == 5 ? 3.0f : (float)(gauss() + (v < 2 ? (double)(s + 1) * sin((double)t) : 0));
    memset(&seeds, 0, sizeof seeds);
    seeds.n_seeds = 1, seeds.voxels = vox, seeds.offsets = off;
    for (s = 0; s < S; s++) CHECK(ss_pini_row(NULL, &ts[s][0][0], T, V, V, &seeds, rows + s * 4, NULL) == TP_OK);
    for (s = 0; s < S; s++) CHECK(rows[s * 4 + 3] == 0 && fabs(rows[s * 4]) <= 1); /* the constant voxel */
    CHECK(ss_pini_select(NULL, rows, 1, 4, &seeds, 20, kv, ko, load, NULL) == TP_OK && ko[1] == 4 && load[0] == 0);
    CHECK(ss_pini_select(NULL, rows, S, 4, &seeds, 0, kv, ko, NULL, NULL) == TP_OK && ko[1] == 4);
    CHECK(ss_pini_select(NULL, rows, S, 4, &seeds, 100, kv, ko, load, NULL) == TP_OK && ko[1] == 1);
    for (s = 0; s < 4; s++) CHECK(fabs(load[s]) <= load[0] || kv[0] != vox[0]);
    CHECK(ss_pini_select(NULL, rows, S, 4, &seeds, 101, kv, ko, NULL, &err) == TP_ERR_ARG && strstr(err.message, "percentile"));
    CHECK(ss_pini_select(NULL, rows, 0, 4, &seeds, 20, kv, ko, NULL, &err) == TP_ERR_ARG && strstr(err.message, "n_subjects"));
    CHECK(ss_pini_select(NULL, rows, S, 3, &seeds, 20, kv, ko, NULL, &err) == TP_ERR_ARG && strstr(err.message, "ldrow"));
    CHECK(ss_pini_select(NULL, NULL, S, 4, &seeds, 20, kv, ko, NULL, &err) == TP_ERR_ARG);
    CHECK(ss_pini_row(NULL, &ts[0][0][0], T, V, V - 1, &seeds, rows, &err) == TP_ERR_ARG && strstr(err.message, "ld"));
    vox[3] = 6;
    CHECK(ss_pini_row(NULL, &ts[0][0][0], T, V, V, &seeds, rows, &err) == TP_ERR_ARG && strstr(err.message, "outside"));
    { /* a constant seed of varying voxels (their sum is constant, its mean not a round number): r 0 */
        float x[7][3];
        int64_t cv[3] = {0, 1, 2};
        size_t co[2] = {0, 3};
        double r3[3];
        for (t = 0; t < 7; t++) x[t][0] = (float)(1 + t), x[t][1] = (float)(1 - (double)t), x[t][2] = 0.1f;
        seeds.voxels = cv, seeds.offsets = co;
        CHECK(ss_pini_row(NULL, &x[0][0], 7, 3, 3, &seeds, r3, NULL) == TP_OK && r3[0] == 0 && r3[1] == 0 && r3[2] == 0);
    }
}

/* The principal axis on larger matrices against the power method run to convergence, both Gram
   sides (subjects <= voxels and more subjects than voxels) */
static void test_pini_axis(void)
{
    static const size_t shapes[3][2] = {{40, 300}, {300, 40}, {57, 57}};
    size_t c;
    for (c = 0; c < 3; c++) {
        size_t S = shapes[c][0], n = shapes[c][1], s, i, it;
        double *m = (double *)malloc(S * n * sizeof(double)), *load = (double *)malloc(n * sizeof(double)),
               *x = (double *)calloc(n, sizeof(double)), *y = (double *)malloc(S * sizeof(double)), big = 0, err = 0;
        int64_t *vox = (int64_t *)malloc(n * sizeof(int64_t)), *kv = (int64_t *)malloc(n * sizeof(int64_t));
        size_t off[2] = {0, n}, ko[2];
        ss_seeds seeds;
        if (!m || !load || !x || !y || !vox || !kv) { CHECK(!"out of memory"); goto next; }
        for (i = 0; i < n; i++) vox[i] = (int64_t)i;
        for (s = 0; s < S; s++) /* one dominant direction over subjects, noise around it */
            for (i = 0; i < n; i++) m[s * n + i] = 0.3 * gauss() * sin(0.1 * (double)i) + 0.05 * gauss();
        memset(&seeds, 0, sizeof seeds);
        seeds.n_seeds = 1, seeds.voxels = vox, seeds.offsets = off;
        CHECK(ss_pini_select(NULL, m, S, n, &seeds, 20, kv, ko, load, NULL) == TP_OK);
        for (i = 0; i < n; i++) { /* centre, then power iterations on m'm from the answer's neighbour */
            double mu = 0;
            for (s = 0; s < S; s++) mu += m[s * n + i];
            for (s = 0; s < S; s++) m[s * n + i] -= mu / (double)S;
            x[i] = 1.0 + 0.01 * (double)i;
        }
        for (it = 0; it < 2000; it++) {
            double nrm = 0;
            for (s = 0; s < S; s++) {
                y[s] = 0;
                for (i = 0; i < n; i++) y[s] += m[s * n + i] * x[i];
            }
            for (i = 0; i < n; i++) {
                x[i] = 0;
                for (s = 0; s < S; s++) x[i] += m[s * n + i] * y[s];
                nrm += x[i] * x[i];
            }
            for (i = 0; i < n; i++) x[i] /= sqrt(nrm);
        }
        for (i = 0; i < n; i++) big = fabs(x[i]) > fabs(big) ? x[i] : big;
        for (i = 0; i < n; i++) err = fmax(err, fabs(load[i] - (big < 0 ? -x[i] : x[i])));
        CHECK_MSG(err < 1e-9, "%zu x %zu: worst |loading - power method's| %.3g", S, n, err);
        CHECK(ko[1] >= n * 4 / 5 && ko[1] <= n);
    next:
        free(m), free(load), free(x), free(y), free(vox), free(kv);
    }
}

/* ---- the LNM pipeline on a synthetic connectome, against a naive double implementation ---- */

enum { CS = 7, CT = 30, CV = 600, CL = 3 };
typedef struct conn { float ts[CS][CT][CV]; size_t first; int fail_at; } conn;

static tp_result conn_read(void *user, size_t k, float *ts, tp_error *err)
{
    conn *c = (conn *)user;
    if ((int)(k + c->first) == c->fail_at) return tp_error_set(err, TP_ERR_IO, "chunk %zu is corrupt", k + c->first);
    memcpy(ts, c->ts[k + c->first], sizeof c->ts[0]);
    return TP_OK;
}

static void conn_make(conn *c)
{
    size_t s, t, v;
    memset(c, 0, sizeof *c);
    c->fail_at = -1;
    for (s = 0; s < CS; s++)
        for (t = 0; t < CT; t++) {
            double common = gauss();
            for (v = 0; v < CV; v++) c->ts[s][t][v] = (float)(1e3 + (v % 5) * common + gauss());
            c->ts[s][t][599] = 7.0f;                              /* constant everywhere */
            if (s == 2) c->ts[s][t][598] = 1.0f;                  /* constant in one subject */
            c->ts[s][t][597] = c->ts[s][t][10];                   /* identical to the single-voxel seed */
        }
}

/* the policy's maps for one (seed, voxel) from the subjects' r, as compute_reference.py states them */
static void naive_policy(const double *r, int policy, double *mean_z, double *std, double *t, double *avg_r)
{
    double z[CS], zi = policy == SS_POLICY_STRICT ? 1.0 / 0.0 : policy == SS_POLICY_LDK_SINGLE ? 10 : 3, m = 0, v = 0, ar = 0, se;
    int s, ddof = policy == SS_POLICY_LDK ? 0 : 1;
    for (s = 0; s < CS; s++) {
        double rr = r[s];
        if (policy != SS_POLICY_STRICT && rr != rr) rr = 0;
        z[s] = fabs(rr) == 1 ? (rr > 0 ? zi : -zi) : atanh(rr);
        if (policy != SS_POLICY_STRICT && z[s] != z[s]) z[s] = 0; /* |r| > 1 by rounding: NaN, counted as 0 */
        m += z[s];
        ar += rr;
    }
    m /= CS;
    for (s = 0; s < CS; s++) v += (z[s] - m) * (z[s] - m);
    *mean_z = m;
    *std = sqrt(v / (CS - ddof));
    *avg_r = ar / CS;
    se = *std / sqrt((double)CS);
    *t = se > 0 ? m / se : policy == SS_POLICY_STRICT ? 0.0 / 0.0 : 0.0;
}

static int progress_stop_at(void *user, uint64_t done, uint64_t total)
{
    (void)total;
    return (uint64_t)*(int *)user == done;
}

static void test_lnm_pipeline(void)
{
    static const int64_t vox[] = {100, 101, 102, 120, 121, 122, 10, 300, 450, 451};
    static const size_t off[CL + 1] = {0, 6, 7, 10};
    conn *c = (conn *)malloc(sizeof *c);
    double *r = (double *)malloc(CS * CL * CV * sizeof(double)), *mz = (double *)malloc(CL * CV * sizeof(double));
    double *mr = (double *)malloc(CL * CV * sizeof(double)), *sd = (double *)malloc(CL * CV * sizeof(double));
    double *tt = (double *)malloc(CL * CV * sizeof(double)), *ar = (double *)malloc(CL * CV * sizeof(double));
    double *pp = (double *)malloc(CL * CV * sizeof(double)), worst_t32 = 0, worst_z32 = 0;
    ss_seeds seeds = TP_DEFAULTS;
    ss_lnm_desc d;
    ss_lnm_maps maps;
    tp_error err;
    size_t s, i;
    int pol, prec;
    conn_make(c);
    seeds.n_seeds = CL;
    seeds.voxels = vox;
    seeds.offsets = off;
    for (s = 0; s < CS; s++) /* each subject's r, through the function tested above */
        CHECK(ss_seedcorr(NULL, &c->ts[s][0][0], CT, CV, CV, &seeds, TP_F64, r + s * CL * CV, CV, &err) == TP_OK);
    memset(&d, 0, sizeof d);
    d.n_subjects = CS;
    d.n_t = CT;
    d.n_v = CV;
    d.read = conn_read;
    d.source_user = c;
    d.seeds = &seeds;
    memset(&maps, 0, sizeof maps);
    maps.mean_z = mz;
    maps.mean_r = mr;
    maps.std_z = sd;
    maps.t = tt;
    maps.avg_r = ar;
    maps.p = pp;
    for (prec = TP_F32; prec <= TP_F64; prec++)
        for (pol = SS_POLICY_STRICT; pol <= SS_POLICY_LDK_SINGLE; pol++) {
            tp_pool *pool = NULL;
            tp_create(NULL, &pool, NULL);
            d.pool = pool;
            d.policy = (ss_policy)pol;
            d.precision = (tp_dtype)prec;
            CHECK_MSG(ss_lnm(&d, &maps, NULL, &err) == TP_OK, "%s", err.message);
            CHECK_MSG(tp_get_stats(pool).peak_requested == lnm_bytes(&d) && tp_get_stats(pool).live_blocks == 0,
                      "peak %zu, estimate %zu", tp_get_stats(pool).peak_requested, lnm_bytes(&d));
            tp_destroy(pool);
            for (i = 0; i < CL * CV; i++) {
                double rs[CS], m, sdv, t, a;
                for (s = 0; s < CS; s++) rs[s] = r[s * CL * CV + i];
                naive_policy(rs, pol, &m, &sdv, &t, &a);
                if (prec == TP_F64) {
                    CHECK_MSG(close_rel(mz[i], m, 1e-10) || (isinf(m) && mz[i] == m), "policy %d cell %zu: mean z %.17g vs %.17g", pol, i, mz[i], m);
                    CHECK_MSG(close_rel(sd[i], sdv, 1e-10) || fabs(sd[i] - sdv) < 1e-14 || (sdv != sdv && sd[i] != sd[i]),
                              "policy %d cell %zu: std %.17g vs %.17g", pol, i, sd[i], sdv);
                    CHECK_MSG(close_rel(tt[i], t, 1e-9) || fabs(tt[i] - t) < 1e-9, "policy %d cell %zu: t %.17g vs %.17g", pol, i, tt[i], t);
                    CHECK_MSG(close_rel(ar[i], a, 1e-12) || fabs(ar[i] - a) < 1e-15, "policy %d cell %zu: avg r", pol, i);
                    CHECK(close_rel(mr[i], tanh(m), 1e-10));
                } else if (m == m && !isinf(m) && fabs(m) < 2.5) { /* the float32 envelope, away from r = 1 */
                    double dz = fabs(mz[i] - m), dt = fabs(tt[i] - t) / (fabs(t) + 1e-3);
                    worst_z32 = dz > worst_z32 ? dz : worst_z32;
                    worst_t32 = dt > worst_t32 ? dt : worst_t32;
                }
            }
            if (prec == TP_F64 && pol == SS_POLICY_STRICT) CHECK(mz[599] != mz[599] && mz[598] != mz[598]); /* constant voxels */
        }
    CHECK_MSG(worst_z32 <= 3e-5 && worst_t32 <= 2e-3, "float32: mean z off by %.3g, t by %.3g", worst_z32, worst_t32);
    { /* two partial runs merged equal the whole */
        ss_lnm_state a, b;
        double whole[CL * CV], whole_ar[CL * CV];
        ss_lnm_maps only;
        memset(&only, 0, sizeof only);
        only.mean_z = whole;
        only.avg_r = whole_ar;
        d.pool = NULL;
        d.policy = SS_POLICY_LACUNA;
        d.precision = TP_F64;
        CHECK(ss_lnm(&d, &only, NULL, &err) == TP_OK);
        d.n_subjects = 4;
        CHECK(ss_lnm(&d, NULL, &a, &err) == TP_OK && a.z && a.r);
        c->first = 4;
        d.n_subjects = 3;
        CHECK(ss_lnm(&d, NULL, &b, &err) == TP_OK && b.z && b.r);
        CHECK(ss_moments_merge(a.z, b.z, NULL) == TP_OK && ss_moments_merge(a.r, b.r, NULL) == TP_OK);
        CHECK(ss_lnm_finalize(a.z, a.r, SS_POLICY_LACUNA, &maps, NULL) == TP_OK);
        /* Chan's merge rounds otherwise than one stream: relative 1e-13, or 1e-15 absolute where a
           mean near 0 makes relative differences large (seen with OpenBLAS under load) */
        for (i = 0; i < CL * CV; i++)
            CHECK((close_rel(mz[i], whole[i], 1e-13) || fabs(mz[i] - whole[i]) < 1e-15) &&
                  (close_rel(ar[i], whole_ar[i], 1e-13) || fabs(ar[i] - whole_ar[i]) < 1e-15));
        ss_moments_destroy(a.z);
        ss_moments_destroy(a.r);
        ss_moments_destroy(b.z);
        ss_moments_destroy(b.r);
        c->first = 0;
        d.n_subjects = CS;
    }
    { /* a failing reader is named; cancel; bad arguments */
        tp_pool *pool = NULL;
        tp_create(NULL, &pool, NULL);
        int stop = 3;
        d.pool = pool;
        c->fail_at = 5;
        CHECK(ss_lnm(&d, &maps, NULL, &err) == TP_ERR_IO && strstr(err.message, "subject 5: chunk 5 is corrupt"));
        c->fail_at = -1;
        d.progress = progress_stop_at;
        d.user = &stop;
        CHECK(ss_lnm(&d, &maps, NULL, &err) == TP_ERR_CANCELLED && tp_get_stats(pool).live_blocks == 0);
        d.progress = NULL;
        d.policy = (ss_policy)9;
        CHECK(ss_lnm(&d, &maps, NULL, &err) == TP_ERR_ARG && strstr(err.message, "policy"));
        d.policy = SS_POLICY_STRICT;
        d.n_subjects = 0;
        CHECK(ss_lnm(&d, &maps, NULL, &err) == TP_ERR_ARG);
        tp_destroy(pool);
    }
    if (getenv("TK_VERBOSE")) fprintf(stderr, "  LNM pipeline, float32 products: mean z off by %.3g, t by %.3g (relative)\n", worst_z32, worst_t32);
    free(c); free(r); free(mz); free(mr); free(sd); free(tt); free(ar); free(pp);
}

/* the maps do not depend on the number of workers, on reading ahead or on skip_avg_r; the
   estimate holds for each; a failing reader is named when a worker reads ahead, too */
/* ss_lnm_info counts the subjects whose series had no correlation: the test connectome has a
   constant voxel in every subject; a NaN in one seed voxel of one subject makes that subject's
   seed bad (and, under strict, every map of that seed NaN); the counts do not depend on threads */
static void test_lnm_bad_series_counted(void)
{
    static const int64_t vox[] = {100, 101, 102, 120, 121, 122, 10, 300, 450, 451};
    static const size_t off[CL + 1] = {0, 6, 7, 10};
    conn *c = (conn *)malloc(sizeof *c);
    double *t = (double *)malloc(CL * CV * sizeof(double));
    ss_seeds seeds = TP_DEFAULTS;
    ss_lnm_desc d;
    ss_lnm_maps maps;
    ss_lnm_info info;
    tp_error err;
    int threads, pol;
    size_t i, nan_seed0, nan_seed1;
    conn_make(c);
    c->ts[4][11][101] = NAN; /* seed 0's voxel 101, subject 4 */
    seeds.n_seeds = CL, seeds.voxels = vox, seeds.offsets = off;
    memset(&d, 0, sizeof d);
    d.n_subjects = CS, d.n_t = CT, d.n_v = CV, d.read = conn_read, d.source_user = c, d.seeds = &seeds;
    memset(&maps, 0, sizeof maps);
    maps.t = t, maps.info = &info;
    for (pol = SS_POLICY_STRICT; pol <= SS_POLICY_LDK; pol++)
        for (threads = 1; threads <= 3; threads += 2) {
            d.policy = (ss_policy)pol, d.n_threads = threads;
            memset(&info, 0xff, sizeof info);
            CHECK_MSG(ss_lnm(&d, &maps, NULL, &err) == TP_OK, "%s", err.message);
            CHECK_MSG(info.n_subjects_bad_voxel == CS && info.n_subjects_bad_seed == 1, "policy %d, %d threads: %zu, %zu", pol, threads,
                      info.n_subjects_bad_voxel, info.n_subjects_bad_seed);
            for (i = 0, nan_seed0 = nan_seed1 = 0; i < CV; i++) nan_seed0 += t[i] != t[i], nan_seed1 += t[CV + i] != t[CV + i];
            /* strict: seed 1's t is NaN at voxels 598, 599 (constant), 101 (the NaN) and 10, 597 (r = 1: z infinite) */
            if (pol == SS_POLICY_STRICT) CHECK_MSG(nan_seed0 == CV && nan_seed1 == 5, "%zu, %zu", nan_seed0, nan_seed1);
            else CHECK_MSG(nan_seed0 == 0 && nan_seed1 == 0, "%zu, %zu", nan_seed0, nan_seed1);
        }
    free(c);
    free(t);
}

static void test_lnm_threads(void)
{
    static const int64_t vox[] = {100, 101, 102, 120, 121, 122, 10, 300, 450, 451};
    static const size_t off[CL + 1] = {0, 6, 7, 10};
    enum { N = CL * CV };
    conn *c = (conn *)malloc(sizeof *c);
    double *one = (double *)malloc(4 * N * sizeof(double)), *got = (double *)malloc(4 * N * sizeof(double));
    ss_seeds seeds = TP_DEFAULTS;
    ss_lnm_desc d;
    ss_lnm_maps a, b;
    tp_error err;
    int pol, prec, th;
    conn_make(c);
    seeds.n_seeds = CL, seeds.voxels = vox, seeds.offsets = off;
    memset(&d, 0, sizeof d);
    d.n_subjects = CS, d.n_t = CT, d.n_v = CV, d.read = conn_read, d.source_user = c, d.seeds = &seeds;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.mean_z = one, a.std_z = one + N, a.t = one + 2 * N, a.avg_r = one + 3 * N;
    b.mean_z = got, b.std_z = got + N, b.t = got + 2 * N, b.avg_r = got + 3 * N;
    for (prec = TP_F32; prec <= TP_F64; prec++)
        for (pol = SS_POLICY_STRICT; pol <= SS_POLICY_LDK; pol++) {
            d.policy = (ss_policy)pol, d.precision = (tp_dtype)prec, d.n_threads = 1, d.skip_avg_r = 0;
            CHECK_MSG(ss_lnm(&d, &a, NULL, &err) == TP_OK, "%s", err.message);
            for (th = 2; th <= 5; th++) { /* 2, 3 workers; 4, 5: 2, 3 workers reading ahead */
                tp_pool *pool = NULL;
                tp_create(NULL, &pool, NULL);
                d.pool = pool, d.n_threads = th > 3 ? th - 2 : th, d.read_ahead = th > 3;
                memset(got, 0, 4 * N * sizeof(double));
                CHECK_MSG(ss_lnm(&d, &b, NULL, &err) == TP_OK, "%s", err.message);
                CHECK_MSG(!memcmp(one, got, 4 * N * sizeof(double)), "precision %d policy %d: %d workers (ahead %d) differ from 1",
                          prec, pol, d.n_threads, d.read_ahead);
                CHECK(tp_get_stats(pool).peak_requested == lnm_bytes(&d));
                tp_destroy(pool);
            }
            d.read_ahead = 0;
            { /* no r accumulator: same z maps, less memory, avg_r refused */
                tp_pool *pool = NULL;
                tp_create(NULL, &pool, NULL);
                size_t with_r = lnm_bytes(&d);
                d.pool = pool, d.skip_avg_r = 1;
                CHECK(ss_lnm(&d, &b, NULL, &err) == TP_ERR_ARG && strstr(err.message, "skip_avg_r"));
                b.avg_r = NULL;
                CHECK_MSG(ss_lnm(&d, &b, NULL, &err) == TP_OK, "%s", err.message);
                CHECK(!memcmp(one, got, 3 * N * sizeof(double)));
                CHECK(tp_get_stats(pool).peak_requested == lnm_bytes(&d) && lnm_bytes(&d) < with_r);
                b.avg_r = got + 3 * N;
                d.pool = NULL, d.skip_avg_r = 0;
                tp_destroy(pool);
            }
        }
    { /* reading ahead: a failure in the worker's read is named; cancel; nothing left behind */
        tp_pool *pool = NULL;
        tp_create(NULL, &pool, NULL);
        int stop = 2;
        d.pool = pool, d.n_threads = 2, d.read_ahead = 1;
        c->fail_at = 4;
        CHECK(ss_lnm(&d, &a, NULL, &err) == TP_ERR_IO && strstr(err.message, "subject 4: chunk 4 is corrupt"));
        c->fail_at = 0;
        CHECK(ss_lnm(&d, &a, NULL, &err) == TP_ERR_IO && strstr(err.message, "subject 0: chunk 0 is corrupt"));
        c->fail_at = -1;
        d.progress = progress_stop_at, d.user = &stop;
        CHECK(ss_lnm(&d, &a, NULL, &err) == TP_ERR_CANCELLED && tp_get_stats(pool).live_blocks == 0);
        d.progress = NULL, d.pool = NULL, d.read_ahead = 0;
        tp_destroy(pool);
    }
    d.n_threads = 65;
    CHECK(ss_lnm(&d, &a, NULL, &err) == TP_ERR_ARG && strstr(err.message, "n_threads"));
    free(c), free(one), free(got);
}

/* desc.subject_r: every subject's r, in order, equal to ss_seedcorr's on that subject (to float
   rounding), whatever the workers and precision; its error stops the run, named */
typedef struct subject_check {
    conn *c;
    const ss_seeds *seeds;
    size_t next, fail_at;
    double worst;
    int out_of_order;
} subject_check;

static tp_result subject_seen(void *user, size_t k, const float *r, size_t n_seeds, size_t n_v, tp_error *err)
{
    subject_check *sc = (subject_check *)user;
    float *ts = (float *)malloc(CT * CV * sizeof(float));
    double *want = (double *)malloc(n_seeds * n_v * sizeof(double));
    size_t i;
    if (k == sc->fail_at) {
        free(ts), free(want);
        return tp_error_set(err, TP_ERR_IO, "disk full");
    }
    sc->out_of_order |= k != sc->next++;
    conn_read(sc->c, k, ts, NULL);
    ss_seedcorr(NULL, ts, CT, CV, CV, sc->seeds, TP_F64, want, CV, NULL);
    for (i = 0; i < n_seeds * n_v; i++) {
        double d = want[i] != want[i] ? (r[i] == r[i] ? 1.0 : 0.0) : fabs((double)r[i] - want[i]);
        sc->worst = d > sc->worst ? d : sc->worst;
    }
    free(ts), free(want);
    return TP_OK;
}

static void test_lnm_subject_r(void)
{
    static const int64_t vox[] = {100, 101, 102, 120, 121, 122, 10, 300, 450, 451};
    static const size_t off[CL + 1] = {0, 6, 7, 10};
    conn *c = (conn *)malloc(sizeof *c);
    ss_seeds seeds = TP_DEFAULTS;
    ss_lnm_desc d;
    ss_lnm_maps m;
    double *maps = (double *)malloc(CL * CV * sizeof(double));
    subject_check sc;
    tp_error err;
    int prec, th;
    conn_make(c);
    seeds.n_seeds = CL, seeds.voxels = vox, seeds.offsets = off;
    memset(&d, 0, sizeof d);
    d.n_subjects = CS, d.n_t = CT, d.n_v = CV, d.read = conn_read, d.source_user = c, d.seeds = &seeds;
    d.subject_r = subject_seen, d.subject_user = &sc;
    memset(&m, 0, sizeof m);
    m.mean_z = maps;
    for (prec = TP_F32; prec <= TP_F64; prec++)
        for (th = 1; th <= 2; th++) {
            tp_pool *pool = NULL;
            tp_create(NULL, &pool, NULL);
            memset(&sc, 0, sizeof sc);
            sc.c = c, sc.seeds = &seeds, sc.fail_at = (size_t)-1;
            d.pool = pool, d.precision = (tp_dtype)prec, d.n_threads = th;
            CHECK_MSG(ss_lnm(&d, &m, NULL, &err) == TP_OK, "%s", err.message);
            CHECK_MSG(sc.next == CS && !sc.out_of_order, "%zu subjects seen", sc.next);
            CHECK_MSG(sc.worst <= (prec == TP_F32 ? 2e-5 : 1e-6), "precision %d, %d workers: r off by %g", prec, th, sc.worst);
            CHECK(tp_get_stats(pool).peak_requested == lnm_bytes(&d));
            sc.fail_at = 3, sc.next = 0;
            CHECK(ss_lnm(&d, &m, NULL, &err) == TP_ERR_IO && strstr(err.message, "subject 3: desc.subject_r: disk full"));
            CHECK(tp_get_stats(pool).live_blocks == 0);
            tp_destroy(pool);
        }
    free(c), free(maps);
}

#ifndef TP_NO_THREADS

/* A worker thread that cannot start: the run says so to desc.log and in out->info, and gives the
   one-worker maps. */
static void test_lnm_thread_start_fails(void)
{
    static const int64_t vox[] = {100, 101, 102, 120, 121, 122, 10, 300, 450, 451};
    static const size_t off[CL + 1] = {0, 6, 7, 10};
    enum { N = CL * CV };
    conn *c = (conn *)malloc(sizeof *c);
    double *one = (double *)malloc(2 * N * sizeof(double)), *got = (double *)malloc(2 * N * sizeof(double));
    ss_seeds seeds = TP_DEFAULTS;
    ss_lnm_desc d;
    ss_lnm_maps a, b;
    ss_lnm_info info;
    captured_log log;
    tp_error err;
    conn_make(c);
    memset(&log, 0, sizeof log);
    seeds.n_seeds = CL, seeds.voxels = vox, seeds.offsets = off;
    memset(&d, 0, sizeof d);
    d.n_subjects = CS, d.n_t = CT, d.n_v = CV, d.read = conn_read, d.source_user = c, d.seeds = &seeds;
    d.log.fn = capture_log, d.log.user = &log;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.mean_z = one, a.t = one + N, a.info = &info;
    b.mean_z = got, b.t = got + N, b.info = &info;
    d.n_threads = 1;
    CHECK_MSG(ss_lnm(&d, &a, NULL, &err) == TP_OK && info.n_workers == 1 && log.count == 0, "%s", err.message);
    CHECK(info.bytes == lnm_bytes(&d));
    d.n_threads = 3;
    tf_fail_from(2);
    CHECK_MSG(ss_lnm(&d, &b, NULL, &err) == TP_OK, "%s", err.message);
    tf_fail_from(0);
    CHECK_MSG(info.n_workers == 2 && log.count == 1 && strstr(log.text, "could not start"), "%d: %s", info.n_workers, log.text);
    CHECK(memcmp(one, got, 2 * N * sizeof(double)) == 0);
    free(c), free(one), free(got);
}
#endif

/* ss_moments_estimate_bytes is an accumulator's peak: created, rows added, every policy */
static void test_moments_estimate(void)
{
    double x[40 * 33];
    size_t i;
    int pol;
    for (i = 0; i < 40 * 33; i++) x[i] = gauss();
    for (pol = SS_NAN_PROPAGATE; pol <= SS_NAN_SKIP; pol++) {
        tp_pool *pool = NULL;
        ss_moments_desc d;
        ss_moments *m = NULL;
        size_t est = 0;
        tp_create(NULL, &pool, NULL);
        memset(&d, 0, sizeof d);
        d.pool = pool, d.n_features = 33, d.nan_policy = (ss_nan_policy)pol;
        CHECK(ss_moments_estimate_bytes(&d, &est, NULL) == TP_OK);
        CHECK(ss_moments_create(&d, &m, NULL) == TP_OK && ss_moments_add_rows(m, x, TP_F64, 40, 0, NULL) == TP_OK);
        CHECK_MSG(tp_get_stats(pool).peak_requested == est, "policy %d: peak %zu, estimate %zu", pol, tp_get_stats(pool).peak_requested, est);
        CHECK(ss_moments_get_desc(m).n_features == 33 && (int)ss_moments_get_desc(m).nan_policy == pol && ss_moments_get_desc(m).pool == pool);
        ss_moments_destroy(m);
        tp_destroy(pool);
    }
}

static uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* distance in units in the last place between two finite doubles of the same sign */
static double ulps(double a, double b)
{
    double d = (double)(bits_of(a) > bits_of(b) ? bits_of(a) - bits_of(b) : bits_of(b) - bits_of(a));
    return (a < 0) != (b < 0) ? 1e30 : d;
}

/* every vector variant of the products, the centring and the fold computes the plain C code's
   bits; the LNM's own atanh is within a few ulp of libm's over (-1, 1). T - 1 = 38 rows after
   the first: the centring's groups of four rows end with a partial one; 203 voxels: a partial
   strip, panel and vector; 7 seeds: a tile of five rows, then one of four with two. */
static void test_kernels(void)
{
    enum { T = 39, NB = 203, L = 7, NP = (NB + SS__PANEL - 1) / SS__PANEL * SS__PANEL };
    typedef struct variant { const char *name; ss__kernels k; } variant;
    variant v[4];
    int nv = 0, i, f32, first, as_zero;
    float *ts = (float *)malloc(T * NB * sizeof(float)), *a32 = (float *)malloc(L * T * sizeof(float));
    double *blk0 = (double *)malloc(T * NP * sizeof(double)), *blk1 = (double *)malloc(T * NP * sizeof(double));
    double *b64 = (double *)malloc(T * NP * sizeof(double));
    float *b32 = (float *)malloc(T * NP * sizeof(float));
    double inv0[NB], inv1[NB], mean[2 * NB], mean1[2 * NB], dm64[NB], prod[NB], acc0[4][NB], acc1[4][NB], worst = 0, a64[L * T];
    float c32[L * NB], c32p[L * NB], invf[NB], dm32[NB], worstf = 0;
    double c64[L * NB], c64p[L * NB];
    size_t j, t;
    v[nv].name = "plain";
    v[nv].k.gemm32 = ss__gemm32_plain, v[nv].k.gemm64 = ss__gemm64_plain, v[nv].k.center = ss__center_plain, v[nv].k.fold = ss__fold_plain;
    v[nv++].k.fold32 = ss__fold32_plain;
#if defined(SS__VECTOR)
    v[nv].name = "16-byte vectors";
    v[nv].k.gemm32 = ss__gemm32_v16, v[nv].k.gemm64 = ss__gemm64_v16, v[nv].k.center = ss__center_v16, v[nv].k.fold = ss__fold_v16;
    v[nv++].k.fold32 = ss__fold32_v16;
#if defined(SS__X86_WIDE)
    if (__builtin_cpu_supports("avx2")) {
        v[nv].name = "AVX2";
        v[nv].k.gemm32 = ss__gemm32_avx2, v[nv].k.gemm64 = ss__gemm64_avx2, v[nv].k.center = ss__center_avx2, v[nv].k.fold = ss__fold_avx2;
        v[nv++].k.fold32 = ss__fold32_avx2;
    }
    if (__builtin_cpu_supports("avx512f")) {
        v[nv].name = "AVX-512";
        v[nv].k.gemm32 = ss__gemm32_avx512, v[nv].k.gemm64 = ss__gemm64_avx512, v[nv].k.center = ss__center_avx512,
        v[nv].k.fold = ss__fold_avx512, v[nv++].k.fold32 = ss__fold32_avx512;
    }
#endif
#endif
    for (j = 0; j < T * NB; j++) ts[j] = (float)(1e4 + gauss());
    for (j = 0; j < T; j++) ts[j * NB + 7] = 3.0f; /* a constant voxel */
    for (j = 0; j < L * T; j++) a64[j] = gauss(), a32[j] = (float)a64[j];
    for (f32 = 0; f32 <= 1; f32++) {
        ss__center_plain(ts, T, NB, NB, blk0, f32, inv0, mean);
        for (t = 0; t < T; t++) /* the panels hold x - x_0, value (t, j) where SS__AT says */
            for (j = 0; j < NB; j++) {
                double want = f32 ? (double)(ts[t * NB + j] - ts[j]) : (double)ts[t * NB + j] - ts[j];
                if (f32) b32[SS__AT(t, j, T)] = ((float *)blk0)[SS__AT(t, j, T)];
                else b64[SS__AT(t, j, T)] = blk0[SS__AT(t, j, T)];
                CHECK_MSG((f32 ? ((float *)blk0)[SS__AT(t, j, T)] : blk0[SS__AT(t, j, T)]) == want, "centring: value (%zu, %zu)", t, j);
            }
        for (i = 1; i < nv; i++) {
            int same;
            v[i].k.center(ts, T, NB, NB, blk1, f32, inv1, mean1);
            same = !memcmp(inv0, inv1, sizeof inv0) && !memcmp(mean, mean1, sizeof mean);
            for (t = 0; t < T; t++)
                for (j = 0; j < NB; j++)
                    same &= f32 ? ((float *)blk0)[SS__AT(t, j, T)] == ((float *)blk1)[SS__AT(t, j, T)]
                                : blk0[SS__AT(t, j, T)] == blk1[SS__AT(t, j, T)];
            CHECK_MSG(same, "centring: %s", v[i].name);
        }
    }
    ss__gemm32_plain(L, NB, T, a32, b32, c32p);
    ss__gemm64_plain(L, NB, T, a64, b64, c64p);
    for (j = 0; j < L * NB; j++) { /* the products read the panels where the centring wrote them */
        SS__EXACT
        double s64 = 0;
        float s32 = 0;
        for (t = 0; t < T; t++) {
            s64 += a64[(j / NB) * T + t] * b64[SS__AT(t, j % NB, T)];
            s32 += a32[(j / NB) * T + t] * b32[SS__AT(t, j % NB, T)];
        }
        CHECK_MSG(c64p[j] == s64 && c32p[j] == s32, "products: plain, element %zu", j);
    }
    for (i = 1; i < nv; i++) {
        v[i].k.gemm32(L, NB, T, a32, b32, c32);
        v[i].k.gemm64(L, NB, T, a64, b64, c64);
        for (j = 0; j < L * NB; j++) CHECK_MSG(c32[j] == c32p[j] && c64[j] == c64p[j], "products: %s, element %zu", v[i].name, j);
    }
    /* the fold: products that make r = +-1, |r| > 1, NaN, 0, tiny and ordinary values */
    for (j = 0; j < NB; j++) {
        double u = uniform01() * 2 - 1;
        prod[j] = j % 11 == 0 ? 1.0 : j % 13 == 0 ? -1.0 : j % 17 == 0 ? 1.0 + 1e-6 : j % 19 == 0 ? 0.0 / 0.0 : j % 23 == 0 ? 0.0
                : j % 29 == 0 ? 1e-200 * u : u;
        inv0[j] = j % 31 == 5 ? 0.0 / 0.0 : 1.0;
        invf[j] = (float)inv0[j];
        /* the voxel's mean shift times the seed's sum (0.01) is taken off r: not where r is set above */
        dm64[j] = j % 11 && j % 13 && j % 17 && j % 19 && j % 23 && j % 29 ? 0.25 * (double)(j % 7) - 0.75 : 0.0;
        dm32[j] = (float)dm64[j];
        c32[j] = (float)prod[j];
    }
    for (f32 = 0; f32 <= 3; f32++) /* 2, 3: a width that leaves partial chunks and lanes, no r accumulator */
        for (first = 0; first <= 1; first++)
            for (as_zero = 0; as_zero <= 1; as_zero++) {
                ss__fold f;
                int k;
                size_t n = f32 < 2 ? NB : NB - 77;
                for (i = 0; i < nv; i++) {
                    double (*acc)[NB] = i ? acc1 : acc0;
                    for (k = 0; k < 4; k++)
                        for (j = 0; j < NB; j++) acc[k][j] = 0.25 * (double)k + 1e-3 * (double)j;
                    memset(&f, 0, sizeof f);
                    f.mean_z = acc[0], f.m2_z = acc[1], f.mean_r = f32 < 2 ? acc[2] : NULL, f.m2_r = acc[3];
                    f.dm = dm64, f.dmf = dm32, f.sa = 0.01, f.saf = 0.01f;
                    f.w1 = 1.0 / 3, f.w2 = 2.0 / 3, f.z_inf = as_zero ? 3.0 : first ? 0.1 : 0.0, f.as_zero = as_zero, f.first = first;
                    if (f32 & 1) v[i].k.fold32(&f, c32, invf, 0, n);
                    else v[i].k.fold(&f, prod, inv0, 0, n);
                    if (i) CHECK_MSG(!memcmp(acc0, acc1, sizeof acc0), "fold: %s, f32 %d first %d as_zero %d", v[i].name, f32, first, as_zero);
                }
            }
    for (i = 0; i < 200000; i++) { /* atanh over (-1, 1): uniform, tiny, and near the ends */
        double r = i % 3 == 0 ? uniform01() * 2 - 1 : i % 3 == 1 ? ldexp(uniform01(), -(i % 1000)) : 1 - ldexp(uniform01(), -(i % 52) - 1);
        double e = ulps(ss__atanh(r), atanh(r));
        if (r == 0 || fabs(r) >= 1) continue;
        worst = e > worst ? e : worst;
    }
    CHECK_MSG(worst <= 4, "atanh: %g ulp from libm's", worst);
    for (i = 0; i < 200000; i++) { /* the float one against libm's double atanh rounded to float */
        float a = (float)(i % 3 == 0 ? uniform01() : i % 3 == 1 ? ldexp(uniform01(), -(i % 120)) : 1 - ldexp(uniform01(), -(i % 23) - 1));
        float want = (float)atanh((double)a), got = ss__atanhf_pos(a);
        uint32_t ua, ub;
        float e;
        if (a <= 0 || a >= 1) continue;
        memcpy(&ua, &got, sizeof ua), memcpy(&ub, &want, sizeof ub);
        e = (float)(ua > ub ? ua - ub : ub - ua);
        worstf = e > worstf ? e : worstf;
    }
    CHECK_MSG(worstf <= 3, "float atanh: %g ulp from libm's", (double)worstf);
    CHECK(ss__fisherf(1.0f, 3.0) == 3.0 && ss__fisherf(-1.0f, 0.0) == -1.0 / 0.0 && ss__fisherf(1.5f, 3.0) != ss__fisherf(1.5f, 3.0));
    CHECK(ss__fisher(1.0, 3.0) == 3.0 && ss__fisher(-1.0, 0.0) == -1.0 / 0.0 && ss__fisher(1.5, 3.0) != ss__fisher(1.5, 3.0));
    if (getenv("TK_VERBOSE"))
        fprintf(stderr, "  kernels: %d variants; atanh within %g ulp of libm's, the float one %g\n", nv, worst, (double)worstf);
    free(ts), free(a32), free(blk0), free(blk1), free(b64), free(b32);
}

#if defined(STAT_STREAM_USE_HDF5)
#include <sys/stat.h>
#include <unistd.h>

enum { HT = 12, HV = 40 };

/* What h5_write puts beside /timeseries: by default a valid grid of 4 x 5 x 3 whose voxel v is
   at (v % 4, v / 4 % 5, v / 20); the error tests spoil one part of it. */
typedef struct h5_geom {
    int64_t shape[4];
    hsize_t n_shape;          /* elements of the mask_shape attribute */
    int shape_float;          /* mask_shape as float64 */
    double aff[16];
    hsize_t aff_dims[2];
    int transpose;            /* /mask_indices as (n, 3) */
    int mask_float;           /* /mask_indices as float64 */
    long spoil_at;            /* >= 0: mask (3, n) element spoil_at becomes spoil_value */
    int64_t spoil_value;
    int skip_affine;
    int ts_unwritten, mask_unwritten; /* datasets made but never written: fill values, no storage */
} h5_geom;

static h5_geom h5_geom_default(void)
{
    h5_geom g;
    static const double aff[16] = {2, 0, 0, -90, 0, 2, 0, -126, 0, 0, 2, -72, 0, 0, 0, 1};
    memset(&g, 0, sizeof g);
    g.shape[0] = 4, g.shape[1] = 5, g.shape[2] = 3;
    g.n_shape = 3;
    memcpy(g.aff, aff, sizeof aff);
    g.aff_dims[0] = g.aff_dims[1] = 4;
    g.spoil_at = -1;
    return g;
}

static void h5_write_geometry(hid_t f, int nv, const h5_geom *g)
{
    hsize_t mdims[2] = {3, (hsize_t)nv};
    int64_t *mask = (int64_t *)malloc(3 * (size_t)nv * sizeof(int64_t)), *out = (int64_t *)malloc(3 * (size_t)nv * sizeof(int64_t));
    double *as_f = (double *)malloc(3 * (size_t)nv * sizeof(double)), shape_f[4];
    hid_t s, d, a;
    int v, i;
    for (v = 0; v < nv; v++) mask[v] = v % 4, mask[nv + v] = v / 4 % 5, mask[2 * nv + v] = v / 20;
    if (g->spoil_at >= 0) mask[g->spoil_at] = g->spoil_value;
    for (v = 0; v < nv; v++)
        for (i = 0; i < 3; i++) out[g->transpose ? 3 * v + i : i * nv + v] = mask[i * nv + v];
    for (i = 0; i < 3 * nv; i++) as_f[i] = (double)out[i];
    if (g->transpose) mdims[0] = (hsize_t)nv, mdims[1] = 3;
    s = H5Screate_simple(2, mdims, NULL);
    d = H5Dcreate2(f, "/mask_indices", g->mask_float ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g->mask_unwritten) (void)0;
    else if (g->mask_float) H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, as_f);
    else H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    H5Dclose(d);
    H5Sclose(s);
    if (!g->skip_affine) {
        s = H5Screate_simple(2, g->aff_dims, NULL);
        d = H5Dcreate2(f, "/mask_affine", H5T_NATIVE_DOUBLE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, g->aff);
        H5Dclose(d);
        H5Sclose(s);
    }
    for (i = 0; i < 4; i++) shape_f[i] = (double)g->shape[i];
    s = H5Screate_simple(1, &g->n_shape, NULL);
    a = H5Acreate2(f, "mask_shape", g->shape_float ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, s, H5P_DEFAULT, H5P_DEFAULT);
    if (g->shape_float) H5Awrite(a, H5T_NATIVE_DOUBLE, shape_f);
    else H5Awrite(a, H5T_NATIVE_INT64, g->shape);
    H5Aclose(a);
    H5Sclose(s);
    free(mask), free(out), free(as_f);
}

/* writes an ldk-layout file: n subjects of HT x nt x nv from data, chunked + gzip or contiguous;
   rank / type / dims / geometry can be spoiled for the error tests */
static int h5_write_g(const char *path, const float *data, size_t n, size_t nt, int gzip, int nv, int rank, int as_int,
                      int skip_ts, const h5_geom *g)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), s, d, p;
    hsize_t dims[3], chunk[3];
    if (f < 0) return -1;
    dims[0] = n;
    dims[1] = nt;
    dims[2] = (hsize_t)nv;
    if (!skip_ts) {
        s = H5Screate_simple(rank, rank == 3 ? dims : dims + 1, NULL);
        p = H5Pcreate(H5P_DATASET_CREATE);
        if (gzip && rank == 3) {
            chunk[0] = 1;
            chunk[1] = nt;
            chunk[2] = (hsize_t)nv;
            H5Pset_chunk(p, 3, chunk);
            H5Pset_deflate(p, 1);
        }
        d = H5Dcreate2(f, "/timeseries", as_int ? H5T_NATIVE_INT : H5T_NATIVE_FLOAT, s, H5P_DEFAULT, p, H5P_DEFAULT);
        if (!as_int && rank == 3 && n && !g->ts_unwritten) H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
        H5Dclose(d);
        H5Pclose(p);
        H5Sclose(s);
    }
    h5_write_geometry(f, nv, g);
    H5Fclose(f);
    return 0;
}

static int h5_write(const char *path, const float *data, size_t n, int gzip, int nv, int rank, int as_int, int skip_ts)
{
    h5_geom g = h5_geom_default();
    return h5_write_g(path, data, n, HT, gzip, nv, rank, as_int, skip_ts, &g);
}

typedef struct mem_subjects { const float *data; } mem_subjects;
static tp_result mem_read(void *user, size_t k, float *ts, tp_error *err)
{
    (void)err;
    memcpy(ts, ((mem_subjects *)user)->data + k * HT * HV, HT * HV * sizeof(float));
    return TP_OK;
}

/* a directory of two files (gzip chunks, contiguous) reads back exactly, in name order, and the
   pipeline over it equals the pipeline over memory; bad files are named */
/* ss_h5_create on one path, without a pool */
static tp_result h5_open(const char *path, ss_h5 **c, tp_error *err)
{
    ss_h5_desc d;
    memset(&d, 0, sizeof d);
    d.path = path;
    return ss_h5_create(&d, c, err);
}

static void test_hdf5_source(void)
{
    char dir[] = "/tmp/ss_h5_XXXXXX", path[128];
    tp_error err;
    float *data = (float *)malloc(5 * HT * HV * sizeof(float)), ts[HT * HV];
    static const int64_t vox[] = {3, 4, 17};
    static const size_t off[3] = {0, 2, 3};
    double a[2 * HV], b[2 * HV];
    ss_seeds seeds = TP_DEFAULTS;
    ss_lnm_desc d;
    ss_lnm_maps maps;
    mem_subjects ms;
    ss_h5 *c = NULL;
    size_t i, k;
    for (i = 0; i < 5 * HT * HV; i++) data[i] = (float)(100 + gauss());
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/b.h5", dir); /* written first, read second */
    CHECK(h5_write(path, data + 3 * HT * HV, 2, 0, HV, 3, 0, 0) == 0);
    snprintf(path, sizeof path, "%s/a.h5", dir);
    CHECK(h5_write(path, data, 3, 1, HV, 3, 0, 0) == 0);
    CHECK_MSG(h5_open(dir, &c, &err) == TP_OK, "%s", err.message);
    if (!c) goto out;
    CHECK(ss_h5_subjects(c) == 5 && ss_h5_timepoints(c) == HT && ss_h5_voxels(c) == HV);
    CHECK(ss_h5_mask_indices(c)[HV + 5] == 1 && ss_h5_mask_indices(c)[2 * HV + 25] == 1 && ss_h5_affine(c)[3] == -90 &&
          ss_h5_mask_shape(c)[1] == 5);
    for (k = 0; k < 5; k++) {
        CHECK(ss_h5_read(c, k, ts, &err) == TP_OK);
        CHECK_MSG(memcmp(ts, data + k * HT * HV, sizeof ts) == 0, "subject %zu", k);
    }
    CHECK(ss_h5_read(c, 5, ts, &err) == TP_ERR_ARG && strstr(err.message, "no subject 5"));
    seeds.n_seeds = 2;
    seeds.voxels = vox;
    seeds.offsets = off;
    memset(&d, 0, sizeof d);
    d.n_subjects = 5;
    d.n_t = HT;
    d.n_v = HV;
    d.seeds = &seeds;
    d.policy = SS_POLICY_LDK;
    d.read = ss_h5_read;
    d.source_user = c;
    memset(&maps, 0, sizeof maps);
    maps.t = a;
    CHECK_MSG(ss_lnm(&d, &maps, NULL, &err) == TP_OK, "%s", err.message);
    ms.data = data;
    d.read = mem_read;
    d.source_user = &ms;
    maps.t = b;
    CHECK(ss_lnm(&d, &maps, NULL, &err) == TP_OK && memcmp(a, b, sizeof a) == 0);
    /* in place: b.h5 is contiguous (mapped), a.h5 gzip (read into ss_h5_view's buffer) */
    CHECK(!ss_h5_mapped(c) && c->at[0] == 0 && c->at[1] != 0);
    for (k = 0; k < 5; k++) {
        const float *v = ss_h5_view(c, k, &err);
        CHECK_MSG(v && memcmp(v, data + k * HT * HV, sizeof ts) == 0, "view of subject %zu", k);
    }
    CHECK(ss_h5_view(c, 5, &err) == NULL && strstr(err.message, "no subject 5"));
    d.read = NULL;
    d.view = ss_h5_view;
    d.source_user = c;
    memset(b, 0, sizeof b);
    CHECK_MSG(ss_lnm(&d, &maps, NULL, &err) == TP_OK && memcmp(a, b, sizeof a) == 0, "%s", err.message);
    d.read = mem_read;
    CHECK(ss_lnm(&d, &maps, NULL, &err) == TP_ERR_ARG && strstr(err.message, "exactly one"));
    d.view = NULL;
    ss_h5_destroy(c);
    snprintf(path, sizeof path, "%s/b.h5", dir); /* one mapped file alone */
    CHECK(h5_open(path, &c, &err) == TP_OK && ss_h5_mapped(c));
    if (c) {
        const float *v = ss_h5_view(c, 1, &err);
        CHECK(v && memcmp(v, data + 4 * HT * HV, sizeof ts) == 0);
        ss_h5_destroy(c);
    }
    /* bad connectomes, each named */
    snprintf(path, sizeof path, "%s/c.h5", dir);
    CHECK(h5_write(path, data, 1, 0, HV + 1, 3, 0, 0) == 0);
    CHECK(h5_open(dir, &c, &err) == TP_ERR_FORMAT && strstr(err.message, "c.h5") && strstr(err.message, "voxels") && !c);
    CHECK(h5_write(path, data, 1, 0, HV, 2, 0, 0) == 0);
    CHECK(h5_open(path, &c, &err) == TP_ERR_FORMAT && strstr(err.message, "rank 2"));
    CHECK(h5_write(path, data, 1, 0, HV, 3, 1, 0) == 0);
    CHECK(h5_open(path, &c, &err) == TP_ERR_FORMAT && strstr(err.message, "not floating-point"));
    CHECK(h5_write(path, data, 1, 0, HV, 3, 0, 1) == 0);
    CHECK(h5_open(path, &c, &err) == TP_ERR_FORMAT && strstr(err.message, "no dataset /timeseries"));
    remove(path);
    snprintf(path, sizeof path, "%s/not_hdf5.h5", dir);
    {
        FILE *f = fopen(path, "w");
        if (f) { fputs("hello", f); fclose(f); }
    }
    CHECK(h5_open(path, &c, &err) == TP_ERR_IO && strstr(err.message, "cannot open as HDF5"));
    remove(path);
    CHECK(h5_open("/nonexistent/dir/x.h5", &c, &err) == TP_ERR_IO);
    snprintf(path, sizeof path, "%s/a.h5", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/b.h5", dir);
    remove(path);
    CHECK(h5_open(dir, &c, &err) == TP_ERR_IO && strstr(err.message, "no .h5 file"));
out:
    rmdir(dir);
    free(data);
}

/* A file is untrusted: every part of its geometry that disagrees with the rest is TP_ERR_FORMAT
   naming the file and the part, and nothing is read out of bounds (the ASan and valgrind builds
   run this too). */
typedef struct h5_case { const char *what, *expect; h5_geom g; size_t nt, n_subj; } h5_case;

static void h5_expect_format(const char *dir, const float *data, const h5_case *k)
{
    char path[160];
    tp_error err;
    ss_h5 *c = NULL;
    tp_result r;
    snprintf(path, sizeof path, "%s/bad.h5", dir);
    CHECK(h5_write_g(path, data, k->n_subj, k->nt, 0, HV, 3, 0, 0, &k->g) == 0);
    r = h5_open(path, &c, &err);
    CHECK_MSG(r == TP_ERR_FORMAT && strstr(err.message, "bad.h5") && strstr(err.message, k->expect) && !c,
              "%s: got %d \"%s\", want FORMAT with \"%s\"", k->what, (int)r, err.message, k->expect);
    ss_h5_destroy(c);
    remove(path);
}

static void test_hdf5_malformed(void)
{
    char dir[] = "/tmp/ss_h5_bad_XXXXXX", path[160];
    float *data = (float *)calloc(2 * HT * HV, sizeof(float));
    h5_case k[24];
    size_t n = 0, i;
    tp_error err;
    ss_h5 *c = NULL;
    h5_geom g;
    if (!data || !mkdtemp(dir)) { CHECK(0); free(data); return; }
    for (i = 0; i < 2 * HT * HV; i++) data[i] = (float)i;
    for (i = 0; i < 24; i++) k[i].g = h5_geom_default(), k[i].nt = HT, k[i].n_subj = 2;
    k[n].what = "a mask_shape of 4 elements", k[n].expect = "mask_shape", k[n].g.n_shape = 4, k[n].g.shape[3] = 9, n++;
    k[n].what = "a mask_shape of 2 elements", k[n].expect = "mask_shape", k[n].g.n_shape = 2, n++;
    k[n].what = "a float mask_shape", k[n].expect = "mask_shape", k[n].g.shape_float = 1, n++;
    k[n].what = "a zero in mask_shape", k[n].expect = "mask_shape[1] is 0", k[n].g.shape[1] = 0, n++;
    k[n].what = "a huge mask_shape", k[n].expect = "mask_shape[2]", k[n].g.shape[2] = (int64_t)1 << 40, n++;
    k[n].what = "a 3 x 3 affine", k[n].expect = "/mask_affine", k[n].g.aff_dims[0] = k[n].g.aff_dims[1] = 3, n++;
    k[n].what = "a 4 x 5 affine", k[n].expect = "/mask_affine", k[n].g.aff_dims[1] = 5, n++;
    k[n].what = "no affine", k[n].expect = "/mask_affine: missing", k[n].g.skip_affine = 1, n++;
    k[n].what = "a NaN in the affine", k[n].expect = "not finite", k[n].g.aff[5] = NAN, n++;
    k[n].what = "a bad last row", k[n].expect = "last row", k[n].g.aff[14] = 1, n++;
    k[n].what = "a last row ending in 2", k[n].expect = "last row", k[n].g.aff[15] = 2, n++;
    k[n].what = "an i past the grid", k[n].expect = "voxel 7 has i = 4", k[n].g.spoil_at = 7, k[n].g.spoil_value = 4, n++;
    k[n].what = "a negative j", k[n].expect = "has j = -1", k[n].g.spoil_at = HV + 3, k[n].g.spoil_value = -1, n++;
    k[n].what = "a k far away", k[n].expect = "has k = 1000000", k[n].g.spoil_at = 2 * HV, k[n].g.spoil_value = 1000000, n++;
    k[n].what = "two voxels at one place", k[n].expect = "two voxels at (1, 0, 0)", k[n].g.spoil_at = 0, k[n].g.spoil_value = 1, n++;
    k[n].what = "float mask indices", k[n].expect = "/mask_indices", k[n].g.mask_float = 1, n++;
    k[n].what = "one time point", k[n].expect = "at least 2 time points", k[n].nt = 1, n++;
    k[n].what = "series never written", k[n].expect = "/timeseries declares more values than the file stores", k[n].g.ts_unwritten = 1, n++;
    k[n].what = "a mask never written", k[n].expect = "/mask_indices declares more values than the file stores", k[n].g.mask_unwritten = 1, n++;
    k[n].what = "no subject", k[n].expect = "no subject", k[n].n_subj = 0, n++;
    for (i = 0; i < n; i++) h5_expect_format(dir, data, &k[i]);

    /* (n, 3) indices are the same voxels */
    g = h5_geom_default();
    g.transpose = 1;
    snprintf(path, sizeof path, "%s/t.h5", dir);
    CHECK(h5_write_g(path, data, 2, HT, 0, HV, 3, 0, 0, &g) == 0);
    CHECK_MSG(h5_open(path, &c, &err) == TP_OK, "%s", err.message);
    if (c) CHECK(ss_h5_mask_indices(c)[HV + 5] == 1 && ss_h5_mask_indices(c)[2 * HV + 25] == 1 && ss_h5_mask_indices(c)[7] == 3);
    ss_h5_destroy(c);
    c = NULL;

    /* files of one directory must share the grid and the mask */
    snprintf(path, sizeof path, "%s/u.h5", dir);
    g = h5_geom_default();
    g.aff[3] = -88;
    CHECK(h5_write_g(path, data, 2, HT, 0, HV, 3, 0, 0, &g) == 0);
    CHECK(h5_open(dir, &c, &err) == TP_ERR_FORMAT && strstr(err.message, "u.h5") && strstr(err.message, "different grids") && !c);
    g = h5_geom_default();
    g.spoil_at = 2 * HV + 39, g.spoil_value = 2; /* another voxel of the grid: a different mask */
    CHECK(h5_write_g(path, data, 2, HT, 0, HV, 3, 0, 0, &g) == 0);
    CHECK(h5_open(dir, &c, &err) == TP_ERR_FORMAT && strstr(err.message, "/mask_indices differ") && !c);
    g = h5_geom_default();
    CHECK(h5_write_g(path, data, 2, HT, 1, HV, 3, 0, 0, &g) == 0);
    CHECK_MSG(h5_open(dir, &c, &err) == TP_OK && ss_h5_subjects(c) == 4, "%s", err.message);
    ss_h5_destroy(c);
    c = NULL;
    remove(path);

    /* a contiguous file cut short is not mapped past its end: opening fails or it is not mappable */
    snprintf(path, sizeof path, "%s/t.h5", dir);
    {
        FILE *f = fopen(path, "r+b");
        long len = 0;
        if (f && fseek(f, 0, SEEK_END) == 0) len = ftell(f);
        if (f) fclose(f);
        CHECK(len > 100 && truncate(path, len - 100) == 0);
        if (h5_open(path, &c, &err) == TP_OK) {
            CHECK(!ss_h5_mapped(c));
            CHECK(ss_h5_view(c, 1, &err) == NULL && err.code == TP_ERR_IO);
        }
        ss_h5_destroy(c);
        c = NULL;
    }
    remove(path);
    rmdir(dir);
    free(data);
}
#endif

int main(void)
{
    RUN(test_blocks_and_merge);
    RUN(test_cancellation);
    RUN(test_nan_policies);
    RUN(test_serialize);
    RUN(test_against_scipy);
    RUN(test_lnm_reference);
    RUN(test_pini_reference);
    RUN(test_pini_edges);
    RUN(test_pini_axis);
    RUN(test_finalize_edges);
    RUN(test_seedcorr_naive);
    RUN(test_parcel_corr_naive);
    RUN(test_seedcorr_lnm);
    RUN(test_lnm_pipeline);
    RUN(test_lnm_threads);
    RUN(test_lnm_subject_r);
    RUN(test_lnm_bad_series_counted);
#ifndef TP_NO_THREADS
    RUN(test_lnm_thread_start_fails);
#endif
    RUN(test_moments_estimate);
    RUN(test_kernels);
#if defined(STAT_STREAM_USE_HDF5)
    RUN(test_hdf5_source);
    RUN(test_hdf5_malformed);
#endif
    return tk_summary("stat_stream");
}
