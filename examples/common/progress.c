/* progress.c - see progress.h. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, isatty */
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void progress_begin(progress_bar *bar, const char *label)
{
    bar->label = label;
    bar->start = progress_now();
    bar->last_draw = 0;
    bar->active = isatty(2);
    bar->drawn = 0;
}

static void progress__clock(char *buf, size_t cap, double s)
{
    int t = s < 0 ? 0 : (int)(s + 0.5);
    snprintf(buf, cap, "%d:%02d", t / 60, t % 60);
}

void progress_update(progress_bar *bar, double f)
{
    char bar_txt[31], el[16], eta[16];
    double now = progress_now(), elapsed = now - bar->start;
    int i, filled;
    if (!bar->active || (now - bar->last_draw < 0.1 && f < 1.0)) return;
    if (!(f >= 0)) f = 0;
    if (f > 1) f = 1;
    filled = (int)(f * 30 + 0.5);
    for (i = 0; i < 30; i++) bar_txt[i] = i < filled ? '#' : '.';
    bar_txt[30] = 0;
    progress__clock(el, sizeof el, elapsed);
    if (f > 0.001) progress__clock(eta, sizeof eta, elapsed * (1 - f) / f);
    else snprintf(eta, sizeof eta, "?");
    fprintf(stderr, "\r%s [%s] %3d%%  %s elapsed, %s left ", bar->label, bar_txt, (int)(f * 100), el, eta);
    fflush(stderr);
    bar->last_draw = now;
    bar->drawn = 1;
}

void progress_end(progress_bar *bar)
{
    if (!bar->active) return;
    progress_update(bar, 1.0);
    if (bar->drawn) fputc('\n', stderr);
}

int progress_callback(void *user, uint64_t done, uint64_t total)
{
    progress_update((progress_bar *)user, total ? (double)done / (double)total : 1.0);
    return 0;
}
