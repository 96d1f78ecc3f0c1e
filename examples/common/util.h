/* util.h - the error convention shared by examples/common: functions return 0 on success, or -1
   with a message formatted into a caller's buffer (which may be NULL). */
#ifndef EXAMPLES_UTIL_H
#define EXAMPLES_UTIL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EX_PRINTF(a, b)
#endif

/* Formats the message into err (err may be NULL) and returns -1. */
int ex_fail(char *err, size_t cap, const char *fmt, ...) EX_PRINTF(3, 4);
/* Prints "prog: message" and a newline on stderr; returns 1 (the programs' exit status for bad
   input). */
int ex_error(const char *prog, const char *fmt, ...) EX_PRINTF(2, 3);
/* 0 when path names something to read (a file, not a directory); else -1 with "what: path: why"
   in err. */
int ex_readable(const char *what, const char *path, char *err, size_t cap);
/* Puts "path: " in front of the message already in err. */
void ex_prefix_path(char *err, size_t cap, const char *path);

#ifdef __cplusplus
}
#endif

#endif
