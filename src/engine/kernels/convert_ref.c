/* Plain-C kernels of the float types F32, F16 and BF16: conversions to and from float and the
 * dot products, accumulated in double so they can serve as the yardstick for SIMD versions. */
#include "engine/kernels/internal.h"

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

void rx_kernels__dot_f32_ref(int64_t n, float *restrict s, const void *restrict x,
                             const void *restrict y)
{
    const float *a = x, *b = y;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)a[i] * (double)b[i];
    *s = (float)sum;
}

void rx_kernels__dot_f16_ref(int64_t n, float *restrict s, const void *restrict x,
                             const void *restrict y)
{
    const uint16_t *a = x, *b = y;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)rx_fp16_to_f32(a[i]) * rx_fp16_to_f32(b[i]);
    *s = (float)sum;
}

void rx_kernels__dot_bf16_ref(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y)
{
    const uint16_t *a = x, *b = y;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)rx_bf16_to_f32(a[i]) * rx_bf16_to_f32(b[i]);
    *s = (float)sum;
}
