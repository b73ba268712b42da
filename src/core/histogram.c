/* Fixed-bucket histograms (see histogram.h): atomic counters, Prometheus text output. */
#include "core/histogram.h"

#include <string.h>

const double rx_hist_latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15,
                                         0.25,  0.5,    1,     2.5,  5,     10,   30,    60};
const int rx_hist_latency_n = (int)(sizeof rx_hist_latency_bounds / sizeof(double));
const double rx_hist_tokens_bounds[] = {1,   4,    16,   32,   64,   128,   256,
                                        512, 1024, 2048, 4096, 8192, 16384, 32768};
const int rx_hist_tokens_n = (int)(sizeof rx_hist_tokens_bounds / sizeof(double));

void rx_hist_init(rx_histogram *h, const double *bounds, int n)
{
    memset(h, 0, sizeof *h);
    if (n > RX_HIST_MAX_BUCKETS) n = RX_HIST_MAX_BUCKETS;
    h->n_bounds = n;
    memcpy(h->bounds, bounds, (size_t)n * sizeof *bounds);
}

void rx_hist_observe(rx_histogram *h, double v)
{
    int i = 0;
    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    if (v > 0) atomic_fetch_add_explicit(&h->sum_micro, (uint64_t)(v * 1e6), memory_order_relaxed);
}

double rx_hist_quantile(const rx_histogram *h, double q)
{
    uint64_t counts[RX_HIST_MAX_BUCKETS + 1], total = 0;
    for (int i = 0; i <= h->n_bounds; i++)
        total += counts[i] = atomic_load(&h->counts[i]);
    if (total == 0) return 0;
    const double rank = q * (double)total;
    uint64_t seen = 0;
    for (int i = 0; i <= h->n_bounds; i++) {
        if (counts[i] == 0 || (double)(seen + counts[i]) < rank) {
            seen += counts[i];
            continue;
        }
        /* the +Inf bucket has no upper bound: report its lower one */
        if (i == h->n_bounds) return h->bounds[h->n_bounds - 1];
        const double lo = i ? h->bounds[i - 1] : 0, hi = h->bounds[i];
        return lo + (hi - lo) * ((rank - (double)seen) / (double)counts[i]);
    }
    return h->n_bounds ? h->bounds[h->n_bounds - 1] : 0;
}
