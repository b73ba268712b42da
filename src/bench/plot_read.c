/* Reads a `reflex bench serve --json` report (report.c writes it) into what reflex bench plot
 * draws: the successful requests' TTFT, inter-token gaps and end-to-end latencies, sorted, and
 * the tokens received in each second of the run. A file from anywhere is untrusted: every
 * field is checked before it is used, and the first wrong one is named. */
#include "reflex/plot.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A plot covers at most this many seconds (about 11.6 days): one bucket per second. */
#define MAX_TIME_S 1e6
/* Latencies above this (about 11.6 days, in ms) cannot belong to such a run. */
#define MAX_MS 1e9

/* One request as the plot needs it. */
typedef struct {
    double start_s, ttft_ms, e2e_ms; /* NAN: null */
    const json_t *itl;               /* borrowed from the document */
    int64_t completion_tokens;
    bool ok;
} record;

static rx_status not_report(const char *name, const char *why)
{
    return rx_error(RX_ERR_FORMAT, "%s: not a reflex bench serve report (%s)", name, why);
}

/* A number in [0, max], or null when nullable (NAN then). */
static rx_status number(const json_t *v, bool nullable, double max, const char *name, size_t i,
                        const char *key, double *out)
{
    if (nullable && json_is_null(v)) {
        *out = NAN;
        return RX_OK;
    }
    double x = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(x >= 0))
        return rx_error(RX_ERR_FORMAT, "%s: requests[%zu].%s: expected a number >= 0%s", name, i,
                        key, nullable ? " or null" : "");
    if (!(x <= max))
        return rx_error(RX_ERR_RANGE, "%s: requests[%zu].%s: %g is beyond the %g a plot covers",
                        name, i, key, x, max);
    *out = x;
    return RX_OK;
}

static rx_status read_itl(const json_t *itl, const char *name, size_t i, size_t *count)
{
    if (!json_is_array(itl))
        return rx_error(RX_ERR_FORMAT, "%s: requests[%zu].itl_ms: expected an array", name, i);
    size_t j;
    const json_t *g;
    double ms;
    json_array_foreach(itl, j, g)
    {
        rx_status s = number(g, false, MAX_MS, name, i, "itl_ms[]", &ms);
        if (s != RX_OK) return s;
    }
    *count = json_array_size(itl);
    return RX_OK;
}

/* Checks one request and fills r; *n_itl is the number of its gaps. */
static rx_status read_record(const json_t *q, const char *name, size_t i, record *r, size_t *n_itl)
{
    if (!json_is_object(q))
        return rx_error(RX_ERR_FORMAT, "%s: requests[%zu]: expected an object", name, i);
    const json_t *status = json_object_get(q, "status"), *tok;
    if (!json_is_string(status))
        return rx_error(RX_ERR_FORMAT, "%s: requests[%zu].status: expected a string", name, i);
    r->ok = strcmp(json_string_value(status), "ok") == 0;
    rx_status s =
        number(json_object_get(q, "start_s"), false, MAX_TIME_S, name, i, "start_s", &r->start_s);
    if (s == RX_OK)
        s = number(json_object_get(q, "ttft_ms"), true, MAX_MS, name, i, "ttft_ms", &r->ttft_ms);
    if (s == RX_OK)
        s = number(json_object_get(q, "e2e_ms"), true, MAX_MS, name, i, "e2e_ms", &r->e2e_ms);
    if (s == RX_OK) s = read_itl(r->itl = json_object_get(q, "itl_ms"), name, i, n_itl);
    if (s != RX_OK) return s;
    tok = json_object_get(q, "completion_tokens");
    if (!json_is_integer(tok) || json_integer_value(tok) < 0 ||
        json_integer_value(tok) > (json_int_t)1 << 40)
        return rx_error(RX_ERR_FORMAT,
                        "%s: requests[%zu].completion_tokens: expected an integer >= 0", name, i);
    r->completion_tokens = json_integer_value(tok);
    return RX_OK;
}

/* When each content chunk of a request arrived (seconds after the run began): start + TTFT +
 * the gaps so far. With buckets, adds the chunk's share of the request's tokens to the second
 * it arrived in. Returns the last arrival, or -1 when the request received no content. */
