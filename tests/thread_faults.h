/* thread_faults.h - make worker threads fail to start, to test that every header reports it and
   runs on the threads it has. Include before the implementation of tensorpool.h (it sets
   tensorpool's TP_THREAD_CREATE hook); tf_fail_from(n): from the n-th thread start on, every
   start fails (0 = none does). */
#ifndef THREAD_FAULTS_H
#define THREAD_FAULTS_H

#ifndef TP_NO_THREADS
#include <errno.h>
#include <pthread.h>

static int tf_fail_from_start, tf_starts;

static void tf_fail_from(int n)
{
    tf_fail_from_start = n;
    tf_starts = 0;
}

#define TP_THREAD_CREATE(thread, fn, arg)                                                       \
    (tf_fail_from_start && ++tf_starts >= tf_fail_from_start ? EAGAIN                           \
                                                             : pthread_create((thread), NULL, (fn), (arg)))
#endif

#endif
