/* outputs.c - see outputs.h */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include "outputs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static ex_outputs *volatile ex_active; /* what the signal handler removes */

static void ex_on_signal(int sig)
{
    ex_outputs *o = ex_active;
    size_t i;
    if (o)
        for (i = 0; i < o->n; i++)
            if (o->item[i].tmp && !o->item[i].committed) unlink(o->item[i].tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void ex_catch(int sig)
{
    if (signal(sig, ex_on_signal) == SIG_IGN) signal(sig, SIG_IGN); /* nohup stays nohup */
}

void ex_outputs_init(ex_outputs *o)
{
    memset(o, 0, sizeof *o);
    ex_active = o;
    ex_catch(SIGINT);
    ex_catch(SIGTERM);
#ifdef SIGHUP
    ex_catch(SIGHUP);
#endif
}

static char *ex_strdup(const char *s)
{
    char *d = (char *)malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

int ex_mkdir_p(const char *dir, char *err, size_t cap)
{
    char buf[PATH_MAX];
    size_t i, len = strlen(dir);
    struct stat st;
    if (!len) return ex_fail(err, cap, "an empty directory name");
    if (len >= sizeof buf) return ex_fail(err, cap, "%.80s...: the path is too long", dir);
    memcpy(buf, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return ex_fail(err, cap, "%s: cannot make this directory: %s", buf, strerror(errno));
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return ex_fail(err, cap, "%s: exists and is not a directory", buf);
        if (i < len) buf[i] = '/';
    }
    return 0;
}

/* The directory part of path ("." when there is none) and its last part */
static int ex_split(const char *path, char *dir, size_t cap, const char **base)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (n + 1 > cap) return -1;
    if (!slash) memcpy(dir, ".", 2);
    else if (slash == path) memcpy(dir, "/", 2);
    else memcpy(dir, path, n), dir[n] = 0;
    *base = slash ? slash + 1 : path;
    return 0;
}

int ex_outputs_input(ex_outputs *o, const char *path, char *err, size_t cap)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) return 0;
    if (o->n_inputs == EX_MAX_INPUTS) return ex_fail(err, cap, "more than %d inputs", EX_MAX_INPUTS);
    if (!(o->inputs[o->n_inputs] = ex_strdup(real))) return ex_fail(err, cap, "out of memory");
    o->n_inputs++;
    return 0;
}

const char *ex_outputs_add(ex_outputs *o, const char *path, char *err, size_t cap)
{
    char dir[PATH_MAX], real[PATH_MAX], key[2 * PATH_MAX], tmp[PATH_MAX + 64];
    const char *base;
    struct stat st;
    ex_output *it = &o->item[o->n];
    size_t i;
    int fd;
    if (o->n == EX_MAX_OUTPUTS) return ex_fail(err, cap, "more than %d outputs in one run", EX_MAX_OUTPUTS), (const char *)NULL;
    if (!*path || ex_split(path, dir, sizeof dir, &base)) return ex_fail(err, cap, "'%.200s': not a usable output name", path), (const char *)NULL;
    if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return ex_fail(err, cap, "%s: is a directory; an output here is a file name", path), (const char *)NULL;
    if (ex_mkdir_p(dir, err, cap)) return NULL;
    if (!realpath(dir, real)) return ex_fail(err, cap, "%s: %s", dir, strerror(errno)), (const char *)NULL;
    snprintf(key, sizeof key, "%s/%s", strcmp(real, "/") ? real : "", base);
    for (i = 0; i < o->n; i++)
        if (!strcmp(o->item[i].key, key))
            return ex_fail(err, cap, "%s and %s are the same file: two outputs of this run would overwrite each other", o->item[i].path,
                           path),
                   (const char *)NULL;
    for (i = 0; i < o->n_inputs; i++)
        if (!strcmp(o->inputs[i], key)) return ex_fail(err, cap, "%s is an input of this run; it cannot be an output too", path), (const char *)NULL;
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp-%ld-%zu", dir, base, (long)getpid(), o->n);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return ex_fail(err, cap, "%s: cannot write in %s: %s", path, dir, strerror(errno)), (const char *)NULL;
    close(fd);
    it->path = ex_strdup(path), it->key = ex_strdup(key), it->tmp = ex_strdup(tmp);
    it->committed = 0;
    if (!it->path || !it->key || !it->tmp) {
        unlink(tmp);
        free(it->path), free(it->key), free(it->tmp);
        it->path = it->key = it->tmp = NULL;
        return ex_fail(err, cap, "out of memory"), (const char *)NULL;
    }
    o->n++;
    return it->tmp;
}

int ex_outputs_commit(ex_outputs *o, char *err, size_t cap)
{
    size_t i;
    for (i = 0; i < o->n; i++) {
        if (o->item[i].committed) continue;
        if (rename(o->item[i].tmp, o->item[i].path) != 0) return ex_fail(err, cap, "%s: cannot rename into place: %s", o->item[i].path, strerror(errno));
        o->item[i].committed = 1;
    }
    return 0;
}

void ex_outputs_free(ex_outputs *o)
{
    size_t i;
    for (i = 0; i < o->n; i++) {
        if (!o->item[i].committed) unlink(o->item[i].tmp);
        free(o->item[i].path), free(o->item[i].key), free(o->item[i].tmp);
    }
    for (i = 0; i < o->n_inputs; i++) free(o->inputs[i]);
    if (ex_active == o) ex_active = NULL;
    o->n = o->n_inputs = 0;
}
