/* ggml's activation numerics in plain C: its vector exp (a range reduction to 2^k * e^b with
 * |b| <= ln2/2 and a degree-5 polynomial, after ARM's optimized-routines expf), silu built on
 * it, and softmax with its exponentials' partial sums. Every lane of ggml's AVX2 code is
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

/* ggml_vec_soft_max_f32: y = exp(x - max), groups of 8 through the vector exp with each
 * group's sum added in double, the rest through expf; returns the sum. */
static double exp_sum(int64_t n, float *y, const float *x, float max)
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

void rx_kernels__softmax_ref(float *x, int64_t n, float scale)
{
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        x[i] *= scale;
        if (x[i] > max) max = x[i];
    }
    const int64_t n8 = n & ~(int64_t)7;
    double sum = exp_sum(n8, x, x, max);
    if (n8 < n) {
        float tail[8];
        for (int k = 0; k < 8; k++)
            tail[k] = n8 + k < n ? x[n8 + k] : -INFINITY; /* masked: exp gives exactly 0 */
        sum += exp_sum(8, tail, tail, max);
        for (int64_t i = n8; i < n; i++)
            x[i] = tail[i - n8];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}
