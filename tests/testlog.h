/* testlog.h - a tp_logger that keeps what it is told, for tests that check what a header logs.
   Include after tensorpool.h. */
#ifndef TESTLOG_H
#define TESTLOG_H

#include <stdio.h>
#include <string.h>

typedef struct captured_log { char text[8192]; int count; } captured_log;

#if defined(__GNUC__)
static void capture_log(void *user, tp_log_level level, const char *msg) __attribute__((unused));
#endif

static void capture_log(void *user, tp_log_level level, const char *msg)
{
    captured_log *c = (captured_log *)user;
    size_t used = strlen(c->text);
    (void)level;
    snprintf(c->text + used, sizeof c->text - used, "%s\n", msg);
    c->count++;
}

#endif
