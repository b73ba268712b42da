/* Scales, ticks and CDF step lines for reflex bench plot: the arithmetic of the chart, kept
 * apart from the SVG so it can be checked number by number. */
#include "bench/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double rx_plot__nice_step(double raw)
{
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p;
    /* f is in [1, 10); rounding in pow/log10 can leave it a hair off either end */
    double m = f <= 1.0 + 1e-9 ? 1 : f <= 2.0 + 1e-9 ? 2 : f <= 5.0 + 1e-9 ? 5 : 10;
    return m * p;
}

/* Data is clamped into [TINY, HUGE_VALUE] in magnitude before a scale is fitted, so decades and
 * tick counts stay small integers whatever a report holds. */
#define TINY 1e-12
#define HUGE_VALUE 1e300

static void fit_linear(rx_plot_scale *s, double min, double max)
{
    double mag = fabs(min) > fabs(max) ? fabs(min) : fabs(max);
    if (!(max - min > TINY && max - min > mag * 1e-9)) { /* one value: widen around it */
        double pad = fabs(min) * 0.1 > 1e-3 ? fabs(min) * 0.1 : 1.0;
        max = min + pad;
        min = min >= 0 && min - pad < 0 ? 0 : min - pad;
    }
    s->log = false;
    s->step = rx_plot__nice_step((max - min) / 5.0);
    s->lo = floor(min / s->step) * s->step;
    s->hi = ceil(max / s->step) * s->step;
    if (!(s->hi > s->lo)) s->hi = s->lo + s->step;
}

void rx_plot__scale_fit(rx_plot_scale *s, double min, double max, double min_pos, bool allow_log,
                        double px_lo, double px_hi)
{
    memset(s, 0, sizeof *s);
    s->px_lo = px_lo;
    s->px_hi = px_hi;
    min = min < -HUGE_VALUE ? -HUGE_VALUE : min;
    max = max > HUGE_VALUE ? HUGE_VALUE : max;
    min_pos = min_pos > 0 && min_pos < TINY ? TINY : min_pos;
    if (allow_log && min_pos > 0 && max / min_pos >= 20.0) {
        s->log = true;
        s->lo = pow(10.0, floor(log10(min_pos)));
        s->hi = pow(10.0, ceil(log10(max)));
        return;
    }
    fit_linear(s, min, max);
}

double rx_plot__scale_px(const rx_plot_scale *s, double v)
{
    double f;
    if (s->log)
        f = v > s->lo ? (log10(v) - log10(s->lo)) / (log10(s->hi) - log10(s->lo)) : 0.0;
    else
        f = (v - s->lo) / (s->hi - s->lo);
    if (!(f >= 0)) f = 0; /* also NAN */
    if (f > 1) f = 1;
    return s->px_lo + f * (s->px_hi - s->px_lo);
}

static int log_ticks(const rx_plot_scale *s, double *ticks, int max)
{
    int e_lo = (int)lround(log10(s->lo)), e_hi = (int)lround(log10(s->hi));
    int decades = e_hi - e_lo, n = 0;
    int stride = decades > 8 ? (decades + 7) / 8 : 1;
    static const double minor[] = {2, 5};
    for (int e = e_lo; e <= e_hi && n < max; e++) {
        if ((e - e_lo) % stride == 0) ticks[n++] = pow(10.0, e);
        if (decades > 2) continue;
        for (int k = 0; k < 2 && e < e_hi && n < max; k++)
            ticks[n++] = minor[k] * pow(10.0, e);
    }
    return n;
}

int rx_plot__ticks(const rx_plot_scale *s, double *ticks, int max)
{
    if (s->log) return log_ticks(s, ticks, max);
    long count = lround((s->hi - s->lo) / s->step);
    int n = 0;
    for (long i = 0; i <= count && n < max; i++) {
        double v = s->lo + (double)i * s->step;
        ticks[n++] = fabs(v) < s->step * 1e-9 ? 0.0 : v; /* no -0 or 1e-17 at zero */
    }
    return n;
}

void rx_plot__tick_label(double v, char *buf, size_t n)
{
    snprintf(buf, n, "%g", v == 0 ? 0.0 : v);
}

/* Rank (1-based) of the last of the values equal to sorted[i - 1]. */
static size_t end_of_run(const double *sorted, size_t n, size_t i)
{
    while (i < n && !(sorted[i] > sorted[i - 1]))
        i++;
    return i;
}

size_t rx_plot__cdf_steps(const double *sorted, size_t n, size_t max_steps, rx_plot_pt *out)
{
    if (n == 0 || max_steps == 0) return 0;
    size_t m = 0, prev = 0;
    out[m++] = (rx_plot_pt){sorted[0], 0.0};
    for (size_t k = 1; k <= max_steps && prev < n; k++) {
        size_t rank = n <= max_steps ? prev + 1 : (k * n + max_steps - 1) / max_steps;
        if (rank <= prev) continue;
        rank = end_of_run(sorted, n, rank);
        double x = sorted[rank - 1];
        out[m++] = (rx_plot_pt){x, (double)prev / (double)n};
        out[m++] = (rx_plot_pt){x, (double)rank / (double)n};
        prev = rank;
    }
    return m;
}

size_t rx_plot__regroup(const double *per_s, size_t n, size_t width, double *out)
{
    size_t groups = 0;
    for (size_t at = 0; at < n; at += width) {
        size_t end = n - at > width ? at + width : n;
        double sum = 0;
        for (size_t i = at; i < end; i++)
            sum += per_s[i];
        out[groups++] = sum / (double)(end - at);
    }
    return groups;
}
