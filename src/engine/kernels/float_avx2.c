/* AVX2+FMA+F16C kernels of the float types F32, F16 and BF16: conversions, and dot products
 * in llama.cpp's two orders (see kernels.h): ggml's vec_dot (single tokens; tile) and
 * llamafile's tinyBLAS (batches; gemm). Bit-identical to convert_ref.c. */
#include <math.h>

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
    return rx_half_to_float(((const uint16_t *)p)[i]);
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

enum ftype { FT_F32, FT_F16, FT_BF16 };

/* --- tinyBLAS order (batches): one accumulator per output, element i in lane i % 8 ---------- */

/* An nr x nt block of dot products over rows of one float type, n a multiple of 8. Forced
 * inline with constant nr, nt and loaders, so the accumulators live in registers and the loops
 * unroll. */
static inline __attribute__((always_inline)) void gemm_block(int64_t n, float *restrict s,
                                                             int64_t ld_s, const char *restrict w,
                                                             size_t ws, const char *restrict a,
                                                             size_t as, const int nr, const int nt,
                                                             load8_fn load, const size_t esize)
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
    for (int64_t i = 0; i + 8 <= n; i += 8) {
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
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) {
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++)
            s[t * ld_s + r] = rx_hsum_ps(acc[r][t]);
    }
}

/* Walks an nr x nt request in 4x2 pieces (rows x tokens), the largest that fits the 16
 * vector registers. */
static inline __attribute__((always_inline)) void
gemm_walk(int64_t n, float *restrict s, int64_t ld_s, const char *restrict w, size_t ws,
          const char *restrict a, size_t as, int nr, int nt, load8_fn load, const size_t esize)
{
    for (int t = 0; t < nt; t += 2) {
        const char *at = a + (size_t)t * as;
        float *st = s + t * ld_s;
        if (nr == 4 && nt - t >= 2) {
            gemm_block(n, st, ld_s, w, ws, at, as, 4, 2, load, esize);
        } else if (nr == 4) {
            gemm_block(n, st, ld_s, w, ws, at, as, 4, 1, load, esize);
        } else {
            for (int r = 0; r < nr; r++) {
                if (nt - t >= 2) {
                    gemm_block(n, st + r, ld_s, w + r * ws, ws, at, as, 1, 2, load, esize);
                } else {
                    gemm_block(n, st + r, ld_s, w + r * ws, ws, at, as, 1, 1, load, esize);
                }
            }
        }
    }
}

void rx_kernels__gemm_f32_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    gemm_walk(n, s, ld_s, w, ws, a, as, nr, nt, load_f32, 4);
}

void rx_kernels__gemm_f16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    gemm_walk(n, s, ld_s, w, ws, a, as, nr, nt, load_f16, 2);
}

void rx_kernels__gemm_bf16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    gemm_walk(n, s, ld_s, w, ws, a, as, nr, nt, load_bf16, 2);
}

/* --- ggml vec_dot order (single tokens): four accumulators per output ------------------------ */

/* ggml_vec_dot_f16/_f32's fold of acc[0..3]: (0+2) + (1+3), low half plus high, two hadds. */
static inline float reduce_4x8(const __m256 acc[4])
{
    __m256 x = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    t = _mm_hadd_ps(t, t);
    return _mm_cvtss_f32(_mm_hadd_ps(t, t));
}

/* ggml_vec_dot_bf16's fold: the same pairing of accumulators, then hsum_float_8. */
static inline float reduce_4x8_bf16(const __m256 acc[4])
{
    return rx_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3])));
}

/* The part of a row past the last multiple of 32, added to the folded sum as ggml does: F32 in
 * float (plain multiply-adds in groups of four, then fused ones, as GCC compiled it), F16 and
 * BF16 in double. */
