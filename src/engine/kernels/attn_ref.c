/* Plain-C attention kernels over an F32, F16 or Q8_0 KV cache (see kernels.h), in the orders
 * of llama.cpp's x86 AVX2 build: K·q one row at a time through the type's dot product, V·p
 * through per-slot accumulators and their fold. attn_avx2.c gives the same bits faster. */
#include "engine/kernels/internal.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/fp16.h"

/* llama.cpp multiplies the K cache view by the query with ggml_mul_mat: tinyBLAS for batches
 * (where it takes the type), ggml's vec_dot for single tokens. */
static void scores(rx_vec_dot_fn dot, rx_tile_fn gemm, int64_t hd, int64_t n, float *restrict s,
                   const char *k, size_t stride, const void *q)
{
    for (int64_t j = 0; j < n; j++) {
        const char *row = k + (size_t)j * stride;
        if (gemm) {
            gemm(hd, &s[j], 1, row, stride, q, 0, 1, 1);
        } else {
            dot(hd, &s[j], row, q);
        }
    }
}

void rx_kernels__att_scores_f32_ref(int64_t hd, int64_t n, float *restrict s,
                                    const void *restrict k, size_t stride, const void *restrict q,
                                    bool gemm)
{
    scores(rx_kernels__dot_f32_ref, gemm ? rx_kernels__gemm_f32_ref : NULL, hd, n, s, k, stride,
           q);
}

void rx_kernels__att_scores_f16_ref(int64_t hd, int64_t n, float *restrict s,
                                    const void *restrict k, size_t stride, const void *restrict q,
                                    bool gemm)
{
    scores(rx_kernels__dot_f16_ref, gemm ? rx_kernels__gemm_f16_ref : NULL, hd, n, s, k, stride,
           q);
}

void rx_kernels__att_scores_q8_0_ref(int64_t hd, int64_t n, float *restrict s,
                                     const void *restrict k, size_t stride, const void *restrict q,
                                     bool gemm)
{
    (void)gemm; /* Q8_0 has no tinyBLAS path */
    scores(rx_kernels__dot_q8_0_q8_0_ref, NULL, hd, n, s, k, stride, q);
}

/* Columns per pass: one Q8_0 block, so that a pass never splits one. */
#define CHUNK 32

/* V·p is ggml_mul_mat of the transposed V view with the weights, so it sums over positions in
 * lanes: tinyBLAS (batches) puts position j in accumulator j % 8, vec_dot_f16 (single tokens)
 * in j % 32 (four vectors of eight), and positions past n are masked to exact zeros there.
 * The accumulators of column i then fold as hsum_float_8 (8) or vec_dot's reduce (32). */
static float fold(const float acc[32][CHUNK], int64_t i, int slots)
{
    float v[8], t[4];
    for (int l = 0; l < 8; l++) {
        v[l] = slots == 8 ? acc[l][i]
                          : (acc[l][i] + acc[16 + l][i]) + (acc[8 + l][i] + acc[24 + l][i]);
    }
    for (int k = 0; k < 4; k++)
        t[k] = v[k] + v[k + 4];
    return slots == 8 ? (t[0] + t[2]) + (t[1] + t[3]) : (t[0] + t[1]) + (t[2] + t[3]);
}

/* The weights go to the cache type first: an F32 cache multiplies them as they are with FMA;
 * otherwise they are rounded to fp16 and a plain multiply-add follows (for F16 the product of
 * two halves is exact, so it rounds once like the FMA). */
static void values(rx_to_float_fn to_float, rx_type type, int64_t hd, int64_t n,
                   float *restrict out, const char *v, size_t stride, const float *w, int slots)
{
    float acc[32][CHUNK], row[CHUNK];
    for (int64_t c = 0; c < hd; c += CHUNK) {
        const int64_t m = hd - c < CHUNK ? hd - c : CHUNK;
        const size_t off = rx_row_size(type, c);
        memset(acc, 0, sizeof acc);
        for (int64_t j = 0; j < n; j++) {
            float *a = acc[j % slots];
            to_float(v + (size_t)j * stride + off, row, m);
            if (type == RX_TYPE_F32) {
                for (int64_t i = 0; i < m; i++)
                    a[i] = fmaf(row[i], w[j], a[i]);
            } else {
                const float wh = rx_fp16_to_f32(rx_f32_to_fp16(w[j]));
                for (int64_t i = 0; i < m; i++)
                    a[i] += row[i] * wh;
            }
        }
        for (int64_t i = 0; i < m; i++)
            out[c + i] = fold(acc, i, slots);
    }
}

void rx_kernels__att_values_f32_ref(int64_t hd, int64_t n, float *restrict out,
                                    const void *restrict v, size_t stride, const float *restrict w,
                                    int slots)
{
    values(rx_kernels__f32_to_float, RX_TYPE_F32, hd, n, out, v, stride, w, slots);
}

void rx_kernels__att_values_f16_ref(int64_t hd, int64_t n, float *restrict out,
                                    const void *restrict v, size_t stride, const float *restrict w,
                                    int slots)
{
    values(rx_kernels__f16_to_float_ref, RX_TYPE_F16, hd, n, out, v, stride, w, slots);
}

void rx_kernels__att_values_q8_0_ref(int64_t hd, int64_t n, float *restrict out,
                                     const void *restrict v, size_t stride,
                                     const float *restrict w, int slots)
{
    values(rx_kernels__q8_0_to_float_ref, RX_TYPE_Q8_0, hd, n, out, v, stride, w, slots);
}
