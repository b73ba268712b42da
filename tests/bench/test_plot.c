/* src/bench/plot_*.c: nice steps, linear and log scales and their ticks, CDF step vertices
 * (exact on small sets, thinned on large ones), regrouping, the SVG writer's escaping and its
 * refusal of non-finite coordinates, and the report reader: what it extracts from a small
 * report (latencies sorted, tokens per second bucket) and the error it gives for each kind of
 * bad report. The document as a whole is checked by tests/bench/test_bench_plot.py. */
#include "rxtest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/plot_internal.h"
#include "reflex/plot.h"

static void test_nice_step(void **state)
{
    (void)state;
    const double in[] = {0.3, 1, 1.2, 2, 2.1, 5, 7, 0.07, 450, 1e-5};
    const double want[] = {0.5, 1, 2, 2, 5, 5, 10, 0.1, 500, 1e-5};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        assert_float_equal(rx_plot__nice_step(in[i]), want[i], want[i] * 1e-9);
}

static void expect_ticks(const rx_plot_scale *s, const double *want, int n)
{
    double t[32];
    int got = rx_plot__ticks(s, t, 32);
    assert_int_equal(got, n);
    for (int i = 0; i < n; i++)
        assert_float_equal(t[i], want[i], fabs(want[i]) * 1e-9 + 1e-12);
}

static void test_linear_scale(void **state)
{
    (void)state;
    rx_plot_scale s;
    rx_plot__scale_fit(&s, 3, 47, 3, false, 100, 600);
    assert_false(s.log);
    assert_float_equal(s.lo, 0, 1e-12);
    assert_float_equal(s.hi, 50, 1e-9);
    expect_ticks(&s, (const double[]){0, 10, 20, 30, 40, 50}, 6);
    assert_float_equal(rx_plot__scale_px(&s, 0), 100, 1e-9);
    assert_float_equal(rx_plot__scale_px(&s, 25), 350, 1e-9);
    assert_float_equal(rx_plot__scale_px(&s, 50), 600, 1e-9);
    assert_float_equal(rx_plot__scale_px(&s, 80), 600, 1e-9); /* clamped */
    assert_float_equal(rx_plot__scale_px(&s, -5), 100, 1e-9);
    assert_float_equal(rx_plot__scale_px(&s, NAN), 100, 1e-9);

    /* a y axis: pixels grow downwards */
    rx_plot__scale_fit(&s, 0, 1, 0, false, 400, 100);
    expect_ticks(&s, (const double[]){0, 0.2, 0.4, 0.6, 0.8, 1}, 6);
    assert_float_equal(rx_plot__scale_px(&s, 1), 100, 1e-9);
    assert_float_equal(rx_plot__scale_px(&s, 0.5), 250, 1e-9);

    /* one value, and all zeros: widened so the value sits inside */
    rx_plot__scale_fit(&s, 5, 5, 5, true, 0, 100);
    assert_false(s.log);
    assert_true(s.lo <= 5 && s.hi > 5);
    rx_plot__scale_fit(&s, 0, 0, 0, true, 0, 100);
    assert_float_equal(s.lo, 0, 1e-12);
    assert_float_equal(s.hi, 1, 1e-12);

    /* a span under a factor of 20 stays linear even when log is allowed */
    rx_plot__scale_fit(&s, 10, 150, 10, true, 0, 100);
    assert_false(s.log);
    expect_ticks(&s, (const double[]){0, 50, 100, 150}, 4);
}

static void test_log_scale(void **state)
{
    (void)state;
    rx_plot_scale s;
    rx_plot__scale_fit(&s, 3, 4500, 3, true, 0, 400);
    assert_true(s.log);
    assert_float_equal(s.lo, 1, 1e-12);
    assert_float_equal(s.hi, 10000, 1e-6);
    expect_ticks(&s, (const double[]){1, 10, 100, 1000, 10000}, 5);
    assert_float_equal(rx_plot__scale_px(&s, 100), 200, 1e-9);
    assert_float_equal(rx_plot__scale_px(&s, 0), 0, 1e-9); /* zero sits on the edge */
    assert_float_equal(rx_plot__scale_px(&s, 1e9), 400, 1e-9);

    /* two decades or fewer: 2 and 5 between them */
    rx_plot__scale_fit(&s, 0, 80, 2, true, 0, 400);
    assert_true(s.log);
    expect_ticks(&s, (const double[]){1, 2, 5, 10, 20, 50, 100}, 7);

    /* fifteen decades: every other one */
    rx_plot__scale_fit(&s, 1e-6, 1e9, 1e-6, true, 0, 400);
    expect_ticks(&s, (const double[]){1e-6, 1e-4, 1e-2, 1, 1e2, 1e4, 1e6, 1e8}, 8);

    /* a positive value too small to matter does not make hundreds of decades */
    rx_plot__scale_fit(&s, 0, 10, 1e-300, true, 0, 400);
    assert_true(s.log);
    assert_float_equal(s.lo, 1e-12, 1e-20);
    double t[32];
    assert_true(rx_plot__ticks(&s, t, 32) <= 9);
}

