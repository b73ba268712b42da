/* rx_bytes (see bytes.h). */
#include "net/bytes.h"

#include <stdlib.h>
#include <string.h>

enum { KEEP_CAP = 64 * 1024 };

void rx_bytes_init(rx_bytes *b, char *storage, size_t cap)
{
    b->p = storage;
    b->off = b->len = 0;
    b->cap = storage ? cap : 0;
    b->heap = false;
    b->failed = false;
}

void rx_bytes_free(rx_bytes *b)
{
    if (b->heap) free(b->p);
    b->p = NULL;
    b->off = b->len = b->cap = 0;
    b->heap = false;
}

static bool make_room(rx_bytes *b, size_t n)
{
    if (b->failed) return false;
    if (b->cap - b->len >= n) return true;
    size_t pending = b->len - b->off;
    if (b->off > 0 && b->cap - pending >= n) { /* slide the pending bytes to the front */
        memmove(b->p, b->p + b->off, pending);
        b->off = 0;
        b->len = pending;
        return true;
    }
    if (pending > SIZE_MAX / 2 - n) {
        b->failed = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < pending + n)
        cap *= 2;
    char *p = malloc(cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    if (pending) memcpy(p, b->p + b->off, pending);
    if (b->heap) free(b->p);
    b->p = p;
    b->cap = cap;
    b->off = 0;
    b->len = pending;
    b->heap = true;
    return true;
}

void rx_bytes_add(rx_bytes *b, const void *data, size_t n)
{
    if (!n || !make_room(b, n)) return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void rx_bytes_add_str(rx_bytes *b, const char *s)
{
    rx_bytes_add(b, s, strlen(s));
}

void rx_bytes_add_uint(rx_bytes *b, uint64_t v, int base)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        unsigned d = (unsigned)(v % (unsigned)base);
        tmp[--i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= (unsigned)base;
    } while (v && i > 0);
    rx_bytes_add(b, tmp + i, sizeof tmp - (size_t)i);
}

void rx_bytes_consume(rx_bytes *b, size_t n)
{
    b->off += n;
    if (b->off < b->len) return;
    b->off = b->len = 0;
    if (b->heap && b->cap > KEEP_CAP) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
        b->heap = false;
    }
}
