/* src/bench/stats.c and arrivals.c: percentiles (linear interpolation between closest ranks,
 * checked exactly on small sets), population mean/stddev, SLO parsing and checks, the run
 * summary (availability, throughput, goodput, jitter), and the open-loop arrival schedule. */
#include "rxtest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/internal.h"
#include "bench/stats.h"
#include "reflex/loadgen.h"

static void test_percentile_exact(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3, 4, 5};
    assert_float_equal(rx_stats_percentile(x, 5, 0), 1.0, 1e-12);
    assert_float_equal(rx_stats_percentile(x, 5, 50), 3.0, 1e-12);
    assert_float_equal(rx_stats_percentile(x, 5, 90), 4.6, 1e-12); /* rank 3.6 */
    assert_float_equal(rx_stats_percentile(x, 5, 99), 4.96, 1e-12);
    assert_float_equal(rx_stats_percentile(x, 5, 100), 5.0, 1e-12);
    const double two[] = {10, 20};
    assert_float_equal(rx_stats_percentile(two, 2, 50), 15.0, 1e-12);
    assert_float_equal(rx_stats_percentile(two, 2, 25), 12.5, 1e-12);
    const double one[] = {7};
    assert_float_equal(rx_stats_percentile(one, 1, 50), 7.0, 1e-12);
    assert_float_equal(rx_stats_percentile(one, 1, 99), 7.0, 1e-12);
    assert_true(isnan(rx_stats_percentile(NULL, 0, 50)));
    /* numpy.percentile(range(1, 101), [50, 90, 99]) = 50.5, 90.1, 99.01 */
    double h[100];
    for (int i = 0; i < 100; i++)
        h[i] = i + 1;
    assert_float_equal(rx_stats_percentile(h, 100, 50), 50.5, 1e-9);
    assert_float_equal(rx_stats_percentile(h, 100, 90), 90.1, 1e-9);
    assert_float_equal(rx_stats_percentile(h, 100, 99), 99.01, 1e-9);
}

static void test_moments_and_dist(void **state)
{
    (void)state;
    double x[] = {9, 2, 4, 4, 5, 4, 7, 5}; /* mean 5, population stddev 2 */
    double mean, sd;
    rx_stats_moments(x, 8, &mean, &sd);
    assert_float_equal(mean, 5.0, 1e-12);
    assert_float_equal(sd, 2.0, 1e-12);
    rx_lg_dist d;
    rx_stats_dist(x, 8, &d); /* sorts: 2 4 4 4 5 5 7 9 */
    assert_int_equal(d.n, 8);
    assert_float_equal(x[0], 2.0, 0);
    assert_float_equal(d.max, 9.0, 0);
    assert_float_equal(d.p50, 4.5, 1e-12);
    assert_float_equal(d.p90, 7.6, 1e-12); /* rank 6.3: 7 + 0.3 * 2 */
    rx_stats_dist(NULL, 0, &d);
    assert_int_equal(d.n, 0);
    assert_true(isnan(d.mean) && isnan(d.p99) && isnan(d.max));
    double same[] = {3, 3, 3};
    rx_stats_moments(same, 3, &mean, &sd);
    assert_float_equal(sd, 0.0, 0);
}

static void test_slo_parse(void **state)
{
    (void)state;
    rx_lg_slo s;
    assert_int_equal(rx_lg_slo_parse("ttft=500ms,itl=50ms,e2e=2s", &s), RX_OK);
    assert_float_equal(s.ttft_s, 0.5, 1e-12);
    assert_float_equal(s.itl_s, 0.05, 1e-12);
    assert_float_equal(s.e2e_s, 2.0, 1e-12);
    assert_float_equal(s.tpot_s, 0.0, 0);
    assert_int_equal(rx_lg_slo_parse("tpot=250us", &s), RX_OK);
    assert_float_equal(s.tpot_s, 250e-6, 1e-15);
    assert_float_equal(s.ttft_s, 0.0, 0);
    const char *bad[] = {"",           "ttft",      "ttft=",    "foo=1s",          "ttft=5",
                         "ttft=-1ms",  "ttft=0ms",  "ttft=1s,", "ttft=1s,,e2e=2s", "ttft=1h",
                         "ttft=nanms", "ttft=infs", "=1s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rx_lg_slo_parse(bad[i], &s), RX_ERR_INVALID_ARG);
        assert_non_null(strstr(rx_last_error(), "slo: "));
    }
}

