/* A persistent pool of worker threads: created once per context, woken for each parallel
 * operation, never a thread per token. The caller takes part as thread 0. */
#ifndef RX_ENGINE_THREADPOOL_H
#define RX_ENGINE_THREADPOOL_H

#include "reflex/status.h"

typedef struct rx_threadpool rx_threadpool;

/* fn(arg, ith, nth) runs once on each of nth threads, ith in [0, nth). */
typedef void (*rx_task_fn)(void *arg, int ith, int nth);

rx_status rx_threadpool_create(int n_threads, rx_threadpool **out);
void rx_threadpool_destroy(rx_threadpool *tp); /* accepts NULL; joins the workers */
int rx_threadpool_size(const rx_threadpool *tp);

/* Runs fn on every thread of the pool and returns when all have finished. Not reentrant:
 * one caller at a time. */
void rx_threadpool_run(rx_threadpool *tp, rx_task_fn fn, void *arg);

#endif
