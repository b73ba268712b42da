/* Order statistics and moments for latency samples. Private to src/bench.
 * Percentiles use linear interpolation between closest ranks (numpy's default, which vLLM's
 * bench serve reports): p-th of n sorted values is at rank h = (n - 1) * p / 100, and
 * x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]). Standard deviation is the
 * population one (divide by n), also as numpy and vLLM. */
#ifndef RX_BENCH_STATS_H
#define RX_BENCH_STATS_H

#include <stddef.h>

#include "reflex/loadgen.h"

/* p in [0, 100] of n ascending values; NAN when n == 0. */
double rx_stats_percentile(const double *sorted, size_t n, double p);
/* Mean and population stddev; NAN both when n == 0. */
void rx_stats_moments(const double *x, size_t n, double *mean, double *stddev);
/* Sorts x in place (NANs are the caller's to leave out) and fills d. */
void rx_stats_dist(double *x, size_t n, rx_lg_dist *d);
/* Whether one record meets every set SLO (0 fields are not set). */
bool rx_stats_meets_slo(const rx_lg_record *r, const rx_lg_slo *slo);

#endif
