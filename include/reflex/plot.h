/* reflex bench plot: latency CDFs (TTFT, inter-token, end to end) and output throughput over
 * time, drawn as one self-contained SVG from one or more `reflex bench serve --json` reports.
 * Reading a report (rx_plot_run_parse) is kept apart from drawing (rx_plot_svg), so the parser
 * can be fuzzed alone and the drawing tested on data built in memory.
 *
 * Threading: no shared state; errors go through rx_error() on the calling thread. */
#ifndef REFLEX_PLOT_H
#define REFLEX_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "reflex/status.h"

/* The most inputs one plot takes: one palette colour each. */
#define RX_PLOT_MAX_RUNS 10

/* One report, reduced to what the plot draws. Latencies are those of the successful
 * requests (as the report's summary counts them), in milliseconds, ascending. */
typedef struct {
    char *label;          /* owned: config.label, else the name the caller gave */
    char *target;         /* owned: "URL, model M" from config; "" if it has none */
    double *ttft_ms;      /* owned, n_ttft values */
    double *itl_ms;       /* owned, n_itl values: every gap of every successful request */
    double *e2e_ms;       /* owned, n_e2e values */
    double *tokens_per_s; /* owned, n_buckets: tokens received in [k, k+1) s after the start */
    int64_t n_ttft, n_itl, n_e2e, n_buckets;
    int64_t n_requests, n_ok;
} rx_plot_run;

/* Parses one report from memory (json[0..len), any bytes). name labels the run when the
 * report has no "label" and names it in messages. RX_ERR_FORMAT ("NAME: ...") for bad JSON
 * or a JSON that is not a bench serve report, naming the first field that is wrong;
 * RX_ERR_RANGE for a time past 10^6 s; RX_ERR_NOMEM. On failure *out holds nothing. */
rx_status rx_plot_run_parse(const char *json, size_t len, const char *name, rx_plot_run *out);

/* Reads path and parses it (name = path). RX_ERR_IO naming the file if it cannot be read. */
rx_status rx_plot_run_load(const char *path, rx_plot_run *out);

/* Frees what a run owns and zeroes it; accepts a zeroed run. */
void rx_plot_run_free(rx_plot_run *r);

/* The whole chart as a NUL-terminated SVG document in *svg (malloc'd, the caller's), its
 * length in *len. 1..RX_PLOT_MAX_RUNS runs (RX_ERR_INVALID_ARG otherwise); title NULL for
 * a default. Every label is XML-escaped. RX_ERR_NOMEM. */
rx_status rx_plot_svg(const rx_plot_run *runs, int n_runs, const char *title, char **svg,
                      size_t *len);

#endif
