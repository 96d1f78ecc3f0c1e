/* pool - tensorpool on a job whose working set is larger than its memory budget.

   The job: the per-pixel median of a stack of frames (say 8 exposures of a 2048 x 2048 float32
   detector), repeated over several batches. Every frame of a batch must be live at once for the
   median, so the working set is frames x frame size; with a budget of half that, the pool keeps
   what fits in memory and backs the rest with spill files. The program checks the medians against
   a direct computation and prints what the pool did.

   build/pool --demo [--out DIR]            the sample job: 8 x 16 MiB frames, 64 MiB budget
   build/pool --frames N --frame-mib M --budget-mib B --batches K [--spill-dir DIR] [--out DIR] [--timeline]
   build/pool --draw-timeline IN.json --png OUT.png   draws the timeline any debug pool wrote

   With --timeline (on in --demo) the job runs in a debug pool, which keeps a timeline of its
   allocations; the program writes it as DIR/pool_timeline.json (tp_timeline_json) and draws
   DIR/pool_timeline.png: bytes in memory and spilled over time, under the budget.
*/
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#define TENSORPOOL_IMPLEMENTATION
#include "../tensorpool.h"
#include "common/cli.h"
#include "common/outputs.h"
#include "common/png.h"
#include "common/progress.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

typedef struct job {
    int frames, batches, timeline;
    size_t frame_mib, budget_mib;
    const char *spill_dir, *out_dir, *draw_in, *draw_png;
} job;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pool --demo [--out DIR]\n"
            "       pool [--frames N] [--frame-mib M] [--budget-mib B] [--batches K] [--spill-dir DIR] [--out DIR]\n"
            "            [--timeline]\n"
            "       pool --draw-timeline IN.json --png OUT.png\n"
            "\n"
            "Per-pixel median of N frames of M MiB (float32), K batches, in a tensorpool with a budget of\n"
            "B MiB; what does not fit is spilled to unlinked files in DIR (default /tmp).\n"
            "  --demo          N=8, M=16, B=64, K=3: a working set of twice the budget, with --timeline\n"
            "  --out DIR       also write DIR/pool_stats.json\n"
            "  --timeline      run in a debug pool and write its timeline: DIR/pool_timeline.json and\n"
            "                  DIR/pool_timeline.png (bytes in memory and spilled over time; needs --out)\n"
            "  --draw-timeline IN.json  draw a timeline that tp_timeline_json wrote (any program) into\n"
            "                  the PNG given by --png\n"
            "  --help          this text\n");
}

/* Deterministic pixel value of frame f: the check recomputes it without the pool. */
static float pixel(uint64_t batch, uint64_t f, uint64_t i)
{
    uint64_t x = (batch * 0x9e3779b97f4a7c15ull) ^ (f * 0xbf58476d1ce4e5b9ull) ^ (i * 0x94d049bb133111ebull);
    x ^= x >> 31;
    x *= 0xd6e8feb86659fd39ull;
    x ^= x >> 29;
    return (float)(x >> 40) / 16777216.0f;
}

/* Median of n (<= 64) values, sorting a copy. */
static float median(float *v, int n)
{
    int i, j;
    for (i = 1; i < n; i++) {
        float t = v[i];
        for (j = i; j > 0 && v[j - 1] > t; j--) v[j] = v[j - 1];
        v[j] = t;
    }
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

static const char *mib(double bytes, char *buf)
{
    sprintf(buf, "%.1f MiB", bytes / 1048576.0);
    return buf;
}

static void print_stats(const tp_stats *s, const job *j)
{
    char a[32], b[32], c[32];
    printf("\nwhat the pool did\n");
    printf("  allocations    %8llu   hits %llu (%.1f %%), misses %llu, refused %llu\n",
           (unsigned long long)s->allocs, (unsigned long long)s->hits, 100.0 * s->hit_rate,
           (unsigned long long)s->misses, (unsigned long long)s->failures);
    printf("  peak in memory %12s   (budget %s, live + cached never above it)\n", mib((double)s->peak_reserved, a),
           mib((double)j->budget_mib * 1048576.0, b));
    printf("  peak spilled   %12s   in %llu spill maps over the run (unlinked files in %s)\n",
           mib((double)s->peak_spilled, c), (unsigned long long)s->spills, j->spill_dir);
    printf("  fresh memory   %12s   obtained from the system; the rest was reused\n", mib((double)s->bytes_fresh, a));
    printf("  system calls   %8llu maps, %llu unmaps\n", (unsigned long long)s->os_maps, (unsigned long long)s->os_unmaps);
    {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("  process peak RSS %10s   (includes spilled pages while they sit in the page cache: the\n"
               "                                 kernel writes them back and drops them under memory pressure)\n",
               mib((double)ru.ru_maxrss * 1024.0, a));
    }
}

static int write_json(const char *path, const tp_stats *s, const job *j, double seconds)
{
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "pool: cannot write %s\n", path); return 1; }
    fprintf(f, "{\"frames\": %d, \"frame_bytes\": %llu, \"batches\": %d, \"budget_bytes\": %llu, \"seconds\": %.3f,\n"
               " \"allocs\": %llu, \"hits\": %llu, \"misses\": %llu, \"spills\": %llu, \"failures\": %llu,\n"
               " \"peak_reserved\": %llu, \"peak_spilled\": %llu, \"bytes_fresh\": %llu}\n",
            j->frames, (unsigned long long)(j->frame_mib << 20), j->batches, (unsigned long long)(j->budget_mib << 20),
            seconds, (unsigned long long)s->allocs, (unsigned long long)s->hits, (unsigned long long)s->misses,
            (unsigned long long)s->spills, (unsigned long long)s->failures, (unsigned long long)s->peak_reserved,
            (unsigned long long)s->peak_spilled, (unsigned long long)s->bytes_fresh);
    if (fclose(f) != 0) { fprintf(stderr, "pool: cannot write %s\n", path); return 1; }
    return 0;
}

