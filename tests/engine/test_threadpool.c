/* engine/threadpool: every thread index runs exactly once per run, over many runs, including
 * runs after the workers have gone to sleep; a 1-thread pool runs inline. */
#include "rxtest.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "engine/threadpool.h"

typedef struct {
    atomic_int seen[8];
    atomic_int calls;
    int nth_seen;
    long sum[8]; /* per-thread slot: plain writes, read by the caller after run returns */
} tally;

static void count_task(void *arg, int ith, int nth)
{
    tally *t = arg;
    atomic_fetch_add(&t->seen[ith], 1);
    atomic_fetch_add(&t->calls, 1);
    t->nth_seen = nth;
    t->sum[ith] += ith + 1;
}

static void run_many(int n_threads, int runs, int sleep_every)
{
    rx_threadpool *tp;
    assert_int_equal(rx_threadpool_create(n_threads, &tp), RX_OK);
    assert_int_equal(rx_threadpool_size(tp), n_threads);
    tally t;
    memset(&t, 0, sizeof t);
    for (int r = 0; r < runs; r++) {
        rx_threadpool_run(tp, count_task, &t);
        assert_int_equal(atomic_load(&t.calls), (r + 1) * n_threads);
        for (int i = 0; i < n_threads; i++)
            assert_int_equal(atomic_load(&t.seen[i]), r + 1);
        if (sleep_every && r % sleep_every == 0) usleep(2000); /* let workers fall asleep */
    }
    assert_int_equal(t.nth_seen, n_threads);
    for (int i = 0; i < n_threads; i++)
        assert_int_equal(t.sum[i], (long)runs * (i + 1));
    rx_threadpool_destroy(tp);
}

static void test_one_thread(void **state)
{
    (void)state;
    run_many(1, 100, 0);
}

static void test_two_threads_busy(void **state)
{
    (void)state;
    run_many(2, 20000, 0);
}

static void test_sleep_and_wake(void **state)
{
    (void)state;
    run_many(2, 60, 3);
    run_many(4, 30, 2);
}

static void test_bad_args(void **state)
{
    (void)state;
    rx_threadpool *tp = (rx_threadpool *)1;
    assert_int_equal(rx_threadpool_create(0, &tp), RX_ERR_INVALID_ARG);
    assert_null(tp);
    rx_threadpool_destroy(NULL);
    assert_int_equal(rx_threadpool_size(NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_thread),
        cmocka_unit_test(test_two_threads_busy),
        cmocka_unit_test(test_sleep_and_wake),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
