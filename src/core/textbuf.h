/* A growable text buffer for rendered pages (/metrics, status): printf-style appends with no
 * length limit. An allocation failure is sticky: later appends do nothing, and rx_textbuf_take
 * returns NULL, so a renderer checks once at the end. */
#ifndef RX_CORE_TEXTBUF_H
#define RX_CORE_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/histogram.h"

typedef struct {
    char *buf; /* always NUL-terminated once anything was appended */
    size_t len, cap;
    bool failed;
} rx_textbuf;

void rx_textbuf_printf(rx_textbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A histogram in Prometheus text format: _bucket lines, _sum and _count (labels may be ""). */
void rx_textbuf_hist(rx_textbuf *t, const rx_histogram *h, const char *name, const char *labels);
/* The text (the caller frees it), or NULL after a failed allocation; t is empty afterwards. */
char *rx_textbuf_take(rx_textbuf *t);

#endif
