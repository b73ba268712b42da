/* Text helpers for the API: arbitrary bytes (token pieces, partial UTF-8, client strings quoted
 * in errors) made into valid UTF-8 before jansson sees them, since json_stringn refuses invalid
 * UTF-8 and a response must never fail because a token split a character; the compact dump
 * every response uses; and a small string builder for rendering prompts. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "serve/api_internal.h"

/* Length of the well-formed UTF-8 sequence starting at s[0] (at most n bytes available), or 0
 * if it is not one. The ranges of the second byte exclude overlong forms (E0, F0), surrogates
 * (ED) and code points above U+10FFFF (F4), as RFC 3629's table does. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < need || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < need; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return need;
}

char *rx_api__utf8_sanitize(const char *src, size_t len, size_t *out_len)
{
    static const char fffd[3] = {'\xEF', '\xBF', '\xBD'};
    size_t cap;
    if (!rx_mul_size(len, 3, &cap) || !rx_add_size(cap, 1, &cap)) return NULL;
    char *out = malloc(cap);
    if (!out) return NULL;
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(s + i, len - i);
        if (n) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, fffd, 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
}

json_t *rx_api__json_text(const char *src, size_t len)
{
    size_t n;
    char *clean = rx_api__utf8_sanitize(len ? src : "", len, &n);
    if (!clean) return NULL;
    json_t *s = json_stringn(clean, n);
    free(clean);
    return s;
}

char *rx_api__dump(json_t *root)
{
    if (!root) return NULL;
    /* 9 significant digits round-trip every float (logprobs, embeddings) without the 17-digit
     * noise of printing them as doubles. */
    char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(root);
    return s;
}

void rx_api__sb_append(rx_api_strbuf *sb, const char *s, size_t len)
{
    if (!sb->ok) return;
    size_t need;
    if (!rx_add_size(sb->len, len, &need) || !rx_add_size(need, 1, &need)) {
        sb->ok = false;
        return;
    }
    if (need > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 64;
        while (cap < need) {
            if (!rx_mul_size(cap, 2, &cap)) {
                sb->ok = false;
                return;
            }
        }
        char *p = realloc(sb->buf, cap);
        if (!p) {
            sb->ok = false;
            return;
        }
        sb->buf = p;
        sb->cap = cap;
    }
    if (len) memcpy(sb->buf + sb->len, s, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void rx_api__sb_puts(rx_api_strbuf *sb, const char *s)
{
    rx_api__sb_append(sb, s, strlen(s));
}

char *rx_api__sb_finish(rx_api_strbuf *sb)
{
    if (sb->ok && !sb->buf) rx_api__sb_append(sb, "", 0);
    if (!sb->ok) {
        free(sb->buf);
        sb->buf = NULL;
        return NULL;
    }
    char *s = sb->buf;
    sb->buf = NULL;
    return s;
}
