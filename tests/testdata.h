/* testdata.h - loading the golden .npy files of tests/data (for the test programs that have them).
   Include after testkit.h; link examples/common/npy.c and util.c. */
#ifndef TESTDATA_H
#define TESTDATA_H

#include "../examples/common/npy.h"

#include <stdio.h>
#include <string.h>

/* dir/name as an array, or an empty one (data NULL) after saying why on stderr */
static npy_array td_load(const char *dir, const char *name)
{
    npy_array a;
    char err[256], path[512];
    snprintf(path, sizeof path, "%s%s", dir, name);
    if (npy_read(path, &a, err, sizeof err) != 0) {
        fprintf(stderr, "  cannot read %s: %s\n", path, err);
        memset(&a, 0, sizeof a);
    }
    return a;
}

#endif
