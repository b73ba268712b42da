/* Plain-C kernels of the float types F32, F16 and BF16: conversions to and from float, and the
 * dot products in the exact order of llama.cpp's AVX2 build (ggml's vec_dot for single tokens,
 * llamafile's tinyBLAS for batches), with fmaf wherever it fuses a multiply-add. */
#include "engine/kernels/internal.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/fp16.h"

void rx_kernels__f32_to_float(const void *restrict x, float *restrict y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

void rx_kernels__f32_from_float(const float *restrict x, void *restrict y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

void rx_kernels__f16_to_float_ref(const void *restrict x, float *restrict y, int64_t n)
{
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++)
        y[i] = rx_fp16_to_f32(h[i]);
}

void rx_kernels__f16_from_float_ref(const float *restrict x, void *restrict y, int64_t n)
{
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++)
        h[i] = rx_f32_to_fp16(x[i]);
}

void rx_kernels__bf16_to_float_ref(const void *restrict x, float *restrict y, int64_t n)
{
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++)
        y[i] = rx_bf16_to_f32(h[i]);
}

void rx_kernels__bf16_from_float_ref(const float *restrict x, void *restrict y, int64_t n)
{
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++)
        h[i] = rx_f32_to_bf16(x[i]);
}

/* ggml_vec_dot_f32 on AVX2+FMA: four 8-lane FMA accumulators over the largest multiple of 32,
 * folded by reduce_4x8, then the rest in float. GCC compiled ggml's leftover loop (-O3, FMA
 * contraction on) as groups of four plain multiply-adds followed by up to three fused ones,
 * and that is what the results show, so it is spelled out here. */
void rx_kernels__dot_f32_ref(int64_t n, float *restrict s, const void *restrict x,
                             const void *restrict y)
{
    const float *a = x, *b = y;
    float acc[4][8] = {{0}};
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 8; l++)
                acc[k][l] = fmaf(a[i + 8 * k + l], b[i + 8 * k + l], acc[k][l]);
    float sum = rx_kernels__reduce_4x8(acc);
    const int64_t plain_end = np + ((n - np) & ~(int64_t)3);
    for (int64_t i = np; i < plain_end; i++)
        sum += a[i] * b[i];
    for (int64_t i = plain_end; i < n; i++)
        sum = fmaf(a[i], b[i], sum);
    *s = sum;
}

/* The single-token matmul over F32 rows: vec_dot row by row. */
void rx_kernels__gemv_f32_ref(int64_t n, float *restrict s, const void *restrict w, size_t ws,
                              const void *restrict a, int64_t nr)
{
    for (int64_t r = 0; r < nr; r++)
        rx_kernels__dot_f32_ref(n, &s[r], (const char *)w + (size_t)r * ws, a);
}

/* The single-token matmul over F16 rows: vec_dot row by row. */
void rx_kernels__gemv_f16_ref(int64_t n, float *restrict s, const void *restrict w, size_t ws,
                              const void *restrict a, int64_t nr)
{
    for (int64_t r = 0; r < nr; r++)
        rx_kernels__dot_f16_ref(n, &s[r], (const char *)w + (size_t)r * ws, a);
}

/* ggml_vec_dot_f16: as the F32 dot over multiples of 32, but the total goes to double and the
 * rest is added there. Products of two halves are exact in float, so `acc + a * b` rounds once
 * like the FMA does. */
void rx_kernels__dot_f16_ref(int64_t n, float *restrict s, const void *restrict x,
                             const void *restrict y)
{
    const uint16_t *a = x, *b = y;
    float acc[4][8] = {{0}};
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 8; l++) {
                int64_t e = i + 8 * k + l;
                acc[k][l] += rx_fp16_to_f32(a[e]) * rx_fp16_to_f32(b[e]);
            }
    double sum = rx_kernels__reduce_4x8(acc);
    for (int64_t i = np; i < n; i++)
        sum += (double)(rx_fp16_to_f32(a[i]) * rx_fp16_to_f32(b[i]));
    *s = (float)sum;
}

/* ggml_vec_dot_bf16 on AVX2: four accumulators (exact products, so add == FMA), folded as
 * (0+2) + (1+3) and then like hsum_float_8; the total and the rest in double. */
void rx_kernels__dot_bf16_ref(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y)
{
    const uint16_t *a = x, *b = y;
    float acc[4][8] = {{0}}, v[8];
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 8; l++) {
                int64_t e = i + 8 * k + l;
                acc[k][l] += rx_bf16_to_f32(a[e]) * rx_bf16_to_f32(b[e]);
            }
    for (int l = 0; l < 8; l++)
        v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    double sum = rx_kernels__hsum8(v);
    for (int64_t i = np; i < n; i++)
        sum += (double)(rx_bf16_to_f32(a[i]) * rx_bf16_to_f32(b[i]));
    *s = (float)sum;
}

/* llamafile's tinyBLAS on AVX2: each output has one 8-lane FMA accumulator over the whole row
 * (element i in lane i % 8), folded by hsum8. It only runs for n a multiple of 8. */
static inline float gemm_dot_f32(int64_t n, const float *a, const float *b)
{
    float acc[8] = {0};
    for (int64_t i = 0; i < n; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] = fmaf(a[i + l], b[i + l], acc[l]);
    return rx_kernels__hsum8(acc);
}

static inline float gemm_dot_half(int64_t n, const uint16_t *a, const uint16_t *b, bool bf16)
{
    float acc[8] = {0};
    for (int64_t i = 0; i < n; i += 8)
        for (int l = 0; l < 8; l++) {
            float u = bf16 ? rx_bf16_to_f32(a[i + l]) : rx_fp16_to_f32(a[i + l]);
            float v = bf16 ? rx_bf16_to_f32(b[i + l]) : rx_fp16_to_f32(b[i + l]);
            acc[l] += u * v; /* exact product: one rounding, as the FMA */
        }
    return rx_kernels__hsum8(acc);
}

void rx_kernels__gemm_f32_ref(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                              size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r++)
            s[t * ld_s + r] = gemm_dot_f32(n, (const float *)((const char *)w + r * ws),
                                           (const float *)((const char *)a + t * as));
}

void rx_kernels__gemm_f16_ref(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                              size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r++)
            s[t * ld_s + r] = gemm_dot_half(n, (const uint16_t *)((const char *)w + r * ws),
                                            (const uint16_t *)((const char *)a + t * as), false);
}

void rx_kernels__gemm_bf16_ref(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r++)
            s[t * ld_s + r] = gemm_dot_half(n, (const uint16_t *)((const char *)w + r * ws),
                                            (const uint16_t *)((const char *)a + t * as), true);
}
