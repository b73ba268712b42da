/* Growable text buffer (see textbuf.h). */
#include "core/textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(rx_textbuf *t, size_t more)
{
    if (t->failed) return false;
    if (t->len + more < t->cap) return true;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap <= t->len + more)
        cap *= 2;
    char *b = realloc(t->buf, cap);
    if (!b) {
        t->failed = true;
        return false;
    }
    t->buf = b;
    t->cap = cap;
    return true;
}

static void vput(rx_textbuf *t, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    if (n >= 0 && reserve(t, (size_t)n)) {
        vsnprintf(t->buf + t->len, t->cap - t->len, fmt, again);
        t->len += (size_t)n;
    }
    va_end(again);
}

void rx_textbuf_printf(rx_textbuf *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(t, fmt, ap);
    va_end(ap);
}

void rx_textbuf_hist(rx_textbuf *t, const rx_histogram *h, const char *name, const char *labels)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    for (int i = 0; i < h->n_bounds; i++) {
        cum += atomic_load(&h->counts[i]);
        rx_textbuf_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->bounds[i],
                          (unsigned long long)cum);
    }
    cum += atomic_load(&h->counts[h->n_bounds]);
    rx_textbuf_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                      (unsigned long long)cum);
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    rx_textbuf_printf(t, "%s_sum%s%s%s %.6f\n", name, open, labels, close,
                      (double)atomic_load(&h->sum_micro) / 1e6);
    rx_textbuf_printf(t, "%s_count%s%s%s %llu\n", name, open, labels, close,
                      (unsigned long long)atomic_load(&h->count));
}

char *rx_textbuf_take(rx_textbuf *t)
{
    char *s = t->failed ? NULL : t->buf;
    if (t->failed) free(t->buf);
    if (s == NULL && !t->failed) s = calloc(1, 1);
    *t = (rx_textbuf){0};
    return s;
}
