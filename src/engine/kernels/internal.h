/* Shared inside engine/kernels/: the per-type functions each kernel set is built from.
 * `_ref` functions are plain C and always built; `_avx2` ones live in *_avx2.c files compiled
 * with -mavx2 -mfma -mf16c and must only be called after rx_kernels_avx2() said yes. */
#ifndef RX_ENGINE_KERNELS_INTERNAL_H
#define RX_ENGINE_KERNELS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/kernels/blocks.h"
#include "engine/kernels/kernels.h"

/* Rounds to the nearest integer, ties to even, for |f| < 2^22: adding 1.5*2^23 pushes the
 * fraction out of the mantissa under the default rounding mode. ggml rounds this way in its
 * K-quant code, so reproducing its files bit for bit needs exactly this. */
static inline int rx_kernels__nearest_int(float f)
{
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* The two ways ggml's AVX2 code folds 8-lane float accumulators into one number, written out
 * for the plain-C kernels (float addition is commutative, so only the grouping matters).
 * hsum8: hsum_float_8 / tinyBLAS: lane i with i+4, then (0+2) + (1+3). */
static inline float rx_kernels__hsum8(const float v[8])
{
    float t[4];
    for (int i = 0; i < 4; i++)
        t[i] = v[i] + v[i + 4];
    return (t[0] + t[2]) + (t[1] + t[3]);
}

/* ggml_vec_dot_f16/_f32's four accumulators acc[k][lane] (element 32*i + 8*k + lane): (0+2) +
 * (1+3) per lane, lane i with i+4, then two horizontal adds: (0+1) + (2+3). */
static inline float rx_kernels__reduce_4x8(const float acc[4][8])
{
    float x[8], t[4];
    for (int l = 0; l < 8; l++)
        x[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    for (int i = 0; i < 4; i++)
        t[i] = x[i] + x[i + 4];
    return (t[0] + t[1]) + (t[2] + t[3]);
}

/* float types (convert_ref.c) */
void rx_kernels__f32_to_float(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__f32_from_float(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__f16_to_float_ref(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__f16_from_float_ref(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__bf16_to_float_ref(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__bf16_from_float_ref(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__dot_f32_ref(int64_t n, float *restrict s, const void *restrict x,
                             const void *restrict y);
void rx_kernels__dot_f16_ref(int64_t n, float *restrict s, const void *restrict x,
                             const void *restrict y);
void rx_kernels__dot_bf16_ref(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y);
void rx_kernels__gemv_f32_ref(int64_t n, float *restrict s, const void *restrict w, size_t ws,
                              const void *restrict a, int64_t nr);
void rx_kernels__gemv_f16_ref(int64_t n, float *restrict s, const void *restrict w, size_t ws,
                              const void *restrict a, int64_t nr);
void rx_kernels__gemm_f32_ref(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                              size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__gemm_f16_ref(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                              size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__gemm_bf16_ref(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt);

/* attention over a KV cache (attn_ref.c, attn_avx2.c; see rx_att_scores_fn) */
void rx_kernels__att_scores_f32_ref(int64_t hd, int64_t n, float *restrict s,
                                    const void *restrict k, size_t stride, const void *restrict q,
                                    bool gemm);
void rx_kernels__att_scores_f16_ref(int64_t hd, int64_t n, float *restrict s,
                                    const void *restrict k, size_t stride, const void *restrict q,
                                    bool gemm);
void rx_kernels__att_scores_q8_0_ref(int64_t hd, int64_t n, float *restrict s,
                                     const void *restrict k, size_t stride, const void *restrict q,
                                     bool gemm);
void rx_kernels__att_values_f32_ref(int64_t hd, int64_t n, float *restrict out,
                                    const void *restrict v, size_t stride, const float *restrict w,
                                    int slots);
void rx_kernels__att_values_f16_ref(int64_t hd, int64_t n, float *restrict out,
                                    const void *restrict v, size_t stride, const float *restrict w,
                                    int slots);
void rx_kernels__att_values_q8_0_ref(int64_t hd, int64_t n, float *restrict out,
                                     const void *restrict v, size_t stride,
                                     const float *restrict w, int slots);
void rx_kernels__att_scores_f32_avx2(int64_t hd, int64_t n, float *restrict s,
                                     const void *restrict k, size_t stride,
                                     const void *restrict q, bool gemm);
void rx_kernels__att_scores_f16_avx2(int64_t hd, int64_t n, float *restrict s,
                                     const void *restrict k, size_t stride,
                                     const void *restrict q, bool gemm);
void rx_kernels__att_scores_q8_0_avx2(int64_t hd, int64_t n, float *restrict s,
                                      const void *restrict k, size_t stride,
                                      const void *restrict q, bool gemm);
void rx_kernels__att_values_f32_avx2(int64_t hd, int64_t n, float *restrict out,
                                     const void *restrict v, size_t stride,
                                     const float *restrict w, int slots);
void rx_kernels__att_values_f16_avx2(int64_t hd, int64_t n, float *restrict out,
                                     const void *restrict v, size_t stride,
                                     const float *restrict w, int slots);

/* ggml's activation numerics (act_ref.c, act_avx2.c) */
float rx_kernels__expf_ggml(float x);
void rx_kernels__silu_ref(int64_t n, float *y, const float *x);
void rx_kernels__softmax_ref(float *x, int64_t n, float scale);
void rx_kernels__silu_avx2(int64_t n, float *y, const float *x);
void rx_kernels__softmax_avx2(float *x, int64_t n, float scale);

/* 32-element block types (q_ref.c) */
void rx_kernels__q4_0_to_float_ref(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__q5_0_to_float_ref(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__q8_0_to_float_ref(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__q4_0_quantize_ref(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__q5_0_quantize_ref(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__q8_0_quantize_ref(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__q8_0_from_float_ref(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__dot_q4_0_q8_0_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y);
void rx_kernels__dot_q5_0_q8_0_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y);
void rx_kernels__dot_q8_0_q8_0_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y);
void rx_kernels__repack_q4_0_ref(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                 size_t ws, const void *restrict a, size_t as, int nr, int nt);
/* repack_q4_0's order over the q4_0x8 layout (q4_0x8.c; AVX2 and AVX-VNNI versions below) */
void rx_kernels__grouped_q4_0_ref(int64_t n, float *restrict s, int64_t ld_s,
                                  const void *restrict w, size_t ws, const void *restrict a,
                                  size_t as, int nr, int nt);
/* vec_dot's order over the q8_0x8 layout (q8_0x8.c; AVX2 and AVX-VNNI versions below) */
void rx_kernels__grouped_q8_0_ref(int64_t n, float *restrict s, int64_t ld_s,
                                  const void *restrict w, size_t ws, const void *restrict a,
                                  size_t as, int nr, int nt);

/* 256-element super-block types (kquant_ref.c) */
void rx_kernels__q4_K_to_float_ref(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__q6_K_to_float_ref(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__q8_K_to_float_ref(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__q4_K_quantize_ref(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__q6_K_quantize_ref(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__q8_K_from_float_ref(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__dot_q4_K_q8_K_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y);
void rx_kernels__dot_q6_K_q8_K_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y);

/* AVX2+FMA+F16C versions (float_avx2.c, q_avx2.c, kquant_avx2.c) */
void rx_kernels__f16_to_float_avx2(const void *restrict x, float *restrict y, int64_t n);
void rx_kernels__f16_from_float_avx2(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__bf16_from_float_avx2(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__q8_0_from_float_avx2(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__q8_K_from_float_avx2(const float *restrict x, void *restrict y, int64_t n);
void rx_kernels__dot_f32_avx2(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y);
void rx_kernels__dot_f16_avx2(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y);
void rx_kernels__dot_bf16_avx2(int64_t n, float *restrict s, const void *restrict x,
                               const void *restrict y);
void rx_kernels__dot_q4_0_q8_0_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y);
void rx_kernels__dot_q5_0_q8_0_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y);
void rx_kernels__dot_q8_0_q8_0_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y);
void rx_kernels__dot_q4_K_q8_K_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y);
void rx_kernels__dot_q6_K_q8_K_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y);
void rx_kernels__tile_f32_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__tile_f16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__tile_bf16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__gemv_f32_avx2(int64_t n, float *restrict s, const void *restrict w, size_t ws,
                               const void *restrict a, int64_t nr);
void rx_kernels__gemv_f16_avx2(int64_t n, float *restrict s, const void *restrict w, size_t ws,
                               const void *restrict a, int64_t nr);
void rx_kernels__gemm_f32_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__gemm_f16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                               size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__gemm_bf16_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__tile_q4_0_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__repack_q4_0_avx2(int64_t n, float *restrict s, int64_t ld_s,
                                  const void *restrict w, size_t ws, const void *restrict a,
                                  size_t as, int nr, int nt);
void rx_kernels__grouped_q4_0_avx2(int64_t n, float *restrict s, int64_t ld_s,
                                   const void *restrict w, size_t ws, const void *restrict a,
                                   size_t as, int nr, int nt);
void rx_kernels__grouped_q8_0_avx2(int64_t n, float *restrict s, int64_t ld_s,
                                   const void *restrict w, size_t ws, const void *restrict a,
                                   size_t as, int nr, int nt);
/* AVX-VNNI (q4_0x8_vnni.c, q8_0x8_vnni.c), chosen at start-up when the CPU has it */
bool rx_kernels__cpu_has_avx_vnni(void);
void rx_kernels__grouped_q4_0_vnni(int64_t n, float *restrict s, int64_t ld_s,
                                   const void *restrict w, size_t ws, const void *restrict a,
                                   size_t as, int nr, int nt);
void rx_kernels__grouped_q8_0_vnni(int64_t n, float *restrict s, int64_t ld_s,
                                   const void *restrict w, size_t ws, const void *restrict a,
                                   size_t as, int nr, int nt);
/* AVX-512 (q8_0x8_avx512.c), chosen at start-up when the CPU has F, BW, VL and VNNI */
bool rx_kernels__cpu_has_avx512_vnni(void);
void rx_kernels__grouped_q8_0_avx512(int64_t n, float *restrict s, int64_t ld_s,
                                     const void *restrict w, size_t ws, const void *restrict a,
                                     size_t as, int nr, int nt);
void rx_kernels__tile_q5_0_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__tile_q8_0_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__tile_q4_K_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt);
void rx_kernels__tile_q6_K_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt);

/* The AVX2 table (set_avx2.c); only called once the CPU is known to support it. */
const rx_kernel_set *rx_kernels__avx2_table(void);

#endif
