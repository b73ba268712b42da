/* AVX2+FMA+F16C kernels of the float types F32, F16 and BF16: conversions, dot products and
 * matmul tiles. Products are summed in float with FMA; the tail past a multiple of 8 goes
 * through the scalar conversions of core/fp16.h. */
#include "engine/kernels/internal.h"
#include "engine/kernels/simd_avx2.h"

#include "core/fp16.h"

static inline __m256 load_f32(const void *p, int64_t i)
{
    return _mm256_loadu_ps((const float *)p + i);
}

static inline __m256 load_f16(const void *p, int64_t i)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
}

static inline __m256 load_bf16(const void *p, int64_t i)
{
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static inline float get_f32(const void *p, int64_t i)
{
    return ((const float *)p)[i];
}
static inline float get_f16(const void *p, int64_t i)
{
    return rx_fp16_to_f32(((const uint16_t *)p)[i]);
}
static inline float get_bf16(const void *p, int64_t i)
{
    return rx_bf16_to_f32(((const uint16_t *)p)[i]);
}

void rx_kernels__f16_to_float_avx2(const void *restrict x, float *restrict y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, load_f16(x, i));
    for (; i < n; i++)
        y[i] = get_f16(x, i);
}

void rx_kernels__f16_from_float_avx2(const float *restrict x, void *restrict y, int64_t n)
{
    uint16_t *h = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i v = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(h + i), v);
    }
    for (; i < n; i++)
        h[i] = rx_f32_to_fp16(x[i]);
}

/* Round to nearest even by adding 0x7fff plus the lowest kept bit; NaNs are made quiet
 * instead, so rounding cannot carry them into infinity. */
static inline __m128i f32_to_bf16_8(__m256 f)
{
    __m256i u = _mm256_castps_si256(f);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
    __m256 nan = _mm256_cmp_ps(f, f, _CMP_UNORD_Q);
    r = _mm256_blendv_epi8(r, q, _mm256_castps_si256(nan));
    __m256i packed = _mm256_packus_epi32(r, r); /* per lane: 4 results twice */
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

void rx_kernels__bf16_from_float_avx2(const float *restrict x, void *restrict y, int64_t n)
{
    uint16_t *h = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128((__m128i *)(h + i), f32_to_bf16_8(_mm256_loadu_ps(x + i)));
    }
    for (; i < n; i++)
        h[i] = rx_f32_to_bf16(x[i]);
}

typedef __m256 (*load8_fn)(const void *p, int64_t i);
typedef float (*get1_fn)(const void *p, int64_t i);

/* An nr x nt block of dot products over rows of one float type. Forced inline with constant
 * nr, nt and loaders, so the accumulators live in registers and the loops unroll. */
static inline __attribute__((always_inline)) void
tile_float(int64_t n, float *restrict s, int64_t ld_s, const char *restrict w, size_t ws,
           const char *restrict a, size_t as, const int nr, const int nt, load8_fn load,
           get1_fn get, const size_t esize)
{
    __m256 acc[RX_TILE_ROWS][2];
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) {
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm256_setzero_ps();
    }
    /* sweep the next panel (the nr rows after these) at the pace this one is read: the
     * hardware prefetcher alone leaves DRAM bandwidth unused */
    const size_t step = (size_t)nr * 8 * esize;
    const char *ahead = w + (size_t)nr * ws;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const char *pf = ahead + (size_t)(i / 8) * step;
#pragma GCC unroll 4
        for (size_t off = 0; off < step; off += 64)
            _mm_prefetch(pf + off, _MM_HINT_T0);
        __m256 av[2];
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++)
            av[t] = load(a + t * as, i);
#pragma GCC unroll 4
        for (int r = 0; r < nr; r++) {
            __m256 wv = load(w + r * ws, i);
#pragma GCC unroll 2
            for (int t = 0; t < nt; t++)
                acc[r][t] = _mm256_fmadd_ps(wv, av[t], acc[r][t]);
        }
    }
    for (int r = 0; r < nr; r++) {
        for (int t = 0; t < nt; t++) {
            float sum = rx_hsum_ps(acc[r][t]);
            for (int64_t k = i; k < n; k++)
                sum += get(w + r * ws, k) * get(a + t * as, k);
            s[t * ld_s + r] = sum;
        }
    }
}

/* Walks an nr x nt request in 4x2 pieces (rows x tokens), the largest that fits the 16
 * vector registers. */
static inline __attribute__((always_inline)) void
tile_walk(int64_t n, float *restrict s, int64_t ld_s, const char *restrict w, size_t ws,
          const char *restrict a, size_t as, int nr, int nt, load8_fn load, get1_fn get,
          const size_t esize)
{
    for (int t = 0; t < nt; t += 2) {
        const char *at = a + (size_t)t * as;
        float *st = s + t * ld_s;
        if (nr == 4 && nt - t >= 2) {
            tile_float(n, st, ld_s, w, ws, at, as, 4, 2, load, get, esize);
        } else if (nr == 4) {
            tile_float(n, st, ld_s, w, ws, at, as, 4, 1, load, get, esize);
        } else {
            for (int r = 0; r < nr; r++) {
                if (nt - t >= 2) {
                    tile_float(n, st + r, ld_s, w + r * ws, ws, at, as, 1, 2, load, get, esize);
                } else {
                    tile_float(n, st + r, ld_s, w + r * ws, ws, at, as, 1, 1, load, get, esize);
                }
            }
        }
    }
}

void rx_kernels__dot_f32_avx2(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y);

void rx_kernels__tile_f32_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    tile_walk(n, s, ld_s, w, ws, a, as, nr, nt, load_f32, get_f32, 4);
}

void rx_kernels__tile_f16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    tile_walk(n, s, ld_s, w, ws, a, as, nr, nt, load_f16, get_f16, 2);
}

void rx_kernels__tile_bf16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    tile_walk(n, s, ld_s, w, ws, a, as, nr, nt, load_bf16, get_bf16, 2);
}

/* A single dot product with four independent accumulators to hide FMA latency. */
static inline __attribute__((always_inline)) float
dot_float(int64_t n, const void *x, const void *y, load8_fn load, get1_fn get)
{
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            acc[k] = _mm256_fmadd_ps(load(x, i + 8 * k), load(y, i + 8 * k), acc[k]);
        }
    }
    for (; i + 8 <= n; i += 8)
        acc[0] = _mm256_fmadd_ps(load(x, i), load(y, i), acc[0]);
    float sum =
        rx_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++)
        sum += get(x, i) * get(y, i);
    return sum;
}

void rx_kernels__dot_f32_avx2(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y)
{
    *s = dot_float(n, x, y, load_f32, get_f32);
}

void rx_kernels__dot_f16_avx2(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y)
{
    *s = dot_float(n, x, y, load_f16, get_f16);
}

void rx_kernels__dot_bf16_avx2(int64_t n, float *restrict s, const void *restrict x,
                               const void *restrict y)
{
    *s = dot_float(n, x, y, load_bf16, get_bf16);
}
