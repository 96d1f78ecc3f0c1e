/* cli.c - see cli.h */
#include "cli.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MAX_OPTS 64

static cli_opt cli_row(const char *name, cli_kind kind, void *dst)
{
    cli_opt o;
    memset(&o, 0, sizeof o);
    o.name = name;
    o.kind = kind;
    o.dst = dst;
    o.max = 1;
    return o;
}

cli_opt cli_flag(const char *name, int *dst) { return cli_row(name, CLI_FLAG, dst); }
cli_opt cli_string(const char *name, const char **dst) { return cli_row(name, CLI_STRING, (void *)dst); }

cli_opt cli_strings(const char *name, const char **dst, size_t max, size_t *n)
{
    cli_opt o = cli_row(name, CLI_STRING, (void *)dst);
    o.max = max, o.n = n;
    return o;
}

cli_opt cli_int(const char *name, long long *dst, long long lo, long long hi, const char *meaning)
{
    cli_opt o = cli_row(name, CLI_INT, dst);
    o.ilo = lo, o.ihi = hi, o.lo = (double)lo, o.hi = (double)hi, o.meaning = meaning;
    return o;
}

cli_opt cli_double(const char *name, double *dst, double lo, double hi, unsigned flags, const char *meaning)
{
    cli_opt o = cli_row(name, CLI_DOUBLE, dst);
    o.lo = lo, o.hi = hi, o.flags = flags, o.meaning = meaning;
    return o;
}

cli_opt cli_doubles(const char *name, double *dst, size_t max, size_t *n, double lo, double hi, unsigned flags,
                    const char *meaning)
{
    cli_opt o = cli_double(name, dst, lo, hi, flags, meaning);
    o.kind = CLI_DOUBLES, o.max = max, o.n = n;
    return o;
}

cli_opt cli_choice(const char *name, int *dst, const char *choices)
{
    cli_opt o = cli_row(name, CLI_CHOICE, dst);
    o.choices = choices;
    return o;
}

/* Edit distance of a and b (both short), for "did you mean" */
static size_t cli_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j, row[64], prev, tmp;
    if (la > 63 || lb > 63) return (size_t)-1;
    for (j = 0; j <= lb; j++) row[j] = j;
    for (i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            tmp = row[j];
            row[j] = best;
            prev = tmp;
        }
    }
    return row[lb];
}

static const cli_opt *cli_find(const cli_opt *opts, size_t n, const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len)) return &opts[i];
    return NULL;
}

static int cli_unknown(const char *prog, const cli_opt *opts, size_t n, const char *arg, size_t len)
{
    char name[64];
    size_t i, best = (size_t)-1, d;
    const char *near = NULL;
    snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), arg);
    for (i = 0; i < n; i++)
        if ((d = cli_distance(name, opts[i].name)) < best) best = d, near = opts[i].name;
    if (near && best <= 2 && 3 * best <= len) return ex_error(prog, "unknown option %s; did you mean %s? (see --help)", name, near), -1;
    return ex_error(prog, "unknown option %s (see --help)", name), -1;
}

/* "between 0 and 1", "above 0", ... for a number's range */
static void cli_range(const cli_opt *o, char *s, size_t cap)
{
    int lo = o->lo > -HUGE_VAL, hi = o->hi < HUGE_VAL;
    if (o->kind == CLI_INT) {
        if (o->ihi == LLONG_MAX) snprintf(s, cap, "%lld or more", o->ilo);
        else snprintf(s, cap, "from %lld to %lld", o->ilo, o->ihi);
    } else if (lo && hi)
        snprintf(s, cap, "from %g%s to %g%s", o->lo, o->flags & CLI_LO_OPEN ? " (excluded)" : "", o->hi,
                 o->flags & CLI_HI_OPEN ? " (excluded)" : "");
    else if (lo) snprintf(s, cap, "%s %g", o->flags & CLI_LO_OPEN ? "above" : "at least", o->lo);
    else if (hi) snprintf(s, cap, "%s %g", o->flags & CLI_HI_OPEN ? "below" : "at most", o->hi);
    else snprintf(s, cap, "any finite number");
}

static int cli_in_range(const cli_opt *o, double x)
{
    if (o->flags & CLI_LO_OPEN ? !(x > o->lo) : !(x >= o->lo)) return 0;
    if (o->flags & CLI_HI_OPEN ? !(x < o->hi) : !(x <= o->hi)) return 0;
    return 1;
}