/* A record with the given latencies (ms) and gaps. */
static rx_lg_record rec(rx_lg_kind kind, double ttft_ms, double e2e_ms, int64_t tokens,
                        double *itl_ms, int n_itl)
{
    rx_lg_record r = {.kind = kind,
                      .ttft_s = ttft_ms / 1e3,
                      .e2e_s = e2e_ms / 1e3,
                      .completion_tokens = tokens,
                      .prompt_tokens = 10,
                      .tpot_s = NAN};
    if (tokens > 1) r.tpot_s = (r.e2e_s - r.ttft_s) / (double)(tokens - 1);
    r.itl_s = malloc((size_t)(n_itl + 1) * sizeof *r.itl_s);
    for (int i = 0; i < n_itl; i++)
        r.itl_s[i] = itl_ms[i] / 1e3;
    r.n_itl = n_itl;
    return r;
}

static void test_summary_and_goodput(void **state)
{
    (void)state;
    double g1[] = {10, 10, 10}, g2[] = {10, 60, 10}, g3[] = {20, 20, 20};
    rx_lg_result *r = calloc(1, sizeof *r);
    r->records = calloc(5, sizeof *r->records);
    r->records[0] = rec(RX_LG_OK, 100, 130, 4, g1, 3);   /* meets everything */
    r->records[1] = rec(RX_LG_OK, 100, 180, 4, g2, 3);   /* one 60 ms stall: misses itl */
    r->records[2] = rec(RX_LG_OK, 600, 660, 4, g3, 3);   /* misses ttft */
    r->records[3] = rec(RX_LG_HTTP, NAN, 5, 0, NULL, 0); /* failed: never good */
    r->records[4] = rec(RX_LG_TIMEOUT, NAN, 300, 0, NULL, 0);
    r->n_records = 5;
    r->duration_s = 2.0;
    rx_lg_slo slo;
    assert_int_equal(rx_lg_slo_parse("ttft=500ms,itl=50ms", &slo), RX_OK);
    rx_lg_summary s;
    rx_lg_summarize(r, &slo, &s);
    assert_int_equal(s.attempted, 5);
    assert_int_equal(s.ok, 3);
    assert_int_equal(s.failed_by_kind[RX_LG_HTTP], 1);
    assert_int_equal(s.failed_by_kind[RX_LG_TIMEOUT], 1);
    assert_float_equal(s.availability, 0.6, 1e-12);
    assert_int_equal(s.completion_tokens, 12);
    assert_int_equal(s.prompt_tokens, 30);
    assert_float_equal(s.request_tput, 1.5, 1e-12);
    assert_float_equal(s.output_tput, 6.0, 1e-12);
    assert_float_equal(s.total_tput, 21.0, 1e-12);
    assert_true(s.slo_set);
    assert_int_equal(s.good, 1);
    assert_float_equal(s.goodput, 0.5, 1e-12);
    assert_int_equal(s.ttft.n, 3);
    assert_float_equal(s.ttft.p50, 0.1, 1e-12);
    assert_int_equal(s.itl.n, 9); /* failed requests' gaps are not counted */
    /* gaps in ms: 10 x5, 20 x3, 60: mean 170/9, population variance 5300/9 - (170/9)^2 */
    assert_float_equal(s.itl.mean, 170.0 / 9.0 / 1e3, 1e-12);
    assert_float_equal(s.jitter_stddev_s, sqrt(18800.0) / 9.0 / 1e3, 1e-12);
    /* p99 at rank 7.92 of 10 10 10 10 10 20 20 20 60: 20 + 0.92 * 40 = 56.8; p50 = 10 */
    assert_float_equal(s.jitter_p99_p50_s, (56.8 - 10.0) / 1e3, 1e-12);
    assert_float_equal(s.tpot.p50, 0.020, 1e-12);

    /* tpot bounds the average, itl every gap: request 1 averages 26.7 ms */
    assert_int_equal(rx_lg_slo_parse("tpot=30ms", &slo), RX_OK);
    rx_lg_summarize(r, &slo, &s);
    assert_int_equal(s.good, 3);
    assert_int_equal(rx_lg_slo_parse("e2e=150ms", &slo), RX_OK);
    rx_lg_summarize(r, &slo, &s);
    assert_int_equal(s.good, 1);
    rx_lg_summarize(r, NULL, &s);
    assert_false(s.slo_set);
    assert_true(isnan(s.goodput));
    rx_lg_result_free(r);
}

