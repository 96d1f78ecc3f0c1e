/* cli.h - the examples' command lines, parsed one way (DESIGN.md section 7): each program lists
   its options in a table; -h and --help print the usage and stop with status 0; an unknown option
   is called unknown (with the nearest known one); a missing value, a value that is not a number,
   or one outside its range is an error naming the option before any work; an option given twice
   is an error unless it repeats; "--name=value" equals "--name value". */
#ifndef EXAMPLES_CLI_H
#define EXAMPLES_CLI_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cli_kind {
    CLI_FLAG,    /* dst int *: set to 1; takes no value */
    CLI_STRING,  /* dst const char **: a non-empty value; with max > 1 it repeats: dst is an array of max, *n the count */
    CLI_INT,     /* dst long long *: a decimal integer within [lo, hi] */
    CLI_DOUBLE,  /* dst double *: a finite number within lo and hi (CLI_LO_OPEN / CLI_HI_OPEN: excluded) */
    CLI_DOUBLES, /* dst double * array of max, *n the count: comma-separated numbers, each as CLI_DOUBLE */
    CLI_CHOICE   /* dst int *: the index of the value among choices "a|b|c" */
} cli_kind;

enum { CLI_LO_OPEN = 1, CLI_HI_OPEN = 2 };

typedef struct cli_opt {
    const char *name;    /* "--fs" */
    cli_kind kind;
    void *dst;
    size_t *n, max;      /* CLI_DOUBLES, repeated CLI_STRING */
    long long ilo, ihi;  /* CLI_INT */
    double lo, hi;       /* CLI_DOUBLE, CLI_DOUBLES (for CLI_INT, the same bounds for messages) */
    unsigned flags;      /* CLI_LO_OPEN, CLI_HI_OPEN */
    const char *choices; /* CLI_CHOICE */
    const char *meaning; /* the value in words, for messages: "a sampling rate in Hz" */
} cli_opt;

/* The table's rows, one constructor per kind */
cli_opt cli_flag(const char *name, int *dst);
cli_opt cli_string(const char *name, const char **dst);
cli_opt cli_strings(const char *name, const char **dst, size_t max, size_t *n);
cli_opt cli_int(const char *name, long long *dst, long long lo, long long hi, const char *meaning);
cli_opt cli_double(const char *name, double *dst, double lo, double hi, unsigned flags, const char *meaning);
cli_opt cli_doubles(const char *name, double *dst, size_t max, size_t *n, double lo, double hi, unsigned flags,
                    const char *meaning);
cli_opt cli_choice(const char *name, int *dst, const char *choices);

/* Parses argv[1..] into the table's destinations. Returns 0 when parsed, 1 when the usage was
   printed on stdout (-h, --help: the caller exits 0), -1 after printing "prog: what was wrong"
   on stderr (the caller exits 2). */
int cli_parse(const char *prog, int argc, char **argv, const cli_opt *opts, size_t n_opts, void (*usage)(FILE *));

#ifdef __cplusplus
}
#endif

#endif
