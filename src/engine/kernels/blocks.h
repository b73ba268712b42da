/* ggml's quantized block layouts, byte for byte (GGUF files store these), plus small helpers
 * every kernel set shares. A block packs a fixed number of elements with its own scale(s);
 * the static_asserts pin the sizes to what the type table in core/types.c declares. */
#ifndef RX_ENGINE_KERNELS_BLOCKS_H
#define RX_ENGINE_KERNELS_BLOCKS_H

#include <assert.h>
#include <stdint.h>

#define RX_QK 32    /* elements per block of the _0 types */
#define RX_QK_K 256 /* elements per super-block of the K types */

typedef struct {
    uint16_t d;            /* fp16 scale: x = d * (q - 8) */
    uint8_t qs[RX_QK / 2]; /* low nibbles: elements 0..15, high nibbles: 16..31 */
} rx_block_q4_0;
static_assert(sizeof(rx_block_q4_0) == 18, "q4_0 block");

typedef struct {
    uint16_t d;            /* fp16 scale: x = d * (q - 16) */
    uint8_t qh[4];         /* bit j: fifth bit of element j */
    uint8_t qs[RX_QK / 2]; /* low four bits, laid out as in q4_0 */
} rx_block_q5_0;
static_assert(sizeof(rx_block_q5_0) == 22, "q5_0 block");

typedef struct {
    uint16_t d; /* fp16 scale: x = d * q */
    int8_t qs[RX_QK];
} rx_block_q8_0;
static_assert(sizeof(rx_block_q8_0) == 34, "q8_0 block");

typedef struct {
    uint16_t d;              /* fp16 scale of the 6-bit sub-block scales */
    uint16_t dmin;           /* fp16 scale of the 6-bit sub-block mins */
    uint8_t scales[12];      /* 8 scales and 8 mins of 6 bits, see rx_q4k_scale_min */
    uint8_t qs[RX_QK_K / 2]; /* 64 elements per 32 bytes: low nibbles first, then high */
} rx_block_q4_K;
static_assert(sizeof(rx_block_q4_K) == 144, "q4_K block");

typedef struct {
    uint8_t ql[RX_QK_K / 2];     /* low four bits */
    uint8_t qh[RX_QK_K / 4];     /* high two bits */
    int8_t scales[RX_QK_K / 16]; /* one signed 8-bit scale per 16 elements */
    uint16_t d;                  /* fp16 super-block scale */
} rx_block_q6_K;
static_assert(sizeof(rx_block_q6_K) == 210, "q6_K block");

typedef struct {
    float d; /* activation scale (float, not fp16) */
    int8_t qs[RX_QK_K];
    int16_t bsums[RX_QK_K / 16]; /* sums of each 16 quants: lets K-type dots apply mins cheaply */
} rx_block_q8_K;
static_assert(sizeof(rx_block_q8_K) == 292, "q8_K block");

/* Unpacks sub-block j's 6-bit scale and min of a q4_K block: the first four pairs sit in the
 * low six bits of bytes 0..7; the last four keep their low nibbles in bytes 8..11 and their
 * top two bits in the spare high bits of bytes 0..7. */
static inline void rx_q4k_scale_min(int j, const uint8_t *restrict q, uint8_t *restrict sc,
                                    uint8_t *restrict m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

#endif
