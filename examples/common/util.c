/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int ex_fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (err && cap) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int ex_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

void ex_prefix_path(char *err, size_t cap, const char *path)
{
    char tmp[512];
    if (!err || !cap) return;
    snprintf(tmp, sizeof tmp, "%s: %s", path, err);
    snprintf(err, cap, "%s", tmp);
}

int ex_readable(const char *what, const char *path, char *err, size_t cap)
{
    struct stat st;
    if (stat(path, &st) != 0) return ex_fail(err, cap, "%s: cannot open %s: %s", what, path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return ex_fail(err, cap, "%s: %s is a directory, not a file", what, path);
    return 0;
}
