/* The tensor-by-tensor progress display of the model writers (quantize, convert, synth):
 * a bar redrawn in place when stderr is a terminal, one line per tensor otherwise (logs). */
#ifndef RX_CLI_PROGRESS_H
#define RX_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "reflex/types.h"

typedef struct {
    bool quiet;
    bool tty;       /* redraw one line with \r */
    bool open_line; /* a bar is on screen without its newline */
    double t0_s;
    uint64_t bytes_from, bytes_to;
} rx_cli_progress;

void rx_cli_progress_init(rx_cli_progress *p, bool quiet);

/* Matches rx_quantize_progress_fn; user is an rx_cli_progress. */
void rx_cli_progress_tensor(void *user, int64_t i, int64_t n, const char *name, rx_type from,
                            rx_type to, uint64_t bytes_from, uint64_t bytes_to);

/* Ends an open bar line (before an error message). */
void rx_cli_progress_end(rx_cli_progress *p);

/* Ends the bar and prints "wrote PATH: X MB -> Y MB in T s". */
void rx_cli_progress_done(rx_cli_progress *p, const char *path);

#endif
