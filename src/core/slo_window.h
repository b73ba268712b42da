/* Rolling one-minute SLO windows: 60 one-second slots, each with latency bucket counts (the
 * histogram bounds of core/histogram.h) and request/error counts, so p95/p99 and the error rate
 * of the last minute can be read at any time in O(slots x buckets). One thread only. */
#ifndef RX_CORE_SLO_WINDOW_H
#define RX_CORE_SLO_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/histogram.h"

#define RX_WINDOW_SLOTS 60

typedef struct {
    int64_t second[RX_WINDOW_SLOTS]; /* which second each slot holds (-1: none) */
    uint32_t buckets[RX_WINDOW_SLOTS][RX_HIST_MAX_BUCKETS + 1];
    uint32_t requests[RX_WINDOW_SLOTS], errors[RX_WINDOW_SLOTS];
} rx_slo_window;

void rx_window_init(rx_slo_window *w);
/* A request ended at now_ns: its latency (seconds; < 0 for none, e.g. an error before any
 * answer) and whether it failed. */
void rx_window_observe(rx_slo_window *w, uint64_t now_ns, double latency_s, bool error);
/* Over the 60 s before now_ns: the q-quantile of latency (0 when empty), request count and
 * error rate. */
double rx_window_quantile(const rx_slo_window *w, uint64_t now_ns, double q);
uint64_t rx_window_requests(const rx_slo_window *w, uint64_t now_ns);
double rx_window_error_rate(const rx_slo_window *w, uint64_t now_ns);

#endif
