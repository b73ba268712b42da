/* core/histogram: bucket placement at the bounds, cumulative Prometheus output, quantiles. */
#include "rxtest.h"

#include <string.h>

#include "core/histogram.h"

static void test_buckets_and_format(void **state)
{
    (void)state;
    const double b[] = {1, 2, 5};
    rx_histogram h;
    rx_hist_init(&h, b, 3);
    rx_hist_observe(&h, 0.5);
    rx_hist_observe(&h, 1); /* le="1" includes its bound */
    rx_hist_observe(&h, 1.5);
    rx_hist_observe(&h, 7); /* +Inf only */
    char buf[1024];
    size_t n = rx_hist_format(&h, "x", "m=\"a\"", buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "x_bucket{m=\"a\",le=\"1\"} 2\n"));
    assert_non_null(strstr(buf, "x_bucket{m=\"a\",le=\"2\"} 3\n"));
    assert_non_null(strstr(buf, "x_bucket{m=\"a\",le=\"5\"} 3\n"));
    assert_non_null(strstr(buf, "x_bucket{m=\"a\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(buf, "x_sum{m=\"a\"} 10.000000\n"));
    assert_non_null(strstr(buf, "x_count{m=\"a\"} 4\n"));
    n = rx_hist_format(&h, "y", "", buf, sizeof buf);
    assert_non_null(strstr(buf, "y_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(buf, "y_count 4\n"));
    /* truncation never overruns */
    char small[16];
    n = rx_hist_format(&h, "x", "", small, sizeof small);
    assert_true(n <= sizeof small);
}

static void test_quantiles(void **state)
{
    (void)state;
    const double b[] = {10, 20, 30, 40};
    rx_histogram h;
    rx_hist_init(&h, b, 4);
    assert_true(rx_hist_quantile(&h, 0.5) == 0);
    for (int i = 0; i < 100; i++)
        rx_hist_observe(&h, 15); /* all in (10, 20] */
    double q = rx_hist_quantile(&h, 0.5);
    assert_true(q > 10 && q <= 20);
    assert_true(rx_hist_quantile(&h, 0.99) <= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_and_format),
        cmocka_unit_test(test_quantiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
