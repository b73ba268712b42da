/* The plain-C kernel table, run-time choice of the best table for this CPU, and the
 * deterministic quantizer used to write model files. */
#include "engine/kernels/kernels.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels/internal.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static const rx_kernel_set ref_set = {
    .name = "ref",
    .type =
        {
            [RX_TYPE_F32] = {.vec_dot_type = RX_TYPE_F32,
                             .to_float = rx_kernels__f32_to_float,
                             .from_float = rx_kernels__f32_from_float,
                             .vec_dot = rx_kernels__dot_f32_ref,
                             .gemm_tile = rx_kernels__gemm_f32_ref,
                             .gemv = rx_kernels__gemv_f32_ref,
                             .att_scores = rx_kernels__att_scores_f32_ref,
                             .att_values = rx_kernels__att_values_f32_ref},
            [RX_TYPE_F16] = {.vec_dot_type = RX_TYPE_F16,
                             .to_float = rx_kernels__f16_to_float_ref,
                             .from_float = rx_kernels__f16_from_float_ref,
                             .vec_dot = rx_kernels__dot_f16_ref,
                             .gemm_tile = rx_kernels__gemm_f16_ref,
                             .gemv = rx_kernels__gemv_f16_ref,
                             .att_scores = rx_kernels__att_scores_f16_ref,
                             .att_values = rx_kernels__att_values_f16_ref},
            [RX_TYPE_BF16] = {.vec_dot_type = RX_TYPE_BF16,
                              .to_float = rx_kernels__bf16_to_float_ref,
                              .from_float = rx_kernels__bf16_from_float_ref,
                              .vec_dot = rx_kernels__dot_bf16_ref,
                              .gemm_tile = rx_kernels__gemm_bf16_ref},
            [RX_TYPE_Q4_0] = {.vec_dot_type = RX_TYPE_Q8_0,
                              .to_float = rx_kernels__q4_0_to_float_ref,
                              .from_float = rx_kernels__q4_0_quantize_ref,
                              .vec_dot = rx_kernels__dot_q4_0_q8_0_ref,
                              .repack_tile = rx_kernels__repack_q4_0_ref,
                              .wide_tiles = true,
                              .grouped_tile = rx_kernels__grouped_q4_0_ref},
            [RX_TYPE_Q5_0] = {.vec_dot_type = RX_TYPE_Q8_0,
                              .to_float = rx_kernels__q5_0_to_float_ref,
                              .from_float = rx_kernels__q5_0_quantize_ref,
                              .vec_dot = rx_kernels__dot_q5_0_q8_0_ref},
            [RX_TYPE_Q8_0] = {.vec_dot_type = RX_TYPE_Q8_0,
                              .to_float = rx_kernels__q8_0_to_float_ref,
                              .from_float = rx_kernels__q8_0_from_float_ref,
                              .vec_dot = rx_kernels__dot_q8_0_q8_0_ref,
                              .wide_tiles = true,
                              .grouped_tile = rx_kernels__grouped_q8_0_ref,
                              .att_scores = rx_kernels__att_scores_q8_0_ref,
                              .att_values = rx_kernels__att_values_q8_0_ref},
            [RX_TYPE_Q4_K] = {.vec_dot_type = RX_TYPE_Q8_K,
                              .to_float = rx_kernels__q4_K_to_float_ref,
                              .from_float = rx_kernels__q4_K_quantize_ref,
                              .vec_dot = rx_kernels__dot_q4_K_q8_K_ref},
            [RX_TYPE_Q6_K] = {.vec_dot_type = RX_TYPE_Q8_K,
                              .to_float = rx_kernels__q6_K_to_float_ref,
                              .from_float = rx_kernels__q6_K_quantize_ref,
                              .vec_dot = rx_kernels__dot_q6_K_q8_K_ref},
            [RX_TYPE_Q8_K] = {.vec_dot_type = RX_TYPE_Q8_K,
                              .to_float = rx_kernels__q8_K_to_float_ref,
                              .from_float = rx_kernels__q8_K_from_float_ref},
        },
    .silu = rx_kernels__silu_ref,
    .softmax = rx_kernels__softmax_ref,
};

