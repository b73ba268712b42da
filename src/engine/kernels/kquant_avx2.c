/* AVX2 dot products of the K types (Q4_K, Q6_K) with Q8_K activations, one 256-element
 * super-block at a time: integer products scaled per sub-block in int32, the min / offset
 * terms taken from the activation's precomputed 16-element sums (bsums). */
#include "engine/kernels/internal.h"
#include "engine/kernels/simd_avx2.h"

#include <stdbool.h>

#include "core/fp16.h"

/* The eight 6-bit scales and mins of a q4_K block. */
static inline void q4_K_scales(const rx_block_q4_K *b, uint8_t sc[8], uint8_t m[8])
{
    for (int j = 0; j < 8; j++)
        rx_q4k_scale_min(j, b->scales, &sc[j], &m[j]);
}

/* Sum over the super-block of code*activation, each 32-element sub-block times its scale. */
static inline __m256i q4_K_block_isum(const rx_block_q4_K *x, const int8_t *q8, const uint8_t sc[8])
{
    __m256i sum = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        __m256i q4 = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
        __m256i lo = _mm256_and_si256(q4, _mm256_set1_epi8(0xF));
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), _mm256_set1_epi8(0xF));
        __m256i ylo = _mm256_loadu_si256((const __m256i *)(q8 + 64 * c));
        __m256i yhi = _mm256_loadu_si256((const __m256i *)(q8 + 64 * c + 32));
        __m256i plo =
            _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo), _mm256_set1_epi16(sc[2 * c]));
        __m256i phi =
            _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi), _mm256_set1_epi16(sc[2 * c + 1]));
        sum = _mm256_add_epi32(sum, _mm256_add_epi32(plo, phi));
    }
    return sum;
}

/* Two int16 scale lanes for a 32-element run: the low 8 lanes of a maddubs result come from
 * elements 0..15 (scale s0), the high 8 from 16..31 (scale s1). */
static inline __m256i scale_pair(int8_t s0, int8_t s1)
{
    return _mm256_set_m128i(_mm_set1_epi16(s1), _mm_set1_epi16(s0));
}

/* One 128-element half of a q6_K block: codes kept unsigned (0..63), offset 32 applied later. */
static inline __m256i q6_K_half_isum(const uint8_t *ql, const uint8_t *qh, const int8_t *sc,
                                     const int8_t *q8)
{
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
    __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
    __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    __m256i q[4];
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));
    __m256i sum = _mm256_setzero_si256();
    for (int k = 0; k < 4; k++) {
        __m256i yk = _mm256_loadu_si256((const __m256i *)(q8 + 32 * k));
        __m256i p = _mm256_maddubs_epi16(q[k], yk);
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, scale_pair(sc[2 * k], sc[2 * k + 1])));
    }
    return sum;
}

/* q6_K block times q8_K block, before the scale d: codes are unsigned 0..63, so the offset
 * 32 * sum over groups of scale * (sum of the group's activations) comes off afterwards. */
static inline __m256i q6_K_block_isum(const rx_block_q6_K *x, const rx_block_q8_K *y)
{
    __m256i isum =
        _mm256_add_epi32(q6_K_half_isum(x->ql, x->qh, x->scales, y->qs),
                         q6_K_half_isum(x->ql + 64, x->qh + 32, x->scales + 8, y->qs + 128));
    __m128i bs_lo = _mm_loadu_si128((const __m128i *)y->bsums);
    __m128i bs_hi = _mm_loadu_si128((const __m128i *)(y->bsums + 8));
    __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
    __m256i off = _mm256_madd_epi16(_mm256_set_m128i(bs_hi, bs_lo), sc16);
    return _mm256_sub_epi32(isum, _mm256_slli_epi32(off, 5));
}

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* nr x nt dot products of K-type rows (q6 selects Q6_K, else Q4_K) over nb super-blocks,
 * sweeping a prefetch over the next panel as q_avx2.c does. */
