/* The forward pass's element-wise operations, in plain C with ggml's numerics (sums of squares
 * and softmax denominators in double, the rest in float), so log-probabilities land within
 * 1e-3 of llama.cpp's. The matrix products that dominate the time live in matmul.c. */
#ifndef RX_ENGINE_OPS_H
#define RX_ENGINE_OPS_H

#include <stdint.h>

/* y = x / sqrt(mean(x^2) + eps) * w, over n elements. y may equal x. */
void rx_op_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);

/* Rotates adjacent pairs (x[2i], x[2i+1]) of the first n_rot elements of each of n_heads heads
 * of head_dim elements by pos * freq_scale * base^(-2i/n_rot), as llama.cpp's "normal" rope. */
void rx_op_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int32_t pos,
                float freq_base, float freq_scale);

/* x = softmax(x * scale) over n elements. */
void rx_op_softmax(float *x, int64_t n, float scale);

/* g = silu(g) * u over n elements. */
void rx_op_swiglu(float *g, const float *u, int64_t n);

/* y += x over n elements. */
void rx_op_add(float *y, const float *x, int64_t n);

/* log-softmax of n logits into out (may equal logits). */
void rx_op_log_softmax(float *out, const float *logits, int64_t n);

#endif
