/* ggml's activation numerics in plain C: its vector exp (a range reduction to 2^k * e^b with
 * |b| <= ln2/2 and a degree-5 polynomial, after ARM's optimized-routines expf), silu built on
 * it, and softmax's exponentials with their partial sums. Every lane of ggml's AVX2 code is
 * independent, so one float at a time with fmaf reproduces it bit for bit. */
#include "engine/kernels/internal.h"

#include <math.h>

#include "core/fp16.h"

/* e^x to within 1.5 ulp; overflows to inf above ~88.4 and flushes to 0 below ~-104. */
float rx_kernels__expf_ggml(float x)
{
    const float shift = 0x1.8p23f; /* adding it rounds x/ln2 to an integer in the low bits */
    const float z = fmaf(x, 0x1.715476p+0f, shift);
    const float n = z - shift;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x)); /* x - n*ln2 */
    const uint32_t e = rx_f32_bits(z) << 23;                              /* 2^n, exponent bits */
    const float k = rx_bits_f32(e + rx_f32_bits(1.0f));
    const float u = b * b;
    const float j = fmaf(
        fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
        u, 0x1.ffffecp-1f * b); /* e^b - 1 */
    if (!(fabsf(n) > 126)) return fmaf(j, k, k);
    /* 2^n alone would leave the float range: split it in two factors */
    const uint32_t g = n <= 0 ? 0x82000000u : 0;
    const float s1 = rx_bits_f32(g + 0x7f000000u);
    const float s2 = rx_bits_f32(e - g);
    if (fabsf(n) > 192) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

/* ggml_silu_f32: the scalar tail of ggml_vec_silu_f32 uses the C library's expf */
static float silu_libm(float x)
{
    return x / (1.0f + expf(-x));
}

void rx_kernels__silu_ref(int64_t n, float *y, const float *x)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            y[i + l] = x[i + l] / (1.0f + rx_kernels__expf_ggml(0.0f - x[i + l]));
    for (; i < n; i++)
        y[i] = silu_libm(x[i]);
}

double rx_kernels__exp_sum_ref(int64_t n, float *y, const float *x, float max)
{
    double sum = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int l = 0; l < 8; l++)
            y[i + l] = rx_kernels__expf_ggml(x[i + l] - max);
        sum += (double)rx_kernels__hsum8(y + i);
    }
    for (; i < n; i++) {
        y[i] = expf(x[i] - max);
        sum += (double)y[i];
    }
    return sum;
}