static ALWAYS_INLINE void tile_k(int64_t nb, float *restrict s, int64_t ld_s,
                                 const char *restrict w, size_t ws, const char *restrict a,
                                 size_t as, const int nr, const int nt, const bool q6)
{
    __m256 acc[RX_TILE_ROWS][2];
    float mins[RX_TILE_ROWS][2];
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) {
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm256_setzero_ps(), mins[r][t] = 0;
    }
    const size_t bb = q6 ? sizeof(rx_block_q6_K) : sizeof(rx_block_q4_K);
    const char *ahead = w + (size_t)nr * ws;
    for (int64_t i = 0; i < nb; i++) {
        const char *pf = ahead + (size_t)i * nr * bb;
        for (size_t off = 0; off <= nr * bb; off += 64)
            _mm_prefetch(pf + off, _MM_HINT_T0);
#pragma GCC unroll 4
        for (int r = 0; r < nr; r++) {
            const char *xb = w + r * ws + (size_t)i * bb;
            if (q6) {
                const rx_block_q6_K *x = (const rx_block_q6_K *)xb;
                float dx = rx_half_to_float(x->d);
#pragma GCC unroll 2
                for (int t = 0; t < nt; t++) {
                    const rx_block_q8_K *y = (const rx_block_q8_K *)(a + t * as) + i;
                    __m256 d = _mm256_set1_ps(dx * y->d);
                    acc[r][t] =
                        _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(q6_K_block_isum(x, y)), acc[r][t]);
                }
            } else {
                const rx_block_q4_K *x = (const rx_block_q4_K *)xb;
                uint8_t sc[8], m[8];
                q4_K_scales(x, sc, m);
                float dx = rx_half_to_float(x->d), mx = rx_half_to_float(x->dmin);
#pragma GCC unroll 2
                for (int t = 0; t < nt; t++) {
                    const rx_block_q8_K *y = (const rx_block_q8_K *)(a + t * as) + i;
                    int32_t msum = 0;
                    for (int j = 0; j < 8; j++)
                        msum += m[j] * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
                    __m256 d = _mm256_set1_ps(dx * y->d);
                    acc[r][t] = _mm256_fmadd_ps(
                        d, _mm256_cvtepi32_ps(q4_K_block_isum(x, y->qs, sc)), acc[r][t]);
                    mins[r][t] += mx * y->d * (float)msum;
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) {
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++)
            s[t * ld_s + r] = rx_hsum_ps(acc[r][t]) - mins[r][t];
    }
}

/* Walks an nr x nt request in 4x2 pieces (rows x tokens). */
static ALWAYS_INLINE void tile_walk(int64_t n, float *restrict s, int64_t ld_s,
                                    const void *restrict w, size_t ws, const void *restrict a,
                                    size_t as, int nr, int nt, const bool q6)
{
    const int64_t nb = n / RX_QK_K;
    const char *wc = w, *ac = a;
    for (int t = 0; t < nt; t += 2) {
        const char *at = ac + (size_t)t * as;
        float *st = s + t * ld_s;
        if (nr == 4 && nt - t >= 2) {
            tile_k(nb, st, ld_s, wc, ws, at, as, 4, 2, q6);
        } else if (nr == 4) {
            tile_k(nb, st, ld_s, wc, ws, at, as, 4, 1, q6);
        } else {
            for (int r = 0; r < nr; r++) {
                if (nt - t >= 2) {
                    tile_k(nb, st + r, ld_s, wc + r * ws, ws, at, as, 1, 2, q6);
                } else {
                    tile_k(nb, st + r, ld_s, wc + r * ws, ws, at, as, 1, 1, q6);
                }
            }
        }
    }
}

void rx_kernels__tile_q4_K_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    tile_walk(n, s, ld_s, w, ws, a, as, nr, nt, false);
}

void rx_kernels__tile_q6_K_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    tile_walk(n, s, ld_s, w, ws, a, as, nr, nt, true);
}

void rx_kernels__dot_q4_K_q8_K_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y)
{
    tile_k(n / RX_QK_K, s, 1, x, 0, y, 0, 1, 1, false);
}

void rx_kernels__dot_q6_K_q8_K_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y)
{
    tile_k(n / RX_QK_K, s, 1, x, 0, y, 0, 1, 1, true);
}

/* Q8_K activations, the same numbers as the scalar quantizer: vector search for the absolute
 * maximum, codes by round-to-nearest-even (which is what ggml's nearest_int computes). */
void rx_kernels__q8_K_from_float_avx2(const float *restrict x, void *restrict y, int64_t n)
{
    rx_block_q8_K *b = y;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / RX_QK_K; i++, x += RX_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < RX_QK_K; j += 8)
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
        if (amax == 0) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        float max = 0;
        for (int j = 0; j < RX_QK_K; j++) {
            if (x[j] == amax || x[j] == -amax) {
                max = x[j]; /* the first element of largest magnitude sets the sign */
                break;
            }
        }
        float iscale = -127.f / max;
        __m256 vs = _mm256_set1_ps(iscale);
        for (int j = 0; j < RX_QK_K; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), vs);
                v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(127));
            }
            __m256i ab = _mm256_packs_epi32(q[0], q[1]), cd = _mm256_packs_epi32(q[2], q[3]);
            __m256i v8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd),
                                                     _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(b[i].qs + j), v8);
        }
        for (int g = 0; g < RX_QK_K / 16; g++) {
            __m128i q16 = _mm_loadu_si128((const __m128i *)(b[i].qs + 16 * g));
            __m128i s16 =
                _mm_madd_epi16(_mm_maddubs_epi16(_mm_set1_epi8(1), q16), _mm_set1_epi16(1));
            s16 = _mm_hadd_epi32(s16, s16);
            s16 = _mm_hadd_epi32(s16, s16);
            b[i].bsums[g] = (int16_t)_mm_cvtsi128_si32(s16);
        }
        b[i].d = 1 / iscale;
    }
}