static double chunk_times(const record *r, double *buckets, int64_t n_buckets)
{
    if (isnan(r->ttft_ms)) return -1;
    size_t chunks = json_array_size(r->itl) + 1;
    double per_chunk = (double)r->completion_tokens / (double)chunks;
    double at = r->start_s + r->ttft_ms / 1e3;
    for (size_t j = 0;; j++) {
        if (buckets) {
            int64_t b = (int64_t)at;
            buckets[b < n_buckets ? b : n_buckets - 1] += per_chunk;
        }
        if (j + 1 == chunks) break;
        at += json_number_value(json_array_get(r->itl, j)) / 1e3;
    }
    return at;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* "URL, model M" from config, or "". */
static char *target_of(const json_t *config)
{
    const char *url = json_string_value(json_object_get(config, "url"));
    const char *model = json_string_value(json_object_get(config, "model"));
    size_t n = (url ? strlen(url) : 0) + (model ? strlen(model) : 0) + 16;
    char *t = malloc(n);
    if (!t) return NULL;
    snprintf(t, n, "%s%s%s%s", url ? url : "", url && model ? ", " : "", model ? "model " : "",
             model ? model : "");
    return t;
}

/* The top level: {"summary": {...}, "config": {...}, "requests": [...]}. */
static rx_status read_top(const json_t *root, const char *name, const json_t **config,
                          const json_t **requests)
{
    if (!json_is_object(root)) return not_report(name, "the top level is not an object");
    *requests = json_object_get(root, "requests");
    *config = json_object_get(root, "config");
    if (!json_is_array(*requests)) return not_report(name, "no \"requests\" array");
    if (!json_is_object(json_object_get(root, "summary")))
        return not_report(name, "no \"summary\" object");
    if (!json_is_object(*config)) return not_report(name, "no \"config\" object");
    const json_t *label = json_object_get(*config, "label");
    if (label && !json_is_string(label))
        return rx_error(RX_ERR_FORMAT, "%s: config.label: expected a string", name);
    if (label && json_string_length(label) == 0)
        return rx_error(RX_ERR_FORMAT, "%s: config.label: empty", name);
    return RX_OK;
}

/* Second pass over checked records: copy latencies, sort them, fill the buckets. */
static rx_status fill(rx_plot_run *out, const record *recs, size_t n, size_t n_itl, double end_s)
{
    out->ttft_ms = malloc((n + 1) * sizeof(double));
    out->e2e_ms = malloc((n + 1) * sizeof(double));
    out->itl_ms = malloc((n_itl + 1) * sizeof(double));
    out->n_buckets = n ? (int64_t)end_s + 1 : 0;
    out->tokens_per_s = calloc((size_t)out->n_buckets + 1, sizeof(double));
    if (!out->ttft_ms || !out->e2e_ms || !out->itl_ms || !out->tokens_per_s)
        return rx_error(RX_ERR_NOMEM, "out of memory reading a report of %zu requests", n);
    for (size_t i = 0; i < n; i++) {
        const record *r = &recs[i];
        if (!r->ok) continue;
        out->n_ok++;
        if (!isnan(r->ttft_ms)) out->ttft_ms[out->n_ttft++] = r->ttft_ms;
        if (!isnan(r->e2e_ms)) out->e2e_ms[out->n_e2e++] = r->e2e_ms;
        for (size_t j = 0; j < json_array_size(r->itl); j++)
            out->itl_ms[out->n_itl++] = json_number_value(json_array_get(r->itl, j));
        chunk_times(r, out->tokens_per_s, out->n_buckets);
    }
    qsort(out->ttft_ms, (size_t)out->n_ttft, sizeof(double), cmp_double);
    qsort(out->e2e_ms, (size_t)out->n_e2e, sizeof(double), cmp_double);
    qsort(out->itl_ms, (size_t)out->n_itl, sizeof(double), cmp_double);
    return RX_OK;
}

/* First pass: check every record, count the gaps, and find when the run ended. */
static rx_status read_records(const json_t *requests, const char *name, record *recs, size_t *n_itl,
                              double *end_s)
{
    size_t i;
    const json_t *q;
    *n_itl = 0;
    *end_s = 0;
    json_array_foreach(requests, i, q)
    {
        size_t gaps = 0;
        rx_status s = read_record(q, name, i, &recs[i], &gaps);
        if (s != RX_OK) return s;
        const record *r = &recs[i];
        double end = r->start_s + (isnan(r->e2e_ms) ? 0 : r->e2e_ms / 1e3);
        if (r->ok) {
            *n_itl += gaps;
            double last = chunk_times(r, NULL, 0);
            end = last > end ? last : end;
        }
        if (!(end < MAX_TIME_S))
            return rx_error(RX_ERR_RANGE,
                            "%s: requests[%zu] ends %g s after the start, beyond "
                            "the %g s a plot covers",
                            name, i, end, MAX_TIME_S);
        *end_s = end > *end_s ? end : *end_s;
    }
    return RX_OK;
}

rx_status rx_plot_run_parse(const char *json, size_t len, const char *name, rx_plot_run *out)
{
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return rx_error(RX_ERR_FORMAT, "%s: not valid JSON: %s (line %d, column %d)", name,
                        err.text, err.line, err.column);
    const json_t *config = NULL, *requests = NULL;
    rx_status s = read_top(root, name, &config, &requests);
    size_t n = requests && s == RX_OK ? json_array_size(requests) : 0, n_itl = 0;
    record *recs = malloc((n + 1) * sizeof *recs);
    double end_s = 0;
    if (s == RX_OK && !recs) s = rx_error(RX_ERR_NOMEM, "%s: out of memory", name);
    if (s == RX_OK) s = read_records(requests, name, recs, &n_itl, &end_s);
    if (s == RX_OK) {
        const json_t *label = json_object_get(config, "label");
        out->label = dup_str(label ? json_string_value(label) : name);
        out->target = target_of(config);
        out->n_requests = (int64_t)n;
        s = out->label && out->target ? fill(out, recs, n, n_itl, end_s)
                                      : rx_error(RX_ERR_NOMEM, "%s: out of memory", name);
    }
    free(recs);
    json_decref(root);
    if (s != RX_OK) rx_plot_run_free(out);
    return s;
}

rx_status rx_plot_run_load(const char *path, rx_plot_run *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return rx_error(RX_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    rx_status s = RX_OK;
    for (;;) {
        if (len == cap) {
            char *p = cap < ((size_t)1 << 34) ? realloc(buf, cap ? cap * 2 : 65536) : NULL;
            if (!p) {
                s = rx_error(RX_ERR_NOMEM, "%s: too large to read", path);
                break;
            }
            buf = p;
            cap = cap ? cap * 2 : 65536;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) s = rx_error(RX_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (s == RX_OK) s = rx_plot_run_parse(buf, len, path, out);
    free(buf);
    return s;
}

void rx_plot_run_free(rx_plot_run *r)
{
    free(r->label);
    free(r->target);
    free(r->ttft_ms);
    free(r->itl_ms);
    free(r->e2e_ms);
    free(r->tokens_per_s);
    memset(r, 0, sizeof *r);
}
