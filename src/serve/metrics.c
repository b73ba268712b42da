/* Node metrics in Prometheus text format (see metrics.h). */
#include "serve/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/textbuf.h"

static const int statuses[RX_METRIC_STATUSES] = {200, 400, 401, 404, 405, 413, 429, 500, 503, 499};

void rx_metrics_init(rx_node_metrics *m)
{
    memset(m, 0, sizeof *m);
    rx_hist_init(&m->ttft, rx_hist_latency_bounds, rx_hist_latency_n);
    rx_hist_init(&m->itl, rx_hist_latency_bounds, rx_hist_latency_n);
    rx_hist_init(&m->e2e, rx_hist_latency_bounds, rx_hist_latency_n);
    rx_hist_init(&m->queue_wait, rx_hist_latency_bounds, rx_hist_latency_n);
    rx_hist_init(&m->prompt_tokens, rx_hist_tokens_bounds, rx_hist_tokens_n);
    rx_hist_init(&m->output_tokens, rx_hist_tokens_bounds, rx_hist_tokens_n);
}

void rx_metrics_request(rx_node_metrics *m, int http_status)
{
    int i = 0;
    while (i < RX_METRIC_STATUSES && statuses[i] != http_status)
        i++;
    atomic_fetch_add(&m->requests[i], 1);
}

/* One writer per EWMA in practice (the event loop); a lost update under a race only delays it. */
static void ewma(_Atomic uint64_t *v, uint64_t us)
{
    uint64_t old = atomic_load(v);
    atomic_store(v, old == 0 ? us : (old * 9 + us) / 10);
}

void rx_metrics_ttft(rx_node_metrics *m, uint64_t ns)
{
    rx_hist_observe(&m->ttft, (double)ns / 1e9);
    ewma(&m->ewma_ttft_us, ns / 1000);
}

void rx_metrics_itl(rx_node_metrics *m, uint64_t ns)
{
    rx_hist_observe(&m->itl, (double)ns / 1e9);
    ewma(&m->ewma_itl_us, ns / 1000);
}

static void hist(rx_textbuf *o, const rx_histogram *h, const char *name, const char *help,
                 const char *labels)
{
    rx_textbuf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    rx_textbuf_hist(o, h, name, labels);
}

char *rx_metrics_render(rx_node_metrics *m, const rx_sched_stats *st, const char *model_id)
{
    rx_textbuf o = {0};
    char labels[160];
    snprintf(labels, sizeof labels, "model=\"%s\"", model_id);
    hist(&o, &m->ttft, "reflex_time_to_first_token_seconds", "Submit to first token.", labels);
    hist(&o, &m->itl, "reflex_inter_token_latency_seconds", "Time between streamed tokens.",
         labels);
    hist(&o, &m->e2e, "reflex_request_duration_seconds", "Submit to last token.", labels);
    hist(&o, &m->queue_wait, "reflex_queue_wait_seconds", "Submit to slot assignment.", labels);
    hist(&o, &m->prompt_tokens, "reflex_prompt_tokens", "Prompt length in tokens.", labels);
    hist(&o, &m->output_tokens, "reflex_output_tokens", "Generated tokens per request.", labels);

    rx_textbuf_printf(&o, "# HELP reflex_requests_total Requests answered, by HTTP status.\n"
                          "# TYPE reflex_requests_total counter\n");
    for (int i = 0; i <= RX_METRIC_STATUSES; i++) {
        char code[16];
        if (i < RX_METRIC_STATUSES)
            snprintf(code, sizeof code, "%d", statuses[i]);
        else
            snprintf(code, sizeof code, "other");
        rx_textbuf_printf(&o, "reflex_requests_total{status=\"%s\"} %llu\n", code,
                          (unsigned long long)atomic_load(&m->requests[i]));
    }
    rx_textbuf_printf(
        &o,
        "# HELP reflex_requests_cancelled_total Generations cancelled (client gone, drain).\n"
        "# TYPE reflex_requests_cancelled_total counter\nreflex_requests_cancelled_total %llu\n",
        (unsigned long long)atomic_load(&m->cancelled));
    rx_textbuf_printf(
        &o,
        "# HELP reflex_tokens_total Tokens processed.\n# TYPE reflex_tokens_total counter\n"
        "reflex_tokens_total{kind=\"prompt\"} %llu\nreflex_tokens_total{kind=\"generated\"} %llu\n",
        (unsigned long long)atomic_load(&m->tokens_in),
        (unsigned long long)atomic_load(&m->tokens_out));

    const double hit_ratio =
        st->prefix_lookups ? (double)st->prefix_hits / (double)st->prefix_lookups : 0;
    rx_textbuf_printf(
        &o,
        "# HELP reflex_slots_active Sequences holding a slot.\n# TYPE reflex_slots_active gauge\n"
        "reflex_slots_active %d\n",
        st->slots_busy);
    rx_textbuf_printf(&o,
                      "# HELP reflex_slots_total Slots (sequences decoded together).\n"
                      "# TYPE reflex_slots_total gauge\nreflex_slots_total %d\n",
                      st->n_slots);
    rx_textbuf_printf(&o,
                      "# HELP reflex_queue_depth Requests waiting for a slot.\n"
                      "# TYPE reflex_queue_depth gauge\nreflex_queue_depth %d\n",
                      st->queue_depth);
    rx_textbuf_printf(&o,
                      "# HELP reflex_queue_capacity Most requests that may wait.\n"
                      "# TYPE reflex_queue_capacity gauge\nreflex_queue_capacity %d\n",
                      st->queue_cap);
    rx_textbuf_printf(&o,
                      "# HELP reflex_kv_cells_used KV-cache positions in use.\n"
                      "# TYPE reflex_kv_cells_used gauge\nreflex_kv_cells_used %llu\n",
                      (unsigned long long)st->kv_cells_used);
    rx_textbuf_printf(&o,
                      "# HELP reflex_kv_cells_total KV-cache positions in all.\n"
                      "# TYPE reflex_kv_cells_total gauge\nreflex_kv_cells_total %llu\n",
                      (unsigned long long)st->kv_cells_total);
    rx_textbuf_printf(
        &o,
        "# HELP reflex_prefix_cache_hit_ratio Requests that reused cached prefix tokens.\n"
        "# TYPE reflex_prefix_cache_hit_ratio gauge\nreflex_prefix_cache_hit_ratio %.6f\n",
        hit_ratio);
    rx_textbuf_printf(
        &o,
        "# HELP reflex_prefix_cache_tokens_reused_total Prompt tokens not recomputed.\n"
        "# TYPE reflex_prefix_cache_tokens_reused_total counter\n"
        "reflex_prefix_cache_tokens_reused_total %llu\n",
        (unsigned long long)st->prefix_tokens_reused);
    rx_textbuf_printf(
        &o,
        "# HELP reflex_model_loaded Models loaded.\n# TYPE reflex_model_loaded gauge\n"
        "reflex_model_loaded{%s} 1\n",
        labels);
    return rx_textbuf_take(&o);
}
