/* testkit.h - the few macros every test program of the collection shares.
   A test is a function; it fails when any CHECK in it fails. main() ends with tk_summary(), which
   prints "NAME: N passed, N failed" and returns the exit status. Comparisons fail on NaN. */
#ifndef TESTKIT_H
#define TESTKIT_H

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int tk_passed, tk_failed, tk_current_failed;
static const char *tk_current = "";

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "  FAIL %s (%s:%d): %s\n", tk_current, __FILE__, __LINE__, #cond); \
            tk_current_failed = 1;                                                       \
        }                                                                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                             \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "  FAIL %s (%s:%d): %s: ", tk_current, __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
            tk_current_failed = 1;                                                       \
        }                                                                                \
    } while (0)

/* |a - b| <= tol, false for NaN on either side. */
#define CHECK_NEAR(a, b, tol)                                                            \
    do {                                                                                 \
        double tk_a = (double)(a), tk_b = (double)(b);                                   \
        CHECK_MSG(fabs(tk_a - tk_b) <= (tol), "%.17g vs %.17g (tol %g)", tk_a, tk_b, (double)(tol)); \
    } while (0)

/* TK_ONLY=name runs only that test (to time or debug one) */
#define RUN(fn)                                                                          \
    do {                                                                                 \
        if (getenv("TK_ONLY") && strcmp(getenv("TK_ONLY"), #fn) != 0) break;            \
        tk_current = #fn;                                                                \
        tk_current_failed = 0;                                                           \
        fn();                                                                            \
        if (tk_current_failed) { tk_failed++; fprintf(stderr, "not ok  %s\n", #fn); }   \
        else { tk_passed++; if (getenv("TK_VERBOSE")) fprintf(stderr, "ok      %s\n", #fn); } \
    } while (0)

static int tk_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, tk_passed, tk_failed);
    return tk_failed ? 1 : 0;
}

#endif
