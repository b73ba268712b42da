/* AVX2+FMA+F16C attention kernels, bit-identical to attn_ref.c (which says whose orders they
 * follow). Small heads make the per-row dot products too short for vectors along a row, so
 * K·q below 32 elements puts eight positions in the lanes (rows transposed in registers), each
 * lane summing its own row in element order; V·p keeps eight slot accumulators in registers
 * per eight columns, each slot still adding its positions in order. */
#include "engine/kernels/internal.h"
#include "engine/kernels/simd_avx2.h"

/* --- K·q ---------------------------------------------------------------------------------- */

/* Rows p[0..7] from element c: col[e] = element c + e of each row, as floats. */
typedef void (*transpose8_fn)(const char *const p[8], int64_t c, __m256 col[8]);

static inline void transpose8_f16(const char *const p[8], int64_t c, __m256 col[8])
{
    __m128i r[8], a[8], b[8];
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        r[i] = _mm_loadu_si128((const __m128i *)(p[i] + 2 * c));
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) { /* rows i, i+1 interleaved: elements 0-3, then 4-7 */
        a[i] = _mm_unpacklo_epi16(r[i], r[i + 1]);
        a[i + 1] = _mm_unpackhi_epi16(r[i], r[i + 1]);
    }
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) { /* rows i..i+3: elements (0,1) (2,3) (4,5) (6,7) */
        b[i] = _mm_unpacklo_epi32(a[i], a[i + 2]);
        b[i + 1] = _mm_unpackhi_epi32(a[i], a[i + 2]);
        b[i + 2] = _mm_unpacklo_epi32(a[i + 1], a[i + 3]);
        b[i + 3] = _mm_unpackhi_epi32(a[i + 1], a[i + 3]);
    }
    #pragma GCC unroll 8
    for (int e = 0; e < 4; e++) {
        col[2 * e] = _mm256_cvtph_ps(_mm_unpacklo_epi64(b[e], b[e + 4]));
        col[2 * e + 1] = _mm256_cvtph_ps(_mm_unpackhi_epi64(b[e], b[e + 4]));
    }
}

static inline void transpose8_f32(const char *const p[8], int64_t c, __m256 col[8])
{
    __m256 r[8], t[8], u[8];
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps((const float *)p[i] + c);
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) { /* rows i, i+1 interleaved: elements 0,1 | 4,5 and 2,3 | 6,7 */
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) { /* rows i..i+3: elements 0|4, 1|5, 2|6, 3|7 */
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    #pragma GCC unroll 8
    for (int e = 0; e < 4; e++) {
        col[e] = _mm256_permute2f128_ps(u[e], u[e + 4], 0x20);
        col[e + 4] = _mm256_permute2f128_ps(u[e], u[e + 4], 0x31);
    }
}

enum order {
    DOT_F16,  /* vec_dot_f16 below 32 elements: exact products added in double, in order */
    DOT_F32,  /* vec_dot_f32 below 32 elements, hd % 4 == 0: products rounded, added in order */
    GEMM,     /* tinyBLAS: element e in accumulator e % 8 (exact or fused), then hsum_float_8 */
};

/* s[0..7] = dot(row r, q) for the eight rows p[r] (hd % 8 == 0, hd < 32); q as floats. */
static inline __attribute__((always_inline)) void scores8(int64_t hd, float *s,
                                                          const char *const p[8], const float *q,
                                                          transpose8_fn load, enum order o)
{
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    __m256 acc[8];
    #pragma GCC unroll 8
    for (int e = 0; e < 8; e++)
        acc[e] = _mm256_setzero_ps();
    for (int64_t c = 0; c < hd; c += 8) {
        __m256 col[8];
        load(p, c, col);
        #pragma GCC unroll 8
        for (int e = 0; e < 8; e++) {
            const __m256 qe = _mm256_set1_ps(q[c + e]);
            if (o == GEMM) {
                acc[e] = _mm256_fmadd_ps(col[e], qe, acc[e]);
            } else if (o == DOT_F32) {
                acc[0] = _mm256_add_ps(acc[0], _mm256_mul_ps(col[e], qe));
            } else {
                const __m256 prod = _mm256_mul_ps(col[e], qe);
                lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(prod)));
                hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(prod, 1)));
            }
        }
    }
    __m256 r = acc[0];
    if (o == GEMM) {
        __m256 t[4];
        #pragma GCC unroll 8
        for (int k = 0; k < 4; k++)
            t[k] = _mm256_add_ps(acc[k], acc[k + 4]);
        r = _mm256_add_ps(_mm256_add_ps(t[0], t[2]), _mm256_add_ps(t[1], t[3]));
    } else if (o == DOT_F16) {
        r = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
    }
    _mm256_storeu_ps(s, r);
}

