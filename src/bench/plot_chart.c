/* The chart of reflex bench plot: a title, a legend with one entry per run, and four panels
 * in a 2x2 grid: CDFs of TTFT, inter-token latency and end-to-end latency (log x when the
 * data spans a factor of 20 or more), and output tokens/s per second of the run. Each run is
 * one colour and one <polyline class="curve"> per panel it has data for. */
#include "reflex/plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/plot_internal.h"

#define WIDTH 1000.0
#define PANEL_W 500.0
#define PANEL_H 340.0
#define HEADER_H 44.0
#define LEGEND_ROW 20.0
#define CDF_STEPS 1000  /* enough for a smooth line; the heights stay exact */
#define TIME_POINTS 500 /* about one step per pixel of the panel */
#define MAX_TICKS 24
#define HEADROOM 0.03 /* of a linear axis's data range, past its largest value */

/* Tableau 10: distinct for most colour vision. */
static const char *const palette[RX_PLOT_MAX_RUNS] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};

/* Where a panel's data area is. */
typedef struct {
    double left, right, top, bottom;
} area;

static area panel_area(double x, double y)
{
    return (area){x + 70, x + PANEL_W - 20, y + 30, y + PANEL_H - 50};
}

/* Frame, grid, ticks, tick labels and titles of one panel. */
static void axes(rx_svg *w, const area *a, const rx_plot_scale *sx, const rx_plot_scale *sy,
                 const char *title, const char *x_title, const char *y_title)
{
    double t[MAX_TICKS];
    char label[32], attrs[96];
    rx_svg__text(w, (a->left + a->right) / 2, a->top - 12,
                 "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"", title, 80);
    int n = rx_plot__ticks(sx, t, MAX_TICKS);
    for (int i = 0; i < n; i++) {
        double px = rx_plot__scale_px(sx, t[i]);
        rx_svg__line(w, px, a->top, px, a->bottom, "stroke=\"#e0e0e0\"");
        rx_svg__line(w, px, a->bottom, px, a->bottom + 5, "stroke=\"black\"");
        rx_plot__tick_label(t[i], label, sizeof label);
        rx_svg__text(w, px, a->bottom + 18, "text-anchor=\"middle\"", label, 32);
    }
    n = rx_plot__ticks(sy, t, MAX_TICKS);
    for (int i = 0; i < n; i++) {
        double py = rx_plot__scale_px(sy, t[i]);
        rx_svg__line(w, a->left, py, a->right, py, "stroke=\"#e0e0e0\"");
        rx_svg__line(w, a->left - 5, py, a->left, py, "stroke=\"black\"");
        rx_plot__tick_label(t[i], label, sizeof label);
        rx_svg__text(w, a->left - 8, py + 4, "text-anchor=\"end\"", label, 32);
    }
    rx_svg__rect(w, a->left, a->top, a->right - a->left, a->bottom - a->top,
                 "fill=\"none\" stroke=\"black\"");
    rx_svg__text(w, (a->left + a->right) / 2, a->bottom + 38, "text-anchor=\"middle\"", x_title,
                 120);
    double yx = a->left - 52, yy = (a->top + a->bottom) / 2;
    snprintf(attrs, sizeof attrs, "text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\"", yx,
             yy);
    rx_svg__text(w, yx, yy, attrs, y_title, 80);
}

static void no_data(rx_svg *w, const area *a, const char *title)
{
    rx_svg__text(w, (a->left + a->right) / 2, a->top - 12,
                 "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"", title, 80);
    rx_svg__rect(w, a->left, a->top, a->right - a->left, a->bottom - a->top,
                 "fill=\"none\" stroke=\"black\"");
    rx_svg__text(w, (a->left + a->right) / 2, (a->top + a->bottom) / 2,
                 "text-anchor=\"middle\" fill=\"#808080\"", "no data", 16);
}

static void curve(rx_svg *w, rx_plot_pt *pts, size_t n, const rx_plot_scale *sx,
                  const rx_plot_scale *sy, int run)
{
    char attrs[128];
    for (size_t i = 0; i < n; i++)
        pts[i] = (rx_plot_pt){rx_plot__scale_px(sx, pts[i].x), rx_plot__scale_px(sy, pts[i].y)};
    snprintf(attrs, sizeof attrs,
             "class=\"curve\" data-run=\"%d\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"",
             run, palette[run]);
    rx_svg__polyline(w, pts, n, attrs);
}

/* Which latency a CDF panel draws. */
typedef enum { TTFT, ITL, E2E } latency;

static void values(const rx_plot_run *r, latency which, const double **v, size_t *n)
{
    *v = which == TTFT ? r->ttft_ms : which == ITL ? r->itl_ms : r->e2e_ms;
    *n = (size_t)(which == TTFT ? r->n_ttft : which == ITL ? r->n_itl : r->n_e2e);
}

/* One CDF panel; pts has room for 2 * CDF_STEPS + 1 points. */
static void cdf_panel(rx_svg *w, const rx_plot_run *runs, int n_runs, latency which, const area *a,
                      rx_plot_pt *pts)
{
    static const char *const titles[] = {"Time to first token", "Inter-token latency",
                                         "End-to-end latency"};
    static const char *const names[] = {"TTFT", "ITL", "E2E"};
    static const char *const ids[] = {"ttft", "itl", "e2e"};
    double min = 0, max = 0, min_pos = 0;
    size_t zeros = 0;
    bool any = false;
    for (int i = 0; i < n_runs; i++) {
        const double *v;
        size_t n, k = 0;
        values(&runs[i], which, &v, &n);
        if (n == 0) continue;
        min = any && min < v[0] ? min : v[0];
        max = any && max > v[n - 1] ? max : v[n - 1];
        while (k < n && !(v[k] > 0))
            k++;
        zeros += k;
        if (k < n) min_pos = min_pos > 0 && min_pos < v[k] ? min_pos : v[k];
        any = true;
    }
    rx_svg__raw(w, "<g class=\"panel\" data-panel=\"%s\">\n", ids[which]);
    if (!any) {
        no_data(w, a, titles[which]);
        rx_svg__raw(w, "</g>\n");
        return;
    }
    rx_plot_scale sx, sy;
    rx_plot__scale_fit(&sx, min, max, min_pos, true, a->left, a->right);
    if (!sx.log) /* room on the right, so the last step is not drawn over the frame */
        rx_plot__scale_fit(&sx, min, max + (max - min) * HEADROOM, min_pos, false, a->left,
                           a->right);
    rx_plot__scale_fit(&sy, 0, 1, 0, false, a->bottom, a->top);
    char x_title[128];
    int at =
        snprintf(x_title, sizeof x_title, "%s (ms%s", names[which], sx.log ? ", log scale" : "");
    if (sx.log && zeros)
        snprintf(x_title + at, sizeof x_title - (size_t)at, "; %zu of 0 ms on the left edge)",
                 zeros);
    else
        snprintf(x_title + at, sizeof x_title - (size_t)at, ")");
    axes(w, a, &sx, &sy, titles[which], x_title,
         which == ITL ? "fraction of gaps" : "fraction of requests");
    for (int i = 0; i < n_runs; i++) {
        const double *v;
        size_t n;
        values(&runs[i], which, &v, &n);
        curve(w, pts, rx_plot__cdf_steps(v, n, CDF_STEPS, pts), &sx, &sy, i);
    }
    rx_svg__raw(w, "</g>\n");
}

/* Output tokens/s over the run, as steps of one second (or wider for long runs). pts and
 * groups have room for 2 * TIME_POINTS and TIME_POINTS values. */
static void time_panel(rx_svg *w, const rx_plot_run *runs, int n_runs, const area *a,
                       rx_plot_pt *pts, double *groups)
{
    const char *title = "Output token throughput";
    size_t longest = 0;
    double peak = 0;
    for (int i = 0; i < n_runs; i++)
        longest = (size_t)runs[i].n_buckets > longest ? (size_t)runs[i].n_buckets : longest;
    rx_svg__raw(w, "<g class=\"panel\" data-panel=\"throughput\">\n");
    if (longest == 0) {
        no_data(w, a, title);
        rx_svg__raw(w, "</g>\n");
        return;
    }
    size_t width = (longest + TIME_POINTS - 1) / TIME_POINTS;
    for (int i = 0; i < n_runs; i++) {
        size_t n = rx_plot__regroup(runs[i].tokens_per_s, (size_t)runs[i].n_buckets, width, groups);
        for (size_t g = 0; g < n; g++)
            peak = groups[g] > peak ? groups[g] : peak;
    }
    rx_plot_scale sx, sy;
    rx_plot__scale_fit(&sx, 0, (double)longest, 0, false, a->left, a->right);
    rx_plot__scale_fit(&sy, 0, peak * (1 + HEADROOM), 0, false, a->bottom, a->top);
    char y_title[64];
    if (width == 1)
        snprintf(y_title, sizeof y_title, "tokens/s (1 s buckets)");
    else
        snprintf(y_title, sizeof y_title, "tokens/s (mean over %zu s)", width);
    axes(w, a, &sx, &sy, title, "time since the run began (s)", y_title);
    for (int i = 0; i < n_runs; i++) {
        size_t nb = (size_t)runs[i].n_buckets;
        size_t n = rx_plot__regroup(runs[i].tokens_per_s, nb, width, groups);
        for (size_t g = 0; g < n; g++) {
            double end = (double)((g + 1) * width < nb ? (g + 1) * width : nb);
            pts[2 * g] = (rx_plot_pt){(double)(g * width), groups[g]};
            pts[2 * g + 1] = (rx_plot_pt){end, groups[g]};
        }
        curve(w, pts, 2 * n, &sx, &sy, i);
    }
    rx_svg__raw(w, "</g>\n");
}

static void legend(rx_svg *w, const rx_plot_run *runs, int n_runs)
{
    rx_svg__raw(w, "<g class=\"legend\">\n");
    for (int i = 0; i < n_runs; i++) {
        const rx_plot_run *r = &runs[i];
        double y = HEADER_H + LEGEND_ROW * i + 10;
        char attrs[64];
        snprintf(attrs, sizeof attrs, "stroke=\"%s\" stroke-width=\"3\"", palette[i]);
        rx_svg__line(w, 20, y - 4, 44, y - 4, attrs);
        rx_svg__raw(w, "<text class=\"legend-entry\" data-run=\"%d\" x=\"52\" y=\"%.1f\">", i, y);
        rx_svg__escaped(w, r->label, 60);
        if (r->target[0]) {
            rx_svg__raw(w, " \xE2\x80\x94 "); /* — */
            rx_svg__escaped(w, r->target, 80);
        }
        rx_svg__raw(w, ": %lld requests, %lld ok</text>\n", (long long)r->n_requests,
                    (long long)r->n_ok);
    }
    rx_svg__raw(w, "</g>\n");
}

rx_status rx_plot_svg(const rx_plot_run *runs, int n_runs, const char *title, char **svg,
                      size_t *len)
{
    *svg = NULL;
    *len = 0;
    if (n_runs < 1 || n_runs > RX_PLOT_MAX_RUNS)
        return rx_error(RX_ERR_INVALID_ARG, "plot: %d runs; 1 to %d fit in one chart", n_runs,
                        RX_PLOT_MAX_RUNS);
    if (!title) title = "reflex bench serve: latency and throughput";
    double top = HEADER_H + LEGEND_ROW * n_runs + 10;
    rx_plot_pt *pts = malloc((2 * CDF_STEPS + 1) * sizeof *pts);
    double *groups = malloc(TIME_POINTS * sizeof *groups);
    rx_svg w;
    rx_svg__init(&w);
    if (pts && groups) {
        rx_svg__begin(&w, WIDTH, top + 2 * PANEL_H, title);
        rx_svg__text(&w, WIDTH / 2, 28, "text-anchor=\"middle\" font-size=\"18\"", title, 120);
        legend(&w, runs, n_runs);
        area a[4] = {panel_area(0, top), panel_area(PANEL_W, top), panel_area(0, top + PANEL_H),
                     panel_area(PANEL_W, top + PANEL_H)};
        cdf_panel(&w, runs, n_runs, TTFT, &a[0], pts);
        cdf_panel(&w, runs, n_runs, ITL, &a[1], pts);
        cdf_panel(&w, runs, n_runs, E2E, &a[2], pts);
        time_panel(&w, runs, n_runs, &a[3], pts, groups);
        rx_svg__end(&w);
    }
    free(pts);
    free(groups);
    if (!pts || !groups || w.oom) {
        rx_svg__free(&w);
        return rx_error(RX_ERR_NOMEM, "plot: out of memory drawing the chart");
    }
    if (w.bad_number) {
        rx_svg__free(&w);
        return rx_error(RX_ERR_INVALID_ARG, "plot: a coordinate is not a finite number");
    }
    *svg = w.buf;
    *len = w.len;
    return RX_OK;
}
