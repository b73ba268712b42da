/* IEEE half and bfloat16 conversions, bit-exact with the hardware (F16C) paths:
 * round-to-nearest-even on the way down, exact on the way up. */
#ifndef RX_CORE_FP16_H
#define RX_CORE_FP16_H

#include <stdint.h>
#include <string.h>

static inline uint32_t rx_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float rx_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float rx_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return rx_bits_f32(sign | 0x7f800000 | (man << 13));
    if (exp == 0) {
        if (man == 0) return rx_bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float f = (float)man * 5.9604644775390625e-8f;
        return rx_bits_f32(rx_f32_bits(f) | sign);
    }
    return rx_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t rx_f32_to_fp16(float f)
{
    uint32_t x = rx_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffff;
    if (ax >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000 ? 0x200 : 0));
    if (ax >= 0x477ff000) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000) {
        /* subnormal result: count in units of 2^-24, round half to even */
        if (ax < 0x33000000) return (uint16_t)sign; /* below 2^-25: zero */
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;
        uint32_t v = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (v & 1))) v++;
        return (uint16_t)(sign | v);
    }
    uint32_t r = ax + 0xc8000fffu + ((ax >> 13) & 1); /* rebias exponent, round to even */
    return (uint16_t)(sign | (r >> 13));
}

static inline float rx_bf16_to_f32(uint16_t h) { return rx_bits_f32((uint32_t)h << 16); }

static inline uint16_t rx_f32_to_bf16(float f)
{
    uint32_t u = rx_f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

#endif
