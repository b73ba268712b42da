/* reflex bench plot: reads `reflex bench serve --json` reports and writes one SVG with their
 * latency CDFs and throughput over time (src/bench/plot_*.c), one colour per report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "reflex/plot.h"

#define CMD "bench plot"

static const char usage[] =
    "usage: reflex bench plot IN.json [IN2.json ...] -o OUT.svg [--title T]\n"
    "\n"
    "Draws the reports of 'reflex bench serve --json' in one SVG: the CDFs of time to first\n"
    "token, inter-token latency and end-to-end latency of the successful requests (log x when\n"
    "they span a factor of 20 or more), and output tokens/s in each second of the run. One\n"
    "colour per report, labelled by its --label, else by its file name.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   the SVG to write (required)\n"
    "  --title T           the chart's title (default: reflex bench serve: latency and "
    "throughput)\n"
    "  -h, --help          this help\n"
    "\n"
    "At most 10 reports.\n";

typedef struct {
    const char *inputs[RX_PLOT_MAX_RUNS];
    int n_inputs;
    const char *output, *title;
} plot_opts;

static int parse(plot_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool missing = false;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (rx_cli_is_flag(CMD, argc, argv, i, "-o", &missing) ||
            rx_cli_is_flag(CMD, argc, argv, i, "--output", &missing))
            o->output = argv[++i];
        else if (rx_cli_is_flag(CMD, argc, argv, i, "--title", &missing))
            o->title = argv[++i];
        else if (missing)
            return 2;
        else if (a[0] == '-' && a[1] != '\0')
            return rx_cli_usage_error(CMD, "unknown flag: %s", a);
        else if (o->n_inputs == RX_PLOT_MAX_RUNS)
            return rx_cli_usage_error(CMD, "at most %d reports fit in one plot", RX_PLOT_MAX_RUNS);
        else
            o->inputs[o->n_inputs++] = a;
    }
    if (o->n_inputs == 0) return rx_cli_usage_error(CMD, "give at least one report (IN.json)");
    if (!o->output) return rx_cli_usage_error(CMD, "-o OUT.svg is required");
    if (!o->output[0]) return rx_cli_usage_error(CMD, "-o: empty file name");
    return -1;
}

/* Writes the whole document or nothing: a partial file is removed. */
static int write_svg(const char *path, const char *svg, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return rx_cli_fail(CMD, "cannot write %s: %s", path, strerror(errno));
    bool ok = fwrite(svg, 1, len, f) == len;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok) return 0;
    unlink(path);
    return rx_cli_fail(CMD, "cannot write %s: %s", path, strerror(err));
}

int rx_cmd_bench_plot(int argc, char **argv)
{
    plot_opts o;
    int code = parse(&o, argc, argv);
    if (code >= 0) return code;
    rx_plot_run runs[RX_PLOT_MAX_RUNS];
    int loaded = 0;
    for (; loaded < o.n_inputs; loaded++)
        if (rx_plot_run_load(o.inputs[loaded], &runs[loaded]) != RX_OK) {
            code = rx_cli_fail(CMD, "%s", rx_last_error());
            break;
        }
    char *svg = NULL;
    size_t len = 0;
    if (code < 0 && rx_plot_svg(runs, loaded, o.title, &svg, &len) != RX_OK)
        code = rx_cli_fail(CMD, "%s", rx_last_error());
    if (code < 0) code = write_svg(o.output, svg, len);
    if (code == 0)
        printf("wrote %s: %d report%s, %zu bytes\n", o.output, loaded, loaded == 1 ? "" : "s", len);
    free(svg);
    for (int i = 0; i < loaded; i++)
        rx_plot_run_free(&runs[i]);
    return code;
}
