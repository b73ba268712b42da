/* A growable byte buffer for what a connection sends: bytes are appended at the end and taken
 * from the front (p[off..len) are pending), so a response is one contiguous run that goes out
 * in one send, with no allocation per response once the buffer has grown to its working size.
 * It may start on caller-provided storage (a request's few response headers live inline in
 * the request record), moving to the heap only when that is outgrown. Appending never fails
 * silently: on out-of-memory the buffer stops taking bytes and records it (failed). */
#ifndef RX_NET_BYTES_H
#define RX_NET_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *p;
    size_t off, len, cap;
    bool heap;   /* p is ours to free */
    bool failed; /* an append did not fit in memory: the contents are incomplete */
} rx_bytes;

/* Starts empty on storage (may be NULL with cap 0): nothing is allocated until needed. */
void rx_bytes_init(rx_bytes *b, char *storage, size_t cap);
void rx_bytes_free(rx_bytes *b);
static inline size_t rx_bytes_pending(const rx_bytes *b)
{
    return b->len - b->off;
}
static inline const char *rx_bytes_data(const rx_bytes *b)
{
    return b->p + b->off;
}
void rx_bytes_add(rx_bytes *b, const void *data, size_t n);
void rx_bytes_add_str(rx_bytes *b, const char *s);
/* v in decimal (base 10) or lower-case hex (base 16), without printf. */
void rx_bytes_add_uint(rx_bytes *b, uint64_t v, int base);
/* Drops the first n pending bytes; an emptied buffer starts over at its front, and a heap
 * buffer grown past 64 KiB (a large body) is given back once empty. */
void rx_bytes_consume(rx_bytes *b, size_t n);

#endif