static void test_summary_empty(void **state)
{
    (void)state;
    rx_lg_result r = {0};
    rx_lg_summary s;
    rx_lg_summarize(&r, NULL, &s);
    assert_int_equal(s.attempted, 0);
    assert_int_equal(s.ttft.n, 0);
    assert_true(isnan(s.availability));
}

/* Gap statistics of an open-loop schedule: mean 1/rate, squared coefficient of variation
 * 1/burstiness (gamma with shape B). */
static void gap_stats(double rate, double b, double *mean, double *cv2)
{
    double *t;
    int64_t n;
    assert_int_equal(rx_bench__arrivals(rate, b, 42, 40001, 0, &t, &n), RX_OK);
    assert_int_equal(n, 40001);
    assert_float_equal(t[0], 0.0, 0);
    double *gap = malloc(40000 * sizeof *gap), sd;
    for (int i = 0; i < 40000; i++) {
        assert_true(t[i + 1] >= t[i]);
        gap[i] = t[i + 1] - t[i];
    }
    rx_stats_moments(gap, 40000, mean, &sd);
    *cv2 = sd * sd / (*mean * *mean);
    free(gap);
    free(t);
}

static void test_arrivals(void **state)
{
    (void)state;
    const double shapes[] = {1.0, 0.5, 4.0};
    for (int k = 0; k < 3; k++) {
        double mean, cv2;
        gap_stats(10.0, shapes[k], &mean, &cv2);
        assert_float_equal(mean, 0.1, 0.1 * 0.03);
        assert_float_equal(cv2, 1.0 / shapes[k], 0.1 / shapes[k]);
    }
    double *t, *u;
    int64_t n, m;
    assert_int_equal(rx_bench__arrivals(5.0, 1.0, 7, 0, 10.0, &t, &n), RX_OK);
    assert_true(n > 20 && n < 90);
    assert_true(t[n - 1] <= 10.0);
    assert_int_equal(rx_bench__arrivals(5.0, 1.0, 7, 0, 10.0, &u, &m), RX_OK);
    assert_int_equal(n, m);
    assert_memory_equal(t, u, (size_t)n * sizeof *t); /* same seed, same schedule */
    free(t);
    free(u);
    assert_int_equal(rx_bench__arrivals(INFINITY, 1.0, 1, 5, 0, &t, &n), RX_OK);
    for (int i = 0; i < 5; i++)
        assert_float_equal(t[i], 0.0, 0);
    free(t);
    assert_int_equal(rx_bench__arrivals(0, 1.0, 1, 5, 0, &t, &n), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_bench__arrivals(INFINITY, 1.0, 1, 0, 5, &t, &n), RX_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile_exact), cmocka_unit_test(test_moments_and_dist),
        cmocka_unit_test(test_slo_parse),        cmocka_unit_test(test_summary_and_goodput),
        cmocka_unit_test(test_summary_empty),    cmocka_unit_test(test_arrivals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
