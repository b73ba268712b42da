/* Latency and size histograms with fixed upper bounds, as Prometheus exposes them: cumulative
 * bucket counts, a sum and a count (rendered by core/textbuf.h), plus quantile estimates for
 * status pages. Thread-safe: observations are atomic adds, so the scheduler thread and the event
 * loop can both record. */
#ifndef RX_CORE_HISTOGRAM_H
#define RX_CORE_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RX_HIST_MAX_BUCKETS 24

typedef struct {
    int n_bounds;                                     /* finite upper bounds; +Inf is implicit */
    double bounds[RX_HIST_MAX_BUCKETS];               /* ascending */
    _Atomic uint64_t counts[RX_HIST_MAX_BUCKETS + 1]; /* per bucket (not cumulative) */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_micro; /* sum of observations x 1e6, as an integer */
} rx_histogram;

/* bounds: n ascending finite upper bounds (n <= RX_HIST_MAX_BUCKETS). */
void rx_hist_init(rx_histogram *h, const double *bounds, int n);
void rx_hist_observe(rx_histogram *h, double v);
/* Estimated q-quantile (0..1) by linear interpolation inside the bucket; 0 when empty. */
double rx_hist_quantile(const rx_histogram *h, double q);
/* Bounds for latencies in seconds (1 ms .. 60 s) and for token counts (1 .. 32768). */
extern const double rx_hist_latency_bounds[];
extern const int rx_hist_latency_n;
extern const double rx_hist_tokens_bounds[];
extern const int rx_hist_tokens_n;

#endif
