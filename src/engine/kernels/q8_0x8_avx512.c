/* The q8_0x8 tile with AVX-512 VNNI: two groups (16 rows) per 512-bit vector, lanes 0..7 the
 * first group's rows and 8..15 the second's. Each activation broadcast and correction then
 * serves sixteen rows, halving the loads per product that bound the 256-bit tile, and on
 * cores with 512-bit units (Zen 5, Intel server parts) each instruction does twice the work.
 * The numbers and their order are q8_0x8_tile.h's (ggml's vec_dot lanes, lane by lane), so the
 * results are bit-identical. A lone group of 8 rows takes the 256-bit VNNI path. */
#include <immintrin.h>

static inline __attribute__((always_inline)) __m256i chunk_dot(__m256i u, __m256i y4,
                                                               __m256i corr)
{
    return _mm256_dpbusd_epi32(corr, u, y4);
}

#include "engine/kernels/q8_0x8_tile.h"

/* Groups w and w + gs against one token into s[0..15]; pf (or NULL) as group_token's. */
static ALWAYS_INLINE void pair_token(int64_t nb, float *restrict s, const unsigned char *w,
                                     size_t gs, const rx_block_q8_0 *restrict y,
                                     const unsigned char *pf)
{
    __m512 acc[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        acc[k] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const unsigned char *b0 = w + (size_t)i * RX_Q8_0X8_BLOCK, *b1 = b0 + gs;
        if (pf) {
            const char *p = (const char *)pf + (size_t)i * RX_Q8_0X8_BLOCK;
            prefetch_block(p);
            prefetch_block(p + gs);
        }
        const rx_block_q8_0 *yb = y + i;
        int32_t corr[8];
        chunk_corrections(yb, corr);
        const __m256i h = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)b0)),
            _mm_loadu_si128((const __m128i *)b1), 1);
        const __m512 d =
            _mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(rx_half_to_float(yb->d)));
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            const __m512i u = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b0 + 16 + 32 * k))),
                _mm256_loadu_si256((const __m256i *)(b1 + 16 + 32 * k)), 1);
            const __m512i v =
                _mm512_dpbusd_epi32(_mm512_set1_epi32(corr[k]), u,
                                    _mm512_set1_epi32((int)load_u32(yb->qs + 4 * k)));
            acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), d, acc[k]);
        }
    }
    const __m512 t0 = _mm512_add_ps(acc[0], acc[4]), t1 = _mm512_add_ps(acc[1], acc[5]);
    const __m512 t2 = _mm512_add_ps(acc[2], acc[6]), t3 = _mm512_add_ps(acc[3], acc[7]);
    _mm512_storeu_ps(s, _mm512_add_ps(_mm512_add_ps(t0, t2), _mm512_add_ps(t1, t3)));
}

void rx_kernels__grouped_q8_0_avx512(int64_t n, float *restrict s, int64_t ld_s,
                                     const void *restrict w, size_t ws, const void *restrict a,
                                     size_t as, int nr, int nt)
{
    if (nr != 2 * RX_REPACK_ROWS) {
        grouped_entry(n, s, ld_s, w, ws, a, as, nr, nt);
        return;
    }
    const int64_t nb = n / RX_QK;
    const size_t gs = RX_REPACK_ROWS * ws;
    const unsigned char *wc = w;
    for (int t = 0; t < nt; t++) {
        const rx_block_q8_0 *y = (const rx_block_q8_0 *)((const char *)a + (size_t)t * as);
        const unsigned char *pf = t == 0 ? wc + (size_t)nr * ws * RX_PREFETCH_PANELS : NULL;
        pair_token(nb, s + (size_t)t * ld_s, wc, gs, y, pf);
    }
}
