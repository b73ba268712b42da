/* Rolling one-minute SLO windows (see slo_window.h). */
#include "core/slo_window.h"

#include <string.h>

void rx_window_init(rx_slo_window *w)
{
    memset(w, 0, sizeof *w);
    for (int i = 0; i < RX_WINDOW_SLOTS; i++)
        w->second[i] = -1;
}

static int slot_for(rx_slo_window *w, int64_t sec)
{
    int i = (int)(sec % RX_WINDOW_SLOTS);
    if (w->second[i] != sec) { /* a slot from a minute ago: start it over */
        memset(w->buckets[i], 0, sizeof w->buckets[i]);
        w->requests[i] = w->errors[i] = 0;
        w->second[i] = sec;
    }
    return i;
}

void rx_window_observe(rx_slo_window *w, uint64_t now_ns, double latency_s, bool error)
{
    const int i = slot_for(w, (int64_t)(now_ns / 1000000000u));
    w->requests[i]++;
    if (error) w->errors[i]++;
    if (latency_s < 0) return;
    int b = 0;
    while (b < rx_hist_latency_n && latency_s > rx_hist_latency_bounds[b])
        b++;
    w->buckets[i][b]++;
}

static bool live(const rx_slo_window *w, int i, int64_t now_sec)
{
    return w->second[i] >= 0 && w->second[i] > now_sec - RX_WINDOW_SLOTS && w->second[i] <= now_sec;
}

double rx_window_quantile(const rx_slo_window *w, uint64_t now_ns, double q)
{
    const int64_t now = (int64_t)(now_ns / 1000000000u);
    uint64_t counts[RX_HIST_MAX_BUCKETS + 1] = {0}, total = 0;
    for (int i = 0; i < RX_WINDOW_SLOTS; i++)
        if (live(w, i, now))
            for (int b = 0; b <= rx_hist_latency_n; b++)
                counts[b] += w->buckets[i][b];
    for (int b = 0; b <= rx_hist_latency_n; b++)
        total += counts[b];
    if (total == 0) return 0;
    const double rank = q * (double)total;
    uint64_t seen = 0;
    for (int b = 0; b <= rx_hist_latency_n; b++) {
        if (counts[b] == 0 || (double)(seen + counts[b]) < rank) {
            seen += counts[b];
            continue;
        }
        if (b == rx_hist_latency_n) return rx_hist_latency_bounds[b - 1];
        const double lo = b ? rx_hist_latency_bounds[b - 1] : 0, hi = rx_hist_latency_bounds[b];
        return lo + (hi - lo) * ((rank - (double)seen) / (double)counts[b]);
    }
    return rx_hist_latency_bounds[rx_hist_latency_n - 1];
}

uint64_t rx_window_requests(const rx_slo_window *w, uint64_t now_ns)
{
    const int64_t now = (int64_t)(now_ns / 1000000000u);
    uint64_t n = 0;
    for (int i = 0; i < RX_WINDOW_SLOTS; i++)
        if (live(w, i, now)) n += w->requests[i];
    return n;
}

double rx_window_error_rate(const rx_slo_window *w, uint64_t now_ns)
{
    const int64_t now = (int64_t)(now_ns / 1000000000u);
    uint64_t n = 0, e = 0;
    for (int i = 0; i < RX_WINDOW_SLOTS; i++)
        if (live(w, i, now)) {
            n += w->requests[i];
            e += w->errors[i];
        }
    return n ? (double)e / (double)n : 0;
}
