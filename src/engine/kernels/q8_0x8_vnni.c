/* The q8_0x8 tile with AVX-VNNI (see q8_0x8_tile.h): vpdpbusd multiplies the unsigned codes
 * q + 128 by the signed activations and adds four products into each row's lane, starting
 * from -128 * sum(y), which takes the offset back off: the exact sum of q * y in one
 * instruction. */
#include <immintrin.h>

static inline __attribute__((always_inline)) __m256i chunk_dot(__m256i u, __m256i y4,
                                                               __m256i corr)
{
    return _mm256_dpbusd_avx_epi32(corr, u, y4);
}

#include "engine/kernels/q8_0x8_tile.h"

void rx_kernels__grouped_q8_0_vnni(int64_t n, float *restrict s, int64_t ld_s,
                                   const void *restrict w, size_t ws, const void *restrict a,
                                   size_t as, int nr, int nt)
{
    grouped_entry(n, s, ld_s, w, ws, a, as, nr, nt);
}