const rx_kernel_set *rx_kernels_ref(void)
{
    return &ref_set;
}

#if !defined(RX_FORCE_REF) && defined(__x86_64__)
/* AVX2, FMA and F16C from cpuid, plus the OS saving YMM state (XCR0 bits 1-2); done by hand
 * because clang's __builtin_cpu_supports does not know "f16c". Reads only, so concurrent
 * callers need no synchronisation. */
static bool cpu_has_avx2_fma_f16c(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const unsigned fma = 1u << 12, osxsave = 1u << 27, f16c = 1u << 29, avx = 1u << 28;
    if ((c & (fma | osxsave | f16c | avx)) != (fma | osxsave | f16c | avx)) return false;
    unsigned xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 6) != 6) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (b & (1u << 5)) != 0; /* AVX2 */
}
#endif

#if !defined(RX_FORCE_REF) && defined(__x86_64__)
/* AVX-VNNI: cpuid leaf 7 sub-leaf 1, EAX bit 4 (the VEX-encoded vpdpbusd on 256-bit vectors). */
bool rx_kernels__cpu_has_avx_vnni(void)
{
    unsigned a, b, c, d;
    if (!cpu_has_avx2_fma_f16c() || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return (a & (1u << 4)) != 0;
}

/* AVX-512 F, BW, VL and VNNI from cpuid leaf 7, plus the OS saving ZMM state (XCR0 bits 5-7). */
bool rx_kernels__cpu_has_avx512_vnni(void)
{
    unsigned a, b, c, d;
    if (!cpu_has_avx2_fma_f16c() || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const unsigned f = 1u << 16, bw = 1u << 30, vl = 1u << 31, vnni = 1u << 11;
    if ((b & (f | bw | vl)) != (f | bw | vl) || !(c & vnni)) return false;
    unsigned xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    return (xcr0_lo & 0xE6) == 0xE6;
}
#endif

const rx_kernel_set *rx_kernels_avx2(void)
{
#if defined(RX_FORCE_REF) || !defined(__x86_64__)
    return NULL;
#else
    return cpu_has_avx2_fma_f16c() ? rx_kernels__avx2_table() : NULL;
#endif
}

const rx_kernel_set *rx_kernels_select(const char *force)
{
    if (force == NULL) force = getenv("RX_KERNELS");
    if (force != NULL && *force != '\0') {
        if (strcmp(force, "ref") == 0) return rx_kernels_ref();
        if (strcmp(force, "avx2") == 0) return rx_kernels_avx2();
        return NULL;
    }
    const rx_kernel_set *best = rx_kernels_avx2();
    return best ? best : rx_kernels_ref();
}

size_t rx_quantize_rows(rx_type type, const float *src, void *dst, int64_t nrows, int64_t n_per_row)
{
    rx_from_float_fn quantize;
    switch (type) {
    case RX_TYPE_F32:
        quantize = rx_kernels__f32_from_float;
        break;
    case RX_TYPE_F16:
        quantize = rx_kernels__f16_from_float_ref;
        break;
    case RX_TYPE_BF16:
        quantize = rx_kernels__bf16_from_float_ref;
        break;
    case RX_TYPE_Q4_0:
        quantize = rx_kernels__q4_0_quantize_ref;
        break;
    case RX_TYPE_Q5_0:
        quantize = rx_kernels__q5_0_quantize_ref;
        break;
    /* not the activation quantizer: files round half away from zero */
    case RX_TYPE_Q8_0:
        quantize = rx_kernels__q8_0_quantize_ref;
        break;
    case RX_TYPE_Q4_K:
        quantize = rx_kernels__q4_K_quantize_ref;
        break;
    case RX_TYPE_Q6_K:
        quantize = rx_kernels__q6_K_quantize_ref;
        break;
    default:
        return 0;
    }
    size_t row_bytes = rx_row_size(type, n_per_row);
    char *out = dst;
    for (int64_t r = 0; r < nrows; r++) {
        quantize(src + r * n_per_row, out + (size_t)r * row_bytes, n_per_row);
    }
    return (size_t)nrows * row_bytes;
}
