/* The AVX2+FMA+F16C kernel table. Kept in an *_avx2.c file so `make ref` (RX_FORCE_REF) drops
 * it with the kernels it points to; reached only through rx_kernels_avx2(), after the CPU
 * check. Where AVX2 brings nothing (file quantizers, rare conversions) it reuses ref. */
#include <pthread.h>

#include "engine/kernels/internal.h"

static rx_kernel_set avx2_set = {
    .name = "avx2",
    .type =
        {
            [RX_TYPE_F32] = {RX_TYPE_F32, rx_kernels__f32_to_float, rx_kernels__f32_from_float,
                             rx_kernels__dot_f32_avx2, rx_kernels__tile_f32_avx2,
                             rx_kernels__gemm_f32_avx2, .gemv = rx_kernels__gemv_f32_avx2,
                             .att_scores = rx_kernels__att_scores_f32_avx2,
                             .att_values = rx_kernels__att_values_f32_avx2},
            [RX_TYPE_F16] = {RX_TYPE_F16, rx_kernels__f16_to_float_avx2,
                             rx_kernels__f16_from_float_avx2, rx_kernels__dot_f16_avx2,
                             rx_kernels__tile_f16_avx2, rx_kernels__gemm_f16_avx2,
                             .gemv = rx_kernels__gemv_f16_avx2,
                             .att_scores = rx_kernels__att_scores_f16_avx2,
                             .att_values = rx_kernels__att_values_f16_avx2},
            [RX_TYPE_BF16] = {RX_TYPE_BF16, rx_kernels__bf16_to_float_ref,
                              rx_kernels__bf16_from_float_avx2, rx_kernels__dot_bf16_avx2,
                              rx_kernels__tile_bf16_avx2, rx_kernels__gemm_bf16_avx2},
            [RX_TYPE_Q4_0] = {RX_TYPE_Q8_0, rx_kernels__q4_0_to_float_ref,
                              rx_kernels__q4_0_quantize_ref, rx_kernels__dot_q4_0_q8_0_avx2,
                              rx_kernels__tile_q4_0_avx2, NULL, rx_kernels__repack_q4_0_avx2, true,
                              rx_kernels__grouped_q4_0_avx2},
            [RX_TYPE_Q5_0] = {RX_TYPE_Q8_0, rx_kernels__q5_0_to_float_ref,
                              rx_kernels__q5_0_quantize_ref, rx_kernels__dot_q5_0_q8_0_avx2,
                              rx_kernels__tile_q5_0_avx2, NULL, NULL, true},
            [RX_TYPE_Q8_0] = {RX_TYPE_Q8_0, rx_kernels__q8_0_to_float_ref,
                              rx_kernels__q8_0_from_float_avx2, rx_kernels__dot_q8_0_q8_0_avx2,
                              rx_kernels__tile_q8_0_avx2, NULL, NULL, true,
                              rx_kernels__grouped_q8_0_avx2,
                              .att_scores = rx_kernels__att_scores_q8_0_avx2,
                              .att_values = rx_kernels__att_values_q8_0_ref},
            [RX_TYPE_Q4_K] = {RX_TYPE_Q8_K, rx_kernels__q4_K_to_float_ref,
                              rx_kernels__q4_K_quantize_ref, rx_kernels__dot_q4_K_q8_K_avx2,
                              rx_kernels__tile_q4_K_avx2, NULL},
            [RX_TYPE_Q6_K] = {RX_TYPE_Q8_K, rx_kernels__q6_K_to_float_ref,
                              rx_kernels__q6_K_quantize_ref, rx_kernels__dot_q6_K_q8_K_avx2,
                              rx_kernels__tile_q6_K_avx2, NULL},
            [RX_TYPE_Q8_K] = {RX_TYPE_Q8_K, rx_kernels__q8_K_to_float_ref,
                              rx_kernels__q8_K_from_float_avx2, NULL, NULL, NULL},
        },
    .silu = rx_kernels__silu_avx2,
    .softmax = rx_kernels__softmax_avx2,
};

static pthread_once_t vnni_once = PTHREAD_ONCE_INIT;

/* Where the CPU has AVX-VNNI, the grouped tiles use it (same integer sums, same results). */
static void take_vnni(void)
{
    if (rx_kernels__cpu_has_avx_vnni()) {
        avx2_set.type[RX_TYPE_Q4_0].grouped_tile = rx_kernels__grouped_q4_0_vnni;
        avx2_set.type[RX_TYPE_Q8_0].grouped_tile = rx_kernels__grouped_q8_0_vnni;
        avx2_set.name = "avx2+vnni";
    }
    if (rx_kernels__cpu_has_avx512_vnni()) {
        avx2_set.type[RX_TYPE_Q8_0].grouped_tile = rx_kernels__grouped_q8_0_avx512;
        avx2_set.name = rx_kernels__cpu_has_avx_vnni() ? "avx2+vnni+avx512" : "avx2+avx512";
    }
}

const rx_kernel_set *rx_kernels__avx2_table(void)
{
    pthread_once(&vnni_once, take_vnni);
    return &avx2_set;
}