/* One batch: fill the frames, take the medians into out, check a sample, free the frames. */
static int run_batch(tp_pool *pool, const job *j, int batch, float *out, size_t n, progress_bar *bar)
{
    float *frame[64], v[64];
    size_t i, k;
    int f, bad = 0;
    tp_frame mark = tp_mark(pool);
    for (f = 0; f < j->frames; f++) {
        tp_error err;
        frame[f] = (float *)tp_alloc_at(pool, n * sizeof(float), 0, __FILE__, __LINE__, &err);
        if (!frame[f]) {
            fprintf(stderr, "\npool: frame %d of batch %d: %s\n", f, batch, err.message);
            tp_release_to(pool, mark, NULL);
            return 1;
        }
        for (i = 0; i < n; i++) frame[f][i] = pixel((uint64_t)batch, (uint64_t)f, i);
        progress_update(bar, (batch + 0.5 * (f + 1) / j->frames) / j->batches);
    }
    for (i = 0; i < n; i++) {
        for (f = 0; f < j->frames; f++) v[f] = frame[f][i];
        out[i] = median(v, j->frames);
    }
    for (k = 0; k < 1000; k++) { /* the check recomputes pixels without the pool */
        i = (k * 2654435761u) % n;
        for (f = 0; f < j->frames; f++) v[f] = pixel((uint64_t)batch, (uint64_t)f, i);
        bad += median(v, j->frames) != out[i];
    }
    tp_release_to(pool, mark, NULL); /* all frames of the batch at once */
    progress_update(bar, (batch + 1.0) / j->batches);
    if (bad) fprintf(stderr, "\npool: %d of 1000 checked medians differ in batch %d\n", bad, batch);
    return bad != 0;
}

/* ---- the timeline: written by the pool, drawn from its JSON ------------------------------------ */

static int file_write(void *user, const char *text, size_t n)
{
    return fwrite(text, 1, n, (FILE *)user) != n;
}

static int write_timeline(tp_pool *pool, const char *path)
{
    FILE *f = fopen(path, "w");
    tp_error err;
    int rc;
    if (!f) { fprintf(stderr, "pool: cannot write %s\n", path); return 1; }
    rc = tp_timeline_json(pool, file_write, f, &err) != TP_OK;
    if (rc) fprintf(stderr, "pool: %s: %s\n", path, err.message);
    if (fclose(f) != 0 && !rc) rc = fprintf(stderr, "pool: cannot write %s\n", path) > 0;
    return rc;
}

/* The value after "key": in a line of the timeline's JSON; 0 if it has none. */
static int json_number(const char *line, const char *key, double *out)
{
    char pat[32];
    const char *at;
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    if (!(at = strstr(line, pat))) return 0;
    *out = strtod(at + strlen(pat), NULL);
    return 1;
}

