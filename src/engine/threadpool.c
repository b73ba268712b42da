/* Persistent worker threads woken per operation through an atomic generation counter.
 * Workers spin a little after each run (the next op usually follows within microseconds),
 * then sleep on a condition variable so an idle pool costs no CPU. The caller is thread 0. */
#include "engine/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "reflex/status.h"

/* Iterations of the spin-wait (with a pause each) before a worker goes to sleep: roughly
 * 50-100 us, longer than the gap between two matmuls of one token. */
#define SPIN_ITERS 20000

typedef struct {
    rx_threadpool *pool; /* borrowed: the pool outlives its workers */
    int ith;
    pthread_t thread;
} worker;

struct rx_threadpool {
    int n_threads;
    worker *workers; /* owned: n_threads - 1 entries */

    /* Written by the caller before it bumps `generation` (release); read by workers after
     * they see the new generation (acquire). */
    rx_task_fn fn;
    void *arg;
    bool stop;

    /* Each hot counter on its own cache line: workers poll `generation` while they
     * decrement `pending`, and sharing a line would make every decrement stall the pollers. */
    alignas(64) atomic_uint generation;
    alignas(64) atomic_int pending;  /* workers still running the current fn */
    alignas(64) atomic_int sleepers; /* workers blocked (or about to block) on `wake` */
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Waits until the generation differs from `seen` and returns the new one. */
static unsigned wait_for_work(rx_threadpool *tp, unsigned seen)
{
    for (int i = 0; i < SPIN_ITERS; i++) {
        unsigned g = atomic_load_explicit(&tp->generation, memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
    }
    pthread_mutex_lock(&tp->lock);
    /* seq_cst increment, then re-check: pairs with the caller's bump-then-read in
     * rx_threadpool_run, so either we see the new generation or it sees us asleep. */
    atomic_fetch_add(&tp->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&tp->generation)) == seen)
        pthread_cond_wait(&tp->wake, &tp->lock);
    atomic_fetch_sub(&tp->sleepers, 1);
    pthread_mutex_unlock(&tp->lock);
    return g;
}

static void *worker_main(void *p)
{
    worker *w = p;
    rx_threadpool *tp = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_work(tp, seen);
        if (tp->stop) break;
        tp->fn(tp->arg, w->ith, tp->n_threads);
        atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_release);
    }
    return NULL;
}

/* Publishes fn/arg/stop to every worker and wakes the sleeping ones. */
static void publish(rx_threadpool *tp)
{
    atomic_store_explicit(&tp->pending, tp->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add(&tp->generation, 1); /* seq_cst: see wait_for_work */
    if (atomic_load(&tp->sleepers) > 0) {
        pthread_mutex_lock(&tp->lock);
        pthread_cond_broadcast(&tp->wake);
        pthread_mutex_unlock(&tp->lock);
    }
}

rx_status rx_threadpool_create(int n_threads, rx_threadpool **out)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024) {
        return rx_error(RX_ERR_INVALID_ARG, "threadpool: %d threads (want 1..1024)", n_threads);
    }
    rx_threadpool *tp = aligned_alloc(64, (sizeof *tp + 63) & ~(size_t)63);
    if (!tp) return rx_error(RX_ERR_NOMEM, "threadpool: out of memory");
    *tp = (rx_threadpool){.n_threads = n_threads};
    atomic_init(&tp->generation, 0);
    atomic_init(&tp->pending, 0);
    atomic_init(&tp->sleepers, 0);
    pthread_mutex_init(&tp->lock, NULL);
    pthread_cond_init(&tp->wake, NULL);
    tp->workers = calloc((size_t)n_threads, sizeof *tp->workers);
    if (!tp->workers) {
        rx_threadpool_destroy(tp);
        return rx_error(RX_ERR_NOMEM, "threadpool: out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        worker *w = &tp->workers[i - 1];
        *w = (worker){.pool = tp, .ith = i};
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            tp->n_threads = i; /* only workers 1..i-1 exist: join those */
            rx_threadpool_destroy(tp);
            return rx_error(RX_ERR_NOMEM, "threadpool: cannot start thread %d of %d", i, n_threads);
        }
    }
    *out = tp;
    return RX_OK;
}

void rx_threadpool_destroy(rx_threadpool *tp)
{
    if (!tp) return;
    if (tp->workers && tp->n_threads > 1) {
        tp->stop = true;
        publish(tp);
        for (int i = 1; i < tp->n_threads; i++)
            pthread_join(tp->workers[i - 1].thread, NULL);
    }
    pthread_cond_destroy(&tp->wake);
    pthread_mutex_destroy(&tp->lock);
    free(tp->workers);
    free(tp);
}

int rx_threadpool_size(const rx_threadpool *tp)
{
    return tp ? tp->n_threads : 1;
}

void rx_threadpool_run(rx_threadpool *tp, rx_task_fn fn, void *arg)
{
    if (!tp || tp->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    tp->fn = fn;
    tp->arg = arg;
    publish(tp);
    fn(arg, 0, tp->n_threads);
    while (atomic_load_explicit(&tp->pending, memory_order_acquire) > 0)
        cpu_relax();
}