static void test_tick_label(void **state)
{
    (void)state;
    char b[32];
    const double v[] = {0, -0.0, 0.5, 1000, 1e6, 0.001, 250};
    const char *want[] = {"0", "0", "0.5", "1000", "1e+06", "0.001", "250"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        rx_plot__tick_label(v[i], b, sizeof b);
        assert_string_equal(b, want[i]);
    }
}

static void expect_pts(const rx_plot_pt *p, size_t n, const double *xy, size_t want)
{
    assert_int_equal(n, want);
    for (size_t i = 0; i < n; i++) {
        assert_float_equal(p[i].x, xy[2 * i], 1e-12);
        assert_float_equal(p[i].y, xy[2 * i + 1], 1e-12);
    }
}

static void test_cdf_steps(void **state)
{
    (void)state;
    rx_plot_pt p[2 * 100 + 1];
    const double four[] = {1, 2, 3, 4};
    expect_pts(p, rx_plot__cdf_steps(four, 4, 10, p),
               (const double[]){1, 0, 1, 0, 1, .25, 2, .25, 2, .5, 3, .5, 3, .75, 4, .75, 4, 1}, 9);
    const double dup[] = {1, 1, 2};
    expect_pts(p, rx_plot__cdf_steps(dup, 3, 10, p),
               (const double[]){1, 0, 1, 0, 1, 2.0 / 3, 2, 2.0 / 3, 2, 1}, 5);
    const double one[] = {7};
    expect_pts(p, rx_plot__cdf_steps(one, 1, 10, p), (const double[]){7, 0, 7, 0, 7, 1}, 3);
    assert_int_equal(rx_plot__cdf_steps(NULL, 0, 10, p), 0);

    /* 1000 values, 10 steps: ranks 100, 200, ... 1000, heights exact */
    double *x = malloc(1000 * sizeof *x);
    for (int i = 0; i < 1000; i++)
        x[i] = i + 1;
    size_t n = rx_plot__cdf_steps(x, 1000, 10, p);
    assert_int_equal(n, 21);
    for (int k = 1; k <= 10; k++) {
        assert_float_equal(p[2 * k].x, 100.0 * k, 1e-12);
        assert_float_equal(p[2 * k].y, k / 10.0, 1e-12);
        assert_float_equal(p[2 * k - 1].y, (k - 1) / 10.0, 1e-12);
    }
    /* half the values equal: that jump is one step of height 1/2 */
    for (int i = 0; i < 500; i++)
        x[i] = 0;
    n = rx_plot__cdf_steps(x, 1000, 10, p);
    assert_float_equal(p[2].x, 0, 1e-12);
    assert_float_equal(p[2].y, 0.5, 1e-12);
    assert_float_equal(p[n - 1].y, 1.0, 1e-12);
    assert_true(n <= 21);
    free(x);
}

static void test_regroup(void **state)
{
    (void)state;
    const double v[] = {1, 2, 3, 4, 5, 6, 7};
    double out[8];
    assert_int_equal(rx_plot__regroup(v, 7, 3, out), 3);
    assert_float_equal(out[0], 2, 1e-12);
    assert_float_equal(out[1], 5, 1e-12);
    assert_float_equal(out[2], 7, 1e-12); /* the last group has one second */
    assert_int_equal(rx_plot__regroup(v, 7, 1, out), 7);
    assert_float_equal(out[6], 7, 1e-12);
}

