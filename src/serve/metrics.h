/* The node's Prometheus metrics: latency and length histograms, request and token counters,
 * EWMA latencies for routers, and the text exposition that /metrics serves (gauges are read
 * from the scheduler at scrape time). Recording is thread-safe (atomics). */
#ifndef RX_SERVE_METRICS_H
#define RX_SERVE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/histogram.h"
#include "reflex/scheduler.h"

/* HTTP statuses counted separately; others fall in "other". */
#define RX_METRIC_STATUSES 10

typedef struct {
    rx_histogram ttft, itl, e2e, queue_wait; /* seconds */
    rx_histogram prompt_tokens, output_tokens;
    _Atomic uint64_t requests[RX_METRIC_STATUSES + 1];
    _Atomic uint64_t tokens_in, tokens_out;
    _Atomic uint64_t cancelled;
    /* EWMAs in microseconds (alpha 0.1), for /v1/status */
    _Atomic uint64_t ewma_ttft_us, ewma_itl_us;
} rx_node_metrics;

void rx_metrics_init(rx_node_metrics *m);
void rx_metrics_request(rx_node_metrics *m, int http_status);
void rx_metrics_ttft(rx_node_metrics *m, uint64_t ns);
void rx_metrics_itl(rx_node_metrics *m, uint64_t ns);

/* Renders everything, with the scheduler's gauges, into a malloc'd string (NULL on no memory). */
char *rx_metrics_render(rx_node_metrics *m, const rx_sched_stats *st, const char *model_id);

#endif