/* Reads a timeline that tp_timeline_json wrote and draws bytes in memory and spilled over time. */
static int draw_timeline(const char *in, const char *png)
{
    FILE *f = fopen(in, "r");
    char line[2048], err[256], title[160];
    double *t = NULL, *live = NULL, *spill = NULL, budget = 0, dropped = 0, v;
    size_t n = 0, cap = 0;
    int rc = 1, header = 0;
    png_series s[2];
    png_steps_opts o;
    if (!f) { fprintf(stderr, "pool: cannot open %s\n", in); return 1; }
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "\"format\": \"tensorpool-timeline\"")) {
            header = 1;
            json_number(line, "budget", &budget);
            json_number(line, "dropped", &dropped);
            continue;
        }
        if (!json_number(line, "t_us", &v)) continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 1024;
            double *a = (double *)realloc(t, nc * sizeof *t), *b, *c;
            if (a) t = a;
            b = a ? (double *)realloc(live, nc * sizeof *live) : NULL;
            if (b) live = b;
            c = b ? (double *)realloc(spill, nc * sizeof *spill) : NULL;
            if (c) spill = c;
            if (!c) { fprintf(stderr, "pool: out of memory reading %s\n", in); goto done; }
            cap = nc;
        }
        t[n] = v / 1e6;
        if (!json_number(line, "live", &live[n]) || !json_number(line, "spilled", &spill[n])) {
            fprintf(stderr, "pool: %s: an event without \"live\" or \"spilled\": %.60s\n", in, line);
            goto done;
        }
        live[n] /= 1048576.0, spill[n] /= 1048576.0;
        n++;
    }
    if (!header || n == 0) {
        fprintf(stderr, "pool: %s is not a tensorpool timeline with events (tp_timeline_json writes one)\n", in);
        goto done;
    }
    memset(s, 0, sizeof s);
    s[0].y = live, s[0].label = "in memory (live blocks)";
    s[0].rgb[0] = 40, s[0].rgb[1] = 110, s[0].rgb[2] = 200;
    s[1].y = spill, s[1].label = "spilled to disk";
    s[1].rgb[0] = 230, s[1].rgb[1] = 120, s[1].rgb[2] = 20;
    memset(&o, 0, sizeof o);
    snprintf(title, sizeof title, "tensorpool timeline: %zu events%s", n, dropped > 0 ? " (older ones dropped)" : "");
    o.title = title, o.xlabel = "time (s)", o.ylabel = "MiB";
    o.hline = budget / 1048576.0, o.hline_label = budget > 0 ? "budget" : NULL;
    if (png_steps(png, t, n, s, 2, &o, err, sizeof err) != 0) fprintf(stderr, "pool: %s: %s\n", png, err);
    else rc = 0;
done:
    fclose(f);
    free(t), free(live), free(spill);
    return rc;
}