static void expect_escaped(const char *in, size_t max_chars, const char *want)
{
    rx_svg w;
    rx_svg__init(&w);
    rx_svg__escaped(&w, in, max_chars);
    assert_false(w.oom);
    assert_string_equal(w.buf ? w.buf : "", want);
    rx_svg__free(&w);
}

static void test_svg_escaping(void **state)
{
    (void)state;
    expect_escaped("a<b>&\"c'", 100, "a&lt;b&gt;&amp;&quot;c&apos;");
    expect_escaped("&amp;", 100, "&amp;amp;");
    expect_escaped("tab\there\nline\r", 100, "tab here line ");
    expect_escaped("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 100,
                   "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"); /* é € 😀 kept */
    const char *fffd = "\xef\xbf\xbd";
    char want[64];
    snprintf(want, sizeof want, "a%sb", fffd);
    expect_escaped("a\xff"
                   "b",
                   100, want); /* not UTF-8 */
    expect_escaped("a\x01"
                   "b",
                   100, want); /* forbidden in XML 1.0 */
    expect_escaped("a\x1b"
                   "b",
                   100, want);
    expect_escaped("a\xef\xbf\xbe"
                   "b",
                   100, want); /* U+FFFE */
    snprintf(want, sizeof want, "a%s%sb", fffd, fffd);
    expect_escaped("a\xc0\xaf"
                   "b",
                   100, want); /* overlong '/' */
    snprintf(want, sizeof want, "a%s%s%sb", fffd, fffd, fffd);
    expect_escaped("a\xed\xa0\x80"
                   "b",
                   100, want);                                     /* a surrogate */
    expect_escaped("a\xe2\x82", 100, "a\xef\xbf\xbd\xef\xbf\xbd"); /* cut short */
    expect_escaped("h\xc3\xa9llo", 2, "h\xc3\xa9\xe2\x80\xa6");
    expect_escaped("abc", 3, "abc");
    expect_escaped("<<<<", 2, "&lt;&lt;\xe2\x80\xa6");
    expect_escaped("", 5, "");
}

static void test_svg_elements(void **state)
{
    (void)state;
    rx_svg w;
    rx_svg__init(&w);
    rx_svg__begin(&w, 200, 100, "t<1>");
    rx_svg__line(&w, 1, 2, 3, 4, "stroke=\"black\"");
    rx_svg__text(&w, 5, 6, "class=\"x\"", "a&b", 10);
    rx_svg__polyline(&w, (const rx_plot_pt[]){{1, 2}, {3.25, 4}}, 2, "class=\"curve\"");
    rx_svg__end(&w);
    assert_false(w.oom || w.bad_number);
    assert_non_null(strstr(w.buf, "viewBox=\"0 0 200 100\""));
    assert_non_null(strstr(w.buf, "<title>t&lt;1&gt;</title>"));
    assert_non_null(strstr(w.buf, "<line x1=\"1.0\" y1=\"2.0\" x2=\"3.0\" y2=\"4.0\" stroke="));
    assert_non_null(strstr(w.buf, "<text x=\"5.0\" y=\"6.0\" class=\"x\">a&amp;b</text>"));
    assert_non_null(strstr(w.buf, "points=\"1.0,2.0 3.2,4.0\"/>"));
    assert_int_equal(strlen(w.buf), w.len);
    assert_string_equal(w.buf + w.len - 7, "</svg>\n");
    /* a long piece of raw markup goes through the slow path whole */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    size_t before = w.len;
    rx_svg__raw(&w, "%s", big);
    assert_int_equal(w.len, before + sizeof big - 1);
    /* a non-finite coordinate is a layout bug: flagged, and nothing more is written */
    before = w.len;
    rx_svg__line(&w, NAN, 0, 1, 1, "");
    assert_true(w.bad_number);
    rx_svg__text(&w, 1, 1, "", "more", 10);
    assert_int_equal(w.len, before);
    rx_svg__free(&w);
}

static const char report[] =
    "{\"summary\": {\"ok\": 2},"
    " \"config\": {\"url\": \"http://127.0.0.1:1\", \"model\": \"m\", \"label\": \"edge <1>\"},"
    " \"requests\": ["
    "  {\"start_s\": 0.5, \"ttft_ms\": 200, \"itl_ms\": [400, 500], \"e2e_ms\": 1100,"
    "   \"completion_tokens\": 6, \"status\": \"ok\"},"
    "  {\"start_s\": 0, \"ttft_ms\": 100.5, \"itl_ms\": [0, 20], \"e2e_ms\": 130,"
    "   \"completion_tokens\": 3, \"status\": \"ok\"},"
    "  {\"start_s\": 1, \"ttft_ms\": null, \"itl_ms\": [], \"e2e_ms\": 3500,"
    "   \"completion_tokens\": 0, \"status\": \"timeout\"}]}";

