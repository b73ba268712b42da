/* AVX2+FMA(+F16C) single-token matmul over F32 or F16 rows in ggml_vec_dot_f32's / _f16's order
 * (four 8-lane FMA accumulators per row, folded (0+2) + (1+3), then lane i + lane i+4 and two
 * horizontal adds; F16 products of two halves are exact, so the FMA rounds as ggml's does).
 * Eight rows at a time share that last fold: their vectors are paired into 256-bit registers,
 * so three horizontal adds finish eight rows instead of two per row, and rows go in pairs that
 * share the activation loads; small matrices are dominated by this overhead. Bit-identical to
 * vec_dot row by row (convert_ref.c). */
#include "engine/kernels/internal.h"
#include "engine/kernels/simd_avx2.h"

/* Bands of rows from this size on are read with software prefetch (see rows8). */
#define PREFETCH_BYTES (1 << 20)

/* ggml's (0+2) + (1+3) of one row's four accumulators. */
static inline __m256 fold4(const __m256 acc[4])
{
    return _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
}

/* Eight elements from i on, as floats: F32 or F16 (f16). */
static inline __attribute__((always_inline)) __m256 load8(const void *p, int64_t i, const bool f16)
{
    if (f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
    return _mm256_loadu_ps((const float *)p + i);
}

/* The folded sums of rows w and w + ws over [0, np), np a multiple of 32, each row's lane i
 * plus lane i+4 (the first step of the horizontal sum): [row 0's 4 lanes | row 1's 4 lanes].
 * The two rows share each load of a. */
static inline __attribute__((always_inline)) __m256 pair(int64_t np, const char *w, size_t ws,
                                                         const void *a, const bool pf,
                                                         const bool f16)
{
    const void *w0 = w, *w1 = w + ws;
    const size_t es = f16 ? 2 : 4; /* element size */
    __m256 acc0[4], acc1[4];
    #pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        acc0[k] = acc1[k] = _mm256_setzero_ps();
    #pragma GCC unroll 2
    for (int64_t i = 0; i < np; i += 32) {
        if (pf) { /* the same columns of the rows eight on, at the pace these are read */
            const char *ahead = w + 8 * ws + (size_t)i * es;
            _mm_prefetch(ahead, _MM_HINT_T0);
            _mm_prefetch(ahead + 64, _MM_HINT_T0);
            _mm_prefetch(ahead + ws, _MM_HINT_T0);
            _mm_prefetch(ahead + ws + 64, _MM_HINT_T0);
        }
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const __m256 av = load8(a, i + 8 * k, f16);
            acc0[k] = _mm256_fmadd_ps(load8(w0, i + 8 * k, f16), av, acc0[k]);
            acc1[k] = _mm256_fmadd_ps(load8(w1, i + 8 * k, f16), av, acc1[k]);
        }
    }
    const __m256 x0 = fold4(acc0), x1 = fold4(acc1);
    return _mm256_add_ps(_mm256_permute2f128_ps(x0, x1, 0x20), _mm256_permute2f128_ps(x0, x1, 0x31));
}

/* Eight rows' sums over [0, np) in lanes 0..7, reduce_4x8's adds: per row t_i = x_i + x_{i+4}
 * (pair), then (t0 + t1) + (t2 + t3) through two horizontal adds shared by all eight. */
static inline __attribute__((always_inline)) __m256 sums8(int64_t np, const char *w, size_t ws,
                                                          const void *a, const bool pf,
                                                          const bool f16)
{
    __m256 t[4];
    #pragma GCC unroll 4
    for (int p = 0; p < 4; p++)
        t[p] = pair(np, w + (size_t)(2 * p) * ws, ws, a, pf, f16);
    /* lanes: rows 0 0 2 2 | 1 1 3 3, and 4 4 6 6 | 5 5 7 7 */
    const __m256 h0 = _mm256_hadd_ps(t[0], t[1]), h1 = _mm256_hadd_ps(t[2], t[3]);
    /* rows 0 2 4 6 | 1 3 5 7 */
    const __m256 h = _mm256_hadd_ps(h0, h1);
    return _mm256_permutevar8x32_ps(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* ggml_vec_dot_f16's part of a row past np: the folded sum goes to double, and each exact
 * product of two halves is added there. */
static float dot_f16_tail(float sum, int64_t np, int64_t n, const uint16_t *x, const uint16_t *y)
{
    double d = sum;
    for (int64_t i = np; i < n; i++)
        d += (double)(rx_half_to_float(x[i]) * rx_half_to_float(y[i]));
    return (float)d;
}

/* s[0..7] for rows w, w + ws, ...; rows of 64 (common in small models) fully unrolled; pf:
 * prefetch ahead, for matrices beyond the caches, where the hardware prefetcher alone leaves
 * memory bandwidth unused (as in float_avx2.c's tiles). */
static inline __attribute__((always_inline)) void rows8(int64_t n, float *restrict s,
                                                        const char *w, size_t ws, const void *a,
                                                        bool pf, const bool f16)
{
    const int64_t np = n & ~(int64_t)31;
    __m256 sum;
    if (pf) {
        sum = sums8(np, w, ws, a, true, f16);
    } else {
        sum = np == 64 ? sums8(64, w, ws, a, false, f16) : sums8(np, w, ws, a, false, f16);
    }
    if (np == n) { /* (float)(double)sum is sum: no F16 tail either */
        _mm256_storeu_ps(s, sum);
        return;
    }
    float folded[8];
    _mm256_storeu_ps(folded, sum);
    for (int r = 0; r < 8; r++) {
        const char *row = w + (size_t)r * ws;
        s[r] = f16 ? dot_f16_tail(folded[r], np, n, (const uint16_t *)row, a)
                   : rx_dot_f32_tail(folded[r], np, n, (const float *)row, a);
    }
}

/* nr rows: eights through rows8, the rest through the type's vec_dot-order tile. */
static inline __attribute__((always_inline)) void gemv(int64_t n, float *restrict s,
                                                       const char *w, size_t ws, const void *a,
                                                       int64_t nr, const bool f16)
{
    int64_t r = 0;
    const bool pf = (size_t)nr * ws >= PREFETCH_BYTES;
    for (; r + 8 <= nr; r += 8)
        rows8(n, s + r, w + (size_t)r * ws, ws, a, pf, f16);
    const rx_tile_fn tile = f16 ? rx_kernels__tile_f16_avx2 : rx_kernels__tile_f32_avx2;
    for (; r < nr; r += RX_TILE_ROWS) {
        const int m = (int)(nr - r < RX_TILE_ROWS ? nr - r : RX_TILE_ROWS);
        tile(n, s + r, 1, w + (size_t)r * ws, ws, a, 0, m, 1);
    }
}

void rx_kernels__gemv_f32_avx2(int64_t n, float *restrict s, const void *restrict w, size_t ws,
                               const void *restrict a, int64_t nr)
{
    gemv(n, s, w, ws, a, nr, false);
}

void rx_kernels__gemv_f16_avx2(int64_t n, float *restrict s, const void *restrict w, size_t ws,
                               const void *restrict a, int64_t nr)
{
    gemv(n, s, w, ws, a, nr, true);
}
