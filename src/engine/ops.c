/* Element-wise operations of the forward pass (see ops.h for the numerics they follow). */
#include "engine/ops.h"

#include <math.h>

void rx_op_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

void rx_op_rope_angles(float *cs, int64_t n_rot, int32_t pos, float freq_base, float freq_scale)
{
    /* the angle advances by a constant factor per pair, computed the way ggml does so that
     * float rounding matches */
    const float theta_scale = powf(freq_base, -2.0f / (float)n_rot);
    float theta = (float)pos;
    for (int64_t i = 0; i < n_rot; i += 2) {
        const float angle = freq_scale * theta;
        cs[i] = cosf(angle);
        cs[i + 1] = sinf(angle);
        theta *= theta_scale;
    }
}

void rx_op_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs)
{
    /* GCC vectorised ggml's rotation with fused multiply-adds (one product rounded first) in
     * groups of two pairs; an odd last pair is left over and computed unfused */
    const int64_t fused_end = n_rot & ~(int64_t)3;
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < n_rot; i += 2) {
            const float c = cs[i], s = cs[i + 1];
            const float a = v[i], b = v[i + 1];
            if (i < fused_end) {
                v[i] = fmaf(a, c, -(b * s));
                v[i + 1] = fmaf(a, s, b * c);
            } else {
                v[i] = a * c - b * s;
                v[i + 1] = a * s + b * c;
            }
        }
    }
}

void rx_op_softmax(const rx_kernel_set *ks, float *x, int64_t n, float scale)
{
    ks->softmax(x, n, scale);
}

void rx_op_swiglu(const rx_kernel_set *ks, float *g, const float *u, int64_t n_rows, int64_t n)
{
    for (int64_t r = 0; r < n_rows; r++)
        ks->silu(n, g + r * n, g + r * n);
    for (int64_t i = 0; i < n_rows * n; i++)
        g[i] *= u[i];
}

void rx_op_add(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}

void rx_op_log_softmax(float *out, const float *logits, int64_t n)
{
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += exp((double)logits[i] - max);
    const double lse = log(sum) + max;
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)((double)logits[i] - lse);
}
