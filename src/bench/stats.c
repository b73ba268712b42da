/* Percentiles, moments, SLO checks and the run summary (throughput, availability, goodput,
 * jitter) computed from the per-request records. Conventions are in stats.h. */
#include "bench/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double rx_stats_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0) return NAN;
    double h = (double)(n - 1) * p / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1) return sorted[n - 1];
    return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

void rx_stats_moments(const double *x, size_t n, double *mean, double *stddev)
{
    if (n == 0) {
        *mean = *stddev = NAN;
        return;
    }
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double m = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sq += (x[i] - m) * (x[i] - m); /* two passes: no cancellation on tight latencies */
    *mean = m;
    *stddev = sqrt(sq / (double)n);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void rx_stats_dist(double *x, size_t n, rx_lg_dist *d)
{
    if (n > 1) qsort(x, n, sizeof *x, cmp_double);
    d->n = (int64_t)n;
    rx_stats_moments(x, n, &d->mean, &d->stddev);
    d->p50 = rx_stats_percentile(x, n, 50);
    d->p90 = rx_stats_percentile(x, n, 90);
    d->p95 = rx_stats_percentile(x, n, 95);
    d->p99 = rx_stats_percentile(x, n, 99);
    d->max = n ? x[n - 1] : NAN;
}

bool rx_stats_meets_slo(const rx_lg_record *r, const rx_lg_slo *slo)
{
    if (r->kind != RX_LG_OK) return false;
    if (slo->ttft_s > 0 && !(r->ttft_s <= slo->ttft_s)) return false;
    if (slo->e2e_s > 0 && !(r->e2e_s <= slo->e2e_s)) return false;
    /* a request of one token has no TPOT and no gaps: nothing to miss */
    if (slo->tpot_s > 0 && !isnan(r->tpot_s) && r->tpot_s > slo->tpot_s) return false;
    if (slo->itl_s > 0)
        for (int32_t i = 0; i < r->n_itl; i++)
            if (r->itl_s[i] > slo->itl_s) return false;
    return true;
}

/* Fills the four latency distributions from the successful records. */
static void latencies(const rx_lg_result *r, int64_t n_itl, rx_lg_summary *s)
{
    size_t n = (size_t)r->n_records;
    double *ttft = malloc((n + 1) * sizeof *ttft), *tpot = malloc((n + 1) * sizeof *tpot);
    double *e2e = malloc((n + 1) * sizeof *e2e), *itl = malloc(((size_t)n_itl + 1) * sizeof *itl);
    size_t a = 0, b = 0, c = 0, k = 0;
    if (ttft && tpot && e2e && itl) {
        for (size_t i = 0; i < n; i++) {
            const rx_lg_record *q = &r->records[i];
            if (q->kind != RX_LG_OK) continue;
            if (!isnan(q->ttft_s)) ttft[a++] = q->ttft_s;
            if (!isnan(q->tpot_s)) tpot[b++] = q->tpot_s;
            e2e[c++] = q->e2e_s;
            for (int32_t j = 0; j < q->n_itl; j++)
                itl[k++] = q->itl_s[j];
        }
    }
    rx_stats_dist(ttft, a, &s->ttft);
    rx_stats_dist(tpot, b, &s->tpot);
    rx_stats_dist(e2e, c, &s->e2e);
    rx_stats_dist(itl, k, &s->itl);
    s->jitter_stddev_s = s->itl.stddev;
    s->jitter_p99_p50_s = s->itl.p99 - s->itl.p50;
    free(ttft);
    free(tpot);
    free(e2e);
    free(itl);
}

void rx_lg_summarize(const rx_lg_result *r, const rx_lg_slo *slo, rx_lg_summary *s)
{
    memset(s, 0, sizeof *s);
    s->duration_s = r->duration_s;
    s->attempted = r->n_records;
    int64_t n_itl = 0;
    rx_lg_slo none = {0};
    if (!slo) slo = &none;
    s->slo_set = slo->ttft_s > 0 || slo->tpot_s > 0 || slo->itl_s > 0 || slo->e2e_s > 0;
    for (int64_t i = 0; i < r->n_records; i++) {
        const rx_lg_record *q = &r->records[i];
        if (q->kind != RX_LG_OK) {
            s->failed_by_kind[q->kind]++;
            continue;
        }
        s->ok++;
        n_itl += q->n_itl;
        if (q->prompt_tokens > 0) s->prompt_tokens += q->prompt_tokens;
        s->completion_tokens += q->completion_tokens;
        if (rx_stats_meets_slo(q, slo)) s->good++;
    }
    s->availability = s->attempted ? (double)s->ok / (double)s->attempted : NAN;
    double d = s->duration_s > 0 ? s->duration_s : NAN;
    s->request_tput = (double)s->ok / d;
    s->output_tput = (double)s->completion_tokens / d;
    s->total_tput = (double)(s->prompt_tokens + s->completion_tokens) / d;
    s->goodput = s->slo_set ? (double)s->good / d : NAN;
    latencies(r, n_itl, s);
}

/* "500ms", "2s", "2.5s", "800us": a positive duration in seconds; false otherwise. */
static bool parse_duration(const char *v, size_t n, double *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end;
    double x = strtod(buf, &end);
    double unit = strcmp(end, "ms") == 0   ? 1e-3
                  : strcmp(end, "us") == 0 ? 1e-6
                  : strcmp(end, "s") == 0  ? 1.0
                                           : 0.0;
    if (end == buf || unit == 0.0 || !(x > 0) || isinf(x)) return false;
    *out = x * unit;
    return true;
}

rx_status rx_lg_slo_parse(const char *s, rx_lg_slo *out)
{
    memset(out, 0, sizeof *out);
    const char *p = s;
    do {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (!eq)
            return rx_error(RX_ERR_INVALID_ARG, "slo: expected key=value, got '%.*s'", (int)n, p);
        size_t kn = (size_t)(eq - p);
        double *slot = kn == 4 && memcmp(p, "ttft", 4) == 0   ? &out->ttft_s
                       : kn == 4 && memcmp(p, "tpot", 4) == 0 ? &out->tpot_s
                       : kn == 3 && memcmp(p, "itl", 3) == 0  ? &out->itl_s
                       : kn == 3 && memcmp(p, "e2e", 3) == 0  ? &out->e2e_s
                                                              : NULL;
        if (!slot)
            return rx_error(RX_ERR_INVALID_ARG, "slo: unknown key '%.*s' (ttft, tpot, itl, e2e)",
                            (int)kn, p);
        if (!parse_duration(eq + 1, n - kn - 1, slot))
            return rx_error(RX_ERR_INVALID_ARG,
                            "slo: %.*s: expected a positive duration like 500ms or 2s, got '%.*s'",
                            (int)kn, p, (int)(n - kn - 1), eq + 1);
        p += n;
    } while (*p++ == ',');
    return RX_OK;
}
