/* Unicode lookups over the generated tables, UTF-8 coding, and the GPT-2 byte mapping. */
#include "engine/unicode.h"

rx_ucat rx_unicode_cat(uint32_t cpt)
{
    if (cpt < 0x800) return (rx_ucat)((rx_unicode_low[cpt / 2] >> (cpt % 2 * 4)) & 7);
    if (cpt >= RX_UNICODE_MAX) return RX_UCAT_NONE;
    /* Binary search for the last run starting at or before cpt; run 0 starts at U+0000. */
    size_t lo = 0, hi = rx_unicode_n_runs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if ((rx_unicode_runs[mid] >> 3) <= cpt)
            lo = mid;
        else
            hi = mid;
    }
    return (rx_ucat)(rx_unicode_runs[lo] & 7);
}

bool rx_unicode_is_space(uint32_t cpt)
{
    if (cpt < 0x85) return cpt == ' ' || (cpt >= 0x09 && cpt <= 0x0D);
    for (size_t i = 0; i < rx_unicode_n_space; i++) {
        if (cpt < rx_unicode_space[i][0]) return false;
        if (cpt <= rx_unicode_space[i][1]) return true;
    }
    return false;
}

size_t rx_utf8_len(uint8_t lead)
{
    static const uint8_t by_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return by_nibble[lead >> 4];
}

static bool cont(uint8_t b)
{
    return (b & 0xC0) == 0x80;
}

uint32_t rx_utf8_decode(const uint8_t *s, size_t n, size_t *used)
{
    uint8_t b = s[0];
    *used = 1;
    if (b < 0x80) return b;
    if (b < 0xC0 || b >= 0xF8) return RX_UNICODE_REPLACEMENT;
    size_t len = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (n < len) return RX_UNICODE_REPLACEMENT;
    uint32_t cpt = b & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if (!cont(s[i])) return RX_UNICODE_REPLACEMENT;
        cpt = (cpt << 6) | (s[i] & 0x3F);
    }
    if (cpt >= RX_UNICODE_MAX) return RX_UNICODE_REPLACEMENT;
    *used = len;
    return cpt;
}

size_t rx_utf8_encode(uint32_t cpt, uint8_t *out)
{
    if (cpt < 0x80) {
        out[0] = (uint8_t)cpt;
        return 1;
    }
    if (cpt < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cpt >> 6));
        out[1] = (uint8_t)(0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cpt >> 12));
        out[1] = (uint8_t)(0x80 | ((cpt >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cpt & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cpt >> 18));
    out[1] = (uint8_t)(0x80 | ((cpt >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cpt >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cpt & 0x3F));
    return 4;
}

int rx_utf8_check(const uint8_t *s, size_t n)
{
    uint8_t b = s[0];
    if (b < 0x80) return 1;
    int len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte (Unicode table 3-7) */
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0) lo = 0xA0; /* no overlongs */
        if (b == 0xED) hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return -1;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return 0;
        uint8_t c = s[i];
        if (i == 1 ? (c < lo || c > hi) : !cont(c)) return -1;
    }
    return len;
}

/* GPT-2 keeps the printable Latin-1 bytes as themselves and moves the other 68 bytes (controls,
 * space, DEL, the C1 range, NBSP, soft hyphen) to U+0100 upward, in byte order. */
static bool byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t rx_byte_to_cpt(uint8_t b)
{
    if (byte_is_printable(b)) return b;
    unsigned n = 0; /* rank of b among the non-printable bytes */
    for (unsigned c = 0; c < b; c++)
        n += !byte_is_printable(c);
    return 0x100 + n;
}

int rx_cpt_to_byte(uint32_t cpt)
{
    if (cpt < 0x100) return byte_is_printable(cpt) ? (int)cpt : -1;
    if (cpt >= 0x100 + 68) return -1;
    unsigned n = cpt - 0x100;
    for (unsigned c = 0; c < 256; c++)
        if (!byte_is_printable(c) && n-- == 0) return (int)c;
    return -1;
}
