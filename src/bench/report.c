/* The load generator's report: a human-readable summary on a FILE (laid out like vLLM's
 * bench serve result) and a JSON file with the summary, the config and every request. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reflex/loadgen.h"

static void load_line(FILE *f, const rx_lg_config *cfg)
{
    if (cfg->label) fprintf(f, "%-40s %s\n", "Label:", cfg->label);
    fprintf(f, "%-40s %s (%s, model %s)\n", "Target:", cfg->url,
            cfg->endpoint == RX_LG_CHAT ? "chat" : "completions", cfg->model);
    if (cfg->concurrency > 0)
        fprintf(f, "%-40s closed loop, %d concurrent streams\n", "Load:", cfg->concurrency);
    else
        fprintf(f, "%-40s open loop, %g req/s, burstiness %g\n", "Load:", cfg->rate,
                cfg->burstiness);
}

static void dist_line(FILE *f, const char *name, const rx_lg_dist *d)
{
    if (d->n == 0) {
        fprintf(f, "%-6s %7d %10s\n", name, 0, "-");
        return;
    }
    fprintf(f, "%-6s %7lld %10.2f ± %8.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, (long long)d->n,
            d->mean * 1e3, d->stddev * 1e3, d->p50 * 1e3, d->p90 * 1e3, d->p95 * 1e3, d->p99 * 1e3,
            d->max * 1e3);
}

void rx_lg_report_text(FILE *f, const rx_lg_summary *s, const rx_lg_config *cfg)
{
    fprintf(f, "================ reflex bench serve ================\n");
    load_line(f, cfg);
    fprintf(f, "%-40s %.2f\n", "Benchmark duration (s):", s->duration_s);
    fprintf(f, "%-40s %lld\n", "Requests attempted:", (long long)s->attempted);
    fprintf(f, "%-40s %lld\n", "Successful requests:", (long long)s->ok);
    fprintf(f, "%-40s %lld", "Failed requests:", (long long)(s->attempted - s->ok));
    for (int k = 1; k < RX_LG_KIND_COUNT; k++)
        fprintf(f, "%s%s %lld", k == 1 ? "  (" : ", ", rx_lg_kind_name((rx_lg_kind)k),
                (long long)s->failed_by_kind[k]);
    fprintf(f, ")\n");
    fprintf(f, "%-40s %.2f%%\n", "Availability:", s->availability * 100.0);
    fprintf(f, "%-40s %lld\n", "Total input tokens:", (long long)s->prompt_tokens);
    fprintf(f, "%-40s %lld\n", "Total generated tokens:", (long long)s->completion_tokens);
    fprintf(f, "%-40s %.2f\n", "Request throughput (req/s):", s->request_tput);
    fprintf(f, "%-40s %.2f\n", "Output token throughput (tok/s):", s->output_tput);
    fprintf(f, "%-40s %.2f\n", "Total token throughput (tok/s):", s->total_tput);
    if (s->slo_set) {
        fprintf(f, "%-40s %lld of %lld\n", "Requests meeting every SLO:", (long long)s->good,
                (long long)s->attempted);
        fprintf(f, "%-40s %.2f\n", "Goodput (req/s):", s->goodput);
    }
    fprintf(f, "------------------- Latency (ms) -------------------\n");
    fprintf(f, "%-6s %7s %10s   %8s %9s %9s %9s %9s %9s\n", "", "n", "mean", "stddev", "p50", "p90",
            "p95", "p99", "max");
    dist_line(f, "TTFT", &s->ttft);
    dist_line(f, "TPOT", &s->tpot);
    dist_line(f, "ITL", &s->itl);
    dist_line(f, "E2E", &s->e2e);
    if (s->itl.n)
        fprintf(f, "%-40s %.2f ms stddev, %.2f ms p99 - p50\n",
                "Jitter (inter-token):", s->jitter_stddev_s * 1e3, s->jitter_p99_p50_s * 1e3);
    fprintf(f, "====================================================\n");
}

/* NAN and infinities have no JSON form; they are written as null. */
static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *dist_json(const rx_lg_dist *d)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "n", (json_int_t)d->n, "mean",
                     num(d->mean * 1e3), "stddev", num(d->stddev * 1e3), "p50", num(d->p50 * 1e3),
                     "p90", num(d->p90 * 1e3), "p95", num(d->p95 * 1e3), "p99", num(d->p99 * 1e3),
                     "max", num(d->max * 1e3));
}