static inline float finish(enum ftype ft, float folded, int64_t np, int64_t n, const void *x,
                           const void *y, load8_fn load, get1_fn get)
{
    if (ft == FT_F32) return rx_dot_f32_tail(folded, np, n, x, y);
    /* products eight at a time (a vector multiply rounds each one as the scalar code does),
     * then added one by one in ggml's order */
    float p[8];
    int64_t i = np;
    double sum = folded;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(p, _mm256_mul_ps(load(x, i), load(y, i)));
        for (int l = 0; l < 8; l++)
            sum += (double)p[l];
    }
    for (; i < n; i++)
        sum += (double)(get(x, i) * get(y, i));
    return (float)sum;
}

/* nr (1, 2 or 4) rows of w against one activation row, each with its own four accumulators;
 * pf_ahead: bytes from these rows to the ones to prefetch. */
static inline __attribute__((always_inline)) void
dot_rows(int64_t n, float *restrict s, const char *restrict w, size_t ws, const char *restrict a,
         const int nr, size_t pf_ahead, load8_fn load, get1_fn get, const size_t esize,
         enum ftype ft)
{
    __m256 acc[RX_TILE_ROWS][4];
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++)
        for (int k = 0; k < 4; k++)
            acc[r][k] = _mm256_setzero_ps();
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32) {
        /* sweep the rows pf_ahead bytes on (contiguous with these) at the pace these are read:
         * the hardware prefetcher alone leaves DRAM bandwidth unused */
        const char *pf = w + pf_ahead + (size_t)i * nr * esize;
#pragma GCC unroll 4
        for (size_t off = 0; off < (size_t)nr * 32 * esize; off += 64)
            _mm_prefetch(pf + off, _MM_HINT_T0);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m256 av = load(a, i + 8 * k);
#pragma GCC unroll 4
            for (int r = 0; r < nr; r++)
                acc[r][k] = _mm256_fmadd_ps(load(w + r * ws, i + 8 * k), av, acc[r][k]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) {
        float folded = ft == FT_BF16 ? reduce_4x8_bf16(acc[r]) : reduce_4x8(acc[r]);
        s[r] = finish(ft, folded, np, n, w + r * ws, a, load, get);
    }
}

/* vec_dot's order for an nr x nt request, a token at a time, prefetching the next panel. */
static inline __attribute__((always_inline)) void
dot_walk(int64_t n, float *restrict s, int64_t ld_s, const char *restrict w, size_t ws,
         const char *restrict a, size_t as, int nr, int nt, load8_fn load, get1_fn get,
         const size_t esize, enum ftype ft)
{
    const size_t ahead = (size_t)nr * ws;
    for (int t = 0; t < nt; t++) {
        const char *at = a + (size_t)t * as;
        float *st = s + t * ld_s;
        int r = 0;
        if (nr == 4) { /* 16 accumulators spill a little, still faster than two pairs */
            dot_rows(n, st, w, ws, at, 4, ahead, load, get, esize, ft);
            continue;
        }
        for (; r + 2 <= nr; r += 2)
            dot_rows(n, st + r, w + r * ws, ws, at, 2, ahead, load, get, esize, ft);
        if (r < nr) dot_rows(n, st + r, w + r * ws, ws, at, 1, ahead, load, get, esize, ft);
    }
}

void rx_kernels__tile_f32_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    dot_walk(n, s, ld_s, w, ws, a, as, nr, nt, load_f32, get_f32, 4, FT_F32);
}

void rx_kernels__tile_f16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    dot_walk(n, s, ld_s, w, ws, a, as, nr, nt, load_f16, get_f16, 2, FT_F16);
}

void rx_kernels__tile_bf16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    dot_walk(n, s, ld_s, w, ws, a, as, nr, nt, load_bf16, get_bf16, 2, FT_BF16);
}

void rx_kernels__dot_f32_avx2(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y)
{
    dot_rows(n, s, x, 0, y, 1, 0, load_f32, get_f32, 4, FT_F32);
}

void rx_kernels__dot_f16_avx2(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y)
{
    dot_rows(n, s, x, 0, y, 1, 0, load_f16, get_f16, 2, FT_F16);
}

void rx_kernels__dot_bf16_avx2(int64_t n, float *restrict s, const void *restrict x,
                               const void *restrict y)
{
    dot_rows(n, s, x, 0, y, 1, 0, load_bf16, get_bf16, 2, FT_BF16);
}
