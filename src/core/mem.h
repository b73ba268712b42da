/* 64-byte aligned allocation for SIMD buffers (a cache line, and enough for AVX-512). */
#ifndef RX_CORE_MEM_H
#define RX_CORE_MEM_H

#include <stdlib.h>

/* Zeroed, 64-byte aligned; NULL on failure or overflow. Free with free(). */
static inline void *rx_alloc64(size_t size)
{
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size) return NULL;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p) __builtin_memset(p, 0, rounded ? rounded : 64);
    return p;
}

#endif
