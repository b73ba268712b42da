/* The q8_0x8 tile, shared by q8_0x8_avx2.c and q8_0x8_vnni.c, which differ only in how one
 * chunk of codes meets the activations: each defines
 *   static __m256i chunk_dot(__m256i u, __m256i y4, __m256i corr)
 * returning, in 32-bit lane j, row j's sum of q * y over four elements, given u (the eight
 * rows' codes of those elements as q + 128, unsigned), y4 (the four activations broadcast to
 * every lane) and corr (-128 times their sum, in every lane), and then includes this file.
 *
 * The order is ggml's vec_dot_q8_0_q8_0 and tinyBLAS_Q0_AVX's, which keep eight float
 * accumulators per output (lane l: elements 4l..4l+3 of every block, FMA-added times
 * d_w * d_a) and fold them with hsum_float_8. Here row j's accumulator for lane l is lane j of
 * acc[l]: the same numbers added in the same order, so the same results, while each
 * instruction serves eight rows and the fold needs no shuffles. */
#ifndef RX_ENGINE_KERNELS_Q8_0X8_TILE_H
#define RX_ENGINE_KERNELS_Q8_0X8_TILE_H

#include "engine/kernels/internal.h"
#include "engine/kernels/simd_avx2.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

#ifndef RX_PREFETCH_PANELS
#define RX_PREFETCH_PANELS 2
#endif

static ALWAYS_INLINE uint32_t load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The RX_Q8_0X8_BLOCK bytes at p (a block ahead of the one being read) into L1. */
static ALWAYS_INLINE void prefetch_block(const char *p)
{
    _mm_prefetch(p, _MM_HINT_T0);
    _mm_prefetch(p + 64, _MM_HINT_T0);
    _mm_prefetch(p + 128, _MM_HINT_T0);
    _mm_prefetch(p + 192, _MM_HINT_T0);
    _mm_prefetch(p + 256, _MM_HINT_T0);
}

/* corr[l] = -128 * the sum of activations 4l..4l+3: what takes the codes' offset of 128 back
 * off each chunk's sum. */
static ALWAYS_INLINE void chunk_corrections(const rx_block_q8_0 *yb, int32_t corr[8])
{
    const __m256i yq = _mm256_loadu_si256((const __m256i *)yb->qs);
    _mm256_storeu_si256((__m256i *)corr,
                        _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), yq),
                                          _mm256_set1_epi16(-128)));
}

/* One group of 8 rows against one token, its eight accumulators in registers; pf (or NULL)
 * is the group to prefetch at the pace this one is read. */
static ALWAYS_INLINE void group_token(int64_t nb, float *restrict s,
                                      const unsigned char *restrict w,
                                      const rx_block_q8_0 *restrict y,
                                      const unsigned char *pf)
{
    __m256 acc[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        acc[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const unsigned char *b = w + (size_t)i * RX_Q8_0X8_BLOCK;
        if (pf) prefetch_block((const char *)pf + (size_t)i * RX_Q8_0X8_BLOCK);
        const rx_block_q8_0 *yb = y + i;
        int32_t corr[8];
        chunk_corrections(yb, corr);
        const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b)),
                                       _mm256_set1_ps(rx_half_to_float(yb->d)));
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            const __m256i u = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * k));
            const __m256i v = chunk_dot(u, _mm256_set1_epi32((int)load_u32(yb->qs + 4 * k)),
                                        _mm256_set1_epi32(corr[k]));
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), d, acc[k]);
        }
    }
    /* hsum_float_8 for every row at once: lane l with l + 4, then (0+2) + (1+3) */
    const __m256 t0 = _mm256_add_ps(acc[0], acc[4]), t1 = _mm256_add_ps(acc[1], acc[5]);
    const __m256 t2 = _mm256_add_ps(acc[2], acc[6]), t3 = _mm256_add_ps(acc[3], acc[7]);
    _mm256_storeu_ps(s, _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3)));
}

/* nr rows (a multiple of 8) x nt tokens: token after token, group after group, so each
 * output's accumulators stay in registers; a group's panel (8 rows) stays in L1/L2 between
 * tokens. Decode (one token) reads each group once, as one stream, prefetched ahead. */
static ALWAYS_INLINE void grouped_entry(int64_t n, float *restrict s, int64_t ld_s,
                                        const void *restrict w, size_t ws,
                                        const void *restrict a, size_t as, int nr, int nt)
{
    const int64_t nb = n / RX_QK;
    const size_t gs = RX_REPACK_ROWS * ws; /* bytes per group of 8 rows */
    const unsigned char *wc = w;
    const char *ac = a;
    const int ng = nr / RX_REPACK_ROWS;
    for (int t = 0; t < nt; t++) {
        const rx_block_q8_0 *y = (const rx_block_q8_0 *)(ac + (size_t)t * as);
        for (int g = 0; g < ng; g++) {
            const unsigned char *wg = wc + (size_t)g * gs;
            /* only the first token's pass reaches DRAM; sweep RX_PREFETCH_PANELS ahead */
            const unsigned char *pf = t == 0 ? wg + (size_t)nr * ws * RX_PREFETCH_PANELS : NULL;
            group_token(nb, s + (size_t)t * ld_s + g * RX_REPACK_ROWS, wg, y, pf);
        }
    }
}

#endif
