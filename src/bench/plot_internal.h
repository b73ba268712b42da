/* Shared by the plot files in src/bench: the SVG writer (plot_svg.c), scales, ticks and CDF
 * steps (plot_scale.c). The chart layout (plot_chart.c) uses both; the report reader
 * (plot_read.c) uses neither. */
#ifndef RX_BENCH_PLOT_INTERNAL_H
#define RX_BENCH_PLOT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- SVG writer: plot_svg.c --- */

/* A growing document in memory. After a failed allocation, or a coordinate that is not a
 * finite number (a bug in the layout), everything else is dropped and the flag stays set. */
typedef struct {
    char *buf; /* owned, NUL-terminated while !failed */
    size_t len, cap;
    bool oom, bad_number;
} rx_svg;

typedef struct {
    double x, y;
} rx_plot_pt;

void rx_svg__init(rx_svg *w);
void rx_svg__free(rx_svg *w); /* accepts a zeroed writer */

/* Markup from our own code, printf-style. Nothing in it is escaped: never pass data here. */
void rx_svg__raw(rx_svg *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Any bytes as XML character data or attribute value: & < > " ' become entities; bytes that
 * are not well-formed UTF-8 and characters XML 1.0 forbids become U+FFFD; tabs and line
 * breaks become spaces (an SVG <text> is one line). At most max_chars characters, then "…". */
void rx_svg__escaped(rx_svg *w, const char *text, size_t max_chars);

/* <?xml ...?><svg viewBox="0 0 width height" ...><title>title</title>; closed by _end. */
void rx_svg__begin(rx_svg *w, double width, double height, const char *title);
void rx_svg__end(rx_svg *w);

/* attrs: extra attributes from our own code ("" for none), written as given. */
void rx_svg__line(rx_svg *w, double x1, double y1, double x2, double y2, const char *attrs);
void rx_svg__rect(rx_svg *w, double x, double y, double width, double height, const char *attrs);
void rx_svg__text(rx_svg *w, double x, double y, const char *attrs, const char *text,
                  size_t max_chars);
void rx_svg__polyline(rx_svg *w, const rx_plot_pt *pts, size_t n, const char *attrs);

/* --- scales, ticks, CDF steps: plot_scale.c --- */

/* Data values [lo, hi] to pixels [px_lo, px_hi] (px_hi < px_lo for a y axis, whose pixels
 * grow downwards). log: base 10, lo > 0. */
typedef struct {
    double lo, hi, step; /* step: linear tick spacing; unused when log */
    bool log;
    double px_lo, px_hi;
} rx_plot_scale;

/* 1, 2 or 5 times a power of ten, the smallest such >= raw (raw > 0). */
double rx_plot__nice_step(double raw);

/* Fits a scale to data in [min, max] whose smallest positive value is min_pos (0: none).
 * Log when allow_log and the positive data span at least a factor of 20 (latencies from
 * milliseconds to seconds); its bounds are whole decades. Otherwise linear with bounds on
 * multiples of a nice step about a fifth of the range, from 0 when min is 0. */
void rx_plot__scale_fit(rx_plot_scale *s, double min, double max, double min_pos, bool allow_log,
                        double px_lo, double px_hi);

/* The pixel of v, clamped into [px_lo, px_hi]: values under a log scale's bottom (0 among
 * them) sit on its edge. Always finite for finite pixel bounds. */
double rx_plot__scale_px(const rx_plot_scale *s, double v);

/* Tick values inside [lo, hi], ascending, at most max: every step for linear; for log,
 * every decade (every other one, or rarer, when there are many), and 2 and 5 between
 * decades when the scale covers at most two decades. Returns how many. */
int rx_plot__ticks(const rx_plot_scale *s, double *ticks, int max);

/* "0.5", "20", "1000", "1e+06": %g, with "-0" written "0". */
void rx_plot__tick_label(double v, char *buf, size_t n);

/* The empirical CDF of n ascending values as the vertices of its step line: starts at
 * (x[0], 0), then for each drawn step a horizontal and a vertical vertex, ending at
 * (x[n-1], 1). Equal values make one step. Beyond max_steps distinct steps, only the steps at
 * the ranks ceil(k n / max_steps) are drawn (their heights stay exact). out needs room for
 * 2 * max_steps + 1 points; returns how many were written (0 when n is 0). */
size_t rx_plot__cdf_steps(const double *sorted, size_t n, size_t max_steps, rx_plot_pt *out);

/* Averages n per-second values over groups of width seconds (the last group over the seconds
 * it has), so a long run draws a bounded number of steps. out needs room for
 * ceil(n / width) values; returns that count. */
size_t rx_plot__regroup(const double *per_s, size_t n, size_t width, double *out);

#endif
