/* libFuzzer target for the bench report reader of reflex bench plot (src/bench/plot_read.c),
 * and the chart drawn from what it accepts (plot_chart.c, plot_svg.c). The input is a report
 * file. A refusal must be RX_ERR_FORMAT or RX_ERR_RANGE with a message naming the input and
 * nothing left owned; an accepted report must give sorted, finite, non-negative latencies and
 * buckets, and draw (alone, and twice over with its label as the title) into a document whose
 * every '<' opens markup and every '&' an entity, ending in </svg>, with one curve per panel
 * that has data. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/plot.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_plot_report: invariant broken: %s\n", what);
        abort();
    }
}

static void check_values(const double *v, int64_t n, bool sorted, const char *what)
{
    check(n >= 0 && (n == 0 || v != NULL), what);
    for (int64_t i = 0; i < n; i++) {
        check(isfinite(v[i]) && v[i] >= 0, what);
        check(!sorted || i == 0 || v[i - 1] <= v[i], what);
    }
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Escaping held: markup only where our code put it, entities only as we write them, no
 * control bytes. */
static void check_document(const char *svg, size_t len)
{
    check(strlen(svg) == len, "length matches");
    check(strncmp(svg, "<?xml ", 6) == 0, "starts with the XML declaration");
    check(len >= 7 && strcmp(svg + len - 7, "</svg>\n") == 0, "ends with </svg>");
    static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)svg[i];
        check(c >= 0x20 || c == '\n', "no control bytes");
        if (c == '<')
            check(strchr("abcdefghijklmnopqrstuvwxyz/?", svg[i + 1]) != NULL, "'<' opens markup");
        if (c == '&') {
            bool known = false;
            for (int k = 0; k < 5; k++)
                known = known || strncmp(svg + i, entities[k], strlen(entities[k])) == 0;
            check(known, "'&' opens an entity");
        }
    }
}

static void draw(const rx_plot_run *runs, int n, const char *title, size_t panels_with_data)
{
    char *svg;
    size_t len;
    check(rx_plot_svg(runs, n, title, &svg, &len) == RX_OK, "an accepted report draws");
    check_document(svg, len);
    check(count(svg, "class=\"curve\"") == panels_with_data * (size_t)n, "one curve per panel");
    check(count(svg, "class=\"legend-entry\"") == (size_t)n, "one legend entry per run");
    free(svg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rx_plot_run r;
    rx_status s = rx_plot_run_parse((const char *)data, size, "fuzz", &r);
    if (s != RX_OK) {
        check(s == RX_ERR_FORMAT || s == RX_ERR_RANGE || s == RX_ERR_NOMEM, "refusal status");
        check(strncmp(rx_last_error(), "fuzz: ", 6) == 0 || s == RX_ERR_NOMEM,
              "refusal names the input");
        check(!r.label && !r.target && !r.ttft_ms && !r.itl_ms && !r.e2e_ms && !r.tokens_per_s,
              "nothing owned after a refusal");
        return 0;
    }
    check(r.label && r.label[0] && r.target, "label and target");
    check(r.n_ok >= 0 && r.n_ok <= r.n_requests, "ok <= requests");
    check(r.n_ttft <= r.n_ok && r.n_e2e <= r.n_ok, "latencies of successful requests only");
    check_values(r.ttft_ms, r.n_ttft, true, "ttft sorted, finite, >= 0");
    check_values(r.itl_ms, r.n_itl, true, "itl sorted, finite, >= 0");
    check_values(r.e2e_ms, r.n_e2e, true, "e2e sorted, finite, >= 0");
    check_values(r.tokens_per_s, r.n_buckets, false, "buckets finite, >= 0");
    check(r.n_buckets <= 1000001 && (r.n_buckets > 0) == (r.n_requests > 0), "bucket count");
    size_t panels = (r.n_ttft > 0) + (r.n_itl > 0) + (r.n_e2e > 0) + (r.n_buckets > 0);
    draw(&r, 1, NULL, panels);
    const rx_plot_run two[2] = {r, r};
    draw(two, 2, r.label, panels);
    rx_plot_run_free(&r);
    return 0;
}
