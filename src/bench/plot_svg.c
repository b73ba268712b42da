/* A minimal SVG writer for reflex bench plot: a growing buffer, a handful of elements, and
 * the XML escaping that every piece of data (labels, titles, file names) goes through. Our
 * own markup is written raw; anything from a report or the command line is escaped. */
#include "bench/plot_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rx_svg__init(rx_svg *w)
{
    memset(w, 0, sizeof *w);
}

void rx_svg__free(rx_svg *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static bool reserve(rx_svg *w, size_t extra)
{
    if (w->oom || w->bad_number) return false;
    if (w->len + extra + 1 <= w->cap) return true;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + extra + 1) {
        if (cap > SIZE_MAX / 2) return w->oom = true, false;
        cap *= 2;
    }
    char *p = realloc(w->buf, cap);
    if (!p) return w->oom = true, false;
    w->buf = p;
    w->cap = cap;
    return true;
}

static void put(rx_svg *w, const char *s, size_t n)
{
    if (!reserve(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void rx_svg__raw(rx_svg *w, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        put(w, small, (size_t)n);
        return;
    }
    if (!reserve(w, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(w->buf + w->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at s[0..n), with its code point in *cp; 0 if the
 * bytes there are not one (overlong forms and surrogates included). */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len == 0 || len > n) return 0;
    if (len > 1) c &= 0x3Fu >> (len - 1);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    static const unsigned min_by_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_by_len[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

/* XML 1.0's Char production (tab, line breaks and the rest below 0x20 excluded). */
static bool xml_allowed(unsigned c)
{
    return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') && c != 0xFFFE && c != 0xFFFF;
}

void rx_svg__escaped(rx_svg *w, const char *text, size_t max_chars)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), chars = 0;
    for (size_t i = 0; i < n; chars++) {
        if (chars == max_chars) {
            put(w, "\xE2\x80\xA6", 3); /* … */
            return;
        }
        unsigned cp = 0;
        size_t len = utf8_seq(s + i, n - i, &cp);
        if (len == 0 || !xml_allowed(cp)) {
            /* U+FFFD for a forbidden character, or for one bad byte, then resynchronise */
            put(w, "\xEF\xBF\xBD", 3);
            i += len ? len : 1;
            continue;
        }
        switch (cp) {
        case '&':
            put(w, "&amp;", 5);
            break;
        case '<':
            put(w, "&lt;", 4);
            break;
        case '>':
            put(w, "&gt;", 4);
            break;
        case '"':
            put(w, "&quot;", 6);
            break;
        case '\'':
            put(w, "&apos;", 6);
            break;
        case '\t':
        case '\n':
        case '\r':
            put(w, " ", 1);
            break;
        default:
            put(w, text + i, len);
        }
        i += len;
    }
}

/* Coordinates go out with one decimal; a NAN or infinity there is a layout bug, and a
 * document with one is refused rather than drawn wrong. */
static bool all_finite(rx_svg *w, int n, const double *v)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return w->bad_number = true, false;
    return true;
}

void rx_svg__begin(rx_svg *w, double width, double height, const char *title)
{
    if (!all_finite(w, 2, (double[]){width, height})) return;
    rx_svg__raw(w,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
                "width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
                "<title>",
                width, height, width, height);
    rx_svg__escaped(w, title, 200);
    rx_svg__raw(w,
                "</title>\n<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" "
                "fill=\"white\"/>\n",
                width, height);
}

void rx_svg__end(rx_svg *w)
{
    rx_svg__raw(w, "</svg>\n");
}

void rx_svg__line(rx_svg *w, double x1, double y1, double x2, double y2, const char *attrs)
{
    if (!all_finite(w, 4, (double[]){x1, y1, x2, y2})) return;
    rx_svg__raw(w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" %s/>\n", x1, y1, x2, y2,
                attrs);
}

void rx_svg__rect(rx_svg *w, double x, double y, double width, double height, const char *attrs)
{
    if (!all_finite(w, 4, (double[]){x, y, width, height})) return;
    rx_svg__raw(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" %s/>\n", x, y, width,
                height, attrs);
}

void rx_svg__text(rx_svg *w, double x, double y, const char *attrs, const char *text,
                  size_t max_chars)
{
    if (!all_finite(w, 2, (double[]){x, y})) return;
    rx_svg__raw(w, "<text x=\"%.1f\" y=\"%.1f\" %s>", x, y, attrs);
    rx_svg__escaped(w, text, max_chars);
    rx_svg__raw(w, "</text>\n");
}

void rx_svg__polyline(rx_svg *w, const rx_plot_pt *pts, size_t n, const char *attrs)
{
    for (size_t i = 0; i < n; i++)
        if (!all_finite(w, 2, (double[]){pts[i].x, pts[i].y})) return;
    rx_svg__raw(w, "<polyline %s points=\"", attrs);
    for (size_t i = 0; i < n; i++)
        rx_svg__raw(w, "%s%.1f,%.1f", i ? " " : "", pts[i].x, pts[i].y);
    rx_svg__raw(w, "\"/>\n");
}
