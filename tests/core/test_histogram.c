/* core/histogram: bucket placement at the bounds, cumulative Prometheus output, quantiles. */
#include "rxtest.h"

#include <stdlib.h>
#include <string.h>

#include "core/histogram.h"
#include "core/textbuf.h"

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
    rx_textbuf t = {0};
    rx_textbuf_hist(&t, &h, "x", "m=\"a\"");
    char *buf = rx_textbuf_take(&t);
    assert_non_null(buf);
    assert_non_null(strstr(buf, "x_bucket{m=\"a\",le=\"1\"} 2\n"));
    assert_non_null(strstr(buf, "x_bucket{m=\"a\",le=\"2\"} 3\n"));
    assert_non_null(strstr(buf, "x_bucket{m=\"a\",le=\"5\"} 3\n"));
    assert_non_null(strstr(buf, "x_bucket{m=\"a\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(buf, "x_sum{m=\"a\"} 10.000000\n"));
    assert_non_null(strstr(buf, "x_count{m=\"a\"} 4\n"));
    free(buf);
    rx_textbuf_hist(&t, &h, "y", "");
    buf = rx_textbuf_take(&t);
    assert_non_null(strstr(buf, "y_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(buf, "y_count 4\n"));
    free(buf);
}

/* A page longer than any fixed buffer: every line arrives, in order. */
static void test_textbuf_grows(void **state)
{
    (void)state;
    rx_textbuf t = {0};
    for (int i = 0; i < 5000; i++)
        rx_textbuf_printf(&t, "line_%d %s\n", i, "0123456789abcdef0123456789abcdef");
    char *s = rx_textbuf_take(&t);
    assert_non_null(s);
    assert_non_null(strstr(s, "line_0 "));
    assert_non_null(strstr(s, "\nline_4999 0123456789abcdef0123456789abcdef\n"));
    assert_int_equal(strlen(s), 5000 * 39 + 10 * 1 + 90 * 2 + 900 * 3 + 4000 * 4);
    free(s);
    /* nothing appended: an empty string, not NULL */
    s = rx_textbuf_take(&t);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
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
        cmocka_unit_test(test_textbuf_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
