/* Small AVX2 helpers shared by the *_avx2.c kernel files; only those files (compiled with
 * -mavx2 -mfma -mf16c) may include this header. */
#ifndef RX_ENGINE_KERNELS_SIMD_AVX2_H
#define RX_ENGINE_KERNELS_SIMD_AVX2_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Sum of the 8 lanes. */
static inline float rx_hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ggml_vec_dot_f32's part of a row past np (its last multiple of 32), added to the folded sum
 * `sum`: plain multiply-adds in groups of four, then fused ones, as GCC compiled its leftover
 * loop; the products eight at a time (a vector multiply rounds each as the scalar code does). */
static inline float rx_dot_f32_tail(float sum, int64_t np, int64_t n, const float *x,
                                    const float *y)
{
    const int64_t plain_end = np + ((n - np) & ~(int64_t)3);
    float p[8];
    int64_t i = np;
    for (; i + 8 <= plain_end; i += 8) {
        _mm256_storeu_ps(p, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        for (int l = 0; l < 8; l++)
            sum += p[l];
    }
    for (; i < plain_end; i++)
        sum += x[i] * y[i];
    for (; i < n; i++)
        sum = fmaf(x[i], y[i], sum);
    return sum;
}

/* One fp16 value to float through F16C (no lookup table to pollute the cache). */
static inline float rx_half_to_float(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/* 16 bytes of packed nibbles to 32 bytes: low nibbles in the low lane (elements 0..15), high
 * nibbles in the high lane (elements 16..31), the q4_0 element order. */
static inline __m256i rx_nibbles_to_bytes(const uint8_t *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0xF));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0xF));
    return _mm256_set_m128i(hi, lo);
}

/* Bit j of the 32-bit word at p becomes byte j: 0xFF when set, 0 when clear. */
static inline __m256i rx_bits_to_bytes(const uint8_t *p)
{
    uint32_t bits;
    memcpy(&bits, p, 4);
    const __m256i spread = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                             0x0101010101010101, 0x0000000000000000);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* Sum of unsigned bytes u times signed bytes s, in 8 int32 lanes (no saturation while u < 128). */
static inline __m256i rx_dot_u8s8(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* Sum of signed bytes a times signed bytes b, in 8 int32 lanes: the sign of a moves onto b so
 * maddubs (unsigned x signed) applies. Neither input may hold -128. */
static inline __m256i rx_dot_s8s8(__m256i a, __m256i b)
{
    return rx_dot_u8s8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

#endif