/* All n rows eight at a time; the last group padded with rows of zeros. */
static inline __attribute__((always_inline)) void
scores_lanes(int64_t hd, int64_t n, float *restrict s, const char *k, size_t stride,
             const float *q, transpose8_fn load, enum order o)
{
    static const float zeros[32]; /* one row below 32 elements of either type */
    const char *p[8];
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        #pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
            p[r] = k + (size_t)(j + r) * stride;
        scores8(hd, s + j, p, q, load, o);
    }
    if (j < n) {
        float t[8];
        #pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
            p[r] = j + r < n ? k + (size_t)(j + r) * stride : (const char *)zeros;
        scores8(hd, t, p, q, load, o);
        memcpy(s + j, t, (size_t)(n - j) * sizeof *t);
    }
}

/* The same with hd a constant where it is common, so that the loop over columns unrolls. */
static inline __attribute__((always_inline)) void
scores_small(int64_t hd, int64_t n, float *restrict s, const char *k, size_t stride,
             const float *q, transpose8_fn load, enum order o)
{
    if (hd == 8) {
        scores_lanes(8, n, s, k, stride, q, load, o);
    } else if (hd == 16) {
        scores_lanes(16, n, s, k, stride, q, load, o);
    } else {
        scores_lanes(hd, n, s, k, stride, q, load, o);
    }
}

/* Longer rows: the type's tiles, which vectorise along the row, four rows a call. */
static void scores_tiles(rx_tile_fn tile, int64_t hd, int64_t n, float *restrict s,
                         const char *k, size_t stride, const void *q)
{
    for (int64_t j = 0; j < n; j += RX_TILE_ROWS) {
        const int nr = (int)(n - j < RX_TILE_ROWS ? n - j : RX_TILE_ROWS);
        tile(hd, s + j, 1, k + (size_t)j * stride, stride, q, 0, nr, 1);
    }
}

void rx_kernels__att_scores_f32_avx2(int64_t hd, int64_t n, float *restrict s,
                                     const void *restrict k, size_t stride,
                                     const void *restrict q, bool gemm)
{
    if (hd % 8 == 0 && hd < 32) {
        if (gemm) {
            scores_small(hd, n, s, k, stride, q, transpose8_f32, GEMM);
        } else {
            scores_small(hd, n, s, k, stride, q, transpose8_f32, DOT_F32);
        }
    } else {
        scores_tiles(gemm ? rx_kernels__gemm_f32_avx2 : rx_kernels__tile_f32_avx2, hd, n, s, k,
                     stride, q);
    }
}

void rx_kernels__att_scores_f16_avx2(int64_t hd, int64_t n, float *restrict s,
                                     const void *restrict k, size_t stride,
                                     const void *restrict q, bool gemm)
{
    if (hd % 8 == 0 && hd < 32) {
        float qf[32];
        rx_kernels__f16_to_float_avx2(q, qf, hd);
        if (gemm) {
            scores_small(hd, n, s, k, stride, qf, transpose8_f16, GEMM);
        } else {
            scores_small(hd, n, s, k, stride, qf, transpose8_f16, DOT_F16);
        }
    } else {
        scores_tiles(gemm ? rx_kernels__gemm_f16_avx2 : rx_kernels__tile_f16_avx2, hd, n, s, k,
                     stride, q);
    }
}

void rx_kernels__att_scores_q8_0_avx2(int64_t hd, int64_t n, float *restrict s,
                                      const void *restrict k, size_t stride,
                                      const void *restrict q, bool gemm)
{
    (void)gemm; /* Q8_0 has no tinyBLAS path */
    scores_tiles(rx_kernels__tile_q8_0_avx2, hd, n, s, k, stride, q);
}

/* --- V·p ---------------------------------------------------------------------------------- */

/* Eight elements of a row at p, as floats. */
typedef __m256 (*load8_fn)(const char *p);

