/* Overflow-checked size arithmetic for parsers: every size computed from untrusted input
 * goes through these, so a hostile count can never wrap into a small allocation. */
#ifndef RX_CORE_CHECKED_H
#define RX_CORE_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each returns false (and leaves *r unspecified) when the exact result does not fit. */
static inline bool rx_add_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool rx_mul_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool rx_add_size(size_t a, size_t b, size_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool rx_mul_size(size_t a, size_t b, size_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* Rounds x up to a multiple of align (a power of two); false on overflow. */
static inline bool rx_align_u64(uint64_t x, uint64_t align, uint64_t *r)
{
    uint64_t t;
    if (!rx_add_u64(x, align - 1, &t)) return false;
    *r = t & ~(align - 1);
    return true;
}

#endif
