/* Small non-cryptographic hashes shared across layers. The prefix digest is a contract: nodes
 * report it in /v1/status and gateways compute it from a request to find the node whose cache
 * holds that prompt, so both must call this one function. */
#ifndef RX_CORE_HASH_H
#define RX_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* FNV-1a, 64-bit. */
static inline uint64_t rx_fnv1a64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static inline uint64_t rx_fnv1a64_str(const char *s)
{
    return rx_fnv1a64(s, strlen(s));
}

/* A finalizer that spreads FNV's low-entropy high bits (murmur3's fmix64 first half). */
static inline uint64_t rx_hash_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* A uniform draw in [0, 1) from a mixed hash (its top 53 bits). */
static inline double rx_hash_unit(uint64_t mixed)
{
    return (double)(mixed >> 11) / 9007199254740992.0;
}

/* Bytes of a prompt's leading text the prefix digest covers. */
#define RX_PREFIX_DIGEST_BYTES 256

/* The prefix-cache digest of a prompt: FNV-1a of its first RX_PREFIX_DIGEST_BYTES bytes. */
static inline uint64_t rx_prefix_digest(const char *text, size_t len)
{
    return rx_fnv1a64(text, len < RX_PREFIX_DIGEST_BYTES ? len : RX_PREFIX_DIGEST_BYTES);
}

#endif
