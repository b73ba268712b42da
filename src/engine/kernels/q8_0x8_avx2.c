/* The q8_0x8 tile on AVX2 (see q8_0x8_tile.h): the codes back to signed, then ggml's sign
 * trick (maddubs of |q| and y with q's sign, exact for |q| <= 127) and madd fold four products
 * into each row's lane. */
#include <immintrin.h>

static inline __attribute__((always_inline)) __m256i chunk_dot(__m256i u, __m256i y4,
                                                               __m256i corr)
{
    (void)corr;
    const __m256i q = _mm256_xor_si256(u, _mm256_set1_epi8((char)0x80));
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y4, q));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

#include "engine/kernels/q8_0x8_tile.h"

void rx_kernels__grouped_q8_0_avx2(int64_t n, float *restrict s, int64_t ld_s,
                                   const void *restrict w, size_t ws, const void *restrict a,
                                   size_t as, int nr, int nt)
{
    grouped_entry(n, s, ld_s, w, ws, a, as, nr, nt);
}
