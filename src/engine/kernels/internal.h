/* Shared inside engine/kernels/: the per-type functions each kernel set is built from.
 * `_ref` functions are plain C and always built; `_avx2` ones live in *_avx2.c files compiled
 * with -mavx2 -mfma -mf16c and must only be called after rx_kernels_avx2() said yes. */
#ifndef RX_ENGINE_KERNELS_INTERNAL_H
#define RX_ENGINE_KERNELS_INTERNAL_H

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
void rx_kernels__tile_q4_0_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt);
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