static int cli_bad_number(const char *prog, const cli_opt *o, const char *v)
{
    char range[160];
    cli_range(o, range, sizeof range);
    return ex_error(prog, "%s wants %s, %s; not '%s'", o->name, o->meaning ? o->meaning : "a number", range, v), -1;
}

/* One finite number at the start of v into *x; returns where it ends, or NULL */
static const char *cli_number(const char *v, double *x)
{
    char *end;
    errno = 0;
    *x = strtod(v, &end);
    if (end == v || errno == ERANGE || !isfinite(*x)) return NULL;
    return end;
}

static int cli_value(const char *prog, const cli_opt *o, const char *v, size_t *count)
{
    double x;
    const char *end, *s = v;
    if (!*v) return ex_error(prog, "%s needs a value, not an empty string", o->name), -1;
    switch (o->kind) {
    case CLI_STRING:
        if (o->max > 1) {
            if (*count == o->max) return ex_error(prog, "%s is given more than %zu times", o->name, o->max), -1;
            ((const char **)o->dst)[(*count)++] = v;
        } else {
            *(const char **)o->dst = v;
        }
        return 0;
    case CLI_INT: { /* in integers: a seed near 2^63 must not pass through a double */
        char *e;
        long long i;
        errno = 0;
        i = strtoll(v, &e, 10);
        if (e == v || *e || errno == ERANGE || i < o->ilo || i > o->ihi) return cli_bad_number(prog, o, v);
        *(long long *)o->dst = i;
        return 0;
    }
    case CLI_DOUBLE:
        if (!(end = cli_number(v, &x)) || *end || !cli_in_range(o, x)) return cli_bad_number(prog, o, v);
        *(double *)o->dst = x;
        return 0;
    case CLI_DOUBLES:
        *count = 0;
        for (;;) {
            if (!(end = cli_number(s, &x)) || (*end && *end != ',') || !cli_in_range(o, x)) return cli_bad_number(prog, o, v);
            if (*count == o->max) return ex_error(prog, "%s takes at most %zu numbers, not '%s'", o->name, o->max, v), -1;
            ((double *)o->dst)[(*count)++] = x;
            if (!*end) return 0;
            s = end + 1;
        }
    case CLI_CHOICE: {
        const char *c = o->choices;
        size_t len = strlen(v);
        int k = 0;
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t n = bar ? (size_t)(bar - c) : strlen(c);
            if (n == len && !strncmp(c, v, n)) {
                *(int *)o->dst = k;
                return 0;
            }
            k++;
            c = bar ? bar + 1 : NULL;
        }
        return ex_error(prog, "%s is one of %s, not '%s'", o->name, o->choices, v), -1;
    }
    case CLI_FLAG:
        break;
    }
    return ex_error(prog, "%s takes no value", o->name), -1;
}

int cli_parse(const char *prog, int argc, char **argv, const cli_opt *opts, size_t n_opts, void (*usage)(FILE *))
{
    unsigned char seen[CLI_MAX_OPTS];
    size_t counts[CLI_MAX_OPTS];
    int i;
    if (n_opts > CLI_MAX_OPTS) return ex_error(prog, "too many options in the table"), -1;
    memset(seen, 0, sizeof seen);
    memset(counts, 0, sizeof counts);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq, *v;
        const cli_opt *o;
        size_t k, len;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        }
        if (a[0] != '-' || a[1] != '-' || !a[2])
            return ex_error(prog, "unexpected argument '%s': options start with -- (see --help)", a), -1;
        eq = strchr(a, '=');
        len = eq ? (size_t)(eq - a) : strlen(a);
        if (!(o = cli_find(opts, n_opts, a, len))) return cli_unknown(prog, opts, n_opts, a, len);
        k = (size_t)(o - opts);
        if (seen[k] && !(o->kind == CLI_STRING && o->max > 1))
            return ex_error(prog, "%s is given twice", o->name), -1;
        seen[k] = 1;
        if (o->kind == CLI_FLAG) {
            if (eq) return ex_error(prog, "%s takes no value", o->name), -1;
            *(int *)o->dst = 1;
            continue;
        }
        if (eq) v = eq + 1;
        else if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] == '-'))
            return ex_error(prog, "%s needs a value%s (see --help)", o->name, i + 1 < argc ? ", not an option" : ""), -1;
        else v = argv[++i];
        if (cli_value(prog, o, v, &counts[k])) return -1;
        if (o->n) *o->n = counts[k];
    }
    return 0;
}