/* 0: parsed, 1: help printed, -1: an error printed */
static int parse(int argc, char **argv, job *j)
{
    long long frames = 8, batches = 3, frame_mib = 16, budget_mib = 64;
    int demo = 0, rc;
    cli_opt t[10];
    size_t n = 0;
    j->spill_dir = "/tmp";
    j->out_dir = j->draw_in = j->draw_png = NULL;
    j->timeline = 0;
    if (argc == 1) {
        usage(stderr);
        return -1;
    }
    t[n++] = cli_flag("--demo", &demo);
    t[n++] = cli_int("--frames", &frames, 1, 64, "a number of frames");
    t[n++] = cli_int("--batches", &batches, 1, 1000000, "a number of batches");
    t[n++] = cli_int("--frame-mib", &frame_mib, 1, 1 << 20, "a frame size in MiB");
    t[n++] = cli_int("--budget-mib", &budget_mib, 1, 1 << 24, "a budget in MiB");
    t[n++] = cli_string("--spill-dir", &j->spill_dir);
    t[n++] = cli_string("--out", &j->out_dir);
    t[n++] = cli_flag("--timeline", &j->timeline);
    t[n++] = cli_string("--draw-timeline", &j->draw_in);
    t[n++] = cli_string("--png", &j->draw_png);
    rc = cli_parse("pool", argc, argv, t, n, usage);
    j->frames = (int)frames, j->batches = (int)batches, j->frame_mib = (size_t)frame_mib, j->budget_mib = (size_t)budget_mib;
    if (demo) j->timeline = 1;
    if (rc == 0 && j->timeline && !j->out_dir && !demo) {
        fprintf(stderr, "pool: --timeline writes DIR/pool_timeline.json and .png: give --out DIR\n");
        return -1;
    }
    if (rc == 0 && (j->draw_in != NULL) != (j->draw_png != NULL)) {
        fprintf(stderr, "pool: --draw-timeline IN.json and --png OUT.png go together\n");
        return -1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    job j;
    tp_desc d;
    tp_pool *pool;
    tp_error err;
    tp_stats s;
    progress_bar bar;
    float *out;
    size_t n;
    int b, rc = parse(argc, argv, &j), failed = 0;
    double t0;
    char x[32], y[32], path[1200], msg[1400], tl_path[2][1200];
    const char *json = NULL, *tl_tmp[2] = {NULL, NULL};
    ex_outputs outs;
    if (rc) return rc < 0 ? 2 : 0;
    ex_outputs_init(&outs);
    if (j.draw_in) {
        const char *png = ex_outputs_add(&outs, j.draw_png, msg, sizeof msg);
        rc = !png || ex_outputs_input(&outs, j.draw_in, msg, sizeof msg) ? fprintf(stderr, "pool: %s\n", msg) > 0
                                                                          : draw_timeline(j.draw_in, png);
        if (!rc && ex_outputs_commit(&outs, msg, sizeof msg)) rc = fprintf(stderr, "pool: %s\n", msg) > 0;
        if (!rc) printf("wrote %s\n", j.draw_png);
        ex_outputs_free(&outs);
        return rc;
    }
    snprintf(path, sizeof path, "%s/pool_stats.json", j.out_dir ? j.out_dir : ".");
    if (j.out_dir && !(json = ex_outputs_add(&outs, path, msg, sizeof msg))) {
        fprintf(stderr, "pool: %s\n", msg);
        return 1;
    }
    if (j.timeline && j.out_dir) {
        snprintf(tl_path[0], sizeof tl_path[0], "%s/pool_timeline.json", j.out_dir);
        snprintf(tl_path[1], sizeof tl_path[1], "%s/pool_timeline.png", j.out_dir);
        if (!(tl_tmp[0] = ex_outputs_add(&outs, tl_path[0], msg, sizeof msg)) ||
            !(tl_tmp[1] = ex_outputs_add(&outs, tl_path[1], msg, sizeof msg))) {
            fprintf(stderr, "pool: %s\n", msg);
            ex_outputs_free(&outs);
            return 1;
        }
    }
    n = (j.frame_mib << 20) / sizeof(float);
    memset(&d, 0, sizeof d);
    d.budget_bytes = j.budget_mib << 20;
    d.spill_dir = j.spill_dir;
    d.spill_threshold = (size_t)1 << 20;
    if (tl_tmp[0]) d.debug = 1; /* debug pools keep a timeline */
    if (tp_create(&d, &pool, &err) != TP_OK) {
        fprintf(stderr, "pool: cannot create the pool: %s\n", err.message);
        ex_outputs_free(&outs);
        return 1;
    }
    printf("pool demo: median of %d frames of %s, %d batches, budget %s\n", j.frames,
           mib((double)(j.frame_mib << 20), x), j.batches, mib((double)(j.budget_mib << 20), y));
    printf("  working set %s per batch: %.1fx the budget\n", mib((double)(j.frame_mib << 20) * (j.frames + 1), x),
           (double)(j.frames + 1) * (double)j.frame_mib / (double)j.budget_mib);
    out = (float *)tp_alloc_flags(pool, n * sizeof(float), TP_NO_SPILL);
    if (!out) {
        fprintf(stderr, "pool: no room for the output frame within the budget\n");
        tp_destroy(pool);
        ex_outputs_free(&outs);
        return 1;
    }
    t0 = progress_now();
    progress_begin(&bar, "pool");
    for (b = 0; b < j.batches && !failed; b++) failed = run_batch(pool, &j, b, out, n, &bar);
    progress_end(&bar);
    tp_free(pool, out);
    s = tp_get_stats(pool);
    if (!failed) printf("  done in %.2f s; 1000 medians per batch match a direct computation\n", progress_now() - t0);
    print_stats(&s, &j);
    if (json && !failed) failed = write_json(json, &s, &j, progress_now() - t0);
    if (tl_tmp[0] && !failed) failed = write_timeline(pool, tl_tmp[0]) || draw_timeline(tl_tmp[0], tl_tmp[1]);
    if (json && !failed) {
        if (ex_outputs_commit(&outs, msg, sizeof msg)) failed = fprintf(stderr, "pool: %s\n", msg) > 0;
        else printf("  wrote %s%s%s%s%s\n", path, tl_tmp[0] ? ", " : "", tl_tmp[0] ? tl_path[0] : "",
                    tl_tmp[0] ? ", " : "", tl_tmp[0] ? tl_path[1] : "");
    }
    ex_outputs_free(&outs);
    tp_destroy(pool);
    return failed ? 1 : 0;
}
