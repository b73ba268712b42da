/* Progress output for the model writers; see progress.h. */
#include "cli/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

static double rx_clock_s(void)
{
    return (double)rx_now_ns() / 1e9;
}

void rx_cli_progress_init(rx_cli_progress *p, bool quiet)
{
    *p = (rx_cli_progress){.quiet = quiet, .tty = isatty(STDERR_FILENO) == 1};
    p->t0_s = rx_clock_s();
}

static double mb(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

void rx_cli_progress_tensor(void *user, int64_t i, int64_t n, const char *name, rx_type from,
                            rx_type to, uint64_t bytes_from, uint64_t bytes_to)
{
    rx_cli_progress *p = user;
    p->bytes_from += bytes_from;
    p->bytes_to += bytes_to;
    if (p->quiet) return;
    char types[32];
    if (from == to)
        snprintf(types, sizeof types, "%s", rx_type_name(to));
    else
        snprintf(types, sizeof types, "%s -> %s", rx_type_name(from), rx_type_name(to));
    if (p->tty) {
        char bar[21];
        int fill = n > 0 ? (int)(20 * i / n) : 20;
        for (int k = 0; k < 20; k++)
            bar[k] = k < fill ? '#' : '.';
        bar[20] = '\0';
        fprintf(stderr, "\r\033[K[%s] %4lld/%-4lld %-32.32s %-14s %9.2f MB", bar, (long long)i,
                (long long)n, name, types, mb(bytes_to));
        p->open_line = i < n;
        if (!p->open_line) fputc('\n', stderr);
    } else {
        fprintf(stderr, "[%4lld/%4lld] %-36s %-14s %9.3f MB -> %9.3f MB\n", (long long)i,
                (long long)n, name, types, mb(bytes_from), mb(bytes_to));
    }
    fflush(stderr);
}

void rx_cli_progress_end(rx_cli_progress *p)
{
    if (p->open_line) fputc('\n', stderr);
    p->open_line = false;
}

void rx_cli_progress_done(rx_cli_progress *p, const char *path)
{
    rx_cli_progress_end(p);
    if (p->quiet) return;
    fprintf(stderr, "wrote %s: %.2f MB -> %.2f MB in %.2f s\n", path, mb(p->bytes_from),
            mb(p->bytes_to), rx_clock_s() - p->t0_s);
}