static json_t *summary_json(const rx_lg_summary *s)
{
    json_t *failed = json_object();
    for (int k = 1; k < RX_LG_KIND_COUNT && failed; k++)
        json_object_set_new(failed, rx_lg_kind_name((rx_lg_kind)k),
                            json_integer(s->failed_by_kind[k]));
    return json_pack(
        "{s:o, s:I, s:I, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I,"
        " s:o}",
        "duration_s", num(s->duration_s), "attempted", (json_int_t)s->attempted, "ok",
        (json_int_t)s->ok, "failed", failed, "availability", num(s->availability), "prompt_tokens",
        (json_int_t)s->prompt_tokens, "completion_tokens", (json_int_t)s->completion_tokens,
        "request_throughput", num(s->request_tput), "output_token_throughput", num(s->output_tput),
        "total_token_throughput", num(s->total_tput), "ttft_ms", dist_json(&s->ttft), "tpot_ms",
        dist_json(&s->tpot), "itl_ms", dist_json(&s->itl), "e2e_ms", dist_json(&s->e2e),
        "jitter_ms",
        json_pack("{s:o, s:o}", "stddev", num(s->jitter_stddev_s * 1e3), "p99_minus_p50",
                  num(s->jitter_p99_p50_s * 1e3)),
        "good", (json_int_t)s->good, "goodput", num(s->goodput));
}

static json_t *config_json(const rx_lg_config *cfg, const rx_lg_slo *slo)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:I, s:o, s:I}", "url", cfg->url, "model",
                  cfg->model, "endpoint", cfg->endpoint == RX_LG_CHAT ? "chat" : "completions",
                  "concurrency", cfg->concurrency, "rate", num(cfg->rate), "burstiness",
                  num(cfg->burstiness), "requests", (json_int_t)cfg->n_requests, "duration_s",
                  num(cfg->duration_s), "seed", (json_int_t)cfg->seed);
    if (j && cfg->label) json_object_set_new(j, "label", json_string(cfg->label));
    if (j && slo)
        json_object_set_new(j, "slo_ms",
                            json_pack("{s:o, s:o, s:o, s:o}", "ttft", num(slo->ttft_s * 1e3),
                                      "tpot", num(slo->tpot_s * 1e3), "itl", num(slo->itl_s * 1e3),
                                      "e2e", num(slo->e2e_s * 1e3)));
    return j;
}

static json_t *record_json(const rx_lg_record *r)
{
    json_t *itl = json_array();
    for (int32_t i = 0; i < r->n_itl && itl; i++)
        json_array_append_new(itl, num(r->itl_s[i] * 1e3));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:b, s:i, s:s, s:i, s:s}", "start_s",
                     num(r->start_s), "ttft_ms", num(r->ttft_s * 1e3), "itl_ms", itl, "tpot_ms",
                     num(r->tpot_s * 1e3), "e2e_ms", num(r->e2e_s * 1e3), "prompt_tokens",
                     (json_int_t)r->prompt_tokens, "completion_tokens",
                     (json_int_t)r->completion_tokens, "content_chunks",
                     (json_int_t)r->content_chunks, "usage_seen", r->usage_seen, "output_len",
                     r->output_len, "status", rx_lg_kind_name(r->kind), "http_status",
                     r->http_status, "error", r->error);
}

rx_status rx_lg_report_json(const char *path, const rx_lg_summary *s, const rx_lg_config *cfg,
                            const rx_lg_slo *slo, const rx_lg_result *r)
{
    json_t *reqs = json_array();
    for (int64_t i = 0; i < r->n_records && reqs; i++)
        if (json_array_append_new(reqs, record_json(&r->records[i])) != 0) {
            json_decref(reqs);
            reqs = NULL;
        }
    json_t *j = reqs ? json_pack("{s:o, s:o, s:o}", "summary", summary_json(s), "config",
                                 config_json(cfg, slo), "requests", reqs)
                     : NULL;
    if (!j) return rx_error(RX_ERR_NOMEM, "%s: cannot build the JSON report", path);
    int rc = json_dump_file(j, path, JSON_INDENT(1) | JSON_REAL_PRECISION(9));
    json_decref(j);
    if (rc != 0) return rx_error(RX_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return RX_OK;
}
