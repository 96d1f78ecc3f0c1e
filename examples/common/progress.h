/* progress.h - a progress bar on stderr for the example programs, drawn only when stderr is a
   terminal (so logs and pipes stay clean), at most ten times a second. Not part of the headers.

       progress_bar bar;
       progress_begin(&bar, "correlating");
       ... progress_update(&bar, done / total) ...   or pass progress_callback, &bar to a header
       progress_end(&bar);
*/
#ifndef EXAMPLES_PROGRESS_H
#define EXAMPLES_PROGRESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* C++ and nvcc builds of the examples link the C objects */
#endif

typedef struct progress_bar {
    const char *label;
    double start, last_draw;
    int active;      /* stderr is a terminal */
    int drawn;
} progress_bar;

void progress_begin(progress_bar *bar, const char *label);
void progress_update(progress_bar *bar, double fraction);
void progress_end(progress_bar *bar);
/* A tp_progress_fn for the headers (user = the bar); never cancels. */
int progress_callback(void *user, uint64_t done, uint64_t total);
/* Monotonic seconds, for the examples' timing lines. */
double progress_now(void);

#ifdef __cplusplus
}
#endif

#endif