static void test_read_report(void **state)
{
    (void)state;
    rx_plot_run r;
    assert_int_equal(rx_plot_run_parse(report, strlen(report), "r.json", &r), RX_OK);
    assert_string_equal(r.label, "edge <1>");
    assert_string_equal(r.target, "http://127.0.0.1:1, model m");
    assert_int_equal(r.n_requests, 3);
    assert_int_equal(r.n_ok, 2);
    assert_int_equal(r.n_ttft, 2);
    assert_float_equal(r.ttft_ms[0], 100.5, 1e-12);
    assert_float_equal(r.ttft_ms[1], 200, 1e-12);
    assert_int_equal(r.n_e2e, 2);
    assert_float_equal(r.e2e_ms[0], 130, 1e-12);
    assert_int_equal(r.n_itl, 4);
    const double itl[] = {0, 20, 400, 500};
    for (int i = 0; i < 4; i++)
        assert_float_equal(r.itl_ms[i], itl[i], 1e-12);
    /* chunks at 0.7, 1.1, 1.6 s (2 tokens each) and 0.1005, 0.1005, 0.1205 s (1 each); the
     * timed-out request ends at 4.5 s, so the run covers five seconds */
    assert_int_equal(r.n_buckets, 5);
    const double tok[] = {5, 4, 0, 0, 0};
    for (int i = 0; i < 5; i++)
        assert_float_equal(r.tokens_per_s[i], tok[i], 1e-9);
    rx_plot_run_free(&r);
    assert_null(r.label);

    /* no label: the name given; no url or model: no target */
    const char *bare = "{\"summary\": {}, \"config\": {}, \"requests\": []}";
    assert_int_equal(rx_plot_run_parse(bare, strlen(bare), "dir/b.json", &r), RX_OK);
    assert_string_equal(r.label, "dir/b.json");
    assert_string_equal(r.target, "");
    assert_int_equal(r.n_requests, 0);
    assert_int_equal(r.n_buckets, 0);
    char *svg;
    size_t len;
    assert_int_equal(rx_plot_svg(&r, 1, NULL, &svg, &len), RX_OK); /* "no data" panels */
    assert_non_null(strstr(svg, "no data"));
    assert_null(strstr(svg, "class=\"curve\""));
    free(svg);
    rx_plot_run_free(&r);
}

static void expect_refused(const char *json, rx_status want, const char *msg)
{
    rx_plot_run r;
    rx_status s = rx_plot_run_parse(json, strlen(json), "x.json", &r);
    if (s != want || !strstr(rx_last_error(), msg) || strncmp(rx_last_error(), "x.json: ", 8))
        fail_msg("%s: got status %d, message '%s'; want %d with '%s'", json, s, rx_last_error(),
                 want, msg);
    assert_null(r.label);
    assert_null(r.ttft_ms);
}

#define REQ(fields) "{\"summary\": {}, \"config\": {}, \"requests\": [" fields "]}"
#define OK_REQ                                                                                     \
    "{\"start_s\": 0, \"ttft_ms\": 1, \"itl_ms\": [], \"e2e_ms\": 1, \"completion_tokens\": 1, "   \
    "\"status\": \"ok\"}"