static inline __m256 load8_f16(const char *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load8_f32(const char *p)
{
    return _mm256_loadu_ps((const float *)p);
}

/* Weights w[0..7] as the cache type multiplies them (see attn_ref.c). */
static inline __m256 weights8(const float *w, bool half)
{
    const __m256 x = _mm256_loadu_ps(w);
    return half ? _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)) : x;
}

/* acc[s] = slot g + s over eight columns at v: positions g + s, g + s + slots, ... below n,
 * in order. An FMA is exact-product-plus-one-rounding, as the reference's F16 multiply-add. */
static inline __attribute__((always_inline)) void slot_group(int64_t n, const char *v,
                                                             size_t stride, const float *w,
                                                             int slots, int g, load8_fn load,
                                                             bool half, __m256 acc[8])
{
    #pragma GCC unroll 8
    for (int s = 0; s < 8; s++)
        acc[s] = _mm256_setzero_ps();
    int64_t j = g;
    float wr[8];
    for (; j + 8 <= n; j += slots) {
        _mm256_storeu_ps(wr, weights8(w + j, half));
        #pragma GCC unroll 8
        for (int s = 0; s < 8; s++) {
            const __m256 x = load(v + (size_t)(j + s) * stride);
            acc[s] = _mm256_fmadd_ps(x, _mm256_broadcast_ss(&wr[s]), acc[s]);
        }
    }
    if (j < n) {
        const int m = (int)(n - j);
        float pad[8] = {0};
        memcpy(pad, w + j, (size_t)m * sizeof *pad);
        _mm256_storeu_ps(wr, weights8(pad, half));
        for (int s = 0; s < m; s++) {
            const __m256 x = load(v + (size_t)(j + s) * stride);
            acc[s] = _mm256_fmadd_ps(x, _mm256_broadcast_ss(&wr[s]), acc[s]);
        }
    }
}

/* hd % 8 == 0: eight columns at a time, their slots folded as attn_ref.c's fold. */
static inline __attribute__((always_inline)) void
values_cols(int64_t hd, int64_t n, float *restrict out, const char *v, size_t stride,
            const float *w, int slots, load8_fn load, size_t esize, bool half)
{
    for (int64_t c = 0; c < hd; c += 8) {
        __m256 a[32], t[4], r;
        for (int g = 0; g < slots; g += 8)
            slot_group(n, v + (size_t)c * esize, stride, w, slots, g, load, half, &a[g]);
        if (slots == 8) {
            #pragma GCC unroll 8
            for (int k = 0; k < 4; k++)
                t[k] = _mm256_add_ps(a[k], a[k + 4]);
            r = _mm256_add_ps(_mm256_add_ps(t[0], t[2]), _mm256_add_ps(t[1], t[3]));
        } else {
            __m256 x[8];
            #pragma GCC unroll 8
            for (int l = 0; l < 8; l++) {
                x[l] = _mm256_add_ps(_mm256_add_ps(a[l], a[16 + l]),
                                     _mm256_add_ps(a[8 + l], a[24 + l]));
            }
            #pragma GCC unroll 8
            for (int k = 0; k < 4; k++)
                t[k] = _mm256_add_ps(x[k], x[k + 4]);
            r = _mm256_add_ps(_mm256_add_ps(t[0], t[1]), _mm256_add_ps(t[2], t[3]));
        }
        _mm256_storeu_ps(out + c, r);
    }
}

void rx_kernels__att_values_f32_avx2(int64_t hd, int64_t n, float *restrict out,
                                     const void *restrict v, size_t stride,
                                     const float *restrict w, int slots)
{
    if (hd % 8 != 0) {
        rx_kernels__att_values_f32_ref(hd, n, out, v, stride, w, slots);
        return;
    }
    values_cols(hd, n, out, v, stride, w, slots, load8_f32, sizeof(float), false);
}

void rx_kernels__att_values_f16_avx2(int64_t hd, int64_t n, float *restrict out,
                                     const void *restrict v, size_t stride,
                                     const float *restrict w, int slots)
{
    if (hd % 8 != 0) {
        rx_kernels__att_values_f16_ref(hd, n, out, v, stride, w, slots);
        return;
    }
    values_cols(hd, n, out, v, stride, w, slots, load8_f16, sizeof(uint16_t), true);
}
