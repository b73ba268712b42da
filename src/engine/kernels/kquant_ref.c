/* Plain-C kernels of the 256-element K types: Q4_K and Q6_K weights, Q8_K activations.
 * Dequantization, dot products with Q8_K, and the Q8_K activation quantizer as llama.cpp runs
 * it on x86 (its scalar reference, so both kernel sets share this one). The file-writing
 * quantizers are in kquant_quantize.c. */
#include "engine/kernels/internal.h"

#include <math.h>

#include "core/fp16.h"

/* The 256 4-bit codes of a q4_K block in element order (each 32-byte run holds 64 elements:
 * low nibbles first, then high nibbles). */
static void unpack_q4_K(const rx_block_q4_K *b, uint8_t *restrict q)
{
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = b->qs[32 * c + l] & 0xF;
            q[64 * c + 32 + l] = b->qs[32 * c + l] >> 4;
        }
    }
}

/* The 256 signed 6-bit codes of a q6_K block in element order: each 128-element half takes 64
 * bytes of ql (low nibbles for elements 0..63, high nibbles for 64..127) and 32 bytes of qh
 * (two bits per element, four elements 32 apart sharing a byte). */
static void unpack_q6_K(const rx_block_q6_K *b, int8_t *restrict q)
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        int8_t *o = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            o[l] = (int8_t)(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
            o[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
            o[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
    }
}

void rx_kernels__q4_K_to_float_ref(const void *restrict x, float *restrict y, int64_t n)
{
    const rx_block_q4_K *b = x;
    uint8_t q[RX_QK_K];
    for (int64_t i = 0; i < n / RX_QK_K; i++) {
        float d = rx_fp16_to_f32(b[i].d), dmin = rx_fp16_to_f32(b[i].dmin);
        unpack_q4_K(&b[i], q);
        for (int j = 0; j < RX_QK_K / 32; j++) {
            uint8_t sc, m;
            rx_q4k_scale_min(j, b[i].scales, &sc, &m);
            float dj = d * sc, mj = dmin * m;
            for (int l = 0; l < 32; l++)
                y[32 * j + l] = dj * q[32 * j + l] - mj;
        }
        y += RX_QK_K;
    }
}

void rx_kernels__q6_K_to_float_ref(const void *restrict x, float *restrict y, int64_t n)
{
    const rx_block_q6_K *b = x;
    int8_t q[RX_QK_K];
    for (int64_t i = 0; i < n / RX_QK_K; i++) {
        float d = rx_fp16_to_f32(b[i].d);
        unpack_q6_K(&b[i], q);
        for (int e = 0; e < RX_QK_K; e++)
            y[e] = d * b[i].scales[e / 16] * q[e];
        y += RX_QK_K;
    }
}

void rx_kernels__q8_K_to_float_ref(const void *restrict x, float *restrict y, int64_t n)
{
    const rx_block_q8_K *b = x;
    for (int64_t i = 0; i < n / RX_QK_K; i++, y += RX_QK_K) {
        for (int j = 0; j < RX_QK_K; j++)
            y[j] = b[i].d * b[i].qs[j];
    }
}

/* Maps the signed absolute maximum to -127 (not -128, so codes stay symmetric), rounds half
 * to even, and records the sum of every 16 codes for the K-type dots' min terms. */
void rx_kernels__q8_K_from_float_ref(const float *restrict x, void *restrict y, int64_t n)
{
    rx_block_q8_K *b = y;
    for (int64_t i = 0; i < n / RX_QK_K; i++, x += RX_QK_K) {
        float amax = 0, max = 0;
        for (int j = 0; j < RX_QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        if (amax == 0) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        float iscale = -127.f / max;
        for (int j = 0; j < RX_QK_K; j++) {
            int v = rx_kernels__nearest_int(iscale * x[j]);
            b[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < RX_QK_K / 16; g++) {
            int sum = 0;
            for (int l = 0; l < 16; l++)
                sum += b[i].qs[16 * g + l];
            b[i].bsums[g] = (int16_t)sum;
        }
        b[i].d = 1 / iscale;
    }
}

/* The K-type dots in ggml's AVX2 order: per super-block, eight int32 lanes (lane l holds
 * elements 4l..4l+3 of every 32-element run, times its sub-block scale), accumulated in float
 * with FMA times d; q4_K's mins go to four more lanes of their own. */
void rx_kernels__dot_q4_K_q8_K_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y)
{
    const rx_block_q4_K *a = x;
    const rx_block_q8_K *b = y;
    uint8_t q[RX_QK_K];
    float acc[8] = {0}, acc_m[4] = {0};
    for (int64_t i = 0; i < n / RX_QK_K; i++) {
        unpack_q4_K(&a[i], q);
        uint8_t sc[8], m[8];
        for (int j = 0; j < 8; j++)
            rx_q4k_scale_min(j, a[i].scales, &sc[j], &m[j]);
        int32_t lane[8] = {0};
        for (int j = 0; j < 8; j++) /* 32-element sub-blocks */
            for (int l = 0; l < 8; l++) {
                int32_t dot = 0;
                for (int e = 32 * j + 4 * l; e < 32 * j + 4 * l + 4; e++)
                    dot += q[e] * b[i].qs[e];
                lane[l] += sc[j] * dot;
            }
        const float d = b[i].d * rx_fp16_to_f32(a[i].d);
        for (int l = 0; l < 8; l++)
            acc[l] = fmaf(d, (float)lane[l], acc[l]);
        const float dmin = -b[i].d * rx_fp16_to_f32(a[i].dmin);
        for (int k = 0; k < 4; k++) {
            int32_t p = 0;
            for (int j = 2 * k; j < 2 * k + 2; j++)
                p += m[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
            acc_m[k] = fmaf(dmin, (float)p, acc_m[k]);
        }
    }
    *s = rx_kernels__hsum8(acc) + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]));
}

void rx_kernels__dot_q6_K_q8_K_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y)
{
    const rx_block_q6_K *a = x;
    const rx_block_q8_K *b = y;
    int8_t q[RX_QK_K];
    float acc[8] = {0};
    for (int64_t i = 0; i < n / RX_QK_K; i++) {
        unpack_q6_K(&a[i], q);
        int32_t lane[8] = {0};
        for (int g = 0; g < RX_QK_K / 16; g++) /* 16-element groups, one scale each */
            for (int l = 4 * (g % 2); l < 4 * (g % 2) + 4; l++) {
                int32_t dot = 0;
                for (int e = 32 * (g / 2) + 4 * l; e < 32 * (g / 2) + 4 * l + 4; e++)
                    dot += q[e] * b[i].qs[e];
                lane[l] += a[i].scales[g] * dot;
            }
        const float d = b[i].d * rx_fp16_to_f32(a[i].d);
        for (int l = 0; l < 8; l++)
            acc[l] = fmaf(d, (float)lane[l], acc[l]);
    }
    *s = rx_kernels__hsum8(acc);
}