static void test_read_refusals(void **state)
{
    (void)state;
    expect_refused("", RX_ERR_FORMAT, "not valid JSON");
    expect_refused("{\"requests\": [", RX_ERR_FORMAT, "not valid JSON");
    expect_refused("[1, 2]", RX_ERR_FORMAT, "not a reflex bench serve report (the top level");
    expect_refused("{\"a\": 1}", RX_ERR_FORMAT, "no \"requests\" array");
    expect_refused("{\"requests\": [], \"config\": {}}", RX_ERR_FORMAT, "no \"summary\" object");
    expect_refused("{\"requests\": [], \"summary\": {}}", RX_ERR_FORMAT, "no \"config\" object");
    expect_refused("{\"requests\": [], \"requests\": [], \"summary\": {}, \"config\": {}}",
                   RX_ERR_FORMAT, "duplicate");
    expect_refused("{\"summary\": {}, \"config\": {\"label\": 3}, \"requests\": []}", RX_ERR_FORMAT,
                   "config.label: expected a string");
    expect_refused("{\"summary\": {}, \"config\": {\"label\": \"\"}, \"requests\": []}",
                   RX_ERR_FORMAT, "config.label: empty");
    expect_refused(REQ(OK_REQ ", 3"), RX_ERR_FORMAT, "requests[1]: expected an object");
    expect_refused(REQ("{\"start_s\": 0}"), RX_ERR_FORMAT, "requests[0].status");
    expect_refused(REQ(OK_REQ ", {\"status\": \"ok\", \"start_s\": -1}"), RX_ERR_FORMAT,
                   "requests[1].start_s: expected a number >= 0");
    expect_refused(REQ("{\"status\": \"ok\", \"start_s\": 0, \"ttft_ms\": \"fast\"}"),
                   RX_ERR_FORMAT, "requests[0].ttft_ms: expected a number >= 0 or null");
    expect_refused(REQ("{\"status\": \"ok\", \"start_s\": 0, \"ttft_ms\": 1, \"e2e_ms\": 2}"),
                   RX_ERR_FORMAT, "requests[0].itl_ms: expected an array");
    expect_refused(REQ("{\"status\": \"ok\", \"start_s\": 0, \"ttft_ms\": 1, \"e2e_ms\": 2, "
                       "\"itl_ms\": [1, null]}"),
                   RX_ERR_FORMAT, "requests[0].itl_ms[]: expected a number >= 0");
    expect_refused(REQ("{\"status\": \"ok\", \"start_s\": 0, \"ttft_ms\": 1, \"e2e_ms\": 2, "
                       "\"itl_ms\": [], \"completion_tokens\": 1.5}"),
                   RX_ERR_FORMAT, "requests[0].completion_tokens: expected an integer >= 0");
    expect_refused(REQ("{\"status\": \"ok\", \"start_s\": 2e6}"), RX_ERR_RANGE,
                   "requests[0].start_s: 2e+06 is beyond");
    expect_refused(REQ("{\"status\": \"ok\", \"start_s\": 9e5, \"ttft_ms\": 1, \"e2e_ms\": 2e8, "
                       "\"itl_ms\": [], \"completion_tokens\": 1}"),
                   RX_ERR_RANGE, "requests[0] ends 1.1e+06 s after the start");
    expect_refused(REQ("{\"status\": \"ok\", \"start_s\": 0, \"ttft_ms\": 1, \"e2e_ms\": 2, "
                       "\"itl_ms\": [9e8, 9e8], \"completion_tokens\": 1}"),
                   RX_ERR_RANGE, "requests[0] ends");

    rx_plot_run r;
    assert_int_equal(rx_plot_run_load("/nonexistent/r.json", &r), RX_ERR_IO);
    assert_non_null(strstr(rx_last_error(), "cannot read /nonexistent/r.json"));
    assert_int_equal(rx_plot_run_load("/", &r), RX_ERR_IO); /* a directory */
    assert_non_null(strstr(rx_last_error(), "cannot read /"));
}

static void test_svg_run_count(void **state)
{
    (void)state;
    rx_plot_run runs[RX_PLOT_MAX_RUNS + 1];
    memset(runs, 0, sizeof runs);
    char *svg = (char *)"unchanged";
    size_t len = 1;
    assert_int_equal(rx_plot_svg(runs, 0, NULL, &svg, &len), RX_ERR_INVALID_ARG);
    assert_null(svg);
    assert_int_equal(rx_plot_svg(runs, RX_PLOT_MAX_RUNS + 1, NULL, &svg, &len), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "1 to 10"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_step),     cmocka_unit_test(test_linear_scale),
        cmocka_unit_test(test_log_scale),     cmocka_unit_test(test_tick_label),
        cmocka_unit_test(test_cdf_steps),     cmocka_unit_test(test_regroup),
        cmocka_unit_test(test_svg_escaping),  cmocka_unit_test(test_svg_elements),
        cmocka_unit_test(test_read_report),   cmocka_unit_test(test_read_refusals),
        cmocka_unit_test(test_svg_run_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
