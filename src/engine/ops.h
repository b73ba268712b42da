/* The forward pass's element-wise operations with llama.cpp's numerics (x86 AVX2 build, ggml
 * b4748): sums of squares and softmax denominators in double, its vector exp for softmax and
 * silu, its FMA placement in rope, so results match it bit for bit. The matrix products that
 * dominate the time live in matmul.c. */
#ifndef RX_ENGINE_OPS_H
#define RX_ENGINE_OPS_H

#include <stdint.h>

#include "engine/kernels/kernels.h"

/* y = x / sqrt(mean(x^2) + eps) * w, over n elements. y may equal x. */
void rx_op_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);

/* cos and sin of the angles by which rope turns the pairs of position pos: cs[2i], cs[2i+1]
 * for pair i < n_rot/2, angle pos * freq_scale * base^(-2i/n_rot) as llama.cpp's "normal"
 * rope computes it. The same for every head (and for Q and K), so computed once per token. */
void rx_op_rope_angles(float *cs, int64_t n_rot, int32_t pos, float freq_base, float freq_scale);

/* Rotates adjacent pairs (x[2i], x[2i+1]) of the first n_rot elements of each of n_heads heads
 * of head_dim elements by the angles in cs (rx_op_rope_angles). */
void rx_op_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs);

/* x = softmax(x * scale) over n elements, as ggml_soft_max_ext over a row whose cells past n
 * are masked: exponentials in groups of 8 from element 0, the last group padded with zeros. */
void rx_op_softmax(const rx_kernel_set *ks, float *x, int64_t n, float scale);

/* g = silu(g) * u over each of n_rows rows of n elements (silu's grouping restarts per row). */
void rx_op_swiglu(const rx_kernel_set *ks, float *g, const float *u, int64_t n_rows, int64_t n);

/* y += x over n elements. */
void rx_op_add(float *y, const float *x, int64_t n);

/* log-softmax of n logits into out (may equal logits). */
void rx_op_log_softmax(float *out, const float *logits, int64_t n);

#endif
