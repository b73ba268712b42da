/* core/slo_window: quantiles and error rates over the last 60 one-second slots; old seconds drop
 * out; a slot is reused for a new second. */
#include "rxtest.h"

#include "core/slo_window.h"

#define SEC 1000000000ull

static void test_window(void **state)
{
    (void)state;
    rx_slo_window w;
    rx_window_init(&w);
    const uint64_t t0 = 1000 * SEC;
    assert_true(rx_window_quantile(&w, t0, 0.95) == 0);
    for (int i = 0; i < 100; i++)
        rx_window_observe(&w, t0 + (uint64_t)i * (SEC / 10), i < 95 ? 0.004 : 0.9, i >= 98);
    const uint64_t now = t0 + 10 * SEC;
    assert_int_equal(rx_window_requests(&w, now), 100);
    assert_true(rx_window_error_rate(&w, now) > 0.019 && rx_window_error_rate(&w, now) < 0.021);
    double p50 = rx_window_quantile(&w, now, 0.50), p99 = rx_window_quantile(&w, now, 0.99);
    assert_true(p50 > 0.0025 && p50 <= 0.005);
    assert_true(p99 > 0.5 && p99 <= 1.0);
    /* a minute later everything has aged out */
    assert_int_equal(rx_window_requests(&w, t0 + 80 * SEC), 0);
    assert_true(rx_window_quantile(&w, t0 + 80 * SEC, 0.99) == 0);
    /* and a new second reuses its slot */
    rx_window_observe(&w, t0 + 120 * SEC, 0.02, false);
    assert_int_equal(rx_window_requests(&w, t0 + 120 * SEC), 1);
    rx_window_observe(&w, t0 + 121 * SEC, -1, true); /* an error without an answer */
    assert_true(rx_window_error_rate(&w, t0 + 121 * SEC) == 0.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_window)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
