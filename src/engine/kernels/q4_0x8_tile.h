/* The q4_0x8 tile, shared by q4_0x8_avx2.c and q4_0x8_vnni.c, which differ only in how one
 * group's codes meet one token's activations: each defines
 *   static __m256i group_dot(const __m256i c[8], const __m256i y4[8])
 * returning, in 32-bit lane j, row j's block sum of code * y over the 32 elements (codes
 * unsigned 0..15; y4[k] is activation elements 4k..4k+3 broadcast to every lane, k = 0..3 the
 * low nibbles' elements 0..15, k = 4..7 the high nibbles' 16..31) and then includes this file.
 * The codes' offset of 8 is taken off with the activation block's sum, once per token and
 * block for every group. Everything integer is exact, so the float steps (convert, times
 * d_w * d_a, FMA into the output's accumulator, block after block) are all that must follow
 * llama.cpp's repacked path, and they do. */
#ifndef RX_ENGINE_KERNELS_Q4_0X8_TILE_H
#define RX_ENGINE_KERNELS_Q4_0X8_TILE_H

#include "engine/kernels/internal.h"
#include "engine/kernels/simd_avx2.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

#ifndef RX_PREFETCH_PANELS
#define RX_PREFETCH_PANELS 2
#endif

/* Group g's codes of one block: c[k] the low nibbles of code bytes k (elements 4k..4k+3 of
 * each row), c[4 + k] the high ones (elements 16+4k..). */
static ALWAYS_INLINE void group_codes(const unsigned char *b, __m256i c[8])
{
    const __m256i low4 = _mm256_set1_epi8(0xF);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * k));
        c[k] = _mm256_and_si256(v, low4);
        c[4 + k] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
}

/* 8 * the sum of the block's 32 activations, in every lane. */
static ALWAYS_INLINE __m256i offset_of(__m256i y)
{
    __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(y, _mm256_set1_epi8((char)0x80)),
                                  _mm256_setzero_si256()); /* sum of y + 128 per 64 bits */
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
    s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
    return _mm256_set1_epi32(8 * (_mm_cvtsi128_si32(s) - 32 * 128));
}

static ALWAYS_INLINE uint32_t load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ng groups (8 rows each) x nt tokens; accumulators in acc[t][g]. */
static ALWAYS_INLINE void grouped_tile(int64_t nb, float *restrict s, int64_t ld_s,
                                       const unsigned char *restrict w, size_t ws,
                                       const char *restrict a, size_t as, const int ng,
                                       const int nt)
{
    __m256 acc[RX_TILE_MAX_TOKENS][2];
    for (int t = 0; t < nt; t++) {
#pragma GCC unroll 2
        for (int g = 0; g < ng; g++)
            acc[t][g] = _mm256_setzero_ps();
    }
    const size_t gs = RX_REPACK_ROWS * ws; /* bytes per group of 8 rows */
    /* sweep the panel RX_PREFETCH_PANELS ahead at the pace this one is read (decode reads
     * each weight once, from DRAM; the hardware prefetcher alone falls behind) */
    const unsigned char *ahead = w + (size_t)ng * gs * RX_PREFETCH_PANELS;
    for (int64_t i = 0; i < nb; i++) {
        __m256i c[2][8];
        __m256 wd[2];
#pragma GCC unroll 2
        for (int g = 0; g < ng; g++) {
            const unsigned char *b = w + g * gs + (size_t)i * RX_Q4_0X8_BLOCK;
            const unsigned char *pf = ahead + g * gs + (size_t)i * RX_Q4_0X8_BLOCK;
            _mm_prefetch((const char *)pf, _MM_HINT_T0);
            _mm_prefetch((const char *)pf + 64, _MM_HINT_T0);
            _mm_prefetch((const char *)pf + 128, _MM_HINT_T0);
            group_codes(b, c[g]);
            wd[g] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b));
        }
        const char *yp = a + (size_t)i * sizeof(rx_block_q8_0);
        for (int t = 0; t < nt; t++, yp += as) {
            const rx_block_q8_0 *yb = (const rx_block_q8_0 *)yp;
            __m256i y4[8];
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++)
                y4[k] = _mm256_set1_epi32((int)load_u32(yb->qs + 4 * k));
            const __m256i off = offset_of(_mm256_loadu_si256((const __m256i *)yb->qs));
            const __m256 yd = _mm256_set1_ps(rx_half_to_float(yb->d));
#pragma GCC unroll 2
            for (int g = 0; g < ng; g++) {
                __m256 sum = _mm256_cvtepi32_ps(_mm256_sub_epi32(group_dot(c[g], y4), off));
                acc[t][g] = _mm256_fmadd_ps(sum, _mm256_mul_ps(wd[g], yd), acc[t][g]);
            }
        }
    }
    for (int t = 0; t < nt; t++) {
#pragma GCC unroll 2
        for (int g = 0; g < ng; g++)
            _mm256_storeu_ps(s + t * ld_s + g * RX_REPACK_ROWS, acc[t][g]);
    }
}

/* The entry point: nr rows (8 or 16) x nt tokens; the few-token cases get their own copies so
 * their accumulators stay in registers. */
static ALWAYS_INLINE void grouped_entry(int64_t n, float *restrict s, int64_t ld_s,
                                        const void *restrict w, size_t ws,
                                        const void *restrict a, size_t as, int nr, int nt)
{
    const int64_t nb = n / RX_QK;
    const unsigned char *wc = w;
    const char *ac = a;
    const int ng = nr / RX_REPACK_ROWS;
    if (ng == 2) {
        switch (nt) {
        case 1: grouped_tile(nb, s, ld_s, wc, ws, ac, as, 2, 1); return;
        case 2: grouped_tile(nb, s, ld_s, wc, ws, ac, as, 2, 2); return;
        case 3: grouped_tile(nb, s, ld_s, wc, ws, ac, as, 2, 3); return;
        case 4: grouped_tile(nb, s, ld_s, wc, ws, ac, as, 2, 4); return;
        default: grouped_tile(nb, s, ld_s, wc, ws, ac, as, 2, nt); return;
        }
    }
    switch (nt) {
    case 1: grouped_tile(nb, s, ld_s, wc, ws, ac, as, 1, 1); return;
    case 2: grouped_tile(nb, s, ld_s, wc, ws, ac, as, 1, 2); return;
    default: grouped_tile(nb, s, ld_s, wc, ws, ac, as, 1, nt); return;
    }
}

#endif
