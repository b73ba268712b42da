/* The q4_0x8 tile on AVX2 (see q4_0x8_tile.h): maddubs gives each row's code * y in pairs,
 * the eight pair vectors are summed as int16 (exact: each pair is at most 2 * 15 * 128 in
 * size, eight of them 30720) and madd folds the pairs into row j's 32-bit lane. */
#include <immintrin.h>

static inline __attribute__((always_inline)) __m256i group_dot(const __m256i c[8],
                                                               const __m256i y4[8])
{
    __m256i p[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        p[k] = _mm256_maddubs_epi16(c[k], y4[k]);
    __m256i s = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(p[0], p[1]),
                                                  _mm256_add_epi16(p[2], p[3])),
                                 _mm256_add_epi16(_mm256_add_epi16(p[4], p[5]),
                                                  _mm256_add_epi16(p[6], p[7])));
    return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}

#include "engine/kernels/q4_0x8_tile.h"

void rx_kernels__grouped_q4_0_avx2(int64_t n, float *restrict s, int64_t ld_s,
                                   const void *restrict w, size_t ws, const void *restrict a,
                                   size_t as, int nr, int nt)
{
    grouped_entry(n, s, ld_s, w, ws, a, as, nr, nt);
}
