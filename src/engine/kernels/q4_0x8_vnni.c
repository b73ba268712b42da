/* The q4_0x8 tile with AVX-VNNI (see q4_0x8_tile.h): vpdpbusd multiplies four unsigned codes
 * by four signed activations and adds them into a 32-bit lane in one instruction, where AVX2
 * needs maddubs, adds and madd. Two chains of four keep its latency hidden. */
#include <immintrin.h>

static inline __attribute__((always_inline)) __m256i group_dot(const __m256i c[8],
                                                               const __m256i y4[8])
{
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int k = 0; k < 8; k += 2) {
        a = _mm256_dpbusd_avx_epi32(a, c[k], y4[k]);
        b = _mm256_dpbusd_avx_epi32(b, c[k + 1], y4[k + 1]);
    }
    return _mm256_add_epi32(a, b);
}

#include "engine/kernels/q4_0x8_tile.h"

void rx_kernels__grouped_q4_0_vnni(int64_t n, float *restrict s, int64_t ld_s,
                                   const void *restrict w, size_t ws, const void *restrict a,
                                   size_t as, int nr, int nt)
{
    grouped_entry(n, s, ld_s, w, ws, a, as, nr, nt);
}
